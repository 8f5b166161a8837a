"""The audit log (issue 4): every statement on governed data is recorded, also
after ROLLBACK, after an ERROR and when the backend is terminated; the hash
chain exposes edited and deleted records; only auditors read it."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from psycopg import sql

from conftest import PG_HOST, PG_PORT
from govhelpers import error_of, one, recreate_roles, rows, start_sleeping_statement

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"ga_ana_{SUFFIX}"
AUD = f"ga_aud_{SUFFIX}"
ROLES = [ANA, AUD]


def session(database: str, role: str | None = None) -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=role or "postgres", dbname=database,
                           autocommit=True, options="-c TimeZone=UTC")


def wait_for_record(conn, marker: str, timeout: float = 15.0) -> list[tuple]:
    """Audit rows whose statement text contains `marker`, once present."""
    deadline = time.time() + timeout
    while True:
        got = rows(conn, "SELECT role, outcome, rows, relations, columns, pii_revealed, kind, query_text "
                         "FROM lake.audit_log WHERE query_text LIKE %s ORDER BY id", (f"%{marker}%",))
        if got or time.time() > deadline:
            return got
        time.sleep(0.1)


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def gov(roles, database):
    with session(database) as admin:
        admin.execute(sql.SQL("GRANT lake_auditor TO {}").format(sql.Identifier(AUD)))
        admin.execute("""
            CREATE SCHEMA ledger;
            CREATE TABLE ledger.payments (id int, payer_email text, amount numeric);
            INSERT INTO ledger.payments SELECT g, 'payer' || g || '@bank.example', g * 10 FROM generate_series(1, 50) g;
            SELECT lake.govern_schema('ledger', 'ledger_pub');
            SELECT lake.approve_column('ledger.payments', 'id', 'public');
            SELECT lake.approve_column('ledger.payments', 'payer_email', 'pii');
            SELECT lake.approve_column('ledger.payments', 'amount', 'internal');
            SELECT lake.approve_table('ledger.payments', 'payments');
        """)
        admin.execute(f"SELECT lake.grant_access('{ANA}', 'ledger.payments', '1 hour', 'audit tests')")
        admin.execute(f"SELECT lake.grant_access('{ANA}', 'ledger.payments', '1 hour', 'audit tests', 'pii')")
        yield database


@pytest.fixture
def admin(gov):
    with session(gov) as c:
        yield c


@pytest.fixture
def ana(gov):
    with session(gov, ANA) as c:
        yield c


def test_statement_is_recorded_with_role_columns_and_rows(admin, ana):
    ana.execute("SELECT id, amount FROM ledger_pub.payments WHERE id <= 3 /* m-basic */").fetchall()
    got = wait_for_record(admin, "m-basic")
    assert len(got) == 1
    role, outcome, nrows, relations, columns, pii, kind, _ = got[0]
    assert (role, outcome, nrows, kind, pii) == (ANA, "ok", 3, "statement", False)
    assert relations == ["ledger.payments"]
    assert set(columns) >= {"ledger.payments.id", "ledger.payments.amount"}
    assert "ledger.payments.payer_email" not in columns


def test_record_survives_rollback(admin, ana):
    with pytest.raises(psycopg.errors.RaiseException):
        with ana.transaction():
            ana.execute("SELECT count(*) FROM ledger_pub.payments /* m-rollback */").fetchall()
            ana.execute("DO $$ BEGIN RAISE EXCEPTION 'roll it back'; END $$")
    with ana.transaction(force_rollback=True):
        ana.execute("SELECT payer_email FROM ledger_pub.payments /* m-rollback2 */").fetchall()
    assert [r[1] for r in wait_for_record(admin, "m-rollback ")] == ["ok"]
    assert [r[1] for r in wait_for_record(admin, "m-rollback2")] == ["ok"]


def test_record_survives_error_in_the_statement(admin, ana):
    err = error_of(ana, "SELECT 100 / (amount - 250) FROM ledger_pub.payments /* m-error */")
    assert isinstance(err, psycopg.errors.DivisionByZero)
    got = wait_for_record(admin, "m-error")
    assert [r[1] for r in got] == ["error"]
    # an error caught inside PL/pgSQL is recorded too
    ana.execute("""DO $$ BEGIN
                     PERFORM 100 / (amount - 250), 'm-caught' FROM ledger_pub.payments;
                   EXCEPTION WHEN division_by_zero THEN NULL; END $$""")
    assert "error" in [r[1] for r in wait_for_record(admin, "m-caught")]


def test_denied_reads_are_recorded(admin, gov):
    with session(gov, AUD) as outsider:
        err = error_of(outsider, "SELECT * FROM ledger_pub.payments /* m-denied */")
        assert "no access grant" in str(err)
        # auditors may name raw relations (USAGE on the raw schema) but not read them
        err = error_of(outsider, "SELECT * FROM ledger.payments /* m-denied-raw */")
        assert "permission denied for table payments" in str(err)
    assert [(r[0], r[1]) for r in wait_for_record(admin, "m-denied ")] == [(AUD, "error")]
    assert [(r[0], r[1]) for r in wait_for_record(admin, "m-denied-raw")] == [(AUD, "error")]


def test_record_survives_backend_termination(admin, gov):
    victim = session(gov, ANA)
    pid = victim.info.backend_pid
    victim.execute("SELECT sum(amount) FROM ledger_pub.payments /* m-killed-after */").fetchall()
    admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    assert [r[1] for r in wait_for_record(admin, "m-killed-after")] == ["ok"]
    # terminated in the middle of a statement
    victim = session(gov, ANA)
    pid = victim.info.backend_pid
    t = start_sleeping_statement(
        victim, "SELECT pg_sleep(30), count(*) FROM ledger_pub.payments /* m-killed-during */", admin)
    admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
    t.join(10)
    assert [r[1] for r in wait_for_record(admin, "m-killed-during")] == ["terminated"]


def test_pii_flips_and_revealed_statements_are_marked(admin, ana):
    ana.execute("SELECT lake.enable_pii('audit test: chargeback 77')")
    ana.execute("SELECT payer_email FROM ledger_pub.payments WHERE id = 1 /* m-pii-on */").fetchall()
    ana.execute("SELECT lake.disable_pii()")
    ana.execute("SELECT payer_email FROM ledger_pub.payments WHERE id = 1 /* m-pii-off */").fetchall()
    assert [r[5] for r in wait_for_record(admin, "m-pii-on")] == [True]
    assert [r[5] for r in wait_for_record(admin, "m-pii-off")] == [False]
    kinds = rows(admin, "SELECT kind, detail->>'reason' FROM lake.audit_log WHERE role = %s AND kind LIKE 'pii_%%' "
                        "ORDER BY id", (ANA,))
    assert kinds[-2:] == [("pii_enable", "audit test: chargeback 77"), ("pii_disable", None)]


def test_every_statement_is_recorded(admin, ana):
    for i in range(40):
        ana.execute(f"SELECT amount FROM ledger_pub.payments WHERE id = {i} /* m-many-{i:02d} */").fetchall()
    deadline = time.time() + 15
    while time.time() < deadline:
        n = one(admin, "SELECT count(*) FROM lake.audit_log WHERE query_text LIKE '%%m-many-%%'")
        if n == 40:
            break
        time.sleep(0.1)
    assert n == 40


def test_synchronous_audit_is_written_before_the_statement_returns(admin):
    admin.execute("SET townlake.audit_synchronous = on")
    admin.execute("SELECT count(*) FROM ledger_pub.payments /* m-sync */").fetchall()
    got = rows(admin, "SELECT outcome FROM lake.audit_log WHERE query_text LIKE '%m-sync%'")
    assert got == [("ok",)]


def test_analysts_cannot_read_or_switch_off_the_audit(gov, ana):
    assert "permission denied" in str(error_of(ana, "SELECT * FROM lake.audit_log"))
    assert "permission denied" in str(error_of(ana, "SELECT lake.verify_audit()"))
    assert "permission denied" in str(error_of(ana, "SET townlake.audit = off"))
    with session(gov, AUD) as aud:
        assert one(aud, "SELECT count(*) FROM lake.audit_log") > 0
        assert one(aud, "SELECT lake.verify_audit()") is True


def test_audit_off_for_superuser_benchmarks(admin):
    admin.execute("SET townlake.audit = off")
    admin.execute("SELECT count(*) FROM ledger_pub.payments /* m-audit-off */").fetchall()
    admin.execute("RESET townlake.audit")
    admin.execute("SELECT count(*) FROM ledger_pub.payments /* m-audit-back-on */").fetchall()
    assert wait_for_record(admin, "m-audit-back-on")
    assert wait_for_record(admin, "m-audit-off", timeout=1) == []


def tampered(admin, *statements) -> bool:
    """Whether verify_audit() notices `statements`, run with triggers off and rolled back."""
    with admin.transaction(force_rollback=True):
        admin.execute("SET LOCAL session_replication_role = replica")
        for stmt in statements:
            admin.execute(stmt)
        admin.execute("SET LOCAL session_replication_role = origin")
        return one(admin, "SELECT lake.verify_audit()") is False


def test_verify_audit_detects_an_edited_deleted_or_inserted_record(admin, ana):
    # a batch of several records: statements inside one DO block end within a few µs
    ana.execute("""DO $$ BEGIN FOR i IN 1..5 LOOP
                     PERFORM count(*), 'm-burst' FROM ledger_pub.payments;
                   END LOOP; END $$""")
    deadline = time.time() + 15
    while one(admin, "SELECT lake.audit_pending()") > 0 and time.time() < deadline:
        time.sleep(0.1)
    assert one(admin, "SELECT lake.verify_audit()") is True
    batches = rows(admin, "SELECT first_id, cardinality(records) FROM lake.audit_batches ORDER BY first_id")
    assert len(batches) >= 3
    big = max(batches, key=lambda b: b[1])
    assert big[1] >= 3
    middle, newest = batches[len(batches) // 2][0], batches[-1][0]
    for stmt in ("UPDATE lake.audit_log SET role = 'someone_else' WHERE id = 1",
                 "DELETE FROM lake.audit_log WHERE id = 1",
                 "UPDATE lake.audit_batches SET prev_hash = prev_hash",
                 "DELETE FROM lake.audit_batches",
                 "TRUNCATE lake.audit_batches"):
        assert "append-only" in str(error_of(admin, stmt)), stmt
    # a superuser who switches the triggers off can edit, but not unnoticed
    assert tampered(admin, f"UPDATE lake.audit_batches SET records[2] = jsonb_set(records[2]::jsonb, '{{rows}}', "
                           f"'999')::text WHERE first_id = {big[0]}")
    assert tampered(admin, f"UPDATE lake.audit_batches SET records = records[1:1] || records[3:], "
                           f"hashes = hashes[1:1] || hashes[3:], record_ids = record_ids[1:1] || record_ids[3:] "
                           f"WHERE first_id = {big[0]}")
    assert tampered(admin, f"UPDATE lake.audit_batches SET hashes[1] = repeat('f', 64) WHERE first_id = {middle}")
    assert tampered(admin, f"UPDATE lake.audit_batches SET record_ids[1] = gen_random_uuid() WHERE first_id = {middle}")
    assert tampered(admin, f"UPDATE lake.audit_batches SET logged_at = logged_at - interval '1 day' "
                           f"WHERE first_id = {middle}")
    assert tampered(admin, f"DELETE FROM lake.audit_batches WHERE first_id = {middle}")
    assert tampered(admin, f"DELETE FROM lake.audit_batches WHERE first_id = {newest}")
    # a well-chained record added behind the writer's back: the chain head disagrees
    assert tampered(admin, """
        INSERT INTO lake.audit_batches
        SELECT c.last_id + 1, now(), c.last_hash, ARRAY[r.id], ARRAY[r.rec], ARRAY[lake_internal._gov_chain_hash(c.last_hash, r.rec)]
          FROM lake.audit_chain c,
               LATERAL (SELECT u AS id, json_build_object('id', u, 'kind', 'statement', 'outcome', 'ok')::text AS rec
                          FROM gen_random_uuid() u) r""")
    assert one(admin, "SELECT lake.verify_audit()") is True
    assert one(admin, "SELECT count(*) FROM lake.audit_log") == one(admin, "SELECT records FROM lake.audit_chain")


def test_time_range_on_the_audit_log_uses_the_batch_index(admin, ana):
    ana.execute("SELECT count(*), 'time-range' FROM ledger_pub.payments")
    deadline = time.time() + 15
    while one(admin, "SELECT lake.audit_pending()") > 0 and time.time() < deadline:
        time.sleep(0.1)
    query = "SELECT query_text FROM lake.audit_log WHERE logged_at > now() - interval '1 minute'"
    assert any("time-range" in r[0] for r in rows(admin, query))
    with admin.transaction():
        admin.execute("SET LOCAL enable_seqscan = off")
        plan = " ".join(r[0] for r in rows(admin, "EXPLAIN " + query))
    assert "audit_batches_logged_at" in plan, plan


# ---------------------------------------------------------- complete records (issue 9, item 9)

def audit_record(admin, marker: str, timeout: float = 15.0) -> dict:
    """The one statement record whose text contains `marker`, as a dict."""
    deadline = time.time() + timeout
    while True:
        got = rows(admin, """
            SELECT row_to_json(a)::jsonb FROM lake.audit_log a
             WHERE kind = 'statement' AND query_text LIKE %s ORDER BY id""", (f"%{marker}%",))
        if got or time.time() > deadline:
            assert len(got) == 1, got
            return got[0][0]
        time.sleep(0.1)


WIDE_TABLES = 40
WIDE_COLUMNS = [f"a_rather_long_column_name_that_an_auditor_must_see_{k}" for k in range(3)]


@pytest.fixture(scope="module")
def wide(gov):
    """40 governed tables with long names, each with three approved columns."""
    with session(gov) as admin:
        admin.execute("CREATE SCHEMA wide")
        names = [f"relation_with_a_fairly_long_name_{i:02d}" for i in range(WIDE_TABLES)]
        cols = ", ".join(f"{c} int" for c in WIDE_COLUMNS)
        for n in names:
            admin.execute(f"CREATE TABLE wide.{n} ({cols}); INSERT INTO wide.{n} VALUES (1, 2, 3)")
        admin.execute("SELECT lake.govern_schema('wide', 'wide_pub')")
        for n in names:
            for c in WIDE_COLUMNS:
                admin.execute("SELECT lake.approve_column(%s::regclass, %s, 'public')", (f"wide.{n}", c))
            admin.execute("SELECT lake.approve_table(%s::regclass, 'wide')", (f"wide.{n}",))
            admin.execute("SELECT lake.grant_access(%s, %s::regclass, '1 hour', 'wide')", (ANA, f"wide.{n}"))
        yield names


def test_a_wide_query_records_every_relation_column_and_its_whole_text(admin, ana, wide):
    select = ", ".join(f"t{i}.{c}" for i in range(len(wide)) for c in WIDE_COLUMNS)
    tables = ", ".join(f"wide_pub.{n} t{i}" for i, n in enumerate(wide))
    query = f"SELECT {select} FROM {tables} /* m-wide */"
    assert len(query) > 8192
    assert ana.execute(query).fetchall() == [(1, 2, 3) * len(wide)]
    rec = audit_record(admin, "m-wide")
    assert rec["query_text"] == query
    assert rec["query_truncated"] is False
    assert sorted(rec["relations"]) == sorted(f"wide.{n}" for n in wide)
    assert sorted(rec["columns"]) == sorted(f"wide.{n}.{c}" for n in wide for c in WIDE_COLUMNS)
    assert rec["rows"] == 1


def test_long_statement_text_is_kept_whole_and_a_cut_is_said(admin, ana):
    long = "x" * 40_000
    query = f"SELECT count(*) FROM ledger_pub.payments /* m-long-text {long} */"
    ana.execute(query).fetchall()
    rec = audit_record(admin, "m-long-text")
    assert rec["query_text"] == query
    assert rec["query_truncated"] is False
    # beyond what one record may hold (256 kB) the text is cut, and the record says so
    huge = f"SELECT count(*) FROM ledger_pub.payments /* m-huge-text {'y' * 400_000} */"
    ana.execute(huge).fetchall()
    rec = audit_record(admin, "m-huge-text")
    assert rec["query_truncated"] is True
    assert int(rec["detail"]["query_bytes"]) == len(huge)
    assert huge.startswith(rec["query_text"]) and 100_000 < len(rec["query_text"]) < len(huge)
    assert rec["relations"] == ["ledger.payments"]


def test_cursor_rows_add_up_over_every_fetch(admin, ana):
    with ana.transaction():
        ana.execute("DECLARE m_rows CURSOR FOR SELECT id FROM ledger_pub.payments ORDER BY id /* m-cursor-rows */")
        assert len(ana.execute("FETCH 5 FROM m_rows").fetchall()) == 5
        assert len(ana.execute("FETCH 7 FROM m_rows").fetchall()) == 7
        ana.execute("MOVE 3 IN m_rows")
        assert ana.execute("FETCH 1 FROM m_rows").fetchall() == [(16,)]
    rec = audit_record(admin, "m-cursor-rows")
    # 5 + 7 + 3 moved over + 1
    assert (rec["outcome"], rec["rows"]) == ("ok", 16)


def test_execute_and_protocol_binds_record_their_parameters(admin, ana):
    ana.execute("PREPARE m_exec(int) AS SELECT id, amount FROM ledger_pub.payments WHERE id = $1 /* m-exec-params */")
    assert ana.execute("EXECUTE m_exec(7)").fetchall() == [(7, 70)]
    rec = audit_record(admin, "m-exec-params")
    assert (rec["params"], rec["params_masked"], rec["rows"]) == (["7"], False, 1)
    # extended query protocol: psycopg binds the values server-side
    got = ana.execute("SELECT amount FROM ledger_pub.payments WHERE id = %s AND amount > %s /* m-bind-params */",
                      (3, 1.5)).fetchall()
    assert got == [(30,)]
    rec = audit_record(admin, "m-bind-params")
    assert rec["params"] == ["3", "1.5"]
    ana.execute("DEALLOCATE m_exec")


def test_parameters_that_may_feed_a_masked_pii_column_are_masked_unless_revealing(admin, ana):
    secret = f"secret-{SUFFIX}@bank.example"
    q = "SELECT id FROM ledger_pub.payments WHERE payer_email = %s AND id > %s /* {} */"
    ana.execute(q.format("m-pii-param-masked"), (secret, 0)).fetchall()
    rec = audit_record(admin, "m-pii-param-masked")
    assert (rec["params"], rec["params_masked"]) == (["<masked>", "<masked>"], True)
    # the value is nowhere in the stored log
    assert one(admin, "SELECT count(*) FROM lake.audit_batches WHERE array_to_string(records, ' ') LIKE %s",
               (f"%{secret}%",)) == 0
    # a statement on columns shown as they are keeps its values
    ana.execute("SELECT amount FROM ledger_pub.payments WHERE id = %s /* m-plain-param */", (4,)).fetchall()
    assert audit_record(admin, "m-plain-param")["params"] == ["4"]
    # with PII revealed, the values are recorded as bound
    ana.execute("SELECT lake.enable_pii('audit test: parameters')")
    ana.execute(q.format("m-pii-param-revealed"), (secret, 0)).fetchall()
    ana.execute("SELECT lake.disable_pii()")
    rec = audit_record(admin, "m-pii-param-revealed")
    assert (rec["params"], rec["params_masked"]) == ([secret, "0"], False)


def test_rows_sent_before_an_error_are_counted(admin, ana):
    """Red team: every row of the view reached the client, then a deliberate
    division by zero ended the statement, and the record said rows = 0."""
    from psycopg import pq
    pg = ana.pgconn
    pg.send_query(b"SELECT id, payer_email FROM ledger_pub.payments UNION ALL "
                  b"SELECT (1 / (random() * 0)::int), NULL /* m-rows-then-error */")
    pg.set_single_row_mode()
    received, failed = 0, False
    while (res := pg.get_result()) is not None:
        received += res.status == pq.ExecStatus.SINGLE_TUPLE
        failed |= res.status == pq.ExecStatus.FATAL_ERROR
    assert failed and received == one(admin, "SELECT count(*) FROM ledger.payments") > 0
    rec = audit_record(admin, "m-rows-then-error")
    assert (rec["outcome"], rec["rows"]) == ("error", received)


def test_bound_parameters_never_push_the_statement_text_out(admin, ana):
    """Red team: a short statement bound with very many (or very large)
    parameters was recorded with an empty text; the parameters give way now."""
    from psycopg import pq
    text = "SELECT id FROM ledger_pub.payments WHERE id < $1 /* m-params-flood */"
    # declared types let a Bind carry parameters the statement never uses
    n = 40_000
    res = ana.pgconn.exec_params(text.encode(), [b"3"] + [b"xxxxxx"] * (n - 1), [23] + [25] * (n - 1))
    assert (res.status, res.ntuples) == (pq.ExecStatus.TUPLES_OK, 2)
    rec = audit_record(admin, "m-params-flood")
    assert (rec["query_text"], rec["query_truncated"]) == (text, False)
    ana.execute("SELECT id FROM ledger_pub.payments WHERE payer_email <> %s /* m-param-large */",
                ["z" * 300_000]).fetchall()
    rec = audit_record(admin, "m-param-large")
    assert rec["query_text"] == "SELECT id FROM ledger_pub.payments WHERE payer_email <> $1 /* m-param-large */"
    assert rec["query_truncated"] is False and len(rec["params"][0]) <= 64
