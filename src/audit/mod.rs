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

pub mod array;
pub mod chain;
pub mod queue;
pub mod record;
pub mod spool;
pub mod worker;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use serde_json::Value;

use crate::errors::LakeError;
use crate::pg::catalog;
use crate::pg::query::Execution;
use record::{Completion, Outcome, Record};

/// A governed relation a statement reads, and how: what the part that
/// governs access hands to the audit log (audit records what it is given).
#[derive(Clone, Debug)]
pub struct Touched {
    pub relid: pg_sys::Oid,
    pub raw_name: String,
    /// Read through its published view (true) or directly (owners, superusers).
    pub via_view: bool,
    /// The relation's published view, whose masked columns decide whether
    /// parameter values are stored.
    pub published_view: Option<pg_sys::Oid>,
    /// Attribute numbers read (0 = the whole row).
    pub attnums: Vec<i16>,
}

/// What the audit log asks of the session it records: whether PII is on,
/// and how many values it has revealed so far. Governance provides it at
/// load time; without it, nothing counts as revealed.
#[derive(Clone, Copy)]
pub struct SessionProbe {
    pub pii_active: fn() -> bool,
    pub reveal_count: fn() -> u64,
}

static SESSION_PROBE: std::sync::OnceLock<SessionProbe> = std::sync::OnceLock::new();

/// Sets the session probe (from `_PG_init`).
pub fn set_session_probe(probe: SessionProbe) {
    let _ = SESSION_PROBE.set(probe);
}

fn pii_active() -> bool {
    SESSION_PROBE.get().is_some_and(|p| (p.pii_active)())
}

fn reveal_count() -> u64 {
    SESSION_PROBE.get().map_or(0, |p| (p.reveal_count)())
}

/// Record statements on governed data (superusers may switch it off, e.g. to
/// benchmark; analysts cannot).
pub static AUDIT: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Wait at the end of each audited statement until its record is committed.
pub static SYNCHRONOUS: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Slots of the shared-memory queue (one record each, 8 kB).
pub static QUEUE_SLOTS: GucSetting<i32> = GucSetting::<i32>::new(4096);
/// Slots one backend may hold (open records, records waiting to be written).
pub static BACKEND_SLOTS: GucSetting<i32> = GucSetting::<i32>::new(512);
/// Slots all backends of one role may hold together (0: a quarter of the queue).
pub static ROLE_SLOTS: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Seconds a statement waits for room in the queue before it fails.
pub static QUEUE_WAIT: GucSetting<i32> = GucSetting::<i32>::new(30);

/// Records a backend keeps open (RUNNING) at once; starting one more writes
/// the oldest as `open`, so long-lived cursors do not pin queue slots.
const OPEN_RECORDS: usize = 8;

struct InFlight {
    query_desc: usize,
    ticket: queue::Ticket,
    /// Rows of every finished run of the executor (each FETCH of a cursor).
    rows: i64,
    /// Rows the current run had sent when an ERROR (or another message) was
    /// raised in it: counted if the run never finishes.
    rows_in_run: i64,
    started: Instant,
    reveals_at_start: u64,
    subxact: pg_sys::SubTransactionId,
    /// The record's id and text, for its `statement_end` record if it is
    /// written while the statement is still running.
    id: record::RecordId,
    query: std::rc::Rc<str>,
    level: i32,
    spilled: bool,
}

thread_local! {
    static IN_FLIGHT: RefCell<Vec<InFlight>> = const { RefCell::new(Vec::new()) };
    static EXIT_CALLBACK: Cell<bool> = const { Cell::new(false) };
    /// Claims of this backend refused since its last record, not yet logged.
    static REFUSED: Cell<u64> = const { Cell::new(0) };
    /// Governed relation -> its raw attribute numbers masked in the published view.
    static MASKED: RefCell<HashMap<pg_sys::Oid, Vec<i16>>> = RefCell::new(HashMap::new());
    /// Record templates of recent statements, newest last.
    static TEMPLATES: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
    /// The buffer statements' records are encoded in (kept for its capacity).
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A statement's record template and what it was made from.
struct Cached {
    user: pg_sys::Oid,
    session_user: pg_sys::Oid,
    level: i32,
    touched: Vec<(pg_sys::Oid, Vec<i16>)>,
    template: record::Template,
}

/// Templates kept per backend.
const TEMPLATES_KEPT: usize = 32;

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
        c"Set at server start; the queue lives in shared memory and in townlake/audit_queue in the data directory.",
        &QUEUE_SLOTS,
        16,
        65536,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.audit_backend_slots",
        c"Audit queue slots one session may hold (its open records and those not yet written).",
        c"A session at its share waits for its own records to be written; others are not slowed down.",
        &BACKEND_SLOTS,
        4,
        65536,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.audit_role_slots",
        c"Audit queue slots all sessions of one role may hold together (0: a quarter of the queue).",
        c"Keeps one role from filling the queue for everyone; a role at its share waits for its own records to be written.",
        &ROLE_SLOTS,
        0,
        65536,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.audit_queue_wait",
        c"Seconds a statement on governed data waits for room in the audit queue before it fails.",
        c"A statement that cannot get a queue slot within this time fails instead of running unaudited. Superusers only; can be set per role.",
        &QUEUE_WAIT,
        1,
        3600,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SAFETY: plain read of a postmaster flag.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        queue::request(QUEUE_SLOTS.get().max(16) as u32);
        worker::register();
    }
    crate::pg::xact::register(Some(on_xact), Some(on_subxact));
    crate::pg::callbacks::on_relcache(on_relcache);
}

fn on_relcache(_relid: pg_sys::Oid) {
    // a published view may have been replaced (its masks changed), a
    // column or relation renamed (the names in records)
    MASKED.with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.clear();
        }
    });
    TEMPLATES.with(|t| {
        if let Ok(mut t) = t.try_borrow_mut() {
            t.clear();
        }
    });
}

fn now_pg() -> i64 {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

fn shares() -> queue::Shares {
    let role = match ROLE_SLOTS.get() {
        0 => queue::nslots() / 4,
        n => n as u32,
    }
    .max(1);
    queue::Shares { backend: (BACKEND_SLOTS.get().max(1) as u32).min(role), role }
}

/// Records the start of an audited statement (ExecutorStart has not run yet).
pub fn statement_started(exec: &Execution, touched: &[Touched]) {
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
    spill_oldest_open();
    let depth = IN_FLIGHT.with(|f| f.borrow().len()) as i32;
    // bytes, compared with the cached templates as they are: the text is
    // converted (invalid UTF-8 replaced) only for a new template
    let source: &[u8] = exec.source_text().map_or(b"", |t| t.to_bytes());
    let started_us = now_pg();
    let mut params = param_values(exec);
    // Values may feed a masked PII column: stored only when the session has
    // PII on (the record then says whether it revealed anything).
    let masked = params.is_some() && !pii_active() && touches_masked(touched);
    if masked {
        for v in params.iter_mut().flatten() {
            *v = v.as_ref().map(|_| MASKED_VALUE.to_string());
        }
    }
    let id = record::next_record_id(started_us);
    // taken out while in use (an ERROR in the claim just drops it)
    let mut bytes = ENCODED.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let query = encode_statement(&mut bytes, source, touched, depth, id.as_str(), started_us, params, masked);
    let ticket = claim_bytes(&bytes, started_us, None);
    ENCODED.with(|b| *b.borrow_mut() = bytes);
    // SAFETY: plain read of backend state.
    let current_subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    IN_FLIGHT.with(|f| {
        f.borrow_mut().push(InFlight {
            query_desc: exec.key(),
            ticket,
            rows: 0,
            rows_in_run: 0,
            started: Instant::now(),
            reveals_at_start: reveal_count(),
            subxact: current_subxact,
            id,
            query,
            level: depth,
            spilled: false,
        })
    });
}

/// The JSON of a statement's record (into `out`) and its text, from a
/// cached template when this role ran the same statement on the same
/// columns before.
#[allow(clippy::too_many_arguments)]
fn encode_statement(
    out: &mut Vec<u8>,
    source: &[u8],
    touched: &[Touched],
    level: i32,
    id: &str,
    started_us: i64,
    params: Option<Vec<Option<String>>>,
    masked: bool,
) -> std::rc::Rc<str> {
    // SAFETY: plain reads of backend state.
    let (user, session_user) = unsafe { (pg_sys::GetUserId(), pg_sys::GetSessionUserId()) };
    let same = |c: &Cached| {
        c.user == user
            && c.session_user == session_user
            && c.level == level
            && c.touched.len() == touched.len()
            && c.touched.iter().zip(touched).all(|(a, b)| a.0 == b.relid && a.1 == b.attnums)
            && c.template.query.as_bytes() == source
    };
    // the refusals since this backend's last record ride on the full record
    if REFUSED.with(Cell::get) == 0 {
        let hit = TEMPLATES.with(|t| {
            let t = t.borrow();
            t.iter().rev().find(|c| same(c)).map(|c| {
                c.template.encode_into(out, id, started_us, params.as_deref(), masked);
                c.template.query.clone()
            })
        });
        if let Some(query) = hit.filter(|_| out.len() <= queue::MAX_RECORD_BYTES) {
            return query;
        }
    }
    let mut rec = Record::for_statement(String::from_utf8_lossy(source).into_owned(), touched, level, started_us);
    rec.id = id.to_string();
    if let Some(template) = record::Template::new(&rec) {
        TEMPLATES.with(|t| {
            let mut t = t.borrow_mut();
            if t.len() >= TEMPLATES_KEPT {
                t.remove(0);
            }
            t.push(Cached {
                user,
                session_user,
                level,
                touched: touched.iter().map(|t| (t.relid, t.attnums.clone())).collect(),
                template,
            });
        });
    }
    rec.params = params;
    rec.params_masked = masked;
    let query = std::rc::Rc::from(rec.query.as_str());
    *out = encode_with_refusals(rec);
    query
}

/// A record's JSON, with the count of this backend's refused claims not yet
/// logged (`detail.audit_refused_before`).
fn encode_with_refusals(mut rec: Record) -> Vec<u8> {
    let pending = REFUSED.with(Cell::get);
    if pending > 0 {
        if !rec.detail.is_object() {
            rec.detail = Value::Object(Default::default());
        }
        rec.detail["audit_refused_before"] = Value::from(pending);
    }
    rec.encode(queue::MAX_RECORD_BYTES)
}

/// What a masked parameter value is recorded as.
pub const MASKED_VALUE: &str = "<masked>";

/// Text of the statement's bound parameter values (EXECUTE's arguments,
/// extended-protocol binds); None without parameters, or when they are
/// fetched lazily (PL/pgSQL variables). Only built-in base types are printed,
/// by their built-in output functions (no user code runs for the audit);
/// other values are recorded by their type's name.
fn param_values(exec: &Execution) -> Option<Vec<Option<String>>> {
    let params = exec.params()?;
    let mut out = Vec::with_capacity(params.len());
    for p in params {
        if p.isnull || p.ptype == pg_sys::Oid::INVALID {
            out.push(None);
            continue;
        }
        let Some(output) = output_function(p.ptype) else {
            let name = catalog::type_name(p.ptype);
            out.push(Some(format!("<value of type {name}>")));
            continue;
        };
        out.push(p.text(&output));
    }
    Some(out)
}

/// The output function the audit prints values of type `t` with: only for
/// built-in base types (and arrays of them), whose output functions are
/// built in; cached per backend (built-in types do not change).
fn output_function(t: pg_sys::Oid) -> Option<catalog::OutputFunction> {
    thread_local! {
        static OUTPUT: RefCell<HashMap<pg_sys::Oid, Option<catalog::OutputFunction>>> = RefCell::new(HashMap::new());
    }
    if let Some(known) = OUTPUT.with(|o| o.borrow().get(&t).copied()) {
        return known;
    }
    let builtin = |t: pg_sys::Oid| u32::from(t) < pg_sys::FirstGenbkiObjectId && catalog::type_kind(t) == b'b';
    let elem = catalog::element_type(t);
    let found = (builtin(t) && elem.is_none_or(builtin)).then(|| catalog::OutputFunction::of(t));
    OUTPUT.with(|o| o.borrow_mut().insert(t, found));
    found
}

/// Whether the statement reads a column its published view masks (by
/// name: published columns carry their raw column's name).
fn touches_masked(touched: &[Touched]) -> bool {
    touched.iter().any(|t| {
        let reads = |masked: &[i16]| !masked.is_empty() && t.attnums.iter().any(|a| *a == 0 || masked.contains(a));
        // the cached list, looked at in place (no copy per statement)
        if let Some(known) = MASKED.with(|m| m.borrow().get(&t.relid).map(|m| reads(m))) {
            return known;
        }
        reads(&masked_columns(t.relid, t.published_view))
    })
}

/// Raw attribute numbers of `relid` that its published view shows masked:
/// those whose view column is not the plain raw column.
fn masked_columns(relid: pg_sys::Oid, published_view: Option<pg_sys::Oid>) -> Vec<i16> {
    if let Some(m) = MASKED.with(|m| m.borrow().get(&relid).cloned()) {
        return m;
    }
    let mut out = Vec::new();
    if let Some(view) = published_view {
        // the view exists (the cache says so) and is locked as statements
        // reading it lock it
        for column in crate::pg::query::view_columns(view) {
            if column.plain {
                continue;
            }
            if let Some(raw_att) = catalog::attnum(relid, &column.name) {
                out.push(raw_att);
            }
        }
    }
    MASKED.with(|m| m.borrow_mut().insert(relid, out.clone()));
    out
}

/// Rows the executor produced in its latest run, added to its record.
pub fn statement_ran(exec: &Execution) {
    let Some(n) = exec.rows_processed() else { return };
    let n = n as i64;
    let key = exec.key();
    IN_FLIGHT.with(|f| {
        if let Some(e) = f.borrow_mut().iter_mut().rev().find(|e| e.query_desc == key) {
            e.rows += n;
            e.rows_in_run = 0;
        }
    });
}

/// A message (an ERROR, perhaps) is being raised while the statement runs:
/// the rows sent so far count if the run ends in it. Called from Postgres'
/// error reporting, so it only reads and stores (never raises, never waits).
pub fn statement_interrupted(exec: &Execution) {
    let Some(n) = exec.rows_processed() else { return };
    let key = exec.key();
    IN_FLIGHT.with(|f| {
        if let Ok(mut f) = f.try_borrow_mut() {
            if let Some(e) = f.iter_mut().rev().find(|e| e.query_desc == key) {
                e.rows_in_run = n as i64;
            }
        }
    });
}

/// Writes the oldest open record of this backend as `open` when it holds
/// OPEN_RECORDS of them, freeing its slot for the writer.
fn spill_oldest_open() {
    let oldest = IN_FLIGHT.with(|f| {
        let mut f = f.borrow_mut();
        if f.iter().filter(|e| !e.spilled).count() < OPEN_RECORDS {
            return None;
        }
        let e = f.iter_mut().find(|e| !e.spilled)?;
        e.spilled = true;
        Some((e.ticket, e.rows + e.rows_in_run, e.started, e.reveals_at_start))
    });
    if let Some((ticket, rows, started, reveals)) = oldest {
        let c = Completion {
            outcome: Outcome::Open,
            rows: Some(rows),
            duration_us: Some(started.elapsed().as_micros() as i64),
            pii: reveal_count() > reveals,
        };
        queue::complete(ticket, &c, false, shares().backend / 2);
    }
}

/// Claims queue slots for `rec`, waiting for room (see `claim_bytes`).
fn claim(rec: &Record, done: Option<&Completion>) -> queue::Ticket {
    claim_bytes(&encode_with_refusals(rec.clone()), rec.started_us, done)
}

/// Claims queue slots for a record's JSON, waiting for room; fails after
/// `townlake.audit_queue_wait` (the refusal is counted, and logged in this
/// backend's next record). With `done` the record is complete at once.
fn claim_bytes(bytes: &[u8], started_us: i64, done: Option<&Completion>) -> queue::Ticket {
    match claim_within(bytes, started_us, done, shares(), true) {
        Some(t) => t,
        None => {
            queue::count(true);
            REFUSED.with(|r| r.set(r.get() + 1));
            LakeError::new(
                PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                "the audit queue has no room for this session's records; governed data cannot be read unrecorded",
            )
            .with_detail(format!(
                "This session waited {} s for its earlier audit records to be written.",
                QUEUE_WAIT.get()
            ))
            .with_hint(
                "Run fewer statements on governed data at once, or check that townlake's audit writer is \
                 running (pg_stat_activity, server log).",
            )
            .report();
        }
    }
}

/// Claims slots within `shares`; with `wait`, waits for room up to the
/// deadline, else tries once. None: no room.
fn claim_within(
    bytes: &[u8],
    started_us: i64,
    done: Option<&Completion>,
    shares: queue::Shares,
    wait: bool,
) -> Option<queue::Ticket> {
    // SAFETY: plain reads of backend state.
    let (db, role) = unsafe { (pg_sys::MyDatabaseId, pg_sys::GetUserId()) };
    // set at the first refusal: most claims succeed at once
    let mut deadline = None;
    let mut throttled = false;
    loop {
        match queue::try_claim(db, role, shares, started_us, bytes, done) {
            Ok(t) => {
                if done.is_some() {
                    queue::wake_writer_of(db);
                }
                // the record just queued carries the earlier refusals
                REFUSED.with(|r| r.set(0));
                return Some(t);
            }
            Err(why) => {
                if why != queue::Refusal::Full && !throttled {
                    throttled = true;
                    queue::count(false);
                }
            }
        }
        queue::wake_writer_of(db);
        let deadline = *deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(QUEUE_WAIT.get().max(1) as u64));
        if !wait || Instant::now() >= deadline {
            return None;
        }
        // woken by the writer when it frees slots
        queue::nap(100);
    }
}

/// Completes the record of the statement, if we audit it (before
/// standard_ExecutorEnd).
pub fn statement_ended(exec: &Execution) {
    let key = exec.key();
    let entry = IN_FLIGHT.with(|f| {
        let mut f = f.borrow_mut();
        let pos = f.iter().rposition(|e| e.query_desc == key)?;
        Some(f.remove(pos))
    });
    let Some(e) = entry else { return };
    finish(e, Outcome::Ok, SYNCHRONOUS.get(), true);
}

/// Completes a statement's record; for one already written as `open`,
/// queues a `statement_end` record instead. `may_wait`: false in abort and
/// exit callbacks, which must not sleep. An end record that finds no room
/// is counted as refused and noted in the server log (the statement's own
/// record is in the log already, as `open`).
fn finish(e: InFlight, outcome: Outcome, wait: bool, may_wait: bool) {
    let c = Completion {
        outcome,
        rows: Some(e.rows + e.rows_in_run),
        duration_us: Some(e.started.elapsed().as_micros() as i64),
        pii: reveal_count() > e.reveals_at_start,
    };
    let ticket = if e.spilled {
        let mut rec = Record::for_event("statement_end", serde_json::json!({ "record_id": e.id.as_str() }), now_pg());
        rec.query = e.query.to_string();
        rec.level = e.level;
        // Ending normally, it waits for its share like any record; in abort
        // and exit callbacks, which cannot wait, it takes any free slot.
        let unlimited = queue::Shares { backend: u32::MAX, role: u32::MAX };
        let within = if may_wait { shares() } else { unlimited };
        match claim_within(&encode_with_refusals(rec.clone()), rec.started_us, Some(&c), within, may_wait) {
            Some(t) => t,
            None => {
                queue::count(true);
                pgrx::log!("townlake: the audit queue is full; the end of statement record {} is not recorded", e.id);
                return;
            }
        }
    } else {
        queue::complete(e.ticket, &c, wait, shares().backend / 2);
        e.ticket
    };
    if wait {
        let deadline = Instant::now() + Duration::from_secs(QUEUE_WAIT.get().max(1) as u64);
        while !queue::written(ticket) {
            if Instant::now() >= deadline {
                pgrx::warning!("townlake: audit record not yet written after {} s", QUEUE_WAIT.get());
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
        finish(e, outcome, false, false);
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

fn on_xact(event: crate::pg::xact::XactEvent) {
    if matches!(event, pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT) {
        finish_where(|_| true, abort_outcome());
    }
}

fn on_subxact(event: crate::pg::xact::SubXactEvent, my_subid: pg_sys::SubTransactionId, _parent: pg_sys::SubTransactionId) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        // statements started in the aborted subtransaction or its children
        finish_where(|e| e.subxact >= my_subid, abort_outcome());
    }
}

fn ensure_exit_callback() {
    if EXIT_CALLBACK.with(Cell::get) {
        return;
    }
    crate::pg::callbacks::before_exit(on_exit);
    EXIT_CALLBACK.with(|c| c.set(true));
}

fn on_exit() {
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

/// The audit queue's counters: its slots, slots in use, slots of records not
/// yet in the log, claims refused after waiting too long and claims that
/// waited for their session's or role's share (both since the server
/// started), and the slots charged to this session.
#[pg_extern(name = "audit_queue_stats", volatile, parallel_restricted)]
fn audit_queue_stats() -> pgrx::JsonB {
    let st = queue::stats();
    let s = shares();
    pgrx::JsonB(serde_json::json!({
        "slots": st.slots,
        "used": st.used,
        "unwritten": st.unwritten,
        "refused": st.refused,
        "throttled": st.throttled,
        "session_slots": st.mine,
        "backend_share": s.backend,
        "role_share": s.role,
    }))
}

// The audit log's tables and view; its triggers use governance's append-only
// trigger function, so it runs after sql/governance/governance.sql.
extension_sql_file!(
    "../../sql/audit/audit.sql",
    name = "audit",
    requires = ["governance", audit_pending, audit_queue_stats]
);
