"""Column lineage through models and views (issue 17), what it hides, and
the catalog's YAML files.

Expected values come from what each test set up: the tables, the models'
SQL (written here), the grants, and Postgres' own pg_get_viewdef text for
views; never from townlake's earlier answers.
"""

from __future__ import annotations

import json
import uuid

import pytest
import yaml
from psycopg import sql

from govhelpers import error_of, one, recreate_roles, session

SUFFIX = uuid.uuid4().hex[:6]
OWN = f"ln_own_{SUFFIX}"   # owns schema shop and its models
ANA = f"ln_ana_{SUFFIX}"   # an analyst with column grants
STW = f"ln_stw_{SUFFIX}"   # catalog steward
ROLES = [OWN, ANA, STW]

FACTS_SQL = """WITH o AS (SELECT id, customer_id, amount FROM shop.orders)
SELECT o.id AS order_id, c.region, lower(c.email) AS email_lc, o.amount,
       c.region || ':' || c.email AS region_email
  FROM o JOIN shop.customers c ON c.id = o.customer_id"""
SALES_SQL = "SELECT region, sum(amount) AS revenue, count(*) AS orders FROM shop.order_facts GROUP BY region"


@pytest.fixture(scope="module")
def roles(admin_conn):
    yield from recreate_roles(admin_conn, ROLES)


@pytest.fixture(scope="module")
def shop(roles, database):
    with session(database) as admin:
        admin.execute(sql.SQL("GRANT lake_steward TO {}").format(sql.Identifier(STW)))
        admin.execute(sql.SQL("CREATE SCHEMA shop AUTHORIZATION {}").format(sql.Identifier(OWN)))
        admin.execute(sql.SQL("GRANT USAGE ON SCHEMA shop TO {}, {}").format(sql.Identifier(ANA), sql.Identifier(STW)))
    with session(database, OWN) as own:
        own.execute("""
            CREATE TABLE shop.customers (id int PRIMARY KEY, email text, region text);
            CREATE TABLE shop.orders (id int PRIMARY KEY, customer_id int REFERENCES shop.customers, amount numeric);
        """)
        own.execute("SELECT lake.define_model('order_facts', %s, 'shop.order_facts')", (FACTS_SQL,))
        own.execute("SELECT lake.define_model('region_sales', %s, 'shop.region_sales')", (SALES_SQL,))
        own.execute("""
            CREATE VIEW shop.region_report AS
              SELECT r.region, r.revenue / NULLIF(r.orders, 0) AS avg_order FROM shop.region_sales r;
            CREATE VIEW shop.contacts AS SELECT id, upper(email) AS shout, region FROM shop.customers;
        """)
        g = sql.Identifier(ANA)
        # everything but the e-mail addresses and what is computed from them alone
        own.execute(sql.SQL("GRANT SELECT (id, customer_id, amount) ON shop.orders TO {}").format(g))
        own.execute(sql.SQL("GRANT SELECT (id, region) ON shop.customers TO {}").format(g))
        own.execute(sql.SQL("GRANT SELECT (order_id, region, amount, region_email) ON shop.order_facts TO {}").format(g))
        own.execute(sql.SQL("GRANT SELECT ON shop.region_sales, shop.region_report, shop.contacts TO {}").format(g))
    return database


@pytest.fixture
def own(shop):
    with session(shop, OWN) as c:
        yield c


@pytest.fixture
def ana(shop):
    with session(shop, ANA) as c:
        yield c


@pytest.fixture
def stw(shop):
    with session(shop, STW) as c:
        yield c


@pytest.fixture
def admin(shop):
    with session(shop) as c:
        yield c


def edges(details, direction):
    return {(e["level"], e["dataset"], e["column"], e["from_dataset"], e["from_column"], e["via"], e["kind"])
            for e in details["lineage"]["columns"][direction]}


def viewdef(conn, view):
    return one(conn, "SELECT pg_get_viewdef(%s::regclass)", (view,))


def test_column_lineage_through_two_models_and_a_view(own):
    d = one(own, "SELECT lake.entity_details('shop.region_report')")
    assert edges(d, "upstream") == {
        (1, "shop.region_report", "region", "shop.region_sales", "region", "view", "direct"),
        (1, "shop.region_report", "avg_order", "shop.region_sales", "revenue", "view", "derived"),
        (1, "shop.region_report", "avg_order", "shop.region_sales", "orders", "view", "derived"),
        (2, "shop.region_sales", "region", "shop.order_facts", "region", "model", "direct"),
        (2, "shop.region_sales", "revenue", "shop.order_facts", "amount", "model", "derived"),
        # order_facts.region and .amount come through a CTE and a join
        (3, "shop.order_facts", "region", "shop.customers", "region", "model", "direct"),
        (3, "shop.order_facts", "amount", "shop.orders", "amount", "model", "direct"),
    }
    by_column = {(e["dataset"], e["column"], e["from_column"]): e for e in d["lineage"]["columns"]["upstream"]}
    # the expressions as written: the model's own SQL, the view's text as Postgres prints it
    assert by_column[("shop.region_sales", "revenue", "amount")]["expression"] == "sum(amount)"
    assert by_column[("shop.region_sales", "revenue", "amount")]["producer"] == "region_sales"
    expr = by_column[("shop.region_report", "avg_order", "revenue")]["expression"]
    assert "NULLIF" in expr and expr in viewdef(own, "shop.region_report")
    assert "expression" not in by_column[("shop.region_report", "region", "region")]
    # table level: through the view, then the two models
    up = {n["dataset"]: (n["level"], n["via"]) for n in d["lineage"]["upstream"]["nodes"]}
    assert up == {"shop.region_sales": (1, "view definition"), "shop.order_facts": (2, "model region_sales"),
                  "shop.orders": (3, "model order_facts"), "shop.customers": (3, "model order_facts")}

    down = one(own, "SELECT lake.entity_details('shop.orders')")
    assert edges(down, "downstream") == {
        (1, "shop.order_facts", "order_id", "shop.orders", "id", "model", "direct"),
        (1, "shop.order_facts", "amount", "shop.orders", "amount", "model", "direct"),
        (2, "shop.region_sales", "revenue", "shop.order_facts", "amount", "model", "derived"),
        (3, "shop.region_report", "avg_order", "shop.region_sales", "revenue", "view", "derived"),
    }


def test_producing_sql_and_meaning_of_each_column(own, ana):
    p = one(own, "SELECT lake.entity_details('shop.region_sales')->'produced_by'")
    assert p["via"] == "model" and p["model"] == "region_sales" and p["sql"] == SALES_SQL
    cols = {c["column"]: c for c in p["columns"]}
    assert list(cols) == ["region", "revenue", "orders"]
    assert cols["region"] == {"column": "region", "kind": "direct",
                              "sources": [{"dataset": "shop.order_facts", "column": "region"}]}
    assert cols["revenue"]["expression"] == "sum(amount)" and cols["revenue"]["kind"] == "derived"
    # count(*) reads no column
    assert cols["orders"] == {"column": "orders", "kind": "derived", "expression": "count(*)", "sources": []}
    facts = {c["column"]: c for c in one(own, "SELECT lake.entity_details('shop.order_facts')->'produced_by'")["columns"]}
    assert facts["email_lc"]["expression"] == "lower(c.email)"
    assert facts["region_email"]["expression"] == "c.region || ':' || c.email"
    assert {(s["dataset"], s["column"]) for s in facts["region_email"]["sources"]} == {
        ("shop.customers", "region"), ("shop.customers", "email")}
    # a view: its text and the meaning of each column
    v = one(own, "SELECT lake.entity_details('shop.contacts')->'produced_by'")
    assert v["via"] == "view" and v["sql"] == one(own, "SELECT pg_get_viewdef('shop.contacts'::regclass, true)")
    assert [(c["column"], c.get("kind")) for c in v["columns"]] == [("id", "direct"), ("shout", "derived"), ("region", "direct")]
    # the analyst is not a member of the model's owner: no model SQL, meanings still
    p = one(ana, "SELECT lake.entity_details('shop.region_sales')->'produced_by'")
    assert "sql" not in p and {c["column"] for c in p["columns"]} == {"region", "revenue", "orders"}


def test_lineage_never_shows_what_the_caller_cannot_read(own, ana):
    d = one(ana, "SELECT lake.entity_details('shop.order_facts')")
    text = json.dumps(d)
    # email and email_lc are not granted: neither is named anywhere, nor is the model's SQL shown
    assert "email_lc" not in text and "c.email" not in text and "lower(" not in text
    assert [c["name"] for c in d["columns"]] == ["order_id", "region", "amount", "region_email"]
    assert edges(d, "upstream") == {
        (1, "shop.order_facts", "order_id", "shop.orders", "id", "model", "direct"),
        (1, "shop.order_facts", "region", "shop.customers", "region", "model", "direct"),
        (1, "shop.order_facts", "amount", "shop.orders", "amount", "model", "direct"),
        # region_email also reads email, which the analyst may not read: the
        # visible source shows, the expression does not
        (1, "shop.order_facts", "region_email", "shop.customers", "region", "model", "derived"),
    }
    assert all("expression" not in e for e in d["lineage"]["columns"]["upstream"] if e["column"] == "region_email")
    # the owner sees both sources and the expression
    o = one(own, "SELECT lake.entity_details('shop.order_facts')")
    assert (1, "shop.order_facts", "region_email", "shop.customers", "email", "model", "derived") in edges(o, "upstream")
    # a view over a column the analyst may not read: no edge, no expression, no definition
    v = one(ana, "SELECT lake.entity_details('shop.contacts')")
    assert "email" not in json.dumps(v)
    assert edges(v, "upstream") == {(1, "shop.contacts", "id", "shop.customers", "id", "view", "direct"),
                                    (1, "shop.contacts", "region", "shop.customers", "region", "view", "direct")}
    assert v["definition"] is None
    # downstream of customers: the analyst's view of it omits e-mail derived columns
    down = edges(one(ana, "SELECT lake.entity_details('shop.customers')"), "downstream")
    assert all(e[2] not in ("email_lc", "shout") and e[4] != "email" for e in down), down
    # the table behind the rows is filtered the same way
    assert one(ana, "SELECT count(*) FROM lake.model_column_lineage WHERE source_column = 'email' "
                    "OR target_column = 'email_lc'") == 0
    assert one(own, "SELECT count(*) FROM lake.model_column_lineage WHERE source_column = 'email'") == 2
    assert one(ana, "SELECT count(*) FROM lake.model_columns WHERE target_column = 'region_email'") == 0


def test_redefining_a_model_replaces_its_lineage(own):
    own.execute("SELECT lake.define_model('tmp_lineage', 'SELECT id, amount * 2 AS twice FROM shop.orders', 'shop.tmp_lineage')")
    first = edges(one(own, "SELECT lake.entity_details('shop.tmp_lineage')"), "upstream")
    assert first == {(1, "shop.tmp_lineage", "id", "shop.orders", "id", "model", "direct"),
                     (1, "shop.tmp_lineage", "twice", "shop.orders", "amount", "model", "derived")}
    own.execute("SELECT lake.define_model('tmp_lineage', 'SELECT id, amount AS twice FROM shop.orders', 'shop.tmp_lineage')")
    again = edges(one(own, "SELECT lake.entity_details('shop.tmp_lineage')"), "upstream")
    assert again == {(1, "shop.tmp_lineage", "id", "shop.orders", "id", "model", "direct"),
                     (1, "shop.tmp_lineage", "twice", "shop.orders", "amount", "model", "direct")}
    own.execute("SELECT lake.drop_model('tmp_lineage', true)")
    assert one(own, "SELECT count(*) FROM lake.model_column_lineage WHERE model = 'tmp_lineage'") == 0


def test_set_operations_and_subqueries_in_views(own):
    own.execute("""
        CREATE VIEW shop.all_ids AS
          SELECT id, 'order' AS what FROM shop.orders
          UNION ALL SELECT id, 'customer' FROM shop.customers
          UNION ALL SELECT (SELECT max(customer_id) FROM shop.orders), 'max'
    """)
    d = one(own, "SELECT lake.entity_details('shop.all_ids')")
    assert edges(d, "upstream") == {
        (1, "shop.all_ids", "id", "shop.orders", "id", "view", "derived"),
        (1, "shop.all_ids", "id", "shop.customers", "id", "view", "derived"),
        (1, "shop.all_ids", "id", "shop.orders", "customer_id", "view", "derived"),
    }
    # computed in a subquery, passed on by name: the expression where it is computed
    own.execute("CREATE VIEW shop.doubled AS SELECT s.x FROM (SELECT amount * 2 AS x FROM shop.orders) s")
    (e,) = one(own, "SELECT lake.entity_details('shop.doubled')")["lineage"]["columns"]["upstream"]
    assert (e["from_dataset"], e["from_column"], e["kind"]) == ("shop.orders", "amount", "derived")
    assert "amount" in e["expression"] and "2" in e["expression"] and e["expression"] in viewdef(own, "shop.doubled")


# ---------------------------------------------------------------- YAML files

def set_up_catalog(own):
    own.execute("SELECT lake.set_dataset_tags('shop.orders', ARRAY['curated', 'sales'])")
    own.execute("SELECT lake.set_dataset_owners('shop.orders', ARRAY['ana@example.com', 'bo@example.com'], 'commerce')")
    own.execute("SELECT lake.set_doc('shop.orders', 'One row per order')")
    own.execute("SELECT lake.set_doc('shop.orders', E'Order value in EUR:\\nincludes VAT', 'amount')")
    own.execute("SELECT lake.annotate('shop.orders', 'refunds are negative rows')")
    own.execute("SELECT lake.annotate('shop.orders', 'yes: \"quoted\" # not a comment', 'amount')")
    own.execute("SELECT lake.add_note('shop.orders', 'Always exclude internal accounts (customer_id < 3)')")
    own.execute(f"SELECT lake.define_term('GMV_{SUFFIX}', 'gross merchandise value')")
    own.execute(f"SELECT lake.link_term('GMV_{SUFFIX}', 'shop.orders', 'amount')")
    own.execute(f"SELECT lake.link_term('GMV_{SUFFIX}', 'shop.orders')")
    own.execute(f"SELECT lake.set_page('orders-{SUFFIX}', E'# Orders\\n\\nJoin on customer_id.\\n', 'Orders model', "
                f"ARRAY['shop.orders'::regclass], ARRAY['GMV_{SUFFIX}'])")


def test_yaml_round_trip(own, admin):
    set_up_catalog(own)
    text = one(own, "SELECT lake.export_catalog(ARRAY['shop'])")
    doc = yaml.safe_load(text)
    assert doc["townlake_catalog"] == 1
    assert doc["datasets"]["shop.orders"] == {
        "owners": ["ana@example.com", "bo@example.com"], "team": "commerce", "tags": ["curated", "sales"],
        "doc": "One row per order",
        "annotations": ["refunds are negative rows"],
        "notes": ["Always exclude internal accounts (customer_id < 3)"],
        "terms": [f"GMV_{SUFFIX}"],
        "columns": {"amount": {"doc": "Order value in EUR:\nincludes VAT",
                               "annotations": ['yes: "quoted" # not a comment'], "terms": [f"GMV_{SUFFIX}"]}},
    }
    assert doc["glossary"][f"GMV_{SUFFIX}"] == "gross merchandise value"
    assert doc["pages"][f"orders-{SUFFIX}"] == {"title": "Orders model", "body": "# Orders\n\nJoin on customer_id.\n",
                                               "datasets": ["shop.orders"], "terms": [f"GMV_{SUFFIX}"]}
    # wipe the human parts, load the file back, export again: the same file
    admin.execute("DELETE FROM lake.catalog_datasets WHERE relid = 'shop.orders'::regclass")
    admin.execute("DELETE FROM lake.catalog_annotations WHERE relid = 'shop.orders'::regclass")
    admin.execute("DELETE FROM lake.catalog_pages WHERE name = %s", (f"orders-{SUFFIX}",))
    admin.execute("DELETE FROM lake.glossary_terms WHERE term = %s", (f"GMV_{SUFFIX}",))
    admin.execute("COMMENT ON TABLE shop.orders IS NULL")
    admin.execute("COMMENT ON COLUMN shop.orders.amount IS NULL")
    assert "shop.orders" not in yaml.safe_load(one(own, "SELECT lake.export_catalog(ARRAY['shop'])"))["datasets"]
    result = one(own, "SELECT lake.load_catalog(%s)", (text,))
    # tags, owners, two docs, two annotations, a note, a term, two links, a page
    assert result["changes"] == 11 and result["datasets"] >= 1
    assert one(own, "SELECT lake.export_catalog(ARRAY['shop'])") == text
    # loading the same file again changes nothing
    assert one(own, "SELECT lake.load_catalog(%s)", (text,))["changes"] == 0
    # and what it loaded is what entity_details shows
    d = one(own, "SELECT lake.entity_details('shop.orders')")
    assert d["tags"] == ["curated", "sales"] and d["team"] == "commerce"
    assert [n["body"] for n in d["notes"]] == ["Always exclude internal accounts (customer_id < 3)"]


def test_loading_enforces_ownership(ana, stw, own):
    doc = yaml.safe_dump({"datasets": {"shop.orders": {"tags": ["scratch"]}}})
    e = error_of(ana, "SELECT lake.load_catalog(%s)", (doc,))
    assert e.sqlstate == "42501"
    doc2 = yaml.safe_dump({"datasets": {"shop.orders": {"notes": [f"from the analyst {SUFFIX}"]}}})
    assert error_of(ana, "SELECT lake.load_catalog(%s)", (doc2,)).sqlstate == "42501"
    # nothing of the refused files landed
    assert "scratch" not in one(own, "SELECT lake.entity_details('shop.orders')->'tags'")
    bodies = [n["body"] for n in one(own, "SELECT lake.entity_details('shop.orders')->'notes'")]
    assert f"from the analyst {SUFFIX}" not in bodies
    # a steward may; a key the file leaves out (owners) keeps its value
    before = one(own, "SELECT lake.entity_details('shop.orders')->'owners'")
    assert before, "the round-trip test set owners"
    assert one(stw, "SELECT lake.load_catalog(%s)", (doc2,))["changes"] == 1
    assert one(stw, "SELECT lake.load_catalog(%s)", (yaml.safe_dump({"datasets": {"shop.orders": {"team": "sales"}}}),))["changes"] == 1
    d = one(own, "SELECT lake.entity_details('shop.orders')")
    assert d["owners"] == before and d["team"] == "sales"
    notes = [n["body"] for n in one(own, "SELECT lake.entity_details('shop.orders')->'notes'")]
    assert f"from the analyst {SUFFIX}" in notes


def test_export_shows_only_what_the_caller_reads(ana, own):
    own.execute("SELECT lake.set_doc('shop.customers', 'addresses are private', 'email')")
    own.execute("SELECT lake.set_doc('shop.customers', 'sales region', 'region')")
    doc = yaml.safe_load(one(ana, "SELECT lake.export_catalog()"))
    cols = doc["datasets"]["shop.customers"]["columns"]
    assert cols == {"region": {"doc": "sales region"}}
    doc = yaml.safe_load(one(own, "SELECT lake.export_catalog()"))
    assert doc["datasets"]["shop.customers"]["columns"]["email"] == {"doc": "addresses are private"}


def test_bad_files(own):
    e = error_of(own, "SELECT lake.load_catalog(%s)", ("datasets: [1, 2\n",))
    assert e.sqlstate == "22023" and "line" in str(e)
    e = error_of(own, "SELECT lake.load_catalog(%s)", ("datasets:\n  shop.orders:\n    colour: red\n",))
    assert e.sqlstate == "22023" and 'unknown key "colour"' in str(e)
    e = error_of(own, "SELECT lake.load_catalog(%s)", ("datasets:\n  shop.nope:\n    tags: [a]\n",))
    assert e.sqlstate == "42P01"
    e = error_of(own, "SELECT lake.load_catalog(%s)", ("datasets:\n  shop.orders:\n    tags: curated\n",))
    assert e.sqlstate == "22023" and "list" in str(e)
    e = error_of(own, "SELECT lake.load_catalog(%s)", ("townlake_catalog: 2\n",))
    assert e.sqlstate == "22023"


# ------------------------------------------------------ pg_stat_statements

def test_usage_from_pg_stat_statements(admin, own, ana):
    if one(admin, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'") == 0:
        pytest.skip("pg_stat_statements (contrib) is not installed on this server")
    if "pg_stat_statements" not in one(admin, "SHOW shared_preload_libraries"):
        pytest.skip("the server does not preload pg_stat_statements (scripts/cluster.sh does)")
    admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    own.execute("CREATE TABLE shop.vault (customer_id int, secret text)")
    for _ in range(3):
        ana.execute("SELECT c.region, sum(o.amount) FROM shop.orders o "
                    "JOIN shop.customers c ON c.id = o.customer_id GROUP BY 1")
    # the owner joins orders to a table the analyst may not read
    own.execute("SELECT v.secret FROM shop.orders JOIN shop.vault v USING (customer_id)")
    d = one(ana, "SELECT lake.entity_details('shop.orders')")
    pss = [j for j in d["typical_joins"] if j["source"] == "pg_stat_statements"]
    assert [j["dataset"] for j in pss] == ["shop.customers"], d["typical_joins"]
    assert pss[0]["join_on"] == ["customer_id = shop.customers.id"]
    assert pss[0]["calls"] >= 3 and pss[0]["statements"] == 1
    # both statements read orders; the analyst learns the count, nothing of the other text
    assert d["usage"]["pg_stat_statements"]["statements"] >= 2
    assert "vault" not in json.dumps(d) and "secret" not in json.dumps(d)
    o = one(own, "SELECT lake.entity_details('shop.orders')")
    joined = {j["dataset"]: j["join_on"] for j in o["typical_joins"] if j["source"] == "pg_stat_statements"}
    assert joined == {"shop.customers": ["customer_id = shop.customers.id"],
                      "shop.vault": ["customer_id = shop.vault.customer_id"]}


def test_pipelines_are_lineage_edges(own, ana):
    """A pipeline copying a relation is an edge from its source to its
    target, column by column, for whoever may see the pipeline and read both
    ends."""
    own.execute("SELECT lake.define_pipeline('customers_copy', 'shop.customers', 'shop.customers_copy', "
                "mode => 'replace', target_server => NULL)")
    try:
        d = one(own, "SELECT lake.entity_details('shop.customers_copy')")
        assert edges(d, "upstream") == {
            (1, "shop.customers_copy", c, "shop.customers", c, "pipeline", "direct") for c in ("id", "email", "region")}
        up = {n["dataset"]: (n["level"], n["via"]) for n in d["lineage"]["upstream"]["nodes"]}
        assert up == {"shop.customers": (1, "pipeline customers_copy")}
        down = one(own, "SELECT lake.entity_details('shop.customers')")
        assert {e for e in edges(down, "downstream") if e[5] == "pipeline"} == {
            (1, "shop.customers_copy", c, "shop.customers", c, "pipeline", "direct") for c in ("id", "email", "region")}
        # the analyst sees neither the pipeline nor its edges
        down = one(ana, "SELECT lake.entity_details('shop.customers')")
        assert not [e for e in edges(down, "downstream") if e[5] == "pipeline"]
    finally:
        own.execute("SELECT lake.drop_pipeline('customers_copy', true)")


def test_a_model_reading_no_column_of_a_relation_is_still_downstream_of_it(own):
    """count(*) over a relation takes none of its columns: the relation-level
    edge comes from the relations the model's SQL reads (its dependencies)."""
    own.execute("SELECT lake.define_model('orders_counted', 'SELECT count(*) AS n FROM shop.orders', 'shop.orders_counted')")
    try:
        up = one(own, "SELECT lake.entity_details('shop.orders_counted')")
        assert {n["dataset"]: (n["level"], n["via"]) for n in up["lineage"]["upstream"]["nodes"]} == \
            {"shop.orders": (1, "model orders_counted")}
        down = one(own, "SELECT lake.entity_details('shop.orders')")
        assert ("shop.orders_counted", 1, "model orders_counted") in \
            {(n["dataset"], n["level"], n["via"]) for n in down["lineage"]["downstream"]["nodes"]}
    finally:
        own.execute("SELECT lake.drop_model('orders_counted', true)")
