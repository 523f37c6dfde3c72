#!/bin/bash
# The real Docker CLI on the host drives a real dockerd in the simulated
# VM through its socket forwarded by porthole (protocol 5, guest Unix
# sockets).  dockerd (Debian's docker.io) runs in the VM's network
# namespace with nsenter (not `ip netns exec`, which remounts /sys and
# hides the cgroup mounts) and its own data and exec roots under the
# test's directory.  `docker version` and `docker info` through the host
# socket must answer what they answer on the VM's own socket; a `docker
# context` made from the DOCKER_HOST line `portholectl ls` prints works;
# `docker import` streams a small busybox root file system through; and,
# where dockerd can run a container here at all (asked on its own socket
# first), `docker run --network none` of it prints on the host.
# Skipped (77) when dockerd or docker is missing or dockerd cannot start.
. "$(dirname "$0")/lib.sh"

command -v dockerd >/dev/null && command -v docker >/dev/null ||
    skip "no dockerd or docker (Debian's docker.io)"
GNAME=usock-dk
VMSOCK=$T/vm/docker.sock
HSOCK=$SOCKDIR/$GNAME/docker.sock
export DOCKER_CONFIG=$T/docker-config	# never the user's contexts
mkdir -p "$T/vm" "$T/dk-data" "$T/dk-exec" "$DOCKER_CONFIG"

vm_create
# dockerd is started with bg, so that the clean-up kills it with the
# agents (its wait for every job would otherwise wait for dockerd); what
# it leaves is undone after: its data root, bind-mounted on itself, would
# keep the test's directory from being removed.
unmount_dockerd() {
	awk -v d="$T/" 'index($2, d) == 1 { print $2 }' /proc/mounts |
	    sort -r | xargs -r -n1 umount -l
}
ph_at_exit unmount_dockerd
bg dockerd nsenter --net="/run/netns/$NS" dockerd --iptables=false \
    --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root "$T/dk-data" --exec-root "$T/dk-exec" \
    --pidfile "$T/dk-exec/docker.pid" -H "unix://$VMSOCK"
DOCKERD_PID=$LAST_PID
vm_docker() { docker -H "unix://$VMSOCK" "$@"; }
dockerd_up() { vm_docker version >/dev/null 2>&1; }
deadline=$(( $(date +%s) + $(ph_secs 60) ))
until dockerd_up; do
	kill -0 "$DOCKERD_PID" 2>/dev/null ||
	    skip "dockerd cannot run here: $(tail -n 3 "$T/dockerd.log")"
	[ "$(date +%s)" -lt "$deadline" ] ||
	    skip "dockerd did not answer in time: $(tail -n 3 "$T/dockerd.log")"
	sleep 0.1
done

start_host -L
start_guest -N "$GNAME" -x "$VMSOCK=docker"
wait_for 10 "the engine's socket on the host" test -S "$HSOCK"
host_docker() { docker -H "unix://$HSOCK" "$@"; }

for f in '{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}'; do
	want=$(vm_docker version --format "$f") || fail "docker version in the VM"
	got=$(host_docker version --format "$f") || fail "docker version through porthole"
	[ "$got" = "$want" ] || fail "docker version: '$got', the VM's engine says '$want'"
done
want=$(vm_docker info --format '{{.ID}} {{.Name}} {{.Driver}}') || fail "docker info in the VM"
got=$(host_docker info --format '{{.ID}} {{.Name}} {{.Driver}}') ||
    fail "docker info through porthole"
[ "$got" = "$want" ] || fail "docker info: '$got', the VM's engine says '$want'"
pass "docker version and docker info on the host answer from the VM's engine ($got)"

# The context, made from the line portholectl prints.
dh=$(ctl ls | sed -n "s/^DOCKER_HOST=\([^	]*\)	# guest $GNAME, socket docker$/\1/p")
[ "$dh" = "unix://$HSOCK" ] || fail "portholectl ls: DOCKER_HOST '$dh'"
docker context create porthole-vm --docker "host=$dh" >/dev/null ||
    fail "docker context create"
got=$(docker --context porthole-vm info --format '{{.ID}}') ||
    fail "docker --context porthole-vm info"
[ "$got" = "${want%% *}" ] || fail "the context reached engine $got"
pass "docker context create from portholectl's DOCKER_HOST line works"

# A small busybox root file system, streamed through by docker import.
command -v busybox >/dev/null || skip "no busybox for the image (the rest passed)"
root=$T/rootfs
mkdir -p "$root/bin"
cp "$(command -v busybox)" "$root/bin/busybox"
for lib in $(ldd "$(command -v busybox)" | awk '/\// { print ($3 ~ /^\//) ? $3 : $1 }'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
tar -C "$root" -cf "$T/rootfs.tar" .
img=$(host_docker import "$T/rootfs.tar" porthole-test/busybox:1) ||
    fail "docker import through porthole"
vm_docker image inspect porthole-test/busybox:1 --format '{{.Id}}' | grep -qx "$img" ||
    fail "the imported image is not in the VM's engine: $img"
pass "docker import streamed $(stat -c %s "$T/rootfs.tar") bytes through into the VM's engine"

# A container, where dockerd can run one here at all.
if ! vm_docker run --rm --network none porthole-test/busybox:1 \
    /bin/busybox true >"$T/direct-run.log" 2>&1; then
	skip "dockerd cannot run a container here: $(tail -n 1 "$T/direct-run.log") (the rest passed)"
fi
out=$(host_docker run --rm --network none porthole-test/busybox:1 \
    /bin/busybox echo "hello from a container in the VM") ||
    fail "docker run through porthole"
[ "$out" = "hello from a container in the VM" ] || fail "docker run printed '$out'"
# Attached stdin, closed by the client: the hijacked connection's
# half-close reaches the container, whose cat then ends.
out=$(printf 'line one\nline two\n' | host_docker run --rm -i --network none \
    porthole-test/busybox:1 /bin/busybox cat) || fail "docker run -i through porthole"
[ "$out" = "line one
line two" ] || fail "docker run -i printed '$out'"
pass "docker run prints on the host; docker run -i keeps stdin and its half-close"
