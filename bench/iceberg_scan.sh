#!/usr/bin/env bash
# Scan benchmark: townlake's Iceberg foreign scan vs the same rows in a heap
# table, with DuckDB's read_parquet over the same data files as a peer.
#   ROWS=10000000 (default)   rows in the table
#   RUNS=3                    timed runs per query (best is reported)
#   SKIP_BUILD=1              use the installed library as it is
#   ROWS_ONLY=1               only the row-returning queries (SELECT * …)
# Builds and installs the release profile first (that restarts the cluster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${ROWS:-10000000}"
RUNS="${RUNS:-3}"
BENCH_DB="${BENCH_DB:-townlake_bench}"

prepare_bench
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/iceberg_scan.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --rows "$ROWS" --runs "$RUNS" ${ROWS_ONLY:+--rows-only}
