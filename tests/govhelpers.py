"""Sessions and small query helpers shared by the governance and audit tests."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import sql

from conftest import PG_HOST, PG_PORT


def session(database: str, role: str | None = None) -> psycopg.Connection:
    conn = psycopg.connect(host=PG_HOST, port=PG_PORT, user=role or "postgres", dbname=database,
                           autocommit=True, options="-c TimeZone=UTC")
    conn.notices = []  # type: ignore[attr-defined]
    conn.add_notice_handler(lambda d: conn.notices.append(d.message_primary or ""))  # type: ignore
    return conn


def rows(conn, query, params=None):
    return conn.execute(query, params).fetchall()


def one(conn, query, params=None):
    return conn.execute(query, params).fetchone()[0]


def error_of(conn, query, params=None) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(query, params)
    return info.value


def recreate_roles(admin_conn, names, nologin=()):
    """Creates the test roles afresh (LOGIN unless named in `nologin`); yields,
    then drops them. For module fixtures: `yield from recreate_roles(...)`."""
    for r in names:
        admin_conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r)))
        login = sql.SQL("NOLOGIN" if r in nologin else "LOGIN")
        admin_conn.execute(sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(r), login))
    yield
    for r in names:
        admin_conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(r)))


def start_sleeping_statement(conn, query, admin, timeout: float = 10.0) -> threading.Thread:
    """Runs `query`, which calls pg_sleep, on `conn` in a thread (its error,
    e.g. from being killed, is swallowed); returns once `admin` sees it
    sleeping, so the statement has started executing."""
    pid = conn.info.backend_pid

    def run():
        try:
            conn.execute(query)
        except psycopg.Error:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event = 'PgSleep'",
            (pid,)).fetchone()[0] == 0:
        time.sleep(0.05)
    return thread


def wait_until(conn, query, predicate, params=None, timeout: float = 30.0):
    """The rows of `query` once `predicate` holds for them (or at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        got = rows(conn, query, params)
        if predicate(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def wait_for_audit(admin, marker: str, timeout: float = 10.0) -> list[tuple]:
    """Audit records (outcome, role, kind, query_text, detail) of statements
    whose text, or whose client statement (`detail.top_level_query`, for one
    refused inside a DO block), contains `marker`; waits for the writer."""
    deadline = time.monotonic() + timeout
    while True:
        got = rows(admin, """
            SELECT outcome, role, kind, query_text, detail FROM lake.audit_log
             WHERE query_text LIKE %(m)s OR detail->>'top_level_query' LIKE %(m)s ORDER BY id""",
                   {"m": f"%{marker}%"})
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)
