//! SQL functions about Iceberg tables.

use pgrx::prelude::*;
use pgrx::JsonB;

use super::source;
use crate::errors::OrReport;

/// Snapshots of an Iceberg foreign table, oldest first.
#[pg_extern(sql = "
CREATE FUNCTION lake.snapshots(rel regclass)
RETURNS TABLE (snapshot_id bigint, parent_id bigint, committed_at timestamptz, operation text, summary jsonb)
LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION lake.snapshots(regclass) IS 'Snapshots of an Iceberg foreign table, oldest first';
")]
#[allow(clippy::type_complexity)]
fn snapshots_by_oid(
    rel: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(snapshot_id, i64),
        name!(parent_id, Option<i64>),
        name!(committed_at, Option<TimestampWithTimeZone>),
        name!(operation, String),
        name!(summary, JsonB),
    ),
> {
    source::require_iceberg_table(rel).or_report();
    // Snapshot summaries count rows and files: as much as SELECT shows.
    if !crate::pg::security::can_select(rel) {
        crate::errors::LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied for foreign table {}", source::relation_display(rel)),
        )
        .report();
    }
    let resolved = source::resolve(rel).or_report();
    let mut snaps: Vec<_> = resolved.metadata.snapshots().cloned().collect();
    snaps.sort_by_key(|s| (s.timestamp_ms(), s.sequence_number()));
    let rows: Vec<_> = snaps
        .into_iter()
        .map(|s| {
            let summary = s.summary();
            let mut props = serde_json::Map::new();
            for (k, v) in &summary.additional_properties {
                props.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            // Postgres counts microseconds from 2000-01-01.
            let pg_micros = crate::pg::time::unix_millis_to_pg_micros(s.timestamp_ms());
            (
                s.snapshot_id(),
                s.parent_snapshot_id(),
                TimestampWithTimeZone::try_from(pg_micros).ok(),
                summary.operation.as_str().to_string(),
                JsonB(serde_json::Value::Object(props)),
            )
        })
        .collect();
    TableIterator::new(rows)
}
