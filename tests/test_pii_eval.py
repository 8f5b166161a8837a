"""The PII classifier on its frozen held-out evaluation set (bench/pii/eval), against the real cluster.

Labels come from the generators and datasets the columns were drawn from (Mimesis, presidio-evaluator,
python-stdnum-validated identifiers, vendor token formats, open datasets), not from townlake. This is
the fast part of `make pii-eval`: townlake only, without the Presidio peer. The thresholds are the
issue's goals (precision >= 0.95, recall >= 0.99) for the families where the classifier meets them;
where it does not yet (names, addresses, online ids, any-PII), docs/pii.md states the gap.
The second and third held-out draws (`fresh`, classifier 1.3.0; `fresh2`, classifier 1.4.0) are held
to the goal the same way for the families that meet it there.
"""

import os
import re
import sys

import pytest

EVAL_DIR = os.path.join(os.path.dirname(__file__), "..", "bench", "pii", "eval")
sys.path.insert(0, EVAL_DIR)

import evalset  # noqa: E402
import harness  # noqa: E402
import metrics  # noqa: E402

GOAL_PRECISION, GOAL_RECALL = 0.95, 0.99


def recorded_digest(which: str = "FROZEN") -> str:
    with open(os.path.join(EVAL_DIR, "run.sh")) as f:
        return re.search(rf"^{which}_DIGEST=([0-9a-f]{{64}})$", f.read(), re.M).group(1)


@pytest.fixture(scope="module")
def frozen():
    return evalset.build("frozen", None, 100)


@pytest.fixture(scope="module")
def scored(conn, frozen):
    harness.load(conn, "pii_eval_frozen", frozen)
    predicted = harness.townlake_predictions(conn, "pii_eval_frozen")
    labels, preds = [], []
    for t in frozen:
        for c in t.columns:
            labels.append(set(c.families))
            preds.append(metrics.townlake_families(predicted[(t.name, c.name)]))
    yield metrics.score_table(labels, preds)
    conn.execute("DROP SCHEMA pii_eval_frozen CASCADE")


def test_frozen_set_has_not_drifted(frozen):
    # A different digest means a pinned generator or dataset changed: the figures in docs/pii.md
    # would no longer be about the same columns.
    assert evalset.digest(frozen) == recorded_digest()


def test_every_column_is_judged(scored, frozen):
    assert scored["any_pii"]["labelled"] == sum(1 for t in frozen for c in t.columns if c.families) == 258


@pytest.mark.parametrize("family", ["national_id", "date_of_birth", "network"])
def test_families_meeting_the_goal(scored, family):
    m = scored[family]
    assert m["labelled"] > 0
    assert m["precision"] >= GOAL_PRECISION and m["recall"] >= GOAL_RECALL, m


def test_f2_of_any_pii_is_computed_like_lake_eval_classifier(scored):
    m = scored["any_pii"]
    p, r = m["true_positives"] / m["predicted"], m["true_positives"] / m["labelled"]
    assert m["f2"] == pytest.approx(5 * p * r / (4 * p + r))


# The second held-out draw (classifier 1.3.0): frozen before any result on it was looked at.

@pytest.fixture(scope="module")
def fresh():
    return evalset.build("fresh", None, 100)


@pytest.fixture(scope="module")
def fresh_scored(conn, fresh):
    harness.load(conn, "pii_eval_fresh", fresh)
    predicted = harness.townlake_predictions(conn, "pii_eval_fresh")
    labels, preds = [], []
    for t in fresh:
        for c in t.columns:
            labels.append(set(c.families))
            preds.append(metrics.townlake_families(predicted[(t.name, c.name)]))
    yield metrics.score_table(labels, preds)
    conn.execute("DROP SCHEMA pii_eval_fresh CASCADE")


def test_fresh_set_has_not_drifted(fresh):
    assert evalset.digest(fresh) == recorded_digest("FRESH")


def test_every_fresh_column_is_judged(fresh_scored, fresh):
    assert fresh_scored["any_pii"]["labelled"] == sum(1 for t in fresh for c in t.columns if c.families) == 77


@pytest.mark.parametrize("family", ["online_id"])
def test_fresh_families_meeting_the_goal(fresh_scored, family):
    m = fresh_scored[family]
    assert m["labelled"] > 0
    assert m["precision"] >= GOAL_PRECISION and m["recall"] >= GOAL_RECALL, m


# The third held-out draw (classifier 1.4.0): frozen before any result on it was looked at.

@pytest.fixture(scope="module")
def fresh2():
    return evalset.build("fresh2", None, 100)


@pytest.fixture(scope="module")
def fresh2_scored(conn, fresh2):
    harness.load(conn, "pii_eval_fresh2", fresh2)
    predicted = harness.townlake_predictions(conn, "pii_eval_fresh2")
    labels, preds = [], []
    for t in fresh2:
        for c in t.columns:
            labels.append(set(c.families))
            preds.append(metrics.townlake_families(predicted[(t.name, c.name)]))
    yield metrics.score_table(labels, preds)
    conn.execute("DROP SCHEMA pii_eval_fresh2 CASCADE")


def test_fresh2_set_has_not_drifted(fresh2):
    assert evalset.digest(fresh2) == recorded_digest("FRESH2")


def test_every_fresh2_column_is_judged(fresh2_scored, fresh2):
    assert fresh2_scored["any_pii"]["labelled"] == sum(1 for t in fresh2 for c in t.columns if c.families) == 88


@pytest.mark.parametrize("family", ["online_id", "national_id"])
def test_fresh2_families_meeting_the_goal(fresh2_scored, family):
    m = fresh2_scored[family]
    assert m["labelled"] > 0
    assert m["precision"] >= GOAL_PRECISION and m["recall"] >= GOAL_RECALL, m


# The fourth held-out draw (classifier 1.6.0): frozen before any result on it was looked at.

def test_fresh3_set_has_not_drifted():
    tables = evalset.build("fresh3", None, 100)
    assert evalset.digest(tables) == recorded_digest("FRESH3")
    assert sum(1 for t in tables for c in t.columns if c.families) == 31


# The fifth held-out draw (classifier 1.7.0): frozen before any result on it was looked at.

def test_fresh4_set_has_not_drifted():
    tables = evalset.build("fresh4", None, 100)
    assert evalset.digest(tables) == recorded_digest("FRESH4")
    assert sum(1 for t in tables for c in t.columns if c.families) == 50


# The sixth held-out draw (classifier 1.10.0): frozen before any result on it was looked at.

def test_fresh5_set_has_not_drifted():
    tables = evalset.build("fresh5", None, 100)
    assert evalset.digest(tables) == recorded_digest("FRESH5")
    assert sum(1 for t in tables for c in t.columns if c.families) == 37
