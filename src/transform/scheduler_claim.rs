//! One scheduler per database, claimed in shared memory.
//!
//! An advisory lock would not do: any role can take the same advisory key
//! first (and keep every scheduler of the database from starting), and a
//! model's SQL, which runs inside the scheduler's backend, could release it
//! with `pg_advisory_unlock_all()` and let a second scheduler start. The
//! claims here are out of reach of SQL.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use pgrx::pg_sys;

const CLAIMS: usize = 64;
const TRANCHE: &std::ffi::CStr = c"townlake scheduler claims";

#[repr(C)]
struct Claim {
    db: AtomicU32,
    pid: AtomicI32,
}

type Claims = [Claim; CLAIMS];

static mut SHARED: *const Claims = std::ptr::null();

fn claims() -> Option<&'static Claims> {
    // SAFETY: written once at shared-memory startup in the postmaster,
    // before any child exists; points into shared memory from then on.
    unsafe { (*(&raw const SHARED)).as_ref() }
}

fn shmem_request() {
    crate::pg::shmem::request(std::mem::size_of::<Claims>(), TRANCHE, 1);
}

fn shmem_startup() {
    crate::pg::shmem::with_addin_init_lock(|| {
        let (at, found) = crate::pg::shmem::init_struct(c"townlake scheduler claim table", std::mem::size_of::<Claims>());
        if !found {
            // SAFETY: `at` has room for the table (requested above); zeroes
            // are valid atomics and mean "free".
            unsafe { std::ptr::write_bytes(at, 0, std::mem::size_of::<Claims>()) };
        }
        // SAFETY: postmaster, shared-memory startup, no other process yet.
        unsafe { SHARED = at as *const Claims };
    });
}

/// Registers the claim table's shared memory (from `_PG_init`, when preloaded).
pub fn init() {
    // SAFETY: plain read of a postmaster flag.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        crate::pg::shmem::register(crate::pg::shmem::SharedMemory { request: shmem_request, startup: shmem_startup });
    }
}

/// Whether backend `pid` is alive and connected to database `db`.
fn alive_in(pid: i32, db: pg_sys::Oid) -> bool {
    // SAFETY: ProcArray lookup under its own lock; the PGPROC stays in shared
    // memory, so reading its database id after is safe (at worst stale).
    unsafe {
        let proc_ = pg_sys::BackendPidGetProc(pid);
        !proc_.is_null() && (*proc_).databaseId == db
    }
}

/// Claims database `db` for this backend's scheduler. `None`: no claim table
/// (townlake not preloaded; the caller falls back to an advisory lock).
/// `Some(false)`: a live scheduler holds the database already.
pub fn claim(db: pg_sys::Oid) -> Option<bool> {
    let table = claims()?;
    // SAFETY: plain read of a backend global.
    let me = unsafe { pg_sys::MyProcPid };
    let _lock = crate::pg::shmem::named_lock(TRANCHE).exclusive();
    let mut free = None;
    for (i, c) in table.iter().enumerate() {
        let pid = c.pid.load(Ordering::Acquire);
        if pid == 0 {
            free.get_or_insert(i);
            continue;
        }
        if c.db.load(Ordering::Acquire) == db.to_u32() {
            if pid != me && alive_in(pid, db) {
                return Some(false);
            }
            // A scheduler that died without releasing (or this backend).
            free = Some(i);
            break;
        }
    }
    let Some(i) = free else {
        return Some(false);
    };
    table[i].db.store(db.to_u32(), Ordering::Release);
    table[i].pid.store(me, Ordering::Release);
    crate::pg::callbacks::before_exit(release);
    Some(true)
}

/// Frees this backend's claim as it exits (also after a FATAL).
fn release() {
    let Some(table) = claims() else { return };
    // SAFETY: plain read of a backend global.
    let me = unsafe { pg_sys::MyProcPid };
    for c in table {
        if c.pid.load(Ordering::Acquire) == me {
            c.pid.store(0, Ordering::Release);
            c.db.store(0, Ordering::Release);
        }
    }
}
