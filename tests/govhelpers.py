"""Sessions and small query helpers shared by the governance and audit tests."""

from __future__ import annotations

import psycopg
import pytest

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
