"""Transformation models on a real cluster (issue 14, stage 2): definitions
with dependencies found by Postgres' analyzer, materializations, synchronous
runs with history, failures and skips, runs as the owner, YAML projects.

Expected values come from the source rows as Python generated them (or plain
SQL on the heap source), never from townlake's own output.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections import defaultdict
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session

SUFFIX = uuid.uuid4().hex[:6]
ALICE = f"xf_alice_{SUFFIX}"     # owns models
MALLORY = f"xf_mal_{SUFFIX}"     # hostile: no membership in anything
ROLES = [ALICE, MALLORY]

START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def make_events(seed: int, n: int, first_id: int = 1):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ts = START + dt.timedelta(minutes=rnd.randrange(0, 3 * 24 * 60))
        out.append((first_id + i, ts, rnd.randrange(-5, 100), rnd.randrange(1, 8)))
    return out


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def admin(roles, database):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("CREATE TABLE src.events (id int PRIMARY KEY, ts timestamptz, amount int, user_id int)")
        conn.execute("CREATE SCHEMA m")
        for r in ROLES:
            conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(f"{r}_s"), sql.Identifier(r)))
        yield conn


def load_events(conn, events):
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO src.events VALUES (%s, %s, %s, %s)", events)


def runs_of(conn, first_run: int):
    return rows(conn, "SELECT run_id, model, status, trigger, rows_written, error_sqlstate FROM lake.runs "
                      "WHERE run_id >= %s ORDER BY run_id", (first_run,))


def test_dag_of_five_models_runs_in_dependency_order(admin):
    events = make_events(1, 500)
    load_events(admin, events)
    admin.execute("SELECT lake.define_model('clean', 'SELECT id, ts, amount, user_id FROM src.events WHERE amount >= 0', "
                  "'m.clean', materialization => 'view')")
    admin.execute("SELECT lake.define_model('hourly', $$SELECT date_trunc('hour', ts) AS hour, count(*) AS n, "
                  "sum(amount) AS total FROM m.clean GROUP BY 1$$, 'm.hourly')")
    admin.execute("SELECT lake.define_model('daily', $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n, "
                  "sum(total)::bigint AS total FROM m.hourly GROUP BY 1$$, 'm.daily')")
    admin.execute("SELECT lake.define_model('users', 'SELECT user_id, count(*) AS n FROM m.clean GROUP BY user_id', "
                  "'m.users', materialization => 'incremental', strategy => 'merge', unique_key => '{user_id}')")
    # Reads two models' targets, one of them only inside a scalar subquery.
    admin.execute("SELECT lake.define_model('report', 'SELECT (SELECT count(*) FROM m.users) AS users, "
                  "sum(total)::bigint AS total FROM m.daily', 'm.report')")

    deps = rows(admin, "SELECT model, relation_schema || '.' || relation_name FROM lake.model_dependencies ORDER BY 1, 2")
    assert deps == [("clean", "src.events"), ("daily", "m.hourly"), ("hourly", "m.clean"),
                    ("report", "m.daily"), ("report", "m.users"), ("users", "m.clean")]

    first = one(admin, "SELECT lake.run_now('clean', with_downstream => true)")
    got = runs_of(admin, first)
    assert [r[2] for r in got] == ["succeeded"] * 5, got
    order = [r[1] for r in got]
    assert order[0] == "clean" and got[0][3] == "manual"
    assert all(r[3] == "downstream" for r in got[1:])
    for up, down in [("clean", "hourly"), ("hourly", "daily"), ("clean", "users"), ("daily", "report"), ("users", "report")]:
        assert order.index(up) < order.index(down), order

    # Oracle: the generated rows, aggregated in Python.
    kept = [e for e in events if e[2] >= 0]
    hourly = defaultdict(lambda: [0, 0])
    for _, ts, amount, _ in kept:
        h = ts.replace(minute=0, second=0, microsecond=0)
        hourly[h][0] += 1
        hourly[h][1] += amount
    got_hourly = {r[0]: [r[1], r[2]] for r in rows(admin, "SELECT hour, n, total FROM m.hourly")}
    assert got_hourly == dict(hourly)
    daily = defaultdict(lambda: [0, 0])
    for h, (n, t) in hourly.items():
        daily[h.replace(hour=0)][0] += n
        daily[h.replace(hour=0)][1] += t
    assert {r[0]: [r[1], r[2]] for r in rows(admin, "SELECT day, n, total FROM m.daily")} == dict(daily)
    users = defaultdict(int)
    for e in kept:
        users[e[3]] += 1
    assert dict(rows(admin, "SELECT user_id, n FROM m.users")) == dict(users)
    assert rows(admin, "SELECT users, total FROM m.report") == [(len(users), sum(e[2] for e in kept))]
    rw = {r[1]: r[4] for r in got}
    assert rw["hourly"] == len(hourly) and rw["daily"] == len(daily) and rw["report"] == 1
    assert rw["clean"] is None  # a view writes no rows


def test_table_rerun_replaces_and_merge_updates(admin):
    more = make_events(2, 200, first_id=10_001)
    load_events(admin, more)
    admin.execute("SELECT lake.run_now('clean', true)")
    # The oracle: plain SQL over the heap source.
    assert rows(admin, "SELECT user_id, n FROM m.users ORDER BY 1") == rows(
        admin, "SELECT user_id, count(*) FROM src.events WHERE amount >= 0 GROUP BY 1 ORDER BY 1")
    assert one(admin, "SELECT count(*) FROM m.hourly") == one(
        admin, "SELECT count(DISTINCT date_trunc('hour', ts)) FROM src.events WHERE amount >= 0")
    assert one(admin, "SELECT sum(n) FROM m.daily") == one(admin, "SELECT count(*) FROM src.events WHERE amount >= 0")


def test_incremental_append_sees_its_run_id(admin):
    admin.execute("SELECT lake.define_model('snap', 'SELECT lake.current_run_id() AS run_id, count(*) AS n "
                  "FROM src.events', 'm.snap', materialization => 'incremental')")
    r1 = one(admin, "SELECT lake.run_now('snap')")
    admin.execute("INSERT INTO src.events VALUES (99999, now(), 1, 1)")
    r2 = one(admin, "SELECT lake.run_now('snap')")
    total = one(admin, "SELECT count(*) FROM src.events")
    assert rows(admin, "SELECT run_id, n FROM m.snap ORDER BY run_id") == [(r1, total - 1), (r2, total)]
    assert one(admin, "SELECT lake.current_run_id()") is None


def test_failure_records_sqlstate_notifies_and_skips_downstream(admin, database):
    admin.execute("CREATE TABLE src.divisors (d int)")
    admin.execute("INSERT INTO src.divisors VALUES (1), (2)")
    admin.execute("SELECT lake.define_model('ratio', 'SELECT 10 / d AS r FROM src.divisors', 'm.ratio')")
    admin.execute("SELECT lake.define_model('ratio_sum', 'SELECT sum(r)::int AS s FROM m.ratio', 'm.ratio_sum')")
    admin.execute("SELECT lake.define_model('ratio_top', 'SELECT s * 2 AS t FROM m.ratio_sum', 'm.ratio_top')")
    admin.execute("SELECT lake.run_now('ratio', true)")
    assert rows(admin, "SELECT r FROM m.ratio ORDER BY r") == [(5,), (10,)]

    admin.execute("INSERT INTO src.divisors VALUES (0)")
    with session(database) as listener:
        listener.execute("LISTEN townlake_runs")
        run = one(admin, "SELECT lake.run_now('ratio', true)")
        got = runs_of(admin, run)
        assert [(r[1], r[2]) for r in got] == [("ratio", "failed"), ("ratio_sum", "skipped"), ("ratio_top", "skipped")]
        assert got[0][5] == "22012"  # division_by_zero
        assert "division by zero" in one(admin, "SELECT error_message FROM lake.runs WHERE run_id = %s", (run,))
        assert "did not succeed" in one(admin, "SELECT error_message FROM lake.runs WHERE run_id = %s", (got[2][0],))
        notes = list(listener.notifies(timeout=5, stop_after=1))
        assert [(n.channel, n.payload) for n in notes] == [("townlake_runs", str(run))]
    # The failed full replace left the previous rows in place.
    assert rows(admin, "SELECT r FROM m.ratio ORDER BY r") == [(5,), (10,)]
    assert one(admin, "SELECT s FROM m.ratio_sum") == 15


def test_timeout_cancels_the_run_only(admin):
    # 30 s of work under a 1-second timeout; the margin is for a loaded machine.
    admin.execute("SELECT lake.define_model('slow', 'SELECT 1 AS x FROM pg_sleep(30)', 'm.slow', timeout_seconds => 1)")
    t0 = time.monotonic()
    run = one(admin, "SELECT lake.run_now('slow')")
    elapsed = time.monotonic() - t0
    assert elapsed < 15, elapsed
    assert rows(admin, "SELECT status, error_sqlstate FROM lake.runs WHERE run_id = %s", (run,)) == [("failed", "57014")]
    assert one(admin, "SELECT 1") == 1


def test_cycle_is_rejected_naming_it(admin):
    admin.execute("SELECT lake.define_model('cy_a', 'SELECT 1 AS v', 'm.cy_a')")
    admin.execute("SELECT lake.define_model('cy_b', 'SELECT v FROM m.cy_a', 'm.cy_b')")
    admin.execute("SELECT lake.define_model('cy_c', 'SELECT v FROM m.cy_b', 'm.cy_c')")
    e = error_of(admin, "SELECT lake.define_model('cy_a', 'SELECT v FROM m.cy_c', 'm.cy_a')")
    assert "dependency cycle: cy_a -> cy_b -> cy_c -> cy_a" in str(e), str(e)
    assert e.sqlstate == "42P17"
    e = error_of(admin, "SELECT lake.define_model('cy_d', 'SELECT 1 AS v', 'm.cy_d', depends_on => '{cy_d_nope}')")
    assert 'depends_on names model "cy_d_nope"' in str(e)


def test_bad_definitions_get_clear_errors(admin):
    cases = [
        ("SELECT lake.define_model('Bad Name', 'SELECT 1', 'm.x')", 'invalid model name "Bad Name"'),
        ("SELECT lake.define_model('x1', 'DELETE FROM src.events', 'm.x1')", "must be one SELECT statement (not a SELECT)"),
        ("SELECT lake.define_model('x2', 'SELECT 1; SELECT 2', 'm.x2')", "must be one SELECT statement (2 statements)"),
        ("SELECT lake.define_model('x3', 'SELECT 1 AS a', 'x3')", 'invalid target "x3"'),
        ("SELECT lake.define_model('x4', 'SELECT 1 AS a', 'm.x4', schedule => '61 * * * *')",
         "invalid schedule: minute value 61 is out of range 0-59"),
        ("SELECT lake.define_model('x5', 'SELECT 1 AS a', 'm.x5', timezone => 'Mars/Olympus')",
         'unknown time zone "Mars/Olympus"'),
        ("SELECT lake.define_model('x6', 'SELECT 1 AS a', 'm.x6', materialization => 'incremental', strategy => 'merge')",
         "strategy merge needs a unique_key"),
        ("SELECT lake.define_model('x7', 'SELECT 1 AS a', 'm.x7', materialization => 'snapshot')",
         'invalid materialization "snapshot"'),
        ("SELECT lake.define_model('x8', 'SELECT * FROM nowhere.nothing', 'm.x8')",
         'relation "nowhere.nothing" does not exist'),
        ("SELECT lake.define_model('x9', 'SELECT 1 AS a', 'm.hourly')", 'is already written by model hourly'),
        ("SELECT lake.run_now('no_such_model')", 'model "no_such_model" does not exist'),
        ("SELECT lake.define_model('x10', 'SELECT 1 AS a', 'm.x10', materialization => 'incremental', "
         "strategy => 'merge', unique_key => '{b}')", 'unique_key column "b" is not an output column'),
    ]
    for q, expected in cases:
        e = error_of(admin, q)
        assert expected in str(e), (q, str(e))
    # none of them left a model behind
    assert one(admin, "SELECT count(*) FROM lake.models WHERE name ~ '^x[0-9]+$'") == 0


def test_runs_execute_as_the_owner(admin, database):
    admin.execute(sql.SQL("GRANT USAGE ON SCHEMA src TO {}").format(sql.Identifier(ALICE)))
    admin.execute(sql.SQL("GRANT SELECT ON src.events TO {}").format(sql.Identifier(ALICE)))
    admin.execute("CREATE TABLE src.secret (v int)")
    admin.execute("INSERT INTO src.secret VALUES (42)")
    with session(database, ALICE) as alice:
        alice.execute(f"SELECT lake.define_model('who', 'SELECT current_user::text AS who, count(*) AS n FROM src.events', "
                      f"'{ALICE}_s.who')")
        run = one(alice, "SELECT lake.run_now('who')")
        assert rows(alice, f"SELECT who FROM {ALICE}_s.who") == [(ALICE,)]
        assert one(alice, f"SELECT relowner::regrole::text FROM pg_class WHERE oid = '{ALICE}_s.who'::regclass") == ALICE
        assert rows(alice, "SELECT run_as::text, requested_by::text FROM lake.runs WHERE run_id = %s", (run,)) == [(ALICE, ALICE)]
        # A model reading what its owner may not read fails with that error.
        alice.execute(f"SELECT lake.define_model('peek', 'SELECT v FROM src.secret', '{ALICE}_s.peek')")
        run = one(alice, "SELECT lake.run_now('peek')")
        status = rows(alice, "SELECT status, error_sqlstate, error_message FROM lake.runs WHERE run_id = %s", (run,))
        assert status[0][:2] == ("failed", "42501"), status
        assert "permission denied for table secret" in status[0][2]
    # The superuser running alice's model still runs it as alice.
    run = one(admin, "SELECT lake.run_now('peek')")
    assert rows(admin, "SELECT status, run_as::text, requested_by::text FROM lake.runs WHERE run_id = %s", (run,)) == [
        ("failed", ALICE, "postgres")]


def test_hostile_role_cannot_borrow_rights(admin, database):
    with session(database, MALLORY) as mal:
        for q in [
            f"SELECT lake.define_model('mal1', 'SELECT 1 AS a', '{MALLORY}_s.mal1', owner => 'postgres')",
            f"SELECT lake.define_model('mal2', 'SELECT 1 AS a', '{MALLORY}_s.mal2', owner => '{ALICE}')",
            "SELECT lake.run_now('who')",
            "SELECT lake.drop_model('who')",
            f"SELECT lake.define_model('who', 'SELECT 1 AS a', '{MALLORY}_s.who')",
            # someone else's downstream closure
            "SELECT lake.run_now('clean', true)",
        ]:
            e = error_of(mal, q)
            assert e.sqlstate == "42501", (q, str(e))
        for q in ["INSERT INTO lake.runs (model, trigger, status) VALUES ('who', 'manual', 'succeeded')",
                  "UPDATE lake.models SET owner = current_user::regrole",
                  "DELETE FROM lake.runs"]:
            e = error_of(mal, q)
            assert e.sqlstate == "42501", (q, str(e))
        # Row security: nothing of the others' models or runs is visible.
        assert one(mal, "SELECT count(*) FROM lake.models") == 0
        assert one(mal, "SELECT count(*) FROM lake.runs") == 0
        assert one(mal, "SELECT jsonb_array_length(lake.dag()->'nodes')") == 0
        # Its own model runs as itself.
        mal.execute(f"SELECT lake.define_model('mal3', 'SELECT current_user::text AS u', '{MALLORY}_s.mal3')")
        mal.execute("SELECT lake.run_now('mal3')")
        assert rows(mal, f"SELECT u FROM {MALLORY}_s.mal3") == [(MALLORY,)]
        assert one(mal, "SELECT count(*) FROM lake.models") == 1
    # The model definitions and runs it tried are not there.
    assert one(admin, "SELECT owner::text FROM lake.models WHERE name = 'who'") == ALICE
    assert one(admin, "SELECT count(*) FROM lake.models WHERE name IN ('mal1', 'mal2')") == 0


def test_yaml_project_loads_in_dependency_order(admin):
    project = """
defaults:
  timezone: Europe/Berlin
  tags: [yaml]
models:
  - name: y_top
    sql: SELECT sum(n)::bigint AS total FROM m.y_mid
    target: m.y_top
  - name: y_mid
    sql: SELECT user_id, count(*) AS n FROM m.y_base GROUP BY user_id
    target: m.y_mid
    materialization: incremental
    strategy: merge
    unique_key: user_id
    schedule: "*/10 * * * *"
    columns:
      user_id: the user
      n: their events
  - name: y_base
    sql: SELECT * FROM src.events WHERE amount > 50
    target: m.y_base
    materialization: view
"""
    names = one(admin, "SELECT lake.load_project(%s, 'analytics.yml')", (project,))
    assert names == ["y_base", "y_mid", "y_top"]
    assert rows(admin, "SELECT name, timezone, tags, schedule FROM lake.models WHERE name LIKE 'y\\_%%' ORDER BY name") == [
        ("y_base", "Europe/Berlin", ["yaml"], None),
        ("y_mid", "Europe/Berlin", ["yaml"], "*/10 * * * *"),
        ("y_top", "Europe/Berlin", ["yaml"], None)]
    assert one(admin, "SELECT columns FROM lake.models WHERE name = 'y_mid'") == {"user_id": "the user", "n": "their events"}
    admin.execute("SELECT lake.run_now('y_base', true)")
    assert one(admin, "SELECT total FROM m.y_top") == one(admin, "SELECT count(*) FROM src.events WHERE amount > 50")
    edges = one(admin, "SELECT lake.dag()->'edges'")
    assert {"from": "y_base", "to": "y_mid"} in edges and {"from": "y_mid", "to": "y_top"} in edges


@pytest.mark.parametrize("yaml_text,expected", [
    ("models:\n  - name: e1\n    sql: SELECT 1 AS a\n    target: m.e1\n    materialisation: view\n",
     'analytics.yml:5:5: model "e1": unknown key "materialisation" in a model'),
    ("models:\n  - name: e2\n    sql: SELECT 1 AS a\n    target: m.e2\n    schedule: '* * *'\n",
     'analytics.yml:5:15: model "e2": invalid schedule: cron schedule "* * *" has 3 fields, expected 5'),
    ("models:\n  - name: e3\n    sql: [oops\n",
     "analytics.yml:"),
    ("models:\n  - name: e4\n    sql: SELECT 1 AS a\n    target: m.e4\n  - name: e5\n    sql: SELECT a FROM nowhere.e5\n    target: m.e5\n",
     'analytics.yml:5: model "e5": relation "nowhere.e5" does not exist'),
])
def test_yaml_errors_name_file_model_and_line(admin, yaml_text, expected):
    e = error_of(admin, "SELECT lake.load_project(%s, 'analytics.yml')", (yaml_text,))
    assert expected in str(e), str(e)
    # nothing of a failed load stays defined
    assert one(admin, "SELECT count(*) FROM lake.models WHERE name ~ '^e[0-9]$'") == 0


def test_yaml_cycle_names_models(admin):
    project = ("models:\n  - name: yc_a\n    sql: SELECT 1 AS v\n    target: m.yc_a\n    depends_on: [yc_b]\n"
               "  - name: yc_b\n    sql: SELECT 1 AS v\n    target: m.yc_b\n    depends_on: [yc_a]\n")
    e = error_of(admin, "SELECT lake.load_project(%s, 'c.yml')", (project,))
    assert 'c.yml:2: model "yc_a"' in str(e) and "cycle" in str(e), str(e)


def test_dag_dot_and_drop(admin):
    dot = one(admin, "SELECT lake.dag_dot()")
    assert dot.startswith("digraph townlake {")
    assert '"clean" -> "hourly";' in dot and '"hourly" -> "daily";' in dot
    admin.execute("SELECT lake.define_model('gone', 'SELECT 1 AS a', 'm.gone')")
    admin.execute("SELECT lake.drop_model('gone', drop_target => true)")
    assert one(admin, "SELECT to_regclass('m.gone')") is None
    assert one(admin, "SELECT count(*) FROM lake.models WHERE name = 'gone'") == 0


def test_next_fire_times_against_zoneinfo(admin):
    got = one(admin, "SELECT lake.next_fire_times('0 9 * * *', '2026-03-27 12:00+00', 3, 'Europe/Berlin')")
    berlin = ZoneInfo("Europe/Berlin")
    expected = [dt.datetime(2026, 3, d, 9, tzinfo=berlin).astimezone(dt.timezone.utc) for d in (28, 29, 30)]
    assert got == expected
    got = one(admin, "SELECT lake.next_fire_times('every 15 minutes', '2026-03-27 12:07:30+00', 2)")
    assert got == [dt.datetime(2026, 3, 27, 12, 15, tzinfo=dt.timezone.utc),
                   dt.datetime(2026, 3, 27, 12, 30, tzinfo=dt.timezone.utc)]
    e = error_of(admin, "SELECT lake.next_fire_times('@sometimes', now())")
    assert 'unknown schedule shortcut "@sometimes"' in str(e)
    # Infinite times have no next fire time (not 1970's).
    for bad in ("infinity", "-infinity"):
        e = error_of(admin, f"SELECT lake.next_fire_times('@hourly', '{bad}')")
        assert "after must be a finite timestamp" in str(e)


def test_table_model_into_an_iceberg_table_is_one_overwrite_snapshot(admin):
    load_events(admin, make_events(7, 50, first_id=300_000))
    admin.execute("CREATE FOREIGN TABLE m.ice_users (user_id int, n bigint) SERVER lake_local "
                  f"OPTIONS (namespace 'xf_{SUFFIX}', \"table\" 'ice_users')")
    admin.execute("SELECT lake.define_model('ice_users', 'SELECT user_id, count(*) AS n FROM src.events "
                  "GROUP BY user_id', 'm.ice_users')")
    oracle = "SELECT user_id, count(*) FROM src.events GROUP BY 1 ORDER BY 1"
    for round_ in range(2):
        before = one(admin, "SELECT count(*) FROM lake.snapshots('m.ice_users')")
        run = one(admin, "SELECT lake.run_now('ice_users')")
        assert rows(admin, "SELECT status FROM lake.runs WHERE run_id = %s", (run,)) == [("succeeded",)]
        snaps = rows(admin, "SELECT operation FROM lake.snapshots('m.ice_users') ORDER BY committed_at")
        # One snapshot per run; a re-run replaces the data in one overwrite.
        assert len(snaps) == before + 1, snaps
        if round_ == 1:
            assert snaps[-1][0] == "overwrite", snaps
        assert rows(admin, "SELECT user_id, n FROM m.ice_users ORDER BY 1") == rows(admin, oracle)
        admin.execute("INSERT INTO src.events VALUES (%s, now(), 3, 42)", (200_000 + round_,))
    # merge into an Iceberg target (tests/test_transform_incremental.py has more)
    admin.execute("CREATE FOREIGN TABLE m.ice_m (user_id int, n bigint) SERVER lake_local "
                  f"OPTIONS (namespace 'xf_{SUFFIX}', \"table\" 'ice_m')")
    admin.execute("SELECT lake.define_model('ice_m', 'SELECT user_id, count(*) AS n FROM src.events GROUP BY 1', 'm.ice_m', "
                  "materialization => 'incremental', strategy => 'merge', unique_key => '{user_id}')")
    run = one(admin, "SELECT lake.run_now('ice_m')")
    assert rows(admin, "SELECT status FROM lake.runs WHERE run_id = %s", (run,)) == [("succeeded",)]
    assert rows(admin, "SELECT user_id, n FROM m.ice_m ORDER BY 1") == rows(admin, oracle)


def test_a_model_whose_owner_was_dropped_does_not_run(admin, database):
    admin.execute("CREATE ROLE xf_gone_" + SUFFIX)
    admin.execute(sql.SQL("GRANT CREATE ON SCHEMA m TO {}").format(sql.Identifier("xf_gone_" + SUFFIX)))
    admin.execute(f"SELECT lake.define_model('orphan', 'SELECT current_user::text AS u', 'm.orphan', owner => 'xf_gone_{SUFFIX}')")
    admin.execute("DROP TABLE m.orphan")
    admin.execute(sql.SQL("REVOKE CREATE ON SCHEMA m FROM {}").format(sql.Identifier("xf_gone_" + SUFFIX)))
    admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier("xf_gone_" + SUFFIX)))
    run = one(admin, "SELECT lake.run_now('orphan')")
    got = rows(admin, "SELECT status, error_sqlstate, error_message FROM lake.runs WHERE run_id = %s", (run,))
    assert got[0][:2] == ("failed", "42704") and "no longer exists" in got[0][2], got
    assert one(admin, "SELECT to_regclass('m.orphan')") is None
