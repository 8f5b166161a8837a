//! The background scanner, "townlake pii scanner": one per database named
//! by `townlake.pii_scan_database` while `townlake.pii_scanner_enabled` is
//! on. The shared launcher (pg::worker) keeps it running while that database
//! exists (a worker cannot switch databases, and one that connects to a
//! missing database dies at start, so the launcher checks first), and
//! replaces it when the setting changes. The scanner scans the most urgent
//! queued relation, rests, and repeats; while the extension is not installed
//! in its database it only waits.
//!
//! SIGTERM uses Postgres' own `die` handler (the process ends at the next
//! interrupt check, even inside a long query); SIGHUP rereads the settings.
//! Every relation is scanned in its own transaction with a statement and
//! lock timeout, and errors are recorded, never allowed to crash anything.

use std::time::{Duration, Instant};

use pgrx::pg_sys;
use pgrx::prelude::*;

use super::{IO_SHARE, NAPTIME, SCANNER_ENABLED, SCAN_DATABASE};
use crate::pg::worker::{check_signals, in_transaction, install_die_handlers};

const SCANNER: &str = "townlake pii scanner";

/// Registers the scanner with the shared launcher (from `_PG_init`).
pub fn register() {
    crate::pg::worker::register_kind(crate::pg::worker::WorkerKind {
        name: SCANNER,
        main: scanner_main,
        wanted: scanner_wanted,
        started: None,
        persistent: true,
        max_running: 1,
    });
}

thread_local! {
    /// In the launcher: the missing database last complained about.
    static COMPLAINED_ABOUT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The scan database, while the scanner is enabled and the database exists.
fn scanner_wanted(dbs: &mut crate::pg::worker::Databases) -> Vec<pg_sys::Oid> {
    let Some(name) = SCANNER_ENABLED.get().then(scan_database_name).flatten() else {
        return Vec::new();
    };
    let oid = dbs.named(&name);
    if oid.is_none() && COMPLAINED_ABOUT.with(|c| c.borrow().as_deref() != Some(name.as_str())) {
        log(&format!(
            "townlake pii scanner: database \"{name}\" (townlake.pii_scan_database) does not exist; waiting for it"
        ));
        COMPLAINED_ABOUT.with(|c| *c.borrow_mut() = Some(name));
    }
    oid.into_iter().collect()
}

/// Sleeps until the timeout, a signal, or postmaster death (which exits).
fn nap(timeout: Duration) {
    crate::runtime::sleep_on_latch(timeout);
    check_signals();
}

fn report_activity(text: &str) {
    crate::pg::worker::report_activity(text, true);
}

fn report_idle(text: &str) {
    crate::pg::worker::report_activity(text, false);
}

fn log(message: &str) {
    ereport!(PgLogLevel::LOG, PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION, message);
}

fn scan_database_name() -> Option<String> {
    SCAN_DATABASE.get().and_then(|c| c.into_string().ok()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

// ---------------------------------------------------------------- scanner

/// Held for the scanner's lifetime so two scanners never share a database.
/// A lock SQL cannot take: a role holding an advisory key could keep the
/// scanner from starting.
const SCANNER_LOCK_KEY: u64 = 0x746c_7069_6900; // "tlpii"

enum Next {
    ExtensionMissing,
    Idle,
    Scan(pg_sys::Oid, String),
}

fn scanner_main(db: pg_sys::Oid) {
    install_die_handlers();
    pgrx::bgworkers::BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    let unique = in_transaction(|| crate::pg::locks::try_lock(SCANNER_LOCK_KEY, crate::pg::locks::Hold::Session));
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
