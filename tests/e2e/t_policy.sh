#!/bin/bash
# Every bind policy against every kind of guest bind, in the style of
# OpenSSH's regress/forward-control.sh: each outcome is read from the
# host's real listening sockets (ss) and from the verdict the guest
# logged, and every forward that is open is used.
. "$(dirname "$0")/lib.sh"

vm_create
# An address of the VM's that the host does not have.
in_vm ip addr add 10.99.0.1/32 dev lo
base=$(free_port)
P_ANY4=$base P_DUAL=$((base + 1)) P_ANY6=$((base + 2))
P_LO4=$((base + 3)) P_LO6=$((base + 4)) P_OTHER=$((base + 5))

# The guest's binds: HTTP servers, and phtest where v6only is needed.
vm_http any4 0.0.0.0 "$P_ANY4"
vm_http dual :: "$P_DUAL"
bg any6 ip netns exec "$NS" "$PHTEST" serve :: "$P_ANY6" halfreply 100
vm_http lo4 127.0.0.1 "$P_LO4"
bg lo6 ip netns exec "$NS" "$PHTEST" serve ::1 "$P_LO6" halfreply 100
vm_http other 10.99.0.1 "$P_OTHER"
wait_for 5 "the servers in the VM" vm_listens 0.0.0.0 "$P_ANY4"
wait_for 5 "the servers in the VM" vm_listens '*' "$P_DUAL"
wait_for 5 "the servers in the VM" vm_listens :: "$P_ANY6"
wait_for 5 "the servers in the VM" vm_listens 127.0.0.1 "$P_LO4"
wait_for 5 "the servers in the VM" vm_listens ::1 "$P_LO6"
wait_for 5 "the servers in the VM" vm_listens 10.99.0.1 "$P_OTHER"

# check_forward PORT EXPECTED-HOST-LISTENERS VERDICT
check_forward() {
	local port=$1 want=$2 verdict=$3 got a
	wait_for 5 "the guest's verdict on port $port" \
	    grep -qE ":$port: $verdict" "$T/guest.log"
	got=$(host_listeners "$port")
	[ "$got" = "$want" ] || fail "$mode: port $port: host listens on" \
	    "'$got', expected '$want'"
	for a in $want; do
		case $a in
		0.0.0.0:*)	a=127.0.0.1:$port ;;
		"[::]:"*)	a=[::1]:$port ;;
		esac
		if [ "$port" = "$P_ANY6" ] || [ "$port" = "$P_LO6" ]; then
			"$PHTEST" client "$(echo "${a%:*}" | tr -d '[]')" \
			    "$port" halfreply 1000 100 >/dev/null ||
			    fail "$mode: no data through $a"
		else
			curl -sfg "http://$a/" | grep -q "hello from the guest" ||
			    fail "$mode: no HTTP through $a"
		fi
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
		check_forward "$s" "[::]:$s" bound ;;
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
	# Loopback binds are bound as they are; other addresses go to loopback.
	check_forward "$P_LO4" "127.0.0.1:$P_LO4" bound
	check_forward "$P_LO6" "[::1]:$P_LO6" bound
	check_forward "$P_OTHER" "127.0.0.1:$P_OTHER" rewritten
	case "$mode" in
	"-L -b allow")
		log_has host "capped at loopback" ||
		    fail "$mode: no warning that allow was capped" ;;
	esac
	kill_wait TERM "$GUEST_PID"
	kill_wait TERM "$HOST_PID"
	wait_for 5 "the host listeners to close" \
	    sh -c "! ss -Hltn | awk '{print \$4}' | grep -qE ':$P_LO4\$'"
	mv "$T/guest.log" "$T/guest-${mode// /_}.log.old"
	mv "$T/host.log" "$T/host-${mode// /_}.log.old"
	pass "mode '${mode:-default}': 6 kinds of bind as expected"
}

for m in "" "-b loopback" "-b allow" "-b refuse" "-L" "-L -b allow" \
    "-L -b refuse"; do
	# shellcheck disable=SC2086
	run_mode $m
done
