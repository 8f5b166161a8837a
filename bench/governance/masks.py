"""Masks, measured against peers in the same run (run on its own, or from
governed_select.py): each mask on a column of its own type, read
through the published view as an analyst with a read grant, against

- the same query by the owner on the raw table (what the issue measures), and
- the same query by the owner on a stored copy of the masked values (what
  reading masked data costs at best: the difference to it is the masking);

in interleaved rounds (the order rotates from round to round), medians of
each side and the range of the per-round ratios. Every view answer is
checked against an oracle that computes the masked answer from the raw
table with Postgres built-ins only. Parallel plans are off (count(DISTINCT)
is serial anyway) except on the last line, which shows what the reveal
check, parallel restricted, costs a query that could go parallel.

    .venv/bin/python bench/governance/masks.py --port 5499 --rows 1000000 --runs 9
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

RAW, PUB = "gbench_raw", "gbench_pub"
ANALYST, OWNER = "gbench_analyst", "gbench_owner"

MASKED_COLUMNS = (
    ("id", "public", None, None),
    ("email", "pii", "lake.mask_email(text)", None),
    ("login", "pii", "lake.mask_email(text)", None),
    ("ip", "pii", "lake.mask_ip_prefix(inet)", None),
    ("born", "pii", "lake.mask_year(date)", None),
    ("card", "pii", "lake.mask_partial(text,integer,integer)", '{"keep_first": 0, "keep_last": 4}'),
    ("ssn", "restricted", "lake.mask_hash(text)", None),
    ("name", "restricted", "lake.mask_redact(anyelement)", None),
)

# name: (query on the view / the raw table / the masked copy, oracle on the raw table[, parallel])
MASK_QUERIES = {
    "count(DISTINCT email), mask_email": (
        "SELECT count(DISTINCT email) FROM {t}",
        "SELECT count(DISTINCT left(email, 1) || '***' || substring(email FROM position('@' IN email))) FROM {t}"),
    "same, all masked values equal (login)": (
        "SELECT count(DISTINCT login) FROM {t}",
        "SELECT count(DISTINCT left(login, 1) || '***' || substring(login FROM position('@' IN login))) FROM {t}"),
    "count(DISTINCT ip), mask_ip_prefix": (
        "SELECT count(DISTINCT ip) FROM {t}",
        "SELECT count(DISTINCT network(set_masklen(ip, 24))) FROM {t}"),
    "count(DISTINCT born), mask_year": (
        "SELECT count(DISTINCT born) FROM {t}",
        "SELECT count(DISTINCT date_trunc('year', born)) FROM {t}"),
    "count(DISTINCT card), mask_partial": (
        "SELECT count(DISTINCT card) FROM {t}",
        "SELECT count(DISTINCT repeat('*', length(card) - 4) || right(card, 4)) FROM {t}"),
    "count(DISTINCT ssn), mask_hash": (
        "SELECT count(DISTINCT ssn) FROM {t}",
        "SELECT count(DISTINCT ssn) FROM {t}"),
    "count(DISTINCT name), mask_redact": (
        "SELECT count(DISTINCT name) FROM {t}",
        "SELECT count(DISTINCT '[redacted]') FROM {t}"),
    "mask per row only (email <> '')": (
        "SELECT count(*) FROM {t} WHERE email <> ''",
        "SELECT count(*) FROM {t}"),
    "same, parallel plans allowed": (
        "SELECT count(*) FROM {t} WHERE email <> ''",
        "SELECT count(*) FROM {t}", True),
}


def connect(args, db, user="postgres"):
    return psycopg.connect(host=args.host, port=args.port, user=user, dbname=db, autocommit=True)


def prepare_database(args) -> None:
    """The bench database with townlake, the analyst and the owner (a member
    of lake_owner); made once, shared with governed_select.py."""
    with connect(args, "postgres") as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (args.db,)).fetchone():
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db)))
        for role in (ANALYST, OWNER):
            if not c.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                c.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    with connect(args, args.db) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS townlake")
        c.execute(sql.SQL("GRANT lake_owner TO {}").format(sql.Identifier(OWNER)))


def setup_masks(args) -> str:
    """gbench_raw.people_<ROWS>: one column per mask, governed and granted to
    the analyst (created once per row count); returns the table name."""
    table = f"people_{args.rows}"
    raw = f"{RAW}.{table}"
    prepare_database(args)
    with connect(args, args.db) as c:
        if c.execute("SELECT to_regclass(%s)", (raw,)).fetchone()[0]:
            return table
        c.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(RAW)))
        if not c.execute("SELECT 1 FROM lake.governed_schemas WHERE raw_schema = %s", (RAW,)).fetchone():
            c.execute("SELECT lake.govern_schema(%s, %s)", (RAW, PUB))
        # 26 first letters x 5,000 domains, /24 networks, 70 years, 10,000
        # card endings: masked values repeat (as real ones do), raw ones do
        # not; login (the shape of gbench_raw.events' email) masks to a single value
        c.execute(sql.SQL("""
            CREATE TABLE {} AS
            SELECT g::bigint AS id,
                   chr((97 + (g::bigint * 7919) %% 26)::int) || 'user' || g || '@d' || (g %% 5000) || '.example.com' AS email,
                   'user' || g || '@example.com' AS login,
                   ('10.' || (g / 65536) %% 256 || '.' || (g / 256) %% 256 || '.' || g %% 256)::inet AS ip,
                   date '1940-01-01' + (g * 37) %% 25000 AS born,
                   lpad(((g::bigint * 2654435761) %% 10000000000000000)::text, 16, '4') AS card,
                   lpad(((g::bigint * 104729) %% 1000000000)::text, 9, '0') AS ssn,
                   'name ' || g AS name
              FROM generate_series(1, %s) g""").format(sql.Identifier(RAW, table)), (args.rows,))
        c.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(RAW, table)))
        for col, sens, mask, margs in MASKED_COLUMNS:
            c.execute("SELECT lake.approve_column(%s::regclass, %s, %s, %s::regprocedure)", (raw, col, sens, mask))
            if margs:
                c.execute("SELECT lake.set_mask(%s::regclass, %s, %s::regprocedure, %s::jsonb)",
                          (raw, col, mask, margs))
        c.execute("SELECT lake.approve_table(%s::regclass, 'benchmark')", (raw,))
        c.execute("SELECT lake.grant_access(%s, %s::regclass, NULL, 'benchmark')", (ANALYST, raw))
        # the peer that reads stored masked values (as a superuser reads the view)
        c.execute("CREATE SCHEMA IF NOT EXISTS gbench_plain")
        c.execute(sql.SQL("CREATE TABLE {} AS SELECT * FROM {}").format(
            sql.Identifier("gbench_plain", f"{table}_masked"), sql.Identifier(PUB, table)))
        c.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier("gbench_plain", f"{table}_masked")))
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA gbench_plain TO {}").format(sql.Identifier(OWNER)))
        c.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
            sql.Identifier("gbench_plain", f"{table}_masked"), sql.Identifier(OWNER)))
    return table


def timed(conn, query):
    t = time.perf_counter()
    result = conn.execute(query).fetchall()
    return time.perf_counter() - t, result


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def compare_masks(args, table) -> bool:
    """Prints one line per query; False if a view answer differs from its oracle."""
    print(f"\n== masks: published view (analyst) vs raw table and stored masked copy (owner), {args.rows} rows,\n"
          f"   median of {args.runs} interleaved rounds, work_mem {args.work_mem}")
    print(f"{'query':36} {'view ms':>8} {'raw ms':>8} {'copy ms':>8} {'view/raw':>9} {'(rounds)':>13} "
          f"{'view/copy':>9} {'(rounds)':>13}  check")
    view_t, raw_t, copy_t = f"{PUB}.{table}", f"{RAW}.{table}", f"gbench_plain.{table}_masked"
    all_ok = True
    with connect(args, args.db, ANALYST) as analyst, connect(args, args.db, OWNER) as owner:
        for c in (analyst, owner):
            c.execute(sql.SQL("SET work_mem = {}").format(sql.Literal(args.work_mem)))
        for name, (q, oracle, *parallel) in MASK_QUERIES.items():
            workers = "2" if parallel and parallel[0] else "0"
            for c in (analyst, owner):
                c.execute(sql.SQL("SET max_parallel_workers_per_gather = {}").format(sql.Literal(workers)))
            _, expected = timed(owner, oracle.format(t=raw_t))
            sides = [(analyst, q.format(t=view_t), []), (owner, q.format(t=raw_t), []),
                     (owner, q.format(t=copy_t), [])]
            got = expected
            for conn, query, _ in sides:  # warm up
                timed(conn, query)
            for i in range(args.runs):
                for conn, query, out in sides[i % 3:] + sides[:i % 3]:
                    t, result = timed(conn, query)
                    out.append(t)
                    if conn is analyst and result != expected:
                        got = result
            ok = got == expected
            all_ok &= ok
            tv, tr, tc = (side[2] for side in sides)
            vr = sorted(v / r for v, r in zip(tv, tr))
            vc = sorted(v / c for v, c in zip(tv, tc))
            mv, mr, mc = median(tv), median(tr), median(tc)
            print(f"{name:36} {mv * 1000:8.1f} {mr * 1000:8.1f} {mc * 1000:8.1f} {mv / mr:9.3f} "
                  f"{vr[0]:6.2f}-{vr[-1]:<6.2f} {mv / mc:9.3f} {vc[0]:6.2f}-{vc[-1]:<6.2f}  "
                  f"{'ok' if ok else f'WRONG: {got} vs oracle {expected}'}")
    return all_ok


def main():
    import argparse
    import os
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(os.environ.get("TOWNLAKE_PORT", "5499")))
    p.add_argument("--db", default="townlake_gov_bench")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--work-mem", default="256MB")
    args = p.parse_args()
    raise SystemExit(0 if compare_masks(args, setup_masks(args)) else 1)


if __name__ == "__main__":
    main()
