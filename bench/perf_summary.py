#!/usr/bin/env python3
"""Share of CPU samples by *process* in a `perf record -a` file.

perf names samples by thread (tokio's threads are all "tokio-rt-worker",
in the API, the worker and the emulator alike), so each process is named
here by the program its own samples ran: our three binaries, PostgreSQL
(all its backends together), the Python load generator, Redis; the idle
loop is "idle". Prints a Markdown table, largest first.

    perf_summary.py PERF_DATA
"""
import collections
import re
import subprocess
import sys

LINE = re.compile(r"^\s*(?P<comm>.+?)\s+(?P<pid>\d+)/(?P<tid>\d+)\s+\S+\s+\((?P<dso>[^)]*)\)")
PROGRAMS = [
    ("payments-api", "payments-api"),
    ("payments-worker", "payments-worker"),
    ("stripe-emulator", "stripe-emulator (Stripe stand-in)"),
    ("postgres", "PostgreSQL backends"),
    ("libpython", "bench.py (load generator)"),
    ("redis", "Redis"),
]


def name_of(pid, dsos, comms):
    if pid == "0":
        return "idle"
    for needle, label in PROGRAMS:
        if any(needle in dso for dso in dsos):
            return label
    return "other: " + comms.most_common(1)[0][0]


def main(path):
    out = subprocess.run(
        ["perf", "script", "-i", path, "-F", "pid,tid,comm,ip,dso"],
        capture_output=True, text=True, check=True,
    ).stdout
    samples = collections.Counter()
    dsos = collections.defaultdict(set)
    comms = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pid = m["pid"]
        samples[pid] += 1
        dsos[pid].add(m["dso"])
        comms[pid][m["comm"]] += 1
    by_process = collections.Counter()
    for pid, n in samples.items():
        by_process[name_of(pid, dsos[pid], comms[pid])] += n
    total = sum(by_process.values()) or 1
    print("| process | samples | share of the machine |")
    print("|---|---:|---:|")
    for label, n in by_process.most_common():
        if n / total >= 0.005:
            print(f"| {label} | {n} | {100 * n / total:.1f} % |")


if __name__ == "__main__":
    main(sys.argv[1])
