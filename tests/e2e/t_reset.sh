#!/bin/bash
# A reset is carried as a reset, both ways; a target that refuses, or a
# guest server that has just died, closes the host client at once.
. "$(dirname "$0")/lib.sh"

p1=$(free_port) p2=$(( $(free_port) + 1 )) p3=$(( $(free_port) + 2 ))
vm_create
start_host
start_guest

# The guest's server resets: the host's client sees a reset.
bg rst ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$p1" reset
wait_for 5 "the forward" host_listens 127.0.0.1 "$p1"
out=$("$PHTEST" client 127.0.0.1 "$p1" expect-reset) ||
    fail "server reset did not reach the client as a reset: $out"
pass "server reset -> client $out"

# The host's client resets: the guest's server sees a reset.
bg exp ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$p2" expect-reset
wait_for 5 "the forward" host_listens 127.0.0.1 "$p2"
"$PHTEST" client 127.0.0.1 "$p2" reset || fail "client could not reset"
wait_for 5 "the server to see the end" grep -qE "server (reset|eof)" \
    "$T/exp.log"
grep -q "server reset" "$T/exp.log" ||
    fail "client reset reached the server as: $(tail -1 "$T/exp.log")"
pass "client reset -> server reset"

# The guest's server has just died, and the guest agent has not noticed:
# freeze the agent, kill the server, connect, thaw the agent.  The host
# accepts; the guest finds nobody to dial and the client is reset.
bg dying ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$p3" halfreply 1
dying=$LAST_PID
wait_for 5 "the forward" host_listens 127.0.0.1 "$p3"
guest_agent=$GUEST_PID	# the agent started, not its helper
kill -STOP "$guest_agent"
kill_wait 9 "$dying"
wait_for 5 "the server to die" sh -c "! ip netns exec $NS ss -Hltn | grep -q ':$p3 '"
"$PHTEST" client 127.0.0.1 "$p3" expect-closed >"$T/dead.out" &
client=$!
wait_for 5 "the host to accept the client" sh -c \
    "ss -Htn state established | grep -q ':$p3 '"
kill -CONT "$guest_agent"
wait "$client" || fail "client to a dead server: $(cat "$T/dead.out")"
# At once: because the guest refused the connection (its dial refused,
# or, if it saw the server's socket go first, no such bind), not after
# the host's wait for a data stream ran out (how fast is a figure).
grep -qE "connection [0-9a-f]+ refused: (Connection refused|no such bind)" \
    "$T/host.log" ||
    fail "the guest did not refuse the connection: $(cat "$T/dead.out")"
log_has host "no data stream" && fail "the client was closed by a timeout"
pass "client to a just-died server closed $(cat "$T/dead.out" | cut -d' ' -f2-)"
