#!/bin/bash
# Budgets per guest, not per endpoint: a hostile guest at its own caps
# shuts no other guest out.
#
# (a) Connections without a first frame (--max-unidentified) count per
# peer: per vsock CID on a vsock endpoint, per endpoint on a Unix one.
# Here each guest has its own Unix endpoint (as under Firecracker or
# Cloud Hypervisor): the hostile one holds far more silent connections
# than its cap, renewing them as the host drops them, while the good
# guest reconnects and moves data over fresh data streams (no pool: every
# client connection needs one) through its own endpoint.  The per-CID
# case needs two vsock peers, and over vsock_loopback every peer is CID
# 1: tests/check_peers.c holds one CID at its cap beside another.
. "$(dirname "$0")/lib.sh"

PHSTORM=$PH_ROOT/tests/tools/phstorm
EVIL=$T/evil.sock
evil() { "$PY" "$PH_ROOT/tests/tools/evilguest.py" "$EVIL" "$@"; }
port=$(free_port)
vm_create
start_host -l "unix:$EVIL" --max-unidentified 32
start_guest -P 0
bg echo ip netns exec "$NS" "$PHSTORM" echo 127.0.0.1 "$port"
wait_for 5 "the good guest's forward" host_listens 127.0.0.1 "$port"

bg flood "$PY" "$PH_ROOT/tests/tools/evilguest.py" "$EVIL" \
    no-hello-hold 200
flood=$LAST_PID
wait_for 10 "the hostile guest's silent connections" grep -q holding \
    "$T/flood.log"
wait_for 10 "its cap hit" grep -q "$EVIL: too many connections without a \
first frame: a new one dropped (limit max-unidentified 32" "$T/host.log"

"$PHSTORM" run 127.0.0.1 "$port" 20 65536 >"$T/run1.out" ||
    fail "the good guest's data: $(cat "$T/run1.out")"
grep -q "complete 20 cut 0 corrupt 0" "$T/run1.out" ||
    fail "the good guest's data: $(cat "$T/run1.out")"
pass "hostile guest at its cap of 32 silent connections: the good guest" \
    "moved 20 connections' data over 20 new data streams"

# The good guest reconnects: its HELLO is a new connection too.
kill_wait TERM "$GUEST_PID"
wait_for 5 "the forward closed" sh -c "! host_listens 127.0.0.1 $port"
: >"$T/guest.log"
start_guest -P 0
wait_for 5 "the good guest's forward again" host_listens 127.0.0.1 "$port"
"$PHSTORM" run 127.0.0.1 "$port" 5 4096 >"$T/run2.out" &&
    grep -q "complete 5 cut 0 corrupt 0" "$T/run2.out" ||
    fail "after reconnecting: $(cat "$T/run2.out")"
kill -0 "$flood" || fail "the flood stopped early"
n=$(metric 'porthole_limit_hits_total{limit="max-unidentified"}')
[ "$n" -gt 0 ] || fail "no max-unidentified hits counted"
t=$(metric 'porthole_limit_hits_total{limit="max-unidentified-total"}')
[ "$t" = 0 ] || fail "the total ceiling was hit: $t"
pass "the good guest reconnected and moved data while the hostile one" \
    "hit its own cap $n times (the total ceiling not at all)"
kill_wait TERM "$flood"

# (b) A guest's UDP queues have one byte budget (--max-udp-buffer, or
# its guest block's max-udp-buffer, the lower): a guest that exposes many
# UDP ports and never reads its data streams, flooded by clients, makes
# the host hold no more than that (plus a constant), where 128 flows of
# 256 KiB each would be 32 MiB.
HOG=$T/hog.sock
stop_host() { kill_wait TERM "$HOST_PID"; }
stop_host
kill_wait TERM "$GUEST_PID"
rm -f "$SOCK" "$API"
: >"$T/host.log"
cat >"$T/policy" <<EOF2
guest unix:$HOG {
	max-udp-buffer 2097152
}
EOF2
start_host -l "unix:$HOG" --max-udp-buffer 4194304 -f "$T/policy"
ubase=$(free_port)
bg hog "$PY" "$PH_ROOT/tests/tools/evilguest.py" "$HOG" udp-hog 8 "$ubase"
hog=$LAST_PID
wait_for 10 "the hog's 8 UDP forwards" grep -q "exposed 8" "$T/hog.log"
rss0=$(rss_kb "$HOST_PID")
"$PY" - "$ubase" <<'PY' || fail "the UDP flood"
import socket, sys, time
base = int(sys.argv[1])
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
blob = b"x" * 60000
# Paced, so that the host's socket buffers (not porthole) drop little.
for rnd in range(12):
    for p in range(8):
        for s in socks:
            s.sendto(blob, ("127.0.0.1", base + p))
            time.sleep(0.002)
PY
wait_for 10 "datagrams dropped over the budget" sh -c \
    "grep -q 'datagram dropped: .* (policy line 2) (limit max-udp-buffer \
2097152' '$T/host.log'"
dropped=$(metric porthole_udp_dropped_total)
hits=$(metric 'porthole_limit_hits_total{limit="max-udp-buffer"}')
[ "$dropped" -gt 0 ] && [ "$hits" -gt 0 ] ||
    fail "no drops counted: dropped $dropped, hits $hits"
flows=$(grep -c "udp flow from .* on forward [0-9]*: connection" \
    "$T/host.log")
rss1=$(rss_kb "$HOST_PID")
check_rss_growth "with the UDP flood held, host" "$rss0" "$rss1" \
    $((2048 + 4096))
pass "UDP flood into $flows flows of a guest that reads none: RSS" \
    "$rss0 -> $rss1 KiB (its budget 2 MiB, policy line 2)," \
    "$dropped datagrams dropped"
kill -0 "$HOST_PID" || fail "the host agent died"
kill_wait TERM "$hog"

# (c) Warnings a guest's input triggers go through one limiter, per guest
# and kind: 2000 data streams for connections that do not exist give at
# most 5 lines a second, and as many API error events, and a line with
# the count of the rest.
bg events curl -sSN --unix-socket "$API" http://localhost/v1/events
events=$LAST_PID
wait_for 5 "the event stream" sh -c "[ \$(curl -sS --unix-socket '$API' \
    http://localhost/v1/status | "$PY" -c \
    'import json,sys; print(json.load(sys.stdin)[\"event_clients\"])') = 1 ]"
t0=$(date +%s)
out=$("$PY" "$PH_ROOT/tests/tools/evilguest.py" "$HOG" \
    flood-data-unknown 2000)
[ "$out" = "sent 2000" ] || fail "the flood: $out"
# A slow host spreads the flood over several 1 s windows, each with its
# 5 lines and its summary at its end: wait for every stream to be told.
stray_told() {
	lines=$(grep -c "data stream for unknown connection" "$T/host.log")
	rest=$(sed -nE 's/.*: ([0-9]+) more stray-stream warnings not logged/\1/p' \
	    "$T/host.log" | awk '{ n += $1 } END { print n + 0 }')
	[ $((lines + rest)) -ge 2000 ]
}
wait_for 10 "all 2000 stray streams logged or counted" stray_told
secs=$(($(date +%s) - t0 + 2))
stray_told
[ $((lines + rest)) -eq 2000 ] ||
    fail "$lines lines + $rest not logged is not 2000"
[ "$lines" -le $((5 * secs)) ] ||
    fail "$lines warning lines in about $secs s"
stray_events() {
	evs=$(grep -c '"event": *"error".*data stream for unknown' \
	    "$T/events.log")
	[ "$evs" -ge "$lines" ]
}
wait_for 5 "an error event for each of the $lines lines" stray_events
wait_for 5 "the last summary's event" grep -q "more stray-stream" \
    "$T/events.log"
stray_events
[ "$evs" -eq "$lines" ] || fail "$evs error events for $lines lines"
pass "2000 stray data streams in about $secs s: $lines lines and error" \
    "events, $rest counted in summaries"
kill_wait TERM "$events"
