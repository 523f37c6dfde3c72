#!/bin/bash
# Stream reuse (protocol 4): a data stream that carried a connection to a
# clean end goes back to the pool and carries the next one.  200
# sequential clients are served by the guest's first pooled streams, the
# very same sockets, with every byte exact; bulk data crosses reused
# streams exact too; a reset connection's stream is never reused.
. "$(dirname "$0")/lib.sh"

base=$(free_port)
port=$base bulk=$((base + 1)) rst=$((base + 2)) exp=$((base + 3))
vm_create
start_host
start_guest -P 4
bg server ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$port" halfreply 1000
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"

# The host's ends of the guest's connections (control channel and
# streams), by socket inode: an accepted Unix socket lives in the
# connecting side's namespace, and stays until the host closes it.
guest_socks() {
	in_vm ss -Hx state established src "$SOCK" | awk '{ print $5 }' | sort
}
guest_conns() { [ "$(guest_socks | wc -l)" = "$1" ]; }
guest_conns_ge() { [ "$(guest_socks | wc -l)" -ge "$1" ]; }
# Read without the strict parser (t_metrics has it): once per client of 200.
returned() {
	api /metrics | awk '$1 == "porthole_streams_returned_total" { print $2 }'
}
returned_is() { [ "$(returned)" = "$1" ]; }

wait_for 5 "the control channel and 4 pooled streams" guest_conns 5
log_has guest "protocol 6" || fail "the agents do not speak protocol 6 (4 and up reuse streams)"

guest_socks >"$T/socks.before"

# A stream taken is not replaced while it carries its connection: it
# comes back when its client is done.
"$PHTEST" client 127.0.0.1 "$port" halfreply 100 1000 >"$T/c.out" 2>&1 ||
    fail "first client: $(cat "$T/c.out")"
wait_for 10 "the first stream back in the pool" returned_is 1

# 200 more clients, one after another, each with its own byte count (so its
# own digest) and a half-close: it sends, shuts down writing, then reads
# the server's 1000 bytes to EOF, checked byte for byte by phtest.
for i in $(seq 1 200); do
	"$PHTEST" client 127.0.0.1 "$port" halfreply $((100 + i)) 1000 \
	    >"$T/c.out" 2>&1 || fail "client $i: $(cat "$T/c.out")"
	sent=$(awk '$2 == "sent" { print $3, $5 }' "$T/c.out")
	wait_for 5 "client $i's bytes at the server" grep -q \
	    "^server received ${sent% *} digest ${sent#* } " "$T/server.log"
	# sequential: the next client comes once this one's stream is back
	# (a busy machine may lag the hand-back, never skip it)
	wait_for 5 "client $i's stream back in the pool" \
	    returned_is $((i + 1))
done
wait_for 10 "200 streams back in the pool" returned_is 201
wait_for 5 "the pool as it was" guest_conns 5
guest_socks >"$T/socks.after"
cmp -s "$T/socks.before" "$T/socks.after" ||
    fail "the guest opened new streams: $(tr '\n' ' ' <"$T/socks.before")" \
    "before, $(tr '\n' ' ' <"$T/socks.after") after"
log_has host "OPEN sent" && fail "a sequential client asked for a new stream"
pass "201 sequential clients on the same 4 pooled streams, bytes exact"

# 20 clients at once (held open until all are connected, phtest -w),
# each with its own bytes: the pool keeps at most four times its 4 of
# the streams that come back, and the rest are closed on both sides
# (RELEASE with stream 0).
pids=()
for i in $(seq 1 20); do
	"$PHTEST" client -w 127.0.0.1 "$port" halfreply $((2000 + i)) 1000 \
	    >"$T/burst.$i.out" 2>&1 &
	pids+=($!)
done
clients_said() { [ "$(cat "$T"/burst.*.out | grep -cx connected)" = 20 ]; }
wait_for 10 "20 clients connected" clients_said
kill -USR1 "${pids[@]}"
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "burst client $((i + 1)): $(cat \
	    "$T/burst.$((i + 1)).out")"
	sent=$(awk '$2 == "sent" { print $3, $5 }' "$T/burst.$((i + 1)).out")
	wait_for 5 "burst client $((i + 1))'s bytes at the server" grep -q \
	    "^server received ${sent% *} digest ${sent#* } " "$T/server.log"
done
wait_for 10 "the pool at four times its size, the rest closed" \
    guest_conns 17
wait_for 10 "no connection left" no_conns
r0=$(returned)
pass "20 clients at once over pooled and returned streams, bytes exact"

# Bulk data both ways (spliced) over reused streams: the count in SHUT
# ends each direction exactly, whatever the splices brought.
bg bulkserver ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$bulk" \
    halfreply 3000017
wait_for 5 "the bulk forward" host_listens 127.0.0.1 "$bulk"
for i in 1 2 3 4 5 6; do
	"$PHTEST" client 127.0.0.1 "$bulk" halfreply $((5000000 + i)) 3000017 \
	    >"$T/b.out" 2>&1 || fail "bulk client $i: $(cat "$T/b.out")"
	sent=$(awk '$2 == "sent" { print $3, $5 }' "$T/b.out")
	wait_for 10 "bulk client $i's bytes at the server" grep -q \
	    "^server received ${sent% *} digest ${sent#* } " \
	    "$T/bulkserver.log"
done
wait_for 10 "the bulk streams back in the pool" returned_is $((r0 + 6))
pass "5 MB up and 3 MB down, 6 times, over reused streams, exact"

# A reset, either way: its stream is closed, never pooled again.
bg rstserver ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$rst" reset
bg expserver ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$exp" expect-reset
wait_for 5 "the reset forwards" sh -c "ss -Hltn | grep -q ':$rst ' &&
    ss -Hltn | grep -q ':$exp '"
out=$("$PHTEST" client 127.0.0.1 "$rst" expect-reset) ||
    fail "server reset did not reach the client as a reset: $out"
"$PHTEST" client 127.0.0.1 "$exp" reset || fail "client could not reset"
wait_for 5 "the server to see the client's reset" grep -qE \
    "server (reset|eof)" "$T/expserver.log"
grep -q "server reset" "$T/expserver.log" ||
    fail "client reset reached the server as: $(cat "$T/expserver.log")"
wait_for 10 "the reset connections to end" no_conns
returned_is $((r0 + 6)) || fail "a reset connection's stream was pooled again" \
    "($(returned) returned)"
# The guest replaces the streams the resets took.
wait_for 5 "the pool after the resets" guest_conns_ge 5
"$PHTEST" client 127.0.0.1 "$port" halfreply 77 1000 >"$T/c.out" 2>&1 ||
    fail "client after the resets: $(cat "$T/c.out")"
wait_for 10 "a clean connection's stream back in the pool" returned_is $((r0 + 7))
pass "reset connections close their streams; clean ones still come back"
