"""A model's or pipeline's SQL runs as its owner and nothing it does
outlives the run with other rights (issue 14, and principle 7 of DESIGN.md):
these are the attacks of a hostile analyst who may define models, each of
which once worked.

- deferred triggers queued by the owner's statements fired at COMMIT as the
  scheduler's superuser (and as the caller of run_now);
- settings changed by the owner's functions leaked into the scheduler's
  later runs of other roles, and into run_now's caller's session;
- a cursor WITH HOLD would be run again at COMMIT as whoever commits;
- an advisory lock on the scheduler's key kept every scheduler away;
- a model could name another role's table (or townlake's own) as its target;
- depends_on told whether a hidden model exists, and another role's
  downstream model made run_now(…, with_downstream) fail;
- a catalog page listed datasets the reader may not see.

Expected values are what Postgres itself says about the roles involved
(pg_roles, current_setting in the admin's own session), not townlake's output.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session
from govhelpers import wait_until as wait_for

SUFFIX = uuid.uuid4().hex[:6]
ALICE = f"iso_alice_{SUFFIX}"  # hostile analyst: her sandbox schema, SELECT on src.orders
BOB = f"iso_bob_{SUFFIX}"      # another analyst, the victim
ROLES = [ALICE, BOB]
A_S, B_S = f"{ALICE}_s", f"{BOB}_s"



@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def admin(roles, database):
    with session(database) as conn:
        conn.execute("CREATE SCHEMA src")
        conn.execute("CREATE TABLE src.orders (id int, amount int)")
        conn.execute("INSERT INTO src.orders SELECT g, g % 7 FROM generate_series(1, 50) g")
        conn.execute("CREATE SCHEMA secret")
        conn.execute("CREATE TABLE secret.salaries (who text, pay int)")
        for r in ROLES:
            conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(f"{r}_s"), sql.Identifier(r)))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA src TO {}").format(sql.Identifier(r)))
            conn.execute(sql.SQL("GRANT SELECT ON src.orders TO {}").format(sql.Identifier(r)))
        yield conn
        for (name,) in rows(conn, "SELECT name FROM lake.models"):
            conn.execute("SELECT lake.drop_model(%s)", (name,))


@pytest.fixture(scope="module")
def alice(admin, database):
    with session(database, ALICE) as conn:
        yield conn


@pytest.fixture(scope="module")
def bob(admin, database):
    with session(database, BOB) as conn:
        yield conn


def is_superuser(admin, role):
    return one(admin, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,))


def plant_commit_trigger(alice, table):
    """A deferred constraint trigger on alice's own table that records who it
    runs as and, if that is anyone else, tries to make her a superuser."""
    alice.execute(f"CREATE TABLE {A_S}.proof (current_u text, session_u text)")
    alice.execute(f"CREATE TABLE {A_S}.{table} (v int)")
    alice.execute(f"""
        CREATE FUNCTION {A_S}.at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {A_S}.proof VALUES (current_user, session_user);
            IF current_user <> '{ALICE}' THEN
                EXECUTE 'ALTER ROLE {ALICE} SUPERUSER';
            END IF;
            RETURN NULL;
        END $$""")
    alice.execute(f"CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON {A_S}.{table} "
                  f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {A_S}.at_commit()")


def test_deferred_trigger_fires_as_the_owner_in_the_scheduler_and_in_run_now(admin, alice):
    plant_commit_trigger(alice, "sink")
    # The table is alice's: a model may write into it (incremental keeps it).
    alice.execute(f"SELECT lake.define_model('iso_deferred', 'SELECT 1 AS v', '{A_S}.sink', "
                  "materialization => 'incremental', schedule => 'every 2 seconds')")
    got = wait_for(admin, f"SELECT current_u, session_u FROM {A_S}.proof", lambda r: len(r) >= 1)
    admin.execute("SELECT lake.pause_model('iso_deferred')")
    assert got, rows(admin, "SELECT status, error_message FROM lake.runs WHERE model = 'iso_deferred'")
    assert {r[0] for r in got} == {ALICE}
    assert is_superuser(admin, ALICE) is False
    # A superuser's run_now: the trigger still fires as alice, before run_now returns.
    admin.execute(f"DELETE FROM {A_S}.proof")
    admin.execute("BEGIN")
    admin.execute("SELECT lake.run_now('iso_deferred')")
    inside = rows(admin, f"SELECT current_u FROM {A_S}.proof")
    admin.execute("COMMIT")
    assert inside == [(ALICE,)]
    assert rows(admin, f"SELECT current_u FROM {A_S}.proof") == [(ALICE,)]
    assert is_superuser(admin, ALICE) is False
    assert one(admin, "SELECT status FROM lake.runs WHERE model = 'iso_deferred' ORDER BY run_id DESC LIMIT 1") == "succeeded"


def test_a_trigger_that_defers_again_fails_the_run(admin, alice):
    """A trigger fired as the owner defers constraints again and queues
    another event, for COMMIT: Postgres refuses that in a security-restricted
    operation, and the run fails with nothing written."""
    alice.execute(f"CREATE TABLE {A_S}.proof2 (current_u text)")
    alice.execute(f"CREATE TABLE {A_S}.stage2 (v int)")
    alice.execute(f"CREATE TABLE {A_S}.sink2 (v int)")
    alice.execute(f"""
        CREATE FUNCTION {A_S}.record2() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {A_S}.proof2 VALUES (current_user);
            RETURN NULL;
        END $$""")
    alice.execute(f"""
        CREATE FUNCTION {A_S}.redefer() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SET CONSTRAINTS ALL DEFERRED;
            INSERT INTO {A_S}.stage2 VALUES (1);
            RETURN NULL;
        END $$""")
    alice.execute(f"CREATE CONSTRAINT TRIGGER redefer AFTER INSERT ON {A_S}.sink2 "
                  f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {A_S}.redefer()")
    alice.execute(f"CREATE CONSTRAINT TRIGGER record2 AFTER INSERT ON {A_S}.stage2 "
                  f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {A_S}.record2()")
    alice.execute(f"SELECT lake.define_model('iso_redefer', 'SELECT 1 AS v', '{A_S}.sink2', "
                  "materialization => 'incremental')")
    admin.execute("SELECT lake.run_now('iso_redefer')")
    status, message = rows(admin, "SELECT status, error_message FROM lake.runs WHERE model = 'iso_redefer' "
                                  "ORDER BY run_id DESC LIMIT 1")[0]
    assert status == "failed" and "cannot fire deferred trigger within security-restricted operation" in message
    assert rows(admin, f"SELECT current_u FROM {A_S}.proof2") == []
    assert rows(admin, f"SELECT v FROM {A_S}.sink2") == []
    assert is_superuser(admin, ALICE) is False


def test_settings_changed_by_a_run_do_not_leak(admin, alice, bob):
    alice.execute(f"""
        CREATE FUNCTION {A_S}.poison() RETURNS int LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_catalog.set_config('TimeZone', 'Asia/Kathmandu', false);
            PERFORM pg_catalog.set_config('search_path', '{A_S}, pg_catalog', false);
            PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false);
            RETURN 1;
        END $$""")
    alice.execute(f"SELECT lake.define_model('iso_poison', 'SELECT {A_S}.poison() AS v', '{A_S}.poisoned', "
                  "schedule => 'every 2 seconds')")
    # bob's model records the settings it sees in the same scheduler.
    bob.execute(f"SELECT lake.define_model('iso_victim', 'SELECT pg_catalog.current_setting(''TimeZone'') AS tz, "
                f"pg_catalog.current_setting(''transaction_read_only'') AS ro', '{B_S}.seen', "
                "materialization => 'incremental', schedule => 'every 2 seconds')")
    # Both ran at least three times after the poison first succeeded.
    got = wait_for(bob, f"SELECT count(*) FROM {B_S}.seen", lambda r: r[0][0] >= 3, timeout=40)
    poisoned = one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'iso_poison' AND status = 'succeeded'")
    admin.execute("SELECT lake.pause_model('iso_poison'); SELECT lake.pause_model('iso_victim')")
    assert got[0][0] >= 3 and poisoned >= 1
    seen = rows(admin, f"SELECT DISTINCT tz, ro FROM {B_S}.seen")
    assert all(tz != "Asia/Kathmandu" and ro == "off" for tz, ro in seen), seen
    # run_now by a superuser: the session's own settings are untouched after.
    before = rows(admin, "SELECT current_setting('TimeZone'), current_setting('search_path'), "
                         "current_setting('default_transaction_read_only')")
    admin.execute("SELECT lake.run_now('iso_poison')")
    after = rows(admin, "SELECT current_setting('TimeZone'), current_setting('search_path'), "
                        "current_setting('default_transaction_read_only')")
    assert after == before


def test_cursor_with_hold_is_refused_in_a_run(admin, alice):
    alice.execute(f"""
        CREATE FUNCTION {A_S}.hold() RETURNS int LANGUAGE plpgsql AS $$
        BEGIN
            EXECUTE 'DECLARE c CURSOR WITH HOLD FOR SELECT 1';
            RETURN 1;
        END $$""")
    alice.execute(f"SELECT lake.define_model('iso_hold', 'SELECT {A_S}.hold() AS v', '{A_S}.held')")
    alice.execute("SELECT lake.run_now('iso_hold')")
    status, message = rows(admin, "SELECT status, error_message FROM lake.runs WHERE model = 'iso_hold' "
                                  "ORDER BY run_id DESC LIMIT 1")[0]
    assert status == "failed"
    assert "WITH HOLD" in message and "security-restricted" in message


def test_an_advisory_lock_does_not_keep_the_scheduler_away(admin, alice, database):
    # Every scheduler of this database leaves once no model is scheduled; the
    # analyst holds the key the scheduler once locked (tlschd) meanwhile.
    alice.execute("SELECT pg_advisory_lock(%s)", (0x746C_7363_6864,))
    try:
        alice.execute(f"CREATE TABLE {A_S}.ticks (v int)")
        alice.execute(f"SELECT lake.define_model('iso_ticks', 'SELECT 1 AS v', '{A_S}.ticks', "
                      "materialization => 'incremental', schedule => 'every 2 seconds')")
        got = wait_for(admin, f"SELECT count(*) FROM {A_S}.ticks", lambda r: r[0][0] >= 2, timeout=30)
        assert got[0][0] >= 2, rows(admin, "SELECT pid, backend_type, query FROM pg_stat_activity "
                                           "WHERE datname = current_database()")
    finally:
        admin.execute("SELECT lake.pause_model('iso_ticks')")
        alice.execute("SELECT pg_advisory_unlock_all()")


def test_a_model_that_never_ends_does_not_stop_other_roles_models(admin, alice, bob):
    """Red team: the scheduler ran every due model in its own process, one
    after the other, so alice's scheduled `SELECT pg_sleep(...)` (no timeout)
    kept every other role's scheduled models from running at all."""
    alice.execute(f"SELECT lake.define_model('iso_forever', 'SELECT 1 AS v FROM pg_sleep(3600)', '{A_S}.forever', "
                  "schedule => 'every 1 seconds')")
    try:
        wait_for(admin, "SELECT count(*) FROM lake.runs WHERE model = 'iso_forever' AND status = 'running'",
                 lambda r: r[0][0] == 1, timeout=15)
        bob.execute(f"SELECT lake.define_model('iso_punctual', 'SELECT now() AS at', '{B_S}.punctual', "
                    "schedule => 'every 1 seconds')")
        got = wait_for(admin, "SELECT count(*) FROM lake.runs WHERE model = 'iso_punctual' AND status = 'succeeded'",
                       lambda r: r[0][0] >= 2, timeout=20)
        assert got[0][0] >= 2, rows(admin, "SELECT model, status, started_at FROM lake.runs ORDER BY run_id")
        # alice's next ticks wait for her own run (overlap skip), one run at a time
        assert one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'iso_forever' AND status = 'running'") == 1
    finally:
        for model in ("iso_forever", "iso_punctual"):
            admin.execute("SELECT lake.pause_model(%s)", (model,))
        for (run_id,) in rows(admin, "SELECT run_id FROM lake.runs WHERE model = 'iso_forever' AND status = 'running'"):
            admin.execute("SELECT lake.cancel_run(%s)", (run_id,))
        wait_for(admin, "SELECT count(*) FROM lake.runs WHERE model = 'iso_forever' AND status = 'running'",
                 lambda r: r[0][0] == 0, timeout=15)


def test_a_model_writes_only_into_its_owners_relations(admin, alice, bob):
    bob.execute(f"CREATE TABLE {B_S}.important (v int)")
    bob.execute(f"INSERT INTO {B_S}.important VALUES (42)")
    bob.execute(f"GRANT SELECT, INSERT, TRUNCATE ON {B_S}.important TO {ALICE}")
    bob.execute(f"GRANT USAGE ON SCHEMA {B_S} TO {ALICE}")
    e = error_of(alice, f"SELECT lake.define_model('iso_squat', 'SELECT 1 AS v', '{B_S}.important')")
    assert e.sqlstate == "42501" and "not owned by" in str(e)
    assert rows(admin, f"SELECT v FROM {B_S}.important") == [(42,)]
    for target in ("lake.runs", "lake_internal.anything", "pg_catalog.pg_class"):
        e = error_of(alice, f"SELECT lake.define_model('iso_cat', 'SELECT 1 AS v', '{target}')")
        assert e.sqlstate == "42501" and "belongs to townlake or the system" in str(e), target
    # A pipeline's target is taken for models too.
    bob.execute(f"CREATE TABLE {B_S}.copied (id int, amount int)")
    bob.execute(f"SELECT lake.define_pipeline('iso_pipe', 'src.orders', '{B_S}.copied', 'replace')")
    e = error_of(bob, f"SELECT lake.define_model('iso_over_pipe', 'SELECT 1 AS id, 2 AS amount', '{B_S}.copied')")
    assert "already written by pipeline iso_pipe" in str(e)
    bob.execute("SELECT lake.drop_pipeline('iso_pipe')")
    assert one(admin, "SELECT count(*) FROM lake.models WHERE name IN ('iso_squat', 'iso_cat', 'iso_over_pipe')") == 0


def test_depends_on_sees_only_visible_models_and_downstream_of_others_is_left_out(admin, alice, bob):
    bob.execute(f"SELECT lake.define_model('iso_payroll', 'SELECT id FROM src.orders', '{B_S}.payroll')")
    hidden = error_of(alice, f"SELECT lake.define_model('iso_probe', 'SELECT 1 AS v', '{A_S}.probe', "
                             "depends_on => '{iso_payroll}')")
    missing = error_of(alice, f"SELECT lake.define_model('iso_probe', 'SELECT 1 AS v', '{A_S}.probe', "
                              "depends_on => '{iso_no_such_model}')")
    assert hidden.sqlstate == missing.sqlstate == "42704"
    assert str(hidden).replace("iso_payroll", "X") == str(missing).replace("iso_no_such_model", "X")
    # alice reads bob's target (he lets her): her model is downstream of his.
    bob.execute(f"GRANT USAGE ON SCHEMA {B_S} TO {ALICE}; GRANT SELECT ON {B_S}.payroll TO {ALICE}")
    alice.execute(f"SELECT lake.define_model('iso_reader', 'SELECT count(*) AS n FROM {B_S}.payroll', '{A_S}.reader')")
    run_id = one(bob, "SELECT lake.run_now('iso_payroll', with_downstream => true)")
    assert one(admin, "SELECT status FROM lake.runs WHERE run_id = %s", (run_id,)) == "succeeded"
    assert one(admin, "SELECT count(*) FROM lake.runs WHERE model = 'iso_reader'") == 0


def test_catalog_pages_naming_hidden_datasets_are_hidden(admin, alice):
    admin.execute("SELECT lake.set_page('iso-payroll-notes', 'How pay is computed', 'Payroll', "
                  "datasets => ARRAY['secret.salaries']::regclass[])")
    admin.execute("SELECT lake.set_page('iso-orders-notes', 'About orders', 'Orders', "
                  "datasets => ARRAY['src.orders']::regclass[])")
    names = {r[0] for r in rows(alice, "SELECT name FROM lake.catalog_pages WHERE name LIKE 'iso-%'")}
    assert names == {"iso-orders-notes"}
    assert {r[0] for r in rows(admin, "SELECT name FROM lake.catalog_pages WHERE name LIKE 'iso-%'")} == \
        {"iso-payroll-notes", "iso-orders-notes"}


def test_errors_name_no_superuser_and_alice_stays_unprivileged(admin):
    # After everything above: alice gained nothing.
    assert is_superuser(admin, ALICE) is False
    assert one(admin, "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
                      "WHERE r.rolname = %s", (ALICE,)) == 0


def test_a_member_without_set_role_cannot_act_as_the_role(admin, alice):
    """Red team (fourth pass): from PostgreSQL 16 a membership granted WITH SET
    FALSE, INHERIT FALSE gives neither SET ROLE nor the role's privileges,
    but townlake let such a member define a model owned by the role and so
    run SQL with the role's rights."""
    if int(one(admin, "SHOW server_version_num")) < 160000:
        pytest.skip("the SET option of a role membership exists from PostgreSQL 16")
    team = f"iso_team_{SUFFIX}"
    admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(team)))
    try:
        admin.execute(sql.SQL("CREATE TABLE secret.team_pay (who text, pay int)"))
        admin.execute("INSERT INTO secret.team_pay VALUES ('ceo', 999)")
        admin.execute(sql.SQL("GRANT USAGE ON SCHEMA secret TO {}").format(sql.Identifier(team)))
        admin.execute(sql.SQL("ALTER TABLE secret.team_pay OWNER TO {}").format(sql.Identifier(team)))
        admin.execute(sql.SQL("GRANT CREATE ON SCHEMA {} TO {}").format(sql.Identifier(A_S), sql.Identifier(team)))
        admin.execute(sql.SQL("GRANT {} TO {} WITH INHERIT FALSE, SET FALSE").format(
            sql.Identifier(team), sql.Identifier(ALICE)))
        # Postgres' own answer: alice may neither become the role nor use its rights
        err = error_of(alice, sql.SQL("SET ROLE {}").format(sql.Identifier(team)).as_string(alice))
        assert err is not None and err.sqlstate == "42501", err
        err = error_of(alice, "SELECT * FROM secret.team_pay")
        assert err is not None and err.sqlstate == "42501", err
        for call, args in (
            ("SELECT lake.define_model(%s, %s, %s, owner => %s)",
             (f"team_pay_{SUFFIX}", "SELECT who, pay FROM secret.team_pay", f"{A_S}.team_pay_copy", team)),
            ("SELECT lake.define_pipeline(%s, %s, %s, owner => %s, target_server => NULL)",
             (f"team_pipe_{SUFFIX}", "secret.team_pay", f"{A_S}.team_pay_pipe", team)),
        ):
            err = error_of(alice, call, args)
            assert err is not None and err.sqlstate == "42501", (call, err)
        assert one(admin, "SELECT count(*) FROM lake.models WHERE name = %s", (f"team_pay_{SUFFIX}",)) == 0
        assert one(admin, "SELECT count(*) FROM lake.pipelines WHERE name = %s", (f"team_pipe_{SUFFIX}",)) == 0
        assert one(admin, "SELECT to_regclass(%s)", (f"{A_S}.team_pay_copy",)) is None
    finally:
        for name in (f"team_pay_{SUFFIX}",):
            if one(admin, "SELECT count(*) FROM lake.models WHERE name = %s", (name,)):
                admin.execute("SELECT lake.drop_model(%s, drop_target => true)", (name,))
        if one(admin, "SELECT count(*) FROM lake.pipelines WHERE name = %s", (f"team_pipe_{SUFFIX}",)):
            admin.execute("SELECT lake.drop_pipeline(%s, drop_target => true)", (f"team_pipe_{SUFFIX}",))
        admin.execute("DROP TABLE IF EXISTS secret.team_pay")
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(team)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(team)))


def test_a_member_without_set_role_does_not_see_the_roles_models_runs_and_pipelines(admin, alice, bob):
    """Red team (fourth pass, left then, fixed now): row security of
    lake.models, lake.runs and lake.pipelines asked pg_has_role(…, 'MEMBER'),
    so from PostgreSQL 16 a member granted WITH SET FALSE, who may not act as
    the role, still read its model SQL, pipeline sources and run errors.
    What a reader may see is Postgres' own answer to "may this reader SET ROLE
    to the owner" (on PostgreSQL 15 every member may)."""
    team = f"iso_vis_{SUFFIX}"
    model, pipe = f"vis_model_{SUFFIX}", f"vis_pipe_{SUFFIX}"
    admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(team)))
    try:
        admin.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(team), sql.Identifier(team)))
        admin.execute(sql.SQL("GRANT USAGE ON SCHEMA src TO {}").format(sql.Identifier(team)))
        admin.execute(sql.SQL("GRANT SELECT ON src.orders TO {}").format(sql.Identifier(team)))
        admin.execute("SELECT lake.define_model(%s, %s, %s, owner => %s)",
                      (model, "SELECT id, amount FROM src.orders", f"{team}.orders_copy", team))
        admin.execute("SELECT lake.define_pipeline(%s, %s, %s, owner => %s, target_server => NULL)",
                      (pipe, "src.orders", f"{team}.orders_pipe", team))
        run_id = one(admin, "SELECT lake.run_now(%s)", (model,))
        wait_for(admin, "SELECT ended_at FROM lake.runs WHERE run_id = %s", lambda r: r and r[0][0] is not None,
                 params=(run_id,))
        version = int(one(admin, "SHOW server_version_num"))
        if version >= 160000:
            admin.execute(sql.SQL("GRANT {} TO {} WITH INHERIT TRUE, SET FALSE").format(
                sql.Identifier(team), sql.Identifier(ALICE)))
        else:
            admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(team), sql.Identifier(ALICE)))
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(team), sql.Identifier(BOB)))
        for reader, name in ((alice, ALICE), (bob, BOB)):
            # the oracle: Postgres' own SET ROLE check, asked as the reader
            try:
                reader.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(team)))
                may_act = True
            except psycopg.Error:
                may_act = False
            reader.execute("RESET ROLE")
            assert may_act == (name == BOB or version < 160000), name
            expected = 1 if may_act else 0
            assert one(reader, "SELECT count(*) FROM lake.models WHERE name = %s", (model,)) == expected, name
            assert one(reader, "SELECT count(*) FROM lake.model_dependencies WHERE model = %s", (model,)) == \
                (one(admin, "SELECT count(*) FROM lake.model_dependencies WHERE model = %s", (model,)) if may_act else 0), name
            assert one(reader, "SELECT count(*) FROM lake.runs WHERE model = %s", (model,)) == \
                (one(admin, "SELECT count(*) FROM lake.runs WHERE model = %s", (model,)) if may_act else 0), name
            assert one(reader, "SELECT count(*) FROM lake.pipelines WHERE name = %s", (pipe,)) == expected, name
        assert one(admin, "SELECT count(*) FROM lake.runs WHERE model = %s", (model,)) >= 1
    finally:
        if one(admin, "SELECT count(*) FROM lake.models WHERE name = %s", (model,)):
            admin.execute("SELECT lake.drop_model(%s, drop_target => true)", (model,))
        if one(admin, "SELECT count(*) FROM lake.pipelines WHERE name = %s", (pipe,)):
            admin.execute("SELECT lake.drop_pipeline(%s, drop_target => true)", (pipe,))
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(team)))
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(team)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(team)))
