//! Snapshots that remove data files (TRUNCATE, DELETE, UPDATE, compaction),
//! which iceberg-rust 0.10 cannot commit: written here with its public spec
//! types. Manifests that hold removed files are rewritten with those entries
//! marked deleted; untouched manifests are reused as they are.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{
    DataFile, ManifestContentType, ManifestFile, ManifestListWriter, ManifestWriterBuilder, Operation,
    Snapshot, Summary, TableMetadataBuilder, MAIN_BRANCH,
};
use iceberg::{Catalog, Error, ErrorKind, Result, TableIdent};

use super::spi::SpiCatalog;

/// What one commit changes.
pub struct Change {
    pub removed: HashSet<String>,
    pub added: Vec<DataFile>,
    pub operation: Operation,
    /// The snapshot the removals were decided on, if any.
    pub read_base: Option<i64>,
    /// Extra summary properties (txn::set_summary_properties); computed
    /// totals win over them.
    pub properties: HashMap<String, String>,
}

fn new_snapshot_id(existing: impl Fn(i64) -> bool) -> i64 {
    loop {
        let id = (uuid::Uuid::new_v4().as_u64_pair().0 & (i64::MAX as u64)) as i64;
        if id != 0 && !existing(id) {
            return id;
        }
    }
}

/// Commit `change` on top of the table's current snapshot; retried when
/// another writer committed meanwhile, as long as the files to remove are
/// still there (otherwise it is a conflict: someone else removed them).
/// Returns the id of the snapshot committed.
pub async fn commit_change(catalog: &SpiCatalog, ident: &TableIdent, change: &Change) -> Result<i64> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_commit(catalog, ident, change).await {
            Err(e) if e.kind() == ErrorKind::CatalogCommitConflicts && e.retryable() && attempt < 20 => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
                continue;
            }
            other => return other,
        }
    }
}

async fn try_commit(catalog: &SpiCatalog, ident: &TableIdent, change: &Change) -> Result<i64> {
    let table = catalog.load_table(ident).await?;
    let metadata = table.metadata();
    let file_io = table.file_io().clone();
    let base = metadata.current_snapshot().cloned();
    let snapshot_id = new_snapshot_id(|id| metadata.snapshot_by_id(id).is_some());
    let sequence_number = metadata.next_sequence_number();
    let schema = metadata.current_schema().clone();
    let location = metadata.location().trim_end_matches('/').to_string();
    let commit_uuid = uuid::Uuid::new_v4();
    let mut manifest_count = 0;
    let mut next_manifest_path = || {
        manifest_count += 1;
        format!("{location}/metadata/{commit_uuid}-m{manifest_count}.avro")
    };

    // Rows this change rewrites may have been deleted meanwhile by a commit
    // that added delete files (merge-on-read engines): rewriting the old
    // file would bring them back. Such a history is a conflict.
    if let (Some(read_base), Some(current)) = (change.read_base, &base) {
        let mut cursor = Some(current.clone());
        while let Some(s) = cursor {
            if s.snapshot_id() == read_base {
                break;
            }
            let added_deletes: u64 = s
                .summary()
                .additional_properties
                .get("added-delete-files")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if added_deletes > 0 && !change.removed.is_empty() {
                return Err(Error::new(
                    ErrorKind::CatalogCommitConflicts,
                    format!("snapshot {} added delete files after this transaction read the table", s.snapshot_id()),
                )
                .with_retryable(false));
            }
            cursor = s.parent_snapshot_id().and_then(|p| metadata.snapshot_by_id(p).cloned());
        }
    }
    let mut manifests: Vec<ManifestFile> = Vec::new();
    let mut found = 0usize;
    let (mut deleted_records, mut deleted_size) = (0u64, 0u64);
    if let Some(base) = &base {
        let list = table.manifest_list_reader(base).load().await?;
        for manifest_file in list.entries() {
            if manifest_file.content == ManifestContentType::Deletes || change.removed.is_empty() {
                manifests.push(manifest_file.clone());
                continue;
            }
            let manifest = manifest_file.load_manifest(&file_io).await?;
            let touched = manifest.entries().iter().any(|e| e.is_alive() && change.removed.contains(e.file_path()));
            if !touched {
                manifests.push(manifest_file.clone());
                continue;
            }
            let spec = metadata
                .partition_spec_by_id(manifest_file.partition_spec_id)
                .ok_or_else(|| Error::new(ErrorKind::DataInvalid, "manifest names an unknown partition spec"))?;
            let mut writer = data_manifest_writer(&file_io, next_manifest_path(), snapshot_id, &schema, spec)?;
            for entry in manifest.entries() {
                if !entry.is_alive() {
                    continue;
                }
                let seq = entry.sequence_number().unwrap_or(manifest_file.sequence_number);
                if change.removed.contains(entry.file_path()) {
                    found += 1;
                    deleted_records += entry.record_count();
                    deleted_size += entry.file_size_in_bytes();
                    writer.add_delete_file(entry.data_file().clone(), seq, entry.file_sequence_number)?;
                } else {
                    writer.add_existing_file(
                        entry.data_file().clone(),
                        entry.snapshot_id().unwrap_or(manifest_file.added_snapshot_id),
                        seq,
                        entry.file_sequence_number,
                    )?;
                }
            }
            manifests.push(writer.write_manifest_file().await?);
        }
    }
    if found != change.removed.len() {
        return Err(Error::new(
            ErrorKind::CatalogCommitConflicts,
            "rows this transaction changed were removed by a concurrent commit",
        )
        .with_retryable(false));
    }
    let (mut added_records, mut added_size) = (0u64, 0u64);
    if !change.added.is_empty() {
        let spec = metadata.default_partition_spec();
        let mut writer = data_manifest_writer(&file_io, next_manifest_path(), snapshot_id, &schema, spec)?;
        for file in &change.added {
            added_records += file.record_count();
            added_size += file.file_size_in_bytes();
            writer.add_file(file.clone(), sequence_number)?;
        }
        manifests.push(writer.write_manifest_file().await?);
    }

    let list_path = format!("{location}/metadata/snap-{snapshot_id}-1-{commit_uuid}.avro");
    let mut list_writer = ManifestListWriter::v2(
        file_io.new_output(&list_path)?.writer().await?,
        snapshot_id,
        base.as_ref().map(|s| s.snapshot_id()),
        sequence_number,
    );
    list_writer.add_manifests(manifests.into_iter())?;
    list_writer.close().await?;

    let summary = summarize(base.as_ref().map(|s| s.summary()), change, [
        ("added-records", added_records),
        ("added-files-size", added_size),
        ("deleted-records", deleted_records),
        ("removed-files-size", deleted_size),
    ]);
    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(base.as_ref().map(|s| s.snapshot_id()))
        .with_sequence_number(sequence_number)
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis().max(metadata.last_updated_ms() + 1))
        .with_manifest_list(list_path)
        .with_summary(summary)
        .with_schema_id(metadata.current_schema_id())
        .build();
    let base_location = table
        .metadata_location()
        .ok_or_else(|| Error::new(ErrorKind::Unexpected, "table has no metadata location"))?
        .to_string();
    let updated = TableMetadataBuilder::new_from_metadata(metadata.clone(), Some(base_location.clone()))
        .set_branch_snapshot(snapshot, MAIN_BRANCH)?
        .build()?
        .metadata;
    catalog.swap_metadata(ident, &base_location, &updated).await?;
    Ok(snapshot_id)
}

/// A v2 data-manifest writer for files of partition spec `spec`.
fn data_manifest_writer(
    file_io: &iceberg::io::FileIO,
    path: String,
    snapshot_id: i64,
    schema: &iceberg::spec::SchemaRef,
    spec: &iceberg::spec::PartitionSpecRef,
) -> Result<iceberg::spec::ManifestWriter> {
    Ok(ManifestWriterBuilder::new(file_io.new_output(path)?, Some(snapshot_id), schema.clone(), (**spec).clone())
        .build_v2_data())
}

/// Snapshot summary with running totals, as other engines write them.
fn summarize(base: Option<&Summary>, change: &Change, counts: [(&str, u64); 4]) -> Summary {
    let mut props: HashMap<String, String> = change.properties.clone();
    let counts: HashMap<&str, u64> = counts.into_iter().collect();
    props.insert("added-data-files".into(), change.added.len().to_string());
    props.insert("deleted-data-files".into(), change.removed.len().to_string());
    for (k, v) in &counts {
        props.insert((*k).to_string(), v.to_string());
    }
    let total = |key: &str| -> u64 {
        base.and_then(|s| s.additional_properties.get(key)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let totals = [
        ("total-records", counts["added-records"] as i64 - counts["deleted-records"] as i64),
        ("total-data-files", change.added.len() as i64 - change.removed.len() as i64),
        ("total-files-size", counts["added-files-size"] as i64 - counts["removed-files-size"] as i64),
    ];
    for (key, delta) in totals {
        props.insert(key.into(), (total(key) as i64 + delta).max(0).to_string());
    }
    for key in ["total-delete-files", "total-position-deletes", "total-equality-deletes"] {
        props.insert(key.into(), total(key).to_string());
    }
    props.insert("townlake.commit".into(), "true".into());
    Summary { operation: change.operation.clone(), additional_properties: props }
}
