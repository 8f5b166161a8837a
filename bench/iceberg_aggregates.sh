#!/usr/bin/env bash
# Aggregate benchmark (issue 15): aggregates computed in townlake's Iceberg scan
# vs a heap table vs DuckDB read_parquet over the same data files.
#   ROWS=10000000 (default)   rows in the table
#   RUNS=7                    interleaved rounds (medians are reported)
#   SKIP_BUILD=1              use the installed library as it is
# Builds and installs the release profile first (that restarts the cluster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${ROWS:-10000000}"
RUNS="${RUNS:-7}"
BENCH_DB="${BENCH_DB:-townlake_bench}"

prepare_bench
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/iceberg_aggregates.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --rows "$ROWS" --runs "$RUNS"
