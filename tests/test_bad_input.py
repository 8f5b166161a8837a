"""Bad input gets a clear error that names what was wrong (issue 9, items 15 and 16)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from govhelpers import error_of, one, session

NS = f"bad_{uuid.uuid4().hex[:6]}"


@pytest.fixture()
def admin(database):
    with session(database) as conn:
        yield conn


@pytest.mark.parametrize("spec, column, type_name", [
    ("day(id)", "id", "int"),
    ("hour(d)", "d", "date"),
    ("truncate(4, flag)", "flag", "boolean"),
])
def test_partition_transform_errors_name_the_column(admin, spec, column, type_name):
    err = error_of(admin, f"CREATE FOREIGN TABLE bad_part (id int, d date, flag boolean) SERVER lake_local "
                          f"OPTIONS (namespace '{NS}', \"table\" 'bad_part', partition_by '{spec}')")
    assert f'column "{column}" of Iceberg type {type_name}' in str(err), err
    assert err.diag.message_hint and "Transforms:" in err.diag.message_hint
    assert one(admin, "SELECT count(*) FROM lake.iceberg_tables WHERE table_name = 'bad_part'") == 0
    # evolving the spec says the same
    admin.execute(f"CREATE FOREIGN TABLE IF NOT EXISTS good_part (id int, d date, flag boolean) SERVER lake_local "
                  f"OPTIONS (namespace '{NS}', \"table\" 'good_part')")
    err = error_of(admin, f"SELECT lake.set_partitioning('good_part', '{spec}')")
    assert f'column "{column}" of Iceberg type {type_name}' in str(err), err


@pytest.mark.parametrize("setting, value", [
    ("townlake.iceberg_snapshot_id", "12abc"),
    ("townlake.iceberg_as_of", "not a time"),
    ("townlake.iceberg_as_of", "2024-13-45 25:00"),
])
def test_time_travel_settings_are_checked_at_set(admin, setting, value):
    err = error_of(admin, f"SET {setting} = '{value}'")
    assert isinstance(err, psycopg.errors.InvalidParameterValue), err
    assert value in str(err)
    assert err.diag.message_hint
    # nothing was set
    assert one(admin, f"SELECT current_setting('{setting}')") == ""


def test_good_time_travel_settings_still_work(admin):
    admin.execute("SET townlake.iceberg_as_of = '2024-05-01 12:00:00+00'")
    admin.execute("SET townlake.iceberg_snapshot_id = ' 42 '")
    admin.execute("RESET townlake.iceberg_as_of")
    admin.execute("RESET townlake.iceberg_snapshot_id")


def test_server_without_warehouse_says_where_tables_go(admin):
    admin.notices.clear()
    admin.execute("CREATE SERVER no_wh FOREIGN DATA WRAPPER iceberg")
    warehouse = one(admin, "SELECT current_setting('townlake.iceberg_warehouse')")
    assert any("no warehouse option" in n and warehouse in n for n in admin.notices), admin.notices
    admin.notices.clear()
    admin.execute("CREATE SERVER no_wh_ro FOREIGN DATA WRAPPER iceberg OPTIONS (read_only 'true')")
    assert not any("no warehouse option" in n for n in admin.notices)


def test_mask_must_take_the_columns_own_type(admin, database):
    admin.execute("CREATE SCHEMA IF NOT EXISTS raw_bad")
    admin.execute("SELECT lake.govern_schema('raw_bad', 'pub_bad')")
    admin.execute("CREATE TABLE raw_bad.visits (id int, at timestamp, note varchar(20), born date)")
    # date <- timestamp is an assignment cast: the mask would see a converted value
    err = error_of(admin, "SELECT lake.set_mask('raw_bad.visits', 'at', 'lake.mask_year(date)')")
    assert isinstance(err, psycopg.errors.DatatypeMismatch), err
    assert "does not take a column of type timestamp" in str(err)
    # the column's own type, and varchar for a text mask (binary coercible), are fine
    admin.execute("SELECT lake.set_mask('raw_bad.visits', 'born', 'lake.mask_year(date)')")
    admin.execute("SELECT lake.set_mask('raw_bad.visits', 'note', 'lake.mask_hash(text)')")


def test_import_keeps_required_fields_not_null(admin, database):
    """Item 16: BI tools read nullability from the Postgres catalogs."""
    admin.execute(f"CREATE FOREIGN TABLE req_src (id bigint NOT NULL, name text) SERVER lake_local "
                  f"OPTIONS (namespace '{NS}', \"table\" 'req')")
    admin.execute("CREATE SCHEMA IF NOT EXISTS imported_req")
    admin.execute(f"IMPORT FOREIGN SCHEMA \"{NS}\" LIMIT TO (req) FROM SERVER lake_local INTO imported_req")
    nullable = dict(admin.execute(
        "SELECT column_name, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'imported_req' AND table_name = 'req'").fetchall())
    assert nullable == {"id": "NO", "name": "YES"}


def test_s3_endpoint_errors_say_what_to_fix(admin):
    err = error_of(admin, "CREATE SERVER s3_plain FOREIGN DATA WRAPPER iceberg "
                          "OPTIONS (warehouse 's3://b/w', s3_endpoint 'http://127.0.0.1:1')")
    assert "s3_allow_http" in str(err) and "builder error" not in str(err), err
    err = error_of(admin, "CREATE SERVER s3_nohost FOREIGN DATA WRAPPER iceberg "
                          "OPTIONS (warehouse 's3://b/w', s3_endpoint 'https://exa mple:9')")
    assert "not a valid" in str(err), err
    # an endpoint nobody listens on (port 1 of loopback): the hint points at the endpoint
    admin.execute("CREATE SERVER s3_down FOREIGN DATA WRAPPER iceberg OPTIONS (warehouse 's3://b/w', "
                  "s3_endpoint 'http://127.0.0.1:1', s3_allow_http 'true', s3_path_style 'true')")
    admin.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER s3_down "
                  "OPTIONS (s3_access_key_id 'AKIAEXAMPLE', s3_secret_access_key 'sup3r-s3cret-value')")
    err = error_of(admin, f"CREATE FOREIGN TABLE s3_down_t (a int) SERVER s3_down OPTIONS (namespace '{NS}', \"table\" 't')")
    assert "s3_endpoint" in (err.diag.message_hint or ""), err
    assert "sup3r-s3cret-value" not in str(err) and "sup3r-s3cret-value" not in (err.diag.message_hint or "")


def test_missing_snapshot_error_names_the_table(admin):
    admin.execute(f"CREATE FOREIGN TABLE IF NOT EXISTS snap_named (id int) SERVER lake_local "
                  f"OPTIONS (namespace '{NS}', \"table\" 'snap_named')")
    admin.execute("INSERT INTO snap_named VALUES (1)")
    admin.execute("SET townlake.iceberg_snapshot_id = '42'")
    try:
        err = error_of(admin, "SELECT * FROM snap_named")
    finally:
        admin.execute("RESET townlake.iceberg_snapshot_id")
    assert f"Iceberg table {NS}.snap_named: snapshot 42 does not exist" in str(err), err


def test_functions_open_to_everyone_stop_at_a_statement_timeout(admin):
    """Red team: lake.classify over a large array ran on past
    statement_timeout and ignored cancels; the catalog's similarity helper
    compared every word with every word (quadratic) and could not be
    stopped at all."""
    admin.execute("SET statement_timeout = '300ms'")
    try:
        err = error_of(admin, "SELECT count(*) FROM lake.classify(array(SELECT repeat('x y ', 2000) || g "
                              "FROM generate_series(1, 50000) g))")
        assert isinstance(err, psycopg.errors.QueryCanceled), err
        # the same input size that ran for minutes is now a bounded amount of work
        admin.execute("SET statement_timeout = '20s'")
        got = one(admin, "SELECT lake_internal._catalog_similarity(repeat('ab ', 50000), repeat('cd ', 50000))")
        assert got == 0.0
        assert one(admin, "SELECT lake_internal._catalog_similarity('orders', 'customer orders')") == 1.0
    finally:
        admin.execute("RESET statement_timeout")


@pytest.mark.parametrize("call, argument", [
    ("lake.define_model(NULL, 'SELECT 1 AS v', 'public.x')", "name"),
    ("lake.define_model('m', NULL, 'public.x')", "sql"),
    ("lake.define_model('m', 'SELECT 1 AS v', 'public.x', retries => NULL)", "retries"),
    ("lake.define_model('m', 'SELECT 1 AS v', 'public.x', materialization => NULL)", "materialization"),
    ("lake.define_pipeline('p', NULL, 'public.x')", "source"),
    ("lake.define_pipeline('p', 'public.src', 'public.x', enabled => NULL)", "enabled"),
    ("lake.backfill('m', NULL, now())", "from_ts"),
    ("lake.define_model('m', 'SELECT 1 AS v', 'public.x', tags => '{a,NULL}')", "tags"),
])
def test_null_for_a_required_argument_names_it(admin, call, argument):
    """Red team: these functions take optional arguments too (so they are not
    STRICT), and NULL for a required one was an internal error."""
    err = error_of(admin, f"SELECT {call}")
    assert isinstance(err, psycopg.errors.NullValueNotAllowed), err
    assert f'argument "{argument}" must not' in str(err) and "NULL" in str(err) and err.diag.message_hint, err
    assert one(admin, "SELECT 1") == 1


@pytest.mark.parametrize("option, value", [
    ("namespace", "other_ns/sales-1234"), ("namespace", "../../other"), ("table", ".."),
    ("table", "sales "), ("namespace", " sales"),
])
def test_names_that_would_leave_their_directory_are_refused(admin, option, value):
    """Red team: `/` in a namespace put a table inside another table's
    directory (its owner's orphan removal would delete it), `..` climbed out
    of the warehouse on S3, and trailing blanks made look-alike names."""
    options = {"namespace": NS, "table": "named"}
    options[option] = value
    err = error_of(admin, "CREATE FOREIGN TABLE bad_named (id int) SERVER lake_local OPTIONS ("
                          + ", ".join(f"{k} '{v}'" if k == "namespace" else f'"{k}" \'{v}\'' for k, v in options.items())
                          + ")")
    assert isinstance(err, psycopg.errors.FdwInvalidAttributeValue), err
    assert f'option "{option}"' in str(err), err


DEEP = "(SELECT (repeat('[', 500) || repeat(']', 500))::jsonb)"


@pytest.mark.parametrize("call", [
    f"lake.define_model('m', 'SELECT 1 AS v', 'public.x', columns => {DEEP})",
    f"lake.set_mask('pg_catalog.pg_class', 'relname', 'lake.mask_partial(text,integer,integer)', {DEEP})",
    f"lake_internal._catalog_json_to_yaml({DEEP})",
])
def test_deeply_nested_jsonb_arguments_are_refused_cleanly(admin, call):
    """Red team: a jsonb argument nested deeper than the JSON reader takes
    was an internal error (XX000) worded by the library."""
    err = error_of(admin, f"SELECT {call}")
    assert isinstance(err, psycopg.errors.ProgramLimitExceeded), err
    assert "jsonb argument cannot be read" in str(err) and "127 levels" in (err.diag.message_hint or ""), err
    assert one(admin, "SELECT 1") == 1
