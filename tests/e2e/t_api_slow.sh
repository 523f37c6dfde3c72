#!/bin/bash
# A slow or stuck API client never blocks forwarding.  While 32 MiB go
# through a forward, a client that follows the event stream but reads
# nothing is dropped once its queue is full (a reading client is not),
# a client that sends half a request is timed out, and the API and the
# forward answer throughout.
. "$(dirname "$0")/lib.sh"

vm_create
P=$(free_port 80)
P2=$((P + 1))
start_host
start_guest
bg srv ip netns exec "$NS" "$PHTEST" serve 0.0.0.0 "$P" halfreply $((16 << 20))
vm_http www 127.0.0.1 "$P2"
wait_for 5 "the forwards" host_listens 127.0.0.1 "$P"
wait_for 5 "the forwards" host_listens 127.0.0.1 "$P2"

bg reader curl -sSN --unix-socket "$API" http://localhost/v1/events
# A half request: the agent must neither wait for it nor block on it.
bg half "$PY" -c "
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect('$API')
s.sendall(b'GET /v1/status HTTP/1.1\r\nHost: x\r\n')
print('sent', flush=True)
t = time.time()
s.settimeout(60)
print('closed' if s.recv(100) == b'' else 'answered', round(time.time() - t),
    flush=True)"
# A stream client that never reads, with a small receive buffer.
bg stuck "$PY" -c "
import signal, socket
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect('$API')
s.sendall(b'GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n')
print('following', flush=True)
signal.pause()"
streams() { [ "$(api /v1/status | json 'd["event_clients"]')" = "$1" ]; }
wait_for 5 "two event streams" streams 2
wait_for 5 "the half request" grep -q sent "$T/half.log"

# 32 MiB through the forward while the API is flooded with events.
bg bulk "$PHTEST" client 127.0.0.1 "$P" halfreply $((16 << 20)) $((16 << 20))
BULK=$LAST_PID
# Every 50 changes the flood lets the reading client catch up (a reader
# on a loaded machine is slow, not stuck); the stuck one never does.
"$PY" - "$API" "$T/reader.log" <<'EOF' >"$T/flood.log" || fail "the flood"
import http.client, json, os, socket, sys, time
slow = int(os.environ.get("PH_SLOW", "1"))
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
c = C("localhost", timeout=10 * slow)
worst = 0
for i in range(400):
    t = time.time()
    c.request("PUT", "/v1/policy",
              body=json.dumps({"mode": ["allow", "refuse"][i % 2]}))
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
    worst = max(worst, time.time() - t)
    deadline = time.time() + 10 * slow
    while i % 50 == 49 and time.time() < deadline and \
            open(sys.argv[2]).read().count('"policy-changed"') <= i:
        time.sleep(0.01)
c.request("PUT", "/v1/policy", body='{"mode":"loopback"}')
c.getresponse().read()
print("400 policy changes, slowest answer %.1f ms" % (worst * 1000))
EOF
wait_for 10 "the stuck client to be dropped" streams 1
[ "$(metric porthole_api_event_clients_dropped_total)" = 1 ] ||
    fail "dropped: $(metric porthole_api_event_clients_dropped_total)"
log_has host "event stream client dropped" || fail "no log of the drop"
wait "$BULK" || fail "the bulk transfer failed: $(cat "$T/bulk.log")"
grep -q "policy-changed" "$T/reader.log" || fail "the reader got nothing"
n=$(grep -c '"policy-changed"' "$T/reader.log")
[ "$n" = 401 ] || fail "the reading client got $n of 401 policy events"
pass "stuck stream client dropped, reading one kept all 401 events," \
    "32 MiB forwarded meanwhile ($(cat "$T/flood.log"))"

curl -sf "http://127.0.0.1:$P2/" | grep -q "hello from the guest" ||
    fail "the forward stopped answering"
wait_for $((15)) "the half request to time out" grep -q closed "$T/half.log"
api /v1/status >/dev/null || fail "the API stopped answering"
pass "a half request is closed after the API timeout ($(cat "$T/half.log" |
    tail -1 | cut -d' ' -f2) s); API and forward unaffected"
