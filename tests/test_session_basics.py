"""What every session gets from Postgres must survive townlake being preloaded
(issue 9, items 11 and 13): error CONTEXT lines, and a first statement that
sets the isolation level."""

from __future__ import annotations

import psycopg
import pytest

from conftest import PG_HOST, PG_PORT
from govhelpers import session


@pytest.fixture(params=["with_extension", "without_extension"])
def conn(request, database, admin_conn):
    # "postgres" has no CREATE EXTENSION townlake, but the hooks are loaded there too
    with session(database if request.param == "with_extension" else "postgres") as c:
        yield c


def test_copy_errors_keep_their_line_and_column(conn):
    conn.execute("CREATE TEMP TABLE copied (a int, b int)")
    with pytest.raises(psycopg.errors.InvalidTextRepresentation) as info:
        with conn.cursor().copy("COPY copied FROM STDIN") as copy:
            copy.write("1\t2\n3\tx\n")
    assert info.value.diag.context and "COPY copied, line 2, column b" in info.value.diag.context, info.value.diag.context


def test_plpgsql_errors_keep_their_function_and_line(conn):
    with pytest.raises(psycopg.errors.DivisionByZero) as info:
        conn.execute("DO $$ BEGIN PERFORM 1/0; END $$")
    assert "PL/pgSQL function inline_code_block line 1 at PERFORM" in (info.value.diag.context or "")
    conn.execute("CREATE OR REPLACE FUNCTION pg_temp.boom() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1/0; END $$")
    with pytest.raises(psycopg.errors.DivisionByZero) as info:
        conn.execute("SELECT pg_temp.boom()")
    assert "boom() line 1 at RETURN" in (info.value.diag.context or ""), info.value.diag.context


def test_isolation_level_as_a_new_backends_first_statement(database):
    with session(database) as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS raw_iso")
        admin.execute("SELECT lake.govern_schema('raw_iso', 'pub_iso') "
                      "WHERE NOT EXISTS (SELECT 1 FROM lake.governed_schemas WHERE raw_schema = 'raw_iso')")
    # a fresh backend: townlake's caches are cold, governance is on
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=database,
                         autocommit=True) as fresh:
        fresh.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert fresh.execute("SHOW transaction_isolation").fetchone() == ("repeatable read",)
        fresh.execute("COMMIT")
