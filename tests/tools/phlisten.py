#!/usr/bin/env python3
"""Listens on many TCP addresses at once, in one process: the servers of
the policy tests (tests/e2e/t_policy_*.sh).  By default each client is
greeted with "hello PORT\\n" and closed; with "echo", what a client sends
comes back until it closes; with "udp", a UDP socket sends every datagram
back to where it came from.

Usage: [PHLISTEN_NAME=NAME] phlisten.py ADDR,PORT[,v6only][,echo|udp]...
An IPv6 address without v6only is dual-stack.  With PHLISTEN_NAME, the
greeting is "hello PORT from NAME".  Prints "listening" once every
socket listens.
"""
import os
import selectors
import socket
import sys

NAME = os.environ.get("PHLISTEN_NAME")

sel = selectors.DefaultSelector()


def listen(spec):
    parts = spec.split(",")
    addr, port, opts = parts[0], int(parts[1]), parts[2:]
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    udp = "udp" in opts
    s = socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    if not udp:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY,
                     1 if "v6only" in opts else 0)
    s.bind((addr, port))
    s.setblocking(False)
    if udp:
        sel.register(s, selectors.EVENT_READ, ("udp", port, False))
        return
    s.listen(64)
    sel.register(s, selectors.EVENT_READ, ("listener", port, "echo" in opts))


def accept(sock, port, echo):
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return
    if echo:
        conn.setblocking(False)
        sel.register(conn, selectors.EVENT_READ, ("echo", port, True))
        return
    conn.setblocking(True)
    try:
        greeting = "hello %d" % port
        if NAME:
            greeting += " from " + NAME
        conn.sendall(greeting.encode() + b"\n")
    except OSError:
        pass
    conn.close()


def echo_some(conn):
    try:
        data = conn.recv(65536)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    if not data:
        sel.unregister(conn)
        conn.close()
        return
    conn.setblocking(True)
    conn.sendall(data)
    conn.setblocking(False)


for spec in sys.argv[1:]:
    listen(spec)
print("listening", flush=True)
while True:
    for key, _ in sel.select():
        kind, port, echo = key.data
        if kind == "listener":
            accept(key.fileobj, port, echo)
        elif kind == "udp":
            try:
                data, peer = key.fileobj.recvfrom(65535)
                key.fileobj.sendto(data, peer)
            except OSError:
                pass
        else:
            echo_some(key.fileobj)
