"""Bulk-insert the same rows into ClickHouse two ways and compare, in the
same run (interleaved rounds, medians):

- townlake: INSERT INTO <clickhouse foreign table> SELECT * FROM <heap
  table>, sent in batches of townlake.clickhouse_batch_size rows;
- ClickHouse directly: one HTTP POST of `INSERT ... FORMAT TabSeparated` with
  the same rows, prepared in memory before the clock starts.

Each contender writes its own ClickHouse table, emptied before every run;
after every run the table's count(), sum(id) and sum(cost) must equal the
heap table's (checked on ClickHouse, over HTTP), or the benchmark fails."""

import argparse
import sys
import time
from decimal import Decimal
import urllib.request
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from timing import format_ratio, interleaved, median, ratio  # noqa: E402

CH_DB = "townlake_bench"
CH_COLUMNS = ("(id UInt64, ts DateTime, account_id UInt32, kind String, cost Decimal(12, 2), "
              "country Nullable(String)) ENGINE = MergeTree() ORDER BY id")
PG_COLUMNS = ("id bigint NOT NULL, ts timestamptz NOT NULL, account_id integer NOT NULL, kind text NOT NULL, "
              "cost numeric(12,2) NOT NULL, country text")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5499)
    parser.add_argument("--db", default="townlake_bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clickhouse", default="http://127.0.0.1:18123")
    parser.add_argument("--batch", type=int, default=None)
    return parser.parse_args()


class ClickHouse:
    def __init__(self, url: str):
        self.url = url.rstrip("/") + "/"

    def query(self, body: bytes | str) -> str:
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(self.url, data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=600) as reply:
                return reply.read().decode()
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"ClickHouse: {exc.read().decode().strip()}") from None


def make_heap(conn, rows: int) -> str:
    heap = f"bench.ch_insert_heap_{rows}"
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (heap,)).fetchone()[0]:
        print(f"reusing {heap}")
        return heap
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(f"CREATE TABLE {heap} ({PG_COLUMNS})")
        conn.execute(f"""
            INSERT INTO {heap}
            SELECT g, TIMESTAMPTZ '2024-06-01 00:00:00+00' + (g % 2592000) * interval '1 second',
                   1 + (g * 7919) % 5000, (ARRAY['click', 'view', 'buy', 'api call'])[1 + g % 4],
                   ((g * 31) % 100000) / 100.0,
                   CASE WHEN g % 7 = 0 THEN NULL ELSE (ARRAY['de', 'fr', 'us', 'it'])[1 + g % 4] END
            FROM generate_series(1::bigint, {rows}) g""")
    conn.execute(f"VACUUM ANALYZE {heap}")
    print(f"generated {heap} in {time.perf_counter() - started:.1f}s")
    return heap


def heap_as_tsv(conn, heap: str) -> bytes:
    """The heap's rows as ClickHouse's TabSeparated (timestamps as Unix
    seconds; Postgres' COPY text escapes as ClickHouse reads, \\N for NULL)."""
    out = bytearray()
    with conn.cursor().copy(f"COPY (SELECT id, extract(epoch FROM ts)::bigint, account_id, kind, cost, country "
                            f"FROM {heap}) TO STDOUT") as copy:
        for chunk in copy:
            out += chunk
    return bytes(out)


def main():
    args = parse_args()
    ch = ClickHouse(args.clickhouse)
    conn = psycopg.connect(host="127.0.0.1", port=args.port, user="postgres", dbname=args.db, autocommit=True)
    heap = make_heap(conn, args.rows)
    want = conn.execute(f"SELECT count(*), sum(id), sum(cost) FROM {heap}").fetchone()
    want = (int(want[0]), int(want[1]), Decimal(want[2]))

    ch.query(f"CREATE DATABASE IF NOT EXISTS {CH_DB}")
    for table in ("via_townlake", "via_http"):
        ch.query(f"DROP TABLE IF EXISTS {CH_DB}.{table}")
        ch.query(f"CREATE TABLE {CH_DB}.{table} {CH_COLUMNS}")
    host, port = args.clickhouse.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    conn.execute("DROP SERVER IF EXISTS bench_ch CASCADE")
    conn.execute(sql.SQL("CREATE SERVER bench_ch FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})")
                 .format(sql.Literal(host), sql.Literal(port), sql.Literal(CH_DB)))
    conn.execute("CREATE USER MAPPING FOR PUBLIC SERVER bench_ch")
    conn.execute(f"CREATE FOREIGN TABLE bench.via_townlake ({PG_COLUMNS}) SERVER bench_ch")
    if args.batch:
        conn.execute(f"SET townlake.clickhouse_batch_size = {args.batch}")
    batch = int(conn.execute("SHOW townlake.clickhouse_batch_size").fetchone()[0])
    body = f"INSERT INTO {CH_DB}.via_http FORMAT TabSeparated\n".encode() + heap_as_tsv(conn, heap)

    def checked(table):
        got = ch.query(f"SELECT count(), sum(id), toString(sum(cost)) FROM {CH_DB}.{table} FORMAT TabSeparated")
        count, ids, cost = got.strip().split("\t")
        return int(count), int(ids), Decimal(cost)

    def townlake():
        ch.query(f"TRUNCATE TABLE {CH_DB}.via_townlake")
        started = time.perf_counter()
        conn.execute(f"INSERT INTO bench.via_townlake SELECT * FROM {heap}")
        elapsed = time.perf_counter() - started
        return elapsed, checked("via_townlake")

    def direct():
        ch.query(f"TRUNCATE TABLE {CH_DB}.via_http")
        started = time.perf_counter()
        ch.query(body)
        elapsed = time.perf_counter() - started
        return elapsed, checked("via_http")

    # interleaved() times the whole call (the TRUNCATE and the check too);
    # the insert alone is timed inside and kept here.
    inner: dict[str, list[float]] = {"townlake": [], "clickhouse http": []}

    def contender(name, run):
        def go():
            elapsed, result = run()
            inner[name].append(elapsed)
            if result != want:
                raise SystemExit(f"{name}: ClickHouse holds {result}, expected {want}")
            return result
        return go

    interleaved(args.runs, {"townlake": contender("townlake", townlake),
                            "clickhouse http": contender("clickhouse http", direct)})
    print(f"rows={args.rows} townlake.clickhouse_batch_size={batch} ({-(-args.rows // batch)} requests per insert), "
          f"TSV body {len(body) / 2**20:.0f} MB, {args.runs} interleaved rounds, medians; every run's "
          f"count/sum(id)/sum(cost) checked on ClickHouse = {want}")
    print(f"{'contender':16} {'seconds':>8} {'rows/s':>12}")
    for name, times in inner.items():
        print(f"{name:16} {median(times):8.3f} {args.rows / median(times):12,.0f}")
    print(f"townlake / clickhouse http: {format_ratio(ratio(inner, 'townlake', 'clickhouse http'))}")


if __name__ == "__main__":
    main()
