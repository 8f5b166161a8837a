//! The bookkeeping of a transaction's uncommitted changes to one table:
//! which data files it added and which committed files it removed, per
//! subtransaction, so a savepoint rollback drops exactly its own changes.
//! Pure logic: no pgrx (files are anything with a path).

use std::collections::HashSet;

/// Postgres' SubTransactionId.
pub type SubId = u32;

/// A change a transaction made to a table and has not committed yet.
#[derive(Debug, Clone, PartialEq)]
pub enum PendingOp<F> {
    /// A data file written.
    Add(F),
    /// A committed data file to remove (rewritten or deleted).
    Remove(String),
    /// TRUNCATE: every file committed at the time, and earlier writes.
    Truncate(Vec<String>),
}

/// A data file as far as the bookkeeping cares.
pub trait HasPath {
    fn path(&self) -> &str;
}

/// The net effect of a table's pending changes.
#[derive(Debug, PartialEq)]
pub struct NetChange<F> {
    /// Committed files that go.
    pub removed: HashSet<String>,
    /// Files written by this transaction that are still wanted.
    pub added: Vec<F>,
    pub truncated: bool,
}

impl<F> Default for NetChange<F> {
    fn default() -> Self {
        NetChange { removed: HashSet::new(), added: Vec::new(), truncated: false }
    }
}

impl<F> NetChange<F> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Each change with the subtransaction that made it, in order.
#[derive(Debug, Clone)]
pub struct PendingOps<F> {
    ops: Vec<(SubId, PendingOp<F>)>,
}

impl<F> Default for PendingOps<F> {
    fn default() -> Self {
        PendingOps { ops: Vec::new() }
    }
}

impl<F: HasPath + Clone> PendingOps<F> {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Record changes made in subtransaction `sub`.
    pub fn record(&mut self, sub: SubId, ops: impl IntoIterator<Item = PendingOp<F>>) {
        self.ops.extend(ops.into_iter().map(|op| (sub, op)));
    }

    /// RELEASE SAVEPOINT: the changes of `sub` now belong to `parent`.
    pub fn subxact_commit(&mut self, sub: SubId, parent: SubId) {
        for (s, _) in self.ops.iter_mut() {
            if *s == sub {
                *s = parent;
            }
        }
    }

    /// ROLLBACK TO SAVEPOINT: the changes of `sub` never happened.
    pub fn subxact_abort(&mut self, sub: SubId) {
        self.ops.retain(|(s, _)| *s != sub);
    }

    /// What the changes come to: removing a file this transaction wrote
    /// un-adds it; TRUNCATE drops earlier writes and removes what was
    /// committed.
    pub fn net(&self) -> NetChange<F> {
        let mut net = NetChange::default();
        for (_, op) in &self.ops {
            match op {
                PendingOp::Add(f) => net.added.push(f.clone()),
                PendingOp::Remove(path) => {
                    let before = net.added.len();
                    net.added.retain(|f| f.path() != path);
                    if net.added.len() == before {
                        net.removed.insert(path.clone());
                    }
                }
                PendingOp::Truncate(files) => {
                    net.added.clear();
                    net.removed.extend(files.iter().cloned());
                    net.truncated = true;
                }
            }
        }
        net
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct File(&'static str);

    impl HasPath for File {
        fn path(&self) -> &str {
            self.0
        }
    }

    fn add(p: &'static str) -> PendingOp<File> {
        PendingOp::Add(File(p))
    }

    fn remove(p: &str) -> PendingOp<File> {
        PendingOp::Remove(p.to_string())
    }

    fn set(paths: &[&str]) -> HashSet<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn adds_and_removes_of_committed_files() {
        let mut ops = PendingOps::default();
        ops.record(1, [add("new1"), remove("old1")]);
        ops.record(1, [add("new2")]);
        let net = ops.net();
        assert_eq!(net.added, vec![File("new1"), File("new2")]);
        assert_eq!(net.removed, set(&["old1"]));
        assert!(!net.truncated && !net.is_empty());
    }

    #[test]
    fn removing_an_own_file_unadds_it() {
        // An UPDATE rewrote a file the same transaction wrote.
        let mut ops = PendingOps::default();
        ops.record(1, [add("mine"), add("rewritten"), remove("mine")]);
        let net = ops.net();
        assert_eq!(net.added, vec![File("rewritten")]);
        assert!(net.removed.is_empty());
    }

    #[test]
    fn truncate_drops_earlier_writes_only() {
        let mut ops = PendingOps::default();
        ops.record(1, [add("before"), PendingOp::Truncate(vec!["c1".into(), "c2".into()]), add("after")]);
        let net = ops.net();
        assert_eq!(net.added, vec![File("after")]);
        assert_eq!(net.removed, set(&["c1", "c2"]));
        assert!(net.truncated);
    }

    #[test]
    fn savepoints() {
        let mut ops = PendingOps::default();
        ops.record(1, [add("top")]);
        // SAVEPOINT a (sub 2) writes; SAVEPOINT b (sub 3) inside it writes and removes.
        ops.record(2, [add("in_a")]);
        ops.record(3, [add("in_b"), remove("committed")]);
        // ROLLBACK TO b: its changes go.
        ops.subxact_abort(3);
        assert_eq!(ops.net().added, vec![File("top"), File("in_a")]);
        assert!(ops.net().removed.is_empty());
        // RELEASE a: its changes become the top transaction's...
        ops.subxact_commit(2, 1);
        // ...so rolling back a later savepoint with a's old id leaves them.
        ops.record(4, [remove("top")]);
        ops.subxact_abort(2);
        ops.subxact_abort(4);
        assert_eq!(ops.net().added, vec![File("top"), File("in_a")]);
        ops.subxact_abort(1);
        assert!(ops.is_empty() && ops.net().is_empty());
    }

    #[test]
    fn released_into_a_savepoint_that_then_rolls_back() {
        let mut ops = PendingOps::default();
        ops.record(2, [add("outer")]);
        ops.record(3, [add("inner")]);
        ops.subxact_commit(3, 2);
        ops.subxact_abort(2);
        assert!(ops.net().added.is_empty());
    }
}
