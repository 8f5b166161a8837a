"""The recipe of docs/transformations.md ("minute -> hour -> day rollup"), run
on a real cluster: Iceberg minute data rolled up into hourly and daily
Iceberg tables by delete+insert models (backfilled, then rerun), and a
maintenance model that expires old minute rows and compacts the rollups.

Expected values are computed in Python from the generated minute rows.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict

import pytest

from govhelpers import one, rows, session

SUFFIX = uuid.uuid4().hex[:6]
UTC = dt.timezone.utc
DAY0 = dt.datetime(2026, 3, 1, tzinfo=UTC)


def minute_rows():
    rnd = random.Random(14)
    out = []
    for day in range(4):
        for m in range(0, 24 * 60, 7):
            for sensor in (1, 2, 3):
                out.append((DAY0 + dt.timedelta(days=day, minutes=m), sensor, rnd.randrange(1, 20), rnd.randrange(0, 500)))
    return out


@pytest.fixture(scope="module")
def admin(database):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA raw; CREATE SCHEMA marts; CREATE SCHEMA ops")
        yield conn


def test_minute_hour_day_rollup_with_retention_and_compaction(admin):
    ns = f"xr_{SUFFIX}"
    data = minute_rows()
    admin.execute("CREATE TABLE raw.staging (minute timestamptz, sensor int, n bigint, total bigint)")
    with admin.cursor() as cur:
        cur.executemany("INSERT INTO raw.staging VALUES (%s, %s, %s, %s)", data)
    # --- the recipe, as docs/transformations.md has it (dates fixed for the test)
    admin.execute(f"""
        CREATE FOREIGN TABLE raw.metrics_minute (minute timestamptz, sensor int, n bigint, total bigint)
            SERVER lake_local OPTIONS (namespace '{ns}', "table" 'metrics_minute', partition_by 'day(minute)');
        CREATE FOREIGN TABLE marts.metrics_hourly (hour timestamptz, sensor int, n bigint, total bigint)
            SERVER lake_local OPTIONS (namespace '{ns}', "table" 'metrics_hourly', partition_by 'day(hour)');
        CREATE FOREIGN TABLE marts.metrics_daily (day timestamptz, sensor int, n bigint, total bigint)
            SERVER lake_local OPTIONS (namespace '{ns}', "table" 'metrics_daily', partition_by 'month(day)')""")
    admin.execute("INSERT INTO raw.metrics_minute SELECT * FROM raw.staging")
    admin.execute("""SELECT lake.define_model('metrics_hourly',
        $$SELECT date_trunc('hour', minute, 'UTC') AS hour, sensor, sum(n)::bigint AS n, sum(total)::bigint AS total
          FROM raw.metrics_minute
          WHERE minute >= coalesce(lake.run_period_start(), date_trunc('day', now(), 'UTC') - interval '1 day')
            AND minute <  coalesce(lake.run_period_end(), 'infinity')
          GROUP BY 1, 2$$,
        'marts.metrics_hourly', materialization => 'incremental', strategy => 'delete+insert',
        partition_by => 'day(hour)', schedule => '5 * * * *')""")
    admin.execute("""SELECT lake.define_model('metrics_daily',
        $$SELECT date_trunc('day', hour, 'UTC') AS day, sensor, sum(n)::bigint AS n, sum(total)::bigint AS total
          FROM marts.metrics_hourly
          WHERE hour >= coalesce(lake.run_period_start(), date_trunc('day', now(), 'UTC') - interval '1 day')
            AND hour <  coalesce(lake.run_period_end(), 'infinity')
          GROUP BY 1, 2$$,
        'marts.metrics_daily', materialization => 'incremental', strategy => 'delete+insert',
        partition_by => 'day(day)', schedule => '10 * * * *')""")
    # retention as a function the maintenance model calls (a model is one SELECT)
    admin.execute("""CREATE FUNCTION ops.expire_minutes(keep interval, as_of timestamptz DEFAULT now()) RETURNS bigint
        LANGUAGE sql AS $$
          WITH gone AS (DELETE FROM raw.metrics_minute
                        WHERE minute < date_trunc('day', as_of - keep, 'UTC') RETURNING 1)
          SELECT count(*) FROM gone $$""")
    admin.execute("""SELECT lake.define_model('metrics_maintenance',
        $$SELECT now() AS at, ops.expire_minutes(interval '2 days', '2026-03-04 12:00+00') AS minutes_expired,
                 lake.compact('marts.metrics_hourly') AS hourly_compaction,
                 lake.compact('marts.metrics_daily') AS daily_compaction$$,
        'marts.maintenance_log', materialization => 'incremental', depends_on => '{metrics_daily}',
        schedule => '30 0 * * *')""")

    # backfill the four days, an hourly run per day then a daily run per day
    hourly_runs = one(admin, "SELECT lake.backfill('metrics_hourly', '2026-03-01', '2026-03-05')")
    daily_runs = one(admin, "SELECT lake.backfill('metrics_daily', '2026-03-01', '2026-03-05')")
    assert len(hourly_runs) == 4 and len(daily_runs) == 4
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE run_id = ANY(%s) AND status = 'succeeded'",
               (hourly_runs + daily_runs,)) == 8

    hourly = defaultdict(lambda: [0, 0])
    daily = defaultdict(lambda: [0, 0])
    for ts, sensor, n, total in data:
        h = hourly[(ts.replace(minute=0), sensor)]
        h[0] += n
        h[1] += total
        d = daily[(ts.replace(hour=0, minute=0), sensor)]
        d[0] += n
        d[1] += total
    assert rows(admin, "SELECT hour, sensor, n, total FROM marts.metrics_hourly ORDER BY 1, 2") == \
        sorted((k[0], k[1], v[0], v[1]) for k, v in hourly.items())
    assert rows(admin, "SELECT day, sensor, n, total FROM marts.metrics_daily ORDER BY 1, 2") == \
        sorted((k[0], k[1], v[0], v[1]) for k, v in daily.items())
    # a rerun of a day replaces that day's partitions only (same totals, no duplicates)
    admin.execute("SELECT lake.backfill('metrics_hourly', '2026-03-02', '2026-03-03')")
    assert one(admin, "SELECT count(*) FROM marts.metrics_hourly") == len(hourly)
    # a backfill is one statement, so one transaction: one snapshot for its four runs, one for the rerun
    assert one(admin, "SELECT count(*) FROM lake.snapshots('marts.metrics_hourly')") == 2

    # maintenance: retention keeps the minutes from 2026-03-02 on, compaction keeps the rows
    run = one(admin, "SELECT lake.run_now('metrics_maintenance')")
    got = rows(admin, "SELECT status, error_message FROM lake.runs WHERE run_id = %s", (run,))
    assert got[0][0] == "succeeded", got
    cutoff = DAY0 + dt.timedelta(days=1)  # midnight UTC of (as_of - 2 days)
    expired = sum(1 for r in data if r[0] < cutoff)
    log = rows(admin, "SELECT minutes_expired, hourly_compaction->>'table' FROM marts.maintenance_log")
    assert log == [(expired, f"{ns}.metrics_hourly")], log
    assert one(admin, "SELECT count(*) FROM raw.metrics_minute") == len(data) - expired
    assert one(admin, "SELECT min(minute) FROM raw.metrics_minute") == min(r[0] for r in data if r[0] >= cutoff)
    assert rows(admin, "SELECT hour, sensor, n, total FROM marts.metrics_hourly ORDER BY 1, 2") == \
        sorted((k[0], k[1], v[0], v[1]) for k, v in hourly.items())
    assert rows(admin, "SELECT day, sensor, n, total FROM marts.metrics_daily ORDER BY 1, 2") == \
        sorted((k[0], k[1], v[0], v[1]) for k, v in daily.items())
    # the four daily runs wrote four small files into the one month partition: compacted into one
    assert one(admin, "SELECT (daily_compaction->>'files_rewritten')::int FROM marts.maintenance_log") == 4
    assert one(admin, "SELECT (daily_compaction->>'files_written')::int FROM marts.maintenance_log") == 1
    # the graph orders maintenance after the daily rollup, the daily after the hourly
    edges = one(admin, "SELECT lake.dag()->'edges'")
    assert {"from": "metrics_hourly", "to": "metrics_daily"} in edges
    assert {"from": "metrics_daily", "to": "metrics_maintenance"} in edges
