-- Demo: the Iceberg table billing.usage, created and written by townlake
-- itself (CREATE FOREIGN TABLE ... partition_by, then INSERT ... SELECT).
-- Three transactions of ten days each give it three snapshots for time travel.
-- Idempotent: when the catalog already has billing.usage, nothing is written.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS billing;

SELECT NOT EXISTS (SELECT 1 FROM lake.iceberg_tables
                   WHERE catalog_name = 'lake_local' AND table_namespace = 'billing'
                     AND table_name = 'usage') AS fresh \gset

\if :fresh
-- A foreign table left over without its Iceberg table (e.g. the catalog was
-- emptied) is replaced; creating it creates the Iceberg table.
DROP FOREIGN TABLE IF EXISTS billing.usage;
CREATE FOREIGN TABLE billing.usage (
    account_id bigint        NOT NULL,
    ts         timestamptz   NOT NULL,
    product    text          NOT NULL,
    units      bigint        NOT NULL,
    cost       numeric(12,4) NOT NULL
) SERVER lake_local OPTIONS (namespace 'billing', table 'usage', partition_by 'day(ts)');

-- Deterministic pseudo-random usage events: 200 accounts, four products
-- with their unit prices, ~33k events per ten days.
SELECT setseed(0.2024) AS seeded \gset
\set batch 'INSERT INTO billing.usage (account_id, ts, product, units, cost) SELECT account_id, ts, product, units, (units * CASE product WHEN ''compute'' THEN 0.0400 WHEN ''storage'' THEN 0.0050 WHEN ''egress'' THEN 0.0900 ELSE 0.0012 END)::numeric(12,4) FROM (SELECT 1 + floor(random() * 200)::bigint AS account_id, TIMESTAMPTZ ''2024-06-01 00:00:00+00'' + :first_day * interval ''1 day'' + date_trunc(''second'', random() * interval ''10 days'') AS ts, (ARRAY[''compute'', ''storage'', ''egress'', ''queries''])[1 + floor(random() * 4)::int] AS product, 1 + floor(random() * 4999)::bigint AS units FROM generate_series(1, 33334) g) events'

\set first_day 0
:batch;
\set first_day 10
:batch;
\set first_day 20
:batch;

SELECT count(*) AS events, count(DISTINCT account_id) AS accounts, min(ts), max(ts) FROM billing.usage;
\else
\echo 'billing.usage already exists; leaving it as it is'
-- attach it if this database has no foreign table for it yet
CREATE FOREIGN TABLE IF NOT EXISTS billing.usage (
    account_id bigint, ts timestamptz, product text, units bigint, cost numeric(12,4)
) SERVER lake_local OPTIONS (namespace 'billing', table 'usage');
\endif
