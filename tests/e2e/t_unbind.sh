#!/bin/bash
# A port that closes in the guest closes on the host; IPv6 too.
. "$(dirname "$0")/lib.sh"

p4=$(free_port) p6=$(( $(free_port) + 1 ))
vm_create
start_host
start_guest
vm_http web4 0.0.0.0 "$p4"
web4=$LAST_PID
bg web6 ip netns exec "$NS" "$PHTEST" serve ::1 "$p6" halfreply 10
web6=$LAST_PID
wait_for 5 "the IPv4 forward" host_listens 127.0.0.1 "$p4"
wait_for 5 "the IPv6 forward" host_listens ::1 "$p6"
curl -sf "http://127.0.0.1:$p4/" >/dev/null || fail "no HTTP through the forward"

kill_wait TERM "$web4"
wait_for 5 "the IPv4 forward to close" sh -c "! ss -Hltn | grep -q ':$p4 '"
host_listens ::1 "$p6" || fail "the IPv6 forward closed with the IPv4 one"
kill_wait TERM "$web6"
wait_for 5 "the IPv6 forward to close" sh -c "! ss -Hltn | grep -q ':$p6 '"
log_has host "closed: guest closed the port" || fail "host did not log the close"
log_has guest "bind gone: tcp 0.0.0.0:$p4" || fail "guest did not log the unbind"

# A server that comes back is forwarded again.
vm_http web4b 0.0.0.0 "$p4"
wait_for 5 "the forward to come back" host_listens 127.0.0.1 "$p4"
curl -sf "http://127.0.0.1:$p4/" >/dev/null || fail "no HTTP after rebind"
pass "guest ports closing close host ports (IPv4 and IPv6), and come back"
