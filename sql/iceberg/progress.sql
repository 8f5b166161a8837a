-- townlake Iceberg: progress of long writes and maintenance (loaded by
-- src/iceberg/progress.rs, after lake.iceberg_in_progress()).

CREATE VIEW lake.iceberg_progress AS
    SELECT pid, pg_catalog.current_database() AS datname, relid::pg_catalog.regclass AS relation,
           command, phase, rows_done, bytes_written, files_written, files_total, started_at,
           pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started_at AS elapsed
    FROM lake.iceberg_in_progress();
COMMENT ON VIEW lake.iceberg_progress IS 'INSERT, COPY, compact and remove_orphan_files on Iceberg tables running now in this database: phase, rows, bytes and data files so far (commands of roles the caller is a member of, on tables of owners it is a member of, or all with pg_read_all_stats)';
GRANT SELECT ON lake.iceberg_progress TO PUBLIC;

COMMENT ON FUNCTION lake.iceberg_in_progress()
    IS 'The rows of lake.iceberg_progress: Iceberg writes and maintenance running now that the caller may see';
