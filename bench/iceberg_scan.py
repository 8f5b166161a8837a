"""Time the same aggregates over one dataset held three ways:
an Iceberg table read by townlake, a Postgres heap table, and DuckDB's
read_parquet over the Iceberg table's data files. Runs the three interleaved
(RUNS rounds), prints median times and the median and range of per-round
ratios, and fails when any run's result differs. The data is generated once
per row count and reused by later runs."""

import argparse
import io
import sys
import time
import urllib.parse
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

sys.path.insert(0, str(Path(__file__).parent))
from timing import format_ratio, interleaved, median, ratio  # noqa: E402

DAYS = 30
CHUNK_ROWS = 1_000_000
SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "ts", TimestamptzType(), required=True),
    NestedField(3, "x", LongType(), required=True),
    NestedField(4, "category", StringType(), required=True),
)
SPEC = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"))

# name -> WHERE clause; {t} is replaced by the relation being measured
QUERIES = {
    "full scan, non-selective filter": "SELECT count(*), sum(x) FROM {t} WHERE x >= 10",
    "one day (partition-pruned)": "SELECT count(*), sum(x) FROM {t} "
                                  "WHERE ts >= '2024-01-15 00:00:00+00' AND ts < '2024-01-16 00:00:00+00'",
}

# Row-returning scans: every row and every column leaves the server's
# executor (COPY of the query to /dev/null on the server: the rows are built
# and converted to text as for a client, without the network and the client's
# parsing, which are the same for both sides). Compared: the rows COPY reports.
ROW_QUERIES = {
    "SELECT * (all rows, COPY to /dev/null)": "COPY (SELECT * FROM {t}) TO '/dev/null'",
    "SELECT id, x WHERE x < 500": "COPY (SELECT id, x FROM {t} WHERE x < 500) TO '/dev/null'",
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows-only", action="store_true", help="only the row-returning queries")
    return parser.parse_args()


def generate_chunk(first: int, count: int, total: int) -> pa.Table:
    """Rows in timestamp order spread evenly over DAYS days, so each chunk
    covers a few consecutive days (and each day ends up in few files)."""
    span_us = DAYS * 86_400 * 1_000_000
    query = f"""
        SELECT i AS id,
               TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_microseconds(i * {span_us // total}) AS ts,
               (i * 7919) % 1000 AS x,
               'c' || (i % 7)::VARCHAR AS category
        FROM range({first}, {first + count}) t(i)"""
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        return db.sql(query).to_arrow_table()


def chunks(total: int):
    for first in range(0, total, CHUNK_ROWS):
        yield generate_chunk(first, min(CHUNK_ROWS, total - first), total)


def load(conn, catalog, rows: int):
    """Create bench.scan_<rows> (Iceberg) and bench.heap_<rows> unless they exist."""
    name = f"scan_{rows}"
    heap = f"bench.heap_{rows}"
    catalog.create_namespace_if_not_exists("bench")
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    if catalog.table_exists(f"bench.{name}") and \
            conn.execute("SELECT to_regclass(%s) IS NOT NULL", (heap,)).fetchone()[0]:
        print(f"reusing bench.{name} and {heap}")
        return catalog.load_table(f"bench.{name}"), heap
    if catalog.table_exists(f"bench.{name}"):
        catalog.purge_table(f"bench.{name}")
    table = catalog.create_table(f"bench.{name}", SCHEMA, partition_spec=SPEC)
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} (id bigint NOT NULL, ts timestamptz NOT NULL, "
                 f"x bigint NOT NULL, category text NOT NULL)")
    arrow_schema = table.schema().as_arrow()
    started = time.perf_counter()
    for chunk in chunks(rows):
        table.append(chunk.cast(arrow_schema))
        copy_into_heap(conn, heap, chunk)
    conn.execute(f"VACUUM (ANALYZE) {heap}")
    print(f"loaded {rows} rows in {time.perf_counter() - started:.1f}s")
    return table, heap


def copy_into_heap(conn, heap: str, chunk: pa.Table):
    buffer = io.BytesIO()
    pacsv.write_csv(chunk, buffer)
    with conn.cursor().copy(f"COPY {heap} FROM STDIN (FORMAT csv, HEADER true)") as copy:
        copy.write(buffer.getvalue())


def main():
    args = parse_args()
    conn = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True)
    warehouse = conn.execute("SHOW townlake.iceberg_warehouse").fetchone()[0]
    options = urllib.parse.quote("-csearch_path=lake")
    catalog = SqlCatalog("lake_local", warehouse=warehouse,
                         uri=f"postgresql+psycopg://postgres@127.0.0.1:{args.port}/{args.db}?options={options}")
    table, heap = load(conn, catalog, args.rows)
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS bench.scan_{args.rows}")
    conn.execute(f"IMPORT FOREIGN SCHEMA bench LIMIT TO (scan_{args.rows}) FROM SERVER lake_local INTO bench")
    iceberg = f"bench.scan_{args.rows}"
    files = [urllib.parse.urlparse(task.file.file_path).path for task in table.scan().plan_files()]
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    parquet = f"read_parquet({files!r})"

    settings = conn.execute("SELECT current_setting('max_parallel_workers_per_gather'), "
                            "current_setting('shared_buffers')").fetchone()
    print(f"rows={args.rows} data files={len(files)} {args.runs} interleaved rounds; "
          f"max_parallel_workers_per_gather={settings[0]} shared_buffers={settings[1]}")
    print(f"{'query':34} {'townlake':>10} {'heap':>10} {'duckdb':>10} {'townlake/heap':>22} {'townlake/duckdb':>22}")
    for label, template in ({} if args.rows_only else QUERIES).items():
        times = interleaved(args.runs, {
            "townlake": lambda: tuple(conn.execute(template.format(t=iceberg)).fetchone()),
            "heap": lambda: tuple(conn.execute(template.format(t=heap)).fetchone()),
            "duckdb": lambda: tuple(duck.execute(template.format(t=parquet)).fetchone()),
        })
        print(f"{label:34} {median(times['townlake']):9.3f}s {median(times['heap']):9.3f}s "
              f"{median(times['duckdb']):9.3f}s {format_ratio(ratio(times, 'townlake', 'heap')):>22} "
              f"{format_ratio(ratio(times, 'townlake', 'duckdb')):>22}")
    for label, template in ROW_QUERIES.items():
        times = interleaved(args.runs, {
            "townlake": lambda: conn.execute(template.format(t=iceberg)).rowcount,
            "heap": lambda: conn.execute(template.format(t=heap)).rowcount,
        })
        print(f"{label:34} {median(times['townlake']):9.3f}s {median(times['heap']):9.3f}s "
              f"{'':>10} {format_ratio(ratio(times, 'townlake', 'heap')):>22}")
    plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {QUERIES['one day (partition-pruned)'].format(t=iceberg)}"))
    print(plan)
    catalog.engine.dispose()


if __name__ == "__main__":
    main()
