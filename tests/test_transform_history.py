"""What a run wrote, in lake.runs (issue 14): `snapshot_id`, the Iceberg
snapshot the run's transaction committed, and `bytes`.

Oracles: PyIceberg reading the table's own metadata (which snapshot is
current, which data files a snapshot added) and the sizes of those files on
disk (os.stat); for heap targets Postgres' pg_relation_size of the table and
its TOAST table. Never townlake's own accounting.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import urllib.parse
import uuid

import pytest
from pyiceberg.manifest import ManifestEntryStatus

from govhelpers import one, rows, session

SUFFIX = uuid.uuid4().hex[:6]
NS = f"xh_{SUFFIX}"
DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def admin(database, local_lake):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src; CREATE SCHEMA m")
        conn.execute("CREATE TABLE src.ev (id int PRIMARY KEY, ts timestamptz NOT NULL, amount int, note text)")
        conn.execute("INSERT INTO src.ev SELECT i, %s::timestamptz + (i %% 96) * interval '1 hour', i %% 37, "
                     "repeat(md5(i::text), 3) FROM generate_series(1, 3000) i", (DAY0,))
        yield conn


def ice_table(admin, name, columns):
    admin.execute(f"CREATE FOREIGN TABLE m.{name} ({columns}) SERVER lake_local "
                  f"OPTIONS (namespace '{NS}', \"table\" '{name}')")


def disk_size(path: str) -> int:
    return os.stat(urllib.parse.urlparse(path).path).st_size


def current_snapshot(lake, name):
    return lake.catalog.load_table(f"{NS}.{name}").current_snapshot().snapshot_id


def added_bytes(lake, name, snapshot_id):
    """Sum of the on-disk sizes of the data files snapshot `snapshot_id`
    added, as PyIceberg reads the snapshot's manifests."""
    table = lake.catalog.load_table(f"{NS}.{name}")
    snap = table.snapshot_by_id(snapshot_id)
    total, files = 0, 0
    for manifest in snap.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snapshot_id:
                total += disk_size(entry.data_file.file_path)
                files += 1
    assert files > 0, "the snapshot added no data file"
    return total


HEAP_SIZE = ("SELECT pg_relation_size(c.oid) + coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0) "
             "FROM pg_class c WHERE c.oid = %s::regclass")


def heap_size(admin, rel):
    return one(admin, HEAP_SIZE, (rel,))


def run_row(admin, run_id):
    return rows(admin, "SELECT status, rows_written, snapshot_id, bytes FROM lake.runs WHERE run_id = %s", (run_id,))[0]


def test_table_model_into_iceberg_records_its_snapshot_and_bytes(admin, local_lake):
    ice_table(admin, "tot", "amount int, n bigint, notes text")
    admin.execute("SELECT lake.define_model('tot', $$SELECT amount, count(*) AS n, string_agg(note, ',') AS notes "
                  "FROM src.ev GROUP BY amount$$, 'm.tot')")
    seen = set()
    for _ in range(2):
        run = one(admin, "SELECT lake.run_now('tot')")
        status, n, snap, nbytes = run_row(admin, run)
        assert (status, n) == ("succeeded", 37)
        assert snap == current_snapshot(local_lake, "tot")
        assert nbytes == added_bytes(local_lake, "tot", snap) and nbytes > 0
        seen.add(snap)
    assert len(seen) == 2  # the re-run committed a snapshot of its own


def test_pipeline_append_records_its_snapshot_and_bytes(admin, local_lake):
    ice_table(admin, "evc", "id int, ts timestamptz, amount int, note text")
    admin.execute("SELECT lake.define_pipeline('evc', 'src.ev', 'm.evc', mode => 'append', watermark_column => 'id')")
    run = one(admin, "SELECT lake.run_pipeline_now('evc')")
    status, n, snap, nbytes = run_row(admin, run)
    assert (status, n) == ("succeeded", 3000)
    assert snap == current_snapshot(local_lake, "evc")
    assert nbytes == added_bytes(local_lake, "evc", snap)
    # Nothing new: no snapshot, no bytes.
    run = one(admin, "SELECT lake.run_pipeline_now('evc')")
    assert run_row(admin, run) == ("succeeded", 0, None, 0)
    assert current_snapshot(local_lake, "evc") == snap


def test_snapshot_id_appears_at_commit_and_follows_savepoints(admin, local_lake):
    ice_table(admin, "sp", "id int")
    admin.execute("SELECT lake.define_model('sp_a', 'SELECT id FROM src.ev WHERE id <= 10', 'm.sp', "
                  "materialization => 'incremental')")
    with admin.transaction():
        kept = one(admin, "SELECT lake.run_now('sp_a')")
        # Not committed yet: no snapshot exists.
        assert run_row(admin, kept)[2] is None
        admin.execute("SAVEPOINT s")
        dropped = one(admin, "SELECT lake.run_now('sp_a')")
        admin.execute("ROLLBACK TO SAVEPOINT s")
        kept2 = one(admin, "SELECT lake.run_now('sp_a')")
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE run_id = %s", (dropped,)) == 0
    snap = current_snapshot(local_lake, "sp")
    got = [run_row(admin, r) for r in (kept, kept2)]
    # Both runs are in the one snapshot their transaction committed; their
    # bytes together are the files it added.
    assert [g[2] for g in got] == [snap, snap]
    assert sum(g[3] for g in got) == added_bytes(local_lake, "sp", snap)
    assert one(admin, "SELECT count(*) FROM m.sp") == 20
    # A rolled-back transaction leaves neither run nor snapshot.
    with pytest.raises(RuntimeError):
        with admin.transaction():
            one(admin, "SELECT lake.run_now('sp_a')")
            raise RuntimeError
    assert current_snapshot(local_lake, "sp") == snap


def test_failed_run_has_no_snapshot_or_bytes(admin, local_lake):
    ice_table(admin, "bad", "x int")
    admin.execute("SELECT lake.define_model('bad', 'SELECT (1 / (id - id))::int AS x FROM src.ev', 'm.bad', "
                  "materialization => 'incremental')")
    before = local_lake.catalog.load_table(f"{NS}.bad").current_snapshot()
    run = one(admin, "SELECT lake.run_now('bad')")
    assert run_row(admin, run)[0] == "failed"
    assert run_row(admin, run)[2:] == (None, None)
    assert local_lake.catalog.load_table(f"{NS}.bad").current_snapshot() == before


def test_heap_targets_bytes_from_pg_relation_size(admin):
    admin.execute("SELECT lake.define_model('h_tab', 'SELECT id, note FROM src.ev', 'm.h_tab')")
    run = one(admin, "SELECT lake.run_now('h_tab')")
    status, n, snap, nbytes = run_row(admin, run)
    assert (status, n, snap) == ("succeeded", 3000, None)
    # A full replace: the new table's size.
    assert nbytes == heap_size(admin, "m.h_tab") and nbytes > 0
    admin.execute("CREATE TABLE m.h_inc (id int, note text)")
    admin.execute("INSERT INTO m.h_inc SELECT i, 'x' FROM generate_series(1, 500) i")
    admin.execute("SELECT lake.define_model('h_inc', 'SELECT id, note FROM src.ev WHERE id > 2000', 'm.h_inc', "
                  "materialization => 'incremental')")
    size0 = heap_size(admin, "m.h_inc")
    run = one(admin, "SELECT lake.run_now('h_inc')")
    status, n, snap, nbytes = run_row(admin, run)
    assert (status, n, snap) == ("succeeded", 1000, None)
    # An append: how much the table grew.
    assert nbytes == heap_size(admin, "m.h_inc") - size0 and nbytes > 0
    # A view writes nothing.
    admin.execute("SELECT lake.define_model('h_view', 'SELECT id FROM src.ev', 'm.h_view', materialization => 'view')")
    run = one(admin, "SELECT lake.run_now('h_view')")
    assert run_row(admin, run) == ("succeeded", None, None, None)


def test_heap_pipelines_bytes(admin):
    admin.execute("CREATE TABLE m.hp (id int, ts timestamptz, amount int, note text)")
    admin.execute("INSERT INTO m.hp SELECT i, now(), 0, repeat('y', 500) FROM generate_series(1, 2000) i")
    admin.execute("SELECT lake.define_pipeline('hp', 'src.ev', 'm.hp', mode => 'replace')")
    run = one(admin, "SELECT lake.run_pipeline_now('hp')")
    # replace: the size of the new table, whatever the old one was.
    assert run_row(admin, run) == ("succeeded", 3000, None, heap_size(admin, "m.hp"))
    admin.execute("CREATE TABLE m.ha (id int, ts timestamptz, amount int, note text)")
    admin.execute("SELECT lake.define_pipeline('ha', 'src.ev', 'm.ha', mode => 'append', watermark_column => 'id')")
    run = one(admin, "SELECT lake.run_pipeline_now('ha')")
    assert run_row(admin, run) == ("succeeded", 3000, None, heap_size(admin, "m.ha"))


def test_progress_within_one_insert(admin, database, local_lake):
    """lake.run_progress counts rows and bytes while the run's one INSERT …
    SELECT into an Iceberg table executes, not only when it ends."""
    ice_table(admin, "slow", "id int, note text")
    total, step = 20_000, 1_000
    admin.execute(
        "SELECT lake.define_model('slow_ins', $$SELECT g AS id, repeat(md5(g::text), 8) AS note "
        f"FROM generate_series(1, {total}) g WHERE g % {step} <> 0 OR pg_sleep(0.2)::text = ''$$, 'm.slow', "
        "materialization => 'incremental')")
    result = {}

    def run():
        with session(database) as other:
            other.execute("SET townlake.iceberg_write_batch_rows = 500")
            result["run"] = one(other, "SELECT lake.run_now('slow_ins')")

    worker = threading.Thread(target=run)
    worker.start()
    seen = []
    while worker.is_alive():
        seen += rows(admin, "SELECT phase, rows_so_far, bytes_so_far FROM lake.run_progress WHERE model = 'slow_ins'")
        time.sleep(0.1)
    worker.join()
    status, n, snap, nbytes = run_row(admin, result["run"])
    assert (status, n) == ("succeeded", total)
    writing = [(r, b) for (p, r, b) in seen if p == "writing"]
    # Seen mid-statement: some rows but not all, growing, never past the end.
    middle = [(r, b) for (r, b) in writing if 0 < r < total]
    assert len({r for r, _ in middle}) >= 3, seen
    assert [r for r, _ in writing] == sorted(r for r, _ in writing), seen
    assert any(b > 0 for _, b in middle), seen
    assert all(r <= total for r, _ in writing), seen


def test_pipeline_runs_show_progress_and_can_be_cancelled(admin, database, local_lake):
    admin.execute("CREATE TABLE src.slowsrc (id int PRIMARY KEY, note text)")
    admin.execute("INSERT INTO src.slowsrc SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
    ice_table(admin, "pslow", "id int, note text")
    admin.execute("SELECT lake.define_pipeline('pslow', $$SELECT id, note FROM src.slowsrc "
                  "WHERE id % 1000 <> 0 OR pg_sleep(0.2)::text = ''$$, 'm.pslow', mode => 'replace')")
    result = {}

    def run(key):
        with session(database) as other:
            other.execute("SET townlake.iceberg_write_batch_rows = 500")
            result[key] = one(other, "SELECT lake.run_pipeline_now('pslow')")
            result[key + "_after"] = one(other, "SELECT 1")  # the session goes on

    worker = threading.Thread(target=run, args=("first",))
    worker.start()
    seen = []
    while worker.is_alive():
        seen += rows(admin, "SELECT phase, rows_so_far FROM lake.run_progress WHERE model = 'pipeline:pslow'")
        time.sleep(0.1)
    worker.join()
    assert run_row(admin, result["first"])[:2] == ("succeeded", 20000)
    assert len({r for (p, r) in seen if p == "writing" and 0 < r < 20000}) >= 3, seen
    # A second run, cancelled mid-way: recorded cancelled, the first run's rows stay.
    worker = threading.Thread(target=run, args=("second",))
    worker.start()
    got = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not got:
        got = rows(admin, "SELECT run_id FROM lake.run_progress WHERE model = 'pipeline:pslow' AND rows_so_far > 0")
        time.sleep(0.1)
    assert got, "the second run never showed progress"
    assert one(admin, "SELECT lake.cancel_run(%s)", (got[0][0],)) is True
    worker.join()
    assert result["second"] == got[0][0] and result["second_after"] == 1
    status = rows(admin, "SELECT status, error_sqlstate, error_message FROM lake.runs WHERE run_id = %s", (got[0][0],))[0]
    assert status[:2] == ("cancelled", "57014") and "lake.cancel_run" in status[2], status
    assert rows(admin, "SELECT count(*), sum(id) FROM m.pslow") == rows(admin, "SELECT count(*), sum(id) FROM src.slowsrc")
