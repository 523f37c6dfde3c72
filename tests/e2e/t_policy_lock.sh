#!/bin/bash
# -n -f checks a policy file (errors as FILE:LINE, exit 1; the effective
# policy printed otherwise), and lock: honoured only in a file that root
# owns and neither group nor others may write, where -b may tighten the
# mode but not loosen it.  Outcomes are read from -n and, with the agents
# running, from the host's listening sockets and the guest's log.
. "$(dirname "$0")/lib.sh"

POLICY=$T/policy
port=$(free_port)

# check_n WANT-STATUS COMMAND...: runs it, keeping stdout and stderr.
check_n() {
	local want=$1 rc
	shift
	set +e
	"$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want:" \
	    "$(cat "$T/out" "$T/err")"
}
has() {		# FILE TEXT
	grep -qF -- "$2" "$T/$1" || fail "no '$2' in $1: $(cat "$T/$1")"
}

# A file with errors: each named with its line; exit 1, also with -n.
printf 'mode loopback\nallow tcp port 0\nlock\nguest a {\n' >"$POLICY"
check_n 1 "$PH_HOST" -n -f "$POLICY"
has err "$POLICY:2: port: \"0\" is not a port (1-65535) or a range of them"
has err "$POLICY:4: the guest block from line 4 is not closed with }"
has err "porthole-host: $POLICY: bad policy file"
check_n 1 "$PH_HOST" -d -l "unix:$SOCK" -a "unix:$API" -f "$POLICY"
has err "$POLICY:2: port"
[ ! -e "$SOCK" ] || fail "the agent opened its endpoint with a bad policy"
check_n 1 "$PH_HOST" -n -f "$T/nonexistent"
has err "$T/nonexistent: No such file or directory"
check_n 1 "$PH_HOST" -n -f "$T"
has err "$T: not a regular file"
# A relative path is read from where the agent was started.
(cd "$T" && printf 'mode refuse\n' >rel && check_n 0 "$PH_HOST" -n -f rel)
has out "policy-file $T/rel"
pass "-n -f: errors as FILE:LINE and exit 1; missing and odd files named"

# lock in a root-owned file that only root may write: honoured.
printf 'mode loopback\nlock\nrefuse tcp port 22\n' >"$POLICY"
chown 0:0 "$POLICY"
chmod 0644 "$POLICY"
check_n 0 "$PH_HOST" -n -f "$POLICY"
has out "bind-policy loopback"
has out "policy-file $POLICY"
has out "# line 2, honoured"
has out "refuse tcp port 22                       # line 3"
check_n 0 "$PH_HOST" -n -b allow -f "$POLICY"
has out "bind-policy loopback"
has err "-b $POLICY is locked: mode allow tightened to loopback"
check_n 0 "$PH_HOST" -n -b refuse -f "$POLICY"
has out "bind-policy refuse"		# tightening is always allowed
pass "lock honoured in a root-owned 0644 file: -b may tighten, not loosen"

# lock_ignored OWNER MODE WHY: -b allow loosens, and -n says why.
lock_ignored() {
	chown "$1" "$POLICY"
	chmod "$2" "$POLICY"
	check_n 0 "$PH_HOST" -n -b allow -f "$POLICY"
	has out "bind-policy allow"
	has out "# line 2, not honoured: $3"
	[ ! -s "$T/err" ] || fail "a note for an ignored lock: $(cat "$T/err")"
}
lock_ignored 65534:0 0644 "the file is owned by uid 65534, not root"
lock_ignored 0:0 0664 "the file is writable by its group"
lock_ignored 0:0 0646 "the file is writable by others"
lock_ignored 0:65534 0666 "the file is writable by others"
pass "lock ignored in a file owned by another user or writable by others"

# The same with the agents running: what the guest's 0.0.0.0 bind gets.
vm_create
vm_http web 0.0.0.0 "$port"
wait_for 5 "the server in the VM" vm_listens 0.0.0.0 "$port"
run() {		# OWNER MODE WANT-LISTENER WANT-VERDICT
	chown "$1" "$POLICY"
	chmod "$2" "$POLICY"
	start_host -b allow -f "$POLICY"
	start_guest
	wait_for 5 "the guest's verdict" grep -qE \
	    "tcp 0.0.0.0:$port: $4 on host $3:$port" "$T/guest.log"
	[ "$(host_listeners "$port")" = "$3:$port" ] ||
	    fail "$1 $2: host listens on '$(host_listeners "$port")'"
	curl -sf "http://127.0.0.1:$port/" >/dev/null ||
	    fail "$1 $2: no HTTP through the forward"
	kill_wait TERM "$GUEST_PID"
	kill_wait TERM "$HOST_PID"
	wait_for 5 "the listener to close" sh -c "! ss -Hltn |
	    awk '{print \$4}' | grep -qE ':$port\$'"
	mv "$T/guest.log" "$T/guest-$2.log.old"
	mv "$T/host.log" "$T/host-$2.log.old"
}
run 0:0 0644 127.0.0.1 rewritten
grep -q "is locked: mode allow tightened to loopback" "$T/host-0644.log.old" ||
    fail "the host did not say -b allow was tightened"
run 65534:0 0644 0.0.0.0 bound
grep -q "$POLICY:2: lock not honoured: the file is owned by uid 65534" \
    "$T/host-0644.log.old" || fail "the host did not warn that lock is ignored"
pass "running: locked, -b allow gives loopback; unlocked, it gives 0.0.0.0"

# The API under lock: tightening works, and so does going back to the
# file's mode; loosening beyond it is refused (403), saying why.
chown 0:0 "$POLICY"
chmod 0644 "$POLICY"
start_host -f "$POLICY"
start_guest
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
api /v1/policy >"$T/policy.json"
[ "$(json '[d["mode"], d["may_loosen"], d["file"]["locked"],
    d["file"]["rules"], d["file"]["path"]]' <"$T/policy.json")" = \
    "[\"loopback\", false, true, 1, \"$POLICY\"]" ] ||
    fail "GET /v1/policy: $(cat "$T/policy.json")"
[ "$(ctl policy)" = "policy loopback: may only be tightened
file $POLICY: mode loopback, 1 rule, 0 guest blocks, locked" ] ||
    fail "portholectl policy: $(ctl policy)"
api_status 403 -X PUT -d '{"mode":"allow"}' /v1/policy
json 'd["error"]' <"$T/reply" | grep -qF "$POLICY is locked: policy \
loopback may only be tightened, not loosened to allow" ||
    fail "403 without the reason: $(cat "$T/reply")"
host_listens 0.0.0.0 "$port" && fail "a refused PUT opened 0.0.0.0"
api_status 200 -X PUT -d '{"mode":"refuse"}' /v1/policy
wait_for 5 "the guest told of the refusal" grep -qF "tcp 0.0.0.0:$port: \
refused by host: wildcard bind 0.0.0.0 refused by policy refuse" \
    "$T/guest.log"
wait_for 5 "the listener to close" sh -c "! ss -Hltn |
    awk '{print \$4}' | grep -qE ':$port\$'"
api_status 200 -X PUT -d '{"mode":"loopback"}' /v1/policy
wait_for 5 "the forward back" host_listens 127.0.0.1 "$port"
pass "API under lock: loosening to allow refused (403), tightening to" \
    "refuse and back to the file's loopback re-decide the forward"
