"""Edge values a differential fuzzer found (issue 9, "no silent wrong
answer"; issue 15, pushdown): dates beyond the Iceberg library's calendar in
partitions, identity partitions the library cannot write, an explicit
COLLATE in pushed top-N and min/max, date functions of far dates in pushed
GROUP BY, and ClickHouse sums of wide decimals. Each answer is compared with
a heap copy of the same rows (or Python's own arithmetic); a refused write
must leave nothing behind."""

from __future__ import annotations

import decimal
import uuid

import psycopg
import pytest
from psycopg.types.string import TextLoader

from lakehelpers import expect_error

SUFFIX = uuid.uuid4().hex[:6]


def _table(conn, ns: str, name: str, columns: str, partition_by: str | None) -> str:
    qualified = f'"{ns}".{name}'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {qualified}")
    options = f"namespace '{ns}', table '{name}'" + (f", partition_by '{partition_by}'" if partition_by else "")
    conn.execute(f"CREATE FOREIGN TABLE {qualified} ({columns}) SERVER lake_local OPTIONS ({options})")
    return qualified


@pytest.mark.parametrize("column, partition_by, far", [
    ("d date", "month(d)", "'5874897-12-31'::date"),
    ("d date", "year(d)", "'300000-01-01'::date"),
    ("d date", "day(d)", "'262143-01-01'::date"),
    ("d date", "d", "'262143-01-01'::date"),
    ("d timestamp", "month(d)", "'290000-01-01'::timestamp"),
    ("d timestamp", "day(d)", "'262143-01-09 23:59:59'::timestamp"),
    ("d timestamptz", "year(d)", "'290000-01-01 00:00+00'::timestamptz"),
    ("d timestamptz", "d", "'1969-12-31 23:59:59.5+00'::timestamptz"),
])
def test_partition_values_the_library_cannot_hold_are_refused(conn, write_ns, column, partition_by, far):
    """A date past 262142 AD got a NULL month or year partition value, so
    every pushed filter skipped its file (rows vanished from counts); as a
    day or identity partition its path could not be named (an internal
    error), nor an identity timestamptz before 1970 with a fraction of a
    second."""
    conn.execute("SET TimeZone = UTC")
    t = _table(conn, write_ns, f"far_{abs(hash((column, partition_by, far))) % 10**8}", column, partition_by)
    conn.execute(f"INSERT INTO {t} VALUES ('2024-01-01')")
    expect_error(conn, f"INSERT INTO {t} VALUES ({far})", "cannot be stored in")
    with conn.transaction():
        err = None
        try:
            conn.execute(f"INSERT INTO {t} VALUES ({far})")
        except psycopg.Error as e:
            err = e
            raise psycopg.Rollback() from None
    assert isinstance(err, psycopg.errors.DatetimeFieldOverflow), err
    # nothing half-written: the table holds the one earlier row, and filters agree with a plain count
    assert conn.execute(f"SELECT count(*), count(*) FILTER (WHERE d IS NOT NULL) FROM {t}").fetchone() == (1, 1)
    assert conn.execute(f"SELECT count(*) FROM {t} WHERE d >= '2000-01-01'").fetchone() == (1,)


def test_far_dates_in_unpartitioned_columns_still_read_back(conn, write_ns):
    conn.execute("SET TimeZone = UTC")
    t = _table(conn, write_ns, "far_plain", "d date, ts timestamp", None)
    values = [("2024-01-01", "2024-01-01 00:00"), ("5874897-12-31", "262500-06-01 12:00")]
    conn.execute(f"INSERT INTO {t} VALUES " + ", ".join(f"('{d}', '{ts}')" for d, ts in values))
    heap = f'"{write_ns}".far_plain_heap'
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} (d date, ts timestamp)")
    conn.execute(f"INSERT INTO {heap} VALUES " + ", ".join(f"('{d}', '{ts}')" for d, ts in values))
    # (as text: Python's dates end in 9999)
    for q in ("SELECT count(*) FROM {} WHERE d >= '10000-01-01'", "SELECT max(d)::text, max(ts)::text FROM {}",
              "SELECT d::text FROM {} ORDER BY d DESC LIMIT 1"):
        assert conn.execute(q.format(t)).fetchall() == conn.execute(q.format(heap)).fetchall(), q
    # a pushed date function of such a value: a clear error where the scan cannot compute it ...
    as_text = conn.cursor()
    for type_name in ("date", "timestamp"):  # Python's dates end in 9999
        as_text.adapters.register_loader(type_name, TextLoader)
    for q in ("SELECT date_trunc('day', ts), count(*) FROM {} GROUP BY 1 ORDER BY 1",
              "SELECT extract(year FROM d), count(*) FROM {} GROUP BY 1 ORDER BY 1"):
        expect_error(conn, q.format(t), "cannot be computed in the Iceberg scan", "iceberg_aggregate_pushdown")
        # ... and Postgres' answer without the pushdown
        conn.execute("SET townlake.iceberg_aggregate_pushdown = off")
        try:
            assert as_text.execute(q.format(t)).fetchall() == as_text.execute(q.format(heap)).fetchall(), q
        finally:
            conn.execute("RESET townlake.iceberg_aggregate_pushdown")


@pytest.mark.parametrize("columns, partition_by, hint", [
    ("u uuid", "u", "bucket(n, u)"),
    ("b bytea", "truncate(4, b)", "does not apply"),
])
def test_partitions_the_library_cannot_write_are_refused_at_create(conn, write_ns, columns, partition_by, hint):
    name = f"nowrite_{partition_by[0]}_{SUFFIX}"
    expect_error(conn, f'CREATE FOREIGN TABLE "{write_ns}".{name} ({columns}) SERVER lake_local '
                       f"OPTIONS (namespace '{write_ns}', table '{name}', partition_by '{partition_by}')", hint)
    assert conn.execute("SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s AND table_name = %s",
                        (write_ns, name)).fetchone() == (0,)


def test_explicit_collate_is_not_ignored_by_top_n_and_min_max(conn, write_ns):
    """A C-collated column ordered or aggregated under another collation was
    answered in byte order by the pushed top-N and max()."""
    if not conn.execute("SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'").fetchone()[0]:
        pytest.skip("no ICU collations in this server")
    t = _table(conn, write_ns, "collated", 't text COLLATE "C", id int', None)
    words = ["Y", "é", "a", "Z", "ä", "b"]
    conn.execute(f"INSERT INTO {t} VALUES " + ", ".join(f"('{w}', {i})" for i, w in enumerate(words)))
    heap = f'"{write_ns}".collated_heap'
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f'CREATE TABLE {heap} (t text COLLATE "C", id int)')
    conn.execute(f"INSERT INTO {heap} VALUES " + ", ".join(f"('{w}', {i})" for i, w in enumerate(words)))
    for q in ('SELECT t FROM {} ORDER BY t COLLATE "und-x-icu" DESC LIMIT 2',
              'SELECT t FROM {} ORDER BY t COLLATE "und-x-icu" LIMIT 3',
              'SELECT count(*), max(t COLLATE "und-x-icu"), min(t COLLATE "und-x-icu") FROM {}',
              'SELECT t FROM {} ORDER BY t DESC LIMIT 2', 'SELECT max(t) FROM {}'):
        assert conn.execute(q.format(t)).fetchall() == conn.execute(q.format(heap)).fetchall(), q


def test_clickhouse_sums_of_wide_decimals_do_not_wrap(conn, clickhouse):
    """ClickHouse sums Decimal(38, s) in Decimal128 and wraps round past 38
    digits: two values of 28 integer digits summed to a negative number.
    Such sums stay with Postgres; the oracle is Python's decimal arithmetic."""
    chdb = f"tl_edge_{SUFFIX}"
    big = decimal.Decimal("9999999999999999999999999999.9999999999")
    small = decimal.Decimal("12345678.1234")
    clickhouse.query(f"CREATE DATABASE {chdb}")
    try:
        clickhouse.query(f"CREATE TABLE {chdb}.wide (id UInt32, w Decimal(38, 10), n Decimal(18, 4)) "
                         "ENGINE = MergeTree() ORDER BY id")
        clickhouse.query(f"INSERT INTO {chdb}.wide VALUES (1, {big}, {small}), (2, {big}, {small})")
        conn.execute(f"CREATE SERVER ch_edge FOREIGN DATA WRAPPER clickhouse OPTIONS "
                     f"(host '{clickhouse.host}', port '{clickhouse.port}', database '{chdb}')")
        conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER ch_edge OPTIONS "
                     f"(user '{clickhouse.user}', password '{clickhouse.password}')")
        conn.execute("CREATE FOREIGN TABLE ch_wide (id bigint, w numeric(38, 10), n numeric(18, 4)) "
                     "SERVER ch_edge OPTIONS (\"table\" 'wide')")
        got = conn.execute("SELECT sum(w), avg(w), sum(n), avg(n) FROM ch_wide").fetchone()
        with decimal.localcontext(decimal.Context(prec=80)):
            assert got[0] == big + big and got[1] == big
            assert got[2] == small + small and got[3] == small
        # the narrow column's sum is still computed by ClickHouse
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) SELECT sum(n) FROM ch_wide"))
        assert "sum(" in plan, plan
    finally:
        conn.execute("DROP SERVER IF EXISTS ch_edge CASCADE")
        clickhouse.query(f"DROP DATABASE IF EXISTS {chdb}")


def test_filters_on_a_column_older_files_lack(conn, write_ns):
    """iceberg-rust's row filter let the rows of a file written before a
    column was added pass `c < 1000` (their c is NULL): the pushed count(*)
    and top-N, which nothing rechecks, counted and returned them."""
    t = _table(conn, write_ns, "added_later", "id int, s text", None)
    heap = f'"{write_ns}".added_later_heap'
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} (id int, s text)")
    for target in (t, heap):
        conn.execute(f"INSERT INTO {target} SELECT g, 'x' || g FROM generate_series(1, 100) g")
        kind = "FOREIGN TABLE" if target == t else "TABLE"
        conn.execute(f"ALTER {kind} {target} ADD COLUMN c int, ADD COLUMN ct text, ADD COLUMN cn numeric(10,2)")
        conn.execute(f"INSERT INTO {target} SELECT g, 'y', g, 'v' || g, g / 4.0 FROM generate_series(101, 150) g")
    queries = [
        "SELECT count(*) FROM {} WHERE c < 1000", "SELECT count(*) FROM {} WHERE c <= 120",
        "SELECT count(*) FROM {} WHERE c IS NULL", "SELECT count(*) FROM {} WHERE c NOT IN (101, 102)",
        "SELECT count(*) FROM {} WHERE ct < 'z'", "SELECT count(*) FROM {} WHERE cn < 30",
        "SELECT count(*) FROM {} WHERE c < 1000 OR id = 1", "SELECT count(*), sum(c), min(id) FROM {} WHERE c > 0",
        "SELECT id FROM {} WHERE c < 1000 ORDER BY id LIMIT 3", "SELECT id FROM {} WHERE ct < 'z' ORDER BY id LIMIT 3",
        "SELECT count(*) FROM {} WHERE NOT (c > 1000)", "SELECT count(id) FROM {} WHERE c BETWEEN 0 AND 1000",
    ]
    for q in queries:
        assert conn.execute(q.format(t)).fetchall() == conn.execute(q.format(heap)).fetchall(), q
