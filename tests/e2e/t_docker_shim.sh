#!/bin/bash
# porthole-docker-proxy, the userland proxy that asks the host before it
# binds, driven exactly as dockerd drives docker-proxy (its arguments, a
# pipe on descriptor 3 for "0\n" or "1\n<error>") in the simulated VM,
# in front of a "container" (a second namespace at 172.17.0.2 serving
# HTTP), with Debian's docker-proxy behind it (mk/docker-proxy.sh):
#   - under refuse, -host-ip 0.0.0.0 exits 1 with "1\nporthole: host
#     refuses 0.0.0.0:P: <the host's reason>" on fd 3, and no port opens
#     in the VM or on the host; -host-ip 127.0.0.1 reports 0 and serves;
#   - under the default (loopback), 0.0.0.0 reports 0, the host port
#     serves the container's page, the bind was exposed once (asked for,
#     then seen listening: no second EXPOSE), and it leaves the host when
#     the proxy is stopped;
#   - a proxy that never binds (its port taken in the VM) is withdrawn
#     from the host when it exits;
#   - a non-root caller is refused, by the socket's mode and, past it,
#     by the agent's own check;
#   - no guest agent: plain docker-proxy ("0\n", traffic flows).
. "$(dirname "$0")/lib.sh"

DOCKER_PROXY=$("$PH_ROOT/mk/docker-proxy.sh") ||
    fail "no docker-proxy (mk/docker-proxy.sh)"
SHIM=$PH_ROOT/shim/porthole-docker-proxy
CT=ph-shimct-$$

P=$(free_port 6)
vm_create
ct_create docker0 172.17.0.1/16 172.17.0.2/16

# The shim as dockerd starts it, in the VM, run through WRAPPER (none,
# or setpriv); its outcome in $T/NAME.status.
SHIM_ENV=(env PORTHOLE_PROXY_SOCKET="$GPROXY"
    PORTHOLE_DOCKER_PROXY="$DOCKER_PROXY")
shim_args() {
	SHIM_ARGS=(-proto tcp -host-ip "$1" -host-port "$2"
	    -container-ip 172.17.0.2 -container-port 80)
}
shim_cmd() {
	local name=$1
	shim_args "$2" "$3"
	shift 3
	ip netns exec "$NS" "$@" "${SHIM_ENV[@]}" "$SHIM" "${SHIM_ARGS[@]}" \
	    3>"$T/$name.status"
}

# shim_ok NAME IP PORT: started, it reports "0\n" and keeps running
# (as docker-proxy: its pid in SHIM_NAME, for dockerd's SIGTERM).
shim_ok() {
	shim_args "$2" "$3"
	bg "shim-$1" ip netns exec "$NS" "${SHIM_ENV[@]}" "$SHIM" \
	    "${SHIM_ARGS[@]}" 3>"$T/$1.status"
	eval "SHIM_$1=$LAST_PID"
	wait_for 10 "the shim $1 to report" test -s "$T/$1.status"
	[ "$(cat "$T/$1.status")" = 0 ] ||
	    fail "shim $1: fd 3 says '$(cat "$T/$1.status")'"
}

# shim_fails NAME IP PORT PATTERN [WRAPPER...]: exits 1, "1\n" and a
# line matching PATTERN on fd 3.
shim_fails() {
	local name=$1 ip=$2 port=$3 pat=$4 rc=0
	shift 4
	shim_cmd "$name" "$ip" "$port" "$@" >"$T/shim-$name.log" 2>&1 ||
	    rc=$?
	[ "$rc" = 1 ] || fail "shim $name exited $rc, not 1"
	[ "$(head -1 "$T/$name.status")" = 1 ] ||
	    fail "shim $name: fd 3 starts '$(head -1 "$T/$name.status")'"
	sed -n 2p "$T/$name.status" | grep -qE -- "$pat" ||
	    fail "shim $name: fd 3 says '$(sed -n 2p "$T/$name.status")'," \
	    "not /$pat/"
}

serves() {
	curl -sfg --max-time 5 "http://$(ss_addr "$1" "$2")/" |
	    grep -q "hello from the container"
}

# Refused: dockerd hears the host's reason, nothing listens anywhere.
start_host -b refuse
start_guest
shim_fails refused 0.0.0.0 "$P" "^porthole: host refuses 0\.0\.0\.0:$P: wildcard bind 0\.0\.0\.0 refused by policy refuse\$"
[ "$(wc -l <"$T/refused.status")" = 1 ] ||
    fail "fd 3 has more than the error: $(cat "$T/refused.status")"
! vm_listens 0.0.0.0 "$P" || fail "port $P listens in the VM"
[ -z "$(host_listeners "$P")" ] || fail "port $P on the host"
wait_for 5 "the refused bind to be withdrawn" \
    log_has guest "bind gone: tcp 0.0.0.0:$P"
log_has host "tcp 0.0.0.0:$P docker-proxy -> refused" ||
    fail "the host did not decide 0.0.0.0:$P for docker-proxy"
shim_ok lo 127.0.0.1 $((P + 1))
wait_for 5 "127.0.0.1:$((P + 1)) on the host" serves 127.0.0.1 $((P + 1))
pass "refuse: 0.0.0.0:$P exits 1 with the host's reason on fd 3, no" \
    "port in the VM or on the host; 127.0.0.1 reports 0 and serves"
kill_wait TERM "$SHIM_lo"
kill_wait TERM "$GUEST_PID"
kill_wait TERM "$HOST_PID"
mv "$T/guest.log" "$T/guest-refuse.log.old"
mv "$T/host.log" "$T/host-refuse.log.old"

# Allowed (loopback): 0, the page through the host, one EXPOSE only.
start_host
start_guest
shim_ok any 0.0.0.0 $((P + 2))
wait_for 5 "the proxy's socket in the VM" vm_listens 0.0.0.0 $((P + 2))
wait_for 5 "127.0.0.1:$((P + 2)) on the host" serves 127.0.0.1 $((P + 2))
[ "$(host_listeners $((P + 2)))" = "127.0.0.1:$((P + 2))" ] ||
    fail "host listens on '$(host_listeners $((P + 2)))'"
kill -HUP "$GUEST_PID"		# a scan that sees the proxy's socket
wait_for 5 "a rescan" log_has guest "SIGHUP received"
serves 127.0.0.1 $((P + 2)) || fail "the page went after a rescan"
n=$(grep -c "new bind: tcp 0.0.0.0:$((P + 2))" "$T/guest.log")
[ "$n" = 1 ] || fail "0.0.0.0:$((P + 2)) was a new bind $n times"
n=$(grep -c "tcp 0.0.0.0:$((P + 2)) docker-proxy -> rewritten" "$T/host.log")
[ "$n" = 1 ] || fail "the host decided 0.0.0.0:$((P + 2)) $n times"
! log_has guest "bind gone: tcp 0.0.0.0:$((P + 2))" ||
    fail "the bind flapped"
pass "loopback: 0.0.0.0 reports 0, the container's page through" \
    "127.0.0.1:$((P + 2)) on the host, asked for and listened on as one bind"
kill_wait TERM "$SHIM_any"
wait_for 5 "port $((P + 2)) to leave the host" \
    sh -c "! ss -Hltn | grep -q ':$((P + 2)) '"
pass "the proxy stops: its port leaves the host"

# A proxy that asks, is answered, then cannot bind (a socket bound, not
# listening, holds the port in the VM): docker-proxy reports its own
# error, and the port it was given on the host goes when it exits.
bg taken ip netns exec "$NS" "$PY" -c "
import socket, signal
s = socket.socket(); s.bind(('127.0.0.1', $((P + 3))))
open('$T/taken', 'w').close()
signal.pause()"
wait_for 5 "the VM's bound socket" test -e "$T/taken"
shim_fails taken 0.0.0.0 $((P + 3)) "address already in use"
log_has guest "0.0.0.0:$((P + 3)): rewritten on host 127.0.0.1:$((P + 3))" ||
    fail "the host did not give 0.0.0.0:$((P + 3)) a port"
wait_for 5 "the bind never listened on to be withdrawn" \
    log_has guest "bind gone: tcp 0.0.0.0:$((P + 3))"
wait_for 5 "port $((P + 3)) to leave the host" \
    sh -c "! ss -Hltn | grep -q ':$((P + 3)) '"
pass "a proxy that cannot bind reports docker-proxy's error; its host" \
    "port goes when it exits"

# ask LINE: what the agent answers root's raw request line (Python, so
# that the bytes are exactly these), or "EOF" for no answer.
ask() {
	in_vm "$PY" - "$GPROXY" "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode('latin-1').decode('unicode_escape').encode('latin-1'))
a = s.makefile('rb').readline()
print(a.decode('ascii', 'replace').rstrip('\n') if a else 'EOF')
PYEOF
}
for bad in 'GET / HTTP/1.0\n' "porthole-proxy/1 tcp 0.0.0.0 $((P + 4)) x y\n" \
    "porthole-proxy/1 tcp 0.0.0.0 99999 docker-proxy\n" \
    "porthole-proxy/1 tcp 0.0.0.0 $((P + 4)) docker\x01proxy\n" \
    "$(printf 'a%.0s' $(seq 200))\n" \
    "porthole-proxy/1 tcp 0.0.0.0 $((P + 4)) docker-proxy\nmore\n"; do
	got=$(ask "$bad")
	case $got in
	"invalid - the guest agent cannot read the request: "*) ;;
	*) fail "'$bad' was answered '$got'" ;;
	esac
done
[ -z "$(host_listeners $((P + 4)))" ] || fail "port $((P + 4)) on the host"
kill -0 "$GUEST_PID" || fail "the guest agent died"
pass "bad requests (not the format, a field out of range, a control" \
    "byte, 200 bytes, bytes after the line) answered 'invalid', nothing exposed"

# Not root: the socket's mode stops it, and past it the agent does.
U=65534
shim_fails user 0.0.0.0 $((P + 4)) "porthole: the guest agent's socket .*: Permission denied" \
    setpriv --reuid=$U --regid=$U --clear-groups
chmod 711 "$T"; chmod 666 "$GPROXY"	# open to all: the agent decides
shim_fails user2 0.0.0.0 $((P + 4)) "porthole: guest agent refuses 0\.0\.0\.0:$((P + 4)): only root may ask" \
    setpriv --reuid=$U --regid=$U --clear-groups
chmod 600 "$GPROXY"; chmod 700 "$T"
log_has guest "proxy socket: uid $U (pid [0-9]*) refused: root only" ||
    fail "the agent did not log the refusal"
[ -z "$(host_listeners $((P + 4)))" ] || fail "port $((P + 4)) on the host"
pass "a non-root caller is refused (the socket's mode, then SO_PEERCRED)"

# No guest agent: plain docker-proxy.
kill_wait TERM "$GUEST_PID"
wait_for 5 "the proxy socket to go" sh -c "! test -e '$GPROXY'"
shim_ok plain 127.0.0.1 $((P + 5))
vm_page() { in_vm curl -sf --max-time 2 "http://127.0.0.1:$((P + 5))/" |
    grep -q container; }
wait_for 5 "the page through plain docker-proxy in the VM" vm_page
[ -z "$(host_listeners $((P + 5)))" ] || fail "port $((P + 5)) on the host"
pass "no guest agent: plain docker-proxy, 0 on fd 3 and traffic flows"
