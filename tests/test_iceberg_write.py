"""Tables written by townlake (CREATE FOREIGN TABLE ... partition_by, INSERT,
COPY, DELETE, UPDATE, TRUNCATE): townlake's own SELECT, PyIceberg and DuckDB
each return the source rows, which come from Python or from a heap table that
received the same statements (never from townlake's own read); and PyIceberg
writing into tables that townlake created."""

from __future__ import annotations

import datetime as dt
import decimal
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.types import (BinaryType, BooleanType, DateType, DecimalType, DoubleType,
                             FloatType, IntegerType, LongType, StringType, TimestampType,
                             TimestamptzType, TimeType, UUIDType)

from lakedata import days_from_civil, micros_from_civil
from lakehelpers import expect_error
from writehelpers import (Mirrored, assert_readers_agree, column_kinds, data_files, heap_copy, live_data_files,
                          load, local_path, snapshot_count, snapshots)

ALL_TYPES_DDL = """
    id bigint NOT NULL,
    c_bool boolean,
    c_small smallint,
    c_int integer,
    c_long bigint,
    c_float real,
    c_double double precision,
    c_dec numeric(12,3),
    c_date date,
    c_time time,
    c_ts timestamp,
    c_tstz timestamptz,
    c_text text,
    c_varchar varchar(20),
    c_json json,
    c_jsonb jsonb,
    c_uuid uuid,
    c_bytea bytea
"""

# The Iceberg type each column must get (and whether it is required).
ALL_TYPES_ICEBERG = {
    "id": (LongType(), True), "c_bool": (BooleanType(), False), "c_small": (IntegerType(), False),
    "c_int": (IntegerType(), False), "c_long": (LongType(), False), "c_float": (FloatType(), False),
    "c_double": (DoubleType(), False), "c_dec": (DecimalType(12, 3), False),
    "c_date": (DateType(), False), "c_time": (TimeType(), False), "c_ts": (TimestampType(), False),
    "c_tstz": (TimestamptzType(), False), "c_text": (StringType(), False),
    "c_varchar": (StringType(), False), "c_json": (StringType(), False),
    "c_jsonb": (StringType(), False), "c_uuid": (UUIDType(), False), "c_bytea": (BinaryType(), False),
}

# Generated rows: each optional column is NULL for one id residue out of 7..13.
ALL_TYPES_SELECT = """
SELECT g,
       CASE WHEN g % 7 = 1 THEN NULL ELSE g % 2 = 0 END,
       CASE WHEN g % 8 = 1 THEN NULL ELSE (g % 600 - 300)::smallint END,
       CASE WHEN g % 9 = 1 THEN NULL ELSE (g * 7919 % 200001 - 100000)::int END,
       CASE WHEN g % 10 = 1 THEN NULL ELSE g::bigint * 1000003 * 1000003 - 4000000000000 END,
       CASE WHEN g % 11 = 1 THEN NULL ELSE (g / 7.0)::real END,
       CASE WHEN g % 12 = 1 THEN NULL ELSE g * 1.0e-3 - 0.5 END,
       CASE WHEN g % 13 = 1 THEN NULL ELSE (g * 37 % 100000 - 50000) / 1000.0 END,
       CASE WHEN g % 7 = 2 THEN NULL ELSE DATE '1999-12-25' + g * 3 END,
       CASE WHEN g % 8 = 2 THEN NULL ELSE TIME '00:00:00' + g * interval '37.123457 seconds' END,
       CASE WHEN g % 9 = 2 THEN NULL ELSE TIMESTAMP '2024-01-01' + g * interval '1 hour 1.000001 seconds' END,
       CASE WHEN g % 10 = 2 THEN NULL ELSE TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '59 minutes' END,
       CASE WHEN g % 11 = 2 THEN NULL ELSE (ARRAY['apple', 'o''neil', 'ünïcode ✓', '', 'tab	x'])[1 + g % 5] || g END,
       CASE WHEN g % 12 = 2 THEN NULL ELSE 'v' || g END,
       CASE WHEN g % 13 = 2 THEN NULL ELSE json_build_object('g', g, 'odd', g % 2 = 1) END,
       CASE WHEN g % 7 = 3 THEN NULL ELSE jsonb_build_object('k', g, 'l', jsonb_build_array(g, 'x')) END,
       CASE WHEN g % 8 = 3 THEN NULL ELSE md5(g::text)::uuid END,
       CASE WHEN g % 9 = 3 THEN NULL ELSE decode(md5(g::text), 'hex') END
FROM generate_series({first}, {last}) g
"""

EXTREMES = """
INSERT INTO {t} VALUES
 (-9223372036854775808, true, -32768, -2147483648, -9223372036854775808, -3.4e38, -1.7e308,
  -999999999.999, '0001-01-01', '00:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00',
  '', '', '{{}}', '[]', '00000000-0000-0000-0000-000000000000', ''),
 (9223372036854775807, false, 32767, 2147483647, 9223372036854775807, 3.4e38, 1.7e308,
  999999999.999, '9999-12-31', '23:59:59.999999', '2262-04-11 23:47:16.854775', '1677-09-21 00:12:44+00',
  repeat('x', 5000), 'quote '' and "', '"scalar"', 'null', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '\\x00ff00'),
 (0, NULL, NULL, NULL, NULL, 'NaN', '-Infinity', 0, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL)
"""


def create(conn, ns: str, name: str, columns: str, partition_by: str | None = None,
           server: str = "lake_local") -> str:
    """CREATE FOREIGN TABLE <ns>.<name> (...) creating the Iceberg table <ns>.<name>."""
    options = f"namespace '{ns}', table '{name}'"
    if partition_by:
        options += f", partition_by '{partition_by}'"
    relation = f'"{ns}"."{name}"'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {relation}")
    conn.execute(f"CREATE FOREIGN TABLE {relation} ({columns}) SERVER {server} OPTIONS ({options})")
    return relation


# ---------------------------------------------------------------- all types

@pytest.fixture(scope="module")
def all_types(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "all_types", ALL_TYPES_DDL)
    conn.execute("DROP TABLE IF EXISTS all_types_src")
    conn.execute(f"CREATE TEMP TABLE all_types_src ({ALL_TYPES_DDL})")
    for target in (relation, "all_types_src"):
        conn.execute(f"INSERT INTO {target} " + ALL_TYPES_SELECT.format(first=1, last=400))
        conn.execute(EXTREMES.format(t=target))
    return relation


def test_create_registers_a_v2_table_with_mapped_types(all_types, conn, write_ns, local_lake):
    table = load(local_lake.catalog, write_ns, "all_types")
    assert table.metadata.format_version == 2
    fields = {f.name: (f.field_type, f.required) for f in table.schema().fields}
    assert fields == ALL_TYPES_ICEBERG
    ids = [f.field_id for f in table.schema().fields]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # <warehouse>/<namespace>/<table>-<8 hex>: unique per created table
    assert re.search(rf"/{write_ns}/all_types-[0-9a-f]{{8}}$", table.location().rstrip("/"))
    row = conn.execute("SELECT count(*) FROM lake.iceberg_tables WHERE catalog_name = 'lake_local' "
                       "AND table_namespace = %s AND table_name = 'all_types'", (write_ns,)).fetchone()
    assert row == (1,)


def test_all_types_read_by_pyiceberg_and_duckdb(all_types, conn, write_ns, local_lake):
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "all_types", all_types,
                                source="all_types_src") == 403


def test_nulls_survive(all_types, conn):
    """Every optional column has NULLs, and NULL counts match a heap copy of the same rows."""
    kinds = column_kinds(conn, all_types)
    counts = ", ".join(f'count("{c}")' for c in kinds)
    ours = conn.execute(f"SELECT {counts} FROM {all_types}").fetchone()
    heap = conn.execute(f"SELECT {counts} FROM all_types_src").fetchone()
    assert ours == heap
    assert all(n < 403 for n in ours[1:]), "each optional column should hold NULLs"


# ---------------------------------------------------------------- edge values from Python

EDGE_DDL = """
    id integer NOT NULL, c_bool boolean, c_small smallint, c_int integer, c_long bigint,
    c_float real, c_double double precision, c_dec numeric(38,10), c_dec0 numeric(38,0), c_frac numeric(5,5),
    c_date date, c_time time, c_ts timestamp, c_tstz timestamptz, c_text text, c_varchar varchar(10),
    c_jsonb jsonb, c_uuid uuid, c_bytea bytea
"""
EDGE_CASTS = ["integer", "boolean", "smallint", "integer", "bigint", "real", "double precision",
              "numeric", "numeric", "numeric", "date", "time", "timestamp", "timestamptz", "text",
              "varchar", "jsonb", "uuid", "bytea"]

# Per column: (value sent to Postgres, value the source row holds). Temporal
# values are sent as text (Python cannot hold most of them) and expected as
# days or microseconds since the Unix epoch, computed here without Postgres.
DEC38 = "9999999999999999999999999999.9999999999"
EDGE_COLUMNS = {
    "c_bool": [(True, True), (False, False)],
    "c_small": [(v, v) for v in (-32768, 32767, 0, -1)],
    "c_int": [(v, v) for v in (-2**31, 2**31 - 1, 0)],
    "c_long": [(v, v) for v in (-2**63, 2**63 - 1, 0, 2**53 + 1)],
    "c_float": [(v, v) for v in (float("nan"), float("inf"), float("-inf"), -0.0, 0.0,
                                 3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45,
                                 1.1754943508222875e-38, 0.1)],
    "c_double": [(v, v) for v in (float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1.7976931348623157e308,
                                  -1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 0.1 + 0.2)],
    "c_dec": [(v, decimal.Decimal(v)) for v in (DEC38, "-" + DEC38, "0.0000000001", "-0.0000000001", "0",
                                                "1234567890123456789012345678.0123456789")],
    "c_dec0": [(v, decimal.Decimal(v)) for v in ("9" * 38, "-" + "9" * 38, "0", "1")],
    "c_frac": [(v, decimal.Decimal(v)) for v in ("0.99999", "-0.99999", "0.00001", "0")],
    "c_date": [("0001-01-01", days_from_civil(1, 1, 1)), ("9999-12-31", days_from_civil(9999, 12, 31)),
               ("4713-01-01 BC", days_from_civil(-4712, 1, 1)),
               ("5874897-12-31", days_from_civil(5874897, 12, 31)),
               ("1970-01-01", 0), ("1969-12-31", -1), ("2000-02-29", days_from_civil(2000, 2, 29))],
    "c_time": [("00:00:00", 0), ("23:59:59.999999", 86_399_999_999), ("12:34:56.000001", 45_296_000_001)],
    "c_ts": [("4713-01-01 00:00:00 BC", micros_from_civil(-4712, 1, 1)),
             ("294247-01-10 04:00:54.775807", 2**63 - 1),  # the last microsecond Iceberg can hold
             ("1969-12-31 23:59:59.999999", -1), ("1970-01-01 00:00:00", 0),
             ("9999-12-31 23:59:59.999999", micros_from_civil(9999, 12, 31, 23, 59, 59, 999_999))],
    "c_tstz": [("2024-07-01 12:00:00 Asia/Kathmandu", micros_from_civil(2024, 7, 1, 12, offset_seconds=5 * 3600 + 45 * 60)),
               ("2024-01-01 00:00:00+14", micros_from_civil(2024, 1, 1, offset_seconds=14 * 3600)),
               ("2024-01-01 00:00:00-12", micros_from_civil(2024, 1, 1, offset_seconds=-12 * 3600)),
               # twice on that night: Postgres takes standard time (EST)
               ("2024-11-03 01:30:00 America/New_York", micros_from_civil(2024, 11, 3, 1, 30, offset_seconds=-5 * 3600)),
               ("1900-01-01 00:00:00 Europe/Amsterdam", micros_from_civil(1900, 1, 1, offset_seconds=19 * 60 + 32)),
               ("4713-01-01 00:00:00+00 BC", micros_from_civil(-4712, 1, 1)),
               ("294247-01-10 04:00:54.775807+00", 2**63 - 1)],
    "c_text": [(v, v) for v in ("", " ", "a\tb\nc\\d\r", "o'neil \"q\"", "😀👩‍👩‍👧 emoji", "e\u0301 combining",
                                "עברית RTL", "中文字符", "\u200b zero width", "NULL", "\\N", "x" * 100_000)],
    "c_varchar": [(v, v) for v in ("", "ünïcødé✓!", "1234567890")],
    "c_uuid": [(v, v) for v in ("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
                                "123e4567-e89b-12d3-a456-426614174000")],
    "c_bytea": [(v, v) for v in (b"", b"\x00", bytes(range(256)), b"\xff" * 1000)],
}
# jsonb's text is Postgres' normal form: Postgres (not townlake) computes it
EDGE_JSON = ["{}", "[]", '"x"', "null", '{"b": [1, 2.50, {"c": null}], "a": "ü ✓", "a": "dup"}', "1e400"]


def _edge_rows(conn) -> tuple[list[tuple], list[tuple]]:
    """(rows to send, source rows) with every edge value, one column value
    per row, the rest NULL; the last row is NULL in every optional column."""
    columns = list(EDGE_COLUMNS) + ["c_jsonb"]
    json_pairs = [(v, conn.execute("SELECT %s::jsonb::text", (v,)).fetchone()[0]) for v in EDGE_JSON]
    values = {**EDGE_COLUMNS, "c_jsonb": json_pairs}
    count = max(len(v) for v in values.values()) + 1
    order = ["c_bool", "c_small", "c_int", "c_long", "c_float", "c_double", "c_dec", "c_dec0", "c_frac",
             "c_date", "c_time", "c_ts", "c_tstz", "c_text", "c_varchar", "c_jsonb", "c_uuid", "c_bytea"]
    assert sorted(order) == sorted(columns)
    sent, source = [], []
    for row_id in range(count):
        pairs = [values[c][row_id] if row_id < len(values[c]) else (None, None) for c in order]
        sent.append((row_id, *(p[0] for p in pairs)))
        source.append((row_id, *(p[1] for p in pairs)))
    return sent, source


def test_edge_values_match_the_python_source(conn, write_ns, local_lake):
    """Extremes, NaN and infinities, -0.0, 38-digit decimals, far dates and
    times, time zones, unicode and empty strings, sent from Python: every
    reader returns exactly the values Python sent."""
    relation = create(conn, write_ns, "edges", EDGE_DDL)
    sent, source = _edge_rows(conn)
    placeholders = ", ".join(f"%s::{cast}" for cast in EDGE_CASTS)
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {relation} VALUES ({placeholders})", sent)
        # a literal without an offset is in the session's TimeZone (+13:45 in January)
        conn.execute("SET LOCAL TimeZone = 'Pacific/Chatham'")
        conn.execute(f"INSERT INTO {relation} (id, c_tstz) VALUES (1000, '2024-01-15 08:00:00')")
    source.append((1000, *([None] * 12), micros_from_civil(2024, 1, 15, 8, offset_seconds=13 * 3600 + 45 * 60),
                   *([None] * 5)))
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "edges", relation, source=source) == len(source)
    # NaN, -0.0 and the infinities are stored as such, not only read back alike
    table = load(local_lake.catalog, write_ns, "edges")
    floats = table.scan(selected_fields=("c_double",)).to_arrow().column("c_double").to_pylist()
    assert sum(1 for v in floats if v is not None and v != v) == 1
    assert [v.hex() for v in floats if v == 0].count((-0.0).hex()) == 1


@pytest.mark.parametrize("column, value, fragment", [
    ("c_date", "infinity", "infinite dates cannot be stored"),
    ("c_date", "-infinity", "infinite dates cannot be stored"),
    ("c_ts", "infinity", "infinite timestamps cannot be stored"),
    ("c_tstz", "-infinity", "infinite timestamps cannot be stored"),
    ("c_ts", "294247-01-10 04:00:54.775808", "cannot be stored in Iceberg"),
    ("c_tstz", "294276-12-31 23:59:59+00", "cannot be stored in Iceberg"),
    ("c_dec", "NaN", "not a finite decimal"),
    ("c_double", "NaN", None),  # a control: NaN is a double like any other
])
def test_values_iceberg_cannot_hold_are_errors(column, value, fragment, conn, write_ns):
    """Postgres values outside Iceberg's types are an ERROR naming the column,
    never a silently different value."""
    relation = create(conn, write_ns, "unholdable", "id integer NOT NULL, c_date date, c_ts timestamp, "
                                                    "c_tstz timestamptz, c_dec numeric(38,10), c_double float8")
    conn.execute(f"INSERT INTO {relation} (id) VALUES (1)")
    before = snapshot_count(conn, relation)
    statement = f"INSERT INTO {relation} (id, {column}) VALUES (2, '{value}')"
    if fragment is None:
        conn.execute(statement)
        assert snapshot_count(conn, relation) == before + 1
        return
    expect_error(conn, statement, f'"{column}"', fragment)
    assert snapshot_count(conn, relation) == before
    assert conn.execute(f"SELECT count(*) FROM {relation}").fetchone() == (1,)


def test_data_files_are_zstd_parquet_with_column_stats(all_types, write_ns, local_lake):
    table = load(local_lake.catalog, write_ns, "all_types")
    files = data_files(table)
    assert files
    for f in files:
        assert f.file_path.endswith(".parquet") and str(f.file_format).endswith("PARQUET")
        meta = pq.ParquetFile(local_path(f.file_path)).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        assert meta.num_rows == f.record_count
    schema = table.schema()
    for name in ("id", "c_int", "c_tstz", "c_dec", "c_date"):
        field_id = schema.find_field(name).field_id
        for f in files:
            assert field_id in f.lower_bounds and field_id in f.upper_bounds, f"no bounds for {name}"
            assert field_id in f.null_value_counts and field_id in f.value_counts
    # strings: a file holding a 5000-character value may go without bounds
    # for that column (Iceberg's default metrics mode truncates them to 16);
    # the file of generated rows has them
    text_id = schema.find_field("c_text").field_id
    assert any(text_id in f.lower_bounds and text_id in f.upper_bounds for f in files)
    assert sum(f.record_count for f in files) == 403
    assert sum(f.null_value_counts[schema.find_field("c_text").field_id] for f in files) == \
        sum(1 for g in range(1, 401) if g % 11 == 2) + 1


def test_copy_from_stdin(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "copied", "id bigint NOT NULL, name text, amount numeric(10,2), "
                                                "at timestamptz")
    data = "".join(f"{i}\tname {i}\t{i * 1.25:.2f}\t2024-03-{1 + i % 28:02d} 12:00:00+00\n" for i in range(1, 2001))
    data += "2001\t\\N\t\\N\t\\N\n"
    with conn.cursor().copy(f"COPY {relation} FROM STDIN") as copy:
        copy.write(data)
    csv = "id,name,amount,at\n3001,\"with, comma\",1.50,2024-04-01T00:00:00Z\n"
    with conn.cursor().copy(f"COPY {relation} FROM STDIN (FORMAT csv, HEADER true)") as copy:
        copy.write(csv)
    assert conn.execute(f"SELECT count(*), sum(amount) FROM {relation}").fetchone() == \
        (2002, decimal.Decimal(sum(i * 125 for i in range(1, 2001))) / 100 + decimal.Decimal("1.50"))
    source = [(i, f"name {i}", decimal.Decimal(i * 125) / 100,
               micros_from_civil(2024, 3, 1 + i % 28, 12)) for i in range(1, 2001)]
    source += [(2001, None, None, None), (3001, "with, comma", decimal.Decimal("1.50"), micros_from_civil(2024, 4, 1))]
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "copied", relation, source=source) == 2002


def test_insert_values_returning(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "returning", "id int NOT NULL, label text")
    rows = conn.execute(f"INSERT INTO {relation} VALUES (1, 'a'), (2, NULL) RETURNING id, label").fetchall()
    assert sorted(rows) == [(1, "a"), (2, None)]
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "returning", relation,
                                source=[(1, "a"), (2, None)]) == 2


def test_small_files_and_row_groups_settings(conn, write_ns, local_lake):
    """townlake.iceberg_target_file_size_mb and row_group_rows shape the files; the rows are the same."""
    relation = create(conn, write_ns, "many_files", "id bigint NOT NULL, payload text")
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_target_file_size_mb = 1")
        conn.execute("SET LOCAL townlake.iceberg_row_group_rows = 2048")
        conn.execute("SET LOCAL townlake.iceberg_write_batch_rows = 1000")
        conn.execute(f"INSERT INTO {relation} SELECT g, md5(g::text) || md5((g * 7)::text) "
                     f"FROM generate_series(1, 60000) g")
    table = load(local_lake.catalog, write_ns, "many_files")
    paths = live_data_files(table)
    assert len(paths) >= 2, "a 1 MB target should split ~4 MB of text into several files"
    groups = [pq.ParquetFile(local_path(p)).metadata for p in paths]
    assert max(m.row_group(i).num_rows for m in groups for i in range(m.num_row_groups)) <= 2048
    assert sum(m.num_rows for m in groups) == 60000
    source = "(SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 60000) g) s"
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "many_files", relation, source=source) == 60000


# ---------------------------------------------------------------- partitions

EVENTS_DDL = ("id bigint NOT NULL, ts timestamp, tstz timestamptz, d date, category text, "
              "n integer, big bigint, amount numeric(12,2)")

EVENTS_SELECT = """
SELECT g,
       TIMESTAMP '2023-12-30 22:00:00' + g * interval '17 minutes 13 seconds',
       TIMESTAMPTZ '2023-12-30 22:00:00+00' + g * interval '17 minutes 13 seconds',
       DATE '2023-11-15' + g / 7,
       (ARRAY['alpha', 'alpine', 'beta', 'betamax', 'gamma', NULL])[1 + g % 6],
       CASE WHEN g % 10 = 0 THEN NULL ELSE g % 37 - 5 END,
       g * 1000003,
       (g * 7919 % 100000) / 100.0
FROM generate_series(1, 700) g
"""

# partition_by -> (Iceberg transform name per field, source column per field)
SPECS = {
    "category": (["identity"], ["category"]),
    "n": (["identity"], ["n"]),
    "year(d)": (["year"], ["d"]),
    "year(tstz)": (["year"], ["tstz"]),
    "month(ts)": (["month"], ["ts"]),
    "month(d)": (["month"], ["d"]),
    "day(tstz)": (["day"], ["tstz"]),
    "day(d)": (["day"], ["d"]),
    "hour(ts)": (["hour"], ["ts"]),
    "hour(tstz)": (["hour"], ["tstz"]),
    "bucket(8, id)": (["bucket[8]"], ["id"]),
    "bucket(5, n)": (["bucket[5]"], ["n"]),
    "bucket(4, category)": (["bucket[4]"], ["category"]),
    "bucket(3, amount)": (["bucket[3]"], ["amount"]),
    "truncate(3, category)": (["truncate[3]"], ["category"]),
    "truncate(10, n)": (["truncate[10]"], ["n"]),
    "truncate(10000000, big)": (["truncate[10000000]"], ["big"]),
    "truncate(500, amount)": (["truncate[500]"], ["amount"]),
    "day(tstz), bucket(4, id), truncate(2, category)": (
        ["day", "bucket[4]", "truncate[2]"], ["tstz", "id", "category"]),
    "month(d), n": (["month", "identity"], ["d", "n"]),
}

# (townlake WHERE, PyIceberg row filter): PyIceberg prunes files by their
# partition values, so a wrongly computed partition value loses rows here.
PROBES = [
    ("id = 17", "id == 17"),
    ("id IN (3, 300, 599)", "id in (3, 300, 599)"),
    ("category = 'beta'", "category == 'beta'"),
    ("category = 'alpine'", "category == 'alpine'"),
    ("category IS NULL", "category is null"),
    ("n = 7", "n == 7"),
    ("n IS NULL", "n is null"),
    ("n < 0", "n < 0"),
    ("big = 300000900", "big == 300000900"),
    ("amount = 2.50", "amount == 2.50"),
    ("d >= '2024-01-01'", "d >= '2024-01-01'"),
    ("d = '2023-12-31'", "d == '2023-12-31'"),
    ("ts >= '2024-01-02 05:00:00' AND ts < '2024-01-02 06:00:00'",
     "ts >= '2024-01-02T05:00:00' and ts < '2024-01-02T06:00:00'"),
    ("ts < '2024-01-01 00:00:00'", "ts < '2024-01-01T00:00:00'"),
    ("tstz >= '2024-01-03 00:00:00+00' AND tstz < '2024-01-04 00:00:00+00'",
     "tstz >= '2024-01-03T00:00:00+00:00' and tstz < '2024-01-04T00:00:00+00:00'"),
]


def _spec_name(spec: str) -> str:
    return "p_" + "".join(ch if ch.isalnum() else "_" for ch in spec).strip("_")[:50]


@pytest.mark.parametrize("spec", list(SPECS), ids=list(SPECS))
def test_partition_transform(spec, conn, write_ns, local_lake):
    name = _spec_name(spec)
    relation = create(conn, write_ns, name, EVENTS_DDL, partition_by=spec)
    mirror = Mirrored(conn, relation, heap_copy(conn, relation, "events_src"))
    mirror.execute("INSERT INTO {t} " + EVENTS_SELECT)
    # a second transaction, so partitions get files from two snapshots
    mirror.execute("INSERT INTO {t} SELECT id + 1000, ts, tstz, d, category, n, big, amount "
                   "FROM {t} WHERE id % 5 = 0")
    table = load(local_lake.catalog, write_ns, name)
    transforms, sources = SPECS[spec]
    fields = table.spec().fields
    assert [str(f.transform) for f in fields] == transforms
    assert [table.schema().find_field(f.source_id).name for f in fields] == sources
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, name, relation, source="events_src") == 840
    for where, row_filter in PROBES:
        expected = conn.execute(f"SELECT count(*) FROM events_src WHERE {where}").fetchone()[0]
        ours = conn.execute(f"SELECT count(*) FROM {relation} WHERE {where}").fetchone()[0]
        theirs = table.scan(row_filter=row_filter, selected_fields=("id",)).to_arrow().num_rows
        assert ours == theirs == expected, \
            f"{spec}: WHERE {where}: townlake {ours}, PyIceberg {theirs}, heap {expected}"
    check_partition_values(table)


def check_partition_values(table) -> None:
    """Each data file's partition tuple is what PyIceberg's own transforms
    compute from the rows inside the file."""
    spec = table.spec()
    schema = table.schema()
    for f in data_files(table):
        data = pq.read_table(local_path(f.file_path))
        for position, field in enumerate(spec.fields):
            source = schema.find_field(field.source_id)
            column = data.column(source.name)
            if str(field.transform) == "identity":
                computed = column.to_pylist()
            else:
                computed = field.transform.pyarrow_transform(source.field_type)(column).to_pylist()
            expected = f.partition[position]
            values = {_partition_value(v) for v in computed}
            assert values == {_partition_value(expected)}, \
                f"{f.file_path}: field {field.name}: file holds {values}, manifest says {expected!r}"


def _partition_value(value):
    """Partition values as PyIceberg's inspect shows them vs as transforms compute them."""
    epoch = dt.date(1970, 1, 1)
    if isinstance(value, dt.datetime):
        return int((value.replace(tzinfo=None) - dt.datetime(1970, 1, 1)).total_seconds() // 3600)
    if isinstance(value, dt.date):
        return (value - epoch).days
    if isinstance(value, decimal.Decimal):
        return value.normalize()
    return value


def test_partitioned_write_fans_out_with_few_open_writers(conn, write_ns, local_lake):
    """max_open_partitions bounds open writers; with 1 open writer, 50 interleaved
    partitions still give correct data (possibly more files per partition)."""
    relation = create(conn, write_ns, "fanout", "id bigint NOT NULL, k integer", partition_by="k")
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_max_open_partitions = 1")
        conn.execute(f"INSERT INTO {relation} SELECT g, g % 50 FROM generate_series(1, 5000) g")
    table = load(local_lake.catalog, write_ns, "fanout")
    partitions = {f.partition[0] for f in data_files(table)}
    assert partitions == set(range(50))
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "fanout", relation,
                                source=[(g, g % 50) for g in range(1, 5001)]) == 5000
    assert conn.execute(f"SELECT count(*) FROM {relation} WHERE k = 7").fetchone() == (100,)


def test_partition_pruning_on_written_table(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "pruned", EVENTS_DDL, partition_by="day(tstz)")
    conn.execute(f"INSERT INTO {relation} " + EVENTS_SELECT)
    plan = "\n".join(r[0] for r in conn.execute(
        f"EXPLAIN SELECT count(*) FROM {relation} "
        f"WHERE tstz >= '2024-01-03 00:00:00+00' AND tstz < '2024-01-04 00:00:00+00'"))
    import re
    planned, skipped = map(int, re.search(r"Data Files: (\d+) planned, (\d+) skipped", plan).groups())
    assert planned == 1 and skipped >= 7, plan


# ---------------------------------------------------------------- after DML

DML_DDL = "id bigint NOT NULL, day date, account integer, amount numeric(10,2), note text"


@pytest.fixture()
def dml(conn, write_ns, local_lake) -> Mirrored:
    relation = create(conn, write_ns, "dml", DML_DDL, partition_by="day")
    mirror = Mirrored(conn, relation, heap_copy(conn, relation, "dml_src"))
    mirror.execute("INSERT INTO {t} SELECT g, DATE '2024-05-01' + g % 6, g % 13, g * 0.5, "
                   "'note ' || g FROM generate_series(1, 1200) g")
    return mirror


def _check(conn, local_lake, ns, mirror: Mirrored):
    return assert_readers_agree(conn, local_lake.catalog, ns, "dml", mirror.relation, source=mirror.heap)


def test_delete_whole_partition_drops_files(dml, conn, write_ns, local_lake):
    before = len(live_data_files(load(local_lake.catalog, write_ns, "dml")))
    assert dml.execute("DELETE FROM {t} WHERE day = '2024-05-02'") == 200
    snapshot = snapshots(conn, dml.relation)[-1]
    assert snapshot[2] == "delete"
    summary = snapshot[3]
    assert summary["added-data-files"] == "0" and int(summary["deleted-data-files"]) >= 1
    assert len(live_data_files(load(local_lake.catalog, write_ns, "dml"))) < before
    assert _check(conn, local_lake, write_ns, dml) == 1000


def test_delete_some_rows_rewrites(dml, conn, write_ns, local_lake):
    deleted = conn.execute(f"DELETE FROM {dml.relation} WHERE id % 10 = 3 RETURNING id, amount").fetchall()
    assert sorted(deleted) == [(i, decimal.Decimal(i) / 2) for i in range(3, 1201, 10)]
    conn.execute(f"DELETE FROM {dml.heap} WHERE id % 10 = 3")
    operation, summary = snapshots(conn, dml.relation)[-1][2:]
    assert operation == "overwrite"
    # as Iceberg's Java summary does: records of the removed files, of the rewritten ones
    assert int(summary["added-data-files"]) >= 1
    assert int(summary["deleted-records"]) - int(summary["added-records"]) == 120
    assert _check(conn, local_lake, write_ns, dml) == 1080
    assert conn.execute(f"SELECT count(*) FROM {dml.relation} WHERE id % 10 = 3").fetchone() == (0,)


def test_delete_nothing_matches(dml, conn, write_ns, local_lake):
    count = len(snapshots(conn, dml.relation))
    assert dml.execute("DELETE FROM {t} WHERE id < 0") == 0
    assert len(snapshots(conn, dml.relation)) == count, "a DELETE that removes nothing commits no snapshot"
    assert _check(conn, local_lake, write_ns, dml) == 1200


def test_update_rows_and_partition_column(dml, conn, write_ns, local_lake):
    updated = dml.execute("UPDATE {t} SET amount = amount * 2, note = NULL WHERE account = 4")
    assert updated == sum(1 for i in range(1, 1201) if i % 13 == 4)
    assert dml.execute("UPDATE {t} SET day = '2024-06-30' WHERE id <= 10") == 10
    assert _check(conn, local_lake, write_ns, dml) == 1200
    row = conn.execute(f"SELECT day, amount, note FROM {dml.relation} WHERE id = 4").fetchone()
    assert row == (dt.date(2024, 6, 30), decimal.Decimal("4.00"), None)
    table = load(local_lake.catalog, write_ns, "dml")
    assert table.scan(row_filter="day == '2024-06-30'").to_arrow().num_rows == 10
    expected_sum = sum(decimal.Decimal(i) / 2 * (2 if i % 13 == 4 else 1) for i in range(1, 1201))
    assert conn.execute(f"SELECT sum(amount) FROM {dml.relation}").fetchone()[0] == expected_sum


def test_truncate_then_insert_is_one_replace(dml, conn, write_ns, local_lake):
    before = len(snapshots(conn, dml.relation))
    with conn.transaction():
        dml.execute("TRUNCATE {t}")
        dml.execute("INSERT INTO {t} SELECT g, DATE '2024-07-01', 1, 1, 'new' FROM generate_series(1, 50) g")
    after = snapshots(conn, dml.relation)
    assert len(after) == before + 1
    assert after[-1][2] == "overwrite"
    assert _check(conn, local_lake, write_ns, dml) == 50
    dml.execute("TRUNCATE {t}")
    assert conn.execute(f"SELECT count(*) FROM {dml.relation}").fetchone() == (0,)
    assert load(local_lake.catalog, write_ns, "dml").scan().to_arrow().num_rows == 0


def test_delete_returning_and_no_delete_files(dml, conn, write_ns, local_lake):
    """Copy-on-write: a DELETE never leaves delete files (DuckDB's read_parquet
    over the data files is then complete)."""
    dml.execute("DELETE FROM {t} WHERE account IN (1, 2)")
    dml.execute("UPDATE {t} SET note = 'x' WHERE account = 3")
    table = load(local_lake.catalog, write_ns, "dml")
    assert {int(f.content) for f in data_files(table)} == {0}
    assert _check(conn, local_lake, write_ns, dml) == sum(1 for i in range(1, 1201) if i % 13 not in (1, 2))


# ---------------------------------------------------------------- PyIceberg on townlake tables

def test_pyiceberg_appends_to_a_townlake_table(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "shared", "id bigint NOT NULL, label text, at timestamptz",
                      partition_by="day(at)")
    mirror = Mirrored(conn, relation, heap_copy(conn, relation, "shared_src"))
    mirror.execute("INSERT INTO {t} SELECT g, 'pg ' || g, "
                   "TIMESTAMPTZ '2024-02-01 00:00:00+00' + g * interval '1 hour' FROM generate_series(1, 100) g")
    table = load(local_lake.catalog, write_ns, "shared")
    rows = [{"id": 1000 + i, "label": f"py {i}",
             "at": dt.datetime(2024, 2, 3, i % 24, tzinfo=dt.timezone.utc)} for i in range(50)]
    table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {mirror.heap} VALUES (%(id)s, %(label)s, %(at)s)", rows)
    # townlake sees PyIceberg's commit at its next statement, and appends on top of it
    assert conn.execute(f"SELECT count(*) FROM {relation}").fetchone() == (150,)
    mirror.execute("INSERT INTO {t} VALUES (5000, 'pg again', '2024-02-05 00:00:00+00')")
    # townlake deletes and updates rows in files PyIceberg wrote
    assert mirror.execute("DELETE FROM {t} WHERE id BETWEEN 1000 AND 1009") == 10
    assert mirror.execute("UPDATE {t} SET label = 'changed' WHERE id BETWEEN 1040 AND 1049") == 10
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "shared", relation, source=mirror.heap) == 141
    operations = [s[2] for s in snapshots(conn, relation)]
    assert operations[:3] == ["append", "append", "append"]


def test_pyiceberg_overwrite_then_townlake_writes(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "py_overwrite", "id bigint NOT NULL, v text")
    conn.execute(f"INSERT INTO {relation} SELECT g, 'a' FROM generate_series(1, 10) g")
    table = load(local_lake.catalog, write_ns, "py_overwrite")
    table.overwrite(pa.Table.from_pylist([{"id": 100, "v": "b"}], schema=table.schema().as_arrow()))
    assert conn.execute(f"SELECT id, v FROM {relation}").fetchall() == [(100, "b")]
    conn.execute(f"INSERT INTO {relation} VALUES (101, 'c')")
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "py_overwrite", relation,
                                source=[(100, "b"), (101, "c")]) == 2


def test_attach_existing_table_and_write(conn, write_ns, local_lake):
    """A second foreign table over the same Iceberg table (no partition_by:
    it attaches) writes into it too."""
    relation = create(conn, write_ns, "attached", "id bigint NOT NULL, v text", partition_by="bucket(2, id)")
    conn.execute(f"INSERT INTO {relation} VALUES (1, 'one')")
    conn.execute(f'DROP FOREIGN TABLE IF EXISTS "{write_ns}".attached_again')
    conn.execute(f'CREATE FOREIGN TABLE "{write_ns}".attached_again (v text, id bigint) SERVER lake_local '
                 f"OPTIONS (namespace '{write_ns}', table 'attached')")
    conn.execute(f"INSERT INTO \"{write_ns}\".attached_again VALUES ('two', 2)")
    assert conn.execute(f"SELECT id, v FROM {relation} ORDER BY id").fetchall() == [(1, "one"), (2, "two")]
    table = load(local_lake.catalog, write_ns, "attached")
    assert [str(f.transform) for f in table.spec().fields] == ["bucket[2]"]
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "attached", relation,
                                source=[(1, "one"), (2, "two")]) == 2


# ---------------------------------------------------------------- S3

def test_write_through_s3_server(conn, s3_lake):
    relation = '"s3w"."events"'
    conn.execute("CREATE SCHEMA IF NOT EXISTS s3w")
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {relation}")
    conn.execute(f"CREATE FOREIGN TABLE {relation} ({EVENTS_DDL}) SERVER {s3_lake.server} "
                 f"OPTIONS (namespace 's3w', table 'events', partition_by 'day(tstz), bucket(2, id)')")
    mirror = Mirrored(conn, relation, heap_copy(conn, relation, "s3_events_src"))
    mirror.execute("INSERT INTO {t} " + EVENTS_SELECT)
    assert mirror.execute("DELETE FROM {t} WHERE id % 3 = 0") == 233
    assert s3_lake.catalog.load_table("s3w.events").location().startswith("s3://")
    # DuckDB is given local paths only
    assert assert_readers_agree(conn, s3_lake.catalog, "s3w", "events", relation, use_duckdb=False,
                                source=mirror.heap) == 700 - 233
