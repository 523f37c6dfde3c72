#!/bin/bash
# "remap ... to auto" takes a host port no other forward uses, at any
# address.  The kernel's port 0 avoids only the same address: it gave a
# forward on 127.0.0.1 the port another forward had on [::1], and then
# localhost:PORT reached either one (t_policy_file's matrix failed on it
# now and then).  Here 120 guest ports, each bound on 127.0.0.1 and on
# ::1 and all held on the host by another program, make 240 auto ports:
# each must be a port of its own.
. "$(dirname "$0")/lib.sh"

N=120
base=$(free_port $N)
echo "remap tcp port $base-$((base + N - 1)) to auto" >"$T/policy"
vm_create
guest=() held=()
for ((i = 0; i < N; i++)); do
	guest+=("127.0.0.1,$((base + i))" "::1,$((base + i))")
	held+=("127.0.0.1,$((base + i))" "::1,$((base + i)),v6only")
done
bg blocker "$PY" "$PH_ROOT/tests/tools/phlisten.py" "${held[@]}"
wait_for 10 "the host's blocker" grep -q listening "$T/blocker.log"
bg vmserve ip netns exec "$NS" "$PY" "$PH_ROOT/tests/tools/phlisten.py" \
    "${guest[@]}"
wait_for 10 "the servers in the VM" grep -q listening "$T/vmserve.log"
start_host -f "$T/policy"
start_guest
moved() {
	[ "$(grep -c ': host port [0-9]*' "$T/guest.log")" -ge $((2 * N)) ]
}
wait_for 30 "$((2 * N)) verdicts" moved
ports=$(grep -o ': host port [0-9]*' "$T/guest.log" | awk '{ print $4 }')
dups=$(echo "$ports" | sort | uniq -d | tr '\n' ' ')
[ -z "$dups" ] || fail "auto gave a port to two forwards: $dups"
# And ss agrees: the host agent has one listener on each of those ports
# (another program may use one at another address: not a forward).
ss -Hltnp | awk -v p="pid=$HOST_PID," 'index($0, p) { print $4 }' |
    sed -E 's/.*:([0-9]+)$/\1/' | sort >"$T/held"
dups=$(uniq -d "$T/held" | tr '\n' ' ')
[ -z "$dups" ] || fail "host ports with two listeners of the host agent: $dups"
missing=$(echo "$ports" | sort | comm -23 - "$T/held" | tr '\n' ' ')
[ -z "$missing" ] || fail "host ports the host agent does not listen on:" \
    "$missing"
pass "$((2 * N)) forwards to auto: $((2 * N)) host ports, one listener each"
