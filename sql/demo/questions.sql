-- Demo questions over billing.usage (Iceberg, written by townlake in usage.sql),
-- public.accounts (a heap table) and web.requests (ClickHouse, requests.sql).
-- Run by `make demo`; safe to re-run.
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

\echo '--- Q7: the headline question across three engines in one statement: the top paying customers'
\echo '    by requests in the last week of June (requests counted in ClickHouse, accounts in Postgres,'
\echo '    billing summed from Iceberg)'
SELECT a.name, a.plan, r.requests, b.billed
FROM (SELECT account_id, count(*) AS requests
      FROM web.requests
      WHERE ts >= '2024-06-24 00:00:00+00' AND ts < '2024-07-01 00:00:00+00'
      GROUP BY account_id) r
JOIN public.accounts a USING (account_id)
JOIN (SELECT account_id, sum(cost)::numeric(14,2) AS billed
      FROM billing.usage GROUP BY account_id) b USING (account_id)
WHERE b.billed > 0
ORDER BY r.requests DESC, a.account_id
LIMIT 10;

\echo '--- Q7 explained: ClickHouse gets the WHERE and the GROUP BY (Remote SQL), only one row per account travels'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.name, a.plan, r.requests, b.billed
FROM (SELECT account_id, count(*) AS requests
      FROM web.requests
      WHERE ts >= '2024-06-24 00:00:00+00' AND ts < '2024-07-01 00:00:00+00'
      GROUP BY account_id) r
JOIN public.accounts a USING (account_id)
JOIN (SELECT account_id, sum(cost)::numeric(14,2) AS billed
      FROM billing.usage GROUP BY account_id) b USING (account_id)
WHERE b.billed > 0
ORDER BY r.requests DESC, a.account_id
LIMIT 10;
