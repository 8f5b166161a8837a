"""Differential query shapes: prepared statements under generic plans,
cursors, top-N with ties and collations, grouping sets, FILTER and
ordered-set aggregates, joins of every pair of sources, subqueries, set
operations, window functions, edge values and time zones. Each shape runs on
the foreign tables (an Iceberg table written by townlake, one written by
PyIceberg, a ClickHouse table) and on heap copies, and the answers must be
the same, as Postgres prints them.

Oracle: the heap copy `facts_heap` is loaded with COPY from the Python rows
generated here (fixed seed); townlake's table is filled from the same Python
rows, PyIceberg's by PyIceberg, and the ClickHouse table's heap copy
`ch_heap` from ClickHouse's own TSV output. Nothing is compared with
townlake's own output.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import random
import urllib.parse
import uuid

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import BucketTransform
from pyiceberg.types import (BinaryType, BooleanType, DateType, DecimalType, DoubleType, IntegerType,
                             LongType, NestedField, StringType, TimestampType, TimestamptzType, TimeType,
                             UUIDType)

SEED = 20261204
NAMESPACE = "shapes"
SIZES = [700, 500, 300]
UTC = dt.timezone.utc
SUFFIX = uuid.uuid4().hex[:6]
CHDB = f"tl_shapes_{SUFFIX}"

WORDS = ["apple", "Apple", "apple ", "ápple", "banana", "Banana", "b", "", "🍒cherry", "zebra", "o'neil",
         "Äpfel", "straße", "z"]

# name, Iceberg type, Postgres type
COLUMNS = [
    ("g", IntegerType(), "integer"),
    ("i", IntegerType(), "integer"),
    ("b", LongType(), "bigint"),
    ("n", DecimalType(12, 3), "numeric(12,3)"),
    ("big", DecimalType(38, 10), "numeric(38,10)"),
    ("f", DoubleType(), "double precision"),
    ("t", StringType(), "text"),
    ("d", DateType(), "date"),
    ("ts", TimestampType(), "timestamp without time zone"),
    ("tz", TimestamptzType(), "timestamp with time zone"),
    ("flag", BooleanType(), "boolean"),
    ("u", UUIDType(), "uuid"),
    ("by", BinaryType(), "bytea"),
    ("tm", TimeType(), "time without time zone"),
]
NAMES = ["id"] + [c for c, _, _ in COLUMNS]


def _row(k: int, rng: random.Random) -> dict:
    def maybe(value, p=0.08):
        return None if rng.random() < p else value
    special = rng.random()
    f = (rng.choice([float("nan"), float("inf"), float("-inf"), -0.0, 0.0]) if special < 0.03
         else round(rng.uniform(-1000, 1000), 3))
    d = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(12_000))
    if rng.random() < 0.01:
        d = rng.choice([dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1969, 12, 31), dt.date(1970, 1, 1)])
    ts = dt.datetime(1995, 1, 1) + dt.timedelta(microseconds=rng.randrange(10**15))
    return {
        "id": k,
        "g": maybe(rng.randrange(6)),
        "i": maybe(rng.choice([rng.randrange(-2**31, 2**31), rng.randrange(-50, 50), 2**31 - 1, -2**31])),
        "b": maybe(rng.choice([rng.randrange(2**62, 2**63), rng.randrange(-100, 100), -2**63])),
        "n": maybe(decimal.Decimal(rng.randrange(-10**11, 10**11)).scaleb(-3)),
        "big": maybe(decimal.Decimal(rng.randrange(-10**37, 10**37)).scaleb(-10)),
        "f": maybe(f),
        "t": maybe(rng.choice(WORDS) + (str(rng.randrange(20)) if rng.random() < 0.5 else "")),
        "d": maybe(d),
        "ts": maybe(ts),
        "tz": maybe(ts.replace(tzinfo=UTC) + dt.timedelta(hours=rng.randrange(-30, 30))),
        "flag": maybe(rng.random() < 0.7),
        "u": maybe(uuid.UUID(int=rng.randrange(2**128)) if rng.random() < 0.5 else uuid.UUID(int=rng.randrange(4))),
        "by": maybe(bytes(rng.getrandbits(8) for _ in range(rng.randrange(4)))),
        "tm": maybe(rng.choice([dt.time(0), dt.time(23, 59, 59, 999999), dt.time(12)]) if special < 0.05
                    else (dt.datetime(2000, 1, 1) + dt.timedelta(microseconds=rng.randrange(86_400 * 10**6))).time()),
    }


def _batches() -> list[list[dict]]:
    rng = random.Random(SEED)
    out, k = [], 0
    for size in SIZES:
        out.append([_row(k + j, rng) for j in range(size)])
        k += size
    return out


def _copy(conn, relation: str, rows: list[dict]) -> None:
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.SQL(relation), sql.SQL(", ").join(map(sql.Identifier, NAMES)))) as copy:
        for row in rows:
            copy.write_row([row[n] for n in NAMES])


DDL = ", ".join(["id bigint NOT NULL"] + [f'"{c}" {t}' for c, _, t in COLUMNS])

CH_DDL = f"""CREATE TABLE {CHDB}.facts (id UInt64, g Nullable(Int32), i Nullable(Int32), b Nullable(Int64),
    n Nullable(Decimal(12, 3)), f Nullable(Float64), t Nullable(String), d Nullable(Date),
    ts Nullable(DateTime), flag Nullable(UInt8), u Nullable(UUID)) ENGINE = MergeTree() ORDER BY id"""
CH_PG = ("(id bigint, g integer, i integer, b bigint, n numeric(12,3), f double precision, t text, "
         "d date, ts timestamp, flag smallint, u uuid)")
CH_DIM_DDL = f"CREATE TABLE {CHDB}.dim (g Int32, name String, w Nullable(Int32)) ENGINE = Memory"
CH_DIM_PG = "(g integer, name text, w integer)"


def _ch_literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, dt.datetime):
        return str(int(v.replace(tzinfo=UTC).timestamp()))
    if isinstance(v, dt.date):
        return f"'{v.isoformat()}'"
    if isinstance(v, uuid.UUID):
        return f"'{v}'"
    return str(v)


@pytest.fixture(scope="module")
def shapes(request, conn, local_lake, clickhouse):
    batches = _batches()
    base = urllib.parse.urlparse(local_lake.base_location)
    if base.scheme == "file":
        os.makedirs(base.path, exist_ok=True)
        os.chmod(base.path, 0o777)
    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{NAMESPACE}"')
    conn.execute("SET search_path = shapes, public")
    # heap oracle
    conn.execute(f"CREATE TABLE facts_heap ({DDL})")
    for rows in batches:
        _copy(conn, "facts_heap", rows)
    # written by townlake, from the same Python rows (three snapshots)
    conn.execute(f"CREATE FOREIGN TABLE ice_tl ({DDL}) SERVER lake_local OPTIONS "
                 f"(namespace '{NAMESPACE}', table 'ice_tl', partition_by 'truncate(2, t)')")
    for rows in batches:
        _copy(conn, "ice_tl", rows)
    # written by PyIceberg, imported
    fields = [NestedField(1, "id", LongType(), required=True)]
    fields += [NestedField(i + 2, c, ty, required=False) for i, (c, ty, _) in enumerate(COLUMNS)]
    spec = PartitionSpec(PartitionField(source_id=1, field_id=1000, transform=BucketTransform(2), name="idb"))
    table = local_lake.create_table(NAMESPACE, "ice_py", Schema(*fields), partition_spec=spec)
    arrow_schema = table.schema().as_arrow()
    for rows in batches:
        plain = [{k: (v.bytes if isinstance(v, uuid.UUID) else v) for k, v in row.items()} for row in rows]
        table.append(pa.Table.from_pylist(plain, schema=arrow_schema))
    conn.execute(f"IMPORT FOREIGN SCHEMA {NAMESPACE} LIMIT TO (ice_py) FROM SERVER {local_lake.server} "
                 f"INTO {NAMESPACE}")
    # evolved (written by townlake): a promoted int and decimal, a renamed
    # column, a dropped and re-added one, copy-on-write DELETE and UPDATE;
    # the heap copy goes through the same steps
    ev_ddl = DDL.replace('"t" text', '"label" text')
    conn.execute(f"CREATE TABLE ev_heap ({ev_ddl})")
    conn.execute(f"CREATE FOREIGN TABLE ice_ev ({ev_ddl}) SERVER lake_local OPTIONS "
                 f"(namespace '{NAMESPACE}', table 'ice_ev', partition_by 'g')")
    first = [dict(r, label=r["t"]) for r in batches[0]]
    ev_names = [("label" if n == "t" else n) for n in NAMES]
    for rel in ("ev_heap", "ice_ev"):
        with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.SQL(rel), sql.SQL(", ").join(map(sql.Identifier, ev_names)))) as copy:
            for row in first:
                copy.write_row([row[n] for n in ev_names])
        kw = "FOREIGN TABLE" if rel == "ice_ev" else "TABLE"
        conn.execute(f"ALTER {kw} {rel} RENAME COLUMN label TO t")
    for rel, kw in (("ev_heap", "TABLE"), ("ice_ev", "FOREIGN TABLE")):
        conn.execute(f"ALTER {kw} {rel} ALTER COLUMN i TYPE bigint")
        conn.execute(f"ALTER {kw} {rel} ALTER COLUMN n TYPE numeric(18,3)")
        conn.execute(f"ALTER {kw} {rel} DROP COLUMN big")
        conn.execute(f"ALTER {kw} {rel} ADD COLUMN big numeric(38,10)")
    for rows in batches[1:]:
        _copy(conn, "ev_heap", rows)
        _copy(conn, "ice_ev", rows)
    for rel in ("ev_heap", "ice_ev"):
        conn.execute(f"DELETE FROM {rel} WHERE id % 13 = 0 OR g = 5")
        conn.execute(f"UPDATE {rel} SET i = i + 1, t = t || '!' WHERE id % 17 = 0")
    # time travel: the townlake table pinned to its first snapshot
    first_snapshot = conn.execute("SELECT snapshot_id FROM lake.snapshots('ice_tl'::regclass) "
                                  "ORDER BY committed_at, snapshot_id LIMIT 1").fetchone()[0]
    conn.execute(f"CREATE FOREIGN TABLE ice_tt ({DDL}) SERVER lake_local OPTIONS "
                 f"(namespace '{NAMESPACE}', table 'ice_tl', snapshot_id '{first_snapshot}')")
    conn.execute(f"CREATE TABLE tt_heap ({DDL})")
    _copy(conn, "tt_heap", batches[0])
    # a dimension: heap, Iceberg and ClickHouse
    dim = [(g, f"name{g % 3}" if g != 4 else None, (g * 7) % 5 if g != 2 else None) for g in range(-1, 8)]
    conn.execute("CREATE TABLE dim_heap (g integer, name text, w integer)")
    conn.execute("CREATE FOREIGN TABLE dim_ice (g integer, name text, w integer) SERVER lake_local "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'dim_ice')")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO dim_heap VALUES (%s, %s, %s)", dim)
    conn.execute("INSERT INTO dim_ice SELECT * FROM (VALUES " +
                 ", ".join(f"({g}, {'NULL' if n is None else repr(n)}, {'NULL' if w is None else w})"
                           for g, n, w in dim) + ") v(g, name, w)")
    # ClickHouse
    ch = clickhouse
    ch.query(f"CREATE DATABASE {CHDB}")
    request.addfinalizer(lambda: ch.query(f"DROP DATABASE IF EXISTS {CHDB}"))
    ch.query(CH_DDL)
    ch.query(CH_DIM_DDL)
    ch_cols = ["id", "g", "i", "b", "n", "f", "t", "d", "ts", "flag", "u"]
    all_rows = [r for rows in batches for r in rows]
    values = []
    for r in all_rows:
        d = r["d"]
        if d is not None and not (dt.date(1970, 1, 2) <= d <= dt.date(2100, 1, 1)):
            d = None
        ts = r["ts"]
        if ts is not None and not (dt.datetime(1970, 1, 2) <= ts <= dt.datetime(2100, 1, 1)):
            ts = None
        if ts is not None:
            ts = ts.replace(microsecond=0)
        vals = dict(r, d=d, ts=ts)
        values.append("(" + ", ".join(_ch_literal(vals[c]) for c in ch_cols) + ")")
    ch.query(f"INSERT INTO {CHDB}.facts VALUES " + ", ".join(values))
    ch.query(f"INSERT INTO {CHDB}.dim VALUES " + ", ".join(
        f"({g}, {_ch_literal(n or '')}, {_ch_literal(w)})" for g, n, w in dim))
    conn.execute(sql.SQL("CREATE SERVER ch_shapes FOREIGN DATA WRAPPER clickhouse OPTIONS "
                         "(host {}, port {}, database {})").format(
        sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER ch_shapes OPTIONS (user {}, password {})").format(
        sql.Literal(ch.user), sql.Literal(ch.password)))
    conn.execute(f"CREATE FOREIGN TABLE ch_facts {CH_PG} SERVER ch_shapes OPTIONS (\"table\" 'facts')")
    conn.execute(f"CREATE FOREIGN TABLE ch_dim {CH_DIM_PG} SERVER ch_shapes OPTIONS (\"table\" 'dim')")
    conn.execute(f"CREATE TABLE ch_heap {CH_PG}")
    conn.execute(f"CREATE TABLE ch_dim_heap {CH_DIM_PG}")
    got = ch.rows(f"SELECT id, g, i, b, toString(n), f, t, toString(d), toUnixTimestamp(ts), flag, toString(u) "
                  f"FROM {CHDB}.facts")
    assert len(got) == len(all_rows)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO ch_heap VALUES (%s, %s, %s, %s, %s::numeric, %s::float8, %s, %s::date, "
                        "to_timestamp(%s::bigint) AT TIME ZONE 'UTC', %s, %s::uuid)", [tuple(r) for r in got])
        cur.executemany("INSERT INTO ch_dim_heap VALUES (%s, %s, %s)",
                        [tuple(r) for r in ch.rows(f"SELECT g, name, w FROM {CHDB}.dim")])
    # ClickHouse types beyond the plain ones: a zoned DateTime (read as
    # timestamp and as timestamptz), LowCardinality, Enum, FixedString,
    # UInt64, small integers, Float32, arrays (18.16 has no LowCardinality)
    ch.query(f"""CREATE TABLE {CHDB}.types (id UInt32, ts DateTime('Asia/Kolkata'), lc String,
        e Enum8('red' = 1, 'green' = 2, 'blue' = 3), fs FixedString(3), u64 UInt64, i8 Int8, u8 UInt8,
        dec Decimal(18, 4), f32 Float32, d Date, nd Nullable(Date), ni Nullable(Int64), arr Array(Int32))
        ENGINE = MergeTree() ORDER BY id""")
    ch.query(f"""INSERT INTO {CHDB}.types SELECT number, toDateTime(1500000000 + number * 7919 * 13, 'Asia/Kolkata'),
        ['x', 'y', 'zz', ''][number % 4 + 1], ['red', 'green', 'blue'][number % 3 + 1], ['ab', 'abc', 'b', ''][number % 4 + 1],
        if(number % 7 = 0, toUInt64(toUInt64(18446744073709551615) - number), toUInt64(number * 1000003)), toInt8(number % 256 - 128),
        toUInt8(number % 256), toDecimal64((toInt64(number) - 500) * 1234567, 4), toFloat32(number) / 8,
        toDate('2001-01-01') + number * 3, if(number % 5 = 0, NULL, toDate('1999-12-31') + number),
        if(number % 6 = 0, NULL, toInt64(number) * toInt64(9000000000000) - toInt64(4000000000000000)), [toInt32(number % 3), 7]
        FROM system.numbers LIMIT 900""")
    types_pg = ("(id bigint, ts timestamp, tsz timestamptz, lc text, e text, fs text, u64 numeric(20,0), i8 smallint, "
                "u8 smallint, dec numeric(18,4), f32 real, d date, nd date, ni bigint, arr integer[])")
    conn.execute(f"CREATE FOREIGN TABLE ch_types {types_pg} SERVER ch_shapes OPTIONS (\"table\" 'types')")
    conn.execute("ALTER FOREIGN TABLE ch_types ALTER COLUMN tsz OPTIONS (column_name 'ts')")
    conn.execute(f"CREATE TABLE ch_types_heap {types_pg}")
    got = ch.rows(f"SELECT id, toUnixTimestamp(ts), toUnixTimestamp(ts), lc, toString(e), fs, u64, i8, u8, toString(dec), "
                  f"f32, toString(d), toString(nd), ni, arrayStringConcat(arrayMap(x -> toString(x), arr), ',') FROM {CHDB}.types")
    assert len(got) == 900
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO ch_types_heap VALUES (%s, to_timestamp(%s::bigint) AT TIME ZONE 'UTC', "
                        "to_timestamp(%s::bigint), %s, %s, rtrim(%s, chr(1)), %s::numeric, %s, %s, %s::numeric, "
                        "%s::real, %s::date, %s::date, %s, string_to_array(%s, ',')::int[])",
                        [tuple(r[:5]) + (r[5].rstrip("\0"),) + tuple(r[6:]) for r in got])
    conn.execute("ANALYZE ch_types_heap; ANALYZE ch_types")
    # a case-insensitive (nondeterministic) ICU collation on the text column,
    # where this server is built with ICU (the shapes that need it skip otherwise)
    # (pg_collation lists ICU collations even in builds without ICU)
    try:
        conn.execute("CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
        ICU["available"] = True
    except psycopg.errors.FeatureNotSupported:
        ICU["available"] = False
    if ICU["available"]:
        ci_ddl = DDL.replace('"t" text', '"t" text COLLATE ci')
        conn.execute(f"CREATE TABLE facts_heap_ci ({ci_ddl})")
        conn.execute("INSERT INTO facts_heap_ci SELECT * FROM facts_heap")
        conn.execute(f"CREATE FOREIGN TABLE ice_ci ({ci_ddl}) SERVER lake_local OPTIONS "
                     f"(namespace '{NAMESPACE}', table 'ice_py')")
        ch_ci = CH_PG.replace("t text", "t text COLLATE ci")
        conn.execute(f"CREATE FOREIGN TABLE ch_ci {ch_ci} SERVER ch_shapes OPTIONS (\"table\" 'facts')")
        conn.execute(f"CREATE TABLE ch_heap_ci {ch_ci}")
        conn.execute("INSERT INTO ch_heap_ci SELECT * FROM ch_heap")
    conn.execute("ANALYZE facts_heap; ANALYZE ev_heap; ANALYZE tt_heap; ANALYZE dim_heap; ANALYZE ch_heap; ANALYZE ch_dim_heap; "
                 "ANALYZE ch_facts; ANALYZE ch_dim")
    conn.execute("RESET search_path")
    return conn


# Whether the server has ICU (set by the fixture): the nondeterministic
# collation's shapes need it.
ICU = {"available": None}

# Which foreign relations stand for each placeholder, and their heap copies.
TARGETS = {
    "tl": {"T": ("shapes.ice_tl", "shapes.facts_heap"), "D": ("shapes.dim_ice", "shapes.dim_heap"),
           "T2": ("shapes.ice_py", "shapes.facts_heap"), "CH": ("shapes.ch_facts", "shapes.ch_heap"),
           "CD": ("shapes.ch_dim", "shapes.ch_dim_heap")},
    "py": {"T": ("shapes.ice_py", "shapes.facts_heap"), "D": ("shapes.dim_heap", "shapes.dim_heap"),
           "T2": ("shapes.ice_tl", "shapes.facts_heap"), "CH": ("shapes.ch_facts", "shapes.ch_heap"),
           "CD": ("shapes.dim_ice", "shapes.dim_heap")},
    "ev": {"T": ("shapes.ice_ev", "shapes.ev_heap"), "D": ("shapes.dim_ice", "shapes.dim_heap"),
           "T2": ("shapes.ice_tl", "shapes.facts_heap"), "CH": ("shapes.ch_facts", "shapes.ch_heap"),
           "CD": ("shapes.ch_dim", "shapes.ch_dim_heap")},
    "tt": {"T": ("shapes.ice_tt", "shapes.tt_heap"), "D": ("shapes.dim_ice", "shapes.dim_heap"),
           "T2": ("shapes.ice_ev", "shapes.ev_heap"), "CH": ("shapes.ch_facts", "shapes.ch_heap"),
           "CD": ("shapes.ch_dim", "shapes.ch_dim_heap")},
    "ci": {"T": ("shapes.ice_ci", "shapes.facts_heap_ci"), "D": ("shapes.dim_ice", "shapes.dim_heap")},
    "chci": {"T": ("shapes.ch_ci", "shapes.ch_heap_ci"), "D": ("shapes.ch_dim", "shapes.ch_dim_heap")},
    "cht": {"T": ("shapes.ch_types", "shapes.ch_types_heap"), "D": ("shapes.ch_dim", "shapes.ch_dim_heap")},
    "ch": {"T": ("shapes.ch_facts", "shapes.ch_heap"), "D": ("shapes.ch_dim", "shapes.ch_dim_heap"),
           "T2": ("shapes.ch_facts", "shapes.ch_heap"), "CH": ("shapes.ch_facts", "shapes.ch_heap"),
           "CD": ("shapes.dim_ice", "shapes.dim_heap")},
}


def text_result(cur) -> list[tuple]:
    res = cur.pgresult
    if res is None or res.nfields == 0:
        return []
    return [tuple(None if res.get_value(r, c) is None else res.get_value(r, c).decode()
                  for c in range(res.nfields)) for r in range(res.ntuples)]


def run_script(conn, statements: list[str], side: int, target: dict, ordered: bool):
    """Runs each statement; returns each result (sorted unless `ordered`) or the error."""
    out = []
    try:
        for stmt in statements:
            text = stmt
            for key in sorted(target, key=len, reverse=True):
                text = text.replace("{" + key + "}", target[key][side])
            text = text.replace("{S}", "fh"[side])
            if side == 0 and text.lstrip().upper().startswith(("SELECT", "WITH", "(", "EXECUTE")):
                # EXPLAIN VERBOSE of the same statement stays sane (no panic), generic plans too
                conn.execute("EXPLAIN (VERBOSE) " + text).fetchall()
            cur = conn.execute(text)
            result = text_result(cur)
            out.append(result if ordered else sorted(result, key=repr))
    except psycopg.Error as exc:
        out.append(("ERROR", exc.sqlstate))
        if not conn.closed and not conn.broken:
            conn.execute("ROLLBACK")
    finally:
        if not conn.closed and not conn.broken:
            conn.execute("ROLLBACK")  # a script that left a transaction open (a warning only otherwise)
            conn.execute("CLOSE ALL; DEALLOCATE ALL; RESET ALL")
    return out


# (id, statements, targets, ordered): `ordered` compares rows in order (the
# query's ORDER BY must make it total).
S = []


# The evolved table and the pinned snapshot change what pruning, metadata
# answers and pushed aggregates see, not how Postgres runs the rest: they
# run the shapes with these prefixes (keeps the module near two minutes).
EVOLVED_PREFIXES = ("agg_", "count_", "minmax", "topn_", "prep_", "group_", "parallel_", "time_", "having",
                    "filter_", "numeric_", "date_", "ts_", "tz_", "in_list", "text_", "uuid_", "bool_")
SNAPSHOT_PREFIXES = ("agg_", "count_", "minmax", "topn_", "prep_agg", "parallel_agg", "group_date", "time_")


def shape(name, statements, targets=None, ordered=False):
    if isinstance(statements, str):
        statements = [statements]
    if targets is None:
        targets = ("tl", "py", "ch") + (("ev",) if name.startswith(EVOLVED_PREFIXES) else ()) \
            + (("tt",) if name.startswith(SNAPSHOT_PREFIXES) else ())
    S.append((name, statements, targets, ordered))


ICE = ("tl", "py", "ev", "tt")

# ---------------------------------------------------------------- prepared statements, generic plans
GENERIC = "SET plan_cache_mode = force_generic_plan"
shape("prep_eq", [GENERIC, "PREPARE p{S}(int) AS SELECT id, g, i FROM {T} WHERE g = $1",
                  "EXECUTE p{S}(3)", "EXECUTE p{S}(NULL)", "EXECUTE p{S}(0)"])
shape("prep_limit", [GENERIC, "PREPARE p{S}(int, bigint) AS SELECT id FROM {T} WHERE g = $1 ORDER BY id LIMIT $2",
                     "EXECUTE p{S}(2, 5)", "EXECUTE p{S}(2, 0)", "EXECUTE p{S}(2, NULL)"], ordered=True)
shape("prep_limit_offset", [GENERIC, "PREPARE p{S}(bigint, bigint) AS SELECT id, g FROM {T} ORDER BY id DESC "
                            "LIMIT $1 OFFSET $2", "EXECUTE p{S}(3, 10)", "EXECUTE p{S}(NULL, 1495)",
                            "EXECUTE p{S}(4, NULL)"], ordered=True)
shape("prep_limit_nosort", [GENERIC, "PREPARE p{S}(int, bigint) AS SELECT count(*) FROM "
                            "(SELECT id FROM {T} WHERE g = $1 LIMIT $2) s", "EXECUTE p{S}(1, 7)",
                            "EXECUTE p{S}(1, 100000)", "EXECUTE p{S}(1, 0)"])
shape("prep_in", [GENERIC, "PREPARE p{S}(int, int, int) AS SELECT id FROM {T} WHERE g IN ($1, $2, $3)",
                  "EXECUTE p{S}(1, 2, NULL)", "EXECUTE p{S}(NULL, NULL, NULL)"])
shape("prep_not_in", [GENERIC, "PREPARE p{S}(int, int) AS SELECT count(*) FROM {T} WHERE g NOT IN ($1, $2)",
                      "EXECUTE p{S}(1, 2)", "EXECUTE p{S}(1, NULL)"])
shape("prep_any_array", [GENERIC, "PREPARE p{S}(int[]) AS SELECT id FROM {T} WHERE g = ANY($1)",
                         "EXECUTE p{S}('{1,3}')", "EXECUTE p{S}('{}')", "EXECUTE p{S}('{NULL,2}')",
                         "EXECUTE p{S}(NULL)"])
shape("prep_all_array", [GENERIC, "PREPARE p{S}(int[]) AS SELECT count(*) FROM {T} WHERE g <> ALL($1)",
                         "EXECUTE p{S}('{1,3}')", "EXECUTE p{S}('{}')", "EXECUTE p{S}('{NULL,2}')"])
shape("prep_cast_numeric", [GENERIC, "PREPARE p{S}(numeric) AS SELECT id FROM {T} WHERE i > $1 AND i < $1 + 40",
                            "EXECUTE p{S}(2.5)", "EXECUTE p{S}(-10.0001)", "EXECUTE p{S}('NaN')"])
shape("prep_cast_bigint", [GENERIC, "PREPARE p{S}(bigint) AS SELECT id FROM {T} WHERE i = $1 OR g > $1",
                           "EXECUTE p{S}(2147483647)", "EXECUTE p{S}(9223372036854775807)", "EXECUTE p{S}(3)"])
shape("prep_text", [GENERIC, "PREPARE p{S}(text) AS SELECT id, t FROM {T} WHERE t = $1",
                    "EXECUTE p{S}('apple ')", "EXECUTE p{S}('apple')", "EXECUTE p{S}('')"])
shape("prep_text_range_c", [GENERIC, "PREPARE p{S}(text) AS SELECT count(*) FROM {T} WHERE t COLLATE \"C\" > $1",
                            "EXECUTE p{S}('apple')", "EXECUTE p{S}('Z')"])
shape("prep_varchar_param", [GENERIC, "PREPARE p{S}(varchar) AS SELECT id FROM {T} WHERE t = $1",
                             "EXECUTE p{S}('b')"])
shape("prep_like", [GENERIC, "PREPARE p{S}(text) AS SELECT id FROM {T} WHERE t LIKE $1",
                    "EXECUTE p{S}('app%')", "EXECUTE p{S}('%e')", "EXECUTE p{S}('a_ple%')"])
shape("prep_date", [GENERIC, "PREPARE p{S}(date) AS SELECT id FROM {T} WHERE d >= $1 AND d < $1 + 40",
                    "EXECUTE p{S}('2001-02-03')", "EXECUTE p{S}('infinity')", "EXECUTE p{S}('-infinity')"])
shape("prep_ts_text", [GENERIC, "PREPARE p{S}(text) AS SELECT count(*) FROM {T} WHERE ts < $1::timestamp",
                       "EXECUTE p{S}('2010-01-01')", "EXECUTE p{S}('infinity')"])
shape("prep_agg", [GENERIC, "PREPARE p{S}(int) AS SELECT g, count(*), sum(i), min(n), max(d) FROM {T} "
                   "WHERE g >= $1 GROUP BY g", "EXECUTE p{S}(2)", "EXECUTE p{S}(NULL)", "EXECUTE p{S}(100)"])
shape("prep_agg_infinity", [GENERIC, "PREPARE p{S}(date, timestamp, numeric) AS SELECT count(*), sum(i) "
                           "FROM {T} WHERE d < $1 AND ts > $2 AND n < $3",
                           "EXECUTE p{S}('infinity', '-infinity', 'NaN')", "EXECUTE p{S}('-infinity', '2001-01-01', 1)",
                           "EXECUTE p{S}('2030-01-01', 'infinity', 5)", "EXECUTE p{S}('infinity', '2001-01-01', 'Infinity')",
                           "EXECUTE p{S}('infinity', '2001-01-01', '-Infinity')"])
shape("prep_group_infinity", [GENERIC, "PREPARE p{S}(timestamp, numeric) AS SELECT g, count(*), max(n) FROM {T} "
                              "WHERE ts <> $1 AND n <> $2 GROUP BY g", "EXECUTE p{S}('infinity', 'NaN')",
                              "EXECUTE p{S}('-infinity', 'NaN')"])
shape("prep_in_infinity", [GENERIC, "PREPARE p{S}(date[]) AS SELECT count(*) FROM {T} WHERE d <> ALL($1)",
                           "EXECUTE p{S}('{infinity,2001-01-01}')", "EXECUTE p{S}('{-infinity}')"])
shape("prep_topn_infinity", [GENERIC, "PREPARE p{S}(timestamp) AS SELECT id, ts FROM {T} WHERE ts < $1 "
                             "ORDER BY ts DESC, id LIMIT 3", "EXECUTE p{S}('infinity')", "EXECUTE p{S}('-infinity')"],
      ordered=True)
shape("prep_agg_count_only", [GENERIC, "PREPARE p{S}(bigint) AS SELECT count(*), count(i), sum(b) FROM {T} "
                              "WHERE id < $1", "EXECUTE p{S}(100)", "EXECUTE p{S}(-1)"])
shape("prep_topn", [GENERIC, "PREPARE p{S}(int, int) AS SELECT id, i FROM {T} WHERE g = $1 "
                    "ORDER BY i DESC NULLS LAST, id LIMIT $2", "EXECUTE p{S}(1, 5)", "EXECUTE p{S}(NULL, 5)"],
      ordered=True)
shape("prep_uuid", [GENERIC, "PREPARE p{S}(uuid) AS SELECT count(*) FROM {T} WHERE u = $1",
                    "EXECUTE p{S}('00000000-0000-0000-0000-000000000001')"])
shape("prep_bool", [GENERIC, "PREPARE p{S}(boolean) AS SELECT count(*) FROM {T} WHERE flag = $1",
                    "EXECUTE p{S}(true)", "EXECUTE p{S}(NULL)"], targets=ICE)
shape("prep_custom_then_generic", ["PREPARE p{S}(int) AS SELECT count(*), sum(i) FROM {T} WHERE g = $1",
                                   "EXECUTE p{S}(1)", "EXECUTE p{S}(1)", "EXECUTE p{S}(1)", "EXECUTE p{S}(1)",
                                   "EXECUTE p{S}(1)", "EXECUTE p{S}(2)", "EXECUTE p{S}(NULL)"])

# ---------------------------------------------------------------- cursors
shape("cursor_scroll", ["BEGIN", "DECLARE c SCROLL CURSOR FOR SELECT id, t FROM {T} WHERE g = 2 ORDER BY id",
                        "FETCH 3 FROM c", "FETCH BACKWARD 2 FROM c", "FETCH ABSOLUTE 10 FROM c",
                        "FETCH RELATIVE -3 FROM c", "MOVE FORWARD 5 IN c", "FETCH NEXT FROM c",
                        "FETCH LAST FROM c", "FETCH PRIOR FROM c", "FETCH FIRST FROM c", "FETCH ABSOLUTE -1 FROM c",
                        "MOVE ABSOLUTE 0 IN c", "FETCH FORWARD ALL FROM c", "FETCH BACKWARD ALL FROM c",
                        "COMMIT"], ordered=True)
shape("cursor_scroll_agg", ["BEGIN", "DECLARE c SCROLL CURSOR FOR SELECT g, count(*), sum(i) FROM {T} "
                            "GROUP BY g ORDER BY g", "FETCH 2 FROM c", "FETCH BACKWARD 1 FROM c",
                            "FETCH LAST FROM c", "FETCH ABSOLUTE 1 FROM c", "COMMIT"], ordered=True)
shape("cursor_hold", ["BEGIN", "DECLARE c SCROLL CURSOR WITH HOLD FOR SELECT id, n FROM {T} WHERE i > 0 "
                      "ORDER BY id", "FETCH 4 FROM c", "COMMIT", "FETCH 4 FROM c", "FETCH BACKWARD 6 FROM c",
                      "FETCH ABSOLUTE 100 FROM c", "CLOSE c"], ordered=True)
shape("cursor_noscroll_limit", ["BEGIN", "DECLARE c CURSOR FOR SELECT id FROM {T} ORDER BY id LIMIT 7",
                                "FETCH 3 FROM c", "FETCH ALL FROM c", "COMMIT"], ordered=True)
shape("cursor_backward_topn", ["BEGIN", "DECLARE c SCROLL CURSOR FOR SELECT id, d FROM {T} "
                               "ORDER BY d DESC NULLS LAST, id LIMIT 20", "FETCH LAST FROM c",
                               "FETCH BACKWARD 5 FROM c", "FETCH ABSOLUTE 3 FROM c", "COMMIT"], ordered=True)
shape("cursor_param", ["BEGIN", "DECLARE c SCROLL CURSOR FOR SELECT id FROM {T} WHERE g = (SELECT max(g) FROM {D}) "
                       "ORDER BY id", "FETCH 2 FROM c", "FETCH BACKWARD 1 FROM c", "COMMIT"], ordered=True)

# ---------------------------------------------------------------- ordering, top-N
shape("topn_ties_key_only", "SELECT g FROM {T} ORDER BY g LIMIT 300", ordered=True)
shape("topn_desc_nulls_first", "SELECT id, i FROM {T} ORDER BY i DESC, id LIMIT 25", ordered=True)
shape("topn_nulls_last_desc", "SELECT id, i FROM {T} ORDER BY i DESC NULLS LAST, id LIMIT 25", ordered=True)
shape("topn_asc_nulls_first", "SELECT id, i FROM {T} ORDER BY i ASC NULLS FIRST, id LIMIT 150", ordered=True)
shape("topn_offset", "SELECT id, n FROM {T} ORDER BY n, id LIMIT 10 OFFSET 1480", ordered=True)
shape("topn_offset_past_end", "SELECT id, n FROM {T} ORDER BY n, id LIMIT 10 OFFSET 5000", ordered=True)
shape("topn_text_default", "SELECT t, id FROM {T} ORDER BY t, id LIMIT 60", ordered=True)
shape("topn_text_c", "SELECT t, id FROM {T} ORDER BY t COLLATE \"C\", id LIMIT 60", ordered=True)
shape("topn_text_c_desc", "SELECT t, id FROM {T} ORDER BY t COLLATE \"C\" DESC, id DESC LIMIT 60", ordered=True)
shape("topn_text_c_nulls_first", "SELECT t, id FROM {T} ORDER BY t COLLATE \"C\" NULLS FIRST, id LIMIT 200",
      ordered=True)
shape("topn_float", "SELECT f, id FROM {T} ORDER BY f DESC, id LIMIT 30", ordered=True)
shape("topn_float_asc", "SELECT f, id FROM {T} ORDER BY f, id LIMIT 30", ordered=True)
shape("topn_expr", "SELECT id, i FROM {T} ORDER BY abs(i), id LIMIT 20", ordered=True)
shape("topn_expr_mod", "SELECT id FROM {T} ORDER BY id % 7, id DESC LIMIT 20", ordered=True)
shape("topn_date", "SELECT d, id FROM {T} ORDER BY d, id LIMIT 20", ordered=True)
shape("topn_date_desc", "SELECT d, id FROM {T} ORDER BY d DESC NULLS LAST, id LIMIT 20", ordered=True)
shape("topn_ts", "SELECT ts, id FROM {T} ORDER BY ts DESC, id LIMIT 20", ordered=True)
shape("topn_tz", "SELECT tz, id FROM {T} ORDER BY tz, id LIMIT 20", ordered=True, targets=ICE)
shape("topn_bool", "SELECT flag, id FROM {T} ORDER BY flag DESC, id LIMIT 20", ordered=True, targets=ICE)
shape("topn_uuid", "SELECT u, id FROM {T} ORDER BY u, id LIMIT 20", ordered=True)
shape("topn_bytea", "SELECT by, id FROM {T} ORDER BY by DESC, id LIMIT 20", ordered=True, targets=ICE)
shape("topn_big", "SELECT big, id FROM {T} ORDER BY big DESC NULLS LAST, id LIMIT 20", ordered=True, targets=ICE)
shape("topn_with_ties", "SELECT g, id FROM {T} ORDER BY g FETCH FIRST 3 ROWS WITH TIES")
shape("topn_with_ties_cnt", "SELECT count(*) FROM (SELECT g FROM {T} ORDER BY g DESC FETCH FIRST 3 ROWS WITH TIES) s")
shape("topn_where", "SELECT id, i FROM {T} WHERE g = 3 AND i > 0 ORDER BY i, id LIMIT 15", ordered=True)
shape("topn_where_float", "SELECT id, i FROM {T} WHERE f > 0 ORDER BY i, id LIMIT 15", ordered=True)
shape("topn_where_text", "SELECT id FROM {T} WHERE t > 'b' ORDER BY id LIMIT 15", ordered=True)
shape("topn_where_like", "SELECT id FROM {T} WHERE t LIKE '%e%' ORDER BY id LIMIT 15", ordered=True)
shape("topn_agg_order", "SELECT g, count(*) AS c FROM {T} GROUP BY g ORDER BY c DESC, g LIMIT 3", ordered=True)
shape("topn_agg_order_sum", "SELECT g, sum(n) AS s FROM {T} GROUP BY g ORDER BY s NULLS FIRST LIMIT 4",
      ordered=True)
shape("distinct_on", "SELECT DISTINCT ON (g) g, id, i FROM {T} ORDER BY g, i DESC NULLS LAST, id", ordered=True)
shape("distinct_on_limit", "SELECT DISTINCT ON (g) g, id FROM {T} ORDER BY g, id LIMIT 3", ordered=True)
shape("distinct_text", "SELECT DISTINCT t FROM {T}")
shape("distinct_text_c_order", "SELECT DISTINCT t COLLATE \"C\" AS t FROM {T} ORDER BY 1 LIMIT 10", ordered=True)
shape("distinct_limit_count", "SELECT count(*) FROM (SELECT DISTINCT g, flag FROM {T} LIMIT 100) s")
shape("limit_no_order_count", "SELECT count(*) FROM (SELECT * FROM {T} LIMIT 10) s")
shape("limit_zero", "SELECT id FROM {T} LIMIT 0")
shape("limit_null", "SELECT count(*) FROM (SELECT id FROM {T} LIMIT NULL) s")
shape("offset_only", "SELECT id FROM {T} ORDER BY id OFFSET 1490", ordered=True)
shape("limit_subquery", "SELECT id FROM {T} ORDER BY id LIMIT (SELECT 3)", ordered=True)
shape("limit_expression", "SELECT id FROM {T} ORDER BY id DESC LIMIT 2 + 1 OFFSET 2 * 2", ordered=True)

# ---------------------------------------------------------------- grouping
shape("grouping_sets", "SELECT g, flag, count(*), sum(i) FROM {T} GROUP BY GROUPING SETS ((g), (flag), ())")
shape("rollup", "SELECT g, d_y, count(*), max(n) FROM (SELECT g, extract(year FROM d) d_y, n FROM {T}) s "
      "GROUP BY ROLLUP (g, d_y)")
shape("rollup_direct", "SELECT g, extract(year FROM d), count(*), min(id) FROM {T} GROUP BY ROLLUP (g, 2)")
shape("cube", "SELECT g, flag, count(i), avg(i) FROM {T} GROUP BY CUBE (g, flag)", targets=ICE)
shape("grouping_fn", "SELECT g, grouping(g), count(*) FROM {T} GROUP BY ROLLUP (g)")
shape("group_date_trunc", "SELECT date_trunc('month', ts), count(*), sum(i) FROM {T} GROUP BY 1")
shape("group_date_trunc_year_d", "SELECT date_trunc('year', d), count(*) FROM {T} GROUP BY 1")
shape("group_extract", "SELECT extract(dow FROM d), extract(month FROM d), count(*) FROM {T} GROUP BY 1, 2")
shape("group_extract_epoch", "SELECT extract(epoch FROM date_trunc('year', ts)), count(*) FROM {T} GROUP BY 1")
shape("group_extract_ts_hour", "SELECT extract(hour FROM ts), count(*), min(id) FROM {T} GROUP BY 1")
shape("group_extract_year_bc", "SELECT extract(year FROM d), extract(quarter FROM d), count(*) FROM {T} GROUP BY 1, 2")
shape("group_cast_text", "SELECT g::text, count(*) FROM {T} GROUP BY 1")
shape("group_cast_int", "SELECT (n / 1000)::int, count(*) FROM {T} GROUP BY 1")
shape("group_expr_mod", "SELECT id % 5, count(*), sum(b) FROM {T} GROUP BY id % 5")
shape("group_lower", "SELECT lower(t), count(*) FROM {T} GROUP BY 1")
shape("group_text", "SELECT t, count(*), min(id) FROM {T} GROUP BY t")
shape("group_text_c", "SELECT t COLLATE \"C\", count(*) FROM {T} GROUP BY 1")
# f + 0: -0 and 0 are one group, shown as whichever row came first; -0 + 0 is 0
shape("group_float", "SELECT f + 0, count(*) FROM {T} GROUP BY f HAVING count(*) > 1")
shape("group_bool", "SELECT flag, count(*), bool_and(i > 0), bool_or(i > 0) FROM {T} GROUP BY flag")
shape("group_uuid", "SELECT u, count(*) FROM {T} GROUP BY u HAVING count(*) > 1")
shape("group_bytea", "SELECT by, count(*) FROM {T} GROUP BY by HAVING count(*) > 3", targets=ICE)
shape("group_tz", "SELECT date_trunc('day', tz), count(*) FROM {T} GROUP BY 1 HAVING count(*) > 1", targets=ICE)
shape("having", "SELECT g, count(*) FROM {T} GROUP BY g HAVING sum(i) > 0")
shape("having_avg", "SELECT g, avg(n) FROM {T} GROUP BY g HAVING avg(n) > 0 OR g IS NULL")
shape("having_no_group", "SELECT count(*) FROM {T} HAVING count(*) > 5")
shape("having_no_group_false", "SELECT count(*) FROM {T} HAVING count(*) > 5000000")
shape("having_count_distinct", "SELECT g, count(DISTINCT t) FROM {T} GROUP BY g HAVING count(DISTINCT t) > 3")
shape("filter_agg", "SELECT g, count(*) FILTER (WHERE i > 0), sum(n) FILTER (WHERE flag), "
      "max(d) FILTER (WHERE t LIKE 'a%') FROM {T} GROUP BY g", targets=ICE)
shape("filter_agg_ch", "SELECT g, count(*) FILTER (WHERE i > 0), sum(n) FILTER (WHERE flag = 1), "
      "max(d) FILTER (WHERE t LIKE 'a%') FROM {T} GROUP BY g", targets=("ch",))
shape("filter_agg_nogroup", "SELECT count(*) FILTER (WHERE g IS NULL), count(i) FILTER (WHERE g = 1) FROM {T}")
shape("percentile", "SELECT g, percentile_disc(0.5) WITHIN GROUP (ORDER BY i), "
      "percentile_cont(0.25) WITHIN GROUP (ORDER BY n) FROM {T} GROUP BY g")
shape("mode", "SELECT mode() WITHIN GROUP (ORDER BY g) FROM {T}")
shape("string_agg_order", "SELECT g, string_agg(t, ',' ORDER BY id) FROM {T} GROUP BY g")
shape("array_agg_order", "SELECT g, array_agg(i ORDER BY i DESC NULLS LAST, id) FROM {T} GROUP BY g")
shape("array_agg_distinct", "SELECT array_agg(DISTINCT g ORDER BY g) FROM {T}")
shape("count_distinct_multi", "SELECT count(DISTINCT (g, flag)), count(DISTINCT g), count(DISTINCT t) FROM {T}")
shape("count_distinct_rowexpr", "SELECT count(*) FROM (SELECT DISTINCT g, t FROM {T}) s")
shape("count_distinct_group", "SELECT g, count(DISTINCT i), count(DISTINCT d) FROM {T} GROUP BY g")
shape("count_distinct_text_c", "SELECT count(DISTINCT t COLLATE \"C\") FROM {T}")
shape("count_distinct_float", "SELECT count(DISTINCT f) FROM {T}")
shape("agg_empty", "SELECT count(*), count(i), sum(i), sum(b), sum(n), avg(n), min(t), max(d), bool_and(i > 0), "
      "min(f), max(f) FROM {T} WHERE id < 0")
shape("agg_empty_group", "SELECT g, count(*), sum(i) FROM {T} WHERE id < 0 GROUP BY g")
shape("agg_all_null", "SELECT count(i), sum(i), avg(i), min(i), max(n), count(DISTINCT i) FROM {T} WHERE i IS NULL")
shape("agg_sum_overflow", "SELECT sum(b), avg(b), sum(i), sum(i::bigint * 4) FROM {T}")
shape("agg_sum_int_overflow_err", "SELECT sum(i * 2) FROM {T}")
shape("agg_sum_big", "SELECT sum(big), avg(big), min(big), max(big) FROM {T}", targets=ICE)
shape("agg_minmax_text", "SELECT min(t), max(t), min(t COLLATE \"C\"), max(t COLLATE \"C\") FROM {T}")
shape("agg_minmax_float", "SELECT min(f), max(f), count(f) FROM {T}")
shape("agg_minmax_all", "SELECT min(id), max(id), min(d), max(d), min(ts), max(ts), min(n), max(n), min(b), "
      "max(b) FROM {T}")
shape("agg_minmax_tz", "SELECT min(tz), max(tz) FROM {T}", targets=ICE)
shape("agg_expr_around", "SELECT sum(i) / count(*), max(n) - min(n), count(*) + 1 FROM {T}")
shape("agg_distinct_sum", "SELECT sum(DISTINCT g), avg(DISTINCT g), count(DISTINCT g) FROM {T}")
shape("agg_float_stats", "SELECT round(avg(f) FILTER (WHERE f BETWEEN -1000 AND 1000)::numeric, 6) FROM {T}")
shape("agg_stddev", "SELECT g, round(stddev(i)::numeric, 6), round(variance(n), 6) FROM {T} GROUP BY g")
shape("agg_bit", "SELECT bit_and(g), bit_or(g), bool_and(flag), every(flag) FROM {T}", targets=ICE)
shape("agg_group_by_all_null", "SELECT i, count(*) FROM {T} WHERE i IS NULL GROUP BY i")
shape("agg_count_where_nonpushed", "SELECT count(*), sum(i) FROM {T} WHERE f > 0")
shape("agg_count_where_or", "SELECT count(*), sum(i) FROM {T} WHERE g = 1 OR t LIKE '%a'")
shape("agg_count_where_expr", "SELECT count(*), max(id) FROM {T} WHERE i + 1 > 0")
shape("agg_count_where_c_range", "SELECT count(*), max(id) FROM {T} WHERE t COLLATE \"C\" > 'b'")
shape("agg_count_where_default_range", "SELECT count(*), max(id) FROM {T} WHERE t > 'b'")
shape("agg_count_where_in_null", "SELECT count(*) FROM {T} WHERE g NOT IN (1, NULL)")
shape("agg_count_where_date", "SELECT count(*), sum(n) FROM {T} WHERE d > '2020-01-01' AND d < 'infinity'")
shape("agg_count_where_ts_tz", "SELECT count(*) FROM {T} WHERE ts > '2001-01-01 00:00:00+05'::timestamptz")

# ---------------------------------------------------------------- joins
shape("join_ice_heap", "SELECT a.id, d.name FROM {T} a JOIN shapes.dim_heap d ON a.g = d.g WHERE a.i > 0")
shape("join_ice_ice", "SELECT a.id, b.id FROM {T} a JOIN {T2} b ON a.id = b.id + 1 WHERE a.g = 1")
shape("join_dim", "SELECT a.id, d.name, d.w FROM {T} a JOIN {D} d ON a.g = d.g")
shape("left_join_dim", "SELECT a.id, d.name FROM {T} a LEFT JOIN {D} d ON a.g = d.g AND d.w > 1")
shape("right_join_dim", "SELECT a.id, d.g FROM {T} a RIGHT JOIN {D} d ON a.g = d.g WHERE d.g > 3 OR a.id IS NULL")
shape("full_join_dim", "SELECT a.g, d.g, count(*) FROM {T} a FULL JOIN {D} d ON a.g = d.g GROUP BY 1, 2")
shape("join_ch", "SELECT a.id, c.i FROM {T} a JOIN {CH} c ON a.id = c.id WHERE c.g = 2")
shape("join_ch_dim", "SELECT a.g, count(*), sum(c.w) FROM {T} a JOIN {CD} c ON a.g = c.g GROUP BY a.g")
shape("self_join", "SELECT a.id, b.id FROM {T} a JOIN {T} b ON a.i = b.i AND a.id < b.id")
shape("self_join_text", "SELECT count(*) FROM {T} a JOIN {T} b ON a.t = b.t WHERE a.g = 1 AND b.g = 2")
shape("non_equi_join", "SELECT a.id, d.g FROM {T} a JOIN {D} d ON a.g < d.g AND a.i BETWEEN d.w AND d.w + 10")
shape("exists", "SELECT id FROM {T} a WHERE EXISTS (SELECT 1 FROM {D} d WHERE d.g = a.g AND d.w > 1)")
shape("not_exists", "SELECT id FROM {T} a WHERE NOT EXISTS (SELECT 1 FROM {D} d WHERE d.g = a.g AND d.name IS NOT NULL)")
shape("in_subquery", "SELECT id FROM {T} WHERE g IN (SELECT w FROM {D})")
shape("not_in_subquery_nulls", "SELECT count(*) FROM {T} WHERE g NOT IN (SELECT w FROM {D})")
shape("not_in_subquery", "SELECT count(*) FROM {T} WHERE g NOT IN (SELECT w FROM {D} WHERE w IS NOT NULL)")
shape("anti_left_join", "SELECT a.id FROM {T} a LEFT JOIN {D} d ON a.g = d.g WHERE d.g IS NULL")
shape("lateral", "SELECT d.g, l.id, l.i FROM {D} d, LATERAL (SELECT id, i FROM {T} a WHERE a.g = d.g "
      "ORDER BY i DESC NULLS LAST, id LIMIT 2) l")
shape("lateral_agg", "SELECT d.g, l.* FROM {D} d LEFT JOIN LATERAL (SELECT count(*), sum(i) FROM {T} a "
      "WHERE a.g = d.g) l ON true")
shape("values_join", "SELECT v.k, a.id FROM (VALUES (1, 'x'), (3, 'y'), (NULL, 'z')) v(k, s) JOIN {T} a ON a.g = v.k "
      "WHERE a.id < 200")
shape("join_using_text", "SELECT count(*), count(DISTINCT a.id) FROM {T} a JOIN {T2} b USING (t) WHERE a.id < 50")
shape("join_ch_ch", "SELECT a.id, b.id FROM {CH} a JOIN {CH} b ON a.i = b.i AND a.id <> b.id")
shape("join_agg_over", "SELECT d.name, count(*), sum(a.n), min(a.t) FROM {T} a JOIN {D} d ON a.g = d.g GROUP BY d.name")
shape("join_topn_over", "SELECT a.id, d.name FROM {T} a JOIN {D} d ON a.g = d.g ORDER BY a.id DESC LIMIT 7",
      ordered=True)
shape("join_having", "SELECT d.name, a.g, count(*), count(DISTINCT a.i), sum(a.b) FROM {T} a JOIN {D} d "
      "ON a.g = d.g GROUP BY d.name, a.g HAVING count(*) > 10")
shape("left_join_agg", "SELECT a.g, count(d.name), sum(d.w), max(d.w), min(d.name) FROM {T} a LEFT JOIN {D} d "
      "ON a.g = d.w GROUP BY a.g")
shape("right_join_agg", "SELECT d.g, count(a.id), sum(a.i), avg(a.i) FROM {T} a RIGHT JOIN {D} d ON a.g = d.g "
      "GROUP BY d.g")
shape("full_join_coalesce", "SELECT coalesce(a.g, d.g), count(*) FROM {T} a FULL JOIN {D} d ON a.g = d.w "
      "WHERE a.id IS NULL OR a.id < 100 GROUP BY 1")
shape("join_topn_key", "SELECT d.name, a.id FROM {T} a JOIN {D} d ON a.g = d.g ORDER BY d.name NULLS FIRST, a.id "
      "LIMIT 9", ordered=True)
shape("join_limit_count", "SELECT count(*) FROM (SELECT a.id FROM {T} a JOIN {D} d ON a.g = d.g LIMIT 11) s")
shape("join_where_both", "SELECT a.id, d.w FROM {T} a JOIN {D} d ON a.g = d.g WHERE a.i > 0 AND d.w < 3")
shape("left_join_where_inner", "SELECT a.id, d.w FROM {T} a LEFT JOIN {D} d ON a.g = d.g WHERE d.w IS NULL OR d.w > 2")
shape("semi_in_count", "SELECT count(*), sum(i) FROM {T} WHERE g IN (SELECT g FROM {D} WHERE w > 0)")
shape("anti_not_exists_count", "SELECT count(*), min(id) FROM {T} a WHERE NOT EXISTS (SELECT 1 FROM {D} d "
      "WHERE d.w = a.g)")
shape("join_two_keys", "SELECT count(*) FROM {T} a JOIN {T2} b ON a.id = b.id AND a.g = b.g")
shape("join_self_agg", "SELECT a.g, count(*) FROM {T} a JOIN {T2} b ON a.id = b.id WHERE a.i > 0 GROUP BY a.g")
shape("prep_join", [GENERIC, "PREPARE p{S}(int, int) AS SELECT a.id, d.name FROM {T} a JOIN {D} d ON a.g = d.g "
                    "WHERE d.w >= $1 AND a.i > $2", "EXECUTE p{S}(1, 0)", "EXECUTE p{S}(NULL, 0)"])
shape("prep_join_agg", [GENERIC, "PREPARE p{S}(int) AS SELECT d.name, count(*) FROM {T} a JOIN {D} d ON a.g = d.g "
                        "WHERE a.g <> $1 GROUP BY d.name", "EXECUTE p{S}(1)", "EXECUTE p{S}(NULL)"])
shape("join_three", "SELECT count(*), sum(c.i) FROM {T} a JOIN {D} d ON a.g = d.g JOIN {CH} c ON c.id = a.id")

# ---------------------------------------------------------------- subqueries, CTEs, set operations
shape("scalar_subq_initplan", "SELECT id FROM {T} WHERE i > (SELECT avg(i) FROM {T}) AND g = 1")
shape("scalar_subq_initplan_eq", "SELECT id FROM {T} WHERE g = (SELECT max(g) FROM {D} WHERE w IS NOT NULL)")
shape("scalar_subq_null", "SELECT count(*) FROM {T} WHERE g = (SELECT g FROM {D} WHERE g = 100)")
shape("scalar_subq_agg", "SELECT count(*), sum(i) FROM {T} WHERE g = (SELECT min(g) + 1 FROM {D})")
shape("scalar_subq_limit", "SELECT id FROM {T} ORDER BY id LIMIT (SELECT count(*) FROM {D})", ordered=True)
shape("scalar_subq_text", "SELECT count(*) FROM {T} WHERE t = (SELECT 'apple'::text)")
shape("scalar_subq_date", "SELECT count(*) FROM {T} WHERE d < (SELECT max(d) - 3000 FROM {T})")
shape("correlated", "SELECT d.g, (SELECT count(*) FROM {T} a WHERE a.g = d.g) FROM {D} d")
shape("correlated_max", "SELECT d.g, (SELECT max(a.n) FROM {T} a WHERE a.g = d.g AND a.i > d.w) FROM {D} d")
shape("correlated_where", "SELECT id FROM {T} a WHERE a.i > (SELECT avg(b.i) FROM {T2} b WHERE b.g = a.g) "
      "AND a.id < 40")
shape("any_array", "SELECT id FROM {T} WHERE g = ANY('{1,2,NULL}'::int[])")
shape("all_array", "SELECT count(*) FROM {T} WHERE g <> ALL('{1,2}'::int[])")
shape("all_array_null", "SELECT count(*) FROM {T} WHERE g <> ALL('{1,NULL}'::int[])")
shape("any_array_text", "SELECT id FROM {T} WHERE t = ANY(ARRAY['apple', 'apple ', 'b'])")
shape("any_lt", "SELECT count(*) FROM {T} WHERE i < ANY('{-5,5}'::int[])")
shape("cte_mat", "WITH x AS MATERIALIZED (SELECT * FROM {T} WHERE g = 1) SELECT count(*), sum(i) FROM x WHERE i > 0")
shape("cte_not_mat", "WITH x AS NOT MATERIALIZED (SELECT * FROM {T} WHERE g = 1) SELECT id FROM x WHERE i > 0")
shape("cte_twice", "WITH x AS (SELECT g, count(*) c FROM {T} GROUP BY g) SELECT a.g, a.c, b.c FROM x a JOIN x b "
      "ON a.g = b.g")
shape("union", "SELECT g FROM {T} WHERE i > 0 UNION SELECT g FROM {T2} WHERE i < 0")
shape("union_all", "SELECT id, t FROM {T} WHERE g = 1 UNION ALL SELECT id, t FROM {T2} WHERE g = 2")
shape("intersect", "SELECT t FROM {T} WHERE g = 1 INTERSECT SELECT t FROM {T2} WHERE g = 2")
shape("except", "SELECT t FROM {T} EXCEPT SELECT t FROM {T2} WHERE g = 2")
shape("except_all", "SELECT g FROM {T} EXCEPT ALL SELECT g FROM {T2} WHERE i > 0")
shape("union_order_limit", "(SELECT id FROM {T} ORDER BY id LIMIT 3) UNION ALL (SELECT id FROM {T2} ORDER BY id DESC "
      "LIMIT 3) ORDER BY 1", ordered=True)
shape("window_rownum", "SELECT id, row_number() OVER (PARTITION BY g ORDER BY id) FROM {T}")
shape("window_rank", "SELECT id, rank() OVER (PARTITION BY g ORDER BY i NULLS FIRST), "
      "dense_rank() OVER (ORDER BY g) FROM {T}")
shape("window_sum", "SELECT id, sum(i) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) "
      "FROM {T}")
shape("window_lag", "SELECT id, lag(t) OVER (ORDER BY id), lead(n, 2) OVER (ORDER BY id) FROM {T}")
shape("window_count_all", "SELECT g, count(*) OVER (), count(*) OVER (PARTITION BY g) FROM {T} WHERE id < 100")
shape("window_topn", "SELECT * FROM (SELECT id, g, row_number() OVER (PARTITION BY g ORDER BY id DESC) rn "
      "FROM {T}) s WHERE rn <= 2")
shape("window_over_agg", "SELECT g, count(*), sum(count(*)) OVER (ORDER BY g NULLS FIRST) FROM {T} GROUP BY g")

# ---------------------------------------------------------------- types at the edges
shape("float_nan_eq", "SELECT id, f FROM {T} WHERE f = 'NaN'")
shape("float_neg_zero", "SELECT id, f FROM {T} WHERE f = 0")
shape("float_neg_zero_text", "SELECT id, f::text FROM {T} WHERE f = 0 AND f::text = '-0'")
shape("float_inf", "SELECT id, f FROM {T} WHERE f > 1e300 OR f < -1e300")
shape("float_gt_nan", "SELECT count(*) FROM {T} WHERE f < 'NaN'")
shape("numeric_scale", "SELECT n * 1.5, n / 7, round(n, 1) FROM {T} WHERE id < 50")
shape("numeric_big_eq", "SELECT id FROM {T} WHERE big > 123456789012345678.5 AND big < 9e26", targets=ICE)
shape("numeric_big_neg", "SELECT count(*) FROM {T} WHERE big < -0.0000000001", targets=ICE)
shape("numeric_eq_scale", "SELECT count(*) FROM {T} WHERE n = 1.0000 OR n = -12.3450")
shape("numeric_more_digits", "SELECT count(*) FROM {T} WHERE n > 12.3456 AND n < 99999999.9999")
shape("numeric_nan", "SELECT count(*) FROM {T} WHERE n < 'NaN'")
shape("text_trailing", "SELECT id, t FROM {T} WHERE t = 'apple '")
shape("text_trailing_bpchar", "SELECT count(*) FROM {T} WHERE t::char(10) = 'apple'")
shape("text_emoji", "SELECT id, t FROM {T} WHERE t LIKE '🍒%'")
shape("text_emoji_range_c", "SELECT count(*) FROM {T} WHERE t COLLATE \"C\" > 'zebra'")
shape("text_length", "SELECT t, length(t), octet_length(t) FROM {T} WHERE t LIKE '%ß%'")
shape("text_ilike", "SELECT count(*) FROM {T} WHERE t ILIKE 'APP%'")
shape("text_ilike_c", "SELECT count(*) FROM {T} WHERE t COLLATE \"C\" ILIKE 'ápp%'")
shape("text_lower_c", "SELECT count(*) FROM {T} WHERE lower(t COLLATE \"C\") = 'apple'")
shape("text_similar", "SELECT count(*) FROM {T} WHERE t SIMILAR TO '(a|b)%'")
shape("text_regex", "SELECT count(*) FROM {T} WHERE t ~ '^[A-Z]'")
shape("text_empty", "SELECT count(*) FROM {T} WHERE t = ''")
shape("text_like_escape", "SELECT count(*) FROM {T} WHERE t LIKE 'o''%'")
shape("text_like_underscore", "SELECT count(*) FROM {T} WHERE t LIKE 'b_n%'")
shape("text_in", "SELECT count(*) FROM {T} WHERE t IN ('apple', 'Apple', 'z', NULL)")
shape("text_not_in", "SELECT count(*) FROM {T} WHERE t NOT IN ('apple', 'Apple')")
shape("bytea_eq", "SELECT count(*) FROM {T} WHERE by = '\\x'::bytea", targets=ICE)
shape("bytea_range", "SELECT count(*) FROM {T} WHERE by > '\\x80'::bytea", targets=ICE)
shape("uuid_eq", "SELECT count(*) FROM {T} WHERE u = '00000000-0000-0000-0000-000000000002'")
shape("uuid_range", "SELECT count(*) FROM {T} WHERE u > '80000000-0000-0000-0000-000000000000'")
shape("uuid_in", "SELECT count(*) FROM {T} WHERE u IN ('00000000-0000-0000-0000-000000000001', "
      "'00000000-0000-0000-0000-000000000003')")
shape("bool_eq", "SELECT count(*) FROM {T} WHERE flag", targets=ICE)
shape("bool_is_not_true", "SELECT count(*) FROM {T} WHERE flag IS NOT TRUE", targets=ICE)
shape("bool_ne", "SELECT count(*) FROM {T} WHERE flag <> true", targets=ICE)
shape("bool_ch", "SELECT count(*) FROM {T} WHERE flag = 1", targets=("ch",))
shape("date_infinity", "SELECT count(*) FROM {T} WHERE d < 'infinity' AND d > '-infinity'")
shape("date_extremes", "SELECT id, d FROM {T} WHERE d < '1900-01-01' OR d > '9000-01-01'")
shape("date_minus", "SELECT count(*) FROM {T} WHERE d - 1 < '1970-01-01'")
shape("date_ts_cmp", "SELECT count(*) FROM {T} WHERE d < '2001-01-01 12:00'::timestamp")
shape("date_tz_cmp", "SELECT count(*) FROM {T} WHERE d < '2001-01-01 12:00+03'::timestamptz")
shape("ts_infinity", "SELECT count(*) FROM {T} WHERE ts < 'infinity'::timestamp AND ts > '-infinity'")
shape("ts_micro", "SELECT count(*) FROM {T} WHERE ts > '2010-05-05 10:00:00.5'")
shape("ts_date_trunc_where", "SELECT count(*) FROM {T} WHERE date_trunc('month', ts) = '2005-03-01'")
shape("ts_extract_where", "SELECT count(*) FROM {T} WHERE extract(year FROM d) = 2005")
shape("ts_age", "SELECT count(*) FROM {T} WHERE ts > now() - interval '20 years'")
shape("interval_arith", "SELECT count(*) FROM {T} WHERE ts + interval '1 day 3 hours' < '2003-01-01'")
shape("tz_kathmandu", ["SET TimeZone = 'Asia/Kathmandu'", "SELECT count(*) FROM {T} WHERE tz > '2005-01-01'",
                       "SELECT date_trunc('day', tz)::text, count(*) FROM {T} WHERE tz < '1999-01-01' GROUP BY 1",
                       "SELECT id, tz::text FROM {T} ORDER BY tz, id LIMIT 5",
                       "SELECT extract(hour FROM tz), count(*) FROM {T} GROUP BY 1",
                       "SELECT count(*) FROM {T} WHERE tz::date = '2001-06-01'",
                       "SELECT count(*) FROM {T} WHERE ts > '2005-01-01'::timestamptz"], targets=ICE)
shape("tz_chatham_ch", ["SET TimeZone = 'Pacific/Chatham'", "SELECT count(*) FROM {T} WHERE ts > '2005-01-01'",
                        "SELECT count(*) FROM {T} WHERE ts::timestamptz > '2005-01-01'",
                        "SELECT date_trunc('day', ts), count(*) FROM {T} GROUP BY 1 HAVING count(*) > 1",
                        "SELECT count(*) FROM {T} WHERE d::timestamptz < '2001-01-01'"], targets=("ch",))
shape("tz_posix", ["SET TimeZone = '<+0130>-01:30'", "SELECT count(*), min(tz) FROM {T} WHERE tz > '2005-06-01 00:00'",
                   "SELECT date_trunc('month', tz)::text, count(*) FROM {T} GROUP BY 1"], targets=ICE)
shape("jsonish_cast", "SELECT count(*) FROM {T} WHERE i::text LIKE '1%'")
shape("coalesce_where", "SELECT count(*) FROM {T} WHERE coalesce(g, -1) = -1")
shape("case_where", "SELECT count(*) FROM {T} WHERE CASE WHEN g > 2 THEN i > 0 ELSE i < 0 END")
shape("is_distinct", "SELECT count(*) FROM {T} WHERE g IS DISTINCT FROM 2")
shape("is_not_distinct", "SELECT count(*) FROM {T} WHERE g IS NOT DISTINCT FROM NULL")
shape("between_symmetric", "SELECT count(*) FROM {T} WHERE i BETWEEN SYMMETRIC 10 AND -10")
shape("not_between", "SELECT count(*) FROM {T} WHERE i NOT BETWEEN -10 AND 10")
shape("col_vs_col", "SELECT count(*) FROM {T} WHERE i < g")
shape("bigint_vs_int_param", "SELECT count(*) FROM {T} WHERE b > 2147483648")
shape("bigint_min", "SELECT count(*) FROM {T} WHERE b = -9223372036854775808")
shape("int_vs_numeric", "SELECT count(*) FROM {T} WHERE i = 2147483647.0 OR i < -2147483647.5")
shape("int_vs_float", "SELECT count(*) FROM {T} WHERE i > 2.5::float8")
shape("smallint_cast", "SELECT count(*) FROM {T} WHERE g::smallint = 2")
shape("whole_row", "SELECT a FROM {T} a WHERE id < 20")
shape("whole_row_json", "SELECT to_jsonb(a) - 'by' FROM {T} a WHERE g = 1 AND id < 300")
shape("whole_row_null_test", "SELECT count(*) FROM {T} a WHERE a IS NOT NULL")
shape("whole_row_distinct", "SELECT count(DISTINCT a) FROM {T} a WHERE id < 100", targets=("ch",))
shape("row_compare", "SELECT count(*) FROM {T} WHERE (g, i) > (2, 0)")
shape("row_in", "SELECT count(*) FROM {T} WHERE (g, flag) IN ((1, true), (2, false))", targets=ICE)
shape("count_partition_eq", "SELECT count(*) FROM {T} WHERE g = 1")
shape("count_partition_in", "SELECT count(*), count(g) FROM {T} WHERE g IN (1, 2) OR g IS NULL")
shape("count_partition_ne", "SELECT count(*) FROM {T} WHERE g <> 1")
shape("count_only", "SELECT count(*) FROM {T}")
shape("minmax_meta", "SELECT min(i), max(i), min(n), max(n), min(d), max(ts), count(*) FROM {T}")
shape("minmax_meta_b", "SELECT min(b), max(b), min(id), max(id), min(big), max(big) FROM {T}", targets=ICE)
PARALLEL = ["SET parallel_setup_cost = 0", "SET parallel_tuple_cost = 0", "SET min_parallel_table_scan_size = 0",
            "SET max_parallel_workers_per_gather = 2", "SET townlake.iceberg_min_parallel_rows = 1"]
shape("parallel_scan", PARALLEL + ["SELECT id, g, t FROM {T} WHERE i > 0"], targets=ICE)
shape("parallel_agg", PARALLEL + ["SELECT g, count(*), sum(i), avg(n), min(t), max(d) FROM {T} GROUP BY g",
                                  "SELECT count(*), sum(b) FROM {T} WHERE f > 0",
                                  "SELECT count(DISTINCT t) FROM {T}"], targets=ICE)
shape("parallel_agg_off", PARALLEL + ["SET townlake.iceberg_aggregate_pushdown = off",
                                      "SELECT g, count(*), sum(i), avg(n) FROM {T} GROUP BY g",
                                      "SELECT count(*), max(id) FROM {T}"], targets=ICE)
shape("parallel_topn", PARALLEL + ["SELECT id, i FROM {T} ORDER BY i DESC NULLS LAST, id LIMIT 12",
                                   "SELECT id FROM {T} WHERE g = 2 ORDER BY id OFFSET 5 LIMIT 4"],
      targets=ICE, ordered=True)
shape("parallel_limit", PARALLEL + ["SELECT count(*) FROM (SELECT id FROM {T} LIMIT 37) s"], targets=ICE)
shape("parallel_join", PARALLEL + ["SELECT a.g, count(*) FROM {T} a JOIN {T2} b ON a.id = b.id GROUP BY a.g",
                                   "SELECT count(*) FROM {T} a WHERE EXISTS (SELECT 1 FROM {D} d WHERE d.g = a.g)"],
      targets=ICE)
shape("parallel_prep", PARALLEL + [GENERIC, "PREPARE p{S}(int) AS SELECT count(*), sum(i) FROM {T} WHERE g = $1",
                                   "EXECUTE p{S}(1)", "EXECUTE p{S}(NULL)"], targets=ICE)
shape("parallel_cursor", PARALLEL + ["BEGIN", "DECLARE c SCROLL CURSOR FOR SELECT id FROM {T} ORDER BY id",
                                     "FETCH 3 FROM c", "FETCH ABSOLUTE 700 FROM c", "FETCH BACKWARD 2 FROM c",
                                     "COMMIT"], targets=ICE, ordered=True)
shape("in_list_mixed", "SELECT count(*) FROM {T} WHERE i IN (1.5, 2, -3.0, NULL)")
shape("in_list_big", "SELECT count(*) FROM {T} WHERE i IN (" + ", ".join(str(k) for k in range(-50, 50)) + ")")
shape("in_list_bigint_overflow", "SELECT count(*) FROM {T} WHERE i IN (9223372036854775807, 5, 2147483648)")
shape("not_in_list_null", "SELECT count(*) FROM {T} WHERE i NOT IN (1, 2, NULL)")
shape("exists_limit", "SELECT id FROM {T} a WHERE EXISTS (SELECT 1 FROM {D} d WHERE d.g = a.g) ORDER BY id LIMIT 5",
      ordered=True)
shape("hold_cursor_agg", ["BEGIN", "DECLARE c CURSOR WITH HOLD FOR SELECT g, count(*) FROM {T} GROUP BY g "
                          "ORDER BY g NULLS FIRST", "FETCH 2 FROM c", "COMMIT", "FETCH ALL FROM c", "CLOSE c"],
      ordered=True)
shape("limit_huge_offset", ["SELECT id FROM {T} ORDER BY id LIMIT 9223372036854775807 OFFSET 1495",
                             "SELECT id FROM {T} ORDER BY id DESC LIMIT 3 OFFSET 9223372036854775807",
                             "SELECT id FROM {T} ORDER BY id LIMIT 9223372036854775806 OFFSET 9223372036854775806",
                             "SELECT count(*) FROM (SELECT id FROM {T} LIMIT 9223372036854775807 OFFSET 10) s",
                             "SELECT id FROM {T} ORDER BY id LIMIT 4 OFFSET 99998",
                             "SELECT id FROM {T} ORDER BY id LIMIT 100001 OFFSET 1497"], ordered=True)
shape("prep_limit_huge", [GENERIC, "PREPARE p{S}(bigint, bigint) AS SELECT id FROM {T} ORDER BY id LIMIT $1 OFFSET $2",
                          "EXECUTE p{S}(9223372036854775807, 1496)", "EXECUTE p{S}(2, 9223372036854775807)",
                          "EXECUTE p{S}(9223372036854775807, 9223372036854775807)", "EXECUTE p{S}(-1, 0)"],
      ordered=True)
shape("prep_limit_huge_agg", [GENERIC, "PREPARE p{S}(bigint, bigint) AS SELECT g, count(*) c FROM {T} GROUP BY g "
                              "ORDER BY c DESC, g LIMIT $1 OFFSET $2", "EXECUTE p{S}(9223372036854775807, 2)",
                              "EXECUTE p{S}(1, 9223372036854775807)"], ordered=True)
shape("limit_join_huge", "SELECT a.id FROM {T} a JOIN {D} d ON a.g = d.g ORDER BY a.id LIMIT 3 "
      "OFFSET 9223372036854775800", ordered=True)
shape("limit_negative", "SELECT id FROM {T} ORDER BY id LIMIT -1")
shape("agg_key_not_selected", "SELECT count(*), sum(i) FROM {T} GROUP BY g")
shape("agg_key_twice", "SELECT g, g AS g2, count(*) FROM {T} GROUP BY g, g")
shape("agg_key_order_limit", "SELECT count(*), g FROM {T} GROUP BY g ORDER BY g NULLS FIRST LIMIT 2", ordered=True)
shape("agg_order_within", "SELECT g, sum(i ORDER BY id), max(t ORDER BY id) FROM {T} GROUP BY g")
shape("distinct_as_group", "SELECT DISTINCT g FROM {T}")
shape("distinct_two", "SELECT DISTINCT g, flag FROM {T}", targets=ICE)
shape("group_no_agg", "SELECT g, d FROM {T} WHERE id < 300 GROUP BY g, d")
shape("agg_plus_one", "SELECT sum(i) + 1, count(*) * 2, -min(i) FROM {T}")
shape("agg_const_select", "SELECT 1, 'x', count(*) FROM {T} GROUP BY g")
shape("agg_count_variants", "SELECT count(1), count(NULL::int), count(id), count('x'), count(g + 0) FROM {T}")
shape("agg_const_args", "SELECT sum(1), sum(2.5), max('x'::text), min(3), avg(1) FROM {T}")
shape("agg_where_false", ["SELECT count(*), sum(i), max(d) FROM {T} WHERE false",
                          "SELECT count(*), sum(i) FROM {T} WHERE id = NULL",
                          "SELECT count(*) FROM {T} WHERE true", "SELECT g, count(*) FROM {T} WHERE false GROUP BY g",
                          "SELECT count(*) FROM {T} WHERE NULL::boolean"])
shape("group_by_empty", "SELECT count(*) FROM {T} GROUP BY ()")
shape("group_by_const", "SELECT count(*) FROM {T} GROUP BY 'x'")
shape("agg_sum_mixed", "SELECT sum(i + b), sum(n * i), sum(id * 2), avg(i - g) FROM {T}")
shape("agg_sum_mixed_big", "SELECT sum(big * 2), avg(big - n), max(big * big) FROM {T}", targets=ICE)
shape("agg_numeric_scale", "SELECT sum(n * 1.50), avg(n + 0.1), max(n * 100), min(n - 0.0001) FROM {T}")
shape("agg_group_trunc_week", "SELECT date_trunc('week', ts), count(*) FROM {T} WHERE id < 500 GROUP BY 1")
shape("agg_group_trunc_quarter_d", "SELECT date_trunc('quarter', d::timestamp), count(*) FROM {T} GROUP BY 1")
shape("agg_group_extract_many", "SELECT extract(year FROM ts), extract(quarter FROM ts), extract(minute FROM ts), "
      "extract(doy FROM d), extract(isodow FROM d), count(*) FROM {T} WHERE id < 400 GROUP BY 1, 2, 3, 4, 5")
shape("agg_group_extract_sec", "SELECT extract(second FROM ts), count(*) FROM {T} WHERE id < 200 GROUP BY 1")
shape("agg_group_date_part", "SELECT date_part('year', ts), count(*) FROM {T} GROUP BY 1")
shape("agg_avg_group_order", "SELECT g, avg(i) a FROM {T} GROUP BY g ORDER BY a NULLS FIRST, g", ordered=True)
shape("agg_minmax_text_group_c", "SELECT g, min(t COLLATE \"C\"), max(t COLLATE \"C\") FROM {T} GROUP BY g")
shape("agg_count_distinct_bool", "SELECT count(DISTINCT flag), count(DISTINCT u), count(DISTINCT d), "
      "count(DISTINCT ts), count(DISTINCT n) FROM {T}")
shape("agg_having_key", "SELECT g, count(*) FROM {T} GROUP BY g HAVING g > 1")
shape("agg_having_param", [GENERIC, "PREPARE p{S}(bigint) AS SELECT g, count(*) FROM {T} GROUP BY g HAVING count(*) > $1",
                           "EXECUTE p{S}(200)", "EXECUTE p{S}(NULL)"])
shape("agg_having_min_date", "SELECT g, min(d) FROM {T} GROUP BY g HAVING min(d) > '1995-01-03'")
shape("agg_having_sum_frac", "SELECT g, sum(n) FROM {T} GROUP BY g HAVING sum(n) > 99999.9995 AND count(*) >= 2")
shape("agg_having_not", "SELECT g, count(*) FROM {T} GROUP BY g HAVING NOT (count(*) < 200)")
shape("agg_having_max_text", "SELECT g FROM {T} GROUP BY g HAVING max(t) > 'z'")
shape("lateral_join_agg", "SELECT v.x, l.* FROM (VALUES (0), (100000), (NULL)) v(x), LATERAL (SELECT count(*), "
      "sum(a.i) FROM {T} a JOIN {D} d ON a.g = d.g WHERE a.i > v.x) l")
shape("lateral_topn_param", "SELECT v.x, l.id FROM (VALUES (1), (3), (NULL)) v(x), LATERAL (SELECT id FROM {T} a "
      "WHERE a.g = v.x ORDER BY a.n DESC NULLS LAST, id LIMIT 3) l")
shape("semi_inner_big", "SELECT d.g FROM {D} d WHERE EXISTS (SELECT 1 FROM {T} a WHERE a.g = d.g AND a.i > 0)")
shape("in_inner_big", "SELECT d.g, d.name FROM {D} d WHERE d.g IN (SELECT g FROM {T})")
shape("not_in_inner_nulls", "SELECT d.g FROM {D} d WHERE d.g NOT IN (SELECT g FROM {T})")
shape("not_in_inner", "SELECT d.g FROM {D} d WHERE d.g NOT IN (SELECT g FROM {T} WHERE g IS NOT NULL)")
shape("anti_inner_big", "SELECT d.g FROM {D} d WHERE NOT EXISTS (SELECT 1 FROM {T} a WHERE a.g = d.w)")
shape("correlated_agg_rescan", "SELECT d.g, (SELECT count(*) FROM {T} a WHERE a.g = d.g AND a.i > d.w), "
      "(SELECT max(id) FROM {T} a WHERE a.g = d.w) FROM {D} d")
shape("scalar_in_select_limit", "SELECT d.g, (SELECT id FROM {T} a WHERE a.g = d.g ORDER BY id DESC LIMIT 1) FROM {D} d")
# ---------------------------------------------------------------- ClickHouse types
CHT = ("cht",)
shape("cht_all", "SELECT * FROM {T}", targets=CHT)
shape("cht_zoned_trunc", ["SELECT date_trunc('day', ts), count(*) FROM {T} GROUP BY 1",
                          "SELECT extract(hour FROM ts), count(*), min(id) FROM {T} GROUP BY 1",
                          "SELECT count(*) FROM {T} WHERE date_trunc('month', ts) = '2017-08-01'",
                          "SELECT id FROM {T} WHERE extract(day FROM ts) = 14 AND extract(hour FROM ts) < 3"],
      targets=CHT)
shape("cht_zoned_tz", ["SET TimeZone = 'America/St_Johns'", "SELECT count(*) FROM {T} WHERE tsz > '2017-08-01'",
                       "SELECT tsz::text, id FROM {T} ORDER BY tsz DESC, id LIMIT 4",
                       "SELECT date_trunc('day', tsz)::text, count(*) FROM {T} GROUP BY 1",
                       "SELECT min(tsz)::text, max(tsz)::text FROM {T}",
                       "SELECT count(*) FROM {T} WHERE ts > '2017-08-01'::timestamptz"], targets=CHT)
shape("cht_lowcard", ["SELECT lc, count(*), min(id) FROM {T} GROUP BY lc", "SELECT count(*) FROM {T} WHERE lc = ''",
                      "SELECT id FROM {T} WHERE lc IN ('x', 'zz') ORDER BY lc COLLATE \"C\" DESC, id LIMIT 5",
                      "SELECT count(*) FROM {T} WHERE lc LIKE 'z%'"], targets=CHT)
shape("cht_enum", ["SELECT e, count(*) FROM {T} GROUP BY e", "SELECT count(*) FROM {T} WHERE e = 'green'",
                   "SELECT count(*) FROM {T} WHERE e > 'green'", "SELECT id FROM {T} ORDER BY e, id LIMIT 5",
                   "SELECT count(*) FROM {T} WHERE e IN ('red', 'nope')", "SELECT count(*) FROM {T} WHERE e <> 'red'"],
      targets=CHT)
shape("cht_fixed", ["SELECT fs, count(*) FROM {T} GROUP BY fs", "SELECT count(*) FROM {T} WHERE fs = 'ab'",
                    "SELECT count(*) FROM {T} WHERE fs = ''", "SELECT count(*) FROM {T} WHERE fs LIKE 'a%'",
                    "SELECT id FROM {T} ORDER BY fs COLLATE \"C\", id LIMIT 5",
                    "SELECT count(*) FROM {T} WHERE fs IN ('b', 'abc')", "SELECT count(DISTINCT fs) FROM {T}"],
      targets=CHT)
shape("cht_u64", ["SELECT count(*), sum(u64), min(u64), max(u64), avg(u64) FROM {T}",
                  "SELECT count(*) FROM {T} WHERE u64 > 9223372036854775807",
                  "SELECT id FROM {T} ORDER BY u64 DESC, id LIMIT 3", "SELECT count(*) FROM {T} WHERE u64 = 1000003",
                  "SELECT count(*) FROM {T} WHERE u64 IN (2000006, 18446744073709551615, -1)",
                  "SELECT u64 % 3, count(*) FROM {T} GROUP BY 1"], targets=CHT)
shape("cht_small_ints", ["SELECT i8, count(*) FROM {T} WHERE i8 < -100 GROUP BY i8",
                         "SELECT sum(i8), sum(u8), avg(i8), min(u8), max(i8) FROM {T}",
                         "SELECT count(*) FROM {T} WHERE i8 + u8 > 100", "SELECT count(*) FROM {T} WHERE u8 * i8 < 0",
                         "SELECT count(*) FROM {T} WHERE i8 = 200", "SELECT count(*) FROM {T} WHERE u8 > -1",
                         "SELECT i8 + i8, count(*) FROM {T} GROUP BY 1 HAVING count(*) > 3"], targets=CHT)
shape("cht_decimal", ["SELECT sum(dec), avg(dec), min(dec), max(dec) FROM {T}",
                      "SELECT count(*) FROM {T} WHERE dec > 123.45675", "SELECT count(*) FROM {T} WHERE dec = -617283500",
                      "SELECT count(*) FROM {T} WHERE dec IN (0, 1234567, -1234.5678)",
                      "SELECT id FROM {T} ORDER BY dec DESC, id LIMIT 3",
                      "SELECT id % 4, sum(dec) s FROM {T} GROUP BY 1 HAVING sum(dec) > 0"], targets=CHT)
shape("cht_float32", ["SELECT count(*) FROM {T} WHERE f32 > 10.125", "SELECT max(f32), min(f32) FROM {T}",
                      "SELECT f32, id FROM {T} ORDER BY f32 DESC, id LIMIT 3"], targets=CHT)
shape("cht_dates", ["SELECT count(*) FROM {T} WHERE d > '2005-01-01' AND nd IS NULL",
                    "SELECT extract(year FROM d), count(*), min(nd), max(nd) FROM {T} GROUP BY 1",
                    "SELECT count(*) FROM {T} WHERE nd = d", "SELECT count(*) FROM {T} WHERE nd < '1970-01-01'",
                    "SELECT count(*) FROM {T} WHERE d < 'infinity' AND nd > '-infinity'",
                    "SELECT date_trunc('month', d::timestamp), count(*) FROM {T} GROUP BY 1",
                    "SELECT id FROM {T} ORDER BY nd NULLS FIRST, id LIMIT 5"], targets=CHT)
shape("cht_nullable_int64", ["SELECT sum(ni), avg(ni), count(ni), min(ni), max(ni) FROM {T}",
                             "SELECT count(*) FROM {T} WHERE ni > 0 OR ni IS NULL",
                             "SELECT count(*) FROM {T} WHERE ni NOT IN (-4000000000000000, 5)",
                             "SELECT count(*) FROM {T} WHERE ni * 2 > 0"], targets=CHT)
shape("cht_array", ["SELECT arr, count(*) FROM {T} GROUP BY arr", "SELECT count(*) FROM {T} WHERE arr[1] = 2",
                    "SELECT count(*) FROM {T} WHERE 7 = ANY(arr)", "SELECT id FROM {T} WHERE arr @> '{1}' ORDER BY id LIMIT 3"],
      targets=CHT)
shape("cht_join_dim", "SELECT a.id, d.name FROM {T} a JOIN {D} d ON a.i8 = d.g", targets=CHT)
shape("cht_prep", [GENERIC, "PREPARE p{S}(numeric, smallint, text, date) AS SELECT count(*), sum(dec) FROM {T} "
                   "WHERE u64 < $1 AND i8 > $2 AND lc <> $3 AND d < $4",
                   "EXECUTE p{S}(18446744073709551615, -10, 'x', '2003-01-01')",
                   "EXECUTE p{S}(99999999999999999999999, NULL, 'x', 'infinity')",
                   "EXECUTE p{S}('NaN', 5, '', '-infinity')"], targets=CHT)
shape("time_topn", ["SELECT tm, id FROM {T} ORDER BY tm DESC NULLS LAST, id LIMIT 7",
                    "SELECT tm, id FROM {T} ORDER BY tm NULLS FIRST, id LIMIT 90"], targets=ICE, ordered=True)
shape("time_shapes", ["SELECT min(tm), max(tm), count(DISTINCT tm), count(tm) FROM {T}",
                      "SELECT count(*) FROM {T} WHERE tm > '12:00' AND tm <= '23:59:59.999999'",
                      "SELECT g, max(tm) FROM {T} GROUP BY g", "SELECT tm, count(*) FROM {T} GROUP BY tm HAVING count(*) > 1",
                      "SELECT extract(hour FROM tm), count(*) FROM {T} GROUP BY 1",
                      "SELECT count(*) FROM {T} WHERE tm = '00:00'"], targets=ICE)
shape("prep_time", [GENERIC, "PREPARE p{S}(time) AS SELECT count(*), max(id) FROM {T} WHERE tm >= $1",
                    "EXECUTE p{S}('12:00')", "EXECUTE p{S}('24:00')", "EXECUTE p{S}(NULL)"], targets=ICE)
shape("cht_big_sums", ["SELECT id % 4, sum(u64) FROM {T} GROUP BY 1 HAVING sum(u64) > 1000000000000000000000",
                       "SELECT id % 5, sum(u64) s FROM {T} GROUP BY 1 ORDER BY s DESC LIMIT 2",
                       "SELECT id % 4, sum(u64) FROM {T} GROUP BY 1 HAVING sum(u64) < 99999999999999999999.5",
                       "SELECT sum(ni), avg(ni) FROM {T} WHERE ni > 0",
                       "SELECT id % 3, avg(u64), avg(dec), avg(i8) FROM {T} GROUP BY 1",
                       "SELECT avg(u64) FROM {T} WHERE id < 0",
                       "SELECT e, avg(u64) FROM {T} GROUP BY e HAVING count(*) > 0",
                       "SELECT count(DISTINCT u64), count(DISTINCT dec), count(DISTINCT e), count(DISTINCT lc) FROM {T}",
                       "SELECT min(dec), max(u64) FROM {T} GROUP BY id % 2 HAVING max(u64) >= 18446744073709551615"],
      targets=CHT)
shape("cht_join_avg", ["SELECT d.name, avg(a.u64), avg(a.ni), count(*) FROM {T} a JOIN {D} d ON a.i8 = d.g "
                       "GROUP BY d.name",
                       "SELECT d.g, avg(a.u64), sum(a.u64) FROM {T} a RIGHT JOIN {D} d ON a.i8 = d.g GROUP BY d.g"],
      targets=CHT)
# ---------------------------------------------------------------- a nondeterministic collation
CI = ("ci", "chci")
shape("ci_where", ["SELECT count(*) FROM {T} WHERE t = 'APPLE'", "SELECT count(*) FROM {T} WHERE t <> 'apple'",
                   "SELECT count(*) FROM {T} WHERE t IN ('BANANA', 'b')", "SELECT count(*) FROM {T} WHERE t NOT IN ('Z')",
                   "SELECT count(*) FROM {T} WHERE t = ANY(ARRAY['zEBRA'])", "SELECT id FROM {T} WHERE t = 'ÄPFEL'",
                   "SELECT count(*) FROM {T} WHERE t > 'B'", "SELECT count(*) FROM {T} WHERE t COLLATE \"C\" = 'APPLE'",
                   "SELECT count(*), sum(i) FROM {T} WHERE t = 'APPLE' AND g = 1"], targets=CI)
shape("ci_prep", [GENERIC, "PREPARE p{S}(text) AS SELECT count(*) FROM {T} WHERE t = $1", "EXECUTE p{S}('APPLE')",
                  "EXECUTE p{S}('b')"], targets=CI)
shape("ci_group", ["SELECT lower(t), count(*) FROM {T} GROUP BY t", "SELECT count(DISTINCT t) FROM {T}",
                   "SELECT g, count(DISTINCT t) FROM {T} GROUP BY g",
                   "SELECT g FROM {T} GROUP BY g HAVING count(DISTINCT t) > 5",
                   "SELECT lower(min(t)), lower(max(t)) FROM {T}"], targets=CI)
shape("ci_order", ["SELECT id FROM {T} ORDER BY t, id LIMIT 20", "SELECT id FROM {T} ORDER BY t DESC, id LIMIT 20"],
      targets=CI, ordered=True)
shape("ci_join", ["SELECT count(*) FROM {T} a JOIN {T} b ON a.t = b.t WHERE a.g = 1 AND b.g = 2",
                  "SELECT count(*) FROM {T} a WHERE EXISTS (SELECT 1 FROM {T} b WHERE b.t = a.t AND b.id <> a.id)"],
      targets=CI)
shape("ci_expr_collate", ["SELECT count(*) FROM {T} WHERE t COLLATE shapes.ci = 'APPLE'",
                          "SELECT count(DISTINCT t COLLATE shapes.ci) FROM {T}",
                          "SELECT lower(t COLLATE shapes.ci), count(*) FROM {T} GROUP BY t COLLATE shapes.ci",
                          "SELECT g FROM {T} GROUP BY g HAVING count(DISTINCT t COLLATE shapes.ci) > 5",
                          "SELECT count(*) FROM {T} a JOIN {T2} b ON a.t COLLATE shapes.ci = b.t AND a.id < 100"])
shape("srf_select", "SELECT id, generate_series(1, 2) FROM {T} WHERE id < 5")
shape("recursive_cte", "WITH RECURSIVE r(id, depth) AS (SELECT id, 0 FROM {T} WHERE id < 3 UNION ALL "
      "SELECT a.id, r.depth + 1 FROM r JOIN {T} a ON a.id = r.id + 500 WHERE r.depth < 2) SELECT * FROM r")
shape("for_share", "SELECT id FROM {T} WHERE g = 1 ORDER BY id LIMIT 3 FOR SHARE", ordered=True)
shape("only_table", "SELECT count(*) FROM ONLY {T}")
shape("view_security_barrier", ["CREATE TEMP VIEW v{S} WITH (security_barrier) AS SELECT * FROM {T} WHERE g = 1",
                                "SELECT count(*), sum(i) FROM v{S} WHERE i > 0",
                                "SELECT id FROM v{S} ORDER BY id LIMIT 4", "DROP VIEW v{S}"])
shape("prep_text_array", [GENERIC, "PREPARE p{S}(text[]) AS SELECT count(*) FROM {T} WHERE t = ANY($1)",
                          "EXECUTE p{S}('{apple,b,NULL}')", "EXECUTE p{S}('{}')", "EXECUTE p{S}(NULL)"])
shape("prep_uuid_array", [GENERIC, "PREPARE p{S}(uuid[]) AS SELECT count(*) FROM {T} WHERE u <> ALL($1)",
                          "EXECUTE p{S}('{00000000-0000-0000-0000-000000000001}')"])
shape("prep_numeric_array", [GENERIC, "PREPARE p{S}(numeric[]) AS SELECT count(*), sum(i) FROM {T} WHERE n = ANY($1) "
                             "OR i = ANY($1)", "EXECUTE p{S}('{1.5,NaN,-49}')", "EXECUTE p{S}('{Infinity}')"])
shape("prep_multi_type", [GENERIC, "PREPARE p{S}(smallint, real, varchar, timestamptz) AS SELECT count(*) FROM {T} "
                          "WHERE g = $1 AND f < $2 AND t >= $3 AND ts < $4",
                          "EXECUTE p{S}(1, 500, 'a', '2020-01-01 00:00+05')", "EXECUTE p{S}(2, 'NaN', '', 'infinity')"])
shape("generic_stable_now", [GENERIC, "PREPARE p{S} AS SELECT count(*) FROM {T} WHERE ts < now() AND d < current_date",
                             "EXECUTE p{S}"])
shape("union_heap", ["CREATE TEMP TABLE IF NOT EXISTS par{S} (id bigint, g integer)",
                        "SELECT count(*), sum(id) FROM (SELECT id, g FROM par{S} UNION ALL SELECT id, g FROM {T}) s "
                        "WHERE g = 2"])
shape("semi_dups", ["SELECT count(*), sum(a.id) FROM {T} a WHERE EXISTS (SELECT 1 FROM {T2} b WHERE b.g = a.g AND b.i > 0)",
                    "SELECT count(*), sum(id) FROM {T} a WHERE a.i IN (SELECT b.i FROM {T2} b WHERE b.g = 1)",
                    "SELECT count(*), sum(a.id) FROM {T} a WHERE NOT EXISTS (SELECT 1 FROM {T2} b WHERE b.i = a.g)",
                    "SELECT count(*) FROM {T} a LEFT JOIN {T2} b ON a.g = b.g WHERE a.id < 30",
                    "SELECT count(*) FROM {T} a RIGHT JOIN {T2} b ON a.i = b.g",
                    "SELECT count(*), count(a.id), count(b.id) FROM {T} a FULL JOIN {T2} b ON a.i = b.i",
                    "SELECT count(*) FROM {T} a JOIN {T2} b ON a.t = b.t AND a.g = b.g",
                    "SELECT count(*) FROM {T} a JOIN {T2} b ON a.d = b.d",
                    "SELECT count(*) FROM {T} a JOIN {T2} b ON a.u = b.u",
                    "SELECT count(*) FROM {T} a JOIN {T2} b ON a.n = b.n"])
shape("join_grouped_ch", ["SELECT a.g, count(*), sum(b.i), count(DISTINCT b.t) FROM {T} a JOIN {T2} b ON a.id = b.id "
                          "GROUP BY a.g",
                          "SELECT b.g, count(a.id), max(a.d) FROM {T} a RIGHT JOIN {T2} b ON a.id = b.i GROUP BY b.g",
                          "SELECT a.id, b.id FROM {T} a JOIN {T2} b ON a.i = b.i ORDER BY a.id, b.id LIMIT 5",
                          "SELECT a.g, count(*) c FROM {T} a JOIN {T2} b ON a.id = b.id GROUP BY a.g "
                          "HAVING count(*) > 200"])
shape("tz_functions", ["SET TimeZone = 'Asia/Tokyo'",
                       "SELECT date_trunc('day', tz, 'America/New_York')::text, count(*) FROM {T} GROUP BY 1",
                       "SELECT count(*) FROM {T} WHERE date_trunc('month', tz, 'Europe/Berlin') = '2005-03-01 00:00+01'",
                       "SELECT (tz AT TIME ZONE 'UTC')::date, count(*) FROM {T} GROUP BY 1 HAVING count(*) > 1",
                       "SELECT extract(hour FROM tz), count(*) FROM {T} GROUP BY 1",
                       "SELECT ts::date, count(*) FROM {T} GROUP BY 1 HAVING count(*) > 1",
                       "SELECT count(*) FROM {T} WHERE ts::date = '2005-03-01'",
                       "SELECT count(*) FROM {T} WHERE ts AT TIME ZONE 'UTC' > '2005-03-01'",
                       "SELECT count(*) FROM {T} WHERE date_trunc('day', ts) = '2005-03-01 00:00:00'",
                       "SELECT count(*) FROM {T} WHERE date_trunc('day', ts::timestamptz) > '2005-03-01 00:00:00+09'"],
      targets=ICE)
shape("tz_functions_ch", ["SET TimeZone = 'Asia/Tokyo'",
                          "SELECT date_trunc('day', tsz, 'America/New_York')::text, count(*) FROM {T} GROUP BY 1",
                          "SELECT extract(hour FROM tsz), count(*) FROM {T} GROUP BY 1",
                          "SELECT count(*) FROM {T} WHERE date_trunc('day', tsz) > '2018-01-01'",
                          "SELECT ts::date, count(*) FROM {T} GROUP BY 1 HAVING count(*) > 1",
                          "SELECT count(*) FROM {T} WHERE ts::date = '2017-09-01'",
                          "SELECT date_trunc('day', ts::timestamptz)::text, count(*) FROM {T} GROUP BY 1",
                          "SELECT date_part('hour', ts), count(*) FROM {T} GROUP BY 1",
                          "SELECT extract(epoch FROM ts), id FROM {T} ORDER BY 1 DESC, 2 LIMIT 3"], targets=CHT)
shape("explain_only", "SELECT 1")


# Shapes that Postgres itself refuses before their last statement (the same
# ERROR is expected).
EXPECTED_ERRORS: set[str] = set()


def _ids():
    out = []
    for name, stmts, targets, ordered in S:
        for t in targets:
            out.append(pytest.param(name, stmts, t, ordered, id=f"{name}-{t}"))
    return out


@pytest.mark.parametrize("name,statements,target,ordered", _ids())
def test_shape_matches_heap(shapes, name, statements, target, ordered):
    conn = shapes
    if not ICU["available"] and (target in CI or "shapes.ci" in str(statements)):
        pytest.skip("this server is built without ICU: no nondeterministic collation to test")
    mapping = TARGETS[target]
    want = run_script(conn, statements, 1, mapping, ordered)
    got = run_script(conn, statements, 0, mapping, ordered)
    assert got == want, f"{name} on {target}:\n townlake: {str(got)[:1500]}\n postgres: {str(want)[:1500]}"
    # a shape that Postgres itself refuses proves nothing unless it means to
    # (a script's last statement may be one meant to fail)
    errors = [r for r in want if isinstance(r, tuple) and r and r[0] == "ERROR"]
    assert not errors or len(want) == len(statements) or name in EXPECTED_ERRORS, \
        f"{name} on {target}: Postgres refused statement {len(want)} of {len(statements)} too: {errors}"


@pytest.mark.skipif(not os.environ.get("SHAPES_PAUSE"), reason="debugging aid: SHAPES_PAUSE=<seconds>")
def test_pause_for_debugging(shapes):
    """Keeps the module's database alive for a manual look (SHAPES_PAUSE=600)."""
    import time
    time.sleep(float(os.environ["SHAPES_PAUSE"]))


# ---------------------------------------------------------------- random filters and aggregates
# Seeded random WHERE clauses (comparisons, casts, cross-type operators,
# BETWEEN, IN with NULLs, LIKE, IS DISTINCT FROM, arithmetic, AND/OR/NOT) in
# six query forms, on the townlake-written, PyIceberg-written and evolved
# tables against their heap copies. The seed is fixed: a failure names the
# query, which reproduces on its own. Each query's text is built before any
# table is read, so nothing in it is tuned to what townlake answers.
FUZZ_SEED = 20261205
FUZZ_QUERIES = 240


def _fuzz_literals(rng: random.Random) -> dict:
    """A literal (SQL text) of each column's type, drawn from the data's own
    range, its edges and beyond."""
    batches = _batches()
    sample = [r for rows in batches for r in rows]
    def pick(col):
        vals = [r[col] for r in sample if r[col] is not None]
        return rng.choice(vals)
    def date_lit():
        return "'" + rng.choice([pick("d").isoformat(), "1970-01-01", "0001-01-01", "9999-12-31", "2010-06-15",
                                 "1994-12-31"]) + "'::date"
    def ts_lit():
        v = pick("ts")
        return "'" + rng.choice([v.isoformat(sep=" "), v.replace(microsecond=0).isoformat(sep=" "),
                                 "2000-01-01 00:00:00", "1969-12-31 23:59:59.999999"]) + "'::timestamp"
    def tz_lit():
        v = pick("tz")
        return "'" + rng.choice([v.isoformat(sep=" "), "2000-01-01 00:00:00+05:30",
                                 "1970-01-01 00:00:00+00"]) + "'::timestamptz"
    def num_lit():
        return rng.choice([str(pick("n")), str(rng.randrange(-10**8, 10**8)), f"{rng.uniform(-1e8, 1e8):.4f}",
                           "0", "-0.0005", "99999999999.999", "1e11"])
    def text_lit():
        w = pick("t") if rng.random() < 0.6 else rng.choice(WORDS + ["apple1", "zz", "Ä", "a"])
        return "'" + w.replace("'", "''") + "'"
    return {
        "g": lambda: str(rng.randrange(-1, 8)),
        "i": lambda: rng.choice([str(pick("i")), str(rng.randrange(-60, 60)), "2147483647", "-2147483648", "0"]),
        "b": lambda: rng.choice([str(pick("b")), str(rng.randrange(-120, 120)), "9223372036854775807",
                                 "-9223372036854775808", str(2**62)]),
        "n": num_lit,
        "big": lambda: rng.choice([str(pick("big")), "0", "-1.5", "12345678901234567890.0123456789"]),
        "f": lambda: rng.choice([str(pick("f")), f"{rng.uniform(-1000, 1000):.3f}", "'NaN'::float8",
                                 "'Infinity'::float8", "'-Infinity'::float8", "0", "-0.0::float8"]),
        "t": text_lit,
        "d": date_lit,
        "ts": ts_lit,
        "tz": tz_lit,
        "flag": lambda: rng.choice(["true", "false"]),
        "u": lambda: f"'{pick('u')}'::uuid",
        "tm": lambda: "'" + pick("tm").isoformat() + "'::time",
    }


def _fuzz_predicate(rng: random.Random, lit: dict, cols: list, depth: int = 0) -> str:
    if depth < 2 and rng.random() < 0.35:
        a, b = _fuzz_predicate(rng, lit, cols, depth + 1), _fuzz_predicate(rng, lit, cols, depth + 1)
        form = rng.choice(["({} AND {})", "({} OR {})", "NOT ({} AND {})", "(NOT {} OR {})"])
        return form.format(a, b)
    col = rng.choice(cols)
    op = rng.choice(["=", "<>", "<", "<=", ">", ">="])
    kind = rng.random()
    if col == "flag":
        return rng.choice(["flag", "NOT flag", "flag IS TRUE", "flag IS NOT FALSE", "flag IS UNKNOWN",
                           f"flag = {lit['flag']()}", f"flag IS DISTINCT FROM {lit['flag']()}"])
    if col == "t" and kind < 0.35:
        w = rng.choice(WORDS + ["a", "ap", "Ap", "z", "%", "_"]).replace("'", "''")
        return rng.choice([f"t LIKE '{w}%'", f"t NOT LIKE '%{w}'", f"t ILIKE '{w}%'", f"t LIKE '_{w}%'",
                           f"t ~ '^{w}'" if w not in ("%", "_") else "t ~ '^a'",
                           f"starts_with(t, '{w}')", f"t COLLATE \"C\" {op} '{w}'", f"lower(t) {op} '{w}'",
                           f"length(t) {op} {rng.randrange(0, 9)}", f"t || 'x' {op} '{w}x'"])
    if kind < 0.45:
        return f"{col} {op} {lit[col]()}" if rng.random() < 0.7 else f"{lit[col]()} {op} {col}"
    if kind < 0.55:
        lo, hi = lit[col](), lit[col]()
        return f"{col} {rng.choice(['', 'NOT '])}BETWEEN {rng.choice(['', 'SYMMETRIC '])}{lo} AND {hi}"
    if kind < 0.65:
        items = [lit[col]() for _ in range(rng.randrange(1, 5))] + (["NULL"] if rng.random() < 0.3 else [])
        return f"{col} {rng.choice(['', 'NOT '])}IN ({', '.join(items)})"
    if kind < 0.72:
        return f"{col} IS {rng.choice(['', 'NOT '])}NULL"
    if kind < 0.78:
        return f"{col} IS {rng.choice(['', 'NOT '])}DISTINCT FROM {lit[col]()}"
    # casts, cross-type operators and arithmetic Postgres evaluates the same
    # way on every row (nothing that can overflow)
    exprs = {
        "g": lambda: [f"g::bigint {op} {lit['b']()}", f"g {op} 2.5", f"g % 3 {op} 1", f"g::float8 {op} {lit['f']()}"],
        "i": lambda: [f"i::bigint {op} {lit['b']()}", f"i {op} {lit['n']()}", f"abs(i::bigint) {op} 50",
              f"i::numeric / 7 {op} {lit['n']()}", f"i::float8 {op} {lit['f']()}"],
        "b": lambda: [f"b {op} {lit['n']()}", f"b / 2 {op} {lit['b']()}", f"b::numeric {op} {lit['big']()}",
              f"b::float8 {op} 1e18", f"b {op} {lit['i']()}::int"],
        "n": lambda: [f"n {op} {lit['i']()}", f"n::float8 {op} {lit['f']()}", f"n * 2 {op} {lit['n']()}",
              f"round(n) {op} {lit['n']()}", f"n::int8 {op} {lit['b']()}" if rng.random() < 0.5 else f"trunc(n) = n"],
        "big": lambda: [f"big {op} {lit['n']()}", f"big::float8 {op} 1e20", f"-big {op} {lit['big']()}"],
        "f": lambda: [f"f {op} {lit['i']()}", f"f::numeric {op} {lit['n']()}" if rng.random() < 0.3 else f"f * 2 {op} 10",
              f"f + 1 {op} {lit['f']()}", f"f {op} {lit['n']()}"],
        "t": lambda: [f"t {op} {lit['t']()}", f"t::varchar(3) {op} {lit['t']()}", f"t {op} 'b'::name"],
        "d": lambda: [f"d {op} {lit['ts']()}", f"d {op} {lit['tz']()}", f"d::timestamp {op} {lit['ts']()}",
              f"extract(year FROM d) {op} {rng.randrange(1994, 2030)}", f"d + 30 {op} {lit['d']()}",
              f"date_trunc('month', d) {op} {lit['ts']()}"],
        "ts": lambda: [f"ts {op} {lit['d']()}", f"ts {op} {lit['tz']()}", f"ts::date {op} {lit['d']()}",
               f"date_trunc('{rng.choice(['year', 'month', 'day', 'hour'])}', ts) {op} {lit['ts']()}",
               f"extract(hour FROM ts) {op} {rng.randrange(24)}"],
        "tz": lambda: [f"tz {op} {lit['ts']()}", f"tz {op} {lit['d']()}", f"tz::date {op} {lit['d']()}",
               f"date_trunc('day', tz) {op} {lit['tz']()}"],
        "u": lambda: [f"u::text {op} {lit['u']()}::text", f"u {op} {lit['u']()}"],
        "tm": lambda: [f"tm {op} {lit['tm']()}", f"extract(hour FROM tm) {op} {rng.randrange(24)}"],
    }
    return rng.choice(exprs[col]())  # only the chosen column's literals are drawn


# The columns of the Iceberg tables, and those the ClickHouse table has with
# the same type (its `flag` is a smallint, it has no `big`, `tz`, `tm`).
FUZZ_ICEBERG = ["g", "i", "b", "n", "big", "f", "t", "d", "ts", "tz", "flag", "u", "tm"]
FUZZ_CLICKHOUSE = ["g", "i", "b", "n", "f", "t", "d", "ts", "u"]


def _param_type(literal: str) -> str:
    """The type of a generated literal, for PREPARE."""
    for cast in ("date", "timestamptz", "timestamp", "float8", "uuid", "time"):
        if literal.endswith("::" + cast):
            return cast
    if literal.startswith("'"):
        return "text"
    if literal in ("true", "false"):
        return "boolean"
    return "bigint" if literal.lstrip("-").isdigit() else "numeric"


def _fuzz_queries(cols: list, seed: int = FUZZ_SEED, params: bool = False) -> list[tuple[list[str], bool]]:
    """Each query as the statements to run: the query itself, or (params)
    PREPAREd under a generic plan with its literals as parameters, then
    EXECUTEd with them."""
    rng = random.Random(seed)
    lit = _fuzz_literals(rng)
    used: list[str] = []
    if params:
        def as_param(make):
            def param():
                used.append(make())
                return f"${len(used)}"
            return param
        lit = {c: as_param(make) for c, make in lit.items()}
    out = []
    minmax = [c for c in ["g", "i", "b", "n", "big", "f", "t", "d", "ts", "tz", "tm"] if c in cols]
    keys = [k for k, needs in [("g", "g"), ("flag", "flag"), ("d", "d"), ("t", "t"), ("date_trunc('year', ts)", "ts"),
                               ("extract(month FROM d)", "d"), ("tz::date", "tz"), ("g, flag", "flag")] if needs in cols]
    sums = "sum(i), sum(b), sum(n), avg(i), avg(n)" + (", sum(big), bool_and(flag), bool_or(flag)" if "flag" in cols else "")
    for _ in range(FUZZ_QUERIES):
        used.clear()
        where = _fuzz_predicate(rng, lit, cols)
        form = rng.randrange(6)
        if form == 0:
            out.append((f"SELECT id FROM {{T}} WHERE {where}", False))
        elif form == 1:
            x = rng.choice(minmax)
            out.append((f"SELECT count(*), count({x}), min({x}), max({x}) FROM {{T}} WHERE {where}", False))
        elif form == 2:
            out.append((f"SELECT {sums} FROM {{T}} WHERE {where}", False))
        elif form == 3:
            k = rng.choice(keys)
            out.append((f"SELECT {k}, count(*), sum(n), min(t), max(f) FROM {{T}} WHERE {where} GROUP BY {k}", False))
        elif form == 4:
            x = rng.choice(minmax + [c for c in ("flag", "u") if c in cols])
            direction = rng.choice(["", " DESC"]) + rng.choice(["", " NULLS FIRST", " NULLS LAST"])
            out.append((f"SELECT id, {x} FROM {{T}} WHERE {where} ORDER BY {x}{direction}, id "
                        f"LIMIT {rng.choice([1, 3, 10, 50])}", True))
        else:
            x = rng.choice(minmax + [c for c in ("u", "flag") if c in cols])
            out.append((f"SELECT count(DISTINCT {x}) FROM {{T}} WHERE {where}", False))
        query, ordered = out.pop()
        if used:
            types = ", ".join(_param_type(v) for v in used)
            out.append(([GENERIC, f"PREPARE f{{S}}({types}) AS {query}", f"EXECUTE f{{S}}({', '.join(used)})"], ordered))
        else:
            out.append(([query], ordered))
    return out


def _fuzz_join_queries(cols: list, seed: int) -> list[tuple[list[str], bool]]:
    """Joins of the facts (filtered by a random predicate) with the dimension
    {D} (g, name, w; NULL keys and values on both sides): inner, outer, semi
    and anti joins, with and without aggregation."""
    rng = random.Random(seed)
    lit = _fuzz_literals(rng)
    out = []
    for _ in range(FUZZ_QUERIES // 2):
        f = f"(SELECT * FROM {{T}} WHERE {_fuzz_predicate(rng, lit, cols)})"
        w = rng.randrange(-1, 6)
        kind = rng.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
        on = rng.choice(["f.g = d.g", f"f.g = d.g AND d.w > {w}", "f.g = d.w", f"f.g = d.g AND f.i > d.w * {w}",
                         "f.g = d.g OR d.g IS NULL" if kind in ("JOIN", "LEFT JOIN") else "f.g = d.g"])
        form = rng.randrange(5)
        if form == 0:
            out.append(([f"SELECT f.id, d.g, d.name, d.w FROM {f} f {kind} {{D}} d ON {on}"], False))
        elif form == 1:
            out.append(([f"SELECT d.name, count(*), count(f.id), sum(f.n), min(f.t) FROM {f} f {kind} {{D}} d "
                         f"ON {on} GROUP BY d.name"], False))
        elif form == 2:
            out.append(([f"SELECT f.id FROM {f} f WHERE f.g {rng.choice(['IN', 'NOT IN'])} "
                         f"(SELECT d.g FROM {{D}} d WHERE d.w > {w})"], False))
        elif form == 3:
            out.append(([f"SELECT count(*) FROM {f} f WHERE {rng.choice(['', 'NOT '])}EXISTS "
                         f"(SELECT 1 FROM {{D}} d WHERE d.g = f.g AND d.name IS NOT NULL)"], False))
        else:
            out.append(([f"SELECT f.id, d.name FROM {f} f {kind} {{D}} d ON {on} "
                         f"ORDER BY d.name NULLS FIRST, f.id NULLS FIRST, d.g LIMIT {rng.choice([1, 5, 20])}"], True))
    return out


FUZZ_UPDATES = ["t = t || '!'", "n = n * 2", "g = NULL", "flag = NOT flag", "d = d + 1", "f = -f", "u = NULL",
                "b = b / 2", "tz = tz + interval '1 hour'", "i = g", "big = -big", "ts = date_trunc('day', ts)",
                "t = upper(t), g = g + 1", "by = NULL, tm = NULL"]


def test_random_writes_match_heap(shapes):
    """Seeded random DELETE, UPDATE and INSERT … SELECT with the random
    predicates, alone or several in one transaction (committed or rolled
    back), on a townlake table and its heap copy: after every step both
    hold the same rows, and a statement that fails fails on both."""
    conn = shapes
    rng = random.Random(FUZZ_SEED + 4)
    lit = _fuzz_literals(rng)
    conn.execute(f"CREATE FOREIGN TABLE shapes.ice_dml ({DDL}) SERVER lake_local OPTIONS "
                 f"(namespace '{NAMESPACE}', table 'ice_dml', partition_by 'bucket(3, id)')")
    conn.execute(f"CREATE TABLE shapes.dml_heap ({DDL})")
    for rows in _batches():
        _copy(conn, "shapes.ice_dml", rows)
        _copy(conn, "shapes.dml_heap", rows)
    everything = "SELECT * FROM {X} ORDER BY id"
    steps, failures, mismatches = 0, 0, []
    next_id = 10**6
    for _ in range(30):
        if conn.execute("SELECT count(*) FROM shapes.dml_heap").fetchone()[0] < 300:
            # refill both from the source rows, under new ids
            refill = [dict(r, id=r["id"] + next_id) for r in _batches()[0]]
            next_id += 10**6
            _copy(conn, "shapes.ice_dml", refill)
            _copy(conn, "shapes.dml_heap", refill)
        script = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            where = _fuzz_predicate(rng, lit, FUZZ_ICEBERG)
            kind = rng.choice([0, 1, 1, 2])
            if kind == 0:
                script.append(f"DELETE FROM {{X}} WHERE {where}")
            elif kind == 1:
                script.append(f"UPDATE {{X}} SET {rng.choice(FUZZ_UPDATES)} WHERE {where}")
            else:
                cols = ", ".join(n for n in NAMES if n != "id")
                script.append(f"INSERT INTO {{X}} (id, {cols}) SELECT id + {next_id}, {cols} FROM {{X}} WHERE {where}")
                next_id += 10**6
        if len(script) > 1:
            script = ["BEGIN"] + script + [rng.choice(["COMMIT", "ROLLBACK"])]
        results = []
        for rel in ("shapes.ice_dml", "shapes.dml_heap"):
            out = []
            try:
                for stmt in script:
                    cur = conn.execute(stmt.replace("{X}", rel))
                    out.append(cur.rowcount if stmt.startswith(("DELETE", "UPDATE", "INSERT")) else None)
            except psycopg.Error as exc:
                out.append(("ERROR", exc.sqlstate))
                conn.execute("ROLLBACK")
            # ids repeat after INSERT … SELECT: compared as multisets
            out.append(sorted(text_result(conn.execute(everything.replace("{X}", rel))), key=repr))
            results.append(out)
        steps += 1
        failures += any(isinstance(r, tuple) for r in results[1])
        if results[0] != results[1]:
            tl, pg = set(results[0][-1]), set(results[1][-1])
            mismatches.append(f"{script}\n   townlake: {str(results[0][:-1])[:300]} ({len(results[0][-1])} rows)"
                              f"\n   postgres: {str(results[1][:-1])[:300]} ({len(results[1][-1])} rows)"
                              f"\n   only townlake's: {sorted(tl - pg)[:3]}\n   only Postgres': {sorted(pg - tl)[:3]}")
            break  # the tables differ from here on
    assert not mismatches, mismatches[0]
    assert failures < steps // 3, failures
    assert conn.execute("SELECT count(*) FROM shapes.dml_heap").fetchone()[0] > 0


@pytest.mark.parametrize("targets,cols,seed", [(("tl", "py"), FUZZ_ICEBERG, FUZZ_SEED + 2),
                                               (("ch",), FUZZ_CLICKHOUSE, FUZZ_SEED + 3)],
                         ids=["iceberg", "clickhouse"])
def test_random_joins_match_heap(shapes, targets, cols, seed):
    conn = shapes
    mismatches = []
    queries = _fuzz_join_queries(cols, seed)
    for target in targets:
        mapping = TARGETS[target]
        for statements, ordered in queries:
            want = run_script(conn, statements, 1, mapping, ordered)
            got = run_script(conn, statements, 0, mapping, ordered)
            if got != want:
                mismatches.append(f"{target}: {statements[-1]}\n   townlake: {str(got)[:300]}\n   postgres: {str(want)[:300]}")
    assert not mismatches, f"{len(mismatches)} of {len(targets) * len(queries)} differ:\n" + "\n".join(mismatches[:15])


@pytest.mark.parametrize("targets,cols,params", [(("tl", "py", "ev"), FUZZ_ICEBERG, False),
                                                  (("tl", "ev"), FUZZ_ICEBERG, True),
                                                  (("ch",), FUZZ_CLICKHOUSE, False),
                                                  (("ch",), FUZZ_CLICKHOUSE, True)],
                         ids=["iceberg", "iceberg-generic-plans", "clickhouse", "clickhouse-generic-plans"])
def test_random_filters_and_aggregates_match_heap(shapes, targets, cols, params):
    conn = shapes
    mismatches, refused = [], 0
    queries = _fuzz_queries(cols, FUZZ_SEED + params, params)
    for target in targets:
        mapping = TARGETS[target]
        for statements, ordered in queries:
            query = statements[-1] if len(statements) == 1 else statements[1]
            want = run_script(conn, statements, 1, mapping, ordered)
            got = run_script(conn, statements, 0, mapping, ordered)
            if any(isinstance(r, tuple) and r[:1] == ("ERROR",) for r in want):
                refused += 1
            if got != want:
                mismatches.append(f"{target}: {query}\n   townlake: {str(got)[:300]}\n   postgres: {str(want)[:300]}")
    assert not mismatches, f"{len(mismatches)} of {len(targets) * len(queries)} differ:\n" + "\n".join(mismatches[:15])
    # the generator's queries are mostly valid SQL: the comparison means something
    assert refused < len(queries) // 10, refused
