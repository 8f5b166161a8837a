"""The PII scanner runs no code an analyst wrote (issue 9, item 4).

The attacker is a LOGIN role with a schema of its own. It creates tables whose
columns have its own types with a cast to text, a view over its own function,
and functions named like the built-ins the scanner calls. Whatever it plants
bumps a sequence (which no rollback undoes) and records a row; the scanner —
`lake.scan` run by a superuser, and the background worker, a superuser too —
must never run it, and must still classify the columns by name and type.
"""

from __future__ import annotations

import uuid

import pytest
from psycopg import sql

from govhelpers import recreate_roles, rows, session
from test_pii_worker import reset_system, scanner, set_system, wait_for

SUFFIX = uuid.uuid4().hex[:6]
EVE = f"scan_eve_{SUFFIX}"
SCHEMA = f"{EVE}_s"


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, [EVE])


@pytest.fixture(scope="module")
def planted(roles, database):
    """The attacker's schema with its hostile objects; yields the database name."""
    with session(database) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
            sql.Identifier(SCHEMA), sql.Identifier(EVE)))
    with session(database, EVE) as eve:
        eve.execute(f"""
            SET search_path = {SCHEMA};
            CREATE SEQUENCE ran_seq;
            CREATE TABLE ran (what text, who name);
            -- Every hostile function calls this: a trace no rollback removes.
            CREATE FUNCTION trace(what text) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM nextval('{SCHEMA}.ran_seq');
                INSERT INTO {SCHEMA}.ran VALUES (what, current_user);
                RAISE NOTICE 'hostile code ran: % as %', what, current_user;
            END $$;

            -- A composite type and an enum, each with a cast to text of its own.
            CREATE TYPE pair AS (a text, b text);
            CREATE FUNCTION pair_text(pair) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN PERFORM {SCHEMA}.trace('cast pair'); RETURN 'someone@example.com'; END $$;
            CREATE CAST (pair AS text) WITH FUNCTION pair_text(pair);
            CREATE TYPE mood AS ENUM ('happy', 'sad');
            CREATE FUNCTION mood_text(mood) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN PERFORM {SCHEMA}.trace('cast mood'); RETURN 'someone@example.com'; END $$;
            CREATE CAST (mood AS text) WITH FUNCTION mood_text(mood);
            -- An array of its own domain over text, with a cast of that array.
            CREATE DOMAIN address AS text;
            CREATE FUNCTION addresses_text(address[]) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN PERFORM {SCHEMA}.trace('cast address[]'); RETURN 'someone@example.com'; END $$;
            CREATE CAST (address[] AS text) WITH FUNCTION addresses_text(address[]);

            CREATE TABLE contacts (id int, email text, contact pair, mood mood, emails address[], home address);
            INSERT INTO contacts
              SELECT g, 'user' || g || '@example.com', ROW('a', 'b')::pair, 'happy',
                     ARRAY['user' || g || '@example.com']::address[], 'home' || g || '@example.com'
              FROM generate_series(1, 50) g;

            -- A view over its own function.
            CREATE FUNCTION emails() RETURNS SETOF text LANGUAGE plpgsql AS $$
            BEGIN PERFORM {SCHEMA}.trace('view'); RETURN QUERY SELECT 'x' || g || '@example.com' FROM generate_series(1, 20) g; END $$;
            CREATE VIEW mailing AS SELECT e AS email FROM emails() e;

            -- Functions named like the built-ins the scanner calls, for a
            -- caller whose search_path puts this schema first.
            CREATE FUNCTION "left"(text, integer) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN PERFORM {SCHEMA}.trace('left'); RETURN pg_catalog.left($1, $2); END $$;
            CREATE FUNCTION length(text) RETURNS integer LANGUAGE plpgsql AS $$
            BEGIN PERFORM {SCHEMA}.trace('length'); RETURN pg_catalog.length($1); END $$;
            CREATE FUNCTION format_type(oid, integer) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN PERFORM {SCHEMA}.trace('format_type'); RETURN pg_catalog.format_type($1, $2); END $$;
        """)
        # Sanity: the planted casts are live for anyone who casts.
        assert rows(eve, f"SELECT 'sad'::{SCHEMA}.mood::text") == [("someone@example.com",)]
    yield database


@pytest.fixture
def admin(planted):
    """A superuser session; no trace of hostile code yet."""
    with session(planted) as conn:
        conn.execute(f"TRUNCATE {SCHEMA}.ran; SELECT setval('{SCHEMA}.ran_seq', 1, false)")
        yield conn


def traces(conn) -> list[tuple]:
    """What hostile code ran (the sequence counts calls even when rolled back)."""
    called = rows(conn, f"SELECT is_called FROM {SCHEMA}.ran_seq")[0][0]
    return ([("sequence bumped",)] if called else []) + rows(conn, f"SELECT what, who FROM {SCHEMA}.ran")


def column_findings(conn, table):
    return {r[0]: r[1] for r in rows(conn, """
        SELECT column_name, infotypes FROM lake.pii_columns WHERE relation = %s::regclass""", (table,))}


def test_lake_scan_runs_no_user_cast(admin):
    got = rows(admin, f"SELECT relation, error FROM lake.scan('{SCHEMA}.contacts')")
    assert got == [(f"{SCHEMA}.contacts", None)]
    assert traces(admin) == []
    found = column_findings(admin, f"{SCHEMA}.contacts")
    assert found["email"] == ["email"]
    # A domain over text is read like text (Postgres ignores casts from a
    # domain); the enum and the array are printed by their built-in output
    # functions, the composite is classified by name and type only.
    assert found["home"] == ["email"]
    assert set(found) == {"id", "email", "contact", "mood", "emails", "home"}


def test_lake_scan_resolves_nothing_in_the_callers_search_path(admin):
    admin.execute(f"SET search_path = {SCHEMA}, pg_catalog, public")
    got = rows(admin, f"SELECT relation, error FROM lake.scan('{SCHEMA}.contacts')")
    assert {r[0] for r in traces(admin)} == set()
    assert got == [(f"{SCHEMA}.contacts", None)]


def test_lake_scan_does_not_read_a_view_over_user_code(admin):
    got = rows(admin, f"SELECT relation, rows_sampled, error FROM lake.scan('{SCHEMA}.mailing')")
    assert got == [(f"{SCHEMA}.mailing", 0, None)]
    assert traces(admin) == []
    assert any("not read" in n for n in admin.notices)  # type: ignore[attr-defined]
    assert column_findings(admin, f"{SCHEMA}.mailing")["email"] == ["email"]  # from its name


def test_worker_runs_no_user_cast(admin_conn, planted, admin):
    set_system(admin_conn, pii_scan_database=planted, pii_scan_naptime=1, pii_scan_io_share=1.0)
    try:
        wait_for(lambda: scanner(admin_conn, planted), "the scanner to start in the test database")
        # A table created now is new to the queue: the worker gets to it soon.
        with session(planted, EVE) as eve:
            eve.execute(f"""
                CREATE TABLE {SCHEMA}.signups (id int, email text, contact {SCHEMA}.pair,
                                               mood {SCHEMA}.mood, emails {SCHEMA}.address[],
                                               home {SCHEMA}.address);
                INSERT INTO {SCHEMA}.signups SELECT * FROM {SCHEMA}.contacts""")

        def scanned():
            return rows(admin, """SELECT scanned_by, last_error FROM lake.pii_scan_state
                                  WHERE relation = %s::regclass AND scanned_by = 'worker'""",
                        (f"{SCHEMA}.signups",))
        assert wait_for(scanned, "the worker to scan the attacker's table") == [("worker", None)]
        assert traces(admin) == []
        assert column_findings(admin, f"{SCHEMA}.signups")["email"] == ["email"]
    finally:
        reset_system(admin_conn, "pii_scan_database", "pii_scan_naptime", "pii_scan_io_share")
