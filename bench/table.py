#!/usr/bin/env python3
"""Prints bench/run's results as a table of medians, with ratios.

Input: lines "METRIC CONFIG VALUE", one per measurement; each metric was
measured REPEAT times.  Output: the median of each, porthole's ratio to
direct and to the haproxy pair, and the spread (min-max) of porthole's
runs, which says how noisy the machine was.
"""
import statistics
import sys

CONFIGS = ["direct", "porthole", "haproxy", "socat"]
ROWS = [
    ("bulk1", "bulk, 1 stream (Gbit/s)", "high"),
    ("bulk4", "bulk, 4 streams (Gbit/s)", "high"),
    ("rr", "1-byte round trip, one CPU (us)", "low"),
    ("rr_p99", "  its 99th percentile (us)", "low"),
    ("conns", "short connections per second", "high"),
    ("conn_errors", "  errors", "low"),
    ("conn_cpu", "  relay CPU per connection (us)", "low"),
    ("cpu_gib", "relay CPU per GiB, 1 stream (s)", "low"),
    ("sys_mib", "relay syscalls per MiB, 1 stream", "low"),
    ("wake_mib", "relay wakeups per MiB, 1 stream", "low"),
    ("idle_kib", "memory per idle connection (KiB)", "low"),
]
PORTHOLE_ROWS = [
    ("bind_ms", "bind seen on the host, median (ms)"),
    ("bind_p99", "bind seen on the host, 99th pct (ms)"),
    ("unbind_ms", "unbind seen on the host, median (ms)"),
    ("bind_timeouts", "binds not seen within 10 s"),
    ("idle_cpu", "guest agent idle: CPU (%)"),
    ("idle_wakeups", "guest agent idle: wakeups per second"),
    ("churn_cpu", "guest agent, 100 binds+unbinds/s: CPU (%)"),
    ("many_target", "concurrent connections tried"),
    ("many_held", "  held end to end"),
    ("many_errors", "  errors (client and agents' logs)"),
]


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def main():
    vals = {}
    for line in open(sys.argv[1]):
        parts = line.split()
        if len(parts) != 3:
            continue
        try:
            v = float(parts[2])
        except ValueError:
            continue
        vals.setdefault((parts[0], parts[1]), []).append(v)

    def med(m, c):
        v = vals.get((m, c))
        return statistics.median(v) if v else None

    print()
    print("%-36s %9s %9s %9s %9s | %8s %8s | %s" % (
        "median of runs", *CONFIGS, "/direct", "/haproxy",
        "porthole's runs (min-max)"))
    for m, title, _ in ROWS:
        row = [med(m, c) for c in CONFIGS]
        p, d, h = row[1], row[0], row[2]
        rd = "%.2fx" % (p / d) if p is not None and d else "-"
        rh = "%.2fx" % (p / h) if p is not None and h else "-"
        runs = vals.get((m, "porthole"), [])
        spread = "%s-%s" % (fmt(min(runs)), fmt(max(runs))) if runs else ""
        print("%-36s %9s %9s %9s %9s | %8s %8s | %s" % (
            title, *[fmt(x) for x in row], rd, rh, spread))
    print()
    for m, title in PORTHOLE_ROWS:
        runs = vals.get((m, "porthole"), [])
        if not runs:
            continue
        spread = " (runs %s-%s)" % (fmt(min(runs)), fmt(max(runs))) \
            if len(runs) > 1 else ""
        print("%-44s %9s%s" % (title, fmt(statistics.median(runs)), spread))


if __name__ == "__main__":
    main()
