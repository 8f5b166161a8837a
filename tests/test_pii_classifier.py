"""lake.classify and lake.classify_details: the PII classifier from SQL."""

import hashlib
import random
import uuid

import pytest

rng = random.Random(5)


def classify(conn, values, column_name=None):
    rows = conn.execute("SELECT infotype, confidence, matches, sampled FROM lake.classify(%s::text[], %s)",
                        (values, column_name)).fetchall()
    return {r[0]: r for r in rows}


def filler(n):
    words = ["great", "product", "arrived", "late", "box", "was", "fine", "thanks", "again", "would", "buy", "size"]
    return [" ".join(rng.choice(words) for _ in range(12)) for _ in range(n)]


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def luhn_failing_16() -> str:
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    return body + str((int(luhn_digit(body)) + 3) % 10)


def test_clean_column_has_no_rows(conn):
    assert classify(conn, filler(200), "notes") == {}
    assert classify(conn, ["active", "pending", "closed"] * 50, "status") == {}


def test_emails_are_found_with_counts(conn):
    found = classify(conn, ["jane@example.com", "bob.smith+x@mail.example.org", None, "n/a"], "contact")
    assert set(found) == {"email"}
    _, confidence, matches, sampled = found["email"]
    assert confidence >= 0.9
    assert (matches, sampled) == (2, 4)


def test_one_percent_of_free_text(conn):
    values = filler(990) + [f"please write to customer{i}@example.org about the refund" for i in range(10)]
    rng.shuffle(values)
    found = classify(conn, values, "notes")
    assert set(found) == {"email"}
    assert found["email"][2:] == (10, 1000)


@pytest.mark.parametrize("name, values, expected", [
    ("col_1", ["+1-415-555-2671", "+44 20 7946 0958", "+49 30 901820", "(212) 555-0142", "+33 1 42 68 53 00"], "phone"),
    ("col_2", ["203.0.113.7", "198.51.100.23", "192.0.2.140", "100.64.3.9"], "ipv4"),
    ("col_3", ["2001:db8::8a2e:370:7334", "fe80::1ff:fe23:4567:890a"], "ipv6"),
    ("col_4", ["00:1a:2b:3c:4d:5e", "a4-83-e7-12-9c-01"], "mac_address"),
    ("col_5", ["4111 1111 1111 1111", "5555555555554444", "378282246310005"], "credit_card"),
    ("col_6", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"], "iban"),
    ("col_7", ["138-73-1034", "262-16-8118", "512-44-9021"], "us_ssn"),
    ("col_8", ["BCCFRC15M25E852P", "22179636T", "191002A584N", "961112-5825"], "national_id"),
    ("col_9", ["40.71427, -74.00597", "48.85661, 2.35222", "-33.86785, 151.20732"], "geo_coordinates"),
    ("col_10", ["postgres://app:s3cret@db.internal:5432/prod"], "url_with_credentials"),
    ("col_11", ["AKIAIOSFODNN7EXAMPLE", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"], "secret"),
    ("col_12", ["Kathryn Coffey", "Horst-Günter Beyer", "Luce Simon", "田中 裕太"], "person_name"),
    ("col_13", ["812 Wood Street Apt. 704", "Slavko-Blümel-Straße 49/98", "19, rue Noémi Antoine"], "postal_address"),
    ("visitor_id", [str(uuid.uuid4()) for _ in range(50)], "user_tracking_id"),
    ("dob", ["1974-08-19", "1988-02-03", "1961-11-30", "2001-06-07", "1955-01-15", "1979-12-24",
             "1969-03-03", "1992-09-09", "1983-04-21"], "date_of_birth"),
    ("zip", ["97906", "44108", "95067", "10115", "75008"], "postcode"),
])
def test_infotypes(conn, name, values, expected):
    found = classify(conn, values, name)
    assert expected in found, f"{expected} not in {found}"


@pytest.mark.parametrize("name, values", [
    ("card_ref", [luhn_failing_16() for _ in range(300)]),
    ("order_ref", [f"{rng.randint(0, 999):03d}-{rng.randint(0, 999):03d}-{rng.randint(0, 9999):04d}" for _ in range(300)]),
    ("product_id", [str(uuid.uuid4()) for _ in range(300)]),
    ("version", [f"{rng.randint(0, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}" for _ in range(300)]),
    ("checksum", [hashlib.sha256(str(i).encode()).hexdigest() for i in range(300)]),
    ("col_1", [str(uuid.uuid4()) for _ in range(300)]),
])
def test_hard_negatives(conn, name, values):
    assert classify(conn, values, name) == {}


def test_threshold_setting(conn):
    values = ["Anna", "John", "Maria"] * 20
    assert "person_name" in classify(conn, values, "first_name")
    conn.execute("SET townlake.pii_threshold = 0.999")
    try:
        assert classify(conn, values, "first_name") == {}
    finally:
        conn.execute("RESET townlake.pii_threshold")


def test_null_and_empty_input(conn):
    assert conn.execute("SELECT count(*) FROM lake.classify(NULL::text[])").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM lake.classify('{}'::text[])").fetchone()[0] == 0
    # No values yet (a new, empty column): the name alone gives a modest suggestion.
    row = conn.execute("SELECT infotype, confidence FROM lake.classify(ARRAY[NULL, NULL]::text[], 'email')").fetchone()
    assert row[0] == "email" and 0.5 <= row[1] < 0.8


def test_details_explain_without_values(conn):
    values = ["jane@example.com", "4111 1111 1111 1111", "hello"]
    rows = conn.execute("SELECT infotype, confidence, evidence FROM lake.classify_details(%s::text[], 'misc')",
                        (values,)).fetchall()
    assert {r[0] for r in rows} >= {"email", "credit_card"}
    for _, _, evidence in rows:
        assert evidence, "every candidate carries evidence"
        for line in evidence:
            for v in values:
                assert v not in line, "evidence must not repeat raw values"


def test_json_cells_are_searched(conn):
    values = ['{"event": "click", "n": %d}' % i for i in range(99)]
    values.append('{"event": "signup", "user": {"email": "u1@example.com", "first_name": "Anna"}}')
    found = classify(conn, values, "payload")
    assert "email" in found
