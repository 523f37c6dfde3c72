# What tests/vm/run and bench/vsock-vm.sh share: a QEMU (TCG) VM booted
# with Debian's kernel and busybox, an initramfs holding the programs this
# tree built, and a script that tests/vm/init runs inside and whose lines
# come back on the serial console.  Sourced by bash, from the top of the
# tree; the caller defines die MESSAGE (it ends the run).
#
# The VM has no usable vsock transport but the one it brings (vsock.ko,
# the virtio transport code, vsock_loopback.ko), and no devices but its
# serial console (-nodefaults): everything vsock happens in its kernel,
# never on this machine's own hypervisor.
#
# PH_VM_CACHE (default /var/cache/porthole-vm as root, else
# ~/.cache/porthole-vm) holds what was fetched; PH_KEEP=1 keeps the work
# directory; PH_SLOW=N scales every deadline.

PH_SLOW=${PH_SLOW:-1}
if [ "$(id -u)" = 0 ]; then
	CACHE=${PH_VM_CACHE:-/var/cache/porthole-vm}
else
	CACHE=${PH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/porthole-vm}
fi
# The kernel modules the VM can load, in order: vsock over loopback; the
# socket-diag modules the guest's watcher needs (a normal system loads
# them on demand); vhost_vsock, for a CID that never answers.
MODULES="vsock vmw_vsock_virtio_transport_common vsock_loopback
    inet_diag tcp_diag udp_diag vhost_iotlb vhost vhost_vsock"

T=$(mktemp -d /tmp/ph-vm.XXXXXX)
vm_cleanup() {
	if [ "${PH_KEEP:-}" = "" ]; then rm -rf "$T"; else
		echo "vm: work directory kept in $T"; fi
}
trap vm_cleanup EXIT

ms_since() {
	echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

# --- fetching: what the VM is made of, kept in $CACHE ---
#
# $CACHE/PKG_VERSION/ holds the few files the VM needs from each package.
# What is cached is used as it is; once a week apt is asked whether a
# newer kernel or busybox has come out (PH_VM_REFRESH=1: now).

# kernel_complete DIR: does DIR hold a kernel and every module we load?
kernel_complete() {
	local m
	[ -n "$1" ] && ls "$1"/boot/vmlinuz-* >/dev/null 2>&1 || return 1
	for m in $MODULES; do
		[ -n "$(find "$1/lib/modules" -name "$m.ko")" ] || return 1
	done
}

# cached PREFIX: the newest cached package whose name starts so, or nothing.
cached() {
	ls -d "$CACHE/$1"*_* 2>/dev/null | sort -V | tail -n 1
}

# fetch_deb PKG VERSION PATTERN...: downloads PKG and keeps only the files
# matching the tar patterns, in $CACHE/PKG_VERSION; the .deb is not kept.
fetch_deb() {
	local pkg=$1 ver=$2 tmp old
	shift 2
	echo "vm: fetching $pkg $ver" >&2
	tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
	# apt's sandbox user cannot write here: fetch as ourselves.
	if ! (cd "$tmp" && apt-get download -q \
	    -o APT::Sandbox::User="$(id -un)" "$pkg=$ver") >"$T/apt.log" 2>&1 ||
	    ! dpkg-deb --fsys-tarfile "$tmp"/*.deb |
	    tar -x -C "$tmp" --wildcards "$@"; then
		cat "$T/apt.log" >&2
		rm -rf "$tmp"
		return 1
	fi
	rm -f "$tmp"/*.deb
	# Older versions (of linux-image-*, any ABI) are of no more use.
	for old in "$CACHE/${pkg%%[0-9]*}"*_*; do
		rm -rf "$old"
	done
	mv "$tmp" "$CACHE/${pkg}_$ver"
}

# Asks apt for the current kernel and busybox and fetches what is new.
fetch_current() {
	local kpkg v ver KVER= BPKG= BVER=
	# Package lists can be missing on a fresh machine: read them first.
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	    awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$kpkg" ]; then
		apt-get update -q >"$T/apt.log" 2>&1 || cat "$T/apt.log" >&2
		kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		    awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$kpkg" ] || { echo "vm: apt knows no linux-image-amd64" >&2
	    return 1; }
	for v in $(apt-cache policy "$kpkg" busybox-static |
	    awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p $2 }'); do
		ver=${v#*:}
		case ${v%%:*} in
		busybox-static) BPKG=busybox-static BVER=$ver ;;
		*) KVER=$ver ;;
		esac
	done
	[ -n "$KVER" ] && [ -n "$BVER" ] || { echo "vm: apt offers no" \
	    "$kpkg or busybox-static" >&2; return 1; }
	kernel_complete "$CACHE/${kpkg}_$KVER" || fetch_deb "$kpkg" "$KVER" \
	    './boot/vmlinuz-*' './lib/modules/*/kernel/net/vmw_vsock/*' \
	    './lib/modules/*/kernel/net/ipv4/*_diag.ko' \
	    './lib/modules/*/kernel/drivers/vhost/*' || return 1
	[ -d "$CACHE/${BPKG}_$BVER" ] || fetch_deb "$BPKG" "$BVER" \
	    ./bin/busybox || return 1
	touch "$CACHE/.checked"
}

fetch_all() {
	if [ "${PH_VM_REFRESH:-}" != "" ] ||
	    ! kernel_complete "$(cached linux-image-)" ||
	    [ -z "$(cached busybox-static)" ] ||
	    [ -z "$(find "$CACHE/.checked" -mtime -7 2>/dev/null)" ]; then
		# Offline with a cache, an older kernel still proves vsock.
		fetch_current || echo "vm: using what is cached" >&2
	fi
	KDIR=$(cached linux-image-)
	BDIR=$(cached busybox-static)
	[ -n "$KDIR" ] && [ -n "$BDIR" ]
}

# vm_fetch: the kernel in KDIR, busybox in BDIR, the time in FETCH_MS.
vm_fetch() {
	local t0
	t0=$(date +%s%N)
	mkdir -p "$CACHE"
	exec 9>>"$CACHE/.lock"
	flock 9		# runs in other worktrees share the cache
	rm -rf "$CACHE"/.fetch.*	# left by a run that was interrupted
	fetch_all || die "cannot fetch the kernel or busybox (see above)"
	flock -u 9
	FETCH_MS=$(ms_since "$t0")
}

# --- the initramfs: busybox, the programs and their libraries, modules ---

# vm_root: an initramfs tree in $R with busybox, tests/vm/init as /init
# and every module in MODULES under /ph/modules.
vm_root() {
	local m
	R=$T/root
	mkdir -p "$R"/bin "$R"/sbin "$R"/usr/bin "$R"/usr/sbin "$R"/ph/bin \
	    "$R"/ph/modules "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/run
	cp "$BDIR/bin/busybox" "$R/bin/busybox"
	cp tests/vm/init "$R/init"
	chmod 755 "$R/init"
	for m in $MODULES; do
		find "$KDIR/lib/modules" -name "$m.ko" -exec cp {} "$R/ph/modules/" \;
		[ -f "$R/ph/modules/$m.ko" ] || die "no $m.ko in $(basename "$KDIR")"
	done
}

# vm_add_progs PROGRAM...: each into /ph/bin, dynamically linked, with the
# libraries ldd names and the loader: the very binaries this tree built
# (a SANITIZE=1 build included), or this machine's (socat, iperf3).
vm_add_progs() {
	local b
	for b in "$@"; do
		cp "$b" "$R/ph/bin/"
		ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		    $1 ~ /^\// { print $1 }'
	done | sort -u | while read -r lib; do
		mkdir -p "$R$(dirname "$lib")"
		cp -L "$lib" "$R$lib"
	done
}

# vm_pack: $R into $T/initramfs.gz; the kernel in KERNEL.
vm_pack() {
	KERNEL=$(ls "$KDIR"/boot/vmlinuz-*)
	(cd "$R" && find . | "$BDIR/bin/busybox" cpio -o -H newc 2>/dev/null) |
	    gzip -1 >"$T/initramfs.gz"
}

# --- the boot ---

# vm_boot TIMEOUT SCRIPT DEADLINE [PARAM...]: boots the VM, whose init
# runs SCRIPT (a path in the initramfs) with DEADLINE seconds, the PARAMs
# (ph.NAME=VALUE) on its kernel command line for SCRIPT to read; waits at
# most TIMEOUT s for it to power off.  The console, without CRs, is in
# $T/console.txt, qemu's status in VM_RC, the time in BOOT_MS.
vm_boot() {
	local script=$2 deadline=$3 t0
	VM_TIMEOUT=$1
	shift 3
	t0=$(date +%s%N)
	VM_RC=0
	# TCG: /dev/kvm may exist on these machines but does not run vCPUs.
	timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -m 1024 -smp 1 \
	    -nodefaults -no-user-config -display none -monitor none \
	    -serial "file:$T/console.log" -no-reboot \
	    -kernel "$KERNEL" -initrd "$T/initramfs.gz" \
	    -append "console=ttyS0 quiet panic=-1 ph.slow=$PH_SLOW ph.run=$script ph.deadline=$deadline $*" \
	    </dev/null >"$T/qemu.log" 2>&1 || VM_RC=$?
	BOOT_MS=$(ms_since "$t0")
	tr -d '\r' <"$T/console.log" >"$T/console.txt"
}

# vm_ended WHAT: whether the VM powered off by itself after its script
# ended (PH-END on the console); otherwise says why not, and fails.
vm_ended() {
	if [ "$VM_RC" = 124 ] || [ "$VM_RC" = 137 ]; then
		echo "FAIL vm: the VM did not power off within ${VM_TIMEOUT}s"
	elif [ "$VM_RC" != 0 ]; then
		echo "FAIL vm: qemu exited with status $VM_RC: $(tail -n 3 "$T/qemu.log")"
	elif ! grep -q '^PH-END' "$T/console.txt"; then
		echo "FAIL vm: the VM stopped before its $1 ended"
	else
		return 0
	fi
	return 1
}
