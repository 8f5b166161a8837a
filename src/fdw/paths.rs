//! Paths and costs of a foreign scan: the plain path, a partial
//! (parallel-aware) path when the source divides into units workers can
//! claim, and the LIMIT a scan may apply at the source.

use pgrx::pg_sys;

/// How a wrapper prices a scan of one relation.
#[derive(Debug, Clone, Copy)]
pub struct ScanCost {
    /// Fixed cost before the first row (connecting, reading metadata).
    pub startup: f64,
    /// Cost per row the source reads (before filtering).
    pub per_source_row: f64,
}

/// How a wrapper's scans may run in parallel: the number of units
/// (files, partitions) workers claim, and the fewest rows worth a worker.
#[derive(Debug, Clone, Copy)]
pub struct ParallelUnits {
    pub units: f64,
    pub min_rows_per_worker: f64,
}

/// Workers for a partial path, and the divisor of rows and run cost: as
/// for heap scans, the leader contributes less as workers grow. A scan gets
/// the workers its rows per worker allow (`min_rows_per_worker`), or, when
/// that is fewer, those Postgres gives a heap of its decoded size
/// (`size_workers`, from `compute_parallel_worker`), bounded by the units
/// and the setting. None when a parallel scan is not worth it. Pure
/// arithmetic.
pub fn parallel_workers(max_workers: f64, units: ParallelUnits, tuples: f64, size_workers: f64) -> Option<(f64, f64)> {
    let by_rows = (tuples / units.min_rows_per_worker.max(1.0)).floor();
    let workers = max_workers.min(units.units - 1.0).min(by_rows.max(size_workers));
    if workers < 1.0 {
        return None;
    }
    let divisor = workers + (1.0 - 0.3 * workers).max(0.0);
    Some((workers, divisor))
}

/// Heap pages the rows of a table would fill once decoded: `tuples` rows of
/// `width` bytes, each with a tuple header and line pointer.
pub fn decoded_pages(tuples: f64, width: f64) -> f64 {
    const TUPLE_OVERHEAD: f64 = 24.0 + 4.0;
    (tuples.max(0.0) * (width.max(0.0) + TUPLE_OVERHEAD) / pg_sys::BLCKSZ as f64).ceil()
}

/// Add the plain path (and, when `parallel` says so, a partial path) for
/// a scan of `baserel` costed by `cost`.
///
/// # Safety
/// `root` and `baserel` are the planner's, with `rows` and `tuples` set.
pub unsafe fn add_scan_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    cost: ScanCost,
    parallel: Option<ParallelUnits>,
) {
    // SAFETY: planner structures as the caller vouches; the paths are
    // palloc'd by create_foreignscan_path in the planner's context.
    unsafe {
        let (rows, tuples) = ((*baserel).rows, (*baserel).tuples);
        let run = tuples * cost.per_source_row + rows * pg_sys::cpu_tuple_cost;
        let path = foreign_path(root, baserel, rows, cost.startup, cost.startup + run);
        pg_sys::add_path(baserel, path as *mut pg_sys::Path);
        let Some(units) = parallel else { return };
        if !(*baserel).consider_parallel || is_result_relation(root, (*baserel).relid) {
            return;
        }
        let max_workers = pg_sys::max_parallel_workers_per_gather;
        // Postgres' own rule for a heap of the same size (min_parallel_table_scan_size,
        // the table's parallel_workers option): small dimension tables of a
        // join then get partial paths (and Parallel Hash) as their heap copies do.
        // A heap's size counts whole rows (every column, as ANALYZE measured them).
        let rte = *(*root).simple_rte_array.add((*baserel).relid as usize);
        let width = pg_sys::get_relation_data_width((*rte).relid, std::ptr::null_mut()) as f64;
        let pages = decoded_pages(tuples, width);
        let size_workers = pg_sys::compute_parallel_worker(baserel, pages, -1.0, max_workers) as f64;
        let Some((workers, divisor)) = parallel_workers(max_workers as f64, units, tuples, size_workers) else {
            return;
        };
        let path = foreign_path(root, baserel, (rows / divisor).max(1.0), cost.startup, cost.startup + run / divisor);
        (*path).path.parallel_aware = true;
        (*path).path.parallel_safe = true;
        (*path).path.parallel_workers = workers as i32;
        pg_sys::add_partial_path(baserel, path as *mut pg_sys::Path);
    }
}

unsafe fn foreign_path(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    rows: f64,
    startup: f64,
    total: f64,
) -> *mut pg_sys::ForeignPath {
    // SAFETY: as for add_scan_paths.
    unsafe {
        crate::pg::compat::create_foreignscan_path(
            root,
            baserel,
            std::ptr::null_mut(),
            rows,
            startup,
            total,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// Whether relation `relid` is the statement's result relation.
///
/// # Safety
/// `root` is the planner's.
pub unsafe fn is_result_relation(root: *mut pg_sys::PlannerInfo, relid: u32) -> bool {
    // SAFETY: reading the planner's Query.
    unsafe { (*(*root).parse).resultRelation as u32 == relid }
}

/// Whether this scan feeds an UPDATE or DELETE of relation `varno` (it then
/// must read every column and give rows an identity).
///
/// # Safety
/// `root` is the planner's.
pub unsafe fn feeds_update_or_delete(root: *mut pg_sys::PlannerInfo, varno: u32) -> bool {
    // SAFETY: reading the planner's Query.
    unsafe {
        let parse = (*root).parse;
        (*parse).resultRelation as u32 == varno
            && matches!((*parse).commandType, pg_sys::CmdType::CMD_UPDATE | pg_sys::CmdType::CMD_DELETE)
    }
}

/// The LIMIT (plus OFFSET) that bounds this scan's useful rows: only for a
/// query over this one relation without ORDER BY or grouping (Postgres then
/// sets `limit_tuples`), and only when every WHERE clause was pushed.
///
/// # Safety
/// `root` is the planner's.
pub unsafe fn pushable_limit(root: *mut pg_sys::PlannerInfo, all_translated: bool) -> Option<u64> {
    // SAFETY: reading the planner's state.
    unsafe {
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
}

/// Selectivity of the relation's restriction clauses.
///
/// # Safety
/// `root` and `baserel` are the planner's.
pub unsafe fn restriction_selectivity(root: *mut pg_sys::PlannerInfo, baserel: *mut pg_sys::RelOptInfo) -> f64 {
    // SAFETY: as the caller vouches.
    unsafe {
        pg_sys::clauselist_selectivity(
            root,
            (*baserel).baserestrictinfo,
            (*baserel).relid as i32,
            pg_sys::JoinType::JOIN_INNER,
            std::ptr::null_mut(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(units: f64, min: f64) -> ParallelUnits {
        ParallelUnits { units, min_rows_per_worker: min }
    }

    #[test]
    fn workers_are_bounded_by_units_rows_and_setting() {
        // One unit (file) cannot be shared.
        assert_eq!(parallel_workers(4.0, units(1.0, 100.0), 1e9, 4.0), None);
        // Too few rows for a worker, and too small for Postgres' size rule.
        assert_eq!(parallel_workers(4.0, units(10.0, 500_000.0), 400_000.0, 0.0), None);
        // Bounded by units - 1 (the leader reads too).
        assert_eq!(parallel_workers(8.0, units(3.0, 1.0), 1e6, 0.0).map(|w| w.0), Some(2.0));
        // Bounded by the setting.
        assert_eq!(parallel_workers(2.0, units(100.0, 1.0), 1e6, 0.0).map(|w| w.0), Some(2.0));
        // Bounded by rows per worker.
        assert_eq!(parallel_workers(8.0, units(100.0, 500_000.0), 1_600_000.0, 0.0).map(|w| w.0), Some(3.0));
    }

    #[test]
    fn small_tables_get_the_workers_of_a_heap_of_their_size() {
        // 200k rows (TPC-H part): under the rows rule, but as large as a heap
        // Postgres scans with two workers.
        assert_eq!(parallel_workers(2.0, units(4.0, 500_000.0), 200_000.0, 2.0).map(|w| w.0), Some(2.0));
        // Still bounded by the units.
        assert_eq!(parallel_workers(2.0, units(2.0, 500_000.0), 200_000.0, 2.0).map(|w| w.0), Some(1.0));
        // The more generous of the two rules wins.
        assert_eq!(parallel_workers(8.0, units(100.0, 1000.0), 3000.0, 1.0).map(|w| w.0), Some(3.0));
    }

    #[test]
    fn decoded_pages_count_headers() {
        // 200k rows of 41 bytes: 69 bytes each with header and line pointer.
        assert_eq!(decoded_pages(200_000.0, 41.0), (200_000.0f64 * 69.0 / 8192.0).ceil());
        assert_eq!(decoded_pages(0.0, 100.0), 0.0);
    }

    #[test]
    fn leader_share_shrinks_like_heap_scans() {
        // 1 worker: 1 + 0.7 leader; 2: 2 + 0.4; 4 and more: no leader share.
        assert_eq!(parallel_workers(1.0, units(10.0, 1.0), 1e6, 0.0), Some((1.0, 1.7)));
        let (_, d) = parallel_workers(2.0, units(10.0, 1.0), 1e6, 0.0).unwrap();
        assert!((d - 2.4).abs() < 1e-9);
        assert_eq!(parallel_workers(4.0, units(10.0, 1.0), 1e6, 0.0), Some((4.0, 4.0)));
    }
}
