#!/usr/bin/env bash
# TPC-H (issue 15): the 22 queries on townlake's Iceberg tables vs heap tables
# vs DuckDB over the same Parquet files (bench/tpch.py says how and what is checked).
#   SF=1           scale factor (tpchgen-cli; the Parquet files are kept and reused)
#   RUNS=5         interleaved rounds per query (medians)
#   QUERIES=all    or e.g. QUERIES=1,6,14
#   TIMEOUT=600    statement_timeout per query and side, in seconds
#   ROW_GROUP_ROWS=122880  Parquet row group rows of the Iceberg tables (0: townlake's default)
#   SKIP_BUILD=1   use the installed library as it is (otherwise a release build is installed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

BENCH_DB="${BENCH_DB:-townlake_bench}"
prepare_bench
# tpchgen-cli is needed by this benchmark only: installed here, not by make test
"$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check -r "$PROJECT_DIR/bench/requirements-tpch.txt"
"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/tpch.py" \
    --port "$TOWNLAKE_PORT" --db "$BENCH_DB" --sf "${SF:-1}" --runs "${RUNS:-5}" \
    --queries "${QUERIES:-all}" --timeout "${TIMEOUT:-600}" --row-group-rows "${ROW_GROUP_ROWS:-122880}" \
    --data-dir "$STATE_DIR/tpch" --tpchgen "$VENV_DIR/bin/tpchgen-cli"
