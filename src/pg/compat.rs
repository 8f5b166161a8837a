//! What differs between the supported Postgres versions (15 and 18) behind
//! one signature, so the parts above never name a version. Each function
//! says what changed; `hooks.rs` and `worker.rs` hold the hook and signal
//! differences next to the code that uses them.

use pgrx::pg_sys;

/// The `POSIX` collation: Postgres 15 names its OID in the headers, later
/// versions only in `pg_collation.dat` (same OID, pinned since 9.1).
#[cfg(feature = "pg15")]
pub const POSIX_COLLATION_OID: pg_sys::Oid = pg_sys::POSIX_COLLATION_OID;
#[cfg(not(feature = "pg15"))]
pub const POSIX_COLLATION_OID: pg_sys::Oid = pg_sys::Oid::from_u32(951);

/// The code [`btree_strategy`] returns for `<>` (not a btree strategy, but
/// Postgres reports it in the same number space).
#[cfg(feature = "pg15")]
pub const NOT_EQUAL_STRATEGY: i32 = pg_sys::RowCompareType::ROWCOMPARE_NE as i32;
#[cfg(not(feature = "pg15"))]
pub const NOT_EQUAL_STRATEGY: i32 = pg_sys::CompareType::COMPARE_NE as i32;

/// The btree strategy number (1 `<` … 5 `>`, or [`NOT_EQUAL_STRATEGY`]) of
/// a comparison operator, from the first index operator family that knows
/// it; None when none does. Postgres 18 replaced btree strategies with
/// generic compare types that keep the same numbers.
///
/// # Safety
/// On the backend thread (syscache lookups).
pub unsafe fn btree_strategy(opno: pg_sys::Oid) -> Option<i32> {
    // SAFETY: the lookup returns a List of interpretation structs.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            let list = pg_sys::get_op_btree_interpretation(opno);
            let first = *super::nodes::ptrs::<pg_sys::OpBtreeInterpretation>(list).first()?;
            Some((*first).strategy as i32)
        }
        #[cfg(not(feature = "pg15"))]
        {
            let list = pg_sys::get_op_index_interpretation(opno);
            let first = *super::nodes::ptrs::<pg_sys::OpIndexInterpretation>(list).first()?;
            Some((*first).cmptype as i32)
        }
    }
}

/// A sort operator's btree family, input type and strategy number (as in
/// [`btree_strategy`]); None when it is no btree ordering operator.
///
/// # Safety
/// On the backend thread (syscache lookups).
pub unsafe fn ordering_op_properties(sortop: pg_sys::Oid) -> Option<(pg_sys::Oid, pg_sys::Oid, i32)> {
    let (mut family, mut input_type) = (pg_sys::Oid::INVALID, pg_sys::Oid::INVALID);
    #[cfg(feature = "pg15")]
    let mut strategy = 0i16;
    #[cfg(not(feature = "pg15"))]
    let mut strategy: pg_sys::CompareType::Type = 0;
    // SAFETY: out-pointers to locals.
    let found = unsafe { pg_sys::get_ordering_op_properties(sortop, &mut family, &mut input_type, &mut strategy) };
    found.then_some((family, input_type, strategy as i32))
}

/// Whether an ALTER TABLE subcommand drops a column (15 had a separate
/// recursing variant; 16 folded it into `AT_DropColumn`).
pub fn is_drop_column(subtype: pg_sys::AlterTableType::Type) -> bool {
    #[cfg(feature = "pg15")]
    {
        subtype == pg_sys::AlterTableType::AT_DropColumn || subtype == pg_sys::AlterTableType::AT_DropColumnRecurse
    }
    #[cfg(not(feature = "pg15"))]
    {
        subtype == pg_sys::AlterTableType::AT_DropColumn
    }
}

/// Whether this process is a background worker (16 replaced the flag with
/// the process' backend type).
pub fn is_background_worker() -> bool {
    // SAFETY: plain reads of process-local globals set at process start.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::IsBackgroundWorker
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::MyBackendType == pg_sys::BackendType::B_BG_WORKER
        }
    }
}

/// Whether `role` owns (or inherits ownership of) relation `relid`
/// (16 replaced the per-catalog checks with `object_ownercheck`).
pub fn owns_relation(relid: pg_sys::Oid, role: pg_sys::Oid) -> bool {
    // SAFETY: a syscache lookup on the backend thread.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::pg_class_ownercheck(relid, role)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::object_ownercheck(pg_sys::RelationRelationId, relid, role)
        }
    }
}

/// This backend's PGPROC number (a dense index from 0), None before it
/// has one. 17 moved it from `PGPROC.pgprocno` to `MyProcNumber`.
pub fn my_proc_number() -> Option<u32> {
    // SAFETY: plain reads of this process' globals.
    unsafe {
        if pg_sys::MyProc.is_null() {
            return None;
        }
        #[cfg(feature = "pg15")]
        let number = (*pg_sys::MyProc).pgprocno;
        #[cfg(not(feature = "pg15"))]
        let number = pg_sys::MyProcNumber;
        u32::try_from(number).ok()
    }
}

/// Attribute `i` (from 0) of a tuple descriptor. 18 put a compact copy of
/// the attributes first, so the full ones are no longer a plain array field.
///
/// # Safety
/// `tupdesc` is valid and `i < natts`.
pub unsafe fn tuple_desc_attr(tupdesc: pg_sys::TupleDesc, i: usize) -> *mut pg_sys::FormData_pg_attribute {
    // SAFETY: as the caller vouches.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            (*tupdesc).attrs.as_mut_ptr().add(i)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::TupleDescAttr(tupdesc, i as i32)
        }
    }
}

/// The columns a range table entry's query reads (`selectedCols`, offset
/// by `FirstLowInvalidHeapAttributeNumber`); NULL for none. 16 moved the
/// permission fields from the entry to the statement's `permInfos` list.
///
/// # Safety
/// `rte` belongs to `plan`'s range table.
pub unsafe fn selected_cols(plan: *mut pg_sys::PlannedStmt, rte: *mut pg_sys::RangeTblEntry) -> *mut pg_sys::Bitmapset {
    // SAFETY: as the caller vouches.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            let _ = plan;
            (*rte).selectedCols
        }
        #[cfg(not(feature = "pg15"))]
        {
            if (*rte).perminfoindex == 0 {
                return std::ptr::null_mut();
            }
            (*pg_sys::getRTEPermissionInfo((*plan).permInfos, rte)).selectedCols
        }
    }
}

/// The relation a range table entry names: a table, foreign table or view
/// (`RTE_RELATION`), and on 16+ also a view the rewriter expanded, which
/// stays in the range table as `RTE_SUBQUERY` with its `relid` (15 kept a
/// separate `RTE_RELATION` entry for it instead).
///
/// # Safety
/// `rte` is a valid range table entry.
pub unsafe fn rte_relation(rte: *mut pg_sys::RangeTblEntry) -> Option<pg_sys::Oid> {
    // SAFETY: as the caller vouches.
    unsafe {
        let kind = (*rte).rtekind;
        let named = kind == pg_sys::RTEKind::RTE_RELATION
            || (cfg!(not(feature = "pg15")) && kind == pg_sys::RTEKind::RTE_SUBQUERY);
        (named && (*rte).relid != pg_sys::Oid::INVALID).then_some((*rte).relid)
    }
}

/// `create_foreignscan_path` without outer path, extra restrictions or
/// parameterisation (17 added `disabled_nodes` and `fdw_restrictinfo`).
///
/// # Safety
/// Planner pointers from the FDW callback.
#[allow(clippy::too_many_arguments)]
pub unsafe fn create_foreignscan_path(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    target: *mut pg_sys::PathTarget,
    rows: f64,
    startup: f64,
    total: f64,
    pathkeys: *mut pg_sys::List,
    fdw_private: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    use std::ptr::null_mut as none;
    // SAFETY: as the caller vouches.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::create_foreignscan_path(root, rel, target, rows, startup, total, pathkeys, none(), none(), fdw_private)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::create_foreignscan_path(root, rel, target, rows, 0, startup, total, pathkeys, none(), none(), none(), fdw_private)
        }
    }
}

/// `create_foreign_upper_path` without outer path or extra restrictions.
///
/// # Safety
/// Planner pointers from the FDW callback.
#[allow(clippy::too_many_arguments)]
pub unsafe fn create_foreign_upper_path(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    target: *mut pg_sys::PathTarget,
    rows: f64,
    startup: f64,
    total: f64,
    pathkeys: *mut pg_sys::List,
    fdw_private: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    use std::ptr::null_mut as none;
    // SAFETY: as the caller vouches.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::create_foreign_upper_path(root, rel, target, rows, startup, total, pathkeys, none(), fdw_private)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::create_foreign_upper_path(root, rel, target, rows, 0, startup, total, pathkeys, none(), none(), fdw_private)
        }
    }
}

/// `create_foreign_join_path` without pathkeys, parameterisation, outer
/// path or extra restrictions.
///
/// # Safety
/// Planner pointers from the FDW callback.
pub unsafe fn create_foreign_join_path(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    target: *mut pg_sys::PathTarget,
    rows: f64,
    startup: f64,
    total: f64,
    fdw_private: *mut pg_sys::List,
) -> *mut pg_sys::ForeignPath {
    use std::ptr::null_mut as none;
    // SAFETY: as the caller vouches.
    unsafe {
        #[cfg(feature = "pg15")]
        {
            pg_sys::create_foreign_join_path(root, rel, target, rows, startup, total, none(), none(), none(), fdw_private)
        }
        #[cfg(not(feature = "pg15"))]
        {
            pg_sys::create_foreign_join_path(root, rel, target, rows, 0, startup, total, none(), none(), none(), none(), fdw_private)
        }
    }
}
