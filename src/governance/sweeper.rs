//! The grant sweeper: every `townlake.governance_grant_sweep_seconds` the
//! shared launcher (pg::worker) starts one short-lived worker per database,
//! which revokes the access grants that expired there and exits, so expired
//! grants go even where nobody queries.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;

use super::settings::SWEEP_SECONDS;
use crate::pg::worker::{in_transaction, Databases, WorkerKind};

thread_local! {
    /// In the launcher: when the last round began, and the databases of that
    /// round still to sweep.
    static ROUND: RefCell<(Option<Instant>, Vec<pg_sys::Oid>)> = const { RefCell::new((None, Vec::new())) };
}

pub fn register() {
    crate::pg::worker::register_kind(WorkerKind {
        name: "townlake grant sweeper",
        main: sweeper_main,
        wanted: due,
        started: Some(swept),
        persistent: false,
        max_running: 2,
    });
}

/// The databases of the current round not swept yet; a new round every
/// sweep interval.
fn due(dbs: &mut Databases) -> Vec<pg_sys::Oid> {
    let every = Duration::from_secs(SWEEP_SECONDS.get().max(1) as u64);
    let new_round = ROUND.with(|r| r.borrow().0.is_none_or(|t| t.elapsed() >= every));
    if new_round {
        let all = dbs.all().to_vec();
        ROUND.with(|r| *r.borrow_mut() = (Some(Instant::now()), all));
    }
    ROUND.with(|r| r.borrow().1.clone())
}

fn swept(db: pg_sys::Oid) {
    ROUND.with(|r| r.borrow_mut().1.retain(|d| *d != db));
}

fn sweeper_main(db: pg_sys::Oid) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    let outcome = in_transaction(|| {
        let installed = Spi::get_one::<bool>(
            // Only the extension's own function: in a database without townlake,
            // anyone with CREATE could make a schema `lake` and a function of
            // that name, which this superuser worker would then run. The
            // function must belong to the townlake extension (pg_depend 'e').
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid \
               WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass \
                 AND d.objid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('lake_internal._op_expire_grants(oid, jsonb)') \
                 AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass \
                 AND d.deptype OPERATOR(pg_catalog.=) 'e' AND e.extname OPERATOR(pg_catalog.=) 'townlake')",
        )?
        .unwrap_or(false);
        if installed {
            Spi::run("SELECT lake_internal._op_expire_grants(10, '{}')")?;
        }
        Ok::<_, pgrx::spi::Error>(())
    });
    if let Err(e) = outcome.and_then(|r| r.map_err(|e| e.to_string())) {
        pgrx::warning!("townlake: expiring grants failed: {e}");
    }
}
