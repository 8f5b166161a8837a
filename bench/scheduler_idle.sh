#!/usr/bin/env bash
# Scheduler idle cost: CPU seconds the "townlake scheduler" worker uses with
# MODELS models defined on a one-minute schedule ('* * * * *'), each a tiny
# table model (SELECT 1), over SECONDS seconds, read from /proc/<pid>/stat
# (utime + stime). Also counts the runs it made meanwhile.
#   MODELS=1000 SECONDS_=180 SCHEDULE='* * * * *' BENCH_DB=townlake_sched_bench
# (SCHEDULE='0 0 1 1 *': nothing due, the planning loop alone)
# Uses the installed library and the running project cluster as they are.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

MODELS="${MODELS:-1000}"
SCHEDULE="${SCHEDULE:-* * * * *}"
DURATION="${SECONDS_:-180}"
BENCH_DB="${BENCH_DB:-townlake_sched_bench}"
CLK_TCK="$(getconf CLK_TCK)"

"$PROJECT_DIR/scripts/cluster.sh" createdb "$BENCH_DB"
q() { PGOPTIONS="-c client_min_messages=warning" project_psql -d "$BENCH_DB" -qAt -c "$1"; }

q "DROP SCHEMA IF EXISTS sched_bench CASCADE; CREATE SCHEMA sched_bench"
q "SELECT lake.drop_model(name) FROM lake.models WHERE name LIKE 'sb\\_%'" >/dev/null
log "defining $MODELS models on '$SCHEDULE'"
q "SELECT count(lake.define_model('sb_' || g, 'SELECT 1 AS x', 'sched_bench.t_' || g, schedule => '$SCHEDULE'))
   FROM generate_series(1, $MODELS) g" >/dev/null

pid=""
for _ in $(seq 1 60); do
    pid="$(q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'townlake scheduler' AND datname = current_database()")"
    [ -n "$pid" ] && break
    sleep 1
done
[ -n "$pid" ] || die "no townlake scheduler in $BENCH_DB"
cpu() { awk -v t="$CLK_TCK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }

# Let the first minute's burst of runs pass the measurement's start.
sleep 5
runs0="$(q "SELECT count(*) FROM lake.runs")"
c0="$(cpu "$pid")"; t0="$(date +%s.%N)"
sleep "$DURATION"
c1="$(cpu "$pid")"; t1="$(date +%s.%N)"
runs1="$(q "SELECT count(*) FROM lake.runs")"
elapsed="$(echo "$t1 - $t0" | bc)"
used="$(echo "$c1 - $c0" | bc)"
log "scheduler pid $pid: $used CPU seconds in $elapsed s wall ($(echo "scale=2; 100 * $used / $elapsed" | bc)% of a core), $((runs1 - runs0)) runs made"
per_run="n/a"
[ "$runs1" -gt "$runs0" ] && per_run="$(echo "scale=2; 1000 * $used / ($runs1 - $runs0)" | bc)"
echo "models=$MODELS schedule='$SCHEDULE' wall_s=$elapsed cpu_s=$used runs=$((runs1 - runs0)) cpu_per_run_ms=$per_run"
q "SELECT lake.pause_model(name) FROM lake.models WHERE name LIKE 'sb\\_%'" >/dev/null
