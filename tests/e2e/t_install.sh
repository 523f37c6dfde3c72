#!/bin/bash
# make install DESTDIR=... puts every file where a distribution would,
# with the right modes and the install paths written into the contrib
# files; nothing else is installed; the programs run and the man pages are
# found from there; the systemd units verify; make uninstall takes it all
# away again.  The binaries are the ones make check built (-o all): this
# test never rebuilds them with other flags.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL
R=$T/root
mk() {
	make -C "$PH_ROOT" --no-print-directory -o all "$@"
}

# The files, and their modes, that install must put in place: the ones
# of issues still to land are expected as soon as their sources exist.
expected() {
	echo "755 usr/local/bin/porthole-host"
	[ -e "$PH_ROOT/ctl/portholectl.c" ] &&
	    echo "755 usr/local/bin/portholectl"
	echo "755 usr/local/sbin/porthole-guest"
	echo "755 usr/local/libexec/porthole-docker-proxy"
	echo "644 usr/local/share/man/man8/porthole-host.8"
	echo "644 usr/local/share/man/man8/porthole-guest.8"
	echo "644 usr/local/share/man/man8/porthole-docker-proxy.8"
	[ -e "$PH_ROOT/docs/portholectl.1" ] &&
	    echo "644 usr/local/share/man/man1/portholectl.1"
	[ -e "$PH_ROOT/docs/porthole-policy.5" ] &&
	    echo "644 usr/local/share/man/man5/porthole-policy.5"
	echo "644 usr/local/lib/systemd/system/porthole-guest.service"
	echo "644 usr/local/lib/systemd/user/porthole-host.service"
	echo "755 etc/init.d/porthole-guest"
	echo "644 usr/local/lib/sysusers.d/porthole.conf"
	echo "644 usr/local/share/doc/porthole/README.md"
	for p in "$PH_ROOT"/docs/*.md; do
		echo "644 usr/local/share/doc/porthole/docs/${p##*/}"
	done
	echo "644 usr/local/share/doc/porthole/examples/inittab"
	echo "644 usr/local/share/doc/porthole/examples/porthole-guest.confd"
	echo "644 usr/local/share/doc/porthole/examples/porthole-notify"
}

installed() {
	(cd "$R" && find . ! -type d -printf '%m %P\n' | sort)
}

mk install DESTDIR="$R" >"$T/install.log" 2>&1 ||
    fail "make install: $(tail -5 "$T/install.log")"
diff <(expected | sort) <(installed) >"$T/install.diff" ||
    fail "installed files differ (< expected, > installed):
$(cat "$T/install.diff")"
pass "make install DESTDIR: $(installed | wc -l) files, each with its mode"

grep -rl '@[A-Z]*DIR@' "$R" && fail "an @PATH@ was left in an installed file"

# The README and the pages link each other relatively: each link to a
# page must find it where they are installed.
D=$R/usr/local/share/doc/porthole
for f in "$D"/README.md "$D"/docs/*.md; do
	for l in $(grep -o '](\([^)#:]*\.md\)' "$f" | sed 's/^](//'); do
		[ -f "$(dirname "$f")/$l" ] ||
		    fail "${f#"$D"/} links $l, not installed there"
	done
done
pass "the installed README and pages find each page they link"

grep -qx "ExecStart=/usr/local/sbin/porthole-guest \$PORTHOLE_GUEST_OPTS" \
    "$R/usr/local/lib/systemd/system/porthole-guest.service" ||
    fail "the guest unit does not start /usr/local/sbin/porthole-guest"
grep -q "^ExecStart=/usr/local/bin/porthole-host -d --loopback-only " \
    "$R/usr/local/lib/systemd/user/porthole-host.service" ||
    fail "the host unit does not start porthole-host --loopback-only"
grep -qx 'command="/usr/local/sbin/porthole-guest"' \
    "$R/etc/init.d/porthole-guest" || fail "the OpenRC script's command"
grep -qx "::respawn:/usr/local/sbin/porthole-guest" \
    "$R/usr/local/share/doc/porthole/examples/inittab" ||
    fail "the inittab line"
sh -n "$R/etc/init.d/porthole-guest" || fail "the OpenRC script is not sh"
pass "the contrib files name the installed programs"

# The worker's user, as systemd-sysusers makes it from the installed file
# (in a root of its own, a copy: the files list above stays exact).
cp -a "$R" "$T/sysroot"
systemd-sysusers --root="$T/sysroot" \
    "$T/sysroot/usr/local/lib/sysusers.d/porthole.conf" >"$T/sysusers.log" 2>&1 ||
    fail "systemd-sysusers: $(cat "$T/sysusers.log")"
IFS=: read -r name _ uid gid _ _ shell < <(grep '^porthole:' "$T/sysroot/etc/passwd")
[ "$name" = porthole ] && [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] &&
    [ "$gid" -gt 0 ] && [ "$shell" = /usr/sbin/nologin ] ||
    fail "the sysusers file made: $(cat "$T/sysroot/etc/passwd")"
pass "the installed sysusers.d file makes the system user porthole" \
    "(uid $uid, no login) for the guest's worker"

"$R/usr/local/sbin/porthole-guest" -V | grep -q "^porthole-guest " ||
    fail "the installed porthole-guest does not run"
"$R/usr/local/bin/porthole-host" -V | grep -q "^porthole-host " ||
    fail "the installed porthole-host does not run"
for p in porthole-host porthole-guest portholectl porthole-policy; do
	f=$(find "$R/usr/local/share/man" -name "$p.[0-9]")
	[ -n "$f" ] || continue
	[ "$(man -M "$R/usr/local/share/man" -w "$p")" = "$f" ] ||
	    fail "man -M does not find $p"
	MANWIDTH=80 man -M "$R/usr/local/share/man" "$p" 2>/dev/null |
	    grep -q "^SEE ALSO" || fail "man $p does not render"
done
pass "the installed programs run, and man finds and renders each page"

# systemd-analyze verify checks every directive, that ExecStart= can be
# run and that man finds the Documentation= page: point it at $R.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/verify" "$T/xdg"
	chmod 700 "$T/xdg"
	for u in system/porthole-guest.service user/porthole-host.service; do
		sed "s|/usr/local/|$R/usr/local/|g" \
		    "$R/usr/local/lib/systemd/$u" >"$T/verify/${u#*/}"
	done
	export MANPATH=$R/usr/local/share/man
	out=$(systemd-analyze verify "$T/verify/porthole-guest.service" 2>&1) ||
	    fail "systemd-analyze verify porthole-guest.service: $out"
	[ -z "$out" ] || fail "systemd-analyze verify porthole-guest.service: $out"
	out=$(XDG_RUNTIME_DIR=$T/xdg systemd-analyze --user verify \
	    "$T/verify/porthole-host.service" 2>&1) ||
	    fail "systemd-analyze --user verify porthole-host.service: $out"
	[ -z "$out" ] || fail "systemd-analyze verify porthole-host.service: $out"
	unset MANPATH
	exposure=$(systemd-analyze security --offline=true \
	    "$T/verify/porthole-guest.service" 2>/dev/null |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]* [A-Z]*\).*/\1/p')
	pass "systemd-analyze verify: both units clean (guest exposure $exposure)"
else
	echo "     (no systemd-analyze here: units not verified)"
fi

mk uninstall DESTDIR="$R" >"$T/uninstall.log" 2>&1 ||
    fail "make uninstall: $(tail -5 "$T/uninstall.log")"
left=$(installed)
[ -z "$left" ] || fail "make uninstall left: $left"
[ ! -e "$R/usr/local/share/doc/porthole" ] ||
    fail "make uninstall left share/doc/porthole"
pass "make uninstall removes every file it installed"

# Another prefix, as a distribution package would build it.
R2=$T/root2
mk install DESTDIR="$R2" PREFIX=/usr >"$T/install2.log" 2>&1 ||
    fail "make install PREFIX=/usr failed"
grep -qx "ExecStart=/usr/sbin/porthole-guest \$PORTHOLE_GUEST_OPTS" \
    "$R2/usr/lib/systemd/system/porthole-guest.service" ||
    fail "PREFIX=/usr: the unit does not start /usr/sbin/porthole-guest"
[ -x "$R2/usr/bin/porthole-host" ] && [ -x "$R2/usr/sbin/porthole-guest" ] &&
    [ -x "$R2/etc/init.d/porthole-guest" ] || fail "PREFIX=/usr: files missing"
# The contrib files in the tree, back to the default prefix.
mk contrib >/dev/null 2>&1 || fail "make contrib failed"
pass "PREFIX=/usr: /usr/bin, /usr/sbin, /usr/lib/systemd, /etc/init.d"
