#!/usr/bin/env bash
# Bulk INSERT into ClickHouse: INSERT INTO <clickhouse foreign table> SELECT
# FROM <heap table> through townlake, next to ClickHouse's own HTTP insert of
# the same rows (one POST of TabSeparated), interleaved in the same run.
#   ROWS=1000000 (default)    rows
#   RUNS=5                    interleaved rounds (medians are reported)
#   BATCH=                    townlake.clickhouse_batch_size (default: the setting's)
#   SKIP_BUILD=1              use the installed library as it is
# Builds and installs the release profile first (that restarts the cluster),
# and starts the private ClickHouse server (scripts/clickhouse.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-5}"
BENCH_DB="${BENCH_DB:-townlake_bench}"

prepare_bench
"$PROJECT_DIR/scripts/clickhouse.sh" start
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/clickhouse_insert.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --rows "$ROWS" --runs "$RUNS" \
    --clickhouse "$("$PROJECT_DIR/scripts/clickhouse.sh" url)" ${BATCH:+--batch "$BATCH"}
