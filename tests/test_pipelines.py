"""Pipelines on a real cluster (issue 14, pipelines): replace and append
from a local table, from a second database through postgres_fdw and from
ClickHouse, into Iceberg (day-partitioned) and heap targets; the watermark
and run id in the Iceberg snapshot summary; bad input; privileges; the
scheduler; and exactly-once under kill -9 of the scheduler and an immediate
server shutdown, in a private cluster, with a writer feeding the source.

Expected rows come from the source as Python generated it, from the source
database read directly, or from ClickHouse over its own HTTP interface:
never from townlake's output.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import signal
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import PG_HOST, PG_PORT, connect
from govhelpers import error_of, one, recreate_roles, rows, session
from privatecluster import PrivateCluster

SUFFIX = uuid.uuid4().hex[:6]
ALICE = f"pl_alice_{SUFFIX}"
MALLORY = f"pl_mal_{SUFFIX}"
START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "transformations.md"


def make_orders(seed: int, n: int, first_id: int = 1):
    rnd = random.Random(seed)
    return [(first_id + i, START + dt.timedelta(minutes=rnd.randrange(0, 5 * 24 * 60)),
             rnd.randrange(1, 50), f"sku-{rnd.randrange(0, 30)}") for i in range(n)]


def insert_orders(conn, table, orders):
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)", orders)


def last_run(conn, pipeline):
    return rows(conn, "SELECT status, rows_written, error_sqlstate, error_message, run_id FROM lake.runs "
                      "WHERE pipeline = %s ORDER BY run_id DESC LIMIT 1", (pipeline,))[0]


def snapshots(conn, rel):
    return rows(conn, "SELECT snapshot_id, operation, summary FROM lake.snapshots(%s::regclass)", (rel,))


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [ALICE, MALLORY])


@pytest.fixture(scope="module")
def admin(roles, database, local_lake):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src; CREATE SCHEMA raw")
        conn.execute("CREATE TABLE src.orders (id bigint PRIMARY KEY, ts timestamptz NOT NULL, qty int, sku text)")
        yield conn


def as_tuples(orders):
    return sorted(orders)


def test_replace_from_a_local_table_is_one_overwrite_snapshot(admin):
    orders = make_orders(1, 800)
    insert_orders(admin, "src.orders", orders)
    admin.execute("SELECT lake.define_pipeline('orders_full', 'src.orders', 'raw.orders_full', mode => 'replace')")
    run1 = one(admin, "SELECT lake.run_pipeline_now('orders_full')")
    assert last_run(admin, "orders_full")[:3] == ("succeeded", 800, None)
    assert sorted(rows(admin, "SELECT id, ts, qty, sku FROM raw.orders_full")) == as_tuples(orders)
    # The source changes (rows deleted and updated); a replace mirrors it.
    admin.execute("DELETE FROM src.orders WHERE id % 7 = 0")
    admin.execute("UPDATE src.orders SET qty = qty + 1000 WHERE id % 5 = 0")
    expected = [(i, t, q + (1000 if i % 5 == 0 else 0), s) for (i, t, q, s) in orders if i % 7 != 0]
    before = len(snapshots(admin, "raw.orders_full"))
    run2 = one(admin, "SELECT lake.run_pipeline_now('orders_full')")
    assert last_run(admin, "orders_full")[:2] == ("succeeded", len(expected))
    assert sorted(rows(admin, "SELECT id, ts, qty, sku FROM raw.orders_full")) == sorted(expected)
    snaps = snapshots(admin, "raw.orders_full")
    # One snapshot per run: the second replaced every file in one overwrite.
    assert len(snaps) == before + 1
    assert snaps[-1][1] == "overwrite"
    summary = snaps[-1][2]
    assert summary["townlake.pipeline"] == "orders_full" and summary["townlake.run-id"] == str(run2)
    assert "townlake.watermark" not in summary
    assert snaps[-2][2]["townlake.run-id"] == str(run1)
    admin.execute("DELETE FROM src.orders")


def test_append_into_a_day_partitioned_iceberg_table(admin):
    admin.execute("CREATE TABLE src.events (id bigint PRIMARY KEY, ts timestamptz NOT NULL, qty int, sku text)")
    first = make_orders(2, 600)
    insert_orders(admin, "src.events", first)
    admin.execute("SELECT lake.define_pipeline('events_in', 'src.events', 'raw.events', mode => 'append', "
                  "watermark_column => 'id', partition_by => 'day(ts)')")
    # Created as an Iceberg table partitioned by day(ts).
    assert one(admin, "SELECT srvname FROM pg_foreign_table ft JOIN pg_foreign_server s ON s.oid = ft.ftserver "
                      "WHERE ft.ftrelid = 'raw.events'::regclass") == "lake_local"
    run1 = one(admin, "SELECT lake.run_pipeline_now('events_in')")
    assert last_run(admin, "events_in")[:2] == ("succeeded", 600)
    summary = snapshots(admin, "raw.events")[-1][2]
    assert summary["townlake.watermark"] == "600" and summary["townlake.run-id"] == str(run1)
    days = {t.date() for (_, t, _, _) in first}
    assert int(summary["added-data-files"]) >= len(days)  # one file per day partition at least
    # New rows, and an update of an old row: append takes only new ids.
    second = make_orders(3, 250, first_id=601)
    insert_orders(admin, "src.events", second)
    admin.execute("UPDATE src.events SET qty = -1 WHERE id = 5")
    run2 = one(admin, "SELECT lake.run_pipeline_now('events_in')")
    assert last_run(admin, "events_in")[:2] == ("succeeded", 250)
    assert sorted(rows(admin, "SELECT id, ts, qty, sku FROM raw.events")) == as_tuples(first + second)
    assert one(admin, "SELECT lake.pipeline_watermark('events_in')") == "850"
    summary = snapshots(admin, "raw.events")[-1][2]
    assert (summary["townlake.watermark"], summary["townlake.run-id"]) == ("850", str(run2))
    # Nothing new: the run succeeds, writes no row and no snapshot.
    n = len(snapshots(admin, "raw.events"))
    one(admin, "SELECT lake.run_pipeline_now('events_in')")
    assert last_run(admin, "events_in")[:2] == ("succeeded", 0)
    assert len(snapshots(admin, "raw.events")) == n
    # A run rolled back with the caller's transaction leaves the watermark.
    insert_orders(admin, "src.events", make_orders(4, 10, first_id=851))
    admin.execute("BEGIN")
    admin.execute("SELECT lake.run_pipeline_now('events_in')")
    admin.execute("ROLLBACK")
    assert one(admin, "SELECT lake.pipeline_watermark('events_in')") == "850"
    assert one(admin, "SELECT count(*) FROM raw.events") == 850
    one(admin, "SELECT lake.run_pipeline_now('events_in')")
    assert one(admin, "SELECT count(*) FROM raw.events") == 860


def test_watermark_read_back_from_the_snapshot_summary(admin):
    """The Iceberg snapshot is the truth: a catalog copy that disagrees
    (as after a crash between two stores, were they two) is not used."""
    admin.execute("CREATE TABLE src.ticks (id bigint, v text)")
    admin.execute("INSERT INTO src.ticks SELECT g, 'v' || g FROM generate_series(1, 100) g")
    admin.execute("SELECT lake.define_pipeline('ticks', 'src.ticks', 'raw.ticks', mode => 'append', watermark_column => 'id')")
    one(admin, "SELECT lake.run_pipeline_now('ticks')")
    admin.execute("UPDATE lake.pipelines SET last_watermark = '3' WHERE name = 'ticks'")
    admin.execute("INSERT INTO src.ticks SELECT g, 'v' || g FROM generate_series(101, 130) g")
    one(admin, "SELECT lake.run_pipeline_now('ticks')")
    assert last_run(admin, "ticks")[:2] == ("succeeded", 30)
    assert rows(admin, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM raw.ticks") == [(130, 130, 1, 130)]
    # Redefined with another source query into the same target: the
    # watermark (the target's) carries on.
    admin.execute("SELECT lake.define_pipeline('ticks', 'SELECT id, v FROM src.ticks WHERE v IS NOT NULL', 'raw.ticks', "
                  "mode => 'append', watermark_column => 'id')")
    admin.execute("INSERT INTO src.ticks SELECT g, 'v' || g FROM generate_series(131, 140) g")
    one(admin, "SELECT lake.run_pipeline_now('ticks')")
    assert last_run(admin, "ticks")[:2] == ("succeeded", 10)
    assert rows(admin, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM raw.ticks") == [(140, 140, 1, 140)]


def test_summary_properties_follow_savepoints(admin):
    """A run rolled back to a savepoint takes its summary properties along:
    a later write in the same transaction commits a snapshot without them."""
    admin.execute("CREATE TABLE src.sp (id bigint, v text)")
    admin.execute("INSERT INTO src.sp SELECT g, 'v' || g FROM generate_series(1, 20) g")
    admin.execute("SELECT lake.define_pipeline('sp', 'src.sp', 'raw.sp', mode => 'append', watermark_column => 'id')")
    one(admin, "SELECT lake.run_pipeline_now('sp')")
    admin.execute("INSERT INTO src.sp SELECT g, 'v' || g FROM generate_series(21, 30) g")
    admin.execute("BEGIN")
    admin.execute("SAVEPOINT a")
    one(admin, "SELECT lake.run_pipeline_now('sp')")
    admin.execute("ROLLBACK TO SAVEPOINT a")
    admin.execute("INSERT INTO raw.sp VALUES (1000, 'by hand')")
    admin.execute("COMMIT")
    summary = snapshots(admin, "raw.sp")[-1][2]
    assert "townlake.pipeline" not in summary and "townlake.watermark" not in summary, summary
    assert one(admin, "SELECT lake.pipeline_watermark('sp')") == "20"
    one(admin, "SELECT lake.run_pipeline_now('sp')")
    assert last_run(admin, "sp")[:2] == ("succeeded", 10)
    assert sorted(r[0] for r in rows(admin, "SELECT id FROM raw.sp")) == list(range(1, 31)) + [1000]


def test_timestamp_watermark_and_heap_target(admin):
    admin.execute("CREATE TABLE src.readings (sensor int, at timestamptz, value float8)")
    admin.execute("CREATE TABLE raw.readings (sensor int, at timestamptz, value float8)")
    rnd = random.Random(5)
    data = [(rnd.randrange(1, 5), START + dt.timedelta(seconds=i * 7, microseconds=rnd.randrange(0, 999999)),
             rnd.random()) for i in range(300)]
    with admin.cursor() as cur:
        cur.executemany("INSERT INTO src.readings VALUES (%s, %s, %s)", data[:200])
    # A DateStyle that would garble a text round trip of the watermark.
    admin.execute("SET DateStyle = 'SQL, DMY'")
    admin.execute("SELECT lake.define_pipeline('readings', 'src.readings', 'raw.readings', mode => 'append', "
                  "watermark_column => 'at')")
    one(admin, "SELECT lake.run_pipeline_now('readings')")
    with admin.cursor() as cur:
        cur.executemany("INSERT INTO src.readings VALUES (%s, %s, %s)", data[200:])
    one(admin, "SELECT lake.run_pipeline_now('readings')")
    admin.execute("RESET DateStyle")
    assert last_run(admin, "readings")[:2] == ("succeeded", 100)
    assert sorted(rows(admin, "SELECT sensor, at, value FROM raw.readings")) == sorted(data)
    assert one(admin, "SELECT last_watermark::timestamptz FROM lake.pipelines WHERE name = 'readings'") == max(d[1] for d in data)


def test_from_a_second_database_through_postgres_fdw(admin, admin_conn, database):
    other = f"{database}_shop"
    admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    try:
        rnd = random.Random(9)
        customers = [(i, f"name-{i}", START + dt.timedelta(hours=i), rnd.randrange(0, 1000)) for i in range(1, 401)]
        with connect(other) as shop:
            shop.execute("CREATE TABLE customers (id bigint PRIMARY KEY, name text, created timestamptz, score int)")
            with shop.cursor() as cur:
                cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s)", customers[:300])
        admin.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
        admin.execute(sql.SQL("CREATE SERVER shop FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host {}, port {}, dbname {})").format(
            sql.Literal(PG_HOST), sql.Literal(str(PG_PORT)), sql.Literal(other)))
        admin.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER shop OPTIONS (user 'postgres')")
        admin.execute("CREATE SCHEMA shop")
        admin.execute("IMPORT FOREIGN SCHEMA public LIMIT TO (customers) FROM SERVER shop INTO shop")
        admin.execute("SELECT lake.define_pipeline('cust_full', 'shop.customers', 'raw.customers_full')")
        admin.execute("SELECT lake.define_pipeline('cust_inc', 'shop.customers', 'raw.customers_inc', mode => 'append', "
                      "watermark_column => 'created', partition_by => 'day(created)')")
        for p in ("cust_full", "cust_inc"):
            one(admin, "SELECT lake.run_pipeline_now(%s)", (p,))
            assert last_run(admin, p)[:2] == ("succeeded", 300)
        with connect(other) as shop:
            with shop.cursor() as cur:
                cur.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s)", customers[300:])
            shop.execute("UPDATE customers SET score = -1 WHERE id <= 10")
            oracle = sorted(rows(shop, "SELECT id, name, created, score FROM customers"))
        for p in ("cust_full", "cust_inc"):
            one(admin, "SELECT lake.run_pipeline_now(%s)", (p,))
        assert last_run(admin, "cust_inc")[:2] == ("succeeded", 100)
        assert sorted(rows(admin, "SELECT id, name, created, score FROM raw.customers_full")) == oracle
        # Append saw the new rows only; the updated old rows keep their first copy.
        expected_inc = sorted(customers)
        assert sorted(rows(admin, "SELECT id, name, created, score FROM raw.customers_inc")) == expected_inc
    finally:
        admin.execute("DROP SERVER IF EXISTS shop CASCADE")
        admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(other)))


def test_from_clickhouse(admin, clickhouse):
    chdb = f"tl_pipe_{SUFFIX}"
    clickhouse.query(f"CREATE DATABASE {chdb}")
    try:
        clickhouse.query(f"CREATE TABLE {chdb}.hits (id UInt64, ts DateTime, url String, bytes Int64) "
                         "ENGINE = MergeTree ORDER BY id")
        clickhouse.query(f"INSERT INTO {chdb}.hits SELECT number + 1, toDateTime(1772323200 + number * 61), "
                         "concat('/p/', toString(number % 17)), number * 3 - 100 FROM numbers(500)")
        admin.execute(sql.SQL("CREATE SERVER chp FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})").format(
            sql.Literal(clickhouse.host), sql.Literal(str(clickhouse.port)), sql.Literal(chdb)))
        admin.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER chp OPTIONS (user {}, password {})").format(
            sql.Literal(clickhouse.user), sql.Literal(clickhouse.password)))
        admin.execute("CREATE FOREIGN TABLE src.hits (id bigint, ts timestamptz, url text, bytes bigint) SERVER chp "
                      "OPTIONS (\"table\" 'hits')")
        admin.execute("SELECT lake.define_pipeline('hits_full', 'src.hits', 'raw.hits_full')")
        admin.execute("SELECT lake.define_pipeline('hits_inc', 'src.hits', 'raw.hits_inc', mode => 'append', "
                      "watermark_column => 'id', partition_by => 'day(ts)')")
        for p in ("hits_full", "hits_inc"):
            one(admin, "SELECT lake.run_pipeline_now(%s)", (p,))
            assert last_run(admin, p)[:2] == ("succeeded", 500), last_run(admin, p)
        clickhouse.query(f"INSERT INTO {chdb}.hits SELECT number + 501, toDateTime(1772409600 + number), "
                         "'/new', number FROM numbers(120)")
        for p in ("hits_full", "hits_inc"):
            one(admin, "SELECT lake.run_pipeline_now(%s)", (p,))
        assert last_run(admin, "hits_inc")[:2] == ("succeeded", 120)
        oracle = sorted((int(i), dt.datetime.fromtimestamp(int(t), dt.timezone.utc), u, int(b)) for i, t, u, b in
                        clickhouse.rows(f"SELECT id, toUnixTimestamp(ts), url, bytes FROM {chdb}.hits"))
        assert len(oracle) == 620
        for target in ("raw.hits_full", "raw.hits_inc"):
            assert sorted(rows(admin, f"SELECT id, ts, url, bytes FROM {target}")) == oracle
        assert snapshots(admin, "raw.hits_inc")[-1][2]["townlake.watermark"] == "620"
    finally:
        admin.execute("DROP SERVER IF EXISTS chp CASCADE")
        clickhouse.query(f"DROP DATABASE IF EXISTS {chdb}")


@pytest.mark.parametrize("call, sqlstate, message, hint", [
    ("lake.define_pipeline('b1', 'src.no_such_table', 'raw.b1')", "42P01",
     'source relation "src.no_such_table" does not exist', "Name the source with its schema"),
    ("lake.define_pipeline('b1', 'orders', 'raw.b1')", "42P01", 'source relation "orders" does not exist', "pinned search_path"),
    ("lake.define_pipeline('b1', 'src.orders', 'no_schema_here.b1')", "3F000",
     'schema "no_schema_here" of target', "Create the schema first"),
    ("lake.define_pipeline('b1', 'src.orders', 'raw.b1', target_server => 'no_such_server')", "42704",
     'server "no_such_server" does not exist', None),
    ("lake.define_pipeline('b1', 'src.orders', 'raw.b1', mode => 'upsert')", "22023",
     'invalid pipeline mode "upsert"', "use 'replace'"),
    ("lake.define_pipeline('b1', 'src.orders', 'raw.b1', mode => 'append')", "22023",
     "an append pipeline needs a watermark_column", "watermark_column =>"),
    ("lake.define_pipeline('b1', 'src.orders', 'raw.b1', mode => 'append', watermark_column => 'nope')", "42703",
     'watermark column "nope" is not a column of the source', "source columns: id, ts, qty, sku"),
    ("lake.define_pipeline('b1', 'SELECT id, jsonb_build_object(''k'', id)::json AS doc FROM src.orders', 'raw.b1', "
     "mode => 'append', watermark_column => 'doc')", "42804", 'watermark column "doc" is of type json, which has no ordering',
     "orderable type"),
    ("lake.define_pipeline('b1', 'SELECT point(id, id) AS p FROM src.orders', 'raw.b1', mode => 'append', "
     "watermark_column => 'p')", "42804", "of type point, which has no ordering", "orderable type"),
    ("lake.define_pipeline('b1', 'src.orders', 'raw.b1', mode => 'replace', watermark_column => 'id')", "22023",
     "a replace pipeline takes no watermark_column", None),
    ("lake.define_pipeline('B 1', 'src.orders', 'raw.b1')", "22023", 'invalid pipeline name "B 1"', "lower-case"),
    ("lake.define_pipeline('b1', 'src.orders', 'raw.b1', schedule => 'every tuesday')", "22023", "invalid schedule", None),
    ("lake.define_pipeline('b1', 'src.orders', 'raw.b1', owner => 'no_such_role_xyz')", "42704",
     'role "no_such_role_xyz" does not exist', None),
    ("lake.define_pipeline('b1', 'pg_catalog.pg_class_oid_index', 'raw.b1')", "22023", "is not a table, view or foreign table", None),
    ("lake.run_pipeline_now('no_such_pipeline')", "42704", 'pipeline "no_such_pipeline" does not exist', "lake.pipelines"),
    ("lake.drop_pipeline('no_such_pipeline')", "42704", 'pipeline "no_such_pipeline" does not exist', None),
])
def test_bad_input(admin, call, sqlstate, message, hint):
    err = error_of(admin, f"SELECT {call}")
    assert err.sqlstate == sqlstate, (err.sqlstate, str(err))
    assert message in err.diag.message_primary, err.diag.message_primary
    if hint:
        assert hint in (err.diag.message_hint or ""), err.diag.message_hint
    # Nothing was defined or created.
    assert one(admin, "SELECT count(*) FROM lake.pipelines WHERE name = 'b1'") == 0
    assert one(admin, "SELECT to_regclass('raw.b1')") is None


def test_privileges_and_runs_as_the_owner(admin, database):
    admin.execute("CREATE TABLE src.secret (id bigint, v text)")
    admin.execute("INSERT INTO src.secret SELECT g, 'x' || g FROM generate_series(1, 50) g")
    admin.execute("CREATE TABLE raw.by_admin (id bigint, v text)")
    admin.execute(sql.SQL("GRANT USAGE ON SCHEMA src, raw TO {}").format(sql.Identifier(ALICE)))
    admin.execute(sql.SQL("GRANT SELECT ON src.secret TO {}").format(sql.Identifier(ALICE)))
    admin.execute(sql.SQL("CREATE SCHEMA alice_s AUTHORIZATION {}").format(sql.Identifier(ALICE)))
    with session(database, ALICE) as alice:
        # The owner needs INSERT on the target.
        err = error_of(alice, "SELECT lake.define_pipeline('a_p', 'src.secret', 'raw.by_admin', mode => 'append', "
                              "watermark_column => 'id')")
        assert err.sqlstate == "42501" and f'the owner "{ALICE}" lacks INSERT on target raw.by_admin' in str(err)
        assert "GRANT INSERT" in err.diag.message_hint
        # …and SELECT on the source.
        err = error_of(alice, "SELECT lake.define_pipeline('a_p', 'src.orders', 'alice_s.t', target_server => NULL)")
        assert err.sqlstate == "42501" and "cannot read the source" in str(err) and "permission denied" in str(err)
        # Defining for another owner needs membership.
        err = error_of(alice, "SELECT lake.define_pipeline('a_p', 'src.secret', 'alice_s.t', owner => 'postgres')")
        assert err.sqlstate == "42501" and "is not a member of" in str(err)
        alice.execute("SELECT lake.define_pipeline('a_p', 'src.secret', 'alice_s.t', mode => 'append', "
                      "watermark_column => 'id', target_server => NULL)")
        # A created target belongs to the owner.
        assert one(admin, "SELECT c.relowner::regrole::text FROM pg_class c WHERE c.oid = 'alice_s.t'::regclass") == ALICE
        run = one(alice, "SELECT lake.run_pipeline_now('a_p')")
        assert one(admin, "SELECT run_as::text FROM lake.runs WHERE run_id = %s", (run,)) == ALICE
        assert one(alice, "SELECT count(*) FROM alice_s.t") == 50
    # The owner loses SELECT: the run fails with that error, recorded.
    admin.execute(sql.SQL("REVOKE SELECT ON src.secret FROM {}").format(sql.Identifier(ALICE)))
    admin.execute("INSERT INTO src.secret VALUES (51, 'late')")
    one(admin, "SELECT lake.run_pipeline_now('a_p')")  # a superuser runs it, still as the owner
    status, _, state, message, _ = last_run(admin, "a_p")
    assert (status, state) == ("failed", "42501") and "permission denied for table secret" in message
    assert one(admin, "SELECT count(*) FROM alice_s.t") == 50
    with session(database, MALLORY) as mal:
        for call in ("lake.run_pipeline_now('a_p')", "lake.drop_pipeline('a_p')", "lake.pause_pipeline('a_p')",
                     "lake.pipeline_watermark('a_p')",
                     "lake.define_pipeline('a_p', 'src.secret', 'alice_s.t2')"):
            err = error_of(mal, f"SELECT {call}")
            assert err.sqlstate == "42501", (call, str(err))
        # Row security: another owner's pipelines and runs are invisible.
        assert one(mal, "SELECT count(*) FROM lake.pipelines") == 0
        assert one(mal, "SELECT count(*) FROM lake.runs WHERE pipeline = 'a_p'") == 0
    admin.execute("SELECT lake.drop_pipeline('a_p', drop_target => true)")
    assert one(admin, "SELECT to_regclass('alice_s.t')") is None


def test_scheduled_pipeline_runs_and_pauses(admin):
    admin.execute("CREATE TABLE src.sched (id bigint, v int)")
    admin.execute("INSERT INTO src.sched SELECT g, g * 2 FROM generate_series(1, 40) g")
    admin.execute("SELECT lake.define_pipeline('sched', 'src.sched', 'raw.sched', mode => 'append', "
                  "watermark_column => 'id', schedule => 'every 1 seconds')")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and one(admin, "SELECT count(*) FROM lake.runs WHERE pipeline = 'sched' "
                                                    "AND trigger = 'schedule' AND status = 'succeeded'") < 1:
        time.sleep(0.3)
    admin.execute("INSERT INTO src.sched SELECT g, g * 2 FROM generate_series(41, 70) g")
    while time.monotonic() < deadline and one(admin, "SELECT count(*) FROM raw.sched") < 70:
        time.sleep(0.3)
    admin.execute("SELECT lake.pause_pipeline('sched')")
    assert rows(admin, "SELECT count(*), count(DISTINCT id), sum(v) FROM raw.sched") == [(70, 70, sum(g * 2 for g in range(1, 71)))]
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE pipeline = 'sched' AND status <> 'succeeded'") == 0
    time.sleep(2)  # a run already started may still finish
    n = one(admin, "SELECT count(*) FROM lake.runs WHERE pipeline = 'sched'")
    time.sleep(2.5)
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE pipeline = 'sched'") == n


def doc_block(marker: str) -> str:
    """The SQL block following `<!-- test: marker -->` in docs/transformations.md."""
    text = DOCS.read_text()
    m = re.search(r"<!-- test: " + re.escape(marker) + r" -->\s*```sql\n(.*?)```", text, re.S)
    assert m, f"docs/transformations.md lacks the block {marker}"
    return m.group(1)


def test_the_introductory_example_runs_as_documented(admin_conn, database):
    other = f"{database}_doc"
    admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    try:
        with connect(other) as conn:
            conn.execute("CREATE EXTENSION townlake")
            conn.execute(doc_block("pipelines-intro"))
            assert one(conn, "SELECT lake.pipeline_watermark('orders_inc')") == "100"
            oracle = sorted(rows(conn, "SELECT id, ordered_at, amount FROM src.orders"))
            assert len(oracle) == 100
            assert sorted(rows(conn, "SELECT id, ordered_at, amount FROM raw.orders")) == oracle
            assert one(conn, "SELECT count(*) FROM lake.snapshots('raw.orders') "
                             "WHERE summary->>'townlake.watermark' = '100'") == 1
            for p in ("orders_full", "big_orders"):
                one(conn, "SELECT lake.run_pipeline_now(%s)", (p,))
            assert sorted(rows(conn, "SELECT id, ordered_at, amount FROM raw.orders_full")) == oracle
            assert sorted(rows(conn, "SELECT id, amount FROM raw.big_orders")) == [(i, a) for i, _, a in oracle if a > 50]
            conn.execute("SELECT lake.pause_pipeline('orders_inc')")
    finally:
        admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(other)))


def test_recipe_incremental_postgres_into_day_partitioned_iceberg(admin, admin_conn, database):
    """The recipe of docs/transformations.md, run as written (the remote
    database's name and port substituted)."""
    other = f"{database}_app"
    admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    try:
        def fix(block):
            return (block.replace("dbname 'app'", f"dbname '{other}'").replace("port '5432'", f"port '{PG_PORT}'")
                    .replace("host 'localhost'", f"host '{PG_HOST}'"))
        with connect(other) as app:
            for stmt in fix(doc_block("recipe-app")).split(";\n"):
                if stmt.strip():
                    app.execute(stmt)
            oracle = sorted(rows(app, "SELECT id, ordered_at, customer_id, amount FROM orders"))
        admin.execute(fix(doc_block("recipe-lake")))
        assert one(admin, "SELECT status FROM lake.runs WHERE pipeline = 'app_orders' ORDER BY run_id DESC LIMIT 1") == "succeeded"
        assert sorted(rows(admin, "SELECT id, ordered_at, customer_id, amount FROM lake_raw.orders")) == oracle
        with connect(other) as app:
            app.execute("INSERT INTO orders (ordered_at, customer_id, amount) "
                        "SELECT timestamptz '2026-01-03' + g * interval '1 minute', g % 10, g FROM generate_series(1, 90) g")
            oracle = sorted(rows(app, "SELECT id, ordered_at, customer_id, amount FROM orders"))
        one(admin, "SELECT lake.run_pipeline_now('app_orders')")
        assert sorted(rows(admin, "SELECT id, ordered_at, customer_id, amount FROM lake_raw.orders")) == oracle
        snap = snapshots(admin, "lake_raw.orders")[-1][2]
        assert snap["townlake.pipeline"] == "app_orders" and snap["townlake.watermark"] == str(max(o[0] for o in oracle))
        admin.execute("SELECT lake.drop_pipeline('app_orders')")
    finally:
        admin.execute("DROP SERVER IF EXISTS app CASCADE")
        admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(other)))


# --------------------------------------- rows committed while a run is running

def run_while_feeding(admin, pipeline, insert_one, runs=4):
    """Runs `pipeline` `runs` times while a thread commits one row at a time
    through `insert_one` (in watermark order, the contract), then once more
    after the writer stopped. Returns the runs' (started, ended) times."""
    stop, errors = threading.Event(), []

    def feed():
        try:
            while not stop.is_set():
                insert_one()
                time.sleep(0.003)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        time.sleep(0.2)
        for _ in range(runs):
            one(admin, "SELECT lake.run_pipeline_now(%s)", (pipeline,))
            assert last_run(admin, pipeline)[0] == "succeeded", last_run(admin, pipeline)
    finally:
        stop.set()
        writer.join(10)
    assert not errors, errors
    one(admin, "SELECT lake.run_pipeline_now(%s)", (pipeline,))
    assert last_run(admin, pipeline)[0] == "succeeded", last_run(admin, pipeline)
    return rows(admin, "SELECT started_at, ended_at FROM lake.runs WHERE pipeline = %s ORDER BY run_id", (pipeline,))


def assert_committed_during(times, spans):
    """Rows were written (stamped with clock_timestamp()) while each of the
    first runs was running: the test exercised what it claims to."""
    for started, ended in spans[:-1]:
        assert any(started < t < ended for t in times), (started, ended)


@pytest.mark.parametrize("target_server", ["lake_local", None])
def test_rows_committed_during_runs_are_neither_lost_nor_duplicated(admin, target_server):
    """Rows commit continuously while append runs are reading the source (a
    pg_sleep makes each statement last 0.3 s): afterwards the target holds
    each source row exactly once. Into Iceberg (the writer keeps the new
    watermark) and into a heap table (the bound is looked up first)."""
    kind = "ice" if target_server else "heap"
    admin.execute(f"CREATE TABLE src.conc_{kind} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), v text)")
    admin.execute(f"INSERT INTO src.conc_{kind} (v) SELECT 'first-' || g FROM generate_series(1, 50) g")
    admin.execute(sql.SQL("SELECT lake.define_pipeline({}, {}, {}, mode => 'append', watermark_column => 'id', "
                          "target_server => {})").format(
        sql.Literal(f"conc_{kind}"), sql.Literal(f"SELECT c.id, c.at, c.v FROM src.conc_{kind} c, pg_catalog.pg_sleep(0.3)"),
        sql.Literal(f"raw.conc_{kind}"), sql.Literal(target_server)))
    with session(admin.info.dbname) as feeder:
        spans = run_while_feeding(admin, f"conc_{kind}", lambda: feeder.execute(
            f"INSERT INTO src.conc_{kind} (v) VALUES (md5(random()::text))"))
    source = rows(admin, f"SELECT id, at, v FROM src.conc_{kind} ORDER BY id")
    target = rows(admin, f"SELECT id, at, v FROM raw.conc_{kind} ORDER BY id")
    assert len(source) > 100
    assert_committed_during([r[1] for r in source], spans)
    assert [r[0] for r in target] == [r[0] for r in source], "rows lost or duplicated"
    assert target == source
    assert one(admin, "SELECT lake.pipeline_watermark(%s)", (f"conc_{kind}",)) == str(source[-1][0])


def test_rows_committed_remotely_during_runs_through_postgres_fdw(admin, admin_conn, database):
    other = f"{database}_feed"
    admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    try:
        with connect(other) as remote:
            remote.execute("CREATE TABLE feed (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), v text)")
            remote.execute("INSERT INTO feed (v) SELECT 'first-' || g FROM generate_series(1, 50) g")
        admin.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
        admin.execute(sql.SQL("CREATE SERVER feedsrv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host {}, port {}, dbname {})").format(
            sql.Literal(PG_HOST), sql.Literal(str(PG_PORT)), sql.Literal(other)))
        admin.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER feedsrv OPTIONS (user 'postgres')")
        admin.execute("CREATE SCHEMA feedsrv")
        admin.execute("IMPORT FOREIGN SCHEMA public LIMIT TO (feed) FROM SERVER feedsrv INTO feedsrv")
        admin.execute("SELECT lake.define_pipeline('conc_fdw', 'SELECT f.id, f.at, f.v FROM feedsrv.feed f, pg_catalog.pg_sleep(0.3)', "
                      "'raw.conc_fdw', mode => 'append', watermark_column => 'id')")
        with connect(other) as feeder:
            feeder.autocommit = True
            spans = run_while_feeding(admin, "conc_fdw", lambda: feeder.execute("INSERT INTO feed (v) VALUES (md5(random()::text))"))
        with connect(other) as remote:
            source = rows(remote, "SELECT id, at, v FROM feed ORDER BY id")
        target = rows(admin, "SELECT id, at, v FROM raw.conc_fdw ORDER BY id")
        assert len(source) > 100
        assert_committed_during([r[1] for r in source], spans)
        assert [r[0] for r in target] == [r[0] for r in source], "rows lost or duplicated"
        assert target == source
    finally:
        admin.execute("DROP SERVER IF EXISTS feedsrv CASCADE")
        admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(other)))


def test_rows_inserted_into_clickhouse_during_runs(admin, clickhouse):
    chdb = f"tl_feed_{SUFFIX}"
    clickhouse.query(f"CREATE DATABASE {chdb}")
    try:
        clickhouse.query(f"CREATE TABLE {chdb}.feed (id UInt64, at DateTime, v String) ENGINE = MergeTree ORDER BY id")
        clickhouse.query(f"INSERT INTO {chdb}.feed SELECT number + 1, now(), 'first' FROM numbers(50)")
        admin.execute(sql.SQL("CREATE SERVER chfeed FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})").format(
            sql.Literal(clickhouse.host), sql.Literal(str(clickhouse.port)), sql.Literal(chdb)))
        admin.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER chfeed OPTIONS (user {}, password {})").format(
            sql.Literal(clickhouse.user), sql.Literal(clickhouse.password)))
        admin.execute("CREATE FOREIGN TABLE src.chfeed (id bigint, at timestamptz, v text) SERVER chfeed OPTIONS (\"table\" 'feed')")
        admin.execute("SELECT lake.define_pipeline('conc_ch', 'SELECT f.id, f.at, f.v FROM src.chfeed f, pg_catalog.pg_sleep(0.3)', "
                      "'raw.conc_ch', mode => 'append', watermark_column => 'id')")
        next_id, inserted_at = [51], []

        def insert_one():
            # One row per INSERT (one part each), ids in order.
            clickhouse.query(f"INSERT INTO {chdb}.feed VALUES ({next_id[0]}, now(), '{uuid.uuid4().hex}')")
            inserted_at.append(dt.datetime.now(dt.timezone.utc))
            next_id[0] += 1
            time.sleep(0.002)

        spans = run_while_feeding(admin, "conc_ch", insert_one)
        source = sorted((int(i), dt.datetime.fromtimestamp(int(a), dt.timezone.utc), v)
                        for i, a, v in clickhouse.rows(f"SELECT id, toUnixTimestamp(at), v FROM {chdb}.feed"))
        target = rows(admin, "SELECT id, at, v FROM raw.conc_ch ORDER BY id")
        assert len(source) > 60
        assert_committed_during(inserted_at, spans)
        assert [r[0] for r in target] == [r[0] for r in source], "rows lost or duplicated"
        assert target == source
    finally:
        admin.execute("DROP SERVER IF EXISTS chfeed CASCADE")
        clickhouse.query(f"DROP DATABASE IF EXISTS {chdb}")


def test_rows_with_a_null_watermark_are_never_copied(admin):
    """Into Iceberg, where the writer keeps the watermark: NULLs are left out
    on the first run (no watermark yet) as on the next ones."""
    admin.execute("CREATE TABLE src.nulls (id bigint, v text)")
    first = [(i if i % 5 else None, f"a{i}") for i in range(1, 41)]
    second = [(i if i % 4 else None, f"b{i}") for i in range(41, 81)]
    with admin.cursor() as cur:
        cur.executemany("INSERT INTO src.nulls VALUES (%s, %s)", first)
    admin.execute("SELECT lake.define_pipeline('nulls', 'src.nulls', 'raw.nulls', mode => 'append', watermark_column => 'id')")
    one(admin, "SELECT lake.run_pipeline_now('nulls')")
    with admin.cursor() as cur:
        cur.executemany("INSERT INTO src.nulls VALUES (%s, %s)", second)
    one(admin, "SELECT lake.run_pipeline_now('nulls')")
    assert sorted(rows(admin, "SELECT id, v FROM raw.nulls")) == sorted(r for r in first + second if r[0] is not None)
    assert one(admin, "SELECT lake.pipeline_watermark('nulls')") == "79"


# ------------------------------------------------- exactly-once under crashes

PORT = int(os.environ.get("TOWNLAKE_CRASH_PORT", "5497")) + 3


class Writer(threading.Thread):
    """Feeds src.feed one row per autocommit transaction (ids from a sequence:
    a single writer commits them in id order, the watermark's contract),
    reconnecting across crashes."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.stop = cluster, threading.Event()
        self.written = 0

    def run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = self.cluster.connect()
                conn.execute("INSERT INTO src.feed (payload) VALUES (md5(random()::text))")
                self.written += 1
                time.sleep(0.002)
            except psycopg.Error:
                conn = None
                time.sleep(0.2)


@pytest.fixture(scope="module")
def crash_cluster():
    c = PrivateCluster(PORT, "pipecrash", "townlake-pipe-crash-")
    warehouse = c.make_dir("warehouse")
    try:
        c.create(f"townlake.iceberg_warehouse = 'file://{warehouse}'\nmax_connections = 40\nmax_worker_processes = 16\n")
        yield c
    finally:
        c.remove()


def wait_running(conn, name, timeout=60):
    """The pid of the process executing a run of pipeline `name` (the
    scheduler or the worker it started the run in: killing either brings the
    whole cluster down), caught in the run's first half second, so the run
    (which sleeps a second) is still in flight when the caller strikes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = rows(conn, "SELECT pid FROM lake.run_progress WHERE model IN (%s, %s) AND elapsed < interval '0.5 s'",
                   (name, f"pipeline:{name}"))
        if got:
            return got[0][0]
        time.sleep(0.02)
    raise AssertionError("the pipeline never ran")


def wait_caught_up(cluster, timeout=90):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with cluster.connect() as conn:
                top = one(conn, "SELECT max(id) FROM src.feed")
                if one(conn, "SELECT lake.pipeline_watermark('feed')") == str(top):
                    return
        except psycopg.Error:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the pipeline did not catch up with the source")
        time.sleep(0.5)


def test_exactly_once_under_kill_9_and_immediate_shutdown(crash_cluster):
    c = crash_cluster
    with c.connect() as admin:
        admin.execute("CREATE SCHEMA src; CREATE SCHEMA raw")
        admin.execute("CREATE TABLE src.feed (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), "
                      "payload text)")
        # pg_sleep makes each run last two seconds or more, long enough to die in.
        admin.execute("SELECT lake.define_pipeline('feed', 'SELECT f.id, f.at, f.payload FROM src.feed f, pg_catalog.pg_sleep(1)', "
                      "'raw.feed', mode => 'append', watermark_column => 'id', partition_by => 'day(at)', "
                      "schedule => 'every 1 seconds', retries => 5, retry_delay_seconds => 0)")
    writer = Writer(c)
    writer.start()
    try:
        time.sleep(3)
        # 1. kill -9 of the scheduler in the middle of a run.
        with c.connect() as admin:
            pid = wait_running(admin, "feed")
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        with c.wait_ready() as admin:
            pass
        time.sleep(4)
        # 2. an immediate shutdown in the middle of a run.
        with c.connect() as admin:
            wait_running(admin, "feed")
        c.stop("immediate")
        time.sleep(0.5)
        c.start()
        with c.wait_ready():
            pass
        time.sleep(4)
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.written > 100
    wait_caught_up(c)
    with c.connect() as admin:
        source = [r[0] for r in rows(admin, "SELECT id FROM src.feed ORDER BY id")]
        target = [r[0] for r in rows(admin, "SELECT id FROM raw.feed ORDER BY id")]
        assert len(target) == len(set(target)), "duplicates in the Iceberg table"
        assert target == source, f"{len(source)} source rows, {len(target)} target rows"
        assert rows(admin, "SELECT f.id, f.at, f.payload FROM src.feed f EXCEPT SELECT id, at, payload FROM raw.feed") == []
        runs = rows(admin, "SELECT status, count(*) FROM lake.runs WHERE pipeline = 'feed' GROUP BY 1")
        statuses = dict(runs)
        # Both crashes hit a run in flight: it is marked interrupted.
        assert statuses.get("interrupted", 0) >= 2, runs
        assert statuses.get("succeeded", 0) >= 3, runs
        # Each successful run's snapshot carries its run id and the watermark
        # of its last row; the snapshots' watermarks only grow.
        marks = [int(s["townlake.watermark"]) for (s,) in rows(
            admin, "SELECT summary FROM lake.snapshots('raw.feed') WHERE summary ? 'townlake.watermark'")]
        assert marks == sorted(marks) and len(set(marks)) == len(marks) and marks[-1] == source[-1]
        admin.execute("SELECT lake.pause_pipeline('feed')")
