-- townlake Iceberg: the event trigger that creates the Iceberg table of a new
-- foreign table (loaded by src/iceberg/create.rs, after the Rust creator).

-- SECURITY DEFINER: the event trigger may call the internal creator, which
-- PUBLIC may not; it passes only the objects the statement just created.
CREATE FUNCTION lake_internal.iceberg_ddl_trigger() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cmd record;
BEGIN
    FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands()
               WHERE command_tag = 'CREATE FOREIGN TABLE' AND object_type = 'foreign table'
    LOOP
        PERFORM lake_internal.iceberg_foreign_table_created(cmd.objid);
    END LOOP;
END
$$;
-- Event triggers fire in name order: this one must create the Iceberg table
-- before governance's trigger (townlake_governance_capture) registers it.
CREATE EVENT TRIGGER townlake_attach_iceberg ON ddl_command_end
    WHEN TAG IN ('CREATE FOREIGN TABLE', 'IMPORT FOREIGN SCHEMA')
    EXECUTE FUNCTION lake_internal.iceberg_ddl_trigger();
REVOKE EXECUTE ON FUNCTION lake_internal.iceberg_foreign_table_created(oid), lake_internal.iceberg_ddl_trigger() FROM PUBLIC;
