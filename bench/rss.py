#!/usr/bin/env python3
"""Resident memory of process trees, from /proc.

  rss.py once NAME=PID [NAME=PID ...]            one sample, JSON on stdout
  rss.py watch OUT NAME=PID [NAME=PID ...]       sample every 0.25 s until
                                                 SIGTERM/SIGINT, then write
                                                 {name: {peak_kb, mean_kb, samples}} to OUT

Each NAME=PID counts the process and all its descendants (gunicorn's and
Celery's forked workers, for example), so multi-process servers are
compared whole.
"""
import json
import os
import signal
import sys
import time


def children_map():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(pid))
    return kids


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss(root, kids):
    total, stack, count = 0, [root], 0
    while stack:
        pid = stack.pop()
        kb = rss_kb(pid)
        if kb:
            total += kb
            count += 1
        stack.extend(kids.get(pid, []))
    return total, count


def parse(specs):
    groups = {}
    for spec in specs:
        name, _, pid = spec.partition("=")
        groups[name] = int(pid)
    return groups


def sample(groups):
    kids = children_map()
    return {name: tree_rss(pid, kids) for name, pid in groups.items()}


def main(argv):
    if len(argv) >= 2 and argv[0] == "once":
        out = {name: {"rss_kb": kb, "processes": n} for name, (kb, n) in sample(parse(argv[1:])).items()}
        print(json.dumps(out))
        return 0
    if len(argv) >= 3 and argv[0] == "watch":
        target, groups = argv[1], parse(argv[2:])
        stats = {name: {"peak_kb": 0, "sum_kb": 0, "samples": 0, "processes": 0} for name in groups}
        running = True

        def stop(*_):
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while running:
            for name, (kb, n) in sample(groups).items():
                s = stats[name]
                s["peak_kb"] = max(s["peak_kb"], kb)
                s["processes"] = max(s["processes"], n)
                s["sum_kb"] += kb
                s["samples"] += 1
            time.sleep(0.25)
        for s in stats.values():
            s["mean_kb"] = s.pop("sum_kb") // max(1, s["samples"])
        with open(target, "w") as f:
            json.dump(stats, f)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
