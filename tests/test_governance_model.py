"""The governance model (issue 4): capture, review, masks, grants, requests,
self-service denials, PII sessions and the Trino policy export, on every kind
of relation (table, partitioned table, view, materialized view, Iceberg
foreign table)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
import uuid
from pathlib import Path

import pyarrow as pa
import psycopg
import pytest
from psycopg import sql
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from govhelpers import error_of, one, recreate_roles, rows, session

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"gm_ana_{SUFFIX}"
REV = f"gm_rev_{SUFFIX}"
AUD = f"gm_aud_{SUFFIX}"
TEAM = f"gm_team_{SUFFIX}"
ROLES = [ANA, REV, AUD, TEAM]


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES, nologin=(TEAM,))


@pytest.fixture(scope="module")
def gov(roles, database):
    with session(database) as admin:
        admin.execute(sql.SQL("GRANT lake_reviewer TO {}").format(sql.Identifier(REV)))
        admin.execute(sql.SQL("GRANT lake_auditor TO {}").format(sql.Identifier(AUD)))
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(TEAM), sql.Identifier(ANA)))
        admin.execute("""
            CREATE SCHEMA crm;
            CREATE TABLE crm.contacts (id int, full_name text, email text, phone text, visited date, client_ip inet);
            INSERT INTO crm.contacts VALUES
              (1, 'Ada Lovelace', 'ada@math.org', '+44 20 7946 0000', '1843-07-10', '10.20.30.40'),
              (2, 'Alan Turing', 'alan@bletchley.uk', '+44 20 7946 0001', '1936-05-28', '2001:db8:1:2::7');
        """)
        yield database


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


def test_govern_schema_registers_everything_as_pending(admin):
    result = one(admin, "SELECT lake.govern_schema('crm', 'crm_pub')")
    assert result["relations"] == 1
    assert rows(admin, "SELECT state FROM lake.governed_relations") == [("pending",)]
    assert one(admin, "SELECT count(*) FROM lake.pending_reviews WHERE kind = 'column'") == 6
    owner, acl, rls = rows(admin, "SELECT relowner::regrole::text, relacl::text, relrowsecurity FROM pg_class "
                                  "WHERE oid = 'crm.contacts'::regclass")[0]
    assert owner == "lake_owner" and rls
    assert "lake_governance=r" in acl and "=r/" not in acl.replace("lake_governance=r/", "")
    # the published name exists and says it is pending
    assert one(admin, "SELECT to_regclass('crm_pub.contacts') IS NOT NULL")


def test_only_reviewers_review(ana, rev):
    err = error_of(ana, "SELECT lake.approve_table('crm_pub.contacts', 'me')")
    assert "not a townlake reviewer" in str(err) or "permission denied" in str(err)
    rev.execute("SELECT lake.approve_column('crm.contacts', 'id', 'public', NULL, 'key')")
    rev.execute("SELECT lake.approve_column('crm.contacts', 'full_name', 'internal')")
    rev.execute("SELECT lake.approve_column('crm.contacts', 'email', 'pii')")
    rev.execute("SELECT lake.approve_column('crm.contacts', 'visited', 'pii')")
    rev.execute("SELECT lake.approve_column('crm.contacts', 'client_ip', 'pii')")
    assert "needs a reason" in str(error_of(rev, "SELECT lake.approve_table('crm.contacts', '  ')"))
    assert "sensitivity must be" in str(error_of(rev, "SELECT lake.approve_column('crm.contacts', 'phone', 'secret')"))
    assert "has no column" in str(error_of(rev, "SELECT lake.approve_column('crm.contacts', 'nope', 'public')"))


def test_pending_table_message_names_state_request_and_holders(ana):
    err = error_of(ana, "SELECT * FROM crm_pub.contacts")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege)
    assert "pending review" in err.diag.message_primary
    assert "lake.request_access('crm_pub.contacts'" in err.diag.message_hint
    assert "Roles with access: none" in err.diag.message_detail
    info = one(ana, "SELECT lake.explain_access('crm_pub.contacts')")
    assert info["state"] == "pending" and info["allowed"] is False
    assert info["columns"]["pending"] == 1 and len(info["columns"]["approved"]) == 5
    assert "request_access" in info["request_with"]


def test_request_then_grant_then_read(ana, rev):
    req = one(ana, "SELECT lake.request_access('crm_pub.contacts', 'quarterly churn analysis')")
    assert one(rev, "SELECT status FROM lake.access_requests WHERE id = %s", (req,)) == "open"
    rev.execute("SELECT lake.approve_table('crm.contacts', 'CRM master data')")
    err = error_of(ana, "SELECT * FROM crm_pub.contacts")
    assert "no access grant" in err.diag.message_primary
    grant = one(rev, f"SELECT lake.grant_access('{ANA}', 'crm_pub.contacts', '1 hour', 'churn analysis')")
    assert one(rev, "SELECT status FROM lake.access_requests WHERE id = %s", (req,)) == "granted"
    cur = ana.execute("SELECT * FROM crm_pub.contacts ORDER BY id")
    assert [d.name for d in cur.description] == ["id", "full_name", "email", "visited", "client_ip"]
    got = cur.fetchall()
    assert got[0][2] == "a***@math.org"
    assert str(got[0][3]) == "1843-01-01"
    assert str(got[0][4]) == "10.20.30.0/24" and str(got[1][4]) == "2001:db8:1::/48"
    mine = rows(ana, "SELECT grant_id, relation, level FROM lake.my_access()")
    assert (grant, "crm_pub.contacts", "read") in mine
    info = one(ana, "SELECT lake.explain_access('crm_pub.contacts')")
    assert info["allowed"] is True and info["your_grants"][0]["grant_id"] == grant


def test_grant_to_group_role_covers_members(admin, ana, rev):
    admin.execute("CREATE TABLE crm.notes (id int, body text)")
    admin.execute("INSERT INTO crm.notes VALUES (1, 'hello')")
    rev.execute("""SELECT lake.approve_column('crm.notes', 'id', 'public');
                   SELECT lake.approve_column('crm.notes', 'body', 'internal');
                   SELECT lake.approve_table('crm.notes', 'notes')""")
    grant = one(rev, f"SELECT lake.grant_access('{TEAM}', 'crm.notes', NULL, 'team standing access')")
    assert rows(ana, "SELECT * FROM crm_pub.notes") == [(1, "hello")]
    rev.execute("SELECT lake.revoke_access(%s)", (grant,))
    assert "no access grant" in str(error_of(ana, "SELECT * FROM crm_pub.notes"))
    log = rows(rev, "SELECT action FROM lake.reviews WHERE relation = 'crm.notes' ORDER BY id")
    assert [a for (a,) in log][-2:] == ["grant_access", "revoke_access"]


def test_deny_table_and_column(admin, ana, rev):
    admin.execute("CREATE TABLE crm.keys (id int, api_key text)")
    rev.execute("SELECT lake.deny_table('crm.keys', 'credentials do not belong in the lake')")
    err = error_of(ana, "SELECT * FROM crm_pub.keys")
    assert "was denied by a reviewer" in err.diag.message_primary
    rev.execute("SELECT lake.deny_column('crm.contacts', 'phone', 'personal phone numbers stay out')")
    assert one(rev, "SELECT count(*) FROM lake.pending_reviews WHERE relation = 'crm.contacts'") == 0


def test_masks_with_arguments_and_validation(ana, rev):
    rev.execute("SELECT lake.approve_column('crm.contacts', 'full_name', 'pii', "
                "'lake.mask_partial(text,integer,integer)')")
    rev.execute("""SELECT lake.set_mask('crm.contacts', 'full_name', 'lake.mask_partial(text,integer,integer)',
                                        '{"keep_first": 3, "keep_last": 0}')""")
    assert rows(ana, "SELECT full_name FROM crm_pub.contacts WHERE id = 1") == [("Ada*********",)]
    bad = [("'lake.mask_partial(text,integer,integer)'", "'{\"keep_middle\": 1}'", "no parameter named"),
           ("'pg_catalog.upper(text)'", "'{}'", "is not a townlake mask"),
           ("'lake.mask_year(date)'", "'{}'", "does not take a column of type text")]
    for mask, args, message in bad:
        err = error_of(rev, f"SELECT lake.set_mask('crm.contacts', 'full_name', {mask}, {args})")
        assert message in str(err), (mask, str(err))
    # a public column takes no mask
    assert "masks apply to pii" in str(error_of(rev, "SELECT lake.set_mask('crm.contacts', 'id', 'lake.mask_hash(text)')"))
    rev.execute("SELECT lake.approve_column('crm.contacts', 'full_name', 'internal')")
    assert rows(ana, "SELECT full_name FROM crm_pub.contacts WHERE id = 1") == [("Ada Lovelace",)]


def test_view_matview_and_partitioned_table_are_governed(admin, ana, rev):
    admin.execute("""
        CREATE TABLE crm.visits (id int, at date, email text) PARTITION BY RANGE (at);
        CREATE TABLE crm.visits_2024 PARTITION OF crm.visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        INSERT INTO crm.visits VALUES (1, '2024-03-01', 'ada@math.org');
        CREATE VIEW crm.contact_emails AS SELECT id, email FROM crm.contacts;
        CREATE MATERIALIZED VIEW crm.visit_counts AS SELECT at, count(*) AS n FROM crm.visits GROUP BY at;
    """)
    kinds = dict(rows(admin, "SELECT relname, relkind::text FROM lake.governed_relations"))
    assert kinds["visits"] == "p" and kinds["contact_emails"] == "v" and kinds["visit_counts"] == "m"
    assert "visits_2024" not in kinds  # partitions are read through their parent ...
    owner = one(admin, "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'crm.visits_2024'::regclass")
    assert owner == "lake_owner"  # ... and locked down like it
    for rel, cols in (("crm.visits", ["id", "at", "email"]), ("crm.contact_emails", ["id", "email"]),
                      ("crm.visit_counts", ["at", "n"])):
        for col in cols:
            rev.execute("SELECT lake.approve_column(%s, %s, %s)", (rel, col, "pii" if col == "email" else "public"))
        rev.execute("SELECT lake.approve_table(%s, 'ok')", (rel,))
        rev.execute(f"SELECT lake.grant_access('{ANA}', %s, '1 hour', 'x')", (rel,))
    assert rows(ana, "SELECT email FROM crm_pub.visits") == [("a***@math.org",)]
    assert ("a***@math.org",) in rows(ana, "SELECT email FROM crm_pub.contact_emails")
    assert rows(ana, "SELECT n FROM crm_pub.visit_counts") == [(1,)]


def test_iceberg_foreign_table_is_governed(admin, ana, rev, local_lake):
    schema = Schema(NestedField(1, "id", LongType(), required=False),
                    NestedField(2, "email", StringType(), required=False))
    table = local_lake.create_table("govns", "signups", schema)
    table.append(pa.Table.from_pylist([{"id": 1, "email": "ada@math.org"}, {"id": 2, "email": "alan@b.uk"}],
                                      schema=table.schema().as_arrow()))
    admin.execute("IMPORT FOREIGN SCHEMA govns LIMIT TO (signups) FROM SERVER lake_local INTO crm")
    assert one(admin, "SELECT state FROM lake.governed_relations WHERE relname = 'signups'") == "pending"
    assert "pending review" in str(error_of(ana, "SELECT * FROM crm_pub.signups"))
    rev.execute("""SELECT lake.approve_column('crm.signups', 'id', 'public');
                   SELECT lake.approve_column('crm.signups', 'email', 'pii');
                   SELECT lake.approve_table('crm.signups', 'signups')""")
    rev.execute(f"SELECT lake.grant_access('{ANA}', 'crm.signups', '1 hour', 'x')")
    assert rows(ana, "SELECT id, email FROM crm_pub.signups ORDER BY id") == [(1, "a***@math.org"), (2, "a***@b.uk")]
    assert "permission denied" in str(error_of(ana, "SELECT * FROM crm.signups"))
    policy = one(rev, "SELECT lake.policy_json('iceberg')")
    rule = next(r for r in policy["tables"] if r.get("table") == "^signups$")
    assert rule["schema"] == "^govns$" and rule["user"] == f"^{ANA}$"
    assert rule["columns"][0]["name"] == "email" and "***" in rule["columns"][0]["mask"]


def test_pii_session_reveals_exactly_the_granted_relations(admin, ana, rev):
    err = error_of(ana, "SELECT lake.enable_pii('look')")
    assert "no unexpired pii grant" in err.diag.message_primary
    grant = one(rev, f"SELECT lake.grant_access('{ANA}', 'crm_pub.contacts', '1 hour', 'fraud case 12', 'pii')")
    status = one(ana, "SELECT lake.enable_pii('fraud case 12', '5 minutes')")
    assert status["enabled"] and [r["relation"] for r in status["relations"]] == ["crm_pub.contacts"]
    assert rows(ana, "SELECT email FROM crm_pub.contacts WHERE id = 1") == [("ada@math.org",)]
    # crm_pub.visits is readable but not covered by the pii grant
    assert rows(ana, "SELECT email FROM crm_pub.visits") == [("a***@math.org",)]
    assert one(ana, "SELECT lake.pii_status()")["enabled"] is True
    ana.execute("SELECT lake.disable_pii()")
    assert rows(ana, "SELECT email FROM crm_pub.contacts WHERE id = 1") == [("a***@math.org",)]
    flips = rows(admin, "SELECT action, reason FROM lake.pii_sessions WHERE role = %s ORDER BY id", (ANA,))
    assert flips == [("enable", "fraud case 12"), ("disable", None)]
    rev.execute("SELECT lake.revoke_access(%s)", (grant,))


def test_reviews_log_is_append_only(admin, rev):
    assert one(rev, "SELECT count(*) FROM lake.reviews") > 10
    for stmt in ("UPDATE lake.reviews SET reason = 'x'", "DELETE FROM lake.reviews", "TRUNCATE lake.reviews"):
        err = error_of(admin, stmt)
        assert "append-only" in str(err)
    assert "permission denied" in str(error_of(rev, "UPDATE lake.reviews SET reason = 'x'"))


def test_governance_tables_are_closed_to_analysts(ana):
    for table in ("lake.governed_columns", "lake.reviews", "lake.access_grants", "lake.access_requests",
                  "lake.pending_reviews", "lake.mask_key", "lake.audit_log"):
        assert "permission denied" in str(error_of(ana, f"SELECT * FROM {table}")), table
    assert "permission denied" in str(error_of(ana, "SELECT lake_internal._op_approve_table(0, '{}')"))


def test_background_worker_revokes_expired_grants(admin, rev):
    grant = one(rev, f"SELECT lake.grant_access('{ANA}', 'crm.contacts', '1 second', 'brief')")
    deadline = time.time() + 40
    while time.time() < deadline:
        revoked = rows(admin, "SELECT revoked_by, revoke_reason FROM lake.access_grants WHERE id = %s", (grant,))[0]
        if revoked[0]:
            break
        time.sleep(0.5)
    assert revoked == ("townlake", "expired")
    assert one(admin, "SELECT count(*) FROM lake.reviews WHERE action = 'grant_expired' "
                      "AND detail->>'grant_id' = %s", (str(grant),)) == 1


def test_policy_json_is_trino_file_based_access_control(rev, ana):
    policy = one(rev, "SELECT lake.policy_json()")
    assert set(policy) == {"tables"}
    rule = next(r for r in policy["tables"] if r.get("table") == "^contacts$" and r.get("user") == f"^{ANA}$")
    assert rule["catalog"] == "^iceberg$" and rule["schema"] == "^crm$" and rule["privileges"] == ["SELECT"]
    columns = {c["name"]: c for c in rule["columns"]}
    assert columns["phone"] == {"name": "phone", "allow": False}
    assert "***" in columns["email"]["mask"]
    assert "date_trunc('year'" in columns["visited"]["mask"]
    group_rule = [r for r in policy["tables"] if r.get("group") == f"^{TEAM}$"]
    assert group_rule == []  # the team grant was revoked
    assert {"catalog": "^iceberg$", "schema": "^crm$", "privileges": []} in policy["tables"]
    assert policy["tables"][-1]["privileges"] == []
    json.dumps(policy)
    assert "reviewers, auditors" in str(error_of(ana, "SELECT lake.policy_json()"))
    assert "hashing key" in str(error_of(rev, "SELECT lake.policy_json('iceberg', true)"))


def test_pii_scanner_suggestions_feed_the_review_queue(admin):
    if one(admin, "SELECT to_regprocedure('lake.scan(regclass)') IS NULL"):
        pytest.skip("the PII scanner is not installed")
    admin.execute("CREATE TABLE crm.leads (id int, contact text, remark text)")
    admin.execute("INSERT INTO crm.leads SELECT g, 'lead' || g || '@mail.example.com', 'fine' FROM generate_series(1, 200) g")
    admin.execute("SELECT * FROM lake.scan('crm.leads')")
    got = rows(admin, "SELECT suggested_sensitivity, suggested_mask FROM lake.pending_reviews "
                      "WHERE relation = 'crm.leads' AND column_name = 'contact'")
    assert got == [("pii", "lake.mask_email(text)")]
    # approved as pii without a mask: the scanner's mask is the default
    admin.execute("SELECT lake.approve_column('crm.leads', 'contact', 'pii')")
    assert one(admin, "SELECT mask::text FROM lake.governed_columns "
                      "WHERE relid = 'crm.leads'::regclass AND column_name = 'contact'") == "lake.mask_email(text)"
    # a public column in which the scanner later finds PII comes back for review
    admin.execute("SELECT lake.approve_column('crm.leads', 'remark', 'public')")
    admin.execute("UPDATE crm.leads SET remark = 'call me at lead' || id || '@mail.example.com'")
    admin.execute("SELECT * FROM lake.scan('crm.leads')")
    got = rows(admin, "SELECT state, suggested_sensitivity FROM lake.pending_reviews "
                      "WHERE relation = 'crm.leads' AND column_name = 'remark'")
    assert got == [("recheck", "pii")]
    # the scanner told governance about each changed finding (the PII ->
    # governance contract, docs/architecture-sql.md): the review log has the
    # suggestion and the column's state when it changed
    logged = rows(admin, "SELECT column_name, actor, detail->>'suggested_sensitivity', "
                         "detail->>'state', (detail->>'recheck')::boolean FROM lake.reviews "
                         "WHERE action = 'pii_finding_changed' AND relid = 'crm.leads'::regclass ORDER BY id")
    assert logged == [("contact", "townlake", "pii", "pending", False),
                      ("remark", "townlake", "pii", "approved", True)]


def test_time_travel_is_refused_through_published_views(gov, admin, ana, rev, local_lake):
    """Old snapshots of an Iceberg table keep rows its owner deleted since
    (an erasure request, say): reading them through a published view is
    refused however the setting is made; the owners read them on the raw table."""
    # townlake writes the table under <warehouse>/<namespace>: the database's
    # directory, which PyIceberg (this process) may have created already
    base = Path(urllib.parse.urlparse(local_lake.base_location).path)
    base.mkdir(parents=True, exist_ok=True)
    shutil.chown(base, "postgres")
    admin.execute(sql.SQL("CREATE FOREIGN TABLE crm.ledger (id bigint, amount int) "
                          "SERVER lake_local OPTIONS (namespace {}, \"table\" 'ledger')").format(sql.Literal(gov)))
    admin.execute("INSERT INTO crm.ledger VALUES (1, 10), (2, 20), (3, 30)")
    time.sleep(0.01)
    before_delete = one(admin, "SELECT clock_timestamp()::text")
    admin.execute("DELETE FROM crm.ledger WHERE id = 3")
    first = one(admin, "SELECT snapshot_id FROM lake.snapshots('crm.ledger'::regclass) ORDER BY committed_at LIMIT 1")
    rev.execute("""SELECT lake.approve_column('crm.ledger', 'id', 'public');
                   SELECT lake.approve_column('crm.ledger', 'amount', 'internal');
                   SELECT lake.approve_table('crm.ledger', 'ledger')""")
    rev.execute(f"SELECT lake.grant_access('{ANA}', 'crm.ledger', '1 hour', 'x')")
    # the oracle: the owner's view of the old snapshot holds the deleted row
    admin.execute(f"SET townlake.snapshot_id = '{first}'")
    assert rows(admin, "SELECT id, amount FROM crm.ledger ORDER BY id") == [(1, 10), (2, 20), (3, 30)]
    admin.execute("RESET townlake.snapshot_id")
    current = [(1, 10), (2, 20)]
    assert rows(ana, "SELECT id, amount FROM crm_pub.ledger ORDER BY id") == current
    attempts = [
        (f"SET townlake.snapshot_id = '{first}'", "SELECT * FROM crm_pub.ledger"),
        (f"SET townlake.as_of = '{before_delete}'", "SELECT count(*) FROM crm_pub.ledger"),
        ("SELECT 1", f"SELECT set_config('townlake.as_of', '{before_delete}', false), "
                     "(SELECT count(*) FROM crm_pub.ledger)"),
    ]
    for setting, query in attempts:
        ana.execute(setting)
        err = error_of(ana, query)
        assert err.sqlstate == "0A000" and "time travel is not available" in err.diag.message_primary, query
        ana.execute("RESET townlake.snapshot_id; RESET townlake.as_of")
    assert rows(ana, "SELECT id, amount FROM crm_pub.ledger ORDER BY id") == current
