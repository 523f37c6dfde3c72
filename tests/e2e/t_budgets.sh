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
# case needs two real vsock peers: the VM test (tests/vm) is where it
# can run; over vsock_loopback every peer is CID 1.
. "$(dirname "$0")/lib.sh"

PHSTORM=$PH_ROOT/tests/tools/phstorm
EVIL=$T/evil.sock
evil() { python3 "$PH_ROOT/tests/tools/evilguest.py" "$EVIL" "$@"; }
port=$(free_port)
vm_create
start_host -l "unix:$EVIL" --max-unidentified 32
start_guest -P 0
bg echo ip netns exec "$NS" "$PHSTORM" echo 127.0.0.1 "$port"
wait_for 5 "the good guest's forward" host_listens 127.0.0.1 "$port"

bg flood python3 "$PH_ROOT/tests/tools/evilguest.py" "$EVIL" \
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
