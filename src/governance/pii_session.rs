//! Per-session PII opt-in. The state lives only in this backend's memory and
//! only `lake.enable_pii` sets it, after checking the caller's `pii` grants
//! with the extension's privileges; no setting can forge it. Published views
//! call `lake.pii_revealed(rel)` for every masked value.
//!
//! Enabling is transactional: if the transaction (or savepoint) that called
//! `enable_pii` rolls back, the previous state comes back, just as the
//! recorded flip in `lake.pii_sessions` disappears. Disabling is immediate.

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

/// Registered from `_PG_init`: undo an enable whose transaction aborts.
pub fn init() {
    // SAFETY: registering process-local callbacks with static functions.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => {
            if let Some(p) = PENDING.with(|p| p.borrow_mut().take()) {
                SESSION.with(|s| *s.borrow_mut() = p.previous);
            }
        }
        pg_sys::XactEvent::XACT_EVENT_COMMIT
        | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT
        | pg_sys::XactEvent::XACT_EVENT_PREPARE => {
            PENDING.with(|p| p.borrow_mut().take());
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
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
    let unix_micros = ts + 946_684_800_000_000;
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
    let caller = current_user_oid();
    // SAFETY: MyProcPid is set at backend start.
    let pid = unsafe { pg_sys::MyProcPid };
    let granted = call_operation(
        "enable_pii",
        caller,
        json!({ "reason": reason, "ttl": interval_text(&ttl), "pid": pid }),
        true,
    );
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
        LakeError::internal("lake._op_enable_pii returned an incomplete answer").report()
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
        call_operation("disable_pii", current_user_oid(), json!({ "session_id": s.session_id }), true);
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
    let answer = call_operation("pii_grants_active", current_user_oid(), json!({ "ids": ids }), false);
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
#[pg_extern(name = "pii_revealed", stable, strict, parallel_restricted)]
fn pii_revealed(rel: pg_sys::Oid) -> bool {
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
