"""The background PII scanner: new tables get scanned without anyone calling
lake.scan, it survives SIGTERM, follows SIGHUP, idles where the extension is
missing and can be switched off."""

import time
import uuid

import pytest
from psycopg import sql

from conftest import connect
from govhelpers import session

TIMEOUT = 60


def reload(admin_conn):
    admin_conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)


def set_system(admin_conn, **settings):
    for name, value in settings.items():
        admin_conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
            sql.Identifier(f"townlake.{name}"), sql.Literal(str(value))))
    reload(admin_conn)


def reset_system(admin_conn, *names):
    for name in names:
        admin_conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(f"townlake.{name}")))
    reload(admin_conn)


def wait_for(check, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def scanner(admin_conn, database):
    return admin_conn.execute(
        "SELECT pid, query FROM pg_stat_activity WHERE backend_type = 'townlake pii scanner' AND datname = %s",
        (database,)).fetchone()


@pytest.fixture(scope="module")
def worker_db(admin_conn, database):
    """Points the scanner at this module's database, with short pauses."""
    set_system(admin_conn, pii_scan_database=database, pii_scan_naptime=1, pii_scan_io_share=1.0)
    wait_for(lambda: scanner(admin_conn, database), "the scanner to start in the test database")
    yield database
    reset_system(admin_conn, "pii_scan_database", "pii_scan_naptime", "pii_scan_io_share", "pii_scanner_enabled")


def scanned_by_worker(conn, table):
    return conn.execute("""
        SELECT scanned_at FROM lake.pii_scan_state WHERE relation = to_regclass(%s) AND scanned_by = 'worker'
    """, (table,)).fetchone()


def test_new_table_is_scanned_without_lake_scan(conn, worker_db):
    conn.execute("CREATE TABLE public.signups (id uuid, email text, first_name text, plan text)")
    conn.execute("""
        INSERT INTO public.signups
        SELECT gen_random_uuid(), 'user' || i || '@example.com', (ARRAY['Anna','John','Maria','Pierre'])[1 + i % 4], 'free'
        FROM generate_series(1, 300) i""")
    wait_for(lambda: scanned_by_worker(conn, "public.signups"), "the worker to scan public.signups")
    rows = {r[0]: r[1:] for r in conn.execute("""
        SELECT column_name, sensitivity, mask FROM lake.pii_columns WHERE relation = 'public.signups'::regclass
    """).fetchall()}
    assert rows["email"] == ("pii", "lake.mask_email(text)")
    assert rows["first_name"] == ("pii", "lake.mask_partial(text,integer,integer)")
    assert rows["plan"] == (None, None)


def test_new_columns_and_data_are_rescanned(conn, worker_db):
    conn.execute("CREATE TABLE public.leads (id int)")
    first = wait_for(lambda: scanned_by_worker(conn, "public.leads"), "the first scan")[0]
    conn.execute("ALTER TABLE public.leads ADD COLUMN phone text")
    conn.execute("INSERT INTO public.leads SELECT i, '+44 20 7946 ' || lpad(i::text, 4, '0') FROM generate_series(1, 100) i")
    def rescanned():
        row = conn.execute("""
            SELECT c.infotypes FROM lake.pii_columns c JOIN lake.pii_scan_state s USING (relation)
            WHERE c.relation = 'public.leads'::regclass AND c.column_name = 'phone' AND s.scanned_at > %s
        """, (first,)).fetchone()
        return row and row[0] == ["phone"]
    wait_for(rescanned, "the worker to rescan public.leads after its columns changed")


def test_governed_table_reaches_the_review_queue_with_suggestions(conn, worker_db):
    if not conn.execute("SELECT to_regprocedure('lake.govern_schema(name,name)') IS NOT NULL").fetchone()[0]:
        pytest.skip("governance (lake.govern_schema) is not installed in this build")
    conn.execute("CREATE SCHEMA raw_crm")
    conn.execute("CREATE SCHEMA crm")
    conn.execute("SELECT lake.govern_schema('raw_crm', 'crm')")
    conn.execute("CREATE TABLE raw_crm.contacts (id int, email text, note text)")
    conn.execute("INSERT INTO raw_crm.contacts SELECT i, 'c' || i || '@example.com', 'hello' FROM generate_series(1, 200) i")
    wait_for(lambda: scanned_by_worker(conn, "raw_crm.contacts"), "the worker to scan raw_crm.contacts")
    def suggested():
        return conn.execute("""
            SELECT suggested_sensitivity, suggested_mask FROM lake.pending_reviews
            WHERE relation = 'raw_crm.contacts' AND column_name = 'email'""").fetchone()
    assert wait_for(suggested, "the pending review of raw_crm.contacts.email") == ("pii", "lake.mask_email(text)")


def test_a_flood_of_sandbox_tables_does_not_hold_back_governed_data(admin_conn, conn, worker_db):
    """Red team: the scanner takes one relation per nap, new relations first,
    whoever owns them. An analyst who created a hundred tables in its own
    schema (or altered one over and over) kept a governed table's rescan, and
    so its review suggestions, waiting for minutes (hours at the default
    naptime)."""
    if not conn.execute("SELECT to_regprocedure('lake.govern_schema(name,name)') IS NOT NULL").fetchone()[0]:
        pytest.skip("governance (lake.govern_schema) is not installed in this build")
    role = f"pii_flood_{uuid.uuid4().hex[:6]}"
    conn.execute("CREATE SCHEMA raw_flood")
    conn.execute("CREATE SCHEMA pub_flood")
    conn.execute("SELECT lake.govern_schema('raw_flood', 'pub_flood')")
    conn.execute("CREATE TABLE raw_flood.people (id int, note text)")
    conn.execute("INSERT INTO raw_flood.people SELECT i, 'hello' FROM generate_series(1, 20) i")
    first = wait_for(lambda: scanned_by_worker(conn, "raw_flood.people"), "the first scan of raw_flood.people")[0]
    admin_conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(role), sql.Identifier(role)))
        with session(worker_db, role) as analyst:
            analyst.execute(sql.SQL("""
                DO $$ BEGIN
                    FOR i IN 1..100 LOOP EXECUTE format('CREATE TABLE %I.t%s (x int)', {}, i); END LOOP;
                END $$""").format(sql.Literal(role)))
        # new data in the governed table: it is queued again, behind the flood
        conn.execute("""INSERT INTO raw_flood.people
                        SELECT i, 'p' || i || '@example.com' FROM generate_series(21, 200) i""")
        def rescanned():
            return conn.execute("SELECT scanned_at FROM lake.pii_scan_state "
                                "WHERE relation = 'raw_flood.people'::regclass AND scanned_at > %s", (first,)).fetchone()
        wait_for(rescanned, "the rescan of raw_flood.people ahead of the analyst's hundred tables", timeout=40)
        waiting = conn.execute("SELECT count(*) FROM lake_internal.pii_scan_queue() q JOIN pg_class c ON c.oid = q.relation "
                               "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s", (role,)).fetchone()[0]
        assert waiting > 50, "the flood was scanned first (the scanner got faster than this test assumes)"
    finally:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(role)))
        admin_conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_worker_survives_sigterm(admin_conn, conn, worker_db):
    pid = scanner(admin_conn, worker_db)[0]
    admin_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    new = wait_for(lambda: (s := scanner(admin_conn, worker_db)) and s[0] != pid and s,
                   "the launcher to start a new scanner")
    assert new[0] != pid
    conn.execute("CREATE TABLE public.after_restart (email text)")
    conn.execute("INSERT INTO public.after_restart VALUES ('x@example.com')")
    wait_for(lambda: scanned_by_worker(conn, "public.after_restart"), "the new scanner to scan")


def test_worker_waits_where_the_extension_is_missing(admin_conn, worker_db):
    other = f"tl_pii_noext_{uuid.uuid4().hex[:6]}"
    admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other)))
    try:
        with connect(other) as c:
            c.execute("CREATE TABLE t (email text)")
            c.execute("INSERT INTO t VALUES ('a@example.com')")
        set_system(admin_conn, pii_scan_database=other)
        activity = wait_for(lambda: (s := scanner(admin_conn, other)) and "not installed" in (s[1] or "") and s,
                            "the scanner to wait in a database without the extension")
        assert "not installed" in activity[1]
    finally:
        set_system(admin_conn, pii_scan_database=worker_db)
        wait_for(lambda: scanner(admin_conn, worker_db), "the scanner to come back")
        admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(other)))


def test_scanner_can_be_switched_off(admin_conn, conn, worker_db):
    set_system(admin_conn, pii_scanner_enabled="off")
    try:
        wait_for(lambda: scanner(admin_conn, worker_db) is None, "the scanner to stop")
        conn.execute("CREATE TABLE public.while_off (email text)")
        conn.execute("INSERT INTO public.while_off VALUES ('a@example.com')")
        time.sleep(3)
        assert scanned_by_worker(conn, "public.while_off") is None
        status = conn.execute("SELECT status FROM lake.scan_status WHERE relation = 'public.while_off'::regclass").fetchone()
        assert status == ("queued",)
    finally:
        set_system(admin_conn, pii_scanner_enabled="on")
    wait_for(lambda: scanned_by_worker(conn, "public.while_off"), "the scanner to catch up when switched on")
