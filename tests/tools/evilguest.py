#!/usr/bin/env python3
"""A guest that speaks the porthole protocol wrongly, on purpose.

    evilguest.py SOCKET CASE

Connects to a host agent's Unix endpoint, misbehaves as CASE says, and
prints what the host answered, one line, for the test to assert on:
"closed" (the host ended the connection), "error CODE", "exposed VERDICT",
"pong" or "open".  Exit status 0 unless the tool itself failed.
"""
import os
import socket
import struct
import sys

HELLO, WELCOME, EXPOSE, UNEXPOSE, EXPOSED, OPEN, CLOSE, DATA, PING, PONG, \
    ERROR = range(1, 12)
VERDICTS = {1: "bound", 2: "rewritten", 3: "refused", 4: "failed"}


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


def session(sock):
    sock.sendall(hello())
    ftype, _ = read_frame(sock)
    if ftype != WELCOME:
        sys.exit("evilguest: no WELCOME")


CASES = {
    "garbage": lambda s: s.sendall(os.urandom(4096)),
    "huge": lambda s: s.sendall(frame(HELLO, b"", length=0xffffffff)),
    "truncated": lambda s: (s.sendall(hello()[:11]),
                            s.shutdown(socket.SHUT_WR)),
    "wrong-first": lambda s: s.sendall(expose(1, "0.0.0.0", 8080)),
    "bad-version": lambda s: s.sendall(hello(5, 9)),
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
}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.exit("usage: evilguest.py SOCKET CASE\ncases: " +
                 " ".join(sorted(CASES)))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(sys.argv[1])
    CASES[sys.argv[2]](sock)
    print(answer(sock))


if __name__ == "__main__":
    main()
