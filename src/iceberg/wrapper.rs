//! The `iceberg` foreign data wrapper: its handler and validator, and what
//! is particular to Iceberg in each FDW callback (the callbacks themselves
//! are in `fdw::routine`).

use std::collections::BTreeMap;

use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::scan::exec::IcebergScan;
use super::scan::plan::{plan_columns, RelInfo, ScanPlan};
use super::source::{self, COLUMN_OPTIONS, SERVER_OPTIONS, TABLE_OPTIONS};
use super::storage::options::{parse_bool, parse_location, USER_MAPPING_OPTIONS};
use super::write::{self, Modify};
use super::txn;
use crate::errors::{LakeError, LakeResult, OrReport};
use crate::fdw::explain::Explain;
use crate::fdw::modify::{ModifyOp, ModifyTarget, OldRow, Row};
use crate::fdw::options::{check_names, OptionTarget};
use crate::fdw::parallel::Participant;
use crate::fdw::params::Operands;
use crate::fdw::paths::{ParallelUnits, ScanCost};
use crate::fdw::routine::{Estimate, ImportRequest, PlannedScan, PlannedUpper, UpperEstimate, UpperInput, Wrapper};
use crate::fdw::upper::{UpperQuery, UpperStage};
use crate::fdw::scan::{ExecContext, ScanSlot};

crate::fdw_handler!(iceberg_fdw_handler, pg_finfo_iceberg_fdw_handler, Iceberg);

/// `lake.iceberg_fdw_validator(options, catalog)`: checks option names and values
/// when a server, user mapping, foreign table or column is created or altered.
#[pg_extern]
pub fn iceberg_fdw_validator(options: Option<Vec<Option<String>>>, catalog: Option<pg_sys::Oid>) {
    // Postgres always names the catalog; a direct call with NULL checks nothing.
    let catalog = catalog.unwrap_or(pg_sys::Oid::INVALID);
    let mut given = BTreeMap::new();
    for item in options.unwrap_or_default().into_iter().flatten() {
        let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
        given.insert(k.to_string(), v.to_string());
    }
    validate(&given, catalog).or_report();
}

fn validate(given: &BTreeMap<String, String>, catalog: pg_sys::Oid) -> LakeResult<()> {
    let Some(target) = OptionTarget::from_catalog(catalog) else {
        return Ok(());
    };
    let valid: &[&str] = match target {
        OptionTarget::Wrapper => &[],
        OptionTarget::Server => SERVER_OPTIONS,
        OptionTarget::UserMapping => USER_MAPPING_OPTIONS,
        OptionTarget::ForeignTable => TABLE_OPTIONS,
        OptionTarget::Column => COLUMN_OPTIONS,
    };
    check_names(given, valid, target, "iceberg")?;
    if matches!(target, OptionTarget::Server) {
        super::storage::options::S3Settings::from_options(given).map_err(|m| {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, m)
                .with_hint("For a local S3 API server use OPTIONS (s3_endpoint 'http://127.0.0.1:9000', s3_allow_http 'true', s3_path_style 'true').")
        })?;
    }
    // A server without a warehouse creates its tables under
    // townlake.iceberg_warehouse: say so rather than do it silently (lake_local,
    // made by CREATE EXTENSION, is meant to).
    // SAFETY: plain read of a backend global.
    let creating_extension = unsafe { pg_sys::creating_extension };
    if matches!(target, OptionTarget::Server) && !given.contains_key("warehouse") && !creating_extension {
        let read_only = parse_bool("read_only", given.get("read_only")).ok().flatten().unwrap_or(false);
        if !read_only {
            pgrx::notice!(
                "server has no warehouse option: Iceberg tables created on it go under townlake.iceberg_warehouse ({})",
                super::settings::warehouse()
            );
        }
    }
    // These two reach past the catalog's ownership records (any file the
    // server can read; dropping a table on DROP FOREIGN TABLE), so only
    // superusers may set them.
    for name in ["metadata_location", "owns_table"] {
        if given.contains_key(name) && !crate::pg::security::is_superuser(crate::pg::security::current_user()) {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("only superusers may set option \"{name}\" of an iceberg foreign table"),
            )
            .with_hint("Attach catalog tables with OPTIONS (namespace '...', \"table\" '...') instead."));
        }
    }
    for (name, value) in given {
        let check = match name.as_str() {
            "warehouse" | "metadata_location" => parse_location(value).map(|_| ()),
            "s3_path_style" | "s3_allow_http" | "read_only" | "owns_table" | "attach_only" => {
                parse_bool(name, Some(value)).map(|_| ())
            }
            "snapshot_id" => super::timetravel::parse_snapshot_id(value).map(|_| ()),
            "partition_by" => super::partition::parse_partition_by(value)
                .map(|_| ())
                .map_err(|m| format!("invalid partition_by: {m}")),
            "field_id" => value
                .trim()
                .parse::<i32>()
                .map(|_| ())
                .map_err(|_| format!("option \"field_id\" must be an integer, not \"{value}\"")),
            "s3_endpoint" => {
                if value.starts_with("http://") || value.starts_with("https://") {
                    Ok(())
                } else {
                    Err(format!("option \"s3_endpoint\" must be an http:// or https:// URL, not \"{value}\""))
                }
            }
            "namespace" | "table" | "catalog_name" if value.trim().is_empty() => {
                Err(format!("option \"{name}\" must not be empty"))
            }
            "namespace" | "table" => storage_name(name, value),
            _ => Ok(()),
        };
        check.map_err(|m| {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, m)
                .with_hint("See docs/iceberg.md for the options of the iceberg wrapper.")
        })?;
    }
    Ok(())
}

/// Namespaces and table names become parts of storage paths: a `/` would
/// put one table inside another's directory (where its owner's orphan
/// removal deletes it), `..` would climb out of the warehouse on stores that
/// keep it literally, and surrounding blanks make look-alike names.
fn storage_name(option: &str, value: &str) -> Result<(), String> {
    if value.trim() != value {
        return Err(format!("option \"{option}\" must not begin or end with blanks: \"{value}\""));
    }
    if let Some(c) = value.chars().find(|c| matches!(c, '/' | '\\') || c.is_control()) {
        return Err(format!("option \"{option}\" must not contain {c:?}: \"{value}\""));
    }
    if value.split('.').any(|part| part == "..") || value == "." || value == ".." {
        return Err(format!("option \"{option}\" must not name a parent or current directory: \"{value}\""));
    }
    Ok(())
}

/// Planner cost of reading one row of a table of `tuples` rows stored in
/// `bytes` of data files: `cpu_tuple_cost` plus the row's share of
/// `seq_page_cost` per 8 kB read.
fn scan_cost_per_row(tuples: f64, bytes: Option<f64>) -> f64 {
    // SAFETY: planner GUCs, read on the backend thread.
    let (cpu_tuple, page) = unsafe { (pg_sys::cpu_tuple_cost, pg_sys::seq_page_cost) };
    let pages = bytes.unwrap_or(0.0) / 8192.0;
    cpu_tuple + if tuples >= 1.0 { page * pages / tuples } else { 0.0 }
}

/// The Iceberg wrapper.
pub struct Iceberg;

impl Wrapper for Iceberg {
    type Rel = RelInfo;
    type Plan = ScanPlan;
    type Scan = IcebergScan;
    type Modify = Modify;

    const UPDATABLE: &'static [ModifyOp] = &[ModifyOp::Insert, ModifyOp::Update, ModifyOp::Delete];

    fn estimate(relid: pg_sys::Oid, mapping_user: pg_sys::Oid) -> LakeResult<Estimate<RelInfo>> {
        let resolved = source::with_mapping_user(mapping_user, || source::resolve(relid))?;
        let columns = plan_columns(relid, &resolved)?;
        let summary = |key: &str| {
            resolved
                .metadata
                .current_snapshot()
                .and_then(|s| s.summary().additional_properties.get(key).and_then(|v| v.parse::<f64>().ok()))
        };
        let tuples = summary("total-records").unwrap_or(0.0);
        let files = summary("total-data-files").unwrap_or(1.0);
        let schema = resolved.metadata.current_schema().clone();
        let promoted = super::scan::exec::promoted_fields(&resolved.metadata, &schema);
        let added = super::scan::exec::added_fields(&resolved.metadata, &schema);
        let rel = RelInfo {
            columns,
            files,
            table_name: resolved.display_name.clone(),
            relid: relid.to_u32(),
            schema: Some(schema),
            promoted,
            added,
            tuples,
        };
        Ok(Estimate {
            columns: rel.classify_columns(),
            rel,
            tuples,
            // Opening the metadata and manifests is the fixed cost; reading
            // and decoding rows the variable one, priced as a heap scan is
            // (a tuple's CPU plus its share of the pages read): a cheaper
            // figure makes nested loops that rescan a large table per outer
            // row look free next to hash joins (TPC-H Q21).
            cost: ScanCost { startup: 25.0, per_source_row: scan_cost_per_row(tuples, summary("total-files-size")) },
            // Workers claim data files, and byte ranges (row groups) of large
            // ones; worth it for large tables.
            parallel: Some(ParallelUnits {
                units: super::scan::split::units(files, summary("total-files-size").unwrap_or(0.0)),
                min_rows_per_worker: super::settings::MIN_PARALLEL_ROWS.get().max(1) as f64,
            }),
        })
    }

    fn plan_scan(rel: &RelInfo, scan: PlannedScan) -> LakeResult<ScanPlan> {
        Ok(ScanPlan {
            relid: scan.relid.to_u32(),
            columns: rel.columns.clone(),
            needed: scan.needed,
            filter: scan.filter,
            row_identity: scan.row_identity,
            limit: scan.limit,
            table_name: rel.table_name.clone(),
            mapping_user: scan.mapping_user.to_u32(),
            aggregate: None,
            top_n: None,
        })
    }

    /// Aggregates over one Iceberg relation, computed on Arrow batches
    /// (or from file metadata) when every result is exactly Postgres'.
    fn upper_path(rel: &RelInfo, query: &UpperQuery, input: &UpperInput<'_>) -> Option<UpperEstimate> {
        if !super::settings::AGGREGATE_PUSHDOWN.get() {
            return None;
        }
        // This transaction's uncommitted files are not pruned by partition:
        // Postgres aggregates while there are any (the scan copes with them
        // too, for plans made before the writes).
        if txn::has_pending(rel.relid) {
            return None;
        }
        // No WHERE is rechecked above the scan (see below).
        let top_n = super::scan::aggplan::top_n_for(rel, query);
        let spec = match (query.stage, &top_n) {
            (UpperStage::Grouping, _) => Some(super::scan::aggplan::spec_for(rel, query)?),
            (UpperStage::Ordered, Some(_)) => None,
            _ => return None,
        };
        // No WHERE is rechecked above an aggregate: the reader must keep
        // exactly Postgres' rows, which is known only for constants.
        if let Some(filter) = input.filter {
            let values = input.values?;
            if !super::scan::exec::filter_is_exact(rel, filter, values) {
                return None;
            }
        }
        let Some(spec) = spec else {
            let top = top_n.as_ref()?;
            // Every row is decoded, but only n are sorted and returned.
            let rows = (top.limit as f64).min(input.rows).max(1.0);
            let startup = 25.0 + rel.tuples * 0.004;
            return Some(UpperEstimate { rows, startup, total: startup + rows * 0.01 });
        };
        let groups = if spec.keys.is_empty() { 1.0 } else { rel.tuples.sqrt().min(input.rows).max(1.0) };
        // Reading only the needed columns into vectorised accumulators costs
        // a fraction of handing every row to Postgres; count(*) alone may be
        // answered from metadata.
        let per_row = if spec.count_only() { 0.0001 } else { 0.002 };
        let startup = 25.0 + rel.tuples * per_row;
        Some(UpperEstimate { rows: groups, startup, total: startup + groups * 0.01 })
    }

    fn plan_upper(rel: &RelInfo, query: &UpperQuery, scan: PlannedUpper) -> LakeResult<ScanPlan> {
        if query.stage == UpperStage::Ordered {
            let top = super::scan::aggplan::top_n_for(rel, query)
                .ok_or_else(|| LakeError::internal("accepted top-N path no longer plans"))?;
            let mut needed = top.outputs.clone();
            needed.sort_unstable();
            needed.dedup();
            return Ok(ScanPlan {
                relid: scan.relid.to_u32(),
                columns: rel.columns.clone(),
                needed,
                filter: scan.filter,
                row_identity: false,
                limit: None,
                table_name: rel.table_name.clone(),
                mapping_user: scan.mapping_user.to_u32(),
                aggregate: None,
                top_n: Some(top),
            });
        }
        let spec = super::scan::aggplan::spec_for(rel, query)
            .ok_or_else(|| LakeError::internal("accepted aggregate path no longer plans"))?;
        Ok(ScanPlan {
            relid: scan.relid.to_u32(),
            columns: rel.columns.clone(),
            needed: spec.inputs.clone(),
            filter: scan.filter,
            row_identity: false,
            limit: None,
            table_name: rel.table_name.clone(),
            mapping_user: scan.mapping_user.to_u32(),
            aggregate: Some(spec),
            top_n: None,
        })
    }

    fn analyze_pages(relid: pg_sys::Oid) -> LakeResult<Option<u32>> {
        let resolved = source::resolve(relid)?;
        let bytes = resolved
            .metadata
            .current_snapshot()
            .and_then(|s| s.summary().additional_properties.get("total-files-size").and_then(|v| v.parse::<f64>().ok()))
            .unwrap_or(0.0);
        Ok(Some((bytes / 8192.0).ceil().clamp(1.0, u32::MAX as f64) as u32))
    }

    fn analyze_scan(relid: pg_sys::Oid) -> LakeResult<IcebergScan> {
        let resolved = source::resolve(relid)?;
        let columns = plan_columns(relid, &resolved)?;
        let plan = ScanPlan {
            relid: relid.to_u32(),
            needed: (0..columns.len()).collect(),
            columns,
            filter: None,
            row_identity: false,
            limit: None,
            table_name: resolved.display_name.clone(),
            mapping_user: 0,
            aggregate: None,
            top_n: None,
        };
        // SAFETY: no operand expressions to initialise (an empty List).
        let operands = unsafe { Operands::init(std::ptr::null_mut(), std::ptr::null_mut(), Vec::new(), true) };
        Ok(IcebergScan::new(plan, operands))
    }

    /// Not while this transaction has uncommitted writes to the table
    /// (workers cannot see them).
    fn parallel_safe(relid: pg_sys::Oid) -> bool {
        !txn::has_pending(relid.to_u32())
    }

    fn begin_scan(plan: ScanPlan, operands: Operands) -> LakeResult<IcebergScan> {
        Ok(IcebergScan::new(plan, operands))
    }

    fn explain_only(scan: &mut IcebergScan, cx: &ExecContext) -> LakeResult<()> {
        scan.plan_for_explain(cx)
    }

    fn next_row(scan: &mut IcebergScan, cx: &ExecContext, slot: &mut ScanSlot) -> LakeResult<bool> {
        scan.next_row(cx, slot)
    }

    fn rescan(scan: &mut IcebergScan) {
        scan.rescan();
    }

    fn end_scan(scan: &mut IcebergScan) {
        scan.rescan();
    }

    fn explain_scan(scan: &IcebergScan, relid: Option<pg_sys::Oid>, out: &mut Explain) {
        scan.explain(relid, out);
    }

    fn leader_only(scan: &IcebergScan) -> bool {
        txn::has_pending(scan.plan.relid)
    }

    fn join_parallel(scan: &mut IcebergScan, participant: Participant) {
        scan.parallel = Some(participant);
    }

    fn plan_modify(op: ModifyOp, on_conflict: bool) -> LakeResult<()> {
        write::check_statement(op, on_conflict)
    }

    fn begin_modify(target: ModifyTarget) -> LakeResult<Modify> {
        Modify::begin(target)
    }

    fn insert(state: &mut Modify, row: &Row<'_>) -> LakeResult<()> {
        match state {
            Modify::Insert(insert) => insert.insert(row),
            Modify::Rewrite(_) => Ok(()),
        }
    }

    fn delete(state: &mut Modify, old: &OldRow) -> LakeResult<()> {
        match state {
            Modify::Rewrite(rewrite) => rewrite.record_old_row(old),
            Modify::Insert(_) => Ok(()),
        }
    }

    fn update(state: &mut Modify, old: &OldRow, new: &Row<'_>) -> LakeResult<()> {
        match state {
            Modify::Rewrite(rewrite) => {
                rewrite.record_old_row(old)?;
                rewrite.insert_new_row(new)
            }
            Modify::Insert(_) => Ok(()),
        }
    }

    fn end_modify(state: Modify) -> LakeResult<()> {
        state.finish()
    }

    fn truncate(relid: pg_sys::Oid) -> LakeResult<()> {
        write::truncate(relid)
    }

    fn import_schema(server: pg_sys::Oid, request: &ImportRequest) -> LakeResult<Vec<String>> {
        super::import::build_commands(server, request)
    }
}

extension_sql_file!("../../sql/iceberg/wrapper.sql", name = "iceberg_wrapper", requires = [iceberg_fdw_validator]);

#[cfg(test)]
mod tests {
    #[test]
    fn storage_names_stay_inside_their_directory() {
        for ok in ["sales", "Sales 2024", "ünïcode", "a.b", "x-y_z"] {
            assert!(super::storage_name("table", ok).is_ok(), "{ok}");
        }
        for bad in ["alice_ns/sales", "..", ".", "a\\b", "sales ", " sales", "tab\tname", "../../other"] {
            assert!(super::storage_name("namespace", bad).is_err(), "{bad}");
        }
    }
}
