"""The allowlist of functions pushed to ClickHouse (18.16, the `clickhouse`
fixture's server): `lower`/`upper` of text under the C collation.

Oracle: a heap copy loaded from ClickHouse's own TSV output (never read
through townlake), with the same collations; every query runs on both and
must return the same rows. Edge values: non-ASCII letters (which Postgres
under C and ClickHouse's lower/upper both leave alone), the Kelvin sign,
German sharp s, dotted/dotless i, empty strings, NULLs.
"""

from __future__ import annotations

import uuid

import pytest
from psycopg import sql

from govhelpers import rows

SUFFIX = uuid.uuid4().hex[:6]
CHDB = f"tl_chf_{SUFFIX}"

WORDS = ["ABC", "abc", "aBc", "ÀB", "àb", "Àb", "straße", "STRASSE", "\u212a", "k", "K", "", "İ", "ı", "i",
         "tab\tTAB", "Ünïcødé"]


@pytest.fixture(scope="module")
def chf(conn, clickhouse):
    ch = clickhouse
    ch.query(f"CREATE DATABASE {CHDB}")
    ch.query(f"CREATE TABLE {CHDB}.words (id UInt32, s String, n Nullable(String), fs FixedString(8)) "
             f"ENGINE = MergeTree() ORDER BY id")
    values = []
    for i, w in enumerate(WORDS):
        lit = "'" + w.replace("\\", "\\\\").replace("'", "\\'").replace("\t", "\\t") + "'"
        values.append(f"({i}, {lit}, {'NULL' if i % 4 == 0 else lit}, 'AB')")
    ch.query(f"INSERT INTO {CHDB}.words VALUES " + ", ".join(values))
    conn.execute(sql.SQL("CREATE SERVER chf FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})")
                 .format(sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
    conn.execute("CREATE USER MAPPING FOR PUBLIC SERVER chf")
    cols = '(id bigint, s text COLLATE "C", n text COLLATE "C", fs text COLLATE "C", d text)'
    conn.execute(f"CREATE FOREIGN TABLE words {cols} SERVER chf")
    conn.execute("ALTER FOREIGN TABLE words ALTER COLUMN d OPTIONS (column_name 's')")
    conn.execute(f"CREATE TABLE words_heap {cols}")
    got = ch.rows(f"SELECT id, s, n, toString(fs), s FROM {CHDB}.words")
    assert len(got) == len(WORDS)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO words_heap VALUES (%s, %s, %s, %s, %s)",
                        [(r[0], r[1], r[2], r[3].rstrip("\0"), r[4]) for r in got])
    yield conn
    ch.query(f"DROP DATABASE IF EXISTS {CHDB}")


def remote_sql(conn, query, params=None) -> str:
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE) " + query, params).fetchall())
    lines = [line.split("Remote SQL: ", 1)[1] for line in plan.splitlines() if "Remote SQL: " in line]
    assert len(lines) == 1, plan
    return lines[0]


def same_rows(conn, query, params=None):
    heap = query.replace("FROM words", "FROM words_heap")
    got = sorted(rows(conn, query, params), key=repr)
    assert got == sorted(rows(conn, heap, params), key=repr)
    return got


PUSHED = [
    ("SELECT id, s FROM words WHERE lower(s) = 'abc'", "lower(`s`) = 'abc'", 3),
    ("SELECT id, s FROM words WHERE upper(s) = 'ÀB'", "upper(`s`) = 'ÀB'", 2),
    ("SELECT id, s FROM words WHERE lower(s) = 'àb'", "lower(`s`) = 'àb'", 1),
    ("SELECT id, s FROM words WHERE upper(s) = 'STRAßE'", "upper(`s`) = 'STRAßE'", 1),
    ("SELECT id, s FROM words WHERE lower(s) = 'k'", "lower(`s`) = 'k'", 2),
    ("SELECT id, s FROM words WHERE 'I' = upper(s)", "upper(`s`) = 'I'", 1),
    ("SELECT id, s FROM words WHERE lower(s) = 'tab\ttab'", "lower(`s`) = 'tab\\ttab'", 1),
    ("SELECT id, n FROM words WHERE lower(n) <> 'abc'", "lower(`n`) != 'abc'", None),
    ("SELECT id, n FROM words WHERE NOT (upper(n) = 'ABC')", "upper(`n`) != 'ABC'", None),
    ("SELECT id FROM words WHERE lower(s) = ''", "lower(`s`) = ''", 1),
    # ILIKE under C is lower(x) LIKE lower(p) with ASCII case mapping: a byte-prefix test.
    ("SELECT id, s FROM words WHERE s ILIKE 'aB%'", "substring(lower(`s`), 1, 2) = 'ab'", 3),
    ("SELECT id, s FROM words WHERE s ILIKE 'àB'", "substring(lower(`s`), 1, 3) = 'àb'", 1),
    ("SELECT id, s FROM words WHERE s ILIKE 'tab\tt%'", "substring(lower(`s`), 1, 5) = 'tab\\tt'", 1),
    ("SELECT id, n FROM words WHERE n ILIKE 'ab%' OR n IS NULL", "substring(lower(`n`), 1, 2) = 'ab'", None),
    ("SELECT id, s FROM words WHERE lower(s) LIKE 'stra%'", "substring(lower(`s`), 1, 4) = 'stra'", 2),
    ("SELECT id, s FROM words WHERE upper(s) LIKE 'STRA_E'", "substring(upper(`s`), 1, 4) = 'STRA'", 1),
]


@pytest.mark.parametrize("query,remote,count", PUSHED, ids=[p[1] for p in PUSHED])
def test_case_mapping_under_c_is_pushed_and_exact(chf, query, remote, count):
    assert remote in remote_sql(chf, query)
    got = same_rows(chf, query)
    if count is not None:
        assert len(got) == count


def test_ilike_prefix_is_exact_so_aggregates_go_down(chf):
    query = "SELECT count(*) FROM words WHERE s ILIKE 'ab%'"
    remote = remote_sql(chf, query)
    assert remote.startswith("SELECT count() FROM") and "substring(lower(`s`), 1, 2) = 'ab'" in remote
    assert same_rows(chf, query) == [(3,)]


def test_exact_case_mapping_lets_aggregates_and_limit_go_down(chf):
    query = "SELECT count(*) FROM words WHERE lower(s) = 'abc'"
    remote = remote_sql(chf, query)
    assert remote.startswith("SELECT count() FROM") and "lower(`s`) = 'abc'" in remote
    assert same_rows(chf, query) == [(3,)]
    chf.execute("SET plan_cache_mode = force_generic_plan")
    try:
        chf.execute("PREPARE lw(text) AS SELECT count(*) FROM words WHERE upper(s) = $1")
        assert "count()" in remote_sql(chf, "EXECUTE lw('ABC')")
        assert rows(chf, "EXECUTE lw('ABC')") == [(3,)]
        assert rows(chf, "EXECUTE lw(NULL)") == [(0,)]
    finally:
        chf.execute("DEALLOCATE ALL")
        chf.execute("RESET plan_cache_mode")


NOT_PUSHED = [
    # The column's own default collation (Unicode case mapping in most locales).
    "SELECT id FROM words WHERE lower(d) = 'abc'",
    # ICU maps every letter: not what ClickHouse's ASCII lower does.
    "SELECT id FROM words WHERE lower(s COLLATE \"und-x-icu\") = 'àb'",
    # Ranges, FixedString (padding), other functions.
    "SELECT id FROM words WHERE lower(s) > 'b'",
    # NOT ILIKE (its own operator, like NOT LIKE) stays local.
    "SELECT id FROM words WHERE n NOT ILIKE 'ab%'",
    "SELECT id FROM words WHERE lower(fs) = 'ab'",
    "SELECT id FROM words WHERE initcap(s) = 'Abc'",
    "SELECT id FROM words WHERE lower(s) = lower(n)",
    "SELECT id FROM words WHERE d ILIKE 'ab%'",
    "SELECT id FROM words WHERE s ILIKE '%b'",
]


@pytest.mark.parametrize("query", NOT_PUSHED)
def test_other_functions_and_collations_stay_with_postgres(chf, query):
    if "x-icu" in query and not chf.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')").fetchone()[0]:
        pytest.skip("this PostgreSQL build has no ICU collations (the PostgreSQL 18 wheel)")
    remote = remote_sql(chf, query)
    assert "lower(" not in remote and "upper(" not in remote and "initcap" not in remote, remote
    same_rows(chf, query)
