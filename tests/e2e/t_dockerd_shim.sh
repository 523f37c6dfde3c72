#!/bin/bash
# porthole-docker-proxy as Debian's real dockerd runs it: a daemon.json
# with "userland-proxy-path" naming the built shim (lib-dockerd.sh starts
# dockerd in the VM), which execs Debian's /usr/sbin/docker-proxy when
# the host allows.  `docker run -d -p` of an image made by `docker
# import` of a busybox root serving HTTP:
#   - under refuse, -p 0.0.0.0:P:80 fails, and the docker command's
#     stderr carries the host's reason; nothing listens on P in the VM
#     or on the host; -p 127.0.0.1:P:80 succeeds and serves through the
#     host;
#   - under loopback and allow it succeeds, curl on the host gets the
#     container's page on the addresses the policy gives, and the port
#     leaves the host with `docker rm -f`;
#   - with no guest agent the shim is plain docker-proxy: docker run -p
#     works in the VM, and nothing is forwarded.
# A missing dockerd fails; one that exits (cannot run here) is a skip.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-dockerd.sh"

SHIM=$PH_ROOT/shim/porthole-docker-proxy
[ -x "$SHIM" ] || fail "no $SHIM (make)"
P=$(free_port 4)
vm_create
cat >"$DK/daemon.json" <<JSON
{
	"userland-proxy": true,
	"userland-proxy-path": "$SHIM"
}
JSON
# dockerd's environment is its proxies': the test's agent socket.
export PORTHOLE_PROXY_SOCKET=$GPROXY
dockerd_start shim --iptables=true
dockerd_image

# Refused: the docker command hears the host's reason.
start_host -b refuse
start_guest
! dockerd_web refused "0.0.0.0:$P:80" ||
    fail "docker run -p 0.0.0.0:$P:80 succeeded under refuse"
grep -qF "porthole: host refuses 0.0.0.0:$P: wildcard bind 0.0.0.0 refused by policy refuse" \
    "$T/refused.out" || fail "docker run said: $(cat "$T/refused.out")"
log_has host "tcp 0.0.0.0:$P docker-proxy -> refused" ||
    fail "the host did not decide the shim's question on 0.0.0.0:$P"
! vm_listens 0.0.0.0 "$P" || fail "port $P listens in the VM"
[ -z "$(host_listeners "$P")" ] || fail "port $P on the host"
pass "refuse: docker run -p 0.0.0.0:$P:80 fails with the host's reason" \
    "($(grep -o 'porthole: host refuses.*' "$T/refused.out" | head -1))"
dockerd_web lo "127.0.0.1:$((P + 1)):80" ||
    fail "docker run -p 127.0.0.1:$((P + 1)):80: $(cat "$T/lo.out")"
wait_for 10 "127.0.0.1:$((P + 1)) through the host" \
    dockerd_serves 127.0.0.1 $((P + 1))
pass "refuse: docker run -p 127.0.0.1:$((P + 1)):80 succeeds and serves" \
    "through the host"
"${DOCKER[@]}" rm -f refused lo >/dev/null || fail "docker rm -f"
stop_agents refuse

# run_allowed POLICY ADDR4 ADDR6: docker run -p P:80 succeeds (Docker
# 20.10 publishes it on 0.0.0.0 and ::, a proxy each), the host listens
# on exactly ADDR4:P and [ADDR6]:P, each serving the page; docker rm -f
# takes them.
run_allowed() {
	local mode=$1 want
	want="$(ss_addr "$2" "$P") $(ss_addr "$3" "$P")"
	start_host -b "$mode"
	start_guest
	dockerd_web "$mode" "$P:80" ||
	    fail "$mode: docker run -p $P:80: $(cat "$T/$mode.out")"
	wait_for 10 "$2:$P through the host" dockerd_serves "$2" "$P"
	wait_for 10 "[$3]:$P through the host" dockerd_serves "$3" "$P"
	[ "$(host_listeners "$P")" = "$want" ] ||
	    fail "$mode: host listens on '$(host_listeners "$P")', not '$want'"
	log_has guest "proxy socket: docker-proxy (pid [0-9]*) asks for tcp 0.0.0.0:$P" ||
	    fail "$mode: the shim did not ask for 0.0.0.0:$P"
	pass "$mode: docker run -p $P:80 succeeds (the shim asked), curl" \
	    "on the host gets the page on $want"
	"${DOCKER[@]}" rm -f "$mode" >/dev/null || fail "docker rm -f $mode"
	wait_for 10 "port $P to leave the host" \
	    sh -c "! ss -Hltn | grep -q ':$P '"
	pass "$mode: the port leaves the host with docker rm -f"
	stop_agents "$mode"
}
run_allowed loopback 127.0.0.1 ::1
run_allowed allow 0.0.0.0 ::

# No guest agent: plain docker-proxy.
dockerd_web plain "$((P + 2)):80" ||
    fail "no agent: docker run -p $((P + 2)):80: $(cat "$T/plain.out")"
wait_for 10 "the page in the VM" in_vm curl -sf --max-time 2 \
    "http://127.0.0.1:$((P + 2))/"
in_vm ss -Hltnp | grep -q "0.0.0.0:$((P + 2)) .*\"docker-proxy\"" ||
    fail "no docker-proxy on $((P + 2)): $(in_vm ss -Hltnp)"
[ -z "$(host_listeners $((P + 2)))" ] || fail "port $((P + 2)) on the host"
pass "no guest agent: docker run -p $((P + 2)):80 serves in the VM," \
    "nothing forwarded"
