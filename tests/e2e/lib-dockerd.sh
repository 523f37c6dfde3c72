# Debian's real dockerd (docker.io) in the simulated VM, for the tests
# that drive it (t_dockerd, t_dockerd_shim, t_usock_docker), on top of
# lib.sh.  dockerd runs in the VM's network namespace through nsenter
# (not `ip netns exec`, which remounts /sys and hides the cgroup mounts
# dockerd needs), with its own data root, exec root, socket and pid file
# under $DK, and is stopped gracefully at exit, before anything is
# killed.  A missing dockerd is a failure (a check dependency, see
# mk/deps.sh), not a skip.
#
# shellcheck shell=bash

DK=$T/dk
DOCKER=(/usr/bin/docker -H "unix://$DK/docker.sock")
DOCKERD_PID=
DK_IMAGE=ph-busybox:1

command -v dockerd >/dev/null && [ -x /usr/bin/docker ] ||
    fail "no dockerd or docker (Debian's docker.io: mk/deps.sh check)"
mkdir -p "$DK"

# dockerd_start NAME FLAGS...: dockerd in the VM with FLAGS and the
# test's $DK/daemon.json (empty unless the test wrote one: never the
# machine's /etc/docker/daemon.json), its log in $T/dockerd-NAME.log,
# returning once it answers.  A dockerd that exits cannot run here (a
# skip, with its reason); one that runs and never answers is a failure,
# not a skip.
dockerd_start() {
	local log=dockerd-$1 deadline
	shift
	[ -e "$DK/daemon.json" ] || echo '{}' >"$DK/daemon.json"
	bg "$log" nsenter --net="/run/netns/$NS" dockerd \
	    --config-file "$DK/daemon.json" --storage-driver=vfs \
	    --data-root "$DK/data" --exec-root "$DK/exec" \
	    -H "unix://$DK/docker.sock" -p "$DK/docker.pid" "$@"
	DOCKERD_PID=$LAST_PID
	deadline=$(( $(date +%s) + $(ph_secs 60) ))
	until "${DOCKER[@]}" version >/dev/null 2>&1; do
		kill -0 "$DOCKERD_PID" 2>/dev/null ||
		    skip "dockerd cannot run here: $(tail -3 "$T/$log.log")"
		[ "$(date +%s)" -lt "$deadline" ] ||
		    fail "dockerd runs but did not answer in $(ph_secs 60) s:" \
		    "$(tail -3 "$T/$log.log")"
		sleep 0.1
	done
}

# dockerd_stop: its containers removed first (busybox as pid 1 ignores
# SIGTERM, and dockerd would wait out each one's stop timeout), then
# dockerd, which stops its containerd; then the mounts it leaves under
# $DK (its data root bind-mounted on itself, a container's network
# namespace it could not remove).  Run at exit before the test's
# processes are killed and waited for: a dockerd still running would
# hold that wait.
dockerd_stop() {
	local n=$(( 400 * PH_SLOW ))
	[ -n "$DOCKERD_PID" ] || return 0
	"${DOCKER[@]}" ps -aq | xargs -r "${DOCKER[@]}" rm -f >/dev/null 2>&1
	kill -TERM "$DOCKERD_PID" 2>/dev/null
	while kill -0 "$DOCKERD_PID" 2>/dev/null && [ $n -gt 0 ]; do
		n=$((n - 1))
		sleep 0.05
	done
	kill_wait KILL "$DOCKERD_PID"
	DOCKERD_PID=
	awk -v d="$DK/" 'index($2, d) == 1 { print $2 }' /proc/mounts |
	    sort -r | xargs -r -n1 umount -l
}
ph_before_exit dockerd_stop

# busybox_tar FILE: a root file system to import as an image (no
# registry): busybox, its libraries, and a page in /www.
busybox_tar() {
	local r=$T/rootfs lib
	mkdir -p "$r/bin" "$r/www"
	cp /usr/bin/busybox "$r/bin/"
	for lib in $(ldd /usr/bin/busybox |
	    awk '/\// { print ($3 ~ /^\//) ? $3 : $1 }'); do
		mkdir -p "$r$(dirname "$lib")"
		cp -L "$lib" "$r$lib"
	done
	echo "hello from dockerd's container" >"$r/www/index.html"
	tar -C "$r" -cf "$1" .
}

# dockerd_image: $DK_IMAGE in the running dockerd.
dockerd_image() {
	busybox_tar "$T/rootfs.tar"
	"${DOCKER[@]}" import "$T/rootfs.tar" "$DK_IMAGE" >"$T/import.out" \
	    2>&1 || fail "docker import: $(cat "$T/import.out")"
}

# dockerd_web NAME PUBLISH: `docker run -d -p PUBLISH` of a container
# NAME serving the page on port 80; docker's status, its output and
# errors in $T/NAME.out.
dockerd_web() {
	"${DOCKER[@]}" run -d --name "$1" -p "$2" "$DK_IMAGE" \
	    /bin/busybox httpd -f -p 80 -h /www >"$T/$1.out" 2>&1
}

# dockerd_serves ADDR PORT: curl there gets the container's page.
dockerd_serves() {
	curl -sfg --max-time 5 "http://$(ss_addr "$1" "$2")/" |
	    grep -q "hello from dockerd's container"
}
