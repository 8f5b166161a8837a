"""Crashes while writing Iceberg tables: kill -9 of the writing backend during
an INSERT and around COMMIT, and an immediate shutdown of the server in the
middle of a write. Afterwards the table holds exactly the committed
transactions, PyIceberg agrees, the table takes writes again, and
lake.remove_orphan_files removes what the aborted transactions left.

These tests kill backends and restart the server, so they run on a cluster
of their own (port $TOWNLAKE_CRASH_PORT, default 5497), started here with the
settings of scripts/cluster.sh and removed afterwards."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.parse
from pathlib import Path

import psycopg
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from privatecluster import PrivateCluster, as_postgres
from writehelpers import local_path, parquet_files_on_disk, referenced_data_files

PORT = int(os.environ.get("TOWNLAKE_CRASH_PORT", "5497"))
DB = "crash"


class CrashCluster(PrivateCluster):
    """The private cluster with a local warehouse and a PyIceberg catalog on it."""

    def __init__(self):
        super().__init__(PORT, DB, "townlake-crash-")
        self.warehouse = self.make_dir("warehouse")

    def catalog(self) -> SqlCatalog:
        options = urllib.parse.quote("-csearch_path=lake")
        return SqlCatalog("lake_local", uri=f"postgresql+psycopg://postgres@127.0.0.1:{PORT}/{DB}?options={options}",
                          warehouse=f"file://{self.warehouse}")


@pytest.fixture(scope="module")
def cluster():
    cluster = CrashCluster()
    try:
        cluster.create(f"townlake.iceberg_warehouse = 'file://{cluster.warehouse}'\nmax_connections = 50\n")
        with cluster.connect() as conn:
            conn.execute("CREATE SCHEMA crash")
        yield cluster
    finally:
        cluster.remove()


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def checkpointer_pid(conn) -> int:
    return conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'").fetchone()[0]


def kill9(cluster, pid: int, checkpointer: int | None = None) -> None:
    """kill -9 a backend, then wait until the postmaster has reset the whole
    cluster (its checkpointer was replaced), so that no later connection
    lands in the dying generation of backends."""
    if checkpointer is None:
        with cluster.connect() as conn:
            checkpointer = checkpointer_pid(conn)
    if os.geteuid() == 0:
        os.kill(pid, signal.SIGKILL)
    else:
        as_postgres("kill", "-9", str(pid))
    deadline = time.monotonic() + 60
    while _alive(checkpointer):
        if time.monotonic() > deadline:
            raise AssertionError(f"the postmaster did not reset after the kill:\n{cluster.tail()}")
        time.sleep(0.05)


@pytest.fixture()
def table(cluster, request):
    """crash.<test> (id bigint, v text) with two committed transactions."""
    name = request.node.name.removeprefix("test_")[:40]
    with cluster.wait_ready() as conn:
        conn.execute(f"DROP FOREIGN TABLE IF EXISTS crash.{name}")
        conn.execute(f"CREATE FOREIGN TABLE crash.{name} (id bigint NOT NULL, v text) SERVER lake_local "
                     f"OPTIONS (namespace 'crash', table '{name}', partition_by 'bucket(8, id)')")
        conn.execute(f"INSERT INTO crash.{name} SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
        conn.execute(f"INSERT INTO crash.{name} SELECT g, md5(g::text) FROM generate_series(1001, 1500) g")
    return name


COMMITTED = (1500, sum(range(1, 1501)))


def count_sum(conn, name: str) -> tuple:
    return conn.execute(f"SELECT count(*), coalesce(sum(id), 0) FROM crash.{name}").fetchone()


def location_of(cluster, name: str) -> str:
    catalog = cluster.catalog()
    try:
        return catalog.load_table(f"crash.{name}").location()
    finally:
        catalog.engine.dispose()


def pyiceberg_count_sum(cluster, name: str) -> tuple:
    catalog = cluster.catalog()
    try:
        data = catalog.load_table(f"crash.{name}").scan(selected_fields=("id",)).to_arrow()
        return data.num_rows, sum(data.column("id").to_pylist())
    finally:
        catalog.engine.dispose()


def wait_for_new_files(location: str, before: set, done: threading.Event, seconds: float = 120) -> bool:
    """Wait until the writer has put data files on disk (or finished)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if parquet_files_on_disk(location) - before:
            return True
        if done.is_set():
            return False
        time.sleep(0.05)
    raise AssertionError("the writer wrote no data file within the deadline")


def start_writer(cluster, statements: list[str]):
    """Run statements in a session of their own on a thread; returns
    (pid, thread, done event, list of the exception it ended with)."""
    conn = cluster.connect()
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    done = threading.Event()
    outcome: list = []

    def run():
        try:
            for statement in statements:
                conn.execute(statement)
            outcome.append(None)
        except psycopg.Error as exc:
            outcome.append(exc)
        finally:
            done.set()
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return pid, thread, done, outcome


def check_after_restart(cluster, name: str, expected: tuple) -> None:
    with cluster.wait_ready() as conn:
        assert count_sum(conn, name) == expected
        assert pyiceberg_count_sum(cluster, name) == expected
        conn.execute(f"INSERT INTO crash.{name} VALUES (999999, 'after the crash')")
        assert count_sum(conn, name) == (expected[0] + 1, expected[1] + 999999)
        conn.execute(f"DELETE FROM crash.{name} WHERE id = 999999")
        assert count_sum(conn, name) == expected


def remove_orphans(cluster, name: str, expected: tuple) -> None:
    """remove_orphan_files(older_than => now()) deletes the aborted files;
    only the data files some snapshot uses stay, and the table reads the same."""
    location = location_of(cluster, name)
    before = parquet_files_on_disk(location)
    catalog = cluster.catalog()
    try:
        live = {local_path(p) for p in referenced_data_files(catalog.load_table(f"crash.{name}"))}
    finally:
        catalog.engine.dispose()
    assert before - live, "the crashed writer should have left orphan data files"
    with cluster.wait_ready() as conn:
        report = conn.execute(f"SELECT lake.remove_orphan_files('crash.{name}', older_than => now())").fetchone()[0]
        after = parquet_files_on_disk(location)
        assert len(after) < len(before)
        left = {p: (os.stat(p).st_size, time.strftime("%H:%M:%S", time.gmtime(os.stat(p).st_mtime)))
                for p in sorted(after - live)[:5]}
        assert after == live, f"left on disk besides the live files: {left}; report: {report}"
        assert report["deleted"] >= len(before - live)
        assert count_sum(conn, name) == expected
    assert pyiceberg_count_sum(cluster, name) == expected


LONG_INSERT = ("INSERT INTO crash.{name} SELECT g, md5(g::text) || md5((g + 1)::text) "
               "FROM generate_series(100001, 30000000) g")


def test_kill_during_insert(cluster, table):
    location = location_of(cluster, table)
    before = parquet_files_on_disk(location)
    # the INSERT runs in an open transaction: whenever the kill lands, nothing may be committed
    pid, thread, done, outcome = start_writer(cluster, [
        "SET townlake.iceberg_target_file_size_mb = 1", "BEGIN", LONG_INSERT.format(name=table)])
    wait_for_new_files(location, before, done)
    kill9(cluster, pid)
    thread.join(60)
    assert outcome and isinstance(outcome[0], psycopg.OperationalError), outcome
    check_after_restart(cluster, table, COMMITTED)
    remove_orphans(cluster, table, COMMITTED)


def metadata_files(location: str) -> set[str]:
    root = Path(local_path(location)) / "metadata"
    return {str(p) for p in root.iterdir()} if root.exists() else set()


def test_kill_around_commit(cluster, table):
    """A transaction that wrote many files (8 buckets x 4 statements); the
    backend is killed after COMMIT is sent, after a delay searched round by
    round until the kill lands inside the commit: after townlake began writing
    the commit's metadata, before the client heard the COMMIT succeed. Each
    round's transaction is either fully there or absent, an acknowledged
    COMMIT is always there, and the window must be hit at least once."""
    expected = COMMITTED
    location = location_of(cluster, table)
    before = parquet_files_on_disk(location)
    rounds = []
    low, high, delay = 0.0, None, 0.0
    for round_number in range(14):
        first = 2_000_000 + round_number * 100_000
        conn = cluster.connect(autocommit=False)
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("SET LOCAL townlake.iceberg_target_file_size_mb = 1")
        for part in range(4):
            conn.execute(f"INSERT INTO crash.{table} SELECT g, md5(g::text) FROM generate_series(%s, %s) g",
                         (first + part * 20_000, first + part * 20_000 + 19_999))
        rows = (80_000, sum(range(first, first + 80_000)))
        checkpointer = checkpointer_pid(conn)
        metadata_before = metadata_files(location)
        conn.pgconn.send_query(b"COMMIT")
        if delay:
            time.sleep(delay)  # the kill's timing is what this test varies
        kill9(cluster, pid, checkpointer)
        acknowledged = False
        try:
            while True:
                result = conn.pgconn.get_result()
                if result is None:
                    break
                if result.status == psycopg.pq.ExecStatus.COMMAND_OK:
                    acknowledged = True
        except psycopg.Error:
            pass
        conn.close()
        with cluster.wait_ready() as check:
            now = count_sum(check, table)
        committed = (expected[0] + rows[0], expected[1] + rows[1])
        assert now in (expected, committed), f"round {round_number}: partial transaction visible: {now}"
        if acknowledged:
            assert now == committed, f"round {round_number}: acknowledged COMMIT lost"
        wrote_metadata = bool(metadata_files(location) - metadata_before)
        if acknowledged:
            where = "after"
        elif now == committed or wrote_metadata:
            where = "inside"   # durable but unacknowledged, or metadata written and never committed
        else:
            where = "before"
        rounds.append((round(delay, 4), where))
        expected = now
        if where == "inside":
            break
        if where == "before":
            low = delay
            delay = max(delay * 2, 0.002) if high is None else (low + high) / 2
        else:
            high = delay
            delay = (low + high) / 2
    assert rounds[-1][1] == "inside", f"no kill landed inside the commit; (delay, where) per round: {rounds}"
    check_after_restart(cluster, table, expected)
    # the committed files are live; every file of an aborted round is an orphan
    if parquet_files_on_disk(location) - before:
        with cluster.wait_ready() as conn:
            conn.execute(f"SELECT lake.remove_orphan_files('crash.{table}', older_than => now())")
            assert count_sum(conn, table) == expected
    assert pyiceberg_count_sum(cluster, table) == expected


def test_immediate_shutdown_mid_write(cluster, table):
    location = location_of(cluster, table)
    before = parquet_files_on_disk(location)
    # autocommit: the INSERT would commit when done, so the shutdown must come first
    pid, thread, done, outcome = start_writer(cluster, [
        "SET townlake.iceberg_target_file_size_mb = 1", LONG_INSERT.format(name=table)])
    finished_early = not wait_for_new_files(location, before, done)
    cluster.stop("immediate")
    thread.join(60)
    cluster.start()
    if finished_early:
        pytest.fail("the INSERT finished before the shutdown; make LONG_INSERT longer")
    assert outcome and isinstance(outcome[0], psycopg.OperationalError), outcome
    check_after_restart(cluster, table, COMMITTED)
    remove_orphans(cluster, table, COMMITTED)


def test_crash_leaves_no_uncommitted_catalog_state(cluster):
    """After the crashes, every catalog entry points at a readable metadata file."""
    with cluster.wait_ready() as conn:
        rows = conn.execute("SELECT table_name FROM lake.iceberg_tables WHERE table_namespace = 'crash'").fetchall()
        for (name,) in rows:
            conn.execute(f"SELECT count(*) FROM lake.snapshots('crash.{name}'::regclass)").fetchone()


def test_as_of_from_the_configuration_file_is_checked_at_query_time(cluster, table):
    """SET checks townlake.iceberg_as_of, but a configuration file is read where no
    transaction is open: a bad value there is refused when a scan reads it,
    with the same error as at SET, and a good one is obeyed."""
    conf = cluster.pgdata / "postgresql.conf"
    original = as_postgres("cat", str(conf)).stdout

    def configure(line: str) -> None:
        as_postgres("sh", "-c", f"cat > '{conf}' <<'EOF'\n{original}\n{line}\nEOF")
        with cluster.wait_ready() as conn:
            conn.execute("SELECT pg_reload_conf()")

    def fresh_session_sees(value: str) -> psycopg.Connection:
        deadline = time.monotonic() + 10
        while True:
            conn = cluster.connect()
            if conn.execute("SHOW townlake.iceberg_as_of").fetchone()[0] == value:
                return conn
            conn.close()
            assert time.monotonic() < deadline, "the reloaded setting never reached a new session"
            time.sleep(0.05)

    try:
        configure("townlake.iceberg_as_of = 'not a time'")
        with fresh_session_sees("not a time") as conn:
            with pytest.raises(psycopg.errors.InvalidParameterValue,
                               match='invalid townlake.iceberg_as_of: "not a time" is not a timestamp with time zone'):
                conn.execute(f"SELECT count(*) FROM crash.{table}")
            assert conn.execute("SELECT 1").fetchone() == (1,)
        configure("townlake.iceberg_as_of = '2000-01-01 00:00:00+00'")
        with fresh_session_sees("2000-01-01 00:00:00+00") as conn:
            with pytest.raises(psycopg.Error, match="no snapshot as of that time"):
                conn.execute(f"SELECT count(*) FROM crash.{table}")
    finally:
        configure("")
    with fresh_session_sees("") as conn:
        assert count_sum(conn, table) == COMMITTED
