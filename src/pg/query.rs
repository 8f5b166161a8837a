//! What the planner and executor hooks are handed, as safe views: a
//! statement being executed (`Execution`: its QueryDesc and plan), the
//! entries of its range table, its bound parameters, and a query tree being
//! planned (`QueryTree`) with the one rewrite a planner link makes on it.
//! The hook chain (hooks.rs) builds the views from Postgres' pointers, which
//! stay valid for the whole hook call; the views cannot outlive it.

use std::ffi::{c_void, CStr};
use std::marker::PhantomData;

use pgrx::pg_sys;

use super::nodes::{for_each_sublink_query, has_tag, ptrs, strip_relabel};

// ------------------------------------------------------------ executor

/// A statement in the executor (its QueryDesc), as the executor hooks see it.
pub struct Execution {
    qd: *mut pg_sys::QueryDesc,
}

impl Execution {
    /// # Safety
    /// `qd` is the executor's QueryDesc with its plan, valid for as long as
    /// the value lives (the hook chain lends it for one hook call).
    pub(super) unsafe fn new(qd: *mut pg_sys::QueryDesc) -> Execution {
        Execution { qd }
    }

    /// Identifies this execution while it runs (the QueryDesc's address: a
    /// cursor keeps it across FETCHes).
    pub fn key(&self) -> usize {
        self.qd as usize
    }

    fn plan(&self) -> &pg_sys::PlannedStmt {
        // SAFETY: a QueryDesc always carries its PlannedStmt (see `new`).
        unsafe { &*(*self.qd).plannedstmt }
    }

    /// The text of the query the statement came from (may hold several statements).
    pub fn source_text(&self) -> Option<&CStr> {
        // SAFETY: NULL or a NUL-terminated string that lives for the execution.
        unsafe {
            let text = (*self.qd).sourceText;
            (!text.is_null()).then(|| CStr::from_ptr(text))
        }
    }

    pub fn command_type(&self) -> pg_sys::CmdType::Type {
        self.plan().commandType
    }

    /// Whether a WITH clause of the statement modifies data.
    pub fn has_modifying_cte(&self) -> bool {
        self.plan().hasModifyingCTE
    }

    /// Where the result rows go (None: no receiver yet).
    pub fn destination(&self) -> Option<pg_sys::CommandDest::Type> {
        // SAFETY: dest is NULL or a DestReceiver that lives for the execution.
        unsafe {
            let dest = (*self.qd).dest;
            (!dest.is_null()).then(|| (*dest).mydest)
        }
    }

    /// Whether the executor gathers per-node statistics for this execution
    /// (EXPLAIN ANALYZE, or auto_explain with log_analyze).
    pub fn instrumented(&self) -> bool {
        // SAFETY: plain field of the QueryDesc lent for this call.
        unsafe { (*self.qd).instrument_options != 0 }
    }

    /// Runs the statement without per-node statistics: EXPLAIN ANALYZE then
    /// prints the plan with no counts ("never executed" on every node).
    /// Only before `standard_ExecutorStart` has read the options.
    pub fn drop_instrumentation(&self) {
        // SAFETY: as above; the executor copies the field into its state later.
        unsafe { (*self.qd).instrument_options = 0 }
    }

    /// The plan's range table (the flattened one: entries of views and
    /// subqueries the planner pulled up are in it too).
    pub fn range_table(&self) -> Vec<RangeEntry<'_>> {
        // SAFETY: rtable is a List of RangeTblEntry that lives with the plan.
        unsafe { ptrs::<pg_sys::RangeTblEntry>(self.plan().rtable) }
            .into_iter()
            .map(|rte| RangeEntry { rte, plan: self.plan() as *const _ as *mut _, _plan: PhantomData })
            .collect()
    }

    /// A copy of what identifies each range table entry (kind, relation,
    /// selected columns): equal keys give equal answers for anything
    /// computed from those alone (see `range_table_matches`).
    pub fn range_table_key(&self) -> Vec<EntryKey> {
        self.range_table().iter().map(RangeEntry::key).collect()
    }

    /// Whether the range table is the one `key` was taken from (entry by
    /// entry: kind, relation, selected columns), without allocating.
    pub fn range_table_matches(&self, key: &[EntryKey]) -> bool {
        let plan = self.plan() as *const pg_sys::PlannedStmt as *mut pg_sys::PlannedStmt;
        // SAFETY: rtable is NULL or a List of RangeTblEntry pointers that
        // lives with the plan; its cells are read in place.
        unsafe {
            let list = (*plan).rtable;
            let n = if list.is_null() { 0 } else { (*list).length.max(0) as usize };
            if n != key.len() {
                return false;
            }
            (0..n).all(|i| {
                let rte = (*(*list).elements.add(i)).ptr_value as *mut pg_sys::RangeTblEntry;
                let e = RangeEntry { rte, plan, _plan: PhantomData };
                e.matches(&key[i])
            })
        }
    }

    /// The statement's bound parameter values (EXECUTE's arguments,
    /// extended-protocol binds); None without parameters, or when they are
    /// fetched lazily (PL/pgSQL variables).
    pub fn params(&self) -> Option<Vec<Param<'_>>> {
        // SAFETY: params is NULL or a ParamListInfo of numParams entries
        // that lives for the execution.
        unsafe {
            let params = (*self.qd).params;
            if params.is_null() || (*params).paramFetch.is_some() || (*params).numParams <= 0 {
                return None;
            }
            let n = (*params).numParams as usize;
            let list = (*params).params.as_slice(n);
            Some(
                list.iter()
                    .map(|p| Param { ptype: p.ptype, isnull: p.isnull, value: p.value, _exec: PhantomData })
                    .collect(),
            )
        }
    }

    /// Rows processed by the executor's latest run (None before it started).
    pub fn rows_processed(&self) -> Option<u64> {
        // SAFETY: estate is NULL or the executor state of this execution.
        unsafe {
            let estate = (*self.qd).estate;
            (!estate.is_null()).then(|| (*estate).es_processed)
        }
    }
}

/// A bitmap's words without its trailing zero words: two sets are equal
/// when these are.
fn significant_words(words: &[u64]) -> &[u64] {
    let used = words.iter().rposition(|w| *w != 0).map_or(0, |k| k + 1);
    &words[..used]
}

/// A range table entry's kind, relation and selected columns (bitmap
/// words), copied out of a plan (`RangeEntry::key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryKey {
    kind: pg_sys::RTEKind::Type,
    relid: pg_sys::Oid,
    cols: Vec<u64>,
}

/// An entry of an executing plan's range table.
pub struct RangeEntry<'a> {
    rte: *mut pg_sys::RangeTblEntry,
    plan: *mut pg_sys::PlannedStmt,
    _plan: PhantomData<&'a pg_sys::RangeTblEntry>,
}

impl RangeEntry<'_> {
    fn rte(&self) -> &pg_sys::RangeTblEntry {
        // SAFETY: an entry of a live plan's range table (see `range_table`).
        unsafe { &*self.rte }
    }

    /// A plain relation (table, view's own entry, foreign table ...).
    pub fn is_relation(&self) -> bool {
        self.rte().rtekind == pg_sys::RTEKind::RTE_RELATION
    }

    /// The relation the entry names, a view the rewriter expanded included
    /// (which 16+ keeps as a subquery entry carrying the view's oid).
    pub fn named_relation(&self) -> Option<pg_sys::Oid> {
        // SAFETY: an entry of a live plan's range table (see `range_table`).
        unsafe { super::compat::rte_relation(self.rte) }
    }

    /// The relation's oid (InvalidOid for entries that are not relations).
    pub fn relid(&self) -> pg_sys::Oid {
        self.rte().relid
    }

    /// The relation's `pg_class.relkind`.
    pub fn relkind(&self) -> u8 {
        self.rte().relkind as u8
    }

    /// The entry's selected columns as bitmap words, trailing zero words
    /// left out (15 may keep them; the set is the same).
    fn selected_words(&self) -> &[u64] {
        // SAFETY: the entry belongs to this plan's range table; its selected
        // columns are NULL or a Bitmapset of `nwords` words that lives with
        // the plan (as long as the borrow of `self`).
        let words: &[u64] = unsafe {
            let set = super::compat::selected_cols(self.plan, self.rte);
            if set.is_null() {
                &[]
            } else {
                (*set).words.as_slice((*set).nwords.max(0) as usize)
            }
        };
        significant_words(words)
    }

    /// What identifies the entry for `Execution::range_table_matches`.
    pub fn key(&self) -> EntryKey {
        EntryKey { kind: self.rte().rtekind, relid: self.rte().relid, cols: self.selected_words().to_vec() }
    }

    fn matches(&self, k: &EntryKey) -> bool {
        self.rte().rtekind == k.kind && self.rte().relid == k.relid && self.selected_words() == &k.cols[..]
    }

    /// Attribute numbers the statement reads from the relation (0: the
    /// whole row), from the entry's permission info.
    pub fn selected_attnums(&self) -> Vec<i16> {
        // SAFETY: the entry belongs to this plan's range table; its
        // selected columns are NULL or a Bitmapset that lives with the plan.
        unsafe { super::nodes::members(super::compat::selected_cols(self.plan, self.rte)) }
            .into_iter()
            .map(|member| (member + pg_sys::FirstLowInvalidHeapAttributeNumber) as i16)
            .collect()
    }
}

/// A bound parameter of an executing statement.
pub struct Param<'a> {
    pub ptype: pg_sys::Oid,
    pub isnull: bool,
    value: pg_sys::Datum,
    _exec: PhantomData<&'a pg_sys::ParamExternData>,
}

impl Param<'_> {
    /// The value as text, by `output` (None: NULL, or an output function
    /// of another type).
    pub fn text(&self, output: &super::catalog::OutputFunction) -> Option<String> {
        if self.isnull || output.type_oid() != self.ptype {
            return None;
        }
        // SAFETY: the datum is a non-NULL value of `ptype`, which `output`
        // prints; the palloc'd text is freed after copying.
        unsafe {
            let text = pg_sys::OidOutputFunctionCall(output.function(), self.value);
            let out = CStr::from_ptr(text).to_string_lossy().into_owned();
            pg_sys::pfree(text as *mut c_void);
            Some(out)
        }
    }
}

// ------------------------------------------------------------ planner

/// A query tree about to be planned. The planner works on its own copy of
/// cached queries, so a planner hook may edit it in place, as Postgres
/// itself does while planning.
pub struct QueryTree {
    query: *mut pg_sys::Query,
    serial_only: bool,
}

impl QueryTree {
    /// # Safety
    /// `query` is the planner's (non-NULL) query tree, valid and not
    /// otherwise in use for as long as the value lives.
    pub(super) unsafe fn new(query: *mut pg_sys::Query) -> QueryTree {
        QueryTree { query, serial_only: false }
    }

    /// Plans this query without parallel workers (a part's rule).
    pub fn keep_serial(&mut self) {
        self.serial_only = true;
    }

    /// Whether a part asked for a plan without parallel workers.
    pub(super) fn serial_only(&self) -> bool {
        self.serial_only
    }

    /// Calls `f` with every range-table entry of the query and of every
    /// query level below it: each entry before the subquery it holds, then
    /// the CTEs, then sublinks (found by Postgres' walker, and only when
    /// the level has any, as the walk costs a guarded call per node).
    pub fn for_each_range_entry(&mut self, f: &mut dyn FnMut(&mut RangeEntryMut<'_>)) {
        // SAFETY: the tree is valid (see `new`) and `f` only sees entries
        // through RangeEntryMut, which frees nothing.
        unsafe { walk_range_entries(self.query, f) }
    }
}

unsafe fn walk_range_entries(query: *mut pg_sys::Query, f: &mut dyn FnMut(&mut RangeEntryMut<'_>)) {
    // SAFETY: every pointer followed is a node of the valid tree; casts follow the node tags.
    unsafe {
        for rte in ptrs::<pg_sys::RangeTblEntry>((*query).rtable) {
            f(&mut RangeEntryMut { rte, _tree: PhantomData });
            if (*rte).rtekind == pg_sys::RTEKind::RTE_SUBQUERY && !(*rte).subquery.is_null() {
                walk_range_entries((*rte).subquery, f);
            }
        }
        for cte in ptrs::<pg_sys::CommonTableExpr>((*query).cteList) {
            let inner = (*cte).ctequery;
            if has_tag(inner, pg_sys::NodeTag::T_Query) {
                walk_range_entries(inner as *mut pg_sys::Query, f);
            }
        }
        if (*query).hasSubLinks {
            for_each_sublink_query(query, &mut |q| walk_range_entries(q, &mut *f));
        }
    }
}

/// A range-table entry of a query tree being planned.
pub struct RangeEntryMut<'a> {
    rte: *mut pg_sys::RangeTblEntry,
    _tree: PhantomData<&'a mut pg_sys::RangeTblEntry>,
}

impl RangeEntryMut<'_> {
    /// A subquery marked security_barrier (a security-barrier view, expanded).
    pub fn is_security_barrier_subquery(&self) -> bool {
        // SAFETY: an entry of the valid tree.
        unsafe {
            (*self.rte).rtekind == pg_sys::RTEKind::RTE_SUBQUERY
                && (*self.rte).security_barrier
                && !(*self.rte).subquery.is_null()
        }
    }

    /// The view a subquery entry was expanded from (InvalidOid: none).
    pub fn expanded_view(&self) -> pg_sys::Oid {
        // SAFETY: an entry of the valid tree; the subquery's range table is
        // a List of RangeTblEntry.
        unsafe {
            // Postgres 16 keeps the view's oid on the entry itself; 15 keeps
            // it in the first entry of the view's query (where its
            // privileges are checked).
            if (*self.rte).relid != pg_sys::Oid::INVALID {
                return (*self.rte).relid;
            }
            if (*self.rte).subquery.is_null() {
                return pg_sys::Oid::INVALID;
            }
            let first = rt_fetch((*(*self.rte).subquery).rtable, 1);
            if first.is_null()
                || (*first).rtekind != pg_sys::RTEKind::RTE_RELATION
                || (*first).relkind != pg_sys::RELKIND_VIEW as std::ffi::c_char
            {
                return pg_sys::Oid::INVALID;
            }
            (*first).relid
        }
    }

    /// The entry's subquery, when it is a plain projection of one relation
    /// with a WHERE clause at most: no set operation, grouping, HAVING,
    /// DISTINCT, ORDER BY, LIMIT/OFFSET, row marks, CTEs, aggregates,
    /// window functions or set-returning functions in the target list.
    pub fn single_relation_select(&mut self) -> Option<SingleRelationSelect<'_>> {
        // SAFETY: an entry of the valid tree; each cast follows the node's tag.
        unsafe {
            if (*self.rte).rtekind != pg_sys::RTEKind::RTE_SUBQUERY || (*self.rte).subquery.is_null() {
                return None;
            }
            let sub = (*self.rte).subquery;
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
                return None;
            }
            let from = ptrs::<pg_sys::Node>((*(*sub).jointree).fromlist);
            if from.len() != 1 || (*from[0]).type_ != pg_sys::NodeTag::T_RangeTblRef {
                return None;
            }
            let base = rt_fetch((*sub).rtable, (*(from[0] as *mut pg_sys::RangeTblRef)).rtindex);
            if base.is_null() || (*base).rtekind != pg_sys::RTEKind::RTE_RELATION {
                return None;
            }
            Some(SingleRelationSelect { rte: self.rte, sub, base, _entry: PhantomData })
        }
    }
}

/// Entry `index` (1-based) of a range table, NULL when out of range.
unsafe fn rt_fetch(rtable: *mut pg_sys::List, index: i32) -> *mut pg_sys::RangeTblEntry {
    // SAFETY: the caller passes a valid List (or NIL); list_nth within its length.
    unsafe {
        if index < 1 || rtable.is_null() || index > (*rtable).length {
            return std::ptr::null_mut();
        }
        pg_sys::list_nth(rtable, index - 1) as *mut pg_sys::RangeTblEntry
    }
}

/// A subquery entry that selects from one relation (see
/// `RangeEntryMut::single_relation_select`).
pub struct SingleRelationSelect<'a> {
    rte: *mut pg_sys::RangeTblEntry,
    sub: *mut pg_sys::Query,
    base: *mut pg_sys::RangeTblEntry,
    _entry: PhantomData<&'a mut pg_sys::RangeTblEntry>,
}

impl<'a> SingleRelationSelect<'a> {
    /// The relation selected from.
    pub fn relid(&self) -> pg_sys::Oid {
        // SAFETY: checked to be a relation entry of the subquery.
        unsafe { (*self.base).relid }
    }

    /// The conjuncts of the WHERE clause: its arguments if it is an AND,
    /// else the clause itself (a NULL expression when there is none).
    pub fn conjuncts(&self) -> Vec<Expr<'_>> {
        // SAFETY: jointree checked non-NULL; quals is NULL or an expression.
        let quals = unsafe { (*(*self.sub).jointree).quals };
        // SAFETY: is_andclause reads the tag of a non-NULL node only; an
        // AND clause is a BoolExpr whose args are expressions.
        let nodes = unsafe {
            if pg_sys::is_andclause(quals as *const c_void) {
                ptrs::<pg_sys::Node>((*(quals as *mut pg_sys::BoolExpr)).args)
            } else {
                vec![quals]
            }
        };
        nodes.into_iter().map(|node| Expr { node, _tree: PhantomData }).collect()
    }

    /// Moves the WHERE clause, minus conjunct `except`, into the security
    /// quals of the relation (after any there already: row level
    /// security's own), and drops the entry's security_barrier mark, so
    /// the planner pulls the subquery up while still evaluating the moved
    /// clause before any outer predicate that is not leakproof. Without a
    /// clause left, a constant TRUE goes there instead: it costs nothing per
    /// row, but a relation with security quals is one whose statistics the
    /// planner never feeds to non-leakproof operators.
    pub fn lift_where_into_security_quals(self, except: usize) {
        let filter: Vec<*mut pg_sys::Node> =
            self.conjuncts().iter().enumerate().filter(|&(i, _)| i != except).map(|(_, e)| e.node).collect();
        // SAFETY: the nodes are expressions of this subquery, now moved to
        // its relation's entry (one level down is the same query level);
        // Lists and nodes are allocated in the planner's memory context.
        unsafe {
            let clause = match filter.len() {
                0 => pg_sys::makeBoolConst(true, false) as *mut c_void,
                1 => filter[0] as *mut c_void,
                _ => {
                    let mut args: *mut pg_sys::List = std::ptr::null_mut();
                    for clause in filter {
                        args = pg_sys::lappend(args, clause as *mut c_void);
                    }
                    pg_sys::make_andclause(args) as *mut c_void
                }
            };
            (*self.base).securityQuals = pg_sys::lappend((*self.base).securityQuals, clause);
            (*(*self.sub).jointree).quals = std::ptr::null_mut();
            (*self.rte).security_barrier = false;
        }
    }
}

/// An expression of a query tree being planned (possibly NULL).
pub struct Expr<'a> {
    node: *mut pg_sys::Node,
    _tree: PhantomData<&'a pg_sys::Node>,
}

impl Expr<'_> {
    /// `f(<constant>)`: a call of function `f` with exactly one argument, a
    /// non-NULL constant of type regclass, oid or integer (under any
    /// binary-compatible cast the planner has not folded yet). Returns the
    /// function and the constant.
    pub fn oid_constant_call(&self) -> Option<(pg_sys::Oid, u32)> {
        // SAFETY: the node is NULL or an expression of the valid tree; each
        // cast follows the node's tag.
        unsafe {
            if !has_tag(self.node, pg_sys::NodeTag::T_FuncExpr) {
                return None;
            }
            let func = self.node as *mut pg_sys::FuncExpr;
            let args = ptrs::<pg_sys::Node>((*func).args);
            if args.len() != 1 {
                return None;
            }
            let arg = strip_relabel(args[0]);
            if !has_tag(arg, pg_sys::NodeTag::T_Const) {
                return None;
            }
            let arg = arg as *mut pg_sys::Const;
            if !matches!((*arg).consttype, pg_sys::REGCLASSOID | pg_sys::OIDOID | pg_sys::INT4OID) || (*arg).constisnull {
                return None;
            }
            Some(((*func).funcid, (*arg).constvalue.value() as u32))
        }
    }
}

// ------------------------------------------------------------ views

/// A column of a view's query, by name.
pub struct ViewColumn {
    pub name: std::ffi::CString,
    /// The column is a plain column of a relation below (a Var), not an
    /// expression.
    pub plain: bool,
}

/// The named, non-junk columns of view `view`'s query (empty if it is not
/// a view or does not exist). Takes the lock a statement reading the view takes.
pub fn view_columns(view: pg_sys::Oid) -> Vec<ViewColumn> {
    let mut out = Vec::new();
    // SAFETY: the relation is opened (or not) with a lock held to the end
    // of the transaction; its rule's target list is only read, and the
    // names are copied before it is closed.
    unsafe {
        let rel = pg_sys::try_relation_open(view, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        if rel.is_null() {
            return out;
        }
        if (*(*rel).rd_rel).relkind as u8 == pg_sys::RELKIND_VIEW {
            let query = pg_sys::get_view_query(rel);
            for te in ptrs::<pg_sys::TargetEntry>((*query).targetList) {
                if (*te).resjunk || (*te).resname.is_null() {
                    continue;
                }
                let plain = has_tag((*te).expr as *mut pg_sys::Node, pg_sys::NodeTag::T_Var);
                out.push(ViewColumn { name: CStr::from_ptr((*te).resname).to_owned(), plain });
            }
        }
        pg_sys::relation_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::significant_words;

    #[test]
    fn sets_compare_equal_whatever_their_trailing_zero_words() {
        assert_eq!(significant_words(&[]), &[] as &[u64]);
        assert_eq!(significant_words(&[0, 0]), &[] as &[u64]);
        assert_eq!(significant_words(&[5, 0, 0]), &[5]);
        assert_eq!(significant_words(&[0, 9]), &[0, 9]);
        assert_eq!(significant_words(&[0, 9, 0]), significant_words(&[0, 9]));
        assert_ne!(significant_words(&[1, 0]), significant_words(&[0, 1]));
    }
}
