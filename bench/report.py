#!/usr/bin/env python3
"""Summaries of scripts/bench runs (the JSON reports of the peer's bench.py).

  report.py check RUN.json
      Smoke check: every phase did real work without errors, the invariant
      check passed after the cancel phase and at the end, the sweep
      cancelled every expired payment. One summary line; exit 1 otherwise.

  report.py docs OUT_DIR DOC.md RESULTS_DIR
      Writes the tables (medians, ratios against the peer, targets, raw
      numbers per run, RSS, machine and load) between the
      `<!-- bench:results:start -->` / `<!-- bench:results:end -->` markers
      of DOC.md, leaving the rest of the document alone.
"""
import glob
import json
import os
import re
import statistics
import sys

START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


def load(path):
    with open(path) as f:
        return json.load(f)


def get(report, *keys):
    cur = report
    for k in keys:
        if not isinstance(cur, dict) or k not in cur:
            return None
        cur = cur[k]
    return cur


def check(path):
    r = load(path)
    ph = r.get("phases", {})
    problems = []
    st, ca, wh, sw = ph.get("status", {}), ph.get("cancel", {}), ph.get("webhook", {}), ph.get("sweep", {})
    if not st.get("ok") or st.get("errors"):
        problems.append(f"status: ok={st.get('ok')} errors={st.get('errors')} {st.get('error_samples')}")
    if not ca.get("ok") or ca.get("errors"):
        problems.append(f"cancel: ok={ca.get('ok')} errors={ca.get('errors')} {ca.get('error_samples')}")
    for label in ("check_after_cancel", "check_at_end"):
        if get(r, label, "exit_code") != 0:
            problems.append(f"{label}: {r.get(label)}")
    if not wh.get("all_processed"):
        problems.append(f"webhook: {wh.get('processed')}/{wh.get('events')} processed {wh.get('error_samples')}")
    if sw.get("task_status") is None or sw.get("expired_cancelled_after") != sw.get("expired_payments_before"):
        problems.append(
            f"sweep: {sw.get('task_status')}, {sw.get('expired_cancelled_after')} of "
            f"{sw.get('expired_payments_before')} expired cancelled"
        )
    line = (
        f"bench smoke: status {st.get('throughput_rps')} req/s, cancel {ca.get('ok')} ok, "
        f"webhook {wh.get('processed')}/{wh.get('events')} jobs, sweep {sw.get('expired_cancelled_after')}"
        f"/{sw.get('expired_payments_before')} in {sw.get('seconds')} s, invariants "
        f"{'ok' if get(r, 'check_at_end', 'exit_code') == 0 else 'VIOLATED'}"
    )
    print(line)
    for p in problems:
        print("  problem:", p)
    return 1 if problems else 0


# metric name, extractor, unit, "higher is better"
METRICS = [
    ("status GET throughput", lambda r: get(r, "phases", "status", "throughput_rps"), "req/s", True),
    ("status GET p50", lambda r: get(r, "phases", "status", "p50_ms"), "ms", False),
    ("status GET p99", lambda r: get(r, "phases", "status", "p99_ms"), "ms", False),
    ("status server CPU / request", lambda r: get(r, "phases", "status", "cpu", "server_cpu_ms_per_op"), "ms", False),
    ("cancel POST throughput", lambda r: get(r, "phases", "cancel", "throughput_rps"), "req/s", True),
    ("cancel POST p50", lambda r: get(r, "phases", "cancel", "p50_ms"), "ms", False),
    ("cancel POST p99", lambda r: get(r, "phases", "cancel", "p99_ms"), "ms", False),
    ("cancel server CPU / cancel", lambda r: get(r, "phases", "cancel", "cpu", "server_cpu_ms_per_op"), "ms", False),
    ("webhook → job done", lambda r: get(r, "phases", "webhook", "jobs_per_s"), "jobs/s", True),
    ("webhook HTTP enqueue", lambda r: get(r, "phases", "webhook", "enqueue_rps"), "req/s", True),
    ("webhook server CPU / event", lambda r: get(r, "phases", "webhook", "cpu", "server_cpu_ms_per_op"), "ms", False),
    ("sweep wall time", lambda r: get(r, "phases", "sweep", "seconds"), "s", False),
    ("sweep server CPU / expired payment", lambda r: get(r, "phases", "sweep", "cpu", "server_cpu_ms_per_op"), "ms", False),
]

TARGETS = {
    "status GET throughput": ("≥ 20× the peer", lambda ratio: ratio >= 20),
    "status GET p99": ("≤ 1/10 of the peer", lambda ratio: ratio <= 0.1),
    "cancel POST throughput": ("≥ 10× the peer", lambda ratio: ratio >= 10),
    "webhook → job done": ("≥ 10× the peer", lambda ratio: ratio >= 10),
}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        v = round(v, 2) if abs(v) < 100 else round(v, 1)
    return f"{v:,}" if not unit else f"{v:,} {unit}"


def ratio_of(ours, peer, higher_better):
    if ours is None or peer is None or peer == 0 or ours == 0:
        return None
    return ours / peer


def runs(out, side):
    pattern = re.compile(rf"^{side}-(\d+)\.json$")
    files = [p for p in glob.glob(os.path.join(out, f"{side}-*.json")) if pattern.match(os.path.basename(p))]
    files.sort(key=lambda p: int(pattern.match(os.path.basename(p)).group(1)))
    return [(os.path.basename(p)[:-5], load(p)) for p in files]


def rss(out, label, kind):
    path = os.path.join(out, f"{label}-rss-{kind}.json")
    return load(path) if os.path.exists(path) else None


def text(path):
    return open(path).read().strip() if os.path.exists(path) else ""


def docs(out, doc_path, results_rel):
    ours, peer = runs(out, "ours"), runs(out, "peer")
    lines = [START, ""]
    lines.append(f"Generated by `scripts/bench` from `{results_rel}/` (JSON reports of `bench.py`, "
                 "RSS samples, load notes).")
    lines.append("")
    lines.append("```")
    lines.append(text(os.path.join(out, "machine.txt")))
    lines.append("```")
    lines.append("")
    lines.append(f"### Medians of {len(ours)} runs (ours) and {len(peer)} runs (peer)")
    lines.append("")
    lines.append("| metric | ours | Django peer | ours / peer | target | met |")
    lines.append("|---|---|---|---|---|---|")
    for name, fn, unit, higher in METRICS:
        o = median(fn(r) for _, r in ours)
        p = median(fn(r) for _, r in peer)
        ratio = ratio_of(o, p, higher)
        target, ok = TARGETS.get(name, ("", None))
        met = "" if not target or ratio is None else ("yes" if ok(ratio) else "**no**")
        ratio_s = "–" if ratio is None else (f"{ratio:.1f}×" if ratio >= 1 else f"1/{1 / ratio:.1f}")
        lines.append(f"| {name} | {fmt(o, unit)} | {fmt(p, unit)} | {ratio_s} | {target} | {met} |")
    # RSS
    def rss_med(side_runs, group, kind, field):
        vals = []
        for label, _ in side_runs:
            data = rss(out, label, kind)
            if data and group in data:
                vals.append(data[group][field])
        return median(vals)

    o_api = rss_med(ours, "api", "load", "peak_kb")
    p_web = rss_med(peer, "web", "load", "peak_kb")
    r = ratio_of(o_api, p_web, False)
    lines.append(
        f"| API RSS under load (peak) | {fmt(o_api, 'kB')} | {fmt(p_web, 'kB')} (gunicorn master + workers) | "
        f"{'–' if r is None else f'1/{1 / r:.1f}'} | ≤ 1/10 of the peer's web processes | "
        f"{'' if r is None else ('yes' if r <= 0.1 else '**no**')} |"
    )
    lines.append("")
    lines.append("### Memory (RSS, kB; process trees, median over runs)")
    lines.append("")
    lines.append("| process | idle | under load (peak) | under load (mean) |")
    lines.append("|---|---|---|---|")
    for side_runs, groups in ((ours, [("api", "payments-api"), ("worker", "payments-worker"), ("emulator", "stripe-emulator (Stripe stand-in)")]),
                              (peer, [("web", "peer gunicorn (master + workers)"), ("worker", "peer celery (main + prefork children)")])):
        for key, name in groups:
            idle = rss_med(side_runs, key, "idle", "rss_kb")
            peak = rss_med(side_runs, key, "load", "peak_kb")
            mean = rss_med(side_runs, key, "load", "mean_kb")
            if idle is None and peak is None:
                continue
            lines.append(f"| {name} | {fmt(idle)} | {fmt(peak)} | {fmt(mean)} |")
    lines.append("")
    lines.append("### Raw numbers per run")
    lines.append("")
    lines.append("| run | load (start → end) | status req/s (p50/p99 ms) | cancel req/s (p50/p99 ms), ok, pool used up | "
                 "webhook jobs/s | sweep s (cancelled/expired) | others' CPU % (status/cancel) | invariants after cancel / end |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for label, r in ours + peer:
        st, ca = get(r, "phases", "status") or {}, get(r, "phases", "cancel") or {}
        wh, sw = get(r, "phases", "webhook") or {}, get(r, "phases", "sweep") or {}
        load_lines = text(os.path.join(out, f"{label}-load.txt")).splitlines()
        load_s = " → ".join(re.sub(r"^.*load ", "", l) for l in load_lines)
        others = f"{get(st, 'cpu', 'other_pct_of_machine')} / {get(ca, 'cpu', 'other_pct_of_machine')}"
        inv = f"{get(r, 'check_after_cancel', 'exit_code')} / {get(r, 'check_at_end', 'exit_code')}"
        lines.append(
            f"| {label} | {load_s} | {st.get('throughput_rps')} ({st.get('p50_ms')}/{st.get('p99_ms')}) | "
            f"{ca.get('throughput_rps')} ({ca.get('p50_ms')}/{ca.get('p99_ms')}), {ca.get('ok')}, {ca.get('pool_exhausted')} | "
            f"{wh.get('jobs_per_s')} | {sw.get('seconds')} ({sw.get('expired_cancelled_after')}/{sw.get('expired_payments_before')}) | "
            f"{others} | exit {inv} |"
        )
    sweeps = {}  # (pending, round) -> report; files sweep-N.json (one round) or sweep-N-R.json
    for p in glob.glob(os.path.join(out, "sweep-*.json")):
        m = re.search(r"sweep-(\d+)(?:-(\d+))?\.json$", p)
        if m:
            sweeps[(int(m.group(1)), int(m.group(2) or 1))] = (load(p), p[: -len(".json")])
    if sweeps:
        lines.append("")
        lines.append("### Sweep scaling (same 1,000 expired payments)")
        lines.append("")
        lines.append("| pending payments | run | load (start → end) | sweep wall time | task's own duration | cancelled | server CPU / expired payment |")
        lines.append("|---|---|---|---|---|---|---|")
        seconds = {}
        for (n, rnd) in sorted(sweeps):
            report, stem = sweeps[(n, rnd)]
            sw = get(report, "phases", "sweep") or {}
            load_lines = text(stem + "-load.txt").splitlines()
            load_s = " → ".join(re.sub(r"^.*load ", "", l) for l in load_lines)
            res = sw.get("result") if isinstance(sw.get("result"), dict) else {}
            lines.append(
                f"| {n:,} | {rnd} | {load_s} | {sw.get('seconds')} s | {res.get('duration_ms', '–')} ms | "
                f"{sw.get('expired_cancelled_after')} / {sw.get('expired_payments_before')} | "
                f"{get(sw, 'cpu', 'server_cpu_ms_per_op')} ms |"
            )
            if sw.get("seconds"):
                seconds.setdefault(n, []).append(sw["seconds"])
        if 10000 in seconds and 100000 in seconds:
            a, b = median(seconds[10000]), median(seconds[100000])
            lines.append("")
            lines.append(
                f"Medians ({len(seconds[10000])} and {len(seconds[100000])} runs): 10 k {a:.3f} s, "
                f"100 k {b:.3f} s. Ratio 100 k / 10 k: **{b / a:.2f}** (target ≤ 1.2)."
            )
    lines.append("")
    lines.append(END)
    block = "\n".join(lines)
    doc = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n\n" + START + "\n" + END + "\n"
    if START in doc and END in doc:
        doc = doc[: doc.index(START)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    with open(doc_path, "w") as f:
        f.write(doc)
    return 0


LSTART, LEND = "<!-- bench:limit:start -->", "<!-- bench:limit:end -->"


def latest_ours(results_root):
    """Medians of status/cancel throughput in the newest results directory holding our runs."""
    dirs = sorted((d for d in glob.glob(os.path.join(results_root, "*"))
                   if not os.path.basename(d).startswith(("limit-", "before-")) and runs(d, "ours")),
                  key=os.path.getmtime)
    if not dirs:
        return None, None, None
    ours = runs(dirs[-1], "ours")
    st = median(get(r, "phases", "status", "throughput_rps") for _, r in ours)
    ca = median(get(r, "phases", "cancel", "throughput_rps") for _, r in ours)
    return os.path.basename(dirs[-1]), st, ca


def limit(out, doc_path, results_rel):
    lim = load(os.path.join(out, "limit.json"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(doc_path)))
    source, st, ca = latest_ours(os.path.join(root, "bench", "results"))
    def count(name):
        path = os.path.join(out, f"{name}.sql")
        return sum(1 for l in open(path) if l.strip() and not l.startswith("--") and not l.startswith("\\")) if os.path.exists(path) else 0
    loads = {n: " → ".join(re.sub(r"^.*load ", "", l) for l in text(os.path.join(out, f"{n}-load.txt")).splitlines()) for n in ("status", "cancel")}
    frac = lambda ours, tps: "–" if not ours or not tps else f"{100 * ours / tps:.0f} %"
    lines = [LSTART, "",
             f"Generated by `scripts/bench-limit` from `{results_rel}/` (captured statements, pgbench scripts and output).",
             "",
             f"pgbench `-M prepared -c {lim['concurrency']} -j 2 -T {lim['duration']}`, {lim['targets']:,} replay targets; "
             f"ours = median throughput of `bench/results/{source}` (scripts/bench, same concurrency).",
             "",
             "| path | statements per request (incl. pgbench's target lookup) | pgbench tps (load) | ours req/s | ours as a fraction of pgbench | target |",
             "|---|---|---|---|---|---|",
             f"| status GET | {count('status')} | {lim['status_tps']:,.0f} ({loads['status']}) | {fmt(st)} | {frac(st, lim['status_tps'])} | |",
             f"| cancel POST | {count('cancel')} | {lim['cancel_tps']:,.0f} ({loads['cancel']}) | {fmt(ca)} | {frac(ca, lim['cancel_tps'])} | ≥ 60 % |",
             "",
             f"After the cancel replay: {lim['cancelled']:,} payments cancelled by pgbench; invariants: "
             f"`{json.dumps(lim.get('invariants'))[:300]}`.",
             "", LEND]
    block = "\n".join(lines)
    doc = open(doc_path).read()
    if LSTART in doc and LEND in doc:
        doc = doc[: doc.index(LSTART)] + block + doc[doc.index(LEND) + len(LEND):]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    with open(doc_path, "w") as f:
        f.write(doc)
    return 0


def main(argv):
    if len(argv) == 4 and argv[0] == "limit":
        return limit(*argv[1:])
    if len(argv) == 2 and argv[0] == "check":
        return check(argv[1])
    if len(argv) == 4 and argv[0] == "docs":
        return docs(*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
