//! Executing an Iceberg foreign scan: choose the snapshot, evaluate the pushed
//! operands, plan data files (pruned by partition values and column
//! statistics), then stream Arrow batches into tuple slots.

use arrow_array::RecordBatch;
use futures::{StreamExt, TryStreamExt};
use iceberg::arrow::{ArrowReaderBuilder, ScanMetrics};
use iceberg::scan::{ArrowRecordBatchStream, FileScanTask};
use iceberg::spec::SchemaRef;
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;

use super::agg::{Aggregator, Cell};
use super::convert::{BatchColumn, FastColumn, Target};
use super::plan::ScanPlan;
use crate::errors::{iceberg_message, LakeError, LakeResult};
use crate::fdw::explain::Explain;
use crate::fdw::parallel::Participant;
use crate::fdw::params::Operands;
use crate::fdw::scan::{ExecContext, ScanSlot};
use crate::iceberg::settings;
use crate::iceberg::predicate::{self, ColumnRef};
use crate::iceberg::source::{self, ResolvedTable, ServerConfig};
use crate::iceberg::timetravel::{self, ChoiceSource, SnapshotChoice};
use crate::iceberg::txn;
use crate::runtime::block_on;

/// What one scan planned, for EXPLAIN.
#[derive(Default, Clone)]
pub struct ScanReport {
    pub table: String,
    pub snapshot_id: Option<i64>,
    pub filter: Option<String>,
    pub files_planned: usize,
    pub files_total: Option<usize>,
    pub rows_read: u64,
    pub planned: bool,
    /// LIMIT applied at the source (the filter is exact).
    pub limit: Option<u64>,
    /// Aggregate scans: files whose rows were counted from metadata alone.
    pub metadata_files: usize,
    /// Aggregate scans with the filter evaluated on the decoded batches
    /// (see `mask`): files read without the reader's row filter.
    pub masked_files: Option<usize>,
}

pub struct IcebergScan {
    pub plan: ScanPlan,
    /// The pushed operands, evaluated when the scan starts.
    operands: Operands,
    pub report: ScanReport,
    running: Option<Running>,
    finished: bool,
    /// In a parallel scan: every process plans the same (sorted) files from
    /// the same snapshot and claims them one by one.
    pub parallel: Option<Participant>,
    /// An aggregate scan's result rows and the next one to return.
    aggregated: Option<(Vec<Vec<Cell>>, usize)>,
    /// A top-N scan's rows (in order) and the next one to return.
    topped: Option<Topped>,
    /// The table as the first (re)start of this scan resolved it (kept
    /// across rescans).
    resolved: Option<ResolvedTable>,
}

struct Topped {
    batch: Option<RecordBatch>,
    /// Per output: its batch column, converter and target.
    outputs: Vec<(usize, FastColumn, Target)>,
    row: usize,
}

struct Running {
    stream: ArrowRecordBatchStream,
    /// An aggregate read by readers that aggregate their own batches (see
    /// `Prepared::start`): their partial results.
    partials: Vec<AbortOnDrop<PartialResult>>,
    /// The tasks decoding ahead (see `decode_ahead`); declared after the
    /// stream, so the receivers are gone before the tasks are aborted.
    _decoders: Vec<AbortOnDrop>,
    /// One per reader.
    metrics: Vec<ScanMetrics>,
    batch: Option<RecordBatch>,
    row: usize,
    /// For each batch column: the tuple slot index it fills and its converter.
    outputs: Vec<(usize, Target)>,
    secrets: ServerConfig,
    open_files: OpenFiles,
    /// Data files handed to the reader so far (EXPLAIN ANALYZE).
    files_read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The current batch's columns, converted to datums once per batch.
    columns: Vec<BatchColumn>,
    /// Batch column holding `_file`, when rows need an identity.
    file_column: Option<usize>,
    relid: u32,
    /// Ordinal of the current batch's data file (row identity).
    file_ordinal: u32,
}

/// Data files most recently handed to the reader.
type OpenFiles = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>;

impl IcebergScan {
    pub fn new(plan: ScanPlan, operands: Operands) -> Self {
        IcebergScan {
            plan,
            operands,
            report: ScanReport::default(),
            running: None,
            finished: false,
            parallel: None,
            aggregated: None,
            topped: None,
            resolved: None,
        }
    }

    pub fn bytes_read(&self) -> Option<u64> {
        self.running.as_ref().map(|r| r.metrics.iter().map(|m| m.bytes_read()).sum())
    }

    pub fn files_read(&self) -> u64 {
        self.running.as_ref().map_or(0, |r| r.files_read.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Forget the running scan; the next `next_row` starts over (re-evaluating
    /// parameters).
    pub fn rescan(&mut self) {
        self.running = None;
        self.finished = false;
        self.report.rows_read = 0;
        self.aggregated = None;
        self.topped = None;
    }

    /// Plan without reading, for EXPLAIN (only when operands are constants).
    pub fn plan_for_explain(&mut self, cx: &ExecContext) -> LakeResult<()> {
        if self.report.planned || !self.operands.all_constant() {
            return Ok(());
        }
        let prepared = self.prepare(cx)?;
        self.report = prepared.report;
        Ok(())
    }

    /// Fill `slot` with the next row; false at the end.
    pub fn next_row(&mut self, cx: &ExecContext, slot: &mut ScanSlot) -> LakeResult<bool> {
        if self.plan.aggregate.is_some() {
            return self.next_aggregate_row(cx, slot);
        }
        if self.plan.top_n.is_some() {
            return self.next_top_row(cx, slot);
        }
        if self.finished {
            return Ok(false);
        }
        if self.running.is_none() {
            let mut prepared = self.prepare(cx)?;
            self.report = prepared.report.clone();
            if let Some(participant) = self.parallel {
                // Every process must see the files in the same order.
                prepared.tasks.sort_by(|a, b| a.data_file_path.cmp(&b.data_file_path));
                // Workers claim byte ranges of large files (row groups), not whole files.
                prepared.tasks = super::split::pieces(std::mem::take(&mut prepared.tasks));
                if participant.sits_out() {
                    self.finished = true;
                    return Ok(false);
                }
                prepared.shared = Some(participant);
            }
            match prepared.start(None)? {
                Some(r) => self.running = Some(r),
                None => {
                    self.finished = true;
                    return Ok(false);
                }
            }
        }
        let running = self.running.as_mut().expect("scan is running");
        loop {
            if let Some(batch) = &running.batch {
                if running.row < batch.num_rows() {
                    let (columns, row, outputs) = (&running.columns, running.row, &mut running.outputs);
                    slot.fill(|values, nulls| {
                        for (column, (index, target)) in columns.iter().zip(outputs.iter_mut()) {
                            if let Some(d) = column.datum(row, target)? {
                                values[*index] = d;
                                nulls[*index] = false;
                            }
                        }
                        Ok(())
                    })?;
                    if running.file_column.is_some() {
                        slot.set_row_identity(pg_sys::Oid::from(running.relid), running.file_ordinal);
                    }
                    running.row += 1;
                    self.report.rows_read += 1;
                    return Ok(true);
                }
            }
            pgrx::check_for_interrupts!();
            let next = block_on(running.stream.next());
            match next {
                None => {
                    running.batch = None;
                    self.finished = true;
                    return Ok(false);
                }
                Some(Ok(batch)) => {
                    if let Some(col) = running.file_column {
                        running.file_ordinal = super::rowid::ordinal_of_batch(running.relid, batch.column(col))?;
                    }
                    running.columns = batch
                        .columns()
                        .iter()
                        .zip(running.outputs.iter())
                        .map(|(array, (_, target))| BatchColumn::new(array, target))
                        .collect();
                    running.batch = Some(batch);
                    running.row = 0;
                }
                Some(Err(e)) => {
                    let mut err = read_error(&running.secrets, &e);
                    let files: Vec<String> =
                        running.open_files.lock().map(|f| f.iter().cloned().collect()).unwrap_or_default();
                    if !files.is_empty() && !err.message.contains(files[0].as_str()) {
                        let which = if files.len() == 1 { "data file" } else { "one of the data files" };
                        err = err.with_detail(format!("While reading {which} {}.", files.join(", ")));
                    }
                    return Err(err);
                }
            }
        }
    }

    /// The next result row of an aggregate scan (all computed on the first call).
    fn next_aggregate_row(&mut self, cx: &ExecContext, slot: &mut ScanSlot) -> LakeResult<bool> {
        if self.aggregated.is_none() {
            let rows = self.aggregate(cx)?;
            self.aggregated = Some((rows, 0));
        }
        let (rows, next) = self.aggregated.as_mut().expect("aggregated");
        let Some(row) = rows.get(*next) else {
            return Ok(false);
        };
        *next += 1;
        let spec = self.plan.aggregate.as_ref().expect("aggregate scan");
        let columns = &self.plan.columns;
        slot.fill(|values, nulls| {
            cx.in_tuple_memory(|| {
                for (k, cell) in row.iter().enumerate() {
                    // The output's type: the key column's, or the aggregate's
                    // (min/max: the column's; the rest are fixed by spec_for).
                    let (type_oid, typmod, scale) = super::aggplan::output_type(spec, k, columns);
                    if let Some(d) = super::aggplan::cell_datum(cell, type_oid, typmod, scale)? {
                        values[k] = d;
                        nulls[k] = false;
                    }
                }
                Ok(())
            })
        })?;
        Ok(true)
    }

    /// The next row of a top-N scan (all read on the first call).
    fn next_top_row(&mut self, cx: &ExecContext, slot: &mut ScanSlot) -> LakeResult<bool> {
        if self.topped.is_none() {
            let topped = self.read_top_rows(cx)?;
            self.topped = Some(topped);
        }
        let topped = self.topped.as_mut().expect("top rows");
        let Some(batch) = &topped.batch else { return Ok(false) };
        if topped.row >= batch.num_rows() {
            return Ok(false);
        }
        let row = topped.row;
        let outputs = &mut topped.outputs;
        slot.fill(|values, nulls| {
            for (k, (_, column, target)) in outputs.iter_mut().enumerate() {
                if let Some(d) = column.datum(row, target)? {
                    values[k] = d;
                    nulls[k] = false;
                }
            }
            Ok(())
        })?;
        topped.row += 1;
        Ok(true)
    }

    fn read_top_rows(&mut self, cx: &ExecContext) -> LakeResult<Topped> {
        let top = self.plan.top_n.clone().expect("top-N scan");
        let prepared = self.prepare(cx)?;
        self.report = prepared.report.clone();
        if !prepared.filter_exact {
            return Err(not_exact(&self.report.table));
        }
        // Batch columns: the needed columns present in the snapshot's schema.
        let present: Vec<usize> = self.plan.needed.iter().copied().filter(|i| prepared.names[*i].is_some()).collect();
        // (A table never written has no schema to check against, and no rows.)
        if prepared.schema.is_some() && top.outputs.iter().any(|c| !present.contains(c)) {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_ERROR,
                format!("cannot keep the first rows of Iceberg table {} in the scan", self.report.table),
            )
            .with_detail("A column of the query is not in the snapshot's schema.")
            .with_hint("SET townlake.iceberg_aggregate_pushdown = off for this query."));
        }
        let mut rows = super::topn::TopRows::new();
        if let Some(mut running) = prepared.start(None)? {
            loop {
                pgrx::check_for_interrupts!();
                match block_on(running.stream.next()) {
                    None => break,
                    Some(Ok(batch)) => {
                        self.report.rows_read += batch.num_rows() as u64;
                        rows.add(&top, &present, &batch)
                            .map_err(|e| LakeError::internal(format!("top-N on Arrow batches: {e}")))?;
                    }
                    Some(Err(e)) => return Err(read_error(&running.secrets, &e)),
                }
            }
            self.running = Some(running);
        }
        let batch = rows.finish();
        let mut outputs = Vec::with_capacity(top.outputs.len());
        if let Some(batch) = &batch {
            for k in 0..top.outputs.len() {
                let at = top.batch_column(k, &present).expect("checked above");
                let c = &self.plan.columns[top.outputs[k]];
                let target = Target::for_type(pg_sys::Oid::from(c.type_oid), c.typmod);
                outputs.push((at, FastColumn::new(batch.column(at), &target), target));
            }
        }
        Ok(Topped { batch, outputs, row: 0 })
    }

    /// Read the files that metadata cannot answer and aggregate their batches.
    fn aggregate(&mut self, cx: &ExecContext) -> LakeResult<Vec<Vec<Cell>>> {
        let spec = self.plan.aggregate.clone().expect("aggregate scan");
        let prepared = self.prepare(cx)?;
        self.report = prepared.report.clone();
        if !prepared.filter_exact {
            return Err(not_exact(&self.report.table));
        }
        if let Some(bests) = &prepared.metadata_bests {
            return Ok(Aggregator::from_metadata(&spec, prepared.metadata_rows, bests).finish());
        }
        let mut agg = Aggregator::new(&spec);
        let group_limit = max_groups(spec.aggs.len());
        if prepared.metadata_rows > 0 {
            agg.add_counted_rows(prepared.metadata_rows);
        }
        // Batch columns come in the order of the selected names (see
        // aggplan::spec_for): those of the inputs present in the snapshot's
        // schema; the others read as NULL.
        let present: Vec<bool> = spec.inputs.iter().map(|i| prepared.names[*i].is_some()).collect();
        if prepared.tasks.is_empty() {
            return Ok(agg.finish());
        }
        let mask = prepared.mask.clone();
        let in_readers = ReaderAggregate { spec: spec.clone(), present: present.clone(), mask: mask.clone(), group_limit };
        let Some(mut running) = prepared.start(Some(in_readers))? else {
            return Ok(agg.finish());
        };
        if !running.partials.is_empty() {
            // Each reader decoded and aggregated its share on a runtime
            // worker; the groups they found are merged here, into the first
            // reader's (at most two readers' groups in memory at once).
            // Dropping `running` (an error, a cancel) aborts the readers
            // still going.
            let mut merged: Option<Aggregator> = None;
            for partial in running.partials.iter_mut() {
                let result = block_on(&mut partial.0)
                    .map_err(|e| LakeError::internal(format!("aggregate reader stopped: {e}")))?;
                let (part, rows) = match result {
                    Ok(done) => done,
                    Err(PartialError::Read(e)) => return Err(read_error(&running.secrets, &e)),
                    Err(PartialError::Aggregate(e)) => return Err(super::aggplan::agg_error(e)),
                    Err(PartialError::TooManyGroups) => return Err(too_many_groups(group_limit)),
                };
                self.report.rows_read += rows;
                match merged.as_mut() {
                    None => merged = Some(part),
                    Some(total) => total.merge(part).map_err(super::aggplan::agg_error)?,
                }
                if merged.as_ref().is_some_and(|m| m.groups() > group_limit) {
                    return Err(too_many_groups(group_limit));
                }
            }
            running.partials.clear();
            self.running = Some(running);
            // `agg` holds the rows counted from metadata alone.
            let total = match merged {
                Some(mut total) => {
                    total.merge(agg).map_err(super::aggplan::agg_error)?;
                    total
                }
                None => agg,
            };
            return Ok(total.finish());
        }
        loop {
            pgrx::check_for_interrupts!();
            match block_on(running.stream.next()) {
                None => break,
                Some(Ok(batch)) => {
                    let (columns, rows) = aggregate_input(&batch, &present, mask.as_deref()).map_err(super::aggplan::agg_error)?;
                    if rows > 0 {
                        agg.update(&columns, rows).map_err(super::aggplan::agg_error)?;
                    }
                    self.report.rows_read += batch.num_rows() as u64;
                    if agg.groups() > group_limit {
                        return Err(too_many_groups(group_limit));
                    }
                }
                Some(Err(e)) => return Err(read_error(&running.secrets, &e)),
            }
        }
        self.running = Some(running);
        Ok(agg.finish())
    }

    /// Resolve table and snapshot, evaluate operands, plan files.
    fn prepare(&mut self, cx: &ExecContext) -> LakeResult<Prepared> {
        // Resolved once per scan: a rescan (the inner side of a nested loop,
        // a subplan) runs under the same statement snapshot, so the catalog
        // lookups would find the same metadata file again.
        let resolved = match &self.resolved {
            Some(r) => r.clone(),
            None => {
                let r = source::with_mapping_user(pg_sys::Oid::from(self.plan.mapping_user), || {
                    source::resolve(pg_sys::Oid::from(self.plan.relid))
                })?;
                self.resolved = Some(r.clone());
                r
            }
        };
        let choice = snapshot_choice(&resolved, pg_sys::Oid::from(self.plan.relid))?;
        let snapshot_id = timetravel::resolve(&resolved.metadata, choice).map_err(|m| {
            let m = format!("Iceberg table {}: {m}", resolved.display_name);
            LakeError::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, m).with_hint(
                "List the table's snapshots with SELECT * FROM lake.snapshots('table'::regclass).",
            )
        })?;
        let mut report = ScanReport {
            table: resolved.display_name.clone(),
            snapshot_id,
            planned: true,
            ..Default::default()
        };
        // This transaction's own uncommitted writes (read-your-writes), only
        // when reading the current state.
        let own_writes =
            if matches!(choice, SnapshotChoice::Current) { txn::own_changes(self.plan.relid) } else { None };
        if snapshot_id.is_none() && own_writes.is_none() {
            // No snapshot yet: no column has a name in it (every input reads as NULL).
            let names = vec![None; self.plan.columns.len()];
            return Ok(Prepared { shared: None, resolved, report, schema: None, names, tasks: vec![], plan: self.plan.clone(), page_index: true, filter_exact: true, metadata_rows: 0, metadata_bests: None, mask: None });
        }
        let snapshot = snapshot_id.and_then(|id| resolved.metadata.snapshot_by_id(id).cloned());
        let schema: SchemaRef = match &snapshot {
            Some(s) => s.schema(&resolved.metadata).map_err(|e| LakeError::internal(iceberg_message(&e)))?,
            None => resolved.metadata.current_schema().clone(),
        };
        // Each plan column's name in this snapshot's schema (None: not there yet).
        let names: Vec<Option<String>> = self
            .plan
            .columns
            .iter()
            .map(|c| schema.name_by_field_id(c.field_id).map(|s| s.to_string()))
            .collect();
        let slots = cx.evaluate(&self.operands)?;
        let promoted = promoted_fields(&resolved.metadata, &schema);
        let added = added_fields(&resolved.metadata, &schema);
        let mut limit_ok = false;
        // Aggregates and top-N: no WHERE is rechecked above the scan.
        let aggregate = self.plan.aggregate.is_some() || self.plan.top_n.is_some();
        let filter = match (&self.plan.filter, slots) {
            (Some(f), Some(slots)) => {
                let cols: Vec<ColumnRef<'_>> = names
                    .iter()
                    .zip(&self.plan.columns)
                    .map(|(n, c)| ColumnRef {
                        name: n.as_deref(),
                        // An aggregate's rows are not rechecked: text ranges
                        // are exact only in byte order.
                        byte_ordered: !aggregate || super::aggplan::byte_ordered(self.plan.relid, c),
                        promoted: promoted.contains(&c.field_id),
                    })
                    .collect();
                let (predicate, exact) = predicate::to_iceberg_exactness(f, &cols, &slots, &schema);
                limit_ok = exact;
                predicate
            }
            _ => None,
        };
        // Manifests are pruned with the whole filter; the Parquet reader only
        // gets the part it evaluates correctly (see predicate::reader_filter).
        let reader = filter
            .as_ref()
            .map(|p| predicate::reader_filter(p, &schema, &|id| promoted.contains(&id) || added.contains(&id)));
        let page_index = reader.as_ref().is_none_or(|r| r.page_index);
        let mut filter_exact = match (&self.plan.filter, &filter) {
            (None, _) => true,
            (Some(_), Some(p)) => {
                limit_ok && reader.as_ref().is_some_and(|r| r.predicate.as_ref() == Some(&p.clone().rewrite_not()))
            }
            (Some(_), None) => false,
        };
        // Bound like iceberg binds a scan's filter; unbindable means unfiltered.
        let reader_predicate = reader
            .and_then(|r| r.predicate)
            .and_then(|p| iceberg::expr::Bind::bind(&p, schema.clone(), true).ok());
        filter_exact &= self.plan.filter.is_none() || reader_predicate.is_some();
        if self.plan.filter.is_none() {
            limit_ok = true;
        }
        report.limit = self.plan.limit.filter(|_| limit_ok);
        report.filter = filter.as_ref().map(|p| p.to_string());
        report.files_total = snapshot.as_ref().and_then(|s| {
            s.summary().additional_properties.get("total-data-files").and_then(|v| v.parse().ok())
        });

        // An aggregate's exact filter of comparisons on integer, date and
        // timestamp columns is evaluated on the decoded batches (see `mask`):
        // its columns are read too, in table order with the inputs.
        let mut read_columns = self.plan.needed.clone();
        let mut row_mask = None;
        if let (Some(spec), true, Some(p)) = (&self.plan.aggregate, filter_exact, &reader_predicate) {
            let column_of = |id: i32| self.plan.columns.iter().position(|c| c.field_id == id).filter(|i| names[*i].is_some());
            let mut ids = Vec::new();
            super::mask::field_ids(p, &mut ids);
            if let Some(extra) = ids.iter().map(|id| column_of(*id)).collect::<Option<Vec<usize>>>() {
                let mut read: Vec<usize> = self.plan.needed.iter().copied().chain(extra).collect();
                read.sort_unstable();
                read.dedup();
                read.retain(|i| names[*i].is_some());
                let position = |id: i32| column_of(id).and_then(|c| read.iter().position(|r| *r == c));
                if let Some(mask) = super::mask::RowMask::new(p, &position) {
                    let inputs = spec.inputs.iter().map(|i| read.iter().position(|r| r == i)).collect();
                    row_mask = Some(std::sync::Arc::new(MaskedRead { mask, inputs }));
                    read_columns = read;
                }
            }
        }
        let selected: Vec<String> = read_columns.iter().filter_map(|i| names[*i].clone()).collect();
        let mut tasks: Vec<FileScanTask> = Vec::new();
        if let Some(snapshot_id) = snapshot_id {
            let table = resolved.table()?;
            let mut columns = selected.clone();
            if self.plan.row_identity {
                columns.push(iceberg::metadata_columns::RESERVED_COL_NAME_FILE.to_string());
            }
            let plan_with = |filter: Option<iceberg::expr::Predicate>| -> iceberg::Result<Vec<FileScanTask>> {
                let mut builder = table
                    .scan()
                    .snapshot_id(snapshot_id)
                    .with_row_group_filtering_enabled(true)
                    .with_row_selection_enabled(true);
                builder = if columns.is_empty() { builder.select_empty() } else { builder.select(columns.clone()) };
                if let Some(p) = filter {
                    builder = builder.with_filter(p);
                }
                let scan = builder.build()?;
                block_on(async { scan.plan_files().await?.try_collect().await })
            };
            // Manifests get the filter with the leaves iceberg projects
            // wrongly through partition transforms weakened.
            let truncations: Vec<(String, u32)> = table
                .metadata()
                .partition_specs_iter()
                .flat_map(|spec| spec.fields().iter())
                .filter_map(|f| match f.transform {
                    iceberg::spec::Transform::Truncate(w) => {
                        schema.field_by_id(f.source_id).map(|field| (field.name.clone(), w))
                    }
                    _ => None,
                })
                .collect();
            let widths = |name: &str| -> Vec<u32> {
                truncations.iter().filter(|(n, _)| n == name).map(|(_, w)| *w).collect()
            };
            let hour_sources: Vec<String> = table
                .metadata()
                .partition_specs_iter()
                .flat_map(|spec| spec.fields().iter())
                .filter(|f| f.transform == iceberg::spec::Transform::Hour)
                .filter_map(|f| schema.field_by_id(f.source_id).map(|field| field.name.clone()))
                .collect();
            let hour_partitioned = |name: &str| hour_sources.iter().any(|n| n == name);
            // Partition values under names that are not Avro names are read
            // as NULLs (crate::iceberg::partition::is_avro_name).
            let unreadable_sources: Vec<String> = table
                .metadata()
                .partition_specs_iter()
                .flat_map(|spec| spec.fields().iter())
                .filter(|f| !crate::iceberg::partition::is_avro_name(&f.name))
                .filter_map(|f| schema.field_by_id(f.source_id).map(|field| field.name.clone()))
                .collect();
            let unreadable = |name: &str| unreadable_sources.iter().any(|n| n == name);
            let manifest_filter = filter
                .as_ref()
                .map(|p| predicate::manifest_filter_for(p, &widths, &hour_partitioned, &unreadable));
            tasks = match (plan_with(manifest_filter), filter.is_some()) {
                (Ok(mut tasks), _) => {
                    for task in tasks.iter_mut() {
                        task.predicate = reader_predicate.clone();
                    }
                    if let (Some(p), Some(snapshot), true) = (&reader_predicate, &snapshot, row_mask.is_some()) {
                        report.masked_files = Some(without_row_filter(&resolved, snapshot, p, &mut tasks)?);
                    }
                    tasks
                }
                // iceberg cannot apply some filters (e.g. decimal literals
                // through truncate partitions): read without pruning rather
                // than fail; Postgres still checks every clause.
                (Err(e), true) if aggregate => {
                    // No recheck above an aggregate: the reader still
                    // filters every row of the unpruned files.
                    report.filter = Some(format!(
                        "{} (rows only, files not pruned: {})",
                        filter.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                        iceberg_message(&e)
                    ));
                    let mut tasks = plan_with(None).map_err(|e| read_error(&resolved.server, &e))?;
                    for task in tasks.iter_mut() {
                        task.predicate = reader_predicate.clone();
                    }
                    if let (Some(p), Some(snapshot), true) = (&reader_predicate, &snapshot, row_mask.is_some()) {
                        report.masked_files = Some(without_row_filter(&resolved, snapshot, p, &mut tasks)?);
                    }
                    tasks
                }
                (Err(e), true) => {
                    report.filter = Some(format!("not applied ({})", iceberg_message(&e)));
                    report.limit = None;
                    plan_with(None).map_err(|e| read_error(&resolved.server, &e))?
                }
                (Err(e), _) => return Err(read_error(&resolved.server, &e)),
            };
        }
        let own_writes_absent = own_writes.is_none();
        let mut pending_paths = std::collections::HashSet::new();
        if let Some(own) = own_writes {
            tasks.retain(|t| !own.net.removed.contains(&t.data_file_path));
            // The columns the planned files are read with (a masked
            // filter's too).
            let mut field_ids: Vec<i32> = read_columns
                .iter()
                .filter(|i| names[**i].is_some())
                .map(|i| self.plan.columns[*i].field_id)
                .collect();
            if self.plan.row_identity {
                field_ids.push(iceberg::metadata_columns::RESERVED_FIELD_ID_FILE);
            }
            let mut pending = own_scan_tasks(&own, &field_ids);
            if aggregate && self.plan.filter.is_some() {
                // Not pruned by the manifests: the reader filters their rows
                // (with a predicate bound to the schema they were written with).
                if own.schema.schema_id() == schema.schema_id() {
                    for task in pending.iter_mut() {
                        task.predicate = reader_predicate.clone();
                    }
                } else {
                    filter_exact = false;
                }
            }
            pending_paths.extend(pending.iter().map(|t| t.data_file_path.clone()));
            report.files_total = Some(report.files_total.unwrap_or(0) + pending.len());
            tasks.extend(pending);
        }
        // A pushed LIMIT with no filter: the first files that hold enough
        // rows are all that is needed.
        if let (Some(limit), true) = (report.limit, report.filter.is_none()) {
            let sure_rows: Vec<u64> =
                tasks.iter().map(|t| if t.deletes.is_empty() { t.record_count.unwrap_or(0) } else { 0 }).collect();
            tasks.truncate(super::limit::files_needed(&sure_rows, limit));
        }
        report.files_planned = tasks.len();
        if self.plan.row_identity {
            super::rowid::publish(self.plan.relid, &tasks, snapshot_id);
        }
        // min/max (and count(*)) from the manifests' column bounds, when no
        // filter applies and every bound is exact.
        if let (Some(spec), Some(snapshot), None, true) =
            (&self.plan.aggregate, &snapshot, &self.plan.filter, own_writes_absent)
        {
            if let Some(answer) = metadata_min_max(&resolved, snapshot, &schema, spec, &self.plan)? {
                report.metadata_files = answer.files;
                report.files_planned = answer.files;
                return Ok(Prepared {
                    shared: None,
                    resolved,
                    report,
                    schema: Some(schema),
                    names,
                    tasks: Vec::new(),
                    plan: self.plan.clone(),
                    page_index,
                    filter_exact,
                    metadata_rows: answer.rows,
                    metadata_bests: Some(answer.bests),
                    mask: None,
                });
            }
        }
        // count(*) alone: files without deletes whose every row is known to
        // pass the filter (none, or only identity-partition columns) are
        // counted from their manifest entries.
        let mut metadata_rows = 0u64;
        if self.plan.aggregate.as_ref().is_some_and(|a| a.count_only()) && filter_exact {
            let filter_fields: Option<Vec<i32>> = match &filter {
                None => Some(Vec::new()),
                Some(p) => {
                    let mut cols = Vec::new();
                    predicate::referenced_columns(p, &mut cols);
                    cols.iter().map(|c| schema.field_by_name(c).map(|f| f.id)).collect()
                }
            };
            // Scan tasks do not say which partition spec wrote their file:
            // every spec the table has had must partition by identity on
            // each filtered column (then a file's rows all match or none do).
            let identity_only = |fields: &[i32]| {
                resolved.metadata.partition_specs_iter().all(|spec| {
                    fields.iter().all(|id| {
                        spec.fields()
                            .iter()
                            .any(|pf| pf.source_id == *id && pf.transform == iceberg::spec::Transform::Identity)
                    })
                })
            };
            if let Some(fields) = filter_fields.filter(|f| f.is_empty() || identity_only(f)) {
                // This transaction's own files were not pruned by the filter.
                let unfiltered = self.plan.filter.is_none();
                // Pruning keeps a file whose partition value is NULL for
                // `p <> 2` and `p NOT IN (…)` (Iceberg's `!=` holds for NULL,
                // SQL's does not): such files are read, never counted whole.
                // Tasks do not carry their spec: with one spec the filtered
                // fields' positions are known; with several, every partition
                // value must be known.
                let specs: Vec<_> = resolved.metadata.partition_specs_iter().collect();
                let positions: Option<Vec<usize>> = match specs.as_slice() {
                    [spec] => Some(
                        spec.fields()
                            .iter()
                            .enumerate()
                            .filter(|(_, pf)| fields.contains(&pf.source_id) && pf.transform == iceberg::spec::Transform::Identity)
                            .map(|(i, _)| i)
                            .collect(),
                    ),
                    _ => None,
                };
                let partition_known = |t: &FileScanTask| {
                    fields.is_empty()
                        || match (&t.partition, &positions) {
                            (Some(values), Some(at)) => at.iter().all(|i| values.fields().get(*i).is_some_and(|v| v.is_some())),
                            (Some(values), None) => values.fields().iter().all(|v| v.is_some()),
                            (None, _) => false,
                        }
                };
                let answered = |t: &FileScanTask| {
                    t.deletes.is_empty()
                        && t.record_count.is_some()
                        && (unfiltered || !pending_paths.contains(&t.data_file_path))
                        && partition_known(t)
                };
                let (counted, read): (Vec<FileScanTask>, Vec<FileScanTask>) = tasks.into_iter().partition(answered);
                metadata_rows = counted.iter().map(|t| t.record_count.unwrap_or(0)).sum();
                report.metadata_files = counted.len();
                tasks = read;
            }
        }
        report.files_planned = tasks.len() + report.metadata_files;
        let mask = row_mask;
        Ok(Prepared {
            shared: None,
            resolved,
            report,
            schema: Some(schema),
            names,
            tasks,
            plan: self.plan.clone(),
            page_index,
            filter_exact,
            metadata_rows,
            metadata_bests: None,
            mask,
        })
    }
}

struct Prepared {
    shared: Option<Participant>,
    resolved: ResolvedTable,
    report: ScanReport,
    schema: Option<SchemaRef>,
    names: Vec<Option<String>>,
    tasks: Vec<FileScanTask>,
    plan: ScanPlan,
    /// The reader may prune pages with the page index.
    page_index: bool,
    /// The reader keeps exactly the rows the pushed filter keeps.
    filter_exact: bool,
    /// count(*) of the files answered from metadata (not in `tasks`).
    metadata_rows: u64,
    /// Every aggregate answered from column bounds: min/max per aggregate.
    metadata_bests: Option<Vec<Option<super::agg::Scalar>>>,
    /// An aggregate's filter evaluated on the decoded batches.
    mask: Option<std::sync::Arc<MaskedRead>>,
}

impl Prepared {
    /// Start reading. `aggregate`: an aggregate of the rows, which readers
    /// outside a parallel scan compute on their batches themselves (the
    /// partials of `Running`); ignored in a parallel scan.
    fn start(self, aggregate: Option<ReaderAggregate>) -> LakeResult<Option<Running>> {
        let open_files: OpenFiles = Default::default();
        if self.schema.is_none() {
            return Ok(None);
        }
        let file_io = self.resolved.server.file_io();
        let parallel = self.shared.is_some();
        // Under a pushed LIMIT, read one file at a time in small batches.
        let mut batch_size = settings::BATCH_SIZE.get().max(64) as usize;
        let mut concurrency = settings::SCAN_CONCURRENCY.get().max(1) as usize;
        if let Some(limit) = self.report.limit {
            batch_size = batch_size.min(limit.max(1) as usize);
            concurrency = 1;
        }
        // Remember which files the reader has started, so a read error can
        // name the file (iceberg's Parquet errors do not).
        let started = open_files.clone();
        let files_read: std::sync::Arc<std::sync::atomic::AtomicU64> = Default::default();
        let counted = files_read.clone();
        let window = settings::SCAN_CONCURRENCY.get().max(1) as usize;
        let page_index = self.page_index;
        let server = self.resolved.server.clone();
        let read = move |tasks: futures::stream::BoxStream<'static, iceberg::Result<FileScanTask>>| {
            let (started, counted) = (started.clone(), counted.clone());
            let tasks = tasks
                .inspect(move |t: &iceberg::Result<FileScanTask>| {
                    if t.is_ok() {
                        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let (Ok(task), Ok(mut files)) = (t, started.lock()) {
                        files.push_back(task.data_file_path.clone());
                        while files.len() > window {
                            files.pop_front();
                        }
                    }
                })
                .boxed();
            ArrowReaderBuilder::new(file_io.clone(), crate::runtime::iceberg_runtime())
                .with_batch_size(batch_size)
                .with_data_file_concurrency_limit(concurrency)
                .with_row_group_filtering_enabled(true)
                .with_row_selection_enabled(page_index)
                .build()
                .read(tasks)
                .map_err(|e| read_error(&server, &e))
        };
        // An aggregate in one process takes no row order and no row identity:
        // with several files, each of two readers decodes its share on a
        // runtime worker of its own (iceberg's reader decodes the files it
        // interleaves on one task), so decoding uses both of the runtime's
        // threads while this backend aggregates.
        let split = !parallel && self.plan.aggregate.is_some() && self.report.limit.is_none() && self.tasks.len() > 1;
        let mut partials = Vec::new();
        let (stream, decoders, metrics) = match self.shared {
            // Parallel: claim the next unread file from shared memory. Not
            // decoded ahead: the claims read dynamic shared memory, which
            // must not be touched after the scan ends, and an aborted task
            // may still be running then.
            Some(participant) => {
                let all = std::sync::Arc::new(self.tasks);
                let tasks = futures::stream::unfold((participant, all), |(participant, all)| async move {
                    let task = all.get(participant.cursor.claim()).cloned()?;
                    Some((Ok(task), (participant, all)))
                })
                .boxed();
                let result = read(tasks)?;
                let metrics = vec![result.metrics().clone()];
                (result.stream(), Vec::new(), metrics)
            }
            // Decode on a runtime worker while this backend turns the
            // previous batch into rows (or aggregates it).
            None => {
                let shares = if split { split_by_size(self.tasks, 2) } else { vec![self.tasks] };
                let (mut streams, mut decoders, mut metrics) = (Vec::new(), Vec::new(), Vec::new());
                for share in shares {
                    let result = read(futures::stream::iter(share.into_iter().map(Ok)).boxed())?;
                    metrics.push(result.metrics().clone());
                    // An aggregate: the reader's task aggregates its batches
                    // where it decodes them (no batch crosses threads, the
                    // backend only merges the partial results).
                    if let Some(aggregate) = &aggregate {
                        partials.push(aggregate_in_reader(result.stream(), aggregate.clone()));
                        continue;
                    }
                    let (stream, guard) = decode_ahead(result.stream(), 2);
                    streams.push(stream);
                    decoders.push(guard);
                }
                let stream = if streams.is_empty() { futures::stream::empty().boxed() } else { futures::stream::select_all(streams).boxed() };
                (stream, decoders, metrics)
            }
        };
        // Batch columns come in the order of the selected names.
        let mut outputs = Vec::new();
        for i in &self.plan.needed {
            if self.names[*i].is_some() {
                let c = &self.plan.columns[*i];
                outputs.push(((c.attnum - 1) as usize, Target::for_type(pg_sys::Oid::from(c.type_oid), c.typmod)));
            }
        }
        let file_column = self.plan.row_identity.then_some(outputs.len());
        Ok(Some(Running {
            file_column,
            relid: self.plan.relid,
            stream,
            partials,
            _decoders: decoders,
            metrics,
            batch: None,
            row: 0,
            outputs,
            secrets: self.resolved.server.clone(),
            open_files,
            files_read,
            file_ordinal: 0,
            columns: Vec::new(),
        }))
    }
}

/// Aborts a spawned task when dropped (the scan ended, was rescanned or
/// failed).
struct AbortOnDrop<T = ()>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a reader that aggregates its own batches computes.
#[derive(Clone)]
struct ReaderAggregate {
    spec: super::agg::AggSpec,
    /// Per aggregate input: whether the snapshot's schema has it (batch
    /// columns are the present ones in order; the others read as NULL).
    present: Vec<bool>,
    /// The filter, when evaluated on the decoded batches.
    mask: Option<std::sync::Arc<MaskedRead>>,
    group_limit: usize,
}

/// An aggregate's filter evaluated on its decoded batches: the batch holds
/// the aggregate's inputs and the filter's columns, in table order.
pub(crate) struct MaskedRead {
    mask: super::mask::RowMask,
    /// Per aggregate input: its batch column (None: not in the snapshot's
    /// schema, read as NULL).
    inputs: Vec<Option<usize>>,
}

enum PartialError {
    Read(iceberg::Error),
    Aggregate(super::agg::AggError),
    TooManyGroups,
}

/// A reader's aggregate of its share and the rows it read.
type PartialResult = Result<(Aggregator, u64), PartialError>;

/// Aggregates `stream` on a runtime worker: decoding and aggregating stay on
/// one thread (pure Rust, nothing of Postgres: principle 4). The first
/// error ends it.
fn aggregate_in_reader(mut stream: ArrowRecordBatchStream, job: ReaderAggregate) -> AbortOnDrop<PartialResult> {
    let handle = crate::runtime::runtime().spawn(async move {
        let mut agg = Aggregator::new(&job.spec);
        let mut rows_read = 0u64;
        while let Some(item) = stream.next().await {
            let batch = item.map_err(PartialError::Read)?;
            let (columns, rows) = aggregate_input(&batch, &job.present, job.mask.as_deref()).map_err(PartialError::Aggregate)?;
            if rows > 0 {
                agg.update(&columns, rows).map_err(PartialError::Aggregate)?;
            }
            rows_read += batch.num_rows() as u64;
            if agg.groups() > job.group_limit {
                return Err(PartialError::TooManyGroups);
            }
        }
        Ok((agg, rows_read))
    });
    AbortOnDrop(handle)
}

/// Moves Parquet decoding off the backend thread: a task on the runtime's
/// workers polls `stream` (where iceberg-rust decompresses and decodes) and
/// hands over up to `depth` finished batches, so decoding overlaps with the
/// executor's work on the rows. Nothing in it touches Postgres (principle 4);
/// memory stays bounded by `depth` batches. The first error ends it.
fn decode_ahead(stream: ArrowRecordBatchStream, depth: usize) -> (ArrowRecordBatchStream, AbortOnDrop) {
    let (tx, rx) = tokio::sync::mpsc::channel(depth.max(1));
    let handle = crate::runtime::runtime().spawn(async move {
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let received = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed();
    (received, AbortOnDrop(handle))
}

/// `tasks` dealt into `n` shares of about equal bytes (largest first, each
/// to the share with the fewest bytes so far).
fn split_by_size(mut tasks: Vec<FileScanTask>, n: usize) -> Vec<Vec<FileScanTask>> {
    tasks.sort_by_key(|t| std::cmp::Reverse(t.length));
    let mut shares: Vec<(u64, Vec<FileScanTask>)> = (0..n.max(1)).map(|_| (0, Vec::new())).collect();
    for task in tasks {
        let smallest = shares.iter_mut().min_by_key(|(bytes, _)| *bytes).expect("n >= 1");
        smallest.0 += task.length;
        smallest.1.push(task);
    }
    shares.into_iter().map(|(_, share)| share).filter(|share| !share.is_empty()).collect()
}

/// An aggregate or top-N scan whose pushed WHERE turns out not to be exact
/// at execution (planning checked it for the current schema).
fn not_exact(table: &str) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FDW_ERROR,
        format!("cannot compute the query over Iceberg table {table} in the scan exactly"),
    )
    .with_detail("The pushed WHERE clause is not applied exactly to this snapshot's files.")
    .with_hint("SET townlake.iceberg_aggregate_pushdown = off for this query.")
}

/// Field ids of `schema` whose type differs in an earlier schema of the
/// table (promoted: older data files hold the narrower type).
pub(crate) fn promoted_fields(metadata: &iceberg::spec::TableMetadata, schema: &iceberg::spec::Schema) -> Vec<i32> {
    schema
        .as_struct()
        .fields()
        .iter()
        .filter(|field| {
            metadata.schemas_iter().any(|other| {
                other.field_by_id(field.id).is_some_and(|old| old.field_type != field.field_type)
            })
        })
        .map(|field| field.id)
        .collect()
}

/// Field ids of `schema` that an earlier schema of the table lacks (added
/// later: older data files do not have them). iceberg-rust's row filter lets
/// such a file's rows pass a comparison on the missing column (`c < 1000`
/// kept rows whose `c` is NULL), so the reader never gets one on these.
pub(crate) fn added_fields(metadata: &iceberg::spec::TableMetadata, schema: &iceberg::spec::Schema) -> Vec<i32> {
    schema
        .as_struct()
        .fields()
        .iter()
        .filter(|field| metadata.schemas_iter().any(|other| other.field_by_id(field.id).is_none()))
        .map(|field| field.id)
        .collect()
}

/// A decoded batch's columns in the aggregate's order: a column the files
/// do not have (`present` false) is all NULL.
fn aggregate_columns(batch: &arrow_array::RecordBatch, present: &[bool]) -> Vec<arrow_array::ArrayRef> {
    let rows = batch.num_rows();
    let mut batch_columns = batch.columns().iter();
    present
        .iter()
        .map(|p| {
            p.then(|| batch_columns.next().cloned())
                .flatten()
                .unwrap_or_else(|| arrow_array::new_null_array(&arrow_schema::DataType::Null, rows))
        })
        .collect()
}

/// A decoded batch's columns in the aggregate's order and its row count:
/// with a mask, the rows that pass it.
fn aggregate_input(
    batch: &RecordBatch,
    present: &[bool],
    masked: Option<&MaskedRead>,
) -> Result<(Vec<arrow_array::ArrayRef>, usize), super::agg::AggError> {
    let Some(masked) = masked else {
        return Ok((aggregate_columns(batch, present), batch.num_rows()));
    };
    let failed = |e: arrow_schema::ArrowError| super::agg::AggError::Internal(format!("filter on the batch: {e}"));
    let passing = masked.mask.evaluate(batch.columns()).map_err(failed)?;
    let kept = passing.true_count();
    let column = |at: Option<usize>| at.and_then(|k| batch.columns().get(k).cloned());
    if kept == batch.num_rows() {
        let columns = masked
            .inputs
            .iter()
            .map(|at| column(*at).unwrap_or_else(|| arrow_array::new_null_array(&arrow_schema::DataType::Null, kept)))
            .collect();
        return Ok((columns, kept));
    }
    if kept == 0 {
        return Ok((Vec::new(), 0));
    }
    let filter = arrow_select::filter::FilterBuilder::new(&passing).optimize().build();
    let mut columns = Vec::with_capacity(masked.inputs.len());
    for at in &masked.inputs {
        columns.push(match column(*at) {
            Some(c) => filter.filter(&c).map_err(failed)?,
            None => arrow_array::new_null_array(&arrow_schema::DataType::Null, kept),
        });
    }
    Ok((columns, kept))
}

/// Takes the reader's filter off the tasks whose files it would filter
/// little (`mask::keeps_reader_filter`, from the manifests' column bounds
/// and NULL counts): the mask alone filters their rows. Returns how many.
fn without_row_filter(
    resolved: &ResolvedTable,
    snapshot: &iceberg::spec::SnapshotRef,
    predicate: &iceberg::expr::BoundPredicate,
    tasks: &mut [FileScanTask],
) -> LakeResult<usize> {
    if tasks.is_empty() {
        return Ok(0);
    }
    let table = resolved.table()?;
    let io = table.file_io().clone();
    let wanted: std::collections::HashSet<&str> = tasks.iter().map(|t| t.data_file_path.as_str()).collect();
    let files = block_on(async {
        let list = table.manifest_list_reader(snapshot).load().await?;
        let mut files = std::collections::HashMap::new();
        for mf in list.entries() {
            if mf.content != iceberg::spec::ManifestContentType::Data {
                continue;
            }
            let manifest = mf.load_manifest(&io).await?;
            for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
                let file = entry.data_file();
                if wanted.contains(file.file_path()) {
                    files.insert(file.file_path().to_string(), file.clone());
                }
            }
        }
        Ok::<_, iceberg::Error>(files)
    })
    .map_err(|e| read_error(&resolved.server, &e))?;
    let mut masked = 0;
    for task in tasks.iter_mut() {
        if files.get(&task.data_file_path).is_some_and(|f| !super::mask::keeps_reader_filter(predicate, f)) {
            task.predicate = None;
            masked += 1;
        }
    }
    Ok(masked)
}

fn read_error(server: &ServerConfig, e: &iceberg::Error) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FDW_ERROR,
        format!("cannot read Iceberg table: {}", server.scrub(&iceberg_message(e))),
    )
    .with_hint(server.storage_hint("A data or manifest file may be missing or unreadable; check the storage settings, credentials and the table's files."))
}

/// The snapshot to read (precedence: `timetravel::choice_source`). Time
/// travel through a published view is refused by the policy (`fdw::policy`).
fn snapshot_choice(resolved: &ResolvedTable, relid: pg_sys::Oid) -> LakeResult<SnapshotChoice> {
    let (session_id, as_of) = (settings::snapshot_id(), settings::as_of());
    let source = timetravel::choice_source(resolved.options.snapshot_id, session_id.as_deref(), as_of.as_deref());
    if matches!(source, ChoiceSource::SessionId(_) | ChoiceSource::AsOf(_)) {
        // not through a published view (see there)
        crate::fdw::policy::check_time_travel(relid)?;
    }
    if !matches!(source, ChoiceSource::Current) {
        // nor into the past of a table another role only let this one attach
        crate::iceberg::source::require_table_owner(relid, resolved, "time travel", false)?;
    }
    Ok(match source {
        ChoiceSource::Pinned(id) => SnapshotChoice::Id(id),
        ChoiceSource::SessionId(text) => SnapshotChoice::Id(timetravel::parse_snapshot_id(text).map_err(|m| {
            LakeError::invalid(format!("invalid townlake.iceberg_snapshot_id: {m}"))
                .with_hint("SET townlake.iceberg_snapshot_id to a snapshot id from lake.snapshots(), or RESET it.")
        })?),
        ChoiceSource::AsOf(text) => SnapshotChoice::AsOf(as_of_millis(text)?),
        ChoiceSource::Current => SnapshotChoice::Current,
    })
}

/// Parse townlake.iceberg_as_of with Postgres' own timestamptz input (time zones,
/// the session's TimeZone for literals without one), floored to whole
/// milliseconds: a time inside a commit's millisecond but before it must not
/// read that commit, and snapshot times are whole milliseconds.
///
/// The input function is called directly (no SPI, so nothing to clean up
/// after an error without a subtransaction). Only input errors (class 22)
/// become "invalid townlake.iceberg_as_of"; anything else, a cancel included,
/// propagates as itself.
fn as_of_millis(text: &str) -> LakeResult<i64> {
    let Ok(input) = std::ffi::CString::new(text) else {
        return Err(invalid_as_of(text));
    };
    // SAFETY: timestamptz's input function called with a NUL-terminated
    // string; an ERROR it raises is caught below.
    let micros = pgrx::PgTryBuilder::new(|| unsafe {
        let (mut func, mut ioparam) = (pg_sys::InvalidOid, pg_sys::InvalidOid);
        pg_sys::getTypeInputInfo(pg_sys::TIMESTAMPTZOID, &mut func, &mut ioparam);
        let datum = pg_sys::OidInputFunctionCall(func, input.as_ptr() as *mut _, ioparam, -1);
        Some(datum.value() as i64)
    })
    .catch_others(|caught| match &caught {
        pgrx::pg_sys::panic::CaughtError::PostgresError(report)
        | pgrx::pg_sys::panic::CaughtError::ErrorReport(report)
            if is_data_exception(report.sql_error_code()) =>
        {
            None
        }
        _ => caught.rethrow(),
    })
    .execute();
    let micros = micros.ok_or_else(|| invalid_as_of(text))?;
    Ok(timetravel::pg_micros_to_unix_millis(micros))
}

fn invalid_as_of(text: &str) -> LakeError {
    LakeError::invalid(format!("invalid townlake.iceberg_as_of: \"{text}\" is not a timestamp with time zone"))
        .with_hint("Example: SET townlake.iceberg_as_of = '2024-05-01 12:00:00+00'; RESET townlake.iceberg_as_of reads the current snapshot.")
}

/// SQLSTATE class 22 (data exception): what input functions raise for bad text.
fn is_data_exception(code: PgSqlErrorCode) -> bool {
    // MAKE_SQLSTATE packs six bits per character, first character lowest.
    (code as i32) & 0xFFF == (2 | (2 << 6))
}

/// Files this transaction wrote and has not committed, as scan tasks
/// reading `field_ids` (read-your-writes).
fn own_scan_tasks(own: &txn::OwnChanges, field_ids: &[i32]) -> Vec<FileScanTask> {
    own.net
        .added
        .iter()
        .map(|f| FileScanTask {
            file_size_in_bytes: f.file_size_in_bytes(),
            start: 0,
            length: f.file_size_in_bytes(),
            record_count: Some(f.record_count()),
            data_file_path: f.file_path().to_string(),
            data_file_format: iceberg::spec::DataFileFormat::Parquet,
            schema: own.schema.clone(),
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
}

impl IcebergScan {
    /// EXPLAIN of the scan. `relid` is the scanned relation.
    pub fn explain(&self, relid: Option<pg_sys::Oid>, out: &mut Explain) {
        let r = &self.report;
        if !r.planned {
            out.text("Iceberg Table", &self.plan.table_name);
            out.text("Data Files", "planned at execution (the filter depends on parameters)");
            return;
        }
        // File counts depend on every row of the table, those a published view's
        // row filter hides included (a pushed `email = '…'` prunes by it): only
        // roles that may read the raw table see them. The snapshot id likewise
        // changes with writes of hidden rows and names the raw table's history.
        let relid = relid.unwrap_or(pg_sys::Oid::from(self.plan.relid));
        let hidden = crate::fdw::policy::governed(relid) && !crate::pg::security::can_select(relid);
        out.text("Iceberg Table", &r.table);
        match r.snapshot_id {
            _ if hidden => out.text("Snapshot", "hidden (governed table)"),
            Some(id) => out.text("Snapshot", &id.to_string()),
            None => out.text("Snapshot", "none (the table is empty)"),
        }
        if let Some(f) = &r.filter {
            out.text("Iceberg Filter", f);
        }
        let files = if hidden {
            "hidden (governed table)".to_string()
        } else {
            match r.files_total {
                Some(total) => format!("{} planned, {} skipped", r.files_planned, total.saturating_sub(r.files_planned)),
                None => format!("{} planned", r.files_planned),
            }
        };
        out.text("Data Files", &files);
        if let Some(spec) = &self.plan.aggregate {
            let names: Vec<String> = self.plan.columns.iter().map(|c| c.attname.clone()).collect();
            let (aggs, keys) = super::aggplan::describe(spec, &names);
            out.text("Iceberg Aggregate", &aggs);
            if !keys.is_empty() {
                out.text("Iceberg Group By", &keys);
            }
            let read = r.files_planned.saturating_sub(r.metadata_files);
            // Whether any file is read depends on pruning too (hidden rows'
            // bounds included): hidden alike.
            let source = if hidden {
                "hidden (governed table)".to_string()
            } else if (spec.count_only() || spec.bounds_only()) && read == 0 && r.planned {
                "answered from metadata".to_string()
            } else if r.metadata_files > 0 {
                format!("Arrow batches ({read} files read, {} answered from metadata)", r.metadata_files)
            } else {
                "Arrow batches".to_string()
            };
            out.text("Aggregate Source", &source);
            if let (Some(masked), false) = (r.masked_files, hidden) {
                let read = r.files_planned.saturating_sub(r.metadata_files);
                out.text(
                    "Filter Evaluation",
                    &format!("on decoded batches ({masked} of {read} files without the reader's row filter)"),
                );
            }
        }
        if let Some(top) = &self.plan.top_n {
            let keys: Vec<String> = top
                .keys
                .iter()
                .map(|k| {
                    let name = &self.plan.columns[top.outputs[k.output]].attname;
                    let dir = if k.descending { " DESC" } else { "" };
                    let nulls = match (k.descending, k.nulls_first) {
                        (false, true) => " NULLS FIRST",
                        (true, false) => " NULLS LAST",
                        _ => "",
                    };
                    format!("{name}{dir}{nulls}")
                })
                .collect();
            out.text("Iceberg Top-N", &format!("{} rows by {}", top.limit, keys.join(", ")));
        }
        if let Some(limit) = r.limit {
            out.text("Iceberg Limit", &limit.to_string());
        }
        if out.verbose() {
            let cols: Vec<&str> = self.plan.needed.iter().map(|i| self.plan.columns[*i].attname.as_str()).collect();
            out.text("Iceberg Columns", &cols.join(", "));
        }
        if out.analyze() && !hidden {
            // Files this process opened (in a parallel scan each process
            // reports its own), rows they returned after row-group and page
            // pruning and delete files, bytes fetched from storage.
            out.integer("Data Files Read", self.files_read() as i64);
            out.integer("Rows Read", r.rows_read as i64);
            out.integer("Bytes Read", self.bytes_read().unwrap_or(0) as i64);
        }
    }
}

/// Most groups the scan keeps in memory for a GROUP BY: Postgres' hash
/// aggregate spills to disk past work_mem × hash_mem_multiplier, this one
/// cannot, so it stops well past that budget (16 ×, at least 256 MiB) with
/// an ERROR rather than let one query exhaust the server's memory.
fn max_groups(aggregates: usize) -> usize {
    let budget = (crate::pg::settings::hash_mem_bytes() * 16).max(256 << 20);
    let per_group = 96 + 48 * aggregates as u64;
    (budget / per_group) as usize
}

fn too_many_groups(limit: usize) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        format!("GROUP BY in the Iceberg scan passed {limit} groups, more than its memory allows"),
    )
    .with_hint(
        "Raise work_mem for this query, or SET townlake.iceberg_aggregate_pushdown = off so that Postgres groups the rows (it spills to disk).",
    )
}

/// Whether `filter` with these constant operands is applied by the reader to
/// exactly Postgres' rows, for the current schema (aggregate pushdown).
pub fn filter_is_exact(rel: &super::plan::RelInfo, filter: &crate::fdw::filter::Filter, values: &[crate::fdw::filter::Value]) -> bool {
    let Some(schema) = &rel.schema else { return false };
    let names: Vec<Option<String>> =
        rel.columns.iter().map(|c| schema.name_by_field_id(c.field_id).map(|s| s.to_string())).collect();
    let cols: Vec<ColumnRef<'_>> = names
        .iter()
        .zip(&rel.columns)
        .map(|(n, c)| ColumnRef {
            name: n.as_deref(),
            byte_ordered: super::aggplan::byte_ordered(rel.relid, c),
            promoted: rel.promoted.contains(&c.field_id),
        })
        .collect();
    let (predicate, exact) = predicate::to_iceberg_exactness(filter, &cols, values, schema);
    let Some(p) = predicate else { return false };
    let reader = predicate::reader_filter(&p, schema, &|id| rel.promoted.contains(&id) || rel.added.contains(&id));
    exact && reader.predicate.as_ref() == Some(&p.rewrite_not())
}

/// An aggregate answered from manifest metadata alone.
struct MetadataAnswer {
    files: usize,
    rows: u64,
    bests: Vec<Option<super::agg::Scalar>>,
}

/// count(*), min and max from the live data files' record counts and column
/// bounds. None (read the files) unless every bound is exact: no delete
/// files, a bound for every file holding a non-NULL value, and types whose
/// bounds are never truncated and order as Postgres orders them (integers,
/// dates, timestamps, decimals; planning excludes promoted columns).
fn metadata_min_max(
    resolved: &ResolvedTable,
    snapshot: &iceberg::spec::SnapshotRef,
    schema: &SchemaRef,
    spec: &super::agg::AggSpec,
    plan: &ScanPlan,
) -> LakeResult<Option<MetadataAnswer>> {
    use super::agg::{AggOp, Scalar};
    use iceberg::spec::{PrimitiveLiteral, PrimitiveType, Type};
    if !spec.bounds_only() {
        return Ok(None);
    }
    // The field id of each min/max (None: count(*)).
    let mut fields = Vec::with_capacity(spec.aggs.len());
    for item in &spec.aggs {
        let Some(input) = item.input else {
            fields.push(None);
            continue;
        };
        let field_id = plan.columns[spec.inputs[input]].field_id;
        let exact_bounds = schema.field_by_id(field_id).is_some_and(|f| {
            matches!(
                f.field_type.as_ref(),
                Type::Primitive(
                    PrimitiveType::Int
                        | PrimitiveType::Long
                        | PrimitiveType::Date
                        | PrimitiveType::Timestamp
                        | PrimitiveType::Timestamptz
                        | PrimitiveType::Decimal { .. }
                )
            )
        });
        if !exact_bounds {
            return Ok(None);
        }
        fields.push(Some(field_id));
    }
    let table = resolved.table()?;
    let io = table.file_io().clone();
    let entries = block_on(async {
        let list = table.manifest_list_reader(snapshot).load().await?;
        let mut files = Vec::new();
        for mf in list.entries() {
            if mf.content != iceberg::spec::ManifestContentType::Data {
                return Ok::<_, iceberg::Error>(None);
            }
            let manifest = mf.load_manifest(&io).await?;
            for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
                files.push(entry.data_file().clone());
            }
        }
        Ok(Some(files))
    })
    .map_err(|e| read_error(&resolved.server, &e))?;
    let Some(files) = entries else { return Ok(None) };
    let scalar = |d: &iceberg::spec::Datum| match d.literal() {
        PrimitiveLiteral::Int(v) => Some(Scalar::Int(*v as i64)),
        PrimitiveLiteral::Long(v) => Some(Scalar::Int(*v)),
        PrimitiveLiteral::Int128(v) => Some(Scalar::Decimal(*v)),
        _ => None,
    };
    let mut rows = 0u64;
    let mut bests: Vec<Option<Scalar>> = vec![None; spec.aggs.len()];
    for file in &files {
        if file.content_type() != iceberg::spec::DataContentType::Data {
            return Ok(None);
        }
        rows += file.record_count();
        for (k, (item, field)) in spec.aggs.iter().zip(&fields).enumerate() {
            let Some(id) = field else { continue };
            let bound = if item.op == AggOp::Min { file.lower_bounds().get(id) } else { file.upper_bounds().get(id) };
            let value = match bound {
                Some(d) => match scalar(d) {
                    Some(v) => v,
                    None => return Ok(None),
                },
                // No bound: only a file of NULLs (known from its null count) has none.
                None => match file.null_value_counts().get(id) {
                    Some(nulls) if *nulls == file.record_count() => continue,
                    _ => return Ok(None),
                },
            };
            let better = match (&bests[k], &value, item.op) {
                (None, _, _) => true,
                (Some(Scalar::Int(b)), Scalar::Int(v), AggOp::Min) => v < b,
                (Some(Scalar::Int(b)), Scalar::Int(v), _) => v > b,
                (Some(Scalar::Decimal(b)), Scalar::Decimal(v), AggOp::Min) => v < b,
                (Some(Scalar::Decimal(b)), Scalar::Decimal(v), _) => v > b,
                _ => return Ok(None),
            };
            if better {
                bests[k] = Some(value);
            }
        }
    }
    Ok(Some(MetadataAnswer { files: files.len(), rows, bests }))
}
