//! Transformations: models (SQL SELECTs materialized into tables or views),
//! pipelines, their schedules and dependency graph.
//!
//! `cron`, `dag` and `project` are pure logic with plain unit tests; the SQL
//! surface (`sql`) is a thin layer over them (DESIGN.md principle 6).

pub mod cron;
pub mod dag;
pub mod pipeline;
pub mod project;
pub mod registry;
pub mod scheduler;
pub mod sql;

/// Registers the scheduler (from `_PG_init`).
pub fn init() {
    scheduler::init();
}
