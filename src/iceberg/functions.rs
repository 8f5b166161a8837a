//! SQL functions about Iceberg tables.

use pgrx::prelude::*;
use pgrx::JsonB;

use super::{catalog, source};
use crate::errors::{LakeError, LakeResult};
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

/// `lake.allow_attach(rel, grantee)`: the owner of the Iceberg table behind
/// foreign table `rel` lets `grantee` attach it too (with IMPORT FOREIGN
/// SCHEMA or CREATE FOREIGN TABLE ... OPTIONS (namespace, table)).
#[pg_extern(sql = "
CREATE FUNCTION lake.allow_attach(rel regclass, grantee regrole, allow boolean DEFAULT true) RETURNS void
LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION lake.allow_attach(regclass, regrole, boolean) IS 'Let another role attach the Iceberg table behind a foreign table you own (allow => false takes it back)';
")]
fn allow_attach(rel: pg_sys::Oid, grantee: pg_sys::Oid, allow: bool) {
    set_attacher(rel, grantee, allow).unwrap_or_else(|e| e.report());
}

fn set_attacher(rel: pg_sys::Oid, grantee: pg_sys::Oid, allow: bool) -> LakeResult<()> {
    use crate::pg::security::{current_user, has_privs_of_role};
    source::require_iceberg_table(rel)?;
    let (options, server_oid) = source::table_options(rel)?;
    let server = source::server_config(server_oid)?;
    let namespace = options.namespace.clone().unwrap_or_default();
    let record = catalog::table_owner(&server.catalog_name, &namespace, &options.table)?;
    let Some(record) = record.filter(|r| has_privs_of_role(current_user(), r.owner)) else {
        return Err(LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("only the owner of Iceberg table \"{namespace}.{}\" may let others attach it", options.table),
        ));
    };
    if record.governed {
        return Err(LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("Iceberg table \"{namespace}.{}\" is governed: it is shared through its published view", options.table),
        ));
    }
    let query = if allow {
        "UPDATE lake.iceberg_table_owners SET attachers = attachers || $4::oid::regrole \
          WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3 AND NOT $4::oid::regrole = ANY (attachers)"
    } else {
        "UPDATE lake.iceberg_table_owners SET attachers = pg_catalog.array_remove(attachers, $4::oid::regrole) \
          WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3"
    };
    catalog::as_catalog_owner(|| {
        Spi::run_with_args(
            query,
            &[server.catalog_name.as_str().into(), namespace.as_str().into(), options.table.as_str().into(), grantee.into()],
        )
    })
    .map_err(|e| LakeError::internal(format!("cannot change who may attach the table: {e}")))
}
