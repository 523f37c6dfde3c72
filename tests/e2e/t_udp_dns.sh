#!/bin/bash
# A real DNS exchange through the forward: dnsmasq in the VM, on the
# wildcard (UDP and TCP, IPv4 and IPv6), answers dig on the host at
# 127.0.0.1 and ::1, over UDP and over TCP on the same port number.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

command -v dnsmasq >/dev/null || fail "dnsmasq is not installed (dnsmasq-base)"
command -v dig >/dev/null || fail "dig is not installed (bind9-dnsutils)"
P=$(free_port)
vm_create
start_host
start_guest
bg dnsmasq ip netns exec "$NS" dnsmasq --keep-in-foreground \
    --conf-file=/dev/null --port="$P" --no-resolv --no-hosts --no-poll \
    --user=root --pid-file= --log-facility=- --log-queries \
    --address=/vm.porthole.test/192.0.2.53 \
    --address=/vm.porthole.test/2001:db8::53
for a in 127.0.0.1 ::1; do
	wait_for 5 "the UDP forward on $a" host_udp_listens "$a" "$P"
	wait_for 5 "the TCP forward on $a" host_listens "$a" "$P"
done
got=$(host_udp_listeners "$P")
[ "$got" = "127.0.0.1:$P [::1]:$P" ] || fail "UDP $P: host has '$got'"

# ask SERVER TYPE [+tcp]: the answer dig prints, and only that
ask() {
	dig @"$1" -p "$P" +short +time="$(ph_secs 5)" +tries=1 ${3:+"$3"} \
	    vm.porthole.test "$2"
}
for s in 127.0.0.1 ::1; do
	[ "$(ask "$s" A)" = 192.0.2.53 ] || fail "udp A via $s: '$(ask "$s" A)'"
	[ "$(ask "$s" AAAA)" = 2001:db8::53 ] ||
	    fail "udp AAAA via $s: '$(ask "$s" AAAA)'"
	[ "$(ask "$s" A +tcp)" = 192.0.2.53 ] ||
	    fail "tcp A via $s: '$(ask "$s" A +tcp)'"
done
n=$(grep -c "query\[A*\] vm.porthole.test from" "$T/dnsmasq.log")
[ "$n" = 6 ] || fail "dnsmasq answered $n queries, not 6"
pass "dig on the host got dnsmasq's answers over UDP and TCP, IPv4 and IPv6"
