"""Iceberg foreign tables in joins (issue 15): numeric datums built straight
from Parquet decimals behave as Postgres' own in hash joins, hash aggregates,
sorts and text output; a scan rescanned many times (the inner side of a
nested loop) returns the same rows every time; per-snapshot caches never
serve an old snapshot after the table changes. Oracles: heap tables filled
by Postgres from generate_series, never through townlake."""

from __future__ import annotations

import shutil
import urllib.parse
import uuid

import psycopg
import pytest

from conftest import connect
from govhelpers import one, rows

COLUMNS = """
    id bigint NOT NULL,
    k integer,
    price numeric(15,2),
    tiny numeric(5,0),
    wide numeric(38,10),
    frac numeric(12,6)
"""

# Values around every base-10000 digit boundary, negative, zero, NULL, and
# the extremes of each precision.
GENERATE = """
SELECT g, g % 50,
       CASE WHEN g % 23 = 0 THEN NULL WHEN g % 29 = 0 THEN 0
            ELSE ((g * 7919) % 2000003 - 1000000) / 100.0 * (CASE WHEN g % 31 = 0 THEN 10000 ELSE 1 END) END,
       CASE WHEN g % 19 = 0 THEN 99999 WHEN g % 17 = 0 THEN -99999 ELSE g % 10001 - 5000 END,
       CASE WHEN g % 13 = 0 THEN NULL
            WHEN g % 11 = 0 THEN 9999999999999999999999999999.9999999999
            WHEN g % 7 = 0 THEN -0.0000000001 * g
            ELSE (g::bigint * 1000003)::numeric * 10000 + g / 10000000000.0 END,
       CASE WHEN g % 5 = 0 THEN (g % 100) * 10000 ELSE g / 1000000.0 - 1 END
FROM generate_series(1, 6000) g
"""


@pytest.fixture(scope="module")
def tables(conn, write_ns):
    ns = write_ns
    heap, ice = f'"{ns}".join_heap', f'"{ns}".join_ice'
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} ({COLUMNS})")
    conn.execute(f"INSERT INTO {heap} {GENERATE}")
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {ice}")
    conn.execute(f"CREATE FOREIGN TABLE {ice} ({COLUMNS}) SERVER lake_local "
                 f"OPTIONS (namespace '{ns}', table 'join_ice')")
    for lo, hi in ((1, 3000), (3001, 6000)):
        conn.execute(f"INSERT INTO {ice} {GENERATE.replace('generate_series(1, 6000)', f'generate_series({lo}, {hi})')}")
    conn.execute(f"ANALYZE {heap}")
    conn.execute(f"ANALYZE {ice}")
    return heap, ice


def test_numeric_text_equals_the_heap(conn, tables):
    heap, ice = tables
    query = "SELECT id, price::text, tiny::text, wide::text, frac::text, -price, wide * 2, frac + 1 FROM {t} ORDER BY id"
    got, want = rows(conn, query.format(t=ice)), rows(conn, query.format(t=heap))
    assert len(got) == 6000 and got == want
    # Postgres' own equality, both ways.
    assert one(conn, f"SELECT count(*) FROM (SELECT * FROM {ice} EXCEPT ALL SELECT * FROM {heap}) d") == 0
    assert one(conn, f"SELECT count(*) FROM (SELECT * FROM {heap} EXCEPT ALL SELECT * FROM {ice}) d") == 0


def test_numeric_hash_join_and_hash_aggregate_equal_the_heap(conn, tables):
    """hash_numeric of the scan's datums must equal the heap's: a hash join
    between the two finds every pair, and grouping puts equal values together."""
    heap, ice = tables
    conn.execute("SET enable_mergejoin = off")
    conn.execute("SET enable_nestloop = off")
    conn.execute("SET enable_sort = off")
    conn.execute("SET townlake.iceberg_aggregate_pushdown = off")
    try:
        for column in ("price", "tiny", "wide", "frac"):
            join = f"SELECT count(*), count(DISTINCT h.id) FROM {ice} i JOIN {heap} h ON i.{column} = h.{column}"
            plan = "\n".join(r[0] for r in rows(conn, f"EXPLAIN (COSTS OFF) {join}"))
            assert "Hash Join" in plan, plan
            want = one(conn, f"SELECT count(*) FROM {heap} a JOIN {heap} b ON a.{column} = b.{column}")
            got = conn.execute(join).fetchone()
            assert got[0] == want, column
            group = f"SELECT {column}, count(*), sum(id) FROM {{t}} GROUP BY {column}"
            assert sorted(rows(conn, group.format(t=ice)), key=repr) == sorted(rows(conn, group.format(t=heap)), key=repr)
    finally:
        for setting in ("enable_mergejoin", "enable_nestloop", "enable_sort", "townlake.iceberg_aggregate_pushdown"):
            conn.execute(f"RESET {setting}")


def test_wider_declared_numeric_reads_with_its_scale(conn, tables, write_ns):
    """A foreign table may declare a wider numeric than the Iceberg decimal:
    values show the declared scale, as numeric_in gives them."""
    heap, _ = tables
    wide = f'"{write_ns}".join_ice_wider'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {wide}")
    conn.execute(f"CREATE FOREIGN TABLE {wide} (id bigint, price numeric(20,5), tiny numeric(9,3)) SERVER lake_local "
                 f"OPTIONS (namespace '{write_ns}', table 'join_ice')")
    got = rows(conn, f"SELECT id, price::text, tiny::text FROM {wide} ORDER BY id")
    want = rows(conn, f"SELECT id, price::numeric(20,5)::text, tiny::numeric(9,3)::text FROM {heap} ORDER BY id")
    assert got == want


def test_rescanned_inner_side_returns_the_same_rows(conn, tables):
    """A scan restarted once per outer row (a LATERAL subquery: its pushed
    filter takes a new parameter each time) returns the rows of that
    parameter every time: the table is resolved once per scan, its manifests
    come from the cache, the filter is evaluated again."""
    heap, ice = tables
    query = ("SELECT o.k, x.* FROM generate_series(0, 39) o(k), LATERAL (SELECT count(*), sum(i.price), "
             "max(i.wide) FROM {t} i WHERE i.k = o.k AND i.id % 3 = 0) x ORDER BY o.k")
    plan = "\n".join(r[0] for r in rows(conn, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                                              + query.format(t=ice)))
    assert "Foreign Scan" in plan and "loops=40" in plan, plan
    got = rows(conn, query.format(t=ice))
    assert got == rows(conn, query.format(t=heap)) and len(got) == 40
    assert all(r[1] > 0 for r in got)


def test_join_of_analyzed_tables_is_a_hash_join(conn, tables, write_ns):
    """After ANALYZE the planner knows the Iceberg tables' sizes and keys:
    a join of a large and a small table hashes the small one instead of
    rescanning an Iceberg scan per row, as it does for the heap copies."""
    heap, ice = tables
    small_heap, small_ice = f'"{write_ns}".join_small_heap', f'"{write_ns}".join_small_ice'
    conn.execute(f"DROP TABLE IF EXISTS {small_heap}")
    conn.execute(f"CREATE TABLE {small_heap} (k integer, name text)")
    conn.execute(f"INSERT INTO {small_heap} SELECT g, 'k' || g FROM generate_series(0, 49) g")
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {small_ice}")
    conn.execute(f"CREATE FOREIGN TABLE {small_ice} (k integer, name text) SERVER lake_local "
                 f"OPTIONS (namespace '{write_ns}', table 'join_small_ice')")
    conn.execute(f"INSERT INTO {small_ice} SELECT g, 'k' || g FROM generate_series(0, 49) g")
    conn.execute(f"ANALYZE {small_heap}")
    conn.execute(f"ANALYZE {small_ice}")
    reltuples = "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass"
    assert conn.execute(reltuples, (small_ice,)).fetchone()[0] == 50
    assert conn.execute(reltuples, (ice,)).fetchone()[0] == 6000
    query = ("SELECT s.name, count(*), sum(t.price) FROM {t} t JOIN {s} s ON s.k = t.k "
             "WHERE s.name LIKE 'k1%' GROUP BY s.name ORDER BY s.name")
    plan = "\n".join(r[0] for r in rows(conn, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                                              + query.format(t=ice, s=small_ice)))
    assert "Hash Join" in plan and "Nested Loop" not in plan, plan
    # Estimates come from the statistics: the pushed LIKE keeps 11 of 50 keys.
    est = "\n".join(r[0] for r in rows(conn, f"EXPLAIN SELECT * FROM {small_ice} WHERE name LIKE 'k1%'"))
    heap_est = "\n".join(r[0] for r in rows(conn, f"EXPLAIN SELECT * FROM {small_heap} WHERE name LIKE 'k1%'"))
    assert est.split("rows=")[1].split()[0] == heap_est.split("rows=")[1].split()[0], (est, heap_est)
    assert rows(conn, query.format(t=ice, s=small_ice)) == rows(conn, query.format(t=heap, s=small_heap))


def test_counts_follow_the_table_after_it_changes(conn, write_ns):
    """count(*) from metadata and a plain scan, repeated in one session, see
    every commit: the caches are keyed by the metadata file, never reused
    for a newer snapshot."""
    ice = f'"{write_ns}".join_counts'
    heap = f'"{write_ns}".join_counts_heap'
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {ice}")
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} (id bigint, v numeric(10,2))")
    conn.execute(f"CREATE FOREIGN TABLE {ice} (id bigint, v numeric(10,2)) SERVER lake_local "
                 f"OPTIONS (namespace '{write_ns}', table 'join_counts')")
    plan = "\n".join(r[0] for r in rows(conn, f"EXPLAIN SELECT count(*) FROM {ice}"))
    for lo, hi in ((1, 100), (101, 350), (351, 351)):
        for t in (ice, heap):
            conn.execute(f"INSERT INTO {t} SELECT g, g / 3.0 FROM generate_series({lo}, {hi}) g")
        for _ in range(2):
            assert one(conn, f"SELECT count(*) FROM {ice}") == one(conn, f"SELECT count(*) FROM {heap}")
            assert one(conn, f"SELECT sum(v) FROM {ice} WHERE id % 2 = 0") == \
                one(conn, f"SELECT sum(v) FROM {heap} WHERE id % 2 = 0")
        plan = "\n".join(r[0] for r in rows(conn, f"EXPLAIN SELECT count(*) FROM {ice}"))
        assert "answered from metadata" in plan, plan
    conn.execute(f"DELETE FROM {ice} WHERE id <= 50")
    conn.execute(f"DELETE FROM {heap} WHERE id <= 50")
    assert one(conn, f"SELECT count(*) FROM {ice}") == one(conn, f"SELECT count(*) FROM {heap}") == 301
    conn.execute(f"TRUNCATE {ice}")
    assert one(conn, f"SELECT count(*) FROM {ice}") == 0


def test_a_session_follows_the_catalog_when_it_is_recreated(admin_conn):
    """The catalog lookups every scan makes are planned once per backend: a
    session that drops and recreates the extension (new catalog tables
    under the same names) still reads the catalog as it is now."""
    name = f"tl_kept_plans_{uuid.uuid4().hex[:6]}"
    warehouse = ""
    admin_conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with connect(name) as c:
            c.execute("CREATE EXTENSION townlake")
            c.execute("CREATE SCHEMA kept")
            heap_counts = []
            for round_, n in enumerate((40, 7)):
                c.execute(f"CREATE TABLE kept.h{round_} AS SELECT g AS id FROM generate_series(1, {n}) g")
                c.execute(f"CREATE FOREIGN TABLE kept.t{round_} (id int) SERVER lake_local "
                          f"OPTIONS (namespace 'kept_{name}', table 't{round_}')")
                c.execute(f"INSERT INTO kept.t{round_} SELECT id FROM kept.h{round_}")
                heap_counts.append(c.execute(f"SELECT count(*), sum(id) FROM kept.h{round_} WHERE id > 3").fetchone())
                for _ in range(2):
                    assert c.execute(f"SELECT count(*), sum(id) FROM kept.t{round_} WHERE id > 3").fetchone() == heap_counts[-1]
                if round_ == 0:
                    c.execute("DROP EXTENSION townlake CASCADE")
                    c.execute("CREATE EXTENSION townlake")
            # the first table went with the old catalog's server
            with pytest.raises(psycopg.errors.UndefinedTable):
                c.execute("SELECT count(*) FROM kept.t0")
            warehouse = one(c, "SHOW townlake.iceberg_warehouse").rstrip("/")
    finally:
        admin_conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if warehouse.startswith("file://"):
        shutil.rmtree(f"{urllib.parse.urlparse(warehouse).path}/kept_{name}", ignore_errors=True)
