-- townlake metadata catalog (issue 17): lineage, table and column level, and
-- the YAML catalog files. Loaded after the transformations' SQL, whose
-- tables it reads (src/catalog/mod.rs).
--
-- Edges come from two producers today, each an edge kind (`via`):
--   view   the view's definition, analysed when asked, as the caller;
--   model  a transformation model's SQL, analysed when the model is defined,
--          as the model's owner (lake.model_column_lineage).
-- A third (pipelines, source → target) joins as another UNION branch of
-- _catalog_relation_edges and _catalog_column_edges.
--
-- Everything here runs as the caller: an edge is shown only when the caller
-- may read the columns at both ends, and the text of an expression only
-- when the caller may read every column it reads.

-- ===================================================================== tables
CREATE TABLE lake.model_column_lineage (
    model text NOT NULL REFERENCES lake.models ON DELETE CASCADE ON UPDATE CASCADE,
    target regclass NOT NULL,
    target_column name NOT NULL,
    kind text NOT NULL CHECK (kind IN ('direct', 'derived')),
    source regclass NOT NULL,
    source_column name NOT NULL
);
CREATE INDEX ON lake.model_column_lineage (model);
CREATE INDEX ON lake.model_column_lineage (target);
CREATE INDEX ON lake.model_column_lineage (source);
COMMENT ON TABLE lake.model_column_lineage IS 'Catalog: which source columns each output column of a model reads (direct: a copy of one column; derived: computed), from Postgres'' analysis of the model''s SQL when it was defined';

CREATE TABLE lake.model_columns (
    model text NOT NULL REFERENCES lake.models ON DELETE CASCADE ON UPDATE CASCADE,
    target regclass NOT NULL,
    target_column name NOT NULL,
    position int NOT NULL,
    kind text NOT NULL CHECK (kind IN ('direct', 'derived')),
    expression text,
    source_count int NOT NULL,
    PRIMARY KEY (model, target_column)
);
COMMENT ON TABLE lake.model_columns IS 'Catalog: the output columns of each model and the expression that computes each (shown only to roles that may read every column it reads)';

-- Rows of columns the caller may read; an expression only when the caller
-- may read all its sources (the count of the source rows it sees through
-- row security is the full count).
ALTER TABLE lake.model_column_lineage ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.model_column_lineage FOR SELECT
    USING (lake_internal._catalog_column_visible(target, target_column, current_user::regrole)
           AND lake_internal._catalog_column_visible(source, source_column, current_user::regrole));
ALTER TABLE lake.model_columns ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.model_columns FOR SELECT
    USING (lake_internal._catalog_column_visible(target, target_column, current_user::regrole)
           AND source_count = (SELECT count(*) FROM lake.model_column_lineage l
                                WHERE l.model = model_columns.model AND l.target_column = model_columns.target_column));
GRANT SELECT ON lake.model_column_lineage, lake.model_columns TO PUBLIC;

DO $config_dump$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['lake.model_column_lineage', 'lake.model_columns'] LOOP
        PERFORM pg_catalog.pg_extension_config_dump(t::regclass, '');
    END LOOP;
END
$config_dump$;

-- ========================================================= relation lineage
-- Direct relation-level edges from view definitions (pg_depend of their
-- rewrite rules), with the source columns each view reads.
CREATE FUNCTION lake_internal._catalog_view_edges()
RETURNS TABLE (source oid, target oid, source_columns name[])
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.refobjid, rw.ev_class,
           ARRAY(SELECT a.attname FROM pg_depend d2 JOIN pg_attribute a
                   ON a.attrelid = d2.refobjid AND a.attnum = d2.refobjsubid
                  WHERE d2.classid = 'pg_rewrite'::regclass AND d2.objid = rw.oid
                    AND d2.refobjid = d.refobjid AND d2.refobjsubid > 0
                  ORDER BY a.attnum)
      FROM pg_rewrite rw
      JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> rw.ev_class
      JOIN pg_class src ON src.oid = d.refobjid AND src.relkind IN ('r', 'p', 'v', 'm', 'f')
     WHERE rw.rulename = '_RETURN'
     GROUP BY d.refobjid, rw.ev_class, rw.oid
$$;

-- Every relation-level edge: views, and models as far as the caller may
-- see their column lineage (a model materialized as a view is one model
-- edge, not also a view edge).
CREATE FUNCTION lake_internal._catalog_relation_edges()
RETURNS TABLE (source oid, target oid, source_columns name[], via text, producer text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT v.source, v.target, v.source_columns, 'view', NULL
      FROM lake_internal._catalog_view_edges() v
     WHERE NOT EXISTS (SELECT 1 FROM lake.model_column_lineage l WHERE l.target::oid = v.target)
    UNION ALL
    SELECT l.source::oid, l.target::oid, array_agg(DISTINCT l.source_column ORDER BY l.source_column), 'model', l.model
      FROM lake.model_column_lineage l
      JOIN pg_class s ON s.oid = l.source::oid
      JOIN pg_class t ON t.oid = l.target::oid
     GROUP BY l.source, l.target, l.model
    UNION ALL
    -- relations a model reads with no output column coming from them
    -- (count(*) over them, a filter, EXISTS): an edge without columns
    SELECT s.oid, t.oid, '{}'::name[], 'model', m.name
      FROM lake.model_dependencies d
      JOIN lake.models m ON m.name = d.model
     CROSS JOIN LATERAL (SELECT to_regclass(format('%I.%I', d.relation_schema, d.relation_name))::oid AS oid) s
     CROSS JOIN LATERAL (SELECT to_regclass(format('%I.%I', m.target_schema, m.target_name))::oid AS oid) t
     WHERE s.oid IS NOT NULL AND t.oid IS NOT NULL AND s.oid <> t.oid
       AND NOT EXISTS (SELECT 1 FROM lake.model_column_lineage l
                        WHERE l.model = m.name AND l.source::oid = s.oid)
    UNION ALL
    -- pipelines copying a relation (row security shows the caller those of
    -- its owner roles): every copied column, by name
    SELECT s.oid, t.oid, p.columns::name[], 'pipeline', p.name
      FROM lake.pipelines p
     CROSS JOIN LATERAL (SELECT to_regclass(regexp_replace(p.source_sql, '^SELECT \* FROM ', ''))::oid AS oid) s
     CROSS JOIN LATERAL (SELECT to_regclass(format('%I.%I', p.target_schema, p.target_name))::oid AS oid) t
     WHERE p.source_kind = 'relation' AND p.source_sql ~ '^SELECT \* FROM '
       AND s.oid IS NOT NULL AND t.oid IS NOT NULL
$$;

-- Lineage of `rel` in one direction ('up' or 'down') to `depth` levels, as
-- the caller may see it: invisible nodes are counted, not named.
CREATE FUNCTION lake_internal._catalog_lineage(rel oid, direction text, depth int) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE edges AS MATERIALIZED (SELECT * FROM lake_internal._catalog_relation_edges()),
    -- cols: the columns of `src` (the upstream end of the edge) the edge reads
    walk(node, via, level, src, cols, kind, producer, path) AS (
        SELECT CASE direction WHEN 'up' THEN e.source ELSE e.target END,
               CASE direction WHEN 'up' THEN e.target ELSE e.source END, 1, e.source, e.source_columns,
               e.via, e.producer,
               ARRAY[rel, CASE direction WHEN 'up' THEN e.source ELSE e.target END]
          FROM edges e WHERE CASE direction WHEN 'up' THEN e.target ELSE e.source END = rel
        UNION ALL
        SELECT CASE direction WHEN 'up' THEN e.source ELSE e.target END, w.node, w.level + 1, e.source, e.source_columns,
               e.via, e.producer,
               w.path || CASE direction WHEN 'up' THEN e.source ELSE e.target END
          FROM walk w JOIN edges e ON CASE direction WHEN 'up' THEN e.target ELSE e.source END = w.node
         WHERE w.level < depth AND NOT (CASE direction WHEN 'up' THEN e.source ELSE e.target END = ANY (w.path))
    )
    SELECT jsonb_build_object(
        'nodes', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                     'dataset', w.node::regclass::text, 'level', w.level,
                     'kind', lake_internal._catalog_kind(w.node),
                     CASE direction WHEN 'up' THEN 'feeds' ELSE 'fed_by' END, w.via::regclass::text,
                     'columns', ARRAY(SELECT c FROM unnest(w.cols) c WHERE has_column_privilege(w.src, c, 'SELECT')),
                     'via', CASE w.kind WHEN 'view' THEN 'view definition' ELSE w.kind || ' ' || w.producer END)
                   ORDER BY w.level, w.node::regclass::text, w.via::regclass::text)
                     FROM walk w WHERE has_any_column_privilege(w.node, 'SELECT')), '[]'),
        'hidden', (SELECT count(DISTINCT w.node) FROM walk w WHERE NOT has_any_column_privilege(w.node, 'SELECT')))
$$;

-- The text of view `rel` when the caller may read every column it reads (a
-- published view's text is governance's plumbing: never).
CREATE FUNCTION lake_internal._catalog_view_text(rel oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_get_viewdef(rel, true)
     WHERE EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = rel AND c.relkind IN ('v', 'm'))
       AND lake_internal._catalog_kind(rel) <> 'published view'
       AND NOT EXISTS (
           SELECT 1 FROM pg_rewrite rw
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                             AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> rel
             JOIN pg_class s ON s.oid = d.refobjid AND s.relkind IN ('r', 'p', 'v', 'm', 'f')
            WHERE rw.ev_class = rel AND rw.rulename = '_RETURN'
              AND CASE WHEN d.refobjsubid > 0 THEN NOT has_column_privilege(d.refobjid, d.refobjsubid::int2, 'SELECT')
                       ELSE NOT has_any_column_privilege(d.refobjid, 'SELECT') END)
$$;

-- =========================================================== column lineage
-- The column-level edges into `rel` ('up') or out of it ('down') that the
-- caller may see. `expression` is the text computing the target column,
-- shown only when the caller may read every column it reads.
CREATE FUNCTION lake_internal._catalog_column_edges(rel oid, direction text)
RETURNS TABLE (source oid, source_column name, target oid, target_column name,
               via text, producer text, kind text, expression text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    -- models: the rows row security shows the caller
    SELECT l.source::oid, l.source_column, l.target::oid, l.target_column, 'model', l.model, l.kind, mc.expression
      FROM lake.model_column_lineage l
      LEFT JOIN lake.model_columns mc ON mc.model = l.model AND mc.target_column = l.target_column
     WHERE CASE direction WHEN 'up' THEN l.target::oid = rel ELSE l.source::oid = rel END
       AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = l.source::oid)
       AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = l.target::oid)
    UNION ALL
    -- views: their definitions, analysed now, as the caller
    (WITH views AS (
        SELECT c.oid FROM pg_class c
         WHERE direction = 'up' AND c.oid = rel AND c.relkind IN ('v', 'm')
        UNION
        SELECT rw.ev_class FROM pg_rewrite rw
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.refobjid = rel
         WHERE direction = 'down' AND rw.rulename = '_RETURN' AND rw.ev_class <> rel
    ), cols AS MATERIALIZED (
        SELECT v.oid AS view, vc.target_column, vc.kind, vc.expression, vc.source, a.attname,
               has_column_privilege(vc.source, a.attnum, 'SELECT') AS seen
          FROM views v
         CROSS JOIN LATERAL lake_internal._catalog_view_columns(v.oid) vc
          JOIN pg_attribute a ON a.attrelid = vc.source AND NOT a.attisdropped
                             AND (a.attnum = vc.source_attnum OR (vc.source_attnum = 0 AND a.attnum > 0))
         -- a model's view: the model's own rows describe it
         WHERE NOT EXISTS (SELECT 1 FROM lake.model_column_lineage l WHERE l.target::oid = v.oid)
    ), judged AS (
        SELECT c.*, bool_and(c.seen) OVER (PARTITION BY c.view, c.target_column) AS complete FROM cols c
    )
    SELECT j.source, j.attname, j.view, j.target_column::name, 'view', j.view::regclass::text, j.kind,
           CASE WHEN j.complete THEN j.expression END
      FROM judged j
     WHERE j.seen AND has_column_privilege(j.view, j.target_column, 'SELECT')
       AND (direction = 'up' OR j.source = rel))
    UNION ALL
    -- pipelines: a direct copy of each column the caller may read at both ends
    SELECT e.source, c.col, e.target, c.col, 'pipeline', e.producer, 'direct', NULL
      FROM lake_internal._catalog_relation_edges() e
     CROSS JOIN LATERAL unnest(e.source_columns) AS c(col)
     WHERE e.via = 'pipeline'
       AND CASE direction WHEN 'up' THEN e.target = rel ELSE e.source = rel END
       AND has_column_privilege(e.source, c.col::text, 'SELECT')
       AND has_column_privilege(e.target, c.col::text, 'SELECT')
$$;

-- Column lineage of `rel` to `depth` levels: first the relations it is
-- connected to, then the column edges among them, followed column by column.
CREATE FUNCTION lake_internal._catalog_column_lineage(rel oid, direction text, depth int) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH RECURSIVE rel_edges AS MATERIALIZED (SELECT * FROM lake_internal._catalog_relation_edges()),
    rels(node, level, path) AS (
        SELECT rel, 0, ARRAY[rel]
        UNION ALL
        SELECT CASE direction WHEN 'up' THEN e.source ELSE e.target END, r.level + 1,
               r.path || CASE direction WHEN 'up' THEN e.source ELSE e.target END
          FROM rels r JOIN rel_edges e ON CASE direction WHEN 'up' THEN e.target ELSE e.source END = r.node
         WHERE r.level < depth AND NOT (CASE direction WHEN 'up' THEN e.source ELSE e.target END = ANY (r.path))
    ), edges AS MATERIALIZED (
        SELECT DISTINCT e.* FROM (SELECT DISTINCT node FROM rels) r,
               LATERAL lake_internal._catalog_column_edges(r.node, direction) e
    ), walk(source, source_column, target, target_column, via, producer, kind, expression, level, path) AS (
        SELECT e.*, 1, ARRAY[e.source::text || '.' || e.source_column, e.target::text || '.' || e.target_column]
          FROM edges e WHERE CASE direction WHEN 'up' THEN e.target ELSE e.source END = rel
        UNION ALL
        SELECT e.*, w.level + 1,
               w.path || CASE direction WHEN 'up' THEN e.source::text || '.' || e.source_column
                                        ELSE e.target::text || '.' || e.target_column END
          FROM walk w JOIN edges e
            ON CASE direction WHEN 'up' THEN e.target = w.source AND e.target_column = w.source_column
                              ELSE e.source = w.target AND e.source_column = w.target_column END
         WHERE w.level < depth
           AND NOT (CASE direction WHEN 'up' THEN e.source::text || '.' || e.source_column
                                   ELSE e.target::text || '.' || e.target_column END = ANY (w.path))
    ), firsts AS (
        -- an edge reached along several paths: at its nearest level
        SELECT DISTINCT ON (source, source_column, target, target_column, via) *
          FROM walk ORDER BY source, source_column, target, target_column, via, level
    )
    SELECT COALESCE(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'level', f.level,
               'dataset', f.target::regclass::text, 'column', f.target_column,
               'from_dataset', f.source::regclass::text, 'from_column', f.source_column,
               'via', f.via, 'producer', f.producer, 'kind', f.kind, 'expression', f.expression))
             ORDER BY f.level, f.target::regclass::text, f.target_column, f.source::regclass::text, f.source_column), '[]')
      FROM firsts f
$$;

-- What produces `rel` and what each of its columns means: the model's SQL
-- (for members of the model's owner role, as lake.models shows it) or the
-- view's definition, and per output column the columns it reads and the
-- expression computing it. NULL for a relation nothing produces.
CREATE FUNCTION lake_internal._catalog_produced_by(rel oid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH e AS MATERIALIZED (SELECT * FROM lake_internal._catalog_column_edges(rel, 'up')),
    cols AS (
        SELECT e.target_column, min(e.kind) AS kind, min(e.expression) AS expression,
               jsonb_agg(jsonb_build_object('dataset', e.source::regclass::text, 'column', e.source_column)
                         ORDER BY e.source::regclass::text, e.source_column) AS sources
          FROM e GROUP BY e.target_column
    ), own AS (
        -- columns that read no column (count(*), constants) have no edges
        SELECT mc.target_column::text AS target_column, mc.kind, mc.expression, 'model' AS via, mc.model AS producer
          FROM lake.model_columns mc WHERE mc.target::oid = rel AND mc.source_count = 0
        UNION ALL
        SELECT vc.target_column, vc.kind, vc.expression, 'view', rel::regclass::text
          FROM lake_internal._catalog_view_columns(rel) vc
         WHERE vc.source IS NULL AND NOT EXISTS (SELECT 1 FROM lake.model_column_lineage l WHERE l.target::oid = rel)
    ), producer AS (
        SELECT x.via, x.producer FROM (SELECT e.via, e.producer FROM e UNION ALL SELECT o.via, o.producer FROM own o) x
         GROUP BY x.via, x.producer ORDER BY count(*) DESC LIMIT 1
    )
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'via', p.via,
               'model', CASE p.via WHEN 'model' THEN p.producer END,
               'sql', CASE p.via
                          WHEN 'model' THEN (SELECT m.sql FROM lake.models m WHERE m.name = p.producer)
                          WHEN 'view' THEN lake_internal._catalog_view_text(rel) END,
               'columns', COALESCE((
                   SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                              'column', a.attname, 'kind', COALESCE(c.kind, o.kind),
                              'expression', COALESCE(c.expression, o.expression),
                              'sources', COALESCE(c.sources, '[]')))
                            ORDER BY a.attnum)
                     FROM pg_attribute a LEFT JOIN cols c ON c.target_column = a.attname
                     LEFT JOIN own o ON o.target_column = a.attname
                    WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
                      AND has_column_privilege(rel, a.attnum, 'SELECT')), '[]')))
      FROM producer p
$$;

-- ============================================== usage from pg_stat_statements
-- A relation a statement's text names: schema-qualified, or the one
-- relation of that name in the listed schemas (NULL when there are several).
CREATE FUNCTION lake_internal._catalog_named_relation(schema text, name text) RETURNS oid
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN schema IS NOT NULL THEN
               (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = schema AND c.relname = name AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))
           ELSE (SELECT min(c.oid::int8)::oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.relname = name AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                    AND lake_internal._catalog_schema_listed(n.nspname)
                 HAVING count(*) = 1) END
$$;

-- How often `rel` is queried and which datasets it is joined with, on which
-- columns, from pg_stat_statements (when it is installed in this database).
-- Its texts are every role's: they are read here as the extension owner and
-- only parsed (lake_internal._catalog_statement_usage runs nothing of them);
-- the caller gets counts, and joins only with datasets and on columns it
-- may read, never a text.
CREATE FUNCTION lake_internal._op_catalog_statements(caller oid, args jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel oid := (args->>'rel')::oid;
    pss name;
    rname name;
    result jsonb;
BEGIN
    SELECT n.nspname INTO pss FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_stat_statements';
    IF pss IS NULL OR NOT lake_internal._catalog_visible(rel, caller) THEN
        RETURN NULL;
    END IF;
    SELECT relname INTO rname FROM pg_class WHERE oid = rel;
    EXECUTE format($q$
        WITH st AS (
            SELECT s.userid, s.queryid, s.calls, lake_internal._catalog_statement_usage(s.query) AS u
              FROM %I.pg_stat_statements s
             WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND strpos(lower(s.query), lower($1)) > 0
             LIMIT 5000
        ), mine AS (
            SELECT st.* FROM st
             WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(st.u->'relations') r
                            WHERE lake_internal._catalog_named_relation(r->>0, r->>1) = $2)
        ), pairs AS (
            -- each join condition with this relation on one side, seen from it
            SELECT m.userid, m.queryid, m.calls, o.rel AS other, a.col AS mine, o.col AS theirs
              FROM mine m, jsonb_array_elements(m.u->'joins') j,
                   LATERAL (SELECT j->0 AS x, j->1 AS y UNION ALL SELECT j->1, j->0) s,
                   LATERAL (SELECT s.x->>2 AS col) a,
                   LATERAL (SELECT lake_internal._catalog_named_relation(s.y->>0, s.y->>1) AS rel, s.y->>2 AS col) o
             WHERE lake_internal._catalog_named_relation(s.x->>0, s.x->>1) = $2 AND o.rel IS NOT NULL AND o.rel <> $2
        ), shown AS (
            SELECT p.* FROM pairs p
             WHERE lake_internal._catalog_visible(p.other, $3)
               AND EXISTS (SELECT 1 FROM pg_attribute at WHERE at.attrelid = $2 AND at.attname = p.mine AND at.attnum > 0
                              AND NOT at.attisdropped AND has_column_privilege($3, $2, at.attnum, 'SELECT'))
               AND EXISTS (SELECT 1 FROM pg_attribute at WHERE at.attrelid = p.other AND at.attname = p.theirs AND at.attnum > 0
                              AND NOT at.attisdropped AND has_column_privilege($3, p.other, at.attnum, 'SELECT'))
        )
        SELECT jsonb_build_object(
            'statements', (SELECT count(*) FROM mine), 'calls', (SELECT COALESCE(sum(calls), 0) FROM mine),
            'joins', COALESCE((SELECT jsonb_agg(j ORDER BY j->>'dataset') FROM (
                SELECT jsonb_build_object('dataset', sh.other::regclass::text, 'source', 'pg_stat_statements',
                                          'statements', count(DISTINCT (sh.userid, sh.queryid)),
                                          'calls', (SELECT sum(d.calls) FROM (SELECT DISTINCT sh2.userid, sh2.queryid, sh2.calls
                                                                                FROM shown sh2 WHERE sh2.other = sh.other) d),
                                          'join_on', jsonb_agg(DISTINCT format('%%I = %%s.%%I', sh.mine, sh.other::regclass, sh.theirs))) AS j
                  FROM shown sh GROUP BY sh.other) js), '[]'))
    $q$, pss) INTO result USING rname, rel, caller;
    RETURN result;
EXCEPTION WHEN object_not_in_prerequisite_state THEN
    -- installed in the database but not preloaded by the server: no data
    RETURN NULL;
END
$$;

-- =============================================================== YAML files
-- The catalog's human parts as one jsonb document, as the caller sees them:
-- datasets (of `schemas`, or of every listed schema) with owners, team,
-- tags, docs, notes, annotations and glossary links, per dataset and column;
-- every glossary term; every page (naming only datasets the caller sees).
CREATE FUNCTION lake_internal._catalog_export(schemas text[]) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH ds AS (
        SELECT c.oid AS rel, format('%I.%I', n.nspname, c.relname) AS name
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND lake_internal._catalog_schema_listed(n.nspname)
           AND (schemas IS NULL OR n.nspname = ANY (schemas))
           AND has_any_column_privilege(c.oid, 'SELECT')
    ), body AS (
        SELECT ds.name, jsonb_strip_nulls(jsonb_build_object(
                   'owners', to_jsonb(NULLIF(cd.owners, '{}')),
                   'team', cd.team,
                   'tags', to_jsonb(NULLIF(cd.tags, '{}')),
                   'doc', obj_description(ds.rel, 'pg_class'),
                   'notes', (SELECT jsonb_agg(an.body ORDER BY an.id) FROM lake.catalog_annotations an
                              WHERE an.relid = ds.rel AND an.kind = 'note' AND an.column_name IS NULL),
                   'annotations', (SELECT jsonb_agg(an.body ORDER BY an.id) FROM lake.catalog_annotations an
                                    WHERE an.relid = ds.rel AND an.kind = 'annotation' AND an.column_name IS NULL),
                   'terms', (SELECT jsonb_agg(gl.term ORDER BY gl.term) FROM lake.glossary_links gl
                              WHERE gl.relid = ds.rel AND gl.column_name = ''),
                   'columns', (SELECT jsonb_object_agg(col.attname, col.body) FROM (
                                   SELECT a.attname, jsonb_strip_nulls(jsonb_build_object(
                                       'doc', col_description(ds.rel, a.attnum),
                                       'annotations', (SELECT jsonb_agg(an.body ORDER BY an.id) FROM lake.catalog_annotations an
                                                        WHERE an.relid = ds.rel AND an.column_name = a.attname),
                                       'terms', (SELECT jsonb_agg(gl.term ORDER BY gl.term) FROM lake.glossary_links gl
                                                  WHERE gl.relid = ds.rel AND gl.column_name = a.attname))) AS body
                                     FROM pg_attribute a
                                    WHERE a.attrelid = ds.rel AND a.attnum > 0 AND NOT a.attisdropped
                                      AND has_column_privilege(ds.rel, a.attnum, 'SELECT')) col
                                WHERE col.body <> '{}'))) AS b
          FROM ds LEFT JOIN lake.catalog_datasets cd ON cd.relid = ds.rel
    )
    SELECT jsonb_build_object(
        'townlake_catalog', 1,
        'datasets', COALESCE((SELECT jsonb_object_agg(name, b) FROM body WHERE b <> '{}'), '{}'),
        'glossary', COALESCE((SELECT jsonb_object_agg(term, definition) FROM lake.glossary_terms), '{}'),
        'pages', COALESCE((SELECT jsonb_object_agg(p.name, jsonb_build_object(
                               'title', p.title, 'body', p.body, 'terms', to_jsonb(p.terms),
                               'datasets', to_jsonb(ARRAY(SELECT d::text FROM unnest(p.datasets) d
                                                           WHERE has_any_column_privilege(d, 'SELECT') ORDER BY 1))))
                             FROM lake.catalog_pages p), '{}'))
$$;

CREATE FUNCTION lake.export_catalog(schemas text[] DEFAULT NULL) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT lake_internal._catalog_json_to_yaml(lake_internal._catalog_export(schemas))
$$;
COMMENT ON FUNCTION lake.export_catalog(text[]) IS 'Catalog: the human parts (owners, team, tags, docs, notes, annotations, glossary terms and links, pages) as YAML, as the caller sees them; lake.load_catalog reads it back';

-- A string list at `path` of the document (NULL: absent).
CREATE FUNCTION lake_internal._catalog_yaml_list(v jsonb, path text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v) <> 'array' OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) x WHERE jsonb_typeof(x) <> 'string') THEN
        RAISE EXCEPTION 'lake.load_catalog: % must be a list of texts', path
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Write it as [a, b] or as lines starting with "- ".';
    END IF;
    RETURN ARRAY(SELECT jsonb_array_elements_text(v));
END
$$;

CREATE FUNCTION lake_internal._catalog_yaml_keys(v jsonb, path text, allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    IF v IS NULL OR jsonb_typeof(v) <> 'object' THEN
        RAISE EXCEPTION 'lake.load_catalog: % must be a mapping', path USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT key INTO k FROM jsonb_object_keys(v) key WHERE key <> ALL (allowed) LIMIT 1;
    IF k IS NOT NULL THEN
        RAISE EXCEPTION 'lake.load_catalog: unknown key "%" in %', k, path
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Known keys: ' || array_to_string(allowed, ', ') || '.';
    END IF;
END
$$;

-- Applies a catalog file: defines the glossary, sets owners, team, tags and
-- docs, adds notes, annotations and glossary links that are not there yet,
-- writes pages. Nothing is removed. Every change goes through the public
-- editing functions as the caller, so it needs the same rights; entries
-- already as the file says are left alone (a file reloads as a no-op).
CREATE FUNCTION lake.load_catalog(yaml text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doc jsonb := lake_internal._catalog_yaml_to_json(yaml);
    k text;
    v jsonb;
    c text;
    cv jsonb;
    x text;
    rel regclass;
    cd lake.catalog_datasets;
    l text[];
    team text;
    changes int := 0;
    n_datasets int := 0;
BEGIN
    IF jsonb_typeof(doc) = 'null' THEN
        doc := '{}';
    END IF;
    PERFORM lake_internal._catalog_yaml_keys(doc, 'the document', ARRAY['townlake_catalog', 'datasets', 'glossary', 'pages']);
    IF doc ? 'townlake_catalog' AND doc->'townlake_catalog' <> '1' THEN
        RAISE EXCEPTION 'lake.load_catalog: townlake_catalog % is not a format this version reads', doc->'townlake_catalog'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'This version reads townlake_catalog: 1.';
    END IF;
    -- terms first: datasets and pages link to them
    IF jsonb_typeof(COALESCE(doc->'glossary', '{}')) <> 'object' THEN
        RAISE EXCEPTION 'lake.load_catalog: glossary must map terms to definitions' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(COALESCE(doc->'glossary', '{}')) LOOP
        IF jsonb_typeof(v) <> 'string' THEN
            RAISE EXCEPTION 'lake.load_catalog: the definition of glossary term "%" must be a text', k
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM lake.glossary_terms t WHERE t.term = k AND t.definition = v #>> '{}') THEN
            PERFORM lake.define_term(k, v #>> '{}');
            changes := changes + 1;
        END IF;
    END LOOP;

    IF jsonb_typeof(COALESCE(doc->'datasets', '{}')) <> 'object' THEN
        RAISE EXCEPTION 'lake.load_catalog: datasets must map dataset names to their entries' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(COALESCE(doc->'datasets', '{}')) LOOP
        PERFORM lake_internal._catalog_yaml_keys(v, format('dataset %s', k),
                                                 ARRAY['owners', 'team', 'tags', 'doc', 'notes', 'annotations', 'terms', 'columns']);
        rel := to_regclass(k);
        IF rel IS NULL THEN
            RAISE EXCEPTION 'lake.load_catalog: dataset "%" does not exist', k USING ERRCODE = 'undefined_table',
                  HINT = 'Name datasets schema-qualified, as lake.export_catalog writes them; create the relation before loading its entries.';
        END IF;
        n_datasets := n_datasets + 1;
        SELECT * INTO cd FROM lake.catalog_datasets d WHERE d.relid = rel;
        IF v ? 'owners' OR v ? 'team' THEN
            -- a key the file leaves out keeps its value
            l := CASE WHEN v ? 'owners' THEN COALESCE(lake_internal._catalog_yaml_list(v->'owners', format('%s.owners', k)), '{}')
                      ELSE COALESCE(cd.owners, '{}') END;
            team := CASE WHEN v ? 'team' THEN NULLIF(btrim(v->>'team'), '') ELSE cd.team END;
            IF COALESCE(cd.owners, '{}') IS DISTINCT FROM ARRAY(SELECT DISTINCT btrim(o) FROM unnest(l) o WHERE btrim(o) <> '' ORDER BY 1)
               OR cd.team IS DISTINCT FROM team THEN
                -- only the keys the file has: a steward who may not read the
                -- dataset does not see its current entry to copy the rest from
                PERFORM lake_internal._privileged('catalog_edit',
                    jsonb_build_object('action', 'set_owners', 'rel', rel::oid)
                    || CASE WHEN v ? 'owners' THEN jsonb_build_object('owners', to_jsonb(l)) ELSE '{}' END
                    || CASE WHEN v ? 'team' THEN jsonb_build_object('team', team) ELSE '{}' END);
                changes := changes + 1;
            END IF;
        END IF;
        IF v ? 'tags' THEN
            l := COALESCE(lake_internal._catalog_yaml_list(v->'tags', format('%s.tags', k)), '{}');
            IF COALESCE(cd.tags, '{}') IS DISTINCT FROM ARRAY(SELECT DISTINCT btrim(t) FROM unnest(l) t WHERE btrim(t) <> '' ORDER BY 1) THEN
                PERFORM lake.set_dataset_tags(rel, l);
                changes := changes + 1;
            END IF;
        END IF;
        IF v ? 'doc' AND obj_description(rel, 'pg_class') IS DISTINCT FROM NULLIF(v->>'doc', '') THEN
            PERFORM lake.set_doc(rel, v->>'doc');
            changes := changes + 1;
        END IF;
        FOREACH x IN ARRAY COALESCE(lake_internal._catalog_yaml_list(v->'notes', format('%s.notes', k)), '{}') LOOP
            IF NOT EXISTS (SELECT 1 FROM lake.catalog_annotations an WHERE an.relid = rel AND an.column_name IS NULL
                              AND an.kind = 'note' AND an.body = x) THEN
                PERFORM lake.add_note(rel, x);
                changes := changes + 1;
            END IF;
        END LOOP;
        FOREACH x IN ARRAY COALESCE(lake_internal._catalog_yaml_list(v->'annotations', format('%s.annotations', k)), '{}') LOOP
            IF NOT EXISTS (SELECT 1 FROM lake.catalog_annotations an WHERE an.relid = rel AND an.column_name IS NULL
                              AND an.kind = 'annotation' AND an.body = x) THEN
                PERFORM lake.annotate(rel, x);
                changes := changes + 1;
            END IF;
        END LOOP;
        FOREACH x IN ARRAY COALESCE(lake_internal._catalog_yaml_list(v->'terms', format('%s.terms', k)), '{}') LOOP
            IF NOT EXISTS (SELECT 1 FROM lake.glossary_links gl WHERE gl.relid = rel AND gl.column_name = '' AND gl.term = x) THEN
                PERFORM lake.link_term(x, rel);
                changes := changes + 1;
            END IF;
        END LOOP;
        IF v ? 'columns' AND jsonb_typeof(v->'columns') <> 'object' THEN
            RAISE EXCEPTION 'lake.load_catalog: %.columns must map column names to their entries', k
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR c, cv IN SELECT * FROM jsonb_each(COALESCE(v->'columns', '{}')) LOOP
            PERFORM lake_internal._catalog_yaml_keys(cv, format('column %s.%s', k, c), ARRAY['doc', 'annotations', 'terms']);
            IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = c AND a.attnum > 0
                              AND NOT a.attisdropped) THEN
                RAISE EXCEPTION 'lake.load_catalog: column "%" of % does not exist', c, rel USING ERRCODE = 'undefined_column';
            END IF;
            IF cv ? 'doc' AND col_description(rel, (SELECT attnum FROM pg_attribute WHERE attrelid = rel AND attname = c))
                              IS DISTINCT FROM NULLIF(cv->>'doc', '') THEN
                PERFORM lake.set_doc(rel, cv->>'doc', c::name);
                changes := changes + 1;
            END IF;
            FOREACH x IN ARRAY COALESCE(lake_internal._catalog_yaml_list(cv->'annotations', format('%s.%s.annotations', k, c)), '{}') LOOP
                IF NOT EXISTS (SELECT 1 FROM lake.catalog_annotations an WHERE an.relid = rel AND an.column_name = c
                                  AND an.kind = 'annotation' AND an.body = x) THEN
                    PERFORM lake.annotate(rel, x, c::name);
                    changes := changes + 1;
                END IF;
            END LOOP;
            FOREACH x IN ARRAY COALESCE(lake_internal._catalog_yaml_list(cv->'terms', format('%s.%s.terms', k, c)), '{}') LOOP
                IF NOT EXISTS (SELECT 1 FROM lake.glossary_links gl WHERE gl.relid = rel AND gl.column_name = c AND gl.term = x) THEN
                    PERFORM lake.link_term(x, rel, c::name);
                    changes := changes + 1;
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;

    IF jsonb_typeof(COALESCE(doc->'pages', '{}')) <> 'object' THEN
        RAISE EXCEPTION 'lake.load_catalog: pages must map page names to their entries' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(COALESCE(doc->'pages', '{}')) LOOP
        PERFORM lake_internal._catalog_yaml_keys(v, format('page %s', k), ARRAY['title', 'body', 'datasets', 'terms']);
        l := COALESCE(lake_internal._catalog_yaml_list(v->'datasets', format('page %s.datasets', k)), '{}');
        FOREACH x IN ARRAY l LOOP
            IF to_regclass(x) IS NULL THEN
                RAISE EXCEPTION 'lake.load_catalog: page "%" names dataset "%", which does not exist', k, x
                    USING ERRCODE = 'undefined_table';
            END IF;
        END LOOP;
        IF NOT EXISTS (SELECT 1 FROM lake.catalog_pages p
                        WHERE p.name = k AND p.title = COALESCE(NULLIF(v->>'title', ''), k) AND p.body = COALESCE(v->>'body', '')
                          AND p.datasets::oid[] = ARRAY(SELECT to_regclass(d)::oid FROM unnest(l) d)
                          AND p.terms = COALESCE(lake_internal._catalog_yaml_list(v->'terms', format('page %s.terms', k)), '{}')) THEN
            PERFORM lake.set_page(k, COALESCE(v->>'body', ''), v->>'title',
                                  ARRAY(SELECT to_regclass(d) FROM unnest(l) d),
                                  COALESCE(lake_internal._catalog_yaml_list(v->'terms', format('page %s.terms', k)), '{}'));
            changes := changes + 1;
        END IF;
    END LOOP;
    RETURN jsonb_build_object('datasets', n_datasets,
                              'terms', (SELECT count(*) FROM jsonb_object_keys(COALESCE(doc->'glossary', '{}'))),
                              'pages', (SELECT count(*) FROM jsonb_object_keys(COALESCE(doc->'pages', '{}'))),
                              'changes', changes);
END
$$;
COMMENT ON FUNCTION lake.load_catalog(text) IS 'Catalog: apply a YAML catalog file (as lake.export_catalog writes): set owners, team, tags and docs, add missing notes, annotations and glossary links, define terms, write pages; each change needs the rights of the matching editing function';
