//! Facts about the current backend process.

use pgrx::pg_sys;

/// Whether this process is a parallel worker of another backend's query
/// (the leader ran the checks that are done once per statement).
pub fn is_parallel_worker() -> bool {
    // SAFETY: plain read of a backend global.
    unsafe { pg_sys::ParallelWorkerNumber >= 0 }
}

/// Whether this process is a background worker (townlake's own, or another
/// extension's).
pub fn is_background_worker() -> bool {
    super::compat::is_background_worker()
}
