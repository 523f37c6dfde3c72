#!/bin/bash
# Privilege separation in the guest agent (guest-agent/privsep.c): the
# process that speaks to the host (the one started, the worker) runs as
# nobody with no capability in any set, no_new_privs, chrooted in an
# empty root; its one child, the helper, keeps uid 0 with only
# CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE, names the processes behind
# binds for it, and CAP_NET_ADMIN, and reads the NAT rules for it.  Another user's bind is still named (in the host's
# forward), forwarding works, and neither outlives the other.  Root
# lacking what the split takes (CAP_SETUID...) runs unsplit, and says so.
. "$(dirname "$0")/lib.sh"

EMPTY=/run/porthole-guest/empty
# The worker's default user: porthole where make install made it, else
# nobody (this machine's usual case).
if id -u porthole >/dev/null 2>&1; then WU=porthole; else WU=nobody; fi
WUID=$(id -u $WU) WGID=$(id -g $WU)
gone() { ! kill -0 "$1" 2>/dev/null ||
    grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

port=$(free_port)
vm_create
start_host
# fs.suid_dumpable 1 (core dumps of processes that changed ids, which an
# admin may want) leaves a process dumpable after it changes to nobody:
# the worker must make itself non-dumpable.  Set for the worker's start
# only, and put back at once (and at exit, if the test fails first).
DUMPABLE0=$(cat /proc/sys/fs/suid_dumpable)
restore_dumpable() { echo "$DUMPABLE0" >/proc/sys/fs/suid_dumpable; }
ph_before_exit restore_dumpable
echo 1 >/proc/sys/fs/suid_dumpable || fail "cannot set fs.suid_dumpable"
start_guest
wait_for 5 "the split" log_has guest "privilege separation: uid"
restore_dumpable
WORKER=$GUEST_PID
HELPER=$(children "$WORKER")
[ "$(echo "$HELPER" | wc -w)" = 1 ] ||
    fail "the worker has children \"$HELPER\", not one helper"

# The worker: $WU, nothing in any capability set, in the empty root.
[ "$(ids "$WORKER" Uid)" = "$WUID $WUID $WUID $WUID" ] ||
    fail "worker uids are $(ids "$WORKER" Uid), not $WU's"
[ "$(ids "$WORKER" Gid)" = "$WGID $WGID $WGID $WGID" ] ||
    fail "worker gids are $(ids "$WORKER" Gid), not $WU's group's"
[ $WU = porthole ] || log_has guest "no user porthole: the worker runs as \
nobody, whose other processes could stop or kill it" ||
    fail "the fallback to nobody was not said"
[ -z "$(ids "$WORKER" Groups | tr -d ' ')" ] ||
    fail "worker keeps supplementary groups $(ids "$WORKER" Groups)"
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
	[ "$(caps "$WORKER" $set)" = 0000000000000000 ] ||
	    fail "worker $set is $(caps "$WORKER" $set), not empty"
done
[ "$(caps "$WORKER" NoNewPrivs)" = 1 ] || fail "worker: no_new_privs unset"
[ "$(readlink "/proc/$WORKER/root")" = $EMPTY ] ||
    fail "worker root is $(readlink "/proc/$WORKER/root"), not $EMPTY"
[ "$(stat -c '%U %a %F' $EMPTY)" = "root 755 directory" ] ||
    fail "$EMPTY is $(stat -c '%U %a %F' $EMPTY)"
[ -z "$(ls -A $EMPTY)" ] || fail "$EMPTY is not empty: $(ls -A $EMPTY)"
pass "worker: uid/gid $WU, no groups, every capability set empty, no_new_privs, root $EMPTY (root's, 0755, empty)"

# Another process of the worker's user, in the VM, with what such a
# process has: it can neither trace the worker nor read its memory.
out=$(ip netns exec "$NS" setpriv --reuid="$WUID" --regid="$WGID" \
    --clear-groups /usr/bin/python3 -c "
import ctypes, os, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(16, pid, 0, 0) == 0:	# PTRACE_ATTACH
    os.waitpid(pid, 0)
    libc.ptrace(17, pid, 0, 0)	# PTRACE_DETACH
    print('attached')
else:
    print('attach:', os.strerror(ctypes.get_errno()))
for f in ('mem', 'environ'):
    try:
        with open('/proc/%d/%s' % (pid, f), 'rb') as m:
            m.read(1)
        print(f, 'read')
    except OSError as e:
        print(f + ':', e.strerror)
" "$WORKER" 2>&1)
[ "$out" = "attach: Operation not permitted
mem: Permission denied
environ: Permission denied" ] ||
    fail "a process of the worker's user, with fs.suid_dumpable 1:" \
    "$(echo "$out" | tr '\n' ';')"
[ "$(stat -c %u "/proc/$WORKER/environ")" = 0 ] ||
    fail "the worker's /proc files are its user's: it is dumpable"
pass "a process of the worker's user cannot trace it or read its memory" \
    "(not dumpable, whatever fs.suid_dumpable says)"

# The helper: root, CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE and CAP_NET_ADMIN,
# the real root.
[ "$(ids "$HELPER" Uid)" = "0 0 0 0" ] ||
    fail "helper uids are $(ids "$HELPER" Uid), not root's"
helper_caps_kept "$HELPER"
[ "$(readlink "/proc/$HELPER/root")" = / ] ||
    fail "helper root is $(readlink "/proc/$HELPER/root")"
# It holds no socket but its end of the pair: nothing from the network.
[ "$(find "/proc/$HELPER/fd" -lname 'socket:*' | wc -l)" = 1 ] ||
    fail "helper holds sockets: $(ls -l "/proc/$HELPER/fd")"
pass "helper: uid 0, CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE and CAP_NET_ADMIN only, no_new_privs, one socket (the pair)"

# Another user's server: named through the helper, in the host's forward,
# and reached through the forward.  /usr/bin/python3: the PATH's may be
# in a home nobody cannot enter.
bg server ip netns exec "$NS" setpriv --reuid=65533 --regid=65533 \
    --clear-groups /usr/bin/python3 -c "
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
        self.wfile.write(b'hello from uid 65533\n')
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(('0.0.0.0', $port), H).serve_forever()"
SERVER_PID=$LAST_PID
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
api /v1/forwards >"$T/fw.json"
proc=$(json "[f['process'] for f in d if f['guest_port'] == $port][0]" \
    <"$T/fw.json")
[ "$proc" = python3 ] || fail "the host's forward names \"$proc\": $(cat "$T/fw.json")"
out=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/") ||
    fail "curl through the forward failed"
[ "$out" = "hello from uid 65533" ] || fail "curl got \"$out\""
pass "another user's server is named (python3, in GET /v1/forwards) and forwarded end to end"

# A clean stop: both exit, and the helper removes the status socket.
kill -TERM "$WORKER"
wait_for 5 "the worker to exit" gone "$WORKER"
wait_for 5 "the helper to exit" gone "$HELPER"
[ ! -e "$GSTATUS" ] || fail "the status socket $GSTATUS was left behind"
pass "SIGTERM: the worker and its helper exit, the status socket is removed"
mv "$T/guest.log" "$T/guest-1.log"

# The helper killed: the worker exits (nothing is left unnamed in silence).
start_guest
WORKER=$GUEST_PID
wait_for 5 "the helper" test -n "$(children "$WORKER")"
HELPER=$(children "$WORKER")
kill -KILL "$HELPER"
wait_for 5 "the worker to exit" gone "$WORKER"
log_has guest "privsep: the privileged helper exited" ||
    fail "the worker did not say why it exited"
pass "the helper killed: the worker exits"
mv "$T/guest.log" "$T/guest-2.log"

# The worker killed: no privileged helper is left behind.
start_guest
WORKER=$GUEST_PID
wait_for 5 "the helper" test -n "$(children "$WORKER")"
HELPER=$(children "$WORKER")
kill_wait KILL "$WORKER"
wait_for 5 "the helper to exit" gone "$HELPER"
wait_for 5 "the status socket removed" test ! -e "$GSTATUS"
pass "the worker killed: the helper exits, and removes the status socket"
mv "$T/guest.log" "$T/guest-3.log"

# Signals are the one thing a process of the worker's user can still do
# to it (stop it, kill it): hence a user of its own.  One made for this
# test, then nobody's process (another user's) cannot stop that worker.
PHU=phw$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$PHU" ||
    fail "useradd $PHU"
del_phu() { userdel "$PHU" 2>/dev/null; }
ph_at_exit del_phu
start_guest -u "$PHU"
WORKER=$GUEST_PID
wait_for 5 "the split as $PHU" log_has guest "privilege separation: uid \
$(id -u "$PHU")"
as_nobody_stop() {
	ip netns exec "$NS" setpriv --reuid=65534 --regid=65534 \
	    --clear-groups kill -STOP "$1" 2>&1
}
out=$(as_nobody_stop "$WORKER") && fail "nobody stopped $PHU's worker"
grep -q '^State:.*T' "/proc/$WORKER/status" && fail "the worker is stopped"
case $out in *"Operation not permitted"*) ;;
*) fail "kill -STOP as nobody: $out" ;; esac
wait_for 5 "the forward through $PHU's worker" host_listens 127.0.0.1 "$port"
pass "-u $PHU: a process of nobody cannot signal the worker (EPERM)"
kill_wait TERM "$WORKER"
mv "$T/guest.log" "$T/guest-4.log"

# Root without what the split takes: one process, one line saying so.
wrap=("${PH_WRAP[@]}")
PH_WRAP=(setpriv --bounding-set=-setuid "${wrap[@]}")
start_guest
PH_WRAP=("${wrap[@]}")
log_has guest "no privilege separation: CAP_SETUID" ||
    fail "the unsplit agent did not say why"
[ -z "$(children "$GUEST_PID")" ] || fail "the unsplit agent has a child"
[ "$(caps "$GUEST_PID" CapEff)" = 0000000000081004 ] ||
    fail "unsplit CapEff is $(caps "$GUEST_PID" CapEff), not 81004"
wait_for 5 "the forward again" host_listens 127.0.0.1 "$port"
curl -fsS --max-time 5 "http://127.0.0.1:$port/" >/dev/null ||
    fail "curl through the unsplit agent's forward failed"
pass "without CAP_SETUID: unsplit, as privdrop leaves it, and forwarding"
kill_wait TERM "$SERVER_PID"
