#!/bin/bash
# Who may use the API and the guest's status socket.  A second user,
# made for this test and removed after it, is refused twice over: by the
# socket's mode and directory, and (with those loosened on purpose) by
# the agents' SO_PEERCRED check.  An agent run by that user puts its
# socket under its own XDG_RUNTIME_DIR (or /tmp/porthole-UID), mode 0600
# in a 0700 directory, where portholectl finds it by default.
. "$(dirname "$0")/lib.sh"

U=phu$$
UDIR=
cleanup_user() {	# from ph_cleanup, once the user's processes are gone
	[ -n "$UDIR" ] && rm -rf "$UDIR"
	if id "$U" >/dev/null 2>&1; then
		rm -rf "/tmp/porthole-$(id -u "$U")"
		userdel "$U" 2>/dev/null || true
	fi
}
ph_at_exit cleanup_user
useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
    skip "cannot create a user"
UID2=$(id -u "$U")
# The programs, where the other user can surely run them.
UDIR=$(mktemp -d /tmp/ph-user.XXXXXX)
chmod 0755 "$UDIR"
mkdir "$UDIR/bin"
cp "$PH_HOST" "$PH_CTL" "$PH_GUEST" "$UDIR/bin/"
UHOST=$UDIR/bin/porthole-host UCTL=$UDIR/bin/portholectl
UGUEST=$UDIR/bin/porthole-guest
as_user() {
	setpriv --reuid="$U" --regid="$U" --clear-groups --reset-env "$@"
}

vm_create
P=$(free_port 60)
start_host
start_guest
vm_http www 0.0.0.0 "$P"
wait_for 5 "the forward" host_listens 127.0.0.1 "$P"
ctl ls | grep -q rewritten || fail "root cannot list forwards"

expect_fail "permission denied: $API belongs to another user" \
    as_user "$UCTL" -a "unix:$API" ls
# Misconfigured on purpose: the socket reachable by everyone.  The agent
# still refuses the other user, with 403 and a JSON error.
chmod 0711 "$T"
chmod 0666 "$API"
out=$(as_user curl -s -w '\n%{http_code}' --unix-socket "$API" \
    http://localhost/v1/forwards) || true
code=${out##*$'\n'}
printf '%s\n' "${out%$'\n'*}" >"$T/reply"
[ "$code" = 403 ] || fail "another uid got HTTP $code: $(cat "$T/reply")"
json 'd["error"]' <"$T/reply" | grep -q "uid $UID2 is neither" ||
    fail "403 says: $(cat "$T/reply")"
grep -q "$P" "$T/reply" && fail "the refused user was shown forwards"
expect_fail "uid $UID2 is neither the agent's user .* nor root" \
    as_user "$UCTL" -a "unix:$API" ls
expect_fail "cannot set policy refuse: .*uid $UID2" \
    as_user "$UCTL" -a "unix:$API" policy refuse
[ "$(json 'd["mode"]' < <(api /v1/policy))" = loopback ] ||
    fail "the refused user changed the policy"
log_has host "request from uid $UID2 refused" || fail "no log of the refusal"
pass "another user: refused by the socket's mode, then by SO_PEERCRED (403)"

# The guest's status socket: root only, even when it is reachable.
in_vm "$PH_GUEST" -s "$GSTATUS" status | grep -q "0.0.0.0:$P .* rewritten" ||
    fail "porthole-guest status as root: $(in_vm "$PH_GUEST" -s \
    "$GSTATUS" status 2>&1)"
expect_fail "permission denied" in_vm setpriv --reuid="$U" --regid="$U" \
    --clear-groups "$UGUEST" -s "$GSTATUS" status
chmod 0666 "$GSTATUS"
expect_fail "refused \(only root" in_vm setpriv --reuid="$U" --regid="$U" \
    --clear-groups "$UGUEST" -s "$GSTATUS" status
chmod 0700 "$T"
pass "porthole-guest status: root sees the verdicts, another user is refused"

# An agent run by that user, with the default socket.
mkdir -m 0700 "$UDIR/xdg" "$UDIR/run"
chown "$U" "$UDIR/run"
chown "$U" "$UDIR/xdg"
bg uhost setpriv --reuid="$U" --regid="$U" --clear-groups env \
    XDG_RUNTIME_DIR="$UDIR/xdg" "$UHOST" -d -l "unix:$UDIR/run/v.sock"
wait_for 5 "the user's agent" test -S "$UDIR/xdg/porthole/api.sock"
[ "$(stat -c '%a %U' "$UDIR/xdg/porthole")" = "700 $U" ] &&
    [ "$(stat -c '%a %U' "$UDIR/xdg/porthole/api.sock")" = "600 $U" ] ||
    fail "modes: $(stat -c '%n %a %U' "$UDIR/xdg/porthole"{,/api.sock})"
as_user env XDG_RUNTIME_DIR="$UDIR/xdg" "$UCTL" status |
    grep -q "api: *unix:$UDIR/xdg/porthole/api.sock" ||
    fail "portholectl as the user did not find its agent"
"$PH_CTL" -a "$UDIR/xdg/porthole/api.sock" policy | grep -q loopback ||
    fail "root may not use the user's agent"
# A second agent of the same user leaves the default socket to the first.
bg uhost2 setpriv --reuid="$U" --regid="$U" --clear-groups env \
    XDG_RUNTIME_DIR="$UDIR/xdg" "$UHOST" -d -l "unix:$UDIR/run/v2.sock"
wait_for 5 "the second agent" grep -q "API disabled: another process" \
    "$T/uhost2.log"
kill -0 "$LAST_PID" || fail "the second agent did not keep running"
pass "a user's agent: $UDIR/xdg/porthole/api.sock, 0600 in 0700, found by default"

# Without XDG_RUNTIME_DIR: /tmp/porthole-UID, as tmux does.
bg uhost3 setpriv --reuid="$U" --regid="$U" --clear-groups --reset-env \
    "$UHOST" -d -l "unix:$UDIR/run/v3.sock"
wait_for 5 "the third agent" test -S "/tmp/porthole-$UID2/api.sock"
[ "$(stat -c %a "/tmp/porthole-$UID2")" = 700 ] || fail "/tmp dir mode"
as_user "$UCTL" policy | grep -q loopback || fail "default /tmp socket"
# A directory others can enter is refused for the socket.
mkdir -m 0755 "$UDIR/open"
expect_fail "can be entered by others \(mode 0755\)" \
    "$PH_HOST" -d -l "unix:$T/v4.sock" -a "unix:$UDIR/open/api.sock"
pass "no XDG_RUNTIME_DIR: /tmp/porthole-$UID2; open directories refused"
