//! Governance: closed-by-default review of governed relations, published
//! views with masks, time-limited grants, PII sessions and audit (issue 4).
//!
//! Most of the model is SQL (sql/governance/governance.sql): tables, review functions
//! and the generator of published views. Rust supplies what SQL cannot do
//! safely: knowing the real caller while acting with the extension's
//! privileges (`privileged`), the per-backend PII state (`pii_session`), the
//! access check inside published views (`gate`), masks, row-filter
//! validation, and the hooks.

pub mod cache;
pub mod gate;
pub mod hooks;
pub mod mask_logic;
pub mod masks;
pub mod pii_session;
pub mod planner;
pub mod predicate;
pub mod privileged;
pub mod settings;
pub mod sweeper;

use pgrx::prelude::*;

/// Whether this session is restoring a dump (pg_restore, or psql running a
/// plain-format dump): a superuser session with the settings every dump
/// script starts with (`check_function_bodies = false`, `row_security =
/// off`), which ordinary sessions do not use together. While restoring,
/// townlake's DDL reactions that would create state the dump's data brings
/// anyway (new Iceberg tables, owner records) stand aside, and the data of
/// townlake's tables replaces what CREATE EXTENSION put there (the masking
/// key, the audit chain's head, catalog rows). Superusers only, because it
/// relaxes checks that superusers are not subject to anyway.
pub fn restoring() -> bool {
    // The current user too: in a model's run the session user is the
    // scheduler's superuser while the model's owner runs its code (and may
    // set both settings itself). Restores never run in a background worker.
    // SAFETY: plain reads of backend globals (GUC variables, the users).
    let superusers = unsafe {
        !pg_sys::check_function_bodies
            && !pg_sys::row_security
            && pg_sys::superuser_arg(pg_sys::GetSessionUserId())
            && pg_sys::superuser_arg(pg_sys::GetUserId())
    };
    superusers && !crate::pg::backend::is_background_worker()
}

/// `lake_internal._restoring()`: `restoring()` for the restore triggers in sql/finalize.sql.
#[pg_extern(name = "_restoring", schema = "lake_internal", stable, parallel_safe)]
fn restoring_sql() -> bool {
    restoring()
}

/// Called from `_PG_init`: hooks and per-backend callbacks.
pub fn init() {
    settings::init();
    // SAFETY: plain read of a postmaster flag.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        sweeper::register();
    }
    crate::pg::hooks::register(chain_links());
    // What the wrappers ask of governance, without importing it.
    crate::fdw::policy::register(crate::fdw::policy::Policy {
        check_time_travel: gate::check_time_travel,
        governed: |relid| cache::governed(relid).is_some(),
        restoring,
        anything_governed: cache::anything_governed,
        governed_schema: cache::is_governed_schema,
        governed_foreign_tables,
    });
    crate::audit::set_session_probe(crate::audit::SessionProbe {
        pii_active: pii_session::session_active,
        reveal_count: pii_session::reveal_count,
    });
    cache::init();
    hooks::init();
    gate::init();
    pii_session::init();
}

// Refers to the masks and to these Rust functions by name, so it runs after them.
extension_sql_file!(
    "../../sql/governance/governance.sql",
    name = "governance",
    requires = [
        lake_internal,
        "catalog_tables",
        "native_masks",
        privileged,
        governance_internal,
        governance_changed,
        check_row_filter,
        access_gate,
        restoring_sql,
        mask_hash,
        enable_pii,
        disable_pii,
        pii_status,
        pii_revealed
    ]
);

/// Governance's links of the shared hook chain (registered from `_PG_init`).
fn chain_links() -> crate::pg::hooks::PartHooks {
    crate::pg::hooks::PartHooks {
        utility: Some(hooks::process_utility),
        planner: Some(planner::relax_before_planning),
        executor_start: Some(hooks::executor_start),
        executor_run_before: Some(hooks::executor_run_before),
        executor_run_after: Some(hooks::executor_run_after),
        executor_run_interrupted: Some(hooks::executor_run_interrupted),
        executor_end: Some(hooks::executor_end),
        object_access: Some(hooks::object_access),
    }
}

/// The foreign tables of governed raw schemas whose server has the same
/// wrapper as `server` (read as the extension's owner: the caller may not see
/// `lake.governed_schemas`). Fails closed: a lookup that cannot be made is an
/// ERROR, never "nothing is governed". The plan is kept (every ClickHouse
/// scan outside the governed schemas asks once anything is governed).
fn governed_foreign_tables(server: pg_sys::Oid) -> Vec<crate::fdw::policy::GovernedForeignTable> {
    const GOVERNED: &str = "SELECT coalesce(jsonb_agg(jsonb_build_array(ft.ftrelid::int8, ft.ftserver::int8, c.relowner::int8)), '[]') \
         FROM pg_catalog.pg_foreign_table ft \
         JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) ft.ftrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
         JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) ft.ftserver \
         JOIN pg_catalog.pg_foreign_server mine ON mine.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid \
        WHERE s.srvfdw OPERATOR(pg_catalog.=) mine.srvfdw \
          AND n.nspname IN (SELECT g.raw_schema FROM lake.governed_schemas g)";
    let server_text = u32::from(server).to_string();
    let found = privileged::as_extension_owner(|| {
        Spi::connect(|c| {
            crate::pg::plans::select_text_args(&c, GOVERNED, Some(1), &[&server_text])?.first().get_one::<pgrx::JsonB>()
        })
    })
    .unwrap_or_else(|e| {
        crate::errors::LakeError::internal(format!("cannot list the governed foreign tables: {e}"))
            .with_hint("Is the extension installed and up to date in this database (ALTER EXTENSION townlake UPDATE)?")
            .report()
    })
    .map(|j| j.0)
    .unwrap_or_default();
    let oid = |v: &serde_json::Value, i: usize| pg_sys::Oid::from(v[i].as_i64().unwrap_or(0) as u32);
    found
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| crate::fdw::policy::GovernedForeignTable { relid: oid(g, 0), server: oid(g, 1), owner: oid(g, 2) })
        .collect()
}
