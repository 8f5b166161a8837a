"""INSERT and COPY FROM into ClickHouse foreign tables (Debian's ClickHouse
18.16, started by the `clickhouse` fixture).

Oracles: ClickHouse's own answers over its HTTP interface (never read back
through townlake), the Python values the rows were made from, and
ClickHouse's system.query_log for how many INSERT requests a statement sent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
import time
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, rows

SUFFIX = uuid.uuid4().hex[:6]
CHDB = f"tl_chw_{SUFFIX}"
UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

TYPES_CH = """(
    id UInt32, i8 Int8, i16 Int16, i32 Int32, i64 Int64, u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64,
    f32 Float32, f64 Float64, d Decimal(18, 3), s String, fs FixedString(4), day Date, ts DateTime,
    tokyo DateTime('Asia/Tokyo'), n Nullable(Int32), ns Nullable(String), u UUID, arr Array(Int32),
    sarr Array(String), narr Array(Nullable(Int64)), flag UInt8, e Enum8('a' = 1, 'b' = 2)
) ENGINE = MergeTree() ORDER BY id"""
TYPES_PG = """(id bigint, i8 smallint, i16 smallint, i32 integer, i64 bigint, u8 smallint, u16 integer, u32 bigint,
    u64 numeric(20,0), f32 real, f64 double precision, d numeric(18,3), s text, fs text, day date, ts timestamptz,
    tokyo timestamptz, n integer, ns text, u uuid, arr integer[], sarr text[], narr bigint[], flag boolean, e text)"""
COLUMNS = ["id", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "d", "s", "fs", "day", "ts",
           "tokyo", "n", "ns", "u", "arr", "sarr", "narr", "flag", "e"]
NASTY = "tab\there\nnewline 'quote' \"dq\" back\\slash\r ünïcødé ✓ \\N"
SOURCE = [
    # Each type's minimum.
    (1, -128, -32768, -2**31, -2**63, 0, 0, 0, Decimal(0), -3.4028234663852886e38, -1.7976931348623157e308,
     Decimal("-999999999999999.999"), "", "", dt.date(1970, 1, 1), EPOCH, EPOCH, -2**31, "",
     uuid.UUID(int=0), [], [], [], False, "a"),
    # Each type's maximum, and the strings ClickHouse's text format must escape.
    (2, 127, 32767, 2**31 - 1, 2**63 - 1, 255, 65535, 2**32 - 1, Decimal(2**64 - 1), 3.4028234663852886e38,
     1.7976931348623157e308, Decimal("999999999999999.999"), NASTY, "abcd", dt.date(2105, 12, 31),
     dt.datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC), dt.datetime(2024, 6, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
     2**31 - 1, NASTY, uuid.UUID(int=2**128 - 1), [1, -2, 2**31 - 1],
     ["a,b", 'c"d', "", "NULL", "{x}", "it's", "tab\tx", "back\\slash", "[1]", "\\N"], [None, 1, -2**63], True, "b"),
    # NULLs, NaN and infinities, negative zero.
    (3, 0, 0, 0, 0, 1, 1, 1, Decimal(1), float("nan"), float("-inf"), Decimal("-0.001"), "x", "z",
     dt.date(2024, 2, 29), dt.datetime(2024, 3, 10, 10, 30, tzinfo=UTC),
     dt.datetime(2024, 3, 10, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=-8))), None, None,
     uuid.UUID("f06661b2-c490-4303-8f70-cde0ac6163ec"), [0], ["only"], [None], False, "a"),
    (4, -1, -1, -1, -1, 7, 7, 7, Decimal(42), 0.5, -0.0, Decimal("0.1"), "ends with space ", "ab",
     dt.date(2000, 1, 1), dt.datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC), dt.datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC),
     0, "plain", uuid.UUID("123e4567-e89b-12d3-a456-426614174000"), [-1, -1], [""], [], True, "b"),
    (5, 1, 1, 1, 1, 2, 2, 2, Decimal(2), float("inf"), 0.1, Decimal("12.5"), "0.1", "", dt.date(1999, 12, 31),
     dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC), dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC), 5, "",
     uuid.UUID("00000000-0000-0000-0000-000000000001"), [], ["x"], [7], False, "a"),
]


def single(f: float) -> float:
    """`f` rounded to single precision (a real column's value)."""
    return struct.unpack("f", struct.pack("f", f))[0]


def ch_query_log_inserts(ch, table: str, expect: int = 0) -> list[int]:
    """written_rows of each finished INSERT into `table`, from ClickHouse's
    query log. ClickHouse logs a query after it answered it, so this waits
    (up to 15 s) until at least `expect` of them are there."""
    deadline = time.monotonic() + 15
    while True:
        ch.query("SYSTEM FLUSH LOGS")
        logged = ch.rows(f"SELECT written_rows FROM system.query_log WHERE type = 2 "
                         f"AND query LIKE 'INSERT INTO `{CHDB}`.`{table}`%' ORDER BY event_time, query_start_time")
        if len(logged) >= expect or time.monotonic() > deadline:
            return [int(r[0]) for r in logged]
        time.sleep(0.2)


def ch_count(ch, table: str) -> int:
    return int(ch.query(f"SELECT count() FROM {CHDB}.{table}").strip())


@pytest.fixture(scope="module")
def ch(clickhouse):
    clickhouse.query(f"CREATE DATABASE {CHDB}")
    yield clickhouse
    clickhouse.query(f"DROP DATABASE IF EXISTS {CHDB}")


@pytest.fixture(scope="module")
def chconn(conn, ch):
    conn.execute(sql.SQL("CREATE SERVER ch FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})").format(
        sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER ch OPTIONS (user {}, password {})").format(
        sql.Literal(ch.user), sql.Literal(ch.password)))
    return conn


def make_table(ch, conn, name: str, ch_columns: str, pg_columns: str) -> None:
    ch.query(f"CREATE TABLE {CHDB}.{name} {ch_columns}")
    conn.execute(f"CREATE FOREIGN TABLE {name} {pg_columns} SERVER ch")


# ---------------------------------------------------------------- values

def test_every_mapped_type_round_trips_to_clickhouse(chconn, ch):
    make_table(ch, chconn, "types", TYPES_CH, TYPES_PG)
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    values = ", ".join(f"({placeholders})" for _ in SOURCE)
    # One statement for every row (one request).
    chconn.execute(f"INSERT INTO types VALUES {values}", [v for row in SOURCE for v in row])
    got = ch.rows(f"SELECT id, i8, i16, i32, i64, u8, u16, u32, u64, toString(f32), toString(f64), toString(d), s, "
                  f"hex(fs), toUInt16(day), toUnixTimestamp(ts), toUnixTimestamp(tokyo), n, ns, toString(u), flag, "
                  f"toString(e) FROM {CHDB}.types ORDER BY id")
    arrays = [json.loads(line) for line in ch.query(
        f"SELECT arr, sarr, narr FROM {CHDB}.types ORDER BY id FORMAT JSONEachRow").splitlines()]
    assert [int(r[0]) for r in got] == [r[0] for r in SOURCE]
    for src, g, a in zip(SOURCE, got, arrays):
        (_, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, d, s, fs, day, ts, tokyo, n, ns, u, arr, sarr, narr,
         flag, e) = src
        assert [int(x) for x in g[1:9]] == [i8, i16, i32, i64, u8, u16, u32, int(u64)], src[0]
        for mine, theirs in ((single(f32), single(float(g[9]))), (f64, float(g[10]))):
            if math.isnan(mine):
                assert math.isnan(theirs)
            else:
                assert theirs == mine and math.copysign(1, theirs) == math.copysign(1, mine), (src[0], mine, theirs)
        assert Decimal(g[11]) == d
        assert g[12] == s
        # FixedString pads with NUL bytes.
        assert bytes.fromhex(g[13]) == fs.encode().ljust(4, b"\0")
        assert dt.date(1970, 1, 1) + dt.timedelta(days=int(g[14])) == day
        assert EPOCH + dt.timedelta(seconds=int(g[15])) == ts
        assert EPOCH + dt.timedelta(seconds=int(g[16])) == tokyo
        assert g[17] == (None if n is None else str(n))
        assert g[18] == ns
        assert g[19] == str(u)
        assert g[20] == str(int(flag))
        assert g[21] == e
        assert a["arr"] == arr and a["sarr"] == sarr
        assert [None if x is None else int(x) for x in a["narr"]] == narr
    # The string that spells ClickHouse's NULL stayed a string.
    assert ch.rows(f"SELECT isNull(ns), ns FROM {CHDB}.types WHERE id = 2") == [["0", NASTY]]


def test_timestamps_are_stored_as_the_instant_whatever_the_session_zone(chconn, ch):
    make_table(ch, chconn, "times", "(id UInt32, ts DateTime, local DateTime) ENGINE = MergeTree() ORDER BY id",
               "(id integer, ts timestamptz, local timestamp)")
    chconn.execute("SET TimeZone = 'America/New_York'")
    try:
        chconn.execute("INSERT INTO times VALUES (1, '2024-07-01 12:00:00+02', '2024-07-01 12:00:00')")
    finally:
        chconn.execute("RESET TimeZone")
    got = ch.rows(f"SELECT toUnixTimestamp(ts), toUnixTimestamp(local) FROM {CHDB}.times")
    instant = dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    # timestamp without time zone is taken as UTC, as reads take it.
    assert got == [[str(int(instant.timestamp())), str(int(dt.datetime(2024, 7, 1, 12, 0, tzinfo=UTC).timestamp()))]]


def test_bytea_goes_in_as_raw_bytes(chconn, ch):
    make_table(ch, chconn, "raw", "(id UInt32, b String, f FixedString(3)) ENGINE = MergeTree() ORDER BY id",
               "(id integer, b bytea, f bytea)")
    blobs = [bytes(range(256)), b"", b"\t\n\\\x00'", "ünï".encode()]
    with chconn.cursor() as cur:
        cur.execute("INSERT INTO raw VALUES " + ", ".join(["(%s, %s, %s)"] * len(blobs)),
                    [v for i, b in enumerate(blobs) for v in (i, b, b[:3])])
    got = ch.rows(f"SELECT id, hex(b), hex(f) FROM {CHDB}.raw ORDER BY id")
    assert [(int(i), bytes.fromhex(b), bytes.fromhex(f)) for i, b, f in got] == \
        [(i, b, b[:3].ljust(3, b"\0")) for i, b in enumerate(blobs)]


# ---------------------------------------------------------------- batches

def test_rows_go_in_batches_of_the_setting(chconn, ch):
    make_table(ch, chconn, "batched", "(id UInt64, v String, x Float64) ENGINE = MergeTree() ORDER BY id",
               "(id bigint, v text, x double precision)")
    n, batch = 4321, 1000
    chconn.execute(f"SET townlake.clickhouse_batch_size = {batch}")
    try:
        assert one(chconn, "SHOW townlake.clickhouse_batch_size") == str(batch)
        chconn.execute(f"INSERT INTO batched SELECT g, 'row ' || g, g / 4.0 FROM generate_series(1, {n}) g")
    finally:
        chconn.execute("RESET townlake.clickhouse_batch_size")
    assert ch.rows(f"SELECT count(), sum(id), uniqExact(v), sum(x) FROM {CHDB}.batched") == [
        [str(n), str(n * (n + 1) // 2), str(n), repr(n * (n + 1) / 8)]]
    # ceil(N / batch) requests, each of at most `batch` rows.
    written = ch_query_log_inserts(ch, "batched", math.ceil(n / batch))
    assert len(written) == math.ceil(n / batch) and sum(written) == n and max(written) == batch, written
    # The default batch holds them all: one more request.
    chconn.execute(f"INSERT INTO batched SELECT g, 'again', 0 FROM generate_series(1, {n}) g")
    assert len(ch_query_log_inserts(ch, "batched", math.ceil(n / batch) + 1)) == math.ceil(n / batch) + 1
    assert ch_count(ch, "batched") == 2 * n


def test_a_batch_also_closes_at_64_mb(chconn, ch):
    # A role may set the batch size to millions of rows; the memory its
    # session holds for one batch stays bounded by bytes all the same.
    make_table(ch, chconn, "wide", "(id UInt64, v String) ENGINE = MergeTree() ORDER BY id", "(id bigint, v text)")
    n, width = 100, 1 << 20  # 100 rows of 1 MiB: 100 MiB in all
    chconn.execute("SET townlake.clickhouse_batch_size = 10000000")
    try:
        chconn.execute(f"INSERT INTO wide SELECT g, repeat('x', {width}) FROM generate_series(1, {n}) g")
    finally:
        chconn.execute("RESET townlake.clickhouse_batch_size")
    assert ch.rows(f"SELECT count(), sum(length(v)) FROM {CHDB}.wide") == [[str(n), str(n * width)]]
    written = ch_query_log_inserts(ch, "wide", 2)
    # 64 MiB holds 63 whole rows (each row is its text, an id and two
    # separators); the 64th closes the first batch.
    assert len(written) == 2 and sum(written) == n and written[0] == 64, written


def test_a_statement_failing_midway_sends_nothing(chconn, ch):
    make_table(ch, chconn, "midway", "(id UInt64, x Float64) ENGINE = MergeTree() ORDER BY id",
               "(id bigint, x double precision)")
    chconn.execute("SET townlake.clickhouse_batch_size = 1000")
    try:
        # Three full batches are encoded before the SELECT fails at row 3500.
        err = error_of(chconn, "INSERT INTO midway SELECT g, 1.0 / (g - 3500) FROM generate_series(1, 5000) g")
    finally:
        chconn.execute("RESET townlake.clickhouse_batch_size")
    assert isinstance(err, psycopg.errors.DivisionByZero)
    assert ch_count(ch, "midway") == 0 and ch_query_log_inserts(ch, "midway") == []


def test_column_lists_defaults_and_returning(chconn, ch):
    make_table(ch, chconn, "partial", "(id UInt32, note String, n Nullable(Int64)) ENGINE = MergeTree() ORDER BY id",
               "(id integer, note text DEFAULT 'from postgres', n bigint)")
    got = rows(chconn, "INSERT INTO partial (id) VALUES (1), (2) RETURNING id, note, n")
    assert got == [(1, "from postgres", None), (2, "from postgres", None)]
    assert ch.rows(f"SELECT id, note, n FROM {CHDB}.partial ORDER BY id") == [
        ["1", "from postgres", None], ["2", "from postgres", None]]


def test_copy_from(chconn, ch):
    make_table(ch, chconn, "copied", "(id UInt32, name Nullable(String), day Date) ENGINE = MergeTree() ORDER BY id",
               "(id integer, name text, day date)")
    n = 2500
    source = [(i, None if i % 10 == 0 else f"name\t{i}\n'x'", dt.date(2024, 1, 1) + dt.timedelta(days=i % 400))
              for i in range(n)]
    chconn.execute("SET townlake.clickhouse_batch_size = 1000")
    try:
        with chconn.cursor().copy("COPY copied FROM STDIN") as copy:
            for r in source:
                copy.write_row(r)
    finally:
        chconn.execute("RESET townlake.clickhouse_batch_size")
    got = ch.rows(f"SELECT id, name, toString(day) FROM {CHDB}.copied ORDER BY id")
    assert [(int(i), name, dt.date.fromisoformat(day)) for i, name, day in got] == source
    assert sorted(ch_query_log_inserts(ch, "copied", 3)) == [500, 1000, 1000]


# ---------------------------------------------------------------- errors

@pytest.fixture(scope="module")
def strict(chconn, ch):
    make_table(ch, chconn, "strict",
               "(id UInt32, small UInt8, t Int32, tag String, ts DateTime, d Decimal(6, 2), e Enum8('a' = 1)) "
               "ENGINE = MergeTree() ORDER BY id",
               "(id integer, small integer, t text, tag text, ts timestamptz, d numeric, e text)")
    return "strict"


@pytest.mark.parametrize("values,error,words", [
    ("(1, 256, '1', 'x', '2024-01-01', 1, 'a')", psycopg.errors.NumericValueOutOfRange, ["UInt8", "0 to 255"]),
    ("(1, -1, '1', 'x', '2024-01-01', 1, 'a')", psycopg.errors.NumericValueOutOfRange, ["UInt8", "wrapped"]),
    ("(1, 1, 'abc', 'x', '2024-01-01', 1, 'a')", psycopg.errors.DatatypeMismatch, ["Int32", "whole number"]),
    ("(1, 1, '99999999999', 'x', '2024-01-01', 1, 'a')", psycopg.errors.NumericValueOutOfRange, ["Int32"]),
    ("(1, 1, '1', NULL, '2024-01-01', 1, 'a')", psycopg.errors.NotNullViolation, ["Nullable"]),
    ("(1, 1, '1', 'x', '2024-01-01 00:00:00.5+00', 1, 'a')", psycopg.errors.NumericValueOutOfRange, ["date_trunc"]),
    ("(1, 1, '1', 'x', '1969-12-31 23:59:59+00', 1, 'a')", psycopg.errors.NumericValueOutOfRange, ["1970-01-01"]),
    ("(1, 1, '1', 'x', 'infinity', 1, 'a')", psycopg.errors.NumericValueOutOfRange, ["DateTime"]),
    ("(1, 1, '1', 'x', '2024-01-01', 1.005, 'a')", psycopg.errors.NumericValueOutOfRange, ["round(x, 2)"]),
    ("(1, 1, '1', 'x', '2024-01-01', 10000, 'a')", psycopg.errors.NumericValueOutOfRange, ["Decimal(6, 2)"]),
    ("(1, 1, '1', 'x', '2024-01-01', 'NaN', 'a')", psycopg.errors.DatatypeMismatch, ["NaN"]),
])
def test_bad_values_are_refused_before_anything_is_sent(chconn, ch, strict, values, error, words):
    good = "(2, 1, '1', 'ok', '2024-01-01', 1, 'a')"
    # The bad row comes last, after a full batch of good ones: nothing is sent.
    chconn.execute("SET townlake.clickhouse_batch_size = 1")
    try:
        err = error_of(chconn, f"INSERT INTO strict VALUES {good}, {good}, {values}")
    finally:
        chconn.execute("RESET townlake.clickhouse_batch_size")
    assert isinstance(err, error), (type(err), str(err))
    text = " ".join([str(err), err.diag.message_hint or "", err.diag.message_detail or ""])
    assert all(w in text for w in words), text
    assert err.diag.message_hint and "Row 3 of the statement" in err.diag.message_detail
    assert ch_count(ch, "strict") == 0
    assert one(chconn, "SELECT 1") == 1


def test_clickhouse_refusing_a_batch(chconn, ch, strict):
    # ClickHouse itself checks Enum values: its error, with its code.
    err = error_of(chconn, "INSERT INTO strict VALUES (1, 1, '1', 'x', '2024-01-01', 1, 'zzz')")
    assert isinstance(err, psycopg.errors.FdwError)
    assert "ClickHouse server \"ch\" failed while inserting into" in str(err) and "(code " in str(err)
    assert "No row of this statement reached ClickHouse" in err.diag.message_detail
    assert ch_count(ch, "strict") == 0
    # A later batch refused: the earlier ones stay in ClickHouse, and the
    # ERROR says so.
    chconn.execute("SET townlake.clickhouse_batch_size = 2")
    try:
        err = error_of(chconn, "INSERT INTO strict VALUES (1, 1, '1', 'x', '2024-01-01', 1, 'a'), "
                               "(2, 1, '1', 'x', '2024-01-01', 1, 'a'), (3, 1, '1', 'x', '2024-01-01', 1, 'zzz')")
    finally:
        chconn.execute("RESET townlake.clickhouse_batch_size")
    assert "first 1 batch(es), 2 rows, were stored" in err.diag.message_detail
    assert ch_count(ch, "strict") == 2
    ch.query(f"TRUNCATE TABLE {CHDB}.strict")


def test_rollback_does_not_take_back_sent_rows(chconn, ch, strict):
    """The documented caveat: ClickHouse has no transactions."""
    chconn.execute("BEGIN")
    chconn.execute("INSERT INTO strict VALUES (9, 1, '1', 'x', '2024-01-01', 1, 'a')")
    assert ch_count(ch, "strict") == 1
    chconn.execute("ROLLBACK")
    assert ch_count(ch, "strict") == 1
    ch.query(f"TRUNCATE TABLE {CHDB}.strict")


@pytest.mark.parametrize("statement,what", [
    ("UPDATE strict SET tag = 'y'", "UPDATE"),
    ("DELETE FROM strict WHERE id = 1", "DELETE"),
    ("TRUNCATE strict", "TRUNCATE"),
    ("INSERT INTO strict VALUES (1, 1, '1', 'x', '2024-01-01', 1, 'a') ON CONFLICT DO NOTHING", "ON CONFLICT"),
])
def test_row_changes_are_refused_with_a_hint(chconn, strict, statement, what):
    err = error_of(chconn, statement)
    assert isinstance(err, psycopg.errors.FeatureNotSupported), str(err)
    assert what in str(err) and "INSERT and COPY FROM only" in str(err)
    assert "no transactional row changes" in err.diag.message_hint
    assert one(chconn, "SELECT 1") == 1


def test_server_down_and_wrong_password_show_no_password(chconn, ch):
    secret = f"pw-{uuid.uuid4().hex}"
    chconn.execute("CREATE SERVER ch_down FOREIGN DATA WRAPPER clickhouse OPTIONS (host '127.0.0.1', port '1')")
    chconn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER ch_down OPTIONS (user 'u', password '{secret}')")
    chconn.execute(f"CREATE FOREIGN TABLE down (id integer) SERVER ch_down OPTIONS (database '{CHDB}', \"table\" 'strict')")
    err = error_of(chconn, "INSERT INTO down VALUES (1)")
    assert isinstance(err, psycopg.errors.FdwUnableToEstablishConnection)
    texts = [str(err), err.diag.message_hint or "", err.diag.message_detail or ""]
    assert "cannot reach ClickHouse server \"ch_down\"" in texts[0] and secret not in " ".join(texts)
    chconn.execute(sql.SQL("CREATE SERVER ch_pw FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})").format(
        sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
    chconn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER ch_pw OPTIONS (user '{ch.user}', password '{secret}')")
    chconn.execute("CREATE FOREIGN TABLE pw (id integer) SERVER ch_pw OPTIONS (\"table\" 'strict')")
    err = error_of(chconn, "INSERT INTO pw VALUES (1)")
    assert isinstance(err, psycopg.errors.FdwUnableToEstablishConnection)
    texts = [str(err), err.diag.message_hint or "", err.diag.message_detail or ""]
    assert "refused user" in texts[0] and secret not in " ".join(texts)
    assert one(chconn, "SELECT 1") == 1
    assert ch_count(ch, "strict") == 0
