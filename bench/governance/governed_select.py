"""Governance overhead, measured against a peer in the same run:

1. the same query through a published view (as an analyst with a read grant)
   and by the owner on the raw table: interleaved rounds, medians and ratio ranges;
2. pgbench throughput of two governed workloads (point SELECTs by key, and
   range aggregates over 1,000 rows) through the published view with the
   audit on and off, in alternating pairs, and of the same statements on an
   ungoverned copy of the table;
3. masks: every mask through the published view against the raw query, in
   interleaved pairs (medians), answers checked against built-in oracles.

The data (ROWS rows) is created once per row count and reused."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from timing import format_ratio, interleaved, median, ratio  # noqa: E402

from masks import compare_masks, prepare_database, setup_masks

RAW, PUB = "gbench_raw", "gbench_pub"
ANALYST, OWNER = "gbench_analyst", "gbench_owner"

QUERIES = {
    "aggregate, no PII column": "SELECT region, count(*), sum(amount) FROM {t} GROUP BY region",
    "filtered scan": "SELECT count(*), avg(amount) FROM {t} WHERE amount > 500 AND region <> 'eu'",
    "point lookup by key": "SELECT id, region, amount FROM {t} WHERE id = 4242",
    "masked PII column (mask per row)": "SELECT count(DISTINCT email) FROM {t}",
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("TOWNLAKE_PORT", "5499")))
    p.add_argument("--db", default="townlake_gov_bench")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--clients", type=int, default=2)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--pgbench", default="/usr/lib/postgresql/15/bin/pgbench")
    p.add_argument("--workloads", default="all", help="'point', 'range' or 'all'")
    p.add_argument("--skip-compare", action="store_true", help="only the pgbench part")
    p.add_argument("--masks-only", action="store_true", help="run only the mask comparison")
    p.add_argument("--work-mem", default="256MB", help="work_mem of both sides of the mask comparison")
    return p.parse_args()


def connect(args, db, user="postgres"):
    return psycopg.connect(host=args.host, port=args.port, user=user, dbname=db, autocommit=True)


def setup(args):
    prepare_database(args)
    with connect(args, args.db) as c:
        have = c.execute("SELECT count(*) FROM pg_class WHERE oid = to_regclass(%s)",
                         (f"{RAW}.events_{args.rows}",)).fetchone()[0]
        table = f"events_{args.rows}"
        if not have:
            c.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(RAW)))
            c.execute("CREATE SCHEMA IF NOT EXISTS gbench_plain")
            for schema in (RAW, "gbench_plain"):
                c.execute(sql.SQL("""
                    CREATE TABLE {}.{} AS
                    SELECT g::bigint AS id,
                           (ARRAY['eu','us','apac','latam'])[1 + g %% 4] AS region,
                           (g %% 1000)::numeric AS amount,
                           'user' || g || '@example.com' AS email
                      FROM generate_series(1, %s) g""").format(sql.Identifier(schema), sql.Identifier(table)),
                          (args.rows,))
                c.execute(sql.SQL("ALTER TABLE {}.{} ADD PRIMARY KEY (id)").format(
                    sql.Identifier(schema), sql.Identifier(table)))
                c.execute(sql.SQL("VACUUM ANALYZE {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))
            c.execute("GRANT USAGE ON SCHEMA gbench_plain TO PUBLIC")
            c.execute(sql.SQL("GRANT SELECT ON gbench_plain.{} TO PUBLIC").format(sql.Identifier(table)))
            if not c.execute("SELECT 1 FROM lake.governed_schemas WHERE raw_schema = %s", (RAW,)).fetchone():
                c.execute("SELECT lake.govern_schema(%s, %s)", (RAW, PUB))
            raw = f"{RAW}.{table}"
            for col, sens in (("id", "public"), ("region", "public"), ("amount", "internal"), ("email", "pii")):
                c.execute("SELECT lake.approve_column(%s::regclass, %s, %s)", (raw, col, sens))
            c.execute("SELECT lake.approve_table(%s::regclass, 'benchmark')", (raw,))
            c.execute("SELECT lake.grant_access(%s, %s::regclass, NULL, 'benchmark')", (ANALYST, raw))
    return f"events_{args.rows}"


def timed(conn, query, repeat=1):
    """Mean time of `repeat` back-to-back executions (short queries are
    repeated so that one sample is not just timer and scheduler jitter)."""
    t = time.perf_counter()
    for _ in range(repeat):
        result = conn.execute(query).fetchall()
    return (time.perf_counter() - t) / repeat, result


def compare_view_and_raw(args, table):
    """Runs the two sides interleaved (bench/timing.py: each round runs both,
    in a rotating order) and reports medians and the median and range of the
    per-round ratios; a sample of a short query is enough repetitions to last
    about 50 ms. Answers must agree (except where the view masks them)."""
    print(f"\n== published view vs owner on the raw table ({args.rows} rows, {args.runs} interleaved rounds)")
    print(f"{'query':36} {'view ms':>9} {'raw ms':>9} {'view/raw (range)':>22}")
    with connect(args, args.db, ANALYST) as analyst, connect(args, args.db, OWNER) as owner:
        for name, q in QUERIES.items():
            view_q, raw_q = q.format(t=f"{PUB}.{table}"), q.format(t=f"{RAW}.{table}")
            warm, _ = timed(analyst, view_q)  # warm up
            timed(owner, raw_q)
            repeat = max(1, min(2000, int(0.05 / max(warm, 1e-6))))
            masked = "email" in q
            times = interleaved(args.runs, {
                "view": lambda: sorted(timed(analyst, view_q, repeat)[1]),
                "raw": lambda: sorted(timed(owner, raw_q, repeat)[1]),
            }, same=(lambda a, b: True) if masked else (lambda a, b: a == b))
            tv, tr = median(times["view"]) / repeat, median(times["raw"]) / repeat
            print(f"{name:36} {tv * 1000:9.3f} {tr * 1000:9.3f} {format_ratio(ratio(times, 'view', 'raw')):>22}")


WORKLOADS = {
    "point": ("point SELECT by key", "\\set id random(1, {rows})\n"
              "SELECT id, region, amount FROM {t} WHERE id = :id;\n"),
    "range": ("range aggregate, 1,000 rows", "\\set id random(1, {last})\n"
              "SELECT region, count(*), sum(amount) FROM {t} "
              "WHERE id BETWEEN :id AND :id + 999 GROUP BY region;\n"),
}


def pgbench(args, user, script):
    """(tps, transactions processed) of one pgbench run of `script`."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    cmd = [args.pgbench, "-n", "-h", args.host, "-p", str(args.port), "-U", user, "-c", str(args.clients),
           "-j", str(args.clients), "-T", str(args.seconds), "-M", "prepared", "-f", path, args.db]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(path)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    return (float(tps.group(1)) if tps else float("nan")), (int(done.group(1)) if done else 0)


def set_audit(args, on):
    with connect(args, args.db) as c:
        c.execute(sql.SQL("ALTER ROLE {} {}").format(
            sql.Identifier(ANALYST), sql.SQL("RESET townlake.audit" if on else "SET townlake.audit = off")))


def audit_records(args):
    """Records in lake.audit_log once the writer has emptied the queue."""
    with connect(args, args.db) as c:
        deadline = time.time() + 120
        while c.execute("SELECT lake.audit_pending()").fetchone()[0] > 0:
            if time.time() > deadline:
                raise SystemExit("audit records still queued after 120 s")
            time.sleep(0.2)
        return c.execute("SELECT records FROM lake.audit_chain").fetchone()[0]


def throughput(args, table):
    """Audit on and off in interleaved pairs (on/off, then off/on, so drift
    and load from elsewhere hit both sides alike), per workload; the median
    pair ratio is the figure. Returns False if a record is missing."""
    print(f"\n== pgbench: {args.clients} clients, {args.seconds} s per run, prepared, "
          f"{args.pairs} interleaved audit on/off pairs per workload")
    ok = True
    for key, (name, template) in WORKLOADS.items():
        if args.workloads not in ("all", key):
            continue
        script = lambda rel: template.format(rows=args.rows, last=max(1, args.rows - 999), t=rel)
        view = script(f"{PUB}.{table}")
        pairs, written, statements = [], 0, 0
        for i in range(args.pairs):
            result = {}
            for on in ((True, False) if i % 2 == 0 else (False, True)):
                set_audit(args, on)
                if on:
                    before = audit_records(args)
                    tps, done = pgbench(args, ANALYST, view)
                    written += audit_records(args) - before
                    statements += done
                else:
                    tps, _ = pgbench(args, ANALYST, view)
                result[on] = tps
            pairs.append((result[True], result[False], result[True] / result[False]))
        set_audit(args, True)
        plain, _ = pgbench(args, ANALYST, script(f"gbench_plain.{table}"))
        with connect(args, args.db) as c:
            verified = c.execute("SELECT lake.verify_audit()").fetchone()[0]
        ratios = sorted(p[2] for p in pairs)
        median = statistics.median(ratios)
        on_med = statistics.median(p[0] for p in pairs)
        off_med = statistics.median(p[1] for p in pairs)
        print(f"-- {name}")
        for on, off, r in pairs:
            print(f"   pair: audit on {on:9.0f} tps, off {off:9.0f} tps, on/off {r:.3f}")
        print(f"   audit on/off throughput ratio: median {median:.3f} (pairs {ratios[0]:.3f}-{ratios[-1]:.3f}); "
              f"audit overhead {(1 - median) * 100:.1f}% (pairs {(1 - ratios[-1]) * 100:.1f}% to "
              f"{(1 - ratios[0]) * 100:.1f}%)")
        print(f"   medians: audit on {on_med:.0f} tps, off {off_med:.0f} tps; ungoverned heap table {plain:.0f} tps")
        print(f"   audit records written {written} for {statements} audited statements; verify_audit() = {verified}")
        if written != statements or not verified:
            print("   FAILED: audited statements and written records differ, or the chain does not verify")
            ok = False
    return ok


def main():
    args = parse_args()
    if args.masks_only:
        compare_masks(args, setup_masks(args))
        return
    table = setup(args)
    if not args.skip_compare:
        compare_view_and_raw(args, table)
        compare_masks(args, setup_masks(args))
    # a record missing from the log fails the run
    if not throughput(args, table):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
