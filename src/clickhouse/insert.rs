//! INSERT and COPY FROM into a ClickHouse foreign table. Rows are encoded as
//! they arrive (`write`), gathered into batches of
//! `townlake.clickhouse_batch_size` rows, and every batch is sent as one
//! `INSERT ... FORMAT TabSeparated` request when the statement ends: a
//! statement that fails on its way (a bad value, a trigger, a cancel) sends
//! nothing. Batches beyond the first wait in an unlinked temporary file, so
//! memory holds one batch whatever the statement's size.

use std::ffi::CStr;

use pgrx::{pg_sys, FromDatum, PgMemoryContexts, PgSqlErrorCode};

use super::http;
use super::options::Endpoint;
use super::remote::{self, LocalColumn};
use super::settings;
use super::sql;
use super::types::ChType;
use super::write::{self, PgValue, Spool, WriteError, WriteErrorKind};
use crate::errors::{LakeError, LakeResult};
use crate::fdw::modify::{ModifyTarget, Row};
use crate::pg::types::Builtin;


/// A batch is closed (one request of its own) once it holds this many
/// bytes, whatever `townlake.clickhouse_batch_size` says.
const MAX_BATCH_BYTES: usize = 64 << 20;
/// How a column's datums are read.
enum Reader {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Bool,
    /// text, varchar, bytea: the varlena's bytes.
    Bytes,
    Date,
    Timestamp,
    /// Any other type: its output function's text.
    Output(Box<pg_sys::FmgrInfo>),
    /// A one-dimensional array of `elem`.
    Array { elem: Box<Reader>, elem_oid: pg_sys::Oid, len: i16, byval: bool, align: std::ffi::c_char },
}

fn reader_for(type_oid: pg_sys::Oid) -> Reader {
    match Builtin::from_oid(type_oid) {
        Some(Builtin::Int2) => return Reader::Int2,
        Some(Builtin::Int4) => return Reader::Int4,
        Some(Builtin::Int8) => return Reader::Int8,
        Some(Builtin::Float4) => return Reader::Float4,
        Some(Builtin::Float8) => return Reader::Float8,
        Some(Builtin::Numeric) => return Reader::Numeric,
        Some(Builtin::Bool) => return Reader::Bool,
        Some(Builtin::Text | Builtin::Varchar | Builtin::Bytea) => return Reader::Bytes,
        Some(Builtin::Date) => return Reader::Date,
        Some(Builtin::Timestamp | Builtin::TimestampTz) => return Reader::Timestamp,
        _ => {}
    }
    // SAFETY: syscache lookups; fmgr_info fills the boxed FmgrInfo (its
    // cache lives in the executor's memory context, as the box's owner does).
    unsafe {
        let elem_oid = pg_sys::get_element_type(type_oid);
        if elem_oid != pg_sys::Oid::INVALID {
            let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
            pg_sys::get_typlenbyvalalign(elem_oid, &mut len, &mut byval, &mut align);
            return Reader::Array { elem: Box::new(reader_for(elem_oid)), elem_oid, len, byval, align };
        }
        let mut out_fn = pg_sys::Oid::INVALID;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(type_oid, &mut out_fn, &mut varlena);
        let mut finfo: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
        pg_sys::fmgr_info(out_fn, finfo.as_mut());
        Reader::Output(finfo)
    }
}

/// A non-NULL datum of the reader's type as a value.
fn read(reader: &mut Reader, datum: pg_sys::Datum) -> Result<PgValue, String> {
    // SAFETY: `datum` is a non-NULL datum of the type the reader was made
    // for (the relation's column, or an element of its array type).
    unsafe {
        Ok(match reader {
            Reader::Int2 => PgValue::Int(i16::from_datum(datum, false).unwrap_or_default() as i64),
            Reader::Int4 => PgValue::Int(i32::from_datum(datum, false).unwrap_or_default() as i64),
            Reader::Int8 => PgValue::Int(i64::from_datum(datum, false).unwrap_or_default()),
            Reader::Float4 => PgValue::Float(f32::from_datum(datum, false).unwrap_or_default() as f64),
            Reader::Float8 => PgValue::Float(f64::from_datum(datum, false).unwrap_or_default()),
            Reader::Bool => PgValue::Bool(bool::from_datum(datum, false).unwrap_or_default()),
            Reader::Numeric => {
                PgValue::Numeric(pgrx::AnyNumeric::from_datum(datum, false).map(|n| n.to_string()).unwrap_or_default())
            }
            Reader::Bytes => PgValue::Text(<&[u8]>::from_datum(datum, false).unwrap_or_default().to_vec()),
            Reader::Date => PgValue::Date(crate::pg::time::pg_date_to_unix_days(datum.value() as i32).map(i64::from)),
            Reader::Timestamp => PgValue::Timestamp(crate::pg::time::pg_micros_to_unix_micros(datum.value() as i64)),
            Reader::Output(finfo) => {
                let p = pg_sys::OutputFunctionCall(finfo.as_mut(), datum);
                PgValue::Text(CStr::from_ptr(p).to_bytes().to_vec())
            }
            Reader::Array { elem, elem_oid, len, byval, align } => {
                let array = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) as *mut pg_sys::ArrayType;
                if (*array).ndim > 1 {
                    return Err("multi-dimensional arrays cannot be written to ClickHouse".into());
                }
                let (mut values, mut nulls, mut n) = (std::ptr::null_mut(), std::ptr::null_mut(), 0i32);
                pg_sys::deconstruct_array(array, *elem_oid, *len as i32, *byval, *align, &mut values, &mut nulls, &mut n);
                let mut items = Vec::with_capacity(n as usize);
                for i in 0..n as usize {
                    items.push(if *nulls.add(i) { PgValue::Null } else { read(elem, *values.add(i))? });
                }
                PgValue::Array(items)
            }
        })
    }
}

/// One column sent to ClickHouse.
struct Target {
    index: usize,
    reader: Reader,
    ch: ChType,
    /// For messages: the local and the ClickHouse column.
    local_name: String,
    remote_name: String,
}

pub struct ChInsert {
    server_name: String,
    endpoint: Endpoint,
    database: String,
    table: String,
    /// `INSERT INTO db.t (cols) FORMAT TabSeparated` and a newline.
    statement: String,
    targets: Vec<Target>,
    batch_rows: u64,
    /// The batch being filled: the statement, then its rows (the request's
    /// whole body).
    buf: Vec<u8>,
    buf_rows: u64,
    spool: Option<Spool>,
    rows: u64,
    /// Reset after each row: what reading its datums allocated.
    row_cxt: pg_sys::MemoryContext,
}

impl ChInsert {
    pub fn begin(target: &ModifyTarget) -> LakeResult<ChInsert> {
        // Writes use the current user's mapping (INVALID: see fdw::source).
        let rel = remote::resolve(target.relid, pg_sys::Oid::INVALID)?;
        let (server_name, endpoint) = remote::endpoint(rel.server, pg_sys::Oid::INVALID)?;
        let cols: Vec<String> = rel.columns.iter().map(|c: &LocalColumn| sql::ident(&c.remote.name)).collect();
        let statement = format!(
            "INSERT INTO {} ({}) FORMAT TabSeparated\n",
            sql::table_name(&rel.database, &rel.table),
            cols.join(", ")
        );
        let targets = rel
            .columns
            .iter()
            .map(|c| Target {
                index: c.index,
                reader: reader_for(pg_sys::Oid::from(c.type_oid)),
                ch: c.remote.ch.clone(),
                local_name: c.local_name.clone(),
                remote_name: c.remote.name.clone(),
            })
            .collect();
        // SAFETY: a child of the current (executor query) context, which
        // owns and eventually deletes it; this state only ever resets it.
        let row_cxt = unsafe {
            pg_sys::AllocSetContextCreateExtended(
                pg_sys::CurrentMemoryContext,
                c"townlake clickhouse insert row".as_ptr(),
                pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
            )
        };
        Ok(ChInsert {
            server_name,
            endpoint,
            database: rel.database,
            table: rel.table,
            statement: statement.clone(),
            targets,
            batch_rows: settings::BATCH_SIZE.get().max(1) as u64,
            buf: statement.as_bytes().to_vec(),
            buf_rows: 0,
            spool: None,
            rows: 0,
            row_cxt,
        })
    }

    pub fn insert(&mut self, row: &Row<'_>) -> LakeResult<()> {
        let mark = self.buf.len();
        let row_number = self.rows + 1;
        // SAFETY: the datums are the slot's, valid for this call; what
        // reading them allocates goes to row_cxt, reset right after.
        let encoded = unsafe {
            let mut cxt = PgMemoryContexts::For(self.row_cxt);
            let r = cxt.switch_to(|_| self.encode_row(row, row_number));
            pg_sys::MemoryContextReset(self.row_cxt);
            r
        };
        if let Err(e) = encoded {
            self.buf.truncate(mark);
            return Err(e);
        }
        self.rows += 1;
        self.buf_rows += 1;
        // A byte cap as well: the batch is held in this backend's memory,
        // and a role may set the batch size to millions of wide rows.
        if self.buf_rows >= self.batch_rows || self.buf.len() >= MAX_BATCH_BYTES {
            let spool = match &mut self.spool {
                Some(s) => s,
                None => self.spool.insert(Spool::new().map_err(|e| spool_error(&e))?),
            };
            spool.push(&self.buf, self.buf_rows).map_err(|e| spool_error(&e))?;
            self.buf.clear();
            self.buf.extend_from_slice(self.statement.as_bytes());
            self.buf_rows = 0;
        }
        Ok(())
    }

    fn encode_row(&mut self, row: &Row<'_>, row_number: u64) -> LakeResult<()> {
        for (k, t) in self.targets.iter_mut().enumerate() {
            if k > 0 {
                self.buf.push(b'\t');
            }
            let value = if row.nulls.get(t.index).copied().unwrap_or(true) {
                PgValue::Null
            } else {
                read(&mut t.reader, row.values[t.index]).map_err(|m| {
                    LakeError::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, format!("column \"{}\": {m}", t.local_name))
                })?
            };
            write::encode_field(&value, &t.ch, &mut self.buf).map_err(|e| {
                value_error(e, &t.local_name, &format!("{}.{}.{}", self.database, self.table, t.remote_name), row_number)
            })?;
        }
        self.buf.push(b'\n');
        Ok(())
    }

    /// Send every batch, in order: the spooled ones, then the last.
    pub fn finish(mut self) -> LakeResult<()> {
        let mut sent_rows = 0u64;
        let mut sent_batches = 0u64;
        if let Some(mut spool) = self.spool.take() {
            let this = &self;
            spool.drain(|data, rows| -> Result<(), SendError> {
                this.send(data, sent_rows, sent_batches)?;
                sent_rows += rows;
                sent_batches += 1;
                Ok(())
            })
            .map_err(|e| match e {
                SendError::Io(e) => spool_error(&e),
                SendError::Lake(e) => e,
            })?;
        }
        if self.buf_rows > 0 {
            let data = std::mem::take(&mut self.buf);
            self.send(data, sent_rows, sent_batches)?;
        }
        Ok(())
    }

    /// Send one batch (`body`: the statement and its rows).
    fn send(&self, body: Vec<u8>, sent_rows: u64, sent_batches: u64) -> Result<(), LakeError> {
        let id = uuid::Uuid::new_v4().to_string();
        crate::runtime::block_on(http::insert(&self.endpoint, body, &id)).map_err(|e| {
            let what = format!("inserting into {}.{}", self.database, self.table);
            let err = remote::error(&self.server_name, &self.endpoint, &what, e);
            let detail = if sent_batches == 0 {
                "No row of this statement reached ClickHouse.".to_string()
            } else {
                format!(
                    "The statement's first {sent_batches} batch(es), {sent_rows} rows, were stored by ClickHouse and stay \
                     there (ClickHouse has no transactions); the rest were not sent."
                )
            };
            err.with_detail(detail)
        })
    }
}

enum SendError {
    Io(std::io::Error),
    Lake(LakeError),
}

impl From<std::io::Error> for SendError {
    fn from(e: std::io::Error) -> Self {
        SendError::Io(e)
    }
}

impl From<LakeError> for SendError {
    fn from(e: LakeError) -> Self {
        SendError::Lake(e)
    }
}

fn spool_error(e: &std::io::Error) -> LakeError {
    LakeError::new(PgSqlErrorCode::ERRCODE_IO_ERROR, format!("cannot keep rows for ClickHouse in a temporary file: {e}"))
        .with_hint(format!(
            "Rows beyond the first batch wait in {} until the statement ends: check its free space, or raise \
             townlake.clickhouse_batch_size.",
            std::env::temp_dir().display()
        ))
}

fn value_error(e: WriteError, local: &str, remote: &str, row: u64) -> LakeError {
    let code = match e.kind {
        WriteErrorKind::OutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        WriteErrorKind::Null => PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
        WriteErrorKind::Invalid => PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
    };
    LakeError::new(code, format!("cannot write column \"{local}\" to ClickHouse column {remote}: {}", e.message))
        .with_detail(format!("Row {row} of the statement; no row of it was sent."))
        .with_hint(e.hint)
}
