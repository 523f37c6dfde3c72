#!/usr/bin/env python3
"""An HTTP server on a Unix socket, for t_usock (a guest socket's server).

    unixhttp.py PATH

GET /hello answers "hello from the guest socket"; POST /echo answers the
request's body, whole, with its SHA-256 in the X-Sha256 header, so that a
client can check both directions.  The socket is made at PATH (mode 0666,
as an engine's is to its group) and left there when the server is killed,
as a crashed engine leaves it: only the kernel knows nobody listens.
"""
import hashlib
import http.server
import os
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def address_string(self):
        return "unix"

    def do_GET(self):
        body = b"hello from the guest socket\n"
        if self.path != "/hello":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        if self.path != "/echo" or n < 0 or n > 256 << 20:
            self.send_error(400)
            return
        data = bytearray()
        while len(data) < n:
            chunk = self.rfile.read(min(1 << 20, n - len(data)))
            if not chunk:
                break
            data += chunk
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Sha256", hashlib.sha256(data).hexdigest())
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: unixhttp.py PATH")
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    srv = Server(path, Handler)
    os.chmod(path, 0o666)
    print("listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
