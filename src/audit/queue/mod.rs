//! The audit queue: a fixed array of slots in a file of the data directory
//! mapped into every process (see spool.rs). A record takes one slot, or a
//! run of adjacent slots when it is longer than one slot's payload (a head
//! slot and CONT slots).
//!
//! A backend claims slots when a statement on governed data starts (state
//! RUNNING, with the record's JSON; the head goes onto the ready list, where
//! the writer of its database (see worker.rs) finds it without looking at
//! any other slot), and completes them when the statement ends, errors or
//! the backend exits (state COMPLETE; only the outcome, rows, duration and
//! PII flag are written then, in the slot header, by the backend alone and
//! without the lock: one lock round trip per statement). Writers take the
//! COMPLETE heads of the list and leave the RUNNING ones in place. Writers copy the
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
//! memory), except a backend's RUNNING -> COMPLETE of its own record, an
//! atomic release store that others load atomically. A slot's JSON is written before its state, so a process killed in
//! the middle leaves a FREE slot, never a half-written record. Latch pointers
//! stored here point into shared memory (PGPROC), valid in every process of
//! one postmaster lifetime, and are cleared at a restart.

use pgrx::pg_sys;

use super::record::Outcome;
use super::spool;
use crate::pg::process::SharedLatch;
use crate::pg::shmem::LwLock;

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
    latch: SharedLatch,
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
    lock: LwLock,
    launcher_latch: SharedLatch,
    next_seq: u64,
    nslots: u32,
    /// Where to start looking for a free slot.
    free_hint: u32,
    /// Slots not FREE.
    used: u32,
    /// Whether the slots are in a file (survive a crash restart).
    spooled: bool,
    /// Latches of backends waiting for a free slot (set by `release`).
    room_waiters: [SharedLatch; ROOM_WAITERS],
    writers: [Writer; MAX_WRITERS],
    /// Ready list: a ring of (head slot, database) of RUNNING and COMPLETE
    /// records not yet taken by a writer, in claim order; each head is on it
    /// at most once.
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
    pub waiter: SharedLatch,
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

/// One slot: its header, then the record's bytes (or a part of them).
#[repr(C)]
pub struct Slot {
    pub header: SlotHeader,
    pub payload: [u8; PAYLOAD_BYTES],
}

const _: () = assert!(std::mem::size_of::<Slot>() == SLOT_BYTES);

impl Slot {
    /// A FREE slot (tests build queues of these).
    #[cfg(test)]
    pub fn free() -> Slot {
        Slot {
            header: SlotHeader {
                state: FREE,
                generation: 0,
                db: pg_sys::Oid::INVALID,
                pid: 0,
                seq: 0,
                started_us: 0,
                len: 0,
                outcome: 0,
                rows: 0,
                duration_us: 0,
                pii: 0,
                attempts: 0,
                waiter: SharedLatch::NONE,
                parts: 0,
                owner_cell: 0,
                role: pg_sys::Oid::INVALID,
            },
            payload: [0; PAYLOAD_BYTES],
        }
    }
}

const TRANCHE: &std::ffi::CStr = c"townlake_audit";
const SEGMENT: &std::ffi::CStr = c"townlake audit queue";
const READY_SEGMENT: &std::ffi::CStr = c"townlake audit ready list";

/// Requests shared memory for the queue header (from `_PG_init` while
/// shared_preload_libraries is being processed).
pub fn request(nslots: u32) {
    shared::set_requested(nslots);
    crate::pg::shmem::register(crate::pg::shmem::SharedMemory { request: on_shmem_request, startup: on_shmem_startup });
}

fn ready_bytes(nslots: u32) -> usize {
    nslots as usize * std::mem::size_of::<(u32, pg_sys::Oid)>()
}

fn on_shmem_request() {
    let n = shared::requested();
    crate::pg::shmem::request(std::mem::size_of::<Header>() + ready_bytes(n), TRANCHE, 1);
}

/// Runs in the postmaster at startup and after every crash restart (all other
/// processes are gone then): maps the spool file and recovers its records.
fn on_shmem_startup() {
    crate::pg::shmem::with_addin_init_lock(init_queue);
}

fn init_queue() {
    let n = shared::requested();
    let (header, found) = crate::pg::shmem::init_struct(SEGMENT, std::mem::size_of::<Header>());
    let (ready, _) = crate::pg::shmem::init_struct(READY_SEGMENT, ready_bytes(n));
    let Some(q) = shared::attach(header, ready, found, n) else { return };
    q.h.lock = crate::pg::shmem::named_lock(TRANCHE);
    q.h.nslots = n;
    let r = recover(q.slots);
    q.h.used = r.used;
    q.h.next_seq = r.max_seq + 1;
    // every recovered record is ready, oldest first
    let mut heads: Vec<(u64, u32)> = q
        .slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.header.state == COMPLETE)
        .map(|(i, s)| (s.header.seq, i as u32))
        .collect();
    heads.sort_unstable();
    for (k, (_, i)) in heads.iter().enumerate() {
        q.ready[k] = (*i, q.slots[*i as usize].header.db);
    }
    q.h.ready_start = 0;
    q.h.ready_len = heads.len() as u32;
    if r.used > 0 {
        pgrx::log!(
            "townlake: {} audit records from before the restart are queued again ({} of them unfinished, now terminated)",
            heads.len(),
            r.terminated
        );
    }
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
pub fn recover(slots: &mut [Slot]) -> Recovered {
    let nslots = slots.len() as u32;
    let mut r = Recovered { used: 0, terminated: 0, max_seq: 0 };
    // continuation slots that belong to a well-formed head
    let mut owned = vec![false; nslots as usize];
    for i in 0..nslots {
        let s = &mut slots[i as usize].header;
        s.waiter = SharedLatch::NONE;
        s.owner_cell = NONE;
        match s.state {
            FREE | CONT => continue,
            RUNNING | COMPLETE | WRITTEN => {}
            _ => {
                free_slot(s);
                continue;
            }
        }
        let (parts, len, seq) = (s.parts.max(1), s.len, s.seq);
        let fits = len > 0
            && len as usize <= parts as usize * PAYLOAD_BYTES
            && parts as usize <= MAX_PARTS
            && i + parts <= nslots
            && (1..parts).all(|k| {
                let c = &slots[(i + k) as usize].header;
                c.state == CONT && c.seq == seq
            });
        if !fits {
            free_slot(&mut slots[i as usize].header);
            continue;
        }
        for k in 1..parts {
            owned[(i + k) as usize] = true;
            slots[(i + k) as usize].header.owner_cell = NONE;
        }
        let s = &mut slots[i as usize].header;
        s.parts = parts;
        if s.state == RUNNING {
            // never taken by a writer: cannot be in the log
            s.outcome = Outcome::Terminated as u32;
            s.duration_us = -1;
            r.terminated += 1;
        } else {
            // may be in the log already (a commit not yet flushed may be lost)
            s.attempts = s.attempts.max(1);
        }
        s.state = COMPLETE;
        r.used += parts;
        r.max_seq = r.max_seq.max(s.seq);
    }
    for (i, slot) in slots.iter_mut().enumerate() {
        if slot.header.state == CONT && !owned[i] {
            free_slot(&mut slot.header);
        }
    }
    r
}

fn free_slot(s: &mut SlotHeader) {
    s.state = FREE;
    s.len = 0;
    s.parts = 0;
}

/// Whether the queue exists (townlake was preloaded).
pub fn available() -> bool {
    shared::attached()
}

/// Whether records survive a crash restart (the spool file could be mapped).
pub fn spooled() -> bool {
    shared::spooled().unwrap_or(false)
}

/// The queue while its lock is held: the header, the ready ring and the
/// slots, as plain Rust references (see `shared::locked`).
pub(super) struct Queue<'a> {
    h: &'a mut Header,
    /// The ready ring: `nslots` entries of (head slot, database).
    ready: &'a mut [(u32, pg_sys::Oid)],
    slots: &'a mut [Slot],
}

impl Queue<'_> {
    fn slot(&mut self, i: u32) -> &mut SlotHeader {
        &mut self.slots[i as usize].header
    }

    /// The state of slot `i`, loaded atomically: a backend completes its
    /// RUNNING record without the lock (`shared::complete_own`).
    fn state_of(&mut self, i: u32) -> u32 {
        let s = &mut self.slots[i as usize].header.state;
        // SAFETY: a valid, aligned u32 of the mapped queue; the only access
        // to it outside the lock is `complete_own`'s atomic store.
        unsafe { std::sync::atomic::AtomicU32::from_ptr(s).load(std::sync::atomic::Ordering::Acquire) }
    }

    fn ready_at(&mut self, k: u32) -> &mut (u32, pg_sys::Oid) {
        let n = self.h.nslots;
        &mut self.ready[(k % n) as usize]
    }
}

/// The only code that reaches the queue's shared structures through raw
/// pointers: everything else sees them as a `Queue` under the lock, or
/// through `peek!`'s readers for the few fields read without it.
mod shared {
    use std::ptr::null_mut;

    use pgrx::pg_sys;

    use super::{Header, Queue, Slot, SLOT_BYTES};

    // Set in the postmaster at shared memory startup (inherited by every
    // child), read-only in every other process.
    static mut HEADER: *mut Header = null_mut();
    /// The ready ring (nslots entries of (slot, db)), in Postgres' shared memory.
    static mut READY: *mut (u32, pg_sys::Oid) = null_mut();
    /// The mapped slots (inherited by every child of the postmaster).
    static mut SLOTS: *mut Slot = null_mut();
    static mut NSLOTS_REQUESTED: u32 = 0;

    pub(super) fn set_requested(nslots: u32) {
        // SAFETY: _PG_init of a preloaded library, on the postmaster's main thread.
        unsafe { NSLOTS_REQUESTED = nslots };
    }

    pub(super) fn requested() -> u32 {
        // SAFETY: written once in _PG_init, before any reader.
        unsafe { NSLOTS_REQUESTED }
    }

    pub(super) fn attached() -> bool {
        // SAFETY: set once at shared memory startup.
        unsafe { !(*(&raw const HEADER)).is_null() }
    }

    /// At shared memory startup, in the postmaster under AddinShmemInitLock:
    /// takes the header and ready ring Postgres made and, when the header is
    /// new, zeroes it, maps the spool file and returns the queue to set up.
    pub(super) fn attach(header: *mut u8, ready: *mut u8, found: bool, nslots: u32) -> Option<Queue<'static>> {
        let header = header as *mut Header;
        let ready = ready as *mut (u32, pg_sys::Oid);
        // SAFETY: the postmaster, with no other process attached (startup or
        // a crash restart, after every child is gone): the structures are
        // ours alone. Both have the sizes requested for `nslots`; a zeroed
        // header is valid (null pointers, zero counters); the spool mapping
        // holds `nslots` slots of SLOT_BYTES, page-aligned.
        unsafe {
            HEADER = header;
            READY = ready;
            if found {
                return None;
            }
            std::ptr::write_bytes(header as *mut u8, 0, std::mem::size_of::<Header>());
            let mapped = super::spool::map(nslots, SLOT_BYTES);
            SLOTS = mapped.base as *mut Slot;
            (*header).spooled = mapped.file_backed;
            Some(Queue {
                h: &mut *header,
                ready: std::slice::from_raw_parts_mut(ready, nslots as usize),
                slots: std::slice::from_raw_parts_mut(SLOTS, nslots as usize),
            })
        }
    }

    /// Runs `f` on the queue under its lock; None when there is no queue.
    pub(super) fn locked<R>(f: impl FnOnce(&mut Queue) -> R) -> Option<R> {
        if !attached() {
            return None;
        }
        // SAFETY: the header exists (attached) and its lock field was set at
        // startup, before any other process existed.
        let _guard = unsafe { (*HEADER).lock }.exclusive();
        // SAFETY: every process changes the header, the ring and the slots
        // only under this lock (the `peek!` readers read a few fields without
        // it, never through a reference), so while it is held these are the only
        // references to them; they do not outlive `f`.
        let mut q = unsafe {
            let n = (*HEADER).nslots as usize;
            Queue {
                h: &mut *HEADER,
                ready: std::slice::from_raw_parts_mut(READY, n),
                slots: std::slice::from_raw_parts_mut(SLOTS, n),
            }
        };
        Some(f(&mut q))
    }

    /// Reads one header field without the lock: for fields set once at
    /// startup, or heuristics that tolerate a stale value.
    macro_rules! peek {
        ($(#[$doc:meta])* $name:ident: $field:ident -> $t:ty) => {
            $(#[$doc])*
            pub(super) fn $name() -> Option<$t> {
                if !attached() {
                    return None;
                }
                // SAFETY: a volatile copy of one field of plain data
                // (integers, and latches valid whatever their value, see
                // SharedLatch) in the header, which exists (attached): a
                // stale value is one some process wrote, and no reference
                // into memory other processes change is made.
                Some(unsafe { std::ptr::read_volatile(&raw const (*HEADER).$field) })
            }
        };
    }

    /// Completes the RUNNING record of `ticket` without the lock, if this
    /// process claimed it (see `claim::complete`); returns its database.
    pub(super) fn complete_own(
        ticket: super::claim::Ticket,
        c: &crate::audit::record::Completion,
        waiter: crate::pg::process::SharedLatch,
    ) -> Option<pg_sys::Oid> {
        use std::sync::atomic::{AtomicU32, Ordering};
        if !attached() {
            return None;
        }
        // SAFETY: the slot index came from a claim of this queue (checked
        // against its size). A RUNNING slot claimed by this (live) process
        // is changed by no other process: writers take COMPLETE records
        // only, the launcher completes RUNNING ones of dead processes only,
        // and recovery runs with no backend alive. So while its state is
        // RUNNING and its pid ours, its header is ours alone, except that
        // writers and the launcher load `state` atomically (`state_of`) to
        // pass it by; the completion fields are published by the release
        // store of `state`, which pairs with their acquire load. No
        // reference to the header is made, only field accesses.
        unsafe {
            if ticket.slot >= (*HEADER).nslots {
                return None;
            }
            let s = &raw mut (*SLOTS.add(ticket.slot as usize)).header;
            let state = AtomicU32::from_ptr(&raw mut (*s).state);
            if state.load(Ordering::Acquire) != super::RUNNING
                || (*s).generation != ticket.generation
                || (*s).pid != crate::pg::process::my_pid()
            {
                return None;
            }
            (*s).outcome = c.outcome as u32;
            (*s).rows = c.rows.unwrap_or(-1);
            (*s).duration_us = c.duration_us.unwrap_or(-1);
            (*s).pii = c.pii as u32;
            (*s).waiter = waiter;
            state.store(super::COMPLETE, Ordering::Release);
            Some((*s).db)
        }
    }

    /// Slots charged to backend cell `cell`, read without the lock (a
    /// heuristic: when to wake the writer).
    pub(super) fn backend_held(cell: u32) -> u32 {
        if !attached() || cell as usize >= super::BACKEND_CELLS {
            return 0;
        }
        // SAFETY: a volatile copy of one integer of the header (see `peek!`).
        unsafe { std::ptr::read_volatile(&raw const (*HEADER).backend_slots[cell as usize]) }
    }

    peek!(nslots: nslots -> u32);
    peek!(spooled: spooled -> bool);
    peek!(used: used -> u32);
    peek!(ready_len: ready_len -> u32);
    peek!(writers: writers -> [super::Writer; super::MAX_WRITERS]);
    peek!(launcher_latch: launcher_latch -> super::SharedLatch);

    /// Runs `f` on the slots of a record this process took for writing,
    /// without the lock.
    pub(super) fn with_taken<R>(head: u32, f: impl FnOnce(&[Slot]) -> R) -> R {
        // SAFETY: callers pass a record they took under the lock: once
        // COMPLETE and taken, a record's slots change only when its writer
        // (this process) frees them, or when the launcher discards the
        // records of a dropped database (which has no writer). `parts` was
        // checked against the queue's size when the record was claimed or
        // recovered.
        unsafe {
            let s = SLOTS.add(head as usize);
            let parts = (*s).header.parts.max(1) as usize;
            f(std::slice::from_raw_parts(s, parts))
        }
    }
}

mod claim;
mod drain;

pub use claim::*;
pub use drain::*;
