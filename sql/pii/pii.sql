-- townlake PII scanner: state, findings, queue and the SQL face of the
-- scanner (loaded by src/pii/sql.rs, after the Rust functions it wraps).

-- The PII scanner's state and findings. No raw values are ever stored: only
-- counts, confidences and the words of the evidence.
CREATE TABLE lake.pii_scan_state (
    relation regclass PRIMARY KEY,
    schema_name name NOT NULL,
    table_name name NOT NULL,
    relkind text NOT NULL,
    relfilenode int8,
    columns_signature text NOT NULL,
    classifier_version text NOT NULL,
    mods_at_scan int8 NOT NULL DEFAULT 0,
    rows_at_scan int8 NOT NULL DEFAULT 0,
    rows_sampled int NOT NULL DEFAULT 0,
    columns_scanned int NOT NULL DEFAULT 0,
    pii_columns int NOT NULL DEFAULT 0,
    table_pass boolean NOT NULL DEFAULT false,
    scanned_at timestamptz NOT NULL DEFAULT now(),
    duration_ms float8,
    scanned_by text NOT NULL,
    last_error text
);
COMMENT ON TABLE lake.pii_scan_state IS 'PII scanner: when each relation was scanned, in which shape, and with which outcome';

CREATE TABLE lake.pii_columns (
    relation regclass NOT NULL REFERENCES lake.pii_scan_state ON DELETE CASCADE,
    attnum int2 NOT NULL,
    schema_name name NOT NULL,
    table_name name NOT NULL,
    column_name name NOT NULL,
    type_name text NOT NULL,
    infotypes text[] NOT NULL DEFAULT '{}',
    top_infotype text,
    confidence real,
    sensitivity text CHECK (sensitivity IN ('pii', 'restricted')),
    mask text,
    sampled int NOT NULL DEFAULT 0,
    classifier_version text NOT NULL,
    scanned_at timestamptz NOT NULL,
    changed_at timestamptz,
    PRIMARY KEY (relation, attnum)
);
COMMENT ON TABLE lake.pii_columns IS 'PII scanner: one row per scanned column with its infotypes (sorted), the suggested sensitivity and mask, and when its finding last changed';
COMMENT ON COLUMN lake.pii_columns.changed_at IS 'When the set of infotypes last changed (NULL: never had a finding); a reviewed column whose finding changed after its review should go back to pending';

CREATE TABLE lake.pii_findings (
    relation regclass NOT NULL,
    attnum int2 NOT NULL,
    schema_name name NOT NULL,
    table_name name NOT NULL,
    column_name name NOT NULL,
    infotype text NOT NULL,
    confidence real NOT NULL,
    matches int NOT NULL,
    sampled int NOT NULL,
    evidence text[] NOT NULL DEFAULT '{}',
    classifier_version text NOT NULL,
    scanned_at timestamptz NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (relation, attnum, infotype),
    FOREIGN KEY (relation, attnum) REFERENCES lake.pii_columns ON DELETE CASCADE
);
COMMENT ON TABLE lake.pii_findings IS 'PII scanner: infotypes found per column at or above townlake.pii_threshold (counts and confidence, never values)';

-- Same string for the same columns, names and types: a changed signature
-- queues the relation again.
CREATE FUNCTION lake_internal.pii_columns_signature(rel oid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT md5(COALESCE(string_agg(a.attnum || ':' || a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum), ''))
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- What the scanner covers: tables, materialized views and foreign tables
-- outside system schemas and townlake's own, not owned by an extension.
CREATE FUNCTION lake_internal.pii_relations()
RETURNS TABLE (relation regclass, schema_name name, table_name name, relkind text, relfilenode int8,
               columns_signature text, modifications int8, live_rows int8)
LANGUAGE sql STABLE AS $$
    SELECT c.oid::regclass, n.nspname, c.relname, c.relkind::text, c.relfilenode::int8,
           lake_internal.pii_columns_signature(c.oid),
           COALESCE(s.n_tup_ins + s.n_tup_upd, 0)::int8, COALESCE(s.n_live_tup, 0)::int8
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_stat_all_tables s ON s.relid = c.oid
    WHERE c.relkind IN ('r', 'm', 'f')
      AND c.relpersistence <> 't'
      AND n.nspname NOT IN ('lake', 'lake_internal', 'pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
$$;

-- Relations waiting for a scan and why; lower priority numbers go first.
CREATE FUNCTION lake_internal.pii_scan_queue()
RETURNS TABLE (relation regclass, reason text, priority int, scanned_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT r.relation, q.reason, q.priority, s.scanned_at
    FROM lake_internal.pii_relations() r
    LEFT JOIN lake.pii_scan_state s ON s.relation = r.relation
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN s.relation IS NULL THEN 'new relation'
            WHEN s.columns_signature <> r.columns_signature THEN 'columns changed'
            WHEN s.relfilenode IS DISTINCT FROM r.relfilenode THEN 'table rewritten'
            WHEN s.classifier_version <> lake.pii_classifier_version() THEN 'classifier upgraded'
            WHEN r.modifications - s.mods_at_scan > s.rows_at_scan * 0.2 THEN 'data changed'
            WHEN s.last_error IS NOT NULL AND s.scanned_at < now() - interval '10 minutes' THEN 'retry after error'
            WHEN current_setting('townlake.pii_rescan_interval')::interval > interval '0'
                 AND s.scanned_at < now() - current_setting('townlake.pii_rescan_interval')::interval THEN 'periodic rescan'
        END AS reason
    ) why
    CROSS JOIN LATERAL (
        SELECT why.reason, CASE why.reason
            WHEN 'new relation' THEN 1 WHEN 'columns changed' THEN 2 WHEN 'table rewritten' THEN 2
            WHEN 'classifier upgraded' THEN 3 WHEN 'data changed' THEN 4 WHEN 'retry after error' THEN 5
            ELSE 6 END AS priority
    ) q
    WHERE why.reason IS NOT NULL
$$;

-- lake.scan, lake.eval_classifier and lake.eval_classifier_details are the
-- Rust functions themselves (src/pii/sql.rs).

-- The review queue's view of a column: suggested sensitivity ('pii',
-- 'restricted' or NULL when clean) and mask (a lake.mask_* regprocedure as
-- text). No row: not scanned yet.
CREATE FUNCTION lake.pii_suggestion(rel regclass, col name)
RETURNS TABLE (sensitivity text, mask text, infotypes text[], confidence real, changed_at timestamptz, scanned_at timestamptz)
LANGUAGE sql STABLE STRICT AS $$
    SELECT c.sensitivity, c.mask, c.infotypes, c.confidence, c.changed_at, c.scanned_at
    FROM lake.pii_columns c WHERE c.relation = rel AND c.column_name = col
$$;
COMMENT ON FUNCTION lake.pii_suggestion(regclass, name) IS 'PII scanner suggestion for a column: sensitivity, mask, infotypes, confidence, when the finding last changed';

CREATE VIEW lake.scan_status AS
    SELECT r.relation, r.schema_name, r.table_name,
           CASE r.relkind WHEN 'r' THEN 'table' WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END AS kind,
           CASE WHEN q.reason IS NULL THEN 'scanned' WHEN s.relation IS NULL THEN 'queued' ELSE 'queued for rescan' END AS status,
           q.reason AS queued_because, q.priority,
           s.scanned_at, s.scanned_by, s.duration_ms, s.rows_sampled, s.columns_scanned, s.pii_columns,
           s.table_pass, s.classifier_version, s.last_error
    FROM lake_internal.pii_relations() r
    LEFT JOIN lake.pii_scan_state s ON s.relation = r.relation
    LEFT JOIN lake_internal.pii_scan_queue() q ON q.relation = r.relation;
COMMENT ON VIEW lake.scan_status IS 'PII scanner: every covered relation, whether it is scanned or queued (and why), and its last scan';

CREATE VIEW lake.scan_progress AS
    SELECT count(*)::int AS relations,
           count(*) FILTER (WHERE status = 'scanned')::int AS up_to_date,
           count(*) FILTER (WHERE status <> 'scanned')::int AS queued,
           count(*) FILTER (WHERE last_error IS NOT NULL)::int AS errors,
           (SELECT sum(pii_columns) FROM lake.pii_scan_state)::int AS pii_columns,
           (SELECT a.pid FROM pg_catalog.pg_stat_activity a
             WHERE a.backend_type = 'townlake pii scanner' AND a.datname = current_database() LIMIT 1) AS scanner_pid,
           (SELECT a.query FROM pg_catalog.pg_stat_activity a
             WHERE a.backend_type = 'townlake pii scanner' AND a.datname = current_database() LIMIT 1) AS scanner_activity,
           current_setting('townlake.pii_scanner_enabled')::boolean AS scanner_enabled,
           lake.pii_classifier_version() AS classifier_version
    FROM lake.scan_status;
COMMENT ON VIEW lake.scan_progress IS 'PII scanner: one-row summary of coverage, queue and the worker';

REVOKE ALL ON lake.pii_scan_state, lake.pii_columns, lake.pii_findings, lake.scan_status, lake.scan_progress FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lake.scan(regclass) FROM PUBLIC;

COMMENT ON FUNCTION lake.pii_classifier_version() IS 'Version of the PII classifier; findings of another version are rescanned';
COMMENT ON FUNCTION lake.classify(text[], text) IS 'PII infotypes found in the values (and the column name) at or above townlake.pii_threshold; no rows for a clean column';
COMMENT ON FUNCTION lake.classify_details(text[], text, text) IS 'Every candidate PII infotype of the values (given the column name and type), also below the threshold, with the evidence behind its confidence';
