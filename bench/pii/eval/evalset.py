#!/usr/bin/env python3
"""Labelled column sets for evaluating PII classifiers.

Two sets, kept apart:

* ``frozen`` — the held-out evaluation set. Nobody tunes on it. Its values come
  from sources the classifier was not developed with:
    (a) generators other than the development one (Faker): Mimesis in locales
        not used for development (Cyrillic, Greek, Arabic, Persian, Hangul and
        several Latin-script locales), presidio-evaluator's FakeNameGenerator
        records and sentence templates; Devanagari names come from Faker's
        hi_IN, a locale the development set does not use (Mimesis has no
        Devanagari locale);
    (b) public format examples built by each specification's algorithm and
        checked by an independent implementation (python-stdnum validates
        every national identifier; libphonenumber's own example numbers via
        `phonenumbers`; credential tokens by their vendors' published
        prefix/structure; ICAO 9303 check digits for passport numbers);
    (c) hard negatives from real open data shipped in PyPI packages
        (vega_datasets, scikit-learn, plotly, presidio-evaluator's company
        list, the versions and file hashes of the installed Python packages).
  It is reproducible from its seed and the pinned package versions
  (bench/pii/requirements-eval.txt); `evalset.py --hash` prints its digest,
  recorded in docs/pii.md: a different digest means the set drifted.

* ``fresh`` — a second held-out draw (classifier 1.3.0): Mimesis and Faker in locales no other table
  uses, single-word name columns, account names and addresses under opaque column names next to
  towns, regions, companies, job titles, words and dishes. Frozen (digest in docs/pii.md) before any
  result on it was looked at; like ``frozen``, reported once per change and never tuned on.

* ``fresh2`` — a third held-out draw (classifier 1.4.0): Faker and Mimesis in locales no other table uses
  and three generators from PyPI no other table uses (farsi-faker, chinesename, fake-name-india). Frozen
  (digest in docs/pii.md and run.sh) before any result on it was looked at.

* ``fresh3`` — a fourth held-out draw (classifier 1.6.0): six name generators from PyPI no other table uses
  (gimei, turkish-name-generator, tamil-names, korean-name-generator, russian-names, hebrew-names), Faker in
  locales no other table uses (es_CA, en_PH, en_BD), Mimesis in ar-om and ar-qa. Frozen (digest in
  docs/pii.md and run.sh) before any result on it was looked at.

* ``fresh4`` — a fifth held-out draw (classifier 1.7.0): generators from PyPI no other table uses (niafaker in
  ten African countries, mingzi, neym, persian-names, ArabicNames, pyranda) under a column-name recipe no
  other set uses (camelCase, generic and misleading words, the language's own word). Frozen (digest in
  docs/pii.md and run.sh) before any result on it was looked at.

* ``dev`` — the development set for tuning: Faker in other locales, and its
  own id/credential generators, with different seeds and column names.
  ``dev9`` is its newest part alone (``dev_more9``, classifier 1.8.0), for quick runs.

Each column carries the set of PII *families* it holds (empty: clean).

Usage: evalset.py --set frozen|fresh|fresh2|fresh3|fresh4|fresh5|dev|dev9 [--seed N] [--rows N] [--hash] [--summary]
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import hashlib
import io
import json
import os
import random
import string
import sys
import uuid
import zlib
from dataclasses import dataclass, field

FAMILIES = ["person_name", "national_id", "contact", "address", "online_id", "credential", "network",
            "financial", "date_of_birth", "geo"]

FROZEN_SEED = 20261202
# The held-out sets: reported once per change, never tuned on, no per-column output.
HELD_OUT = ("frozen", "fresh", "fresh2", "fresh3", "fresh4", "fresh5")


@dataclass
class Column:
    name: str
    sql_type: str
    values: list
    families: set = field(default_factory=set)
    source: str = ""


@dataclass
class Table:
    name: str
    columns: list = field(default_factory=list)

    def add(self, name, sql_type, values, *families, source=""):
        self.columns.append(Column(name, sql_type, list(values), set(families), source))
        return self


def sparse(rng, n, make, share, filler):
    """`make()` in about `share` of `n` rows (at least two), `filler()` elsewhere."""
    rows = [make() if rng.random() < share else filler() for _ in range(n)]
    for i in rng.sample(range(n), 2):
        rows[i] = make()
    return rows


# ---------------------------------------------------------------------------
# (b) identifiers built by their specification's algorithm, checked by stdnum
# ---------------------------------------------------------------------------

def _digits(rng, k):
    return "".join(rng.choice(string.digits) for _ in range(k))


def _date(rng, lo=1940, hi=2006):
    return dt.date(rng.randint(lo, hi), rng.randint(1, 12), rng.randint(1, 28))


def rejection(rng, make, module, fmt=None, tries=5000):
    """Draws candidates until the independent validator accepts one."""
    import importlib
    mod = importlib.import_module("stdnum." + module)
    for _ in range(tries):
        cand = make(rng)
        if mod.is_valid(cand):
            if fmt == "format" and hasattr(mod, "format"):
                return mod.format(cand)
            return cand
    raise RuntimeError(f"no valid {module} in {tries} tries")


def _it_cf(rng):
    letters = string.ascii_uppercase
    months = "ABCDEHLMPRST"
    body = ("".join(rng.choice(letters) for _ in range(6)) + _digits(rng, 2) + rng.choice(months)
            + f"{rng.randint(1, 28) + rng.choice([0, 40]):02d}" + rng.choice(letters) + _digits(rng, 3))
    from stdnum.it import codicefiscale
    return body + codicefiscale.calc_check_digit(body)


def _cn_ric(rng):
    d = _date(rng)
    return rng.choice(["110101", "310104", "440305", "510107", "360426"]) + d.strftime("%Y%m%d") + _digits(rng, 4)


def _kr_rrn(rng):
    d = _date(rng, 1950, 1999)
    return d.strftime("%y%m%d") + rng.choice("12") + _digits(rng, 6)


def _mx_curp(rng):
    L = string.ascii_uppercase
    d = _date(rng)
    return ("".join(rng.choice("BCDFGHJKLMNPRSTVZ") for _ in range(1)) + rng.choice("AEIOU")
            + "".join(rng.choice(L) for _ in range(2)) + d.strftime("%y%m%d") + rng.choice("HM")
            + rng.choice(["DF", "JC", "NL", "MC", "PL", "VZ"]) + "".join(rng.choice("BCDFGHJKLMNPRSTVZ") for _ in range(3))
            + "0" + _digits(rng, 1))


def _za_id(rng):
    return _date(rng).strftime("%y%m%d") + _digits(rng, 4) + rng.choice("01") + "8" + _digits(rng, 1)


def _ee_ik(rng):
    d = _date(rng, 1950, 1999)
    return rng.choice("3456"[:2]) + d.strftime("%y%m%d") + _digits(rng, 4)


def _se_pnr(rng):
    return _date(rng).strftime("%y%m%d") + "-" + _digits(rng, 4)


def _no_fnr(rng):
    return _date(rng).strftime("%d%m%y") + _digits(rng, 5)


def _fi_hetu(rng):
    d = _date(rng)
    sep = "-" if d.year < 2000 else "A"
    return d.strftime("%d%m%y") + sep + f"{rng.randint(2, 899):03d}" + rng.choice("0123456789ABCDEFHJKLMNPRSTUVWXY")


def _dk_cpr(rng):
    return _date(rng, 1940, 1999).strftime("%d%m%y") + "-" + _digits(rng, 4)


def _cz_rc(rng):
    d = _date(rng, 1954, 1999)
    month = d.month + rng.choice([0, 50])
    return f"{d.year % 100:02d}{month:02d}{d.day:02d}/" + _digits(rng, 4)


def _ro_cnp(rng):
    d = _date(rng, 1940, 1999)
    return rng.choice("12") + d.strftime("%y%m%d") + f"{rng.randint(1, 46):02d}" + _digits(rng, 4)


def _bg_egn(rng):
    d = _date(rng, 1940, 1999)
    return d.strftime("%y%m%d") + _digits(rng, 4)


def _pl_pesel(rng):
    d = _date(rng, 1940, 1999)
    return d.strftime("%y%m%d") + _digits(rng, 5)


def _gr_amka(rng):
    return _date(rng).strftime("%d%m%y") + _digits(rng, 5)


def _be_nn(rng):
    return _date(rng, 1940, 1999).strftime("%y%m%d") + _digits(rng, 5)


def _fr_nir(rng):
    d = _date(rng, 1940, 1999)
    return rng.choice("12") + d.strftime("%y%m") + f"{rng.randint(1, 95):02d}" + _digits(rng, 8)


def _is_kt(rng):
    d = _date(rng, 1940, 1999)
    return d.strftime("%d%m%y") + _digits(rng, 3) + "9"


def _lt_ak(rng):
    d = _date(rng, 1940, 1999)
    return rng.choice("34") + d.strftime("%y%m%d") + _digits(rng, 4)


def _tr_tc(rng):
    return str(rng.randint(1, 9)) + _digits(rng, 10)


# (label, column name, generator producing a value the validator accepts)
NATIONAL_IDS = {
    "us_ssn": lambda r: rejection(r, lambda r: f"{_digits(r, 3)}-{_digits(r, 2)}-{_digits(r, 4)}", "us.ssn"),
    "us_itin": lambda r: rejection(r, lambda r: f"9{_digits(r, 2)}-{r.choice(['70', '78', '83', '90', '94'])}-{_digits(r, 4)}", "us.itin"),
    "nl_bsn": lambda r: rejection(r, lambda r: _digits(r, 9), "nl.bsn"),
    "de_idnr": lambda r: rejection(r, lambda r: str(r.randint(1, 9)) + _digits(r, 10), "de.idnr", "format"),
    "fr_nir": lambda r: rejection(r, _fr_nir, "fr.nir", "format"),
    "es_dni": lambda r: rejection(r, lambda r: _digits(r, 8) + r.choice(string.ascii_uppercase), "es.dni"),
    "es_nie": lambda r: rejection(r, lambda r: r.choice("XYZ") + _digits(r, 7) + r.choice(string.ascii_uppercase), "es.nie"),
    "it_cf": _it_cf,
    "pt_nif": lambda r: rejection(r, lambda r: r.choice("123") + _digits(r, 8), "pt.nif"),
    "be_nn": lambda r: rejection(r, _be_nn, "be.nn", "format"),
    "dk_cpr": lambda r: rejection(r, _dk_cpr, "dk.cpr"),
    "se_pnr": lambda r: rejection(r, _se_pnr, "se.personnummer"),
    "no_fnr": lambda r: rejection(r, _no_fnr, "no.fodselsnummer"),
    "fi_hetu": lambda r: rejection(r, _fi_hetu, "fi.hetu"),
    "pl_pesel": lambda r: rejection(r, _pl_pesel, "pl.pesel"),
    "cz_rc": lambda r: rejection(r, _cz_rc, "cz.rc"),
    "ro_cnp": lambda r: rejection(r, _ro_cnp, "ro.cnp"),
    "bg_egn": lambda r: rejection(r, _bg_egn, "bg.egn"),
    "hr_oib": lambda r: rejection(r, lambda r: _digits(r, 11), "hr.oib"),
    "ee_ik": lambda r: rejection(r, _ee_ik, "ee.ik"),
    "lt_ak": lambda r: rejection(r, _lt_ak, "lt.asmens"),
    "in_aadhaar": lambda r: rejection(r, lambda r: str(r.randint(2, 9)) + _digits(r, 11), "in_.aadhaar", "format"),
    "in_pan": lambda r: rejection(r, lambda r: "".join(r.choice(string.ascii_uppercase) for _ in range(3)) + "P"
                                  + r.choice(string.ascii_uppercase) + _digits(r, 4) + r.choice(string.ascii_uppercase), "in_.pan"),
    "br_cpf": lambda r: rejection(r, lambda r: _digits(r, 11), "br.cpf", "format"),
    "cn_ric": lambda r: rejection(r, _cn_ric, "cn.ric"),
    "jp_mynumber": lambda r: rejection(r, lambda r: _digits(r, 12), "jp.in_"),
    "kr_rrn": lambda r: rejection(r, _kr_rrn, "kr.rrn", "format"),
    "au_tfn": lambda r: rejection(r, lambda r: _digits(r, 9), "au.tfn", "format"),
    "ca_sin": lambda r: rejection(r, lambda r: str(r.randint(1, 7)) + _digits(r, 8), "ca.sin", "format"),
    "mx_curp": lambda r: rejection(r, _mx_curp, "mx.curp", tries=20000),
    "za_id": lambda r: rejection(r, _za_id, "za.idnr"),
    "tr_tckimlik": lambda r: rejection(r, _tr_tc, "tr.tckimlik"),
    "il_id": lambda r: rejection(r, lambda r: _digits(r, 9), "il.idnr"),
    "gb_nhs": lambda r: rejection(r, lambda r: str(r.randint(4, 6)) + _digits(r, 9), "gb.nhs", "format"),
    "ch_ahv": lambda r: rejection(r, lambda r: "756" + _digits(r, 10), "ch.ssn", "format"),
    "is_kennitala": lambda r: rejection(r, _is_kt, "is_.kennitala", "format"),
    "gr_amka": lambda r: rejection(r, _gr_amka, "gr.amka"),
    "ru_inn": lambda r: rejection(r, lambda r: _digits(r, 12), "ru.inn"),
    "cl_rut": lambda r: rejection(r, lambda r: str(r.randint(5, 25)) + _digits(r, 6) + r.choice("0123456789K"), "cl.rut", "format"),
    "ec_ci": lambda r: rejection(r, lambda r: f"{r.randint(1, 24):02d}" + r.choice("012345") + _digits(r, 7), "ec.ci"),
}


def icao_check(s: str) -> str:
    """ICAO 9303 check digit: weights 7, 3, 1 over digits, A=10 … Z=35, '<'=0."""
    total = 0
    for i, ch in enumerate(s):
        v = int(ch) if ch.isdigit() else (0 if ch == "<" else ord(ch) - 55)
        total += v * (7, 3, 1)[i % 3]
    return str(total % 10)


def passport_number(rng):
    """A 9-character document number as printed in the MRZ, with its check digit appended (10 chars)."""
    alnum = "CFGHJKLMNPRTVWXYZ" + string.digits
    doc = rng.choice("CFGHJKLMNPRTVWXYZ") + "".join(rng.choice(alnum) for _ in range(8))
    return doc + icao_check(doc)


# ---------------------------------------------------------------------------
# credentials by their vendors' published prefixes and structures
# ---------------------------------------------------------------------------

B62 = string.ascii_letters + string.digits


def _b62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[r] + out
    return out.rjust(width, "0")


def _rand(rng, alphabet, k):
    return "".join(rng.choice(alphabet) for _ in range(k))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng):
    alg = rng.choice(["HS256", "RS256", "ES384", "EdDSA", "PS512"])
    header = {"alg": alg, "typ": "JWT"} if rng.random() < 0.7 else {"kid": _rand(rng, B62, 8), "alg": alg}
    payload = {"sub": str(rng.randint(1, 10**9)), "iat": rng.randint(1.6e9, 1.8e9),
               "scope": rng.choice(["read", "admin write", "openid profile"])}
    sig = bytes(rng.getrandbits(8) for _ in range(rng.choice([32, 48, 64, 256])))
    return ".".join([_b64url(json.dumps(header).encode()), _b64url(json.dumps(payload).encode()), _b64url(sig)])


def github_token(rng):
    body = _rand(rng, B62, 30)
    return rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + body + _b62(zlib.crc32(body.encode()), 6)


CREDENTIALS = {
    "aws_access_key_id": lambda r: r.choice(["AKIA", "ASIA"]) + _rand(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
    "github_token": github_token,
    "github_fine_grained": lambda r: "github_pat_" + _rand(r, B62, 22) + "_" + _rand(r, B62, 59),
    "gitlab_pat": lambda r: "glpat-" + _rand(r, B62 + "-_", 20),
    "slack_bot": lambda r: f"xoxb-{_digits(r, 12)}-{_digits(r, 13)}-{_rand(r, B62, 24)}",
    "stripe_secret": lambda r: r.choice(["sk_live_", "rk_live_", "sk_test_"]) + _rand(r, B62, r.choice([24, 99])),
    "google_api_key": lambda r: "AIza" + _rand(r, B62 + "-_", 35),
    "sendgrid": lambda r: "SG." + _rand(r, B62 + "-_", 22) + "." + _rand(r, B62 + "-_", 43),
    "npm_token": lambda r: "npm_" + _rand(r, B62, 36),
    "pypi_token": lambda r: "pypi-AgEIcHlwaS5vcmc" + _rand(r, B62 + "-_", 150),
    "shopify": lambda r: r.choice(["shpat_", "shpss_", "shpca_"]) + _rand(r, "0123456789abcdef", 32),
    "huggingface": lambda r: "hf_" + _rand(r, string.ascii_letters, 34),
    "anthropic": lambda r: "sk-ant-api03-" + _rand(r, B62 + "-_", 93) + "AA",
    "openai": lambda r: "sk-proj-" + _rand(r, B62 + "-_", 156),
    "digitalocean": lambda r: "dop_v1_" + _rand(r, "0123456789abcdef", 64),
    "twilio": lambda r: "SK" + _rand(r, "0123456789abcdef", 32),
    "square": lambda r: "sq0atp-" + _rand(r, B62 + "-_", 22),
    "jwt": jwt,
    "bcrypt": lambda r: "$2b$12$" + _rand(r, "./" + B62, 53),
    "argon2": lambda r: "$argon2id$v=19$m=65536,t=3,p=4$" + _rand(r, B62 + "+/", 22) + "$" + _rand(r, B62 + "+/", 43),
    "sha512_crypt": lambda r: "$6$" + _rand(r, "./" + B62, 16) + "$" + _rand(r, "./" + B62, 86),
    "django_pbkdf2": lambda r: "pbkdf2_sha256$600000$" + _rand(r, B62, 22) + "$" + _rand(r, B62 + "+/", 43) + "=",
}


def pem_key(rng):
    kind = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    body = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(rng.choice([121, 1190])))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


# ---------------------------------------------------------------------------
# financial, network
# ---------------------------------------------------------------------------

IBAN_LENGTHS = {"NO": 15, "BE": 16, "DK": 18, "FI": 18, "NL": 18, "AT": 20, "EE": 20, "LT": 20, "HR": 21, "CH": 21,
                "CZ": 24, "SK": 24, "SA": 24, "TR": 26, "IS": 26, "GR": 27, "PT": 25, "HU": 28, "UA": 29,
                "KZ": 20, "AE": 23, "EG": 29, "QA": 29}


def iban(rng, country):
    from stdnum import iban as ib
    n = IBAN_LENGTHS[country]
    for _ in range(1000):
        bban = _digits(rng, n - 4) if country not in ("NL", "QA") else \
            "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + _digits(rng, n - 8)
        digits = "".join(str(int(c, 36)) for c in bban + country + "00")
        check = 98 - int(digits) % 97
        cand = f"{country}{check:02d}{bban}"
        if ib.is_valid(cand):
            return ib.format(cand) if rng.random() < 0.5 else cand
    raise RuntimeError(country)


def card(rng, prefix, length):
    from stdnum import luhn
    body = prefix + _digits(rng, length - len(prefix) - 1)
    num = body + luhn.calc_check_digit(body)
    if rng.random() < 0.4:
        return " ".join(num[i:i + 4] for i in range(0, len(num), 4))
    return num


# ---------------------------------------------------------------------------
# the frozen set
# ---------------------------------------------------------------------------

# Locales not used for development (the dev set uses Faker in the locales listed in DEV_LOCALES).
MIMESIS_LOCALES = ["ru", "uk", "kk", "el", "ar-eg", "ar-sa", "fa", "ko", "tr", "cs", "hu", "da", "et", "hr", "is",
                   "sk", "no", "pt", "es-mx", "en-au", "en-ca", "de-at", "nl-be", "az"]

# Column names by family: localised, plain English, opaque and misleading ones.
NAME_POOL = {
    "full_name": ["full_name", "name", "customer", "holder", "ФИО", "όνομα", "الاسم", "이름", "ad_soyad", "jméno",
                  "navn", "contact_person", "c2", "field_a", "owner", "recipient"],
    "first_name": ["first_name", "given", "имя", "fornavn", "vorname", "keresztnev", "c3", "attr_1"],
    "last_name": ["last_name", "surname", "фамилия", "efternavn", "sukunimi", "prezime", "c4", "attr_2"],
    "email": ["email", "e_mail", "correo", "почта", "mail", "login", "c5", "contact", "ref"],
    "phone": ["phone", "telefon", "телефон", "mobile", "gsm", "tel_no", "c6", "reference", "version_ref", "number"],
    "address": ["address", "адрес", "adresse", "street", "διεύθυνση", "cím", "c7", "line1", "location"],
    "postcode": ["postal_code", "zip", "индекс", "postnummer", "irsz", "c8", "code"],
    "dob": ["birthdate", "dob", "дата_рождения", "fødselsdato", "born_on", "c9", "date_1"],
    "username": ["username", "user_name", "handle", "nick", "login_name", "screen_name", "c10", "account"],
    "password": ["password", "passwd", "пароль", "pwd", "secret", "c11"],
}


def pick(rng, pool):
    return rng.choice(NAME_POOL[pool])


def unique_names(cols):
    seen = {}
    for c in cols:
        base = c.name[:50]
        k = seen.get(base, 0)
        seen[base] = k + 1
        c.name = base if k == 0 else f"{base}_{k}"


def frozen_people(rng, rows):
    """(a) Mimesis person tables, one per held-out locale."""
    from mimesis import Address, Datetime, Internet, Payment, Person, Text
    from mimesis.random import Random as MRandom
    tables = []
    for i, loc in enumerate(MIMESIS_LOCALES):
        seed = rng.randint(0, 2**31)
        person, addr, dtp = Person(loc, seed=seed), Address(loc, seed=seed + 1), Datetime(loc, seed=seed + 2)
        net, pay, text = Internet(seed=seed + 3), Payment(seed=seed + 4), Text(loc, seed=seed + 5)
        t = Table(f"people_{loc.replace('-', '_')}")
        style = rng.choice(["full", "split"])
        if style == "full":
            t.add(pick(rng, "full_name"), "text", [person.full_name() for _ in range(rows)], "person_name", source="mimesis")
        else:
            t.add(pick(rng, "first_name"), "text", [person.first_name() for _ in range(rows)], "person_name", source="mimesis")
            t.add(pick(rng, "last_name"), "text", [person.last_name() for _ in range(rows)], "person_name", source="mimesis")
        if rng.random() < 0.8:
            t.add(pick(rng, "email"), "text", [person.email() for _ in range(rows)], "contact", source="mimesis")
        t.add(pick(rng, "phone"), "text", [person.telephone() for _ in range(rows)], "contact", source="mimesis")
        if rng.random() < 0.7:
            t.add(pick(rng, "address"), "text", [addr.address() for _ in range(rows)], "address", source="mimesis")
        if rng.random() < 0.6:
            t.add(pick(rng, "postcode"), "text", [addr.postal_code() for _ in range(rows)], "address", source="mimesis")
        if rng.random() < 0.6:
            dob_type = rng.choice(["date", "text"])
            t.add(pick(rng, "dob"), dob_type, [dtp.date(1945, 2006).isoformat() for _ in range(rows)], "date_of_birth",
                  source="mimesis")
        if rng.random() < 0.5:
            t.add(pick(rng, "username"), "text", [person.username() for _ in range(rows)], "online_id", source="mimesis")
        if rng.random() < 0.3:
            t.add(pick(rng, "password"), "text", [person.password(length=rng.randint(8, 14)) for _ in range(rows)],
                  "credential", source="mimesis")
        # clean columns about people and things
        t.add("city", "text", [addr.city() for _ in range(rows)], source="mimesis")
        t.add(rng.choice(["occupation", "job", "c12"]), "text", [person.occupation() for _ in range(rows)], source="mimesis")
        t.add(rng.choice(["nationality", "c13"]), "text", [person.nationality() for _ in range(rows)], source="mimesis")
        t.add(rng.choice(["height", "c14"]), "numeric", [person.height() for _ in range(rows)], source="mimesis")
        t.add(rng.choice(["created_at", "updated"]), "date", [dtp.date(2015, 2025).isoformat() for _ in range(rows)],
              source="mimesis")
        t.add(rng.choice(["country", "land"]), "text", [addr.country() for _ in range(rows)], source="mimesis")
        t.add(rng.choice(["comment", "note", "c15"]), "text", [text.sentence() for _ in range(rows)], source="mimesis")
        unique_names(t.columns)
        tables.append(t)
    # Devanagari names: Faker hi_IN, a locale the development set does not use (Mimesis has none).
    from faker import Faker
    fk = Faker("hi_IN")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("people_hi")
    t.add(rng.choice(["naam", "name", "c2"]), "text", [fk.first_name() + " " + fk.last_name() for _ in range(rows)],
          "person_name", source="faker hi_IN")
    t.add("shahar", "text", [fk.city() for _ in range(rows)], source="faker hi_IN")
    t.add("vyavsay", "text", [fk.job() for _ in range(rows)], source="faker hi_IN")
    tables.append(t)
    return tables


def frozen_fng(rng, rows):
    """(a) presidio-evaluator's FakeNameGenerator records (many name sets and countries)."""
    import presidio_evaluator
    path = os.path.join(os.path.dirname(presidio_evaluator.__file__), "data_generator", "raw_data",
                        "FakeNameGenerator.com_3000.csv")
    with open(path, encoding="utf-8-sig") as f:
        recs = list(csv.DictReader(f))
    rng.shuffle(recs)
    tables = []
    for k in range(3):
        chunk = [recs[(k * rows + j) % len(recs)] for j in range(rows)]
        t = Table(f"fng_{k}")
        t.add(rng.choice(["GivenName", "vorname", "f1"]), "text", [r["GivenName"] for r in chunk], "person_name",
              source="fakenamegenerator")
        t.add(rng.choice(["Surname", "f2", "family"]), "text", [r["Surname"] for r in chunk], "person_name",
              source="fakenamegenerator")
        t.add(rng.choice(["StreetAddress", "f3"]), "text", [r["StreetAddress"] for r in chunk], "address",
              source="fakenamegenerator")
        t.add(rng.choice(["EmailAddress", "f4"]), "text", [r["EmailAddress"] for r in chunk], "contact",
              source="fakenamegenerator")
        t.add(rng.choice(["Username", "f5", "member"]), "text", [r["Username"] for r in chunk], "online_id",
              source="fakenamegenerator")
        t.add(rng.choice(["TelephoneNumber", "f6", "ref_no"]), "text",
              ["+" + r["TelephoneCountryCode"] + " " + r["TelephoneNumber"] for r in chunk], "contact",
              source="fakenamegenerator")
        t.add(rng.choice(["Birthday", "f7"]), "text", [r["Birthday"] for r in chunk], "date_of_birth",
              source="fakenamegenerator")
        t.add(rng.choice(["MothersMaiden", "f8"]), "text", [r["MothersMaiden"] for r in chunk], "person_name",
              source="fakenamegenerator")
        t.add(rng.choice(["Occupation", "f9"]), "text", [r["Occupation"] for r in chunk], source="fakenamegenerator")
        t.add(rng.choice(["Company", "f10"]), "text", [r["Company"] for r in chunk], source="fakenamegenerator")
        t.add(rng.choice(["City", "f11"]), "text", [r["City"] for r in chunk], source="fakenamegenerator")
        t.add(rng.choice(["Domain", "f12"]), "text", [r["Domain"] for r in chunk], source="fakenamegenerator")
        t.add(rng.choice(["Age", "f13"]), "integer", [r["Age"] for r in chunk], source="fakenamegenerator")
        unique_names(t.columns)
        tables.append(t)
    return tables


TEMPLATE_FAMILY = {
    "person": "person_name", "name": "person_name", "first_name": "person_name", "last_name": "person_name",
    "name_female": "person_name", "name_male": "person_name", "first_name_male": "person_name",
    "first_name_female": "person_name", "last_name_male": "person_name", "last_name_female": "person_name",
    "first_name_nonbinary": "person_name",
    "address": "address", "street_name": "address", "postcode": "address", "zipcode": "address",
    "phone_number": "contact", "email": "contact", "credit_card_number": "financial", "iban": "financial",
    "ssn": "national_id", "ip_address": "network", "date_of_birth": "date_of_birth",
}


def frozen_text(rng, rows):
    """(a) free text: presidio-evaluator's sentence templates filled with Mimesis values, in a few rows."""
    import re
    import presidio_evaluator
    from mimesis import Address, Datetime, Finance, Internet, Person, Text
    path = os.path.join(os.path.dirname(presidio_evaluator.__file__), "data_generator", "raw_data", "templates.txt")
    with open(path, encoding="utf-8") as f:
        templates = [ln.strip() for ln in f if ln.strip()]
    seed = rng.randint(0, 2**31)
    person, addr, dtp, inet, fin, text = (Person("en-gb", seed=seed), Address("en-gb", seed=seed), Datetime(seed=seed),
                                          Internet(seed=seed), Finance(seed=seed), Text("en", seed=seed))
    fill = {
        "person": person.full_name, "name": person.full_name, "first_name": person.first_name,
        "last_name": person.last_name, "name_female": person.full_name, "name_male": person.full_name,
        "first_name_male": person.first_name, "first_name_female": person.first_name,
        "last_name_male": person.last_name, "last_name_female": person.last_name,
        "first_name_nonbinary": person.first_name, "address": addr.address, "street_name": addr.street_name,
        "building_number": addr.street_number, "secondary_address": lambda: f"Flat {rng.randint(1, 40)}",
        "postcode": addr.postal_code, "zipcode": addr.postal_code, "city": addr.city, "country": addr.country,
        "state_abbr": addr.state, "phone_number": person.telephone, "email": person.email,
        "credit_card_number": lambda: card(rng, rng.choice(["4", "51", "37"]), 16),
        "iban": lambda: iban(rng, rng.choice(list(IBAN_LENGTHS))),
        "ssn": NATIONAL_IDS["us_ssn"].__get__(rng) if False else (lambda: NATIONAL_IDS["us_ssn"](rng)),
        "ip_address": inet.ip_v4, "date_of_birth": lambda: dtp.date(1950, 2000).isoformat(),
        "organization": fin.company, "age": lambda: str(rng.randint(18, 90)), "year": lambda: str(rng.randint(1990, 2025)),
        "nationality": person.nationality, "job": person.occupation, "url": inet.url,
        "date_time": lambda: dtp.datetime().isoformat(), "day_of_week": dtp.day_of_week,
        "prefix_male": lambda: "Mr.", "prefix_female": lambda: "Ms.", "prefix": lambda: "Dr.",
    }
    usable = [tp for tp in templates if all(p in fill for p in re.findall(r"{{(\w+)}}", tp))]
    tables = []
    for k, share in enumerate([0.03, 0.3, 1.0]):
        t = Table(f"tickets_{k}")
        fams: set = set()

        def make():
            tp = rng.choice(usable)
            for p in re.findall(r"{{(\w+)}}", tp):
                if p in TEMPLATE_FAMILY:
                    fams.add(TEMPLATE_FAMILY[p])
            return re.sub(r"{{(\w+)}}", lambda m: str(fill[m.group(1)]()), tp)
        vals = sparse(rng, rows, make, share, lambda: text.text(quantity=rng.randint(1, 3)))
        t.add(rng.choice(["body", "message", "description"]), "text", vals, *sorted(fams), source="presidio-evaluator templates")
        t.add("subject", "text", [text.title() for _ in range(rows)], source="mimesis")
        t.add("status", "text", [rng.choice(["open", "closed", "pending", "escalated"]) for _ in range(rows)])
        t.add("opened", "timestamp", [dtp.datetime(2020, 2025).isoformat(sep=" ") for _ in range(rows)], source="mimesis")
        tables.append(t)
    # JSON payloads with a person object in some rows.
    t = Table("events_json")
    payload = []
    for i in range(rows):
        doc = {"event": rng.choice(["view", "click", "cart", "search"]), "ts": dtp.datetime().isoformat(),
               "props": {"sku": f"{rng.randint(10**6, 10**7)}", "price": fin.price()}}
        if rng.random() < 0.05 or i == 3:
            doc["customer"] = {"nm": person.full_name(), "mail": person.email(), "tel": person.telephone()}
        payload.append(json.dumps(doc, ensure_ascii=False))
    t.add(rng.choice(["payload", "data", "attrs"]), "jsonb", payload, "person_name", "contact", source="mimesis")
    t.add("kind", "text", [rng.choice(["a", "b", "c"]) for _ in range(rows)])
    tables.append(t)
    return tables


def frozen_specs(rng, rows):
    """(b) identifiers, credentials, cards, IBANs, phones built by their specifications."""
    tables = []
    keys = list(NATIONAL_IDS)
    rng.shuffle(keys)
    opaque = ["id_no", "nummer", "code", "ref", "doc", "c1", "tax_id", "номер", "kimlik", "personal_code", "identifier",
              "reg_no", "v1", "ssn", "national_id", "key"]
    for k in range(0, len(keys), 8):
        t = Table(f"registry_{k // 8}")
        for key in keys[k:k + 8]:
            vals = [NATIONAL_IDS[key](rng) for _ in range(rows)]
            t.add(f"{rng.choice(opaque)}_{key.split('_')[0]}" if rng.random() < 0.5 else rng.choice(opaque), "text", vals,
                  "national_id", source=f"spec {key}, validated by python-stdnum")
        t.add("created", "date", [_date(rng, 2015, 2025).isoformat() for _ in range(rows)])
        t.add("branch", "integer", [rng.randint(1, 40) for _ in range(rows)])
        unique_names(t.columns)
        tables.append(t)
    # Sparse national ids among blank forms (1 in 20 filled).
    t = Table("forms")
    t.add("answer", "text", sparse(rng, rows, lambda: NATIONAL_IDS[rng.choice(keys)](rng), 0.05, lambda: ""),
          "national_id", source="spec, mixed schemes")
    t.add("form_no", "integer", list(range(1000, 1000 + rows)))
    tables.append(t)
    # Passports: ICAO 9303 document numbers with their check digit, under several names.
    t = Table("travel_docs")
    t.add(rng.choice(["passport_no", "reisepass", "паспорт"]), "text", [passport_number(rng) for _ in range(rows)],
          "national_id", source="ICAO 9303 check digit")
    t.add("issuing_state", "text", [rng.choice(["DEU", "FRA", "UTO", "GRC", "KOR", "IND"]) for _ in range(rows)])
    t.add("expiry", "date", [_date(rng, 2026, 2036).isoformat() for _ in range(rows)])
    tables.append(t)
    # Credentials: one column per vendor format, a few mixed ones.
    ckeys = list(CREDENTIALS)
    rng.shuffle(ckeys)
    for k in range(0, len(ckeys), 6):
        t = Table(f"integrations_{k // 6}")
        for key in ckeys[k:k + 6]:
            t.add(rng.choice(["token", "value", "cfg", "c1", "setting", "api", "auth", "hash"]), "text",
                  [CREDENTIALS[key](rng) for _ in range(rows)], "credential", source=f"vendor format {key}")
        t.add("service", "text", [rng.choice(["billing", "search", "ci", "mail"]) for _ in range(rows)])
        unique_names(t.columns)
        tables.append(t)
    t = Table("deploy_keys")
    t.add("material", "text", [pem_key(rng) for _ in range(rows)], "credential", source="PEM")
    t.add("config", "text", sparse(rng, rows, lambda: f"export API_TOKEN={CREDENTIALS[rng.choice(ckeys)](rng)}", 0.05,
                                   lambda: f"export LOG_LEVEL={rng.choice(['debug', 'info'])}"), "credential",
          source="vendor formats in text")
    t.add("dsn", "text", [f"{rng.choice(['postgresql', 'mysql', 'amqp', 'redis'])}://{_rand(rng, string.ascii_lowercase, 6)}:"
                          f"{_rand(rng, B62, 14)}@{_rand(rng, string.ascii_lowercase, 5)}.internal:{rng.randint(1000, 9999)}/x"
                          for _ in range(rows)], "credential", source="URL with credentials")
    tables.append(t)
    # Cards and IBANs.
    t = Table("payments")
    nets = [("4", 16), ("51", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16), ("35", 16), ("62", 16),
            ("2200", 16), ("36", 14), ("4", 19)]
    t.add(rng.choice(["pan", "card", "c1", "instrument"]), "text",
          [card(rng, *rng.choice(nets)) for _ in range(rows)], "financial", source="network prefix + Luhn")
    t.add(rng.choice(["iban", "konto", "account", "c2"]), "text",
          [iban(rng, rng.choice(list(IBAN_LENGTHS))) for _ in range(rows)], "financial", source="ISO 13616")
    t.add("amount", "numeric", [round(rng.uniform(1, 5000), 2) for _ in range(rows)])
    t.add("currency", "text", [rng.choice(["EUR", "NOK", "CZK", "TRY", "AED"]) for _ in range(rows)])
    tables.append(t)
    # libphonenumber's example numbers for many regions, in three formats.
    import phonenumbers
    from phonenumbers import PhoneNumberFormat as F
    regions = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r) is not None)
    t = Table("phonebook")
    for fmt, name in [(F.INTERNATIONAL, rng.choice(["tel", "contact_no", "c1"])), (F.E164, rng.choice(["msisdn", "c2"])),
                      (F.NATIONAL, rng.choice(["local_number", "c3", "telefono"]))]:
        vals = []
        for _ in range(rows):
            ex = phonenumbers.example_number_for_type(rng.choice(regions),
                                                      rng.choice([phonenumbers.PhoneNumberType.MOBILE,
                                                                  phonenumbers.PhoneNumberType.FIXED_LINE]))
            if ex is None:
                ex = phonenumbers.example_number("DE")
            vals.append(phonenumbers.format_number(ex, fmt))
        t.add(name, "text", vals, "contact", source="libphonenumber example numbers")
    t.add("region", "text", [rng.choice(regions) for _ in range(rows)])
    tables.append(t)
    # Network identifiers (Mimesis), with user names next to them.
    from mimesis import Internet, Person
    inet, person = Internet(seed=rng.randint(0, 2**31)), Person("tr", seed=rng.randint(0, 2**31))
    t = Table("sessions")
    t.add(rng.choice(["client_ip", "src", "c1"]), "text", [inet.ip_v4() for _ in range(rows)], "network", source="mimesis")
    t.add(rng.choice(["ip6", "peer"]), "text", [inet.ip_v6() for _ in range(rows)], "network", source="mimesis")
    t.add(rng.choice(["hw", "mac"]), "text", [inet.mac_address() for _ in range(rows)], "network", source="mimesis")
    t.add(rng.choice(["handle", "who"]), "text", ["@" + person.username().replace(".", "_") for _ in range(rows)],
          "online_id", source="mimesis")
    t.add("agent", "text", [inet.user_agent() for _ in range(rows)], source="mimesis")
    t.add("status", "integer", [rng.choice([200, 301, 404, 500]) for _ in range(rows)])
    tables.append(t)
    return tables


def frozen_negatives(rng, rows):
    """(c) real open data shipped inside PyPI packages, and real strings from the installed packages."""
    import importlib.metadata as md
    tables = []
    from vega_datasets import local_data
    for ds in ["airports", "cars", "stocks", "seattle-weather", "us-employment", "iowa-electricity", "la-riots"]:
        df = getattr(local_data, ds.replace("-", "_"))()
        df = df.head(rows) if len(df) >= rows else df
        t = Table("vega_" + ds.replace("-", "_"))
        for col in df.columns:
            vals = [None if (v is None or (isinstance(v, float) and v != v)) else str(v) for v in df[col].tolist()]
            fams = []
            if ds == "la-riots":
                # real people: victims of the 1992 riots (first/last name, address, place of death)
                if col in ("first_name", "last_name"):
                    fams = ["person_name"]
                elif col == "address":
                    fams = ["address"]
                elif col in ("longitude", "latitude"):
                    fams = ["geo"]
            typ = "text" if df[col].dtype == object else ("numeric" if "float" in str(df[col].dtype) else
                                                          ("integer" if "int" in str(df[col].dtype) else "text"))
            t.add(col, typ, vals, *fams, source=f"vega_datasets {ds}")
        tables.append(t)
    from sklearn import datasets as skd
    for loader in [skd.load_breast_cancer, skd.load_wine, skd.load_diabetes]:
        b = loader()
        t = Table("sk_" + loader.__name__.replace("load_", ""))
        for j in range(min(8, b.data.shape[1])):
            t.add(f"f{j}", rng.choice(["numeric", "text"]), [f"{x:.4f}" for x in b.data[:rows, j]], source=f"scikit-learn {loader.__name__}")
        tables.append(t)
    import plotly.data as pd_
    for name in ["gapminder", "tips", "wind", "carshare", "election", "medals_long"]:
        df = getattr(pd_, name)()
        df = df.head(rows)
        t = Table("plotly_" + name)
        for col in df.columns:
            vals = [None if v is None else str(v) for v in df[col].tolist()]
            t.add(str(col).lower().replace(" ", "_"), "text", vals, source=f"plotly.data {name}")
        tables.append(t)
    # Real strings from the installed packages: versions, names, file hashes from RECORD files.
    # Only the pinned pure-Python packages (tests/requirements*.txt): their versions and RECORD
    # files are the same on every machine, so the set's digest is too.
    pinned = ["faker", "mimesis", "phonenumbers", "plotly", "presidio-analyzer", "presidio-anonymizer",
              "presidio-evaluator", "python-stdnum", "vega-datasets"]
    dists = [md.distribution(n) for n in pinned]
    versions = [d.version for d in dists]
    names = [d.metadata["Name"] for d in dists]
    # Sorted: pip writes RECORD in install order, which a reinstall may change.
    hashes = []
    for d in dists:
        hashes += sorted(f.hash.value for f in (d.files or []) if f.hash)[:20]
    t = Table("packages")
    t.add(rng.choice(["version", "build", "rev", "v"]), "text", [versions[i % len(versions)] for i in range(rows)],
          source="installed package versions")
    t.add(rng.choice(["package", "name", "handle"]), "text", [names[i % len(names)] for i in range(rows)],
          source="installed package names")
    t.add(rng.choice(["digest", "sha256", "token"]), "text", [hashes[(i * 7) % len(hashes)] for i in range(rows)],
          source="RECORD file hashes")
    t.add("release", "text", [f"{rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9999)}"
                              for _ in range(rows)], source="four-part build numbers")
    tables.append(t)
    import presidio_evaluator
    path = os.path.join(os.path.dirname(presidio_evaluator.__file__), "data_generator", "raw_data",
                        "companies_and_organizations.csv")
    with open(path, encoding="utf-8") as f:
        orgs = [ln.strip().split(",")[0] for ln in f if ln.strip()][1:]
    t = Table("suppliers")
    t.add(rng.choice(["name", "supplier", "c1"]), "text", [rng.choice(orgs) for _ in range(rows)],
          source="presidio-evaluator companies list")
    t.add("isbn", "text", [rejection(rng, lambda r: "978" + _digits(r, 10), "isbn", "format") for _ in range(rows)],
          source="ISBN-13")
    t.add("gtin", "text", [rejection(rng, lambda r: _digits(r, 13), "ean") for _ in range(rows)], source="EAN-13")
    t.add("lei", "text", [rejection(rng, lambda r: _digits(r, 4) + "00" + "".join(r.choice(string.ascii_uppercase + string.digits)
                                                                                    for _ in range(12)) + _digits(r, 2), "lei")
                          for _ in range(rows)], source="ISO 17442 LEI")
    t.add("imo", "text", [rejection(rng, lambda r: "IMO " + _digits(r, 7), "imo") for _ in range(rows)], source="IMO numbers")
    t.add("isin", "text", [rejection(rng, lambda r: r.choice(["US", "DE", "FR", "GB"]) + "".join(
        r.choice(string.ascii_uppercase + string.digits) for _ in range(9)) + _digits(r, 1), "isin") for _ in range(rows)],
          source="ISIN")
    tables.append(t)
    from mimesis import Code, Cryptographic, Development, Finance, Hardware, Science
    seed = rng.randint(0, 2**31)
    code, crypto, dev, fin, hw, sci = (Code(seed=seed), Cryptographic(seed=seed), Development(seed=seed),
                                       Finance(seed=seed), Hardware(seed=seed), Science(seed=seed))
    t = Table("catalogue")
    t.add(rng.choice(["version", "c1", "release"]), "text", [dev.version() for _ in range(rows)], source="mimesis versions")
    t.add(rng.choice(["sku_uuid", "c2", "uuid"]), "uuid", [crypto.uuid() for _ in range(rows)], source="mimesis uuid")
    t.add(rng.choice(["hash", "c3"]), "text", [crypto.hash() for _ in range(rows)], source="mimesis hash")
    t.add("license", "text", [dev.software_license() for _ in range(rows)], source="mimesis")
    t.add("cpu", "text", [hw.cpu() for _ in range(rows)], source="mimesis")
    t.add("ticker", "text", [fin.stock_ticker() for _ in range(rows)], source="mimesis")
    t.add("company", "text", [fin.company() for _ in range(rows)], source="mimesis")
    t.add("dna", "text", [sci.dna_sequence(12) for _ in range(rows)], source="mimesis")
    t.add("locale", "text", [code.locale_code() for _ in range(rows)], source="mimesis")
    t.add("pin", "text", [code.pin() for _ in range(rows)], source="mimesis")
    tables.append(t)
    return tables


def frozen(seed=FROZEN_SEED, rows=200):
    rng = random.Random(seed)
    tables = []
    tables += frozen_people(rng, rows)
    tables += frozen_fng(rng, rows)
    tables += frozen_text(rng, rows)
    tables += frozen_specs(rng, rows)
    tables += frozen_negatives(rng, rows)
    return tables


# ---------------------------------------------------------------------------
# the development set
# ---------------------------------------------------------------------------

DEV_LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE", "fi_FI",
               "ja_JP", "zh_CN", "ru_RU", "bg_BG", "el_GR", "ar_SA", "ne_NP", "ko_KR", "he_IL", "ka_GE", "th_TH",
               "ro_RO", "lv_LV"]


def dev(seed=1, rows=200):
    """Faker-based development tables: other locales, ids and credentials from the same spec generators but
    other seeds, column names of their own. Tune on these only."""
    from faker import Faker
    rng = random.Random(seed)
    tables = []
    for loc in DEV_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev_people_" + loc.lower())
        t.add(rng.choice(["client", "naam", "person", "d1", "kunde"]), "text", [fk.name() for _ in range(rows)],
              "person_name", source=f"faker {loc}")
        t.add(rng.choice(["tel", "d2", "contact", "build_ref"]), "text", [fk.phone_number() for _ in range(rows)], "contact",
              source=f"faker {loc}")
        t.add(rng.choice(["mail_addr", "d3"]), "text", [fk.email() for _ in range(rows)], "contact", source=f"faker {loc}")
        t.add(rng.choice(["user", "nickname", "d4"]), "text", [fk.user_name() for _ in range(rows)], "online_id",
              source=f"faker {loc}")
        t.add(rng.choice(["street_address", "d5"]), "text", [fk.street_address() for _ in range(rows)], "address",
              source=f"faker {loc}")
        t.add(rng.choice(["town", "d6"]), "text", [fk.city() for _ in range(rows)], source=f"faker {loc}")
        t.add(rng.choice(["profession", "d7"]), "text", [fk.job() for _ in range(rows)], source=f"faker {loc}")
        t.add(rng.choice(["born", "d8"]), "text", [fk.date_of_birth().isoformat() for _ in range(rows)], "date_of_birth",
              source=f"faker {loc}")
        unique_names(t.columns)
        tables.append(t)
    # National ids from Faker's own per-country providers (not the spec generators of the frozen set).
    id_locales = ["nl_NL", "fr_FR", "it_IT", "pt_BR", "fi_FI", "sv_SE", "pl_PL", "zh_CN", "no_NO", "ro_RO", "hr_HR",
                  "et_EE", "en_CA", "he_IL", "ko_KR", "tr_TR", "el_GR", "en_GB", "ru_RU", "uk_UA", "de_CH", "lv_LV",
                  "hu_HU", "de_AT", "th_TH", "zh_TW", "en_US"]
    for k in range(0, len(id_locales), 9):
        t = Table(f"dev_ids_{k // 9}")
        for loc in id_locales[k:k + 9]:
            fk = Faker(loc)
            fk.seed_instance(rng.randint(0, 2**31))
            t.add(rng.choice(["x", "val", "number", "d", "ident"]) + "_" + str(rng.randint(1, 99)), "text",
                  [fk.ssn() for _ in range(rows)], "national_id", source=f"faker {loc} ssn")
        fk = Faker(id_locales[k])
        fk.seed_instance(rng.randint(0, 2**31))
        t.add(rng.choice(["passport", "doc_no", "pass_nr"]), "text", [fk.passport_number() for _ in range(rows)],
              "national_id", source="faker passport_number")
        unique_names(t.columns)
        tables.append(t)
    t = Table("dev_creds")
    for key in CREDENTIALS:
        t.add("k_" + key[:3] + str(rng.randint(1, 999)), "text", [CREDENTIALS[key](rng) for _ in range(rows)], "credential",
              source=key)
    unique_names(t.columns)
    tables.append(t)
    tables += dev_more(rng, rows)
    tables += dev_negatives_more(rng, rows)
    tables += dev_more4(random.Random(seed * 1000 + 4), rows)
    tables += dev_more5(random.Random(seed * 1000 + 5), rows)
    tables += dev_more6(random.Random(seed * 1000 + 6), rows)
    tables += dev_more7(random.Random(seed * 1000 + 7), rows)
    tables += dev_more8(random.Random(seed * 1000 + 8), rows)
    tables += dev_more9(random.Random(seed * 1000 + 9), rows)
    tables += dev_more10(random.Random(seed * 1000 + 10), rows)
    tables += dev_more11(random.Random(seed * 1000 + 11), rows)
    t = Table("dev_negatives")
    t.add("ver", "text", [f"{rng.randint(0, 30)}.{rng.randint(0, 40)}.{rng.randint(0, 200)}" for _ in range(rows)])
    t.add("ver4", "text", [f"{rng.randint(1, 20)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 99999)}"
                           for _ in range(rows)])
    t.add("oid", "text", ["1.3.6.1.4.1." + ".".join(str(rng.randint(1, 60000)) for _ in range(rng.randint(1, 4)))
                          for _ in range(rows)])
    t.add("part_no", "text", [f"{_digits(rng, 3)}-{_digits(rng, 3)}-{_digits(rng, 4)}" for _ in range(rows)])
    t.add("sha1", "text", [hashlib.sha1(str(i).encode()).hexdigest() for i in range(rows)])
    t.add("product", "text", [rng.choice(["Desk Lamp", "Office Chair", "Coffee Mug", "USB Cable"]) for _ in range(rows)])
    tables.append(t)
    return tables


# More development cases (added after 1.1.0, still Faker and own recipes, locales the frozen set does
# not use): names in more scripts under opaque column names, the hard negatives that look like names
# (towns, companies, job titles, words), account names and handles without a telling name, the families
# the first dev set lacked (network, financial, geo), more national ids from Faker's providers, and
# dotted version strings of several styles.
DEV_MORE_LOCALES = ["bn_BD", "ta_IN", "hy_AM", "ja_JP", "zh_TW", "mr_IN", "ne_NP", "bg_BG", "ar_PS", "he_IL",
                    "th_TH", "ka_GE", "vi_VN", "id_ID", "sl_SI", "lt_LT", "fr_CH", "es_ES", "de_DE", "en_IN",
                    "fil_PH", "yo_NG", "zu_ZA", "en_NZ"]


def dev_more(rng, rows):
    from faker import Faker
    tables = []
    opaque = ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "field", "val", "a", "b", "party", "entry"]
    for loc in DEV_MORE_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev2_" + loc.lower())
        names = rng.sample(opaque, 9)
        if rng.random() < 0.5:
            t.add(names[0], "text", [fk.name() for _ in range(rows)], "person_name", source=f"faker {loc} name")
        else:
            t.add(names[0], "text", [fk.first_name() for _ in range(rows)], "person_name", source=f"faker {loc} first")
            t.add(names[1], "text", [fk.last_name() for _ in range(rows)], "person_name", source=f"faker {loc} last")
        t.add(names[2], "text", [fk.user_name() for _ in range(rows)], "online_id", source=f"faker {loc} user_name")
        t.add(names[3], "text", [fk.address() for _ in range(rows)], "address", source=f"faker {loc} address")
        # clean columns whose values are capitalised words and phrases
        t.add(names[4], "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(names[5], "text", [fk.company() for _ in range(rows)], source=f"faker {loc} company")
        t.add(names[6], "text", [fk.job() for _ in range(rows)], source=f"faker {loc} job")
        t.add(names[7], "text", [fk.country() for _ in range(rows)], source=f"faker {loc} country")
        t.add(names[8], "text", [fk.word().capitalize() for _ in range(rows)], source=f"faker {loc} word")
        t.add(rng.choice(["amount", "qty"]), "integer", [rng.randint(1, 500) for _ in range(rows)])
        unique_names(t.columns)
        tables.append(t)
    fk = Faker("en_NZ")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("dev2_accounts")
    t.add("who", "text", ["@" + fk.user_name() for _ in range(rows)], "online_id", source="faker handles")
    t.add("x1", "text", [fk.user_name() for _ in range(rows)], "online_id", source="faker user_name")
    t.add("x2", "text", [fk.slug() for _ in range(rows)], source="faker slug")
    t.add("x3", "text", [fk.domain_word() for _ in range(rows)], source="faker domain word")
    t.add("x4", "text", [fk.file_name() for _ in range(rows)], source="faker file name")
    t.add("x5", "text", [fk.color_name() for _ in range(rows)], source="faker colour")
    t.add("x6", "text", [fk.ipv4_public() for _ in range(rows)], "network", source="faker ipv4")
    t.add("x7", "text", [fk.ipv6() for _ in range(rows)], "network", source="faker ipv6")
    t.add("x8", "text", [fk.mac_address() for _ in range(rows)], "network", source="faker mac")
    t.add("x9", "text", [fk.credit_card_number() for _ in range(rows)], "financial", source="faker card")
    t.add("x10", "text", [fk.iban() for _ in range(rows)], "financial", source="faker iban")
    t.add("x11", "text", [f"{fk.latitude()}, {fk.longitude()}" for _ in range(rows)], "geo", source="faker lat/lng")
    t.add("x12", "text", [fk.user_agent() for _ in range(rows)], source="faker user agent")
    t.add("x13", "text", [fk.sha256() for _ in range(rows)], source="faker sha256")
    t.add("x14", "text", [fk.ean13() for _ in range(rows)], source="faker ean13")
    tables.append(t)
    # National ids and document numbers from Faker's providers, under opaque names.
    ids = [("es_ES", "nif"), ("es_ES", "nie"), ("es_MX", "curp"), ("es_MX", "rfc"), ("en_IN", "aadhaar_id"),
           ("bn_BD", "ssn"), ("zh_TW", "ssn"), ("th_TH", "ssn"), ("fr_CH", "ssn"), ("pt_PT", "ssn"),
           ("de_DE", "passport_number"), ("it_IT", "passport_number"), ("en_GB", "passport_number"),
           ("en_US", "itin"), ("sk_SK", "ssn"), ("lt_LT", "ssn"), ("sl_SI", "ssn"), ("de_CH", "ssn")]
    t = Table("dev2_ids")
    for k, (loc, meth) in enumerate(ids):
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t.add(f"y{k}", "text", [getattr(fk, meth)() for _ in range(rows)], "national_id", source=f"faker {loc} {meth}")
    t.add("order_no", "text", [_digits(rng, 11) for _ in range(rows)], source="random 11 digits")
    t.add("ref_code", "text", [rng.choice(string.ascii_uppercase) + _digits(rng, 8) for _ in range(rows)],
          source="letter + 8 digits")
    unique_names(t.columns)
    tables.append(t)
    t = Table("dev2_versions")
    t.add("y1", "text", [f"v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}" for _ in range(rows)])
    t.add("y2", "text", [f"{rng.randint(2019, 2026)}.{rng.randint(1, 12)}.{rng.randint(0, 9)}" for _ in range(rows)])
    t.add("y3", "text", [f"{rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 30)}-rc.{rng.randint(1, 5)}"
                         for _ in range(rows)])
    t.add("y4", "text", [f"10.0.{rng.randint(10000, 26000)}.{rng.randint(1, 5000)}" for _ in range(rows)])
    t.add("y5", "text", [f"{rng.randint(100, 140)}.0.{rng.randint(1000, 7000)}.{rng.randint(10, 250)}" for _ in range(rows)])
    fk = Faker("en_IN")
    fk.seed_instance(rng.randint(0, 2**31))
    t.add("release_phone", "text", [fk.phone_number() for _ in range(rows)], "contact",
          source="faker en_IN phone")
    tables.append(t)
    return tables


# Hard negatives added with classifier 1.3.0 (development only): columns of capitalised words and
# short phrases that are not people — towns, regions, countries, languages, currencies, colours,
# months, job titles, companies, street names — under generic column names (`name`, `title`,
# `label`) in tables that also hold people, and real open data the frozen set does not use
# (vega_datasets barley, burtin, wheat, crimea; plotly iris, stocks, experiment, medals_wide).
DEV_NEG_LOCALES = ["en_US", "de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL", "ru_RU", "el_GR", "ar_SA", "ja_JP", "he_IL",
                   "bn_BD", "id_ID", "zu_ZA"]


def dev_negatives_more(rng, rows):
    from faker import Faker
    tables = []
    kinds = [("city", "city"), ("country", "country"), ("administrative_unit", "region"),
             ("language_name", "language"), ("currency_name", "currency"), ("color_name", "colour"),
             ("month_name", "month"), ("day_of_week", "weekday"), ("job", "job"), ("company", "company"),
             ("street_name", "street name")]
    generic = ["name", "title", "label", "value", "n1", "n2", "n3", "kind", "descr", "group_name", "c"]
    for loc in DEV_NEG_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev3_" + loc.lower())
        t.add("email", "text", [fk.email() for _ in range(rows)], "contact", source=f"faker {loc} email")
        for meth, what in rng.sample(kinds, 6):
            try:
                vals = [str(getattr(fk, meth)()) for _ in range(rows)]
            except AttributeError:
                continue
            t.add(rng.choice(generic), "text", vals, source=f"faker {loc} {what}")
        unique_names(t.columns)
        tables.append(t)
    from vega_datasets import local_data
    for ds in ["barley", "burtin", "wheat", "crimea", "driving"]:
        df = getattr(local_data, ds)()
        df = df.head(rows)
        t = Table("dev3_vega_" + ds)
        for col in df.columns:
            t.add(str(col).lower().replace(" ", "_"), "text", [None if v is None else str(v) for v in df[col].tolist()],
                  source=f"vega_datasets {ds}")
        tables.append(t)
    import plotly.data as pd_
    for name in ["iris", "stocks", "experiment", "medals_wide"]:
        df = getattr(pd_, name)().head(rows)
        t = Table("dev3_plotly_" + name)
        for col in df.columns:
            t.add(str(col).lower().replace(" ", "_"), "text", [None if v is None else str(v) for v in df[col].tolist()],
                  source=f"plotly.data {name}")
        tables.append(t)
    return tables


# Development cases added with classifier 1.4.0 (development only, locales the development set already
# uses, new seed): single-word given-name and family-name columns in many scripts under opaque column
# names, account names and addresses beside them, and as hard negatives the same locale's towns, job
# titles, words and spaCy's stop words of the language (single words of the same script that are not
# names; no other table uses spaCy's word lists).
DEV4_LOCALES = [("ja_JP", "ja"), ("zh_CN", "zh"), ("zh_TW", "zh"), ("th_TH", "th"), ("bn_BD", "bn"), ("ta_IN", "ta"),
                ("mr_IN", "mr"), ("ne_NP", "ne"), ("hy_AM", "hy"), ("ka_GE", None), ("he_IL", "he"), ("ar_SA", "ar"),
                ("ar_PS", "ar"), ("ru_RU", "ru"), ("bg_BG", "bg"), ("el_GR", "el"), ("ko_KR", "ko"), ("yo_NG", "yo"),
                ("zu_ZA", None), ("vi_VN", "vi"), ("id_ID", "id"), ("fil_PH", "tl"), ("ro_RO", "ro"), ("lv_LV", "lv")]


def _stop_words(lang, rng, rows):
    import importlib
    words = sorted(importlib.import_module(f"spacy.lang.{lang}.stop_words").STOP_WORDS)
    words = [w for w in words if len(w) >= 2 and " " not in w]
    return [rng.choice(words) for _ in range(rows)]


def dev_more4(rng, rows):
    from faker import Faker
    tables = []
    opaque = ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "fx", "attr1", "entry", "itm", "col_a", "who"]
    for loc, lang in DEV4_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev4_" + loc.lower())
        names = rng.sample(opaque, 9)
        r = rng.random()
        if r < 0.7:
            t.add(names[0], "text", [fk.first_name() for _ in range(rows)], "person_name", source=f"faker {loc} first")
        if r > 0.3:
            t.add(names[1], "text", [fk.last_name() for _ in range(rows)], "person_name", source=f"faker {loc} last")
        if rng.random() < 0.5:
            t.add(names[2], "text", [fk.user_name() for _ in range(rows)], "online_id", source=f"faker {loc} user_name")
        if rng.random() < 0.5:
            t.add(names[3], "text", [fk.address() for _ in range(rows)], "address", source=f"faker {loc} address")
        t.add(names[4], "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(names[5], "text", [fk.job() for _ in range(rows)], source=f"faker {loc} job")
        t.add(names[6], "text", [fk.word().capitalize() for _ in range(rows)], source=f"faker {loc} word")
        if lang:
            t.add(names[7], "text", _stop_words(lang, rng, rows), source=f"spacy {lang} stop words")
        unique_names(t.columns)
        tables.append(t)
    # Stop words of languages without a Faker table here, under opaque names, next to e-mail addresses.
    fk = Faker("en_US")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("dev4_words")
    t.add("mail", "text", [fk.email() for _ in range(rows)], "contact", source="faker en_US email")
    for k, lang in enumerate(["gu", "kn", "te", "ml", "ur", "fa", "si", "am", "uk", "mk", "sr", "tt", "ky", "ti"]):
        try:
            t.add(f"w{k}", "text", _stop_words(lang, rng, rows), source=f"spacy {lang} stop words")
        except (ImportError, IndexError):
            continue
    tables.append(t)
    return tables


# Development cases added with classifier 1.5.0 (development only, a seed of their own): name columns in
# locales whose family names are built with suffixes or prefixes (Slavic, Baltic, Nordic, Greek, Armenian,
# Georgian, Turkish, Romanian, Albanian, Maltese …) — locales the development set already uses, and Faker
# locales no table uses at all — single-word given- and family-name columns and full names under opaque
# column names, addresses beside some of them, and as hard negatives the same locale's towns, street names,
# companies, countries, job titles and words.
DEV5_LOCALES = ["ru_RU", "bg_BG", "pl_PL", "lt_LT", "lv_LV", "sl_SI", "ro_RO", "el_GR", "hy_AM", "ka_GE", "fi_FI",
                "sv_SE", "no_NO", "tr_TR", "bs_BA", "el_CY", "sq_AL", "mt_MT", "lb_LU", "es_VE", "en_AU", "fr_BE",
                "it_CH", "de_LU"]


def dev_more5(rng, rows):
    from faker import Faker
    tables = []
    opaque = ["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9", "h10", "fz", "attr", "elem", "col_b", "whom", "pt"]
    for loc in DEV5_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev5_" + loc.lower())
        names = rng.sample(opaque, 12)
        r = rng.random()
        if r < 0.7:
            t.add(names[0], "text", [fk.first_name() for _ in range(rows)], "person_name", source=f"faker {loc} first")
        if r > 0.3:
            t.add(names[1], "text", [fk.last_name() for _ in range(rows)], "person_name", source=f"faker {loc} last")
        if rng.random() < 0.4:
            t.add(names[2], "text", [fk.name() for _ in range(rows)], "person_name", source=f"faker {loc} name")
        if rng.random() < 0.6:
            t.add(names[3], "text", [fk.address() for _ in range(rows)], "address", source=f"faker {loc} address")
        t.add(names[4], "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(names[5], "text", [fk.street_name() for _ in range(rows)], source=f"faker {loc} street name")
        t.add(names[6], "text", [fk.company() for _ in range(rows)], source=f"faker {loc} company")
        t.add(names[7], "text", [fk.country() for _ in range(rows)], source=f"faker {loc} country")
        t.add(names[8], "text", [fk.job() for _ in range(rows)], source=f"faker {loc} job")
        t.add(names[9], "text", [fk.word().capitalize() for _ in range(rows)], source=f"faker {loc} word")
        unique_names(t.columns)
        tables.append(t)
    return tables


# Development cases added with classifier 1.6.0 (development only, a seed of its own): identity-document
# numbers whose shape says little (nine digits, two letters and seven digits) under column names that say
# what they are in the locale's own language and script, next to order and invoice numbers of the same
# shapes under names of their own, phone numbers and version strings, and account names and given names
# under telling names in the locale's language.
DEV6_DOCS = [
    # (locale, passport column, id column and its Faker method (or None), order-number column, given-name column)
    ("de_DE", "reisepass_nr", None, "bestellnummer", "vorname"),
    ("fr_FR", "numero_passeport", None, "numero_commande", "prenom"),
    ("es_ES", "num_pasaporte", ("documento_identidad", "nif"), "numero_pedido", "nombre_pila"),
    ("it_IT", "passaporto", ("codice_fiscale_cliente", "ssn"), "numero_ordine", "nome_battesimo"),
    ("pl_PL", "nr_paszportu", ("nr_dowodu", "identity_card_number"), "numer_zamowienia", "imie"),
    ("nl_NL", "paspoortnummer", ("burgerservicenummer", "ssn"), "ordernummer", "voornaam"),
    ("sv_SE", "passnummer", ("personnr", "ssn"), "ordernr", "fornamn"),
    ("ru_RU", "номер_паспорта", None, "номер_заказа", "имя"),
    ("tr_TR", "pasaport_no", ("tc_kimlik", "ssn"), "siparis_no", "ad"),
    ("ja_JP", "パスポート番号", None, "注文番号", "名"),
    ("ko_KR", "여권번호", ("주민등록번호", "ssn"), "주문번호", "이름"),
    ("zh_CN", "护照号码", ("身份证号", "ssn"), "订单号", "名字"),
    ("el_GR", "αριθμός_διαβατηρίου", None, "αριθμός_παραγγελίας", "όνομα"),
    ("cs_CZ", "cestovni_pas", None, "cislo_objednavky", "jmeno"),
    ("fi_FI", "passin_numero", ("henkilotunnus", "ssn"), "tilausnumero", "etunimi"),
    ("hu_HU", "utlevel_szam", None, "rendelesszam", "keresztnev"),
]


def dev_more6(rng, rows):
    from faker import Faker
    tables = []
    for loc, passport, idcol, order, given in DEV6_DOCS:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev6_" + loc.lower())
        t.add(passport, "text", [fk.passport_number() for _ in range(rows)], "national_id",
              source=f"faker {loc} passport_number")
        if idcol:
            t.add(idcol[0], "text", [getattr(fk, idcol[1])() for _ in range(rows)], "national_id",
                  source=f"faker {loc} {idcol[1]}")
        t.add(order, "text", [str(rng.randint(10**8, 10**9 - 1)) for _ in range(rows)],
              source="random nine-digit order numbers")
        t.add("faktura", "text", [f"{rng.choice('ABCDEFGHJK')}{rng.choice('LMNPRSTUVW')}{rng.randint(10**6, 10**7 - 1)}"
                                  for _ in range(rows)], source="random invoice references")
        t.add(given, "text", [fk.first_name() for _ in range(rows)], "person_name", source=f"faker {loc} first")
        if rng.random() < 0.5:
            t.add("c" + str(rng.randint(1, 9)), "text", [fk.phone_number() for _ in range(rows)], "contact",
                  source=f"faker {loc} phone")
        t.add("release", "text", [f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 200)}"
                                  for _ in range(rows)], source="version strings")
        t.add("sku", "text", [fk.ean13() for _ in range(rows)], source=f"faker {loc} ean13")
        unique_names(t.columns)
        tables.append(t)
    return tables


# Development cases added with classifier 1.6.0 (development only, a seed of its own): street addresses of
# every development locale whose Faker provider writes them, whole and street part only, under opaque
# column names, next to the same locale's towns, street names alone and companies.
DEV7_LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE", "fi_FI",
                "da_DK", "no_NO", "cs_CZ", "sk_SK", "hu_HU", "ro_RO", "bg_BG", "el_GR", "ru_RU", "uk_UA", "tr_TR",
                "ja_JP", "zh_CN", "zh_TW", "ko_KR", "th_TH", "vi_VN", "id_ID", "hi_IN", "bn_BD", "ne_NP", "he_IL",
                "ar_SA", "fa_IR", "hy_AM", "ka_GE", "lt_LT", "lv_LV", "et_EE", "sl_SI", "hr_HR", "de_AT", "de_CH",
                "fr_CH", "en_AU", "en_CA", "en_NZ", "en_IN", "es_MX", "pt_PT", "fil_PH"]


def dev_more7(rng, rows):
    from faker import Faker
    tables = []
    opaque = ["m1", "m2", "m3", "m4", "m5", "m6", "fy", "blk", "piece"]
    for loc in DEV7_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev7_" + loc.lower())
        names = rng.sample(opaque, 6)
        t.add(names[0], "text", [fk.address() for _ in range(rows)], "address", source=f"faker {loc} address")
        t.add(names[1], "text", [fk.street_address() for _ in range(rows)], "address", source=f"faker {loc} street_address")
        t.add(names[2], "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(names[3], "text", [fk.street_name() for _ in range(rows)], source=f"faker {loc} street name")
        t.add(names[4], "text", [fk.company() for _ in range(rows)], source=f"faker {loc} company")
        unique_names(t.columns)
        tables.append(t)
    return tables


# Development locales in scripts other than Latin (classifier 1.7.0): streets with a house number and no
# street-type word, national phone numbers with a trunk 0, next to look-alikes that are not addresses.
DEV8_LOCALES = ["el_GR", "ru_RU", "bg_BG", "th_TH", "ja_JP", "ko_KR", "zh_TW", "zh_CN", "ar_SA", "he_IL", "hy_AM",
                "ka_GE", "hi_IN", "ne_NP", "bn_BD", "ta_IN", "fa_IR", "ar_PS"]


def dev_more8(rng, rows):
    """Street addresses and phone numbers of 18 development locales in scripts other than Latin under opaque
    names, next to hard negatives shaped like them: a town or word with a year or a small number (`Москва
    2019`, event editions, models), month names alone and with a year, towns and job titles; Russian passport
    series and numbers under their name and phone-shaped order numbers."""
    from faker import Faker
    tables = []
    opaque = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "part", "seg"]
    for loc in DEV8_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev8_" + loc.lower())
        names = rng.sample(opaque, 8)
        t.add(names[0], "text", [fk.street_address() for _ in range(rows)], "address", source=f"faker {loc} street_address")
        t.add(names[1], "text", [fk.phone_number() for _ in range(rows)], "contact", source=f"faker {loc} phone")
        t.add(names[2], "text", [f"{fk.city()} {fk.year()}" for _ in range(rows)], source=f"faker {loc} city and year")
        t.add(names[3], "text", [f"{fk.word()} {rng.randint(1, 12)}" for _ in range(rows)], source=f"faker {loc} word and number")
        t.add(names[4], "text", [fk.month_name() for _ in range(rows)], source=f"faker {loc} month")
        t.add(names[5], "text", [f"{fk.month_name()} {fk.year()}" for _ in range(rows)], source=f"faker {loc} month and year")
        t.add(names[6], "text", [fk.job() for _ in range(rows)], source=f"faker {loc} job")
        unique_names(t.columns)
        tables.append(t)
    fk = Faker("ru_RU")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("dev8_ids")
    t.add("паспорт", "text", [fk.passport_number() for _ in range(rows)], "national_id", source="faker ru_RU passport")
    t.add("passport_series_no", "text", [fk.passport_number() for _ in range(rows)], "national_id", source="faker ru_RU passport")
    t.add("order_no", "text", [f"{rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(0, 999999):06d}" for _ in range(rows)],
          source="order numbers grouped 2-2-6")
    t.add("w9", "text", [f"0{rng.randint(1, 9)}{rng.randint(0, 9)}-{rng.randint(0, 999):03d}-{rng.randint(0, 9999):04d}"
                         for _ in range(rows)], "contact", source="national numbers with a trunk 0")
    t.add("ref_id", "text", [f"{rng.randint(0, 999):03d}-{rng.randint(0, 999):03d}-{rng.randint(0, 9999):04d}"
                             for _ in range(rows)], source="random 3-3-4 references")
    tables.append(t)
    return tables


# Development cases added with classifier 1.8.0 (development only, a seed of its own; Faker locales the
# held-out draws do not use for people, and recipes of this file): single-word given-name and family-name
# columns under generic, misleading and non-English column names, next to the same locale's towns, words,
# companies, countries and colours; African identity numbers built by their published formats (Egypt's
# national number, Ghana Card, Rwanda's, Tanzania's NIDA and Uganda's NIN numbers) next to random numbers
# of the same lengths; Nepali street names without a number; Armenian eight-digit phone numbers; and as
# hard negatives Latin words with a small number and sequential ids that start with 13.
DEV9_LOCALES = ["yo_NG", "zu_ZA", "lt_LT", "sl_SI", "id_ID", "fr_QC", "hy_AM", "ne_NP", "bn_BD", "ta_IN", "mr_IN",
                "fil_PH", "en_IN", "es_VE", "pt_PT", "it_CH", "de_AT", "fr_BE", "en_NZ", "ka_GE", "tr_TR", "th_TH",
                "vi_VN", "ro_RO", "pl_PL", "sv_SE", "el_GR", "bg_BG"]
DEV9_GENERIC = ["value", "label", "title", "entry", "txt", "c_01", "field_x", "data", "tag", "descr"]
DEV9_MISLEADING = ["product", "brand", "model_name", "category", "item_code", "sku_text", "ref_label"]
DEV9_LOCAL = ["nombre", "nome", "vardas", "ime", "nama", "ten_goi", "anun", "naam", "pangalan", "isim", "namn",
              "imie", "onoma", "prenume", "nume", "apelido", "cognome", "priimek", "surname_local"]
# Egypt's governorate codes (first two digits after the birth date), as published.
EG_GOVERNORATES = [1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28, 29, 31, 32, 33,
                   34, 35, 88]


def _eg_national_id(rng):
    d = _date(rng, 1940, 2012)
    century = "2" if d.year < 2000 else "3"
    return (century + d.strftime("%y%m%d") + f"{rng.choice(EG_GOVERNORATES):02d}" + _digits(rng, 3)
            + str(rng.randint(0, 9)) + str(rng.randint(1, 9)))


def _tz_nida(rng):
    d = _date(rng, 1940, 2006)
    return d.strftime("%Y%m%d") + "-" + _digits(rng, 5) + "-" + _digits(rng, 5) + "-" + _digits(rng, 2)


def _rw_nid(rng):
    return "1" + str(rng.randint(1940, 2006)) + rng.choice("78") + _digits(rng, 7) + rng.choice("01") + _digits(rng, 2)


def _ug_nin(rng):
    return ("C" + rng.choice("MF") + f"{rng.randint(40, 99):02d}" + _digits(rng, 3)
            + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(7)))


def dev_more9(rng, rows):
    from faker import Faker
    tables = []

    def col(local=None):
        r = rng.random()
        if local and r < 0.3:
            return local
        if r < 0.55:
            return rng.choice(DEV9_MISLEADING)
        return rng.choice(DEV9_GENERIC)

    for loc in DEV9_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev9_" + loc.lower())
        r = rng.random()
        if r < 0.7:
            t.add(col(rng.choice(DEV9_LOCAL)), "text", [fk.first_name() for _ in range(rows)], "person_name",
                  source=f"faker {loc} first")
        if r > 0.3:
            t.add(col(rng.choice(DEV9_LOCAL)), "text", [fk.last_name() for _ in range(rows)], "person_name",
                  source=f"faker {loc} last")
        t.add(col(), "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(col(), "text", [fk.word().capitalize() for _ in range(rows)], source=f"faker {loc} word")
        t.add(col(), "text", [fk.company() for _ in range(rows)], source=f"faker {loc} company")
        t.add(col(), "text", [fk.country() for _ in range(rows)], source=f"faker {loc} country")
        if rng.random() < 0.5:
            t.add(col(), "text", [fk.color_name() for _ in range(rows)], source=f"faker {loc} colour")
        if rng.random() < 0.5:
            t.add(col(), "text", [f"{fk.word().capitalize()} {rng.randint(1, 60)}" for _ in range(rows)],
                  source=f"faker {loc} word and small number")
        unique_names(t.columns)
        tables.append(t)
    # African identity numbers by their published formats, under telling and opaque names.
    t = Table("dev9_africa_ids")
    for name, make, label in [("raqam_qawmi", _eg_national_id, "eg"), ("c_eg", _eg_national_id, "eg"),
                              ("ghana_card_no", lambda r: f"GHA-{_digits(r, 9)}-{r.randint(0, 9)}", "gh"),
                              ("id_gh", lambda r: f"GHA-{_digits(r, 9)}-{r.randint(0, 9)}", "gh"),
                              ("nida_no", _tz_nida, "tz"), ("c_tz", _tz_nida, "tz"),
                              ("rw_nid", _rw_nid, "rw"), ("indangamuntu_nr", _rw_nid, "rw"),
                              ("ug_nin", _ug_nin, "ug"), ("c_ug", _ug_nin, "ug")]:
        t.add(name, "text", [make(rng) for _ in range(rows)], "national_id", source=f"{label} national id recipe")
    t.add("txn_id", "text", [_digits(rng, 14) for _ in range(rows)], source="random 14 digits")
    t.add("account_ref", "text", [_digits(rng, 16) for _ in range(rows)], source="random 16 digits")
    t.add("batch", "text", [f"{rng.randint(2015, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{_digits(rng, 6)}"
                            for _ in range(rows)], source="dated batch numbers")
    t.add("sku", "text", ["CM" + _digits(rng, 4) + "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
                          for _ in range(rows)], source="product codes starting CM")
    tables.append(t)
    # Nepali street names without a number, Armenian phone numbers, and look-alikes.
    fk = Faker("ne_NP")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("dev9_ne_hy")
    t.add(col("thegana"), "text", [fk.street_name() for _ in range(rows)], "address", source="faker ne_NP street name")
    t.add(col(), "text", [fk.city() for _ in range(rows)], source="faker ne_NP city")
    t.add(col(), "text", [fk.word() for _ in range(rows)], source="faker ne_NP word")
    fk = Faker("hy_AM")
    fk.seed_instance(rng.randint(0, 2**31))
    t.add(col("herakhos"), "text", [f"{rng.choice(['10', '11', '12', '91', '93', '94', '95', '96', '98', '99', '77', '55'])}"
                                    f"-{_digits(rng, 6)}" for _ in range(rows)], "contact", source="Armenian 8-digit phones")
    t.add(col(), "text", [f"{rng.randint(10, 99)}-{rng.randint(1, 999999):06d}" for _ in range(rows)],
          source="random 2-6 codes")
    t.add(col(), "text", [str(13000000 + i * rng.randint(1, 3)) for i in range(rows)], source="sequential ids from 13")
    t.add(col(), "text", [str(1300000000 + i) for i in range(rows)], source="sequential 10-digit ids from 13")
    t.add(col(), "text", [f"{fk.word()} {rng.randint(1, 40)}" for _ in range(rows)], source="faker hy_AM word and number")
    unique_names(t.columns)
    tables.append(t)
    return tables


# Development cases added with classifier 1.9.0 (development only, a seed of its own; Faker locales in Latin
# script that no held-out draw uses for people): customer tables written row by row, as real ones are — each
# row's given and family name (single words, under generic, misleading or local column names) and an e-mail
# address or account name made of that row's name in one of the usual ways (`ada.okafor7@…`, `aokafor`,
# `okafor.ada`, `ada1987`) — next to that table's towns, street names, companies, countries and capitalised
# words as hard negatives; in a third of the tables the account names belong to other people (made of other
# rows' names), where the row-by-row rule must not fire.
DEV10_LOCALES = ["yo_NG", "zu_ZA", "lt_LT", "sl_SI", "id_ID", "vi_VN", "lv_LV", "ro_RO", "fil_PH", "sq_AL", "mt_MT",
                 "bs_BA", "en_NZ", "fr_BE", "es_VE"]


def _ascii_fold(s):
    import unicodedata
    s = s.replace("đ", "d").replace("Đ", "D").replace("ł", "l").replace("Ł", "L").replace("ħ", "h").replace("Ħ", "H")
    return "".join(c for c in unicodedata.normalize("NFKD", s) if c.isascii() and c.isalnum()).lower()


def _account_of(rng, given, family, style):
    g, f = _ascii_fold(given), _ascii_fold(family)
    if style == 0:
        return f"{g}.{f}{rng.choice(['', str(rng.randint(1, 99))])}"
    if style == 1:
        return f"{g[:1]}{f}{rng.choice(['', str(rng.randint(1, 9))])}"
    if style == 2:
        return f"{f}.{g}"
    if style == 3:
        return f"{g}{rng.randint(1960, 2005)}"
    return f"{f}_{g[:1]}{rng.randint(10, 99)}"


def dev_more10(rng, rows):
    from faker import Faker
    tables = []

    def col(local=None):
        r = rng.random()
        if local and r < 0.3:
            return local
        if r < 0.55:
            return rng.choice(DEV9_MISLEADING)
        return rng.choice(DEV9_GENERIC)

    for k, loc in enumerate(DEV10_LOCALES):
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev10_" + loc.lower())
        given = [fk.first_name() for _ in range(rows)]
        family = [fk.last_name() for _ in range(rows)]
        t.add(col(rng.choice(DEV9_LOCAL)), "text", given, "person_name", source=f"faker {loc} first")
        t.add(col(rng.choice(DEV9_LOCAL)), "text", family, "person_name", source=f"faker {loc} last")
        kind = k % 3
        if kind == 0:
            # E-mail addresses of the same row's person.
            domains = [fk.free_email_domain() for _ in range(5)]
            t.add(col(), "text", [_account_of(rng, g, f, rng.choice([0, 1, 2, 4])) + "@" + rng.choice(domains)
                                  for g, f in zip(given, family)], "contact", source=f"{loc} e-mail of the row's name")
        elif kind == 1:
            # Account names of the same row's person (some of only the given name).
            t.add(col(), "text", [_account_of(rng, g, f, rng.choice([0, 1, 2, 3, 4])) for g, f in zip(given, family)],
                  "online_id", source=f"{loc} account name of the row's name")
        else:
            # Account names of other people: made of other rows' names, not this row's.
            t.add(col(), "text", [_account_of(rng, rng.choice(given), rng.choice(family), rng.choice([0, 1, 2, 4]))
                                  for _ in range(rows)], "online_id", source=f"{loc} account names of other rows' names")
        t.add(col(), "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(col(), "text", [fk.street_name() for _ in range(rows)], source=f"faker {loc} street name")
        t.add(col(), "text", [fk.company() for _ in range(rows)], source=f"faker {loc} company")
        t.add(col(), "text", [fk.country() for _ in range(rows)], source=f"faker {loc} country")
        t.add(col(), "text", [fk.word().capitalize() for _ in range(rows)], source=f"faker {loc} word")
        t.add(col(), "text", [fk.date_of_birth().isoformat() for _ in range(rows)], "date_of_birth",
              source=f"faker {loc} birth date")
        unique_names(t.columns)
        tables.append(t)
    return tables


# ---------------------------------------------------------------------------
# the second held-out draw (added with classifier 1.3.0, frozen before any result on it was seen)
# ---------------------------------------------------------------------------

FRESH_SEED = 20261203
# Mimesis (not the development generator) in locales neither the frozen set's Mimesis tables nor any
# development table use as Mimesis locales.
FRESH_MIMESIS_LOCALES = ["ja", "zh", "de-ch", "ar-ae", "ar-jo", "ar-ma", "fi", "sv", "pl", "it", "fr", "nl",
                         "pt-br", "en-gb", "es", "de"]
# Faker locales no other table uses, each writing names of its own (Gujarati, Odia, Sinhala, Macedonian,
# Persian, Uzbek, Irish, Hausa, Igbo, Twi, Kenyan and Argentinian names).
FRESH_FAKER_LOCALES = ["gu_IN", "or_IN", "si_LK", "mk_MK", "fa_IR", "uz_UZ", "ga_IE", "ha_NG", "ig_NG", "tw_GH",
                       "en_KE", "es_AR"]
FRESH_OPAQUE = ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "col", "v", "item", "who", "src", "rec"]


# Classifier 1.10.0's development cases: single-word given and family names in scripts other than Latin,
# Cyrillic and Greek, from Faker locales that no held-out draw uses for people, under generic or misleading
# column names, next to the same locale's towns, street names, words, job titles, countries, month and
# weekday names (words of the same script that are not names).
DEV11_LOCALES = ["hy_AM", "ka_GE", "th_TH", "ta_IN", "bn_BD", "ne_NP", "mr_IN", "he_IL", "ja_JP", "zh_TW",
                 "ko_KR", "ar_PS"]
DEV11_GENERIC = ["c_1", "c_2", "c_3", "fld_a", "fld_b", "val_1", "val_2", "txt_a", "attr_1", "kv"]
DEV11_MISLEADING = ["sku_name", "tag", "label_code", "variant", "genre", "segment"]


def dev_more11(rng, rows):
    from faker import Faker
    tables = []

    def col():
        return rng.choice(DEV11_MISLEADING) if rng.random() < 0.4 else rng.choice(DEV11_GENERIC)

    for loc in DEV11_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("dev11_" + loc.lower())
        t.add(col(), "text", [fk.first_name() for _ in range(rows)], "person_name", source=f"faker {loc} first")
        if rng.random() < 0.6:
            t.add(col(), "text", [fk.last_name() for _ in range(rows)], "person_name", source=f"faker {loc} last")
        makers = [("city", fk.city), ("street name", fk.street_name), ("word", fk.word), ("job", fk.job),
                  ("country", fk.country), ("month", fk.month_name), ("weekday", fk.day_of_week)]
        for what, make in rng.sample(makers, 5):
            t.add(col(), "text", [make() for _ in range(rows)], source=f"faker {loc} {what}")
        unique_names(t.columns)
        tables.append(t)
    return tables


def fresh(seed=FRESH_SEED, rows=200):
    """A second held-out draw: single-word given- and family-name columns, account names and addresses under
    opaque column names in locales and scripts no other table uses, next to towns, regions, companies, job
    titles, words and dishes of the same locale as hard negatives."""
    from faker import Faker
    from mimesis import Address, Finance, Food, Person, Text
    rng = random.Random(seed)
    tables = []
    for loc in FRESH_MIMESIS_LOCALES:
        s = rng.randint(0, 2**31)
        person, addr, fin = Person(loc, seed=s), Address(loc, seed=s + 1), Finance(loc, seed=s + 2)
        text, food = Text(loc, seed=s + 3), Food(loc, seed=s + 4)
        t = Table("fresh_" + loc.replace("-", "_"))
        names = rng.sample(FRESH_OPAQUE, 11)
        if rng.random() < 0.3:
            t.add(names[0], "text", [person.full_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
        else:
            t.add(names[0], "text", [person.first_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
            t.add(names[1], "text", [person.last_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
        if rng.random() < 0.5:
            t.add(names[2], "text", [person.username(mask=rng.choice(["l.l", "l_d", "ld", "U_d"]))
                                     for _ in range(rows)], "online_id", source=f"mimesis {loc} username")
        if rng.random() < 0.5:
            t.add(names[3], "text", [addr.address() for _ in range(rows)], "address", source=f"mimesis {loc}")
        t.add(names[4], "text", [addr.city() for _ in range(rows)], source=f"mimesis {loc} city")
        t.add(names[5], "text", [addr.state() for _ in range(rows)], source=f"mimesis {loc} region")
        t.add(names[6], "text", [fin.company() for _ in range(rows)], source=f"mimesis {loc} company")
        t.add(names[7], "text", [person.occupation() for _ in range(rows)], source=f"mimesis {loc} occupation")
        t.add(names[8], "text", [text.word().capitalize() for _ in range(rows)], source=f"mimesis {loc} word")
        t.add(names[9], "text", [food.dish() for _ in range(rows)], source=f"mimesis {loc} dish")
        t.add(names[10], "text", [person.nationality() for _ in range(rows)], source=f"mimesis {loc} nationality")
        unique_names(t.columns)
        tables.append(t)
    for loc in FRESH_FAKER_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("fresh_" + loc.lower())
        names = rng.sample(FRESH_OPAQUE, 8)
        if rng.random() < 0.3:
            t.add(names[0], "text", [fk.name() for _ in range(rows)], "person_name", source=f"faker {loc} name")
        else:
            t.add(names[0], "text", [fk.first_name() for _ in range(rows)], "person_name", source=f"faker {loc} first")
            t.add(names[1], "text", [fk.last_name() for _ in range(rows)], "person_name", source=f"faker {loc} last")
        t.add(names[2], "text", [fk.user_name() for _ in range(rows)], "online_id", source=f"faker {loc} user_name")
        if rng.random() < 0.5:
            t.add(names[3], "text", [fk.address() for _ in range(rows)], "address", source=f"faker {loc} address")
        t.add(names[4], "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(names[5], "text", [fk.company() for _ in range(rows)], source=f"faker {loc} company")
        t.add(names[6], "text", [fk.job() for _ in range(rows)], source=f"faker {loc} job")
        t.add(names[7], "text", [fk.word().capitalize() for _ in range(rows)], source=f"faker {loc} word")
        unique_names(t.columns)
        tables.append(t)
    return tables


# ---------------------------------------------------------------------------
# the third held-out draw (added with classifier 1.4.0, frozen before any result on it was seen)
# ---------------------------------------------------------------------------

FRESH2_SEED = 20261205
# Faker locales that no other table uses for people (Arabic, Ukrainian, Azerbaijani, Czech, Danish,
# Liechtenstein German, Irish, Nigerian, Pakistani and Thai English, Chilean and Colombian Spanish,
# Canadian and Algerian French, Hungarian, Icelandic, Flemish, Swahili, Estonian, Slovak, Croatian).
FRESH2_FAKER_LOCALES = ["ar_AA", "ar_DZ", "uk_UA", "az_AZ", "cs_CZ", "da_DK", "de_LI", "en_IE", "en_NG", "en_PK",
                        "en_TH", "es_CL", "es_CO", "fr_CA", "fr_DZ", "hu_HU", "is_IS", "nl_BE", "sw", "et_EE",
                        "sk_SK", "hr_HR"]
# Mimesis locales no other table uses.
FRESH2_MIMESIS_LOCALES = ["en", "ar-dz", "ar-kw", "ar-sy", "ar-tn", "ar-ye"]
FRESH2_OPAQUE = ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "fld", "attr", "x", "entry_a", "val2", "t",
                 "p", "obj", "part"]


def _with_global_seed(rng, make, rows):
    """Generators that draw from the global `random` (chinesename, fake-name-india), seeded from our rng."""
    state = random.getstate()
    random.seed(rng.randint(0, 2**31))
    try:
        return [make() for _ in range(rows)]
    finally:
        random.setstate(state)


def fresh2(seed=FRESH2_SEED, rows=200):
    """A third held-out draw: Faker and Mimesis in locales no other table uses, and three generators from
    PyPI that no other table uses (farsi-faker, chinesename, fake-name-india): given-name, family-name and
    full-name columns, account names, addresses, e-mail addresses, phone numbers and Iranian national ids
    under opaque column names, next to towns, regions, companies, job titles and words of the same locale."""
    from faker import Faker
    from mimesis import Address, Finance, Person, Text
    rng = random.Random(seed)
    tables = []
    for loc in FRESH2_FAKER_LOCALES:
        fk = Faker(loc)
        fk.seed_instance(rng.randint(0, 2**31))
        t = Table("fresh2_" + loc.lower())
        names = rng.sample(FRESH2_OPAQUE, 10)
        r = rng.random()
        if r < 0.3:
            t.add(names[0], "text", [fk.name() for _ in range(rows)], "person_name", source=f"faker {loc} name")
        elif r < 0.8:
            t.add(names[0], "text", [fk.first_name() for _ in range(rows)], "person_name", source=f"faker {loc} first")
            t.add(names[1], "text", [fk.last_name() for _ in range(rows)], "person_name", source=f"faker {loc} last")
        else:
            t.add(names[0], "text", [fk.last_name() for _ in range(rows)], "person_name", source=f"faker {loc} last")
        if rng.random() < 0.6:
            t.add(names[2], "text", [fk.user_name() for _ in range(rows)], "online_id", source=f"faker {loc} user_name")
        if rng.random() < 0.5:
            t.add(names[3], "text", [fk.address() for _ in range(rows)], "address", source=f"faker {loc} address")
        if rng.random() < 0.3:
            t.add(names[8], "text", [fk.free_email() for _ in range(rows)], "contact", source=f"faker {loc} email")
        if rng.random() < 0.3:
            t.add(names[9], "text", [fk.phone_number() for _ in range(rows)], "contact", source=f"faker {loc} phone")
        t.add(names[4], "text", [fk.city() for _ in range(rows)], source=f"faker {loc} city")
        t.add(names[5], "text", [fk.company() for _ in range(rows)], source=f"faker {loc} company")
        t.add(names[6], "text", [fk.job() for _ in range(rows)], source=f"faker {loc} job")
        t.add(names[7], "text", [fk.word().capitalize() for _ in range(rows)], source=f"faker {loc} word")
        unique_names(t.columns)
        tables.append(t)
    for loc in FRESH2_MIMESIS_LOCALES:
        s = rng.randint(0, 2**31)
        person, addr, fin, text = Person(loc, seed=s), Address(loc, seed=s + 1), Finance(loc, seed=s + 2), Text(loc, seed=s + 3)
        t = Table("fresh2_m_" + loc.replace("-", "_"))
        names = rng.sample(FRESH2_OPAQUE, 9)
        if rng.random() < 0.4:
            t.add(names[0], "text", [person.full_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
        else:
            t.add(names[0], "text", [person.first_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
            t.add(names[1], "text", [person.last_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
        if rng.random() < 0.6:
            t.add(names[2], "text", [person.username(mask=rng.choice(["l.l", "l_d", "ld", "Cd", "U-d"]))
                                     for _ in range(rows)], "online_id", source=f"mimesis {loc} username")
        if rng.random() < 0.6:
            t.add(names[3], "text", [addr.address() for _ in range(rows)], "address", source=f"mimesis {loc}")
        t.add(names[4], "text", [addr.city() for _ in range(rows)], source=f"mimesis {loc} city")
        t.add(names[5], "text", [addr.state() for _ in range(rows)], source=f"mimesis {loc} region")
        t.add(names[6], "text", [fin.company() for _ in range(rows)], source=f"mimesis {loc} company")
        t.add(names[7], "text", [person.occupation() for _ in range(rows)], source=f"mimesis {loc} occupation")
        t.add(names[8], "text", [text.word().capitalize() for _ in range(rows)], source=f"mimesis {loc} word")
        unique_names(t.columns)
        tables.append(t)
    # farsi-faker: Persian names in Arabic script, Iranian national ids, mobiles, postal codes, streets.
    from farsi_faker import FarsiFaker
    ff = FarsiFaker(seed=rng.randint(0, 2**31))
    profiles = [ff.profile(rng.choice(["male", "female"])) for _ in range(rows)]
    t = Table("fresh2_farsi")
    names = rng.sample(FRESH2_OPAQUE, 9)
    t.add(names[0], "text", [p["first_name"] for p in profiles], "person_name", source="farsi-faker first")
    t.add(names[1], "text", [p["last_name"] for p in profiles], "person_name", source="farsi-faker last")
    t.add(names[2], "text", [p["national_id"] for p in profiles], "national_id", source="farsi-faker national id")
    t.add(names[3], "text", [p["mobile"] for p in profiles], "contact", source="farsi-faker mobile")
    t.add(names[4], "text", [p["email"] for p in profiles], "contact", source="farsi-faker email")
    t.add(names[5], "text", [f'{p["street"]}، {p["alley"]}، پلاک {p["plaque"]}' for p in profiles], "address",
          source="farsi-faker street, alley, plaque")
    t.add(names[6], "text", [p["city"] for p in profiles], source="farsi-faker city")
    t.add(names[7], "text", [ff.bank_name() for _ in range(rows)], source="farsi-faker bank name")
    unique_names(t.columns)
    tables.append(t)
    # chinesename: Chinese full names and family names (its own name data).
    from chinesename import ChineseName
    cn = ChineseName()
    t = Table("fresh2_chinesename")
    names = rng.sample(FRESH2_OPAQUE, 3)
    t.add(names[0], "text", _with_global_seed(rng, lambda: cn.getName(char_count=rng.choice([1, 2])), rows),
          "person_name", source="chinesename full")
    t.add(names[1], "text", _with_global_seed(rng, cn.getLastName, rows), "person_name", source="chinesename last")
    fk = Faker("zh_CN")
    fk.seed_instance(rng.randint(0, 2**31))
    t.add(names[2], "text", [fk.city() for _ in range(rows)], source="faker zh_CN city")
    unique_names(t.columns)
    tables.append(t)
    # fake-name-india: Indian names in Latin script.
    import contextlib
    with contextlib.redirect_stdout(io.StringIO()):  # the module prints three names when imported
        from fake_name_india.generator import generate_fake_name
    t = Table("fresh2_india")
    names = rng.sample(FRESH2_OPAQUE, 3)
    t.add(names[0], "text", _with_global_seed(rng, generate_fake_name, rows), "person_name",
          source="fake-name-india")
    fk = Faker("en_IN")
    fk.seed_instance(rng.randint(0, 2**31))
    t.add(names[1], "text", [fk.city() for _ in range(rows)], source="faker en_IN city")
    t.add(names[2], "text", [fk.company() for _ in range(rows)], source="faker en_IN company")
    unique_names(t.columns)
    tables.append(t)
    return tables


# ---------------------------------------------------------------------------
# the fourth held-out draw (added with classifier 1.6.0, frozen before any result on it was seen)
# ---------------------------------------------------------------------------

FRESH3_SEED = 20261207
FRESH3_OPAQUE = ["z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "kol", "champ", "campo", "spalte", "veld",
                 "data1", "u", "slot", "cell"]


def _nonempty(make, tries=50):
    """`make()` again until it gives a value (hebrew-names gives "" or fails on a few of its files)."""
    for _ in range(tries):
        try:
            v = make()
        except ValueError:
            continue
        if v:
            return v
    raise RuntimeError("no value")


def fresh3(seed=FRESH3_SEED, rows=200):
    """A fourth held-out draw: six generators from PyPI that no other table uses, each with name data of its
    own (gimei: Japanese names in kanji and kana; trnamegen: Turkish; tamil-names: Tamil in Tamil script and
    Latin, with initials; korean-name-generator: Hangul; russian-names: Russian with patronymics, Cyrillic
    and transliterated; hebrew-names: Hebrew), Faker in locales no other table uses (Catalan; Philippine
    and Bangladeshi addresses and Philippine government id numbers under their own column names), Mimesis
    in Omani and Qatari Arabic; under opaque column names, next to towns, occupations, words, companies and
    version strings as hard negatives."""
    from faker import Faker
    from mimesis import Address, Development, Finance, Person, Text
    rng = random.Random(seed)
    tables = []

    def mimesis_negatives(t, names, loc):
        s = rng.randint(0, 2**31)
        addr, person, text, fin = Address(loc, seed=s), Person(loc, seed=s + 1), Text(loc, seed=s + 2), Finance(loc, seed=s + 3)
        t.add(names[0], "text", [addr.city() for _ in range(rows)], source=f"mimesis {loc} city")
        t.add(names[1], "text", [person.occupation() for _ in range(rows)], source=f"mimesis {loc} occupation")
        t.add(names[2], "text", [text.word().capitalize() for _ in range(rows)], source=f"mimesis {loc} word")
        t.add(names[3], "text", [fin.company() for _ in range(rows)], source=f"mimesis {loc} company")

    # gimei (MIT): Japanese given, family and full names in kanji, full names in hiragana.
    from gimei import Gimei
    def one_gimei():
        n = Gimei().name  # drawn on each access: keep the one drawn here, under the seeded generator
        return n.first.kanji, n.last.kanji, n.kanji, n.hiragana
    gs = _with_global_seed(rng, one_gimei, rows)
    t = Table("fresh3_gimei")
    names = rng.sample(FRESH3_OPAQUE, 8)
    r = rng.random()
    if r < 0.5:
        t.add(names[0], "text", [g[0] for g in gs], "person_name", source="gimei first kanji")
        t.add(names[1], "text", [g[1] for g in gs], "person_name", source="gimei last kanji")
    else:
        t.add(names[0], "text", [g[2] for g in gs], "person_name", source="gimei full kanji")
    if rng.random() < 0.5:
        t.add(names[2], "text", [g[3] for g in gs], "person_name", source="gimei full hiragana")
    mimesis_negatives(t, names[4:], "ja")
    unique_names(t.columns)
    tables.append(t)
    # trnamegen (turkish-name-generator, MIT): Turkish given and family names.
    import trnamegen
    t = Table("fresh3_trnamegen")
    names = rng.sample(FRESH3_OPAQUE, 8)
    t.add(names[0], "text", _with_global_seed(rng, lambda: trnamegen.firstName(0), rows), "person_name",
          source="trnamegen first")
    t.add(names[1], "text", _with_global_seed(rng, trnamegen.lastName, rows), "person_name",
          source="trnamegen last")
    mimesis_negatives(t, names[4:], "tr")
    unique_names(t.columns)
    tables.append(t)
    # tamil-names (MIT): Tamil names in Tamil script, in Latin script, and with an initial.
    import tamilnames
    t = Table("fresh3_tamil")
    names = rng.sample(FRESH3_OPAQUE, 6)
    t.add(names[0], "text", _with_global_seed(rng, lambda: tamilnames.get_name(script="tamil"), rows), "person_name",
          source="tamil-names tamil")
    t.add(names[1], "text", _with_global_seed(rng, lambda: tamilnames.get_name(), rows), "person_name",
          source="tamil-names english")
    t.add(names[2], "text", _with_global_seed(
        rng, lambda: tamilnames.get_name_with_initial(random.choice("ABCDEGJKMNPRSTV")), rows), "person_name",
        source="tamil-names with initial")
    fk = Faker("en_IN")
    fk.seed_instance(rng.randint(0, 2**31))
    t.add(names[3], "text", [fk.city() for _ in range(rows)], source="faker en_IN city")
    t.add(names[4], "text", [fk.job() for _ in range(rows)], source="faker en_IN job")
    unique_names(t.columns)
    tables.append(t)
    # korean-name-generator (MIT): Korean full names in Hangul.
    from korean_name_generator import namer
    t = Table("fresh3_korean")
    names = rng.sample(FRESH3_OPAQUE, 6)
    t.add(names[0], "text", _with_global_seed(rng, lambda: namer.generate(random.random() < 0.5), rows),
          "person_name", source="korean-name-generator")
    mimesis_negatives(t, names[2:], "ko")
    unique_names(t.columns)
    tables.append(t)
    # russian-names (MIT): full names with patronymics in Cyrillic; given + family names transliterated.
    from russian_names import RussianNames
    t = Table("fresh3_russian")
    names = rng.sample(FRESH3_OPAQUE, 7)
    t.add(names[0], "text", list(RussianNames(count=rows, seed=rng.randint(0, 2**31)).get_batch()), "person_name",
          source="russian-names cyrillic")
    t.add(names[1], "text", list(RussianNames(count=rows, patronymic=False, transliterate=True,
                                              seed=rng.randint(0, 2**31)).get_batch()), "person_name",
          source="russian-names transliterated")
    t.add(names[2], "text", list(RussianNames(count=rows, name=False, patronymic=False,
                                              seed=rng.randint(0, 2**31)).get_batch()), "person_name",
          source="russian-names surname")
    mimesis_negatives(t, names[3:], "ru")
    unique_names(t.columns)
    tables.append(t)
    random.seed()  # russian-names seeds the global generator
    # hebrew-names (MIT): Hebrew given and family names.
    import hebrew_names
    t = Table("fresh3_hebrew")
    names = rng.sample(FRESH3_OPAQUE, 5)
    t.add(names[0], "text", _with_global_seed(rng, lambda: _nonempty(hebrew_names.get_first_name), rows),
          "person_name", source="hebrew-names first")
    t.add(names[1], "text", _with_global_seed(rng, lambda: _nonempty(hebrew_names.get_last_name), rows),
          "person_name", source="hebrew-names last")
    fk = Faker("he_IL")
    fk.seed_instance(rng.randint(0, 2**31))
    t.add(names[2], "text", [fk.city() for _ in range(rows)], source="faker he_IL city")
    t.add(names[3], "text", [fk.job() for _ in range(rows)], source="faker he_IL job")
    unique_names(t.columns)
    tables.append(t)
    # Faker es_CA (Catalan names), a locale no other table uses.
    fk = Faker("es_CA")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("fresh3_es_ca")
    names = rng.sample(FRESH3_OPAQUE, 9)
    t.add(names[0], "text", [fk.first_name() for _ in range(rows)], "person_name", source="faker es_CA first")
    t.add(names[1], "text", [fk.last_name() for _ in range(rows)], "person_name", source="faker es_CA last")
    t.add(names[2], "text", [fk.user_name() for _ in range(rows)], "online_id", source="faker es_CA user_name")
    t.add(names[3], "text", [fk.free_email() for _ in range(rows)], "contact", source="faker es_CA email")
    t.add(names[4], "text", [fk.nif() for _ in range(rows)], "national_id", source="faker es_CA nif")
    t.add(names[5], "text", [fk.city() for _ in range(rows)], source="faker es_CA city")
    t.add(names[6], "text", [fk.company() for _ in range(rows)], source="faker es_CA company")
    t.add(names[7], "text", [fk.word().capitalize() for _ in range(rows)], source="faker es_CA word")
    unique_names(t.columns)
    tables.append(t)
    # Faker en_PH and en_BD (no other table uses them): addresses, and Philippine government id numbers under
    # their own column names (their shape says little; the column name does).
    fk = Faker("en_PH")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("fresh3_en_ph")
    names = rng.sample(FRESH3_OPAQUE, 3)
    t.add(names[0], "text", [fk.address() for _ in range(rows)], "address", source="faker en_PH address")
    t.add("sss_no", "text", [fk.sss() for _ in range(rows)], "national_id", source="faker en_PH sss")
    t.add("philhealth_id", "text", [fk.philhealth() for _ in range(rows)], "national_id", source="faker en_PH philhealth")
    t.add("umid", "text", [fk.umid() for _ in range(rows)], "national_id", source="faker en_PH umid")
    t.add(names[1], "text", [fk.city() for _ in range(rows)], source="faker en_PH city")
    t.add(names[2], "text", [fk.company() for _ in range(rows)], source="faker en_PH company")
    unique_names(t.columns)
    tables.append(t)
    fk = Faker("en_BD")
    fk.seed_instance(rng.randint(0, 2**31))
    t = Table("fresh3_en_bd")
    names = rng.sample(FRESH3_OPAQUE, 3)
    t.add(names[0], "text", [fk.address() for _ in range(rows)], "address", source="faker en_BD address")
    t.add(names[1], "text", [fk.city() for _ in range(rows)], source="faker en_BD city")
    t.add(names[2], "text", [fk.company() for _ in range(rows)], source="faker en_BD company")
    unique_names(t.columns)
    tables.append(t)
    # Mimesis in Omani and Qatari Arabic (no other table uses them).
    for loc in ["ar-om", "ar-qa"]:
        s = rng.randint(0, 2**31)
        person, addr = Person(loc, seed=s), Address(loc, seed=s + 1)
        t = Table("fresh3_m_" + loc.replace("-", "_"))
        names = rng.sample(FRESH3_OPAQUE, 9)
        if rng.random() < 0.5:
            t.add(names[0], "text", [person.full_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
        else:
            t.add(names[0], "text", [person.first_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
            t.add(names[1], "text", [person.last_name() for _ in range(rows)], "person_name", source=f"mimesis {loc}")
        t.add(names[2], "text", [addr.address() for _ in range(rows)], "address", source=f"mimesis {loc} address")
        t.add(names[3], "text", [person.telephone() for _ in range(rows)], "contact", source=f"mimesis {loc} phone")
        mimesis_negatives(t, names[4:], loc)
        unique_names(t.columns)
        tables.append(t)
    # Dotted version strings (not phones) and Mimesis account names next to them.
    dev_ = Development(seed=rng.randint(0, 2**31))
    p = Person("en", seed=rng.randint(0, 2**31))
    t = Table("fresh3_misc")
    names = rng.sample(FRESH3_OPAQUE, 3)
    t.add(names[0], "text", [dev_.version() for _ in range(rows)], source="mimesis version")
    t.add(names[1], "text", [p.username(mask=rng.choice(["l_l", "Ud", "l.d"])) for _ in range(rows)], "online_id",
          source="mimesis username")
    t.add(names[2], "text", [dev_.software_license() for _ in range(rows)], source="mimesis licence")
    unique_names(t.columns)
    tables.append(t)
    return tables


FRESH4_SEED = 20261205
# Column names of the fifth draw: a recipe no other set uses — camelCase and generic words, misleading words
# (`refCode`, `versionTag`), and in some tables the language's own word for what the column holds.
FRESH4_OPAQUE = ["colA", "colB", "colC", "fieldOne", "fieldTwo", "valueX", "valueY", "entryA", "entryB", "attrP",
                 "attrQ", "blob1", "blob2", "thing", "itemText", "rowVal", "info1", "info2", "extra", "misc"]
FRESH4_MISLEADING = ["refCode", "versionTag", "skuLabel", "batchNo", "hashKey", "lotRef"]


def fresh4(seed=FRESH4_SEED, rows=200):
    """A fifth held-out draw (classifier 1.7.0): generators from PyPI that no other table uses, each with data
    of its own — niafaker (names, phones, addresses and national id numbers of ten African countries), mingzi
    (Chinese full names), neym (Turkish given names, written in capitals), persian-names (Persian names in
    Arabic and Latin script), ArabicNames (Arabic names in Latin script), pyranda (Czech given and family
    names, birth numbers, towns, districts and months) — under camelCase, generic or misleading column names,
    or the language's own word; next to towns, regions, companies, countries, months, amounts and transaction
    ids as hard negatives."""
    import numpy as np
    from mimesis import Address, Person, Text
    rng = random.Random(seed)
    tables = []

    def col_name(telling=None):
        r = rng.random()
        if telling and r < 0.35:
            return telling
        if r < 0.5:
            return rng.choice(FRESH4_MISLEADING)
        return rng.choice(FRESH4_OPAQUE)

    # niafaker (MIT): ten African countries; its generators draw from the global `random`.
    from niafaker import NiaFaker
    words = {"ng": ("oruko", "nọmba", "adirẹsi", "nin"), "ke": ("jina", "simu", "anwani", "kitambulisho"),
             "za": ("igama", "ucingo", "ikheli", "id_nommer"), "gh": ("din", "fon", "address", "ghana_card"),
             "tz": ("jina", "simu", "anwani", "nida"), "eg": ("الاسم", "الهاتف", "العنوان", "الرقم_القومي"),
             "et": ("ስም", "ስልክ", "አድራሻ", "fayda_id"), "ma": ("الاسم", "الهاتف", "العنوان", "cin"),
             "rw": ("izina", "telefone", "aderesi", "indangamuntu"), "ug": ("erinnya", "essimu", "endagiriro", "nin")}
    for loc in ["ng", "ke", "za", "gh", "tz", "eg", "et", "ma", "rw", "ug"]:
        w = words[loc]
        state = random.getstate()
        random.seed(rng.randint(0, 2**31))
        try:
            nf = NiaFaker(loc)
            t = Table("fresh4_nia_" + loc)
            if rng.random() < 0.5:
                t.add(col_name(w[0]), "text", [nf.name() for _ in range(rows)], "person_name", source=f"niafaker {loc} name")
            else:
                t.add(col_name(w[0]), "text", [nf.first_name() for _ in range(rows)], "person_name",
                      source=f"niafaker {loc} first")
                t.add(col_name(), "text", [nf.last_name() for _ in range(rows)], "person_name", source=f"niafaker {loc} last")
            if rng.random() < 0.7:
                t.add(col_name(w[1]), "text", [nf.phone() for _ in range(rows)], "contact", source=f"niafaker {loc} phone")
            if rng.random() < 0.8:
                t.add(col_name(w[2]), "text", [nf.address() for _ in range(rows)], "address", source=f"niafaker {loc} address")
            if rng.random() < 0.7:
                t.add(col_name(w[3]), "text", [nf.national_id() for _ in range(rows)], "national_id",
                      source=f"niafaker {loc} national id")
            if rng.random() < 0.3:
                t.add(col_name(), "text", [nf.email() for _ in range(rows)], "contact", source=f"niafaker {loc} email")
            t.add(col_name(), "text", [nf.city() for _ in range(rows)], source=f"niafaker {loc} city")
            t.add(col_name(), "text", [nf.region() for _ in range(rows)], source=f"niafaker {loc} region")
            t.add(col_name(), "text", [nf.company() for _ in range(rows)], source=f"niafaker {loc} company")
            if rng.random() < 0.5:
                t.add(col_name(), "text", [nf.transaction_id() for _ in range(rows)], source=f"niafaker {loc} transaction")
            if rng.random() < 0.5:
                t.add(col_name(), "text", [nf.amount() for _ in range(rows)], source=f"niafaker {loc} amount")
        finally:
            random.setstate(state)
        unique_names(t.columns)
        tables.append(t)

    def mimesis_negatives(t, loc, k=3):
        s = rng.randint(0, 2**31)
        addr, person, text = Address(loc, seed=s), Person(loc, seed=s + 1), Text(loc, seed=s + 2)
        makers = [("city", addr.city), ("occupation", person.occupation), ("word", lambda: text.word().capitalize()),
                  ("state", addr.state), ("country", addr.country)]
        for what, make in rng.sample(makers, k):
            t.add(col_name(), "text", [make() for _ in range(rows)], source=f"mimesis {loc} {what}")

    # mingzi (MIT): Chinese full names.
    import mingzi as mz
    t = Table("fresh4_mingzi")
    t.add(col_name("姓名"), "text", _with_global_seed(rng, lambda: mz.mingzi(1)[0], rows), "person_name",
          source="mingzi full name")
    mimesis_negatives(t, "zh")
    unique_names(t.columns)
    tables.append(t)
    # neym (MIT): Turkish given names, in capitals as the package writes them.
    from neym import generate_turkish_name
    t = Table("fresh4_neym")
    t.add(col_name("adi"), "text", _with_global_seed(rng, generate_turkish_name, rows), "person_name",
          source="neym given name")
    s = rng.randint(0, 2**31)
    addr, person = Address("tr", seed=s), Person("tr", seed=s + 1)
    t.add(col_name(), "text", [addr.city().upper() for _ in range(rows)], source="mimesis tr city, capitals")
    t.add(col_name(), "text", [person.occupation().upper() for _ in range(rows)], source="mimesis tr occupation, capitals")
    unique_names(t.columns)
    tables.append(t)
    # persian-names (MIT): Persian names in Arabic script and in Latin script.
    import persian_names as pn
    t = Table("fresh4_persian")
    t.add(col_name("نام"), "text", _with_global_seed(rng, pn.fullname_fa, rows), "person_name", source="persian-names full fa")
    t.add(col_name(), "text", _with_global_seed(rng, pn.firstname_en, rows), "person_name", source="persian-names first en")
    t.add(col_name(), "text", _with_global_seed(rng, pn.lastname_fa, rows), "person_name", source="persian-names last fa")
    mimesis_negatives(t, "fa")
    unique_names(t.columns)
    tables.append(t)
    # ArabicNames (MIT): Arabic given + family names in Latin script (drawn through pandas, numpy's global state).
    np.random.seed(rng.randint(0, 2**31))
    import ArabicNames
    t = Table("fresh4_arabicnames")
    t.add(col_name(), "text", [ArabicNames.get_full_name() for _ in range(rows)], "person_name",
          source="ArabicNames full name")
    mimesis_negatives(t, "ar-eg")
    unique_names(t.columns)
    tables.append(t)
    # pyranda (public domain): Czech given and family names, birth numbers as it writes them, towns, districts,
    # months.
    from pyranda import Jmenos, Okress, Prijmenis, RodneCislo
    from pyranda.mesic import GetRandomMesicNazev
    from pyranda.mesto import mestos

    def czech():
        j, p, o = Jmenos(), Prijmenis(), Okress()
        out = []
        for _ in range(rows):
            sex = random.randint(1, 2)
            rc = RodneCislo()
            rc.SetRandom()
            out.append((j.GetRandomJmeno(sex), p.GetRandomPrijmeni(sex), rc.cislo, random.choice(mestos).nazev,
                        random.choice(o.okres).nazev, GetRandomMesicNazev()))
        return out
    state = random.getstate()
    random.seed(rng.randint(0, 2**31))
    try:
        cz = czech()
    finally:
        random.setstate(state)
    t = Table("fresh4_pyranda")
    t.add(col_name("jmeno"), "text", [c[0] for c in cz], "person_name", source="pyranda given name")
    t.add(col_name("prijmeni"), "text", [c[1] for c in cz], "person_name", source="pyranda family name")
    t.add(col_name("rodne_cislo"), "text", [c[2] for c in cz], "national_id", source="pyranda birth number")
    t.add(col_name(), "text", [c[3] for c in cz], source="pyranda town")
    t.add(col_name(), "text", [c[4] for c in cz], source="pyranda district")
    t.add(col_name(), "text", [c[5] for c in cz], source="pyranda month")
    unique_names(t.columns)
    tables.append(t)
    return tables


FRESH5_SEED = 20261206
# Column names of the sixth draw: a recipe no other set uses — snake_case source-system names with a prefix
# (`src_c07`, `stg_txt_2`), abbreviations, misleading words of another domain (`model_no`, `tag_code`), and for
# about a third of the PII columns the language's own word in Latin script (`naam`, `ten`, `ism`, `so_cccd`).
FRESH5_OPAQUE = ["src_c01", "src_c07", "src_c12", "stg_txt_1", "stg_txt_2", "raw_v3", "raw_v9", "x_a", "x_b",
                 "p_str", "q_str", "imp_col4", "imp_col8", "ext_attr", "legacy_f2", "legacy_f5", "dim_lbl", "t_val"]
FRESH5_MISLEADING = ["model_no", "tag_code", "plan_tier", "asset_label", "route_ref", "grade_cd"]


def fresh5(seed=FRESH5_SEED, rows=200):
    """A sixth held-out draw (classifier 1.10.0): generators from PyPI that no other table uses, each with data
    of its own — faker-pk (MIT; Pakistani names, CNICs, phones, addresses, dates of birth, towns,
    provinces, job titles, companies, banks, institutions), faker-ph (Apache-2.0; Filipino names from its own
    name data, PhilSys, TIN, SSS, PhilHealth and UMID numbers, passports, driver's licences, mobiles,
    landlines, e-mail addresses, PSGC addresses, towns, provinces, barangays, regions), vnfaker (MIT;
    Vietnamese full, given and family names, e-mail addresses, account names, mobiles, citizen id numbers,
    companies, occupations, religions, provinces, districts), faker-egy-names (MIT, data from egy-names, MIT;
    Egyptian names in Arabic and Latin script) — and Faker's `en_MS` (Malaysian addresses), a locale no
    other table uses; under a column-name recipe no other set uses (prefixed source-system names,
    misleading words of another domain, the language's own word in Latin script)."""
    rng = random.Random(seed)
    tables = []

    def col_name(telling=None):
        r = rng.random()
        if telling and r < 0.35:
            return telling
        if r < 0.5:
            return rng.choice(FRESH5_MISLEADING)
        return rng.choice(FRESH5_OPAQUE)

    def global_seeded(make):
        state = random.getstate()
        random.seed(rng.randint(0, 2**31))
        try:
            return make()
        finally:
            random.setstate(state)

    # faker-pk (MIT): draws from the global `random`, and picks rows of its SQLite tables with SQLite's own
    # `ORDER BY RANDOM()`, which no seed reaches: those picks are made from the same rows with the global
    # `random` instead (the package's data and recipes unchanged).
    def pk():
        import sqlite3
        import faker_pk
        import faker_pk.utils as pku

        class _Pick:
            def __init__(self, rows):
                self.rows = rows

            def fetchone(self):
                return random.choice(self.rows) if self.rows else None

            def fetchall(self):
                return self.rows

        def run(query, params, fetch):
            pku.ensure_db_exists()
            seeded = "ORDER BY RANDOM() LIMIT 1" in query
            with sqlite3.connect(pku.DB_PATH) as conn:
                cur = conn.cursor()
                cur.execute(query.replace("ORDER BY RANDOM() LIMIT 1", "ORDER BY 1") if seeded else query, params)
                return fetch(_Pick(cur.fetchall()) if seeded else cur)
        pku._run = run
        fk = faker_pk.FakerPK()
        out = []
        for _ in range(rows):
            sex = random.random() < 0.5
            out.append({"name": fk.male_name() if sex else fk.female_name(), "cnic": fk.cnic(),
                        "phone": fk.phone_number(), "address": fk.full_address(), "dob": fk.dob().isoformat(),
                        "city": fk.city(), "province": fk.province(), "job": fk.job_title(),
                        "company": fk.company_name(), "bank": fk.bank_name(), "institution": fk.institution()})
        return out
    for k in range(2):
        recs = global_seeded(pk)
        t = Table(f"fresh5_pk_{k}")
        if k == 0:
            t.add(col_name("naam"), "text", [r["name"] for r in recs], "person_name", source="faker-pk full name")
        else:
            t.add(col_name("naam"), "text", [r["name"].split()[0] for r in recs], "person_name",
                  source="faker-pk given name")
            t.add(col_name(), "text", [r["name"].split()[-1] for r in recs], "person_name",
                  source="faker-pk last word of the name")
        t.add(col_name("shanakhti_card"), "text", [r["cnic"] for r in recs], "national_id", source="faker-pk cnic")
        if rng.random() < 0.7:
            t.add(col_name("fone"), "text", [r["phone"] for r in recs], "contact", source="faker-pk phone")
        if rng.random() < 0.7:
            t.add(col_name("pata"), "text", [r["address"] for r in recs], "address", source="faker-pk address")
        if rng.random() < 0.5:
            t.add(col_name("tareekh_paidaish"), "text", [r["dob"] for r in recs], "date_of_birth", source="faker-pk dob")
        for what in rng.sample(["city", "province", "job", "company", "bank", "institution"], 4):
            t.add(col_name(), "text", [r[what] for r in recs], source=f"faker-pk {what}")
        unique_names(t.columns)
        tables.append(t)

    # faker-ph (Apache-2.0): seeded by its constructor.
    from faker_ph import FakerPH
    for k in range(2):
        ph = FakerPH(seed=rng.randint(0, 2**31))
        t = Table(f"fresh5_ph_{k}")
        if k == 0:
            t.add(col_name("buong_pangalan"), "text", [ph.full_name() for _ in range(rows)], "person_name",
                  source="faker-ph full name")
            t.add(col_name(), "text", [ph.psn() for _ in range(rows)], "national_id", source="faker-ph PhilSys number")
            t.add(col_name(), "text", [ph.tin() for _ in range(rows)], "national_id", source="faker-ph TIN")
            t.add(col_name("telepono"), "text", [ph.mobile() for _ in range(rows)], "contact", source="faker-ph mobile")
            t.add(col_name(), "text", [ph.passport() for _ in range(rows)], "national_id", source="faker-ph passport")
        else:
            t.add(col_name(), "text", [ph.first_name() for _ in range(rows)], "person_name", source="faker-ph first name")
            t.add(col_name("apelyido"), "text", [ph.surname() for _ in range(rows)], "person_name",
                  source="faker-ph surname")
            t.add(col_name(), "text", [ph.sss() for _ in range(rows)], "national_id", source="faker-ph SSS number")
            t.add(col_name(), "text", [ph.philhealth_pin() for _ in range(rows)], "national_id",
                  source="faker-ph PhilHealth PIN")
            t.add(col_name(), "text", [ph.landline() for _ in range(rows)], "contact", source="faker-ph landline")
            t.add(col_name(), "text", [ph.email() for _ in range(rows)], "contact", source="faker-ph email")
        addrs = [ph.address() for _ in range(rows)]
        t.add(col_name("tirahan"), "text", [a["full"] for a in addrs], "address", source="faker-ph address")
        for what in rng.sample(["city", "province", "barangay", "region"], 3):
            t.add(col_name(), "text", [a[what] for a in addrs], source=f"faker-ph {what}")
        unique_names(t.columns)
        tables.append(t)

    # vnfaker (MIT): one person per Generator, drawing from the global `random`.
    def vn():
        from vnfaker.generator import Generator
        out = []
        for _ in range(rows):
            g = Generator()
            g.nickname().sort()  # its account names are picked from a set: sorted in place, for a reproducible draw
            out.append({"full": g.fullname(), "given": g.name(), "family": g.last_name(), "email": g.email(),
                        "user": g.username(), "mobile": g.mobile_phone(), "id": g.id_number(12),
                        "company": g.company(), "occupation": g.occupation(), "religion": g.religion(),
                        "province": g.address_province(), "district": g.address_district()})
        return out
    for k in range(2):
        recs = global_seeded(vn)
        t = Table(f"fresh5_vn_{k}")
        if k == 0:
            t.add(col_name("ho_va_ten"), "text", [r["full"] for r in recs], "person_name", source="vnfaker full name")
            t.add(col_name(), "text", [r["user"] for r in recs], "online_id", source="vnfaker username")
            t.add(col_name("so_cccd"), "text", [r["id"] for r in recs], "national_id", source="vnfaker id number")
        else:
            t.add(col_name("ten"), "text", [r["given"] for r in recs], "person_name", source="vnfaker given name")
            t.add(col_name(), "text", [r["family"] for r in recs], "person_name", source="vnfaker family name")
            t.add(col_name(), "text", [r["email"] for r in recs], "contact", source="vnfaker email")
        t.add(col_name("dien_thoai"), "text", [r["mobile"] for r in recs], "contact", source="vnfaker mobile")
        for what in rng.sample(["company", "occupation", "religion", "province", "district"], 3):
            t.add(col_name(), "text", [r[what] for r in recs], source=f"vnfaker {what}")
        unique_names(t.columns)
        tables.append(t)

    # faker-egy-names (MIT): Egyptian names in Arabic and Latin script, seeded per call.
    from faker import Faker
    from faker_egy_names import Provider as EgyProvider
    f = Faker()
    f.add_provider(EgyProvider)
    f.seed_instance(rng.randint(0, 2**31))
    names = [f.egyptian_name(seed=rng.randint(0, 2**31)) for _ in range(rows)]
    t = Table("fresh5_egy")
    t.add(col_name("ism"), "text", [n.ar for n in names], "person_name", source="faker-egy-names full name, Arabic")
    t.add(col_name(), "text", [" ".join(n.parts_en[:2]) for n in names], "person_name",
          source="faker-egy-names given and father's name, Latin")
    t.add(col_name(), "text", [n.parts_en[0] for n in names], "person_name", source="faker-egy-names given name, Latin")
    t.add(col_name(), "text", [n.parts_ar[0] for n in names], "person_name", source="faker-egy-names given name, Arabic")
    pk_recs = global_seeded(pk)
    for what in ["city", "job", "company"]:
        t.add(col_name(), "text", [r[what] for r in pk_recs], source=f"faker-pk {what}")
    unique_names(t.columns)
    tables.append(t)

    # Faker en_MS (a locale no other table uses): Malaysian street addresses next to its towns and states.
    fm = Faker("en_MS")
    fm.seed_instance(rng.randint(0, 2**31))
    t = Table("fresh5_ms")
    t.add(col_name("alamat"), "text", [fm.address().replace("\n", ", ") for _ in range(rows)], "address",
          source="faker en_MS address")
    t.add(col_name(), "text", [fm.street_address() for _ in range(rows)], "address", source="faker en_MS street address")
    t.add(col_name(), "text", [fm.city() for _ in range(rows)], source="faker en_MS city")
    t.add(col_name(), "text", [fm.state() for _ in range(rows)], source="faker en_MS state")
    unique_names(t.columns)
    tables.append(t)
    return tables


# ---------------------------------------------------------------------------

def digest(tables) -> str:
    h = hashlib.sha256()
    for t in tables:
        for c in t.columns:
            h.update(json.dumps([t.name, c.name, c.sql_type, sorted(c.families),
                                 [None if v is None else str(v) for v in c.values]], ensure_ascii=False).encode())
    return h.hexdigest()


def build(which: str, seed=None, rows=None):
    if which == "frozen":
        return frozen(FROZEN_SEED if seed is None else seed, rows or 200)
    if which == "dev":
        return dev(1 if seed is None else seed, rows or 200)
    if which == "dev9":
        return dev_more9(random.Random((1 if seed is None else seed) * 1000 + 9), rows or 200)
    if which == "dev10":
        return dev_more10(random.Random((1 if seed is None else seed) * 1000 + 10), rows or 200)
    if which == "dev11":
        return dev_more11(random.Random((1 if seed is None else seed) * 1000 + 11), rows or 200)
    if which == "fresh":
        return fresh(FRESH_SEED if seed is None else seed, rows or 200)
    if which == "fresh2":
        return fresh2(FRESH2_SEED if seed is None else seed, rows or 200)
    if which == "fresh3":
        return fresh3(FRESH3_SEED if seed is None else seed, rows or 200)
    if which == "fresh4":
        return fresh4(FRESH4_SEED if seed is None else seed, rows or 200)
    if which == "fresh5":
        return fresh5(FRESH5_SEED if seed is None else seed, rows or 200)
    raise SystemExit(f"unknown set {which!r}: frozen, fresh, fresh2, fresh3, fresh4, fresh5, dev, dev9, dev10 or dev11")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="frozen")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--hash", action="store_true")
    ap.add_argument("--summary", action="store_true")
    a = ap.parse_args()
    tables = build(a.set, a.seed, a.rows)
    if a.hash:
        print(digest(tables))
    if a.summary:
        from collections import Counter
        cols = [c for t in tables for c in t.columns]
        fam = Counter(f for c in cols for f in c.families)
        print(f"{len(tables)} tables, {len(cols)} columns, {sum(1 for c in cols if c.families)} with PII")
        for f in FAMILIES:
            print(f"  {f:14} {fam[f]}")


if __name__ == "__main__":
    main()
