#!/bin/bash
# Out of descriptors, the host agent pauses accepting with a timer rather
# than spinning on a readable listener, and forwards again once clients
# go away.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
vm_create
bg host prlimit --nofile=48:48 "$PH_HOST" -d -v -l "unix:$SOCK" -a "unix:$API"
HOST_PID=$LAST_PID
wait_for 5 "the host agent's socket" test -S "$SOCK"
start_guest
bg server ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$port" halfreply 10
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"

# Hold 80 client connections open: far more than 48 descriptors allow.
hold_clients clients "$port" 80
clients=$LAST_PID
wait_for 10 "the host to run out of descriptors" \
    grep -q "accept on forward .*: pausing for" "$T/host.log"

cpu() { awk '{ print $14 + $15 }' "/proc/$HOST_PID/stat"; }
t0=$(cpu)
sleep 1		# a measuring window, not a wait for anything
used=$(( $(cpu) - t0 ))
[ "$used" -lt 20 ] || fail "host agent used $used ticks of CPU in 1 s while out of descriptors"
pass "out of descriptors: accepting paused, $used CPU ticks in 1 s"

kill_wait 9 "$clients"
wait_for 10 "a forward that works again" "$PHTEST" client 127.0.0.1 "$port" \
    halfreply 100 10
pass "forwarding resumed once descriptors were free"
