-- townlake transformations: models, their dependencies and run history
-- (loaded by src/transform/sql.rs, after the Rust functions it comments on).
--
-- The tables are written only by townlake's own functions, as the extension
-- owner, after they checked the caller; users read them through row
-- security: a role sees the models (and runs) of the roles it is a member of.

CREATE TABLE lake.models (
    name text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]*$' AND length(name) <= 63),
    sql text NOT NULL,
    target_schema name NOT NULL,
    target_name name NOT NULL,
    materialization text NOT NULL CHECK (materialization IN ('view', 'table', 'incremental')),
    strategy text NOT NULL DEFAULT 'append' CHECK (strategy IN ('append', 'merge', 'delete+insert')),
    unique_key text[] NOT NULL DEFAULT '{}',
    partition_by text,
    schedule text,
    timezone text NOT NULL DEFAULT 'UTC',
    owner regrole NOT NULL,
    description text,
    tags text[] NOT NULL DEFAULT '{}',
    columns jsonb NOT NULL DEFAULT '{}',
    depends_on text[] NOT NULL DEFAULT '{}',
    output_columns text[] NOT NULL DEFAULT '{}',
    retries int NOT NULL DEFAULT 0 CHECK (retries BETWEEN 0 AND 100),
    retry_delay_seconds int NOT NULL DEFAULT 60 CHECK (retry_delay_seconds >= 0),
    timeout_seconds int CHECK (timeout_seconds > 0),
    overlap text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'queue')),
    enabled boolean NOT NULL DEFAULT true,
    sql_hash text NOT NULL,
    defined_by regrole NOT NULL,
    defined_at timestamptz NOT NULL DEFAULT now(),
    on_schema_change text NOT NULL DEFAULT 'fail' CHECK (on_schema_change IN ('fail', 'append_new_columns', 'sync')),
    UNIQUE (target_schema, target_name)
);
COMMENT ON TABLE lake.models IS 'Transformation models: a SELECT, the relation it materializes into, how, when, and as which role (lake.define_model, lake.load_project)';
COMMENT ON COLUMN lake.models.depends_on IS 'Models named explicitly as upstreams (the relations the SQL reads are found by Postgres'' analyzer: lake.model_dependencies)';
COMMENT ON COLUMN lake.models.owner IS 'The role every run of the model executes as';

CREATE TABLE lake.model_dependencies (
    model text NOT NULL REFERENCES lake.models ON DELETE CASCADE ON UPDATE CASCADE,
    relation_schema name NOT NULL,
    relation_name name NOT NULL,
    PRIMARY KEY (model, relation_schema, relation_name)
);
COMMENT ON TABLE lake.model_dependencies IS 'The relations each model''s SQL reads, as Postgres'' parser and analyzer found them (views, tables, foreign tables; also in subqueries and CTEs)';

CREATE TABLE lake.runs (
    run_id bigserial PRIMARY KEY,
    model text,
    pipeline text,
    trigger text NOT NULL CHECK (trigger IN ('manual', 'downstream', 'schedule', 'retry', 'backfill')),
    scheduled_for timestamptz,
    started_at timestamptz,
    ended_at timestamptz,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped', 'interrupted', 'cancelled')),
    attempt int NOT NULL DEFAULT 1,
    rows_written bigint,
    bytes bigint,
    snapshot_id bigint,
    error_sqlstate text,
    error_message text,
    sql_hash text,
    run_as regrole,
    requested_by regrole,
    parent_run_id bigint,
    period_start timestamptz,
    period_end timestamptz,
    CHECK ((model IS NULL) <> (pipeline IS NULL))
);
CREATE INDEX runs_model_started ON lake.runs (model, run_id);
-- The scheduler looks for queued runs every second (overlap queue).
CREATE INDEX runs_queued ON lake.runs (run_id) WHERE status = 'queued';
COMMENT ON TABLE lake.runs IS 'History of model and pipeline runs: trigger, timing, status, attempt, rows written, the error with its SQLSTATE, the hash of the SQL that ran';
COMMENT ON COLUMN lake.runs.bytes IS 'Bytes the run wrote: data files added (Iceberg target); the growth of the table''s data pages and TOAST or, after a full replace, their new size (heap target); NULL for a view or a run that did not succeed';
COMMENT ON COLUMN lake.runs.snapshot_id IS 'The Iceberg snapshot the run''s transaction committed (NULL: heap or view target, or nothing written); set at commit';
COMMENT ON COLUMN lake.runs.period_start IS 'For a backfill run: the start of the period it ran for (lake.run_period_start())';
COMMENT ON COLUMN lake.runs.period_end IS 'For a backfill run: the end (exclusive) of its period';
COMMENT ON COLUMN lake.runs.parent_run_id IS 'The run whose with_downstream request (or failure, for a skipped run) led to this one';

ALTER TABLE lake.models ENABLE ROW LEVEL SECURITY;
ALTER TABLE lake.model_dependencies ENABLE ROW LEVEL SECURITY;
ALTER TABLE lake.runs ENABLE ROW LEVEL SECURITY;
-- Rows of roles the reader may act as (what define/run/cancel check): from
-- PostgreSQL 16 a membership granted WITH SET FALSE does not count.
CREATE POLICY townlake_visible ON lake.models FOR SELECT
    USING (CASE WHEN pg_catalog.current_setting('server_version_num')::pg_catalog.int4 OPERATOR(pg_catalog.>=) 160000
                 THEN pg_catalog.pg_has_role(owner::oid, 'SET')
                 ELSE pg_catalog.pg_has_role(owner::oid, 'MEMBER') END);
CREATE POLICY townlake_visible ON lake.model_dependencies FOR SELECT
    USING (EXISTS (SELECT 1 FROM lake.models m WHERE m.name OPERATOR(pg_catalog.=) model));
CREATE POLICY townlake_visible ON lake.runs FOR SELECT
    USING (CASE WHEN pg_catalog.current_setting('server_version_num')::pg_catalog.int4 OPERATOR(pg_catalog.>=) 160000
                 THEN pg_catalog.pg_has_role(run_as::oid, 'SET')
                 ELSE pg_catalog.pg_has_role(run_as::oid, 'MEMBER') END);
GRANT SELECT ON lake.models, lake.model_dependencies, lake.runs TO PUBLIC;

COMMENT ON FUNCTION lake.define_model(text, text, text, text, text[], text, text, text, text, text, text[], text[], text, int, int, int, text, boolean, jsonb, text)
    IS 'Define or redefine a model: a SELECT materialized into a target (view, table or incremental); dependencies come from Postgres'' analysis of the SQL; runs execute as the owner, which the caller must be a member of';
COMMENT ON FUNCTION lake.load_project(text, text)
    IS 'Define every model and pipeline of a YAML project (dbt-like); errors name the file, the model or pipeline and the line';
COMMENT ON FUNCTION lake.drop_model(text, boolean)
    IS 'Forget a model (its owner''s members only); with drop_target, drop its target relation too';
COMMENT ON FUNCTION lake.run_now(text, boolean)
    IS 'Run a model now, as its owner, in a subtransaction of the caller''s transaction (with_downstream: then every model downstream, in dependency order); returns the run id';
COMMENT ON FUNCTION lake.current_run_id()
    IS 'The id of the run executing the current model (NULL outside a run): usable in a model''s SQL';
COMMENT ON FUNCTION lake.dag()
    IS 'The models and pipelines the caller can see as a graph: nodes with their last run, edges from upstream to downstream (JSON)';
COMMENT ON FUNCTION lake.dag_dot()
    IS 'lake.dag() as Graphviz DOT text';
COMMENT ON FUNCTION lake.next_fire_times(text, timestamptz, int, text)
    IS 'The next fire times of a schedule (cron, @daily-style, or every N seconds|minutes|hours) in a time zone: to check a schedule before using it';
COMMENT ON FUNCTION lake.pause_model(text)
    IS 'Stop the scheduler from running a model (members of its owner only); lake.run_now still runs it';
COMMENT ON FUNCTION lake.resume_model(text)
    IS 'Let the scheduler run a paused model again (members of its owner only)';
