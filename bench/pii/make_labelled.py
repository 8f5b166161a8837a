#!/usr/bin/env python3
"""Builds the labelled PII benchmark: synthetic tables in schema `pii_bench`
and a labels table `pii_bench.labels (table_name, column_name, infotype)`.

What makes it hard, on purpose:
  * values from 13 Faker locales (names, addresses, phones, postcodes, ids);
  * misleading and meaningless column names (col_17, notes, ref, data);
  * hard negatives: Luhn-failing 16-digit numbers, order ids shaped like
    phone numbers, product UUIDs, SHA-256 of non-personal data, version
    strings shaped like IPv4 addresses, company and city names, recent dates;
  * PII in 1% of rows (sparse columns, free text, JSON payloads);
  * PII inside JSON documents and free text.

Every column of every benchmark table is labelled: its infotypes, or 'none'.

Usage: make_labelled.py [--rows N] [--seed S]   (libpq environment: PGHOST, PGPORT, PGDATABASE, PGUSER)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import random
import string
import uuid

import psycopg
from faker import Faker

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE", "fi_FI",
           "ja_JP", "zh_CN"]

rng = random.Random(0)


class Table:
    """A table under construction: column definitions, value generators, labels."""

    def __init__(self, name: str):
        self.name = name
        self.columns: list[tuple[str, str, object, list[str]]] = []

    def col(self, name: str, sql_type: str, gen, *infotypes: str):
        self.columns.append((name, sql_type, gen, list(infotypes)))
        return self


def sparse(gen, share: float = 0.01, filler=None):
    """PII in `share` of rows; the rest NULL (or a filler value)."""
    def make(i):
        if rng.random() < share or i == 0:
            return gen(i)
        return filler(i) if filler else None
    return make


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_failing_16() -> str:
    body = str(rng.choice([4, 5])) + "".join(rng.choice(string.digits) for _ in range(14))
    good = luhn_digit(body)
    return body + str((int(good) + rng.randint(1, 9)) % 10)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits


def secret_value(i: int) -> str:
    kind = i % 6
    if kind == 0:
        return "AKIA" + token("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    if kind == 1:
        return "ghp_" + token(ALNUM, 36)
    if kind == 2:
        return "sk_live_" + token(ALNUM, 24)
    if kind == 3:
        return f"xoxb-{token(string.digits, 12)}-{token(string.digits, 13)}-{token(ALNUM, 24)}"
    if kind == 4:
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps({"sub": str(rng.randint(1, 10**9)), "iat": 1700000000 + i}).encode())
        return f"{header}.{payload}.{b64url(rng.randbytes(32))}"
    body = base64.b64encode(rng.randbytes(600)).decode()
    lines = "\n".join(body[k:k + 64] for k in range(0, len(body), 64))
    return f"-----BEGIN PRIVATE KEY-----\n{lines}\n-----END PRIVATE KEY-----"


def phone_shaped_order_id() -> str:
    return f"{token(string.digits, 3)}-{token(string.digits, 3)}-{token(string.digits, 4)}"


def version_string() -> str:
    parts = [rng.randint(0, 15), rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 20)]
    return ".".join(str(p) for p in parts[: rng.choice([3, 4, 4])])


def build_tables(rows: int, seed: int, customer_locales: list[str]) -> list[Table]:
    fakers = {loc: Faker(loc) for loc in dict.fromkeys(LOCALES + customer_locales)}
    for k, f in enumerate(fakers.values()):
        f.seed_instance(1000 + k + 7919 * seed)
    us = fakers["en_US"]
    any_locale = lambda: fakers[rng.choice(LOCALES)]  # noqa: E731
    western = [loc for loc in LOCALES if loc not in ("ja_JP", "zh_CN")]

    def person_name():
        f = any_locale()
        return f"{f.last_name()} {f.first_name()}" if f in (fakers["ja_JP"], fakers["zh_CN"]) else f.name()

    def dob(f=us):
        return f.date_of_birth(minimum_age=16, maximum_age=95)

    def sentence(f=us):
        return f.sentence(nb_words=rng.randint(8, 20))

    tables: list[Table] = []

    # Customers in every locale, meaningful names: the easy, common case.
    us_customer_ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(rows)]
    for loc in customer_locales:
        f = fakers[loc]
        t = Table(f"customers_{loc.lower()}")
        if loc == customer_locales[0]:
            t.col("id", "uuid PRIMARY KEY", lambda i: us_customer_ids[i], "user_tracking_id")
        else:
            t.col("id", "uuid", lambda i: str(uuid.UUID(int=rng.getrandbits(128), version=4)), "user_tracking_id")
        t.col("first_name", "text", lambda i, f=f: f.first_name(), "person_name")
        t.col("last_name", "text", lambda i, f=f: f.last_name(), "person_name")
        t.col("email", "text", lambda i, f=f: f.email(), "email")
        t.col("phone", "text", lambda i, f=f: f.phone_number(), "phone")
        t.col("street", "text", lambda i, f=f: f.street_address(), "postal_address")
        t.col("city", "text", lambda i, f=f: f.city())
        t.col("postcode", "text", lambda i, f=f: f.postcode(), "postcode")
        t.col("birth_date", "date", lambda i, f=f: dob(f), "date_of_birth")
        t.col("created_at", "timestamptz", lambda i, f=f: f.date_time_between("-3y", "now"))
        t.col("status", "text", lambda i: rng.choice(["active", "pending", "closed"]))
        t.col("loyalty_points", "int", lambda i: rng.randint(0, 50000))
        tables.append(t)

    # Orders point at customers: the foreign key ties an opaque id to people.
    t = Table("orders")
    t.col("order_id", "uuid", lambda i: str(uuid.uuid4()))
    t.col("buyer", f"uuid REFERENCES {{schema}}.customers_{customer_locales[0].lower()} (id)", lambda i: rng.choice(us_customer_ids), "user_tracking_id")
    t.col("amount", "numeric(10,2)", lambda i: round(rng.uniform(5, 900), 2))
    t.col("currency", "text", lambda i: rng.choice(["EUR", "USD", "GBP"]))
    t.col("ordered_at", "timestamptz", lambda i: us.date_time_between("-1y", "now"))
    tables.append(t)

    # Meaningless names: only the values can tell.
    t = Table("misc_records")
    t.col("col_1", "text", lambda i: any_locale().email(), "email")
    t.col("col_2", "text", lambda i: person_name(), "person_name")
    t.col("col_3", "text", lambda i: any_locale().phone_number(), "phone")
    t.col("col_4", "text", lambda i: us.ipv4_public(), "ipv4")
    t.col("col_5", "text", lambda i: us.ipv6(), "ipv6")
    t.col("col_6", "text", lambda i: us.mac_address(), "mac_address")
    t.col("col_7", "text", lambda i: fakers[rng.choice(["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_GB"])].iban(), "iban")
    t.col("col_8", "text", lambda i: us.credit_card_number(), "credit_card")
    t.col("col_9", "text", lambda i: us.ssn(), "us_ssn")
    t.col("col_10", "text", lambda i: f"{us.latitude():.6f}, {us.longitude():.6f}", "geo_coordinates")
    t.col("col_11", "text", lambda i: f"postgres://{us.user_name()}:{us.password()}@{us.domain_name()}:5432/{us.word()}", "url_with_credentials")
    t.col("col_12", "text", secret_value, "secret")
    t.col("col_13", "text", lambda i: us.user_agent())
    t.col("col_14", "uuid", lambda i: str(uuid.uuid4()))
    t.col("col_15", "text", lambda i: hashlib.sha256(rng.randbytes(32)).hexdigest())
    t.col("col_16", "text", lambda i: version_string())
    t.col("col_17", "numeric(10,2)", lambda i: round(rng.uniform(1, 999), 2))
    t.col("col_18", "text", lambda i: luhn_failing_16())
    t.col("col_19", "text", lambda i: phone_shaped_order_id())
    t.col("col_20", "text", lambda i: sentence())
    t.col("col_21", "text", lambda i: any_locale().company())
    t.col("col_22", "text", lambda i: fakers[rng.choice(western)].city())
    t.col("col_23", "date", lambda i: us.date_between("-2y", "today"))
    t.col("col_24", "boolean", lambda i: rng.random() < 0.5)
    t.col("col_25", "bigint", lambda i: rng.randint(1, 10**12))
    t.col("col_26", "text", lambda i: fakers["nl_NL"].ssn(), "national_id")
    t.col("col_27", "text", lambda i: fakers["it_IT"].ssn(), "national_id")
    t.col("col_28", "text", lambda i: fakers["pt_BR"].cpf(), "national_id")
    t.col("col_29", "text", lambda i: fakers["fi_FI"].ssn(), "national_id")
    t.col("col_30", "text", lambda i: fakers["zh_CN"].ssn(), "national_id")
    t.col("col_31", "text", lambda i: us.catch_phrase())
    t.col("col_32", "text", lambda i: us.job())
    tables.append(t)

    # Meaningful names that are hard negatives.
    t = Table("products")
    t.col("product_id", "uuid", lambda i: str(uuid.uuid4()))
    t.col("sku", "text", lambda i: f"SKU-{rng.randint(10**7, 10**8 - 1)}")
    t.col("name", "text", lambda i: f"{us.color_name()} {rng.choice(['Chair', 'Lamp', 'Desk', 'Mug'])}")
    t.col("version", "text", lambda i: version_string())
    t.col("checksum", "text", lambda i: hashlib.sha256(rng.randbytes(64)).hexdigest())
    t.col("order_number", "text", lambda i: phone_shaped_order_id())
    t.col("card_ref", "text", lambda i: luhn_failing_16())
    t.col("release_date", "date", lambda i: us.date_between("-6y", "today"))
    t.col("price", "numeric(10,2)", lambda i: round(rng.uniform(1, 500), 2))
    t.col("supplier", "text", lambda i: any_locale().company())
    tables.append(t)

    # Events: sparse PII in JSON and free text; tracking ids by name.
    def payload(i):
        doc = {"event": rng.choice(["view", "click", "scroll"]), "path": f"/p/{rng.randint(1, 500)}", "ms": rng.randint(5, 900)}
        if rng.random() < 0.01 or i == 0:
            doc["form"] = {"email": us.email(), "phone": us.phone_number()}
        return json.dumps(doc)

    t = Table("web_events")
    t.col("event_id", "uuid", lambda i: str(uuid.uuid4()))
    t.col("visitor_id", "uuid", lambda i: str(uuid.uuid4()), "user_tracking_id")
    t.col("session_key", "text", lambda i: token("0123456789abcdef", 32), "user_tracking_id")
    t.col("device_id", "text", lambda i: str(uuid.uuid4()).upper(), "user_tracking_id")
    t.col("occurred_at", "timestamptz", lambda i: us.date_time_between("-30d", "now"))
    t.col("payload", "jsonb", payload, "email", "phone")
    t.col("client_ip", "inet", lambda i: us.ipv4_public(), "ipv4")
    t.col("user_agent", "text", lambda i: us.user_agent())
    t.col("referrer", "text", lambda i: us.url())
    tables.append(t)

    # Support tickets: PII in 1% of free-text rows, and 99%-empty columns.
    def body(i):
        text = sentence()
        if rng.random() < 0.01 or i == 0:
            f = fakers[rng.choice(["en_US", "en_GB", "de_DE", "fr_FR"])]
            extra = rng.choice([
                f"Please reach me at {f.email()} today.",
                f"Call me back on {f.phone_number()} after five.",
            ])
            text = f"{text} {extra}"
        return text

    def resolution(i):
        text = sentence()
        if rng.random() < 0.01 or i == 0:
            f = fakers[rng.choice(["de_DE", "fr_FR", "en_GB", "nl_NL"])]
            extra = rng.choice([
                f"Customer card {us.credit_card_number()} was charged twice.",
                f"Refunded to IBAN {f.iban()} on request.",
            ])
            text = f"{text} {extra}"
        return text

    def notes(i):
        text = sentence()
        if rng.random() < 0.01 or i == 0:
            text = f"{text} Spoke with {us.first_name()} {us.last_name()}, born {us.date_of_birth().isoformat()}, SSN {us.ssn()}."
        return text

    t = Table("support_tickets")
    t.col("ticket_no", "int", lambda i: 100000 + i)
    t.col("subject", "text", lambda i: us.sentence(nb_words=5))
    t.col("body", "text", body, "email", "phone")
    t.col("resolution", "text", resolution, "credit_card", "iban")
    t.col("notes", "text", notes, "person_name", "date_of_birth", "us_ssn")
    t.col("callback", "text", sparse(lambda i: us.phone_number()), "phone")
    t.col("alt_contact", "text", sparse(lambda i: us.email(), filler=lambda i: ""), "email")
    t.col("ref", "text", lambda i: phone_shaped_order_id())
    t.col("priority", "text", lambda i: rng.choice(["low", "normal", "high"]))
    tables.append(t)

    # Profiles as JSON documents: every field is keyed.
    def profile(i):
        f = fakers[rng.choice(western)]
        return json.dumps({
            "first_name": f.first_name(), "last_name": f.last_name(), "email": f.email(),
            "phone": f.phone_number(), "address": {"street": f.street_address(), "city": f.city(), "zip": f.postcode()},
            "dob": dob(f).isoformat(), "home": {"lat": float(f.latitude()), "lng": float(f.longitude())},
            "prefs": {"newsletter": rng.random() < 0.5, "theme": rng.choice(["dark", "light"])},
        })

    t = Table("app_profiles")
    t.col("profile_id", "bigint", lambda i: i + 1)
    t.col("data", "jsonb", profile, "person_name", "email", "phone", "postal_address", "postcode",
          "date_of_birth", "geo_coordinates")
    t.col("settings", "jsonb", lambda i: json.dumps({"lang": rng.choice(["en", "de", "fr"]), "tz": "UTC", "beta": False}))
    tables.append(t)

    # Credentials with meaningful names.
    t = Table("integrations")
    t.col("integration_id", "int", lambda i: i + 1)
    t.col("provider", "text", lambda i: rng.choice(["github", "stripe", "slack", "aws"]))
    t.col("api_token", "text", secret_value, "secret")
    t.col("client_secret", "text", lambda i: b64url(rng.randbytes(30)), "secret")
    t.col("password_hash", "text", lambda i: "$2b$12$" + token(string.ascii_letters + string.digits + "./", 53), "secret")
    t.col("webhook_url", "text", lambda i: f"https://hooks:{token(ALNUM, 20)}@{us.domain_name()}/in/{i}", "url_with_credentials")
    t.col("api_version", "text", lambda i: version_string())
    t.col("endpoint", "text", lambda i: us.url())
    tables.append(t)

    # Coordinates as separate numeric columns; visitor location.
    t = Table("store_visits")
    t.col("visit_id", "bigint", lambda i: i + 1)
    t.col("store_id", "int", lambda i: rng.randint(1, 400))
    t.col("lat", "double precision", lambda i: float(us.latitude()), "geo_coordinates")
    t.col("lng", "double precision", lambda i: float(us.longitude()), "geo_coordinates")
    t.col("visited_at", "timestamptz", lambda i: us.date_time_between("-1y", "now"))
    t.col("basket_total", "numeric(10,2)", lambda i: round(rng.uniform(1, 300), 4))
    tables.append(t)

    # People with an opaque column layout: birth dates and postcodes need the table pass.
    t = Table("hr_people")
    t.col("employee_no", "int", lambda i: 5000 + i)
    t.col("col_a", "text", lambda i: fakers[rng.choice(western)].name(), "person_name")
    t.col("col_b", "date", lambda i: dob(), "date_of_birth")
    t.col("col_c", "date", lambda i: us.date_between("-15y", "today"))
    t.col("col_d", "text", lambda i: fakers["de_DE"].postcode(), "postcode")
    t.col("city", "text", lambda i: fakers["de_DE"].city())
    t.col("street", "text", lambda i: fakers["de_DE"].street_address(), "postal_address")
    t.col("department", "text", lambda i: rng.choice(["Sales", "IT", "Finance", "Support"]))
    t.col("salary_band", "text", lambda i: rng.choice(["A", "B", "C", "D"]))
    tables.append(t)

    # A log table: addresses of devices and people in text, versions that look like IPs.
    def log_line(i):
        if rng.random() < 0.3:
            return f"login failed for user from {us.ipv4_public()} port {rng.randint(1000, 65000)}"
        return f"agent upgraded to version {version_string()} on node {rng.randint(1, 50)}"

    t = Table("audit_lines")
    t.col("line_no", "bigint", lambda i: i + 1)
    t.col("message", "text", log_line, "ipv4")
    t.col("agent_version", "text", lambda i: version_string())
    t.col("host_mac", "macaddr", lambda i: us.mac_address(), "mac_address")
    t.col("firmware", "text", lambda i: f"{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)}")
    tables.append(t)

    # Hard negatives with meaningful names: book and bank data.
    def ean13(prefix: str) -> str:
        body = prefix + token(string.digits, 12 - len(prefix))
        total = sum(int(d) * (3 if k % 2 else 1) for k, d in enumerate(body))
        return body + str((10 - total % 10) % 10)

    t = Table("library_items")
    t.col("isbn", "text", lambda i: ean13("978"))
    t.col("ean", "text", lambda i: ean13(rng.choice(["400", "500", "871"])))
    t.col("title", "text", lambda i: us.catch_phrase().title())
    t.col("author", "text", lambda i: fakers[rng.choice(western)].name(), "person_name")
    t.col("published_on", "date", lambda i: us.date_between("-120y", "-1y"))
    t.col("shelf", "text", lambda i: f"{rng.choice('ABCDEFGH')}{rng.randint(1, 40)}")
    tables.append(t)

    t = Table("bank_accounts")
    t.col("account_number", "text", lambda i: token(string.digits, 10))
    t.col("iban", "text", lambda i: fakers[rng.choice(["de_DE", "fr_FR", "nl_NL", "es_ES"])].iban(), "iban")
    t.col("holder", "text", lambda i: fakers[rng.choice(western)].name(), "person_name")
    t.col("opened_on", "date", lambda i: us.date_between("-20y", "today"))
    t.col("balance", "numeric(12,2)", lambda i: round(rng.uniform(-500, 90000), 2))
    t.col("branch", "text", lambda i: fakers["de_DE"].city())
    tables.append(t)

    t = Table("devices")
    t.col("serial_number", "text", lambda i: "SN" + token(string.ascii_uppercase + string.digits, 10))
    t.col("mac", "text", lambda i: us.mac_address().upper().replace(":", "-"), "mac_address")
    t.col("firmware_version", "text", lambda i: version_string())
    t.col("owner_email", "text", lambda i: us.email(), "email")
    t.col("last_seen", "timestamptz", lambda i: us.date_time_between("-7d", "now"))
    t.col("commit", "text", lambda i: hashlib.sha1(rng.randbytes(16)).hexdigest())
    tables.append(t)

    t = Table("messages")
    t.col("message_id", "text", lambda i: token("0123456789abcdef", 24))
    t.col("subject", "text", lambda i: us.sentence(nb_words=6))
    t.col("body", "text", lambda i: us.paragraph(nb_sentences=4))
    t.col("sent_at", "timestamptz", lambda i: us.date_time_between("-1y", "now"))
    tables.append(t)

    return tables


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_value(v) -> str:
    if v is None:
        return "\\N"
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def write(conn: psycopg.Connection, tables: list[Table], rows: int, schema: str) -> int:
    conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
    conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
    labels = []
    for t in tables:
        qualified = f"{quote_ident(schema)}.{quote_ident(t.name)}"
        cols = ", ".join(f"{quote_ident(c)} {ty.replace('{schema}', quote_ident(schema))}" for c, ty, _, _ in t.columns)
        conn.execute(f"CREATE TABLE {qualified} ({cols})")
        buf = io.StringIO()
        for i in range(rows):
            buf.write("\t".join(copy_value(gen(i)) for _, _, gen, _ in t.columns))
            buf.write("\n")
        with conn.cursor() as cur:
            with cur.copy(f"COPY {qualified} FROM STDIN") as copy:
                copy.write(buf.getvalue())
        for c, _, _, infotypes in t.columns:
            for infotype in infotypes or ["none"]:
                labels.append((f"{schema}.{t.name}", c, infotype))
        conn.execute(f"ANALYZE {qualified}")
    conn.execute(f"CREATE TABLE {quote_ident(schema)}.labels (table_name text, column_name text, infotype text)")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {quote_ident(schema)}.labels VALUES (%s, %s, %s)", labels)
    return len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000, help="rows per table (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--schema", default="pii_bench")
    parser.add_argument("--customer-locales", default=",".join(LOCALES),
                        help="locales of the customers_* tables (others, e.g. ko_KR,ru_RU,cs_CZ, test how well it generalises)")
    args = parser.parse_args()
    rng.seed(args.seed)
    Faker.seed(args.seed)
    tables = build_tables(args.rows, args.seed, args.customer_locales.split(","))
    with psycopg.connect(autocommit=True) as conn:
        n = write(conn, tables, args.rows, args.schema)
    columns = sum(len(t.columns) for t in tables)
    pii = sum(1 for t in tables for c in t.columns if c[3])
    print(f"wrote {len(tables)} tables, {columns} columns ({pii} with PII, {columns - pii} clean), "
          f"{args.rows} rows each, {n} labels in {args.schema}.labels on {os.environ.get('PGDATABASE', '(default db)')}")


if __name__ == "__main__":
    main()
