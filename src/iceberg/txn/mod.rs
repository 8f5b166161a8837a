//! All of a transaction's Iceberg state, in one place: the data files it
//! wrote and the committed files it removed, per table (see `pending`), and
//! the table directories to delete once a DROP commits. At pre-commit each
//! written table becomes one snapshot, committed through the catalog in the
//! same transaction (principle 2); ROLLBACK, savepoint rollback or a crash
//! leave only orphan files.
//!
//! Writers record changes here; scans ask here what this transaction has
//! not committed yet (read-your-writes).

pub mod pending;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use iceberg::spec::{DataFile, SchemaRef};
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, TableIdent};
use pgrx::{pg_sys, PgSqlErrorCode};

use self::pending::{HasPath, NetChange, PendingOp, PendingOps};
use super::catalog::overwrite;
use super::catalog::spi::SpiCatalog;
use super::source::ServerConfig;
use crate::errors::{iceberg_message, LakeError, LakeResult, OrReport};
use crate::pg::xact::{SubTransactionId, SubXactEvent, XactEvent};
use crate::runtime::block_on;

impl HasPath for DataFile {
    fn path(&self) -> &str {
        self.file_path()
    }
}

struct PendingTable {
    server: ServerConfig,
    ident: TableIdent,
    schema: SchemaRef,
    ops: PendingOps<DataFile>,
    /// The snapshot the first removal was decided on: commits after it that
    /// added delete files may have deleted rows this transaction rewrote.
    read_base: Option<i64>,
}

/// Summary properties to write into the next snapshot of one table, each
/// with the subtransaction that set it (a rolled-back savepoint drops its own).
type SummaryProps = Vec<(u32, String, String)>;

thread_local! {
    static PENDING: RefCell<BTreeMap<u32, PendingTable>> = const { RefCell::new(BTreeMap::new()) };
    /// Table locations to delete once the dropping transaction commits.
    static PURGE_AFTER_COMMIT: RefCell<Vec<(ServerConfig, String)>> = const { RefCell::new(Vec::new()) };
    /// Extra snapshot summary properties per table (set_summary_properties).
    static SUMMARY_PROPS: RefCell<BTreeMap<u32, SummaryProps>> = const { RefCell::new(BTreeMap::new()) };
    /// Per table, the tags (run ids) to tell the snapshot this transaction
    /// commits for it (watch_snapshot), each with the subtransaction that
    /// asked.
    static WATCHES: RefCell<BTreeMap<u32, Vec<(u32, i64)>>> = const { RefCell::new(BTreeMap::new()) };
}

/// Told, at pre-commit, the snapshot committed for a watched table and the
/// tags that watched it; still inside the transaction (SPI works), so what
/// it records commits with the snapshot.
pub type SnapshotListener = fn(relid: u32, snapshot_id: i64, tags: &[i64]) -> LakeResult<()>;

static LISTENER: std::sync::OnceLock<SnapshotListener> = std::sync::OnceLock::new();

/// Set the one snapshot listener (the transformations' run history).
pub fn set_snapshot_listener(f: SnapshotListener) {
    let _ = LISTENER.set(f);
}

/// Ask for the snapshot id this transaction will commit for `relid` to be
/// passed to the listener with `tag`; forgotten if the current
/// subtransaction rolls back, and nothing is told when no snapshot results.
pub fn watch_snapshot(relid: u32, tag: i64) {
    // SAFETY: a plain read of the backend's current subtransaction id.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    WATCHES.with(|w| w.borrow_mut().entry(relid).or_default().push((sub, tag)));
}

/// The bytes of the data files this transaction has added to `relid` and
/// not committed yet (net of files it removed again).
pub fn pending_added_bytes(relid: u32) -> i64 {
    PENDING.with(|p| {
        p.borrow()
            .get(&relid)
            .map(|t| t.ops.net().added.iter().map(|f| f.file_size_in_bytes() as i64).sum())
            .unwrap_or(0)
    })
}

/// Attach `props` to the snapshot this transaction will commit for `relid`
/// (e.g. a pipeline's watermark and run id, which must become visible in the
/// same snapshot as its data). Later values of a key win; nothing is
/// written when the transaction commits no change to the table. Keys must
/// not be ones Iceberg computes (`added-records`, `total-…`): those are
/// refused by the commit.
pub fn set_summary_properties(relid: u32, props: impl IntoIterator<Item = (String, String)>) {
    // SAFETY: a plain read of the backend's current subtransaction id.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    SUMMARY_PROPS.with(|p| {
        let mut p = p.borrow_mut();
        let entry = p.entry(relid).or_default();
        entry.extend(props.into_iter().map(|(k, v)| (sub, k, v)));
    });
}

fn summary_props_of(relid: u32) -> std::collections::HashMap<String, String> {
    SUMMARY_PROPS.with(|p| {
        p.borrow().get(&relid).map(|v| v.iter().map(|(_, k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
    })
}

/// Iceberg's transaction callbacks, for the shared registry (`pg::xact`).
pub fn on_xact(event: XactEvent) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_PRE_COMMIT => {
            if PENDING.with(|p| p.borrow().is_empty()) {
                WATCHES.with(|w| w.borrow_mut().clear());
                return;
            }
            // SPI needs an active snapshot; at pre-commit there is none.
            // SAFETY: pre-commit runs inside the still-open transaction, so
            // a transaction snapshot exists; the push is popped below before
            // any error is raised (`or_report` comes after the pop).
            unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
            let result = commit_pending();
            // SAFETY: pops the snapshot pushed above.
            unsafe { pg_sys::PopActiveSnapshot() };
            result.or_report();
        }
        pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE => {
            if PENDING.with(|p| !p.borrow().is_empty()) {
                LakeError::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "cannot PREPARE a transaction that wrote Iceberg tables",
                )
                .report();
            }
        }
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => {
            PENDING.with(|p| p.borrow_mut().clear());
            SUMMARY_PROPS.with(|p| p.borrow_mut().clear());
            WATCHES.with(|w| w.borrow_mut().clear());
            purge_dropped(false);
        }
        pg_sys::XactEvent::XACT_EVENT_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT => {
            PENDING.with(|p| p.borrow_mut().clear());
            SUMMARY_PROPS.with(|p| p.borrow_mut().clear());
            WATCHES.with(|w| w.borrow_mut().clear());
            purge_dropped(true);
        }
        _ => {}
    }
}

/// Iceberg's subtransaction callback, for the shared registry (`pg::xact`).
pub fn on_subxact(event: SubXactEvent, my_subid: SubTransactionId, parent_subid: SubTransactionId) {
    PENDING.with(|p| {
        for table in p.borrow_mut().values_mut() {
            match event {
                // Files of a released savepoint now belong to its parent.
                pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => table.ops.subxact_commit(my_subid, parent_subid),
                pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => table.ops.subxact_abort(my_subid),
                _ => {}
            }
        }
    });
    SUMMARY_PROPS.with(|p| {
        for props in p.borrow_mut().values_mut() {
            match event {
                pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => {
                    for (s, _, _) in props.iter_mut() {
                        if *s == my_subid {
                            *s = parent_subid;
                        }
                    }
                }
                pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => props.retain(|(s, _, _)| *s != my_subid),
                _ => {}
            }
        }
    });
    WATCHES.with(|w| {
        for tags in w.borrow_mut().values_mut() {
            match event {
                pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => {
                    for (s, _) in tags.iter_mut() {
                        if *s == my_subid {
                            *s = parent_subid;
                        }
                    }
                }
                pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => tags.retain(|(s, _)| *s != my_subid),
                _ => {}
            }
        }
    });
}

/// Commit every pending table: one snapshot each, through the catalog's
/// compare-and-swap (rebased and retried on concurrent commits).
fn commit_pending() -> LakeResult<()> {
    let tables: Vec<(u32, PendingTable)> =
        PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()).into_iter().collect());
    for (relid, table) in tables {
        let net = table.ops.net();
        if net.is_empty() {
            continue;
        }
        let props = summary_props_of(relid);
        let catalog = SpiCatalog::new(table.server.clone());
        let result = block_on(async {
            if net.removed.is_empty() {
                let current = catalog.load_table(&table.ident).await?;
                let tx = Transaction::new(&current);
                // File names carry UUIDs: no need to read every manifest
                // looking for duplicates.
                let tx = tx
                    .fast_append()
                    .with_check_duplicate(false)
                    .set_snapshot_properties(props)
                    .add_data_files(net.added)
                    .apply(tx)?;
                tx.commit(&catalog).await.map(|t| t.metadata().current_snapshot_id())
            } else {
                let operation = if net.added.is_empty() {
                    iceberg::spec::Operation::Delete
                } else {
                    iceberg::spec::Operation::Overwrite
                };
                let change = overwrite::Change {
                    removed: net.removed,
                    added: net.added,
                    operation,
                    read_base: table.read_base,
                    properties: props,
                };
                overwrite::commit_change(&catalog, &table.ident, &change).await.map(Some)
            }
        });
        let snapshot = match result {
            Ok(s) => s,
            Err(e) => {
            let code = if e.kind() == iceberg::ErrorKind::CatalogCommitConflicts {
                PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE
            } else {
                PgSqlErrorCode::ERRCODE_FDW_ERROR
            };
            return Err(LakeError::new(
                code,
                format!("cannot commit to Iceberg table {}: {}", table.ident, table.server.scrub(&iceberg_message(&e))),
            )
            .with_hint("The transaction was rolled back; retry it."));
            }
        };
        let tags: Vec<i64> =
            WATCHES.with(|w| w.borrow_mut().remove(&relid)).unwrap_or_default().into_iter().map(|(_, t)| t).collect();
        if let (Some(snapshot_id), Some(listener), false) = (snapshot, LISTENER.get(), tags.is_empty()) {
            listener(relid, snapshot_id, &tags)?;
        }
    }
    WATCHES.with(|w| w.borrow_mut().clear());
    Ok(())
}

/// Whether this transaction has uncommitted writes to `relid`.
pub fn has_pending(relid: u32) -> bool {
    PENDING.with(|p| p.borrow().get(&relid).is_some_and(|t| !t.ops.is_empty()))
}

/// What this transaction changed in `relid` and has not committed: what a
/// scan of the current state must add (and leave out) to read its own writes.
pub struct OwnChanges {
    pub net: NetChange<DataFile>,
    /// The schema the added files were written with.
    pub schema: SchemaRef,
}

/// This transaction's uncommitted changes to `relid`, if any.
pub fn own_changes(relid: u32) -> Option<OwnChanges> {
    PENDING.with(|p| {
        p.borrow()
            .get(&relid)
            .filter(|t| !t.ops.is_empty())
            .map(|t| OwnChanges { net: t.ops.net(), schema: t.schema.clone() })
    })
}

/// Committed data files this transaction has removed from `relid`.
pub fn removed(relid: u32) -> HashSet<String> {
    PENDING.with(|p| p.borrow().get(&relid).map(|t| t.ops.net().removed).unwrap_or_default())
}

/// Add changes to the transaction's pending state for `relid`.
pub fn record(
    relid: u32,
    server: &ServerConfig,
    ident: &TableIdent,
    schema: &SchemaRef,
    ops: impl IntoIterator<Item = PendingOp<DataFile>>,
) {
    // SAFETY: a plain read of the backend's current subtransaction id.
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let entry = p.entry(relid).or_insert_with(|| PendingTable {
            server: server.clone(),
            ident: ident.clone(),
            schema: schema.clone(),
            ops: PendingOps::default(),
            read_base: None,
        });
        entry.ops.record(sub, ops);
    });
}

/// Remember the snapshot removals were decided on (the first one counts).
pub fn set_read_base(relid: u32, snapshot: Option<i64>) {
    PENDING.with(|p| {
        if let Some(t) = p.borrow_mut().get_mut(&relid) {
            if t.read_base.is_none() {
                t.read_base = snapshot;
            }
        }
    });
}

/// Delete the table directory at `location` once this transaction commits.
pub fn purge_after_commit(server: ServerConfig, location: String) {
    PURGE_AFTER_COMMIT.with(|p| p.borrow_mut().push((server, location)));
}

/// At the end of the transaction: after COMMIT delete the files of dropped
/// tables (best effort: what fails is left for remove_orphan_files).
fn purge_dropped(committed: bool) {
    let pending = PURGE_AFTER_COMMIT.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if !committed {
        return;
    }
    for (server, location) in pending {
        let io = server.file_io();
        let _ = block_on(io.delete_prefix(format!("{}/", location.trim_end_matches('/'))));
    }
}
