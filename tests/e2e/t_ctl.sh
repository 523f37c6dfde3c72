#!/bin/bash
# portholectl against a real agent (ls, status, policy, events, --json),
# its errors (one line, exit 1; usage errors exit 2), and, in the VM,
# porthole-guest status: every bind with the host's verdict and reason.
. "$(dirname "$0")/lib.sh"

# expect_exit STATUS PATTERN COMMAND...: that status, one line on stderr
expect_exit() {
	local want=$1 pat=$2 out rc
	shift 2
	set +e
	out=$("$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $out"
	printf '%s\n' "$out" | grep -qE -- "$pat" ||
	    fail "'$*' said '$out', expected /$pat/"
	[ "$want" = 2 ] || [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] ||
	    fail "'$*' said more than one line: $out"
}

expect_exit 1 "porthole-host is not running \(no API at $T/none.sock\)" \
    "$PH_CTL" -a "unix:$T/none.sock" status
expect_exit 2 "usage: portholectl" "$PH_CTL"
expect_exit 2 "frobnicate: unknown command" "$PH_CTL" frobnicate
expect_exit 2 "ls: unknown command or wrong arguments" "$PH_CTL" ls extra
expect_exit 2 "policy: \"open\" is not refuse, loopback or allow" \
    "$PH_CTL" policy open
expect_exit 2 "-a: \"vsock:2:6440\" is not unix:PATH" \
    "$PH_CTL" -a vsock:2:6440 ls
"$PH_CTL" --help | grep -q "policy \[mode\]" || fail "--help"
pass "errors: agent not running (exit 1), usage (exit 2)"

vm_create
in_vm ip addr add 10.99.0.1/32 dev lo
base=$(free_port 70)
P_LO=$base P_OTHER=$((base + 1)) P_ANY=$((base + 2))
start_host -b refuse
start_guest
vm_http lo 127.0.0.1 "$P_LO"
vm_http other 10.99.0.1 "$P_OTHER"
OTHER_PID=$LAST_PID
vm_http any 0.0.0.0 "$P_ANY"
# Python's start-up is not the agents' to answer for: on a busy machine
# it alone can take seconds.  The verdict is, once the server listens.
wait_for 30 "the servers in the VM" eval 'vm_listens 127.0.0.1 "$P_LO" &&
    vm_listens 10.99.0.1 "$P_OTHER" && vm_listens 0.0.0.0 "$P_ANY"'
for p in $P_LO $P_OTHER $P_ANY; do
	wait_for 5 "the verdict on $p" grep -qE ":$p: (bound|rewritten|refused)" \
	    "$T/guest.log"
done

ctl ls >"$T/ls.txt"
head -1 "$T/ls.txt" | grep -qE '^GUEST +PROTO +GUEST ADDRESS +HOST ADDRESS +VERDICT +CONNS +PROCESS +REASON$' ||
    fail "ls header: $(cat "$T/ls.txt")"
row() {		# row PORT: the ls line of the forward of guest port PORT
	grep -E "^vm +tcp +[^ ]+:$1 " "$T/ls.txt"
}
row "$P_LO" | grep -qE "127.0.0.1:$P_LO +127.0.0.1:$P_LO +bound +0/0 +python3 +loopback bind$" ||
    fail "ls bound row: $(cat "$T/ls.txt")"
row "$P_OTHER" | grep -qE "10.99.0.1:$P_OTHER +127.0.0.1:$P_OTHER +rewritten +0/0 +python3 +guest address 10.99.0.1 is not a host address" ||
    fail "ls rewritten row: $(cat "$T/ls.txt")"
row "$P_ANY" | grep -qE "0.0.0.0:$P_ANY +- +refused +0/0 +python3 +wildcard bind 0.0.0.0 refused by policy refuse$" ||
    fail "ls refused row: $(cat "$T/ls.txt")"
[ "$(ctl --json ls | json 'sorted(f["verdict"] for f in d)')" = \
    '["bound", "refused", "rewritten"]' ] || fail "ls --json"
pass "ls: a table with verdicts; rewritten and refused say why"

ctl status >"$T/status.txt"
grep -qE '^porthole-host [0-9.]+ \(protocol [0-9]+\), pid [0-9]+, up ' "$T/status.txt" &&
    grep -qx 'policy: *refuse' "$T/status.txt" &&
    grep -qx 'forwards: *3: 1 bound, 1 rewritten, 1 refused, 0 failed' \
    "$T/status.txt" &&
    grep -qx 'guests: *1' "$T/status.txt" &&
    grep -qE "^  vm \(unix:$SOCK\): agent [0-9.]+, 3 forwards" "$T/status.txt" ||
    fail "status: $(cat "$T/status.txt")"
[ "$(ctl --json status | json 'd["forwards"]["total"]')" = 3 ] ||
    fail "status --json"
pass "status: version, policy, counts, guests"

bg events "$PH_CTL" -a "unix:$API" events
EVENTS_PID=$LAST_PID
bg jevents "$PH_CTL" -a "unix:$API" --json events
streams() { [ "$(api /v1/status | json 'd["event_clients"]')" = 2 ]; }
wait_for 5 "two event streams" streams
[ "$(ctl policy)" = "policy refuse" ] || fail "policy: $(ctl policy)"
out=$(ctl policy loopback)
[ "$out" = "policy loopback
1 forward re-decided" ] || fail "policy loopback said: $out"
wait_for 5 "the forward on 127.0.0.1" host_listens 127.0.0.1 "$P_ANY"
kill_wait TERM "$OTHER_PID"
wait_for 5 "the close" grep -q forward-closed "$T/events.log"
kill_wait TERM "$GUEST_PID"
wait_for 5 "the guest to go" grep -q guest-gone "$T/events.log"
ev() {	# ev PATTERN: the line number of the first event matching it
	grep -nE "$1" "$T/events.log" | head -1 | cut -d: -f1
}
a=$(ev "^[0-9:]{8} policy-changed +loopback: policy set to loopback by the API \(was refuse\)$")
b=$(ev "^[0-9:]{8} forward-rewritten +vm tcp 0.0.0.0:$P_ANY \(python3\) -> 127.0.0.1:$P_ANY: wildcard bind 0.0.0.0 rewritten to loopback by policy loopback$")
c=$(ev "^[0-9:]{8} forward-closed +vm tcp 10.99.0.1:$P_OTHER \(python3\): guest closed the port$")
d=$(ev "^[0-9:]{8} guest-gone +vm \(unix:$SOCK\): guest closed the control channel$")
[ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] && [ -n "$d" ] &&
    [ "$a" -lt "$b" ] && [ "$b" -lt "$c" ] && [ "$c" -lt "$d" ] ||
    fail "events ($a $b $c $d): $(cat "$T/events.log")"
grep -q "following events from $API" "$T/events.log" || fail "no banner"
"$PY" -c 'import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
names = [e["event"] for e in evs]
assert names[0] == "stream-start", names
assert "forward-rewritten" in names and "guest-gone" in names, names
gone = [e for e in evs if e["event"] == "guest-gone"][0]
assert gone["code"] == "guest_closed", gone' \
    "$T/jevents.log" || fail "events --json: $(cat "$T/jevents.log")"
pass "events: policy change, re-decided forward, close, guest gone, in order"

kill_wait TERM "$EVENTS_PID"
kill_wait TERM "$HOST_PID"
wait_for 5 "the JSON stream to end" grep -q "ended the event stream" \
    "$T/jevents.log"
expect_exit 1 "porthole-host is not running" "$PH_CTL" -a "unix:$API" ls

# --loopback-only: loosening is refused, one line, exit 1.
start_host -L
expect_exit 1 "cannot set policy allow: --loopback-only: policy loopback may only be tightened, not loosened to allow" \
    "$PH_CTL" -a "unix:$API" policy allow
[ "$(ctl policy)" = "policy loopback --loopback-only: may only be tightened" ] ||
    fail "policy under -L: $(ctl policy)"
pass "policy under --loopback-only: loosening refused in one line"

# In the VM: porthole-guest status.
start_guest
# Both verdicts: the binds are exposed in no set order.
wait_for 5 "the guest's verdict on $P_ANY" grep -q ":$P_ANY: rewritten" \
    "$T/guest.log"
wait_for 5 "the guest's verdict on $P_LO" grep -q ":$P_LO: bound" \
    "$T/guest.log"
in_vm "$PH_GUEST" -s "$GSTATUS" status >"$T/gstatus.txt"
head -1 "$T/gstatus.txt" | grep -qE "^porthole-guest [0-9.]+, guest \"vm\", host unix:$SOCK: connected$" &&
    sed -n 2p "$T/gstatus.txt" | grep -qE '^PROTO +GUEST ADDRESS +HOST ADDRESS +VERDICT +PROCESS +REASON$' &&
    grep -qE "^tcp +0.0.0.0:$P_ANY +127.0.0.1:$P_ANY +rewritten +python3 +wildcard bind 0.0.0.0 rewritten to loopback by policy loopback$" "$T/gstatus.txt" &&
    grep -qE "^tcp +127.0.0.1:$P_LO +127.0.0.1:$P_LO +bound +python3 +loopback bind$" "$T/gstatus.txt" ||
    fail "porthole-guest status: $(cat "$T/gstatus.txt")"
# One schema: each bind in the guest's JSON is the host's forward, field
# for field (the host's adds the guest and the counters).
in_vm "$PH_GUEST" -s "$GSTATUS" --json status >"$T/gstatus.json"
api /v1/forwards >"$T/forwards.json"
"$PY" -c 'import json, sys
binds = json.load(open(sys.argv[1]))["binds"]
fwds = json.load(open(sys.argv[2]))
key = lambda f: (f["proto"], f["guest_address"], f["guest_port"])
host = {key(f): f for f in fwds}
assert len(binds) == len(fwds) == 2, (binds, fwds)
for b in binds:
    f = host[key(b)]
    assert set(b) < set(f), (b, f)
    for k in b:
        assert b[k] == f[k], (k, b, f)' "$T/gstatus.json" "$T/forwards.json" ||
    fail "the guest's status and GET /v1/forwards differ: $(cat \
    "$T/gstatus.json" "$T/forwards.json")"
api_status 200 -X PUT -d '{"mode":"refuse"}' /v1/policy
wait_for 5 "the refusal" grep -q ":$P_ANY: refused" "$T/guest.log"
in_vm "$PH_GUEST" -s "$GSTATUS" status | grep -qE \
    "^tcp +0.0.0.0:$P_ANY +- +refused +python3 +wildcard bind 0.0.0.0 refused by policy refuse" ||
    fail "status after refusal: $(in_vm "$PH_GUEST" -s "$GSTATUS" status)"
kill_wait TERM "$HOST_PID"
waiting() {
	in_vm "$PH_GUEST" -s "$GSTATUS" --json status | json \
	    'd["connected"], sorted(set(b["verdict"] for b in d["binds"]))' |
	    grep -qx '\[false, \["waiting"\]\]'
}
wait_for 5 "the guest to see the host gone" waiting
in_vm "$PH_GUEST" -s "$GSTATUS" status | grep -q "not connected" ||
    fail "status without a host"
expect_exit 1 "status: $T/nothere.sock: porthole-guest is not running" \
    in_vm "$PH_GUEST" -s "$T/nothere.sock" status
pass "porthole-guest status: each bind's verdict and reason, in the VM"
