-- townlake 0.1.0 -> 0.2.0 (ALTER EXTENSION townlake UPDATE runs it).
--
-- 0.2.0 moves every internal helper into schema lake_internal (off every
-- search_path, not executable by PUBLIC but for three reviewed entry points),
-- makes lake.scan, lake.eval_classifier and lake.eval_classifier_details the
-- C functions their *_by_oid twins were, adds the PII scanner -> governance
-- contract (lake_internal._gov_pii_finding_changed) and comments on the whole
-- public surface. Tables, views and rows are untouched: views, triggers,
-- policies and event triggers refer to the moved functions by oid and follow
-- them. Every SQL or PL/pgSQL function is then defined again from the 0.2.0
-- sources (their bodies name lake_internal), so the result equals a fresh
-- 0.2.0 install (tests/test_upgrade.py compares the two catalogs).
\echo Use "ALTER EXTENSION townlake UPDATE" to load this file. \quit

-- The capture triggers would hand this script's own DDL to governance.
ALTER EVENT TRIGGER townlake_governance_capture DISABLE;
ALTER EVENT TRIGGER townlake_governance_drop DISABLE;

-- The schema pgrx creates first in a fresh install (src/lib.rs); its comment
-- comes with the others below.
CREATE SCHEMA lake_internal;
GRANT USAGE ON SCHEMA lake_internal TO PUBLIC;

-- ============================================================ moves
ALTER FUNCTION lake._check_row_filter(predicate text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_active_grants(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_all_active_grants() SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_append_only() SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_chain_hash(prev text, payload text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_changed() SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_check_foreign_view(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_check_mask_column(mask oid, rel oid, att smallint) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_check_mask(mask oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_column_expression(rel oid, c lake.governed_columns) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_column(rel oid, col name) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_default_mask(rel oid, att smallint) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_forget(rel oid, actor oid, why text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_holds(who oid, target oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_is_reviewer(who oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_is_superuser(r oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_lock_down(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_log(actor oid, action text, rel oid, relation text, col name, detail jsonb, reason text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_mask_fits(coltype oid, argtype oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_mask_from_text(name text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_on_ddl_command_end() SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_on_sql_drop() SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_pg_micros(t timestamp with time zone) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_pii_suggestion(rel oid, col name, OUT sensitivity text, OUT mask text, OUT changed_at timestamp with time zone) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_published_name(g lake.governed_relations) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_publish(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_raw_name(g lake.governed_relations) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_regclass_sql(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_regex_literal(t text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_relation_by_name(rel text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_relation(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_require_reason(reason text, what text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_require_reviewer(who oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_restore_owner_row() SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_restore_replace_row() SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_role_name(r oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_set_table_state(caller oid, args jsonb, new_state text, action text) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_sync_relation(rel oid, actor oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_trino_mask(c lake.governed_columns, col text, hash_key bytea) SET SCHEMA lake_internal;
ALTER FUNCTION lake._gov_unpublish(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake._governance_changed() SET SCHEMA lake_internal;
ALTER FUNCTION lake._governance_internal() SET SCHEMA lake_internal;
ALTER FUNCTION lake._iceberg_row_visible(catalog text, namespace text, "table" text, who name) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_access_decision(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_approve_column(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_approve_table(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_deny_column(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_deny_table(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_disable_pii(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_dropped(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_enable_pii(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_expire_grants(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_explain_access(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_govern_schema(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_grant_access(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_load_cache(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_my_access(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_pii_grants_active(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_policy_json(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_request_access(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_revoke_access(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_set_mask(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_set_row_filter(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_sync(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._op_unpublish(caller oid, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._privileged(op text, args jsonb) SET SCHEMA lake_internal;
ALTER FUNCTION lake._restoring() SET SCHEMA lake_internal;
ALTER FUNCTION lake.iceberg_ddl_trigger() SET SCHEMA lake_internal;
ALTER FUNCTION lake.iceberg_foreign_table_created(relid oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake.pii_columns_signature(rel oid) SET SCHEMA lake_internal;
ALTER FUNCTION lake.pii_relations() SET SCHEMA lake_internal;
ALTER FUNCTION lake.pii_scan_queue() SET SCHEMA lake_internal;

-- The regclass functions of the PII scanner are the C functions themselves
-- now; their oid twins go (the C symbols stay in the library).
CREATE OR REPLACE FUNCTION lake.eval_classifier(labels regclass)
RETURNS TABLE (infotype text, labelled int, predicted int, true_positives int, "precision" real, recall real, f2 real)
LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'eval_classifier_by_oid_wrapper';

CREATE OR REPLACE FUNCTION lake.eval_classifier_details(labels regclass)
RETURNS TABLE (table_name text, column_name text, labelled text[], predicted text[], outcome text)
LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'eval_classifier_details_by_oid_wrapper';

CREATE OR REPLACE FUNCTION lake.scan(rel regclass DEFAULT NULL)
RETURNS TABLE (relation text, columns int, rows_sampled int, pii_columns int, changed_columns int,
               table_pass boolean, duration_ms float8, error text)
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'scan_by_oid_wrapper';

DROP FUNCTION lake.scan_by_oid(oid), lake.eval_classifier_by_oid(oid), lake.eval_classifier_details_by_oid(oid);

-- ============================================== functions, from the 0.2.0 sources
CREATE OR REPLACE FUNCTION lake.create_table_as(name text, query text, partition_by text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    parts text[] := parse_ident(name);
    target_schema text;
    target_table text;
    columns text;
    shape regclass;
    written bigint;
BEGIN
    IF array_length(parts, 1) = 2 THEN
        target_schema := parts[1];
        target_table := parts[2];
    ELSIF array_length(parts, 1) = 1 THEN
        target_schema := current_schema();
        target_table := parts[1];
    ELSE
        RAISE EXCEPTION 'table name "%" must be table or schema.table', name;
    END IF;
    -- The query's result columns, taken from a temporary view of it.
    EXECUTE format('CREATE TEMP VIEW townlake_ctas_shape AS %s', query);
    shape := 'pg_temp.townlake_ctas_shape'::regclass;
    SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', ' ORDER BY attnum)
      INTO columns
      FROM pg_attribute WHERE attrelid = shape AND attnum > 0 AND NOT attisdropped;
    DROP VIEW pg_temp.townlake_ctas_shape;
    EXECUTE format('CREATE FOREIGN TABLE %I.%I (%s) SERVER lake_local OPTIONS (namespace %L, "table" %L%s)',
                   target_schema, target_table, columns, target_schema, target_table,
                   CASE WHEN partition_by IS NULL THEN '' ELSE format(', partition_by %L', partition_by) END);
    EXECUTE format('INSERT INTO %I.%I %s', target_schema, target_table, query);
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$fn$;

CREATE OR REPLACE FUNCTION lake_internal._iceberg_row_visible(catalog text, namespace text, "table" text, who name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT NOT EXISTS (SELECT 1 FROM lake.iceberg_table_owners o
                        WHERE o.catalog_name = catalog AND o.table_namespace = namespace
                          AND o.table_name = "table" AND o.governed)
        OR EXISTS (SELECT 1 FROM pg_roles r
                    WHERE r.rolname IN ('lake_owner', 'lake_governance', 'lake_auditor', 'lake_reviewer')
                      AND pg_has_role(who, r.oid, 'USAGE'))
$$;

CREATE OR REPLACE FUNCTION lake_internal.pii_columns_signature(rel oid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT md5(COALESCE(string_agg(a.attnum || ':' || a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum), ''))
    FROM pg_catalog.pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
$$;

CREATE OR REPLACE FUNCTION lake_internal.pii_relations()
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

CREATE OR REPLACE FUNCTION lake_internal.pii_scan_queue()
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

CREATE OR REPLACE FUNCTION lake.pii_suggestion(rel regclass, col name)
RETURNS TABLE (sensitivity text, mask text, infotypes text[], confidence real, changed_at timestamptz, scanned_at timestamptz)
LANGUAGE sql STABLE STRICT AS $$
    SELECT c.sensitivity, c.mask, c.infotypes, c.confidence, c.changed_at, c.scanned_at
    FROM lake.pii_columns c WHERE c.relation = rel AND c.column_name = col
$$;

CREATE OR REPLACE FUNCTION lake_internal.iceberg_ddl_trigger() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cmd record;
BEGIN
    FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands()
               WHERE command_tag = 'CREATE FOREIGN TABLE' AND object_type = 'foreign table'
    LOOP
        PERFORM lake_internal.iceberg_foreign_table_created(cmd.objid);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'lake.% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM lake_internal._governance_changed();
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_role_name(r oid) RETURNS name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE((SELECT rolname FROM pg_roles WHERE oid = r), r::text::name)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_is_superuser(r oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE((SELECT rolsuper FROM pg_roles WHERE oid = r), false)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_holds(who oid, target oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN who = target THEN true
                WHEN EXISTS (SELECT 1 FROM pg_roles WHERE oid = who)
                 AND EXISTS (SELECT 1 FROM pg_roles WHERE oid = target)
                THEN pg_has_role(who, target, 'USAGE')
                ELSE false END
$$;

-- Separation of duties, kept at every decision (not only when a grant is
-- made): a grant issued by a role the reader acts as, other than a
-- superuser, opens nothing to that reader, whatever memberships were added
-- since (a reviewer granting a group it later joins, or a role it creates).
CREATE FUNCTION lake_internal._gov_self_granted(reader oid, grantor name) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE((SELECT NOT r.rolsuper AND lake_internal._gov_holds(reader, r.oid)
                       FROM pg_roles r WHERE r.rolname = grantor), false)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_is_reviewer(who oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._gov_is_superuser(who) OR lake_internal._gov_holds(who, 'lake_reviewer'::regrole)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_require_reviewer(who oid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT lake_internal._gov_is_reviewer(who) THEN
        RAISE EXCEPTION 'role "%" is not a townlake reviewer', lake_internal._gov_role_name(who)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Reviewers are members of lake_reviewer (GRANT lake_reviewer TO ...), or superusers.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_require_reason(reason text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF reason IS NULL OR btrim(reason) = '' THEN
        RAISE EXCEPTION '% needs a reason', what
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Say why; it is recorded with your name.';
    END IF;
    -- reasons are kept (requests, grants, the review log) and shown to
    -- reviewers: any role may give one, so none may fill the disk
    IF length(reason) > 4000 THEN
        RAISE EXCEPTION 'the reason for % is % characters long; at most 4000 are kept', what, length(reason)
            USING ERRCODE = 'string_data_right_truncation',
                  HINT = 'Say why in a few sentences; link to a longer document if there is one.';
    END IF;
    RETURN reason;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_relation(rel oid) RETURNS lake.governed_relations
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
BEGIN
    SELECT * INTO g FROM lake.governed_relations WHERE relid = rel;
    IF NOT FOUND THEN
        -- a published view names its raw relation
        SELECT gr.* INTO g
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN lake.governed_schemas gs ON gs.published_schema = n.nspname
          JOIN lake.governed_relations gr ON gr.raw_schema = gs.raw_schema AND gr.published_name = c.relname
         WHERE c.oid = rel;
    END IF;
    IF g.relid IS NULL THEN
        RAISE EXCEPTION 'relation % is not governed by townlake', COALESCE(rel::regclass::text, rel::text)
            USING ERRCODE = 'undefined_table',
                  HINT = 'Pass a relation of a governed raw schema (see lake.governed_schemas) or its published view.';
    END IF;
    RETURN g;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_relation_by_name(rel text) RETURNS lake.governed_relations
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    parts text[];
    g lake.governed_relations;
BEGIN
    BEGIN
        parts := parse_ident(rel);
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'invalid relation name %', quote_literal(rel)
            USING ERRCODE = 'invalid_name', HINT = 'Write schema.table, quoting identifiers as in SQL.';
    END;
    IF array_length(parts, 1) = 2 THEN
        SELECT gr.* INTO g FROM lake.governed_relations gr JOIN lake.governed_schemas gs USING (raw_schema)
         WHERE gr.relname = parts[2] AND (gs.published_schema = parts[1] OR gs.raw_schema = parts[1])
         ORDER BY (gs.published_schema = parts[1]) DESC LIMIT 1;
    ELSIF array_length(parts, 1) = 1 THEN
        SELECT gr.* INTO g FROM lake.governed_relations gr WHERE gr.relname = parts[1]
         ORDER BY gr.raw_schema LIMIT 1;
    END IF;
    IF g.relid IS NULL THEN
        RAISE EXCEPTION 'no governed relation is named %', quote_literal(rel)
            USING ERRCODE = 'undefined_table',
                  HINT = 'Use the published name, e.g. ''published_schema.table''.';
    END IF;
    RETURN g;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_published_name(g lake.governed_relations) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('%I.%I', gs.published_schema, g.relname) FROM lake.governed_schemas gs WHERE gs.raw_schema = g.raw_schema
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_raw_name(g lake.governed_relations) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('%I.%I', g.raw_schema, g.relname)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_column(rel oid, col name) RETURNS lake.governed_columns
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c lake.governed_columns;
BEGIN
    SELECT * INTO c FROM lake.governed_columns WHERE relid = rel AND column_name = col;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation % has no column %', rel::regclass, quote_ident(col)
            USING ERRCODE = 'undefined_column';
    END IF;
    RETURN c;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_log(actor oid, action text, rel oid, relation text, col name, detail jsonb, reason text)
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO lake.reviews (actor, action, relid, relation, column_name, detail, reason)
    VALUES (lake_internal._gov_role_name(actor), action, rel, relation, col, COALESCE(detail, '{}'), reason)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_active_grants(rel oid) RETURNS SETOF lake.access_grants
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM lake.access_grants a
     WHERE a.relid = rel AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
       AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = a.grantee)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_pg_micros(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (pg_catalog.date_part('epoch', t) OPERATOR(pg_catalog.*) 1000000)::bigint
           OPERATOR(pg_catalog.-) 946684800000000
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_regclass_sql(rel oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('%L::regclass', format('%I.%I', n.nspname, c.relname))
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_check_mask(mask oid, args jsonb) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p record;
    k text;
    i int;
BEGIN
    SELECT pr.*, n.nspname INTO p FROM pg_proc pr JOIN pg_namespace n ON n.oid = pr.pronamespace WHERE pr.oid = mask;
    IF NOT FOUND OR p.nspname <> 'lake' OR p.proname NOT LIKE 'mask\_%' OR p.prokind <> 'f'
       OR p.proretset OR p.pronargs < 1 THEN
        RAISE EXCEPTION '% is not a townlake mask', COALESCE(mask::regprocedure::text, mask::text)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Masks are functions lake.mask_*(value, ...) such as lake.mask_email(text), lake.mask_partial(text,integer,integer), lake.mask_hash(text), lake.mask_redact(anyelement).';
    END IF;
    IF jsonb_typeof(COALESCE(args, '{}')) <> 'object' THEN
        RAISE EXCEPTION 'mask arguments must be a JSON object, not %', args USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k IN SELECT jsonb_object_keys(COALESCE(args, '{}')) LOOP
        IF p.proargnames IS NULL OR array_position(p.proargnames, k) IS NULL OR array_position(p.proargnames, k) = 1 THEN
            RAISE EXCEPTION 'mask % has no parameter named %', mask::regprocedure, quote_ident(k)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    -- parameters without defaults (after the value) must be given
    FOR i IN 2 .. (p.pronargs - p.pronargdefaults) LOOP
        IF NOT COALESCE(args, '{}') ? p.proargnames[i] THEN
            RAISE EXCEPTION 'mask % needs argument %', mask::regprocedure, quote_ident(p.proargnames[i])
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_mask_fits(coltype oid, argtype oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH base AS (
        SELECT CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END AS oid FROM pg_type t WHERE t.oid = coltype)
    -- The mask must see the column's own value: its type, the domain's base
    -- type, a polymorphic argument, or a binary-coercible type (varchar for
    -- text). A conversion (date to timestamp, int to numeric) would change
    -- what the mask sees and the published column's type.
    SELECT argtype IN ('anyelement'::regtype, 'anycompatible'::regtype)
        OR coltype = argtype
        OR (SELECT oid FROM base) = argtype
        OR EXISTS (SELECT 1 FROM pg_cast c, base
                    WHERE c.castsource IN (coltype, base.oid) AND c.casttarget = argtype
                      AND c.castmethod = 'b' AND c.castcontext = 'i')
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_check_mask_column(mask oid, rel oid, att int2) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    coltype oid;
    argtype oid;
BEGIN
    SELECT atttypid INTO coltype FROM pg_attribute WHERE attrelid = rel AND attnum = att;
    SELECT proargtypes[0] INTO argtype FROM pg_proc WHERE oid = mask;
    IF NOT lake_internal._gov_mask_fits(coltype, argtype) THEN
        RAISE EXCEPTION 'mask % does not take a column of type %', mask::regprocedure, format_type(coltype, NULL)
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'Pick a mask for that type, e.g. lake.mask_redact(anyelement) or lake.mask_hash(text) for text.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_pii_suggestion(rel oid, col name, OUT sensitivity text, OUT mask text,
                                         OUT changed_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s jsonb;
BEGIN
    IF to_regprocedure('lake.pii_suggestion(regclass,name)') IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE 'SELECT to_jsonb(s) FROM lake.pii_suggestion($1::regclass, $2) s LIMIT 1' INTO s USING rel, col;
        sensitivity := s->>'sensitivity';
        mask := s->>'mask';
        changed_at := (s->>'changed_at')::timestamptz;
    EXCEPTION WHEN OTHERS THEN
        sensitivity := NULL;
        mask := NULL;
        changed_at := NULL;
    END;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_pii_finding_changed(rel regclass, col name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    c lake.governed_columns;
    s record;
BEGIN
    SELECT * INTO c FROM lake.governed_columns WHERE relid = rel AND column_name = col;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO g FROM lake.governed_relations WHERE relid = rel;
    SELECT * INTO s FROM lake_internal._gov_pii_suggestion(rel, col);
    INSERT INTO lake.reviews (actor, action, relid, relation, column_name, detail)
    VALUES ('townlake', 'pii_finding_changed', rel, lake_internal._gov_raw_name(g), col,
            jsonb_build_object('suggested_sensitivity', s.sensitivity, 'suggested_mask', s.mask,
                               'state', c.state, 'sensitivity', c.sensitivity,
                               'recheck', c.state = 'approved' AND c.sensitivity IN ('public', 'internal')
                                          AND s.sensitivity IN ('pii', 'restricted')));
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_mask_from_text(name text) RETURNS regprocedure
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m regprocedure;
    candidate text;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RETURN NULL;
    END IF;
    FOREACH candidate IN ARRAY ARRAY[name, 'lake.' || name,
                                     'lake.' || name || '(text)', 'lake.mask_' || name || '(text)',
                                     'lake.' || name || '(anyelement)', 'lake.mask_' || name || '(anyelement)'] LOOP
        BEGIN
            m := to_regprocedure(candidate);
        EXCEPTION WHEN OTHERS THEN
            m := NULL;
        END;
        IF m IS NOT NULL THEN
            BEGIN
                PERFORM lake_internal._gov_check_mask(m, '{}');
                RETURN m;
            EXCEPTION WHEN OTHERS THEN
                NULL;
            END;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_default_mask(rel oid, att int2) RETURNS regprocedure
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    typ oid;
    col name;
    suggested regprocedure;
BEGIN
    SELECT atttypid, attname INTO typ, col FROM pg_attribute WHERE attrelid = rel AND attnum = att;
    suggested := lake_internal._gov_mask_from_text((lake_internal._gov_pii_suggestion(rel, col)).mask);
    IF suggested IS NOT NULL
       AND lake_internal._gov_mask_fits(typ, (SELECT proargtypes[0] FROM pg_proc WHERE oid = suggested)) THEN
        RETURN suggested;
    END IF;
    RETURN CASE
        WHEN typ IN ('inet'::regtype, 'cidr'::regtype) THEN 'lake.mask_ip_prefix(inet)'::regprocedure
        WHEN typ = 'date'::regtype THEN 'lake.mask_year(date)'::regprocedure
        WHEN typ IN ('text'::regtype, 'character varying'::regtype, 'character'::regtype) AND col ~* 'e-?mail'
            THEN 'lake.mask_email(text)'::regprocedure
        ELSE 'lake.mask_redact(anyelement)'::regprocedure
    END;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_column_expression(rel oid, c lake.governed_columns) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    value_sql text := 'r.' || quote_ident(c.column_name);
    coltype oid;
    coltypmod int;
    m oid;
    p record;
    argtype oid;
    out_type text;
    arg_sql text;
    extra text := '';
    k text;
    v jsonb;
    call_sql text;
BEGIN
    IF c.sensitivity IS NULL OR c.sensitivity IN ('public', 'internal') THEN
        RETURN value_sql;
    END IF;
    SELECT atttypid, atttypmod INTO coltype, coltypmod FROM pg_attribute WHERE attrelid = rel AND attnum = c.attnum;
    m := COALESCE(c.mask, lake_internal._gov_default_mask(rel, c.attnum));
    SELECT pr.proname, pr.proargtypes, pr.prorettype, pr.proargnames, n.nspname INTO p
      FROM pg_proc pr JOIN pg_namespace n ON n.oid = pr.pronamespace WHERE pr.oid = m;
    argtype := p.proargtypes[0];
    IF argtype IN ('anyelement'::regtype, 'anycompatible'::regtype) THEN
        arg_sql := value_sql;
    ELSE
        arg_sql := format('(%s)::%s', value_sql, format_type(argtype, NULL));
    END IF;
    IF p.prorettype IN ('anyelement'::regtype, 'anycompatible'::regtype) THEN
        out_type := format_type(coltype, coltypmod);
    ELSE
        out_type := format_type(p.prorettype, NULL);
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(c.mask_args) ORDER BY key LOOP
        extra := extra || format(', %I => %L::%s', k, v #>> '{}',
                                 format_type(p.proargtypes[array_position(p.proargnames, k) - 1], NULL));
    END LOOP;
    IF m = 'lake.mask_hash(text)'::regprocedure THEN
        -- the key comes from a table only the view owner can read
        call_sql := format('lake.mask_hash_keyed(%s, (SELECT k.key FROM lake.mask_key k WHERE k.id = 1))', arg_sql);
    ELSE
        call_sql := format('%I.%I(%s%s)', p.nspname, p.proname, arg_sql, extra);
    END IF;
    IF c.sensitivity = 'restricted' THEN
        RETURN format('(%s)::%s', call_sql, out_type);
    END IF;
    -- The sublink is evaluated once per execution (an InitPlan), so masking
    -- costs no check per row; only while revealing is each row re-checked, so
    -- lake.disable_pii() and the TTL take effect inside an open cursor too.
    -- The relation is a regclass constant: dumps write it by name.
    RETURN format('CASE WHEN (SELECT lake.pii_revealed(%1$s)) AND lake.pii_revealed(%1$s) '
                  'THEN (%2$s)::%3$s ELSE (%4$s)::%3$s END',
                  lake_internal._gov_regclass_sql(rel), value_sql, out_type, call_sql);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_publish(rel oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g record;
    c lake.governed_columns;
    cols text := '';
    body text;
    target text;
    existing oid;
    dependents text;
    strays text;
BEGIN
    SELECT gr.*, gs.published_schema INTO g
      FROM lake.governed_relations gr JOIN lake.governed_schemas gs USING (raw_schema)
     WHERE gr.relid = rel;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF to_regnamespace(quote_ident(g.published_schema)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I AUTHORIZATION lake_governance', g.published_schema);
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO PUBLIC', g.published_schema);
    END IF;
    -- the raw relation was renamed: its view follows
    IF g.published_name IS NOT NULL AND g.published_name <> g.relname
       AND to_regclass(format('%I.%I', g.published_schema, g.published_name)) IS NOT NULL THEN
        EXECUTE format('ALTER VIEW %I.%I RENAME TO %I', g.published_schema, g.published_name, g.relname);
    END IF;
    target := format('%I.%I', g.published_schema, g.relname);
    IF g.state <> 'denied' THEN
        FOR c IN SELECT * FROM lake.governed_columns
                  WHERE relid = rel AND state = 'approved' ORDER BY published_position, attnum LOOP
            cols := cols || CASE WHEN cols = '' THEN '' ELSE E',\n       ' END
                         || lake_internal._gov_column_expression(rel, c) || ' AS ' || quote_ident(c.column_name);
        END LOOP;
    END IF;
    -- The gate is a pseudo-constant qual: as written, Postgres evaluates it
    -- once, in a gating Result, before the scan reads any row. townlake's
    -- planner shim (src/governance/planner.rs) takes it out of the plan and
    -- its executor hook runs the same check once per execution instead.
    -- The relation is a regclass constant, so pg_dump writes it by name and a
    -- restore binds it to the restored relation.
    body := format(E'SELECT %s\n  FROM %I.%I r\n WHERE lake.access_gate(%s)',
                   cols, g.raw_schema, g.relname, lake_internal._gov_regclass_sql(rel));
    IF g.row_filter IS NOT NULL THEN
        body := body || format(E'\n   AND (\n%s\n)', g.row_filter);
    END IF;
    existing := to_regclass(target);
    IF existing IS NOT NULL AND (SELECT relkind FROM pg_class WHERE oid = existing) <> 'v' THEN
        RAISE EXCEPTION 'cannot publish %: a relation with that name exists and is not a view', target
            USING ERRCODE = 'duplicate_table';
    END IF;
    BEGIN
        BEGIN
            EXECUTE format('CREATE OR REPLACE VIEW %s WITH (security_barrier = true) AS %s', target, body);
        EXCEPTION WHEN invalid_table_definition THEN
            -- a column was removed, renamed or retyped: rebuild the view
            SELECT string_agg(DISTINCT w.ev_class::regclass::text, ', ') INTO dependents
              FROM pg_depend dep
              JOIN pg_rewrite w ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = w.oid
             WHERE dep.refclassid = 'pg_class'::regclass AND dep.refobjid = existing AND w.ev_class <> existing;
            EXECUTE format('DROP VIEW %s CASCADE', target);
            IF dependents IS NOT NULL THEN
                RAISE NOTICE 'townlake rebuilt published view %, which dropped the objects depending on it: %',
                    target, dependents;
            END IF;
            EXECUTE format('CREATE VIEW %s WITH (security_barrier = true) AS %s', target, body);
        END;
    EXCEPTION WHEN undefined_function OR datatype_mismatch OR cannot_coerce OR invalid_text_representation THEN
        RAISE EXCEPTION 'cannot publish %: %', target, SQLERRM
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A mask must accept the column''s type; a row filter must be a boolean expression over the relation''s columns.';
    END;
    existing := to_regclass(target);
    -- a row filter may only read the relation itself
    SELECT string_agg(DISTINCT dep.refobjid::regclass::text, ', ') INTO strays
      FROM pg_rewrite w
      JOIN pg_depend dep ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = w.oid
     WHERE w.ev_class = existing AND dep.refclassid = 'pg_class'::regclass
       AND dep.refobjid NOT IN (existing, rel, 'lake.mask_key'::regclass);
    IF strays IS NOT NULL THEN
        RAISE EXCEPTION 'the published view of % may only read that relation, not %', target, strays
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A row filter is an expression over the relation''s own columns.';
    END IF;
    EXECUTE format('ALTER VIEW %s OWNER TO lake_governance', target);
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', target);
    EXECUTE format('GRANT SELECT ON %s TO PUBLIC', target);
    EXECUTE format('COMMENT ON VIEW %s IS %L', target,
                   format('townlake published view of %I.%I (%s); generated, do not edit', g.raw_schema, g.relname, g.state));
    UPDATE lake.governed_relations SET published_name = g.relname, updated_at = now() WHERE relid = rel;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_unpublish(rel oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g record;
    v oid;
BEGIN
    SELECT gr.*, gs.published_schema INTO g
      FROM lake.governed_relations gr JOIN lake.governed_schemas gs USING (raw_schema) WHERE gr.relid = rel;
    IF NOT FOUND OR g.published_name IS NULL THEN
        RETURN;
    END IF;
    v := to_regclass(format('%I.%I', g.published_schema, g.published_name));
    IF v IS NOT NULL AND (SELECT relkind FROM pg_class WHERE oid = v) = 'v' THEN
        EXECUTE format('DROP VIEW %s CASCADE', v::regclass);
    END IF;
    UPDATE lake.governed_relations SET published_name = NULL, updated_at = now() WHERE relid = rel;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_lock_down(rel oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
    kw text;
    grantee oid;
BEGIN
    SELECT cl.relkind, cl.relowner, cl.relrowsecurity, format('%I.%I', n.nspname, cl.relname) AS qname INTO c
      FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = rel;
    kw := CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                         WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END;
    IF c.relkind = 'f' THEN
        -- An Iceberg table a governed foreign table reads is governed from
        -- now on, whoever made it: only governance attaches it, its catalog
        -- row is hidden from PUBLIC, and dropping a foreign table outside
        -- governance no longer purges it.
        INSERT INTO lake.iceberg_table_owners AS o
               (catalog_name, table_namespace, table_name, owner, governed, creator_relid)
        SELECT coalesce((SELECT substr(opt, 14) FROM unnest(s.srvoptions) opt WHERE opt LIKE 'catalog\_name=%'), s.srvname),
               ns.v, tb.v, 'lake_owner'::regrole, true, NULL
          FROM pg_foreign_table ft
          JOIN pg_foreign_server s ON s.oid = ft.ftserver
          JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'iceberg'
          CROSS JOIN LATERAL (SELECT substr(opt, 11) FROM unnest(ft.ftoptions) opt WHERE opt LIKE 'namespace=%') ns(v)
          CROSS JOIN LATERAL (SELECT substr(opt, 7) FROM unnest(ft.ftoptions) opt WHERE opt LIKE 'table=%') tb(v)
         WHERE ft.ftrelid = rel
        ON CONFLICT (catalog_name, table_namespace, table_name) DO UPDATE
           SET governed = true, owner = 'lake_owner'::regrole, attachers = '{}',
               creator_relid = CASE WHEN o.creator_relid = rel THEN o.creator_relid END
         WHERE NOT o.governed;
    END IF;
    IF c.relowner <> 'lake_owner'::regrole THEN
        EXECUTE format('ALTER %s %s OWNER TO lake_owner', kw, c.qname);
    END IF;
    FOR grantee IN
        SELECT DISTINCT a.grantee FROM pg_class cl, aclexplode(cl.relacl) a WHERE cl.oid = rel
        UNION
        SELECT DISTINCT a.grantee FROM pg_attribute att, aclexplode(att.attacl) a WHERE att.attrelid = rel
    LOOP
        CONTINUE WHEN grantee IN ('lake_owner'::regrole, 'lake_governance'::regrole);
        IF grantee = 0 THEN
            EXECUTE format('REVOKE ALL ON %s FROM PUBLIC CASCADE', c.qname);
        ELSE
            EXECUTE format('REVOKE ALL ON %s FROM %I CASCADE', c.qname, lake_internal._gov_role_name(grantee));
        END IF;
    END LOOP;
    EXECUTE format('GRANT SELECT ON %s TO lake_governance', c.qname);
    IF c.relkind IN ('r', 'p') THEN
        IF NOT c.relrowsecurity THEN
            EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', c.qname);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = rel AND polname = 'townlake_published') THEN
            EXECUTE format('CREATE POLICY townlake_published ON %s FOR SELECT TO lake_governance USING (true)', c.qname);
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_forget(rel oid, actor oid, why text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
BEGIN
    SELECT * INTO g FROM lake.governed_relations WHERE relid = rel;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM lake_internal._gov_unpublish(rel);
    UPDATE lake.access_grants SET revoked_at = clock_timestamp(), revoked_by = lake_internal._gov_role_name(actor),
           revoke_reason = why
     WHERE relid = rel AND revoked_at IS NULL;
    DELETE FROM lake.governed_relations WHERE relid = rel;
    PERFORM lake_internal._gov_log(actor, 'forget_table', rel, lake_internal._gov_raw_name(g), NULL, jsonb_build_object('why', why), NULL);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_sync_relation(rel oid, actor oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
    g lake.governed_relations;
    a record;
    gc lake.governed_columns;
    gone record;
    governed_schema boolean;
BEGIN
    SELECT cl.oid, cl.relname, cl.relkind, cl.relispartition, n.nspname INTO c
      FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = rel;
    SELECT * INTO g FROM lake.governed_relations WHERE relid = rel;
    IF c.oid IS NULL THEN
        IF g.relid IS NOT NULL THEN
            PERFORM lake_internal._gov_forget(rel, actor, 'dropped');
        END IF;
        RETURN;
    END IF;
    governed_schema := EXISTS (SELECT 1 FROM lake.governed_schemas WHERE raw_schema = c.nspname);
    IF governed_schema AND c.relispartition AND c.relkind IN ('r', 'p', 'f') THEN
        -- partitions are read through their parent; they are only locked down
        PERFORM lake_internal._gov_lock_down(rel);
        RETURN;
    END IF;
    IF NOT governed_schema OR c.relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        IF g.relid IS NOT NULL THEN
            PERFORM lake_internal._gov_forget(rel, actor, format('moved to schema %I', c.nspname));
        END IF;
        RETURN;
    END IF;
    IF g.relid IS NULL THEN
        INSERT INTO lake.governed_relations (relid, raw_schema, relname, relkind)
        VALUES (rel, c.nspname, c.relname, c.relkind);
        PERFORM lake_internal._gov_log(actor, 'register_table', rel, format('%I.%I', c.nspname, c.relname), NULL, '{}', NULL);
    ELSIF g.relname <> c.relname OR g.raw_schema <> c.nspname THEN
        UPDATE lake.governed_relations SET relname = c.relname, raw_schema = c.nspname, updated_at = now()
         WHERE relid = rel;
        PERFORM lake_internal._gov_log(actor, 'rename_table', rel, format('%I.%I', c.nspname, c.relname), NULL,
                              jsonb_build_object('from', lake_internal._gov_raw_name(g)), NULL);
    END IF;
    PERFORM lake_internal._gov_lock_down(rel);
    -- columns
    FOR a IN SELECT attnum, attname, format_type(atttypid, atttypmod) AS typ
               FROM pg_attribute WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped ORDER BY attnum LOOP
        SELECT * INTO gc FROM lake.governed_columns WHERE relid = rel AND attnum = a.attnum;
        IF NOT FOUND THEN
            INSERT INTO lake.governed_columns (relid, attnum, column_name, column_type)
            VALUES (rel, a.attnum, a.attname, a.typ);
            IF g.relid IS NOT NULL THEN
                PERFORM lake_internal._gov_log(actor, 'register_column', rel, format('%I.%I', c.nspname, c.relname),
                                      a.attname, jsonb_build_object('type', a.typ), NULL);
            END IF;
        ELSE
            IF gc.column_name <> a.attname THEN
                UPDATE lake.governed_columns SET column_name = a.attname, updated_at = now()
                 WHERE relid = rel AND attnum = a.attnum;
                PERFORM lake_internal._gov_log(actor, 'rename_column', rel, format('%I.%I', c.nspname, c.relname),
                                      a.attname, jsonb_build_object('from', gc.column_name), NULL);
            END IF;
            IF gc.column_type <> a.typ THEN
                -- new type, new content: review it again
                UPDATE lake.governed_columns
                   SET column_type = a.typ, updated_at = now(),
                       state = CASE WHEN state = 'approved' THEN 'pending' ELSE state END,
                       published_position = CASE WHEN state = 'approved' THEN NULL ELSE published_position END
                 WHERE relid = rel AND attnum = a.attnum;
                PERFORM lake_internal._gov_log(actor, 'retype_column', rel, format('%I.%I', c.nspname, c.relname),
                                      a.attname, jsonb_build_object('from', gc.column_type, 'to', a.typ), NULL);
            END IF;
        END IF;
    END LOOP;
    FOR gone IN DELETE FROM lake.governed_columns gc2
                 WHERE gc2.relid = rel
                   AND NOT EXISTS (SELECT 1 FROM pg_attribute att WHERE att.attrelid = rel
                                      AND att.attnum = gc2.attnum AND NOT att.attisdropped)
                RETURNING gc2.column_name LOOP
        PERFORM lake_internal._gov_log(actor, 'drop_column', rel, format('%I.%I', c.nspname, c.relname),
                              gone.column_name, '{}', NULL);
    END LOOP;
    PERFORM lake_internal._gov_publish(rel);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_check_foreign_view(rel oid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c record;
    sources text;
BEGIN
    SELECT cl.relkind, n.nspname, format('%I.%I', n.nspname, cl.relname) AS qname INTO c
      FROM pg_class cl JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = rel;
    IF c.relkind IS NULL OR c.relkind NOT IN ('v', 'm')
       OR EXISTS (SELECT 1 FROM lake.governed_schemas WHERE raw_schema = c.nspname OR published_schema = c.nspname) THEN
        RETURN;
    END IF;
    SELECT string_agg(DISTINCT format('%I.%I', gr.raw_schema, gr.relname), ', ') INTO sources
      FROM pg_rewrite w
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
      JOIN lake.governed_relations gr ON gr.relid = d.refobjid
     WHERE w.ev_class = rel AND d.refclassid = 'pg_class'::regclass;
    IF sources IS NOT NULL THEN
        RAISE EXCEPTION 'view % reads governed raw relation(s) %', c.qname, sources
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Read the published views instead, or create the view inside the governed raw schema, where it is reviewed like a table.';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_load_cache(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'relations', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'relid', gr.relid::oid::bigint,
                       'name', format('%I.%I', gr.raw_schema, gr.relname),
                       'view', CASE WHEN gr.published_name IS NOT NULL THEN
                                  to_regclass(format('%I.%I', gs.published_schema, gr.published_name))::oid::bigint END))
              FROM lake.governed_relations gr JOIN lake.governed_schemas gs USING (raw_schema)), '[]'),
        'schemas', COALESCE((
            SELECT jsonb_agg(n.oid::bigint) FROM pg_namespace n
             WHERE n.nspname IN (SELECT raw_schema FROM lake.governed_schemas)), '[]'))
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_govern_schema(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    raw name := args->>'raw_schema';
    pub name := args->>'published_schema';
    existing lake.governed_schemas;
    rel oid;
    n int := 0;
BEGIN
    IF NOT lake_internal._gov_is_superuser(caller) THEN
        RAISE EXCEPTION 'only superusers can put a schema under governance'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF raw IS NULL OR pub IS NULL OR raw = pub THEN
        RAISE EXCEPTION 'govern_schema needs two different schemas: the raw one and the published one'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF raw IN ('lake', 'lake_internal', 'pg_catalog', 'information_schema')
       OR pub IN ('lake', 'lake_internal', 'pg_catalog', 'information_schema')
       OR raw LIKE 'pg\_%' OR pub LIKE 'pg\_%' THEN
        RAISE EXCEPTION 'schema % or % cannot be governed', quote_ident(raw), quote_ident(pub)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regnamespace(quote_ident(raw)) IS NULL THEN
        RAISE EXCEPTION 'schema % does not exist', quote_ident(raw) USING ERRCODE = 'invalid_schema_name';
    END IF;
    IF EXISTS (SELECT 1 FROM lake.governed_schemas WHERE published_schema = raw OR raw_schema = pub) THEN
        RAISE EXCEPTION 'a published schema cannot be a raw schema' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO existing FROM lake.governed_schemas WHERE raw_schema = raw;
    IF FOUND AND existing.published_schema <> pub THEN
        RAISE EXCEPTION 'schema % is already governed, published as %', quote_ident(raw), quote_ident(existing.published_schema)
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM lake.governed_schemas WHERE published_schema = pub) THEN
            RAISE EXCEPTION 'schema % already publishes another raw schema', quote_ident(pub)
                USING ERRCODE = 'duplicate_object';
        END IF;
        INSERT INTO lake.governed_schemas (raw_schema, published_schema, governed_by)
        VALUES (raw, pub, lake_internal._gov_role_name(caller));
    END IF;
    IF to_regnamespace(quote_ident(pub)) IS NULL THEN
        EXECUTE format('CREATE SCHEMA %I AUTHORIZATION lake_governance', pub);
    ELSE
        EXECUTE format('ALTER SCHEMA %I OWNER TO lake_governance', pub);
    END IF;
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', pub);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO PUBLIC', pub);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', raw);
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO lake_owner', raw);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO lake_governance, lake_reviewer, lake_auditor', raw);
    FOR rel IN SELECT c.oid FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                WHERE ns.nspname = raw AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname LOOP
        PERFORM lake_internal._gov_sync_relation(rel, caller);
        n := n + 1;
    END LOOP;
    PERFORM lake_internal._gov_log(caller, 'govern_schema', NULL, quote_ident(raw), NULL,
                          jsonb_build_object('published_schema', pub, 'relations', n), NULL);
    RETURN jsonb_build_object('raw_schema', raw, 'published_schema', pub, 'relations', n);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_sync(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- Only relations the statement being reported created or changed, as
    -- Postgres lists them to the capture event trigger (outside an event
    -- trigger this is an ERROR): any role may call _privileged('sync'), and
    -- republishing a relation takes its published view's ACCESS EXCLUSIVE
    -- lock, which a caller could hold until it ends its transaction.
    reported oid[] := ARRAY(SELECT c.objid FROM pg_event_trigger_ddl_commands() c
                             WHERE c.classid = 'pg_class'::regclass);
    rel oid;
BEGIN
    FOR rel IN SELECT DISTINCT x::oid FROM jsonb_array_elements_text(COALESCE(args->'relids', '[]')) x
                WHERE x::oid = ANY (reported) LOOP
        PERFORM lake_internal._gov_check_foreign_view(rel);
        PERFORM lake_internal._gov_sync_relation(rel, caller);
    END LOOP;
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_dropped(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- Only what the statement being reported dropped, as Postgres lists it
    -- to the sql_drop event trigger (outside one this is an ERROR).
    reported oid[] := ARRAY(SELECT d.objid FROM pg_event_trigger_dropped_objects() d
                             WHERE d.classid = 'pg_class'::regclass);
    rel oid;
BEGIN
    FOR rel IN SELECT DISTINCT x::oid FROM jsonb_array_elements_text(COALESCE(args->'relids', '[]')) x
                WHERE x::oid = ANY (reported) LOOP
        PERFORM lake_internal._gov_sync_relation(rel, caller);
    END LOOP;
    -- a dropped raw schema takes its governance with it
    DELETE FROM lake.governed_schemas gs
     WHERE gs.raw_schema IN (SELECT jsonb_array_elements_text(COALESCE(args->'schemas', '[]')))
       AND to_regnamespace(quote_ident(gs.raw_schema)) IS NULL;
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_unpublish(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel oid := (args->>'relid')::oid;
    owner oid;
BEGIN
    SELECT relowner INTO owner FROM pg_class WHERE oid = rel;
    -- only someone who may run DDL on the raw relation gets here legitimately
    IF owner IS NULL OR NOT (lake_internal._gov_is_superuser(caller) OR lake_internal._gov_holds(caller, owner)) THEN
        RETURN '{}';
    END IF;
    PERFORM lake_internal._gov_unpublish(rel);
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_set_table_state(caller oid, args jsonb, new_state text, action text) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    reason text;
BEGIN
    PERFORM lake_internal._gov_require_reviewer(caller);
    reason := lake_internal._gov_require_reason(args->>'reason', action);
    g := lake_internal._gov_relation((args->>'rel')::oid);
    UPDATE lake.governed_relations SET state = new_state, updated_at = now() WHERE relid = g.relid;
    PERFORM lake_internal._gov_log(caller, action, g.relid, lake_internal._gov_raw_name(g), NULL,
                          jsonb_build_object('from', g.state), reason);
    PERFORM lake_internal._gov_publish(g.relid);
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_approve_table(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._gov_set_table_state(caller, args, 'approved', 'approve_table')
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_deny_table(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._gov_set_table_state(caller, args, 'denied', 'deny_table')
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_approve_column(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    c lake.governed_columns;
    sens text := args->>'sensitivity';
    m oid := (args->>'mask')::oid;
    new_mask oid;
BEGIN
    PERFORM lake_internal._gov_require_reviewer(caller);
    g := lake_internal._gov_relation((args->>'rel')::oid);
    c := lake_internal._gov_column(g.relid, args->>'col');
    IF sens IS NULL OR sens NOT IN ('public', 'internal', 'pii', 'restricted') THEN
        RAISE EXCEPTION 'sensitivity must be public, internal, pii or restricted, not %', COALESCE(quote_literal(sens), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF sens IN ('public', 'internal') THEN
        IF m IS NOT NULL THEN
            RAISE EXCEPTION 'a % column is shown as is; masks apply to pii and restricted columns', sens
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        new_mask := NULL;
    ELSE
        new_mask := COALESCE(m, c.mask, lake_internal._gov_default_mask(g.relid, c.attnum));
        PERFORM lake_internal._gov_check_mask(new_mask, CASE WHEN m IS NULL OR m = c.mask THEN c.mask_args ELSE '{}' END);
        PERFORM lake_internal._gov_check_mask_column(new_mask, g.relid, c.attnum);
    END IF;
    UPDATE lake.governed_columns
       SET state = 'approved', sensitivity = sens, mask = new_mask,
           mask_args = CASE WHEN new_mask IS NULL THEN '{}'
                            WHEN m IS NULL OR m = c.mask THEN mask_args ELSE '{}' END,
           published_position = COALESCE(published_position, nextval('lake.published_position_seq')),
           updated_at = now()
     WHERE relid = g.relid AND attnum = c.attnum;
    PERFORM lake_internal._gov_log(caller, 'approve_column', g.relid, lake_internal._gov_raw_name(g), c.column_name,
                          jsonb_build_object('sensitivity', sens, 'mask', new_mask::regprocedure::text, 'from', c.state),
                          args->>'reason');
    PERFORM lake_internal._gov_publish(g.relid);
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_deny_column(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    c lake.governed_columns;
    reason text;
BEGIN
    PERFORM lake_internal._gov_require_reviewer(caller);
    reason := lake_internal._gov_require_reason(args->>'reason', 'deny_column');
    g := lake_internal._gov_relation((args->>'rel')::oid);
    c := lake_internal._gov_column(g.relid, args->>'col');
    UPDATE lake.governed_columns SET state = 'denied', published_position = NULL, updated_at = now()
     WHERE relid = g.relid AND attnum = c.attnum;
    PERFORM lake_internal._gov_log(caller, 'deny_column', g.relid, lake_internal._gov_raw_name(g), c.column_name,
                          jsonb_build_object('from', c.state), reason);
    PERFORM lake_internal._gov_publish(g.relid);
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_set_mask(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    c lake.governed_columns;
    m oid := (args->>'mask')::oid;
    margs jsonb := COALESCE(args->'args', '{}');
BEGIN
    PERFORM lake_internal._gov_require_reviewer(caller);
    g := lake_internal._gov_relation((args->>'rel')::oid);
    c := lake_internal._gov_column(g.relid, args->>'col');
    IF m IS NULL THEN
        RAISE EXCEPTION 'set_mask needs a mask' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF c.sensitivity IN ('public', 'internal') THEN
        RAISE EXCEPTION 'column % is approved as %; masks apply to pii and restricted columns', quote_ident(c.column_name), c.sensitivity
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Approve it again with sensitivity => ''pii'' (or ''restricted'') and this mask.';
    END IF;
    PERFORM lake_internal._gov_check_mask(m, margs);
    PERFORM lake_internal._gov_check_mask_column(m, g.relid, c.attnum);
    UPDATE lake.governed_columns SET mask = m, mask_args = margs, updated_at = now()
     WHERE relid = g.relid AND attnum = c.attnum;
    PERFORM lake_internal._gov_log(caller, 'set_mask', g.relid, lake_internal._gov_raw_name(g), c.column_name,
                          jsonb_build_object('mask', m::regprocedure::text, 'args', margs,
                                             'from', c.mask::regprocedure::text), NULL);
    PERFORM lake_internal._gov_publish(g.relid);
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_set_row_filter(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    predicate text := NULLIF(btrim(args->>'predicate'), '');
BEGIN
    PERFORM lake_internal._gov_require_reviewer(caller);
    g := lake_internal._gov_relation((args->>'rel')::oid);
    IF predicate IS NOT NULL THEN
        PERFORM lake_internal._check_row_filter_on(g.relid, predicate);
    END IF;
    UPDATE lake.governed_relations SET row_filter = predicate, updated_at = now() WHERE relid = g.relid;
    PERFORM lake_internal._gov_log(caller, 'set_row_filter', g.relid, lake_internal._gov_raw_name(g), NULL,
                          jsonb_build_object('predicate', predicate, 'from', g.row_filter), NULL);
    PERFORM lake_internal._gov_publish(g.relid);
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_grant_access(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    grantee oid := (args->>'grantee')::oid;
    lvl text := COALESCE(args->>'level', 'read');
    expires interval := (args->>'expires_in')::interval;
    reason text;
    new_id bigint;
    published text;
BEGIN
    PERFORM lake_internal._gov_require_reviewer(caller);
    reason := lake_internal._gov_require_reason(args->>'reason', 'grant_access');
    g := lake_internal._gov_relation((args->>'rel')::oid);
    IF lvl NOT IN ('read', 'pii') THEN
        RAISE EXCEPTION 'level must be read or pii, not %', quote_literal(lvl) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF grantee IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles WHERE oid = grantee) THEN
        RAISE EXCEPTION 'grantee role does not exist' USING ERRCODE = 'undefined_object';
    END IF;
    -- Separation of duties: a reviewer never opens data to a role it acts as.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE oid = caller) AND pg_has_role(caller, grantee, 'USAGE') THEN
        RAISE EXCEPTION 'a reviewer cannot grant access to a role it acts as'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Another reviewer grants it: lake.request_access records the request for them.';
    END IF;
    IF expires IS NOT NULL AND expires <= interval '0' THEN
        RAISE EXCEPTION 'expires_in must be positive (or NULL for no expiry), not %', expires
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    published := lake_internal._gov_published_name(g);
    INSERT INTO lake.access_grants (grantee, grantee_name, relid, relation, level, reason, granted_by, expires_at)
    VALUES (grantee, lake_internal._gov_role_name(grantee), g.relid, published, lvl, reason, lake_internal._gov_role_name(caller),
            clock_timestamp() + expires)
    RETURNING id INTO new_id;
    UPDATE lake.access_requests SET status = 'granted', closed_at = clock_timestamp(),
           closed_by = lake_internal._gov_role_name(caller), grant_id = new_id
     WHERE relid = g.relid AND status = 'open' AND requester = lake_internal._gov_role_name(grantee);
    PERFORM lake_internal._gov_log(caller, 'grant_access', g.relid, lake_internal._gov_raw_name(g), NULL,
                          jsonb_build_object('grant_id', new_id, 'grantee', lake_internal._gov_role_name(grantee),
                                             'level', lvl, 'expires_in', expires::text), reason);
    IF g.state <> 'approved' THEN
        RAISE NOTICE 'relation % is %; the grant takes effect once a reviewer approves it', published, g.state;
    END IF;
    RETURN jsonb_build_object('id', new_id);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_revoke_access(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    gr lake.access_grants;
BEGIN
    PERFORM lake_internal._gov_require_reviewer(caller);
    SELECT * INTO gr FROM lake.access_grants WHERE id = (args->>'grant_id')::bigint;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no access grant %', args->>'grant_id' USING ERRCODE = 'undefined_object';
    END IF;
    IF gr.revoked_at IS NULL THEN
        UPDATE lake.access_grants SET revoked_at = clock_timestamp(), revoked_by = lake_internal._gov_role_name(caller),
               revoke_reason = args->>'reason'
         WHERE id = gr.id;
        PERFORM lake_internal._gov_log(caller, 'revoke_access', gr.relid,
                              COALESCE((SELECT lake_internal._gov_raw_name(g) FROM lake.governed_relations g WHERE g.relid = gr.relid),
                                       gr.relation), NULL,
                              jsonb_build_object('grant_id', gr.id, 'grantee', gr.grantee_name, 'level', gr.level),
                              args->>'reason');
    END IF;
    RETURN '{}';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_expire_grants(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    gr record;
    n int := 0;
BEGIN
    IF NOT lake_internal._gov_is_superuser(caller) THEN
        RAISE EXCEPTION 'only townlake''s worker expires grants' USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR gr IN UPDATE lake.access_grants SET revoked_at = expires_at, revoked_by = 'townlake',
                     revoke_reason = 'expired'
               WHERE revoked_at IS NULL AND expires_at <= clock_timestamp()
              RETURNING id, relid, relation, grantee_name, level LOOP
        INSERT INTO lake.reviews (actor, action, relid, relation, detail)
        VALUES ('townlake', 'grant_expired', gr.relid, gr.relation,
                jsonb_build_object('grant_id', gr.id, 'grantee', gr.grantee_name, 'level', gr.level));
        n := n + 1;
    END LOOP;
    RETURN jsonb_build_object('expired', n);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_access_decision(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel oid := (args->>'rel')::oid;
    g lake.governed_relations;
    published text;
    holders text;
    holders_json jsonb;
    holders_forever boolean;
    holders_until timestamptz;
    expired timestamptz;
    code text;
    msg text;
    request text;
BEGIN
    SELECT * INTO g FROM lake.governed_relations WHERE relid = rel;
    -- the common case first: an approved relation and a grant in force;
    -- valid_until_us tells the backend how long it may cache the answer
    IF g.state = 'approved' THEN
        IF lake_internal._gov_is_superuser(caller) THEN
            RETURN jsonb_build_object('allowed', true, 'state', 'approved');
        END IF;
        SELECT bool_or(a.expires_at IS NULL), max(a.expires_at) INTO holders_forever, holders_until
          FROM lake.access_grants a
         WHERE a.relid = rel AND a.revoked_at IS NULL
           AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
           AND lake_internal._gov_holds(caller, a.grantee)
           AND NOT lake_internal._gov_self_granted(caller, a.granted_by);
        IF holders_forever THEN
            RETURN jsonb_build_object('allowed', true, 'state', 'approved');
        ELSIF holders_until IS NOT NULL THEN
            RETURN jsonb_build_object('allowed', true, 'state', 'approved',
                                      'valid_until_us', lake_internal._gov_pg_micros(holders_until));
        END IF;
    END IF;
    IF NOT FOUND THEN
        RETURN jsonb_build_object('allowed', false, 'state', 'ungoverned',
            'message', format('relation with oid %s is no longer governed by townlake', rel),
            'hint', 'Its published view is stale; a reviewer can check lake.governed_relations.');
    END IF;
    published := lake_internal._gov_published_name(g);
    SELECT string_agg(format('%s (%s%s)', quote_ident(a.grantee_name), a.level,
                             CASE WHEN a.expires_at IS NULL THEN ''
                                  ELSE ' until ' || to_char(a.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') END),
                      ', ' ORDER BY a.grantee_name),
           jsonb_agg(jsonb_build_object('role', a.grantee_name, 'level', a.level, 'expires_at', a.expires_at)
                     ORDER BY a.grantee_name)
      INTO holders, holders_json
      FROM lake_internal._gov_active_grants(rel) a;
    IF g.state = 'approved' THEN
        SELECT max(a.expires_at) INTO expired FROM lake.access_grants a
         WHERE a.relid = rel AND a.expires_at <= clock_timestamp() AND lake_internal._gov_holds(caller, a.grantee);
        IF expired IS NOT NULL THEN
            code := 'expired';
            msg := format('your access grant for %s expired at %s', published,
                          to_char(expired AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
        ELSE
            code := 'not_granted';
            msg := format('you have no access grant for %s', published);
        END IF;
    ELSIF g.state = 'pending' THEN
        code := 'pending';
        msg := format('%s is pending review: nobody can read it until a reviewer approves it', published);
    ELSE
        code := 'denied';
        msg := format('%s was denied by a reviewer', published);
    END IF;
    request := format('SELECT lake.request_access(%L, %L);', published, 'why you need it');
    RETURN jsonb_build_object(
        'allowed', false,
        'state', g.state,
        'reason', code,
        'relation', published,
        'roles_with_access', COALESCE(holders_json, '[]'),
        'message', msg,
        'detail', format('State: %s. Roles with access: %s.', g.state, COALESCE(holders, 'none')),
        'hint', format('Request access with %s Reviewers (members of lake_reviewer) see requests in lake.access_requests.', request),
        'request_with', request);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_explain_access(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    d jsonb;
BEGIN
    g := lake_internal._gov_relation_by_name(args->>'rel');
    d := lake_internal._op_access_decision(caller, jsonb_build_object('rel', g.relid::oid));
    RETURN d || jsonb_build_object(
        'relation', lake_internal._gov_published_name(g),
        'raw_relation', lake_internal._gov_raw_name(g),
        'role', lake_internal._gov_role_name(caller),
        'your_grants', COALESCE((
            SELECT jsonb_agg(jsonb_build_object('grant_id', a.id, 'level', a.level, 'expires_at', a.expires_at)
                             ORDER BY a.id)
              FROM lake_internal._gov_active_grants(g.relid) a WHERE lake_internal._gov_holds(caller, a.grantee)), '[]'),
        'roles_with_access', COALESCE((
            SELECT jsonb_agg(jsonb_build_object('role', a.grantee_name, 'level', a.level, 'expires_at', a.expires_at)
                             ORDER BY a.grantee_name)
              FROM lake_internal._gov_active_grants(g.relid) a), '[]'),
        'columns', jsonb_build_object(
            'approved', COALESCE((SELECT jsonb_agg(jsonb_build_object('name', c.column_name, 'sensitivity', c.sensitivity,
                                                                      'masked', c.sensitivity IN ('pii', 'restricted'))
                                                   ORDER BY c.published_position)
                                    FROM lake.governed_columns c WHERE c.relid = g.relid AND c.state = 'approved'), '[]'),
            'pending', (SELECT count(*) FROM lake.governed_columns c WHERE c.relid = g.relid AND c.state = 'pending'),
            'denied', (SELECT count(*) FROM lake.governed_columns c WHERE c.relid = g.relid AND c.state = 'denied')),
        'row_filter', g.row_filter IS NOT NULL,
        'request_with', format('SELECT lake.request_access(%L, %L);', lake_internal._gov_published_name(g), 'why you need it'));
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_request_access(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    g lake.governed_relations;
    why text;
    new_id bigint;
BEGIN
    why := lake_internal._gov_require_reason(args->>'reason', 'request_access');
    g := lake_internal._gov_relation_by_name(args->>'rel');
    -- one open request per role and relation: asking again restates it
    -- (any role may ask, so asking in a loop must not grow the queue)
    UPDATE lake.access_requests SET reason = why, requested_at = clock_timestamp()
     WHERE id = (SELECT r.id FROM lake.access_requests r
                  WHERE r.relid = g.relid AND r.status = 'open' AND r.requester = lake_internal._gov_role_name(caller)
                  ORDER BY r.id LIMIT 1)
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        INSERT INTO lake.access_requests (requester, relid, relation, reason)
        VALUES (lake_internal._gov_role_name(caller), g.relid, lake_internal._gov_published_name(g), why)
        RETURNING id INTO new_id;
    END IF;
    RETURN jsonb_build_object('id', new_id);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_my_access(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'grant_id', a.id, 'relation', a.relation, 'level', a.level, 'granted_to', a.grantee_name,
               'granted_at', a.granted_at, 'expires_at', a.expires_at, 'reason', a.reason, 'granted_by', a.granted_by)
             ORDER BY a.id), '[]')
      FROM lake.access_grants a
     WHERE a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
       AND lake_internal._gov_holds(caller, a.grantee)
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_enable_pii(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reason text;
    ttl interval;
    since timestamptz := clock_timestamp();
    until timestamptz;
    covered jsonb;
    new_id bigint;
BEGIN
    reason := lake_internal._gov_require_reason(args->>'reason', 'enable_pii');
    BEGIN
        ttl := (args->>'ttl')::interval;
    EXCEPTION WHEN OTHERS THEN
        ttl := NULL;
    END;
    IF ttl IS NULL OR ttl <= interval '0' THEN
        RAISE EXCEPTION 'ttl must be a positive interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    until := since + ttl;
    SELECT jsonb_agg(jsonb_build_object('relid', x.relid::oid::bigint, 'relation', x.relation, 'grant_id', x.id,
                                        'expires_us', lake_internal._gov_pg_micros(x.expires_at)) ORDER BY x.relation)
      INTO covered
      FROM (SELECT DISTINCT ON (a.relid) a.*
              FROM lake.access_grants a JOIN lake.governed_relations gr ON gr.relid = a.relid
             WHERE a.level = 'pii' AND a.revoked_at IS NULL
               AND (a.expires_at IS NULL OR a.expires_at > since)
               AND lake_internal._gov_holds(caller, a.grantee)
               AND NOT lake_internal._gov_self_granted(caller, a.granted_by)
             ORDER BY a.relid, a.expires_at DESC NULLS FIRST) x;
    IF covered IS NULL THEN
        RAISE EXCEPTION 'role "%" holds no unexpired pii grant', lake_internal._gov_role_name(caller)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Ask for one: SELECT lake.request_access(''schema.table'', ''why you need PII''); a reviewer grants it with level => ''pii''.';
    END IF;
    INSERT INTO lake.pii_sessions (role, backend_pid, action, reason, until, relations, grant_ids)
    VALUES (lake_internal._gov_role_name(caller), (args->>'pid')::int, 'enable', reason, until,
            ARRAY(SELECT e->>'relation' FROM jsonb_array_elements(covered) e),
            ARRAY(SELECT (e->>'grant_id')::bigint FROM jsonb_array_elements(covered) e))
    RETURNING id INTO new_id;
    RETURN jsonb_build_object('session_id', new_id, 'role', lake_internal._gov_role_name(caller),
                              'since_us', lake_internal._gov_pg_micros(since), 'until_us', lake_internal._gov_pg_micros(until),
                              'relations', covered);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_disable_pii(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO lake.pii_sessions (role, backend_pid, action, enable_id)
    VALUES (lake_internal._gov_role_name(caller), pg_backend_pid(), 'disable', (args->>'session_id')::bigint);
    SELECT '{}'::jsonb;
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_pii_grants_active(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE(jsonb_agg(a.id), '[]')
      FROM lake.access_grants a
      JOIN lake.governed_relations gr ON gr.relid = a.relid AND gr.state = 'approved'
     WHERE a.id IN (SELECT x::bigint FROM jsonb_array_elements_text(COALESCE(args->'ids', '[]')) x)
       AND a.level = 'pii' AND a.revoked_at IS NULL
       AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
       AND lake_internal._gov_holds(caller, a.grantee)
       AND NOT lake_internal._gov_self_granted(caller, a.granted_by)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_regex_literal(t text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT '^' || regexp_replace(t, '([.^$*+?()\[\]{}|\\])', '\\\1', 'g') || '$'
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_all_active_grants() RETURNS SETOF lake.access_grants
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM lake.access_grants a
     WHERE a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
       AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = a.grantee)
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_trino_mask(c lake.governed_columns, col text, hash_key bytea) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m regprocedure := COALESCE(c.mask, lake_internal._gov_default_mask(c.relid, c.attnum));
    keep_first int := GREATEST(COALESCE((c.mask_args->>'keep_first')::int, 1), 0);
    keep_last int := GREATEST(COALESCE((c.mask_args->>'keep_last')::int, 1), 0);
BEGIN
    IF m = 'lake.mask_email(text)'::regprocedure THEN
        RETURN format('CASE WHEN strpos(%1$s, ''@'') > 1 THEN substr(%1$s, 1, 1) || ''***'' || substr(%1$s, strpos(%1$s, ''@'')) ELSE ''***'' END', col);
    ELSIF m = 'lake.mask_partial(text,integer,integer)'::regprocedure THEN
        RETURN format('CASE WHEN length(%1$s) <= %2$s THEN rpad('''', length(%1$s), ''*'') '
                      'ELSE substr(%1$s, 1, %3$s) || rpad('''', length(%1$s) - %2$s, ''*'') || substr(%1$s, length(%1$s) - %4$s + 1, %4$s) END',
                      col, keep_first + keep_last, keep_first, keep_last);
    ELSIF m = 'lake.mask_hash(text)'::regprocedure THEN
        IF hash_key IS NULL THEN
            RETURN 'CAST(NULL AS varchar)';
        END IF;
        RETURN format('lower(to_hex(hmac_sha256(to_utf8(CAST(%s AS varchar)), from_hex(''%s''))))', col, encode(hash_key, 'hex'));
    ELSIF m = 'lake.mask_year(date)'::regprocedure THEN
        RETURN format('date_trunc(''year'', %s)', col);
    ELSIF c.column_type ~ '^(text|character|name)' THEN
        RETURN '''[redacted]''';
    END IF;
    RETURN 'NULL';
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._op_policy_json(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    catalog_re text := lake_internal._gov_regex_literal(COALESCE(args->>'catalog', 'iceberg'));
    key bytea;
    rules jsonb := '[]';
    r record;
    c lake.governed_columns;
    cols jsonb;
    rule jsonb;
BEGIN
    IF NOT (lake_internal._gov_is_reviewer(caller) OR lake_internal._gov_holds(caller, 'lake_auditor'::regrole)) THEN
        RAISE EXCEPTION 'only reviewers, auditors and superusers can export the policy'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF COALESCE((args->>'include_hash_key')::boolean, false) THEN
        IF NOT lake_internal._gov_is_superuser(caller) THEN
            RAISE EXCEPTION 'only superusers can export the hashing key' USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT k.key INTO key FROM lake.mask_key k WHERE k.id = 1;
    END IF;
    FOR r IN
        SELECT gr.relid, gr.row_filter, a.grantee_name, a.level,
               COALESCE((SELECT rolcanlogin FROM pg_roles WHERE oid = a.grantee), true) AS is_user,
               COALESCE((SELECT o.option_value FROM pg_foreign_table ft, pg_options_to_table(ft.ftoptions) o
                          WHERE ft.ftrelid = gr.relid AND o.option_name = 'namespace'), gr.raw_schema) AS trino_schema,
               COALESCE((SELECT o.option_value FROM pg_foreign_table ft, pg_options_to_table(ft.ftoptions) o
                          WHERE ft.ftrelid = gr.relid AND o.option_name = 'table'), gr.relname) AS trino_table
          FROM lake.governed_relations gr
          JOIN lake_internal._gov_all_active_grants() a ON a.relid = gr.relid
         WHERE gr.state = 'approved'
         ORDER BY gr.raw_schema, gr.relname, a.grantee_name, a.level DESC
    LOOP
        cols := '[]';
        FOR c IN SELECT * FROM lake.governed_columns WHERE relid = r.relid ORDER BY attnum LOOP
            IF c.state <> 'approved' THEN
                cols := cols || jsonb_build_object('name', c.column_name, 'allow', false);
            ELSIF c.sensitivity = 'restricted' OR (c.sensitivity = 'pii' AND r.level <> 'pii') THEN
                cols := cols || jsonb_build_object('name', c.column_name,
                    'mask', lake_internal._gov_trino_mask(c, '"' || replace(c.column_name, '"', '""') || '"', key));
            END IF;
        END LOOP;
        rule := jsonb_build_object(CASE WHEN r.is_user THEN 'user' ELSE 'group' END, lake_internal._gov_regex_literal(r.grantee_name),
                                   'catalog', catalog_re,
                                   'schema', lake_internal._gov_regex_literal(r.trino_schema),
                                   'table', lake_internal._gov_regex_literal(r.trino_table),
                                   'privileges', jsonb_build_array('SELECT'));
        IF jsonb_array_length(cols) > 0 THEN
            rule := rule || jsonb_build_object('columns', cols);
        END IF;
        IF r.row_filter IS NOT NULL THEN
            rule := rule || jsonb_build_object('filter', r.row_filter);
        END IF;
        rules := rules || rule;
    END LOOP;
    -- everything else in governed schemas is closed
    FOR r IN SELECT DISTINCT COALESCE((SELECT o.option_value FROM pg_foreign_table ft, pg_options_to_table(ft.ftoptions) o
                                        WHERE ft.ftrelid = gr.relid AND o.option_name = 'namespace'), gr.raw_schema) AS trino_schema
               FROM lake.governed_relations gr ORDER BY 1 LOOP
        rules := rules || jsonb_build_object('catalog', catalog_re, 'schema', lake_internal._gov_regex_literal(r.trino_schema),
                                             'privileges', '[]'::jsonb);
    END LOOP;
    RETURN jsonb_build_object('tables', rules);
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_on_ddl_command_end() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    relids jsonb;
BEGIN
    IF lake_internal._governance_internal()
       OR (NOT current_setting('check_function_bodies')::boolean AND NOT current_setting('row_security')::boolean
           AND COALESCE((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user), false)) THEN
        RETURN;
    END IF;
    SELECT jsonb_agg(DISTINCT objid::bigint) INTO relids
      FROM pg_event_trigger_ddl_commands()
     WHERE classid = 'pg_class'::regclass AND objid <> 0;
    IF relids IS NOT NULL THEN
        PERFORM lake_internal._privileged('sync', jsonb_build_object('relids', relids));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    relids jsonb;
    schemas jsonb;
BEGIN
    IF lake_internal._governance_internal()
       OR (NOT current_setting('check_function_bodies')::boolean AND NOT current_setting('row_security')::boolean
           AND COALESCE((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user), false)) THEN
        RETURN;
    END IF;
    SELECT jsonb_agg(DISTINCT objid::bigint) FILTER (WHERE classid = 'pg_class'::regclass),
           jsonb_agg(DISTINCT object_name) FILTER (WHERE object_type = 'schema')
      INTO relids, schemas
      FROM pg_event_trigger_dropped_objects();
    IF relids IS NOT NULL OR schemas IS NOT NULL THEN
        PERFORM lake_internal._privileged('dropped', jsonb_build_object('relids', COALESCE(relids, '[]'),
                                                               'schemas', COALESCE(schemas, '[]')));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION lake.govern_schema(raw_schema name, published_schema name) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._privileged('govern_schema', jsonb_build_object('raw_schema', raw_schema, 'published_schema', published_schema))
$$;

CREATE OR REPLACE FUNCTION lake.approve_table(rel regclass, reason text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('approve_table', jsonb_build_object('rel', rel::oid, 'reason', reason))
$$;

CREATE OR REPLACE FUNCTION lake.approve_column(rel regclass, col name, sensitivity text, mask regprocedure DEFAULT NULL, reason text DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('approve_column', jsonb_build_object(
        'rel', rel::oid, 'col', col, 'sensitivity', sensitivity, 'mask', mask::oid, 'reason', reason))
$$;

CREATE OR REPLACE FUNCTION lake.deny_column(rel regclass, col name, reason text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('deny_column', jsonb_build_object('rel', rel::oid, 'col', col, 'reason', reason))
$$;

CREATE OR REPLACE FUNCTION lake.deny_table(rel regclass, reason text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('deny_table', jsonb_build_object('rel', rel::oid, 'reason', reason))
$$;

CREATE OR REPLACE FUNCTION lake.set_mask(rel regclass, col name, mask regprocedure, args jsonb DEFAULT '{}') RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('set_mask', jsonb_build_object('rel', rel::oid, 'col', col, 'mask', mask::oid, 'args', args))
$$;

CREATE OR REPLACE FUNCTION lake.set_row_filter(rel regclass, predicate text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('set_row_filter', jsonb_build_object('rel', rel::oid, 'predicate', predicate))
$$;

CREATE OR REPLACE FUNCTION lake.grant_access(grantee regrole, rel regclass, expires_in interval, reason text, level text DEFAULT 'read')
RETURNS bigint LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (lake_internal._privileged('grant_access', jsonb_build_object(
        'grantee', grantee::oid, 'rel', rel::oid, 'expires_in', expires_in::text, 'reason', reason, 'level', level))->>'id')::bigint
$$;

CREATE OR REPLACE FUNCTION lake.revoke_access(grant_id bigint) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('revoke_access', jsonb_build_object('grant_id', grant_id))
$$;

CREATE OR REPLACE FUNCTION lake.my_access()
RETURNS TABLE (grant_id bigint, relation text, level text, granted_to name, granted_at timestamptz,
               expires_at timestamptz, reason text, granted_by name)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM jsonb_to_recordset(lake_internal._privileged('my_access', '{}'))
        AS x(grant_id bigint, relation text, level text, granted_to name, granted_at timestamptz,
             expires_at timestamptz, reason text, granted_by name)
$$;

CREATE OR REPLACE FUNCTION lake.request_access(rel text, reason text) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (lake_internal._privileged('request_access', jsonb_build_object('rel', rel, 'reason', reason))->>'id')::bigint
$$;

CREATE OR REPLACE FUNCTION lake.explain_access(rel text) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._privileged('explain_access', jsonb_build_object('rel', rel))
$$;

CREATE OR REPLACE FUNCTION lake.policy_json(catalog text DEFAULT 'iceberg', include_hash_key boolean DEFAULT false) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._privileged('policy_json', jsonb_build_object('catalog', catalog, 'include_hash_key', include_hash_key))
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_chain_hash(prev text, payload text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(prev OPERATOR(pg_catalog.||) payload, 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION lake.verify_audit() RETURNS boolean
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

CREATE OR REPLACE FUNCTION lake_internal._gov_restore_replace_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF lake_internal._restoring() THEN
        EXECUTE format('DELETE FROM %I.%I WHERE id OPERATOR(pg_catalog.=) $1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
          USING NEW.id;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION lake_internal._gov_restore_owner_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF lake_internal._restoring() THEN
        NEW.creator_relid := NULL;
    END IF;
    RETURN NEW;
END
$$;

-- ============================================================ comments
COMMENT ON FUNCTION lake.allow_attach(regclass, regrole, boolean) IS 'Let another role attach the Iceberg table behind a foreign table you own (allow => false takes it back)';
COMMENT ON FUNCTION lake.eval_classifier(regclass) IS 'Precision, recall and F2 of the PII classifier per infotype (and any_pii) against a table of labels (table_name, column_name, infotype)';
COMMENT ON FUNCTION lake.eval_classifier_details(regclass) IS 'Per labelled column: labelled and predicted infotypes and whether they agree';
COMMENT ON FOREIGN DATA WRAPPER iceberg IS 'Apache Iceberg tables on local disk or S3-compatible storage';
COMMENT ON FUNCTION lake.iceberg_fdw_handler() IS 'Handler of the iceberg foreign-data wrapper (not called directly)';
COMMENT ON FUNCTION lake.iceberg_fdw_validator(text[], oid) IS 'Validator of the iceberg wrapper''s server, user mapping and table options (not called directly)';
COMMENT ON FUNCTION lake.scan(regclass) IS 'Scan one relation for PII now, or (NULL) every queued relation; returns a summary per relation';
COMMENT ON FUNCTION lake.set_partitioning(regclass, text) IS 'Evolve an Iceberg table''s partition spec (old files keep theirs)';
COMMENT ON FUNCTION lake.create_table_as(text, text, text) IS 'Create an Iceberg table on lake_local from a query and fill it';
COMMENT ON FUNCTION lake.expire_snapshots(regclass, timestamptz, integer) IS 'Remove snapshots older than older_than, keeping the newest retain_last and every referenced one (metadata only); table owner or lake_maintainer';
COMMENT ON FUNCTION lake.remove_orphan_files(regclass, timestamptz, boolean) IS 'Delete files under the table''s location that no metadata references and that are older than older_than (dry_run only lists them); table owner or lake_maintainer';
COMMENT ON FUNCTION lake.compact(regclass, integer) IS 'Rewrite small data files into files of about target_file_size_mb per partition, applying deletes; one replace snapshot; table owner or lake_maintainer';
COMMENT ON FUNCTION lake.snapshots(regclass) IS 'Snapshots of an Iceberg foreign table, oldest first';
COMMENT ON TABLE lake.iceberg_tables IS 'Iceberg tables of every townlake catalog (JDBC catalog layout)';
COMMENT ON TABLE lake.iceberg_namespace_properties IS 'Iceberg namespaces and their properties (JDBC catalog layout)';
COMMENT ON TABLE lake.iceberg_table_owners IS 'Owner role of each Iceberg table townlake created, whether it is governed, and who else may attach it';
COMMENT ON TABLE lake.pii_scan_state IS 'PII scanner: when each relation was scanned, in which shape, and with which outcome';
COMMENT ON TABLE lake.pii_columns IS 'PII scanner: one row per scanned column with its infotypes (sorted), the suggested sensitivity and mask, and when its finding last changed';
COMMENT ON COLUMN lake.pii_columns.changed_at IS 'When the set of infotypes last changed (NULL: never had a finding); a reviewed column whose finding changed after its review should go back to pending';
COMMENT ON TABLE lake.pii_findings IS 'PII scanner: infotypes found per column at or above townlake.pii_threshold (counts and confidence, never values)';
COMMENT ON FUNCTION lake.pii_suggestion(regclass, name) IS 'PII scanner suggestion for a column: sensitivity, mask, infotypes, confidence, when the finding last changed';
COMMENT ON VIEW lake.scan_status IS 'PII scanner: every covered relation, whether it is scanned or queued (and why), and its last scan';
COMMENT ON VIEW lake.scan_progress IS 'PII scanner: one-row summary of coverage, queue and the worker';
COMMENT ON FUNCTION lake.pii_classifier_version() IS 'Version of the PII classifier; findings of another version are rescanned';
COMMENT ON FUNCTION lake.classify(text[], text) IS 'PII infotypes found in the values (and the column name) at or above townlake.pii_threshold; no rows for a clean column';
COMMENT ON FUNCTION lake.classify_details(text[], text, text) IS 'Every candidate PII infotype of the values (given the column name and type), also below the threshold, with the evidence behind its confidence';
COMMENT ON TABLE lake.governed_schemas IS 'Raw schemas under governance and the schema their published views go to';
COMMENT ON TABLE lake.governed_relations IS 'Review state of every governed raw relation';
COMMENT ON TABLE lake.governed_columns IS 'Review state, sensitivity and mask of every column of a governed relation';
COMMENT ON TABLE lake.reviews IS 'Append-only log of review actions, grants and captured schema changes';
COMMENT ON TABLE lake.access_grants IS 'Time-limited access grants (read or pii) on governed relations';
COMMENT ON TABLE lake.access_requests IS 'Access requests made with lake.request_access';
COMMENT ON TABLE lake.pii_sessions IS 'Every lake.enable_pii / lake.disable_pii flip';
COMMENT ON FUNCTION lake.mask_redact(anyelement) IS 'Mask: ''[redacted]'' for text types, NULL for any other type';
COMMENT ON FUNCTION lake.mask_ip_prefix(inet) IS 'Mask: the /24 (IPv4) or /48 (IPv6) network of an address';
COMMENT ON FUNCTION lake.mask_year(date) IS 'Mask: January 1st of the same year';
COMMENT ON FUNCTION lake.mask_email(text) IS 'Mask: j***@example.com';
COMMENT ON FUNCTION lake.mask_partial(text, integer, integer) IS 'Mask: keep the first keep_first and last keep_last characters';
COMMENT ON FUNCTION lake.mask_hash(text) IS 'Mask: keyed HMAC-SHA256 (hex); the key is readable by superusers only';
COMMENT ON FUNCTION lake.mask_hash_keyed(text, bytea) IS 'Hex HMAC-SHA256 of a value under a key; published views pass the key of lake.mask_key (what lake.mask_hash becomes in a view)';
COMMENT ON TABLE lake.mask_key IS 'The key of lake.mask_hash; readable only by lake_governance, the owner of the published views';
COMMENT ON FUNCTION lake.govern_schema(name, name) IS 'Put a raw schema under governance; its relations become pending and are published into published_schema';
COMMENT ON FUNCTION lake.approve_table(regclass, text) IS 'Reviewer: approve a governed relation (its approved columns become readable to grantees)';
COMMENT ON FUNCTION lake.approve_column(regclass, name, text, regprocedure, text) IS 'Reviewer: approve a column as public, internal, pii or restricted (pii and restricted are masked)';
COMMENT ON FUNCTION lake.deny_column(regclass, name, text) IS 'Reviewer: deny a column (it disappears from the published view)';
COMMENT ON FUNCTION lake.deny_table(regclass, text) IS 'Reviewer: deny a relation (reading its published view says so)';
COMMENT ON FUNCTION lake.set_mask(regclass, name, regprocedure, jsonb) IS 'Reviewer: mask a pii or restricted column with lake.mask_*(value, ...) and named arguments';
COMMENT ON FUNCTION lake.set_row_filter(regclass, text) IS 'Reviewer: rows of the published view must satisfy this expression (NULL removes it)';
COMMENT ON FUNCTION lake.grant_access(regrole, regclass, interval, text, text) IS 'Reviewer: grant read or pii access to a role for a time (NULL: no expiry); returns the grant id';
COMMENT ON FUNCTION lake.revoke_access(bigint) IS 'Reviewer: revoke an access grant now';
COMMENT ON FUNCTION lake.my_access() IS 'Access grants in force for the current role (directly or through membership)';
COMMENT ON FUNCTION lake.request_access(text, text) IS 'Ask reviewers for access to a governed relation (by its published name); returns the request id';
COMMENT ON FUNCTION lake.explain_access(text) IS 'Why the current role can or cannot read a governed relation, and what to do';
COMMENT ON FUNCTION lake.policy_json(text, boolean) IS 'Approvals, masks, row filters and grants in force, as Trino file-based access-control JSON';
COMMENT ON FUNCTION lake.enable_pii(text, interval) IS 'Reveal PII, in this session only, for the relations your unexpired pii grants cover';
COMMENT ON FUNCTION lake.disable_pii() IS 'Mask PII again in this session';
COMMENT ON FUNCTION lake.pii_status() IS 'Whether PII is revealed in this session, for which relations, until when';
-- Parallel safe from 0.2.0: workers and a parallel plan's leader never reveal,
-- and plans stay serial while a session has PII on (src/governance/pii_session.rs).
ALTER FUNCTION lake.pii_revealed(oid) PARALLEL SAFE;
COMMENT ON FUNCTION lake.pii_revealed(oid) IS 'Whether this session reveals PII of a governed relation right now (published views call it for masked columns)';
COMMENT ON FUNCTION lake.access_gate(oid) IS 'True if the current role may read a governed relation through its published view, otherwise an error that says why (every published view calls it)';
COMMENT ON VIEW lake.pending_reviews IS 'Relations and columns waiting for review (with the PII scanner''s suggestion when available), and approved columns the scanner has since found PII in (state recheck)';
COMMENT ON TABLE lake.audit_batches IS 'Storage of lake.audit_log: batches of records as written; append-only, hash-chained';
COMMENT ON TABLE lake.audit_chain IS 'Head of the audit hash chain: the last record, its hash and the number of records (lake.verify_audit compares it with the log)';
COMMENT ON VIEW lake.audit_log IS 'Every statement on governed data and every PII flip; append-only, hash-chained (lake.verify_audit)';
COMMENT ON FUNCTION lake.verify_audit() IS 'Checks the hash chain of lake.audit_log: false if any record was altered or deleted';
COMMENT ON FUNCTION lake.audit_pending() IS 'Auditor: audit records of this database still in the queue, not yet in lake.audit_log';
COMMENT ON FUNCTION lake.audit_queue_stats() IS 'Auditor: the shared audit queue''s slots, slots in use and unwritten, refused and throttled claims, and this session''s shares';
COMMENT ON SCHEMA lake_internal IS 'townlake internals, not an API: called by townlake''s own functions, triggers and workers';

-- ================================================================ clickhouse
-- The clickhouse foreign-data wrapper (new in 0.2.0), as a fresh install
-- makes it (src/clickhouse/wrapper.rs, sql/clickhouse/wrapper.sql).
CREATE FUNCTION lake.clickhouse_fdw_validator("options" text[], "catalog" oid) RETURNS void
LANGUAGE c AS 'MODULE_PATHNAME', 'clickhouse_fdw_validator_wrapper';
CREATE FUNCTION lake.clickhouse_fdw_handler() RETURNS fdw_handler
    AS 'MODULE_PATHNAME', 'clickhouse_fdw_handler' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER clickhouse
    HANDLER lake.clickhouse_fdw_handler
    VALIDATOR lake.clickhouse_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER clickhouse IS 'ClickHouse tables over its HTTP interface, with WHERE, column lists and LIMIT pushed down';
COMMENT ON FUNCTION lake.clickhouse_fdw_handler() IS 'Handler of the clickhouse foreign-data wrapper (not called directly)';
COMMENT ON FUNCTION lake.clickhouse_fdw_validator(text[], oid) IS 'Validator of the clickhouse wrapper''s server, user mapping, table and column options (not called directly; checks text only, no network access)';
REVOKE EXECUTE ON FUNCTION lake.clickhouse_fdw_handler() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lake.clickhouse_fdw_validator(text[], oid) FROM PUBLIC;

-- ========================================================= metadata catalog
-- New in 0.2.0: scripts/build.sh puts the file here when it installs this
-- script, so the upgrade creates exactly what a fresh install does.
CREATE FUNCTION lake_internal."_catalog_similarity"("query" TEXT, "text" TEXT) RETURNS real
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'catalog_similarity_wrapper';
-- @include sql/catalog/catalog.sql

-- ================================================================ transformations
-- Models, their dependencies and run history (new in 0.2.0), as a fresh
-- install makes them (src/transform/sql.rs, sql/transform/transform.sql).
CREATE FUNCTION lake."current_run_id"() RETURNS bigint /* Option < i64 > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'current_run_id_wrapper';
CREATE FUNCTION lake."dag"() RETURNS jsonb /* JsonB */
STRICT STABLE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dag_wrapper';
CREATE FUNCTION lake."dag_dot"() RETURNS TEXT /* String */
STRICT STABLE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'dag_dot_wrapper';
CREATE FUNCTION lake."define_model"(
	"name" TEXT, /* & str */
	"sql" TEXT, /* & str */
	"target" TEXT, /* & str */
	"materialization" TEXT DEFAULT 'table', /* & str */
	"unique_key" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < String > > */
	"strategy" TEXT DEFAULT NULL, /* Option < & str > */
	"schedule" TEXT DEFAULT NULL, /* Option < & str > */
	"timezone" TEXT DEFAULT 'UTC', /* & str */
	"owner" TEXT DEFAULT NULL, /* Option < & str > */
	"description" TEXT DEFAULT NULL, /* Option < & str > */
	"tags" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < String > > */
	"depends_on" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < String > > */
	"partition_by" TEXT DEFAULT NULL, /* Option < & str > */
	"retries" INT DEFAULT 0, /* i32 */
	"retry_delay_seconds" INT DEFAULT 60, /* i32 */
	"timeout_seconds" INT DEFAULT NULL, /* Option < i32 > */
	"overlap" TEXT DEFAULT 'skip', /* & str */
	"enabled" bool DEFAULT true, /* bool */
	"columns" jsonb DEFAULT NULL, /* Option < JsonB > */
	"on_schema_change" TEXT DEFAULT 'fail' /* & str */
) RETURNS void
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'define_model_wrapper';
CREATE FUNCTION lake."drop_model"(
	"name" TEXT, /* & str */
	"drop_target" bool DEFAULT false /* bool */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'drop_model_wrapper';
CREATE FUNCTION lake."load_project"(
	"yaml" TEXT, /* & str */
	"file" TEXT DEFAULT 'project.yml' /* & str */
) RETURNS TEXT[] /* Vec < String > */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'load_project_wrapper';
CREATE FUNCTION lake."next_fire_times"(
	"schedule" TEXT, /* & str */
	"after" timestamp with time zone, /* pgrx :: datum :: TimestampWithTimeZone */
	"count" INT DEFAULT 5, /* i32 */
	"timezone" TEXT DEFAULT 'UTC' /* & str */
) RETURNS timestamp with time zone[] /* Vec < pgrx :: datum :: TimestampWithTimeZone > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'next_fire_times_wrapper';
CREATE FUNCTION lake."pause_model"(
	"name" TEXT /* & str */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'pause_model_wrapper';
CREATE FUNCTION lake."resume_model"(
	"name" TEXT /* & str */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'resume_model_wrapper';
CREATE FUNCTION lake."run_now"(
	"name" TEXT, /* & str */
	"with_downstream" bool DEFAULT false /* bool */
) RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'run_now_wrapper';

-- @include sql/transform/transform.sql

CREATE FUNCTION lake."define_pipeline"(
	"name" TEXT, /* & str */
	"source" TEXT, /* & str */
	"target" TEXT, /* & str */
	"mode" TEXT DEFAULT 'replace', /* & str */
	"watermark_column" TEXT DEFAULT NULL, /* Option < & str > */
	"schedule" TEXT DEFAULT NULL, /* Option < & str > */
	"timezone" TEXT DEFAULT 'UTC', /* & str */
	"owner" TEXT DEFAULT NULL, /* Option < & str > */
	"partition_by" TEXT DEFAULT NULL, /* Option < & str > */
	"target_server" TEXT DEFAULT 'lake_local', /* Option < & str > */
	"retries" INT DEFAULT 3, /* i32 */
	"retry_delay_seconds" INT DEFAULT 60, /* i32 */
	"timeout_seconds" INT DEFAULT NULL, /* Option < i32 > */
	"enabled" bool DEFAULT true, /* bool */
	"description" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS void
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'define_pipeline_wrapper';
CREATE FUNCTION lake."drop_pipeline"(
	"name" TEXT, /* & str */
	"drop_target" bool DEFAULT false /* bool */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'drop_pipeline_wrapper';
CREATE FUNCTION lake."pause_pipeline"(
	"name" TEXT /* & str */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'pause_pipeline_wrapper';
CREATE FUNCTION lake."pipeline_watermark"(
	"name" TEXT /* & str */
) RETURNS TEXT /* Option < String > */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'pipeline_watermark_wrapper';
CREATE FUNCTION lake."resume_pipeline"(
	"name" TEXT /* & str */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'resume_pipeline_wrapper';
CREATE FUNCTION lake."run_pipeline_now"(
	"name" TEXT /* & str */
) RETURNS bigint /* i64 */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'run_pipeline_now_wrapper';

-- @include sql/transform/pipeline.sql
-- Backfills, cancelling runs, their progress and metadata (src/transform/ops.rs,
-- sql/transform/operations.sql).
CREATE FUNCTION lake."backfill"(
	"name" TEXT, /* & str */
	"from_ts" timestamp with time zone, /* TimestampWithTimeZone */
	"to_ts" timestamp with time zone, /* TimestampWithTimeZone */
	"period" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS bigint[] /* Vec < i64 > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'backfill_wrapper';
CREATE FUNCTION lake."cancel_run"(
	"run_id" bigint /* i64 */
) RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'cancel_run_wrapper';
CREATE FUNCTION lake."run_period_end"() RETURNS timestamp with time zone /* Option < TimestampWithTimeZone > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'run_period_end_wrapper';
CREATE FUNCTION lake."run_period_start"() RETURNS timestamp with time zone /* Option < TimestampWithTimeZone > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'run_period_start_wrapper';
CREATE FUNCTION lake."runs_in_progress"() RETURNS TABLE (
	"run_id" bigint,  /* i64 */
	"model" TEXT,  /* String */
	"phase" TEXT,  /* String */
	"rows_so_far" bigint,  /* i64 */
	"bytes_so_far" bigint,  /* i64 */
	"started_at" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"pid" INT,  /* i32 */
	"cancel_requested" bool  /* bool */
)
STRICT VOLATILE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'runs_in_progress_wrapper';
-- @include sql/transform/operations.sql
CREATE FUNCTION lake."iceberg_in_progress"() RETURNS TABLE (
	"pid" INT,  /* i32 */
	"relid" oid,  /* pg_sys :: Oid */
	"command" TEXT,  /* String */
	"phase" TEXT,  /* String */
	"rows_done" bigint,  /* i64 */
	"bytes_written" bigint,  /* i64 */
	"files_written" bigint,  /* i64 */
	"files_total" bigint,  /* Option < i64 > */
	"started_at" timestamp with time zone  /* Option < pgrx :: datum :: TimestampWithTimeZone > */
)
STRICT VOLATILE PARALLEL RESTRICTED
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'iceberg_in_progress_wrapper';
-- @include sql/iceberg/progress.sql

-- One call per statement: each updates the extension's catalog row.
SELECT pg_catalog.pg_extension_config_dump('lake.models', '');
SELECT pg_catalog.pg_extension_config_dump('lake.model_dependencies', '');
SELECT pg_catalog.pg_extension_config_dump('lake.runs', '');
SELECT pg_catalog.pg_extension_config_dump('lake.runs_run_id_seq', '');

-- ================================================ catalog lineage and YAML
-- Column lineage (it reads the transformations' tables) and the YAML
-- catalog files, new in 0.2.0 (src/catalog/sql.rs, sql/catalog/lineage.sql).
CREATE FUNCTION lake_internal."_catalog_view_columns"("view" oid)
RETURNS TABLE ("position" INT, "target_column" TEXT, "kind" TEXT, "source" oid, "source_attnum" smallint, "expression" TEXT)
STRICT STABLE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'catalog_view_columns_wrapper';
CREATE FUNCTION lake_internal."_catalog_json_to_yaml"("doc" jsonb) RETURNS TEXT
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'catalog_json_to_yaml_wrapper';
CREATE FUNCTION lake_internal."_catalog_yaml_to_json"("text" TEXT) RETURNS jsonb
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'catalog_yaml_to_json_wrapper';
CREATE FUNCTION lake_internal."_catalog_statement_usage"("query" TEXT) RETURNS jsonb
STRICT STABLE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'catalog_statement_usage_wrapper';
-- @include sql/catalog/lineage.sql
CREATE FUNCTION lake_internal."_check_row_filter_on"("rel" oid, "predicate" TEXT) RETURNS bool
STRICT STABLE LANGUAGE c AS 'MODULE_PATHNAME', 'check_row_filter_on_wrapper';

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

ALTER EVENT TRIGGER townlake_governance_capture ENABLE;
ALTER EVENT TRIGGER townlake_governance_drop ENABLE;
