# Shared set-up for the end-to-end tests.  A VM is simulated by a network
# namespace holding the guest agent and the servers; vsock is simulated by
# a Unix socket on the shared filesystem.  The host agent and the clients
# stay in the root namespace.  Every wait is for a real condition, with a
# deadline; nothing sleeps in the hope that something has happened.
#
# shellcheck shell=bash

set -eu
PH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PH_HOST=$PH_ROOT/host-agent/porthole-host
PH_GUEST=$PH_ROOT/guest-agent/porthole-guest
PH_CTL=$PH_ROOT/ctl/portholectl
# Debian's Python: its packages (python3-prometheus-client), and it
# starts faster than a version manager's shim.
PY=/usr/bin/python3
PHTEST=$PH_ROOT/tests/tools/phtest
PH_TEST=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/ph-$PH_TEST.XXXXXX")
# Unique even beside a namespace another run left behind.
NS=ph-$$-${T##*.}
SOCK=$T/vsock.sock
API=$T/api.sock		# the host agent's API, never the shared default
SOCKDIR=$T/socks	# guests' Unix sockets on the host, likewise
GSTATUS=$T/guest-status.sock
GPROXY=$T/guest-proxy.sock	# the guest's proxy socket, never the default
PIDS=()
AGENTS=()	# every agent started: stopped gracefully at the end
HOST_PID=
GUEST_PID=
# Under valgrind or a sanitizer the agents are slower: deadlines scale.
PH_SLOW=${PH_SLOW:-1}
# No deadline is shorter than this many seconds (times PH_SLOW): a
# passing test never waits for one, and a busy machine can be 50 times
# slower than an idle one (a Python server took 6 s to start beside one
# CPU hog per core and other builds).
PH_WAIT_MIN=30

# ph_secs SECONDS: a deadline of SECONDS on an idle machine, as it is
# here (at least PH_WAIT_MIN, times PH_SLOW).
ph_secs() {
	local s=$1
	[ "$s" -ge "$PH_WAIT_MIN" ] || s=$PH_WAIT_MIN
	echo $(( s * PH_SLOW ))
}

# Agents still running are stopped with SIGTERM, so that valgrind and the
# sanitizers can report leaks at their exit.
ph_stop_agents() {
	local pid n
	for pid in "${AGENTS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		n=$(( 100 * PH_SLOW ))
		while kill -0 "$pid" 2>/dev/null &&
		    ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; do
			n=$((n - 1))
			[ $n -gt 0 ] || break
			sleep 0.05
		done
	done
}

# A sanitizer or valgrind report in any log fails the test.
ph_check_reports() {
	local f bad=0
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|Sanitizer has encountered a fatal error|runtime error:|ERROR SUMMARY: [1-9]|definitely lost: [1-9]" "$f"; then
			echo "FAIL $PH_TEST: $(basename "$f") has a sanitizer or valgrind report:"
			grep -E -A12 "ERROR|fatal error|runtime error|definitely lost" "$f" | head -40
			bad=1
		fi
	done
	return $bad
}

# ph_at_exit FUNCTION: a test's own clean-up (a second namespace, a
# user), run once the agents and every process started are gone.
PH_AT_EXIT=()
ph_at_exit() {
	PH_AT_EXIT+=("$1")
}

# ph_before_exit FUNCTION: a test's own graceful stop, run first, while
# everything still runs (a dockerd removing its containers); what it
# leaves running is killed, and waited for, after it.
PH_BEFORE_EXIT=()
ph_before_exit() {
	PH_BEFORE_EXIT+=("$1")
}

ph_cleanup() {
	local pid f rc=$?
	exec 2>/dev/null	# no job-control notices for what we kill
	for f in "${PH_BEFORE_EXIT[@]}"; do
		"$f" || true
	done
	ph_stop_agents
	for pid in "${PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	for f in "${PH_AT_EXIT[@]}"; do
		"$f" || true
	done
	# A process started in the VM through a shell function (bg NAME
	# in_vm ...) outlives its killed subshell: nothing in the VM may.
	ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	ph_check_reports || rc=1
	if [ "${PH_KEEP:-}" = "" ]; then rm -rf "$T"; fi
	exit $rc
}
trap ph_cleanup EXIT

# Under PH_VALGRIND the agents run under valgrind's memcheck.
if [ -n "${PH_VALGRIND:-}" ]; then
	PH_WRAP=(valgrind --leak-check=full
	    --show-leak-kinds=definite --errors-for-leak-kinds=definite
	    --log-file="$T/valgrind-%p.log")
else
	PH_WRAP=()
fi

ph_logs() {
	local f
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f") (last 30 lines)"
		tail -n 30 "$f"
	done
}

fail() {
	echo "FAIL $PH_TEST: $*"
	ph_logs
	exit 1
}

pass() {
	echo "ok   $PH_TEST: $*"
}

skip() {
	echo "SKIP $PH_TEST: $*"
	exit 77
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds,
# SECONDS being the deadline on an idle machine (see ph_secs).
wait_for() {
	local secs what=$2 deadline
	secs=$(ph_secs "$1")
	shift 2
	deadline=$(( $(date +%s%N) + secs * 1000000000 ))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s%N)" -gt "$deadline" ]; then
			fail "timed out after ${secs}s waiting for $what"
		fi
		sleep 0.02
	done
}

# The simulated VM: its own network namespace with loopback up.
vm_create() {
	ip netns add "$NS" || fail "cannot create network namespace $NS"
	ip netns exec "$NS" ip link set lo up
}

in_vm() {
	ip netns exec "$NS" "$@"
}

# ct_create BRIDGE VM-ADDR/LEN CT-ADDR/LEN [udp]: a "container" behind the
# VM, as an engine lays one out: namespace $CT (removed at exit) on a
# veth whose VM end is BRIDGE, serving "hello from the container" over
# HTTP on port 80 and, with udp, a UDP echo on port 7.  Returns once the
# VM reaches its page.
ct_create() {
	local br=$1 vmaddr=$2 ctaddr=$3
	ip netns add "$CT" || fail "cannot create network namespace $CT"
	ph_at_exit ct_delete
	ip -n "$NS" link add "$br" type veth peer name eth0 netns "$CT"
	ip -n "$NS" addr add "$vmaddr" dev "$br"
	ip -n "$NS" link set "$br" up
	ip -n "$CT" addr add "$ctaddr" dev eth0
	ip -n "$CT" link set eth0 up
	ip -n "$CT" link set lo up
	mkdir -p "$T/ct"
	echo "hello from the container" >"$T/ct/index.html"
	bg ct-http ip netns exec "$CT" "$PY" -m http.server 80 \
	    --bind 0.0.0.0 --directory "$T/ct"
	[ "${4:-}" = udp ] && bg ct-udp ip netns exec "$CT" "$PHUDP" echo 0.0.0.0 7
	CT_ADDR=${ctaddr%/*}
	wait_for 10 "the container's HTTP server from the VM" ct_up
}
ct_up() { in_vm curl -sf --max-time 2 "http://$CT_ADDR/" | grep -q container; }
ct_delete() { ip netns del "$CT" 2>/dev/null; }

# bg LOGNAME COMMAND...: run in the background, remember the pid.
bg() {
	local log=$1
	shift
	"$@" >"$T/$log.log" 2>&1 &
	LAST_PID=$!
	PIDS+=("$LAST_PID")
}

# kill_wait SIGNAL PID: signal a process and reap it, quietly.
kill_wait() {
	kill "-$1" "$2" 2>/dev/null || true
	wait "$2" 2>/dev/null || true
}

# stop_agents NAME: stop both agents between the runs of one test (a
# policy each), their logs kept aside as *-NAME.log.old so that the next
# run's log_has reads only its own.
stop_agents() {
	kill_wait TERM "$GUEST_PID"
	kill_wait TERM "$HOST_PID"
	mv "$T/guest.log" "$T/guest-$1.log.old"
	mv "$T/host.log" "$T/host-$1.log.old"
}

start_host() {
	bg host "${PH_WRAP[@]}" "$PH_HOST" -d -v -l "unix:$SOCK" -a "unix:$API" \
	    -S "$SOCKDIR" "$@"
	HOST_PID=$LAST_PID
	AGENTS+=("$HOST_PID")
	wait_for 5 "the host agent's socket" test -S "$SOCK"
	case " $* " in
	*" -a "* | *" --api"*) ;;	# the test's own API socket
	*) wait_for 5 "the host agent's API socket" test -S "$API" ;;
	esac
}

# GUEST_PID is the guest agent's own pid: `ip netns exec` (and valgrind)
# exec the program in place, so fd_count and rss_kb read the agent.
start_guest() {
	bg guest ip netns exec "$NS" "${PH_WRAP[@]}" "$PH_GUEST" -d -v \
	    -c "unix:$SOCK" -s "$GSTATUS" -r "$GPROXY" "$@"
	GUEST_PID=$LAST_PID
	AGENTS+=("$GUEST_PID")
	wait_for 5 "the guest to connect" grep -q "connected to host" \
	    "$T/guest.log"
}

# The guest agent's privilege split (t_privdrop, t_privsep), from /proc.
# caps PID FIELD: a field of /proc/PID/status (CapEff, NoNewPrivs, ...)
caps() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# ids PID Uid|Gid: real, effective, saved and filesystem ids
ids() { awk -v k="$2:" '$1 == k { print $2, $3, $4, $5 }' "/proc/$1/status"; }
# children PID: a process's children, one a line.
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' ' '\n' |
    grep -v '^$' || true; }

# helper_caps_kept PID: the guest's privileged helper holds exactly
# CAP_DAC_READ_SEARCH, CAP_NET_ADMIN and CAP_SYS_PTRACE (bits 2, 12 and
# 19), inherits and passes on none, and has no_new_privs.
helper_caps_kept() {
	local want=0000000000081004 set
	for set in CapPrm CapEff CapBnd; do
		[ "$(caps "$1" $set)" = $want ] ||
		    fail "helper $set is $(caps "$1" $set), not $want"
	done
	for set in CapInh CapAmb; do
		[ "$(caps "$1" $set)" = 0000000000000000 ] ||
		    fail "helper $set is $(caps "$1" $set), not empty"
	done
	[ "$(caps "$1" NoNewPrivs)" = 1 ] || fail "helper: no_new_privs unset"
}

# expect_fail PATTERN COMMAND...: exit 1 and one line matching PATTERN
expect_fail() {
	local pat=$1 out rc
	shift
	set +e
	out=$("$@" 2>&1 </dev/null)
	rc=$?
	set -e
	[ "$rc" = 1 ] || fail "'$*' exited $rc, expected 1: $out"
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] ||
	    fail "'$*' said more than one line: $out"
	printf '%s\n' "$out" | grep -qE -- "$pat" ||
	    fail "'$*' said '$out', expected /$pat/"
}

# hold_clients NAME PORT N: N client connections to 127.0.0.1:PORT,
# made one after another and held open until the process (its pid in
# LAST_PID) is killed.
hold_clients() {
	bg "$1" "$PY" -c "
import signal, socket
held = [socket.create_connection(('127.0.0.1', $2)) for i in range($3)]
signal.pause()"
}

# A real HTTP server in the VM: vm_http NAME ADDR PORT
vm_http() {
	mkdir -p "$T/www"
	echo "hello from the guest" >"$T/www/index.html"
	bg "$1" ip netns exec "$NS" "$PY" -m http.server "$3" --bind "$2" \
	    --directory "$T/www"
}

# The local addresses of listening TCP sockets, as "127.0.0.1:80" or
# "[::1]:80", one per line (ss shows a dual-stack :: socket as "*:80").
tcp_listeners() {
	ss -Hltn | awk '{ print $4 }'
}

ss_addr() {
	case $1 in
	"*")	echo "*:$2" ;;
	*:*)	echo "[$1]:$2" ;;
	*)	echo "$1:$2" ;;
	esac
}

# host_listens ADDR PORT: is a host TCP socket listening on exactly that?
host_listens() {
	tcp_listeners | grep -qxF "$(ss_addr "$1" "$2")"
}

# host_listeners PORT: the host addresses listening on PORT, sorted.
host_listeners() {
	tcp_listeners | grep -E ":$1\$" | sort | tr '\n' ' ' | sed 's/ $//'
}

vm_listens() {
	in_vm ss -Hltn | awk '{ print $4 }' | grep -qxF "$(ss_addr "$1" "$2")"
}

# free_port [N]: a base port P such that P..P+N-1 (10 by default) are
# free on the host right now (tests use P, P+1, ...).  Random, so that
# parallel test runs rarely meet; checked against every socket, listening
# or not; and below the ephemeral range (32768 up), where a client's own
# port could take it.
free_port() {
	local n=${1:-10} p used
	used=$(ss -Hatun | awk '{ n = split($5, a, ":"); print a[n] }')
	while :; do
		p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (22000 - n) ))
		echo "$used" | awk -v lo="$p" -v hi=$((p + n - 1)) \
		    '$1 >= lo && $1 <= hi { found = 1 } END { exit !found }' ||
		    { echo "$p"; return; }
	done
}

log_has() {
	grep -q -- "$2" "$T/$1.log"
}

# api [CURL-ARGS...] PATH: the host agent's API over its Unix socket.
api() {
	local path=${*: -1}
	curl -sS --max-time "$(ph_secs 10)" --unix-socket "$API" \
	    "${@:1:$#-1}" "http://localhost$path"
}

ctl() {
	"$PH_CTL" -a "unix:$API" "$@"
}

# json EXPR: a Python expression over the JSON document on stdin, "d";
# strings print as they are, anything else as JSON.
json() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
r = eval("(" + sys.argv[1] + ")")
print(r if isinstance(r, str) else json.dumps(r))' "$1"
}

# metric SERIES: one sample of GET /metrics, read by a strict parser.
metric() {
	api /metrics | "$PY" "$PH_ROOT/tests/tools/promcheck.py" |
	    awk -v k="$1" '$1 == k { print $2; found = 1 }
	    END { exit !found }'
}

# No forwarded connection open on the host (a condition to wait for).
no_conns() { [ "$(metric porthole_connections_active)" = 0 ]; }

# api_status CODE [CURL-ARGS...] PATH: the request gets HTTP CODE; with a
# JSON error body saying the same unless PH_HTML_OK is set.  The body is
# left in $T/reply.
api_status() {
	local want=$1 got
	shift
	got=$(api -o "$T/reply" -w '%{http_code}' "$@") ||
	    fail "curl $* failed"
	[ "$got" = "$want" ] || fail "$*: HTTP $got, expected $want:" \
	    "$(cat "$T/reply")"
	if [ "$want" -ge 400 ] && [ -z "${PH_HTML_OK:-}" ]; then
		[ "$(json 'd["status"]' <"$T/reply")" = "$want" ] &&
		    [ -n "$(json 'd["error"]' <"$T/reply")" ] ||
		    fail "$*: no JSON error: $(cat "$T/reply")"
	fi
}

# fd_count PID / rss_kb PID: a process's open descriptors and resident KiB.
fd_count() {
	ls "/proc/$1/fd" | wc -l
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# check_rss_growth WHAT BEFORE AFTER MAX-KIB: memory stayed flat.  Under a
# sanitizer or valgrind the figures are theirs (quarantines, shadow
# memory), so the check is skipped there.
check_rss_growth() {
	[ -z "${PH_SANITIZE:-}${PH_VALGRIND:-}" ] || return 0
	[ $(($3 - $2)) -lt "$4" ] || fail "$1 RSS grew from $2 to $3 KiB"
}
