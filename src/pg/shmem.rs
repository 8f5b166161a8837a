//! Shared memory for preloaded parts: one shmem_request and one
//! shmem_startup hook, calling each part's request and startup in turn.

use pgrx::pg_sys;

/// A part's shared memory: what to request while the postmaster sizes
/// shared memory, and what to set up once it exists (at startup and after
/// every crash restart, in the postmaster, with no other process running).
#[derive(Clone, Copy)]
pub struct SharedMemory {
    pub request: fn(),
    pub startup: fn(),
}

// Written only from _PG_init in the postmaster, read after.
static mut PARTS: &[SharedMemory] = &[];
static mut PREV_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP: pg_sys::shmem_startup_hook_type = None;

/// Registers a part's shared memory (from `_PG_init` while
/// shared_preload_libraries is processed). The first call installs the hooks.
pub fn register(part: SharedMemory) {
    // SAFETY: _PG_init of a preloaded library, on the postmaster's one
    // thread; the replaced slice is leaked (a few words).
    unsafe {
        let parts: &[SharedMemory] = *(&raw const PARTS);
        if parts.is_empty() {
            PREV_REQUEST = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(on_request);
            PREV_STARTUP = pg_sys::shmem_startup_hook;
            pg_sys::shmem_startup_hook = Some(on_startup);
        }
        PARTS = Box::leak([parts, &[part]].concat().into_boxed_slice());
    }
}

fn parts() -> &'static [SharedMemory] {
    // SAFETY: no writes after _PG_init.
    unsafe { *(&raw const PARTS) }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_request() {
    if let Some(prev) = PREV_REQUEST {
        prev();
    }
    for p in parts() {
        (p.request)();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_startup() {
    if let Some(prev) = PREV_STARTUP {
        prev();
    }
    for p in parts() {
        (p.startup)();
    }
}

/// Runs `f` holding AddinShmemInitLock, as Postgres' own add-ins create
/// their shared structures.
pub fn with_addin_init_lock<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: AddinShmemInitLock is entry 21 of the main LWLock array
    // (lwlocknames.txt, unchanged since Postgres 9.6); an ERROR in `f`
    // releases it with every other LWLock at abort.
    let lock = unsafe { &raw mut (*pg_sys::MainLWLockArray.add(21)).lock };
    unsafe { pg_sys::LWLockAcquire(lock, pg_sys::LWLockMode::LW_EXCLUSIVE) };
    let r = f();
    // SAFETY: releases the lock taken above.
    unsafe { pg_sys::LWLockRelease(lock) };
    r
}
