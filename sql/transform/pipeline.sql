-- townlake pipelines: copy a source into a table by full replace or past a
-- high watermark (loaded by src/transform/pipeline.rs, after transform.sql
-- and the Rust functions it comments on). Runs go to lake.runs (pipeline
-- column). Written only by townlake's own functions, as the extension
-- owner, after they checked the caller; users read it through row
-- security: a role sees the pipelines of the roles it is a member of.

CREATE TABLE lake.pipelines (
    name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND length(name) <= 63),
    source text NOT NULL,
    source_kind text NOT NULL CHECK (source_kind IN ('relation', 'query')),
    source_sql text NOT NULL,
    target_schema name NOT NULL,
    target_name name NOT NULL,
    target_kind text NOT NULL CHECK (target_kind IN ('iceberg', 'heap')),
    mode text NOT NULL CHECK (mode IN ('replace', 'append')),
    watermark_column text,
    watermark_type regtype,
    columns text[] NOT NULL,
    partition_by text,
    schedule text,
    timezone text NOT NULL DEFAULT 'UTC',
    owner regrole NOT NULL,
    description text,
    retries int NOT NULL DEFAULT 3 CHECK (retries BETWEEN 0 AND 100),
    retry_delay_seconds int NOT NULL DEFAULT 60 CHECK (retry_delay_seconds >= 0),
    timeout_seconds int CHECK (timeout_seconds > 0),
    enabled boolean NOT NULL DEFAULT true,
    sql_hash text NOT NULL,
    defined_by regrole NOT NULL,
    defined_at timestamptz NOT NULL DEFAULT now(),
    last_watermark text,
    last_run_id bigint,
    UNIQUE (target_schema, target_name),
    CHECK ((mode = 'append') = (watermark_column IS NOT NULL))
);
COMMENT ON TABLE lake.pipelines IS 'Ingestion pipelines: a source (table, view, query, postgres_fdw or ClickHouse foreign table) copied into an Iceberg or heap table by full replace or past a high watermark (lake.define_pipeline)';
COMMENT ON COLUMN lake.pipelines.source_sql IS 'The query a run reads (a relation source as SELECT * FROM schema.name)';
COMMENT ON COLUMN lake.pipelines.last_watermark IS 'The watermark of the last successful append, committed with its rows; for an Iceberg target the one in the target''s snapshot summary (townlake.watermark) wins';
COMMENT ON COLUMN lake.pipelines.owner IS 'The role every run executes as';

ALTER TABLE lake.pipelines ENABLE ROW LEVEL SECURITY;
-- Rows of roles the reader may act as (what define/run/cancel check): from
-- PostgreSQL 16 a membership granted WITH SET FALSE does not count.
CREATE POLICY townlake_visible ON lake.pipelines FOR SELECT
    USING (CASE WHEN pg_catalog.current_setting('server_version_num')::pg_catalog.int4 OPERATOR(pg_catalog.>=) 160000
                 THEN pg_catalog.pg_has_role(owner::oid, 'SET')
                 ELSE pg_catalog.pg_has_role(owner::oid, 'MEMBER') END);
GRANT SELECT ON lake.pipelines TO PUBLIC;
CREATE INDEX runs_pipeline ON lake.runs (pipeline, run_id) WHERE pipeline IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('lake.pipelines', '');

COMMENT ON FUNCTION lake.define_pipeline(text, text, text, text, text, text, text, text, text, text, int, int, int, boolean, text)
    IS 'Define or redefine a pipeline: copy a source (table, view, query, foreign table) into an Iceberg or heap target (created if missing), mode replace or append past watermark_column; runs execute as the owner';
COMMENT ON FUNCTION lake.drop_pipeline(text, boolean)
    IS 'Forget a pipeline (its owner''s members only); with drop_target, drop its target too';
COMMENT ON FUNCTION lake.pause_pipeline(text)
    IS 'Stop the scheduler from running a pipeline (members of its owner only); lake.run_pipeline_now still runs it';
COMMENT ON FUNCTION lake.resume_pipeline(text)
    IS 'Let the scheduler run a paused pipeline again (members of its owner only)';
COMMENT ON FUNCTION lake.run_pipeline_now(text)
    IS 'Run a pipeline now, as its owner, in a subtransaction of the caller''s transaction; returns the run id (its outcome is in lake.runs)';
COMMENT ON FUNCTION lake.pipeline_watermark(text)
    IS 'The committed high watermark of an append pipeline (from its Iceberg target''s snapshot summary, or the catalog for a heap target); NULL before the first rows';
