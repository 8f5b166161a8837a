//! Transformations: models (SQL SELECTs materialized into tables or views),
//! pipelines, their schedules and dependency graph.
//!
//! `cron`, `dag`, `project` and `incremental` are pure logic with plain unit
//! tests; the SQL surface (`sql`, `ops`) is a thin layer over them
//! (DESIGN.md principle 6).

pub mod cron;
pub mod dag;
pub mod history;
pub mod pipeline;
pub mod incremental;
pub mod materialize;
pub mod ops;
pub mod progress;
pub mod project;
pub mod registry;
pub mod reserved;
pub mod scheduler;
pub mod scheduler_claim;
pub mod spi;
pub mod sql;

/// Registers the scheduler, the settings and the run slots (from `_PG_init`).
pub fn init() {
    ops::init();
    history::init();
    crate::pg::xact::register(Some(registry::on_xact), None);
    scheduler::init();
    scheduler_claim::init();
}
