#!/bin/bash
# The bind policy applies to UDP exactly as to TCP: every policy mode
# against every kind of guest UDP bind, each outcome read from the
# host's real UDP sockets (ss) and the verdict the guest logged, and
# every forward that is open used by a client that checks its replies
# come from the address it sent to.  Under allow, a client sending to
# 127.0.0.2 on the wildcard socket gets its replies from 127.0.0.2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

vm_create
in_vm ip addr add 10.99.0.1/32 dev lo
base=$(free_port)
P_ANY4=$base P_DUAL=$((base + 1)) P_ANY6=$((base + 2))
P_LO4=$((base + 3)) P_LO6=$((base + 4)) P_OTHER=$((base + 5))

vm_udp_echo any4 0.0.0.0 "$P_ANY4"
vm_udp_echo dual :: "$P_DUAL"
vm_udp_echo any6 :: "$P_ANY6" v6only
vm_udp_echo lo4 127.0.0.1 "$P_LO4"
vm_udp_echo lo6 ::1 "$P_LO6"
vm_udp_echo other 10.99.0.1 "$P_OTHER"

# check_forward PORT EXPECTED-HOST-SOCKETS VERDICT
check_forward() {
	local port=$1 want=$2 verdict=$3 got a
	wait_for 5 "the guest's verdict on udp port $port" \
	    grep -qE "^.*: udp .*:$port: $verdict" "$T/guest.log"
	got=$(host_udp_listeners "$port")
	[ "$got" = "$want" ] || fail "$mode: udp $port: host has '$got'," \
	    "expected '$want'"
	for a in $want; do
		case $a in
		0.0.0.0:*)	a=127.0.0.1 ;;
		"[::]:"*)	a=::1 ;;
		*)		a=$(echo "${a%:*}" | tr -d '[]') ;;
		esac
		"$PHUDP" client "$a" "$port" 20 1 2000 "$port" \
		    >"$T/client.out" 2>&1 ||
		    fail "$mode: udp via $a $port: $(cat "$T/client.out")"
	done
}

run_mode() {
	mode="$*"
	start_host "$@"
	start_guest
	local p=$P_ANY4 d=$P_DUAL s=$P_ANY6
	case "$mode" in
	"-b allow")
		check_forward "$p" "0.0.0.0:$p" bound
		check_forward "$d" "0.0.0.0:$d [::]:$d" bound
		check_forward "$s" "[::]:$s" bound
		"$PHUDP" client 127.0.0.2 "$p" 20 1 2000 7 >"$T/client.out" \
		    2>&1 || fail "$mode: via 127.0.0.2: $(cat "$T/client.out")"
		;;
	"" | "-b loopback" | "-L" | "-L -b allow")
		check_forward "$p" "127.0.0.1:$p" rewritten
		check_forward "$d" "127.0.0.1:$d [::1]:$d" rewritten
		check_forward "$s" "[::1]:$s" rewritten ;;
	"-b refuse" | "-L -b refuse")
		check_forward "$p" "" "refused by host"
		check_forward "$d" "" "refused by host"
		check_forward "$s" "" "refused by host" ;;
	*)	fail "no expectations for mode '$mode'" ;;
	esac
	check_forward "$P_LO4" "127.0.0.1:$P_LO4" bound
	check_forward "$P_LO6" "[::1]:$P_LO6" bound
	check_forward "$P_OTHER" "127.0.0.1:$P_OTHER" rewritten
	kill_wait TERM "$GUEST_PID"
	kill_wait TERM "$HOST_PID"
	wait_for 5 "the host's UDP sockets to close" sh -c \
	    "! ss -Hlun | awk '{print \$4}' | grep -qE ':$P_LO4\$'"
	mv "$T/guest.log" "$T/guest-${mode// /_}.log.old"
	mv "$T/host.log" "$T/host-${mode// /_}.log.old"
	pass "mode '${mode:-default}': 6 kinds of UDP bind as expected"
}

for m in "" "-b loopback" "-b allow" "-b refuse" "-L" "-L -b allow" \
    "-L -b refuse"; do
	# shellcheck disable=SC2086
	run_mode $m
done
