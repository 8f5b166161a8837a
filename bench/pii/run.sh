#!/usr/bin/env bash
# The PII classifier's benchmarks, against a running cluster with townlake:
#   1. labelled benchmark: builds synthetic tables (make_labelled.py) and prints
#      per-infotype precision / recall / F2 and binary any-PII figures from
#      lake.eval_classifier, for each seed and summed over all seeds;
#   2. speed: 1,000 columns x 1,000 values classified with lake.classify.
#
# Environment: PGHOST (127.0.0.1), PGPORT ($TOWNLAKE_PORT or 5499), PGUSER (postgres),
#   BENCH_DB (townlake_pii_bench), SEEDS ("0 1 2"), ROWS (2000 rows per table),
#   REPEATS (3 evaluations per seed: each draws a new sample, so rare PII is
#   sometimes missed and the sums show how often),
#   PYTHON (the project venv's python, else python3), SKIP_SPEED=1 to skip part 2.
# The in-process figure without SQL overhead:
#   cargo test --release --lib pii::bench -- --ignored --nocapture
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-${TOWNLAKE_PORT:-5499}}"
export PGUSER="${PGUSER:-postgres}"
BENCH_DB="${BENCH_DB:-townlake_pii_bench}"
SEEDS="${SEEDS:-0 1 2}"
REPEATS="${REPEATS:-3}"
ROWS="${ROWS:-2000}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

psql_db() { psql -X -v ON_ERROR_STOP=1 -d "$BENCH_DB" "$@"; }

if [ "$(psql -X -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'")" != 1 ]; then
    psql -X -d postgres -qc "CREATE DATABASE \"$BENCH_DB\""
fi
psql_db -qc "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS townlake"
psql_db -qc "DROP TABLE IF EXISTS public.pii_bench_results" \
        -c "CREATE TABLE public.pii_bench_results (seed int, repeat int, infotype text, labelled int, predicted int, true_positives int)"

echo "== labelled benchmark: seeds [$SEEDS], $ROWS rows per table, townlake.pii_sample_rows = $(psql_db -Atc 'SHOW townlake.pii_sample_rows')"
for seed in $SEEDS; do
    PGDATABASE="$BENCH_DB" "$PYTHON" "$HERE/make_labelled.py" --rows "$ROWS" --seed "$seed"
    for repeat in $(seq 1 "$REPEATS"); do
        psql_db -q -c "INSERT INTO public.pii_bench_results SELECT $seed, $repeat, infotype, labelled, predicted, true_positives FROM lake.eval_classifier('pii_bench.labels')"
    done
    echo "-- seed $seed: columns where labels and predictions differ (one more sample)"
    psql_db -P footer=off -c "SELECT table_name, column_name, labelled, predicted, outcome FROM lake.eval_classifier_details('pii_bench.labels') WHERE outcome NOT IN ('clean', 'correct') ORDER BY 1, 2"
done

echo "== summed over seeds [$SEEDS], $REPEATS samples each"
psql_db -P footer=off <<'SQL'
SELECT infotype,
       sum(labelled) AS labelled, sum(predicted) AS predicted, sum(true_positives) AS tp,
       round(sum(true_positives)::numeric / nullif(sum(predicted), 0), 3) AS precision,
       round(sum(true_positives)::numeric / nullif(sum(labelled), 0), 3) AS recall,
       round(5 * (sum(true_positives)::numeric / nullif(sum(predicted), 0)) * (sum(true_positives)::numeric / nullif(sum(labelled), 0))
             / nullif(4 * (sum(true_positives)::numeric / nullif(sum(predicted), 0)) + sum(true_positives)::numeric / nullif(sum(labelled), 0), 0), 3) AS f2
FROM public.pii_bench_results
GROUP BY infotype
ORDER BY infotype = 'any_pii', infotype;
SQL

if [ "${SKIP_SPEED:-0}" = 1 ]; then
    exit 0
fi

echo "== speed: 1,000 columns x 1,000 values through lake.classify"
psql_db -q <<'SQL'
DROP TABLE IF EXISTS public.pii_speed_columns;
CREATE TABLE public.pii_speed_columns AS
SELECT c, array_agg(CASE c % 10
        WHEN 0 THEN 'user' || i || '.' || c || '@example.com'
        WHEN 1 THEN (ARRAY['Anna', 'John', 'Maria', 'Pierre', 'Yuki', 'Lars'])[1 + (i * 7 + c) % 6] || ' ' ||
                    (ARRAY['Smith', 'Müller', 'Garcia', 'Rossi', 'Dubois', 'Nowak'])[1 + (i * 11 + c) % 6]
        WHEN 2 THEN '+1-' || (200 + (i * 13) % 800) || '-' || (200 + (i * 17) % 800) || '-' || lpad(((i * 7919) % 10000)::text, 4, '0')
        WHEN 3 THEN 'the package arrived late and the box was damaged, please refund order ' || (i * c) || ' thanks again for the help'
        WHEN 4 THEN '{"event": "click", "n": ' || i || ', "path": "/p/' || (i % 50) || '"}'
        WHEN 5 THEN md5(i::text || c::text)::uuid::text
        WHEN 6 THEN ((i * 7919 + c) % 1000000)::text
        WHEN 7 THEN (date '2020-01-01' + (i % 1500))::text
        WHEN 8 THEN (1 + i % 222) || '.' || (i * 7 % 256) || '.' || (c % 256) || '.' || (1 + i % 254)
        ELSE 'SKU-' || lpad(((i * 104729 + c) % 100000000)::text, 8, '0')
    END) AS vals
FROM generate_series(1, 1000) c, generate_series(1, 1000) i
GROUP BY c;
SQL
start=$(date +%s.%N)
found=$(psql_db -Atc "SELECT count(*) FROM public.pii_speed_columns s, LATERAL lake.classify(s.vals, 'col_' || s.c) d")
end=$(date +%s.%N)
echo "classified 1000 columns x 1000 values in $(echo "$end - $start" | bc) s ($found findings)"
psql_db -qc "DROP TABLE public.pii_speed_columns"
