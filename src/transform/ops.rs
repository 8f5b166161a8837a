//! Operating runs: `lake.backfill`, `lake.cancel_run`, the progress view's
//! function, the backfill period functions a model's SQL may call, and the
//! scheduler's settings (concurrency limit, run retention).

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::GucContext;

use super::incremental::{parse_partition_spec, PartitionTerm, TimeUnit};
use super::progress::{self, CancelError};
use super::spi::{as_catalog_owner, exec};
use super::sql::{model_row, perform_run, start_run_for, Period};
use crate::errors::{LakeError, OrReport};
use crate::pg::security::current_user;
use crate::pg::settings::{define_int, Def, IntSetting};
use crate::pg::statement::is_member_of_role;

/// Runs executing at once in the cluster beyond which the scheduler waits
/// (0: no limit).
pub static MAX_CONCURRENT_RUNS: IntSetting = IntSetting::new(0);
/// Days finished runs stay in lake.runs (0: forever).
pub static RUN_RETENTION_DAYS: IntSetting = IntSetting::new(0);

pub fn init() {
    define_int(
        Def {
            name: c"townlake.transform_max_concurrent_runs",
            renamed_from: None,
            short: c"Model runs executing at once in the cluster before scheduled runs wait (0: no limit).",
            long: c"Counts every run in progress (scheduled, lake.run_now, lake.backfill) in every database; a scheduler with a due run waits until fewer are running. Manual runs are never held back.",
            context: || GucContext::Sighup,
        },
        &MAX_CONCURRENT_RUNS,
        0,
        10_000,
    );
    define_int(
        Def {
            name: c"townlake.transform_run_retention_days",
            renamed_from: None,
            short: c"Days finished runs stay in lake.runs (0: keep them all).",
            long: c"The scheduler deletes older finished runs (and their lake.run_metadata) every few seconds, keeping the latest run and the latest scheduled run of every model and pipeline.",
            context: || GucContext::Sighup,
        },
        &RUN_RETENTION_DAYS,
        0,
        36_500,
    );
    progress::init();
}

thread_local! {
    static PERIOD: std::cell::Cell<Option<Period>> = const { std::cell::Cell::new(None) };
    static LAST_PURGE: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

/// The start of the backfill period being run, NULL outside a backfill run.
#[pg_extern(stable, parallel_safe)]
fn run_period_start() -> Option<TimestampWithTimeZone> {
    PERIOD.with(|p| p.get()).map(|p| p.from)
}

/// The end (exclusive) of the backfill period being run, NULL outside one.
#[pg_extern(stable, parallel_safe)]
fn run_period_end() -> Option<TimestampWithTimeZone> {
    PERIOD.with(|p| p.get()).map(|p| p.to)
}

fn invalid(msg: impl Into<String>, hint: impl Into<String>) -> LakeError {
    LakeError::invalid(msg).with_hint(hint)
}

/// Runs model `name` once per period between `from` and `to` (periods of
/// `period`, or of the model's time partition), each a run with trigger
/// 'backfill' that sees its period through lake.run_period_start() and
/// lake.run_period_end(). Returns the run ids in period order.
#[pg_extern(volatile, parallel_unsafe)]
fn backfill(
    name: Option<&str>,
    from_ts: Option<TimestampWithTimeZone>,
    to_ts: Option<TimestampWithTimeZone>,
    period: default!(Option<&str>, "NULL"),
) -> Vec<i64> {
    let name = crate::errors::required(name, "lake.backfill", "name");
    let from_ts = crate::errors::required(from_ts, "lake.backfill", "from_ts");
    let to_ts = crate::errors::required(to_ts, "lake.backfill", "to_ts");
    let (from, to) = (from_ts, to_ts);
    let caller = current_user();
    let row = as_catalog_owner(|| model_row(name)).or_report().unwrap_or_else(|| {
        LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("model \"{name}\" does not exist"))
            .with_hint("SELECT name FROM lake.models lists the models you can see.")
            .report()
    });
    let owner = pg_sys::Oid::from(row["owner_oid"].as_i64().unwrap_or(0) as u32);
    if !is_member_of_role(caller, owner) {
        LakeError::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, format!("permission denied to backfill model \"{name}\""))
            .with_hint("Only members of a model's owner role may run it; runs execute as the owner.")
            .report();
    }
    if row["materialization"] != "incremental" {
        invalid(
            format!("model \"{name}\" is a {} model; backfill applies to incremental models", row["materialization"].as_str().unwrap_or("")),
            "a table model's run replaces everything: use lake.run_now",
        )
        .report();
    }
    let unit = match period {
        Some(p) => TimeUnit::parse(p).unwrap_or_else(|| invalid(format!("invalid period \"{p}\""), "use hour, day, month or year").report()),
        None => row["partition_by"]
            .as_str()
            .and_then(|s| parse_partition_spec(s).ok())
            .and_then(|terms| terms.into_iter().find_map(|t| if let PartitionTerm::Time(u, _) = t { Some(u) } else { None }))
            .unwrap_or_else(|| {
                invalid(
                    format!("model \"{name}\" has no time partition to backfill by"),
                    "name the period: lake.backfill(name, from, to, period => 'day'), or give the model partition_by => 'day(ts)'",
                )
                .report()
            }),
    };
    let u = unit.as_str();
    // Periods aligned in UTC, as Iceberg's time transforms are.
    let periods: Vec<Period> = Spi::connect(|c| -> Result<Vec<Period>, pgrx::spi::SpiError> {
        let rows = c.select(
            &format!(
                "SELECT pg_catalog.timezone('UTC', g), pg_catalog.timezone('UTC', g + interval '1 {u}') \
                 FROM pg_catalog.generate_series(pg_catalog.date_trunc('{u}', pg_catalog.timezone('UTC', $1::timestamptz)), \
                      pg_catalog.timezone('UTC', $2::timestamptz) - interval '1 microsecond', interval '1 {u}') g \
                 WHERE $1::timestamptz OPERATOR(pg_catalog.<) $2::timestamptz LIMIT 10001"
            ),
            None,
            &[from.into(), to.into()],
        )?;
        let mut out = vec![];
        for r in rows {
            if let (Some(f), Some(t)) = (r.get::<TimestampWithTimeZone>(1)?, r.get::<TimestampWithTimeZone>(2)?) {
                out.push(Period { from: f, to: t });
            }
        }
        Ok(out)
    })
    .map_err(|e| LakeError::internal(format!("cannot compute the periods: {e}")))
    .or_report();
    if periods.is_empty() {
        invalid("backfill needs from before to", "lake.backfill(name, '2026-03-01', '2026-03-08') runs every period from the first up to the second").report();
    }
    if periods.len() > 10_000 {
        invalid(format!("backfill of {} or more {u} periods", periods.len()), "backfill at most 10000 periods per call").report();
    }
    let mut ids = vec![];
    for p in periods {
        let id = start_run_for(&row, "backfill", None, 1, None, Some(caller), Some(p)).or_report();
        struct Restore(Option<Period>);
        impl Drop for Restore {
            fn drop(&mut self) {
                PERIOD.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(PERIOD.with(|c| c.replace(Some(p))));
        perform_run(&row, id).or_report();
        ids.push(id);
        // lake.cancel_run on one period's run stops the backfill there.
        let status = Spi::get_one_with_args::<String>("SELECT status FROM lake.runs WHERE run_id OPERATOR(pg_catalog.=) $1", &[id.into()]);
        if matches!(status, Ok(Some(s)) if s == "cancelled") {
            pgrx::warning!("townlake: backfill of model \"{name}\" stopped at run {id}, which was cancelled");
            break;
        }
    }
    ids
}

/// Asks run `run_id` to stop: its statement is cancelled, its work rolled
/// back, and it is recorded `cancelled`. For members of the model's owner.
/// True when the request reached the run.
#[pg_extern(volatile, parallel_unsafe)]
fn cancel_run(run_id: i64) -> bool {
    let caller = current_user();
    match progress::cancel(run_id, caller, |owner| is_member_of_role(caller, owner)) {
        Ok(true) => true,
        Ok(false) => LakeError::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, format!("permission denied to cancel run {run_id}"))
            .with_hint("Only members of the model's owner role may cancel its runs.")
            .report(),
        Err(CancelError::Unsupported) => LakeError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "cancelling runs needs townlake in shared_preload_libraries",
        )
        .with_hint("Add townlake to shared_preload_libraries and restart the server.")
        .report(),
        Err(CancelError::NotRunning) => {
            let status = Spi::get_one_with_args::<String>("SELECT status FROM lake.runs WHERE run_id OPERATOR(pg_catalog.=) $1", &[run_id.into()])
                .ok()
                .flatten();
            let msg = match status {
                Some(s) => format!("run {run_id} is not running (status {s})"),
                None => format!("run {run_id} is not running"),
            };
            LakeError::new(PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg)
                .with_hint("SELECT * FROM lake.run_progress lists the runs in progress you may see.")
                .report()
        }
    }
}

/// The runs in progress in this database that the caller may see (of the
/// roles it is a member of): the rows of lake.run_progress.
#[pg_extern(volatile, parallel_restricted)]
fn runs_in_progress() -> TableIterator<
    'static,
    (
        name!(run_id, i64),
        name!(model, String),
        name!(phase, String),
        name!(rows_so_far, i64),
        name!(bytes_so_far, i64),
        name!(started_at, Option<TimestampWithTimeZone>),
        name!(pid, i32),
        name!(cancel_requested, bool),
    ),
> {
    let caller = current_user();
    let rows: Vec<_> = progress::running()
        .into_iter()
        .filter(|r| is_member_of_role(caller, r.owner))
        .map(|r| {
            let started = TimestampWithTimeZone::try_from(crate::pg::time::unix_micros_to_pg_micros(r.started_us)).ok();
            (r.run_id, r.model, r.phase.to_string(), r.rows, r.bytes, started, r.pid, r.cancel_requested)
        })
        .collect();
    TableIterator::new(rows)
}

/// For the scheduler: waits while the cluster runs as many runs as the
/// limit allows.
pub(crate) fn wait_for_run_slot() {
    loop {
        let limit = MAX_CONCURRENT_RUNS.get();
        if limit <= 0 || progress::active_runs() < limit as usize {
            return;
        }
        crate::pg::worker::check_signals();
        crate::runtime::sleep_on_latch(std::time::Duration::from_millis(200));
    }
}

/// For the scheduler, every 10 seconds at most: deletes finished runs older than
/// the retention, keeping each model's (and pipeline's) latest run and
/// latest scheduled run, which the scheduler plans from.
pub(crate) fn purge_old_runs() {
    let days = RUN_RETENTION_DAYS.get();
    let due = LAST_PURGE.with(|l| l.get().map_or(true, |t| t.elapsed() >= std::time::Duration::from_secs(10)));
    if days <= 0 || !due {
        return;
    }
    LAST_PURGE.with(|l| l.set(Some(std::time::Instant::now())));
    let _ = crate::pg::worker::in_transaction(|| {
        exec(
            "DELETE FROM lake.runs r WHERE r.ended_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => $1)) \
               AND r.status OPERATOR(pg_catalog.<>) 'running' \
               AND r.run_id OPERATOR(pg_catalog.<>) ALL (ARRAY( \
                 (SELECT DISTINCT ON (model, pipeline) run_id FROM lake.runs ORDER BY model, pipeline, run_id DESC) \
                 UNION ALL \
                 (SELECT DISTINCT ON (model, pipeline) run_id FROM lake.runs WHERE scheduled_for IS NOT NULL \
                   ORDER BY model, pipeline, scheduled_for DESC, run_id DESC)))",
            &[days.into()],
        )
    });
}

extension_sql_file!(
    "../../sql/transform/operations.sql",
    name = "transform_operations_sql",
    requires = ["transform_sql", backfill, cancel_run, runs_in_progress, run_period_start, run_period_end]
);
