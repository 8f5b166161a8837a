"""Fair use of the shared audit queue (issue 9, item 8): one session, or all
sessions of one role, can hold only a share of the queue, so a session that
opens more cursors than the queue has slots, or floods it with statements
while the writer cannot keep up, slows down (or fails) itself; other roles'
statements on governed data still run and are audited, and no record of the
flood is lost. The oracles are the statements each test ran."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from govhelpers import one, recreate_roles, rows, session

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"al_ana_{SUFFIX}"      # the analyst who floods
OTHER = f"al_other_{SUFFIX}"  # another analyst, who must not notice
SLOW = f"al_slow_{SUFFIX}"    # an analyst allowed to wait only 2 s for queue room
ROLES = [ANA, OTHER, SLOW]


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def gov(roles, database):
    with session(database) as admin:
        admin.execute("""
            CREATE SCHEMA lim;
            CREATE TABLE lim.t (id int PRIMARY KEY, v text);
            INSERT INTO lim.t SELECT g, 'v' || g FROM generate_series(1, 100) g;
            SELECT lake.govern_schema('lim', 'lim_pub');
            SELECT lake.approve_column('lim.t', 'id', 'public');
            SELECT lake.approve_column('lim.t', 'v', 'internal');
            SELECT lake.approve_table('lim.t', 'limits');
        """)
        for r in ROLES:
            admin.execute("SELECT lake.grant_access(%s, 'lim.t', '1 hour', 'audit limit tests')", (r,))
        yield database


@pytest.fixture
def admin(gov):
    with session(gov) as c:
        yield c


def stats(admin) -> dict:
    return one(admin, "SELECT lake.audit_queue_stats()")


def drained(admin, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while one(admin, "SELECT lake.audit_pending()") > 0:
        assert time.monotonic() < deadline, "audit records were not written"
        time.sleep(0.1)


def count_records(admin, marker: str, kind: str = "statement") -> int:
    return one(admin, "SELECT count(*) FROM lake.audit_log WHERE kind = %s AND query_text LIKE %s",
               (kind, f"%{marker}%"))


class WriterBlocked:
    """Holds the audit chain's head row so the writer cannot commit: records
    pile up in the queue as they would behind a slow or stuck writer."""

    def __init__(self, database):
        self.conn = session(database)

    def __enter__(self):
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT * FROM lake.audit_chain FOR UPDATE")
        return self

    def __exit__(self, *exc):
        self.conn.execute("ROLLBACK")
        self.conn.close()


def timed_statements(database, role, marker, n) -> list[float]:
    """Runs n governed statements as `role`; returns each one's seconds."""
    took = []
    with session(database, role) as c:
        for i in range(n):
            t = time.monotonic()
            assert c.execute(f"SELECT count(*) FROM lim_pub.t WHERE id <= {i + 1} /* {marker} */").fetchone()[0] \
                == i + 1
            took.append(time.monotonic() - t)
    return took


def test_cursors_of_one_session_do_not_pin_the_queue(admin, gov):
    slots = int(one(admin, "SHOW townlake.audit_queue_slots"))
    n = slots + 200
    marker = f"m-cursor-{SUFFIX}"
    with session(gov, ANA) as ana:
        ana.execute("BEGIN")
        for i in range(n):
            ana.execute(f"DECLARE c{i} CURSOR FOR SELECT id FROM lim_pub.t ORDER BY id /* {marker} */")
        # every cursor is open: the session holds no more than its share of
        # the queue, and another role reads as usual
        st = stats(admin)
        assert st["unwritten"] <= st["backend_share"] + 8, st
        took = timed_statements(gov, OTHER, f"m-cursor-other-{SUFFIX}", 5)
        assert max(took) < 5, took
        # rows of a cursor add up over its FETCHes, also after its record was written as open
        assert len(ana.execute("FETCH 2 FROM c0").fetchall()) == 2
        assert len(ana.execute("FETCH 3 FROM c0").fetchall()) == 3
        assert len(ana.execute(f"FETCH 4 FROM c{n - 1}").fetchall()) == 4
        ana.execute("COMMIT")
    drained(admin)
    assert count_records(admin, f"m-cursor-other-{SUFFIX}") == 5
    # one record per DECLARE; those written while the cursor was open have an end record
    got = rows(admin, """
        SELECT s.outcome, s.rows, e.outcome, e.rows
          FROM lake.audit_log s
          LEFT JOIN lake.audit_log e ON e.kind = 'statement_end' AND (e.detail->>'record_id')::uuid = s.record_id
         WHERE s.kind = 'statement' AND s.query_text LIKE %s AND s.role = %s ORDER BY s.id""",
               (f"%{marker}%", ANA))
    assert len(got) == n
    final = [(e_out or s_out, e_rows if e_out else s_rows) for s_out, s_rows, e_out, e_rows in got]
    assert all(outcome == "ok" for outcome, _ in final), set(final)
    assert sum(1 for s_out, *_ in got if s_out == "open") >= n - 16
    by_rows = sorted(r for _, r in final)
    assert by_rows == [0] * (n - 2) + [4, 5]
    assert count_records(admin, marker, "statement_end") == sum(1 for g in got if g[0] == "open")
    assert one(admin, "SELECT lake.verify_audit()") is True


def test_a_flooding_role_waits_for_itself_and_others_proceed(admin, gov):
    """More sessions of one role than the queue has room for flood it while
    the writer is stuck: they wait for their share; another role does not."""
    st = stats(admin)
    sessions = st["slots"] // st["backend_share"] + 2
    per_session = st["backend_share"] + 16
    assert sessions * per_session > st["slots"]
    marker = f"m-flood-{SUFFIX}"
    done: list[int] = []
    errors: list[BaseException] = []

    def flood(k):
        try:
            with session(gov, ANA) as c:
                for i in range(per_session):
                    c.execute(f"SELECT v FROM lim_pub.t WHERE id = {i % 100 + 1} /* {marker} {k} */").fetchall()
                    done.append(1)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    drained(admin)
    with WriterBlocked(gov):
        base = stats(admin)["unwritten"]
        threads = [threading.Thread(target=flood, args=(k,), daemon=True) for k in range(sessions)]
        for t in threads:
            t.start()
        # the flood has filled its role's share and waits
        deadline = time.monotonic() + 30
        while stats(admin)["unwritten"] - base < st["role_share"] - 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stats(admin)["unwritten"] - base >= st["role_share"] - 8
        took = timed_statements(gov, OTHER, f"m-flood-other-{SUFFIX}", 20)
        assert max(took) < 5, took
        # the role never held more than its share
        unwritten = stats(admin)["unwritten"]
        assert unwritten <= base + st["role_share"] + 20, (unwritten, base)
        assert len(done) < sessions * per_session
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(done) == sessions * per_session
    drained(admin)
    assert count_records(admin, f"m-flood-other-{SUFFIX}") == 20
    assert count_records(admin, marker) == sessions * per_session
    assert stats(admin)["throttled"] > st["throttled"]
    assert one(admin, "SELECT lake.verify_audit()") is True


def test_a_session_that_waits_too_long_gets_the_error_itself(admin, gov):
    """A flooding session whose records cannot be written in its wait time
    (`townlake.audit_queue_wait`, 2 s for this role) fails with an ERROR in
    its own session; the refusal is counted and logged with its next record;
    everything it ran is audited; another role is not affected."""
    admin.execute(sql.SQL("ALTER ROLE {} SET townlake.audit_queue_wait = 2").format(sql.Identifier(SLOW)))
    marker = f"m-refused-{SUFFIX}"
    refused_before = stats(admin)["refused"]
    ran = 0
    with session(gov, SLOW) as slow:
        with WriterBlocked(gov):
            err = None
            for i in range(10_000):
                try:
                    slow.execute(f"SELECT v FROM lim_pub.t WHERE id = 1 /* {marker} */").fetchall()
                    ran += 1
                except psycopg.Error as e:
                    err = e
                    break
            assert isinstance(err, psycopg.errors.ConfigurationLimitExceeded), err
            assert "no room for this session's records" in str(err)
            took = timed_statements(gov, OTHER, f"m-refused-other-{SUFFIX}", 5)
            assert max(took) < 5, took
        slow.execute(f"SELECT v FROM lim_pub.t WHERE id = 2 /* {marker}-after */").fetchall()
    drained(admin)
    assert stats(admin)["refused"] >= refused_before + 1
    assert count_records(admin, marker + " ") == ran
    after = rows(admin, "SELECT detail->>'audit_refused_before' FROM lake.audit_log WHERE query_text LIKE %s",
                 (f"%{marker}-after%",))
    assert after == [("1",)]
    assert count_records(admin, f"m-refused-other-{SUFFIX}") == 5
