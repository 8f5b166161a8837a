#!/usr/bin/env bash
# Load a townlake project (a directory of .sql model files with YAML front
# matter, or a YAML project file) into the project cluster's database:
#   scripts/load_project.sh models/        (make load-project PROJECT=models/)
# The loader itself is scripts/townlake_load.py (any database: PG* settings).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -ge 1 ] || die "usage: load_project.sh DIRECTORY|FILE.yml [--dry-run]"
PGHOST=127.0.0.1 PGPORT="$TOWNLAKE_PORT" PGUSER=postgres PGDATABASE="$TOWNLAKE_DB" \
    python3 "$PROJECT_DIR/scripts/townlake_load.py" --psql "$PG_BINDIR/psql" "$@"
