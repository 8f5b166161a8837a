"""Aggregates over one Iceberg table (issue 15): townlake computing them in
the scan (or from metadata) vs the same rows in a heap table vs DuckDB's
read_parquet over the Iceberg table's data files. Uses the dataset of
bench/iceberg_scan.py (generated once per row count, reused). Runs the three
interleaved, prints medians and per-round ratios, checks that townlake gives
exactly the heap table's answer and DuckDB the same values (its averages are
doubles: compared to 9 significant digits), and fails otherwise."""

import argparse
import datetime as dt
import decimal
import sys
import urllib.parse
from pathlib import Path

import duckdb
import psycopg
from pyiceberg.catalog.sql import SqlCatalog

sys.path.insert(0, str(Path(__file__).parent))
from iceberg_scan import load  # noqa: E402
from timing import format_ratio, interleaved, median, ratio  # noqa: E402

# label -> (query, expected Aggregate Source in townlake's EXPLAIN)
QUERIES = {
    "count(*)": ("SELECT count(*) FROM {t}", "answered from metadata"),
    "min/max(ts), count(*)": ("SELECT min(ts), max(ts), count(*) FROM {t}", "answered from metadata"),
    "count, sum, avg, min, max WHERE x >= 10": (
        "SELECT count(*), sum(x), avg(x), min(x), max(x) FROM {t} WHERE x >= 10", "Arrow batches"),
    "GROUP BY category (7 groups)": (
        "SELECT category, count(*), sum(x), avg(x), max(ts) FROM {t} GROUP BY category", "Arrow batches"),
    "GROUP BY x (1000 groups)": ("SELECT x, count(*), min(id) FROM {t} GROUP BY x", "Arrow batches"),
    "count(DISTINCT x)": ("SELECT count(DISTINCT x) FROM {t}", "Arrow batches"),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    return parser.parse_args()


def canonical(value):
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, (float, decimal.Decimal)):
        return float(f"{float(value):.9g}")
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)
    return value


def rows_of(result) -> list[tuple]:
    return sorted(tuple(canonical(v) for v in row) for row in result)


def main():
    args = parse_args()
    conn = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True)
    conn.execute("SET TimeZone = 'UTC'")
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
    duck.execute("SET threads = 2")
    parquet = f"read_parquet({files!r})"

    settings = conn.execute("SELECT current_setting('max_parallel_workers_per_gather'), "
                            "current_setting('shared_buffers')").fetchone()
    print(f"rows={args.rows} data files={len(files)} {args.runs} interleaved rounds; Postgres "
          f"max_parallel_workers_per_gather={settings[0]} shared_buffers={settings[1]} (heap: parallel; "
          f"townlake's pushed aggregate: one process); DuckDB threads=2")
    print(f"{'query':42} {'townlake':>9} {'heap':>9} {'duckdb':>9} {'townlake/heap':>20} {'townlake/duckdb':>20}")
    for label, (template, source) in QUERIES.items():
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {template.format(t=iceberg)}"))
        if f"Aggregate Source: {source}" not in plan:
            print(f"{label}: not pushed as expected ({source}):\n{plan}", file=sys.stderr)
            sys.exit(3)
        exact: dict[str, list] = {}

        def pg(relation: str, key: str):
            rows = conn.execute(template.format(t=relation)).fetchall()
            exact[key] = sorted(rows, key=repr)
            return rows_of(rows)
        times = interleaved(args.runs, {
            "heap": lambda: pg(heap, "heap"),
            "townlake": lambda: pg(iceberg, "townlake"),
            "duckdb": lambda: rows_of(duck.execute(template.format(t=parquet)).fetchall()),
        })
        if exact["heap"] != exact["townlake"]:
            print(f"{label}: townlake {exact['townlake'][:3]} != heap {exact['heap'][:3]}", file=sys.stderr)
            sys.exit(3)
        print(f"{label:42} {median(times['townlake']):8.3f}s {median(times['heap']):8.3f}s "
              f"{median(times['duckdb']):8.3f}s {format_ratio(ratio(times, 'townlake', 'heap')):>20} "
              f"{format_ratio(ratio(times, 'townlake', 'duckdb')):>20}")
    catalog.engine.dispose()


if __name__ == "__main__":
    main()
