#!/bin/bash
# Two guests, in two network namespaces, on two endpoints of one host
# agent, with their own rules and limits.  They never share a host port,
# in either family (a host client of localhost tries ::1 and 127.0.0.1):
# the second to ask for a port gets "refused: port in use by another
# guest" (the host's log names alpha, the guest is not told), or another
# port when its rule says "to auto", and gets the
# port itself once the first lets it go.  A port that a program on the
# host holds is "failed: address in use", and is taken as soon as it is
# free while the guest still wants it.
. "$(dirname "$0")/lib.sh"

NS2=ph-$$-b
SOCK2=$T/vsock2.sock
del_ns2() { ip netns del "$NS2" 2>/dev/null; }
ph_at_exit del_ns2
base=$(free_port)
P=$base PA=$((base + 1)) PH=$((base + 2)) L1=$((base + 3))
POLICY=$T/policy
cat >"$POLICY" <<EOF
max-forwards 3
guest beta {
	max-forwards 3
}
remap tcp port $PA to auto
EOF

in_vm2() {
	ip netns exec "$NS2" "$@"
}
serve() {	# LOGNAME NAMESPACE GUEST-NAME ADDR,PORT...
	local log=$1 ns=$2 name=$3
	shift 3
	bg "$log" env PHLISTEN_NAME="$name" ip netns exec "$ns" "$PY" \
	    "$PH_ROOT/tests/tools/phlisten.py" "$@"
	wait_for 5 "$log" grep -q listening "$T/$log.log"
}
hello() {	# PORT: the greeting through the host's 127.0.0.1:PORT
	timeout "$(ph_secs 5)" bash -c \
	    'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -n 1 <&3' \
	    _ "$1" 2>/dev/null || true
}
logged() {	# LOG TEXT
	grep -qF -- "$2" "$T/$1.log"
}

vm_create
ip netns add "$NS2"
in_vm2 ip link set lo up

start_host -l "unix:$SOCK2" -f "$POLICY"
# alpha asks first.
serve alpha-p "$NS" alpha "0.0.0.0,$P"
ALPHA_P=$LAST_PID
serve alpha-srv "$NS" alpha "0.0.0.0,$PA"
start_guest -N alpha
wait_for 5 "alpha's P" logged guest "tcp 0.0.0.0:$P: rewritten on host \
127.0.0.1:$P"
wait_for 5 "alpha's PA" logged guest "tcp 0.0.0.0:$PA: rewritten on host \
127.0.0.1:$PA"

# beta asks for the same two ports, P in IPv6 too.
serve beta-srv "$NS2" beta "0.0.0.0,$P" "::1,$P,v6only" "0.0.0.0,$PA"
bg guest2 ip netns exec "$NS2" "$PH_GUEST" -d -v -c "unix:$SOCK2" \
    -s "$T/guest2-status.sock" -N beta
wait_for 5 "beta to connect" logged guest2 "connected to host"
wait_for 5 "beta's P refused" logged guest2 "tcp 0.0.0.0:$P: refused by \
host: port in use by another guest (127.0.0.1:$P)"
wait_for 5 "beta's P in IPv6 refused" logged guest2 "tcp [::1]:$P: refused \
by host: port in use by another guest ([::1]:$P)"
wait_for 5 "beta's PA moved" logged guest2 "; port $PA in use by another \
guest: host port "
Q=$(grep -F "tcp 0.0.0.0:$PA: rewritten on host" "$T/guest2.log" |
    sed -nE 's/.* on host 127\.0\.0\.1:([0-9]+): .*/\1/p')
[ -n "$Q" ] && [ "$Q" != "$PA" ] || fail "beta's PA: no other port: $Q"
[ "$(host_listeners "$P")" = "127.0.0.1:$P" ] ||
    fail "P: host listens on '$(host_listeners "$P")'"
[ "$(host_listeners "$Q")" = "127.0.0.1:$Q" ] ||
    fail "Q: host listens on '$(host_listeners "$Q")'"
[ "$(hello "$P")" = "hello $P from alpha" ] || fail "P: $(hello "$P")"
[ "$(hello "$PA")" = "hello $PA from alpha" ] || fail "PA: $(hello "$PA")"
[ "$(hello "$Q")" = "hello $PA from beta" ] || fail "Q: $(hello "$Q")"
grep -qE "guest beta \(unix:$SOCK2\): tcp 0.0.0.0:$P python3 -> refused \
\(port in use by another guest \(127.0.0.1:$P\); held by guest alpha\)" \
    "$T/host.log" || fail "the host did not log it"
! grep -q "alpha" "$T/guest2.log" || fail "beta was told alpha's name"
pass "two guests, one port: the second refused (port in use by another" \
    "guest, alpha named to the host only; in IPv6 too), or moved to $Q" \
    "by 'to auto'"

# alpha lets P go: beta, which still wants it, gets it.
kill_wait TERM "$ALPHA_P"
wait_for 10 "beta to get P" logged guest2 "tcp 0.0.0.0:$P: rewritten on \
host 127.0.0.1:$P"
wait_for 10 "beta to get P in IPv6" logged guest2 "tcp [::1]:$P: bound on \
host [::1]:$P"
wait_for 5 "P's greeting from beta" sh -c "[ \"\$(timeout $(ph_secs 5) bash -c \
'exec 3<>/dev/tcp/127.0.0.1/$P && head -n 1 <&3')\" = 'hello $P from beta' ]"
[ "$(host_listeners "$P")" = "127.0.0.1:$P [::1]:$P" ] ||
    fail "P: host listens on '$(host_listeners "$P")'"
pass "alpha closed P: beta got it in both families and was told"

# beta's guest block: max-forwards 3, and beta has three.
serve beta-more "$NS2" beta "0.0.0.0,$L1"
wait_for 5 "beta's third refused" logged guest2 "tcp 0.0.0.0:$L1: refused \
by host: max-forwards 3 reached for this guest (line 3)"
[ "$(host_listeners "$L1")" = "" ] || fail "L1 opened over the limit"
pass "beta's guest block: max-forwards 3 refuses its fourth"

# A program on the host holds PH: failed, then taken once it is free.
bg blocker env PHLISTEN_NAME=host "$PY" "$PH_ROOT/tests/tools/phlisten.py" \
    "127.0.0.1,$PH"
BLOCKER=$LAST_PID
wait_for 5 "the host's blocker" grep -q listening "$T/blocker.log"
serve alpha-ph "$NS" alpha "0.0.0.0,$PH"
wait_for 5 "alpha's PH failed" logged guest "tcp 0.0.0.0:$PH: failed by \
host: 127.0.0.1:$PH: address in use"
[ "$(hello "$PH")" = "hello $PH from host" ] || fail "PH: not the blocker's"
kill_wait TERM "$BLOCKER"
wait_for 10 "alpha to get PH" logged guest "tcp 0.0.0.0:$PH: rewritten on \
host 127.0.0.1:$PH"
[ "$(hello "$PH")" = "hello $PH from alpha" ] || fail "PH: $(hello "$PH")"
pass "a port a host program held: failed (address in use), then taken" \
    "when it freed, and the guest told"
