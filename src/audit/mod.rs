//! Audit of every statement that touches governed data.
//!
//! The executor hooks (governance/hooks.rs) call `statement_started` and
//! `statement_ended`. A record goes into a queue slot when the statement
//! starts (so nothing reads governed data unrecorded: if the queue is full,
//! the statement waits, and fails if no writer drains it), and is completed
//! when it ends, errors, or the backend exits. The queue is a file mapped into
//! every process (queue.rs, spool.rs), so it outlives a backend killed with
//! SIGKILL and the crash restart that follows. Background writers (worker.rs)
//! append the records to `lake.audit_batches`, hash-chained (chain.rs), and
//! free their slots once the commit is flushed. ROLLBACK, ERROR,
//! pg_terminate_backend and SIGKILL therefore do not lose records. With
//! `townlake.audit_synchronous` a statement also waits at its end until its
//! record's commit is flushed, so even an operating system crash right after
//! the statement cannot lose it.

pub mod chain;
pub mod queue;
pub mod record;
pub mod spool;
pub mod worker;

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use serde_json::Value;

use crate::errors::LakeError;
use crate::governance::hooks::Touched;
use crate::governance::pii_session;
use record::{Completion, Outcome, Record};

/// Record statements on governed data (superusers may switch it off, e.g. to
/// benchmark; analysts cannot).
pub static AUDIT: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Wait at the end of each audited statement until its record is committed.
pub static SYNCHRONOUS: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Slots of the shared-memory queue (one record each, 8 kB).
pub static QUEUE_SLOTS: GucSetting<i32> = GucSetting::<i32>::new(1024);
/// Seconds between sweeps that revoke expired grants in every database.
pub static SWEEP_SECONDS: GucSetting<i32> = GucSetting::<i32>::new(10);

/// How long a statement waits for room in a full queue before failing.
const QUEUE_WAIT: Duration = Duration::from_secs(30);

struct InFlight {
    query_desc: usize,
    ticket: queue::Ticket,
    rows: i64,
    started: Instant,
    reveals_at_start: u64,
    subxact: pg_sys::SubTransactionId,
}

thread_local! {
    static IN_FLIGHT: RefCell<Vec<InFlight>> = const { RefCell::new(Vec::new()) };
    static EXIT_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Called from `_PG_init`.
pub fn init() {
    GucRegistry::define_bool_guc(
        c"townlake.audit",
        c"Record every statement on governed relations in lake.audit_log.",
        c"Only superusers can change it.",
        &AUDIT,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"townlake.audit_synchronous",
        c"Wait at the end of each audited statement until its audit record is committed.",
        c"Off: records are written within milliseconds by a background writer and survive ROLLBACK, \
          ERROR, backend termination and crash restarts; on: they also survive an operating system \
          crash or power loss right after the statement.",
        &SYNCHRONOUS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.audit_queue_slots",
        c"Records the shared-memory audit queue holds (8 kB each).",
        c"",
        &QUEUE_SLOTS,
        16,
        65536,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.grant_sweep_seconds",
        c"Seconds between background sweeps that revoke expired access grants.",
        c"",
        &SWEEP_SECONDS,
        1,
        86400,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: plain read of a postmaster flag.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        queue::request(QUEUE_SLOTS.get().max(16) as u32);
        worker::register_launcher();
    }
    // SAFETY: process-local callbacks with static functions.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

fn now_pg() -> i64 {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

/// Records the start of an audited statement.
///
/// # Safety
/// `qd` is the executor's live QueryDesc (ExecutorStart has not run yet).
pub unsafe fn statement_started(qd: *mut pg_sys::QueryDesc, touched: Vec<Touched>) {
    if !AUDIT.get() {
        return;
    }
    if !queue::available() {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "governed data cannot be read without its audit queue",
        )
        .with_hint("Add townlake to shared_preload_libraries and restart Postgres.")
        .report();
    }
    ensure_exit_callback();
    let depth = IN_FLIGHT.with(|f| f.borrow().len()) as i32;
    let source = if (*qd).sourceText.is_null() {
        String::new()
    } else {
        std::ffi::CStr::from_ptr((*qd).sourceText).to_string_lossy().into_owned()
    };
    let rec = Record::for_statement(source, &touched, depth, now_pg());
    let ticket = claim(&rec, None);
    IN_FLIGHT.with(|f| {
        f.borrow_mut().push(InFlight {
            query_desc: qd as usize,
            ticket,
            rows: 0,
            started: Instant::now(),
            reveals_at_start: pii_session::reveal_count(),
            subxact: pg_sys::GetCurrentSubTransactionId(),
        })
    });
}

/// Claims a queue slot, waiting for room; fails closed after `QUEUE_WAIT`.
/// With `done` the record is complete at once (events).
fn claim(rec: &Record, done: Option<&Completion>) -> queue::Ticket {
    let bytes = rec.encode(queue::PAYLOAD_BYTES);
    // SAFETY: plain read of backend state.
    let db = unsafe { pg_sys::MyDatabaseId };
    let deadline = Instant::now() + QUEUE_WAIT;
    loop {
        if let Some(t) = queue::try_claim(db, rec.started_us, &bytes, done) {
            if done.is_some() {
                queue::wake_writer_of(db);
            }
            return t;
        }
        queue::wake_writer_of(db);
        if Instant::now() >= deadline {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                "the audit queue is full; governed data cannot be read unrecorded",
            )
            .with_hint("Check that townlake's audit writer is running (pg_stat_activity, server log).")
            .report();
        }
        // woken by the writer when it frees slots
        queue::nap(100);
    }
}

/// Completes the record of the statement run by `qd`, if we audit it.
///
/// # Safety
/// `qd` is the executor's live QueryDesc, before standard_ExecutorEnd.
pub unsafe fn statement_ended(qd: *mut pg_sys::QueryDesc) {
    let entry = IN_FLIGHT.with(|f| {
        let mut f = f.borrow_mut();
        let pos = f.iter().rposition(|e| e.query_desc == qd as usize)?;
        Some(f.remove(pos))
    });
    let Some(mut e) = entry else { return };
    let estate = (*qd).estate;
    e.rows = if estate.is_null() { 0 } else { (*estate).es_processed as i64 };
    finish(e, Outcome::Ok, SYNCHRONOUS.get());
}

fn finish(e: InFlight, outcome: Outcome, wait: bool) {
    let c = Completion {
        outcome,
        rows: Some(e.rows),
        duration_us: Some(e.started.elapsed().as_micros() as i64),
        pii: pii_session::reveal_count() > e.reveals_at_start,
    };
    queue::complete(e.ticket, &c, wait);
    if wait {
        let deadline = Instant::now() + QUEUE_WAIT;
        while !queue::written(e.ticket) {
            if Instant::now() >= deadline {
                pgrx::warning!("townlake: audit record not yet written after {QUEUE_WAIT:?}");
                break;
            }
            queue::nap(5);
        }
    }
}

/// Completes every in-flight record matching `pick` with `outcome`.
fn finish_where(pick: impl Fn(&InFlight) -> bool, outcome: Outcome) {
    let done: Vec<InFlight> = IN_FLIGHT.with(|f| {
        let mut f = f.borrow_mut();
        let (done, keep): (Vec<_>, Vec<_>) = f.drain(..).partition(|e| pick(e));
        *f = keep;
        done
    });
    for e in done {
        finish(e, outcome, false);
    }
}

fn abort_outcome() -> Outcome {
    // SAFETY: plain read of a backend flag.
    if unsafe { pg_sys::proc_exit_inprogress } {
        Outcome::Terminated
    } else {
        Outcome::Error
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    if matches!(event, pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT) {
        finish_where(|_| true, abort_outcome());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        // statements started in the aborted subtransaction or its children
        finish_where(|e| e.subxact >= my_subid, abort_outcome());
    }
}

fn ensure_exit_callback() {
    if EXIT_CALLBACK.with(Cell::get) {
        return;
    }
    // SAFETY: registers a process-local exit callback once.
    unsafe { pg_sys::before_shmem_exit(Some(on_exit), pg_sys::Datum::from(0usize)) };
    EXIT_CALLBACK.with(|c| c.set(true));
}

#[pg_guard]
unsafe extern "C-unwind" fn on_exit(_code: i32, _arg: pg_sys::Datum) {
    finish_where(|_| true, Outcome::Terminated);
}

/// Records a governance event (such as a PII flip) in the audit log.
pub fn record_event(kind: &str, detail: Value) {
    if !AUDIT.get() || !queue::available() {
        return;
    }
    let rec = Record::for_event(kind, detail, now_pg());
    claim(&rec, Some(&Completion { outcome: Outcome::Ok, rows: None, duration_us: None, pii: false }));
}

/// Records a statement refused because the session has PII on (a way to copy
/// values out of it): complete at once with outcome `denied`, so it is logged
/// even when the refusal is caught in PL/pgSQL or the transaction rolls back.
/// `statement` is the refused statement's own text where the caller has it
/// (dynamic SQL inside a DO block, say); the client's statement goes into
/// `detail.top_level_query` when it differs.
pub fn record_refusal(statement: Option<&str>, what: &str) {
    if !AUDIT.get() || !queue::available() {
        return;
    }
    let mut rec = Record::for_event("statement", serde_json::json!({ "refused": what }), now_pg());
    if let Some(text) = statement.filter(|t| !t.is_empty() && *t != rec.query) {
        let top = std::mem::replace(&mut rec.query, text.to_string());
        if !top.is_empty() {
            rec.detail["top_level_query"] = Value::String(top);
        }
    }
    // nesting as the executor hooks count it
    rec.level = IN_FLIGHT.with(|f| f.borrow().len()) as i32;
    claim(&rec, Some(&Completion { outcome: Outcome::Denied, rows: None, duration_us: None, pii: false }));
}

/// Audit records of this database not yet written to lake.audit_log.
#[pg_extern(name = "audit_pending", volatile, parallel_restricted)]
fn audit_pending() -> i64 {
    // SAFETY: plain read of backend state.
    let db = unsafe { pg_sys::MyDatabaseId };
    queue::pending(db) as i64
}
