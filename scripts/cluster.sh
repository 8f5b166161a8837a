#!/usr/bin/env bash
# Manage the project's Postgres cluster: start | stop | status | psql | createdb
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STAMP_FILE="$STATE_DIR/cluster.stamp"

require_installed_library() {
    [ -f "$TOWNLAKE_SO" ] || die "$TOWNLAKE_SO is missing: the cluster preloads townlake, so run 'make install' first"
}

init_cluster() {
    [ -f "$PGDATA_DIR/PG_VERSION" ] && return
    log "initdb: $PGDATA_DIR"
    as_postgres "$PG_BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=trust >/dev/null
    echo "include 'townlake.conf'" | as_postgres tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
}

# Settings are rewritten on every start so that edits here take effect.
write_settings() {
    # pg_stat_statements (contrib) feeds the catalog's usage facts when a
    # database has CREATE EXTENSION pg_stat_statements; it must be preloaded
    local preload="townlake"
    [ -f "$PG_PKGLIBDIR/pg_stat_statements.so" ] && preload="townlake, pg_stat_statements"
    as_postgres tee "$PGDATA_DIR/townlake.conf" >/dev/null <<CONF
# Written by scripts/cluster.sh; edits are overwritten.
port = $TOWNLAKE_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKET_DIR'
shared_preload_libraries = '$preload'
townlake.iceberg_warehouse = 'file://$WAREHOUSE_DIR'
max_connections = 50
# townlake's own workers (PII launcher and scanner, audit launcher and one
# audit writer per governed database) share this pool with parallel query.
max_worker_processes = 32
log_min_messages = warning
CONF
}

# What the running server was started with: the library and the settings.
current_stamp() {
    cat "$TOWNLAKE_SO" "$PGDATA_DIR/townlake.conf" | sha256sum | cut -d' ' -f1
}

# Another cluster (another state directory) listening on the same port
# would answer every connection in this one's place: refuse to go on.
require_own_port() {
    local served
    served="$("$PG_BINDIR/psql" -X -Atq -h 127.0.0.1 -p "$TOWNLAKE_PORT" -U postgres -d postgres \
        -c 'SHOW data_directory' 2>/dev/null || true)"
    if [ "$(realpath -m "$served")" != "$(realpath -m "$PGDATA_DIR")" ]; then
        die "port $TOWNLAKE_PORT is served by another cluster (${served:-not answering}), not $PGDATA_DIR: stop it or set TOWNLAKE_PORT"
    fi
}

start_cluster() {
    require_installed_library
    prepare_state_dir
    init_cluster
    write_settings
    local wanted
    wanted="$(current_stamp)"
    if cluster_is_running; then
        if [ "$(cat "$STAMP_FILE" 2>/dev/null)" = "$wanted" ]; then
            require_own_port
            log "cluster already running on port $TOWNLAKE_PORT"
            return
        fi
        log "library or settings changed: restarting"
        as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
    fi
    log "starting cluster on 127.0.0.1:$TOWNLAKE_PORT (log: $CLUSTER_LOG)"
    if ! as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$CLUSTER_LOG" -w -t 60 start >/dev/null; then
        tail -n 30 "$CLUSTER_LOG" >&2 || true
        die "the cluster did not start"
    fi
    require_own_port
    echo "$wanted" > "$STAMP_FILE"
}

stop_cluster() {
    if cluster_is_running; then
        as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
        log "cluster stopped"
    else
        log "cluster not running"
    fi
    rm -f "$STAMP_FILE"
}

create_database() {
    local db="${1:-$TOWNLAKE_DB}"
    if [ "$(project_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        log "creating database $db"
        project_psql -d postgres -qc "CREATE DATABASE \"$db\""
    fi
    project_psql -d "$db" -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS townlake"
}

remove_state() {
    stop_cluster
    log "removing $STATE_DIR"
    rm -rf "$STATE_DIR"
}

main() {
    case "${1:-}" in
        clean)    remove_state ;;
        start)    start_cluster ;;
        stop)     stop_cluster ;;
        status)   if cluster_is_running; then echo "running ($STATE_DIR, port $TOWNLAKE_PORT)"; else echo "stopped"; exit 3; fi ;;
        createdb) create_database "${2:-}" ;;
        psql)     shift; cluster_is_running || die "cluster not running: make start"
                  exec "$PG_BINDIR/psql" -h 127.0.0.1 -p "$TOWNLAKE_PORT" -U postgres -d "$TOWNLAKE_DB" "$@" ;;
        *)        die "usage: cluster.sh start|stop|status|createdb [db]|psql" ;;
    esac
}

main "$@"
