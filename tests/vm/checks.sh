#!/bin/sh
# The checks tests/vm/run has the VM run (busybox sh, as the VM's root).
#
# The VM's root network namespace plays the host: porthole-host listens
# on vsock:6440 there and opens the forwarded ports, and the clients
# connect there.  An unshared network namespace plays the guest:
# porthole-guest and the servers run in it.  vsock is not confined by
# network namespaces, so the agents meet over real AF_VSOCK through
# vsock_loopback, the virtio transport code (credit flow control,
# shutdown flags) without a device.  The VM has no vsock device at all:
# CIDs 1 and 2 are served by this kernel's loopback, and CID 3, at the
# end, by a vhost_vsock registration that never answers.
#
# Each check prints "PH-PASS NAME: detail" or "PH-FAIL NAME: why" (and
# the agents' logs); a failure ends the checks, since later ones build on
# earlier ones.  tests/vm/run knows the names.  Every wait is for a real
# condition with a deadline (scaled by PH_SLOW).
set -u
L=/tmp/ph			# logs
mkdir -p "$L"
VPORT=6440			# the host agent's vsock port
SILENT_CID=3			# a vsock CID that never answers
P4=8080				# a guest server on 0.0.0.0
P6=8081				# a guest server on :: (IPv6 only)
P8=8082				# a server that appears later
N=$((4 * 1024 * 1024))		# bytes each way through a forward
CHECK=setup
PIDS=
HOSTS=0

# --- helpers ---

check() {
	CHECK=$1
}

pass() {
	local up
	read -r up _ </proc/uptime
	echo "PH-PASS $CHECK: $* [${up} s]"
}

dump_logs() {
	for f in "$L"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f") (last 25 lines)"
		tail -n 25 "$f"
	done
}

fail() {
	echo "PH-FAIL $CHECK: $*"
	dump_logs
	exit 1
}

trap 'fail "killed at the deadline"' TERM

# Centiseconds since boot.
now_cs() {
	local up
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

# wait_for SECONDS WHAT COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local secs=$1 what=$2 end
	shift 2
	end=$(( $(now_cs) + secs * PH_SLOW * 100 ))
	until "$@" >/dev/null 2>&1; do
		[ "$(now_cs)" -gt "$end" ] &&
		    fail "timed out after ${secs}s waiting for $what"
		sleep 0.05
	done
}

# bg LOGNAME COMMAND...: run in the background; its pid is in LAST.
bg() {
	local log=$1
	shift
	"$@" >"$L/$log.log" 2>&1 &
	LAST=$!
	PIDS="$PIDS $LAST"
}

kill_wait() {
	kill "-$1" "$2" 2>/dev/null
	wait "$2" 2>/dev/null
}

# A command in the guest namespace.  A variable, not a function, so that
# bg's $! is the program itself (nsenter execs it) and can be killed.
IN_GUEST="nsenter --net=/run/netns/guest"

log_has() {
	grep -q -- "$2" "$L/$1.log"
}

# The host's TCP listeners on PORT, as "ADDR:PORT", sorted, one line.
host_listeners() {
	netstat -ltn | awk -v p=":$1" '$1 ~ /^tcp/ &&
	    substr($4, length($4) - length(p) + 1) == p { print $4 }' |
	    sort | tr '\n' ' ' | sed 's/ $//'
}

listeners_are() {
	[ "$(host_listeners "$1")" = "$2" ]
}

# Each host agent logs to host.log; an earlier one's log is kept.  Both
# agents are in this VM, so the guest is CID 1, which the host refuses
# without --local-peers (start_host strict: without it).
start_host() {
	local peers=--local-peers
	[ "${1:-}" = strict ] && { peers=; shift; }
	HOSTS=$((HOSTS + 1))
	[ ! -f "$L/host.log" ] || mv "$L/host.log" "$L/host-$HOSTS.log"
	bg host porthole-host -d -v -l "vsock:$VPORT" $peers "$@"
	HOST_PID=$LAST
	wait_for 10 "the host agent to listen" \
	    log_has host "listening for guests on vsock:$VPORT"
}

# start_guest LOGNAME ENDPOINT: a guest agent in the guest namespace.
start_guest() {
	bg "$1" $IN_GUEST porthole-guest -d -v -N vm-guest -c "$2"
	GUEST_PID=$LAST
}

reports_above() {
	[ "$(grep -c "server received" "$1")" -gt "$2" ]
}

# halfreply HOST PORT BYTES: BYTES through a forward, then a shutdown of
# the client's writing side, then the server's N bytes back: every byte
# checked on arrival, digests compared across the forward.
halfreply() {
	local out srv c_sent c_sd c_recv c_rd s_recv s_rd s_sent s_sd t0 n
	out=$L/client-$2.out srv=$L/server-$2.log
	# The server appends a report per connection: wait for one more.
	n=$(grep -c "server received" "$srv")
	t0=$(now_cs)
	phtest client "$1" "$2" halfreply "$3" $N >"$out" 2>&1 ||
	    fail "client through $1:$2: $(cat "$out")"
	wait_for 10 "the server's report" reports_above "$srv" "$n"
	read -r _ _ c_sent _ c_sd _ c_recv _ c_rd <"$out"
	read -r _ _ s_recv _ s_rd _ s_sent _ s_sd <<EOF
$(grep "server received" "$srv" | tail -n 1)
EOF
	[ "$c_sent" = "$3" ] && [ "$s_recv" = "$3" ] ||
	    fail "client sent $c_sent, server received $s_recv"
	[ "$c_sd" = "$s_rd" ] || fail "upstream digests differ"
	[ "$s_sent" = $N ] && [ "$c_recv" = $N ] ||
	    fail "server sent $s_sent, client received $c_recv"
	[ "$s_sd" = "$c_rd" ] || fail "downstream digests differ"
	XFER="$3 bytes in, then $N out, via $1:$2 in"
	XFER="$XFER $(( ($(now_cs) - t0) * 10 )) ms, digests match"
}

# --- the kernel: vsock over loopback, and nothing else ---

check modules
for m in vsock vmw_vsock_virtio_transport_common vsock_loopback \
    inet_diag tcp_diag udp_diag; do
	insmod "/ph/modules/$m.ko" 2>"$L/insmod.log" ||
	    fail "insmod $m: $(cat "$L/insmod.log")"
done
[ -c /dev/vsock ] || fail "no /dev/vsock after loading vsock.ko"
pass "vsock, vmw_vsock_virtio_transport_common, vsock_loopback loaded" \
    "(and inet_diag, tcp_diag, udp_diag for the guest's watcher)" \
    "on $(uname -r)"

check no-vsock-device
n=$(ls /sys/bus/virtio/devices 2>/dev/null | wc -l)
[ "$n" = 0 ] || fail "the VM has $n virtio devices; it must have none"
[ ! -d /sys/module/vmw_vsock_virtio_transport ] ||
    fail "a virtio-vsock driver is loaded"
pass "no virtio device and no guest-to-host transport:" \
    "vsock stays inside this VM's kernel"

# --- the guest: a network namespace of its own ---

mkdir -p /run/netns
touch /run/netns/guest
unshare --net=/run/netns/guest true || fail "cannot create the guest namespace"
$IN_GUEST ip link set lo up || fail "cannot bring up the guest's loopback"
ip link set lo up
bg server-$P4 $IN_GUEST phtest serve 0.0.0.0 $P4 halfreply $N
bg server-$P6 $IN_GUEST phtest serve :: $P6 halfreply $N
wait_for 10 "the guest's servers" log_has server-$P4 listening
wait_for 10 "the guest's servers" log_has server-$P6 listening
listeners_are $P4 "" || fail "the guest's server is visible in the host namespace"

# --- connecting over AF_VSOCK ---

# CID 1 is this machine itself: without --local-peers, refused at once.
check local-cid-refused
start_host strict
start_guest guest0 "vsock:1:$VPORT"
wait_for 10 "the host to refuse CID 1" \
    log_has host "connection from cid 1 refused: cid 1 is the hypervisor"
log_has host "connected" && fail "a guest from CID 1 got a session"
kill_wait TERM "$GUEST_PID"
kill_wait TERM "$HOST_PID"
pass "host without --local-peers: \"$(grep -o 'cid 1 refused: [^(]*' \
    "$L/host.log")\""

check host-listens
start_host
log_has host "local-peers: vsock CIDs 0-2 are accepted" ||
    fail "--local-peers was not warned about"
pass "porthole-host -l vsock:$VPORT --local-peers is listening, and warns"

check peer-cid
start_guest guest1 "vsock:1:$VPORT"
wait_for 10 "the guest to connect" log_has guest1 "connected to host vsock:1:$VPORT"
wait_for 10 "the host to log the guest" \
    log_has host "guest vm-guest (cid 1) connected"
pass "porthole-guest connected to vsock:1:$VPORT;" \
    "host: \"$(grep -o 'guest vm-guest (cid 1) connected' "$L/host.log")\""

# The agent that speaks over vsock is the jailed worker: this VM has no
# user database, so it runs as the overflow ids, 65534.
check guest-privsep
wait_for 10 "the guest's split" log_has guest1 "privilege separation: uid"
ids=$(awk '/^Uid:|^Gid:/ { printf "%s ", $2 }' "/proc/$GUEST_PID/status")
[ "$ids" = "65534 65534 " ] ||
    fail "the guest's worker runs as uid/gid $ids, not 65534"
caps=$(awk '/^CapEff:/ { print $2 }' "/proc/$GUEST_PID/status")
[ "$caps" = 0000000000000000 ] || fail "the worker has capabilities $caps"
HELPER=$(cat /proc/"$GUEST_PID"/task/*/children | tr -s ' ' '\n' |
    grep -v '^$' | head -n 1)
hcaps=$(awk '/^CapEff:/ { print $2 }' "/proc/$HELPER/status")
# CAP_DAC_READ_SEARCH, CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_SYS_PTRACE:
# bits 2, 10, 12, 19
[ "$hcaps" = 0000000000081404 ] ||
    fail "the helper has capabilities $hcaps, not 0000000000081404"
pass "the worker connected over AF_VSOCK as uid and gid 65534, no" \
    "capabilities (no user database in this VM); its helper, which binds" \
    "the reserved source port, keeps $hcaps"

# Any other process in the VM may use AF_VSOCK, but not bind a port
# below 1024: a guest agent run as a user (as an intruder would) says
# HELLO from an unreserved port, and the host refuses it; the real
# agent's session and forwards are untouched.
check unreserved-port-refused
mkdir -p "$L/intruder" && chmod 0777 "$L/intruder"
bg intruder $IN_GUEST phtest as 65534 porthole-guest -d -v -N intruder -c "vsock:1:$VPORT" \
    -s "$L/intruder/status.sock"
INTRUDER=$LAST
wait_for 10 "the host to refuse the intruder" \
    log_has host "source port [0-9]* is not reserved"
log_has intruder "cannot bind a reserved vsock port" ||
    fail "the intruder did not say why"
log_has host "guest intruder" && fail "the intruder got a session"
log_has host "replaced by a new session" && fail "the session was replaced"
kill_wait TERM "$INTRUDER"
pass "a non-root process's HELLO: \"$(grep -o 'source port [0-9]* is not reserved' \
    "$L/host.log" | head -n 1)\", the agent's own session kept"

# --- the default policy: wildcard binds arrive as loopback ---

check default-loopback-v4
wait_for 10 "the forward of 0.0.0.0:$P4" listeners_are $P4 "127.0.0.1:$P4"
pass "guest 0.0.0.0:$P4 -> host $(host_listeners $P4)"

check default-loopback-v6
wait_for 10 "the forward of [::]:$P6" listeners_are $P6 "::1:$P6"
pass "guest [::]:$P6 -> host $(host_listeners $P6)"

check guest-verdict
wait_for 10 "the guest to log the verdict" \
    log_has guest1 "0.0.0.0:$P4: rewritten on host 127.0.0.1:$P4"
pass "guest logged \"$(grep -o "tcp 0.0.0.0:$P4: rewritten on host [^:]*:$P4" \
    "$L/guest1.log")\""

check halfclose-1
halfreply 127.0.0.1 $P4 $N
pass "$XFER"

# --- the guest agent killed and restarted ---

check guest-killed
kill_wait 9 "$GUEST_PID"
wait_for 10 "the host to close the killed guest's ports" listeners_are $P4 ""
wait_for 10 "the host to close the killed guest's ports" listeners_are $P6 ""
pass "kill -9 of porthole-guest: host closed $P4 and $P6"

check guest-resync
t0=$(now_cs)
start_guest guest2 "vsock:1:$VPORT"
wait_for 10 "the forwards after the restart" listeners_are $P4 "127.0.0.1:$P4"
wait_for 10 "the forwards after the restart" listeners_are $P6 "::1:$P6"
pass "restarted porthole-guest: both forwards back in" \
    "$(( ($(now_cs) - t0) * 10 )) ms"

check halfclose-2
halfreply ::1 $P6 $((N / 4))
pass "$XFER"

# --- VMADDR_CID_ANY, and a guest known by its CID ---

# The old agent is stopped, not dead: its connection stays open.  A new
# one that dials the default endpoint vsock:2:6440 ("the host"; in this
# VM served by the loopback) reaches the listener only because it is
# bound to VMADDR_CID_ANY, and arrives from CID 1 again: the host must
# take it for the same guest and replace the stale session.
check cid-2-reaches-any
OLD_PID=$GUEST_PID
kill -STOP "$OLD_PID"
start_guest guest3 "vsock:2:$VPORT"
wait_for 10 "a guest on vsock:2:$VPORT to connect" \
    log_has guest3 "connected to host vsock:2:$VPORT"
pass "a guest dialing vsock:2:$VPORT reached the listener on vsock:$VPORT"

check cid-identity
wait_for 10 "the host to replace the stale session" \
    log_has host "replaced by a new session from the guest"
kill_wait 9 "$OLD_PID"
wait_for 10 "the forwards from the new session" listeners_are $P4 "127.0.0.1:$P4"
wait_for 10 "the forwards from the new session" listeners_are $P6 "::1:$P6"
halfreply 127.0.0.1 $P4 $((N / 4))
pass "same peer CID 1: the stale session was replaced; $XFER"

# --- the allow policy: wildcard binds arrive as requested ---

check allow-v4
kill_wait TERM "$HOST_PID"
wait_for 10 "the guest to notice the host is gone" \
    log_has guest3 "reconnecting"
start_host -b allow
wait_for 10 "the forward of 0.0.0.0:$P4 under allow" \
    listeners_are $P4 "0.0.0.0:$P4"
wait_for 10 "the guest to log the verdict" \
    log_has guest3 "0.0.0.0:$P4: bound on host 0.0.0.0:$P4"
pass "guest 0.0.0.0:$P4 -> host $(host_listeners $P4), guest logged it bound"

check allow-v6
wait_for 10 "the forward of [::]:$P6 under allow" listeners_are $P6 ":::$P6"
pass "guest [::]:$P6 -> host $(host_listeners $P6)"

check allow-data
halfreply ::1 $P6 $((N / 4))
pass "$XFER"

# --- a vsock peer that never answers ---
#
# Over the loopback every connect is answered at once, accepted or reset.
# A CID registered with vhost_vsock (this VM's own module, with no VM
# behind it: see tests/tools/vsilent.c) is one whose packets are never
# delivered, like a hung VM's: a connect to it is neither accepted nor
# refused.  Loaded only now, it routes CIDs above 2 and nothing else.

check connect-timeout
kill_wait TERM "$HOST_PID"
kill_wait TERM "$GUEST_PID"
for m in vhost_iotlb vhost vhost_vsock; do
	insmod "/ph/modules/$m.ko" 2>"$L/insmod.log" ||
	    fail "insmod $m: $(cat "$L/insmod.log")"
done
bg silent vsilent $SILENT_CID
SILENT_PID=$LAST
wait_for 10 "CID $SILENT_CID" log_has silent "cid $SILENT_CID registered"
t0=$(now_cs)
start_guest guest4 "vsock:$SILENT_CID:$VPORT"
wait_for 20 "the guest's connect to time out" log_has guest4 "timed out"
ms=$(( ($(now_cs) - t0) * 10 ))
[ "$ms" -ge 1000 ] || fail "the connect failed after $ms ms: not a timeout"
pass "vsock:$SILENT_CID:$VPORT never answers: guest logged" \
    "\"$(grep -o 'vsock:[^;]*timed out' "$L/guest4.log" | head -n 1)\"" \
    "after $ms ms"

timeouts() {
	[ "$(grep -c "timed out" "$L/guest4.log")" -ge "$1" ]
}

# Exited: no such process, or a zombie nobody has reaped yet.
gone() {
	[ ! -e "/proc/$1/stat" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"
}

# Connects are non-blocking: while the agent waits on one, it still sees
# binds, retries, and stops at once when told to.
check connect-pending
bg server-$P8 $IN_GUEST phtest serve 0.0.0.0 $P8 halfreply 1
wait_for 10 "the guest to see a new bind while it connects" \
    log_has guest4 "new bind: tcp 0.0.0.0:$P8"
wait_for 20 "a second timed-out connect" timeouts 2
kill -TERM "$GUEST_PID"
wait_for 5 "the guest to exit on SIGTERM" gone "$GUEST_PID"
log_has guest4 "SIGTERM received, exiting" || fail "no exit message"
pass "saw the bind on $P8 meanwhile, retried" \
    "($(grep -c "timed out" "$L/guest4.log") timeouts), exited on SIGTERM"

# --- done: every agent has exited; a sanitizer build reports in its log ---

check logs-clean
for pid in $PIDS; do
	kill "$pid" 2>/dev/null
done
wait
if grep -lE "Sanitizer|runtime error:" "$L"/*.log >"$L/reports"; then
	fail "sanitizer reports in $(cat "$L/reports" | tr '\n' ' ')"
fi
if ls /lib/x86_64-linux-gnu/libasan.so* >/dev/null 2>&1; then
	pass "agents built with SANITIZE=1: no ASan, LSan or UBSan report" \
	    "in $(ls "$L"/*.log | wc -l) logs"
else
	pass "no sanitizer report (agents built without SANITIZE=1)"
fi
exit 0
