#!/bin/bash
# GET /metrics: the Prometheus text format, read by the prometheus_client
# package's parser and a strict one (tests/tools/promcheck.py), and its
# counters moving as real connections are made through a forward, a
# bind is refused and a guest goes away.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-udp.sh"

vm_create
P=$(free_port 50)
PU=$((P + 1))
start_host -u 2		# UDP flows end after 2 s idle, and count then
start_guest
vm_http www 0.0.0.0 "$P"
wait_for 5 "the forward" host_listens 127.0.0.1 "$P"

api -D "$T/headers" -o /dev/null /metrics
grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/headers" ||
    fail "metrics Content-Type: $(cat "$T/headers")"
expect_metric() {	# expect_metric SERIES VALUE
	local got
	got=$(metric "$1") || fail "no $1 in /metrics (or it does not parse)"
	[ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
expect_metric porthole_guests 1
expect_metric 'porthole_forwards{verdict="rewritten"}' 1
expect_metric 'porthole_forwards{verdict="refused"}' 0
expect_metric porthole_connections_total 0
expect_metric porthole_connections_active 0
expect_metric 'porthole_bytes_total{direction="to_guest"}' 0
expect_metric porthole_sessions_total 1
pass "GET /metrics parses as Prometheus text, strictly"

size=$(stat -c %s "$T/www/index.html")
for i in 1 2 3 4 5; do
	curl -sf "http://127.0.0.1:$P/" | grep -q "hello from the guest" ||
	    fail "request $i through the forward"
done
wait_for 5 "the connections to end" no_conns
expect_metric porthole_connections_total 5
to=$(metric 'porthole_bytes_total{direction="to_guest"}')
from=$(metric 'porthole_bytes_total{direction="from_guest"}')
[ "$to" -gt 5 ] && [ "$from" -ge $((5 * size)) ] ||
    fail "bytes to guest $to, from guest $from after 5 requests"
f=$(api /v1/forwards)
[ "$(json 'd[0]["connections_total"], d[0]["bytes_to_guest"],
    d[0]["bytes_from_guest"]' <<<"$f")" = "[5, $to, $from]" ] ||
    fail "the forward's own counters: $f"
pass "5 requests: connections_total 5, $to bytes to the guest, $from back"

# A connection held open counts as active, and its bytes count already.
bg holder "$PY" -c "
import signal, socket
s = socket.create_connection(('127.0.0.1', $P))
s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
print('sent', flush=True)
s.recv(65536)
print('got', flush=True)
signal.pause()"
HOLDER=$LAST_PID
wait_for 5 "the held connection" grep -q got "$T/holder.log"
held() { [ "$(metric porthole_connections_active)" = 1 ]; }
wait_for 5 "an active connection" held
more=$(metric 'porthole_bytes_total{direction="to_guest"}')
[ "$more" -gt "$to" ] || fail "a running relay's bytes are not counted"
kill_wait TERM "$HOLDER"
wait_for 5 "the connection to end" no_conns
expect_metric porthole_connections_total 6
more=$(metric 'porthole_bytes_total{direction="to_guest"}')
pass "a running connection: active 1, its bytes counted live"

# A UDP flow counts as a connection too; its bytes when it ends.
vm_udp_echo echo 0.0.0.0 "$PU"
wait_for 5 "the UDP forward" host_udp_listens 127.0.0.1 "$PU"
"$PHUDP" client 127.0.0.1 "$PU" 10 100 100 1 >"$T/udp.out" 2>&1 ||
    fail "UDP through the forward: $(cat "$T/udp.out")"
wait_for 10 "the UDP flow to end" no_conns
expect_metric porthole_connections_total 7
udp_to=$(metric 'porthole_bytes_total{direction="to_guest"}')
[ "$udp_to" -ge $((more + 1000)) ] ||
    fail "UDP bytes to the guest not counted: $more then $udp_to"
[ "$(api /v1/forwards | json '[(f["proto"], f["verdict"],
    f["connections_total"]) for f in d if f["guest_port"] == '"$PU"']')" = \
    '[["udp", "rewritten", 1]]' ] || fail "the UDP forward: $(api /v1/forwards)"
pass "a UDP flow: counted as a connection, its 1000 bytes when it ended"

api_status 200 -X PUT -d '{"mode":"refuse"}' /v1/policy
expect_metric 'porthole_forwards{verdict="refused"}' 2
expect_metric 'porthole_refusals_total{reason="policy",verdict="refused"}' 2
kill_wait TERM "$GUEST_PID"
gone() { [ "$(metric porthole_guests)" = 0 ]; }
wait_for 5 "the guest to go" gone
expect_metric 'porthole_sessions_ended_total{reason="guest_closed"}' 1
expect_metric porthole_connections_total 7
pass "refusals and ended sessions counted by reason; counters kept"
