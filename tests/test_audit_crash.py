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
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

PORT = int(os.environ.get("TOWNLAKE_AUDIT_CRASH_PORT", "5496"))
PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/bin/pg_config")
DB = "auditcrash"
ANA = "crash_analyst"
SYNC = "crash_sync_analyst"


def _pg_bindir() -> str:
    try:
        return subprocess.run([PG_CONFIG, "--bindir"], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "/usr/lib/postgresql/15/bin"


BINDIR = _pg_bindir()


def as_postgres(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    prefix = [] if os.geteuid() != 0 else ["sudo", "-u", "postgres", "--"]
    return subprocess.run([*prefix, *command], check=check, capture_output=True, text=True)


class Cluster:
    def __init__(self, root: Path):
        self.pgdata = root / "pgdata"
        self.socket_dir = root / "run"
        self.log = root / "postgres.log"

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""

    def connect(self, user: str = "postgres", dbname: str = DB) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=PORT, user=user, dbname=dbname, autocommit=True,
                               options="-c TimeZone=UTC")

    def wait_ready(self, seconds: float = 60) -> psycopg.Connection:
        """After a crash the postmaster restarts every process and replays WAL."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                conn = self.connect()
                conn.execute("SELECT 1")
                return conn
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the crash test cluster did not come back:\n{self.tail()}")
                time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster():
    if not Path(f"{BINDIR}/pg_ctl").exists():
        pytest.skip(f"no pg_ctl in {BINDIR}")
    root = Path(tempfile.mkdtemp(prefix="townlake-audit-crash-", dir="/var/tmp"))
    root.chmod(0o755)
    c = Cluster(root)
    c.socket_dir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(c.socket_dir, "postgres", "postgres")
    try:
        as_postgres(f"{BINDIR}/initdb", "-D", str(c.pgdata), "-U", "postgres", "-E", "UTF8", "--locale=C",
                    "--auth-local=trust", "--auth-host=trust")
        settings = (f"port = {PORT}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{c.socket_dir}'\n"
                    "shared_preload_libraries = 'townlake'\nmax_connections = 30\n"
                    "max_worker_processes = 16\nrestart_after_crash = on\nlog_min_messages = warning\n")
        as_postgres("sh", "-c", f"cat >> '{c.pgdata}/postgresql.conf' <<'EOF'\n{settings}EOF")
        started = as_postgres(f"{BINDIR}/pg_ctl", "-D", str(c.pgdata), "-l", str(c.log), "-w", "-t", "60",
                              "start", check=False)
        if started.returncode != 0:
            raise RuntimeError(f"crash test cluster did not start: {started.stderr}\n{c.tail()}")
        with c.connect(dbname="postgres") as admin:
            admin.execute(f"CREATE DATABASE {DB}")
            admin.execute(f"CREATE ROLE {ANA} LOGIN")
            admin.execute(f"CREATE ROLE {SYNC} LOGIN")
            admin.execute(f"ALTER ROLE {SYNC} SET townlake.audit_synchronous = on")
        with c.connect() as admin:
            admin.execute("CREATE EXTENSION townlake")
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
        as_postgres(f"{BINDIR}/pg_ctl", "-D", str(c.pgdata), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


def records(conn, marker: str, timeout: float = 30.0) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while True:
        got = conn.execute("SELECT outcome, rows FROM lake.audit_log WHERE query_text LIKE %s ORDER BY id",
                           (f"%{marker}%",)).fetchall()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def crash(cluster: Cluster, pid: int) -> psycopg.Connection:
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

    def run():
        try:
            victim.execute("SELECT pg_sleep(30), count(*) FROM vault_pub.secrets /* m-sigkill-during */")
        except psycopg.Error:
            pass

    t = threading.Thread(target=run)
    t.start()
    with cluster.connect() as watcher:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event = 'PgSleep'",
                (pid,)).fetchone()[0] == 0:
            time.sleep(0.05)
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
