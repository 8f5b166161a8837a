//! Table maintenance and helpers: partition evolution, snapshot expiry,
//! orphan-file removal, compaction, CREATE TABLE AS. Each reports what it
//! did as jsonb.

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};
use iceberg::spec::UnboundPartitionSpec;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB, PgSqlErrorCode};
use serde_json::json;

use super::catalog::spi::commit_metadata;
use super::partition::parse_partition_by;
use super::source::{self, ResolvedTable};
use crate::errors::{iceberg_message, LakeError, LakeResult, OrReport};
use crate::runtime::block_on;
use super::progress::{Claim, Command, Phase};
use super::storage::{canonical_location, list_files};

/// Maintenance and evolution change what every reader of the table sees and
/// report file paths (which carry partition values): they need ownership of
/// the foreign table, or membership in `lake_maintainer`.
fn require_maintainer(rel: pg_sys::Oid) -> LakeResult<()> {
    use crate::pg::security::{current_user, has_privs_of_role, relation_owner, role_oid};
    let user = current_user();
    let owner = relation_owner(rel).ok_or_else(|| LakeError::invalid(format!("relation with OID {rel:?} does not exist")))?;
    let maintainer = role_oid(c"lake_maintainer").is_some_and(|m| has_privs_of_role(user, m));
    if maintainer {
        return Ok(());
    }
    if has_privs_of_role(user, owner) {
        // A role another role allowed to attach its table owns only its own
        // foreign table: the Iceberg table's history, layout and files stay
        // its owner's to change. (A governed table's are its governed
        // foreign table's owner's.)
        let (options, server_oid) = source::table_options(rel)?;
        let catalog = source::server_config(server_oid)?.catalog_name;
        let record = match &options.namespace {
            Some(ns) if options.metadata_location.is_none() => super::catalog::table_owner(&catalog, ns, &options.table)?,
            _ => None,
        };
        match record {
            Some(r) if !r.governed && !has_privs_of_role(user, r.owner) => {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!("Iceberg table of {} belongs to another role: only its owner may maintain it", source::relation_display(rel)),
                )
                .with_hint("Attaching a table lets you read and write it; its owner and members of lake_maintainer evolve and maintain it."));
            }
            _ => return Ok(()),
        }
    }
    Err(LakeError::new(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("must own foreign table {} to maintain it", source::relation_display(rel)),
    )
    .with_hint("Table owners and members of lake_maintainer may evolve and maintain Iceberg tables."))
}

fn writable(rel: pg_sys::Oid) -> LakeResult<ResolvedTable> {
    writable_for(rel, true)
}

/// `writable`; `changes` says whether the call writes metadata or deletes
/// files (not a dry run): then a read-only transaction refuses it, as
/// Postgres refuses writes there (a deleted file cannot be rolled back).
fn writable_for(rel: pg_sys::Oid, changes: bool) -> LakeResult<ResolvedTable> {
    source::require_iceberg_table(rel)?;
    if changes && crate::pg::xact::is_read_only() {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            "cannot maintain an Iceberg table in a read-only transaction",
        )
        .with_hint("Run it in a read-write transaction (remove_orphan_files with dry_run => true only lists)."));
    }
    require_maintainer(rel)?;
    let resolved = source::resolve(rel)?;
    if resolved.server.read_only
        || resolved.options.metadata_location.is_some()
        || resolved.options.snapshot_id.is_some()
    {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("Iceberg table {} is read-only here", resolved.display_name),
        ));
    }
    if super::txn::has_pending(rel.to_u32()) {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("this transaction has uncommitted writes to {}", resolved.display_name),
        )
        .with_hint("Run maintenance in its own transaction."));
    }
    Ok(resolved)
}

/// Evolve the partition spec; existing files keep theirs (and still prune).
#[pg_extern(sql = "
CREATE FUNCTION lake.set_partitioning(rel regclass, spec text) RETURNS jsonb
LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION lake.set_partitioning(regclass, text) IS 'Evolve an Iceberg table''s partition spec (old files keep theirs)';
")]
fn set_partitioning(rel: pg_sys::Oid, spec: &str) -> JsonB {
    run("set_partitioning", rel, || {
        let resolved = writable(rel)?;
        let schema = resolved.metadata.current_schema().clone();
        let mut builder = UnboundPartitionSpec::builder();
        if !spec.trim().is_empty() {
            let terms = parse_partition_by(spec).map_err(|m| {
                LakeError::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, format!("invalid partition spec: {m}"))
            })?;
            for term in terms {
                let field = schema.field_by_name(&term.column).ok_or_else(|| {
                    LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN, format!("column \"{}\" does not exist", term.column))
                })?;
                term.check_type(&field.field_type).map_err(|m| {
                    LakeError::invalid(format!("invalid partition spec: {m}")).with_hint(super::create::PARTITION_HINT)
                })?;
                builder = builder.add_partition_field(field.id, term.field_name(), term.transform).map_err(|e| {
                    LakeError::invalid(format!("invalid partition spec term {}: {}", term.display(), iceberg_message(&e)))
                        .with_hint(super::create::PARTITION_HINT)
                })?;
            }
        }
        let unbound = builder.build();
        commit_metadata(&resolved, |b| b.add_default_partition_spec(unbound))?;
        Ok(json!({"table": resolved.display_name, "partition_spec": spec}))
    })
}

/// Remove snapshots older than `older_than`, keeping the newest
/// `retain_last` of the main branch and every referenced one (metadata only;
/// remove_orphan_files deletes the files nothing references any more).
#[pg_extern(sql = "
CREATE FUNCTION lake.expire_snapshots(rel regclass, older_than timestamptz DEFAULT now() - interval '5 days', retain_last int DEFAULT 1)
RETURNS jsonb LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn expire_snapshots(rel: pg_sys::Oid, older_than: TimestampWithTimeZone, retain_last: i32) -> JsonB {
    run("expire_snapshots", rel, || {
        let resolved = writable(rel)?;
        let md = &resolved.metadata;
        let cutoff_ms = pg_millis(older_than);
        let mut keep: HashSet<i64> = HashSet::new();
        // The newest snapshots of main, walking parents.
        let mut cursor = md.current_snapshot().cloned();
        let mut kept = 0;
        while let Some(s) = cursor {
            if kept >= retain_last.max(1) {
                break;
            }
            keep.insert(s.snapshot_id());
            kept += 1;
            cursor = s.parent_snapshot_id().and_then(|p| md.snapshot_by_id(p).cloned());
        }
        // Branches and tags other engines made keep their snapshots too (the
        // refs map is not public in iceberg-rust; read it from the JSON form).
        let as_json = serde_json::to_value(&**md).unwrap_or_default();
        if let Some(refs) = as_json.get("refs").and_then(|r| r.as_object()) {
            for r in refs.values() {
                if let Some(id) = r.get("snapshot-id").and_then(|v| v.as_i64()) {
                    keep.insert(id);
                }
            }
        }
        let expired: Vec<i64> = md
            .snapshots()
            .filter(|s| !keep.contains(&s.snapshot_id()) && s.timestamp_ms() < cutoff_ms)
            .map(|s| s.snapshot_id())
            .collect();
        if !expired.is_empty() {
            commit_metadata(&resolved, |b| Ok(b.remove_snapshots(&expired)))?;
        }
        Ok(json!({"table": resolved.display_name, "expired_snapshots": expired, "remaining_snapshots": md.snapshots().len() - expired.len()}))
    })
}

/// Every file the table's metadata references (all snapshots, all metadata
/// versions), canonicalised.
async fn referenced_files(resolved: &ResolvedTable) -> iceberg::Result<HashSet<String>> {
    let table = resolved.table().map_err(|e| iceberg::Error::new(iceberg::ErrorKind::Unexpected, e.message))?;
    let md = table.metadata();
    let io = table.file_io().clone();
    let mut refs = HashSet::new();
    refs.insert(canonical_location(&resolved.metadata_location));
    for log in md.metadata_log() {
        refs.insert(canonical_location(&log.metadata_file));
    }
    for snapshot in md.snapshots() {
        refs.insert(canonical_location(snapshot.manifest_list()));
        let list = table.manifest_list_reader(snapshot).load().await?;
        for mf in list.entries() {
            refs.insert(canonical_location(&mf.manifest_path));
            let manifest = mf.load_manifest(&io).await?;
            // Entries marked deleted name files that snapshot removed: they
            // are referenced only where some snapshot still has them alive.
            for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
                refs.insert(canonical_location(entry.file_path()));
            }
        }
    }
    for stats in md.statistics_iter() {
        refs.insert(canonical_location(&stats.statistics_path));
    }
    Ok(refs)
}

/// Delete files under the table's location that no metadata references and
/// that are older than `older_than` (left by aborted transactions, crashes,
/// expired snapshots).
#[pg_extern(sql = "
CREATE FUNCTION lake.remove_orphan_files(rel regclass, older_than timestamptz DEFAULT now() - interval '3 days', dry_run boolean DEFAULT false)
RETURNS jsonb LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn remove_orphan_files(rel: pg_sys::Oid, older_than: TimestampWithTimeZone, dry_run: bool) -> JsonB {
    run("remove_orphan_files", rel, || {
        let resolved = writable_for(rel, !dry_run)?;
        let progress = Claim::start(Command::RemoveOrphanFiles, rel, Phase::Planning);
        let cutoff_ms = pg_millis(older_than).min(oldest_open_transaction_ms()?);
        let io = resolved.server.file_io();
        let location = resolved.metadata.location().to_string();
        let s3 = resolved.server.s3.clone();
        let progress = &progress;
        let result: iceberg::Result<(Vec<String>, usize)> = block_on(async {
            progress.phase(Phase::ReadingMetadata);
            let refs = referenced_files(&resolved).await?;
            progress.phase(Phase::ListingFiles);
            let listed = list_files(&s3, &location).await?;
            let total = listed.len();
            let orphans: Vec<String> = listed
                .into_iter()
                .filter(|(path, modified)| *modified < cutoff_ms && !refs.contains(&canonical_location(path)))
                .map(|(path, _)| path)
                .collect();
            if !dry_run {
                // files: orphans deleted so far, of files_total orphans.
                progress.phase(Phase::DeletingFiles);
                progress.set_files_total(orphans.len() as u64);
                for (done, path) in orphans.iter().enumerate() {
                    io.delete(path).await?;
                    progress.set_files(done as u64 + 1);
                }
            }
            Ok((orphans, total))
        });
        let (orphans, total) = result.map_err(|e| {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_ERROR, resolved.server.scrub(&iceberg_message(&e)))
        })?;
        Ok(json!({
            "table": resolved.display_name,
            "files_listed": total,
            "orphan_files": orphans.len(),
            "deleted": if dry_run { 0 } else { orphans.len() },
            "dry_run": dry_run,
            "files": orphans,
        }))
    })
}

/// Rewrite small data files into files of about the target size, per
/// partition, applying deletes; one `replace` snapshot. Readers see the same
/// rows before and after.
#[pg_extern(sql = "
CREATE FUNCTION lake.compact(rel regclass, target_file_size_mb int DEFAULT NULL)
RETURNS jsonb LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn compact(rel: Option<pg_sys::Oid>, target_file_size_mb: Option<i32>) -> JsonB {
    let Some(rel) = rel else {
        return JsonB(serde_json::Value::Null);
    };
    run("compact", rel, || {
        if let Some(mb) = target_file_size_mb.filter(|mb| !(1..=8192).contains(mb)) {
            return Err(LakeError::invalid(format!("target_file_size_mb must be 1 to 8192, not {mb}"))
                .with_hint("Pass NULL to use townlake.iceberg_target_file_size_mb."));
        }
        let resolved = writable(rel)?;
        let progress = Claim::start(Command::Compact, rel, Phase::Planning);
        let target = target_file_size_mb.unwrap_or_else(|| super::settings::TARGET_FILE_SIZE_MB.get()).max(1) as u64 * 1024 * 1024;
        let Some(_) = resolved.metadata.current_snapshot() else {
            return Ok(json!({"table": resolved.display_name, "files_rewritten": 0, "files_written": 0}));
        };
        let table = resolved.table()?;
        let scan = table.scan().build().map_err(|e| LakeError::internal(iceberg_message(&e)))?;
        let tasks: Vec<iceberg::scan::FileScanTask> = block_on(async { scan.plan_files().await?.try_collect().await })
            .map_err(|e| LakeError::internal(resolved.server.scrub(&iceberg_message(&e))))?;
        // Candidates: files below 3/4 of the target, or carrying deletes,
        // grouped by partition; a group is rewritten when it has 2+ files
        // or any deletes.
        let mut groups: std::collections::BTreeMap<String, Vec<iceberg::scan::FileScanTask>> = Default::default();
        for t in tasks {
            if t.file_size_in_bytes < target * 3 / 4 || !t.deletes.is_empty() {
                let key = format!("{:?}/{:?}", t.partition_spec.as_ref().map(|s| s.spec_id()), t.partition);
                groups.entry(key).or_default().push(t);
            }
        }
        let chosen: Vec<iceberg::scan::FileScanTask> = groups
            .into_values()
            .filter(|g| g.len() > 1 || g.iter().any(|t| !t.deletes.is_empty()))
            .flatten()
            .collect();
        if chosen.is_empty() {
            return Ok(json!({"table": resolved.display_name, "files_rewritten": 0, "files_written": 0}));
        }
        let removed: HashSet<String> = chosen.iter().map(|t| t.data_file_path.clone()).collect();
        let bytes_before: u64 = chosen.iter().map(|t| t.file_size_in_bytes).sum();
        let mut writer = super::write::TableInsert::new(rel)?;
        writer.set_target_file_size(target);
        // The writer reports rows, bytes and files written per batch.
        writer.progress = progress;
        writer.progress.phase(Phase::Rewriting);
        writer.progress.set_files_total(removed.len() as u64);
        // Read every file as the *current* schema: columns added since the
        // snapshot come back as NULL, promoted types widened, so the rows fit
        // the writer (the snapshot's own schema may be older).
        let current_schema = resolved.metadata.current_schema().clone();
        let field_ids: Vec<i32> = current_schema.as_struct().fields().iter().map(|f| f.id).collect();
        let reader = iceberg::arrow::ArrowReaderBuilder::new(resolved.server.file_io(), crate::runtime::iceberg_runtime()).build();
        let tasks = futures::stream::iter(chosen.into_iter().map(move |mut t| {
            t.project_field_ids = field_ids.clone();
            t.schema = current_schema.clone();
            t.predicate = None;
            Ok(t)
        }))
        .boxed();
        let mut stream = reader.read(tasks).map_err(|e| LakeError::internal(iceberg_message(&e)))?.stream();
        let mut rows = 0u64;
        while let Some(batch) = block_on(stream.next()) {
            let batch = batch.map_err(|e| LakeError::internal(resolved.server.scrub(&iceberg_message(&e))))?;
            pgrx::check_for_interrupts!();
            rows += batch.num_rows() as u64;
            writer.write_batch(batch)?;
        }
        let added = writer.close_files()?;
        let files_written = added.len();
        writer.progress.phase(Phase::Committing);
        let catalog = super::catalog::spi::SpiCatalog::new(resolved.server.clone());
        let ident = resolved.table()?.identifier().clone();
        let change = super::catalog::overwrite::Change {
            removed: removed.clone(),
            added,
            operation: iceberg::spec::Operation::Replace,
            read_base: resolved.metadata.current_snapshot().map(|s| s.snapshot_id()),
            properties: Default::default(),
        };
        block_on(super::catalog::overwrite::commit_change(&catalog, &ident, &change)).map(|_| ()).map_err(|e| {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                format!("compaction of {} conflicted with another commit: {}", resolved.display_name, iceberg_message(&e)),
            )
            .with_hint("Run lake.compact again.")
        })?;
        Ok(json!({
            "table": resolved.display_name,
            "files_rewritten": removed.len(),
            "files_written": files_written,
            "rows": rows,
            "bytes_rewritten": bytes_before,
        }))
    })
}

/// Start of the oldest transaction running anywhere in the cluster (now if
/// none). Its data files may still be uncommitted: no file written after it
/// started is an orphan yet.
fn oldest_open_transaction_ms() -> LakeResult<i64> {
    let oldest = super::catalog::as_catalog_owner(|| {
        Spi::get_one::<TimestampWithTimeZone>(
            "SELECT pg_catalog.min(t) FROM ( \
               SELECT xact_start AS t FROM pg_catalog.pg_stat_activity \
                WHERE xact_start IS NOT NULL AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() \
               UNION ALL SELECT prepared FROM pg_catalog.pg_prepared_xacts \
               UNION ALL SELECT pg_catalog.statement_timestamp()) s",
        )
    })
    .map_err(|e| LakeError::internal(format!("cannot read the open transactions: {e}")))?;
    Ok(oldest.map(pg_millis).unwrap_or(i64::MAX))
}

fn pg_millis(ts: TimestampWithTimeZone) -> i64 {
    let raw: i64 = pg_sys::TimestampTz::from(ts);
    crate::pg::time::pg_micros_to_unix_millis_trunc(raw)
}

/// Runs one maintenance operation; on a governed table the audit log gets
/// who did what (maintenance changes what every reader of governed data sees).
fn run(operation: &str, rel: pg_sys::Oid, f: impl FnOnce() -> LakeResult<serde_json::Value>) -> JsonB {
    let report = f().or_report();
    if crate::fdw::policy::governed(rel) {
        let mut summary = report.clone();
        if let Some(o) = summary.as_object_mut() {
            o.remove("files"); // paths can carry partition values
        }
        crate::audit::record_event(
            "iceberg_maintenance",
            json!({ "operation": operation, "relation": source::relation_display(rel), "report": summary }),
        );
    }
    JsonB(report)
}

extension_sql_file!("../../sql/iceberg/maintenance.sql", name = "maintenance_sql", requires = [set_partitioning, expire_snapshots, remove_orphan_files, compact]);
