#!/usr/bin/env bash
# Governance benchmark: a published view vs the owner on the raw table, and
# pgbench throughput of governed point SELECTs and range aggregates with the
# audit on and off.
#   ROWS=1000000 RUNS=5 CLIENTS=2 DURATION=20 PAIRS=3  (defaults; DURATION: seconds per pgbench run,
#                                                       PAIRS: interleaved audit on/off pairs per workload)
#   WORKLOADS=all|point|range                  pgbench workloads to run
#   SKIP_COMPARE=1                             skip the view-vs-raw timings (pgbench part only)
#   TOWNLAKE_PORT=5499                         cluster to use (townlake preloaded)
#   SKIP_BUILD=1                               use the installed library as it is
#   MASKS_ONLY=1                               only the mask comparison (RUNS pairs)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"

# with SKIP_BUILD=1 the cluster at TOWNLAKE_PORT is used as it is
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    prepare_bench
fi
"$VENV_DIR/bin/python" "$PROJECT_DIR/bench/governance/governed_select.py" \
    --port "$TOWNLAKE_PORT" --rows "${ROWS:-1000000}" --runs "${RUNS:-5}" \
    --clients "${CLIENTS:-2}" --seconds "${DURATION:-20}" --pairs "${PAIRS:-3}" \
    --workloads "${WORKLOADS:-all}" ${SKIP_COMPARE:+--skip-compare} \
    ${MASKS_ONLY:+--masks-only}
