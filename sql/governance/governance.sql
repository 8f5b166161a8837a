-- townlake governance (issue 4): closed-by-default review, published views,
-- masks, time-limited grants, PII sessions, self-service denials.
--
-- Layout of this file
--   roles, tables, masks, helpers (_gov_*), the published-view generator,
--   internal operations (_op_*), event triggers, public functions, privileges.
--   The audit log is in sql/audit/audit.sql; privileges that span parts and
--   dump/restore support are in sql/finalize.sql.
--
-- Every public function (schema lake) is a thin SQL wrapper around
-- lake_internal._privileged(op, args) (Rust): it records the real caller and
-- runs lake_internal._op_<op>(caller, args) with the extension's privileges.
-- _op_* and _gov_* functions live in lake_internal, are executable by
-- superusers only and always run with a fixed search_path.
--
-- Contracts with other parts (docs/architecture-sql.md lists them all):
--   called by the PII scanner: lake_internal._gov_pii_finding_changed(regclass, name)
--   calls into the PII scanner: lake.pii_suggestion(regclass, name), looked up at run time
--   used by the audit log: lake_internal._gov_append_only() (append-only triggers)
--   called by the audit writer: lake_internal._op_expire_grants(oid, jsonb) (grant sweep)

-- ====================================================================== roles
-- Roles are cluster-wide: create them once, keep them across DROP EXTENSION.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lake_owner', 'lake_reviewer', 'lake_auditor', 'lake_governance', 'lake_maintainer'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;

-- ===================================================================== tables
CREATE TABLE lake.governed_schemas (
    raw_schema name PRIMARY KEY,
    published_schema name NOT NULL UNIQUE,
    governed_at timestamptz NOT NULL DEFAULT now(),
    governed_by name NOT NULL
);
COMMENT ON TABLE lake.governed_schemas IS 'Raw schemas under governance and the schema their published views go to';

-- Relations and roles are kept as regclass / regrole, never bare oids: a dump
-- writes them by name and a restore resolves them to the new database's
-- oids (oid columns would point at nothing, or at something else).
CREATE TABLE lake.governed_relations (
    relid regclass PRIMARY KEY,
    raw_schema name NOT NULL REFERENCES lake.governed_schemas ON DELETE CASCADE,
    relname name NOT NULL,
    relkind "char" NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'denied')),
    row_filter text,
    published_name name,
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lake.governed_relations IS 'Review state of every governed raw relation';

CREATE SEQUENCE lake.published_position_seq;
CREATE TABLE lake.governed_columns (
    relid regclass NOT NULL REFERENCES lake.governed_relations ON DELETE CASCADE,
    attnum int2 NOT NULL,
    column_name name NOT NULL,
    column_type text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'denied')),
    sensitivity text CHECK (sensitivity IN ('public', 'internal', 'pii', 'restricted')),
    mask regprocedure,
    mask_args jsonb NOT NULL DEFAULT '{}',
    -- order of the column in the published view: order of approval, so that
    -- newly approved columns are appended and the view can be replaced in place
    published_position bigint,
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (relid, attnum)
);
COMMENT ON TABLE lake.governed_columns IS 'Review state, sensitivity and mask of every column of a governed relation';

CREATE TABLE lake.reviews (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor name NOT NULL,
    action text NOT NULL,
    relid regclass,
    relation text,
    column_name name,
    detail jsonb NOT NULL DEFAULT '{}',
    reason text
);
COMMENT ON TABLE lake.reviews IS 'Append-only log of review actions, grants and captured schema changes';

CREATE TABLE lake.access_grants (
    id bigserial PRIMARY KEY,
    grantee regrole NOT NULL,
    grantee_name name NOT NULL,
    relid regclass NOT NULL,
    relation text NOT NULL,
    level text NOT NULL CHECK (level IN ('read', 'pii')),
    reason text NOT NULL,
    granted_by name NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz,
    revoked_at timestamptz,
    revoked_by name,
    revoke_reason text
);
CREATE INDEX ON lake.access_grants (relid) WHERE revoked_at IS NULL;
COMMENT ON TABLE lake.access_grants IS 'Time-limited access grants (read or pii) on governed relations';

CREATE TABLE lake.access_requests (
    id bigserial PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    requester name NOT NULL,
    relid regclass,
    relation text NOT NULL,
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'granted', 'rejected')),
    closed_at timestamptz,
    closed_by name,
    grant_id bigint
);
COMMENT ON TABLE lake.access_requests IS 'Access requests made with lake.request_access';

CREATE TABLE lake.pii_sessions (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    role name NOT NULL,
    backend_pid int,
    action text NOT NULL CHECK (action IN ('enable', 'disable')),
    reason text,
    until timestamptz,
    relations text[],
    grant_ids bigint[],
    enable_id bigint
);
COMMENT ON TABLE lake.pii_sessions IS 'Every lake.enable_pii / lake.disable_pii flip';

-- The key of lake.mask_hash. Only lake_governance (NOLOGIN, owner of the
-- published views) may read it: views pass it to lake.mask_hash_keyed.
CREATE TABLE lake.mask_key (
    id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO lake.mask_key (key)
SELECT pg_catalog.decode(pg_catalog.replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex');

-- Append-only tables reject UPDATE, DELETE and TRUNCATE, from anyone.
CREATE FUNCTION lake_internal._gov_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'lake.% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON lake.reviews
    FOR EACH ROW EXECUTE FUNCTION lake_internal._gov_append_only();
CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON lake.reviews
    FOR EACH STATEMENT EXECUTE FUNCTION lake_internal._gov_append_only();
CREATE TRIGGER pii_sessions_append_only BEFORE UPDATE OR DELETE ON lake.pii_sessions
    FOR EACH ROW EXECUTE FUNCTION lake_internal._gov_append_only();
CREATE TRIGGER pii_sessions_no_truncate BEFORE TRUNCATE ON lake.pii_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION lake_internal._gov_append_only();

-- Backends cache which relations are governed; changes invalidate it at commit.
CREATE FUNCTION lake_internal._gov_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM lake_internal._governance_changed();
    RETURN NULL;
END
$$;
CREATE TRIGGER governed_relations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON lake.governed_relations FOR EACH STATEMENT EXECUTE FUNCTION lake_internal._gov_changed();
CREATE TRIGGER governed_schemas_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON lake.governed_schemas FOR EACH STATEMENT EXECUTE FUNCTION lake_internal._gov_changed();
CREATE TRIGGER access_grants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON lake.access_grants FOR EACH STATEMENT EXECUTE FUNCTION lake_internal._gov_changed();

-- ====================================================================== masks
-- The masks are native (src/governance/masks.rs): immutable, strict,
-- parallel safe.
COMMENT ON FUNCTION lake.mask_redact(anyelement) IS 'Mask: ''[redacted]'' for text types, NULL for any other type';

COMMENT ON FUNCTION lake.mask_ip_prefix(inet) IS 'Mask: the /24 (IPv4) or /48 (IPv6) network of an address';

COMMENT ON FUNCTION lake.mask_year(date) IS 'Mask: January 1st of the same year';

COMMENT ON FUNCTION lake.mask_email(text) IS 'Mask: j***@example.com';
COMMENT ON FUNCTION lake.mask_partial(text, integer, integer) IS 'Mask: keep the first keep_first and last keep_last characters';
COMMENT ON FUNCTION lake.mask_hash(text) IS 'Mask: keyed HMAC-SHA256 (hex); the key is readable by superusers only';
COMMENT ON FUNCTION lake.mask_hash_keyed(text, bytea) IS 'Hex HMAC-SHA256 of a value under a key; published views pass the key of lake.mask_key (what lake.mask_hash becomes in a view)';
COMMENT ON TABLE lake.mask_key IS 'The key of lake.mask_hash; readable only by lake_governance, the owner of the published views';

-- ==================================================================== helpers
CREATE FUNCTION lake_internal._gov_role_name(r oid) RETURNS name
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE((SELECT rolname FROM pg_roles WHERE oid = r), r::text::name)
$$;

CREATE FUNCTION lake_internal._gov_is_superuser(r oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE((SELECT rolsuper FROM pg_roles WHERE oid = r), false)
$$;

-- Whether role `who` holds role `target` (directly or through membership),
-- false for roles that no longer exist.
CREATE FUNCTION lake_internal._gov_holds(who oid, target oid) RETURNS boolean
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

CREATE FUNCTION lake_internal._gov_is_reviewer(who oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._gov_is_superuser(who) OR lake_internal._gov_holds(who, 'lake_reviewer'::regrole)
$$;

CREATE FUNCTION lake_internal._gov_require_reviewer(who oid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT lake_internal._gov_is_reviewer(who) THEN
        RAISE EXCEPTION 'role "%" is not a townlake reviewer', lake_internal._gov_role_name(who)
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Reviewers are members of lake_reviewer (GRANT lake_reviewer TO ...), or superusers.';
    END IF;
END
$$;

CREATE FUNCTION lake_internal._gov_require_reason(reason text, what text) RETURNS text
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

-- The governed relation `rel` (raw relation or its published view).
CREATE FUNCTION lake_internal._gov_relation(rel oid) RETURNS lake.governed_relations
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

-- A governed relation named in text, as analysts write it: the published
-- name ('sales.orders', 'orders') or the raw name. Resolved with the
-- extension's privileges, so no USAGE on the raw schema is needed.
CREATE FUNCTION lake_internal._gov_relation_by_name(rel text) RETURNS lake.governed_relations
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

CREATE FUNCTION lake_internal._gov_published_name(g lake.governed_relations) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('%I.%I', gs.published_schema, g.relname) FROM lake.governed_schemas gs WHERE gs.raw_schema = g.raw_schema
$$;

CREATE FUNCTION lake_internal._gov_raw_name(g lake.governed_relations) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('%I.%I', g.raw_schema, g.relname)
$$;

CREATE FUNCTION lake_internal._gov_column(rel oid, col name) RETURNS lake.governed_columns
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

CREATE FUNCTION lake_internal._gov_log(actor oid, action text, rel oid, relation text, col name, detail jsonb, reason text)
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO lake.reviews (actor, action, relid, relation, column_name, detail, reason)
    VALUES (lake_internal._gov_role_name(actor), action, rel, relation, col, COALESCE(detail, '{}'), reason)
$$;

-- Grants on `rel` that are in force now.
CREATE FUNCTION lake_internal._gov_active_grants(rel oid) RETURNS SETOF lake.access_grants
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM lake.access_grants a
     WHERE a.relid = rel AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
       AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = a.grantee)
$$;

-- Postgres timestamp as microseconds since 2000-01-01 (what Rust keeps).
CREATE FUNCTION lake_internal._gov_pg_micros(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (pg_catalog.date_part('epoch', t) OPERATOR(pg_catalog.*) 1000000)::bigint
           OPERATOR(pg_catalog.-) 946684800000000
$$;

-- A relation as a regclass constant in SQL text: '"schema"."name"'::regclass.
CREATE FUNCTION lake_internal._gov_regclass_sql(rel oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('%L::regclass', format('%I.%I', n.nspname, c.relname))
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel
$$;

-- ==================================================================== masks
-- Whether `mask` can serve as a mask with named extra arguments `args`.
CREATE FUNCTION lake_internal._gov_check_mask(mask oid, args jsonb) RETURNS void
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

-- Whether a mask taking `argtype` can take a column of type `coltype`
-- without an explicit cast (explicit I/O casts would only fail at query time).
CREATE FUNCTION lake_internal._gov_mask_fits(coltype oid, argtype oid) RETURNS boolean
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

-- Raises unless `mask` can mask column `att` of `rel`.
CREATE FUNCTION lake_internal._gov_check_mask_column(mask oid, rel oid, att int2) RETURNS void
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

-- The PII scanner's suggestion for a column, if that part of townlake is
-- installed (checked at run time, so governance works without it).
CREATE FUNCTION lake_internal._gov_pii_suggestion(rel oid, col name, OUT sensitivity text, OUT mask text,
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

-- Contract with the PII scanner (src/pii/scan.rs): called in the scan's
-- transaction for each column whose set of infotypes changed. The review
-- queue (lake.pending_reviews) reads the new suggestion from the scanner
-- itself; this records the change in the review log, with the suggestion
-- and the column's review state at that moment, so reviewers see when and
-- why a suggestion changed (and an approved public/internal column that now
-- looks like PII is listed again, as recheck). Columns governance does not
-- know are none of its business.
CREATE FUNCTION lake_internal._gov_pii_finding_changed(rel regclass, col name) RETURNS void
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

-- A mask named in text ('lake.mask_email(text)', 'mask_email', 'email').
CREATE FUNCTION lake_internal._gov_mask_from_text(name text) RETURNS regprocedure
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

-- The mask a pii/restricted column gets when the reviewer names none.
CREATE FUNCTION lake_internal._gov_default_mask(rel oid, att int2) RETURNS regprocedure
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

-- The published view's expression for one approved column (alias r).
CREATE FUNCTION lake_internal._gov_column_expression(rel oid, c lake.governed_columns) RETURNS text
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

-- ============================================================ published views
-- (Re)generates the published view of governed relation `rel`, in the
-- caller's transaction: approved columns only (masked where needed), the
-- access gate, the row filter.
CREATE FUNCTION lake_internal._gov_publish(rel oid) RETURNS void
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

-- Drops the published view of `rel` (before DDL that it would block).
CREATE FUNCTION lake_internal._gov_unpublish(rel oid) RETURNS void
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

-- ================================================== capture and lock-down
-- Owner lake_owner; no privileges but the owner's and lake_governance's
-- SELECT; row level security on tables with a policy only for lake_governance.
CREATE FUNCTION lake_internal._gov_lock_down(rel oid) RETURNS void
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

-- Forgets a governed relation (dropped, or moved out of a governed schema).
CREATE FUNCTION lake_internal._gov_forget(rel oid, actor oid, why text) RETURNS void
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

-- Reconciles governance state of one relation with the catalog: registers
-- new relations and columns as pending, follows renames, forgets drops,
-- re-locks privileges, and republishes.
CREATE FUNCTION lake_internal._gov_sync_relation(rel oid, actor oid) RETURNS void
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

-- Rejects a view or materialized view outside governed schemas that reads a
-- governed raw relation directly (it would bypass the published view).
CREATE FUNCTION lake_internal._gov_check_foreign_view(rel oid) RETURNS void
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

-- ======================================================== internal operations
CREATE FUNCTION lake_internal._op_load_cache(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_govern_schema(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_sync(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_dropped(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_unpublish(caller oid, args jsonb) RETURNS jsonb
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

-- A reviewer's decision on a whole relation: record it, log it, republish.
CREATE FUNCTION lake_internal._gov_set_table_state(caller oid, args jsonb, new_state text, action text) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_approve_table(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._gov_set_table_state(caller, args, 'approved', 'approve_table')
$$;

CREATE FUNCTION lake_internal._op_deny_table(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._gov_set_table_state(caller, args, 'denied', 'deny_table')
$$;

CREATE FUNCTION lake_internal._op_approve_column(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_deny_column(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_set_mask(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_set_row_filter(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_grant_access(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_revoke_access(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_expire_grants(caller oid, args jsonb) RETURNS jsonb
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

-- Who may read, and if not, the self-service message.
CREATE FUNCTION lake_internal._op_access_decision(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_explain_access(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_request_access(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_my_access(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'grant_id', a.id, 'relation', a.relation, 'level', a.level, 'granted_to', a.grantee_name,
               'granted_at', a.granted_at, 'expires_at', a.expires_at, 'reason', a.reason, 'granted_by', a.granted_by)
             ORDER BY a.id), '[]')
      FROM lake.access_grants a
     WHERE a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
       AND lake_internal._gov_holds(caller, a.grantee)
$$;

CREATE FUNCTION lake_internal._op_enable_pii(caller oid, args jsonb) RETURNS jsonb
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

CREATE FUNCTION lake_internal._op_disable_pii(caller oid, args jsonb) RETURNS jsonb
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO lake.pii_sessions (role, backend_pid, action, enable_id)
    VALUES (lake_internal._gov_role_name(caller), pg_backend_pid(), 'disable', (args->>'session_id')::bigint);
    SELECT '{}'::jsonb;
$$;

CREATE FUNCTION lake_internal._op_pii_grants_active(caller oid, args jsonb) RETURNS jsonb
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

-- Trino file-based access control (rules.json): one rule per grant in force
-- on an approved relation, then a deny-all rule per governed schema.
CREATE FUNCTION lake_internal._gov_regex_literal(t text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT '^' || regexp_replace(t, '([.^$*+?()\[\]{}|\\])', '\\\1', 'g') || '$'
$$;

CREATE FUNCTION lake_internal._gov_all_active_grants() RETURNS SETOF lake.access_grants
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM lake.access_grants a
     WHERE a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > clock_timestamp())
       AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = a.grantee)
$$;

-- The Trino SQL of a column's mask.
CREATE FUNCTION lake_internal._gov_trino_mask(c lake.governed_columns, col text, hash_key bytea) RETURNS text
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

CREATE FUNCTION lake_internal._op_policy_json(caller oid, args jsonb) RETURNS jsonb
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

-- ============================================================ event triggers
-- A restore (see "dump and restore" in sql/finalize.sql) replays DDL of a state townlake
-- already made consistent, and loads governance state only after the
-- objects: reacting to its DDL would re-register, re-lock and republish
-- half-restored relations (and collide with the dump's own policies). The
-- same test as lake_internal._restoring() (a superuser session with a dump script's
-- settings), written out because event triggers run as the user whose DDL
-- fired them, who may not call internal functions.

CREATE FUNCTION lake_internal._gov_on_ddl_command_end() RETURNS event_trigger
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

CREATE FUNCTION lake_internal._gov_on_sql_drop() RETURNS event_trigger
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

CREATE EVENT TRIGGER townlake_governance_capture ON ddl_command_end
    EXECUTE FUNCTION lake_internal._gov_on_ddl_command_end();
CREATE EVENT TRIGGER townlake_governance_drop ON sql_drop
    EXECUTE FUNCTION lake_internal._gov_on_sql_drop();

-- =========================================================== public functions
CREATE FUNCTION lake.govern_schema(raw_schema name, published_schema name) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._privileged('govern_schema', jsonb_build_object('raw_schema', raw_schema, 'published_schema', published_schema))
$$;
COMMENT ON FUNCTION lake.govern_schema(name, name) IS 'Put a raw schema under governance; its relations become pending and are published into published_schema';

CREATE FUNCTION lake.approve_table(rel regclass, reason text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('approve_table', jsonb_build_object('rel', rel::oid, 'reason', reason))
$$;
COMMENT ON FUNCTION lake.approve_table(regclass, text) IS 'Reviewer: approve a governed relation (its approved columns become readable to grantees)';

CREATE FUNCTION lake.approve_column(rel regclass, col name, sensitivity text, mask regprocedure DEFAULT NULL, reason text DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('approve_column', jsonb_build_object(
        'rel', rel::oid, 'col', col, 'sensitivity', sensitivity, 'mask', mask::oid, 'reason', reason))
$$;
COMMENT ON FUNCTION lake.approve_column(regclass, name, text, regprocedure, text) IS 'Reviewer: approve a column as public, internal, pii or restricted (pii and restricted are masked)';

CREATE FUNCTION lake.deny_column(rel regclass, col name, reason text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('deny_column', jsonb_build_object('rel', rel::oid, 'col', col, 'reason', reason))
$$;
COMMENT ON FUNCTION lake.deny_column(regclass, name, text) IS 'Reviewer: deny a column (it disappears from the published view)';

CREATE FUNCTION lake.deny_table(rel regclass, reason text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('deny_table', jsonb_build_object('rel', rel::oid, 'reason', reason))
$$;
COMMENT ON FUNCTION lake.deny_table(regclass, text) IS 'Reviewer: deny a relation (reading its published view says so)';

CREATE FUNCTION lake.set_mask(rel regclass, col name, mask regprocedure, args jsonb DEFAULT '{}') RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('set_mask', jsonb_build_object('rel', rel::oid, 'col', col, 'mask', mask::oid, 'args', args))
$$;
COMMENT ON FUNCTION lake.set_mask(regclass, name, regprocedure, jsonb) IS 'Reviewer: mask a pii or restricted column with lake.mask_*(value, ...) and named arguments';

CREATE FUNCTION lake.set_row_filter(rel regclass, predicate text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('set_row_filter', jsonb_build_object('rel', rel::oid, 'predicate', predicate))
$$;
COMMENT ON FUNCTION lake.set_row_filter(regclass, text) IS 'Reviewer: rows of the published view must satisfy this expression (NULL removes it)';

CREATE FUNCTION lake.grant_access(grantee regrole, rel regclass, expires_in interval, reason text, level text DEFAULT 'read')
RETURNS bigint LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (lake_internal._privileged('grant_access', jsonb_build_object(
        'grantee', grantee::oid, 'rel', rel::oid, 'expires_in', expires_in::text, 'reason', reason, 'level', level))->>'id')::bigint
$$;
COMMENT ON FUNCTION lake.grant_access(regrole, regclass, interval, text, text) IS 'Reviewer: grant read or pii access to a role for a time (NULL: no expiry); returns the grant id';

CREATE FUNCTION lake.revoke_access(grant_id bigint) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('revoke_access', jsonb_build_object('grant_id', grant_id))
$$;
COMMENT ON FUNCTION lake.revoke_access(bigint) IS 'Reviewer: revoke an access grant now';

CREATE FUNCTION lake.my_access()
RETURNS TABLE (grant_id bigint, relation text, level text, granted_to name, granted_at timestamptz,
               expires_at timestamptz, reason text, granted_by name)
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM jsonb_to_recordset(lake_internal._privileged('my_access', '{}'))
        AS x(grant_id bigint, relation text, level text, granted_to name, granted_at timestamptz,
             expires_at timestamptz, reason text, granted_by name)
$$;
COMMENT ON FUNCTION lake.my_access() IS 'Access grants in force for the current role (directly or through membership)';

CREATE FUNCTION lake.request_access(rel text, reason text) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (lake_internal._privileged('request_access', jsonb_build_object('rel', rel, 'reason', reason))->>'id')::bigint
$$;
COMMENT ON FUNCTION lake.request_access(text, text) IS 'Ask reviewers for access to a governed relation (by its published name); returns the request id';

CREATE FUNCTION lake.explain_access(rel text) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._privileged('explain_access', jsonb_build_object('rel', rel))
$$;
COMMENT ON FUNCTION lake.explain_access(text) IS 'Why the current role can or cannot read a governed relation, and what to do';

CREATE FUNCTION lake.policy_json(catalog text DEFAULT 'iceberg', include_hash_key boolean DEFAULT false) RETURNS jsonb
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._privileged('policy_json', jsonb_build_object('catalog', catalog, 'include_hash_key', include_hash_key))
$$;
COMMENT ON FUNCTION lake.policy_json(text, boolean) IS 'Approvals, masks, row filters and grants in force, as Trino file-based access-control JSON';

COMMENT ON FUNCTION lake.enable_pii(text, interval) IS 'Reveal PII, in this session only, for the relations your unexpired pii grants cover';
COMMENT ON FUNCTION lake.disable_pii() IS 'Mask PII again in this session';
COMMENT ON FUNCTION lake.pii_status() IS 'Whether PII is revealed in this session, for which relations, until when';
COMMENT ON FUNCTION lake.pii_revealed(oid) IS 'Whether this session reveals PII of a governed relation right now (published views call it for masked columns)';
COMMENT ON FUNCTION lake.access_gate(oid) IS 'True if the current role may read a governed relation through its published view, otherwise an error that says why (every published view calls it)';

-- Columns and relations waiting for a reviewer, with the PII scanner's
-- suggestion when the scanner is installed.
CREATE VIEW lake.pending_reviews AS
SELECT 'table'::text AS kind,
       format('%I.%I', r.raw_schema, r.relname) AS relation,
       format('%I.%I', s.published_schema, r.relname) AS published,
       NULL::name AS column_name,
       NULL::text AS column_type,
       r.state,
       r.registered_at,
       NULL::text AS suggested_sensitivity,
       NULL::text AS suggested_mask,
       0::int2 AS attnum
  FROM lake.governed_relations r JOIN lake.governed_schemas s USING (raw_schema)
 WHERE r.state = 'pending'
UNION ALL
SELECT 'column',
       format('%I.%I', r.raw_schema, r.relname),
       format('%I.%I', s.published_schema, r.relname),
       c.column_name,
       c.column_type,
       c.state,
       c.registered_at,
       sug.sensitivity,
       sug.mask,
       c.attnum
  FROM lake.governed_columns c
  JOIN lake.governed_relations r ON r.relid = c.relid
  JOIN lake.governed_schemas s USING (raw_schema)
  CROSS JOIN LATERAL lake_internal._gov_pii_suggestion(c.relid, c.column_name) sug
 WHERE c.state = 'pending' AND r.state <> 'denied'
UNION ALL
-- approved as public/internal, but the scanner found PII after the approval
SELECT 'column',
       format('%I.%I', r.raw_schema, r.relname),
       format('%I.%I', s.published_schema, r.relname),
       c.column_name,
       c.column_type,
       'recheck',
       c.updated_at,
       sug.sensitivity,
       sug.mask,
       c.attnum
  FROM lake.governed_columns c
  JOIN lake.governed_relations r ON r.relid = c.relid
  JOIN lake.governed_schemas s USING (raw_schema)
  CROSS JOIN LATERAL lake_internal._gov_pii_suggestion(c.relid, c.column_name) sug
 WHERE c.state = 'approved' AND c.sensitivity IN ('public', 'internal')
   AND sug.sensitivity IN ('pii', 'restricted') AND sug.changed_at > c.updated_at
 ORDER BY 2, 10;
COMMENT ON VIEW lake.pending_reviews IS 'Relations and columns waiting for review (with the PII scanner''s suggestion when available), and approved columns the scanner has since found PII in (state recheck)';



REVOKE ALL ON lake.governed_schemas, lake.governed_relations, lake.governed_columns, lake.reviews,
              lake.access_grants, lake.access_requests, lake.pii_sessions, lake.mask_key, lake.pending_reviews
    FROM PUBLIC;
GRANT SELECT ON lake.governed_schemas, lake.governed_relations, lake.governed_columns, lake.reviews,
                lake.access_grants, lake.access_requests, lake.pending_reviews
    TO lake_reviewer, lake_auditor;
GRANT SELECT ON lake.pii_sessions TO lake_auditor;
GRANT SELECT ON lake.mask_key TO lake_governance;
