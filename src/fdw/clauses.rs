//! Classifying a foreign scan's WHERE clauses into the neutral [`Filter`]:
//! which clauses a wrapper may push, with their operands collected as
//! expressions to evaluate when the scan starts. The classification only
//! ever produces a filter that keeps at least the rows the clauses keep;
//! every clause is still checked by Postgres.


use pgrx::pg_sys;
use serde::{Deserialize, Serialize};

use super::filter::{comparable, date_bound_for_timestamp, CmpOp, ColumnFunc, DateFunc, Filter};
use crate::pg::compat;
use crate::pg::nodes::{self, has_tag, strip_relabel};
use crate::pg::types::Builtin;

/// A column the classifier may refer to: its attribute number and type.
#[derive(Debug, Clone, Copy)]
pub struct ClassifyColumn {
    pub attnum: i16,
    pub type_oid: u32,
}

/// Type of one operand slot; for arrays (`IN`), the element type.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SlotType {
    pub type_oid: u32,
    pub is_array: bool,
}

/// Collects operand expressions while classifying clauses.
pub struct Classifier {
    varno: u32,
    columns: Vec<ClassifyColumn>,
    /// The operand expressions, in slot order (planner memory).
    pub operands: Vec<*mut pg_sys::Node>,
    pub slot_types: Vec<SlotType>,
    /// Every operand is a plain constant (EXPLAIN can plan without executing).
    pub constant_operands: bool,
    /// Some AND nested in a clause lost an untranslatable part: the filter
    /// then keeps a superset of the rows, even where it looks exact (an OR
    /// over `b > 0` for `b > 0 AND lower(c) = 'x'`).
    weakened: bool,
    /// AND/OR/NOT levels entered by `translate`.
    depth: usize,
}

/// Deepest AND/OR/NOT nesting pushed to a wrapper: the filter travels in
/// the plan as JSON, whose reader stops at 128 levels, and deeper trees
/// are left to Postgres (a clause not translated is still applied).
const MAX_FILTER_DEPTH: usize = 32;

/// The WHERE clauses of a base relation, classified.
pub struct Classified {
    pub filter: Option<Filter>,
    /// Every clause was translated (so the filter is the whole WHERE).
    pub all_translated: bool,
    pub classifier: Classifier,
}

/// Classify the restriction clauses of `baserel` over `columns`.
///
/// # Safety
/// `baserel` is the planner's RelOptInfo of a base relation.
pub unsafe fn classify_restrictions(baserel: *mut pg_sys::RelOptInfo, columns: Vec<ClassifyColumn>) -> Classified {
    // SAFETY: as the caller vouches.
    let (varno, clauses) = unsafe { ((*baserel).relid, restriction_clauses(baserel)) };
    let mut classifier = Classifier::new(varno, columns);
    let parts: Vec<Filter> = clauses
        .iter()
        // SAFETY: restriction clauses are expression nodes.
        .filter_map(|clause| unsafe { classifier.translate(*clause) })
        .collect();
    let all_translated = parts.len() == clauses.len() && !classifier.weakened;
    let filter = (!parts.is_empty()).then_some(Filter::And(parts));
    Classified { filter, all_translated, classifier }
}

/// The clauses of the relation as plain expressions.
///
/// # Safety
/// `baserel` is a planner RelOptInfo.
pub unsafe fn restriction_clauses(baserel: *mut pg_sys::RelOptInfo) -> Vec<*mut pg_sys::Node> {
    // SAFETY: baserestrictinfo is a List of RestrictInfo.
    unsafe {
        nodes::ptrs::<pg_sys::RestrictInfo>((*baserel).baserestrictinfo)
            .into_iter()
            .map(|ri| (*ri).clause as *mut pg_sys::Node)
            .collect()
    }
}

/// Attribute numbers (1-based) the query reads from the relation: its target
/// list and its restriction clauses. None when a whole-row reference reads
/// everything.
///
/// # Safety
/// `baserel` is a planner RelOptInfo whose relid is `varno`.
pub unsafe fn used_attnums(baserel: *mut pg_sys::RelOptInfo, varno: u32) -> Option<Vec<i16>> {
    let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
    // SAFETY: pull_varattnos adds to `attrs` (palloc'd in the current context).
    let members = unsafe {
        pg_sys::pull_varattnos((*(*baserel).reltarget).exprs as *mut pg_sys::Node, varno, &mut attrs);
        for clause in restriction_clauses(baserel) {
            pg_sys::pull_varattnos(clause, varno, &mut attrs);
        }
        nodes::members(attrs)
    };
    let offset = pg_sys::FirstLowInvalidHeapAttributeNumber;
    let mut out = Vec::new();
    for member in members {
        let attnum = member + offset;
        if attnum == 0 {
            return None;
        }
        if attnum > 0 {
            out.push(attnum as i16);
        }
    }
    Some(out)
}

/// Whether the query uses the relation's `ctid` other than as the row
/// identity of the UPDATE or DELETE it is the target of. A foreign table's
/// ctid is no row address: the row identity names the row's source unit (a
/// data file) and is shared by all its rows, so a condition on it would match
/// whole files (and a SELECT of it shows no address at all).
///
/// # Safety
/// `root` and `baserel` are the planner's, and `baserel`'s relid is `varno`.
pub unsafe fn uses_ctid(root: *mut pg_sys::PlannerInfo, baserel: *mut pg_sys::RelOptInfo, varno: u32) -> bool {
    let ctid = pg_sys::SelfItemPointerAttributeNumber as i32 - pg_sys::FirstLowInvalidHeapAttributeNumber;
    // SAFETY: planner lists of RestrictInfo; pull_varattnos adds to `attrs`
    // (palloc'd in the current context).
    unsafe {
        let mut attrs: *mut pg_sys::Bitmapset = std::ptr::null_mut();
        for clause in restriction_clauses(baserel) {
            pg_sys::pull_varattnos(clause, varno, &mut attrs);
        }
        for ri in nodes::ptrs::<pg_sys::RestrictInfo>((*baserel).joininfo) {
            pg_sys::pull_varattnos((*ri).clause as *mut pg_sys::Node, varno, &mut attrs);
        }
        if !pg_sys::bms_is_member(varno as i32, (*root).all_result_relids) {
            pg_sys::pull_varattnos((*(*baserel).reltarget).exprs as *mut pg_sys::Node, varno, &mut attrs);
        }
        pg_sys::bms_is_member(ctid, attrs)
    }
}

impl Classifier {
    pub fn new(varno: u32, columns: Vec<ClassifyColumn>) -> Classifier {
        Classifier {
            varno,
            columns,
            operands: Vec::new(),
            slot_types: Vec::new(),
            constant_operands: true,
            weakened: false,
            depth: 0,
        }
    }

    /// The column (index, type) a Var of this relation refers to.
    unsafe fn column_of(&self, node: *mut pg_sys::Node) -> Option<(usize, Option<Builtin>)> {
        // SAFETY: `node` is an expression node (or NULL).
        unsafe {
            let node = super::casts::strip_exact_casts(node);
            if !has_tag(node, pg_sys::NodeTag::T_Var) {
                return None;
            }
            let var = node as *mut pg_sys::Var;
            if (*var).varno as u32 != self.varno || (*var).varlevelsup != 0 || (*var).varattno <= 0 {
                return None;
            }
            self.columns
                .iter()
                .position(|c| c.attnum == (*var).varattno)
                .map(|i| (i, Builtin::from_u32(self.columns[i].type_oid)))
        }
    }

    /// Accept an operand that can be evaluated once when the scan starts:
    /// no Vars, nothing volatile (stable functions and parameters are fine).
    unsafe fn operand(&mut self, node: *mut pg_sys::Node, is_array: bool) -> Option<usize> {
        // SAFETY: `node` is an expression node of the clause.
        let ty = unsafe {
            if pg_sys::contain_var_clause(node) || pg_sys::contain_volatile_functions(node) {
                return None;
            }
            let mut ty = pg_sys::exprType(node).to_u32();
            if is_array {
                ty = pg_sys::get_element_type(pg_sys::Oid::from(ty)).to_u32();
                if ty == 0 {
                    return None;
                }
            }
            if !has_tag(strip_relabel(node), pg_sys::NodeTag::T_Const) {
                self.constant_operands = false;
            }
            self.operands.push(node);
            ty
        };
        self.slot_types.push(SlotType { type_oid: ty, is_array });
        Some(self.operands.len() - 1)
    }

    /// Translate one clause; `None` when it cannot be pushed.
    ///
    /// # Safety
    /// `node` is NULL or an expression node of the planner.
    pub unsafe fn translate(&mut self, node: *mut pg_sys::Node) -> Option<Filter> {
        if node.is_null() {
            return None;
        }
        // SAFETY: each cast follows the node's tag.
        unsafe {
            match (*node).type_ {
                pg_sys::NodeTag::T_BoolExpr => {
                    if self.depth >= MAX_FILTER_DEPTH {
                        return None;
                    }
                    self.depth += 1;
                    let out = self.translate_bool(node as *mut pg_sys::BoolExpr);
                    self.depth -= 1;
                    out
                }
                pg_sys::NodeTag::T_OpExpr => self.translate_op(node as *mut pg_sys::OpExpr),
                pg_sys::NodeTag::T_ScalarArrayOpExpr => {
                    let sa = node as *mut pg_sys::ScalarArrayOpExpr;
                    let args = nodes::nodes((*sa).args);
                    if args.len() != 2 {
                        return None;
                    }
                    let (col, col_ty) = self.column_of(args[0])?;
                    if !bytewise_equality((*sa).inputcollid) {
                        return None;
                    }
                    let strategy = btree_strategy((*sa).opno)?;
                    let negated = match (strategy, (*sa).useOr) {
                        (CmpOp::Eq, true) => false,
                        (CmpOp::NotEq, false) => true,
                        _ => return None,
                    };
                    let elem_ty = pg_sys::get_element_type(pg_sys::exprType(args[1]));
                    if !comparable(col_ty, Builtin::from_oid(elem_ty)) {
                        return None;
                    }
                    let slot = self.operand(args[1], true)?;
                    Some(Filter::InList { column: col, slot, negated })
                }
                pg_sys::NodeTag::T_NullTest => {
                    let nt = node as *mut pg_sys::NullTest;
                    if (*nt).argisrow {
                        return None;
                    }
                    let (col, _) = self.column_of((*nt).arg as *mut pg_sys::Node)?;
                    Some(Filter::IsNull {
                        column: col,
                        negated: (*nt).nulltesttype == pg_sys::NullTestType::IS_NOT_NULL,
                    })
                }
                pg_sys::NodeTag::T_Var => {
                    let (col, ty) = self.column_of(node)?;
                    (ty == Some(Builtin::Bool)).then_some(Filter::BoolColumn { column: col, value: true })
                }
                _ => None,
            }
        }
    }

    /// AND, OR and NOT of translatable clauses (see `translate`).
    ///
    /// # Safety
    /// `b` is a BoolExpr of the planner.
    unsafe fn translate_bool(&mut self, b: *mut pg_sys::BoolExpr) -> Option<Filter> {
        // SAFETY: the args are expression nodes.
        unsafe {
            let args = nodes::nodes((*b).args);
            match (*b).boolop {
                pg_sys::BoolExprType::AND_EXPR => {
                    let wanted = args.len();
                    let parts: Vec<Filter> = args.into_iter().filter_map(|a| self.translate(a)).collect();
                    if parts.len() < wanted {
                        self.weakened = true;
                    }
                    if parts.is_empty() {
                        None
                    } else {
                        Some(Filter::And(parts))
                    }
                }
                pg_sys::BoolExprType::OR_EXPR => {
                    let mut parts = Vec::new();
                    for a in args {
                        parts.push(self.translate(a)?);
                    }
                    Some(Filter::Or(parts))
                }
                _ => {
                    let inner = *args.first()?;
                    if let Some((col, ty)) = self.column_of(inner) {
                        return (ty == Some(Builtin::Bool))
                            .then_some(Filter::BoolColumn { column: col, value: false });
                    }
                    match self.translate(inner)? {
                        leaf if leaf.is_leaf() && !matches!(leaf, Filter::BoolColumn { .. }) => {
                            Some(Filter::Not(Box::new(leaf)))
                        }
                        _ => None,
                    }
                }
            }
        }
    }

    unsafe fn translate_op(&mut self, op: *mut pg_sys::OpExpr) -> Option<Filter> {
        // SAFETY: `op` is an OpExpr of the planner.
        unsafe {
            let args = nodes::nodes((*op).args);
            if args.len() != 2 {
                return None;
            }
            let (col, col_ty, other, var_on_left) = match (self.column_of(args[0]), self.column_of(args[1])) {
                (Some((c, t)), None) => (c, t, args[1], true),
                (None, Some((c, t))) => (c, t, args[0], false),
                (None, None) => {
                    if let Some(f) = self.translate_date_cmp(op, &args) {
                        return Some(f);
                    }
                    if let Some(f) = self.translate_arith_cmp(op, &args) {
                        return Some(f);
                    }
                    return self.translate_func_cmp(op, &args);
                }
                _ => return None,
            };
            if !bytewise_equality((*op).inputcollid) {
                // A nondeterministic collation ('apple' = 'APPLE' under a
                // case-insensitive ICU one): engines outside Postgres compare
                // bytes, so not even equality may be pushed.
                return None;
            }
            let c_collation = |coll: pg_sys::Oid| coll == pg_sys::C_COLLATION_OID || coll == compat::POSIX_COLLATION_OID;
            let other_ty = Builtin::from_oid(pg_sys::exprType(other));
            let name = crate::pg::nodes::builtin_operator_name((*op).opno).unwrap_or_default();
            let is_text = |t: Option<Builtin>| t.is_some_and(Builtin::is_text);
            if name == "~~*" {
                // ILIKE under C/POSIX: Postgres lowers both sides (ASCII only).
                let other_ty = Builtin::from_oid(pg_sys::exprType(other));
                if !var_on_left || !is_text(col_ty) || !is_text(other_ty) || !c_collation((*op).inputcollid) {
                    return None;
                }
                let slot = self.operand(other, false)?;
                return Some(Filter::FuncLike { func: ColumnFunc::LowerAscii, column: col, slot, fold_pattern: true });
            }
            if name == "~~" {
                // LIKE: only `column LIKE pattern` on text.
                if !var_on_left || !is_text(col_ty) || !is_text(other_ty) {
                    return None;
                }
                let slot = self.operand(other, false)?;
                return Some(Filter::Like { column: col, slot });
            }
            let mut cmp = btree_strategy((*op).opno)?;
            if !var_on_left {
                cmp = cmp.commute();
            }
            if let Some((cmp, constant)) = same_type_bound(cmp, col_ty, other) {
                let slot = self.operand(constant, false)?;
                return Some(Filter::Cmp { column: col, op: cmp, slot });
            }
            if !comparable(col_ty, other_ty) {
                return None;
            }
            if cmp.is_range() && is_text(col_ty) {
                // Engines outside Postgres order strings by bytes: only
                // C/POSIX collations agree.
                let coll = (*op).inputcollid;
                if coll != pg_sys::C_COLLATION_OID && coll != compat::POSIX_COLLATION_OID {
                    return None;
                }
            }
            let slot = self.operand(other, false)?;
            Some(Filter::Cmp { column: col, op: cmp, slot })
        }
    }
}

/// Whether values equal under collation `coll` (InvalidOid: a type without
/// one) are equal byte for byte, as every engine outside Postgres takes them:
/// not under a nondeterministic collation.
pub(crate) fn bytewise_equality(coll: pg_sys::Oid) -> bool {
    // SAFETY: a syscache lookup of a collation the planner resolved.
    coll == pg_sys::Oid::INVALID || unsafe { pg_sys::get_collation_isdeterministic(coll) }
}

impl Classifier {
    /// `date_trunc(unit, x) <op> value` (a timestamp or date value) or
    /// `extract(field FROM x) <op> value` (a number) for a [`DateExpr`].
    unsafe fn translate_date_cmp(&mut self, op: *mut pg_sys::OpExpr, args: &[*mut pg_sys::Node]) -> Option<Filter> {
        // SAFETY: planner expression nodes.
        unsafe {
            let column_of = |n: *mut pg_sys::Node| self.column_of(n);
            // (the closure runs inside this unsafe block's contract)
            let (expr, other, on_left) = match (
                super::date_expr::date_expr(args[0], &column_of),
                super::date_expr::date_expr(args[1], &column_of),
            ) {
                (Some(e), None) => (e, args[1], true),
                (None, Some(e)) => (e, args[0], false),
                _ => return None,
            };
            let other_ty = Builtin::from_oid(pg_sys::exprType(other))?;
            let fits = match expr.func {
                DateFunc::Trunc(_) => matches!(other_ty, Builtin::Timestamp | Builtin::Date),
                DateFunc::Part(_) => matches!(other_ty, Builtin::Numeric | Builtin::Int2 | Builtin::Int4 | Builtin::Int8),
            };
            if !fits {
                return None;
            }
            let mut cmp = btree_strategy((*op).opno)?;
            if !on_left {
                cmp = cmp.commute();
            }
            let slot = self.operand(other, false)?;
            Some(Filter::DateCmp { expr, op: cmp, slot })
        }
    }

    /// `a + b <op> value` (integer arithmetic, see [`super::filter::ArithExpr`])
    /// against an integer or numeric value.
    unsafe fn translate_arith_cmp(&mut self, op: *mut pg_sys::OpExpr, args: &[*mut pg_sys::Node]) -> Option<Filter> {
        // SAFETY: planner expression nodes.
        unsafe {
            let column_of = |n: *mut pg_sys::Node| self.column_of(n);
            let (expr, other, on_left) = match (
                super::arith_expr::arith_expr(args[0], &column_of),
                super::arith_expr::arith_expr(args[1], &column_of),
            ) {
                (Some(e), None) => (e, args[1], true),
                (None, Some(e)) => (e, args[0], false),
                _ => return None,
            };
            let other_ty = Builtin::from_oid(pg_sys::exprType(other))?;
            if !matches!(other_ty, Builtin::Numeric | Builtin::Int2 | Builtin::Int4 | Builtin::Int8) {
                return None;
            }
            let mut cmp = btree_strategy((*op).opno)?;
            if !on_left {
                cmp = cmp.commute();
            }
            let slot = self.operand(other, false)?;
            Some(Filter::ArithCmp { expr, op: cmp, slot })
        }
    }

    /// `f(column) = value` / `<>` for an allowlisted function `f` (see
    /// [`ColumnFunc`]); None for anything else.
    unsafe fn translate_func_cmp(&mut self, op: *mut pg_sys::OpExpr, args: &[*mut pg_sys::Node]) -> Option<Filter> {
        // SAFETY: planner expression nodes; each cast follows the node's tag.
        unsafe {
            let (func, column, other) = match (self.func_column(args[0]), self.func_column(args[1])) {
                (Some((f, c)), None) => (f, c, args[1]),
                (None, Some((f, c))) => (f, c, args[0]),
                _ => return None,
            };
            let name = crate::pg::nodes::builtin_operator_name((*op).opno).unwrap_or_default();
            if name == "~~" {
                // `lower(x) LIKE pattern`: only with the function on the left.
                let is_left = self.func_column(args[0]).is_some();
                if !is_left || !Builtin::from_oid(pg_sys::exprType(other)).is_some_and(Builtin::is_text) {
                    return None;
                }
                let slot = self.operand(other, false)?;
                return Some(Filter::FuncLike { func, column, slot, fold_pattern: false });
            }
            let op_kind = btree_strategy((*op).opno)?;
            if op_kind.is_range() || !Builtin::from_oid(pg_sys::exprType(other)).is_some_and(Builtin::is_text) {
                return None;
            }
            let slot = self.operand(other, false)?;
            Some(Filter::FuncCmp { func, column, op: op_kind, slot })
        }
    }

    /// `lower(column)` or `upper(column)` of a text column under the C or
    /// POSIX collation (ASCII-only case mapping in Postgres).
    unsafe fn func_column(&self, node: *mut pg_sys::Node) -> Option<(ColumnFunc, usize)> {
        // SAFETY: as for translate_func_cmp.
        unsafe {
            let node = strip_relabel(node);
            if !has_tag(node, pg_sys::NodeTag::T_FuncExpr) {
                return None;
            }
            let f = node as *mut pg_sys::FuncExpr;
            let func = match (*f).funcid {
                id if id == pg_sys::Oid::from(pg_sys::F_LOWER_TEXT) => ColumnFunc::LowerAscii,
                id if id == pg_sys::Oid::from(pg_sys::F_UPPER_TEXT) => ColumnFunc::UpperAscii,
                _ => return None,
            };
            let coll = (*f).inputcollid;
            if coll != pg_sys::C_COLLATION_OID && coll != compat::POSIX_COLLATION_OID {
                return None;
            }
            let args = nodes::nodes((*f).args);
            let [arg] = args.as_slice() else { return None };
            let (column, ty) = self.column_of(*arg)?;
            ty.is_some_and(Builtin::is_text).then_some((func, column))
        }
    }
}

/// What a comparison operator means, from its btree operator family, so any
/// spelling of `=`/`<` on supported types is recognised.
unsafe fn btree_strategy(opno: pg_sys::Oid) -> Option<CmpOp> {
    // SAFETY: a syscache lookup on the planner's thread.
    CmpOp::from_btree_strategy(unsafe { compat::btree_strategy(opno)? }, compat::NOT_EQUAL_STRATEGY)
}

/// A date column compared with a timestamp constant (what `date '…' +
/// interval '…'` folds to), or a timestamp column with a date constant, as an
/// equivalent comparison with a constant of the column's own type, so every
/// wrapper pushes it like any other. None when the comparison is not of that
/// shape or has no exact same-type form.
///
/// # Safety
/// `other` is an expression node of the planner, in a planner memory context.
unsafe fn same_type_bound(cmp: CmpOp, column: Option<Builtin>, other: *mut pg_sys::Node) -> Option<(CmpOp, *mut pg_sys::Node)> {
    const DAY: i64 = 86_400_000_000;
    // SAFETY: `other` is checked to be a non-NULL Const before its value is
    // read as the type it declares; makeConst copies a by-value datum.
    unsafe {
        let other = strip_relabel(other);
        if !has_tag(other, pg_sys::NodeTag::T_Const) || (*(other as *mut pg_sys::Const)).constisnull {
            return None;
        }
        let constant = other as *mut pg_sys::Const;
        let make = |ty: pg_sys::Oid, len: i32, datum: pg_sys::Datum| {
            pg_sys::makeConst(ty, -1, pg_sys::InvalidOid, len, datum, false, true) as *mut pg_sys::Node
        };
        match (column?, Builtin::from_oid((*constant).consttype)?) {
            (Builtin::Date, Builtin::Timestamp) => {
                let (cmp, day) = date_bound_for_timestamp(cmp, (*constant).constvalue.value() as i64)?;
                Some((cmp, make(pg_sys::DATEOID, 4, pg_sys::Datum::from(day))))
            }
            (Builtin::Timestamp, Builtin::Date) => {
                // A date is compared as its midnight; ±infinity and dates
                // beyond the timestamp range stay local.
                let day = (*constant).constvalue.value() as i32;
                if day.unsigned_abs() > 100_000_000 {
                    return None;
                }
                let micros = (day as i64).checked_mul(DAY)?;
                Some((cmp, make(pg_sys::TIMESTAMPOID, 8, pg_sys::Datum::from(micros))))
            }
            _ => None,
        }
    }
}
