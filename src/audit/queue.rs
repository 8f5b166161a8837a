//! The audit queue in shared memory: a fixed array of slots, one record each.
//!
//! A backend claims a slot when a statement on governed data starts (state
//! RUNNING, with what is known so far), and completes it when the statement
//! ends, errors or the backend exits (state COMPLETE). Writers (one per
//! database, see worker.rs) copy COMPLETE slots of their database into
//! `lake.audit_log` and free them after their transaction commits. Slots live
//! outside any transaction, so ROLLBACK and ERROR do not lose records; a
//! RUNNING slot whose backend vanished is completed by the launcher.
//!
//! All slot state changes happen under one LWLock. Latch pointers stored here
//! point into shared memory (PGPROC), valid in every process.

use std::ptr::null_mut;

use pgrx::pg_sys;

/// Bytes per slot (header included).
pub const SLOT_BYTES: usize = 8192;
/// Writers (databases being written) at the same time.
pub const MAX_WRITERS: usize = 8;
/// Backends that can wait for room in a full queue and be woken for it.
const ROOM_WAITERS: usize = 64;

const FREE: u32 = 0;
const RUNNING: u32 = 1;
const COMPLETE: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy)]
struct Writer {
    db: pg_sys::Oid,
    pid: i32,
    latch: *mut pg_sys::Latch,
}

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
    /// Latches of backends waiting for a free slot (set by `release`).
    room_waiters: [*mut pg_sys::Latch; ROOM_WAITERS],
    writers: [Writer; MAX_WRITERS],
}

#[repr(C)]
struct SlotHeader {
    state: u32,
    /// Bumped whenever the slot is freed, so a waiter knows its record is written.
    generation: u32,
    db: pg_sys::Oid,
    pid: i32,
    seq: u64,
    len: u32,
    /// Latch of a backend waiting for this record to be written.
    waiter: *mut pg_sys::Latch,
}

pub const PAYLOAD_BYTES: usize = SLOT_BYTES - std::mem::size_of::<SlotHeader>();

static mut HEADER: *mut Header = null_mut();
static mut NSLOTS_REQUESTED: u32 = 0;
static mut PREV_SHMEM_REQUEST: pg_sys::shmem_request_hook_type = None;
static mut PREV_SHMEM_STARTUP: pg_sys::shmem_startup_hook_type = None;

const TRANCHE: &std::ffi::CStr = c"townlake_audit";
const SEGMENT: &std::ffi::CStr = c"townlake audit queue";

fn header_bytes() -> usize {
    // slots start on a SLOT_BYTES boundary after the header
    std::mem::size_of::<Header>().div_ceil(64) * 64
}

fn total_bytes(nslots: u32) -> usize {
    header_bytes() + nslots as usize * SLOT_BYTES
}

/// Requests shared memory for `nslots` slots (from `_PG_init` while
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
    pg_sys::RequestAddinShmemSpace(total_bytes(NSLOTS_REQUESTED));
    pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 1);
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_shmem_startup() {
    if let Some(prev) = PREV_SHMEM_STARTUP {
        prev();
    }
    // AddinShmemInitLock, as Postgres' own addins use it.
    let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
    pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
    let mut found = false;
    let base = pg_sys::ShmemInitStruct(SEGMENT.as_ptr(), total_bytes(NSLOTS_REQUESTED), &mut found);
    let header = base as *mut Header;
    if !found {
        std::ptr::write_bytes(base as *mut u8, 0, total_bytes(NSLOTS_REQUESTED));
        (*header).lock = &raw mut (*pg_sys::GetNamedLWLockTranche(TRANCHE.as_ptr())).lock;
        (*header).nslots = NSLOTS_REQUESTED;
        (*header).next_seq = 1;
    }
    HEADER = header;
    pg_sys::LWLockRelease(init_lock);
}

/// Whether the queue exists (townlake was preloaded).
pub fn available() -> bool {
    // SAFETY: set once at shared memory startup.
    unsafe { !HEADER.is_null() }
}

unsafe fn slot(i: u32) -> *mut SlotHeader {
    (HEADER as *mut u8).add(header_bytes() + i as usize * SLOT_BYTES) as *mut SlotHeader
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

unsafe fn write_payload(i: u32, bytes: &[u8]) {
    let n = bytes.len().min(PAYLOAD_BYTES);
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), payload(i), n);
    (*slot(i)).len = n as u32;
}

/// Claims a free slot for database `db` with `bytes` as its provisional
/// record; None if the queue is full.
pub fn try_claim(db: pg_sys::Oid, bytes: &[u8], complete: bool) -> Option<Ticket> {
    if !available() {
        return None;
    }
    // SAFETY: slot memory is only touched under the queue lock.
    unsafe {
        let _lock = Locked::exclusive();
        let n = (*HEADER).nslots;
        for k in 0..n {
            let i = ((*HEADER).free_hint + k) % n;
            let s = slot(i);
            if (*s).state == FREE {
                (*s).state = if complete { COMPLETE } else { RUNNING };
                (*s).db = db;
                (*s).pid = pg_sys::MyProcPid;
                (*s).seq = (*HEADER).next_seq;
                (*s).waiter = null_mut();
                (*HEADER).next_seq += 1;
                (*HEADER).free_hint = (i + 1) % n;
                (*HEADER).used += 1;
                write_payload(i, bytes);
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

/// Replaces the record of a RUNNING slot and marks it COMPLETE; with `wait`,
/// registers this backend's latch to be set once the record is written.
pub fn complete(ticket: Ticket, bytes: &[u8], wait: bool) {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        {
            let _lock = Locked::exclusive();
            let s = slot(ticket.slot);
            if (*s).generation != ticket.generation || (*s).state != RUNNING || (*s).pid != pg_sys::MyProcPid {
                return;
            }
            write_payload(ticket.slot, bytes);
            (*s).state = COMPLETE;
            (*s).waiter = if wait { pg_sys::MyLatch } else { null_mut() };
        }
        // A running writer polls every few milliseconds, which batches the
        // records; wake it only when someone waits or the queue fills up.
        let db = slot_db(ticket.slot);
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

unsafe fn slot_db(i: u32) -> pg_sys::Oid {
    (*slot(i)).db
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

/// RUNNING slots whose backend is gone become COMPLETE with `mark` applied to
/// their record (the launcher calls this).
pub fn complete_orphans(mark: impl Fn(&[u8]) -> Vec<u8>) -> usize {
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
                let old = std::slice::from_raw_parts(payload(i), (*s).len as usize).to_vec();
                write_payload(i, &mark(&old));
                (*s).state = COMPLETE;
                n += 1;
            }
        }
    }
    n
}

/// Registers the calling process as the writer of `db`; false if another
/// live writer has it or all writer places are taken.
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
                true
            }
            None => false,
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
    pub bytes: Vec<u8>,
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
        for i in 0..(*HEADER).nslots {
            let s = slot(i);
            if (*s).state == COMPLETE && (*s).db == db {
                out.push(Taken {
                    ticket: Ticket { slot: i, generation: (*s).generation },
                    seq: (*s).seq,
                    bytes: std::slice::from_raw_parts(payload(i), (*s).len as usize).to_vec(),
                    awaited: !(*s).waiter.is_null(),
                });
            }
        }
    }
    out.sort_by_key(|t| t.seq);
    out.truncate(max);
    out
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
                if (*s).generation == t.ticket.generation && (*s).state == COMPLETE {
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
pub fn nap(ms: i64) {
    // SAFETY: standard latch wait of the current process.
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms as _,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
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
            if (*s).state == COMPLETE && (*s).db == db {
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
