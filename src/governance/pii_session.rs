//! Per-session PII opt-in. The state lives only in this backend's memory and
//! only `lake.enable_pii` sets it, after checking the caller's `pii` grants
//! with the extension's privileges; no setting can forge it. Published views
//! call `lake.pii_revealed(rel)` for every masked value.
//!
//! Enabling is transactional: if the transaction (or savepoint) that called
//! `enable_pii` rolls back, the previous state comes back, just as the
//! recorded flip in `lake.pii_sessions` disappears. Disabling is immediate.
//!
//! While PII is on the session is read-only (hooks.rs refuses what Postgres'
//! read-only mode lets through): every transaction that ran anything with PII
//! on is forced read-only to its end (`XactReadOnly`), also after
//! `disable_pii` or the TTL, so values held in variables cannot be written
//! after switching off. Values are revealed only to executors started while
//! PII is on: a statement or cursor that began before `enable_pii` (whose
//! functions were not checked against the read-only rules) stays masked.

use std::cell::{Cell, RefCell};

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use super::privileged::{call_operation, current_user_oid};
use crate::errors::LakeError;

#[derive(Clone, Debug)]
struct Covered {
    relid: pg_sys::Oid,
    relation: String,
    grant_id: i64,
    /// Grant expiry as a Postgres timestamp (µs since 2000-01-01).
    expires_at: Option<i64>,
}

#[derive(Clone, Debug)]
struct Session {
    role: pg_sys::Oid,
    role_name: String,
    reason: String,
    session_id: i64,
    since: i64,
    until: i64,
    covered: Vec<Covered>,
}

/// A session change made in the current transaction, undone on abort.
struct Pending {
    previous: Option<Session>,
    subxact: pg_sys::SubTransactionId,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
    /// (transaction start, statement start) of the last grant re-check, and
    /// the grant ids still active then.
    static CHECKED: RefCell<((i64, i64), Vec<i64>)> = const { RefCell::new(((0, 0), Vec::new())) };
    /// Number of values revealed so far in this backend (the audit hook
    /// compares it before and after a statement).
    static REVEALS: Cell<u64> = const { Cell::new(0) };
    /// Something ran in this transaction with PII on: it stays read-only.
    static TAINTED: Cell<bool> = const { Cell::new(false) };
    /// We switched `XactReadOnly` on (so townlake's own bookkeeping may
    /// switch it off for a moment).
    static FORCED: Cell<bool> = const { Cell::new(false) };
    /// Executors started and not yet ended: (query desc, started with PII on,
    /// subtransaction).
    static STARTED: RefCell<Vec<(usize, bool, pg_sys::SubTransactionId)>> = const { RefCell::new(Vec::new()) };
    /// Executors running now, innermost last: (may reveal, subtransaction).
    static RUNNING: RefCell<Vec<(bool, pg_sys::SubTransactionId)>> = const { RefCell::new(Vec::new()) };
}

fn now() -> i64 {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

/// Values revealed by this backend so far.
pub fn reveal_count() -> u64 {
    REVEALS.with(Cell::get)
}

/// True while a PII session is on in this backend (the session is then
/// read-only for governed data).
pub fn session_active() -> bool {
    SESSION.with(|s| s.borrow().as_ref().is_some_and(|s| now() < s.until))
}

/// True while the session must not move data anywhere: PII is on, or was on
/// earlier in this transaction.
pub fn read_only_now() -> bool {
    session_active() || TAINTED.with(Cell::get)
}

/// Makes the current transaction read-only while `read_only_now()`, the way
/// Postgres means it (`transaction_read_only`): it then refuses writes,
/// `nextval`, large-object writes and DDL on its own, also inside functions.
/// Called at every statement start; returns whether the session is read-only.
pub fn enforce_read_only() -> bool {
    if session_active() {
        TAINTED.with(|t| t.set(true));
    }
    if !TAINTED.with(Cell::get) {
        return false;
    }
    // SAFETY: plain backend globals; switching to read-only is always allowed.
    unsafe {
        if !pg_sys::XactReadOnly {
            pg_sys::XactReadOnly = true;
            FORCED.with(|f| f.set(true));
        }
    }
    true
}

/// Runs townlake's own bookkeeping write (the `lake.pii_sessions` row of an
/// enable or disable) in a transaction we made read-only.
fn with_own_writes<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the global read in with_own_writes.
            unsafe { pg_sys::XactReadOnly = self.0 };
        }
    }
    // SAFETY: plain backend global, restored by the guard.
    let _restore = unsafe {
        let was = pg_sys::XactReadOnly;
        if was && FORCED.with(Cell::get) {
            pg_sys::XactReadOnly = false;
        }
        Restore(was)
    };
    f()
}

/// The executor hook saw `qd` start (after `enforce_read_only`).
pub fn executor_started(qd: usize) {
    // SAFETY: plain read of transaction state.
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    let pii_on = read_only_now();
    STARTED.with(|s| s.borrow_mut().push((qd, pii_on, subxact)));
}

/// The executor hook saw `qd` end.
pub fn executor_ended(qd: usize) {
    STARTED.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(pos) = s.iter().rposition(|e| e.0 == qd) {
            s.remove(pos);
        }
    });
}

/// Marks `qd` as running, until `executor_run_finished` (or the abort of
/// the (sub)transaction, when an ERROR skips that).
pub fn executor_run_started(qd: usize) {
    let may_reveal = STARTED.with(|s| s.borrow().iter().rev().find(|e| e.0 == qd).is_some_and(|e| e.1));
    // SAFETY: plain read of transaction state.
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    RUNNING.with(|r| r.borrow_mut().push((may_reveal, subxact)));
}

/// Ends the innermost running mark set by `executor_run_started`.
pub fn executor_run_finished(_qd: usize) {
    RUNNING.with(|r| r.borrow_mut().pop());
}

/// Whether this session has turned PII on (possibly expired since).
pub fn is_on() -> bool {
    SESSION.with(|s| s.borrow().is_some())
}

/// Whether the innermost running executor started with PII on. Outside any
/// executor (planning, estimates) nothing is revealed.
fn running_executor_may_reveal() -> bool {
    RUNNING.with(|r| r.borrow().last().is_some_and(|e| e.0))
}

/// Registered from `_PG_init`: undo an enable whose transaction aborts.
pub fn init() {
    crate::pg::xact::register(Some(on_xact), Some(on_subxact));
}

fn on_xact(event: crate::pg::xact::XactEvent) {
    let ended = match event {
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => {
            if let Some(p) = PENDING.with(|p| p.borrow_mut().take()) {
                SESSION.with(|s| *s.borrow_mut() = p.previous);
            }
            // executors of an aborted transaction never reach ExecutorEnd
            // (and one whose error skipped our frames left its RUNNING entry)
            STARTED.with(|s| s.borrow_mut().clear());
            RUNNING.with(|r| r.borrow_mut().clear());
            true
        }
        pg_sys::XactEvent::XACT_EVENT_COMMIT
        | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT
        | pg_sys::XactEvent::XACT_EVENT_PREPARE => {
            PENDING.with(|p| p.borrow_mut().take());
            true
        }
        _ => false,
    };
    // A COMMIT or ROLLBACK inside a procedure or DO block keeps the taint: its
    // variables outlive the transaction, so the next one is read-only too.
    // SAFETY: a plain query of SPI's state, valid in any callback.
    if ended && !unsafe { pg_sys::SPI_inside_nonatomic_context() } {
        TAINTED.with(|t| t.set(false));
        FORCED.with(|f| f.set(false));
    }
}

fn on_subxact(event: crate::pg::xact::SubXactEvent, my_subid: pg_sys::SubTransactionId, parent_subid: pg_sys::SubTransactionId) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        STARTED.with(|s| s.borrow_mut().retain(|e| e.2 < my_subid));
        RUNNING.with(|r| r.borrow_mut().retain(|e| e.1 < my_subid));
    }
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        let Some(change) = pending.as_mut() else { return };
        if change.subxact != my_subid {
            return;
        }
        match event {
            pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => {
                let previous = pending.take().and_then(|c| c.previous);
                SESSION.with(|s| *s.borrow_mut() = previous);
            }
            pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => change.subxact = parent_subid,
            _ => {}
        }
    });
}

fn status_json() -> Value {
    SESSION.with(|s| match s.borrow().as_ref() {
        None => json!({ "enabled": false }),
        Some(s) => {
            let t = now();
            json!({
                "enabled": t < s.until,
                "expired": t >= s.until,
                "role": s.role_name,
                "reason": s.reason,
                "session_id": s.session_id,
                "since": pg_timestamp_text(s.since),
                "until": pg_timestamp_text(s.until),
                "relations": s.covered.iter().map(|c| json!({
                    "relation": c.relation,
                    "grant_id": c.grant_id,
                    "grant_expires_at": c.expires_at.map(pg_timestamp_text),
                })).collect::<Vec<_>>(),
            })
        }
    })
}

/// ISO text of a Postgres timestamp (µs since 2000-01-01 UTC).
fn pg_timestamp_text(ts: i64) -> String {
    let unix_micros = ts + crate::pg::time::PG_EPOCH_OFFSET_MICROS;
    chrono::DateTime::from_timestamp_micros(unix_micros)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn interval_text(i: &Interval) -> String {
    format!("{} months {} days {} microseconds", i.months(), i.days(), i.micros())
}

/// Turns PII on for this session: unmasks, for the relations the caller's
/// unexpired `pii` grants cover, until `disable_pii()` or `ttl` passes.
#[pg_extern(name = "enable_pii", volatile, parallel_unsafe)]
fn enable_pii(reason: &str, ttl: default!(Interval, "'1 hour'")) -> JsonB {
    // Model and pipeline runs write their results: a run that revealed PII
    // would store raw values for whoever may read its target.
    if crate::pg::backend::is_background_worker() {
        crate::audit::record_refusal(Some("SELECT lake.enable_pii(...)"), "Turning PII on in a model or pipeline run");
        LakeError::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "lake.enable_pii() cannot be called in a model or pipeline run",
        )
        .with_hint("PII is revealed only to interactive sessions, which are read-only while it is on.")
        .report()
    }
    let caller = current_user_oid();
    // SAFETY: MyProcPid is set at backend start.
    let pid = unsafe { pg_sys::MyProcPid };
    let granted = with_own_writes(|| {
        call_operation("enable_pii", caller, json!({ "reason": reason, "ttl": interval_text(&ttl), "pid": pid }), true)
    });
    let covered: Vec<Covered> = granted
        .get("relations")
        .and_then(Value::as_array)
        .map(|rels| {
            rels.iter()
                .filter_map(|r| {
                    Some(Covered {
                        relid: pg_sys::Oid::from(r.get("relid")?.as_u64()? as u32),
                        relation: r.get("relation")?.as_str()?.to_string(),
                        grant_id: r.get("grant_id")?.as_i64()?,
                        expires_at: r.get("expires_us").and_then(Value::as_i64),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let (Some(session_id), Some(since), Some(until)) = (
        granted.get("session_id").and_then(Value::as_i64),
        granted.get("since_us").and_then(Value::as_i64),
        granted.get("until_us").and_then(Value::as_i64),
    ) else {
        LakeError::internal("lake_internal._op_enable_pii returned an incomplete answer").report()
    };
    let session = Session {
        role: caller,
        role_name: granted.get("role").and_then(Value::as_str).unwrap_or_default().to_string(),
        reason: reason.to_string(),
        session_id,
        since,
        until,
        covered,
    };
    let previous = SESSION.with(|s| s.borrow_mut().replace(session));
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        if pending.is_none() {
            // SAFETY: plain read of transaction state.
            let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
            *pending = Some(Pending { previous, subxact });
        }
    });
    CHECKED.with(|c| *c.borrow_mut() = ((0, 0), Vec::new()));
    // From here on the transaction is read-only, and every cached plan is
    // planned and initialised again, so the function-call checks of the
    // read-only rules (hooks.rs) see every expression run with PII on.
    enforce_read_only();
    // SAFETY: marks this backend's cached plans for revalidation.
    unsafe { pg_sys::ResetPlanCache() };
    let status = status_json();
    crate::audit::record_event("pii_enable", status.clone());
    JsonB(status)
}

/// Turns PII off for this session (immediately, whatever happens to the
/// transaction) and records the flip.
#[pg_extern(name = "disable_pii", volatile, parallel_unsafe)]
fn disable_pii() -> JsonB {
    let previous = SESSION.with(|s| s.borrow_mut().take());
    PENDING.with(|p| p.borrow_mut().take());
    if let Some(s) = previous {
        with_own_writes(|| {
            call_operation("disable_pii", current_user_oid(), json!({ "session_id": s.session_id }), true)
        });
        crate::audit::record_event("pii_disable", json!({ "session_id": s.session_id }));
    }
    JsonB(status_json())
}

/// What PII state this session is in.
#[pg_extern(name = "pii_status", volatile, parallel_restricted)]
fn pii_status() -> JsonB {
    JsonB(status_json())
}

/// Grant ids (of `ids`) still active, re-checked once per statement so that a
/// revoked grant stops revealing from the next statement on.
fn active_grants(ids: &[i64]) -> Vec<i64> {
    // SAFETY: plain reads of transaction state.
    let key = unsafe {
        (pg_sys::GetCurrentTransactionStartTimestamp(), pg_sys::GetCurrentStatementStartTimestamp())
    };
    if let Some(cached) = CHECKED.with(|c| {
        let c = c.borrow();
        (c.0 == key).then(|| c.1.clone())
    }) {
        return cached;
    }
    // the latest committed state: a revocation counts from the next
    // statement, also inside a REPEATABLE READ transaction (as in the gate)
    let answer = super::gate::with_latest_snapshot(|| {
        call_operation("pii_grants_active", current_user_oid(), json!({ "ids": ids }), false)
    });
    let active: Vec<i64> = answer
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    CHECKED.with(|c| *c.borrow_mut() = (key, active.clone()));
    active
}

/// True if this session has PII on for `rel` right now: the enabling role is
/// the current user, the TTL has not passed, and the covering grant is still
/// unexpired and unrevoked. Published views call it for each masked value.
///
/// Parallel safe, so a filter on a masked column does not keep a plan serial:
/// in parallel mode (the leader of a parallel plan and its workers) it answers
/// false, the same on every process, and while PII is on the planner makes
/// serial plans only (planner.rs; enabling resets cached plans).
#[pg_extern(name = "pii_revealed", stable, strict, parallel_safe)]
fn pii_revealed(rel: pg_sys::Oid) -> bool {
    // SAFETY: plain read of transaction state.
    if unsafe { pg_sys::IsInParallelMode() } || !running_executor_may_reveal() {
        return false;
    }
    let t = now();
    let candidate = SESSION.with(|s| {
        let s = s.borrow();
        let s = s.as_ref()?;
        if s.role != current_user_oid() || t >= s.until {
            return None;
        }
        let c = s.covered.iter().find(|c| c.relid == rel)?;
        if c.expires_at.is_some_and(|e| t >= e) {
            return None;
        }
        Some((c.grant_id, s.covered.iter().map(|c| c.grant_id).collect::<Vec<_>>()))
    });
    let Some((grant_id, all_ids)) = candidate else { return false };
    if !active_grants(&all_ids).contains(&grant_id) {
        return false;
    }
    REVEALS.with(|r| r.set(r.get() + 1));
    true
}
