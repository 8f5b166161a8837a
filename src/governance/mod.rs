//! Governance: closed-by-default review of governed relations, published
//! views with masks, time-limited grants, PII sessions and audit (issue 4).
//!
//! Most of the model is SQL (sql/governance.sql): tables, review functions
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

use pgrx::prelude::*;

/// Called from `_PG_init`: hooks and per-backend callbacks.
pub fn init() {
    hooks::install();
    planner::install();
    cache::init();
    gate::init();
    pii_session::init();
}

// Runs after every other block of the extension script: it refers to the
// Rust functions above and to the catalog tables.
extension_sql_file!("../../sql/governance.sql", name = "governance", finalize);
