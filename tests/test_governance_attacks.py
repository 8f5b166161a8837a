"""Attacks on governed data (issue 4, "Must show"): each one must leak nothing.

Setup: schema raw_a is governed and published as pub_a. customers has
public, internal, pii (masked), restricted (always masked) and denied
columns and a row filter that hides region 'hidden'. The analyst holds a
read grant; bob holds none; the reviewer is in lake_reviewer; the ingest
role is in lake_owner.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from conftest import PG_HOST, PG_PORT
from govhelpers import error_of, one, recreate_roles, rows, session, wait_for_audit, wait_until
# pg_dump refuses a server newer than itself: use the server's own tools.
from privatecluster import BINDIR as PG_BIN

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"gov_ana_{SUFFIX}"
BOB = f"gov_bob_{SUFFIX}"
REV = f"gov_rev_{SUFFIX}"
ING = f"gov_ing_{SUFFIX}"
ROLES = [ANA, BOB, REV, ING]

SECRET_VALUES = ["alice@example.com", "bob@corp.com", "hidden@x.com", "10.1.2.3", "1990-05-06",
                 "4111111111111111", "123-45-6789", "s3cr3t-1", "s3cr3t-2", "Hidden"]


def leaks(text: str) -> list[str]:
    return [s for s in SECRET_VALUES if s in text]


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def gov(roles, database):
    """The governed database; yields its name."""
    with session(database) as admin:
        admin.execute(sql.SQL("GRANT lake_reviewer TO {}").format(sql.Identifier(REV)))
        admin.execute(sql.SQL("GRANT lake_owner TO {}").format(sql.Identifier(ING)))
        for r in (ANA, BOB, ING):
            admin.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(f"{r}_s"), sql.Identifier(r)))
        admin.execute("""
            CREATE SCHEMA raw_a;
            CREATE TABLE raw_a.customers (id int PRIMARY KEY, name text, email text, ip inet, born date,
                                          region text, secret text, card text, ssn text);
            INSERT INTO raw_a.customers VALUES
              (1, 'Alice', 'alice@example.com', '10.1.2.3', '1990-05-06', 'eu', 's3cr3t-1', '4111111111111111', '123-45-6789'),
              (2, 'Bob', 'bob@corp.com', '192.168.7.9', '1985-01-02', 'us', 's3cr3t-2', '5500000000000004', '987-65-4321'),
              (3, 'Hidden', 'hidden@x.com', '172.16.0.1', '1970-01-01', 'hidden', 's3cr3t-3', '340000000000009', '000-00-0000');
            CREATE TABLE raw_a.events (id int, email text);
            INSERT INTO raw_a.events
              SELECT g, CASE WHEN g <= 900 THEN 'vip@x.com' ELSE 'user' || g || '@x.com' END
              FROM generate_series(1, 1000) g;
            SELECT lake.govern_schema('raw_a', 'pub_a');
        """)
        admin.execute("""
            SELECT lake.approve_column('raw_a.customers', 'id', 'public');
            SELECT lake.approve_column('raw_a.customers', 'name', 'internal');
            SELECT lake.approve_column('raw_a.customers', 'email', 'pii');
            SELECT lake.approve_column('raw_a.customers', 'ip', 'pii');
            SELECT lake.approve_column('raw_a.customers', 'born', 'pii');
            SELECT lake.approve_column('raw_a.customers', 'region', 'public');
            SELECT lake.approve_column('raw_a.customers', 'card', 'pii', 'lake.mask_partial(text,integer,integer)');
            SELECT lake.set_mask('raw_a.customers', 'card', 'lake.mask_partial(text,integer,integer)',
                                 '{"keep_first": 0, "keep_last": 4}');
            SELECT lake.approve_column('raw_a.customers', 'ssn', 'restricted', 'lake.mask_hash(text)');
            SELECT lake.deny_column('raw_a.customers', 'secret', 'credentials never leave raw');
            SELECT lake.set_row_filter('raw_a.customers', $$region <> 'hidden'$$);
            SELECT lake.approve_table('raw_a.customers', 'customer master data');
            SELECT lake.approve_column('raw_a.events', 'id', 'public');
            SELECT lake.approve_column('raw_a.events', 'email', 'pii');
            SELECT lake.approve_table('raw_a.events', 'events');
        """)
        for rel in ("raw_a.customers", "raw_a.events"):
            admin.execute("SELECT lake.grant_access(%s, %s, '1 day', 'analysis')", (ANA, rel))
        admin.execute("CREATE STATISTICS raw_a.customers_stats (ndistinct, mcv) ON region, name FROM raw_a.customers")
        admin.execute("ANALYZE raw_a.customers; ANALYZE raw_a.events")
    yield database


@pytest.fixture
def ana(gov):
    with session(gov, ANA) as c:
        yield c


@pytest.fixture
def bob(gov):
    with session(gov, BOB) as c:
        yield c


@pytest.fixture
def admin(gov):
    with session(gov) as c:
        yield c


def grant_pii(admin, role=ANA, rel="raw_a.customers", expires="1 hour") -> int:
    return admin.execute("SELECT lake.grant_access(%s, %s, %s::interval, 'pii work', 'pii')",
                         (role, rel, expires)).fetchone()[0]


# ------------------------------------------------------------------ baseline

def test_published_view_shows_only_approved_columns_masked(ana):
    cur = ana.execute("SELECT * FROM pub_a.customers ORDER BY id")
    names = [d.name for d in cur.description]
    assert names == ["id", "name", "email", "ip", "born", "region", "card", "ssn"]
    got = cur.fetchall()
    assert [r[0] for r in got] == [1, 2]  # row filter hides region 'hidden'
    alice = got[0]
    assert alice[2] == "a***@example.com"
    assert str(alice[3]) == "10.1.2.0/24"
    assert str(alice[4]) == "1990-01-01"
    assert alice[6] == "************1111"
    assert len(alice[7]) == 64 and alice[7] != "123-45-6789"
    assert not leaks(json.dumps(got, default=str))
    cols = rows(ana, "SELECT column_name FROM information_schema.columns "
                     "WHERE table_schema = 'pub_a' AND table_name = 'customers'")
    assert "secret" not in {c[0] for c in cols}
    assert rows(ana, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw_a'") == []


def test_raw_relations_are_closed(ana, bob):
    for c in (ana, bob):
        assert "permission denied" in str(error_of(c, "SELECT * FROM raw_a.customers"))


# ------------------------------------------------------------------ leaky functions and operators

@pytest.fixture
def leaky(gov):
    with session(gov, ANA) as c:
        c.execute(f"""
            CREATE OR REPLACE FUNCTION {ANA}_s.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
            $$ BEGIN RAISE NOTICE 'leak: %', $1; RETURN true; END $$;
            CREATE OR REPLACE FUNCTION {ANA}_s.leak2(text, text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
            $$ BEGIN RAISE NOTICE 'leak: % %', $1, $2; RETURN true; END $$;
            DROP OPERATOR IF EXISTS {ANA}_s.<<< (text, text);
            CREATE OPERATOR {ANA}_s.<<< (leftarg = text, rightarg = text, function = {ANA}_s.leak2);
            GRANT USAGE ON SCHEMA {ANA}_s TO PUBLIC;
            GRANT EXECUTE ON FUNCTION {ANA}_s.leak(text), {ANA}_s.leak2(text, text) TO PUBLIC;
        """)
    return f"{ANA}_s"


def test_leaky_function_in_where_sees_only_masked_visible_rows(ana, leaky):
    got = rows(ana, f"SELECT id FROM pub_a.customers WHERE {leaky}.leak(email) AND {leaky}.leak(name) "
                    f"AND {leaky}.leak(card) AND {leaky}.leak(ssn)")
    assert sorted(r[0] for r in got) == [1, 2]
    text = "\n".join(ana.notices)
    assert "leak: a***@example.com" in text
    assert not leaks(text), text


def test_leaky_operator_in_where(ana, leaky):
    rows(ana, f"SELECT id FROM pub_a.customers WHERE email OPERATOR({leaky}.<<<) name "
              f"AND born::text OPERATOR({leaky}.<<<) ip::text")
    text = "\n".join(ana.notices)
    assert "leak:" in text
    assert not leaks(text), text


def test_leaky_function_without_grant_sees_nothing(bob, leaky):
    err = error_of(bob, f"SELECT * FROM pub_a.customers WHERE {leaky}.leak(name) AND {leaky}.leak(email)")
    assert "no access grant" in str(err)
    assert bob.notices == []


# ------------------------------------------------------------------ statistics and estimates

def test_pg_stats_and_pg_stats_ext_show_nothing(ana):
    assert rows(ana, "SELECT count(*) FROM pg_stats WHERE schemaname IN ('raw_a', 'pub_a')") == [(0,)]
    assert rows(ana, "SELECT count(*) FROM pg_stats_ext WHERE schemaname = 'raw_a'") == [(0,)]
    assert rows(ana, "SELECT count(*) FROM pg_stats_ext_exprs WHERE schemaname = 'raw_a'") == [(0,)]


def _estimate(conn, query) -> float:
    plan = conn.execute("EXPLAIN (FORMAT JSON) " + query).fetchone()[0]
    return plan[0]["Plan"]["Plan Rows"]


def test_explain_estimates_do_not_reveal_masked_values(admin, ana):
    # the raw statistics know 'vip@x.com' is 90% of rows ...
    assert _estimate(admin, "SELECT * FROM raw_a.events WHERE email = 'vip@x.com'") > 800
    # ... the published view's estimate for it is the same as for a value that does not exist
    hot = _estimate(ana, "SELECT * FROM pub_a.events WHERE email = 'vip@x.com'")
    cold = _estimate(ana, "SELECT * FROM pub_a.events WHERE email = 'nobody@nowhere.org'")
    assert hot == cold
    assert hot < 100


def test_explain_analyze_does_not_count_rows_the_row_filter_hides(admin, ana):
    """Red team: an index condition on a visible column runs before the row
    filter, so EXPLAIN ANALYZE said "Rows Removed by Filter: 1" for the
    hidden row's id and nothing for an id no row has."""
    def plan(conn, probe):
        # BUFFERS OFF: PostgreSQL 18 shows buffers by default, and the first
        # plan's planning reads catalog pages the second finds cached
        return "\n".join(r[0] for r in rows(conn, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) "
                                                  f"SELECT id FROM pub_a.customers WHERE id = {probe}"))
    for conn in (admin, ana):
        conn.execute("SET enable_seqscan = off")
    try:
        # the raw relation's rows: id 3 is the hidden one, no row has id 4
        assert one(admin, "SELECT count(*) FROM raw_a.customers WHERE id = 3 AND region = 'hidden'") == 1
        assert one(admin, "SELECT count(*) FROM raw_a.customers WHERE id = 4") == 0
        # a superuser still sees what the filter removed ...
        assert "Rows Removed by Filter: 1" in plan(admin, 3)
        # ... the analyst gets the same plan for both probes, with no counts
        hidden, absent = plan(ana, 3), plan(ana, 4)
        assert "Index" in hidden, hidden
        assert hidden.replace("= 3", "= <probe>") == absent.replace("= 4", "= <probe>"), (hidden, absent)
        assert "Rows Removed" not in hidden and "actual" not in hidden, hidden
        assert any("row filter hides rows" in n for n in ana.notices), ana.notices
        # the statement still runs as usual
        assert rows(ana, "SELECT id FROM pub_a.customers WHERE id = 1") == [(1,)]
    finally:
        for conn in (admin, ana):
            conn.execute("RESET enable_seqscan")


def test_access_requests_cannot_flood_the_review_queue(admin, bob):
    """Red team: any role (bob holds no grant) could add access requests
    without end, each with a reason of any length (50 MB was accepted): the
    reviewers' queue and the disk filled."""
    before = one(admin, "SELECT count(*) FROM lake.access_requests")
    ids = {one(bob, "SELECT lake.request_access('pub_a.events', %s)", (f"need it, take {i}",)) for i in range(5)}
    assert len(ids) == 1, ids
    assert one(admin, "SELECT count(*) FROM lake.access_requests") == before + 1
    assert one(admin, "SELECT reason FROM lake.access_requests WHERE id = %s", (ids.pop(),)) == "need it, take 4"
    err = error_of(bob, "SELECT lake.request_access('pub_a.events', repeat('x', 1000000))")
    assert isinstance(err, psycopg.errors.StringDataRightTruncation), err
    assert "at most 4000" in str(err) and err.diag.message_hint, err
    assert one(admin, "SELECT max(length(reason)) FROM lake.access_requests") <= 4000


def test_explain_without_grant_is_denied(bob):
    err = error_of(bob, "EXPLAIN SELECT * FROM pub_a.events WHERE email = 'vip@x.com'")
    assert "no access grant" in str(err)


# ------------------------------------------------------------------ cursors, COPY, prepared statements

def test_cursor_is_masked_and_follows_disable_pii(admin, ana):
    grant = grant_pii(admin)
    try:
        with ana.transaction():
            ana.execute("DECLARE c NO SCROLL CURSOR FOR SELECT id, email FROM pub_a.customers")
            assert ana.execute("FETCH 1 FROM c").fetchone()[1].endswith("***@example.com")
        ana.execute("SELECT lake.enable_pii('cursor test', '10 minutes')")
        with ana.transaction():
            ana.execute("DECLARE c NO SCROLL CURSOR FOR SELECT id, email FROM pub_a.customers")
            first = ana.execute("FETCH 1 FROM c").fetchone()
            assert "***" not in first[1]
            ana.execute("SELECT lake.disable_pii()")
            rest = ana.execute("FETCH ALL FROM c").fetchall()
            assert rest and all("***" in r[1] for r in rest), rest
    finally:
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_cursor_on_ungranted_table_fails(bob):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with bob.transaction():
            bob.execute("DECLARE c CURSOR FOR SELECT * FROM pub_a.customers")
            bob.execute("FETCH 1 FROM c")


def test_copy_to_stdout_is_masked(ana, bob):
    with ana.cursor() as cur:
        with cur.copy("COPY (SELECT * FROM pub_a.customers) TO STDOUT") as copy:
            data = b"".join(bytes(b) for b in copy).decode()
    assert "a***@example.com" in data
    assert not leaks(data), data
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with bob.cursor() as cur:
            with cur.copy("COPY (SELECT * FROM pub_a.customers) TO STDOUT") as copy:
                b"".join(bytes(b) for b in copy)


def test_prepared_statement_across_enable_and_disable_pii(admin, ana):
    grant = grant_pii(admin)
    try:
        ana.execute("SET plan_cache_mode = force_generic_plan")
        ana.execute("PREPARE q(int) AS SELECT email, born FROM pub_a.customers WHERE id = $1")
        assert rows(ana, "EXECUTE q(1)")[0][0] == "a***@example.com"
        ana.execute("SELECT lake.enable_pii('prepared statement test')")
        assert rows(ana, "EXECUTE q(1)")[0][0] == "alice@example.com"
        ana.execute("SELECT lake.disable_pii()")
        assert rows(ana, "EXECUTE q(1)")[0][0] == "a***@example.com"
        # the protocol-level prepared statement behaves the same
        for _ in range(6):
            assert ana.execute("SELECT email FROM pub_a.customers WHERE id = %s", (1,),
                               prepare=True).fetchone()[0] == "a***@example.com"
    finally:
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


# ------------------------------------------------------------------ user views and SECURITY DEFINER

def test_analyst_cannot_wrap_raw_tables(ana):
    err = error_of(ana, f"CREATE VIEW {ANA}_s.v AS SELECT * FROM raw_a.customers")
    assert "permission denied" in str(err)
    ana.execute(f"""
        CREATE OR REPLACE FUNCTION {ANA}_s.dump() RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER AS
        $$ BEGIN RETURN QUERY EXECUTE 'SELECT email FROM raw_a.customers'; END $$""")
    assert "permission denied" in str(error_of(ana, f"SELECT * FROM {ANA}_s.dump()"))


def test_raw_owner_cannot_publish_raw_data_through_own_view(gov):
    with session(gov, ING) as ing:
        err = error_of(ing, f"CREATE VIEW {ING}_s.leak AS SELECT * FROM raw_a.customers")
        assert "reads governed raw relation" in str(err)
        err = error_of(ing, f"CREATE MATERIALIZED VIEW {ING}_s.leak AS SELECT * FROM raw_a.customers")
        assert "reads governed raw relation" in str(err)


def test_view_over_published_view_keeps_masks_and_gate(ana, bob):
    ana.execute(f"CREATE OR REPLACE VIEW {ANA}_s.mine AS SELECT id, email, name FROM pub_a.customers")
    ana.execute(f"GRANT USAGE ON SCHEMA {ANA}_s TO {BOB}; GRANT SELECT ON {ANA}_s.mine TO {BOB}")
    got = rows(ana, f"SELECT email FROM {ANA}_s.mine ORDER BY id")
    assert got[0][0] == "a***@example.com"
    err = error_of(bob, f"SELECT * FROM {ANA}_s.mine")
    assert "no access grant" in str(err)


def test_security_definer_function_does_not_carry_pii_session(admin, ana, bob):
    grant = grant_pii(admin)
    try:
        ana.execute(f"""
            CREATE OR REPLACE FUNCTION {ANA}_s.emails() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER AS
            $$ SELECT email FROM pub_a.customers $$;
            GRANT USAGE ON SCHEMA {ANA}_s TO {BOB};
            GRANT EXECUTE ON FUNCTION {ANA}_s.emails() TO {BOB}""")
        ana.execute("SELECT lake.enable_pii('sharing test')")
        assert "alice@example.com" in {r[0] for r in rows(ana, f"SELECT * FROM {ANA}_s.emails()")}
        # bob runs ana's function: ana's grant lets it read, bob's session has no PII on
        got = {r[0] for r in rows(bob, f"SELECT * FROM {ANA}_s.emails()")}
        assert got and not leaks(" ".join(got))
        # the PII state belongs to the role that enabled it: in ana's own
        # session, another role (with a read grant) sees masks
        admin.execute(f"GRANT {BOB} TO {ANA}")
        bob_read = admin.execute("SELECT lake.grant_access(%s, 'raw_a.customers', '1 hour', 'x')",
                                 (BOB,)).fetchone()[0]
        ana.execute(f"SET ROLE {BOB}")
        got = {r[0] for r in rows(ana, "SELECT email FROM pub_a.customers")}
        assert got and not leaks(" ".join(got))
        ana.execute("RESET ROLE")
        admin.execute("SELECT lake.revoke_access(%s)", (bob_read,))
    finally:
        admin.execute(f"REVOKE {BOB} FROM {ANA}")
        ana.execute("SELECT lake.disable_pii()")
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


# ------------------------------------------------------------------ forging a PII session

def test_settings_cannot_fake_a_pii_session(ana):
    for stmt in ("SET townlake.pii = on", "SET townlake.pii_revealed = 'true'",
                 "SELECT set_config('townlake.pii_session', 'on', false)"):
        assert "townlake" in str(error_of(ana, stmt))
    ana.execute("SET lake.pii = on")  # a placeholder setting outside townlake's prefix
    assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "a***@example.com"


INTERNAL_OPERATIONS = ["enable_pii", "disable_pii", "pii_grants_active", "expire_grants",
                       "load_cache", "unpublish", "access_decision"]


@pytest.mark.parametrize("op", INTERNAL_OPERATIONS)
def test_internal_operations_cannot_be_called_from_sql(admin, ana, op):
    err = error_of(ana, "SELECT lake_internal._op_enable_pii(0, '{}')")
    assert "permission denied" in str(err)
    grant = grant_pii(admin)
    sessions_before = rows(admin, "SELECT count(*) FROM lake.pii_sessions")[0][0]
    try:
        # Only townlake's own code paths reach these: through SQL they would
        # write PII-session rows for other sessions or skip the gate's checks.
        err = error_of(ana, "SELECT lake_internal._privileged(%s, %s::jsonb)",
                       (op, json.dumps({"reason": "x", "ttl": "1 hour", "session_id": 1, "relid": 1, "rel": 1})))
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        assert f'governance operation "{op}" cannot be called from SQL' in str(err)
        assert rows(admin, "SELECT count(*) FROM lake.pii_sessions")[0][0] == sessions_before
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "a***@example.com"
    finally:
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_enable_pii_without_grant_fails_and_rollback_undoes_it(admin, ana):
    err = error_of(ana, "SELECT lake.enable_pii('curious')")
    assert "no unexpired pii grant" in str(err)
    grant = grant_pii(admin)
    try:
        with pytest.raises(psycopg.errors.RaiseException):
            with ana.transaction():
                ana.execute("SELECT lake.enable_pii('rolled back')")
                ana.execute("DO $$ BEGIN RAISE EXCEPTION 'abort'; END $$")
        assert rows(ana, "SELECT lake.pii_status()->>'enabled'") == [("false",)]
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "a***@example.com"
    finally:
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


# ------------------------------------------------------------------ time limits

def test_expired_read_grant_mid_session(admin, bob):
    admin.execute("SELECT lake.grant_access(%s, 'pub_a.events', '2 seconds', 'short look')", (BOB,))
    assert rows(bob, "SELECT count(*) FROM pub_a.events") == [(1000,)]
    time.sleep(2.5)
    err = error_of(bob, "SELECT count(*) FROM pub_a.events")
    assert "expired" in str(err)
    assert "request_access" in (err.diag.message_hint or "")


def test_expired_and_revoked_pii_grant_mid_session(admin, ana):
    grant_pii(admin, expires="2 seconds")
    ana.execute("SELECT lake.enable_pii('short pii look', '1 hour')")
    try:
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "alice@example.com"
        time.sleep(2.5)
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "a***@example.com"
        # a revoked grant stops revealing from the next statement
        grant = grant_pii(admin)
        ana.execute("SELECT lake.enable_pii('again')")
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "alice@example.com"
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "a***@example.com"
    finally:
        ana.execute("SELECT lake.disable_pii()")


def test_pii_ttl_ends_the_session(admin, ana):
    grant = grant_pii(admin)
    try:
        ana.execute("SELECT lake.enable_pii('ttl test', '1 second')")
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "alice@example.com"
        time.sleep(1.3)
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1")[0][0] == "a***@example.com"
        assert rows(ana, "SELECT lake.pii_status()->>'expired'") == [("true",)]
    finally:
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_restricted_column_stays_masked_with_pii_on(admin, ana):
    grant = grant_pii(admin)
    try:
        ana.execute("SELECT lake.enable_pii('restricted test')")
        ssn = rows(ana, "SELECT ssn FROM pub_a.customers WHERE id = 1")[0][0]
        assert ssn != "123-45-6789" and len(ssn) == 64
    finally:
        ana.execute("SELECT lake.disable_pii()")
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_pii_session_is_read_only(admin, ana):
    grant = grant_pii(admin)
    ana.execute(f"CREATE TABLE IF NOT EXISTS {ANA}_s.sink (v text)")
    try:
        ana.execute("SELECT lake.enable_pii('read only test')")
        for stmt in (f"INSERT INTO {ANA}_s.sink SELECT email FROM pub_a.customers",
                     f"CREATE TABLE {ANA}_s.copy AS SELECT * FROM pub_a.customers",
                     f"SELECT * INTO {ANA}_s.copy2 FROM pub_a.customers",
                     f"CREATE MATERIALIZED VIEW {ANA}_s.mv AS SELECT * FROM pub_a.customers",
                     f"WITH x AS (INSERT INTO {ANA}_s.sink VALUES ('a') RETURNING 1) SELECT * FROM x",
                     "COPY (SELECT email FROM pub_a.customers) TO '/tmp/townlake_pii_leak.csv'"):
            err = error_of(ana, stmt)
            assert "PII is revealed" in str(err), (stmt, str(err))
        assert rows(ana, f"SELECT count(*) FROM {ANA}_s.sink") == [(0,)]
        ana.execute("SELECT lake.disable_pii()")
        ana.execute(f"INSERT INTO {ANA}_s.sink SELECT email FROM pub_a.customers")
        assert not leaks(" ".join(r[0] for r in rows(ana, f"SELECT v FROM {ANA}_s.sink")))
    finally:
        ana.execute("SELECT lake.disable_pii()")
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_hash_key_and_oracle_are_out_of_reach(ana):
    assert "permission denied" in str(error_of(ana, "SELECT * FROM lake.mask_key"))
    assert "superusers" in str(error_of(ana, "SELECT lake.mask_hash('123-45-6789')"))
    a, b = rows(ana, "SELECT ssn FROM pub_a.customers ORDER BY id")
    assert a[0] != b[0]
    # hashing a guess with a key of one's own does not reproduce the mask
    guess = rows(ana, "SELECT lake.mask_hash_keyed('123-45-6789', '\\x00'::bytea)")[0][0]
    assert guess != a[0]


# ------------------------------------------------------------------ schema changes

def test_select_star_after_add_column(admin, ana):
    admin.execute("ALTER TABLE raw_a.customers ADD COLUMN phone text DEFAULT '+1-555-0100'")
    names = [d.name for d in ana.execute("SELECT * FROM pub_a.customers").description]
    assert "phone" not in names
    pending = rows(admin, "SELECT column_name FROM lake.pending_reviews WHERE relation = 'raw_a.customers'")
    assert ("phone",) in pending
    admin.execute("SELECT lake.approve_column('raw_a.customers', 'phone', 'pii', 'lake.mask_redact(anyelement)')")
    names = [d.name for d in ana.execute("SELECT * FROM pub_a.customers").description]
    assert names[-1] == "phone"
    assert rows(ana, "SELECT DISTINCT phone FROM pub_a.customers") == [("[redacted]",)]


def test_rename_column_keeps_review_and_swap_does_not_leak(admin, ana):
    admin.execute("CREATE TABLE raw_a.people (id int, nick text, token text)")
    admin.execute("INSERT INTO raw_a.people VALUES (1, 'al', 'tok-SECRET')")
    admin.execute("""
        SELECT lake.approve_column('raw_a.people', 'id', 'public');
        SELECT lake.approve_column('raw_a.people', 'nick', 'public');
        SELECT lake.deny_column('raw_a.people', 'token', 'secret');
        SELECT lake.approve_table('raw_a.people', 'people');""")
    admin.execute("SELECT lake.grant_access(%s, 'raw_a.people', '1 hour', 'x')", (ANA,))
    admin.execute("ALTER TABLE raw_a.people RENAME COLUMN nick TO nickname")
    assert rows(ana, "SELECT nickname FROM pub_a.people") == [("al",)]
    # swap: drop the approved column and give the denied one its name
    admin.execute("ALTER TABLE raw_a.people DROP COLUMN nickname")
    admin.execute("ALTER TABLE raw_a.people RENAME COLUMN token TO nickname")
    cur = ana.execute("SELECT * FROM pub_a.people")
    assert [d.name for d in cur.description] == ["id"]
    assert "tok-SECRET" not in str(cur.fetchall())
    log = rows(admin, "SELECT action, column_name FROM lake.reviews WHERE relation = 'raw_a.people' ORDER BY id")
    assert ("rename_column", "nickname") in log and ("drop_column", "nickname") in log


def test_retyped_column_goes_back_to_review(admin, ana):
    admin.execute("CREATE TABLE raw_a.codes (id int, code int)")
    admin.execute("INSERT INTO raw_a.codes VALUES (1, 42)")
    admin.execute("""
        SELECT lake.approve_column('raw_a.codes', 'id', 'public');
        SELECT lake.approve_column('raw_a.codes', 'code', 'public');
        SELECT lake.approve_table('raw_a.codes', 'codes');""")
    admin.execute("SELECT lake.grant_access(%s, 'raw_a.codes', '1 hour', 'x')", (ANA,))
    admin.execute("ALTER TABLE raw_a.codes ALTER COLUMN code TYPE text USING 'secret-' || code")
    cur = ana.execute("SELECT * FROM pub_a.codes")
    assert [d.name for d in cur.description] == ["id"]


def test_drop_and_recreate_same_name_starts_pending(admin, ana):
    admin.execute("CREATE TABLE raw_a.orders (id int, total numeric)")
    admin.execute("""
        SELECT lake.approve_column('raw_a.orders', 'id', 'public');
        SELECT lake.approve_column('raw_a.orders', 'total', 'public');
        SELECT lake.approve_table('raw_a.orders', 'orders');""")
    admin.execute("SELECT lake.grant_access(%s, 'raw_a.orders', '1 hour', 'x')", (ANA,))
    assert rows(ana, "SELECT count(*) FROM pub_a.orders") == [(0,)]
    admin.execute("DROP TABLE raw_a.orders")
    assert rows(ana, "SELECT to_regclass('pub_a.orders')") == [(None,)]
    admin.execute("CREATE TABLE raw_a.orders (id int, total numeric, card text)")
    admin.execute("INSERT INTO raw_a.orders VALUES (1, 10, '4111111111111111')")
    err = error_of(ana, "SELECT * FROM pub_a.orders")
    assert "pending review" in str(err)
    assert all(r[1] != "pub_a.orders" for r in rows(ana, "SELECT * FROM lake.my_access()"))
    assert rows(admin, "SELECT owner FROM (SELECT relowner::regrole::text AS owner FROM pg_class "
                       "WHERE oid = 'raw_a.orders'::regclass) o") == [("lake_owner",)]


def test_grants_on_raw_relations_are_rejected(admin):
    for stmt in (f"GRANT SELECT ON raw_a.customers TO {ANA}",
                 f"GRANT SELECT (email) ON raw_a.customers TO {ANA}",
                 f"GRANT SELECT ON ALL TABLES IN SCHEMA raw_a TO {ANA}",
                 f"ALTER TABLE raw_a.customers OWNER TO {ANA}",
                 "ALTER TABLE raw_a.customers DISABLE ROW LEVEL SECURITY"):
        assert "managed by townlake" in str(error_of(admin, stmt)), stmt
    admin.execute(f"REVOKE SELECT ON raw_a.customers FROM {ANA}")
    # granting more to lake_governance is refused too; only the grant
    # townlake makes itself passes (it changes nothing, and dumps replay it)
    for stmt in ("GRANT SELECT ON raw_a.customers TO lake_governance WITH GRANT OPTION",
                 "GRANT SELECT (email) ON raw_a.customers TO lake_governance",
                 "GRANT SELECT, UPDATE ON raw_a.customers TO lake_governance",
                 f"GRANT SELECT ON raw_a.customers TO lake_governance, {ANA}"):
        assert "managed by townlake" in str(error_of(admin, stmt)), stmt
    acl = rows(admin, "SELECT relacl::text FROM pg_class WHERE oid = 'raw_a.customers'::regclass")
    admin.execute("GRANT SELECT ON raw_a.customers TO lake_governance")
    assert rows(admin, "SELECT relacl::text FROM pg_class WHERE oid = 'raw_a.customers'::regclass") == acl


def test_default_privileges_do_not_open_new_tables(admin, ana):
    admin.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA raw_a GRANT SELECT ON TABLES TO {ANA}")
    try:
        with session(admin.info.dbname, ING) as ing:
            ing.execute("CREATE TABLE raw_a.ingested (id int, email text)")
            ing.execute("INSERT INTO raw_a.ingested VALUES (1, 'alice@example.com')")
        assert "permission denied" in str(error_of(ana, "SELECT * FROM raw_a.ingested"))
        assert "pending review" in str(error_of(ana, "SELECT * FROM pub_a.ingested"))
    finally:
        admin.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA raw_a REVOKE SELECT ON TABLES FROM {ANA}")


# ------------------------------------------------------------------ row filters

def test_row_filter_cannot_escape_its_parentheses(admin, ana):
    for bad in ("true) OR (true", "true; DROP TABLE raw_a.customers", "region = 'eu' /* open comment",
                "(true", "region = 'x') UNION SELECT 1 --"):
        err = error_of(admin, "SELECT lake.set_row_filter('raw_a.customers', %s)", (bad,))
        assert "row filter" in str(err) or isinstance(err, psycopg.errors.SyntaxError), (bad, str(err))
    err = error_of(admin, "SELECT lake.set_row_filter('raw_a.customers', "
                          "'id IN (SELECT id FROM raw_a.events)')")
    assert "sub-select" in str(err)
    # the filter in force is unchanged
    assert sorted(r[0] for r in rows(ana, "SELECT id FROM pub_a.customers")) == [1, 2]


def test_row_filter_runs_only_built_in_code(admin, ana):
    """Red team: a reviewer's own function in a row filter ran as every reader
    of the published view, superusers included; a sub-select read lake.mask_key
    with the view owner's rights; volatile built-ins (lo_export, set_config)
    would run as the reader too."""
    admin.execute("CREATE SCHEMA IF NOT EXISTS rf_evil")
    admin.execute("CREATE OR REPLACE FUNCTION rf_evil.f() RETURNS boolean LANGUAGE sql AS 'SELECT true'")
    admin.execute("CREATE OR REPLACE FUNCTION rf_evil.eq(int, int) RETURNS boolean LANGUAGE sql AS 'SELECT $1 = $2'")
    admin.execute("DROP OPERATOR IF EXISTS rf_evil.=== (int, int)")
    admin.execute("CREATE OPERATOR rf_evil.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = rf_evil.eq)")
    admin.execute("DROP DOMAIN IF EXISTS rf_evil.posint")
    admin.execute("CREATE DOMAIN rf_evil.posint AS int CHECK (VALUE > 0)")
    for bad in ("rf_evil.f()", "region <> 'hidden' AND rf_evil.f()", "id OPERATOR(rf_evil.===) 1",
                "id::rf_evil.posint > 0", "(SELECT true)", "EXISTS (SELECT 1 FROM lake.mask_key)",
                "lo_export(0, '/tmp/tl-row-filter') = 1", "set_config('tl.x', 'y', false) = 'y'",
                "random() < 2"):
        err = error_of(admin, "SELECT lake.set_row_filter('raw_a.customers', %s)", (bad,))
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), (bad, err)
        assert "row filter may" in str(err), (bad, err)
    assert sorted(r[0] for r in rows(ana, "SELECT id FROM pub_a.customers")) == [1, 2]
    # built-in, non-volatile code is fine
    admin.execute("SELECT lake.set_row_filter('raw_a.customers', "
                  "$$region <> 'hidden' AND lower(region) = lower(region) AND now() > '2000-01-01'$$)")
    try:
        assert sorted(r[0] for r in rows(ana, "SELECT id FROM pub_a.customers")) == [1, 2]
    finally:
        admin.execute("SELECT lake.set_row_filter('raw_a.customers', $$region <> 'hidden'$$)")
        admin.execute("DROP SCHEMA rf_evil CASCADE")


# ------------------------------------------------------------------ quotes and SQL in names and reasons

def test_identifiers_and_reasons_with_quotes_and_sql(admin, gov):
    raw, pub = 'raw "q\'', 'pub "q\''
    table, col = "O'Brien\"; DROP TABLE lake.reviews;--", "e\"m'ail"
    reason = "it's fine'); DROP TABLE lake.reviews; --"
    admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(raw)))
    admin.execute(sql.SQL("CREATE TABLE {}.{} (id int, {} text)").format(
        sql.Identifier(raw), sql.Identifier(table), sql.Identifier(col)))
    admin.execute(sql.SQL("INSERT INTO {}.{} VALUES (1, 'x@y.z')").format(sql.Identifier(raw), sql.Identifier(table)))
    admin.execute("SELECT lake.govern_schema(%s, %s)", (raw, pub))
    qualified = sql.SQL("{}.{}").format(sql.Identifier(raw), sql.Identifier(table)).as_string(admin)
    published = sql.SQL("{}.{}").format(sql.Identifier(pub), sql.Identifier(table)).as_string(admin)
    admin.execute("SELECT lake.approve_column(%s::regclass, 'id', 'public', NULL, %s)", (qualified, reason))
    admin.execute("SELECT lake.approve_column(%s::regclass, %s, 'pii', NULL, %s)", (qualified, col, reason))
    admin.execute("SELECT lake.approve_table(%s::regclass, %s)", (qualified, reason))
    admin.execute("SELECT lake.grant_access(%s, %s::regclass, '1 hour', %s)", (ANA, published, reason))
    with session(gov, ANA) as ana:
        got = rows(ana, sql.SQL("SELECT * FROM {}").format(sql.SQL(published)))
        assert got == [(1, "[redacted]")]  # pii without a mask: the default one
        info = rows(ana, "SELECT lake.explain_access(%s)", (published,))[0][0]
        assert info["allowed"] is True and info["relation"] == published
        req = rows(ana, "SELECT lake.request_access(%s, %s)", (published, reason))[0][0]
        assert req > 0
    assert rows(admin, "SELECT count(*) FROM lake.reviews WHERE reason = %s", (reason,)) == [(4,)]
    assert rows(admin, "SELECT reason FROM lake.access_requests WHERE id = %s", (req,)) == [(reason,)]
    assert rows(admin, "SELECT to_regclass('lake.reviews') IS NOT NULL") == [(True,)]


# ------------------------------------------------------------------ planning: the gate outside the plan
# townlake's planner shim takes the access gate out of published views' plans
# (the executor checks it once per execution from the view's range table
# entry) and turns the row filter into a security qual, so the view plans
# like its raw relation. These check that no path around the check opened.

def _plan(conn, query) -> str:
    return "\n".join(r[0] for r in rows(conn, "EXPLAIN (VERBOSE, COSTS OFF) " + query))


def test_published_view_plans_like_its_raw_relation(admin, ana):
    view = _plan(ana, "SELECT count(*) FROM pub_a.events WHERE id::numeric > 10.5")
    raw = _plan(admin, "SELECT count(*) FROM raw_a.events WHERE id::numeric > 10.5")
    for plan in (view, raw):
        assert "Subquery Scan" not in plan and "One-Time Filter" not in plan, plan
    # the non-leakproof comparison is applied inside the scan, as on the raw table
    assert "Seq Scan on raw_a.events" in view and "Filter: ((r.id)::numeric > 10.5)" in view, view
    # with a row filter: a security qual of the scan, no subquery either
    filtered = _plan(ana, "SELECT id FROM pub_a.customers WHERE name <> 'x'")
    assert "Subquery Scan" not in filtered and "One-Time Filter" not in filtered, filtered
    assert "'hidden'" in filtered, filtered


def test_row_filter_still_runs_before_leaky_functions_in_joins_and_sublinks(ana, leaky):
    rows(ana, f"SELECT c.id FROM pub_a.customers c JOIN pub_a.events e ON e.id = c.id "
              f"WHERE {leaky}.leak(c.name) AND {leaky}.leak(c.region)")
    rows(ana, f"SELECT 1 WHERE EXISTS (SELECT 1 FROM pub_a.customers c WHERE {leaky}.leak(c.name))")
    rows(ana, f"WITH x AS MATERIALIZED (SELECT * FROM pub_a.customers) SELECT * FROM x WHERE {leaky}.leak(name)")
    text = " ".join(ana.notices)
    assert "leak: Alice" in text
    assert not leaks(text), text


@pytest.mark.parametrize("query", [
    "SELECT * FROM (SELECT id FROM pub_a.customers) s",
    "WITH c AS (SELECT id FROM pub_a.customers) SELECT * FROM c",
    "SELECT EXISTS (SELECT 1 FROM pub_a.customers)",
    "SELECT (SELECT max(id) FROM pub_a.customers)",
    "SELECT id FROM pub_a.events UNION ALL SELECT id FROM pub_a.customers",
    "SELECT id FROM pub_a.customers WHERE false",
    "SELECT id FROM pub_a.customers LIMIT 0",
    "SELECT 1 FROM pub_a.customers c RIGHT JOIN (VALUES (1)) v(x) ON c.id = v.x",
    "SELECT * FROM pg_catalog.generate_series(1, 2) g, LATERAL (SELECT id FROM pub_a.customers WHERE id = g) s",
])
def test_gate_applies_wherever_a_published_view_is_read(bob, query):
    err = error_of(bob, query)
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert "grant" in str(err) and "lake.request_access" in (err.diag.message_hint or "")


def test_gate_applies_inside_functions(gov, bob):
    with session(gov, BOB) as b:
        b.execute(f"""
            CREATE OR REPLACE FUNCTION {BOB}_s.inlined() RETURNS SETOF int LANGUAGE sql STABLE
                AS 'SELECT id FROM pub_a.customers';
            CREATE OR REPLACE FUNCTION {BOB}_s.procedural() RETURNS bigint LANGUAGE plpgsql
                AS 'BEGIN RETURN (SELECT count(*) FROM pub_a.customers); END';
        """)
    for call in (f"SELECT * FROM {BOB}_s.inlined()", f"SELECT {BOB}_s.procedural()"):
        err = error_of(bob, call)
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), (call, err)


FORCE_PARALLEL = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                  "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2")


def _force_parallel_query(conn) -> None:
    """Postgres 16 renamed force_parallel_mode to debug_parallel_query."""
    name = "debug_parallel_query" if conn.info.server_version >= 160000 else "force_parallel_mode"
    conn.execute(f"SET {name} = on")


@pytest.mark.parametrize("who", [BOB, ANA])
def test_queries_run_inside_a_parallel_worker_cannot_read_governed_data(gov, admin, who):
    """Red team: a PARALLEL SAFE function's dynamic SQL ran inside a parallel
    worker, where the access gate and the audit record were skipped (the
    leader checks the plan it hands out, not what user code runs in it): a
    role without any grant read the published view, unaudited. Refused now,
    with or without a grant; PARALLEL RESTRICTED runs in the session itself."""
    owner_schema = f"{who}_s"
    with session(gov, who) as c:
        c.execute(f"""
            CREATE OR REPLACE FUNCTION {owner_schema}.q(sql text) RETURNS text LANGUAGE plpgsql VOLATILE
                PARALLEL SAFE AS 'DECLARE r text; BEGIN EXECUTE sql INTO r; RETURN r; END';
            CREATE OR REPLACE FUNCTION {owner_schema}.q_restricted(sql text) RETURNS text LANGUAGE plpgsql
                VOLATILE PARALLEL RESTRICTED AS 'DECLARE r text; BEGIN EXECUTE sql INTO r; RETURN r; END';
        """)
        c.execute(FORCE_PARALLEL)
        _force_parallel_query(c)
        plan = "\n".join(r[0] for r in c.execute(f"EXPLAIN SELECT {owner_schema}.q('SELECT 1')"))
        assert "Gather" in plan, plan
        # a query of the function's own that reads nothing governed still runs in the worker
        assert rows(c, f"SELECT {owner_schema}.q('SELECT count(*)::text FROM pg_class WHERE oid = 1259')") == [("1",)]
        read = "SELECT string_agg(id || '':'' || email, '','') FROM pub_a.customers"
        audited_before = one(admin, "SELECT count(*) FROM lake.audit_log")
        err = error_of(c, f"SELECT {owner_schema}.q('{read}')")
        assert isinstance(err, psycopg.errors.FeatureNotSupported), err
        assert "parallel worker" in str(err) and "PARALLEL RESTRICTED" in (err.diag.message_hint or ""), err
        assert not leaks(str(err))
        # the restricted function runs in the session: the gate and the masks as usual
        if who == BOB:
            err = error_of(c, f"SELECT {owner_schema}.q_restricted('{read}')")
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        else:
            got = rows(c, f"SELECT {owner_schema}.q_restricted('{read}')")[0][0]
            assert got and not leaks(got) and "@" in got, got
            got = wait_until(admin, "SELECT count(*) FROM lake.audit_log", lambda r: r[0][0] > audited_before)
            assert got[0][0] > audited_before


def test_prepared_plan_checks_access_at_every_execution(admin, bob):
    grant = admin.execute("SELECT lake.grant_access(%s, 'pub_a.events', '1 hour', 'prepared')",
                          (BOB,)).fetchone()[0]
    bob.execute("PREPARE p AS SELECT count(*) FROM pub_a.events WHERE id > $1")
    for _ in range(6):  # past the point where Postgres switches to a generic plan
        assert rows(bob, "EXECUTE p(0)") == [(1000,)]
    admin.execute("SELECT lake.revoke_access(%s)", (grant,))
    err = error_of(bob, "EXECUTE p(0)")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert "lake.request_access" in (err.diag.message_hint or ""), err
    bob.execute("DEALLOCATE p")


def test_parallel_plans_mask_and_reveal_like_serial_ones(admin, ana):
    parallel = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2")
    query = "SELECT email, count(*) FROM pub_a.events GROUP BY email ORDER BY 2 DESC, 1 LIMIT 3"
    serial = rows(ana, query)
    # a filter on the masked column, and its oracle: the raw rows, masked in Python
    on_mask = "SELECT id, email FROM pub_a.events WHERE email LIKE %s ORDER BY id"
    raw = rows(admin, "SELECT id, email FROM raw_a.events WHERE email IS NOT NULL ORDER BY id")
    masked = [(i, _oracle_email(e)) for i, e in raw if _oracle_email(e).startswith("v")]
    revealed = [(i, e) for i, e in raw if e.startswith("v")]
    assert masked and revealed
    ana.execute(parallel)
    try:
        assert "Gather" in _plan(ana, "SELECT count(*) FROM pub_a.events WHERE id > 0")
        # the reveal check is parallel safe: the masked column's filter runs in the workers
        assert "Gather" in _plan(ana, "SELECT count(*) FROM pub_a.events WHERE email LIKE 'v%'")
        assert rows(ana, query) == serial
        assert serial[0] == ("v***@x.com", 900)
        assert rows(ana, on_mask, ("v%",)) == masked
        # a plan cached (generic, parallel) before PII is turned on
        ana.execute("PREPARE early(text) AS " + on_mask.replace("%s", "$1"))
        for _ in range(6):
            assert rows(ana, "EXECUTE early('v%')") == masked
        grant = grant_pii(admin, rel="raw_a.events")
        try:
            ana.execute("SELECT lake.enable_pii('parallel check', '10 minutes')")
            assert rows(ana, query)[0] == ("vip@x.com", 900)
            # while revealing, plans are serial and every row is revealed
            assert "Gather" not in _plan(ana, "SELECT count(*) FROM pub_a.events WHERE email LIKE 'v%'")
            assert rows(ana, on_mask, ("v%",)) == revealed
            assert rows(ana, "EXECUTE early('v%')") == revealed
            ana.execute("SELECT lake.disable_pii()")
        finally:
            admin.execute("SELECT lake.revoke_access(%s)", (grant,))
        assert rows(ana, query) == serial
        assert rows(ana, "EXECUTE early('v%')") == masked
    finally:
        ana.execute("DEALLOCATE ALL")
        ana.execute("RESET ALL")


def test_planning_runs_no_leaky_operator_on_raw_statistics(gov, bob):
    with session(gov) as admin:
        admin.execute("""
            CREATE OR REPLACE FUNCTION public.peek(int, int) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
            $$ BEGIN RAISE NOTICE 'peek: %', $1; RETURN $1 < $2; END $$;
            DROP OPERATOR IF EXISTS public.<<< (int, int);
            CREATE OPERATOR public.<<< (leftarg = int, rightarg = int, function = public.peek, restrict = scalarltsel);
        """)
        # the operator does run on statistics when they are open to the user ...
        admin.execute("EXPLAIN SELECT * FROM raw_a.events WHERE id OPERATOR(public.<<<) 500")
        assert any("peek" in n for n in admin.notices)
    # ... but not for a published view, even while planning for a user without a grant
    error_of(bob, "SELECT * FROM pub_a.events WHERE id OPERATOR(public.<<<) 500")
    assert not any("peek" in n for n in bob.notices), bob.notices


# ------------------------------------------------------------------ revocation

@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ"])
def test_revocation_takes_effect_at_the_next_statement_of_an_open_transaction(admin, bob, isolation):
    """Like Postgres' own REVOKE: the next statement of a transaction that is
    already open sees it (the first statement cached the decision)."""
    grant = admin.execute("SELECT lake.grant_access(%s, 'pub_a.customers', NULL, 'open transaction')",
                          (BOB,)).fetchone()[0]
    try:
        bob.execute(f"BEGIN ISOLATION LEVEL {isolation}")
        assert rows(bob, "SELECT id FROM pub_a.customers ORDER BY id") == [(1,), (2,)]
        assert rows(bob, "SELECT count(*) FROM pub_a.customers") == [(2,)]
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))
        err = error_of(bob, "SELECT count(*) FROM pub_a.customers")
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        assert "no access grant" in err.diag.message_primary
    finally:
        bob.execute("ROLLBACK")
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_grant_takes_effect_at_the_next_statement_of_an_open_transaction(admin, bob):
    bob.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    try:
        bob.execute("SELECT 1")  # the transaction's snapshot is taken
        grant = admin.execute("SELECT lake.grant_access(%s, 'pub_a.customers', NULL, 'late grant')",
                              (BOB,)).fetchone()[0]
        try:
            assert rows(bob, "SELECT count(*) FROM pub_a.customers") == [(2,)]
        finally:
            admin.execute("SELECT lake.revoke_access(%s)", (grant,))
    finally:
        bob.execute("ROLLBACK")


# ------------------------------------------------------------------ masks

def _oracle_email(v: str) -> str:
    local, at, domain = v.rpartition("@")
    return f"{local[0]}***@{domain}" if at and local and domain else "***"


def test_masks_are_native_immutable_parallel_safe(admin):
    got = rows(admin, """
        SELECT p.oid::regprocedure::text, l.lanname, p.provolatile, p.proparallel, p.proisstrict
          FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
         WHERE p.pronamespace = 'lake'::regnamespace AND p.proname LIKE 'mask\\_%' ORDER BY 1""")
    masks = {r[0]: r[1:] for r in got}
    assert set(masks) >= {"lake.mask_email(text)", "lake.mask_redact(anyelement)", "lake.mask_ip_prefix(inet)",
                          "lake.mask_year(date)", "lake.mask_partial(text,integer,integer)",
                          "lake.mask_hash_keyed(text,bytea)"}
    for name, (lang, volatility, parallel, strict) in masks.items():
        assert lang == "c" and parallel == "s" and strict, name
        # mask_hash reads the key table itself (superusers only): stable
        assert volatility == ("s" if name == "lake.mask_hash(text)" else "i"), name


def test_native_masks_agree_with_an_independent_oracle(admin):
    import datetime as dt
    import ipaddress
    emails = ["john.doe@example.com", "a@b.c", "not an address", "@example.com", "x@", "é@ü.de",
              "a@b@c.org", "ßß@straße.de", "", "@", "名前@例え.jp"]
    got = rows(admin, "SELECT v, lake.mask_email(v) FROM unnest(%s::text[]) v", (emails,))
    assert got == [(v, _oracle_email(v)) for v in emails]
    ips = ["10.1.2.3", "10.1.2.3/32", "10.255.0.0/12", "0.0.0.0/0", "192.168.7.9/25",
           "2001:db8:85a3:1234::7", "2001:db8:85a3:1234::/64", "2001:db8::/16", "::1"]
    got = rows(admin, "SELECT lake.mask_ip_prefix(v::inet)::text FROM unnest(%s::text[]) v", (ips,))
    expected = []
    for v in ips:
        net = ipaddress.ip_interface(v).network
        keep = min(net.prefixlen, 24 if net.version == 4 else 48)
        expected.append((str(net.supernet(new_prefix=keep)),))
    assert got == expected
    days = ["1990-05-06", "2000-01-01", "2000-02-29", "1815-12-10", "0044-03-15 BC", "9999-12-31", "infinity",
            "-infinity"]
    got = rows(admin, "SELECT lake.mask_year(v::date)::text FROM unnest(%s::text[]) v", (days,))
    def year_of(v):
        if "infinity" in v:
            return v
        if v.endswith(" BC"):
            return f"{v.split('-')[0]}-01-01 BC"
        return dt.date(dt.date.fromisoformat(v).year, 1, 1).isoformat()
    assert got == [(year_of(v),) for v in days]
    def partial(v, first, last):
        first, last = max(first, 0), max(last, 0)
        if first + last >= len(v):
            return "*" * len(v)
        return v[:first] + "*" * (len(v) - first - last) + v[len(v) - last:]
    cases = [("4111111111111111", 0, 4), ("abcdef", 1, 1), ("abc", 2, 2), ("", 1, 1), ("abcdef", -3, 2),
             ("ßçdefg", 2, 0), ("名前はジョン", 1, 2), ("x" * 200, 3, 3), ("€uro", 1, 0)]
    for v, first, last in cases:
        assert one(admin, "SELECT lake.mask_partial(%s, %s, %s)", (v, first, last)) == partial(v, first, last)
    assert one(admin, "SELECT lake.mask_partial('abcdef')") == "a****f"
    import hashlib
    import hmac
    key = bytes(range(32))
    for v in ("alice", "", "名前", "x" * 1000):
        for k in (key, b"Jefe", key):  # the key may change between calls of one expression
            assert one(admin, "SELECT lake.mask_hash_keyed(%s, %s)", (v, k)) == \
                hmac.new(k, v.encode(), hashlib.sha256).hexdigest()
    got = rows(admin, "SELECT lake.mask_hash_keyed(v, k) FROM (VALUES ('a', %s::bytea), ('a', %s::bytea)) x(v, k)",
               (key, b"other"))
    assert got == [(hmac.new(key, b"a", hashlib.sha256).hexdigest(),),
                   (hmac.new(b"other", b"a", hashlib.sha256).hexdigest(),)]
    got = rows(admin, """SELECT lake.mask_redact('x'::text), lake.mask_redact('x'::varchar(3)),
                                lake.mask_redact('x'::char(12)), lake.mask_redact('x'::name),
                                lake.mask_redact(42), lake.mask_redact(now()), lake.mask_redact(NULL::text)""")
    assert got == [("[redacted]", "[redacted]", "[redacted]", "[redacted]", None, None, None)]


def test_revoked_pii_grant_stops_revealing_inside_repeatable_read(admin, ana):
    grant = grant_pii(admin)
    try:
        ana.execute("SELECT lake.enable_pii('case 7', '10 minutes')")
        ana.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1") == [("alice@example.com",)]
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))
        assert rows(ana, "SELECT email FROM pub_a.customers WHERE id = 1") == [("a***@example.com",)]
        ana.execute("ROLLBACK")
        ana.execute("SELECT lake.disable_pii()")
    finally:
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_a_reviewer_cannot_grant_access_to_itself(gov):
    """Red team: a reviewer granted itself read access to a published view."""
    with session(gov, REV) as rev:
        err = error_of(rev, f"SELECT lake.grant_access('{REV}', 'raw_a.customers', interval '1 hour', 'self')")
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        assert "cannot grant access to a role it acts as" in str(err)
    with session(gov) as admin:
        assert one(admin, "SELECT count(*) FROM lake.access_grants WHERE grantee_name = %s", (REV,)) == 0


def test_a_reviewers_grant_opens_nothing_to_the_reviewer_after_joining_the_grantee(gov, admin):
    """Red team: separation of duties was checked only when a grant was
    made. A reviewer granted a group (allowed: it was not a member), then
    joined it (an admin added it, or a reviewer with CREATEROLE made the
    group itself) and read, and turned PII on, through its own grant."""
    group = f"gov_team_{SUFFIX}"
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(group)))
    admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
    try:
        with session(gov, REV) as rev:
            for level in ("read", "pii"):
                rev.execute("SELECT lake.grant_access(%s, 'raw_a.customers', interval '1 hour', 'team work', %s)",
                            (group, level))
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(REV)))
        with session(gov, REV) as rev:
            err = error_of(rev, "SELECT count(*) FROM pub_a.customers")
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
            err = error_of(rev, "SELECT lake.enable_pii('own grant', '10 minutes')")
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        # the same grants still open the view to the group's other members
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(BOB)))
        visible = one(admin, "SELECT count(*) FROM raw_a.customers WHERE region <> 'hidden'")
        with session(gov, BOB) as b:
            assert one(b, "SELECT count(*) FROM pub_a.customers") == visible
    finally:
        for (grant,) in rows(admin, "SELECT id FROM lake.access_grants WHERE grantee_name = %s "
                                    "AND revoked_at IS NULL", (group,)):
            admin.execute("SELECT lake.revoke_access(%s)", (grant,))
        admin.execute(sql.SQL("REVOKE {} FROM {}, {}").format(sql.Identifier(group), sql.Identifier(REV),
                                                             sql.Identifier(BOB)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(group)))


# ------------------------------------------------ fourth red-team pass (issue 9)

def test_scheduled_model_run_reading_a_published_view_is_audited(admin, ana):
    """Red team: the analyst let the scheduler copy a published view into its
    own schema; the scheduler's run workers read it without an audit record
    (background workers were never audited)."""
    marker = f"sched_audit_{SUFFIX}"
    model = f"copy_{SUFFIX}"
    ana.execute("SELECT lake.define_model(%s, %s, %s, schedule => 'every 1 second')",
                (model, f"SELECT id, name FROM pub_a.customers /* {marker} */", f"{ANA}_s.copied"))
    try:
        runs = wait_until(ana, "SELECT status, trigger, rows_written FROM lake.runs WHERE model = %s "
                               "AND trigger = 'schedule' AND status = 'succeeded'",
                          lambda r: len(r) > 0, (model,))
        assert runs, rows(ana, "SELECT status, error_message FROM lake.runs WHERE model = %s", (model,))
        ana.execute("SELECT lake.pause_model(%s)", (model,))
        # the source rows the analyst may see (row filter): ids 1 and 2
        assert rows(ana, f"SELECT id, name FROM {ANA}_s.copied ORDER BY id") == [(1, "Alice"), (2, "Bob")]
        records = wait_for_audit(admin, marker)
        assert any(r[0] == "ok" and r[1] == ANA for r in records), records
        # every scheduled run that succeeded read it, so each has its record
        n_runs = one(ana, "SELECT count(*) FROM lake.runs WHERE model = %s AND status = 'succeeded'", (model,))
        deadline = time.monotonic() + 10
        while len([r for r in records if r[1] == ANA]) < n_runs and time.monotonic() < deadline:
            time.sleep(0.2)
            records = wait_for_audit(admin, marker)
        assert len([r for r in records if r[1] == ANA and r[0] == "ok"]) >= n_runs, (n_runs, records)
    finally:
        ana.execute("SELECT lake.drop_model(%s, drop_target => true)", (model,))


def first_finished_runs(ana, model: str) -> list[tuple]:
    """(status, error_message) of a scheduled model's finished runs, once
    there is one; the model is paused then, so no further run starts."""
    runs = wait_until(ana, "SELECT status, error_message FROM lake.runs WHERE model = %s AND status <> 'running'",
                      lambda r: len(r) > 0, (model,))
    ana.execute("SELECT lake.pause_model(%s)", (model,))
    return runs


def test_a_model_run_cannot_turn_pii_on(admin, ana):
    """Red team: a scheduled model called lake.enable_pii() and wrote the raw
    e-mails it then read into its target, which its owner could share (the
    read-only rule of PII sessions skipped background workers)."""
    model = f"pii_run_{SUFFIX}"
    grant = grant_pii(admin, rel="raw_a.customers")
    ana.execute(f"""CREATE OR REPLACE FUNCTION {ANA}_s.emails(flag text) RETURNS text LANGUAGE plpgsql AS
                    $f$ DECLARE r text; BEGIN
                      SELECT string_agg(email, ',' ORDER BY id) INTO r FROM pub_a.customers; RETURN r; END $f$""")
    ana.execute("SELECT lake.define_model(%s, %s, %s, schedule => 'every 1 second')",
                (model, f"SELECT x.e, {ANA}_s.emails(x.e) AS emails FROM "
                        f"(SELECT lake.enable_pii('model ticket')->>'enabled' AS e OFFSET 0) x", f"{ANA}_s.pii_out"))
    try:
        runs = first_finished_runs(ana, model)
        assert runs and all(status == "failed" for status, _ in runs), runs
        assert "cannot be called in a model or pipeline run" in runs[0][1], runs
        raw = [r[0] for r in rows(admin, "SELECT email FROM raw_a.customers")]
        written = rows(admin, f"SELECT string_agg(emails, ',') FROM {ANA}_s.pii_out") \
            if one(admin, "SELECT to_regclass(%s) IS NOT NULL", (f"{ANA}_s.pii_out",)) else [(None,)]
        assert not any(e in (written[0][0] or "") for e in raw), written
    finally:
        ana.execute("SELECT lake.drop_model(%s, drop_target => true)", (model,))
        admin.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_a_model_run_is_never_in_restore_mode(admin, ana):
    """Red team: restore mode trusted the session user, which in a model's
    run is the scheduler's superuser: a model that turned off
    check_function_bodies and row_security ran its DDL without townlake's
    attach checks and governance triggers."""
    model = f"restore_run_{SUFFIX}"
    admin.execute(f"GRANT EXECUTE ON FUNCTION lake_internal._restoring() TO {ANA}")
    ana.execute("SELECT lake.define_model(%s, %s, %s, schedule => 'every 1 second')",
                (model, "SELECT pg_catalog.set_config('check_function_bodies', 'off', true) AS a, "
                        "pg_catalog.set_config('row_security', 'off', true) AS b, lake_internal._restoring() AS r",
                 f"{ANA}_s.restore_probe"))
    try:
        runs = first_finished_runs(ana, model)
        assert runs and runs[0][0] == "succeeded", runs
        assert rows(ana, f"SELECT a, b, r FROM {ANA}_s.restore_probe") == [("off", "off", False)]
    finally:
        ana.execute("SELECT lake.drop_model(%s, drop_target => true)", (model,))
        admin.execute(f"REVOKE EXECUTE ON FUNCTION lake_internal._restoring() FROM {ANA}")


def test_explain_analyze_in_a_model_run_hides_counts_behind_the_row_filter(admin, ana):
    """Red team: EXPLAIN ANALYZE run by a scheduled model showed "Rows Removed
    by Filter" for a published view, so the analyst learnt whether a row its
    row filter hides exists (the session rule skipped background workers)."""
    model = f"explain_run_{SUFFIX}"
    ana.execute(f"""CREATE OR REPLACE FUNCTION {ANA}_s.plan_of(q text) RETURNS text LANGUAGE plpgsql AS
                    $f$ DECLARE line text; out text := ''; BEGIN
                      FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS OFF) ' || q LOOP
                        out := out || line || E'\n'; END LOOP; RETURN out; END $f$""")
    hidden_id = one(admin, "SELECT id FROM raw_a.customers WHERE region = 'hidden'")
    absent_id = one(admin, "SELECT max(id) + 1000 FROM raw_a.customers")
    ana.execute("SELECT lake.define_model(%s, %s, %s, schedule => 'every 1 second')",
                (model, f"SELECT {ANA}_s.plan_of('SELECT * FROM pub_a.customers WHERE id = {hidden_id}') AS a, "
                        f"{ANA}_s.plan_of('SELECT * FROM pub_a.customers WHERE id = {absent_id}') AS b",
                 f"{ANA}_s.plans"))
    try:
        runs = first_finished_runs(ana, model)
        assert runs and runs[0][0] == "succeeded", runs
        a, b = rows(ana, f"SELECT a, b FROM {ANA}_s.plans")[0]
        assert "Rows Removed" not in a and "Rows Removed" not in b, (a, b)
        assert a.replace(f"id = {hidden_id})", "id = ?)") == b.replace(f"id = {absent_id})", "id = ?)"), (a, b)
    finally:
        ana.execute("SELECT lake.drop_model(%s, drop_target => true)", (model,))


def copy_out(conn, statement: str) -> str:
    with conn.cursor().copy(statement) as copy:
        return b"".join(bytes(b) for b in copy).decode()


def test_copy_of_a_raw_table_by_its_owner_is_audited(admin):
    """Red team: `COPY raw_table TO STDOUT` reads the table without the
    executor (an owner bypasses row level security, the only case in which
    Postgres turns it into a query), so a member of lake_owner copied raw data
    out without an audit record. It now runs as `COPY (SELECT …) TO` with the
    same options: the same bytes as Postgres' own COPY (a superuser's, which
    is not rewritten), and one audit record per COPY."""
    marker = f"copy_audit_{SUFFIX}"
    statements = ["COPY raw_a.customers TO STDOUT",
                  "COPY raw_a.customers (email, secret) TO STDOUT",
                  "COPY raw_a.customers TO STDOUT WITH (FORMAT csv, HEADER true)",
                  "COPY raw_a.customers (\"id\", ssn) TO STDOUT WITH (FORMAT binary)"]
    admin.execute("CREATE TABLE raw_a.copy_gen (id int, doubled int GENERATED ALWAYS AS (id * 2) STORED, note text);"
                  "INSERT INTO raw_a.copy_gen (id, note) SELECT g, 'n' || g FROM generate_series(1, 5) g")
    try:
        with session(admin.info.dbname, ING) as ing:
            for i, stmt in enumerate(statements):
                cur = ing.cursor()
                with cur.copy(f"{stmt} /* {marker} {i} */") as copy:
                    got = b"".join(bytes(b) for b in copy)
                with admin.cursor().copy(stmt) as copy:
                    expected = b"".join(bytes(b) for b in copy)
                assert got == expected, stmt
                records = wait_for_audit(admin, f"{marker} {i} ")
                ok = [r for r in records if r[0] == "ok" and r[1] == ING]
                assert len(ok) == 1, (stmt, records)
                relations, columns = rows(admin, "SELECT relations, columns FROM lake.audit_log "
                                                 "WHERE query_text LIKE %s AND role = %s",
                                          (f"%{marker} {i} %", ING))[0]
                assert relations == ["raw_a.customers"], relations
                if "(email, secret)" in stmt:
                    assert set(columns) == {"raw_a.customers.email", "raw_a.customers.secret"}, columns
            # a generated column is left out of a COPY without a column list, as Postgres does
            stmt = "COPY raw_a.copy_gen TO STDOUT WITH (FORMAT csv, HEADER true)"
            assert copy_out(ing, stmt) == copy_out(admin, stmt), stmt
            # naming one is an error of COPY's own on some versions, never an unaudited read
            err = error_of(ing, "COPY raw_a.copy_gen (doubled, id) TO STDOUT")
            assert err.sqlstate in ("0A000", "42P10"), err
        # no rights, no rows: the query form checks the same privileges
        with session(admin.info.dbname, ANA) as ana:
            err = error_of(ana, "COPY raw_a.customers TO STDOUT")
            assert err.sqlstate == "42501", err
    finally:
        admin.execute("DROP TABLE raw_a.copy_gen")


def test_a_non_superuser_owner_can_pg_dump_a_governed_table_and_it_is_audited(admin):
    """pg_dump by an owner who is not a superuser copies each table with
    `COPY table (columns) TO stdout`, which townlake once refused; the dump
    now holds the rows Postgres itself has, and the read is recorded."""
    before = one(admin, "SELECT count(*) FROM lake.audit_log WHERE role = %s AND relations::text[] @> ARRAY['raw_a.events']", (ING,))
    dumped = subprocess.run([f"{PG_BIN}/pg_dump", "-h", PG_HOST, "-p", str(PG_PORT), "-U", ING, "--data-only",
                             "-t", "raw_a.events", admin.info.dbname],
                            capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr
    data = dumped.stdout.split("FROM stdin;\n", 1)[1].split("\\.\n", 1)[0]
    expected = copy_out(admin, "COPY raw_a.events (id, email) TO STDOUT")
    assert sorted(data.splitlines()) == sorted(expected.splitlines())
    assert len(expected.splitlines()) == 1000
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = one(admin, "SELECT count(*) FROM lake.audit_log WHERE role = %s AND relations::text[] @> ARRAY['raw_a.events']",
                    (ING,))
        if after > before:
            break
        time.sleep(0.2)
    assert after == before + 1, (before, after)


def test_a_partition_of_a_governed_table_read_directly_is_audited(admin):
    """Red team: a member of lake_owner read a governed table's partition by
    its own name (`SELECT … FROM raw_a.parted_1`, `COPY raw_a.parted_1 TO`)
    and no audit record said so; reading the partitioned table was recorded."""
    marker = f"partition_audit_{SUFFIX}"
    admin.execute("""
        CREATE TABLE raw_a.parted (id int, note text, secret text) PARTITION BY RANGE (id);
        CREATE TABLE raw_a.parted_1 PARTITION OF raw_a.parted FOR VALUES FROM (0) TO (100);
        INSERT INTO raw_a.parted SELECT g, 'n' || g, 's3cr3t-' || g FROM generate_series(1, 50) g;
    """)
    try:
        with session(admin.info.dbname, ING) as ing:
            got = one(ing, f"SELECT count(*) FROM raw_a.parted_1 WHERE secret IS NOT NULL /* {marker} */")
            copied = copy_out(ing, f"COPY raw_a.parted_1 TO STDOUT /* {marker} copy */")
        assert copied == copy_out(admin, "COPY raw_a.parted_1 TO STDOUT")
        assert got == one(admin, "SELECT count(*) FROM raw_a.parted_1 WHERE secret IS NOT NULL") == 50
        records = wait_for_audit(admin, marker)
        ok = [r for r in records if r[0] == "ok" and r[1] == ING and "SELECT count(*)" in r[3]]
        assert len(ok) == 1, records
        copies = wait_for_audit(admin, f"{marker} copy")
        assert [(r[0], r[1]) for r in copies] == [("ok", ING)], copies
        assert rows(admin, "SELECT relations FROM lake.audit_log WHERE query_text LIKE %s",
                    (f"%{marker} copy%",)) == [(["raw_a.parted"],)]
        relations, columns = rows(admin, "SELECT relations, columns FROM lake.audit_log WHERE query_text LIKE %s "
                                         "AND outcome = 'ok'", (f"%SELECT count(*)%{marker}%",))[0]
        assert relations == ["raw_a.parted"], relations
        assert "raw_a.parted.secret" in columns, columns
    finally:
        admin.execute("DROP TABLE raw_a.parted")
