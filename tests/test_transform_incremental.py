"""Incremental models and run operations on a real cluster (issue 14, stage
4): delete+insert by partition and merge on heap and Iceberg targets,
on_schema_change, backfill, cancel_run, the progress view, the concurrency
limit, run retention and per-run metadata.

Expected values come from the rows as Python generated them, or from plain
SQL on the heap source, never from townlake's own output.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections import defaultdict

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session
from govhelpers import wait_until as wait_for

SUFFIX = uuid.uuid4().hex[:6]
ALICE = f"xi_alice_{SUFFIX}"
MALLORY = f"xi_mal_{SUFFIX}"
UTC = dt.timezone.utc
DAY0 = dt.datetime(2026, 3, 1, tzinfo=UTC)


def make_rows(seed: int, n: int, first_id: int, days: list[int]):
    rnd = random.Random(seed)
    return [(first_id + i, DAY0 + dt.timedelta(days=rnd.choice(days), minutes=rnd.randrange(0, 24 * 60)),
             rnd.randrange(0, 1000), rnd.randrange(1, 6)) for i in range(n)]



@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [ALICE, MALLORY])


@pytest.fixture(scope="module")
def admin(roles, database):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src; CREATE SCHEMA m")
        conn.execute("CREATE TABLE src.batch (id int, ts timestamptz, amount int, user_id int)")
        conn.execute("CREATE TABLE src.ev (id int PRIMARY KEY, ts timestamptz, amount int, user_id int)")
        yield conn


def set_batch(conn, batch):
    conn.execute("TRUNCATE src.batch")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO src.batch VALUES (%s, %s, %s, %s)", batch)


def day_of(ts):
    return ts.astimezone(UTC).date()


def replace_days(current, batch):
    """The oracle of delete+insert by day(ts): rows of days the batch touches go."""
    touched = {day_of(r[1]) for r in batch}
    return sorted([r for r in current if day_of(r[1]) not in touched] + list(batch))


def run_ok(conn, query, params=None):
    run = one(conn, query, params)
    got = rows(conn, "SELECT status, error_message FROM lake.runs WHERE run_id = %s", (run,))
    assert got[0][0] == "succeeded", got
    return run


def snapshot_count(conn, rel):
    return one(conn, "SELECT count(*) FROM lake.snapshots(%s::regclass)", (rel,))


def test_delete_insert_replaces_the_days_a_heap_batch_touches(admin):
    admin.execute("SELECT lake.define_model('di_heap', 'SELECT id, ts, amount, user_id FROM src.batch', 'm.di_heap', "
                  "materialization => 'incremental', strategy => 'delete+insert', partition_by => 'day(ts)')")
    first = make_rows(1, 300, 1, [0, 1, 2, 3, 4])
    set_batch(admin, first)
    run_ok(admin, "SELECT lake.run_now('di_heap')")
    expected = sorted(first)
    assert rows(admin, "SELECT id, ts, amount, user_id FROM m.di_heap ORDER BY 1") == expected
    # A batch touching days 1 and 3 only (new ids, new amounts), with a NULL day.
    second = make_rows(2, 80, 10_001, [1, 3])
    set_batch(admin, second + [(20_000, None, 5, 1)])
    run = run_ok(admin, "SELECT lake.run_now('di_heap')")
    expected_rows = replace_days(expected, second)
    got = rows(admin, "SELECT id, ts, amount, user_id FROM m.di_heap WHERE ts IS NOT NULL ORDER BY 1")
    assert got == sorted(expected_rows)
    assert one(admin, "SELECT count(*) FROM m.di_heap WHERE ts IS NULL") == 1
    removed = sum(1 for r in expected if day_of(r[1]) in {day_of(b[1]) for b in second})
    meta = one(admin, "SELECT row_counts FROM lake.run_metadata WHERE run_id = %s", (run,))
    assert meta == {"batch": 81, "inserted": 81, "deleted": removed, "batch_bytes": meta["batch_bytes"]}
    parts = one(admin, "SELECT partitions FROM lake.run_metadata WHERE run_id = %s", (run,))
    assert len(parts) == 3 and "(ts IS NULL)" in parts, parts  # days 1 and 3, and the NULL partition
    assert rows(admin, "SELECT rows_written FROM lake.runs WHERE run_id = %s", (run,)) == [(81,)]


def test_delete_insert_into_iceberg_is_one_snapshot_per_run(admin):
    admin.execute("CREATE FOREIGN TABLE m.di_ice (id int, ts timestamptz, amount int, user_id int) SERVER lake_local "
                  f"OPTIONS (namespace 'xi_{SUFFIX}', \"table\" 'di_ice')")
    admin.execute("SELECT lake.set_partitioning('m.di_ice', 'day(ts)')")
    admin.execute("SELECT lake.define_model('di_ice', 'SELECT id, ts, amount, user_id FROM src.batch', 'm.di_ice', "
                  "materialization => 'incremental', strategy => 'delete+insert', partition_by => 'day(ts)')")
    first = make_rows(3, 400, 1, [0, 1, 2, 3, 4, 5])
    set_batch(admin, first)
    expected = sorted(first)
    for round_, batch in enumerate([first, make_rows(4, 90, 50_001, [2, 5]), make_rows(5, 30, 60_001, [0])]):
        set_batch(admin, batch)
        before = snapshot_count(admin, "m.di_ice")
        run_ok(admin, "SELECT lake.run_now('di_ice')")
        assert snapshot_count(admin, "m.di_ice") == before + 1
        expected = sorted(batch) if round_ == 0 else replace_days(expected, batch)
        assert rows(admin, "SELECT id, ts, amount, user_id FROM m.di_ice ORDER BY 1") == expected, round_
    # the heap copy of the oracle agrees per day too
    per_day = defaultdict(int)
    for r in expected:
        per_day[day_of(r[1])] += r[2]
    got = dict(rows(admin, "SELECT (ts AT TIME ZONE 'UTC')::date, sum(amount) FROM m.di_ice GROUP BY 1"))
    assert got == dict(per_day)


def test_merge_into_iceberg_on_unique_key(admin):
    events = make_rows(6, 500, 1, [0, 1, 2])
    with admin.cursor() as cur:
        cur.executemany("INSERT INTO src.ev VALUES (%s, %s, %s, %s)", events)
    admin.execute("CREATE FOREIGN TABLE m.mg_ice (user_id int, n bigint, total bigint) SERVER lake_local "
                  f"OPTIONS (namespace 'xi_{SUFFIX}', \"table\" 'mg_ice')")
    # A row for a user the model never returns stays.
    admin.execute("INSERT INTO m.mg_ice VALUES (99, 7, 7)")
    admin.execute("SELECT lake.define_model('mg_ice', $$SELECT user_id, count(*) AS n, sum(amount)::bigint AS total "
                  "FROM src.ev WHERE ts >= '2026-03-02' GROUP BY user_id$$, 'm.mg_ice', materialization => 'incremental', "
                  "strategy => 'merge', unique_key => '{user_id}')")
    oracle = "SELECT user_id, count(*), sum(amount)::bigint FROM src.ev WHERE ts >= '2026-03-02' GROUP BY 1"
    for extra in range(2):
        before = snapshot_count(admin, "m.mg_ice")
        run_ok(admin, "SELECT lake.run_now('mg_ice')")
        assert snapshot_count(admin, "m.mg_ice") == before + 1
        want = sorted(rows(admin, oracle) + [(99, 7, 7)])
        assert rows(admin, "SELECT user_id, n, total FROM m.mg_ice ORDER BY 1") == want
        admin.execute("INSERT INTO src.ev VALUES (%s, '2026-03-03 10:00+00', 1000, 2)", (90_000 + extra,))
    # Two rows for one key: refused like MERGE refuses it, nothing written.
    admin.execute("CREATE FOREIGN TABLE m.mg_ice_d (user_id int, n bigint, total bigint) SERVER lake_local "
                  f"OPTIONS (namespace 'xi_{SUFFIX}', \"table\" 'mg_ice_d')")
    admin.execute("SELECT lake.define_model('mg_dup2', 'SELECT user_id, n, total FROM m.mg_ice UNION ALL SELECT 99, 1, 1', "
                  "'m.mg_ice_d', materialization => 'incremental', strategy => 'merge', unique_key => '{user_id}')")
    run = one(admin, "SELECT lake.run_now('mg_dup2')")
    got = rows(admin, "SELECT status, error_sqlstate, error_message FROM lake.runs WHERE run_id = %s", (run,))
    assert got[0][:2] == ("failed", "21000") and "more than once" in got[0][2], got
    assert one(admin, "SELECT count(*) FROM m.mg_ice_d") == 0


def test_on_schema_change_policies(admin):
    admin.execute("CREATE TABLE src.wide (id int, a int)")
    admin.execute("INSERT INTO src.wide VALUES (1, 10)")
    for policy in ["fail", "append_new_columns", "sync"]:
        admin.execute("SELECT lake.define_model(%s, 'SELECT * FROM src.wide', %s, materialization => 'incremental', "
                      "on_schema_change => %s)", (f"sc_{policy}", f"m.sc_{policy}", policy))
        run_ok(admin, "SELECT lake.run_now(%s)", (f"sc_{policy}",))
    # The source gains a column and loses one: SELECT * follows it.
    admin.execute("ALTER TABLE src.wide ADD COLUMN b text; ALTER TABLE src.wide DROP COLUMN a")
    admin.execute("INSERT INTO src.wide VALUES (2, 'two')")
    cols = "SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"

    run = one(admin, "SELECT lake.run_now('sc_fail')")
    got = rows(admin, "SELECT status, error_sqlstate, error_message FROM lake.runs WHERE run_id = %s", (run,))
    assert got[0][:2] == ("failed", "42P16"), got
    assert "new columns b (text)" in got[0][2] and "columns no longer selected a" in got[0][2], got
    assert one(admin, cols, ("m.sc_fail",)) == ["id", "a"]
    assert rows(admin, "SELECT * FROM m.sc_fail") == [(1, 10)]

    run_ok(admin, "SELECT lake.run_now('sc_append_new_columns')")
    assert one(admin, cols, ("m.sc_append_new_columns",)) == ["id", "a", "b"]
    assert rows(admin, "SELECT id, a, b FROM m.sc_append_new_columns ORDER BY id, a NULLS LAST") == [
        (1, 10, None), (1, None, None), (2, None, "two")]

    run = run_ok(admin, "SELECT lake.run_now('sc_sync')")
    assert one(admin, cols, ("m.sc_sync",)) == ["id", "b"]
    assert rows(admin, "SELECT id, b FROM m.sc_sync ORDER BY id, b") == [(1, None), (1, None), (2, "two")]
    change = one(admin, "SELECT schema_change FROM lake.run_metadata WHERE run_id = %s", (run,))
    assert change["policy"] == "sync" and change["applied"] == ["added b text", "dropped a"], change
    assert one(admin, "SELECT output_columns FROM lake.models WHERE name = 'sc_sync'") == ["id", "b"]
    # non-incremental models take no policy
    e = error_of(admin, "SELECT lake.define_model('sc_x', 'SELECT 1 AS a', 'm.sc_x', on_schema_change => 'sync')")
    assert "applies only to incremental models" in str(e)
    e = error_of(admin, "SELECT lake.define_model('sc_y', 'SELECT 1 AS a', 'm.sc_y', materialization => 'incremental', "
                        "on_schema_change => 'ignore')")
    assert 'invalid on_schema_change "ignore"' in str(e)


def test_on_schema_change_evolves_an_iceberg_target(admin):
    admin.execute("CREATE TABLE src.wide2 (id int, a int)")
    admin.execute("INSERT INTO src.wide2 VALUES (1, 10)")
    admin.execute("CREATE FOREIGN TABLE m.sc_ice (id int, a int) SERVER lake_local "
                  f"OPTIONS (namespace 'xi_{SUFFIX}', \"table\" 'sc_ice')")
    admin.execute("SELECT lake.define_model('sc_ice', 'SELECT * FROM src.wide2', 'm.sc_ice', materialization => 'incremental', "
                  "on_schema_change => 'append_new_columns')")
    run_ok(admin, "SELECT lake.run_now('sc_ice')")
    admin.execute("ALTER TABLE src.wide2 ADD COLUMN c bigint")
    admin.execute("INSERT INTO src.wide2 VALUES (2, 20, 200)")
    before = snapshot_count(admin, "m.sc_ice")
    run_ok(admin, "SELECT lake.run_now('sc_ice')")
    assert snapshot_count(admin, "m.sc_ice") == before + 1
    assert rows(admin, "SELECT id, a, c FROM m.sc_ice ORDER BY id, c NULLS FIRST") == [
        (1, 10, None), (1, 10, None), (2, 20, 200)]


def test_delete_insert_definition_errors(admin):
    cases = [
        ("SELECT lake.define_model('de1', 'SELECT 1 AS a', 'm.de1', materialization => 'incremental', strategy => 'delete+insert')",
         "strategy delete+insert needs partition_by"),
        ("SELECT lake.define_model('de2', 'SELECT 1 AS a', 'm.de2', materialization => 'incremental', strategy => 'delete+insert', "
         "partition_by => 'bucket(4, a)')", "cannot drive delete+insert"),
        ("SELECT lake.define_model('de3', 'SELECT 1 AS a', 'm.de3', materialization => 'incremental', strategy => 'delete+insert', "
         "partition_by => 'day(b)')", 'partition_by column "b" is not an output column'),
        ("SELECT lake.define_model('de4', 'SELECT 1 AS a', 'm.de4', materialization => 'incremental', strategy => 'upsert')",
         'invalid strategy "upsert"'),
    ]
    for q, expected in cases:
        e = error_of(admin, q)
        assert expected in str(e), (q, str(e))
    # a time transform of a non-time column fails at the run, naming it
    admin.execute("SELECT lake.define_model('de5', 'SELECT 1 AS a', 'm.de5', materialization => 'incremental', "
                  "strategy => 'delete+insert', partition_by => 'day(a)')")
    run = one(admin, "SELECT lake.run_now('de5')")
    msg = one(admin, "SELECT error_message FROM lake.runs WHERE run_id = %s", (run,))
    assert "day(a) needs a timestamp or date column" in msg, msg


def test_backfill_runs_one_period_at_a_time(admin):
    admin.execute("CREATE TABLE src.bf (id int, ts timestamptz, amount int)")
    src = make_rows(7, 600, 1, [0, 1, 2, 3, 4, 5, 6])
    with admin.cursor() as cur:
        cur.executemany("INSERT INTO src.bf VALUES (%s, %s, %s)", [r[:3] for r in src])
    admin.execute("SELECT lake.define_model('bf', $$SELECT id, ts, amount, lake.run_period_start() AS period FROM src.bf "
                  "WHERE ts >= lake.run_period_start() AND ts < lake.run_period_end()$$, 'm.bf', "
                  "materialization => 'incremental', strategy => 'delete+insert', partition_by => 'day(ts)')")
    ids = one(admin, "SELECT lake.backfill('bf', '2026-03-02 00:00+00', '2026-03-05 00:00+00')")
    assert len(ids) == 3
    got = rows(admin, "SELECT run_id, trigger, status, period_start, period_end, rows_written FROM lake.runs "
                      "WHERE run_id = ANY(%s) ORDER BY run_id", (ids,))
    for i, r in enumerate(got):
        start = DAY0 + dt.timedelta(days=1 + i)
        want_rows = sum(1 for s in src if start <= s[1] < start + dt.timedelta(days=1))
        assert r[1:] == ("backfill", "succeeded", start, start + dt.timedelta(days=1), want_rows), r
    want = sorted((s[0], s[1], s[2]) for s in src if DAY0 + dt.timedelta(days=1) <= s[1] < DAY0 + dt.timedelta(days=4))
    assert rows(admin, "SELECT id, ts, amount FROM m.bf ORDER BY 1") == want
    # a rerun of one day replaces that day only
    admin.execute("UPDATE src.bf SET amount = amount + 1 WHERE ts >= '2026-03-03' AND ts < '2026-03-04'")
    ids2 = one(admin, "SELECT lake.backfill('bf', '2026-03-03 05:00+00', '2026-03-03 06:00+00')")
    assert len(ids2) == 1
    assert rows(admin, "SELECT id, ts, amount FROM m.bf ORDER BY 1") == rows(
        admin, "SELECT id, ts, amount FROM src.bf WHERE ts >= '2026-03-02' AND ts < '2026-03-05' ORDER BY 1")
    # an explicit period
    admin.execute("SELECT lake.define_model('bf_h', $$SELECT count(*) AS n, lake.run_period_start() AS p FROM src.bf "
                  "WHERE ts >= lake.run_period_start() AND ts < lake.run_period_end()$$, 'm.bf_h', materialization => 'incremental')")
    ids3 = one(admin, "SELECT lake.backfill('bf_h', '2026-03-01 00:00+00', '2026-03-01 06:00+00', 'hour')")
    assert len(ids3) == 6
    want_h = defaultdict(int)
    for s in src:
        if s[1] < DAY0 + dt.timedelta(hours=6):
            want_h[s[1].replace(minute=0, second=0, microsecond=0)] += 1
    got_h = {p: n for n, p in rows(admin, "SELECT n, p FROM m.bf_h") if n}
    assert got_h == dict(want_h)
    for q, expected in [
        ("SELECT lake.backfill('bf', '2026-03-05', '2026-03-02')", "backfill needs from before to"),
        ("SELECT lake.backfill('sc_fail', '2026-03-01', '2026-03-02')", 'has no time partition to backfill by'),
        ("SELECT lake.backfill('bf', '2026-03-01', '2026-03-02', 'week')", 'invalid period "week"'),
        ("SELECT lake.backfill('nope', '2026-03-01', '2026-03-02')", 'model "nope" does not exist'),
    ]:
        e = error_of(admin, q)
        assert expected in str(e), (q, str(e))
    admin.execute("SELECT lake.define_model('bf_t', 'SELECT 1 AS a', 'm.bf_t')")
    assert "backfill applies to incremental models" in str(error_of(admin, "SELECT lake.backfill('bf_t', '2026-03-01', '2026-03-02')"))


def test_run_metadata_records_sql_upstreams_and_counts(admin, database):
    admin.execute("SELECT lake.define_model('md_up', 'SELECT id, amount FROM src.ev', 'm.md_up')")
    up_run = run_ok(admin, "SELECT lake.run_now('md_up')")
    admin.execute("SELECT lake.define_model('md_down', 'SELECT count(*) AS n FROM m.md_up JOIN src.ev USING (id)', 'm.md_down', "
                  "materialization => 'incremental')")
    run = run_ok(admin, "SELECT lake.run_now('md_down')")
    m = rows(admin, "SELECT model, model_sql, statements, upstream, output_columns, row_counts FROM lake.run_metadata WHERE run_id = %s",
             (run,))[0]
    assert m[0] == "md_down" and m[1] == "SELECT count(*) AS n FROM m.md_up JOIN src.ev USING (id)"
    assert m[2] == ["INSERT INTO m.md_down (n) SELECT model.n FROM (SELECT count(*) AS n FROM m.md_up JOIN src.ev USING (id)) AS model"]
    assert m[3] == [{"relation": "m.md_up", "model": "md_up", "last_run_id": up_run},
                    {"relation": "src.ev", "model": None, "last_run_id": None}]
    assert m[4] == [{"name": "n", "type": "bigint"}]
    assert m[5] == {"inserted": 1}
    # count(*) reads no column; md_up copies two columns of src.ev
    assert one(admin, "SELECT column_lineage FROM lake.run_metadata WHERE run_id = %s", (run,)) is None
    assert one(admin, "SELECT column_lineage FROM lake.run_metadata WHERE run_id = %s", (up_run,)) == [
        {"column": "amount", "kind": "direct", "source": "src.ev", "source_column": "amount"},
        {"column": "id", "kind": "direct", "source": "src.ev", "source_column": "id"}]
    # row security: another role sees none of it
    with session(database, MALLORY) as mal:
        assert one(mal, "SELECT count(*) FROM lake.run_metadata") == 0


def run_in_thread(database, query, role=None):
    out = {}

    def work():
        try:
            with session(database, role) as c:
                out["result"] = one(c, query)
                if isinstance(out["result"], int):
                    out["runs"] = rows(c, "SELECT run_id, status, error_sqlstate, error_message FROM lake.runs "
                                          "WHERE run_id = %s", (out["result"],))
        except Exception as e:  # noqa: BLE001 - reported by the test
            out["error"] = e

    t = threading.Thread(target=work)
    t.start()
    return t, out


def test_progress_view_and_cancel_run(admin, database):
    admin.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA m TO {}").format(sql.Identifier(ALICE)))
    admin.execute(f"SELECT lake.define_model('slow_c', 'SELECT 1 AS x FROM pg_sleep(60)', 'm.slow_c', owner => '{ALICE}')")
    t0 = time.monotonic()
    t, out = run_in_thread(database, "SELECT lake.run_now('slow_c')", ALICE)
    got = wait_for(admin, "SELECT run_id, model, phase, elapsed, pid FROM lake.run_progress WHERE model = 'slow_c'",
                   lambda r: len(r) == 1)
    assert len(got) == 1, got
    run_id, model, phase, elapsed, pid = got[0]
    assert phase == "writing" and elapsed >= dt.timedelta(0)
    # The run shows in pg_stat_activity under its application_name.
    assert one(admin, "SELECT application_name FROM pg_stat_activity WHERE pid = %s", (pid,)) == f"townlake run {run_id}: model slow_c"
    with session(database, MALLORY) as mal:
        assert one(mal, "SELECT count(*) FROM lake.run_progress") == 0
        e = error_of(mal, "SELECT lake.cancel_run(%s)", (run_id,))
        assert e.sqlstate == "42501", str(e)
    assert one(admin, "SELECT lake.cancel_run(%s)", (run_id,)) is True
    t.join(30)
    assert not t.is_alive() and "error" not in out, out
    assert time.monotonic() - t0 < 30
    assert out["result"] == run_id
    status, sqlstate, message = out["runs"][0][1:]
    assert (status, sqlstate) == ("cancelled", "57014") and "cancelled by role \"postgres\"" in message, out
    assert one(admin, "SELECT count(*) FROM lake.run_progress WHERE run_id = %s", (run_id,)) == 0
    e = error_of(admin, "SELECT lake.cancel_run(%s)", (run_id,))
    assert "is not running (status cancelled)" in str(e), str(e)
    # the session that ran it is fine afterwards, its application_name restored
    with session(database, ALICE) as alice:
        alice.execute("SET application_name = 'mine'")
        alice.execute("SELECT lake.define_model('quick_c', 'SELECT 1 AS x', 'm.quick_c')")
        alice.execute("SELECT lake.run_now('quick_c')")
        assert one(alice, "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()") == "mine"


def test_cancel_a_scheduled_run(admin):
    admin.execute("SELECT lake.define_model('slow_s', 'SELECT 1 AS x FROM pg_sleep(60)', 'm.slow_s', schedule => 'every 1 seconds')")
    got = wait_for(admin, "SELECT run_id FROM lake.run_progress WHERE model = 'slow_s'", lambda r: len(r) == 1)
    assert len(got) == 1, got
    run_id = got[0][0]
    admin.execute("SELECT lake.pause_model('slow_s')")
    assert one(admin, "SELECT query FROM pg_stat_activity WHERE backend_type = 'townlake scheduler' "
               "AND datname = current_database() AND query LIKE 'townlake run %%'") \
        == f"townlake run {run_id}: model slow_s"
    assert one(admin, "SELECT lake.cancel_run(%s)", (run_id,)) is True
    got = wait_for(admin, "SELECT status, error_sqlstate FROM lake.runs WHERE run_id = %s", lambda r: r and r[0][0] != "running",
                   params=(run_id,))
    assert got == [("cancelled", "57014")]


def set_conf(admin, name, value):
    if value is None:
        admin.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(*name.split("."))))
    else:
        admin.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(*name.split(".")), sql.Literal(value)))
    admin.execute("SELECT pg_reload_conf()")


def test_concurrency_limit_holds_scheduled_runs(admin, database):
    set_conf(admin, "townlake.transform_max_concurrent_runs", 1)
    try:
        time.sleep(1)
        admin.execute("SELECT lake.define_model('busy', 'SELECT 1 AS x FROM pg_sleep(6)', 'm.busy')")
        admin.execute("SELECT lake.define_model('ticker', 'SELECT now() AS at', 'm.ticker', materialization => 'incremental', "
                      "schedule => 'every 1 seconds')")
        wait_for(admin, "SELECT 1 FROM lake.runs WHERE model = 'ticker' AND status = 'succeeded'", lambda r: len(r) > 0)
        t, out = run_in_thread(database, "SELECT lake.run_now('busy')")
        t.join(60)
        assert "error" not in out, out
        busy = rows(admin, "SELECT started_at, ended_at FROM lake.runs WHERE run_id = %s", (out["result"],))[0]
        wait_for(admin, "SELECT 1 FROM lake.runs WHERE model = 'ticker' AND started_at > %s", lambda r: len(r) > 0,
                 params=(busy[1],))
        # no scheduled run started while the manual one held the only slot
        # (a tick already under way when it began may finish: allow 1 s)
        during = rows(admin, "SELECT run_id, started_at FROM lake.runs WHERE model = 'ticker' AND started_at > %s AND started_at < %s",
                      (busy[0] + dt.timedelta(seconds=1), busy[1]))
        assert during == [], (busy, during)
        assert one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'ticker' AND started_at > %s", (busy[1],)) >= 1
    finally:
        set_conf(admin, "townlake.transform_max_concurrent_runs", None)
        admin.execute("SELECT lake.pause_model('ticker')")


def test_run_retention_deletes_old_runs_but_keeps_the_latest(admin):
    admin.execute("SELECT lake.define_model('kept', 'SELECT 1 AS x', 'm.kept', schedule => '0 0 1 1 *')")
    old = dt.datetime.now(UTC) - dt.timedelta(days=10)
    ids = []
    for i, (trigger, sched) in enumerate([("manual", None), ("schedule", old), ("manual", None)]):
        ids.append(one(admin, "INSERT INTO lake.runs (model, trigger, scheduled_for, started_at, ended_at, status, run_as) "
                              "VALUES ('kept', %s, %s, %s, %s, 'succeeded', 'postgres') RETURNING run_id",
                       (trigger, sched, old + dt.timedelta(minutes=i), old + dt.timedelta(minutes=i, seconds=1))))
    recent = one(admin, "SELECT lake.run_now('kept')")
    old_other = one(admin, "SELECT min(run_id) FROM lake.runs WHERE model = 'bf'")
    admin.execute("UPDATE lake.runs SET ended_at = now() - interval '30 days' WHERE run_id = %s", (old_other,))
    set_conf(admin, "townlake.transform_run_retention_days", 5)
    try:
        got = wait_for(admin, "SELECT run_id FROM lake.runs WHERE run_id = ANY(%s) ORDER BY run_id",
                       lambda r: len(r) == 2, timeout=40, params=(ids + [recent],))
        # the old manual run goes; the latest scheduled run (old) and the latest run stay
        assert [r[0] for r in got] == [ids[1], recent], got
        assert one(admin, "SELECT count(*) FROM lake.runs WHERE run_id = %s", (old_other,)) == 0
        assert one(admin, "SELECT count(*) FROM lake.run_metadata WHERE run_id = %s", (old_other,)) == 0
    finally:
        set_conf(admin, "townlake.transform_run_retention_days", None)


def test_yaml_takes_delete_insert_and_on_schema_change(admin):
    project = """
models:
  - name: y_di
    sql: SELECT id, ts, amount FROM src.bf
    target: m.y_di
    materialization: incremental
    strategy: delete+insert
    partition_by: day(ts)
    on_schema_change: sync
"""
    assert one(admin, "SELECT lake.load_project(%s, 'p.yml')", (project,)) == ["y_di"]
    assert rows(admin, "SELECT strategy, partition_by, on_schema_change FROM lake.models WHERE name = 'y_di'") == [
        ("delete+insert", "day(ts)", "sync")]
    e = error_of(admin, "SELECT lake.load_project(%s, 'p.yml')", (project.replace("sync", "ignore"),))
    assert 'p.yml:9:23: model "y_di": invalid on_schema_change "ignore"' in str(e), str(e)


def test_cancelling_a_backfill_run_stops_the_backfill(admin, database):
    admin.execute("SELECT lake.define_model('bf_slow', $$SELECT lake.run_period_start() AS p FROM pg_sleep(30)$$, 'm.bf_slow', "
                  "materialization => 'incremental')")
    t, out = run_in_thread(database, "SELECT lake.backfill('bf_slow', '2026-03-01 00:00+00', '2026-03-01 03:00+00', 'hour')")
    got = wait_for(admin, "SELECT run_id FROM lake.run_progress WHERE model = 'bf_slow'", lambda r: len(r) == 1)
    assert len(got) == 1, got
    assert one(admin, "SELECT lake.cancel_run(%s)", (got[0][0],)) is True
    t.join(30)
    assert not t.is_alive() and "error" not in out, out
    # one period ran (and was cancelled); the other two never started
    assert out["result"] == [got[0][0]]
    assert rows(admin, "SELECT status FROM lake.runs WHERE model = 'bf_slow'") == [("cancelled",)]
    assert one(admin, "SELECT count(*) FROM m.bf_slow") == 0
