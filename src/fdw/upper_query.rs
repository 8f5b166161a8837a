//! Reading the parts of Postgres' Query that upper-path pushdown cares
//! about into the neutral [`RawQuery`](super::upper::RawQuery).

use std::ffi::CStr;

use pgrx::pg_sys;

use super::clauses::{bytewise_equality, ClassifyColumn, SlotType};
use super::filter::{comparable, CmpOp, Value};
use super::upper::{
    ArithOp, RawAggregate, RawExpr, RawHaving, RawQuery, RawSortKey, ScalarExpr, ScalarNode,
};
use crate::pg::compat;
use crate::pg::nodes::{self, has_tag, strip_relabel};
use crate::pg::types::Builtin;

/// The relations whose columns an upper query may use, each with its
/// range-table index: column indexes run on from one relation to the next
/// (a join's outer side's columns, then its inner side's).
#[derive(Clone, Copy)]
pub struct Rels<'a>(pub &'a [(u32, &'a [ClassifyColumn])]);

impl Rels<'_> {
    /// The index of column `attnum` of relation `varno`.
    fn index(&self, varno: u32, attnum: i16) -> Option<usize> {
        let mut offset = 0;
        for (v, cols) in self.0 {
            if *v == varno {
                return cols.iter().position(|c| c.attnum == attnum).map(|i| offset + i);
            }
            offset += cols.len();
        }
        None
    }
}

/// Describe the query of `root` over the relations `rels` (one base
/// relation, or the two sides of a pushed join).
///
/// # Safety
/// `root` is the planner's; `rels` relations of it.
pub unsafe fn raw_query(root: *mut pg_sys::PlannerInfo, rels: Rels<'_>, all_clauses_pushed: bool) -> RawQuery {
    // SAFETY: reading the planner's Query; each cast follows a node tag or
    // the List's documented element type.
    unsafe {
        let parse = (*root).parse;
        let entries = nodes::ptrs::<pg_sys::TargetEntry>((*parse).targetList);
        let targets = entries.iter().map(|te| expr(rels, (**te).expr as *mut pg_sys::Node)).collect();
        let types = entries
            .iter()
            .map(|te| {
                let e = (**te).expr as *mut pg_sys::Node;
                (pg_sys::exprType(e).to_u32(), pg_sys::exprTypmod(e))
            })
            .collect();
        let index_of_ref = |sortgroupref: u32| entries.iter().position(|te| (**te).ressortgroupref == sortgroupref);
        let mut group_by = Vec::new();
        let mut group_ok = true;
        for clause in nodes::ptrs::<pg_sys::SortGroupClause>((*parse).groupClause) {
            match index_of_ref((*clause).tleSortGroupRef) {
                // Grouping under a nondeterministic collation puts values
                // that differ in bytes into one group: nowhere but Postgres.
                Some(i) if bytewise_equality(pg_sys::exprCollation((*entries[i]).expr as *mut pg_sys::Node)) => {
                    group_by.push(i)
                }
                _ => group_ok = false,
            }
        }
        // count(DISTINCT x) and the like, likewise (in the SELECT list or HAVING).
        let flags = (pg_sys::PVC_INCLUDE_AGGREGATES | pg_sys::PVC_RECURSE_WINDOWFUNCS | pg_sys::PVC_RECURSE_PLACEHOLDERS) as i32;
        for node in [(*parse).targetList as *mut pg_sys::Node, (*parse).havingQual] {
            let found = nodes::nodes(pg_sys::pull_var_clause(node, flags));
            if found.into_iter().any(|n| {
                has_tag(n, pg_sys::NodeTag::T_Aggref) && !bytewise_equality((*(n as *mut pg_sys::Aggref)).inputcollid)
            }) {
                group_ok = false;
            }
        }
        let mut sort = Vec::new();
        for clause in nodes::ptrs::<pg_sys::SortGroupClause>((*parse).sortClause) {
            let Some(target) = index_of_ref((*clause).tleSortGroupRef) else {
                group_ok = false;
                continue;
            };
            let (descending, default_ordering) = ordering((*clause).sortop, entries[target]);
            let coll = pg_sys::exprCollation((*entries[target]).expr as *mut pg_sys::Node);
            let bytewise = coll == pg_sys::C_COLLATION_OID || coll == compat::POSIX_COLLATION_OID;
            sort.push(RawSortKey { target, descending, nulls_first: (*clause).nulls_first, default_ordering, bytewise });
        }
        let with_ties = (*parse).limitOption == pg_sys::LimitOption::LIMIT_OPTION_WITH_TIES;
        RawQuery {
            targets,
            group_by,
            has_grouping_sets: !(*parse).groupingSets.is_null() || !group_ok,
            has_having: !(*parse).havingQual.is_null(),
            having: having(rels, (*parse).havingQual),
            has_distinct: !(*parse).distinctClause.is_null(),
            has_window_functions: (*parse).hasWindowFuncs,
            sort,
            limit: constant((*parse).limitCount, with_ties),
            offset: constant((*parse).limitOffset, false),
            all_clauses_pushed,
            types,
        }
    }
}

/// The HAVING clauses as comparisons of an aggregate (or grouped column)
/// with a constant; None when one is anything else. The planner has made
/// `havingQual` an implicitly ANDed list by the time upper paths are built.
unsafe fn having(rels: Rels<'_>, qual: *mut pg_sys::Node) -> Option<Vec<RawHaving>> {
    if qual.is_null() {
        return Some(Vec::new());
    }
    // SAFETY: each cast follows the node's tag.
    unsafe {
        let clauses = if has_tag(qual, pg_sys::NodeTag::T_List) {
            nodes::nodes(qual as *mut pg_sys::List)
        } else {
            vec![qual]
        };
        let mut out = Vec::with_capacity(clauses.len());
        for clause in clauses {
            if has_tag(clause, pg_sys::NodeTag::T_BoolExpr)
                && (*(clause as *mut pg_sys::BoolExpr)).boolop == pg_sys::BoolExprType::AND_EXPR
            {
                out.extend(having(rels, (*(clause as *mut pg_sys::BoolExpr)).args as *mut pg_sys::Node)?);
                continue;
            }
            out.push(having_clause(rels, clause)?);
        }
        Some(out)
    }
}

unsafe fn having_clause(rels: Rels<'_>, clause: *mut pg_sys::Node) -> Option<RawHaving> {
    // SAFETY: each cast follows the node's tag.
    unsafe {
        if !has_tag(clause, pg_sys::NodeTag::T_OpExpr) {
            return None;
        }
        let op = clause as *mut pg_sys::OpExpr;
        let args = nodes::nodes((*op).args);
        if args.len() != 2 {
            return None;
        }
        let is_const = |n: *mut pg_sys::Node| has_tag(strip_relabel(n), pg_sys::NodeTag::T_Const);
        let (left, constant, commuted) = match (is_const(args[0]), is_const(args[1])) {
            (false, true) => (args[0], args[1], false),
            (true, false) => (args[1], args[0], true),
            _ => return None,
        };
        let left_ty = Builtin::from_oid(pg_sys::exprType(left));
        let const_ty = pg_sys::exprType(constant);
        if !comparable(left_ty, Builtin::from_oid(const_ty)) {
            return None;
        }
        let mut cmp = CmpOp::from_btree_strategy(compat::btree_strategy((*op).opno)?, compat::NOT_EQUAL_STRATEGY)?;
        if commuted {
            cmp = cmp.commute();
        }
        // Text ranges follow the collation in Postgres, bytes elsewhere.
        if cmp.is_range() && left_ty.is_some_and(Builtin::is_text) {
            let coll = (*op).inputcollid;
            if coll != pg_sys::C_COLLATION_OID && coll != compat::POSIX_COLLATION_OID {
                return None;
            }
        }
        let left = match expr(rels, left) {
            e @ (RawExpr::Aggregate(_) | RawExpr::Column(_)) => e,
            _ => return None,
        };
        let c = strip_relabel(constant) as *mut pg_sys::Const;
        let value = if (*c).constisnull {
            Value::Null
        } else {
            super::params::datum_to_value((*c).constvalue, SlotType { type_oid: const_ty.to_u32(), is_array: false })?
        };
        Some(RawHaving { left, op: cmp, value })
    }
}

/// None: absent (or NULL, which means no limit); Some(None): not a usable constant.
unsafe fn constant(node: *mut pg_sys::Node, refuse: bool) -> Option<Option<i64>> {
    if node.is_null() {
        return None;
    }
    // SAFETY: a Const node's value is an int8 datum for LIMIT/OFFSET.
    unsafe {
        let node = strip_relabel(node);
        if refuse || !has_tag(node, pg_sys::NodeTag::T_Const) {
            return Some(None);
        }
        let c = node as *mut pg_sys::Const;
        if (*c).constisnull {
            return None;
        }
        if (*c).consttype != pg_sys::INT8OID {
            return Some(None);
        }
        Some(Some((*c).constvalue.value() as i64))
    }
}

/// (descending, is the type's default btree ordering) of a sort operator.
unsafe fn ordering(sortop: pg_sys::Oid, te: *mut pg_sys::TargetEntry) -> (bool, bool) {
    // SAFETY: lsyscache lookups on the backend thread.
    unsafe {
        let Some((family, _, strategy)) = crate::pg::compat::ordering_op_properties(sortop) else {
            return (false, false);
        };
        let expr_type = pg_sys::exprType((*te).expr as *mut pg_sys::Node);
        let opclass = pg_sys::GetDefaultOpClass(expr_type, pg_sys::BTREE_AM_OID);
        let default = opclass != pg_sys::Oid::INVALID && pg_sys::get_opclass_family(opclass) == family;
        (strategy as u32 == pg_sys::BTGreaterStrategyNumber, default)
    }
}

unsafe fn expr(rels: Rels<'_>, node: *mut pg_sys::Node) -> RawExpr {
    // SAFETY: each cast follows the node's tag.
    unsafe {
        let node = strip_relabel(node);
        if node.is_null() {
            return RawExpr::Other;
        }
        let column_of = |n: *mut pg_sys::Node| -> Option<(usize, Option<Builtin>)> {
            let n = super::casts::strip_exact_casts(n);
            if !has_tag(n, pg_sys::NodeTag::T_Var) {
                return None;
            }
            let var = n as *mut pg_sys::Var;
            if (*var).varlevelsup != 0 || (*var).varattno <= 0 {
                return None;
            }
            Some((rels.index((*var).varno as u32, (*var).varattno)?, Builtin::from_oid((*var).vartype)))
        };
        if let Some(e) = super::date_expr::date_expr(node, &column_of) {
            return RawExpr::Date(e);
        }
        if let Some(e) = super::arith_expr::arith_expr(node, &column_of) {
            return RawExpr::Arith(e);
        }
        // `x::bigint` groups, orders and aggregates as `x` (the scan reads
        // the value into the cast's type).
        let node = super::casts::strip_exact_casts(node);
        match (*node).type_ {
            pg_sys::NodeTag::T_Var => {
                let var = node as *mut pg_sys::Var;
                if (*var).varlevelsup != 0 || (*var).varattno <= 0 {
                    return RawExpr::Other;
                }
                match rels.index((*var).varno as u32, (*var).varattno) {
                    Some(i) => RawExpr::Column(i),
                    None => RawExpr::Other,
                }
            }
            pg_sys::NodeTag::T_Const => match scalar(rels, node) {
                Some(e) => RawExpr::Scalar(e),
                None => RawExpr::Const,
            },
            pg_sys::NodeTag::T_OpExpr | pg_sys::NodeTag::T_FuncExpr => match scalar(rels, node) {
                Some(e) => RawExpr::Scalar(e),
                None => RawExpr::Other,
            },
            pg_sys::NodeTag::T_Aggref => {
                let agg = node as *mut pg_sys::Aggref;
                let name_ptr = pg_sys::get_func_name((*agg).aggfnoid);
                let name = if name_ptr.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(name_ptr).to_string_lossy().into_owned()
                };
                let args = nodes::ptrs::<pg_sys::TargetEntry>((*agg).args)
                    .into_iter()
                    .map(|te| aggregate_arg(rels, (*te).expr as *mut pg_sys::Node))
                    .collect();
                RawExpr::Aggregate(RawAggregate {
                    name,
                    builtin: pg_sys::get_func_namespace((*agg).aggfnoid) == pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE),
                    star: (*agg).aggstar,
                    args,
                    distinct: !(*agg).aggdistinct.is_null(),
                    filter_or_order: !(*agg).aggfilter.is_null()
                        || !(*agg).aggorder.is_null()
                        // AGGKIND_NORMAL: not an ordered-set or hypothetical-set aggregate.
                        || (*agg).aggkind != b'n' as std::ffi::c_char
                        || (*agg).agglevelsup != 0,
                })
            }
            _ => RawExpr::Other,
        }
    }
}

/// An aggregate's argument: arithmetic as a typed [`ScalarExpr`] (its
/// aggregate is computed from Postgres' operand types), where it is one.
unsafe fn aggregate_arg(rels: Rels<'_>, node: *mut pg_sys::Node) -> RawExpr {
    // SAFETY: as for expr.
    unsafe {
        match expr(rels, node) {
            RawExpr::Arith(a) => scalar(rels, node).map_or(RawExpr::Arith(a), RawExpr::Scalar),
            e => e,
        }
    }
}

const INT2: u32 = 21;
const INT4: u32 = 23;
const INT8: u32 = 20;
const NUMERIC: u32 = 1700;

/// Bytes of an integer type (0: not one).
fn int_width(type_oid: u32) -> u8 {
    match type_oid {
        INT2 => 2,
        INT4 => 4,
        INT8 => 8,
        _ => 0,
    }
}

/// Integer or numeric arithmetic over the relation's columns, built only
/// from built-in operators and casts whose result is computed exactly as
/// `ScalarExpr` describes (None: anything else).
unsafe fn scalar(rels: Rels<'_>, node: *mut pg_sys::Node) -> Option<ScalarExpr> {
    // Objects below this OID come with Postgres (initdb's catalog).
    const FIRST_NORMAL_OBJECT_ID: u32 = 16384;
    // SAFETY: each cast follows the node's tag; lsyscache lookups on the backend thread.
    unsafe {
        let node = strip_relabel(node);
        if node.is_null() {
            return None;
        }
        let type_oid = pg_sys::exprType(node).to_u32();
        if int_width(type_oid) == 0 && type_oid != NUMERIC {
            return None;
        }
        let node = match (*node).type_ {
            pg_sys::NodeTag::T_Var => match expr(rels, node) {
                RawExpr::Column(c) => ScalarNode::Column(c),
                _ => return None,
            },
            pg_sys::NodeTag::T_Const => {
                let c = node as *mut pg_sys::Const;
                if (*c).constisnull {
                    return None;
                }
                match type_oid {
                    INT2 => ScalarNode::Int((*c).constvalue.value() as i16 as i64),
                    INT4 => ScalarNode::Int((*c).constvalue.value() as i32 as i64),
                    INT8 => ScalarNode::Int((*c).constvalue.value() as i64),
                    _ => {
                        let (mut out_fn, mut varlena) = (pg_sys::Oid::INVALID, false);
                        pg_sys::getTypeOutputInfo(pg_sys::NUMERICOID, &mut out_fn, &mut varlena);
                        let text = pg_sys::OidOutputFunctionCall(out_fn, (*c).constvalue);
                        let (unscaled, scale) = parse_decimal(CStr::from_ptr(text).to_str().ok()?)?;
                        ScalarNode::Decimal { unscaled, scale }
                    }
                }
            }
            pg_sys::NodeTag::T_OpExpr => {
                let op = node as *mut pg_sys::OpExpr;
                let args = nodes::nodes((*op).args);
                if (*op).opno.to_u32() >= FIRST_NORMAL_OBJECT_ID || args.len() != 2 {
                    return None;
                }
                let name_ptr = pg_sys::get_opname((*op).opno);
                if name_ptr.is_null() {
                    return None;
                }
                let op = match CStr::from_ptr(name_ptr).to_bytes() {
                    b"+" => ArithOp::Add,
                    b"-" => ArithOp::Sub,
                    b"*" => ArithOp::Mul,
                    _ => return None,
                };
                let left = scalar(rels, args[0])?;
                let right = scalar(rels, args[1])?;
                // Integer operators compute in their result type (int24pl is
                // int4 arithmetic, int48mul int8); numeric ones take numerics.
                let fits = |e: &ScalarExpr| {
                    if type_oid == NUMERIC {
                        e.type_oid == NUMERIC
                    } else {
                        int_width(e.type_oid) != 0 && int_width(e.type_oid) <= int_width(type_oid)
                    }
                };
                if !fits(&left) || !fits(&right) {
                    return None;
                }
                ScalarNode::Arith { op, left: Box::new(left), right: Box::new(right) }
            }
            pg_sys::NodeTag::T_FuncExpr => {
                let f = node as *mut pg_sys::FuncExpr;
                let args = nodes::nodes((*f).args);
                let cast = matches!(
                    (*f).funcformat,
                    pg_sys::CoercionForm::COERCE_IMPLICIT_CAST | pg_sys::CoercionForm::COERCE_EXPLICIT_CAST
                );
                if !cast || (*f).funcid.to_u32() >= FIRST_NORMAL_OBJECT_ID || args.len() != 1 {
                    return None;
                }
                let arg = scalar(rels, args[0])?;
                // Widening only: int to a wider int or to numeric (exact, never fails).
                let arg_width = int_width(arg.type_oid);
                let widens = arg_width != 0 && (type_oid == NUMERIC || arg_width < int_width(type_oid));
                if !widens {
                    return None;
                }
                ScalarNode::Cast(Box::new(arg))
            }
            _ => return None,
        };
        Some(ScalarExpr { type_oid, node })
    }
}

/// numeric_out's text as unscaled digits and display scale (None: NaN,
/// infinities, or more than 38 digits).
fn parse_decimal(text: &str) -> Option<(i128, i8)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let (negative, int) = match int.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, int),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if int.len() + frac.len() > 38 {
        return None;
    }
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    Some((if negative { -digits } else { digits }, i8::try_from(frac.len()).ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_constants() {
        assert_eq!(super::parse_decimal("1"), Some((1, 0)));
        assert_eq!(super::parse_decimal("-0.050"), Some((-50, 3)));
        assert_eq!(super::parse_decimal("12.34"), Some((1234, 2)));
        assert_eq!(super::parse_decimal("NaN"), None);
        assert_eq!(super::parse_decimal("Infinity"), None);
        assert_eq!(super::parse_decimal(&"9".repeat(39)), None);
    }
}
