//! UPDATE and DELETE: old rows are collected per data file during the
//! statement; at its end each touched file is removed whole (when every row
//! goes) or rewritten without those rows (copy-on-write), and UPDATE's new
//! rows are written as new files.

use std::collections::HashMap;

use iceberg::scan::FileScanTask;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::insert::TableInsert;
use super::{check_writable, write_columns, write_error};
use crate::errors::{LakeError, LakeResult};
use crate::fdw::modify::{AttrDesc, OldRow, Row};
use crate::iceberg::scan::{convert, rowid};
use crate::iceberg::source;
use crate::iceberg::txn::{self, pending::PendingOp};
use crate::runtime::block_on;

pub struct TableRewrite {
    relid: u32,
    attrs: Vec<AttrDesc>,
    /// file ordinal → row key → how many such rows go.
    doomed: HashMap<u32, HashMap<String, u32>>,
    keys: rowid::RowKeys,
    new_rows: Option<TableInsert>,
}

impl TableRewrite {
    pub fn new(relid: pg_sys::Oid, attrs: Vec<AttrDesc>, update: bool) -> LakeResult<Self> {
        let resolved = source::resolve(relid)?;
        check_writable(&resolved)?;
        Ok(TableRewrite {
            relid: relid.to_u32(),
            attrs,
            doomed: HashMap::new(),
            keys: rowid::RowKeys::new(),
            new_rows: if update { Some(TableInsert::new(relid)?) } else { None },
        })
    }

    /// Note one old row (identified by its data file and its values).
    pub fn record_old_row(&mut self, old: &OldRow) -> LakeResult<()> {
        let key = self.keys.key(&self.attrs, &old.values, &old.nulls);
        *self.doomed.entry(old.unit).or_default().entry(key).or_insert(0) += 1;
        Ok(())
    }

    /// UPDATE's new version of a row.
    pub fn insert_new_row(&mut self, row: &Row<'_>) -> LakeResult<()> {
        match self.new_rows.as_mut() {
            Some(new_rows) => new_rows.insert(row),
            None => Ok(()),
        }
    }

    pub fn finish(&mut self) -> LakeResult<()> {
        let doomed = std::mem::take(&mut self.doomed);
        for (ordinal, rows) in doomed {
            let task = rowid::task(self.relid, ordinal)?;
            let count: u64 = rows.values().map(|c| *c as u64).sum();
            if task.deletes.is_empty() && task.record_count == Some(count) {
                // Every row of the file goes: drop it, nothing to rewrite.
                self.record_removal(&task.data_file_path)?;
                continue;
            }
            self.rewrite_file(task, rows)?;
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
        txn::record(self.relid, &resolved.server, &ident, &schema, std::iter::once(PendingOp::Remove(path.to_string())));
        txn::set_read_base(self.relid, rowid::snapshot_of(self.relid));
        Ok(())
    }

    /// Copy-on-write: write the file's surviving rows to new files and
    /// remove the old one.
    fn rewrite_file(&mut self, mut task: FileScanTask, mut rows: HashMap<String, u32>) -> LakeResult<()> {
        use futures::StreamExt;
        let relid = pg_sys::Oid::from(self.relid);
        let resolved = source::resolve(relid)?;
        let natts = self.attrs.len();
        // Read every column the table has, by field id.
        let mut reads: Vec<(usize, convert::Target)> = Vec::new();
        let mut field_ids = Vec::new();
        for column in write_columns(relid) {
            let field = if column.field_id != 0 {
                task.schema.field_by_id(column.field_id)
            } else {
                task.schema.field_by_name(&column.name)
            };
            if let Some(field) = field {
                field_ids.push(field.id);
                reads.push((column.index, convert::Target::for_type(column.type_oid, self.attrs[column.index].typmod)));
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
            let columns: Vec<arrow_array::ArrayRef> = batch.columns().iter().map(convert::plain).collect();
            // SAFETY: the datums made in the scratch context are copied into
            // Arrow builders (or only compared) before it is reset.
            let converted = unsafe {
                scratch.switch_to(|_| -> LakeResult<()> {
                let mut values = vec![pg_sys::Datum::from(0usize); natts];
                let mut nulls = vec![true; natts];
                for row in 0..batch.num_rows() {
                    nulls.fill(true);
                    for (col, (att, target)) in reads.iter_mut().enumerate() {
                        if let Some(d) = convert::datum_at(&columns[col], row, target)? {
                            values[*att] = d;
                            nulls[*att] = false;
                        }
                    }
                    let key = self.keys.key(&self.attrs, &values, &nulls);
                    match rows.get_mut(&key) {
                        Some(n) if *n > 0 => *n -= 1,
                        _ => kept.insert_row(&values, &nulls)?,
                    }
                }
                Ok(())
                })
            };
            converted?;
            // SAFETY: nothing made in the scratch context is used any more.
            unsafe { scratch.reset() };
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
