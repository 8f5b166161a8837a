#!/usr/bin/env bash
# build | install the extension; mcp builds the companion MCP server
# (target/<profile>/townlake-mcp under CARGO_TARGET_DIR, see docs/agent.md).
# PROFILE=release switches to an optimised build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PROFILE="${PROFILE:-dev}"
profile_flags=()
package_flags=(--debug)
case "$PROFILE" in
    dev|debug) ;;
    release)   profile_flags=(--release); package_flags=() ;;
    *)         die "PROFILE must be dev or release, not '$PROFILE'" ;;
esac

# Packages the extension into a staging directory, then moves each file into
# Postgres' directories with a rename: the installed library is never missing
# (CREATE EXTENSION in a running cluster keeps working during a build) and
# never overwritten in place (backends that have the old one mapped would
# crash); they keep the old inode.
install_packaged() {
    local staging="$CARGO_TARGET_DIR/pgrx-package-$PROFILE"
    rm -rf "$staging"
    cargo pgrx package --pg-config "$PG_CONFIG" "${package_flags[@]}" --out-dir "$staging"
    # Earlier versions' install scripts and the upgrade scripts go next to
    # the generated one: CREATE EXTENSION ... VERSION and ALTER EXTENSION
    # UPDATE need them (docs/architecture-sql.md); scripts/versions.sh writes them.
    local extension_dir="$staging$("$PG_CONFIG" --sharedir)/extension"
    [ -d "$extension_dir" ] || die "no extension directory in the package: $extension_dir"
    "$PROJECT_DIR/scripts/versions.sh" "$extension_dir"
    local file dest
    while IFS= read -r -d '' file; do
        dest="/${file#"$staging"/}"
        mkdir -p "$(dirname "$dest")"
        cp "$file" "$dest.townlake-new"
        case "$file" in *.so) chmod 0755 "$dest.townlake-new" ;; *) chmod 0644 "$dest.townlake-new" ;; esac
        mv -f "$dest.townlake-new" "$dest"
    done < <(find "$staging" -type f -print0)
    log "installed townlake ($PROFILE) into $(dirname "$TOWNLAKE_SO")"
}

cd "$PROJECT_DIR"
log "PostgreSQL $PG ($PG_CONFIG) CARGO_TARGET_DIR=$CARGO_TARGET_DIR PROFILE=$PROFILE"
case "${1:-}" in
    build)   cargo build --lib "${CARGO_PG_FEATURES[@]}" "${profile_flags[@]}" ;;
    install) install_packaged ;;
    mcp)     cargo build -p townlake-mcp --bin townlake-mcp "${profile_flags[@]}" ;;
    *)       die "usage: build.sh build|install|mcp" ;;
esac
