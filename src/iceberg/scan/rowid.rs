//! Row identity for UPDATE and DELETE of Iceberg tables.
//!
//! The scan feeding the modification numbers the data files it planned and
//! stores each row with a ctid whose block number is its file's ordinal
//! (`ScanSlot::set_row_identity`); the
//! executor hands that ctid and the whole old row to ExecForeignDelete /
//! ExecForeignUpdate. Rows are then matched back inside the file by value:
//! identical rows are interchangeable, so removing any k of n identical
//! copies is exactly right.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use iceberg::scan::FileScanTask;
use pgrx::pg_sys;

use crate::errors::{LakeError, LakeResult};
use crate::fdw::modify::AttrDesc;

/// The data files one statement's target scan planned, by ordinal.
#[derive(Default)]
pub struct RowSource {
    pub tasks: Vec<FileScanTask>,
    /// The snapshot the tasks were planned from.
    pub snapshot_id: Option<i64>,
    index: HashMap<String, u32>,
}

thread_local! {
    static SOURCES: RefCell<HashMap<u32, RowSource>> = RefCell::new(HashMap::new());
}

pub fn publish(relid: u32, tasks: &[FileScanTask], snapshot_id: Option<i64>) {
    let index = tasks.iter().enumerate().map(|(i, t)| (t.data_file_path.clone(), i as u32)).collect();
    SOURCES.with(|s| s.borrow_mut().insert(relid, RowSource { tasks: tasks.to_vec(), snapshot_id, index }));
}

/// The snapshot `relid`'s current target scan read.
pub fn snapshot_of(relid: u32) -> Option<i64> {
    SOURCES.with(|s| s.borrow().get(&relid).and_then(|src| src.snapshot_id))
}

/// The scan task of file `ordinal` of `relid`'s current target scan.
pub fn task(relid: u32, ordinal: u32) -> LakeResult<FileScanTask> {
    SOURCES.with(|s| {
        s.borrow()
            .get(&relid)
            .and_then(|src| src.tasks.get(ordinal as usize).cloned())
            .ok_or_else(|| LakeError::internal("row identity refers to an unknown data file"))
    })
}

pub fn ordinal_of_batch(relid: u32, file_column: &ArrayRef) -> LakeResult<u32> {
    if file_column.is_empty() {
        return Ok(0);
    }
    let as_text = arrow_cast::cast(file_column, &DataType::Utf8)
        .map_err(|e| LakeError::internal(format!("cannot read _file: {e}")))?;
    let path = as_text.as_string::<i32>().value(0).to_string();
    SOURCES.with(|s| {
        s.borrow()
            .get(&relid)
            .and_then(|src| src.index.get(&path).copied())
            .ok_or_else(|| LakeError::internal(format!("data file {path} was not planned by this scan")))
    })
}

/// Output-function text of each column, cached per type.
pub struct RowKeys {
    out: HashMap<u32, Box<pg_sys::FmgrInfo>>,
}

impl RowKeys {
    pub fn new() -> Self {
        RowKeys { out: HashMap::new() }
    }

    /// A key equal for rows with equal values. `values` and `nulls` hold
    /// one entry per attribute in `attrs`, each value a datum of its
    /// attribute's type (a row of the relation, or one read back for it).
    pub fn key(&mut self, attrs: &[AttrDesc], values: &[pg_sys::Datum], nulls: &[bool]) -> String {
        let mut key = String::new();
        for (i, att) in attrs.iter().enumerate() {
            if att.dropped {
                continue;
            }
            if nulls[i] {
                key.push('\u{0}');
            } else {
                let type_oid = att.type_oid;
                // SAFETY: the output function of the attribute's own type,
                // looked up once, applied to a datum of that type.
                let bytes = unsafe {
                    let finfo = self.out.entry(type_oid.to_u32()).or_insert_with(|| {
                        let mut out_fn = pg_sys::Oid::INVALID;
                        let mut varlena = false;
                        pg_sys::getTypeOutputInfo(type_oid, &mut out_fn, &mut varlena);
                        let mut f: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
                        pg_sys::fmgr_info(out_fn, f.as_mut());
                        f
                    });
                    let text = pg_sys::OutputFunctionCall(finfo.as_mut(), values[i]);
                    CStr::from_ptr(text).to_string_lossy().into_owned()
                };
                key.push('\u{1}');
                // Length-prefixed so no value can fake a column boundary.
                key.push_str(&bytes.len().to_string());
                key.push(':');
                key.push_str(&bytes);
            }
        }
        key
    }
}
