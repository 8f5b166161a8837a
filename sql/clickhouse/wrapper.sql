-- townlake ClickHouse: the foreign-data wrapper (loaded by
-- src/clickhouse/wrapper.rs, after the Rust validator).

CREATE FUNCTION lake.clickhouse_fdw_handler() RETURNS fdw_handler
    AS 'MODULE_PATHNAME', 'clickhouse_fdw_handler' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER clickhouse
    HANDLER lake.clickhouse_fdw_handler
    VALIDATOR lake.clickhouse_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER clickhouse IS 'ClickHouse tables over its HTTP interface, with WHERE, column lists and LIMIT pushed down';
COMMENT ON FUNCTION lake.clickhouse_fdw_handler() IS 'Handler of the clickhouse foreign-data wrapper (not called directly)';
COMMENT ON FUNCTION lake.clickhouse_fdw_validator(text[], oid) IS 'Validator of the clickhouse wrapper''s server, user mapping, table and column options (not called directly; checks text only, no network access)';
-- Postgres calls both without checking EXECUTE rights; nobody needs to call
-- them from SQL.
REVOKE EXECUTE ON FUNCTION lake.clickhouse_fdw_handler() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION lake.clickhouse_fdw_validator(text[], oid) FROM PUBLIC;
