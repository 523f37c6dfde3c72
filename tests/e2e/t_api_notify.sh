#!/bin/bash
# contrib/porthole-notify turns the event stream into desktop
# notifications: a refused and a rewritten bind each give one
# notify-send, a bound one none.  notify-send is a stand-in that
# records its arguments.  A hostile guest's names reach it escaped for
# its markup, and never as an option.
. "$(dirname "$0")/lib.sh"

vm_create
in_vm ip addr add 10.99.0.1/32 dev lo
base=$(free_port 90)
mkdir "$T/bin"
cat >"$T/bin/notify-send" <<'END'
#!/bin/sh
printf '%s|' "$@" >>"$NOTIFY_LOG"
echo >>"$NOTIFY_LOG"
END
chmod +x "$T/bin/notify-send"
export NOTIFY_LOG=$T/notify.txt
touch "$NOTIFY_LOG"

start_host -b refuse
start_guest
bg notify env PATH="$T/bin:$PATH" "$PY" "$PH_ROOT/contrib/porthole-notify" \
    -a "unix:$API"
streams() { [ "$(api /v1/status | json 'd["event_clients"]')" = 1 ]; }
wait_for 5 "porthole-notify to follow the events" streams
vm_http lo 127.0.0.1 "$base"
vm_http any 0.0.0.0 $((base + 1))
vm_http other 10.99.0.1 $((base + 2))
wait_for 5 "two notifications" sh -c "[ \$(wc -l <'$NOTIFY_LOG') -ge 2 ]"
grep -qxF -e "--app-name=porthole|--urgency=normal|--|Port $((base + 1)) not forwarded (refused)|python3 in vm bound tcp 0.0.0.0:$((base + 1)): wildcard bind 0.0.0.0 refused by policy refuse|" \
    "$NOTIFY_LOG" || fail "no notification of the refusal: $(cat "$NOTIFY_LOG")"
grep -qxF -e "--app-name=porthole|--urgency=low|--|Port $((base + 2)) forwarded on 127.0.0.1:$((base + 2))|python3 in vm bound tcp 10.99.0.1:$((base + 2)): guest address 10.99.0.1 is not a host address: forwarded on host loopback|" \
    "$NOTIFY_LOG" || fail "no notification of the rewrite: $(cat "$NOTIFY_LOG")"
grep -q "Port $base " "$NOTIFY_LOG" && fail "a bound forward was notified"
# It follows the agent across a restart.
kill_wait TERM "$HOST_PID"
start_host
wait_for 10 "porthole-notify back on the stream" streams
api_status 200 -X PUT -d '{"mode":"refuse"}' /v1/policy
two_refusals() {
	[ "$(grep -c "Port $((base + 1)) not forwarded (refused)" \
	    "$NOTIFY_LOG")" = 2 ]
}
wait_for 10 "the refusal after the restart" two_refusals
pass "porthole-notify: refused and rewritten binds notified, across a restart"

# A hostile guest: its name and a process's name are markup, quotes and
# shell, and start with '-'.  notify-send gets them as text (escaped, as
# its body is markup), after "--".
kill_wait TERM "$GUEST_PID"
gname="-<b>g</b>&\"'\$(touch $T/pwned);"
pname="-<i>p</i>&'\""
start_guest -N "$gname"
bg hostile ip netns exec "$NS" "$PY" -c '
import signal, socket, sys
with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
s = socket.socket()
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen()
signal.pause()' "$pname" $((base + 3))
wait_for 10 "the hostile guest's notification" grep -q \
    "Port $((base + 3)) not forwarded" "$NOTIFY_LOG"
body="-&lt;i&gt;p&lt;/i&gt;&amp;&#x27;&quot; in -&lt;b&gt;g&lt;/b&gt;&amp;"
body+="&quot;&#x27;\$(touch $T/pwned); bound tcp 0.0.0.0:$((base + 3)):"
body+=" wildcard bind 0.0.0.0 refused by policy refuse"
grep -qxF -e "--app-name=porthole|--urgency=normal|--|Port $((base + 3)) not forwarded (refused)|$body|" \
    "$NOTIFY_LOG" || fail "the hostile names reached notify-send as: $(grep \
    "Port $((base + 3))" "$NOTIFY_LOG")"
[ ! -e "$T/pwned" ] || fail "a guest's name ran a command"
pass "porthole-notify: a hostile guest's names escaped, after --"
