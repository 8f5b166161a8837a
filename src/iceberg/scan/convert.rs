//! Arrow values to Postgres datums, on the backend thread, allocated in the
//! current (per-tuple) memory context.

use std::ffi::CString;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, TimeUnit};
use pgrx::pg_sys;
use pgrx::{IntoDatum, PgSqlErrorCode};

use crate::errors::{LakeError, LakeResult};
use crate::pg::time::{PG_EPOCH_OFFSET_DAYS, PG_EPOCH_OFFSET_MICROS};
use crate::pg::types::Builtin;

/// How a column's values become datums of its declared Postgres type.
pub enum Target {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Text,
    Bytea,
    Uuid,
    /// Render as text, then the type's input function (numeric, json, jsonb…).
    ViaInput(Box<pg_sys::FmgrInfo>, pg_sys::Oid, i32),
}

impl Target {
    pub fn for_type(type_oid: pg_sys::Oid, typmod: i32) -> Target {
        match Builtin::from_oid(type_oid) {
            Some(Builtin::Bool) => Target::Bool,
            Some(Builtin::Int2) => Target::Int2,
            Some(Builtin::Int4) => Target::Int4,
            Some(Builtin::Int8) => Target::Int8,
            Some(Builtin::Float4) => Target::Float4,
            Some(Builtin::Float8) => Target::Float8,
            Some(Builtin::Date) => Target::Date,
            Some(Builtin::Time) => Target::Time,
            Some(Builtin::Timestamp) => Target::Timestamp,
            Some(Builtin::TimestampTz) => Target::TimestampTz,
            Some(Builtin::Text | Builtin::Varchar) => Target::Text,
            Some(Builtin::Bytea) => Target::Bytea,
            Some(Builtin::Uuid) => Target::Uuid,
            // SAFETY: looks up the type's input function (any type has one)
            // into a zeroed FmgrInfo this Target owns.
            _ => unsafe {
                let mut input = pg_sys::Oid::INVALID;
                let mut ioparam = pg_sys::Oid::INVALID;
                pg_sys::getTypeInputInfo(type_oid, &mut input, &mut ioparam);
                let mut finfo: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
                pg_sys::fmgr_info(input, finfo.as_mut());
                Target::ViaInput(finfo, ioparam, typmod)
            },
        }
    }
}

fn mismatch(array: &dyn Array, what: &str) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
        format!("Iceberg data of type {} cannot be read as {what}", array.data_type()),
    )
    .with_hint("Declare the column with the type IMPORT FOREIGN SCHEMA chooses for it.")
}

fn text_datum(bytes: &[u8]) -> pg_sys::Datum {
    // SAFETY: copies `bytes` into a new varlena in the current memory context.
    unsafe { pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(bytes.as_ptr().cast(), bytes.len() as i32)) }
}

fn bytes_at(array: &ArrayRef, row: usize) -> Option<&[u8]> {
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row).as_bytes()),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row).as_bytes()),
        DataType::Utf8View => Some(array.as_string_view().value(row).as_bytes()),
        DataType::Binary => Some(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Some(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => Some(array.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => Some(array.as_fixed_size_binary().value(row)),
        _ => None,
    }
}

fn micros_at(array: &ArrayRef, row: usize) -> Option<i64> {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Some(array.as_primitive::<TimestampMicrosecondType>().value(row))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Some(array.as_primitive::<TimestampNanosecondType>().value(row).div_euclid(1000))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Some(array.as_primitive::<TimestampMillisecondType>().value(row) * 1000)
        }
        DataType::Timestamp(TimeUnit::Second, _) => {
            Some(array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000)
        }
        _ => None,
    }
}

fn integer_at(array: &ArrayRef, row: usize) -> Option<i64> {
    match array.data_type() {
        DataType::Int8 => Some(array.as_primitive::<Int8Type>().value(row) as i64),
        DataType::Int16 => Some(array.as_primitive::<Int16Type>().value(row) as i64),
        DataType::Int32 => Some(array.as_primitive::<Int32Type>().value(row) as i64),
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row)),
        _ => None,
    }
}

fn float_at(array: &ArrayRef, row: usize) -> Option<f64> {
    match array.data_type() {
        DataType::Float32 => Some(array.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(row)),
        _ => None,
    }
}

/// The value at `row` as a datum of `target`; `None` for NULL.
pub fn datum_at(array: &ArrayRef, row: usize, target: &mut Target) -> LakeResult<Option<pg_sys::Datum>> {
    if array.is_null(row) {
        return Ok(None);
    }
    let datum = match target {
        Target::Bool => match array.data_type() {
            DataType::Boolean => array.as_boolean().value(row).into_datum(),
            _ => return Err(mismatch(array.as_ref(), "boolean")),
        },
        Target::Int2 => {
            let v = integer_at(array, row).ok_or_else(|| mismatch(array.as_ref(), "smallint"))?;
            i16::try_from(v).map_err(|_| mismatch(array.as_ref(), "smallint"))?.into_datum()
        }
        Target::Int4 => {
            let v = integer_at(array, row).ok_or_else(|| mismatch(array.as_ref(), "integer"))?;
            i32::try_from(v).map_err(|_| mismatch(array.as_ref(), "integer"))?.into_datum()
        }
        Target::Int8 => integer_at(array, row).ok_or_else(|| mismatch(array.as_ref(), "bigint"))?.into_datum(),
        Target::Float4 => match array.data_type() {
            DataType::Float32 => array.as_primitive::<Float32Type>().value(row).into_datum(),
            _ => return Err(mismatch(array.as_ref(), "real")),
        },
        Target::Float8 => float_at(array, row).ok_or_else(|| mismatch(array.as_ref(), "double precision"))?.into_datum(),
        Target::Date => match array.data_type() {
            DataType::Date32 => {
                let days = array.as_primitive::<Date32Type>().value(row) - PG_EPOCH_OFFSET_DAYS;
                Some(pg_sys::Datum::from(days))
            }
            _ => return Err(mismatch(array.as_ref(), "date")),
        },
        Target::Time => match array.data_type() {
            DataType::Time64(TimeUnit::Microsecond) => {
                Some(pg_sys::Datum::from(array.as_primitive::<Time64MicrosecondType>().value(row)))
            }
            DataType::Time64(TimeUnit::Nanosecond) => {
                Some(pg_sys::Datum::from(array.as_primitive::<Time64NanosecondType>().value(row) / 1000))
            }
            _ => return Err(mismatch(array.as_ref(), "time")),
        },
        Target::Timestamp | Target::TimestampTz => {
            let micros = micros_at(array, row).ok_or_else(|| mismatch(array.as_ref(), "timestamp"))?;
            Some(pg_sys::Datum::from(micros - PG_EPOCH_OFFSET_MICROS))
        }
        Target::Text => match bytes_at(array, row) {
            Some(b) if matches!(array.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                Some(text_datum(b))
            }
            _ => Some(text_datum(display(array, row)?.as_bytes())),
        },
        Target::Bytea => {
            let b = bytes_at(array, row).ok_or_else(|| mismatch(array.as_ref(), "bytea"))?;
            Some(text_datum(b))
        }
        Target::Uuid => {
            let b = bytes_at(array, row).ok_or_else(|| mismatch(array.as_ref(), "uuid"))?;
            if b.len() != 16 {
                return Err(mismatch(array.as_ref(), "uuid"));
            }
            // SAFETY: a 16-byte palloc in the current memory context.
            unsafe {
                let p = pg_sys::palloc(16) as *mut u8;
                std::ptr::copy_nonoverlapping(b.as_ptr(), p, 16);
                Some(pg_sys::Datum::from(p))
            }
        }
        Target::ViaInput(_, ioparam, typmod) if *ioparam == pg_sys::NUMERICOID => {
            let Some((scale, dscale, max_int)) = numeric_fast_path(array, *typmod) else {
                return datum_via_input(array, row, target);
            };
            let mut body = Vec::with_capacity(48);
            let unscaled = array.as_primitive::<Decimal128Type>().value(row);
            if !numeric_body(unscaled, scale, dscale, max_int, &mut body) {
                return datum_via_input(array, row, target);
            }
            // SAFETY: a palloc'd varlena (4-byte header) in the current
            // memory context holding the numeric's header and digits.
            unsafe {
                let p = pg_sys::palloc(body.len() + 4) as *mut u8;
                std::ptr::write_unaligned(p as *mut u32, ((body.len() + 4) as u32) << 2);
                std::ptr::copy_nonoverlapping(body.as_ptr(), p.add(4), body.len());
                Some(pg_sys::Datum::from(p))
            }
        }
        Target::ViaInput(..) => return datum_via_input(array, row, target),
    };
    Ok(datum)
}

/// The value at `row` (not NULL) rendered as text and given to the type's
/// input function.
fn datum_via_input(array: &ArrayRef, row: usize, target: &mut Target) -> LakeResult<Option<pg_sys::Datum>> {
    let Target::ViaInput(finfo, ioparam, typmod) = target else {
        return Err(LakeError::internal("not an input-function target"));
    };
    let text = match array.data_type() {
        DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_) | DataType::Map(_, _) => {
            json_at(array.as_ref(), row).to_string()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            String::from_utf8_lossy(bytes_at(array, row).unwrap_or_default()).into_owned()
        }
        _ => display(array, row)?,
    };
    let c = CString::new(text).map_err(|_| mismatch(array.as_ref(), "text"))?;
    // SAFETY: the input function copies the string into a new datum.
    Ok(Some(unsafe { pg_sys::InputFunctionCall(finfo.as_mut(), c.as_ptr() as *mut _, *ioparam, *typmod) }))
}

/// For a Decimal128 column read as numeric: its scale, the display scale
/// Postgres gives its values (the declared scale, else the decimal's), and
/// the bound of the integer part the declared precision allows. None when
/// numeric_in must do it (another Arrow type, a negative scale, a declared
/// scale below the decimal's, which rounds).
pub fn numeric_fast_path(array: &ArrayRef, typmod: i32) -> Option<(i8, u16, Option<u128>)> {
    let DataType::Decimal128(_, scale) = array.data_type() else { return None };
    let scale = *scale;
    if scale < 0 {
        return None;
    }
    match crate::pg::types::numeric_typmod(typmod) {
        None => Some((scale, scale as u16, None)),
        Some((precision, declared)) => {
            if declared < scale as u32 || precision < declared || precision - declared > 38 {
                return None;
            }
            Some((scale, declared as u16, Some(10u128.pow(precision - declared))))
        }
    }
}

/// Appends to `out` Postgres' numeric of `unscaled` / 10^`scale` with
/// display scale `dscale`, exactly as numeric.c's make_result lays it out
/// (short header word, then base-10000 digits without leading or trailing
/// zero digits; zero has no digits, weight 0 and a positive sign), in native
/// byte order, without the varlena header. False (nothing appended) when the
/// value is not one the short form holds, or its integer part reaches
/// `max_int` (the declared precision: numeric_in then raises its error).
pub fn numeric_body(unscaled: i128, scale: i8, dscale: u16, max_int: Option<u128>, out: &mut Vec<u8>) -> bool {
    if scale < 0 || (dscale as i32) < scale as i32 || dscale > 63 {
        return false;
    }
    let s = scale as u32;
    let negative = unscaled < 0;
    let magnitude = unscaled.unsigned_abs();
    let Some(unit) = 10u128.checked_pow(s) else { return false };
    let (int_part, frac_part) = match (u64::try_from(magnitude), u64::try_from(unit)) {
        (Ok(m), Ok(u)) => ((m / u) as u128, (m % u) as u128),
        _ => (magnitude / unit, magnitude % unit),
    };
    if max_int.is_some_and(|m| int_part >= m) {
        return false;
    }
    // Fraction digits padded to whole base-10000 digits: the last group
    // holds 4 - pad of them, scaled up by 10^pad (multiplying the whole
    // fraction would overflow at 38 digits).
    let frac_groups = s.div_ceil(4);
    let pad = frac_groups * 4 - s;
    // At most 10 integer and 10 fraction digits (38 decimal digits).
    let mut digits = [0u16; 24];
    let mut int_digits = [0u16; 12];
    // The usual decimals fit 64 bits: their digits come from 64-bit
    // divisions (a 128-bit one is a slow library call).
    let k = match u64::try_from(int_part) {
        Ok(int) => base_digits(int, 10_000u64, &mut int_digits),
        Err(_) => base_digits(int_part, 10_000u128, &mut int_digits),
    };
    let mut n = 0usize;
    for i in (0..k).rev() {
        digits[n] = int_digits[i];
        n += 1;
    }
    let frac_start = n;
    n += frac_groups as usize;
    let last = (10u16.pow(4 - pad), 10u16.pow(pad));
    match u64::try_from(frac_part) {
        Ok(frac) => frac_digits(frac, last, &mut digits[frac_start..n]),
        Err(_) => frac_digits(frac_part, last, &mut digits[frac_start..n]),
    }
    let mut weight = k as i32 - 1;
    let mut first = 0usize;
    while first < n && digits[first] == 0 {
        first += 1;
        weight -= 1;
    }
    while n > first && digits[n - 1] == 0 {
        n -= 1;
    }
    let negative = negative && n > first;
    if n == first {
        weight = 0;
    }
    if !(-64..=63).contains(&weight) {
        return false;
    }
    // NUMERIC_SHORT, its sign bit, display scale and weight (numeric.c).
    let header: u16 = 0x8000
        | if negative { 0x2000 } else { 0 }
        | (dscale << 7)
        | if weight < 0 { 0x0040 } else { 0 }
        | (weight as u16 & 0x003F);
    out.extend_from_slice(&header.to_ne_bytes());
    for d in &digits[first..n] {
        out.extend_from_slice(&d.to_ne_bytes());
    }
    true
}

/// `numeric_body` for a decimal of scale `S` (at most 8) whose magnitude
/// fits 64 bits, written into `out` (its length returned; at most 16 bytes:
/// five integer and two fraction digits). The scale is a constant, so every
/// division is one by a constant (a multiplication) and the fraction's digit
/// loop unrolls: this is the per-row cost of reading `numeric(15,2)` columns
/// (TPC-H's prices and quantities). None where `numeric_body` is needed (a
/// larger magnitude) or refuses (an integer part reaching `max_int`).
#[inline(always)]
fn short_numeric_body<const S: u32>(unscaled: i128, dscale: u16, max_int: Option<u128>, out: &mut [u8; 16]) -> Option<usize> {
    const { assert!(S <= 8) };
    let negative = unscaled < 0;
    let magnitude = u64::try_from(unscaled.unsigned_abs()).ok()?;
    let unit = 10u64.pow(S);
    let (mut int_part, frac_part) = (magnitude / unit, magnitude % unit);
    if max_int.is_some_and(|m| int_part as u128 >= m) {
        return None;
    }
    // Most significant first: up to five integer digits (u64 < 10^20), then
    // the fraction's groups, the last one padded to four decimal digits.
    let mut int_digits = [0u16; 5];
    let mut k = 0usize;
    while int_part > 0 {
        int_digits[k] = (int_part % 10_000) as u16;
        int_part /= 10_000;
        k += 1;
    }
    let frac_groups = S.div_ceil(4) as usize;
    let pad = frac_groups as u32 * 4 - S;
    let mut digits = [0u16; 7];
    for i in 0..k {
        digits[i] = int_digits[k - 1 - i];
    }
    let mut frac = frac_part;
    for j in 0..frac_groups {
        // j = 0 is the last group: 4 - pad decimal digits, scaled up.
        let (group, scale_up) = if j == 0 { (10u64.pow(4 - pad), 10u16.pow(pad)) } else { (10_000, 1) };
        digits[k + frac_groups - 1 - j] = (frac % group) as u16 * scale_up;
        frac /= group;
    }
    let mut n = k + frac_groups;
    let mut first = 0usize;
    while first < n && digits[first] == 0 {
        first += 1;
    }
    while n > first && digits[n - 1] == 0 {
        n -= 1;
    }
    let weight = if n == first { 0 } else { k as i32 - 1 - first as i32 };
    let negative = negative && n > first;
    let header: u16 = 0x8000
        | if negative { 0x2000 } else { 0 }
        | (dscale << 7)
        | if weight < 0 { 0x0040 } else { 0 }
        | (weight as u16 & 0x003F);
    out[..2].copy_from_slice(&header.to_ne_bytes());
    for (i, d) in digits[first..n].iter().enumerate() {
        out[2 + 2 * i..4 + 2 * i].copy_from_slice(&d.to_ne_bytes());
    }
    Some(2 + 2 * (n - first))
}

/// A Decimal128 column of scale `S` as numeric datums in short-header
/// varlenas (every value's body is at most 16 bytes), straight into one
/// buffer. None when a value needs `numeric_body`'s general path.
fn short_numerics<const S: u32>(
    a: &arrow_array::Decimal128Array,
    nulls: &Option<Vec<bool>>,
    dscale: u16,
    max_int: Option<u128>,
) -> Option<(Vec<pg_sys::Datum>, Vec<u64>)> {
    if (dscale as u32) < S || dscale > 63 {
        return None;
    }
    let rows = a.len();
    let mut storage = vec![0u64; (rows * 17) / 8 + 1];
    let base = storage.as_mut_ptr() as *mut u8;
    let mut datums = Vec::with_capacity(rows);
    let mut at = 0usize;
    let mut body = [0u8; 16];
    for (row, value) in a.values().iter().enumerate() {
        if nulls.as_ref().is_some_and(|n| n[row]) {
            datums.push(pg_sys::Datum::from(0usize));
            continue;
        }
        let len = short_numeric_body::<S>(*value, dscale, max_int, &mut body)?;
        // SAFETY: `at` plus a 1-byte header and at most 16 bytes stays
        // within `storage` (17 bytes a row); the heap buffer does not move
        // when the Vec itself is moved.
        unsafe {
            // SET_VARSIZE_1B on little-endian machines (len + 1 <= 17 < 0x7f).
            *base.add(at) = (((len + 1) as u8) << 1) | 1;
            std::ptr::copy_nonoverlapping(body.as_ptr(), base.add(at + 1), len);
            datums.push(pg_sys::Datum::from(base.add(at)));
        }
        at += len + 1;
    }
    Some((datums, storage))
}

/// The base-`nbase` digits of `value`, least significant first; their count.
fn base_digits<T>(mut value: T, nbase: T, out: &mut [u16]) -> usize
where
    T: Copy + PartialOrd + From<u16> + std::ops::Div<Output = T> + std::ops::Rem<Output = T> + TryInto<u16>,
{
    let zero = T::from(0);
    let mut k = 0;
    while value > zero {
        out[k] = (value % nbase).try_into().unwrap_or(0);
        value = value / nbase;
        k += 1;
    }
    k
}

/// Fill `out` (most significant first) with the base-10000 fraction digits
/// of `frac`: the last one holds `last.0` decimal places scaled up by `last.1`.
fn frac_digits<T>(mut frac: T, last: (u16, u16), out: &mut [u16])
where
    T: Copy + From<u16> + std::ops::Div<Output = T> + std::ops::Rem<Output = T> + TryInto<u16>,
{
    for (j, slot) in out.iter_mut().rev().enumerate() {
        let (group, scale_up) = if j == 0 { last } else { (10_000, 1) };
        let digit: u16 = (frac % T::from(group)).try_into().unwrap_or(0);
        *slot = digit * scale_up;
        frac = frac / T::from(group);
    }
}

fn display(array: &ArrayRef, row: usize) -> LakeResult<String> {
    let options = FormatOptions::default();
    let formatter = ArrayFormatter::try_new(array.as_ref(), &options)
        .map_err(|e| LakeError::internal(format!("cannot format Iceberg value: {e}")))?;
    Ok(formatter.value(row).to_string())
}

/// A nested value as JSON: structs become objects, lists arrays, maps objects
/// (keys rendered as text).
pub fn json_at(array: &dyn Array, row: usize) -> serde_json::Value {
    use serde_json::Value as J;
    if array.is_null(row) {
        return J::Null;
    }
    match array.data_type() {
        DataType::Boolean => J::Bool(array.as_boolean().value(row)),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let a: ArrayRef = arrow_array::make_array(array.to_data());
            J::from(integer_at(&a, row).unwrap_or_default())
        }
        DataType::Float32 | DataType::Float64 => {
            let a: ArrayRef = arrow_array::make_array(array.to_data());
            serde_json::Number::from_f64(float_at(&a, row).unwrap_or_default())
                .map(J::Number)
                .unwrap_or(J::Null)
        }
        DataType::Utf8 => J::String(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => J::String(array.as_string::<i64>().value(row).to_string()),
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut obj = serde_json::Map::new();
            for (i, f) in fields.iter().enumerate() {
                obj.insert(f.name().clone(), json_at(s.column(i).as_ref(), row));
            }
            J::Object(obj)
        }
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let values = l.value(row);
            J::Array((0..values.len()).map(|i| json_at(values.as_ref(), i)).collect())
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            let values = l.value(row);
            J::Array((0..values.len()).map(|i| json_at(values.as_ref(), i)).collect())
        }
        DataType::Map(_, _) => {
            let m = array.as_map();
            let entries = m.value(row);
            let keys = entries.column(0);
            let vals = entries.column(1);
            let mut obj = serde_json::Map::new();
            for i in 0..entries.len() {
                let key = match json_at(keys.as_ref(), i) {
                    J::String(s) => s,
                    other => other.to_string(),
                };
                obj.insert(key, json_at(vals.as_ref(), i));
            }
            J::Object(obj)
        }
        _ => {
            let a: ArrayRef = arrow_array::make_array(array.to_data());
            J::String(display(&a, row).unwrap_or_default())
        }
    }
}

/// A batch column downcast once, for the common type pairs, so the per-row
/// work is an index and a datum; anything else goes through `datum_at`.
pub enum FastColumn {
    Int64(arrow_array::Int64Array),
    Int32(arrow_array::Int32Array),
    Int32AsInt64(arrow_array::Int32Array),
    Float64(arrow_array::Float64Array),
    Bool(arrow_array::BooleanArray),
    Date(arrow_array::Date32Array),
    Micros(arrow_array::TimestampMicrosecondArray),
    Other(ArrayRef),
}

/// Run-end-encoded and dictionary arrays (iceberg uses them for constant
/// columns such as identity partition values) as plain arrays.
pub fn plain(array: &ArrayRef) -> ArrayRef {
    let value_type = match array.data_type() {
        DataType::RunEndEncoded(_, values) => values.data_type().clone(),
        DataType::Dictionary(_, values) => (**values).clone(),
        _ => return array.clone(),
    };
    arrow_cast::cast(array, &value_type).unwrap_or_else(|_| array.clone())
}

impl FastColumn {
    pub fn new(array: &ArrayRef, target: &Target) -> FastColumn {
        let array = &plain(array);
        match (array.data_type(), target) {
            (DataType::Int64, Target::Int8) => FastColumn::Int64(array.as_primitive::<Int64Type>().clone()),
            (DataType::Int32, Target::Int4) => FastColumn::Int32(array.as_primitive::<Int32Type>().clone()),
            (DataType::Int32, Target::Int8) => FastColumn::Int32AsInt64(array.as_primitive::<Int32Type>().clone()),
            (DataType::Float64, Target::Float8) => FastColumn::Float64(array.as_primitive::<Float64Type>().clone()),
            (DataType::Boolean, Target::Bool) => FastColumn::Bool(array.as_boolean().clone()),
            (DataType::Date32, Target::Date) => FastColumn::Date(array.as_primitive::<Date32Type>().clone()),
            (DataType::Timestamp(TimeUnit::Microsecond, _), Target::Timestamp | Target::TimestampTz) => {
                FastColumn::Micros(array.as_primitive::<TimestampMicrosecondType>().clone())
            }
            _ => FastColumn::Other(array.clone()),
        }
    }

    /// The datum at `row`, `None` for NULL.
    #[inline]
    pub fn datum(&self, row: usize, target: &mut Target) -> LakeResult<Option<pg_sys::Datum>> {
        macro_rules! fast {
            ($a:expr, $conv:expr) => {{
                if $a.is_null(row) {
                    Ok(None)
                } else {
                    Ok(Some($conv($a.value(row))))
                }
            }};
        }
        match self {
            FastColumn::Int64(a) => fast!(a, pg_sys::Datum::from),
            FastColumn::Int32(a) => fast!(a, pg_sys::Datum::from),
            FastColumn::Int32AsInt64(a) => fast!(a, |v: i32| pg_sys::Datum::from(v as i64)),
            FastColumn::Float64(a) => fast!(a, |v: f64| pg_sys::Datum::from(v.to_bits())),
            FastColumn::Bool(a) => fast!(a, pg_sys::Datum::from),
            FastColumn::Date(a) => fast!(a, |v: i32| pg_sys::Datum::from(v - PG_EPOCH_OFFSET_DAYS)),
            FastColumn::Micros(a) => fast!(a, |v: i64| pg_sys::Datum::from(v - PG_EPOCH_OFFSET_MICROS)),
            FastColumn::Other(a) => datum_at(a, row, target),
        }
    }
}

/// One batch column turned into datums in a single pass (the row-returning
/// scan's fast path): by-value types become their Datum words, text and bytea
/// varlenas laid out in one buffer the batch owns, so returning a row copies
/// one word per column and allocates nothing. Types without a bulk
/// conversion go row by row (`FastColumn`).
pub enum BatchColumn {
    Bulk {
        datums: Vec<pg_sys::Datum>,
        /// Per row: NULL or not (`None`: no NULLs in the batch).
        nulls: Option<Vec<bool>>,
        /// Backing storage of the varlena datums (u64 words: 4-byte headers
        /// need int alignment). Postgres never frees or keeps these pointers
        /// past the next row: a node that holds a row copies it.
        _varlenas: Vec<u64>,
    },
    Row(FastColumn),
}

/// Largest total size (header included) of a varlena with a 1-byte header.
const SHORT_VARLENA_MAX: usize = 0x7f;

/// Lays out `values` as varlenas (1-byte headers when short enough, as
/// Postgres stores them on disk; 4-byte headers, int-aligned, otherwise).
fn varlenas<'a>(rows: usize, total_bytes: usize, value: impl Fn(usize) -> Option<&'a [u8]>) -> (Vec<pg_sys::Datum>, Vec<u64>) {
    // Upper bound: every value with a 4-byte header and 3 bytes of padding.
    let words = (total_bytes + rows * 8) / 8 + 1;
    let mut storage = vec![0u64; words];
    let base = storage.as_mut_ptr() as *mut u8;
    let mut offsets = Vec::with_capacity(rows);
    let mut at = 0usize;
    for row in 0..rows {
        let Some(bytes) = value(row) else {
            offsets.push(usize::MAX);
            continue;
        };
        let len = bytes.len();
        // SAFETY: `at` plus a header and `len` bytes stays within `storage`
        // (sized above for every value's worst case).
        unsafe {
            if len + 1 <= SHORT_VARLENA_MAX {
                // SET_VARSIZE_1B on little-endian machines.
                *base.add(at) = (((len + 1) as u8) << 1) | 1;
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(at + 1), len);
                offsets.push(at);
                at += len + 1;
            } else {
                at = (at + 3) & !3;
                // SET_VARSIZE_4B on little-endian machines.
                std::ptr::write_unaligned(base.add(at) as *mut u32, ((len + 4) as u32) << 2);
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(at + 4), len);
                offsets.push(at);
                at += len + 4;
            }
        }
    }
    let datums = offsets
        .into_iter()
        // SAFETY: offsets point inside `storage`, whose heap buffer does not
        // move when the Vec itself is moved.
        .map(|o| if o == usize::MAX { pg_sys::Datum::from(0usize) } else { pg_sys::Datum::from(unsafe { base.add(o) }) })
        .collect();
    (datums, storage)
}

impl BatchColumn {
    pub fn new(array: &ArrayRef, target: &Target) -> BatchColumn {
        let array = plain(array);
        let rows = array.len();
        let nulls = array.logical_nulls().filter(|n| n.null_count() > 0).map(|n| n.iter().map(|valid| !valid).collect());
        macro_rules! by_value {
            ($t:ty, $conv:expr) => {{
                let a = array.as_primitive::<$t>();
                let datums = a.values().iter().map(|v| pg_sys::Datum::from($conv(*v))).collect();
                BatchColumn::Bulk { datums, nulls, _varlenas: Vec::new() }
            }};
        }
        fn varlena<'a>(rows: usize, total: usize, nulls: &Option<Vec<bool>>, value: impl Fn(usize) -> &'a [u8]) -> (Vec<pg_sys::Datum>, Vec<u64>) {
            varlenas(rows, total, |row| (!nulls.as_ref().is_some_and(|n| n[row])).then(|| value(row)))
        }
        let bulk = match (array.data_type(), target) {
            (DataType::Int64, Target::Int8) => return by_value!(Int64Type, |v: i64| v),
            (DataType::Int32, Target::Int8) => return by_value!(Int32Type, |v: i32| v as i64),
            (DataType::Int32, Target::Int4) => return by_value!(Int32Type, |v: i32| v),
            (DataType::Int16, Target::Int2) => return by_value!(Int16Type, |v: i16| v),
            (DataType::Float64, Target::Float8) => return by_value!(Float64Type, |v: f64| v.to_bits()),
            (DataType::Float32, Target::Float4) => return by_value!(Float32Type, |v: f32| v.to_bits()),
            (DataType::Float32, Target::Float8) => return by_value!(Float32Type, |v: f32| (v as f64).to_bits()),
            (DataType::Date32, Target::Date) => return by_value!(Date32Type, |v: i32| v - PG_EPOCH_OFFSET_DAYS),
            (DataType::Time64(TimeUnit::Microsecond), Target::Time) => return by_value!(Time64MicrosecondType, |v: i64| v),
            (DataType::Timestamp(TimeUnit::Microsecond, _), Target::Timestamp | Target::TimestampTz) => {
                return by_value!(TimestampMicrosecondType, |v: i64| v - PG_EPOCH_OFFSET_MICROS)
            }
            (DataType::Boolean, Target::Bool) => {
                let a = array.as_boolean();
                let datums = (0..rows).map(|i| pg_sys::Datum::from(a.value(i))).collect();
                return BatchColumn::Bulk { datums, nulls, _varlenas: Vec::new() };
            }
            (DataType::Utf8, Target::Text) => {
                let a = array.as_string::<i32>();
                varlena(rows, a.values().len(), &nulls, |i| a.value(i).as_bytes())
            }
            (DataType::LargeUtf8, Target::Text) => {
                let a = array.as_string::<i64>();
                varlena(rows, a.values().len(), &nulls, |i| a.value(i).as_bytes())
            }
            (DataType::Utf8View, Target::Text) => {
                let a = array.as_string_view();
                let total = a.data_buffers().iter().map(|b| b.len()).sum::<usize>() + rows * 12;
                varlena(rows, total, &nulls, |i| a.value(i).as_bytes())
            }
            (DataType::Binary, Target::Bytea) => {
                let a = array.as_binary::<i32>();
                varlena(rows, a.values().len(), &nulls, |i| a.value(i))
            }
            (DataType::LargeBinary, Target::Bytea) => {
                let a = array.as_binary::<i64>();
                varlena(rows, a.values().len(), &nulls, |i| a.value(i))
            }
            // Decimals become numerics directly (no text and numeric_in),
            // laid out as Postgres does; anything unusual goes row by row.
            (DataType::Decimal128(..), Target::ViaInput(_, ioparam, typmod)) if *ioparam == pg_sys::NUMERICOID => {
                match numeric_fast_path(&array, *typmod).and_then(|(scale, dscale, max_int)| {
                    let a = array.as_primitive::<Decimal128Type>();
                    let short = match scale {
                        0 => short_numerics::<0>(a, &nulls, dscale, max_int),
                        1 => short_numerics::<1>(a, &nulls, dscale, max_int),
                        2 => short_numerics::<2>(a, &nulls, dscale, max_int),
                        3 => short_numerics::<3>(a, &nulls, dscale, max_int),
                        4 => short_numerics::<4>(a, &nulls, dscale, max_int),
                        5 => short_numerics::<5>(a, &nulls, dscale, max_int),
                        6 => short_numerics::<6>(a, &nulls, dscale, max_int),
                        7 => short_numerics::<7>(a, &nulls, dscale, max_int),
                        8 => short_numerics::<8>(a, &nulls, dscale, max_int),
                        _ => None,
                    };
                    if short.is_some() {
                        return short;
                    }
                    let mut bodies = Vec::with_capacity(rows * 12);
                    let mut ends = Vec::with_capacity(rows);
                    for row in 0..rows {
                        if !nulls.as_ref().is_some_and(|n| n[row])
                            && !numeric_body(a.value(row), scale, dscale, max_int, &mut bodies)
                        {
                            return None;
                        }
                        ends.push(bodies.len());
                    }
                    let start = |row: usize| if row == 0 { 0 } else { ends[row - 1] };
                    Some(varlena(rows, bodies.len(), &nulls, |i| &bodies[start(i)..ends[i]]))
                }) {
                    Some(bulk) => bulk,
                    None => return BatchColumn::Row(FastColumn::new(&array, target)),
                }
            }
            _ => return BatchColumn::Row(FastColumn::new(&array, target)),
        };
        let (datums, storage) = bulk;
        BatchColumn::Bulk { datums, nulls, _varlenas: storage }
    }

    /// The datum at `row`, `None` for NULL.
    #[inline]
    pub fn datum(&self, row: usize, target: &mut Target) -> LakeResult<Option<pg_sys::Datum>> {
        match self {
            BatchColumn::Bulk { datums, nulls, .. } => {
                if nulls.as_ref().is_some_and(|n| n[row]) {
                    Ok(None)
                } else {
                    Ok(Some(datums[row]))
                }
            }
            BatchColumn::Row(c) => c.datum(row, target),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{numeric_body, short_numeric_body};

    /// The header word and base-10000 digits of an encoded numeric.
    fn encoded(unscaled: i128, scale: i8, dscale: u16) -> Option<(u16, Vec<i16>)> {
        let mut out = Vec::new();
        if !numeric_body(unscaled, scale, dscale, None, &mut out) {
            assert!(out.is_empty());
            return None;
        }
        let words: Vec<u16> = out.chunks(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect();
        Some((words[0], words[1..].iter().map(|w| *w as i16).collect()))
    }

    /// Decode as numeric.c reads the short form: the value as text.
    fn decoded(header: u16, digits: &[i16]) -> String {
        assert_eq!(header & 0xC000, 0x8000, "short form");
        let negative = header & 0x2000 != 0;
        let dscale = ((header & 0x1F80) >> 7) as usize;
        let weight = if header & 0x0040 != 0 { (header | !0x003F) as i16 as i32 } else { (header & 0x003F) as i32 };
        // Every digit position from weight down to the display scale.
        let mut int = String::new();
        for w in (0..=weight.max(0)).rev() {
            let at = weight - w;
            let d = if at >= 0 && (at as usize) < digits.len() { digits[at as usize] } else { 0 };
            int.push_str(&format!("{d:04}"));
        }
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let mut frac = String::new();
        for w in 1..=dscale.div_ceil(4) as i32 {
            let at = weight + w;
            let d = if at >= 0 && (at as usize) < digits.len() { digits[at as usize] } else { 0 };
            frac.push_str(&format!("{d:04}"));
        }
        frac.truncate(dscale);
        let sign = if negative { "-" } else { "" };
        if dscale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
    }

    fn text(unscaled: i128, scale: i8, dscale: u16) -> String {
        let (h, d) = encoded(unscaled, scale, dscale).expect("encodable");
        assert!(d.first() != Some(&0) && d.last() != Some(&0), "no leading or trailing zero digits: {d:?}");
        decoded(h, &d)
    }

    #[test]
    fn values_read_back_as_written() {
        assert_eq!(text(12345, 2, 2), "123.45");
        assert_eq!(text(-12345, 2, 2), "-123.45");
        assert_eq!(text(5, 2, 2), "0.05");
        assert_eq!(text(100, 2, 2), "1.00");
        assert_eq!(text(1_0000_0000, 0, 0), "100000000");
        assert_eq!(text(123_4567_8901, 4, 4), "1234567.8901");
        assert_eq!(text(1, 10, 10), "0.0000000001");
        assert_eq!(text(150, 2, 4), "1.5000");
        assert_eq!(text(i128::MAX / 10, 0, 0), (i128::MAX / 10).to_string());
        let nines = -(10i128.pow(38) - 1);
        assert_eq!(text(nines, 38, 38), format!("-0.{}", "9".repeat(38)));
        assert_eq!(text(nines, 0, 0), format!("-{}", "9".repeat(38)));
        assert_eq!(text(nines, 19, 19), format!("-{}.{}", "9".repeat(19), "9".repeat(19)));
    }

    /// `unscaled` / 10^`scale` as text, from its decimal string alone.
    fn by_text(unscaled: i128, scale: usize) -> String {
        let digits = unscaled.unsigned_abs().to_string();
        let padded = format!("{}{digits}", "0".repeat((scale + 1).saturating_sub(digits.len())));
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if unscaled < 0 { "-" } else { "" };
        if scale == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") }
    }

    #[test]
    fn values_around_64_bits_read_back_as_written() {
        // Magnitudes on both sides of the 64-bit fast path, every scale
        // across the 19 digits where the unit itself stops fitting it.
        let edge = u64::MAX as i128;
        for v in [edge - 1, edge, edge + 1, 10i128.pow(19) - 1, 10i128.pow(19), 10i128.pow(20) + 12345, 987_654_321_012, 1] {
            for scale in [0usize, 1, 2, 3, 4, 5, 8, 18, 19, 20, 21, 37] {
                for value in [v, -v] {
                    assert_eq!(text(value, scale as i8, scale as u16), by_text(value, scale), "{value} scale {scale}");
                }
            }
        }
    }

    #[test]
    fn layout_is_make_results() {
        // 123.45: weight 0, digits 123 and 4500, display scale 2.
        assert_eq!(encoded(12345, 2, 2), Some((0x8000 | (2 << 7), vec![123, 4500])));
        // -0.05: weight -1 (sign bit of the weight and its low bits all set).
        assert_eq!(encoded(-5, 2, 2), Some((0x8000 | 0x2000 | (2 << 7) | 0x0040 | 0x003F, vec![500])));
        // 10000: one digit 1 of weight 1, the trailing zero digit dropped.
        assert_eq!(encoded(10000, 0, 0), Some((0x8000 | 1, vec![1])));
        // Zero, also negative zero: no digits, weight 0, positive.
        assert_eq!(encoded(0, 2, 2), Some((0x8000 | (2 << 7), vec![])));
        assert_eq!(encoded(-0, 3, 5), Some((0x8000 | (5 << 7), vec![])));
    }

    /// The fixed-scale encoder of 64-bit magnitudes gives `numeric_body`'s
    /// bytes, or leaves the value to it.
    fn short_agrees<const S: u32>(values: &[i128], dscale: u16, max_int: Option<u128>) {
        for &v in values {
            let mut general = Vec::new();
            let ok = numeric_body(v, S as i8, dscale, max_int, &mut general);
            let mut body = [0u8; 16];
            match short_numeric_body::<S>(v, dscale, max_int, &mut body) {
                Some(len) => {
                    assert!(ok, "{v} scale {S}: the general path refuses it");
                    assert_eq!(&body[..len], &general[..], "{v} scale {S} dscale {dscale}");
                }
                None => assert!(
                    !ok || v.unsigned_abs() > u64::MAX as u128,
                    "{v} scale {S}: only large or refused values go the general way"
                ),
            }
        }
    }

    #[test]
    fn fixed_scale_encoder_matches_the_general_one() {
        let mut values: Vec<i128> = vec![0, 1, 5, 9, 10, 99, 100, 101, 9999, 10_000, 10_001, 12_345, 99_999_999, 100_000_000];
        values.extend([123_456_789_012, 10i128.pow(18), u64::MAX as i128, u64::MAX as i128 + 1, i64::MAX as i128]);
        // TPC-H-like prices and a pseudo-random spread of magnitudes.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x >> (x % 60)) as i128);
        }
        let both: Vec<i128> = values.iter().flat_map(|v| [*v, -*v]).collect();
        short_agrees::<0>(&both, 0, None);
        short_agrees::<1>(&both, 1, None);
        short_agrees::<2>(&both, 2, None);
        short_agrees::<2>(&both, 4, None);
        short_agrees::<2>(&both, 2, Some(10u128.pow(13)));
        short_agrees::<2>(&both, 2, Some(1000));
        short_agrees::<3>(&both, 3, None);
        short_agrees::<4>(&both, 4, None);
        short_agrees::<4>(&both, 9, None);
        short_agrees::<5>(&both, 5, None);
        short_agrees::<6>(&both, 6, Some(10u128.pow(12)));
        short_agrees::<7>(&both, 7, None);
        short_agrees::<8>(&both, 8, None);
        short_agrees::<8>(&both, 63, None);
    }

    #[test]
    fn unusual_cases_are_left_to_numeric_in() {
        assert_eq!(encoded(1, -1, 0), None);
        // A display scale below the value's would round.
        assert_eq!(encoded(12345, 2, 1), None);
        // Precision: numeric(5,2) holds up to 999.99.
        let mut out = Vec::new();
        assert!(numeric_body(99999, 2, 2, Some(1000), &mut out));
        out.clear();
        assert!(!numeric_body(100000, 2, 2, Some(1000), &mut out));
        assert!(!numeric_body(-100000, 2, 2, Some(1000), &mut out));
        assert!(out.is_empty());
    }
}
