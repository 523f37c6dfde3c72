#!/bin/bash
# The busybox inittab line, under a real busybox init: PID 1 of a new PID
# namespace inside the simulated VM, reading an /etc/inittab of the
# test's own (an overlay on /etc in a private mount namespace, so the
# machine's /etc is untouched).  The line from contrib/ (with the test's
# endpoint added: the default one is the real host's) starts the agent,
# which forwards; killed, it is started again by init.
. "$(dirname "$0")/lib.sh"

command -v busybox >/dev/null || fail "no busybox (mk/deps.sh check)"
line=$(sed -n 's|@SBINDIR@/porthole-guest|'"$PH_GUEST"'|p' \
    "$PH_ROOT/contrib/busybox/inittab.in")
[ -n "$line" ] || fail "no respawn line in contrib/busybox/inittab.in"
vm_create
start_host
port=$(free_port)

mkdir -p "$T/etc-up" "$T/etc-work"
echo "$line -d -c unix:$SOCK -N inittab-vm" >"$T/etc-up/inittab"
touch "$T/console"
# --kill-child: when the clean-up kills unshare, init (and with it every
# process of the PID namespace) dies too.
bg init ip netns exec "$NS" unshare --pid --fork --kill-child --mount \
    --propagation private sh -c '
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/etc-up,workdir=$0/etc-work" /etc &&
	mount --bind "$0/console" /dev/console &&
	exec busybox init' "$T"
INIT_PID=$LAST_PID
wait_for 10 "the agent started by init" log_has host \
    "guest inittab-vm .* connected"
vm_http web 0.0.0.0 "$port"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"
curl -sf "http://127.0.0.1:$port/" | grep -q "hello from the guest" ||
    fail "no HTTP through the agent init started"
pass "busybox init runs the inittab line: the agent connects and forwards"

# init is the unshare's child; the agent, init's child.
bb=$(ps -o pid= --ppid "$INIT_PID" | tr -d ' ')
agent=
for p in $(ps -o pid= --ppid "$bb"); do
	[ "$(readlink "/proc/$p/exe")" = "$PH_GUEST" ] && agent=$p
done
[ -n "$agent" ] || fail "no agent among init's children"
kill -9 "$agent"
wait_for 10 "init to start the agent again" sh -c \
    "[ \$(grep -c 'guest inittab-vm .* connected' '$T/host.log') -ge 2 ]"
wait_for 5 "the forward again" host_listens 127.0.0.1 "$port"
pass "killed, the agent is respawned by init and its forward comes back"
