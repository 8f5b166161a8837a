//! The backends' side of the queue: claiming slots for a record (within the
//! backend's and role's fair share), completing it, and waiting for it.

use std::ptr::null_mut;
use std::sync::atomic::{compiler_fence, Ordering};

use pgrx::pg_sys;

use super::*;
use crate::audit::record::Completion;

/// A claimed record: its head slot and generation (to notice when it is written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub slot: u32,
    pub generation: u32,
}

pub(super) unsafe fn set_completion(s: *mut SlotHeader, c: &Completion) {
    (*s).outcome = c.outcome as u32;
    (*s).rows = c.rows.unwrap_or(-1);
    (*s).duration_us = c.duration_us.unwrap_or(-1);
    (*s).pii = c.pii as u32;
}

/// Appends a completed head to the ready list (caller holds the lock).
pub(super) unsafe fn push_ready(i: u32) {
    let h = HEADER;
    let n = (*h).nslots;
    if (*h).ready_len >= n {
        return; // cannot happen: each head is on the list at most once
    }
    *READY.add((((*h).ready_start + (*h).ready_len) % n) as usize) = (i, (*slot(i)).db);
    (*h).ready_len += 1;
}

/// This backend's cell in the per-backend counters.
pub(super) fn my_cell() -> u32 {
    // SAFETY: MyProc is this backend's PGPROC (set before any statement runs).
    unsafe {
        if pg_sys::MyProc.is_null() {
            NONE
        } else {
            ((*pg_sys::MyProc).pgprocno as u32) % BACKEND_CELLS as u32
        }
    }
}

/// Index of `role` in the role counters (caller holds the lock); with
/// `insert`, takes a free cell for it. None: untracked.
pub(super) unsafe fn role_cell(role: pg_sys::Oid, insert: bool) -> Option<usize> {
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
pub(super) unsafe fn uncharge(s: *mut SlotHeader, parts: u32) {
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
pub(super) unsafe fn find_free_run(parts: u32) -> Option<u32> {
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
pub(super) fn writer_registered(db: pg_sys::Oid) -> bool {
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

