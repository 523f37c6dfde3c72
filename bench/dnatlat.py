#!/usr/bin/python3
"""bench/triggers' DNAT figures: dnatlat.py NETNS GUEST-LOG BASE-PORT N.

N times, in NETNS (which has table ip phbench, chain pre, a nat chain on
prerouting): `nft add rule ... tcp dport PORT dnat to 10.9.9.9:80`, then
the time from nft's start to the guest agent's "new bind: tcp
0.0.0.0:PORT by nft:phbench/pre" log line; then `nft flush chain` and the
time to its "bind gone" line.  nft's own run time is part of each figure,
and its median is printed too.  Prints "ADD-MEDIAN ADD-P99 GONE-MEDIAN
GONE-P99 NFT-MEDIAN" in milliseconds ("-" when nothing was seen).
"""
import datetime
import re
import statistics
import subprocess
import sys
import time


def logged(log, pat, deadline=30):
    """The wall-clock time of the first log line matching pat, or None."""
    end = time.time() + deadline
    rx = re.compile(r"(\d\d):(\d\d):(\d\d\.\d+) .*" + pat)
    while time.time() < end:
        with open(log) as f:
            for line in f:
                m = rx.match(line)
                if m:
                    day = datetime.datetime.now().replace(
                        hour=0, minute=0, second=0, microsecond=0)
                    return (day.timestamp() + int(m.group(1)) * 3600 +
                            int(m.group(2)) * 60 + float(m.group(3)))
        time.sleep(0.005)
    return None


def nft(ns, *args):
    t0 = time.time()
    subprocess.run(["ip", "netns", "exec", ns, "nft"] + list(args),
                   check=True)
    return t0, (time.time() - t0) * 1000


def figures(v):
    if not v:
        return "- -"
    v.sort()
    p99 = v[min(len(v) - 1, int(0.99 * (len(v) - 1) + 0.5))]
    return "%.1f %.1f" % (statistics.median(v), p99)


def main():
    ns, log = sys.argv[1], sys.argv[2]
    base, n = int(sys.argv[3]), int(sys.argv[4])
    add, gone, runs = [], [], []
    for i in range(n):
        port = base + i
        t0, run = nft(ns, "add", "rule", "ip", "phbench", "pre", "tcp",
                      "dport", str(port), "dnat", "to", "10.9.9.9:80")
        runs.append(run)
        t = logged(log, r"new bind: tcp 0\.0\.0\.0:%d by nft:phbench/pre"
                   % port)
        if t is not None:
            add.append(max(0.0, (t - t0) * 1000))
        t0, run = nft(ns, "flush", "chain", "ip", "phbench", "pre")
        runs.append(run)
        t = logged(log, r"bind gone: tcp 0\.0\.0\.0:%d" % port)
        if t is not None:
            gone.append(max(0.0, (t - t0) * 1000))
        time.sleep(0.2)
    print(figures(add), figures(gone), "%.1f" % statistics.median(runs))


main()
