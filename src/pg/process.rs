//! The calling process as other processes see it: its pid, its PGPROC
//! number, its latch; and probing or waking other processes.

use std::ptr::null_mut;

use pgrx::pg_sys;

/// A latch in shared memory (a PGPROC's), valid in every process of one
/// postmaster lifetime, or none. Only `mine` makes one, so a value read back
/// from shared memory is one some process stored there. Structures that
/// outlive a crash restart (a file mapping) must reset theirs to `NONE`.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SharedLatch(*mut pg_sys::Latch);

impl SharedLatch {
    pub const NONE: SharedLatch = SharedLatch(null_mut());

    /// This process' latch. Backends and background workers only: there it
    /// is the PGPROC's latch, in shared memory.
    pub fn mine() -> SharedLatch {
        // SAFETY: a plain read of a backend global, set at process start.
        SharedLatch(unsafe { pg_sys::MyLatch })
    }

    pub fn is_none(self) -> bool {
        self.0.is_null()
    }

    /// Wakes the process waiting on it (nothing for `NONE`).
    pub fn set(self) {
        if !self.0.is_null() {
            // SAFETY: a PGPROC latch lives in shared memory for the whole
            // postmaster lifetime (see the type); setting one whose process
            // is gone or busy only wakes nobody.
            unsafe { pg_sys::SetLatch(self.0) };
        }
    }
}

/// This process' pid.
pub fn my_pid() -> i32 {
    // SAFETY: a plain read of a backend global, set at process start.
    unsafe { pg_sys::MyProcPid }
}

/// This process' PGPROC number; None before it has a PGPROC.
pub fn my_procno() -> Option<u32> {
    super::compat::my_proc_number()
}

/// Probes for process `pid` with signal 0: Ok when it exists and may be
/// signalled, else the errno (ESRCH: no such process; EPERM: another user's).
pub fn probe(pid: i32) -> Result<(), i32> {
    // SAFETY: kill with signal 0 delivers nothing; it only checks.
    if unsafe { libc::kill(pid, 0) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}
