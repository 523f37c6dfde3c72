#!/bin/bash
# When binds are seen: with the listen trigger (BPF) a bind in the VM is
# on the host in milliseconds (a figure: the poll is made too slow to see
# any, so that every bind seen was the trigger's), so is a Unix socket
# made in the VM after the agents are up (the trigger's Unix half), and
# binds and Unix listens in other network namespaces wake nobody; the
# poll alone (-w none) still works; a trigger that cannot work here (-w
# exec, outside the initial namespace) is a clear error.
. "$(dirname "$0")/lib.sh"

PHBENCH=$PH_ROOT/bench/tools/phbench
UNIXHTTP=$PH_ROOT/tests/tools/unixhttp.py
port=$(free_port)
mkdir -p "$T/vm"
APP=$T/vm/app.sock HAPP=$SOCKDIR/bw-vm/app.sock
vm_create
start_host
# ip netns exec mounts a sysfs of its own, without the tracefs a VM's
# init mounts on it (the Unix half's second way needs it): mounted again,
# in the private mount namespace ip netns exec made for the guest.
tracefs=(sh -c 'mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
    exec "$@"' sh)
PH_WRAP=("${tracefs[@]}" "${PH_WRAP[@]}")
# The poll at an hour: only the trigger sees binds.
start_guest -S 3600000 -N bw-vm -x "$APP"
grep -q "watching binds: trigger listen" "$T/guest.log" ||
    skip "the listen trigger does not load here: $(grep 'watching binds' "$T/guest.log")"

# phbench binds in the VM and times the host port from listen() on.
out=$("$PHBENCH" bindlat "$NS" "$port" 20) || fail "bindlat: $out"
read -r _ n med p99 _ umed _ _ timeouts <<<"$out"
[ "$n" = 20 ] && [ "$timeouts" = 0 ] ||
    fail "binds not all seen by the trigger: $out"
pass "listen trigger: 20 binds seen on the host after a median of $med ms (p99 $p99), unbinds $umed ms"

# A Unix socket listening in the VM, after the first scan: only the
# trigger's Unix half (a BPF program on unix_listen) can show it.
if grep -q "Unix listen trigger: .*wait for a scan" "$T/guest.log"; then
	echo "note: $(grep 'Unix listen trigger' "$T/guest.log" | head -1)"
else
	bg app ip netns exec "$NS" "$PY" "$UNIXHTTP" "$APP"
	wait_for 30 "the VM's Unix socket on the host" test -S "$HAPP"
	pass "listen trigger: a Unix socket made in the VM is on the host with no poll"
fi

# Binds in another namespace (here: the root one) cost the guest nothing.
restart_guest() {
	kill_wait TERM "$GUEST_PID"
	: >"$T/guest.log"
	start_guest "$@"
}
# The bind events of a guest since it started, as it logged them when
# it stopped (kill_wait: not in a subshell, which cannot wait for it).
logged_events() {
	sed -n 's/.*bind scans: [0-9]*, after \([0-9]*\) events.*/\1/p' \
	    "$T/guest.log"
}
few() { [ -n "$1" ] && [ "$1" -ge 1 ] && [ "$1" -le 4 ]; }
restart_guest
# 20 binds, 20 ms apart: without the namespace filter each would wake
# the guest (they are far enough apart not to be folded into one).
"$PY" -c "
import socket, time
for i in range(20):
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen()
    s.close()
    u = socket.socket(socket.AF_UNIX)
    u.bind('\\0porthole-bindwatch-%d' % i)
    u.listen()
    u.close()
    time.sleep(0.02)"
"$PHBENCH" bindlat "$NS" "$port" 1 >/dev/null || fail "bindlat in the VM"
kill_wait TERM "$GUEST_PID"
events=$(logged_events)
few "$events" ||
    fail "20 binds elsewhere and 1 in the VM made ${events:-?} events"
pass "binds in another network namespace: no events (1 bind and unbind in the VM: $events)"

# Connections a server in the VM takes cost the guest nothing either:
# each starts as a clone of the listener that leaves LISTEN (for
# SYN_RECV), which woke a scan per connection, a busy server's guest
# scanning at the storm cap.  One listener, 20 connections 20 ms apart.
restart_guest
in_vm "$PY" -c "
import socket, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen()
for i in range(20):
    c = socket.create_connection(s.getsockname())
    a, _ = s.accept()
    a.close()
    c.close()
    time.sleep(0.02)
s.close()"
kill_wait TERM "$GUEST_PID"
events=$(logged_events)
few "$events" ||
    fail "1 listener and 20 connections in the VM made ${events:-?} events"
pass "connections accepted in the VM: no events (1 listen and close: $events)"

: >"$T/guest.log"
start_guest -w none -S 50
grep -q "watching binds: trigger none, scans every 50 ms" "$T/guest.log" ||
    fail "-w none -S 50: $(grep 'watching binds' "$T/guest.log")"
out=$("$PHBENCH" bindlat "$NS" "$port" 5) || fail "bindlat: $out"
read -r _ n med _ _ _ _ _ timeouts <<<"$out"
[ "$n" = 5 ] && [ "$timeouts" = 0 ] || fail "-w none: binds not all seen: $out"
pass "-w none -S 50: binds seen after a median of $med ms"

kill_wait TERM "$GUEST_PID"
set +e
ip netns exec "$NS" "$PH_GUEST" -d -c "unix:$SOCK" -w exec >"$T/exec.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "cannot watch for binds with trigger exec" \
    "$T/exec.log" || fail "-w exec in a network namespace: exit $rc: $(tail -1 "$T/exec.log")"
pass "-w exec outside the initial network namespace: one clear error, exit 1"
