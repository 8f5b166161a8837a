#!/usr/bin/env bash
# A private ClickHouse server for the tests and the demo: start | stop | status | url | query SQL
#   TOWNLAKE_CLICKHOUSE_PORT   its HTTP port on 127.0.0.1 (default 18123)
# Data, config and logs live in $STATE_DIR/clickhouse; it runs as the
# `clickhouse` user that Debian's package creates, never as root. No native
# TCP port is opened: townlake and the tests speak HTTP only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CH_PORT="${TOWNLAKE_CLICKHOUSE_PORT:-18123}"
CH_DIR="$STATE_DIR/clickhouse"
CH_SERVER=/usr/sbin/clickhouse-server
CH_USER=clickhouse
PID_FILE="$CH_DIR/clickhouse.pid"
# A second user with a password, for the credential tests and the docs.
CH_TEST_USER=townlake
CH_TEST_PASSWORD=townlake-secret

as_clickhouse() {
    if [ "$(id -un)" = "$CH_USER" ]; then
        "$@"
    else
        sudo -u "$CH_USER" -- "$@"
    fi
}

write_config() {
    mkdir -p "$CH_DIR"
    chown "$CH_USER:" "$CH_DIR"
    local sha
    sha="$(printf '%s' "$CH_TEST_PASSWORD" | sha256sum | cut -d' ' -f1)"
    as_clickhouse tee "$CH_DIR/config.xml" >/dev/null <<XML
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh; edits are overwritten. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_DIR/log/server.log</log>
        <errorlog>$CH_DIR/log/server.err.log</errorlog>
        <size>50M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$CH_PORT</http_port>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
    <keep_alive_timeout>10</keep_alive_timeout>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>500</flush_interval_milliseconds>
    </query_log>
    <users_config>$CH_DIR/users.xml</users_config>
</yandex>
XML
    as_clickhouse tee "$CH_DIR/users.xml" >/dev/null <<XML
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse.sh; edits are overwritten. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <log_queries>1</log_queries>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <$CH_TEST_USER>
            <password_sha256_hex>$sha</password_sha256_hex>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </$CH_TEST_USER>
    </users>
    <quotas><default></default></quotas>
</yandex>
XML
}

is_running() {
    [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

answers() {
    [ "$(curl_get "/?query=SELECT%201" 2>/dev/null)" = 1 ]
}

# A plain HTTP GET without curl (not installed everywhere): bash's /dev/tcp.
curl_get() {
    local path="$1" reply
    exec 3<>"/dev/tcp/127.0.0.1/$CH_PORT" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
    reply="$(cat <&3)"
    exec 3<&-
    # The body follows the first empty line.
    printf '%s' "$reply" | tr -d '\r' | sed '1,/^$/d'
}

# POST one statement as ClickHouse's `default` user (bash's /dev/tcp again);
# prints the answer, fails on an HTTP status other than 200.
post_query() {
    local sql="$1" reply status body
    exec 3<>"/dev/tcp/127.0.0.1/$CH_PORT" || return 1
    printf 'POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s' \
        "$(printf '%s' "$sql" | wc -c)" "$sql" >&3
    reply="$(cat <&3)"
    exec 3<&-
    status="$(printf '%s' "$reply" | head -n 1 | cut -d ' ' -f 2)"
    body="$(printf '%s' "$reply" | tr -d '\r' | sed '1,/^$/d')"
    if [ -n "$body" ]; then printf '%s\n' "$body"; fi
    [ "$status" = 200 ] || die "clickhouse refused the statement (HTTP $status)"
}

start_server() {
    [ -x "$CH_SERVER" ] || die "$CH_SERVER is missing: run scripts/deps.sh system (installs Debian's clickhouse-server)"
    if is_running && answers; then
        log "clickhouse already running on 127.0.0.1:$CH_PORT"
        return
    fi
    prepare_state_dir
    write_config
    as_clickhouse mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/log" "$CH_DIR/user_files" "$CH_DIR/format_schemas"
    log "starting clickhouse on 127.0.0.1:$CH_PORT (data and log: $CH_DIR)"
    (cd "$CH_DIR" && as_clickhouse "$CH_SERVER" --daemon --config-file="$CH_DIR/config.xml" --pid-file="$PID_FILE")
    # Up to 2 minutes: on a busy 2-core machine its start-up alone took 2.
    for _ in $(seq 1 1200); do
        if answers; then
            log "clickhouse answers on 127.0.0.1:$CH_PORT"
            return
        fi
        sleep 0.1
    done
    tail -n 30 "$CH_DIR/log/server.err.log" >&2 2>/dev/null || true
    die "clickhouse did not answer on 127.0.0.1:$CH_PORT"
}

stop_server() {
    if ! is_running; then
        log "clickhouse not running"
        return
    fi
    local pid
    pid="$(cat "$PID_FILE")"
    kill "$pid"
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || { log "clickhouse stopped"; rm -f "$PID_FILE"; return; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    log "clickhouse killed (did not stop within 20 s)"
}

case "${1:-}" in
    start)  start_server ;;
    stop)   stop_server ;;
    status) if is_running && answers; then echo "running on 127.0.0.1:$CH_PORT"; else echo "not running"; exit 1; fi ;;
    url)    echo "http://127.0.0.1:$CH_PORT" ;;
    query)  [ $# -eq 2 ] || die "usage: clickhouse.sh query 'SQL'"; post_query "$2" ;;
    *)      die "usage: clickhouse.sh start|stop|status|url|query SQL" ;;
esac
