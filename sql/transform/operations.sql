-- townlake transformations: per-run metadata and the progress view
-- (loaded by src/transform/ops.rs, after transform.sql and the Rust
-- functions it comments on).

-- The scheduler reads each model's latest scheduled run every second: an
-- index, so that costs the same after a million runs as after ten.
CREATE INDEX runs_model_scheduled ON lake.runs (model, scheduled_for DESC, run_id DESC) WHERE scheduled_for IS NOT NULL;

CREATE TABLE lake.run_metadata (
    run_id bigint PRIMARY KEY REFERENCES lake.runs ON DELETE CASCADE,
    model text NOT NULL,
    model_sql text NOT NULL,
    resolved_sql text NOT NULL,
    statements text[] NOT NULL DEFAULT '{}',
    upstream jsonb NOT NULL DEFAULT '[]',
    output_columns jsonb NOT NULL DEFAULT '[]',
    row_counts jsonb NOT NULL DEFAULT '{}',
    partitions jsonb,
    schema_change jsonb,
    column_lineage jsonb,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
COMMENT ON TABLE lake.run_metadata IS 'What each model run executed and saw (the seed''s .meta.json): its SQL, the statements it ran, the relations it read, its columns and row counts; read by the metadata catalog';
COMMENT ON COLUMN lake.run_metadata.model_sql IS 'The model''s SELECT as it ran';
COMMENT ON COLUMN lake.run_metadata.resolved_sql IS 'The statements the run executed, in order, separated by semicolons';
COMMENT ON COLUMN lake.run_metadata.upstream IS 'The relations the model reads: [{"relation", "model" (when a model''s target), "last_run_id" (that model''s latest succeeded run)}]';
COMMENT ON COLUMN lake.run_metadata.output_columns IS 'The columns the SELECT produced in this run: [{"name", "type"}]';
COMMENT ON COLUMN lake.run_metadata.row_counts IS 'Rows of the run: batch (staged), inserted, deleted (replaced), merged; batch_bytes';
COMMENT ON COLUMN lake.run_metadata.partitions IS 'delete+insert: the predicates of the partitions the batch replaced';
COMMENT ON COLUMN lake.run_metadata.schema_change IS 'on_schema_change: what differed and what the run changed in the target';
COMMENT ON COLUMN lake.run_metadata.column_lineage IS 'Column-level lineage of the model as the run found it: [{"column", "kind" (direct | derived), "source", "source_column"}] (lake.model_column_lineage)';
ALTER TABLE lake.run_metadata ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.run_metadata FOR SELECT
    USING (EXISTS (SELECT 1 FROM lake.runs r WHERE r.run_id OPERATOR(pg_catalog.=) run_metadata.run_id));
GRANT SELECT ON lake.run_metadata TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('lake.run_metadata', '');

CREATE VIEW lake.run_progress AS
    SELECT run_id, model, phase, rows_so_far, bytes_so_far, started_at,
           pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at AS elapsed, pid, cancel_requested
    FROM lake.runs_in_progress();
COMMENT ON VIEW lake.run_progress IS 'Model and pipeline runs executing now in this database (of the roles the caller is a member of): phase, rows and bytes so far, elapsed time, the backend''s pid';
GRANT SELECT ON lake.run_progress TO PUBLIC;

COMMENT ON FUNCTION lake.runs_in_progress()
    IS 'The rows of lake.run_progress: runs executing now, of the roles the caller is a member of';
COMMENT ON FUNCTION lake.backfill(text, timestamptz, timestamptz, text)
    IS 'Run an incremental model once per period (hour, day, month, year; by default its partition_by time unit) from one time to another, each run with trigger backfill; returns the run ids';
COMMENT ON FUNCTION lake.cancel_run(bigint)
    IS 'Cancel a run in progress (members of the model''s owner): its work is rolled back and it is recorded cancelled';
COMMENT ON FUNCTION lake.run_period_start()
    IS 'In a backfill run, the start of its period (NULL otherwise): usable in a model''s SQL';
COMMENT ON FUNCTION lake.run_period_end()
    IS 'In a backfill run, the end (exclusive) of its period (NULL otherwise): usable in a model''s SQL';
