#!/usr/bin/env bash
# Load the sample data into the project cluster and run the example questions.
# Expects the cluster to be running with townlake installed (make demo does that).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$PROJECT_DIR/scripts/cluster.sh" createdb "$TOWNLAKE_DB"
log "loading billing.usage (Iceberg, written by townlake: sql/demo/usage.sql) and public.accounts"
project_psql -d "$TOWNLAKE_DB" -q -f "$PROJECT_DIR/sql/demo/usage.sql"
project_psql -d "$TOWNLAKE_DB" -q -f "$PROJECT_DIR/sql/demo/accounts.sql"
log "example questions (sql/demo/questions.sql)"
project_psql -d "$TOWNLAKE_DB" -f "$PROJECT_DIR/sql/demo/questions.sql"
echo
echo "Explore further with: make psql"
