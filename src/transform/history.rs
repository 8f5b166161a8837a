//! What a run wrote, for lake.runs: `bytes` measured around the run's work
//! and `snapshot_id`, the Iceberg snapshot the run's transaction committed.
//! The snapshot exists only at pre-commit (the Iceberg transaction state
//! commits every written table then), so a run that wrote an Iceberg table
//! asks to be told its id (iceberg::txn::watch_snapshot); the listener
//! records it in the same transaction, before the commit completes.
//!
//! Bytes: for an Iceberg target, the sizes of the data files the run added
//! (files rewritten by its deletes included), read from the transaction's
//! pending files; for a heap target, the growth of the table's data (main
//! fork of the table and of its TOAST table, after minus before, at least
//! 0), or after a full replace (TRUNCATE and INSERT) its new size.

use pgrx::prelude::*;

use super::spi::{as_catalog_owner, exec, json_of};
use crate::errors::LakeResult;
use crate::iceberg::txn;

/// Registers the snapshot listener and the run progress's write listener
/// (from `_PG_init`).
pub fn init() {
    txn::set_snapshot_listener(record_snapshot);
    crate::iceberg::write::insert::set_write_listener(super::progress::live_write);
}

fn record_snapshot(_relid: u32, snapshot_id: i64, runs: &[i64]) -> LakeResult<()> {
    as_catalog_owner(|| {
        exec(
            "UPDATE lake.runs SET snapshot_id = $1 WHERE run_id OPERATOR(pg_catalog.=) ANY ($2) \
               AND status OPERATOR(pg_catalog.=) 'succeeded'",
            &[snapshot_id.into(), runs.to_vec().into()],
        )
    })
    .map(|_| ())
}

fn table_size(oid: pg_sys::Oid) -> i64 {
    // Main forks only: the free-space and visibility maps grow later, when
    // VACUUM gets to the table, and are not data the run wrote.
    json_of(
        "SELECT pg_catalog.to_jsonb(pg_catalog.pg_relation_size(c.oid) \
           OPERATOR(pg_catalog.+) COALESCE(pg_catalog.pg_relation_size(NULLIF(c.reltoastrelid, 0)), 0)) \
         FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
        &[oid.into()],
    )
        .ok()
        .flatten()
        .and_then(|v| v.as_i64())
        .unwrap_or(0)
}

/// The measure of one run's target, taken before its work.
pub struct Meter {
    oid: pg_sys::Oid,
    iceberg: bool,
    full_replace: bool,
    before: i64,
}

impl Meter {
    pub fn start(oid: pg_sys::Oid, iceberg: bool, full_replace: bool) -> Meter {
        let before = if iceberg { txn::pending_added_bytes(oid.to_u32()) } else { table_size(oid) };
        Meter { oid, iceberg, full_replace, before }
    }

    /// After the run's work succeeded: its bytes, and (Iceberg) the request
    /// to record the snapshot id at commit.
    pub fn finish(&self, run_id: i64) -> i64 {
        let after = if self.iceberg {
            txn::watch_snapshot(self.oid.to_u32(), run_id);
            txn::pending_added_bytes(self.oid.to_u32())
        } else {
            table_size(self.oid)
        };
        if self.full_replace {
            after
        } else {
            (after - self.before).max(0)
        }
    }
}
