"""The seed platform's headline question in one statement: "top 100 paying
customers by requests this week" — request events aggregated in ClickHouse,
joined with an accounts table in Postgres and billing rollups in Iceberg.

Oracle: the source rows themselves. The events are made here in Python and
loaded with ClickHouse's own HTTP interface; accounts and billing are made
here too; the expected ranking is computed from those lists in Python.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from decimal import Decimal

import pytest
from psycopg import sql

from govhelpers import rows

CHDB = f"tl_chseed_{uuid.uuid4().hex[:6]}"
WEEK = dt.timedelta(days=7)
# Events this close to the week's start are left out, so that the seconds
# between loading and querying cannot move one across it.
MARGIN = dt.timedelta(minutes=15)

QUERY = """
SELECT a.account_id, a.name, e.requests, b.amount
FROM (SELECT account_id, count(*) AS requests
      FROM events
      WHERE ts >= now() - interval '7 days'
      GROUP BY account_id) e
JOIN accounts a USING (account_id)
JOIN {billing} b USING (account_id)
WHERE b.amount > 0
ORDER BY e.requests DESC, a.account_id
LIMIT 100
"""


@pytest.fixture(scope="module")
def seed(conn, clickhouse, write_ns):
    rng = random.Random(20240603)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    accounts = [(i, f"Account {i:04d}", rng.choice(["free", "pro", "business"])) for i in range(1, 401)]
    # Billing rollups: some accounts pay nothing, some have no row at all.
    billing = [(i, Decimal(rng.choice([0, 0, rng.randint(1, 50000)])) / 100) for i in range(1, 401) if i % 9 != 0]
    events = []
    for account in range(1, 451):  # 50 event sources have no account row
        activity = rng.choice([1, 5, 20, 80])
        for _ in range(rng.randint(0, activity * 10)):
            age = dt.timedelta(seconds=rng.randint(0, 14 * 86400))
            if abs(age - WEEK) < MARGIN:
                continue
            events.append((now - age, account, rng.choice(["GET", "POST"]), rng.randint(100, 599)))
    clickhouse.query(f"CREATE DATABASE {CHDB}")
    clickhouse.query(f"CREATE TABLE {CHDB}.events (ts DateTime, account_id UInt32, method String, status UInt16) "
                     f"ENGINE = MergeTree() ORDER BY (account_id, ts)")
    tsv = "".join(f"{int(ts.timestamp())}\t{a}\t{m}\t{s}\n" for ts, a, m, s in events)
    clickhouse.query(f"INSERT INTO {CHDB}.events FORMAT TabSeparated\n" + tsv)
    assert int(clickhouse.query(f"SELECT count() FROM {CHDB}.events")) == len(events)

    conn.execute(sql.SQL("CREATE SERVER seed_ch FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})").format(
        sql.Literal(clickhouse.host), sql.Literal(str(clickhouse.port)), sql.Literal(CHDB)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER seed_ch OPTIONS (user {}, password {})").format(
        sql.Literal(clickhouse.user), sql.Literal(clickhouse.password)))
    conn.execute("CREATE FOREIGN TABLE events (ts timestamptz, account_id bigint, method text, status integer) SERVER seed_ch")
    conn.execute("CREATE TABLE accounts (account_id bigint PRIMARY KEY, name text NOT NULL, plan text NOT NULL)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO accounts VALUES (%s, %s, %s)", accounts)
    billing_table = f"{write_ns}.billing"
    conn.execute(f"CREATE FOREIGN TABLE {billing_table} (account_id bigint, amount numeric(12,2)) "
                 f"SERVER lake_local OPTIONS (namespace '{write_ns}', \"table\" 'billing')")
    values = ", ".join(["(%s, %s)"] * len(billing))
    conn.execute(f"INSERT INTO {billing_table} VALUES {values}", [v for row in billing for v in row])
    conn.execute("ANALYZE accounts")
    yield {"accounts": accounts, "billing": billing, "events": events, "now": now, "billing_table": billing_table}
    clickhouse.query(f"DROP DATABASE IF EXISTS {CHDB}")


def expected_top(seed) -> list[tuple]:
    since = seed["now"] - WEEK
    requests: dict[int, int] = {}
    for ts, account, _, _ in seed["events"]:
        if ts >= since:
            requests[account] = requests.get(account, 0) + 1
    names = {a: name for a, name, _ in seed["accounts"]}
    paid = {a: amount for a, amount in seed["billing"]}
    ranked = [(a, names[a], n, paid[a]) for a, n in requests.items()
              if a in names and a in paid and paid[a] > 0]
    ranked.sort(key=lambda r: (-r[2], r[0]))
    return ranked[:100]


def test_top_paying_customers_by_requests_this_week(conn, seed):
    query = QUERY.format(billing=seed["billing_table"])
    want = expected_top(seed)
    # The data make the question non-trivial: more paying active accounts
    # than the LIMIT, and ties on the request count.
    assert len(want) == 100
    assert len({r[2] for r in want}) < 100
    got = rows(conn, query)
    assert got == want
    # ANALYZE: the WHERE depends on now(), so its remote text exists once the scan starts.
    plan = "\n".join(r[0] for r in rows(conn, "EXPLAIN (ANALYZE, VERBOSE) " + query))
    remote = [line.split("Remote SQL: ", 1)[1] for line in plan.splitlines() if "Remote SQL: " in line]
    # The events are aggregated in ClickHouse: one row per active account travels.
    assert len(remote) == 1, plan
    assert remote[0].startswith(f"SELECT `account_id`, count() FROM `{CHDB}`.`events` WHERE "), remote[0]
    # (`>` when now() has a fraction of a second: DateTime holds whole seconds.)
    assert re.search(r"WHERE `ts` >=? toDateTime\(\d+\) GROUP BY `account_id`$", remote[0]), remote[0]
    active = {a for ts, a, _, _ in seed["events"] if ts >= seed["now"] - WEEK}
    assert f"Rows Fetched: {len(active)}" in plan, plan
    assert "Iceberg Table" in plan and "public.accounts" in plan, plan
