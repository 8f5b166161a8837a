//! Recognising integer `+`, `-` and `*` of columns and constants in
//! Postgres' expression trees (see [`ArithExpr`]).


use pgrx::pg_sys;

use super::date_expr::ColumnOf;
use super::filter::{ArithExpr, ArithOp, ArithTerm};
use crate::pg::nodes::{self, has_tag, strip_relabel};
use crate::pg::types::Builtin;

fn int_bits(ty: Option<Builtin>) -> Option<u8> {
    match ty? {
        Builtin::Int2 => Some(16),
        Builtin::Int4 => Some(32),
        Builtin::Int8 => Some(64),
        _ => None,
    }
}

/// The [`ArithExpr`] `node` is, when it is one: a built-in integer
/// operator (`int4pl`, `int48mul`, ...) over an integer column and an
/// integer column or constant.
///
/// # Safety
/// `node` is NULL or a planner expression node.
pub unsafe fn arith_expr(node: *mut pg_sys::Node, column_of: ColumnOf<'_>) -> Option<ArithExpr> {
    // SAFETY: each cast follows the node's tag; integer Consts hold their value by value.
    unsafe {
        // `(a - b)::numeric`, as Postgres compares `a - b >= 2.5`: the same number.
        let node = super::casts::strip_exact_casts(node);
        if node.is_null() || !has_tag(node, pg_sys::NodeTag::T_OpExpr) {
            return None;
        }
        let op = node as *mut pg_sys::OpExpr;
        let result_bits = int_bits(Builtin::from_oid((*op).opresulttype))?;
        // Built-in operators only: a user's `+` may mean anything, even when
        // it calls a built-in function (`int4mi`).
        let name = crate::pg::nodes::builtin_operator_name((*op).opno)?;
        let op_kind = match name.as_str() {
            "+" => ArithOp::Add,
            "-" => ArithOp::Sub,
            "*" => ArithOp::Mul,
            _ => return None,
        };
        let args = nodes::nodes((*op).args);
        let [a, b] = args.as_slice() else { return None };
        let term = |n: *mut pg_sys::Node| -> Option<ArithTerm> {
            if let Some((column, ty)) = column_of(n) {
                return int_bits(ty).map(|_| ArithTerm::Column(column));
            }
            let n = strip_relabel(n);
            if !has_tag(n, pg_sys::NodeTag::T_Const) {
                return None;
            }
            let c = n as *mut pg_sys::Const;
            let bits = int_bits(Builtin::from_oid((*c).consttype))?;
            if (*c).constisnull {
                return None;
            }
            let raw = (*c).constvalue.value() as i64;
            Some(ArithTerm::Const(match bits {
                16 => raw as i16 as i64,
                32 => raw as i32 as i64,
                _ => raw,
            }))
        };
        let (left, right) = (term(*a)?, term(*b)?);
        if matches!((left, right), (ArithTerm::Const(_), ArithTerm::Const(_))) {
            return None;
        }
        Some(ArithExpr { op: op_kind, left, right, result_bits })
    }
}
