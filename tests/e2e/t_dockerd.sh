#!/bin/bash
# Debian's real dockerd in the simulated VM (lib-dockerd.sh), iptables on
# (its rules stay in the namespace), once with its userland proxy off
# (--userland-proxy=false) and once on (its default: it starts Debian's
# /usr/sbin/docker-proxy).  `docker run -p` of an image made by `docker
# import` of a busybox root (no registry) serving HTTP:
#   - off: dockerd holds the published port with a socket of its own and
#     DNATs it to the container; the socket wins over the rule (the bind
#     is named dockerd);
#   - on: docker-proxy listens on the port (the bind is named
#     docker-proxy) and relays to the container;
# and in both the port appears on the host as the policy says (refuse,
# allow, loopback), curl on the host gets the container's page, and the
# port leaves the host when the container is removed.  A missing dockerd
# fails; one that exits (cannot run here) is a skip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dockerd.sh"

port=$(free_port)
vm_create

# verdicts PORT VERDICT N: the guest has N verdicts VERDICT on PORT.
verdicts() {
	[ "$(grep -cE "tcp [^ ]*:$1: $2" "$T/guest.log")" -ge "$3" ]
}

# run_mode PROCESS POLICY: the agents under POLICY see PROCESS's bind
# on $port and the host listens as the policy says (docker-proxy binds
# [::] too: Docker 20.10 publishes on both families).
run_mode() {
	local by=$1 mode=$2 v want want6= binds=2
	start_host ${mode:+-b "$mode"}
	start_guest
	case $mode in
	refuse)	v="refused by host"; want= ;;
	allow)	v=bound; want=0.0.0.0:$port; want6=" [::]:$port" ;;
	*)	v=rewritten; want=127.0.0.1:$port; want6=" [::1]:$port" ;;
	esac
	if [ "$by" = dockerd ]; then binds=1; else want=$want$want6; fi
	wait_for 10 "$binds verdicts on $port" verdicts "$port" "$v" "$binds"
	log_has guest "new bind: tcp 0.0.0.0:$port by $by\$" ||
	    fail "$mode: the bind is not $by's: $(grep "$port" "$T/guest.log")"
	[ "$(host_listeners "$port")" = "$want" ] ||
	    fail "$mode: host listens on '$(host_listeners "$port")', not '$want'"
	if [ -n "$want" ]; then
		wait_for 10 "$mode: the container's page through the host" \
		    dockerd_serves 127.0.0.1 "$port"
	fi
	pass "$by, policy ${mode:-loopback (default)}: docker run -p $port:80" \
	    "as the policy says${want:+, curl on the host gets the page}"
}

# run_proxy on|off: dockerd with its userland proxy so, each policy,
# then the container removed and its port gone from the host.
run_proxy() {
	local proxy=$1 by
	dockerd_start "proxy-$proxy" --iptables=true \
	    --userland-proxy="$([ "$proxy" = on ] && echo true || echo false)"
	[ -n "$("${DOCKER[@]}" images -q "$DK_IMAGE")" ] || dockerd_image
	dockerd_web web "$port:80" ||
	    fail "docker run -p $port:80: $(cat "$T/web.out")"
	if [ "$proxy" = off ]; then
		by=dockerd
		in_vm iptables-nft -t nat -S DOCKER | grep -q "dport $port -j DNAT" ||
		    fail "no DNAT rule for $port: $(in_vm iptables-nft -t nat -S)"
	else
		by=docker-proxy
	fi
	in_vm ss -Hltnp | grep -q "0.0.0.0:$port .*\"$by\"" ||
	    fail "$by holds no socket on $port: $(in_vm ss -Hltnp)"
	pass "dockerd $(dockerd --version | awk '{ print $3 }' | tr -d ,)" \
	    "userland proxy $proxy in the VM: docker run -p $port:80 is" \
	    "0.0.0.0:$port held by $by"

	run_mode "$by" refuse
	stop_agents "$proxy-refuse"
	run_mode "$by" allow
	stop_agents "$proxy-allow"
	run_mode "$by" ""

	"${DOCKER[@]}" rm -f web >/dev/null 2>&1 || fail "docker rm -f web"
	wait_for 10 "127.0.0.1:$port to go" sh -c "! ss -Hltn | grep -q ':$port '"
	log_has guest "bind gone: tcp 0.0.0.0:$port" ||
	    fail "no 'bind gone' for $port"
	pass "userland proxy $proxy: the port leaves the host when the" \
	    "container is removed"
	stop_agents "$proxy-loopback"
	dockerd_stop
}

run_proxy off
run_proxy on
