#!/usr/bin/env python3
"""Capture the exact SQL our status and cancel paths send, and turn it into
pgbench scripts (for scripts/bench-limit).

pg_stat_statements is not preloaded on the shared server and loading it
needs a restart, so the statements come from PostgreSQL's own log:
scripts/bench-limit sets `log_statement = 'all'` on the benchmark database
only (ALTER DATABASE, before the API opens its connections), and this
script, for one chosen payment, marks the log, sends one
GET /api/payments/{id}/status/ and one POST /api/payments/{id}/cancel/,
and reads back every statement (text and bound parameters) logged for that
database in between.

Replay: each parameter whose value is the payment's own (payment, order,
user, login-session hash, Checkout Session id, product ids, quantities,
release keys) becomes a pgbench variable filled per transaction from a
table of other payments of the same shape (2 items, no coupon); every other
parameter keeps its captured value. That table lookup (one indexed SELECT,
plus nextval for cancel) is the only statement pgbench runs that our path
does not. Two things in the log are not the path: a connection the pool
opens meanwhile logs its set-up (`SET TIME ZONE`, `SET CLIENT_ENCODING`),
dropped here.

Pipelining: the log shows statements in execution order but not which
were sent together, so the replay follows the code: the credentials
lookup and the payment read that open both paths go together
(api::auth::Caller::authenticate_along), and inside BEGIN … COMMIT the
leading SELECTs (locks and the order's lines) go together, then every
write up to COMMIT (domain::services::cancel::release); each group is
replayed as one `\startpipeline … \endpipeline`. BEGIN and COMMIT stay
round trips of their own, as diesel sends them. A statement logged by
another connection meanwhile (the Stripe call log, written in the
background) is replayed after the path's own statements.
"""
import asyncio
import json
import os
import re
import sys
import time

import aiohttp
import psycopg

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\S+)@(\S+) (LOG|DETAIL|ERROR|STATEMENT):  (.*)$")
PARAM = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


def read_log(path, offset, db):
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read().decode(errors="replace")
    entries = []
    for raw in data.splitlines():
        m = LINE.match(raw)
        if m:
            pid, _user, dbname, kind, msg = m.groups()
            entries.append({"pid": pid, "db": dbname, "kind": kind, "msg": msg})
        elif entries:
            entries[-1]["msg"] += "\n" + raw.lstrip("\t")
    stmts = []
    for e in entries:
        if e["db"] != db:
            continue
        if e["kind"] == "LOG":
            m = re.match(r"(?:statement|execute [^:]*): (.*)", e["msg"], re.S)
            if m:
                stmts.append({"pid": e["pid"], "sql": m.group(1).strip(), "params": {}})
        elif e["kind"] == "DETAIL" and e["msg"].startswith("parameters:") and stmts:
            for num, val in PARAM.findall(e["msg"]):
                stmts[-1]["params"][int(num)] = None if val == "NULL" else val[1:-1].replace("''", "'")
    return stmts


CONNECTION_SETUP = re.compile(r"SET (TIME ZONE|CLIENT_ENCODING)\b", re.I)


def leading_selects(stmts):
    n = 0
    while n < len(stmts) and stmts[n].upper().startswith("SELECT"):
        n += 1
    return n


def pipeline(group):
    return ["\\startpipeline", *group, "\\endpipeline"] if len(group) > 1 else group


def with_pipelines(body):
    """`body` is [(pid, sql)] in log order; answers the replay's lines,
    grouped as the module's doc says."""
    main_pid = next((pid for pid, sql in body if sql.upper().startswith("BEGIN")), body[0][0])
    own = [sql for pid, sql in body if pid == main_pid]
    others = [sql for pid, sql in body if pid != main_pid]
    begin = next((i for i, sql in enumerate(own) if sql.upper().startswith("BEGIN")), len(own))
    before = own[:begin]
    opening = leading_selects(before)
    out = pipeline(before[:opening]) + before[opening:]
    rest = own[begin:]
    if rest:
        commit = next(i for i, sql in enumerate(rest) if sql.upper().startswith("COMMIT"))
        inner = rest[1:commit]
        reads = leading_selects(inner)
        out += [rest[0], *pipeline(inner[:reads]), *pipeline(inner[reads:]), *rest[commit:]]
    return out + others


def log_size(path):
    return os.path.getsize(path)


async def http_json(session, method, url, **kw):
    async with session.request(method, url, **kw) as r:
        return r.status, await r.text()


async def capture(peer_dir, base, dsn, pg_log, out):
    sys.path.insert(0, peer_dir)
    import bench  # the peer's load generator: its login helper

    with psycopg.connect(dsn, autocommit=True) as db:
        row = db.execute(
            """
            SELECT p.id::text, p.order_id::text, p.user_id, u.email, p.stripe_session_id,
                   min(i.product_id), max(i.product_id)
            FROM payments p JOIN users u ON u.id = p.user_id
            JOIN orders o ON o.id = p.order_id AND o.coupon_id IS NULL
            JOIN order_items i ON i.order_id = p.order_id
            WHERE p.status = 'PENDING' AND p.expires_at > now() + interval '10 minutes' AND p.user_id > 3
            GROUP BY p.id, u.email
            HAVING count(*) = 2 AND min(i.product_id) > 3
               AND sum(CASE WHEN i.quantity IN (2, 3) THEN 1 ELSE 0 END) = 2
               AND min(i.quantity) <> max(i.quantity)
            ORDER BY p.id LIMIT 1""").fetchone()
        if row is None:
            raise SystemExit("no payment of the wanted shape (2 items, quantities 2 and 3, no coupon)")
        payment_id, order_id, user_id, email, session_id, pa, pb = row
        items = db.execute("SELECT product_id, quantity FROM order_items WHERE order_id = %s ORDER BY product_id",
                           (order_id,)).fetchall()

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        # Every seeded user gets a login session (the replay needs one per owner).
        for i in range(50):
            await bench.login(http, base, f"bench{i}@bench.local", "bench-password")
        cookies = await bench.login(http, base, email, "bench-password")
        cookie = bench.cookie_header(cookies)
        time.sleep(0.5)
        captured = {}
        for name, method, path, headers in (
            ("status", "GET", f"/api/payments/{payment_id}/status/", {"Cookie": cookie}),
            ("cancel", "POST", f"/api/payments/{payment_id}/cancel/",
             {"Cookie": cookie, "X-CSRFToken": cookies.get("csrftoken", ""), "Referer": base + "/"}),
        ):
            start = log_size(pg_log)
            status, body = await http_json(http, method, base + path, headers=headers)
            if status != 200:
                raise SystemExit(f"{name}: {status} {body[:300]}")
            time.sleep(0.5)
            captured[name] = read_log(pg_log, start, "payments_bench")

    with psycopg.connect(dsn, autocommit=True) as db:
        hashes = [r[0] for r in db.execute("SELECT key_hash FROM sessions WHERE user_id = %s", (user_id,))]
    known = {h: "key_hash" for h in hashes}
    known.update({
        payment_id: "payment_id", order_id: "order_id", str(user_id): "user_id", session_id: "session_id",
        str(items[0][0]): "p1", str(items[0][1]): "q1", str(items[1][0]): "p2",
        str(items[1][1]): "q2", f"stock:{items[0][0]}": "r1", f"stock:{items[1][0]}": "r2",
    })
    with open(os.path.join(out, "captured.json"), "w") as f:
        json.dump({"payment": payment_id, "items": items, "known": known, "statements": captured}, f, indent=1)
    defines = {}
    lookup_cols = "payment_id, order_id, user_id, session_id, key_hash, p1, q1, p2, q2, r1, r2"
    for name, stmts in captured.items():
        stmts = [s for s in stmts if not CONNECTION_SETUP.match(s["sql"])]
        lines = [f"-- {name}: {len(stmts)} statements captured from our API (see bench/capture_sql.py)"]
        if name == "cancel":
            lines.append(f"SELECT {lookup_cols} FROM bench_limit_targets WHERE n = (SELECT nextval('bench_limit_seq')) \\gset")
        else:
            lines.append("\\set n random(1, :ntargets)")
            lines.append(f"SELECT {lookup_cols} FROM bench_limit_targets WHERE n = :n \\gset")
        body = []
        for s in stmts:
            sql = s["sql"]
            if s["params"]:
                def sub(m):
                    v = s["params"].get(int(m.group(1)))
                    if v is None:
                        return "NULL"
                    if v in known:
                        return f":{known[v]}"
                    if ":" in v:
                        # pgbench would read ':…' inside a literal as a
                        # variable: such values (timestamps, JSON) are passed
                        # with -D and bound as parameters, as our pool binds them.
                        name = defines.setdefault(v, f"lit{len(defines) + 1}")
                        return f":{name}"
                    return "'" + v.replace("'", "''") + "'"
                sql = re.sub(r"\$(\d+)\b", sub, sql)
            sql = " ".join(sql.split())
            body.append((s["pid"], sql.rstrip(";") + ";"))
        lines.extend(with_pipelines(body))
        with open(os.path.join(out, f"{name}.sql"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{name}: {len(stmts)} statements -> {os.path.join(out, name + '.sql')}")
    with open(os.path.join(out, "defines.txt"), "w") as f:
        for value, name in defines.items():
            f.write(f"{name}={value}\n")


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    asyncio.run(capture(*argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
