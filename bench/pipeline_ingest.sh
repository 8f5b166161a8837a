#!/usr/bin/env bash
# Pipeline overhead: a pipeline (lake.run_pipeline_now) moving a heap table
# into a new Iceberg table, next to the same INSERT … SELECT typed by hand,
# interleaved in the same run, medians, results checked against the heap.
#   ROWS=10000000 (default)   rows of the heap table
#   RUNS=5                    interleaved rounds
#   MODES="append replace"    pipeline modes measured (append: first load past an empty watermark)
#   SKIP_BUILD=1              use the installed library as it is
# Builds and installs the release profile first (that restarts the cluster).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

ROWS="${ROWS:-10000000}"
RUNS="${RUNS:-5}"
MODES="${MODES:-append replace}"
BENCH_DB="${BENCH_DB:-townlake_bench}"

prepare_bench
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/pipeline_ingest.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --rows "$ROWS" --runs "$RUNS" --modes $MODES
