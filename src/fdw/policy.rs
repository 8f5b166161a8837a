//! What a wrapper asks of the access policy without knowing who enforces
//! it. Governance registers its answers from `_PG_init` (`register`); a
//! wrapper calls the functions below. Wrappers so never import governance,
//! and a wrapper built without any policy part behaves as on an ungoverned
//! database (the defaults below).

use std::sync::OnceLock;

use pgrx::pg_sys;

use crate::errors::LakeResult;

/// The policy's answers, as plain functions (one set per process).
#[derive(Clone, Copy)]
pub struct Policy {
    /// `Err` when this scan of `relid` may not read a snapshot other than the
    /// current one (time travel); the error says why and what to do.
    pub check_time_travel: fn(pg_sys::Oid) -> LakeResult<()>,
    /// Whether `relid` is under the policy's control: EXPLAIN hides what
    /// would leak filtered rows, maintenance is recorded.
    pub governed: fn(pg_sys::Oid) -> bool,
    /// Whether this session restores a dump: DDL reactions that would create
    /// state the dump's data brings anyway stand aside.
    pub restoring: fn() -> bool,
    /// Whether anything at all is governed in this database.
    pub anything_governed: fn() -> bool,
    /// Whether namespace `schema` is a governed raw schema.
    pub governed_schema: fn(pg_sys::Oid) -> bool,
    /// The foreign tables of governed raw schemas whose server has the same
    /// wrapper as `server`: (relation, its server, its owner).
    pub governed_foreign_tables: fn(pg_sys::Oid) -> Vec<GovernedForeignTable>,
}

/// A foreign table in a governed raw schema.
#[derive(Clone, Copy, Debug)]
pub struct GovernedForeignTable {
    pub relid: pg_sys::Oid,
    pub server: pg_sys::Oid,
    pub owner: pg_sys::Oid,
}

static POLICY: OnceLock<Policy> = OnceLock::new();

/// Sets the policy (from `_PG_init`; the first registration wins).
pub fn register(policy: Policy) {
    let _ = POLICY.set(policy);
}

/// See [`Policy::check_time_travel`]; allowed when no policy is registered.
pub fn check_time_travel(relid: pg_sys::Oid) -> LakeResult<()> {
    POLICY.get().map_or(Ok(()), |p| (p.check_time_travel)(relid))
}

/// See [`Policy::governed`]; false when no policy is registered.
pub fn governed(relid: pg_sys::Oid) -> bool {
    POLICY.get().is_some_and(|p| (p.governed)(relid))
}

/// See [`Policy::restoring`]; false when no policy is registered.
pub fn restoring() -> bool {
    POLICY.get().is_some_and(|p| (p.restoring)())
}

/// See [`Policy::anything_governed`]; false when no policy is registered.
pub fn anything_governed() -> bool {
    POLICY.get().is_some_and(|p| (p.anything_governed)())
}

/// See [`Policy::governed_schema`]; false when no policy is registered.
pub fn governed_schema(schema: pg_sys::Oid) -> bool {
    POLICY.get().is_some_and(|p| (p.governed_schema)(schema))
}

/// See [`Policy::governed_foreign_tables`]; none when no policy is registered.
pub fn governed_foreign_tables(server: pg_sys::Oid) -> Vec<GovernedForeignTable> {
    POLICY.get().map(|p| (p.governed_foreign_tables)(server)).unwrap_or_default()
}
