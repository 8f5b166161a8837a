"""A governed database survives pg_dump / pg_restore into a new database
(issue 9, item 17).

The source database governs a schema with a heap table and two Iceberg
foreign tables on lake_local (one created by townlake, one written by
PyIceberg and imported), approves columns with masks of every kind and a
row filter, grants an analyst access, records an open request, runs a PII
scan and audited queries. Then `pg_dump -Fc` and `pg_restore` (PostgreSQL's
own binaries) into a new, empty database, and everything is compared with
the source database's answers, which serve as the oracle: what the analyst
reads, what a role without a grant gets (denied), the governance state, the
grants, the PII findings, the Iceberg catalog rows, the audit log and its
chain (`lake.verify_audit()`), the plans (the planner shim still flattens the
restored views), and that the restored state keeps working (new grants,
new audit records).
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pyarrow as pa
import pytest
from psycopg import sql
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from conftest import PG_HOST, PG_PORT, connect
from govhelpers import error_of, one, recreate_roles, rows, session
# pg_dump refuses a server newer than itself: use the server's own tools.
from privatecluster import BINDIR as PG_BIN
SUFFIX = uuid.uuid4().hex[:6]
ANA = f"dr_ana_{SUFFIX}"
BOB = f"dr_bob_{SUFFIX}"
REV = f"dr_rev_{SUFFIX}"
ROLES = [ANA, BOB, REV]


def wait_for_audit(conn, timeout: float = 15.0) -> int:
    """Waits until the writer has written every queued record; the count."""
    deadline = time.monotonic() + timeout
    while one(conn, "SELECT lake.audit_pending()") > 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    return one(conn, "SELECT records FROM lake.audit_chain")


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def source(roles, database, local_lake):
    """The governed source database; yields its name."""
    ns = database  # Iceberg namespace: the files land in the database's own directory
    with session(database) as admin:
        admin.execute(sql.SQL("GRANT lake_reviewer TO {}").format(sql.Identifier(REV)))
        admin.execute("""
            CREATE SCHEMA dr_raw;
            CREATE TABLE dr_raw.customers (id int PRIMARY KEY, name text, email text, ssn text, ip inet,
                                           born date, region text, note text);
            INSERT INTO dr_raw.customers VALUES
              (1, 'Ada', 'ada@math.org', '111-11-1111', '10.1.2.3', '1815-12-10', 'eu', 'vip'),
              (2, 'Alan', 'alan@b.uk', '222-22-2222', '2001:db8:85a3:1234::7', '1912-06-23', 'us', 'n/a'),
              (3, 'Grace', 'grace@navy.mil', '333-33-3333', '192.168.0.9', '1906-12-09', 'hidden', 'x');
            SELECT lake.govern_schema('dr_raw', 'dr_pub');
        """)
        admin.execute(sql.SQL(
            "CREATE FOREIGN TABLE dr_raw.events (id bigint, email text, kind text) "
            "SERVER lake_local OPTIONS (namespace {}, \"table\" 'events')").format(sql.Literal(ns)))
        admin.execute("INSERT INTO dr_raw.events VALUES (1, 'ada@math.org', 'login'), "
                      "(2, 'alan@b.uk', 'logout'), (3, 'grace@navy.mil', 'login')")
        admin.execute("DELETE FROM dr_raw.events WHERE id = 3")
        # a table another engine wrote, imported into the governed schema
        schema = Schema(NestedField(1, "id", LongType(), required=False),
                        NestedField(2, "email", StringType(), required=False))
        table = local_lake.create_table(ns, "signups", schema)
        table.append(pa.Table.from_pylist([{"id": 10, "email": "lin@x.org"}, {"id": 11, "email": "max@y.org"}],
                                          schema=table.schema().as_arrow()))
        admin.execute(sql.SQL("IMPORT FOREIGN SCHEMA {} LIMIT TO (signups) FROM SERVER lake_local INTO dr_raw")
                      .format(sql.Identifier(ns)))
    with session(database, REV) as rev:
        rev.execute("""
            SELECT lake.approve_column('dr_raw.customers', 'id', 'public');
            SELECT lake.approve_column('dr_raw.customers', 'name', 'restricted', 'lake.mask_redact(anyelement)');
            SELECT lake.approve_column('dr_raw.customers', 'email', 'pii');
            SELECT lake.approve_column('dr_raw.customers', 'ssn', 'restricted', 'lake.mask_hash(text)');
            SELECT lake.approve_column('dr_raw.customers', 'ip', 'pii');
            SELECT lake.approve_column('dr_raw.customers', 'born', 'pii');
            SELECT lake.approve_column('dr_raw.customers', 'region', 'public');
            SELECT lake.deny_column('dr_raw.customers', 'note', 'free text');
            SELECT lake.set_row_filter('dr_raw.customers', $$region <> 'hidden'$$);
            SELECT lake.approve_table('dr_raw.customers', 'customer master data');
            SELECT lake.approve_column('dr_raw.events', 'id', 'public');
            SELECT lake.approve_column('dr_raw.events', 'email', 'pii', 'lake.mask_partial(text,integer,integer)');
            SELECT lake.set_mask('dr_raw.events', 'email', 'lake.mask_partial(text,integer,integer)',
                                 '{"keep_first": 2, "keep_last": 3}');
            SELECT lake.approve_table('dr_raw.events', 'events');
            SELECT lake.approve_column('dr_raw.signups', 'id', 'public');
            SELECT lake.approve_column('dr_raw.signups', 'email', 'pii');
            SELECT lake.approve_table('dr_raw.signups', 'signups');
        """)
        for rel in ("dr_raw.customers", "dr_raw.events", "dr_raw.signups"):
            rev.execute("SELECT lake.grant_access(%s, %s, NULL, 'analysis')", (ANA, rel))
        rev.execute("SELECT lake.grant_access(%s, 'dr_raw.customers', '1 day', 'case 12', 'pii')", (ANA,))
        revoked = one(rev, "SELECT lake.grant_access(%s, 'dr_raw.events', '1 day', 'short look')", (BOB,))
        rev.execute("SELECT lake.revoke_access(%s)", (revoked,))
    with session(database, BOB) as bob:
        bob.execute("SELECT lake.request_access('dr_pub.customers', 'need it')")
    with session(database) as admin:
        admin.execute("SELECT * FROM lake.scan('dr_raw.customers')")
    with session(database, ANA) as ana:
        for q in READS:
            ana.execute(q).fetchall()
        ana.execute("SELECT lake.enable_pii('case 12', '10 minutes')")
        ana.execute("SELECT email FROM dr_pub.customers").fetchall()
        ana.execute("SELECT lake.disable_pii()")
    with session(database) as admin:
        assert wait_for_audit(admin) > 0
    yield database


READS = [
    "SELECT * FROM dr_pub.customers ORDER BY id",
    "SELECT * FROM dr_pub.events ORDER BY id",
    "SELECT * FROM dr_pub.signups ORDER BY id",
    "SELECT region, count(*) FROM dr_pub.customers GROUP BY region ORDER BY region",
]

# Governance, audit, PII and catalog state, as comparable text (relations and
# roles by name: their oids differ between the databases by design).
STATE = {
    "governed_schemas": "SELECT raw_schema, published_schema, governed_by FROM lake.governed_schemas ORDER BY 1",
    "governed_relations": "SELECT relid::text, raw_schema, relname, relkind, state, row_filter, published_name "
                          "FROM lake.governed_relations ORDER BY 1",
    "governed_columns": "SELECT relid::text, attnum, column_name, column_type, state, sensitivity, mask::text, "
                        "mask_args, published_position FROM lake.governed_columns ORDER BY 1, 2",
    "reviews": "SELECT id, at, actor, action, relid::text, relation, column_name, detail, reason "
               "FROM lake.reviews ORDER BY id",
    "access_grants": "SELECT id, grantee::text, grantee_name, relid::text, relation, level, reason, granted_by, "
                     "granted_at, expires_at, revoked_at, revoked_by FROM lake.access_grants ORDER BY id",
    "access_requests": "SELECT id, requester, relid::text, relation, reason, status, grant_id "
                       "FROM lake.access_requests ORDER BY id",
    "pii_sessions": "SELECT id, role, action, reason, until, relations, grant_ids FROM lake.pii_sessions ORDER BY id",
    "mask_key": "SELECT key FROM lake.mask_key",
    "pii_columns": "SELECT relation::text, attnum, column_name, infotypes, sensitivity, mask, confidence "
                   "FROM lake.pii_columns ORDER BY 1, 2",
    "pii_findings": "SELECT relation::text, attnum, infotype, confidence, matches, sampled, evidence "
                    "FROM lake.pii_findings ORDER BY 1, 2, 3",
    "iceberg_tables": "SELECT * FROM lake.iceberg_tables ORDER BY 1, 2, 3",
    "iceberg_namespaces": "SELECT * FROM lake.iceberg_namespace_properties ORDER BY 1, 2, 3",
    "iceberg_owners": "SELECT catalog_name, table_namespace, table_name, owner::text, governed, attachers::text "
                      "FROM lake.iceberg_table_owners ORDER BY 1, 2, 3",
    "audit_log": "SELECT id, record_id, logged_at, role, query_text, relations, columns, pii_revealed, rows, "
                 "outcome, prev_hash, hash FROM lake.audit_log ORDER BY id",
    "audit_chain": "SELECT last_id, last_hash, records FROM lake.audit_chain",
    "views": "SELECT c.relname, pg_get_viewdef(c.oid), c.relowner::regrole::text, c.relacl::text, c.reloptions "
             "FROM pg_class c WHERE c.relnamespace = 'dr_pub'::regnamespace ORDER BY 1",
    "raw_acls": "SELECT c.relname, c.relowner::regrole::text, c.relacl::text, c.relrowsecurity "
                "FROM pg_class c WHERE c.relnamespace = 'dr_raw'::regnamespace AND c.relkind IN ('r', 'f') ORDER BY 1",
}


@pytest.fixture(scope="module")
def restored(source, admin_conn, tmp_path_factory):
    """pg_dump -Fc of the source, pg_restore into a new database; yields
    (name, pg_restore's stderr)."""
    target = f"{source}_restored"
    dump = tmp_path_factory.mktemp("dump") / "source.dump"
    conn_args = ["-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres"]
    subprocess.run([f"{PG_BIN}/pg_dump", *conn_args, "-Fc", "-f", str(dump), source],
                   check=True, capture_output=True, text=True)
    admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
    try:
        done = subprocess.run([f"{PG_BIN}/pg_restore", *conn_args, "-d", target, str(dump)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        yield target, done.stderr
    finally:
        admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))


def answers(db: str, role: str | None, queries) -> list:
    with session(db, role) as c:
        return [rows(c, q) for q in queries]


def test_restore_reports_no_error(restored):
    db, stderr = restored
    assert "error" not in stderr.lower(), stderr
    with session(db) as admin:
        assert one(admin, "SELECT lake.verify_audit()") is True
        assert one(admin, "SELECT records FROM lake.audit_chain") > 0


@pytest.mark.parametrize("name", list(STATE))
def test_state_is_restored(source, restored, name):
    db, _ = restored
    with session(source) as src, session(db) as dst:
        expected = rows(src, STATE[name])
        assert expected, f"the source has no {name}: the comparison would prove nothing"
        assert rows(dst, STATE[name]) == expected


def test_analyst_reads_the_same_masked_rows(source, restored):
    db, _ = restored
    expected = answers(source, ANA, READS)
    assert answers(db, ANA, READS) == expected
    # the oracle itself is masked and filtered
    customers = {r[0]: [str(v) for v in r] for r in expected[0]}
    assert sorted(customers) == [1, 2]
    name, email, ssn, ip, born, region = customers[1][1:]
    assert (name, email, ip, born, region) == ("[redacted]", "a***@math.org", "10.1.2.0/24", "1815-01-01", "eu")
    assert len(ssn) == 64 and ssn != customers[2][3]
    assert customers[2][4] == "2001:db8:85a3::/48"
    assert [str(v) for v in expected[1][0]] == ["1", "ad*******org"]


def test_role_without_grant_is_still_denied(source, restored):
    db, _ = restored
    for database in (source, db):
        with session(database, BOB) as bob:
            for view in ("dr_pub.customers", "dr_pub.events", "dr_pub.signups"):
                err = error_of(bob, f"SELECT * FROM {view}")
                assert err.sqlstate == "42501" and "no access grant" in err.diag.message_primary, view
            assert "permission denied" in str(error_of(bob, "SELECT * FROM dr_raw.customers"))


def test_pii_session_reveals_after_restore(source, restored):
    db, _ = restored
    got = []
    for database in (source, db):
        with session(database, ANA) as ana:
            ana.execute("SELECT lake.enable_pii('case 12', '10 minutes')")
            got.append(rows(ana, "SELECT id, email, name FROM dr_pub.customers ORDER BY id"))
    assert got[0] == got[1] == [(1, "ada@math.org", "[redacted]"), (2, "alan@b.uk", "[redacted]")]


def test_explain_access_and_policy_are_the_same(source, restored):
    db, _ = restored
    q = ["SELECT lake.explain_access('dr_pub.customers') - 'your_grants'"]
    assert answers(db, ANA, q) == answers(source, ANA, q)
    q = ["SELECT lake.policy_json()"]
    assert answers(db, REV, q) == answers(source, REV, q)


def test_planner_shim_still_flattens_restored_views(source, restored):
    db, _ = restored
    q = ["EXPLAIN (COSTS OFF) SELECT count(*) FROM dr_pub.customers WHERE id > 1"]
    plan = answers(db, ANA, q)
    assert plan == answers(source, ANA, q)
    text = "\n".join(r[0] for r in plan[0])
    assert "Subquery Scan" not in text and "access_gate" not in text and "One-Time Filter" not in text, text


def test_raw_iceberg_tables_read_the_same_files(source, restored):
    db, _ = restored
    q = ["SELECT * FROM dr_raw.events ORDER BY id", "SELECT * FROM dr_raw.signups ORDER BY id"]
    expected = answers(source, None, q)
    assert expected == [[(1, "ada@math.org", "login"), (2, "alan@b.uk", "logout")],
                        [(10, "lin@x.org"), (11, "max@y.org")]]
    assert answers(db, None, q) == expected


def test_restored_state_keeps_working(source, restored):
    db, _ = restored
    with session(db) as admin:
        before = wait_for_audit(admin)
        last_grant = one(admin, "SELECT max(id) FROM lake.access_grants")
    with session(db, REV) as rev:
        new_id = one(rev, "SELECT lake.grant_access(%s, 'dr_pub.customers', '1 hour', 'after restore')", (BOB,))
    assert new_id == last_grant + 1  # the sequence came along
    with session(db, BOB) as bob:
        assert rows(bob, "SELECT id FROM dr_pub.customers ORDER BY id") == [(1,), (2,)]
    with session(db, REV) as rev:
        rev.execute("SELECT lake.revoke_access(%s)", (new_id,))
    with session(db, BOB) as bob:
        assert "no access grant" in str(error_of(bob, "SELECT id FROM dr_pub.customers"))
    with session(db) as admin:
        assert wait_for_audit(admin) >= before + 2
        assert one(admin, "SELECT lake.verify_audit()") is True
        # new tables in the restored governed schema are captured again
        admin.execute("CREATE TABLE dr_raw.later (id int)")
        assert one(admin, "SELECT state FROM lake.governed_relations WHERE relid = 'dr_raw.later'::regclass") \
            == "pending"


def test_restore_mode_is_off_in_ordinary_sessions(restored):
    db, _ = restored
    with session(db) as admin:
        assert one(admin, "SELECT lake_internal._restoring()") is False
        admin.execute("SET check_function_bodies = off")
        assert one(admin, "SELECT lake_internal._restoring()") is False  # row_security still on
        admin.execute("SET row_security = off")
        assert one(admin, "SELECT lake_internal._restoring()") is True
    with connect(db) as c:
        c.execute(sql.SQL("GRANT EXECUTE ON FUNCTION lake_internal._restoring() TO {}").format(sql.Identifier(BOB)))
    with session(db, BOB) as bob:  # not a superuser: never restoring
        bob.execute("SET check_function_bodies = off; SET row_security = off")
        assert one(bob, "SELECT lake_internal._restoring()") is False
