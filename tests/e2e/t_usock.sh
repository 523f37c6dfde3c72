#!/bin/bash
# Guest Unix sockets on the host (protocol 5).  A Python HTTP server on
# a Unix socket in the simulated VM, forwarded with -x, is reached on the
# host with curl --unix-socket at SOCKDIR/GUEST/NAME.sock (0600, in 0700
# directories), under --loopback-only, which does not refuse it: a 64 MiB
# body both ways, digests compared; half-close kept (the request's body
# ends with the client's EOF).  The socket goes from the host when the
# guest's server goes, and when the guest agent leaves.  A policy "refuse
# unix" rule refuses one, with the rule as the reason and no socket
# made.  A hostile guest's names with '/' or '..' are refused with a
# clear reason and nothing is made outside SOCKDIR; a guest of protocol
# 3 cannot expose a socket at all, and a name beyond the protocol's bound
# is a malformed frame.  A second, non-root user's rootless engine
# sockets are forwarded, but its links to root's sockets are not.  A
# socket takes a slot under max-forwards.
. "$(dirname "$0")/lib.sh"

GNAME=usock-vm
UNIXHTTP=$PH_ROOT/tests/tools/unixhttp.py
EVIL=$PH_ROOT/tests/tools/evilguest.py
mkdir -p "$T/vm"
APP=$T/vm/app.sock SECRET=$T/vm/secret.sock
HAPP=$SOCKDIR/$GNAME/app.sock HSECRET=$SOCKDIR/$GNAME/secret.sock

cat >"$T/policy" <<EOP
guest "$GNAME" {
	refuse unix secret*
}
EOP

vm_create
start_host -L -f "$T/policy"
bg app ip netns exec "$NS" "$PY" "$UNIXHTTP" "$APP"
APP_PID=$LAST_PID
bg secret ip netns exec "$NS" "$PY" "$UNIXHTTP" "$SECRET"
wait_for 10 "the guest's servers" test -S "$APP" -a -S "$SECRET"
start_guest -N "$GNAME" -x "$APP" -x "$SECRET=secret-db"

# The socket appears on the host, 0600 in directories only we can enter.
wait_for 10 "the guest socket on the host" test -S "$HAPP"
[ "$(stat -c %a "$HAPP")" = 600 ] || fail "socket mode $(stat -c %a "$HAPP")"
[ "$(stat -c %a "$SOCKDIR")" = 700 ] && [ "$(stat -c %a "$SOCKDIR/$GNAME")" = 700 ] ||
    fail "directory modes $(stat -c %a "$SOCKDIR" "$SOCKDIR/$GNAME")"
out=$(curl -sS --max-time "$(ph_secs 10)" --unix-socket "$HAPP" http://vm/hello) ||
    fail "curl --unix-socket $HAPP"
[ "$out" = "hello from the guest socket" ] || fail "GET /hello: $out"
pass "socket forwarded to $HAPP (0600, 0700 dirs) under -L: GET answered"

# 64 MiB both ways, through the same relay as TCP.
head -c $((64 << 20)) /dev/urandom >"$T/blob"
want=$(sha256sum <"$T/blob" | cut -d' ' -f1)
curl -sS --max-time "$(ph_secs 120)" --unix-socket "$HAPP" -D "$T/headers" \
    --data-binary "@$T/blob" -H "Content-Type: application/octet-stream" \
    -o "$T/back" http://vm/echo || fail "POST 64 MiB"
got_there=$(awk -F': ' 'tolower($1) == "x-sha256" { print $2 }' "$T/headers" | tr -d '\r')
got_back=$(sha256sum <"$T/back" | cut -d' ' -f1)
[ "$got_there" = "$want" ] || fail "to the guest: digest $got_there, sent $want"
[ "$got_back" = "$want" ] || fail "back from the guest: digest $got_back, sent $want"
rm -f "$T/blob" "$T/back"
pass "64 MiB to the guest socket and back, SHA-256 equal both ways"

# The API and portholectl list it, with a DOCKER_HOST line.
api /v1/forwards >"$T/fw.json"
[ "$(json '[f["host_path"] for f in d if f["proto"] == "unix" and f["socket_name"] == "app"][0]' <"$T/fw.json")" = "$HAPP" ] ||
    fail "API: no host_path for app: $(cat "$T/fw.json")"
[ "$(json '[f["guest_path"] for f in d if f["socket_name"] == "app"][0]' <"$T/fw.json")" = "$APP" ] ||
    fail "API: guest_path: $(cat "$T/fw.json")"
ctl ls >"$T/ls.txt" || fail "portholectl ls"
grep -qE "^$GNAME +unix +$APP +$HAPP +bound " "$T/ls.txt" ||
    fail "portholectl ls has no row for the socket: $(cat "$T/ls.txt")"
grep -qx "DOCKER_HOST=unix://$HAPP	# guest $GNAME, socket app" "$T/ls.txt" ||
    fail "portholectl ls has no DOCKER_HOST line: $(cat "$T/ls.txt")"
pass "GET /v1/forwards and portholectl ls list the socket, with DOCKER_HOST"

# The policy refuses secret-db: said, with its rule; nothing on the host.
sec() { api /v1/forwards | json '[f["verdict"] + " " + str(f["code"]) + " " + f["reason"] for f in d if f["socket_name"] == "secret-db"][0]'; }
wait_for 10 "the verdict on secret-db" sec
case $(sec) in
"refused rule refused by line 2 (guest $GNAME): refuse unix secret*") ;;
*) fail "secret-db: $(sec)" ;;
esac
[ ! -e "$HSECRET" ] && [ ! -e "$SOCKDIR/$GNAME/secret-db.sock" ] ||
    fail "a refused socket was made"
pass "refuse unix secret*: refused with its rule, no socket made"

# A user's rootless engine sockets (defaults: /run/user/UID/docker.sock
# and podman/podman.sock), made by a second, non-root user in the VM,
# are forwarded and answer.  Then the user swaps docker.sock for a
# symbolic link to a socket of root's, and the podman directory for a
# link to a directory holding root's podman.sock: the host's clients
# are refused (the link itself: ELOOP; the link on the way: the socket
# is root's, not the user's), and root's servers get no request.
U=phus$$
UID_= UDIR=
cleanup_user() {
	[ -n "$UDIR" ] && rm -rf "$UDIR"
	id "$U" >/dev/null 2>&1 && userdel "$U" 2>/dev/null || true
}
ph_at_exit cleanup_user
useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
    skip "cannot create a user"
UID_=$(id -u "$U")
[ ! -e "/run/user/$UID_" ] || fail "/run/user/$UID_ exists already"
mkdir -p /run/user
UDIR=/run/user/$UID_
mkdir -m 0700 "$UDIR" && chown "$U:" "$UDIR"
as_user() { ip netns exec "$NS" setpriv --reuid="$U" --regid="$U" \
    --clear-groups --reset-env "$@"; }
as_user mkdir "$UDIR/podman"
bg udocker as_user "$PY" "$UNIXHTTP" "$UDIR/docker.sock"
bg upodman as_user "$PY" "$UNIXHTTP" "$UDIR/podman/podman.sock"
mkdir -p "$T/vm/rootd" "$T/vm/rootp"
bg rootd ip netns exec "$NS" "$PY" "$UNIXHTTP" "$T/vm/rootd/docker.sock"
bg rootp ip netns exec "$NS" "$PY" "$UNIXHTTP" "$T/vm/rootp/podman.sock"
HUD=$SOCKDIR/$GNAME/docker-$UID_.sock HUP=$SOCKDIR/$GNAME/podman-$UID_.sock
wait_for 10 "the user's sockets on the host" test -S "$HUD" -a -S "$HUP"
wait_for 10 "root's sockets in the VM" test -S "$T/vm/rootd/docker.sock" \
    -a -S "$T/vm/rootp/podman.sock"
for h in "$HUD" "$HUP"; do
	out=$(curl -sS --max-time "$(ph_secs 10)" --unix-socket "$h" \
	    http://vm/hello) || fail "curl --unix-socket $h"
	[ "$out" = "hello from the guest socket" ] || fail "GET /hello at $h: $out"
done
as_user ln -sfn "$T/vm/rootd/docker.sock" "$UDIR/docker.sock"
as_user mv "$UDIR/podman" "$UDIR/podman.old"
as_user ln -s "$T/vm/rootp" "$UDIR/podman"
for h in "$HUD" "$HUP"; do
	! curl -sS --max-time "$(ph_secs 10)" --unix-socket "$h" \
	    http://vm/hello >"$T/swapped.out" 2>&1 ||
	    fail "a user's link reached root's socket through $h: $(cat "$T/swapped.out")"
done
log_has guest "Too many levels of symbolic links" ||
    fail "the guest did not refuse the link: $(grep -i link "$T/guest.log")"
log_has guest "$UDIR/podman/podman.sock: the socket file is uid 0, not the directory's user $UID_: refused" ||
    fail "the guest did not refuse root's listener: $(grep privsep "$T/guest.log")"
! grep -q GET "$T/rootd.log" "$T/rootp.log" || fail "root's servers were asked"
pass "a user's rootless sockets forwarded; swapped for links to root's: refused, root's servers never asked"

# The guest's server goes: so does the host's socket.
kill_wait TERM "$APP_PID"
wait_for 10 "the host socket to go" test ! -e "$HAPP"
log_has guest "socket gone: $APP" || fail "the guest did not log the socket gone"
pass "the guest's server exits: the host socket is removed"

# Back, then the guest agent leaves: gone again, and its directory.
bg app2 ip netns exec "$NS" "$PY" "$UNIXHTTP" "$APP"
APP2_PID=$LAST_PID
wait_for 10 "the host socket again" test -S "$HAPP"
kill_wait TERM "$GUEST_PID"
wait_for 10 "the host socket to go with the guest" test ! -e "$HAPP"
wait_for 10 "the guest's directory to go" test ! -e "$SOCKDIR/$GNAME"
pass "the guest agent leaves: its sockets and directory are removed"

# A hostile guest: names that would climb out are refused, with why.
for name in ../escape a/b .. .hidden "sp ace" x..y; do
	got=$("$PY" "$EVIL" "$SOCK" expose-unix "$name") || fail "evilguest"
	[ "$got" = "exposed refused" ] || fail "name '$name': $got"
done
wait_for 5 "the host to log the reason" grep -q \
    "socket name \"../escape\" refused: starts with '.' or '-'" "$T/host.log"
grep -q "socket name \"a/b\" refused: holds '/'" "$T/host.log" ||
    fail "no clear reason for a/b: $(grep 'a/b' "$T/host.log")"
[ -z "$(find "$T" "$SOCKDIR" -name '*escape*' -o -name 'b.sock' 2>/dev/null)" ] ||
    fail "a file was made for a refused name"
# Longer than the protocol's bound (47): a malformed frame, as any.
got=$("$PY" "$EVIL" "$SOCK" expose-unix "$(printf 'x%.0s' {1..60})") ||
    fail "evilguest"
[ "$got" = "error 1" ] || fail "a 60-character name: $got"
got=$("$PY" "$EVIL" "$SOCK" expose-unix fine-name) || fail "evilguest"
[ "$got" = "exposed bound" ] || fail "a good name from the evil guest: $got"
got=$("$PY" "$EVIL" "$SOCK" expose-unix-v3 fine-name) || fail "evilguest"
[ "$got" = "exposed failed" ] || fail "a protocol 3 guest's socket: $got"
kill -0 "$HOST_PID" || fail "the host agent died"
pass "'/', '..' and other bad names refused with a reason; nothing outside SOCKDIR; protocol 3 cannot expose one"

# A socket takes a slot under max-forwards as a port does: with one slot
# and two sockets, one is made and the other refused with the limit.
stop_agents hostile
OTHER=$T/vm/other.sock
bg other ip netns exec "$NS" "$PY" "$UNIXHTTP" "$OTHER"
OTHER_PID=$LAST_PID
wait_for 10 "the second server" test -S "$OTHER"
start_host --max-forwards 1 -l "unix:$T/other-vm.sock"
start_guest -N "$GNAME" -x none -x "$APP" -x "$OTHER=other"
verdicts() {
	api /v1/forwards | json '" ".join(sorted(f["verdict"] + ":" + str(f["code"]) for f in d if f["proto"] == "unix"))'
}
wait_for 10 "both sockets decided" eval '[ "$(verdicts)" = "bound:None refused:limit" ]'
api /v1/forwards | json '[f["reason"] for f in d if f["verdict"] == "refused"][0]' |
    grep -q "^max-forwards 1 reached for this guest" ||
    fail "the refusal's reason: $(api /v1/forwards)"
[ "$(find "$SOCKDIR/$GNAME" -name '*.sock' | wc -l)" = 1 ] ||
    fail "sockets made under max-forwards 1: $(ls "$SOCKDIR/$GNAME")"
# The refused one waits for the slot, as a port does: the made one's
# server goes, and the other is made.
bound=$(api /v1/forwards | json '[f["socket_name"] for f in d if f["verdict"] == "bound"][0]')
case $bound in
app) kill_wait TERM "$APP2_PID"; waiting=other ;;
other) kill_wait TERM "$OTHER_PID"; waiting=app ;;
*) fail "bound: '$bound'" ;;
esac
wait_for 10 "the waiting socket made" test -S "$SOCKDIR/$GNAME/$waiting.sock"
pass "max-forwards 1: one of two guest sockets made, the other refused with the limit, then made when the slot is free"

# A guest names itself: another one (its own endpoint) claiming this
# guest's name may not place a socket in its directory, whether the name
# is free there or not, and is told whose it is.
got=$("$PY" "$EVIL" "$T/other-vm.sock" expose-unix-as "$GNAME:docker") ||
    fail "evilguest"
[ "$got" = "exposed refused" ] || fail "another guest as $GNAME: $got"
log_has host "directory of guest name \"$GNAME\" belongs to another guest (unix:$SOCK, cid 0)" ||
    fail "the refusal does not say whose the directory is: $(grep -i directory "$T/host.log")"
[ ! -e "$SOCKDIR/$GNAME/docker.sock" ] || fail "the impostor's socket was made"
got=$("$PY" "$EVIL" "$T/other-vm.sock" expose-unix-as "other-vm:docker") ||
    fail "evilguest"
[ "$got" = "exposed bound" ] || fail "the other guest under its own name: $got"
pass "a guest claiming this guest's name cannot place a socket in its directory; under its own name it can"
