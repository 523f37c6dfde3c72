#!/bin/bash
# Keepalive: a VM that freezes (the guest agent stopped with SIGSTOP) is
# noticed within the keepalive bound; its listeners close and its live
# connections end.  A frozen host agent is noticed by the guest, which
# reconnects once the host is back.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
vm_create
start_host --keepalive 2
start_guest -k 2
bg server ip netns exec "$NS" "$PH_ROOT/tests/tools/phstorm" echo 127.0.0.1 "$port"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"

# A live connection, waiting for its reply, while the VM freezes.
"$PHTEST" client 127.0.0.1 "$port" expect-closed >"$T/live.out" &
client=$!
wait_for 5 "the connection to reach the guest's server" sh -c \
    "ip netns exec $NS ss -Htn state established '( sport = :$port )' | grep -q ."
t0=$(date +%s%N)
kill -STOP "$GUEST_PID"
wait_for 8 "the host to give up on the frozen guest" \
    grep -q "no frame from the guest in 2 s" "$T/host.log"
# How fast is a figure: the log line says the keepalive noticed it.
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait_for 5 "its listener to close" sh -c "! ss -Hltn | grep -q ':$port '"
wait "$client" || true
grep -qE "client (reset|eof)" "$T/live.out" ||
    fail "the live connection did not end: $(cat "$T/live.out")"
pass "frozen guest noticed in $ms ms; listener closed; live connection ended ($(cut -d' ' -f2 "$T/live.out"))"
kill -CONT "$GUEST_PID"
wait_for 10 "the thawed guest's forward back" host_listens 127.0.0.1 "$port"
pass "thawed guest reconnected and its forward is back"

# The host agent freezes: the guest notices and, once the host thaws,
# is forwarded again.
kill -STOP "$HOST_PID"
wait_for 8 "the guest to give up on the frozen host" \
    grep -q "no frame from the host in 2 s" "$T/guest.log"
kill -CONT "$HOST_PID"
wait_for 15 "the forward after the host thawed" sh -c \
    "$PH_ROOT/tests/tools/phstorm run 127.0.0.1 $port 1 1000 | grep -q 'complete 1 '"
pass "frozen host noticed by the guest; forwarding back after it thawed"
