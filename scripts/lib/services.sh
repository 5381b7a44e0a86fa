# shellcheck shell=bash
# Shared by scripts/test and scripts/run: make sure PostgreSQL and Redis
# answer, starting them when installed and installing them (as root, with
# apt-get) when missing. Source it; it defines functions only.
#
# Inputs (environment, all optional):
#   DATABASE_URL / TEST_DATABASE_URL  where PostgreSQL is expected
#                                     (default postgres://postgres@127.0.0.1:5432/postgres)
#   REDIS_URL                         where Redis is expected (default redis://127.0.0.1:6379)
#   ALLOW_INSTALL=0                   never run apt-get, fail instead

DEFAULT_ADMIN_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379"

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# url_host URL / url_port URL DEFAULT_PORT: host and port of a service URL.
url_host() {
    local rest="${1#*://}"
    rest="${rest%%[/?]*}"
    rest="${rest##*@}"
    printf '%s\n' "${rest%%:*}"
}
url_port() {
    local rest="${1#*://}"
    rest="${rest%%[/?]*}"
    rest="${rest##*@}"
    if [[ "$rest" == *:* ]]; then printf '%s\n' "${rest##*:}"; else printf '%s\n' "$2"; fi
}

# with_database URL NAME: the same server URL with another database name.
with_database() {
    local url="$1" name="$2" query=""
    if [[ "$url" == *\?* ]]; then
        query="?${url#*\?}"
        url="${url%%\?*}"
    fi
    printf '%s/%s%s\n' "${url%/*}" "$name" "$query"
}

is_loopback() { [[ "$1" == 127.0.0.1 || "$1" == localhost || "$1" == ::1 ]]; }

# port_open HOST PORT: something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_for_port NAME HOST PORT SECONDS
wait_for_port() {
    local name="$1" host="$2" port="$3" seconds="$4" i
    for ((i = 0; i < seconds * 2; i++)); do
        port_open "$host" "$port" && return 0
        sleep 0.5
    done
    die "$name did not start listening on $host:$port within ${seconds}s"
}

can_install() { [[ "$(id -u)" == 0 && "${ALLOW_INSTALL:-1}" != 0 ]] && have apt-get; }

APT_UPDATED=0
apt_install() {
    if [[ "$APT_UPDATED" == 0 ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >&2
}

# ---------------------------------------------------------------- PostgreSQL

postgres_installed() {
    have pg_ctlcluster || compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# The newest installed major version (e.g. 15).
postgres_version() {
    find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n 1
}

start_postgres() {
    local version
    version="$(postgres_version)"
    if have pg_ctlcluster && [[ -n "$version" ]]; then
        if ! pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | grep -qx "$version main"; then
            log "creating PostgreSQL $version cluster 'main'"
            pg_createcluster "$version" main >&2
        fi
        log "starting PostgreSQL $version (pg_ctlcluster $version main start)"
        pg_ctlcluster "$version" main start >&2 || service postgresql start >&2
    else
        log "starting PostgreSQL (service postgresql start)"
        service postgresql start >&2
    fi
}

# A freshly installed Debian cluster asks for a password on 127.0.0.1;
# this project's dev and CI set-up uses password-less `postgres` on
# loopback (see docs/development.md), so allow it there.
trust_loopback_connections() {
    local version hba
    version="$(postgres_version)"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    [[ -f "$hba" ]] || return 0
    log "allowing password-less loopback connections in $hba (development set-up)"
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+\s*$/\1trust/' "$hba"
    pg_ctlcluster "$version" main reload >&2 || service postgresql reload >&2
}

ensure_postgres_client() {
    have psql && return 0
    can_install || die "psql (PostgreSQL client) is missing; install postgresql-client"
    apt_install postgresql-client
}

# ensure_postgres ADMIN_URL: PostgreSQL answers at ADMIN_URL's host and
# port and lets us log in.
ensure_postgres() {
    local url="${1:-$DEFAULT_ADMIN_DATABASE_URL}" host port fresh=0
    host="$(url_host "$url")"
    port="$(url_port "$url" 5432)"
    if ! port_open "$host" "$port"; then
        is_loopback "$host" || die "PostgreSQL is not reachable at $host:$port (not a local address, so not started here)"
        if ! postgres_installed; then
            can_install || die "PostgreSQL is not reachable at $host:$port and is not installed; install it (apt-get install postgresql) or run this script as root"
            apt_install postgresql
            fresh=1
        fi
        start_postgres
        wait_for_port PostgreSQL "$host" "$port" 60
    fi
    ensure_postgres_client
    if [[ "$fresh" == 1 ]]; then trust_loopback_connections; fi
    local i
    for ((i = 0; i < 20; i++)); do
        psql "$url" -XAtqc 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    psql "$url" -XAtqc 'SELECT 1' >/dev/null || die "PostgreSQL at $host:$port is up but refuses the login in the database URL; set TEST_DATABASE_URL / DATABASE_URL with working credentials"
}

# ensure_database URL: create the URL's database if it does not exist.
ensure_database() {
    local url="$1" name admin
    name="${url##*/}"
    name="${name%%\?*}"
    admin="$(with_database "$url" postgres)"
    if [[ -z "$(psql "$admin" -XAtqc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]]; then
        log "creating database $name"
        psql "$admin" -Xqc "CREATE DATABASE \"$name\"" >/dev/null
    fi
}

# drop_leftover_test_databases ADMIN_URL: remove payments_test_* databases
# that crashed runs left behind. A database with a connection, or created
# in the last 10 minutes, may belong to a run in progress and is kept.
drop_leftover_test_databases() {
    local admin="$1" names name dropped=0
    if ! names="$(psql "$admin" -XAtq 2>/dev/null <<'SQL'
SELECT d.datname
FROM pg_database d
WHERE d.datname LIKE 'payments\_test\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
  AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification < now() - interval '10 minutes'
SQL
    )"; then
        warn "could not list leftover test databases (needs a superuser); skipping clean-up"
        return 0
    fi
    for name in $names; do
        psql "$admin" -Xqc "DROP DATABASE IF EXISTS \"$name\"" >/dev/null 2>&1 && dropped=$((dropped + 1))
    done
    if [[ "$dropped" -gt 0 ]]; then log "dropped $dropped leftover test database(s)"; fi
    return 0
}

# --------------------------------------------------------------------- Redis

redis_answers() {
    local url="$1"
    if have redis-cli; then
        [[ "$(redis-cli -u "$url" ping 2>/dev/null)" == PONG ]]
    else
        port_open "$(url_host "$url")" "$(url_port "$url" 6379)"
    fi
}

# ensure_redis URL: Redis answers PING at URL.
ensure_redis() {
    local url="${1:-$DEFAULT_REDIS_URL}" host port
    host="$(url_host "$url")"
    port="$(url_port "$url" 6379)"
    redis_answers "$url" && return 0
    is_loopback "$host" || die "Redis is not reachable at $host:$port (not a local address, so not started here)"
    if ! have redis-server; then
        can_install || die "Redis is not reachable at $host:$port and is not installed; install it (apt-get install redis-server) or run this script as root"
        apt_install redis-server
    fi
    if ! port_open "$host" "$port"; then
        log "starting Redis on 127.0.0.1:$port (redis-server --daemonize yes)"
        redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir /tmp \
            --logfile /tmp/payments-redis.log >&2
    fi
    local i
    for ((i = 0; i < 60; i++)); do
        redis_answers "$url" && return 0
        sleep 0.5
    done
    die "Redis at $host:$port does not answer PING (see /tmp/payments-redis.log)"
}
