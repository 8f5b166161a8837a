-- townlake Iceberg: maintenance functions written in SQL (loaded by
-- src/iceberg/maintenance.rs, after the Rust maintenance functions).

CREATE FUNCTION lake.create_table_as(name text, query text, partition_by text DEFAULT NULL)
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
COMMENT ON FUNCTION lake.create_table_as(text, text, text) IS 'Create an Iceberg table on lake_local from a query and fill it';

COMMENT ON FUNCTION lake.expire_snapshots(regclass, timestamptz, integer) IS 'Remove snapshots older than older_than, keeping the newest retain_last and every referenced one (metadata only); table owner or lake_maintainer';
COMMENT ON FUNCTION lake.remove_orphan_files(regclass, timestamptz, boolean) IS 'Delete files under the table''s location that no metadata references and that are older than older_than (dry_run only lists them); table owner or lake_maintainer';
COMMENT ON FUNCTION lake.compact(regclass, integer) IS 'Rewrite small data files into files of about target_file_size_mb per partition, applying deletes; one replace snapshot; table owner or lake_maintainer';
