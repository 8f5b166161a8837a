//! Runs in progress, in shared memory: which backend executes which run,
//! its phase, rows and bytes so far, and whether someone asked to cancel
//! it. A run's row in lake.runs may not be visible to other sessions yet
//! (run_now writes it in the caller's open transaction), so the progress
//! view, `lake.cancel_run` and the scheduler's concurrency limit read these
//! slots instead. Without shared_preload_libraries there are no slots: runs
//! still work, without progress or cancellation.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

use pgrx::pg_sys;

use crate::pg::shmem::ZeroedArea;

const SLOTS: usize = 128;
const NAME_WORDS: usize = 8; // 64 bytes: a model name is at most 63

#[repr(C)]
struct Slot {
    pid: AtomicI32,
    db: AtomicU32,
    owner: AtomicU32,
    phase: AtomicU32,
    /// The role that asked to cancel the run (0: nobody).
    cancel_by: AtomicU32,
    run_id: AtomicI64,
    rows: AtomicI64,
    bytes: AtomicI64,
    started_us: AtomicI64,
    name: [AtomicU64; NAME_WORDS],
}

type Slots = [Slot; SLOTS];

// SAFETY: all-zero bytes are free slots (atomics).
static SLOTS_AREA: ZeroedArea<Slots> = unsafe { ZeroedArea::new(c"townlake run progress", c"townlake run progress slots") };

fn slots() -> Option<&'static Slots> {
    SLOTS_AREA.get()
}

/// Registers the slots' shared memory (from `_PG_init`, when preloaded).
pub fn init() {
    SLOTS_AREA.register();
}

/// The phases a run goes through, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Phase {
    Starting = 1,
    CheckingSchema = 2,
    StagingBatch = 3,
    Deleting = 4,
    Writing = 5,
    Recording = 6,
}

fn phase_name(code: u32) -> &'static str {
    match code {
        1 => "starting",
        2 => "checking schema",
        3 => "staging batch",
        4 => "deleting",
        5 => "writing",
        6 => "recording",
        _ => "unknown",
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

thread_local! {
    /// The slot of the run this backend executes.
    static MINE: Cell<Option<usize>> = const { Cell::new(None) };
    /// Rows the Iceberg writer reported during the current step, already
    /// in the slot (add_rows counts only the rest).
    static LIVE_ROWS: Cell<u64> = const { Cell::new(0) };
}

/// The Iceberg writer's listener: rows and bytes of data files as an
/// INSERT of the run's writing step goes (not the rewrites of a DELETE).
pub fn live_write(rows: u64, bytes: u64) {
    with_mine(|s| {
        if s.phase.load(Ordering::Acquire) != Phase::Writing as u32 {
            return;
        }
        LIVE_ROWS.with(|l| l.set(l.get() + rows));
        s.rows.fetch_add(rows as i64, Ordering::AcqRel);
        s.bytes.fetch_add(bytes as i64, Ordering::AcqRel);
    });
}

/// Holds a slot while a run executes; frees it when dropped (also when an
/// ERROR unwinds past it).
pub struct Claim(Option<usize>);

impl Drop for Claim {
    fn drop(&mut self) {
        if let (Some(i), Some(s)) = (self.0, slots()) {
            let slot = &s[i];
            slot.run_id.store(0, Ordering::Release);
            slot.cancel_by.store(0, Ordering::Release);
            slot.pid.store(0, Ordering::Release);
            MINE.with(|m| m.set(None));
        }
    }
}

/// Takes a slot for run `run_id` of model `name` owned by `owner`.
pub fn claim(run_id: i64, owner: pg_sys::Oid, name: &str) -> Claim {
    let Some(s) = slots() else { return Claim(None) };
    // SAFETY: plain reads of backend globals.
    let (pid, db) = unsafe { (pg_sys::MyProcPid, pg_sys::MyDatabaseId) };
    for (i, slot) in s.iter().enumerate() {
        let held = slot.pid.load(Ordering::Acquire);
        // A slot left by a process that died (kill -9) is free again.
        if held != 0 && (held == pid || alive(held)) {
            continue;
        }
        if slot.pid.compare_exchange(held, pid, Ordering::AcqRel, Ordering::Acquire).is_err() {
            continue;
        }
        slot.run_id.store(0, Ordering::Release);
        slot.db.store(db.to_u32(), Ordering::Release);
        slot.owner.store(owner.to_u32(), Ordering::Release);
        slot.phase.store(Phase::Starting as u32, Ordering::Release);
        slot.cancel_by.store(0, Ordering::Release);
        slot.rows.store(0, Ordering::Release);
        slot.bytes.store(0, Ordering::Release);
        slot.started_us.store(chrono::Utc::now().timestamp_micros(), Ordering::Release);
        let mut bytes = [0u8; NAME_WORDS * 8];
        let n = name.len().min(bytes.len() - 1);
        bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
        for (w, word) in slot.name.iter().enumerate() {
            word.store(u64::from_le_bytes(bytes[w * 8..w * 8 + 8].try_into().unwrap_or([0; 8])), Ordering::Release);
        }
        // Published last: a reader that sees the run id sees the rest.
        slot.run_id.store(run_id, Ordering::Release);
        LIVE_ROWS.with(|l| l.set(0));
        MINE.with(|m| m.set(Some(i)));
        return Claim(Some(i));
    }
    // All slots busy: the run goes on without progress reporting.
    Claim(None)
}

fn with_mine(f: impl FnOnce(&Slot)) {
    if let (Some(i), Some(s)) = (MINE.with(|m| m.get()), slots()) {
        f(&s[i]);
    }
}

pub fn set_phase(phase: Phase) {
    LIVE_ROWS.with(|l| l.set(0));
    with_mine(|s| s.phase.store(phase as u32, Ordering::Release));
}

/// A step wrote `rows` in all (those the writer reported live included).
pub fn add_rows(rows: u64) {
    let live = LIVE_ROWS.with(|l| l.replace(0));
    with_mine(|s| {
        s.rows.fetch_add(rows.saturating_sub(live) as i64, Ordering::AcqRel);
    });
}

pub fn add_bytes(bytes: i64) {
    with_mine(|s| {
        s.bytes.fetch_add(bytes, Ordering::AcqRel);
    });
}
/// Runs a run's work in a subtransaction while `claim` shows it in
/// lake.run_progress. A cancel ends the run (rolled back, the outcome an
/// ERROR) when it is the run's own timeout (`timeout_ms` > 0) or
/// lake.cancel_run; any other cancel (the user's, the session's
/// statement_timeout) stops the caller too. Also returns the role that
/// asked to cancel the run, if one did.
pub fn run_cancellable<T>(
    claim: Claim,
    timeout_ms: u32,
    work: impl FnOnce() -> T + std::panic::UnwindSafe,
) -> (Result<T, crate::pg::statement::Failure>, Option<pg_sys::Oid>) {
    let outcome = crate::pg::statement::in_subtransaction(work, |f| {
        f.code != pgrx::PgSqlErrorCode::ERRCODE_QUERY_CANCELED
            || (timeout_ms > 0 && f.message.contains("statement timeout"))
            || cancel_requested().is_some()
    });
    let cancelled_by = cancel_requested();
    drop(claim);
    if cancelled_by.is_some() && outcome.is_ok() {
        // The cancel came as the run finished: its SIGINT was for the run,
        // not for what this backend does next.
        // SAFETY: plain write of a backend flag the signal handler sets.
        unsafe { pg_sys::QueryCancelPending = 0 };
    }
    (outcome, cancelled_by)
}


/// Whether someone asked to cancel the run this backend executes.
pub fn cancel_requested() -> Option<pg_sys::Oid> {
    let mut by = None;
    with_mine(|s| {
        let r = s.cancel_by.load(Ordering::Acquire);
        if r != 0 {
            by = Some(pg_sys::Oid::from(r));
        }
    });
    by
}

/// Runs executing now in the whole cluster (every database).
pub fn active_runs() -> usize {
    let Some(s) = slots() else { return 0 };
    s.iter().filter(|slot| slot.run_id.load(Ordering::Acquire) != 0 && alive(slot.pid.load(Ordering::Acquire))).count()
}

/// One run in progress, as read from its slot.
pub struct Running {
    pub run_id: i64,
    pub model: String,
    pub owner: pg_sys::Oid,
    pub pid: i32,
    pub phase: &'static str,
    pub rows: i64,
    pub bytes: i64,
    pub started_us: i64,
    pub cancel_requested: bool,
}

/// The runs in progress in this database.
pub fn running() -> Vec<Running> {
    let Some(s) = slots() else { return vec![] };
    // SAFETY: plain read of a backend global.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    let mut out = vec![];
    for slot in s {
        let run_id = slot.run_id.load(Ordering::Acquire);
        let pid = slot.pid.load(Ordering::Acquire);
        if run_id == 0 || slot.db.load(Ordering::Acquire) != db || !alive(pid) {
            continue;
        }
        let mut bytes = vec![];
        for w in &slot.name {
            bytes.extend_from_slice(&w.load(Ordering::Acquire).to_le_bytes());
        }
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        let r = Running {
            run_id,
            model: String::from_utf8_lossy(&bytes[..end]).into_owned(),
            owner: pg_sys::Oid::from(slot.owner.load(Ordering::Acquire)),
            pid,
            phase: phase_name(slot.phase.load(Ordering::Acquire)),
            rows: slot.rows.load(Ordering::Acquire),
            bytes: slot.bytes.load(Ordering::Acquire),
            started_us: slot.started_us.load(Ordering::Acquire),
            cancel_requested: slot.cancel_by.load(Ordering::Acquire) != 0,
        };
        // The slot changed hands while it was read: skip it.
        if slot.run_id.load(Ordering::Acquire) == run_id {
            out.push(r);
        }
    }
    out
}

/// Why a cancel request did not reach a run.
pub enum CancelError {
    NotRunning,
    Unsupported,
}

/// Flags run `run_id` cancelled by `by` and interrupts its backend (a
/// SIGINT, as pg_cancel_backend sends): the run's statement stops with
/// 57014, the run sees the flag and records itself `cancelled`. Returns the
/// run's owner for the caller's permission check first (`check` false:
/// nothing is done).
pub fn cancel(run_id: i64, by: pg_sys::Oid, check: impl FnOnce(pg_sys::Oid) -> bool) -> Result<bool, CancelError> {
    let Some(s) = slots() else { return Err(CancelError::Unsupported) };
    // SAFETY: plain read of a backend global.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    for slot in s {
        if slot.run_id.load(Ordering::Acquire) != run_id || slot.db.load(Ordering::Acquire) != db {
            continue;
        }
        let pid = slot.pid.load(Ordering::Acquire);
        if !alive(pid) {
            break;
        }
        if !check(pg_sys::Oid::from(slot.owner.load(Ordering::Acquire))) {
            return Ok(false);
        }
        slot.cancel_by.store(by.to_u32(), Ordering::Release);
        // Only if the slot still holds this run: a run that ended between
        // the check and now must not cost its backend the next statement.
        if slot.run_id.load(Ordering::Acquire) == run_id && slot.pid.load(Ordering::Acquire) == pid {
            // SAFETY: SIGINT to a backend of this cluster, as pg_cancel_backend.
            unsafe { libc::kill(pid, libc::SIGINT) };
            return Ok(true);
        }
        break;
    }
    Err(CancelError::NotRunning)
}
