#!/usr/bin/env python3
"""Drops the per-payment action list of the sweep's task result from
bench.py reports before they are committed (hundreds of kB, and the
counts next to it say the same): strip_actions.py FILE.json..."""
import json
import sys

for path in sys.argv[1:]:
    with open(path) as f:
        report = json.load(f)
    result = report.get("phases", {}).get("sweep", {}).get("result")
    if isinstance(result, dict) and isinstance(result.get("report"), dict):
        actions = result["report"].pop("actions", None)
        if actions is not None:
            result["report"]["actions_count"] = len(actions)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
