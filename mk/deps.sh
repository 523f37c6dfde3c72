#!/bin/sh
# Makes sure the Debian packages a make target needs are installed.
# As root they are installed with apt-get; otherwise the exact command is
# printed and we stop.  Usage: mk/deps.sh
# build|check|vsock|demo|fuzz|bench|bench-vsock
set -eu

build="gcc make pkg-config libevent-dev libbsd-dev libmnl-dev libjansson-dev check libcap-ng-dev libsodium-dev libnftnl-dev"
# The vsock test boots a VM (tests/vm/run): QEMU here, and the kernel and
# busybox it fetches itself with apt-get download (no install).
vm="qemu-system-x86"
case "${1:-build}" in
build)	pkgs="$build" ;;
demo)	pkgs="$build iproute2 curl python3 procps" ;;
check)	pkgs="$build iproute2 curl python3 procps iperf3 coreutils util-linux"
	# valgrind and clang (libFuzzer) for the runs make check adds
	pkgs="$pkgs valgrind clang"
	# man page lint (and the system pages they refer to), unit checks,
	# the inittab line under a real busybox init
	pkgs="$pkgs mandoc man-db manpages manpages-dev systemd busybox $vm"
	# a real DNS exchange through a UDP forward
	pkgs="$pkgs dnsmasq-base bind9-dnsutils"
	# the API tests: a Prometheus text parser, a second user
	pkgs="$pkgs python3-prometheus-client passwd"
	# DNAT rules made by the real tools (t_dnat.sh): iptables-nft,
	# nft, and CNI's portmap plugin as the kubelet runs it
	pkgs="$pkgs iptables nftables containernetworking-plugins"
	# the real dockerd, run in a namespace by tests/e2e/lib-dockerd.sh
	# (t_dockerd, t_dockerd_shim, t_usock_docker)
	pkgs="$pkgs docker.io"
	# the host's real ssh-agent reached from the VM (t_reach); the
	# agents of earlier protocols built from the history (t_compat)
	pkgs="$pkgs openssh-client git" ;;
vsock)	pkgs="$build $vm" ;;
fuzz)	pkgs="$build clang" ;;
bench)	pkgs="$build iproute2 python3 procps iperf3 socat haproxy util-linux linux-perf" ;;
# bench/vsock-vm.sh copies socat and iperf3 into the VM it boots.
bench-vsock)	pkgs="$build $vm socat iperf3" ;;
*)	echo "mk/deps.sh: unknown target $1" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "porthole: missing Debian packages:$missing" >&2
	echo "porthole: as root, run: $cmd" >&2
	exit 1
fi
echo "porthole: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet, or stale ones.
if ! $cmd >/tmp/porthole-apt.log 2>&1; then
	apt-get update -q >>/tmp/porthole-apt.log 2>&1 || true
	if ! $cmd >>/tmp/porthole-apt.log 2>&1; then
		tail -20 /tmp/porthole-apt.log >&2
		echo "porthole: apt-get failed (log in /tmp/porthole-apt.log)" >&2
		exit 1
	fi
fi
