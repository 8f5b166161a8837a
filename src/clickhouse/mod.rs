//! The `clickhouse` foreign data wrapper: ClickHouse tables over its HTTP
//! interface, with WHERE, column lists and LIMIT computed by ClickHouse, and
//! INSERT / COPY FROM sent in batches.
//!
//! - `wrapper`: the handler, the validator, and the
//!   [`Wrapper`](crate::fdw::routine::Wrapper) implementation;
//! - `remote`: the server, user mapping and remote table resolved, and
//!   ClickHouse failures as ERRORs; `scan`: running a scan; `import`:
//!   IMPORT FOREIGN SCHEMA; `insert`: INSERT and COPY FROM in batches;
//!   `settings`: `townlake.clickhouse_*`;
//! - pure logic with plain unit tests: `options` (option checks, the
//!   endpoint), `types` (ClickHouse types and how Postgres reads them),
//!   `sql` (quoting, WHERE deparsing, the SELECT), `tsv` (streamed
//!   TabSeparated output), `write` (values as TabSeparated input, checked
//!   against the column types), `http` (the HTTP client, no pgrx).

pub mod http;
mod import;
mod insert;
mod join;
pub mod options;
mod remote;
mod scan;
pub mod settings;
pub mod sql;
pub mod tsv;
pub mod types;
pub mod write;
mod wrapper;

pub use wrapper::{clickhouse_fdw_handler, clickhouse_fdw_validator};
