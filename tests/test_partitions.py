"""Partitioned tables (identity, day, month, hour, bucket, truncate): results
match PyIceberg and EXPLAIN shows data files pruned."""

import datetime as dt

import pytest
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, In, LessThan
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.transforms import DayTransform

from lakedata import EVENT_SPECS, EVENTS_SCHEMA, event_rows, append_rows
from lakehelpers import compare_query, data_file_paths, data_files_line, explain

NAMESPACE = "parts"
EVENT_COLUMNS = ["id", "ts", "tstz", "d", "category", "n", "amount"]
START = dt.datetime(2024, 3, 1)

# table -> (SQL filter on the partition source column, the same for PyIceberg)
PARTITION_FILTERS = {
    "by_identity": ("category = 'beta'", EqualTo("category", "beta")),
    "by_day": ("tstz >= '2024-03-03 00:00+00' AND tstz < '2024-03-04 00:00+00'",
               And(GreaterThanOrEqual("tstz", "2024-03-03T00:00:00+00:00"),
                   LessThan("tstz", "2024-03-04T00:00:00+00:00"))),
    "by_month": ("d >= '2024-04-01' AND d < '2024-05-01'",
                 And(GreaterThanOrEqual("d", "2024-04-01"), LessThan("d", "2024-05-01"))),
    "by_hour": ("ts >= '2024-03-01 03:00' AND ts < '2024-03-01 05:00'",
                And(GreaterThanOrEqual("ts", "2024-03-01T03:00:00"), LessThan("ts", "2024-03-01T05:00:00"))),
    "by_bucket": ("id IN (42, 43)", In("id", {42, 43})),
    "by_truncate": ("category = 'betamax'", EqualTo("category", "betamax")),
}
# Hour partitions: keep the span short so the table has a few dozen files, not hundreds.
SPAN_HOURS = {"by_hour": 12}


@pytest.fixture(scope="module")
def partitioned(lake, conn):
    """Every EVENT_SPECS table, two appends each, imported into Postgres."""
    tables = {}
    for name, spec in EVENT_SPECS.items():
        table = lake.create_table(NAMESPACE, name, EVENTS_SCHEMA, spec)
        hours = SPAN_HOURS.get(name, 240)
        append_rows(table, event_rows(1, 400, seed=11, start=START, hours=hours))
        append_rows(table, event_rows(401, 200, seed=12, start=START, hours=hours))
        tables[name] = (table, lake.import_table(conn, NAMESPACE, name))
    return tables


@pytest.mark.parametrize("name", list(EVENT_SPECS))
def test_full_read(partitioned, conn, name):
    table, foreign = partitioned[name]
    assert compare_query(conn, table, foreign, EVENT_COLUMNS) == 600


@pytest.mark.parametrize("name", list(EVENT_SPECS))
def test_partition_filter_matches_and_prunes(partitioned, conn, name):
    table, foreign = partitioned[name]
    where, row_filter = PARTITION_FILTERS[name]
    matched = compare_query(conn, table, foreign, EVENT_COLUMNS, where=where, row_filter=row_filter)
    assert matched > 0, "the filter should select some rows"

    planned, skipped = data_files_line(explain(conn, f"SELECT * FROM {foreign} WHERE {where}"))
    total = len(data_file_paths(table))
    needed = len(data_file_paths(table, row_filter))  # PyIceberg's own pruning
    assert planned + skipped == total, f"planned {planned} + skipped {skipped} != {total} files"
    assert planned >= 1
    if needed < total:
        assert skipped >= 1, f"{name}: PyIceberg plans {needed}/{total} files, townlake skipped none"


# ---------------------------------------------------------------- one file per day

DAYS = 5


@pytest.fixture(scope="module")
def daily(lake, conn):
    """day(ts)-partitioned table with one append per day: one data file per day,
    and ids in disjoint ranges per file (for min/max pruning)."""
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"))
    table = lake.create_table(NAMESPACE, "daily", EVENTS_SCHEMA, spec)
    for day in range(DAYS):
        rows = event_rows(day * 1000, 300, seed=day, start=START + dt.timedelta(days=day), hours=24)
        append_rows(table, rows)
    assert len(data_file_paths(table)) == DAYS
    return table, lake.import_table(conn, NAMESPACE, "daily")


def test_one_day_plans_one_file(daily, conn):
    table, foreign = daily
    where = "ts >= '2024-03-03' AND ts < '2024-03-04'"
    row_filter = And(GreaterThanOrEqual("ts", "2024-03-03T00:00:00"), LessThan("ts", "2024-03-04T00:00:00"))
    expected_planned = len(data_file_paths(table, row_filter))
    assert expected_planned == 1
    plan = explain(conn, f"SELECT count(*), sum(amount) FROM {foreign} WHERE {where}")
    assert data_files_line(plan) == (1, DAYS - 1), plan
    assert compare_query(conn, table, foreign, EVENT_COLUMNS, where=where, row_filter=row_filter) == 300


def test_two_days_plan_two_files(daily, conn):
    plan = explain(conn, f"SELECT id FROM {daily[1]} WHERE ts BETWEEN '2024-03-02 12:00' AND '2024-03-03 12:00'")
    assert data_files_line(plan) == (2, DAYS - 2), plan


def test_min_max_statistics_prune(daily, conn):
    """id ranges are disjoint per file, so a filter on id (not a partition column) prunes too."""
    table, foreign = daily
    plan = explain(conn, f"SELECT * FROM {foreign} WHERE id BETWEEN 2000 AND 2100")
    assert data_files_line(plan) == (1, DAYS - 1), plan
    compare_query(conn, table, foreign, EVENT_COLUMNS, where="id BETWEEN 2000 AND 2100",
                  row_filter=And(GreaterThanOrEqual("id", 2000), LessThan("id", 2101)))


def test_unprunable_filter_plans_every_file(daily, conn):
    plan = explain(conn, f"SELECT * FROM {daily[1]} WHERE n > 5")
    assert data_files_line(plan) == (DAYS, 0), plan


def test_no_filter_plans_every_file(daily, conn):
    plan = explain(conn, f"SELECT count(*) FROM {daily[1]}")
    assert data_files_line(plan) == (DAYS, 0), plan
    assert "Iceberg Filter:" not in plan


def test_explain_analyze_counts_rows_read(daily, conn):
    plan = explain(conn, f"SELECT id FROM {daily[1]} WHERE ts >= '2024-03-05' AND ts < '2024-03-06'",
                   analyze=True)
    assert "Rows Read: 300" in plan, plan
    assert "Bytes Read:" in plan
