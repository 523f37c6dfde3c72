#!/bin/bash
# portholectl and porthole-notify check the default API socket's
# directory as porthole-host does before they connect: /tmp/porthole-UID
# must be the user's and closed to others.  Two users, made for this
# test and removed after it: V runs the clients, A gets to
# /tmp/porthole-<V's uid> first and serves a fake agent there that
# records every connection.  V's clients refuse it and never connect;
# V's own agent, in the directory it makes, is found.
. "$(dirname "$0")/lib.sh"

V=phv$$ A=pha$$
UDIR=
VDIR=
cleanup_users() {	# from ph_cleanup, once their processes are gone
	[ -n "$UDIR" ] && rm -rf "$UDIR"
	[ -n "$VDIR" ] && rm -rf "$VDIR"
	userdel "$V" 2>/dev/null || true
	userdel "$A" 2>/dev/null || true
}
ph_at_exit cleanup_users
for u in "$V" "$A"; do
	useradd --system --no-create-home --shell /usr/sbin/nologin "$u" ||
	    skip "cannot create a user"
done
VUID=$(id -u "$V") AUID=$(id -u "$A")
VDIR=/tmp/porthole-$VUID
rm -rf "$VDIR"		# a uid reused from an earlier run's user
# The programs, where the other users can surely run them.
UDIR=$(mktemp -d /tmp/ph-user.XXXXXX)
chmod 0755 "$UDIR"
mkdir "$UDIR/bin"
cp "$PH_HOST" "$PH_CTL" "$PH_ROOT/contrib/porthole-notify" "$UDIR/bin/"
# Commands as V or A, without $XDG_RUNTIME_DIR.  Not a function: bg
# must start the program itself, for its pid to be the program's.
AS_V=(setpriv --reuid="$V" --regid="$V" --clear-groups --reset-env)
AS_A=(setpriv --reuid="$A" --regid="$A" --clear-groups --reset-env)

# A's fake agent: a socket anybody can reach, in a directory anybody can
# enter, answering every request with an error of A's choosing.
mkdir -m 0755 "$VDIR"
chown "$A" "$VDIR"
bg fake "${AS_A[@]}" "$PY" -u -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen()
while True:
    c, _ = s.accept()
    print("connection:", c.recv(4096).split(b"\r\n")[0].decode(),
          flush=True)
    c.sendall(b"HTTP/1.0 500 Fake\r\n\r\n{\"error\": \"from uid %d\"}"
              % os.getuid())
    c.close()' "$VDIR/api.sock"
FAKE_PID=$LAST_PID
wait_for 5 "A's fake agent" test -S "$VDIR/api.sock"
theirs="not connecting to $VDIR/api.sock: $VDIR belongs to uid $AUID, "
theirs+="not to us \\($VUID\\)"
connections() { grep -c "^connection:" "$T/fake.log" || true; }

for cmd in status ls events policy "policy allow"; do
	# shellcheck disable=SC2086	# the command's words
	expect_fail "^portholectl: $theirs$" \
	    "${AS_V[@]}" "$UDIR/bin/portholectl" $cmd
done
expect_fail "^porthole-notify: $theirs$" \
    "${AS_V[@]}" "$PY" "$UDIR/bin/porthole-notify"
[ "$(connections)" = 0 ] ||
    fail "a client connected to A's socket: $(cat "$T/fake.log")"
# The fake is real: named with -a, the path is the user's choice, and
# the fake answers.
expect_fail "^portholectl: /v1/forwards: from uid $AUID$" \
    "${AS_V[@]}" "$UDIR/bin/portholectl" -a "$VDIR/api.sock" ls
[ "$(connections)" = 1 ] || fail "the fake did not see -a: $(cat \
    "$T/fake.log")"
pass "another user's /tmp/porthole-$VUID: refused, never connected to"

# V's own directory, open to others: refused the same way.
kill_wait KILL "$FAKE_PID"
rm -rf "$VDIR"
mkdir -m 0755 "$VDIR"
chown "$V" "$VDIR"
open="not connecting to $VDIR/api.sock: $VDIR can be entered by others "
open+="\\(mode 0755\\)"
expect_fail "^portholectl: $open" \
    "${AS_V[@]}" "$UDIR/bin/portholectl" status
expect_fail "^porthole-notify: $open$" \
    "${AS_V[@]}" "$PY" "$UDIR/bin/porthole-notify"
# No directory: no agent, as before.
rmdir "$VDIR"
expect_fail "^portholectl: porthole-host is not running \\(no API at \
$VDIR/api.sock\\)$" \
    "${AS_V[@]}" "$UDIR/bin/portholectl" ls
pass "an open directory refused; a missing one is no agent"

# The right directory: V's agent makes it 0700, and V's clients use it.
mkdir -m 0700 "$UDIR/run"
chown "$V" "$UDIR/run"
bg vhost "${AS_V[@]}" "$UDIR/bin/porthole-host" -d \
    -l "unix:$UDIR/run/v.sock"
AGENTS+=("$LAST_PID")
wait_for 5 "V's agent" test -S "$VDIR/api.sock"
[ "$(stat -c '%a %U' "$VDIR")" = "700 $V" ] ||
    fail "the agent made $(stat -c '%a %U' "$VDIR")"
"${AS_V[@]}" "$UDIR/bin/portholectl" status >"$T/status" 2>&1 ||
    fail "portholectl status: $(cat "$T/status")"
grep -q "api: *unix:$VDIR/api.sock" "$T/status" ||
    fail "portholectl status said: $(cat "$T/status")"
"${AS_V[@]}" "$UDIR/bin/portholectl" policy | grep -q loopback ||
    fail "portholectl policy as $V"
bg vnotify "${AS_V[@]}" "$PY" "$UDIR/bin/porthole-notify"
streams() {
	[ "$("${AS_V[@]}" "$UDIR/bin/portholectl" -j status |
	    json 'd["event_clients"]')" = 1 ]
}
wait_for 5 "porthole-notify to follow V's agent" streams
pass "V's own 0700 directory: portholectl and porthole-notify connect"
