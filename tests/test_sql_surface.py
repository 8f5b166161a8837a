"""The public SQL surface is the API and reads as a reference: every
function, view and table in schema lake has a comment, every townlake
setting a short and a long description, internals live in lake_internal
(off every search_path), and the SQL calls between parts that
docs/architecture-sql.md declares exist and are covered by the tests it
names."""

from __future__ import annotations

import re
from pathlib import Path

from govhelpers import one, rows

REPO = Path(__file__).resolve().parent.parent


def test_every_public_function_view_and_table_has_a_comment(conn):
    missing = rows(conn, """
        SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
         WHERE p.pronamespace = 'lake'::regnamespace AND COALESCE(obj_description(p.oid, 'pg_proc'), '') = ''
        UNION ALL
        SELECT CASE c.relkind WHEN 'v' THEN 'view ' ELSE 'table ' END || c.oid::regclass::text FROM pg_class c
         WHERE c.relnamespace = 'lake'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND COALESCE(obj_description(c.oid, 'pg_class'), '') = ''
         ORDER BY 1""")
    assert missing == [], f"public objects without a COMMENT: {[m[0] for m in missing]}"
    # the check saw the API (functions of every part)
    assert one(conn, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'lake'::regnamespace") > 40


def test_every_setting_has_a_short_and_a_long_description(conn):
    settings = rows(conn, "SELECT name, short_desc, extra_desc FROM pg_settings WHERE name LIKE 'townlake.%' ORDER BY 1")
    assert len(settings) > 20, settings
    undescribed = [name for name, short, extra in settings if not (short or "").strip() or not (extra or "").strip()]
    assert undescribed == [], f"settings without a short or long description: {undescribed}"


def test_internals_are_off_the_search_path_and_not_in_lake(conn):
    assert one(conn, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'lake_internal'::regnamespace") > 50
    # a plain session does not resolve internal names
    assert one(conn, "SELECT to_regproc('_privileged')") is None
    assert one(conn, "SELECT to_regproc('lake._privileged')") is None
    assert one(conn, "SELECT to_regproc('lake_internal._privileged')") is not None
    assert "lake_internal" not in one(conn, "SHOW search_path")
    # nothing internal-looking in the API: governance helpers and
    # operations, oid twins, trigger and event-trigger functions
    leaked = rows(conn, """
        SELECT p.oid::regprocedure::text FROM pg_proc p
         WHERE p.pronamespace = 'lake'::regnamespace
           AND (p.proname LIKE '\\_%' OR p.proname LIKE '%\\_by\\_oid'
                OR (p.prorettype IN ('trigger'::regtype, 'event_trigger'::regtype)))""")
    assert leaked == []


def declared_contracts() -> list[tuple[str, str, str]]:
    """(caller, callee, covering test) rows of docs/architecture-sql.md."""
    text = (REPO / "docs" / "architecture-sql.md").read_text()
    section = text.split("## Calls from one part into another", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("caller", "---"):
            out.append((cells[0], cells[1], cells[3]))
    return out


def test_cross_part_contracts_exist_and_are_covered(conn):
    contracts = declared_contracts()
    assert len(contracts) >= 6, contracts
    for caller, callee, covered_by in contracts:
        for signature in re.findall(r"`((?:lake|lake_internal)\.[a-z_]+\([a-z_,]*\))`", callee):
            assert one(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (signature,)), (caller, signature)
        path, _, test = covered_by.strip("`").partition("::")
        source = (REPO / path).read_text()
        assert re.search(rf"^def {re.escape(test)}\(", source, re.M), (caller, covered_by)
    # every call the code makes across parts is declared: the PII scanner's
    # call into governance in particular (it once called a function that
    # did not exist)
    declared = " ".join(c[1] for c in contracts)
    scan_rs = (REPO / "src" / "pii" / "scan.rs").read_text()
    for called in set(re.findall(r"lake_internal\.(_gov_[a-z_]+)", scan_rs)):
        assert called in declared, called
    worker_rs = (REPO / "src" / "audit" / "worker.rs").read_text()
    for called in set(re.findall(r"lake_internal\.(_op_[a-z_]+)", worker_rs)):
        assert called in declared, called
