//! The [`Wrapper`] trait and the FdwRoutine that drives it. Every Postgres
//! callback is here, once, `pg_guard`ed (errors become Postgres ERRORs,
//! never panics); a wrapper implements only what is particular to it and
//! never sees a raw planner or executor node.

use std::ffi::{c_void, CStr, CString};

use pgrx::prelude::*;
use pgrx::{pg_sys, PgBox};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::clauses::{self, ClassifyColumn, SlotType};
use super::explain::Explain;
use super::filter::Filter;
use super::join::{self, JoinQuery};
use super::modify::{self, IdentityColumns, ModifyOp, ModifyTarget, OldRow, Row};
use super::parallel::{Participant, SharedCursor};
use super::params::Operands;
use super::paths::{self, ParallelUnits, ScanCost};
use super::scan::{ExecContext, ScanSlot};
use super::state::{attach_to_context, from_private, to_private};
use super::upper::{self, UpperQuery, UpperStage};
use crate::errors::{LakeError, LakeResult, OrReport};
use crate::pg::nodes;

/// What a wrapper's planning learned about one base relation.
pub struct Estimate<R> {
    pub rel: R,
    /// Rows in the source (before any filter).
    pub tuples: f64,
    /// The columns clauses and upper paths may refer to (index = column
    /// number in [`Filter`] and [`UpperQuery`]).
    pub columns: Vec<ClassifyColumn>,
    pub cost: ScanCost,
    /// None: never parallel.
    pub parallel: Option<ParallelUnits>,
}

/// The scan the planner settled on, for the wrapper to turn into its plan.
pub struct PlannedScan {
    pub relid: pg_sys::Oid,
    /// The pushable part of WHERE; operands are slots of the scan's operands.
    pub filter: Option<Filter>,
    /// Indexes into the estimate's columns of the columns the query reads.
    pub needed: Vec<usize>,
    /// This scan feeds an UPDATE or DELETE of the table: it reads every
    /// column and gives each row an identity (see [`ScanSlot::set_row_identity`]).
    pub row_identity: bool,
    /// Rows the query can use at most, when a LIMIT may be applied at the
    /// source (one relation, no ORDER BY or grouping, every clause pushed).
    pub limit: Option<u64>,
    /// The role whose user mapping the scan uses (the view owner when read
    /// through a view); INVALID for the current user.
    pub mapping_user: pg_sys::Oid,
}

/// Which tables IMPORT FOREIGN SCHEMA asks for.
pub enum ImportFilter {
    All,
    LimitTo(Vec<String>),
    Except(Vec<String>),
}

pub struct ImportRequest {
    pub remote_schema: String,
    pub local_schema: String,
    pub filter: ImportFilter,
}

impl ImportRequest {
    pub fn wants(&self, table: &str) -> bool {
        match &self.filter {
            ImportFilter::All => true,
            ImportFilter::LimitTo(names) => names.iter().any(|n| n == table),
            ImportFilter::Except(names) => !names.iter().any(|n| n == table),
        }
    }
}

/// What a wrapper sees of the relation under an upper path: the pushed
/// WHERE and, when every operand is a constant, their values (so it can
/// check that its translation keeps exactly the rows Postgres would).
pub struct UpperInput<'a> {
    pub filter: Option<&'a Filter>,
    /// None when an operand is a parameter or another expression evaluated
    /// only at execution.
    pub values: Option<&'a [super::filter::Value]>,
    /// The operands' types (for IN lists, the element type).
    pub slot_types: &'a [SlotType],
    /// The planner's estimate of the relation's rows after its WHERE (what a
    /// local aggregate or sort would read).
    pub rows: f64,    /// The planner's estimate of the number of groups (from the columns'
    /// statistics, once ANALYZE gathered them) at the GROUP BY stage.
    pub groups: Option<f64>,
}

/// One side of a join offered to a wrapper: its relation, its pushed WHERE
/// and what [`UpperInput`] says of it.
pub struct JoinInput<'a, R> {
    pub rel: &'a R,
    pub filter: Option<&'a Filter>,
    /// Every WHERE clause of the side was translated into `filter`.
    pub all_translated: bool,
    pub values: Option<&'a [super::filter::Value]>,
    pub slot_types: &'a [SlotType],
    /// Rows in the source and after its WHERE (the planner's estimates).
    pub tuples: f64,
    pub rows: f64,
}

/// An accepted upper path, for the wrapper to turn into its plan.
pub struct PlannedUpper {
    pub relid: pg_sys::Oid,
    pub filter: Option<Filter>,
    /// As in [`PlannedScan::mapping_user`].
    pub mapping_user: pg_sys::Oid,
}

/// An upper path a wrapper accepts: its estimated rows and costs.
pub struct UpperEstimate {
    pub rows: f64,
    pub startup: f64,
    pub total: f64,
}

/// A foreign-data wrapper: what is particular to one kind of source.
pub trait Wrapper: Sized + 'static {
    /// What planning keeps about a base relation.
    type Rel: 'static;
    /// The plan state (serialised into the plan: survives plan caching).
    type Plan: Serialize + DeserializeOwned;
    /// A running scan.
    type Scan: 'static;
    /// One statement's changes to one relation.
    type Modify: 'static;

    /// The statements the wrapper accepts (IsForeignRelUpdatable).
    const UPDATABLE: &'static [ModifyOp];

    // ---- planning
    fn estimate(relid: pg_sys::Oid, mapping_user: pg_sys::Oid) -> LakeResult<Estimate<Self::Rel>>;
    fn plan_scan(rel: &Self::Rel, scan: PlannedScan) -> LakeResult<Self::Plan>;
    /// Whether a scan of `relid` may run in parallel workers.
    fn parallel_safe(relid: pg_sys::Oid) -> bool;

    // ---- scanning
    fn begin_scan(plan: Self::Plan, operands: Operands) -> LakeResult<Self::Scan>;
    /// EXPLAIN without ANALYZE: plan what can be planned without reading.
    fn explain_only(scan: &mut Self::Scan, cx: &ExecContext) -> LakeResult<()>;
    /// Fill `slot` with the next row; false at the end.
    fn next_row(scan: &mut Self::Scan, cx: &ExecContext, slot: &mut ScanSlot) -> LakeResult<bool>;
    /// Start over at the next `next_row` (parameters may have changed).
    fn rescan(scan: &mut Self::Scan);
    /// Release files and buffers; the state itself goes with the executor's memory.
    fn end_scan(scan: &mut Self::Scan);
    fn explain_scan(scan: &Self::Scan, relid: Option<pg_sys::Oid>, out: &mut Explain);
    /// Whether the leader must read alone (it sees what workers cannot).
    fn leader_only(scan: &Self::Scan) -> bool;
    /// Take part in a parallel scan: claim units from the shared cursor.
    fn join_parallel(scan: &mut Self::Scan, participant: Participant);

    // ---- modifying
    /// Refuse statements the wrapper cannot run (at plan time).
    fn plan_modify(op: ModifyOp, on_conflict: bool) -> LakeResult<()>;
    fn begin_modify(target: ModifyTarget) -> LakeResult<Self::Modify>;
    fn insert(state: &mut Self::Modify, row: &Row<'_>) -> LakeResult<()>;
    fn delete(state: &mut Self::Modify, old: &OldRow) -> LakeResult<()>;
    fn update(state: &mut Self::Modify, old: &OldRow, new: &Row<'_>) -> LakeResult<()>;
    fn end_modify(state: Self::Modify) -> LakeResult<()>;
    fn truncate(relid: pg_sys::Oid) -> LakeResult<()>;

    // ---- IMPORT FOREIGN SCHEMA: the CREATE FOREIGN TABLE commands to run.
    fn import_schema(server: pg_sys::Oid, request: &ImportRequest) -> LakeResult<Vec<String>>;

    // ---- upper paths (aggregates, ORDER BY, LIMIT): declined unless a
    // wrapper accepts.
    // A scan of an accepted upper path starts like any other (begin_scan
    // with the WHERE's operands); its rows are the query's target list,
    // one slot attribute per `UpperQuery::outputs` entry, in order.
    fn upper_path(_rel: &Self::Rel, _query: &UpperQuery, _input: &UpperInput<'_>) -> Option<UpperEstimate> {
        None
    }
    /// The plan of an accepted upper path over `rel`.
    fn plan_upper(_rel: &Self::Rel, _query: &UpperQuery, _scan: PlannedUpper) -> LakeResult<Self::Plan> {
        Err(LakeError::internal("this wrapper accepts no upper paths"))
    }

    // ---- joins of two base relations of one server (and user mapping):
    // declined unless a wrapper accepts. A scan of an accepted join starts
    // like any other; its operands are the outer side's, then the inner
    // side's (`JoinInput::slot_types` of each, in that order), and its rows
    // hold one slot attribute per `JoinQuery::outputs` entry, in order.
    /// An estimate when the wrapper computes `query` exactly (each side's
    /// pushed WHERE must keep exactly Postgres' rows: nothing is re-checked).
    fn join_path(_outer: &JoinInput<'_, Self::Rel>, _inner: &JoinInput<'_, Self::Rel>, _query: &JoinQuery, _rows: f64) -> Option<UpperEstimate> {
        None
    }
    /// The plan of an accepted join.
    fn plan_join(
        _outer: &Self::Rel,
        _inner: &Self::Rel,
        _query: &JoinQuery,
        _outer_scan: PlannedUpper,
        _inner_scan: PlannedUpper,
        _inner_offset: usize,
    ) -> LakeResult<Self::Plan> {
        Err(LakeError::internal("this wrapper accepts no joins"))
    }

    // ---- upper paths over an accepted join (aggregates, ORDER BY, LIMIT of
    // the joined rows): declined unless a wrapper accepts. Column indexes
    // in `query` run over the outer side's columns, then the inner side's;
    // operands and rows as for the join and the upper path.
    /// An estimate when the wrapper computes `query` over `join` exactly.
    fn upper_join_path(
        _outer: &JoinInput<'_, Self::Rel>,
        _inner: &JoinInput<'_, Self::Rel>,
        _join: &JoinQuery,
        _query: &UpperQuery,
        _input: &UpperInput<'_>,
    ) -> Option<UpperEstimate> {
        None
    }
    /// The plan of an accepted upper path over a join.
    fn plan_upper_join(
        _outer: &Self::Rel,
        _inner: &Self::Rel,
        _join: &JoinQuery,
        _query: &UpperQuery,
        _outer_scan: PlannedUpper,
        _inner_scan: PlannedUpper,
        _inner_offset: usize,
    ) -> LakeResult<Self::Plan> {
        Err(LakeError::internal("this wrapper accepts no upper paths over joins"))
    }

    // ---- ANALYZE: declined (Postgres says it cannot analyze the table)
    // unless a wrapper says how to sample it: either the source draws the
    // sample (`analyze_sample`) or Postgres reads every row once and keeps a
    // uniform sample (`analyze_scan`).
    /// The relation's size in 8 kB pages (`relpages`, shown by ANALYZE
    /// VERBOSE); None: no ANALYZE.
    fn analyze_pages(_relid: pg_sys::Oid) -> LakeResult<Option<u32>> {
        Ok(None)
    }
    /// The source's row count and the plan of a scan of at most `targrows`
    /// randomly chosen rows (all columns, no operands), read with
    /// `mapping_user`'s credentials; None: read the whole relation instead.
    fn analyze_sample(_relid: pg_sys::Oid, _mapping_user: pg_sys::Oid, _targrows: usize) -> LakeResult<Option<(f64, Self::Plan)>> {
        Ok(None)
    }
    /// A scan of every column of `relid`, filling tuples of its descriptor,
    /// for a sample Postgres draws itself.
    fn analyze_scan(_relid: pg_sys::Oid) -> LakeResult<Self::Scan> {
        Err(LakeError::internal("this wrapper cannot analyze"))
    }
}

/// `baserel->fdw_private`: the wrapper's planning state and the columns.
struct RelState<W: Wrapper> {
    rel: W::Rel,
    columns: Vec<ClassifyColumn>,
    cost: ScanCost,
    parallel: Option<ParallelUnits>,
}

/// `ForeignScan.fdw_private`: the wrapper's plan and what the operands are.
#[derive(Serialize, Deserialize)]
struct ScanEnvelope<P> {
    plan: P,
    slot_types: Vec<SlotType>,
    constant_operands: bool,
}

/// An accepted upper path's private state.
#[derive(Serialize, Deserialize)]
struct UpperEnvelope {
    query: UpperQuery,
}

/// `ResultRelInfo.ri_FdwState`.
struct ModifyState<W: Wrapper> {
    state: Option<W::Modify>,
    ids: Option<IdentityColumns>,
    tupdesc: pg_sys::TupleDesc,
}

/// The FdwRoutine node of wrapper `W` (what its handler returns).
pub fn handler<W: Wrapper>() -> pg_sys::Datum {
    // SAFETY: a zeroed FdwRoutine node in the current memory context, which
    // Postgres copies or keeps as the handler's result.
    let mut r = unsafe { PgBox::<pg_sys::FdwRoutine>::alloc_node(pg_sys::NodeTag::T_FdwRoutine) };
    r.GetForeignRelSize = Some(get_foreign_rel_size::<W>);
    r.GetForeignPaths = Some(get_foreign_paths::<W>);
    r.GetForeignPlan = Some(get_foreign_plan::<W>);
    r.GetForeignUpperPaths = Some(get_foreign_upper_paths::<W>);
    r.GetForeignJoinPaths = Some(get_foreign_join_paths::<W>);
    r.BeginForeignScan = Some(begin_foreign_scan::<W>);
    r.IterateForeignScan = Some(iterate_foreign_scan::<W>);
    r.ReScanForeignScan = Some(rescan_foreign_scan::<W>);
    r.EndForeignScan = Some(end_foreign_scan::<W>);
    r.ExplainForeignScan = Some(explain_foreign_scan::<W>);
    r.ImportForeignSchema = Some(import_foreign_schema::<W>);
    r.IsForeignRelUpdatable = Some(is_foreign_rel_updatable::<W>);
    r.PlanForeignModify = Some(plan_foreign_modify::<W>);
    r.BeginForeignModify = Some(begin_foreign_modify::<W>);
    r.ExecForeignInsert = Some(exec_foreign_insert::<W>);
    r.ExecForeignUpdate = Some(exec_foreign_update::<W>);
    r.ExecForeignDelete = Some(exec_foreign_delete::<W>);
    r.EndForeignModify = Some(end_foreign_modify::<W>);
    r.BeginForeignInsert = Some(begin_foreign_insert::<W>);
    r.EndForeignInsert = Some(end_foreign_insert::<W>);
    r.ExecForeignTruncate = Some(exec_foreign_truncate::<W>);
    r.AddForeignUpdateTargets = Some(add_foreign_update_targets);
    r.IsForeignScanParallelSafe = Some(is_foreign_scan_parallel_safe::<W>);
    r.EstimateDSMForeignScan = Some(estimate_dsm_foreign_scan);
    r.InitializeDSMForeignScan = Some(initialize_dsm_foreign_scan::<W>);
    r.ReInitializeDSMForeignScan = Some(reinitialize_dsm_foreign_scan::<W>);
    r.InitializeWorkerForeignScan = Some(initialize_worker_foreign_scan::<W>);
    r.AnalyzeForeignTable = Some(analyze_foreign_table::<W>);
    pg_sys::Datum::from(r.into_pg())
}

/// Declare the SQL-callable handler function of a wrapper:
/// `fdw_handler!(iceberg_fdw_handler, pg_finfo_iceberg_fdw_handler, Iceberg)`.
#[macro_export]
macro_rules! fdw_handler {
    ($name:ident, $finfo:ident, $wrapper:ty) => {
        #[no_mangle]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            const V1: ::pgrx::pg_sys::Pg_finfo_record = ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        #[no_mangle]
        #[::pgrx::pg_guard]
        pub unsafe extern "C-unwind" fn $name(_fcinfo: ::pgrx::pg_sys::FunctionCallInfo) -> ::pgrx::pg_sys::Datum {
            $crate::fdw::routine::handler::<$wrapper>()
        }
    };
}

// ------------------------------------------------------------------ planning

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_rel_size<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
) {
    if clauses::uses_ctid(root, baserel, (*baserel).relid) {
        LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("foreign table {} has no ctid: its rows have no physical address", super::source::relation_display(foreigntableid)),
        )
        .with_hint("Identify rows by their columns (a key), or number them with row_number() OVER (...).")
        .report();
    }
    let estimate = W::estimate(foreigntableid, (*baserel).userid).or_report();
    let selectivity = paths::restriction_selectivity(root, baserel);
    (*baserel).tuples = estimate.tuples;
    (*baserel).rows = (estimate.tuples * selectivity).round().max(1.0);
    let state = RelState::<W> {
        rel: estimate.rel,
        columns: estimate.columns,
        cost: estimate.cost,
        parallel: estimate.parallel,
    };
    (*baserel).fdw_private = attach_to_context(pg_sys::CurrentMemoryContext, state) as *mut c_void;
}

unsafe fn rel_state<'a, W: Wrapper>(rel: *mut pg_sys::RelOptInfo) -> &'a RelState<W> {
    &*((*rel).fdw_private as *mut RelState<W>)
}

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_paths<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _foreigntableid: pg_sys::Oid,
) {
    let state = rel_state::<W>(baserel);
    paths::add_scan_paths(root, baserel, state.cost, state.parallel);
}

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_plan<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    foreignrel: *mut pg_sys::RelOptInfo,
    foreigntableid: pg_sys::Oid,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    if (*foreignrel).reloptkind == pg_sys::RelOptKind::RELOPT_UPPER_REL {
        return upper_plan::<W>(root, best_path, tlist, outer_plan);
    }
    if (*foreignrel).reloptkind == pg_sys::RelOptKind::RELOPT_JOINREL {
        return join_plan::<W>(root, foreignrel, best_path, tlist, outer_plan);
    }
    let state = rel_state::<W>(foreignrel);
    let varno = (*foreignrel).relid;
    let classified = clauses::classify_restrictions(foreignrel, state.columns.clone());
    let row_identity = paths::feeds_update_or_delete(root, varno);
    let needed: Vec<usize> = match clauses::used_attnums(foreignrel, varno).filter(|_| !row_identity) {
        Some(attnums) => (0..state.columns.len()).filter(|i| attnums.contains(&state.columns[*i].attnum)).collect(),
        None => (0..state.columns.len()).collect(),
    };
    let classifier = classified.classifier;
    let planned = PlannedScan {
        relid: foreigntableid,
        filter: classified.filter,
        needed,
        row_identity,
        limit: paths::pushable_limit(root, classified.all_translated && !row_identity),
        mapping_user: (*foreignrel).userid,
    };
    let envelope = ScanEnvelope {
        plan: W::plan_scan(&state.rel, planned).or_report(),
        slot_types: classifier.slot_types.clone(),
        constant_operands: classifier.constant_operands,
    };
    let fdw_exprs =
        nodes::list_of(classifier.operands.iter().map(|op| pg_sys::copyObjectImpl(*op as *const c_void)));
    let private = to_private(&envelope).or_report();
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

/// The plan of an accepted upper path: a scan with no base relation whose
/// rows are the query's target list (one attribute per entry, in order),
/// with the base relation's pushed WHERE and its operands.
unsafe fn upper_plan<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let upper: UpperEnvelope = from_private((*best_path).fdw_private).or_report();
    if pg_sys::bms_num_members((*root).all_baserels) == 2 {
        return upper_join_plan::<W>(root, upper, tlist, outer_plan);
    }
    // Otherwise upper paths are only offered over one base relation (see below).
    let varno = pg_sys::bms_singleton_member((*root).all_baserels);
    let baserel = pg_sys::find_base_rel(root, varno);
    let state = rel_state::<W>(baserel);
    let classified = clauses::classify_restrictions(baserel, state.columns.clone());
    let relid = (**(*root).simple_rte_array.add(varno as usize)).relid;
    let planned = PlannedUpper { relid, filter: classified.filter, mapping_user: (*baserel).userid };
    let classifier = classified.classifier;
    let envelope = ScanEnvelope {
        plan: W::plan_upper(&state.rel, &upper.query, planned).or_report(),
        slot_types: classifier.slot_types.clone(),
        constant_operands: classifier.constant_operands,
    };
    let fdw_exprs =
        nodes::list_of(classifier.operands.iter().map(|op| pg_sys::copyObjectImpl(*op as *const c_void)));
    let private = to_private(&envelope).or_report();
    // Not add_to_flat_tlist: it merges equal entries, and the wrapper's
    // rows have one value per target-list entry.
    let targets = nodes::ptrs::<pg_sys::TargetEntry>((*(*root).parse).targetList);
    let scan_tlist = nodes::list_of(targets.iter().enumerate().map(|(i, te)| {
        pg_sys::makeTargetEntry(
            pg_sys::copyObjectImpl((**te).expr as *const c_void) as *mut pg_sys::Expr,
            (i + 1) as pg_sys::AttrNumber,
            std::ptr::null_mut(),
            false,
        )
    }));
    pg_sys::make_foreignscan(
        tlist,
        std::ptr::null_mut(),
        0,
        fdw_exprs,
        private,
        scan_tlist,
        std::ptr::null_mut(),
        outer_plan,
    )
}

/// The scan's rows of an upper path: the query's target list, one
/// attribute per entry, in order (not add_to_flat_tlist: it merges equal
/// entries).
unsafe fn upper_scan_tlist(root: *mut pg_sys::PlannerInfo) -> *mut pg_sys::List {
    let targets = nodes::ptrs::<pg_sys::TargetEntry>((*(*root).parse).targetList);
    nodes::list_of(targets.iter().enumerate().map(|(i, te)| {
        pg_sys::makeTargetEntry(
            pg_sys::copyObjectImpl((**te).expr as *const c_void) as *mut pg_sys::Expr,
            (i + 1) as pg_sys::AttrNumber,
            std::ptr::null_mut(),
            false,
        )
    }))
}

/// The join a wrapper accepted for the relation of all the query's base
/// relations, when there are two.
unsafe fn accepted_join<W: Wrapper>(root: *mut pg_sys::PlannerInfo) -> Option<(*mut pg_sys::RelOptInfo, JoinQuery)> {
    if pg_sys::bms_num_members((*root).all_baserels) != 2 {
        return None;
    }
    // The join relation of all of them (from PostgreSQL 16 on its relids
    // also name the outer join itself, so it is looked for, not looked up).
    let joinrel = nodes::ptrs::<pg_sys::RelOptInfo>((*root).join_rel_list)
        .into_iter()
        .find(|rel| pg_sys::bms_is_subset((*root).all_baserels, (**rel).relids))?;
    if (*joinrel).fdw_private.is_null() || (*joinrel).fdw_private == join_mark() {
        return None;
    }
    let JoinEnvelope { query } = from_private((*joinrel).fdw_private as *mut pg_sys::List).ok()?;
    Some((joinrel, query))
}

/// The plan of an accepted upper path over a pushed join: as the join's
/// plan (both sides' WHERE and operands), with the query's target list as rows.
unsafe fn upper_join_plan<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    upper: UpperEnvelope,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let (_, join) = accepted_join::<W>(root)
        .ok_or_else(|| LakeError::internal("an upper path over a join lost its join"))
        .or_report();
    let outerrel = pg_sys::find_base_rel(root, join.outer_varno as i32);
    let innerrel = pg_sys::find_base_rel(root, join.inner_varno as i32);
    let (os, is) = (rel_state::<W>(outerrel), rel_state::<W>(innerrel));
    let oc = clauses::classify_restrictions(outerrel, os.columns.clone());
    let ic = clauses::classify_restrictions(innerrel, is.columns.clone());
    let relid = |varno: u32| (**(*root).simple_rte_array.add(varno as usize)).relid;
    let outer_scan =
        PlannedUpper { relid: relid(join.outer_varno), filter: oc.filter, mapping_user: (*outerrel).userid };
    let inner_scan =
        PlannedUpper { relid: relid(join.inner_varno), filter: ic.filter, mapping_user: (*innerrel).userid };
    let (ocl, icl) = (oc.classifier, ic.classifier);
    let plan = W::plan_upper_join(&os.rel, &is.rel, &join, &upper.query, outer_scan, inner_scan, ocl.slot_types.len())
        .or_report();
    let slot_types: Vec<SlotType> = ocl.slot_types.iter().chain(icl.slot_types.iter()).copied().collect();
    let envelope = ScanEnvelope { plan, slot_types, constant_operands: ocl.constant_operands && icl.constant_operands };
    let fdw_exprs = nodes::list_of(
        ocl.operands.iter().chain(icl.operands.iter()).map(|op| pg_sys::copyObjectImpl(*op as *const c_void)),
    );
    let private = to_private(&envelope).or_report();
    pg_sys::make_foreignscan(
        tlist,
        std::ptr::null_mut(),
        0,
        fdw_exprs,
        private,
        upper_scan_tlist(root),
        std::ptr::null_mut(),
        outer_plan,
    )
}

/// An accepted join's private state.
#[derive(Serialize, Deserialize)]
struct JoinEnvelope {
    query: JoinQuery,
}

/// Marks a join relation this wrapper was already asked about (Postgres
/// asks once per order of its two sides; the first answer stands).
fn join_mark() -> *mut c_void {
    static MARK: u8 = 0;
    &MARK as *const u8 as *mut c_void
}

/// One side of a join as the wrapper sees it (`relinfo`: the planner's
/// relation of that side).
unsafe fn join_input<'a, R>(
    rel: &'a R,
    side: &'a clauses::Classified,
    values: Option<&'a [super::filter::Value]>,
    relinfo: *mut pg_sys::RelOptInfo,
) -> JoinInput<'a, R> {
    JoinInput {
        rel,
        filter: side.filter.as_ref(),
        all_translated: side.all_translated,
        values,
        slot_types: &side.classifier.slot_types,
        tuples: (*relinfo).tuples,
        rows: (*relinfo).rows,
    }
}

/// What the planner's base relation `rel` offers a join: its classified
/// WHERE and, for constants, their values. None when a constant has no
/// remote counterpart (an infinite date, NaN): the join stays local, as
/// its WHERE could not be sent whole at execution.
#[allow(clippy::type_complexity)]
unsafe fn join_side<W: Wrapper>(rel: *mut pg_sys::RelOptInfo) -> Option<(clauses::Classified, Option<Vec<super::filter::Value>>)> {
    let state = rel_state::<W>(rel);
    let classified = clauses::classify_restrictions(rel, state.columns.clone());
    let values = if classified.classifier.constant_operands {
        Some(constant_values(&classified.classifier.operands, &classified.classifier.slot_types)?)
    } else {
        None
    };
    Some((classified, values))
}

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_join_paths<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    outerrel: *mut pg_sys::RelOptInfo,
    innerrel: *mut pg_sys::RelOptInfo,
    jointype: pg_sys::JoinType::Type,
    extra: *mut pg_sys::JoinPathExtraData,
) {
    if !(*joinrel).fdw_private.is_null() {
        return;
    }
    (*joinrel).fdw_private = join_mark();
    // Two base relations of this wrapper (Postgres only asks when both are
    // on one server with one user mapping), read-only, not lateral.
    let base = |r: *mut pg_sys::RelOptInfo| {
        (*r).reloptkind == pg_sys::RelOptKind::RELOPT_BASEREL && !(*r).fdw_private.is_null()
    };
    if !base(outerrel)
        || !base(innerrel)
        || !(*(*root).parse).rowMarks.is_null()
        || !(*joinrel).lateral_relids.is_null()
        || paths::is_result_relation(root, (*outerrel).relid)
        || paths::is_result_relation(root, (*innerrel).relid)
    {
        return;
    }
    let (os, is) = (rel_state::<W>(outerrel), rel_state::<W>(innerrel));
    let Some(query) =
        join::describe(joinrel, outerrel, innerrel, jointype, (*extra).restrictlist, &os.columns, &is.columns)
    else {
        return;
    };
    let Some((oc, ov)) = join_side::<W>(outerrel) else { return };
    let Some((ic, iv)) = join_side::<W>(innerrel) else { return };
    let outer = join_input(&os.rel, &oc, ov.as_deref(), outerrel);
    let inner = join_input(&is.rel, &ic, iv.as_deref(), innerrel);
    let Some(estimate) = W::join_path(&outer, &inner, &query, (*joinrel).rows) else { return };
    let private = to_private(&JoinEnvelope { query }).or_report();
    // The accepted join, for upper paths over it (Postgres never reads a
    // join relation's fdw_private; the path itself may be dropped by add_path).
    (*joinrel).fdw_private = private as *mut c_void;
    let path = crate::pg::compat::create_foreign_join_path(
        root,
        joinrel,
        std::ptr::null_mut(),
        estimate.rows,
        estimate.startup,
        estimate.total,
        private,
    );
    pg_sys::add_path(joinrel, path as *mut pg_sys::Path);
}

/// The plan of an accepted join: a scan with no base relation whose rows
/// are the join's columns (`fdw_scan_tlist`), with each side's pushed WHERE;
/// the operands are the outer side's, then the inner side's.
unsafe fn join_plan<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    joinrel: *mut pg_sys::RelOptInfo,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    let JoinEnvelope { mut query } = from_private((*best_path).fdw_private).or_report();
    let outerrel = pg_sys::find_base_rel(root, query.outer_varno as i32);
    let innerrel = pg_sys::find_base_rel(root, query.inner_varno as i32);
    let (os, is) = (rel_state::<W>(outerrel), rel_state::<W>(innerrel));
    // The join's target may have become the final scan/join target since
    // the path was made: the scan returns the columns it holds now.
    let columns = join::scan_columns(joinrel);
    query.outputs = join::outputs_of(&columns, query.outer_varno, query.inner_varno, &os.columns, &is.columns)
        .ok_or_else(|| LakeError::internal("a pushed join's target holds more than columns"))
        .or_report();
    let oc = clauses::classify_restrictions(outerrel, os.columns.clone());
    let ic = clauses::classify_restrictions(innerrel, is.columns.clone());
    let relid = |varno: u32| (**(*root).simple_rte_array.add(varno as usize)).relid;
    let outer_scan =
        PlannedUpper { relid: relid(query.outer_varno), filter: oc.filter, mapping_user: (*outerrel).userid };
    let inner_scan =
        PlannedUpper { relid: relid(query.inner_varno), filter: ic.filter, mapping_user: (*innerrel).userid };
    let (ocl, icl) = (oc.classifier, ic.classifier);
    let plan = W::plan_join(&os.rel, &is.rel, &query, outer_scan, inner_scan, ocl.slot_types.len()).or_report();
    let slot_types: Vec<SlotType> = ocl.slot_types.iter().chain(icl.slot_types.iter()).copied().collect();
    let envelope = ScanEnvelope { plan, slot_types, constant_operands: ocl.constant_operands && icl.constant_operands };
    let fdw_exprs = nodes::list_of(
        ocl.operands.iter().chain(icl.operands.iter()).map(|op| pg_sys::copyObjectImpl(*op as *const c_void)),
    );
    let private = to_private(&envelope).or_report();
    // The scan's rows: the join's columns, in the order the plan fills them.
    let scan_tlist = nodes::list_of(columns.iter().enumerate().map(|(i, e)| {
        pg_sys::makeTargetEntry(
            pg_sys::copyObjectImpl(*e as *const c_void) as *mut pg_sys::Expr,
            (i + 1) as pg_sys::AttrNumber,
            std::ptr::null_mut(),
            false,
        )
    }));
    pg_sys::make_foreignscan(
        tlist,
        std::ptr::null_mut(),
        0,
        fdw_exprs,
        private,
        scan_tlist,
        std::ptr::null_mut(),
        outer_plan,
    )
}

#[pg_guard]
unsafe extern "C-unwind" fn get_foreign_upper_paths<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    _extra: *mut c_void,
) {
    let stage_kind = stage;
    let stage = match stage {
        pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG => UpperStage::Grouping,
        pg_sys::UpperRelationKind::UPPERREL_ORDERED => UpperStage::Ordered,
        pg_sys::UpperRelationKind::UPPERREL_FINAL => UpperStage::Final,
        _ => return,
    };
    if input_rel.is_null() {
        return;
    }
    if pg_sys::bms_num_members((*root).all_baserels) == 2 {
        upper_join_paths::<W>(root, stage, stage_kind, input_rel, output_rel);
        return;
    }
    if pg_sys::bms_num_members((*root).all_baserels) != 1 {
        return;
    }
    // Directly over one of this wrapper's base relations, alone in the
    // query; or ORDER BY over the grouping this wrapper computes (the new
    // path computes both).
    let base_rel = match (*input_rel).reloptkind {
        pg_sys::RelOptKind::RELOPT_BASEREL if !(*input_rel).fdw_private.is_null() => input_rel,
        pg_sys::RelOptKind::RELOPT_UPPER_REL
            if stage == UpperStage::Ordered && (*input_rel).fdw_private == grouping_mark() =>
        {
            pg_sys::find_base_rel(root, pg_sys::bms_singleton_member((*root).all_baserels))
        }
        _ => return,
    };
    if (*base_rel).fdw_private.is_null() {
        return;
    }
    let state = rel_state::<W>(base_rel);
    let classified = clauses::classify_restrictions(base_rel, state.columns.clone());
    let sides = [((*base_rel).relid, state.columns.as_slice())];
    let raw = super::upper_query::raw_query(root, super::upper_query::Rels(&sides), classified.all_translated);
    let Ok(query) = upper::classify(stage, &raw) else { return };
    // A constant with no remote counterpart (an infinite date, NaN) could
    // not be sent at execution, and an aggregate cannot filter locally.
    let values = if classified.classifier.constant_operands {
        let Some(values) = constant_values(&classified.classifier.operands, &classified.classifier.slot_types) else { return };
        Some(values)
    } else {
        None
    };
    let input = UpperInput {
        filter: classified.filter.as_ref(),
        values: values.as_deref(),
        slot_types: &classified.classifier.slot_types,
        rows: (*input_rel).rows,
        groups: (stage == UpperStage::Grouping && !(*(*root).parse).groupClause.is_null()).then(|| {
            let parse = (*root).parse;
            let exprs = pg_sys::get_sortgrouplist_exprs((*parse).groupClause, (*parse).targetList);
            pg_sys::estimate_num_groups(root, exprs, (*input_rel).rows, std::ptr::null_mut(), std::ptr::null_mut())
        }),
    };
    let Some(estimate) = W::upper_path(&state.rel, &query, &input) else { return };
    add_upper_path(root, output_rel, stage, stage_kind, &estimate, query);
}

/// Adds the foreign upper path of `stage` the wrapper estimated.
unsafe fn add_upper_path(
    root: *mut pg_sys::PlannerInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    stage: UpperStage,
    stage_kind: pg_sys::UpperRelationKind::Type,
    estimate: &UpperEstimate,
    query: UpperQuery,
) {
    if stage == UpperStage::Grouping {
        // Lets the ORDERED stage know it may take the grouping along.
        (*output_rel).fdw_private = grouping_mark();
    }
    let private = to_private(&UpperEnvelope { query }).or_report();
    // The ORDER BY's own keys: query_pathkeys are the GROUP BY's in a grouped query.
    let pathkeys = if stage == UpperStage::Grouping { std::ptr::null_mut() } else { (*root).sort_pathkeys };
    // The output rel's own reltarget is empty for ORDERED and FINAL: the
    // stage's target is in upper_targets.
    let target = (*root).upper_targets[stage_kind as usize];
    let path = crate::pg::compat::create_foreign_upper_path(
        root,
        output_rel,
        target,
        estimate.rows,
        estimate.startup,
        estimate.total,
        pathkeys,
        private,
    );
    pg_sys::add_path(output_rel, path as *mut pg_sys::Path);
}

/// Upper paths over the join of the query's two base relations, when this
/// wrapper computes that join: directly over the join relation, or ORDER BY
/// over the grouping this wrapper computes.
unsafe fn upper_join_paths<W: Wrapper>(
    root: *mut pg_sys::PlannerInfo,
    stage: UpperStage,
    stage_kind: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
) {
    let Some((joinrel, join)) = accepted_join::<W>(root) else { return };
    let over_join = input_rel == joinrel;
    let over_grouping = (*input_rel).reloptkind == pg_sys::RelOptKind::RELOPT_UPPER_REL
        && stage == UpperStage::Ordered
        && (*input_rel).fdw_private == grouping_mark();
    if !over_join && !over_grouping {
        return;
    }
    let outerrel = pg_sys::find_base_rel(root, join.outer_varno as i32);
    let innerrel = pg_sys::find_base_rel(root, join.inner_varno as i32);
    let (os, is) = (rel_state::<W>(outerrel), rel_state::<W>(innerrel));
    let sides = [(join.outer_varno, os.columns.as_slice()), (join.inner_varno, is.columns.as_slice())];
    // The join was accepted only with both sides' WHERE pushed whole and
    // exact, and no clause above it.
    let raw = super::upper_query::raw_query(root, super::upper_query::Rels(&sides), true);
    let Ok(query) = upper::classify(stage, &raw) else { return };
    let Some((oc, ov)) = join_side::<W>(outerrel) else { return };
    let Some((ic, iv)) = join_side::<W>(innerrel) else { return };
    let outer = join_input(&os.rel, &oc, ov.as_deref(), outerrel);
    let inner = join_input(&is.rel, &ic, iv.as_deref(), innerrel);
    let input = UpperInput {
        filter: None,
        values: None,
        slot_types: &[],
        rows: (*input_rel).rows,
        groups: (stage == UpperStage::Grouping && !(*(*root).parse).groupClause.is_null()).then(|| {
            let parse = (*root).parse;
            let exprs = pg_sys::get_sortgrouplist_exprs((*parse).groupClause, (*parse).targetList);
            pg_sys::estimate_num_groups(root, exprs, (*input_rel).rows, std::ptr::null_mut(), std::ptr::null_mut())
        }),
    };
    let Some(estimate) = W::upper_join_path(&outer, &inner, &join, &query, &input) else { return };
    add_upper_path(root, output_rel, stage, stage_kind, &estimate, query);
}

/// Marks a grouped relation for which this wrapper offered a grouping path
/// (an address nothing else uses; Postgres never reads an upper rel's
/// fdw_private).
fn grouping_mark() -> *mut c_void {
    static MARK: u8 = 0;
    &MARK as *const u8 as *mut c_void
}

/// The values of operands that are all constants; None if one cannot be
/// represented.
unsafe fn constant_values(operands: &[*mut pg_sys::Node], types: &[SlotType]) -> Option<Vec<super::filter::Value>> {
    let mut out = Vec::with_capacity(operands.len());
    for (op, ty) in operands.iter().zip(types) {
        let node = crate::pg::nodes::strip_relabel(*op);
        if !crate::pg::nodes::has_tag(node, pg_sys::NodeTag::T_Const) {
            return None;
        }
        let c = node as *mut pg_sys::Const;
        out.push(if (*c).constisnull {
            super::filter::Value::Null
        } else {
            super::params::datum_to_value((*c).constvalue, *ty)?
        });
    }
    Some(out)
}

// ------------------------------------------------------------------ scanning

unsafe fn scan_state<'a, W: Wrapper>(node: *mut pg_sys::ForeignScanState) -> &'a mut W::Scan {
    &mut *((*node).fdw_state as *mut W::Scan)
}

#[pg_guard]
unsafe extern "C-unwind" fn begin_foreign_scan<W: Wrapper>(node: *mut pg_sys::ForeignScanState, eflags: i32) {
    let plan = (*node).ss.ps.plan as *mut pg_sys::ForeignScan;
    let envelope: ScanEnvelope<W::Plan> = from_private((*plan).fdw_private).or_report();
    let operands = Operands::init(
        (*plan).fdw_exprs,
        node as *mut pg_sys::PlanState,
        envelope.slot_types,
        envelope.constant_operands,
    );
    let scan = W::begin_scan(envelope.plan, operands).or_report();
    let query_cxt = (*(*node).ss.ps.state).es_query_cxt;
    let scan = attach_to_context(query_cxt, scan);
    (*node).fdw_state = scan as *mut c_void;
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0 {
        let cx = ExecContext::new((*node).ss.ps.ps_ExprContext);
        W::explain_only(&mut *scan, &cx).or_report();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn iterate_foreign_scan<W: Wrapper>(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    let slot = (*node).ss.ss_ScanTupleSlot;
    let cx = ExecContext::new((*node).ss.ps.ps_ExprContext);
    let mut scan_slot = ScanSlot::new(slot);
    if !W::next_row(scan_state::<W>(node), &cx, &mut scan_slot).or_report() {
        pg_sys::ExecClearTuple(slot);
    }
    slot
}

#[pg_guard]
unsafe extern "C-unwind" fn rescan_foreign_scan<W: Wrapper>(node: *mut pg_sys::ForeignScanState) {
    W::rescan(scan_state::<W>(node));
}

#[pg_guard]
unsafe extern "C-unwind" fn end_foreign_scan<W: Wrapper>(node: *mut pg_sys::ForeignScanState) {
    if !(*node).fdw_state.is_null() {
        W::end_scan(scan_state::<W>(node));
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn explain_foreign_scan<W: Wrapper>(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    let rel = (*node).ss.ss_currentRelation;
    let relid = (!rel.is_null()).then(|| (*rel).rd_id);
    let mut out = Explain::new(es);
    W::explain_scan(scan_state::<W>(node), relid, &mut out);
}

#[pg_guard]
unsafe extern "C-unwind" fn is_foreign_scan_parallel_safe<W: Wrapper>(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    rte: *mut pg_sys::RangeTblEntry,
) -> bool {
    W::parallel_safe((*rte).relid)
}

#[pg_guard]
unsafe extern "C-unwind" fn estimate_dsm_foreign_scan(
    _node: *mut pg_sys::ForeignScanState,
    _pcxt: *mut pg_sys::ParallelContext,
) -> pg_sys::Size {
    std::mem::size_of::<SharedCursor>() as pg_sys::Size
}

#[pg_guard]
unsafe extern "C-unwind" fn initialize_dsm_foreign_scan<W: Wrapper>(
    node: *mut pg_sys::ForeignScanState,
    _pcxt: *mut pg_sys::ParallelContext,
    coordinate: *mut c_void,
) {
    let scan = scan_state::<W>(node);
    let shared = coordinate as *mut SharedCursor;
    std::ptr::write(shared, SharedCursor::new(W::leader_only(scan)));
    // The DSM segment stays mapped until the scan ends, which is as long as
    // the scan state can use it.
    W::join_parallel(scan, Participant { cursor: &*shared, is_worker: false });
}

#[pg_guard]
unsafe extern "C-unwind" fn reinitialize_dsm_foreign_scan<W: Wrapper>(
    node: *mut pg_sys::ForeignScanState,
    _pcxt: *mut pg_sys::ParallelContext,
    coordinate: *mut c_void,
) {
    (*(coordinate as *const SharedCursor)).reset();
    W::rescan(scan_state::<W>(node));
}

#[pg_guard]
unsafe extern "C-unwind" fn initialize_worker_foreign_scan<W: Wrapper>(
    node: *mut pg_sys::ForeignScanState,
    _toc: *mut pg_sys::shm_toc,
    coordinate: *mut c_void,
) {
    let cursor = &*(coordinate as *const SharedCursor);
    W::join_parallel(scan_state::<W>(node), Participant { cursor, is_worker: true });
}

// ------------------------------------------------------------------ ANALYZE

#[pg_guard]
unsafe extern "C-unwind" fn analyze_foreign_table<W: Wrapper>(
    relation: pg_sys::Relation,
    func: *mut pg_sys::AcquireSampleRowsFunc,
    totalpages: *mut pg_sys::BlockNumber,
) -> bool {
    match W::analyze_pages((*relation).rd_id).or_report() {
        Some(pages) => {
            *func = Some(acquire_sample_rows::<W>);
            *totalpages = pages;
            true
        }
        None => false,
    }
}

/// ANALYZE's sample, as heap tuples of the relation's row type in the
/// caller's memory context (ANALYZE's): drawn by the source when the wrapper
/// can, otherwise read from every row.
#[pg_guard]
unsafe extern "C-unwind" fn acquire_sample_rows<W: Wrapper>(
    relation: pg_sys::Relation,
    elevel: std::ffi::c_int,
    rows: *mut pg_sys::HeapTuple,
    targrows: std::ffi::c_int,
    totalrows: *mut f64,
    totaldeadrows: *mut f64,
) -> std::ffi::c_int {
    *totaldeadrows = 0.0;
    *totalrows = 0.0;
    let relid = (*relation).rd_id;
    let target = targrows.max(0) as usize;
    // As postgres_fdw: the table owner's user mapping.
    let owner = (*(*relation).rd_rel).relowner;
    match W::analyze_sample(relid, owner, target).or_report() {
        Some((total, plan)) => drawn_sample::<W>(relation, elevel, rows, target, total, plan, totalrows),
        None => reservoir_sample::<W>(relation, rows, target, totalrows),
    }
}

/// The source's own random sample of at most `target` rows.
unsafe fn drawn_sample<W: Wrapper>(
    relation: pg_sys::Relation,
    elevel: std::ffi::c_int,
    rows: *mut pg_sys::HeapTuple,
    target: usize,
    total: f64,
    plan: W::Plan,
    totalrows: *mut f64,
) -> std::ffi::c_int {
    let relid = (*relation).rd_id;
    let mut scan = W::begin_scan(plan, Operands::none()).or_report();
    let econtext = pg_sys::CreateStandaloneExprContext();
    let cx = ExecContext::new(econtext);
    let tupdesc = (*relation).rd_att;
    let slot = pg_sys::MakeSingleTupleTableSlot(tupdesc, &pg_sys::TTSOpsVirtual);
    let mut scan_slot = ScanSlot::new(slot);
    let mut n = 0usize;
    while n < target && W::next_row(&mut scan, &cx, &mut scan_slot).or_report() {
        *rows.add(n) = pg_sys::heap_form_tuple(tupdesc, (*slot).tts_values, (*slot).tts_isnull);
        n += 1;
        pg_sys::MemoryContextReset((*econtext).ecxt_per_tuple_memory);
    }
    W::end_scan(&mut scan);
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::FreeExprContext(econtext, true);
    // A count taken before the sample; never below what was read.
    *totalrows = total.max(n as f64);
    let name = std::ffi::CStr::from_ptr(pg_sys::get_rel_name(relid)).to_string_lossy().into_owned();
    pgrx::ereport!(
        elevel_level(elevel),
        PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
        format!("\"{name}\": {n} rows sampled from the source, which holds {} rows", *totalrows)
    );
    n as std::ffi::c_int
}

/// Every row is read once and kept with equal probability (reservoir
/// sampling), so `reltuples` is the exact row count.
unsafe fn reservoir_sample<W: Wrapper>(
    relation: pg_sys::Relation,
    rows: *mut pg_sys::HeapTuple,
    target: usize,
    totalrows: *mut f64,
) -> std::ffi::c_int {
    let mut scan = W::analyze_scan((*relation).rd_id).or_report();
    let econtext = pg_sys::CreateStandaloneExprContext();
    let slot = pg_sys::MakeSingleTupleTableSlot((*relation).rd_att, &pg_sys::TTSOpsVirtual);
    let cx = ExecContext::new(econtext);
    let sample = std::slice::from_raw_parts_mut(rows, target);
    let (mut kept, mut seen) = (0usize, 0f64);
    loop {
        // A row's datums live in per-tuple memory; the kept copies in
        // ANALYZE's own context (current here).
        pg_sys::MemoryContextReset((*econtext).ecxt_per_tuple_memory);
        let old = pg_sys::MemoryContextSwitchTo((*econtext).ecxt_per_tuple_memory);
        let more = W::next_row(&mut scan, &cx, &mut ScanSlot::new(slot));
        pg_sys::MemoryContextSwitchTo(old);
        if !more.or_report() {
            break;
        }
        seen += 1.0;
        if kept < target {
            sample[kept] = pg_sys::ExecCopySlotHeapTuple(slot);
            kept += 1;
        } else if target > 0 {
            let k = (pg_sys::pg_prng_double(&raw mut pg_sys::pg_global_prng_state) * seen) as usize;
            if k < target {
                pg_sys::heap_freetuple(sample[k]);
                sample[k] = pg_sys::ExecCopySlotHeapTuple(slot);
            }
        }
    }
    W::end_scan(&mut scan);
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::FreeExprContext(econtext, true);
    *totalrows = seen;
    kept as std::ffi::c_int
}


/// ANALYZE's elevel (INFO under VERBOSE, else DEBUG2) as a pgrx level.
fn elevel_level(elevel: std::ffi::c_int) -> pgrx::PgLogLevel {
    if elevel as u32 >= pg_sys::INFO {
        pgrx::PgLogLevel::INFO
    } else {
        pgrx::PgLogLevel::DEBUG2
    }
}

// ------------------------------------------------------------------ modifying

#[pg_guard]
unsafe extern "C-unwind" fn add_foreign_update_targets(
    root: *mut pg_sys::PlannerInfo,
    rtindex: pg_sys::Index,
    target_rte: *mut pg_sys::RangeTblEntry,
    _target_relation: pg_sys::Relation,
) {
    modify::add_row_identity(root, rtindex, target_rte);
}

#[pg_guard]
unsafe extern "C-unwind" fn is_foreign_rel_updatable<W: Wrapper>(_rel: pg_sys::Relation) -> i32 {
    let mut mask = 0;
    for op in W::UPDATABLE {
        mask |= match op {
            ModifyOp::Insert => 1 << pg_sys::CmdType::CMD_INSERT,
            ModifyOp::Update => 1 << pg_sys::CmdType::CMD_UPDATE,
            ModifyOp::Delete => 1 << pg_sys::CmdType::CMD_DELETE,
            ModifyOp::Other => 0,
        };
    }
    mask
}

#[pg_guard]
unsafe extern "C-unwind" fn plan_foreign_modify<W: Wrapper>(
    _root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    _result_relation: pg_sys::Index,
    _subplan_index: i32,
) -> *mut pg_sys::List {
    let on_conflict = (*plan).onConflictAction != pg_sys::OnConflictAction::ONCONFLICT_NONE;
    W::plan_modify(ModifyOp::of((*plan).operation), on_conflict).or_report();
    std::ptr::null_mut()
}

unsafe fn attach_modify<W: Wrapper>(
    estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    op: ModifyOp,
    ids: Option<IdentityColumns>,
    copy: bool,
) {
    let desc = (*rinfo).ri_RelationDesc;
    let target = ModifyTarget { relid: (*desc).rd_id, op, attrs: modify::attrs_of((*desc).rd_att), copy };
    let state = W::begin_modify(target).or_report();
    if let Some(ids) = ids {
        if ids.ctid <= 0 || ids.wholerow <= 0 {
            LakeError::internal("UPDATE/DELETE plan lacks the row identity columns").report();
        }
    }
    let state = ModifyState::<W> { state: Some(state), ids, tupdesc: (*desc).rd_att };
    (*rinfo).ri_FdwState = attach_to_context((*estate).es_query_cxt, state) as *mut c_void;
}

unsafe fn modify_state<'a, W: Wrapper>(rinfo: *mut pg_sys::ResultRelInfo) -> Option<&'a mut ModifyState<W>> {
    ((*rinfo).ri_FdwState as *mut ModifyState<W>).as_mut()
}

#[pg_guard]
unsafe extern "C-unwind" fn begin_foreign_modify<W: Wrapper>(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    _fdw_private: *mut pg_sys::List,
    _subplan_index: i32,
    eflags: i32,
) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0 {
        return;
    }
    let op = ModifyOp::of((*mtstate).operation);
    let ids = matches!(op, ModifyOp::Update | ModifyOp::Delete).then(|| modify::identity_columns(mtstate));
    attach_modify::<W>((*mtstate).ps.state, rinfo, op, ids, false);
}

#[pg_guard]
unsafe extern "C-unwind" fn begin_foreign_insert<W: Wrapper>(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    // COPY FROM calls this with a ModifyTableState of no plan; an INSERT
    // routed to a foreign partition has one.
    let copy = (*mtstate).ps.plan.is_null();
    attach_modify::<W>((*mtstate).ps.state, rinfo, ModifyOp::Insert, None, copy);
}

#[pg_guard]
unsafe extern "C-unwind" fn exec_foreign_insert<W: Wrapper>(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(ModifyState { state: Some(state), ids: None, .. }) = modify_state::<W>(rinfo) {
        W::insert(state, &modify::row_of(slot)).or_report();
    }
    slot
}

/// The old row of an UPDATE/DELETE, or an ERROR.
unsafe fn old_row_of<W: Wrapper>(m: &ModifyState<W>, plan_slot: *mut pg_sys::TupleTableSlot) -> Option<OldRow> {
    let ids = m.ids?;
    Some(modify::old_row(plan_slot, ids, m.tupdesc).map_err(LakeError::internal).or_report())
}

#[pg_guard]
unsafe extern "C-unwind" fn exec_foreign_delete<W: Wrapper>(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(m) = modify_state::<W>(rinfo) {
        if let Some(old) = old_row_of(m, plan_slot) {
            if let Some(state) = m.state.as_mut() {
                W::delete(state, &old).or_report();
            }
            // DELETE … RETURNING returns the old row.
            modify::store_old_row(slot, &old);
        }
    }
    slot
}

#[pg_guard]
unsafe extern "C-unwind" fn exec_foreign_update<W: Wrapper>(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(m) = modify_state::<W>(rinfo) {
        if let Some(old) = old_row_of(m, plan_slot) {
            if let Some(state) = m.state.as_mut() {
                W::update(state, &old, &modify::row_of(slot)).or_report();
            }
        }
    }
    slot
}

unsafe fn end_modify<W: Wrapper>(rinfo: *mut pg_sys::ResultRelInfo) {
    if let Some(state) = modify_state::<W>(rinfo).and_then(|m| m.state.take()) {
        W::end_modify(state).or_report();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn end_foreign_modify<W: Wrapper>(_estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo) {
    end_modify::<W>(rinfo);
}

#[pg_guard]
unsafe extern "C-unwind" fn end_foreign_insert<W: Wrapper>(_estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo) {
    end_modify::<W>(rinfo);
}

#[pg_guard]
unsafe extern "C-unwind" fn exec_foreign_truncate<W: Wrapper>(
    rels: *mut pg_sys::List,
    _behavior: pg_sys::DropBehavior::Type,
    _restart_seqs: bool,
) {
    for relid in modify::truncated_relations(rels) {
        W::truncate(relid).or_report();
    }
}

// ------------------------------------------------------------------ import

#[pg_guard]
unsafe extern "C-unwind" fn import_foreign_schema<W: Wrapper>(
    stmt: *mut pg_sys::ImportForeignSchemaStmt,
    server_oid: pg_sys::Oid,
) -> *mut pg_sys::List {
    let names = || -> Vec<String> {
        nodes::ptrs::<pg_sys::RangeVar>((*stmt).table_list)
            .into_iter()
            .map(|rv| CStr::from_ptr((*rv).relname).to_string_lossy().into_owned())
            .collect()
    };
    let filter = match (*stmt).list_type {
        pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_LIMIT_TO => ImportFilter::LimitTo(names()),
        pg_sys::ImportForeignSchemaType::FDW_IMPORT_SCHEMA_EXCEPT => ImportFilter::Except(names()),
        _ => ImportFilter::All,
    };
    let request = ImportRequest {
        remote_schema: CStr::from_ptr((*stmt).remote_schema).to_string_lossy().into_owned(),
        local_schema: CStr::from_ptr((*stmt).local_schema).to_string_lossy().into_owned(),
        filter,
    };
    let commands = W::import_schema(server_oid, &request).or_report();
    nodes::list_of(commands.into_iter().map(|cmd| {
        let c = CString::new(cmd).unwrap_or_default();
        pg_sys::pstrdup(c.as_ptr())
    }))
}

#[cfg(test)]
mod tests {
    use super::{ImportFilter, ImportRequest};

    fn request(filter: ImportFilter) -> ImportRequest {
        ImportRequest { remote_schema: "ns".into(), local_schema: "public".into(), filter }
    }

    #[test]
    fn import_filters() {
        assert!(request(ImportFilter::All).wants("t"));
        let limit = request(ImportFilter::LimitTo(vec!["a".into(), "b".into()]));
        assert!(limit.wants("a") && limit.wants("b") && !limit.wants("c"));
        let except = request(ImportFilter::Except(vec!["a".into()]));
        assert!(!except.wants("a") && except.wants("c"));
    }
}
