//! One scheduler per database, claimed in shared memory.
//!
//! An advisory lock would not do: any role can take the same advisory key
//! first (and keep every scheduler of the database from starting), and a
//! model's SQL, which runs inside the scheduler's backend, could release it
//! with `pg_advisory_unlock_all()` and let a second scheduler start. The
//! claims here are out of reach of SQL.

use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use pgrx::pg_sys;

use crate::pg::shmem::ZeroedArea;

const CLAIMS: usize = 64;
const TRANCHE: &std::ffi::CStr = c"townlake scheduler claims";

#[repr(C)]
struct Claim {
    db: AtomicU32,
    pid: AtomicI32,
}

type Claims = [Claim; CLAIMS];

// SAFETY: all-zero bytes are free claims (atomics).
static CLAIMS_AREA: ZeroedArea<Claims> = unsafe { ZeroedArea::new(TRANCHE, c"townlake scheduler claim table") };

fn claims() -> Option<&'static Claims> {
    CLAIMS_AREA.get()
}

/// Registers the claims' shared memory (from `_PG_init`, when preloaded).
pub fn init() {
    CLAIMS_AREA.register();
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
    let _lock = CLAIMS_AREA.lock().exclusive();
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
