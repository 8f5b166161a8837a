//! The scheduler, "townlake scheduler": one background worker per database
//! that has enabled models with a schedule, started by the shared launcher
//! (pg::worker). It fires due ticks in dependency order, each run in its own
//! transactions (the run is recorded as running and committed first, so a
//! crash leaves it visibly `running`; the next scheduler marks it
//! `interrupted` and retries it by policy), retries failures with
//! exponential backoff, and follows each model's overlap policy for ticks
//! missed while it was busy: `skip` runs only the latest missed tick,
//! `queue` runs every missed tick in turn. Each run executes in a background
//! worker of its own (`townlake_run_main`), one per owner at a time, so a
//! run that never ends holds back only its owner's models.
//!
//! Which databases: a backend that defines a scheduled model registers its
//! database in a small shared-memory set; at launcher start (also after a
//! crash restart) every database is probed once. A scheduler that finds no
//! scheduled model removes its database and exits.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pgrx::bgworkers::{BackgroundWorkerBuilder, BackgroundWorkerStatus, DynamicBackgroundWorker};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use super::cron::{parse_time_zone, Schedule};
use super::dag::{Dag, Outcome};
use super::registry::{register_database, registry, shmem_request, shmem_startup, unregister_database};
use super::sql::{catalog_edges, model_row, perform_run, start_run};
use crate::pg::worker::{check_signals, in_transaction, install_die_handlers};

const NAME: &str = "townlake scheduler";
/// How long a scheduler with nothing scheduled stays before it leaves.
const IDLE_GRACE: Duration = Duration::from_secs(5);
/// How often a scheduler checks for new definitions and due ticks.
const POLL: Duration = Duration::from_millis(250);
/// How long a scheduler's copy of the definitions lasts at most (they are
/// re-read at once when a definition changes).
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// Held for a scheduler's lifetime so that a database has at most one.
const LOCK_KEY: i64 = 0x746c_7363_6864; // "tlschd"

thread_local! {
    /// In a scheduler: queued runs may exist (at start, after a restart,
    /// or since it queued one), so run_queued looks.
    static QUEUED: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
    /// In the launcher: databases still to probe since it started.
    static PROBE: std::cell::RefCell<Option<Vec<pg_sys::Oid>>> = const { std::cell::RefCell::new(None) };
}

fn wanted(dbs: &mut crate::pg::worker::Databases) -> Vec<pg_sys::Oid> {
    let all = dbs.all().to_vec();
    let mut out: Vec<pg_sys::Oid> = PROBE.with(|p| p.borrow_mut().get_or_insert_with(|| all.clone()).clone());
    if let Some(slots) = registry() {
        for s in slots {
            let id = s.load(Ordering::Acquire);
            // A database dropped while its scheduler ran (DROP DATABASE …
            // FORCE ends it before it can unregister) frees its slot here.
            // (Not when the listing failed and came back empty.)
            if id != 0 && !all.is_empty() && !all.iter().any(|d| d.to_u32() == id) {
                let _ = s.compare_exchange(id, 0, Ordering::AcqRel, Ordering::Acquire);
                continue;
            }
            if id != 0 && !out.iter().any(|d| d.to_u32() == id) {
                out.push(pg_sys::Oid::from(id));
            }
        }
    }
    out.retain(|d| all.contains(d));
    out
}

fn started(db: pg_sys::Oid) {
    PROBE.with(|p| {
        if let Some(list) = p.borrow_mut().as_mut() {
            list.retain(|d| *d != db);
        }
    });
}

/// Registers the scheduler kind and its shared memory (from `_PG_init`).
pub fn init() {
    // SAFETY: plain read of a postmaster flag.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        crate::pg::shmem::register(crate::pg::shmem::SharedMemory { request: shmem_request, startup: shmem_startup });
    }
    crate::pg::worker::register_run_main(run_worker_main);
    crate::pg::worker::register_kind(crate::pg::worker::WorkerKind {
        name: NAME,
        main: scheduler_main,
        wanted,
        started: Some(started),
        persistent: false,
        max_running: 8,
    });
}

/// What the scheduler needs to know of one scheduled model.
struct Scheduled {
    name: String,
    schedule: Schedule,
    tz: chrono_tz::Tz,
    retries: i64,
    retry_delay: i64,
    queue: bool,
    defined_at: DateTime<Utc>,
    last_tick: Option<DateTime<Utc>>,
    last_status: Option<String>,
    last_attempt: i64,
    last_ended: Option<DateTime<Utc>>,
}

struct Due {
    name: String,
    tick: DateTime<Utc>,
    attempt: i64,
    trigger: &'static str,
    queue: bool,
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc))
}

fn installed() -> bool {
    // The extension's own tables only: a schema named lake made by anyone
    // in a database without townlake must not steer this superuser process.
    Spi::get_one::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid \
           WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass \
             AND d.objid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('lake.runs') \
             AND d.deptype OPERATOR(pg_catalog.=) 'e' AND e.extname OPERATOR(pg_catalog.=) 'townlake')",
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// The enabled scheduled models with their last scheduled tick; None when
/// the extension is missing.
fn load() -> Option<(Vec<Scheduled>, Vec<(String, String)>)> {
    if !installed() {
        return None;
    }
    let v = Spi::get_one::<JsonB>(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('name', m.name, 'schedule', m.schedule, 'timezone', m.timezone, \
            'retries', m.retries, 'retry_delay', m.retry_delay_seconds, 'overlap', m.overlap, \
            'defined_at', pg_catalog.to_char(m.defined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
            'last_tick', pg_catalog.to_char(r.scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
            'last_status', r.status, 'last_attempt', r.attempt, \
            'last_ended', pg_catalog.to_char(r.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))), '[]') \
         FROM lake.models m LEFT JOIN LATERAL (SELECT scheduled_for, status, attempt, ended_at FROM lake.runs x \
            WHERE x.model OPERATOR(pg_catalog.=) m.name AND x.scheduled_for IS NOT NULL \
            ORDER BY x.scheduled_for DESC, x.run_id DESC LIMIT 1) r ON true \
         WHERE m.enabled AND m.schedule IS NOT NULL",
    )
    .ok()
    .flatten()?
    .0;
    // Scheduled pipelines, named "pipeline:<name>" (pipeline.rs).
    let pipelines = super::pipeline::scheduled_json();
    let models = v
        .as_array()
        .into_iter()
        .flatten()
        .chain(pipelines.as_array().into_iter().flatten())
        .filter_map(|m| {
            Some(Scheduled {
                name: m["name"].as_str()?.to_string(),
                schedule: Schedule::parse(m["schedule"].as_str()?).ok()?,
                tz: parse_time_zone(m["timezone"].as_str()?).ok()?,
                retries: m["retries"].as_i64().unwrap_or(0),
                retry_delay: m["retry_delay"].as_i64().unwrap_or(60),
                queue: m["overlap"] == "queue",
                defined_at: ts(&m["defined_at"])?,
                last_tick: ts(&m["last_tick"]),
                last_status: m["last_status"].as_str().map(str::to_string),
                last_attempt: m["last_attempt"].as_i64().unwrap_or(0),
                last_ended: ts(&m["last_ended"]),
            })
        })
        .collect();
    let edges = catalog_edges().unwrap_or_default();
    Some((models, edges))
}

/// What is due now, and when the next thing will be.
fn plan(models: &[Scheduled], now: DateTime<Utc>) -> (Vec<Due>, DateTime<Utc>) {
    let mut due = vec![];
    let mut wake = now + chrono::Duration::seconds(RELOAD_EVERY.as_secs() as i64);
    for m in models {
        let base = m.last_tick.unwrap_or(m.defined_at);
        let Some(mut next) = m.schedule.next_after(base, m.tz) else { continue };
        if next <= now {
            if !m.queue {
                // skip: only the latest missed tick runs.
                let mut from = next;
                if now - from > chrono::Duration::days(1) {
                    from = now - chrono::Duration::days(1);
                }
                while let Some(n) = m.schedule.next_after(from, m.tz).filter(|n| *n <= now) {
                    from = n;
                }
                next = from.max(next);
            }
            due.push(Due { name: m.name.clone(), tick: next, attempt: 1, trigger: "schedule", queue: m.queue });
            continue;
        }
        wake = wake.min(next);
        // A failed (or interrupted) tick is retried with backoff while
        // attempts remain and no newer tick is due.
        if let (Some(tick), Some(status)) = (m.last_tick, m.last_status.as_deref()) {
            if matches!(status, "failed" | "interrupted") && m.last_attempt <= m.retries {
                let backoff = m.retry_delay.saturating_mul(1i64 << (m.last_attempt - 1).clamp(0, 20));
                let at = m.last_ended.unwrap_or(now) + chrono::Duration::seconds(if status == "interrupted" { 0 } else { backoff });
                if at <= now {
                    due.push(Due { name: m.name.clone(), tick, attempt: m.last_attempt + 1, trigger: "retry", queue: m.queue });
                } else {
                    wake = wake.min(at);
                }
            }
        }
    }
    (due, wake)
}

fn log(message: &str) {
    ereport!(PgLogLevel::LOG, PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION, message);
}

fn tick_ts(t: DateTime<Utc>) -> Option<pgrx::datum::TimestampWithTimeZone> {
    pgrx::datum::TimestampWithTimeZone::try_from(crate::pg::time::unix_micros_to_pg_micros(t.timestamp_micros())).ok()
}

/// The runs of one tick's due models, in dependency order.
struct Batch {
    dag: Dag,
    order: Vec<String>,
    due: BTreeMap<String, Due>,
    outcomes: BTreeMap<String, Outcome>,
    /// Owners looked up so far (a member waiting for its owner's run is
    /// looked at four times a second).
    owners: BTreeMap<String, String>,
}

/// A run executing in a background worker of its own.
struct Flight {
    name: String,
    run_id: i64,
    owner: String,
    /// The id of its tick's batch in `State::batches` (None: a queued run).
    batch: Option<u64>,
    worker: DynamicBackgroundWorker,
}

#[derive(Default)]
struct State {
    batches: Vec<(u64, Batch)>,
    flights: Vec<Flight>,
    next_batch: u64,
}

thread_local! {
    /// In a scheduler: the ticks being run and the runs in their workers.
    static STATE: std::cell::RefCell<State> = std::cell::RefCell::new(State::default());
}

/// Run workers a scheduler keeps at once (each owner has at most one).
const MAX_RUN_WORKERS: usize = 8;

/// Models (and "pipeline:" names) of ticks not finished yet: not planned again.
fn unfinished() -> std::collections::BTreeSet<String> {
    STATE.with(|st| {
        let st = st.borrow();
        let mut out: std::collections::BTreeSet<String> = st.flights.iter().map(|f| f.name.clone()).collect();
        for (_, b) in &st.batches {
            out.extend(b.due.keys().filter(|n| !b.outcomes.contains_key(*n)).cloned());
        }
        out
    })
}

fn run_due(batch: Vec<Due>, edges: &[(String, String)]) {
    let mut dag = Dag::new();
    for d in &batch {
        dag.add_node(&d.name);
    }
    for (u, d) in edges {
        dag.add_edge(u, d);
    }
    let order = dag.topological_order().unwrap_or_else(|_| batch.iter().map(|d| d.name.clone()).collect());
    let due: BTreeMap<String, Due> = batch.into_iter().map(|d| (d.name.clone(), d)).collect();
    STATE.with(|st| {
        let mut st = st.borrow_mut();
        let id = st.next_batch;
        st.next_batch += 1;
        st.batches.push((id, Batch { dag, order, due, outcomes: BTreeMap::new(), owners: BTreeMap::new() }));
    });
    advance();
}

/// The owner of model (or "pipeline:" name) `name`, as text.
fn owner_of(name: &str) -> Option<String> {
    in_transaction(|| {
        let row = match name.strip_prefix(super::pipeline::SCHEDULER_PREFIX) {
            Some(p) => super::pipeline::pipeline_row(p).ok().flatten(),
            None => model_row(name).ok().flatten(),
        };
        row.and_then(|r| r["owner"].as_str().map(str::to_string))
    })
    .ok()
    .flatten()
}

/// Collects the outcomes of runs whose workers stopped, then starts every
/// run whose upstreams in its tick are done, each in a worker of its own:
/// a run that takes long (any role may schedule `SELECT pg_sleep(1e9)`)
/// holds back only its owner's next runs and its own downstream models,
/// never another role's. Whether a run finished.
fn advance() -> bool {
    let had_batches = STATE.with(|st| !st.borrow().batches.is_empty());
    let finished = reap();
    let ids: Vec<u64> = STATE.with(|st| st.borrow().batches.iter().map(|(id, _)| *id).collect());
    for id in ids {
        advance_batch(id);
    }
    STATE.with(|st| {
        let mut st = st.borrow_mut();
        let in_flight: Vec<Option<u64>> = st.flights.iter().map(|f| f.batch).collect();
        st.batches.retain(|(id, b)| b.due.keys().any(|n| !b.outcomes.contains_key(n)) || in_flight.contains(&Some(*id)));
    });
    if had_batches && STATE.with(|st| st.borrow().batches.is_empty()) {
        crate::pg::worker::report_activity("idle", false);
    }
    finished
}

/// The outcome of a run whose worker stopped, from its row; a run its
/// worker left `running` (it never started, or stopped on an error) failed.
fn outcome_of_stopped(run_id: i64) -> Outcome {
    let status = in_transaction(|| {
        Spi::get_one_with_args::<String>(
            "SELECT status FROM lake.runs WHERE run_id OPERATOR(pg_catalog.=) $1",
            &[run_id.into()],
        )
        .ok()
        .flatten()
    })
    .ok()
    .flatten();
    match status.as_deref() {
        Some("succeeded") => Outcome::Succeeded,
        Some("skipped") => Outcome::Skipped,
        Some("running") => {
            let _ = in_transaction(|| {
                Spi::run_with_args(
                    "UPDATE lake.runs SET status = 'failed', ended_at = pg_catalog.clock_timestamp(), \
                       error_message = 'the run''s background worker stopped before the run ended (see the server log)' \
                     WHERE run_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'running'",
                    &[run_id.into()],
                )
            });
            Outcome::Failed
        }
        _ => Outcome::Failed,
    }
}

fn reap() -> bool {
    let stopped: Vec<Flight> = STATE.with(|st| {
        let mut st = st.borrow_mut();
        let (done, going): (Vec<Flight>, Vec<Flight>) = std::mem::take(&mut st.flights)
            .into_iter()
            .partition(|f| matches!(f.worker.pid(), Err(BackgroundWorkerStatus::Stopped)));
        st.flights = going;
        done
    });
    for f in &stopped {
        let outcome = outcome_of_stopped(f.run_id);
        if let Some(id) = f.batch {
            STATE.with(|st| {
                if let Some((_, b)) = st.borrow_mut().batches.iter_mut().find(|(bid, _)| *bid == id) {
                    b.outcomes.insert(f.name.clone(), outcome);
                }
            });
        } else {
            // a queued run ended: others may be waiting behind it
            QUEUED.with(|q| q.set(true));
        }
    }
    !stopped.is_empty()
}

/// Starts run `run_id` in a background worker of its own; None when no
/// worker slot is free (max_worker_processes) and the caller runs it.
fn launch(run_id: i64) -> Option<DynamicBackgroundWorker> {
    // SAFETY: plain reads of backend globals.
    let (db, me) = unsafe { (pg_sys::MyDatabaseId, pg_sys::MyProcPid) };
    let worker = BackgroundWorkerBuilder::new(NAME)
        .set_type(NAME)
        .set_library("townlake")
        .set_function("townlake_run_main")
        .enable_spi_access()
        .set_argument(Some(pg_sys::Datum::from(run_id as usize)))
        .set_extra(&db.to_u32().to_string())
        .set_notify_pid(me)
        .set_restart_time(None)
        .load_dynamic()
        .ok()?;
    match worker.wait_for_startup() {
        Ok(_) => Some(worker),
        // stopped at once: its outcome is read from the run's row
        Err(BackgroundWorkerStatus::Stopped) => Some(worker),
        Err(_) => None,
    }
}

/// Runs `run_id` (recorded running) in a worker, or here when none can start.
fn dispatch(row: &Value, run_id: i64, is_pipeline: bool, name: &str, owner: String, batch: Option<u64>) -> Option<Outcome> {
    match launch(run_id) {
        Some(worker) => {
            STATE.with(|st| st.borrow_mut().flights.push(Flight { name: name.to_string(), run_id, owner, batch, worker }));
            // (the worker says "townlake run <id>: ..." itself)
            crate::pg::worker::report_activity(&format!("started run {run_id} of {name} in its own worker"), true);
            None
        }
        None => {
            let outcome = execute(row, run_id, is_pipeline);
            // Session-level advisory locks the run's SQL took would outlive it in
            // this backend, which runs other owners' SQL next.
            let _ = in_transaction(|| Spi::run("SELECT pg_catalog.pg_advisory_unlock_all()"));
            Some(outcome)
        }
    }
}

fn advance_batch(id: u64) {
    let order: Vec<String> = STATE.with(|st| {
        st.borrow().batches.iter().find(|(bid, _)| *bid == id).map(|(_, b)| b.order.clone()).unwrap_or_default()
    });
    for name in order {
        // (waiting, due, blocked by) for this member, read afresh: runs end meanwhile
        let step = STATE.with(|st| {
            let st = st.borrow();
            let (_, b) = st.batches.iter().find(|(bid, _)| *bid == id)?;
            let due = b.due.get(&name)?;
            if b.outcomes.contains_key(&name) || st.flights.iter().any(|f| f.batch == Some(id) && f.name == name) {
                return None;
            }
            // upstreams of this tick first
            if b.dag.upstreams(&name).any(|u| b.due.contains_key(u) && !b.outcomes.contains_key(u)) {
                return None;
            }
            let blocked = b
                .dag
                .upstreams(&name)
                .find(|u| matches!(b.outcomes.get(*u), Some(Outcome::Failed | Outcome::Skipped)))
                .map(str::to_string);
            Some((Due { name: due.name.clone(), tick: due.tick, attempt: due.attempt, trigger: due.trigger, queue: due.queue }, blocked))
        });
        let Some((due, blocked)) = step else { continue };
        check_signals();
        let owner = if blocked.is_none() {
            let known = STATE.with(|st| {
                st.borrow().batches.iter().find(|(bid, _)| *bid == id).and_then(|(_, b)| b.owners.get(&name).cloned())
            });
            let Some(owner) = known.or_else(|| owner_of(&name)) else {
                // dropped meanwhile: nothing to run
                record(id, &name, Outcome::Skipped);
                continue;
            };
            STATE.with(|st| {
                if let Some((_, b)) = st.borrow_mut().batches.iter_mut().find(|(bid, _)| *bid == id) {
                    b.owners.insert(name.clone(), owner.clone());
                }
            });
            // one run per owner at a time, and a few workers at most
            let busy = STATE.with(|st| {
                let st = st.borrow();
                st.flights.iter().any(|f| f.owner == owner) || st.flights.len() >= MAX_RUN_WORKERS
            });
            if busy {
                continue;
            }
            owner
        } else {
            String::new()
        };
        // The cluster-wide concurrency limit (townlake.transform_max_concurrent_runs).
        super::ops::wait_for_run_slot();
        crate::pg::worker::report_activity(&format!("running model {name} (tick {})", due.tick.to_rfc3339()), true);
        // First transaction: the run exists, as running, before any work.
        let pipeline = name.strip_prefix(super::pipeline::SCHEDULER_PREFIX).map(str::to_string);
        let started = in_transaction(|| -> Option<(Value, i64, Option<Outcome>)> {
            let trigger = if blocked.is_some() { "schedule" } else { due.trigger };
            if let Some(p) = &pipeline {
                return super::pipeline::start_scheduled(p, trigger, tick_ts(due.tick), due.attempt as i32)
                    .map(|(row, run)| (row, run, None));
            }
            let row = model_row(&name).ok().flatten()?;
            let run = start_run(&row, trigger, tick_ts(due.tick), due.attempt as i32, None, None).ok()?;
            // The overlap policy, against runs of the model executing in
            // other backends (run_now, backfill) or already queued, decided
            // before the run is visible: it is never seen `running` first.
            let how = if blocked.is_none() { overlap(&name, run, due.queue) } else { None };
            Some((row, run, how))
        });
        let Ok(Some((row, run_id, how))) = started else {
            record(id, &name, Outcome::Skipped);
            continue;
        };
        if let Some(how) = how {
            record(id, &name, how);
            continue;
        }
        if let Some(up) = blocked {
            let _ = in_transaction(|| {
                Spi::run_with_args(
                    "UPDATE lake.runs SET status = 'skipped', ended_at = pg_catalog.clock_timestamp(), \
                       error_message = $2 WHERE run_id OPERATOR(pg_catalog.=) $1",
                    &[run_id.into(), format!("skipped: upstream model \"{up}\" did not succeed").into()],
                )
            });
            record(id, &name, Outcome::Skipped);
            continue;
        }
        if let Some(outcome) = dispatch(&row, run_id, pipeline.is_some(), &name, owner, Some(id)) {
            record(id, &name, outcome);
        }
    }
}

fn record(batch: u64, name: &str, outcome: Outcome) {
    STATE.with(|st| {
        if let Some((_, b)) = st.borrow_mut().batches.iter_mut().find(|(bid, _)| *bid == batch) {
            b.outcomes.insert(name.to_string(), outcome);
        }
    });
}

/// What a scheduled run's own background worker does (`townlake_run_main`
/// in pg/worker.rs): connects to the scheduler's database (argument: the run
/// id, extra data: the database oid) and does the run's work, as the
/// scheduler would have.
fn run_worker_main(arg: pg_sys::Datum) {
    install_die_handlers();
    let run_id = arg.value() as i64;
    let db = pgrx::bgworkers::BackgroundWorker::get_extra().parse::<u32>().unwrap_or(0);
    pgrx::bgworkers::BackgroundWorker::connect_worker_to_spi_by_oid(Some(pg_sys::Oid::from(db)), None);
    let loaded = in_transaction(|| -> Option<(Value, bool)> {
        let v = Spi::get_one_with_args::<JsonB>(
            "SELECT jsonb_build_object('model', model, 'pipeline', pipeline) FROM lake.runs \
             WHERE run_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'running'",
            &[run_id.into()],
        )
        .ok()
        .flatten()?
        .0;
        if let Some(p) = v["pipeline"].as_str() {
            return Some((super::pipeline::pipeline_row(p).ok().flatten()?, true));
        }
        Some((model_row(v["model"].as_str()?).ok().flatten()?, false))
    });
    if let Ok(Some((row, is_pipeline))) = loaded {
        execute(&row, run_id, is_pipeline);
    }
    // anything else: the scheduler marks a run left running as failed
}

/// The second transaction of a run: the work and its outcome, committed
/// together.
fn execute(row: &Value, run_id: i64, is_pipeline: bool) -> Outcome {
    let work = || if is_pipeline { super::pipeline::perform_run(row, run_id) } else { perform_run(row, run_id) };
    match in_transaction(work) {
        Ok(Ok(o)) => o,
        other => {
            // The work raised past the run's own subtransaction (a
            // cancel, a catalog problem): the run row says so.
            let message = match other {
                Ok(Err(e)) => e.message,
                Err(m) => m,
                Ok(Ok(_)) => String::new(),
            };
            let _ = in_transaction(|| {
                Spi::run_with_args(
                    "UPDATE lake.runs SET status = 'failed', ended_at = pg_catalog.clock_timestamp(), error_message = $2 \
                     WHERE run_id OPERATOR(pg_catalog.=) $1",
                    &[run_id.into(), message.into()],
                )
            });
            Outcome::Failed
        }
    }
}

/// A run of model `name` executing now in another backend (from shared
/// memory: a run_now's row may not be committed yet).
fn running_elsewhere(name: &str) -> Option<i64> {
    // SAFETY: plain read of a backend global.
    let me = unsafe { pg_sys::MyProcPid };
    super::progress::running().into_iter().find(|r| r.model == name && r.pid != me).map(|r| r.run_id)
}

fn queued_run(name: &str) -> Option<i64> {
    Spi::get_one_with_args::<i64>(
        "SELECT run_id FROM lake.runs WHERE model OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'queued' \
         ORDER BY run_id LIMIT 1",
        &[name.into()],
    )
    .ok()
    .flatten()
}

/// Applies the overlap policy to the due run `run_id`, in the transaction
/// that records it: None when it may run now; else it is recorded `queued`
/// (policy queue, runs after the other run ends) or `skipped`.
fn overlap(name: &str, run_id: i64, queue: bool) -> Option<Outcome> {
    let other = running_elsewhere(name);
    let waiting = queued_run(name).filter(|q| *q != run_id);
    let (status, message) = match (other, waiting, queue) {
        (None, None, _) => return None,
        (_, Some(q), _) => ("skipped", format!("skipped: run {q} of model \"{name}\" is already queued (at most one queued run per model)")),
        (Some(_), None, true) => {
            QUEUED.with(|q| q.set(true));
            ("queued", String::new())
        }
        (Some(o), None, false) => ("skipped", format!("skipped: run {o} of model \"{name}\" was still running (overlap skip)")),
    };
    let _ = Spi::run_with_args(
        "UPDATE lake.runs SET status = $2, started_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'queued' THEN NULL ELSE started_at END, \
           ended_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'queued' THEN NULL ELSE pg_catalog.clock_timestamp() END, \
           error_message = NULLIF($3, '') WHERE run_id OPERATOR(pg_catalog.=) $1",
        &[run_id.into(), status.into(), message.into()],
    );
    Some(Outcome::Skipped)
}

/// Starts the queued runs whose model no longer has a run executing, in
/// the order they were queued; whether it ran any.
fn run_queued() -> bool {
    let queued = in_transaction(|| -> Vec<(i64, String)> {
        let v = Spi::get_one::<JsonB>(
            "SELECT coalesce(jsonb_agg(jsonb_build_array(r.run_id, r.model) ORDER BY r.run_id), '[]') FROM lake.runs r \
             WHERE r.status OPERATOR(pg_catalog.=) 'queued' AND r.model IS NOT NULL",
        )
        .ok()
        .flatten()
        .map(|j| j.0)
        .unwrap_or(Value::Null);
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p[0].as_i64()?, p[1].as_str()?.to_string())))
            .collect()
    })
    .unwrap_or_default();
    if queued.is_empty() {
        QUEUED.with(|q| q.set(false));
        return false;
    }
    let mut ran = false;
    for (run_id, name) in queued {
        check_signals();
        if running_elsewhere(&name).is_some() || unfinished().contains(&name) {
            continue;
        }
        super::ops::wait_for_run_slot();
        let started = in_transaction(|| -> Option<Value> {
            let row = model_row(&name).ok().flatten();
            let (status, message) = match &row {
                Some(_) => ("running", None),
                None => ("skipped", Some(format!("skipped: model \"{name}\" was dropped while its run was queued"))),
            };
            Spi::run_with_args(
                "UPDATE lake.runs SET status = $2, started_at = pg_catalog.clock_timestamp(), \
                   ended_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'skipped' THEN pg_catalog.clock_timestamp() END, error_message = $3 \
                 WHERE run_id OPERATOR(pg_catalog.=) $1 AND status OPERATOR(pg_catalog.=) 'queued'",
                &[run_id.into(), status.into(), message.into()],
            )
            .ok()?;
            row
        });
        if let Ok(Some(row)) = started {
            crate::pg::worker::report_activity(&format!("running queued run {run_id} of model {name}"), true);
            let owner = row["owner"].as_str().unwrap_or_default().to_string();
            dispatch(&row, run_id, false, &name, owner, None);
            ran = true;
        }
    }
    crate::pg::worker::report_activity("idle", false);
    ran
}

fn scheduler_main(db: pg_sys::Oid) {
    install_die_handlers();
    pgrx::bgworkers::BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    let unique = match super::scheduler_claim::claim(db) {
        Some(claimed) => Ok(claimed),
        // Not preloaded (no claim table): an advisory lock is the best there is.
        None => in_transaction(|| {
            Spi::get_one_with_args::<bool>("SELECT pg_catalog.pg_try_advisory_lock($1)", &[LOCK_KEY.into()])
                .ok()
                .flatten()
                .unwrap_or(false)
        }),
    };
    if unique != Ok(true) {
        return;
    }
    // Runs left `running` by a scheduler that died: their work was rolled
    // back with their transaction.
    // (Not those still executing in their own workers, started by a
    // scheduler that left while they ran.)
    let alive: Vec<i64> = super::progress::running().into_iter().map(|r| r.run_id).collect();
    let _ = in_transaction(|| {
        if installed() {
            let _ = Spi::run_with_args(
                "UPDATE lake.runs SET status = 'interrupted', ended_at = pg_catalog.clock_timestamp(), \
                   error_message = 'interrupted: the scheduler stopped during the run (its work was rolled back)' \
                 WHERE status OPERATOR(pg_catalog.=) 'running' AND scheduled_for IS NOT NULL \
                   AND run_id OPERATOR(pg_catalog.<>) ALL ($1)",
                &[alive.clone().into()],
            );
        }
    });
    // Since when this database has had no scheduled model: the scheduler
    // stays a few seconds before it leaves, because the backend that defines
    // or resumes a model asks for a scheduler before its transaction commits
    // (a scheduler that looked in between would leave for good).
    let mut idle_since: Option<std::time::Instant> = None;
    // The definitions as last read, the generation they were read at
    // (registry::generation), when, and the next time something is due.
    let mut cache: Option<(Vec<Scheduled>, Vec<(String, String)>)> = None;
    let mut read_gen: Option<u64> = None;
    let mut read_at = std::time::Instant::now();
    let mut next_wake = Utc::now();
    loop {
        check_signals();
        let gen = super::registry::generation();
        // Re-read when a definition changed (a committed define, pause,
        // resume or drop bumps the generation), after this scheduler ran
        // something (cache cleared), and at least every RELOAD_EVERY; without
        // the shared generation, every second.
        let stale = cache.is_none()
            || gen.is_none()
            || gen != read_gen
            || read_at.elapsed() >= if gen.is_some() { RELOAD_EVERY } else { Duration::from_secs(1) };
        if stale {
            let state = in_transaction(load);
            read_gen = gen;
            read_at = std::time::Instant::now();
            match state {
                Ok(Some((m, e))) if !m.is_empty() => {
                    idle_since = None;
                    cache = Some((m, e));
                }
                Ok(_) if idle_since.is_some_and(|t| t.elapsed() >= IDLE_GRACE)
                    && STATE.with(|st| st.borrow().flights.is_empty()) =>
                {
                    unregister_database(db);
                    // A model defined while the slot was cleared keeps it.
                    if matches!(in_transaction(load), Ok(Some((m, _))) if !m.is_empty()) {
                        register_database(db);
                        idle_since = None;
                        continue;
                    }
                    return;
                }
                Ok(_) => {
                    cache = None;
                    idle_since.get_or_insert_with(std::time::Instant::now);
                    crate::runtime::sleep_on_latch(POLL);
                    continue;
                }
                Err(e) => {
                    cache = None;
                    log(&format!("townlake scheduler: cannot read the models: {e}"));
                    crate::runtime::sleep_on_latch(Duration::from_secs(5));
                    continue;
                }
            }
            next_wake = Utc::now();
        }
        super::ops::purge_old_runs();
        if advance() {
            // runs ended: their models' last ticks and outcomes changed
            cache = None;
            continue;
        }
        if QUEUED.with(|q| q.get()) && run_queued() {
            cache = None;
            continue;
        }
        let now = Utc::now();
        if now < next_wake {
            // Nothing due yet: a short sleep, to notice new definitions.
            let wait = (next_wake - now).to_std().unwrap_or(POLL).clamp(Duration::from_millis(10), POLL);
            crate::runtime::sleep_on_latch(wait);
            continue;
        }
        let Some((models, edges)) = cache.as_ref() else { continue };
        let (mut due, wake) = plan(models, now);
        next_wake = wake;
        // a tick still running (or waiting for its upstreams) is not due again
        let busy = unfinished();
        due.retain(|d| !busy.contains(&d.name));
        if due.is_empty() {
            continue;
        }
        let edges = edges.clone();
        // The runs change the models' last ticks: read them again.
        cache = None;
        run_due(due, &edges);
    }
}
