#!/usr/bin/env bash
# Install everything townlake needs to build and test, skipping what is present.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# clickhouse-server/-client (18.16): the tests' ClickHouse, started privately
# by scripts/clickhouse.sh (its packaged service is not used).
DEBIAN_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15
                 libclang-dev clang sudo pkg-config python3 python3-venv
                 clickhouse-server clickhouse-client)
CARGO_PGRX_VERSION=0.18.0

install_debian_packages() {
    local missing=()
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "Debian packages: all present"
        return
    fi
    log "Debian packages: installing ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]}"
    # A fresh machine may have empty package lists.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The Debian postgresql package creates and starts a default 'main' cluster on
# port 5432. We never use it, and it is harmless; leave it alone.

install_cargo_pgrx() {
    command -v cargo >/dev/null 2>&1 || die "cargo not found: install a Rust toolchain (rustc >= 1.88)"
    if cargo pgrx --version 2>/dev/null | grep -q " $CARGO_PGRX_VERSION\$"; then
        log "cargo-pgrx $CARGO_PGRX_VERSION: present"
        return
    fi
    log "cargo-pgrx $CARGO_PGRX_VERSION: installing (about 8 minutes on 2 cores)"
    cargo install cargo-pgrx --version "$CARGO_PGRX_VERSION" --locked
}

init_pgrx() {
    local config="$HOME/.pgrx/config.toml"
    if [ -f "$config" ] && grep -q '^pg15 *=' "$config"; then
        log "pgrx: pg15 configured"
        return
    fi
    log "pgrx: cargo pgrx init --pg15 $PG_CONFIG"
    cargo pgrx init --pg15 "$PG_CONFIG"
}

# Rebuild .venv only when the requirements files change (stamp = their hash).
make_venv() {
    local requirements="$PROJECT_DIR/tests/requirements.txt"
    local eval_requirements="$PROJECT_DIR/tests/requirements-pii-eval.txt"
    local stamp="$VENV_DIR/.requirements.sha256"
    local wanted
    wanted="$(cat "$requirements" "$eval_requirements" | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV_DIR/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
        log "venv: up to date ($VENV_DIR)"
        return
    fi
    log "venv: installing tests/requirements.txt into $VENV_DIR"
    rm -rf "$VENV_DIR"
    "${PYTHON:-/usr/bin/python3}" -m venv "$VENV_DIR"
    "$VENV_DIR/bin/pip" install -q --disable-pip-version-check -r "$requirements" -r "$eval_requirements"
    echo "$wanted" > "$stamp"
}

main() {
    local what="${1:-all}"
    case "$what" in
        all)    install_debian_packages; install_cargo_pgrx; init_pgrx; make_venv ;;
        system) install_debian_packages; install_cargo_pgrx; init_pgrx ;;
        venv)   make_venv ;;
        *)      die "usage: deps.sh [all|system|venv]" ;;
    esac
}

main "$@"
