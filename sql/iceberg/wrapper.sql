-- townlake Iceberg: the foreign-data wrapper and the default server (loaded
-- by src/iceberg/wrapper.rs, after the Rust validator).

CREATE FUNCTION lake.iceberg_fdw_handler() RETURNS fdw_handler
    AS 'MODULE_PATHNAME', 'iceberg_fdw_handler' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER iceberg
    HANDLER lake.iceberg_fdw_handler
    VALIDATOR lake.iceberg_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER iceberg IS 'Apache Iceberg tables on local disk or S3-compatible storage';
COMMENT ON FUNCTION lake.iceberg_fdw_handler() IS 'Handler of the iceberg foreign-data wrapper (not called directly)';
COMMENT ON FUNCTION lake.iceberg_fdw_validator(text[], oid) IS 'Validator of the iceberg wrapper''s server, user mapping and table options (not called directly)';
-- The default server: catalog "lake_local" in this database, warehouse from
-- the townlake.warehouse setting.
CREATE SERVER lake_local FOREIGN DATA WRAPPER iceberg;
