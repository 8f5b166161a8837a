//! Which databases want a scheduler: a small set of database oids in shared
//! memory. A backend that defines (or resumes) a scheduled model adds its
//! database; a scheduler that finds nothing to do removes its own; the
//! launcher reads it every tick (scheduler.rs).

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use pgrx::pg_sys;

pub(crate) const SLOTS: usize = 64;

// Set in the postmaster at shared-memory startup, inherited by every child.
static mut REGISTRY: *const [AtomicU32; SLOTS] = std::ptr::null();
// Same: the generation of the schedule definitions, bumped when a
// transaction that changed a model or pipeline commits; a scheduler
// re-reads the definitions when it changed (scheduler.rs).
static mut GENERATION: *const AtomicU64 = std::ptr::null();

thread_local! {
    /// This transaction changed a model or pipeline definition.
    static CHANGED: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn registry() -> Option<&'static [AtomicU32; SLOTS]> {
    // SAFETY: written once at shared-memory startup before any child is
    // forked; points into shared memory that lives as long as the postmaster.
    unsafe { (*(&raw const REGISTRY)).as_ref() }
}

pub(crate) fn shmem_request() {
    crate::pg::shmem::request(std::mem::size_of::<[AtomicU32; SLOTS]>() + std::mem::size_of::<AtomicU64>(), c"townlake scheduler", 1);
}

pub(crate) fn shmem_startup() {
    crate::pg::shmem::with_addin_init_lock(|| {
        let (at, found) = crate::pg::shmem::init_struct(c"townlake scheduler registry", std::mem::size_of::<[AtomicU32; SLOTS]>());
        let slots = at as *mut AtomicU32;
        if !found {
            for i in 0..SLOTS {
                // SAFETY: `at` has room for SLOTS atomics (requested above).
                unsafe { slots.add(i).write(AtomicU32::new(0)) };
            }
        }
        // SAFETY: postmaster, shared-memory startup, no other process yet.
        unsafe { REGISTRY = at as *const [AtomicU32; SLOTS] };
        let (gen, found) = crate::pg::shmem::init_struct(c"townlake scheduler generation", std::mem::size_of::<AtomicU64>());
        if !found {
            // SAFETY: room for one atomic was requested above.
            unsafe { (gen as *mut AtomicU64).write(AtomicU64::new(0)) };
        }
        // SAFETY: as above.
        unsafe { GENERATION = gen as *const AtomicU64 };
    });
}

/// The current generation of the definitions (None without shared memory).
pub(crate) fn generation() -> Option<u64> {
    // SAFETY: written once at shared-memory startup before any child exists.
    unsafe { (*(&raw const GENERATION)).as_ref() }.map(|g| g.load(Ordering::Acquire))
}

/// A model or pipeline definition changed in this transaction: schedulers
/// re-read the definitions once it commits (not before: they would read
/// the old ones).
pub(crate) fn definitions_changed() {
    CHANGED.with(|c| c.set(true));
}

/// The transformations' transaction callback (pg::xact).
pub(crate) fn on_xact(event: crate::pg::xact::XactEvent) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT => {
            if CHANGED.with(|c| c.replace(false)) {
                // SAFETY: as in generation().
                if let Some(g) = unsafe { (*(&raw const GENERATION)).as_ref() } {
                    g.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => CHANGED.with(|c| c.set(false)),
        _ => {}
    }
}

/// Asks for a scheduler in this database (a scheduled model was defined).
pub fn register_database(db: pg_sys::Oid) {
    let Some(slots) = registry() else { return };
    let id = db.to_u32();
    if slots.iter().any(|s| s.load(Ordering::Acquire) == id) {
        return;
    }
    for s in slots {
        if s.compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            return;
        }
    }
    // Full: the startup probe still finds the database after a restart.
}

pub(crate) fn unregister_database(db: pg_sys::Oid) {
    if let Some(slots) = registry() {
        for s in slots {
            let _ = s.compare_exchange(db.to_u32(), 0, Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

