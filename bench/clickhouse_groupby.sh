#!/usr/bin/env bash
# GROUP BY over a ClickHouse table through townlake (the aggregate pushed
# down), next to the same question sent straight to ClickHouse over HTTP,
# interleaved in the same run, medians, results checked.
#   ROWS=10000000 (default)   rows of the ClickHouse table
#   RUNS=7                    interleaved rounds
#   SKIP_BUILD=1              use the installed library as it is
# Builds and installs the release profile first (that restarts the cluster),
# and starts the private ClickHouse server (scripts/clickhouse.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${ROWS:-10000000}"
RUNS="${RUNS:-7}"
BENCH_DB="${BENCH_DB:-townlake_bench}"

prepare_bench
"$PROJECT_DIR/scripts/clickhouse.sh" start
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/clickhouse_groupby.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --rows "$ROWS" --runs "$RUNS" \
    --clickhouse "$("$PROJECT_DIR/scripts/clickhouse.sh" url)"
