#!/bin/bash
# 64 MiB each way through one forwarded connection whose client shuts
# down writing first and then still receives the server's whole reply:
# every byte checked on arrival, and digests compared across processes.
. "$(dirname "$0")/lib.sh"

N=$((64 * 1024 * 1024))
port=$(free_port)
vm_create
start_host
start_guest
bg server ip netns exec "$NS" "$PHTEST" serve 0.0.0.0 "$port" halfreply "$N"
wait_for 5 "the forward" host_listens 127.0.0.1 "$port"

"$PHTEST" client 127.0.0.1 "$port" halfreply "$N" "$N" >"$T/client.out" ||
    fail "client: $(cat "$T/client.out")"
wait_for 5 "the server's report" grep -q "server received" "$T/server.log"
read -r _ _ c_sent _ c_sent_d _ c_recv _ c_recv_d <"$T/client.out"
read -r _ _ s_recv _ s_recv_d _ s_sent _ s_sent_d < <(grep "server received" \
    "$T/server.log")
[ "$c_sent" = "$N" ] && [ "$s_recv" = "$N" ] ||
    fail "client sent $c_sent, server received $s_recv"
[ "$c_sent_d" = "$s_recv_d" ] || fail "upstream digests differ"
[ "$s_sent" = "$N" ] && [ "$c_recv" = "$N" ] ||
    fail "server sent $s_sent, client received $c_recv"
[ "$s_sent_d" = "$c_recv_d" ] || fail "downstream digests differ"
pass "64 MiB each way with half-close, digests $c_sent_d and $c_recv_d match"
