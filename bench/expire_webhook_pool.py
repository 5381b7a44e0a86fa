#!/usr/bin/env python3
"""Expire in the Stripe emulator the sessions bench.py will send
`checkout.session.expired` events for.

Our worker treats Stripe as the source of truth: on that event it re-reads
the session and cancels only if Stripe says it expired (a stale or forged
event for an open session changes nothing). The peer's gateway is a no-op
that trusts the event. So that the webhook phase measures the same work on
both sides (the event leads to a cancellation), the sessions of bench.py's
webhook pool must be expired in Stripe first, as they would be when real
Stripe sends that event.

bench.py picks the pool deterministically (its own setup, users sorted by
e-mail, payments in API order, shuffled with Random(--seed)); this script
imports bench.py and replays exactly that selection, then calls
POST /_emulator/sessions/{id}/expire for each session.

  expire_webhook_pool.py PEER_DIR EMULATOR_URL -- <the bench.py arguments>
"""
import asyncio
import json
import random
import sys
import time
import urllib.request


def main(argv):
    peer_dir, emulator_url, sep, *bench_args = argv
    if sep != "--":
        print(__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, peer_dir)
    import bench  # the peer's load generator, unchanged

    args = bench.parse_args(bench_args)
    users, _staff = asyncio.run(bench.setup(args))
    # The same selection as bench.main().
    now = time.time()
    all_payments = [p for u in users for p in u["payments"]]
    pending = [p for p in all_payments if p["status"] == "PENDING" and p["session_id"]]
    open_pending = [p for p in pending if p["expires_at"] is None or p["expires_at"] > now + 120]
    rng = random.Random(args.seed)
    rng.shuffle(open_pending)
    n_hooks = min(args.webhook_events, len(open_pending)) if "webhook" in args.phases else 0
    pool = open_pending[:n_hooks]
    for p in pool:
        req = urllib.request.Request(
            f"{emulator_url.rstrip('/')}/_emulator/sessions/{p['session_id']}/expire", data=b"{}",
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status != 200:
                raise RuntimeError(f"expire {p['session_id']}: {r.status}")
    print(json.dumps({"expired_in_stripe": len(pool)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
