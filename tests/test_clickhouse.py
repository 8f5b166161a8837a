"""The clickhouse foreign-data wrapper against a real ClickHouse (Debian's
18.16, started by the `clickhouse` fixture).

Oracles: ClickHouse's own answers over its HTTP interface, and a heap copy
of the events table loaded from ClickHouse's own TSV output (never read
through townlake); each pushdown shape runs on both and must agree, and its
remote SQL is asserted from EXPLAIN VERBOSE.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session

SUFFIX = uuid.uuid4().hex[:6]
CHDB = f"tl_ch_{SUFFIX}"
ANA = f"ch_ana_{SUFFIX}"
BOB = f"ch_bob_{SUFFIX}"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

# Edge values, written by ClickHouse itself (its own parser reads these literals).
TYPES_DDL = f"""
CREATE TABLE {CHDB}.types (
    id UInt32, i8 Int8, u64 UInt64, i64 Int64, f32 Float32, f64 Float64, d Decimal(18, 3),
    s String, fs FixedString(4), day Date, ts DateTime, tokyo DateTime('Asia/Tokyo'),
    n Nullable(Int32), ns Nullable(String), u UUID, arr Array(Int32), sarr Array(String), flag UInt8
) ENGINE = MergeTree() ORDER BY id
"""
TYPES_ROWS = [
    "(1, -128, 18446744073709551615, -9223372036854775808, 0.1, -0., 123456789012345.678, '', 'ab', "
    "'1970-01-01', '1970-01-01 00:00:00', '2024-06-01 09:00:00', NULL, NULL, "
    "'00000000-0000-0000-0000-000000000000', [], [], 0)",
    "(2, 127, 0, 9223372036854775807, -3.5, nan, -0.001, 'tab\\there\\nnewline \\'quote\\' back\\\\slash', "
    "'abcd', '2105-12-31', '2038-01-19 03:14:08', '1970-01-01 09:00:01', -2147483648, 'ünïcødé ✓', "
    "'f06661b2-c490-4303-8f70-cde0ac6163ec', [1, -2, 2147483647], ['a,b', 'c\"d', '', 'NULL', '{x}'], 1)",
    "(3, 0, 42, 0, inf, 1e300, 0, 'x', '', '2024-02-29', '2024-06-01 12:34:56', '2024-06-01 12:34:56', "
    "7, '', 'ffffffff-ffff-ffff-ffff-ffffffffffff', [0], ['only'], 1)",
    "(4, 1, 1, -1, -inf, -5e-324, 999999999999999.999, 'ends with space ', 'z', '2000-01-01', "
    "'2001-09-09 01:46:40', '2001-09-09 01:46:40', 0, 'plain', '123e4567-e89b-12d3-a456-426614174000', "
    "[-1, -1], ['x\\ty'], 0)",
]
TYPES_PG = """(id bigint, i8 smallint, u64 numeric(20,0), i64 bigint, f32 real, f64 double precision,
    d numeric(18,3), s text, fs text, day date, ts timestamptz, tokyo timestamptz, n integer, ns text,
    u uuid, arr integer[], sarr text[], flag boolean)"""

EVENTS_DDL = f"""
CREATE TABLE {CHDB}.events (
    id UInt64, account_id UInt32, ts DateTime, kind String, cost Decimal(12, 2),
    country Nullable(String), day Date
) ENGINE = MergeTree() ORDER BY id
"""
EVENTS_FILL = f"""
INSERT INTO {CHDB}.events
SELECT number, number % 50, toDateTime(1717200000 + number * 600), ['click', 'view', 'buy'][number % 3 + 1],
       toDecimal64(number % 997, 2), if(number % 7 = 0, NULL, ['de', 'fr', 'us', 'it'][number % 4 + 1]),
       toDate(toDateTime(1717200000 + number * 600))
FROM system.numbers LIMIT 2000
"""
EVENTS_PG = """(id bigint, account_id integer, ts timestamptz, kind text, cost numeric(12,2),
    country text, day date)"""


def remote_sql(conn, query, params=None) -> str:
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + query, params).fetchall())
    lines = [line.split("Remote SQL: ", 1)[1] for line in plan.splitlines() if "Remote SQL: " in line]
    assert len(lines) == 1, plan
    return lines[0]


def sorted_rows(conn, query, params=None):
    return sorted(rows(conn, query, params), key=repr)


@pytest.fixture(scope="module")
def ch(clickhouse):
    clickhouse.query(f"CREATE DATABASE {CHDB}")
    clickhouse.query(TYPES_DDL)
    clickhouse.query(f"INSERT INTO {CHDB}.types VALUES " + ", ".join(TYPES_ROWS))
    clickhouse.query(EVENTS_DDL)
    clickhouse.query(EVENTS_FILL)
    yield clickhouse
    clickhouse.query(f"DROP DATABASE IF EXISTS {CHDB}")


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [ANA, BOB])


@pytest.fixture(scope="module")
def chconn(conn, ch, roles):
    """Server `ch` with a PUBLIC mapping to the password-protected user, the
    foreign tables, and the heap copy of events (from ClickHouse's output)."""
    conn.execute(sql.SQL("CREATE SERVER ch FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})").format(
        sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER ch OPTIONS (user {}, password {})").format(
        sql.Literal(ch.user), sql.Literal(ch.password)))
    conn.execute(f"CREATE FOREIGN TABLE types {TYPES_PG} SERVER ch")
    conn.execute(f"CREATE FOREIGN TABLE events {EVENTS_PG} SERVER ch OPTIONS (\"table\" 'events')")
    conn.execute(f"CREATE TABLE events_heap {EVENTS_PG}")
    source = ch.rows(f"SELECT id, account_id, toUnixTimestamp(ts), kind, toString(cost), country, toString(day) "
                     f"FROM {CHDB}.events")
    assert len(source) == 2000
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO events_heap VALUES (%s, %s, to_timestamp(%s), %s, %s::numeric, %s, %s::date)",
            [tuple(r) for r in source])
    conn.execute("CREATE TABLE accounts (account_id integer PRIMARY KEY, plan text)")
    conn.execute("INSERT INTO accounts SELECT g, CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END FROM generate_series(0, 59) g")
    conn.execute("ANALYZE events_heap; ANALYZE accounts")
    yield conn
    # The roles go before the database: take back what they were given here.
    conn.execute(sql.SQL("DROP OWNED BY {}, {}").format(sql.Identifier(ANA), sql.Identifier(BOB)))


# ---------------------------------------------------------------- types

def test_type_round_trips_match_clickhouse(chconn, ch):
    got = {r[0]: r for r in rows(chconn, "SELECT * FROM types ORDER BY id")}
    want = ch.rows(f"SELECT id, i8, u64, i64, f32, f64, toString(d), s, toString(fs), toUInt16(day), "
                   f"toUnixTimestamp(ts), toUnixTimestamp(tokyo), n, ns, toString(u), flag FROM {CHDB}.types ORDER BY id")
    arrays = [json.loads(line) for line in ch.query(
        f"SELECT arr, sarr FROM {CHDB}.types ORDER BY id FORMAT JSONEachRow").splitlines()]
    assert sorted(got) == [int(r[0]) for r in want] == [1, 2, 3, 4]
    for w, a in zip(want, arrays):
        g = got[int(w[0])]
        assert g[1] == int(w[1]) and g[2] == Decimal(w[2]) and g[3] == int(w[3])
        for mine, theirs in ((g[4], float(w[4])), (g[5], float(w[5]))):
            if math.isnan(theirs):
                assert math.isnan(mine)
            else:
                assert mine == theirs and math.copysign(1, mine) == math.copysign(1, theirs)
        assert g[6] == Decimal(w[6])
        assert g[7] == w[7]
        # FixedString pads with NUL bytes; townlake reads the value without them.
        assert g[8] == w[8].rstrip("\0")
        assert g[9] == dt.date(1970, 1, 1) + dt.timedelta(days=int(w[9]))
        assert g[10] == EPOCH + dt.timedelta(seconds=int(w[10]))
        assert g[11] == EPOCH + dt.timedelta(seconds=int(w[11]))
        assert g[12] == (None if w[12] is None else int(w[12]))
        assert g[13] == w[13]
        assert str(g[14]) == w[14]
        assert g[15] == a["arr"] and g[16] == a["sarr"]
        assert g[17] == (w[15] == "1")
    # The edge values are really there (not only equal on both sides).
    assert got[1][2] == Decimal(2**64 - 1) and got[1][3] == -(2**63)
    assert got[2][7] == "tab\there\nnewline 'quote' back\\slash" and got[2][13] == "ünïcødé ✓"
    assert got[1][9] == dt.date(1970, 1, 1) and got[2][9] == dt.date(2105, 12, 31)
    assert got[2][16] == ["a,b", 'c"d', "", "NULL", "{x}"]


def test_arrays_read_as_text_keep_clickhouse_spelling(chconn, ch):
    chconn.execute("CREATE FOREIGN TABLE types_text (id bigint, sarr text, day text) SERVER ch OPTIONS (\"table\" 'types')")
    got = dict((r[0], r[1:]) for r in rows(chconn, "SELECT id, sarr, day FROM types_text"))
    # The array's text as ClickHouse prints it (its TSV field, not unescaped).
    text = ch.query(f"SELECT id, sarr, toString(day) FROM {CHDB}.types FORMAT TabSeparated")
    want = {int(f[0]): (f[1], f[2]) for f in (line.split("\t") for line in text.splitlines())}
    for k, (sarr, day) in want.items():
        assert got[k][0] == sarr
        # ClickHouse spells its day 0 0000-00-00; townlake reads it as the date it is.
        assert got[k][1] == ("1970-01-01" if day == "0000-00-00" else day)


# ---------------------------------------------------------------- pushdown

# Each query, and the parts of the WHERE ClickHouse must get (Postgres
# orders the clauses of an AND by cost, so their order is not asserted).
PUSHDOWN = [
    ("SELECT id, kind FROM {t} WHERE id < 100", ["`id` < 100"]),
    ("SELECT id FROM {t} WHERE kind = 'buy' AND account_id IN (1, 2, 3)",
     ["(`kind` = 'buy')", "(`account_id` IN (1, 2, 3))"]),
    ("SELECT id FROM {t} WHERE country IS NULL", ["isNull(`country`)"]),
    ("SELECT id, country FROM {t} WHERE country IS NOT NULL AND account_id = 4",
     ["(isNotNull(`country`))", "(`account_id` = 4)"]),
    ("SELECT id, country FROM {t} WHERE country NOT IN ('de', 'fr')",
     ["isNotNull(`country`) AND `country` NOT IN ('de', 'fr')"]),
    ("SELECT id FROM {t} WHERE country NOT IN ('de', NULL)", ["0"]),
    ("SELECT id, country FROM {t} WHERE country <> 'us'", ["`country` != 'us'"]),
    ("SELECT id FROM {t} WHERE ts >= '2024-06-02 00:00:00+00' AND ts < '2024-06-03 00:00:00+00'",
     ["(`ts` >= toDateTime(1717286400))", "(`ts` < toDateTime(1717372800))"]),
    ("SELECT id FROM {t} WHERE day = '2024-06-05'", ["`day` = toDate('2024-06-05')"]),
    ("SELECT id, kind FROM {t} WHERE kind LIKE 'cl%'", ["substring(`kind`, 1, 2) = 'cl'"]),
    ("SELECT id FROM {t} WHERE kind = 'buy' OR account_id = 7", ["(`kind` = 'buy') OR (`account_id` = 7)"]),
    ("SELECT id, cost FROM {t} WHERE cost BETWEEN 10 AND 20.5",
     ["(`cost` >= 10)", "(`cost` <= toDecimal128('20.50', 2))"]),
    # Values the column cannot hold are decided without it.
    ("SELECT id FROM {t} WHERE cost > 9.995 AND ts < '2024-06-02 00:00:00.5+00' AND account_id <> -1",
     ["(`cost` > toDecimal128('9.99', 2))", "(`ts` <= toDateTime(1717286400))", "(1)"]),
    ("SELECT id FROM {t} WHERE NOT (account_id = ANY(ARRAY[1, 2]))", ["`account_id` NOT IN (1, 2)"]),
    ("SELECT id FROM {t} WHERE kind = 'it''s'", ["`kind` = 'it\\'s'"]),
]


def where_of(remote: str) -> str:
    assert " WHERE " in remote, remote
    return remote.split(" WHERE ", 1)[1]


def assert_where(remote: str, parts: list[str]) -> None:
    """The remote WHERE is exactly `parts` joined by AND, in any order."""
    where = where_of(remote)
    assert all(p in where for p in parts), remote
    assert len(where) == len(" AND ".join(parts)), remote


@pytest.mark.parametrize("query,parts", PUSHDOWN)
def test_where_is_pushed_and_rows_match_the_heap_copy(chconn, query, parts):
    assert_where(remote_sql(chconn, query.format(t="events")), parts)
    got = sorted_rows(chconn, query.format(t="events"))
    want = sorted_rows(chconn, query.format(t="events_heap"))
    assert got == want
    # The shapes are chosen to select something (but two).
    assert got or "NULL" in query or "it''s" in query


def test_what_cannot_be_pushed_stays_with_postgres(chconn):
    query = "SELECT id FROM {t} WHERE kind || '!' = 'buy!' AND id < 50"
    remote = remote_sql(chconn, query.format(t="events"))
    assert remote == f"SELECT `id`, `kind` FROM `{CHDB}`.`events` WHERE `id` < 50"
    assert sorted_rows(chconn, query.format(t="events")) == sorted_rows(chconn, query.format(t="events_heap"))


def test_only_needed_columns_travel(chconn, ch):
    assert remote_sql(chconn, "SELECT kind FROM events") == f"SELECT `kind` FROM `{CHDB}`.`events`"
    assert remote_sql(chconn, "SELECT id FROM events WHERE random() > 2") == f"SELECT `id` FROM `{CHDB}`.`events`"
    # No column at all (count(*) under a clause Postgres keeps).
    assert remote_sql(chconn, "SELECT count(*) FROM events WHERE random() < 2") == f"SELECT 1 FROM `{CHDB}`.`events`"
    assert one(chconn, "SELECT count(*) FROM events") == int(ch.query(f"SELECT count() FROM {CHDB}.events"))


def test_limit_is_pushed_only_when_the_whole_where_is(chconn):
    q = "SELECT id, account_id FROM events WHERE account_id = 3 LIMIT 5"
    assert remote_sql(chconn, q).endswith("WHERE `account_id` = 3 LIMIT 5")
    got = rows(chconn, q)
    assert len(got) == 5 and all(r[1] == 3 for r in got)
    heap = set(rows(chconn, "SELECT id, account_id FROM events_heap WHERE account_id = 3"))
    assert set(got) <= heap
    # A clause Postgres keeps (or a prefix LIKE that is only a weaker test):
    # the LIMIT stays local too, so no row is lost to it.
    assert "LIMIT" not in remote_sql(chconn, "SELECT id FROM events WHERE kind || '' = 'buy' LIMIT 5")
    q2 = "SELECT id FROM events WHERE kind LIKE 'b_y' LIMIT 7"
    assert "LIMIT" not in remote_sql(chconn, q2)
    assert len(rows(chconn, q2)) == 7


def test_prepared_statement_parameters_are_pushed(chconn):
    chconn.execute("PREPARE by_account(int, text) AS SELECT id FROM events WHERE account_id = $1 AND kind = $2")
    try:
        # Past the fifth execution Postgres may switch to a generic plan.
        for i in range(8):
            account = i * 6
            got = sorted(r[0] for r in rows(chconn, "EXECUTE by_account(%s, 'view')" % account))
            want = sorted(r[0] for r in rows(
                chconn, "SELECT id FROM events_heap WHERE account_id = %s AND kind = 'view'", (account,)))
            assert got == want and got
        plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN (VERBOSE, ANALYZE) EXECUTE by_account(12, 'view')"))
        assert "(`account_id` = 12)" in plan and "(`kind` = 'view')" in plan, plan
    finally:
        chconn.execute("DEALLOCATE by_account")


def test_join_with_a_postgres_table(chconn):
    query = """SELECT a.plan, count(*), sum(e.cost) FROM {t} e JOIN accounts a USING (account_id)
               WHERE e.kind = 'buy' AND e.ts < '2024-06-10' GROUP BY a.plan ORDER BY a.plan"""
    got = rows(chconn, query.format(t="events"))
    assert got == rows(chconn, query.format(t="events_heap"))
    assert len(got) == 2
    assert_where(remote_sql(chconn, query.format(t="events")), ["(`kind` = 'buy')", "(`ts` < toDateTime(1717977600))"])


def test_import_foreign_schema_maps_types(chconn, ch):
    chconn.execute("CREATE SCHEMA imported")
    chconn.execute(f"IMPORT FOREIGN SCHEMA {CHDB} LIMIT TO (types) FROM SERVER ch INTO imported")
    cols = dict(rows(chconn, """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
                                WHERE attrelid = 'imported.types'::regclass AND attnum > 0"""))
    assert cols == {
        "id": "bigint", "i8": "smallint", "u64": "numeric(20,0)", "i64": "bigint", "f32": "real",
        "f64": "double precision", "d": "numeric(18,3)", "s": "text", "fs": "text", "day": "date",
        "ts": "timestamp with time zone", "tokyo": "timestamp with time zone", "n": "integer", "ns": "text",
        "u": "uuid", "arr": "integer[]", "sarr": "text[]", "flag": "smallint"}
    assert one(chconn, "SELECT count(*) FROM imported.types") == int(ch.query(f"SELECT count() FROM {CHDB}.types"))
    assert one(chconn, "SELECT u64 FROM imported.types WHERE id = 1") == Decimal(2**64 - 1)


# ---------------------------------------------------------------- credentials

def test_each_role_connects_with_its_own_mapping(chconn, database, ch):
    chconn.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER ch TO {}, {}").format(sql.Identifier(ANA), sql.Identifier(BOB)))
    chconn.execute(sql.SQL("GRANT SELECT ON events TO {}, {}").format(sql.Identifier(ANA), sql.Identifier(BOB)))
    chconn.execute(sql.SQL("CREATE USER MAPPING FOR {} SERVER ch OPTIONS (user {}, password 'not-the-password')").format(
        sql.Identifier(BOB), sql.Literal(ch.user)))
    # ANA has no mapping of her own: the PUBLIC one applies.
    with session(database, ANA) as ana:
        assert one(ana, "SELECT count(*) FROM events WHERE account_id = 1") == 40
    with session(database, BOB) as bob:
        err = error_of(bob, "SELECT count(*) FROM events")
        assert isinstance(err, psycopg.errors.FdwUnableToEstablishConnection)
        assert f'refused user "{ch.user}"' in str(err) and "Wrong password" in str(err)
        assert "not-the-password" not in str(err) + (err.diag.message_hint or "") + (err.diag.message_detail or "")
        assert "USER MAPPING" in err.diag.message_hint
        assert one(bob, "SELECT 1") == 1


def test_password_never_shows(chconn, ch):
    plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN (VERBOSE, ANALYZE) SELECT * FROM events WHERE id = 1"))
    assert ch.password not in plan and "Remote SQL" in plan


# ---------------------------------------------------------------- bad input

def test_unreachable_server(chconn):
    chconn.execute("CREATE SERVER ch_down FOREIGN DATA WRAPPER clickhouse OPTIONS (host '127.0.0.1', port '1')")
    chconn.execute(f"CREATE FOREIGN TABLE down (id bigint) SERVER ch_down OPTIONS (database '{CHDB}', \"table\" 'events')")
    err = error_of(chconn, "SELECT * FROM down")
    assert isinstance(err, psycopg.errors.FdwUnableToEstablishConnection)
    assert 'cannot reach ClickHouse server "ch_down" at http://127.0.0.1:1/' in str(err)
    assert "port" in err.diag.message_hint
    assert one(chconn, "SELECT 1") == 1


def test_unknown_table_and_column(chconn):
    chconn.execute("CREATE FOREIGN TABLE nope (id bigint) SERVER ch OPTIONS (\"table\" 'no_such_table')")
    err = error_of(chconn, "SELECT * FROM nope")
    assert isinstance(err, psycopg.errors.FdwTableNotFound)
    assert f"ClickHouse table {CHDB}.no_such_table does not exist" in str(err)
    chconn.execute("CREATE FOREIGN TABLE badcol (id bigint, nothere text) SERVER ch OPTIONS (\"table\" 'events')")
    err = error_of(chconn, "SELECT id FROM badcol")
    assert isinstance(err, psycopg.errors.FdwColumnNameNotFound)
    assert 'has no column "nothere"' in str(err) and "account_id" in err.diag.message_hint
    # column_name maps a local column to another remote one.
    chconn.execute("ALTER FOREIGN TABLE badcol ALTER COLUMN nothere OPTIONS (column_name 'kind')")
    assert one(chconn, "SELECT nothere FROM badcol WHERE id = 2") == "buy"


def test_type_mismatch(chconn):
    chconn.execute("CREATE FOREIGN TABLE mism (id bigint, kind integer) SERVER ch OPTIONS (\"table\" 'events')")
    err = error_of(chconn, "SELECT * FROM mism")
    assert isinstance(err, psycopg.errors.FdwInvalidDataType)
    assert "is integer but ClickHouse column" in str(err) and "String" in str(err)
    # Values out of the local type's range: the type's own ERROR, not a wrap-around.
    chconn.execute("CREATE FOREIGN TABLE narrow (id integer, u64 smallint) SERVER ch OPTIONS (\"table\" 'types')")
    err = error_of(chconn, "SELECT u64 FROM narrow")
    assert "out of range" in str(err)
    assert one(chconn, "SELECT 1") == 1


def test_remote_errors_carry_clickhouse_code(chconn, ch):
    # throwIf fails on ClickHouse: before the first row, and after many rows
    # were already streamed (ClickHouse then appends the error to the body).
    ch.query(f"CREATE VIEW {CHDB}.boom_early AS SELECT number, throwIf(number = 3) AS t FROM system.numbers LIMIT 10")
    ch.query(f"CREATE VIEW {CHDB}.boom_late AS SELECT number, throwIf(number = 200000) AS t FROM system.numbers LIMIT 300000")
    for table in ("boom_early", "boom_late"):
        chconn.execute(f"CREATE FOREIGN TABLE {table} (number numeric, t integer) SERVER ch")
        for query in (f"SELECT sum(t) FROM {table}", f"SELECT t FROM {table}"):
            err = error_of(chconn, query)
            assert isinstance(err, psycopg.errors.FdwError), (table, query, err)
            assert "(code 395)" in str(err) and "throwIf" in str(err), str(err)
            assert "Remote SQL: SELECT" in (err.diag.message_detail or "")
    assert one(chconn, "SELECT 1") == 1


@pytest.mark.parametrize("ddl,message", [
    ("CREATE SERVER b1 FOREIGN DATA WRAPPER clickhouse OPTIONS (host 'http://evil.example/x')", "must be a host name"),
    ("CREATE SERVER b2 FOREIGN DATA WRAPPER clickhouse OPTIONS (port '80; drop')", "must be a port number"),
    ("CREATE SERVER b3 FOREIGN DATA WRAPPER clickhouse OPTIONS (secure 'maybe')", "must be true or false"),
    ("CREATE SERVER b4 FOREIGN DATA WRAPPER clickhouse OPTIONS (url 'http://x')", "invalid option \"url\""),
    ("CREATE SERVER b5 FOREIGN DATA WRAPPER clickhouse OPTIONS (max_execution_time 'soon')", "whole number of seconds"),
    ("CREATE USER MAPPING FOR CURRENT_USER SERVER ch OPTIONS (user e'a\\r\\nX-Evil: 1')", "control characters"),
    ("CREATE USER MAPPING FOR CURRENT_USER SERVER ch OPTIONS (host 'x')", "invalid option \"host\""),
    ("CREATE FOREIGN TABLE b6 (id int) SERVER ch OPTIONS (\"table\" '')", "must not be empty"),
])
def test_bad_options_are_refused(chconn, ddl, message):
    err = error_of(chconn, ddl)
    assert message in str(err)
    assert err.diag.message_hint


def test_row_changes_are_refused_with_a_hint(chconn):
    # INSERT works (tests/test_clickhouse_write.py); UPDATE and DELETE do not.
    for statement in ("UPDATE events SET kind = 'x' WHERE id = 1", "DELETE FROM events WHERE id = 1"):
        err = error_of(chconn, statement)
        assert isinstance(err, psycopg.errors.FeatureNotSupported)
        assert "INSERT and COPY FROM only" in str(err) and err.diag.message_hint
    # A NULL for a column that is not Nullable: refused before anything is sent.
    err = error_of(chconn, "INSERT INTO events (id) VALUES (1)")
    assert isinstance(err, psycopg.errors.NotNullViolation) and err.diag.message_hint
    assert one(chconn, "SELECT count(*) FROM events") == 2000


def test_statement_timeout_stops_the_remote_query(chconn, ch):
    # system.numbers never ends: only the cancel stops it.
    chconn.execute("CREATE FOREIGN TABLE numbers (number numeric) SERVER ch OPTIONS (database 'system', \"table\" 'numbers')")
    marker = int(uuid.uuid4().int % 10**12) + 10**12
    chconn.execute("SET statement_timeout = '1s'")
    try:
        # Streamed rows, and an aggregate that answers only at its end.
        for query in (f"SELECT number FROM numbers WHERE number <> {marker}",
                      f"SELECT count(*) FROM numbers WHERE number <> {marker}"):
            err = error_of(chconn, query)
            assert isinstance(err, psycopg.errors.QueryCanceled), query
    finally:
        chconn.execute("RESET statement_timeout")
    deadline = time.monotonic() + 10
    while True:
        running = ch.query(f"SELECT count() FROM system.processes WHERE query LIKE '%{marker}%' "
                           "AND query NOT LIKE '%system.processes%'").strip()
        if running == "0" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert running == "0"
    assert one(chconn, "SELECT count(*) FROM events") == 2000


# ---------------------------------------------------------------- aggregates, ORDER BY

AGGREGATES = [
    ("SELECT kind, count(*), sum(cost), min(ts), max(day), count(DISTINCT account_id), sum(account_id) "
     "FROM {t} GROUP BY kind",
     ["GROUP BY `kind`", "count()", "uniqExact(`account_id`)", "sum(toDecimal128(`account_id`, 0))"]),
    ("SELECT account_id, count(*), max(cost) FROM {t} WHERE kind = 'buy' AND id < 1500 GROUP BY account_id",
     ["WHERE ", "GROUP BY `account_id`"]),
    # No rows: count is 0, sum/min/max NULL, as in Postgres.
    ("SELECT count(*), sum(id), max(id), min(ts), count(country) FROM {t} WHERE id > 100000", ["count()"]),
    ("SELECT country, count(country), count(*) FROM {t} GROUP BY country", ["GROUP BY `country`"]),
    # count(DISTINCT) of a Nullable column with no value is 0 (ClickHouse's uniqExact is NULL there).
    ("SELECT count(DISTINCT country), count(*) FROM {t} WHERE country IS NULL", ["ifNull(uniqExact(`country`), 0)"]),
    ("SELECT kind, count(DISTINCT country) FROM {t} WHERE country IS NULL OR id < 10 GROUP BY kind",
     ["ifNull(uniqExact(`country`), 0)"]),
    ("SELECT day, account_id, sum(cost) FROM {t} WHERE day >= '2024-06-05' GROUP BY day, account_id",
     ["GROUP BY `day`, `account_id`"]),
]


@pytest.mark.parametrize("query,parts", AGGREGATES)
def test_aggregates_are_pushed_and_match_the_heap_copy(chconn, query, parts):
    remote = remote_sql(chconn, query.format(t="events"))
    assert all(p in remote for p in parts), remote
    plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN " + query.format(t="events")))
    assert "Aggregate" not in plan, plan
    assert sorted_rows(chconn, query.format(t="events")) == sorted_rows(chconn, query.format(t="events_heap"))


# Casts that keep every value, its equality and order: `x::bigint` compares,
# groups and sorts as x; the value is read into the cast's type.
EXACT_CASTS = [
    ("SELECT count(*) FROM {t} WHERE account_id::bigint = 7", "`account_id` = 7"),
    # Postgres compares `account_id > 2.5` as numeric: placed exactly on integers.
    ("SELECT count(*) FROM {t} WHERE account_id > 2.5", "`account_id` > 2"),
    ("SELECT count(*) FROM {t} WHERE account_id::numeric = 7.5", "count() FROM"),
    ("SELECT count(*) FROM {t} WHERE account_id::bigint IN (3, 4, 70000000000)", "`account_id` IN ("),
    ("SELECT count(*) FROM {t} WHERE day::timestamp >= '2024-06-05 12:00'", "`day` > toDate('2024-06-05')"),
    ("SELECT account_id::bigint, count(*), sum(account_id::numeric), min(account_id::bigint), "
     "max(account_id::numeric), avg(account_id::numeric), count(DISTINCT account_id::bigint) FROM {t} GROUP BY 1",
     "GROUP BY `account_id`"),
    ("SELECT day::timestamp, count(*) FROM {t} GROUP BY 1 ORDER BY 1 DESC LIMIT 3", "ORDER BY `day` DESC"),
    ("SELECT account_id::bigint AS a, id FROM {t} ORDER BY a DESC, id LIMIT 5", "ORDER BY `account_id` DESC"),
]


@pytest.mark.parametrize("query,part", EXACT_CASTS)
def test_exact_casts_are_pushed(chconn, query, part):
    remote = remote_sql(chconn, query.format(t="events"))
    assert part in remote, remote
    plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN " + query.format(t="events")))
    assert "Aggregate" not in plan and "Sort" not in plan, plan
    got, want = rows(chconn, query.format(t="events")), rows(chconn, query.format(t="events_heap"))
    if " ORDER BY " not in query:
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    # Same values and the same Python types (a date read as a timestamp is a datetime).
    assert got == want and [tuple(map(type, r)) for r in got] == [tuple(map(type, r)) for r in want]


CASTS_STAY_LOCAL = [
    # Narrowing (may fail), rounding, text, time-zone dependent casts.
    "SELECT account_id::smallint, count(*) FROM {t} GROUP BY 1",
    "SELECT count(*) FROM {t} WHERE cost::integer = 5",
    "SELECT count(*) FROM {t} WHERE account_id::text = '7'",
    "SELECT ts::date, count(*) FROM {t} GROUP BY 1",
]


@pytest.mark.parametrize("query", CASTS_STAY_LOCAL)
def test_other_casts_stay_with_postgres(chconn, query):
    remote = remote_sql(chconn, query.format(t="events"))
    assert "count()" not in remote, remote
    assert sorted_rows(chconn, query.format(t="events")) == sorted_rows(chconn, query.format(t="events_heap"))


def test_group_by_transfers_only_groups(chconn, ch):
    marker = f"m{uuid.uuid4().hex[:10]}"
    query = f"SELECT kind, count(*), sum(cost) FROM {{t}} WHERE kind <> '{marker}' GROUP BY kind"
    assert sorted_rows(chconn, query.format(t="events")) == sorted_rows(chconn, query.format(t="events_heap"))
    deadline = time.monotonic() + 15
    while True:
        logged = ch.rows(f"SELECT read_rows, result_rows FROM system.query_log WHERE type = 2 "
                         f"AND query LIKE '%{marker}%' AND query LIKE '%GROUP BY%' AND query NOT LIKE '%query_log%'")
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert logged, "the GROUP BY did not reach ClickHouse's query log"
    read_rows, result_rows = (int(v) for v in logged[0])
    assert read_rows == 2000 and result_rows == 3


def test_order_by_with_limit_is_pushed(chconn):
    query = "SELECT id, ts, cost FROM {t} WHERE account_id < 30 ORDER BY ts DESC, id LIMIT 10 OFFSET 3"
    remote = remote_sql(chconn, query.format(t="events"))
    assert remote.endswith("ORDER BY `ts` DESC NULLS FIRST, `id` ASC NULLS LAST LIMIT 13"), remote
    assert rows(chconn, query.format(t="events")) == rows(chconn, query.format(t="events_heap"))
    # NULLS FIRST/LAST as Postgres has them, on a nullable column's aggregate.
    q2 = "SELECT account_id, max(id) m FROM {t} GROUP BY account_id ORDER BY m DESC NULLS LAST, account_id"
    assert rows(chconn, q2.format(t="events")) == rows(chconn, q2.format(t="events_heap"))


def exact_rows(conn, query):
    """Rows with numerics as their text (Decimal('1.5') == Decimal('1.50'),
    but Postgres' avg has one display scale)."""
    return [tuple(str(v) if isinstance(v, Decimal) else v for v in r) for r in rows(conn, query)]


# HAVING shapes: the remote HAVING ClickHouse must get, and the rows must
# be those of the heap copy (Postgres does not re-check a pushed HAVING).
HAVING = [
    ("SELECT account_id, count(*) FROM {t} WHERE id < 1234 GROUP BY account_id HAVING count(*) >= 25",
     "HAVING count() >= 25"),
    # The aggregate is not in the SELECT list; a constant between two Decimal(12,2) values.
    ("SELECT kind, count(*) FROM {t} GROUP BY kind HAVING sum(cost) > 331000.555",
     "HAVING sum(`cost`) > toDecimal128('331000.55', 2)"),
    ("SELECT account_id, sum(account_id) FROM {t} GROUP BY account_id HAVING sum(account_id) <= 1000 "
     "AND max(ts) >= '2024-06-14 12:00:00+00' AND min(day) < '2024-06-02'",
     "HAVING (sum(toDecimal128(`account_id`, 0)) <= 1000)"),
    # Without GROUP BY keys an empty input still has its one row: the guard stays.
    ("SELECT max(ts), sum(cost) FROM {t} WHERE id > 100000 HAVING count(*) = 0",
     "if(count(`ts`) = 0, NULL, toUnixTimestamp(max(`ts`))), if(count(`cost`) = 0, NULL, sum(`cost`))"),
    # The NULL group: count(country) is 0 there, as in Postgres.
    ("SELECT country, count(*) FROM {t} GROUP BY country HAVING count(country) < 300",
     "HAVING count(`country`) < 300"),
    ("SELECT account_id, count(*) FROM {t} WHERE id < 60 GROUP BY account_id HAVING count(DISTINCT country) = 2",
     "HAVING ifNull(uniqExact(`country`), 0) = 2"),
    # No GROUP BY: one row (or none) over empty input, NULL sums compare to nothing.
    ("SELECT count(*), sum(id) FROM {t} WHERE id > 100000 HAVING count(*) = 0", "HAVING count() = 0"),
    # A sum of integers is never 5.5: only its NULL-ness decides.
    ("SELECT count(*) FROM {t} WHERE id > 100000 HAVING sum(id) <> 5.5", "HAVING isNotNull("),
    ("SELECT kind, count(*) FROM {t} GROUP BY kind HAVING sum(id) <> 5.5", "HAVING isNotNull("),
]


@pytest.mark.parametrize("query,having", HAVING)
def test_having_is_pushed_and_matches_the_heap_copy(chconn, query, having):
    remote = remote_sql(chconn, query.format(t="events"))
    assert having in remote, remote
    plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN " + query.format(t="events")))
    assert "Aggregate" not in plan and "Filter" not in plan, plan
    assert sorted_rows(chconn, query.format(t="events")) == sorted_rows(chconn, query.format(t="events_heap"))


def test_having_selects_some_groups_and_only_those_travel(chconn, ch):
    """The HAVING shapes are not trivially all or nothing, and ClickHouse
    sent only the groups HAVING kept (its query log)."""
    marker = f"h{uuid.uuid4().hex[:10]}"
    query = (f"SELECT account_id, count(*) FROM {{t}} WHERE id < 1234 AND kind <> '{marker}' "
             f"GROUP BY account_id HAVING count(*) >= 25")
    got = sorted_rows(chconn, query.format(t="events"))
    assert got == sorted_rows(chconn, query.format(t="events_heap"))
    groups = one(chconn, "SELECT count(DISTINCT account_id) FROM events_heap WHERE id < 1234")
    assert 0 < len(got) < groups
    deadline = time.monotonic() + 15
    while True:
        logged = ch.rows(f"SELECT result_rows FROM system.query_log WHERE type = 2 AND query LIKE '%{marker}%' "
                         f"AND query LIKE '%HAVING%' AND query NOT LIKE '%query_log%'")
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert logged and int(logged[0][0]) == len(got), logged
    # Every grouped shape (but the one only NULL-ness decides) keeps some groups, not all.
    for q in [q for q, _ in HAVING if " GROUP BY " in q and "5.5" not in q]:
        n = len(rows(chconn, q.format(t="events_heap")))
        total = len(rows(chconn, q.split(" HAVING ")[0].format(t="events_heap")))
        assert 0 < n < total, q


def test_having_that_differs_stays_with_postgres(chconn):
    for query in (
        # avg travels as text; text min/max follow the collation; an OR; a NULL test.
        "SELECT kind, count(*) FROM {t} GROUP BY kind HAVING avg(cost) > 495",
        "SELECT kind, count(*) FROM {t} GROUP BY kind HAVING min(country) > 'd'",
        "SELECT kind, count(*) FROM {t} GROUP BY kind HAVING count(*) > 600 OR sum(cost) < 5",
        "SELECT country, count(*) FROM {t} GROUP BY country HAVING max(id) IS NOT NULL",
    ):
        remote = remote_sql(chconn, query.format(t="events"))
        assert "HAVING" not in remote and "GROUP BY" not in remote, remote
        assert sorted_rows(chconn, query.format(t="events")) == sorted_rows(chconn, query.format(t="events_heap"))


def test_avg_is_summed_remotely_and_divided_like_postgres(chconn, ch):
    query = "SELECT kind, avg(cost), avg(account_id), avg(id), count(*) FROM {t} WHERE id < 1500 GROUP BY kind"
    remote = remote_sql(chconn, query.format(t="events"))
    assert "tuple(sum(`cost`), count(`cost`))" in remote, remote
    assert "GROUP BY `kind`" in remote
    got = sorted(exact_rows(chconn, query.format(t="events")))
    assert got == sorted(exact_rows(chconn, query.format(t="events_heap")))
    assert len(got) == 3 and all("." in r[1] and "." in r[2] for r in got)
    # No rows: NULL, as in Postgres.
    empty = "SELECT avg(cost), avg(id) FROM {t} WHERE id > 100000"
    assert "tuple(sum(" in remote_sql(chconn, empty.format(t="events"))
    assert rows(chconn, empty.format(t="events")) == [(None, None)]
    # NULLs are skipped; a numeric column with the ClickHouse scale; values
    # loaded from ClickHouse's own output into a heap copy.
    chconn.execute("CREATE TABLE types_heap (n integer, d numeric(18,3))")
    with chconn.cursor() as cur:
        cur.executemany("INSERT INTO types_heap VALUES (%s, %s::numeric)",
                        [tuple(r) for r in ch.rows(f"SELECT n, toString(d) FROM {CHDB}.types")])
    q2 = "SELECT avg(n), avg(d), avg(i64), avg(u64) FROM types"
    assert "tuple(sum(" in remote_sql(chconn, q2)
    want = exact_rows(chconn, "SELECT avg(n), avg(d) FROM types_heap")[0]
    got = exact_rows(chconn, q2)[0]
    assert got[:2] == want
    src = ch.rows(f"SELECT toString(i64), toString(u64) FROM {CHDB}.types")
    oracle = exact_rows(chconn, "SELECT avg(a::numeric), avg(b::numeric) FROM (VALUES " +
                        ", ".join(f"('{a}', '{b}')" for a, b in src) + ") v(a, b)")[0]
    assert got[2:] == oracle
    chconn.execute("DROP TABLE types_heap")
    # A numeric column without the ClickHouse scale (no typmod): avg stays local.
    chconn.execute("CREATE FOREIGN TABLE events_untyped (id bigint, cost numeric) SERVER ch OPTIONS (\"table\" 'events')")
    assert "tuple(sum(" not in remote_sql(chconn, "SELECT avg(cost) FROM events_untyped")
    assert exact_rows(chconn, "SELECT avg(cost) FROM events_untyped") == exact_rows(chconn, "SELECT avg(cost) FROM events_heap")
    chconn.execute("DROP FOREIGN TABLE events_untyped")


def test_order_by_and_limit_over_pushed_aggregates(chconn):
    query = ("SELECT account_id, max(id) m, count(*) FROM {t} WHERE id < 1700 GROUP BY account_id "
             "ORDER BY m DESC NULLS LAST, account_id LIMIT 5 OFFSET 2")
    remote = remote_sql(chconn, query.format(t="events"))
    assert remote.endswith("GROUP BY `account_id` ORDER BY max(`id`) DESC NULLS LAST, "
                           "`account_id` ASC NULLS LAST LIMIT 7"), remote
    plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN " + query.format(t="events")))
    assert "Sort" not in plan and "Aggregate" not in plan, plan
    assert rows(chconn, query.format(t="events")) == rows(chconn, query.format(t="events_heap"))
    # With HAVING; DESC puts NULLs first in Postgres, and so remotely.
    q2 = ("SELECT account_id, min(ts) t0, sum(cost) s FROM {t} WHERE id < 1000 GROUP BY account_id "
          "HAVING count(*) > 19 ORDER BY s DESC, account_id LIMIT 10")
    remote = remote_sql(chconn, q2.format(t="events"))
    assert " HAVING count() > 19 ORDER BY sum(`cost`) DESC NULLS FIRST" in remote, remote
    assert rows(chconn, q2.format(t="events")) == rows(chconn, q2.format(t="events_heap"))


def test_text_order_by_is_pushed_only_under_the_c_collation(chconn, ch):
    # Default collation: Postgres' order (not pushed; the existing test checks the rows).
    assert "ORDER BY" not in remote_sql(chconn, "SELECT id, kind FROM events ORDER BY kind, id LIMIT 5")
    query = "SELECT id, country FROM {t} WHERE id < 30 ORDER BY country COLLATE \"C\" DESC, id LIMIT 12"
    remote = remote_sql(chconn, query.format(t="events"))
    assert remote.endswith("ORDER BY `country` DESC NULLS FIRST, `id` ASC NULLS LAST LIMIT 12"), remote
    got = rows(chconn, query.format(t="events"))
    assert got == rows(chconn, query.format(t="events_heap"))
    # NULLs first (DESC), then 'us' before 'it'.
    assert [r[1] for r in got] == [None] * 5 + ["us"] * 6 + ["it"]
    # Bytes order, non-ASCII included, against Python's sort of ClickHouse's own values.
    got = rows(chconn, "SELECT s, id FROM types ORDER BY s COLLATE \"C\", id")
    assert "ORDER BY `s` ASC NULLS LAST" in remote_sql(chconn, "SELECT s, id FROM types ORDER BY s COLLATE \"C\", id")
    want = sorted(((r[0], int(r[1])) for r in ch.rows(f"SELECT s, id FROM {CHDB}.types")),
                  key=lambda r: (r[0].encode(), r[1]))
    assert got == want
    # A grouped text key under "C", ordered after the aggregate.
    q3 = "SELECT kind, count(*) FROM {t} GROUP BY kind ORDER BY kind COLLATE \"C\" DESC"
    assert "GROUP BY `kind` ORDER BY `kind` DESC NULLS FIRST" in remote_sql(chconn, q3.format(t="events"))
    assert rows(chconn, q3.format(t="events")) == rows(chconn, q3.format(t="events_heap"))


def test_what_orders_or_sums_differently_stays_with_postgres(chconn):
    # Text order follows the collation in Postgres: not pushed.
    query = "SELECT id, kind FROM {t} ORDER BY kind, id LIMIT 5"
    assert "ORDER BY" not in remote_sql(chconn, query.format(t="events"))
    assert rows(chconn, query.format(t="events")) == rows(chconn, query.format(t="events_heap"))
    # avg of floats: ClickHouse's float sum is not Postgres' (order, precision).
    query = "SELECT avg(f64) FROM {t}"
    assert "tuple(sum(" not in remote_sql(chconn, query.format(t="types"))
    # A prefix LIKE with _ is only a weaker test remotely: counting on it would be wrong.
    query = "SELECT count(*) FROM {t} WHERE kind LIKE 'b_y'"
    assert "count()" not in remote_sql(chconn, query.format(t="events"))
    assert one(chconn, query.format(t="events")) == one(chconn, query.format(t="events_heap"))


def test_aggregates_with_parameters_and_now(chconn):
    """Generic plans and now(): the WHERE is exact for any value of these
    types, so the aggregate is pushed before the values are known."""
    chconn.execute("SET plan_cache_mode = force_generic_plan")
    try:
        chconn.execute("PREPARE cnt(int, timestamptz) AS SELECT count(*), sum(cost) FROM events "
                       "WHERE account_id = $1 AND ts >= $2")
        plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN (VERBOSE) EXECUTE cnt(2, '2024-06-01 03:00:00.25+00')"))
        assert "count()" in plan, plan
        for account, since in ((2, "2024-06-01 03:00:00.25+00"), (17, "1960-01-01"), (17, "2200-01-01")):
            got = rows(chconn, sql.SQL("EXECUTE cnt({}, {})").format(sql.Literal(account), sql.Literal(since)))
            assert got == rows(chconn, "SELECT count(*), sum(cost) FROM events_heap WHERE account_id = %s AND ts >= %s",
                               (account, since))
        # Infinities compare beyond every DateTime, as in Postgres: the
        # aggregate stays in ClickHouse and counts what Postgres counts.
        for since in ("infinity", "-infinity"):
            got = rows(chconn, sql.SQL("EXECUTE cnt(2, {})").format(sql.Literal(since)))
            assert got == rows(chconn, "SELECT count(*), sum(cost) FROM events_heap WHERE account_id = 2 AND ts >= %s",
                               (since,))
        chconn.execute("DEALLOCATE cnt")
    finally:
        chconn.execute("RESET plan_cache_mode")
    query = "SELECT kind, count(*) FROM {t} WHERE ts < now() - interval '1 day' GROUP BY kind"
    assert "GROUP BY `kind`" in remote_sql(chconn, query.format(t="events"))
    assert sorted_rows(chconn, query.format(t="events")) == sorted_rows(chconn, query.format(t="events_heap"))


def test_seed_query_across_clickhouse_postgres_and_iceberg(chconn, write_ns):
    """The headline shape: events aggregated in ClickHouse, joined with a
    Postgres accounts table and an Iceberg billing table, top N."""
    chconn.execute(f"CREATE FOREIGN TABLE {write_ns}.billing (account_id integer, amount numeric(12,2)) "
                   f"SERVER lake_local OPTIONS (namespace '{write_ns}', \"table\" 'billing')")
    fill = "INSERT INTO {t} SELECT g, (g * 37 % 101) * 1.25 FROM generate_series(0, 59) g"
    chconn.execute(fill.format(t=f"{write_ns}.billing"))
    chconn.execute("CREATE TABLE billing_heap (account_id integer, amount numeric(12,2))")
    chconn.execute(fill.format(t="billing_heap"))
    query = """SELECT a.account_id, a.plan, e.requests, b.amount
               FROM (SELECT account_id, count(*) AS requests FROM {events}
                     WHERE kind = 'view' AND ts >= '2024-06-03' GROUP BY account_id) e
               JOIN accounts a USING (account_id) JOIN {billing} b USING (account_id)
               WHERE b.amount > 20 ORDER BY e.requests DESC, b.amount DESC, a.account_id LIMIT 10"""
    mine = query.format(events="events", billing=f"{write_ns}.billing")
    got = rows(chconn, mine)
    assert got == rows(chconn, query.format(events="events_heap", billing="billing_heap"))
    assert len(got) == 10
    plan = "\n".join(r[0] for r in rows(chconn, "EXPLAIN (VERBOSE) " + mine))
    assert "GROUP BY `account_id`" in plan and "Iceberg Table" in plan, plan


# ---------------------------------------------------------------- ANALYZE (last: it changes estimates)

def test_analyze_gathers_row_count_and_statistics_from_clickhouse(chconn, ch):
    before = one(chconn, "EXPLAIN (FORMAT JSON) SELECT id FROM events WHERE kind = 'buy'")[0]["Plan"]["Plan Rows"]
    chconn.execute("ANALYZE events")
    # reltuples is ClickHouse's own count.
    assert one(chconn, "SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass") == \
        float(ch.query(f"SELECT count() FROM {CHDB}.events"))
    stats = {r[0]: r[1:] for r in rows(chconn, "SELECT attname, null_frac, n_distinct, most_common_vals::text "
                                               "FROM pg_stats WHERE tablename = 'events' AND schemaname = 'public'")}
    assert set(stats) == {"id", "account_id", "ts", "kind", "cost", "country", "day"}
    # 2000 rows: the whole table is the sample, so the figures are exact,
    # checked against ClickHouse's own answers.
    nulls, distinct_accounts = (float(v) for v in ch.rows(
        f"SELECT countIf(isNull(country)) / count(), uniqExact(account_id) FROM {CHDB}.events")[0])
    assert stats["country"][0] == pytest.approx(nulls, abs=1e-6)
    assert stats["account_id"][1] == distinct_accounts or stats["account_id"][1] == -distinct_accounts / 2000
    kinds = sorted(r[0] for r in ch.rows(f"SELECT DISTINCT kind FROM {CHDB}.events"))
    assert sorted(stats["kind"][2].strip("{}").split(",")) == kinds
    # The planner now estimates from those statistics (a third of the rows
    # are 'buy'), where it guessed before.
    after = one(chconn, "EXPLAIN (FORMAT JSON) SELECT id FROM events WHERE kind = 'buy'")[0]["Plan"]["Plan Rows"]
    actual = one(chconn, "SELECT count(*) FROM events_heap WHERE kind = 'buy'")
    assert abs(after - actual) <= 0.05 * actual and abs(before - actual) > 0.5 * actual, (before, after, actual)
    # The sample was chosen by ClickHouse: only it travelled.
    deadline = time.monotonic() + 15
    while True:
        logged = ch.rows(f"SELECT read_rows, result_rows FROM system.query_log WHERE type = 2 "
                         f"AND query LIKE '%`{CHDB}`.`events` ORDER BY rand() LIMIT 30000%' AND query NOT LIKE '%query_log%'")
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert logged and int(logged[-1][1]) == 2000, logged
    # A pushed GROUP BY is estimated from the statistics too (50 accounts),
    # and stays pushed.
    grouped = "SELECT account_id, count(*) FROM events GROUP BY account_id"
    plan = one(chconn, "EXPLAIN (FORMAT JSON) " + grouped)[0]["Plan"]
    assert plan["Node Type"] == "Foreign Scan" and plan["Plan Rows"] == distinct_accounts, plan
