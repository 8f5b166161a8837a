"""A throwaway Postgres cluster with townlake preloaded, for tests that crash
the server on purpose: SIGKILL of a backend makes the postmaster restart
every process, which must never hit the shared test cluster. The binaries
are those of $PG_CONFIG (default /usr/bin/pg_config, as in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/bin/pg_config")


def _pg_bindir() -> str:
    try:
        return subprocess.run([PG_CONFIG, "--bindir"], check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "/usr/lib/postgresql/15/bin"


BINDIR = _pg_bindir()


def as_postgres(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    prefix = [] if os.geteuid() != 0 else ["sudo", "-u", "postgres", "--"]
    return subprocess.run([*prefix, *command], check=check, capture_output=True, text=True)


class PrivateCluster:
    """initdb'd under /var/tmp on `port`, database `dbname` with townlake."""

    def __init__(self, port: int, dbname: str, prefix: str):
        if not Path(f"{BINDIR}/pg_ctl").exists():
            pytest.skip(f"no pg_ctl in {BINDIR}")
        self.port, self.dbname = port, dbname
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
        self.root.chmod(0o755)
        self.pgdata = self.root / "pgdata"
        self.socket_dir = self.make_dir("run")
        self.log = self.root / "postgres.log"

    def make_dir(self, name: str) -> Path:
        """A directory under the cluster's root that the server may write."""
        path = self.root / name
        path.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(path, "postgres", "postgres")
        return path

    def create(self, settings: str = "") -> None:
        """initdb, start, and create the database with the extension."""
        as_postgres(f"{BINDIR}/initdb", "-D", str(self.pgdata), "-U", "postgres", "-E", "UTF8", "--locale=C",
                    "--auth-local=trust", "--auth-host=trust")
        config = (f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                  f"unix_socket_directories = '{self.socket_dir}'\n"
                  "shared_preload_libraries = 'townlake'\nrestart_after_crash = on\n"
                  "log_min_messages = warning\n" + settings)
        as_postgres("sh", "-c", f"cat >> '{self.pgdata}/postgresql.conf' <<'EOF'\n{config}\nEOF")
        self.start()
        with self.connect(dbname="postgres") as admin:
            admin.execute(f"CREATE DATABASE {self.dbname}")
        with self.connect() as conn:
            conn.execute("CREATE EXTENSION townlake")

    def start(self) -> None:
        result = as_postgres(f"{BINDIR}/pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "60",
                             "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"the private cluster did not start: {result.stderr}\n{self.tail()}")

    def stop(self, mode: str = "fast") -> None:
        as_postgres(f"{BINDIR}/pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""

    def connect(self, user: str = "postgres", dbname: str | None = None,
                autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=user, dbname=dbname or self.dbname,
                               autocommit=autocommit, options="-c TimeZone=UTC")

    def wait_ready(self, seconds: float = 90) -> psycopg.Connection:
        """After a crash the postmaster restarts every process and replays WAL."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                conn = self.connect()
                conn.execute("SELECT 1")
                return conn
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the private cluster did not come back:\n{self.tail()}")
                time.sleep(0.2)
