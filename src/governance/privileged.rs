//! Running governance operations with the extension's privileges.
//!
//! Public governance functions are thin SQL wrappers that call
//! `lake_internal._privileged(op, args)`. This shim records who the caller is
//! (`GetUserId()`, which a SECURITY DEFINER function could not see), switches
//! to the bootstrap superuser for the duration of the call, and runs the
//! internal PL/pgSQL function `lake_internal._op_<op>(caller oid, args jsonb)`. Those
//! internal functions are executable by superusers only, so the caller oid
//! they receive cannot be forged; each one decides itself whether the caller
//! may act. While an operation runs, `internal()` is true: the utility hook
//! and the event triggers let townlake's own DDL through.

use std::cell::Cell;

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use crate::errors::LakeError;

// Every operation is backed by a SQL function
// `lake_internal._op_<name>(caller oid, args jsonb) RETURNS jsonb`.

/// The operations SQL may ask for through `lake_internal._privileged`: each checks
/// itself what the caller may do (the public wrappers and the event triggers
/// use these).
const SQL_OPERATIONS: &[&str] = &[
    "govern_schema",
    "approve_table",
    "approve_column",
    "deny_table",
    "deny_column",
    "set_mask",
    "set_row_filter",
    "grant_access",
    "revoke_access",
    "my_access",
    "request_access",
    "explain_access",
    "policy_json",
    "sync",
    "dropped",
    // the metadata catalog (sql/catalog/catalog.sql)
    "catalog_edit",
    "catalog_usage",
    "catalog_statements",
];

/// Operations that change state only townlake's own code paths may change
/// (PII sessions, grant expiry, the gate's cache and decisions): Rust calls
/// them directly with `call_operation`, SQL cannot.
const INTERNAL_OPERATIONS: &[&str] =
    &["access_decision", "unpublish", "enable_pii", "disable_pii", "pii_grants_active", "expire_grants", "load_cache"];

thread_local! {
    static INTERNAL_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// True while townlake runs one of its own operations in this backend.
pub fn internal() -> bool {
    INTERNAL_DEPTH.with(|d| d.get() > 0)
}

/// The role the current statement runs as (what `current_user` shows).
pub fn current_user_oid() -> pg_sys::Oid {
    // SAFETY: plain read of backend state.
    unsafe { pg_sys::GetUserId() }
}

/// Runs `f` as the bootstrap superuser with `internal()` set and
/// `search_path` pinned; the previous user, security context and path come
/// back when `f` returns or unwinds.
pub fn as_extension_owner<R>(f: impl FnOnce() -> R) -> R {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            INTERNAL_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
    crate::pg::security::run_as(pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID), || {
        INTERNAL_DEPTH.with(|d| d.set(d.get() + 1));
        let _depth = Depth;
        f()
    })
}

/// Runs internal operation `op` for `caller` and returns its jsonb result.
/// `writes` says whether the operation may modify data (read-only SPI
/// otherwise, so a plain access check never assigns a transaction id).
pub fn call_operation(op: &str, caller: pg_sys::Oid, args: Value, writes: bool) -> Value {
    if !SQL_OPERATIONS.contains(&op) && !INTERNAL_OPERATIONS.contains(&op) {
        LakeError::invalid(format!("unknown governance operation \"{op}\"")).report();
    }
    let schema = if schema_outdated() {
        // The 0.1.0 layout still says which relations are governed, so
        // statements and DDL on anything else run; every other operation,
        // and so every access to or DDL on a governed relation, fails closed
        // until the update.
        match op {
            "load_cache" => {}
            // SAFETY: plain read of a backend global.
            "sync" | "dropped" if unsafe { pg_sys::creating_extension } => return Value::Null,
            "sync" | "dropped" if !outdated_ddl_touches_governed(&args) => return Value::Null,
            _ => outdated_error().report(),
        }
        "lake"
    } else {
        "lake_internal"
    };
    let query = format!("SELECT {schema}._op_{op}($1, $2)");
    let result = as_extension_owner(|| {
        if writes {
            Spi::connect_mut(|client| {
                client
                    .update(query.as_str(), Some(1), &[caller.into(), JsonB(args).into()])?
                    .first()
                    .get_one::<JsonB>()
            })
        } else {
            Spi::connect(|client| {
                client
                    .select(query.as_str(), Some(1), &[caller.into(), JsonB(args).into()])?
                    .first()
                    .get_one::<JsonB>()
            })
        }
    });
    match result {
        Ok(Some(JsonB(v))) => v,
        Ok(None) => Value::Null,
        Err(e) => LakeError::internal(format!("governance operation {op} failed: {e}"))
            .with_hint("Is the townlake extension installed in this database?")
            .report(),
    }
}

/// Whether this database's townlake objects predate the loaded library: the
/// library was upgraded and `ALTER EXTENSION townlake UPDATE` has not run
/// here yet (since 0.2.0 the internal operations live in lake_internal).
pub fn schema_outdated() -> bool {
    // SAFETY: catalog lookups by name.
    unsafe {
        pg_sys::get_namespace_oid(c"lake_internal".as_ptr(), true) == pg_sys::Oid::INVALID
            && pg_sys::get_extension_oid(c"townlake".as_ptr(), true) != pg_sys::Oid::INVALID
    }
}

/// While `schema_outdated()`: whether DDL the capture triggers report
/// (`sync`/`dropped` arguments) touches governance, read from the 0.1.0
/// tables: a governed relation, one in a governed or published schema, or a
/// view over a governed relation. Unreadable means yes.
fn outdated_ddl_touches_governed(args: &Value) -> bool {
    const QUERY: &str = "
        WITH r AS (SELECT x::oid AS relid FROM jsonb_array_elements_text(COALESCE($1->'relids', '[]')) x)
        SELECT EXISTS (SELECT 1 FROM r JOIN lake.governed_relations g ON g.relid::oid = r.relid)
            OR EXISTS (SELECT 1 FROM r JOIN pg_catalog.pg_class c ON c.oid = r.relid
                         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                         JOIN lake.governed_schemas s ON n.nspname IN (s.raw_schema, s.published_schema))
            OR EXISTS (SELECT 1 FROM r JOIN pg_catalog.pg_rewrite w ON w.ev_class = r.relid
                         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                          AND d.objid = w.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
                         JOIN lake.governed_relations g ON g.relid::oid = d.refobjid)
            OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(COALESCE($1->'schemas', '[]')) s
                         JOIN lake.governed_schemas gs ON gs.raw_schema = s)";
    let answer = as_extension_owner(|| Spi::get_one_with_args::<bool>(QUERY, &[JsonB(args.clone()).into()]));
    !matches!(answer, Ok(Some(false)))
}

/// The error governed access gets while `schema_outdated()`.
fn outdated_error() -> LakeError {
    let installed = Spi::get_one::<String>("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'townlake'")
        .ok()
        .flatten()
        .unwrap_or_else(|| "older".to_string());
    LakeError::new(
        pgrx::PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "townlake's SQL objects in this database are version {installed}, the loaded library is version {}",
            env!("CARGO_PKG_VERSION")
        ),
    )
    .with_hint(
        "Run ALTER EXTENSION townlake UPDATE in this database as a superuser; until then governed relations \
         cannot be read or changed.",
    )
}

/// Entry point of every public governance function (see sql/governance/governance.sql).
#[pg_extern(name = "_privileged", schema = "lake_internal", volatile)]
fn privileged(op: &str, args: crate::pg::json::JsonArg) -> JsonB {
    if !SQL_OPERATIONS.contains(&op) {
        LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("governance operation \"{op}\" cannot be called from SQL"),
        )
        .with_hint("Use the public functions in schema lake (lake.enable_pii, lake.disable_pii, ...).")
        .report();
    }
    JsonB(call_operation(op, current_user_oid(), args.0, true))
}

/// Whether townlake's own operation is running (event triggers return early).
#[pg_extern(name = "_governance_internal", schema = "lake_internal", stable, parallel_safe)]
fn governance_internal() -> bool {
    internal()
}
