#!/bin/bash
# Either agent can die and come back: kill -9 of the guest agent closes
# its host listeners; restarting it, or restarting the host agent, brings
# every forward back without anyone doing anything else.
. "$(dirname "$0")/lib.sh"

p1=$(free_port) p2=$(( $(free_port) + 1 ))
vm_create
start_host
start_guest
vm_http web4 0.0.0.0 "$p1"
vm_http web6 :: "$p2"

all_forwards_up() {
	host_listens 127.0.0.1 "$p1" && host_listens 127.0.0.1 "$p2" &&
	    host_listens ::1 "$p2"
}
all_forwards_down() {
	! ss -Hltn | grep -qE ":($p1|$p2) "
}
through() {
	curl -sf "http://127.0.0.1:$p1/" >/dev/null &&
	    curl -sfg "http://[::1]:$p2/" >/dev/null
}

wait_for 5 "the forwards" all_forwards_up
through || fail "no HTTP through the forwards"

kill_wait 9 "$GUEST_PID"
wait_for 5 "the host to close a killed guest's listeners" all_forwards_down
pass "kill -9 of the guest agent closed its host listeners"
t0=$(date +%s%N)
start_guest
wait_for 5 "the forwards after the guest's restart" all_forwards_up
through || fail "no HTTP after the guest's restart"
pass "guest agent restarted: forwards back in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

kill_wait 9 "$HOST_PID"
wait_for 5 "the guest to notice" grep -q "reconnecting" "$T/guest.log"
mv "$T/host.log" "$T/host-1.log.old"
t0=$(date +%s%N)
start_host
wait_for 10 "the forwards after the host's restart" all_forwards_up
through || fail "no HTTP after the host's restart"
pass "host agent restarted: forwards back in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# At exit the host frees a connection that has not sent its first frame
# yet (the sanitizers and valgrind check): one waits when it is stopped.
fds=$(fd_count "$HOST_PID")
bg silent "$PY" -c "
import signal, socket
s = socket.socket(socket.AF_UNIX)
s.connect('$SOCK')
signal.pause()"
SILENT_PID=$LAST_PID
more_fds() { [ "$(fd_count "$HOST_PID")" -gt "$fds" ]; }
wait_for 5 "the host to accept the silent connection" more_fds
kill_wait TERM "$HOST_PID"
kill_wait 9 "$SILENT_PID"
[ ! -e "$SOCK" ] || fail "the host agent left its socket behind on SIGTERM"
grep -q "exiting" "$T/host.log" || fail "no exit message in the host log"
pass "SIGTERM: host agent exits and removes its socket"
