"""Tables written by townlake (CREATE FOREIGN TABLE ... partition_by, INSERT,
COPY, DELETE, UPDATE, TRUNCATE) read back by PyIceberg and by DuckDB with the
same rows as townlake's own SELECT; and PyIceberg writing into tables that
townlake created."""

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

from lakehelpers import assert_same_rows
from writehelpers import (assert_readers_agree, column_kinds, data_files, live_data_files, load, local_path,
                          snapshots, townlake_rows)

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
    conn.execute(f"INSERT INTO {relation} " + ALL_TYPES_SELECT.format(first=1, last=400))
    conn.execute(EXTREMES.format(t=relation))
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
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "all_types", all_types) == 403


def test_nulls_survive(all_types, conn):
    """Every optional column has NULLs, and NULL counts match a heap copy of the same rows."""
    kinds = column_kinds(conn, all_types)
    counts = ", ".join(f'count("{c}")' for c in kinds)
    conn.execute("DROP TABLE IF EXISTS all_types_heap")
    conn.execute(f"CREATE TEMP TABLE all_types_heap AS SELECT * FROM {all_types} LIMIT 0")
    conn.execute("INSERT INTO all_types_heap " + ALL_TYPES_SELECT.format(first=1, last=400))
    conn.execute(EXTREMES.format(t="all_types_heap"))
    ours = conn.execute(f"SELECT {counts} FROM {all_types}").fetchone()
    heap = conn.execute(f"SELECT {counts} FROM all_types_heap").fetchone()
    assert ours == heap
    assert all(n < 403 for n in ours[1:]), "each optional column should hold NULLs"


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
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "copied", relation) == 2002


def test_insert_values_returning(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "returning", "id int NOT NULL, label text")
    rows = conn.execute(f"INSERT INTO {relation} VALUES (1, 'a'), (2, NULL) RETURNING id, label").fetchall()
    assert sorted(rows) == [(1, "a"), (2, None)]
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "returning", relation) == 2


def test_small_files_and_row_groups_settings(conn, write_ns, local_lake):
    """townlake.target_file_size_mb and row_group_rows shape the files; the rows are the same."""
    relation = create(conn, write_ns, "many_files", "id bigint NOT NULL, payload text")
    with conn.transaction():
        conn.execute("SET LOCAL townlake.target_file_size_mb = 1")
        conn.execute("SET LOCAL townlake.row_group_rows = 2048")
        conn.execute("SET LOCAL townlake.write_batch_rows = 1000")
        conn.execute(f"INSERT INTO {relation} SELECT g, md5(g::text) || md5((g * 7)::text) "
                     f"FROM generate_series(1, 60000) g")
    table = load(local_lake.catalog, write_ns, "many_files")
    paths = live_data_files(table)
    assert len(paths) >= 2, "a 1 MB target should split ~4 MB of text into several files"
    groups = [pq.ParquetFile(local_path(p)).metadata for p in paths]
    assert max(m.row_group(i).num_rows for m in groups for i in range(m.num_row_groups)) <= 2048
    assert sum(m.num_rows for m in groups) == 60000
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "many_files", relation) == 60000


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
    conn.execute(f"INSERT INTO {relation} " + EVENTS_SELECT)
    # a second transaction, so partitions get files from two snapshots
    conn.execute(f"INSERT INTO {relation} SELECT id + 1000, ts, tstz, d, category, n, big, amount "
                 f"FROM {relation} WHERE id % 5 = 0")
    table = load(local_lake.catalog, write_ns, name)
    transforms, sources = SPECS[spec]
    fields = table.spec().fields
    assert [str(f.transform) for f in fields] == transforms
    assert [table.schema().find_field(f.source_id).name for f in fields] == sources
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, name, relation) == 840
    for where, row_filter in PROBES:
        ours = conn.execute(f"SELECT count(*) FROM {relation} WHERE {where}").fetchone()[0]
        theirs = table.scan(row_filter=row_filter, selected_fields=("id",)).to_arrow().num_rows
        assert ours == theirs, f"{spec}: WHERE {where}: townlake {ours}, PyIceberg {theirs}"
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
        conn.execute("SET LOCAL townlake.max_open_partitions = 1")
        conn.execute(f"INSERT INTO {relation} SELECT g, g % 50 FROM generate_series(1, 5000) g")
    table = load(local_lake.catalog, write_ns, "fanout")
    partitions = {f.partition[0] for f in data_files(table)}
    assert partitions == set(range(50))
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "fanout", relation) == 5000
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
def dml_table(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "dml", DML_DDL, partition_by="day")
    conn.execute(f"INSERT INTO {relation} SELECT g, DATE '2024-05-01' + g % 6, g % 13, g * 0.5, "
                 f"'note ' || g FROM generate_series(1, 1200) g")
    return relation


def _check(conn, local_lake, ns, relation):
    return assert_readers_agree(conn, local_lake.catalog, ns, "dml", relation)


def test_delete_whole_partition_drops_files(dml_table, conn, write_ns, local_lake):
    before = len(live_data_files(load(local_lake.catalog, write_ns, "dml")))
    deleted = conn.execute(f"DELETE FROM {dml_table} WHERE day = '2024-05-02'").rowcount
    assert deleted == 200
    snapshot = snapshots(conn, dml_table)[-1]
    assert snapshot[2] == "delete"
    summary = snapshot[3]
    assert summary["added-data-files"] == "0" and int(summary["deleted-data-files"]) >= 1
    assert len(live_data_files(load(local_lake.catalog, write_ns, "dml"))) < before
    assert _check(conn, local_lake, write_ns, dml_table) == 1000


def test_delete_some_rows_rewrites(dml_table, conn, write_ns, local_lake):
    deleted = conn.execute(f"DELETE FROM {dml_table} WHERE id % 10 = 3 RETURNING id, amount").fetchall()
    assert sorted(r[0] for r in deleted) == list(range(3, 1201, 10))
    operation, summary = snapshots(conn, dml_table)[-1][2:]
    assert operation == "overwrite"
    # as Iceberg's Java summary does: records of the removed files, of the rewritten ones
    assert int(summary["added-data-files"]) >= 1
    assert int(summary["deleted-records"]) - int(summary["added-records"]) == 120
    assert _check(conn, local_lake, write_ns, dml_table) == 1080
    assert conn.execute(f"SELECT count(*) FROM {dml_table} WHERE id % 10 = 3").fetchone() == (0,)


def test_delete_nothing_matches(dml_table, conn, write_ns, local_lake):
    count = len(snapshots(conn, dml_table))
    assert conn.execute(f"DELETE FROM {dml_table} WHERE id < 0").rowcount == 0
    assert len(snapshots(conn, dml_table)) in (count, count + 1)
    assert _check(conn, local_lake, write_ns, dml_table) == 1200


def test_update_rows_and_partition_column(dml_table, conn, write_ns, local_lake):
    updated = conn.execute(f"UPDATE {dml_table} SET amount = amount * 2, note = NULL "
                           f"WHERE account = 4").rowcount
    assert updated == sum(1 for i in range(1, 1201) if i % 13 == 4)
    moved = conn.execute(f"UPDATE {dml_table} SET day = '2024-06-30' WHERE id <= 10").rowcount
    assert moved == 10
    assert _check(conn, local_lake, write_ns, dml_table) == 1200
    row = conn.execute(f"SELECT day, amount, note FROM {dml_table} WHERE id = 4").fetchone()
    assert row == (dt.date(2024, 6, 30), decimal.Decimal("4.00"), None)
    table = load(local_lake.catalog, write_ns, "dml")
    assert table.scan(row_filter="day == '2024-06-30'").to_arrow().num_rows == 10
    expected_sum = sum(decimal.Decimal(i) / 2 * (2 if i % 13 == 4 else 1) for i in range(1, 1201))
    assert conn.execute(f"SELECT sum(amount) FROM {dml_table}").fetchone()[0] == expected_sum


def test_truncate_then_insert_is_one_replace(dml_table, conn, write_ns, local_lake):
    before = len(snapshots(conn, dml_table))
    with conn.transaction():
        conn.execute(f"TRUNCATE {dml_table}")
        conn.execute(f"INSERT INTO {dml_table} SELECT g, DATE '2024-07-01', 1, 1, 'new' "
                     f"FROM generate_series(1, 50) g")
    after = snapshots(conn, dml_table)
    assert len(after) == before + 1
    assert after[-1][2] == "overwrite"
    assert _check(conn, local_lake, write_ns, dml_table) == 50
    conn.execute(f"TRUNCATE {dml_table}")
    assert conn.execute(f"SELECT count(*) FROM {dml_table}").fetchone() == (0,)
    assert load(local_lake.catalog, write_ns, "dml").scan().to_arrow().num_rows == 0


def test_delete_returning_and_no_delete_files(dml_table, conn, write_ns, local_lake):
    """Copy-on-write: a DELETE never leaves delete files (DuckDB's read_parquet
    over the data files is then complete)."""
    conn.execute(f"DELETE FROM {dml_table} WHERE account IN (1, 2)")
    conn.execute(f"UPDATE {dml_table} SET note = 'x' WHERE account = 3")
    table = load(local_lake.catalog, write_ns, "dml")
    assert {int(f.content) for f in data_files(table)} == {0}
    assert _check(conn, local_lake, write_ns, dml_table) == sum(1 for i in range(1, 1201) if i % 13 not in (1, 2))


# ---------------------------------------------------------------- PyIceberg on townlake tables

def test_pyiceberg_appends_to_a_townlake_table(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "shared", "id bigint NOT NULL, label text, at timestamptz",
                      partition_by="day(at)")
    conn.execute(f"INSERT INTO {relation} SELECT g, 'pg ' || g, "
                 f"TIMESTAMPTZ '2024-02-01 00:00:00+00' + g * interval '1 hour' FROM generate_series(1, 100) g")
    table = load(local_lake.catalog, write_ns, "shared")
    rows = [{"id": 1000 + i, "label": f"py {i}",
             "at": dt.datetime(2024, 2, 3, i % 24, tzinfo=dt.timezone.utc)} for i in range(50)]
    table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
    # townlake sees PyIceberg's commit at its next statement, and appends on top of it
    assert conn.execute(f"SELECT count(*) FROM {relation}").fetchone() == (150,)
    conn.execute(f"INSERT INTO {relation} VALUES (5000, 'pg again', '2024-02-05 00:00:00+00')")
    # townlake deletes and updates rows in files PyIceberg wrote
    conn.execute(f"DELETE FROM {relation} WHERE id BETWEEN 1000 AND 1009")
    conn.execute(f"UPDATE {relation} SET label = 'changed' WHERE id BETWEEN 1040 AND 1049")
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "shared", relation) == 141
    assert conn.execute(f"SELECT count(*) FROM {relation} WHERE label = 'changed'").fetchone() == (10,)
    operations = [s[2] for s in snapshots(conn, relation)]
    assert operations[:3] == ["append", "append", "append"]


def test_pyiceberg_overwrite_then_townlake_writes(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "py_overwrite", "id bigint NOT NULL, v text")
    conn.execute(f"INSERT INTO {relation} SELECT g, 'a' FROM generate_series(1, 10) g")
    table = load(local_lake.catalog, write_ns, "py_overwrite")
    table.overwrite(pa.Table.from_pylist([{"id": 100, "v": "b"}], schema=table.schema().as_arrow()))
    assert conn.execute(f"SELECT id, v FROM {relation}").fetchall() == [(100, "b")]
    conn.execute(f"INSERT INTO {relation} VALUES (101, 'c')")
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "py_overwrite", relation) == 2


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
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "attached", relation) == 2


# ---------------------------------------------------------------- S3

def test_write_through_s3_server(conn, s3_lake):
    relation = '"s3w"."events"'
    conn.execute("CREATE SCHEMA IF NOT EXISTS s3w")
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {relation}")
    conn.execute(f"CREATE FOREIGN TABLE {relation} ({EVENTS_DDL}) SERVER {s3_lake.server} "
                 f"OPTIONS (namespace 's3w', table 'events', partition_by 'day(tstz), bucket(2, id)')")
    conn.execute(f"INSERT INTO {relation} " + EVENTS_SELECT)
    conn.execute(f"DELETE FROM {relation} WHERE id % 3 = 0")
    kinds = column_kinds(conn, relation)
    ours = townlake_rows(conn, relation, list(kinds), kinds)
    table = s3_lake.catalog.load_table("s3w.events")
    assert table.location().startswith("s3://")
    from writehelpers import arrow_table_rows
    theirs = arrow_table_rows(table.scan().to_arrow(), list(kinds), kinds)
    assert_same_rows(ours, theirs, "S3 table vs PyIceberg")
    assert len(ours) == 700 - 233
