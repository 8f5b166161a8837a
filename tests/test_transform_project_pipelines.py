"""Pipelines in YAML projects and in the graph (issue 14): lake.load_project
defines pipelines next to models (in whatever order they read each other's
targets), and lake.dag() / lake.dag_dot() show them as nodes with edges to
and from models.

Expected rows come from the source as Python generated it; expected graph
edges from the project text itself (who reads whose target).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session

SUFFIX = uuid.uuid4().hex[:6]
MALLORY = f"pp_mal_{SUFFIX}"
START = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def make_orders(seed: int, n: int):
    rnd = random.Random(seed)
    return [(i + 1, START + dt.timedelta(minutes=rnd.randrange(0, 3 * 24 * 60)), rnd.randrange(1, 60))
            for i in range(n)]


ORDERS = make_orders(11, 500)

PROJECT = f"""
defaults:
  retries: 1
  timezone: Europe/Paris
pipelines:
  - name: pp_export
    description: big orders out again, from the model's table
    source: m.pp_big
    target: out.pp_big_copy
    target_server: null
  - name: pp_ingest
    source: src.orders
    target: raw.pp_orders
    mode: append
    watermark_column: id
    partition_by: day(ts)
    schedule: every 10 minutes
models:
  - name: pp_big
    sql: SELECT id, ts, qty FROM raw.pp_orders WHERE qty >= 30
    target: m.pp_big
    materialization: incremental
"""


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [MALLORY])


@pytest.fixture(scope="module")
def admin(roles, database, local_lake):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src; CREATE SCHEMA raw; CREATE SCHEMA m; CREATE SCHEMA out")
        conn.execute("CREATE TABLE src.orders (id bigint PRIMARY KEY, ts timestamptz NOT NULL, qty int)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO src.orders VALUES (%s, %s, %s)", ORDERS)
        yield conn


def test_a_project_defines_pipelines_and_models_in_reading_order(admin):
    names = one(admin, "SELECT lake.load_project(%s, 'lake.yml')", (PROJECT,))
    # pp_export reads the model's target, which exists only once the model
    # (which reads pp_ingest's target) is defined.
    assert names == ["pp_ingest", "pp_big", "pp_export"]
    got = rows(admin, "SELECT name, source_kind, target_kind, mode, watermark_column, partition_by, schedule, timezone, "
                      "retries, description FROM lake.pipelines ORDER BY name")
    assert got == [
        ("pp_export", "relation", "heap", "replace", None, None, None, "Europe/Paris", 1,
         "big orders out again, from the model's table"),
        ("pp_ingest", "relation", "iceberg", "append", "id", "day(ts)", "every 10 minutes", "Europe/Paris", 1, None),
    ]
    # The data flows through: ingest, model, export.
    one(admin, "SELECT lake.run_pipeline_now('pp_ingest')")
    one(admin, "SELECT lake.run_now('pp_big')")
    one(admin, "SELECT lake.run_pipeline_now('pp_export')")
    assert sorted(rows(admin, "SELECT id, ts, qty FROM raw.pp_orders")) == sorted(ORDERS)
    big = sorted(o for o in ORDERS if o[2] >= 30)
    assert sorted(rows(admin, "SELECT id, ts, qty FROM out.pp_big_copy")) == big
    # Loading again redefines (same names, nothing duplicated).
    assert sorted(one(admin, "SELECT lake.load_project(%s, 'lake.yml')", (PROJECT,))) == sorted(names)
    assert one(admin, "SELECT count(*) FROM lake.pipelines") == 2


def test_dag_shows_pipelines_with_their_edges(admin):
    g = one(admin, "SELECT lake.dag()")
    nodes = {n["id"]: n for n in g["nodes"]}
    assert nodes["pipeline:pp_ingest"]["kind"] == "pipeline" and nodes["pipeline:pp_ingest"]["name"] == "pp_ingest"
    assert nodes["pipeline:pp_ingest"]["mode"] == "append"
    assert nodes["pipeline:pp_ingest"]["target"] == "raw.pp_orders"
    assert nodes["pipeline:pp_export"]["last_status"] == "succeeded"
    assert nodes["pp_big"]["kind"] == "model"
    assert sorted((e["from"], e["to"]) for e in g["edges"]) == [
        ("pipeline:pp_ingest", "pp_big"), ("pp_big", "pipeline:pp_export")]
    dot = one(admin, "SELECT lake.dag_dot()")
    assert '"pipeline:pp_ingest" -> "pp_big";' in dot and '"pp_big" -> "pipeline:pp_export";' in dot
    assert '"pipeline:pp_ingest" [label="pp_ingest\npipeline (append)' in dot and "shape=cds" in dot
    # A role that is no member of the owner sees neither.
    with session(admin.info.dbname, MALLORY) as mal:
        assert one(mal, "SELECT lake.dag()") == {"nodes": [], "edges": []}


@pytest.mark.parametrize("yaml_text,expected", [
    ("pipelines:\n  - name: pe1\n    source: src.orders\n    target: raw.pe1\n    watermark: id\n",
     'p.yml:5:5: pipeline "pe1": unknown key "watermark" in a pipeline'),
    ("pipelines:\n  - name: pe2\n    source: src.orders\n    target: raw.pe2\n    overlap: queue\n",
     "p.yml:5:14: pipeline \"pe2\": a pipeline's overlap is always skip"),
    ("models:\n  - name: pe3m\n    sql: SELECT 1 AS a\n    target: m.pe3m\n"
     "pipelines:\n  - name: pe3\n    source: nowhere.t\n    target: raw.pe3\n",
     'p.yml:6: pipeline "pe3": source relation "nowhere.t" does not exist'),
    ("pipelines:\n  - name: pe4\n    source: src.orders\n    target: raw.pe4\n    mode: append\n",
     'p.yml:2:5: pipeline "pe4": mode append needs a watermark_column'),
])
def test_pipeline_errors_name_file_pipeline_and_line(admin, yaml_text, expected):
    e = error_of(admin, "SELECT lake.load_project(%s, 'p.yml')", (yaml_text,))
    assert expected in str(e), str(e)
    # nothing of a failed load stays defined
    assert one(admin, "SELECT count(*) FROM lake.pipelines WHERE name ~ '^pe'") == 0
    assert one(admin, "SELECT count(*) FROM lake.models WHERE name ~ '^pe'") == 0
