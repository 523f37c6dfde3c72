#!/bin/bash
# The same forward over real AF_VSOCK, where the kernel has a loopback
# transport (vsock_loopback: CID 1 reaches this machine's own listeners).
# Without it (as on the CI machines) this test skips: the full vsock
# proof boots its own VM (tests/vm/run: make check-vsock, and part of
# make check).  It never uses any CID but 1, so it can never reach this
# machine's own hypervisor.
. "$(dirname "$0")/lib.sh"

[ -d /sys/module/vsock_loopback ] ||
    skip "no vsock_loopback in this kernel (the VM test covers vsock)"

vport=$(( 50000 + $$ % 10000 ))
port=$(free_port)
vm_create
# Both agents are here: the guest is CID 1, accepted only when told.
bg host "$PH_HOST" -d -v -l "vsock:$vport" -a "unix:$API" --local-peers
HOST_PID=$LAST_PID
wait_for 5 "the host agent" grep -q "listening for guests on vsock:$vport" \
    "$T/host.log"
bg guest ip netns exec "$NS" "$PH_GUEST" -d -v -c "vsock:1:$vport" -s "$GSTATUS"
wait_for 5 "the guest to connect" grep -q "connected to host" "$T/guest.log"
grep -q "(cid 1) connected" "$T/host.log" || fail "host did not log the peer CID"
bg server ip netns exec "$NS" "$PHTEST" serve 0.0.0.0 "$port" halfreply 1048576
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
"$PHTEST" client 127.0.0.1 "$port" halfreply 1048576 1048576 >/dev/null ||
    fail "data did not cross AF_VSOCK intact"
pass "forward over AF_VSOCK CID 1: rewritten to loopback, 1 MiB each way"
