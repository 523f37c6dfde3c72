#!/bin/bash
# The stream pool (protocol 2): the guest keeps streams open in advance,
# a client takes one and the pool is refilled; a burst larger than the
# pool is served too (by OPEN and new streams); -P 0 turns the pool off.
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
wait_for 5 "the control channel and 4 pooled streams" guest_conns 5

"$PHTEST" client 127.0.0.1 "$port" halfreply 100 100 >"$T/one.out" ||
    fail "client: $(cat "$T/one.out")"
log_has host "PAIR sent for pooled stream" || fail "the client did not take a pooled stream"
log_has host "OPEN sent" &&
    fail "a client asked for a new stream with the pool full"
wait_for 5 "the pool refilled" guest_conns 5
pass "a client takes a pooled stream; the pool is refilled"

# Twice as many clients at once as the pool holds, each with its own bytes.
pids=()
for i in $(seq 1 40); do
	"$PHTEST" client 127.0.0.1 "$port" halfreply $((1000 + i)) 100 \
	    >"$T/burst.$i.out" 2>&1 &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "burst client $((i + 1)): $(cat \
	    "$T/burst.$((i + 1)).out")"
done
log_has host "OPEN sent" ||
    fail "40 clients at once never went beyond the pool"
wait_for 5 "the pool refilled after the burst" guest_conns 5
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
