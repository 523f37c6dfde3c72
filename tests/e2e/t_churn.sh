#!/bin/bash
# 10 000 connection open/close cycles through one forward: both agents'
# descriptor counts return to their baseline, and their memory stays flat.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
vm_create
start_host
start_guest
bg echo ip netns exec "$NS" "$PH_ROOT/tests/tools/phstorm" echo 127.0.0.1 "$port"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"

# Both agents' descriptors, less their idle pooled streams (one in each
# agent), which grow with the clients at once up to the pool's bound: at
# rest, this is what must come back.  Taken before any connection, once
# the guest's first streams are pooled: nothing else is in flight then.
pooled() { metric porthole_streams_pooled; }
fds_beside_pool() {	# host fds, guest fds, less the pool
	local p
	p=$(pooled) || return 1
	echo "$(( $(fd_count "$HOST_PID") - p )) $(( $(fd_count "$GUEST_PID") - p ))"
}
pool_is() { [ "$(pooled)" = "$1" ]; }
wait_for 5 "the guest's 8 streams pooled" pool_is 8
read -r hfd0 gfd0 <<<"$(fds_beside_pool)"
settled() { [ "$(fds_beside_pool)" = "$1 $2" ]; }

# Warm up (first connections allocate the relay's scratch and libevent's
# tables), at the churn's own concurrency so that its peak is reached
# already, then take the memory baseline.
"$PH_ROOT/tests/tools/phstorm" churn 127.0.0.1 "$port" 500 50 >/dev/null ||
    fail "warm-up churn failed"
hrss0=$(rss_kb "$HOST_PID") grss0=$(rss_kb "$GUEST_PID")

t0=$(date +%s%N)
out=$("$PH_ROOT/tests/tools/phstorm" churn 127.0.0.1 "$port" 10000 50) ||
    fail "churn: $out"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait_for 10 "descriptors back to baseline (host $hfd0, guest $gfd0)" \
    settled "$hfd0" "$gfd0"
hrss1=$(rss_kb "$HOST_PID") grss1=$(rss_kb "$GUEST_PID")
check_rss_growth "host agent" "$hrss0" "$hrss1" 2048
check_rss_growth "guest agent" "$grss0" "$grss1" 2048
pass "10000 cycles ($out) in $ms ms; fds beside the pool host $hfd0 guest $gfd0 before and after; RSS host $hrss0->$hrss1 KiB, guest $grss0->$grss1 KiB"
