"""Interop of every Iceberg type, both ways.

PyIceberg writes tables (every primitive type, edge values, NULLs, several
data files, partition transforms, schema evolution, deletes, snapshots) and
townlake answers queries over them — filters, aggregates, top-N, joins —
compared with Postgres answering the same SQL over a heap copy loaded from
the source rows. townlake writes tables (INSERT, COPY, UPDATE, DELETE, ALTER,
compaction) and PyIceberg's scan and DuckDB's read_parquet over the planned
files must read back the source rows exactly.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import random
import struct
import uuid

import duckdb
import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from pyiceberg.expressions import EqualTo, GreaterThanOrEqual, LessThan
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import (BucketTransform, DayTransform, HourTransform, IdentityTransform,
                                  MonthTransform, TruncateTransform, YearTransform)
from pyiceberg.types import (BinaryType, BooleanType, DateType, DecimalType, DoubleType, FixedType,
                             FloatType, IntegerType, LongType, NestedField, StringType, TimestampType,
                             TimestamptzType, TimeType, UUIDType)

from lakehelpers import assert_same_rows, expect_error, sort_rows
from writehelpers import load

NS = "interop"
UTC = dt.timezone.utc
EXACT = decimal.Context(prec=100)


# ---------------------------------------------------------------- the source rows

def _opt(fid: int, name: str, typ) -> NestedField:
    return NestedField(fid, name, typ, required=False)


SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    _opt(2, "b", BooleanType()),
    _opt(3, "i", IntegerType()),
    _opt(4, "l", LongType()),
    _opt(5, "f", FloatType()),
    _opt(6, "d", DoubleType()),
    _opt(7, "n9", DecimalType(9, 2)),
    _opt(8, "n18", DecimalType(18, 6)),
    _opt(9, "n38", DecimalType(38, 10)),
    _opt(10, "dt", DateType()),
    _opt(11, "tm", TimeType()),
    _opt(12, "ts", TimestampType()),
    _opt(13, "tz", TimestamptzType()),
    _opt(14, "s", StringType()),
    _opt(15, "u", UUIDType()),
    _opt(16, "bin", BinaryType()),
    _opt(17, "fx", FixedType(5)),
)

# Postgres types of the heap copy (what IMPORT FOREIGN SCHEMA gives)
PG_TYPES = {
    "id": "bigint", "b": "boolean", "i": "integer", "l": "bigint", "f": "real",
    "d": "double precision", "n9": "numeric(9,2)", "n18": "numeric(18,6)", "n38": "numeric(38,10)",
    "dt": "date", "tm": "time without time zone", "ts": "timestamp without time zone",
    "tz": "timestamp with time zone", "s": "text", "u": "uuid", "bin": "bytea", "fx": "bytea",
}
COLUMNS = list(PG_TYPES)

WORDS = ["", "a", "abc", "abd", "Zebra", "zebra", "o'neil", "ünïcode", "日本語テキスト", "emoji 🎉",
         "x" * 70, "é" * 40, "100%", "under_score", "tab\tsep"]
SPECIAL_FLOATS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1.5, -1.5]


def _f32(v: float) -> float:
    return struct.unpack("f", struct.pack("f", v))[0]


def make_rows(first: int, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for k in range(count):
        rid = first + k
        # timestamps before and after 1970, with fractions (negative micros)
        base = dt.datetime(1969, 12, 31, 23, 0) + dt.timedelta(
            days=rng.randrange(-800, 800), seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
        f = rng.choice(SPECIAL_FLOATS) if rng.random() < 0.15 else rng.uniform(-1000, 1000)
        d = rng.choice(SPECIAL_FLOATS) if rng.random() < 0.15 else rng.uniform(-1e9, 1e9)
        row = {
            "id": rid,
            "b": rng.random() < 0.5,
            "i": rng.choice([-2**31, 2**31 - 1, 0]) if rng.random() < 0.05 else rng.randrange(-50, 50),
            "l": rng.choice([-2**63, 2**63 - 1]) if rng.random() < 0.05 else rng.randrange(-10**15, 10**15),
            "f": _f32(f),
            "d": d,
            "n9": decimal.Decimal(rng.randrange(-10**9 + 1, 10**9)).scaleb(-2),
            "n18": decimal.Decimal(rng.randrange(-10**18 + 1, 10**18)).scaleb(-6),
            "n38": decimal.Decimal(rng.choice([-(10**38 - 1), 10**38 - 1]) if rng.random() < 0.05
                                   else rng.randrange(-10**30, 10**30)).scaleb(-10, EXACT),
            "dt": rng.choice([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1900, 2, 28)])
                  if rng.random() < 0.04 else base.date(),
            "tm": rng.choice([dt.time(0), dt.time(23, 59, 59, 999999)]) if rng.random() < 0.05 else base.time(),
            "ts": base,
            "tz": (base + dt.timedelta(hours=rng.randrange(-30, 30))).replace(tzinfo=UTC),
            "s": rng.choice(WORDS) + ("" if rng.random() < 0.3 else str(rng.randrange(20))),
            "u": uuid.UUID(int=rng.getrandbits(128)),
            "bin": bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 9))),
            "fx": bytes(rng.getrandbits(8) for _ in range(5)),
        }
        for name in COLUMNS[1:]:
            if rng.random() < 0.1:
                row[name] = None
        rows.append(row)
    return rows


def all_null_rows(first: int, count: int) -> list[dict]:
    return [{c: (first + k if c == "id" else None) for c in COLUMNS} for k in range(count)]


BATCHES = [make_rows(1, 400, 11), make_rows(401, 300, 12), all_null_rows(701, 20), make_rows(721, 200, 13)]
ALL_ROWS = [r for batch in BATCHES for r in batch]


def to_arrow(table, rows: list[dict]) -> pa.Table:
    plain = [{k: (v.bytes if isinstance(v, uuid.UUID) else v) for k, v in r.items()} for r in rows]
    return pa.Table.from_pylist(plain, schema=table.schema().as_arrow())


def create_heap(conn, name: str, types: dict[str, str], rows: list[dict]) -> str:
    relation = f'"{NS}"."{name}"'
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{NS}"')
    conn.execute(f"DROP TABLE IF EXISTS {relation}")
    conn.execute(f"CREATE TABLE {relation} ({', '.join(f'{c} {t}' for c, t in types.items())})")
    names = list(types)
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(NS, name), sql.SQL(", ").join(map(sql.Identifier, names)))) as copy:
        for r in rows:
            copy.write_row([r.get(n) for n in names])
    conn.execute(f"ANALYZE {relation}")
    return relation


# ---------------------------------------------------------------- comparing

def canon(v):
    if isinstance(v, float):
        return "nan" if math.isnan(v) else v.hex()
    if isinstance(v, decimal.Decimal):
        return v.normalize(EXACT) if v.is_finite() else str(v)
    if isinstance(v, memoryview):
        return bytes(v)
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(UTC)
    return v


def run(conn, query: str) -> list[tuple]:
    return [tuple(canon(v) for v in row) for row in conn.execute(query).fetchall()]


def compare(conn, foreign: str, heap: str, queries: list[str], ordered: bool = False) -> list[str]:
    """Each query with {t} as the foreign table and as the heap copy; returns
    the mismatches (and errors)."""
    problems = []
    for q in queries:
        try:
            expected = run(conn, q.format(t=heap))
        except psycopg.Error as exc:
            # Postgres' own error (overflow): townlake must raise the same
            try:
                run(conn, q.format(t=foreign))
            except psycopg.Error as mine:
                if mine.sqlstate != exc.sqlstate:
                    problems.append(f"{q}: ERROR {mine.sqlstate} {str(mine).splitlines()[0]}, "
                                    f"Postgres {exc.sqlstate} {str(exc).splitlines()[0]}")
            else:
                problems.append(f"{q}: no error, Postgres raises {str(exc).splitlines()[0]}")
            continue
        try:
            actual = run(conn, q.format(t=foreign))
        except Exception as exc:  # noqa: BLE001 - every error is a failed case
            problems.append(f"{q}: ERROR {str(exc).splitlines()[0]}")
            continue
        if not ordered and "ORDER BY" not in q.upper():
            expected, actual = sort_rows(expected), sort_rows(actual)
        if actual != expected:
            diff = [(a, e) for a, e in zip(actual, expected) if a != e][:3]
            problems.append(f"{q}: {len(actual)} rows vs {len(expected)}; first diffs {diff}")
    return problems


def assert_compare(conn, foreign, heap, queries):
    problems = compare(conn, foreign, heap, queries)
    assert not problems, f"{len(problems)} of {len(queries)} queries differ:\n" + "\n".join(problems)


# ---------------------------------------------------------------- PyIceberg writes

@pytest.fixture(scope="module")
def every(conn, local_lake):
    """interop.every: written by PyIceberg in four appends (one all-NULL)."""
    table = local_lake.create_table(NS, "every", SCHEMA)
    for batch in BATCHES:
        table.append(to_arrow(table, batch))
    foreign = local_lake.import_table(conn, NS, "every")
    heap = create_heap(conn, "every_heap", PG_TYPES, ALL_ROWS)
    return table, foreign, heap


def test_pyiceberg_reads_the_source_rows(every, conn):
    """The oracle's oracle: PyIceberg's own scan equals the heap copy."""
    table, _, heap = every
    arrow = table.scan().to_arrow()
    assert arrow.num_rows == len(ALL_ROWS)
    by_id = {r["id"]: r for r in arrow.to_pylist()}
    for src in ALL_ROWS:
        got = by_id[src["id"]]
        for c in COLUMNS:
            want = src[c].bytes if isinstance(src[c], uuid.UUID) and not isinstance(got[c], uuid.UUID) else src[c]
            assert canon(got[c]) == canon(want), (c, got[c], want)


def test_import_types(every, conn):
    _, foreign, _ = every
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (foreign,)).fetchall()
    assert dict(rows) == PG_TYPES


def test_every_row_and_value(every, conn):
    _, foreign, heap = every
    assert_compare(conn, foreign, heap, ["SELECT * FROM {t} ORDER BY id"])
    # text output of each type (what psql shows) equals Postgres' own
    assert_compare(conn, foreign, heap, [f"SELECT id, {c}::text FROM {{t}}" for c in COLUMNS[1:]])


def _literals(rows, column):
    values = sorted({r[column] for r in rows if r[column] is not None
                     and not (isinstance(r[column], float) and math.isnan(r[column]))})
    return values[0], values[len(values) // 3], values[len(values) // 2], values[-1]


def _lit(column: str, v) -> str:
    pg = PG_TYPES[column]
    if isinstance(v, bytes):
        return f"'\\x{v.hex()}'::bytea"
    if isinstance(v, float):
        return f"'{v!r}'::{pg}"
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return f"'{v.isoformat()}'::{pg}"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return f"'{v}'::{pg}"


def filter_queries(rows) -> list[str]:
    out = []
    for c in COLUMNS[1:]:
        out += [f"SELECT count(*) FROM {{t}} WHERE {c} IS NULL",
                f"SELECT count(*) FROM {{t}} WHERE {c} IS NOT NULL"]
        if c == "b":
            out += ["SELECT count(*) FROM {t} WHERE b", "SELECT count(*) FROM {t} WHERE NOT b",
                    "SELECT count(*) FROM {t} WHERE b IS NOT TRUE", "SELECT count(*) FROM {t} WHERE b = false"]
            continue
        low, third, mid, high = (_lit(c, v) for v in _literals(rows, c))
        for op in ("=", "<>", "<", "<=", ">", ">="):
            for lit in (low, mid, high):
                out.append(f"SELECT count(*) FROM {{t}} WHERE {c} {op} {lit}")
        out += [f"SELECT count(*) FROM {{t}} WHERE {c} BETWEEN {third} AND {mid}",
                f"SELECT count(*) FROM {{t}} WHERE {c} NOT BETWEEN {third} AND {mid}",
                f"SELECT count(*) FROM {{t}} WHERE {c} IN ({low}, {mid}, {high})",
                f"SELECT count(*) FROM {{t}} WHERE {c} NOT IN ({low}, {mid})",
                f"SELECT count(*) FROM {{t}} WHERE {c} IN ({mid}, NULL)",
                f"SELECT id FROM {{t}} WHERE {c} > {third} AND id % 3 = 0",
                f"SELECT id FROM {{t}} WHERE {c} < {third} OR {c} IS NULL"]
    out += [
        # floats: NaN, infinities, signed zero
        "SELECT count(*) FROM {t} WHERE f = 'NaN'", "SELECT count(*) FROM {t} WHERE d = 'NaN'",
        "SELECT count(*) FROM {t} WHERE f > 'Infinity'::real", "SELECT count(*) FROM {t} WHERE d >= 'Infinity'",
        "SELECT count(*) FROM {t} WHERE d = '-Infinity'", "SELECT count(*) FROM {t} WHERE f = 0",
        "SELECT count(*) FROM {t} WHERE d < 0", "SELECT count(*) FROM {t} WHERE f <> 'NaN'",
        "SELECT count(*) FROM {t} WHERE d IN (0, 1.5, 'NaN')",
        # integer extremes and mixed-type constants
        "SELECT count(*) FROM {t} WHERE i = 2147483647", "SELECT count(*) FROM {t} WHERE i = -2147483648",
        "SELECT count(*) FROM {t} WHERE l = 9223372036854775807", "SELECT count(*) FROM {t} WHERE l < -9223372036854775807",
        "SELECT count(*) FROM {t} WHERE i > 2.5", "SELECT count(*) FROM {t} WHERE i < 10000000000",
        "SELECT count(*) FROM {t} WHERE l > 1e17", "SELECT count(*) FROM {t} WHERE i = 3.0",
        "SELECT count(*) FROM {t} WHERE l >= 0.5", "SELECT count(*) FROM {t} WHERE i::bigint > 5",
        # decimals: wide, extreme, scale of the literal
        "SELECT count(*) FROM {t} WHERE n38 = 9999999999999999999999999999.9999999999",
        "SELECT count(*) FROM {t} WHERE n38 < -9999999999999999999999999999",
        "SELECT count(*) FROM {t} WHERE n38 > 0", "SELECT count(*) FROM {t} WHERE n38 > 0.00000000001",
        "SELECT count(*) FROM {t} WHERE n9 > 100.001", "SELECT count(*) FROM {t} WHERE n9 = 0",
        "SELECT count(*) FROM {t} WHERE n18 < -1e11", "SELECT count(*) FROM {t} WHERE n18 >= 0.0000005",
        "SELECT count(*) FROM {t} WHERE n9 > 5::bigint", "SELECT count(*) FROM {t} WHERE n18 = n18",
        # dates and times
        "SELECT count(*) FROM {t} WHERE dt < '1970-01-01'", "SELECT count(*) FROM {t} WHERE dt = '0001-01-01'",
        "SELECT count(*) FROM {t} WHERE dt >= '9999-12-31'", "SELECT count(*) FROM {t} WHERE dt > '1969-06-01'::timestamp",
        "SELECT count(*) FROM {t} WHERE dt < '1970-01-01 12:00'::timestamp",
        "SELECT count(*) FROM {t} WHERE ts < '1970-01-01'", "SELECT count(*) FROM {t} WHERE ts >= '1969-12-31 23:30:00.5'",
        "SELECT count(*) FROM {t} WHERE ts > '1969-06-01'::date", "SELECT count(*) FROM {t} WHERE ts::date = '1969-12-31'",
        "SELECT count(*) FROM {t} WHERE tz < '1970-01-01 00:00:00+00'", "SELECT count(*) FROM {t} WHERE tz >= '1969-12-31 20:00:00-05'",
        "SELECT count(*) FROM {t} WHERE tz > '1969-06-01'::date", "SELECT count(*) FROM {t} WHERE tz::date < '1969-06-01'",
        "SELECT count(*) FROM {t} WHERE tm > '12:00'", "SELECT count(*) FROM {t} WHERE tm = '23:59:59.999999'",
        "SELECT count(*) FROM {t} WHERE tm <= '00:00'", "SELECT count(*) FROM {t} WHERE tm BETWEEN '01:00' AND '02:30'",
        "SELECT count(*) FROM {t} WHERE date_trunc('month', ts) = '1969-12-01'",
        "SELECT count(*) FROM {t} WHERE ts < now()", "SELECT count(*) FROM {t} WHERE dt < current_date",
        # text: non-ASCII, LIKE, collations, casts
        "SELECT count(*) FROM {t} WHERE s = ''", "SELECT count(*) FROM {t} WHERE s = 'ünïcode'",
        "SELECT count(*) FROM {t} WHERE s LIKE 'ab%'", "SELECT count(*) FROM {t} WHERE s LIKE '日本%'",
        "SELECT count(*) FROM {t} WHERE s LIKE '100!%%' ESCAPE '!'", "SELECT count(*) FROM {t} WHERE s LIKE 'under\\_%'",
        "SELECT count(*) FROM {t} WHERE s LIKE 'under_score%'", "SELECT count(*) FROM {t} WHERE s LIKE '%bra%'",
        "SELECT count(*) FROM {t} WHERE s NOT LIKE 'a%'", "SELECT count(*) FROM {t} WHERE s ILIKE 'z%'",
        "SELECT count(*) FROM {t} WHERE s > 'Zebra' COLLATE \"C\"", "SELECT count(*) FROM {t} WHERE s < 'é'",
        "SELECT count(*) FROM {t} WHERE s >= 'ü' COLLATE \"C\"", "SELECT count(*) FROM {t} WHERE s LIKE 'éé%'",
        "SELECT count(*) FROM {t} WHERE s LIKE 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1%'",
        "SELECT count(*) FROM {t} WHERE s IN ('a', 'abc', 'emoji 🎉')", "SELECT count(*) FROM {t} WHERE i::text = '5'",
        "SELECT count(*) FROM {t} WHERE s::bytea = 'abc'::bytea", "SELECT count(*) FROM {t} WHERE upper(s) = 'ABC'",
        "SELECT count(*) FROM {t} WHERE length(s) > 3",
        # uuid, binary, fixed
        "SELECT count(*) FROM {t} WHERE u > '80000000-0000-0000-0000-000000000000'",
        "SELECT count(*) FROM {t} WHERE u::text LIKE 'a%'",
        "SELECT count(*) FROM {t} WHERE bin = ''::bytea", "SELECT count(*) FROM {t} WHERE bin > '\\x80'::bytea",
        "SELECT count(*) FROM {t} WHERE fx < '\\x4000000000'::bytea",
        # combinations
        "SELECT count(*) FROM {t} WHERE (i > 0 OR n9 < 0) AND NOT (b AND dt > '1970-01-01')",
        "SELECT count(*) FROM {t} WHERE i IS NULL OR l IS NULL OR d IS NULL",
        "SELECT count(*) FROM {t} WHERE NOT (i IN (1, 2, 3) OR s LIKE 'a%')",
    ]
    return out


def test_filters(every, conn):
    _, foreign, heap = every
    assert_compare(conn, foreign, heap, filter_queries(ALL_ROWS))


AGG_COLUMNS = ["b", "i", "l", "f", "d", "n9", "n18", "n38", "dt", "tm", "ts", "tz", "s", "u", "bin", "fx"]


def aggregate_queries() -> list[str]:
    out = ["SELECT count(*) FROM {t}", "SELECT count(*) FROM {t} WHERE id > 500"]
    for c in AGG_COLUMNS:
        out.append(f"SELECT count({c}), count(DISTINCT {c}) FROM {{t}}")
        if c not in ("b", "u", "bin", "fx"):
            out.append(f"SELECT min({c}), max({c}) FROM {{t}}")
            out.append(f"SELECT b, min({c}), max({c}), count({c}) FROM {{t}} GROUP BY b")
            out.append(f"SELECT min({c}), max({c}) FROM {{t}} WHERE id BETWEEN 100 AND 650")
        if c in ("i", "l", "n9", "n18", "n38"):
            out.append(f"SELECT sum({c}), avg({c}) FROM {{t}}")
            out.append(f"SELECT b, sum({c}), avg({c}) FROM {{t}} GROUP BY b")
            out.append(f"SELECT sum({c}), avg({c}) FROM {{t}} WHERE {c} > 0")
    out += [
        "SELECT bool_and(b), bool_or(b), every(b) FROM {t}",
        "SELECT i, count(*) FROM {t} GROUP BY i", "SELECT s, count(*), min(l) FROM {t} GROUP BY s",
        "SELECT dt, count(*) FROM {t} GROUP BY dt", "SELECT u, count(*) FROM {t} GROUP BY u",
        "SELECT CASE WHEN f = 0 THEN 0 ELSE f END, count(*) FROM {t} GROUP BY f", "SELECT CASE WHEN d = 0 THEN 0 ELSE d END, count(*) FROM {t} GROUP BY d",
        "SELECT n38, count(*) FROM {t} GROUP BY n38", "SELECT tm, count(*) FROM {t} GROUP BY tm",
        "SELECT date_trunc('month', ts), count(*), sum(i) FROM {t} GROUP BY 1",
        "SELECT date_trunc('year', ts), min(n38), max(ts) FROM {t} GROUP BY 1",
        "SELECT date_trunc('hour', ts), count(*) FROM {t} GROUP BY 1",
        "SELECT date_trunc('week', ts), count(*) FROM {t} GROUP BY 1",
        "SELECT date_trunc('quarter', ts), count(*) FROM {t} GROUP BY 1",
        "SELECT date_trunc('day', tz), count(*) FROM {t} GROUP BY 1",
        "SELECT date_trunc('month', dt), count(*) FROM {t} GROUP BY 1",
        "SELECT extract(year FROM dt), count(*), avg(n9) FROM {t} GROUP BY 1",
        "SELECT extract(month FROM dt), extract(day FROM dt), count(*) FROM {t} GROUP BY 1, 2",
        "SELECT extract(hour FROM ts), extract(minute FROM ts), count(*) FROM {t} GROUP BY 1, 2",
        "SELECT extract(quarter FROM dt), count(*) FROM {t} GROUP BY 1",
        "SELECT sum(i * 2), sum(l - i), avg(n9 * 3), sum(n18 + n9), max(i + 1), min(n9 * n18) FROM {t}",
        "SELECT sum(n38 * 2), avg(n38 + 1) FROM {t}",
        "SELECT sum(l) FROM {t} WHERE l > 1000000000000",
        "SELECT b, count(DISTINCT s), count(DISTINCT dt) FROM {t} GROUP BY b",
        "SELECT count(*) FILTER (WHERE i > 0), sum(i) FILTER (WHERE b) FROM {t}",
        "SELECT b, count(*) FROM {t} GROUP BY b HAVING count(*) > 10",
        "SELECT count(*), min(ts), max(tz) FROM {t} WHERE dt >= '1970-01-01'",
        "SELECT min(f), max(f), min(d), max(d) FROM {t} WHERE f <> 'NaN' AND d <> 'NaN'",
        "SELECT s, max(s COLLATE \"C\"), min(s COLLATE \"C\") FROM {t} GROUP BY s",
        "SELECT max(s COLLATE \"C\"), min(s COLLATE \"C\") FROM {t}",
        "SELECT min(s), max(s) FROM {t}",
        "SELECT count(DISTINCT (i, b)) FROM {t}",
        "SELECT sum(f)::numeric(30,1) IS NOT NULL, count(f) FROM {t}",
    ]
    return out


def test_aggregates(every, conn):
    _, foreign, heap = every
    assert_compare(conn, foreign, heap, aggregate_queries())


def top_n_queries() -> list[str]:
    out = []
    for c in AGG_COLUMNS:
        out.append(f"SELECT id, {c} FROM {{t}} ORDER BY {c}, id LIMIT 7")
        out.append(f"SELECT id, {c} FROM {{t}} ORDER BY {c} DESC, id LIMIT 7")
        out.append(f"SELECT id, {c} FROM {{t}} ORDER BY {c} NULLS FIRST, id LIMIT 7")
        out.append(f"SELECT id, {c} FROM {{t}} ORDER BY {c} DESC NULLS LAST, id DESC LIMIT 7 OFFSET 3")
    out += [
        "SELECT id, s FROM {t} ORDER BY s COLLATE \"C\", id LIMIT 10",
        "SELECT id, s FROM {t} ORDER BY s COLLATE \"C\" DESC, id LIMIT 10",
        "SELECT id, ts FROM {t} WHERE dt < '1970-01-01' ORDER BY ts DESC, id LIMIT 5",
        "SELECT id, n38, tz FROM {t} WHERE i > 0 ORDER BY n38 DESC, id LIMIT 5",
        "SELECT * FROM {t} ORDER BY tz DESC NULLS LAST, id LIMIT 3",
        "SELECT id FROM {t} WHERE s LIKE 'a%' ORDER BY l, id LIMIT 4",
    ]
    return out


def test_top_n(every, conn):
    _, foreign, heap = every
    assert_compare(conn, foreign, heap, top_n_queries())


def test_joins_with_heap_tables(every, conn):
    _, foreign, heap = every
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS keys AS SELECT id, s, u, dt, n38 FROM "
                 f"{heap} WHERE id % 7 = 0")
    assert_compare(conn, foreign, heap, [
        "SELECT t.id, k.id FROM {t} t JOIN keys k ON t.s = k.s WHERE t.id < 200",
        "SELECT t.id FROM {t} t JOIN keys k ON t.u = k.u",
        "SELECT t.id, k.id FROM {t} t JOIN keys k ON t.dt = k.dt",
        "SELECT t.id FROM {t} t JOIN keys k ON t.n38 = k.n38",
        "SELECT k.id, count(t.id) FROM keys k LEFT JOIN {t} t ON t.id = k.id + 1 GROUP BY k.id",
        "SELECT t.id FROM {t} t WHERE t.s IN (SELECT s FROM keys) AND t.b",
        "SELECT t.id FROM {t} t WHERE NOT EXISTS (SELECT 1 FROM keys k WHERE k.id = t.id) AND t.id < 50",
    ])


def test_snapshots_of_pyiceberg_appends(every, conn):
    """Time travel to each of PyIceberg's snapshots (one per append)."""
    table, foreign, heap = every
    snapshots = sorted(table.snapshots(), key=lambda s: s.sequence_number)
    assert len(snapshots) == len(BATCHES)
    seen = 0
    for snap, batch in zip(snapshots, BATCHES):
        seen += len(batch)
        conn.execute(f"SET townlake.iceberg_snapshot_id = {snap.snapshot_id}")
        try:
            got = run(conn, f"SELECT count(*), max(id), sum(n38), count(s) FROM {foreign}")
            oracle = run(conn, f"SELECT count(*), max(id), sum(n38), count(s) FROM {heap} WHERE id <= {seen}")
            assert got == oracle, snap.snapshot_id
        finally:
            conn.execute("RESET townlake.iceberg_snapshot_id")


# ---------------------------------------------------------------- partitions

def _spec(*fields) -> PartitionSpec:
    return PartitionSpec(*[PartitionField(source_id=s, field_id=1000 + k, transform=t, name=n)
                           for k, (s, t, n) in enumerate(fields)])


FIELD = {f.name: f.field_id for f in SCHEMA.fields}
# One table per group of transforms; each spec names the columns it partitions.
PARTITIONED = {
    "p_identity": _spec((FIELD["s"], IdentityTransform(), "s"), (FIELD["b"], IdentityTransform(), "b")),
    "p_identity_num": _spec((FIELD["i"], IdentityTransform(), "i")),
    "p_identity_dt": _spec((FIELD["dt"], IdentityTransform(), "dt_id")),
    "p_bucket": _spec((FIELD["u"], BucketTransform(4), "u_b"), (FIELD["n18"], BucketTransform(3), "n18_b")),
    "p_bucket2": _spec((FIELD["s"], BucketTransform(3), "s_b"), (FIELD["ts"], BucketTransform(3), "ts_b")),
    "p_bucket3": _spec((FIELD["dt"], BucketTransform(3), "dt_b"), (FIELD["l"], BucketTransform(4), "l_b")),
    "p_truncate": _spec((FIELD["s"], TruncateTransform(2), "s_t"), (FIELD["n9"], TruncateTransform(50000), "n9_t")),
    "p_truncate2": _spec((FIELD["l"], TruncateTransform(10**9), "l_t"), (FIELD["n38"], TruncateTransform(10**9), "n38_t"),
                         (FIELD["i"], TruncateTransform(4), "i_t")),
    "p_time": _spec((FIELD["dt"], YearTransform(), "dt_y"), (FIELD["tz"], MonthTransform(), "tz_m")),
    "p_time2": _spec((FIELD["ts"], DayTransform(), "ts_d"), (FIELD["tz"], HourTransform(), "tz_h")),
    "p_time3": _spec((FIELD["ts"], YearTransform(), "ts_y"), (FIELD["dt"], MonthTransform(), "dt_m"),
                     (FIELD["tz"], DayTransform(), "tz_d")),
}
PART_WORDS = ["", "a", "abc", "abd", "ab", "Zebra", "o'neil", "ünïcode", "üb", "日本語", "日本", "100%", "a b",
              "a+b", "x/y", "tab\tsep", "%41"]


def _part_rows() -> list[dict]:
    """Rows with few distinct partition values (a few files per table), around
    the Unix epoch (negative transforms), with NULLs and non-ASCII text."""
    rows = []
    for k, src in enumerate(r for r in ALL_ROWS if r["id"] % 4 == 0):
        rid = src["id"]
        row = dict(src)
        row.update({
            "b": [True, False, None][rid % 3],
            "i": None if rid % 13 == 0 else (rid % 11) - 5,
            "l": None if rid % 17 == 0 else ((rid * 7919) % 2000 - 1000) * 10**6 + rid,
            "n9": None if rid % 19 == 0 else decimal.Decimal((rid * 37) % 20000 - 10000).scaleb(-1),
            "n38": None if rid % 23 == 0 else decimal.Decimal(((rid * 7) % 20 - 10) * 10**8 + rid).scaleb(-10, EXACT),
            "dt": None if rid % 29 == 0 else dt.date(1969, 12, 25) + dt.timedelta(days=rid % 14),
            "ts": None if rid % 31 == 0 else dt.datetime(1969, 12, 31, 20) + dt.timedelta(minutes=17 * k, microseconds=rid),
            "tz": None if rid % 37 == 0 else dt.datetime(1969, 12, 31, 22, tzinfo=UTC) + dt.timedelta(minutes=13 * k),
            "s": None if rid % 41 == 0 else PART_WORDS[rid % len(PART_WORDS)] + ("" if rid % 2 else "x"),
        })
        rows.append(row)
    return rows


PART_ROWS = _part_rows()


@pytest.fixture(scope="module")
def partitioned(conn, local_lake, every):
    heap = create_heap(conn, "part_heap", PG_TYPES, PART_ROWS)
    out = {}
    for name, spec in PARTITIONED.items():
        table = local_lake.create_table(NS, name, SCHEMA, spec)
        half = len(PART_ROWS) // 2
        table.append(to_arrow(table, PART_ROWS[:half]))
        table.append(to_arrow(table, PART_ROWS[half:]))
        out[name] = local_lake.import_table(conn, NS, name)
    return out, heap


EXTRA_PARTITION_QUERIES = {
    "s": ["SELECT count(*) FROM {t} WHERE s = 'abc'", "SELECT count(*) FROM {t} WHERE s LIKE 'ab%'",
          "SELECT count(*) FROM {t} WHERE s LIKE 'a%'", "SELECT count(*) FROM {t} WHERE s LIKE 'ü%'",
          "SELECT count(*) FROM {t} WHERE s LIKE 'üb%'", "SELECT count(*) FROM {t} WHERE s LIKE '日%'",
          "SELECT count(*) FROM {t} WHERE s LIKE '日本%'", "SELECT count(*) FROM {t} WHERE s NOT LIKE 'ü%'",
          "SELECT count(*) FROM {t} WHERE s = 'a b'", "SELECT count(*) FROM {t} WHERE s = 'x/yx'",
          "SELECT count(*) FROM {t} WHERE s = '%41'", "SELECT count(*) FROM {t} WHERE s = E'tab\\tsep'",
          "SELECT count(*) FROM {t} WHERE s IN ('100%', 'a+b', '日本語x')", "SELECT count(*) FROM {t} WHERE s < 'b'",
          "SELECT s, count(*) FROM {t} GROUP BY s"],
    "i": ["SELECT count(*) FROM {t} WHERE i = -5", "SELECT count(*) FROM {t} WHERE i IN (-5, 3, 4)",
          "SELECT count(*) FROM {t} WHERE i < -4", "SELECT count(*) FROM {t} WHERE i >= -1", "SELECT count(*) FROM {t} WHERE i > 2"],
    "n9": ["SELECT count(*) FROM {t} WHERE n9 = 12.5", "SELECT count(*) FROM {t} WHERE n9 < -500",
           "SELECT count(*) FROM {t} WHERE n9 >= -500.05", "SELECT count(*) FROM {t} WHERE n9 > 0.05"],
    "n38": ["SELECT count(*) FROM {t} WHERE n38 > 0", "SELECT count(*) FROM {t} WHERE n38 < -0.5"],
    "tz": ["SELECT count(*) FROM {t} WHERE tz >= '1969-12-31 00:00:00-08' AND tz < '1970-01-01'",
           "SELECT count(*) FROM {t} WHERE tz < '1970-01-01 00:00:00.000001+00'",
           "SELECT count(*) FROM {t} WHERE tz > '1969-12-31 23:59:59.999999+00'",
           "SELECT count(*) FROM {t} WHERE tz = '1970-01-01 05:12+00'",
           "SELECT date_trunc('hour', tz AT TIME ZONE 'UTC'), count(*) FROM {t} GROUP BY 1"],
    "ts": ["SELECT count(*) FROM {t} WHERE ts >= '1969-12-31' AND ts < '1970-01-01 01:00'",
           "SELECT count(*) FROM {t} WHERE ts < '1970-01-01'", "SELECT count(*) FROM {t} WHERE ts > '1970-01-01 23:59:59.999'",
           "SELECT date_trunc('day', ts), count(*) FROM {t} GROUP BY 1"],
    "dt": ["SELECT count(*) FROM {t} WHERE dt = '1969-12-31'", "SELECT count(*) FROM {t} WHERE dt < '1970-01-01'",
           "SELECT count(*) FROM {t} WHERE dt >= '1970-01-01'", "SELECT dt, count(*) FROM {t} GROUP BY dt"],
}


@pytest.mark.parametrize("name", list(PARTITIONED))
def test_partitioned_tables(partitioned, conn, name):
    tables, heap = partitioned
    columns = {SCHEMA.find_field(f.source_id).name for f in PARTITIONED[name].fields}
    queries = ["SELECT * FROM {t}", "SELECT count(*) FROM {t}", "SELECT id, tz FROM {t} ORDER BY tz, id LIMIT 5"]
    # every other generic filter on the partition columns (the whole list
    # runs on the unpartitioned table): keeps the module fast
    generic = [q for q in filter_queries(PART_ROWS)
               if any(f" {c} " in q or f"({c}" in q for c in columns) and not q.startswith("SELECT id")]
    queries += generic[::2]
    for c in columns:
        queries += EXTRA_PARTITION_QUERIES.get(c, [])
    assert_compare(conn, tables[name], heap, queries)


def _partition_values(table) -> list[tuple]:
    """Every data file's partition tuple, sorted (NULLs included)."""
    return sorted((tuple(task.file.partition) for task in table.scan().plan_files()), key=repr)


def test_range_filters_keep_truncations_that_wrapped_at_the_type_minimum(conn, local_lake):
    """A value within w of the type's minimum truncates below it (when the
    minimum is not a multiple of w); PyIceberg writes the wrapped partition
    value at the top of the range. Upper-bound filters must not skip it."""
    schema = Schema(NestedField(1, "id", LongType(), required=True), _opt(2, "i", IntegerType()),
                    _opt(3, "l", LongType()))
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=TruncateTransform(10), name="i_t"),
                         PartitionField(source_id=3, field_id=1001, transform=TruncateTransform(10), name="l_t"))
    imin, imax, lmin, lmax = -2**31, 2**31 - 1, -2**63, 2**63 - 1
    ints = [imin, imin + 1, imin + 2, imin + 9, imin + 10, -5, 0, 7, imax - 3, imax, None]
    longs = [lmin, lmin + 1, lmin + 2, lmin + 7, lmin + 12, -5, 0, 7, lmax - 1, lmax, None]
    rows = [{"id": k, "i": i, "l": lv} for k, (i, lv) in enumerate(zip(ints, longs))]
    table = local_lake.create_table(NS, "wrapped_trunc", schema, spec)
    for part in (rows[:5], rows[5:]):
        table.append(pa.Table.from_pylist(part, schema=table.schema().as_arrow()))
    foreign = local_lake.import_table(conn, NS, "wrapped_trunc")
    heap = create_heap(conn, "wrapped_trunc_heap", {"id": "bigint", "i": "integer", "l": "bigint"}, rows)
    # the same rows written by townlake, partitioned the same way
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{NS}".wrapped_trunc_tl')
    conn.execute(f'CREATE FOREIGN TABLE "{NS}".wrapped_trunc_tl (id bigint, i integer, l bigint) SERVER '
                 f"{local_lake.server} OPTIONS (namespace '{NS}', table 'wrapped_trunc_tl', "
                 "partition_by 'truncate(10, i), truncate(10, l)')")
    conn.execute(f'INSERT INTO "{NS}".wrapped_trunc_tl SELECT * FROM {heap} WHERE id < 5')
    conn.execute(f'INSERT INTO "{NS}".wrapped_trunc_tl SELECT * FROM {heap} WHERE id >= 5')
    written = local_lake.catalog.load_table(f"{NS}.wrapped_trunc_tl")
    # the partition values townlake wrote are the ones PyIceberg writes
    assert _partition_values(written) == _partition_values(table)
    queries = []
    for c, lo, hi in (("i", imin, imax), ("l", lmin, lmax)):
        queries += [f"SELECT id FROM {{t}} WHERE {c} < 0 ORDER BY id",
                    f"SELECT id FROM {{t}} WHERE {c} <= {lo + 9} ORDER BY id",
                    f"SELECT id FROM {{t}} WHERE {c} < {lo + 2} ORDER BY id",
                    f"SELECT id FROM {{t}} WHERE {c} BETWEEN {lo} AND 7 ORDER BY id",
                    f"SELECT id FROM {{t}} WHERE NOT ({c} > -1) ORDER BY id",
                    f"SELECT id FROM {{t}} WHERE {c} >= {hi - 5} ORDER BY id",
                    f"SELECT id FROM {{t}} WHERE {c} > {lo + 1} ORDER BY id",
                    f"SELECT count(*), min({c}), max({c}) FROM {{t}} WHERE {c} < 10"]
    assert_compare(conn, foreign, heap, queries)
    assert_compare(conn, f'"{NS}".wrapped_trunc_tl', heap, queries)


def test_time_transforms_at_the_ends_of_the_calendar(conn, local_lake):
    """Dates and timestamps from year 1 to 9999 (negative year/month/day/hour
    partition values far from the epoch) under every time transform, written
    by PyIceberg; range filters and groupings against a heap copy."""
    schema = Schema(NestedField(1, "id", LongType(), required=True), _opt(2, "dt", DateType()),
                    _opt(3, "ts", TimestampType()), _opt(4, "tz", TimestamptzType()))
    days = [dt.date(1, 1, 1), dt.date(1, 12, 31), dt.date(1000, 6, 15), dt.date(1582, 10, 4), dt.date(1899, 12, 31),
            dt.date(1969, 12, 31), dt.date(1970, 1, 1), dt.date(2000, 2, 29), dt.date(9999, 12, 31)]
    moments = [dt.datetime(1, 1, 1), dt.datetime(1, 1, 1, 0, 59, 59, 999999), dt.datetime(1000, 6, 15, 12, 30),
               dt.datetime(1899, 12, 31, 23, 59, 59, 999999), dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
               dt.datetime(1970, 1, 1), dt.datetime(2000, 2, 29, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999),
               dt.datetime(9999, 12, 31)]
    rows = [{"id": k, "dt": d, "ts": m, "tz": m.replace(tzinfo=UTC)} for k, (d, m) in enumerate(zip(days, moments))]
    rows.append({"id": len(rows), "dt": None, "ts": None, "tz": None})
    heap = create_heap(conn, "calendar_heap", {"id": "bigint", "dt": "date", "ts": "timestamp", "tz": "timestamptz"}, rows)
    conn.execute("SET TIME ZONE 'UTC'")
    queries = []
    for c, lits in (("dt", ["0001-01-01", "0001-06-30", "1000-06-15", "1969-12-31", "1970-01-01", "9999-12-31"]),
                    ("ts", ["0001-01-01 00:59:59.999999", "0001-01-01 01:00", "1899-12-31 23:59:59.999999",
                            "1969-12-31 23:00", "1970-01-01", "9999-12-31 23:00"]),
                    ("tz", ["0001-01-01 00:59:59.999999+00", "1000-06-15 12:30+00", "1969-12-31 23:59:59.999999+00",
                            "1970-01-01 00:00:00.000001+00", "9999-12-31 00:00+00"])):
        for lit in lits:
            for op in ("<", "<=", "=", ">=", ">"):
                queries.append(f"SELECT id FROM {{t}} WHERE {c} {op} '{lit}' ORDER BY id")
        queries.append(f"SELECT id FROM {{t}} WHERE {c} BETWEEN '{lits[1]}' AND '{lits[-2]}' ORDER BY id")
        queries.append(f"SELECT date_trunc('year', {c}), count(*) FROM {{t}} GROUP BY 1 ORDER BY 1")
        queries.append(f"SELECT min({c}), max({c}), count({c}) FROM {{t}}")
    specs = {"cal_a": ((2, YearTransform()), (3, MonthTransform()), (4, HourTransform())),
             "cal_b": ((2, MonthTransform()), (3, DayTransform()), (4, YearTransform())),
             "cal_c": ((2, DayTransform()), (3, HourTransform()), (4, MonthTransform()))}
    for name, fields in specs.items():
        spec = PartitionSpec(*[PartitionField(source_id=src, field_id=1000 + k, transform=t, name=f"p{k}")
                               for k, (src, t) in enumerate(fields)])
        table = local_lake.create_table(NS, name, schema, spec)
        for part in (rows[::2], rows[1::2]):
            table.append(pa.Table.from_pylist(part, schema=table.schema().as_arrow()))
        assert_compare(conn, local_lake.import_table(conn, NS, name), heap, queries)
        # townlake writes the same rows into the same partitions PyIceberg chose
        words = {YearTransform: "year", MonthTransform: "month", DayTransform: "day", HourTransform: "hour"}
        by = ", ".join(f"{words[type(t)]}({schema.find_field(src).name})" for src, t in fields)
        conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{NS}".{name}_tl')
        conn.execute(f'CREATE FOREIGN TABLE "{NS}".{name}_tl (id bigint, dt date, ts timestamp, tz timestamptz) '
                     f"SERVER {local_lake.server} OPTIONS (namespace '{NS}', table '{name}_tl', partition_by '{by}')")
        conn.execute(f'INSERT INTO "{NS}".{name}_tl SELECT * FROM {heap} WHERE id % 2 = 0')
        conn.execute(f'INSERT INTO "{NS}".{name}_tl SELECT * FROM {heap} WHERE id % 2 = 1')
        written = local_lake.catalog.load_table(f"{NS}.{name}_tl")
        assert _partition_values(written) == _partition_values(table), name
        assert_compare(conn, f'"{NS}".{name}_tl', heap, queries)


def test_float_partitions_with_signed_zeros_and_nan(conn, local_lake):
    """Identity partitions of real/double columns holding -0.0, 0.0 and
    infinities, and files with NaN too: Postgres' equality (-0 = 0, NaN = NaN,
    NaN above everything) decides, whatever the partition values' order.
    (PyIceberg cannot write a NaN identity partition: it groups rows by `==`.)"""
    schema = Schema(NestedField(1, "id", LongType(), required=True), _opt(2, "f", FloatType()),
                    _opt(3, "d", DoubleType()))
    values = [-0.0, 0.0, float("nan"), float("inf"), float("-inf"), 1.5, -1.5, None]
    rows = [{"id": k, "f": v, "d": values[(k * 3) % len(values)]} for k, v in enumerate(values * 2)]
    heap = create_heap(conn, "floats_heap", {"id": "bigint", "f": "real", "d": "double precision"}, rows)
    queries = []
    for c in ("f", "d"):
        for lit in ("0", "-0", "'NaN'", "'Infinity'", "'-Infinity'", "1.5"):
            for op in ("=", "<>", "<", "<=", ">", ">="):
                queries.append(f"SELECT id FROM {{t}} WHERE {c} {op} {lit} ORDER BY id")
        queries += [f"SELECT id FROM {{t}} WHERE {c} IN (0, 'NaN') ORDER BY id",
                    f"SELECT id FROM {{t}} WHERE {c} IS NULL ORDER BY id",
                    f"SELECT {c}::text, count(*) FROM {{t}} GROUP BY 1 ORDER BY 1",
                    f"SELECT count(DISTINCT {c}), min({c}), max({c}) FROM {{t}}"]
    specs = {"fl_identity": ((2, IdentityTransform()), (3, IdentityTransform()))}
    for name, fields in specs.items():
        spec = PartitionSpec(*[PartitionField(source_id=src, field_id=1000 + k, transform=t, name=f"p{k}")
                               for k, (src, t) in enumerate(fields)])
        table = local_lake.create_table(NS, name, schema, spec)
        no_nan = [r for r in rows if not any(isinstance(v, float) and math.isnan(v) for v in r.values())]
        for part in (no_nan[::2], no_nan[1::2]):
            table.append(pa.Table.from_pylist(part, schema=table.schema().as_arrow()))
        no_nan_heap = create_heap(conn, "floats_no_nan_heap", {"id": "bigint", "f": "real", "d": "double precision"},
                                  no_nan)
        assert_compare(conn, local_lake.import_table(conn, NS, name), no_nan_heap, queries)
    # townlake writes NaN partitions too
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{NS}".fl_identity_tl')
    conn.execute(f'CREATE FOREIGN TABLE "{NS}".fl_identity_tl (id bigint, f real, d double precision) SERVER '
                 f"{local_lake.server} OPTIONS (namespace '{NS}', table 'fl_identity_tl', partition_by 'f, d')")
    conn.execute(f'INSERT INTO "{NS}".fl_identity_tl SELECT * FROM {heap} WHERE id % 2 = 0')
    conn.execute(f'INSERT INTO "{NS}".fl_identity_tl SELECT * FROM {heap} WHERE id % 2 = 1')
    assert_compare(conn, f'"{NS}".fl_identity_tl', heap, queries)
    # unpartitioned, several files: column bounds and row-group statistics
    table = local_lake.create_table(NS, "fl_plain", schema)
    for part in (rows[:4], rows[4:8], rows[8:]):
        table.append(pa.Table.from_pylist(part, schema=table.schema().as_arrow()))
    assert_compare(conn, local_lake.import_table(conn, NS, "fl_plain"), heap, queries)


def test_column_names_that_need_quoting(conn, local_lake):
    """Iceberg column names with capitals, spaces, dots, quotes, non-ASCII
    letters and SQL keywords, written by PyIceberg: imported under their own
    names, filtered, aggregated and ordered exactly as a heap copy is."""
    names = ["Mixed Case", "with space", "select", "a.b", "ünïcode", 'quo"te', "x-y"]
    schema = Schema(NestedField(1, "id", LongType(), required=True),
                    *[_opt(2 + k, n, IntegerType() if k % 2 == 0 else StringType()) for k, n in enumerate(names)])
    rows = []
    for k in range(40):
        row = {"id": k}
        for j, n in enumerate(names):
            row[n] = None if (k + j) % 7 == 0 else ((k * (j + 3)) % 11 if j % 2 == 0 else f"v{(k + j) % 5}")
        rows.append(row)
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=BucketTransform(3), name="Mixed Case_bucket"),
                         PartitionField(source_id=3, field_id=1001, transform=IdentityTransform(), name="with space"))
    table = local_lake.create_table(NS, "quoted_names", schema, spec)
    for part in (rows[:20], rows[20:]):
        table.append(pa.Table.from_pylist(part, schema=table.schema().as_arrow()))
    foreign = local_lake.import_table(conn, NS, "quoted_names")
    types = {"id": "bigint", **{n: ("integer" if k % 2 == 0 else "text") for k, n in enumerate(names)}}
    heap = f'"{NS}"."quoted_names_heap"'
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{NS}"')
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(NS, "quoted_names_heap"), sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in types.items())))
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(NS, "quoted_names_heap"))) as copy:
        for r in rows:
            copy.write_row([r["id"]] + [r[n] for n in names])
    # the imported columns carry the Iceberg names
    got = [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
        (foreign,)).fetchall()]
    assert got == ["id"] + names
    q = lambda n: '"' + n.replace('"', '""') + '"'
    queries = ["SELECT * FROM {t} ORDER BY id"]
    for k, n in enumerate(names):
        if k % 2 == 0:
            queries += [f"SELECT id FROM {{t}} WHERE {q(n)} > 5 ORDER BY id",
                        f"SELECT id FROM {{t}} WHERE {q(n)} IN (1, 2, 3) OR {q(n)} IS NULL ORDER BY id",
                        f"SELECT sum({q(n)}), min({q(n)}), max({q(n)}), count({q(n)}) FROM {{t}}",
                        f"SELECT {q(n)}, count(*) FROM {{t}} GROUP BY 1 ORDER BY 1 NULLS FIRST",
                        f"SELECT id, {q(n)} FROM {{t}} ORDER BY {q(n)} DESC NULLS LAST, id LIMIT 5"]
        else:
            queries += [f"SELECT id FROM {{t}} WHERE {q(n)} = 'v3' ORDER BY id",
                        f"SELECT id FROM {{t}} WHERE {q(n)} LIKE 'v%' AND {q(n)} <> 'v1' ORDER BY id",
                        f"SELECT count(DISTINCT {q(n)}) FROM {{t}}"]
    assert_compare(conn, foreign, heap, queries)
    # townlake writes such names as they are, and PyIceberg reads them back
    mine = sql.Identifier(NS, "quoted_names_tl")
    conn.execute(sql.SQL("DROP FOREIGN TABLE IF EXISTS {}").format(mine))
    conn.execute(sql.SQL("CREATE FOREIGN TABLE {} ({}) SERVER {} OPTIONS (namespace {}, \"table\" 'quoted_names_tl', "
                         "partition_by {})").format(
        mine, sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in types.items()),
        sql.Identifier(local_lake.server), sql.Literal(NS), sql.Literal(f"bucket(3, {q(names[0])}), {q(names[1])}")))
    conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(mine, sql.Identifier(NS, "quoted_names_heap")))
    written = local_lake.catalog.load_table(f"{NS}.quoted_names_tl")
    assert [f.name for f in written.schema().fields] == ["id"] + names
    # partition field names escaped as Iceberg's Java and Python libraries escape Avro names
    assert [f.name for f in written.spec().fields] == ["Mixed_x20Case_bucket", "with_x20space"]
    back = written.scan().to_arrow().to_pylist()
    assert sorted(back, key=lambda r: r["id"]) == rows
    assert_compare(conn, f'"{NS}"."quoted_names_tl"', heap, queries)
    # PyIceberg's table keeps "Mixed Case_bucket" as its partition field's name: its
    # manifests escape it, which the Iceberg library townlake uses cannot read
    # back when it writes them itself; the write is refused and nothing changes
    before = conn.execute(f"SELECT count(*) FROM {foreign}").fetchone()[0]
    expect_error(conn, f"INSERT INTO {foreign} (id) VALUES (1000)", "Mixed Case_bucket", "Avro")
    expect_error(conn, f"DELETE FROM {foreign} WHERE id = 1", "partition field", "Avro")
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone()[0] == before == len(rows)


# ---------------------------------------------------------------- evolution by PyIceberg

EVOLVE_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    _opt(2, "small", IntegerType()),
    _opt(3, "ratio", FloatType()),
    _opt(4, "price", DecimalType(10, 2)),
    _opt(5, "name", StringType()),
    _opt(6, "gone", StringType()),
    _opt(7, "day", DateType()),
)


def _evolve_rows(first, count, seed, wide=False):
    rng = random.Random(seed)
    rows = []
    for k in range(count):
        row = {"id": first + k,
               "small": rng.choice([None, rng.randrange(-2**31, 2**31)]) if not wide else
               rng.choice([None, rng.randrange(-2**40, 2**40)]),
               "ratio": _f32(rng.uniform(-10, 10)) if not wide else rng.choice([1e300, -1e-300, float("nan"), rng.uniform(-10, 10)]),
               "price": decimal.Decimal(rng.randrange(-10**10 + 1, 10**10)).scaleb(-2) if not wide else
               decimal.Decimal(rng.randrange(-10**20 + 1, 10**20)).scaleb(-2, EXACT),
               "name": rng.choice(WORDS),
               "day": dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(-400, 400))}
        if rng.random() < 0.1:
            row["price"] = None
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def evolved(conn, local_lake):
    """interop.evolved: written, then evolved by PyIceberg (int->long, float->double,
    decimal(10,2)->decimal(22,2), rename, drop, add), written again; each step a snapshot.
    Returns the table, the foreign table, heap copy and the snapshot ids with their heap filters."""
    from pyiceberg.types import DecimalType as Dec

    table = local_lake.create_table(NS, "evolved", EVOLVE_SCHEMA)
    first = _evolve_rows(1, 300, 21)
    for r in first:
        r["gone"] = "g" + str(r["id"])
    table.append(pa.Table.from_pylist(first, schema=table.schema().as_arrow()))
    snap1 = table.current_snapshot().snapshot_id
    with table.update_schema() as update:
        update.update_column("small", LongType())
        update.update_column("ratio", DoubleType())
        update.update_column("price", Dec(22, 2))
        update.rename_column("name", "label")
        update.delete_column("gone")
        update.add_column("extra", StringType())
    table = local_lake.catalog.load_table(f"{NS}.evolved")
    second = _evolve_rows(301, 300, 22, wide=True)
    for r in second:
        r["label"] = r.pop("name")
        r["extra"] = f"x{r['id'] % 5}"
    table.append(pa.Table.from_pylist(second, schema=table.schema().as_arrow()))
    snap2 = table.current_snapshot().snapshot_id
    foreign = local_lake.import_table(conn, NS, "evolved")
    heap_rows = []
    for r in first:
        heap_rows.append({"id": r["id"], "small": r["small"], "ratio": r["ratio"], "price": r["price"],
                          "label": r["name"], "day": r["day"], "extra": None})
    for r in second:
        heap_rows.append({k: r[k] for k in ("id", "small", "ratio", "price", "label", "day", "extra")})
    types = {"id": "bigint", "small": "bigint", "ratio": "double precision", "price": "numeric(22,2)",
             "label": "text", "day": "date", "extra": "text"}
    heap = create_heap(conn, "evolved_heap", types, heap_rows)
    return table, foreign, heap, (snap1, snap2)


def test_pyiceberg_evolution_imports_new_types(evolved, conn):
    _, foreign, _, _ = evolved
    rows = dict(conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", (foreign,)).fetchall())
    assert rows == {"id": "bigint", "small": "bigint", "ratio": "double precision", "price": "numeric(22,2)",
                    "label": "text", "day": "date", "extra": "text"}


EVOLVED_QUERIES = [
    "SELECT * FROM {t}",
    "SELECT count(*) FROM {t} WHERE small > 0", "SELECT count(*) FROM {t} WHERE small > 3000000000",
    "SELECT count(*) FROM {t} WHERE small < -2147483649", "SELECT count(*) FROM {t} WHERE small = 5",
    "SELECT count(*) FROM {t} WHERE small IN (1, 2, 4294967296)", "SELECT count(*) FROM {t} WHERE small IS NULL",
    "SELECT count(*) FROM {t} WHERE ratio > 1", "SELECT count(*) FROM {t} WHERE ratio = 'NaN'",
    "SELECT count(*) FROM {t} WHERE price > 1000", "SELECT count(*) FROM {t} WHERE price > 100000000000",
    "SELECT count(*) FROM {t} WHERE price < -12345678.9", "SELECT count(*) FROM {t} WHERE price BETWEEN -100 AND 100",
    "SELECT count(*) FROM {t} WHERE price IS NULL",
    "SELECT count(*) FROM {t} WHERE label = 'abc'", "SELECT count(*) FROM {t} WHERE label LIKE 'a%'",
    "SELECT count(*) FROM {t} WHERE extra IS NULL", "SELECT count(*) FROM {t} WHERE extra = 'x3'",
    "SELECT sum(small), avg(small), min(small), max(small) FROM {t}",
    "SELECT sum(price), avg(price), min(price), max(price) FROM {t}",
    "SELECT min(ratio), max(ratio), count(ratio) FROM {t}",
    "SELECT extra, count(*), sum(price) FROM {t} GROUP BY extra",
    "SELECT label, max(small) FROM {t} GROUP BY label",
    "SELECT date_trunc('month', day), sum(price) FROM {t} GROUP BY 1",
    "SELECT id, small FROM {t} ORDER BY small DESC NULLS LAST, id LIMIT 5",
    "SELECT id, price FROM {t} ORDER BY price, id LIMIT 5",
    "SELECT id, price FROM {t} ORDER BY price DESC, id LIMIT 5",
    "SELECT count(DISTINCT small), count(DISTINCT price) FROM {t}",
    "SELECT count(*) FROM {t}",
]


def test_pyiceberg_evolution_reads(evolved, conn):
    _, foreign, heap, _ = evolved
    assert_compare(conn, foreign, heap, EVOLVED_QUERIES)


def test_pyiceberg_evolution_time_travel(evolved, conn):
    """The first snapshot: the rows before the evolution, in today's columns."""
    _, foreign, heap, (snap1, _) = evolved
    conn.execute(f"SET townlake.iceberg_snapshot_id = {snap1}")
    try:
        problems = compare(conn, foreign, f"(SELECT * FROM {heap} WHERE id <= 300) h",
                           ["SELECT id, small, ratio, price, label, day FROM {t}",
                            "SELECT count(*), sum(price), max(small) FROM {t}",
                            "SELECT count(*) FROM {t} WHERE price > 1000"])
    finally:
        conn.execute("RESET townlake.iceberg_snapshot_id")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- deletes by PyIceberg

@pytest.fixture(scope="module")
def deleted(conn, local_lake):
    """PyIceberg deletes (copy-on-write) and overwrites rows of a three-file table."""
    table = local_lake.create_table(NS, "deleted", SCHEMA)
    rows = [r for r in ALL_ROWS if r["id"] <= 600]
    for part in (rows[:200], rows[200:400], rows[400:]):
        table.append(to_arrow(table, part))
    before = table.current_snapshot().snapshot_id
    table.delete(delete_filter=LessThan("id", 50))
    table = load(local_lake.catalog, NS, "deleted")
    table.delete(delete_filter=EqualTo("s", "abc"))
    table = load(local_lake.catalog, NS, "deleted")
    replacement = [dict(r, s="replaced") for r in rows if 300 <= r["id"] < 320]
    table.overwrite(to_arrow(table, replacement),
                    overwrite_filter=GreaterThanOrEqual("id", 300) & LessThan("id", 320))
    table = load(local_lake.catalog, NS, "deleted")
    live = [r for r in rows if r["id"] >= 50 and r["s"] != "abc" and not 300 <= r["id"] < 320] + replacement
    foreign = local_lake.import_table(conn, NS, "deleted")
    heap = create_heap(conn, "deleted_heap", PG_TYPES, live)
    before_heap = create_heap(conn, "deleted_before_heap", PG_TYPES, rows)
    return table, foreign, heap, before, before_heap


def test_pyiceberg_deletes_and_overwrite(deleted, conn):
    table, foreign, heap, _, _ = deleted
    # PyIceberg's own scan agrees with the source rows
    assert table.scan().to_arrow().num_rows == conn.execute(f"SELECT count(*) FROM {heap}").fetchone()[0]
    assert_compare(conn, foreign, heap, [
        "SELECT * FROM {t}", "SELECT count(*) FROM {t}", "SELECT count(*) FROM {t} WHERE s = 'abc'",
        "SELECT count(*) FROM {t} WHERE id < 60", "SELECT s, count(*) FROM {t} WHERE id BETWEEN 290 AND 330 GROUP BY s",
        "SELECT min(id), max(id), sum(n38), avg(i) FROM {t}", "SELECT id FROM {t} ORDER BY id LIMIT 3",
        "SELECT count(*) FROM {t} WHERE s = 'replaced'"])


def test_pyiceberg_deletes_time_travel(deleted, conn):
    _, foreign, _, before, before_heap = deleted
    conn.execute(f"SET townlake.iceberg_snapshot_id = {before}")
    try:
        problems = compare(conn, foreign, before_heap,
                           ["SELECT * FROM {t}", "SELECT count(*), sum(l) FROM {t}",
                            "SELECT count(*) FROM {t} WHERE s = 'abc'"])
    finally:
        conn.execute("RESET townlake.iceberg_snapshot_id")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- townlake writes

TL_DDL = {
    "id": "bigint NOT NULL", "b": "boolean", "i": "integer", "l": "bigint", "f": "real",
    "d": "double precision", "n9": "numeric(9,2)", "n18": "numeric(18,6)", "n38": "numeric(38,10)",
    "dt": "date", "tm": "time", "ts": "timestamp", "tz": "timestamptz", "s": "text", "u": "uuid",
    "bin": "bytea",
}
TL_COLUMNS = list(TL_DDL)


def _arrow_canon(v):
    if isinstance(v, uuid.UUID):
        return v
    if isinstance(v, bytes) and False:
        return v
    return canon(v)


def pyiceberg_rows(table, columns) -> list[tuple]:
    arrow = table.scan(selected_fields=tuple(columns)).to_arrow()
    out = []
    for r in arrow.to_pylist():
        row = []
        for c in columns:
            v = r[c]
            if c == "u" and isinstance(v, bytes):
                v = uuid.UUID(bytes=v)
            row.append(canon(_f32(v) if c in REAL_COLUMNS and v is not None else v))
        out.append(tuple(row))
    return sort_rows(out)


def duckdb_planned_rows(table, columns) -> list[tuple]:
    tasks = list(table.scan().plan_files())
    assert all(not t.delete_files for t in tasks), "delete files: read_parquet would be incomplete"
    files = [literal_path(t.file.file_path) for t in tasks]
    if not files:
        return []
    select = ", ".join(f'"{c}"' for c in columns)
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        rows = db.execute(f"SELECT {select} FROM read_parquet(?, union_by_name = true, hive_partitioning = false)", [files]).fetchall()
    out = []
    for r in rows:
        row = []
        for c, v in zip(columns, r):
            if c == "u" and isinstance(v, (bytes, bytearray)):
                v = uuid.UUID(bytes=bytes(v))
            if c == "tz" and isinstance(v, dt.datetime) and v.tzinfo is None:
                v = v.replace(tzinfo=UTC)
            row.append(canon(_f32(v) if c in REAL_COLUMNS and v is not None else v))
        out.append(tuple(row))
    return sort_rows(out)


REAL_COLUMNS = {"f"}


def literal_path(location: str) -> str:
    """A file: location's path as it is on disk (Iceberg locations are not
    percent-decoded: `s=%E6%97%A5` is the directory's name)."""
    return location.removeprefix("file://") if location.startswith("file://") else location


def heap_rows(conn, heap, columns) -> list[tuple]:
    """Rows of a relation; real columns read as float8 (their exact value,
    not the shortest decimal text psycopg would parse)."""
    select = ", ".join(f"{c}::float8" if c in REAL_COLUMNS else c for c in columns)
    return sort_rows(run(conn, f"SELECT {select} FROM {heap}"))


def assert_round_trip(conn, local_lake, name, heap, columns=TL_COLUMNS, use_duckdb=True):
    table = load(local_lake.catalog, NS, name)
    expected = heap_rows(conn, heap, columns)
    ours = heap_rows(conn, f'"{NS}"."{name}"', columns)
    assert_same_rows(ours, expected, f"{name}: townlake vs heap")
    assert_same_rows(pyiceberg_rows(table, columns), expected, f"{name}: PyIceberg vs heap")
    if use_duckdb:
        assert_same_rows(duckdb_planned_rows(table, columns), expected, f"{name}: DuckDB vs heap")


@pytest.fixture(scope="module")
def written(conn, local_lake):
    """interop.written: created and filled by townlake (INSERT and COPY), with its heap twin."""
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{NS}"')
    ddl = ", ".join(f"{c} {t}" for c, t in TL_DDL.items())
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{NS}"."written"')
    conn.execute(f'CREATE FOREIGN TABLE "{NS}"."written" ({ddl}) SERVER lake_local '
                 f"OPTIONS (namespace '{NS}', table 'written')")
    rows = [{c: r[c] for c in TL_COLUMNS} for r in ALL_ROWS]
    heap = create_heap(conn, "written_heap", {c: t.replace(" NOT NULL", "") for c, t in TL_DDL.items()}, rows)
    cols = ", ".join(TL_COLUMNS)
    conn.execute(f'INSERT INTO "{NS}"."written" SELECT {cols} FROM {heap} WHERE id <= 400')
    # COPY in text format: every type through its input function
    data = conn.execute(f"SELECT {cols} FROM {heap} WHERE id > 400 ORDER BY id").fetchall()
    with conn.cursor().copy(f'COPY "{NS}"."written" ({cols}) FROM STDIN') as copy:
        for r in data:
            copy.write_row(r)
    return heap


def test_townlake_writes_every_type(written, conn, local_lake):
    assert_round_trip(conn, local_lake, "written", written)


def test_townlake_edge_values(conn, local_lake):
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{NS}"')
    ddl = ", ".join(f"{c} {t}" for c, t in TL_DDL.items())
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{NS}"."edges"')
    conn.execute(f'CREATE FOREIGN TABLE "{NS}"."edges" ({ddl}) SERVER lake_local '
                 f"OPTIONS (namespace '{NS}', table 'edges')")
    heap = f'"{NS}"."edges_heap"'
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} ({ddl})")
    values = """
      (1, true, -2147483648, -9223372036854775808, 'NaN', 'NaN', -9999999.99, -999999999999.999999,
       -9999999999999999999999999999.9999999999, '0001-01-01', '00:00', '0001-01-01 00:00',
       '0001-01-01 00:00+00', '', '00000000-0000-0000-0000-000000000000', ''),
      (2, false, 2147483647, 9223372036854775807, 'Infinity', '-Infinity', 9999999.99, 999999999999.999999,
       9999999999999999999999999999.9999999999, '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999',
       '9999-12-31 23:59:59.999999+00', 'ünïcode 日本 🎉', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\\x00ff'),
      (3, NULL, 0, 0, '-0', '-0', 0.01, 0.000001, 0.0000000001, '1969-12-31', '12:34:56.000001',
       '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999-08', 'o''neil', NULL, '\\x'),
      (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (5, true, 1, 1, 1.17549435e-38, 2.2250738585072014e-308, 1.5, -1.5, -0.5, '2000-02-29', '00:00:00.5',
       '1900-01-01 12:00:00.25', '2024-03-10 02:30:00+05:30', E'line\\nbreak\\ttab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef')
    """
    conn.execute(f'INSERT INTO "{NS}"."edges" VALUES {values}')
    conn.execute(f"INSERT INTO {heap} VALUES {values}")
    assert_round_trip(conn, local_lake, "edges", heap)


def test_townlake_update_delete_round_trip(written, conn, local_lake):
    """UPDATE and DELETE by townlake, read back by PyIceberg (and DuckDB when
    no delete files remain after compaction)."""
    t = f'"{NS}"."written"'
    for stmt in ["UPDATE {t} SET s = s || '✓', n38 = n38 / 2, tz = tz + interval '1 hour' WHERE id % 5 = 0",
                 "DELETE FROM {t} WHERE id % 7 = 0",
                 "UPDATE {t} SET f = 'NaN', d = '-Infinity', u = NULL WHERE id BETWEEN 100 AND 110",
                 "DELETE FROM {t} WHERE s IS NULL"]:
        conn.execute(stmt.format(t=t))
        conn.execute(stmt.format(t=written))
    assert_round_trip(conn, local_lake, "written", written, use_duckdb=False)
    conn.execute(f"SELECT lake.compact('{t}'::regclass)")
    assert_round_trip(conn, local_lake, "written", written)


def test_townlake_alter_round_trip(conn, local_lake):
    """ALTER by townlake (add, rename, widen, drop), read by PyIceberg and DuckDB."""
    t = f'"{NS}"."altered"'
    h = f'"{NS}"."altered_heap"'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {t}")
    conn.execute(f"CREATE FOREIGN TABLE {t} (id bigint NOT NULL, small integer, r real, p numeric(10,2), "
                 f"name text) SERVER lake_local OPTIONS (namespace '{NS}', table 'altered')")
    conn.execute(f"DROP TABLE IF EXISTS {h}")
    conn.execute(f"CREATE TABLE {h} (id bigint NOT NULL, small integer, r real, p numeric(10,2), name text)")
    first = ("SELECT g, g * 1000 - 50000, g / 7.0, g * 1.25 - 40, 'n' || g FROM generate_series(1, 100) g")
    conn.execute(f"INSERT INTO {t} {first}")
    conn.execute(f"INSERT INTO {h} {first}")
    for alter in ["ALTER TABLE {t} ALTER COLUMN small TYPE bigint",
                  "ALTER TABLE {t} ALTER COLUMN r TYPE double precision",
                  "ALTER TABLE {t} ALTER COLUMN p TYPE numeric(20,2)",
                  "ALTER TABLE {t} RENAME COLUMN name TO label",
                  "ALTER TABLE {t} ADD COLUMN extra timestamptz"]:
        conn.execute(alter.format(t=t).replace("ALTER TABLE", "ALTER FOREIGN TABLE"))
        conn.execute(alter.format(t=h))
    second = ("SELECT g, g * 10000000000, g / 3.0::float8, g * 123456789012.25, 'l' || g, "
              "timestamptz '2024-01-01 00:00+00' + g * interval '1 hour' FROM generate_series(101, 150) g")
    conn.execute(f"INSERT INTO {t} {second}")
    conn.execute(f"INSERT INTO {h} {second}")
    cols = ["id", "small", "r", "p", "label", "extra"]
    table = load(local_lake.catalog, NS, "altered")
    expected = heap_rows(conn, h, cols)
    assert_same_rows(sort_rows(run(conn, f"SELECT {', '.join(cols)} FROM {t}")), expected, "townlake")
    assert_same_rows(pyiceberg_rows(table, cols), expected, "PyIceberg")
    assert_compare(conn, t, h, ["SELECT sum(small), max(p), count(*) FROM {t} WHERE p > 100",
                                "SELECT count(*) FROM {t} WHERE small > 3000000", "SELECT * FROM {t}"])


def test_orphan_removal_keeps_escaped_partition_files(partitioned, conn, local_lake):
    """PyIceberg escapes partition values in file names (`s=%E6%97%A5…`,
    `s=a+b`); those names are literal: none of them is an orphan."""
    tables, heap = partitioned
    table = load(local_lake.catalog, NS, "p_identity")
    live = {t.file.file_path for t in table.scan().plan_files()}
    assert any("%" in p for p in live), "the table has escaped file names"
    foreign = tables["p_identity"]
    dry = conn.execute(f"SELECT lake.remove_orphan_files('{foreign}', now(), true)").fetchone()[0]
    assert dry["orphan_files"] == 0, dry
    conn.execute(f"SELECT lake.remove_orphan_files('{foreign}', older_than => now())")
    assert_compare(conn, foreign, heap, ["SELECT * FROM {t}"])


def test_townlake_partition_values_with_special_characters(conn, local_lake):
    """Identity and truncate partitions on text with characters that need
    escaping in a file name; read back by townlake, PyIceberg and DuckDB."""
    t = f'"{NS}"."special_parts"'
    h = f'"{NS}"."special_parts_heap"'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {t}")
    conn.execute(f"CREATE FOREIGN TABLE {t} (id bigint NOT NULL, s text, d date) SERVER lake_local "
                 f"OPTIONS (namespace '{NS}', table 'special_parts', partition_by 's, truncate(2, s), day(d)')")
    conn.execute(f"DROP TABLE IF EXISTS {h}")
    conn.execute(f"CREATE TABLE {h} (id bigint NOT NULL, s text, d date)")
    values = ("(1, E'tab\\tsep', '1969-12-31'), (2, '%41', '1970-01-01'), (3, 'a/b', NULL), (4, '日本', '2024-02-29'), "
              "(5, 'a b', '0001-01-01'), (6, 'a+b', '1969-01-01'), (7, NULL, '1970-01-02'), (8, '..', '1970-01-02'), "
              "(9, E'new\\nline', '1999-12-31'), (10, '100%', '2000-01-01'), (11, '', '2000-01-01'), (12, 'ü', NULL)")
    conn.execute(f"INSERT INTO {t} VALUES {values}")
    conn.execute(f"INSERT INTO {h} VALUES {values}")
    cols = ["id", "s", "d"]
    expected = heap_rows(conn, h, cols)
    assert_same_rows(heap_rows(conn, t, cols), expected, "townlake")
    table = load(local_lake.catalog, NS, "special_parts")
    assert_same_rows(pyiceberg_rows(table, cols), expected, "PyIceberg")
    duck = sort_rows(tuple(canon(v) for v in r) for r in _duckdb_raw(table, cols))
    assert_same_rows(duck, expected, "DuckDB")
    assert_compare(conn, t, h, [f"SELECT count(*) FROM {{t}} WHERE s = {lit}" for lit in
                                ("E'tab\\tsep'", "'%41'", "'a/b'", "'日本'", "'a b'", "'..'", "'ü'")]
                   + ["SELECT count(*) FROM {t} WHERE s LIKE 'a%'", "SELECT count(*) FROM {t} WHERE s LIKE '日%'",
                      "SELECT count(*) FROM {t} WHERE d < '1970-01-01'", "SELECT count(*) FROM {t} WHERE s IS NULL"])


def _duckdb_raw(table, columns):
    files = [literal_path(t.file.file_path) for t in table.scan().plan_files()]
    with duckdb.connect() as db:
        return db.execute(f"SELECT {', '.join(columns)} FROM read_parquet(?, hive_partitioning = false)", [files]).fetchall()
