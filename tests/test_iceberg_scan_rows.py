"""Row-returning Iceberg scans (the batch-at-a-time conversion of Arrow columns
to datums): every column of every row equals the heap table the same rows
were generated into, across several scan batches, with NULLs, empty, short
and long (4-byte varlena header) text, non-ASCII text, bytea, and every
by-value type; and the datums behave in Postgres' functions, sorts, hash
joins and COPY as the heap's do. The oracle is the heap table, filled by
Postgres from generate_series, never townlake's own output."""

from __future__ import annotations

import pytest

from govhelpers import one, rows

COLUMNS = """
    id bigint NOT NULL,
    c_bool boolean,
    c_small smallint,
    c_int integer,
    c_long bigint,
    c_float real,
    c_double double precision,
    c_date date,
    c_time time,
    c_ts timestamp,
    c_tstz timestamptz,
    c_text text,
    c_bytea bytea,
    c_num numeric(12,3),
    c_num0 numeric(18,0),
    c_price numeric(15,2),
    c_num8 numeric(20,8),
    c_num20 numeric(38,20)
"""

# Each optional column is NULL for one residue; text lengths cycle through
# 0, short (< 127 bytes: 1-byte header) and long (4-byte header) values.
GENERATE = """
SELECT g,
       CASE WHEN g % 7 = 1 THEN NULL ELSE g % 2 = 0 END,
       CASE WHEN g % 8 = 2 THEN NULL ELSE (g % 30000 - 15000)::smallint END,
       CASE WHEN g % 9 = 3 THEN NULL ELSE (g * 7919 % 2000000000 - 1000000000)::int END,
       CASE WHEN g % 10 = 4 THEN NULL ELSE g::bigint * 1000003 - 5000000000 END,
       CASE WHEN g % 11 = 5 THEN NULL ELSE (g / 7.0)::real END,
       CASE WHEN g % 12 = 6 THEN NULL WHEN g % 13 = 0 THEN 'NaN'::float8 ELSE g * 1.000001 - 1e6 END,
       CASE WHEN g % 13 = 7 THEN NULL ELSE date '1960-01-01' + (g % 40000) END,
       CASE WHEN g % 14 = 8 THEN NULL ELSE time '00:00:00' + make_interval(secs => (g * 13 % 86400) + 0.123456) END,
       CASE WHEN g % 15 = 9 THEN NULL ELSE timestamp '1965-06-01 12:00:00' + make_interval(secs => g * 3607.000001) END,
       CASE WHEN g % 16 = 10 THEN NULL ELSE timestamptz '2024-01-01 00:00:00+00' - make_interval(secs => g * 61.5) END,
       CASE WHEN g % 17 = 11 THEN NULL
            WHEN g % 5 = 0 THEN ''
            WHEN g % 5 = 1 THEN 'é' || g || 'ß'
            WHEN g % 5 = 2 THEN repeat('ab', 62) || g % 10
            WHEN g % 5 = 3 THEN repeat('long-', 30 + g % 300) || g
            ELSE 'v' || g END,
       CASE WHEN g % 18 = 12 THEN NULL WHEN g % 3 = 0 THEN ''::bytea
            WHEN g % 3 = 1 THEN decode(md5(g::text), 'hex')
            ELSE decode(repeat(md5(g::text), 10), 'hex') END,
       CASE WHEN g % 19 = 13 THEN NULL ELSE (g * 1.001 - 5000)::numeric(12,3) END,
       CASE WHEN g % 20 = 14 THEN NULL ELSE ((g - 10000)::numeric * 10000 ^ (g % 4))::numeric(18,0) END,
       -- TPC-H's prices: zero, whole and fractional cents, both signs, up to
       -- the declared 13 integer digits.
       CASE WHEN g % 21 = 15 THEN NULL WHEN g % 21 = 0 THEN 0
            ELSE ((g - 10000) * 0.07 * 10 ^ (g % 11))::numeric(15,2) END,
       CASE WHEN g % 22 = 16 THEN NULL ELSE ((g - 10000) / 7.0 * 10 ^ (g % 9 - 4))::numeric(20,8) END,
       -- Beyond 64 bits unscaled for most rows: the general encoding.
       CASE WHEN g % 23 = 17 THEN NULL ELSE ((g - 10000) / 3.0 * 10 ^ (g % 6))::numeric(38,20) END
FROM generate_series(1, 20000) g
"""


@pytest.fixture(scope="module")
def tables(conn, write_ns):
    ns = write_ns
    heap = f'"{ns}".rows_heap'
    ice = f'"{ns}".rows_ice'
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} ({COLUMNS})")
    conn.execute(f"INSERT INTO {heap} {GENERATE}")
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {ice}")
    conn.execute(f"CREATE FOREIGN TABLE {ice} ({COLUMNS}) SERVER lake_local "
                 f"OPTIONS (namespace '{ns}', table 'rows_ice')")
    # Three INSERTs: three data files, each read in several batches below.
    for lo, hi in ((1, 7000), (7001, 14000), (14001, 20000)):
        conn.execute(f"INSERT INTO {ice} {GENERATE.replace('generate_series(1, 20000)', f'generate_series({lo}, {hi})')}")
    return heap, ice


@pytest.mark.parametrize("batch_size", [64, 1000, 8192])
def test_select_star_equals_the_heap(conn, tables, batch_size):
    heap, ice = tables
    conn.execute(f"SET townlake.iceberg_batch_size = {batch_size}")
    try:
        got = rows(conn, f"SELECT * FROM {ice} ORDER BY id")
    finally:
        conn.execute("RESET townlake.iceberg_batch_size")
    want = rows(conn, f"SELECT * FROM {heap} ORDER BY id")
    assert len(got) == len(want) == 20000
    for g, w in zip(got, want):
        # NaN != NaN in Python: compare its text.
        assert [str(x) for x in g] == [str(x) for x in w], (g, w)
    # And in SQL, with Postgres' own equality (NaN = NaN there).
    assert one(conn, f"SELECT count(*) FROM (SELECT * FROM {ice} EXCEPT ALL SELECT * FROM {heap}) d") == 0
    assert one(conn, f"SELECT count(*) FROM (SELECT * FROM {heap} EXCEPT ALL SELECT * FROM {ice}) d") == 0


def test_text_and_bytea_datums_work_in_functions(conn, tables):
    heap, ice = tables
    query = ("SELECT id, length(c_text), octet_length(c_text), upper(c_text), c_text || '|', "
             "substr(c_text, 3, 5), c_text LIKE '%ab%', md5(c_bytea), length(c_bytea), "
             "c_bytea || '\\x00'::bytea, c_text::varchar(10) FROM {t} ORDER BY id")
    assert rows(conn, query.format(t=ice)) == rows(conn, query.format(t=heap))


def test_sort_hash_join_and_aggregate_over_scan_rows(conn, tables):
    heap, ice = tables
    conn.execute("SET enable_mergejoin = off")
    conn.execute("SET enable_nestloop = off")
    try:
        join = ("SELECT a.id, b.id FROM {a} a JOIN {b} b ON a.c_text = b.c_text AND a.c_bytea = b.c_bytea "
                "WHERE a.id % 97 = 0 ORDER BY 1, 2")
        assert rows(conn, join.format(a=ice, b=ice)) == rows(conn, join.format(a=heap, b=heap))
    finally:
        conn.execute("RESET enable_mergejoin")
        conn.execute("RESET enable_nestloop")
    # Sort on text (datums kept past the row they came with), then group.
    sort = "SELECT c_text, c_tstz, id FROM {t} ORDER BY c_text DESC NULLS FIRST, c_tstz, id LIMIT 500"
    assert rows(conn, sort.format(t=ice)) == rows(conn, sort.format(t=heap))
    group = ("SELECT left(c_text, 3), count(*), string_agg(c_text, ',' ORDER BY id), max(md5(c_bytea)) "
             "FROM {t} GROUP BY 1 ORDER BY 1")
    conn.execute("SET townlake.iceberg_aggregate_pushdown = off")
    try:
        assert rows(conn, group.format(t=ice)) == rows(conn, group.format(t=heap))
    finally:
        conn.execute("RESET townlake.iceberg_aggregate_pushdown")


def test_copy_out_matches_the_heap(conn, tables):
    heap, ice = tables

    def copy_out(relation: str) -> bytes:
        out = bytearray()
        with conn.cursor().copy(f"COPY (SELECT * FROM {relation} ORDER BY id) TO STDOUT") as copy:
            for chunk in copy:
                out += chunk
        return bytes(out)

    assert copy_out(ice) == copy_out(heap)


def test_projection_and_filter_return_the_heap_rows(conn, tables):
    heap, ice = tables
    query = "SELECT c_text, id, c_float FROM {t} WHERE c_int > 0 AND c_text <> '' ORDER BY id"
    assert rows(conn, query.format(t=ice)) == rows(conn, query.format(t=heap))


def test_explain_analyze_reports_files_rows_and_bytes(conn, tables):
    heap, ice = tables
    lines = [r[0] for r in rows(conn, f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                                      f"SELECT * FROM {ice} WHERE id <= 7000")]
    found = {}
    for line in lines:
        for key in ("Data Files:", "Data Files Read:", "Rows Read:", "Bytes Read:"):
            if line.strip().startswith(key):
                found[key] = line.strip()[len(key):].strip()
    # id <= 7000 is exactly the first INSERT's file (ids 1-7000): the others
    # are pruned by their id bounds.
    assert found["Data Files:"] == "1 planned, 2 skipped", lines
    assert found["Data Files Read:"] == "1", lines
    assert int(found["Rows Read:"]) == 7000, lines
    assert int(found["Bytes Read:"]) > 0, lines
