#!/bin/bash
# Once started, the guest agent's privileged helper (privsep.c; the
# worker it names processes for holds nothing, see t_privsep.sh) keeps
# only CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE (to name the process
# behind a bind of any user) and CAP_NET_ADMIN (to read the DNAT rules
# that publish ports, natdump.c), in every set, the bounding set included,
# with no_new_privs; and with them the agent still sees binds, names
# another user's server and forwards to it.  Started without
# CAP_SYS_PTRACE the helper keeps what it has, and the agent forwards
# the binds it cannot name.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
vm_create
start_host
start_guest
wait_for 5 "the privileges dropped" log_has guest "privileges dropped"

# The helper: the agent's one child.
HELPER=$(children "$GUEST_PID")
[ "$(echo "$HELPER" | wc -w)" = 1 ] ||
    fail "the guest agent has children \"$HELPER\", not one helper"
helper_caps_kept "$HELPER"
log_has guest "privileges dropped: kept CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_NET_ADMIN" ||
    fail "the guest did not log what it kept"
pass "after start-up the guest's helper keeps CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE and CAP_NET_ADMIN only (effective, permitted, bounding), no_new_privs set"

# A server of another user (nobody), started after the drop: its bind
# is seen, named and forwarded.  /usr/bin/python3: the PATH's may be in
# a home nobody cannot enter.
nobody_server() {
	bg "$1" ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 \
	    --clear-groups /usr/bin/python3 -c "
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
        self.wfile.write(b'hello from nobody\n')
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(('0.0.0.0', $2), H).serve_forever()"
	SERVER_PID=$LAST_PID
}
nobody_server nobody "$port"
wait_for 5 "the bind named" log_has guest "new bind: tcp 0.0.0.0:$port by python3"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
out=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/") ||
    fail "curl through the forward failed"
[ "$out" = "hello from nobody" ] || fail "curl got \"$out\""
pass "with them, another user's server is seen, named and forwarded"
kill_wait TERM "$SERVER_PID"
kill_wait TERM "$GUEST_PID"
wait_for 5 "the forward to close" sh -c \
    "! ss -Hltn | awk '{ print \$4 }' | grep -qxF 127.0.0.1:$port"

# Without CAP_SYS_PTRACE in its bounding set from the start: it keeps
# CAP_DAC_READ_SEARCH, and forwards a bind it cannot name.
mv "$T/guest.log" "$T/guest-full.log.old"
wrap=("${PH_WRAP[@]}")
PH_WRAP=(setpriv --bounding-set=-sys_ptrace "${wrap[@]}")
start_guest
PH_WRAP=("${wrap[@]}")
wait_for 5 "the privileges dropped" log_has guest \
    "privileges dropped: kept CAP_DAC_READ_SEARCH CAP_NET_ADMIN\$"
HELPER=$(children "$GUEST_PID")
[ "$(caps "$HELPER" CapEff)" = 0000000000001004 ] ||
    fail "helper CapEff is $(caps "$HELPER" CapEff), not 1004"
nobody_server nobody2 "$port"
wait_for 5 "the bind seen" log_has guest "new bind: tcp 0.0.0.0:$port"
log_has guest "new bind: tcp 0.0.0.0:$port by" &&
    fail "another user's process was named without CAP_SYS_PTRACE"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
out=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/") ||
    fail "curl through the unnamed forward failed"
pass "started without CAP_SYS_PTRACE: keeps CAP_DAC_READ_SEARCH and CAP_NET_ADMIN, forwards the bind it cannot name"
kill_wait TERM "$SERVER_PID"
kill_wait TERM "$GUEST_PID"

# Within the systemd unit's bounding set the bind triggers start as they
# do with every capability, before the drop, and the agent splits.
trigger() { sed -n 's/.*watching binds: trigger \([a-z]*\),.*/\1/p' "$1"; }
full=$(trigger "$T/guest-full.log.old")
set=$(sed -n 's/^CapabilityBoundingSet=//p' \
    "$PH_ROOT/contrib/systemd/porthole-guest.service.in" |
    tr 'A-Z ' 'a-z\n' | sed 's/^cap_/+/' | paste -sd, -)
mv "$T/guest.log" "$T/guest-noptrace.log.old"
PH_WRAP=(setpriv "--bounding-set=-all,$set" "${wrap[@]}")
start_guest
PH_WRAP=("${wrap[@]}")
wait_for 5 "the privileges dropped" log_has guest "privileges dropped"
log_has guest "privilege separation: uid" ||
    fail "no privilege separation in the unit's bounding set ($set)"
[ "$(trigger "$T/guest.log")" = "$full" ] ||
    fail "trigger $(trigger "$T/guest.log") in the unit's bounding set ($set), $full with all"
pass "in the systemd unit's bounding set ($set) the bind trigger is $full, as with every capability, and the agent splits"
