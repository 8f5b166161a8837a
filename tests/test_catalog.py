"""The extension's catalog tables are the ones PyIceberg's SqlCatalog uses."""

from lakedata import EVOLVING_SCHEMA, append_rows, evolving_rows
from lakehelpers import expect_error

# column -> (type, nullable), as SQLAlchemy creates them for PyIceberg 0.12
ICEBERG_TABLES = {
    "catalog_name": ("character varying(255)", "NO"),
    "table_namespace": ("character varying(255)", "NO"),
    "table_name": ("character varying(255)", "NO"),
    "metadata_location": ("character varying(1000)", "YES"),
    "previous_metadata_location": ("character varying(1000)", "YES"),
    "iceberg_type": ("character varying(5)", "YES"),
}
NAMESPACE_PROPERTIES = {
    "catalog_name": ("character varying(255)", "NO"),
    "namespace": ("character varying(255)", "NO"),
    "property_key": ("character varying(255)", "NO"),
    "property_value": ("character varying(1000)", "NO"),
}


def _columns(conn, table):
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
        "       CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END "
        "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (table,)).fetchall()
    return {name: (kind, nullable) for name, kind, nullable in rows}


def _primary_key(conn, table):
    return conn.execute(
        "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = %s::regclass AND i.indisprimary", (table,)).fetchone()[0]


def test_catalog_tables_have_the_jdbc_layout(conn):
    assert _columns(conn, "lake.iceberg_tables") == ICEBERG_TABLES
    assert _columns(conn, "lake.iceberg_namespace_properties") == NAMESPACE_PROPERTIES
    assert _primary_key(conn, "lake.iceberg_tables") == ["catalog_name", "table_namespace", "table_name"]
    assert _primary_key(conn, "lake.iceberg_namespace_properties") == ["catalog_name", "namespace", "property_key"]


def test_default_server_and_wrapper_exist(conn):
    assert conn.execute("SELECT fdwname FROM pg_foreign_data_wrapper WHERE fdwname = 'iceberg'").fetchone()
    server = conn.execute("SELECT s.srvname FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w "
                          "ON w.oid = s.srvfdw WHERE w.fdwname = 'iceberg'").fetchall()
    assert ("lake_local",) in server
    assert conn.execute("SHOW townlake.iceberg_warehouse").fetchone()[0].startswith("file://")


def test_pyiceberg_tables_and_namespaces_land_in_lake_schema(conn, local_lake):
    local_lake.catalog.create_namespace("shared_ns", {"owner": "analytics"})
    table = local_lake.create_table("shared_ns", "events", EVOLVING_SCHEMA)
    append_rows(table, evolving_rows(1, 5, ["id", "name", "amount"]))
    row = conn.execute("SELECT metadata_location FROM lake.iceberg_tables WHERE catalog_name = 'lake_local' "
                       "AND table_namespace = 'shared_ns' AND table_name = 'events'").fetchone()
    assert row == (table.metadata_location,)
    props = dict(conn.execute("SELECT property_key, property_value FROM lake.iceberg_namespace_properties "
                              "WHERE catalog_name = 'lake_local' AND namespace = 'shared_ns'").fetchall())
    assert props.get("owner") == "analytics"
    assert ("shared_ns",) in local_lake.catalog.list_namespaces()
    foreign = local_lake.import_table(conn, "shared_ns", "events")
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (5,)


def test_catalog_name_option_selects_the_catalog(conn, local_lake):
    """A second server reading catalog lake_local under another name."""
    table = local_lake.create_table("aliased", "t", EVOLVING_SCHEMA)
    append_rows(table, evolving_rows(1, 7, ["id", "name", "amount"]))
    warehouse = conn.execute("SHOW townlake.iceberg_warehouse").fetchone()[0]
    conn.execute(f"CREATE SERVER alias_srv FOREIGN DATA WRAPPER iceberg "
                 f"OPTIONS (warehouse '{warehouse}', catalog_name 'lake_local')")
    conn.execute("CREATE FOREIGN TABLE aliased_t (id bigint, name text) SERVER alias_srv "
                 "OPTIONS (namespace 'aliased', table 't')")
    assert conn.execute("SELECT count(*) FROM aliased_t").fetchone() == (7,)
    # a server without catalog_name uses its own name: catalog "other_srv" has no
    # such table (read-only, so CREATE FOREIGN TABLE does not create one)
    conn.execute(f"CREATE SERVER other_srv FOREIGN DATA WRAPPER iceberg "
                 f"OPTIONS (warehouse '{warehouse}', read_only 'true')")
    expect_error(conn, "CREATE FOREIGN TABLE other_t (id bigint) SERVER other_srv "
                       "OPTIONS (namespace 'aliased', table 't')", "other_srv", "read-only")
    row = conn.execute("SELECT count(*) FROM lake.iceberg_tables WHERE catalog_name = 'other_srv'").fetchone()
    assert row == (0,)
