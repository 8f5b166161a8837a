-- townlake metadata catalog (issue 17): the human parts of the catalog
-- (owners, tags, docs, annotations, notes, glossary, data-model pages), and
-- search and entity details computed live from Postgres' own catalogs, so
-- nothing has to be synced and everything is filtered by the caller's access.
--
-- Visibility: a dataset is visible to a role that may SELECT at least one of
-- its columns; a column is visible when the role may SELECT it. Governed raw
-- relations are closed to analysts, so they see the published views (approved
-- columns only) and nothing of what is pending. Rows of the catalog tables
-- follow the same rule through row level security, so a plain SELECT on them
-- shows no annotation of a dataset the caller cannot see.
--
-- Edits go through lake_internal._privileged('catalog_edit', args) (the
-- governance dispatcher, which records the real caller): owners of a
-- relation (members of its owner role), catalog stewards (members of
-- lake_steward) and superusers may edit a dataset's entries.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'lake_steward') THEN
        CREATE ROLE lake_steward NOLOGIN;
    END IF;
END
$roles$;

-- ===================================================================== tables
CREATE TABLE lake.catalog_datasets (
    relid regclass PRIMARY KEY,
    owners text[] NOT NULL DEFAULT '{}',
    team text,
    tags text[] NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by name NOT NULL
);
COMMENT ON TABLE lake.catalog_datasets IS 'Catalog: owners, team and tags of a dataset (tags curated, scratch and internal set its search tier)';

CREATE TABLE lake.catalog_annotations (
    id bigserial PRIMARY KEY,
    relid regclass NOT NULL,
    column_name name,
    kind text NOT NULL CHECK (kind IN ('annotation', 'note')),
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    author name NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON lake.catalog_annotations (relid);
COMMENT ON TABLE lake.catalog_annotations IS 'Catalog: human annotations on datasets and columns, and notes of corrections that show wherever the dataset appears';

CREATE TABLE lake.glossary_terms (
    term text PRIMARY KEY CHECK (length(term) BETWEEN 1 AND 200),
    definition text NOT NULL,
    updated_by name NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lake.glossary_terms IS 'Catalog: glossary terms and their definitions';

CREATE TABLE lake.glossary_links (
    term text NOT NULL REFERENCES lake.glossary_terms ON DELETE CASCADE ON UPDATE CASCADE,
    relid regclass NOT NULL,
    column_name name NOT NULL DEFAULT '',
    PRIMARY KEY (term, relid, column_name)
);
COMMENT ON TABLE lake.glossary_links IS 'Catalog: which datasets and columns a glossary term applies to (column_name empty: the whole dataset)';

CREATE TABLE lake.catalog_pages (
    name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    title text NOT NULL,
    body text NOT NULL,
    datasets regclass[] NOT NULL DEFAULT '{}',
    terms text[] NOT NULL DEFAULT '{}',
    updated_by name NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE lake.catalog_pages IS 'Catalog: data-model pages (markdown) and the datasets and glossary terms they explain';

-- pg_dump writes their rows (see sql/finalize.sql); one call a statement,
-- as each one updates the extension's row
DO $config_dump$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['lake.catalog_datasets', 'lake.catalog_annotations', 'lake.catalog_annotations_id_seq',
                             'lake.glossary_terms', 'lake.glossary_links', 'lake.catalog_pages'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t::regclass, '');
    END LOOP;
END
$config_dump$;

-- ================================================================ visibility
-- Whether role `who` may see dataset `rel`: SELECT on at least one column.
-- The policies pass current_user; the answer uses only Postgres' own
-- privilege checks, which any role may ask about any role.
CREATE FUNCTION lake_internal._catalog_visible(rel oid, who oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_class c
                    WHERE c.oid = rel AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                      AND has_any_column_privilege(who, c.oid, 'SELECT'))
$$;

CREATE FUNCTION lake_internal._catalog_column_visible(rel oid, col name, who oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN col IS NULL OR col = '' THEN lake_internal._catalog_visible(rel, who)
                ELSE EXISTS (SELECT 1 FROM pg_attribute a
                              WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0
                                AND NOT a.attisdropped
                                AND has_column_privilege(who, rel, a.attnum, 'SELECT')) END
$$;

ALTER TABLE lake.catalog_datasets ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.catalog_datasets FOR SELECT
    USING (lake_internal._catalog_visible(relid, current_user::regrole));
ALTER TABLE lake.catalog_annotations ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.catalog_annotations FOR SELECT
    USING (lake_internal._catalog_column_visible(relid, column_name, current_user::regrole));
ALTER TABLE lake.glossary_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.glossary_links FOR SELECT
    USING (lake_internal._catalog_column_visible(relid, column_name, current_user::regrole));
-- A page names its datasets: it is shown to those who may see every one of
-- them (a relation dropped since is no secret).
ALTER TABLE lake.catalog_pages ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.catalog_pages FOR SELECT
    USING (NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(datasets::oid[]) AS d(rel)
                        WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) d.rel)
                          AND NOT lake_internal._catalog_visible(d.rel, current_user::regrole)));
GRANT SELECT ON lake.catalog_datasets, lake.catalog_annotations, lake.glossary_terms,
                lake.glossary_links, lake.catalog_pages TO PUBLIC;

-- ============================================================ dataset facts
-- What kind of dataset a relation is, in the words the catalog shows.
CREATE FUNCTION lake_internal._catalog_kind(rel oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN c.relkind IN ('r', 'p') THEN 'table'
        WHEN c.relkind = 'm' THEN 'materialized view'
        -- governance owns the published views, and nothing else
        WHEN c.relkind = 'v' AND c.relowner = 'lake_governance'::regrole THEN 'published view'
        WHEN c.relkind = 'v' THEN 'view'
        WHEN c.relkind = 'f' THEN COALESCE(
            (SELECT w.fdwname || ' foreign table' FROM pg_foreign_table ft
               JOIN pg_foreign_server s ON s.oid = ft.ftserver
               JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
              WHERE ft.ftrelid = c.oid), 'foreign table')
        ELSE 'relation' END
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = rel
$$;

-- Search tier from the tags: curated first, scratch and internal last.
CREATE FUNCTION lake_internal._catalog_tier(tags text[]) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN 'curated' = ANY (tags) THEN 'curated'
                WHEN 'internal' = ANY (tags) THEN 'internal'
                WHEN 'scratch' = ANY (tags) THEN 'scratch'
                ELSE 'standard' END
$$;

-- The schemas whose relations are datasets: everything but Postgres' and
-- townlake's own.
CREATE FUNCTION lake_internal._catalog_schema_listed(nsp name) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT nsp NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'lake', 'lake_internal')
       AND nsp !~ '^pg_(toast_)?temp_'
$$;

-- lake_internal._catalog_similarity(query, text) (Rust, src/catalog/): how
-- well the words of the query occur in the text, for typos when pg_trgm is
-- not installed in this database.

-- ==================================================================== search
-- Ranked search over the datasets the caller may see. Runs as the caller:
-- every privilege check is the caller's own.
CREATE FUNCTION lake.search_datasets(query text, lim int DEFAULT 20)
RETURNS TABLE (dataset text, kind text, tier text, score real, description text,
               matched_columns text[], tags text[], notes text[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    words text[];
    tsq tsquery;
    trgm_schema name;
    sim_sql text;
    stems text;
BEGIN
    IF query IS NULL OR btrim(query) = '' THEN
        RAISE EXCEPTION 'lake.search_datasets needs a non-empty query'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass words to look for, e.g. lake.search_datasets(''customer orders'').';
    END IF;
    IF lim IS NULL OR lim < 1 OR lim > 1000 THEN
        RAISE EXCEPTION 'lake.search_datasets: lim must be between 1 and 1000, got %', lim
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    words := ARRAY(SELECT DISTINCT w FROM regexp_split_to_table(lower(left(query, 1000)), '[^[:alnum:]]+') w
                    WHERE w <> '' LIMIT 32);
    IF cardinality(words) = 0 THEN
        RAISE EXCEPTION 'lake.search_datasets: the query "%" has no words', left(query, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Search for letters or digits: names, column names, tags or words of the docs.';
    END IF;
    -- every word as a prefix (no stemming), or its English stem
    tsq := (SELECT to_tsquery('simple', string_agg(quote_literal(w) || ':*', ' | ')) FROM unnest(words) w);
    stems := (SELECT string_agg(x::text, ' | ') FROM unnest(words) w, LATERAL plainto_tsquery('english', w) x
               WHERE numnode(x) > 0);
    IF stems IS NOT NULL THEN
        tsq := tsq || stems::tsquery;
    END IF;

    SELECT n.nspname INTO trgm_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    -- word_similarity of pg_trgm when this database has it, townlake's own otherwise
    IF trgm_schema IS NOT NULL THEN
        sim_sql := format('%I.word_similarity($4, %%s)', trgm_schema);
    ELSE
        sim_sql := 'lake_internal._catalog_similarity($4, %s)';
    END IF;

    RETURN QUERY EXECUTE format($q$
    WITH ds AS (
        SELECT c.oid AS rel, n.nspname, c.relname,
               obj_description(c.oid, 'pg_class') AS doc,
               COALESCE(cd.tags, '{}') AS tags, COALESCE(cd.owners, '{}') AS owners, cd.team
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN lake.catalog_datasets cd ON cd.relid = c.oid
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND lake_internal._catalog_schema_listed(n.nspname)
           AND has_any_column_privilege(c.oid, 'SELECT')
    ), cols AS (
        SELECT ds.rel, array_agg(a.attname::text ORDER BY a.attnum) AS names,
               string_agg(a.attname || ' ' || COALESCE(col_description(ds.rel, a.attnum), ''), ' ') AS text
          FROM ds JOIN pg_attribute a ON a.attrelid = ds.rel AND a.attnum > 0 AND NOT a.attisdropped
         WHERE has_column_privilege(ds.rel, a.attnum, 'SELECT')
         GROUP BY ds.rel
    ), extra AS (
        SELECT ds.rel,
               (SELECT string_agg(an.body, ' ') FROM lake.catalog_annotations an WHERE an.relid = ds.rel) AS notes_text,
               ARRAY(SELECT an.body FROM lake.catalog_annotations an
                      WHERE an.relid = ds.rel AND an.kind = 'note' ORDER BY an.id) AS notes,
               (SELECT string_agg(gl.term || ' ' || gt.definition, ' ')
                  FROM lake.glossary_links gl JOIN lake.glossary_terms gt USING (term)
                 WHERE gl.relid = ds.rel) AS terms_text
          FROM ds
    ), scored AS (
        SELECT ds.*, cols.names, e.notes,
               setweight(to_tsvector('simple', regexp_replace(ds.relname || ' ' || ds.nspname, '_', ' ', 'g')), 'A')
               || setweight(to_tsvector('english', COALESCE(ds.doc, '') || ' ' || COALESCE(e.terms_text, '')), 'B')
               || setweight(to_tsvector('simple', array_to_string(ds.tags || ds.owners, ' ') || ' ' || COALESCE(ds.team, '')), 'B')
               || setweight(to_tsvector('english', COALESCE(e.notes_text, '')), 'C')
               || setweight(to_tsvector('simple', regexp_replace(COALESCE(cols.text, ''), '_', ' ', 'g')), 'D') AS doc_tsv,
               greatest(%1$s, %2$s) AS sim
          FROM ds LEFT JOIN cols ON cols.rel = ds.rel LEFT JOIN extra e ON e.rel = ds.rel
    )
    SELECT format('%%I.%%I', s.nspname, s.relname),
           lake_internal._catalog_kind(s.rel),
           lake_internal._catalog_tier(s.tags),
           (ts_rank(s.doc_tsv, $1) + 0.6 * s.sim
             + CASE lake_internal._catalog_tier(s.tags) WHEN 'curated' THEN 0.3 WHEN 'scratch' THEN -0.2
                                                        WHEN 'internal' THEN -0.3 ELSE 0 END)::real,
           s.doc,
           ARRAY(SELECT cn FROM unnest(s.names) cn
                  WHERE EXISTS (SELECT 1 FROM unnest($2) w
                                 WHERE strpos(lower(cn), w) > 0)),
           s.tags,
           s.notes
      FROM scored s
     WHERE s.doc_tsv @@ $1 OR s.sim >= 0.45
     ORDER BY 4 DESC, 1
     LIMIT $3
    $q$,
        format(sim_sql, 'regexp_replace(ds.relname, ''_'', '' '', ''g'')'),
        format(sim_sql, 'COALESCE(array_to_string(cols.names, '' ''), '''')'))
    USING tsq, words, lim, array_to_string(words, ' ');
END
$$;
COMMENT ON FUNCTION lake.search_datasets(text, int) IS 'Ranked search over the datasets the caller may see: names, docs, tags, owners, glossary, annotations and column names; typos forgiven by trigram similarity; curated first, scratch and internal last';

-- =================================================================== editing
-- Whether `who` may edit the catalog entries of `rel`: superusers, catalog
-- stewards, and members of the relation's owner role. A governed raw
-- relation is owned by lake_owner, so its data owners edit it as stewards.
CREATE FUNCTION lake_internal._catalog_may_edit(who oid, rel oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._gov_is_superuser(who)
        OR lake_internal._gov_holds(who, 'lake_steward'::regrole)
        OR COALESCE((SELECT lake_internal._gov_holds(who, c.relowner) FROM pg_class c WHERE c.oid = rel), false)
$$;

CREATE FUNCTION lake_internal._catalog_require_edit(who oid, rel oid) RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF rel IS NULL OR NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                   WHERE c.oid = rel AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                                     AND lake_internal._catalog_schema_listed(n.nspname)) THEN
        RAISE EXCEPTION 'relation with oid % is not a dataset the catalog describes', rel
            USING ERRCODE = 'undefined_table',
                  HINT = 'The catalog describes tables, views, materialized views and foreign tables outside schemas lake, lake_internal and the system schemas.';
    END IF;
    IF NOT lake_internal._catalog_may_edit(who, rel) THEN
        RAISE EXCEPTION 'role "%" may not edit the catalog entry of %', lake_internal._gov_role_name(who), rel::regclass
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Owners of the relation (members of its owner role) and catalog stewards (GRANT lake_steward TO ...) edit catalog entries.';
    END IF;
    RETURN rel::regclass;
END
$$;

CREATE FUNCTION lake_internal._catalog_require_column(rel regclass, col name) RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF col IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col
                                          AND a.attnum > 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'column "%" of % does not exist', col, rel
            USING ERRCODE = 'undefined_column';
    END IF;
    RETURN col;
END
$$;

-- Clean, bounded lists of labels (tags, owners).
CREATE FUNCTION lake_internal._catalog_labels(labels text[], what text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    out text[];
BEGIN
    out := ARRAY(SELECT DISTINCT btrim(l) FROM unnest(COALESCE(labels, '{}')) l WHERE btrim(l) <> '' ORDER BY 1);
    IF cardinality(out) > 100 OR EXISTS (SELECT 1 FROM unnest(out) l WHERE length(l) > 200) THEN
        RAISE EXCEPTION 'too many or too long %: at most 100, each at most 200 characters', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN out;
END
$$;

-- Every catalog edit: args.action says which.
CREATE FUNCTION lake_internal._op_catalog_edit(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    action text := args->>'action';
    rel regclass;
    col name := NULLIF(args->>'column', '')::name;
    who name := lake_internal._gov_role_name(caller);
    new_id bigint;
    t lake.glossary_terms;
    p lake.catalog_pages;
BEGIN
    IF action IN ('set_owners', 'set_tags', 'set_doc', 'annotate', 'note', 'link_term', 'unlink_term') THEN
        rel := lake_internal._catalog_require_edit(caller, (args->>'rel')::oid);
        col := lake_internal._catalog_require_column(rel, col);
    END IF;
    CASE action
    WHEN 'set_owners' THEN
        INSERT INTO lake.catalog_datasets AS d (relid, owners, team, updated_by)
        VALUES (rel, lake_internal._catalog_labels(ARRAY(SELECT jsonb_array_elements_text(args->'owners')), 'owners'),
                NULLIF(btrim(args->>'team'), ''), who)
        -- a key left out of args (lake.load_catalog leaves out what a file does not say) keeps its value
        ON CONFLICT (relid) DO UPDATE SET owners = CASE WHEN args ? 'owners' THEN EXCLUDED.owners ELSE d.owners END,
                                          team = CASE WHEN args ? 'team' THEN EXCLUDED.team ELSE d.team END,
                                          updated_by = who, updated_at = now();
    WHEN 'set_tags' THEN
        INSERT INTO lake.catalog_datasets AS d (relid, tags, updated_by)
        VALUES (rel, lake_internal._catalog_labels(ARRAY(SELECT jsonb_array_elements_text(args->'tags')), 'tags'), who)
        ON CONFLICT (relid) DO UPDATE SET tags = EXCLUDED.tags, updated_by = who, updated_at = now();
    WHEN 'set_doc' THEN
        -- the docs are Postgres' own comments, so \d+ and every BI tool show them
        IF col IS NULL THEN
            EXECUTE format('COMMENT ON %s %s IS %L',
                           CASE (SELECT relkind FROM pg_class WHERE oid = rel)
                               WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                               WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                           rel, NULLIF(args->>'doc', ''));
        ELSE
            EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', rel, col, NULLIF(args->>'doc', ''));
        END IF;
    WHEN 'annotate', 'note' THEN
        IF length(COALESCE(args->>'body', '')) NOT BETWEEN 1 AND 10000 THEN
            RAISE EXCEPTION 'an annotation needs a body of 1 to 10000 characters'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO lake.catalog_annotations (relid, column_name, kind, body, author)
        VALUES (rel, col, CASE action WHEN 'note' THEN 'note' ELSE 'annotation' END, args->>'body', who)
        RETURNING id INTO new_id;
        RETURN jsonb_build_object('id', new_id);
    WHEN 'remove_annotation' THEN
        SELECT relid INTO rel FROM lake.catalog_annotations WHERE id = (args->>'id')::bigint;
        IF rel IS NULL THEN
            RAISE EXCEPTION 'annotation % does not exist', args->>'id' USING ERRCODE = 'no_data_found';
        END IF;
        -- its author or whoever may edit the dataset
        IF NOT EXISTS (SELECT 1 FROM lake.catalog_annotations WHERE id = (args->>'id')::bigint AND author = who) THEN
            PERFORM lake_internal._catalog_require_edit(caller, rel);
        END IF;
        DELETE FROM lake.catalog_annotations WHERE id = (args->>'id')::bigint;
    WHEN 'define_term' THEN
        SELECT * INTO t FROM lake.glossary_terms WHERE term = btrim(args->>'term');
        IF FOUND AND t.updated_by <> who AND NOT (lake_internal._gov_is_superuser(caller)
                                                  OR lake_internal._gov_holds(caller, 'lake_steward'::regrole)) THEN
            RAISE EXCEPTION 'glossary term "%" was defined by "%"; role "%" may not change it', t.term, t.updated_by, who
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Its author and catalog stewards (members of lake_steward) edit a term.';
        END IF;
        IF COALESCE(btrim(args->>'term'), '') = '' OR COALESCE(args->>'definition', '') = '' THEN
            RAISE EXCEPTION 'a glossary term needs a name and a definition' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO lake.glossary_terms (term, definition, updated_by) VALUES (btrim(args->>'term'), args->>'definition', who)
        ON CONFLICT (term) DO UPDATE SET definition = EXCLUDED.definition, updated_by = who, updated_at = now();
    WHEN 'link_term', 'unlink_term' THEN
        IF NOT EXISTS (SELECT 1 FROM lake.glossary_terms WHERE term = args->>'term') THEN
            RAISE EXCEPTION 'glossary term "%" does not exist', args->>'term'
                USING ERRCODE = 'undefined_object', HINT = 'Define it first with lake.define_term(term, definition).';
        END IF;
        IF action = 'link_term' THEN
            INSERT INTO lake.glossary_links (term, relid, column_name) VALUES (args->>'term', rel, COALESCE(col, ''))
            ON CONFLICT DO NOTHING;
        ELSE
            DELETE FROM lake.glossary_links WHERE term = args->>'term' AND relid = rel AND column_name = COALESCE(col, '');
        END IF;
    WHEN 'set_page' THEN
        SELECT * INTO p FROM lake.catalog_pages WHERE name = args->>'name';
        IF FOUND AND p.updated_by <> who AND NOT (lake_internal._gov_is_superuser(caller)
                                                  OR lake_internal._gov_holds(caller, 'lake_steward'::regrole)) THEN
            RAISE EXCEPTION 'page "%" was written by "%"; role "%" may not change it', p.name, p.updated_by, who
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Its author and catalog stewards (members of lake_steward) edit a page.';
        END IF;
        IF args->>'name' IS NULL OR args->>'name' !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' THEN
            RAISE EXCEPTION 'page name "%" is not valid', args->>'name'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use letters, digits, ".", "_" and "-", at most 128 characters, e.g. ''billing-model''.';
        END IF;
        -- a page shows up in the details of every dataset it names: the
        -- author must be allowed to edit each of them
        PERFORM lake_internal._catalog_require_edit(caller, x::oid) FROM jsonb_array_elements_text(args->'datasets') x;
        INSERT INTO lake.catalog_pages (name, title, body, datasets, terms, updated_by)
        VALUES (args->>'name', COALESCE(NULLIF(args->>'title', ''), args->>'name'), COALESCE(args->>'body', ''),
                ARRAY(SELECT x::oid::regclass FROM jsonb_array_elements_text(args->'datasets') x),
                ARRAY(SELECT x FROM jsonb_array_elements_text(args->'terms') x), who)
        ON CONFLICT (name) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body, datasets = EXCLUDED.datasets,
                                         terms = EXCLUDED.terms, updated_by = who, updated_at = now();
    WHEN 'delete_page' THEN
        SELECT * INTO p FROM lake.catalog_pages WHERE name = args->>'name';
        IF FOUND AND p.updated_by <> who AND NOT (lake_internal._gov_is_superuser(caller)
                                                  OR lake_internal._gov_holds(caller, 'lake_steward'::regrole)) THEN
            RAISE EXCEPTION 'page "%" was written by "%"; role "%" may not delete it', p.name, p.updated_by, who
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        DELETE FROM lake.catalog_pages WHERE name = args->>'name';
    ELSE
        RAISE EXCEPTION 'unknown catalog edit "%"', action USING ERRCODE = 'invalid_parameter_value';
    END CASE;
    RETURN '{}'::jsonb;
END
$$;

-- ===================================================================== usage
-- The review state of a governed dataset (raw relation or published view),
-- and which datasets are queried together with it, from the audit log (it
-- records governed relations): the other relation as the caller may see it
-- (its published view, or the raw relation for reviewers), how often, and
-- the columns used on each side. Reads the audit log as the extension, shows
-- the caller only pairs of datasets it may see.
CREATE FUNCTION lake_internal._op_catalog_usage(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel oid := (args->>'rel')::oid;
    raw regclass;
    raw_name text;
    governance jsonb;
    result jsonb;
BEGIN
    IF NOT lake_internal._catalog_visible(rel, caller) THEN
        RETURN '{}'::jsonb;
    END IF;
    -- the raw relation behind a published view, or the relation itself
    SELECT gr.relid INTO raw FROM lake.governed_relations gr JOIN lake.governed_schemas gs USING (raw_schema)
     WHERE gr.relid = rel OR to_regclass(format('%I.%I', gs.published_schema, gr.published_name)) = rel
     LIMIT 1;
    IF raw IS NULL THEN
        RETURN '{}'::jsonb;
    END IF;
    SELECT format('%I.%I', gr.raw_schema, gr.relname),
           jsonb_build_object('state', gr.state,
                              'published_view', CASE WHEN gr.published_name IS NOT NULL
                                                     THEN format('%I.%I', gs.published_schema, gr.published_name) END)
      INTO raw_name, governance
      FROM lake.governed_relations gr JOIN lake.governed_schemas gs USING (raw_schema) WHERE gr.relid = raw;
    WITH recent AS (
        SELECT a.relations, a.columns FROM lake.audit_log a
         WHERE a.logged_at > now() - interval '90 days' AND a.relations @> ARRAY[raw_name]
           AND cardinality(a.relations) > 1
         ORDER BY a.logged_at DESC LIMIT 10000
    ), pairs AS (
        SELECT o AS other, count(*) AS n,
               ARRAY(SELECT DISTINCT substr(c, length(raw_name) + 2) FROM recent r2, unnest(r2.columns) c
                      WHERE r2.relations @> ARRAY[raw_name, o] AND c LIKE raw_name || '.%' AND c NOT LIKE '%.*') AS mine,
               ARRAY(SELECT DISTINCT substr(c, length(o) + 2) FROM recent r2, unnest(r2.columns) c
                      WHERE r2.relations @> ARRAY[raw_name, o] AND c LIKE o || '.%' AND c NOT LIKE '%.*') AS theirs
          FROM recent r, unnest(r.relations) o
         WHERE o <> raw_name
         GROUP BY o
    ), shown AS (
        SELECT p.*, CASE
                 WHEN lake_internal._catalog_visible(gr.relid, caller) THEN gr.relid::regclass::text
                 WHEN pv.oid IS NOT NULL AND lake_internal._catalog_visible(pv.oid, caller) THEN pv.oid::regclass::text
               END AS dataset
          FROM pairs p
          JOIN lake.governed_relations gr ON format('%I.%I', gr.raw_schema, gr.relname) = p.other
          JOIN lake.governed_schemas gs USING (raw_schema)
          LEFT JOIN LATERAL (SELECT to_regclass(format('%I.%I', gs.published_schema, gr.published_name))::oid AS oid) pv ON true
    )
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
               'dataset', s.dataset, 'queries', s.n, 'source', 'audit log',
               'columns', s.mine, 'other_columns', s.theirs,
               'join_on', (SELECT jsonb_agg(x) FROM unnest(s.mine) x WHERE x = ANY (s.theirs)))
             ORDER BY s.n DESC, s.dataset), '[]')
      INTO result
      FROM shown s WHERE s.dataset IS NOT NULL;
    RETURN jsonb_build_object('governance', governance, 'joins', result);
END
$$;

-- =================================================================== lineage
-- In sql/catalog/lineage.sql (it reads the transformations' tables, created
-- after this file): lake_internal._catalog_lineage(rel, direction, depth),
-- _catalog_column_lineage(rel, direction, depth), _catalog_produced_by(rel).

-- ============================================================ entity details
-- The dataset `name` names, as the caller sees it: a name resolved by the
-- caller's search_path, or an unqualified name found in exactly one visible
-- schema.
-- A name resolved as to_regclass does with the session's search_path; NULL
-- for a malformed name too (the caller then gets "does not exist").
CREATE FUNCTION lake_internal._catalog_lookup(name text) RETURNS oid
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN pg_catalog.to_regclass(name);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

CREATE FUNCTION lake_internal._catalog_resolve(name text, by_path oid) RETURNS oid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel oid;
    candidates text[];
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'a dataset name is needed' USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Pass schema.table, e.g. lake.entity_details(''public.orders''); lake.search_datasets finds names.';
    END IF;
    rel := by_path;
    IF rel IS NULL AND name !~ '\.' THEN
        candidates := ARRAY(SELECT format('%I.%I', n.nspname, c.relname)
                              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE lower(c.relname) = lower(btrim(name, '"'))
                               AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                               AND lake_internal._catalog_schema_listed(n.nspname)
                               AND has_any_column_privilege(c.oid, 'SELECT')
                             ORDER BY 1);
        IF cardinality(candidates) = 1 THEN
            rel := to_regclass(candidates[1]);
        ELSIF cardinality(candidates) > 1 THEN
            RAISE EXCEPTION 'dataset name "%" is ambiguous', name USING ERRCODE = 'ambiguous_alias',
                  HINT = 'Qualify it with its schema: ' || array_to_string(candidates[1:10], ', ');
        END IF;
    END IF;
    IF rel IS NULL OR NOT has_any_column_privilege(rel, 'SELECT')
       OR NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.oid = rel AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                         AND lake_internal._catalog_schema_listed(n.nspname)) THEN
        RAISE EXCEPTION 'dataset "%" does not exist or is not visible to role "%"', name, current_user
            USING ERRCODE = 'undefined_table',
                  HINT = 'lake.search_datasets(words) lists the datasets you may read; governed data you may not read yet can be requested with lake.request_access.';
    END IF;
    RETURN rel;
END
$$;

CREATE FUNCTION lake_internal._catalog_entity(name text, by_path oid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel oid := lake_internal._catalog_resolve(name, by_path);
    c pg_class;
    d lake.catalog_datasets;
    out jsonb;
    -- governed data: review state, published view, joins from the audit log
    governed jsonb := lake_internal._privileged('catalog_usage', jsonb_build_object('rel', rel));
    -- which statements read it and what they join it with (pg_stat_statements)
    statements jsonb := lake_internal._privileged('catalog_statements', jsonb_build_object('rel', rel));
    definition text;
BEGIN
    SELECT * INTO c FROM pg_class WHERE oid = rel;
    SELECT * INTO d FROM lake.catalog_datasets WHERE relid = rel;
    -- a view's text, unless it reads a column the caller may not read; a
    -- published view's text is governance's plumbing (and names the raw
    -- relation): its lineage says where it comes from
    definition := lake_internal._catalog_view_text(rel);
    out := jsonb_build_object(
        'dataset', rel::regclass::text,
        'schema', (SELECT nspname FROM pg_namespace WHERE oid = c.relnamespace),
        'name', c.relname,
        'kind', lake_internal._catalog_kind(rel),
        'description', obj_description(rel, 'pg_class'),
        'owner_role', pg_get_userbyid(c.relowner),
        'owners', COALESCE(to_jsonb(d.owners), '[]'),
        'team', d.team,
        'tags', COALESCE(to_jsonb(d.tags), '[]'),
        'tier', lake_internal._catalog_tier(COALESCE(d.tags, '{}')),
        'columns', COALESCE((
            SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                       'name', a.attname,
                       'type', format_type(a.atttypid, a.atttypmod),
                       'nullable', NOT a.attnotnull,
                       'doc', col_description(rel, a.attnum),
                       'primary_key', EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = rel AND k.contype = 'p'
                                                AND a.attnum = ANY (k.conkey)),
                       'references', (SELECT jsonb_agg(format('%s.%I', k.confrelid::regclass,
                                                              (SELECT attname FROM pg_attribute
                                                                WHERE attrelid = k.confrelid
                                                                  AND attnum = k.confkey[array_position(k.conkey, a.attnum)])))
                                        FROM pg_constraint k WHERE k.conrelid = rel AND k.contype = 'f'
                                         AND a.attnum = ANY (k.conkey)),
                       'glossary', (SELECT jsonb_agg(gl.term ORDER BY gl.term) FROM lake.glossary_links gl
                                     WHERE gl.relid = rel AND gl.column_name = a.attname),
                       'annotations', (SELECT jsonb_agg(an.body ORDER BY an.id) FROM lake.catalog_annotations an
                                        WHERE an.relid = rel AND an.column_name = a.attname)))
                   ORDER BY a.attnum)
              FROM pg_attribute a
             WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
               AND has_column_privilege(rel, a.attnum, 'SELECT')), '[]'),
        'primary_key', (SELECT jsonb_agg(a.attname ORDER BY array_position(k.conkey, a.attnum))
                          FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = rel AND a.attnum = ANY (k.conkey)
                         WHERE k.conrelid = rel AND k.contype = 'p'),
        'foreign_keys', COALESCE((
            SELECT jsonb_agg(jsonb_build_object('columns', (SELECT jsonb_agg(attname ORDER BY array_position(k.conkey, attnum))
                                                              FROM pg_attribute WHERE attrelid = rel AND attnum = ANY (k.conkey)),
                                                'references', k.confrelid::regclass::text,
                                                'referenced_columns', (SELECT jsonb_agg(attname ORDER BY array_position(k.confkey, attnum))
                                                              FROM pg_attribute WHERE attrelid = k.confrelid AND attnum = ANY (k.confkey)))
                             ORDER BY k.conname)
              FROM pg_constraint k WHERE k.conrelid = rel AND k.contype = 'f'
               AND has_any_column_privilege(k.confrelid, 'SELECT')), '[]'),
        'referenced_by', COALESCE((
            SELECT jsonb_agg(jsonb_build_object('dataset', k.conrelid::regclass::text,
                                                'columns', (SELECT jsonb_agg(attname ORDER BY array_position(k.conkey, attnum))
                                                              FROM pg_attribute WHERE attrelid = k.conrelid AND attnum = ANY (k.conkey)))
                             ORDER BY k.conrelid::regclass::text)
              FROM pg_constraint k WHERE k.confrelid = rel AND k.contype = 'f'
               AND has_any_column_privilege(k.conrelid, 'SELECT')), '[]'),
        'typical_joins', (
            SELECT COALESCE(jsonb_agg(j ORDER BY j->>'source' DESC, j->>'dataset'), '[]') FROM (
                SELECT jsonb_build_object('dataset', k.confrelid::regclass::text, 'source', 'foreign key',
                                          'join_on', (SELECT jsonb_agg(format('%I = %s.%I', a1.attname, k.confrelid::regclass, a2.attname))
                                                        FROM unnest(k.conkey, k.confkey) u(c1, c2)
                                                        JOIN pg_attribute a1 ON a1.attrelid = rel AND a1.attnum = u.c1
                                                        JOIN pg_attribute a2 ON a2.attrelid = k.confrelid AND a2.attnum = u.c2)) AS j
                  FROM pg_constraint k WHERE k.conrelid = rel AND k.contype = 'f' AND has_any_column_privilege(k.confrelid, 'SELECT')
                UNION ALL
                SELECT jsonb_build_object('dataset', k.conrelid::regclass::text, 'source', 'foreign key',
                                          'join_on', (SELECT jsonb_agg(format('%I = %s.%I', a2.attname, k.conrelid::regclass, a1.attname))
                                                        FROM unnest(k.conkey, k.confkey) u(c1, c2)
                                                        JOIN pg_attribute a1 ON a1.attrelid = k.conrelid AND a1.attnum = u.c1
                                                        JOIN pg_attribute a2 ON a2.attrelid = rel AND a2.attnum = u.c2))
                  FROM pg_constraint k WHERE k.confrelid = rel AND k.contype = 'f' AND has_any_column_privilege(k.conrelid, 'SELECT')
                UNION ALL
                SELECT u FROM jsonb_array_elements(COALESCE(governed->'joins', '[]')) u
                UNION ALL
                SELECT u FROM jsonb_array_elements(COALESCE(statements->'joins', '[]')) u
            ) js),
        'usage', jsonb_strip_nulls(jsonb_build_object(
            'pg_stat_statements', CASE WHEN statements IS NOT NULL
                                       THEN jsonb_build_object('statements', statements->'statements',
                                                               'calls', statements->'calls') END)),
        'annotations', COALESCE((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                    'id', an.id, 'column', an.column_name, 'body', an.body,
                                    'author', an.author, 'at', an.created_at)) ORDER BY an.id)
                                   FROM lake.catalog_annotations an WHERE an.relid = rel AND an.kind = 'annotation'), '[]'),
        'notes', COALESCE((SELECT jsonb_agg(jsonb_build_object('id', an.id, 'body', an.body, 'author', an.author,
                                                              'at', an.created_at) ORDER BY an.id)
                             FROM lake.catalog_annotations an WHERE an.relid = rel AND an.kind = 'note'), '[]'),
        'glossary', COALESCE((SELECT jsonb_agg(jsonb_build_object('term', gt.term, 'definition', gt.definition,
                                                                  'column', NULLIF(gl.column_name, ''))
                                                ORDER BY gt.term, gl.column_name)
                                FROM lake.glossary_links gl JOIN lake.glossary_terms gt USING (term)
                               WHERE gl.relid = rel), '[]'),
        -- relation and column level, to any depth (a cycle ends a path)
        'lineage', jsonb_build_object('upstream', lake_internal._catalog_lineage(rel, 'up', 1000),
                                      'downstream', lake_internal._catalog_lineage(rel, 'down', 1000),
                                      'columns', jsonb_build_object(
                                          'upstream', lake_internal._catalog_column_lineage(rel, 'up', 1000),
                                          'downstream', lake_internal._catalog_column_lineage(rel, 'down', 1000))),
        'produced_by', lake_internal._catalog_produced_by(rel),
        'definition', definition,
        'rows', jsonb_build_object('estimate', CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
                                   'source', CASE WHEN c.reltuples >= 0 THEN 'planner statistics (ANALYZE)'
                                                  ELSE 'unknown: never analyzed' END),
        'freshness', (SELECT jsonb_strip_nulls(jsonb_build_object(
                                 'last_analyze', greatest(s.last_analyze, s.last_autoanalyze),
                                 'last_vacuum', greatest(s.last_vacuum, s.last_autovacuum),
                                 'rows_inserted', s.n_tup_ins, 'rows_updated', s.n_tup_upd, 'rows_deleted', s.n_tup_del))
                        FROM pg_stat_all_tables s WHERE s.relid = rel),
        'pages', COALESCE((SELECT jsonb_agg(jsonb_build_object('name', p.name, 'title', p.title) ORDER BY p.name)
                             FROM lake.catalog_pages p
                            WHERE rel = ANY (p.datasets::oid[])
                               OR p.terms && ARRAY(SELECT gl.term FROM lake.glossary_links gl WHERE gl.relid = rel)), '[]'));
    IF governed ? 'governance' THEN
        out := out || jsonb_build_object('governance', governed->'governance');
    END IF;
    RETURN out;
END
$$;
-- The name is resolved here, with the caller's own search_path (the
-- function pins none; it runs as the caller and calls only qualified names).
CREATE FUNCTION lake.entity_details(name text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT lake_internal._catalog_entity($1, lake_internal._catalog_lookup($1))
$$;
COMMENT ON FUNCTION lake.entity_details(text) IS 'Everything an analyst or agent needs to query a dataset correctly: columns with docs and keys, joins, owners, tags, annotations, notes, glossary, lineage, definition, size and freshness, pages; filtered by the caller''s access';

-- ============================================================ introspection
-- The most frequent values of one column, as the caller (its own
-- privileges, masks and row filters apply), from a bounded sample of rows:
-- safe to call on any size of table.
CREATE FUNCTION lake.sample_values(rel regclass, col name, lim int DEFAULT 20, sample_rows int DEFAULT 100000)
RETURNS TABLE (value text, n bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF lim IS NULL OR lim NOT BETWEEN 1 AND 1000 OR sample_rows IS NULL OR sample_rows NOT BETWEEN 1 AND 10000000 THEN
        RAISE EXCEPTION 'lake.sample_values: lim must be 1..1000 and sample_rows 1..10000000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col
                      AND a.attnum > 0 AND NOT a.attisdropped) THEN
        RAISE EXCEPTION 'column "%" of % does not exist', col, rel USING ERRCODE = 'undefined_column',
              HINT = 'lake.entity_details(name) lists the columns you may read.';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT v::text, count(*) FROM (SELECT %I AS v FROM %s LIMIT %s) s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s',
        col, rel, sample_rows, lim);
END
$$;
COMMENT ON FUNCTION lake.sample_values(regclass, name, int, int) IS 'The most frequent values of a column in a bounded sample of rows, read as the caller (grants, masks and row filters apply)';

-- ===================================================================== edits
CREATE FUNCTION lake.set_dataset_owners(rel regclass, owners text[], team text DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'set_owners', 'rel', rel::oid, 'owners', to_jsonb(owners), 'team', team))
$$;
COMMENT ON FUNCTION lake.set_dataset_owners(regclass, text[], text) IS 'Catalog: set the owners (people or teams) of a dataset; owners of the relation and stewards only';

CREATE FUNCTION lake.set_dataset_tags(rel regclass, tags text[]) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'set_tags', 'rel', rel::oid, 'tags', to_jsonb(tags)))
$$;
COMMENT ON FUNCTION lake.set_dataset_tags(regclass, text[]) IS 'Catalog: set the tags of a dataset (curated, scratch, internal or free tags); owners of the relation and stewards only';

CREATE FUNCTION lake.set_doc(rel regclass, doc text, col name DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'set_doc', 'rel', rel::oid, 'doc', doc, 'column', col))
$$;
COMMENT ON FUNCTION lake.set_doc(regclass, text, name) IS 'Catalog: document a dataset or one of its columns (stored as the Postgres COMMENT); owners of the relation and stewards only';

CREATE FUNCTION lake.annotate(rel regclass, body text, col name DEFAULT NULL) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'annotate', 'rel', rel::oid, 'body', body, 'column', col))->>'id')::bigint
$$;
COMMENT ON FUNCTION lake.annotate(regclass, text, name) IS 'Catalog: add a human annotation to a dataset or column; returns its id';

CREATE FUNCTION lake.add_note(rel regclass, body text) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'note', 'rel', rel::oid, 'body', body))->>'id')::bigint
$$;
COMMENT ON FUNCTION lake.add_note(regclass, text) IS 'Catalog: add a note of correction (e.g. "always exclude internal accounts") shown wherever the dataset appears; returns its id';

CREATE FUNCTION lake.remove_annotation(id bigint) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object('action', 'remove_annotation', 'id', id))
$$;
COMMENT ON FUNCTION lake.remove_annotation(bigint) IS 'Catalog: remove an annotation or note (its author, owners of the relation, stewards)';

CREATE FUNCTION lake.define_term(term text, definition text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'define_term', 'term', term, 'definition', definition))
$$;
COMMENT ON FUNCTION lake.define_term(text, text) IS 'Catalog: define or redefine a glossary term (its author or stewards)';

CREATE FUNCTION lake.link_term(term text, rel regclass, col name DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'link_term', 'term', term, 'rel', rel::oid, 'column', col))
$$;
COMMENT ON FUNCTION lake.link_term(text, regclass, name) IS 'Catalog: link a glossary term to a dataset or column; owners of the relation and stewards only';

CREATE FUNCTION lake.unlink_term(term text, rel regclass, col name DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'unlink_term', 'term', term, 'rel', rel::oid, 'column', col))
$$;
COMMENT ON FUNCTION lake.unlink_term(text, regclass, name) IS 'Catalog: remove a glossary link; owners of the relation and stewards only';

CREATE FUNCTION lake.set_page(name text, body text, title text DEFAULT NULL,
                              datasets regclass[] DEFAULT '{}', terms text[] DEFAULT '{}') RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object(
        'action', 'set_page', 'name', name, 'body', body, 'title', title,
        'datasets', (SELECT COALESCE(jsonb_agg(d::oid), '[]') FROM unnest(datasets) d), 'terms', to_jsonb(terms)))
$$;
COMMENT ON FUNCTION lake.set_page(text, text, text, regclass[], text[]) IS 'Catalog: write a data-model page (markdown) and link it to the datasets and terms it explains (its author or stewards)';

CREATE FUNCTION lake.delete_page(name text) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM lake_internal._privileged('catalog_edit', jsonb_build_object('action', 'delete_page', 'name', name))
$$;
COMMENT ON FUNCTION lake.delete_page(text) IS 'Catalog: delete a data-model page (its author or stewards)';
