//! Background workers of the audit queue.
//!
//! The launcher (one, started with the server, connected to no database)
//! completes records whose backend vanished, and starts a writer for each
//! database that has records waiting, plus, every
//! `townlake.grant_sweep_seconds`, for every database, so expired grants are
//! revoked even where nobody queries. A writer connects to one database,
//! appends its records to `lake.audit_log` (hash-chained) in a transaction,
//! frees their slots once the commit is flushed to the WAL on disk, revokes
//! expired grants, and exits after a few idle seconds so it never holds a
//! database open for long.
//!
//! Commits are asynchronous, and the writer flushes the WAL itself at most
//! every `FLUSH_EVERY` (at once when a backend waits for its record,
//! `townlake.audit_synchronous`): slots are freed only after that, so a crash
//! restart, which loses WAL not yet written, finds the records still queued.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::queue::{self, Taken};
use super::record::finished_json;
use super::SWEEP_SECONDS;

const WRITER_IDLE_EXIT: Duration = Duration::from_secs(3);
const BATCH: usize = 256;
/// How often a writer looks for new records (backends wake it earlier when
/// one waits for its record or the queue fills up).
const POLL: Duration = Duration::from_millis(10);
/// Longest time committed records wait for a WAL flush before the writer
/// flushes itself (each flush is one fsync).
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Registers the launcher (from `_PG_init` of the preloaded library).
pub fn register_launcher() {
    BackgroundWorkerBuilder::new("townlake audit launcher")
        .set_type("townlake audit launcher")
        .set_library("townlake")
        .set_function("townlake_audit_launcher")
        .enable_spi_access()
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

fn start_writer(db: pg_sys::Oid) -> bool {
    BackgroundWorkerBuilder::new("townlake audit writer")
        .set_type("townlake audit writer")
        .set_library("townlake")
        .set_function("townlake_audit_writer")
        .enable_spi_access()
        .set_argument(Some(pg_sys::Datum::from(db.to_u32() as usize)))
        .load_dynamic()
        .is_ok()
}

/// Oids of the databases that accept connections (templates excluded).
fn database_oids() -> Vec<pg_sys::Oid> {
    let mut out = Vec::new();
    // SAFETY: a catalog heap scan of the shared catalog pg_database inside a
    // transaction, as Postgres' own launchers do it; tuples are read in place.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, pg_sys::AccessShareLock as i32);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let data = (*tuple).t_data;
            let form = (data as *mut u8).add((*data).t_hoff as usize) as *const pg_sys::FormData_pg_database;
            if (*form).datallowconn && !(*form).datistemplate {
                out.push((*form).oid);
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as i32);
        pg_sys::CommitTransactionCommand();
    }
    out
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn townlake_audit_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(None, None);
    // SAFETY: MyLatch is this process' latch in shared memory.
    queue::set_launcher_latch(unsafe { pg_sys::MyLatch });
    let mut last_start: HashMap<u32, Instant> = HashMap::new();
    let mut last_sweep: Option<Instant> = None;
    let mut sweep_queue: Vec<pg_sys::Oid> = Vec::new();
    while BackgroundWorker::wait_latch(Some(Duration::from_millis(250))) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloads the configuration file in this process.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        queue::complete_orphans();
        let sweep_every = Duration::from_secs(SWEEP_SECONDS.get().max(1) as u64);
        if last_sweep.is_none_or(|t| t.elapsed() >= sweep_every) {
            for db in database_oids() {
                if !sweep_queue.contains(&db) {
                    sweep_queue.push(db);
                }
            }
            last_sweep = Some(Instant::now());
        }
        let mut wanted = queue::databases_with_records();
        if !wanted.is_empty() {
            // records of a database dropped before its writer got to them
            let existing = database_oids();
            for db in wanted.iter().filter(|db| !existing.contains(db)) {
                let n = queue::discard(*db);
                pgrx::log!("townlake: dropped {n} audit records of database {} which no longer exists", db.to_u32());
            }
            wanted.retain(|db| existing.contains(db));
        }
        for db in sweep_queue.iter() {
            if !wanted.contains(db) {
                wanted.push(*db);
            }
        }
        for db in wanted {
            if queue::writer_running(db) {
                sweep_queue.retain(|d| *d != db);
                continue;
            }
            if last_start.get(&db.to_u32()).is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                continue;
            }
            if queue::writer_count() >= queue::MAX_WRITERS {
                break;
            }
            if start_writer(db) {
                last_start.insert(db.to_u32(), Instant::now());
                sweep_queue.retain(|d| *d != db);
            }
        }
    }
}

fn in_transaction<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: a bgworker's own top-level transaction, as pgrx's helper does;
    // an ERROR inside ends the worker, and Postgres aborts the transaction.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let r = f();
    // SAFETY: pairs with the calls above.
    unsafe {
        pg_sys::PopActiveSnapshot();
        pg_sys::CommitTransactionCommand();
    }
    r
}

#[pg_guard]
unsafe extern "C-unwind" fn on_writer_exit(_code: i32, _arg: pg_sys::Datum) {
    queue::unregister_writer();
}

#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn townlake_audit_writer(arg: pg_sys::Datum) {
    let db = pg_sys::Oid::from(arg.value() as u32);
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    if !queue::register_writer(db) {
        return;
    }
    // SAFETY: process-local exit callback with a static function.
    unsafe { pg_sys::before_shmem_exit(Some(on_writer_exit), pg_sys::Datum::from(0usize)) };
    let installed = in_transaction(|| {
        Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'townlake') \
             AND pg_catalog.to_regprocedure('lake._audit_append_batch(json)') IS NOT NULL",
        )
        .ok()
        .flatten()
        .unwrap_or(false)
    });
    if !installed {
        let n = queue::discard(db);
        if n > 0 {
            pgrx::log!("townlake: dropped {n} audit records of a database without townlake");
        }
        return;
    }
    // Durability comes from the explicit WAL flush before slots are freed.
    in_transaction(|| Spi::run("SET synchronous_commit = off"))
        .unwrap_or_else(|e| pgrx::error!("townlake: audit writer setup failed: {e}"));
    let sweep_every = Duration::from_secs(SWEEP_SECONDS.get().max(1) as u64);
    let mut last_sweep: Option<Instant> = None;
    let mut idle_since = Instant::now();
    // A writer started only for the grant sweep leaves at once, so it holds
    // the database open for as short a time as possible (DROP DATABASE).
    let mut wrote_anything = false;
    let mut committed = Committed::default();
    let mut array = String::new();
    loop {
        if last_sweep.is_none_or(|t| t.elapsed() >= sweep_every) {
            in_transaction(|| Spi::run("SELECT lake._op_expire_grants(10, '{}')"))
                .unwrap_or_else(|e| pgrx::warning!("townlake: expiring grants failed: {e}"));
            last_sweep = Some(Instant::now());
        }
        committed.settle(false);
        let batch = queue::take(db, BATCH);
        if batch.is_empty() {
            if !wrote_anything || idle_since.elapsed() >= WRITER_IDLE_EXIT {
                break;
            }
            if !BackgroundWorker::wait_latch(Some(POLL)) {
                break;
            }
            continue;
        }
        let full = batch.len() == BATCH;
        // one JSON array per batch: each record is the backend's JSON object
        // with how the statement ended appended
        array.clear();
        array.push('[');
        let mut malformed = 0;
        for t in batch.iter() {
            let mark = array.len();
            if array.len() > 1 {
                array.push(',');
            }
            if !finished_json(&t.bytes, &t.completion, t.recheck, &mut array) {
                array.truncate(mark);
                malformed += 1;
            }
        }
        array.push(']');
        if malformed > 0 {
            pgrx::warning!("townlake: skipped {malformed} malformed audit records in the queue");
        }
        let awaited = batch.iter().any(|t| t.awaited);
        in_transaction(|| Spi::run_with_args("SELECT lake._audit_append_batch($1::json)", &[array.as_str().into()]))
            .unwrap_or_else(|e| pgrx::error!("townlake: writing audit records failed: {e}"));
        committed.add(batch);
        // a backend waits for its record: flush now
        committed.settle(awaited);
        wrote_anything = true;
        idle_since = Instant::now();
        // let the next batch accumulate, unless this one was full
        if !full && !BackgroundWorker::wait_latch(Some(POLL)) {
            break;
        }
    }
    committed.settle(true);
}

/// Records committed to the log whose commit may not be on disk yet.
#[derive(Default)]
struct Committed {
    records: Vec<Taken>,
    /// WAL position that covers all their commits.
    lsn: pg_sys::XLogRecPtr,
    since: Option<Instant>,
}

impl Committed {
    fn add(&mut self, batch: Vec<Taken>) {
        queue::mark_written(&batch);
        self.records.extend(batch);
        // SAFETY: reads the current WAL insert position (after our commit).
        self.lsn = unsafe { pg_sys::GetXLogInsertRecPtr() };
        self.since.get_or_insert_with(Instant::now);
    }

    /// Frees the slots of records whose commit is flushed; with `force`, or
    /// when they have waited long enough or fill much of the queue, flushes
    /// the WAL first.
    fn settle(&mut self, force: bool) {
        if self.records.is_empty() {
            return;
        }
        // SAFETY: reads the flushed WAL position; XLogFlush is what a
        // synchronous commit does (outside a transaction is fine).
        unsafe {
            if pg_sys::GetFlushRecPtr(std::ptr::null_mut()) < self.lsn {
                let old = self.since.is_some_and(|t| t.elapsed() >= FLUSH_EVERY);
                let many = self.records.len() * 4 >= queue::nslots() as usize;
                if !(force || old || many) {
                    return;
                }
                pg_sys::XLogFlush(self.lsn);
            }
        }
        queue::release(&self.records);
        self.records.clear();
        self.since = None;
    }
}
