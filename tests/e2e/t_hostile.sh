#!/bin/bash
# A hostile guest on its own endpoint throws everything at the host agent
# while a well-behaved guest, in its own network namespace, keeps moving
# data through its forward.  Every hostile case costs the hostile peer its
# own session only; the good guest's data stays intact throughout; the
# host agent's descriptors and memory return to their baseline.
. "$(dirname "$0")/lib.sh"

PHSTORM=$PH_ROOT/tests/tools/phstorm
EVIL=$T/evil.sock
evil() { "$PY" "$PH_ROOT/tests/tools/evilguest.py" "$EVIL" "$@"; }
port=$(free_port)
vm_create
# 64 forwards listen; 64 more binds are held, refused, waiting for a slot.
start_host -l "unix:$EVIL" --max-forwards 64 --max-binds 128
# No stream pool: the hijack case below needs a connection that waits for
# its stream (OPEN), which a pooled stream would not.
start_guest -P 0
bg echo ip netns exec "$NS" "$PHSTORM" echo 127.0.0.1 "$port"
wait_for 5 "the good guest's forward" host_listens 127.0.0.1 "$port"
"$PHSTORM" churn 127.0.0.1 "$port" 200 20 >/dev/null || fail "warm-up"
hfd0=$(fd_count "$HOST_PID") hrss0=$(rss_kb "$HOST_PID")

# The good guest's traffic, all through the attack: 20 transfers of
# 256 KiB at a time, each checked byte for byte.
bg good bash -c "while :; do $PHSTORM run 127.0.0.1 $port 20 262144 ||
    echo BAD; done"
good=$LAST_PID
wait_for 10 "the good guest's traffic" grep -q "complete 20 " "$T/good.log"

case_ok() { pass "$1"; kill -0 "$HOST_PID" || fail "the host agent died"; }

[ "$(evil garbage)" = closed ] || fail "random bytes"
case_ok "random bytes: connection dropped"
[ "$(evil huge)" = closed ] || fail "4 GiB frame header"
case_ok "a frame header claiming 4 GiB: dropped before reading a byte of it"
[ "$(evil truncated)" = closed ] || fail "truncated HELLO"
[ "$(evil expose-truncated)" = "error 1" ] || fail "truncated EXPOSE"
case_ok "truncated frames: dropped"
[ "$(evil wrong-order)" = "error 1" ] || fail "frames in the wrong order"
[ "$(evil wrong-first)" = closed ] || fail "EXPOSE before HELLO"
case_ok "valid frames in the wrong order: protocol error, session ended"
[ "$(evil ping-after-unknown)" = pong ] || fail "unknown type then PING"
case_ok "unknown message types: answered with an error, skipped"
[ "$(evil expose-port0)" = "error 1" ] || fail "EXPOSE port 0"
[ "$(evil expose-multicast)" = "exposed refused" ] || fail "EXPOSE 224.0.0.1"
case_ok "EXPOSE for port 0 and a multicast address: refused"

t0=$(date +%s%N)
out=$(evil flood-expose 100000)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
case $out in
"bound 64 failed 99872 refused 64") ;;
*closed*) ;;	# a flood it could not keep up with reading: dropped, fine
*) fail "100 000 EXPOSEs: $out" ;;
esac
# A line a second at most: a flood that lasts long on a busy machine may
# write more lines, never more than its seconds.
n=$(grep -c "too many binds" "$T/host.log")
[ "$n" -le $(( ms / 1000 + 2 )) ] ||
    fail "the flood wrote $n log lines in $ms ms (rate limit broken)"
wait_for 5 "the count of hits not logged" grep -q \
    "limit max-binds 128: [0-9]* more hits not logged" "$T/host.log"
case_ok "100 000 EXPOSEs in $ms ms: $out; $n log lines"

evil no-hello 1000 >"$T/nohello.out"
grep -q "held 1000 closed-by-host 1000" "$T/nohello.out" ||
    fail "1000 silent connections: $(cat "$T/nohello.out")"
grep -q "too many connections without a first frame" "$T/host.log" ||
    fail "no limit hit logged for silent connections"
case_ok "1000 connections that never say HELLO: all closed by the host"

[ "$(evil data-unknown)" = closed ] || fail "DATA for an unknown connection"
# A connection of the good guest's that is waiting for its stream: freeze
# the good guest, connect, and present its id from the hostile endpoint.
kill -STOP "$GUEST_PID"
"$PHSTORM" run 127.0.0.1 "$port" 1 1000 >"$T/pending.out" &
pending=$!
wait_for 10 "a pending connection" grep -q "OPEN sent" "$T/host.log"
id=$(grep "OPEN sent" "$T/host.log" | tail -1 | sed 's/.*connection \([0-9a-f]*\):.*/\1/')
[ "$(evil data-for "$id")" = closed ] || fail "DATA for another guest's connection"
grep -q "data stream for another session's connection $id dropped" \
    "$T/host.log" || fail "the hijack attempt was not logged"
kill -CONT "$GUEST_PID"
wait "$pending" || fail "the good guest's connection was harmed: $(cat "$T/pending.out")"
grep -q "complete 1 " "$T/pending.out" || fail "pending: $(cat "$T/pending.out")"
[ "$(evil data-for "$id")" = closed ] || fail "DATA for a stale connection"
grep -q "data stream for unknown connection $id dropped" "$T/host.log" ||
    fail "the stale DATA was not logged"
case_ok "DATA for unknown, another guest's and stale connection ids: dropped and logged; the real one unharmed"

# A connection that ended cleanly both ways (protocol 4) leaves its pair
# waiting for the guest's RELEASE, with no owner: a CLOSE for it then
# dropped the host (a NULL call), any guest could do it.  Now its stream
# is closed and the session goes on.
eport=$(free_port)
[ "$(evil close-returning "$eport")" = pong ] ||
    fail "CLOSE for a connection waiting for its RELEASE"
case_ok "CLOSE for a connection waiting for its RELEASE: its stream dropped, the session answers"

kill_wait TERM "$good"
grep -q BAD "$T/good.log" && fail "the good guest's data was damaged: $(grep -v complete "$T/good.log" | head -3)"
runs=$(grep -c "complete 20 cut 0 corrupt 0" "$T/good.log")
pass "the good guest moved data intact throughout: $runs rounds of 20 x 256 KiB"

wait_for 15 "host descriptors back to $hfd0" sh -c \
    "[ \$(ls /proc/$HOST_PID/fd | wc -l) -le $hfd0 ]"
hrss1=$(rss_kb "$HOST_PID")
check_rss_growth "after the attack, host" "$hrss0" "$hrss1" 4096
pass "host agent after the attack: fds $hfd0 -> $(fd_count "$HOST_PID"), RSS $hrss0 -> $hrss1 KiB"
