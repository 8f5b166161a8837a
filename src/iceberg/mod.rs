//! The `iceberg` foreign data wrapper: Iceberg tables from a catalog in this
//! database, on local disk or S3-compatible storage.
//!
//! - `wrapper`: the handler, the validator, and the [`Wrapper`](crate::fdw::routine::Wrapper)
//!   implementation the neutral FDW layer calls;
//! - `source`: server, user mapping and table options, resolved to metadata;
//! - `scan/`: planning and executing reads; `predicate`: filters as Iceberg
//!   predicates; `timetravel`: which snapshot;
//! - `write/`: INSERT/COPY, UPDATE/DELETE, TRUNCATE; `txn/`: all of a
//!   transaction's Iceberg state and its commit;
//! - `catalog/`: the in-database catalog and commits to it; `storage/`:
//!   object storage;
//! - `types`, `partition`: type mapping and partition specs;
//! - `create`, `import`, `utility`, `maintenance`, `functions`: DDL and SQL
//!   functions; `settings`: the `townlake.iceberg_*` settings.
//!
//! What governance decides (time travel through published views, which
//! relations are governed, restores) is asked through `fdw::policy`, never
//! of governance directly.

pub mod catalog;
mod create;
mod functions;
mod import;
mod maintenance;
pub mod partition;
pub mod predicate;
pub mod progress;
pub mod scan;
pub mod settings;
mod source;
pub mod storage;
pub mod timetravel;
pub mod txn;
pub mod types;
mod utility;
mod wrapper;
pub mod write;

pub use source::{is_iceberg_table, require_iceberg_table, server_config, table_options};

/// The summary properties of the snapshots in the current history of the
/// Iceberg table behind `rel`, newest first (the current snapshot, its
/// parent, …): where writers such as pipelines find what they committed.
pub fn history_summaries(
    rel: pgrx::pg_sys::Oid,
) -> crate::errors::LakeResult<Vec<std::collections::HashMap<String, String>>> {
    let resolved = source::resolve(rel)?;
    let metadata = &resolved.metadata;
    let mut out = vec![];
    let mut cursor = metadata.current_snapshot().cloned();
    while let Some(s) = cursor {
        out.push(s.summary().additional_properties.clone());
        cursor = s.parent_snapshot_id().and_then(|p| metadata.snapshot_by_id(p).cloned());
    }
    Ok(out)
}
pub use wrapper::{iceberg_fdw_handler, iceberg_fdw_validator};

/// Called from `_PG_init` after governance and audit have registered their
/// links: Iceberg's utility link then runs inside governance's (after its
/// statement checks, before its after-statement work), and its transaction
/// callbacks after theirs: the order they had when each part hooked
/// Postgres itself, which the governance and audit tests rely on.
pub fn init() {
    progress::init();
    crate::pg::hooks::register(crate::pg::hooks::PartHooks {
        utility: Some(utility::on_utility),
        ..Default::default()
    });
    crate::pg::xact::register(Some(txn::on_xact), Some(txn::on_subxact));
}
