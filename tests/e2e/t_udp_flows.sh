#!/bin/bash
# The life of UDP flows: a flow idle for --udp-timeout is closed on both
# sides and the same client then starts a new one; with --udp-flows 2 a
# third client evicts the least recently active flow, whose client then
# starts a new one; and a forward's flows end when the port closes in
# the VM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

P=$(free_port)
vm_create

# ---- idle timeout: 1 second
start_host -u 1
start_guest
vm_udp_echo echo 0.0.0.0 "$P"
wait_for 5 "the UDP forward" host_udp_listens 127.0.0.1 "$P"
udp_client a 127.0.0.1 "$P"
udp_send a first
wait_for 5 "the flow to end as idle" \
    grep -q "udp flow from 127.0.0.1:$UDP_PORT_a on forward 1 ended: idle" \
    "$T/host.log"
wait_for 5 "the guest to close the flow's socket" vm_flows_are "$P" 0
udp_send a second
[ "$(grep -c "udp flow from 127.0.0.1:$UDP_PORT_a on forward 1: conn" \
    "$T/host.log")" = 2 ] || fail "no new flow after the idle one"
pass "an idle flow is closed on both sides; its client then gets a new one"
kill_wait TERM "$GUEST_PID"
kill_wait TERM "$HOST_PID"
mv "$T/host.log" "$T/host-idle.log.old"
mv "$T/guest.log" "$T/guest-idle.log.old"

# ---- at most 2 flows per forward: the least recently active goes
start_host -U 2
start_guest
wait_for 5 "the UDP forward" host_udp_listens 127.0.0.1 "$P"
udp_client b 127.0.0.1 "$P"
udp_client c 127.0.0.1 "$P"
udp_client d 127.0.0.1 "$P"
udp_send b 1
udp_send c 1
udp_send b 2		# b is now more recent than c
udp_send d 1		# c must go
evicted="ended: evicted for a new client"
wait_for 5 "c's flow to be evicted" grep -q \
    "udp flow from 127.0.0.1:$UDP_PORT_c on forward [0-9]* $evicted" \
    "$T/host.log"
grep -q "udp flow from 127.0.0.1:$UDP_PORT_b on .* $evicted" \
    "$T/host.log" && fail "b was evicted, though c was idle longer"
wait_for 5 "the guest to close c's flow" vm_flows_are "$P" 2
udp_send c 2		# a new flow for c, and b goes
wait_for 5 "b's flow to be evicted" grep -q \
    "udp flow from 127.0.0.1:$UDP_PORT_b on forward [0-9]* $evicted" \
    "$T/host.log"
udp_send d 2
udp_send c 3
wait_for 5 "2 flows in the guest" vm_flows_are "$P" 2
pass "with --udp-flows 2 the least recently active flow is evicted"

# ---- the port closes in the VM: its flows end on both sides
kill_wait TERM "$UDP_ECHO_PID"
wait_for 5 "the flows to end with the forward" log_count host \
    "ended: forward closed" 2
wait_for 5 "the guest to close the flows" vm_flows_are "$P" 0
wait_for 5 "the host socket to close" sh -c \
    "! ss -Hlun | awk '{ print \$4 }' | grep -q ':$P\$'"
pass "a closed port ends its flows on both sides"
