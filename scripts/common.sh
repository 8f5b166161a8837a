# Shared settings for the townlake scripts. Source it; do not execute it.
# shellcheck shell=bash

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROJECT_DIR

PG_CONFIG="${PG_CONFIG:-/usr/bin/pg_config}"
PG_BINDIR="$("$PG_CONFIG" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)"
PG_PKGLIBDIR="$("$PG_CONFIG" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)"
TOWNLAKE_SO="$PG_PKGLIBDIR/townlake.so"
TOWNLAKE_PORT="${TOWNLAKE_PORT:-5499}"
TOWNLAKE_DB="${TOWNLAKE_DB:-townlake}"
VENV_DIR="${VENV_DIR:-$PROJECT_DIR/.venv}"

# Cargo builds land outside the clone so that fresh clones reuse them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/townlake/target}"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

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
