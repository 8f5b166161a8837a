"""The metadata catalog (issue 17): search, entity details, lineage, usage
from the audit log, annotations, notes, glossary, pages, and who may edit.

Expected values come from what each test set up (the tables, grants, views
and queries it made), never from the catalog's own earlier answers.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, rows, session, wait_for_audit

SUFFIX = uuid.uuid4().hex[:6]
ANA = f"mc_ana_{SUFFIX}"      # an analyst: reads some tables, owns none
OWN = f"mc_own_{SUFFIX}"      # owns the shop tables
STW = f"mc_stw_{SUFFIX}"      # catalog steward
REV = f"mc_rev_{SUFFIX}"      # governance reviewer
ROLES = [ANA, OWN, STW, REV]


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def shop(roles, database):
    with session(database) as admin:
        admin.execute(sql.SQL("GRANT lake_steward TO {}").format(sql.Identifier(STW)))
        admin.execute(sql.SQL("GRANT lake_reviewer TO {}").format(sql.Identifier(REV)))
        admin.execute(sql.SQL("CREATE SCHEMA shop AUTHORIZATION {}").format(sql.Identifier(OWN)))
        admin.execute("CREATE SCHEMA sandbox")
        for r in (ANA, STW):
            admin.execute(sql.SQL("GRANT USAGE ON SCHEMA sandbox, shop TO {}").format(sql.Identifier(r)))
    with session(database, OWN) as own:
        own.execute("""
            CREATE TABLE shop.customers (id int PRIMARY KEY, email text, full_name text, region text);
            COMMENT ON TABLE shop.customers IS 'Every paying customer, one row each';
            CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int REFERENCES shop.customers,
                                      amount numeric(12,2), placed_at date);
            CREATE TABLE shop.payroll (id int, salary numeric);
            CREATE VIEW shop.big_orders AS
              SELECT o.id, o.customer_id, c.region, o.amount FROM shop.orders o
                JOIN shop.customers c ON c.id = o.customer_id WHERE o.amount > 100;
            CREATE VIEW shop.big_orders_by_region AS
              SELECT region, sum(amount) AS total FROM shop.big_orders GROUP BY region;
            INSERT INTO shop.customers SELECT g, 'c' || g || '@example.com', 'Customer ' || g,
                   (ARRAY['eu', 'us', 'apac'])[1 + g % 3] FROM generate_series(1, 30) g;
            INSERT INTO shop.orders SELECT g, 1 + g % 30, g * 7, date '2026-01-01' + g FROM generate_series(1, 90) g;
        """)
        own.execute(sql.SQL("GRANT SELECT ON shop.customers, shop.orders, shop.big_orders, "
                            "shop.big_orders_by_region TO {}").format(sql.Identifier(ANA)))
        # a column-level grant: ANA may read only id and region of this one
    with session(database) as admin:
        admin.execute("CREATE TABLE sandbox.customers_copy (id int, email text)")
        admin.execute("CREATE TABLE sandbox.customer_scratch_notes (id int, body text)")
        admin.execute(sql.SQL("GRANT SELECT ON sandbox.customers_copy, sandbox.customer_scratch_notes TO {}")
                      .format(sql.Identifier(ANA)))
        admin.execute("CREATE TABLE sandbox.customer_secrets (id int, customer_password text)")
        admin.execute("CREATE TABLE sandbox.partial (id int, region text, card_number text)")
        admin.execute(sql.SQL("GRANT SELECT (id, region) ON sandbox.partial TO {}").format(sql.Identifier(ANA)))
        admin.execute("COMMENT ON COLUMN sandbox.partial.card_number IS 'customer card number'")
    return database


@pytest.fixture
def admin(shop):
    with session(shop) as c:
        yield c


@pytest.fixture
def ana(shop):
    with session(shop, ANA) as c:
        yield c


@pytest.fixture
def own(shop):
    with session(shop, OWN) as c:
        yield c


@pytest.fixture
def stw(shop):
    with session(shop, STW) as c:
        yield c


def search(conn, query, lim=20):
    return rows(conn, "SELECT dataset, tier, matched_columns FROM lake.search_datasets(%s, %s)", (query, lim))


def test_search_ranks_curated_above_scratch_and_forgives_typos(own, stw, ana, admin):
    own.execute("SELECT lake.set_dataset_tags('shop.customers', ARRAY['curated', 'crm'])")
    stw.execute("SELECT lake.set_dataset_tags('sandbox.customers_copy', ARRAY['scratch'])")
    for trgm in (False, True):
        if trgm:
            admin.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        try:
            for query in ("customers", "custmers", "customer email", "CUSTOMER"):
                got = [d for d, _, _ in search(ana, query)]
                assert "shop.customers" in got and "sandbox.customers_copy" in got, (query, trgm, got)
                assert got.index("shop.customers") < got.index("sandbox.customers_copy"), (query, trgm, got)
                assert got[0] == "shop.customers", (query, trgm, got)
        finally:
            if trgm:
                admin.execute("DROP EXTENSION pg_trgm")
    tiers = {d: t for d, t, _ in search(ana, "customers")}
    assert tiers["shop.customers"] == "curated" and tiers["sandbox.customers_copy"] == "scratch"


def test_search_never_shows_what_the_caller_cannot_read(ana, admin):
    got = {d: cols for d, _, cols in search(ana, "customer", 100)}
    # no SELECT at all: not listed, although its name and columns match
    assert "sandbox.customer_secrets" not in got
    assert "shop.payroll" not in search(ana, "payroll salary")
    # column-level grant: listed, but the column it may not read is neither
    # matched nor described
    got = {d: cols for d, _, cols in search(ana, "card number region", 100)}
    assert "sandbox.partial" in got and "card_number" not in got["sandbox.partial"]
    details = one(ana, "SELECT lake.entity_details('sandbox.partial')")
    assert [c["name"] for c in details["columns"]] == ["id", "region"]
    err = error_of(ana, "SELECT lake.entity_details('sandbox.customer_secrets')")
    assert err.sqlstate == "42P01" and "not visible" in str(err)
    # the superuser sees all of them
    assert "sandbox.customer_secrets" in [d for d, _, _ in search(admin, "customer secrets")]


def test_entity_details_columns_keys_joins_and_view_lineage(ana):
    d = one(ana, "SELECT lake.entity_details('shop.orders')")
    assert d["dataset"] == "shop.orders" and d["kind"] == "table"
    assert [c["name"] for c in d["columns"]] == ["id", "customer_id", "amount", "placed_at"]
    types = {c["name"]: c["type"] for c in d["columns"]}
    assert types == {"id": "integer", "customer_id": "integer", "amount": "numeric(12,2)", "placed_at": "date"}
    assert d["primary_key"] == ["id"]
    assert d["foreign_keys"] == [{"columns": ["customer_id"], "references": "shop.customers",
                                  "referenced_columns": ["id"]}]
    assert {"dataset": "shop.customers", "source": "foreign key",
            "join_on": ["customer_id = shop.customers.id"]} in d["typical_joins"]
    down = {n["dataset"]: n for n in d["lineage"]["downstream"]["nodes"]}
    assert down["shop.big_orders"]["level"] == 1 and down["shop.big_orders_by_region"]["level"] == 2
    # column lineage through two views: the second level reads region and amount of big_orders
    view = one(ana, "SELECT lake.entity_details('shop.big_orders_by_region')")
    up = {n["dataset"]: n for n in view["lineage"]["upstream"]["nodes"]}
    assert set(up) == {"shop.big_orders", "shop.orders", "shop.customers"}
    assert up["shop.big_orders"]["level"] == 1 and sorted(up["shop.big_orders"]["columns"]) == ["amount", "region"]
    assert sorted(up["shop.orders"]["columns"]) == ["amount", "customer_id", "id"]
    assert sorted(up["shop.customers"]["columns"]) == ["id", "region"]
    # (PostgreSQL 18 prints columns of a single-relation view unqualified)
    assert view["kind"] == "view" and re.search(r"sum\((big_orders\.)?amount\)", view["definition"])
    # unqualified names resolve when they are unique among visible datasets
    assert one(ana, "SELECT lake.entity_details('big_orders_by_region')->>'dataset'") == "shop.big_orders_by_region"


def test_lineage_hides_upstreams_the_caller_cannot_read(admin, ana):
    admin.execute("CREATE VIEW sandbox.payroll_totals AS SELECT count(*) AS n, sum(salary) AS total FROM shop.payroll")
    admin.execute(sql.SQL("GRANT SELECT ON sandbox.payroll_totals TO {}").format(sql.Identifier(ANA)))
    d = one(ana, "SELECT lake.entity_details('sandbox.payroll_totals')")
    assert d["lineage"]["upstream"]["nodes"] == [] and d["lineage"]["upstream"]["hidden"] == 1
    d = one(admin, "SELECT lake.entity_details('sandbox.payroll_totals')")
    assert [n["dataset"] for n in d["lineage"]["upstream"]["nodes"]] == ["shop.payroll"]


def test_annotations_notes_glossary_pages(own, ana, stw):
    note = "Always exclude internal accounts (customer_id < 3)"
    nid = one(own, "SELECT lake.add_note('shop.orders', %s)", (note,))
    aid = one(own, "SELECT lake.annotate('shop.orders', 'amount is in EUR, VAT included', 'amount')")
    own.execute("SELECT lake.set_doc('shop.orders', 'One row per order', NULL)")
    own.execute("SELECT lake.set_doc('shop.orders', 'Order value in EUR', 'amount')")
    stw.execute("SELECT lake.define_term('GMV', 'gross merchandise value: sum of order amounts')")
    own.execute("SELECT lake.link_term('GMV', 'shop.orders', 'amount')")
    own.execute("SELECT lake.set_page('orders-model', '# Orders\nJoin orders to customers on customer_id.', "
                "'Orders model', ARRAY['shop.orders'::regclass], ARRAY['GMV'])")
    d = one(ana, "SELECT lake.entity_details('shop.orders')")
    assert [n["body"] for n in d["notes"]] == [note] and d["notes"][0]["id"] == nid
    assert d["annotations"][0]["id"] == aid and d["annotations"][0]["column"] == "amount"
    assert d["description"] == "One row per order"
    cols = {c["name"]: c for c in d["columns"]}
    assert cols["amount"]["doc"] == "Order value in EUR" and cols["amount"]["glossary"] == ["GMV"]
    assert {"term": "GMV", "definition": "gross merchandise value: sum of order amounts",
            "column": "amount"} in d["glossary"]
    assert d["pages"] == [{"name": "orders-model", "title": "Orders model"}]
    # the Postgres comment is the doc, so psql's \d+ shows the same text
    assert one(ana, "SELECT obj_description('shop.orders'::regclass, 'pg_class')") == "One row per order"
    # notes surface in search results, and a word of a note or doc finds the dataset
    res = rows(ana, "SELECT dataset, notes FROM lake.search_datasets('internal accounts')")
    assert ("shop.orders", [note]) in res
    assert "shop.orders" in [r[0] for r in rows(ana, "SELECT dataset FROM lake.search_datasets('GMV')")]
    own.execute("SELECT lake.remove_annotation(%s)", (aid,))
    assert one(ana, "SELECT lake.entity_details('shop.orders')->'annotations'") == []


def test_only_owners_and_stewards_edit(ana, own, stw, admin):
    for q in ("SELECT lake.set_dataset_tags('shop.orders', ARRAY['curated'])",
              "SELECT lake.set_dataset_owners('shop.orders', ARRAY['mallory'])",
              "SELECT lake.set_doc('shop.orders', 'pwned')",
              "SELECT lake.add_note('shop.orders', 'ignore the amount column')",
              "SELECT lake.annotate('shop.orders', 'x', 'amount')",
              "SELECT lake.set_page('evil', 'x', 'x', ARRAY['shop.orders'::regclass])"):
        err = error_of(ana, q)
        assert err.sqlstate == "42501", (q, err)
        assert "lake_steward" in (err.diag.message_hint or ""), q
    assert one(admin, "SELECT obj_description('shop.orders'::regclass, 'pg_class')") != "pwned"
    # a term or page written by one role is not rewritten by another
    own.execute("SELECT lake.define_term('churn', 'customers lost in a month')")
    err = error_of(ana, "SELECT lake.define_term('churn', 'redefined')")
    assert err.sqlstate == "42501"
    stw.execute("SELECT lake.define_term('churn', 'customers lost in a calendar month')")
    assert one(admin, "SELECT definition FROM lake.glossary_terms WHERE term = 'churn'") == \
        "customers lost in a calendar month"
    # the steward edits a dataset it does not own
    stw.execute("SELECT lake.set_dataset_owners('shop.orders', ARRAY['orders team'], 'commerce')")
    d = one(ana, "SELECT lake.entity_details('shop.orders')")
    assert d["owners"] == ["orders team"] and d["team"] == "commerce"
    # ana's own table: it owns it, so it may edit it
    ana.execute("CREATE TEMP TABLE t (x int)")  # temp schemas are not datasets
    err = error_of(ana, "SELECT lake.set_dataset_tags('t', ARRAY['x'])")
    assert err.sqlstate == "42P01"
    # the catalog tables are read-only to users
    err = error_of(ana, "INSERT INTO lake.catalog_annotations (relid, kind, body, author) "
                        "VALUES ('shop.orders', 'note', 'x', 'x')")
    assert err.sqlstate == "42501"
    # internal operations cannot be called with a forged caller
    err = error_of(ana, "SELECT lake_internal._op_catalog_edit(10, '{\"action\": \"set_tags\"}')")
    assert err.sqlstate == "42501"


def test_catalog_rows_of_invisible_datasets_are_hidden(admin, ana):
    admin.execute("SELECT lake.add_note('sandbox.customer_secrets', 'passwords are bcrypt')")
    admin.execute("SELECT lake.annotate('sandbox.partial', 'full PAN, PCI scope', 'card_number')")
    bodies = [b for (b,) in rows(ana, "SELECT body FROM lake.catalog_annotations")]
    assert "passwords are bcrypt" not in bodies and "full PAN, PCI scope" not in bodies
    assert "passwords are bcrypt" in [b for (b,) in rows(admin, "SELECT body FROM lake.catalog_annotations")]


def test_sample_values_read_as_the_caller(ana, admin):
    got = rows(ana, "SELECT value, n FROM lake.sample_values('shop.customers', 'region')")
    expected = rows(admin, "SELECT region, count(*) FROM shop.customers GROUP BY 1 ORDER BY 2 DESC, 1")
    assert got == expected
    err = error_of(ana, "SELECT * FROM lake.sample_values('sandbox.partial', 'card_number')")
    assert err.sqlstate == "42501"
    err = error_of(ana, "SELECT * FROM lake.sample_values('shop.customers', 'nope')")
    assert err.sqlstate == "42703"
    err = error_of(ana, "SELECT * FROM lake.sample_values('shop.customers', 'region', 0)")
    assert err.sqlstate == "22023"


def test_bad_input(ana):
    for q, state in (("SELECT * FROM lake.search_datasets('')", "22023"),
                     ("SELECT * FROM lake.search_datasets('!!! ???')", "22023"),
                     ("SELECT * FROM lake.search_datasets('x', 0)", "22023"),
                     ("SELECT lake.entity_details('a.b.c.d.e')", "42P01"),
                     ("SELECT lake.entity_details('')", "22023"),
                     ("SELECT lake.entity_details('no_such_table')", "42P01")):
        assert error_of(ana, q).sqlstate == state, q
    # quotes and operators in the query are just words
    assert rows(ana, "SELECT * FROM lake.search_datasets(%s)", ("x'); DROP TABLE shop.orders; --",)) is not None
    assert one(ana, "SELECT count(*) FROM shop.orders") == 90


def test_typical_joins_from_the_audit_log(shop, admin):
    """Two governed tables queried together by an analyst with a grant: the
    published views' details name each other as a typical join, with the
    columns the queries used."""
    with session(shop) as a:
        a.execute("CREATE SCHEMA crm_raw")
        a.execute("CREATE TABLE crm_raw.accounts (id int, name text, plan text)")
        a.execute("CREATE TABLE crm_raw.tickets (id int, account_id int, severity int)")
        a.execute("INSERT INTO crm_raw.accounts SELECT g, 'acct ' || g, 'pro' FROM generate_series(1, 5) g")
        a.execute("INSERT INTO crm_raw.tickets SELECT g, 1 + g % 5, g % 3 FROM generate_series(1, 20) g")
        a.execute("SELECT lake.govern_schema('crm_raw', 'crm_pub')")
    with session(shop, REV) as rev:
        for rel, cols in (("crm_raw.accounts", ("id", "name", "plan")), ("crm_raw.tickets", ("id", "account_id", "severity"))):
            for col in cols:
                rev.execute("SELECT lake.approve_column(%s, %s, 'internal')", (rel, col))
            rev.execute("SELECT lake.approve_table(%s, 'ok')", (rel,))
            rev.execute(f"SELECT lake.grant_access('{ANA}', %s, '1 hour', 'support analysis')", (rel,))
    # pending, before review: the raw table is invisible to the analyst
    with session(shop, ANA) as a:
        assert "crm_raw.accounts" not in [d for d, _, _ in search(a, "accounts", 100)]
        marker = f"mcjoin{SUFFIX}"
        for _ in range(3):
            a.execute(f"SELECT /* {marker} */ a.name, count(*) FROM crm_pub.accounts a "
                      f"JOIN crm_pub.tickets t ON t.account_id = a.id GROUP BY a.name")
    wait_for_audit(admin, marker)
    with session(shop, ANA) as a:
        d = one(a, "SELECT lake.entity_details('crm_pub.accounts')")
        assert d["kind"] == "published view"
        assert d["governance"] == {"state": "approved", "published_view": "crm_pub.accounts"}
        joins = [j for j in d["typical_joins"] if j["source"] == "audit log"]
        assert [j["dataset"] for j in joins] == ["crm_pub.tickets"], d["typical_joins"]
        assert joins[0]["queries"] >= 3
        assert set(joins[0]["columns"]) >= {"id", "name"} and set(joins[0]["other_columns"]) >= {"account_id"}
        # the raw relation stays out of sight: hidden in the lineage, no definition
        assert "crm_raw" not in json.dumps([d["typical_joins"], d["lineage"], d["columns"]])
        assert d["definition"] is None and d["lineage"]["upstream"]["hidden"] == 1
