-- townlake Iceberg catalog: the catalog tables (loaded by src/iceberg/catalog/mod.rs).
-- Parts that refer to these tables name this block ("catalog_tables") in
-- their requires. Its row-security predicate lives in lake_internal.

-- The Iceberg JDBC/SQL catalog layout, as PyIceberg's SqlCatalog creates it,
-- so PyIceberg, Spark and Trino can share this catalog.
CREATE TABLE lake.iceberg_tables (
    catalog_name varchar(255) NOT NULL,
    table_namespace varchar(255) NOT NULL,
    table_name varchar(255) NOT NULL,
    metadata_location varchar(1000),
    previous_metadata_location varchar(1000),
    iceberg_type varchar(5),
    PRIMARY KEY (catalog_name, table_namespace, table_name)
);
CREATE TABLE lake.iceberg_namespace_properties (
    catalog_name varchar(255) NOT NULL,
    namespace varchar(255) NOT NULL,
    property_key varchar(255) NOT NULL,
    property_value varchar(1000) NOT NULL,
    PRIMARY KEY (catalog_name, namespace, property_key)
);
COMMENT ON TABLE lake.iceberg_tables IS 'Iceberg tables of every townlake catalog (JDBC catalog layout)';
COMMENT ON TABLE lake.iceberg_namespace_properties IS 'Iceberg namespaces and their properties (JDBC catalog layout)';
GRANT USAGE ON SCHEMA lake TO PUBLIC;
GRANT SELECT ON lake.iceberg_tables, lake.iceberg_namespace_properties TO PUBLIC;

-- Who owns each table townlake created or governance claimed (a side table:
-- the JDBC layout above is shared with other engines and stays as they
-- expect it). Readable by all, writable only through townlake.
CREATE TABLE lake.iceberg_table_owners (
    catalog_name varchar(255) NOT NULL,
    table_namespace varchar(255) NOT NULL,
    table_name varchar(255) NOT NULL,
    owner regrole NOT NULL,
    governed boolean NOT NULL DEFAULT false,
    creator_relid oid,
    attachers regrole[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (catalog_name, table_namespace, table_name)
);
COMMENT ON TABLE lake.iceberg_table_owners IS 'Owner role of each Iceberg table townlake created, whether it is governed, and who else may attach it';
GRANT SELECT ON lake.iceberg_table_owners TO PUBLIC;

-- Governed tables' catalog rows (their metadata locations) are visible to
-- governance roles only. The predicate runs as the extension owner with a
-- fixed search_path.
CREATE FUNCTION lake_internal._iceberg_row_visible(catalog text, namespace text, "table" text, who name) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT NOT EXISTS (SELECT 1 FROM lake.iceberg_table_owners o
                        WHERE o.catalog_name = catalog AND o.table_namespace = namespace
                          AND o.table_name = "table" AND o.governed)
        OR EXISTS (SELECT 1 FROM pg_roles r
                    WHERE r.rolname IN ('lake_owner', 'lake_governance', 'lake_auditor', 'lake_reviewer')
                      AND pg_has_role(who, r.oid, 'USAGE'))
$$;
ALTER TABLE lake.iceberg_tables ENABLE ROW LEVEL SECURITY;
CREATE POLICY townlake_visible ON lake.iceberg_tables FOR SELECT
    USING (lake_internal._iceberg_row_visible(catalog_name, table_namespace, table_name, current_user));
