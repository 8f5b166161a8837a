"""Upgrading from the landed version: `CREATE EXTENSION townlake VERSION
'0.1.0'` (the install script kept in sql/versions/), governance, audit and
Iceberg data, `ALTER EXTENSION townlake UPDATE`, then the upgraded catalog
surface must equal a fresh database's and the kept data must still work.

The cluster preloads the current library, so the 0.1.0 objects run with it
from the start, as they do after a library upgrade in production. Its
governance dispatcher refuses to work on 0.1.0 objects (that is the
fail-closed state checked below), so the 0.1.0 governance state is built by
the 0.1.0 SQL itself: its internal `lake._op_*` functions, called as the
superuser the 0.1.0 dispatcher ran them as, with the capture event triggers
off while they run (the 0.1.0 dispatcher switched them off the same way,
through `lake._governance_internal()`) and the table's lock-down done ahead
(the utility hook allowed it only inside the dispatcher). The 0.1.0 library
itself is not run here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import tomllib
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from conftest import connect
from govhelpers import error_of, one, recreate_roles, rows, session

REPO = Path(__file__).resolve().parent.parent
VERSIONS = REPO / "sql" / "versions"
OLD_VERSIONS = ["0.1.0"]
OLD = OLD_VERSIONS[-1]
NEW = tomllib.loads((REPO / "Cargo.toml").read_text())["package"]["version"]

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"upg_ana_{SUFFIX}"
AUD = f"upg_aud_{SUFFIX}"
CUSTOMERS = [
    (1, "ada@math.org", "10.1.2.3", "vip", "eu"),
    (2, "alan@cs.example.uk", "192.168.7.9", "n/a", "us"),
    (3, "grace@navy.example.mil", "172.16.254.1", "call back", "eu"),
]
EVENTS = [(i, f"kind{i % 3}", i * 10) for i in range(1, 201)]


def pg_config() -> str:
    # the scripts export the pg_config of the Postgres the extension went into
    return os.environ.get("PG_CONFIG", "/usr/bin/pg_config")


# ---------------------------------------------------------------- symbols

def old_script_symbols(version: str) -> set[str]:
    text = (VERSIONS / f"townlake--{version}.sql").read_text()
    return set(re.findall(r"'MODULE_PATHNAME'\s*,\s*'([^']+)'", text))


def library_symbols() -> set[str]:
    libdir = subprocess.run([pg_config(), "--pkglibdir"], check=True, capture_output=True, text=True).stdout.strip()
    out = subprocess.run(["nm", "-D", "--defined-only", f"{libdir}/townlake.so"],
                         check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("version", OLD_VERSIONS)
def test_library_exports_every_symbol_an_old_script_names(version):
    wanted = old_script_symbols(version)
    assert len(wanted) > 30, wanted  # the script was read: it binds dozens of C functions
    exported = library_symbols()
    # V1 functions need their info function too (pg_finfo_<name>)
    missing = sorted(s for s in wanted for s2 in (s, f"pg_finfo_{s}") if s2 not in exported)
    assert not missing, f"symbols named by townlake--{version}.sql that the library lacks: {missing}"


# ---------------------------------------------------------------- surface

SURFACE = {
    "function": """
        SELECT format('%s.%s(%s) -> %s | args=%s lang=%s kind=%s vol=%s strict=%s secdef=%s parallel=%s '
                      'config=%s acl=%s comment=%s body=%s',
                      n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
                      pg_get_function_result(p.oid), pg_get_function_arguments(p.oid), l.lanname, p.prokind,
                      p.provolatile, p.proisstrict, p.prosecdef, p.proparallel, p.proconfig,
                      (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(p.proacl) a),
                      obj_description(p.oid, 'pg_proc'), md5(p.prosrc))
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
         WHERE n.nspname IN ('lake', 'lake_internal')""",
    "relation": """
        SELECT format('%s.%s kind=%s acl=%s comment=%s rls=%s view=%s options=%s', n.nspname, c.relname, c.relkind,
                      (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(c.relacl) a),
                      obj_description(c.oid, 'pg_class'), c.relrowsecurity,
                      CASE WHEN c.relkind = 'v' THEN md5(pg_get_viewdef(c.oid)) END, c.reloptions)
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('lake', 'lake_internal')""",
    "column": """
        SELECT format('%s.%s.%s %s notnull=%s default=%s comment=%s storage=%s compression=%s acl=%s',
                      n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                      pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum), a.attstorage,
                      a.attcompression, a.attacl)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname IN ('lake', 'lake_internal') AND a.attnum > 0 AND NOT a.attisdropped""",
    "index": """
        SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         WHERE c.relnamespace IN ('lake'::regnamespace)""",
    "constraint": """
        SELECT format('%s on %s: %s', co.conname, co.conrelid::regclass, pg_get_constraintdef(co.oid))
          FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid WHERE c.relnamespace = 'lake'::regnamespace""",
    "trigger": """
        SELECT format('%s enabled=%s: %s', t.tgname, t.tgenabled, pg_get_triggerdef(t.oid))
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE c.relnamespace = 'lake'::regnamespace AND NOT t.tgisinternal""",
    "policy": """
        SELECT format('%s on %s cmd=%s roles=%s using=%s', p.polname, p.polrelid::regclass, p.polcmd,
                      p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid))
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = 'lake'::regnamespace""",
    "event trigger": """
        SELECT format('%s on %s enabled=%s tags=%s runs %s', evtname, evtevent, evtenabled, evttags,
                      evtfoid::regprocedure) FROM pg_event_trigger""",
    "schema": """
        SELECT format('%s owner=%s acl=%s comment=%s', n.nspname, n.nspowner::regrole,
                      (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(n.nspacl) a),
                      obj_description(n.oid, 'pg_namespace'))
          FROM pg_namespace n WHERE n.nspname IN ('lake', 'lake_internal')""",
    "wrapper": """
        SELECT format('%s handler=%s validator=%s acl=%s comment=%s', w.fdwname, w.fdwhandler::regprocedure,
                      w.fdwvalidator::regprocedure, w.fdwacl, obj_description(w.oid, 'pg_foreign_data_wrapper'))
          FROM pg_foreign_data_wrapper w WHERE w.fdwname = 'iceberg'""",
    "member": """
        SELECT pg_describe_object(d.classid, d.objid, d.objsubid) FROM pg_depend d
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
           AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'townlake')""",
    "extension": """
        SELECT format('%s %s schema=%s config=%s', e.extname, e.extversion, e.extnamespace::regnamespace,
                      (SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM unnest(e.extconfig) c))
          FROM pg_extension e WHERE e.extname = 'townlake'""",
}


def surface(dbname: str) -> set[str]:
    with connect(dbname) as c:
        return {f"{kind}: {r[0]}" for kind, query in SURFACE.items() for r in c.execute(query).fetchall()}


# ---------------------------------------------------------------- the upgrade

@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [ANA, AUD])


def old_op(conn, op: str, args: dict):
    """One 0.1.0 governance operation, as the 0.1.0 dispatcher ran it: the
    internal function with the caller's oid, as a superuser."""
    return conn.execute(sql.SQL("SELECT lake.{}(10, %s::jsonb)").format(sql.Identifier(f"_op_{op}")),
                        (json.dumps(args),)).fetchone()[0]


def wait_for_audit_writer(conn, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while one(conn, "SELECT lake.audit_pending()") > 0 and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def upgrade(admin_conn, roles):
    """A database created at the old version, filled, checked in the
    fail-closed state, then updated. Yields what the tests compare."""
    old_db = f"tl_upgrade_{SUFFIX}"
    fresh_db = f"tl_upgrade_fresh_{SUFFIX}"
    for db in (old_db, fresh_db):
        admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    state: dict = {"old_db": old_db, "fresh_db": fresh_db}
    try:
        with connect(fresh_db) as c:
            c.execute("CREATE EXTENSION townlake")
        with session(old_db) as admin:
            admin.execute(f"CREATE EXTENSION townlake VERSION '{OLD}'")
            state["created_version"] = one(admin, "SELECT extversion FROM pg_extension WHERE extname = 'townlake'")
            admin.execute(sql.SQL("GRANT lake_auditor TO {}").format(sql.Identifier(AUD)))
            # Iceberg: a table with rows, outside governance
            admin.execute("CREATE SCHEMA ice")
            admin.execute("CREATE FOREIGN TABLE ice.events (id bigint, kind text, cost int) SERVER lake_local "
                          f"OPTIONS (namespace 'upg_{SUFFIX}', \"table\" 'events')")
            # two statements, two snapshots (EVENTS holds the same rows)
            admin.execute("INSERT INTO ice.events SELECT g, 'kind' || g % 3, g * 10 FROM generate_series(1, 100) g")
            admin.execute("INSERT INTO ice.events SELECT g, 'kind' || g % 3, g * 10 FROM generate_series(101, 200) g")
            # governance, built by the 0.1.0 SQL (see the module docstring)
            admin.execute("CREATE SCHEMA raw")
            admin.execute("CREATE TABLE raw.customers (id int, email text, ip inet, note text, region text)")
            with admin.cursor() as cur:
                cur.executemany("INSERT INTO raw.customers VALUES (%s, %s, %s, %s, %s)", CUSTOMERS)
            # The lock-down governing does, done ahead while the table is not
            # governed yet: the utility hook lets only townlake's own
            # operations change a governed table's owner and privileges.
            admin.execute("ALTER TABLE raw.customers OWNER TO lake_owner")
            admin.execute("GRANT SELECT ON raw.customers TO lake_governance")
            admin.execute("ALTER TABLE raw.customers ENABLE ROW LEVEL SECURITY")
            admin.execute("CREATE POLICY townlake_published ON raw.customers FOR SELECT TO lake_governance USING (true)")
            admin.execute("ALTER EVENT TRIGGER townlake_governance_capture DISABLE")
            admin.execute("ALTER EVENT TRIGGER townlake_governance_drop DISABLE")
            old_op(admin, "govern_schema", {"raw_schema": "raw", "published_schema": "pub"})
            rel = one(admin, "SELECT 'raw.customers'::regclass::oid")
            for col, sens in (("id", "public"), ("email", "pii"), ("ip", "restricted"), ("region", "internal")):
                old_op(admin, "approve_column", {"rel": rel, "col": col, "sensitivity": sens, "reason": "upgrade test"})
            old_op(admin, "deny_column", {"rel": rel, "col": "note", "reason": "free text"})
            old_op(admin, "set_row_filter", {"rel": rel, "predicate": "region = 'eu'"})
            old_op(admin, "approve_table", {"rel": rel, "reason": "upgrade test"})
            ana_oid = one(admin, "SELECT %s::regrole::oid", (ANA,))
            old_op(admin, "grant_access", {"grantee": ana_oid, "rel": rel, "expires_in": "30 days",
                                           "reason": "upgrade test", "level": "read"})
            admin.execute("ALTER EVENT TRIGGER townlake_governance_capture ENABLE")
            admin.execute("ALTER EVENT TRIGGER townlake_governance_drop ENABLE")
            state["reviews_before"] = rows(admin, "SELECT id, action, column_name, reason FROM lake.reviews ORDER BY id")
            state["columns_before"] = rows(admin, "SELECT column_name, state, sensitivity, mask::text "
                                                  "FROM lake.governed_columns ORDER BY attnum")
            # audit records: the superuser reads the governed raw table
            admin.execute("SELECT count(*) /* upgrade-audit-marker */ FROM raw.customers")
            wait_for_audit_writer(admin)
            state["audit_before"] = rows(admin, "SELECT id, role, query_text, hash FROM lake.audit_log ORDER BY id")
            state["verify_before"] = one(admin, "SELECT lake.verify_audit()")

            # the fail-closed state: the library is newer than the objects
            with session(old_db, ANA) as ana:
                state["stale_read"] = error_of(ana, "SELECT * FROM pub.customers")
            state["stale_review"] = error_of(admin, "SELECT lake.approve_column('raw.customers', 'note', 'public')")
            state["stale_governed_ddl"] = error_of(admin, "ALTER TABLE raw.customers ADD COLUMN extra int")
            state["stale_new_governed_table"] = error_of(admin, "CREATE TABLE raw.later (x int)")
            admin.execute("CREATE TABLE public.plain (x int)")   # ungoverned DDL keeps working
            state["stale_iceberg_count"] = one(admin, "SELECT count(*) FROM ice.events")

            admin.execute("ALTER EXTENSION townlake UPDATE")
            state["updated_version"] = one(admin, "SELECT extversion FROM pg_extension WHERE extname = 'townlake'")
        state["upgraded_surface"] = surface(old_db)
        state["fresh_surface"] = surface(fresh_db)
        yield state
    finally:
        for db in (old_db, fresh_db):
            admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


def test_old_version_is_created_and_updated(upgrade):
    assert OLD != NEW, "bump Cargo.toml's version when the SQL changes"
    assert upgrade["created_version"] == OLD
    assert upgrade["updated_version"] == NEW
    assert upgrade["verify_before"] is True
    assert any("upgrade-audit-marker" in r[2] for r in upgrade["audit_before"])


@pytest.mark.parametrize("key", ["stale_read", "stale_review", "stale_governed_ddl", "stale_new_governed_table"])
def test_outdated_objects_fail_closed_with_a_hint(upgrade, key):
    err = upgrade[key]
    assert isinstance(err, psycopg.errors.ObjectNotInPrerequisiteState), (key, err)
    assert f"version {OLD}" in err.diag.message_primary and NEW in err.diag.message_primary, err.diag.message_primary
    assert "ALTER EXTENSION townlake UPDATE" in (err.diag.message_hint or ""), err.diag.message_hint


def test_outdated_objects_leave_ungoverned_data_alone(upgrade):
    assert upgrade["stale_iceberg_count"] == len(EVENTS)


def test_upgraded_surface_equals_a_fresh_database(upgrade):
    fresh, upgraded = upgrade["fresh_surface"], upgrade["upgraded_surface"]
    only_fresh = sorted(fresh - upgraded)
    only_upgraded = sorted(upgraded - fresh)
    report = "\n".join(["only in a fresh database:", *only_fresh, "only in the upgraded one:", *only_upgraded])
    print(report)
    assert len(fresh) > 500  # the queries saw the extension
    assert not only_fresh and not only_upgraded, report


def test_governance_data_survives_and_works(upgrade):
    db = upgrade["old_db"]
    with session(db) as admin, session(db, ANA) as ana:
        assert rows(admin, "SELECT id, action, column_name, reason FROM lake.reviews ORDER BY id")[
            :len(upgrade["reviews_before"])] == upgrade["reviews_before"]
        assert rows(admin, "SELECT column_name, state, sensitivity, mask::text FROM lake.governed_columns "
                           "ORDER BY attnum") == upgrade["columns_before"]
        # the analyst reads the published view: approved columns only, masks
        # applied, the row filter in force (expected values from the source rows)
        got = rows(ana, "SELECT id, email, host(ip), region FROM pub.customers ORDER BY id")
        expected = [(i, f"{e[0]}***@{e.split('@')[1]}", ".".join(ip.split(".")[:3] + ["0"]), r)
                    for i, e, ip, _note, r in CUSTOMERS if r == "eu"]
        assert got == expected
        assert "note" not in [c.name for c in ana.execute("SELECT * FROM pub.customers LIMIT 0").description]
        # governance keeps working: DDL is captured, reviews republish
        admin.execute("ALTER TABLE raw.customers ADD COLUMN tier text")
        assert one(admin, "SELECT state FROM lake.governed_columns WHERE relid = 'raw.customers'::regclass "
                          "AND column_name = 'tier'") == "pending"
        admin.execute("SELECT lake.approve_column('raw.customers', 'tier', 'public')")
        assert "tier" in [c.name for c in ana.execute("SELECT * FROM pub.customers LIMIT 0").description]
        assert one(ana, "SELECT lake.explain_access('pub.customers')->>'allowed'") == "true"


def test_audit_chain_survives_and_grows(upgrade):
    db = upgrade["old_db"]
    with session(db) as admin, session(db, AUD) as aud, session(db, ANA) as ana:
        before = upgrade["audit_before"]
        assert rows(admin, "SELECT id, role, query_text, hash FROM lake.audit_log ORDER BY id")[:len(before)] == before
        ana.execute("SELECT count(*) /* upgrade-audit-after */ FROM pub.customers")
        wait_for_audit_writer(admin)
        after = rows(aud, "SELECT role FROM lake.audit_log WHERE query_text LIKE '%upgrade-audit-after%'")
        assert after == [(ANA,)]
        assert one(aud, "SELECT lake.verify_audit()") is True


def test_iceberg_table_survives_and_takes_writes(upgrade):
    db = upgrade["old_db"]
    with session(db) as admin:
        got = rows(admin, "SELECT id, kind, cost FROM ice.events ORDER BY id")
        assert got == EVENTS
        admin.execute("INSERT INTO ice.events VALUES (201, 'late', 5)")
        assert one(admin, "SELECT count(*) FROM ice.events") == len(EVENTS) + 1
        assert one(admin, "SELECT sum(cost) FROM ice.events") == sum(e[2] for e in EVENTS) + 5
        assert one(admin, "SELECT count(*) FROM lake.snapshots('ice.events')") == 3


def test_pii_scanner_works_after_the_upgrade(upgrade):
    db = upgrade["old_db"]
    with session(db) as admin:
        admin.execute("CREATE TABLE raw.leads (id int, contact text)")
        admin.execute("INSERT INTO raw.leads SELECT g, 'lead' || g || '@mail.example.com' FROM generate_series(1, 200) g")
        admin.execute("SELECT * FROM lake.scan('raw.leads')")
        assert rows(admin, "SELECT suggested_sensitivity, suggested_mask FROM lake.pending_reviews "
                           "WHERE relation = 'raw.leads' AND column_name = 'contact'") == [("pii", "lake.mask_email(text)")]
        # the scanner told governance (the cross-part contract)
        assert rows(admin, "SELECT detail->>'suggested_sensitivity', detail->>'state' FROM lake.reviews "
                           "WHERE action = 'pii_finding_changed' AND relid = 'raw.leads'::regclass "
                           "AND column_name = 'contact'") == [("pii", "pending")]
