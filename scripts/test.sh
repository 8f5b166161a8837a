#!/usr/bin/env bash
# Run every test layer and print one combined `N passed, N failed` line.
#   TEST_LAYERS="unit pgrx integration"   which layers to run (default: all three)
#   PYTEST_ARGS="-k s3 -x"                 extra pytest arguments (naming tests/<file> runs only that file)
# Under CI=true both are ignored: CI always runs every layer, whole.
# A layer that runs no test counts as a failure; skipped tests are counted
# and printed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if [ "${CI:-}" = true ]; then
    TEST_LAYERS="unit pgrx integration"
    PYTEST_ARGS=""
fi
TEST_LAYERS="${TEST_LAYERS:-unit pgrx integration}"
LOG_DIR="$STATE_DIR/test-logs"
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
SUMMARY=()

strip_colours() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

# Sum the `test result: ok. N passed; M failed; K ignored` lines of cargo's
# test harness. Never fails: a missing line counts as zero.
count_cargo_results() {
    local log="$1" results
    results=$(strip_colours "$log" | grep -E '^test result: ' || true)
    sum_of() { { grep -Eo "[0-9]+ $1" <<<"$results" || true; } | awk '{s+=$1} END {print s+0}'; }
    echo "$(sum_of passed) $(sum_of failed) $(sum_of ignored)"
}

# pytest's last summary line: `== 10 passed, 2 failed, 1 skipped, 1 error in 3.2s ==`.
count_pytest_results() {
    local log="$1" line
    line=$(strip_colours "$log" | grep -E '^=+ .*(passed|failed|skipped|error|no tests ran).* in [0-9.]+s' | tail -n 1 || true)
    number_of() { { grep -Eo "[0-9]+ $1" <<<"$line" || true; } | grep -Eo '[0-9]+' | head -n 1 || true; }
    local passed failed errors skipped
    passed=$(number_of passed); failed=$(number_of failed); errors=$(number_of 'errors?'); skipped=$(number_of skipped)
    echo "${passed:-0} $(( ${failed:-0} + ${errors:-0} )) ${skipped:-0}"
}

# run_layer NAME COUNTER COMMAND...: runs the command with output to the
# terminal and a log, then adds its counts to the totals. A command that fails
# without reporting a failed test (build error, crash) counts as one failure,
# and so does a layer that ran no test at all.
run_layer() {
    local name="$1" counter="$2"
    shift 2
    local log="$LOG_DIR/$name.log" status=0 passed failed skipped
    log "layer $name: $*"
    "$@" 2>&1 | tee "$log" || status=$?
    read -r passed failed skipped < <("$counter" "$log")
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1
        log "layer $name exited with status $status without a test failure count (see $log)"
    fi
    if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
        failed=1
        log "layer $name ran no test (see $log)"
    fi
    SUMMARY+=("$name: $passed passed, $failed failed, $skipped skipped")
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + skipped))
}

unit_layer() {
    (cd "$PROJECT_DIR" && cargo test --lib "${CARGO_PG_FEATURES[@]}" && cargo test -p townlake-mcp)
}

# The house rules of src/ (import arrows, extern callbacks and `unsafe fn`
# only in src/pg/ and src/fdw/, SAFETY comments): one check, passed or failed.
count_layout_results() {
    if strip_colours "$1" | grep -Eq '^check_layout: [0-9]+ files checked, 0 problems'; then
        echo "1 0 0"
    else
        echo "0 1 0"
    fi
}

layout_layer() {
    python3 "$PROJECT_DIR/scripts/check_layout.py" && return 0
    log "layout check failed: src/ breaks the house rules listed above (see scripts/check_layout.py)"
    return 1
}

pgrx_layer() {
    # cargo pgrx test refuses root without --runas; its data dir must be
    # creatable by postgres, so it lives in our (postgres-owned) state dir.
    # It installs the library into Postgres' directory, in place: unlink the
    # old one first, or running clusters that have it mapped crash (see
    # build.sh). Only the #[pg_test]s run here (named tests::pg_*): the unit
    # tests are the unit layer's.
    # (Asked now: PostgreSQL 18 may have been installed after this script started.)
    rm -f "$("$PG_CONFIG" --pkglibdir)/townlake.so"
    (cd "$PROJECT_DIR" && cargo pgrx test "pg$PG" --runas postgres --pgdata "$STATE_DIR/pgrx-test-data" tests::pg_)
}

integration_layer() {
    # tests/test_mcp.py drives the MCP server binary (debug build): it is
    # built here, in the same CARGO_TARGET_DIR the test looks in
    "$PROJECT_DIR/scripts/build.sh" install &&
    PROFILE=dev "$PROJECT_DIR/scripts/build.sh" mcp &&
    "$PROJECT_DIR/scripts/cluster.sh" start || return 1
    # the whole suite, unless PYTEST_ARGS names test files or directories itself
    local targets=(tests/) word
    for word in ${PYTEST_ARGS:-}; do
        case "$word" in tests/*) targets=() ;; esac
    done
    (cd "$PROJECT_DIR" && "$VENV_DIR/bin/pytest" "${targets[@]}" -v -p no:cacheprovider ${PYTEST_ARGS:-})
}

main() {
    "$PROJECT_DIR/scripts/deps.sh" all
    prepare_state_dir
    mkdir -p "$LOG_DIR"
    for layer in $TEST_LAYERS; do
        case "$layer" in
            unit)        run_layer "layout" count_layout_results layout_layer
                         run_layer "cargo-test" count_cargo_results unit_layer ;;
            pgrx)        run_layer "cargo-pgrx-test" count_cargo_results pgrx_layer ;;
            integration) run_layer "pytest" count_pytest_results integration_layer ;;
            *)           die "unknown test layer '$layer' (use unit, pgrx, integration)" ;;
        esac
    done
    echo
    printf '%s\n' "${SUMMARY[@]}"
    echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
    [ "$TOTAL_FAILED" -eq 0 ]
}

# Sourcing this file (e.g. to try the counters) defines the functions only.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
