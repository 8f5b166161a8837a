"""Bad input to the write path: each a clear ERROR, the backend alive, and
nothing half-created in the catalog."""

from __future__ import annotations

import psycopg
import pytest

from lakehelpers import expect_error
from writehelpers import snapshot_count


def _in_catalog(conn, ns: str, name: str) -> bool:
    return conn.execute("SELECT count(*) > 0 FROM lake.iceberg_tables WHERE table_namespace = %s "
                        "AND table_name = %s", (ns, name)).fetchone()[0]


def _create_sql(ns: str, name: str, columns: str, options: str, server: str = "lake_local") -> str:
    return (f'CREATE FOREIGN TABLE "{ns}"."{name}" ({columns}) SERVER {server} '
            f"OPTIONS (namespace '{ns}', table '{name}'{', ' + options if options else ''})")


COLUMNS = "id bigint NOT NULL, ts timestamptz, d date, s text, n integer, b boolean, amount numeric(10,2)"

# partition_by -> fragments the message must contain
BAD_SPECS = {
    "day(": ["partition_by"],
    "day(ts": ["partition_by"],
    "day ts)": ["partition_by"],
    "bucket(16)": ["bucket"],
    "bucket(x, id)": ["bucket"],
    "bucket(0, id)": ["bucket"],
    "bucket(-4, id)": ["bucket"],
    "truncate(id)": ["truncate"],
    "truncate(0, s)": ["truncate"],
    "day(ts),": ["partition_by"],
    ", day(ts)": ["partition_by"],
    "day(ts) month(ts)": ["partition_by"],
    "frobnicate(id)": ["frobnicate"],
    "week(ts)": ["week"],
    "void(id)": ["void"],
    "nope": ["nope"],
    "day(nope)": ["nope"],
    "day(s)": ["s"],
    "hour(d)": ["hour"],
    "year(n)": ["n"],
    "truncate(4, b)": ["b"],
    "bucket(4, b)": ["b"],
    "day(ts), day(ts)": ["ts"],
}


@pytest.mark.parametrize("spec", list(BAD_SPECS), ids=list(BAD_SPECS))
def test_bad_partition_by_is_an_error(spec, conn, write_ns):
    name = "bad_spec"
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{write_ns}".{name}')
    expect_error(conn, _create_sql(write_ns, name, COLUMNS, f"partition_by '{spec}'"), *BAD_SPECS[spec])
    assert not _in_catalog(conn, write_ns, name)
    assert conn.execute("SELECT to_regclass(%s)", (f'"{write_ns}".{name}',)).fetchone() == (None,)


@pytest.mark.parametrize("column_type", ["integer[]", "point", "interval", "money", "tsvector",
                                         "numeric(60,2)"])
def test_unsupported_column_type_is_an_error(column_type, conn, write_ns):
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{write_ns}".bad_type')
    expect_error(conn, _create_sql(write_ns, "bad_type", f"id bigint, c {column_type}", ""), '"c"')
    assert not _in_catalog(conn, write_ns, "bad_type")


def test_partition_by_on_an_existing_table_attaches_without_changing_the_spec(conn, write_ns, local_lake):
    """partition_by applies when a table is created; attaching an existing table
    with another partition_by neither changes nor claims a spec: the table
    keeps day(ts), and writes through the attached foreign table follow it."""
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{write_ns}".existing')
    conn.execute(_create_sql(write_ns, "existing", COLUMNS, "partition_by 'day(ts)'"))
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{write_ns}".existing_again')
    conn.execute(f'CREATE FOREIGN TABLE "{write_ns}".existing_again ({COLUMNS}) SERVER lake_local '
                 f"OPTIONS (namespace '{write_ns}', table 'existing', partition_by 'bucket(4, id)')")
    conn.execute(f'INSERT INTO "{write_ns}".existing_again (id, ts) '
                 f"VALUES (1, '2024-01-01 10:00:00+00'), (2, '2024-01-02 10:00:00+00')")
    table = local_lake.catalog.load_table(f"{write_ns}.existing")
    assert [str(f.transform) for f in table.spec().fields] == ["day"]
    assert len(table.specs()) == 1
    files = [task.file for task in table.scan().plan_files()]
    assert sorted(f.partition[0] for f in files) == [19723, 19724], "one file per day(ts)"


@pytest.fixture(scope="module")
def target(conn, write_ns):
    relation = f'"{write_ns}".target'
    conn.execute(_create_sql(write_ns, "target", "id integer NOT NULL, amount numeric(6,2), label text", ""))
    conn.execute(f"INSERT INTO {relation} VALUES (1, 1.50, 'one'), (2, 2.50, 'two')")
    return relation


def _unchanged(conn, relation: str) -> None:
    assert conn.execute(f"SELECT count(*), sum(id) FROM {relation}").fetchone() == (2, 3)


def test_null_into_required_column(target, conn):
    before = snapshot_count(conn, target)
    for statement in (f"INSERT INTO {target} VALUES (NULL, 1, 'x')",
                      f"INSERT INTO {target} (amount) VALUES (1)",
                      f"INSERT INTO {target} SELECT CASE WHEN g = 900 THEN NULL ELSE g END, 1, 'x' "
                      f"FROM generate_series(10, 1000) g",
                      f"UPDATE {target} SET id = NULL WHERE id = 1"):
        expect_error(conn, statement, "null", "id")
    with pytest.raises(Exception, match="(?i)null"):
        with conn.transaction():
            with conn.cursor().copy(f"COPY {target} FROM STDIN") as copy:
                copy.write("5\t1\tok\n\\N\t1\tbad\n")
    _unchanged(conn, target)
    assert snapshot_count(conn, target) == before


def test_numeric_overflow_and_scale(target, conn, write_ns):
    expect_error(conn, f"INSERT INTO {target} VALUES (3, 12345.67, 'x')", "numeric field overflow")
    # a declared column wider than the Iceberg decimal(6,2): more decimals are an error, not rounding
    wide = f'"{write_ns}".target_wide'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {wide}")
    conn.execute(f"CREATE FOREIGN TABLE {wide} (id bigint NOT NULL, amount numeric(12,4), label text) "
                 f"SERVER lake_local OPTIONS (namespace '{write_ns}', table 'target')")
    expect_error(conn, f"INSERT INTO {wide} VALUES (3, 1.2345, 'x')", "amount", "decimal")
    expect_error(conn, f"INSERT INTO {wide} VALUES (3, 123456.78, 'x')", "amount")
    # unconstrained numeric is decimal(38,10): an 11th decimal is an error
    loose = f'"{write_ns}".loose_numeric'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {loose}")
    conn.execute(_create_sql(write_ns, "loose_numeric", "id integer, v numeric", ""))
    conn.execute(f"INSERT INTO {loose} VALUES (1, 1.0123456789)")
    expect_error(conn, f"INSERT INTO {loose} VALUES (2, 1.01234567891)", "v")
    assert conn.execute(f"SELECT v FROM {loose}").fetchall() == [(__import__("decimal").Decimal("1.0123456789"),)]
    # a bigint column over an Iceberg int: values beyond int are an error
    expect_error(conn, f"INSERT INTO {wide} VALUES (3000000000, 1, 'x')", "id")
    _unchanged(conn, target)


def test_writes_to_a_pinned_table(target, conn, write_ns):
    snapshot = conn.execute(f"SELECT snapshot_id FROM lake.snapshots('{target}') "
                            f"ORDER BY committed_at DESC LIMIT 1").fetchone()[0]
    pinned = f'"{write_ns}".target_pinned'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {pinned}")
    conn.execute(f"CREATE FOREIGN TABLE {pinned} (id integer, amount numeric(6,2), label text) SERVER lake_local "
                 f"OPTIONS (namespace '{write_ns}', table 'target', snapshot_id '{snapshot}')")
    for statement in (f"INSERT INTO {pinned} VALUES (9, 1, 'x')",
                      f"INSERT INTO {pinned} SELECT * FROM {target}",
                      f"DELETE FROM {pinned} WHERE id = 1",
                      f"UPDATE {pinned} SET label = 'y'",
                      f"TRUNCATE {pinned}",
                      f"COPY {pinned} FROM PROGRAM 'echo 9'"):
        expect_error(conn, statement, "read-only")
    _unchanged(conn, target)


def test_writes_with_session_time_travel(target, conn):
    """With townlake.iceberg_snapshot_id or townlake.iceberg_as_of set, writes are refused (the
    table is read at an old snapshot)."""
    snapshot = conn.execute(f"SELECT snapshot_id FROM lake.snapshots('{target}') "
                            f"ORDER BY committed_at LIMIT 1").fetchone()[0]
    with conn.transaction():
        conn.execute(f"SET LOCAL townlake.iceberg_snapshot_id = '{snapshot}'")
        expect_error(conn, f"INSERT INTO {target} VALUES (9, 1, 'x')", "reading the past", "townlake.iceberg_snapshot_id")
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_as_of = '2999-01-01 00:00:00+00'")
        expect_error(conn, f"DELETE FROM {target} WHERE id = 1", "reading the past", "townlake.iceberg_as_of")
    _unchanged(conn, target)


def test_writes_to_a_table_attached_by_metadata_location(target, conn, write_ns):
    location = conn.execute("SELECT metadata_location FROM lake.iceberg_tables WHERE table_namespace = %s "
                            "AND table_name = 'target'", (write_ns,)).fetchone()[0]
    by_file = f'"{write_ns}".target_by_file'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {by_file}")
    conn.execute(f"CREATE FOREIGN TABLE {by_file} (id integer, amount numeric(6,2), label text) SERVER lake_local "
                 f"OPTIONS (metadata_location '{location}')")
    for statement in (f"INSERT INTO {by_file} VALUES (9, 1, 'x')", f"DELETE FROM {by_file}",
                      f"UPDATE {by_file} SET label = 'y'", f"TRUNCATE {by_file}"):
        expect_error(conn, statement, "read-only")
    _unchanged(conn, target)


def test_writes_through_a_read_only_server(target, conn, write_ns):
    warehouse = conn.execute("SELECT option_value FROM pg_options_to_table("
                             "(SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'lake_local')) "
                             "WHERE option_name = 'warehouse'").fetchone()
    warehouse = warehouse[0] if warehouse else conn.execute("SHOW townlake.iceberg_warehouse").fetchone()[0]
    conn.execute("DROP SERVER IF EXISTS lake_ro CASCADE")
    conn.execute(f"CREATE SERVER lake_ro FOREIGN DATA WRAPPER iceberg "
                 f"OPTIONS (warehouse '{warehouse}', catalog_name 'lake_local', read_only 'true')")
    ro = f'"{write_ns}".target_ro'
    conn.execute(f"CREATE FOREIGN TABLE {ro} (id integer, amount numeric(6,2), label text) SERVER lake_ro "
                 f"OPTIONS (namespace '{write_ns}', table 'target')")
    assert conn.execute(f"SELECT count(*) FROM {ro}").fetchone() == (2,)
    for statement in (f"INSERT INTO {ro} VALUES (9, 1, 'x')", f"DELETE FROM {ro} WHERE id = 1",
                      f"UPDATE {ro} SET label = 'y'", f"TRUNCATE {ro}",
                      f"SELECT lake.compact('{ro}')"):
        expect_error(conn, statement, "read-only")
    with pytest.raises(Exception, match="(?i)read-only"):
        with conn.transaction():
            with conn.cursor().copy(f"COPY {ro} FROM STDIN") as copy:
                copy.write("9\t1\tx\n")
    expect_error(conn, _create_sql(write_ns, "new_on_ro", "id integer", "", server="lake_ro"), "read-only")
    assert not _in_catalog(conn, write_ns, "new_on_ro")
    _unchanged(conn, target)
    conn.execute("DROP SERVER lake_ro CASCADE")


def test_write_privileges_follow_postgres(target, conn, write_ns):
    """A role with SELECT but no INSERT on the foreign table cannot write."""
    conn.execute("DROP ROLE IF EXISTS tl_write_reader")
    conn.execute("CREATE ROLE tl_write_reader")
    try:
        conn.execute(f'GRANT USAGE ON SCHEMA "{write_ns}", lake TO tl_write_reader')
        conn.execute(f"GRANT SELECT ON {target} TO tl_write_reader")
        conn.execute("SET ROLE tl_write_reader")
        try:
            assert conn.execute(f"SELECT count(*) FROM {target}").fetchone() == (2,)
            expect_error(conn, f"INSERT INTO {target} VALUES (9, 1, 'x')", "permission denied")
            expect_error(conn, f"DELETE FROM {target}", "permission denied")
        finally:
            conn.execute("RESET ROLE")
    finally:
        conn.execute(f"REVOKE ALL ON {target} FROM tl_write_reader")
        conn.execute(f'REVOKE ALL ON SCHEMA "{write_ns}", lake FROM tl_write_reader')
        conn.execute("DROP OWNED BY tl_write_reader")
        conn.execute("DROP ROLE tl_write_reader")
    _unchanged(conn, target)


def test_write_errors_in_catalog_inconsistency(conn, write_ns):
    """The Iceberg table was removed from the catalog behind the foreign table's back."""
    relation = f'"{write_ns}".vanishing'
    conn.execute(_create_sql(write_ns, "vanishing", "id integer", ""))
    conn.execute("DELETE FROM lake.iceberg_tables WHERE table_namespace = %s AND table_name = 'vanishing'",
                 (write_ns,))
    expect_error(conn, f"INSERT INTO {relation} VALUES (1)", "vanishing")
    conn.execute(f"DROP FOREIGN TABLE {relation}")


def test_declarations_iceberg_cannot_keep_are_refused(conn):
    """Issue 9 item 14: SET NOT NULL and ON CONFLICT were silently ignored."""
    conn.execute("DROP FOREIGN TABLE IF EXISTS declared")
    conn.execute("CREATE FOREIGN TABLE declared (id bigint NOT NULL, v text) SERVER lake_local "
                 "OPTIONS (namespace 'errors_ns', table 'declared')")
    conn.execute("INSERT INTO declared VALUES (1, NULL)")
    for alter in ("ALTER FOREIGN TABLE declared ALTER COLUMN v SET NOT NULL",
                  "ALTER TABLE declared ALTER COLUMN v SET NOT NULL"):
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="SET NOT NULL is not supported"):
            conn.execute(alter)
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="cannot be NOT NULL"):
        conn.execute("ALTER FOREIGN TABLE declared ADD COLUMN w int NOT NULL DEFAULT 0")
    for insert in ("INSERT INTO declared VALUES (1, 'dup') ON CONFLICT DO NOTHING",
                   "INSERT INTO declared VALUES (1, 'dup') ON CONFLICT (id) DO NOTHING"):
        with pytest.raises(psycopg.Error, match="ON CONFLICT"):
            conn.execute(insert)
    assert conn.execute("SELECT count(*) FROM declared").fetchone() == (1,)
    # DROP NOT NULL is a valid Iceberg change: the field becomes optional
    conn.execute("ALTER FOREIGN TABLE declared ALTER COLUMN id DROP NOT NULL")
    conn.execute("INSERT INTO declared VALUES (NULL, 'no id')")
    assert conn.execute("SELECT count(*) FROM declared WHERE id IS NULL").fetchone() == (1,)
    # ALTER TABLE on a foreign table evolves the Iceberg schema like ALTER FOREIGN TABLE
    conn.execute("ALTER TABLE declared ADD COLUMN extra int")
    conn.execute("INSERT INTO declared VALUES (2, 'x', 7)")
    assert conn.execute("SELECT extra FROM declared WHERE id = 2").fetchone() == (7,)


# Text columns over fields Postgres holds by value: an attached table may
# declare any field as text. Each text value must mean what Postgres' own
# cast from text makes of it (the oracle), not the text pointer's bits.
TEXT_OVER_TYPED = {
    "b": ("boolean", ["true", "f", "yes", "0", "on", "FALSE"]),
    "d": ("date", ["2024-02-29", "1970-01-01", "0001-01-01", "2100-12-31", "1999-12-31", "2024-01-15"]),
    "t": ("time", ["00:00:00", "23:59:59.999999", "12:30", "01:02:03.5", "13:00:00", "06:07:08"]),
    "ts": ("timestamp", ["2024-01-15 10:20:30", "1970-01-01 00:00:00", "1900-06-01 12:00:00.123456",
                         "2262-04-11 23:47:16", "2000-02-29 00:00:00", "2024-12-31 23:59:59"]),
    "tz": ("timestamptz", ["2024-01-15 10:20:30+02", "1970-01-01 00:00:00+00", "1999-12-31 23:59:59-08",
                           "2038-01-19 03:14:08+00", "2024-06-01 12:00:00+05:30", "2001-09-09 01:46:40Z"]),
}


def test_text_column_over_typed_fields_writes_the_parsed_values(conn, write_ns):
    typed_cols = ", ".join(f"{c} {ty}" for c, (ty, _) in TEXT_OVER_TYPED.items())
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{write_ns}".text_typed, "{write_ns}".text_typed_as_text')
    conn.execute(_create_sql(write_ns, "text_typed", f"id int, {typed_cols}", ""))
    text_cols = ", ".join(f"{c} text" for c in TEXT_OVER_TYPED)
    conn.execute(f'CREATE FOREIGN TABLE "{write_ns}".text_typed_as_text (id int, {text_cols}) SERVER lake_local '
                 f"OPTIONS (namespace '{write_ns}', table 'text_typed', attach_only 'true')")
    rows = [[i] + [values[i] for _, values in TEXT_OVER_TYPED.values()] for i in range(6)]
    placeholders = ", ".join(["%s"] * (1 + len(TEXT_OVER_TYPED)))
    with conn.cursor() as cur:
        cur.executemany(f'INSERT INTO "{write_ns}".text_typed_as_text VALUES ({placeholders})', rows)
    casts = ", ".join(f"%s::{ty}" for ty, _ in TEXT_OVER_TYPED.values())
    expected = [conn.execute(f"SELECT %s::int, {casts}", row).fetchone() for row in rows]
    got = conn.execute(f'SELECT id, {", ".join(TEXT_OVER_TYPED)} FROM "{write_ns}".text_typed ORDER BY id').fetchall()
    assert got == expected


def test_bad_text_for_a_typed_field_is_an_error_and_writes_nothing(conn, write_ns):
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{write_ns}".text_bool, "{write_ns}".text_bool_as_text')
    conn.execute(_create_sql(write_ns, "text_bool", "id int, b boolean", ""))
    conn.execute(f'CREATE FOREIGN TABLE "{write_ns}".text_bool_as_text (id int, b text) SERVER lake_local '
                 f"OPTIONS (namespace '{write_ns}', table 'text_bool', attach_only 'true')")
    before = snapshot_count(conn, f"\"{write_ns}\".text_bool")
    expect_error(conn, f"INSERT INTO \"{write_ns}\".text_bool_as_text VALUES (1, 'true'), (2, 'maybe')",
                 "boolean", "maybe")
    assert snapshot_count(conn, f"\"{write_ns}\".text_bool") == before
    assert conn.execute(f'SELECT count(*) FROM "{write_ns}".text_bool').fetchone() == (0,)


def test_timestamps_beyond_what_an_hour_partition_holds(conn, write_ns):
    """hour() partition values are 32-bit hours since 1970: a later timestamp
    would wrap round to a negative hour and filters would skip its file. It is
    refused; the last hour that fits is written, and found by range filters."""
    table = f'"{write_ns}".far_hours'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {table}")
    conn.execute(_create_sql(write_ns, "far_hours", "id integer, ts timestamp", "partition_by 'hour(ts)'"))
    # the first hour that does not fit, computed by Postgres: 2^31 hours after 1970
    first = conn.execute("SELECT (timestamp '1970-01-01' + interval '2147483648 hours')::text").fetchone()[0]
    last = conn.execute("SELECT (timestamp '1970-01-01' + interval '2147483648 hours' - interval '1 microsecond')::text"
                        ).fetchone()[0]
    expect_error(conn, f"INSERT INTO {table} VALUES (1, '{first}')", "ts", "hour", "day()")
    with pytest.raises(psycopg.errors.DatetimeFieldOverflow):
        with conn.transaction():
            conn.execute(f"INSERT INTO {table} VALUES (1, '{first}')")
    conn.execute(f"INSERT INTO {table} VALUES (2, '{last}'), (3, '2000-01-01'), (4, '4713-01-01 BC')")
    assert conn.execute(f"SELECT id FROM {table} WHERE ts > '3000-01-01' ORDER BY id").fetchall() == [(2,)]
    assert conn.execute(f"SELECT id FROM {table} WHERE ts < '1000-01-01' ORDER BY id").fetchall() == [(4,)]
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 3
    # literals beyond the last hour: their projection would wrap round too
    far = "'250000-01-01'::timestamp"
    for query, expected in ((f"SELECT id FROM {table} WHERE ts < {far} ORDER BY id", [(2,), (3,), (4,)]),
                            (f"SELECT id FROM {table} WHERE ts <= {far} AND ts > '3000-01-01' ORDER BY id", [(2,)]),
                            (f"SELECT id FROM {table} WHERE ts > {far} OR id = 3 ORDER BY id", [(3,)]),
                            (f"SELECT id FROM {table} WHERE ts IN ({far}, '2000-01-01') ORDER BY id", [(3,)])):
        assert conn.execute(query).fetchall() == expected, query


def test_ctid_is_refused_not_matched_per_file(conn, write_ns):
    """Red team: an UPDATE or DELETE identifies a row by its data file, a
    ctid all the file's rows share, so `DELETE ... WHERE ctid = '(0,1)'`
    deleted a whole file (5000 rows) where a heap deletes at most one, and
    the `a.ctid < b.ctid` de-duplication idiom misbehaved. Any use of ctid
    is refused now; row identity for UPDATE and DELETE still works."""
    name = f'"{write_ns}".ctid_rows'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    conn.execute(_create_sql(write_ns, "ctid_rows", "id bigint, v text", ""))
    for lo, hi in ((1, 500), (501, 1000)):  # two commits: two data files
        conn.execute(f"INSERT INTO {name} SELECT g, 'v' || g FROM generate_series({lo}, {hi}) g")
    expected = (1000, sum(range(1, 1001)))
    for statement in (f"DELETE FROM {name} WHERE ctid = '(0,1)'",
                      f"UPDATE {name} SET v = 'x' WHERE ctid = '(1,1)'",
                      f"SELECT count(*) FROM {name} WHERE ctid = '(0,1)'",
                      f"SELECT ctid, id FROM {name} LIMIT 1",
                      f"DELETE FROM {name} a USING {name} b WHERE a.id = b.id AND a.ctid < b.ctid",
                      f"SELECT count(*) FROM {name} a JOIN {name} b ON a.ctid = b.ctid"):
        expect_error(conn, statement, "has no ctid", "row_number")
        assert conn.execute(f"SELECT count(*), sum(id) FROM {name}").fetchone() == expected
    conn.execute(f"DELETE FROM {name} WHERE id <= 10")
    conn.execute(f"UPDATE {name} SET v = 'changed' WHERE id = 11")
    assert conn.execute(f"SELECT count(*), sum(id), count(*) FILTER (WHERE v = 'changed') FROM {name}"
                        ).fetchone() == (990, expected[1] - 55, 1)
