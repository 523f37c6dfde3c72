#!/bin/bash
# UDP through the forward, IPv4 and IPv6: an echo server in the VM on
# 0.0.0.0 answers 2000 datagrams of 1 to 30000 bytes from each of two
# clients at once on the host's 127.0.0.1, every reply to its own
# client, from the address it sent to, byte for byte; the same through
# a dual-stack :: server on ::1; the largest datagrams of each family
# pass whole.  Under the default policy no wildcard is opened on the
# host, and a TCP server on the same port is a forward of its own.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

vm_create
start_host
start_guest
P4=$(free_port) P6=$(( $(free_port) + 1 ))

vm_udp_echo echo4 0.0.0.0 "$P4"
vm_udp_echo echo6 :: "$P6"
vm_http http4 0.0.0.0 "$P4"
wait_for 5 "the UDP forward on 127.0.0.1" host_udp_listens 127.0.0.1 "$P4"
wait_for 5 "the UDP forwards on ::1" host_udp_listens ::1 "$P6"
wait_for 5 "the TCP forward" host_listens 127.0.0.1 "$P4"
got=$(host_udp_listeners "$P4")
[ "$got" = "127.0.0.1:$P4" ] || fail "UDP $P4: host has '$got'"
got=$(host_udp_listeners "$P6")
[ "$got" = "127.0.0.1:$P6 [::1]:$P6" ] || fail "UDP $P6: host has '$got'"
log_has guest "udp 0.0.0.0:$P4: rewritten on host 127.0.0.1:$P4" ||
    fail "the guest did not log the verdict on udp 0.0.0.0:$P4"

# two_clients ADDR PORT: 2000 datagrams each, two clients at once.
two_clients() {
	local a=$1 p=$2 pid
	"$PHUDP" client "$a" "$p" 2000 1 30000 1 >"$T/c1.out" 2>&1 &
	pid=$!
	"$PHUDP" client "$a" "$p" 2000 1 30000 2 >"$T/c2.out" 2>&1 ||
	    fail "client 2 via $a: $(cat "$T/c2.out")"
	wait "$pid" || fail "client 1 via $a: $(cat "$T/c1.out")"
	grep -q "^sent 2000 received 2000 bytes 30000001 " "$T/c1.out" ||
	    fail "client 1 via $a: $(cat "$T/c1.out")"
	grep -q "^sent 2000 received 2000 bytes 30000001 " "$T/c2.out" ||
	    fail "client 2 via $a: $(cat "$T/c2.out")"
	awk '{ print $9 }' "$T/c1.out"
}
rtt4=$(two_clients 127.0.0.1 "$P4")
pass "2 x 2000 datagrams of 1-30000 bytes via 127.0.0.1, all intact" \
    "(median round trip ${rtt4} us)"
rtt6=$(two_clients ::1 "$P6")
two_clients 127.0.0.1 "$P6" >/dev/null
pass "2 x 2000 datagrams via ::1 and via 127.0.0.1 to a dual-stack ::," \
    "all intact (median round trip ${rtt6} us over IPv6)"

"$PHUDP" client 127.0.0.1 "$P4" 3 65505 65507 3 >"$T/max4.out" 2>&1 ||
    fail "65507 bytes over IPv4: $(cat "$T/max4.out")"
"$PHUDP" client ::1 "$P6" 3 65525 65527 4 >"$T/max6.out" 2>&1 ||
    fail "65527 bytes over IPv6: $(cat "$T/max6.out")"
pass "the largest datagrams, 65507 bytes over IPv4 and 65527 over IPv6"

# The guest's own flow sockets are connected: never binds to forward.
n=$(grep -c "new bind:" "$T/guest.log")
[ "$n" = 3 ] || fail "the guest saw $n binds, not 3: $(grep "new bind" \
    "$T/guest.log")"

# TCP and UDP on one port number are independent forwards.
curl -sf "http://127.0.0.1:$P4/" | grep -q "hello from the guest" ||
    fail "no HTTP through the TCP forward on $P4"
kill_wait TERM "$UDP_ECHO_PID"	# the :: server, started last
wait_for 5 "the UDP forward on ::1 to close" sh -c \
    "! ss -Hlun | awk '{ print \$4 }' | grep -q ':$P6\$'"
host_listens 127.0.0.1 "$P4" || fail "the TCP forward closed with UDP"
host_udp_listens 127.0.0.1 "$P4" || fail "UDP $P4 closed with UDP $P6"
curl -sf "http://127.0.0.1:$P4/" >/dev/null || fail "TCP $P4 stopped working"
pass "TCP and UDP on port $P4 are separate forwards; UDP $P6 closed alone"
