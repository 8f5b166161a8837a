//! Which databases want a scheduler: a small set of database oids in shared
//! memory. A backend that defines (or resumes) a scheduled model adds its
//! database; a scheduler that finds nothing to do removes its own; the
//! launcher reads it every tick (scheduler.rs).

use std::sync::atomic::{AtomicU32, Ordering};

use pgrx::pg_sys;

pub(crate) const SLOTS: usize = 64;

// Set in the postmaster at shared-memory startup, inherited by every child.
static mut REGISTRY: *const [AtomicU32; SLOTS] = std::ptr::null();

pub(crate) fn registry() -> Option<&'static [AtomicU32; SLOTS]> {
    // SAFETY: written once at shared-memory startup before any child is
    // forked; points into shared memory that lives as long as the postmaster.
    unsafe { (*(&raw const REGISTRY)).as_ref() }
}

pub(crate) fn shmem_request() {
    crate::pg::shmem::request(std::mem::size_of::<[AtomicU32; SLOTS]>(), c"townlake scheduler", 1);
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
    });
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

