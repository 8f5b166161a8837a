#!/usr/bin/env bash
# build | install the extension. PROFILE=release switches to an optimised build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PROFILE="${PROFILE:-dev}"
profile_flags=()
case "$PROFILE" in
    dev|debug) ;;
    release)   profile_flags=(--release) ;;
    *)         die "PROFILE must be dev or release, not '$PROFILE'" ;;
esac

cd "$PROJECT_DIR"
log "CARGO_TARGET_DIR=$CARGO_TARGET_DIR PROFILE=$PROFILE"
case "${1:-}" in
    build)   cargo build --lib "${profile_flags[@]}" ;;
    # Installs into Debian's Postgres directories (needs root). The old
    # library is unlinked first: overwriting it in place would crash running
    # backends that have it mapped; unlinked, they keep the old copy. (A
    # separate `cargo build` first would not shorten the gap: cargo pgrx
    # builds with its own flags, so it would only build everything twice.)
    install)
        rm -f "$TOWNLAKE_SO"
        cargo pgrx install --pg-config "$PG_CONFIG" "${profile_flags[@]}" ;;
    *)       die "usage: build.sh build|install" ;;
esac
