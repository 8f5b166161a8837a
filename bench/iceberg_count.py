"""count(*) of a large Iceberg table (issue 15: < 20 ms at 100M rows):
townlake answering from manifest metadata vs DuckDB's count(*) over the same
data files (it reads the Parquet footers). The table is written by townlake
in chunks of generated rows (kept and reused per row count); the expected
count is the number of rows generated, and both contenders must give it in
every round. Prints medians and per-round ratios; also the first count(*) of
a new session (no per-backend cache yet), timed apart from connecting."""

import argparse
import sys
import time
import urllib.parse
from pathlib import Path

import duckdb
import psycopg
from pyiceberg.catalog.sql import SqlCatalog

sys.path.insert(0, str(Path(__file__).parent))
from timing import format_ratio, interleaved, median, ratio  # noqa: E402

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--chunk", type=int, default=10_000_000, help="rows per INSERT (one commit, one data file or more)")
    return parser.parse_args()


def connect(args):
    return psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True)


def load(conn, rows: int, chunk: int) -> str:
    """bench.count_<rows>_<chunk>, written by townlake one INSERT per `chunk`
    rows, unless it already holds `rows` rows."""
    table = f"bench.count_{rows}_{chunk}"
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]:
        if conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == rows:
            print(f"reusing {table}")
            return table
        conn.execute(f"DROP FOREIGN TABLE {table}")
    conn.execute(f"CREATE FOREIGN TABLE {table} (id bigint NOT NULL, x int NOT NULL) SERVER lake_local "
                 f"OPTIONS (namespace 'bench', \"table\" 'count_{rows}_{chunk}_{int(time.time())}')")
    started = time.perf_counter()
    for first in range(1, rows + 1, chunk):
        last = min(first + chunk - 1, rows)
        conn.execute(f"INSERT INTO {table} SELECT g, (g % 1000)::int FROM generate_series({first}::bigint, {last}) g")
    print(f"wrote {rows} rows with townlake in {time.perf_counter() - started:.1f}s")
    return table


def main():
    args = parse_args()
    conn = connect(args)
    table = load(conn, args.rows, args.chunk)
    plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT count(*) FROM {table}"))
    if "Aggregate Source: answered from metadata" not in plan:
        print(f"count(*) is not answered from metadata:\n{plan}", file=sys.stderr)
        sys.exit(3)
    warehouse = conn.execute("SHOW townlake.iceberg_warehouse").fetchone()[0]
    options = urllib.parse.quote("-csearch_path=lake")
    catalog = SqlCatalog("lake_local", warehouse=warehouse,
                         uri=f"postgresql+psycopg://postgres@127.0.0.1:{args.port}/{args.db}?options={options}")
    ident = conn.execute(
        "SELECT option_value FROM pg_options_to_table((SELECT ftoptions FROM pg_foreign_table "
        "WHERE ftrelid = %s::regclass)) WHERE option_name = 'table'", (table,)).fetchone()[0]
    files = [urllib.parse.urlparse(t.file.file_path).path
             for t in catalog.load_table(f"bench.{ident}").scan().plan_files()]
    catalog.engine.dispose()
    duck = duckdb.connect()
    duck.execute("SET threads = 2")
    parquet = f"read_parquet({files!r})"

    def first_in_new_session():
        fresh = connect(args)
        try:
            started = time.perf_counter()
            n = fresh.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            first_times.append(time.perf_counter() - started)
            return n
        finally:
            fresh.close()

    first_times: list[float] = []
    times = interleaved(args.runs, {
        "expected": lambda: args.rows,
        "townlake": lambda: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0],
        "duckdb": lambda: duck.execute(f"SELECT count(*) FROM {parquet}").fetchone()[0],
        "townlake, new session": first_in_new_session,
    })
    print(f"rows={args.rows} commits={-(-args.rows // args.chunk)} data files={len(files)} {args.runs} interleaved rounds; DuckDB threads=2")
    print(f"townlake count(*), warm session: {median(times['townlake']) * 1000:.1f} ms; "
          f"first in a new session: {median(first_times) * 1000:.1f} ms; "
          f"DuckDB: {median(times['duckdb']) * 1000:.1f} ms; "
          f"townlake/duckdb {format_ratio(ratio(times, 'townlake', 'duckdb'))}")


if __name__ == "__main__":
    main()
