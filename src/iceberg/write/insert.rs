//! INSERT and COPY into Iceberg tables: rows are buffered as Arrow, written
//! as zstd Parquet data files (fanned out by partition, with bounded open
//! writers) during the statement, and handed to the transaction (`txn`),
//! which commits them with the Postgres transaction.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{make_builder, ArrayBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef as ArrowSchemaRef;
use iceberg::arrow::{schema_to_arrow_schema, RecordBatchPartitionSplitter};
use iceberg::spec::{DataFile, DataFileFormat, PartitionSpecRef, SchemaRef};
use iceberg::writer::base_writer::data_file_writer::{DataFileWriter, DataFileWriterBuilder};
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{CurrentFileStatus, IcebergWriter, IcebergWriterBuilder};
use iceberg::TableIdent;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::location::EscapedLocationGenerator;
use super::{check_writable, write_columns, write_error};
use crate::errors::{iceberg_message, LakeError, LakeResult};
use crate::fdw::modify::Row;
use crate::iceberg::progress::Claim;
use crate::iceberg::settings;
use crate::iceberg::source::{self, ServerConfig};
use crate::iceberg::txn::{self, pending::PendingOp};
use crate::pg::ordering::RunningMax;
use crate::runtime::block_on;

type FileWriter = DataFileWriter<ParquetWriterBuilder, EscapedLocationGenerator, DefaultFileNameGenerator>;

/// What a data-file writer is made of, to rebuild it with another target size.
struct RollingParts {
    parquet: ParquetWriterBuilder,
    file_io: iceberg::io::FileIO,
    location: EscapedLocationGenerator,
    names: DefaultFileNameGenerator,
}

impl RollingParts {
    fn build(&self, target_size: usize) -> RollingFileWriterBuilder<ParquetWriterBuilder, EscapedLocationGenerator, DefaultFileNameGenerator> {
        RollingFileWriterBuilder::new(
            self.parquet.clone(),
            target_size,
            self.file_io.clone(),
            self.location.clone(),
            self.names.clone(),
        )
    }
}

/// Told, as an INSERT goes, how many more rows went to data files and how
/// many more bytes those files hold (the transformations' run progress).
pub type WriteListener = fn(rows: u64, bytes: u64);

static LISTENER: std::sync::OnceLock<WriteListener> = std::sync::OnceLock::new();

/// Set the one write listener.
pub fn set_write_listener(f: WriteListener) {
    let _ = LISTENER.set(f);
}

/// What an INSERT has told the listener so far. A rolling writer shows the
/// size of its current file only: when that size drops, a file was
/// finished, and its last size seen counts as rolled over.
#[derive(Default)]
struct Reported {
    rows: u64,
    bytes: u64,
    /// Per open writer: (size of its current file last seen, bytes of the
    /// files it finished).
    open: HashMap<String, (usize, u64)>,
    closed: u64,
}

/// What a pipeline asks of the next INSERT into a table: keep the largest
/// value of one attribute among the rows written.
#[derive(Clone, Copy)]
struct MaxRequest {
    /// 0-based attribute index.
    att: usize,
    type_oid: pg_sys::Oid,
    collation: pg_sys::Oid,
}

thread_local! {
    /// Per table (relid): the request for the next INSERT (`track_max`).
    static MAX_REQUESTS: std::cell::RefCell<HashMap<u32, MaxRequest>> = std::cell::RefCell::new(HashMap::new());
    /// Per table: what the INSERT that took the request found (the largest
    /// value as text, None when it wrote no row).
    static MAX_RESULTS: std::cell::RefCell<HashMap<u32, Option<String>>> = std::cell::RefCell::new(HashMap::new());
}

/// Ask the next INSERT into `relid` (in this backend) to keep the largest
/// value of attribute `att` (0-based, of type `type_oid`) among the rows it
/// writes, by the type's default btree order under `collation`; read it
/// with `take_tracked_max` after the statement. Forgets what an earlier
/// request found.
pub fn track_max(relid: pg_sys::Oid, att: usize, type_oid: pg_sys::Oid, collation: pg_sys::Oid) {
    let relid = relid.to_u32();
    MAX_RESULTS.with(|r| r.borrow_mut().remove(&relid));
    MAX_REQUESTS.with(|r| r.borrow_mut().insert(relid, MaxRequest { att, type_oid, collation }));
}

/// What the INSERT that took `track_max`'s request found: Some(largest
/// value as text, or None when it wrote no row); None when no INSERT took
/// the request (it is withdrawn).
pub fn take_tracked_max(relid: pg_sys::Oid) -> Option<Option<String>> {
    let relid = relid.to_u32();
    MAX_REQUESTS.with(|r| r.borrow_mut().remove(&relid));
    MAX_RESULTS.with(|r| r.borrow_mut().remove(&relid))
}

/// One statement's writer for one foreign table.
pub struct TableInsert {
    relid: u32,
    server: ServerConfig,
    ident: TableIdent,
    schema: SchemaRef,
    spec: PartitionSpecRef,
    arrow_schema: ArrowSchemaRef,
    /// For each Iceberg top-level field: the slot attribute (0-based) feeding it.
    sources: Vec<Option<(usize, pg_sys::Oid)>>,
    builders: Vec<Box<dyn ArrayBuilder>>,
    buffered: usize,
    batch_rows: usize,
    splitter: Option<RecordBatchPartitionSplitter>,
    writer_builder: DataFileWriterBuilder<ParquetWriterBuilder, EscapedLocationGenerator, DefaultFileNameGenerator>,
    rolling_parts: RollingParts,
    open: HashMap<String, FileWriter>,
    written: Vec<DataFile>,
    out_functions: HashMap<u32, Box<pg_sys::FmgrInfo>>,
    pub rows: u64,
    /// lake.iceberg_progress: updated once per written batch.
    pub progress: Claim,
    /// Bytes of the data files closed so far, and of each open one.
    closed_bytes: u64,
    open_bytes: HashMap<String, u64>,
    /// Progress reporting, for INSERTs (not rewrites or compaction).
    reported: Option<Reported>,
    /// The attribute whose largest written value is kept (`track_max`).
    max: Option<(usize, RunningMax)>,
}

impl TableInsert {
    pub fn new(relid: pg_sys::Oid) -> LakeResult<TableInsert> {
        let resolved = source::resolve(relid)?;
        check_writable(&resolved)?;
        let metadata = resolved.metadata.clone();
        let schema = metadata.current_schema().clone();
        let spec = metadata.default_partition_spec().clone();
        let arrow_schema = Arc::new(
            schema_to_arrow_schema(&schema).map_err(|e| LakeError::internal(iceberg_message(&e)))?,
        );
        let columns = write_columns(relid);
        // A column the Iceberg table no longer has (another writer dropped
        // or renamed it) would silently lose what is written into it; a read
        // refuses the same (scan/plan.rs).
        let fields = schema.as_struct().fields();
        if let Some(lost) = columns.iter().find(|c| {
            !fields.iter().any(|f| c.field_id == f.id || (c.field_id == 0 && c.name == f.name))
        }) {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                format!(
                    "column \"{}\" of foreign table {} does not exist in Iceberg table \"{}\"",
                    lost.name,
                    source::relation_display(relid),
                    resolved.display_name
                ),
            )
            .with_hint(format!(
                "The table's columns are: {}. Drop the column from the foreign table or IMPORT FOREIGN SCHEMA again; nothing was written.",
                fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", ")
            )));
        }
        let mut sources = Vec::new();
        for field in schema.as_struct().fields() {
            sources.push(
                columns
                    .iter()
                    .find(|c| c.field_id == field.id || (c.field_id == 0 && c.name == field.name))
                    .map(|c| (c.index, c.type_oid)),
            );
        }
        let batch_rows = settings::WRITE_BATCH_ROWS.get().max(64) as usize;
        let builders = arrow_schema.fields().iter().map(|f| make_builder(f.data_type(), batch_rows)).collect();
        let splitter = if spec.is_unpartitioned() {
            None
        } else {
            Some(
                RecordBatchPartitionSplitter::try_new_with_computed_values(schema.clone(), spec.clone())
                    .map_err(|e| LakeError::internal(iceberg_message(&e)))?,
            )
        };
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(settings::ROW_GROUP_ROWS.get().max(1024) as usize))
            .build();
        let location = EscapedLocationGenerator::new(
            DefaultLocationGenerator::new(&metadata).map_err(|e| LakeError::internal(iceberg_message(&e)))?,
        );
        // A fresh UUID per writer: file names never collide, even after a
        // crash or with several writers at once.
        let names = DefaultFileNameGenerator::new(uuid::Uuid::new_v4().to_string(), None, DataFileFormat::Parquet);
        let parts = RollingParts {
            parquet: ParquetWriterBuilder::new(props, schema.clone()),
            file_io: resolved.server.file_io(),
            location,
            names,
        };
        let rolling = parts.build(settings::TARGET_FILE_SIZE_MB.get().max(1) as usize * 1024 * 1024);
        let ident = resolved.table()?.identifier().clone();
        Ok(TableInsert {
            relid: relid.to_u32(),
            server: resolved.server,
            ident,
            schema,
            spec,
            arrow_schema,
            sources,
            builders,
            buffered: 0,
            batch_rows,
            splitter,
            writer_builder: DataFileWriterBuilder::new(rolling),
            rolling_parts: parts,
            open: HashMap::new(),
            written: Vec::new(),
            out_functions: HashMap::new(),
            rows: 0,
            progress: Claim::none(),
            closed_bytes: 0,
            open_bytes: HashMap::new(),
            reported: None,
            max: None,
        })
    }

    /// Take up a pipeline's `track_max` request for this table, if any.
    pub fn with_tracked_max(mut self) -> LakeResult<TableInsert> {
        let Some(req) = MAX_REQUESTS.with(|r| r.borrow_mut().remove(&self.relid)) else { return Ok(self) };
        let max = RunningMax::new(req.type_oid, req.collation)
            .ok_or_else(|| LakeError::internal(format!("type oid {} has no ordering to keep a maximum by", req.type_oid.to_u32())))?;
        self.max = Some((req.att, max));
        Ok(self)
    }

    /// Report progress to the write listener as rows are written.
    pub fn with_progress(mut self) -> TableInsert {
        if LISTENER.get().is_some() {
            self.reported = Some(Reported::default());
        }
        self
    }

    /// Tell the listener what was written since it was last told.
    fn report(&mut self) {
        let (Some(r), Some(listener)) = (self.reported.as_mut(), LISTENER.get()) else { return };
        let mut total = r.closed;
        for (name, w) in &self.open {
            let now = w.current_written_size();
            let seen = r.open.entry(name.clone()).or_insert((0, 0));
            if now < seen.0 {
                seen.1 += seen.0 as u64;
            }
            seen.0 = now;
            total += seen.1 + now as u64;
        }
        let (rows, bytes) = (self.rows.saturating_sub(r.rows), total.saturating_sub(r.bytes));
        r.rows += rows;
        r.bytes += bytes;
        if rows > 0 || bytes > 0 {
            listener(rows, bytes);
        }
    }

    /// Files finished: their exact sizes replace what was seen of them.
    fn closed(&mut self, files: &[DataFile]) {
        if let Some(r) = self.reported.as_mut() {
            r.closed += files.iter().map(|f| f.file_size_in_bytes()).sum::<u64>();
        }
    }

    /// Buffer one row (values of every attribute of the relation).
    pub fn insert(&mut self, row: &Row<'_>) -> LakeResult<()> {
        self.insert_row(row.values, row.nulls)
    }

    /// Buffer one row given as attribute values (one per attribute of the relation).
    pub fn insert_row(&mut self, values: &[pg_sys::Datum], nulls: &[bool]) -> LakeResult<()> {
        if let Some((att, max)) = self.max.as_mut() {
            if !nulls[*att] {
                max.observe(values[*att]);
            }
        }
        for (i, source) in self.sources.iter().enumerate() {
            let field = self.arrow_schema.field(i);
            let value = match source {
                Some((att, type_oid)) if !nulls[*att] => Some((values[*att], *type_oid)),
                _ => None,
            };
            if value.is_none() && !field.is_nullable() {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                    format!("null value in column \"{}\" violates the Iceberg table's required field", field.name()),
                ));
            }
            let out_functions = &mut self.out_functions;
            super::arrow::append_value(self.builders[i].as_mut(), field.data_type(), value, out_functions)
                .map_err(|m| LakeError::new(PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, format!("column \"{}\": {m}", field.name())))?;
        }
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Write buffered rows to data files.
    fn flush(&mut self) -> LakeResult<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish()).collect();
        self.buffered = 0;
        let batch = RecordBatch::try_new(self.arrow_schema.clone(), arrays)
            .map_err(|e| LakeError::internal(format!("cannot assemble rows: {e}")))?;
        self.write_parts(batch)?;
        self.report();
        Ok(())
    }

    /// Refuses date and time values that a partition of the spec cannot
    /// hold: past the calendar the Iceberg library computes with (262142 AD),
    /// a year, month or day partition value comes out NULL (and filters then
    /// skip the file as all NULL) or the partition's path cannot be named;
    /// an `hour` value must also fit the spec's `int` (until 246953 AD),
    /// which the library would wrap round to a negative hour.
    fn check_time_partitions(&self, batch: &RecordBatch) -> LakeResult<()> {
        use arrow_array::{Array, Date32Array, TimestampMicrosecondArray};
        use iceberg::spec::Transform;
        for field in self.spec.fields() {
            let hour = field.transform == Transform::Hour;
            if !matches!(field.transform, Transform::Year | Transform::Month | Transform::Day | Transform::Hour | Transform::Identity) {
                continue;
            }
            let fields = self.schema.as_struct().fields();
            let Some(index) = fields.iter().position(|f| f.id == field.source_id) else { continue };
            let column = batch.column(index);
            let name = &fields[index].name;
            let out_of_range = if let Some(days) = column.as_any().downcast_ref::<Date32Array>() {
                days.iter().flatten().any(|d| !date_in_library_range(d))
            } else if let Some(micros) = column.as_any().downcast_ref::<TimestampMicrosecondArray>() {
                if hour && micros.iter().flatten().any(|v| !crate::iceberg::predicate::hour_fits_int(v)) {
                    return Err(LakeError::new(
                        PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
                        format!("column \"{name}\": timestamps from 246953-10-09 08:00 UTC on cannot be stored in an hour({name}) partition"),
                    )
                    .with_hint("Iceberg stores hour partition values as 32-bit hours since 1970; partition by day() instead."));
                }
                // the library cannot convert an identity timestamptz value
                // before 1970 with a fraction of a second (it panics)
                let identity_tz = field.transform == Transform::Identity
                    && matches!(micros.data_type(), arrow_schema::DataType::Timestamp(_, Some(_)));
                if identity_tz && micros.iter().flatten().any(|v| v < 0 && v % 1_000_000 != 0) {
                    return Err(LakeError::new(
                        PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
                        format!("column \"{name}\": instants before 1970 with a fraction of a second cannot be stored in an identity partition of it"),
                    )
                    .with_hint("The Iceberg library cannot name such partition values; partition by day() or hour() instead."));
                }
                micros.iter().flatten().any(|v| chrono::DateTime::from_timestamp_micros(v).is_none())
            } else {
                // nanosecond timestamps span ±292 years: always in range
                false
            };
            if out_of_range {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
                    format!("column \"{name}\": dates after 262142-12-31 cannot be stored in a {} partition of it", field.transform),
                )
                .with_hint("The Iceberg library computes partition values on a calendar that ends in 262142 AD; store such values in an unpartitioned column, or partition by another column."));
            }
        }
        Ok(())
    }

    /// Split a batch by partition and write each part to its open file.
    fn write_parts(&mut self, batch: RecordBatch) -> LakeResult<()> {
        self.check_time_partitions(&batch)?;
        let parts = match &self.splitter {
            // An unpartitioned spec that is not spec 0 (after set_partitioning
            // to none) still has to be named on the data files.
            None if self.spec.spec_id() != 0 => vec![(
                Some(iceberg::spec::PartitionKey::new(
                    (*self.spec).clone(),
                    self.schema.clone(),
                    iceberg::spec::Struct::empty(),
                )),
                batch,
            )],
            None => vec![(None, batch)],
            Some(s) => s
                .split(&batch)
                .map_err(|e| LakeError::internal(iceberg_message(&e)))?
                .into_iter()
                .map(|(k, b)| (Some(k), b))
                .collect(),
        };
        let max_open = settings::MAX_OPEN_PARTITIONS.get().max(1) as usize;
        let server = self.server.clone();
        let rows: usize = parts.iter().map(|(_, b)| b.num_rows()).sum();
        let result: iceberg::Result<()> = block_on(async {
            for (key, part) in parts {
                // (not the library's to_path, which cannot name every timestamptz)
                let name = key.as_ref().map(|k| super::location::partition_path(k).unwrap_or_else(|| k.to_path())).unwrap_or_default();
                if !self.open.contains_key(&name) {
                    // Bounded memory: past the limit, finish every open file
                    // before opening another.
                    if self.open.len() >= max_open {
                        for (_, mut w) in self.open.drain() {
                            let files = w.close().await?;
                            if let Some(r) = self.reported.as_mut() {
                                r.closed += files.iter().map(|f| f.file_size_in_bytes()).sum::<u64>();
                                r.open.clear();
                            }
                            self.written.extend(files);
                        }
                        self.open_bytes.clear();
                        self.closed_bytes = self.written.iter().map(|f| f.file_size_in_bytes()).sum();
                    }
                    let w = self.writer_builder.build(key).await?;
                    self.open.insert(name.clone(), w);
                }
                let writer = self.open.get_mut(&name).expect("writer just opened");
                writer.write(part).await?;
                // After a successful write the writer has a current file
                // (current_written_size panics before the first one).
                self.open_bytes.insert(name, writer.current_written_size() as u64);
            }
            Ok(())
        });
        result.map_err(|e| write_error(&server, &e))?;
        self.progress.add_rows(rows as u64);
        self.progress.set_bytes(self.closed_bytes + self.open_bytes.values().sum::<u64>());
        self.progress.set_files(self.written.len() as u64);
        Ok(())
    }

    /// Files of about this many bytes (compaction).
    pub fn set_target_file_size(&mut self, bytes: u64) {
        self.writer_builder = DataFileWriterBuilder::new(self.rolling_parts.build(bytes as usize));
    }

    /// Write an Arrow batch already in the table's current schema
    /// (compaction reads with the current schema's field ids).
    pub fn write_batch(&mut self, batch: RecordBatch) -> LakeResult<()> {
        self.flush()?;
        let batch = RecordBatch::try_new(self.arrow_schema.clone(), batch.columns().to_vec())
            .map_err(|e| LakeError::internal(format!("batch does not match the table schema: {e}")))?;
        self.write_parts(batch)
    }

    /// Flush and close every open file, returning them (not recorded in the
    /// transaction).
    pub fn close_files(&mut self) -> LakeResult<Vec<DataFile>> {
        self.flush()?;
        self.progress.phase(crate::iceberg::progress::Phase::ClosingFiles);
        let server = self.server.clone();
        let open: Vec<FileWriter> = self.open.drain().map(|(_, w)| w).collect();
        let closed: iceberg::Result<Vec<DataFile>> = block_on(async {
            let mut out = Vec::new();
            for mut w in open {
                out.extend(w.close().await?);
            }
            Ok(out)
        });
        let closed = closed.map_err(|e| write_error(&server, &e))?;
        self.closed(&closed);
        if let Some(r) = self.reported.as_mut() {
            r.open.clear();
        }
        self.written.extend(closed);
        self.report();
        self.open_bytes.clear();
        self.closed_bytes = self.written.iter().map(|f| f.file_size_in_bytes()).sum();
        self.progress.set_bytes(self.closed_bytes);
        self.progress.set_files(self.written.len() as u64);
        Ok(std::mem::take(&mut self.written))
    }

    /// Finish the statement: flush, close files, hand them to the transaction.
    pub fn finish(&mut self) -> LakeResult<()> {
        let files = self.close_files()?;
        if let Some((_, max)) = self.max.take() {
            let found = max.text();
            MAX_RESULTS.with(|r| r.borrow_mut().insert(self.relid, found));
        }
        if files.is_empty() {
            return Ok(());
        }
        txn::record(self.relid, &self.server, &self.ident, &self.schema, files.into_iter().map(PendingOp::Add));
        Ok(())
    }
}


#[cfg(test)]
mod tests {
    #[test]
    fn hour_partition_values_fit_until_246953_ad() {
        let last = (i64::from(i32::MAX) + 1) * 3_600_000_000 - 1;
        use crate::iceberg::predicate::hour_fits_int;
        assert!(hour_fits_int(last));
        assert!(!hour_fits_int(last + 1));
        assert!(hour_fits_int(-210_866_803_200_000_000)); // 4713-01-01 BC
        assert!(hour_fits_int(0));
    }
}

/// Whether a date (days since 1970) is on the calendar the Iceberg library
/// computes partition values and names with (chrono's: until 262142-12-31).
fn date_in_library_range(days: i32) -> bool {
    chrono::NaiveDate::from_num_days_from_ce_opt(days.saturating_add(719_163)).is_some()
}
