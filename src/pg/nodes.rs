//! Walking Postgres node trees: List cells, bitmapset members, node tags,
//! String nodes, sublink queries. The one place townlake reads `List` and
//! `Bitmapset` internals; callers get Rust vectors.

use std::ffi::{c_void, CStr};

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

/// The expression under any RelabelType (binary-compatible casts), but not
/// under one that changes the collation to a linguistic one (an explicit
/// `COLLATE "und-x-icu"`, which the planner turns into a RelabelType):
/// ordering follows it, so the expression is no longer the plain column. A
/// relabel to "C" or "POSIX" is stripped: byte order is what every pushdown
/// assumes at most, and callers that need it check the collation they see.
///
/// # Safety
/// `node` is NULL or points to an expression node.
pub unsafe fn strip_relabel(mut node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    const POSIX_COLLATION_OID: u32 = 951;
    // SAFETY: RelabelType's arg is an expression node.
    unsafe {
        while has_tag(node, pg_sys::NodeTag::T_RelabelType) {
            let relabel = node as *mut pg_sys::RelabelType;
            let arg = (*relabel).arg as *mut pg_sys::Node;
            let to = (*relabel).resultcollid;
            let bytewise = to == pg_sys::C_COLLATION_OID || to.to_u32() == POSIX_COLLATION_OID;
            if to != pg_sys::exprCollation(arg) && !bytewise {
                break;
            }
            node = arg;
        }
    }
    node
}

/// The pointer cells of a Postgres List (empty for NIL).
///
/// # Safety
/// `list` is NIL or a valid pointer List.
pub unsafe fn list_pointers(list: *mut pg_sys::List) -> Vec<*mut c_void> {
    // SAFETY: as the caller vouches.
    unsafe { ptrs::<c_void>(list) }
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

/// What a utility statement does to existing relations, as far as a part
/// that mirrors DDL elsewhere (an Iceberg schema, a catalog row) cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UtilityTarget {
    /// ALTER TABLE / ALTER FOREIGN TABLE, or RENAME COLUMN, of this relation.
    AlterColumns(pg_sys::Oid),
    /// DROP FOREIGN TABLE of these relations (those that exist).
    DropForeignTables(Vec<pg_sys::Oid>),
    Other,
}

/// Describe utility statement `node` (NULL: `Other`). Relations are looked
/// up without a lock; missing ones are left out.
///
/// # Safety
/// `node` is NULL or a utility statement node.
pub unsafe fn utility_target(node: *mut pg_sys::Node) -> UtilityTarget {
    let table_like =
        |t: pg_sys::ObjectType::Type| matches!(t, pg_sys::ObjectType::OBJECT_FOREIGN_TABLE | pg_sys::ObjectType::OBJECT_TABLE);
    // SAFETY: each cast follows the node's tag; the lookups only read catalogs.
    unsafe {
        if node.is_null() {
            return UtilityTarget::Other;
        }
        match (*node).type_ {
            pg_sys::NodeTag::T_AlterTableStmt => {
                let stmt = node as *mut pg_sys::AlterTableStmt;
                if !table_like((*stmt).objtype) {
                    return UtilityTarget::Other;
                }
                relid_of((*stmt).relation).map_or(UtilityTarget::Other, UtilityTarget::AlterColumns)
            }
            pg_sys::NodeTag::T_RenameStmt => {
                let stmt = node as *mut pg_sys::RenameStmt;
                if (*stmt).renameType != pg_sys::ObjectType::OBJECT_COLUMN || !table_like((*stmt).relationType) {
                    return UtilityTarget::Other;
                }
                relid_of((*stmt).relation).map_or(UtilityTarget::Other, UtilityTarget::AlterColumns)
            }
            pg_sys::NodeTag::T_DropStmt => {
                let stmt = node as *mut pg_sys::DropStmt;
                if (*stmt).removeType != pg_sys::ObjectType::OBJECT_FOREIGN_TABLE {
                    return UtilityTarget::Other;
                }
                let relids = ptrs::<pg_sys::List>((*stmt).objects)
                    .into_iter()
                    .filter_map(|names| relid_of(pg_sys::makeRangeVarFromNameList(names)))
                    .collect();
                UtilityTarget::DropForeignTables(relids)
            }
            _ => UtilityTarget::Other,
        }
    }
}

/// The relation a RangeVar names, if it exists (no lock taken).
///
/// # Safety
/// `rv` is a valid RangeVar.
pub(super) unsafe fn relid_of(rv: *mut pg_sys::RangeVar) -> Option<pg_sys::Oid> {
    // SAFETY: RVR_MISSING_OK returns InvalidOid instead of raising.
    let oid = unsafe {
        pg_sys::RangeVarGetRelidExtended(rv, pg_sys::NoLock as i32, pg_sys::RVROption::RVR_MISSING_OK, None, std::ptr::null_mut())
    };
    (oid != pg_sys::Oid::INVALID).then_some(oid)
}

/// The name of a built-in operator (None for one a user created): names
/// alone say nothing of a user's `+` or `~~`, which may run any function.
///
/// # Safety
/// A syscache lookup: on a backend thread.
pub unsafe fn builtin_operator_name(opno: pg_sys::Oid) -> Option<String> {
    if opno.to_u32() >= pg_sys::FirstNormalObjectId {
        return None;
    }
    // SAFETY: get_opname returns NULL or a palloc'd name.
    unsafe {
        let name = pg_sys::get_opname(opno);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}
