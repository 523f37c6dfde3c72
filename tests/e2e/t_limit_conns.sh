#!/bin/bash
# The policy file's max-connections caps a guest's clients, TCP and UDP
# alike: the client over it is refused (a TCP client reset, a UDP flow
# not started), the host names the limit and its line and counts the hit
# in its metrics, and a client is taken again once another has gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

P=$(free_port)
printf 'max-connections 2\n' >"$T/policy"
vm_create
start_host -f "$T/policy"
start_guest
vm_http www 127.0.0.1 "$P"
wait_for 5 "the TCP forward" host_listens 127.0.0.1 "$P"

opened() { [ "$(grep -c "client for forward" "$T/host.log")" -ge "$1" ]; }
refused="refused: too many connections per guest (policy line 1)"

# Two idle clients hold the guest's two connections; a third is reset.
hold_clients holders "$P" 2
holders=$LAST_PID
wait_for 5 "two clients forwarded" opened 2
out=$("$PY" -c "
import socket
s = socket.create_connection(('127.0.0.1', $P))
s.settimeout(5)
try:
    print('eof' if s.recv(1) == b'' else 'data')
except ConnectionResetError:
    print('reset')
except socket.timeout:
    print('timeout')
")
[ "$out" = reset ] || fail "the third TCP client: $out, not reset"
log_has host "): forward 1: client $refused" ||
    fail "the host did not log the limit and its line"
# Until the host has seen the holders go, a client would be refused (and
# counted as a hit): wait for their slots, then one client must pass.
kill_wait 9 "$holders"
wait_for 5 "the holders' connections to end" no_conns
curl -fsS --max-time 5 "http://127.0.0.1:$P/" | grep -q 'hello from' ||
    fail "no client taken once the others left"
pass "max-connections 2: a third TCP client reset, the limit and line logged; taken again once the others left"

# UDP flows count against the same limit.
bg echo ip netns exec "$NS" "$PHUDP" echo 127.0.0.1 "$P"
wait_for 5 "the UDP forward" host_udp_listens 127.0.0.1 "$P"
udp_client a 127.0.0.1 "$P"
udp_client b 127.0.0.1 "$P"
udp_client c 127.0.0.1 "$P"
wait_for 5 "curl's connection to end" no_conns
udp_send a 1
udp_send b 1
# A hit is always counted, but logged once a second at most: the TCP
# refusal above may have taken this second's line.
hits_are() {
	[ "$(metric 'porthole_limit_hits_total{limit="max-connections"}')" = "$1" ]
}
hits_are 1 || fail "the TCP refusal was not counted as a limit hit"
echo 1 >&"${UDP_FD[c]}"
wait_for 5 "the host to refuse the third flow" hits_are 2
grep -q "udp flow from 127.0.0.1:$UDP_PORT_c" "$T/host.log" &&
    fail "a flow was started for the client over the limit"
pass "max-connections 2: a third UDP flow refused and counted as a limit hit"
