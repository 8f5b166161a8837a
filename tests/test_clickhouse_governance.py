"""Governance applies unchanged to ClickHouse foreign tables (issue 13): in
a governed raw schema such a table is pending until reviewed, its published
view masks PII, the PII scanner samples it and the audit records reads of
it. The oracle for masked values is ClickHouse's own answer, masked here."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session

SUFFIX = uuid.uuid4().hex[:6]
CHDB = f"tl_gov_{SUFFIX}"
ANA = f"cg_ana_{SUFFIX}"
REV = f"cg_rev_{SUFFIX}"


@pytest.fixture(scope="module")
def ch(clickhouse):
    clickhouse.query(f"CREATE DATABASE {CHDB}")
    clickhouse.query(f"CREATE TABLE {CHDB}.people (id UInt32, email String, plan String) ENGINE = MergeTree() ORDER BY id")
    clickhouse.query(f"INSERT INTO {CHDB}.people SELECT number, concat('user', toString(number), '@mail.example.com'), "
                     f"['free', 'pro'][number % 2 + 1] FROM system.numbers LIMIT 300")
    yield clickhouse
    clickhouse.query(f"DROP DATABASE IF EXISTS {CHDB}")


@pytest.fixture(scope="module")
def gov(ch, database, admin_conn):
    for _ in recreate_roles(admin_conn, [ANA, REV]):
        with session(database) as admin:
            admin.execute(sql.SQL("GRANT lake_reviewer TO {}").format(sql.Identifier(REV)))
            admin.execute(sql.SQL("CREATE SERVER chg FOREIGN DATA WRAPPER clickhouse OPTIONS (host {}, port {}, database {})")
                          .format(sql.Literal(ch.host), sql.Literal(str(ch.port)), sql.Literal(CHDB)))
            admin.execute(sql.SQL("CREATE USER MAPPING FOR PUBLIC SERVER chg OPTIONS (user {}, password {})")
                          .format(sql.Literal(ch.user), sql.Literal(ch.password)))
            admin.execute("CREATE SCHEMA chraw")
            admin.execute("SELECT lake.govern_schema('chraw', 'chraw_pub')")
            admin.execute("CREATE FOREIGN TABLE chraw.people (id bigint, email text, plan text) "
                          "SERVER chg OPTIONS (\"table\" 'people')")
            yield database
            admin.execute(sql.SQL("DROP OWNED BY {}, {}").format(sql.Identifier(ANA), sql.Identifier(REV)))


@pytest.fixture
def admin(gov):
    with session(gov) as c:
        yield c


@pytest.fixture
def ana(gov):
    with session(gov, ANA) as c:
        yield c


@pytest.fixture
def rev(gov):
    with session(gov, REV) as c:
        yield c


def test_a_new_clickhouse_table_is_pending_until_reviewed(admin, ana):
    assert one(admin, "SELECT state FROM lake.governed_relations WHERE relname = 'people'") == "pending"
    assert one(admin, "SELECT count(*) FROM lake.pending_reviews WHERE relation = 'chraw.people' "
                      "AND kind = 'column'") == 3
    err = error_of(ana, "SELECT * FROM chraw_pub.people")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege)
    assert "pending review" in err.diag.message_primary
    assert "permission denied" in str(error_of(ana, "SELECT * FROM chraw.people"))


def test_the_pii_scanner_samples_the_clickhouse_table(admin, ch):
    if one(admin, "SELECT to_regprocedure('lake.scan(regclass)') IS NULL"):
        pytest.skip("the PII scanner is not installed")
    marker = f"SELECT id, email, plan FROM {CHDB}"
    admin.execute("SELECT * FROM lake.scan('chraw.people')")
    got = dict(rows(admin, "SELECT column_name, suggested_sensitivity FROM lake.pending_reviews "
                           "WHERE relation = 'chraw.people' AND kind = 'column'"))
    assert got["email"] == "pii" and got["plan"] != "pii", got
    # The sample came from ClickHouse itself (its query log has the read).
    ch.query("SYSTEM FLUSH LOGS")
    deadline = time.monotonic() + 15
    while not int(ch.query(f"SELECT count() FROM system.query_log WHERE query LIKE '%`{CHDB}`.`people`%' "
                           f"AND query LIKE '%email%' AND query NOT LIKE '%query_log%'")):
        assert time.monotonic() < deadline, f"no read of {marker} in ClickHouse's query log"
        time.sleep(0.3)


def test_the_published_view_masks_pii_and_the_audit_records_the_read(admin, ana, rev, ch):
    rev.execute("""SELECT lake.approve_column('chraw.people', 'id', 'public');
                   SELECT lake.approve_column('chraw.people', 'email', 'pii');
                   SELECT lake.approve_column('chraw.people', 'plan', 'internal');
                   SELECT lake.approve_table('chraw.people', 'people from ClickHouse')""")
    assert "no access grant" in str(error_of(ana, "SELECT * FROM chraw_pub.people"))
    rev.execute(f"SELECT lake.grant_access('{ANA}', 'chraw.people', '1 hour', 'governance on ClickHouse')")
    marker = f"m-chgov-{SUFFIX}"
    got = rows(ana, f"SELECT id, email, plan FROM chraw_pub.people WHERE id < 20 ORDER BY id /* {marker} */")
    source = ch.rows(f"SELECT id, email, plan FROM {CHDB}.people WHERE id < 20 ORDER BY id")

    def masked(email: str) -> str:
        local, domain = email.split("@")
        return f"{local[0]}***@{domain}"

    assert got == [(int(i), masked(e), p) for i, e, p in source]
    assert all("***@" in r[1] for r in got)
    # The raw table stays closed; the view owner's mapping reads ClickHouse.
    assert "permission denied" in str(error_of(ana, "SELECT email FROM chraw.people"))
    deadline = time.monotonic() + 15
    while True:
        audit = rows(admin, "SELECT role, outcome, relations, columns, pii_revealed FROM lake.audit_log "
                            "WHERE query_text LIKE %s ORDER BY id", (f"%{marker}%",))
        if audit or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(audit) == 1, audit
    role, outcome, relations, columns, pii = audit[0]
    assert (role, outcome, pii) == (ANA, "ok", False)
    assert relations == ["chraw.people"]
    assert {"chraw.people.id", "chraw.people.email", "chraw.people.plan"} <= set(columns)


def test_server_usage_does_not_reach_the_governed_table_with_its_credentials(admin, ana, ch):
    """Red team: with USAGE on the server and the PUBLIC user mapping (as
    docs/clickhouse.md sets one up), an analyst mapped the governed ClickHouse
    table into a schema of its own and read every e-mail address, unmasked and
    unaudited."""
    sandbox = f"{ANA}_s"
    admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(sql.Identifier(sandbox), sql.Identifier(ANA)))
    admin.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER chg TO {}").format(sql.Identifier(ANA)))
    try:
        ana.execute(f"CREATE FOREIGN TABLE {sandbox}.copy (id bigint, email text) SERVER chg OPTIONS (\"table\" 'people')")
        for query in (f"SELECT email FROM {sandbox}.copy WHERE id = 1",
                      f"SELECT count(*) FROM {sandbox}.copy",
                      f"INSERT INTO {sandbox}.copy VALUES (100000, 'planted@x.com')"):
            err = error_of(ana, query)
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), (query, err)
            assert "chraw.people" in str(err) and "CREATE USER MAPPING" in (err.diag.message_hint or ""), err
        assert int(ch.query(f"SELECT count() FROM {CHDB}.people WHERE email = 'planted@x.com'")) == 0
        # the superuser (who reads the raw table anyway) still can, through the same alias
        assert one(admin, f"SELECT count(*) FROM {sandbox}.copy") == int(ch.query(f"SELECT count() FROM {CHDB}.people"))
        # the governed table's user written another way (ClickHouse trims the header): still refused
        for padded in (f"{ch.user} ", f"  {ch.user}"):
            ana.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER chg OPTIONS (user {}, password {})")
                        .format(sql.Literal(padded), sql.Literal(ch.password)))
            err = error_of(ana, f"SELECT count(*) FROM {sandbox}.copy")
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), (padded, err)
            ana.execute("DROP USER MAPPING FOR CURRENT_USER SERVER chg")
        # with a ClickHouse user of its own (here `default`), ClickHouse's own grants decide
        ana.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER chg OPTIONS (user 'default')")
        assert one(ana, f"SELECT count(*) FROM {sandbox}.copy") == int(ch.query(f"SELECT count() FROM {CHDB}.people"))
    finally:
        admin.execute(sql.SQL("DROP USER MAPPING IF EXISTS FOR {} SERVER chg").format(sql.Identifier(ANA)))
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(sandbox)))
        admin.execute(sql.SQL("REVOKE USAGE ON FOREIGN SERVER chg FROM {}").format(sql.Identifier(ANA)))
