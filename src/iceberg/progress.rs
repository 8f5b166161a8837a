//! Progress of long Iceberg writes and maintenance (INSERT, COPY, compact,
//! remove_orphan_files), in shared memory, for the view
//! lake.iceberg_progress: the pg_stat_progress_* idea for Iceberg tables.
//!
//! Same layout as the model runs' slots (src/transform/progress.rs), which
//! carry run ids, model names and cancellation this does not need: a fixed
//! array of atomics, a slot taken by compare-and-swap on its pid, published
//! by storing its command last, freed when the `Claim` is dropped (also when
//! an ERROR unwinds). Writers update counters once per batch, not per row.
//! Without shared_preload_libraries there are no slots and nothing reports.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, Ordering};

use pgrx::pg_sys;

use crate::pg::shmem::ZeroedArea;

const SLOTS: usize = 64;

#[repr(C)]
struct Slot {
    pid: AtomicI32,
    db: AtomicU32,
    relid: AtomicU32,
    /// The relation's owner and the role running the command: who may see it.
    owner: AtomicU32,
    user: AtomicU32,
    /// 0: free (or not published yet).
    command: AtomicU32,
    phase: AtomicU32,
    rows: AtomicI64,
    bytes: AtomicI64,
    files: AtomicI64,
    /// -1: not known.
    files_total: AtomicI64,
    started_us: AtomicI64,
}

type Slots = [Slot; SLOTS];

// SAFETY: all-zero bytes are free slots (atomics).
static SLOTS_AREA: ZeroedArea<Slots> = unsafe { ZeroedArea::new(c"townlake iceberg progress", c"townlake iceberg progress slots") };

fn slots() -> Option<&'static Slots> {
    SLOTS_AREA.get()
}

/// Registers the slots' shared memory (from `_PG_init`, when preloaded).
pub fn init() {
    SLOTS_AREA.register();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    Insert = 1,
    Copy = 2,
    Compact = 5,
    RemoveOrphanFiles = 6,
}

impl Command {
    fn name(code: u32) -> &'static str {
        match code {
            1 => "INSERT",
            2 => "COPY",
            5 => "compact",
            6 => "remove_orphan_files",
            _ => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Phase {
    /// Rows arrive from the statement and are encoded into data files.
    WritingData = 1,
    /// Closing the last data files (end of the statement).
    ClosingFiles = 2,
    /// Planning which files to rewrite or list (maintenance).
    Planning = 3,
    /// Reading the files being compacted (and writing their rows).
    Rewriting = 4,
    /// Committing the new snapshot.
    Committing = 5,
    /// Reading every snapshot's manifests for the files they reference.
    ReadingMetadata = 6,
    /// Listing the table's location.
    ListingFiles = 7,
    /// Deleting orphan files.
    DeletingFiles = 8,
}

fn phase_name(code: u32) -> &'static str {
    match code {
        1 => "writing data files",
        2 => "closing data files",
        3 => "planning",
        4 => "rewriting data files",
        5 => "committing",
        6 => "reading metadata",
        7 => "listing files",
        8 => "deleting files",
        _ => "unknown",
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// Holds a slot while a command runs; frees it when dropped. A backend may
/// hold several (one statement writing two Iceberg tables).
pub struct Claim(Option<usize>);

impl Drop for Claim {
    fn drop(&mut self) {
        if let (Some(i), Some(s)) = (self.0.take(), slots()) {
            s[i].command.store(0, Ordering::Release);
            s[i].pid.store(0, Ordering::Release);
        }
    }
}

impl Claim {
    /// Takes a slot for `command` on relation `relid`. All slots busy: the
    /// command runs without reporting.
    pub fn start(command: Command, relid: pg_sys::Oid, phase: Phase) -> Claim {
        let Some(s) = slots() else { return Claim(None) };
        // SAFETY: plain reads of backend globals.
        let (pid, db, user) = unsafe { (pg_sys::MyProcPid, pg_sys::MyDatabaseId, pg_sys::GetUserId()) };
        let owner = crate::pg::security::relation_owner(relid).unwrap_or(pg_sys::Oid::INVALID);
        for (i, slot) in s.iter().enumerate() {
            let held = slot.pid.load(Ordering::Acquire);
            // A slot left by a process that died (kill -9) is free again.
            if held != 0 && alive(held) {
                continue;
            }
            if slot.pid.compare_exchange(held, pid, Ordering::AcqRel, Ordering::Acquire).is_err() {
                continue;
            }
            slot.command.store(0, Ordering::Release);
            slot.db.store(db.to_u32(), Ordering::Release);
            slot.relid.store(relid.to_u32(), Ordering::Release);
            slot.owner.store(owner.to_u32(), Ordering::Release);
            slot.user.store(user.to_u32(), Ordering::Release);
            slot.phase.store(phase as u32, Ordering::Release);
            slot.rows.store(0, Ordering::Release);
            slot.bytes.store(0, Ordering::Release);
            slot.files.store(0, Ordering::Release);
            slot.files_total.store(-1, Ordering::Release);
            slot.started_us.store(chrono::Utc::now().timestamp_micros(), Ordering::Release);
            // Published last: a reader that sees the command sees the rest.
            slot.command.store(command as u32, Ordering::Release);
            return Claim(Some(i));
        }
        Claim(None)
    }

    /// A claim that reports nothing.
    pub fn none() -> Claim {
        Claim(None)
    }

    fn with(&self, f: impl FnOnce(&Slot)) {
        if let (Some(i), Some(s)) = (self.0, slots()) {
            f(&s[i]);
        }
    }

    pub fn phase(&self, phase: Phase) {
        self.with(|s| s.phase.store(phase as u32, Ordering::Release));
    }

    pub fn add_rows(&self, rows: u64) {
        self.with(|s| {
            s.rows.fetch_add(rows as i64, Ordering::AcqRel);
        });
    }

    pub fn set_bytes(&self, bytes: u64) {
        self.with(|s| s.bytes.store(bytes as i64, Ordering::Release));
    }

    pub fn set_files(&self, files: u64) {
        self.with(|s| s.files.store(files as i64, Ordering::Release));
    }

    pub fn set_files_total(&self, files: u64) {
        self.with(|s| s.files_total.store(files as i64, Ordering::Release));
    }
}

/// One command in progress, as read from its slot.
pub struct InProgress {
    pub pid: i32,
    pub relid: pg_sys::Oid,
    pub owner: pg_sys::Oid,
    pub user: pg_sys::Oid,
    pub command: &'static str,
    pub phase: &'static str,
    pub rows: i64,
    pub bytes: i64,
    pub files: i64,
    pub files_total: Option<i64>,
    pub started_us: i64,
}

/// The commands in progress in this database.
pub fn in_progress() -> Vec<InProgress> {
    let Some(s) = slots() else { return vec![] };
    // SAFETY: plain read of a backend global.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let mut out = vec![];
    for slot in s {
        let command = slot.command.load(Ordering::Acquire);
        let pid = slot.pid.load(Ordering::Acquire);
        if command == 0 || slot.db.load(Ordering::Acquire) != db || !alive(pid) {
            continue;
        }
        let total = slot.files_total.load(Ordering::Acquire);
        let row = InProgress {
            pid,
            relid: pg_sys::Oid::from(slot.relid.load(Ordering::Acquire)),
            owner: pg_sys::Oid::from(slot.owner.load(Ordering::Acquire)),
            user: pg_sys::Oid::from(slot.user.load(Ordering::Acquire)),
            command: Command::name(command),
            phase: phase_name(slot.phase.load(Ordering::Acquire)),
            rows: slot.rows.load(Ordering::Acquire),
            bytes: slot.bytes.load(Ordering::Acquire),
            files: slot.files.load(Ordering::Acquire),
            files_total: (total >= 0).then_some(total),
            started_us: slot.started_us.load(Ordering::Acquire),
        };
        // The slot changed hands while it was read: skip it.
        if slot.pid.load(Ordering::Acquire) == pid && slot.command.load(Ordering::Acquire) == command {
            out.push(row);
        }
    }
    out
}

/// The rows of lake.iceberg_progress: commands in progress in this database
/// that the caller may see. Like pg_stat_progress_*, which show other roles'
/// commands only to pg_read_all_stats: members of the role running the
/// command, of the relation's owner (superusers are members of every role),
/// and of pg_read_all_stats. Relation names of other roles' tables are not
/// shown to anyone else.
#[pgrx::pg_extern(volatile, parallel_restricted)]
fn iceberg_in_progress() -> pgrx::iter::TableIterator<
    'static,
    (
        pgrx::name!(pid, i32),
        pgrx::name!(relid, pg_sys::Oid),
        pgrx::name!(command, String),
        pgrx::name!(phase, String),
        pgrx::name!(rows_done, i64),
        pgrx::name!(bytes_written, i64),
        pgrx::name!(files_written, i64),
        pgrx::name!(files_total, Option<i64>),
        pgrx::name!(started_at, Option<pgrx::datum::TimestampWithTimeZone>),
    ),
> {
    use crate::pg::statement::is_member_of_role;
    let caller = crate::pg::security::current_user();
    let stats_reader = crate::pg::security::role_oid(c"pg_read_all_stats")
        .is_some_and(|r| crate::pg::security::has_privs_of_role(caller, r));
    let rows: Vec<_> = in_progress()
        .into_iter()
        .filter(|p| {
            stats_reader
                || is_member_of_role(caller, p.user)
                || (p.owner != pg_sys::Oid::INVALID && is_member_of_role(caller, p.owner))
        })
        .map(|p| {
            let started =
                pgrx::datum::TimestampWithTimeZone::try_from(crate::pg::time::unix_micros_to_pg_micros(p.started_us)).ok();
            (p.pid, p.relid, p.command.to_string(), p.phase.to_string(), p.rows, p.bytes, p.files, p.files_total, started)
        })
        .collect();
    pgrx::iter::TableIterator::new(rows)
}

pgrx::extension_sql_file!("../../sql/iceberg/progress.sql", name = "iceberg_progress_sql", requires = [iceberg_in_progress]);
