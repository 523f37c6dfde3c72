# UDP helpers for the end-to-end tests, on top of lib.sh.
#
# shellcheck shell=bash

PHUDP=$PH_ROOT/tests/tools/phudp
declare -A UDP_FD UDP_SENT

# The local addresses of unconnected UDP sockets ("127.0.0.1:53",
# "[::1]:53", "*:53" for a dual-stack ::), one per line.
udp_sockets() {
	ss -Hlun | awk '{ print $4 }'
}

host_udp_listens() {
	udp_sockets | grep -qxF "$(ss_addr "$1" "$2")"
}

# host_udp_listeners PORT: the host's UDP sockets on PORT, sorted.
host_udp_listeners() {
	udp_sockets | grep -E ":$1\$" | sort | tr '\n' ' ' | sed 's/ $//'
}

vm_udp_listens() {
	in_vm ss -Hlun | awk '{ print $4 }' | grep -qxF "$(ss_addr "$1" "$2")"
}

# vm_udp_echo NAME ADDR PORT [v6only]: an echo server in the VM.
vm_udp_echo() {
	bg "$1" ip netns exec "$NS" "$PHUDP" echo "$2" "$3" ${4:+"$4"}
	UDP_ECHO_PID=$LAST_PID
	wait_for 5 "the UDP server $1 in the VM" vm_udp_listens \
	    "$(case "$2:${4:-}" in ":::") echo '*' ;; *) echo "$2" ;; esac)" "$3"
}

# The guest's flows to PORT: its connected UDP sockets, one per line.
vm_flows() {
	in_vm ss -Hun state established "( dport = :$1 )" | awk '{ print $4 }'
}

vm_flow_count() {
	vm_flows "$1" | wc -l
}

# vm_flows_are PORT N: does the guest have N flows to PORT?
vm_flows_are() {
	[ "$(vm_flow_count "$1")" = "$2" ]
}

# log_count LOG PATTERN N: does LOG have N lines that match?
log_count() {
	[ "$(grep -c -- "$2" "$T/$1.log")" = "$3" ]
}

# udp_client NAME ADDR PORT: a client that keeps one socket and sends a
# datagram per udp_send; its port is in UDP_PORT_<NAME> once it is up.
udp_client() {
	local fd
	mkfifo "$T/$1.in"
	bg "$1" sh -c "exec \"$PHUDP\" lines $2 $3 <\"$T/$1.in\""
	exec {fd}>"$T/$1.in"
	UDP_FD[$1]=$fd
	UDP_SENT[$1]=0
	wait_for 5 "client $1" grep -q '^port ' "$T/$1.log"
	eval "UDP_PORT_$1=$(awk '/^port / { print $2; exit }' "$T/$1.log")"
}

# udp_answers NAME N: has client NAME had N answers (or timeouts)?
udp_answers() {
	[ "$(grep -cE '^(ok|timeout)$' "$T/$1.log")" -ge "$2" ]
}

# udp_send NAME TEXT: one round trip; fails the test if it did not echo.
udp_send() {
	local n
	echo "$2" >&"${UDP_FD[$1]}"
	n=$(( ${UDP_SENT[$1]} + 1 ))
	UDP_SENT[$1]=$n
	wait_for 10 "client $1's reply $n" udp_answers "$1" "$n"
	[ "$(grep -E '^(ok|timeout)$' "$T/$1.log" | sed -n "${n}p")" = ok ] ||
	    fail "client $1: no echo for datagram $n ($2)"
}
