#!/bin/bash
# Debian's real dockerd in the simulated VM with its userland proxy off
# (--userland-proxy=false), started in the VM's network namespace with
# nsenter (not `ip netns exec`, which remounts /sys and hides the cgroup
# mounts dockerd needs), with its own data root, exec root, socket and pid
# file, iptables on (its rules stay in the namespace).  `docker run -p`
# of an image made by `docker import` of a busybox root (no registry)
# serving HTTP: dockerd holds the published port with a socket of its own
# and DNATs it to the container; the socket wins over the rule (the bind
# is named dockerd), the port appears on the host as the policy says
# (refuse, allow, loopback), curl on the host gets the container's page,
# and the port leaves the host when the container is removed.  Skipped
# (77) only when dockerd is not installed or cannot run here.
. "$(dirname "$0")/lib.sh"

command -v dockerd >/dev/null && [ -x /usr/bin/docker ] ||
    fail "no dockerd (Debian's docker.io: mk/deps.sh check)"
DK=$T/dk
DOCKER=(/usr/bin/docker -H "unix://$DK/docker.sock")
mkdir -p "$DK"
DOCKERD_PID=

# At exit, before the namespace goes: the container, then dockerd (it
# stops its containerd), gracefully.
stop_dockerd() {
	[ -n "$DOCKERD_PID" ] || return 0
	"${DOCKER[@]}" rm -f web >/dev/null 2>&1
	kill -TERM "$DOCKERD_PID" 2>/dev/null
	wait_gone() { ! kill -0 "$DOCKERD_PID" 2>/dev/null; }
	local n=400
	while ! wait_gone && [ $n -gt 0 ]; do sleep 0.05; n=$((n - 1)); done
	# dockerd leaves its data root bind-mounted on itself, and a
	# container's network namespace if it could not remove it.
	awk -v d="$DK/" 'index($2, d) == 1 { print $2 }' /proc/mounts |
	    sort -r | xargs -r -n1 umount -l
}
ph_at_exit stop_dockerd

port=$(free_port)
vm_create
echo '{}' >"$DK/daemon.json"
bg dockerd nsenter --net="/run/netns/$NS" dockerd --iptables=true \
    --userland-proxy=false --storage-driver=vfs --data-root "$DK/data" \
    --exec-root "$DK/exec" -H "unix://$DK/docker.sock" \
    -p "$DK/docker.pid" --config-file "$DK/daemon.json"
DOCKERD_PID=$LAST_PID
dockerd_up() { "${DOCKER[@]}" version; }
deadline=$(( $(date +%s) + $(ph_secs 60) ))
# A dockerd that exits cannot run here (a skip, with its reason); one
# that runs and never answers is a failure, not a skip.
until dockerd_up >/dev/null 2>&1; do
	kill -0 "$DOCKERD_PID" 2>/dev/null ||
	    skip "dockerd cannot run here: $(tail -3 "$T/dockerd.log")"
	[ "$(date +%s)" -lt $deadline ] ||
	    fail "dockerd runs but did not answer in $(ph_secs 60) s:" \
	    "$(tail -3 "$T/dockerd.log")"
	sleep 0.1
done

# A busybox root: the binary, its libraries, a page; imported as an image.
R=$T/rootfs
mkdir -p "$R/bin" "$R/www"
cp /usr/bin/busybox "$R/bin/"
ldd /usr/bin/busybox | awk '$0 ~ /\// { print ($3 ~ /^\// ? $3 : $1) }' |
while read -r lib; do
	mkdir -p "$R$(dirname "$lib")"
	cp "$lib" "$R$lib"
done
echo "hello from dockerd's container" >"$R/www/index.html"
tar -C "$R" -cf "$T/rootfs.tar" .
"${DOCKER[@]}" import "$T/rootfs.tar" ph-busybox:1 >"$T/import.out" 2>&1 ||
    fail "docker import: $(cat "$T/import.out")"
"${DOCKER[@]}" run -d --name web -p "$port:80" ph-busybox:1 \
    /bin/busybox httpd -f -p 80 -h /www >"$T/run.out" 2>&1 ||
    fail "docker run -p $port:80: $(cat "$T/run.out")"
in_vm ss -Hltnp | grep -q ":$port .*dockerd" ||
    fail "dockerd holds no socket on $port: $(in_vm ss -Hltnp)"
in_vm iptables-nft -t nat -S DOCKER | grep -q "dport $port -j DNAT" ||
    fail "no DNAT rule for $port: $(in_vm iptables-nft -t nat -S)"
pass "dockerd $(dockerd --version | awk '{ print $3 }' | tr -d ,)" \
    "--userland-proxy=false in the VM: docker run -p $port:80 holds" \
    "0.0.0.0:$port (dockerd) and DNATs it to the container"

serves() {
	curl -sf --max-time 5 "http://127.0.0.1:$port/" |
	    grep -q "hello from dockerd's container"
}

run_mode() {
	local mode=$1 v want
	start_host ${mode:+-b "$mode"}
	start_guest
	case $mode in
	refuse)	v="refused by host"; want= ;;
	allow)	v=bound; want=0.0.0.0:$port ;;
	*)	v=rewritten; want=127.0.0.1:$port ;;
	esac
	wait_for 10 "the verdict on $port" \
	    grep -qE "tcp [^ ]*:$port: $v" "$T/guest.log"
	log_has guest "new bind: tcp 0.0.0.0:$port by dockerd\$" ||
	    fail "$mode: the bind is not dockerd's socket: $(grep "$port" "$T/guest.log")"
	[ "$(host_listeners "$port")" = "$want" ] ||
	    fail "$mode: host listens on '$(host_listeners "$port")', not '$want'"
	if [ -n "$want" ]; then
		serves || fail "$mode: no page from the container through the host"
	fi
	pass "policy ${mode:-loopback (default)}: docker run -p $port:80 as" \
	    "the policy says${want:+, curl on the host gets the page from the container}"
}

run_mode refuse
stop_agents refuse
run_mode allow
stop_agents allow
run_mode ""

"${DOCKER[@]}" rm -f web >/dev/null 2>&1 || fail "docker rm -f web"
wait_for 10 "127.0.0.1:$port to go" sh -c "! ss -Hltn | grep -q ':$port '"
log_has guest "bind gone: tcp 0.0.0.0:$port" || fail "no 'bind gone' for $port"
pass "the port leaves the host when the container is removed"
