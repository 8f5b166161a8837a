#!/usr/bin/env bash
# count(*) benchmark (issue 15): a large Iceberg table written by townlake, count(*)
# answered from metadata vs DuckDB count(*) over the same data files.
#   ROWS=100000000 (default)  rows in the table
#   RUNS=15                   interleaved rounds (medians are reported)
#   CHUNK=10000000            rows per INSERT (each one commit: fewer means more files and manifests)
#   SKIP_BUILD=1              use the installed library as it is
# Builds and installs the release profile first (that restarts the cluster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${ROWS:-100000000}"
RUNS="${RUNS:-15}"
BENCH_DB="${BENCH_DB:-townlake_bench}"

prepare_bench
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/iceberg_count.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --rows "$ROWS" --runs "$RUNS" --chunk "${CHUNK:-10000000}"
