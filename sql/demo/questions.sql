-- Demo questions over billing.usage (Iceberg, written by townlake in usage.sql) and
-- public.accounts (a heap table). Run by `make demo`; safe to re-run.
\pset footer off
\set ON_ERROR_STOP on
SET client_min_messages = warning;

\echo '--- The Iceberg table billing.usage, created by CREATE FOREIGN TABLE ... partition_by (usage.sql)'
\d billing.usage
SELECT table_namespace, table_name, metadata_location FROM lake.iceberg_tables
WHERE table_namespace = 'billing';

\echo '--- Q1: cost per plan over the whole month'
SELECT a.plan, count(*) AS events, sum(u.cost)::numeric(14,2) AS cost
FROM billing.usage u
JOIN public.accounts a USING (account_id)
GROUP BY a.plan
ORDER BY cost DESC;

\echo '--- Q2: the five biggest accounts in the last week, with their region'
SELECT a.name, a.region, sum(u.cost)::numeric(14,2) AS cost
FROM billing.usage u
JOIN public.accounts a USING (account_id)
WHERE u.ts >= '2024-06-24' AND u.ts < '2024-07-01'
GROUP BY a.name, a.region
ORDER BY cost DESC
LIMIT 5;

\echo '--- Q3: storage units per day for EU accounts in the first week'
SELECT date_trunc('day', u.ts)::date AS day, sum(u.units) AS storage_units
FROM billing.usage u
JOIN public.accounts a USING (account_id)
WHERE a.region = 'eu' AND u.product = 'storage'
  AND u.ts >= '2024-06-01' AND u.ts < '2024-06-08'
GROUP BY 1
ORDER BY 1;

\echo '--- Q4: which products grew between the first and the last ten days?'
SELECT product,
       sum(cost) FILTER (WHERE ts <  '2024-06-11')::numeric(14,2) AS first_10_days,
       sum(cost) FILTER (WHERE ts >= '2024-06-21')::numeric(14,2) AS last_10_days
FROM billing.usage
GROUP BY product
ORDER BY product;

\echo '--- Q5: one day of data: EXPLAIN shows the other days'' files skipped'
EXPLAIN (COSTS OFF)
SELECT count(*), sum(cost) FROM billing.usage
WHERE ts >= '2024-06-15' AND ts < '2024-06-16';

\echo '--- Q6: time travel: the table''s snapshots, and the data as of the first one'
SELECT snapshot_id, committed_at, operation, summary->>'added-records' AS added_records
FROM lake.snapshots('billing.usage'::regclass)
ORDER BY committed_at;

SELECT snapshot_id AS first_snapshot
FROM lake.snapshots('billing.usage'::regclass)
ORDER BY committed_at
LIMIT 1 \gset
SET townlake.iceberg_snapshot_id = :'first_snapshot';
SELECT count(*) AS rows_then, max(ts) AS latest_event_then FROM billing.usage;
RESET townlake.iceberg_snapshot_id;
SELECT count(*) AS rows_now, max(ts) AS latest_event_now FROM billing.usage;
