"""Transactions over Iceberg writes: ROLLBACK, savepoints, an error in the
middle of a statement, read-your-writes, one snapshot per transaction,
atomic replace, and serialization failures between conflicting writers."""

from __future__ import annotations

import threading

import psycopg
import pytest

from conftest import connect
from lakehelpers import expect_error
from writehelpers import assert_readers_agree, load, parquet_files_on_disk, snapshot_count, snapshots


def create(conn, ns: str, name: str, columns: str = "id bigint NOT NULL, v text",
           partition_by: str | None = None) -> str:
    relation = f'"{ns}"."{name}"'
    options = f"namespace '{ns}', table '{name}'" + (f", partition_by '{partition_by}'" if partition_by else "")
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {relation}")
    conn.execute(f"CREATE FOREIGN TABLE {relation} ({columns}) SERVER lake_local OPTIONS ({options})")
    return relation


def session(database: str) -> psycopg.Connection:
    """A second session; lock waits end in an error instead of hanging the test."""
    other = connect(database)
    other.execute("SET lock_timeout = '20s'")
    return other


def count_sum(conn, relation: str) -> tuple:
    return conn.execute(f"SELECT count(*), coalesce(sum(id), 0) FROM {relation}").fetchone()


BASE_ROWS = [(g, "base") for g in range(1, 101)]  # what the `table` fixture inserts


@pytest.fixture()
def table(conn, write_ns, request):
    name = request.node.name.removeprefix("test_")[:40]
    relation = create(conn, write_ns, name)
    conn.execute(f"INSERT INTO {relation} SELECT g, 'base' FROM generate_series(1, 100) g")
    return relation


def test_rollback_leaves_nothing(table, conn, write_ns, local_lake):
    before = snapshot_count(conn, table)
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {table} SELECT g, 'rolled back' FROM generate_series(1000, 1999) g")
    conn.execute(f"DELETE FROM {table} WHERE id <= 50")
    assert count_sum(conn, table)[0] == 1050
    conn.execute("ROLLBACK")
    assert count_sum(conn, table) == (100, 5050)
    assert snapshot_count(conn, table) == before
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, table.split(".")[1].strip('"'), table,
                                source=BASE_ROWS) == 100


def test_rollback_of_create_removes_the_table(conn, write_ns):
    conn.execute("BEGIN")
    relation = create(conn, write_ns, "created_then_rolled_back")
    conn.execute(f"INSERT INTO {relation} VALUES (1, 'x')")
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s "
                        "AND table_name = 'created_then_rolled_back'", (write_ns,)).fetchone() == (0,)
    assert conn.execute("SELECT to_regclass(%s)", (relation,)).fetchone() == (None,)


def test_savepoint_rollback_drops_only_its_writes(table, conn):
    before = snapshot_count(conn, table)
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (201, 'kept')")
        conn.execute("SAVEPOINT a")
        conn.execute(f"INSERT INTO {table} SELECT g, 'dropped' FROM generate_series(300, 399) g")
        conn.execute(f"DELETE FROM {table} WHERE id <= 10")
        conn.execute("SAVEPOINT b")
        conn.execute(f"INSERT INTO {table} VALUES (400, 'dropped too')")
        conn.execute("ROLLBACK TO SAVEPOINT a")
        conn.execute(f"INSERT INTO {table} VALUES (202, 'kept')")
        conn.execute("SAVEPOINT c")
        conn.execute(f"INSERT INTO {table} VALUES (203, 'kept, savepoint released')")
        conn.execute("RELEASE SAVEPOINT c")
        assert count_sum(conn, table) == (103, 5050 + 201 + 202 + 203)
    assert count_sum(conn, table) == (103, 5050 + 201 + 202 + 203)
    assert conn.execute(f"SELECT count(*) FROM {table} WHERE v LIKE 'dropped%'").fetchone() == (0,)
    assert snapshot_count(conn, table) == before + 1


def test_psycopg_nested_transaction_blocks(table, conn):
    """psycopg's nested transaction() blocks are savepoints."""
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (500, 'outer')")
        with pytest.raises(psycopg.errors.DivisionByZero):
            with conn.transaction():
                conn.execute(f"INSERT INTO {table} VALUES (501, 'inner')")
                conn.execute("SELECT 1 / 0")
    assert conn.execute(f"SELECT id FROM {table} WHERE id > 100 ORDER BY id").fetchall() == [(500,)]


FAILING_SELECT = ("SELECT g, CASE WHEN g < {fail_at} THEN 'ok' ELSE 'boom' END::int::text "
                  "FROM generate_series(1000, 50000) g")


def test_error_mid_statement_autocommit(table, conn, write_ns, local_lake):
    """A cast fails after thousands of rows (and several written files): nothing lands."""
    before = snapshot_count(conn, table)
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_write_batch_rows = 500")
        conn.execute("SET LOCAL townlake.iceberg_target_file_size_mb = 1")
        # each batch flushes, so data files exist when the error strikes
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            with conn.transaction():
                conn.execute(f"INSERT INTO {table} " + FAILING_SELECT.format(fail_at=40000))
    assert count_sum(conn, table) == (100, 5050)
    assert snapshot_count(conn, table) == before
    expect_error(conn, f"INSERT INTO {table} " + FAILING_SELECT.format(fail_at=30000),
                 "invalid input syntax for type integer")
    assert count_sum(conn, table) == (100, 5050)
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, table.split(".")[1].strip('"'), table,
                                source=BASE_ROWS) == 100


def test_error_mid_statement_inside_transaction_then_commit(table, conn):
    before = snapshot_count(conn, table)
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (600, 'first')")
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            with conn.transaction():
                conn.execute(f"INSERT INTO {table} " + FAILING_SELECT.format(fail_at=20000))
        conn.execute(f"INSERT INTO {table} VALUES (601, 'after the error')")
    assert conn.execute(f"SELECT id FROM {table} WHERE id > 100 ORDER BY id").fetchall() == [(600,), (601,)]
    assert snapshot_count(conn, table) == before + 1


def test_error_aborts_whole_transaction(table, conn):
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {table} VALUES (700, 'doomed')")
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.execute(f"INSERT INTO {table} " + FAILING_SELECT.format(fail_at=1500))
    conn.execute("ROLLBACK")
    assert count_sum(conn, table) == (100, 5050)


def test_not_null_violation_after_some_rows(table, conn):
    expect_error(conn, f"INSERT INTO {table} SELECT CASE WHEN g = 5000 THEN NULL ELSE g END, 'x' "
                       f"FROM generate_series(1000, 9000) g", "null")
    assert count_sum(conn, table) == (100, 5050)


def test_read_your_writes(table, database, conn):
    other = session(database)
    try:
        with conn.transaction():
            conn.execute(f"INSERT INTO {table} SELECT g, 'new' FROM generate_series(101, 150) g")
            assert count_sum(conn, table) == (150, sum(range(1, 151)))
            conn.execute(f"DELETE FROM {table} WHERE id <= 20")
            assert count_sum(conn, table) == (130, sum(range(21, 151)))
            conn.execute(f"UPDATE {table} SET v = 'updated' WHERE id BETWEEN 140 AND 150")
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE v = 'updated'").fetchone() == (11,)
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                copy.write("900\tcopied\n")
            assert conn.execute(f"SELECT v FROM {table} WHERE id = 900").fetchone() == ("copied",)
            # a join of the table with itself sees the same state on both sides
            assert conn.execute(f"SELECT count(*) FROM {table} a JOIN {table} b USING (id)").fetchone() == (131,)
            # another session sees none of it before COMMIT
            assert count_sum(other, table) == (100, 5050)
        assert count_sum(other, table) == (131, sum(range(21, 151)) + 900)
    finally:
        other.close()


@pytest.mark.parametrize("partition_by", ["k", "bucket(4, k)", "truncate(10, k)"])
def test_read_your_writes_partitioned(partition_by, conn, write_ns):
    """A statement filtering on the partition column sees the transaction's own
    files (whose partition values come from the pending write)."""
    relation = create(conn, write_ns, "ryw_partitioned", "id bigint NOT NULL, k integer", partition_by=partition_by)
    conn.execute(f"INSERT INTO {relation} SELECT g, g % 3 FROM generate_series(1, 30) g")
    with conn.transaction():
        conn.execute(f"INSERT INTO {relation} SELECT g, g % 3 FROM generate_series(31, 60) g")
        assert conn.execute(f"SELECT count(*) FROM {relation} WHERE k = 1").fetchone() == (20,)
        assert conn.execute(f"SELECT k, count(*) FROM {relation} GROUP BY k ORDER BY k").fetchall() == \
            [(0, 20), (1, 20), (2, 20)]
        conn.execute(f"DELETE FROM {relation} WHERE k = 1 AND id > 40")
    assert conn.execute(f"SELECT count(*) FROM {relation} WHERE k = 1").fetchone() == (14,)


def test_one_snapshot_per_transaction(table, conn):
    before = snapshots(conn, table)
    with conn.transaction():
        for start in range(1000, 6000, 1000):
            conn.execute(f"INSERT INTO {table} SELECT g, 'batch' FROM generate_series({start}, {start + 99}) g")
        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            copy.write("".join(f"{i}\tcopy\n" for i in range(7000, 7100)))
    after = snapshots(conn, table)
    assert len(after) == len(before) + 1
    snapshot_id, parent_id, operation, summary = after[-1]
    assert operation == "append" and parent_id == before[-1][0]
    assert summary["added-records"] == "600"
    # an append + delete + update transaction is one snapshot too
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} VALUES (8000, 'x')")
        conn.execute(f"DELETE FROM {table} WHERE id BETWEEN 1000 AND 1009")
        conn.execute(f"UPDATE {table} SET v = 'y' WHERE id = 8000")
    final = snapshots(conn, table)
    assert len(final) == len(after) + 1
    assert final[-1][1] == snapshot_id
    assert count_sum(conn, table)[0] == 100 + 600 + 1 - 10


def test_read_only_transaction_makes_no_snapshot(table, conn):
    before = snapshot_count(conn, table)
    with conn.transaction():
        conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.execute(f"DELETE FROM {table} WHERE id < 0")
    assert snapshot_count(conn, table) == before, "reads and a DELETE of nothing commit no snapshot"
    assert count_sum(conn, table) == (100, 5050)


def test_transaction_that_undoes_its_insert_makes_no_snapshot(table, conn):
    """Rows inserted and deleted again in one transaction: the net change is
    nothing, so COMMIT succeeds and writes no snapshot (nor an empty one)."""
    before = snapshot_count(conn, table)
    with conn.transaction():
        conn.execute(f"INSERT INTO {table} SELECT g, 'temporary' FROM generate_series(5000, 5099) g")
        assert conn.execute(f"DELETE FROM {table} WHERE id >= 5000").rowcount == 100
    assert snapshot_count(conn, table) == before
    assert count_sum(conn, table) == (100, 5050)


def test_atomic_replace_never_shows_an_empty_table(table, database, conn):
    """TRUNCATE + INSERT in one transaction is one overwrite snapshot. TRUNCATE
    takes Postgres' ACCESS EXCLUSIVE lock, so a reader waits for the COMMIT
    (here: gives up after lock_timeout) and then sees the new rows; it never
    sees an empty table."""
    before = snapshot_count(conn, table)
    reader = session(database)
    try:
        reader.execute("SET lock_timeout = '300ms'")
        conn.execute("BEGIN")
        conn.execute(f"TRUNCATE {table}")
        assert count_sum(conn, table) == (0, 0)
        with pytest.raises(psycopg.errors.LockNotAvailable):
            count_sum(reader, table)
        conn.execute(f"INSERT INTO {table} SELECT g, 'replaced' FROM generate_series(1, 10) g")
        conn.execute("COMMIT")
        assert count_sum(reader, table) == (10, 55)
    finally:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        reader.close()
    history = snapshots(conn, table)
    assert len(history) == before + 1 and history[-1][2] == "overwrite"


def test_replace_with_delete_keeps_readers_running(table, database, conn):
    """DELETE without WHERE + INSERT: the replace pattern that does not block
    readers; they see the old rows until COMMIT."""
    before = snapshot_count(conn, table)
    reader = session(database)
    try:
        reader.execute("SET lock_timeout = '5s'")
        with conn.transaction():
            conn.execute(f"DELETE FROM {table}")
            assert count_sum(reader, table) == (100, 5050)
            conn.execute(f"INSERT INTO {table} SELECT g, 'replaced' FROM generate_series(1, 10) g")
            assert count_sum(reader, table) == (100, 5050)
        assert count_sum(reader, table) == (10, 55)
    finally:
        reader.close()
    history = snapshots(conn, table)
    assert len(history) == before + 1 and history[-1][2] == "overwrite"
    assert history[-1][3]["added-data-files"] == "1"


def test_rolled_back_files_stay_orphans_only(table, conn, write_ns, local_lake):
    """Files written by a rolled-back transaction are not referenced by the table."""
    location = load(local_lake.catalog, write_ns, table.split(".")[1].strip('"')).location()
    on_disk_before = parquet_files_on_disk(location)
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {table} SELECT g, 'orphan' FROM generate_series(1000, 3000) g")
    conn.execute("ROLLBACK")
    table_obj = load(local_lake.catalog, write_ns, table.split(".")[1].strip('"'))
    live = {p.removeprefix("file://") for p in (t.file.file_path for t in table_obj.scan().plan_files())}
    assert live <= on_disk_before | parquet_files_on_disk(location)
    assert not (live - on_disk_before), "the rolled-back transaction's files must not be live"


# ---------------------------------------------------------------- concurrent writers

def test_concurrent_appends_in_open_transactions_both_land(table, database, conn):
    a, b = session(database), session(database)
    try:
        a.execute("BEGIN")
        b.execute("BEGIN")
        a.execute(f"INSERT INTO {table} VALUES (1001, 'a')")
        b.execute(f"INSERT INTO {table} VALUES (1002, 'b')")
        a.execute("COMMIT")
        b.execute("COMMIT")  # rebased on a's snapshot
    finally:
        a.close()
        b.close()
    assert conn.execute(f"SELECT id FROM {table} WHERE id > 1000 ORDER BY id").fetchall() == [(1001,), (1002,)]


def test_conflicting_deletes_fail_with_serialization_failure(table, database, conn):
    """Two transactions rewriting the same file: the second COMMIT fails with
    SQLSTATE 40001 and changes nothing; a retry succeeds."""
    a, b = session(database), session(database)
    try:
        a.execute("BEGIN")
        b.execute("BEGIN")
        a.execute(f"DELETE FROM {table} WHERE id = 1")
        b.execute(f"DELETE FROM {table} WHERE id = 2")
        a.execute("COMMIT")
        with pytest.raises(psycopg.errors.SerializationFailure) as failure:
            b.execute("COMMIT")
        assert failure.value.sqlstate == "40001"
        assert b.execute("SELECT 1").fetchone() == (1,)
        b.execute(f"DELETE FROM {table} WHERE id = 2")  # the retry
    finally:
        a.close()
        b.close()
    assert count_sum(conn, table) == (98, 5050 - 3)


def test_conflicting_updates(table, database, conn):
    a, b = session(database), session(database)
    try:
        a.execute("BEGIN")
        b.execute("BEGIN")
        a.execute(f"UPDATE {table} SET v = 'a' WHERE id = 5")
        b.execute(f"UPDATE {table} SET v = 'b' WHERE id = 6")
        b.execute("COMMIT")
        with pytest.raises(psycopg.errors.SerializationFailure):
            a.execute("COMMIT")
    finally:
        a.close()
        b.close()
    assert conn.execute(f"SELECT id, v FROM {table} WHERE v <> 'base'").fetchall() == [(6, "b")]


def test_append_while_other_session_deletes(table, database, conn):
    """An append does not conflict with a delete of other files."""
    a, b = session(database), session(database)
    try:
        a.execute("BEGIN")
        b.execute("BEGIN")
        a.execute(f"DELETE FROM {table} WHERE id <= 100")
        b.execute(f"INSERT INTO {table} VALUES (5000, 'appended')")
        a.execute("COMMIT")
        b.execute("COMMIT")
    finally:
        a.close()
        b.close()
    assert conn.execute(f"SELECT id FROM {table}").fetchall() == [(5000,)]


def test_reader_during_long_write_sees_old_state(table, database, conn):
    """A concurrent reader never sees a partly written statement."""
    writer = session(database)
    done = threading.Event()
    seen: list[tuple] = []

    def write():
        try:
            writer.execute(f"INSERT INTO {table} SELECT g, 'bulk' FROM generate_series(10001, 60000) g")
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    while not done.is_set():
        seen.append(count_sum(conn, table))
    thread.join()
    writer.close()
    assert set(seen) <= {(100, 5050), (50100, 5050 + sum(range(10001, 60001)))}
    assert count_sum(conn, table) == (50100, 5050 + sum(range(10001, 60001)))
