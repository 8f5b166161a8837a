"""Ingest a heap table into Iceberg two ways and compare, in the same run:

- townlake: INSERT INTO <foreign table> SELECT * FROM <heap table>, one
  transaction, one snapshot;
- PyIceberg end to end: psycopg streams the heap table out with COPY ... TO
  STDOUT (CSV, parsed by pyarrow's C++ reader into Arrow in 1M-row chunks),
  then one table.append() of all chunks, one snapshot.

Both write the same schema, unpartitioned and partitioned by day(ts), into
the lake_local catalog. Prints time, rows/s, the townlake/PyIceberg ratio, and
the data files each produced. The heap table is generated once per row count
and reused."""

import argparse
import io
import sys
import time
import urllib.parse
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DecimalType, IntegerType, LongType, NestedField, StringType, TimestamptzType

CHUNK_ROWS = 1_000_000
sys.path.insert(0, str(Path(__file__).parent))
from timing import format_ratio, interleaved, median  # noqa: E402

DAYS = 30
COLUMNS = "id bigint NOT NULL, ts timestamptz NOT NULL, account_id integer NOT NULL, " \
          "product text NOT NULL, units bigint NOT NULL, cost numeric(12,4) NOT NULL"
SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "ts", TimestamptzType(), required=True),
    NestedField(3, "account_id", IntegerType(), required=True),
    NestedField(4, "product", StringType(), required=True),
    NestedField(5, "units", LongType(), required=True),
    NestedField(6, "cost", DecimalType(12, 4), required=True),
)
ARROW_TYPES = {"id": pa.int64(), "ts": pa.timestamp("us", tz="UTC"), "account_id": pa.int32(),
               "product": pa.string(), "units": pa.int64(), "cost": pa.decimal128(12, 4)}
# label -> townlake partition_by, PyIceberg spec
LAYOUTS = {
    "unpartitioned": (None, PartitionSpec()),
    "day(ts)": ("day(ts)", PartitionSpec(PartitionField(source_id=2, field_id=1000,
                                                        transform=DayTransform(), name="ts_day"))),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=1)
    return parser.parse_args()


def make_heap(conn, rows: int) -> str:
    heap = f"bench.ingest_heap_{rows}"
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (heap,)).fetchone()[0]:
        print(f"reusing {heap}")
        return heap
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(f"CREATE TABLE {heap} ({COLUMNS})")
        conn.execute(f"""
            INSERT INTO {heap}
            SELECT g,
                   TIMESTAMPTZ '2024-06-01 00:00:00+00' + (g::numeric * {DAYS * 86_400_000_000} / {rows})::bigint * interval '1 microsecond',
                   1 + (g * 7919) % 5000,
                   (ARRAY['compute', 'storage', 'egress', 'queries'])[1 + g % 4],
                   1 + (g * 31) % 5000,
                   ((1 + (g * 31) % 5000) * 0.0400)::numeric(12,4)
            FROM generate_series(1::bigint, {rows}) g""")
    conn.execute(f"VACUUM (ANALYZE) {heap}")
    print(f"generated {heap} in {time.perf_counter() - started:.1f}s")
    return heap


def drop_townlake(conn, name: str) -> None:
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_purge_on_drop = on")
        conn.execute(f"DROP FOREIGN TABLE IF EXISTS bench_tl.{name}")


def run_townlake(conn, heap: str, name: str, partition_by) -> float:
    drop_townlake(conn, name)
    options = f"namespace 'bench_tl', table '{name}'" + (f", partition_by '{partition_by}'" if partition_by else "")
    conn.execute(f"CREATE FOREIGN TABLE bench_tl.{name} ({COLUMNS}) SERVER lake_local OPTIONS ({options})")
    started = time.perf_counter()
    conn.execute(f"INSERT INTO bench_tl.{name} SELECT * FROM {heap}")
    return time.perf_counter() - started


def read_heap_as_arrow(conn, heap: str, rows: int) -> pa.Table:
    """COPY out in chunks of ids; pyarrow parses each chunk's CSV."""
    names = list(ARROW_TYPES)
    options = pacsv.ConvertOptions(column_types=ARROW_TYPES)
    chunks = []
    for first in range(1, rows + 1, CHUNK_ROWS):
        buffer = io.BytesIO()
        query = f"COPY (SELECT * FROM {heap} WHERE id >= {first} AND id < {first + CHUNK_ROWS}) TO STDOUT (FORMAT csv)"
        with conn.cursor().copy(query) as copy:
            for data in copy:
                buffer.write(data)
        buffer.seek(0)
        chunks.append(pacsv.read_csv(buffer, read_options=pacsv.ReadOptions(column_names=names),
                                     convert_options=options))
    return pa.concat_tables(chunks)


def run_pyiceberg(conn, catalog, heap: str, rows: int, name: str, spec) -> tuple[float, float]:
    ident = f"bench_py.{name}"
    if catalog.table_exists(ident):
        catalog.purge_table(ident)
    table = catalog.create_table(ident, SCHEMA, partition_spec=spec)
    started = time.perf_counter()
    data = read_heap_as_arrow(conn, heap, rows).cast(table.schema().as_arrow())
    read_done = time.perf_counter()
    table.append(data)
    return time.perf_counter() - started, read_done - started


def file_stats(catalog, ident: str) -> tuple[int, int, int]:
    """(data files, total bytes, records) of the table's current snapshot."""
    table = catalog.load_table(ident)
    files = [task.file for task in table.scan().plan_files()]
    return len(files), sum(f.file_size_in_bytes for f in files), sum(f.record_count for f in files)


def main():
    args = parse_args()
    conn = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True,
                           options="-c TimeZone=UTC")
    warehouse = conn.execute("SHOW townlake.iceberg_warehouse").fetchone()[0]
    options = urllib.parse.quote("-csearch_path=lake")
    catalog = SqlCatalog("lake_local", warehouse=warehouse,
                         uri=f"postgresql+psycopg://postgres@127.0.0.1:{args.port}/{args.db}?options={options}")
    catalog.create_namespace_if_not_exists("bench_py")
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench_tl")
    heap = make_heap(conn, args.rows)
    heap_bytes = conn.execute("SELECT pg_table_size(%s)", (heap,)).fetchone()[0]
    settings = conn.execute("SELECT current_setting('townlake.iceberg_target_file_size_mb'), "
                            "current_setting('townlake.iceberg_row_group_rows'), current_setting('shared_buffers')").fetchone()
    print(f"rows={args.rows} heap={heap_bytes / 2**20:.0f} MB, {args.runs} interleaved rounds (medians); "
          f"townlake.iceberg_target_file_size_mb={settings[0]} row_group_rows={settings[1]} shared_buffers={settings[2]}")
    print(f"{'layout':14} {'contender':10} {'seconds':>8} {'rows/s':>11} {'files':>6} {'MB':>8} "
          f"{'avg MB':>7} {'townlake/PyIceberg':>22}")
    failed = False
    for label, (partition_by, spec) in LAYOUTS.items():
        name = f"ingest_{'day' if partition_by else 'flat'}_{args.rows}"
        reads: list[float] = []

        def pyiceberg_run():
            total, read = run_pyiceberg(conn, catalog, heap, args.rows, name, spec)
            reads.append(read)
            return total

        # Each contender's time is measured inside it (the job, not the set-up);
        # interleaved() checks the row counts both tables hold after each run.
        timed = {"townlake": [], "PyIceberg": []}

        def contender(kind, run, ident):
            def go():
                timed[kind].append(run())
                return file_stats(catalog, ident)[2]
            return go

        interleaved(args.runs, {
            "townlake": contender("townlake", lambda: run_townlake(conn, heap, name, partition_by), f"bench_tl.{name}"),
            "PyIceberg": contender("PyIceberg", pyiceberg_run, f"bench_py.{name}"),
        })
        ratios = [a / b for a, b in zip(timed["townlake"], timed["PyIceberg"])]
        r = (median(ratios), min(ratios), max(ratios))
        for kind, ident in (("townlake", f"bench_tl.{name}"), ("PyIceberg", f"bench_py.{name}")):
            seconds = median(timed[kind])
            files, size, records = file_stats(catalog, ident)
            if records != args.rows:
                failed = True
                print(f"  WRONG ROW COUNT in {ident}: {records}, expected {args.rows}")
            note = format_ratio(r) if kind == "townlake" else f"(read {median(reads):.1f}s)"
            print(f"{label:14} {kind:10} {seconds:8.2f} {args.rows / seconds:11,.0f} {files:6d} "
                  f"{size / 2**20:8.1f} {size / 2**20 / max(files, 1):7.2f} {note:>22}")
        count = conn.execute(f"SELECT count(*) FROM bench_tl.{name}").fetchone()[0]
        if count != args.rows:
            failed = True
            print(f"  townlake table {name} returns {count} rows, expected {args.rows}")
    catalog.engine.dispose()
    if failed:
        raise SystemExit(3)
    catalog.engine.dispose()


if __name__ == "__main__":
    main()
