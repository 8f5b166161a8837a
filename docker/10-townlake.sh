#!/bin/bash
# Run once by the postgres image's entrypoint on an empty data directory
# (executed, with POSTGRES_USER and POSTGRES_DB exported): creates the extension in
# $POSTGRES_DB and points the PII scanner at it. psql quotes the name (:'db').
set -euo pipefail
psql -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE EXTENSION IF NOT EXISTS townlake;
ALTER SYSTEM SET townlake.pii_scan_database = :'db';
SQL
