//! Parallel foreign scans: the state the leader puts in dynamic shared
//! memory, from which every process claims the next unit of work (a data
//! file, a partition). Every process must list the units in the same order.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Lives in DSM; only atomics, so it may be shared between processes.
#[repr(C)]
pub struct SharedCursor {
    next: AtomicU32,
    /// The leader sees data the workers cannot (its own uncommitted
    /// writes): it reads everything itself, workers read nothing.
    leader_only: AtomicBool,
}

impl SharedCursor {
    pub fn new(leader_only: bool) -> SharedCursor {
        SharedCursor { next: AtomicU32::new(0), leader_only: AtomicBool::new(leader_only) }
    }

    /// The next unit to read (an index into the sorted units).
    pub fn claim(&self) -> usize {
        self.next.fetch_add(1, Ordering::SeqCst) as usize
    }

    /// Start over (a rescan of the parallel scan).
    pub fn reset(&self) {
        self.next.store(0, Ordering::SeqCst);
    }

    pub fn leader_only(&self) -> bool {
        self.leader_only.load(Ordering::SeqCst)
    }
}

/// How this process takes part in a parallel scan.
#[derive(Clone, Copy)]
pub struct Participant {
    pub cursor: &'static SharedCursor,
    pub is_worker: bool,
}

impl Participant {
    /// Whether this process should read nothing (a worker while the leader
    /// reads alone).
    pub fn sits_out(&self) -> bool {
        self.is_worker && self.cursor.leader_only()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_unique_and_reset() {
        let c = SharedCursor::new(false);
        assert_eq!((c.claim(), c.claim(), c.claim()), (0, 1, 2));
        c.reset();
        assert_eq!(c.claim(), 0);
    }

    #[test]
    fn workers_sit_out_when_the_leader_reads_alone() {
        let cursor: &'static SharedCursor = Box::leak(Box::new(SharedCursor::new(true)));
        assert!(Participant { cursor, is_worker: true }.sits_out());
        assert!(!Participant { cursor, is_worker: false }.sits_out());
    }
}
