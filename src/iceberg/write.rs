//! Writing Iceberg tables: INSERT and COPY buffer rows as Arrow, write
//! zstd Parquet data files (fanned out by partition, with bounded open
//! writers) during the statement, and keep them pending until the Postgres
//! transaction commits; then one fast-append snapshot per table is committed
//! through the catalog in the same transaction (principle 2). ROLLBACK,
//! savepoint rollback or a crash leave only orphan files.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::c_void;
use std::sync::Arc;

use arrow_array::builder::*;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef as ArrowSchemaRef};
use iceberg::arrow::{schema_to_arrow_schema, RecordBatchPartitionSplitter};
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataFile, DataFileFormat, PartitionSpecRef, SchemaRef};
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::writer::base_writer::data_file_writer::{DataFileWriter, DataFileWriterBuilder};
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{Catalog, TableIdent};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::commit::SpiCatalog;
use super::source::{self, ServerConfig};
use crate::errors::{iceberg_message, LakeError, LakeResult, OrReport};
use crate::fdw::state::attach_to_context;
use crate::guc;
use crate::runtime::block_on;

type FileWriter = DataFileWriter<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;

/// A change this transaction made to a table and has not committed yet.
enum PendingOp {
    /// A data file written.
    Add(DataFile),
    /// A committed data file to remove (rewritten or deleted).
    Remove(String),
    /// TRUNCATE: every file committed at the time, and earlier writes.
    Truncate(Vec<String>),
}

struct PendingTable {
    server: ServerConfig,
    ident: TableIdent,
    schema: SchemaRef,
    /// Each change with the subtransaction that made it, in order.
    ops: Vec<(pg_sys::SubTransactionId, PendingOp)>,
    /// The snapshot the first removal was decided on: commits after it that
    /// added delete files may have deleted rows this transaction rewrote.
    read_base: Option<i64>,
}

/// The net effect of a table's pending changes.
#[derive(Default)]
pub struct NetChange {
    pub removed: std::collections::HashSet<String>,
    pub added: Vec<DataFile>,
    pub truncated: bool,
}

impl PendingTable {
    fn net(&self) -> NetChange {
        let mut net = NetChange::default();
        for (_, op) in &self.ops {
            match op {
                PendingOp::Add(f) => net.added.push(f.clone()),
                PendingOp::Remove(path) => {
                    let before = net.added.len();
                    net.added.retain(|f| f.file_path() != path);
                    if net.added.len() == before {
                        net.removed.insert(path.clone());
                    }
                }
                PendingOp::Truncate(files) => {
                    net.added.clear();
                    net.removed.extend(files.iter().cloned());
                    net.truncated = true;
                }
            }
        }
        net
    }
}

thread_local! {
    static PENDING: RefCell<BTreeMap<u32, PendingTable>> = const { RefCell::new(BTreeMap::new()) };
    static CALLBACKS_REGISTERED: RefCell<bool> = const { RefCell::new(false) };
}

pub fn ensure_xact_callbacks() {
    CALLBACKS_REGISTERED.with(|r| {
        if !*r.borrow() {
            // SAFETY: registering process-lifetime callbacks with static fns.
            unsafe {
                pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
                pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
            }
            *r.borrow_mut() = true;
        }
    });
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_PRE_COMMIT => {
            if PENDING.with(|p| p.borrow().is_empty()) {
                return;
            }
            // SPI needs an active snapshot; at pre-commit there is none.
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
            let result = commit_pending();
            pg_sys::PopActiveSnapshot();
            result.or_report();
        }
        pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE => {
            if PENDING.with(|p| !p.borrow().is_empty()) {
                LakeError::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "cannot PREPARE a transaction that wrote Iceberg tables",
                )
                .report();
            }
        }
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => {
            PENDING.with(|p| p.borrow_mut().clear());
            super::hook::purge_dropped(false);
        }
        pg_sys::XactEvent::XACT_EVENT_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT => {
            PENDING.with(|p| p.borrow_mut().clear());
            super::hook::purge_dropped(true);
        }
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        for table in pending.values_mut() {
            match event {
                // Files of a released savepoint now belong to its parent.
                pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => {
                    for (sub, _) in table.ops.iter_mut() {
                        if *sub == my_subid {
                            *sub = parent_subid;
                        }
                    }
                }
                pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => {
                    table.ops.retain(|(sub, _)| *sub != my_subid);
                }
                _ => {}
            }
        }
    });
}

/// Commit every pending table: one fast-append snapshot each, through the
/// catalog's compare-and-swap (rebased and retried on concurrent commits).
fn commit_pending() -> LakeResult<()> {
    let tables: Vec<(u32, PendingTable)> = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()).into_iter().collect());
    for (_, table) in tables {
        let net = table.net();
        if net.added.is_empty() && net.removed.is_empty() {
            continue;
        }
        let catalog = SpiCatalog::new(table.server.clone());
        let result = block_on(async {
            if net.removed.is_empty() {
                let current = catalog.load_table(&table.ident).await?;
                let tx = Transaction::new(&current);
                // File names carry UUIDs: no need to read every manifest
                // looking for duplicates.
                let tx = tx.fast_append().with_check_duplicate(false).add_data_files(net.added).apply(tx)?;
                tx.commit(&catalog).await.map(|_| ())
            } else {
                let operation = if net.added.is_empty() {
                    iceberg::spec::Operation::Delete
                } else {
                    iceberg::spec::Operation::Overwrite
                };
                let change = super::overwrite::Change {
                    removed: net.removed,
                    added: net.added,
                    operation,
                    read_base: table.read_base,
                };
                super::overwrite::commit_change(&catalog, &table.ident, &change).await
            }
        });
        if let Err(e) = result {
            let code = if e.kind() == iceberg::ErrorKind::CatalogCommitConflicts {
                PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE
            } else {
                PgSqlErrorCode::ERRCODE_FDW_ERROR
            };
            return Err(LakeError::new(
                code,
                format!("cannot commit to Iceberg table {}: {}", table.ident, table.server.scrub(&iceberg_message(&e))),
            )
            .with_hint("The transaction was rolled back; retry it."));
        }
    }
    Ok(())
}

/// Whether this transaction has uncommitted writes to `relid`.
pub fn has_pending(relid: u32) -> bool {
    PENDING.with(|p| p.borrow().get(&relid).is_some_and(|t| !t.ops.is_empty()))
}

/// Committed data files this transaction has removed from `relid`.
pub fn pending_removed(relid: u32) -> std::collections::HashSet<String> {
    PENDING.with(|p| p.borrow().get(&relid).map(|t| t.net().removed).unwrap_or_default())
}

/// Files this transaction wrote to `relid` and has not committed yet, as scan
/// tasks reading `field_ids` (read-your-writes).
pub fn pending_scan_tasks(relid: u32, field_ids: &[i32]) -> Vec<FileScanTask> {
    PENDING.with(|p| {
        let pending = p.borrow();
        let Some(table) = pending.get(&relid) else {
            return Vec::new();
        };
        table
            .net()
            .added
            .iter()
            .map(|f| FileScanTask {
                file_size_in_bytes: f.file_size_in_bytes(),
                start: 0,
                length: f.file_size_in_bytes(),
                record_count: Some(f.record_count()),
                data_file_path: f.file_path().to_string(),
                data_file_format: DataFileFormat::Parquet,
                schema: table.schema.clone(),
                project_field_ids: field_ids.to_vec(),
                predicate: None,
                deletes: Vec::new(),
                // Values come from the file itself (no partition constants).
                partition: None,
                partition_spec: None,
                name_mapping: None,
                case_sensitive: true,
            })
            .collect()
    })
}

/// What a data-file writer is made of, to rebuild it with another target size.
struct RollingParts {
    parquet: ParquetWriterBuilder,
    file_io: iceberg::io::FileIO,
    location: DefaultLocationGenerator,
    names: DefaultFileNameGenerator,
}

impl RollingParts {
    fn build(&self, target_size: usize) -> RollingFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator> {
        RollingFileWriterBuilder::new(
            self.parquet.clone(),
            target_size,
            self.file_io.clone(),
            self.location.clone(),
            self.names.clone(),
        )
    }
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
    writer_builder: DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>,
    rolling_parts: RollingParts,
    open: HashMap<String, FileWriter>,
    written: Vec<DataFile>,
    out_functions: HashMap<u32, Box<pg_sys::FmgrInfo>>,
    pub rows: u64,
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
        let columns = unsafe { slot_columns(relid) };
        let mut sources = Vec::new();
        for field in schema.as_struct().fields() {
            sources.push(columns.iter().find(|c| c.2 == field.id || (c.2 == 0 && c.1 == field.name)).map(|c| (c.0, c.3)));
        }
        let batch_rows = guc::WRITE_BATCH_ROWS.get().max(64) as usize;
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
            .set_max_row_group_row_count(Some(guc::ROW_GROUP_ROWS.get().max(1024) as usize))
            .build();
        let location = DefaultLocationGenerator::new(&metadata).map_err(|e| LakeError::internal(iceberg_message(&e)))?;
        // A fresh UUID per writer: file names never collide, even after a
        // crash or with several writers at once.
        let names = DefaultFileNameGenerator::new(uuid::Uuid::new_v4().to_string(), None, DataFileFormat::Parquet);
        let parts = RollingParts {
            parquet: ParquetWriterBuilder::new(props, schema.clone()),
            file_io: resolved.server.file_io(),
            location,
            names,
        };
        let rolling = parts.build(guc::TARGET_FILE_SIZE_MB.get().max(1) as usize * 1024 * 1024);
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
        })
    }

    /// Buffer one row.
    pub unsafe fn insert(&mut self, slot: *mut pg_sys::TupleTableSlot) -> LakeResult<()> {
        pg_sys::slot_getallattrs(slot);
        self.insert_row((*slot).tts_values, (*slot).tts_isnull)
    }

    /// Buffer one row given as attribute values (one per attribute of the relation).
    pub unsafe fn insert_row(&mut self, values: *const pg_sys::Datum, nulls: *const bool) -> LakeResult<()> {
        for (i, source) in self.sources.iter().enumerate() {
            let field = self.arrow_schema.field(i);
            let value = match source {
                Some((att, type_oid)) if !*nulls.add(*att) => Some((*values.add(*att), *type_oid)),
                _ => None,
            };
            if value.is_none() && !field.is_nullable() {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                    format!("null value in column \"{}\" violates the Iceberg table's required field", field.name()),
                ));
            }
            let out_functions = &mut self.out_functions;
            append_value(self.builders[i].as_mut(), field.data_type(), value, out_functions)
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
        self.write_parts(batch)
    }

    /// Split a batch by partition and write each part to its open file.
    fn write_parts(&mut self, batch: RecordBatch) -> LakeResult<()> {
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
        let max_open = guc::MAX_OPEN_PARTITIONS.get().max(1) as usize;
        let server = self.server.clone();
        let result: iceberg::Result<()> = block_on(async {
            for (key, part) in parts {
                let name = key.as_ref().map(|k| k.to_path()).unwrap_or_default();
                if !self.open.contains_key(&name) {
                    // Bounded memory: past the limit, finish every open file
                    // before opening another.
                    if self.open.len() >= max_open {
                        for (_, mut w) in self.open.drain() {
                            self.written.extend(w.close().await?);
                        }
                    }
                    let w = self.writer_builder.build(key).await?;
                    self.open.insert(name.clone(), w);
                }
                self.open.get_mut(&name).expect("writer just opened").write(part).await?;
            }
            Ok(())
        });
        result.map_err(|e| write_error(&server, &e))
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
        let server = self.server.clone();
        let open: Vec<FileWriter> = self.open.drain().map(|(_, w)| w).collect();
        let closed: iceberg::Result<Vec<DataFile>> = block_on(async {
            let mut out = Vec::new();
            for mut w in open {
                out.extend(w.close().await?);
            }
            Ok(out)
        });
        self.written.extend(closed.map_err(|e| write_error(&server, &e))?);
        Ok(std::mem::take(&mut self.written))
    }

    /// Finish the statement: flush, close files, hand them to the transaction.
    pub fn finish(&mut self) -> LakeResult<()> {
        let files = self.close_files()?;
        if files.is_empty() {
            return Ok(());
        }
        record_ops(self.relid, &self.server, &self.ident, &self.schema, files.into_iter().map(PendingOp::Add));
        Ok(())
    }
}

/// Add changes to the transaction's pending state for `relid`.
fn record_ops(
    relid: u32,
    server: &ServerConfig,
    ident: &TableIdent,
    schema: &SchemaRef,
    ops: impl Iterator<Item = PendingOp>,
) {
    ensure_xact_callbacks();
    let sub = unsafe { pg_sys::GetCurrentSubTransactionId() };
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let entry = p.entry(relid).or_insert_with(|| PendingTable {
            server: server.clone(),
            ident: ident.clone(),
            schema: schema.clone(),
            ops: Vec::new(),
            read_base: None,
        });
        entry.ops.extend(ops.map(|op| (sub, op)));
    });
}

/// Remember the snapshot removals were decided on (the first one counts).
fn set_read_base(relid: u32, snapshot: Option<i64>) {
    PENDING.with(|p| {
        if let Some(t) = p.borrow_mut().get_mut(&relid) {
            if t.read_base.is_none() {
                t.read_base = snapshot;
            }
        }
    });
}

/// Refuse writes through read-only servers and to tables pinned to a
/// snapshot or attached by metadata file.
fn check_writable(resolved: &source::ResolvedTable) -> LakeResult<()> {
    if guc::as_of().is_some() || guc::snapshot_id().is_some() {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("cannot write {} while reading the past (townlake.as_of or townlake.snapshot_id is set)", resolved.display_name),
        )
        .with_hint("RESET townlake.as_of; RESET townlake.snapshot_id; then write."));
    }
    if resolved.options.metadata_location.is_some() || resolved.options.snapshot_id.is_some() {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("foreign table for \"{}\" is read-only", resolved.display_name),
        )
        .with_hint("Tables attached by metadata_location or pinned with snapshot_id cannot be written; attach the table by namespace and table name."));
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
fn truncate(relid: pg_sys::Oid) -> LakeResult<()> {
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
    record_ops(relid.to_u32(), &resolved.server, &ident, &schema, std::iter::once(PendingOp::Truncate(files)));
    set_read_base(relid.to_u32(), resolved.metadata.current_snapshot().map(|s| s.snapshot_id()));
    Ok(())
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_truncate(
    rels: *mut pg_sys::List,
    _behavior: pg_sys::DropBehavior::Type,
    _restart_seqs: bool,
) {
    for node in super::plan::nodes_of(rels) {
        let rel = node as pg_sys::Relation;
        truncate((*rel).rd_id).or_report();
    }
}

fn write_error(server: &ServerConfig, e: &iceberg::Error) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FDW_ERROR,
        format!("cannot write Iceberg data: {}", server.scrub(&iceberg_message(e))),
    )
    .with_hint("Check that the warehouse is writable with the server's storage settings and credentials.")
}

/// (0-based attribute index, name, field_id option or 0, type) of each live column.
unsafe fn slot_columns(relid: pg_sys::Oid) -> Vec<(usize, String, i32, pg_sys::Oid)> {
    let rel = pgrx::PgRelation::with_lock(relid, pg_sys::NoLock as pg_sys::LOCKMODE);
    let mut out = Vec::new();
    for (i, att) in rel.tuple_desc().iter().enumerate() {
        if att.attisdropped {
            continue;
        }
        let opts = crate::fdw::options::options_to_map(pg_sys::GetForeignColumnOptions(relid, att.attnum));
        let field_id = opts.get("field_id").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let name = opts
            .get("column_name")
            .cloned()
            .unwrap_or_else(|| pgrx::name_data_to_str(&att.attname).to_string());
        out.push((i, name, field_id, att.atttypid));
    }
    out
}

const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;

/// Text of a datum through its type's output function.
unsafe fn datum_text(datum: pg_sys::Datum, type_oid: pg_sys::Oid, cache: &mut HashMap<u32, Box<pg_sys::FmgrInfo>>) -> String {
    let finfo = cache.entry(type_oid.to_u32()).or_insert_with(|| {
        let mut out_fn = pg_sys::Oid::INVALID;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(type_oid, &mut out_fn, &mut varlena);
        let mut f: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
        pg_sys::fmgr_info(out_fn, f.as_mut());
        f
    });
    let p = pg_sys::OutputFunctionCall(finfo.as_mut(), datum);
    std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
}

/// Append one Postgres value to an Arrow builder of the Iceberg field's type.
unsafe fn append_value(
    builder: &mut dyn ArrayBuilder,
    data_type: &DataType,
    value: Option<(pg_sys::Datum, pg_sys::Oid)>,
    out_functions: &mut HashMap<u32, Box<pg_sys::FmgrInfo>>,
) -> Result<(), String> {
    macro_rules! b {
        ($t:ty) => {
            builder.as_any_mut().downcast_mut::<$t>().ok_or("internal: builder type mismatch")?
        };
    }
    let Some((datum, type_oid)) = value else {
        match data_type {
            DataType::Boolean => b!(BooleanBuilder).append_null(),
            DataType::Int32 => b!(Int32Builder).append_null(),
            DataType::Int64 => b!(Int64Builder).append_null(),
            DataType::Float32 => b!(Float32Builder).append_null(),
            DataType::Float64 => b!(Float64Builder).append_null(),
            DataType::Decimal128(_, _) => b!(Decimal128Builder).append_null(),
            DataType::Date32 => b!(Date32Builder).append_null(),
            DataType::Time64(_) => b!(Time64MicrosecondBuilder).append_null(),
            DataType::Timestamp(_, _) => b!(TimestampMicrosecondBuilder).append_null(),
            DataType::Utf8 => b!(StringBuilder).append_null(),
            DataType::LargeUtf8 => b!(LargeStringBuilder).append_null(),
            DataType::Binary => b!(BinaryBuilder).append_null(),
            DataType::LargeBinary => b!(LargeBinaryBuilder).append_null(),
            DataType::FixedSizeBinary(_) => b!(FixedSizeBinaryBuilder).append_null(),
            other => return Err(format!("writing Iceberg type {other} is not supported yet")),
        }
        return Ok(());
    };
    let oid = type_oid.to_u32();
    let int = || -> Result<i64, String> {
        match oid {
            21 => Ok(i16::from_datum(datum, false).unwrap_or_default() as i64),
            23 => Ok(i32::from_datum(datum, false).unwrap_or_default() as i64),
            20 => Ok(i64::from_datum(datum, false).unwrap_or_default()),
            _ => Err(format!("cannot store a value of type oid {oid} in an integer field")),
        }
    };
    match data_type {
        DataType::Boolean => b!(BooleanBuilder).append_value(bool::from_datum(datum, false).unwrap_or_default()),
        DataType::Int32 => {
            let v = int()?;
            b!(Int32Builder).append_value(i32::try_from(v).map_err(|_| format!("{v} is out of range for an Iceberg int"))?)
        }
        DataType::Int64 => b!(Int64Builder).append_value(int()?),
        DataType::Float32 => b!(Float32Builder).append_value(match oid {
            700 => f32::from_datum(datum, false).unwrap_or_default(),
            _ => return Err("an Iceberg float takes real values".into()),
        }),
        DataType::Float64 => b!(Float64Builder).append_value(match oid {
            700 => f32::from_datum(datum, false).unwrap_or_default() as f64,
            701 => f64::from_datum(datum, false).unwrap_or_default(),
            _ => int()? as f64,
        }),
        DataType::Decimal128(precision, scale) => {
            let text = datum_text(datum, type_oid, out_functions);
            let v = parse_decimal(&text, *precision as u32, *scale as u32)?;
            b!(Decimal128Builder).append_value(v)
        }
        DataType::Date32 => {
            // DATEVAL_NOBEGIN / NOEND: stored as finite days they would read
            // back as dates millions of years away (or overflow)
            let d = datum.value() as i32;
            if d == i32::MIN || d == i32::MAX {
                return Err("infinite dates cannot be stored in Iceberg".into());
            }
            b!(Date32Builder).append_value(d + PG_EPOCH_OFFSET_DAYS)
        }
        DataType::Time64(_) => b!(Time64MicrosecondBuilder).append_value(datum.value() as i64),
        DataType::Timestamp(_, _) => {
            let t = datum.value() as i64;
            if t == i64::MIN || t == i64::MAX {
                return Err("infinite timestamps cannot be stored in Iceberg".into());
            }
            // Postgres reaches year 294276, Iceberg's microseconds since 1970
            // only 294247: the last years do not fit (and must not wrap)
            let v = t
                .checked_add(PG_EPOCH_OFFSET_MICROS)
                .ok_or("timestamps after 294247-01-10 04:00:54 UTC cannot be stored in Iceberg")?;
            b!(TimestampMicrosecondBuilder).append_value(v)
        }
        DataType::Utf8 | DataType::LargeUtf8 => {
            let s = match oid {
                25 | 1043 => String::from_datum(datum, false).unwrap_or_default(),
                _ => datum_text(datum, type_oid, out_functions),
            };
            if matches!(data_type, DataType::Utf8) {
                b!(StringBuilder).append_value(s)
            } else {
                b!(LargeStringBuilder).append_value(s)
            }
        }
        DataType::Binary | DataType::LargeBinary => {
            let bytes = <&[u8]>::from_datum(datum, false).unwrap_or_default();
            if matches!(data_type, DataType::Binary) {
                b!(BinaryBuilder).append_value(bytes)
            } else {
                b!(LargeBinaryBuilder).append_value(bytes)
            }
        }
        DataType::FixedSizeBinary(width) => {
            let bytes: Vec<u8> = if oid == 2950 {
                std::slice::from_raw_parts(datum.cast_mut_ptr::<u8>(), 16).to_vec()
            } else {
                <&[u8]>::from_datum(datum, false).unwrap_or_default().to_vec()
            };
            if bytes.len() != *width as usize {
                return Err(format!("expected {width} bytes, got {}", bytes.len()));
            }
            b!(FixedSizeBinaryBuilder).append_value(bytes).map_err(|e| e.to_string())?
        }
        other => return Err(format!("writing Iceberg type {other} is not supported yet")),
    }
    Ok(())
}

/// A decimal's unscaled value at exactly `scale`; values needing rounding or
/// more digits than `precision` are errors, not silent changes.
pub fn parse_decimal(text: &str, precision: u32, scale: u32) -> Result<i128, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() || !int_part.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("\"{text}\" is not a finite decimal"));
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > scale as usize {
        return Err(format!("{text} has more than {scale} decimal places"));
    }
    let int_trimmed = int_part.trim_start_matches('0');
    if int_trimmed.len() + scale as usize > precision as usize {
        return Err(format!("{text} does not fit decimal({precision},{scale})"));
    }
    let mut unscaled = String::from(if int_trimmed.is_empty() { "0" } else { int_trimmed });
    unscaled.push_str(frac_trimmed);
    unscaled.extend(std::iter::repeat_n('0', scale as usize - frac_trimmed.len()));
    let v: i128 = unscaled.parse().map_err(|_| format!("\"{text}\" is not a decimal"))?;
    Ok(if negative { -v } else { v })
}

// ---------------------------------------------------------------- FDW shims

#[pg_guard]
pub unsafe extern "C-unwind" fn is_foreign_rel_updatable(_rel: pg_sys::Relation) -> i32 {
    (1 << pg_sys::CmdType::CMD_INSERT) | (1 << pg_sys::CmdType::CMD_UPDATE) | (1 << pg_sys::CmdType::CMD_DELETE)
}

#[pg_guard]
pub unsafe extern "C-unwind" fn plan_foreign_modify(
    _root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    _result_relation: pg_sys::Index,
    _subplan_index: i32,
) -> *mut pg_sys::List {
    if !matches!(
        (*plan).operation,
        pg_sys::CmdType::CMD_INSERT | pg_sys::CmdType::CMD_UPDATE | pg_sys::CmdType::CMD_DELETE
    ) {
        LakeError::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, "MERGE into Iceberg tables is not supported")
            .with_hint("Use INSERT, UPDATE and DELETE.")
            .report();
    }
    // Postgres hands ON CONFLICT DO NOTHING to the wrapper; Iceberg has no
    // unique constraint to conflict with, so silently inserting would be a
    // wrong answer.
    if (*plan).onConflictAction != pg_sys::OnConflictAction::ONCONFLICT_NONE {
        LakeError::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, "INSERT … ON CONFLICT is not supported on Iceberg tables")
            .with_hint("Iceberg tables have no unique constraints; deduplicate in the SELECT (e.g. WHERE NOT EXISTS) instead.")
            .report();
    }
    std::ptr::null_mut()
}

/// What one statement does to one foreign table.
enum Modify {
    Insert(TableInsert),
    Rewrite(TableRewrite),
}

unsafe fn attach_modify(estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo, state: Modify) {
    let p = attach_to_context((*estate).es_query_cxt, Some(state));
    (*rinfo).ri_FdwState = p as *mut c_void;
}

unsafe fn modify_state(rinfo: *mut pg_sys::ResultRelInfo) -> Option<&'static mut Modify> {
    let p = (*rinfo).ri_FdwState as *mut Option<Modify>;
    if p.is_null() {
        None
    } else {
        (*p).as_mut()
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_modify(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    _fdw_private: *mut pg_sys::List,
    _subplan_index: i32,
    eflags: i32,
) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0 {
        return;
    }
    let estate = (*mtstate).ps.state;
    let relid = (*(*rinfo).ri_RelationDesc).rd_id;
    let state = match (*mtstate).operation {
        pg_sys::CmdType::CMD_INSERT => Modify::Insert(TableInsert::new(relid).or_report()),
        operation => {
            let subplan = (*(*mtstate).ps.lefttree).plan;
            let ctid = pg_sys::ExecFindJunkAttributeInTlist((*subplan).targetlist, c"ctid".as_ptr());
            let wholerow = pg_sys::ExecFindJunkAttributeInTlist((*subplan).targetlist, c"wholerow".as_ptr());
            Modify::Rewrite(
                TableRewrite::new(relid, (*(*rinfo).ri_RelationDesc).rd_att, ctid, wholerow, operation == pg_sys::CmdType::CMD_UPDATE)
                    .or_report(),
            )
        }
    };
    attach_modify(estate, rinfo, state);
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin_foreign_insert(mtstate: *mut pg_sys::ModifyTableState, rinfo: *mut pg_sys::ResultRelInfo) {
    let relid = (*(*rinfo).ri_RelationDesc).rd_id;
    attach_modify((*mtstate).ps.state, rinfo, Modify::Insert(TableInsert::new(relid).or_report()));
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(Modify::Insert(state)) = modify_state(rinfo) {
        state.insert(slot).or_report();
    }
    slot
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_delete(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(Modify::Rewrite(state)) = modify_state(rinfo) {
        state.record_old_row(plan_slot, Some(slot)).or_report();
    }
    slot
}

#[pg_guard]
pub unsafe extern "C-unwind" fn exec_foreign_update(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    if let Some(Modify::Rewrite(state)) = modify_state(rinfo) {
        state.record_old_row(plan_slot, None).or_report();
        if let Some(new_rows) = state.new_rows.as_mut() {
            new_rows.insert(slot).or_report();
        }
    }
    slot
}

unsafe fn end_modify(rinfo: *mut pg_sys::ResultRelInfo) {
    let p = (*rinfo).ri_FdwState as *mut Option<Modify>;
    if p.is_null() {
        return;
    }
    match (*p).take() {
        Some(Modify::Insert(mut state)) => state.finish().or_report(),
        Some(Modify::Rewrite(mut state)) => state.finish().or_report(),
        None => {}
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_modify(_estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo) {
    end_modify(rinfo);
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end_foreign_insert(_estate: *mut pg_sys::EState, rinfo: *mut pg_sys::ResultRelInfo) {
    end_modify(rinfo);
}

/// UPDATE and DELETE: old rows are collected per data file during the
/// statement; at its end each touched file is removed whole (when every row
/// goes) or rewritten without those rows (copy-on-write), and UPDATE's new
/// rows are written as new files.
pub struct TableRewrite {
    relid: u32,
    tupdesc: pg_sys::TupleDesc,
    ctid_att: i16,
    wholerow_att: i16,
    /// file ordinal → row key → how many such rows go.
    doomed: HashMap<u32, HashMap<String, u32>>,
    keys: super::rowid::RowKeys,
    new_rows: Option<TableInsert>,
}

impl TableRewrite {
    fn new(relid: pg_sys::Oid, tupdesc: pg_sys::TupleDesc, ctid_att: i16, wholerow_att: i16, update: bool) -> LakeResult<Self> {
        let resolved = source::resolve(relid)?;
        check_writable(&resolved)?;
        if ctid_att <= 0 || wholerow_att <= 0 {
            return Err(LakeError::internal("UPDATE/DELETE plan lacks the row identity columns"));
        }
        Ok(TableRewrite {
            relid: relid.to_u32(),
            tupdesc,
            ctid_att,
            wholerow_att,
            doomed: HashMap::new(),
            keys: super::rowid::RowKeys::new(),
            new_rows: if update { Some(TableInsert::new(relid)?) } else { None },
        })
    }

    /// Note one old row (from the plan's ctid and wholerow columns); for
    /// DELETE … RETURNING also put it in `out`.
    unsafe fn record_old_row(&mut self, plan_slot: *mut pg_sys::TupleTableSlot, out: Option<*mut pg_sys::TupleTableSlot>) -> LakeResult<()> {
        let mut is_null = false;
        let ctid = pg_sys::slot_getattr(plan_slot, self.ctid_att as i32, &mut is_null);
        if is_null {
            return Err(LakeError::internal("row to modify has no identity"));
        }
        let ordinal = super::rowid::ordinal_of_ctid(ctid);
        let whole = pg_sys::slot_getattr(plan_slot, self.wholerow_att as i32, &mut is_null);
        if is_null {
            return Err(LakeError::internal("row to modify has no values"));
        }
        let header = pg_sys::pg_detoast_datum(whole.cast_mut_ptr()) as pg_sys::HeapTupleHeader;
        let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
        tuple.t_len = pgrx::varlena::varsize_any(header as *const pg_sys::varlena) as u32;
        tuple.t_data = header;
        let natts = (*self.tupdesc).natts as usize;
        let mut values = vec![pg_sys::Datum::from(0usize); natts];
        let mut nulls = vec![true; natts];
        pg_sys::heap_deform_tuple(&mut tuple, self.tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        let key = self.keys.key(self.tupdesc, &values, &nulls);
        *self.doomed.entry(ordinal).or_default().entry(key).or_insert(0) += 1;
        if let Some(slot) = out {
            pg_sys::ExecClearTuple(slot);
            let n = (*(*slot).tts_tupleDescriptor).natts as usize;
            for i in 0..n.min(natts) {
                *(*slot).tts_values.add(i) = values[i];
                *(*slot).tts_isnull.add(i) = nulls[i];
            }
            pg_sys::ExecStoreVirtualTuple(slot);
        }
        Ok(())
    }

    fn finish(&mut self) -> LakeResult<()> {
        let doomed = std::mem::take(&mut self.doomed);
        for (ordinal, rows) in doomed {
            let task = super::rowid::task(self.relid, ordinal)?;
            let count: u64 = rows.values().map(|c| *c as u64).sum();
            if task.deletes.is_empty() && task.record_count == Some(count) {
                // Every row of the file goes: drop it, nothing to rewrite.
                self.record_removal(&task.data_file_path)?;
                continue;
            }
            unsafe { self.rewrite_file(task, rows)? };
        }
        if let Some(new_rows) = self.new_rows.as_mut() {
            new_rows.finish()?;
        }
        Ok(())
    }

    fn record_removal(&self, path: &str) -> LakeResult<()> {
        let resolved = source::resolve(pg_sys::Oid::from(self.relid))?;
        let schema = resolved.metadata.current_schema().clone();
        let ident = resolved.table()?.identifier().clone();
        record_ops(self.relid, &resolved.server, &ident, &schema, std::iter::once(PendingOp::Remove(path.to_string())));
        set_read_base(self.relid, super::rowid::snapshot_of(self.relid));
        Ok(())
    }

    /// Copy-on-write: write the file's surviving rows to new files and
    /// remove the old one.
    unsafe fn rewrite_file(&mut self, mut task: FileScanTask, mut rows: HashMap<String, u32>) -> LakeResult<()> {
        use futures::StreamExt;
        let relid = pg_sys::Oid::from(self.relid);
        let resolved = source::resolve(relid)?;
        let columns = slot_columns(relid);
        let natts = (*self.tupdesc).natts as usize;
        // Read every column the table has, by field id.
        let mut reads: Vec<(usize, super::convert::Target)> = Vec::new();
        let mut field_ids = Vec::new();
        for (att, name, field_id, type_oid) in &columns {
            let field = if *field_id != 0 { task.schema.field_by_id(*field_id) } else { task.schema.field_by_name(name) };
            if let Some(field) = field {
                let typmod = (*(*self.tupdesc).attrs.as_ptr().add(*att)).atttypmod;
                field_ids.push(field.id);
                reads.push((*att, super::convert::Target::for_type(*type_oid, typmod)));
            }
        }
        task.project_field_ids = field_ids;
        task.predicate = None;
        let path = task.data_file_path.clone();
        let mut kept = TableInsert::new(relid)?;
        let reader = iceberg::arrow::ArrowReaderBuilder::new(resolved.server.file_io(), crate::runtime::iceberg_runtime()).build();
        let mut stream = reader
            .read(futures::stream::iter([Ok(task)]).boxed())
            .map_err(|e| write_error(&resolved.server, &e))?
            .stream();
        let mut scratch = pgrx::PgMemoryContexts::new("townlake rewrite");
        while let Some(batch) = block_on(stream.next()) {
            let batch = batch.map_err(|e| write_error(&resolved.server, &e))?;
            pgrx::check_for_interrupts!();
            let columns: Vec<arrow_array::ArrayRef> = batch.columns().iter().map(super::convert::plain).collect();
            scratch.switch_to(|_| -> LakeResult<()> {
                let mut values = vec![pg_sys::Datum::from(0usize); natts];
                let mut nulls = vec![true; natts];
                for row in 0..batch.num_rows() {
                    nulls.fill(true);
                    for (col, (att, target)) in reads.iter_mut().enumerate() {
                        if let Some(d) = super::convert::datum_at(&columns[col], row, target)? {
                            values[*att] = d;
                            nulls[*att] = false;
                        }
                    }
                    let key = self.keys.key(self.tupdesc, &values, &nulls);
                    match rows.get_mut(&key) {
                        Some(n) if *n > 0 => *n -= 1,
                        _ => kept.insert_row(values.as_ptr(), nulls.as_ptr())?,
                    }
                }
                Ok(())
            })?;
            scratch.reset();
        }
        if rows.values().any(|n| *n > 0) {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                format!("rows to change were not found again in {path}"),
            )
            .with_hint("The table changed during the statement; retry the transaction."));
        }
        kept.finish()?;
        self.record_removal(&path)
    }
}
