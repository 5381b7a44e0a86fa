#!/usr/bin/env bash
# usage: run.sh ROUNDS VARIANT...   (e.g. run.sh 3 base v1_audits v3_nocalllog)
# Replays each variant of the captured cancel SQL with pgbench (32 clients,
# 230 cancels each) on a fresh copy of the template database pgv_seed:
# `manage seed_bench --payments 30000 --users 50 --expired 0`, one login
# session per user, and the bench_limit_targets table of scripts/bench-limit.
# Rounds alternate the order of the variants.
set -euo pipefail
cd "$(dirname "$0")"
A=postgres://postgres@127.0.0.1:5432
M="${CARGO_TARGET_DIR:-../../../target}/release/manage"
rounds=$1; shift
defs=(); while IFS= read -r l; do defs+=(-D "$l"); done < defines.txt
for r in $(seq 1 "$rounds"); do
  vs=("$@"); if (( r % 2 == 0 )); then vs=($(printf '%s\n' "$@" | tac)); fi
  for v in "${vs[@]}"; do
    psql -q $A/postgres -c "DROP DATABASE IF EXISTS pgv_run" -c "CREATE DATABASE pgv_run TEMPLATE pgv_seed" 2>/dev/null
    out=$(pgbench -n -M prepared -c 32 -j 2 -t 230 -D ntargets=8096 "${defs[@]}" -f "$v.sql" $A/pgv_run 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    inv=$(DATABASE_URL=$A/pgv_run $M --json check_invariants | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ok"], d["payments"])')
    echo "round $r $v tps=$tps failed=${failed:-?} inv=$inv"
  done
done
