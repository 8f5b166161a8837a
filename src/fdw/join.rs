//! Joins of two foreign tables of one server described for a wrapper to
//! accept or decline: the join's kind, its equality keys and the columns it
//! returns. Only what a wrapper can compute exactly is described: two base
//! relations (inner, left, right, full, semi and anti joins), join clauses
//! that are all `a.x = b.y` over equal types with
//! their type's own equality (deterministic collations for text), no
//! clauses applied after an outer join, no whole-row or system columns.

use pgrx::pg_sys;
use serde::{Deserialize, Serialize};

use super::clauses::ClassifyColumn;
use crate::pg::nodes::{self, has_tag};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    /// Outer rows with a match (EXISTS, IN), each once; only outer columns.
    Semi,
    /// Outer rows without a match (NOT EXISTS); only outer columns.
    Anti,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinSide {
    Outer,
    Inner,
}

/// A join as the wrapper sees it (column indexes are those of each side's
/// estimate columns).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinQuery {
    pub kind: JoinKind,
    /// `outer.column = inner.column` pairs, ANDed (none: a cross join).
    pub keys: Vec<(usize, usize)>,
    /// The join's rows: one attribute per entry, in order.
    pub outputs: Vec<(JoinSide, usize)>,
    /// Range-table indexes of the two base relations.
    pub outer_varno: u32,
    pub inner_varno: u32,
}

impl JoinKind {
    /// Whether rows of `side` may come out NULL-extended.
    pub fn nulls_side(self, side: JoinSide) -> bool {
        match (self, side) {
            (JoinKind::Full, _) => true,
            (JoinKind::Left, JoinSide::Inner) | (JoinKind::Right, JoinSide::Outer) => true,
            _ => false,
        }
    }
}

/// The join of `outerrel` and `innerrel` (both base relations of this
/// wrapper) as a [`JoinQuery`], or None when it holds anything else.
///
/// # Safety
/// Planner pointers of a GetForeignJoinPaths call.
pub unsafe fn describe(
    joinrel: *mut pg_sys::RelOptInfo,
    outerrel: *mut pg_sys::RelOptInfo,
    innerrel: *mut pg_sys::RelOptInfo,
    jointype: pg_sys::JoinType::Type,
    restrictlist: *mut pg_sys::List,
    outer_cols: &[ClassifyColumn],
    inner_cols: &[ClassifyColumn],
) -> Option<JoinQuery> {
    // SAFETY: as the caller vouches.
    unsafe {
        let kind = match jointype {
            pg_sys::JoinType::JOIN_INNER => JoinKind::Inner,
            pg_sys::JoinType::JOIN_LEFT => JoinKind::Left,
            pg_sys::JoinType::JOIN_RIGHT => JoinKind::Right,
            pg_sys::JoinType::JOIN_FULL => JoinKind::Full,
            pg_sys::JoinType::JOIN_SEMI => JoinKind::Semi,
            pg_sys::JoinType::JOIN_ANTI => JoinKind::Anti,
            // JOIN_UNIQUE_*: Postgres makes one side unique first.
            _ => return None,
        };
        let (ov, iv) = ((*outerrel).relid, (*innerrel).relid);
        let mut keys = Vec::new();
        for ri in nodes::ptrs::<pg_sys::RestrictInfo>(restrictlist) {
            // After an outer (or anti) join a pushed-down clause filters
            // the joined rows; only the join's own clauses are described. An
            // inner or semi join applies all its clauses as join clauses
            // (a semi join's come from the EXISTS and are marked pushed down).
            if !matches!(kind, JoinKind::Inner | JoinKind::Semi) && (*ri).is_pushed_down {
                return None;
            }
            keys.push(equality_key((*ri).clause as *mut pg_sys::Node, ov, iv, outer_cols, inner_cols)?);
        }
        let outputs = outputs_of(&scan_columns(joinrel), ov, iv, outer_cols, inner_cols)?;
        Some(JoinQuery { kind, keys, outputs, outer_varno: ov, inner_varno: iv })
    }
}

/// The columns a join returns: the Vars of its target (which the planner
/// may replace by the final scan/join target between paths and plan: the
/// plan asks again), each once.
///
/// # Safety
/// `joinrel` is the planner's.
pub unsafe fn scan_columns(joinrel: *mut pg_sys::RelOptInfo) -> Vec<*mut pg_sys::Node> {
    // SAFETY: as the caller vouches; the lists are palloc'd in the planner's context.
    unsafe {
        let vars = pg_sys::pull_var_clause(
            (*(*joinrel).reltarget).exprs as *mut pg_sys::Node,
            pg_sys::PVC_RECURSE_PLACEHOLDERS as i32,
        );
        let mut out: Vec<*mut pg_sys::Node> = Vec::new();
        for v in nodes::nodes(vars) {
            if !out.iter().any(|o| pg_sys::equal(*o as *const std::ffi::c_void, v as *const std::ffi::c_void)) {
                out.push(v);
            }
        }
        out
    }
}

/// Which side and column each of `columns` (plain Vars) is.
///
/// # Safety
/// `columns` are planner expression nodes.
pub unsafe fn outputs_of(
    columns: &[*mut pg_sys::Node],
    ov: u32,
    iv: u32,
    outer_cols: &[ClassifyColumn],
    inner_cols: &[ClassifyColumn],
) -> Option<Vec<(JoinSide, usize)>> {
    // SAFETY: as the caller vouches.
    unsafe {
        let mut outputs = Vec::with_capacity(columns.len());
        for expr in columns {
            if !has_tag(*expr, pg_sys::NodeTag::T_Var) {
                return None;
            }
            let var = *expr as *mut pg_sys::Var;
            if (*var).varlevelsup != 0 {
                return None;
            }
            let (side, cols) = if (*var).varno as u32 == ov {
                (JoinSide::Outer, outer_cols)
            } else if (*var).varno as u32 == iv {
                (JoinSide::Inner, inner_cols)
            } else {
                return None;
            };
            let index = cols.iter().position(|c| c.attnum == (*var).varattno)?;
            outputs.push((side, index));
        }
        Some(outputs)
    }
}

/// `outer.x = inner.y` (either way round) with the columns' type's own
/// equality operator and a deterministic collation.
unsafe fn equality_key(
    clause: *mut pg_sys::Node,
    ov: u32,
    iv: u32,
    outer_cols: &[ClassifyColumn],
    inner_cols: &[ClassifyColumn],
) -> Option<(usize, usize)> {
    // SAFETY: planner expression nodes; catalog lookups.
    unsafe {
        if !has_tag(clause, pg_sys::NodeTag::T_OpExpr) {
            return None;
        }
        let op = clause as *mut pg_sys::OpExpr;
        let args = nodes::nodes((*op).args);
        if args.len() != 2 || !args.iter().all(|a| has_tag(*a, pg_sys::NodeTag::T_Var)) {
            return None;
        }
        let (a, b) = (args[0] as *mut pg_sys::Var, args[1] as *mut pg_sys::Var);
        if (*a).vartype != (*b).vartype || (*a).varlevelsup != 0 || (*b).varlevelsup != 0 {
            return None;
        }
        let tc = pg_sys::lookup_type_cache((*a).vartype, pg_sys::TYPECACHE_EQ_OPR as i32);
        if tc.is_null() || (*tc).eq_opr != (*op).opno {
            return None;
        }
        let coll = (*op).inputcollid;
        if coll != pg_sys::Oid::INVALID && !pg_sys::get_collation_isdeterministic(coll) {
            return None;
        }
        let (outer, inner) = if (*a).varno as u32 == ov && (*b).varno as u32 == iv {
            (a, b)
        } else if (*a).varno as u32 == iv && (*b).varno as u32 == ov {
            (b, a)
        } else {
            return None;
        };
        let o = outer_cols.iter().position(|c| c.attnum == (*outer).varattno)?;
        let i = inner_cols.iter().position(|c| c.attnum == (*inner).varattno)?;
        Some((o, i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_extended_sides() {
        assert!(!JoinKind::Inner.nulls_side(JoinSide::Outer) && !JoinKind::Inner.nulls_side(JoinSide::Inner));
        assert!(JoinKind::Left.nulls_side(JoinSide::Inner) && !JoinKind::Left.nulls_side(JoinSide::Outer));
        assert!(JoinKind::Right.nulls_side(JoinSide::Outer) && !JoinKind::Right.nulls_side(JoinSide::Inner));
        assert!(JoinKind::Full.nulls_side(JoinSide::Outer) && JoinKind::Full.nulls_side(JoinSide::Inner));
    }
}
