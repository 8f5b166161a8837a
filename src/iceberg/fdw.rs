//! The FdwRoutine of the `iceberg` wrapper. Each callback is a thin
//! `pg_guard`ed shim: errors become Postgres ERRORs, never panics.

use std::collections::BTreeMap;
use std::ffi::{c_void, CString};

use pgrx::prelude::*;
use pgrx::{pg_sys, PgBox, PgRelation, PgSqlErrorCode};

use super::exec::IcebergScan;
use super::plan::{self, PlanColumn, ScanPlan, Translator};
use super::predicate::Filter;
use super::source::{self, COLUMN_OPTIONS, SERVER_OPTIONS, TABLE_OPTIONS};
use super::types::{check_compatible, PgKind};
use crate::errors::{LakeError, LakeResult, OrReport};
use crate::fdw::options::{check_names, options_to_map, OptionTarget};
use crate::fdw::state::{attach_to_context, from_private, to_private};
use crate::storage::options::{parse_bool, parse_location, USER_MAPPING_OPTIONS};

#[no_mangle]
pub extern "C" fn pg_finfo_iceberg_fdw_handler() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// `lake.iceberg_fdw_handler()`: the wrapper's callbacks.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn iceberg_fdw_handler(_fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let mut routine = PgBox::<pg_sys::FdwRoutine>::alloc_node(pg_sys::NodeTag::T_FdwRoutine);
    routine.GetForeignRelSize = Some(get_foreign_rel_size);
    routine.GetForeignPaths = Some(get_foreign_paths);
    routine.GetForeignPlan = Some(get_foreign_plan);
    routine.BeginForeignScan = Some(begin_foreign_scan);
    routine.IterateForeignScan = Some(iterate_foreign_scan);
    routine.ReScanForeignScan = Some(rescan_foreign_scan);
    routine.EndForeignScan = Some(end_foreign_scan);
    routine.ExplainForeignScan = Some(explain_foreign_scan);
    routine.ImportForeignSchema = Some(super::import::import_foreign_schema);
    routine.IsForeignRelUpdatable = Some(super::write::is_foreign_rel_updatable);
    routine.PlanForeignModify = Some(super::write::plan_foreign_modify);
    routine.BeginForeignModify = Some(super::write::begin_foreign_modify);
    routine.ExecForeignInsert = Some(super::write::exec_foreign_insert);
    routine.EndForeignModify = Some(super::write::end_foreign_modify);
    routine.BeginForeignInsert = Some(super::write::begin_foreign_insert);
    routine.EndForeignInsert = Some(super::write::end_foreign_insert);
    routine.ExecForeignTruncate = Some(super::write::exec_foreign_truncate);
    routine.AddForeignUpdateTargets = Some(add_foreign_update_targets);
    routine.IsForeignScanParallelSafe = Some(is_foreign_scan_parallel_safe);
    routine.EstimateDSMForeignScan = Some(estimate_dsm_foreign_scan);
    routine.InitializeDSMForeignScan = Some(initialize_dsm_foreign_scan);
    routine.ReInitializeDSMForeignScan = Some(reinitialize_dsm_foreign_scan);
    routine.InitializeWorkerForeignScan = Some(initialize_worker_foreign_scan);
    routine.ExecForeignUpdate = Some(super::write::exec_foreign_update);
    routine.ExecForeignDelete = Some(super::write::exec_foreign_delete);
    pg_sys::Datum::from(routine.into_pg())
}

/// `lake.iceberg_fdw_validator(options, catalog)`: checks option names and values
/// when a server, user mapping, foreign table or column is created or altered.
#[pg_extern]
pub fn iceberg_fdw_validator(options: Option<Vec<Option<String>>>, catalog: pg_sys::Oid) {
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
        crate::storage::options::S3Settings::from_options(given).map_err(|m| {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, m)
                .with_hint("For a local S3 API server use OPTIONS (s3_endpoint 'http://127.0.0.1:9000', s3_allow_http 'true', s3_path_style 'true').")
        })?;
    }
    // A server without a warehouse creates its tables under
    // townlake.warehouse: say so rather than do it silently (lake_local,
    // made by CREATE EXTENSION, is meant to).
    // SAFETY: plain read of a backend global.
    let creating_extension = unsafe { pg_sys::creating_extension };
    if matches!(target, OptionTarget::Server) && !given.contains_key("warehouse") && !creating_extension {
        let read_only = parse_bool("read_only", given.get("read_only")).ok().flatten().unwrap_or(false);
        if !read_only {
            pgrx::notice!(
                "server has no warehouse option: Iceberg tables created on it go under townlake.warehouse ({})",
                crate::guc::warehouse()
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
            "partition_by" => super::ddl::parse_partition_by(value)
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
            _ => Ok(()),
        };
        check.map_err(|m| {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, m)
                .with_hint("See docs/iceberg.md for the options of the iceberg wrapper.")
        })?;
    }
    Ok(())
}

/// What planning learned about the relation, kept in `baserel->fdw_private`.
struct RelInfo {
    columns: Vec<PlanColumn>,
    table_name: String,
    /// Data files in the current snapshot (parallel scans divide them).
    files: f64,
}

fn pg_kind(type_oid: u32) -> Option<PgKind> {
    Some(match type_oid {
        16 => PgKind::Bool,
        21 => PgKind::Int2,
        23 => PgKind::Int4,
        20 => PgKind::Int8,
        700 => PgKind::Float4,
        701 => PgKind::Float8,
        1700 => PgKind::Numeric,
        1082 => PgKind::Date,
        1083 => PgKind::Time,
        1114 => PgKind::Timestamp,
        1184 => PgKind::TimestampTz,
        25 | 1043 => PgKind::Text,
        2950 => PgKind::Uuid,
        17 => PgKind::Bytea,
        114 => PgKind::Json,
        3802 => PgKind::Jsonb,
        _ => return None,
    })
}

/// Map every column of the foreign table to an Iceberg field of the current
/// schema (by the `field_id` option, else by `column_name` or its own name)
/// and check the declared type can hold the field's type.
unsafe fn plan_columns(relid: pg_sys::Oid, resolved: &source::ResolvedTable) -> LakeResult<Vec<PlanColumn>> {
    let schema = resolved.metadata.current_schema();
    let rel = PgRelation::with_lock(relid, pg_sys::NoLock as pg_sys::LOCKMODE);
    let relname = rel.name().to_string();
    let mut out = Vec::new();
    for att in rel.tuple_desc().iter() {
        if att.attisdropped {
            continue;
        }
        let attname = pgrx::name_data_to_str(&att.attname).to_string();
        let opts = options_to_map(pg_sys::GetForeignColumnOptions(relid, att.attnum));
        let field = match opts.get("field_id").and_then(|v| v.trim().parse::<i32>().ok()) {
            Some(id) => schema.field_by_id(id),
            None => schema.field_by_name(opts.get("column_name").unwrap_or(&attname)),
        };
        let Some(field) = field else {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                format!("column \"{attname}\" of foreign table \"{relname}\" does not exist in Iceberg table \"{}\"", resolved.display_name),
            )
            .with_hint(format!(
                "The table's columns are: {}. Use the column option column_name or field_id, or IMPORT FOREIGN SCHEMA again.",
                schema.as_struct().fields().iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", ")
            )));
        };
        let type_oid = att.atttypid.to_u32();
        let typmod = att.atttypmod;
        let declared = pg_kind(type_oid).ok_or_else(|| {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!("column \"{attname}\" of foreign table \"{relname}\" has a type townlake cannot fill from Iceberg"),
            )
            .with_hint(format!("Declare it as {}.", super::types::pg_type_for(&field.field_type)))
        })?;
        let numeric_typmod = (declared == PgKind::Numeric && typmod >= 4).then(|| {
            let t = (typmod - 4) as u32;
            ((t >> 16) & 0xffff, t & 0xffff)
        });
        check_compatible(&field.field_type, declared, numeric_typmod).map_err(|why| {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!("column \"{attname}\" of foreign table \"{relname}\": {why}"),
            )
            .with_hint(format!(
                "Declare it as {} (ALTER FOREIGN TABLE {relname} ALTER COLUMN {attname} TYPE …).",
                super::types::pg_type_for(&field.field_type)
            ))
        })?;
        out.push(PlanColumn { attnum: att.attnum, attname, field_id: field.id, type_oid, typmod });
    }
    Ok(out)
}

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) {
    let resolved = source::with_mapping_user((*baserel).userid, || source::resolve(foreigntableid)).or_report();
    let columns = plan_columns(foreigntableid, &resolved).or_report();
    let total = resolved
        .metadata
        .current_snapshot()
        .and_then(|s| s.summary().additional_properties.get("total-records").and_then(|v| v.parse::<f64>().ok()))
        .unwrap_or(0.0);
    let selectivity = pg_sys::clauselist_selectivity(
        root,
        (*baserel).baserestrictinfo,
        (*baserel).relid as i32,
        pg_sys::JoinType::JOIN_INNER,
        std::ptr::null_mut(),
    );
    (*baserel).tuples = total;
    (*baserel).rows = (total * selectivity).round().max(1.0);
    let files = resolved
        .metadata
        .current_snapshot()
        .and_then(|s| s.summary().additional_properties.get("total-data-files").and_then(|v| v.parse::<f64>().ok()))
        .unwrap_or(1.0);
    let info = attach_to_context(pg_sys::CurrentMemoryContext, RelInfo { columns, files, table_name: resolved.display_name.clone() });
    (*baserel).fdw_private = info as *mut c_void;
}

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
) {
    // Opening the metadata and manifests is the fixed cost; decoding rows the
    // variable one. Comparable to a sequential scan of the same rows.
    let startup = 25.0;
    let total = startup + (*baserel).tuples * 0.005 + (*baserel).rows * pg_sys::cpu_tuple_cost;
    let path = pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        (*baserel).rows,
        startup,
        total,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    pg_sys::add_path(baserel, path as *mut pg_sys::Path);
    add_parallel_path(root, baserel, startup);
}

/// A partial (parallel-aware) path: workers claim data files from shared
/// memory. Worth it for large tables with several files.
unsafe fn add_parallel_path(root: *mut pg_sys::PlannerInfo, baserel: *mut pg_sys::RelOptInfo, startup: f64) {
    if !(*baserel).consider_parallel || (*(*root).parse).resultRelation as u32 == (*baserel).relid {
        return;
    }
    let info = &*((*baserel).fdw_private as *mut RelInfo);
    let tuples = (*baserel).tuples;
    let max_workers = pg_sys::max_parallel_workers_per_gather as f64;
    let per_worker = crate::guc::MIN_PARALLEL_ROWS.get().max(1) as f64;
    let workers = max_workers.min(info.files - 1.0).min((tuples / per_worker).floor());
    if workers < 1.0 {
        return;
    }
    // As for heap scans: the leader contributes less as workers grow.
    let divisor = workers + (1.0 - 0.3 * workers).max(0.0);
    let rows = ((*baserel).rows / divisor).max(1.0);
    let total = startup + (tuples * 0.005 + (*baserel).rows * pg_sys::cpu_tuple_cost) / divisor;
    let path = pg_sys::create_foreignscan_path(
        root,
        baserel,
        std::ptr::null_mut(),
        rows,
        startup,
        total,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    (*path).path.parallel_aware = true;
    (*path).path.parallel_safe = true;
    (*path).path.parallel_workers = workers as i32;
    pg_sys::add_partial_path(baserel, path as *mut pg_sys::Path);
}

/// Iceberg scans may run in parallel workers, unless this transaction has
/// uncommitted writes to the table (workers cannot see them).
#[pg_guard]
unsafe extern "C-unwind" fn is_foreign_scan_parallel_safe(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    rte: *mut pg_sys::RangeTblEntry,
) -> bool {
    !super::write::has_pending((*rte).relid.to_u32())
}

#[pg_guard]
unsafe extern "C-unwind" fn estimate_dsm_foreign_scan(
    _node: *mut pg_sys::ForeignScanState,
    _pcxt: *mut pg_sys::ParallelContext,
) -> pg_sys::Size {
    std::mem::size_of::<super::exec::SharedScan>() as pg_sys::Size
}

#[pg_guard]
unsafe extern "C-unwind" fn initialize_dsm_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    _pcxt: *mut pg_sys::ParallelContext,
    coordinate: *mut c_void,
) {
    let shared = coordinate as *mut super::exec::SharedScan;
    let scan = scan_state(node);
    std::ptr::write(
        shared,
        super::exec::SharedScan {
            next_file: std::sync::atomic::AtomicU32::new(0),
            leader_only: std::sync::atomic::AtomicBool::new(super::write::has_pending(scan.plan.relid)),
        },
    );
    scan.shared = Some(shared);
}

#[pg_guard]
unsafe extern "C-unwind" fn reinitialize_dsm_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    _pcxt: *mut pg_sys::ParallelContext,
    coordinate: *mut c_void,
) {
    let shared = coordinate as *mut super::exec::SharedScan;
    (*shared).next_file.store(0, std::sync::atomic::Ordering::SeqCst);
    scan_state(node).rescan();
}

#[pg_guard]
unsafe extern "C-unwind" fn initialize_worker_foreign_scan(
    node: *mut pg_sys::ForeignScanState,
    _toc: *mut pg_sys::shm_toc,
    coordinate: *mut c_void,
) {
    let scan = scan_state(node);
    scan.shared = Some(coordinate as *const super::exec::SharedScan);
    scan.is_worker = true;
}

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_plan(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    _best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let info = &*((*baserel).fdw_private as *mut RelInfo);
    let varno = (*baserel).relid;
    let mut translator = Translator::new(varno, &info.columns);
    let parts: Vec<Filter> = plan::restriction_clauses(baserel)
        .into_iter()
        .filter_map(|clause| translator.translate(clause))
        .collect();
    let clause_count = plan::restriction_clauses(baserel).len();
    let all_translated = parts.len() == clause_count;
    let filter = (!parts.is_empty()).then_some(Filter::And(parts));
    let parse = (*_root).parse;
    let row_identity = (*parse).resultRelation as u32 == varno
        && matches!((*parse).commandType, pg_sys::CmdType::CMD_UPDATE | pg_sys::CmdType::CMD_DELETE);
    let needed: Vec<usize> = match plan::used_attnums(baserel, varno).filter(|_| !row_identity) {
        Some(attnums) => info
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| attnums.contains(&c.attnum))
            .map(|(i, _)| i)
            .collect(),
        None => (0..info.columns.len()).collect(),
    };
    let scan_plan = ScanPlan {
        relid: foreigntableid.to_u32(),
        columns: info.columns.clone(),
        needed,
        filter,
        slot_types: translator.slot_types.clone(),
        constant_operands: translator.constant_operands,
        row_identity,
        limit: pushable_limit(_root, all_translated && !row_identity),
        table_name: info.table_name.clone(),
        mapping_user: (*baserel).userid.to_u32(),
    };
    let mut fdw_exprs: *mut pg_sys::List = std::ptr::null_mut();
    for operand in &translator.operands {
        let copy = pg_sys::copyObjectImpl(*operand as *const c_void);
        fdw_exprs = pg_sys::lappend(fdw_exprs, copy);
    }
    let private = to_private(&scan_plan).or_report();
    // Every clause stays a local qual too: pushed filters only prune.
    let quals = pg_sys::extract_actual_clauses(scan_clauses, false);
    pg_sys::make_foreignscan(
        tlist,
        quals,
        varno,
        fdw_exprs,
        private,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        outer_plan,
    )
}

/// UPDATE and DELETE identify rows by a ctid naming the data file (see
/// `rowid`) and by the whole old row.
#[pg_guard]
unsafe extern "C-unwind" fn add_foreign_update_targets(
    root: *mut pg_sys::PlannerInfo,
    rtindex: pg_sys::Index,
    target_rte: *mut pg_sys::RangeTblEntry,
    _target_relation: pg_sys::Relation,
) {
    let ctid = pg_sys::makeVar(
        rtindex as i32,
        pg_sys::SelfItemPointerAttributeNumber as i16,
        pg_sys::TIDOID,
        -1,
        pg_sys::Oid::INVALID,
        0,
    );
    pg_sys::add_row_identity_var(root, ctid, rtindex, c"ctid".as_ptr());
    let wholerow = pg_sys::makeWholeRowVar(target_rte, rtindex as i32, 0, false);
    pg_sys::add_row_identity_var(root, wholerow, rtindex, c"wholerow".as_ptr());
}

/// The LIMIT (plus OFFSET) that bounds this scan's useful rows: only for a
/// query over this one relation without ORDER BY or grouping (Postgres then
/// sets `limit_tuples`), and only when every WHERE clause was translated.
unsafe fn pushable_limit(root: *mut pg_sys::PlannerInfo, all_translated: bool) -> Option<u64> {
    let parse = (*root).parse;
    let limit = (*root).limit_tuples;
    if !all_translated
        || limit <= 0.0
        || !(*parse).sortClause.is_null()
        || pg_sys::bms_num_members((*root).all_baserels) != 1
    {
        return None;
    }
    Some(limit as u64)
}

unsafe fn scan_state(node: *mut pg_sys::ForeignScanState) -> &'static mut IcebergScan {
    &mut *((*node).fdw_state as *mut IcebergScan)
}

#[pg_guard]
unsafe extern "C-unwind" fn begin_foreign_scan(node: *mut pg_sys::ForeignScanState, eflags: i32) {
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let scan_plan: ScanPlan = from_private((*plan).fdw_private).or_report();
    let states = pg_sys::ExecInitExprList((*plan).fdw_exprs, node as *mut pg_sys::PlanState);
    let operand_states = plan::nodes_of(states).into_iter().map(|n| n as *mut pg_sys::ExprState).collect();
    let query_cxt = (*(*node).ss.ps.state).es_query_cxt;
    let scan = attach_to_context(query_cxt, IcebergScan::new(scan_plan, operand_states));
    (*node).fdw_state = scan as *mut c_void;
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0 {
        (*scan).plan_for_explain((*node).ss.ps.ps_ExprContext).or_report();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn iterate_foreign_scan(node: *mut pg_sys::ForeignScanState) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    let scan = scan_state(node);
    if !scan.next_row((*node).ss.ps.ps_ExprContext, slot).or_report() {
        pg_sys::ExecClearTuple(slot);
    }
    slot
}

#[pg_guard]
unsafe extern "C-unwind" fn rescan_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    scan_state(node).rescan();
}

#[pg_guard]
unsafe extern "C-unwind" fn end_foreign_scan(node: *mut pg_sys::ForeignScanState) {
    if !(*node).fdw_state.is_null() {
        // Release files and buffers now; the state itself goes with the
        // executor's memory context.
        scan_state(node).rescan();
    }
}

unsafe fn explain_text(label: &str, value: &str, es: *mut pg_sys::ExplainState) {
    let l = CString::new(label).unwrap_or_default();
    let v = CString::new(value.replace('\0', "")).unwrap_or_default();
    pg_sys::ExplainPropertyText(l.as_ptr(), v.as_ptr(), es);
}

#[pg_guard]
unsafe extern "C-unwind" fn explain_foreign_scan(node: *mut pg_sys::ForeignScanState, es: *mut pg_sys::ExplainState) {
    let scan = scan_state(node);
    let r = scan.report.clone();
    if !r.planned {
        explain_text("Iceberg Table", &scan.plan.table_name, es);
        explain_text("Data Files", "planned at execution (the filter depends on parameters)", es);
        return;
    }
    explain_text("Iceberg Table", &r.table, es);
    match r.snapshot_id {
        Some(id) => explain_text("Snapshot", &id.to_string(), es),
        None => explain_text("Snapshot", "none (the table is empty)", es),
    }
    if let Some(f) = &r.filter {
        explain_text("Iceberg Filter", f, es);
    }
    // File counts depend on every row of the table, those a published view's
    // row filter hides included (a pushed `email = '…'` prunes by it): only
    // roles that may read the raw table see them.
    let relid = (*(*node).ss.ss_currentRelation).rd_id;
    let hidden = crate::governance::cache::governed(relid).is_some() && !crate::pg::security::can_select(relid);
    let files = if hidden {
        "hidden (governed table)".to_string()
    } else {
        match r.files_total {
            Some(total) => format!("{} planned, {} skipped", r.files_planned, total.saturating_sub(r.files_planned)),
            None => format!("{} planned", r.files_planned),
        }
    };
    explain_text("Data Files", &files, es);
    if let Some(limit) = r.limit {
        explain_text("Iceberg Limit", &limit.to_string(), es);
    }
    if (*es).verbose {
        let cols: Vec<&str> = scan.plan.needed.iter().map(|i| scan.plan.columns[*i].attname.as_str()).collect();
        explain_text("Iceberg Columns", &cols.join(", "), es);
    }
    if (*es).analyze && !hidden {
        let rows = CString::new("Rows Read").unwrap_or_default();
        pg_sys::ExplainPropertyInteger(rows.as_ptr(), std::ptr::null(), r.rows_read as i64, es);
        let bytes = CString::new("Bytes Read").unwrap_or_default();
        pg_sys::ExplainPropertyInteger(bytes.as_ptr(), std::ptr::null(), scan.bytes_read().unwrap_or(0) as i64, es);
    }
}

extension_sql_file!("../../sql/iceberg/wrapper.sql", name = "iceberg_wrapper", requires = [iceberg_fdw_validator]);
