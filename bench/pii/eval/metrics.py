"""Column-level precision, recall and F2 per PII family (the same maths as
townlake's `lake.eval_classifier`, src/pii/classifier/eval.rs)."""

FAMILIES = ["person_name", "national_id", "contact", "address", "online_id", "credential", "network",
            "financial", "date_of_birth", "geo"]

# townlake infotype -> family
TOWNLAKE_FAMILY = {
    "person_name": "person_name",
    "us_ssn": "national_id", "national_id": "national_id",
    "email": "contact", "phone": "contact",
    "postal_address": "address", "postcode": "address",
    "user_tracking_id": "online_id",
    "secret": "credential", "url_with_credentials": "credential",
    "ipv4": "network", "ipv6": "network", "mac_address": "network",
    "credit_card": "financial", "iban": "financial",
    "date_of_birth": "date_of_birth",
    "geo_coordinates": "geo",
}


def townlake_families(infotypes) -> set:
    return {TOWNLAKE_FAMILY.get(t, "other") for t in infotypes}


def ratio(a, b):
    return None if b == 0 else a / b


def f2(p, r):
    """As eval.rs: nothing predicted scores 0 when something was labelled."""
    if r is None:
        return None
    p = p or 0.0
    return 0.0 if p + r == 0 else 5 * p * r / (4 * p + r)


def score(labels, predictions, is_in):
    labelled = sum(1 for l in labels if is_in(l))
    predicted = sum(1 for p in predictions if is_in(p))
    tp = sum(1 for l, p in zip(labels, predictions) if is_in(l) and is_in(p))
    p, r = ratio(tp, predicted), ratio(tp, labelled)
    return {"labelled": labelled, "predicted": predicted, "true_positives": tp, "precision": p, "recall": r, "f2": f2(p, r)}


def score_table(labels, predictions):
    out = {fam: score(labels, predictions, lambda s, fam=fam: fam in s) for fam in FAMILIES}
    out["any_pii"] = score(labels, predictions, lambda s: bool(s))
    return out
