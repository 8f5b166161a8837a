"""Audit records survive a crash of their backend (issue 4), with default
settings: SIGKILL right after a statement, and in the middle of one (the
record then says `terminated`). SIGKILL makes the postmaster restart every
process and reset shared memory; the queue lives in a file of the data
directory, so the records come back after the restart.

Because of the restart these tests run on a cluster of their own (port
$TOWNLAKE_AUDIT_CRASH_PORT, default 5496), started here from the binaries of
$PG_CONFIG (default /usr/bin/pg_config) and removed afterwards."""

from __future__ import annotations

import os
import signal
import time

import psycopg
import pytest

from govhelpers import start_sleeping_statement
from privatecluster import PrivateCluster

PORT = int(os.environ.get("TOWNLAKE_AUDIT_CRASH_PORT", "5496"))
DB = "auditcrash"
ANA = "crash_analyst"
SYNC = "crash_sync_analyst"


@pytest.fixture(scope="module")
def cluster():
    c = PrivateCluster(PORT, DB, "townlake-audit-crash-")
    try:
        c.create("max_connections = 30\nmax_worker_processes = 16\n")
        with c.connect() as admin:
            admin.execute(f"CREATE ROLE {ANA} LOGIN")
            admin.execute(f"CREATE ROLE {SYNC} LOGIN")
            admin.execute(f"ALTER ROLE {SYNC} SET townlake.audit_synchronous = on")
            admin.execute("""
                CREATE SCHEMA vault;
                CREATE TABLE vault.secrets (id int, label text);
                INSERT INTO vault.secrets VALUES (1, 'a'), (2, 'b');
                SELECT lake.govern_schema('vault', 'vault_pub');
                SELECT lake.approve_column('vault.secrets', 'id', 'public');
                SELECT lake.approve_column('vault.secrets', 'label', 'public');
                SELECT lake.approve_table('vault.secrets', 'crash test');""")
            for role in (ANA, SYNC):
                admin.execute(f"SELECT lake.grant_access('{role}', 'vault.secrets', '1 hour', 'crash test')")
        yield c
    finally:
        c.remove()


def records(conn, marker: str, timeout: float = 30.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        got = conn.execute("SELECT outcome, rows FROM lake.audit_log WHERE query_text LIKE %s ORDER BY id",
                           (f"%{marker}%",)).fetchall()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def crash(cluster: PrivateCluster, pid: int) -> psycopg.Connection:
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # let the postmaster notice and start its reset
    return cluster.wait_ready()


def test_record_survives_sigkill_right_after_the_statement(cluster):
    victim = cluster.connect(ANA)
    pid = victim.info.backend_pid
    victim.execute("SELECT count(*) FROM vault_pub.secrets /* m-sigkill-after */").fetchall()
    with crash(cluster, pid) as admin:  # the statement has returned; now crash
        assert records(admin, "m-sigkill-after") == [("ok", 1)]
        assert admin.execute("SELECT lake.verify_audit()").fetchone()[0] is True


def test_statement_killed_midway_is_recorded_as_terminated(cluster):
    victim = cluster.connect(ANA)
    pid = victim.info.backend_pid
    with cluster.connect() as watcher:
        t = start_sleeping_statement(
            victim, "SELECT pg_sleep(30), count(*) FROM vault_pub.secrets /* m-sigkill-during */", watcher)
    with crash(cluster, pid) as admin:
        t.join(10)
        assert records(admin, "m-sigkill-during") == [("terminated", None)]
        assert admin.execute("SELECT lake.verify_audit()").fetchone()[0] is True


def test_many_records_queued_at_the_crash_are_all_written_once(cluster):
    victim = cluster.connect(ANA)
    pid = victim.info.backend_pid
    victim.execute("""DO $$ BEGIN FOR i IN 1..200 LOOP
                        PERFORM count(*), 'm-sigkill-many' FROM vault_pub.secrets;
                      END LOOP; END $$""")
    with crash(cluster, pid) as admin:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            n = admin.execute("SELECT count(*) FROM lake.audit_log "
                              "WHERE query_text LIKE '%m-sigkill-many%'").fetchone()[0]
            if n >= 200:
                break
            time.sleep(0.2)
        assert n == 200
        assert admin.execute("SELECT count(DISTINCT record_id) = count(*) FROM lake.audit_log").fetchone()[0]
        assert admin.execute("SELECT lake.verify_audit()").fetchone()[0] is True


def test_synchronous_record_survives_sigkill(cluster):
    victim = cluster.connect(SYNC)
    pid = victim.info.backend_pid
    victim.execute("SELECT count(*) FROM vault_pub.secrets /* m-sigkill-sync */").fetchall()
    with cluster.connect() as admin:  # written before the statement returned
        assert records(admin, "m-sigkill-sync", timeout=0) == [("ok", 1)]
    with crash(cluster, pid) as admin:
        assert records(admin, "m-sigkill-sync") == [("ok", 1)]
        assert admin.execute("SELECT lake.verify_audit()").fetchone()[0] is True
