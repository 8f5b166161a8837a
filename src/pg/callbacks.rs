//! Cache-invalidation and process-exit callbacks: one Postgres callback of
//! each kind, dispatching to the parts that registered.

use std::cell::RefCell;

use pgrx::pg_sys;

pub use pg_sys::SysCacheIdentifier;

thread_local! {
    static RELCACHE: RefCell<Vec<fn(pg_sys::Oid)>> = const { RefCell::new(Vec::new()) };
    static SYSCACHE: RefCell<Vec<(i32, fn())>> = const { RefCell::new(Vec::new()) };
    static EXIT: RefCell<Vec<fn()>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with the relation whenever a relation cache entry is invalidated
/// (`InvalidOid`: all of them). Register from `_PG_init`.
pub fn on_relcache(f: fn(pg_sys::Oid)) {
    let first = RELCACHE.with(|r| {
        let mut r = r.borrow_mut();
        r.push(f);
        r.len() == 1
    });
    if first {
        // SAFETY: a process-local callback with a static function.
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(relcache_changed), pg_sys::Datum::from(0usize)) };
    }
}

/// Calls `f` whenever an entry of the system cache `cache` is invalidated.
/// Register from `_PG_init`.
pub fn on_syscache(cache: SysCacheIdentifier::Type, f: fn()) {
    let first = SYSCACHE.with(|s| {
        let mut s = s.borrow_mut();
        let first = !s.iter().any(|(c, _)| *c == cache as i32);
        s.push((cache as i32, f));
        first
    });
    if first {
        // SAFETY: a process-local callback with a static function; Postgres
        // passes the cache id back, which selects the parts' callbacks.
        unsafe { pg_sys::CacheRegisterSyscacheCallback(cache as i32, Some(syscache_changed), pg_sys::Datum::from(0usize)) };
    }
}

/// Calls `f` once as this process exits (before shared memory is detached),
/// also after an ERROR or FATAL. May be called any number of times; each
/// function is registered once.
pub fn before_exit(f: fn()) {
    let first = EXIT.with(|e| {
        let mut e = e.borrow_mut();
        if e.iter().any(|g| std::ptr::fn_addr_eq(*g, f)) {
            return false;
        }
        e.push(f);
        e.len() == 1
    });
    if first {
        // SAFETY: a process-local exit callback with a static function.
        unsafe { pg_sys::before_shmem_exit(Some(exiting), pg_sys::Datum::from(0usize)) };
    }
}

// The lists are copied out before the calls: a callback may register more.

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn relcache_changed(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    for f in RELCACHE.with(|r| r.borrow().clone()) {
        f(relid);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn syscache_changed(_arg: pg_sys::Datum, cache: i32, _hash: u32) {
    for (_, f) in SYSCACHE.with(|s| s.borrow().clone()).into_iter().filter(|(c, _)| *c == cache) {
        f();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn exiting(_code: i32, _arg: pg_sys::Datum) {
    for f in EXIT.with(|e| e.borrow().clone()) {
        f();
    }
}
