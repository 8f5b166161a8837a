-- townlake audit: the hash-chained audit log the background writer fills.
-- Part of the extension script (src/audit/mod.rs); runs after
-- sql/governance/governance.sql, whose append-only trigger function it uses.

-- Written by townlake's background writer (src/audit/worker.rs) from the
-- audit queue: one row per batch, each record as the JSON object the writer
-- received, with its hash. A record's hash is sha256(previous record's hash
-- || record text), so it covers the record and every record before it; the
-- first record of a batch chains onto the last one of the batch before
-- (prev_hash). Storing a batch per row keeps writing cheap (a few µs per
-- statement); lake.audit_log reads it back as one row per record.
CREATE TABLE lake.audit_batches (
    first_id bigint PRIMARY KEY,   -- the batch holds records first_id .. first_id + n - 1
    logged_at timestamptz NOT NULL,
    prev_hash text NOT NULL,
    record_ids uuid[] NOT NULL,    -- the records' ids, to skip records delivered twice
    records text[] NOT NULL,
    hashes text[] NOT NULL
);
-- Hashes and ids are random: compressing them would cost the writer more
-- than it saves. Records of a batch repeat roles, statements and relations:
-- lz4 stores them in ~40 bytes each instead of ~550 (pglz would cost the
-- writer several µs per record, so without lz4 they stay uncompressed).
ALTER TABLE lake.audit_batches ALTER COLUMN hashes SET STORAGE EXTERNAL,
                               ALTER COLUMN record_ids SET STORAGE EXTERNAL;
DO $lz4$
BEGIN
    ALTER TABLE lake.audit_batches ALTER COLUMN records SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    ALTER TABLE lake.audit_batches ALTER COLUMN records SET STORAGE EXTERNAL;
END
$lz4$;
CREATE INDEX audit_batches_logged_at ON lake.audit_batches (logged_at);
COMMENT ON TABLE lake.audit_batches IS 'Storage of lake.audit_log: batches of records as written; append-only, hash-chained';
CREATE TRIGGER audit_batches_append_only BEFORE UPDATE OR DELETE ON lake.audit_batches
    FOR EACH ROW EXECUTE FUNCTION lake_internal._gov_append_only();
CREATE TRIGGER audit_batches_no_truncate BEFORE TRUNCATE ON lake.audit_batches
    FOR EACH STATEMENT EXECUTE FUNCTION lake_internal._gov_append_only();

-- Head of the chain: the last record and how many there are, so deleting
-- the newest records is detected too.
CREATE TABLE lake.audit_chain (
    id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    last_id bigint NOT NULL,
    last_hash text NOT NULL,
    records bigint NOT NULL
);
INSERT INTO lake.audit_chain VALUES (1, 0, repeat('0', 64), 0);
COMMENT ON TABLE lake.audit_chain IS 'Head of the audit hash chain: the last record, its hash and the number of records (lake.verify_audit compares it with the log)';

-- One row per record. Timestamps are kept as Postgres microseconds in the
-- records (started_us, logged_us), so they read back exactly. logged_at is
-- the batch's (equal to its records' logged_us, which verify_audit checks),
-- so a time range on the view is an index scan of the batches.
CREATE VIEW lake.audit_log AS
SELECT b.first_id + u.o - 1 AS id,
       j.id AS record_id,
       b.logged_at,
       timestamptz '2000-01-01 00:00:00+00' + j.started_us * interval '1 microsecond' AS statement_start,
       j.kind,
       j.role,
       j."session_user" AS session_user_name,
       j.pid AS backend_pid,
       j.session AS session_id,
       j.query AS query_text,
       COALESCE(j.relations, '{}') AS relations,
       COALESCE(j.columns, '{}') AS columns,
       COALESCE(j.pii, false) AS pii_revealed,
       j."rows",
       j.duration_us,
       COALESCE(j.outcome, 'unknown') AS outcome,
       j.level AS nesting_level,
       COALESCE(j.truncated, false) AS query_truncated,
       COALESCE(j.detail, '{}') AS detail,
       j.params,
       COALESCE(j.params_masked, false) AS params_masked,
       u.prev AS prev_hash,
       u.hash
  FROM lake.audit_batches b
 CROSS JOIN LATERAL unnest(b.records, b.hashes, b.prev_hash OPERATOR(pg_catalog.||) b.hashes)
       WITH ORDINALITY AS u(rec, hash, prev, o)
 CROSS JOIN LATERAL pg_catalog.json_to_record(u.rec::json) AS j(
       id uuid, kind text, role name, "session_user" name, pid int, session text, started_us bigint,
       logged_us bigint, query text, relations text[], columns text[], level int, truncated boolean,
       detail jsonb, outcome text, pii boolean, "rows" bigint, duration_us bigint, params text[],
       params_masked boolean)
 WHERE u.rec IS NOT NULL;
COMMENT ON VIEW lake.audit_log IS 'Every statement on governed data and every PII flip; append-only, hash-chained (lake.verify_audit)';
CREATE TRIGGER audit_log_append_only INSTEAD OF INSERT OR UPDATE OR DELETE ON lake.audit_log
    FOR EACH ROW EXECUTE FUNCTION lake_internal._gov_append_only();

CREATE FUNCTION lake_internal._gov_chain_hash(prev text, payload text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(prev OPERATOR(pg_catalog.||) payload, 'UTF8')), 'hex')
$$;

-- True if no audit record was altered, deleted or inserted out of band. The
-- writer computes hashes in Rust (src/audit/chain.rs); this recomputes them
-- with Postgres' own sha256.
CREATE FUNCTION lake.verify_audit() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad bigint;
    n bigint;
    last_id bigint;
    last_hash text;
    head lake.audit_chain;
BEGIN
    SELECT x.id INTO bad
      FROM (SELECT b.first_id + u.o - 1 AS id, u.o, b.prev_hash AS batch_prev, u.rec, u.hash, u.rid,
                   b.logged_at AS batch_logged_at,
                   lag(u.hash, 1, repeat('0', 64)) OVER w AS expected_prev,
                   row_number() OVER w AS expected_id
              FROM lake.audit_batches b
             CROSS JOIN LATERAL unnest(b.records, b.hashes, b.record_ids) WITH ORDINALITY AS u(rec, hash, rid, o)
            WINDOW w AS (ORDER BY b.first_id, u.o)) x
     WHERE x.rec IS NULL OR x.hash IS NULL OR x.rid IS NULL
        OR x.id <> x.expected_id
        OR (x.o = 1 AND x.batch_prev <> x.expected_prev)
        OR x.hash <> lake_internal._gov_chain_hash(x.expected_prev, x.rec)
        OR x.rid IS DISTINCT FROM (x.rec::json ->> 'id')::uuid
        OR x.batch_logged_at IS DISTINCT FROM
           timestamptz '2000-01-01 00:00:00+00' + (x.rec::json ->> 'logged_us')::bigint * interval '1 microsecond'
     ORDER BY x.id LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE NOTICE 'audit record % does not match its chain', bad;
        RETURN false;
    END IF;
    SELECT COALESCE(sum(cardinality(b.records)), 0), max(b.first_id + cardinality(b.records) - 1)
      INTO n, last_id FROM lake.audit_batches b;
    SELECT b.hashes[cardinality(b.hashes)] INTO last_hash FROM lake.audit_batches b ORDER BY b.first_id DESC LIMIT 1;
    SELECT * INTO head FROM lake.audit_chain WHERE id = 1;
    IF head.records <> n OR head.last_id <> COALESCE(last_id, 0)
       OR head.last_hash <> COALESCE(last_hash, repeat('0', 64)) THEN
        RAISE NOTICE 'the audit chain head (% records) does not match the log (% records)', head.records, n;
        RETURN false;
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION lake.verify_audit() IS 'Checks the hash chain of lake.audit_log: false if any record was altered or deleted';

REVOKE ALL ON lake.audit_log, lake.audit_batches, lake.audit_chain FROM PUBLIC;
GRANT SELECT ON lake.audit_log, lake.audit_batches, lake.audit_chain TO lake_auditor;
REVOKE ALL ON FUNCTION lake.verify_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lake.verify_audit() TO lake_auditor;
REVOKE ALL ON FUNCTION lake.audit_queue_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lake.audit_queue_stats() TO lake_auditor;
COMMENT ON FUNCTION lake.audit_pending() IS 'Auditor: audit records of this database still in the queue, not yet in lake.audit_log';
COMMENT ON FUNCTION lake.audit_queue_stats() IS 'Auditor: the shared audit queue''s slots, slots in use and unwritten, refused and throttled claims, and this session''s shares';
