//! PII detection: a pure-Rust classifier (`classifier/`, no pgrx) and the
//! scanner that samples relations, stores findings in `lake.pii_findings`
//! and feeds the review queue (`lake.pii_suggestion`). A background worker
//! keeps scanning; `lake.scan()` scans now. See docs/pii.md.

pub mod classifier;
mod scan;
mod sql;
mod subxact;
mod worker;

#[cfg(test)]
mod bench;

use pgrx::{pg_sys, GucContext, GucFlags, GucRegistry, GucSetting};

/// Detections at or above this confidence are reported and stored.
pub static THRESHOLD: GucSetting<f64> = GucSetting::<f64>::new(0.5);
/// Rows sampled per relation.
pub static SAMPLE_ROWS: GucSetting<i32> = GucSetting::<i32>::new(1000);
/// Seconds the worker pauses between relations.
pub static NAPTIME: GucSetting<i32> = GucSetting::<i32>::new(10);
/// Whether the background worker scans.
pub static SCANNER_ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
/// Most of the wall-clock time the worker may spend scanning (0..1].
pub static IO_SHARE: GucSetting<f64> = GucSetting::<f64>::new(0.1);
/// Seconds after which a scanned relation is scanned again (0: never).
pub static RESCAN_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(86_400);
/// The database the worker scans.
pub static SCAN_DATABASE: GucSetting<Option<std::ffi::CString>> =
    GucSetting::<Option<std::ffi::CString>>::new(Some(c"townlake"));

/// Called from `_PG_init`: registers settings and, when preloaded, the worker.
pub fn init() {
    GucRegistry::define_float_guc(
        c"townlake.pii_threshold",
        c"Confidence at or above which the PII classifier reports an infotype.",
        c"Used by lake.classify, lake.scan, the scanner worker and lake.eval_classifier.",
        &THRESHOLD,
        0.0,
        1.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.pii_sample_rows",
        c"Rows the PII scanner samples from each relation.",
        c"Heap tables are sampled with TABLESAMPLE; foreign tables read at most this many rows.",
        &SAMPLE_ROWS,
        10,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.pii_scan_naptime",
        c"Seconds the PII scanner worker waits between two relations.",
        c"The pause also lets other work run between two relations; see townlake.pii_scan_io_share for the pause after a long scan.",
        &NAPTIME,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_bool_guc(
        c"townlake.pii_scanner_enabled",
        c"Whether the PII scanner background worker scans.",
        c"Off: the worker stays idle and lake.scan() still scans on demand.",
        &SCANNER_ENABLED,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"townlake.pii_scan_io_share",
        c"Largest share of wall-clock time the PII scanner worker spends reading tables.",
        c"After a relation that took t seconds the worker rests at least t * (1 - share) / share seconds.",
        &IO_SHARE,
        0.01,
        1.0,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.pii_rescan_interval",
        c"Seconds after which the PII scanner scans an unchanged relation again (0: never).",
        c"Changed relations are queued again anyway (new columns, rewrites, data changes, classifier upgrades); this catches everything else.",
        &RESCAN_INTERVAL,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"townlake.pii_scan_database",
        c"Database whose relations the PII scanner worker scans.",
        c"The worker does nothing until the extension is installed there.",
        &SCAN_DATABASE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: a flag Postgres sets while it loads shared_preload_libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        worker::register();
    }
}

pub(crate) fn threshold() -> f32 {
    THRESHOLD.get() as f32
}

pub(crate) fn sample_rows() -> i32 {
    SAMPLE_ROWS.get()
}
