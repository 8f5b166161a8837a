-- Demo: a small DAG of transformation models over billing.usage (Iceberg)
-- and public.accounts (heap), its runs and its graph (docs/transformations.md).
-- Run by `make demo` after usage.sql and accounts.sql; safe to re-run: the
-- definitions are replaced, the daily partitions rebuilt, the tables
-- replaced, so the results are the same every time (lake.runs grows).
\pset footer off
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS analytics;
\o /dev/null

-- 1. usage per account, product and UTC day: incremental, delete+insert by
--    day, so a backfill (or a rerun) replaces exactly the days it covers.
SELECT lake.define_model('usage_daily',
    $$SELECT date_trunc('day', ts, 'UTC') AS day, account_id, product,
             sum(units)::bigint AS units, sum(cost)::numeric(14,4) AS cost
      FROM billing.usage
      WHERE ts >= coalesce(lake.run_period_start(), '-infinity')
        AND ts <  coalesce(lake.run_period_end(), 'infinity')
      GROUP BY 1, 2, 3$$,
    'analytics.usage_daily', materialization => 'incremental', strategy => 'delete+insert',
    partition_by => 'day(day)', description => 'Usage per account, product and day');
-- 2. cost per plan and region and day (joins the heap table of accounts)
SELECT lake.define_model('plan_daily',
    $$SELECT u.day, a.plan, a.region, sum(u.cost)::numeric(14,2) AS cost
      FROM analytics.usage_daily u JOIN public.accounts a USING (account_id)
      GROUP BY 1, 2, 3$$,
    'analytics.plan_daily', description => 'Cost per plan, region and day');
-- 3. month totals per plan
SELECT lake.define_model('plan_totals',
    $$SELECT plan, sum(cost) AS cost FROM analytics.plan_daily GROUP BY plan$$,
    'analytics.plan_totals');
-- 4. the ten biggest accounts (a view, always current)
SELECT lake.define_model('top_accounts',
    $$SELECT a.name, a.plan, sum(u.cost)::numeric(14,2) AS cost
      FROM analytics.usage_daily u JOIN public.accounts a USING (account_id)
      GROUP BY 1, 2 ORDER BY cost DESC LIMIT 10$$,
    'analytics.top_accounts', materialization => 'view');

\o
\echo '--- the graph: what each model reads, found by Postgres'' analyzer'
SELECT model, relation_schema || '.' || relation_name AS reads
FROM lake.model_dependencies WHERE model IN ('usage_daily', 'plan_daily', 'plan_totals', 'top_accounts')
ORDER BY 1, 2;

\echo '--- backfill the month one day per run, then everything downstream'
SELECT cardinality(lake.backfill('usage_daily', '2024-06-01', '2024-07-01')) AS backfill_runs;
SELECT lake.run_now('plan_daily', with_downstream => true) AS run_id \gset

\echo '--- the runs of this demo (the latest backfill and the downstream run)'
SELECT run_id, model, trigger, status, rows_written, period_start::date AS period,
       (ended_at - started_at)::interval(3) AS took
FROM lake.runs
WHERE run_id >= :run_id OR (trigger = 'backfill' AND run_id > :run_id - 31)
ORDER BY run_id DESC LIMIT 8;

\echo '--- cost per plan, from the models'
SELECT plan, cost FROM analytics.plan_totals ORDER BY cost DESC;
SELECT * FROM analytics.top_accounts LIMIT 3;

\echo '--- what the last run read and wrote (lake.run_metadata)'
SELECT model, upstream, row_counts FROM lake.run_metadata WHERE run_id = :run_id;

\echo '--- the DAG as Graphviz DOT (psql -Atc ''SELECT lake.dag_dot()'' | dot -Tsvg > dag.svg)'
SELECT lake.dag_dot();
