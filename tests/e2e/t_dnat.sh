#!/bin/bash
# Ports published by DNAT rules with no listening socket behind them,
# made by the real tools in the simulated VM: iptables-nft laid out as
# Docker lays it out with its userland proxy off (PREROUTING and OUTPUT
# jump to DOCKER, which DNATs the port), a native nft rule, the CNI
# portmap plugin (Debian's containernetworking-plugins) run with a
# hostPort as the kubelet runs it, and a UDP rule.  The destination is a
# "container": a namespace behind a veth pair, serving HTTP and UDP echo.
# Each port must appear on the host as the policy says (refuse, allow,
# loopback), named after what made it, serve the container's page
# through (curl on the host), give way to a socket on the same port, and
# leave the host when its rule goes.  The rules are seen when committed
# (the poll is an hour here).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

PORTMAP=/usr/lib/cni/portmap
for t in iptables-nft nft; do
	command -v $t >/dev/null || fail "no $t (mk/deps.sh check)"
done
[ -x $PORTMAP ] || fail "no $PORTMAP (containernetworking-plugins)"
CT=ph-dnat-ct-$$

base=$(free_port 5)
P1=$base P2=$((base + 1)) P3=$((base + 2)) P4=$((base + 3))

# The VM and the container behind its bridge-like veth end.
vm_create
ct_create cbr0 10.77.0.1/24 10.77.0.2/24 udp

ipt() { in_vm iptables-nft -w -t nat "$@"; }
# Docker's layout (iptables-nft, Debian's default iptables).
docker_rules() {
	ipt -N DOCKER
	ipt -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
	ipt -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
	ipt -A DOCKER -i cbr0 -j RETURN
	ipt -A DOCKER ! -i cbr0 -p tcp -m tcp --dport "$P1" \
	    -j DNAT --to-destination 10.77.0.2:80
	ipt -A DOCKER ! -i cbr0 -p udp -m udp --dport "$P4" \
	    -j DNAT --to-destination 10.77.0.2:7
}
nft_rules() {
	in_vm nft -f - <<EOF
table ip phdnat {
	chain pre {
		type nat hook prerouting priority dstnat;
		tcp dport $P2 dnat to 10.77.0.2:80
	}
}
EOF
}
# portmap as the kubelet's CRI runs it: CNI_* in the environment, the
# network config with the runtime's port mappings and the previous
# plugin's result on stdin, in the pod's host namespace (the VM).
portmap() {
	in_vm env CNI_COMMAND="$1" CNI_CONTAINERID=ph-dnat-$$ \
	    CNI_NETNS=/run/netns/$CT CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
	    $PORTMAP <<EOF
{"cniVersion": "0.4.0", "name": "phdnat", "type": "portmap",
 "capabilities": {"portMappings": true},
 "runtimeConfig": {"portMappings": [
   {"hostPort": $P3, "containerPort": 80, "protocol": "tcp"}]},
 "prevResult": {"cniVersion": "0.4.0",
   "interfaces": [{"name": "eth0", "sandbox": "/run/netns/$CT"}],
   "ips": [{"version": "4", "address": "10.77.0.2/24", "interface": 0}]}}
EOF
}
docker_rules
nft_rules
portmap ADD >"$T/portmap-add.out" 2>&1 ||
    fail "portmap ADD: $(cat "$T/portmap-add.out")"
in_vm ss -Hltun | grep -E ":($P1|$P2|$P3|$P4) " &&
    fail "something listens in the VM on a published port"
pass "DNAT rules: iptables-nft (Docker's chains), nft, CNI portmap" \
    "(hostPort $P3), udp; no socket listens on their ports"

serves() {
	curl -sf --max-time 5 "http://$1:$2/" | grep -q "hello from the container"
}

# expect MODE PORT NAME VERDICT HOST-LISTENERS
expect() {
	local port=$2 got
	wait_for 10 "$1: the verdict on port $port" \
	    grep -qE "tcp [^ ]*:$port: $4" "$T/guest.log"
	log_has guest "new bind: tcp 0.0.0.0:$port by $3, DNAT to 10.77.0.2:80" ||
	    fail "$1: port $port not named $3 with its destination"
	got=$(host_listeners "$port")
	[ "$got" = "$5" ] ||
	    fail "$1: port $port: host listens on '$got', expected '$5'"
	[ -z "$5" ] && return
	serves 127.0.0.1 "$port" ||
	    fail "$1: no page from the container through 127.0.0.1:$port"
}

run_mode() {
	local mode=$1 want v
	start_host ${mode:+-b "$mode"}
	start_guest -S 3600000
	case $mode in
	refuse)	v="refused by host" ;;
	allow)	v=bound ;;
	*)	v=rewritten ;;
	esac
	for p in "$P1:docker" "$P2:nft:phdnat/pre" "$P3:cni-portmap"; do
		case $mode in
		refuse)	want= ;;
		allow)	want=0.0.0.0:${p%%:*} ;;
		*)	want=127.0.0.1:${p%%:*} ;;
		esac
		expect "${mode:-loopback}" "${p%%:*}" "${p#*:}" "$v" "$want"
	done
	wait_for 10 "the verdict on udp port $P4" \
	    grep -qE "udp [^ ]*:$P4: $v" "$T/guest.log"
	if [ "$mode" != refuse ]; then
		"$PHUDP" client 127.0.0.1 "$P4" 20 1 200 7 >/dev/null ||
		    fail "no echo from the container through 127.0.0.1:$P4/udp"
	fi
	pass "policy ${mode:-loopback (default)}: each DNAT-published port" \
	    "as the policy says, named docker, nft:phdnat/pre, cni-portmap;" \
	    "the container's page (curl) and echo (udp) through each"
}

run_mode refuse
stop_agents refuse
run_mode allow
stop_agents allow
run_mode ""

# A socket on a published port wins; when it goes, the rule is back.
vm_http vmsrv 0.0.0.0 "$P1"
VMSRV=$LAST_PID
wait_for 10 "the socket's bind to win" \
    log_has guest "new bind: tcp 0.0.0.0:$P1 by python3"
curl -sf --max-time 5 "http://127.0.0.1:$P1/" | grep -q "hello from the guest" ||
    fail "127.0.0.1:$P1 does not reach the VM's own server"
kill_wait TERM "$VMSRV"
wait_for 10 "the rule's port back" serves 127.0.0.1 "$P1"
pass "a socket on the port wins over the rule, and the rule is back" \
    "when the socket goes"

# Each rule goes: so does its port, at the commit (the poll is an hour).
gone() { ! host_listens 127.0.0.1 "$1"; }
ipt -D DOCKER ! -i cbr0 -p tcp -m tcp --dport "$P1" \
    -j DNAT --to-destination 10.77.0.2:80
wait_for 10 "127.0.0.1:$P1 to go" gone "$P1"
host_listens 127.0.0.1 "$P2" || fail "$P2 went with $P1's rule"
in_vm nft delete table ip phdnat
wait_for 10 "127.0.0.1:$P2 to go" gone "$P2"
portmap DEL >"$T/portmap-del.out" 2>&1 ||
    fail "portmap DEL: $(cat "$T/portmap-del.out")"
wait_for 10 "127.0.0.1:$P3 to go" gone "$P3"
ipt -F DOCKER
wait_for 10 "127.0.0.1:$P4/udp to go" \
    sh -c "! ss -Hlun | grep -q ':$P4 '"

# The rule set's netlink group hears every object a commit adds, then
# the one message that ends the commit; a socket filter lets only that
# one through, so the agent wakes once a commit however big it is.  Its
# debug log says how many messages each wake read: counted, not timed.
heard() {
	awk '/ nat: [0-9]+ rule set messages heard/ { n += $4 }
	    END { print n + 0 }' "$T/guest.log"
}
h0=$(heard)
{
	echo "table ip phbig {"
	echo "	chain c {"
	for i in $(seq 1 30); do echo "		tcp dport $i accept"; done
	echo "	}"
	echo "}"
} | in_vm nft -f - || fail "nft: a table of 30 rules"
for i in $(seq 1 10); do in_vm nft add table ip phq$i; done
heard_all() { [ $(( $(heard) - h0 )) -ge 11 ]; }
wait_for 10 "11 commits heard" heard_all
got=$(( $(heard) - h0 ))
[ "$got" -eq 11 ] ||
    fail "$got rule set messages heard for 11 commits (one of 32 objects):" \
    "more than each commit's end got through"
pass "11 commits (one a table of 30 rules) heard as 11 messages, not" \
    "one per object"
log_has guest "bind gone: tcp 0.0.0.0:$P3" || fail "no 'bind gone' for $P3"
pass "each port leaves the host when its rule goes (iptables-nft -D," \
    "nft delete table, portmap DEL, -F)"
