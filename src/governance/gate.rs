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
//!
//! Like Postgres' own GRANT/REVOKE, a change takes effect at the next
//! statement, also inside an open transaction (REPEATABLE READ included):
//! each check first takes in the invalidations other backends committed
//! (Postgres does so only when it takes a new lock, which a transaction
//! that already holds its locks does not), and decides with the latest
//! committed state, not the transaction's snapshot.

use std::cell::RefCell;
use std::collections::HashMap;

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::privileged::{call_operation, current_user_oid};
use crate::errors::{LakeError, LakeResult};

thread_local! {
    /// (relation, role) -> allowed until this Postgres timestamp.
    static ALLOWED: RefCell<HashMap<(u32, u32), i64>> = RefCell::new(HashMap::new());
    /// The cache generation (cache::generation) the decisions were made in:
    /// any invalidation since then makes them all stale.
    static DECIDED_IN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
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
    use crate::pg::callbacks::{on_syscache, SysCacheIdentifier};
    for cache in [SysCacheIdentifier::AUTHOID, SysCacheIdentifier::AUTHMEMMEMROLE, SysCacheIdentifier::AUTHMEMROLEMEM] {
        on_syscache(cache, on_role_change);
    }
}

fn on_role_change() {
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

/// Runs `f` with the latest committed state as its snapshot (the catalog
/// checks of Postgres' own privileges use the latest state too). In parallel
/// mode, where no new snapshot may be taken, with the statement's.
pub fn with_latest_snapshot<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: plain read of backend state.
    if unsafe { pg_sys::IsInParallelMode() } {
        return f();
    }
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            // On an ERROR the (sub)transaction's abort pops it instead.
            if !std::thread::panicking() {
                // SAFETY: pops the snapshot pushed below, which is on top
                // again once `f` returned.
                unsafe { pg_sys::PopActiveSnapshot() };
            }
        }
    }
    // SAFETY: inside a transaction (the executor or a function call runs us);
    // PushActiveSnapshot copies the static latest snapshot.
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot()) };
    let _pop = Pop;
    f()
}

/// Whether the current user may read `rel` now; the full decision (with the
/// self-service message) when not.
pub fn check(rel: pg_sys::Oid) -> Result<(), Value> {
    // Grants and roles changed by transactions committed since this one's
    // last lock: their invalidations clear the cached decisions below.
    // SAFETY: what Postgres does whenever it takes a lock.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    let user = current_user_oid();
    let key = (rel.to_u32(), user.to_u32());
    let t = now();
    let generation = super::cache::generation();
    if DECIDED_IN.with(|d| d.replace(generation)) != generation {
        clear_decisions();
    }
    if ALLOWED.with(|a| a.borrow().get(&key).is_some_and(|&until| t < until)) {
        return Ok(());
    }
    let d = with_latest_snapshot(|| call_operation("access_decision", user, json!({ "rel": rel.to_u32() }), false));
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

/// Time travel (`townlake.as_of`, `townlake.snapshot_id`) on a governed
/// Iceberg table is for roles that may read its raw relation (owners,
/// superusers). Through a published view it is refused: old snapshots keep
/// rows the owner has since deleted (an erasure request, a retracted load)
/// until their snapshots expire, and a grant on the relation is a grant on
/// what it holds now. Called by the Iceberg scan when a session setting asks
/// for an older snapshot, so no way of setting it (SET, a function's SET
/// clause, set_config in the same statement) gets around it.
pub fn check_time_travel(relid: pg_sys::Oid) -> LakeResult<()> {
    // SAFETY: catalog lookup of a relation the scan has open and locked.
    let may_read_raw =
        unsafe { pg_sys::pg_class_aclcheck(relid, current_user_oid(), pg_sys::ACL_SELECT as pg_sys::AclMode) }
            == pg_sys::AclResult::ACLCHECK_OK;
    if may_read_raw || !crate::iceberg::catalog::in_governed_schema(relid)? {
        return Ok(());
    }
    // SAFETY: syscache lookup; NULL handled.
    let name = unsafe {
        let n = pg_sys::get_rel_name(relid);
        if n.is_null() { relid.to_u32().to_string() } else { std::ffi::CStr::from_ptr(n).to_string_lossy().into_owned() }
    };
    Err(LakeError::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("time travel is not available through the published view of \"{name}\""),
    )
    .with_detail("townlake.as_of and townlake.snapshot_id would show rows the table's owner has deleted since.")
    .with_hint("RESET townlake.as_of; RESET townlake.snapshot_id; the table's owners can read older snapshots of the raw table."))
}
