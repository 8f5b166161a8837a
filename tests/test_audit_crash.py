"""Audit records survive a crash right after the statement (issue 4).

SIGKILL of a backend makes Postgres restart every backend and reset shared
memory, so this test is opt-in: run it alone against a private cluster with
TOWNLAKE_DESTRUCTIVE_TESTS=1. It uses no shared fixtures (their connections
would not survive the restart)."""

from __future__ import annotations

import os
import signal
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from conftest import PG_HOST, PG_PORT

pytestmark = pytest.mark.skipif(
    os.environ.get("TOWNLAKE_DESTRUCTIVE_TESTS") != "1",
    reason="kills a backend with SIGKILL, which restarts the whole cluster; "
           "set TOWNLAKE_DESTRUCTIVE_TESTS=1 and run alone on a private cluster")

SUFFIX = uuid.uuid4().hex[:6]
DB = f"tl_audit_crash_{SUFFIX}"
ANA = f"gc_ana_{SUFFIX}"


def connect(dbname: str, user: str = "postgres", wait: float = 60.0) -> psycopg.Connection:
    deadline = time.time() + wait
    while True:
        try:
            return psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=dbname, autocommit=True)
        except psycopg.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def gov():
    with connect("postgres") as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
        c.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(ANA)))
    with connect(DB) as c:
        c.execute("CREATE EXTENSION townlake")
        c.execute("""
            CREATE SCHEMA vault;
            CREATE TABLE vault.secrets (id int, label text);
            INSERT INTO vault.secrets VALUES (1, 'a'), (2, 'b');
            SELECT lake.govern_schema('vault', 'vault_pub');
            SELECT lake.approve_column('vault.secrets', 'id', 'public');
            SELECT lake.approve_column('vault.secrets', 'label', 'public');
            SELECT lake.approve_table('vault.secrets', 'crash test');""")
        c.execute(f"SELECT lake.grant_access('{ANA}', 'vault.secrets', '1 hour', 'crash test')")
        c.execute(sql.SQL("ALTER ROLE {} SET townlake.audit_synchronous = on").format(sql.Identifier(ANA)))
    yield DB
    with connect("postgres") as c:
        c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
        c.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ANA)))


def test_synchronous_record_survives_sigkill_right_after_the_statement(gov):
    victim = connect(gov, ANA)
    pid = victim.info.backend_pid
    victim.execute("SELECT count(*) FROM vault_pub.secrets /* m-sigkill */").fetchall()
    os.kill(pid, signal.SIGKILL)  # the statement has returned; now crash
    time.sleep(1)
    with connect(gov) as admin:
        got = admin.execute("SELECT outcome, rows FROM lake.audit_log "
                            "WHERE query_text LIKE '%m-sigkill%'").fetchall()
        assert got == [("ok", 1)]
        assert admin.execute("SELECT lake.verify_audit()").fetchone()[0] is True
