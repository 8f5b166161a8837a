//! The backends' side of the queue: claiming slots for a record (within the
//! backend's and role's fair share), completing it, and waiting for it.

use std::cell::Cell;
use std::sync::atomic::{compiler_fence, Ordering};

use pgrx::pg_sys;

use super::*;
use crate::audit::record::Completion;
use crate::pg::process::{my_pid, my_procno, SharedLatch};

thread_local! {
    /// Index of the role cell this process used last (`Queue::role_cell`).
    static ROLE_HINT: Cell<usize> = const { Cell::new(0) };
}

/// A claimed record: its head slot and generation (to notice when it is written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub slot: u32,
    pub generation: u32,
}

pub(super) fn set_completion(s: &mut SlotHeader, c: &Completion) {
    s.outcome = c.outcome as u32;
    s.rows = c.rows.unwrap_or(-1);
    s.duration_us = c.duration_us.unwrap_or(-1);
    s.pii = c.pii as u32;
}

impl Queue<'_> {
    /// Appends a completed head to the ready list.
    pub(super) fn push_ready(&mut self, i: u32) {
        let n = self.h.nslots;
        if self.h.ready_len >= n {
            return; // cannot happen: each head is on the list at most once
        }
        let db = self.slot(i).db;
        let at = self.h.ready_start + self.h.ready_len;
        *self.ready_at(at) = (i, db);
        self.h.ready_len += 1;
    }

    /// Index of `role` in the role counters; with `insert`, takes a free
    /// cell for it. None: untracked.
    pub(super) fn role_cell(&mut self, role: pg_sys::Oid, insert: bool) -> Option<usize> {
        let roles = &mut self.h.roles;
        // the cell this process found last: a backend's role rarely changes,
        // and the scan below reads all 256 cells when the role has none
        let hint = ROLE_HINT.with(Cell::get);
        if let Some(r) = roles.get(hint) {
            if r.role == role && r.slots > 0 {
                return Some(hint);
            }
        }
        let mut free = None;
        for (k, r) in roles.iter().enumerate() {
            if r.role == role && (r.slots > 0 || !insert) {
                ROLE_HINT.with(|h| h.set(k));
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
        ROLE_HINT.with(|h| h.set(k));
        Some(k)
    }

    /// Takes the charge for `parts` slots of the record at `i` off its owner.
    pub(super) fn uncharge(&mut self, i: u32, parts: u32) {
        let (cell, role) = (self.slot(i).owner_cell, self.slot(i).role);
        if cell != NONE && (cell as usize) < BACKEND_CELLS {
            let b = &mut self.h.backend_slots[cell as usize];
            *b = b.saturating_sub(parts);
            if let Some(k) = self.role_cell(role, false) {
                let r = &mut self.h.roles[k];
                r.slots = r.slots.saturating_sub(parts);
            }
        }
        self.slot(i).owner_cell = NONE;
    }

    /// A run of `parts` FREE slots, searched from the free hint.
    pub(super) fn find_free_run(&mut self, parts: u32) -> Option<u32> {
        let n = self.h.nslots;
        let hint = self.h.free_hint;
        let mut k = 0;
        while k < n {
            let i = (hint + k) % n;
            if i + parts > n {
                // a run does not wrap around the end
                k += n - i;
                continue;
            }
            match (0..parts).find(|&p| self.state_of(i + p) != FREE) {
                None => return Some(i),
                Some(p) => k += p + 1,
            }
        }
        None
    }

    /// Slots charged to the backend in `cell`.
    fn held_by(&self, cell: u32) -> u32 {
        if cell == NONE {
            0
        } else {
            self.h.backend_slots[cell as usize]
        }
    }
}

/// This backend's cell in the per-backend counters.
pub(super) fn my_cell() -> u32 {
    my_procno().map_or(NONE, |n| n % BACKEND_CELLS as u32)
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
    let len = bytes.len().min(MAX_RECORD_BYTES);
    let parts = len.div_ceil(PAYLOAD_BYTES).max(1) as u32;
    let cell = my_cell();
    shared::locked(|q| {
        let n = q.h.nslots;
        let mine = q.held_by(cell);
        let theirs = q.role_cell(role, false).map_or(0, |k| q.h.roles[k].slots);
        // a backend holding nothing may always claim one record, so a share
        // smaller than a long record does not lock it out
        let refusal = if mine > 0 && mine + parts > shares.backend {
            Some(Refusal::BackendShare)
        } else if theirs > 0 && theirs + parts > shares.role {
            Some(Refusal::RoleShare)
        } else if q.h.used + parts > n {
            Some(Refusal::Full)
        } else {
            None
        };
        let found = if refusal.is_none() { q.find_free_run(parts) } else { None };
        let Some(i) = found else {
            // ask to be woken when slots free up
            let me = SharedLatch::mine();
            let waiters = &mut q.h.room_waiters;
            if !waiters.contains(&me) {
                if let Some(w) = waiters.iter_mut().find(|w| w.is_none()) {
                    *w = me;
                }
            }
            return Err(refusal.unwrap_or(Refusal::Full));
        };
        let seq = q.h.next_seq;
        let pid = my_pid();
        for p in 0..parts {
            let from = p as usize * PAYLOAD_BYTES;
            let chunk = &bytes[from..len.min(from + PAYLOAD_BYTES)];
            let slot = &mut q.slots[(i + p) as usize];
            slot.payload[..chunk.len()].copy_from_slice(chunk);
            let s = &mut slot.header;
            s.db = db;
            s.pid = pid;
            s.seq = seq;
            s.owner_cell = NONE;
            if p > 0 {
                s.len = 0;
                s.parts = 0;
                compiler_fence(Ordering::SeqCst);
                s.state = CONT;
            }
        }
        let s = q.slot(i);
        s.len = len as u32;
        s.parts = parts;
        s.started_us = started_us;
        s.waiter = SharedLatch::NONE;
        s.attempts = 0;
        s.owner_cell = cell;
        s.role = role;
        set_completion(s, done.unwrap_or(&Completion::running()));
        // the record is complete in the file before its state says so
        compiler_fence(Ordering::SeqCst);
        s.state = if done.is_some() { COMPLETE } else { RUNNING };
        let generation = s.generation;
        // listed now, also while RUNNING: completing it then needs no lock
        q.push_ready(i);
        if cell != NONE {
            q.h.backend_slots[cell as usize] += parts;
            if let Some(k) = q.role_cell(role, true) {
                q.h.roles[k].slots += parts;
            }
        }
        q.h.next_seq += 1;
        q.h.free_hint = (i + parts) % n;
        q.h.used += parts;
        Ok(Ticket { slot: i, generation })
    })
    .unwrap_or(Err(Refusal::Full))
}

/// Counts a claim that had to wait for its share (`refused`: and then
/// gave up, or a record that could not be queued at all).
pub fn count(refused: bool) {
    shared::locked(|q| {
        if refused {
            q.h.refused += 1;
        } else {
            q.h.throttled += 1;
        }
    });
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
    let cell = my_cell();
    shared::locked(|q| Stats {
        mine: q.held_by(cell),
        slots: q.h.nslots,
        used: q.h.used,
        refused: q.h.refused,
        throttled: q.h.throttled,
        unwritten: q
            .slots
            .iter()
            .filter(|s| matches!(s.header.state, RUNNING | COMPLETE))
            .map(|s| s.header.parts.max(1))
            .sum(),
    })
    .unwrap_or(Stats { slots: 0, used: 0, unwritten: 0, refused: 0, throttled: 0, mine: 0 })
}

/// Completes the record of a RUNNING slot; with `wait`, registers this
/// backend's latch to be set once the record is written. Outcome `Open`
/// writes the record of a statement still running (its end is recorded
/// separately), so its slot does not stay taken for as long as it runs.
/// The writer is woken when this backend holds `nudge_at` slots or more.
/// No lock: the record is already on the ready list, and only this backend
/// changes its RUNNING slot (see `shared::complete_own`).
pub fn complete(ticket: Ticket, c: &Completion, wait: bool, nudge_at: u32) {
    let waiter = if wait { SharedLatch::mine() } else { SharedLatch::NONE };
    let Some(db) = shared::complete_own(ticket, c, waiter) else { return };
    let mine = shared::backend_held(my_cell());
    // A running writer polls every few milliseconds, which batches the
    // records; wake it only when someone waits, records not yet taken
    // fill a quarter of the queue, or this backend is halfway through
    // its share (so a busy session is not held back by the polling
    // interval).
    let waiting = shared::ready_len().unwrap_or(0);
    let filling_up = waiting as usize * 4 > nslots() as usize;
    if wait || filling_up || mine >= nudge_at || !writer_registered(db) {
        wake_writer_of(db);
    }
}

/// Whether a writer has registered for `db` (no liveness probe: a writer
/// unregisters when it exits, and a crash resets shared memory). Read
/// without the lock: a stale answer only causes or skips one wake-up, and
/// the writer polls anyway.
pub(super) fn writer_registered(db: pg_sys::Oid) -> bool {
    shared::writers().is_some_and(|ws| ws.iter().any(|w| w.db == db && w.pid != 0))
}

/// Whether the record of `ticket` has been written (its slot was freed).
pub fn written(ticket: Ticket) -> bool {
    shared::locked(|q| q.slot(ticket.slot).generation != ticket.generation).unwrap_or(true)
}

/// Sets the latch of the writer of `db`, or the launcher's if it has none.
/// The latches are read without the lock: a stale one only wakes a process
/// for nothing, or the writer finds the records at its next poll.
pub fn wake_writer_of(db: pg_sys::Oid) {
    let Some(writers) = shared::writers() else { return };
    let mut latch = writers.iter().find(|w| w.db == db && w.pid != 0).map_or(SharedLatch::NONE, |w| w.latch);
    if latch.is_none() {
        latch = shared::launcher_latch().unwrap_or(SharedLatch::NONE);
    }
    latch.set();
}

pub fn wake_launcher() {
    shared::launcher_latch().unwrap_or(SharedLatch::NONE).set();
}
