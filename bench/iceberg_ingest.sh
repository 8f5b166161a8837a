#!/usr/bin/env bash
# Ingest benchmark: INSERT INTO <iceberg table> SELECT * FROM <heap table> in
# townlake, next to PyIceberg doing the same job end to end (psycopg reads the
# heap table into Arrow, then table.append), in the same run.
#   ROWS=10000000 (default)   rows in the heap table
#   RUNS=1                    timed runs per contender (best is reported)
#   SKIP_BUILD=1              use the installed library as it is
# Builds and installs the release profile first (that restarts the cluster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${ROWS:-10000000}"
RUNS="${RUNS:-1}"
BENCH_DB="${BENCH_DB:-townlake_bench}"

prepare_bench
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/iceberg_ingest.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --rows "$ROWS" --runs "$RUNS"
