//! Walking Postgres node trees: List cells, bitmapset members, node tags.
//! The one place townlake reads `List` and `Bitmapset` internals; callers
//! get Rust vectors.

use pgrx::pg_sys;
use pgrx::PgList;

pub use pgrx::is_a;

/// The pointer cells of a `List *` (NIL: none), cast to `T`.
///
/// # Safety
/// `list` is NIL or a valid pointer List whose cells point to `T`s.
pub unsafe fn ptrs<T>(list: *mut pg_sys::List) -> Vec<*mut T> {
    // SAFETY: the caller vouches for the list; PgList only reads it.
    unsafe { PgList::<T>::from_pg(list).iter_ptr().collect() }
}

/// The cells of a `List *` of nodes.
///
/// # Safety
/// As for [`ptrs`].
pub unsafe fn nodes(list: *mut pg_sys::List) -> Vec<*mut pg_sys::Node> {
    // SAFETY: as the caller vouches.
    unsafe { ptrs::<pg_sys::Node>(list) }
}

/// A List of the given pointers, allocated in the current memory context.
///
/// # Safety
/// The pointers must stay valid as long as the List is used.
pub unsafe fn list_of<T>(items: impl IntoIterator<Item = *mut T>) -> *mut pg_sys::List {
    let mut list = PgList::<T>::new();
    for item in items {
        list.push(item);
    }
    list.into_pg()
}

/// The members of a bitmapset, ascending.
///
/// # Safety
/// `set` is NULL (the empty set) or a valid Bitmapset.
pub unsafe fn members(set: *const pg_sys::Bitmapset) -> Vec<i32> {
    let mut out = Vec::new();
    let mut member = -1;
    loop {
        // SAFETY: bms_next_member only reads the set; -2 ends the walk.
        member = unsafe { pg_sys::bms_next_member(set, member) };
        if member < 0 {
            return out;
        }
        out.push(member);
    }
}

/// Whether `node` is non-NULL and has tag `tag`.
///
/// # Safety
/// `node` is NULL or points to a Node.
pub unsafe fn has_tag(node: *mut pg_sys::Node, tag: pg_sys::NodeTag) -> bool {
    // SAFETY: is_a reads the tag of a non-NULL node only.
    !node.is_null() && unsafe { is_a(node, tag) }
}

/// The expression under any RelabelType (binary-compatible casts).
///
/// # Safety
/// `node` is NULL or points to an expression node.
pub unsafe fn strip_relabel(mut node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    // SAFETY: RelabelType's arg is an expression node.
    unsafe {
        while has_tag(node, pg_sys::NodeTag::T_RelabelType) {
            node = (*(node as *mut pg_sys::RelabelType)).arg as *mut pg_sys::Node;
        }
    }
    node
}
