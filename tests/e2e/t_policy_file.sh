#!/bin/bash
# The policy file's matrix, in the style of OpenSSH's
# regress/forward-control.sh: every mode (loopback, refuse, allow, and
# allow capped by -L) x every kind of guest bind (0.0.0.0, :: v6only,
# :: dual-stack, 127.0.0.1, ::1, another address) x every kind of rule
# (none, allow, loopback, refuse, remap to a port, remap to auto, from
# loopback, from an IPv6 network, a guest block by name, another guest's
# block, a guest block by endpoint).  Each outcome is read from the
# host's real listening sockets (ss) and from the verdict the guest
# logged, whose reason must name the rule's line exactly when a rule
# decided; and every forward that opened carries a greeting from the
# guest's server to a client on the host.
. "$(dirname "$0")/lib.sh"

ADDRS=(0.0.0.0 :: :: 127.0.0.1 ::1 10.99.0.1)
ADDR_NAMES=("0.0.0.0" ":: v6only" ":: dual" "127.0.0.1" "::1" "10.99.0.1")
NKINDS=11 NADDRS=${#ADDRS[@]}
KIND_NAMES=(none allow loopback refuse "remap to port" "remap to auto"
    "refuse from loopback" "allow from ::/0" "guest by name"
    "another guest" "guest by endpoint")

# A block of free ports: the guest's, 6 per kind of rule, then 4 for
# UDP, and from +100 the host ports of "remap to port".
free_block() {
	local p i used
	used=$(ss -Hatun | awk '{ n = split($5, a, ":"); print a[n] }' |
	    sort -u)
	while :; do
		p=$(( 10000 + (RANDOM * 32768 + RANDOM) % 20000 ))
		for ((i = 0; i < 140; i++)); do
			echo "$used" | grep -qx "$((p + i))" && continue 2
		done
		echo "$p"
		return
	done
}
base=$(free_block)
port_of() { echo $((base + $1 * NADDRS + $2)); }	# KIND ADDR
first() { port_of "$1" 0; }
last() { port_of "$1" $((NADDRS - 1)); }

# The policy file, recording the line of each kind's rule.
declare -A LINE
POLICY=$T/policy
: >"$POLICY"
n=0
add() {
	echo "$1" >>"$POLICY"
	n=$((n + 1))
}
rule() {	# KIND TEXT
	add "$2"
	LINE[$1]=$n
}
add "# the matrix policy: no mode line, -b gives it"
add "guest \"vm-*\" {"
rule 8 "	refuse tcp port $(first 8)-$(last 8)"
add "}"
add "guest other {"
add "	allow tcp port $(first 9)-$(last 9)"
add "}"
add "guest cid:77 {"
add "	allow tcp port $(first 9)-$(last 9)"
add "}"
add "guest unix:$SOCK {"
rule 10 "	loopback tcp port $(first 10)-$(last 10)"
add "}"
rule 1 "allow tcp port $(first 1)-$(last 1)"
rule 2 "loopback tcp port $(first 2)-$(last 2)"
rule 3 "refuse tcp port $(first 3)-$(last 3)"
rule 4 "remap tcp port $(first 4)-$(last 4) to $(($(first 4) + 100))"
rule 5 "remap tcp port $(first 5)-$(last 5) to auto   # the host holds them"
rule 6 "refuse tcp port $(first 6)-$(last 6) from loopback"
rule 7 "allow tcp port $(first 7)-$(last 7) from ::/0"
# UDP: the same rules, the same function.
U1=$((base + 66)) U2=$((base + 67)) U3=$((base + 68)) U4=$((base + 69))
U3MOVED=$((base + 139))
rule u1 "allow udp port $U1"
rule u2 "refuse any port $U2"
rule u3 "remap udp port $U3 to $U3MOVED"
rule u4 "loopback udp port $U4"
"$PH_HOST" -n -f "$POLICY" >"$T/check.out" 2>&1 ||
    fail "-n -f rejected the matrix policy: $(cat "$T/check.out")"

vm_create
in_vm ip addr add 10.99.0.1/32 dev lo	# an address the host does not have
specs=()
for ((k = 0; k < NKINDS; k++)); do
	for ((a = 0; a < NADDRS; a++)); do
		spec="${ADDRS[a]},$(port_of $k $a)"
		[ "$a" = 1 ] && spec="$spec,v6only"
		specs+=("$spec")
	done
done
bg vmserve ip netns exec "$NS" "$PY" "$PH_ROOT/tests/tools/phlisten.py" \
    "${specs[@]}"
wait_for 10 "the servers in the VM" grep -q listening "$T/vmserve.log"

# Another program on the host holds the ports of "remap to auto".
blocks=()
for ((a = 0; a < NADDRS; a++)); do
	blocks+=("127.0.0.1,$(port_of 5 $a)" "::1,$(port_of 5 $a),v6only")
done
bg blocker "$PY" "$PH_ROOT/tests/tools/phlisten.py" "${blocks[@]}"
wait_for 10 "the host's blocker" grep -q listening "$T/blocker.log"

# host_set ADDR-KIND PORT WILDCARD-MODE: the host listeners by the table
# of porthole-policy(5), sorted as host_listeners sorts them.
host_set() {
	local a=$1 p=$2 w=$3 l
	case $a.$w in
	0.allow)	l="0.0.0.0:$p" ;;
	0.loopback)	l="127.0.0.1:$p" ;;
	1.allow)	l="[::]:$p" ;;
	1.loopback)	l="[::1]:$p" ;;
	2.allow)	l="0.0.0.0:$p [::]:$p" ;;
	2.loopback)	l="127.0.0.1:$p [::1]:$p" ;;
	[012].refuse)	l="" ;;
	3.*)		l="127.0.0.1:$p" ;;
	4.*)		l="[::1]:$p" ;;
	5.*)		l="127.0.0.1:$p" ;;
	esac
	# shellcheck disable=SC2086
	[ -n "$l" ] && printf '%s\n' $l | sort | tr '\n' ' ' | sed 's/ $//'
	return 0
}

# expect MODE KIND ADDR-KIND: sets V (verdict), HP (host port, or auto)
# and LN (the line of the rule that decides, or 0).
expect() {
	local mode=$1 k=$2 a=$3 w act=mode
	w=$mode
	[ "$mode" = allow-L ] && w=loopback
	HP=$(port_of "$k" "$a") LN=0
	case $k in
	1|2|3|8|10)	LN=${LINE[$k]} ;;
	4|5)		LN=${LINE[$k]} ;;
	6)		[ "$a" = 3 ] || [ "$a" = 4 ] && LN=${LINE[6]} ;;
	7)		[ "$a" = 1 ] || [ "$a" = 2 ] || [ "$a" = 4 ] &&
			    LN=${LINE[7]} ;;
	esac
	case $k in
	1|7)	[ "$LN" != 0 ] && act=allow ;;
	2|10)	act=loopback ;;
	3|8)	act=refuse ;;
	6)	[ "$LN" != 0 ] && act=refuse ;;
	4)	HP=$((HP + 100)) ;;
	5)	HP=auto ;;
	esac
	case $act in
	allow)		[ "$mode" = allow-L ] && w=loopback || w=allow ;;
	loopback)	w=loopback ;;
	refuse)		V=refused; return ;;
	esac
	case $a.$w in
	[012].refuse)	V=refused ;;
	[012].allow|3.*|4.*)	V=bound ;;
	*)		V=rewritten ;;
	esac
	[ "$V" = bound ] && [ "$HP" != "$(port_of "$k" "$a")" ] && V=rewritten
	W=$w
}

# The guest's log line for a bind, and the host port it names.
guest_line() {
	grep -F " tcp $1: " "$T/guest.log" | tail -n 1
}

hello_through() {	# HOST PORT GUEST-PORT
	local got
	got=$(timeout "$(ph_secs 5)" bash -c 'exec 3<>"/dev/tcp/$1/$2" && head -n 1 <&3' \
	    _ "$1" "$2" 2>/dev/null) || true
	[ "$got" = "hello $3" ]
}

ncases=0
check_case() {	# MODE KIND ADDR-KIND
	local mode=$1 k=$2 a=$3 p ga line got want h what hp
	p=$(port_of "$k" "$a")
	what="mode $mode, ${KIND_NAMES[k]}, guest ${ADDR_NAMES[a]}:$p"
	case ${ADDRS[a]} in
	*:*)	ga="[${ADDRS[a]}]:$p" ;;
	*)	ga="${ADDRS[a]}:$p" ;;
	esac
	expect "$mode" "$k" "$a"
	wait_for 10 "the guest's verdict on $ga" grep -qF " tcp $ga: " \
	    "$T/guest.log"
	line=$(guest_line "$ga")
	case $V in
	refused)	echo "$line" | grep -qF ": refused by host: " ||
			    fail "$what: expected refused: $line" ;;
	*)		echo "$line" | grep -qF ": $V on host " ||
			    fail "$what: expected $V: $line" ;;
	esac
	if [ "$LN" != 0 ]; then
		echo "$line" | grep -qE "line ${LN}[:( ]" ||
		    fail "$what: reason does not name line $LN: $line"
	else
		echo "$line" | grep -qE "line [0-9]+" &&
		    fail "$what: no rule applies, but: $line"
	fi
	[ "$V" = refused ] && { ncases=$((ncases + 1)); return; }
	hp=$HP
	if [ "$hp" = auto ]; then
		hp=$(echo "$line" | sed -nE 's/.* on host \[?[0-9a-f.:]+\]?:([0-9]+).*/\1/p')
		[ -n "$hp" ] && [ "$hp" != "$p" ] ||
		    fail "$what: auto kept the port the host holds: $line"
		echo "$line" | grep -qF "in use: host port $hp" ||
		    fail "$what: auto does not say why it moved: $line"
	fi
	want=$(host_set "$a" "$hp" "$W")
	got=$(host_listeners "$hp")
	[ "$got" = "$want" ] ||
	    fail "$what: host listens on '$got', expected '$want'"
	for h in $want; do
		case $h in
		0.0.0.0:*)	h=127.0.0.1:$hp ;;
		"[::]:"*)	h="[::1]:$hp" ;;
		esac
		h=${h%:*}
		h=${h#[}
		h=${h%]}
		hello_through "$h" "$hp" "$p" ||
		    fail "$what: no greeting from the guest through $h:$hp"
	done
	ncases=$((ncases + 1))
}

run_mode() {
	local mode=$1 k a
	shift
	start_host -f "$POLICY" "$@"
	start_guest -N vm-e2e
	for ((k = 0; k < NKINDS; k++)); do
		for ((a = 0; a < NADDRS; a++)); do
			check_case "$mode" "$k" "$a"
		done
	done
	kill_wait TERM "$GUEST_PID"
	kill_wait TERM "$HOST_PID"
	wait_for 5 "the host listeners to close" \
	    sh -c "! ss -Hltn | awk '{print \$4}' | grep -qE ':$(first 1)\$'"
	mv "$T/guest.log" "$T/guest-$mode.log.old"
	mv "$T/host.log" "$T/host-$mode.log.old"
	pass "mode $mode: $((NKINDS * NADDRS)) binds as the policy says"
}

# UDP binds under mode refuse: the rules with udp and any apply to them,
# and a udp rule does not apply to TCP on the same port.
udp_listeners() {
	ss -Hlun | awk '{ print $4 }' | grep -E ":$1\$" | sort | tr '\n' ' ' |
	    sed 's/ $//'
}
udp_echo() {	# HOST PORT
	"$PY" -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
for i in range(5):
    s.sendto(b"ping %d" % i, (sys.argv[1], int(sys.argv[2])))
    try:
        if s.recv(100) == b"ping %d" % i:
            sys.exit(0)
    except socket.timeout:
        pass
sys.exit(1)' "$1" "$2"
}
udp_case() {	# GUEST-ADDR:PORT VERDICT-TEXT HOST-LISTENERS PORT LINE
	wait_for 10 "the guest's verdict on udp $1" grep -qF " udp $1: " \
	    "$T/guest.log"
	line=$(grep -F " udp $1: " "$T/guest.log" | tail -n 1)
	echo "$line" | grep -qF ": $2" || fail "udp $1: expected $2: $line"
	echo "$line" | grep -qE "line $5[:( ]" ||
	    fail "udp $1: reason does not name line $5: $line"
	[ "$(udp_listeners "$4")" = "$3" ] ||
	    fail "udp $1: host has '$(udp_listeners "$4")', expected '$3'"
	for h in $3; do
		h=${h%:*}
		h=${h#[}
		h=${h%]}
		[ "$h" = 0.0.0.0 ] && h=127.0.0.1
		udp_echo "$h" "$4" || fail "udp $1: no echo through $h:$4"
	done
	ncases=$((ncases + 1))
}
run_udp() {
	start_host -f "$POLICY" -b refuse
	start_guest -N vm-e2e
	udp_case "0.0.0.0:$U1" "bound on host 0.0.0.0:$U1" "0.0.0.0:$U1" \
	    "$U1" "${LINE[u1]}"
	wait_for 10 "the verdict on tcp $U1" grep -qF " tcp 0.0.0.0:$U1: " \
	    "$T/guest.log"
	grep -F " tcp 0.0.0.0:$U1: " "$T/guest.log" | grep -qF "refused by \
host: wildcard bind 0.0.0.0 refused by policy refuse" ||
	    fail "tcp $U1: the udp rule applied to tcp"
	ncases=$((ncases + 1))
	udp_case "127.0.0.1:$U2" "refused by host: refused by line" "" "$U2" \
	    "${LINE[u2]}"
	udp_case "127.0.0.1:$U3" "rewritten on host 127.0.0.1:$U3MOVED" \
	    "127.0.0.1:$U3MOVED" "$U3MOVED" "${LINE[u3]}"
	udp_case "[::]:$U4" "rewritten on host [::1]:$U4 127.0.0.1:$U4" \
	    "127.0.0.1:$U4 [::1]:$U4" "$U4" "${LINE[u4]}"
	kill_wait TERM "$GUEST_PID"
	kill_wait TERM "$HOST_PID"
	mv "$T/guest.log" "$T/guest-udp.log.old"
	mv "$T/host.log" "$T/host-udp.log.old"
	pass "udp under mode refuse: allow, refuse any, remap and loopback" \
	    "rules decide udp binds, and a udp rule leaves tcp alone"
}

run_mode loopback -b loopback
run_mode refuse -b refuse
run_mode allow -b allow
run_mode allow-L -b allow -L
[ "$ncases" = $((4 * NKINDS * NADDRS)) ] || fail "only $ncases cases ran"
pass "matrix: 4 modes x $NADDRS kinds of bind x $NKINDS kinds of rule =" \
    "$ncases cases, each read from ss and from the guest's log"
bg vmudp ip netns exec "$NS" "$PY" "$PH_ROOT/tests/tools/phlisten.py" \
    "0.0.0.0,$U1,udp" "0.0.0.0,$U1" "127.0.0.1,$U2,udp" "127.0.0.1,$U3,udp" \
    "::,$U4,udp"
wait_for 5 "the UDP servers in the VM" grep -q listening "$T/vmudp.log"
run_udp
