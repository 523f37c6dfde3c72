#!/bin/bash
# The host agent's API, driven with curl over its Unix socket: forwards
# with their verdicts and reasons, the event stream in order (a bind, a
# rewrite, a refusal, a close), PUT /v1/policy tightening and loosening
# (re-deciding live forwards, checked with ss), --loopback-only refusing
# to loosen with 403, and the status of every kind of bad request.
. "$(dirname "$0")/lib.sh"

vm_create
in_vm ip addr add 10.99.0.1/32 dev lo
base=$(free_port 40)
P_LO=$base P_OTHER=$((base + 1)) P_ANY=$((base + 2))

start_host -b refuse
start_guest
test "$(stat -c %a "$API")" = 600 || fail "API socket mode $(stat -c %a "$API")"

bg events curl -sSN --unix-socket "$API" http://localhost/v1/events
wait_for 5 "the event stream" grep -q '"stream-start"' "$T/events.log"

# One bind at a time, each waited for, so that the order is known.
vm_http lo 127.0.0.1 "$P_LO"
wait_for 5 "a bound forward" grep -q ":$P_LO: bound" "$T/guest.log"
vm_http other 10.99.0.1 "$P_OTHER"
OTHER_PID=$LAST_PID
wait_for 5 "a rewritten forward" grep -q ":$P_OTHER: rewritten" \
    "$T/guest.log"
vm_http any 0.0.0.0 "$P_ANY"
wait_for 5 "a refused forward" grep -q ":$P_ANY: refused" "$T/guest.log"

api /v1/forwards >"$T/fw.json"
check_fw() {	# check_fw PORT VERDICT HOSTS REASON CODE
	local f="[f for f in d if f['guest_port'] == $1][0]"
	[ "$(json "$f['verdict']" <"$T/fw.json")" = "$2" ] &&
	    [ "$(json "$f['code']" <"$T/fw.json")" = "$5" ] &&
	    [ "$(json "' '.join(h['address'] + ':' + str(h['port'])
	        for h in $f['host'])" <"$T/fw.json")" = "$3" ] &&
	    [ "$(json "$f['reason']" <"$T/fw.json")" = "$4" ] &&
	    [ "$(json "$f['process']" <"$T/fw.json")" = python3 ] &&
	    [ "$(json "$f['guest']" <"$T/fw.json")" = vm ] ||
	    fail "forward $1 is not $2 on '$3' ($4): $(cat "$T/fw.json")"
}
check_fw "$P_LO" bound "127.0.0.1:$P_LO" "loopback bind" null
check_fw "$P_OTHER" rewritten "127.0.0.1:$P_OTHER" "guest address 10.99.0.1 \
is not a host address: forwarded on host loopback" null
check_fw "$P_ANY" refused "" "wildcard bind 0.0.0.0 refused by policy refuse" \
    policy
pass "GET /v1/forwards: bound, rewritten and refused, with reasons and codes"

kill_wait TERM "$OTHER_PID"
wait_for 5 "the forward to close" grep -q '"forward-closed"' "$T/events.log"
"$PY" - "$T/events.log" "$P_LO" "$P_OTHER" "$P_ANY" <<'EOF' ||
import datetime, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
lo, other, any_ = (int(p) for p in sys.argv[2:])
assert lines[0]["event"] == "stream-start", lines[0]
seqs = [l["seq"] for l in lines]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
for l in lines:
    datetime.datetime.strptime(l["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
got = [(l["event"], l["forward"]["guest_port"]) for l in lines
       if l["event"].startswith("forward-")]
want = [("forward-bound", lo), ("forward-rewritten", other),
        ("forward-refused", any_), ("forward-closed", other)]
assert got == want, got
closed = [l for l in lines if l["event"] == "forward-closed"][0]
assert closed["reason"] == "guest closed the port", closed
assert closed["guest"] == "vm", closed
EOF
	fail "event stream: $(cat "$T/events.log")"
pass "GET /v1/events: bind, rewrite, refusal and close, in order"

api /v1/status >"$T/status.json"
[ "$(json 'd["guests"], d["forwards"]["total"], d["forwards"]["bound"],
    d["forwards"]["refused"], d["policy"]["mode"]' <"$T/status.json")" = \
    '[1, 2, 1, 1, "refuse"]' ] || fail "status: $(cat "$T/status.json")"
api /v1/guests >"$T/guests.json"
[ "$(json '[(g["name"], g["forwards"], g["endpoint"]) for g in d]' \
    <"$T/guests.json")" = "[[\"vm\", 2, \"unix:$SOCK\"]]" ] ||
    fail "guests: $(cat "$T/guests.json")"
pass "GET /v1/status and /v1/guests"

# Loosening (no --loopback-only): the refused forward opens on 0.0.0.0.
api_status 200 -X PUT -d '{"mode":"allow"}' /v1/policy
[ "$(json 'd["mode"], d["forwards_changed"]' <"$T/reply")" = '["allow", 1]' ] ||
    fail "PUT allow answered $(cat "$T/reply")"
wait_for 5 "the forward on 0.0.0.0" host_listens 0.0.0.0 "$P_ANY"
curl -sf "http://127.0.0.1:$P_ANY/" | grep -q "hello from the guest" ||
    fail "no HTTP through the re-opened forward"
# Tightening: back to loopback, and the listener moves.
api_status 200 -X PUT -d '{"mode":"loopback"}' /v1/policy
wait_for 5 "the forward on 127.0.0.1" host_listens 127.0.0.1 "$P_ANY"
host_listens 0.0.0.0 "$P_ANY" && fail "0.0.0.0:$P_ANY still open"
wait_for 5 "the guest told of it" grep -q ":$P_ANY: rewritten" "$T/guest.log"
wait_for 5 "the events" grep -q '"policy-changed"' "$T/events.log"
grep '"redecided":true' "$T/events.log" | grep -q '"forward-rewritten"' ||
    fail "no re-decided forward-rewritten event"
pass "PUT /v1/policy: loosening and tightening re-decide live forwards"

api_status 404 /v1/nothing
api_status 404 /
api_status 405 -X DELETE /v1/forwards
api_status 405 -X PUT -d '{}' /v1/status
api_status 405 -X POST -d '{"mode":"refuse"}' /v1/policy
api -sS -o /dev/null -D "$T/headers" -X POST /v1/policy || true
grep -qi '^Allow: GET, PUT' "$T/headers" || fail "405 without Allow"
api_status 400 -X PUT -d 'mode=refuse' /v1/policy
api_status 400 -X PUT -d '' /v1/policy
api_status 400 -X PUT -d '[]' /v1/policy
api_status 400 -X PUT -d '{"mode":"open"}' /v1/policy
api_status 400 -X PUT -d '{"mode":1}' /v1/policy
api_status 400 -X PUT -d '{"mode":"refuse","more":1}' /v1/policy
api_status 400 -X PUT -d '{"mode":"refuse","mode":"allow"}' /v1/policy
api_status 400 -X PUT -d '{"mode":"refuse"} x' /v1/policy
api_status 400 -X PUT --data-binary $'{"mode":"\xff"}' /v1/policy
head -c 5000 /dev/zero | tr '\0' ' ' >"$T/big"
api_status 413 -X PUT --data-binary "@$T/big" /v1/policy
# Over evhttp's own limit: its status line, and its page (not JSON).
head -c 100000 /dev/zero | tr '\0' ' ' >"$T/huge"
PH_HTML_OK=1 api_status 413 -X PUT --data-binary "@$T/huge" /v1/policy
PH_HTML_OK=1 api_status 400 -H "X-Big: $(head -c 20000 /dev/zero |
    tr '\0' a)" /v1/status
out=$(printf 'NOT HTTP AT ALL\r\n\r\n' | "$PY" -c "
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
print(s.recv(100).decode().split('\r\n')[0])" "$API")
[ "$out" = "HTTP/1.1 400 Bad Request" ] || fail "not HTTP: answered '$out'"
[ "$(json 'd["mode"]' < <(api /v1/policy))" = loopback ] ||
    fail "a bad request changed the policy"
kill -0 "$HOST_PID" || fail "the host agent died"
pass "bad requests: 404, 405 with Allow, 400 and 413 with JSON errors"

# --loopback-only: tightening works, loosening is refused with 403.
kill_wait TERM "$HOST_PID"
start_host -L -b allow
wait_for 5 "the forward on 127.0.0.1" host_listens 127.0.0.1 "$P_ANY"
api_status 403 -X PUT -d '{"mode":"allow"}' /v1/policy
json 'd["error"]' <"$T/reply" | grep -q -- "--loopback-only" ||
    fail "403 does not say why: $(cat "$T/reply")"
host_listens 0.0.0.0 "$P_ANY" && fail "loosened under --loopback-only"
api_status 200 -X PUT -d '{"mode":"refuse"}' /v1/policy
wait_for 5 "the forward to close" sh -c "! ss -Hltn | grep -q ':$P_ANY '"
wait_for 5 "the guest told" grep -q ":$P_ANY: refused" "$T/guest.log"
api_status 403 -X PUT -d '{"mode":"loopback"}' /v1/policy
api /v1/policy >"$T/policy.json"
[ "$(json 'd["mode"], d["loopback_only"], d["may_loosen"]' \
    <"$T/policy.json")" = '["refuse", true, false]' ] ||
    fail "policy after 403: $(cat "$T/policy.json")"
curl -s "http://127.0.0.1:$P_LO/" | grep -q "hello from the guest" ||
    fail "the loopback forward stopped working"
pass "--loopback-only: PUT tightens, loosening gets 403 and changes nothing"
