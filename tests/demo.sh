#!/bin/bash
# make demo: both agents with a simulated VM.  The "VM" is a network
# namespace holding porthole-guest and two web servers; the vsock is a
# Unix socket.  Shows a guest bind on 0.0.0.0 arriving on the host as
# 127.0.0.1, a request through it, portholectl listing the forwards, and
# the same bind refused when the policy is tightened live through the
# API, with the events as they happen and the verdicts seen in the VM.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (it creates a network namespace)" >&2
	exit 1
fi
NS=porthole-demo-$$
T=$(mktemp -d /tmp/porthole-demo.XXXXXX)
SOCK=$T/vsock.sock
API=$T/api.sock
GSTATUS=$T/guest-status.sock
PIDS=()
cleanup() {
	exec 2>/dev/null
	kill "${PIDS[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for() {	# wait_for SECONDS COMMAND...
	local n=$(( $1 * 50 ))
	shift
	until "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || { echo "demo: timed out waiting for: $*" >&2; exit 1; }
		sleep 0.02
	done
}
host_agent() {
	host-agent/porthole-host -d -l "unix:$SOCK" -a "unix:$API" \
	    -S "$T/socks" "$@" >"$T/host.log" 2>&1 &
	HOST=$!
	PIDS+=("$HOST")
	wait_for 5 test -S "$SOCK"
}
# show_log NAME [FROM-LINE]
show_log() { tail -n "+${2:-1}" "$T/$1.log" | sed "s/^/  $1 | /"; }

say "A simulated VM: network namespace $NS, vsock = unix:$SOCK"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
mkdir -p "$T/www"
echo "Hello from a web server inside the VM" >"$T/www/index.html"

say "porthole-host on the host (default bind policy: loopback)"
host_agent
ctl() { ctl/portholectl -a "unix:$API" "$@"; }
ctl events >"$T/events.txt" 2>/dev/null &
EVENTS=$!
PIDS+=("$EVENTS")
wait_for 5 sh -c "curl -s --unix-socket $API http://localhost/v1/status |
    grep -q '\"event_clients\":1'"
echo "  (and portholectl events, following it in the background)"
say "porthole-guest in the VM"
ip netns exec "$NS" guest-agent/porthole-guest -d -c "unix:$SOCK" \
    -s "$GSTATUS" -r none >"$T/guest.log" 2>&1 &
PIDS+=($!)
wait_for 5 grep -q "connected to host" "$T/guest.log"

say "In the VM, a dev server binds 0.0.0.0:18080, another 127.0.0.1:19090"
ip netns exec "$NS" python3 -m http.server 18080 --bind 0.0.0.0 \
    --directory "$T/www" >/dev/null 2>&1 &
DEV=$!
PIDS+=("$DEV")
ip netns exec "$NS" python3 -m http.server 19090 --bind 127.0.0.1 \
    --directory "$T/www" >/dev/null 2>&1 &
PIDS+=($!)
wait_for 5 sh -c "ss -Hltn | grep -q '127.0.0.1:18080 '"
wait_for 5 sh -c "ss -Hltn | grep -q '127.0.0.1:19090 '"
show_log host
show_log guest

say "On the host, ss -ltn: the 0.0.0.0 bind is on 127.0.0.1 only"
ss -ltn | grep -E 'State|:18080|:19090' | sed 's/^/  /'

say "A request from the host: curl http://127.0.0.1:18080/"
curl -s http://127.0.0.1:18080/ | sed 's/^/  /'

say "portholectl ls: every forward, its verdict and why"
ctl ls | sed 's/^/  /'

say "Tighten the policy live: portholectl policy refuse"
from=$(( $(wc -l <"$T/guest.log") + 1 ))
ctl policy refuse | sed 's/^/  /'
wait_for 10 grep -q "refused by host" "$T/guest.log"
say "The guest is told why (porthole-guest log):"
show_log guest "$from"
say "On the host now: 18080 refused, 19090 (a loopback bind) still forwarded"
ss -ltn | grep -E 'State|:18080|:19090' | sed 's/^/  /'
curl -s -o /dev/null -w '  curl 127.0.0.1:19090 -> HTTP %{http_code}\n' \
    http://127.0.0.1:19090/
curl -s -o /dev/null -w '  curl 127.0.0.1:18080 -> HTTP %{http_code}' \
    http://127.0.0.1:18080/ || echo " (connection refused: not forwarded)"
ctl ls | sed 's/^/  /'

say "Inside the VM: porthole-guest status"
ip netns exec "$NS" guest-agent/porthole-guest -s "$GSTATUS" status |
    sed 's/^/  /'

say "The dev server on 18080 stops; portholectl events saw it all:"
kill "$DEV"
wait_for 5 grep -q "forward-closed" "$T/events.txt"
sed 's/^/  /' "$T/events.txt"
say "Demo done; everything it started is stopped and removed."
