//! Row identity for UPDATE and DELETE of Iceberg tables.
//!
//! The scan feeding the modification numbers the data files it planned and
//! stores each row with a ctid whose block number is its file's ordinal; the
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

/// Store the slot's values as a heap tuple whose ctid names the data file.
///
/// # Safety
/// `slot` holds a virtual tuple of the relation's descriptor.
pub unsafe fn store_with_identity(slot: *mut pg_sys::TupleTableSlot, relid: u32, ordinal: u32) -> LakeResult<()> {
    // The slot frees the tuple when it is cleared, which may be after the
    // per-tuple memory is reset: allocate it in the slot's own context.
    let old = pg_sys::MemoryContextSwitchTo((*slot).tts_mcxt);
    let tuple = pg_sys::heap_form_tuple((*slot).tts_tupleDescriptor, (*slot).tts_values, (*slot).tts_isnull);
    pg_sys::MemoryContextSwitchTo(old);
    (*tuple).t_self = pg_sys::ItemPointerData {
        ip_blkid: pg_sys::BlockIdData { bi_hi: (ordinal >> 16) as u16, bi_lo: (ordinal & 0xffff) as u16 },
        ip_posid: 1,
    };
    (*tuple).t_tableOid = pg_sys::Oid::from(relid);
    pg_sys::ExecStoreHeapTuple(tuple, slot, true);
    Ok(())
}

/// The file ordinal stored in a ctid datum.
///
/// # Safety
/// `datum` is a non-null tid datum.
pub unsafe fn ordinal_of_ctid(datum: pg_sys::Datum) -> u32 {
    let tid = datum.cast_mut_ptr::<pg_sys::ItemPointerData>();
    ((*tid).ip_blkid.bi_hi as u32) << 16 | (*tid).ip_blkid.bi_lo as u32
}

/// Output-function text of each column, cached per type.
pub struct RowKeys {
    out: HashMap<u32, Box<pg_sys::FmgrInfo>>,
}

impl RowKeys {
    pub fn new() -> Self {
        RowKeys { out: HashMap::new() }
    }

    /// A key equal for rows with equal values.
    ///
    /// # Safety
    /// `values`/`nulls` have one entry per attribute of `tupdesc`.
    pub unsafe fn key(&mut self, tupdesc: pg_sys::TupleDesc, values: &[pg_sys::Datum], nulls: &[bool]) -> String {
        let mut key = String::new();
        for i in 0..(*tupdesc).natts as usize {
            let att = (*tupdesc).attrs.as_ptr().add(i);
            if (*att).attisdropped {
                continue;
            }
            if nulls[i] {
                key.push('\u{0}');
            } else {
                let type_oid = (*att).atttypid;
                let finfo = self.out.entry(type_oid.to_u32()).or_insert_with(|| {
                    let mut out_fn = pg_sys::Oid::INVALID;
                    let mut varlena = false;
                    pg_sys::getTypeOutputInfo(type_oid, &mut out_fn, &mut varlena);
                    let mut f: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
                    pg_sys::fmgr_info(out_fn, f.as_mut());
                    f
                });
                let text = pg_sys::OutputFunctionCall(finfo.as_mut(), values[i]);
                key.push('\u{1}');
                // Length-prefixed so no value can fake a column boundary.
                let bytes = CStr::from_ptr(text).to_string_lossy();
                key.push_str(&bytes.len().to_string());
                key.push(':');
                key.push_str(&bytes);
            }
        }
        key
    }
}
