"""Bad input ends in a clear ERROR and the backend keeps working."""

import json
import os
import urllib.parse

import pyarrow as pa
import pytest

from conftest import S3_SERVER_NAME, create_s3_server, free_port
from lakedata import EVOLVING_SCHEMA, evolving_rows
from lakehelpers import data_file_paths, expect_error

NAMESPACE = "errs"


def _write_small(lake, name, appends=1):
    table = lake.create_table(NAMESPACE, name, EVOLVING_SCHEMA)
    for i in range(appends):
        rows = evolving_rows(i * 10 + 1, 10, ["id", "name", "amount"])
        table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
    return table


def _local_path(uri: str) -> str:
    return urllib.parse.urlparse(uri).path


@pytest.fixture(scope="module")
def small(local_lake):
    return _write_small(local_lake, "small")


def test_unknown_server_option(conn):
    message = expect_error(
        conn, "CREATE SERVER bad_opt FOREIGN DATA WRAPPER iceberg OPTIONS (warehous 'file:///tmp/x')",
        "warehous")
    for valid in ("warehouse", "s3_endpoint", "catalog_name"):
        assert valid in message, f"the error should name the valid option {valid!r}: {message}"


def test_unknown_user_mapping_option(conn):
    conn.execute("CREATE SERVER mapping_opts FOREIGN DATA WRAPPER iceberg OPTIONS (warehouse 'file:///tmp/x')")
    expect_error(conn, "CREATE USER MAPPING FOR CURRENT_USER SERVER mapping_opts OPTIONS (password 'x')",
                 "password", "s3_access_key_id")


def test_unknown_table_option(conn, small):
    expect_error(conn, "CREATE FOREIGN TABLE bad_table_opt (id bigint) SERVER lake_local "
                       f"OPTIONS (namespace '{NAMESPACE}', tabel 'small')", "tabel", "metadata_location")


def test_table_missing_from_catalog(conn, small):
    # Another engine dropped the table after the foreign table was attached.
    conn.execute("CREATE FOREIGN TABLE not_there (id bigint) SERVER lake_local "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'no_such_table')")
    conn.execute("DELETE FROM lake.iceberg_tables WHERE table_namespace = %s AND table_name = 'no_such_table'",
                 (NAMESPACE,))
    expect_error(conn, "SELECT * FROM not_there", "no_such_table", "does not exist")


def test_import_of_missing_namespace(conn):
    conn.execute("CREATE SCHEMA IF NOT EXISTS import_target")
    expect_error(conn, "IMPORT FOREIGN SCHEMA no_such_namespace FROM SERVER lake_local INTO import_target",
                 "no_such_namespace")


def test_wrong_metadata_location(conn, small):
    wrong = small.metadata_location.replace(".metadata.json", "-missing.metadata.json")
    expect_error(conn, f"CREATE FOREIGN TABLE wrong_location (id bigint) SERVER lake_local "
                       f"OPTIONS (metadata_location '{wrong}'); SELECT * FROM wrong_location",
                 "-missing.metadata.json")


def test_corrupt_metadata_file(conn, small, tmp_path):
    original = _local_path(small.metadata_location)
    with open(original) as f:
        text = f.read()
    truncated = original.replace(".metadata.json", "-truncated.metadata.json")
    garbage = original.replace(".metadata.json", "-garbage.metadata.json")
    wrong_shape = original.replace(".metadata.json", "-shape.metadata.json")
    with open(truncated, "w") as f:
        f.write(text[: len(text) // 2])
    with open(garbage, "wb") as f:
        f.write(os.urandom(300))
    with open(wrong_shape, "w") as f:
        json.dump({"format-version": 2, "hello": "world"}, f)
    for number, path in enumerate((truncated, garbage, wrong_shape)):
        expect_error(conn, f"CREATE FOREIGN TABLE corrupt_{number} (id bigint) SERVER lake_local "
                           f"OPTIONS (metadata_location 'file://{path}'); SELECT * FROM corrupt_{number}",
                     "metadata")


def test_missing_data_file(conn, local_lake):
    table = _write_small(local_lake, "lossy", appends=3)
    victim = data_file_paths(table)[1]
    os.remove(_local_path(victim))
    foreign = local_lake.import_table(conn, NAMESPACE, "lossy")
    expect_error(conn, f"SELECT * FROM {foreign}", os.path.basename(victim))
    expect_error(conn, f"SELECT count(*) FROM {foreign} WHERE id > 0", os.path.basename(victim))
    # count(*) alone is answered from the manifests' record counts (no data
    # file is opened); reading the rows for it names the missing file
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (30,)
    conn.execute("SET townlake.iceberg_aggregate_pushdown = off")
    try:
        expect_error(conn, f"SELECT count(*) FROM {foreign}", os.path.basename(victim))
    finally:
        conn.execute("RESET townlake.iceberg_aggregate_pushdown")


def test_corrupt_data_file(conn, local_lake):
    table = _write_small(local_lake, "mangled", appends=2)
    victim = _local_path(data_file_paths(table)[0])
    size = os.path.getsize(victim)
    with open(victim, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xff" * 64)
        f.seek(size - 8)
        f.write(b"\0\0\0\0")  # break the footer length as well
    foreign = local_lake.import_table(conn, NAMESPACE, "mangled")
    expect_error(conn, f"SELECT * FROM {foreign}", os.path.basename(victim))


@pytest.mark.parametrize("declared, column", [
    ("id integer, name text", "id"),         # long -> integer loses range
    ("id bigint, name integer", "name"),     # string -> integer
    ("id bigint, amount smallint", "amount"),
])
def test_type_mismatch_is_a_plan_time_error(conn, small, declared, column):
    name = "narrow_" + column
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    conn.execute(f"CREATE FOREIGN TABLE {name} ({declared}) SERVER lake_local "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'small')")
    expect_error(conn, f"EXPLAIN SELECT * FROM {name}", column)
    expect_error(conn, f"SELECT * FROM {name}", column)


# ---------------------------------------------------------------- S3

@pytest.fixture(scope="module")
def s3_small(s3_lake):
    return _write_small(s3_lake, "remote", appends=2)


def test_s3_table_reads(conn, s3_lake, s3_small, s3_server):
    foreign = s3_lake.import_table(conn, NAMESPACE, "remote")
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (20,)
    plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN (ANALYZE, VERBOSE) SELECT * FROM {foreign}"))
    assert s3_server.secret_access_key not in plan
    options = conn.execute("SELECT srvoptions::text FROM pg_foreign_server WHERE srvname = %s",
                           (S3_SERVER_NAME,)).fetchone()[0]
    assert s3_server.secret_access_key not in options, "secrets belong in the user mapping"


def test_unreachable_s3(conn, s3_lake, s3_small, s3_server):
    closed_port = free_port()  # nothing listens there
    create_s3_server(conn, "s3_dead", s3_server, s3_lake.base_location,
                     endpoint=f"http://127.0.0.1:{closed_port}", catalog_name=S3_SERVER_NAME)
    conn.execute("CREATE FOREIGN TABLE dead (id bigint) SERVER s3_dead "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'remote')")
    conn.execute("SET statement_timeout = '120s'")
    try:
        expect_error(conn, "SELECT * FROM dead", str(closed_port), forbidden=[s3_server.secret_access_key])
    finally:
        conn.execute("RESET statement_timeout")


def test_wrong_s3_credentials(conn, s3_lake, s3_small, s3_server):
    wrong = "wrong-secret-0123456789"
    create_s3_server(conn, "s3_badkey", s3_server, s3_lake.base_location,
                     catalog_name=S3_SERVER_NAME, secret=wrong)
    conn.execute("CREATE FOREIGN TABLE badkey (id bigint) SERVER s3_badkey "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'remote')")
    # the store's refusal, named: 403 and its code for a bad signature
    expect_error(conn, "SELECT * FROM badkey", "cannot read Iceberg metadata file", "403 Forbidden",
                 "SignatureDoesNotMatch", forbidden=[wrong, s3_server.secret_access_key])


def test_s3_without_user_mapping(conn, s3_lake, s3_small, s3_server):
    conn.execute(f"CREATE SERVER s3_nomap FOREIGN DATA WRAPPER iceberg OPTIONS (warehouse "
                 f"'{s3_lake.base_location}', s3_endpoint '{s3_server.endpoint}', s3_region 'us-east-1', "
                 f"s3_path_style 'true', s3_allow_http 'true', catalog_name '{S3_SERVER_NAME}')")
    conn.execute("CREATE FOREIGN TABLE nomap (id bigint) SERVER s3_nomap "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'remote')")
    # unsigned requests: the store refuses (moto with a 500), the hint points at credentials
    expect_error(conn, "SELECT * FROM nomap", "cannot read Iceberg metadata file", "credentials",
                 forbidden=[s3_server.secret_access_key])


def test_backend_survives_everything(conn):
    """After all of the above, the same session still answers."""
    assert conn.execute("SELECT count(*) FROM lake.iceberg_tables").fetchone()[0] >= 1
