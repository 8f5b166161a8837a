//! Postgres datums to Arrow values of the Iceberg field's type, on the
//! backend thread (values needing rounding, infinities and years Iceberg
//! cannot hold are errors, not silent changes).

use std::collections::HashMap;

use arrow_array::builder::*;
use arrow_schema::DataType;
use pgrx::{pg_sys, FromDatum};

use super::decimal::parse_decimal;
use crate::pg::time::{PG_EPOCH_OFFSET_DAYS, PG_EPOCH_OFFSET_MICROS};
use crate::pg::types::Builtin;

/// Text of a datum through its type's output function; `datum` is a
/// non-NULL datum of type `type_oid` (see `append_value`).
fn datum_text(datum: pg_sys::Datum, type_oid: pg_sys::Oid, cache: &mut HashMap<u32, Box<pg_sys::FmgrInfo>>) -> String {
    // SAFETY: the output function of the datum's own type, looked up once.
    unsafe {
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
}

/// A text-like value for a field that Postgres holds by value (boolean,
/// date, time, timestamp[tz]): parsed by the input function of that field's
/// own Postgres type, as a cast from text would (an attached table may
/// declare such a field as text). Without this the text pointer's bits would
/// be stored as the value.
fn from_text(
    datum: pg_sys::Datum,
    type_oid: pg_sys::Oid,
    target: Builtin,
    out_functions: &mut HashMap<u32, Box<pg_sys::FmgrInfo>>,
) -> pg_sys::Datum {
    let text = datum_text(datum, type_oid, out_functions);
    let c_text = std::ffi::CString::new(text).unwrap_or_default();
    // SAFETY: the input function of a builtin type, called with a
    // NUL-terminated string; invalid input raises Postgres' own ERROR
    // ("invalid input syntax for type boolean").
    unsafe {
        let mut input_fn = pg_sys::Oid::INVALID;
        let mut io_param = pg_sys::Oid::INVALID;
        pg_sys::getTypeInputInfo(target.oid(), &mut input_fn, &mut io_param);
        pg_sys::OidInputFunctionCall(input_fn, c_text.as_ptr() as *mut _, io_param, -1)
    }
}

/// Append one Postgres value to an Arrow builder of the Iceberg field's type.
/// `value` is a datum with its type: one a tuple slot of the relation holds
/// (an INSERT, COPY or UPDATE row) or one built for that type (a rewrite).
pub(super) fn append_value(
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
    let ty = Builtin::from_oid(type_oid);
    // The Postgres type whose bits the field below reads from the datum.
    let by_value = match data_type {
        DataType::Boolean => Some(Builtin::Bool),
        DataType::Date32 => Some(Builtin::Date),
        DataType::Time64(_) => Some(Builtin::Time),
        DataType::Timestamp(_, None) => Some(Builtin::Timestamp),
        DataType::Timestamp(_, Some(_)) => Some(Builtin::TimestampTz),
        _ => None,
    };
    let datum = match by_value {
        Some(want) if ty != Some(want) => match ty {
            Some(t) if t.is_text() => from_text(datum, type_oid, want, out_functions),
            _ => return Err(format!("cannot store a value of type oid {oid} in an Iceberg {data_type} field")),
        },
        _ => datum,
    };
    // SAFETY (for every from_datum and datum_text below): `datum` is a
    // non-NULL datum of type `type_oid`, and each read matches that type.
    let int = || -> Result<i64, String> {
        match ty {
            // SAFETY: an int2 datum (`ty`).
            Some(Builtin::Int2) => Ok(unsafe { i16::from_datum(datum, false) }.unwrap_or_default() as i64),
            // SAFETY: an int4 datum (`ty`).
            Some(Builtin::Int4) => Ok(unsafe { i32::from_datum(datum, false) }.unwrap_or_default() as i64),
            // SAFETY: an int8 datum (`ty`).
            Some(Builtin::Int8) => Ok(unsafe { i64::from_datum(datum, false) }.unwrap_or_default()),
            _ => Err(format!("cannot store a value of type oid {oid} in an integer field")),
        }
    };
    match data_type {
        // SAFETY: a bool is read from the Datum's own bits; no memory is touched.
        DataType::Boolean => b!(BooleanBuilder).append_value(unsafe { bool::from_datum(datum, false) }.unwrap_or_default()),
        DataType::Int32 => {
            let v = int()?;
            b!(Int32Builder).append_value(i32::try_from(v).map_err(|_| format!("{v} is out of range for an Iceberg int"))?)
        }
        DataType::Int64 => b!(Int64Builder).append_value(int()?),
        DataType::Float32 => b!(Float32Builder).append_value(match ty {
            // SAFETY: a float4 datum (`ty`).
            Some(Builtin::Float4) => unsafe { f32::from_datum(datum, false) }.unwrap_or_default(),
            _ => return Err("an Iceberg float takes real values".into()),
        }),
        DataType::Float64 => b!(Float64Builder).append_value(match ty {
            // SAFETY: a float4 datum (`ty`).
            Some(Builtin::Float4) => unsafe { f32::from_datum(datum, false) }.unwrap_or_default() as f64,
            // SAFETY: a float8 datum (`ty`).
            Some(Builtin::Float8) => unsafe { f64::from_datum(datum, false) }.unwrap_or_default(),
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
            let s = match ty {
                // SAFETY: a datum of a text-like type (`ty`), all varlena text.
                Some(t) if t.is_text() => unsafe { String::from_datum(datum, false) }.unwrap_or_default(),
                _ => datum_text(datum, type_oid, out_functions),
            };
            if matches!(data_type, DataType::Utf8) {
                b!(StringBuilder).append_value(s)
            } else {
                b!(LargeStringBuilder).append_value(s)
            }
        }
        DataType::Binary | DataType::LargeBinary => {
            // SAFETY: as for every read here (see above): a varlena datum.
            let bytes = unsafe { <&[u8]>::from_datum(datum, false) }.unwrap_or_default();
            if matches!(data_type, DataType::Binary) {
                b!(BinaryBuilder).append_value(bytes)
            } else {
                b!(LargeBinaryBuilder).append_value(bytes)
            }
        }
        DataType::FixedSizeBinary(width) => {
            let bytes: Vec<u8> = if ty == Some(Builtin::Uuid) {
                // SAFETY: a uuid datum (`ty`) points to its 16 bytes.
                unsafe { std::slice::from_raw_parts(datum.cast_mut_ptr::<u8>(), 16) }.to_vec()
            } else {
                // SAFETY: as for every read here (see above): a varlena datum.
                unsafe { <&[u8]>::from_datum(datum, false) }.unwrap_or_default().to_vec()
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

