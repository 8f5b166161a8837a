"""GROUP BY over a ClickHouse table, two ways, in the same run (interleaved
rounds, medians):

- townlake: the query in Postgres over a clickhouse foreign table; the
  GROUP BY (and HAVING/ORDER BY where the shape has them) runs in
  ClickHouse, only the groups travel (EXPLAIN VERBOSE is checked for that);
- ClickHouse directly: the same question in ClickHouse's SQL, one HTTP POST,
  its TabSeparated answer parsed by the client.

One more shape joins the events with a ClickHouse accounts table: the join
(and both sides' filters) runs in ClickHouse, only the joined rows travel.

Every run's rows must equal the other contender's (as typed values: integers,
exact decimals, Unix seconds), or the benchmark fails. The table is generated
by ClickHouse itself (INSERT ... SELECT FROM system.numbers)."""

import argparse
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from timing import format_ratio, interleaved, median, ratio  # noqa: E402

CH_DB = "townlake_bench"

# (name, townlake SQL, ClickHouse SQL, converters of each output column)
SHAPES = [
    ("by account",
     "SELECT account_id, count(*), sum(cost), min(ts), max(ts) FROM bench.ch_events "
     "WHERE kind <> 'api call' GROUP BY account_id",
     "SELECT account_id, count(), sum(cost), toUnixTimestamp(min(ts)), toUnixTimestamp(max(ts)) "
     "FROM {t} WHERE kind != 'api call' GROUP BY account_id"),
    ("by kind, country",
     "SELECT kind, country, count(*), sum(account_id), max(cost) FROM bench.ch_events GROUP BY kind, country",
     "SELECT kind, country, count(), sum(account_id), max(cost) FROM {t} GROUP BY kind, country"),
    ("top 10 accounts, HAVING",
     "SELECT account_id, count(*) AS n, avg(cost) FROM bench.ch_events GROUP BY account_id "
     "HAVING count(*) > 1000 ORDER BY n DESC, account_id LIMIT 10",
     "SELECT account_id, count() AS n, sum(cost) / count() FROM {t} GROUP BY account_id "
     "HAVING count() > 1000 ORDER BY n DESC, account_id LIMIT 10"),
    ("join accounts (selective)",
     "SELECT e.id, e.cost, a.plan FROM bench.ch_events e JOIN bench.ch_accounts a ON e.account_id = a.account_id "
     "WHERE a.region = 'emea' AND e.country = 'de' AND e.cost > 990",
     "SELECT id, cost, plan FROM (SELECT id, cost, account_id FROM {t} WHERE country = 'de' AND cost > 990) "
     "ALL INNER JOIN (SELECT account_id, plan FROM {a} WHERE region = 'emea') USING (account_id)"),
    # The seed's shape: events joined to a dimension, grouped, top N; the
    # join, the GROUP BY, the ORDER BY and the LIMIT all run in ClickHouse.
    ("join accounts, GROUP BY, top 100",
     "SELECT a.plan, e.account_id, count(*) AS n, sum(e.cost) AS spend FROM bench.ch_events e "
     "JOIN bench.ch_accounts a ON e.account_id = a.account_id WHERE e.kind = 'buy' "
     "GROUP BY a.plan, e.account_id ORDER BY spend DESC, e.account_id LIMIT 100",
     "SELECT plan, account_id, count() AS n, sum(cost) AS spend FROM (SELECT account_id, cost FROM {t} "
     "WHERE kind = 'buy') ALL INNER JOIN (SELECT account_id, plan FROM {a}) USING (account_id) "
     "GROUP BY plan, account_id ORDER BY spend DESC, account_id LIMIT 100"),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--clickhouse", default="http://127.0.0.1:18123")
    return parser.parse_args()


class ClickHouse:
    def __init__(self, url: str):
        self.url = url.rstrip("/") + "/"

    def query(self, body: str) -> str:
        request = urllib.request.Request(self.url, data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=600) as reply:
                return reply.read().decode()
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"ClickHouse: {exc.read().decode().strip()}") from None


def typed(value):
    """A value from either side as a comparable Python value."""
    if value is None or value == "\\N":
        return None
    if hasattr(value, "timestamp"):
        return Decimal(int(value.timestamp()))
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def rounded(row):
    # avg: Postgres gives 16 significant digits, ClickHouse's Decimal division
    # truncates at the column's scale; compare at that scale (2).
    return tuple(v.quantize(Decimal("0.01"), rounding="ROUND_DOWN") if isinstance(v, Decimal) else v for v in row)


def main():
    args = parse_args()
    ch = ClickHouse(args.clickhouse)
    table = f"{CH_DB}.events_{args.rows}"
    ch.query(f"CREATE DATABASE IF NOT EXISTS {CH_DB}")
    exists = ch.query(f"EXISTS TABLE {table}").strip() == "1"
    if not exists or int(ch.query(f"SELECT count() FROM {table}")) != args.rows:
        started = time.perf_counter()
        ch.query(f"DROP TABLE IF EXISTS {table}")
        ch.query(f"CREATE TABLE {table} (id UInt64, ts DateTime, account_id UInt32, kind String, "
                 f"cost Decimal(12, 2), country Nullable(String)) ENGINE = MergeTree() ORDER BY id")
        ch.query(f"INSERT INTO {table} SELECT number, toDateTime(1717200000 + number % 2592000), "
                 f"1 + (number * 7919) % 5000, ['click', 'view', 'buy', 'api call'][number % 4 + 1], "
                 f"toDecimal64((number * 31) % 100000, 2) / 100, "
                 f"if(number % 7 = 0, NULL, ['de', 'fr', 'us', 'it'][number % 4 + 1]) "
                 f"FROM system.numbers LIMIT {args.rows}")
        print(f"generated {table} in {time.perf_counter() - started:.1f}s")
    accounts = f"{CH_DB}.accounts_5000"
    ch.query(f"DROP TABLE IF EXISTS {accounts}")
    ch.query(f"CREATE TABLE {accounts} (account_id UInt32, plan String, region String) ENGINE = MergeTree() "
             f"ORDER BY account_id")
    ch.query(f"INSERT INTO {accounts} SELECT number + 1, ['free', 'pro', 'enterprise'][number % 3 + 1], "
             f"['emea', 'amer', 'apac', 'latam'][number % 4 + 1] FROM system.numbers LIMIT 5000")
    conn = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True)
    host, port = args.clickhouse.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    conn.execute("DROP SERVER IF EXISTS bench_chq CASCADE")
    conn.execute(sql.SQL("CREATE SERVER bench_chq FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})")
                 .format(sql.Literal(host), sql.Literal(port), sql.Literal(CH_DB)))
    conn.execute("CREATE USER MAPPING FOR PUBLIC SERVER bench_chq")
    conn.execute(f"CREATE FOREIGN TABLE bench.ch_events (id numeric(20,0), ts timestamptz, account_id bigint, kind text, "
                 f"cost numeric(12,2), country text) SERVER bench_chq OPTIONS (\"table\" 'events_{args.rows}')")
    conn.execute("CREATE FOREIGN TABLE bench.ch_accounts (account_id bigint, plan text, region text) "
                 "SERVER bench_chq OPTIONS (\"table\" 'accounts_5000')")
    build = conn.execute("SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'").fetchone()[0]
    print(f"rows={args.rows}, {args.runs} interleaved rounds, medians; preload: {build}")
    print(f"{'shape':32} {'townlake s':>11} {'clickhouse s':>13} {'ratio (min-max)':>22}")
    for name, mine, theirs in SHAPES:
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + mine).fetchall())
        local = plan.replace("Remote SQL", "")
        if " JOIN " in mine:
            if " JOIN " not in plan or any(j in local for j in ("Hash Join", "Merge Join", "Nested Loop")):
                raise SystemExit(f"{name}: the join is not pushed down:\n{plan}")
            if "GROUP BY" in mine and ("Aggregate" in local or "Sort" in local):
                raise SystemExit(f"{name}: the GROUP BY over the join is not pushed down:\n{plan}")
        elif "GROUP BY" not in plan or "Aggregate" in local:
            raise SystemExit(f"{name}: the GROUP BY is not pushed down:\n{plan}")
        ordered = "ORDER BY" in mine

        def townlake():
            got = [rounded(tuple(typed(v) for v in r)) for r in conn.execute(mine).fetchall()]
            return got if ordered else sorted(got, key=repr)

        def direct():
            text = ch.query(theirs.format(t=table, a=accounts) + " FORMAT TabSeparated")
            got = [rounded(tuple(typed(v) for v in line.split("\t"))) for line in text.splitlines()]
            return got if ordered else sorted(got, key=repr)

        times = interleaved(args.runs, {"townlake": townlake, "clickhouse http": direct})
        groups = len(townlake())
        print(f"{name:32} {median(times['townlake']):11.3f} {median(times['clickhouse http']):13.3f} "
              f"{format_ratio(ratio(times, 'townlake', 'clickhouse http')):>22}  ({groups} rows, checked)")


if __name__ == "__main__":
    main()
