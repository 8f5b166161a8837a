"""LIMIT pushdown, parallel scans, who may write, and what DROP does.

Tables here are written by townlake itself (CREATE FOREIGN TABLE + INSERT),
so the module needs only the cluster."""

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


def test_parallel_scan_reads_every_row_once(conn, big):
    conn.execute("SET max_parallel_workers_per_gather = 0")
    expected = conn.execute("SELECT count(*), count(DISTINCT id), sum(x) FROM big").fetchone()
    serial_sum = conn.execute("SELECT count(*), sum(x) FROM big WHERE x >= 1").fetchone()
    conn.execute("SET max_parallel_workers_per_gather = 2")
    conn.execute("SET parallel_setup_cost = 0")
    conn.execute("SET parallel_tuple_cost = 0")
    conn.execute("SET townlake.min_parallel_rows = 1000")
    try:
        plan = explain(conn, "SELECT count(*), count(DISTINCT id), sum(x) FROM big")
        plan_sum = explain(conn, "SELECT count(*), sum(x) FROM big WHERE x >= 1", analyze=True)
        assert "Parallel Foreign Scan" in plan_sum, plan_sum
        got = conn.execute("SELECT count(*), count(DISTINCT id), sum(x) FROM big").fetchone()
        assert got == expected, plan
        assert conn.execute("SELECT count(*), sum(x) FROM big WHERE x >= 1").fetchone() == serial_sum
    finally:
        for setting in ("max_parallel_workers_per_gather", "parallel_setup_cost", "parallel_tuple_cost",
                        "townlake.min_parallel_rows"):
            conn.execute(f"RESET {setting}")


def test_parallel_plan_still_sees_own_uncommitted_writes(database, big):
    with connect(database) as c:
        c.execute("SET parallel_setup_cost = 0")
        c.execute("SET parallel_tuple_cost = 0")
        c.execute("SET townlake.min_parallel_rows = 1000")
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
    conn.execute("SET townlake.as_of = '2030-01-01 00:00:00+00'")
    try:
        expect_error(conn, "INSERT INTO big VALUES (1, now(), 1, 'x')", "reading the past")
    finally:
        conn.execute("RESET townlake.as_of")


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
