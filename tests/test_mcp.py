"""townlake-mcp (issue 17) driven by the official Python MCP SDK over stdio.

The server runs as the analyst role these tests create, connected with
libpq's environment variables. Expected values come from plain SQL as the
superuser (or, for a denial, from the analyst's own psycopg session), never
from the server's answers.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from psycopg import sql

from conftest import PG_HOST, PG_PORT
from govhelpers import error_of, one, recreate_roles, rows, session, wait_for_audit

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"mcp_ana_{SUFFIX}"
ROLES = [ANA]
# The server gets it in PGPASSWORD (the cluster trusts loopback, so it is
# never needed): it must show up in no answer and no log line.
PASSWORD = f"pw-{uuid.uuid4().hex}"


def binary() -> str:
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache/townlake/target")
    path = Path(target) / "debug" / "townlake-mcp"
    if not path.is_file():
        pytest.fail(f"townlake-mcp is not built at {path}: run `cargo build -p townlake-mcp` "
                    f"(scripts/test.sh builds it) with the same CARGO_TARGET_DIR")
    return str(path)


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def shop(roles, database):
    with session(database) as admin:
        admin.execute("""
            CREATE SCHEMA shop;
            CREATE TABLE shop.customers (id int PRIMARY KEY, full_name text, region text);
            COMMENT ON TABLE shop.customers IS 'Every paying customer, one row each';
            CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int REFERENCES shop.customers,
                                      amount numeric(12,2), placed_at date);
            COMMENT ON TABLE shop.orders IS 'Orders placed in the web shop';
            CREATE SEQUENCE shop.ticket;
            INSERT INTO shop.customers SELECT g, 'Customer ' || g, (ARRAY['eu', 'us', 'apac'])[1 + g % 3]
              FROM generate_series(1, 30) g;
            INSERT INTO shop.orders SELECT g, 1 + g % 30, g * 7, date '2026-01-01' + g FROM generate_series(1, 90) g;
            CREATE FUNCTION shop.bump() RETURNS int LANGUAGE plpgsql AS
              $$BEGIN UPDATE shop.orders SET amount = amount + 1; RETURN 1; END$$;
            CREATE FUNCTION shop.nap(s float8) RETURNS int LANGUAGE plpgsql SET statement_timeout = 0 AS
              $$BEGIN PERFORM pg_sleep(s); RETURN 1; END$$;
            SELECT lake.set_dataset_tags('shop.orders', ARRAY['curated', 'sales']);
            SELECT lake.set_dataset_tags('shop.customers', ARRAY['curated']);
            SELECT lake.add_note('shop.orders', 'Always exclude internal accounts (customer_id < 3)');
            SELECT lake.set_page('orders-model',
                                 E'# Orders\\nJoin orders to customers on customer_id. Revenue is sum(amount).',
                                 'Orders model', ARRAY['shop.orders'::regclass], ARRAY[]::text[]);
            CREATE SCHEMA raw;
            CREATE TABLE raw.salaries (id int, salary numeric);
            INSERT INTO raw.salaries VALUES (1, 100000);
            SELECT lake.govern_schema('raw', 'hr');
        """)
        # The analyst may write: so a refused write is the server's doing.
        admin.execute(sql.SQL("""
            GRANT USAGE, CREATE ON SCHEMA shop TO {r};
            GRANT SELECT, INSERT, UPDATE, DELETE ON shop.customers, shop.orders TO {r};
            GRANT USAGE, UPDATE ON SEQUENCE shop.ticket TO {r};
        """).format(r=sql.Identifier(ANA)))
    return database


def fingerprint(database: str):
    """What the refused statements would change, read as the superuser."""
    with session(database) as admin:
        return rows(admin, """
            SELECT (SELECT count(*) FROM shop.orders), (SELECT sum(amount) FROM shop.orders),
                   (SELECT count(*) FROM shop.customers),
                   (SELECT last_value FROM shop.ticket), (SELECT is_called FROM shop.ticket),
                   (SELECT count(*) FROM pg_class WHERE relnamespace = 'shop'::regnamespace),
                   (SELECT count(*) FROM pg_largeobject_metadata)""")[0]


class Server:
    """One townlake-mcp process and an initialized client session."""

    def __init__(self, database: str, role: str = ANA, args: tuple[str, ...] = (), port: int = PG_PORT):
        self.params = StdioServerParameters(
            command=binary(), args=list(args),
            env={"PGHOST": PG_HOST, "PGPORT": str(port), "PGUSER": role, "PGDATABASE": database,
                 "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "5"})
        self.errlog = tempfile.TemporaryFile("w+")

    def run(self, fn):
        async def go():
            async with stdio_client(self.params, errlog=self.errlog) as (read, write):
                async with ClientSession(read, write) as s:
                    init = await s.initialize()
                    return await fn(s, init)
        return asyncio.run(go())

    def stderr(self) -> str:
        self.errlog.seek(0)
        return self.errlog.read()


def text_of(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


def call(server: Server, tool: str, **arguments):
    async def fn(s, _):
        return await s.call_tool(tool, arguments)
    return server.run(fn)


def test_tools_are_listed_with_schemas(shop):
    srv = Server(shop)

    async def fn(s, init):
        return init, await s.list_tools()
    init, tools = srv.run(fn)
    assert init.server_info.name == "townlake-mcp"
    assert ANA in (init.instructions or "")
    by_name = {t.name: t for t in tools.tools}
    assert set(by_name) == {"search", "execute"}
    ex = by_name["execute"].input_schema
    assert ex["type"] == "object" and ex["required"] == ["sql"]
    assert ex["properties"]["sql"]["type"] == "string"
    assert "max_rows" in ex["properties"]
    se = by_name["search"].input_schema
    assert {"query", "dataset", "limit"} <= set(se["properties"])
    assert by_name["execute"].description and by_name["search"].description
    assert PASSWORD not in srv.stderr()


def test_search_then_execute_answers_a_question(shop):
    """Revenue per region without internal accounts: search finds the tables,
    the note and the page; the query the agent then writes gives the answer
    plain SQL gives."""
    # search without pg_trgm takes seconds on a busy machine: room for it
    srv = Server(shop, args=("--statement-timeout", "60s"))

    async def fn(s, _):
        found = await s.call_tool("search", {"query": "orders customers revenue"})
        details = await s.call_tool("search", {"dataset": "shop.orders"})
        answer = await s.call_tool("execute", {"sql": """
            SELECT c.region, sum(o.amount) AS revenue
              FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id
             WHERE o.customer_id >= 3
             GROUP BY c.region ORDER BY c.region"""})
        me = await s.call_tool("execute", {"sql": "SELECT current_user, current_setting('transaction_read_only')"})
        return found, details, answer, me
    found, details, answer, me = srv.run(fn)

    assert not found.is_error, text_of(found)
    names = [d["dataset"] for d in found.structured_content["datasets"]]
    assert "shop.orders" in names and "shop.customers" in names, names
    orders = next(d for d in found.structured_content["datasets"] if d["dataset"] == "shop.orders")
    assert "Always exclude internal accounts (customer_id < 3)" in orders["notes"]
    assert "NOTE: Always exclude internal accounts" in text_of(found)
    pages = [p["name"] for p in found.structured_content["pages"]]
    assert pages == ["orders-model"], pages
    assert "townlake://pages/orders-model" in text_of(found)

    assert not details.is_error, text_of(details)
    d = details.structured_content["details"]
    assert d["dataset"] == "shop.orders"
    assert {c["name"] for c in d["columns"]} == {"id", "customer_id", "amount", "placed_at"}

    assert not answer.is_error, text_of(answer)
    with session(shop) as admin:
        expected = rows(admin, """
            SELECT c.region, sum(o.amount)::text FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id
             WHERE o.customer_id >= 3 GROUP BY c.region ORDER BY c.region""")
    got = answer.structured_content
    assert [c["name"] for c in got["columns"]] == ["region", "revenue"]
    assert [c["type"] for c in got["columns"]] == ["text", "numeric"]
    assert [tuple(r) for r in got["rows"]] == expected
    assert got["truncated"] is False and got["row_count"] == len(expected)
    for region, revenue in expected:
        assert any(line.split("|")[0].strip() == region and line.split("|")[1].strip() == revenue
                   for line in text_of(answer).splitlines() if "|" in line), text_of(answer)
    assert f"({len(expected)} rows)" in text_of(answer)
    # as the analyst, in a read-only transaction
    assert me.structured_content["rows"] == [[ANA, "on"]]


def test_pending_governed_table_gets_the_self_service_denial(shop):
    with session(shop, ANA) as ana:
        err = error_of(ana, "SELECT * FROM hr.salaries")
    assert err.sqlstate == "42501" and "pending review" in err.diag.message_primary
    res = call(Server(shop), "execute", sql="SELECT * FROM hr.salaries")
    assert res.is_error
    e = res.structured_content["error"]
    assert e["sqlstate"] == err.sqlstate
    assert e["message"] == err.diag.message_primary
    assert e["detail"] == err.diag.message_detail
    assert e["hint"] == err.diag.message_hint
    assert "lake.request_access('hr.salaries'" in text_of(res)
    assert "SQLSTATE:  42501" in text_of(res)
    # the raw table itself: Postgres' own denial, verbatim too
    with session(shop, ANA) as ana:
        raw = error_of(ana, "SELECT * FROM raw.salaries")
    res = call(Server(shop), "execute", sql="SELECT * FROM raw.salaries")
    assert res.is_error and res.structured_content["error"]["message"] == raw.diag.message_primary


ATTACKS = [
    "INSERT INTO shop.orders VALUES (1000, 5, 1, '2026-01-01')",
    "UPDATE shop.orders SET amount = 0",
    "DELETE FROM shop.orders",
    "TRUNCATE shop.orders",
    "CREATE TABLE shop.evil (id int)",
    "DROP TABLE shop.orders CASCADE",
    "ALTER TABLE shop.orders ADD COLUMN evil int",
    "SELECT 1; DELETE FROM shop.orders",
    "SELECT 1; COMMIT; DELETE FROM shop.orders",
    "COMMIT; DELETE FROM shop.orders",
    "ROLLBACK; BEGIN READ WRITE; UPDATE shop.orders SET amount = 0; COMMIT",
    "END; CREATE TABLE shop.evil (id int)",
    "SELECT 1) ; COMMIT; DELETE FROM shop.orders; --",
    "WITH d AS (DELETE FROM shop.orders RETURNING *) SELECT count(*) FROM d",
    "WITH u AS (UPDATE shop.orders SET amount = 0 RETURNING 1) SELECT * FROM u",
    "SELECT shop.bump()",
    "SELECT set_config('transaction_read_only', 'off', true), shop.bump()",
    "SELECT set_config('transaction_read_only', 'off', false)",
    "SELECT nextval('shop.ticket')",
    "SELECT setval('shop.ticket', 42)",
    "SELECT * FROM shop.orders FOR UPDATE",
    "SELECT * INTO shop.evil FROM shop.orders",
    "CREATE TABLE shop.evil AS SELECT * FROM shop.orders",
    "DO $$BEGIN DELETE FROM shop.orders; END$$",
    "COPY shop.orders TO STDOUT",
    "SET default_transaction_read_only = off",
    "PREPARE p AS DELETE FROM shop.orders",
    "EXPLAIN ANALYZE DELETE FROM shop.orders",
    "LOCK shop.orders",
    "SELECT 1\x00; DELETE FROM shop.orders",
]
# Postgres lets these run in a read-only transaction; what they do must not
# outlive the call (the transaction is rolled back, the session closed).
LEAVE_NOTHING = [
    "SELECT lo_create(0)",
    "SELECT pg_advisory_lock(4242)",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
]


def test_writes_and_tricks_are_refused_and_change_nothing(shop):
    # the analyst could do all of this in a session of its own
    with session(shop, ANA) as ana:
        with ana.transaction(force_rollback=True):
            ana.execute("UPDATE shop.orders SET amount = 0")
            ana.execute("SELECT nextval('shop.ticket')")
            ana.execute("CREATE TABLE shop.allowed (id int)")
    before = fingerprint(shop)
    srv = Server(shop)

    async def fn(s, _):
        out = []
        for attack in ATTACKS:
            out.append(await s.call_tool("execute", {"sql": attack}))
        ran = [await s.call_tool("execute", {"sql": q}) for q in LEAVE_NOTHING]
        # the setting turned off and the lock taken in a call are gone in the next
        after = await s.call_tool("execute", {"sql": "SELECT shop.bump()"})
        return out, ran, after
    results, ran, after = srv.run(fn)
    for attack, res in zip(ATTACKS, results):
        assert res.is_error, (attack, text_of(res))
        assert res.structured_content["error"]["message"], attack
    for q, res in zip(LEAVE_NOTHING, ran):
        # PostgreSQL 18 refuses lo_create in a read-only transaction itself
        if res.is_error and q.startswith("SELECT lo_create"):
            assert res.structured_content["error"]["sqlstate"] == "25006", text_of(res)
            continue
        assert not res.is_error, (q, text_of(res))
    assert after.is_error and after.structured_content["error"]["sqlstate"] == "25006", text_of(after)
    assert fingerprint(shop) == before
    with session(shop) as admin:
        deadline = time.monotonic() + 5
        while one(admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242") and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert one(admin, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242") == 0
    # the one that runs a statement Postgres rejects as read-only says so
    update = results[ATTACKS.index("SELECT shop.bump()")].structured_content["error"]
    assert update["sqlstate"] == "25006" and "read-only transaction" in update["message"]
    multi = results[ATTACKS.index("SELECT 1; DELETE FROM shop.orders")].structured_content["error"]
    assert multi["sqlstate"] == "42601" and "one read-only query" in (multi["hint"] or "")


def test_row_limit_and_timeout_hold(shop):
    srv = Server(shop)

    async def fn(s, _):
        big = await s.call_tool("execute", {"sql": "SELECT g FROM generate_series(1, 1000) g ORDER BY g"})
        few = await s.call_tool("execute", {"sql": "SELECT g FROM generate_series(1, 1000) g ORDER BY g", "max_rows": 5})
        more = await s.call_tool("execute", {"sql": "SELECT g FROM generate_series(1, 1000) g", "max_rows": 5000})
        exact = await s.call_tool("execute", {"sql": "SELECT g FROM generate_series(1, 100) g"})
        # 10 values of 3 MB: reading stops after a few, each shown cut
        huge = await s.call_tool("execute", {"sql": "SELECT g, repeat('x', 3000000) AS v FROM generate_series(1, 10) g"})
        return big, few, more, exact, huge
    big, few, more, exact, huge = srv.run(fn)
    h = huge.structured_content
    assert not huge.is_error and h["truncated"] is True and h["values_cut"] is True
    assert 1 <= h["row_count"] < 10 and [r[0] for r in h["rows"]] == [str(g) for g in range(1, h["row_count"] + 1)]
    assert all(r[1] == "x" * 1000 + "…" for r in h["rows"])
    assert "Truncated" in text_of(huge) and len(text_of(huge)) < 20 * 1024
    assert [r[0] for r in big.structured_content["rows"]] == [str(g) for g in range(1, 101)]
    assert big.structured_content["truncated"] is True and "Truncated" in text_of(big)
    assert [r[0] for r in few.structured_content["rows"]] == ["1", "2", "3", "4", "5"]
    assert few.structured_content["truncated"] is True
    assert more.structured_content["row_count"] == 100  # the server's ceiling wins
    assert exact.structured_content["row_count"] == 100 and exact.structured_content["truncated"] is False
    assert "Truncated" not in text_of(exact)

    tight = Server(shop, args=("--max-rows", "7", "--statement-timeout", "1s"))

    async def slow(s, init):
        out = {"instructions": init.instructions}
        for name, q in [("sleep", "SELECT pg_sleep(30)"),
                        ("unset", "SELECT set_config('statement_timeout', '0', true), pg_sleep(30)"),
                        ("function", "SELECT shop.nap(30)"),
                        ("rows", "SELECT g FROM generate_series(1, 50) g")]:
            t0 = time.monotonic()
            out[name] = (await s.call_tool("execute", {"sql": q}), time.monotonic() - t0)
        return out
    out = tight.run(slow)
    assert "7 rows" in out["instructions"] and "1000 ms" in out["instructions"]
    for name in ("sleep", "unset", "function"):
        res, took = out[name]
        assert res.is_error, (name, text_of(res))
        assert took < 8, (name, took)
        err = res.structured_content["error"]
        assert err["sqlstate"] in ("57014", None), (name, err)
        assert "cancel" in err["message"], (name, err)
    assert out["rows"][0].structured_content["row_count"] == 7


def test_resources_list_and_read_pages(shop):
    with session(shop) as admin:
        admin.execute("SELECT lake.set_page('glossary-basics', 'GMV is the sum of order amounts.', 'Glossary basics')")
        expected = rows(admin, "SELECT name, title, body FROM lake.catalog_pages ORDER BY name")

    async def fn(s, _):
        listed = await s.list_resources()
        read = await s.read_resource("townlake://pages/orders-model")
        try:
            await s.read_resource("townlake://pages/no-such-page")
            missing = None
        except Exception as exc:  # the SDK raises the JSON-RPC error
            missing = exc
        return listed, read, missing
    listed, read, missing = Server(shop).run(fn)
    got = [(str(r.uri), r.name, r.title, r.mime_type) for r in listed.resources]
    assert got == [(f"townlake://pages/{n}", n, t, "text/markdown") for n, t, _ in expected]
    body = dict((n, b) for n, _, b in expected)["orders-model"]
    assert [c.text for c in read.contents] == [body]
    assert missing is not None and "no-such-page" in str(missing)


def test_bad_input_and_connection_errors_never_show_the_password(shop):
    srv = Server(shop)

    async def fn(s, _):
        return [await s.call_tool("execute", {"sql": "   "}),
                await s.call_tool("execute", {"sql": "SELEC 1"}),
                await s.call_tool("execute", {"sql": "SELECT * FROM shop.nope"}),
                await s.call_tool("search", {}),
                await s.call_tool("search", {"query": "!!!"}),
                await s.call_tool("search", {"dataset": "shop.nope"})]
    results = srv.run(fn)
    assert all(r.is_error for r in results), [text_of(r) for r in results]
    syntax = results[1].structured_content["error"]
    assert syntax["sqlstate"] == "42601" and syntax["position"] == 1, syntax
    assert results[2].structured_content["error"]["sqlstate"] == "42P01"
    assert results[4].structured_content["error"]["sqlstate"] == "22023"

    # nobody listens there: the connection fails, with who and where but no password
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    down = Server(shop, port=closed)
    res = call(down, "execute", sql="SELECT 1")
    assert res.is_error and "cannot connect" in text_of(res) and ANA in text_of(res)
    # a database without townlake: the catalog's absence is named
    nolake = call(Server("postgres"), "search", query="orders")
    assert nolake.is_error and "CREATE EXTENSION townlake" in (nolake.structured_content["error"]["hint"] or ""), \
        text_of(nolake)
    for r in results + [res, nolake]:
        assert PASSWORD not in text_of(r) and PASSWORD not in str(r.structured_content)
    assert PASSWORD not in srv.stderr() and PASSWORD not in down.stderr()


def test_superuser_is_refused_unless_allowed(shop):
    """A superuser bypasses review and reaches server files (lo_export) even
    from a read-only transaction: the server will not act as one by default."""
    async def fn(s, _):
        return [await s.call_tool("execute", {"sql": "SELECT current_user"}),
                await s.call_tool("search", {"query": "orders"})]
    for res in Server(shop, role="postgres").run(fn):
        assert res.is_error and "is a superuser" in text_of(res) and "--allow-superuser" in text_of(res), text_of(res)
    res = call(Server(shop, role="postgres", args=("--allow-superuser",)), "execute", sql="SELECT current_user")
    assert not res.is_error and res.structured_content["rows"] == [["postgres"]], text_of(res)
    # Red team: a NOINHERIT member of a superuser role passed the check and
    # became superuser inside the call (set_config('role', ...))
    with session(shop) as admin:
        admin.execute("DROP ROLE IF EXISTS mcp_dba; DROP ROLE IF EXISTS mcp_dev")
        admin.execute("CREATE ROLE mcp_dba SUPERUSER NOLOGIN; CREATE ROLE mcp_dev LOGIN NOINHERIT IN ROLE mcp_dba")
        try:
            res = call(Server(shop, role="mcp_dev"), "execute",
                       sql="SELECT pg_catalog.set_config('role', 'mcp_dba', true), current_setting('is_superuser')")
            assert res.is_error and "may become one" in text_of(res), text_of(res)
        finally:
            admin.execute("DROP ROLE mcp_dev; DROP ROLE mcp_dba")


def test_calls_are_governed_and_audited_as_the_user(shop):
    """Masks apply, PII cannot be switched on (that writes), and the audit
    log names the analyst for the query the agent ran."""
    with session(shop) as admin:
        admin.execute("""
            CREATE TABLE raw.contacts (id int, email text);
            INSERT INTO raw.contacts VALUES (1, 'ada@math.org'), (2, 'alan@bletchley.uk');
            SELECT lake.approve_column('raw.contacts', 'id', 'public');
            SELECT lake.approve_column('raw.contacts', 'email', 'pii');
            SELECT lake.approve_table('raw.contacts', 'contacts for the mcp test');
        """)
        admin.execute("SELECT lake.grant_access(%s, 'hr.contacts', '1 hour', 'mcp test', 'pii')", (ANA,))
        raw = rows(admin, "SELECT id::text, email FROM raw.contacts ORDER BY id")
    with session(shop, ANA) as ana:
        own = rows(ana, "SELECT id::text, email FROM hr.contacts ORDER BY id")
    assert [e for _, e in own] != [e for _, e in raw]  # masked for the analyst
    marker = f"mcp_audit_{uuid.uuid4().hex[:8]}"

    async def fn(s, _):
        return [await s.call_tool("execute", {"sql": f"SELECT id, email FROM hr.contacts /* {marker} */ ORDER BY id"}),
                await s.call_tool("execute", {"sql": "SELECT lake.enable_pii('look at the addresses')"}),
                await s.call_tool("execute", {"sql": "SELECT id, email FROM hr.contacts ORDER BY id"})]
    masked, pii, still = Server(shop).run(fn)
    assert [tuple(r) for r in masked.structured_content["rows"]] == own
    # enable_pii records the switch: a write, refused by the read-only transaction
    assert pii.is_error and pii.structured_content["error"]["sqlstate"] == "25006", text_of(pii)
    assert [tuple(r) for r in still.structured_content["rows"]] == own
    with session(shop) as admin:
        audit = wait_for_audit(admin, marker)
    assert audit and all(role == ANA for _, role, *_ in audit), audit
