//! The audit queue: a fixed array of slots, one record each, in a file of the
//! data directory mapped into every process (see spool.rs).
//!
//! A backend claims a slot when a statement on governed data starts (state
//! RUNNING, with the record's JSON), and completes it when the statement ends,
//! errors or the backend exits (state COMPLETE; only the outcome, rows,
//! duration and PII flag are written then, in the slot header). Writers (one
//! per database, see worker.rs) copy COMPLETE slots of their database into
//! `lake.audit_log`; after their transaction commits the slots become WRITTEN,
//! and FREE once the commit's WAL is flushed. Slots live outside any
//! transaction, so ROLLBACK and ERROR do not lose records; because the slots
//! are a shared file mapping, not Postgres' shared memory, a backend killed
//! with SIGKILL (after which the postmaster resets shared memory) does not
//! lose them either: at the restart RUNNING slots become COMPLETE with outcome
//! `terminated`, and every surviving record is re-delivered (the writer skips
//! record ids already in the log).
//!
//! All slot state changes happen under one LWLock (in Postgres' shared
//! memory). A slot's JSON is written before its state, so a process killed in
//! the middle leaves a FREE slot, never a half-written record. Latch pointers
//! stored here point into shared memory (PGPROC), valid in every process of
//! one postmaster lifetime, and are cleared at a restart.

use std::ptr::null_mut;
use std::sync::atomic::{compiler_fence, Ordering};

use pgrx::pg_sys;

use super::record::{Completion, Outcome};
use super::spool;

/// Bytes per slot (header included).
pub const SLOT_BYTES: usize = 8192;
/// Writers (databases being written) at the same time.
pub const MAX_WRITERS: usize = 8;
/// Backends that can wait for room in a full queue and be woken for it.
const ROOM_WAITERS: usize = 64;

pub const FREE: u32 = 0;
pub const RUNNING: u32 = 1;
pub const COMPLETE: u32 = 2;
/// In `lake.audit_log` by a committed transaction whose WAL may not be flushed yet.
pub const WRITTEN: u32 = 3;

#[repr(C)]
#[derive(Clone, Copy)]
struct Writer {
    db: pg_sys::Oid,
    pid: i32,
    latch: *mut pg_sys::Latch,
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
}

pub const PAYLOAD_BYTES: usize = SLOT_BYTES - std::mem::size_of::<SlotHeader>();

static mut HEADER: *mut Header = null_mut();
/// The mapped slots (inherited by every child of the postmaster).
static mut SLOTS: *mut u8 = null_mut();
static mut NSLOTS_REQUESTED: u32 = 0;
static mut PREV_SHMEM_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_SHMEM_STARTUP: pg_sys::shmem_startup_hook_type = None;

const TRANCHE: &std::ffi::CStr = c"townlake_audit";
const SEGMENT: &std::ffi::CStr = c"townlake audit queue";

/// Requests shared memory for the queue header (from `_PG_init` while
/// shared_preload_libraries is being processed).
pub fn request(nslots: u32) {
    // SAFETY: _PG_init of a preloaded library, on the postmaster's main thread.
    unsafe {
        NSLOTS_REQUESTED = nslots;
        PREV_SHMEM_REQUEST = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(on_shmem_request);
        PREV_SHMEM_STARTUP = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(on_shmem_startup);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_shmem_request() {
    if let Some(prev) = PREV_SHMEM_REQUEST {
        prev();
    }
    pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Header>());
    pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 1);
}

/// Runs in the postmaster at startup and after every crash restart (all other
/// processes are gone then): maps the spool file and recovers its records.
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_shmem_startup() {
    if let Some(prev) = PREV_SHMEM_STARTUP {
        prev();
    }
    // AddinShmemInitLock, as Postgres' own addins use it.
    let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
    pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
    let mut found = false;
    let header = pg_sys::ShmemInitStruct(SEGMENT.as_ptr(), std::mem::size_of::<Header>(), &mut found) as *mut Header;
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
        if r.used > 0 {
            pgrx::log!(
                "townlake: {} audit records from before the restart are queued again ({} of them unfinished, now terminated)",
                r.used,
                r.terminated
            );
        }
    }
    HEADER = header;
    pg_sys::LWLockRelease(init_lock);
}

pub struct Recovered {
    pub used: u32,
    pub terminated: u32,
    pub max_seq: u64,
}

/// Makes the slots left by a previous server life consistent: unfinished
/// statements become `terminated`, every record is queued again (to be
/// checked against the log), anything malformed is freed.
///
/// # Safety
/// `base` maps `nslots` slots and no other process uses them yet.
pub unsafe fn recover(base: *mut u8, nslots: u32) -> Recovered {
    let mut r = Recovered { used: 0, terminated: 0, max_seq: 0 };
    for i in 0..nslots {
        let s = base.add(i as usize * SLOT_BYTES) as *mut SlotHeader;
        (*s).waiter = null_mut();
        match (*s).state {
            FREE => continue,
            RUNNING | COMPLETE | WRITTEN if (*s).len as usize <= PAYLOAD_BYTES && (*s).len > 0 => {}
            _ => {
                (*s).state = FREE;
                (*s).len = 0;
                continue;
            }
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
        r.used += 1;
        r.max_seq = r.max_seq.max((*s).seq);
    }
    r
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

/// A claimed slot: index and generation (to notice when it is written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub slot: u32,
    pub generation: u32,
}

unsafe fn set_completion(s: *mut SlotHeader, c: &Completion) {
    (*s).outcome = c.outcome as u32;
    (*s).rows = c.rows.unwrap_or(-1);
    (*s).duration_us = c.duration_us.unwrap_or(-1);
    (*s).pii = c.pii as u32;
}

/// Claims a free slot for database `db` with `bytes` as its record, RUNNING
/// or, with `done`, COMPLETE; None if the queue is full.
pub fn try_claim(db: pg_sys::Oid, started_us: i64, bytes: &[u8], done: Option<&Completion>) -> Option<Ticket> {
    if !available() {
        return None;
    }
    // SAFETY: slot memory is only touched under the queue lock.
    unsafe {
        let _lock = Locked::exclusive();
        let n = (*HEADER).nslots;
        if (*HEADER).used < n {
            for k in 0..n {
                let i = ((*HEADER).free_hint + k) % n;
                let s = slot(i);
                if (*s).state != FREE {
                    continue;
                }
                let len = bytes.len().min(PAYLOAD_BYTES);
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), payload(i), len);
                (*s).len = len as u32;
                (*s).db = db;
                (*s).pid = pg_sys::MyProcPid;
                (*s).seq = (*HEADER).next_seq;
                (*s).started_us = started_us;
                (*s).waiter = null_mut();
                (*s).attempts = 0;
                set_completion(s, done.unwrap_or(&Completion::running()));
                // the record is complete in the file before its state says so
                compiler_fence(Ordering::SeqCst);
                (*s).state = if done.is_some() { COMPLETE } else { RUNNING };
                (*HEADER).next_seq += 1;
                (*HEADER).free_hint = (i + 1) % n;
                (*HEADER).used += 1;
                return Some(Ticket { slot: i, generation: (*s).generation });
            }
        }
        // full: ask to be woken when a slot frees up
        let me = pg_sys::MyLatch;
        let waiters = &mut (*HEADER).room_waiters;
        if !waiters.contains(&me) {
            if let Some(w) = waiters.iter_mut().find(|w| w.is_null()) {
                *w = me;
            }
        }
        None
    }
}

/// Completes the record of a RUNNING slot; with `wait`, registers this
/// backend's latch to be set once the record is written.
pub fn complete(ticket: Ticket, c: &Completion, wait: bool) {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        let db;
        {
            let _lock = Locked::exclusive();
            let s = slot(ticket.slot);
            if (*s).generation != ticket.generation || (*s).state != RUNNING || (*s).pid != pg_sys::MyProcPid {
                return;
            }
            set_completion(s, c);
            (*s).waiter = if wait { pg_sys::MyLatch } else { null_mut() };
            compiler_fence(Ordering::SeqCst);
            (*s).state = COMPLETE;
            db = (*s).db;
        }
        // A running writer polls every few milliseconds, which batches the
        // records; wake it only when someone waits or the queue fills up.
        let filling_up = (*HEADER).used as usize * 4 > (*HEADER).nslots as usize;
        if wait || filling_up || !writer_registered(db) {
            wake_writer_of(db);
        }
    }
}

/// Whether a writer has registered for `db` (no liveness probe: a writer
/// unregisters when it exits, and a crash resets shared memory).
fn writer_registered(db: pg_sys::Oid) -> bool {
    // SAFETY: plain reads; a stale answer only causes or skips one wake-up,
    // and the writer polls anyway.
    unsafe { (*HEADER).writers.iter().any(|w| w.db == db && w.pid != 0) }
}

/// Whether the record of `ticket` has been written (its slot was freed).
pub fn written(ticket: Ticket) -> bool {
    if !available() {
        return true;
    }
    // SAFETY: plain read under the lock.
    unsafe {
        let _lock = Locked::exclusive();
        (*slot(ticket.slot)).generation != ticket.generation
    }
}

/// Sets the latch of the writer of `db`, or the launcher's if it has none.
pub fn wake_writer_of(db: pg_sys::Oid) {
    if !available() {
        return;
    }
    // SAFETY: latches live in shared memory; SetLatch is safe to call on any.
    unsafe {
        let mut latch = null_mut();
        {
            let _lock = Locked::exclusive();
            for w in (*HEADER).writers.iter() {
                if w.db == db && w.pid != 0 {
                    latch = w.latch;
                }
            }
            if latch.is_null() {
                latch = (*HEADER).launcher_latch;
            }
        }
        if !latch.is_null() {
            pg_sys::SetLatch(latch);
        }
    }
}

pub fn wake_launcher() {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        let latch = (*HEADER).launcher_latch;
        if !latch.is_null() {
            pg_sys::SetLatch(latch);
        }
    }
}

/// The launcher announces its latch.
pub fn set_launcher_latch(latch: *mut pg_sys::Latch) {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        (*HEADER).launcher_latch = latch;
    }
}

/// Databases with COMPLETE records waiting.
pub fn databases_with_records() -> Vec<pg_sys::Oid> {
    let mut out = Vec::new();
    if !available() {
        return out;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        for i in 0..(*HEADER).nslots {
            let s = slot(i);
            if (*s).state == COMPLETE && !out.contains(&(*s).db) {
                out.push((*s).db);
            }
        }
    }
    out
}

/// RUNNING slots whose backend is gone without completing them become
/// COMPLETE as `terminated` (the launcher calls this; a crash restart does
/// the same in `recover`).
pub fn complete_orphans() -> usize {
    if !available() {
        return 0;
    }
    let mut n = 0;
    // SAFETY: as above; kill(pid, 0) only probes for the process.
    unsafe {
        let _lock = Locked::exclusive();
        for i in 0..(*HEADER).nslots {
            let s = slot(i);
            if (*s).state != RUNNING {
                continue;
            }
            if libc::kill((*s).pid, 0) == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
                (*s).outcome = Outcome::Terminated as u32;
                (*s).duration_us = -1;
                (*s).state = COMPLETE;
                n += 1;
            }
        }
    }
    n
}

/// Registers the calling process as the writer of `db`; false if another
/// live writer has it or all writer places are taken. Records a previous
/// writer of `db` left WRITTEN are queued again (their commit may not have
/// reached the WAL on disk).
pub fn register_writer(db: pg_sys::Oid) -> bool {
    if !available() {
        return false;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        let writers = &mut (*HEADER).writers;
        for w in writers.iter_mut() {
            if w.pid != 0 && libc::kill(w.pid, 0) == -1 {
                *w = Writer { db: pg_sys::Oid::INVALID, pid: 0, latch: null_mut() };
            }
        }
        if writers.iter().any(|w| w.db == db && w.pid != 0) {
            return false;
        }
        match writers.iter_mut().find(|w| w.pid == 0) {
            Some(w) => {
                *w = Writer { db, pid: pg_sys::MyProcPid, latch: pg_sys::MyLatch };
                requeue_written(db);
                true
            }
            None => false,
        }
    }
}

/// WRITTEN slots of `db` back to COMPLETE (caller holds the lock).
unsafe fn requeue_written(db: pg_sys::Oid) {
    for i in 0..(*HEADER).nslots {
        let s = slot(i);
        if (*s).state == WRITTEN && (*s).db == db {
            (*s).state = COMPLETE;
        }
    }
}

pub fn unregister_writer() {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        for w in (*HEADER).writers.iter_mut() {
            if w.pid == pg_sys::MyProcPid {
                requeue_written(w.db);
                *w = Writer { db: pg_sys::Oid::INVALID, pid: 0, latch: null_mut() };
            }
        }
    }
}

/// Whether a live writer serves `db`.
pub fn writer_running(db: pg_sys::Oid) -> bool {
    if !available() {
        return false;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        (*HEADER).writers.iter().any(|w| w.db == db && w.pid != 0 && libc::kill(w.pid, 0) == 0)
    }
}

/// Slots in the queue.
pub fn nslots() -> u32 {
    // SAFETY: set once at shared memory startup.
    if available() {
        unsafe { (*HEADER).nslots }
    } else {
        0
    }
}

pub fn writer_count() -> usize {
    if !available() {
        return 0;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        (*HEADER).writers.iter().filter(|w| w.pid != 0).count()
    }
}

/// One record taken for writing.
pub struct Taken {
    pub ticket: Ticket,
    pub seq: u64,
    pub started_us: i64,
    pub bytes: Vec<u8>,
    pub completion: Completion,
    /// It may already be in the log (taken before).
    pub recheck: bool,
    /// A backend waits for this record to be committed.
    pub awaited: bool,
}

/// Up to `max` COMPLETE records of `db`, oldest first (they stay in their
/// slots until `release`).
pub fn take(db: pg_sys::Oid, max: usize) -> Vec<Taken> {
    let mut out = Vec::new();
    if !available() {
        return out;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        let mut picked: Vec<(u64, u32)> = Vec::new();
        for i in 0..(*HEADER).nslots {
            let s = slot(i);
            if (*s).state == COMPLETE && (*s).db == db {
                picked.push(((*s).seq, i));
            }
        }
        picked.sort_unstable();
        picked.truncate(max);
        for (seq, i) in picked {
            let s = slot(i);
            out.push(Taken {
                ticket: Ticket { slot: i, generation: (*s).generation },
                seq,
                started_us: (*s).started_us,
                bytes: std::slice::from_raw_parts(payload(i), (*s).len as usize).to_vec(),
                completion: Completion {
                    outcome: Outcome::from_u32((*s).outcome),
                    rows: ((*s).rows >= 0).then_some((*s).rows),
                    duration_us: ((*s).duration_us >= 0).then_some((*s).duration_us),
                    pii: (*s).pii != 0,
                },
                recheck: (*s).attempts > 0,
                awaited: !(*s).waiter.is_null(),
            });
            (*s).attempts += 1;
        }
    }
    out
}

/// Marks taken records as committed, to be freed once the WAL is flushed.
pub fn mark_written(taken: &[Taken]) {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        for t in taken {
            let s = slot(t.ticket.slot);
            if (*s).generation == t.ticket.generation && (*s).state == COMPLETE {
                (*s).state = WRITTEN;
            }
        }
    }
}

/// Frees the slots of written records and wakes backends waiting on them.
pub fn release(taken: &[Taken]) {
    if !available() {
        return;
    }
    let mut waiters: Vec<*mut pg_sys::Latch> = Vec::new();
    // SAFETY: as above.
    unsafe {
        {
            let _lock = Locked::exclusive();
            for w in (*HEADER).room_waiters.iter_mut() {
                if !w.is_null() {
                    waiters.push(*w);
                    *w = null_mut();
                }
            }
            for t in taken {
                let s = slot(t.ticket.slot);
                if (*s).generation == t.ticket.generation && matches!((*s).state, COMPLETE | WRITTEN) {
                    if !(*s).waiter.is_null() {
                        waiters.push((*s).waiter);
                    }
                    (*s).state = FREE;
                    (*s).generation = (*s).generation.wrapping_add(1);
                    (*s).waiter = null_mut();
                    (*s).len = 0;
                    (*HEADER).used = (*HEADER).used.saturating_sub(1);
                }
            }
        }
        for w in waiters {
            pg_sys::SetLatch(w);
        }
    }
}

/// Sleeps on this process' latch for up to `ms` milliseconds, honouring
/// query cancel and postmaster death.
pub fn nap(ms: u64) {
    crate::runtime::sleep_on_latch(std::time::Duration::from_millis(ms));
    pgrx::check_for_interrupts!();
}

/// Records of `db` in the queue (running or waiting to be written).
pub fn pending(db: pg_sys::Oid) -> usize {
    if !available() {
        return 0;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        (0..(*HEADER).nslots).filter(|&i| (*slot(i)).state != FREE && (*slot(i)).db == db).count()
    }
}

/// Frees every COMPLETE slot of `db` without writing it (the database no
/// longer has townlake installed); returns how many.
pub fn discard(db: pg_sys::Oid) -> usize {
    if !available() {
        return 0;
    }
    let mut n = 0;
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        for i in 0..(*HEADER).nslots {
            let s = slot(i);
            if matches!((*s).state, COMPLETE | WRITTEN) && (*s).db == db {
                if !(*s).waiter.is_null() {
                    pg_sys::SetLatch((*s).waiter);
                }
                (*s).state = FREE;
                (*s).generation = (*s).generation.wrapping_add(1);
                (*s).waiter = null_mut();
                (*HEADER).used = (*HEADER).used.saturating_sub(1);
                n += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: usize) -> Vec<u64> {
        // u64 backing for alignment
        vec![0u64; n * SLOT_BYTES / 8]
    }

    unsafe fn at(base: *mut u8, i: usize) -> *mut SlotHeader {
        base.add(i * SLOT_BYTES) as *mut SlotHeader
    }

    #[test]
    fn recovery_terminates_unfinished_records_and_requeues_the_rest() {
        let mut mem = slots(5);
        let base = mem.as_mut_ptr() as *mut u8;
        unsafe {
            for (i, state) in [(0, RUNNING), (1, COMPLETE), (2, WRITTEN), (3, FREE), (4, 77)] {
                let s = at(base, i);
                (*s).state = state;
                (*s).len = 10;
                (*s).seq = 10 + i as u64;
                (*s).outcome = Outcome::Ok as u32;
                (*s).duration_us = 5;
            }
            let r = recover(base, 5);
            assert_eq!((r.used, r.terminated, r.max_seq), (3, 1, 12));
            assert_eq!((*at(base, 0)).state, COMPLETE);
            assert_eq!((*at(base, 0)).outcome, Outcome::Terminated as u32);
            assert_eq!((*at(base, 0)).duration_us, -1);
            assert_eq!((*at(base, 1)).outcome, Outcome::Ok as u32);
            assert_eq!((*at(base, 2)).state, COMPLETE);
            assert_eq!((*at(base, 0)).attempts, 0);
            assert!((1..3).all(|i| (*at(base, i)).attempts == 1));
            assert_eq!((*at(base, 3)).state, FREE);
            assert_eq!((*at(base, 4)).state, FREE);
        }
    }

    #[test]
    fn recovery_frees_slots_with_impossible_lengths() {
        let mut mem = slots(2);
        let base = mem.as_mut_ptr() as *mut u8;
        unsafe {
            (*at(base, 0)).state = COMPLETE;
            (*at(base, 0)).len = PAYLOAD_BYTES as u32 + 1;
            (*at(base, 1)).state = RUNNING;
            (*at(base, 1)).len = 0;
            assert_eq!(recover(base, 2).used, 0);
            assert_eq!((*at(base, 0)).state, FREE);
            assert_eq!((*at(base, 1)).state, FREE);
        }
    }
}
