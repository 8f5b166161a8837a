-- Demo: a ClickHouse table of web requests, web.requests, written through
-- townlake (INSERT into a ClickHouse foreign table sends the rows in
-- batches over ClickHouse's HTTP interface). demo.sh starts ClickHouse
-- (scripts/clickhouse.sh) and recreates the empty table demo.requests in it
-- on every run, so this script is safe to re-run. Expects :ch_port.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

DROP SERVER IF EXISTS demo_clickhouse CASCADE;
CREATE SERVER demo_clickhouse FOREIGN DATA WRAPPER clickhouse
    OPTIONS (host '127.0.0.1', port :'ch_port', database 'demo');
CREATE USER MAPPING FOR PUBLIC SERVER demo_clickhouse
    OPTIONS (user 'townlake', password 'townlake-secret');

CREATE SCHEMA IF NOT EXISTS web;
CREATE FOREIGN TABLE web.requests (
    ts         timestamptz NOT NULL,
    account_id bigint      NOT NULL,
    status     integer     NOT NULL,
    bytes      bigint      NOT NULL
) SERVER demo_clickhouse OPTIONS (table 'requests');

-- Deterministic pseudo-random requests over the last two weeks of June
-- 2024: 220 sources (20 of them without an account), a few busy ones.
SELECT setseed(0.0624) AS seeded \gset
INSERT INTO web.requests (ts, account_id, status, bytes)
SELECT TIMESTAMPTZ '2024-06-17 00:00:00+00' + date_trunc('second', random() * interval '14 days'),
       CASE WHEN random() < 0.3 THEN 1 + floor(random() * 15)::bigint ELSE 1 + floor(random() * 220)::bigint END,
       (ARRAY[200, 200, 200, 200, 304, 404, 500])[1 + floor(random() * 7)::int],
       floor(random() * 100000)::bigint
FROM generate_series(1, 150000);

SELECT count(*) AS requests, count(DISTINCT account_id) AS sources, min(ts), max(ts) FROM web.requests;
