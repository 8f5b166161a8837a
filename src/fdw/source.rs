//! Where a foreign table's data comes from, as Postgres records it: the
//! table's and columns' options, its server's options, and the user mapping
//! that applies (whose options usually hold credentials).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::CStr;

use pgrx::pg_sys;

use super::options::options_to_map;

/// A foreign server's name and options, with the applicable user mapping's
/// options merged over them.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub name: String,
    pub options: BTreeMap<String, String>,
}

/// Read a server's options and the mapping user's mapping for it.
pub fn server_options(server_oid: pg_sys::Oid) -> ServerOptions {
    // SAFETY: catalog lookups on the backend thread; GetForeignServer errors
    // out itself for an unknown oid.
    unsafe {
        let server = pg_sys::GetForeignServer(server_oid);
        let name = CStr::from_ptr((*server).servername).to_string_lossy().into_owned();
        let mut options = options_to_map((*server).options);
        options.extend(user_mapping_options(server_oid));
        ServerOptions { name, options }
    }
}

thread_local! {
    /// The role whose user mapping a scan uses, when it is not the current
    /// user: a foreign table read through a view is read as the view's owner
    /// (Postgres' `checkAsUser`), as postgres_fdw does, so a published view's
    /// readers use its owner's credentials, not their own.
    static MAPPING_USER: Cell<Option<pg_sys::Oid>> = const { Cell::new(None) };
}

/// Run `f` with `user`'s user mappings (INVALID: the current user's).
pub fn with_mapping_user<R>(user: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<pg_sys::Oid>);
    impl Drop for Restore {
        fn drop(&mut self) {
            MAPPING_USER.with(|m| m.set(self.0));
        }
    }
    let wanted = (user != pg_sys::Oid::INVALID).then_some(user);
    let _restore = Restore(MAPPING_USER.with(|m| m.replace(wanted)));
    f()
}

/// The mapping user's (or PUBLIC's) mapping options; none when there is no
/// mapping (a source that needs no credentials).
fn user_mapping_options(server_oid: pg_sys::Oid) -> BTreeMap<String, String> {
    // SAFETY: syscache lookups and GetUserMapping on the backend thread.
    unsafe {
        let user = MAPPING_USER.with(|m| m.get()).unwrap_or_else(|| pg_sys::GetUserId());
        // Look before calling GetUserMapping, which raises an ERROR when there
        // is no mapping for the user nor for PUBLIC.
        let exists = |u: pg_sys::Oid| {
            let tuple = pg_sys::SearchSysCache2(
                pg_sys::SysCacheIdentifier::USERMAPPINGUSERSERVER as i32,
                pg_sys::Datum::from(u),
                pg_sys::Datum::from(server_oid),
            );
            if tuple.is_null() {
                false
            } else {
                pg_sys::ReleaseSysCache(tuple);
                true
            }
        };
        if !exists(user) && !exists(pg_sys::Oid::INVALID) {
            return BTreeMap::new();
        }
        let mapping = pg_sys::GetUserMapping(user, server_oid);
        options_to_map((*mapping).options)
    }
}

/// A foreign table's options and its server.
pub fn table_options(relid: pg_sys::Oid) -> (BTreeMap<String, String>, pg_sys::Oid) {
    // SAFETY: GetForeignTable errors out itself for a non-foreign table.
    unsafe {
        let ft = pg_sys::GetForeignTable(relid);
        (options_to_map((*ft).options), (*ft).serverid)
    }
}

/// The options of column `attnum` of foreign table `relid`.
pub fn column_options(relid: pg_sys::Oid, attnum: i16) -> BTreeMap<String, String> {
    // SAFETY: catalog lookup; a column without options gives NIL.
    unsafe { options_to_map(pg_sys::GetForeignColumnOptions(relid, attnum)) }
}

/// The name of the wrapper behind foreign table `rel`; None for any other
/// relation.
pub fn wrapper_of(rel: pg_sys::Oid) -> Option<String> {
    // SAFETY: syscache lookups; GetForeignTable is only called for relations
    // whose relkind says they are foreign tables.
    unsafe {
        if pg_sys::get_rel_relkind(rel) != pg_sys::RELKIND_FOREIGN_TABLE as std::ffi::c_char {
            return None;
        }
        let ft = pg_sys::GetForeignTable(rel);
        let server = pg_sys::GetForeignServer((*ft).serverid);
        let fdw = pg_sys::GetForeignDataWrapper((*server).fdwid);
        Some(CStr::from_ptr((*fdw).fdwname).to_string_lossy().into_owned())
    }
}

/// Whether `rel` is a foreign table of the wrapper named `wrapper`.
pub fn is_foreign_table_of(rel: pg_sys::Oid, wrapper: &str) -> bool {
    wrapper_of(rel).is_some_and(|w| w == wrapper)
}

/// A relation's name (unqualified, as in pg_class).
pub fn relation_name(rel: pg_sys::Oid) -> Option<String> {
    // SAFETY: syscache lookup; NULL for a missing relation.
    unsafe {
        let name = pg_sys::get_rel_name(rel);
        (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

/// A relation's name as users write it (schema-qualified when needed).
pub fn relation_display(rel: pg_sys::Oid) -> String {
    // SAFETY: syscache lookups; NULL names (a dropped relation) handled.
    unsafe {
        let name = pg_sys::get_rel_name(rel);
        if name.is_null() {
            return format!("with OID {}", rel.to_u32());
        }
        let ns = pg_sys::get_namespace_name(pg_sys::get_rel_namespace(rel));
        let quoted =
            |p: *const std::ffi::c_char| CStr::from_ptr(pg_sys::quote_identifier(p)).to_string_lossy().into_owned();
        if ns.is_null() {
            quoted(name)
        } else {
            format!("{}.{}", quoted(ns), quoted(name))
        }
    }
}

/// A live (not dropped) column of a foreign table.
#[derive(Debug, Clone)]
pub struct TableColumn {
    /// 0-based index in the tuple descriptor.
    pub index: usize,
    pub attnum: i16,
    pub name: String,
    pub type_oid: pg_sys::Oid,
    pub typmod: i32,
    pub not_null: bool,
    pub options: BTreeMap<String, String>,
}

/// The live columns of foreign table `relid`, with their options, and the
/// relation's name.
pub fn table_columns(relid: pg_sys::Oid) -> (String, Vec<TableColumn>) {
    // SAFETY: the relation is locked by the statement using it (NoLock
    // takes no further lock); the descriptor is only read.
    #[allow(unused_unsafe)]
    let rel = unsafe { pgrx::PgRelation::with_lock(relid, pg_sys::NoLock as pg_sys::LOCKMODE) };
    let mut out = Vec::new();
    for (index, att) in rel.tuple_desc().iter().enumerate() {
        if att.attisdropped {
            continue;
        }
        out.push(TableColumn {
            index,
            attnum: att.attnum,
            name: pgrx::name_data_to_str(&att.attname).to_string(),
            type_oid: att.atttypid,
            typmod: att.atttypmod,
            not_null: att.attnotnull,
            options: column_options(relid, att.attnum),
        });
    }
    (rel.name().to_string(), out)
}

/// The row count the last ANALYZE stored for `relid` (`pg_class.reltuples`);
/// None when it was never analyzed.
pub fn analyzed_rows(relid: pg_sys::Oid) -> Option<f64> {
    // SAFETY: the relation is locked by the statement planning it; rd_rel is
    // only read.
    #[allow(unused_unsafe)]
    let rel = unsafe { pgrx::PgRelation::with_lock(relid, pg_sys::NoLock as pg_sys::LOCKMODE) };
    // SAFETY: an open relation's rd_rel is valid while it is open.
    let tuples = unsafe { (*rel.rd_rel).reltuples };
    (tuples >= 0.0).then_some(tuples as f64)
}
