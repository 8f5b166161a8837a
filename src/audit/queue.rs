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

/// A claimed record: its head slot and generation (to notice when it is written).
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

/// Appends a completed head to the ready list (caller holds the lock).
unsafe fn push_ready(i: u32) {
    let h = HEADER;
    let n = (*h).nslots;
    if (*h).ready_len >= n {
        return; // cannot happen: each head is on the list at most once
    }
    *READY.add((((*h).ready_start + (*h).ready_len) % n) as usize) = (i, (*slot(i)).db);
    (*h).ready_len += 1;
}

/// This backend's cell in the per-backend counters.
fn my_cell() -> u32 {
    crate::pg::compat::my_proc_number().map_or(NONE, |n| n % BACKEND_CELLS as u32)
}

/// Index of `role` in the role counters (caller holds the lock); with
/// `insert`, takes a free cell for it. None: untracked.
unsafe fn role_cell(role: pg_sys::Oid, insert: bool) -> Option<usize> {
    let roles = &mut (*HEADER).roles;
    let mut free = None;
    for (k, r) in roles.iter().enumerate() {
        if r.role == role && (r.slots > 0 || !insert) {
            return Some(k);
        }
        if r.slots == 0 && free.is_none() {
            free = Some(k);
        }
    }
    if !insert {
        return None;
    }
    let k = free?;
    roles[k] = RoleUse { role, slots: 0 };
    Some(k)
}

/// Takes the charge for `parts` slots off their owner (caller holds the lock).
unsafe fn uncharge(s: *mut SlotHeader, parts: u32) {
    let cell = (*s).owner_cell;
    if cell != NONE && (cell as usize) < BACKEND_CELLS {
        let b = &mut (*HEADER).backend_slots[cell as usize];
        *b = b.saturating_sub(parts);
        if let Some(k) = role_cell((*s).role, false) {
            let r = &mut (*HEADER).roles[k];
            r.slots = r.slots.saturating_sub(parts);
        }
    }
    (*s).owner_cell = NONE;
}

/// How much of the queue a claim may use.
#[derive(Clone, Copy, Debug)]
pub struct Shares {
    /// Slots one backend may hold.
    pub backend: u32,
    /// Slots all backends of one role together may hold.
    pub role: u32,
}

/// Why a claim did not get its slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The queue is full.
    Full,
    /// This backend holds its share: it waits for its own records.
    BackendShare,
    /// Its role holds its share.
    RoleShare,
}

/// A run of `parts` FREE slots, searched from the free hint (caller holds the lock).
unsafe fn find_free_run(parts: u32) -> Option<u32> {
    let n = (*HEADER).nslots;
    let hint = (*HEADER).free_hint;
    let mut k = 0;
    while k < n {
        let i = (hint + k) % n;
        if i + parts > n {
            // a run does not wrap around the end
            k += n - i;
            continue;
        }
        match (0..parts).find(|&p| (*slot(i + p)).state != FREE) {
            None => return Some(i),
            Some(p) => k += p + 1,
        }
    }
    None
}

/// Claims slots for database `db` with `bytes` as its record (of at most
/// MAX_RECORD_BYTES), RUNNING or, with `done`, COMPLETE; charged to this
/// backend and `role` within `shares`.
pub fn try_claim(
    db: pg_sys::Oid,
    role: pg_sys::Oid,
    shares: Shares,
    started_us: i64,
    bytes: &[u8],
    done: Option<&Completion>,
) -> Result<Ticket, Refusal> {
    if !available() {
        return Err(Refusal::Full);
    }
    let len = bytes.len().min(MAX_RECORD_BYTES);
    let parts = len.div_ceil(PAYLOAD_BYTES).max(1) as u32;
    let cell = my_cell();
    // SAFETY: slot memory is only touched under the queue lock.
    unsafe {
        let _lock = Locked::exclusive();
        let h = HEADER;
        let n = (*h).nslots;
        let mine = if cell == NONE { 0 } else { (*h).backend_slots[cell as usize] };
        let theirs = role_cell(role, false).map_or(0, |k| (*h).roles[k].slots);
        // a backend holding nothing may always claim one record, so a share
        // smaller than a long record does not lock it out
        let refusal = if mine > 0 && mine + parts > shares.backend {
            Some(Refusal::BackendShare)
        } else if theirs > 0 && theirs + parts > shares.role {
            Some(Refusal::RoleShare)
        } else if (*h).used + parts > n {
            Some(Refusal::Full)
        } else {
            None
        };
        let found = if refusal.is_none() { find_free_run(parts) } else { None };
        let Some(i) = found else {
            // ask to be woken when slots free up
            let me = pg_sys::MyLatch;
            let waiters = &mut (*h).room_waiters;
            if !waiters.contains(&me) {
                if let Some(w) = waiters.iter_mut().find(|w| w.is_null()) {
                    *w = me;
                }
            }
            return Err(refusal.unwrap_or(Refusal::Full));
        };
        let seq = (*h).next_seq;
        for p in 0..parts {
            let from = p as usize * PAYLOAD_BYTES;
            let chunk = &bytes[from..len.min(from + PAYLOAD_BYTES)];
            std::ptr::copy_nonoverlapping(chunk.as_ptr(), payload(i + p), chunk.len());
            let s = slot(i + p);
            (*s).db = db;
            (*s).pid = pg_sys::MyProcPid;
            (*s).seq = seq;
            (*s).owner_cell = NONE;
            if p > 0 {
                (*s).len = 0;
                (*s).parts = 0;
                compiler_fence(Ordering::SeqCst);
                (*s).state = CONT;
            }
        }
        let s = slot(i);
        (*s).len = len as u32;
        (*s).parts = parts;
        (*s).started_us = started_us;
        (*s).waiter = null_mut();
        (*s).attempts = 0;
        (*s).owner_cell = cell;
        (*s).role = role;
        set_completion(s, done.unwrap_or(&Completion::running()));
        // the record is complete in the file before its state says so
        compiler_fence(Ordering::SeqCst);
        (*s).state = if done.is_some() { COMPLETE } else { RUNNING };
        if done.is_some() {
            push_ready(i);
        }
        if cell != NONE {
            (*h).backend_slots[cell as usize] += parts;
            if let Some(k) = role_cell(role, true) {
                (*h).roles[k].slots += parts;
            }
        }
        (*h).next_seq += 1;
        (*h).free_hint = (i + parts) % n;
        (*h).used += parts;
        Ok(Ticket { slot: i, generation: (*s).generation })
    }
}

/// Counts a claim that had to wait for its share (`refused`: and then
/// gave up, or a record that could not be queued at all).
pub fn count(refused: bool) {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        if refused {
            (*HEADER).refused += 1;
        } else {
            (*HEADER).throttled += 1;
        }
    }
}

/// Queue counters.
pub struct Stats {
    pub slots: u32,
    /// Slots not FREE.
    pub used: u32,
    /// Slots of records not yet in the log (running or waiting for the writer).
    pub unwritten: u32,
    pub refused: u64,
    pub throttled: u64,
    /// Slots charged to this backend.
    pub mine: u32,
}

pub fn stats() -> Stats {
    let mut st = Stats { slots: 0, used: 0, unwritten: 0, refused: 0, throttled: 0, mine: 0 };
    if !available() {
        return st;
    }
    let cell = my_cell();
    // SAFETY: as above.
    unsafe {
        let _lock = Locked::exclusive();
        let h = HEADER;
        st.mine = if cell == NONE { 0 } else { (*h).backend_slots[cell as usize] };
        (st.slots, st.used, st.refused, st.throttled) = ((*h).nslots, (*h).used, (*h).refused, (*h).throttled);
        for i in 0..(*h).nslots {
            let s = slot(i);
            if matches!((*s).state, RUNNING | COMPLETE) {
                st.unwritten += (*s).parts.max(1);
            }
        }
    }
    st
}

/// Completes the record of a RUNNING slot; with `wait`, registers this
/// backend's latch to be set once the record is written. Outcome `Open`
/// writes the record of a statement still running (its end is recorded
/// separately), so its slot does not stay taken for as long as it runs.
/// The writer is woken when this backend holds `nudge_at` slots or more.
pub fn complete(ticket: Ticket, c: &Completion, wait: bool, nudge_at: u32) {
    if !available() {
        return;
    }
    // SAFETY: as above.
    unsafe {
        let db;
        let mine;
        {
            let _lock = Locked::exclusive();
            let cell = my_cell();
            mine = if cell == NONE { 0 } else { (*HEADER).backend_slots[cell as usize] };
            let s = slot(ticket.slot);
            if (*s).generation != ticket.generation || (*s).state != RUNNING || (*s).pid != pg_sys::MyProcPid {
                return;
            }
            set_completion(s, c);
            (*s).waiter = if wait { pg_sys::MyLatch } else { null_mut() };
            compiler_fence(Ordering::SeqCst);
            (*s).state = COMPLETE;
            push_ready(ticket.slot);
            db = (*s).db;
        }
        // A running writer polls every few milliseconds, which batches the
        // records; wake it only when someone waits, records not yet taken
        // fill a quarter of the queue, or this backend is halfway through
        // its share (so a busy session is not held back by the polling
        // interval).
        let waiting = std::ptr::read_volatile(&raw const (*HEADER).ready_len);
        let filling_up = waiting as usize * 4 > (*HEADER).nslots as usize;
        if wait || filling_up || mine >= nudge_at || !writer_registered(db) {
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
    // SAFETY: latches live in shared memory (PGPROC) for the whole postmaster
    // lifetime, so a latch read without the lock, even a stale one, is safe
    // to set: at worst a process is woken for nothing, or the writer finds
    // the records at its next poll.
    unsafe {
        let writers = std::ptr::read_volatile(&raw const (*HEADER).writers);
        let mut latch = writers.iter().find(|w| w.db == db && w.pid != 0).map_or(null_mut(), |w| w.latch);
        if latch.is_null() {
            latch = std::ptr::read_volatile(&raw const (*HEADER).launcher_latch);
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
        let h = HEADER;
        for k in 0..(*h).ready_len {
            let (_, db) = *READY.add((((*h).ready_start + k) % (*h).nslots) as usize);
            if !out.contains(&db) {
                out.push(db);
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
                push_ready(i);
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
                requeue_taken(db);
                true
            }
            None => false,
        }
    }
}

/// Records of `db` a writer took and did not free go back on the ready list
/// (caller holds the lock): WRITTEN ones (their commit may not be flushed),
/// and COMPLETE ones no longer on the list (taken, then the writer died).
unsafe fn requeue_taken(db: pg_sys::Oid) {
    let h = HEADER;
    let n = (*h).nslots;
    let mut listed = vec![false; n as usize];
    for k in 0..(*h).ready_len {
        listed[(*READY.add((((*h).ready_start + k) % n) as usize)).0 as usize] = true;
    }
    for i in 0..n {
        let s = slot(i);
        if (*s).db != db || listed[i as usize] {
            continue;
        }
        if (*s).state == WRITTEN || ((*s).state == COMPLETE && (*s).attempts > 0) {
            (*s).state = COMPLETE;
            push_ready(i);
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
                requeue_taken(w.db);
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

/// Slots in use (a racy read: for heuristics only).
pub fn used() -> u32 {
    // SAFETY: a plain read of a counter.
    if available() {
        unsafe { std::ptr::read_volatile(&raw const (*HEADER).used) }
    } else {
        0
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

/// Up to `max` records of `db` from the ready list, in the order they
/// completed (they stay in their slots until `release`).
pub fn take(db: pg_sys::Oid, max: usize) -> Vec<Taken> {
    let mut out = Vec::new();
    if !available() {
        return out;
    }
    let mut picked: Vec<(u32, u32)> = Vec::new();
    // SAFETY: as above. Once COMPLETE, a record's slots change only when this
    // writer frees them (or the launcher discards the records of a dropped
    // database, which has no writer), so they are copied after the lock is
    // released.
    unsafe {
        let _lock = Locked::exclusive();
        let h = HEADER;
        let n = (*h).nslots;
        let (start, len) = ((*h).ready_start, (*h).ready_len);
        // take this database's entries, keep the others in order
        let mut kept = 0u32;
        for k in 0..len {
            let e = *READY.add(((start + k) % n) as usize);
            let s = slot(e.0);
            if e.1 == db && picked.len() < max && (*s).state == COMPLETE && (*s).db == db {
                picked.push((e.0, (*s).generation));
                (*s).attempts += 1;
            } else if e.1 != db || (*s).state == COMPLETE {
                *READY.add(((start + kept) % n) as usize) = e;
                kept += 1;
            }
        }
        (*h).ready_len = kept;
    }
    for (i, generation) in picked {
        // SAFETY: see above.
        unsafe {
            let s = slot(i);
            let len = (*s).len as usize;
            let mut bytes = Vec::with_capacity(len);
            let mut p = 0;
            while bytes.len() < len {
                let chunk = (len - bytes.len()).min(PAYLOAD_BYTES);
                bytes.extend_from_slice(std::slice::from_raw_parts(payload(i + p), chunk));
                p += 1;
            }
            out.push(Taken {
                ticket: Ticket { slot: i, generation },
                seq: (*s).seq,
                started_us: (*s).started_us,
                bytes,
                completion: Completion {
                    outcome: Outcome::from_u32((*s).outcome),
                    rows: ((*s).rows >= 0).then_some((*s).rows),
                    duration_us: ((*s).duration_us >= 0).then_some((*s).duration_us),
                    pii: (*s).pii != 0,
                },
                recheck: (*s).attempts > 1,
                awaited: !(*s).waiter.is_null(),
            });
        }
    }
    out
}

/// Marks taken records as committed, to be freed once the WAL is flushed;
/// they no longer count against their backend's and role's shares, so
/// backends waiting for their share are woken.
pub fn mark_written(taken: &[Taken]) {
    if !available() {
        return;
    }
    let mut waiters: Vec<*mut pg_sys::Latch> = Vec::new();
    // SAFETY: as above.
    unsafe {
        {
            let _lock = Locked::exclusive();
            take_room_waiters(&mut waiters);
            for t in taken {
                let s = slot(t.ticket.slot);
                if (*s).generation == t.ticket.generation && (*s).state == COMPLETE {
                    (*s).state = WRITTEN;
                    // a share is for records the writer has not done yet:
                    // waiting for the WAL flush is not the owner's doing
                    uncharge(s, (*s).parts.max(1));
                }
            }
        }
        for w in waiters {
            pg_sys::SetLatch(w);
        }
    }
}

/// Moves the latches of backends waiting for room to `out` (caller holds the lock).
unsafe fn take_room_waiters(out: &mut Vec<*mut pg_sys::Latch>) {
    for w in (*HEADER).room_waiters.iter_mut() {
        if !w.is_null() {
            out.push(*w);
            *w = null_mut();
        }
    }
}

/// Frees a record's slots (caller holds the lock); returns a latch to set.
unsafe fn free_record(i: u32) -> *mut pg_sys::Latch {
    let s = slot(i);
    let parts = (*s).parts.max(1);
    let waiter = (*s).waiter;
    uncharge(s, parts);
    for p in (1..parts).rev() {
        free_slot(slot(i + p));
    }
    free_slot(s);
    (*s).generation = (*s).generation.wrapping_add(1);
    (*s).waiter = null_mut();
    (*HEADER).used = (*HEADER).used.saturating_sub(parts);
    waiter
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
            take_room_waiters(&mut waiters);
            for t in taken {
                let s = slot(t.ticket.slot);
                if (*s).generation == t.ticket.generation && matches!((*s).state, COMPLETE | WRITTEN) {
                    let w = free_record(t.ticket.slot);
                    if !w.is_null() {
                        waiters.push(w);
                    }
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
        (0..(*HEADER).nslots)
            .filter(|&i| matches!((*slot(i)).state, RUNNING | COMPLETE | WRITTEN) && (*slot(i)).db == db)
            .count()
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
        let h = HEADER;
        let (start, len, ns) = ((*h).ready_start, (*h).ready_len, (*h).nslots);
        let mut kept = 0u32;
        for k in 0..len {
            let e = *READY.add(((start + k) % ns) as usize);
            if e.1 != db {
                *READY.add(((start + kept) % ns) as usize) = e;
                kept += 1;
            }
        }
        (*h).ready_len = kept;
        for i in 0..ns {
            let s = slot(i);
            if matches!((*s).state, COMPLETE | WRITTEN) && (*s).db == db {
                let w = free_record(i);
                if !w.is_null() {
                    pg_sys::SetLatch(w);
                }
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
                (*s).parts = 1;
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
            (*at(base, 0)).parts = 1;
            (*at(base, 1)).state = RUNNING;
            (*at(base, 1)).len = 0;
            assert_eq!(recover(base, 2).used, 0);
            assert_eq!((*at(base, 0)).state, FREE);
            assert_eq!((*at(base, 1)).state, FREE);
        }
    }

    #[test]
    fn recovery_keeps_long_records_whole_and_frees_broken_ones() {
        let mut mem = slots(6);
        let base = mem.as_mut_ptr() as *mut u8;
        unsafe {
            // 0..3: a record over three slots
            (*at(base, 0)).state = COMPLETE;
            (*at(base, 0)).parts = 3;
            (*at(base, 0)).len = 2 * PAYLOAD_BYTES as u32 + 5;
            (*at(base, 0)).seq = 7;
            for i in 1..3 {
                (*at(base, i)).state = CONT;
                (*at(base, i)).seq = 7;
            }
            // 3..5: a head whose continuation belongs to another record
            (*at(base, 3)).state = RUNNING;
            (*at(base, 3)).parts = 2;
            (*at(base, 3)).len = PAYLOAD_BYTES as u32 + 1;
            (*at(base, 3)).seq = 8;
            (*at(base, 4)).state = CONT;
            (*at(base, 4)).seq = 99;
            // 5: a stray continuation
            (*at(base, 5)).state = CONT;
            let r = recover(base, 6);
            assert_eq!((r.used, r.terminated, r.max_seq), (3, 0, 7));
            assert_eq!((*at(base, 0)).state, COMPLETE);
            assert!((1..3).all(|i| (*at(base, i)).state == CONT));
            assert!((3..6).all(|i| (*at(base, i)).state == FREE));
        }
    }
}
