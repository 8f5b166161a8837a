"""scripts/townlake_load.py on a real cluster: a directory of .sql model files
with YAML front matter (and a YAML project file) loads through
lake.load_project; errors name the file and line they come from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PG_HOST, PG_PORT
from govhelpers import one, rows, session

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "townlake_load.py"


@pytest.fixture(scope="module")
def admin(database):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src; CREATE SCHEMA m")
        conn.execute("CREATE TABLE src.events (id int, ts timestamptz, amount int)")
        conn.execute("INSERT INTO src.events SELECT g, timestamptz '2026-03-01' + g * interval '17 minutes', g % 40 "
                     "FROM generate_series(1, 500) g")
        yield conn


def load(database, path, *extra):
    env = dict(os.environ, PGHOST=PG_HOST, PGPORT=str(PG_PORT), PGUSER="postgres", PGDATABASE=database)
    return subprocess.run([sys.executable, str(SCRIPT), *extra, str(path)], env=env, capture_output=True, text=True)


def write(d: Path, name: str, text: str) -> None:
    (d / name).write_text(text)


def test_directory_of_sql_files_loads_in_dependency_order(admin, database, tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    write(d, "project.yml", "defaults:\n  timezone: Europe/Berlin\n  tags: [cli]\n")
    # daily reads hourly's target; the files come in the other order
    write(d, "a_daily.sql", "---\ntarget: m.daily\n---\n"
          "SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n\nFROM m.hourly\nGROUP BY 1\n")
    write(d, "hourly.sql", "---\ntarget: m.hourly\nmaterialization: table\nschedule: \"@hourly\"\n"
          "description: events per hour\n---\n\nSELECT date_trunc('hour', ts) AS hour, count(*) AS n\nFROM src.events\nGROUP BY 1;\n")
    write(d, "named.sql", "---\nname: by_amount\ntarget: m.by_amount\nmaterialization: view\n---\n"
          "SELECT amount, count(*) AS n FROM src.events GROUP BY amount\n")
    out = load(database, d)
    assert out.returncode == 0, out.stderr
    # a_daily waits for hourly's target, then is defined
    assert out.stdout.splitlines() == ["defined hourly", "defined by_amount", "defined a_daily"], out.stdout
    got = rows(admin, "SELECT name, target_name, materialization, schedule, timezone, tags, description FROM lake.models ORDER BY name")
    assert got == [
        ("a_daily", "daily", "table", None, "Europe/Berlin", ["cli"], None),
        ("by_amount", "by_amount", "view", None, "Europe/Berlin", ["cli"], None),
        ("hourly", "hourly", "table", "@hourly", "Europe/Berlin", ["cli"], "events per hour"),
    ]
    assert one(admin, "SELECT sql FROM lake.models WHERE name = 'hourly'") == \
        "SELECT date_trunc('hour', ts) AS hour, count(*) AS n\nFROM src.events\nGROUP BY 1"
    admin.execute("SELECT lake.run_now('hourly', true)")
    assert one(admin, "SELECT sum(n) FROM m.daily") == one(admin, "SELECT count(*) FROM src.events")


@pytest.mark.parametrize("files,expected", [
    ({"ok.sql": "---\ntarget: m.ok1\n---\nSELECT 1 AS a\n",
      "typo.sql": "---\ntarget: m.typo\nmaterialisation: view\n---\nSELECT 1 AS a\n"},
     'typo.sql:3:1: model "typo": unknown key "materialisation" in a model'),
    ({"sched.sql": "---\ntarget: m.sched\nschedule: '* * *'\n---\nSELECT 1 AS a\n"},
     'sched.sql:3:11: model "sched": invalid schedule'),
    ({"missing.sql": "---\ntarget: m.missing\n---\nSELECT a\nFROM nowhere.t\n"},
     'missing.sql:1: model "missing": relation "nowhere.t" does not exist'),
    ({"nofence.sql": "SELECT 1\n"}, "nofence.sql:1: a model file starts with a '---' line"),
    ({"open.sql": "---\ntarget: m.x\nSELECT 1\n"}, "open.sql:1: the front matter has no closing '---' line"),
    ({"sqlkey.sql": "---\ntarget: m.x\nsql: SELECT 2\n---\nSELECT 1\n"}, "sqlkey.sql:3: \"sql\" does not belong"),
])
def test_errors_name_the_file_and_line(admin, database, tmp_path, files, expected):
    d = tmp_path / "bad"
    d.mkdir()
    for name, text in files.items():
        write(d, name, text)
    before = one(admin, "SELECT count(*) FROM lake.models")
    out = load(database, d)
    assert out.returncode != 0
    assert expected in out.stderr, out.stderr
    assert one(admin, "SELECT count(*) FROM lake.models") == before  # all or nothing


def test_yaml_project_file(admin, database, tmp_path):
    f = tmp_path / "analytics.yml"
    f.write_text("models:\n  - name: y1\n    sql: SELECT 1 AS a\n    target: m.y1\n  - name: y2\n    sql: SELECT 2 AS a\n"
                 "    target: m.y2\n    overlap: sometimes\n")
    out = load(database, f)
    assert out.returncode != 0 and f"{f}:8:14: model \"y2\": invalid overlap" in out.stderr, out.stderr
    f.write_text(f.read_text().replace("sometimes", "queue"))
    out = load(database, f)
    assert out.returncode == 0, out.stderr
    assert rows(admin, "SELECT name, overlap FROM lake.models WHERE name IN ('y1', 'y2') ORDER BY 1") == [("y1", "skip"), ("y2", "queue")]
