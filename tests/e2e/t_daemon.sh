#!/bin/bash
# porthole-guest -D, as an init without supervision runs it (OpenRC's
# start-stop-daemon, a busybox inittab line): the command returns once the
# agent is ready, with its pid file written and locked; the agent runs in
# its own session with its standard streams on /dev/null and logs to
# syslog; a second one is refused naming the first; SIGTERM stops it
# cleanly and removes the pid file.  The VM's /dev/log is a socket of the
# test's, put in a private mount namespace, so the real syslog lines are
# read.
. "$(dirname "$0")/lib.sh"

vm_create
start_host
port=$(free_port)
PIDF=$T/run/porthole-guest.pid
mkdir -p "$T/run" "$T/dev"

# A syslog daemon of our own: every datagram to $T/dev/log, one per line.
bg syslogd "$PY" -c "import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('$T/dev/log')
while True:
    print(s.recv(4096).decode(errors='replace'), flush=True)"
wait_for 5 "the test's syslog socket" test -S "$T/dev/log"

# in_vm_dev COMMAND...: in the VM, with /dev holding only null and log.
in_vm_dev() {
	unshare -m --propagation private sh -c '
	    touch "$0/dev/null" && mount --bind /dev/null "$0/dev/null" &&
	    mount --rbind "$0/dev" /dev && exec "$@"' "$T" \
	    ip netns exec "$NS" "$@"
}

set +e
out=$(in_vm_dev "$PH_GUEST" -D -v -p "$PIDF" -c "unix:$SOCK" 2>&1)
rc=$?
set -e
[ "$rc" = 0 ] || fail "porthole-guest -D exited $rc: $out"
[ -z "$out" ] || fail "porthole-guest -D printed '$out'"
# It returned once ready: the pid file is there already, no waiting.
[ -s "$PIDF" ] || fail "no pid file when porthole-guest -D returned"
pid=$(cat "$PIDF")
case $pid in
'' | *[!0-9]*) fail "pid file holds '$pid'" ;;
esac
PIDS+=("$pid")
kill -0 "$pid" || fail "pid $pid from the pid file is not running"
[ "$(readlink "/proc/$pid/exe")" = "$PH_GUEST" ] ||
    fail "pid $pid is not porthole-guest"
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] ||
    fail "the agent does not lead its own session"
for fd in 0 1 2; do
	[ "$(readlink "/proc/$pid/fd/$fd")" = /dev/null ] ||
	    fail "fd $fd is $(readlink "/proc/$pid/fd/$fd"), not /dev/null"
done
# / or, split (privsep.c), the worker's empty root: not where it started
case $(readlink "/proc/$pid/cwd") in
/ | /run/porthole-guest/empty) ;;
*) fail "cwd is $(readlink "/proc/$pid/cwd"), not / or the empty root" ;;
esac
pass "-D returns once ready: pid file $pid, own session, stdio on /dev/null"

wait_for 5 "the daemon's syslog line" grep -q \
    "porthole-guest\[$pid\]: connected to host unix:$SOCK" "$T/syslogd.log"
log_has host "connected, agent" || fail "the host saw no guest"
vm_http web 0.0.0.0 "$port"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
curl -sf "http://127.0.0.1:$port/" | grep -q "hello from the guest" ||
    fail "no HTTP through the daemon's forward"
# The line is on its way to the test's syslogd, perhaps not printed yet.
wait_for 5 "the verdict in syslog" grep -q \
    "porthole-guest\[$pid\]: tcp 0.0.0.0:$port: rewritten on host" \
    "$T/syslogd.log"
pass "the daemon forwards, and logs to syslog as porthole-guest[$pid]"

set +e
out=$(in_vm_dev "$PH_GUEST" -D -p "$PIDF" -c "unix:$SOCK" 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] || fail "a second -D on the same pid file exited $rc"
echo "$out" | grep -q "already running, pid $pid (pid file $PIDF)" ||
    fail "a second -D said '$out'"
[ "$(cat "$PIDF")" = "$pid" ] || fail "the second agent changed the pid file"
set +e
out=$(in_vm_dev "$PH_GUEST" -D -p "$T/no/such/dir/g.pid" \
    -c "unix:$SOCK" 2>&1)
rc=$?
out2=$("$PH_GUEST" -D -d -c "unix:$SOCK" 2>&1)
rc2=$?
set -e
[ "$rc" = 1 ] && echo "$out" | grep -q "pid file $T/no/such/dir/g.pid: No such" ||
    fail "an impossible pid file: exit $rc, '$out'"
[ "$rc2" = 2 ] && echo "$out2" | grep -q -- "-D: cannot be used with -d" ||
    fail "-D -d: exit $rc2, '$out2'"
pass "a second agent, a bad pid file path, -D -d: refused with one line"

kill -TERM "$pid"
gone() { ! kill -0 "$pid"; }
wait_for 5 "the daemon to exit on SIGTERM" gone
np=()		# it is gone: the clean-up must not signal a reused pid
for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || np+=("$p"); done
PIDS=("${np[@]}")
[ ! -e "$PIDF" ] || fail "the pid file is left after SIGTERM"
wait_for 5 "the exit line in syslog" grep -q \
    "porthole-guest\[$pid\]: SIGTERM received, exiting" "$T/syslogd.log"
wait_for 5 "the host to close the forward" \
    sh -c "! ss -Hltn | grep -q ':$port '"
log_has host "session ended" || fail "the host saw no session end"
pass "SIGTERM: the daemon exits, removes its pid file, the host cleans up"
