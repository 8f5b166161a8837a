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
//!   functions.

pub mod catalog;
mod create;
mod functions;
mod import;
mod maintenance;
pub mod partition;
pub mod predicate;
pub mod scan;
mod source;
pub mod storage;
pub mod timetravel;
pub mod txn;
pub mod types;
mod utility;
mod wrapper;
pub mod write;

pub use source::{require_iceberg_table, server_config, table_options};
pub use wrapper::{iceberg_fdw_handler, iceberg_fdw_validator};

/// Called from `_PG_init`.
pub fn init() {
    utility::init();
    txn::register_callbacks();
}
