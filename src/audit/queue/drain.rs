//! The workers' side of the queue: the launcher's view (which databases have
//! records, orphans of vanished backends) and the writers' (register, take a
//! batch, mark it written, free it once flushed).

use std::ptr::null_mut;

use pgrx::pg_sys;

use super::*;
use crate::audit::record::{Completion, Outcome};

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
pub(super) unsafe fn requeue_taken(db: pg_sys::Oid) {
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
pub(super) unsafe fn take_room_waiters(out: &mut Vec<*mut pg_sys::Latch>) {
    for w in (*HEADER).room_waiters.iter_mut() {
        if !w.is_null() {
            out.push(*w);
            *w = null_mut();
        }
    }
}

/// Frees a record's slots (caller holds the lock); returns a latch to set.
pub(super) unsafe fn free_record(i: u32) -> *mut pg_sys::Latch {
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
