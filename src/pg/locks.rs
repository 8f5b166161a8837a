//! Heavyweight locks that SQL cannot take.
//!
//! townlake's workers once claimed work with advisory locks, and any role of
//! the database can take an advisory key first and hold it (switching the PII
//! scanner off, or hiding chosen relations from it). These locks are of the
//! advisory kind, so they show in pg_locks and are released at transaction or
//! session end as usual, but their fourth tag field is one no SQL function
//! uses (`pg_advisory_*` use 1 and 2): no role can acquire the same tag.

use pgrx::pg_sys;

/// The tag field that sets these locks apart from SQL's advisory locks.
const PRIVATE_FIELD: u16 = 0x544c; // "TL"

/// How long a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Until the transaction ends.
    Transaction,
    /// Until released or the session ends.
    Session,
}

fn tag(key: u64) -> pg_sys::LOCKTAG {
    pg_sys::LOCKTAG {
        // SAFETY: a plain read of the backend's database id.
        locktag_field1: unsafe { pg_sys::MyDatabaseId }.to_u32(),
        locktag_field2: (key >> 32) as u32,
        locktag_field3: key as u32,
        locktag_field4: PRIVATE_FIELD,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}

/// Take the exclusive lock `key` of this database, waiting for it (the wait
/// can be cancelled like any lock wait).
pub fn lock(key: u64, hold: Hold) {
    let tag = tag(key);
    // SAFETY: a valid tag; errors (deadlock, cancel) are raised by Postgres
    // through pgrx's guard.
    unsafe {
        pg_sys::LockAcquire(&tag, pg_sys::ExclusiveLock as pg_sys::LOCKMODE, hold == Hold::Session, false);
    }
}

/// Take the exclusive lock `key` of this database if it is free.
pub fn try_lock(key: u64, hold: Hold) -> bool {
    let tag = tag(key);
    // SAFETY: as in `lock`.
    let got = unsafe { pg_sys::LockAcquire(&tag, pg_sys::ExclusiveLock as pg_sys::LOCKMODE, hold == Hold::Session, true) };
    got != pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL
}
