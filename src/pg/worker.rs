//! One background-worker launcher for every part.
//!
//! A single process, "townlake launcher", starts with the server (connected
//! to no database, so it can read only shared catalogs such as
//! pg_database) and, every tick, asks each registered kind of worker which
//! databases want one now; it starts the missing ones as dynamic workers and
//! stops persistent ones no longer wanted. Parts register their kinds and
//! per-tick work from `_PG_init`; their worker processes share
//! `in_transaction`, the signal handling and the database lookups below.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime, DynamicBackgroundWorker,
    SignalWakeFlags,
};
use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;

const LAUNCHER: &str = "townlake launcher";
/// Longest sleep between ticks (parts wake the launcher earlier: `wake`).
const TICK: Duration = Duration::from_millis(250);
/// A worker that stopped is not started again in the same database sooner.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// A kind of per-database worker.
#[derive(Clone, Copy)]
pub struct WorkerKind {
    /// Its name and type in `pg_stat_activity.backend_type`.
    pub name: &'static str,
    /// Its body, run in the new process with the database to connect to.
    pub main: fn(pg_sys::Oid),
    /// The databases that want this worker now (`dbs` lists the ones that
    /// accept connections, read on first use in each tick).
    pub wanted: fn(dbs: &mut Databases) -> Vec<pg_sys::Oid>,
    /// Told when a worker was started for a database.
    pub started: Option<fn(pg_sys::Oid)>,
    /// Kept running while wanted (restarted if it stops) and stopped when no
    /// longer wanted; otherwise started when wanted and left to exit itself.
    pub persistent: bool,
    /// Most workers of this kind at once, across databases.
    pub max_running: usize,
}

/// Work a part does in the launcher itself.
#[derive(Clone, Copy)]
pub struct LauncherTask {
    /// Once, as the launcher starts.
    pub on_start: Option<fn()>,
    /// Every tick, before workers are started.
    pub on_tick: Option<fn(&mut Databases)>,
}

// Written only from _PG_init (before the launcher starts), read after.
static mut KINDS: &[WorkerKind] = &[];
static mut TASKS: &[LauncherTask] = &[];

/// Adds a kind of worker (from `_PG_init`).
pub fn register_kind(kind: WorkerKind) {
    // SAFETY: _PG_init only, on the process' one thread; the replaced slice
    // is leaked (a few words).
    unsafe { KINDS = Box::leak([*(&raw const KINDS), &[kind]].concat().into_boxed_slice()) }
}

/// Adds work the launcher does itself (from `_PG_init`).
pub fn register_task(task: LauncherTask) {
    // SAFETY: as in `register_kind`.
    unsafe { TASKS = Box::leak([*(&raw const TASKS), &[task]].concat().into_boxed_slice()) }
}

fn kinds() -> &'static [WorkerKind] {
    // SAFETY: no writes after _PG_init.
    unsafe { *(&raw const KINDS) }
}

fn tasks() -> &'static [LauncherTask] {
    // SAFETY: no writes after _PG_init.
    unsafe { *(&raw const TASKS) }
}

/// Registers the launcher with the postmaster (from `_PG_init` while
/// shared_preload_libraries is processed).
pub fn register_launcher() {
    BackgroundWorkerBuilder::new(LAUNCHER)
        .set_type(LAUNCHER)
        .set_library("townlake")
        .set_function("townlake_launcher_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

/// The databases that accept connections, listed at most once per tick.
#[derive(Default)]
pub struct Databases {
    listed: Option<(Vec<pg_sys::Oid>, Vec<String>)>,
}

impl Databases {
    fn list(&mut self) -> &(Vec<pg_sys::Oid>, Vec<String>) {
        self.listed.get_or_insert_with(|| in_transaction(databases).unwrap_or_default().into_iter().unzip())
    }

    /// Their oids.
    pub fn all(&mut self) -> &[pg_sys::Oid] {
        &self.list().0
    }

    /// The oid of the one named `name`, if it exists and accepts connections.
    pub fn named(&mut self, name: &str) -> Option<pg_sys::Oid> {
        let (oids, names) = self.list();
        names.iter().position(|n| n == name).map(|i| oids[i])
    }
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn townlake_launcher_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(None, None);
    for f in tasks().iter().filter_map(|t| t.on_start) {
        f();
    }
    let mut running: HashMap<(usize, u32), DynamicBackgroundWorker> = HashMap::new();
    let mut last_start: HashMap<(usize, u32), Instant> = HashMap::new();
    let mut said_no_slot = false;
    while BackgroundWorker::wait_latch(Some(TICK)) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: rereads the configuration file in this process.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let mut dbs = Databases::default();
        for f in tasks().iter().filter_map(|t| t.on_tick) {
            f(&mut dbs);
        }
        running.retain(|_, handle| !matches!(handle.pid(), Err(BackgroundWorkerStatus::Stopped)));
        for (k, kind) in kinds().iter().enumerate() {
            let wanted = (kind.wanted)(&mut dbs);
            if kind.persistent {
                let unwanted: Vec<_> =
                    running.keys().filter(|(rk, db)| *rk == k && !wanted.iter().any(|w| w.to_u32() == *db)).copied().collect();
                for key in unwanted {
                    if let Some(handle) = running.remove(&key) {
                        let _ = handle.terminate().wait_for_shutdown();
                    }
                }
            }
            for db in wanted {
                let key = (k, db.to_u32());
                if running.contains_key(&key) || last_start.get(&key).is_some_and(|t| t.elapsed() < RESTART_DELAY) {
                    continue;
                }
                if running.keys().filter(|(rk, _)| *rk == k).count() >= kind.max_running {
                    break;
                }
                last_start.insert(key, Instant::now());
                match start(kind, db) {
                    Some(handle) => {
                        running.insert(key, handle);
                        said_no_slot = false;
                        if let Some(f) = kind.started {
                            f(db);
                        }
                    }
                    None if !said_no_slot => {
                        pgrx::log!("townlake: no free background worker slot for a {} (max_worker_processes); will retry", kind.name);
                        said_no_slot = true;
                    }
                    None => {}
                }
            }
        }
    }
}

fn start(kind: &WorkerKind, db: pg_sys::Oid) -> Option<DynamicBackgroundWorker> {
    // SAFETY: reads this process' pid.
    let me = unsafe { pg_sys::MyProcPid };
    BackgroundWorkerBuilder::new(kind.name)
        .set_type(kind.name)
        .set_library("townlake")
        .set_function("townlake_worker_main")
        .enable_spi_access()
        .set_argument(Some(pg_sys::Datum::from(db.to_u32() as usize)))
        .set_extra(kind.name)
        .set_notify_pid(me)
        .set_restart_time(None)
        .load_dynamic()
        .ok()
}

/// The entry point of every worker the launcher starts: runs its kind's
/// `main` (named in the worker's extra data) with its database.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn townlake_worker_main(arg: pg_sys::Datum) {
    let name = BackgroundWorker::get_extra();
    let db = pg_sys::Oid::from(arg.value() as u32);
    match kinds().iter().find(|k| k.name == name) {
        Some(kind) => (kind.main)(db),
        None => pgrx::log!("townlake: no worker kind named \"{name}\" in this library; exiting"),
    }
}

/// What a one-shot worker started with `townlake_run_main` does (the
/// scheduler's runs): set once from `_PG_init`, so every worker forked
/// from the postmaster has it.
static RUN_MAIN: std::sync::OnceLock<fn(pg_sys::Datum)> = std::sync::OnceLock::new();

/// Sets the function `townlake_run_main` runs (the first registration wins).
pub fn register_run_main(main: fn(pg_sys::Datum)) {
    let _ = RUN_MAIN.set(main);
}

/// The entry point of a one-shot worker a part starts itself (a scheduled
/// run in a worker of its own): runs the registered function with the
/// worker's argument.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn townlake_run_main(arg: pg_sys::Datum) {
    match RUN_MAIN.get() {
        Some(main) => main(arg),
        None => pgrx::log!("townlake: no run worker is registered in this library; exiting"),
    }
}

/// Runs `f` in its own top-level transaction, for a background worker.
/// Names resolve in pinned schemas only, never through a search_path the
/// database's owner set (workers run as a superuser). An ERROR aborts the
/// transaction and comes back as its message; the worker carries on.
pub fn in_transaction<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    // SAFETY: the transaction bracket every background worker uses, on its
    // main thread, outside any other transaction.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    // The caller's state after an ERROR is the caller's to judge: it gets Err.
    let outcome = PgTryBuilder::new(std::panic::AssertUnwindSafe(move || {
        let _path = crate::pg::security::PinnedSearchPath::new();
        Ok(f())
    }))
    .catch_others(|caught| {
        Err(match caught {
            CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) => e.message().to_string(),
            CaughtError::RustPanic { ereport, .. } => ereport.message().to_string(),
        })
    })
    .execute();
    // SAFETY: ends the transaction begun above, whichever way it went.
    unsafe {
        match &outcome {
            Ok(_) => {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            Err(_) => pg_sys::AbortCurrentTransaction(),
        }
        pg_sys::pgstat_report_stat(false);
    }
    outcome
}

/// Each database that accepts connections (templates excluded), as
/// (oid, name), read with a plain heap scan of pg_database: a launcher has no
/// database, so it can use neither indexes nor SPI (the autovacuum launcher
/// lists databases this way). Call inside a transaction.
pub fn databases() -> Vec<(pg_sys::Oid, String)> {
    let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
    let mut out = Vec::new();
    // SAFETY: the relation is opened, scanned and closed here inside the
    // caller's transaction; each tuple is read in place as pg_database's
    // fixed-size prefix, which is what the catalog stores first.
    unsafe {
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, lock);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let form = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tuple);
            if (*form).datallowconn && !(*form).datistemplate {
                let name = std::ffi::CStr::from_ptr((*form).datname.data.as_ptr()).to_string_lossy().into_owned();
                out.push(((*form).oid, name));
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, lock);
    }
    out
}

/// Oids of the databases that accept connections. Call inside a transaction.
pub fn connectable_databases() -> Vec<pg_sys::Oid> {
    databases().into_iter().map(|(oid, _)| oid).collect()
}

/// What the process is doing, as `pg_stat_activity.query` shows it.
pub fn report_activity(text: &str, busy: bool) {
    let text = std::ffi::CString::new(text.replace('\0', "")).unwrap_or_default();
    let state = if busy { pg_sys::BackendState::STATE_RUNNING } else { pg_sys::BackendState::STATE_IDLE };
    // SAFETY: copies the string into this backend's shared status slot.
    unsafe { pg_sys::pgstat_report_activity(state, text.as_ptr()) };
}

// Postgres' signal handlers, declared here as plain C functions (pgrx's
// bindings wrap them for calling from Rust, which a signal handler slot
// cannot hold).
unsafe extern "C-unwind" {
    fn die(signal: std::ffi::c_int);
    fn SignalHandlerForConfigReload(signal: std::ffi::c_int);
}

/// For a worker that runs long queries: SIGTERM → Postgres' `die` (the
/// process ends at the next interrupt check, even inside a query), SIGHUP →
/// the config reload flag; then signals are unblocked. Pair with
/// `check_signals` in the worker's loop.
pub fn install_die_handlers() {
    // SAFETY: called once at worker start on its only thread, before any
    // other work; these are Postgres' own handlers for exactly this use.
    unsafe {
        // 18 renamed the backend's pqsignal (a macro there).
        #[cfg(feature = "pg15")]
        use pg_sys::pqsignal;
        #[cfg(not(feature = "pg15"))]
        use pg_sys::pqsignal_be as pqsignal;
        pqsignal(pg_sys::SIGTERM as i32, Some(die));
        pqsignal(pg_sys::SIGHUP as i32, Some(SignalHandlerForConfigReload));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
}

/// Handles a pending SIGTERM (exits through FATAL) and SIGHUP (rereads the
/// configuration).
pub fn check_signals() {
    // SAFETY: reads and clears flags set by the handlers above; the calls
    // are the ones Postgres' own workers make at this point of their loop.
    unsafe {
        if pg_sys::InterruptPending != 0 {
            pg_sys::ProcessInterrupts();
        }
        if pg_sys::ConfigReloadPending != 0 {
            pg_sys::ConfigReloadPending = 0;
            pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
        }
    }
}
