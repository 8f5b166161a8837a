//! Which relations of the current database are governed, cached per backend
//! for the hooks (which run for every statement). The cache is dropped when
//! Postgres delivers a relcache invalidation for `lake.governed_relations`,
//! which townlake sends (transactionally, at commit) from a statement trigger
//! on that table; and whenever anything is invalidated while the extension is
//! absent, so CREATE EXTENSION is noticed.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::privileged::call_operation;

#[derive(Clone, Debug)]
pub struct GovernedRelation {
    /// `raw_schema.relname`, quoted as needed.
    pub raw_name: String,
    /// Oid of the published view, if it exists.
    pub published_view: Option<pg_sys::Oid>,
}

#[derive(Default)]
struct Cache {
    valid: bool,
    extension_present: bool,
    /// Oid of `lake.governed_relations` (its invalidations reset the cache).
    table: pg_sys::Oid,
    relations: HashMap<pg_sys::Oid, GovernedRelation>,
    /// Published view oid -> governed raw relation oid.
    views: HashMap<pg_sys::Oid, pg_sys::Oid>,
    /// Governed raw schema oids.
    schemas: Vec<pg_sys::Oid>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
    static LOADING: Cell<bool> = const { Cell::new(false) };
    /// Bumped by every invalidation that resets the cache, so an answer
    /// computed while one arrived is not kept.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// Changes whenever governance caches are invalidated.
pub fn generation() -> u64 {
    GENERATION.with(Cell::get)
}

/// Records an invalidation that does not reset the relation cache (roles).
pub fn invalidated() {
    GENERATION.with(|g| g.set(g.get() + 1));
}

/// Registered from `_PG_init`.
pub fn init() {
    crate::pg::callbacks::on_relcache(on_relcache);
}

fn on_relcache(relid: pg_sys::Oid) {
    CACHE.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if relid == pg_sys::Oid::INVALID || relid == c.table || !c.extension_present {
                c.valid = false;
                // cached access decisions (gate) go stale with this
                GENERATION.with(|g| g.set(g.get() + 1));
            }
        }
    });
}

/// Sends the invalidation other backends (and this one) act on.
#[pg_extern(name = "_governance_changed", schema = "lake_internal", volatile)]
fn governance_changed() -> bool {
    if let Some(table) = lake_table_oid() {
        // SAFETY: queues a relcache invalidation message, sent at commit.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(table) };
    }
    true
}

fn lake_table_oid() -> Option<pg_sys::Oid> {
    // SAFETY: catalog lookups by name.
    unsafe {
        let ns = pg_sys::get_namespace_oid(c"lake".as_ptr(), true);
        if ns == pg_sys::Oid::INVALID {
            return None;
        }
        let oid = pg_sys::get_relname_relid(c"governed_relations".as_ptr(), ns);
        (oid != pg_sys::Oid::INVALID).then_some(oid)
    }
}

fn oid_of(v: &Value) -> Option<pg_sys::Oid> {
    v.as_u64().map(|n| pg_sys::Oid::from(n as u32))
}

fn load() {
    // SAFETY: catalog lookup; the hooks only call us inside a transaction.
    let present = unsafe { pg_sys::get_extension_oid(c"townlake".as_ptr(), true) } != pg_sys::Oid::INVALID;
    let started = generation();
    let mut fresh = Cache { valid: true, extension_present: present, ..Cache::default() };
    if present {
        if let Some(t) = lake_table_oid() {
            fresh.table = t;
            LOADING.with(|l| l.set(true));
            let answer = call_operation("load_cache", pg_sys::Oid::INVALID, json!({}), false);
            LOADING.with(|l| l.set(false));
            for r in answer.get("relations").and_then(Value::as_array).into_iter().flatten() {
                let Some(relid) = r.get("relid").and_then(oid_of) else { continue };
                let view = r.get("view").and_then(oid_of);
                if let Some(v) = view {
                    fresh.views.insert(v, relid);
                }
                fresh.relations.insert(
                    relid,
                    GovernedRelation {
                        raw_name: r.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                        published_view: view,
                    },
                );
            }
            fresh.schemas =
                answer.get("schemas").and_then(Value::as_array).into_iter().flatten().filter_map(oid_of).collect();
        } else {
            // The extension is being created right now.
            fresh.valid = false;
        }
    }
    if generation() != started {
        // invalidated while loading: use this answer once, load again next time
        fresh.valid = false;
    }
    CACHE.with(|c| *c.borrow_mut() = fresh);
}

fn with_cache<R>(f: impl FnOnce(&Cache) -> R) -> Option<R> {
    // SAFETY: plain reads of backend state. Nothing is governed while an
    // extension script runs (ours may be half-created).
    if LOADING.with(Cell::get) || unsafe { pg_sys::creating_extension } {
        return None;
    }
    // SAFETY: plain read of backend state.
    if !unsafe { pg_sys::IsTransactionState() } {
        return None;
    }
    if !CACHE.with(|c| c.borrow().valid) {
        // Loading must not leave the flag set if it errors.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                LOADING.with(|l| l.set(false));
            }
        }
        let _reset = Reset;
        load();
    }
    CACHE.with(|c| Some(f(&c.borrow())))
}

/// Whether anything at all is governed in this database.
pub fn anything_governed() -> bool {
    with_cache(|c| !c.relations.is_empty() || !c.schemas.is_empty()).unwrap_or(false)
}

/// The governed raw relation `relid`, if it is one.
pub fn governed(relid: pg_sys::Oid) -> Option<GovernedRelation> {
    with_cache(|c| c.relations.get(&relid).cloned()).flatten()
}

/// The governed raw relation a published view shows, if `view` is one.
pub fn raw_of_view(view: pg_sys::Oid) -> Option<pg_sys::Oid> {
    with_cache(|c| c.views.get(&view).copied()).flatten()
}

/// Whether `schema` is a governed raw schema.
pub fn is_governed_schema(schema: pg_sys::Oid) -> bool {
    with_cache(|c| c.schemas.contains(&schema)).unwrap_or(false)
}
