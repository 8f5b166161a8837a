#!/usr/bin/env bash
# Writes the earlier versions' install scripts and the upgrade scripts
# (sql/versions/) into an extension directory. A line "-- @include sql/x.sql"
# in one of them stands for that file, so a part new in a version is written
# once and both a fresh install and an upgrade create it.
#   scripts/versions.sh <extension dir>
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/versions.sh <extension dir>}"
[ -d "$out" ] || { echo "versions.sh: no directory $out" >&2; exit 1; }
for script in "$root"/sql/versions/townlake--*.sql; do
    awk -v root="$root" '
        /^-- @include / {
            path = root "/" $3; n = 0
            while ((r = (getline line < path)) > 0) { print line; n++ }
            close(path)
            if (r < 0 || n == 0) { print "versions.sh: cannot include " path > "/dev/stderr"; exit 1 }
            next
        }
        { print }' "$script" > "$out/$(basename "$script")"
done
