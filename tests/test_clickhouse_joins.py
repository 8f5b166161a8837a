"""Joins of two ClickHouse foreign tables computed by ClickHouse (18.16, the
`clickhouse` fixture's server).

Oracle: heap copies of both tables loaded from ClickHouse's own TSV output
(never read through townlake); each join runs on the foreign tables and on
the heap copies and must return the same rows. The remote SQL is asserted
from EXPLAIN VERBOSE, and ClickHouse's query_log shows that only the
joined rows travelled.
"""

from __future__ import annotations

import time
import uuid

import pytest
from psycopg import sql

from govhelpers import rows

SUFFIX = uuid.uuid4().hex[:6]
CHDB = f"tl_chj_{SUFFIX}"

EV_DDL = f"""
CREATE TABLE {CHDB}.ev (id UInt64, account_id UInt32, kind String, cost Decimal(12, 2),
    ref Nullable(Int32), ts DateTime, tags Array(String)) ENGINE = MergeTree() ORDER BY id
"""
EV_FILL = f"""
INSERT INTO {CHDB}.ev SELECT number, number % 70, ['click', 'view', 'buy'][number % 3 + 1],
    toDecimal64(number % 97, 2), if(number % 5 = 0, NULL, toInt32(number % 13)),
    toDateTime(1717200000 + number * 600), [toString(number % 3)]
FROM system.numbers LIMIT 3000
"""
# A Memory table: no row count in system.parts.
ACCT_DDL = f"""
CREATE TABLE {CHDB}.acct (account_id UInt32, plan String, region Nullable(String), ref Nullable(Int32),
    big_id Int64) ENGINE = Memory
"""
ACCT_FILL = f"""
INSERT INTO {CHDB}.acct SELECT number + 10, if(number % 3 = 0, 'pro', 'free'),
    if(number % 6 = 0, NULL, ['eu', 'us'][number % 2 + 1]), if(number % 4 = 0, NULL, toInt32(number % 13)),
    number + 10
FROM system.numbers LIMIT 80
"""
EV_PG = "(id bigint, account_id bigint, kind text, cost numeric(12,2), ref integer, ts timestamptz, tags text[])"
ACCT_PG = "(account_id bigint, plan text, region text, ref integer, big_id bigint)"


def plan_of(conn, query, params=None) -> str:
    return "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + query, params).fetchall())


def remote_sqls(conn, query, params=None) -> list[str]:
    return [line.split("Remote SQL: ", 1)[1] for line in plan_of(conn, query, params).splitlines()
            if "Remote SQL: " in line]


def pushed_join(conn, query, params=None) -> str:
    """The one remote SQL of a query whose join ClickHouse computes."""
    sqls = remote_sqls(conn, query, params)
    assert len(sqls) == 1, plan_of(conn, query, params)
    assert " JOIN " in sqls[0], sqls[0]
    return sqls[0]


def same_rows(conn, query, params=None):
    heap = (query.replace("FROM ev ", "FROM ev_heap ").replace("JOIN acct ", "JOIN acct_heap ")
            .replace("FROM acct ", "FROM acct_heap "))
    assert heap != query
    got = sorted(rows(conn, query, params), key=repr)
    want = sorted(rows(conn, heap, params), key=repr)
    assert got == want
    return got


@pytest.fixture(scope="module")
def chj(conn, clickhouse):
    ch = clickhouse
    for stmt in (f"CREATE DATABASE {CHDB}", EV_DDL, EV_FILL, ACCT_DDL, ACCT_FILL):
        ch.query(stmt)
    conn.execute(sql.SQL("CREATE SERVER chj FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})")
                 .format(sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER chj OPTIONS (user {}, password {})").format(
        sql.Literal(ch.user), sql.Literal(ch.password)))
    # The same ClickHouse server under another foreign server: never joined remotely.
    conn.execute(sql.SQL("CREATE SERVER chj2 FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})")
                 .format(sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER chj2 OPTIONS (user {}, password {})").format(
        sql.Literal(ch.user), sql.Literal(ch.password)))
    conn.execute(f"CREATE FOREIGN TABLE ev {EV_PG} SERVER chj")
    conn.execute(f"CREATE FOREIGN TABLE acct {ACCT_PG} SERVER chj")
    conn.execute(f"CREATE FOREIGN TABLE acct2 {ACCT_PG} SERVER chj2 OPTIONS (\"table\" 'acct')")
    conn.execute(f"CREATE TABLE ev_heap {EV_PG}")
    conn.execute(f"CREATE TABLE acct_heap {ACCT_PG}")
    ev = ch.rows(f"SELECT id, account_id, kind, toString(cost), ref, toUnixTimestamp(ts), arrayStringConcat(tags, ',') "
                 f"FROM {CHDB}.ev")
    acct = ch.rows(f"SELECT account_id, plan, region, ref, big_id FROM {CHDB}.acct")
    assert len(ev) == 3000 and len(acct) == 80
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO ev_heap VALUES (%s, %s, %s, %s::numeric, %s, to_timestamp(%s), "
                        "string_to_array(%s, ','))", [tuple(r) for r in ev])
        cur.executemany("INSERT INTO acct_heap VALUES (%s, %s, %s, %s, %s)", [tuple(r) for r in acct])
    conn.execute("CREATE TABLE plans (plan text PRIMARY KEY, price numeric)")
    conn.execute("INSERT INTO plans VALUES ('pro', 20), ('free', 0)")
    # Statistics from ClickHouse's own sample, as docs/clickhouse.md advises.
    conn.execute("ANALYZE ev_heap; ANALYZE acct_heap; ANALYZE plans; ANALYZE ev; ANALYZE acct")
    yield conn
    ch.query(f"DROP DATABASE IF EXISTS {CHDB}")


KIND_QUERIES = [
    ("ALL INNER JOIN",
     "SELECT e.id, e.kind, a.plan, a.region FROM ev e JOIN acct a ON e.account_id = a.account_id"),
    ("ALL LEFT JOIN",
     "SELECT e.id, a.plan, a.region, a.account_id FROM ev e LEFT JOIN acct a ON e.account_id = a.account_id"),
    ("ALL RIGHT JOIN",
     "SELECT e.id, e.cost, a.account_id, a.plan FROM ev e RIGHT JOIN acct a ON e.account_id = a.account_id"),
    ("ALL FULL JOIN",
     "SELECT e.id, e.ts, a.account_id, a.region FROM ev e FULL JOIN acct a ON e.account_id = a.account_id"),
]


@pytest.mark.parametrize("how,query", KIND_QUERIES, ids=[k for k, _ in KIND_QUERIES])
def test_each_join_kind_runs_in_clickhouse_and_matches_postgres(chj, how, query):
    remote = pushed_join(chj, query)
    # Both orders of the two sides are valid plans: the kind may appear mirrored.
    mirrored = {"ALL LEFT JOIN": "ALL RIGHT JOIN", "ALL RIGHT JOIN": "ALL LEFT JOIN"}.get(how, how)
    assert how in remote or mirrored in remote, remote
    assert "USING (`__townlake_k0`)" in remote
    got = same_rows(chj, query)
    assert len(got) > 100
    if how != "ALL INNER JOIN":
        # NULL-extended rows exist, as Postgres makes them (not ClickHouse's 0 / '').
        assert any(None in r for r in got)


@pytest.mark.parametrize("how", ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
def test_nullable_keys_never_match_null(chj, how):
    # ref is Nullable on both sides, with NULLs and duplicates on both.
    query = f"SELECT e.id, e.ref, a.account_id, a.ref FROM ev e {how} acct a ON e.ref = a.ref"
    remote = pushed_join(chj, query)
    assert "if(isNull(`ref`), toUInt8(1), toUInt8(0)) AS `__townlake_n0`" in remote
    assert "if(isNull(`ref`), toUInt8(2), toUInt8(0)) AS `__townlake_n0`" in remote
    assert "assumeNotNull(`ref`) AS `__townlake_k0`" in remote
    got = same_rows(chj, query)
    assert all(r[1] == r[3] for r in got if r[1] is not None and r[3] is not None)
    if how == "FULL JOIN":
        # Rows with a NULL key come out unmatched from both sides.
        assert any(r[1] is None and r[0] is not None for r in got)
        assert any(r[3] is None and r[2] is not None for r in got)


def test_filters_of_each_side_go_into_its_subquery(chj):
    query = ("SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.account_id "
             "WHERE e.kind = 'buy' AND a.plan = 'pro' AND e.cost > 50")
    remote = pushed_join(chj, query)
    assert "WHERE (`kind` = 'buy') AND (`cost` > 50)" in remote or "WHERE (`cost` > 50) AND (`kind` = 'buy')" in remote, remote
    assert "FROM `" + CHDB + "`.`acct` WHERE `plan` = 'pro'" in remote, remote
    same_rows(chj, query)
    # A LEFT JOIN's condition on its inner side filters that side before the join.
    query = "SELECT e.id, a.plan FROM ev e LEFT JOIN acct a ON e.account_id = a.account_id AND a.plan = 'pro'"
    remote = pushed_join(chj, query)
    assert "`plan` = 'pro'" in remote
    got = same_rows(chj, query)
    assert len(got) == 3000


def test_two_keys_and_a_cross_join(chj):
    query = "SELECT e.id, a.account_id FROM ev e JOIN acct a ON e.account_id = a.account_id AND e.ref = a.ref"
    remote = pushed_join(chj, query)
    assert "USING (`__townlake_k0`, `__townlake_n1`, `__townlake_k1`)" in remote
    same_rows(chj, query)
    # Equal to one constant on both sides: Postgres filters each side and
    # joins what is left without a join clause.
    query = "SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.account_id WHERE e.account_id = 42"
    remote = pushed_join(chj, query)
    assert "CROSS JOIN" in remote
    assert len(same_rows(chj, query)) == 3000 // 70 + 1


def test_aggregate_and_order_over_a_pushed_join(chj):
    query = ("SELECT a.plan, count(*), sum(e.cost) FROM ev e JOIN acct a ON e.account_id = a.account_id "
             "WHERE e.kind = 'buy' GROUP BY a.plan")
    pushed_join(chj, query)
    same_rows(chj, query)
    # count(*) needs no column: each side still sends one, and ClickHouse counts.
    query = "SELECT count(*) FROM ev e JOIN acct a ON e.account_id = a.account_id"
    remote = pushed_join(chj, query)
    assert remote.startswith("SELECT count() FROM (SELECT 1 FROM (SELECT `account_id` AS `__townlake_k0` FROM"), remote
    same_rows(chj, query)


def pushed_upper(conn, query, params=None) -> str:
    """The one remote SQL of a query whose join and the aggregates, ORDER BY
    and LIMIT over it ClickHouse computes: Postgres neither aggregates nor sorts."""
    remote = pushed_join(conn, query, params)
    plan = plan_of(conn, query, params)
    assert "Aggregate" not in plan and "Sort" not in plan and "Join" not in plan.split("Remote SQL")[0], plan
    return remote


UPPER_OVER_JOIN = [
    # Inner join, every pushed aggregate, a text grouping key of the inner side.
    ("SELECT a.plan, count(*), sum(e.cost), min(e.ts), max(e.id), avg(e.cost), count(DISTINCT e.account_id), "
     "count(e.ref) FROM ev e JOIN acct a ON e.account_id = a.account_id WHERE e.kind = 'buy' GROUP BY a.plan",
     "GROUP BY `__townlake_i1`"),
    # NULL-extended inner side: accounts 0-9 have no match, their sums, min,
    # max and avg are NULL (not ClickHouse's 0), their counts 0.
    ("SELECT e.account_id, count(*), count(a.plan), sum(a.big_id), min(a.ref), max(a.big_id), avg(a.ref), "
     "avg(a.big_id), count(DISTINCT a.region) FROM ev e LEFT JOIN acct a ON e.account_id = a.account_id "
     "GROUP BY e.account_id",
     "if(count(`__townlake_i4`) = 0, NULL, sum(toDecimal128(`__townlake_i4`, 0)))"),
    # Grouping keys on both NULL-extended sides of a FULL join: NULL is a group.
    ("SELECT e.kind, a.plan, count(*), sum(e.cost), count(e.id), min(a.account_id) FROM ev e "
     "FULL JOIN acct a ON e.account_id = a.account_id GROUP BY e.kind, a.plan",
     "ALL FULL JOIN"),
    # No GROUP BY: one row, from ClickHouse.
    ("SELECT count(*), sum(a.big_id), min(e.cost), max(e.ts) FROM ev e RIGHT JOIN acct a "
     "ON e.account_id = a.account_id WHERE a.plan = 'pro'",
     "SELECT count(), "),
    # HAVING over the joined rows, on aggregates of both sides.
    ("SELECT a.region, count(*) FROM ev e JOIN acct a ON e.account_id = a.account_id GROUP BY a.region "
     "HAVING sum(e.cost) > 5000 AND max(a.big_id) >= 20",
     " HAVING "),
    # Nullable keys (tagged) under the aggregate.
    ("SELECT e.ref, count(*), count(a.account_id) FROM ev e LEFT JOIN acct a ON e.ref = a.ref GROUP BY e.ref",
     "GROUP BY `__townlake_o4`"),
    # Exact integer arithmetic (bigint over UInt32 + 1 never overflows) as a key.
    ("SELECT e.account_id + 1, count(*), sum(a.big_id) FROM ev e JOIN acct a ON e.account_id = a.account_id GROUP BY 1",
     "GROUP BY (toInt64(`__townlake_o1`) + toInt64(1))"),
    # Semi and anti joins: each outer row counted once.
    ("SELECT e.kind, count(*), count(DISTINCT e.account_id), sum(e.cost) FROM ev e WHERE EXISTS "
     "(SELECT 1 FROM acct a WHERE a.account_id = e.account_id AND a.plan = 'pro') GROUP BY e.kind",
     "ANY INNER JOIN"),
    ("SELECT count(*), sum(e.cost), min(e.ref) FROM ev e WHERE NOT EXISTS (SELECT 1 FROM acct a WHERE a.ref = e.ref)",
     "WHERE isNull(`__townlake_m`))"),
]


@pytest.mark.parametrize("query,part", UPPER_OVER_JOIN)
def test_aggregates_over_a_pushed_join_run_in_clickhouse(chj, query, part):
    remote = pushed_upper(chj, query)
    assert part in remote, remote
    # The aggregate reads the join as a subquery.
    assert " FROM (SELECT " in remote and remote.index(" JOIN ") > remote.index(" FROM (SELECT ")
    got = same_rows(chj, query)
    assert got
    if "LEFT JOIN acct a ON e.account_id" in query:
        # Accounts without a match: NULL aggregates, count 0, as in Postgres.
        unmatched = [r for r in got if r[0] < 10]
        assert len(unmatched) == 10 and all(r[2] == 0 and r[3] is None and r[6] is None for r in unmatched)
    if "FULL JOIN" in query:
        assert any(r[0] is None for r in got) and any(r[1] is None for r in got)


def same_ordered_rows(conn, query, params=None):
    heap = query.replace("FROM ev ", "FROM ev_heap ").replace("JOIN acct ", "JOIN acct_heap ")
    assert heap != query
    got = rows(conn, query, params)
    assert got == rows(conn, heap, params)
    return got


TOP_N = [
    # The seed's shape: events joined to a dimension, grouped, top N by spend.
    ("SELECT e.account_id, a.plan, count(*) AS n, sum(e.cost) AS spend FROM ev e JOIN acct a "
     "ON e.account_id = a.account_id WHERE e.kind = 'buy' GROUP BY e.account_id, a.plan "
     "ORDER BY spend DESC, e.account_id LIMIT 10", "LIMIT 10", 10),
    ("SELECT e.account_id, count(*) AS n, min(a.big_id) FROM ev e LEFT JOIN acct a ON e.account_id = a.account_id "
     "GROUP BY e.account_id ORDER BY min(a.big_id) NULLS FIRST, e.account_id LIMIT 12 OFFSET 5", "LIMIT 17", 12),
    # ORDER BY + LIMIT of the joined rows themselves, NULLs as Postgres places them.
    ("SELECT e.id, a.big_id, e.ts FROM ev e LEFT JOIN acct a ON e.account_id = a.account_id "
     "ORDER BY a.big_id DESC, e.id LIMIT 25", "`__townlake_i4` DESC NULLS FIRST", 25),
    ("SELECT e.id, a.ref, a.plan FROM ev e FULL JOIN acct a ON e.account_id = a.account_id "
     "ORDER BY e.id NULLS FIRST, a.ref, a.account_id LIMIT 30", "LIMIT 30", 30),
    ("SELECT a.account_id, e.cost FROM ev e RIGHT JOIN acct a ON e.account_id = a.account_id "
     "WHERE a.plan = 'free' ORDER BY e.cost ASC NULLS FIRST, a.account_id, e.cost LIMIT 8", "NULLS FIRST", 8),
]


@pytest.mark.parametrize("query,part,count", TOP_N)
def test_order_by_and_limit_over_a_pushed_join_run_in_clickhouse(chj, query, part, count):
    remote = pushed_upper(chj, query)
    assert " ORDER BY " in remote.rsplit("USING (", 1)[1] and part in remote, remote
    got = same_ordered_rows(chj, query)
    assert len(got) == count


def test_limit_over_a_pushed_join_runs_in_clickhouse(chj):
    query = ("SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.account_id "
             "WHERE e.kind = 'buy' AND a.plan = 'pro' LIMIT 7")
    remote = pushed_upper(chj, query)
    assert remote.endswith(") LIMIT 7"), remote
    plan = plan_of(chj, query)
    assert "Limit" not in plan.split("Remote SQL")[0], plan
    got = rows(chj, query)
    # Any 7 of the joined rows (no ORDER BY): each must be one of Postgres'.
    want = set(rows(chj, query.replace("FROM ev ", "FROM ev_heap ").replace("JOIN acct ", "JOIN acct_heap ")
                    .replace(" LIMIT 7", "")))
    assert len(got) == 7 and set(got) <= want
    # With an OFFSET Postgres keeps its Limit (the join still runs remotely).
    query = "SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.account_id LIMIT 5 OFFSET 3"
    remote = pushed_join(chj, query)
    assert "LIMIT" not in remote and "Limit" in plan_of(chj, query)
    assert len(rows(chj, query)) == 5


UPPER_STAYS_LOCAL = [
    # max of text: the collation decides in Postgres.
    ("SELECT a.plan, max(a.region) FROM ev e JOIN acct a ON e.account_id = a.account_id GROUP BY a.plan", "Aggregate"),
    # An expression as grouping key, an aggregate with FILTER.
    ("SELECT e.account_id % 7, count(*) FROM ev e JOIN acct a ON e.account_id = a.account_id GROUP BY 1", "Aggregate"),
    ("SELECT a.plan, count(*) FILTER (WHERE e.kind = 'buy') FROM ev e JOIN acct a ON e.account_id = a.account_id "
     "GROUP BY a.plan", "Aggregate"),
    # Text order in the database collation, avg order: the grouping is
    # pushed, the sort stays with Postgres.
    ("SELECT a.plan, count(*) FROM ev e JOIN acct a ON e.account_id = a.account_id GROUP BY a.plan "
     "ORDER BY a.plan DESC LIMIT 1", "Sort"),
    ("SELECT a.plan, avg(e.cost) FROM ev e JOIN acct a ON e.account_id = a.account_id GROUP BY a.plan "
     "ORDER BY avg(e.cost) LIMIT 1", "Sort"),
]


@pytest.mark.parametrize("query,local", UPPER_STAYS_LOCAL)
def test_what_cannot_be_computed_over_a_join_stays_with_postgres(chj, query, local):
    remote = pushed_join(chj, query)
    plan = plan_of(chj, query)
    assert local in plan.split("Remote SQL")[0], plan
    if local == "Sort":
        assert " GROUP BY " in remote and " ORDER BY " not in remote, remote
    else:
        assert " GROUP BY " not in remote and "count()" not in remote, remote
    if " ORDER BY " in query:
        same_ordered_rows(chj, query)
    else:
        same_rows(chj, query)


def test_grouped_join_with_parameters(chj):
    chj.execute("SET plan_cache_mode = force_generic_plan")
    try:
        chj.execute("PREPARE gj(text, bigint) AS SELECT a.plan, count(*), sum(e.cost) FROM ev e JOIN acct a "
                    "ON e.account_id = a.account_id WHERE e.kind = $1 AND a.account_id < $2 GROUP BY a.plan "
                    "ORDER BY count(*) DESC, a.plan COLLATE \"C\" LIMIT 5")
        plan = plan_of(chj, "EXECUTE gj('view', 30)")
        assert "Aggregate" not in plan and "Sort" not in plan and " GROUP BY " in plan, plan
        got = rows(chj, "EXECUTE gj('view', 30)")
        want = rows(chj, "SELECT a.plan, count(*), sum(e.cost) FROM ev_heap e JOIN acct_heap a "
                         "ON e.account_id = a.account_id WHERE e.kind = 'view' AND a.account_id < 30 GROUP BY a.plan "
                         "ORDER BY count(*) DESC, a.plan COLLATE \"C\" LIMIT 5")
        assert got == want and got
    finally:
        chj.execute("DEALLOCATE ALL")
        chj.execute("RESET plan_cache_mode")


def test_grouped_join_sends_only_the_groups(chj, clickhouse):
    marker = 20_000_000 + uuid.uuid4().int % 1_000_000
    query = (f"SELECT e.account_id, count(*), sum(e.cost) FROM ev e JOIN acct a ON e.account_id = a.account_id "
             f"WHERE e.id <> {marker} GROUP BY e.account_id")
    assert f"`id` != {marker}" in pushed_upper(chj, query)
    got = same_rows(chj, query)
    # Accounts 10-69 have events.
    assert len(got) == 60
    deadline = time.monotonic() + 10
    while True:
        logged = clickhouse.rows(
            f"SELECT read_rows, result_rows FROM system.query_log WHERE type = 2 AND query LIKE '%ALL INNER JOIN%' "
            f"AND query LIKE '%`id` != {marker}%' AND query NOT LIKE '%query_log%'")
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert logged, "the query did not reach ClickHouse's query log"
    read_rows, result_rows = (int(v) for v in logged[0])
    assert result_rows == 60 and read_rows >= 3000


def test_prepared_statement_parameters_in_a_side(chj):
    chj.execute("SET plan_cache_mode = force_generic_plan")
    try:
        chj.execute("PREPARE pj(text, bigint) AS SELECT e.id, a.plan FROM ev e JOIN acct a "
                    "ON e.account_id = a.account_id WHERE e.kind = $1 AND a.account_id < $2")
        plan = plan_of(chj, "EXECUTE pj('view', 30)")
        assert " JOIN " in plan and "Remote Filter: built at execution" in plan, plan
        got = sorted(rows(chj, "EXECUTE pj('view', 30)"), key=repr)
        want = sorted(rows(chj, "SELECT e.id, a.plan FROM ev_heap e JOIN acct_heap a ON e.account_id = a.account_id "
                                "WHERE e.kind = 'view' AND a.account_id < 30"), key=repr)
        assert got == want and got
    finally:
        chj.execute("DEALLOCATE ALL")
        chj.execute("RESET plan_cache_mode")


def test_join_with_a_heap_table_pushes_the_clickhouse_pair(chj):
    query = ("SELECT p.price, count(*) FROM ev e JOIN acct a ON e.account_id = a.account_id "
             "JOIN plans p ON p.plan = a.plan GROUP BY p.price")
    pushed_join(chj, query)
    got = sorted(rows(chj, query))
    want = sorted(rows(chj, query.replace("FROM ev ", "FROM ev_heap ").replace("JOIN acct ", "JOIN acct_heap ")))
    assert got == want


SEMI_ANTI = [
    ("ANY INNER JOIN", "SELECT e.id, e.kind FROM ev e WHERE EXISTS (SELECT 1 FROM acct a WHERE a.account_id = e.account_id "
                       "AND a.plan = 'pro')"),
    ("ANY LEFT JOIN", "SELECT e.id, e.ref FROM ev e WHERE NOT EXISTS (SELECT 1 FROM acct a WHERE a.account_id = e.account_id "
                      "AND a.plan = 'pro')"),
    # Nullable keys with duplicates on both sides: each outer row once, NULL never matching.
    ("ANY INNER JOIN", "SELECT e.id, e.ref FROM ev e WHERE EXISTS (SELECT 1 FROM acct a WHERE a.ref = e.ref)"),
    ("ANY LEFT JOIN", "SELECT e.id, e.ref FROM ev e WHERE NOT EXISTS (SELECT 1 FROM acct a WHERE a.ref = e.ref)"),
    # LEFT JOIN ... IS NULL is an anti join to Postgres.
    ("ANY LEFT JOIN", "SELECT e.id FROM ev e LEFT JOIN acct a ON a.account_id = e.account_id WHERE a.account_id IS NULL"),
]


@pytest.mark.parametrize("how,query", SEMI_ANTI)
def test_semi_and_anti_joins_return_each_outer_row_once(chj, how, query):
    remote = pushed_join(chj, query)
    assert how in remote, remote
    if how == "ANY LEFT JOIN":
        assert remote.endswith("WHERE isNull(`__townlake_m`)"), remote
    got = same_rows(chj, query)
    assert got and len(got) == len(set(got))


NOT_PUSHED = [
    # ClickHouse 18.16 refuses keys of different types (UInt32 = Int64).
    "SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.big_id",
    # Not an equality of columns.
    "SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id < a.account_id AND a.account_id < 12",
    # A side with a clause Postgres must evaluate (ILIKE).
    "SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.account_id WHERE a.plan ILIKE 'PR%'",
    # A clause applied after an outer join.
    "SELECT e.id, a.plan FROM ev e LEFT JOIN acct a ON e.account_id = a.account_id WHERE coalesce(a.plan, 'x') <> e.kind",
    # An outer join without a key (ClickHouse's outer joins need USING).
    "SELECT e.id, a.plan FROM ev e LEFT JOIN acct a ON a.account_id = 12",
    # Arrays cannot come out NULL-extended.
    "SELECT e.id, e.tags, a.plan FROM ev e RIGHT JOIN acct a ON e.account_id = a.account_id",
]


@pytest.mark.parametrize("query", NOT_PUSHED)
def test_what_cannot_be_joined_exactly_stays_with_postgres(chj, query):
    sqls = remote_sqls(chj, query)
    assert len(sqls) == 2 and not any(" JOIN " in s for s in sqls), sqls
    same_rows(chj, query)


def test_tables_of_two_servers_are_not_joined_remotely(chj):
    query = "SELECT e.id, a.plan FROM ev e JOIN acct2 a ON e.account_id = a.account_id"
    sqls = remote_sqls(chj, query)
    assert len(sqls) == 2 and not any(" JOIN " in s for s in sqls)
    want = sorted(rows(chj, "SELECT e.id, a.plan FROM ev_heap e JOIN acct_heap a ON e.account_id = a.account_id"))
    assert sorted(rows(chj, query)) == want


def test_only_joined_rows_travel(chj, clickhouse):
    marker = 10_000_000 + uuid.uuid4().int % 1_000_000
    query = (f"SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.account_id "
             f"WHERE e.kind = 'buy' AND a.plan = 'pro' AND e.id <> {marker}")
    assert f"`id` != {marker}" in pushed_join(chj, query)
    got = rows(chj, query)
    assert got
    deadline = time.monotonic() + 10
    while True:
        logged = clickhouse.rows(
            f"SELECT read_rows, result_rows FROM system.query_log WHERE type = 2 AND query LIKE '%ALL INNER JOIN%' "
            f"AND query LIKE '%`id` != {marker}%' AND query NOT LIKE '%query_log%'")
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert logged, "the join did not reach ClickHouse's query log"
    read_rows, result_rows = (int(v) for v in logged[0])
    # Both tables were read in ClickHouse; only the joined rows came back.
    assert result_rows == len(got) and read_rows >= 3000


def test_pushed_join_is_cheaper_than_two_scans(chj):
    query = "SELECT e.id, a.plan FROM ev e JOIN acct a ON e.account_id = a.account_id"
    chj.execute("SET enable_hashjoin = on")
    pushed = plan_of(chj, query)
    # The planner picks the pushed join over two scans and a local join.
    assert pushed.splitlines()[0].lstrip().startswith("Foreign Scan"), pushed
    assert "Hash Join" not in pushed and "Merge Join" not in pushed and "Nested Loop" not in pushed


def test_tables_without_parts_are_estimated_from_analyze(chj):
    # acct is a Memory table: system.parts has no row count for it; the
    # fixture analyzed it.
    line = plan_of(chj, "SELECT * FROM acct").splitlines()[0]
    assert "rows=80 " in line, line
