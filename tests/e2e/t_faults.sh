#!/bin/bash
# Faults: either agent killed in the middle of 1000 concurrent transfers,
# the VM's network namespace torn down, and a target that never reads.
# Through all of it no byte comes back wrong, every connection ends, and
# the surviving agent returns to its baseline of descriptors.
. "$(dirname "$0")/lib.sh"

PHSTORM=$PH_ROOT/tests/tools/phstorm
port=$(free_port) sinkport=$(( $(free_port) + 1 ))
vm_create
start_host
start_guest
bg echo ip netns exec "$NS" "$PHSTORM" echo 127.0.0.1 "$port"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
"$PHSTORM" churn 127.0.0.1 "$port" 100 10 >/dev/null || fail "warm-up failed"
hfd0=$(fd_count "$HOST_PID")

relayed() {	# at least $1 connections reached the target in the VM
	[ "$(in_vm ss -Htn state established "( sport = :$port )" | wc -l)" \
	    -ge "$1" ]
}

# storm_then_kill PID: 1000 transfers of 4 MiB each (4 GiB: seconds of
# work); kill -9 an agent once 300 of them are relaying at the same
# time; nothing may come back wrong.
storm_then_kill() {
	local storm
	"$PHSTORM" run 127.0.0.1 "$port" 1000 4194304 >"$T/storm.out" &
	storm=$!
	wait_for 30 "300 transfers relaying at once" relayed 300
	grep -q . "$T/storm.out" && fail "the storm ended before the kill"
	kill_wait 9 "$1"
	wait "$storm" || fail "storm after kill -9: $(cat "$T/storm.out")"
	out=$(cat "$T/storm.out")
	case $out in
	*" corrupt 0 "*" stuck 0 "*) ;;
	*) fail "storm after kill -9: $out" ;;
	esac
}

# 1. The guest agent dies mid-transfer.
storm_then_kill "$GUEST_PID"
wait_for 10 "the host to close the dead guest's forward" \
    sh -c "! ss -Hltn | grep -q ':$port '"
wait_for 10 "host descriptors back to $((hfd0 - 1)) (no session)" \
    sh -c "[ \$(ls /proc/$HOST_PID/fd | wc -l) -le $((hfd0 - 1)) ]"
pass "guest agent kill -9 mid-transfer: $out; host fds $hfd0 -> $(fd_count "$HOST_PID")"
t0=$(date +%s%N)
start_guest
wait_for 10 "the forward back" host_listens 127.0.0.1 "$port"
pass "guest agent back, forward restored in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$PHSTORM" run 127.0.0.1 "$port" 100 65536 | grep -q "complete 100 " ||
    fail "transfers after the guest's restart"
gfd0=$(fd_count "$GUEST_PID")

# 2. The host agent dies mid-transfer.
storm_then_kill "$HOST_PID"
wait_for 10 "guest descriptors back to $((gfd0 - 1)) (no session)" \
    sh -c "[ \$(ls /proc/$GUEST_PID/fd | wc -l) -le $((gfd0 - 1)) ]"
pass "host agent kill -9 mid-transfer: $out; guest fds $gfd0 -> $(fd_count "$GUEST_PID")"
mv "$T/host.log" "$T/host-1.log.old"
t0=$(date +%s%N)
start_host
wait_for 10 "the forward back" host_listens 127.0.0.1 "$port"
pass "host agent back, forward restored in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
"$PHSTORM" run 127.0.0.1 "$port" 100 65536 | grep -q "complete 100 " ||
    fail "transfers after the host's restart"

# 3. A target that accepts and never reads: back-pressure holds memory.
bg sink ip netns exec "$NS" "$PHSTORM" sink 127.0.0.1 "$sinkport"
wait_for 5 "the sink's forward" host_listens 127.0.0.1 "$sinkport"
hrss0=$(rss_kb "$HOST_PID") grss0=$(rss_kb "$GUEST_PID")
"$PHSTORM" run 127.0.0.1 "$sinkport" 20 67108864 >"$T/sink.out" &
sinkers=$!
stalled() {	# the 20 clients have unsent data queued: the path is full
	[ "$(ss -Htn state established "( dport = :$sinkport )" |
	    awk '$2 > 0' | wc -l)" -ge 20 ]
}
wait_for 20 "20 clients blocked on a full path" stalled
hrss1=$(rss_kb "$HOST_PID") grss1=$(rss_kb "$GUEST_PID")
check_rss_growth "behind a target that never reads, host" "$hrss0" "$hrss1" 4096
check_rss_growth "behind a target that never reads, guest" "$grss0" "$grss1" 4096
kill_wait 9 "$sinkers"
pass "target that never reads: 20 x 64 MiB held back; RSS host $hrss0->$hrss1 KiB, guest $grss0->$grss1 KiB"

# 4. The VM's network goes away: everything in it is killed, the
# namespace deleted.  The host agent drops the session and all its ports.
hfd_live=$(fd_count "$HOST_PID")
for pid in $(ip netns pids "$NS"); do kill_wait 9 "$pid"; done
ip netns del "$NS"
wait_for 10 "the host to close the VM's forwards" \
    sh -c "! ss -Hltn | grep -qE ':($port|$sinkport) '"
wait_for 10 "host descriptors back to its no-guest baseline" \
    sh -c "[ \$(ls /proc/$HOST_PID/fd | wc -l) -le $((hfd0 - 1)) ]"
kill -0 "$HOST_PID" || fail "the host agent died with the VM"
pass "VM namespace torn down: forwards closed, host fds $hfd_live -> $(fd_count "$HOST_PID")"
