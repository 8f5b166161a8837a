//! The per-backend async runtime.
//!
//! Created on first use in each backend (a runtime does not survive fork, so
//! never in `_PG_init`), with two worker threads that block every signal so
//! Postgres' handlers only ever run on the backend thread. `block_on` runs on
//! the backend thread and wakes every 100 ms to honour query cancel and
//! `statement_timeout`.

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::time::Duration;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

fn block_all_signals() {
    // SAFETY: plain libc calls on the new thread's own signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

pub fn runtime() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(4)
            .thread_name("townlake-io")
            .on_thread_start(block_all_signals)
            .enable_all()
            .build()
            .expect("cannot start the townlake I/O runtime")
    })
}

pub fn iceberg_runtime() -> iceberg::Runtime {
    iceberg::Runtime::new(runtime())
}

/// Run `fut` to completion on the backend thread, checking for interrupts
/// (cancel, statement_timeout, termination) while it waits.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let rt = runtime();
    let mut fut = pin!(fut);
    loop {
        let step = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(100), fut.as_mut()).await
        });
        match step {
            Ok(out) => return out,
            // Raises an ERROR (unwinding out of here, dropping the future)
            // when an interrupt is pending.
            Err(_) => {
                pgrx::check_for_interrupts!();
            }
        }
    }
}

/// Sleeps on this process' latch until it is set or `timeout` passes (exits
/// if the postmaster dies). Callers handle interrupts as their process needs.
pub fn sleep_on_latch(timeout: std::time::Duration) {
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i64;
    // SAFETY: the standard latch wait of the current process.
    unsafe {
        pgrx::pg_sys::WaitLatch(
            pgrx::pg_sys::MyLatch,
            (pgrx::pg_sys::WL_LATCH_SET | pgrx::pg_sys::WL_TIMEOUT | pgrx::pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms as _,
            pgrx::pg_sys::PG_WAIT_EXTENSION,
        );
        pgrx::pg_sys::ResetLatch(pgrx::pg_sys::MyLatch);
    }
}
