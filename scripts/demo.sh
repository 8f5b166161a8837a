#!/usr/bin/env bash
# Load the sample data into the project cluster (and the private ClickHouse
# server, scripts/clickhouse.sh) and run the example questions.
# Expects the cluster to be running with townlake installed (make demo does that).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$PROJECT_DIR/scripts/cluster.sh" createdb "$TOWNLAKE_DB"
log "loading billing.usage (Iceberg, written by townlake: sql/demo/usage.sql) and public.accounts"
project_psql -d "$TOWNLAKE_DB" -q -f "$PROJECT_DIR/sql/demo/usage.sql"
project_psql -d "$TOWNLAKE_DB" -q -f "$PROJECT_DIR/sql/demo/accounts.sql"
log "loading web.requests (ClickHouse, written through townlake: sql/demo/requests.sql)"
"$PROJECT_DIR/scripts/clickhouse.sh" start
"$PROJECT_DIR/scripts/clickhouse.sh" query "CREATE DATABASE IF NOT EXISTS demo"
"$PROJECT_DIR/scripts/clickhouse.sh" query "DROP TABLE IF EXISTS demo.requests"
"$PROJECT_DIR/scripts/clickhouse.sh" query "CREATE TABLE demo.requests (ts DateTime, account_id UInt32, \
    status UInt16, bytes UInt64) ENGINE = MergeTree() ORDER BY (account_id, ts)"
ch_url="$("$PROJECT_DIR/scripts/clickhouse.sh" url)"
project_psql -d "$TOWNLAKE_DB" -q -v ch_port="${ch_url##*:}" -f "$PROJECT_DIR/sql/demo/requests.sql"
log "example questions (sql/demo/questions.sql)"
project_psql -d "$TOWNLAKE_DB" -f "$PROJECT_DIR/sql/demo/questions.sql"
log "a DAG of transformation models over the demo data, and its runs (sql/demo/models.sql)"
project_psql -d "$TOWNLAKE_DB" -f "$PROJECT_DIR/sql/demo/models.sql"
echo
echo "Explore further with: make psql"
