//! The background scanner. Two processes:
//!
//! * "townlake pii launcher" (registered at preload, connected to no
//!   database) watches `townlake.pii_scan_database` and
//!   `townlake.pii_scanner_enabled`, and keeps one scanner running for that
//!   database while it exists — restarting it if it stops, replacing it when
//!   the setting changes. (A worker cannot switch databases, and one that
//!   connects to a missing database dies at start, so the launcher checks
//!   first.)
//! * "townlake pii scanner" (dynamic, one database) scans the most urgent
//!   queued relation, rests, and repeats; while the extension is not installed
//!   in its database it only waits.
//!
//! SIGTERM uses Postgres' own `die` handler (the process ends at the next
//! interrupt check, even inside a long query); SIGHUP rereads the settings.
//! Every relation is scanned in its own transaction with a statement and
//! lock timeout, and errors are recorded, never allowed to crash anything.

use std::ffi::CString;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime, DynamicBackgroundWorker};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;

use super::{IO_SHARE, NAPTIME, SCANNER_ENABLED, SCAN_DATABASE};

const LAUNCHER: &str = "townlake pii launcher";
const SCANNER: &str = "townlake pii scanner";

pub fn register() {
    BackgroundWorkerBuilder::new(LAUNCHER)
        .set_type(LAUNCHER)
        .set_library("townlake")
        .set_function("townlake_pii_launcher_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(10)))
        .load();
}

// ---------------------------------------------------------------- shims

// Postgres' signal handlers, declared here as plain C functions (pgrx's
// bindings wrap them for calling from Rust, which a signal handler slot
// cannot hold).
unsafe extern "C-unwind" {
    fn die(signal: std::ffi::c_int);
    fn SignalHandlerForConfigReload(signal: std::ffi::c_int);
}

/// SIGTERM → `die`, SIGHUP → config reload flag; then unblock signals.
fn install_signal_handlers() {
    // SAFETY: called once at worker start on its only thread, before any
    // other work; these are Postgres' own handlers for exactly this use.
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(die));
        pg_sys::pqsignal(pg_sys::SIGHUP as i32, Some(SignalHandlerForConfigReload));
        pg_sys::BackgroundWorkerUnblockSignals();
    }
}

/// Handles a pending SIGTERM (exits through FATAL) and SIGHUP (rereads the
/// configuration).
fn check_signals() {
    // SAFETY: reads and clears flags set by our signal handlers; the calls
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

/// Sleeps until the timeout, a signal, or postmaster death (which exits).
fn nap(timeout: Duration) {
    crate::runtime::sleep_on_latch(timeout);
    check_signals();
}

/// What the process is doing, as `pg_stat_activity.query` shows it.
fn report_activity(text: &str) {
    let text = CString::new(text.replace('\0', "")).unwrap_or_default();
    // SAFETY: copies the string into shared memory.
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, text.as_ptr()) };
}

fn report_idle(text: &str) {
    let text = CString::new(text.replace('\0', "")).unwrap_or_default();
    // SAFETY: as above.
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, text.as_ptr()) };
}

/// Runs `f` in its own transaction. An ERROR aborts the transaction and comes
/// back as its message; the worker carries on.
fn in_transaction<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    // SAFETY: the transaction bracket every background worker uses, on its
    // main thread, outside any other transaction.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let outcome = PgTryBuilder::new(move || Ok(f()))
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

/// The oid of a database that accepts connections, read from pg_database
/// with a plain heap scan: the launcher has no database, so it cannot use
/// indexes or SPI (this is how the autovacuum launcher lists databases).
fn database_oid(name: &str) -> Option<pg_sys::Oid> {
    let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
    // SAFETY: called inside a transaction; the relation is opened, scanned and
    // closed here, and each tuple is read as pg_database's fixed-size prefix,
    // which is what the catalog stores first.
    unsafe {
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, lock);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        let mut found = None;
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let form = pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tuple);
            let datname = std::ffi::CStr::from_ptr((*form).datname.data.as_ptr());
            if datname.to_bytes() == name.as_bytes() {
                if (*form).datallowconn {
                    found = Some((*form).oid);
                }
                break;
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, lock);
        found
    }
}

fn log(message: &str) {
    ereport!(PgLogLevel::LOG, PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION, message);
}

fn scan_database_name() -> Option<String> {
    SCAN_DATABASE.get().and_then(|c| c.into_string().ok()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------- launcher

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn townlake_pii_launcher_main(_arg: pg_sys::Datum) {
    install_signal_handlers();
    // No database: only shared catalogs (pg_database) are readable.
    pgrx::bgworkers::BackgroundWorker::connect_worker_to_spi(None, None);
    let mut child: Option<(DynamicBackgroundWorker, pg_sys::Oid)> = None;
    let mut complained_about: Option<String> = None;
    loop {
        check_signals();
        let wanted_name = if SCANNER_ENABLED.get() { scan_database_name() } else { None };
        let wanted_oid = match &wanted_name {
            Some(name) => {
                let name = name.clone();
                in_transaction(move || database_oid(&name)).ok().flatten()
            }
            None => None,
        };
        if wanted_name.is_some() && wanted_oid.is_none() && complained_about != wanted_name {
            log(&format!(
                "townlake pii scanner: database \"{}\" (townlake.pii_scan_database) does not exist; waiting for it",
                wanted_name.as_deref().unwrap_or("")
            ));
            complained_about = wanted_name.clone();
        }
        if let Some((handle, db)) = child.take() {
            let stopped = matches!(handle.pid(), Err(BackgroundWorkerStatus::Stopped));
            if stopped {
                // It exited (error, or the database went away): started again below.
            } else if Some(db) != wanted_oid {
                let _ = handle.terminate().wait_for_shutdown();
            } else {
                child = Some((handle, db));
            }
        }
        if child.is_none() {
            if let Some(db) = wanted_oid {
                // SAFETY: reads this process's pid.
                let me = unsafe { pg_sys::MyProcPid };
                let started = BackgroundWorkerBuilder::new(SCANNER)
                    .set_type(SCANNER)
                    .set_library("townlake")
                    .set_function("townlake_pii_scanner_main")
                    .enable_spi_access()
                    .set_argument(Some(pg_sys::Datum::from(u32::from(db))))
                    .set_notify_pid(me)
                    .set_restart_time(None)
                    .load_dynamic();
                match started {
                    Ok(handle) => child = Some((handle, db)),
                    Err(_) => {
                        log("townlake pii scanner: no free background worker slot (max_worker_processes); will retry")
                    }
                }
            }
        }
        report_idle(
            match (&child, &wanted_name) {
                (Some(_), Some(name)) => format!("scanner running for database {name}"),
                (None, Some(name)) => format!("waiting for database {name}"),
                _ => "scanner disabled".to_string(),
            }
            .as_str(),
        );
        nap(Duration::from_secs(if child.is_some() { 10 } else { 30 }));
    }
}

// ---------------------------------------------------------------- scanner

/// Held for the scanner's lifetime so two scanners never share a database.
const SCANNER_LOCK_KEY: i64 = 0x746c_7069_6900; // "tlpii"

enum Next {
    ExtensionMissing,
    Idle,
    Scan(pg_sys::Oid, String),
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn townlake_pii_scanner_main(arg: pg_sys::Datum) {
    install_signal_handlers();
    let db = pg_sys::Oid::from(arg.value() as u32);
    pgrx::bgworkers::BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    let unique = in_transaction(|| {
        Spi::get_one_with_args::<bool>("SELECT pg_try_advisory_lock($1)", &[SCANNER_LOCK_KEY.into()])
            .ok()
            .flatten()
            .unwrap_or(false)
    });
    if unique != Ok(true) {
        log("townlake pii scanner: another scanner already serves this database; exiting");
        return;
    }
    let mut said_missing = false;
    let mut last_cleanup = Instant::now() - Duration::from_secs(3600);
    loop {
        check_signals();
        if !SCANNER_ENABLED.get() {
            report_idle("disabled (townlake.pii_scanner_enabled = off)");
            nap(Duration::from_secs(30));
            continue;
        }
        let cleanup = last_cleanup.elapsed() > Duration::from_secs(300);
        let next = in_transaction(move || -> Next {
            // The queue functions are SQL bodies parsed now: resolve them in
            // pg_catalog and lake only (this process is a superuser).
            let _settings = super::scan::ScanSettings::enter();
            let installed = Spi::get_one::<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'townlake') \
                    AND to_regprocedure('lake_internal.pii_scan_queue()') IS NOT NULL",
            )
            .ok()
            .flatten()
            .unwrap_or(false);
            if !installed {
                return Next::ExtensionMissing;
            }
            if cleanup {
                let _ = super::sql::forget_dropped();
            }
            match super::sql::queued_relations(Some(1)) {
                Ok(list) => match list.first() {
                    Some(&oid) => {
                        let name = Spi::get_one_with_args::<String>("SELECT $1::regclass::text", &[oid.into()])
                            .ok()
                            .flatten()
                            .unwrap_or_default();
                        Next::Scan(oid, name)
                    }
                    None => Next::Idle,
                },
                Err(_) => Next::Idle,
            }
        });
        if cleanup {
            last_cleanup = Instant::now();
        }
        let naptime = Duration::from_secs(NAPTIME.get().max(0) as u64);
        match next {
            Ok(Next::ExtensionMissing) => {
                if !said_missing {
                    report_idle("waiting: extension townlake is not installed in this database");
                    said_missing = true;
                }
                nap(Duration::from_secs(30));
            }
            Ok(Next::Idle) => {
                said_missing = false;
                report_idle("idle: nothing queued");
                nap(naptime.max(Duration::from_secs(1)));
            }
            Ok(Next::Scan(oid, name)) => {
                said_missing = false;
                report_activity(&format!("scanning {name}"));
                let started = Instant::now();
                let result = in_transaction(move || {
                    // Never wait behind a migration's lock, never run away on a huge table.
                    Spi::run("SET LOCAL lock_timeout = '1s'; SET LOCAL statement_timeout = '60s'")
                        .map_err(|e| e.to_string())?;
                    Ok::<_, String>(super::sql::scan_one(oid, "worker", false, false))
                });
                let failure = match result {
                    Err(message) | Ok(Err(message)) => Some(message),
                    Ok(Ok(Some(row))) => row.7,
                    Ok(Ok(None)) => None,
                };
                if let Some(message) = failure {
                    log(&format!("townlake pii scanner: scanning {name} failed: {message}"));
                }
                // Rest long enough that scanning takes at most `pii_scan_io_share` of the time.
                let busy = started.elapsed().as_secs_f64();
                let share = IO_SHARE.get().clamp(0.01, 1.0);
                let rest = Duration::from_secs_f64(busy * (1.0 - share) / share).max(naptime);
                report_idle(&format!("resting after {name}"));
                nap(rest);
            }
            Err(message) => {
                log(&format!("townlake pii scanner: {message}"));
                nap(Duration::from_secs(30));
            }
        }
    }
}
