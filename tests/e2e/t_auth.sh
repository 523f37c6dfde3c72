#!/bin/bash
# Only the guest agent speaks for its VM (porthole-host(8), SECURITY
# CONSIDERATIONS).  On a Unix endpoint the host never learns the guest's
# port, so the guest proves a key: WELCOME carries a fresh nonce, AUTH
# an HMAC over it.  A second user, made for this test, plays any other
# process in the VM: the endpoint is opened to it on purpose (0666, as a
# hypervisor maps every vsock connection of the VM onto that socket), and
# it says HELLO of an old version, EXPOSE without AUTH, a wrong proof and
# nothing at all; root replays a real proof made for another challenge;
# a data stream guesses a token.  Each is refused, logged and counted,
# while the real guest's forward and its live connection carry on.  A
# key in a guest block holds for that guest only, and a session that
# proved no key never replaces one that did.  Key files are checked.
. "$(dirname "$0")/lib.sh"

PHSTORM=$PH_ROOT/tests/tools/phstorm
U=pha$$
cleanup_user() { id "$U" >/dev/null 2>&1 && userdel "$U" 2>/dev/null || true; }
ph_at_exit cleanup_user
useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
    skip "cannot create a user"
authguest() {	# authguest [as-user] SOCKET CASE [KEY]: the host's answer
	local as=()
	[ "$1" = as-user ] && { as=(setpriv --reuid="$U" --regid="$U"
	    --clear-groups --reset-env); shift; }
	in_vm "${as[@]}" "$PY" "$PH_ROOT/tests/tools/authguest.py" "$@"
}

# --- key files ---
KEY=$T/guest.key KEY2=$T/other.key
"$PH_HOST" --new-key "$KEY" | grep -q "a new key is in $KEY" ||
    fail "--new-key said nothing"
"$PH_HOST" --new-key "$KEY2" >/dev/null
[ "$(stat -c %a "$KEY")" = 600 ] || fail "a new key is mode $(stat -c %a "$KEY")"
grep -qxE '[0-9a-f]{64}' "$KEY" || fail "a new key is not 64 hex digits"
cmp -s "$KEY" "$KEY2" && fail "two new keys are the same"
expect_fail "File exists" "$PH_HOST" --new-key "$KEY"
cp "$KEY" "$T/loose.key" && chmod 644 "$T/loose.key"
out=$("$PH_HOST" -n -K "$T/loose.key" 2>&1) && fail "a 644 key was taken"
echo "$out" | grep -q "readable or writable by others" ||
    fail "a 644 key: $out"
out=$("$PH_GUEST" -c "unix:$SOCK" -K "$T/loose.key" 2>&1) &&
    fail "the guest took a 644 key"
echo "$out" | grep -q "readable or writable by others" ||
    fail "guest, a 644 key: $out"
printf 'not a key\n' >"$T/bad.key" && chmod 600 "$T/bad.key"
out=$("$PH_HOST" -n -K "$T/bad.key" 2>&1) && fail "a bad key was taken"
echo "$out" | grep -q "64 hex digits" || fail "a bad key: $out"
cp "$KEY" "$T/users.key" && chown "$U" "$T/users.key"
out=$("$PH_GUEST" -c "unix:$SOCK" -K "$T/users.key" 2>&1) &&
    fail "the guest took another user's key"
echo "$out" | grep -q "owned by another user" || fail "guest, user's key: $out"
pass "key files: made mode 600 and random, never overwritten; loose, malformed or other users' keys refused with the reason"

# --- the real guest, with the key; the endpoint open to anyone ---
S2=$T/nokey.sock S3=$T/block.sock
cat >"$T/policy" <<POL
guest unix:$S3 {
	key $KEY2
}
guest "named" {
	key $KEY2
}
POL
vm_create
port=$(free_port)
start_host -K "$KEY" -l "unix:$S2" -l "unix:$S3" -f "$T/policy"
chmod 0755 "$T"
chmod 0666 "$SOCK" "$S2" "$S3"
start_guest -K "$KEY"
log_has guest "key proven both ways" || fail "the guest saw no proof"
log_has host "connected (key proven)" || fail "the host saw no proof"
bg echo ip netns exec "$NS" "$PHSTORM" echo 127.0.0.1 "$port"
wait_for 5 "the guest's forward" host_listens 127.0.0.1 "$port"
exec 3<>"/dev/tcp/127.0.0.1/$port"
echo before >&3
read -r -t "$(ph_secs 10)" line <&3 && [ "$line" = before ] ||
    fail "no echo through the forward"
pass "a guest with the key: proven, forwarded, a connection held open"

sessions=$(grep -c "connected (key proven)" "$T/host.log")
[ "$(authguest as-user "$SOCK" ask)" = "welcome auth 1" ] ||
    fail "WELCOME did not ask for a proof"
[ "$(authguest as-user "$SOCK" old)" = "error 6" ] ||
    fail "HELLO of protocol 2 to a host that wants a key"
[ "$(authguest as-user "$SOCK" no-auth)" = "error 6" ] ||
    fail "EXPOSE without AUTH"
[ "$(authguest as-user "$SOCK" wrong)" = "error 6" ] ||
    fail "a wrong proof"
[ "$(authguest as-user "$SOCK" silent)" = closed ] ||
    fail "HELLO and no AUTH was not closed"
[ "$(authguest "$SOCK" replay "$KEY")" = "error 6" ] ||
    fail "a proof made for another challenge"
[ "$(authguest as-user "$SOCK" data)" = closed ] ||
    fail "DATA with a guessed token"
pass "another process in the VM: old HELLO, EXPOSE without AUTH, a wrong proof, silence, a replayed proof and a guessed DATA, each refused"

[ "$(grep -c "connected (key proven)" "$T/host.log")" = "$sessions" ] ||
    fail "a refused connection became a session"
log_has host "session ended" && fail "the guest's session was ended"
log_has guest "reconnecting" &&
    fail "the guest lost its session"
host_listens 127.0.0.1 "$port" || fail "the guest's forward is gone"
echo after >&3
read -r -t "$(ph_secs 10)" line <&3 && [ "$line" = after ] ||
    fail "the held connection broke"
exec 3>&-
for r in old-version no-proof bad-proof; do
	n=$(metric "porthole_guest_refused_total{reason=\"$r\"}")
	[ "${n%.*}" -ge 1 ] || fail "metric $r is $n"
done
n=$(metric 'porthole_guest_refused_total{reason="bad-proof"}')
[ "${n%.*}" -ge 2 ] || fail "bad-proof counted $n, expected 2 (wrong, replay)"
log_has host "AUTH does not prove the guest's key" ||
    fail "a wrong proof was not logged"
log_has host "no AUTH in time" || fail "silence was not logged"
pass "the guest's session, forward and live connection untouched; refusals logged and counted in /metrics"

# -K is every endpoint's key unless a block names one: S2 wants KEY.
[ "$(authguest as-user "$S2" wrong)" = "error 6" ] || fail "S2 took no proof"
# S3's block: KEY2, not KEY.
[ "$(authguest "$S3" prove "$KEY")" = "error 6" ] ||
    fail "S3 took -K's key over its block's"
[ "$(authguest "$S3" prove "$KEY2")" = "exposed bound" ] ||
    fail "S3 refused its own key"
pass "a guest block's key holds for its endpoint, -K's for the others"

# Without -K, a key only for the guest named "named": a session that
# proved it is never replaced by one that proved none (any name).
S4=$T/named.sock API4=$T/api4/api.sock
mkdir -m 0700 "$T/api4"
cat >"$T/policy4" <<POL
guest "named" {
	key $KEY2
}
POL
bg host4 "$PH_HOST" -d -v -l "unix:$S4" -a "unix:$API4" -f "$T/policy4"
wait_for 5 "the second host's socket" test -S "$S4"
chmod 0666 "$S4"
bg holder in_vm "$PY" "$PH_ROOT/tests/tools/authguest.py" "$S4" prove-hold \
    "$KEY2"
holder=$LAST_PID
wait_for 5 "the proven session" grep -q "exposed bound" "$T/holder.log"
[ "$(authguest as-user "$S4" name=other)" = "error 6" ] ||
    fail "a keyless session replaced a proven one"
grep -q "a proven session holds\|proven session is up" "$T/host4.log" ||
    fail "the keyless HELLO was not logged"
kill_wait TERM "$holder"
wait_for 5 "the proven session's end" grep -q "session ended" "$T/host4.log"
[ "$(authguest as-user "$S4" name=other)" = "exposed bound" ] ||
    fail "a guest no key applies to was refused"
pass "a session that proved no key never replaces one that did; with none up, a guest no key applies to is served"

# A guest agent with no key, where one is asked: a clear error, retried.
bg noguest ip netns exec "$NS" "$PH_GUEST" -d -c "unix:$S2" \
    -s "$T/noguest.sock"
wait_for 5 "the keyless guest's error" grep -q \
    "the host asks for a key: start porthole-guest with -K" "$T/noguest.log"
kill_wait TERM "$LAST_PID"
pass "a guest agent without -K is told to give one"
