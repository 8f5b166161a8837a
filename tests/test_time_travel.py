"""Snapshots, time travel, schema evolution and deletes made by PyIceberg."""

import datetime as dt

import psycopg
import pyarrow as pa
import pytest
from psycopg import sql
from pyiceberg.expressions import EqualTo, In
from pyiceberg.types import StringType

from lakedata import EVOLVING_SCHEMA, evolving_rows
from lakehelpers import arrow_rows, assert_same_rows, compare_query, expect_error, pg_rows

NAMESPACE = "history"


def _append(table, first_id, count, columns):
    rows = evolving_rows(first_id, count, columns)
    table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))


@pytest.fixture(scope="module")
def evolving(lake, conn):
    """Snapshots: append; add column `note` + append; rename name->label + append;
    drop column `amount` + append; delete id % 10 = 0. Imported at the end."""
    table = lake.create_table(NAMESPACE, "evolving", EVOLVING_SCHEMA)
    _append(table, 1, 50, ["id", "name", "amount"])
    with table.update_schema() as update:
        update.add_column("note", StringType())
    _append(table, 51, 50, ["id", "name", "amount", "note"])
    with table.update_schema() as update:
        update.rename_column("name", "label")
    _append(table, 101, 50, ["id", "label", "amount", "note"])
    with table.update_schema() as update:
        update.delete_column("amount")
    _append(table, 151, 50, ["id", "label", "note"])
    table.delete(In("id", set(range(10, 201, 10))))
    table.refresh()
    return table, lake.import_table(conn, NAMESPACE, "evolving")


def _snapshot_columns(table, snapshot_id):
    """Columns of the current schema that existed (by field id) at a snapshot:
    (current name, name at that snapshot)."""
    snapshot = table.snapshot_by_id(snapshot_id)
    old_schema = table.schemas()[snapshot.schema_id]
    old_ids = {f.field_id: f.name for f in old_schema.fields}
    return [(f.name, old_ids[f.field_id]) for f in table.schema().fields if f.field_id in old_ids]


def _compare_at_snapshot(conn, table, foreign, snapshot_id):
    pairs = _snapshot_columns(table, snapshot_id)
    old_names = [old for _, old in pairs]
    expected_table = table.scan(snapshot_id=snapshot_id, selected_fields=tuple(old_names)).to_arrow()
    expected = arrow_rows(expected_table, old_names)
    select = ", ".join(f'"{new}"' for new, _ in pairs)
    actual = pg_rows(conn, f"SELECT {select} FROM {foreign}",
                     arrow_types=[expected_table.schema.field(c).type for c in old_names])
    assert_same_rows(actual, expected, f"snapshot {snapshot_id}")
    return len(expected)


def test_current_read_after_evolution_and_delete(evolving, conn):
    table, foreign = evolving
    columns = [f.name for f in table.schema().fields]
    assert columns == ["id", "label", "note"]
    assert compare_query(conn, table, foreign, columns) == 180
    assert conn.execute(f"SELECT count(*) FROM {foreign} WHERE id % 10 = 0").fetchone() == (0,)
    # rows written before the rename are read by field id, under the new name
    assert conn.execute(f"SELECT label FROM {foreign} WHERE id = 7").fetchone() == ("n7",)
    # rows written before `note` existed read it as NULL
    assert conn.execute(f"SELECT note FROM {foreign} WHERE id = 7").fetchone() == (None,)


def test_snapshots_function(evolving, conn):
    table, foreign = evolving
    rows = conn.execute(
        "SELECT snapshot_id, parent_id, committed_at, operation, summary "
        f"FROM lake.snapshots('{foreign}'::regclass) ORDER BY committed_at, snapshot_id").fetchall()
    snapshots = sorted(table.snapshots(), key=lambda s: (s.timestamp_ms, s.snapshot_id))
    assert [r[0] for r in rows] == [s.snapshot_id for s in snapshots]
    assert [r[1] for r in rows] == [s.parent_snapshot_id for s in snapshots]
    for row, snap in zip(rows, snapshots):
        assert row[2] == dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, dt.timezone.utc)
        assert row[3] == snap.summary.operation.value
        assert row[4]["total-records"] == snap.summary["total-records"]
    assert {r[3] for r in rows} >= {"append"}
    assert len(rows) >= 5


def test_set_snapshot_id_reads_each_snapshot(evolving, conn):
    table, foreign = evolving
    for snapshot in table.snapshots():
        conn.execute(f"SET townlake.iceberg_snapshot_id = '{snapshot.snapshot_id}'")
        try:
            expected_count = _compare_at_snapshot(conn, table, foreign, snapshot.snapshot_id)
            assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone()[0] == expected_count
        finally:
            conn.execute("RESET townlake.iceberg_snapshot_id")
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (180,)


def test_explain_shows_pinned_snapshot(evolving, conn):
    table, foreign = evolving
    first = table.history()[0].snapshot_id
    conn.execute(f"SET townlake.iceberg_snapshot_id = '{first}'")
    try:
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT * FROM {foreign}"))
    finally:
        conn.execute("RESET townlake.iceberg_snapshot_id")
    assert f"Snapshot: {first}" in plan


def test_set_as_of(evolving, conn):
    table, foreign = evolving
    history = table.history()
    second = history[1]
    at = dt.datetime.fromtimestamp(second.timestamp_ms / 1000, dt.timezone.utc)
    conn.execute(f"SET townlake.iceberg_as_of = '{at.isoformat()}'")
    try:
        assert _compare_at_snapshot(conn, table, foreign, second.snapshot_id) == 100
    finally:
        conn.execute("RESET townlake.iceberg_as_of")


def test_set_local_ends_with_transaction(evolving, conn):
    table, foreign = evolving
    first = table.history()[0].snapshot_id
    with conn.transaction():
        conn.execute(f"SET LOCAL townlake.iceberg_snapshot_id = '{first}'")
        assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (50,)
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (180,)


def _at_micros(micros: int) -> str:
    """A Unix time in microseconds as an ISO timestamptz literal (UTC)."""
    return (dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)).isoformat()


def _set_as_of(conn, literal: str) -> None:
    conn.execute(sql.SQL("SET LOCAL townlake.iceberg_as_of = {}").format(sql.Literal(literal)))


def _read_as_of(conn, table, foreign, literal, snapshot_id):
    with conn.transaction():
        _set_as_of(conn, literal)
        return _compare_at_snapshot(conn, table, foreign, snapshot_id)


def test_as_of_between_snapshots_reads_the_earlier_one(evolving, conn):
    """A time after a commit and before the next reads the earlier snapshot;
    one microsecond before a commit's millisecond does not read that commit."""
    table, foreign = evolving
    history = table.history()
    tested = 0
    for earlier, later in zip(history, history[1:]):
        if later.timestamp_ms == earlier.timestamp_ms:
            continue
        middle = (earlier.timestamp_ms * 1000 + later.timestamp_ms * 1000) // 2
        _read_as_of(conn, table, foreign, _at_micros(middle), earlier.snapshot_id)
        # rounding to the nearest millisecond would read `later` here
        _read_as_of(conn, table, foreign, _at_micros(later.timestamp_ms * 1000 - 1), earlier.snapshot_id)
        _read_as_of(conn, table, foreign, _at_micros(later.timestamp_ms * 1000), later.snapshot_id)
        tested += 1
    assert tested >= 3, f"too few distinct commit times to test: {history}"


def test_as_of_in_other_time_zones(evolving, conn):
    """A literal without an offset is in the session's TimeZone, as for any timestamptz."""
    table, foreign = evolving
    second = table.history()[1]
    at = dt.datetime.fromtimestamp(second.timestamp_ms / 1000, dt.timezone.utc)
    kolkata = at.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    _read_as_of(conn, table, foreign, kolkata.isoformat(), second.snapshot_id)
    with conn.transaction():
        conn.execute("SET LOCAL TimeZone = 'America/New_York'")
        offset = conn.execute("SELECT extract(timezone FROM %s::timestamptz)::int", (at,)).fetchone()[0]
        wall_clock = at.astimezone(dt.timezone(dt.timedelta(seconds=offset))).replace(tzinfo=None).isoformat()
        _set_as_of(conn, wall_clock)
        assert _compare_at_snapshot(conn, table, foreign, second.snapshot_id) == 100
        # the same text read as UTC is hours before the first commit
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        _set_as_of(conn, wall_clock)
        expect_error(conn, f"SELECT count(*) FROM {foreign}", "no snapshot as of that time")


def test_as_of_infinity_reads_the_current_snapshot(evolving, conn):
    table, foreign = evolving
    _read_as_of(conn, table, foreign, "infinity", table.current_snapshot().snapshot_id)
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_as_of = '-infinity'")
        expect_error(conn, f"SELECT count(*) FROM {foreign}", "no snapshot as of that time")


def test_as_of_before_first_snapshot_is_an_error(evolving, conn):
    table, foreign = evolving
    first_ms = table.history()[0].timestamp_ms
    first = dt.datetime.fromtimestamp(first_ms / 1000, dt.timezone.utc)
    for literal in (_at_micros(first_ms * 1000 - 3_600_000_000), _at_micros(first_ms * 1000 - 1)):
        with conn.transaction():
            _set_as_of(conn, literal)
            message = expect_error(conn, f"SELECT count(*) FROM {foreign}",
                                   "no snapshot as of that time", "first snapshot was committed at")
            assert first.isoformat()[:19] in message, message


@pytest.mark.parametrize("text", ["yesterday-ish", "2024-13-01 00:00:00+00", "2024-05-01 25:00:00",
                                  "2024-05-01 12:00:00 Mars/Olympus", "now() - interval '1 day'"])
def test_as_of_invalid_text_is_refused_at_set(evolving, conn, text):
    """SET checks the value with timestamptz input; the setting keeps its old value."""
    _, foreign = evolving
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_as_of = '2030-01-01 00:00:00+00'")
        with pytest.raises(psycopg.errors.InvalidParameterValue,
                           match="is not a timestamp with time zone") as failure:
            with conn.transaction():
                _set_as_of(conn, text)
        assert text in str(failure.value)
        assert conn.execute("SHOW townlake.iceberg_as_of").fetchone() == ("2030-01-01 00:00:00+00",)
        assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (180,)
    expect_error(conn, f"SET townlake.iceberg_as_of = '{text.replace(chr(39), chr(39) * 2)}'",
                 "is not a timestamp with time zone")
    assert conn.execute("SHOW townlake.iceberg_as_of").fetchone() == ("",)


def test_unknown_snapshot_id_is_an_error(evolving, conn):
    _, foreign = evolving
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_snapshot_id = '12345'")
        expect_error(conn, f"SELECT * FROM {foreign}", "12345")


def test_table_option_pins_snapshot(evolving, conn, lake):
    table, _ = evolving
    second = table.history()[1].snapshot_id
    name = f"pinned_{lake.kind}"
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    conn.execute(f"CREATE FOREIGN TABLE {name} (id bigint, label text, note text) SERVER {lake.server} "
                 f"OPTIONS (namespace '{NAMESPACE}', table 'evolving', snapshot_id '{second}')")
    assert _compare_at_snapshot(conn, table, name, second) == 100


def test_new_commit_visible_to_next_statement(lake, conn):
    table = lake.create_table(NAMESPACE, "growing", EVOLVING_SCHEMA)
    _append(table, 1, 10, ["id", "name", "amount"])
    foreign = lake.import_table(conn, NAMESPACE, "growing")
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (10,)
    _append(table, 11, 5, ["id", "name", "amount"])
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (15,)
    table.delete(EqualTo("id", 3))
    assert conn.execute(f"SELECT count(*) FROM {foreign} WHERE id = 3").fetchone() == (0,)
    assert conn.execute(f"SELECT count(*) FROM {foreign}").fetchone() == (14,)
