#!/bin/bash
# The sd_notify protocol, as a Type=notify systemd unit sees it: a real
# AF_UNIX datagram socket named by $NOTIFY_SOCKET (a path, then an
# abstract @name) gets READY=1 once the agent is connected or retrying,
# STATUS= lines that follow the control channel, and STOPPING=1 on
# SIGTERM.  Each datagram is parsed the way systemd parses it:
# newline-separated KEY=VALUE lines.
. "$(dirname "$0")/lib.sh"

vm_create

# notify_recv LOGNAME ADDRESS: print each datagram's keys on one line.
notify_recv() {
	bg "$1" ip netns exec "$NS" "$PY" -c "import socket, sys
addr = sys.argv[1]
if addr.startswith('@'):
    addr = '\0' + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(addr)
print('bound', flush=True)
while True:
    d = s.recv(4096).decode()
    kv = [l for l in d.split('\n') if l]
    assert all('=' in l for l in kv), 'not KEY=VALUE: %r' % d
    print(' | '.join(kv), flush=True)" "$2"
	wait_for 5 "the notify socket" grep -q bound "$T/$1.log"
}

# notified LOGNAME PATTERN: the datagram matching PATTERN came.
notified() {
	grep -qE -- "$2" "$T/$1.log"
}

notify_recv notify "$T/notify.sock"
# No host yet: ready all the same, retrying.
bg guest env NOTIFY_SOCKET="$T/notify.sock" ip netns exec "$NS" \
    "$PH_GUEST" -d -v -c "unix:$SOCK" -s none
GUEST_PID=$LAST_PID
wait_for 5 "READY=1 while the host is away" notified notify \
    "^READY=1 \| STATUS=host unix:$SOCK: .*; retrying$"
[ "$(grep -c READY=1 "$T/notify.log")" = 1 ] || fail "READY=1 more than once"
pass "no host: READY=1 with STATUS=... retrying"

start_host
wait_for 10 "STATUS=connected" notified notify \
    "^STATUS=connected to host unix:$SOCK$"
kill_wait TERM "$HOST_PID"
wait_for 5 "STATUS=... retrying after the host left" notified notify \
    "^STATUS=host unix:$SOCK: host closed the control channel; retrying$"
kill_wait TERM "$GUEST_PID"
wait_for 5 "STOPPING=1" notified notify "^STOPPING=1 \| STATUS=exiting$"
[ "$(grep -c READY=1 "$T/notify.log")" = 1 ] || fail "READY=1 more than once"
pass "STATUS follows the channel; STOPPING=1 on SIGTERM (a path socket)"

# An abstract socket (systemd's own choice), in the VM's namespace: an
# abstract name belongs to a network namespace.
start_host
notify_recv notify2 "@ph-notify-$$"
bg guest2 env NOTIFY_SOCKET="@ph-notify-$$" ip netns exec "$NS" \
    "$PH_GUEST" -d -c "unix:$SOCK" -s none
wait_for 10 "READY=1 on an abstract socket" notified notify2 \
    "^READY=1 \| STATUS=connected to host unix:$SOCK$"
pass "READY=1 on an abstract socket once connected"

# systemd's watchdog (WatchdogSec=): $WATCHDOG_USEC, for the process
# $WATCHDOG_PID names (exec keeps the pid: bash, env, ip netns exec and
# the agent are one process), gets WATCHDOG=1 every half of it; another
# process's watchdog is not taken.  Both are said before READY=1.
# watched LOGNAME NOTIFY-SOCKET WATCHDOG-PID|self: a guest so started
watched() {
	bg "$1" bash -c 'export WATCHDOG_USEC=200000 WATCHDOG_PID=$2
	    [ "$2" = self ] && WATCHDOG_PID=$$
	    exec env NOTIFY_SOCKET="$1" ip netns exec "$3" "$4" -d -c \
	    "unix:$5" -s none' _ "$2" "$3" "$NS" "$PH_GUEST" "$SOCK"
}
pings() { [ "$(grep -c '^WATCHDOG=1$' "$T/$1.log")" -ge "$2" ]; }
notify_recv notify4 "$T/notify4.sock"
watched guest4 "$T/notify4.sock" self
G4=$LAST_PID
wait_for 5 "READY=1 (watchdog)" notified notify4 "^READY=1"
log_has guest4 "systemd's watchdog: WATCHDOG=1 every 100 ms" ||
    fail "the watchdog was not taken"
wait_for 5 "three WATCHDOG=1" pings notify4 3
kill_wait TERM "$G4"
notify_recv notify5 "$T/notify5.sock"
watched guest5 "$T/notify5.sock" 1
wait_for 5 "READY=1 (another's watchdog)" notified notify5 "^READY=1"
log_has guest5 "systemd's watchdog" && fail "another process's watchdog taken"
grep -q WATCHDOG "$T/notify5.log" && fail "WATCHDOG=1 for another process"
pass "WATCHDOG=1 every half of WATCHDOG_USEC, for this process's" \
    "WATCHDOG_PID only"

# A bad NOTIFY_SOCKET is one warning, and the agent still works.
bg guest3 env NOTIFY_SOCKET=relative ip netns exec "$NS" \
    "$PH_GUEST" -d -c "unix:$SOCK" -s none
wait_for 5 "the warning" log_has guest3 \
    'NOTIFY_SOCKET "relative" is not an absolute path'
wait_for 5 "the guest to connect anyway" log_has guest3 "connected to host"
pass "a bad NOTIFY_SOCKET: one warning, the agent runs"
