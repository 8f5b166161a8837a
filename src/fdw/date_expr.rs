//! Recognising `date_trunc(unit, x)` and `extract(field FROM x)` of a
//! column in Postgres' expression trees (see [`DateExpr`] for which).

use std::ffi::CStr;

use pgrx::pg_sys;

use super::filter::{DateExpr, DateFunc, DatePart, TruncUnit};
use crate::pg::nodes::{self, has_tag, strip_relabel};
use crate::pg::types::Builtin;

/// Which column (index, type) a node is, if it is a plain column.
pub type ColumnOf<'a> = &'a dyn Fn(*mut pg_sys::Node) -> Option<(usize, Option<Builtin>)>;

/// The [`DateExpr`] `node` is, when it is one.
///
/// # Safety
/// `node` is NULL or a planner expression node.
pub unsafe fn date_expr(node: *mut pg_sys::Node, column_of: ColumnOf<'_>) -> Option<DateExpr> {
    // SAFETY: each cast follows the node's tag; a text Const's datum is a varlena.
    unsafe {
        let node = strip_relabel(node);
        if node.is_null() || !has_tag(node, pg_sys::NodeTag::T_FuncExpr) {
            return None;
        }
        let f = node as *mut pg_sys::FuncExpr;
        let args = nodes::nodes((*f).args);
        let [name, arg] = args.as_slice() else { return None };
        let name = const_text(*name)?;
        let id = (*f).funcid;
        if id == pg_sys::Oid::from(pg_sys::F_DATE_TRUNC_TEXT_TIMESTAMP) {
            let column = timestamp_column(*arg, column_of)?;
            Some(DateExpr { func: DateFunc::Trunc(TruncUnit::parse(&name)?), column })
        } else if id == pg_sys::Oid::from(pg_sys::F_EXTRACT_TEXT_TIMESTAMP) {
            let column = timestamp_column(*arg, column_of)?;
            Some(DateExpr { func: DateFunc::Part(DatePart::parse(&name, false)?), column })
        } else if id == pg_sys::Oid::from(pg_sys::F_EXTRACT_TEXT_DATE) {
            let (column, ty) = column_of(*arg)?;
            (ty == Some(Builtin::Date)).then_some(())?;
            Some(DateExpr { func: DateFunc::Part(DatePart::parse(&name, true)?), column })
        } else {
            None
        }
    }
}

/// A `timestamp` column, or a `date` column cast to timestamp (midnight).
/// `column_of` sees through that cast (see `casts::strip_exact_casts`):
/// an argument of date_trunc's timestamp form that is a date column was cast.
unsafe fn timestamp_column(node: *mut pg_sys::Node, column_of: ColumnOf<'_>) -> Option<usize> {
    let (column, ty) = column_of(node)?;
    matches!(ty, Some(Builtin::Timestamp | Builtin::Date)).then_some(column)
}

/// A non-NULL text constant's value.
unsafe fn const_text(node: *mut pg_sys::Node) -> Option<String> {
    // SAFETY: as for date_expr.
    unsafe {
        let node = strip_relabel(node);
        if !has_tag(node, pg_sys::NodeTag::T_Const) {
            return None;
        }
        let c = node as *mut pg_sys::Const;
        if (*c).constisnull || (*c).consttype != pg_sys::TEXTOID {
            return None;
        }
        let p = pg_sys::text_to_cstring((*c).constvalue.cast_mut_ptr::<pg_sys::varlena>());
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}
