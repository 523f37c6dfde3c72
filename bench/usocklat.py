#!/usr/bin/python3
"""bench/triggers' Unix socket figure: usocklat.py VM-DIR HOST-DIR N.

Run in the guest's network namespace, beside a guest agent given
-x VM-DIR/a.sock -x VM-DIR/b.sock and a poll of an hour, so that only the
listen trigger can show a socket.  N times, a socket listens at a.sock
or b.sock in turn, and the time from listen() returning to its file
appearing on the host (HOST-DIR/a.sock) is measured.  A closed Unix
socket wakes no trigger, so the two alternate: the last one closes, and
the scan that sees the next listen sees it gone, so that each is off the
host before it listens again.  Prints "MEDIAN P99 SEEN" in milliseconds
("-" when none was seen).
"""
import os
import socket
import statistics
import sys
import time


def wait(cond, deadline=30):
    """Polls cond every 0.1 ms: the time it held, or None."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if cond():
            return time.monotonic()
        time.sleep(0.0001)
    return None


def main():
    vm, host, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    lat, held = [], None
    for i in range(n):
        name = "ab"[i % 2] + ".sock"
        path = os.path.join(vm, name)
        if held is not None:    # gone at the next listen's scan
            held.close()
        if wait(lambda: not os.path.exists(os.path.join(host, name))) is None:
            break
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen()
        t0 = time.monotonic()
        t = wait(lambda: os.path.exists(os.path.join(host, name)))
        held = s
        if t is not None:
            lat.append((t - t0) * 1000)
        time.sleep(0.2 + (i % 7) * 0.05)  # out of step with anything
    lat.sort()
    if not lat:
        print("- - 0")
        return
    p99 = lat[min(len(lat) - 1, int(0.99 * (len(lat) - 1) + 0.5))]
    print("%.1f %.1f %d" % (statistics.median(lat), p99, len(lat)))


main()
