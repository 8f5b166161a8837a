//! The audit queue: a fixed array of slots in a file of the data directory
//! mapped into every process (see spool.rs). A record takes one slot, or a
//! run of adjacent slots when it is longer than one slot's payload (a head
//! slot and CONT slots).
//!
//! A backend claims slots when a statement on governed data starts (state
//! RUNNING, with the record's JSON), and completes them when the statement
//! ends, errors or the backend exits (state COMPLETE; only the outcome, rows,
//! duration and PII flag are written then, in the slot header). A completed
//! head goes onto the ready list, where the writer of its database (see
//! worker.rs) finds it without looking at any other slot. Writers copy the
//! records into `lake.audit_log`; after their transaction commits the slots
//! become WRITTEN, and FREE once the commit's WAL is flushed. Slots live
//! outside any transaction, so ROLLBACK and ERROR do not lose records;
//! because the slots are a shared file mapping, not Postgres' shared memory,
//! a backend killed with SIGKILL (after which the postmaster resets shared
//! memory) does not lose them either: at the restart RUNNING slots become
//! COMPLETE with outcome `terminated`, and every surviving record is
//! re-delivered (the writer skips record ids already in the log).
//!
//! Fair use: each backend and each role may hold only so many slots (open,
//! waiting to be written, or written and waiting for the WAL flush). A claim
//! over its backend's or role's share is refused here and the claimer waits
//! for its own records to drain, so one session (or one role) flooding the
//! queue slows itself down, never the others.
//!
//! All slot state changes happen under one LWLock (in Postgres' shared
//! memory). A slot's JSON is written before its state, so a process killed in
//! the middle leaves a FREE slot, never a half-written record. Latch pointers
//! stored here point into shared memory (PGPROC), valid in every process of
//! one postmaster lifetime, and are cleared at a restart.

use std::ptr::null_mut;

use pgrx::pg_sys;

use super::record::Outcome;
use super::spool;

/// Bytes per slot (header included).
pub const SLOT_BYTES: usize = 8192;
/// Writers (databases being written) at the same time.
pub const MAX_WRITERS: usize = 8;
/// Backends that can wait for room in a full queue and be woken for it.
const ROOM_WAITERS: usize = 64;
/// Per-backend slot counters, indexed by PGPROC number (modulo).
const BACKEND_CELLS: usize = 1024;
/// Roles with records in the queue at the same time that get their own
/// counter (beyond that, only the per-backend share applies).
const ROLE_CELLS: usize = 256;
/// Slot index meaning "none".
const NONE: u32 = u32::MAX;

pub const FREE: u32 = 0;
pub const RUNNING: u32 = 1;
pub const COMPLETE: u32 = 2;
/// In `lake.audit_log` by a committed transaction whose WAL may not be flushed yet.
pub const WRITTEN: u32 = 3;
/// Continuation of the record in the slot before it (same `seq`).
pub const CONT: u32 = 4;

#[repr(C)]
#[derive(Clone, Copy)]
struct Writer {
    db: pg_sys::Oid,
    pid: i32,
    latch: *mut pg_sys::Latch,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct RoleUse {
    role: pg_sys::Oid,
    slots: u32,
}

/// Queue state in Postgres' shared memory (rebuilt from the slots at startup).
#[repr(C)]
struct Header {
    lock: *mut pg_sys::LWLock,
    launcher_latch: *mut pg_sys::Latch,
    next_seq: u64,
    nslots: u32,
    /// Where to start looking for a free slot.
    free_hint: u32,
    /// Slots not FREE.
    used: u32,
    /// Whether the slots are in a file (survive a crash restart).
    spooled: bool,
    /// Latches of backends waiting for a free slot (set by `release`).
    room_waiters: [*mut pg_sys::Latch; ROOM_WAITERS],
    writers: [Writer; MAX_WRITERS],
    /// Ready list: a ring of (head slot, database) of COMPLETE records not
    /// yet taken by a writer; each head is on it at most once.
    ready_start: u32,
    ready_len: u32,
    /// Slots held per backend (by PGPROC number) and per role.
    backend_slots: [u32; BACKEND_CELLS],
    roles: [RoleUse; ROLE_CELLS],
    /// Claims refused after waiting too long, since startup (all backends).
    refused: u64,
    /// Claims that had to wait for their backend's or role's share.
    throttled: u64,
}

/// The header of a slot, at the start of its SLOT_BYTES in the spool file.
#[repr(C)]
pub struct SlotHeader {
    pub state: u32,
    /// Bumped whenever the slot is freed, so a waiter knows its record is written.
    pub generation: u32,
    pub db: pg_sys::Oid,
    pub pid: i32,
    pub seq: u64,
    /// When the statement started (Postgres µs).
    pub started_us: i64,
    /// Bytes of the record (in the head; spans the payloads of `parts` slots).
    pub len: u32,
    /// `Outcome` as u32, set when the record completes.
    pub outcome: u32,
    pub rows: i64,
    /// Negative: unknown.
    pub duration_us: i64,
    pub pii: u32,
    /// How often a writer took the record: after the first, it may already be
    /// in the log (a writer died before freeing it, or the server restarted).
    pub attempts: u32,
    /// Latch of a backend waiting for this record to be written.
    pub waiter: *mut pg_sys::Latch,
    /// Slots of the record: the head and `parts - 1` CONT slots after it.
    pub parts: u32,
    /// Backend cell and role charged for the record's slots (NONE: nobody,
    /// e.g. records recovered after a restart).
    pub owner_cell: u32,
    pub role: pg_sys::Oid,
}

pub const PAYLOAD_BYTES: usize = SLOT_BYTES - std::mem::size_of::<SlotHeader>();
/// Slots one record may span (larger records are cut, and say so).
pub const MAX_PARTS: usize = 32;
/// Longest record the queue takes.
pub const MAX_RECORD_BYTES: usize = PAYLOAD_BYTES * MAX_PARTS;

static mut HEADER: *mut Header = null_mut();
/// The ready ring (nslots entries of (slot, db)), in Postgres' shared memory.
static mut READY: *mut (u32, pg_sys::Oid) = null_mut();
/// The mapped slots (inherited by every child of the postmaster).
static mut SLOTS: *mut u8 = null_mut();
static mut NSLOTS_REQUESTED: u32 = 0;

const TRANCHE: &std::ffi::CStr = c"townlake_audit";
const SEGMENT: &std::ffi::CStr = c"townlake audit queue";
const READY_SEGMENT: &std::ffi::CStr = c"townlake audit ready list";

/// Requests shared memory for the queue header (from `_PG_init` while
/// shared_preload_libraries is being processed).
pub fn request(nslots: u32) {
    // SAFETY: _PG_init of a preloaded library, on the postmaster's main thread.
    unsafe { NSLOTS_REQUESTED = nslots };
    crate::pg::shmem::register(crate::pg::shmem::SharedMemory { request: on_shmem_request, startup: on_shmem_startup });
}

fn ready_bytes(nslots: u32) -> usize {
    nslots as usize * std::mem::size_of::<(u32, pg_sys::Oid)>()
}

fn on_shmem_request() {
    // SAFETY: called by pg::shmem from the postmaster's shmem_request hook,
    // the one place these requests are allowed.
    unsafe {
        pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Header>() + ready_bytes(NSLOTS_REQUESTED));
        pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 1);
    }
}

/// Runs in the postmaster at startup and after every crash restart (all other
/// processes are gone then): maps the spool file and recovers its records.
fn on_shmem_startup() {
    // SAFETY: the postmaster, with no other process attached, creates or
    // finds the named structures under AddinShmemInitLock; the spool file is
    // mapped and its records recovered before any backend can use them.
    crate::pg::shmem::with_addin_init_lock(|| unsafe { init_queue() });
}

unsafe fn init_queue() {
    let mut found = false;
    let header = pg_sys::ShmemInitStruct(SEGMENT.as_ptr(), std::mem::size_of::<Header>(), &mut found) as *mut Header;
    let mut ready_found = false;
    let ready = pg_sys::ShmemInitStruct(READY_SEGMENT.as_ptr(), ready_bytes(NSLOTS_REQUESTED), &mut ready_found)
        as *mut (u32, pg_sys::Oid);
    if !found {
        std::ptr::write_bytes(header as *mut u8, 0, std::mem::size_of::<Header>());
        (*header).lock = &raw mut (*pg_sys::GetNamedLWLockTranche(TRANCHE.as_ptr())).lock;
        (*header).nslots = NSLOTS_REQUESTED;
        let mapped = spool::map(NSLOTS_REQUESTED, SLOT_BYTES);
        SLOTS = mapped.base;
        (*header).spooled = mapped.file_backed;
        let r = recover(SLOTS, NSLOTS_REQUESTED);
        (*header).used = r.used;
        (*header).next_seq = r.max_seq + 1;
        // every recovered record is ready, oldest first
        let mut heads: Vec<(u64, u32)> = (0..NSLOTS_REQUESTED)
            .map(|i| (i, SLOTS.add(i as usize * SLOT_BYTES) as *mut SlotHeader))
            .filter(|(_, s)| (**s).state == COMPLETE)
            .map(|(i, s)| ((*s).seq, i))
            .collect();
        heads.sort_unstable();
        for (n, (_, i)) in heads.iter().enumerate() {
            *ready.add(n) = (*i, (*(SLOTS.add(*i as usize * SLOT_BYTES) as *mut SlotHeader)).db);
        }
        (*header).ready_start = 0;
        (*header).ready_len = heads.len() as u32;
        if r.used > 0 {
            pgrx::log!(
                "townlake: {} audit records from before the restart are queued again ({} of them unfinished, now terminated)",
                heads.len(),
                r.terminated
            );
        }
    }
    HEADER = header;
    READY = ready;
}

pub struct Recovered {
    pub used: u32,
    pub terminated: u32,
    pub max_seq: u64,
}

/// Makes the slots left by a previous server life consistent: unfinished
/// statements become `terminated`, every record is queued again (to be
/// checked against the log), anything malformed (also a record whose
/// continuation slots are missing) is freed.
///
/// # Safety
/// `base` maps `nslots` slots and no other process uses them yet.
pub unsafe fn recover(base: *mut u8, nslots: u32) -> Recovered {
    let at = |i: u32| base.add(i as usize * SLOT_BYTES) as *mut SlotHeader;
    let mut r = Recovered { used: 0, terminated: 0, max_seq: 0 };
    // continuation slots that belong to a well-formed head
    let mut owned = vec![false; nslots as usize];
    for i in 0..nslots {
        let s = at(i);
        (*s).waiter = null_mut();
        (*s).owner_cell = NONE;
        match (*s).state {
            FREE | CONT => continue,
            RUNNING | COMPLETE | WRITTEN => {}
            _ => {
                free_slot(s);
                continue;
            }
        }
        let parts = (*s).parts.max(1);
        let fits = (*s).len > 0
            && (*s).len as usize <= parts as usize * PAYLOAD_BYTES
            && parts as usize <= MAX_PARTS
            && i + parts <= nslots
            && (1..parts).all(|k| (*at(i + k)).state == CONT && (*at(i + k)).seq == (*s).seq);
        if !fits {
            free_slot(s);
            continue;
        }
        (*s).parts = parts;
        for k in 1..parts {
            owned[(i + k) as usize] = true;
            (*at(i + k)).owner_cell = NONE;
        }
        if (*s).state == RUNNING {
            // never taken by a writer: cannot be in the log
            (*s).outcome = Outcome::Terminated as u32;
            (*s).duration_us = -1;
            r.terminated += 1;
        } else {
            // may be in the log already (a commit not yet flushed may be lost)
            (*s).attempts = (*s).attempts.max(1);
        }
        (*s).state = COMPLETE;
        r.used += parts;
        r.max_seq = r.max_seq.max((*s).seq);
    }
    for i in 0..nslots {
        if (*at(i)).state == CONT && !owned[i as usize] {
            free_slot(at(i));
        }
    }
    r
}

unsafe fn free_slot(s: *mut SlotHeader) {
    (*s).state = FREE;
    (*s).len = 0;
    (*s).parts = 0;
}

/// Whether the queue exists (townlake was preloaded).
pub fn available() -> bool {
    // SAFETY: set once at shared memory startup.
    unsafe { !HEADER.is_null() }
}

/// Whether records survive a crash restart (the spool file could be mapped).
pub fn spooled() -> bool {
    // SAFETY: as above.
    available() && unsafe { (*HEADER).spooled }
}

unsafe fn slot(i: u32) -> *mut SlotHeader {
    SLOTS.add(i as usize * SLOT_BYTES) as *mut SlotHeader
}

unsafe fn payload(i: u32) -> *mut u8 {
    (slot(i) as *mut u8).add(std::mem::size_of::<SlotHeader>())
}

/// Holds the queue lock; released on drop (also when unwinding).
struct Locked;

impl Locked {
    unsafe fn exclusive() -> Locked {
        pg_sys::LWLockAcquire((*HEADER).lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        Locked
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: we hold the lock; after an elog ERROR Postgres has already
        // released all LWLocks (InterruptHoldoffCount is then 0).
        unsafe {
            if pg_sys::InterruptHoldoffCount > 0 {
                pg_sys::LWLockRelease((*HEADER).lock);
            }
        }
    }
}

mod claim;
mod drain;

pub use claim::*;
pub use drain::*;
