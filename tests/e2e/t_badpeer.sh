#!/bin/bash
# A guest that speaks the protocol wrongly loses its own session, with one
# log line saying why; the host agent and a well-behaved guest carry on.
. "$(dirname "$0")/lib.sh"

EVIL=$T/evil.sock
port=$(free_port)
vm_create
start_host -l "unix:$EVIL"
start_guest
vm_http web 0.0.0.0 "$port"
wait_for 5 "the good guest's forward" host_listens 127.0.0.1 "$port"

# case EXPECTED-ANSWER HOST-LOG-PATTERN
check() {
	local name=$1 want=$2 logpat=$3 got
	got=$("$PY" "$PH_ROOT/tests/tools/evilguest.py" "$EVIL" "$name") ||
	    fail "$name: evilguest failed"
	[ "$got" = "$want" ] || fail "$name: host answered '$got', expected '$want'"
	kill -0 "$HOST_PID" || fail "$name: the host agent died"
	wait_for 5 "the host to log $name" grep -qE -- "$logpat" "$T/host.log"
	curl -sf "http://127.0.0.1:$port/" >/dev/null ||
	    fail "$name: the good guest's forward stopped working"
	pass "$name: $got; logged; good guest unaffected"
}

check garbage closed "dropped: first frame is not HELLO, DATA, POOL or REVERSE"
check huge closed "dropped: frame longer than the maximum payload"
check truncated closed "dropped: closed before its first frame"
check wrong-first closed "dropped: first frame is not HELLO, DATA, POOL or REVERSE"
check bad-version "error 2" "guest speaks protocol 90-99"
check unknown-type "error 3" ""
check ping-after-unknown pong ""
check expose-multicast "exposed refused" "224.0.0.1 is not a unicast address"
check expose-port0 "error 1" "session ended: protocol error: EXPOSE port 0"
check expose-badfamily "error 1" "EXPOSE truncated or with a bad address"
check expose-badstring "error 1" "EXPOSE truncated or with a bad address or string"
check expose-truncated "error 1" "EXPOSE truncated"
check hello-twice "error 1" "unexpected HELLO from guest"
check open-from-guest "error 1" "unexpected OPEN from guest"
check data-unknown closed "data stream for unknown connection"
check pool-unknown closed "pooled stream of an unknown session dropped"
check pool-v1 closed "pooled stream in a protocol 1 session dropped"
check pool-bytes closed "bytes on idle pooled stream 1: closed"
check pair-from-guest "error 1" "unexpected PAIR from guest"

# The good guest's session was never replaced or ended.
grep -q "session ended" <(grep "vm (unix:$SOCK)" "$T/host.log") &&
    fail "the good guest's session ended"
pass "host agent alive after all bad peers"
