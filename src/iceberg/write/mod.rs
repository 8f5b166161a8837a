//! Writing Iceberg tables: INSERT and COPY (`insert`), UPDATE and DELETE
//! by copy-on-write (`rewrite`), TRUNCATE, and Datum→Arrow conversion
//! (`arrow`, `decimal`). Written files are handed to the transaction
//! (`txn`), which commits them when Postgres commits.

pub mod arrow;
pub mod decimal;
pub mod insert;
pub mod location;
pub mod rewrite;

use iceberg::scan::FileScanTask;
use pgrx::{pg_sys, PgSqlErrorCode};

use crate::errors::{iceberg_message, LakeError, LakeResult};
use crate::fdw::modify::{ModifyOp, ModifyTarget};
use crate::iceberg::progress::{Claim, Command, Phase};
use crate::iceberg::settings;
use crate::iceberg::source::{self, ServerConfig};
use crate::iceberg::txn::{self, pending::PendingOp};
use crate::runtime::block_on;

pub use insert::{take_tracked_max, track_max, TableInsert};
pub use rewrite::TableRewrite;

/// What one statement does to one foreign table.
pub enum Modify {
    Insert(TableInsert),
    Rewrite(TableRewrite),
}

impl Modify {
    pub fn begin(target: ModifyTarget) -> LakeResult<Modify> {
        Ok(match target.op {
            ModifyOp::Insert => {
                let mut insert = TableInsert::new(target.relid)?.with_progress().with_tracked_max()?;
                let command = if target.copy { Command::Copy } else { Command::Insert };
                insert.progress = Claim::start(command, target.relid, Phase::WritingData);
                Modify::Insert(insert)
            }
            op => Modify::Rewrite(TableRewrite::new(target.relid, target.attrs, op == ModifyOp::Update)?),
        })
    }

    pub fn finish(self) -> LakeResult<()> {
        match self {
            Modify::Insert(mut state) => state.finish(),
            Modify::Rewrite(mut state) => state.finish(),
        }
    }
}

/// Refuse MERGE and ON CONFLICT (at plan time).
pub fn check_statement(op: ModifyOp, on_conflict: bool) -> LakeResult<()> {
    if !matches!(op, ModifyOp::Insert | ModifyOp::Update | ModifyOp::Delete) {
        return Err(LakeError::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, "MERGE into Iceberg tables is not supported")
            .with_hint("Use INSERT, UPDATE and DELETE."));
    }
    // Postgres hands ON CONFLICT DO NOTHING to the wrapper; Iceberg has no
    // unique constraint to conflict with, so silently inserting would be a
    // wrong answer.
    if on_conflict {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "INSERT … ON CONFLICT is not supported on Iceberg tables",
        )
        .with_hint("Iceberg tables have no unique constraints; deduplicate in the SELECT (e.g. WHERE NOT EXISTS) instead."));
    }
    Ok(())
}

/// A live column of the foreign table as the writer maps it to a field.
pub(crate) struct WriteColumn {
    /// 0-based attribute index.
    pub index: usize,
    /// The `column_name` option, else the column's name.
    pub name: String,
    /// The `field_id` option, else 0.
    pub field_id: i32,
    pub type_oid: pg_sys::Oid,
}

pub(crate) fn write_columns(relid: pg_sys::Oid) -> Vec<WriteColumn> {
    let (_, columns) = crate::fdw::source::table_columns(relid);
    columns
        .into_iter()
        .map(|c| WriteColumn {
            index: c.index,
            field_id: c.options.get("field_id").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
            name: c.options.get("column_name").cloned().unwrap_or(c.name),
            type_oid: c.type_oid,
        })
        .collect()
}
/// Refuse writes through read-only servers and to tables pinned to a
/// snapshot or attached by metadata file.
pub(crate) fn check_writable(resolved: &source::ResolvedTable) -> LakeResult<()> {
    if settings::as_of().is_some() || settings::snapshot_id().is_some() {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("cannot write {} while reading the past (townlake.iceberg_as_of or townlake.iceberg_snapshot_id is set)", resolved.display_name),
        )
        .with_hint("RESET townlake.iceberg_as_of; RESET townlake.iceberg_snapshot_id; then write."));
    }
    if resolved.options.metadata_location.is_some() || resolved.options.snapshot_id.is_some() {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("foreign table for \"{}\" is read-only", resolved.display_name),
        )
        .with_hint("Tables attached by metadata_location or pinned with snapshot_id cannot be written; attach the table by namespace and table name."));
    }
    // The library writes partition field names into each manifest's Avro
    // schema as they are; a name Avro does not allow makes the manifest
    // unreadable afterwards (townlake's own specs escape them: partition.rs).
    let mut spec_fields = resolved.metadata.partition_specs_iter().flat_map(|spec| spec.fields().iter());
    if let Some(field) = spec_fields.find(|f| !crate::iceberg::partition::is_avro_name(&f.name)) {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "cannot write {}: its partition field \"{}\" is not a valid Avro name, and manifests written with it could not be read back",
                resolved.display_name, field.name
            ),
        )
        .with_hint("Reading it works as it is. To write with townlake, copy it into a table townlake creates (CREATE FOREIGN TABLE … partition_by, then INSERT … SELECT): townlake names partition fields so that Avro allows them."));
    }
    if resolved.server.read_only {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("server \"{}\" is read-only", resolved.server.name),
        )
        .with_hint("ALTER SERVER … OPTIONS (SET read_only 'false') to allow writes."));
    }
    Ok(())
}


/// TRUNCATE: remove every committed data file (an overwrite snapshot at
/// commit; with an INSERT in the same transaction, one atomic replace).
pub fn truncate(relid: pg_sys::Oid) -> LakeResult<()> {
    let resolved = source::resolve(relid)?;
    check_writable(&resolved)?;
    let table = resolved.table()?;
    let files: Vec<String> = match resolved.metadata.current_snapshot() {
        None => Vec::new(),
        Some(_) => {
            let scan = table.scan().select_empty().build().map_err(|e| write_error(&resolved.server, &e))?;
            block_on(async {
                use futures::TryStreamExt;
                let tasks: Vec<FileScanTask> = scan.plan_files().await?.try_collect().await?;
                Ok::<_, iceberg::Error>(tasks.into_iter().map(|t| t.data_file_path).collect())
            })
            .map_err(|e| write_error(&resolved.server, &e))?
        }
    };
    let schema = resolved.metadata.current_schema().clone();
    let ident = table.identifier().clone();
    txn::record(relid.to_u32(), &resolved.server, &ident, &schema, std::iter::once(PendingOp::Truncate(files)));
    txn::set_read_base(relid.to_u32(), resolved.metadata.current_snapshot().map(|s| s.snapshot_id()));
    Ok(())
}


pub(crate) fn write_error(server: &ServerConfig, e: &iceberg::Error) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FDW_ERROR,
        format!("cannot write Iceberg data: {}", server.scrub(&iceberg_message(e))),
    )
    .with_hint("Check that the warehouse is writable with the server's storage settings and credentials.")
}

