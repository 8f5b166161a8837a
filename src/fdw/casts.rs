//! Casts a pushed expression may look through.

use pgrx::pg_sys;

use crate::pg::nodes::{self, has_tag, strip_relabel};

/// `node` without the casts that keep every value, its equality and its
/// order (int2 → int4 → int8, integers → numeric, date → timestamp at
/// midnight): comparing, grouping or ordering `x::bigint` is doing so on
/// `x`. A wrapper reads the value into the cast's type (see upper paths'
/// output types).
///
/// # Safety
/// `node` is NULL or a planner expression node.
pub unsafe fn strip_exact_casts(node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    const EXACT: [u32; 7] = [
        pg_sys::F_INT4_INT2,
        pg_sys::F_INT8_INT2,
        pg_sys::F_INT8_INT4,
        pg_sys::F_NUMERIC_INT2,
        pg_sys::F_NUMERIC_INT4,
        pg_sys::F_NUMERIC_INT8,
        pg_sys::F_TIMESTAMP_DATE,
    ];
    // SAFETY: each cast follows the node's tag.
    unsafe {
        let mut node = strip_relabel(node);
        while has_tag(node, pg_sys::NodeTag::T_FuncExpr) {
            let f = node as *mut pg_sys::FuncExpr;
            let args = nodes::nodes((*f).args);
            match args.as_slice() {
                [arg] if EXACT.contains(&(*f).funcid.to_u32()) => node = strip_relabel(*arg),
                _ => break,
            }
        }
        node
    }
}
