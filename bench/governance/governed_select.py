"""Governance overhead, measured against a peer in the same run:

1. the same query through a published view (as an analyst with a read grant)
   and by the owner on the raw table: best-of-N times and their ratio;
2. pgbench throughput of simple governed point SELECTs through the published
   view with the audit on and off, and of the same SELECT on an ungoverned
   copy of the table.

The data (ROWS rows) is created once per row count and reused."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time

import psycopg
from psycopg import sql

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
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--pgbench", default="/usr/lib/postgresql/15/bin/pgbench")
    return p.parse_args()


def connect(args, db, user="postgres"):
    return psycopg.connect(host=args.host, port=args.port, user=user, dbname=db, autocommit=True)


def setup(args):
    with connect(args, "postgres") as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.db,)).fetchone():
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db)))
        for role in (ANALYST, OWNER):
            if not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                c.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    with connect(args, args.db) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS townlake")
        c.execute(sql.SQL("GRANT lake_owner TO {}").format(sql.Identifier(OWNER)))
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
    """Runs the two sides alternately (so load from elsewhere hits both) and
    keeps the best time of each; a sample of a short query is the mean of
    enough repetitions to last about 50 ms."""
    print(f"\n== published view vs owner on the raw table ({args.rows} rows, best of {args.runs})")
    print(f"{'query':36} {'view ms':>9} {'raw ms':>9} {'ratio':>7}")
    with connect(args, args.db, ANALYST) as analyst, connect(args, args.db, OWNER) as owner:
        for name, q in QUERIES.items():
            view_q, raw_q = q.format(t=f"{PUB}.{table}"), q.format(t=f"{RAW}.{table}")
            warm, _ = timed(analyst, view_q)  # warm up
            timed(owner, raw_q)
            repeat = max(1, min(2000, int(0.05 / max(warm, 1e-6))))
            tv = tr = float("inf")
            for _ in range(args.runs):
                t, rv = timed(analyst, view_q, repeat)
                tv = min(tv, t)
                t, rr = timed(owner, raw_q, repeat)
                tr = min(tr, t)
            same = "" if "email" in q or sorted(rv) == sorted(rr) else "  (results differ!)"
            print(f"{name:36} {tv * 1000:9.3f} {tr * 1000:9.3f} {tv / tr:7.3f}{same}")


def pgbench(args, user, relation, extra_env=None):
    script = ("\\set id random(1, %d)\n"
              "SELECT id, region, amount FROM %s WHERE id = :id;\n") % (args.rows, relation)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    env = dict(os.environ, **(extra_env or {}))
    cmd = [args.pgbench, "-n", "-h", args.host, "-p", str(args.port), "-U", user, "-c", str(args.clients),
           "-j", str(args.clients), "-T", str(args.seconds), "-M", "prepared", "-f", path, args.db]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    os.unlink(path)
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    return float(m.group(1)) if m else float("nan")


def throughput(args, table):
    print(f"\n== pgbench: point SELECTs, {args.clients} clients, {args.seconds} s, prepared")
    with connect(args, args.db) as c:
        c.execute(sql.SQL("ALTER ROLE {} RESET townlake.audit").format(sql.Identifier(ANALYST)))
        before = c.execute("SELECT records FROM lake.audit_chain").fetchone()[0]
    on = pgbench(args, ANALYST, f"{PUB}.{table}")
    with connect(args, args.db) as c:
        deadline = time.time() + 120
        while c.execute("SELECT lake.audit_pending()").fetchone()[0] > 0 and time.time() < deadline:
            time.sleep(0.2)
        written = c.execute("SELECT records FROM lake.audit_chain").fetchone()[0] - before
        c.execute(sql.SQL("ALTER ROLE {} SET townlake.audit = off").format(sql.Identifier(ANALYST)))
    off = pgbench(args, ANALYST, f"{PUB}.{table}")
    with connect(args, args.db) as c:
        c.execute(sql.SQL("ALTER ROLE {} RESET townlake.audit").format(sql.Identifier(ANALYST)))
        ok = c.execute("SELECT lake.verify_audit()").fetchone()[0]
    plain = pgbench(args, ANALYST, f"gbench_plain.{table}")
    print(f"{'published view, audit on':36} {on:10.0f} tps")
    print(f"{'published view, audit off':36} {off:10.0f} tps")
    print(f"{'ungoverned heap table':36} {plain:10.0f} tps")
    print(f"audit overhead: {(1 - on / off) * 100:5.1f}% of throughput; "
          f"governance without audit vs ungoverned: {(1 - off / plain) * 100:5.1f}%")
    print(f"audit records written during the audited run: {written} "
          f"(~{on * args.seconds:.0f} statements); verify_audit() = {ok}")


def main():
    args = parse_args()
    table = setup(args)
    compare_view_and_raw(args, table)
    throughput(args, table)


if __name__ == "__main__":
    main()
