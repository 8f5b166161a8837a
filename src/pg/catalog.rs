//! Catalog lookups by oid and name (functions, namespaces, extensions,
//! attributes, types, foreign-data wrappers), through Postgres' syscache
//! helpers. Missing objects come back as None, never as an ERROR.

use std::ffi::{c_char, CStr, CString};

use pgrx::pg_sys;

/// A palloc'd C string Postgres returned (NULL: None), copied out.
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
unsafe fn owned_text(p: *const c_char) -> Option<String> {
    // SAFETY: as the caller vouches.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// The name of function `func`.
pub fn function_name(func: pg_sys::Oid) -> Option<String> {
    // SAFETY: syscache lookup; NULL for a missing function.
    unsafe { owned_text(pg_sys::get_func_name(func)) }
}

/// The namespace (schema) of function `func` (InvalidOid if missing).
pub fn function_namespace(func: pg_sys::Oid) -> pg_sys::Oid {
    // SAFETY: syscache lookup.
    unsafe { pg_sys::get_func_namespace(func) }
}

/// The oid of namespace (schema) `name`, if it exists.
pub fn namespace_oid(name: &str) -> Option<pg_sys::Oid> {
    let name = CString::new(name).ok()?;
    // SAFETY: catalog lookup with missing_ok.
    let oid = unsafe { pg_sys::get_namespace_oid(name.as_ptr(), true) };
    (oid != pg_sys::Oid::INVALID).then_some(oid)
}

/// The name of the extension object (`class_id`, `object_id`) belongs to
/// (None: it belongs to none; an empty name if the extension's name cannot
/// be read).
pub fn extension_of(class_id: pg_sys::Oid, object_id: pg_sys::Oid) -> Option<String> {
    // SAFETY: catalog lookups by oid.
    unsafe {
        let ext = pg_sys::getExtensionOfObject(class_id, object_id);
        if ext == pg_sys::Oid::INVALID {
            return None;
        }
        Some(owned_text(pg_sys::get_extension_name(ext)).unwrap_or_default())
    }
}

/// The foreign-data wrapper of foreign table `relid`: its oid and name.
/// ERROR if `relid` is not a foreign table.
pub fn foreign_table_wrapper(relid: pg_sys::Oid) -> (pg_sys::Oid, String) {
    // SAFETY: catalog lookups; each raises an ERROR rather than return NULL.
    unsafe {
        let server = pg_sys::GetForeignServer(pg_sys::GetForeignServerIdByRelId(relid));
        let fdw = pg_sys::GetForeignDataWrapper((*server).fdwid);
        ((*fdw).fdwid, owned_text((*fdw).fdwname).unwrap_or_default())
    }
}

/// The name of relation `relid` (unqualified).
pub fn relation_name(relid: pg_sys::Oid) -> Option<String> {
    // SAFETY: syscache lookup; NULL for a missing relation.
    unsafe { owned_text(pg_sys::get_rel_name(relid)) }
}

/// The schema-qualified name of relation `relid`, quoted as needed.
pub fn qualified_relation_name(relid: pg_sys::Oid) -> Option<String> {
    // SAFETY: syscache lookups (NULL for a missing relation or schema); the
    // quoted name is palloc'd and copied out.
    unsafe {
        let name = pg_sys::get_rel_name(relid);
        let schema = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid));
        if name.is_null() || schema.is_null() {
            return None;
        }
        owned_text(pg_sys::quote_qualified_identifier(schema, name))
    }
}

/// `name` quoted as an SQL identifier where it needs to be.
pub fn quote_identifier(name: &str) -> String {
    let Ok(c) = CString::new(name) else { return format!("\"{}\"", name.replace('"', "\"\"")) };
    // SAFETY: quote_identifier returns its argument or a palloc'd quoted
    // copy; both are read before `c` is dropped.
    unsafe { owned_text(pg_sys::quote_identifier(c.as_ptr())) }.unwrap_or_default()
}

/// The relkind of relation `rel` (`r` table, `m` materialized view ...; 0
/// for a missing relation).
pub fn relation_kind(rel: pg_sys::Oid) -> u8 {
    // SAFETY: syscache lookup; '\0' for a missing relation.
    unsafe { pg_sys::get_rel_relkind(rel) as u8 }
}

/// The columns `COPY rel TO` writes when it is given no column list: every
/// attribute not dropped and not generated, in order. Takes the
/// AccessShareLock the COPY itself takes next.
pub fn copy_columns(rel: pg_sys::Oid) -> Vec<String> {
    // SAFETY: an existing relation's oid (the statement resolved it); the
    // lock is held to the end of the transaction, as COPY holds it.
    let rel = unsafe { pgrx::PgRelation::with_lock(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    let desc = rel.tuple_desc();
    desc.iter()
        .filter(|a| !a.is_dropped() && a.attgenerated == 0)
        .map(|a| a.name().to_string())
        .collect()
}

/// Whether relation `rel` has a generated column named `name`.
pub fn is_generated_column(rel: pg_sys::Oid, name: &str) -> bool {
    let Ok(c) = CString::new(name) else { return false };
    // SAFETY: syscache lookups; get_attgenerated is asked only for an
    // attribute get_attnum found.
    unsafe {
        let attnum = pg_sys::get_attnum(rel, c.as_ptr());
        attnum > 0 && pg_sys::get_attgenerated(rel, attnum) != 0
    }
}

/// The name of attribute `attnum` of relation `rel` (None: no such attribute).
pub fn attribute_name(rel: pg_sys::Oid, attnum: i16) -> Option<String> {
    // SAFETY: syscache lookup with missing_ok.
    unsafe { owned_text(pg_sys::get_attname(rel, attnum, true)) }
}

/// The name of role `oid` (None: no such role, e.g. dropped meanwhile).
pub fn role_name(oid: pg_sys::Oid) -> Option<String> {
    // SAFETY: syscache lookup; noerr returns NULL for a missing role.
    unsafe { owned_text(pg_sys::GetUserNameFromId(oid, true)) }
}

/// The attribute of relation `to` that has the name of attribute `attnum`
/// of relation `from` (None: no such attribute, or a system column).
pub fn same_name_attnum(from: pg_sys::Oid, attnum: i16, to: pg_sys::Oid) -> Option<i16> {
    // SAFETY: syscache lookups; get_attname with missing_ok returns NULL.
    unsafe {
        let name = pg_sys::get_attname(from, attnum, true);
        if name.is_null() {
            return None;
        }
        let found = pg_sys::get_attnum(to, name);
        (found > 0).then_some(found)
    }
}

/// The root of the partition tree `rel` is a partition of (None: `rel` is
/// not a partition).
pub fn partition_root(rel: pg_sys::Oid) -> Option<pg_sys::Oid> {
    let mut root = None;
    let mut current = rel;
    // SAFETY: syscache lookups; get_partition_parent (catalog/partition.h,
    // not in pgrx's bindings) errors only for a relation that is not a
    // partition, which relispartition rules out, and any ERROR it raises
    // crosses into Rust through pgrx's FFI guard. Bounded: partition trees
    // are finite and acyclic.
    unsafe {
        while pg_sys::get_rel_relispartition(current) {
            current = pg_sys::ffi::pg_guard_ffi_boundary(|| get_partition_parent(current, true));
            root = Some(current);
        }
    }
    root
}

unsafe extern "C-unwind" {
    fn get_partition_parent(relid: pg_sys::Oid, even_if_detached: bool) -> pg_sys::Oid;
}

/// The user attribute of relation `rel` named `name` (None: none).
pub fn attnum(rel: pg_sys::Oid, name: &CStr) -> Option<i16> {
    // SAFETY: syscache lookup with a NUL-terminated name.
    let found = unsafe { pg_sys::get_attnum(rel, name.as_ptr()) };
    (found > 0).then_some(found)
}

/// The name of type `t` as SQL would spell it.
pub fn type_name(t: pg_sys::Oid) -> String {
    // SAFETY: format_type_be returns a palloc'd name (`???` for unknown types).
    unsafe { owned_text(pg_sys::format_type_be(t)).unwrap_or_default() }
}

/// `pg_type.typtype` of type `t` (b: base, c: composite, d: domain, e:
/// enum, p: pseudo, r: range, m: multirange; 0 if missing).
pub fn type_kind(t: pg_sys::Oid) -> u8 {
    // SAFETY: syscache lookup.
    unsafe { pg_sys::get_typtype(t) as u8 }
}

/// The element type of array type `t` (None: not an array).
pub fn element_type(t: pg_sys::Oid) -> Option<pg_sys::Oid> {
    // SAFETY: syscache lookup.
    let elem = unsafe { pg_sys::get_element_type(t) };
    (elem != pg_sys::Oid::INVALID).then_some(elem)
}

/// The output function of a type, for printing values of exactly that type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputFunction {
    type_oid: pg_sys::Oid,
    function: pg_sys::Oid,
}

impl OutputFunction {
    /// Looks up the output function of type `t` (ERROR if the type is missing).
    pub fn of(t: pg_sys::Oid) -> OutputFunction {
        let mut function = pg_sys::Oid::INVALID;
        let mut varlena = false;
        // SAFETY: syscache lookup; out-parameters are locals.
        unsafe { pg_sys::getTypeOutputInfo(t, &mut function, &mut varlena) };
        OutputFunction { type_oid: t, function }
    }

    pub fn type_oid(&self) -> pg_sys::Oid {
        self.type_oid
    }

    pub fn function(&self) -> pg_sys::Oid {
        self.function
    }
}

/// How a column's collation compares text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnCollation {
    /// Orders bytewise: "C", "POSIX", or the database default when the
    /// database's LC_COLLATE is one of them (PostgreSQL 15; later versions
    /// have no such setting and the default counts as not bytewise).
    pub bytewise_order: bool,
    /// Equality is bytewise (not a nondeterministic ICU collation).
    pub deterministic: bool,
}

/// The collation of column `attnum` of `rel`; None when it has none.
pub fn column_collation(rel: pg_sys::Oid, attnum: i16) -> Option<ColumnCollation> {
    const DEFAULT_COLLATION_OID: u32 = 100;
    const C_COLLATION_OID: u32 = 950;
    const POSIX_COLLATION_OID: u32 = 951;
    let (mut typid, mut typmod, mut collid) = (pg_sys::Oid::INVALID, 0, pg_sys::Oid::INVALID);
    // SAFETY: syscache lookup; ERRORs only for a missing attribute, which
    // planning a query over the relation rules out.
    unsafe { pg_sys::get_atttypetypmodcoll(rel, attnum, &mut typid, &mut typmod, &mut collid) };
    if collid == pg_sys::Oid::INVALID {
        return None;
    }
    let bytewise_order = match collid.to_u32() {
        C_COLLATION_OID | POSIX_COLLATION_OID => true,
        DEFAULT_COLLATION_OID => {
            // SAFETY: a GUC lookup by name; NULL when the setting does not exist.
            let value = unsafe { owned_text(pg_sys::GetConfigOption(c"lc_collate".as_ptr(), true, false)) };
            matches!(value.as_deref(), Some("C" | "POSIX"))
        }
        _ => false,
    };
    // SAFETY: syscache lookup of an existing collation.
    let deterministic = unsafe { pg_sys::get_collation_isdeterministic(collid) };
    Some(ColumnCollation { bytewise_order, deterministic })
}
