"""Settings: each part names its settings after itself; settings renamed in
0.2.0 keep working under their old names for one release (hidden from
SHOW ALL), and the new name wins when both are set."""

import time

import pytest

PARTS = ("iceberg", "clickhouse", "audit", "pii", "governance", "transform")

RENAMED = {
    "townlake.batch_size": "townlake.iceberg_batch_size",
    "townlake.write_batch_rows": "townlake.iceberg_write_batch_rows",
    "townlake.row_group_rows": "townlake.iceberg_row_group_rows",
    "townlake.target_file_size_mb": "townlake.iceberg_target_file_size_mb",
    "townlake.max_open_partitions": "townlake.iceberg_max_open_partitions",
    "townlake.min_parallel_rows": "townlake.iceberg_min_parallel_rows",
    "townlake.purge_on_drop": "townlake.iceberg_purge_on_drop",
    "townlake.scan_concurrency": "townlake.iceberg_scan_concurrency",
    "townlake.as_of": "townlake.iceberg_as_of",
    "townlake.snapshot_id": "townlake.iceberg_snapshot_id",
    "townlake.warehouse": "townlake.iceberg_warehouse",
    "townlake.grant_sweep_seconds": "townlake.governance_grant_sweep_seconds",
}


def test_every_setting_is_named_after_its_part(conn):
    names = [r[0] for r in conn.execute("SELECT name FROM pg_settings WHERE name LIKE 'townlake.%' ORDER BY 1")]
    assert len(names) >= 20, names
    stray = [n for n in names if n != "townlake.audit" and not n.split(".", 1)[1].startswith(tuple(p + "_" for p in PARTS))]
    assert stray == [], f"settings not named after their part: {stray}"
    assert not set(RENAMED) & set(names), "old names must be hidden from pg_settings / SHOW ALL"
    assert set(RENAMED.values()) <= set(names)


def test_every_setting_is_described(conn):
    rows = conn.execute(
        "SELECT name FROM pg_settings WHERE name LIKE 'townlake.%' AND coalesce(short_desc, '') = ''"
    ).fetchall()
    assert rows == []


@pytest.mark.parametrize("old,new", sorted(RENAMED.items()))
def test_old_name_is_a_deprecated_twin(conn, old, new):
    # the twin says where the setting went
    desc = conn.execute(
        "SELECT short_desc FROM pg_catalog.pg_show_all_settings() WHERE name = %s", (old,)
    ).fetchone()
    if desc is not None:  # hidden settings are not listed everywhere
        assert new in desc[0]
    # same default under both names
    assert conn.execute(f"SHOW {old}").fetchone()[0] == conn.execute(f"SHOW {new}").fetchone()[0]


def test_old_time_travel_name_still_reads_the_past(conn, database):
    conn.execute("CREATE FOREIGN TABLE settings_tt (id int) SERVER lake_local "
                 "OPTIONS (namespace 'settings_test', \"table\" 'tt')")
    conn.execute("INSERT INTO settings_tt SELECT g FROM generate_series(1, 3) g")
    time.sleep(0.05)
    (between,) = conn.execute("SELECT clock_timestamp()").fetchone()
    time.sleep(0.05)
    conn.execute("INSERT INTO settings_tt SELECT g FROM generate_series(4, 5) g")
    try:
        # the oracle: the ids inserted before `between`
        conn.execute("SELECT set_config('townlake.as_of', %s, false)", (between.isoformat(),))
        assert [r[0] for r in conn.execute("SELECT id FROM settings_tt ORDER BY id")] == [1, 2, 3]
        conn.execute("RESET townlake.as_of")
        conn.execute("SELECT set_config('townlake.iceberg_as_of', %s, false)", (between.isoformat(),))
        assert [r[0] for r in conn.execute("SELECT id FROM settings_tt ORDER BY id")] == [1, 2, 3]
        # both set: the new name wins
        conn.execute("SET townlake.as_of = '1970-01-02 00:00:00+00'")
        assert [r[0] for r in conn.execute("SELECT id FROM settings_tt ORDER BY id")] == [1, 2, 3]
        conn.execute("RESET townlake.iceberg_as_of")
        with pytest.raises(Exception, match="no snapshot as of that time"):
            conn.execute("SELECT id FROM settings_tt").fetchall()
    finally:
        conn.execute("RESET townlake.as_of")
        conn.execute("RESET townlake.iceberg_as_of")
    assert [r[0] for r in conn.execute("SELECT id FROM settings_tt ORDER BY id")] == [1, 2, 3, 4, 5]


def test_old_name_rejects_bad_values_like_the_new_one(conn):
    for name in ("townlake.snapshot_id", "townlake.iceberg_snapshot_id"):
        with pytest.raises(Exception, match="snapshot"):
            conn.execute(f"SET {name} = 'not-a-number'")
    for name in ("townlake.batch_size", "townlake.iceberg_batch_size"):
        with pytest.raises(Exception, match="outside the valid range"):
            conn.execute(f"SET {name} = 1")
