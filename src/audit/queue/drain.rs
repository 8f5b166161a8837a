//! The workers' side of the queue: the launcher's view (which databases have
//! records, orphans of vanished backends) and the writers' (register, take a
//! batch, mark it written, free it once flushed).

use pgrx::pg_sys;

use super::*;
use crate::audit::record::{Completion, Outcome};
use crate::pg::process::{my_pid, probe, SharedLatch};

/// The launcher announces its latch (the calling process').
pub fn announce_launcher() {
    shared::locked(|q| q.h.launcher_latch = SharedLatch::mine());
}

/// Databases with COMPLETE records waiting (RUNNING ones need no writer yet).
pub fn databases_with_records() -> Vec<pg_sys::Oid> {
    shared::locked(|q| {
        let mut out = Vec::new();
        for k in 0..q.h.ready_len {
            let (i, db) = *q.ready_at(q.h.ready_start + k);
            if !out.contains(&db) && q.state_of(i) == COMPLETE {
                out.push(db);
            }
        }
        out
    })
    .unwrap_or_default()
}

/// RUNNING slots whose backend is gone without completing them become
/// COMPLETE as `terminated` (the launcher calls this; a crash restart does
/// the same in `recover`).
pub fn complete_orphans() -> usize {
    shared::locked(|q| {
        let mut n = 0;
        let mut listed: Option<Vec<bool>> = None;
        for i in 0..q.h.nslots {
            if q.state_of(i) != RUNNING {
                continue;
            }
            let s = q.slot(i);
            if probe(s.pid) == Err(libc::ESRCH) {
                s.outcome = Outcome::Terminated as u32;
                s.duration_us = -1;
                s.state = COMPLETE;
                // RUNNING records are listed from their claim on; list it
                // if some path left it off
                let listed = listed.get_or_insert_with(|| q.listed());
                if !listed[i as usize] {
                    q.push_ready(i);
                }
                n += 1;
            }
        }
        n
    })
    .unwrap_or(0)
}

/// Registers the calling process as the writer of `db`; false if another
/// live writer has it or all writer places are taken. Records a previous
/// writer of `db` left WRITTEN are queued again (their commit may not have
/// reached the WAL on disk).
pub fn register_writer(db: pg_sys::Oid) -> bool {
    shared::locked(|q| {
        let writers = &mut q.h.writers;
        for w in writers.iter_mut() {
            if w.pid != 0 && probe(w.pid).is_err() {
                *w = Writer { db: pg_sys::Oid::INVALID, pid: 0, latch: SharedLatch::NONE };
            }
        }
        if writers.iter().any(|w| w.db == db && w.pid != 0) {
            return false;
        }
        match writers.iter_mut().find(|w| w.pid == 0) {
            Some(w) => {
                *w = Writer { db, pid: my_pid(), latch: SharedLatch::mine() };
                q.requeue_taken(db);
                true
            }
            None => false,
        }
    })
    .unwrap_or(false)
}

impl Queue<'_> {
    /// Records of `db` a writer took and did not free go back on the ready
    /// list: WRITTEN ones (their commit may not be flushed), and COMPLETE
    /// ones no longer on the list (taken, then the writer died).
    /// Which slots are on the ready list.
    pub(super) fn listed(&mut self) -> Vec<bool> {
        let mut listed = vec![false; self.h.nslots as usize];
        for k in 0..self.h.ready_len {
            listed[self.ready_at(self.h.ready_start + k).0 as usize] = true;
        }
        listed
    }

    pub(super) fn requeue_taken(&mut self, db: pg_sys::Oid) {
        let n = self.h.nslots;
        let listed = self.listed();
        for i in 0..n {
            let state = self.state_of(i);
            let s = self.slot(i);
            if s.db != db || listed[i as usize] {
                continue;
            }
            if state == WRITTEN || (state == COMPLETE && s.attempts > 0) {
                s.state = COMPLETE;
                self.push_ready(i);
            }
        }
    }

    /// Moves the latches of backends waiting for room to `out`.
    pub(super) fn take_room_waiters(&mut self, out: &mut Vec<SharedLatch>) {
        for w in self.h.room_waiters.iter_mut() {
            if !w.is_none() {
                out.push(*w);
                *w = SharedLatch::NONE;
            }
        }
    }

    /// Frees a record's slots; returns the latch of a backend waiting for it.
    pub(super) fn free_record(&mut self, i: u32) -> SharedLatch {
        let parts = self.slot(i).parts.max(1);
        let waiter = self.slot(i).waiter;
        self.uncharge(i, parts);
        for p in (1..parts).rev() {
            free_slot(self.slot(i + p));
        }
        let s = self.slot(i);
        free_slot(s);
        s.generation = s.generation.wrapping_add(1);
        s.waiter = SharedLatch::NONE;
        self.h.used = self.h.used.saturating_sub(parts);
        waiter
    }
}

pub fn unregister_writer() {
    let me = my_pid();
    shared::locked(|q| {
        for k in 0..MAX_WRITERS {
            let w = q.h.writers[k];
            if w.pid == me {
                q.requeue_taken(w.db);
                q.h.writers[k] = Writer { db: pg_sys::Oid::INVALID, pid: 0, latch: SharedLatch::NONE };
            }
        }
    });
}

/// Whether a live writer serves `db`.
pub fn writer_running(db: pg_sys::Oid) -> bool {
    shared::locked(|q| q.h.writers.iter().any(|w| w.db == db && w.pid != 0 && probe(w.pid).is_ok())).unwrap_or(false)
}

/// Slots in use (a racy read: for heuristics only).
pub fn used() -> u32 {
    shared::used().unwrap_or(0)
}

/// Slots in the queue.
pub fn nslots() -> u32 {
    shared::nslots().unwrap_or(0)
}

pub fn writer_count() -> usize {
    shared::locked(|q| q.h.writers.iter().filter(|w| w.pid != 0).count()).unwrap_or(0)
}

/// One record taken for writing.
pub struct Taken {
    pub ticket: Ticket,
    pub seq: u64,
    pub started_us: i64,
    /// Where its JSON is in the buffer `take` filled.
    pub bytes: std::ops::Range<usize>,
    pub completion: Completion,
    /// It may already be in the log (taken before).
    pub recheck: bool,
    /// A backend waits for this record to be committed.
    pub awaited: bool,
}

/// Up to `max` records of `db` from the ready list, in the order they
/// completed (they stay in their slots until `release`). Their JSON is
/// copied into `buf` (emptied first; one buffer for the whole batch) after
/// the lock is released (see `shared::with_taken`).
pub fn take(db: pg_sys::Oid, max: usize, buf: &mut Vec<u8>) -> Vec<Taken> {
    buf.clear();
    let picked = shared::locked(|q| {
        let mut picked: Vec<(u32, u32)> = Vec::new();
        let (start, len) = (q.h.ready_start, q.h.ready_len);
        // take this database's entries, keep the others in order
        let mut kept = 0u32;
        for k in 0..len {
            let e = *q.ready_at(start + k);
            // RUNNING records stay listed until they complete
            let state = q.state_of(e.0);
            let s = q.slot(e.0);
            if e.1 == db && picked.len() < max && state == COMPLETE && s.db == db {
                picked.push((e.0, s.generation));
                s.attempts += 1;
            } else if e.1 != db || matches!(state, COMPLETE | RUNNING) {
                *q.ready_at(start + kept) = e;
                kept += 1;
            }
        }
        q.h.ready_len = kept;
        picked
    })
    .unwrap_or_default();
    picked
        .into_iter()
        .map(|(i, generation)| {
            shared::with_taken(i, |slots| {
                let s = &slots[0].header;
                let len = s.len as usize;
                let start = buf.len();
                for slot in slots {
                    let chunk = (len - (buf.len() - start)).min(PAYLOAD_BYTES);
                    if chunk == 0 {
                        break;
                    }
                    buf.extend_from_slice(&slot.payload[..chunk]);
                }
                let bytes = start..buf.len();
                Taken {
                    ticket: Ticket { slot: i, generation },
                    seq: s.seq,
                    started_us: s.started_us,
                    bytes,
                    completion: Completion {
                        outcome: Outcome::from_u32(s.outcome),
                        rows: (s.rows >= 0).then_some(s.rows),
                        duration_us: (s.duration_us >= 0).then_some(s.duration_us),
                        pii: s.pii != 0,
                    },
                    recheck: s.attempts > 1,
                    awaited: !s.waiter.is_none(),
                }
            })
        })
        .collect()
}

/// Marks taken records as committed, to be freed once the WAL is flushed;
/// they no longer count against their backend's and role's shares, so
/// backends waiting for their share are woken.
pub fn mark_written(taken: &[Taken]) {
    let waiters = shared::locked(|q| {
        let mut waiters = Vec::new();
        q.take_room_waiters(&mut waiters);
        for t in taken {
            let s = q.slot(t.ticket.slot);
            if s.generation == t.ticket.generation && s.state == COMPLETE {
                s.state = WRITTEN;
                // a share is for records the writer has not done yet:
                // waiting for the WAL flush is not the owner's doing
                let parts = s.parts.max(1);
                q.uncharge(t.ticket.slot, parts);
            }
        }
        waiters
    });
    for w in waiters.unwrap_or_default() {
        w.set();
    }
}

/// Frees the slots of written records and wakes backends waiting on them.
pub fn release(taken: &[Taken]) {
    let waiters = shared::locked(|q| {
        let mut waiters = Vec::new();
        q.take_room_waiters(&mut waiters);
        for t in taken {
            let s = q.slot(t.ticket.slot);
            if s.generation == t.ticket.generation && matches!(s.state, COMPLETE | WRITTEN) {
                let w = q.free_record(t.ticket.slot);
                if !w.is_none() {
                    waiters.push(w);
                }
            }
        }
        waiters
    });
    for w in waiters.unwrap_or_default() {
        w.set();
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
    shared::locked(|q| {
        q.slots.iter().filter(|s| matches!(s.header.state, RUNNING | COMPLETE | WRITTEN) && s.header.db == db).count()
    })
    .unwrap_or(0)
}

/// Frees every COMPLETE slot of `db` without writing it (the database no
/// longer has townlake installed); returns how many.
pub fn discard(db: pg_sys::Oid) -> usize {
    let waiters = shared::locked(|q| {
        let mut waiters = Vec::new();
        let (start, len, ns) = (q.h.ready_start, q.h.ready_len, q.h.nslots);
        let mut kept = 0u32;
        for k in 0..len {
            let e = *q.ready_at(start + k);
            // RUNNING ones stay listed: they are discarded once complete
            if e.1 != db || q.state_of(e.0) == RUNNING {
                *q.ready_at(start + kept) = e;
                kept += 1;
            }
        }
        q.h.ready_len = kept;
        // a record that completed since it was kept on the list above stays
        // for the next discard (freeing a listed slot would leave its entry
        // behind, pointing at whatever claims the slot next)
        let listed = q.listed();
        for i in 0..ns {
            let state = q.state_of(i);
            let s = q.slot(i);
            if matches!(state, COMPLETE | WRITTEN) && s.db == db && !listed[i as usize] {
                waiters.push(q.free_record(i));
            }
        }
        waiters
    });
    let waiters = waiters.unwrap_or_default();
    let n = waiters.len();
    for w in waiters {
        w.set();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(n: usize) -> Vec<Slot> {
        (0..n).map(|_| Slot::free()).collect()
    }

    #[test]
    fn recovery_terminates_unfinished_records_and_requeues_the_rest() {
        let mut mem = slots(5);
        for (i, state) in [(0, RUNNING), (1, COMPLETE), (2, WRITTEN), (3, FREE), (4, 77)] {
            let s = &mut mem[i].header;
            s.state = state;
            s.len = 10;
            s.parts = 1;
            s.seq = 10 + i as u64;
            s.outcome = Outcome::Ok as u32;
            s.duration_us = 5;
        }
        let r = recover(&mut mem);
        let at = |i: usize| &mem[i].header;
        assert_eq!((r.used, r.terminated, r.max_seq), (3, 1, 12));
        assert_eq!(at(0).state, COMPLETE);
        assert_eq!(at(0).outcome, Outcome::Terminated as u32);
        assert_eq!(at(0).duration_us, -1);
        assert_eq!(at(1).outcome, Outcome::Ok as u32);
        assert_eq!(at(2).state, COMPLETE);
        assert_eq!(at(0).attempts, 0);
        assert!((1..3).all(|i| at(i).attempts == 1));
        assert_eq!(at(3).state, FREE);
        assert_eq!(at(4).state, FREE);
    }

    #[test]
    fn recovery_frees_slots_with_impossible_lengths() {
        let mut mem = slots(2);
        mem[0].header.state = COMPLETE;
        mem[0].header.len = PAYLOAD_BYTES as u32 + 1;
        mem[0].header.parts = 1;
        mem[1].header.state = RUNNING;
        mem[1].header.len = 0;
        assert_eq!(recover(&mut mem).used, 0);
        assert_eq!(mem[0].header.state, FREE);
        assert_eq!(mem[1].header.state, FREE);
    }

    #[test]
    fn recovery_keeps_long_records_whole_and_frees_broken_ones() {
        let mut mem = slots(6);
        // 0..3: a record over three slots
        mem[0].header.state = COMPLETE;
        mem[0].header.parts = 3;
        mem[0].header.len = 2 * PAYLOAD_BYTES as u32 + 5;
        mem[0].header.seq = 7;
        for i in 1..3 {
            mem[i].header.state = CONT;
            mem[i].header.seq = 7;
        }
        // 3..5: a head whose continuation belongs to another record
        mem[3].header.state = RUNNING;
        mem[3].header.parts = 2;
        mem[3].header.len = PAYLOAD_BYTES as u32 + 1;
        mem[3].header.seq = 8;
        mem[4].header.state = CONT;
        mem[4].header.seq = 99;
        // 5: a stray continuation
        mem[5].header.state = CONT;
        let r = recover(&mut mem);
        assert_eq!((r.used, r.terminated, r.max_seq), (3, 0, 7));
        assert_eq!(mem[0].header.state, COMPLETE);
        assert!((1..3).all(|i| mem[i].header.state == CONT));
        assert!((3..6).all(|i| mem[i].header.state == FREE));
    }
}
