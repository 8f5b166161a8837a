"""The transformation scheduler (issue 14, stage 3) on a real cluster: a DAG
of models on a fast schedule runs in dependency order; a failing model is
retried, then its downstreams are skipped; timeouts; overlap policies;
pause/resume; and a run killed with the scheduler (kill -9, in a private
cluster) is marked interrupted and retried without its work having landed.

Expected data comes from the heap source through plain SQL.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time

import pytest

from govhelpers import one, rows, session
from govhelpers import wait_until as wait_for
from privatecluster import PrivateCluster



@pytest.fixture(scope="module")
def admin(database):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src; CREATE SCHEMA m")
        conn.execute("CREATE TABLE src.orders (id int, amount int, region text)")
        conn.execute("INSERT INTO src.orders SELECT g, g % 50, 'r' || (g % 4) FROM generate_series(1, 400) g")
        yield conn


def test_dag_on_a_fast_schedule_runs_in_dependency_order(admin):
    every = "every 2 seconds"
    admin.execute(f"SELECT lake.define_model('s_base', 'SELECT id, amount, region FROM src.orders', 'm.s_base', "
                  f"schedule => '{every}')")
    admin.execute(f"SELECT lake.define_model('s_region', 'SELECT region, sum(amount)::bigint AS total FROM m.s_base "
                  f"GROUP BY region', 'm.s_region', schedule => '{every}')")
    admin.execute(f"SELECT lake.define_model('s_count', 'SELECT count(*) AS n FROM m.s_base', 'm.s_count', "
                  f"schedule => '{every}')")
    admin.execute(f"SELECT lake.define_model('s_report', 'SELECT (SELECT n FROM m.s_count) AS n, "
                  f"(SELECT sum(total) FROM m.s_region)::bigint AS total', 'm.s_report', schedule => '{every}')")
    names = ("s_base", "s_region", "s_count", "s_report")
    # Two ticks at which all four ran.
    got = wait_for(admin, "SELECT scheduled_for FROM lake.runs WHERE model = ANY(%s) AND trigger = 'schedule' "
                          "GROUP BY scheduled_for HAVING count(*) = 4 AND bool_and(ended_at IS NOT NULL) ORDER BY 1",
                   lambda r: len(r) >= 2, params=(list(names),))
    assert len(got) >= 2, rows(admin, "SELECT model, scheduled_for, status, error_message FROM lake.runs ORDER BY run_id")
    for (tick,) in got[:2]:
        assert tick.microsecond == 0 and tick.second % 2 == 0
        runs = {r[0]: r[1:] for r in rows(
            admin, "SELECT model, run_id, status, started_at, ended_at FROM lake.runs "
                   "WHERE scheduled_for = %s AND model = ANY(%s)", (tick, list(names)))}
        assert {k: v[1] for k, v in runs.items()} == dict.fromkeys(names, "succeeded")
        for up, down in [("s_base", "s_region"), ("s_base", "s_count"), ("s_region", "s_report"), ("s_count", "s_report")]:
            assert runs[up][0] < runs[down][0]
            assert runs[up][3] <= runs[down][2], (up, down)  # upstream ended before downstream started
    expected = one(admin, "SELECT sum(amount) FROM src.orders")
    assert rows(admin, "SELECT n, total FROM m.s_report") == [(400, expected)]
    for n in names:
        admin.execute("SELECT lake.pause_model(%s)", (n,))


def test_failure_is_retried_then_downstream_skipped(admin):
    admin.execute("CREATE TABLE src.zero (z int)")
    admin.execute("INSERT INTO src.zero VALUES (0)")
    admin.execute("SELECT lake.define_model('f_bad', 'SELECT 1 / z AS v FROM src.zero', 'm.f_bad', "
                  "schedule => 'every 3 seconds', retries => 1, retry_delay_seconds => 1)")
    admin.execute("SELECT lake.define_model('f_down', 'SELECT v FROM m.f_bad', 'm.f_down', schedule => 'every 3 seconds')")
    # A tick at which both were due: f_bad failed twice, f_down was skipped
    # (waits until both runs of that tick have ended: a run is recorded
    # `running` before the worker that executes it has started).
    got = wait_for(admin, "SELECT d.scheduled_for FROM lake.runs d JOIN lake.runs b ON b.scheduled_for = d.scheduled_for "
                          "WHERE d.model = 'f_down' AND b.model = 'f_bad' AND b.attempt = 2 "
                          "AND b.ended_at IS NOT NULL AND d.ended_at IS NOT NULL ORDER BY 1",
                   lambda r: len(r) >= 1)
    assert got, rows(admin, "SELECT model, scheduled_for, status, attempt, trigger FROM lake.runs WHERE model LIKE 'f\\_%%'")
    tick = got[0][0]
    admin.execute("SELECT lake.pause_model('f_bad'); SELECT lake.pause_model('f_down')")
    bad = rows(admin, "SELECT attempt, trigger, status, error_sqlstate FROM lake.runs "
                      "WHERE model = 'f_bad' AND scheduled_for = %s ORDER BY attempt", (tick,))
    assert bad == [(1, "schedule", "failed", "22012"), (2, "retry", "failed", "22012")]
    # The retry came after the delay.
    t1, t2 = rows(admin, "SELECT ended_at, started_at FROM lake.runs WHERE model = 'f_bad' AND scheduled_for = %s "
                         "ORDER BY attempt", (tick,))
    assert t2[1] - t1[0] >= dt.timedelta(seconds=1)
    down = rows(admin, "SELECT status FROM lake.runs WHERE model = 'f_down' AND scheduled_for = %s", (tick,))
    assert down == [("skipped",)]


def test_timeout_cancels_a_scheduled_run(admin):
    # A 30-second query under a 1-second timeout: a run that was not
    # cancelled would take 30 s; the margin is for a loaded machine.
    admin.execute("SELECT lake.define_model('t_slow', 'SELECT 1 AS x FROM pg_sleep(30)', 'm.t_slow', "
                  "schedule => 'every 2 seconds', timeout_seconds => 1)")
    got = wait_for(admin, "SELECT status, error_sqlstate, ended_at - started_at FROM lake.runs WHERE model = 't_slow' "
                          "AND status <> 'running' ORDER BY run_id", lambda r: len(r) >= 1)
    admin.execute("SELECT lake.pause_model('t_slow')")
    assert got and got[0][:2] == ("failed", "57014"), got
    assert got[0][2] < dt.timedelta(seconds=15)


@pytest.mark.parametrize("policy", ["skip", "queue"])
def test_overlap_policy(admin, policy):
    name = f"o_{policy}"
    admin.execute(f"SELECT lake.define_model('{name}', 'SELECT 1 AS x FROM pg_sleep(2.5)', 'm.{name}', "
                  f"schedule => 'every 1 second', overlap => '{policy}')")
    got = wait_for(admin, "SELECT scheduled_for FROM lake.runs WHERE model = %s AND status = 'succeeded' ORDER BY scheduled_for",
                   lambda r: len(r) >= 3, timeout=30, params=(name,))
    admin.execute("SELECT lake.pause_model(%s)", (name,))
    ticks = [r[0] for r in got]
    assert len(ticks) >= 3
    gaps = [(b - a).total_seconds() for a, b in zip(ticks, ticks[1:])]
    if policy == "queue":
        assert gaps[:2] == [1.0, 1.0], ticks   # every missed tick runs in turn
    else:
        assert all(g >= 2.0 for g in gaps[:2]), ticks   # missed ticks are skipped


def test_pause_and_resume(admin):
    admin.execute("SELECT lake.define_model('p_model', 'SELECT now() AS at', 'm.p_model', schedule => 'every 1 second')")
    wait_for(admin, "SELECT 1 FROM lake.runs WHERE model = 'p_model'", lambda r: len(r) >= 1)
    admin.execute("SELECT lake.pause_model('p_model')")
    time.sleep(1.5)
    before = one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'p_model'")
    time.sleep(3)
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'p_model'") == before
    admin.execute("SELECT lake.resume_model('p_model')")
    got = wait_for(admin, "SELECT count(*) FROM lake.runs WHERE model = 'p_model'", lambda r: r[0][0] > before)
    admin.execute("SELECT lake.pause_model('p_model')")
    assert got[0][0] > before


# ------------------------------------------------------------ crash: kill -9

PORT = int(os.environ.get("TOWNLAKE_CRASH_PORT", "5497"))


@pytest.fixture(scope="module")
def cluster():
    c = PrivateCluster(PORT, "schedcrash", "townlake-sched-crash-")
    try:
        c.create("max_connections = 30\nmax_worker_processes = 16\n")
        yield c
    finally:
        c.remove()


def test_kill_9_mid_run_marks_interrupted_and_retries_without_duplicates(cluster):
    with cluster.connect() as admin:
        admin.execute("CREATE SCHEMA src; CREATE SCHEMA m")
        admin.execute("CREATE TABLE src.items (id int)")
        admin.execute("INSERT INTO src.items SELECT generate_series(1, 100)")
        # Appends the source once per tick, slowly enough to be killed mid-run.
        admin.execute("SELECT lake.define_model('k_append', 'SELECT id, lake.current_run_id() AS run_id "
                      "FROM src.items, pg_sleep(3)', 'm.k_append', materialization => 'incremental', "
                      "schedule => '@hourly', retries => 1)")
        # Make the first tick due now: the model was "defined" two hours ago.
        admin.execute("UPDATE lake.models SET defined_at = now() - interval '2 hours' WHERE name = 'k_append'")
        got = wait_for(admin, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'townlake scheduler' "
                              "AND query LIKE 'townlake run %%: model k_append'", lambda r: len(r) >= 1)
        assert got, rows(admin, "SELECT backend_type, query FROM pg_stat_activity")
        pid = got[0][0]
        time.sleep(1)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    with cluster.wait_ready() as admin:
        runs = wait_for(admin, "SELECT attempt, trigger, status FROM lake.runs WHERE model = 'k_append' ORDER BY run_id",
                        lambda r: any(x[2] == "succeeded" for x in r), timeout=60)
        assert [r[:2] for r in runs] == [(1, "schedule"), (2, "retry")], runs
        assert [r[2] for r in runs] == ["interrupted", "succeeded"]
        ticks = rows(admin, "SELECT DISTINCT scheduled_for FROM lake.runs WHERE model = 'k_append'")
        assert len(ticks) == 1
        # The target holds the source exactly once, written by the retry.
        retry_id = one(admin, "SELECT run_id FROM lake.runs WHERE model = 'k_append' AND attempt = 2")
        assert rows(admin, "SELECT run_id, count(*), count(DISTINCT id) FROM m.k_append GROUP BY run_id") == [
            (retry_id, 100, 100)]
        assert rows(admin, "SELECT id FROM m.k_append EXCEPT SELECT id FROM src.items") == []
        admin.execute("SELECT lake.pause_model('k_append')")


@pytest.mark.parametrize("policy", ["queue", "skip"])
def test_overlap_with_a_run_of_another_session(admin, database, policy):
    """A tick due while a run_now of the same model executes elsewhere:
    `queue` records it queued (one at most; later ticks are skipped) and runs
    it once the other run ended; `skip` records it skipped. The model's own
    clock readings (clock_timestamp before and after its sleep) show that no
    two runs overlapped."""
    name, ctl = f"ov_{policy}", f"src.ctl_{policy}"
    admin.execute(f"CREATE TABLE {ctl} (secs float8)")
    admin.execute(f"INSERT INTO {ctl} VALUES (0)")
    admin.execute(f"CREATE TABLE m.{name} (run_id bigint, t0 timestamptz, t1 timestamptz)")
    admin.execute(
        f"SELECT lake.define_model('{name}', $$SELECT lake.current_run_id() AS run_id, s.t0, clock_timestamp() AS t1 "
        f"FROM (SELECT clock_timestamp() AS t0, secs FROM {ctl} OFFSET 0) s WHERE pg_sleep(s.secs)::text = ''$$, "
        f"'m.{name}', materialization => 'incremental', schedule => 'every 1 second', overlap => '{policy}')")
    admin.execute("SELECT lake.pause_model(%s)", (name,))
    time.sleep(1.5)  # a tick the scheduler was running as the pause came
    base = one(admin, "SELECT coalesce(max(run_id), 0) FROM lake.runs")
    admin.execute(f"UPDATE {ctl} SET secs = 6")
    manual = {}

    def run_manually():
        with session(database) as other:
            manual["id"] = one(other, "SELECT lake.run_now(%s)", (name,))

    worker = threading.Thread(target=run_manually)
    worker.start()
    got = wait_for(admin, "SELECT run_id FROM lake.run_progress WHERE model = %s", lambda r: len(r) == 1,
                   timeout=10, params=(name,))
    assert len(got) == 1
    admin.execute(f"UPDATE {ctl} SET secs = 0")
    admin.execute("SELECT lake.resume_model(%s)", (name,))
    manual_run = got[0][0]
    seen = []
    while worker.is_alive():
        # Kept only if the manual run still executed after the snapshot was
        # taken (it may end a moment before this thread sees run_now return).
        snap = rows(admin, "SELECT run_id, status, error_message FROM lake.runs WHERE model = %s "
                           "AND trigger = 'schedule' AND run_id > %s ORDER BY run_id", (name, base))
        if rows(admin, "SELECT 1 FROM lake.run_progress WHERE run_id = %s", (manual_run,)):
            seen.append(snap)
        time.sleep(0.25)
    worker.join()
    assert manual["id"] == manual_run
    # Every observation while the manual run executed: no scheduled run
    # running or done, at most one queued.
    for snap in seen:
        statuses = [s for (_, s, _) in snap]
        assert statuses.count("queued") <= 1, snap
        assert not {"running", "succeeded"} & set(statuses), snap
    during = seen[-1]
    assert during, seen
    if policy == "queue":
        queued = [r for (r, s, _) in during if s == "queued"]
        assert len(queued) == 1, during
        assert all("is already queued" in (m or "") for (r, s, m) in during if s == "skipped"), during
        got = wait_for(admin, "SELECT status FROM lake.runs WHERE run_id = %s", lambda r: r[0][0] == "succeeded",
                       timeout=10, params=(queued[0],))
        assert got == [("succeeded",)]
    else:
        assert all(s == "skipped" and f"run {manual['id']} of model \"{name}\" was still running" in m
                   for (_, s, m) in during), during
        wait_for(admin, "SELECT 1 FROM lake.runs WHERE model = %s AND trigger = 'schedule' AND status = 'succeeded'",
                 lambda r: len(r) >= 1, timeout=10, params=(name,))
    admin.execute("SELECT lake.pause_model(%s)", (name,))
    time.sleep(1.5)
    spans = rows(admin, f"SELECT run_id, t0, t1 FROM m.{name} ORDER BY t0")
    mine = [s for s in spans if s[0] == manual["id"]]
    assert len(mine) == 1 and (mine[0][2] - mine[0][1]).total_seconds() >= 5.5, spans
    for a, b in zip(spans, spans[1:]):
        assert a[2] <= b[1], spans   # each run ended before the next began
    if policy == "queue":
        after = [s for s in spans if s[0] == queued[0]]
        assert len(after) == 1 and after[0][1] >= mine[0][2], spans


def test_definition_changes_reach_a_running_scheduler_promptly(admin):
    """A scheduler already running (it keeps the definitions between
    re-reads) sees a new model, a redefinition and a pause within about a
    second of their COMMIT."""
    admin.execute("SELECT lake.define_model('pr_keep', 'SELECT 1 AS x', 'm.pr_keep', schedule => '0 0 1 1 *')")
    got = wait_for(admin, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'townlake scheduler' "
                          "AND datname = current_database()", lambda r: len(r) == 1)
    assert len(got) == 1
    time.sleep(2)  # the scheduler is past its first read
    at = one(admin, "SELECT clock_timestamp()")
    admin.execute("SELECT lake.define_model('pr_fast', 'SELECT 1 AS x', 'm.pr_fast', schedule => 'every 1 second')")
    first = wait_for(admin, "SELECT min(started_at) FROM lake.runs WHERE model = 'pr_fast'", lambda r: r[0][0] is not None,
                     timeout=10)[0][0]
    assert first is not None and (first - at).total_seconds() < 2.5, (at, first)
    # Redefined to a schedule that never fires now: no run starts a second after.
    admin.execute("SELECT lake.define_model('pr_fast', 'SELECT 1 AS x', 'm.pr_fast', schedule => '0 0 1 1 *')")
    time.sleep(1.0)
    n = one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'pr_fast'")
    time.sleep(2.5)
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'pr_fast'") == n
    # Back to every second, then paused: likewise.
    admin.execute("SELECT lake.define_model('pr_fast', 'SELECT 1 AS x', 'm.pr_fast', schedule => 'every 1 second')")
    wait_for(admin, "SELECT count(*) FROM lake.runs WHERE model = 'pr_fast'", lambda r: r[0][0] > n, timeout=5)
    admin.execute("SELECT lake.pause_model('pr_fast')")
    time.sleep(1.0)
    n = one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'pr_fast'")
    time.sleep(2.5)
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'pr_fast'") == n
    admin.execute("SELECT lake.pause_model('pr_keep')")
