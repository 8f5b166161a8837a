//! Planner shim that makes reading a published view cost what reading its raw
//! relation costs.
//!
//! A published view is `SELECT <approved columns, masked> FROM raw r WHERE
//! lake.access_gate(raw) [AND (row filter)]` with `security_barrier`. Planned
//! as written, Postgres keeps the view as a subquery (so non-leakproof outer
//! predicates cannot be pushed into the scan) and puts the gate in a gating
//! Result node that every row passes through. Before planning, this shim
//! rewrites each such subquery, when it has exactly the shape townlake
//! generates, into an equivalent that Postgres flattens:
//!
//! - the access gate is taken out of the plan; the executor hook runs the same
//!   check once for every execution of the statement, from the view's entry in
//!   the range table (where Postgres also checks privileges on the view, so it
//!   is there even when the planner removes the subquery);
//! - the row filter becomes a security qual of the raw relation, the mechanism
//!   row level security uses: outer predicates that are not leakproof are
//!   still evaluated only on rows the filter lets through, and the planner
//!   does not run them on the relation's statistics;
//! - the subquery loses its security_barrier mark and is pulled up.
//!
//! Masked columns stay masks: outer predicates see the view's expressions, and
//! pending or denied columns are not in the view at all. Nothing else is
//! touched; a view of another shape is planned as written, gate included.

use std::ffi::{c_void, CStr};

use pgrx::prelude::*;

use super::cache;
use crate::pg::nodes::list_pointers;

/// Governance's planner link of the shared hook chain (pg::hooks).
///
/// # Safety
/// `parse` is the planner's query tree.
pub unsafe fn relax_before_planning(parse: *mut pg_sys::Query) {
    // The planner works on its own copy of cached queries, so rewriting the
    // tree in place is what Postgres itself does while planning.
    if cache::anything_governed() {
        relax_query(parse);
    }
}

/// Relaxes the published views of one query level and of every level below
/// it: range table subqueries and CTEs directly, sublinks through Postgres'
/// walker (only when the level has any, as the walk costs a guarded call per
/// node).
unsafe fn relax_query(query: *mut pg_sys::Query) {
    for rte in list_pointers((*query).rtable) {
        let rte = rte as *mut pg_sys::RangeTblEntry;
        relax(rte);
        if (*rte).rtekind == pg_sys::RTEKind::RTE_SUBQUERY && !(*rte).subquery.is_null() {
            relax_query((*rte).subquery);
        }
    }
    for cte in list_pointers((*query).cteList) {
        let inner = (*(cte as *mut pg_sys::CommonTableExpr)).ctequery as *mut pg_sys::Node;
        if !inner.is_null() && (*inner).type_ == pg_sys::NodeTag::T_Query {
            relax_query(inner as *mut pg_sys::Query);
        }
    }
    if (*query).hasSubLinks {
        crate::pg::nodes::for_each_sublink_query(query, &mut |q| unsafe { relax_query(q) });
    }
}

unsafe fn rt_fetch(rtable: *mut pg_sys::List, index: i32) -> *mut pg_sys::RangeTblEntry {
    if index < 1 || rtable.is_null() || index > (*rtable).length {
        return std::ptr::null_mut();
    }
    pg_sys::list_nth(rtable, index - 1) as *mut pg_sys::RangeTblEntry
}

/// The view a subquery range table entry was expanded from, if any.
unsafe fn view_of(rte: *mut pg_sys::RangeTblEntry) -> pg_sys::Oid {
    // Postgres 16 keeps the view's oid on the entry itself; 15 keeps it in
    // the first entry of the view's query (where its privileges are checked).
    if (*rte).relid != pg_sys::Oid::INVALID {
        return (*rte).relid;
    }
    let first = rt_fetch((*(*rte).subquery).rtable, 1);
    if first.is_null()
        || (*first).rtekind != pg_sys::RTEKind::RTE_RELATION
        || (*first).relkind != pg_sys::RELKIND_VIEW as std::ffi::c_char
    {
        return pg_sys::Oid::INVALID;
    }
    (*first).relid
}

/// Whether `node` is `lake.access_gate('<raw>'::regclass)` (views generated
/// before regclass: `<raw oid>::oid`).
unsafe fn is_gate_call(node: *mut pg_sys::Node, raw: pg_sys::Oid) -> bool {
    if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_FuncExpr {
        return false;
    }
    let func = node as *mut pg_sys::FuncExpr;
    let args = list_pointers((*func).args);
    if args.len() != 1 {
        return false;
    }
    // a regclass (or `<n>::oid`) constant, relabelled to the parameter's
    // type until the planner folds it
    let mut arg = args[0] as *mut pg_sys::Node;
    while !arg.is_null() && (*arg).type_ == pg_sys::NodeTag::T_RelabelType {
        arg = (*(arg as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node;
    }
    if arg.is_null() || (*arg).type_ != pg_sys::NodeTag::T_Const {
        return false;
    }
    let arg = arg as *mut pg_sys::Const;
    if !matches!((*arg).consttype, pg_sys::REGCLASSOID | pg_sys::OIDOID | pg_sys::INT4OID)
        || (*arg).constisnull
        || (*arg).constvalue.value() as u32 != raw.to_u32()
    {
        return false;
    }
    let name = pg_sys::get_func_name((*func).funcid);
    let lake = pg_sys::get_namespace_oid(c"lake".as_ptr(), true);
    !name.is_null()
        && CStr::from_ptr(name).to_bytes() == b"access_gate"
        && pg_sys::get_func_namespace((*func).funcid) == lake
}

/// Rewrites one published-view subquery as described above, or leaves it.
unsafe fn relax(rte: *mut pg_sys::RangeTblEntry) {
    if (*rte).rtekind != pg_sys::RTEKind::RTE_SUBQUERY || !(*rte).security_barrier || (*rte).subquery.is_null() {
        return;
    }
    let sub = (*rte).subquery;
    let Some(raw) = cache::raw_of_view(view_of(rte)) else { return };
    // exactly the generated shape: a plain projection of one relation
    if (*sub).commandType != pg_sys::CmdType::CMD_SELECT
        || !(*sub).setOperations.is_null()
        || !(*sub).groupClause.is_null()
        || !(*sub).groupingSets.is_null()
        || !(*sub).havingQual.is_null()
        || !(*sub).distinctClause.is_null()
        || !(*sub).sortClause.is_null()
        || !(*sub).limitCount.is_null()
        || !(*sub).limitOffset.is_null()
        || !(*sub).rowMarks.is_null()
        || !(*sub).cteList.is_null()
        || (*sub).hasAggs
        || (*sub).hasWindowFuncs
        || (*sub).hasTargetSRFs
        || (*sub).hasModifyingCTE
        || (*sub).jointree.is_null()
    {
        return;
    }
    let from = list_pointers((*(*sub).jointree).fromlist);
    if from.len() != 1 || (*(from[0] as *mut pg_sys::Node)).type_ != pg_sys::NodeTag::T_RangeTblRef {
        return;
    }
    let base = rt_fetch((*sub).rtable, (*(from[0] as *mut pg_sys::RangeTblRef)).rtindex);
    if base.is_null() || (*base).rtekind != pg_sys::RTEKind::RTE_RELATION || (*base).relid != raw {
        return;
    }
    let quals = (*(*sub).jointree).quals;
    let conjuncts = if pg_sys::is_andclause(quals as *const c_void) {
        list_pointers((*(quals as *mut pg_sys::BoolExpr)).args)
    } else {
        vec![quals as *mut c_void]
    };
    let Some(gate) = conjuncts.iter().position(|&c| is_gate_call(c as *mut pg_sys::Node, raw)) else { return };
    let filter: Vec<*mut c_void> = conjuncts.iter().enumerate().filter(|&(i, _)| i != gate).map(|(_, &c)| c).collect();
    // The row filter goes after any row level security quals already there
    // (those belong to the relation itself; the view sits above it). Without
    // a filter a constant TRUE goes there instead: it costs nothing per row,
    // but a relation with security quals is one whose statistics the planner
    // never feeds to non-leakproof operators, as it did not through the
    // security-barrier subquery (planning happens before the access check).
    let clause = match filter.len() {
        0 => pg_sys::makeBoolConst(true, false) as *mut c_void,
        1 => filter[0],
        _ => {
            let mut args: *mut pg_sys::List = std::ptr::null_mut();
            for clause in filter {
                args = pg_sys::lappend(args, clause);
            }
            pg_sys::make_andclause(args) as *mut c_void
        }
    };
    (*base).securityQuals = pg_sys::lappend((*base).securityQuals, clause);
    (*(*sub).jointree).quals = std::ptr::null_mut();
    (*rte).security_barrier = false;
}
