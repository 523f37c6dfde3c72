#!/bin/bash
# Out of descriptors, the guest agent holds new connections back and
# tries again (as the host pauses accepting) instead of refusing them or
# spinning; they are served once descriptors are free again.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
vm_create
start_host
bg guest ip netns exec "$NS" prlimit --nofile=40:40 "$PH_GUEST" -d -v \
    -c "unix:$SOCK" -s "$GSTATUS"
GUEST_PID=$LAST_PID
AGENTS+=("$GUEST_PID")
wait_for 5 "the guest to connect" grep -q "connected to host" "$T/guest.log"
bg server ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$port" halfreply 10
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"

# 30 idle connections: two descriptors each in the guest, far beyond 40.
hold_clients clients "$port" 30
clients=$LAST_PID
wait_for 10 "the guest to run out of descriptors" \
    grep -q "out of descriptors: new connections wait" "$T/guest.log"

cpu() { awk '{ print $14 + $15 }' "/proc/$GUEST_PID/stat"; }
t0=$(cpu)
sleep 1		# a measuring window, not a wait for anything
used=$(( $(cpu) - t0 ))
[ "$used" -lt 20 ] || fail "guest agent used $used ticks of CPU in 1 s while out of descriptors"
pass "out of descriptors in the guest: connections wait, $used CPU ticks in 1 s"

# A client that comes now waits; it gets through once others leave.
accepted() { [ "$(grep -c "client for forward" "$T/host.log")" -ge "$1" ]; }
n=$(grep -c "client for forward" "$T/host.log")
"$PHTEST" client 127.0.0.1 "$port" halfreply 100 10 >"$T/late.out" &
late=$!
wait_for 5 "the host to take the late client" accepted $((n + 1))
kill_wait 9 "$clients"
wait "$late" || fail "a waiting client was not served: $(cat "$T/late.out")"
pass "a client held back while the guest had no descriptors was served once it had"
