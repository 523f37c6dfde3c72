#!/usr/bin/env python3
"""A process in the VM that tries to speak for its guest without the key.

    authguest.py SOCKET CASE [KEYFILE]

Connects to a host agent's Unix endpoint (protocol version 3) and prints
the host's answer, one line, for the test to assert on: "closed", "error
CODE" (6 is the key's), "exposed VERDICT" or "welcome auth N".

Cases:
  old        HELLO of protocol 1-2 only, to a host that asks for a key
  ask        HELLO; prints whether WELCOME asks for a proof
  no-auth    HELLO, then EXPOSE straight after WELCOME, no AUTH
  silent     HELLO, then nothing: the host's deadline must close it
  wrong      AUTH with a proof made of random bytes
  replay     a proof the key made for one WELCOME, sent after another
  data       DATA with a made-up token and connection id, on a new stream
  prove      AUTH proven with KEYFILE, the host's AUTH checked, then
             EXPOSE: what a guest with the right key gets (root only)
  prove-hold the same as guest "named", then holds the session open
  name=N     HELLO as guest name N without a key, then EXPOSE
The HMAC here is the test's own, from Python's standard library, checking
the agents' libsodium one from outside.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evilguest as eg  # noqa: E402

AUTH = 14
GUEST_LABEL, HOST_LABEL = b"porthole v3 guest", b"porthole v3 host"


def hello3(name="evil", vmin=1, vmax=3):
    return eg.frame(eg.HELLO, struct.pack(">HH", vmin, vmax) +
                    os.urandom(16) + eg.string("evil/3") + eg.string(name))


def welcome(sock, name="evil", vmax=3):
    """HELLO; (version, token, auth, nonce) from WELCOME, or the answer."""
    sock.sendall(hello3(name, 1, vmax))
    ftype, p = eg.read_frame(sock)
    if ftype == eg.ERROR:
        return "error %d" % struct.unpack(">I", p[:4])
    if ftype != eg.WELCOME:
        return "closed"
    version, token = struct.unpack(">HQ", p[:10])
    slen = struct.unpack(">H", p[18:20])[0]
    rest = p[20 + slen:]
    if version < 3 or len(rest) < 33:
        return (version, token, 0, b"")
    return (version, token, rest[0], rest[1:33])


def key(path):
    with open(path) as f:
        return bytes.fromhex(f.read().strip())


def proof(k, nonce, token, label=GUEST_LABEL):
    return hmac.new(k, label + nonce + struct.pack(">Q", token),
                    hashlib.sha256).digest()


def expose_any(sock):
    sock.sendall(eg.expose(1, "127.0.0.1", 1 + os.getpid() % 60000))
    return eg.answer(sock)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    path, case = sys.argv[1], sys.argv[2]
    sock = eg.connect()
    if case == "data":
        sock.sendall(eg.frame(eg.DATA, os.urandom(16)) + b"stolen?")
        print(eg.answer(sock))
        return
    if case == "old":
        w = welcome(sock, vmax=2)
        print(w if isinstance(w, str) else "welcome auth 0")
        return
    name = case[5:] if case.startswith("name=") else \
        "named" if case.startswith("prove") else "evil"
    w = welcome(sock, name)
    if isinstance(w, str):
        print(w)
        return
    version, token, auth, nonce = w
    if case == "ask":
        print("welcome auth %d" % auth)
    elif case in ("no-auth",) or case.startswith("name="):
        print(expose_any(sock))
    elif case == "silent":
        sock.settimeout(60)
        print(eg.answer(sock))
    elif case == "wrong":
        sock.sendall(eg.frame(AUTH, os.urandom(32)))
        print(eg.answer(sock))
    elif case == "replay":
        other = eg.connect()
        w2 = welcome(other)
        if isinstance(w2, str):
            print(w2)
            return
        # A proof that is right for the other challenge, sent after this.
        sock.sendall(eg.frame(AUTH, proof(key(sys.argv[3]), w2[3], w2[1])))
        print(eg.answer(sock))
    elif case in ("prove", "prove-hold"):
        k = key(sys.argv[3])
        sock.sendall(eg.frame(AUTH, proof(k, nonce, token)))
        ftype, p = eg.read_frame(sock)
        if ftype == eg.ERROR:
            print("error %d" % struct.unpack(">I", p[:4]))
        elif ftype != AUTH or p[:32] != proof(k, nonce, token, HOST_LABEL):
            print("no host proof")
        else:
            print(expose_any(sock), flush=True)
            if case == "prove-hold":   # held until the test kills it
                sock.settimeout(None)
                while sock.recv(4096):
                    pass
    else:
        sys.exit("authguest: unknown case " + case)


if __name__ == "__main__":
    main()
