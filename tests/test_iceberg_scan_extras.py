"""LIMIT pushdown, parallel scans, who may write, and what DROP does.

Tables here are written by townlake itself (CREATE FOREIGN TABLE + INSERT),
so the module needs only the cluster."""

import json
import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from conftest import PG_HOST, PG_PORT, connect
from lakehelpers import expect_error, explain


@pytest.fixture(scope="module")
def big(conn, database):
    """80k rows over 8 days, one data file per day."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(database)))
    conn.execute(f"""CREATE FOREIGN TABLE big (id bigint NOT NULL, ts timestamptz, x bigint, tag text)
                     SERVER lake_local OPTIONS (namespace '{database}', "table" 'big', partition_by 'day(ts)')""")
    conn.execute("""INSERT INTO big SELECT g, timestamptz '2024-01-01 00:00:00+00' + (g % 8) * interval '1 day',
                                     g % 1000, 't' || (g % 5) FROM generate_series(1, 80000) g""")
    return "big"


def plan_line(plan: str, label: str) -> str | None:
    for line in plan.splitlines():
        line = line.strip()
        if line.startswith(label + ":"):
            return line.split(":", 1)[1].strip()
    return None


def test_limit_is_pushed_for_a_lone_relation(conn, big):
    plan = explain(conn, "SELECT * FROM big LIMIT 7", analyze=True)
    assert plan_line(plan, "Iceberg Limit") == "7"
    assert plan_line(plan, "Data Files").startswith("1 planned")
    assert len(conn.execute("SELECT * FROM big LIMIT 7").fetchall()) == 7
    # With an exactly pushed filter the limit still applies, and rows are right.
    rows = conn.execute("SELECT x FROM big WHERE x = 3 LIMIT 5").fetchall()
    assert rows == [(3,)] * 5
    assert plan_line(explain(conn, "SELECT x FROM big WHERE x = 3 LIMIT 5"), "Iceberg Limit") == "5"


@pytest.mark.parametrize("query", [
    "SELECT * FROM big ORDER BY id LIMIT 5",                       # sort needs every row
    "SELECT * FROM big WHERE tag ILIKE 't1%' LIMIT 5",              # filter not pushed
    "SELECT * FROM big b JOIN big c USING (id) LIMIT 5",            # the limit is the join's
    "SELECT tag, count(*) FROM big GROUP BY tag LIMIT 2",           # the limit is the groups'
])
def test_limit_is_not_pushed_when_it_would_be_wrong(conn, big, query):
    assert plan_line(explain(conn, query), "Iceberg Limit") is None
    conn.execute(query).fetchall()


def test_limit_with_offset_returns_the_right_count(conn, big):
    assert len(conn.execute("SELECT id FROM big LIMIT 10 OFFSET 20000").fetchall()) == 10


# Aggregates computed inside the scan (issue 15) run in one process: these
# tests are about parallel row scans, so Postgres aggregates the rows.
PARALLEL_SETTINGS = {"max_parallel_workers_per_gather": "2", "parallel_setup_cost": "0",
                     "parallel_tuple_cost": "0", "townlake.iceberg_min_parallel_rows": "1000",
                     "townlake.iceberg_aggregate_pushdown": "off"}


def parallel_session(database: str) -> psycopg.Connection:
    c = connect(database)
    for name, value in PARALLEL_SETTINGS.items():
        c.execute(f"SET {name} = '{value}'")
    return c


def analyze_json(conn, query: str) -> dict:
    """EXPLAIN (ANALYZE, FORMAT JSON) of the query: its top plan node."""
    return conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}").fetchone()[0][0]["Plan"]


def find_node(plan: dict, node_type: str) -> dict | None:
    if plan["Node Type"] == node_type:
        return plan
    for child in plan.get("Plans", []):
        found = find_node(child, node_type)
        if found:
            return found
    return None


def workers_launched(plan: dict) -> int:
    gather = find_node(plan, "Gather") or find_node(plan, "Gather Merge")
    assert gather is not None, f"no Gather node: {json.dumps(plan)[:2000]}"
    scan = find_node(gather, "Foreign Scan")
    assert scan is not None and scan.get("Parallel Aware"), "the foreign scan under Gather is not parallel"
    return gather.get("Workers Launched", 0)


# big's rows, computed here: g = 1..80000, x = g % 1000
BIG_IDS = range(1, 80001)


def test_parallel_scan_reads_every_row_once(database, big):
    with parallel_session(database) as c:
        for query, expected in (
            ("SELECT count(*), count(DISTINCT id), sum(x) FROM big",
             (80000, 80000, sum(g % 1000 for g in BIG_IDS))),
            ("SELECT count(*), sum(x) FROM big WHERE x >= 1",
             (sum(1 for g in BIG_IDS if g % 1000 >= 1), sum(g % 1000 for g in BIG_IDS))),
            ("SELECT count(*), sum(id) FROM big WHERE ts >= '2024-01-03 00:00:00+00' AND ts < '2024-01-05 00:00:00+00'",
             (sum(1 for g in BIG_IDS if g % 8 in (2, 3)), sum(g for g in BIG_IDS if g % 8 in (2, 3)))),
        ):
            # the query under test, with these settings, runs with workers
            plan = analyze_json(c, query)
            assert workers_launched(plan) >= 1, f"no worker launched for {query}"
            assert c.execute(query).fetchone() == expected, query


def test_parallel_scan_keeps_its_snapshot_while_others_commit(conn, database, big):
    """A parallel scan is planned on one snapshot; leader and workers read it
    to the end although another session appends and deletes meanwhile."""
    conn.execute(f"""CREATE FOREIGN TABLE busy (id bigint NOT NULL, x bigint) SERVER lake_local
                     OPTIONS (namespace '{database}', "table" 'busy', partition_by 'bucket(4, id)')""")
    conn.execute("INSERT INTO busy SELECT g, g % 1000 FROM generate_series(1, 40000) g")
    ids = range(1, 40001)
    # a sleep per 1000 rows keeps the scan running while the other session commits
    query = "SELECT id FROM busy WHERE x < 500 AND (id % 1000 <> 0 OR pg_sleep(0.1) IS NOT NULL)"
    result: dict = {}

    def scan():
        with parallel_session(database) as c:
            c.execute("SET townlake.iceberg_batch_size = 256")
            result["plan"] = analyze_json(c, query)

    with connect(database) as writer:
        thread = threading.Thread(target=scan)
        thread.start()
        deadline = time.monotonic() + 30
        while not writer.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker' "
                                 "AND datname = current_database()").fetchone()[0]:
            assert thread.is_alive() and time.monotonic() < deadline, "the parallel scan started no worker"
            time.sleep(0.01)
        writer.execute("INSERT INTO busy SELECT g, 1 FROM generate_series(40001, 41000) g")
        writer.execute("DELETE FROM busy WHERE id <= 20000")
        committed_during_scan = thread.is_alive()
        thread.join(60)
        assert committed_during_scan, "the scan ended before the commits: it must be slower"
        assert workers_launched(result["plan"]) >= 1
        assert result["plan"]["Actual Rows"] == sum(1 for g in ids if g % 1000 < 500), \
            "the scan did not read the snapshot it started on"
        after = sum(1 for g in ids if g % 1000 < 500 and g > 20000) + 1000
        assert writer.execute("SELECT count(*) FROM busy WHERE x < 500").fetchone() == (after,)


def test_parallel_plan_still_sees_own_uncommitted_writes(database, big):
    with connect(database) as c:
        c.execute("SET parallel_setup_cost = 0")
        c.execute("SET parallel_tuple_cost = 0")
        c.execute("SET townlake.iceberg_min_parallel_rows = 1000")
        with c.transaction():
            before = c.execute("SELECT count(*) FROM big").fetchone()[0]
            c.execute("INSERT INTO big VALUES (-1, now(), 1, 'mine')")
            assert c.execute("SELECT count(*) FROM big").fetchone()[0] == before + 1
            raise psycopg.Rollback()


@pytest.fixture(scope="module")
def analyst(admin_conn, database, big):
    role = f"tl_analyst_{uuid.uuid4().hex[:6]}"
    admin_conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    with connect(database) as c:
        c.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))
        c.execute(sql.SQL("GRANT SELECT, INSERT ON big TO {}").format(sql.Identifier(role)))
    yield role
    with connect(database) as c:
        c.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    admin_conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_user_with_insert_privilege_writes_without_catalog_privileges(database, analyst):
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=analyst, dbname=database, autocommit=True) as c:
        c.execute("INSERT INTO big VALUES (900001, now(), 5, 'analyst')")
        assert c.execute("SELECT count(*) FROM big WHERE id = 900001").fetchone() == (1,)
        # ...but cannot move the catalog's metadata pointers directly
        expect_error(c, "UPDATE lake.iceberg_tables SET metadata_location = metadata_location", "permission denied")
        # ...nor write a table it has no INSERT privilege on
        expect_error(c, "DELETE FROM big WHERE id = 900001", "permission denied")


def test_no_writes_while_reading_the_past(conn, big):
    conn.execute("SET townlake.iceberg_as_of = '2030-01-01 00:00:00+00'")
    try:
        expect_error(conn, "INSERT INTO big VALUES (1, now(), 1, 'x')", "reading the past")
    finally:
        conn.execute("RESET townlake.iceberg_as_of")


def test_drop_removes_only_tables_the_foreign_table_created(conn, database, big):
    count = "SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s AND table_name = %s"
    conn.execute(f"""CREATE FOREIGN TABLE owned (a int) SERVER lake_local
                     OPTIONS (namespace '{database}', "table" 'owned')""")
    creator = conn.execute("SELECT creator_relid FROM lake.iceberg_table_owners "
                           "WHERE table_namespace = %s AND table_name = 'owned'", (database,)).fetchone()
    assert creator == (conn.execute("SELECT 'owned'::regclass::oid").fetchone()[0],)
    # A second foreign table attached to the same Iceberg table only detaches.
    conn.execute("CREATE SCHEMA IF NOT EXISTS attached")
    conn.execute(f"IMPORT FOREIGN SCHEMA \"{database}\" LIMIT TO (owned) FROM SERVER lake_local INTO attached")
    conn.execute("DROP FOREIGN TABLE attached.owned")
    assert conn.execute(count, (database, "owned")).fetchone() == (1,)
    # Dropping the owner inside a rolled-back transaction keeps the table.
    with conn.transaction():
        conn.execute("DROP FOREIGN TABLE owned")
        assert conn.execute(count, (database, "owned")).fetchone() == (0,)
        raise psycopg.Rollback()
    assert conn.execute(count, (database, "owned")).fetchone() == (1,)
    conn.execute("DROP FOREIGN TABLE owned")
    assert conn.execute(count, (database, "owned")).fetchone() == (0,)


def test_parallel_scan_splits_one_large_file_by_row_groups(conn, database):
    """One data file of many row groups (issue 15): the leader and workers
    claim byte ranges of it, so every process reads rows, and every row is
    read exactly once."""
    conn.execute(f"""CREATE FOREIGN TABLE one_file (id bigint NOT NULL, a text, b text) SERVER lake_local
                     OPTIONS (namespace '{database}', "table" 'one_file')""")
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_row_group_rows = 16384")
        conn.execute("INSERT INTO one_file SELECT g, md5(g::text), md5((g * 7)::text) "
                     "FROM generate_series(1, 400000) g")
    assert "Data Files: 1 planned" in explain(conn, "SELECT id FROM one_file")
    with parallel_session(database) as c:
        # one piece at a time per process (the default reads two ahead, and
        # the file has only two 8 MiB pieces), and a sleep per 20000 rows,
        # keep the leader from claiming every piece before a worker starts
        c.execute("SET townlake.iceberg_scan_concurrency = 1")
        query = ("SELECT count(*), count(DISTINCT id), sum(id), max(a) FROM one_file "
                 "WHERE id % 3 <> 0 AND (id % 20000 <> 1 OR pg_sleep(0.05) IS NOT NULL)")
        plan = c.execute(f"EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) {query}").fetchone()[0][0]["Plan"]
        assert workers_launched(plan) >= 1
        scan = find_node(plan, "Foreign Scan")
        per_worker = [w.get("Actual Rows", 0) for w in scan.get("Workers", [])]
        assert any(rows > 0 for rows in per_worker), f"no worker read a row group: {per_worker}"
        expected_ids = [g for g in range(1, 400001) if g % 3 != 0]
        got = c.execute(query).fetchone()
        assert got[:3] == (len(expected_ids), len(expected_ids), sum(expected_ids))
        assert got[3] == conn.execute("SELECT max(md5(g::text)) FROM generate_series(1, 400000) g "
                                      "WHERE g % 3 <> 0").fetchone()[0]


# A small table of one data file with several row groups (a TPC-H dimension
# table in miniature): 1-8 MiB files are read as up to four byte ranges, so
# its row groups spread over the processes, and Postgres sizes its workers as
# for a heap of its decoded size (min_parallel_table_scan_size), not only by
# townlake.iceberg_min_parallel_rows (left at its default, above the rows).
DIM_ROWS = 60000
DIM_SELECT = f"""SELECT g, g % 97, md5(g::text) || md5((g * 7)::text)
                 FROM generate_series(1, {DIM_ROWS}) g"""
SMALL_TABLE_SETTINGS = {"max_parallel_workers_per_gather": "2", "parallel_setup_cost": "0",
                        "parallel_tuple_cost": "0", "min_parallel_table_scan_size": "0",
                        "townlake.iceberg_aggregate_pushdown": "off"}


@pytest.fixture(scope="module")
def dim(conn, database):
    """The Iceberg table (one file, row groups of 5000 rows) and its heap
    copy, each loaded from the same generate_series by its own INSERT."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(database)))
    conn.execute(f"""CREATE FOREIGN TABLE dim (g bigint NOT NULL, k integer, name text)
                     SERVER lake_local OPTIONS (namespace '{database}', "table" 'dim')""")
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_row_group_rows = 5000")
        conn.execute(f"INSERT INTO dim {DIM_SELECT}")
    conn.execute("ANALYZE dim")
    conn.execute("CREATE TABLE dim_heap (g bigint NOT NULL, k integer, name text)")
    conn.execute(f"INSERT INTO dim_heap {DIM_SELECT}")
    conn.execute("ANALYZE dim_heap")
    return "dim"


def small_table_session(database: str) -> psycopg.Connection:
    c = connect(database)
    for name, value in SMALL_TABLE_SETTINGS.items():
        c.execute(f"SET {name} = '{value}'")
    return c


def test_small_multi_row_group_file_scans_in_parallel(database, dim):
    with small_table_session(database) as c:
        query = "SELECT g, k, name FROM {} WHERE k <> 5"
        plan = analyze_json(c, query.format("dim"))
        assert workers_launched(plan) >= 1
        got = sorted(c.execute(query.format("dim")).fetchall())
        assert len(got) == sum(1 for g in range(1, DIM_ROWS + 1) if g % 97 != 5)
        assert got == sorted(c.execute(query.format("dim_heap")).fetchall())


def test_join_of_small_tables_builds_a_parallel_hash(database, dim):
    with small_table_session(database) as c:
        # a hash join, built once for all processes or once in each
        c.execute("SET enable_mergejoin = off")
        c.execute("SET enable_nestloop = off")
        query = """SELECT a.k, count(*), sum(b.g), max(b.name) FROM {t} a JOIN {t} b ON b.g = a.g + 1
                   WHERE a.name > '4' GROUP BY a.k ORDER BY a.k"""
        plan = c.execute("EXPLAIN " + query.format(t="dim")).fetchall()
        text = "\n".join(r[0] for r in plan)
        assert "Parallel Hash" in text and "Parallel Foreign Scan" in text, text
        got = c.execute(query.format(t="dim")).fetchall()
        assert len(got) == 97
        assert got == c.execute(query.format(t="dim_heap")).fetchall()


def test_rescanned_parallel_scan_of_a_small_table(database, dim):
    """A Gather on the inner side of a nested loop: the parallel scan is
    started again (its shared cursor reset) for every outer row."""
    with small_table_session(database) as c:
        for name in ("enable_hashjoin", "enable_mergejoin", "enable_material", "enable_memoize"):
            c.execute(f"SET {name} = off")
        # random() keeps the outer side in the leader: the Gather is the inner side
        query = """SELECT v.n, count(*), sum(d.g)
                   FROM (SELECT n FROM (VALUES (0), (1), (2)) v(n) WHERE random() >= 0) v
                   JOIN {t} d ON d.k % 3 = v.n GROUP BY v.n ORDER BY v.n"""
        gather = find_node(analyze_json(c, query.format(t="dim")), "Gather")
        assert gather is not None and gather["Actual Loops"] == 3, gather
        assert gather["Workers Launched"] >= 1
        assert find_node(gather, "Foreign Scan")["Parallel Aware"]
        got = c.execute(query.format(t="dim")).fetchall()
        assert got == c.execute(query.format(t="dim_heap")).fetchall()
        assert [r[1] for r in got] == [sum(1 for g in range(1, DIM_ROWS + 1) if g % 97 % 3 == n) for n in range(3)]
