"""Schema and partition evolution, maintenance (compact, expire_snapshots,
remove_orphan_files), lake.create_table_as and DROP FOREIGN TABLE, with
PyIceberg (and DuckDB where the files' column names still match) reading
the results."""

from __future__ import annotations

import decimal
import re

import pyarrow as pa
import pytest
from pyiceberg.types import DecimalType, DoubleType, IntegerType, LongType, StringType

from lakehelpers import expect_error
from writehelpers import (assert_readers_agree, data_files, live_data_files, load, local_path,
                          parquet_files_on_disk, snapshot_count, snapshots)


def create(conn, ns: str, name: str, columns: str, partition_by: str | None = None) -> str:
    relation = f'"{ns}"."{name}"'
    options = f"namespace '{ns}', table '{name}'" + (f", partition_by '{partition_by}'" if partition_by else "")
    with conn.transaction():
        # purge a previous incarnation, so that its files are not orphans of the new table
        conn.execute("SET LOCAL townlake.iceberg_purge_on_drop = on")
        conn.execute(f"DROP FOREIGN TABLE IF EXISTS {relation}")
    conn.execute(f"CREATE FOREIGN TABLE {relation} ({columns}) SERVER lake_local OPTIONS ({options})")
    return relation


def fields(table) -> dict[str, tuple[int, object, bool]]:
    return {f.name: (f.field_id, f.field_type, f.required) for f in table.schema().fields}


# ---------------------------------------------------------------- schema evolution

EVOLVE_DDL = "id bigint NOT NULL, a integer, r real, c numeric(8,2), d text, gone text"


# A heap table that receives the same statements as the foreign table
# `evolving`: the source every reader of the Iceberg table is compared with.
HEAP = "evolving_src"


def on_both(conn, relation: str, statement: str) -> None:
    conn.execute(statement)
    conn.execute(statement.replace(relation, HEAP).replace("ALTER FOREIGN TABLE", "ALTER TABLE"))


@pytest.fixture()
def evolving(conn, write_ns):
    relation = create(conn, write_ns, "evolving", EVOLVE_DDL)
    conn.execute(f"DROP TABLE IF EXISTS {HEAP}")
    conn.execute(f"CREATE TEMP TABLE {HEAP} ({EVOLVE_DDL})")
    on_both(conn, relation, f"INSERT INTO {relation} SELECT g, g * 10, g / 4.0, g * 1.25, 'd' || g, 'x' "
                            f"FROM generate_series(1, 50) g")
    return relation


def test_add_column(evolving, conn, write_ns, local_lake):
    before = fields(load(local_lake.catalog, write_ns, "evolving"))
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} ADD COLUMN e text")
    after = fields(load(local_lake.catalog, write_ns, "evolving"))
    assert {k: v for k, v in after.items() if k != "e"} == before
    assert after["e"][0] == max(v[0] for v in before.values()) + 1 and after["e"][1] == StringType()
    on_both(conn, evolving, f"INSERT INTO {evolving} (id, e) VALUES (51, 'new')")
    assert conn.execute(f"SELECT count(*), count(e) FROM {evolving}").fetchone() == (51, 1)
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "evolving", evolving, source=HEAP) == 51


def test_rename_column_keeps_field_id(evolving, conn, write_ns, local_lake):
    before = fields(load(local_lake.catalog, write_ns, "evolving"))
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} RENAME COLUMN d TO label")
    after = fields(load(local_lake.catalog, write_ns, "evolving"))
    assert "d" not in after and after["label"] == before["d"]
    on_both(conn, evolving, f"INSERT INTO {evolving} (id, label) VALUES (51, 'after rename')")
    assert conn.execute(f"SELECT label FROM {evolving} WHERE id IN (7, 51) ORDER BY id").fetchall() == \
        [("d7",), ("after rename",)]
    # old files still call the column d: DuckDB's by-name read does not apply
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "evolving", evolving, use_duckdb=False, source=HEAP) == 51


def test_drop_column(evolving, conn, write_ns, local_lake):
    before = fields(load(local_lake.catalog, write_ns, "evolving"))
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} DROP COLUMN gone")
    after = fields(load(local_lake.catalog, write_ns, "evolving"))
    assert "gone" not in after and {k: v for k, v in before.items() if k != "gone"} == after
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} ADD COLUMN gone text")
    again = fields(load(local_lake.catalog, write_ns, "evolving"))
    assert again["gone"][0] != before["gone"][0], "a dropped field id must not be reused"
    assert conn.execute(f"SELECT count(gone) FROM {evolving}").fetchone() == (0,)
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "evolving", evolving, use_duckdb=False, source=HEAP) == 50


def test_widening_type_changes(evolving, conn, write_ns, local_lake):
    before = fields(load(local_lake.catalog, write_ns, "evolving"))
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} ALTER COLUMN a TYPE bigint")
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} ALTER COLUMN r TYPE double precision")
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} ALTER COLUMN c TYPE numeric(14,2)")
    after = fields(load(local_lake.catalog, write_ns, "evolving"))
    assert after["a"] == (before["a"][0], LongType(), False)
    assert after["r"] == (before["r"][0], DoubleType(), False)
    assert after["c"] == (before["c"][0], DecimalType(14, 2), False)
    on_both(conn, evolving, f"INSERT INTO {evolving} (id, a, r, c) VALUES (51, 9000000000, 1e300, 123456789012.34)")
    assert conn.execute(f"SELECT a, r, c FROM {evolving} WHERE id IN (4, 51) ORDER BY id").fetchall() == [
        (40, 1.0, decimal.Decimal("5.00")), (9000000000, 1e300, decimal.Decimal("123456789012.34"))]
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "evolving", evolving, use_duckdb=False, source=HEAP) == 51


CANNOT = "Iceberg cannot change a column from"


@pytest.mark.parametrize("change, fragments", [
    ("ALTER COLUMN id TYPE integer", ['"id"', CANNOT + " long to int"]),
    ("ALTER COLUMN a TYPE smallint", ['"a"', "narrowing to smallint is not allowed"]),
    ("ALTER COLUMN d TYPE integer", ['"d"', CANNOT + " string to int"]),
    # Postgres itself refuses USING on a foreign table
    ("ALTER COLUMN d TYPE integer USING length(d)", ["is not a table"]),
    ("ALTER COLUMN r TYPE integer", ['"r"', CANNOT + " float to int"]),
    ("ALTER COLUMN c TYPE numeric(6,2)", ['"c"', CANNOT + " decimal(8, 2) to decimal(6, 2)"]),
    ("ALTER COLUMN c TYPE numeric(10,3)", ['"c"', CANNOT + " decimal(8, 2) to decimal(10, 3)"]),
    ("ALTER COLUMN a TYPE text", ['"a"', CANNOT + " int to string"]),
    ("ALTER COLUMN a TYPE real", ['"a"', CANNOT + " int to float"]),
])
def test_incompatible_type_change_is_an_error(change, fragments, evolving, conn, write_ns, local_lake):
    before = fields(load(local_lake.catalog, write_ns, "evolving"))
    pg_types = conn.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                            (evolving,)).fetchall()
    expect_error(conn, f"ALTER FOREIGN TABLE {evolving} {change}", *fragments)
    assert fields(load(local_lake.catalog, write_ns, "evolving")) == before
    assert conn.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                        (evolving,)).fetchall() == pg_types
    assert conn.execute(f"SELECT count(*) FROM {evolving}").fetchone() == (50,)


def test_rolled_back_alter_leaves_the_schema(evolving, conn, write_ns, local_lake):
    before = fields(load(local_lake.catalog, write_ns, "evolving"))
    conn.execute("BEGIN")
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} ADD COLUMN tmp integer")
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} RENAME COLUMN d TO d_tmp")
    conn.execute("ROLLBACK")
    assert fields(load(local_lake.catalog, write_ns, "evolving")) == before
    assert conn.execute(f"SELECT count(d) FROM {evolving}").fetchone() == (50,)


def test_pyiceberg_sees_and_writes_the_evolved_schema(evolving, conn, write_ns, local_lake):
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} ADD COLUMN e integer")
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} RENAME COLUMN d TO label")
    table = load(local_lake.catalog, write_ns, "evolving")
    rows = [{"id": 100 + i, "a": i, "r": 0.5, "c": decimal.Decimal("1.00"), "label": "py", "gone": None, "e": i}
            for i in range(5)]
    table.append(pa.Table.from_pylist(rows, schema=table.schema().as_arrow()))
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {HEAP} (id, a, r, c, label, gone, e) "
                        f"VALUES (%(id)s, %(a)s, %(r)s, %(c)s, %(label)s, %(gone)s, %(e)s)", rows)
    assert conn.execute(f"SELECT sum(e), count(*) FILTER (WHERE label = 'py') FROM {evolving}").fetchone() == (10, 5)
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "evolving", evolving, use_duckdb=False, source=HEAP) == 55


def test_add_required_column_is_refused(evolving, conn, write_ns, local_lake):
    """Iceberg cannot add a required column to a table with rows: an ERROR,
    and neither the Iceberg schema nor the foreign table changes."""
    before = fields(load(local_lake.catalog, write_ns, "evolving"))
    expect_error(conn, f"ALTER FOREIGN TABLE {evolving} ADD COLUMN must integer NOT NULL", "cannot be NOT NULL")
    assert fields(load(local_lake.catalog, write_ns, "evolving")) == before
    assert conn.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'must'",
                        (evolving,)).fetchone() == (0,)
    assert conn.execute(f"SELECT count(*) FROM {evolving}").fetchone() == (50,)


# ---------------------------------------------------------------- partition evolution

def test_set_partitioning_old_files_keep_their_spec(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "repartitioned", "id bigint NOT NULL, ts timestamptz, k integer",
                      partition_by="day(ts)")
    insert = (f"INSERT INTO {relation} SELECT g, TIMESTAMPTZ '2024-03-01 00:00:00+00' + "
              f"(g * interval '37 minutes'), g % 5 FROM generate_series({{}}, {{}}) g")
    conn.execute(insert.format(1, 1000))
    report = conn.execute(f"SELECT lake.set_partitioning('{relation}', 'month(ts), bucket(4, id)')").fetchone()[0]
    assert isinstance(report, dict)
    conn.execute(insert.format(1001, 2000))
    table = load(local_lake.catalog, write_ns, "repartitioned")
    assert len(table.specs()) == 2
    assert [str(f.transform) for f in table.spec().fields] == ["month", "bucket[4]"]
    spec_ids = {f.spec_id for f in data_files(table)}
    assert len(spec_ids) == 2, "old files keep the old spec, new files get the new one"
    source = ("(SELECT g AS id, TIMESTAMPTZ '2024-03-01 00:00:00+00' + (g * interval '37 minutes') AS ts, "
              "g % 5 AS k FROM generate_series(1, {}) g) s")
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "repartitioned", relation,
                                source=source.format(2000)) == 2000
    # pruning works on both specs: one day in the old range, one day in the new
    for day, next_day in (("2024-03-05", "2024-03-06"), ("2024-03-30", "2024-03-31")):
        where = f"ts >= '{day} 00:00:00+00' AND ts < '{next_day} 00:00:00+00'"
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT count(*) FROM {relation} WHERE {where}"))
        planned, skipped = map(int, re.search(r"Data Files: (\d+) planned, (\d+) skipped", plan).groups())
        assert skipped > 0, plan
        ours = conn.execute(f"SELECT count(*) FROM {relation} WHERE {where}").fetchone()[0]
        theirs = table.scan(row_filter=f"ts >= '{day}T00:00:00+00:00' and ts < '{next_day}T00:00:00+00:00'") \
            .to_arrow().num_rows
        assert ours == theirs
    # back to unpartitioned
    conn.execute(f"SELECT lake.set_partitioning('{relation}', '')")
    conn.execute(insert.format(2001, 2100))
    assert load(local_lake.catalog, write_ns, "repartitioned").spec().is_unpartitioned()
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "repartitioned", relation,
                                source=source.format(2100)) == 2100


@pytest.mark.parametrize("spec, fragment", [
    ("day(", "partition"), ("frobnicate(ts)", "frobnicate"), ("day(nope)", "nope"), ("bucket(x, id)", "bucket"),
])
def test_set_partitioning_bad_spec(spec, fragment, conn, write_ns):
    relation = create(conn, write_ns, "bad_repartition", "id bigint NOT NULL, ts timestamptz")
    expect_error(conn, f"SELECT lake.set_partitioning('{relation}', '{spec}')", fragment)


# ---------------------------------------------------------------- maintenance

@pytest.fixture()
def small_files(conn, write_ns):
    relation = create(conn, write_ns, "small_files", "id bigint NOT NULL, k integer, v text", partition_by="k")
    for i in range(12):
        conn.execute(f"INSERT INTO {relation} SELECT g, g % 2, 'v' || g FROM generate_series({i * 100 + 1}, {i * 100 + 100}) g")
    return relation


def small_files_source(where: str = "true") -> str:
    """The rows small_files was given, generated by Postgres alone."""
    return f"(SELECT g AS id, g % 2 AS k, 'v' || g AS v FROM generate_series(1, 1200) g WHERE {where}) s"


def test_compact_rewrites_small_files(small_files, conn, write_ns, local_lake):
    before = len(live_data_files(load(local_lake.catalog, write_ns, "small_files")))
    assert before == 24
    conn.execute(f"DELETE FROM {small_files} WHERE id % 10 = 0")
    report = conn.execute(f"SELECT lake.compact('{small_files}')").fetchone()[0]
    assert report["files_rewritten"] >= 20 and 1 <= report["files_written"] <= 4, report
    table = load(local_lake.catalog, write_ns, "small_files")
    after = live_data_files(table)
    assert len(after) <= 4
    assert {f.partition[0] for f in data_files(table)} == {0, 1}
    assert snapshots(conn, small_files)[-1][2] == "replace"
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "small_files", small_files,
                                source=small_files_source("g % 10 <> 0")) == 1080
    again = conn.execute(f"SELECT lake.compact('{small_files}')").fetchone()[0]
    assert again["files_rewritten"] == 0


def test_compact_with_target_size_and_empty_table(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "compact_empty", "id bigint NOT NULL")
    report = conn.execute(f"SELECT lake.compact('{relation}', 16)").fetchone()[0]
    assert report["files_rewritten"] == 0
    conn.execute(f"INSERT INTO {relation} VALUES (1)")
    conn.execute(f"INSERT INTO {relation} VALUES (2)")
    report = conn.execute(f"SELECT lake.compact('{relation}', 16)").fetchone()[0]
    assert report["files_rewritten"] == 2 and report["files_written"] == 1
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "compact_empty", relation,
                                source=[(1,), (2,)]) == 2
    # A target size outside the setting's own range is refused, and the
    # table keeps its files.
    for bad in (-1, 0, 100000):
        with pytest.raises(Exception, match="target_file_size_mb must be 1 to 8192"):
            conn.execute(f"SELECT lake.compact('{relation}', {bad})")
    assert conn.execute(f"SELECT count(*), sum(id) FROM {relation}").fetchone() == (2, 3)


def test_compact_refused_with_pending_writes(small_files, conn):
    conn.execute("BEGIN")
    try:
        conn.execute(f"INSERT INTO {small_files} VALUES (99999, 0, 'pending')")
        with pytest.raises(Exception, match="uncommitted"):
            conn.execute(f"SELECT lake.compact('{small_files}')")
    finally:
        conn.execute("ROLLBACK")


def test_expire_snapshots_then_remove_orphans(small_files, conn, write_ns, local_lake):
    conn.execute(f"SELECT lake.compact('{small_files}')")
    history = snapshots(conn, small_files)
    assert len(history) == 13
    first = history[0][0]
    kept = conn.execute(f"SELECT lake.expire_snapshots('{small_files}')").fetchone()[0]
    assert kept["expired_snapshots"] == [], "the default keeps snapshots younger than 5 days"
    report = conn.execute(f"SELECT lake.expire_snapshots('{small_files}', now(), 1)").fetchone()[0]
    assert len(report["expired_snapshots"]) == 12 and report["remaining_snapshots"] == 1
    assert snapshot_count(conn, small_files) == 1
    expect_error(conn, f"SET LOCAL townlake.iceberg_snapshot_id = '{first}'; SELECT count(*) FROM {small_files}",
                 str(first))
    location = load(local_lake.catalog, write_ns, "small_files").location()
    on_disk = parquet_files_on_disk(location)
    dry = conn.execute(f"SELECT lake.remove_orphan_files('{small_files}', now(), true)").fetchone()[0]
    assert dry["dry_run"] is True and dry["deleted"] == 0 and dry["orphan_files"] >= 24
    assert parquet_files_on_disk(location) == on_disk
    report = conn.execute(f"SELECT lake.remove_orphan_files('{small_files}', older_than => now())").fetchone()[0]
    assert report["deleted"] == dry["orphan_files"]
    remaining = parquet_files_on_disk(location)
    live = {local_path(p) for p in live_data_files(load(local_lake.catalog, write_ns, "small_files"))}
    assert remaining == live, "only the live data files are left"
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "small_files", small_files,
                                source=small_files_source()) == 1200


def test_remove_orphan_files_of_a_rolled_back_transaction(small_files, conn, write_ns, local_lake):
    location = load(local_lake.catalog, write_ns, "small_files").location()
    before = parquet_files_on_disk(location)
    conn.execute("BEGIN")
    conn.execute(f"INSERT INTO {small_files} SELECT g, g % 2, 'rolled back' FROM generate_series(5000, 6000) g")
    conn.execute("ROLLBACK")
    aborted = parquet_files_on_disk(location) - before
    assert aborted, "the rolled-back INSERT left its files"
    young = conn.execute(f"SELECT lake.remove_orphan_files('{small_files}')").fetchone()[0]
    assert young["deleted"] == 0, "files younger than 3 days are kept by default"
    # Red team: a read-only transaction (the MCP server's) deleted files that
    # its ROLLBACK could not bring back; maintenance is refused there, a dry run lists
    for call in (f"lake.remove_orphan_files('{small_files}', now())", f"lake.compact('{small_files}')",
                 f"lake.expire_snapshots('{small_files}', now(), 1)", f"lake.set_partitioning('{small_files}', '')"):
        expect_error(conn, f"SET TRANSACTION READ ONLY; SELECT {call}", "read-only transaction")
    assert parquet_files_on_disk(location) - before == aborted
    conn.execute("BEGIN TRANSACTION READ ONLY")
    listed = conn.execute(f"SELECT lake.remove_orphan_files('{small_files}', now(), true)").fetchone()[0]
    conn.execute("ROLLBACK")
    assert {local_path(p) for p in listed["files"]} >= aborted and listed["deleted"] == 0
    assert parquet_files_on_disk(location) - before == aborted
    report = conn.execute(f"SELECT lake.remove_orphan_files('{small_files}', now())").fetchone()[0]
    assert {local_path(p) for p in report["files"]} >= aborted
    assert parquet_files_on_disk(location) == before
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "small_files", small_files,
                                source=small_files_source()) == 1200


def test_remove_orphan_files_keeps_files_older_snapshots_use(small_files, conn, write_ns, local_lake):
    """A DELETE rewrites files: the old ones leave the current snapshot but
    older snapshots still use them, so they are not orphans until those
    snapshots expire."""
    table = load(local_lake.catalog, write_ns, "small_files")
    first, location = table.current_snapshot().snapshot_id, table.location()
    conn.execute(f"DELETE FROM {small_files} WHERE id % 10 = 0")
    live = {local_path(p) for p in live_data_files(load(local_lake.catalog, write_ns, "small_files"))}
    on_disk = parquet_files_on_disk(location)
    superseded = on_disk - live
    assert superseded, "the DELETE should have replaced files"
    report = conn.execute(f"SELECT lake.remove_orphan_files('{small_files}', older_than => now())").fetchone()[0]
    assert report["deleted"] == 0, report
    assert parquet_files_on_disk(location) == on_disk
    # the superseded files are still read at the older snapshot
    with conn.transaction():
        conn.execute(f"SET LOCAL townlake.iceberg_snapshot_id = '{first}'")
        assert conn.execute(f"SELECT count(*), sum(id) FROM {small_files}").fetchone() == (1200, sum(range(1, 1201)))
    assert load(local_lake.catalog, write_ns, "small_files").scan(snapshot_id=first).to_arrow().num_rows == 1200
    # once nothing uses them, they go
    conn.execute(f"SELECT lake.expire_snapshots('{small_files}', now(), 1)")
    report = conn.execute(f"SELECT lake.remove_orphan_files('{small_files}', older_than => now())").fetchone()[0]
    assert {local_path(p) for p in report["files"] if p.endswith(".parquet")} == superseded
    assert parquet_files_on_disk(location) == live
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "small_files", small_files,
                                source=small_files_source("g % 10 <> 0")) == 1080


def test_expire_keeps_snapshots_of_pyiceberg_tags_and_branches(small_files, conn, write_ns, local_lake):
    """A tag and a branch made by another engine keep their snapshots (and
    their files) through expire_snapshots and remove_orphan_files."""
    history = snapshots(conn, small_files)
    tagged, branched = history[2][0], history[6][0]
    table = load(local_lake.catalog, write_ns, "small_files")
    table.manage_snapshots().create_tag(tagged, "audit-2024").create_branch(branched, "experiment").commit()
    conn.execute(f"DELETE FROM {small_files} WHERE id % 10 = 0")
    report = conn.execute(f"SELECT lake.expire_snapshots('{small_files}', now(), 1)").fetchone()[0]
    remaining = {s[0] for s in snapshots(conn, small_files)}
    assert tagged in remaining and branched in remaining, report
    assert set(report["expired_snapshots"]) == {s[0] for s in history} - {tagged, branched}
    assert len(remaining) == 3, "the tag's, the branch's and the current snapshot"
    conn.execute(f"SELECT lake.remove_orphan_files('{small_files}', older_than => now())")
    table = load(local_lake.catalog, write_ns, "small_files")
    assert set(table.metadata.refs) == {"main", "audit-2024", "experiment"}
    # snapshot k of small_files holds the first (k + 1) * 100 ids
    for snapshot_id, rows in ((tagged, 300), (branched, 700)):
        with conn.transaction():
            conn.execute(f"SET LOCAL townlake.iceberg_snapshot_id = '{snapshot_id}'")
            assert conn.execute(f"SELECT count(*), sum(id) FROM {small_files}").fetchone() == \
                (rows, sum(range(1, rows + 1)))
        assert table.scan(snapshot_id=snapshot_id).to_arrow().num_rows == rows


def test_maintenance_on_a_read_only_table_is_an_error(small_files, conn, write_ns):
    snapshot = snapshots(conn, small_files)[-1][0]
    pinned = f'"{write_ns}".pinned_small'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {pinned}")
    conn.execute(f"CREATE FOREIGN TABLE {pinned} (id bigint, k integer, v text) SERVER lake_local "
                 f"OPTIONS (namespace '{write_ns}', table 'small_files', snapshot_id '{snapshot}')")
    for call in (f"lake.compact('{pinned}')", f"lake.expire_snapshots('{pinned}', now())",
                 f"lake.remove_orphan_files('{pinned}', now())", f"lake.set_partitioning('{pinned}', 'k')"):
        expect_error(conn, f"SELECT {call}", "read-only")


# ---------------------------------------------------------------- create_table_as and DROP

def test_create_table_as(conn, write_ns, local_lake):
    written = conn.execute(
        f"SELECT lake.create_table_as('{write_ns}.ctas', $$SELECT g AS id, "
        f"TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 hour' AS ts, "
        f"(g % 3)::numeric(6,2) AS amount, 'n' || g AS name FROM generate_series(1, 500) g$$, 'day(ts)')"
    ).fetchone()[0]
    assert written == 500
    table = load(local_lake.catalog, write_ns, "ctas")
    assert [str(f.transform) for f in table.spec().fields] == ["day"]
    assert {f.name: f.field_type for f in table.schema().fields} == {
        "id": IntegerType(), "ts": table.schema().find_field("ts").field_type,
        "amount": DecimalType(6, 2), "name": StringType()}
    source = ("(SELECT g AS id, TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 hour' AS ts, "
              "(g % 3)::numeric(6,2) AS amount, 'n' || g AS name FROM generate_series(1, 500) g) s")
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "ctas", f'"{write_ns}".ctas', source=source) == 500


def test_create_table_as_failing_query_creates_nothing(conn, write_ns):
    expect_error(conn, f"SELECT lake.create_table_as('{write_ns}.ctas_bad', "
                       f"'SELECT g, (CASE WHEN g < 100 THEN ''1'' ELSE ''x'' END)::int AS v FROM generate_series(1, 200) g')",
                 "invalid input syntax")
    assert conn.execute("SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s "
                        "AND table_name = 'ctas_bad'", (write_ns,)).fetchone() == (0,)


def _catalog_has(conn, ns: str, name: str) -> bool:
    return conn.execute("SELECT count(*) = 1 FROM lake.iceberg_tables WHERE table_namespace = %s "
                        "AND table_name = %s", (ns, name)).fetchone()[0]


def test_drop_removes_from_catalog_keeps_files(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "dropped", "id bigint NOT NULL")
    conn.execute(f"INSERT INTO {relation} VALUES (1), (2)")
    location = load(local_lake.catalog, write_ns, "dropped").location()
    conn.execute("BEGIN")
    conn.execute(f"DROP FOREIGN TABLE {relation}")
    assert not _catalog_has(conn, write_ns, "dropped")
    conn.execute("ROLLBACK")
    assert _catalog_has(conn, write_ns, "dropped")
    assert conn.execute(f"SELECT count(*) FROM {relation}").fetchone() == (2,)
    conn.execute(f"DROP FOREIGN TABLE {relation}")
    assert not _catalog_has(conn, write_ns, "dropped")
    assert parquet_files_on_disk(location), "without purge_on_drop the files stay"


def test_drop_with_purge_deletes_files_after_commit(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "purged", "id bigint NOT NULL")
    conn.execute(f"INSERT INTO {relation} VALUES (1), (2)")
    location = load(local_lake.catalog, write_ns, "purged").location()
    assert parquet_files_on_disk(location)
    conn.execute("BEGIN")
    conn.execute("SET LOCAL townlake.iceberg_purge_on_drop = on")
    conn.execute(f"DROP FOREIGN TABLE {relation}")
    conn.execute("ROLLBACK")
    assert parquet_files_on_disk(location), "a rolled-back DROP purges nothing"
    with conn.transaction():
        conn.execute("SET LOCAL townlake.iceberg_purge_on_drop = on")
        conn.execute(f"DROP FOREIGN TABLE {relation}")
    assert not _catalog_has(conn, write_ns, "purged")
    assert not parquet_files_on_disk(location)


def test_drop_of_an_attached_table_keeps_the_iceberg_table(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "owner", "id bigint NOT NULL")
    conn.execute(f"INSERT INTO {relation} VALUES (1)")
    attached = f'"{write_ns}".attached_view'
    conn.execute(f"CREATE FOREIGN TABLE {attached} (id bigint) SERVER lake_local "
                 f"OPTIONS (namespace '{write_ns}', table 'owner')")
    conn.execute(f"DROP FOREIGN TABLE {attached}")
    assert _catalog_has(conn, write_ns, "owner")
    assert conn.execute(f"SELECT count(*) FROM {relation}").fetchone() == (1,)


@pytest.mark.parametrize("change", [
    "ADD COLUMN extra text",
    "ALTER COLUMN a TYPE bigint",
    "ALTER COLUMN r TYPE double precision",
    "ALTER COLUMN c TYPE numeric(14,2)",
    "RENAME COLUMN d TO label",
    "DROP COLUMN gone",
])
def test_compact_after_schema_evolution(change, evolving, conn, write_ns, local_lake):
    """Files written before the change are rewritten under the current schema."""
    on_both(conn, evolving, f"INSERT INTO {evolving} SELECT g, g * 10, g / 4.0, g * 1.25, 'd' || g, 'x' "
                 f"FROM generate_series(51, 60) g")
    on_both(conn, evolving, f"ALTER FOREIGN TABLE {evolving} {change}")
    on_both(conn, evolving, f"INSERT INTO {evolving} (id) VALUES (61)")
    before = conn.execute(f"SELECT * FROM {evolving} ORDER BY id").fetchall()
    report = conn.execute(f"SELECT lake.compact('{evolving}')").fetchone()[0]
    assert report["files_rewritten"] == 3 and report["files_written"] == 1, report
    assert conn.execute(f"SELECT * FROM {evolving} ORDER BY id").fetchall() == before
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "evolving", evolving, source=HEAP) == 61


def test_compact_after_partition_evolution(conn, write_ns, local_lake):
    relation = create(conn, write_ns, "compact_respec", "id bigint NOT NULL, k integer", partition_by="k")
    for i in range(3):
        conn.execute(f"INSERT INTO {relation} SELECT g, 1 FROM generate_series({i * 10 + 1}, {i * 10 + 10}) g")
    conn.execute(f"SELECT lake.set_partitioning('{relation}', 'bucket(2, id)')")
    for i in range(3, 6):
        conn.execute(f"INSERT INTO {relation} SELECT g, 1 FROM generate_series({i * 10 + 1}, {i * 10 + 10}) g")
    report = conn.execute(f"SELECT lake.compact('{relation}')").fetchone()[0]
    assert report["files_rewritten"] >= 3, report
    assert conn.execute(f"SELECT count(*), sum(id) FROM {relation}").fetchone() == (60, sum(range(1, 61)))
    assert assert_readers_agree(conn, local_lake.catalog, write_ns, "compact_respec", relation,
                                source=[(g, 1) for g in range(1, 61)]) == 60
    table = load(local_lake.catalog, write_ns, "compact_respec")
    assert table.scan(row_filter="id == 7").to_arrow().num_rows == 1


@pytest.mark.parametrize("change, expected_row", [
    # (id, a, extra): the new column reads NULL in every rewritten row
    ("ADD COLUMN extra text", lambda g: (g, g * 10, None)),
    # int -> bigint: the old int32 values are widened
    ("ALTER COLUMN a TYPE bigint", lambda g: (g, g * 10)),
])
def test_compact_right_after_schema_evolution(change, expected_row, conn, write_ns):
    """Issue 9 item 12: with no write after the change, the current snapshot
    still has the old schema; compaction must read files as the current one
    (it failed with "field not found" / "expected Int64 but found Int32")."""
    relation = create(conn, write_ns, "evolve_then_compact", "id bigint NOT NULL, a integer",
                      partition_by="bucket(2, id)")
    for i in range(3):
        conn.execute(f"INSERT INTO {relation} SELECT g, g * 10 FROM generate_series({i * 5 + 1}, {i * 5 + 5}) g")
    conn.execute(f"ALTER FOREIGN TABLE {relation} {change}")
    conn.execute(f"SELECT lake.set_partitioning('{relation}', 'bucket(3, id)')")
    report = conn.execute(f"SELECT lake.compact('{relation}')").fetchone()[0]
    assert report["files_rewritten"] >= 3, report
    assert conn.execute(f"SELECT * FROM {relation} ORDER BY id").fetchall() == [expected_row(g) for g in range(1, 16)]


def test_insert_through_a_stale_foreign_table_is_refused(conn, write_ns, local_lake):
    """Red team: another writer dropped a column; an INSERT through the
    foreign table that still declares it reported success and wrote the
    other columns only (the dropped column's values were lost)."""
    stale = create(conn, write_ns, "stale_cols", "id int, secret text")
    conn.execute(f"INSERT INTO {stale} VALUES (1, 'kept')")
    table = load(local_lake.catalog, write_ns, "stale_cols")
    with table.update_schema() as update:
        update.delete_column("secret")
        update.add_column("extra", StringType())
    files_before = data_files(load(local_lake.catalog, write_ns, "stale_cols"))
    message = expect_error(conn, f"INSERT INTO {stale} VALUES (2, 'lost?')", "secret", "does not exist")
    assert "nothing was written" in message
    expect_error(conn, f"SELECT * FROM {stale}", "secret", "does not exist")
    assert data_files(load(local_lake.catalog, write_ns, "stale_cols")) == files_before
    # once the foreign table no longer declares it, writes go on
    conn.execute(f"ALTER FOREIGN TABLE {stale} DROP COLUMN secret")
    conn.execute(f"INSERT INTO {stale} VALUES (2)")
    assert conn.execute(f"SELECT id FROM {stale} ORDER BY id").fetchall() == [(1,), (2,)]
