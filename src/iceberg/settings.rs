//! The Iceberg wrapper's settings (`townlake.iceberg_*`). Registered in
//! `_PG_init`, read on the backend thread only.

use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::GucContext;

use crate::pg::settings::{define_bool, define_int, define_string, BoolSetting, Def, IntSetting, StringSetting};

static WAREHOUSE: StringSetting = StringSetting::new();
static AS_OF: StringSetting = StringSetting::new();
static SNAPSHOT_ID: StringSetting = StringSetting::new();

/// Rows per Arrow batch read from Parquet.
pub static BATCH_SIZE: IntSetting = IntSetting::new(8192);
/// Rows buffered per write batch before Parquet encoding.
pub static WRITE_BATCH_ROWS: IntSetting = IntSetting::new(65536);
/// Rows per Parquet row group in written files.
pub static ROW_GROUP_ROWS: IntSetting = IntSetting::new(1_048_576);
/// Target size of written data files, in MB.
pub static TARGET_FILE_SIZE_MB: IntSetting = IntSetting::new(128);
/// Partition files one write keeps open at once (bounds memory).
pub static MAX_OPEN_PARTITIONS: IntSetting = IntSetting::new(64);
/// Rows per parallel worker an Iceberg scan needs before it goes parallel.
pub static MIN_PARALLEL_ROWS: IntSetting = IntSetting::new(500_000);
/// Delete a dropped Iceberg table's files after COMMIT.
pub static PURGE_ON_DROP: BoolSetting = BoolSetting::new(false);
/// Aggregates over one Iceberg relation computed by the scan (issue 15).
pub static AGGREGATE_PUSHDOWN: BoolSetting = BoolSetting::new(true);
/// Data files read concurrently by one scan.
pub static SCAN_CONCURRENCY: IntSetting = IntSetting::new(2);

pub fn init() {
    define_string(
        Def {
            name: c"townlake.iceberg_warehouse",
            renamed_from: Some(c"townlake.warehouse"),
            short: c"Warehouse URI of the default Iceberg server lake_local.",
            long: c"A file:// directory or s3://bucket/path. New tables of lake_local are created under it.",
            context: || GucContext::Suset,
        },
        &WAREHOUSE,
        &default_warehouse(),
        None,
    );
    define_string(
        Def {
            name: c"townlake.iceberg_as_of",
            renamed_from: Some(c"townlake.as_of"),
            short: c"Read every Iceberg table as of this time (timestamptz); empty reads the current snapshot.",
            long: c"The latest snapshot committed at or before this time is read; a time before a table's first snapshot is an error. Refused through governed published views.",
            context: || GucContext::Userset,
        },
        &AS_OF,
        "",
        Some(check_as_of),
    );
    define_string(
        Def {
            name: c"townlake.iceberg_snapshot_id",
            renamed_from: Some(c"townlake.snapshot_id"),
            short: c"Read every Iceberg table at this snapshot id; empty reads the current snapshot.",
            long: c"A snapshot_id from lake.snapshots(table); an unknown snapshot id is an error. Refused through governed published views.",
            context: || GucContext::Userset,
        },
        &SNAPSHOT_ID,
        "",
        Some(check_snapshot_id),
    );
    define_int(
        Def {
            name: c"townlake.iceberg_batch_size",
            renamed_from: Some(c"townlake.batch_size"),
            short: c"Rows per Arrow batch when reading Parquet.",
            long: c"Larger batches cost more memory per scan and fewer calls per row; the default suits most tables.",
            context: || GucContext::Userset,
        },
        &BATCH_SIZE,
        64,
        1_000_000,
    );
    define_int(
        Def {
            name: c"townlake.iceberg_scan_concurrency",
            renamed_from: Some(c"townlake.scan_concurrency"),
            short: c"Data files one Iceberg scan reads at the same time.",
            long: c"Files are fetched and decoded ahead of the executor; more files at once uses more memory and object-store connections.",
            context: || GucContext::Userset,
        },
        &SCAN_CONCURRENCY,
        1,
        64,
    );
    define_int(
        Def {
            name: c"townlake.iceberg_write_batch_rows",
            renamed_from: Some(c"townlake.write_batch_rows"),
            short: c"Rows buffered per batch when writing Iceberg data files.",
            long: c"INSERT and COPY buffer this many rows in memory before encoding them to Parquet.",
            context: || GucContext::Userset,
        },
        &WRITE_BATCH_ROWS,
        64,
        10_000_000,
    );
    define_int(
        Def {
            name: c"townlake.iceberg_row_group_rows",
            renamed_from: Some(c"townlake.row_group_rows"),
            short: c"Rows per Parquet row group in written Iceberg data files.",
            long: c"Each row group carries min/max statistics that scans use to skip data; smaller groups prune finer but compress worse.",
            context: || GucContext::Userset,
        },
        &ROW_GROUP_ROWS,
        1024,
        100_000_000,
    );
    define_int(
        Def {
            name: c"townlake.iceberg_target_file_size_mb",
            renamed_from: Some(c"townlake.target_file_size_mb"),
            short: c"Target size of written Iceberg data files, in megabytes.",
            long: c"A write starts a new data file when the current one reaches this size; lake.compact uses it as its default target.",
            context: || GucContext::Userset,
        },
        &TARGET_FILE_SIZE_MB,
        1,
        8192,
    );
    define_int(
        Def {
            name: c"townlake.iceberg_max_open_partitions",
            renamed_from: Some(c"townlake.max_open_partitions"),
            short: c"Partition files one Iceberg write keeps open before closing them (bounds memory).",
            long: c"When rows for more partitions arrive, open files are closed (later rows of their partitions start new files), so memory stays bounded.",
            context: || GucContext::Userset,
        },
        &MAX_OPEN_PARTITIONS,
        1,
        10_000,
    );
    define_int(
        Def {
            name: c"townlake.iceberg_min_parallel_rows",
            renamed_from: Some(c"townlake.min_parallel_rows"),
            short: c"Rows per parallel worker an Iceberg scan needs before it is planned in parallel.",
            long: c"Scans of tables with at least two units (data files, byte ranges) and this many rows per planned worker may run in parallel workers; smaller ones still do when their decoded size earns workers under min_parallel_table_scan_size.",
            context: || GucContext::Userset,
        },
        &MIN_PARALLEL_ROWS,
        0,
        i32::MAX,
    );
    define_bool(
        Def {
            name: c"townlake.iceberg_purge_on_drop",
            renamed_from: Some(c"townlake.purge_on_drop"),
            short: c"DROP FOREIGN TABLE also deletes the Iceberg table's files (after COMMIT).",
            long: c"Applies to foreign tables that created their Iceberg table; off keeps the files. Foreign tables that only attached a table never delete it.",
            context: || GucContext::Userset,
        },
        &PURGE_ON_DROP,
    );
    define_bool(
        Def {
            name: c"townlake.iceberg_aggregate_pushdown",
            renamed_from: None,
            short: c"Compute aggregates and top-N over one Iceberg table in the scan.",
            long: c"count, sum, avg, min, max, bool_and/bool_or and GROUP BY are computed on Arrow batches (count(*) from file metadata where exact) and ORDER BY ... LIMIT keeps n rows per batch, when the result is exactly Postgres'; off leaves them to Postgres.",
            context: || GucContext::Userset,
        },
        &AGGREGATE_PUSHDOWN,
    );
}


/// `SET townlake.iceberg_snapshot_id` takes a 64-bit integer or nothing.
fn check_snapshot_id(text: &str) -> Result<(), (String, String)> {
    if text.trim().is_empty() {
        return Ok(());
    }
    super::timetravel::parse_snapshot_id(text).map(|_| ()).map_err(|m| {
        (m, "Use a snapshot_id from lake.snapshots('table'), or RESET townlake.iceberg_snapshot_id.".to_string())
    })
}

/// `SET townlake.iceberg_as_of` takes what timestamptz input takes. Checked
/// with Postgres' own input function when a transaction is open (SET in a
/// session); values from configuration files are checked at first use.
fn check_as_of(text: &str) -> Result<(), (String, String)> {
    // SAFETY: a plain read of transaction state.
    if text.trim().is_empty() || !unsafe { pg_sys::IsTransactionState() } {
        return Ok(());
    }
    let input = std::ffi::CString::new(text).unwrap_or_default();
    // Only input errors (class 22, data exceptions) are caught: a cancel or
    // anything else propagates as itself.
    let valid = pgrx::PgTryBuilder::new(|| {
        // SAFETY: timestamptz's input function on a NUL-terminated string,
        // inside a transaction; its ERRORs are caught below.
        unsafe {
            let (mut func, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
            pg_sys::getTypeInputInfo(pg_sys::TIMESTAMPTZOID, &mut func, &mut ioparam);
            pg_sys::OidInputFunctionCall(func, input.as_ptr() as *mut std::ffi::c_char, ioparam, -1);
        }
        true
    })
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_INVALID_DATETIME_FORMAT, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_INVALID_TIME_ZONE_DISPLACEMENT_VALUE, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, |_| false)
    .execute();
    if valid {
        Ok(())
    } else {
        Err((
            format!("\"{text}\" is not a timestamp with time zone"),
            "Example: SET townlake.iceberg_as_of = '2024-05-01 12:00:00+00'; RESET townlake.iceberg_as_of reads the current snapshot."
                .to_string(),
        ))
    }
}

fn default_warehouse() -> String {
    // SAFETY: DataDir is set before shared libraries are loaded.
    let dir = unsafe {
        if pg_sys::DataDir.is_null() {
            String::from("/tmp")
        } else {
            CStr::from_ptr(pg_sys::DataDir).to_string_lossy().into_owned()
        }
    };
    format!("file://{}/townlake_warehouse", dir.trim_end_matches('/'))
}

pub fn warehouse() -> String {
    WAREHOUSE.get().unwrap_or_else(default_warehouse)
}

pub fn as_of() -> Option<String> {
    AS_OF.get()
}

pub fn snapshot_id() -> Option<String> {
    SNAPSHOT_ID.get()
}
