//! Planner shim that makes reading a published view cost what reading its raw
//! relation costs.
//!
//! A published view is `SELECT <approved columns, masked> FROM raw r WHERE
//! lake.access_gate(raw) [AND (row filter)]` with `security_barrier`. Planned
//! as written, Postgres keeps the view as a subquery (so non-leakproof outer
//! predicates cannot be pushed into the scan) and puts the gate in a gating
//! Result node that every row passes through. Before planning, this shim
//! rewrites each such subquery, when it has exactly the shape townlake
//! generates, into an equivalent that Postgres flattens:
//!
//! - the access gate is taken out of the plan; the executor hook runs the same
//!   check once for every execution of the statement, from the view's entry in
//!   the range table (where Postgres also checks privileges on the view, so it
//!   is there even when the planner removes the subquery);
//! - the row filter becomes a security qual of the raw relation, the mechanism
//!   row level security uses: outer predicates that are not leakproof are
//!   still evaluated only on rows the filter lets through, and the planner
//!   does not run them on the relation's statistics;
//! - the subquery loses its security_barrier mark and is pulled up.
//!
//! Masked columns stay masks: outer predicates see the view's expressions, and
//! pending or denied columns are not in the view at all. Nothing else is
//! touched; a view of another shape is planned as written, gate included.

use pgrx::prelude::*;

use super::cache;
use crate::pg::catalog;
use crate::pg::query::{QueryTree, RangeEntryMut};

/// Governance's planner link of the shared hook chain (pg::hooks): relaxes
/// the published views of every query level.
pub fn relax_before_planning(tree: &mut QueryTree) {
    if cache::anything_governed() {
        tree.for_each_range_entry(&mut relax);
    }
    // Parallel workers never reveal (`lake.pii_revealed` answers false in
    // parallel mode: the session's PII state lives in this backend only), so
    // while PII is on plans stay serial and reveal every row.
    if super::pii_session::is_on() {
        tree.keep_serial();
    }
}

/// Whether function `func` is `lake.access_gate`.
fn is_access_gate(func: pg_sys::Oid) -> bool {
    catalog::function_name(func).as_deref() == Some("access_gate")
        && catalog::namespace_oid("lake") == Some(catalog::function_namespace(func))
}

/// Rewrites one published-view subquery as described above, or leaves it.
fn relax(rte: &mut RangeEntryMut<'_>) {
    if !rte.is_security_barrier_subquery() {
        return;
    }
    let Some(raw) = cache::raw_of_view(rte.expanded_view()) else { return };
    // exactly the generated shape: a plain projection of one relation
    let Some(select) = rte.single_relation_select() else { return };
    if select.relid() != raw {
        return;
    }
    // `lake.access_gate('<raw>'::regclass)` (views generated before
    // regclass: `<raw oid>::oid`)
    let gate = select.conjuncts().iter().position(|c| {
        c.oid_constant_call().is_some_and(|(func, arg)| arg == raw.to_u32() && is_access_gate(func))
    });
    let Some(gate) = gate else { return };
    // The row filter goes after any row level security quals already there
    // (those belong to the relation itself; the view sits above it).
    select.lift_where_into_security_quals(gate);
}
