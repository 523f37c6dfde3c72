#!/usr/bin/env python3
"""A guest that speaks the porthole protocol wrongly, on purpose.

    evilguest.py SOCKET CASE [ARG]

Connects to a host agent's Unix endpoint, misbehaves as CASE says, and
prints what the host answered, one line, for the test to assert on:
"closed" (the host ended the connection), "error CODE", "exposed VERDICT",
"pong" or "open".  Exit status 0 unless the tool itself failed.
"""
import os
import select
import socket
import struct
import sys
import threading
import time

HELLO, WELCOME, EXPOSE, UNEXPOSE, EXPOSED, OPEN, CLOSE, DATA, PING, PONG, \
    ERROR, POOL, PAIR = range(1, 14)
SHUT, RELEASE = 15, 16
REACH, REVERSE = 17, 18
VERDICTS = {1: "bound", 2: "rewritten", 3: "refused", 4: "failed"}
# A net for a host that does not answer, not a bound on a slow one: as
# the shell tests' deadlines, at least 30 s, times PH_SLOW (valgrind).
NET = 30 * int(os.environ.get("PH_SLOW", "1"))


def frame(ftype, payload, length=None):
    if length is None:
        length = len(payload)
    return struct.pack(">HHI", ftype, 0, length) + payload


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def hello(vmin=1, vmax=1, name="evil"):
    return frame(HELLO, struct.pack(">HH", vmin, vmax) + os.urandom(16) +
                 string("evil/1") + string(name))


def expose(fid, addr, port, proto=6, family=4, process="evil"):
    raw = socket.inet_pton(socket.AF_INET if family == 4 else
                           socket.AF_INET6, addr)
    return frame(EXPOSE, struct.pack(">IBBB", fid, proto, 0, family) + raw +
                 struct.pack(">H", port) + string(process))


def expose_unix(fid, name, path="/run/evil.sock", process="evil"):
    """EXPOSE of a guest Unix socket (protocol 5): kind 253, the name
    the host is to place it under, the guest's path."""
    return frame(EXPOSE, struct.pack(">IBB", fid, 253, 0) + string(name) +
                 string(path) + string(process))


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(sock):
    hdr = recv_exact(sock, 8)
    if hdr is None:
        return None, None
    ftype, _, length = struct.unpack(">HHI", hdr)
    payload = recv_exact(sock, length)
    if payload is None:
        return None, None
    return ftype, payload


def answer(sock):
    """The host's next meaningful answer, as one word or two."""
    while True:
        try:
            ftype, payload = read_frame(sock)
        except (ConnectionResetError, socket.timeout) as e:
            return "closed" if isinstance(e, ConnectionResetError) \
                else "timeout"
        if ftype is None:
            return "closed"
        if ftype == ERROR:
            return "error %d" % struct.unpack(">I", payload[:4])
        if ftype == EXPOSED:
            return "exposed " + VERDICTS.get(payload[4], "?")
        if ftype == PONG:
            return "pong"
        if ftype == OPEN:
            return "open"
        # WELCOME and anything else: keep reading


def session(sock, vmax=1, name="evil"):
    """Says HELLO (as name); returns the session token from WELCOME."""
    sock.sendall(hello(1, vmax, name))
    ftype, payload = read_frame(sock)
    if ftype != WELCOME:
        sys.exit("evilguest: no WELCOME")
    return struct.unpack(">Q", payload[2:10])[0]


def connect():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(NET)
    sock.connect(sys.argv[1])
    return sock


def pool_stream(sock, vmax, then=b""):
    """A session, then a pooled stream for it; the host's answer on that."""
    token = session(sock, vmax)
    pooled = connect()
    pooled.sendall(frame(POOL, struct.pack(">QQ", token, 1)) + then)
    return pooled


def reach_ids(sock):
    """Reads the host's frames up to REACH (protocol 6); its entry ids."""
    while True:
        ftype, payload = read_frame(sock)
        if ftype is None:
            sys.exit("evilguest: no REACH")
        if ftype != REACH:
            continue
        ids, off = [], 1
        for _ in range(payload[0]):
            eid, kind = struct.unpack(">IB", payload[off:off + 5])
            off += 5
            if kind == 253:
                off += 2 + struct.unpack(">H", payload[off:off + 2])[0]
            else:
                off += 1 + (4 if payload[off] == 4 else 16) + 2
            ids.append(eid)
        return ids


def reverse_try(token, eid):
    """A reverse stream naming entry eid, an HTTP request on it: whether
    anything answered ("answered") or the host closed it ("closed")."""
    c = connect()
    c.sendall(frame(REVERSE, struct.pack(">QII", token, eid, 0)) +
              b"GET / HTTP/1.0\r\n\r\n")
    c.shutdown(socket.SHUT_WR)
    got = b""
    try:
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    except socket.timeout:
        return "timeout"
    finally:
        c.close()
    return "answered" if got else "closed"


def reverse(s, arg):
    """A session of protocol 6; prints the ids its REACH lists, then one
    reverse stream for each id in arg (comma-separated; "listed" is each
    listed id, "forged:ID" names ID with a made-up session token), as
    "reach 3,4; 3 answered; 99 closed".  The session stays up throughout."""
    token = session(s, 6)
    ids = reach_ids(s)
    out = ["reach " + ",".join(str(i) for i in ids)]
    for want in arg.split(","):
        if want == "listed":
            out += ["%d %s" % (i, reverse_try(token, i)) for i in ids]
        elif want.startswith("forged:"):
            eid = int(want[7:])
            out.append("forged %d %s" %
                       (eid, reverse_try(token ^ 0x5a5a5a5a5a5a5a5a, eid)))
        else:
            out.append("%d %s" % (int(want), reverse_try(token, int(want))))
    print("; ".join(out))
    sys.exit(0)


def reverse_v5(s, arg):
    """A session of protocol 5: whether the host sent it REACH before
    answering a PING (it must not), then a reverse stream for entry arg
    all the same: "no reach; 3 closed"."""
    token = session(s, 5)
    s.sendall(frame(PING, struct.pack(">Q", 7)))
    seen = "no reach"
    while True:
        ftype, _ = read_frame(s)
        if ftype is None:
            sys.exit("evilguest: closed before PONG")
        if ftype == REACH:
            seen = "reach sent"
        if ftype == PONG:
            break
    print("%s; %s %s" % (seen, arg, reverse_try(token, int(arg))))
    sys.exit(0)


def flood_expose(s, count):
    """count EXPOSEs for 127.0.0.1 ports; a thread reads the verdicts."""
    session(s)
    verdicts = {}

    def reader():
        while sum(verdicts.values()) < count:
            ftype, payload = read_frame(s)
            if ftype is None:
                verdicts["closed"] = 1
                return
            if ftype == EXPOSED:
                v = VERDICTS.get(payload[4], "?")
                verdicts[v] = verdicts.get(v, 0) + 1

    s.settimeout(60)
    t = threading.Thread(target=reader)
    t.start()
    base = 10000 + os.getpid() % 20000
    batch = []
    for i in range(count):
        batch.append(expose(i + 1, "127.0.0.1", base + i % 5000))
        if len(batch) == 1000 or i == count - 1:
            s.sendall(b"".join(batch))
            batch = []
    t.join()
    print(" ".join("%s %d" % kv for kv in sorted(verdicts.items())))
    sys.exit(0)


def no_hello(path, count):
    """Opens count connections that never send a frame; holds them."""
    held = []
    for _ in range(count):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        held.append(c)
    closed = 0
    for c in held:
        c.settimeout(NET)
        try:
            if c.recv(1) == b"":
                closed += 1
        except (ConnectionResetError, socket.timeout):
            closed += isinstance(sys.exc_info()[1], ConnectionResetError)
    print("held %d closed-by-host %d" % (count, closed))
    sys.exit(0)


def no_hello_hold(path, count):
    """Keeps count connections that never send a frame open, opening a
    new one for each the host closes, until killed; prints "holding"
    once count were first opened."""
    held = []
    said = False
    while True:
        while len(held) < count:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            c.setblocking(False)
            held.append(c)
        if not said:
            print("holding %d" % count, flush=True)
            said = True
        ready, _, _ = select.select(held, [], [], 0.2)
        for c in ready:
            try:
                gone = c.recv(1) == b""
            except (ConnectionResetError, BlockingIOError) as e:
                gone = isinstance(e, ConnectionResetError)
            if gone:
                c.close()
                held.remove(c)
        if len(held) < count:
            time.sleep(0.05)	# a steady flood, not a busy loop


def udp_hog(path, count, base):
    """Exposes count UDP ports 127.0.0.1:base..., opens the data stream
    of every flow the host asks for, and never reads one; prints
    "exposed N" once the host answered every EXPOSE, then holds on until
    killed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    token = session(s)
    s.sendall(b"".join(expose(i + 1, "127.0.0.1", base + i, proto=17)
                       for i in range(count)))
    streams = []
    exposed = 0
    while True:
        ftype, payload = read_frame(s)
        if ftype is None:
            print("closed", flush=True)
            return
        if ftype == EXPOSED:
            exposed += 1
            if exposed == count:
                print("exposed %d" % count, flush=True)
        elif ftype == OPEN:
            conn = struct.unpack(">QI", payload[:12])[0]
            d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            d.connect(path)
            d.sendall(frame(DATA, struct.pack(">QQ", token, conn)))
            streams.append(d)	# held, never read
        elif ftype == PING:
            s.sendall(frame(PONG, payload))


def flood_data_unknown(path, count):
    """count connections, one after another, each a data stream for a
    connection that does not exist: a warning each, for the host."""
    for _ in range(count):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        c.sendall(frame(DATA, os.urandom(16)))
        c.close()
    print("sent %d" % count)


def frame_of_any(sock, wants):
    """Reads the host's frames up to one of the types in wants."""
    while True:
        ftype, payload = read_frame(sock)
        if ftype is None:
            sys.exit("evilguest: the host closed the session")
        if ftype in wants:
            return ftype, payload


def frame_of(sock, want):
    """Reads the host's frames up to one of type want; its payload."""
    return frame_of_any(sock, (want,))[1]


def close_returning(s, port):
    """A connection ended cleanly both ways (protocol 4: SHUT each way),
    its stream not yet RELEASEd, then a CLOSE for it: its stream is
    dropped, the session goes on (PING answered)."""
    token = session(s, 6)
    s.sendall(expose(1, "127.0.0.1", int(port)))
    frame_of(s, EXPOSED)
    pooled = connect()
    pooled.sendall(frame(POOL, struct.pack(">QQ", token, 1)))
    client = socket.create_connection(("127.0.0.1", int(port)),
                                      timeout=NET)
    client.sendall(b"x")
    client.shutdown(socket.SHUT_WR)
    # The client and the POOL reach the host on two sockets, in either
    # order: a host that has no pooled stream yet asks for one (OPEN).
    ftype, payload = frame_of_any(s, (PAIR, OPEN))
    conn = struct.unpack(">Q", payload[:8])[0]
    if ftype == OPEN:
        pooled = connect()
        pooled.sendall(frame(DATA, struct.pack(">QQ", token, conn)))
    if recv_exact(pooled, 1) != b"x":
        sys.exit("evilguest: the client's byte did not come")
    if struct.unpack(">QQ", frame_of(s, SHUT)) != (conn, 1):
        sys.exit("evilguest: no SHUT after the client's byte")
    s.sendall(frame(SHUT, struct.pack(">QQ", conn, 0)))
    if client.recv(1) != b"":	# the host is done: the pair returning
        sys.exit("evilguest: the client got no EOF")
    s.sendall(frame(CLOSE, struct.pack(">QB", conn, 2) + string("reset")) +
              frame(PING, struct.pack(">Q", 7)))
    return s


def data_for(s, conn_hex):
    """A data stream for somebody's connection, with a made-up token."""
    s.sendall(frame(DATA, os.urandom(8) + bytes.fromhex(conn_hex)))


CASES = {
    "garbage": lambda s: s.sendall(os.urandom(4096)),
    "huge": lambda s: s.sendall(frame(HELLO, b"", length=0xffffffff)),
    "truncated": lambda s: (s.sendall(hello()[:11]),
                            s.shutdown(socket.SHUT_WR)),
    "wrong-first": lambda s: s.sendall(expose(1, "0.0.0.0", 8080)),
    "bad-version": lambda s: s.sendall(hello(90, 99)),
    "unknown-type": lambda s: (session(s), s.sendall(frame(999, b"xyz"))),
    "ping-after-unknown": lambda s: (session(s), s.sendall(
        frame(999, b"xyz") + frame(PING, struct.pack(">Q", 7))),
        answer(s)),
    "expose-multicast": lambda s: (session(s),
                                   s.sendall(expose(1, "224.0.0.1", 8080))),
    "expose-port0": lambda s: (session(s), s.sendall(expose(1, "0.0.0.0", 0))),
    "expose-badfamily": lambda s: (session(s), s.sendall(
        expose(1, "0.0.0.0", 80)[:14] + b"\x09" +
        expose(1, "0.0.0.0", 80)[15:])),
    "expose-badstring": lambda s: (session(s), s.sendall(
        expose(1, "127.0.0.1", 8080, process="a\x01b"))),
    "expose-truncated": lambda s: (session(s), s.sendall(
        frame(EXPOSE, b"\x00\x00\x00\x01\x06"))),
    "hello-twice": lambda s: (session(s), s.sendall(hello())),
    "open-from-guest": lambda s: (session(s), s.sendall(
        frame(OPEN, struct.pack(">QI", 1, 1)))),
    "data-unknown": lambda s: s.sendall(frame(DATA, os.urandom(16))),
    "wrong-order": lambda s: (session(s), s.sendall(
        frame(UNEXPOSE, struct.pack(">I", 77)) +
        frame(CLOSE, struct.pack(">QB", 5, 2) + string("x")) +
        frame(WELCOME, struct.pack(">HQII", 1, 1, 4096, 1) + string("x")))),
    "pool-unknown": lambda s: s.sendall(frame(POOL, os.urandom(16))),
    "pool-v1": lambda s: pool_stream(s, 1),
    "pool-bytes": lambda s: pool_stream(s, 2, b"early"),
    "pair-from-guest": lambda s: (session(s, 2), s.sendall(
        frame(PAIR, struct.pack(">QIQ", 1, 1, 1)))),
}
ARG_CASES = {
    "flood-expose": lambda s, a: flood_expose(s, int(a)),
    "expose-unix": lambda s, a: (session(s, 5),
                                 s.sendall(expose_unix(1, a))),
    "expose-unix-v3": lambda s, a: (session(s, 3),
                                    s.sendall(expose_unix(1, a))),
    # GUEST:NAME, a socket exposed under another guest's name
    "expose-unix-as": lambda s, a: (session(s, 5, a.split(":")[0]),
                                    s.sendall(expose_unix(
                                        1, a.split(":")[1]))),
    "data-for": lambda s, a: data_for(s, a),
    "close-returning": close_returning,
    "reverse": reverse,
    "reverse-v5": reverse_v5,
}


def main():
    if len(sys.argv) == 4 and sys.argv[2] == "no-hello":
        no_hello(sys.argv[1], int(sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[2] == "udp-hog":
        udp_hog(sys.argv[1], int(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[2] == "flood-data-unknown":
        flood_data_unknown(sys.argv[1], int(sys.argv[3]))
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[2] == "no-hello-hold":
        no_hello_hold(sys.argv[1], int(sys.argv[3]))
    if not ((len(sys.argv) == 3 and sys.argv[2] in CASES) or
            (len(sys.argv) == 4 and sys.argv[2] in ARG_CASES)):
        sys.exit("usage: evilguest.py SOCKET CASE [ARG]\ncases: " +
                 " ".join(sorted(CASES)) + "; with ARG: no-hello no-hello-hold flood-data-unknown; " +
                 "udp-hog N BASEPORT; " +
                 " ".join(sorted(ARG_CASES)))
    sock = connect()
    if len(sys.argv) == 4:
        other = ARG_CASES[sys.argv[2]](sock, sys.argv[3])
    else:
        other = CASES[sys.argv[2]](sock)
    print(answer(other if isinstance(other, socket.socket) else sock))


if __name__ == "__main__":
    main()
