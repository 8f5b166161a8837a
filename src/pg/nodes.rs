//! Walking Postgres node trees: Lists, node tags, String nodes.

use std::ffi::{c_void, CStr};

use pgrx::pg_sys;

/// The pointer cells of a Postgres List (empty for NIL).
///
/// # Safety
/// `list` is NIL or a valid pointer List.
pub unsafe fn list_pointers(list: *mut pg_sys::List) -> Vec<*mut c_void> {
    if list.is_null() {
        return Vec::new();
    }
    let n = (*list).length as usize;
    (0..n).map(|i| (*(*list).elements.add(i)).ptr_value).collect()
}

/// The tag of a node (`T_Invalid` for null).
///
/// # Safety
/// `node` is null or points to a Node.
pub unsafe fn node_tag(node: *mut c_void) -> pg_sys::NodeTag {
    if node.is_null() {
        pg_sys::NodeTag::T_Invalid
    } else {
        (*(node as *mut pg_sys::Node)).type_
    }
}

/// The text of a String node (None for any other node).
///
/// # Safety
/// `node` is null or points to a Node.
pub unsafe fn string_value(node: *mut c_void) -> Option<String> {
    if node_tag(node) != pg_sys::NodeTag::T_String {
        return None;
    }
    let s = (*(node as *mut pg_sys::String)).sval;
    (!s.is_null()).then(|| CStr::from_ptr(s).to_string_lossy().into_owned())
}

/// Calls `f` with each sublink query in the expressions of `query` (its own
/// level: range-table and CTE subqueries, which the caller walks itself, and
/// join aliases are skipped). `f` decides whether to descend further.
///
/// # Safety
/// `query` is a valid Query; `f` must not free nodes of the tree.
pub unsafe fn for_each_sublink_query(query: *mut pg_sys::Query, f: &mut dyn FnMut(*mut pg_sys::Query)) {
    let flags =
        (pg_sys::QTW_IGNORE_RT_SUBQUERIES | pg_sys::QTW_IGNORE_CTE_SUBQUERIES | pg_sys::QTW_IGNORE_JOINALIASES) as i32;
    let mut f = f;
    let context = &raw mut f as *mut c_void;
    pg_sys::query_tree_walker(query, Some(sublink_walker), context, flags);
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn sublink_walker(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    if (*node).type_ == pg_sys::NodeTag::T_Query {
        // SAFETY: `context` is the `&mut dyn FnMut` of for_each_sublink_query,
        // alive for the whole walk.
        let f = &mut *(context as *mut &mut dyn FnMut(*mut pg_sys::Query));
        f(node as *mut pg_sys::Query);
        return false;
    }
    pg_sys::expression_tree_walker(node, Some(sublink_walker), context)
}
