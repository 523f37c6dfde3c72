#!/bin/bash
# Docker's published ports, with Docker's own docker-proxy (from Debian's
# docker.io package; mk/docker-proxy.sh) run in the simulated VM exactly as
# dockerd runs it for `docker run -p`, in front of a "container": a second
# network namespace joined to the VM's by a veth pair, at Docker's default
# bridge addresses, serving HTTP.  Published:
#   -p P1:80            docker-proxy -host-ip 0.0.0.0 and -host-ip ::
#   -p 127.0.0.1:P2:80  docker-proxy -host-ip 127.0.0.1
#   -p [::1]:P3:80      docker-proxy -host-ip ::1
#   -p P4:7/udp         docker-proxy -proto udp -host-ip 0.0.0.0
#   -p [::1]:P5:7/udp   docker-proxy -proto udp -host-ip ::1
# Each must appear on the host as the policy says (refuse, allow, then the
# default, loopback), serve the container's page through, and disappear
# from the host when its docker-proxy exits, as it does when the
# container stops.  Nobody configures anything for it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

DOCKER_PROXY=$("$PH_ROOT/mk/docker-proxy.sh") ||
    fail "no docker-proxy (mk/docker-proxy.sh)"
CT=ph-ct-$$

P1=$(free_port) P2=$(( $(free_port) + 1 )) P3=$(( $(free_port) + 2 ))
P4=$(( $(free_port) + 3 )) P5=$(( $(free_port) + 4 ))

# The VM, its docker0-like bridge end, and the container behind it.
vm_create
ct_create docker0 172.17.0.1/16 172.17.0.2/16 udp

# proxy NAME HOST-IP HOST-PORT [udp]: docker-proxy as dockerd starts it;
# like dockerd, read its verdict ("0\n" or "1\n<error>") from fd 3.
proxy() {
	local proto=${4:-tcp} cport=80
	[ "$proto" = udp ] && cport=7
	bg "dp-$1" ip netns exec "$NS" "$DOCKER_PROXY" -proto "$proto" \
	    -host-ip "$2" -host-port "$3" -container-ip 172.17.0.2 \
	    -container-port "$cport" 3>"$T/dp-$1.status"
	eval "DP_$1=$LAST_PID"
	wait_for 5 "docker-proxy $1 to report" test -s "$T/dp-$1.status"
	[ "$(head -1 "$T/dp-$1.status")" = 0 ] ||
	    fail "docker-proxy $1: $(cat "$T/dp-$1.status")"
}
proxy any4 0.0.0.0 "$P1"
proxy any6 :: "$P1"
proxy lo4 127.0.0.1 "$P2"
proxy lo6 ::1 "$P3"
proxy any4u 0.0.0.0 "$P4" udp
proxy lo6u ::1 "$P5" udp
# Docker's proxy takes only IPv6 on "::", beside its 0.0.0.0 twin.
wait_for 5 "the proxies' sockets in the VM" vm_listens :: "$P1"
vm_listens 0.0.0.0 "$P1" && vm_listens 127.0.0.1 "$P2" &&
    vm_listens ::1 "$P3" || fail "docker-proxy sockets: $(in_vm ss -Hltn)"
vm_udp_listens 0.0.0.0 "$P4" && vm_udp_listens ::1 "$P5" ||
    fail "docker-proxy UDP sockets: $(in_vm ss -Hlun)"
pass "docker-proxy $(cat "$PH_ROOT/.cache/docker.io/version") x6 (4 tcp," \
    "2 udp) in the VM in front of a container at 172.17.0.2"

# serves ADDR PORT: the container's page through the host listener.
serves() {
	curl -sfg --max-time 5 "http://$(ss_addr "$1" "$2")/" |
	    grep -q "hello from the container"
}

# expect MODE PORT VERDICT HOST-LISTENERS: as the guest logged it and as
# ss shows it, and every host listener serves the page.
expect() {
	local port=$2 verdict=$3 want=$4 got a
	wait_for 10 "$1: the verdict on port $port" \
	    grep -qE ":$port: $verdict" "$T/guest.log"
	got=$(host_listeners "$port")
	[ "$got" = "$want" ] ||
	    fail "$1: port $port: host listens on '$got', expected '$want'"
	for a in $want; do
		case $a in
		0.0.0.0:*)	a=127.0.0.1:$port ;;
		"[::]:"*)	a=[::1]:$port ;;
		esac
		a=${a%:*}
		serves "$(echo "$a" | tr -d '[]')" "$port" ||
		    fail "$1: no page from the container through $a:$port"
	done
}

# expect_udp MODE PORT VERDICT HOST-SOCKETS: the same for a UDP port; the
# container's echo server answers 50 datagrams through each host socket.
expect_udp() {
	local port=$2 verdict=$3 want=$4 got a
	wait_for 10 "$1: the verdict on udp port $port" \
	    grep -qE "udp [^ ]*:$port: $verdict" "$T/guest.log"
	got=$(host_udp_listeners "$port")
	[ "$got" = "$want" ] ||
	    fail "$1: udp port $port: host has '$got', expected '$want'"
	for a in $want; do
		case $a in
		0.0.0.0:*)	a=127.0.0.1:$port ;;
		esac
		a=$(echo "${a%:*}" | tr -d '[]')
		"$PHUDP" client "$a" "$port" 50 1 1400 7 >/dev/null ||
		    fail "$1: no echo from the container through $a:$port/udp"
	done
}

run_mode() {
	local mode=$1
	start_host ${mode:+-b "$mode"}
	start_guest
	case $mode in
	refuse)
		expect "$mode" "$P1" "refused by host" "" ;;
	allow)
		expect "$mode" "$P1" bound "0.0.0.0:$P1 [::]:$P1" ;;
	*)
		expect "$mode" "$P1" rewritten "127.0.0.1:$P1 [::1]:$P1" ;;
	esac
	expect "$mode" "$P2" bound "127.0.0.1:$P2"
	expect "$mode" "$P3" bound "[::1]:$P3"
	case $mode in
	refuse)	expect_udp "$mode" "$P4" "refused by host" "" ;;
	allow)	expect_udp "$mode" "$P4" bound "0.0.0.0:$P4" ;;
	*)	expect_udp "$mode" "$P4" rewritten "127.0.0.1:$P4" ;;
	esac
	expect_udp "$mode" "$P5" bound "[::1]:$P5"
	grep -q "new bind: tcp 0.0.0.0:$P1 by docker-proxy" "$T/guest.log" ||
	    fail "the guest did not name docker-proxy"
	log_has host "tcp 0.0.0.0:$P1 docker-proxy -> " ||
	    fail "the host log does not name docker-proxy"
	pass "policy ${mode:-loopback (default)}: each published port as" \
	    "the policy says, the container's page (tcp) and echo (udp) through each"
}

# The agents go, the docker-proxies stay: the next mode resyncs them.
run_mode refuse
stop_agents refuse
run_mode allow
stop_agents allow
run_mode ""

# The container stops: dockerd sends its proxies SIGTERM.
gone() { ! host_listens "$1" "$2" && ! serves "$1" "$2"; }
kill_wait TERM "$DP_any4"
wait_for 5 "127.0.0.1:$P1 to go from the host" gone 127.0.0.1 "$P1"
log_has guest "bind gone: tcp 0.0.0.0:$P1" || fail "no 'bind gone' for $P1"
serves ::1 "$P1" || fail "[::1]:$P1 went with its 0.0.0.0 twin"
kill_wait TERM "$DP_any6"
wait_for 5 "[::1]:$P1 to go from the host" gone ::1 "$P1"
kill_wait TERM "$DP_lo4"
wait_for 5 "127.0.0.1:$P2 to go from the host" gone 127.0.0.1 "$P2"
kill_wait TERM "$DP_lo6"
wait_for 5 "[::1]:$P3 to go from the host" gone ::1 "$P3"
# The host logs the close just after closing the listener: wait for it.
wait_for 5 "the host to log the close" log_has host "tcp \[::1\]:$P3 closed"
kill_wait TERM "$DP_any4u"
wait_for 5 "127.0.0.1:$P4/udp to go from the host" \
    sh -c "! ss -Hlun | grep -q ':$P4 '"
kill_wait TERM "$DP_lo6u"
wait_for 5 "[::1]:$P5/udp to go from the host" \
    sh -c "! ss -Hlun | grep -q ':$P5 '"
pass "each published port (tcp and udp) leaves the host when its" \
    "docker-proxy exits"
