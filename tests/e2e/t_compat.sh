#!/bin/bash
# Agents of different versions work together: each agent speaks the
# highest protocol both know, and a feature the other side lacks is left
# out, not sent.  The older agents are the real ones: built from this
# repository's history (git archive of the commit, cached in
# .cache/compat/COMMIT), one per earlier protocol version that matters:
#   d1a4fa6  protocol 4 (stream reuse), the last before guest Unix sockets
#   149ec31  protocol 5 (guest Unix sockets), the last before reverse
#            forwards
# For each: today's host, with a reverse forward (-R) to offer, serves
# the old guest (its forward carries HTTP, the session runs at the old
# version, and the list of reverse forwards is never sent to it); and the
# old host serves today's guest, whose TCP forward works while its Unix
# socket (-x) is forwarded from protocol 5 on and held back with a
# warning before, instead of being sent to a host that would end the
# session on it.  Skipped (77) where the history is not there (an export
# of the tree, not a clone).
. "$(dirname "$0")/lib.sh"

COMPAT=(d1a4fa6:4 149ec31:5)
UNIXHTTP=$PH_ROOT/tests/tools/unixhttp.py

# old_agents COMMIT: OLD, the directory holding that commit's two
# agents, built once (a second run finds them; a failed build leaves
# nothing).  Not in a subshell: its skip and fail end the test.
old_agents() {
	local rev=$1 dir=$PH_ROOT/.cache/compat/$1
	if [ ! -x "$dir/host-agent/porthole-host" ] ||
	    [ ! -x "$dir/guest-agent/porthole-guest" ]; then
		git -C "$PH_ROOT" cat-file -e "$rev^{commit}" 2>/dev/null ||
		    skip "commit $rev is not in this tree's history (no clone)"
		rm -rf "$dir.tmp.$$"
		mkdir -p "$dir.tmp.$$"
		git -C "$PH_ROOT" archive "$rev" | tar -x -C "$dir.tmp.$$" ||
		    fail "git archive $rev"
		# Plain builds whatever make runs this test (SANITIZE=1 in
		# MAKEFLAGS would give valgrind's pass ASan agents to run).
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SANITIZE \
		    make -C "$dir.tmp.$$" -j2 host-agent/porthole-host \
		    guest-agent/porthole-guest >"$T/build-$rev.out" 2>&1 ||
		    fail "cannot build $rev: $(tail -n 5 "$T/build-$rev.out")"
		rm -rf "$dir"
		mv "$dir.tmp.$$" "$dir"
	fi
	OLD=$dir
}

# speaks LOG VERSION: the guest's log says the session runs at VERSION.
speaks() {
	grep -q "connected to host .*protocol $2[,)]" "$1"
}

port=$(free_port)
vm_create
vm_http web 127.0.0.1 "$port"
mkdir -p "$T/vm"
APP=$T/vm/app.sock
bg app ip netns exec "$NS" "$PY" "$UNIXHTTP" "$APP"
wait_for 10 "the guest's Unix server" test -S "$APP"
forwarded() { curl -sf --max-time 2 "http://127.0.0.1:$port/" | grep -q "hello from the guest"; }

# one_session LOG: the guest connected once, and neither side saw a
# protocol error (a feature sent to a peer too old for it ends a session).
one_session() {
	[ "$(grep -c "connected to host" "$T/guest.log")" = 1 ] ||
	    fail "the guest reconnected: $(grep -E "connected|lost|closed" "$T/guest.log")"
	! grep -qi "protocol error" "$T/host.log" "$T/guest.log" ||
	    fail "a protocol error: $(grep -hi "protocol error" "$T/host.log" "$T/guest.log")"
}

reach_port=$(free_port)
for entry in "${COMPAT[@]}"; do
	rev=${entry%%:*} version=${entry#*:}
	old_agents "$rev"
	old=$OLD
	"$old/host-agent/porthole-host" -V | grep -q "(protocol $version)" ||
	    fail "$rev does not speak protocol $version"

	# Today's host, with a reverse forward to offer; the old guest.
	start_host -R "127.0.0.1:$reach_port"
	PH_GUEST=$old/guest-agent/porthole-guest start_guest -N compat
	wait_for 10 "the old guest's forward" forwarded
	speaks "$T/guest.log" "$version" ||
	    fail "the session does not run at protocol $version: $(grep connected "$T/guest.log")"
	forwarded || fail "the forward went"
	one_session
	# An older guest skips a frame it does not know (logged with -v):
	# none may come.
	! grep -q "unknown frame type" "$T/guest.log" ||
	    fail "the host sent the old guest $(grep -c "unknown frame type" "$T/guest.log") frames it does not know"
	pass "today's host serves a guest of protocol $version ($rev): HTTP through its forward, no reverse forwards sent"
	stop_agents "old-guest-$rev"

	# The old host; today's guest, with a Unix socket to forward.
	sockdir=()
	[ "$version" -lt 5 ] || sockdir=(-S "$SOCKDIR")
	bg host "${PH_WRAP[@]}" "$old/host-agent/porthole-host" -d -v \
	    -l "unix:$SOCK" -a "unix:$API" "${sockdir[@]}"
	HOST_PID=$LAST_PID
	AGENTS+=("$HOST_PID")
	wait_for 5 "the old host agent's socket" test -S "$SOCK"
	start_guest -N compat -R "$T/vmrun" -x "$APP=app"
	wait_for 10 "the forward through the old host" forwarded
	speaks "$T/guest.log" "$version" ||
	    fail "the session does not run at protocol $version: $(grep connected "$T/guest.log")"
	if [ "$version" -lt 5 ]; then
		wait_for 10 "the guest to hold its socket back" grep -q \
		    "host speaks protocol $version: Unix sockets ($APP) are not forwarded" \
		    "$T/guest.log"
		what="its Unix socket held back with a warning"
	else
		wait_for 10 "the guest's socket on the host" \
		    test -S "$SOCKDIR/compat/app.sock"
		out=$(curl -sS --max-time "$(ph_secs 10)" --unix-socket \
		    "$SOCKDIR/compat/app.sock" http://vm/hello) ||
		    fail "curl --unix-socket through the old host"
		[ "$out" = "hello from the guest socket" ] ||
		    fail "GET /hello through the old host: $out"
		what="its Unix socket forwarded"
	fi
	forwarded || fail "the forward went"
	one_session
	pass "a host of protocol $version ($rev) serves today's guest: $what"
	stop_agents "old-host-$rev"
done
