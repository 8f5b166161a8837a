"""Privilege holes of issue 9 (items 1, 2, 3, 5, 7), attacked as a hostile analyst would:
a LOGIN role with at most a read grant and a sandbox schema of its own.

Each test fails against the code before the fix: the maintenance functions
were PUBLIC and checked nothing, elevated catalog SQL resolved operators
through the caller's search_path, orphan removal deleted an open
transaction's files, any role with USAGE on the server could attach any
table (governed ones included), and `lake._privileged` (now lake_internal._privileged) ran internal
operations for anyone.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"sec_ana_{SUFFIX}"      # the attacker: a read grant and a sandbox schema
OWN = f"sec_own_{SUFFIX}"      # owns an Iceberg table of its own
ING = f"sec_ing_{SUFFIX}"      # lake_owner: writes governed raw tables
MNT = f"sec_mnt_{SUFFIX}"      # lake_maintainer
ROLES = [ANA, OWN, ING, MNT]

# Every function in schema lake that PUBLIC may execute, and why that is
# safe. A new PUBLIC function fails test_public_functions_are_reviewed
# until it is added here with its reason.
REVIEWED_PUBLIC = {
    "access_gate": "checks the caller's own access",
    "add_note": "catalog: owners of the relation and stewards, checked inside",
    "annotate": "catalog: owners of the relation and stewards, checked inside",
    "define_term": "catalog: a term's author or stewards, checked inside",
    "delete_page": "catalog: a page's author or stewards, checked inside",
    "entity_details": "security invoker: the caller's own privileges filter every part",
    "export_catalog": "security invoker: writes only what the caller may read",
    "load_catalog": "security invoker: every change goes through the editing functions, which check the caller",
    "link_term": "catalog: owners of the relation and stewards, checked inside",
    "remove_annotation": "catalog: its author, owners of the relation and stewards, checked inside",
    "sample_values": "security invoker: reads the relation with the caller's rights",
    "search_datasets": "security invoker: lists only what the caller may read",
    "set_dataset_owners": "catalog: owners of the relation and stewards, checked inside",
    "set_dataset_tags": "catalog: owners of the relation and stewards, checked inside",
    "set_doc": "catalog: owners of the relation and stewards, checked inside",
    "set_page": "catalog: a page's author or stewards, and edit rights on every linked dataset",
    "unlink_term": "catalog: owners of the relation and stewards, checked inside",
    "allow_attach": "owner-only, checked inside",
    "approve_column": "reviewers only, checked inside",
    "approve_table": "reviewers only, checked inside",
    "classify": "pure classifier on the caller's text",
    "classify_details": "pure classifier on the caller's text",
    "compact": "table owner or lake_maintainer, checked inside",
    "create_table_as": "security invoker: runs the caller's own DDL",
    "current_run_id": "reads the caller's own backend state",
    "backfill": "members of the model's owner only, checked inside; each run executes as the owner",
    "cancel_run": "members of the run's model owner only, checked inside",
    "runs_in_progress": "lists only runs of roles the caller is a member of, checked inside",
    "iceberg_in_progress": "lists only Iceberg writes of roles the caller is a member of (runner or table owner) "
                           "or all with pg_read_all_stats, checked inside",
    "run_period_start": "reads the caller's own backend state",
    "run_period_end": "reads the caller's own backend state",
    "dag": "reads lake.models and lake.runs with the caller's rights (row security)",
    "dag_dot": "reads lake.models and lake.runs with the caller's rights (row security)",
    "define_model": "checks inside: the caller must be a member of the owner (and of an existing model's owner); the SQL is analysed and the target created as the owner",
    "deny_column": "reviewers only, checked inside",
    "deny_table": "reviewers only, checked inside",
    "disable_pii": "the caller's own session",
    "drop_model": "members of the model's owner only, checked inside; the target is dropped as the owner",
    "enable_pii": "checks the caller's pii grants",
    "eval_classifier": "reads a labels table with the caller's rights",
    "eval_classifier_details": "reads a labels table with the caller's rights",
    "expire_snapshots": "table owner or lake_maintainer, checked inside",
    "explain_access": "the caller's own access",
    "govern_schema": "superusers only, checked inside",
    "grant_access": "reviewers only, checked inside",
    "iceberg_fdw_handler": "FDW handler",
    "iceberg_fdw_validator": "FDW validator",
    "load_project": "defines each model through define_model's checks",
    "mask_email": "pure mask",
    "mask_hash_keyed": "pure function of its arguments; the key lives only in lake.mask_key",
    "mask_hash": "pure mask",
    "mask_ip_prefix": "pure mask",
    "mask_last4": "pure mask",
    "mask_null": "pure mask",
    "mask_partial": "pure mask",
    "mask_redact": "pure mask",
    "mask_year": "pure mask",
    "my_access": "the caller's own grants",
    "next_fire_times": "pure function of its arguments",
    "pause_model": "members of the model's owner only, checked inside",
    "pii_classifier_version": "constant",
    "pii_revealed": "the caller's own session state",
    "pii_status": "the caller's own session state",
    "pii_suggestion": "reads lake.pii_columns with the caller's rights",
    "policy_json": "reviewers and auditors, checked inside",
    "remove_orphan_files": "table owner or lake_maintainer, checked inside",
    "request_access": "the caller's own request",
    "resume_model": "members of the model's owner only, checked inside",
    "revoke_access": "reviewers only, checked inside",
    "run_now": "members of every run model's owner only, checked inside; the model runs as its owner",
    "set_mask": "reviewers only, checked inside",
    "set_partitioning": "table owner or lake_maintainer, checked inside",
    "set_row_filter": "reviewers only, checked inside",
    "snapshots": "needs SELECT on the foreign table, checked inside",
    "define_pipeline": "checks inside: the caller must be a member of the owner (and of an existing pipeline's owner); source read and target created as the owner",
    "drop_pipeline": "members of the pipeline's owner only, checked inside; the target is dropped as the owner",
    "pause_pipeline": "members of the pipeline's owner only, checked inside",
    "resume_pipeline": "members of the pipeline's owner only, checked inside",
    "run_pipeline_now": "members of the pipeline's owner only, checked inside; the pipeline runs as its owner",
    "pipeline_watermark": "members of the pipeline's owner only, checked inside; the target is read as the owner",
}

# The only functions in schema lake_internal that PUBLIC may execute: entry
# points that must run as their caller, each checking the caller itself.
REVIEWED_INTERNAL_PUBLIC = {
    "_governance_internal": "reads a backend flag (the event triggers ask it)",
    "_privileged": "dispatches only operations that check the caller themselves",
    "_iceberg_row_visible": "row-security predicate of lake.iceberg_tables; answers a yes/no for a name",
    # the metadata catalog's search and details run as the caller; these
    # helpers read only Postgres' catalogs and privilege checks
    "_catalog_visible": "row-security predicate of the catalog tables: Postgres' own privilege check",
    "_catalog_column_visible": "row-security predicate of the catalog tables: Postgres' own privilege check",
    "_catalog_kind": "names the kind of a relation from pg_class",
    "_catalog_tier": "pure function of a tag list",
    "_catalog_schema_listed": "pure function of a schema name",
    "_catalog_similarity": "pure function of two texts",
    "_catalog_view_edges": "reads pg_rewrite and pg_depend, which every role may read",
    "_catalog_lineage": "security invoker: filters nodes by the caller's privileges",
    "_catalog_lookup": "to_regclass with the caller's search_path",
    "_catalog_resolve": "security invoker: resolves a name among what the caller may read",
    "_catalog_entity": "security invoker: the body of lake.entity_details",
    "_catalog_relation_edges": "security invoker: view edges from pg_rewrite/pg_depend, model edges through row security",
    "_catalog_column_edges": "security invoker: shows only edges whose both ends the caller may read",
    "_catalog_column_lineage": "security invoker: follows _catalog_column_edges",
    "_catalog_produced_by": "security invoker: the caller's column edges; a model's SQL through lake.models' row security",
    "_catalog_view_columns": "analyses a view's definition (which pg_get_viewdef shows anyone) as the caller",
    "_catalog_export": "security invoker: reads the catalog tables through row security and the caller's privileges",
    "_catalog_json_to_yaml": "pure conversion of the caller's value",
    "_catalog_yaml_to_json": "pure conversion of the caller's text",
    "_catalog_yaml_list": "pure function of the caller's value",
    "_catalog_yaml_keys": "pure function of the caller's value",
    "_catalog_view_text": "a view's text (pg_get_viewdef), only when the caller may read every column it reads",
}


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def admin(roles, database):
    with session(database) as conn:
        conn.execute(sql.SQL("GRANT lake_owner TO {}").format(sql.Identifier(ING)))
        conn.execute(sql.SQL("GRANT lake_maintainer TO {}").format(sql.Identifier(MNT)))
        for r in ROLES:
            conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(f"{r}_s"), sql.Identifier(r)))
            conn.execute(sql.SQL("GRANT USAGE ON FOREIGN SERVER lake_local TO {}").format(sql.Identifier(r)))
        conn.execute("CREATE SCHEMA raw_sec")
        conn.execute("SELECT lake.govern_schema('raw_sec', 'pub_sec')")
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA raw_sec TO {}").format(sql.Identifier(ING)))
        yield conn


@pytest.fixture(scope="module")
def owner_table(admin, database):
    """OWN's Iceberg table, readable by ANA through a grant."""
    with session(database, OWN) as own:
        own.execute(f"CREATE FOREIGN TABLE {OWN}_s.sales (id int, email text) SERVER lake_local "
                    f"OPTIONS (namespace 'sec_{SUFFIX}', \"table\" 'sales')")
        for i in range(3):
            own.execute(f"INSERT INTO {OWN}_s.sales SELECT g, 'user' || g || '@example.com' "
                        f"FROM generate_series({i * 10 + 1}, {i * 10 + 10}) g")
        own.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(f"{OWN}_s"), sql.Identifier(ANA)))
        own.execute(sql.SQL("GRANT SELECT ON {}.sales TO {}").format(sql.Identifier(f"{OWN}_s"), sql.Identifier(ANA)))
    return f"{OWN}_s.sales"


@pytest.fixture(scope="module")
def governed_table(admin, database):
    """A governed Iceberg table written by the ingest role; nobody has a grant."""
    with session(database, ING) as ing:
        ing.execute("CREATE FOREIGN TABLE raw_sec.people (id int, email text) SERVER lake_local "
                    f"OPTIONS (namespace 'gov_{SUFFIX}', \"table\" 'people')")
        ing.execute("INSERT INTO raw_sec.people VALUES (1, 'secret-one@corp.com'), (2, 'secret-two@corp.com')")
    return "raw_sec.people"


@pytest.fixture()
def ana(database, admin):
    with session(database, ANA) as conn:
        yield conn


def test_public_functions_are_reviewed(admin):
    public = {r[0] for r in rows(admin, """
        SELECT p.proname FROM pg_proc p
         WHERE p.pronamespace = 'lake'::regnamespace
           AND has_function_privilege('public', p.oid, 'EXECUTE')""")}
    unreviewed = sorted(public - set(REVIEWED_PUBLIC))
    assert not unreviewed, f"functions executable by PUBLIC without review: {unreviewed}"
    internal = {r[0] for r in rows(admin, """
        SELECT p.proname FROM pg_proc p
         WHERE p.pronamespace = 'lake_internal'::regnamespace
           AND has_function_privilege('public', p.oid, 'EXECUTE')""")}
    assert internal == set(REVIEWED_INTERNAL_PUBLIC), \
        f"internal functions executable by PUBLIC: {sorted(internal)}, reviewed: {sorted(REVIEWED_INTERNAL_PUBLIC)}"
    # internal helpers in particular, in either schema
    for name in ("iceberg_foreign_table_created", "scan", "_op_enable_pii", "_gov_publish", "pii_relations",
                 "audit_pending", "_check_row_filter"):
        assert name not in public | internal, name
    # and no internal-looking name is left in the API
    leftovers = [r[0] for r in rows(admin, """
        SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'lake'::regnamespace
           AND (p.proname LIKE '\\_%' OR p.proname LIKE '%\\_by\\_oid')""")]
    assert leftovers == [], leftovers


def plant_operator(conn, schema):
    """`=` operators for (varchar, text) and (name, text) in the attacker's
    schema that record who ran them."""
    conn.execute(f"""
        CREATE TABLE {schema}.ran_as (who text, superuser boolean);
        GRANT INSERT ON {schema}.ran_as TO PUBLIC""")
    for i, left in enumerate(("varchar", "name")):
        conn.execute(f"""
            CREATE FUNCTION {schema}.sneaky_eq{i}({left}, text) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {schema}.ran_as
                    SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;
                RETURN $1::text OPERATOR(pg_catalog.=) $2;
            END $$;
            CREATE OPERATOR {schema}.= (LEFTARG = {left}, RIGHTARG = text, FUNCTION = {schema}.sneaky_eq{i})""")


def test_planted_operator_never_runs_with_elevated_rights(admin, database):
    schema = f"{OWN}_s"
    with session(database, OWN) as own:
        plant_operator(own, schema)
        # the planted operator works for the attacker's own queries (the
        # oracle that it would be picked when names resolve through this path)
        own.execute(f"SET search_path = {schema}, pg_catalog")
        assert one(own, "SELECT 'x'::varchar = 'x'::text") is True
        assert one(own, f"SELECT count(*) FROM {schema}.ran_as") == 1
        own.execute(f"TRUNCATE {schema}.ran_as")
        own.execute(f"CREATE FOREIGN TABLE {schema}.bait (id int) SERVER lake_local "
                    f"OPTIONS (namespace 'bait_{SUFFIX}', \"table\" 'bait')")
        own.execute(f"INSERT INTO {schema}.bait SELECT generate_series(1, 5)")
        own.execute(f"INSERT INTO {schema}.bait SELECT generate_series(6, 9)")
        assert one(own, f"SELECT count(*) FROM {schema}.bait") == 9
        own.execute(f"SELECT lake.set_partitioning('{schema}.bait', 'bucket(2, id)')")
        own.execute(f"SELECT lake.compact('{schema}.bait')")
        own.execute(f"SELECT lake.expire_snapshots('{schema}.bait', now(), 1)")
        own.execute(f"SELECT lake.remove_orphan_files('{schema}.bait', now(), true)")
        own.execute(f"SELECT * FROM lake.snapshots('{schema}.bait')")
        own.execute(f"SELECT lake.my_access()")
        own.execute(f"DELETE FROM {schema}.bait WHERE id OPERATOR(pg_catalog.=) 1")
        own.execute(f"DROP FOREIGN TABLE {schema}.bait")
    elevated = rows(admin, f"SELECT who FROM {schema}.ran_as WHERE superuser OR who <> %s", (OWN,))
    assert elevated == [], f"the planted operator ran as {elevated}"


def test_maintenance_needs_ownership(admin, ana, owner_table, governed_table):
    gov_oid = one(admin, f"SELECT '{governed_table}'::regclass::oid")
    own_oid = one(admin, f"SELECT '{owner_table}'::regclass::oid")
    calls = [
        "SELECT lake.set_partitioning({rel}, 'identity(email)')",
        "SELECT lake.compact({rel})",
        "SELECT lake.expire_snapshots({rel}, now(), 1)",
        "SELECT lake.remove_orphan_files({rel}, now(), true)",
    ]
    snapshots_before = one(admin, f"SELECT count(*) FROM lake.snapshots('{owner_table}')")
    for oid in (gov_oid, own_oid):
        for call in calls:
            err = error_of(ana, call.format(rel=f"{oid}::oid::regclass"))
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), (call, err)
            assert "must own foreign table" in str(err), err
    # a read grant shows snapshots of the table it covers, not of governed raw data
    assert one(ana, f"SELECT count(*) FROM lake.snapshots('{owner_table}')") == snapshots_before
    err = error_of(ana, f"SELECT * FROM lake.snapshots({gov_oid}::oid::regclass)")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert one(admin, f"SELECT count(*) FROM lake.snapshots('{owner_table}')") == snapshots_before


def test_repartition_and_rollback_reveals_nothing(ana, governed_table, admin):
    """Issue 9 item 2: identity-partition every column, compact, roll back,
    list orphan files: the paths would carry every raw value."""
    oid = one(admin, f"SELECT '{governed_table}'::regclass::oid")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with ana.transaction():
            ana.execute(f"SELECT lake.set_partitioning({oid}::oid::regclass, 'identity(email)')")
            ana.execute(f"SELECT lake.compact({oid}::oid::regclass)")
    err = error_of(ana, f"SELECT lake.remove_orphan_files({oid}::oid::regclass, now(), true)::text")
    assert "secret-one" not in str(err)


def test_maintainer_role_and_owner_may_maintain(admin, database, owner_table):
    oid = one(admin, f"SELECT '{owner_table}'::regclass::oid")
    with session(database, MNT) as mnt:
        answer = one(mnt, f"SELECT lake.expire_snapshots({oid}::oid::regclass, now(), 10)")
        assert answer["table"].endswith("sales")
    with session(database, OWN) as own:
        answer = one(own, f"SELECT lake.remove_orphan_files('{owner_table}', now(), true)")
        assert answer["dry_run"] is True


def test_heap_table_gets_a_clear_error(admin):
    admin.execute("CREATE TABLE IF NOT EXISTS public.plain_heap (id int)")
    for call in ("SELECT lake.compact('public.plain_heap')", "SELECT * FROM lake.snapshots('public.plain_heap')",
                 "SELECT lake.expire_snapshots('public.plain_heap')"):
        err = error_of(admin, call)
        assert isinstance(err, psycopg.errors.WrongObjectType), err
        assert "public.plain_heap is not an Iceberg foreign table" in str(err)


def test_orphan_removal_spares_an_open_transactions_files(database, admin):
    """Issue 9 item 3: files of an uncommitted INSERT are not orphans."""
    with session(database, OWN) as own, session(database, OWN) as writer:
        own.execute(f"CREATE FOREIGN TABLE {OWN}_s.race (id int) SERVER lake_local "
                    f"OPTIONS (namespace 'race_{SUFFIX}', \"table\" 'race')")
        own.execute(f"INSERT INTO {OWN}_s.race SELECT generate_series(1, 100)")
        writer.execute("BEGIN")
        writer.execute(f"INSERT INTO {OWN}_s.race SELECT generate_series(101, 1100)")
        # the writer's data file now exists, unreferenced; a cutoff in the
        # future would call it an orphan
        answer = one(own, f"SELECT lake.remove_orphan_files('{OWN}_s.race', now() + interval '1 day', false)")
        writer.execute("COMMIT")
        assert one(own, f"SELECT count(*) FROM {OWN}_s.race") == 1100, answer
        assert one(own, f"SELECT sum(id) FROM {OWN}_s.race") == sum(range(1, 1101))
        # once nothing is open, a truly orphaned file (a rolled-back INSERT) goes
        writer.execute("BEGIN")
        writer.execute(f"INSERT INTO {OWN}_s.race SELECT generate_series(1, 10)")
        writer.execute("ROLLBACK")
        # background workers' short transactions may still be open: wait for
        # them (bounded), never for more than a few seconds
        deadline = time.monotonic() + 10
        while True:
            answer = one(own, f"SELECT lake.remove_orphan_files('{OWN}_s.race', now() + interval '1 day', false)")
            if answer["deleted"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert answer["deleted"] >= 1, answer
        assert one(own, f"SELECT count(*) FROM {OWN}_s.race") == 1100


def test_server_usage_does_not_reach_governed_tables(ana, governed_table, admin):
    """Issue 9 item 5: USAGE on lake_local let an analyst attach a governed table."""
    err = error_of(ana, f"CREATE FOREIGN TABLE {ANA}_s.stolen (id int, email text) SERVER lake_local "
                        f"OPTIONS (namespace 'gov_{SUFFIX}', \"table\" 'people')")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert "is governed" in str(err)
    assert one(admin, f"SELECT to_regclass('{ANA}_s.stolen')") is None
    # IMPORT skips it with a notice instead of attaching it
    ana.execute(f"IMPORT FOREIGN SCHEMA \"gov_{SUFFIX}\" FROM SERVER lake_local INTO {ANA}_s")
    assert one(admin, f"SELECT to_regclass('{ANA}_s.people')") is None
    assert any("is governed" in n for n in ana.notices)
    # the catalog hides governed rows (their metadata locations) from the analyst
    assert one(ana, "SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s",
               (f"gov_{SUFFIX}",)) == 0
    assert one(admin, "SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s",
               (f"gov_{SUFFIX}",)) == 1


def test_attach_after_alter_is_checked_at_scan(ana, governed_table, admin):
    """Creating a harmless table and re-pointing it with ALTER is refused at use."""
    ana.execute(f"CREATE FOREIGN TABLE {ANA}_s.decoy (id int, email text) SERVER lake_local "
                f"OPTIONS (namespace 'decoy_{SUFFIX}', \"table\" 'decoy')")
    err = error_of(ana, f"ALTER FOREIGN TABLE {ANA}_s.decoy OPTIONS (SET namespace 'gov_{SUFFIX}', "
                        "SET \"table\" 'people')")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    err = error_of(ana, f"ALTER TABLE {ANA}_s.decoy OPTIONS (SET namespace 'gov_{SUFFIX}', SET \"table\" 'people')")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    # however the options came to point there (here a superuser edits the
    # catalog, standing for any path DDL checks miss), the scan checks again
    admin.execute(f"UPDATE pg_foreign_table SET ftoptions = ARRAY['namespace=gov_{SUFFIX}', 'table=people'] "
                  f"WHERE ftrelid = '{ANA}_s.decoy'::regclass")
    err = error_of(ana, f"SELECT email FROM {ANA}_s.decoy")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert "secret" not in str(err)
    err = error_of(ana, f"INSERT INTO {ANA}_s.decoy VALUES (3, 'planted@x.com')")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert one(admin, f"SELECT count(*) FROM {governed_table}") == 2


def test_attaching_someone_elses_table_needs_their_permission(ana, owner_table, admin, database):
    ns = f"sec_{SUFFIX}"
    err = error_of(ana, f"CREATE FOREIGN TABLE {ANA}_s.copy (id int, email text) SERVER lake_local "
                        f"OPTIONS (namespace '{ns}', \"table\" 'sales')")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert "belongs to another role" in str(err)
    with session(database, OWN) as own:
        err = error_of(ana, f"SELECT lake.allow_attach('{owner_table}', '{ANA}')")
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        own.execute(f"SELECT lake.allow_attach('{owner_table}', '{ANA}')")
        ana.notices.clear()
        ana.execute(f"CREATE FOREIGN TABLE {ANA}_s.copy (id int, email text) SERVER lake_local "
                    f"OPTIONS (namespace '{ns}', \"table\" 'sales')")
        # Red team: a role squatting a name got another's writes without a sign
        assert any(f"belongs to role {OWN}" in n for n in ana.notices), ana.notices
        assert one(ana, f"SELECT count(*) FROM {ANA}_s.copy") == one(admin, f"SELECT count(*) FROM {owner_table}")
        # Red team: attaching gave the owner's history (rows it deleted, by
        # time travel) and its schema (ALTER of the copy evolved the owner's table)
        first = one(own, f"SELECT snapshot_id FROM lake.snapshots('{owner_table}') ORDER BY committed_at LIMIT 1")
        for setting in (f"SET townlake.iceberg_snapshot_id = '{first}'",
                        "SET townlake.iceberg_as_of = '2000-01-01 00:00:00+00'"):
            ana.execute(setting)
            err = error_of(ana, f"SELECT count(*) FROM {ANA}_s.copy")
            ana.execute("RESET townlake.iceberg_snapshot_id; RESET townlake.iceberg_as_of")
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), (setting, err)
            assert "belongs to another role" in str(err)
        for alter in (f"ALTER FOREIGN TABLE {ANA}_s.copy DROP COLUMN email",
                      f"ALTER FOREIGN TABLE {ANA}_s.copy ADD COLUMN planted text"):
            err = error_of(ana, alter)
            assert isinstance(err, psycopg.errors.InsufficientPrivilege), (alter, err)
        assert one(own, f"SELECT count(email) FROM {owner_table}") == one(admin, f"SELECT count(email) FROM {owner_table}")
        # its owner still travels in time through its own table
        own.execute(f"SET townlake.iceberg_snapshot_id = '{first}'")
        assert one(own, f"SELECT count(*) FROM {owner_table}") >= 0
        own.execute("RESET townlake.iceberg_snapshot_id")
        # dropping the attached copy detaches only: the owner's table stays
        ana.execute(f"DROP FOREIGN TABLE {ANA}_s.copy")
        assert one(admin, f"SELECT count(*) FROM {owner_table}") == 30
        own.execute(f"SELECT lake.allow_attach('{owner_table}', '{ANA}', false)")


@pytest.mark.parametrize("option", ["metadata_location 'file:///etc/passwd'", "owns_table 'true'"])
def test_superuser_only_options(ana, option):
    err = error_of(ana, f"CREATE FOREIGN TABLE {ANA}_s.probe (id int) SERVER lake_local "
                        f"OPTIONS (namespace 'probe_{SUFFIX}', \"table\" 'probe', {option})")
    assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
    assert "only superusers may set option" in str(err)


def test_owns_table_cannot_be_claimed_to_drop_someone_elses_table(admin, database):
    """Item 5: an alias with owns_table dropped someone else's catalog row."""
    with session(database, OWN) as own:
        own.execute(f"CREATE FOREIGN TABLE {OWN}_s.keep (id int) SERVER lake_local "
                    f"OPTIONS (namespace 'keep_{SUFFIX}', \"table\" 'keep')")
        own.execute(f"INSERT INTO {OWN}_s.keep VALUES (1)")
        own.execute(f"SELECT lake.allow_attach('{OWN}_s.keep', '{ANA}')")
    with session(database, ANA) as ana:
        ana.execute(f"CREATE FOREIGN TABLE {ANA}_s.alias (id int) SERVER lake_local "
                    f"OPTIONS (namespace 'keep_{SUFFIX}', \"table\" 'keep')")
        err = error_of(ana, f"ALTER FOREIGN TABLE {ANA}_s.alias OPTIONS (ADD owns_table 'true')")
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        ana.execute(f"DROP FOREIGN TABLE {ANA}_s.alias")
    assert one(admin, "SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s",
               (f"keep_{SUFFIX}",)) == 1
    assert one(admin, f"SELECT count(*) FROM {OWN}_s.keep") == 1


def test_attach_only_never_creates(ana, admin):
    err = error_of(ana, f"CREATE FOREIGN TABLE {ANA}_s.typo (id int) SERVER lake_local "
                        f"OPTIONS (namespace 'sec_{SUFFIX}', \"table\" 'slaes', attach_only 'true')")
    assert isinstance(err, psycopg.errors.UndefinedTable), err
    assert "does not exist" in str(err)
    assert one(admin, "SELECT count(*) FROM lake.iceberg_tables WHERE table_name = 'slaes'") == 0
    # without attach_only a new table is created, and the user is told
    ana.notices.clear()
    ana.execute(f"CREATE FOREIGN TABLE {ANA}_s.fresh (id int) SERVER lake_local "
                f"OPTIONS (namespace 'sec_{SUFFIX}', \"table\" 'fresh')")
    assert any("created Iceberg table" in n for n in ana.notices), ana.notices


@pytest.fixture(scope="module")
def published_people(admin, governed_table):
    """The governed table approved and published with a row filter hiding
    id 2; the analyst granted access."""
    admin.execute(f"SELECT lake.approve_column('{governed_table}', 'id', 'public', NULL, 'ok')")
    admin.execute(f"SELECT lake.approve_column('{governed_table}', 'email', 'internal', NULL, 'ok')")
    admin.execute(f"SELECT lake.set_row_filter('{governed_table}', 'id <> 2')")
    admin.execute(f"SELECT lake.approve_table('{governed_table}', 'ok')")
    admin.execute(f"SELECT lake.grant_access('{ANA}', '{governed_table}', interval '1 hour', 'test')")
    return "pub_sec.people"


def test_explain_of_a_published_iceberg_view_hides_file_counts(admin, database, governed_table, published_people):
    """Issue 9 item 10: "Data Files: N planned" under a row filter told whether
    a hidden row holds a value."""
    with session(database, ANA) as ana:
        assert [r[0] for r in rows(ana, "SELECT email FROM pub_sec.people ORDER BY id")] == ["secret-one@corp.com"]
        for probe in ("secret-two@corp.com", "nobody@corp.com"):
            plan = "\n".join(r[0] for r in rows(
                ana, f"EXPLAIN SELECT * FROM pub_sec.people WHERE email = '{probe}'"))
            assert "Data Files: hidden (governed table)" in plan, plan
            plan = "\n".join(r[0] for r in rows(
                ana, f"EXPLAIN ANALYZE SELECT * FROM pub_sec.people WHERE email = '{probe}'"))
            assert "Rows Read" not in plan and "planned" not in plan, plan
        # the snapshot id changes with writes of hidden rows too (verbose or not)
        snapshot = str(one(admin, "SELECT snapshot_id FROM lake.snapshots(%s) ORDER BY committed_at DESC LIMIT 1",
                           (governed_table,)))
        for explain in ("EXPLAIN", "EXPLAIN VERBOSE", "EXPLAIN (ANALYZE, VERBOSE)"):
            plan = "\n".join(r[0] for r in rows(ana, f"{explain} SELECT * FROM pub_sec.people"))
            assert snapshot not in plan and "Snapshot: hidden (governed table)" in plan, plan
    # the owner of the raw table still sees what the scan pruned, and the snapshot
    with session(database, ING) as ing:
        plan = "\n".join(r[0] for r in rows(ing, f"EXPLAIN SELECT * FROM {governed_table} WHERE id = 1"))
        assert "planned" in plan, plan
        assert f"Snapshot: {snapshot}" in plan, plan


def test_maintenance_of_a_governed_table_is_audited(admin, database, governed_table):
    """Issue 9 item 3: maintenance of governed tables left no trace."""
    with session(database, ING) as ing:
        ing.execute(f"SELECT lake.expire_snapshots('{governed_table}', now() - interval '1 day', 5)")
    deadline = time.monotonic() + 10
    found = []
    while not found and time.monotonic() < deadline:
        found = rows(admin, """SELECT role, detail FROM lake.audit_log
                                WHERE kind = 'iceberg_maintenance' AND detail->>'relation' = %s""",
                     (governed_table,))
        time.sleep(0.1)
    assert found, "no audit record for the maintenance of a governed table"
    role, detail = found[-1]
    assert role == ING and detail["operation"] == "expire_snapshots", found


def test_explain_of_an_aggregate_hides_whether_hidden_rows_match(admin, database, governed_table, published_people):
    """Red team: with file counts hidden, "Aggregate Source: answered from
    metadata" (every file pruned) still told a probe of hidden rows' bounds."""
    with session(database, ANA) as ana:
        plans = []
        # inside the hidden row's bounds, and outside every row's
        for probe in ("secret-two@corp.com", "aaa@corp.com"):
            plan = "\n".join(r[0] for r in rows(
                ana, f"EXPLAIN SELECT count(*) FROM pub_sec.people WHERE email = '{probe}'"))
            plans.append(plan.replace(probe, "<probe>"))
        assert plans[0] == plans[1], plans
        assert "Aggregate Source: hidden (governed table)" in plans[0], plans[0]
    with session(database, ING) as ing:
        plan = "\n".join(r[0] for r in rows(
            ing, f"EXPLAIN SELECT count(*) FROM {governed_table} WHERE email = 'aaa@corp.com'"))
        assert "Aggregate Source: answered from metadata" in plan, plan


def test_a_governed_schema_never_attaches_a_table_squatted_by_another_role(admin, database, ana):
    """Red team: a role with USAGE on the server pre-created the table ingestion
    was about to create in a governed schema, allowed the ingest role to attach
    it, and read everything ingested into it."""
    ns = f"raw_sec_squat_{SUFFIX}"
    ana.execute(f"CREATE FOREIGN TABLE {ANA}_s.newt (id int, secret text) SERVER lake_local "
                f"OPTIONS (namespace '{ns}', \"table\" 'newt')")
    ana.execute(f"SELECT lake.allow_attach('{ANA}_s.newt', '{ING}')")
    with session(database, ING) as ing:
        err = error_of(ing, "CREATE FOREIGN TABLE raw_sec.newt (id int, secret text) SERVER lake_local "
                            f"OPTIONS (namespace '{ns}', \"table\" 'newt')")
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        assert "governed schema cannot attach it" in str(err), err
    assert one(admin, "SELECT to_regclass('raw_sec.newt')") is None
    # outside governance the allowed role may still attach it, as before
    with session(database, ING) as ing:
        ing.execute(f"CREATE FOREIGN TABLE {ING}_s.newt (id int, secret text) SERVER lake_local "
                    f"OPTIONS (namespace '{ns}', \"table\" 'newt')")
        assert one(ing, f"SELECT count(*) FROM {ING}_s.newt") == 0


def test_governing_a_schema_governs_the_iceberg_tables_already_in_it(admin, database):
    """Red team: tables loaded first and governed after (the tour's order) kept
    governed = false: their catalog rows stayed visible and a lake_owner member
    could attach them outside governance and share the raw rows."""
    ns = f"late_{SUFFIX}"
    admin.execute(f"CREATE SCHEMA raw_late_{SUFFIX}")
    admin.execute(f"CREATE FOREIGN TABLE raw_late_{SUFFIX}.t (id int, secret text) SERVER lake_local "
                  f"OPTIONS (namespace '{ns}', \"table\" 't')")
    admin.execute(f"INSERT INTO raw_late_{SUFFIX}.t VALUES (1, 'hidden-1'), (2, 'hidden-2')")
    admin.execute(f"SELECT lake.govern_schema('raw_late_{SUFFIX}', 'pub_late_{SUFFIX}')")
    assert one(admin, "SELECT governed FROM lake.iceberg_table_owners WHERE table_namespace = %s", (ns,)) is True
    assert one(admin, f"SELECT count(*) FROM raw_late_{SUFFIX}.t") == 2
    with session(database, ANA) as ana:
        assert one(ana, "SELECT count(*) FROM lake.iceberg_tables WHERE table_namespace = %s", (ns,)) == 0
    with session(database, ING) as ing:   # a lake_owner member, outside governance
        err = error_of(ing, f"CREATE FOREIGN TABLE {ING}_s.leak (id int, secret text) SERVER lake_local "
                            f"OPTIONS (namespace '{ns}', \"table\" 't')")
        assert isinstance(err, psycopg.errors.InsufficientPrivilege), err
        assert "is governed" in str(err), err


def _laughs() -> str:
    """Nine levels of ten aliases each: 10^9 nodes once expanded."""
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 10):
        text += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n"
    return text


@pytest.mark.parametrize("call, text", [
    ("SELECT lake.load_catalog(%s)", "- " * 50_000 + "x"),
    ("SELECT lake.load_project(%s, 'p.yml')", "- " * 50_000 + "x"),
    ("SELECT lake.load_project(%s, 'p.yml')", "".join(" " * i + "-\n" for i in range(3_000))),
    ("SELECT lake.load_catalog(%s)", _laughs()),
], ids=["catalog-deep", "project-deep", "project-indented", "catalog-aliases"])
def test_hostile_yaml_is_refused_without_harming_the_server(ana, call, text):
    """Red team: a YAML line 50,000 levels deep overflowed the backend's stack
    (the postmaster restarted every session); aliases can expand a document a
    billionfold."""
    err = error_of(ana, call, (text,))
    assert not isinstance(err, psycopg.OperationalError), err
    assert "deeper than" in str(err) or "expands to more than" in str(err), err
    assert one(ana, "SELECT 1") == 1


def test_no_role_can_keep_the_pii_scanner_off_a_relation(admin, database, ana, governed_table):
    """Red team: the scan took an advisory key any role could hold first; the
    worker skipped the relation and lake.scan waited forever."""
    oid = one(admin, f"SELECT '{governed_table}'::regclass::oid")
    ana.execute("SELECT pg_advisory_lock(%s)", (0x746C_7069_0000_0000 + oid,))
    ana.execute("SELECT pg_advisory_lock(%s)", (0x746C_7069_6900,))
    try:
        with session(database) as reviewer:
            reviewer.execute("SET statement_timeout = '60s'")
            assert one(reviewer, f"SELECT count(*) FROM lake.scan('{governed_table}')") == 1
    finally:
        ana.execute("SELECT pg_advisory_unlock_all()")


def test_attaching_is_not_owning(admin, database, owner_table):
    """Red team: a role allowed to attach a table could expire its owner's
    snapshots, re-partition it and remove its files."""
    ns = f"sec_{SUFFIX}"
    with session(database, OWN) as own:
        own.execute(f"SELECT lake.allow_attach('{owner_table}', '{ANA}')")
    try:
        with session(database, ANA) as ana:
            ana.execute(f"CREATE FOREIGN TABLE {ANA}_s.attached (id int, email text) SERVER lake_local "
                        f"OPTIONS (namespace '{ns}', \"table\" 'sales')")
            snapshots = one(admin, f"SELECT count(*) FROM lake.snapshots('{owner_table}')")
            for call in ("SELECT lake.set_partitioning('{rel}', 'identity(email)')",
                         "SELECT lake.expire_snapshots('{rel}', now(), 1)",
                         "SELECT lake.remove_orphan_files('{rel}', now(), true)",
                         "SELECT lake.compact('{rel}')"):
                err = error_of(ana, call.format(rel=f"{ANA}_s.attached"))
                assert isinstance(err, psycopg.errors.InsufficientPrivilege), (call, err)
                assert "belongs to another role" in str(err), err
            assert one(admin, f"SELECT count(*) FROM lake.snapshots('{owner_table}')") == snapshots
            # reading it is what attaching is for
            assert one(ana, f"SELECT count(*) FROM {ANA}_s.attached") == one(admin, f"SELECT count(*) FROM {owner_table}")
            ana.execute(f"DROP FOREIGN TABLE {ANA}_s.attached")
    finally:
        with session(database, OWN) as own:
            own.execute(f"SELECT lake.allow_attach('{owner_table}', '{ANA}', false)")


@pytest.mark.parametrize("op", ["sync", "dropped"])
def test_no_role_can_republish_a_governed_relation_and_hold_its_lock(admin, database, governed_table, published_people, op):
    """Red team: any role could call lake_internal._privileged('sync' or
    'dropped') with a governed relation's oid; governance republished it as
    the superuser, and the caller's transaction then held the published
    view's ACCESS EXCLUSIVE lock for as long as it stayed open: nobody could
    read the view. A role without any grant did it, too."""
    oid = one(admin, f"SELECT '{governed_table}'::regclass::oid")
    view_xmin = one(admin, f"SELECT xmin::text FROM pg_class WHERE oid = '{published_people}'::regclass")
    with session(database, OWN) as stranger:        # holds no grant on the governed table
        stranger.execute("BEGIN")
        try:
            stranger.execute("SELECT lake_internal._privileged(%s, jsonb_build_object('relids', jsonb_build_array(%s::bigint)))",
                             (op, oid))
            refused = None
        except psycopg.Error as e:
            refused = e
        try:
            with session(database) as reader:
                reader.execute("SET lock_timeout = '2s'")
                assert one(reader, f"SELECT count(*) FROM {published_people}") == 1
        finally:
            stranger.execute("ROLLBACK")
        assert refused is not None and "event trigger" in str(refused), refused
    assert one(admin, f"SELECT xmin::text FROM pg_class WHERE oid = '{published_people}'::regclass") == view_xmin
    # the capture triggers still keep governance in step with DDL
    with session(database, ING) as ing:
        ing.execute(f"ALTER FOREIGN TABLE {governed_table} ADD COLUMN note_{op} text")
    assert one(admin, "SELECT state FROM lake.governed_columns WHERE relid = %s AND column_name = %s",
               (oid, f"note_{op}")) == "pending"
    with session(database, ING) as ing:
        ing.execute(f"ALTER FOREIGN TABLE {governed_table} DROP COLUMN note_{op}")
    assert one(admin, "SELECT count(*) FROM lake.governed_columns WHERE relid = %s AND column_name = %s",
               (oid, f"note_{op}")) == 0
