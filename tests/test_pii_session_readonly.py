"""A session with PII on is read-only for everything (issue 9, item 6).

The analyst holds a read and a pii grant on raw_r.customers (published as
pub_r.customers) and owns a sandbox schema. With PII on it tries every way to
copy a revealed value out of the session — large objects, COMMENT, views and
temporary tables built by dynamic SQL, NOTIFY, settings, advisory locks,
sequences, cursors WITH HOLD, dblink, foreign tables — and to carry one past
`disable_pii`. Each attempt is refused with a clear error, leaves nothing
behind, and is in the audit log with outcome `denied`.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session, wait_for_audit

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"ro_ana_{SUFFIX}"
BOX = f"{ANA}_s"
SECRETS = ["alice@example.com", "bob@corp.com"]


def leaked(text) -> bool:
    return any(s in str(text) for s in SECRETS)


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [ANA])


@pytest.fixture(scope="module")
def gov(roles, database):
    with session(database) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(BOX), sql.Identifier(ANA)))
        admin.execute("""
            CREATE SCHEMA raw_r;
            CREATE TABLE raw_r.customers (id int PRIMARY KEY, email text);
            INSERT INTO raw_r.customers VALUES (1, 'alice@example.com'), (2, 'bob@corp.com');
            SELECT lake.govern_schema('raw_r', 'pub_r');
            SELECT lake.approve_column('raw_r.customers', 'id', 'public');
            SELECT lake.approve_column('raw_r.customers', 'email', 'pii');
            SELECT lake.approve_table('raw_r.customers', 'customers');
            CREATE EXTENSION dblink;
            CREATE EXTENSION postgres_fdw;
            CREATE SERVER elsewhere FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
            CREATE FOREIGN TABLE public.remote (v text) SERVER elsewhere;
        """)
        admin.execute(sql.SQL("CREATE USER MAPPING FOR {} SERVER elsewhere OPTIONS (password 'x')").format(
            sql.Identifier(ANA)))
        admin.execute(sql.SQL("GRANT SELECT ON public.remote TO {}").format(sql.Identifier(ANA)))
        for kind in ("read", "pii"):
            admin.execute("SELECT lake.grant_access(%s, 'raw_r.customers', '1 day', 'side channels', %s)", (ANA, kind))
    with session(database, ANA) as ana:
        ana.execute(f"CREATE TABLE {BOX}.sink (v text); CREATE SEQUENCE {BOX}.seq")
    yield database


@pytest.fixture
def admin(gov):
    with session(gov) as c:
        yield c


@pytest.fixture
def ana(gov):
    """The analyst's session with PII on (checked: the email is revealed)."""
    with session(gov, ANA) as c:
        c.execute("SELECT lake.enable_pii('side channel tests')")
        assert one(c, "SELECT email FROM pub_r.customers WHERE id = 1") == "alice@example.com"
        yield c
        if not c.closed and c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            c.execute("SELECT lake.disable_pii()")


def refused(conn, statement: str, marker: str, admin) -> str:
    """Runs `statement` (which carries `marker`), expects the PII refusal, and
    returns its message once the audit log holds the denied attempt."""
    error = error_of(conn, statement)
    err = str(error)
    assert "not allowed while PII is revealed" in err, (statement, err)
    # (the CONTEXT of an error inside a DO block may quote the statement: the
    # session's own client sees it, as it saw the value)
    assert not leaked(error.diag.message_primary)
    denied = [r for r in wait_for_audit(admin, marker) if r[0] == "denied"]
    assert len(denied) == 1 and denied[0][1] == ANA, (marker, denied)
    return err


# ------------------------------------------------------------------ large objects

def test_large_object_from_a_revealed_value(admin, ana):
    refused(ana, "SELECT lo_from_bytea(0, convert_to(email, 'UTF8')) FROM pub_r.customers /* m-lo1 */",
            "m-lo1", admin)
    refused(ana, """DO $$ DECLARE o oid; BEGIN
                      o := lo_create(0);
                      PERFORM lo_put(o, 0, convert_to((SELECT min(email) FROM pub_r.customers), 'UTF8'));
                    END $$ /* m-lo2 */""", "m-lo2", admin)
    assert one(admin, "SELECT count(*) FROM pg_largeobject_metadata WHERE lomowner = %s::regrole", (ANA,)) == 0


# ------------------------------------------------------------------ DDL built by dynamic SQL

def test_comment_built_from_a_revealed_value(admin, ana):
    refused(ana, f"""DO $$ BEGIN
                       EXECUTE format('COMMENT ON TABLE {BOX}.sink IS %L', (SELECT min(email) FROM pub_r.customers));
                     END $$ /* m-comment */""", "m-comment", admin)
    assert one(admin, f"SELECT obj_description('{BOX}.sink'::regclass, 'pg_class')") is None


def test_view_built_from_a_revealed_value(admin, ana):
    refused(ana, f"""DO $$ BEGIN
                       EXECUTE format('CREATE VIEW {BOX}.leak AS VALUES (%L)', (SELECT min(email) FROM pub_r.customers));
                     END $$ /* m-view */""", "m-view", admin)
    refused(ana, """DO $$ BEGIN
                      EXECUTE format('CREATE TEMP VIEW leak AS VALUES (%L)', (SELECT min(email) FROM pub_r.customers));
                    END $$ /* m-temp-view */""", "m-temp-view", admin)
    assert one(admin, f"SELECT to_regclass('{BOX}.leak')") is None


def test_temporary_objects_and_functions(admin, ana):
    refused(ana, "CREATE TEMP TABLE stash (v text) /* m-temp-table */", "m-temp-table", admin)
    refused(ana, f"CREATE FUNCTION {BOX}.f() RETURNS int LANGUAGE sql AS 'SELECT 1' /* m-func */", "m-func", admin)
    assert one(admin, f"SELECT to_regprocedure('{BOX}.f()')") is None


def test_alter_role_set_built_from_a_revealed_value(admin, ana):
    refused(ana, """DO $$ BEGIN
                      EXECUTE format('ALTER ROLE %I SET application_name = %L', current_user,
                                     (SELECT min(email) FROM pub_r.customers));
                    END $$ /* m-alter-role */""", "m-alter-role", admin)
    settings = rows(admin, "SELECT setconfig FROM pg_db_role_setting WHERE setrole = %s::regrole", (ANA,))
    assert not leaked(settings)


# ------------------------------------------------------------------ session state that outlives disable_pii

def test_settings_cannot_carry_a_revealed_value(admin, ana):
    refused(ana, "SELECT set_config('leak.value', email, false) FROM pub_r.customers /* m-set-config */",
            "m-set-config", admin)
    refused(ana, """DO $$ BEGIN
                      EXECUTE format('SET application_name = %L', (SELECT min(email) FROM pub_r.customers));
                    END $$ /* m-set-dynamic */""", "m-set-dynamic", admin)
    ana.execute("SET statement_timeout = '1min'")  # typed by the client: fine
    ana.execute("SELECT lake.disable_pii()")
    assert not leaked(one(ana, "SELECT current_setting('leak.value', true)"))
    assert not leaked(one(ana, "SHOW application_name"))


def test_prepared_statement_and_held_cursor(admin, ana):
    refused(ana, """DO $$ BEGIN
                      EXECUTE format('PREPARE leak AS SELECT %L', (SELECT min(email) FROM pub_r.customers));
                    END $$ /* m-prepare */""", "m-prepare", admin)
    with pytest.raises(psycopg.Error) as info:
        with ana.transaction():
            ana.execute("DECLARE held CURSOR WITH HOLD FOR SELECT email FROM pub_r.customers /* m-hold */")
    assert "not allowed while PII is revealed" in str(info.value)
    assert "denied" in [r[0] for r in wait_for_audit(admin, "m-hold")]
    assert rows(ana, "SELECT name FROM pg_prepared_statements") == []
    assert rows(ana, "SELECT name FROM pg_cursors") == []


def test_values_in_variables_are_not_written_after_disable(admin, ana):
    refused(ana, f"""DO $$ DECLARE v text; BEGIN
                       SELECT email INTO v FROM pub_r.customers WHERE id = 1;
                       PERFORM lake.disable_pii();
                       INSERT INTO {BOX}.sink VALUES (v);
                     END $$ /* m-after-disable */""", "m-after-disable", admin)
    assert not leaked(rows(admin, f"SELECT v FROM {BOX}.sink"))


# ------------------------------------------------------------------ channels to other sessions

def test_notify_payloads(admin, ana, gov):
    with session(gov) as listener:
        listener.execute("LISTEN leak")
        refused(ana, "SELECT pg_notify('leak', email) FROM pub_r.customers /* m-pg-notify */", "m-pg-notify", admin)
        refused(ana, """DO $$ BEGIN
                          EXECUTE format('NOTIFY leak, %L', (SELECT min(email) FROM pub_r.customers));
                        END $$ /* m-notify */""", "m-notify", admin)
        refused(ana, "NOTIFY leak, 'typed' /* m-notify-top */", "m-notify-top", admin)
        # a statement that switches PII on runs masked to its end
        ana.execute("SELECT lake.disable_pii()")
        ana.execute("SELECT lake.enable_pii('same statement'), "
                    "pg_notify('leak', (SELECT min(email) FROM pub_r.customers))")
        got = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]
    assert got and not leaked(got), got


def test_advisory_locks_keyed_on_values(admin, ana):
    refused(ana, "SELECT pg_advisory_lock(hashtext(email)) FROM pub_r.customers /* m-advisory */",
            "m-advisory", admin)
    refused(ana, "SELECT pg_try_advisory_xact_lock(length(email)) FROM pub_r.customers /* m-advisory-x */",
            "m-advisory-x", admin)
    assert one(admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
               (ana.info.backend_pid,)) == 0


def test_sequences_keyed_on_values(admin, ana):
    refused(ana, f"SELECT setval('{BOX}.seq', length(email)) FROM pub_r.customers /* m-setval */", "m-setval", admin)
    assert one(admin, f"SELECT is_called FROM {BOX}.seq") is False


def test_dblink_and_foreign_tables(admin, ana):
    refused(ana, """SELECT public.dblink_exec('dbname=postgres', 'SELECT ' || quote_literal(email))
                    FROM pub_r.customers /* m-dblink */""", "m-dblink", admin)
    refused(ana, "SELECT * FROM public.remote WHERE v = (SELECT min(email) FROM pub_r.customers) /* m-fdw */",
            "m-fdw", admin)


def test_cursor_opened_before_enable_stays_masked(gov):
    with session(gov, ANA) as c:
        with c.transaction():
            c.execute("DECLARE early CURSOR FOR SELECT email FROM pub_r.customers ORDER BY id")
            c.execute("SELECT lake.enable_pii('cursor opened before')")
            got = [r[0] for r in c.execute("FETCH ALL FROM early").fetchall()]
        assert got and not leaked(got), got
        assert one(c, "SELECT email FROM pub_r.customers WHERE id = 1") == "alice@example.com"
        c.execute("SELECT lake.disable_pii()")


def test_writes_refused_before_are_now_audited(admin, ana):
    refused(ana, f"INSERT INTO {BOX}.sink SELECT email FROM pub_r.customers /* m-insert */", "m-insert", admin)
    refused(ana, "COPY (SELECT email FROM pub_r.customers) TO '/tmp/townlake_leak.csv' /* m-copy */", "m-copy", admin)
