#!/bin/sh
# Docker's own userland proxy, for the end-to-end test of published ports
# (tests/e2e/t_docker.sh): dockerd publishes `docker run -p` by starting
# docker-proxy, and that binary is what the test runs in the simulated VM.
# It is taken from Debian's docker.io package with apt-get download and
# dpkg-deb (what dpkg -x does, for that one file) into .cache/, so the
# docker daemon is never installed or started.  Prints the binary's path.
# Usage: mk/docker-proxy.sh
set -eu
cd "$(dirname "$0")/.."
dir=.cache/docker.io
bin=$dir/usr/sbin/docker-proxy
if [ -x "$bin" ]; then
	echo "$PWD/$bin"
	exit 0
fi
mkdir -p "$dir"
rm -f "$dir"/docker.io_*.deb
get() {
	(cd "$dir" && apt-get download -q -o APT::Sandbox::User=root docker.io)
}
# A fresh machine may have no package lists yet, or stale ones.
if ! get >"$dir/apt.log" 2>&1; then
	apt-get update -q >>"$dir/apt.log" 2>&1 || true
	if ! get >>"$dir/apt.log" 2>&1; then
		tail -5 "$dir/apt.log" >&2
		echo "mk/docker-proxy.sh: apt-get download docker.io failed" >&2
		exit 1
	fi
fi
deb=$(ls "$dir"/docker.io_*.deb)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" ./usr/sbin/docker-proxy
dpkg-deb -f "$deb" Version >"$dir/version"
rm -f "$deb"
echo "$PWD/$bin"
