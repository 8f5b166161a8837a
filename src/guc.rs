//! Settings (GUCs). Registered in `_PG_init`, read on the backend thread only.

use std::ffi::{c_char, CStr, CString};
use std::ptr::null_mut;

use pgrx::pg_sys;
use pgrx::pg_guard;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

// Postgres owns these strings; it updates the pointers on SET.
static mut WAREHOUSE: *mut c_char = null_mut();
static mut AS_OF: *mut c_char = null_mut();
static mut SNAPSHOT_ID: *mut c_char = null_mut();

/// Rows per Arrow batch read from Parquet.
pub static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(8192);
/// Rows buffered per write batch before Parquet encoding.
pub static WRITE_BATCH_ROWS: GucSetting<i32> = GucSetting::<i32>::new(65536);
/// Rows per Parquet row group in written files.
pub static ROW_GROUP_ROWS: GucSetting<i32> = GucSetting::<i32>::new(1_048_576);
/// Target size of written data files, in MB.
pub static TARGET_FILE_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(128);
/// Partition files one write keeps open at once (bounds memory).
pub static MAX_OPEN_PARTITIONS: GucSetting<i32> = GucSetting::<i32>::new(64);
/// Rows per parallel worker an Iceberg scan needs before it goes parallel.
pub static MIN_PARALLEL_ROWS: GucSetting<i32> = GucSetting::<i32>::new(500_000);
/// Delete a dropped Iceberg table's files after COMMIT.
pub static PURGE_ON_DROP: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Data files read concurrently by one scan.
pub static SCAN_CONCURRENCY: GucSetting<i32> = GucSetting::<i32>::new(2);

pub fn init() {
    // SAFETY: called once from _PG_init on the postmaster (or backend) main
    // thread; the leaked boot value lives as long as the process, as required.
    unsafe {
        let boot = CString::new(default_warehouse()).unwrap_or_default();
        define_string(
            c"townlake.warehouse",
            c"Warehouse URI of the default Iceberg server lake_local.",
            c"A file:// directory or s3://bucket/path. New tables of lake_local are created under it.",
            &raw mut WAREHOUSE,
            Box::leak(boot.into_boxed_c_str()).as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            None,
        );
        define_string(
            c"townlake.as_of",
            c"Read every Iceberg table as of this time (timestamptz); empty reads the current snapshot.",
            c"The latest snapshot committed at or before this time is read; a time before a table's first snapshot is an error. Refused through governed published views.",
            &raw mut AS_OF,
            c"".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            Some(check_as_of),
        );
        define_string(
            c"townlake.snapshot_id",
            c"Read every Iceberg table at this snapshot id; empty reads the current snapshot.",
            c"A snapshot_id from lake.snapshots(table); an unknown snapshot id is an error. Refused through governed published views.",
            &raw mut SNAPSHOT_ID,
            c"".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            Some(check_snapshot_id),
        );
    }
    GucRegistry::define_int_guc(
        c"townlake.batch_size",
        c"Rows per Arrow batch when reading Parquet.",
        c"Larger batches cost more memory per scan and fewer calls per row; the default suits most tables.",
        &BATCH_SIZE,
        64,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.scan_concurrency",
        c"Data files one Iceberg scan reads at the same time.",
        c"Files are fetched and decoded ahead of the executor; more files at once uses more memory and object-store connections.",
        &SCAN_CONCURRENCY,
        1,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.write_batch_rows",
        c"Rows buffered per batch when writing Iceberg data files.",
        c"INSERT and COPY buffer this many rows in memory before encoding them to Parquet.",
        &WRITE_BATCH_ROWS,
        64,
        10_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.row_group_rows",
        c"Rows per Parquet row group in written Iceberg data files.",
        c"Each row group carries min/max statistics that scans use to skip data; smaller groups prune finer but compress worse.",
        &ROW_GROUP_ROWS,
        1024,
        100_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.target_file_size_mb",
        c"Target size of written Iceberg data files, in megabytes.",
        c"A write starts a new data file when the current one reaches this size; lake.compact uses it as its default target.",
        &TARGET_FILE_SIZE_MB,
        1,
        8192,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.max_open_partitions",
        c"Partition files one Iceberg write keeps open before closing them (bounds memory).",
        c"When rows for more partitions arrive, open files are closed (later rows of their partitions start new files), so memory stays bounded.",
        &MAX_OPEN_PARTITIONS,
        1,
        10_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"townlake.min_parallel_rows",
        c"Rows per parallel worker an Iceberg scan needs before it is planned in parallel.",
        c"Scans of tables with at least two data files and this many rows per planned worker may run in parallel workers.",
        &MIN_PARALLEL_ROWS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"townlake.purge_on_drop",
        c"DROP FOREIGN TABLE also deletes the Iceberg table's files (after COMMIT).",
        c"Applies to foreign tables that created their Iceberg table; off keeps the files. Foreign tables that only attached a table never delete it.",
        &PURGE_ON_DROP,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// Reserve the `townlake.` prefix; called at the end of `_PG_init`, after
/// every part has defined its settings (reserving earlier would make
/// Postgres drop later-defined ones from postgresql.conf at startup).
pub fn reserve_prefix() {
    unsafe { pg_sys::MarkGUCPrefixReserved(c"townlake".as_ptr()) };
}

unsafe fn define_string(
    name: &'static CStr,
    short: &'static CStr,
    long: &'static CStr,
    var: *mut *mut c_char,
    boot: *const c_char,
    context: pg_sys::GucContext::Type,
    check: pg_sys::GucStringCheckHook,
) {
    pg_sys::DefineCustomStringVariable(
        name.as_ptr(),
        short.as_ptr(),
        long.as_ptr(),
        var,
        boot,
        context,
        0,
        check,
        None,
        None,
    );
}

/// Tell SET what was wrong (the GUC_check_errmsg/errhint macros of C).
unsafe fn check_failed(message: &str, hint: &str) -> bool {
    let m = CString::new(message).unwrap_or_default();
    let h = CString::new(hint).unwrap_or_default();
    pg_sys::GUC_check_errmsg_string = pg_sys::pstrdup(m.as_ptr());
    pg_sys::GUC_check_errhint_string = pg_sys::pstrdup(h.as_ptr());
    false
}

/// `SET townlake.snapshot_id` takes a 64-bit integer or nothing.
#[pg_guard]
unsafe extern "C-unwind" fn check_snapshot_id(
    newval: *mut *mut c_char,
    _extra: *mut *mut std::ffi::c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    let text = if (*newval).is_null() { String::new() } else { CStr::from_ptr(*newval).to_string_lossy().into_owned() };
    if text.trim().is_empty() {
        return true;
    }
    match crate::iceberg::timetravel::parse_snapshot_id(&text) {
        Ok(_) => true,
        Err(m) => check_failed(&m, "Use a snapshot_id from lake.snapshots('table'), or RESET townlake.snapshot_id."),
    }
}

/// `SET townlake.as_of` takes what timestamptz input takes. Checked with
/// Postgres' own input function when a transaction is open (SET in a
/// session); values from configuration files are checked at first use.
#[pg_guard]
unsafe extern "C-unwind" fn check_as_of(
    newval: *mut *mut c_char,
    _extra: *mut *mut std::ffi::c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    if (*newval).is_null() || CStr::from_ptr(*newval).to_bytes().iter().all(u8::is_ascii_whitespace) {
        return true;
    }
    if !pg_sys::IsTransactionState() {
        return true;
    }
    let input = *newval;
    // Only input errors (class 22, data exceptions) are caught: a cancel or
    // anything else propagates as itself.
    let valid = pgrx::PgTryBuilder::new(|| {
        let (mut func, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        pg_sys::getTypeInputInfo(pg_sys::TIMESTAMPTZOID, &mut func, &mut ioparam);
        pg_sys::OidInputFunctionCall(func, input, ioparam, -1);
        true
    })
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_INVALID_DATETIME_FORMAT, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_INVALID_TIME_ZONE_DISPLACEMENT_VALUE, |_| false)
    .catch_when(pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, |_| false)
    .execute();
    if valid {
        true
    } else {
        check_failed(
            &format!("\"{}\" is not a timestamp with time zone", CStr::from_ptr(input).to_string_lossy()),
            "Example: SET townlake.as_of = '2024-05-01 12:00:00+00'; RESET townlake.as_of reads the current snapshot.",
        )
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

unsafe fn read(var: *const *mut c_char) -> Option<String> {
    let p = *var;
    if p.is_null() {
        return None;
    }
    let s = CStr::from_ptr(p).to_string_lossy().trim().to_string();
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

pub fn warehouse() -> String {
    unsafe { read(&raw const WAREHOUSE) }.unwrap_or_else(default_warehouse)
}

pub fn as_of() -> Option<String> {
    unsafe { read(&raw const AS_OF) }
}

pub fn snapshot_id() -> Option<String> {
    unsafe { read(&raw const SNAPSHOT_ID) }
}
