"""Reading an all-types Iceberg table written by PyIceberg, on local disk and
on S3, compared row for row with PyIceberg's own read."""

import math

import pyarrow.compute as pc
import pytest
from pyiceberg.expressions import (And, GreaterThan, GreaterThanOrEqual, In, IsNull, LessThan,
                                   LessThanOrEqual, NotIn, NotNull, Or)

from lakedata import ALL_TYPES_COLUMNS, ALL_TYPES_PG, ALL_TYPES_SCHEMA, all_types_rows, append_rows
from lakehelpers import arrow_rows, assert_same_rows, compare_query, pg_rows, sort_rows

NAMESPACE = "typed"


@pytest.fixture(scope="module")
def all_types(lake, conn):
    """Table typed.all_types: two appends (two data files), imported into Postgres."""
    table = lake.create_table(NAMESPACE, "all_types", ALL_TYPES_SCHEMA)
    append_rows(table, all_types_rows(1, 150, seed=1))
    append_rows(table, all_types_rows(151, 100, seed=2))
    foreign = lake.import_table(conn, NAMESPACE, "all_types")
    return table, foreign


def test_import_maps_every_type(all_types, conn, lake):
    _, foreign = all_types
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (foreign,)).fetchall()
    assert dict(rows) == ALL_TYPES_PG
    assert [name for name, _ in rows] == ALL_TYPES_COLUMNS, "columns keep Iceberg's order"
    kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", (foreign,)).fetchone()
    assert kind == ("f",)


def test_select_star_matches_pyiceberg(all_types, conn):
    table, foreign = all_types
    assert compare_query(conn, table, foreign, ALL_TYPES_COLUMNS) == 250


@pytest.mark.parametrize("columns", [
    ["id"],
    ["c_string", "id"],
    ["c_tstz", "c_decimal", "c_uuid"],
    ["c_struct", "c_list", "c_map"],
    ["c_fixed", "c_binary", "c_time", "c_date"],
])
def test_projection(all_types, conn, columns):
    table, foreign = all_types
    compare_query(conn, table, foreign, columns)


# (SQL WHERE clause, the same filter as a PyIceberg expression)
FILTERS = [
    ("id = 17", "id == 17"),
    ("id <> 17", "id != 17"),
    ("c_int < 0", "c_int < 0"),
    ("c_int <= 10 AND c_bool", "c_int <= 10 and c_bool == true"),
    ("c_int > 500 OR c_string IS NULL", Or(GreaterThan("c_int", 500), IsNull("c_string"))),
    ("c_long >= 0", "c_long >= 0"),
    ("id IN (1, 5, 200, 9999)", In("id", {1, 5, 200, 9999})),
    ("id NOT IN (1, 5, 200)", NotIn("id", {1, 5, 200})),
    ("c_decimal IS NULL", IsNull("c_decimal")),
    ("c_tstz IS NOT NULL", NotNull("c_tstz")),
    ("c_int BETWEEN -100 AND 100", And(GreaterThanOrEqual("c_int", -100), LessThanOrEqual("c_int", 100))),
    ("c_string LIKE 'ap%'", "c_string LIKE 'ap%'"),
    ("c_decimal > 1000.50", "c_decimal > 1000.50"),
    ("c_date = DATE '2024-01-03'", "c_date == '2024-01-03'"),
    ("c_ts >= '2024-01-02' AND c_ts < '2024-01-04'",
     And(GreaterThanOrEqual("c_ts", "2024-01-02T00:00:00"), LessThan("c_ts", "2024-01-04T00:00:00"))),
    ("c_tstz >= '2024-01-05 00:00:00+00' AND c_tstz < '2024-01-06 12:00:00+00'",
     And(GreaterThanOrEqual("c_tstz", "2024-01-05T00:00:00+00:00"),
         LessThan("c_tstz", "2024-01-06T12:00:00+00:00"))),
    ("NOT (c_bool)", "c_bool == false"),
    ("c_double > 0 AND (c_int < -500 OR c_int > 500)",
     And(GreaterThan("c_double", 0.0), Or(LessThan("c_int", -500), GreaterThan("c_int", 500)))),
    ("c_string NOT IN ('fig1', 'fig2') AND c_string IS NOT NULL",
     And(NotIn("c_string", {"fig1", "fig2"}), NotNull("c_string"))),
    ("c_float < 0", "c_float < 0"),
    ("c_fixed IS NULL OR c_binary IS NULL", Or(IsNull("c_fixed"), IsNull("c_binary"))),
]


@pytest.mark.parametrize("where, row_filter", FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_matches_pyiceberg(all_types, conn, where, row_filter):
    table, foreign = all_types
    compare_query(conn, table, foreign, ALL_TYPES_COLUMNS, where=where, row_filter=row_filter)


def test_uuid_filters(all_types, conn):
    """PyIceberg cannot evaluate filters on uuid columns, so filter its rows in Python."""
    table, foreign = all_types
    rows = table.scan(selected_fields=("id", "c_uuid")).to_arrow().to_pylist()
    some_uuid = next(r["c_uuid"] for r in rows if r["c_uuid"] is not None)
    actual = pg_rows(conn, f"SELECT id FROM {foreign} WHERE c_uuid = %s", (some_uuid,))
    assert actual == sort_rows((r["id"],) for r in rows if r["c_uuid"] == some_uuid)
    actual = pg_rows(conn, f"SELECT id FROM {foreign} WHERE c_uuid IS NULL")
    assert actual == sort_rows((r["id"],) for r in rows if r["c_uuid"] is None)


def test_filter_with_parameter_and_stable_expression(all_types, conn):
    table, foreign = all_types
    compare_query(conn, table, foreign, ["id", "c_int"], where="c_int > %s", row_filter="c_int > 250",
                  params=(250,))
    # now() is stable: the comparison can be pushed, and every row is older than now
    count = conn.execute(f"SELECT count(*) FROM {foreign} WHERE c_tstz < now()").fetchone()[0]
    expected = table.scan(row_filter=NotNull("c_tstz")).to_arrow().num_rows
    assert count == expected


def test_filter_postgres_must_recheck(all_types, conn):
    """A predicate that cannot be pushed (a function of the column) is still applied."""
    table, foreign = all_types
    actual = pg_rows(conn, f"SELECT id FROM {foreign} WHERE c_int % 7 = 3")
    data = table.scan(selected_fields=("id", "c_int")).to_arrow()
    # SQL's % keeps the dividend's sign (math.fmod), unlike Python's %
    expected = sort_rows((r["id"],) for r in data.to_pylist()
                         if r["c_int"] is not None and math.fmod(r["c_int"], 7) == 3)
    assert actual == expected


def test_limit(all_types, conn):
    table, foreign = all_types
    ordered = conn.execute(f"SELECT id FROM {foreign} ORDER BY id LIMIT 7").fetchall()
    ids = sorted(table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist())
    assert [r[0] for r in ordered] == ids[:7]
    some = conn.execute(f"SELECT id FROM {foreign} WHERE c_int > 0 LIMIT 5").fetchall()
    positive = set(table.scan(row_filter="c_int > 0", selected_fields=("id",)).to_arrow().column("id").to_pylist())
    assert len(some) == 5 and {r[0] for r in some} <= positive
    assert conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {foreign} LIMIT 0) s").fetchone() == (0,)


def test_aggregates(all_types, conn):
    table, foreign = all_types
    data = table.scan().to_arrow()
    count, total, low, high = conn.execute(
        f"SELECT count(*), sum(c_long), min(c_decimal), max(c_tstz) FROM {foreign}").fetchone()
    assert count == data.num_rows
    assert total == sum(v for v in data.column("c_long").to_pylist() if v is not None)
    assert low == pc.min(data.column("c_decimal")).as_py()
    assert max(v for v in data.column("c_tstz").to_pylist() if v is not None) == high


def test_join_with_heap_table(all_types, conn, lake):
    table, foreign = all_types
    heap = f"heap_labels_{lake.kind}"
    conn.execute(f"DROP TABLE IF EXISTS {heap}")
    conn.execute(f"CREATE TABLE {heap} (id bigint PRIMARY KEY, label text)")
    conn.execute(f"INSERT INTO {heap} SELECT g, 'label ' || g FROM generate_series(1, 400, 3) g")
    conn.execute(f"ANALYZE {heap}")
    actual = pg_rows(conn, f"SELECT f.id, h.label, f.c_string FROM {foreign} f "
                           f"JOIN {heap} h ON h.id = f.id WHERE f.c_bool")
    data = table.scan(row_filter="c_bool == true", selected_fields=("id", "c_string")).to_arrow()
    expected = sorted(((r["id"], f"label {r['id']}", r["c_string"]) for r in data.to_pylist()
                       if r["id"] % 3 == 1), key=lambda r: r[0])
    assert sorted(actual, key=lambda r: r[0]) == expected


def test_row_estimate_comes_from_metadata(all_types, conn):
    _, foreign = all_types
    plan = conn.execute(f"EXPLAIN SELECT * FROM {foreign}").fetchone()[0]
    rows = int(plan.split("rows=")[1].split()[0])
    assert rows == 250, f"planner estimate should be the snapshot's record count: {plan}"


def test_explain_shows_table_snapshot_and_filter(all_types, conn):
    table, foreign = all_types
    plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT id FROM {foreign} WHERE id = 3"))
    assert f"Iceberg Table: {NAMESPACE}.all_types" in plan
    assert f"Snapshot: {table.current_snapshot().snapshot_id}" in plan
    assert "Iceberg Filter:" in plan
    assert "Data Files:" in plan
    analyzed = "\n".join(r[0] for r in conn.execute(
        f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT id FROM {foreign} WHERE id = 3"))
    assert "Rows Read" in analyzed and "Bytes Read" in analyzed


def test_create_foreign_table_by_name(all_types, conn, lake):
    table, _ = all_types
    name = f"by_name_{lake.kind}"
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    conn.execute(f"CREATE FOREIGN TABLE {name} (id bigint, c_string text, c_tstz timestamptz) "
                 f"SERVER {lake.server} OPTIONS (namespace '{NAMESPACE}', table 'all_types')")
    compare_query(conn, table, name, ["id", "c_string", "c_tstz"], where="id < 100", row_filter="id < 100")


def test_create_foreign_table_by_metadata_location(all_types, conn, lake):
    table, _ = all_types
    name = f"by_location_{lake.kind}"
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    conn.execute(f"CREATE FOREIGN TABLE {name} (id bigint, c_decimal numeric(10,2), c_map jsonb) "
                 f"SERVER {lake.server} OPTIONS (metadata_location '{table.metadata_location}')")
    compare_query(conn, table, name, ["id", "c_decimal", "c_map"])


def test_wider_declared_types_are_accepted(all_types, conn, lake):
    """A column type that can hold the Iceberg type (int -> bigint, float -> double) is fine."""
    table, _ = all_types
    name = f"widened_{lake.kind}"
    conn.execute(f"DROP FOREIGN TABLE IF EXISTS {name}")
    conn.execute(f"CREATE FOREIGN TABLE {name} (id bigint, c_int bigint, c_double double precision) "
                 f"SERVER {lake.server} OPTIONS (namespace '{NAMESPACE}', table 'all_types')")
    expected = arrow_rows(table.scan(selected_fields=("id", "c_int", "c_double")).to_arrow(),
                          ["id", "c_int", "c_double"])
    assert_same_rows(pg_rows(conn, f"SELECT id, c_int, c_double FROM {name}"), expected, name)


def test_import_limit_to_and_except(lake, conn):
    for name in ("keep_a", "keep_b", "skip_c"):
        t = lake.create_table("importing", name, ALL_TYPES_SCHEMA)
        append_rows(t, all_types_rows(1, 3, seed=9))
    for schema in (f"imp_all_{lake.kind}", f"imp_limit_{lake.kind}", f"imp_except_{lake.kind}"):
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(f"IMPORT FOREIGN SCHEMA importing FROM SERVER {lake.server} INTO imp_all_{lake.kind}")
    conn.execute(f"IMPORT FOREIGN SCHEMA importing LIMIT TO (keep_a, keep_b) "
                 f"FROM SERVER {lake.server} INTO imp_limit_{lake.kind}")
    conn.execute(f"IMPORT FOREIGN SCHEMA importing EXCEPT (skip_c) "
                 f"FROM SERVER {lake.server} INTO imp_except_{lake.kind}")

    def tables_in(schema):
        return sorted(r[0] for r in conn.execute(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE nspname = %s AND relkind = 'f'", (schema,)))

    assert tables_in(f"imp_all_{lake.kind}") == ["keep_a", "keep_b", "skip_c"]
    assert tables_in(f"imp_limit_{lake.kind}") == ["keep_a", "keep_b"]
    assert tables_in(f"imp_except_{lake.kind}") == ["keep_a", "keep_b"]
    assert conn.execute(f"SELECT count(*) FROM imp_all_{lake.kind}.skip_c").fetchone() == (3,)


def test_prepared_statement_reuses_plan(all_types, conn):
    """Generic plans with parameters must still filter correctly."""
    table, foreign = all_types
    with conn.cursor() as cur:
        for threshold in (0, 300, -300, 0, 300, -300, 0):
            cur.execute(f"SELECT count(*) FROM {foreign} WHERE c_int > %s", (threshold,), prepare=True)
            expected = table.scan(row_filter=f"c_int > {threshold}").to_arrow().num_rows
            assert cur.fetchone()[0] == expected
