"""lake.scan, the findings tables, the queue and the review-queue suggestion."""

import hashlib
import random
import uuid

import psycopg
import pytest

from conftest import connect

rng = random.Random(11)

FIRST = ["Anna", "John", "Maria", "Pierre", "Sofia", "Lars", "Giulia", "Tomasz", "Emma", "Noah"]
LAST = ["Smith", "Müller", "Garcia", "Rossi", "Dubois", "Nowak", "Jansen", "Silva", "Berg", "Brown"]


@pytest.fixture(scope="module")
def shop(conn):
    """Three tables: customers (PII), orders (a foreign key to customers), products (hard negatives)."""
    conn.execute("CREATE SCHEMA shop")
    conn.execute("""
        CREATE TABLE shop.customers (
            id uuid PRIMARY KEY, first_name text, last_name text, email text, phone text,
            dob date, zip text, city text, street text, notes text, created_at timestamptz)""")
    rows = []
    for i in range(600):
        f, l = rng.choice(FIRST), rng.choice(LAST)
        rows.append((str(uuid.uuid4()), f, l, f"{f.lower()}.{l.lower()}{i}@example.com",
                     f"+1-{rng.randint(200, 989)}-{rng.randint(200, 989)}-{rng.randint(0, 9999):04d}",
                     f"{rng.randint(1940, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                     f"{rng.randint(10000, 99999)}", rng.choice(["Springfield", "Berlin", "Lyon"]),
                     f"{rng.randint(1, 999)} {rng.choice(LAST)} Street", "prefers e-mail contact",
                     "2024-05-01 10:00:00+00"))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO shop.customers VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows)
    conn.execute("""
        CREATE TABLE shop.orders (
            order_id uuid PRIMARY KEY, customer_id uuid REFERENCES shop.customers, amount numeric(10,2),
            order_ref text, created_at timestamptz)""")
    conn.execute("""
        INSERT INTO shop.orders
        SELECT gen_random_uuid(), c.id, (random() * 500)::numeric(10,2),
               lpad((random() * 999)::int::text, 3, '0') || '-' || lpad((random() * 999)::int::text, 3, '0') || '-' ||
               lpad((random() * 9999)::int::text, 4, '0'), now()
        FROM shop.customers c, generate_series(1, 2)""")
    conn.execute("""
        CREATE TABLE shop.products (product_id uuid, sku text, version text, checksum text, price numeric(10,2))""")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO shop.products VALUES (%s,%s,%s,%s,%s)", [
            (str(uuid.uuid4()), f"SKU-{i:08d}", f"{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
             hashlib.sha256(f"p{i}".encode()).hexdigest(), round(rng.uniform(1, 99), 2)) for i in range(400)])
    # The queue compares modification counters from the cumulative statistics,
    # which a session publishes when it goes idle; publish ours now.
    conn.execute("SELECT pg_stat_force_next_flush()")
    return "shop"


def columns(conn, table):
    rows = conn.execute("""
        SELECT column_name, infotypes, sensitivity, mask, changed_at IS NOT NULL
        FROM lake.pii_columns WHERE relation = %s::regclass ORDER BY attnum""", (table,)).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_scan_one_relation(conn, shop):
    row = conn.execute("SELECT * FROM lake.scan('shop.customers')").fetchone()
    relation, ncols, sampled, pii_columns, _changed, table_pass, duration_ms, error = row
    assert relation == "shop.customers" and error is None
    assert ncols == 11 and sampled == 600 and table_pass and duration_ms > 0
    found = columns(conn, "shop.customers")
    assert found["email"][:3] == (["email"], "pii", "lake.mask_email(text)")
    assert found["first_name"][0] == ["person_name"]
    assert found["last_name"][0] == ["person_name"]
    assert found["phone"][0] == ["phone"]
    assert found["dob"][:3] == (["date_of_birth"], "pii", "lake.mask_year(date)")
    assert found["zip"][0] == ["postcode"]
    assert found["street"][0] == ["postal_address"]
    assert found["id"][0] == ["user_tracking_id"]
    for clean in ("city", "notes", "created_at"):
        assert found[clean][:3] == ([], None, None), clean
    assert pii_columns == 8


def test_review_queue_suggestion(conn, shop):
    conn.execute("SELECT lake.scan('shop.customers')")
    sensitivity, mask, infotypes = conn.execute(
        "SELECT sensitivity, mask, infotypes FROM lake.pii_suggestion('shop.customers', 'email')").fetchone()
    assert (sensitivity, mask, infotypes) == ("pii", "lake.mask_email(text)", ["email"])
    assert conn.execute("SELECT sensitivity FROM lake.pii_suggestion('shop.customers', 'city')").fetchone() == (None,)
    # The suggested mask is a valid regprocedure once governance defines it.
    if conn.execute("SELECT to_regprocedure('lake.mask_email(text)') IS NOT NULL").fetchone()[0]:
        conn.execute("SELECT mask::regprocedure FROM lake.pii_suggestion('shop.customers', 'email')")


def test_findings_hold_no_raw_values(conn, shop):
    conn.execute("SELECT lake.scan('shop.customers')")
    stored = conn.execute("""
        SELECT string_agg(f::text, ' ') FROM lake.pii_findings f WHERE relation = 'shop.customers'::regclass""").fetchone()[0]
    samples = conn.execute("SELECT email, phone, street, first_name || ' ' || last_name FROM shop.customers LIMIT 50").fetchall()
    for row in samples:
        for value in row:
            assert value not in stored
    evidence = conn.execute("SELECT evidence FROM lake.pii_findings WHERE column_name = 'email'").fetchone()[0]
    assert any("e-mail" in line for line in evidence)


def test_scan_everything_queued(conn, shop):
    rows = conn.execute("SELECT relation, pii_columns, error FROM lake.scan()").fetchall()
    scanned = {r[0]: r for r in rows}
    assert "shop.products" in scanned and "shop.orders" in scanned
    assert scanned["shop.products"][1] == 0, columns(conn, "shop.products")
    orders = columns(conn, "shop.orders")
    assert orders["customer_id"][0] == ["user_tracking_id"], "a foreign key to customers ties it to people"
    assert orders["order_id"][0] == [] and orders["order_ref"][0] == []
    # Nothing is queued any more.
    assert conn.execute("SELECT count(*) FROM lake.scan()").fetchone()[0] == 0
    status = dict(conn.execute("SELECT relation::text, status FROM lake.scan_status WHERE schema_name = 'shop'").fetchall())
    assert set(status.values()) == {"scanned"}


def test_queue_follows_changes(conn, shop):
    conn.execute("SELECT lake.scan()")
    conn.execute("ALTER TABLE shop.products ADD COLUMN owner_email text")
    conn.execute("CREATE TABLE shop.new_things (a int)")
    status = {r[0]: r[1:] for r in conn.execute(
        "SELECT relation::text, status, queued_because FROM lake.scan_status WHERE schema_name = 'shop'").fetchall()}
    assert status["shop.products"] == ("queued for rescan", "columns changed")
    assert status["shop.new_things"] == ("queued", "new relation")
    conn.execute("TRUNCATE shop.new_things")
    conn.execute("SELECT lake.scan()")
    conn.execute("TRUNCATE shop.new_things")
    status = dict(conn.execute("SELECT relation::text, queued_because FROM lake.scan_status WHERE schema_name = 'shop'").fetchall())
    assert status["shop.new_things"] == "table rewritten"
    progress = conn.execute("SELECT relations, queued, classifier_version FROM lake.scan_progress").fetchone()
    assert progress[0] >= 4 and progress[1] >= 1 and progress[2]
    conn.execute("DROP TABLE shop.new_things")
    conn.execute("ALTER TABLE shop.products DROP COLUMN owner_email")
    conn.execute("SELECT lake.scan()")


def test_changed_findings_are_flagged_and_announced(conn, shop):
    conn.execute("CREATE TABLE shop.contacts (id int, misc text)")
    conn.execute("INSERT INTO shop.contacts SELECT i, 'call later' FROM generate_series(1, 200) i")
    conn.execute("SELECT lake.scan('shop.contacts')")
    assert columns(conn, "shop.contacts")["misc"] == ([], None, None, False)
    before = conn.execute("SELECT scanned_at FROM lake.pii_columns WHERE column_name = 'misc'").fetchone()[0]

    with connect(conn.info.dbname) as listener:
        listener.execute("LISTEN townlake_pii")
        conn.execute("UPDATE shop.contacts SET misc = 'person' || id || '@example.com'")
        conn.execute("SELECT lake.scan('shop.contacts')")
        notes = list(listener.notifies(timeout=5, stop_after=1))
    infotypes, _, mask, changed = columns(conn, "shop.contacts")["misc"]
    assert infotypes == ["email"] and mask == "lake.mask_email(text)" and changed
    changed_at = conn.execute("SELECT changed_at FROM lake.pii_columns WHERE column_name = 'misc'").fetchone()[0]
    assert changed_at > before
    assert notes and '"misc"' in notes[0].payload and "shop.contacts" in notes[0].payload
    # The same finding again is not a change.
    conn.execute("SELECT lake.scan('shop.contacts')")
    assert conn.execute("SELECT changed_at FROM lake.pii_columns WHERE column_name = 'misc'").fetchone()[0] == changed_at
    conn.execute("DROP TABLE shop.contacts")


def test_errors_are_recorded_and_the_scan_goes_on(conn, shop):
    conn.execute("""
        CREATE FOREIGN TABLE shop.broken (a int) SERVER lake_local
        OPTIONS (metadata_location 'file:///nonexistent/v1.metadata.json')""")
    conn.execute("CREATE TABLE shop.fine (email text)")
    conn.execute("INSERT INTO shop.fine VALUES ('a@example.com'), ('b@example.com')")
    rows = {r[0]: r for r in conn.execute("SELECT relation, pii_columns, error FROM lake.scan()").fetchall()}
    assert rows["shop.broken"][2] and "metadata" in rows["shop.broken"][2]
    assert rows["shop.fine"][1] == 1 and rows["shop.fine"][2] is None
    error = conn.execute("SELECT last_error FROM lake.scan_status WHERE relation = 'shop.broken'::regclass").fetchone()[0]
    assert error
    # The session is fine afterwards.
    assert conn.execute("SELECT 1").fetchone() == (1,)
    conn.execute("DROP FOREIGN TABLE shop.broken")
    conn.execute("DROP TABLE shop.fine")
    conn.execute("SELECT lake.scan()")
    left = conn.execute("SELECT count(*) FROM lake.pii_scan_state WHERE table_name IN ('broken', 'fine')").fetchone()[0]
    assert left == 0, "dropped relations are forgotten"


def test_system_and_townlake_schemas_are_not_scanned(conn, shop):
    schemas = {r[0] for r in conn.execute("SELECT DISTINCT schema_name FROM lake_internal.pii_relations()").fetchall()}
    assert not schemas & {"lake", "pg_catalog", "information_schema"}


def test_eval_classifier(conn, shop):
    conn.execute("CREATE TABLE public.shop_labels (table_name text, column_name text, infotype text)")
    labels = [("shop.customers", c, t) for c, t in [
        ("id", "user_tracking_id"), ("first_name", "person_name"), ("last_name", "person_name"), ("email", "email"),
        ("phone", "phone"), ("dob", "date_of_birth"), ("zip", "postcode"), ("street", "postal_address")]]
    labels += [("shop.products", "sku", "none"), ("shop.orders", "customer_id", "user_tracking_id")]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO public.shop_labels VALUES (%s, %s, %s)", labels)
    rows = {r[0]: r[1:] for r in conn.execute("SELECT * FROM lake.eval_classifier('public.shop_labels')").fetchall()}
    labelled, predicted, tp, precision, recall, f2 = rows["any_pii"]
    assert labelled == 9 and recall == 1.0 and precision == 1.0 and f2 == 1.0
    assert rows["person_name"][:3] == (2, 2, 2)
    details = conn.execute("""
        SELECT count(*) FROM lake.eval_classifier_details('public.shop_labels') WHERE outcome NOT IN ('clean', 'correct')
    """).fetchone()[0]
    assert details == 0
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute("INSERT INTO public.shop_labels VALUES ('shop.nope', 'x', 'email')")
        conn.execute("SELECT * FROM lake.eval_classifier('public.shop_labels')")
    conn.execute("DROP TABLE public.shop_labels")
