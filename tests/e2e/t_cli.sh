#!/bin/bash
# The command lines: a bad flag or endpoint is one line naming what is
# wrong and exit status 2; -n prints the effective configuration; -V and
# -h answer and exit 0.
. "$(dirname "$0")/lib.sh"

# expect_usage_error STATUS PATTERN COMMAND...
expect_error() {
	local want=$1 pat=$2 out rc
	shift 2
	set +e
	out=$("$@" 2>&1 </dev/null)
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $out"
	echo "$out" | grep -qE -- "$pat" || fail "'$*' said '$out', expected /$pat/"
}

expect_error 2 "-l: vsock port \"x\" is not a number" "$PH_HOST" -l vsock:x
expect_error 2 "is not an endpoint" "$PH_HOST" -l tcp:1.2.3.4:5
expect_error 2 "unix endpoint has no path" "$PH_HOST" -l unix:
expect_error 2 "-b: \"open\" is not loopback, refuse or allow" "$PH_HOST" -b open
expect_error 2 "usage: porthole-host" "$PH_HOST" --no-such-flag
expect_error 2 "unexpected argument \"extra\"" "$PH_HOST" extra
expect_error 2 "--max-forwards: \"0\" is not a number from 1 to 65536" \
    "$PH_HOST" --max-forwards 0
expect_error 2 "--max-frame: \"100\" is not a number from" "$PH_HOST" \
    --max-frame 100
expect_error 2 "--keepalive: \"x\" is not a number from 0 to 3600" "$PH_HOST" \
    --keepalive x
expect_error 2 "-k: \"-1\" is not a number from 0 to 3600" "$PH_GUEST" -k -1
expect_error 2 "-u: \"0\" is not a number from 1 to 86400" "$PH_HOST" -u 0
expect_error 2 "-U: \"many\" is not a number from 1 to 65536" "$PH_HOST" \
    --udp-flows many
expect_error 2 "-c: vsock CID \"x\" is not a number" "$PH_GUEST" -c vsock:x:1
expect_error 2 "-c: .* is not an endpoint" "$PH_GUEST" -c 1.2.3.4
expect_error 2 "-i: \"0\" is not a number from 1 to 65535" "$PH_GUEST" -i 0
expect_error 2 "-i: \"22/sctp\" is not PORT" "$PH_GUEST" -i 22/sctp
expect_error 2 "usage: porthole-guest" "$PH_GUEST" -x
expect_error 2 "-P: \"65\" is not a number from 0 to 64" \
    "$PH_GUEST" -P 65
expect_error 2 "unexpected argument \"statu\"" "$PH_GUEST" statu
expect_error 2 "-a: unix endpoint has no path" "$PH_HOST" -a unix:
expect_error 2 "-a: the API listens on a Unix socket only \(unix:PATH\), never on vsock:7000" \
    "$PH_HOST" -a vsock:7000
expect_error 2 "-S: \"5\" is not a number from 10 to 3600000" "$PH_GUEST" -S 5
# A number is digits only: no sign, no space, no hex, not empty.
expect_error 2 "-u: \" 5\" is not a number from 1 to 86400" "$PH_HOST" -u " 5"
expect_error 2 "-U: \"5 \" is not a number from 1 to 65536" "$PH_HOST" -U "5 "
expect_error 2 "--keepalive: \"\+5\" is not a number" "$PH_HOST" --keepalive +5
expect_error 2 "--max-forwards: \"0x10\" is not a number" "$PH_HOST" \
    --max-forwards 0x10
expect_error 2 "--max-sessions: \"99999999999999999999\" is not a number" \
    "$PH_HOST" --max-sessions 99999999999999999999
expect_error 2 "-k: \"\" is not a number from 0 to 3600" "$PH_GUEST" \
    -c "unix:$T/none.sock" -k ""
expect_error 2 "-P: \"\+1\" is not a number" "$PH_GUEST" \
    -c "unix:$T/none.sock" -P +1
expect_error 2 "-i: \"-22\" is not a number" "$PH_GUEST" \
    -c "unix:$T/none.sock" -i -22/tcp
expect_error 2 "-w: \"bpf\" is not auto, listen, exec or none" "$PH_GUEST" -w bpf
expect_error 2 "-N: name .* is not printable ASCII" "$PH_GUEST" -N "$(printf 'a\tb')"
expect_error 2 "-c: vsock CID \"any\" can only be listened on" \
    "$PH_GUEST" -c vsock:any:6440
bg busy "$PY" -c "import socket, signal
s = socket.socket(socket.AF_UNIX)
s.bind('$T/busy.sock')
s.listen()
signal.pause()"
wait_for 5 "a busy socket" test -S "$T/busy.sock"
expect_error 1 "another process is listening on $T/busy.sock" \
    "$PH_HOST" -d -l "unix:$T/busy.sock"
touch "$T/file"
expect_error 1 "$T/file exists and is not a socket" "$PH_HOST" -d -l "unix:$T/file"
pass "bad flags and endpoints: one clear line, exit 2 (1 for runtime errors)"

out=$("$PH_HOST" -n -l unix:/tmp/x.sock -l vsock:7000 -L -b allow \
    -a /tmp/d/api.sock -S /tmp/d/socks)
[ "$out" = "listen unix:/tmp/x.sock
listen vsock:7000
api unix:/tmp/d/api.sock
sock-dir /tmp/d/socks
reach none by -R
bind-policy loopback (loopback-only)
guest-key none but policy key lines
vsock-peers CID 3 and up, source port 1023 or lower" ] ||
    fail "-n printed: $out"
out=$("$PH_HOST" -n)
[ "$out" = "listen vsock:6440
api unix:/run/porthole/api.sock
sock-dir /run/porthole
reach none by -R
bind-policy loopback
guest-key none but policy key lines
vsock-peers CID 3 and up, source port 1023 or lower" ] ||
    fail "-n with defaults printed: $out"
out=$("$PH_HOST" -n -R 127.0.0.1:5432=15432 -R /run/x/ssh-agent.sock)
echo "$out" | grep -qxF "reach 127.0.0.1:5432 as 127.0.0.1:15432	# -R, entry 1, every guest" &&
    echo "$out" | grep -qxF "reach /run/x/ssh-agent.sock as ssh-agent	# -R, entry 2, every guest" ||
    fail "-n with -R printed: $out"
expect_error 2 "^porthole-host: -R 127.0.0.1:80: 127.0.0.1:80: give the guest a port of 1024 or more" \
    "$PH_HOST" -n -R 127.0.0.1:80
expect_error 2 "^porthole-host: -R 127.0.0.1:5432=10.0.0.1:5432: guest side \"10.0.0.1:5432\": not a loopback address of the guest" \
    "$PH_HOST" -n -R 127.0.0.1:5432=10.0.0.1:5432
out=$("$PH_HOST" -n --local-peers --any-source-port)
echo "$out" | grep -qx "vsock-peers any CID (--local-peers), any source port (--any-source-port)" ||
    fail "-n with --local-peers --any-source-port printed: $out"
out=$("$PH_HOST" -n -v --max-forwards 7 --keepalive 0)
echo "$out" | grep -qx "max-forwards 7" && echo "$out" | grep -qx "keepalive 0" &&
    echo "$out" | grep -qx "max-sessions 64" ||
    fail "-n -v did not print the limits: $out"
out=$("$PH_HOST" -n -v -u 5 --udp-flows 10)
echo "$out" | grep -qx "udp-timeout 5" && echo "$out" | grep -qx "udp-flows 10" ||
    fail "-n -v did not print the UDP limits: $out"
out=$("$PH_HOST" -n -v)
echo "$out" | grep -qx "udp-timeout 60" &&
    echo "$out" | grep -qx "udp-flows 1024" ||
    fail "-n -v did not print the default UDP limits: $out"
pass "-n prints the effective configuration (-v: with every limit)"

"$PH_HOST" -V | grep -qE "^porthole-host [0-9.]+ \(protocol 6\)$" || fail "host -V"
"$PH_GUEST" -V | grep -qE "^porthole-guest [0-9.]+ \(protocol 6\)$" || fail "guest -V"
"$PH_HOST" --help | grep -q "usage: porthole-host" || fail "host --help"
"$PH_GUEST" --help | grep -q "usage: porthole-guest" || fail "guest --help"
pass "-V and --help"
