//! Background workers of the audit queue.
//!
//! The shared launcher (pg::worker) completes records whose backend vanished
//! and starts a writer for each database that has records waiting. A writer
//! connects to one database, appends its records to `lake.audit_log`
//! (hash-chained) in a transaction, frees their slots once the commit is
//! flushed to the WAL on disk, and exits after a few idle seconds so it
//! never holds a database open for long.
//!
//! Commits are asynchronous: Postgres' WAL writer flushes them in its own
//! time (within about `wal_writer_delay`), and the writer frees a batch's
//! slots once the flushed WAL covers its commit, so a crash restart, which
//! loses WAL not yet flushed, finds the records still queued. The writer
//! flushes the WAL itself (an fsync it waits for) only when a backend waits
//! for its record (`townlake.audit_synchronous`), when records have waited
//! `FLUSH_EVERY`, or when the queue is half full: it keeps taking records
//! while the flush happens elsewhere.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;

use super::queue::{self, Taken};
use super::array::ArrayBuf;
use super::chain;
use super::record::{finished_json, record_id};
use crate::pg::worker::in_transaction;

const WRITER_IDLE_EXIT: Duration = Duration::from_secs(3);
/// Records per transaction: a batch costs a few hundred µs whatever its size
/// (transaction, plan, TOAST, commit), which 1,024 records share better than
/// 256 when statements come at tens of thousands per second.
const BATCH: usize = 1024;
/// How often a writer looks for new records (backends wake it earlier when
/// one waits for its record, holds half its share, or the queue fills up).
const POLL: Duration = Duration::from_millis(10);
/// The same while under a quarter of the queue is in use: fewer, larger
/// batches, since each costs a few hundred µs of the CPU the sessions need
/// whatever its size. (Written records hold their slots until the WAL is
/// flushed, so with the queue fuller the writer comes back sooner.)
const POLL_ROOMY: Duration = Duration::from_millis(50);

fn poll() -> Duration {
    if (queue::used() as u64) * 4 < queue::nslots() as u64 {
        POLL_ROOMY
    } else {
        POLL
    }
}
/// Longest time committed records wait for the WAL writer's flush before the
/// writer flushes itself (each flush is one fsync).
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Registers the writer with the shared launcher (pg::worker), from
/// `_PG_init` of the preloaded library.
pub fn register() {
    crate::pg::worker::register_kind(crate::pg::worker::WorkerKind {
        name: "townlake audit writer",
        main: writer_main,
        wanted: writers_wanted,
        started: None,
        persistent: false,
        max_running: queue::MAX_WRITERS,
    });
    crate::pg::worker::register_task(crate::pg::worker::LauncherTask {
        on_start: Some(queue::announce_launcher),
        // records whose backend vanished are completed by the launcher
        on_tick: Some(|_| {
            queue::complete_orphans();
        }),
    });
}

/// Databases with records waiting and no writer yet. Records of a database
/// dropped before its writer got to them are discarded here.
fn writers_wanted(dbs: &mut crate::pg::worker::Databases) -> Vec<pg_sys::Oid> {
    let mut wanted = queue::databases_with_records();
    if wanted.is_empty() {
        return wanted;
    }
    let existing = dbs.all().to_vec();
    for db in wanted.iter().filter(|db| !existing.contains(db)) {
        let n = queue::discard(*db);
        pgrx::log!("townlake: dropped {n} audit records of database {} which no longer exists", db.to_u32());
    }
    // a writer that outlived a launcher restart is still registered in the queue
    wanted.retain(|db| existing.contains(db) && !queue::writer_running(*db));
    wanted
}


fn writer_main(db: pg_sys::Oid) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    if !queue::register_writer(db) {
        return;
    }
    crate::pg::callbacks::before_exit(queue::unregister_writer);
    let installed = in_transaction(|| {
        Spi::get_one::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'townlake') \
             AND pg_catalog.to_regclass('lake.audit_batches') IS NOT NULL",
        )
        .ok()
        .flatten()
        .unwrap_or(false)
    })
    .unwrap_or(false);
    if !installed {
        let n = queue::discard(db);
        if n > 0 {
            pgrx::log!("townlake: dropped {n} audit records of a database without townlake");
        }
        return;
    }
    // Durability comes from the explicit WAL flush before slots are freed.
    if let Err(e) = in_transaction(|| Spi::run("SET synchronous_commit = off")).and_then(|r| r.map_err(|e| e.to_string())) {
        pgrx::error!("townlake: audit writer setup failed: {e}");
    }
    let mut idle_since = Instant::now();
    // A writer that finds nothing to write leaves at once, so it holds the
    // database open for as short a time as possible (DROP DATABASE).
    let mut wrote_anything = false;
    let mut committed = Committed::default();
    let mut plans: Option<Plans> = None;
    // the JSON of the batch being written (reused)
    let mut json: Vec<u8> = Vec::new();
    loop {
        committed.settle(false);
        let batch = queue::take(db, BATCH, &mut json);
        if batch.is_empty() {
            if !wrote_anything || idle_since.elapsed() >= WRITER_IDLE_EXIT {
                break;
            }
            if !BackgroundWorker::wait_latch(Some(poll())) {
                break;
            }
            continue;
        }
        let full = batch.len() == BATCH;
        let awaited = batch.iter().any(|t| t.awaited);
        if let Err(e) = in_transaction(|| append(&mut plans, &batch, &json)).and_then(|r| r.map_err(|e| e.to_string())) {
            pgrx::error!("townlake: writing audit records failed: {e}");
        }
        committed.add(batch);
        // a backend waits for its record: flush now
        committed.settle(awaited);
        wrote_anything = true;
        idle_since = Instant::now();
        // let the next batch accumulate, unless this one was full
        if !full && !BackgroundWorker::wait_latch(Some(poll())) {
            break;
        }
    }
    committed.settle(true);
}

/// How far back (µs) to look for a record that may have been written already:
/// a batch is logged after its records ended, give or take a clock step.
const RECHECK_MARGIN_US: i64 = 60_000_000;

/// Appends `batch` to `lake.audit_batches` as one row and moves the chain
/// head, in the caller's transaction. Records that may have been delivered
/// before (`recheck`) are skipped if their id is in the log.
fn append(plans: &mut Option<Plans>, batch: &[Taken], json: &[u8]) -> Result<(), pgrx::spi::Error> {
    if plans.is_none() {
        *plans = Some(Plans::prepare()?);
    }
    let plans = plans.as_mut().expect("prepared above");
    // The chain head is read once per writer: only this writer appends to
    // this database's log, and the update below checks the head is still
    // what it was (a writer that finds otherwise fails and is restarted).
    if plans.chain.is_none() {
        let (id, hash) = Spi::connect(|c| c.select(&plans.head, Some(1), &[])?.first().get_two::<i64, String>())?;
        plans.chain = Some((id.unwrap_or(0), hash.unwrap_or_else(|| "0".repeat(64))));
    }
    let (last_id, last_hash) = plans.chain.clone().expect("read above");
    let mut seen: Vec<pgrx::Uuid> = Vec::new();
    let rechecks: Vec<pgrx::Uuid> = batch
        .iter()
        .filter(|t| t.recheck)
        .filter_map(|t| record_id(&json[t.bytes.clone()]))
        .map(|u| pgrx::Uuid::from_bytes(*u.as_bytes()))
        .collect();
    if !rechecks.is_empty() {
        let since = batch.iter().filter(|t| t.recheck).map(|t| t.started_us + t.completion.duration_us.unwrap_or(0)).min().unwrap_or(0) - RECHECK_MARGIN_US;
        seen = Spi::get_one_with_args::<Vec<pgrx::Uuid>>(
            "SELECT COALESCE(pg_catalog.array_agg(u), '{}') FROM lake.audit_batches b, pg_catalog.unnest(b.record_ids) u \
              WHERE b.logged_at >= timestamptz '2000-01-01 00:00:00+00' + $1 * interval '1 microsecond' \
                AND u = ANY ($2)",
            &[since.into(), rechecks.into()],
        )?
        .unwrap_or_default();
    }
    // SAFETY: reads the clock.
    let logged_us = unsafe { pg_sys::GetCurrentTimestamp() };
    // The three arrays are built in Postgres' layout as the records are
    // read (array.rs): no allocation per record.
    let b = &mut plans.buffers;
    b.ids.clear();
    b.records.clear();
    b.hashes.clear();
    // the hash the next record chains onto: the head's, then each record's
    let mut last: Option<[u8; 64]> = None;
    let mut malformed = 0;
    for t in batch {
        let bytes = &json[t.bytes.clone()];
        let Some(id) = record_id(bytes) else {
            malformed += 1;
            continue;
        };
        if t.recheck && seen.contains(&pgrx::Uuid::from_bytes(*id.as_bytes())) {
            continue;
        }
        if !finished_json(bytes, &t.completion, logged_us, b.records.begin()) {
            b.records.abandon();
            malformed += 1;
            continue;
        }
        let prev: &[u8] = match &last {
            Some(h) => h,
            None => last_hash.as_bytes(),
        };
        let hash = chain::chain_hash_hex(prev, b.records.end());
        b.hashes.push_varlena(&hash);
        b.ids.push_fixed(id.as_bytes());
        last = Some(hash);
    }
    if malformed > 0 {
        pgrx::warning!("townlake: skipped {malformed} malformed audit records in the queue");
    }
    let Some(last) = last else { return Ok(()) };
    let n = b.records.len() as i64;
    // SAFETY: ASCII hex digits.
    let head = unsafe { String::from_utf8_unchecked(last.to_vec()) };
    let array = |a: &mut ArrayBuf, oid: pg_sys::Oid| {
        // not empty (a record was added) and at most BATCH records of 256 kB
        let Some(d) = a.datum() else { pgrx::error!("townlake: an audit batch could not be built") };
        // SAFETY: `d` is an array of `oid`, built in this memory context.
        unsafe { pgrx::datum::DatumWithOid::new(d, oid) }
    };
    let args = [
        (last_id + 1).into(),
        logged_us.into(),
        last_hash.into(),
        array(&mut b.ids, pg_sys::UUIDARRAYOID),
        array(&mut b.records, pg_sys::TEXTARRAYOID),
        array(&mut b.hashes, pg_sys::TEXTARRAYOID),
        n.into(),
        head.clone().into(),
    ];
    let updated = Spi::connect_mut(|c| c.update(&plans.append, None, &args).map(|t| t.len()))?;
    if updated != 1 {
        // the head moved behind this writer's back: start over from the table
        plans.chain = None;
        pgrx::error!("townlake: the audit chain head changed outside the audit writer");
    }
    plans.chain = Some((last_id + n, head));
    Ok(())
}

/// The writer's two statements, planned once per writer (the search path is
/// pinned the same way for every batch).
struct Plans {
    head: pgrx::spi::OwnedPreparedStatement,
    append: pgrx::spi::OwnedPreparedStatement,
    buffers: Buffers,
    /// The chain head as this writer last left it: (last id, last hash).
    chain: Option<(i64, String)>,
}

impl Plans {
    fn prepare() -> Result<Plans, pgrx::spi::Error> {
        use pgrx::pg_sys::{PgBuiltInOids as T, PgOid};
        let types = [
            T::INT8OID,
            T::INT8OID,
            T::TEXTOID,
            T::UUIDARRAYOID,
            T::TEXTARRAYOID,
            T::TEXTARRAYOID,
            T::INT8OID,
            T::TEXTOID,
        ]
        .map(PgOid::BuiltIn);
        Spi::connect(|c| {
            Ok(Plans {
                head: c
                    .prepare_mut("SELECT last_id, last_hash FROM lake.audit_chain WHERE id = 1 FOR UPDATE", &[])?
                    .keep(),
                append: c
                    .prepare_mut(
                        "WITH batch AS ( \
                             INSERT INTO lake.audit_batches (first_id, logged_at, prev_hash, record_ids, records, hashes) \
                             VALUES ($1, timestamptz '2000-01-01 00:00:00+00' + $2 * interval '1 microsecond', $3, $4, $5, $6)) \
                         UPDATE lake.audit_chain SET last_id = $1 + $7 - 1, last_hash = $8, records = records + $7 \
                          WHERE id = 1 AND last_id = $1 - 1 AND last_hash = $3 RETURNING 1",
                        &types,
                    )?
                    .keep(),
                chain: None,
                buffers: Buffers {
                    ids: ArrayBuf::fixed(pg_sys::UUIDOID, 16),
                    records: ArrayBuf::varlena(pg_sys::TEXTOID),
                    hashes: ArrayBuf::varlena(pg_sys::TEXTOID),
                },
            })
        })
    }
}

/// The arrays of a batch, kept between batches so their memory is reused.
struct Buffers {
    ids: ArrayBuf,
    records: ArrayBuf,
    hashes: ArrayBuf,
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
        // SAFETY: reads where this process' last commit record ends. (Not the
        // insert position: at a page boundary that points past the page
        // header, beyond any WAL written, and XLogFlush fails on it.)
        self.lsn = self.lsn.max(unsafe { pg_sys::XactLastCommitEnd });
        self.since.get_or_insert_with(Instant::now);
    }

    /// Frees the slots of records whose commit is flushed; with `force`, or
    /// when they have waited long enough or the queue is half full, flushes
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
                let filling = queue::used() * 2 >= queue::nslots();
                if !(force || old || filling) {
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
