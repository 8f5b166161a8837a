SET client_min_messages = warning;
-- Demo: an ordinary Postgres table of customer accounts, joined with the
-- Iceberg table billing.usage in questions.sql.
CREATE TABLE IF NOT EXISTS public.accounts (
    account_id bigint PRIMARY KEY,
    name       text NOT NULL,
    plan       text NOT NULL,
    region     text NOT NULL
);

INSERT INTO public.accounts (account_id, name, plan, region)
SELECT id,
       'Account ' || lpad(id::text, 3, '0'),
       (ARRAY['free', 'pro', 'business', 'enterprise'])[1 + id % 4],
       (ARRAY['eu', 'us', 'apac'])[1 + id % 3]
FROM generate_series(1, 200) AS id
ON CONFLICT (account_id) DO NOTHING;

ANALYZE public.accounts;
