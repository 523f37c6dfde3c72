#!/usr/bin/python3
"""Checks a Prometheus text exposition (version 0.0.4) on stdin, strictly,
and prints each sample as one line, "name{labels} value", labels sorted,
for a test to read.  Exit status 1, with the reason, on anything wrong.

Two parsers read the text: the prometheus_client package's own (Debian's
python3-prometheus-client), and the strict reading below, which also
demands what that parser forgives: HELP and TYPE before every family's
samples, known types, counters named *_total, one porthole_ prefix, no
duplicate series, finite non-negative values, a final newline.

Usage: curl ... /metrics | /usr/bin/python3 tests/tools/promcheck.py
"""
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
HELP = re.compile(r"^# HELP (%s) (.+)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge)$" % NAME)


def fail(lineno, why, line=""):
    sys.exit("promcheck: line %d: %s%s" % (lineno, why,
                                          ": " + line if line else ""))


def strict(text):
    if not text.endswith("\n"):
        fail(0, "no newline at the end")
    helped, typed, seen, out = set(), {}, set(), []
    for n, line in enumerate(text.split("\n")[:-1], 1):
        m = HELP.match(line)
        if m:
            if m.group(1) in helped:
                fail(n, "second HELP for " + m.group(1))
            helped.add(m.group(1))
            continue
        m = TYPE.match(line)
        if m:
            name, kind = m.groups()
            if name not in helped or name in typed:
                fail(n, "TYPE without HELP, or twice", line)
            if kind == "counter" and not name.endswith("_total"):
                fail(n, "counter not named *_total", line)
            typed[name] = kind
            continue
        m = SAMPLE.match(line)
        if not m:
            fail(n, "not a HELP, TYPE or sample line", line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if not name.startswith("porthole_"):
            fail(n, "no porthole_ prefix", line)
        if name not in typed:
            fail(n, "sample before its HELP and TYPE", line)
        v = float(value)
        if math.isnan(v) or math.isinf(v) or v < 0:
            fail(n, "value is not a finite count", line)
        key = name + "{" + ",".join(sorted(re.findall(LABEL, labels))) + "}"
        if key in seen:
            fail(n, "duplicate series", line)
        seen.add(key)
        out.append("%s %s" % (key.replace("{}", ""), value))
    return out


def main():
    text = sys.stdin.read()
    lines = strict(text)
    n = sum(len(f.samples) for f in text_string_to_metric_families(text))
    if n != len(lines):
        sys.exit("promcheck: prometheus_client read %d samples, we read %d"
                 % (n, len(lines)))
    print("\n".join(lines))


main()
