#!/bin/bash
# The real Docker CLI on the host drives a real dockerd in the simulated
# VM through its socket forwarded by porthole (protocol 5, guest Unix
# sockets).  dockerd (Debian's docker.io) runs in the VM's network
# namespace as lib-dockerd.sh starts it (no iptables, no bridge).
# `docker version` and `docker info` through the host socket must answer
# what they answer on the VM's own socket; a `docker context` made from
# the DOCKER_HOST line `portholectl ls` prints works; `docker import`
# streams a small busybox root file system through; and, where dockerd
# can run a container here at all (asked on its own socket first),
# `docker run --network none` of it prints on the host.  A missing
# dockerd fails; one that exits (cannot run here) is a skip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dockerd.sh"

GNAME=usock-dk
VMSOCK=$DK/docker.sock
HSOCK=$SOCKDIR/$GNAME/docker.sock
export DOCKER_CONFIG=$T/docker-config	# never the user's contexts
mkdir -p "$DOCKER_CONFIG"

vm_create
dockerd_start usock --iptables=false --ip6tables=false --bridge=none
vm_docker() { "${DOCKER[@]}" "$@"; }

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
busybox_tar "$T/rootfs.tar"
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
