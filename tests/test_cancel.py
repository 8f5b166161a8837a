"""A long Iceberg scan stops within a second of statement_timeout or a cancel."""

import threading
import time

import duckdb
import psycopg
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

ROWS = 3_000_000
SCHEMA = Schema(NestedField(1, "id", LongType(), required=True),
                NestedField(2, "payload", StringType(), required=False))


@pytest.fixture(scope="module")
def big(local_lake, conn):
    table = local_lake.create_table("slow", "big", SCHEMA)
    with duckdb.connect() as db:
        data = db.sql(f"SELECT i AS id, md5(i::VARCHAR) AS payload FROM range({ROWS}) t(i)").to_arrow_table()
    table.append(data.cast(table.schema().as_arrow()))
    return local_lake.import_table(conn, "slow", "big")


@pytest.fixture
def slow_session(conn):
    """Small batches make the scan long enough to interrupt."""
    conn.execute("SET townlake.iceberg_batch_size = 64")
    yield conn
    conn.execute("RESET townlake.iceberg_batch_size")
    conn.execute("RESET statement_timeout")


def _long_scan(conn, foreign, seconds: float = 4.0) -> str:
    """A statement whose time goes into scanning the Iceberg table (the table
    read again and again, never cached in Postgres) for at least `seconds`
    on this machine: a fast machine gets more repetitions, never a skip."""
    started = time.monotonic()
    conn.execute(f"SELECT count(*), max(payload) FROM {foreign}").fetchone()
    once = max(time.monotonic() - started, 0.01)
    repetitions = max(2, int(seconds / once) + 1)
    union = " UNION ALL ".join(f"SELECT payload FROM {foreign}" for _ in range(repetitions))
    return f"SELECT count(*), max(payload) FROM ({union}) s"


def test_statement_timeout_stops_scan(big, slow_session):
    conn = slow_session
    query = _long_scan(conn, big)
    conn.execute("SET statement_timeout = '300ms'")
    started = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
        conn.execute(query).fetchone()
    elapsed = time.monotonic() - started
    conn.execute("RESET statement_timeout")
    assert elapsed < 1.3, f"the scan took {elapsed:.2f}s to stop after a 0.3s timeout"
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_cancel_stops_scan(big, slow_session):
    conn = slow_session
    query = _long_scan(conn, big)
    timer = threading.Timer(0.3, conn.cancel)
    started = time.monotonic()
    timer.start()
    with pytest.raises(psycopg.errors.QueryCanceled, match="user request"):
        conn.execute(query).fetchone()
    elapsed = time.monotonic() - started
    assert elapsed < 1.3, f"the scan took {elapsed:.2f}s to stop after a cancel at 0.3s"
    assert conn.execute("SELECT 1").fetchone() == (1,)
