# shellcheck shell=bash
# Our stack for scripts/bench and scripts/bench-limit: a fresh database, a
# Stripe emulator, payments-api and payments-worker on free ports, and a
# trap that stops every process started here (by pid) and deletes the
# Redis keys under the prefixes used. Source after scripts/lib/services.sh,
# with ROOT, BIN, OUT, ADMIN_URL, DB_NAME, DB_URL, REDIS_URL_BASE, USERS set.

# --- cleanup: everything this script started, by pid ----------------------
PIDS=()
PEER_STARTED=0
PREFIXES=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    PIDS=()
    if ((PEER_STARTED)); then
        PEER_STATE_DIR=/tmp/peer-django "$PEER_DIR/stop.sh" >/dev/null 2>&1 || true
        PEER_STARTED=0
    fi
    local prefix
    for prefix in "${PREFIXES[@]}"; do drop_redis_prefix "$prefix"; done
    PREFIXES=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() { # SIGINT first (the emulator stops on it), then TERM, then KILL
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -INT "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
}

drop_redis_prefix() { # only keys under our own prefix
    local host port
    host="$(url_host "$REDIS_URL_BASE")" port="$(url_port "$REDIS_URL_BASE" 6379)"
    redis-cli -h "$host" -p "$port" --scan --pattern "$1*" 2>/dev/null |
        xargs -r -n 500 redis-cli -h "$host" -p "$port" del >/dev/null 2>&1 || true
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # NAME URL SECONDS
    local i
    for ((i = 0; i < $3 * 4; i++)); do
        curl -fs -o /dev/null "$2" && return 0
        sleep 0.25
    done
    die "$1 did not answer $2 within $3 s (logs in $OUT)"
}

load_note() { # the machine's load, recorded with every measured run
    printf '%s | %s\n' "$(date -u +%H:%M:%SZ)" "$(uptime | sed 's/.*load average: /load /')"
}

# --- our stack ------------------------------------------------------------------
API_PID="" WORKER_PID="" EMU_PID="" API_PORT="" EMU_URL="" PREFIX=""

recreate_database() {
    psql -q "$ADMIN_URL" -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" \
        -c "CREATE DATABASE $DB_NAME" >/dev/null
    DATABASE_URL="$DB_URL" "$BIN/manage" migrate >"$OUT/migrate.log" 2>&1
}

start_ours() { # LABEL PAYMENTS EXPIRED
    local label="$1" payments="$2" expired="$3" emu_port board_port
    recreate_database
    emu_port="$(free_port)"
    EMU_URL="http://127.0.0.1:$emu_port"
    RUST_LOG=warn "$BIN/stripe-emulator" --bind "127.0.0.1:$emu_port" --webhook-secret whsec_bench \
        >"$OUT/$label-emulator.log" 2>&1 &
    EMU_PID=$!
    PIDS+=("$EMU_PID")
    wait_http emulator "$EMU_URL/_emulator/health" 30
    log "seeding $payments payments ($expired expired), $USERS users"
    DATABASE_URL="$DB_URL" "$BIN/manage" seed_bench --payments "$payments" --users "$USERS" \
        --expired "$expired" --emulator-url "$EMU_URL" | tee "$OUT/$label-seed.txt"

    if [[ -n "${BEFORE_SERVICES:-}" ]]; then eval "$BEFORE_SERVICES"; fi
    PREFIX="bench-$$-$label:"
    PREFIXES+=("$PREFIX")
    API_PORT="$(free_port)"
    board_port="$(free_port)"
    local -a env=(
        "DATABASE_URL=$DB_URL" "REDIS_URL=$REDIS_URL_BASE" "QUEUE_PREFIX=$PREFIX"
        "APP_ENV=development" "STRIPE_API_BASE=$EMU_URL" "STRIPE_WEBHOOK_SECRET=whsec_bench"
        "LOGIN_RATE_PER_MINUTE=100000" "AUTO_CLEANUP=false"
    )
    env "${env[@]}" API_BIND="127.0.0.1:$API_PORT" "$BIN/payments-api" >"$OUT/$label-api.log" 2>&1 &
    API_PID=$!
    PIDS+=("$API_PID")
    env "${env[@]}" BOARD_BIND="127.0.0.1:$board_port" "$BIN/payments-worker" \
        >"$OUT/$label-worker.log" 2>&1 &
    WORKER_PID=$!
    PIDS+=("$WORKER_PID")
    wait_http payments-api "http://127.0.0.1:$API_PORT/readyz" 60
    wait_http payments-worker "http://127.0.0.1:$board_port/healthz" 60
}

stop_ours() {
    local pid
    for pid in "$API_PID" "$WORKER_PID" "$EMU_PID"; do [[ -n "$pid" ]] && stop_pid "$pid"; done
    PIDS=()
    drop_redis_prefix "$PREFIX"
}

