"""DuckDB reads the same Parquet data files PyIceberg wrote; townlake must agree."""

import datetime as dt
import urllib.parse

import duckdb
import pytest

from lakedata import EVENT_SPECS, EVENTS_SCHEMA, event_rows, append_rows
from lakehelpers import data_file_paths

NAMESPACE = "duck"


@pytest.fixture(scope="module")
def events(local_lake, conn):
    table = local_lake.create_table(NAMESPACE, "events", EVENTS_SCHEMA, EVENT_SPECS["by_day"])
    for part in range(3):
        rows = event_rows(part * 1000, 700, seed=30 + part, start=dt.datetime(2024, 5, 1), hours=24 * 7)
        append_rows(table, rows)
    return table, local_lake.import_table(conn, NAMESPACE, "events")


def _duckdb(table, query):
    paths = [urllib.parse.urlparse(p).path for p in data_file_paths(table)]
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        return db.execute(query.replace("FILES", f"read_parquet({paths!r})")).fetchone()


@pytest.mark.parametrize("where", [
    "TRUE",
    "category = 'beta'",
    "n IS NULL",
    "tstz >= TIMESTAMPTZ '2024-05-03 00:00:00+00' AND tstz < TIMESTAMPTZ '2024-05-05 00:00:00+00'",
    "amount BETWEEN 1000 AND 50000 OR category IN ('alpha', 'gamma')",
])
def test_count_and_sums_match_duckdb(events, conn, where):
    table, foreign = events
    query = f"SELECT count(*), sum(amount), sum(n), min(ts), max(tstz) FROM FILES WHERE {where}"
    expected = _duckdb(table, query)
    actual = conn.execute(query.replace("FILES", foreign)).fetchone()
    assert actual[:4] == expected[:4]
    assert (actual[4] is None and expected[4] is None) or actual[4] == expected[4]
