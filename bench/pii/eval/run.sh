#!/usr/bin/env bash
# Held-out evaluation of the PII classifier, side by side with Microsoft Presidio.
#   bench/pii/eval/run.sh            # the frozen evaluation set (checks its digest first)
#   SET=fresh bench/pii/eval/run.sh  # the second held-out draw (checks its digest first)
#   SET=fresh2 bench/pii/eval/run.sh # the third held-out draw (checks its digest first)
#   SET=fresh3 bench/pii/eval/run.sh # the fourth held-out draw (checks its digest first)
#   SET=fresh4 bench/pii/eval/run.sh # the fifth held-out draw (checks its digest first)
#   SET=fresh5 bench/pii/eval/run.sh # the sixth held-out draw (checks its digest first)
#   SET=dev bench/pii/eval/run.sh    # the development set, with the columns where townlake disagrees
# Environment: PGHOST (127.0.0.1), PGPORT ($TOWNLAKE_PORT or 5499), PGUSER (postgres), EVAL_DB,
#   PYTHON (the project venv's python), NO_PRESIDIO=1 to skip the peer,
#   PRESIDIO_CACHE (a JSON file reusing Presidio's scores for unchanged columns),
#   OFFLINE=1 to ask the classifier without a cluster (cargo, CARGO_TARGET_DIR; see harness.py).
# Needs tests/requirements-pii-eval.txt installed (scripts/deps.sh venv does it).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-${TOWNLAKE_PORT:-5499}}"
export PGUSER="${PGUSER:-postgres}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "${VENV_DIR:-$ROOT/.venv}/bin/python" ]; then PYTHON="${VENV_DIR:-$ROOT/.venv}/bin/python"; else PYTHON=python3; fi
fi
SET="${SET:-frozen}"
# The frozen set's digest, recorded when it was frozen (docs/pii.md): a different one means it drifted.
FROZEN_DIGEST=5a18d858bff5be05e00b0d8be45a62c40489657e0240bbd3840d2ae1c5178a28
# The second held-out draw's digest, recorded before any result on it was looked at.
FRESH_DIGEST=3ce200183c7cf30fc93684d294f8c4b559f25564f11e16efb06412ebadaa6a63
# The third held-out draw's digest (classifier 1.4.0), recorded before any result on it was looked at.
FRESH2_DIGEST=957fc909e3c532a1c47ad5e70f90630ac0a1c11a1a37f220a5d30f145365f168
# The fourth held-out draw's digest (classifier 1.6.0), recorded before any result on it was looked at.
FRESH3_DIGEST=b63aa36ef8441373d49dcf0cdae18ca07a7cb122ce509e7b0ea6a42896037228
# The fifth held-out draw's digest (classifier 1.7.0), recorded before any result on it was looked at.
FRESH4_DIGEST=8e6142e25264feb23a66448adc84587063d6c38140a137015962d4ad83b9a38d
# The sixth held-out draw's digest (classifier 1.10.0), recorded before any result on it was looked at.
FRESH5_DIGEST=0ab6b08510c5a0ae4f1e6ad57207a2542566284751c079b41382d484561e6b47
args=(--set "$SET")
case "$SET" in
    frozen) args+=(--expect-hash "$FROZEN_DIGEST") ;;
    fresh) args+=(--expect-hash "$FRESH_DIGEST") ;;
    fresh2) args+=(--expect-hash "$FRESH2_DIGEST") ;;
    fresh3) args+=(--expect-hash "$FRESH3_DIGEST") ;;
    fresh4) args+=(--expect-hash "$FRESH4_DIGEST") ;;
    fresh5) args+=(--expect-hash "$FRESH5_DIGEST") ;;
    *) args+=(--details) ;;
esac
if [ "${NO_PRESIDIO:-0}" = 1 ]; then args+=(--no-presidio); fi
if [ "${OFFLINE:-0}" = 1 ]; then args+=(--offline); fi
if [ -n "${PRESIDIO_CACHE:-}" ]; then args+=(--presidio-cache "$PRESIDIO_CACHE"); fi
exec "$PYTHON" "$HERE/harness.py" "${args[@]}" "$@"
