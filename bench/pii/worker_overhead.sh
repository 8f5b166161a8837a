#!/usr/bin/env bash
# Throughput of a pgbench workload with and without the PII scanner worker.
#
# Builds a database with pgbench tables and many tables of personal data for
# the scanner to chew on, points the scanner at it (ALTER SYSTEM, needs a
# superuser), then alternates pgbench runs with the scanner off and on,
# forcing a full rescan before each "on" run so the worker is busy the whole
# time. Prints the throughput of each run and the mean ratio on/off, for the
# default throttling and for an aggressive setting. Settings are reset at the end.
#
# Environment: PGHOST (127.0.0.1), PGPORT ($TOWNLAKE_PORT or 5499), PGUSER (postgres),
#   BENCH_DB (townlake_pii_overhead), ROUNDS (3), SECONDS_PER_RUN (20), CLIENTS (2),
#   TABLES (200 tables of personal data), PGBENCH (pgbench from PATH or Postgres' bindir),
#   AGGRESSIVE (1; 0 measures the default throttling only).
set -euo pipefail
export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-${TOWNLAKE_PORT:-5499}}"
export PGUSER="${PGUSER:-postgres}"
BENCH_DB="${BENCH_DB:-townlake_pii_overhead}"
ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-20}"
CLIENTS="${CLIENTS:-2}"
TABLES="${TABLES:-200}"
PGBENCH="${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}"

psql_db() { psql -X -v ON_ERROR_STOP=1 -d "$BENCH_DB" "$@"; }
set_system() { psql -X -qd postgres -c "ALTER SYSTEM SET $1 = '$2'" -c "SELECT pg_reload_conf()" >/dev/null; sleep 1; }
reset_system() {
    psql -X -qd postgres -c "ALTER SYSTEM RESET townlake.pii_scan_database" -c "ALTER SYSTEM RESET townlake.pii_scanner_enabled" \
        -c "ALTER SYSTEM RESET townlake.pii_scan_naptime" -c "ALTER SYSTEM RESET townlake.pii_scan_io_share" \
        -c "SELECT pg_reload_conf()" >/dev/null
}
trap reset_system EXIT

if [ "$(psql -X -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'")" != 1 ]; then
    psql -X -d postgres -qc "CREATE DATABASE \"$BENCH_DB\""
    psql_db -qc "CREATE EXTENSION townlake"
    "$PGBENCH" -i -s 10 -q "$BENCH_DB" >/dev/null 2>&1
    echo "creating $TABLES tables of personal data"
    psql_db -q <<SQL
CREATE SCHEMA people_data;
DO \$\$
BEGIN
    FOR t IN 1 .. $TABLES LOOP
        EXECUTE format('CREATE TABLE people_data.t%s AS
            SELECT i AS id, ''user'' || i || ''@example.com'' AS email,
                   (ARRAY[''Anna'',''John'',''Maria'',''Pierre''])[1 + i %% 4] || '' '' || (ARRAY[''Smith'',''Garcia'',''Rossi''])[1 + i %% 3] AS full_name,
                   ''+1-415-555-'' || lpad((i %% 10000)::text, 4, ''0'') AS phone,
                   md5(i::text) AS token, now() - (i || '' minutes'')::interval AS created_at,
                   repeat(''lorem ipsum '', 10) AS notes
            FROM generate_series(1, 5000) i', t);
    END LOOP;
END
\$\$;
ANALYZE;
SQL
fi

set_system townlake.pii_scan_database "$BENCH_DB"

run_pgbench() {
    "$PGBENCH" -n -S -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" "$BENCH_DB" 2>/dev/null \
        | awk '/^tps = / {print $3; exit}'
}

measure() {
    local label="$1" off_sum=0 on_sum=0 off on scanned
    echo "== $label"
    for round in $(seq 1 "$ROUNDS"); do
        set_system townlake.pii_scanner_enabled off
        off=$(run_pgbench)
        psql_db -qc "DELETE FROM lake.pii_scan_state"   # everything queued again: the worker stays busy
        set_system townlake.pii_scanner_enabled on
        on=$(run_pgbench)
        scanned=$(psql_db -Atc "SELECT count(*) FROM lake.pii_scan_state WHERE scanned_by = 'worker'")
        echo "round $round: scanner off $off tps, scanner on $on tps ($scanned relations scanned meanwhile)"
        off_sum=$(echo "$off_sum + $off" | bc -l)
        on_sum=$(echo "$on_sum + $on" | bc -l)
    done
    echo "mean: off $(echo "$off_sum / $ROUNDS" | bc -l | xargs printf '%.0f') tps, on $(echo "$on_sum / $ROUNDS" | bc -l | xargs printf '%.0f') tps, on/off = $(echo "$on_sum / $off_sum" | bc -l | xargs printf '%.3f')"
}

psql -X -qd postgres -c "ALTER SYSTEM RESET townlake.pii_scan_naptime" -c "ALTER SYSTEM RESET townlake.pii_scan_io_share" -c "SELECT pg_reload_conf()" >/dev/null
measure "default throttling (pii_scan_naptime = $(psql_db -Atc 'SHOW townlake.pii_scan_naptime'), pii_scan_io_share = $(psql_db -Atc 'SHOW townlake.pii_scan_io_share'))"
if [ "${AGGRESSIVE:-1}" = 1 ]; then
    set_system townlake.pii_scan_naptime 0
    set_system townlake.pii_scan_io_share 0.5
    measure "aggressive (pii_scan_naptime = 0, pii_scan_io_share = 0.5)"
fi
