#!/bin/bash
# Reverse forwards (protocol 6): host services the VM may reach, by an
# allowlist only the host writes.  Nothing is reachable by default: with
# no -R and no reach line nothing listens in the VM.  Then a host HTTP
# server (python3 -m http.server on 127.0.0.1) is reached from inside
# the VM with curl through a policy "reach" entry of this guest's block:
# a page and a 32 MiB file, bytes and digest exact; a -R entry (every
# guest) carries a half-closed exchange checked byte by byte both ways
# (phtest halfreply); the host user's real ssh-agent is reached through
# a socket entry with ssh-add -l inside the VM, which lists the key the
# host added.  The API, the metrics and portholectl list the entries and
# count the connections.  A hostile guest on its own endpoint gets its
# own list only: a stream naming the other guest's entry, a made-up id,
# its own entry with a forged session token, and (after a reload) its
# own stale id are refused and counted, while its own entry and the
# good guest's keep working; a guest of protocol 5 is sent no list and
# may not open a reverse stream.  A VM process holding 256 clients
# open meets the guest's cap: the next are closed at once, and logged
# at the 1st, 2nd and 4th only.  Removing entries from the policy file
# and sending SIGHUP closes their listeners in the VM, while a
# connection made before through one of them goes on.  A reach directory
# others may write, or a symbolic link, gets no socket, with the reason.
. "$(dirname "$0")/lib.sh"

GNAME=reach-vm
EVIL=$PH_ROOT/tests/tools/evilguest.py
ESOCK=$T/evil.sock	# the hostile guest's own endpoint
VMRUN=$T/vmrun		# the guest's reach directory (-R), not /run/porthole
AGENT=$T/agent.sock
P=$(free_port 10)
HP=$P GP=$((P + 1))	# the host HTTP server, and where the VM reaches it
EP=$((P + 2)) GEP=$((P + 3))	# the host halfreply server (-R)
OP=$((P + 4)) GOP=$((P + 5))	# the hostile guest's entry
EC=$((P + 6)) GEC=$((P + 7))	# a host echo server, for a connection held
DP=$((P + 8)) GDP=$((P + 9))	# a destination where nothing listens

vm_create

# Nothing by default: no -R, no policy, nothing listens in the VM.
start_host
start_guest -N "$GNAME" -R "$VMRUN"
log_has guest "protocol 6" || fail "the agents do not speak protocol 6"
[ "$(api /v1/reaches)" = "[]" ] || fail "entries by default: $(api /v1/reaches)"
[ -z "$(in_vm ss -Hltn)" ] || fail "something listens in the VM: $(in_vm ss -Hltn)"
! log_has guest "listening on" || fail "the guest listens for the host"
[ ! -e "$VMRUN" ] || [ -z "$(ls -A "$VMRUN")" ] || fail "sockets in $VMRUN"
pass "no -R and no reach line: nothing listens in the VM, no entries"
stop_agents none

# The host's services: a page and a 32 MiB file; a halfreply server; the
# host user's ssh-agent with one key; the hostile guest's destination.
mkdir -p "$T/www" "$T/other"
echo "hello from the host" >"$T/www/index.html"
head -c $((32 << 20)) /dev/urandom >"$T/www/big"
echo "the other guest's page" >"$T/other/index.html"
bg hosthttp "$PY" -m http.server "$HP" --bind 127.0.0.1 --directory "$T/www"
bg otherhttp "$PY" -m http.server "$OP" --bind 127.0.0.1 --directory "$T/other"
bg halfreply "$PHTEST" serve 127.0.0.1 "$EP" halfreply $((4 << 20))
bg agent ssh-agent -D -a "$AGENT"
bg echo "$PY" -c '
import socketserver, sys
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class Server(socketserver.ThreadingTCPServer):
    request_queue_size = 1024	# 256 clients at once, below
    daemon_threads = True
Server(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
' "$EC"
ssh-keygen -q -t ed25519 -N "" -C reach-test -f "$T/key"
wait_for 10 "the host's ssh-agent" test -S "$AGENT"
SSH_AUTH_SOCK=$AGENT ssh-add -q "$T/key" || fail "ssh-add on the host"
FPR=$(ssh-keygen -lf "$T/key.pub" | awk '{ print $2 }')
wait_for 10 "the host's HTTP servers" curl -sf "http://127.0.0.1:$HP/" -o /dev/null
wait_for 10 "the other HTTP server" curl -sf "http://127.0.0.1:$OP/" -o /dev/null

write_policy() {
	cat >"$T/policy" <<EOP
guest "$GNAME" {
$1
	reach $AGENT as ssh-agent
}
guest unix:$ESOCK {
$2
}
EOP
}
write_policy "	reach 127.0.0.1:$HP as $GP
	reach 127.0.0.1:$EC as $GEC
	reach 127.0.0.1:$DP as $GDP" "	reach 127.0.0.1:$OP as $GOP"
start_host -f "$T/policy" -R "127.0.0.1:$EP=$GEP" -l "unix:$ESOCK"
wait_for 5 "the hostile guest's endpoint" test -S "$ESOCK"
start_guest -N "$GNAME" -R "$VMRUN"
wait_for 10 "the VM's listener for the host server" vm_listens 127.0.0.1 "$GP"
wait_for 10 "the VM's listener for -R" vm_listens 127.0.0.1 "$GEP"
wait_for 10 "the VM's ssh-agent socket" test -S "$VMRUN/ssh-agent.sock"
! vm_listens 127.0.0.1 "$GOP" || fail "the VM listens for the other guest's entry"

# TCP: the page and the file, exact.
out=$(in_vm curl -sS --max-time "$(ph_secs 10)" "http://127.0.0.1:$GP/index.html") ||
    fail "curl in the VM"
[ "$out" = "hello from the host" ] || fail "GET /index.html: $out"
in_vm curl -sS --max-time "$(ph_secs 120)" -o "$T/big.got" "http://127.0.0.1:$GP/big" ||
    fail "curl of 32 MiB in the VM"
[ "$(sha256sum <"$T/big.got")" = "$(sha256sum <"$T/www/big")" ] ||
    fail "32 MiB through the entry: digests differ"
rm -f "$T/big.got"
pass "host 127.0.0.1:$HP reached in the VM at 127.0.0.1:$GP: page and 32 MiB exact"

# Half-close, both ways checked (the -R entry, for every guest).
in_vm "$PHTEST" client 127.0.0.1 "$GEP" halfreply $((1 << 20)) $((4 << 20)) \
    >"$T/half.out" 2>&1 || fail "halfreply through -R: $(cat "$T/half.out")"
pass "-R 127.0.0.1:$EP=$GEP: 1 MiB, half-close, 4 MiB back, byte for byte"

# A Unix socket entry: the host's real ssh-agent, from inside the VM.
[ "$(stat -c %a "$VMRUN/ssh-agent.sock")" = 600 ] ||
    fail "VM socket mode $(stat -c %a "$VMRUN/ssh-agent.sock")"
in_vm env SSH_AUTH_SOCK="$VMRUN/ssh-agent.sock" ssh-add -l >"$T/keys" 2>&1 ||
    fail "ssh-add -l in the VM: $(cat "$T/keys")"
grep -qF "$FPR" "$T/keys" || fail "ssh-add -l in the VM: $(cat "$T/keys")"
pass "the host's ssh-agent answers ssh-add -l in the VM ($FPR)"

# The API, the metrics and portholectl.
api /v1/reaches >"$T/reaches.json"
eid() { json "[e['id'] for e in d if e['destination'] == '$1'][0]" <"$T/reaches.json"; }
E_GOOD=$(eid "127.0.0.1:$HP") E_CLI=$(eid "127.0.0.1:$EP")
E_AGENT=$(eid "$AGENT") E_EVIL=$(eid "127.0.0.1:$OP")
[ "$(json "[e['guests'] for e in d if e['id'] == $E_GOOD][0]" <"$T/reaches.json")" = "[\"$GNAME\"]" ] ||
    fail "API: guests of entry $E_GOOD: $(cat "$T/reaches.json")"
[ "$(json "[e['source'] for e in d if e['id'] == $E_CLI][0]" <"$T/reaches.json")" = "command line" ] ||
    fail "API: the -R entry: $(cat "$T/reaches.json")"
[ "$(json "[e['connections_total'] for e in d if e['id'] == $E_GOOD][0]" <"$T/reaches.json")" -ge 2 ] ||
    fail "API: connections of entry $E_GOOD: $(cat "$T/reaches.json")"
[ "$(metric "porthole_reverse_connections_total{entry=\"$E_AGENT\"}")" -ge 1 ] ||
    fail "metrics: no connection to the ssh-agent entry"
ctl ls >"$T/ls.txt" || fail "portholectl ls"
grep -qE "^$E_GOOD +127\.0\.0\.1:$GP +127\.0\.0\.1:$HP +$GNAME +0/[0-9]+$" "$T/ls.txt" ||
    fail "portholectl ls: $(cat "$T/ls.txt")"
grep -qE "^$E_CLI +127\.0\.0\.1:$GEP +127\.0\.0\.1:$EP +every guest " "$T/ls.txt" ||
    fail "portholectl ls, the -R entry: $(cat "$T/ls.txt")"
pass "GET /v1/reaches, /metrics and portholectl ls show the entries and counts"

# A destination that refuses: the VM's client is closed on, each failure
# counted, and the log has the 1st, 2nd and 4th only (a guest can make
# them as often as it likes).
wait_for 10 "the VM's listener for the dead entry" vm_listens 127.0.0.1 "$GDP"
E_DEAD=$(eid "127.0.0.1:$DP")
for i in 1 2 3 4; do
	! in_vm curl -sS --max-time "$(ph_secs 10)" "http://127.0.0.1:$GDP/" \
	    >/dev/null 2>&1 || fail "a page through an entry with no server"
done
dead_failed() {
	[ "$(api /v1/reaches | json "[e['dial_failed'] for e in d if e['id'] == $E_DEAD][0]")" = 4 ]
}
wait_for 10 "4 failed dials counted" dead_failed
[ "$(grep -c "reverse entry $E_DEAD: cannot reach 127.0.0.1:$DP" "$T/host.log")" = 3 ] ||
    fail "failed dials logged: $(grep "reverse entry $E_DEAD" "$T/host.log")"
log_has host "cannot reach 127.0.0.1:$DP: Connection refused (4 failures)" ||
    fail "the 4th failure not logged with its count"
pass "a destination that refuses: 4 failed dials counted, 3 logged (1st, 2nd, 4th)"

# The hostile guest: its own list, and nothing else whatever it sends.
out=$("$PY" "$EVIL" "$ESOCK" reverse "listed,$E_GOOD,$E_AGENT,4000000000,forged:$E_EVIL")
case $out in
"reach $E_CLI,$E_EVIL; $E_CLI "*"; $E_EVIL answered; $E_GOOD closed; $E_AGENT closed; 4000000000 closed; forged $E_EVIL closed") ;;
*) fail "hostile guest: $out" ;;
esac
[ "$(metric 'porthole_reverse_refused_total{reason="entry"}')" -ge 3 ] &&
    [ "$(metric 'porthole_reverse_refused_total{reason="session"}')" -ge 1 ] ||
    fail "refusals not counted: $(api /metrics | grep reverse_refused)"
log_has host "not on the guest's list, refused" || fail "no refusal in the host's log"
out=$(in_vm curl -sS --max-time "$(ph_secs 10)" "http://127.0.0.1:$GP/") ||
    fail "the good guest after the hostile one"
[ "$out" = "hello from the host" ] || fail "the good guest after the hostile one: $out"
pass "another guest's id, a made-up id, a forged token: refused, counted; the guest's own entries work"

# A guest of protocol 5: no list, and no reverse stream.
out=$("$PY" "$EVIL" "$ESOCK" reverse-v5 "$E_EVIL")
[ "$out" = "no reach; $E_EVIL closed" ] || fail "a protocol 5 guest: $out"
[ "$(metric 'porthole_reverse_refused_total{reason="version"}')" -ge 1 ] ||
    fail "the protocol 5 stream not counted"
pass "a protocol 5 guest is sent no REACH, and its reverse stream is refused"

# A VM process holding reverse clients open: 256 at once are taken,
# each echoed through to the host, and the next ones are closed at once
# (each would cost a stream, on vsock a reserved port); the refusals are
# logged at the 1st, 2nd and 4th, with the count.  Once the holder
# exits, its 256 end.
E_EC=$(eid "127.0.0.1:$EC")
bg held ip netns exec "$NS" "$PY" -c '
import signal, socket, sys
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    for i in range(256)]
for s in held:
    s.sendall(b"x\n")
for i, s in enumerate(held):
    got = s.makefile("rb").readline()
    if got != b"x\n":
        sys.exit("client %d: %r" % (i, got))
print("held", flush=True)
signal.pause()
' "$GEC"
HELD_PID=$LAST_PID
wait_for 30 "256 reverse clients echoed" grep -q held "$T/held.log"
for i in 1 2 3 4; do
	out=$(in_vm "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(int(sys.argv[2]))
print("closed" if s.recv(1) == b"" else "open")
' "$GEC" "$(ph_secs 10)") || fail "client 256 + $i"
	[ "$out" = closed ] || fail "client 256 + $i: $out"
done
[ "$(grep -c "reverse entry $E_EC: client refused: too many reverse connections" "$T/guest.log")" = 3 ] ||
    fail "refusals logged: $(grep "client refused" "$T/guest.log")"
log_has guest "client refused: too many reverse connections (4 refused)" ||
    fail "the 4th refusal not logged with its count"
kill_wait TERM "$HELD_PID"
held_gone() {
	[ "$(grep -c "reverse connection to entry $E_EC: " "$T/guest.log")" -ge 256 ]
}
wait_for 30 "the 256 held connections to end in the guest" held_gone
pass "256 reverse clients at once; the next 4 closed at once, logged 3 times (1st, 2nd, 4th)"

# SIGHUP without the good guest's TCP entries and the hostile one's:
# their listeners close, a connection made before goes on; the ssh-agent
# entry stays, under the same id.
wait_for 10 "the VM's listener for the echo server" vm_listens 127.0.0.1 "$GEC"
mkfifo "$T/go"
bg live ip netns exec "$NS" "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"one\n")
print("first", s.recv(100) == b"one\n", flush=True)
open(sys.argv[2]).read()
s.sendall(b"two\n")
print("second", s.recv(100) == b"two\n", flush=True)
' "$GEC" "$T/go"
wait_for 10 "the live connection" grep -q "first True" "$T/live.log"
write_policy "" ""
kill -HUP "$HOST_PID"
wait_for 10 "the VM's listener to close" eval "! vm_listens 127.0.0.1 $GP"
wait_for 10 "the echo listener to close" eval "! vm_listens 127.0.0.1 $GEC"
echo go >"$T/go"
wait_for 10 "the live connection's second line" grep -q "second" "$T/live.log"
grep -q "second True" "$T/live.log" ||
    fail "the connection made before the reload broke: $(cat "$T/live.log")"
vm_listens 127.0.0.1 "$GEP" || fail "the -R listener closed on reload"
test -S "$VMRUN/ssh-agent.sock" || fail "the ssh-agent socket went on reload"
[ "$(api /v1/reaches | json "[e['id'] for e in d if e['destination'] == '$AGENT'][0]")" = "$E_AGENT" ] ||
    fail "the ssh-agent entry changed id on reload"
in_vm env SSH_AUTH_SOCK="$VMRUN/ssh-agent.sock" ssh-add -l | grep -qF "$FPR" ||
    fail "ssh-add -l in the VM after the reload"
out=$("$PY" "$EVIL" "$ESOCK" reverse "$E_EVIL")
[ "$out" = "reach $E_CLI; $E_EVIL closed" ] || fail "a stale id: $out"
pass "SIGHUP: removed entries close their VM listeners (a connection made before goes on), a stale id is refused"

# The guest agent leaves: its socket file goes with it.
kill_wait TERM "$GUEST_PID"
[ ! -e "$VMRUN/ssh-agent.sock" ] || fail "the VM socket outlived the agent"
pass "the guest's reverse socket goes with the agent"

# A reach directory others may write (or a link to a good one): no
# socket is made there, and the guest says why.
mkdir "$T/loose"
chmod 0777 "$T/loose"
ln -s "$VMRUN" "$T/linked"
refused_dir() {	# refused_dir DIR REASON
	mv "$T/guest.log" "$T/guest-before-$(basename "$1").log.old"
	start_guest -N "$GNAME" -R "$1"
	wait_for 10 "the guest to refuse $1" log_has guest \
	    "reach directory $1: $2 (uid 0, mode [0-7]*): no socket made there"
	kill_wait TERM "$GUEST_PID"
}
refused_dir "$T/loose" "writable by group or others"
refused_dir "$T/linked" "a symbolic link"
[ -z "$(ls -A "$T/loose")" ] && [ ! -e "$VMRUN/ssh-agent.sock" ] ||
    fail "a socket made in a refused reach directory"
pass "a reach directory writable by others, or a link, is refused with the reason; no socket made"
