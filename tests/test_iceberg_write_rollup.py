"""The rollup pattern of docs/iceberg.md: minute data in a table partitioned
by day(ts), an hourly rollup written with INSERT ... SELECT ... GROUP BY
date_trunc('hour', ts), a daily rollup from the hourly one, and a retention
DELETE of old minute data that is metadata-only (whole day files dropped)."""

from __future__ import annotations

import pytest

from writehelpers import assert_readers_agree, live_data_files, load, snapshots

DAYS = 10
SENSORS = 3


@pytest.fixture(scope="module")
def rollup(conn, write_ns):
    ns = f'"{write_ns}"'
    for name in ("metrics_minute", "metrics_hourly", "metrics_daily"):
        conn.execute(f"DROP FOREIGN TABLE IF EXISTS {ns}.{name}")
    conn.execute(f"""CREATE FOREIGN TABLE {ns}.metrics_minute (
            ts timestamptz NOT NULL, sensor integer NOT NULL, value double precision)
        SERVER lake_local OPTIONS (namespace '{write_ns}', table 'metrics_minute', partition_by 'day(ts)')""")
    conn.execute(f"""CREATE FOREIGN TABLE {ns}.metrics_hourly (
            hour timestamptz NOT NULL, sensor integer NOT NULL, samples bigint, total double precision,
            low double precision, high double precision)
        SERVER lake_local OPTIONS (namespace '{write_ns}', table 'metrics_hourly', partition_by 'month(hour)')""")
    conn.execute(f"""CREATE FOREIGN TABLE {ns}.metrics_daily (
            day date NOT NULL, sensor integer NOT NULL, samples bigint, total double precision)
        SERVER lake_local OPTIONS (namespace '{write_ns}', table 'metrics_daily', partition_by 'year(day)')""")
    # one row per sensor per minute; values are exact in binary (multiples of 1/4)
    conn.execute(f"""INSERT INTO {ns}.metrics_minute
        SELECT TIMESTAMPTZ '2024-05-01 00:00:00+00' + m * interval '1 minute', s, ((m * 7 + s) % 400) / 4.0
        FROM generate_series(0, {DAYS * 1440 - 1}) m, generate_series(1, {SENSORS}) s""")
    # the source of truth: the same rows generated into a heap table (not read back from townlake)
    conn.execute("DROP TABLE IF EXISTS minute_heap")
    conn.execute(f"""CREATE TEMP TABLE minute_heap AS
        SELECT TIMESTAMPTZ '2024-05-01 00:00:00+00' + m * interval '1 minute' AS ts, s AS sensor,
               ((m * 7 + s) % 400) / 4.0::double precision AS value
        FROM generate_series(0, {DAYS * 1440 - 1}) m, generate_series(1, {SENSORS}) s""")
    return ns


HOURLY_ROLLUP = """
INSERT INTO {ns}.metrics_hourly
SELECT date_trunc('hour', ts), sensor, count(*), sum(value), min(value), max(value)
FROM {ns}.metrics_minute
WHERE ts >= %(start)s AND ts < %(end)s
GROUP BY 1, 2
"""


def test_hourly_rollup(rollup, conn, write_ns, local_lake):
    ns = rollup
    # run the rollup per day, as a scheduler would
    for day in range(DAYS):
        conn.execute(HOURLY_ROLLUP.format(ns=ns), {
            "start": f"2024-05-{1 + day:02d} 00:00:00+00", "end": f"2024-05-{2 + day:02d} 00:00:00+00"})
    assert conn.execute(f"SELECT count(*), sum(samples) FROM {ns}.metrics_hourly").fetchone() == \
        (DAYS * 24 * SENSORS, DAYS * 1440 * SENSORS)
    expected = conn.execute("SELECT date_trunc('hour', ts), sensor, count(*), sum(value), min(value), max(value) "
                            "FROM minute_heap GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    actual = conn.execute(f"SELECT hour, sensor, samples, total, low, high FROM {ns}.metrics_hourly "
                          f"ORDER BY 1, 2").fetchall()
    assert actual == expected
    source = ("(SELECT date_trunc('hour', ts) AS hour, sensor, count(*) AS samples, sum(value) AS total, "
              "min(value) AS low, max(value) AS high FROM minute_heap GROUP BY 1, 2) s")
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "metrics_hourly",
                                f"{ns}.metrics_hourly", source=source) == DAYS * 24 * SENSORS


def test_daily_rollup_from_hourly(rollup, conn, write_ns, local_lake):
    ns = rollup
    conn.execute(f"TRUNCATE {ns}.metrics_daily")
    conn.execute(f"INSERT INTO {ns}.metrics_daily SELECT (hour AT TIME ZONE 'UTC')::date, sensor, sum(samples), "
                 f"sum(total) FROM {ns}.metrics_hourly GROUP BY 1, 2")
    expected = conn.execute("SELECT (ts AT TIME ZONE 'UTC')::date, sensor, count(*), sum(value) FROM minute_heap "
                            "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    assert conn.execute(f"SELECT * FROM {ns}.metrics_daily ORDER BY 1, 2").fetchall() == expected
    source = ("(SELECT (ts AT TIME ZONE 'UTC')::date AS day, sensor, count(*) AS samples, sum(value) AS total "
              "FROM minute_heap GROUP BY 1, 2) s")
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "metrics_daily",
                                f"{ns}.metrics_daily", source=source) == DAYS * SENSORS


def test_retention_delete_is_metadata_only(rollup, conn, write_ns, local_lake):
    """Minute data older than 7 days before the newest day goes; on a
    day-partitioned table the DELETE drops whole files and writes none."""
    ns = rollup
    table = load(local_lake.catalog, write_ns, "metrics_minute")
    files_before = live_data_files(table)
    cutoff = "2024-05-04 00:00:00+00"  # keeps the last 7 of the 10 days
    old_files = [t.file.file_path for t in table.scan(row_filter="ts < '2024-05-04T00:00:00+00:00'").plan_files()]
    assert old_files
    deleted = conn.execute(f"DELETE FROM {ns}.metrics_minute WHERE ts < %s", (cutoff,)).rowcount
    assert deleted == 3 * 1440 * SENSORS
    operation, summary = snapshots(conn, f"{ns}.metrics_minute")[-1][2:]
    assert operation == "delete"
    assert summary["added-data-files"] == "0"
    assert summary["added-records"] == "0"
    assert int(summary["deleted-data-files"]) == len(old_files)
    assert int(summary["deleted-records"]) == deleted
    after = load(local_lake.catalog, write_ns, "metrics_minute")
    assert set(live_data_files(after)) == set(files_before) - set(old_files)
    assert conn.execute(f"SELECT min(ts) FROM {ns}.metrics_minute").fetchone()[0].isoformat() == \
        "2024-05-04T00:00:00+00:00"
    # the rollups keep the history
    assert conn.execute(f"SELECT sum(samples) FROM {ns}.metrics_hourly").fetchone() == (DAYS * 1440 * SENSORS,)
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "metrics_minute", f"{ns}.metrics_minute",
                                source=f"(SELECT * FROM minute_heap WHERE ts >= '{cutoff}') s") == 7 * 1440 * SENSORS


def test_rerunning_an_hour_is_idempotent_with_delete_insert(rollup, conn):
    """Recompute one day of the hourly rollup: DELETE that day and INSERT it
    again in one transaction (one snapshot, readers never see the gap)."""
    ns = rollup
    before = conn.execute(f"SELECT count(*), sum(total) FROM {ns}.metrics_hourly").fetchone()
    count = len(snapshots(conn, f"{ns}.metrics_hourly"))
    params = {"start": "2024-05-05 00:00:00+00", "end": "2024-05-06 00:00:00+00"}
    with conn.transaction():
        conn.execute(f"DELETE FROM {ns}.metrics_hourly WHERE hour >= %(start)s AND hour < %(end)s", params)
        conn.execute(HOURLY_ROLLUP.format(ns=ns), params)
    assert conn.execute(f"SELECT count(*), sum(total) FROM {ns}.metrics_hourly").fetchone() == before
    assert len(snapshots(conn, f"{ns}.metrics_hourly")) == count + 1
