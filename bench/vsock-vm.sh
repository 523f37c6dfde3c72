#!/bin/bash
# bench/vsock-vm.sh: boots the VM of the vsock test (tests/vm/lib.sh:
# QEMU TCG, Debian's kernel with vsock_loopback) with bench/vsock as its
# script, and prints the table it makes: porthole over AF_VSOCK beside a
# socat pair over AF_VSOCK and a direct TCP connection, as ratios of
# medians.  The initramfs holds the agents exactly as built here, phbench,
# and this machine's socat and iperf3 with their libraries.
#
# Usage: bench/vsock-vm.sh [REPEAT [SECONDS]] (default 3 runs of 3 s).
# Needs qemu-system-x86_64, socat and iperf3 (mk/deps.sh bench-vsock) and
# `make all bench/tools/phbench`.  It prints figures, and fails only if
# the VM could not run the benchmark.
set -eu
cd "$(dirname "$0")/.."
REPEAT=${1:-3}
SECS=${2:-3}
case "$REPEAT$SECS" in
*[!0-9]*) echo "usage: bench/vsock-vm.sh [REPEAT [SECONDS]]" >&2; exit 2 ;;
esac
die() {
	echo "bench/vsock-vm.sh: $*" >&2
	exit 1
}
. tests/vm/lib.sh
BINS="host-agent/porthole-host guest-agent/porthole-guest bench/tools/phbench"
for b in $BINS; do
	[ -x "$b" ] || die "build first: make all bench/tools/phbench"
done
for c in qemu-system-x86_64 socat iperf3; do
	command -v $c >/dev/null || die "needs $c (mk/deps.sh bench-vsock)"
done
# Three configurations, three measurements, REPEAT times, SECS each, under
# TCG on a loaded machine: generous, since slow is not a failure here.
DEADLINE=$(( (REPEAT * 9 * (SECS + 5) + 120) * PH_SLOW ))

echo "bench/vsock-vm.sh: $REPEAT runs of ${SECS}s in a TCG VM; host load:" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
vm_fetch
vm_root
cp bench/vsock "$R/ph/bench.sh"
vm_add_progs $BINS "$(command -v socat)" "$(command -v iperf3)"
vm_pack
vm_boot $((DEADLINE + 30)) /ph/bench.sh "$DEADLINE" \
    "ph.repeat=$REPEAT" "ph.secs=$SECS"

grep '^bench' "$T/console.txt" >&2 || true
if grep -q '^PH-FAIL' "$T/console.txt" || ! vm_ended benchmark; then
	echo "---- VM console (last 60 lines; PH_KEEP=1 keeps it whole)"
	tail -n 60 "$T/console.txt"
	exit 1
fi
echo "bench/vsock-vm.sh: $(basename "$KDIR"), vsock_loopback, 1 vCPU (TCG);" \
    "boot and benchmark ${BOOT_MS} ms; host load: $(cut -d' ' -f1-3 /proc/loadavg)"
sed -n 's/^PH-BENCH //p' "$T/console.txt"
