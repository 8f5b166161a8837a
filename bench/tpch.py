"""TPC-H (issue 15): the 22 queries on Iceberg tables through townlake, on heap
tables holding the same rows, and in DuckDB over the generated Parquet files.

The data comes from `tpchgen-cli` (PyPI) as Parquet. The heap tables are
loaded from those files through DuckDB and COPY, never through townlake; the
Iceberg tables are written by townlake (INSERT ... SELECT from the heap
copy). Every query runs once first on each side: townlake's rows must equal
the heap's exactly and DuckDB's to 9 significant digits, or the benchmark
fails. Then the three run interleaved, RUNS rounds per query, and the medians
and per-round ratios are printed, with geometric means over the queries that
finished on every side."""

import argparse
import datetime as dt
import decimal
import math
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from timing import format_ratio, interleaved, median, ratio  # noqa: E402
from tpch_queries import QUERIES, TABLES, query  # noqa: E402

PG_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "VARCHAR": "text", "DATE": "date"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds per query (medians)")
    parser.add_argument("--timeout", type=int, default=600, help="statement_timeout in seconds, per query and side")
    parser.add_argument("--queries", default="all", help="comma-separated query numbers, or all")
    parser.add_argument("--data-dir", required=True, help="where the Parquet files are generated (kept)")
    parser.add_argument("--tpchgen", default="tpchgen-cli")
    parser.add_argument("--row-group-rows", type=int, default=122880,
                        help="Parquet row group size of the Iceberg tables (DuckDB's default; 0: townlake's)")
    return parser.parse_args()


def sf_label(sf: float) -> str:
    return f"{sf:g}".replace(".", "_")


def generate(args) -> Path:
    out = Path(args.data_dir) / f"sf{sf_label(args.sf)}"
    if all((out / f"{t}.parquet").exists() for t in TABLES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run([args.tpchgen, "parquet", "-s", f"{args.sf:g}", "-o", str(out)], check=True)
    print(f"generated SF {args.sf:g} with tpchgen-cli in {time.perf_counter() - started:.1f} s")
    return out


def pg_type(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL"):
        return "numeric" + duck_type[len("DECIMAL"):]
    return PG_TYPES[duck_type]


def columns_of(duck, path: Path) -> list[tuple[str, str]]:
    return [(name, pg_type(kind)) for name, kind, *_ in duck.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]


def load(conn, duck, data: Path, sf: float, row_group_rows: int = 0) -> tuple[str, str]:
    """Heap schema and Iceberg schema names, loaded (reused when complete)."""
    heap, ice = f"tpch_heap_sf{sf_label(sf)}", f"tpch_ice_sf{sf_label(sf)}"
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {heap}")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ice}")
    for table in TABLES:
        path = data / f"{table}.parquet"
        expected = duck.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
        cols = columns_of(duck, path)
        ddl = ", ".join(f"{name} {kind}" for name, kind in cols)
        have = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{heap}.{table}",)).fetchone()[0]
        if not have or conn.execute(f"SELECT count(*) FROM {heap}.{table}").fetchone()[0] != expected:
            started = time.perf_counter()
            conn.execute(f"DROP TABLE IF EXISTS {heap}.{table}")
            conn.execute(f"CREATE TABLE {heap}.{table} ({ddl})")
            csv = data / f"{table}.csv"
            duck.execute(f"COPY (SELECT * FROM '{path}') TO '{csv}' (HEADER false, DELIMITER '|')")
            with conn.cursor() as cur, cur.copy(f"COPY {heap}.{table} FROM STDIN (FORMAT csv, DELIMITER '|')") as copy, \
                    open(csv, "rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            csv.unlink()
            print(f"heap {table}: {expected} rows in {time.perf_counter() - started:.1f} s")
        have = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{ice}.{table}",)).fetchone()[0]
        if not have:
            conn.execute(f"CREATE FOREIGN TABLE {ice}.{table} ({ddl}) SERVER lake_local "
                         f"OPTIONS (namespace '{ice}', table '{table}')")
        if conn.execute(f"SELECT count(*) FROM {ice}.{table}").fetchone()[0] != expected:
            started = time.perf_counter()
            # Row groups are what parallel workers split one data file by.
            with conn.transaction():
                if row_group_rows:
                    conn.execute(f"SET LOCAL townlake.iceberg_row_group_rows = {row_group_rows}")
                conn.execute(f"DELETE FROM {ice}.{table}")
                conn.execute(f"INSERT INTO {ice}.{table} SELECT * FROM {heap}.{table}")
            print(f"iceberg {table}: {expected} rows written by townlake in {time.perf_counter() - started:.1f} s")
    conn.execute(f"ANALYZE {', '.join(f'{heap}.{t}' for t in TABLES)}")
    for table in TABLES:
        conn.execute(f"ANALYZE {ice}.{table}")
    return heap, ice


def canonical(value):
    """DuckDB answers averages and some quotients as doubles: compare every
    number to 9 significant digits."""
    if isinstance(value, (float, decimal.Decimal)):
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        return float(f"{float(value):.9g}")
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def rows_of(result) -> list[tuple]:
    return sorted((tuple(canonical(v) for v in row) for row in result), key=repr)


def main():
    args = parse_args()
    numbers = sorted(QUERIES) if args.queries == "all" else [int(n) for n in args.queries.split(",")]
    data = generate(args)
    duck = duckdb.connect()
    duck.execute("SET threads = 2")
    admin = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True)
    heap, ice = load(admin, duck, data, args.sf, args.row_group_rows)
    for table in TABLES:
        duck.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM '{data / (table + '.parquet')}'")

    def connect(schema):
        conn = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True)
        for setting in (f"search_path = {schema}", f"statement_timeout = '{args.timeout}s'",
                        "max_parallel_workers_per_gather = 2", "work_mem = '256MB'", "jit = off"):
            conn.execute(f"SET {setting}")
        return conn

    conns = {"heap": connect(heap), "townlake": connect(ice)}
    settings = conns["heap"].execute("SELECT current_setting('shared_buffers'), current_setting('server_version')").fetchone()
    print(f"TPC-H SF {args.sf:g}, queries {numbers}, {args.runs} interleaved rounds; Postgres {settings[1]}: "
          f"max_parallel_workers_per_gather=2, work_mem=256MB, jit=off, shared_buffers={settings[0]} on both "
          f"Postgres sides; DuckDB {duckdb.__version__} threads=2; statement_timeout {args.timeout} s")

    def runner(side, sql):
        if side == "duckdb":
            return lambda: rows_of(duck.execute(sql).fetchall())
        return lambda: rows_of(conns[side].execute(sql).fetchall())

    results, failures = {}, []
    for n in numbers:
        sql = query(n, args.sf)
        first = {}
        for side in ("heap", "townlake", "duckdb"):
            started = time.perf_counter()
            try:
                if side == "duckdb":
                    first[side] = duck.execute(sql).fetchall()
                else:
                    first[side] = conns[side].execute(sql).fetchall()
            except psycopg.errors.QueryCanceled:
                first[side] = None
            except psycopg.Error as error:
                failures.append(f"Q{n} {side}: {error}")
                first[side] = None
            print(f"Q{n:<2} first run {side:8} {time.perf_counter() - started:8.3f} s", flush=True)
        if first["heap"] is None or first["townlake"] is None:
            results[n] = None
            continue
        exact = sorted((tuple(row) for row in first["heap"]), key=repr)
        if exact != sorted((tuple(row) for row in first["townlake"]), key=repr):
            failures.append(f"Q{n}: townlake's rows differ from the heap's")
            results[n] = None
            continue
        if rows_of(first["heap"]) != rows_of(first["duckdb"]):
            failures.append(f"Q{n}: DuckDB's rows differ from Postgres'")
            results[n] = None
            continue
        times = interleaved(args.runs, {side: runner(side, sql) for side in ("heap", "townlake", "duckdb")},
                            same=lambda a, b: a == b)
        results[n] = times
        print(f"Q{n:<2} heap {median(times['heap']):8.3f} s  townlake {median(times['townlake']):8.3f} s  "
              f"duckdb {median(times['duckdb']):8.3f} s  townlake/heap {format_ratio(ratio(times, 'townlake', 'heap'))}"
              f"  townlake/duckdb {format_ratio(ratio(times, 'townlake', 'duckdb'))}", flush=True)

    print("\n| query | heap s | townlake s | DuckDB s | townlake / heap | townlake / DuckDB |")
    print("|---|---|---|---|---|---|")
    logs = {"heap": [], "duckdb": []}
    for n in numbers:
        times = results.get(n)
        if times is None:
            print(f"| Q{n} | – | – | – | not measured (timeout, error or mismatch) | |")
            continue
        vs_heap, vs_duck = ratio(times, "townlake", "heap"), ratio(times, "townlake", "duckdb")
        logs["heap"].append(math.log(vs_heap[0]))
        logs["duckdb"].append(math.log(vs_duck[0]))
        print(f"| Q{n} | {median(times['heap']):.3f} | {median(times['townlake']):.3f} | {median(times['duckdb']):.3f} "
              f"| {vs_heap[0]:.2f}× | {vs_duck[0]:.2f}× |")
    if logs["heap"]:
        print(f"\ngeometric mean over {len(logs['heap'])} queries: townlake / heap "
              f"{math.exp(sum(logs['heap']) / len(logs['heap'])):.2f}×, townlake / DuckDB "
              f"{math.exp(sum(logs['duckdb']) / len(logs['duckdb'])):.2f}×")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    if failures:
        sys.exit(3)


if __name__ == "__main__":
    main()
