-- townlake: the last block of the extension script (src/lib.rs). It runs
-- after every part's objects exist: what dump and restore need of every
-- part's tables, then the privileges that sweep or name objects of several
-- parts (last, so they cover everything above).

-- ========================================================= schema lake_internal
-- What townlake's own code calls and users should not (docs/architecture-sql.md).
-- Its USAGE is granted so that the few entry points PUBLIC may execute
-- resolve by name inside the public functions and event triggers that run
-- as the caller; it is on nobody's search_path.
COMMENT ON SCHEMA lake_internal IS 'townlake internals, not an API: called by townlake''s own functions, triggers and workers';
GRANT USAGE ON SCHEMA lake_internal TO PUBLIC;

-- ============================================================ dump and restore
-- pg_dump writes the rows of an extension's tables only for tables marked as
-- configuration tables; everything townlake keeps per database is marked, so
-- `pg_dump` / `pg_restore` (or psql with a plain dump) into another database
-- or cluster brings back the governance state, the audit log, the PII
-- scanner's findings and the Iceberg catalog. References to relations and
-- roles are regclass / regrole (written by name), published views name their
-- relation as a regclass constant, and the audit chain hashes the stored
-- record text, so nothing depends on the old database's oids.
--
-- A restore replays DDL before it loads these rows: while it runs
-- (lake_internal._restoring(): a superuser session with a dump script's settings)
-- townlake's DDL reactions stand aside (no Iceberg table is created for a
-- restored foreign table, governance does not re-register what its rows will
-- describe), and the rows CREATE EXTENSION filled in are replaced by the
-- dumped ones.
DO $config_dump$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        -- governance
        'lake.governed_schemas', 'lake.governed_relations', 'lake.governed_columns', 'lake.reviews',
        'lake.access_grants', 'lake.access_requests', 'lake.pii_sessions', 'lake.mask_key',
        'lake.published_position_seq', 'lake.reviews_id_seq', 'lake.access_grants_id_seq',
        'lake.access_requests_id_seq', 'lake.pii_sessions_id_seq',
        -- audit
        'lake.audit_batches', 'lake.audit_chain',
        -- PII scanner
        'lake.pii_scan_state', 'lake.pii_columns', 'lake.pii_findings',
        -- Iceberg catalog (the metadata catalog marks its own tables: sql/catalog/catalog.sql)
        'lake.iceberg_tables', 'lake.iceberg_namespace_properties', 'lake.iceberg_table_owners',
        -- transformations
        'lake.models', 'lake.model_dependencies', 'lake.runs', 'lake.runs_run_id_seq'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t::regclass, '');
    END LOOP;
END
$config_dump$;

-- Single-row tables CREATE EXTENSION fills in (the masking key, the audit
-- chain's head): a restored row replaces the fresh one, so masked hashes
-- stay the same and lake.verify_audit() holds on the restored log.
CREATE FUNCTION lake_internal._gov_restore_replace_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF lake_internal._restoring() THEN
        EXECUTE format('DELETE FROM %I.%I WHERE id OPERATOR(pg_catalog.=) $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
          USING NEW.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER mask_key_restore BEFORE INSERT ON lake.mask_key
    FOR EACH ROW EXECUTE FUNCTION lake_internal._gov_restore_replace_row();
CREATE TRIGGER audit_chain_restore BEFORE INSERT ON lake.audit_chain
    FOR EACH ROW EXECUTE FUNCTION lake_internal._gov_restore_replace_row();

-- A restored database attaches the Iceberg tables of the dump; it does not
-- own their files (the source database may still use them), and the
-- recorded creator's oid belongs to the old database: DROP of a restored
-- foreign table leaves the table's files alone.
CREATE FUNCTION lake_internal._gov_restore_owner_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF lake_internal._restoring() THEN
        NEW.creator_relid := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER iceberg_table_owners_restore BEFORE INSERT ON lake.iceberg_table_owners
    FOR EACH ROW EXECUTE FUNCTION lake_internal._gov_restore_owner_row();

-- ================================================================ privileges
-- Nothing in lake_internal is executable by PUBLIC (townlake's own code, its
-- SECURITY DEFINER functions and its workers call it as the extension owner),
-- except the entry points that must run as their caller and check the
-- caller themselves: the dispatcher behind the public governance functions
-- and event triggers, the event triggers' "is this townlake's own DDL" flag,
-- and the row-security predicate of lake.iceberg_tables.
DO $privileges$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'lake_internal'::regnamespace LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$privileges$;
GRANT EXECUTE ON FUNCTION lake_internal._privileged(text, jsonb), lake_internal._governance_internal(),
    lake_internal._iceberg_row_visible(text, text, text, name) TO PUBLIC;
-- The metadata catalog's search and details run as the caller, on Postgres'
-- own catalogs and privilege checks: their helpers are the caller's too.
GRANT EXECUTE ON FUNCTION lake_internal._catalog_visible(oid, oid), lake_internal._catalog_column_visible(oid, name, oid),
    lake_internal._catalog_kind(oid), lake_internal._catalog_tier(text[]), lake_internal._catalog_schema_listed(name),
    lake_internal._catalog_similarity(text, text),
    lake_internal._catalog_view_edges(), lake_internal._catalog_lineage(oid, text, int),
    lake_internal._catalog_lookup(text), lake_internal._catalog_resolve(text, oid),
    lake_internal._catalog_entity(text, oid) TO PUBLIC;
GRANT EXECUTE ON FUNCTION lake_internal._catalog_relation_edges(), lake_internal._catalog_column_edges(oid, text),
    lake_internal._catalog_column_lineage(oid, text, int), lake_internal._catalog_produced_by(oid),
    lake_internal._catalog_view_columns(oid), lake_internal._catalog_export(text[]),
    lake_internal._catalog_json_to_yaml(jsonb), lake_internal._catalog_yaml_to_json(text),
    lake_internal._catalog_yaml_list(jsonb, text), lake_internal._catalog_yaml_keys(jsonb, text, text[]),
    lake_internal._catalog_view_text(oid) TO PUBLIC;
-- The review queue (lake.pending_reviews) shows the scanner's suggestions
-- to reviewers and auditors; verify_audit recomputes hashes as an auditor.
GRANT EXECUTE ON FUNCTION lake_internal._gov_pii_suggestion(oid, name) TO lake_reviewer, lake_auditor;
GRANT EXECUTE ON FUNCTION lake_internal._gov_chain_hash(text, text), lake_internal._gov_pg_micros(timestamptz) TO lake_auditor;
REVOKE ALL ON FUNCTION lake.audit_pending() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lake.audit_pending() TO lake_auditor;
