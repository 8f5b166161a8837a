//! DDL on Iceberg foreign tables, seen through the shared ProcessUtility chain:
//! ALTER FOREIGN TABLE evolves the Iceberg schema (field ids preserved) and
//! DROP FOREIGN TABLE removes the table from the catalog, both in the same
//! transaction. With `townlake.iceberg_purge_on_drop` the files go after COMMIT.

use std::ffi::CStr;
use std::sync::Arc;

use iceberg::spec::{NestedField, Schema, Type};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::catalog::spi::commit_metadata;
use super::source;
use super::types::{check_promotion, iceberg_type_for};
use crate::errors::{iceberg_message, LakeError, LakeResult, OrReport};
use crate::pg::hooks::{AfterUtility, Utility};
use crate::pg::nodes::{utility_target, UtilityTarget};
use crate::pg::types::numeric_typmod;

/// A column as it was before the statement.
#[derive(Clone)]
struct Column {
    attnum: i16,
    name: String,
    type_oid: pg_sys::Oid,
    typmod: i32,
    not_null: bool,
    field_id: Option<i32>,
}

enum Captured {
    Alter { relid: pg_sys::Oid, before: Vec<Column> },
    Drop(Vec<DroppedTable>),
}

struct DroppedTable {
    catalog: String,
    namespace: String,
    table: String,
    location: String,
    server: source::ServerConfig,
}

/// Iceberg's link of the shared hook chain (`pg::hooks`): before the
/// statement, note the columns or tables it is about to change; once it has
/// run without error, carry the change over to the Iceberg catalog. If the
/// statement fails, what was noted is dropped unapplied.
pub(super) fn on_utility(call: &Utility) -> Option<AfterUtility> {
    // SAFETY: the chain passes a utility statement's parse tree.
    let target = unsafe { utility_target(call.stmt()) };
    let captured = capture(target).or_report()?;
    Some(Box::new(move || apply(captured).or_report()))
}

/// An Iceberg foreign table attached by catalog name (not by metadata file).
fn writable_iceberg_table(relid: pg_sys::Oid) -> bool {
    if !source::is_iceberg_table(relid) {
        return false;
    }
    match source::table_options(relid) {
        Ok((opts, server_oid)) => {
            opts.namespace.is_some()
                && opts.metadata_location.is_none()
                && opts.snapshot_id.is_none()
                && source::server_config(server_oid).map(|s| !s.read_only).unwrap_or(false)
        }
        Err(_) => false,
    }
}

/// Whether the foreign table created (and so owns) its Iceberg table: the
/// ownership record names it as the creator, or a superuser set
/// `owns_table` (the validator refuses that option to everyone else).
fn owns_table(relid: pg_sys::Oid) -> bool {
    let (opts, _) = crate::fdw::source::table_options(relid);
    if super::storage::options::parse_bool("owns_table", opts.get("owns_table")).ok().flatten().unwrap_or(false) {
        return true;
    }
    let Ok((options, server_oid)) = source::table_options(relid) else { return false };
    let (Some(ns), Ok(server)) = (options.namespace, source::server_config(server_oid)) else { return false };
    matches!(
        super::catalog::table_owner(&server.catalog_name, &ns, &options.table),
        Ok(Some(super::catalog::TableOwner { creator: Some(c), .. })) if c == relid
    )
}

fn columns_of(relid: pg_sys::Oid) -> Vec<Column> {
    let (_, columns) = crate::fdw::source::table_columns(relid);
    columns
        .into_iter()
        .map(|c| Column {
            attnum: c.attnum,
            field_id: c.options.get("field_id").and_then(|v| v.trim().parse().ok()),
            name: c.name,
            type_oid: c.type_oid,
            typmod: c.typmod,
            not_null: c.not_null,
        })
        .collect()
}

fn capture(target: UtilityTarget) -> LakeResult<Option<Captured>> {
    // A restore's ALTERs (owner, options) describe the table as it is
    // already; its catalog rows arrive only with the dump's data.
    if crate::fdw::policy::restoring() {
        return Ok(None);
    }
    match target {
        // ALTER TABLE reaches foreign tables too: both are captured, and the
        // relation's kind decides.
        UtilityTarget::AlterColumns(relid) => {
            Ok(writable_iceberg_table(relid).then(|| Captured::Alter { relid, before: columns_of(relid) }))
        }
        UtilityTarget::DropForeignTables(relids) => {
            let mut dropped = Vec::new();
            for relid in relids {
                if !writable_iceberg_table(relid) || !owns_table(relid) {
                    continue;
                }
                // A table whose catalog entry or metadata is already gone can still be dropped.
                let Ok(resolved) = source::resolve(relid) else { continue };
                dropped.push(DroppedTable {
                    catalog: resolved.server.catalog_name.clone(),
                    namespace: resolved.options.namespace.clone().unwrap_or_default(),
                    table: resolved.options.table.clone(),
                    location: resolved.metadata.location().to_string(),
                    server: resolved.server.clone(),
                });
            }
            Ok((!dropped.is_empty()).then_some(Captured::Drop(dropped)))
        }
        UtilityTarget::Other => Ok(None),
    }
}

fn apply(captured: Captured) -> LakeResult<()> {
    match captured {
        Captured::Drop(tables) => {
            for t in tables {
                super::catalog::as_catalog_owner(|| {
                    let args = [t.catalog.as_str().into(), t.namespace.as_str().into(), t.table.as_str().into()];
                    Spi::run_with_args(
                        "DELETE FROM lake.iceberg_tables WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3",
                        &args,
                    )?;
                    Spi::run_with_args(
                        "DELETE FROM lake.iceberg_table_owners WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3",
                        &args,
                    )
                })
                .map_err(|e| LakeError::internal(format!("cannot remove the table from the catalog: {e}")))?;
                if super::settings::PURGE_ON_DROP.get() {
                    super::txn::purge_after_commit(t.server, t.location);
                }
            }
            Ok(())
        }
        Captured::Alter { relid, before } => evolve(relid, before),
    }
}

fn iceberg_type_of(col: &Column) -> LakeResult<Type> {
    // SAFETY: format_type_be returns a palloc'd name for any type oid.
    let type_name = unsafe { CStr::from_ptr(pg_sys::format_type_be(col.type_oid)).to_string_lossy().into_owned() };
    let numeric = if col.type_oid == pg_sys::NUMERICOID { numeric_typmod(col.typmod) } else { None };
    iceberg_type_for(&type_name, numeric)
        .map_err(|m| LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE, format!("column \"{}\": {m}", col.name)))
}

/// Turn the column changes of one ALTER into an Iceberg schema change.
fn evolve(relid: pg_sys::Oid, before: Vec<Column>) -> LakeResult<()> {
    let after = columns_of(relid);
    let resolved = source::resolve(relid)?;
    let schema = resolved.metadata.current_schema().clone();
    let mut fields: Vec<NestedField> = schema.as_struct().fields().iter().map(|f| (**f).clone()).collect();
    let mut next_id = resolved.metadata.last_column_id();
    let mut changed = false;
    let field_of = |col: &Column| -> Option<i32> {
        col.field_id
            .filter(|id| schema.field_by_id(*id).is_some())
            .or_else(|| schema.field_by_name(&col.name).map(|f| f.id))
    };
    for old in &before {
        let Some(id) = field_of(old) else { continue };
        match after.iter().find(|c| c.attnum == old.attnum) {
            None => {
                fields.retain(|f| f.id != id);
                changed = true;
            }
            Some(new) => {
                let field = fields.iter_mut().find(|f| f.id == id).expect("field of the schema");
                if new.name != old.name {
                    field.name = new.name.clone();
                    changed = true;
                }
                if new.not_null != old.not_null {
                    if new.not_null {
                        // Iceberg lets a required field become optional, never
                        // the reverse: files already written may hold NULLs.
                        return Err(LakeError::new(
                            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                            format!("column \"{}\": SET NOT NULL is not supported on an Iceberg table", new.name),
                        )
                        .with_hint("Iceberg cannot make an optional field required. Declare NOT NULL when creating the table."));
                    }
                    field.required = false;
                    changed = true;
                }
                if new.type_oid != old.type_oid || new.typmod != old.typmod {
                    if new.type_oid == pg_sys::INT2OID && old.type_oid != pg_sys::INT2OID {
                        return Err(LakeError::new(
                            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                            format!("column \"{}\": narrowing to smallint is not allowed; Iceberg ints may not fit", new.name),
                        ));
                    }
                    let target = iceberg_type_of(new)?;
                    check_promotion(&field.field_type, &target).map_err(|m| {
                        LakeError::new(PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH, format!("column \"{}\": {m}", new.name))
                    })?;
                    field.field_type = Box::new(target);
                    changed = true;
                }
            }
        }
    }
    for new in after.iter().filter(|c| !before.iter().any(|b| b.attnum == c.attnum)) {
        if new.not_null {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("column \"{}\": a new column of an Iceberg table cannot be NOT NULL", new.name),
            )
            .with_hint("Rows written before it existed read it as NULL; add it without NOT NULL."));
        }
        next_id += 1;
        // Rows written before the column existed read it as NULL.
        fields.push(NestedField::optional(next_id, &new.name, iceberg_type_of(new)?));
        changed = true;
    }
    if !changed {
        return Ok(());
    }
    super::source::require_table_owner(relid, &resolved, "ALTER", true)?;
    let new_schema = Schema::builder()
        .with_fields(fields.into_iter().map(Arc::new))
        .build()
        .map_err(|e| LakeError::invalid(format!("invalid Iceberg schema change: {}", iceberg_message(&e))))?;
    commit_metadata(&resolved, |b| b.add_current_schema(new_schema))
}
