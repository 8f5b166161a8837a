"""lake.iceberg_progress: long Iceberg writes and maintenance report their
phase, rows, bytes and files while they run, to the roles allowed to see
them, and the row goes away when the command ends. The expected figures come
from the statements' own inputs (generate_series bounds, rows sent by COPY,
the files PyIceberg lists), never from townlake's report."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from govhelpers import one, recreate_roles, rows, session
from writehelpers import live_data_files, load

SUFFIX = uuid.uuid4().hex[:6]
STRANGER = f"prog_stranger_{SUFFIX}"   # no relation to the table or the writer
OWNER = f"prog_owner_{SUFFIX}"         # owns the table, does not run the command
STATS = f"prog_stats_{SUFFIX}"         # member of pg_read_all_stats

VIEW = ("SELECT pid, datname, relation::text, command, phase, rows_done, bytes_written, files_written, "
        "files_total, started_at, elapsed FROM lake.iceberg_progress WHERE relation = %s::regclass")


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [STRANGER, OWNER, STATS])


@pytest.fixture(scope="module")
def setup(conn, database, write_ns, roles):
    conn.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(STATS)))
    for role in (STRANGER, OWNER, STATS):
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(write_ns), sql.Identifier(role)))
    yield write_ns
    # What the roles own or were granted here, so they can be dropped.
    conn.execute(sql.SQL("DROP OWNED BY {}, {}, {}").format(*(sql.Identifier(r) for r in (STRANGER, OWNER, STATS))))


def create(conn, ns: str, name: str) -> str:
    relation = f'"{ns}"."{name}"'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {relation}")
    conn.execute(f"CREATE FOREIGN TABLE {relation} (id bigint, v text) SERVER lake_local "
                 f"OPTIONS (namespace '{ns}', table '{name}')")
    return relation


def in_thread(database: str, work) -> tuple[threading.Thread, dict]:
    """Runs work(conn) on a fresh session in a thread; out holds its pid,
    result or error."""
    out: dict = {}
    started = threading.Event()

    def run():
        try:
            with session(database) as c:
                c.execute("SET townlake.iceberg_write_batch_rows = 1000")
                out["pid"] = c.info.backend_pid
                started.set()
                out["result"] = work(c)
        except Exception as e:  # noqa: BLE001 - reported by the test
            out["error"] = e
        finally:
            started.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(30)
    return t, out


def poll(conn, relation: str, until, timeout: float = 60.0) -> list[tuple]:
    """The view's rows for `relation`, sampled until until(samples) holds."""
    samples: list[tuple] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples.extend(rows(conn, VIEW, (relation,)))
        if until(samples):
            break
        time.sleep(0.05)
    return samples


def visible_to(database: str, role: str, relation: str) -> int:
    with session(database, role) as c:
        return one(c, "SELECT count(*) FROM lake.iceberg_progress WHERE relation::oid = %s::regclass::oid",
                   (relation,))


def test_insert_select_reports_rows_advancing_then_disappears(conn, database, setup):
    relation = create(conn, setup, f"ins_{SUFFIX}")
    # The Iceberg table's owner lets the new owner attach it, then hands it over.
    conn.execute(f"SELECT lake.allow_attach('{relation}', '{OWNER}')")
    conn.execute(sql.SQL("ALTER FOREIGN TABLE {} OWNER TO {}").format(sql.SQL(relation), sql.Identifier(OWNER)))
    total = 40_000
    # A slow source: a pause every 2000 rows, so batches of 1000 are written
    # over several seconds.
    query = (f"INSERT INTO {relation} SELECT g, repeat('x', 50) || g FROM generate_series(1, {total}) g "
             f"WHERE CASE WHEN g % 2000 = 0 THEN pg_sleep(0.25) IS NOT NULL ELSE true END")
    t, out = in_thread(database, lambda c: c.execute(query).rowcount)
    samples = poll(conn, relation, lambda s: len({r[5] for r in s if r[5] > 0}) >= 3)
    seen = {}
    # Privileges, checked while the statement runs.
    seen[STRANGER] = visible_to(database, STRANGER, relation)
    seen[OWNER] = visible_to(database, OWNER, relation)
    seen[STATS] = visible_to(database, STATS, relation)
    t.join(120)
    assert not t.is_alive() and "error" not in out, out
    assert out["result"] == total
    assert samples, "the INSERT never showed in lake.iceberg_progress"
    pid, datname, rel, command, phase = samples[0][:5]
    assert (pid, datname, command) == (out["pid"], database, "INSERT")
    assert rel.endswith(f"ins_{SUFFIX}") and phase in ("writing data files", "closing data files")
    done = [r[5] for r in samples]
    assert done == sorted(done), "rows_done went backwards"
    assert len(set(d for d in done if d > 0)) >= 3, f"rows did not advance: {done}"
    assert max(done) <= total
    # Rows are reported in whole write batches (1000), bytes once a batch is encoded.
    assert all(d % 1000 == 0 for d in done), done
    assert any(r[6] > 0 for r in samples if r[5] > 0), samples
    assert all(r[8] is None for r in samples)  # an INSERT does not know its file count
    assert all(r[10].total_seconds() >= 0 for r in samples)
    assert seen == {STRANGER: 0, OWNER: 1, STATS: 1}, seen
    # Gone once the statement ended.
    assert rows(conn, VIEW, (relation,)) == []
    assert one(conn, f"SELECT count(*) FROM {relation}") == total


def test_copy_reports_its_rows(conn, database, setup):
    relation = create(conn, setup, f"copy_{SUFFIX}")
    chunks, per_chunk = 6, 2000

    def work(c):
        with c.cursor().copy(f"COPY {relation} (id, v) FROM STDIN") as copy:
            for k in range(chunks):
                copy.write("".join(f"{k * per_chunk + i}\tv{i}\n" for i in range(per_chunk)))
                time.sleep(0.4)
        return chunks * per_chunk

    t, out = in_thread(database, work)
    samples = poll(conn, relation, lambda s: len({r[5] for r in s if r[5] > 0}) >= 2)
    t.join(120)
    assert not t.is_alive() and "error" not in out, out
    assert samples and {r[3] for r in samples} == {"COPY"}, samples
    done = [r[5] for r in samples]
    assert done == sorted(done) and len(set(d for d in done if d > 0)) >= 2, done
    assert max(done) <= chunks * per_chunk
    assert rows(conn, VIEW, (relation,)) == []
    assert one(conn, f"SELECT count(*) FROM {relation}") == chunks * per_chunk


def test_compact_reports_files_and_rows(conn, database, setup, local_lake):
    relation = create(conn, setup, f"cmp_{SUFFIX}")
    for k in range(4):
        conn.execute(f"INSERT INTO {relation} SELECT g, 'r' || g FROM generate_series({k * 500 + 1}, {(k + 1) * 500}) g")
    table = load(local_lake.catalog, setup, f"cmp_{SUFFIX}")
    files_before = len(live_data_files(table))
    assert files_before == 4
    # Hold the table's catalog row: compaction writes its files, then waits
    # to commit, where the view shows what it wrote.
    with session(database) as blocker:
        blocker.execute("BEGIN")
        blocker.execute("SELECT 1 FROM lake.iceberg_tables WHERE table_namespace = %s AND table_name = %s FOR UPDATE",
                        (setup, f"cmp_{SUFFIX}"))
        t, out = in_thread(database, lambda c: c.execute(f"SELECT lake.compact('{relation}'::regclass)").fetchone()[0])
        samples = poll(conn, relation, lambda s: any(r[4] == "committing" for r in s))
        blocker.execute("ROLLBACK")
    t.join(120)
    assert not t.is_alive() and "error" not in out, out
    committing = [r for r in samples if r[4] == "committing"]
    assert committing, samples
    pid, _, _, command, _, rows_done, bytes_written, files_written, files_total = committing[-1][:9]
    assert (pid, command) == (out["pid"], "compact")
    assert rows_done == 2000 and files_total == files_before and files_written >= 1
    assert out["result"]["files_rewritten"] == files_before
    table = load(local_lake.catalog, setup, f"cmp_{SUFFIX}")
    written = [f for f in table.scan().plan_files()]
    assert files_written == len(written)
    assert bytes_written == sum(task.file.file_size_in_bytes for task in written)
    assert rows(conn, VIEW, (relation,)) == []
    assert one(conn, f"SELECT count(*) FROM {relation}") == 2000


def test_orphan_removal_leaves_no_row(conn, setup):
    relation = create(conn, setup, f"orph_{SUFFIX}")
    conn.execute(f"INSERT INTO {relation} VALUES (1, 'a')")
    conn.execute(f"SELECT lake.remove_orphan_files('{relation}'::regclass, now(), false)")
    assert rows(conn, VIEW, (relation,)) == []


def test_view_function_is_for_the_caller_only(conn):
    # The view's function runs with the caller's rights (not SECURITY DEFINER).
    assert one(conn, "SELECT prosecdef FROM pg_proc WHERE oid = 'lake.iceberg_in_progress()'::regprocedure") is False
    with pytest.raises(psycopg.errors.UndefinedColumn):
        conn.execute("SELECT usename FROM lake.iceberg_progress")
