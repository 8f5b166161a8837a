"""A pipeline against the same INSERT … SELECT by hand, heap → Iceberg.

Each round, in rotating order: "by hand" creates a fresh Iceberg table and
times `INSERT INTO it SELECT * FROM heap`; "pipeline <mode>" defines a
pipeline into a fresh Iceberg table (created with the same DDL, not timed) and
times `SELECT lake.run_pipeline_now(…)`. For append, the run starts from an
empty watermark: one INSERT of every row (the source's `id` is NOT NULL, so
no filter), the Iceberg writer keeping the largest id it writes, which goes
into the snapshot summary as the new watermark. Every run's target is
checked against the heap (count and sum of ids, computed once from the heap).
Prints per-contender medians and the median of per-round ratios."""

import argparse
import statistics
import sys
import time

import psycopg

COLUMNS = "id bigint NOT NULL, ts timestamptz NOT NULL, account_id integer NOT NULL, " \
          "product text NOT NULL, units bigint NOT NULL, cost numeric(12,4) NOT NULL"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["append", "replace"])
    return parser.parse_args()


def make_heap(conn, rows: int) -> str:
    heap = f"bench.pipe_heap_{rows}"
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (heap,)).fetchone()[0]:
        print(f"reusing {heap}")
        return heap
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(f"CREATE TABLE {heap} ({COLUMNS}, PRIMARY KEY (id))")
        conn.execute(f"""
            INSERT INTO {heap}
            SELECT g, TIMESTAMPTZ '2024-06-01 00:00:00+00' + g * interval '250 milliseconds',
                   1 + (g * 7919) % 5000, (ARRAY['compute', 'storage', 'egress', 'queries'])[1 + g % 4],
                   1 + (g * 31) % 5000, ((1 + (g * 31) % 5000) * 0.0400)::numeric(12,4)
            FROM generate_series(1::bigint, {rows}) g""")
    conn.execute(f"VACUUM (ANALYZE) {heap}")
    print(f"generated {heap} in {time.perf_counter() - started:.1f}s")
    return heap


def drop(conn, table: str) -> None:
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_purge_on_drop = on")
        conn.execute(f"DROP FOREIGN TABLE IF EXISTS {table}")


def check(conn, table: str, expected) -> None:
    got = conn.execute(f"SELECT count(*), sum(id) FROM {table}").fetchone()
    if tuple(got) != tuple(expected):
        print(f"RESULT MISMATCH: {table} has {got}, the heap {expected}", file=sys.stderr)
        raise SystemExit(3)


def main():
    args = parse_args()
    conn = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True,
                           options="-c TimeZone=UTC")
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench_pipe")
    heap = make_heap(conn, args.rows)
    expected = conn.execute(f"SELECT count(*), sum(id) FROM {heap}").fetchone()

    def fresh_target(name: str) -> None:
        # The same DDL for both contenders: only the way rows get in differs.
        drop(conn, f"bench_pipe.{name}")
        conn.execute(f"CREATE FOREIGN TABLE bench_pipe.{name} ({COLUMNS}) SERVER lake_local "
                     f"OPTIONS (namespace 'bench_pipe', table '{name}')")

    def by_hand() -> float:
        fresh_target("by_hand")
        started = time.perf_counter()
        conn.execute(f"INSERT INTO bench_pipe.by_hand SELECT * FROM {heap}")
        took = time.perf_counter() - started
        check(conn, "bench_pipe.by_hand", expected)
        return took

    def pipeline(mode: str):
        def run() -> float:
            name = f"bench_{mode}"
            conn.execute("DELETE FROM lake.pipelines WHERE name = %s", (name,))
            fresh_target(name)
            watermark = ", watermark_column => 'id'" if mode == "append" else ""
            conn.execute(f"SELECT lake.define_pipeline('{name}', '{heap}', 'bench_pipe.{name}', mode => '{mode}'{watermark})")
            started = time.perf_counter()
            run_id = conn.execute("SELECT lake.run_pipeline_now(%s)", (name,)).fetchone()[0]
            took = time.perf_counter() - started
            status = conn.execute("SELECT status, error_message FROM lake.runs WHERE run_id = %s", (run_id,)).fetchone()
            if status[0] != "succeeded":
                print(f"pipeline run failed: {status}", file=sys.stderr)
                raise SystemExit(3)
            check(conn, f"bench_pipe.{name}", expected)
            return took
        return run

    contenders = {"by hand": by_hand, **{f"pipeline {m}": pipeline(m) for m in args.modes}}
    names = list(contenders)
    times = {n: [] for n in names}
    for r in range(args.runs):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(contenders[name]())
        print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in names), flush=True)
    base = statistics.median(times["by hand"])
    print(f"\n{args.rows} rows, {args.runs} interleaved rounds (median seconds; ratio = median of per-round ratios, range)")
    for name in names:
        med = statistics.median(times[name])
        line = f"  {name:18s} {med:8.2f}s  {args.rows / med / 1e6:6.2f} M rows/s"
        if name != "by hand":
            per_round = [a / b for a, b in zip(times[name], times["by hand"])]
            line += (f"  overhead {100 * (med / base - 1):+.1f}% (per-round ratio median "
                     f"{statistics.median(per_round):.3f}, {min(per_round):.3f}-{max(per_round):.3f})")
        print(line)


if __name__ == "__main__":
    main()
