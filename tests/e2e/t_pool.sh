#!/bin/bash
# The stream pool (protocol 2): the guest keeps streams open in advance,
# a client takes one and the pool is refilled; a burst larger than the
# pool is served too (by OPEN and new streams); -P 0 turns the pool off.
# (Streams going back to the pool, protocol 4: t_reuse.sh.)
. "$(dirname "$0")/lib.sh"

port=$(free_port)
vm_create
start_host
start_guest -P 4
bg server ip netns exec "$NS" "$PHTEST" serve 127.0.0.1 "$port" halfreply 100
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"

# The host's ends of the guest's connections: control channel and pool.
# (An accepted Unix socket lives in the connecting side's namespace.)
guest_conns() {
	[ "$(in_vm ss -Hx state established src "$SOCK" | wc -l)" = "$1" ]
}
# With protocol 4 a stream whose client is done comes back to the pool,
# beside the one that replaced it (up to twice the pool: t_reuse).
guest_conns_ge() {
	[ "$(in_vm ss -Hx state established src "$SOCK" | wc -l)" -ge "$1" ]
}
wait_for 5 "the control channel and 4 pooled streams" guest_conns 5

"$PHTEST" client 127.0.0.1 "$port" halfreply 100 100 >"$T/one.out" ||
    fail "client: $(cat "$T/one.out")"
log_has host "PAIR sent for pooled stream" || fail "the client did not take a pooled stream"
log_has host "OPEN sent" &&
    fail "a client asked for a new stream with the pool full"
wait_for 5 "the pool refilled" guest_conns_ge 5
pass "a client takes a pooled stream; the pool is refilled"

# Twice as many clients at once as the pool holds, each with its own
# bytes.  At once by construction, whatever the machine's speed: the guest
# is stopped while they connect, so it cannot refill the pool between
# them; the host takes the 4 pooled streams and must ask for the other 36
# with OPEN.  Each client holds its connection (phtest -w) until all 40
# are paired, then all exchange their bytes.
host_took() {
	[ "$(grep -c 'client for forward' "$T/host.log")" -ge "$1" ]
}
clients_said() {
	[ "$(cat "$T"/burst.*.out | grep -cx "$1")" = "$2" ]
}
kill -STOP "$GUEST_PID"
pids=()
for i in $(seq 1 40); do
	"$PHTEST" client -w 127.0.0.1 "$port" halfreply $((1000 + i)) 100 \
	    >"$T/burst.$i.out" 2>&1 &
	pids+=($!)
done
wait_for 10 "40 clients connected" clients_said connected 40
wait_for 10 "the host to take 40 more clients" host_took 41
kill -CONT "$GUEST_PID"
# control channel and 40 paired streams; with protocol 4 the 4 pooled
# ones taken are not replaced, since they come back when their clients
# are done (t_reuse); the 36 new ones come back into the pool too
wait_for 10 "40 streams paired" guest_conns 41
kill -USR1 "${pids[@]}"
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "burst client $((i + 1)): $(cat \
	    "$T/burst.$((i + 1)).out")"
done
log_has host "OPEN sent" ||
    fail "40 clients at once never went beyond the pool"
# Every client's bytes reached the server: its count and digest.
for i in $(seq 1 40); do
	sent=$(awk '$2 == "sent" { print $3, $5 }' "$T/burst.$i.out")
	grep -q "^server received ${sent% *} digest ${sent#* } " \
	    "$T/server.log" || fail "burst client $i's bytes (${sent:-none})" \
	    "never reached the server"
done
wait_for 5 "the pool refilled after the burst" guest_conns_ge 5
pass "40 clients at once: pooled and new streams, all served"

# A guest restart: the old session's streams go, the new session's come.
kill_wait 9 "$GUEST_PID"
: >"$T/guest.log"
start_guest -P 2
wait_for 5 "the new session's 2 pooled streams" guest_conns 3
"$PHTEST" client 127.0.0.1 "$port" halfreply 10 100 >"$T/two.out" ||
    fail "client after a guest restart: $(cat "$T/two.out")"
pass "a restarted guest brings its own pool"

kill_wait 9 "$GUEST_PID"
: >"$T/host.log"
start_guest -P 0
wait_for 5 "the forward again" host_listens 127.0.0.1 "$port"
guest_conns 1 || fail "-P 0 still opened pooled streams"
"$PHTEST" client 127.0.0.1 "$port" halfreply 10 100 >"$T/three.out" ||
    fail "client without a pool: $(cat "$T/three.out")"
log_has host "OPEN sent" ||
    fail "without a pool the client did not ask for a stream"
pass "-P 0: no pool, a new stream per client"
