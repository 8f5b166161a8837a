//! The `iceberg` foreign data wrapper: reading Iceberg tables from a catalog
//! in this database, from local disk or S3-compatible storage.

mod commit;
mod convert;
mod create;
pub mod ddl;
mod exec;
mod fdw;
mod functions;
mod hook;
mod import;
mod maintenance;
mod overwrite;
mod plan;
mod rowid;
pub mod predicate;
mod source;
pub mod timetravel;
pub mod types;
mod write;

pub use fdw::{iceberg_fdw_handler, iceberg_fdw_validator};
pub use source::{require_iceberg_table, server_config, table_options};

/// Called from `_PG_init`.
pub fn init() {
    hook::init();
}
