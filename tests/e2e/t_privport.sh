#!/bin/bash
# Privileged host ports: a host agent without CAP_NET_BIND_SERVICE
# refuses a guest bind whose host port is below
# net.ipv4.ip_unprivileged_port_start, by policy, before it opens any
# socket; the guest logs the reason, the API and portholectl show it,
# /metrics counts it, and no host socket appears on the port.  A high
# port in the same run is forwarded.  A host agent with the capability
# (plain root) forwards the same low port under the default policy.
# The sysctl is only read (the machine is shared), never set.
. "$(dirname "$0")/lib.sh"

start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
[ "$start" -gt 1 ] ||
    skip "net.ipv4.ip_unprivileged_port_start is $start: no port is privileged"

# A random privileged port that no host socket uses now.
low_port() {
	local p used
	used=$(ss -Hatun | awk '{ n = split($5, a, ":"); print a[n] }')
	while :; do
		p=$(( 1 + (RANDOM * 32768 + RANDOM) % (start - 1) ))
		echo "$used" | grep -qx "$p" || { echo "$p"; return; }
	done
}
LOW=$(low_port)
HIGH=$(free_port)
REASON="host port $LOW is privileged (below net.ipv4.ip_unprivileged_port_start $start) and porthole-host lacks CAP_NET_BIND_SERVICE"
REFUSALS='porthole_refusals_total{reason="privileged_port",verdict="refused"}'

vm_create
vm_http low 0.0.0.0 "$LOW"
vm_http high 0.0.0.0 "$HIGH"
wait_for 5 "the servers in the VM" vm_listens 0.0.0.0 "$LOW"
wait_for 5 "the servers in the VM" vm_listens 0.0.0.0 "$HIGH"

# Bit 10 of CapEff: CAP_NET_BIND_SERVICE.
has_cap() {
	local eff
	eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$1/status")
	[ $(( 0x$eff >> 10 & 1 )) = 1 ]
}

# 1. Without the capability: root, but not in the bounding set.
wrap=("${PH_WRAP[@]}")
PH_WRAP=(setpriv --inh-caps=-net_bind_service
    --bounding-set=-net_bind_service "${wrap[@]}")
start_host
PH_WRAP=("${wrap[@]}")
! has_cap "$HOST_PID" || fail "the host agent kept CAP_NET_BIND_SERVICE"
wait_for 5 "the start-up line about privileged ports" \
    log_has host "host ports below $start are refused"
start_guest
wait_for 5 "the verdict on $LOW" grep -qF "tcp 0.0.0.0:$LOW: refused by host: $REASON" \
    "$T/guest.log"
wait_for 5 "the verdict on $HIGH" grep -qE "tcp 0.0.0.0:$HIGH: rewritten" \
    "$T/guest.log"
[ -z "$(host_listeners "$LOW")" ] ||
    fail "a host socket on privileged port $LOW: $(host_listeners "$LOW")"
! log_has host "ermission denied" || fail "the host agent tried bind()"
curl -sf "http://127.0.0.1:$HIGH/" | grep -q "hello from the guest" ||
    fail "no HTTP through the high port $HIGH"
[ "$(api /v1/forwards | json '[(f["verdict"], f["reason"], f["host"])
    for f in d if f["guest_port"] == '"$LOW"']')" = \
    "[[\"refused\", \"$REASON\", []]]" ] ||
    fail "GET /v1/forwards: $(api /v1/forwards)"
ctl ls | grep -E "^vm +tcp +0.0.0.0:$LOW +- +refused " | grep -qF "$REASON" ||
    fail "portholectl ls: $(ctl ls)"
[ "$(metric "$REFUSALS")" = 1 ] || fail "$REFUSALS is $(metric "$REFUSALS")"
pass "without CAP_NET_BIND_SERVICE: port $LOW refused before bind," \
    "port $HIGH forwarded"

kill_wait TERM "$GUEST_PID"
kill_wait TERM "$HOST_PID"
wait_for 5 "the host listeners to close" \
    sh -c "! ss -Hltn | awk '{print \$4}' | grep -qE ':$HIGH\$'"
mv "$T/guest.log" "$T/guest-nocap.log.old"
mv "$T/host.log" "$T/host-nocap.log.old"

# 2. With the capability the policy decides, as for any port.
start_host
has_cap "$HOST_PID" || fail "the host agent lacks CAP_NET_BIND_SERVICE"
start_guest
wait_for 5 "the verdict on $LOW" grep -qE "tcp 0.0.0.0:$LOW: rewritten" \
    "$T/guest.log"
[ "$(host_listeners "$LOW")" = "127.0.0.1:$LOW" ] ||
    fail "host listens on '$(host_listeners "$LOW")' for $LOW"
curl -sf "http://127.0.0.1:$LOW/" | grep -q "hello from the guest" ||
    fail "no HTTP through the low port $LOW"
[ "$(metric "$REFUSALS")" = 0 ] || fail "$REFUSALS is $(metric "$REFUSALS")"
pass "with CAP_NET_BIND_SERVICE: port $LOW forwarded on 127.0.0.1:$LOW"

kill_wait TERM "$GUEST_PID"
kill_wait TERM "$HOST_PID"
wait_for 5 "the host listeners to close" \
    sh -c "! ss -Hltn | awk '{print \$4}' | grep -qE ':$LOW\$'"
mv "$T/guest.log" "$T/guest-cap.log.old"
mv "$T/host.log" "$T/host-cap.log.old"

# 3. SIGHUP reads the sysctl again.  It is set only in a network
# namespace of the test's own, where a host agent without the
# capability runs: first as high as the root namespace's, then at $LOW.
HNS=ph-host-$$
del_hns() { ip netns del "$HNS" 2>/dev/null || true; }
ph_at_exit del_hns
ip netns add "$HNS"
ip netns exec "$HNS" ip link set lo up
ip netns exec "$HNS" sysctl -qw "net.ipv4.ip_unprivileged_port_start=$start"
PH_WRAP=(ip netns exec "$HNS" setpriv --inh-caps=-net_bind_service
    --bounding-set=-net_bind_service "${wrap[@]}")
start_host
PH_WRAP=("${wrap[@]}")
! has_cap "$HOST_PID" || fail "the host agent kept CAP_NET_BIND_SERVICE"
start_guest
wait_for 5 "the verdict on $LOW" grep -qF "tcp 0.0.0.0:$LOW: refused by host: $REASON" \
    "$T/guest.log"
ip netns exec "$HNS" sysctl -qw "net.ipv4.ip_unprivileged_port_start=$LOW"
kill -HUP "$HOST_PID"
wait_for 5 "the new verdict on $LOW" grep -qE "tcp 0.0.0.0:$LOW: rewritten" \
    "$T/guest.log"
log_has host "ip_unprivileged_port_start changed from $start to $LOW" ||
    fail "no log line for the changed sysctl"
ip netns exec "$HNS" curl -sf "http://127.0.0.1:$LOW/" |
    grep -q "hello from the guest" || fail "no HTTP through $LOW after SIGHUP"
pass "SIGHUP: net.ipv4.ip_unprivileged_port_start lowered to $LOW in the" \
    "agent's namespace: port $LOW forwarded"
