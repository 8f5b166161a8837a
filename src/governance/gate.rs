//! The access check inside every published view:
//! `WHERE lake.access_gate(<raw oid>)`. A pseudo-constant qual, so Postgres
//! evaluates it once per scan, in a gating Result above the relation's scan,
//! before any row is read; it returns true or raises the self-service message
//! (state, how to request access, who has access).
//!
//! Positive decisions are cached per backend until the grant that allows
//! expires; any change to governed relations or grants (a statement trigger
//! sends a relcache invalidation at commit) and any change to roles or role
//! membership clears the cache.

use std::cell::RefCell;
use std::collections::HashMap;

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::privileged::{call_operation, current_user_oid};
use crate::errors::LakeError;

thread_local! {
    /// (relation, role) -> allowed until this Postgres timestamp.
    static ALLOWED: RefCell<HashMap<(u32, u32), i64>> = RefCell::new(HashMap::new());
}

/// Forgets every cached decision.
pub fn clear_decisions() {
    ALLOWED.with(|a| {
        if let Ok(mut a) = a.try_borrow_mut() {
            a.clear();
        }
    });
}

/// Registered from `_PG_init`: role and membership changes clear the cache.
pub fn init() {
    // SAFETY: registers process-local callbacks with a static function.
    unsafe {
        for cache in [pg_sys::SysCacheIdentifier::AUTHOID, pg_sys::SysCacheIdentifier::AUTHMEMMEMROLE,
                      pg_sys::SysCacheIdentifier::AUTHMEMROLEMEM] {
            pg_sys::CacheRegisterSyscacheCallback(cache as i32, Some(on_role_change), pg_sys::Datum::from(0usize));
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_role_change(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    super::cache::invalidated();
    clear_decisions();
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Raises the self-service denial described by a `lake._access_decision` result.
pub fn raise_denial(decision: &Value) -> ! {
    let message = text(decision, "message").unwrap_or_else(|| "access denied".to_string());
    let mut err = LakeError::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, message);
    if let Some(d) = text(decision, "detail") {
        err = err.with_detail(d);
    }
    if let Some(h) = text(decision, "hint") {
        err = err.with_hint(h);
    }
    err.report()
}

fn now() -> i64 {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

/// Whether the current user may read `rel` now; the full decision (with the
/// self-service message) when not.
pub fn check(rel: pg_sys::Oid) -> Result<(), Value> {
    let user = current_user_oid();
    let key = (rel.to_u32(), user.to_u32());
    let t = now();
    if ALLOWED.with(|a| a.borrow().get(&key).is_some_and(|&until| t < until)) {
        return Ok(());
    }
    let generation = super::cache::generation();
    let d = call_operation("access_decision", user, json!({ "rel": rel.to_u32() }), false);
    if d.get("allowed").and_then(Value::as_bool) == Some(true) {
        let until = d.get("valid_until_us").and_then(Value::as_i64).unwrap_or(i64::MAX);
        // not if an invalidation arrived meanwhile: the answer may be stale
        if super::cache::generation() == generation {
            ALLOWED.with(|a| a.borrow_mut().insert(key, until));
        }
        Ok(())
    } else {
        Err(d)
    }
}

/// True if the current user may read `rel` through its published view;
/// otherwise an ERROR that says why and what to do.
#[pg_extern(name = "access_gate", stable, strict, parallel_safe)]
fn access_gate(rel: pg_sys::Oid) -> bool {
    match check(rel) {
        Ok(()) => true,
        Err(d) => raise_denial(&d),
    }
}
