#!/bin/bash
# SIGHUP reloads the policy file: a good file takes over at once (a rule
# that refuses a live forward closes its listener, a remap moves one,
# every change reaches the guest; connections already made go on), a bad
# one is refused line by line and the policy in force stays, whole.
. "$(dirname "$0")/lib.sh"

base=$(free_port)
A=$base B=$((base + 1)) C=$((base + 2)) MOVED=$((base + 5))
POLICY=$T/policy

vm_create
bg vmserve ip netns exec "$NS" "$PY" "$PH_ROOT/tests/tools/phlisten.py" \
    "0.0.0.0,$A,echo" "0.0.0.0,$B" "127.0.0.1,$C"
wait_for 5 "the servers in the VM" grep -q listening "$T/vmserve.log"

verdicts() {	# the number of verdicts the guest logged for a bind
	grep -cF " tcp $1: " "$T/guest.log" || true
}

printf 'mode loopback\nallow tcp port %s\n' "$A" >"$POLICY"
start_host -f "$POLICY"
bg events curl -sSN --unix-socket "$API" http://localhost/v1/events
start_guest
wait_for 5 "A allowed" grep -qF "tcp 0.0.0.0:$A: bound on host 0.0.0.0:$A: \
wildcard bind allowed by line 2: allow tcp port $A" "$T/guest.log"
wait_for 5 "B on loopback" host_listens 127.0.0.1 "$B"
wait_for 5 "C on loopback" host_listens 127.0.0.1 "$C"
host_listens 0.0.0.0 "$A" || fail "A is not on 0.0.0.0 on the host"

# A client that stays connected through A across the reload.
mkfifo "$T/go"
bg live "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"one\n")
print("first", s.recv(100) == b"one\n", flush=True)
open(sys.argv[2]).read()
s.sendall(b"two\n")
print("second", s.recv(100) == b"two\n", flush=True)
' "$A" "$T/go"
wait_for 5 "the live connection" grep -q "first True" "$T/live.log"

# A good file: A refused, B moved, C as it was.
printf '# reloaded\nmode loopback\nrefuse tcp port %s\nremap tcp port %s to %s\n' \
    "$A" "$B" "$MOVED" >"$POLICY"
nc=$(verdicts "127.0.0.1:$C")
kill -HUP "$HOST_PID"
wait_for 5 "the reload" log_has host "policy reloaded from $POLICY: 2 rules"
wait_for 5 "the event" grep -qF "\"policy file $POLICY reloaded\"" \
    "$T/events.log"
wait_for 5 "A refused" grep -qF "tcp 0.0.0.0:$A: refused by host: refused by \
line 3: refuse tcp port $A" "$T/guest.log"
wait_for 5 "B moved" grep -qF "tcp 0.0.0.0:$B: rewritten on host \
127.0.0.1:$MOVED: wildcard bind 0.0.0.0 rewritten to loopback by policy \
loopback, port $B remapped to $MOVED by line 4" "$T/guest.log"
wait_for 5 "A's listener to close" sh -c "! ss -Hltn | awk '{print \$4}' |
    grep -qE ':$A\$'"
[ "$(host_listeners "$B")" = "" ] || fail "B still listens on its old port"
[ "$(host_listeners "$MOVED")" = "127.0.0.1:$MOVED" ] ||
    fail "B does not listen on $MOVED: $(host_listeners "$MOVED")"
got=$(timeout "$(ph_secs 5)" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; head -n 1 <&3' \
    _ "$MOVED")
[ "$got" = "hello $B" ] || fail "no greeting through the moved port: $got"
[ "$(verdicts "127.0.0.1:$C")" = "$nc" ] ||
    fail "C was reported again though nothing changed for it"
grep -qE "tcp 0.0.0.0:$A python3 -> refused \(refused by line 3" \
    "$T/host.log" ||
    fail "the host did not log A's new verdict"
echo go >"$T/go"
wait_for 5 "the live connection's second line" grep -q "second" "$T/live.log"
grep -q "second True" "$T/live.log" ||
    fail "the connection made before the reload broke: $(cat "$T/live.log")"
if timeout "$(ph_secs 5)" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$A" 2>/dev/null
then
	fail "a new client still reached A after it was refused"
fi
pass "good reload: A refused and closed, B moved to $MOVED, C untouched," \
    "a connection made before goes on"

# A bad file: every error with its line; nothing changes.
printf 'mode sideways\nallow tcp port %s\nremap tcp port 99999 to auto\n' \
    "$A" >"$POLICY"
na=$(verdicts "0.0.0.0:$A")
kill -HUP "$HOST_PID"
wait_for 5 "the refusal" log_has host "policy not reloaded: $POLICY has errors"
log_has host "$POLICY:1: mode: expected loopback, refuse or allow, not \
\"sideways\"" || fail "the host did not log line 1's error"
log_has host "$POLICY:3: port: \"99999\" is not a port (1-65535)" ||
    fail "the host did not log line 3's error"
[ "$(verdicts "0.0.0.0:$A")" = "$na" ] || fail "a bad file changed A"
[ "$(host_listeners "$MOVED")" = "127.0.0.1:$MOVED" ] ||
    fail "a bad file changed B"
[ "$(host_listeners "$A")" = "" ] || fail "a bad file opened A"
pass "bad reload: errors logged as FILE:LINE, the policy in force stays"

# The first file again: A comes back, B back to its own port.
printf 'mode loopback\nallow tcp port %s\n' "$A" >"$POLICY"
kill -HUP "$HOST_PID"
wait_for 5 "A back" host_listens 0.0.0.0 "$A"
wait_for 5 "B back" host_listens 127.0.0.1 "$B"
wait_for 5 "B's moved port to close" sh -c "! ss -Hltn | awk '{print \$4}' |
    grep -qE ':$MOVED\$'"
# the guest logs its verdict after the host listens: wait for it
told() { [ "$(verdicts "0.0.0.0:$A")" -gt "$na" ]; }
wait_for 5 "the guest to be told of A's new verdict" told
kill -0 "$HOST_PID" || fail "the host agent died"
pass "reload back: A allowed again, B on its own port"
