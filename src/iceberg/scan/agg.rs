//! Aggregates computed on Arrow batches (issue 15): what an accepted
//! aggregate path asks for (`AggSpec`, stored in the plan) and the
//! accumulation itself. Pure logic, no pgrx: values stay in Arrow arrays
//! and Rust scalars until the few result rows are turned into datums
//! (`exec`). Every operation reproduces Postgres' own aggregate: the
//! planner only pushes the (function, type) pairs listed in `AggOp`.

use std::collections::{HashMap, HashSet};

// A fast non-cryptographic hash: group keys are the query's own data.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int64Array, StringArray};
use arrow_buffer::i256;
use arrow_schema::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::fdw::upper::{ArithOp, TimeUnit as CalendarUnit};

/// One aggregate, with the Postgres semantics it must reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggOp {
    CountStar,
    Count,
    CountDistinct,
    /// sum of int2/int4: bigint.
    SumInt,
    /// sum of int8 (numeric) or of decimal(p, s) (numeric of scale s).
    SumExact { scale: i8 },
    /// avg of integers or decimals: numeric_div(sum, count), as Postgres' own.
    AvgExact { scale: i8 },
    Min,
    Max,
    BoolAnd,
    BoolOr,
}

impl AggOp {
    pub fn name(self) -> &'static str {
        match self {
            AggOp::CountStar | AggOp::Count | AggOp::CountDistinct => "count",
            AggOp::SumInt | AggOp::SumExact { .. } => "sum",
            AggOp::AvgExact { .. } => "avg",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::BoolAnd => "bool_and",
            AggOp::BoolOr => "bool_or",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggItem {
    pub op: AggOp,
    /// Index into `AggSpec::inputs` (None for count(*)).
    pub input: Option<usize>,
}

/// One output column of the aggregate scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutItem {
    /// The n-th grouping key.
    Key(usize),
    /// The n-th aggregate.
    Agg(usize),
}

/// What an aggregate scan computes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggSpec {
    /// The plan columns read (indexes into `ScanPlan::columns`), in batch order.
    pub inputs: Vec<usize>,
    /// Each input's decimal scale (Iceberg decimals), for its result values.
    pub scales: Vec<Option<i8>>,
    /// Grouping keys, as indexes into `inputs`.
    pub keys: Vec<usize>,
    pub aggs: Vec<AggItem>,
    pub outputs: Vec<OutItem>,
    /// Arithmetic computed per row from the inputs; aggregate input
    /// `inputs.len() + k` is `computed[k]`.
    #[serde(default)]
    pub computed: Vec<Computed>,
}

impl AggSpec {
    /// Only count(*), with no grouping: answerable from file row counts.
    pub fn count_only(&self) -> bool {
        self.keys.is_empty() && self.aggs.iter().all(|a| a.op == AggOp::CountStar)
    }

    /// Only count(*), min and max, with no grouping: answerable from file
    /// row counts and column bounds (when those are exact).
    pub fn bounds_only(&self) -> bool {
        self.computed.is_empty()
            && self.keys.is_empty()
            && self.aggs.iter().all(|a| matches!(a.op, AggOp::CountStar | AggOp::Min | AggOp::Max))
            && self.aggs.iter().any(|a| a.op != AggOp::CountStar)
    }
}

/// The Arrow type a computed value is held in: Postgres' result type of
/// the expression node (int2, int4, int8 or numeric of this precision and
/// display scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NumType {
    Int16,
    Int32,
    Int64,
    Decimal { precision: u8, scale: i8 },
    /// Microseconds since 1970 (timestamp without time zone).
    Timestamp,
}

impl NumType {
    pub fn arrow(self) -> DataType {
        match self {
            NumType::Int16 => DataType::Int16,
            NumType::Int32 => DataType::Int32,
            NumType::Int64 => DataType::Int64,
            NumType::Decimal { precision, scale } if precision <= 38 => DataType::Decimal128(precision, scale),
            NumType::Decimal { precision, scale } => DataType::Decimal256(precision, scale),
            NumType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        }
    }

    /// Postgres' message when an integer operation leaves the type's range.
    fn out_of_range(self) -> &'static str {
        match self {
            NumType::Int16 => "smallint out of range",
            NumType::Int32 => "integer out of range",
            NumType::Int64 => "bigint out of range",
            NumType::Decimal { .. } => "numeric value out of range",
            NumType::Timestamp => "timestamp out of range",
        }
    }
}

/// One node of a computed input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CExpr {
    pub ty: NumType,
    pub node: CNode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CNode {
    /// An input column (index into `AggSpec::inputs`).
    Input(usize),
    Int(i64),
    /// Unscaled, at the node type's scale.
    Decimal(i128),
    Arith { op: ArithOp, left: Box<CExpr>, right: Box<CExpr> },
    /// To the node's (wider) type.
    Cast(Box<CExpr>),
    /// `date_trunc(unit, input)` of a timestamp input.
    Trunc { unit: CalendarUnit, input: usize },
    /// `extract(unit FROM input)` of a date or timestamp input (numeric, scale 0).
    Extract { unit: CalendarUnit, input: usize },
}

/// An aggregate input computed from the batch's columns, with its
/// Postgres type (OID) and the text EXPLAIN shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Computed {
    pub expr: CExpr,
    pub type_oid: u32,
    pub text: String,
}

impl CExpr {
    /// Visit every input index (to renumber them).
    pub fn inputs_mut(&mut self, f: &mut dyn FnMut(&mut usize)) {
        match &mut self.node {
            CNode::Input(i) => f(i),
            CNode::Int(_) | CNode::Decimal(_) => {}
            CNode::Arith { left, right, .. } => {
                left.inputs_mut(f);
                right.inputs_mut(f);
            }
            CNode::Cast(e) => e.inputs_mut(f),
            CNode::Trunc { input, .. } | CNode::Extract { input, .. } => f(input),
        }
    }

    /// Evaluate over one batch with Arrow's checked kernels: NULL in, NULL
    /// out; integer overflow is Postgres' error; numeric results are exact
    /// (the planner bounds their precision to what i128 holds).
    fn eval(&self, columns: &[ArrayRef]) -> Result<(ArrayRef, bool), AggError> {
        use arrow_array::Datum;
        let to = self.ty.arrow();
        let cast = |a: &ArrayRef| -> Result<ArrayRef, AggError> {
            if a.data_type() == &to {
                return Ok(a.clone());
            }
            let options = arrow_cast::CastOptions { safe: false, ..Default::default() };
            arrow_cast::cast_with_options(a, &to, &options).map_err(|e| AggError::Internal(format!("computed input: {e}")))
        };
        Ok(match &self.node {
            CNode::Input(i) => (cast(&super::convert::plain(&columns[*i]))?, false),
            CNode::Int(v) => (cast(&(std::sync::Arc::new(Int64Array::from(vec![*v])) as ArrayRef))?, true),
            CNode::Decimal(v) => {
                let a = Decimal128Array::from(vec![*v])
                    .with_data_type(to.clone());
                (std::sync::Arc::new(a) as ArrayRef, true)
            }
            CNode::Cast(e) => {
                let (a, scalar) = e.eval(columns)?;
                (cast(&a)?, scalar)
            }
            CNode::Trunc { unit, input } => {
                let micros = as_micros(&columns[*input])?;
                let out = micros
                    .try_unary::<_, TimestampMicrosecondType, _>(|v| {
                        calendar::trunc(v, *unit).ok_or_else(|| arrow_schema::ArrowError::ComputeError(format!("date_trunc of {v}")))
                    })
                    .map_err(|_| AggError::BeyondCalendar("date_trunc".into()))?;
                (std::sync::Arc::new(out) as ArrayRef, false)
            }
            CNode::Extract { unit, input } => {
                let micros = as_micros(&columns[*input])?;
                let out = micros
                    .try_unary::<_, Decimal128Type, _>(|v| {
                        calendar::extract(v, *unit)
                            .map(i128::from)
                            .ok_or_else(|| arrow_schema::ArrowError::ComputeError(format!("extract of {v}")))
                    })
                    .map_err(|_| AggError::BeyondCalendar("extract".into()))?
                    .with_data_type(to.clone());
                (std::sync::Arc::new(out) as ArrayRef, false)
            }
            CNode::Arith { op, left, right } => {
                let (l, ls) = left.eval(columns)?;
                let (r, rs) = right.eval(columns)?;
                // Integer operands compute in the result's width (int24pl is
                // int4 arithmetic); decimals keep their own scales.
                let (l, r) = match self.ty {
                    // Wide results: both operands as Decimal256 at their own scales.
                    NumType::Decimal { precision, .. } if precision > 38 => (widen(&l)?, widen(&r)?),
                    NumType::Decimal { .. } => (l, r),
                    _ => (cast(&l)?, cast(&r)?),
                };
                let datum = |a: &ArrayRef, scalar: bool| -> Box<dyn Datum> {
                    if scalar {
                        Box::new(arrow_array::Scalar::new(a.clone()))
                    } else {
                        Box::new(a.clone())
                    }
                };
                let (ld, rd) = (datum(&l, ls), datum(&r, rs));
                let out = match op {
                    ArithOp::Add => arrow_arith::numeric::add(ld.as_ref(), rd.as_ref()),
                    ArithOp::Sub => arrow_arith::numeric::sub(ld.as_ref(), rd.as_ref()),
                    ArithOp::Mul => arrow_arith::numeric::mul(ld.as_ref(), rd.as_ref()),
                };
                let out = out.map_err(|e| match e {
                    arrow_schema::ArrowError::ArithmeticOverflow(_) => AggError::OutOfRange(self.ty.out_of_range()),
                    e => AggError::Internal(format!("computed input: {e}")),
                })?;
                // Arrow's decimal results carry their own precision metadata
                // (capped at 38); the values are the same.
                let out = match self.ty {
                    NumType::Decimal { .. } => cast_decimal_type(out, &to)?,
                    _ => out,
                };
                (out, ls && rs)
            }
        })
    }
}

/// A date or timestamp column as microseconds since 1970 (dates at midnight).
fn as_micros(a: &ArrayRef) -> Result<arrow_array::TimestampMicrosecondArray, AggError> {
    let a = super::convert::plain(a);
    let err = |e: arrow_schema::ArrowError| AggError::Internal(format!("computed input: {e}"));
    Ok(match a.data_type() {
        DataType::Date32 => a.as_primitive::<Date32Type>().try_unary::<_, TimestampMicrosecondType, _>(|d| {
            (d as i64).checked_mul(86_400_000_000).ok_or_else(|| arrow_schema::ArrowError::ComputeError(format!("date {d}")))
        }).map_err(|_| AggError::BeyondCalendar("a date function".into()))?,
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            a.as_primitive::<TimestampMicrosecondType>().reinterpret_cast::<TimestampMicrosecondType>()
        }
        _ => {
            let cast = arrow_cast::cast(&a, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(err)?;
            cast.as_primitive::<TimestampMicrosecondType>().clone()
        }
    })
}

/// Postgres' date_trunc and extract on proleptic Gregorian civil time (no time zone).
pub mod calendar {
    use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};

    use super::CalendarUnit as U;

    fn civil(micros: i64) -> Option<NaiveDateTime> {
        DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
    }

    pub fn trunc(micros: i64, unit: U) -> Option<i64> {
        let t = civil(micros)?;
        let d = t.date();
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
        let out = match unit {
            U::Year => midnight(NaiveDate::from_ymd_opt(d.year(), 1, 1)?)?,
            U::Quarter => midnight(NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1)?)?,
            U::Month => midnight(NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?)?,
            // ISO weeks start on Monday.
            U::Week => midnight(d - Duration::days(d.weekday().num_days_from_monday() as i64))?,
            U::Day => midnight(d)?,
            U::Hour => d.and_hms_opt(t.hour(), 0, 0)?,
            U::Minute => d.and_hms_opt(t.hour(), t.minute(), 0)?,
            U::Second => d.and_hms_opt(t.hour(), t.minute(), t.second())?,
        };
        Some(out.and_utc().timestamp_micros())
    }

    pub fn extract(micros: i64, unit: U) -> Option<i64> {
        let t = civil(micros)?;
        Some(match unit {
            // Postgres has no year 0: 1 BC is -1 (chrono's year 0).
            U::Year => {
                let y = t.year() as i64;
                if y > 0 { y } else { y - 1 }
            }
            U::Quarter => ((t.month() - 1) / 3 + 1) as i64,
            U::Month => t.month() as i64,
            U::Day => t.day() as i64,
            U::Hour => t.hour() as i64,
            U::Minute => t.minute() as i64,
            U::Week | U::Second => return None,
        })
    }
}

/// Relabel a decimal array with the planned precision (same scale).
fn cast_decimal_type(a: ArrayRef, to: &DataType) -> Result<ArrayRef, AggError> {
    match (a.data_type(), to) {
        (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) if s1 == s2 => {
            Ok(std::sync::Arc::new(a.as_primitive::<Decimal128Type>().clone().with_data_type(to.clone())))
        }
        (DataType::Decimal256(_, s1), DataType::Decimal256(_, s2)) if s1 == s2 => {
            Ok(std::sync::Arc::new(a.as_primitive::<Decimal256Type>().clone().with_data_type(to.clone())))
        }
        (from, to) => Err(AggError::Internal(format!("computed decimal {from} planned as {to}"))),
    }
}

/// A decimal operand as Decimal256 of the same precision and scale.
fn widen(a: &ArrayRef) -> Result<ArrayRef, AggError> {
    match a.data_type() {
        DataType::Decimal128(p, s) => {
            arrow_cast::cast(a, &DataType::Decimal256(*p, *s)).map_err(|e| AggError::Internal(format!("computed input: {e}")))
        }
        _ => Ok(a.clone()),
    }
}

/// A value kept for a result (a grouping key, min or max).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// Integers, dates (days), times and timestamps (their Arrow unit).
    Int(i64),
    Float(f64),
    /// Text (UTF-8) or bytes.
    Bytes(Vec<u8>),
    Bool(bool),
    /// Unscaled decimal.
    Decimal(i128),
}

/// One result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    /// count, or sum of int2/int4.
    Int(i64),
    /// An exact sum: unscaled value and scale.
    Exact { sum: i256, scale: i8 },
    /// An exact average: numeric_div of the sum (with scale) by count.
    Avg { sum: i256, scale: i8, count: i64 },
    Bool(bool),
    Value(Scalar),
}

/// An input column of one batch in a few normal forms (integers of any width
/// as i64, floats as f64, ...), converted with Arrow's cast kernels.
pub enum Col {
    Int(Int64Array),
    Float(Float64Array),
    Text(StringArray),
    Bytes(ArrayRef),
    Bool(BooleanArray),
    Decimal(Decimal128Array),
    /// A computed decimal wider than 38 digits (summed only).
    Wide(arrow_array::Decimal256Array),
    /// Absent from this file's schema: every value NULL.
    Null(usize),
    /// Any other type: only its NULLs are looked at (count).
    Other(ArrayRef),
}

impl Col {
    pub fn new(array: &ArrayRef) -> Col {
        let array = super::convert::plain(array);
        let cast = |to: &DataType| arrow_cast::cast(&array, to).ok();
        match array.data_type() {
            DataType::Null => Col::Null(array.len()),
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                cast(&DataType::Int64).map_or(Col::Other(array.clone()), |a| Col::Int(a.as_primitive::<Int64Type>().clone()))
            }
            DataType::Date32 => Col::Int(array.as_primitive::<Date32Type>().unary::<_, Int64Type>(|d| d as i64)),
            DataType::Time64(TimeUnit::Microsecond) => Col::Int(array.as_primitive::<Time64MicrosecondType>().reinterpret_cast::<Int64Type>()),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                Col::Int(array.as_primitive::<TimestampMicrosecondType>().reinterpret_cast::<Int64Type>())
            }
            DataType::Float16 | DataType::Float32 | DataType::Float64 => cast(&DataType::Float64)
                .map_or(Col::Other(array.clone()), |a| Col::Float(a.as_primitive::<Float64Type>().clone())),
            DataType::Utf8 => Col::Text(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 | DataType::Utf8View => {
                cast(&DataType::Utf8).map_or(Col::Other(array.clone()), |a| Col::Text(a.as_string::<i32>().clone()))
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
                Col::Bytes(array.clone())
            }
            DataType::Boolean => Col::Bool(array.as_boolean().clone()),
            DataType::Decimal128(_, _) => Col::Decimal(array.as_primitive::<Decimal128Type>().clone()),
            DataType::Decimal256(_, _) => Col::Wide(array.as_primitive::<Decimal256Type>().clone()),
            _ => Col::Other(array.clone()),
        }
    }

    fn is_null(&self, row: usize) -> bool {
        match self {
            Col::Int(a) => a.is_null(row),
            Col::Float(a) => a.is_null(row),
            Col::Text(a) => a.is_null(row),
            Col::Bytes(a) | Col::Other(a) => a.is_null(row),
            Col::Bool(a) => a.is_null(row),
            Col::Decimal(a) => a.is_null(row),
            Col::Wide(a) => a.is_null(row),
            Col::Null(_) => true,
        }
    }

    fn null_count(&self) -> usize {
        match self {
            Col::Int(a) => a.null_count(),
            Col::Float(a) => a.null_count(),
            Col::Text(a) => a.null_count(),
            Col::Bytes(a) | Col::Other(a) => a.logical_null_count(),
            Col::Bool(a) => a.null_count(),
            Col::Decimal(a) => a.null_count(),
            Col::Wide(a) => a.null_count(),
            Col::Null(n) => *n,
        }
    }

    fn bytes(&self, row: usize) -> Option<&[u8]> {
        match self {
            Col::Text(a) => Some(a.value(row).as_bytes()),
            Col::Bytes(a) => match a.data_type() {
                DataType::Binary => Some(a.as_binary::<i32>().value(row)),
                DataType::LargeBinary => Some(a.as_binary::<i64>().value(row)),
                DataType::BinaryView => Some(a.as_binary_view().value(row)),
                DataType::FixedSizeBinary(_) => Some(a.as_fixed_size_binary().value(row)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The value at `row` (None: NULL, or a type kept only for counting).
    fn scalar(&self, row: usize) -> Option<Scalar> {
        if self.is_null(row) {
            return None;
        }
        match self {
            Col::Int(a) => Some(Scalar::Int(a.value(row))),
            Col::Float(a) => Some(Scalar::Float(a.value(row))),
            Col::Text(_) | Col::Bytes(_) => self.bytes(row).map(|b| Scalar::Bytes(b.to_vec())),
            Col::Bool(a) => Some(Scalar::Bool(a.value(row))),
            Col::Decimal(a) => Some(Scalar::Decimal(a.value(row))),
            Col::Null(_) | Col::Other(_) | Col::Wide(_) => None,
        }
    }

    /// Append `row`'s grouping identity to `out`: equal exactly when
    /// Postgres' equality operator says so (floats: all NaNs are one value,
    /// and -0 = 0).
    fn encode(&self, row: usize, out: &mut Vec<u8>) {
        if self.is_null(row) {
            out.push(0);
            return;
        }
        out.push(1);
        match self {
            Col::Int(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
            Col::Float(a) => {
                let v = a.value(row);
                let v = if v.is_nan() { f64::NAN } else if v == 0.0 { 0.0 } else { v };
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            Col::Text(_) | Col::Bytes(_) => {
                let b = self.bytes(row).unwrap_or_default();
                out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                out.extend_from_slice(b);
            }
            Col::Bool(a) => out.push(a.value(row) as u8),
            Col::Decimal(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
            Col::Wide(a) => out.extend_from_slice(&a.value(row).to_le_bytes()),
            Col::Null(_) | Col::Other(_) => {}
        }
    }
}

/// The exact sum of `values`: the high and low 32 bits of each are added
/// apart (neither can overflow for fewer than 2^32 values), which compilers
/// vectorise, where an i128 addition per value is not.
fn sum_i64_exact(values: &[i64]) -> i128 {
    let (mut low, mut high) = (0u64, 0i64);
    for &v in values {
        low += (v as u64) & 0xFFFF_FFFF;
        high += v >> 32;
    }
    ((high as i128) << 32) + low as i128
}

/// One pass over a batch of integers without NULLs: their exact sum, the
/// minimum and the maximum (what sum, avg, min and max of one column need).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IntStats {
    sum: i128,
    min: i64,
    max: i64,
}

/// `IntStats` of `values` (not empty), with AVX2 where the CPU has it: the
/// extension is built for baseline x86-64, whose SSE2 has no 64-bit compare,
/// so min/max would be emulated lane by lane. Detected at run time (never
/// required at compile time: the build machine need not be the server).
fn int_stats(values: &[i64]) -> IntStats {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { int_stats_avx2(values) };
        }
    }
    int_stats_lanes(values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn int_stats_avx2(values: &[i64]) -> IntStats {
    int_stats_lanes(values)
}

/// Four independent lanes of (low 32 bits, high 32 bits, min, max), which
/// compilers turn into vector code; the halves of the sum cannot overflow
/// for fewer than 2^32 values (see `sum_i64_exact`).
#[inline(always)]
fn int_stats_lanes(values: &[i64]) -> IntStats {
    const LANES: usize = 4;
    let (mut low, mut high) = ([0u64; LANES], [0i64; LANES]);
    let (mut min, mut max) = ([i64::MAX; LANES], [i64::MIN; LANES]);
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for l in 0..LANES {
            let v = chunk[l];
            low[l] += (v as u64) & 0xFFFF_FFFF;
            high[l] += v >> 32;
            min[l] = min[l].min(v);
            max[l] = max[l].max(v);
        }
    }
    for &v in rest {
        low[0] += (v as u64) & 0xFFFF_FFFF;
        high[0] += v >> 32;
        min[0] = min[0].min(v);
        max[0] = max[0].max(v);
    }
    let low: i128 = low.iter().map(|l| *l as i128).sum();
    let high: i128 = high.iter().map(|h| *h as i128).sum();
    IntStats {
        sum: (high << 32) + low,
        min: min.into_iter().min().unwrap_or(i64::MAX),
        max: max.into_iter().max().unwrap_or(i64::MIN),
    }
}

/// Past this many groups a batch touches few of them: zeroing per-batch
/// partial results would cost more than the work they save.
const MOST_GROUPS: usize = 4096;

/// One batch's sums and counts per group, in i128.
#[derive(Clone)]
struct GroupedSums {
    sum: Vec<i128>,
    count: Vec<i64>,
}

impl GroupedSums {
    fn add_to(&self, sum: &mut [i256], count: &mut [i64]) {
        for g in 0..sum.len().min(self.sum.len()) {
            if self.count[g] > 0 {
                sum[g] = sum[g].wrapping_add(i256::from_i128(self.sum[g]));
                count[g] += self.count[g];
            }
        }
    }
}

/// The per-group partial sums of one batch's (group, value) pairs; None
/// when there are too many groups or an i128 sum overflows.
fn grouped_partials(groups: usize, values: impl Iterator<Item = (usize, i128)>) -> Option<GroupedSums> {
    if groups > MOST_GROUPS {
        return None;
    }
    let mut part = vec![0i128; groups];
    let mut n = vec![0i64; groups];
    let mut overflowed = false;
    for (g, v) in values {
        let (r, o) = part[g].overflowing_add(v);
        part[g] = r;
        overflowed |= o;
        n[g] += 1;
    }
    (!overflowed).then_some(GroupedSums { sum: part, count: n })
}

/// Adds one batch's (group, value) pairs into `sum` and `count`: per group
/// in i128 first (one i256 addition per group and batch instead of per
/// value), value by value in i256 if an i128 partial sum overflows.
fn add_grouped(sum: &mut [i256], count: &mut [i64], values: impl Iterator<Item = (usize, i128)> + Clone) {
    if sum.len() <= MOST_GROUPS {
        let mut part = vec![0i128; sum.len()];
        let mut n = vec![0i64; sum.len()];
        let mut overflowed = false;
        for (g, v) in values.clone() {
            let (r, o) = part[g].overflowing_add(v);
            part[g] = r;
            overflowed |= o;
            n[g] += 1;
        }
        if !overflowed {
            for g in 0..sum.len() {
                if n[g] > 0 {
                    sum[g] = sum[g].wrapping_add(i256::from_i128(part[g]));
                    count[g] += n[g];
                }
            }
            return;
        }
    }
    for (g, v) in values {
        sum[g] = sum[g].wrapping_add(i256::from_i128(v));
        count[g] += 1;
    }
}

/// The sum of `values` in i128, None if it overflows on the way.
fn sum_i128_checked(values: &[i128]) -> Option<i128> {
    let (mut s, mut overflowed) = (0i128, false);
    for &v in values {
        let (r, o) = s.overflowing_add(v);
        s = r;
        overflowed |= o;
    }
    (!overflowed).then_some(s)
}

/// Postgres' float ordering: NaN above every other value.
fn float_lt(a: f64, b: f64) -> bool {
    if a.is_nan() {
        false
    } else if b.is_nan() {
        true
    } else {
        a < b
    }
}

/// Whether `new` replaces `best` as the minimum (`max` false) or maximum.
/// Ties matter only for floats (-0 and 0 are equal but print differently):
/// there the new value wins unless the state is strictly better, as in
/// Postgres' float8smaller/float8larger.
fn replaces(best: &Scalar, new: &Scalar, max: bool) -> bool {
    match (best, new) {
        (Scalar::Int(b), Scalar::Int(n)) => if max { n > b } else { n < b },
        // float8larger(state, new) keeps the state only when it is strictly
        // greater, float8smaller only when strictly smaller.
        (Scalar::Float(b), Scalar::Float(n)) => if max { !float_lt(*n, *b) } else { !float_lt(*b, *n) },
        (Scalar::Bytes(b), Scalar::Bytes(n)) => if max { n > b } else { n < b },
        (Scalar::Decimal(b), Scalar::Decimal(n)) => if max { n > b } else { n < b },
        (Scalar::Bool(b), Scalar::Bool(n)) => if max { n > b } else { n < b },
        _ => false,
    }
}

/// Widest range of values a `DenseInts` covers (a 1 MiB bitmap).
const DENSE_SPAN: i128 = 1 << 23;

/// A set of integers as a bitmap over the range they lie in: setting a bit
/// costs far less than hashing a value into a set (count(DISTINCT) of
/// codes, small ids, dates). Empty until `cover` gives it a range.
#[derive(Default, Debug, Clone)]
struct DenseInts {
    /// The value of bit 0 (a multiple of 64 away from any earlier base).
    base: i64,
    words: Vec<u64>,
}

impl DenseInts {
    /// Extends the range to hold lo..=hi too; false (nothing changed) when
    /// that would take more than `DENSE_SPAN` values.
    fn cover(&mut self, lo: i64, hi: i64) -> bool {
        if lo > hi {
            return false;
        }
        let (lo, hi) = (lo as i128, hi as i128);
        if self.words.is_empty() {
            if hi - lo + 1 > DENSE_SPAN {
                return false;
            }
            self.base = lo as i64;
            self.words = vec![0; ((hi - lo + 1) as usize).div_ceil(64)];
            return true;
        }
        let base = self.base as i128;
        let top = base + self.words.len() as i128 * 64 - 1;
        // A lower base moves down by whole words (bits keep their place in them).
        let new_base = if lo < base { base - (base - lo + 63) / 64 * 64 } else { base };
        let new_top = hi.max(top);
        if new_top - new_base + 1 > DENSE_SPAN + 64 || new_base < i64::MIN as i128 {
            return false;
        }
        if new_base < base {
            let shift = ((base - new_base) / 64) as usize;
            self.words.splice(0..0, std::iter::repeat_n(0, shift));
            self.base = new_base as i64;
        }
        let needed = ((new_top - new_base + 1) as usize).div_ceil(64);
        if needed > self.words.len() {
            self.words.resize(needed, 0);
        }
        true
    }

    /// Sets `v`'s bit; `v` must be in the covered range.
    #[inline(always)]
    fn insert(&mut self, v: i64) {
        let i = v.wrapping_sub(self.base) as u64 as usize;
        self.words[i >> 6] |= 1u64 << (i & 63);
    }

    fn contains(&self, v: i64) -> bool {
        let offset = v as i128 - self.base as i128;
        offset >= 0
            && offset < self.words.len() as i128 * 64
            && self.words[(offset >> 6) as usize] >> (offset & 63) & 1 == 1
    }

    fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The smallest and largest value set (None: none).
    fn range(&self) -> Option<(i64, i64)> {
        let first = self.words.iter().position(|w| *w != 0)?;
        let last = self.words.iter().rposition(|w| *w != 0)?;
        let lo = self.base as i128 + first as i128 * 64 + self.words[first].trailing_zeros() as i128;
        let hi = self.base as i128 + last as i128 * 64 + 63 - self.words[last].leading_zeros() as i128;
        Some((lo as i64, hi as i64))
    }

    fn values(&self) -> impl Iterator<Item = i64> + '_ {
        self.words.iter().enumerate().flat_map(move |(k, w)| {
            let mut w = *w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some((self.base as i128 + k as i128 * 64 + bit as i128) as i64)
            })
        })
    }
}

enum Acc {
    Count(Vec<i64>),
    /// Per group, integer-like values (every `Col::Int`: dates, times,
    /// timestamps too) as themselves, others by their encoding. A column
    /// is the same kind in every file (Iceberg promotes int to long only),
    /// so the two sets never hold the same value.
    /// Without groups, integers of batches whose range is narrow enough
    /// go to `dense` (one bit per value) instead of `ints[0]`.
    Distinct { ints: Vec<FastSet<i64>>, encoded: Vec<FastSet<Vec<u8>>>, dense: DenseInts },
    SumInt { sum: Vec<i64>, seen: Vec<bool> },
    Exact { sum: Vec<i256>, count: Vec<i64> },
    Best { best: Vec<Option<Scalar>>, max: bool },
    Bool { value: Vec<Option<bool>>, and: bool },
}

impl Acc {
    fn new(op: AggOp) -> Acc {
        match op {
            AggOp::CountStar | AggOp::Count => Acc::Count(Vec::new()),
            AggOp::CountDistinct => Acc::Distinct { ints: Vec::new(), encoded: Vec::new(), dense: DenseInts::default() },
            AggOp::SumInt => Acc::SumInt { sum: Vec::new(), seen: Vec::new() },
            AggOp::SumExact { .. } | AggOp::AvgExact { .. } => Acc::Exact { sum: Vec::new(), count: Vec::new() },
            AggOp::Min => Acc::Best { best: Vec::new(), max: false },
            AggOp::Max => Acc::Best { best: Vec::new(), max: true },
            AggOp::BoolAnd => Acc::Bool { value: Vec::new(), and: true },
            AggOp::BoolOr => Acc::Bool { value: Vec::new(), and: false },
        }
    }

    fn grow(&mut self, groups: usize) {
        match self {
            Acc::Count(c) => c.resize(groups, 0),
            Acc::Distinct { ints, encoded, .. } => {
                ints.resize_with(groups, FastSet::default);
                encoded.resize_with(groups, FastSet::default);
            }
            Acc::SumInt { sum, seen } => {
                sum.resize(groups, 0);
                seen.resize(groups, false);
            }
            Acc::Exact { sum, count } => {
                sum.resize(groups, i256::ZERO);
                count.resize(groups, 0);
            }
            Acc::Best { best, .. } => best.resize(groups, None),
            Acc::Bool { value, .. } => value.resize(groups, None),
        }
    }
}

/// Why a batch cannot be aggregated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggError {
    /// A type the plan did not expect.
    Internal(String),
    /// Integer arithmetic left its type's range: Postgres' message.
    OutOfRange(&'static str),
    /// date_trunc or extract of a value beyond the calendar the scan computes
    /// on (after 262142 AD), which Postgres computes.
    BeyondCalendar(String),
}

/// Accumulates batches into groups.
pub struct Aggregator {
    spec: AggSpec,
    accs: Vec<Acc>,
    /// Each group's key values, in order of first appearance.
    keys: Vec<Vec<Option<Scalar>>>,
    index: FastMap<Vec<u8>, u32>,
    /// A single integer key: its groups by value (the common case, without encoding).
    int_index: FastMap<i64, u32>,
    /// A single text key: its groups by the text's bytes (no per-row encoding).
    text_index: FastMap<Box<[u8]>, u32>,
    null_group: Option<u32>,
}

impl Aggregator {
    pub fn new(spec: &AggSpec) -> Aggregator {
        let mut accs: Vec<Acc> = spec.aggs.iter().map(|a| Acc::new(a.op)).collect();
        let mut keys = Vec::new();
        // Without GROUP BY there is exactly one group, even over no rows.
        if spec.keys.is_empty() {
            keys.push(Vec::new());
            accs.iter_mut().for_each(|a| a.grow(1));
        }
        Aggregator {
            spec: spec.clone(),
            accs,
            keys,
            index: FastMap::default(),
            int_index: FastMap::default(),
            text_index: FastMap::default(),
            null_group: None,
        }
    }

    /// The result of count(*), min and max known from metadata: `rows`
    /// counted, `bests[i]` the value of aggregate i (min/max; ignored for count(*)).
    pub fn from_metadata(spec: &AggSpec, rows: u64, bests: &[Option<Scalar>]) -> Aggregator {
        let mut agg = Aggregator::new(spec);
        for (acc, best) in agg.accs.iter_mut().zip(bests) {
            match acc {
                Acc::Count(c) => c[0] = rows as i64,
                Acc::Best { best: b, .. } => b[0] = best.clone(),
                _ => {}
            }
        }
        agg
    }

    /// Rows known only by their number (count(*) from file metadata).
    pub fn add_counted_rows(&mut self, rows: u64) {
        debug_assert!(self.spec.count_only());
        for acc in &mut self.accs {
            if let Acc::Count(c) = acc {
                c[0] += rows as i64;
            }
        }
    }

    /// Aggregate one batch: `columns[i]` is `spec.inputs[i]`.
    pub fn update(&mut self, columns: &[ArrayRef], rows: usize) -> Result<(), AggError> {
        let mut cols: Vec<Col> = columns.iter().map(Col::new).collect();
        for c in &self.spec.computed {
            let (mut array, scalar) = c.expr.eval(columns)?;
            if scalar {
                // A constant expression: one value for every row.
                let indices = arrow_array::UInt32Array::from(vec![0u32; rows]);
                array = arrow_select::take::take(&array, &indices, None)
                    .map_err(|e| AggError::Internal(format!("computed input: {e}")))?;
            }
            cols.push(Col::new(&array));
        }
        let groups: Vec<u32> = if self.spec.keys.is_empty() {
            Vec::new()
        } else {
            self.group_ids(&cols, rows)
        };
        let gid = |row: usize| if groups.is_empty() { 0 } else { groups[row] as usize };
        let single = groups.is_empty();
        let mut buf = Vec::new();
        // Without groups, a NULL-free integer column's sum, min and max come
        // from one pass, shared by every aggregate over it.
        let mut stats: Vec<Option<IntStats>> = vec![None; cols.len()];
        // With groups, an integer column's per-group partial sums (None: an
        // i128 overflowed, or too many groups), shared by sum and avg.
        let mut grouped_sums: Vec<Option<Option<GroupedSums>>> = vec![None; cols.len()];
        for (item, acc) in self.spec.aggs.iter().zip(self.accs.iter_mut()) {
            if let (true, Some(i), Acc::Exact { .. } | Acc::Best { .. }) = (single, item.input, &*acc) {
                if let (Col::Int(a), None) = (&cols[i], stats[i]) {
                    if a.null_count() == 0 && !a.is_empty() {
                        stats[i] = Some(int_stats(a.values()));
                    }
                }
            }
            let col = item.input.map(|i| &cols[i]);
            let batch_stats = item.input.and_then(|i| stats[i]).filter(|_| single);
            match (acc, col) {
                (Acc::Exact { sum, count }, Some(Col::Int(a))) if batch_stats.is_some() => {
                    let st = batch_stats.expect("checked");
                    sum[0] = sum[0].wrapping_add(i256::from_i128(st.sum));
                    count[0] += a.len() as i64;
                }
                (Acc::Best { best, max }, Some(Col::Int(_))) if batch_stats.is_some() => {
                    let st = batch_stats.expect("checked");
                    let v = Scalar::Int(if *max { st.max } else { st.min });
                    if best[0].as_ref().is_none_or(|b| replaces(b, &v, *max)) {
                        best[0] = Some(v);
                    }
                }
                (Acc::Count(c), None) => {
                    if single {
                        c[0] += rows as i64;
                    } else {
                        groups.iter().for_each(|g| c[*g as usize] += 1);
                    }
                }
                (Acc::Count(c), Some(col)) => {
                    if single {
                        c[0] += (rows - col.null_count()) as i64;
                    } else {
                        for row in 0..rows {
                            if !col.is_null(row) {
                                c[gid(row)] += 1;
                            }
                        }
                    }
                }
                (Acc::Distinct { ints, dense, .. }, Some(Col::Int(a))) => {
                    // No per-value encoding or allocation: the common case
                    // (ids, dates, small integer codes) hashes the i64, or
                    // without groups sets its bit when the batch's values
                    // lie in a narrow range.
                    if single {
                        let range = match (a.null_count(), stats.get(item.input.unwrap_or(usize::MAX)).copied().flatten()) {
                            (0, Some(st)) => Some((st.min, st.max)),
                            (0, None) if !a.is_empty() => {
                                let st = int_stats(a.values());
                                Some((st.min, st.max))
                            }
                            _ => arrow_arith::aggregate::min(a).zip(arrow_arith::aggregate::max(a)),
                        };
                        if let Some((lo, hi)) = range.filter(|(lo, hi)| dense.cover(*lo, *hi)) {
                            debug_assert!(lo <= hi);
                            if a.null_count() == 0 {
                                a.values().iter().for_each(|v| dense.insert(*v));
                            } else {
                                a.iter().flatten().for_each(|v| dense.insert(v));
                            }
                            continue;
                        }
                        let set = &mut ints[0];
                        if a.null_count() == 0 {
                            set.extend(a.values().iter().copied());
                        } else {
                            set.extend(a.iter().flatten());
                        }
                    } else {
                        for row in 0..rows {
                            if !a.is_null(row) {
                                ints[gid(row)].insert(a.value(row));
                            }
                        }
                    }
                }
                (Acc::Distinct { encoded: sets, .. }, Some(col)) => {
                    for row in 0..rows {
                        if col.is_null(row) {
                            continue;
                        }
                        buf.clear();
                        col.encode(row, &mut buf);
                        let set = &mut sets[gid(row)];
                        if !set.contains(buf.as_slice()) {
                            set.insert(buf.clone());
                        }
                    }
                }
                (Acc::SumInt { sum, seen }, Some(Col::Int(a))) => {
                    if single {
                        if a.null_count() < a.len() {
                            // Postgres' int2_sum/int4_sum add into an int8
                            // without an overflow check (2^32 rows of int4
                            // cannot reach it).
                            sum[0] = sum[0].wrapping_add(arrow_arith::aggregate::sum(a).unwrap_or(0));
                            seen[0] = true;
                        }
                    } else {
                        for row in 0..rows {
                            if !a.is_null(row) {
                                let g = gid(row);
                                sum[g] = sum[g].wrapping_add(a.value(row));
                                seen[g] = true;
                            }
                        }
                    }
                }
                (Acc::Exact { sum, count }, Some(col)) => match col {
                    Col::Int(a) => {
                        if single && a.null_count() == 0 {
                            sum[0] = sum[0].wrapping_add(i256::from_i128(sum_i64_exact(a.values())));
                            count[0] += a.len() as i64;
                        } else if single {
                            // i64 values summed in i128 never overflow within a batch.
                            let mut s: i128 = 0;
                            let mut n = 0i64;
                            for (v, valid) in a.values().iter().zip(0..) {
                                if a.is_valid(valid) {
                                    s += *v as i128;
                                    n += 1;
                                }
                            }
                            sum[0] = sum[0].wrapping_add(i256::from_i128(s));
                            count[0] += n;
                        } else {
                            let i = item.input.expect("an input");
                            let n = sum.len();
                            let partial = grouped_sums[i].get_or_insert_with(|| {
                                if a.null_count() == 0 {
                                    grouped_partials(n, a.values().iter().zip(&groups).map(|(v, g)| (*g as usize, *v as i128)))
                                } else {
                                    grouped_partials(n, (0..rows).filter(|&row| a.is_valid(row)).map(|row| (gid(row), a.value(row) as i128)))
                                }
                            });
                            match partial {
                                Some(p) => p.add_to(sum, count),
                                None => {
                                    let values = (0..rows).filter(|&row| a.is_valid(row)).map(|row| (gid(row), a.value(row) as i128));
                                    add_grouped(sum, count, values);
                                }
                            }
                        }
                    }
                    Col::Decimal(a) => {
                        // A batch's sum in i128 when it fits (typical decimals
                        // are far from 38 digits), else value by value in i256.
                        let fast = if single && a.null_count() == 0 { sum_i128_checked(a.values()) } else { None };
                        if let Some(s) = fast {
                            sum[0] = sum[0].wrapping_add(i256::from_i128(s));
                            count[0] += a.len() as i64;
                        } else {
                            let values = (0..rows).filter(|&row| a.is_valid(row)).map(|row| (gid(row), a.value(row)));
                            add_grouped(sum, count, values);
                        }
                    }
                    // At most 57 digits (planned): 2^63 of them fit in i256.
                    Col::Wide(a) => {
                        for row in 0..rows {
                            if a.is_valid(row) {
                                let g = gid(row);
                                sum[g] = sum[g].wrapping_add(a.value(row));
                                count[g] += 1;
                            }
                        }
                    }
                    Col::Null(_) => {}
                    _ => return Err(AggError::Internal(format!("{} over a column read as {}", item.op.name(), kind(col)))),
                },
                (Acc::Best { best, max }, Some(Col::Int(a))) if !single && best.len() <= MOST_GROUPS => {
                    // Per group in i64 over the batch, then one comparison
                    // of Scalars per group.
                    let max = *max;
                    let n = best.len();
                    let mut part = vec![if max { i64::MIN } else { i64::MAX }; n];
                    let mut seen = vec![false; n];
                    let mut take = |g: usize, v: i64| {
                        part[g] = if max { part[g].max(v) } else { part[g].min(v) };
                        seen[g] = true;
                    };
                    if a.null_count() == 0 {
                        a.values().iter().zip(&groups).for_each(|(v, g)| take(*g as usize, *v));
                    } else {
                        (0..rows).filter(|&row| a.is_valid(row)).for_each(|row| take(gid(row), a.value(row)));
                    }
                    for g in 0..n {
                        if seen[g] {
                            let v = Scalar::Int(part[g]);
                            if best[g].as_ref().is_none_or(|b| replaces(b, &v, max)) {
                                best[g] = Some(v);
                            }
                        }
                    }
                }
                (Acc::Best { best, max }, Some(col)) => {
                    let max = *max;
                    if single {
                        if let Some(v) = batch_best(col, max) {
                            if best[0].as_ref().is_none_or(|b| replaces(b, &v, max)) {
                                best[0] = Some(v);
                            }
                        }
                    } else {
                        for row in 0..rows {
                            if let Some(v) = col.scalar(row) {
                                let g = gid(row);
                                if best[g].as_ref().is_none_or(|b| replaces(b, &v, max)) {
                                    best[g] = Some(v);
                                }
                            }
                        }
                    }
                }
                (Acc::Bool { value, and }, Some(col)) => {
                    let and = *and;
                    let Col::Bool(a) = col else {
                        if matches!(col, Col::Null(_)) {
                            continue;
                        }
                        return Err(AggError::Internal(format!("{} over a column read as {}", item.op.name(), kind(col))));
                    };
                    if single {
                        let v = if and { arrow_arith::aggregate::bool_and(a) } else { arrow_arith::aggregate::bool_or(a) };
                        if let Some(v) = v {
                            value[0] = Some(match value[0] {
                                Some(old) if and => old && v,
                                Some(old) => old || v,
                                None => v,
                            });
                        }
                    } else {
                        for row in 0..rows {
                            if a.is_valid(row) {
                                let g = gid(row);
                                let v = a.value(row);
                                value[g] = Some(match value[g] {
                                    Some(old) if and => old && v,
                                    Some(old) => old || v,
                                    None => v,
                                });
                            }
                        }
                    }
                }
                (Acc::SumInt { .. }, Some(col)) if matches!(col, Col::Null(_)) => {}
                (_, col) => {
                    return Err(AggError::Internal(format!(
                        "{} over a column read as {}",
                        item.op.name(),
                        col.map_or("nothing", kind)
                    )))
                }
            }
        }
        Ok(())
    }

    /// The group of each row, creating groups as they appear.
    fn group_ids(&mut self, cols: &[Col], rows: usize) -> Vec<u32> {
        if let [key] = self.spec.keys[..] {
            match &cols[key] {
                Col::Int(a) => return self.int_group_ids(a, rows),
                Col::Text(a) => return self.text_group_ids(a, rows),
                // A column absent from older files: NULL, the same group
                // as the integer path's NULLs.
                Col::Null(_) => {
                    let nulls = Int64Array::new_null(rows);
                    return self.int_group_ids(&nulls, rows);
                }
                _ => {}
            }
        }
        let mut out = Vec::with_capacity(rows);
        let mut buf = Vec::new();
        let single = self.spec.keys.len() == 1;
        for row in 0..rows {
            // One key: its NULLs are the group the integer path uses too.
            if single && cols[self.spec.keys[0]].is_null(row) {
                let id = self.null_group_id();
                out.push(id);
                continue;
            }
            buf.clear();
            for k in &self.spec.keys {
                cols[*k].encode(row, &mut buf);
            }
            let id = match self.index.get(buf.as_slice()) {
                Some(id) => *id,
                None => {
                    let id = self.keys.len() as u32;
                    self.index.insert(buf.clone(), id);
                    self.keys.push(self.spec.keys.iter().map(|k| cols[*k].scalar(row)).collect());
                    for acc in &mut self.accs {
                        acc.grow(self.keys.len());
                    }
                    id
                }
            };
            out.push(id);
        }
        out
    }

    fn new_group(&mut self, key: Option<Scalar>) -> u32 {
        let id = self.keys.len() as u32;
        self.keys.push(vec![key]);
        for acc in &mut self.accs {
            acc.grow(self.keys.len());
        }
        id
    }

    /// The group of a NULL key (one key), made on first use.
    fn null_group_id(&mut self) -> u32 {
        match self.null_group {
            Some(id) => id,
            None => {
                let id = self.new_group(None);
                self.null_group = Some(id);
                id
            }
        }
    }

    fn int_group_ids(&mut self, a: &Int64Array, rows: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let id = if a.is_null(row) {
                self.null_group_id()
            } else {
                let v = a.value(row);
                match self.int_index.get(&v) {
                    Some(id) => *id,
                    None => {
                        let id = self.new_group(Some(Scalar::Int(v)));
                        self.int_index.insert(v, id);
                        id
                    }
                }
            };
            out.push(id);
        }
        out
    }

    fn text_group_ids(&mut self, a: &StringArray, rows: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(rows);
        // The previous row's key: clustered data repeats it.
        let mut last: Option<(&[u8], u32)> = None;
        for row in 0..rows {
            if a.is_null(row) {
                let id = self.null_group_id();
                out.push(id);
                continue;
            }
            let v = a.value(row).as_bytes();
            let id = match last {
                Some((bytes, id)) if bytes == v => id,
                _ => match self.text_index.get(v) {
                    Some(id) => *id,
                    None => {
                        let id = self.new_group(Some(Scalar::Bytes(v.to_vec())));
                        self.text_index.insert(v.into(), id);
                        id
                    }
                },
            };
            last = Some((v, id));
            out.push(id);
        }
        out
    }

    pub fn groups(&self) -> usize {
        self.keys.len()
    }

    /// Adds what `other` (built from the same spec, over other rows)
    /// accumulated: its groups join this one's equal groups or become new
    /// ones. The result is the one aggregating both sets of rows here would
    /// give (up to the order of groups, and which of two equal floats a
    /// min/max keeps, as in Postgres' parallel aggregation).
    pub fn merge(&mut self, other: Aggregator) -> Result<(), AggError> {
        if other.accs.len() != self.accs.len() {
            return Err(AggError::Internal("merging aggregates of different plans".into()));
        }
        // other's group -> this one's
        let mut to = vec![u32::MAX; other.keys.len()];
        if self.spec.keys.is_empty() {
            to.iter_mut().for_each(|g| *g = 0);
        }
        if let Some(n) = other.null_group {
            to[n as usize] = self.null_group_id();
        }
        for (v, og) in &other.int_index {
            to[*og as usize] = match self.int_index.get(v) {
                Some(id) => *id,
                None => {
                    let id = self.new_group(Some(Scalar::Int(*v)));
                    self.int_index.insert(*v, id);
                    id
                }
            };
        }
        for (text, og) in &other.text_index {
            to[*og as usize] = match self.text_index.get(text) {
                Some(id) => *id,
                None => {
                    let id = self.new_group(Some(Scalar::Bytes(text.to_vec())));
                    self.text_index.insert(text.clone(), id);
                    id
                }
            };
        }
        for (encoded, og) in &other.index {
            to[*og as usize] = match self.index.get(encoded.as_slice()) {
                Some(id) => *id,
                None => {
                    let id = self.keys.len() as u32;
                    self.index.insert(encoded.clone(), id);
                    self.keys.push(other.keys[*og as usize].clone());
                    for acc in &mut self.accs {
                        acc.grow(self.keys.len());
                    }
                    id
                }
            };
        }
        if to.contains(&u32::MAX) {
            return Err(AggError::Internal("a merged group without a key".into()));
        }
        for (acc, from) in self.accs.iter_mut().zip(other.accs) {
            match (acc, from) {
                (Acc::Count(c), Acc::Count(o)) => o.into_iter().zip(&to).for_each(|(n, g)| c[*g as usize] += n),
                (Acc::Distinct { ints, encoded, dense }, Acc::Distinct { ints: oi, encoded: oe, dense: od }) => {
                    for ((i, e), g) in oi.into_iter().zip(oe).zip(&to) {
                        let g = *g as usize;
                        ints[g].extend(i);
                        encoded[g].extend(e);
                    }
                    // Only an aggregate without groups has a bitmap (its one group is 0).
                    if let Some((lo, hi)) = od.range() {
                        if dense.cover(lo, hi) {
                            od.values().for_each(|v| dense.insert(v));
                        } else if let Some(set) = ints.first_mut() {
                            set.extend(od.values());
                        }
                    }
                }
                (Acc::SumInt { sum, seen }, Acc::SumInt { sum: os, seen: oseen }) => {
                    for ((v, s), g) in os.into_iter().zip(oseen).zip(&to) {
                        let g = *g as usize;
                        sum[g] = sum[g].wrapping_add(v);
                        seen[g] |= s;
                    }
                }
                (Acc::Exact { sum, count }, Acc::Exact { sum: os, count: oc }) => {
                    for ((v, n), g) in os.into_iter().zip(oc).zip(&to) {
                        let g = *g as usize;
                        sum[g] = sum[g].wrapping_add(v);
                        count[g] += n;
                    }
                }
                (Acc::Best { best, max }, Acc::Best { best: ob, .. }) => {
                    for (v, g) in ob.into_iter().zip(&to) {
                        let g = *g as usize;
                        if let Some(v) = v {
                            if best[g].as_ref().is_none_or(|b| replaces(b, &v, *max)) {
                                best[g] = Some(v);
                            }
                        }
                    }
                }
                (Acc::Bool { value, and }, Acc::Bool { value: ov, .. }) => {
                    for (v, g) in ov.into_iter().zip(&to) {
                        let g = *g as usize;
                        if let Some(v) = v {
                            value[g] = Some(match value[g] {
                                Some(old) if *and => old && v,
                                Some(old) => old || v,
                                None => v,
                            });
                        }
                    }
                }
                _ => return Err(AggError::Internal("merging different aggregates".into())),
            }
        }
        Ok(())
    }

    /// The result rows, one per group, cells in `spec.outputs` order.
    pub fn finish(self) -> Vec<Vec<Cell>> {
        let mut rows = Vec::with_capacity(self.keys.len());
        for (g, key) in self.keys.into_iter().enumerate() {
            let row = self
                .spec
                .outputs
                .iter()
                .map(|out| match out {
                    OutItem::Key(k) => key[*k].clone().map_or(Cell::Null, Cell::Value),
                    OutItem::Agg(a) => cell(self.spec.aggs[*a].op, &self.accs[*a], g),
                })
                .collect();
            rows.push(row);
        }
        rows
    }
}

fn cell(op: AggOp, acc: &Acc, g: usize) -> Cell {
    match acc {
        Acc::Count(c) => Cell::Int(c[g]),
        Acc::Distinct { ints, encoded, dense } => {
            // A value hashed from one batch and set in the bitmap from another counts once.
            let both = if g == 0 { ints[g].iter().filter(|v| dense.contains(**v)).count() } else { 0 };
            let in_dense = if g == 0 { dense.len() } else { 0 };
            Cell::Int((ints[g].len() + encoded[g].len() + in_dense - both) as i64)
        }
        Acc::SumInt { sum, seen } => if seen[g] { Cell::Int(sum[g]) } else { Cell::Null },
        Acc::Exact { sum, count } => match (op, count[g]) {
            (_, 0) => Cell::Null,
            (AggOp::AvgExact { scale }, n) => Cell::Avg { sum: sum[g], scale, count: n },
            (AggOp::SumExact { scale }, _) => Cell::Exact { sum: sum[g], scale },
            _ => Cell::Null,
        },
        Acc::Best { best, .. } => best[g].clone().map_or(Cell::Null, Cell::Value),
        Acc::Bool { value, .. } => value[g].map_or(Cell::Null, Cell::Bool),
    }
}

/// A batch's minimum or maximum with Arrow's kernels where their order is
/// Postgres' (integers, decimals, byte order of text), by Postgres' float
/// rules otherwise.
fn batch_best(col: &Col, max: bool) -> Option<Scalar> {
    use arrow_arith::aggregate as k;
    match col {
        Col::Int(a) => (if max { k::max(a) } else { k::min(a) }).map(Scalar::Int),
        Col::Decimal(a) => (if max { k::max(a) } else { k::min(a) }).map(Scalar::Decimal),
        Col::Text(a) => (if max { k::max_string(a) } else { k::min_string(a) }).map(|s| Scalar::Bytes(s.as_bytes().to_vec())),
        Col::Float(a) => {
            let mut best: Option<Scalar> = None;
            for row in 0..a.len() {
                if a.is_valid(row) {
                    let v = Scalar::Float(a.value(row));
                    if best.as_ref().is_none_or(|b| replaces(b, &v, max)) {
                        best = Some(v);
                    }
                }
            }
            best
        }
        _ => {
            let mut best: Option<Scalar> = None;
            for row in 0..col_len(col) {
                if let Some(v) = col.scalar(row) {
                    if best.as_ref().is_none_or(|b| replaces(b, &v, max)) {
                        best = Some(v);
                    }
                }
            }
            best
        }
    }
}

fn col_len(col: &Col) -> usize {
    match col {
        Col::Int(a) => a.len(),
        Col::Float(a) => a.len(),
        Col::Text(a) => a.len(),
        Col::Bytes(a) | Col::Other(a) => a.len(),
        Col::Bool(a) => a.len(),
        Col::Decimal(a) => a.len(),
        Col::Wide(a) => a.len(),
        Col::Null(n) => *n,
    }
}

fn kind(col: &Col) -> &'static str {
    match col {
        Col::Int(_) => "integer",
        Col::Float(_) => "float",
        Col::Text(_) => "text",
        Col::Bytes(_) => "bytes",
        Col::Bool(_) => "boolean",
        Col::Decimal(_) => "decimal",
        Col::Wide(_) => "wide decimal",
        Col::Null(_) => "null",
        Col::Other(_) => "another type",
    }
}

/// The text of an unscaled decimal (what numeric's input function reads).
pub fn decimal_text(value: i256, scale: i8) -> String {
    let digits = value.to_string();
    if scale <= 0 {
        return if value == i256::ZERO { "0".into() } else { format!("{digits}{}", "0".repeat((-scale) as usize)) };
    }
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", digits),
    };
    let scale = scale as usize;
    let padded = if digits.len() <= scale { format!("{}{digits}", "0".repeat(scale + 1 - digits.len())) } else { digits };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float32Array, Int32Array};

    use super::*;

    fn spec(keys: Vec<usize>, aggs: Vec<AggItem>, inputs: usize) -> AggSpec {
        let mut outputs: Vec<OutItem> = (0..keys.len()).map(OutItem::Key).collect();
        outputs.extend((0..aggs.len()).map(OutItem::Agg));
        AggSpec { inputs: (0..inputs).collect(), scales: vec![None; inputs], keys, aggs, outputs, computed: vec![] }
    }

    fn item(op: AggOp, input: Option<usize>) -> AggItem {
        AggItem { op, input }
    }

    #[test]
    fn ungrouped_over_batches_and_nulls() {
        let s = spec(
            vec![],
            vec![
                item(AggOp::CountStar, None),
                item(AggOp::Count, Some(0)),
                item(AggOp::SumInt, Some(0)),
                item(AggOp::SumExact { scale: 0 }, Some(0)),
                item(AggOp::AvgExact { scale: 0 }, Some(0)),
                item(AggOp::Min, Some(0)),
                item(AggOp::Max, Some(0)),
                item(AggOp::CountDistinct, Some(0)),
            ],
            1,
        );
        let mut agg = Aggregator::new(&s);
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(i32::MAX), None, Some(3)]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![Some(i32::MAX), Some(-7)]));
        agg.update(&[a], 3).unwrap();
        agg.update(&[b], 2).unwrap();
        let rows = agg.finish();
        let big = 2 * i32::MAX as i64 + 3 - 7;
        assert_eq!(
            rows,
            vec![vec![
                Cell::Int(5),
                Cell::Int(4),
                Cell::Int(big),
                Cell::Exact { sum: i256::from_i128(big as i128), scale: 0 },
                Cell::Avg { sum: i256::from_i128(big as i128), scale: 0, count: 4 },
                Cell::Value(Scalar::Int(-7)),
                Cell::Value(Scalar::Int(i32::MAX as i64)),
                Cell::Int(3),
            ]]
        );
    }

    #[test]
    fn exact_sums_of_batches_match_a_value_by_value_sum() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 0..50 {
            let values: Vec<i64> = (0..(case * 97 % 3000))
                .map(|i| match (i + case) % 7 {
                    0 => i64::MAX,
                    1 => i64::MIN,
                    2 => -1,
                    _ => next() as i64 >> (next() % 64),
                })
                .collect();
            let expected: i128 = values.iter().map(|v| *v as i128).sum();
            assert_eq!(sum_i64_exact(&values), expected, "case {case}");
        }
        assert_eq!(sum_i128_checked(&[i128::MAX, 1]), None);
        assert_eq!(sum_i128_checked(&[i128::MAX, 1, -1]), None);
        assert_eq!(sum_i128_checked(&[i128::MAX - 1, 1, -5]), Some(i128::MAX - 5));
        // a batch whose decimal sum leaves i128 takes the i256 path: still exact
        let big = arrow_array::Decimal128Array::from(vec![i128::MAX / 2 + 1, i128::MAX / 2 + 1, i128::MAX / 2 + 1])
            .with_precision_and_scale(38, 0)
            .unwrap();
        let s = spec(vec![], vec![item(AggOp::SumExact { scale: 0 }, Some(0))], 1);
        let mut agg = Aggregator::new(&s);
        agg.update(&[Arc::new(big) as ArrayRef], 3).unwrap();
        let three = i256::from_i128(i128::MAX / 2 + 1).wrapping_mul(i256::from_i128(3));
        assert_eq!(agg.finish(), vec![vec![Cell::Exact { sum: three, scale: 0 }]]);
    }

    #[test]
    fn one_pass_integer_stats_match_separate_kernels() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for case in 1..60usize {
            let values: Vec<i64> = (0..(case * 131 % 2500 + 1))
                .map(|i| match (i + case) % 9 {
                    0 => i64::MAX,
                    1 => i64::MIN,
                    2 => -1,
                    _ => next() as i64 >> (next() % 64),
                })
                .collect();
            let expected = IntStats {
                sum: values.iter().map(|v| *v as i128).sum(),
                min: *values.iter().min().unwrap(),
                max: *values.iter().max().unwrap(),
            };
            assert_eq!(int_stats(&values), expected, "case {case}");
            assert_eq!(int_stats_lanes(&values), expected, "case {case}");
        }
        assert_eq!(int_stats(&[5]), IntStats { sum: 5, min: 5, max: 5 });
        // the vector path and the one-pass sharing give what separate aggregates give
        let s = spec(
            vec![],
            vec![
                item(AggOp::SumExact { scale: 0 }, Some(0)),
                item(AggOp::AvgExact { scale: 0 }, Some(0)),
                item(AggOp::Min, Some(0)),
                item(AggOp::Max, Some(0)),
                item(AggOp::Min, Some(1)),
            ],
            2,
        );
        let mut agg = Aggregator::new(&s);
        let x: ArrayRef = Arc::new(Int64Array::from(vec![i64::MAX, i64::MAX, -3, 7, 11]));
        let y: ArrayRef = Arc::new(Int64Array::from(vec![Some(4), None, Some(2), None, Some(9)]));
        agg.update(&[x, y], 5).unwrap();
        let x: ArrayRef = Arc::new(Int64Array::from(vec![i64::MIN, 1]));
        let y: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(3)]));
        agg.update(&[x, y], 2).unwrap();
        let sum = 2 * i64::MAX as i128 - 3 + 7 + 11 + i64::MIN as i128 + 1;
        assert_eq!(
            agg.finish(),
            vec![vec![
                Cell::Exact { sum: i256::from_i128(sum), scale: 0 },
                Cell::Avg { sum: i256::from_i128(sum), scale: 0, count: 7 },
                Cell::Value(Scalar::Int(i64::MIN)),
                Cell::Value(Scalar::Int(i64::MAX)),
                Cell::Value(Scalar::Int(1)),
            ]]
        );
    }

    /// Batches split between aggregators and merged give what one
    /// aggregator over all of them gives, for every accumulator and key path.
    #[test]
    fn merged_partial_aggregates_equal_one_pass() {
        let all_aggs = || {
            vec![
                item(AggOp::CountStar, None),
                item(AggOp::Count, Some(1)),
                item(AggOp::CountDistinct, Some(1)),
                item(AggOp::CountDistinct, Some(2)),
                item(AggOp::SumInt, Some(1)),
                item(AggOp::SumExact { scale: 0 }, Some(1)),
                item(AggOp::AvgExact { scale: 0 }, Some(1)),
                item(AggOp::Min, Some(2)),
                item(AggOp::Max, Some(1)),
                item(AggOp::BoolAnd, Some(3)),
                item(AggOp::BoolOr, Some(3)),
            ]
        };
        let batch = |seed: i64| -> Vec<ArrayRef> {
            let n = 40;
            let int_key: Vec<Option<i64>> = (0..n).map(|i| if (i + seed) % 11 == 0 { None } else { Some((i * seed) % 5) }).collect();
            let x: Vec<Option<i64>> = (0..n).map(|i| if (i + seed) % 7 == 0 { None } else { Some(i * 1000 - seed * 77) }).collect();
            let t: Vec<Option<String>> = (0..n).map(|i| if (i + 2 * seed) % 9 == 0 { None } else { Some(format!("k{}", (i + seed) % 4)) }).collect();
            let b: Vec<Option<bool>> = (0..n).map(|i| if i % 5 == 0 { None } else { Some((i + seed) % 3 != 0) }).collect();
            vec![
                Arc::new(Int64Array::from(int_key)),
                Arc::new(Int64Array::from(x)),
                Arc::new(StringArray::from(t)),
                Arc::new(BooleanArray::from(b)),
            ]
        };
        // no key, one integer key, one text key, two keys
        for keys in [vec![], vec![0], vec![2], vec![0, 2]] {
            let s = spec(keys.clone(), all_aggs(), 4);
            let mut whole = Aggregator::new(&s);
            let mut parts = [Aggregator::new(&s), Aggregator::new(&s), Aggregator::new(&s)];
            for seed in 1..8 {
                let cols = batch(seed);
                whole.update(&cols, 40).unwrap();
                parts[(seed % 3) as usize].update(&cols, 40).unwrap();
            }
            let [mut merged, b, c] = parts;
            merged.merge(b).unwrap();
            merged.merge(c).unwrap();
            let sorted = |mut rows: Vec<Vec<Cell>>| {
                rows.sort_by_key(|r| format!("{r:?}"));
                rows
            };
            assert_eq!(sorted(merged.finish()), sorted(whole.finish()), "keys {keys:?}");
        }
        // merging into an empty aggregator, and an empty one into another
        let s = spec(vec![0], all_aggs(), 4);
        let (mut empty, mut full, mut whole) = (Aggregator::new(&s), Aggregator::new(&s), Aggregator::new(&s));
        full.update(&batch(3), 40).unwrap();
        whole.update(&batch(3), 40).unwrap();
        empty.merge(full).unwrap();
        empty.merge(Aggregator::new(&s)).unwrap();
        assert_eq!(empty.groups(), whole.groups());
        let mut a = empty.finish();
        let mut b = whole.finish();
        a.sort_by_key(|r| format!("{r:?}"));
        b.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(a, b);
    }

    /// Text keys (with NULL keys and repeated runs) and the per-batch
    /// grouped integer paths, against sums and bounds computed row by row.
    #[test]
    fn grouped_integer_paths_by_text_key_match_row_by_row() {
        let s = spec(
            vec![0],
            vec![
                item(AggOp::CountStar, None),
                item(AggOp::SumExact { scale: 0 }, Some(1)),
                item(AggOp::AvgExact { scale: 0 }, Some(1)),
                item(AggOp::Min, Some(1)),
                item(AggOp::Max, Some(1)),
            ],
            2,
        );
        let mut agg = Aggregator::new(&s);
        let mut expected: std::collections::BTreeMap<Option<String>, (i64, i128, i64, i64, i64)> = Default::default();
        for batch in 0..4i64 {
            let keys: Vec<Option<String>> =
                (0..300i64).map(|i| if i % 13 == 0 { None } else { Some(format!("k{}", (i / 7 + batch) % 5)) }).collect();
            // batch 2 has NULL values; batch 3 values near the ends of i64
            let values: Vec<Option<i64>> = (0..300i64)
                .map(|i| match batch {
                    2 if i % 4 == 0 => None,
                    3 => Some(if i % 2 == 0 { i64::MAX - i } else { i64::MIN + i }),
                    _ => Some(i * 31 - 4000 * batch),
                })
                .collect();
            for (k, v) in keys.iter().zip(&values) {
                let e = expected.entry(k.clone()).or_insert((0, 0, 0, i64::MAX, i64::MIN));
                e.0 += 1;
                if let Some(v) = v {
                    e.1 += *v as i128;
                    e.2 += 1;
                    e.3 = e.3.min(*v);
                    e.4 = e.4.max(*v);
                }
            }
            let cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(keys)), Arc::new(Int64Array::from(values))];
            agg.update(&cols, 300).unwrap();
        }
        let mut got = agg.finish();
        got.sort_by_key(|r| format!("{r:?}"));
        let mut want: Vec<Vec<Cell>> = expected
            .into_iter()
            .map(|(k, (n, sum, count, min, max))| {
                vec![
                    k.map_or(Cell::Null, |k| Cell::Value(Scalar::Bytes(k.into_bytes()))),
                    Cell::Int(n),
                    Cell::Exact { sum: i256::from_i128(sum), scale: 0 },
                    Cell::Avg { sum: i256::from_i128(sum), scale: 0, count },
                    Cell::Value(Scalar::Int(min)),
                    Cell::Value(Scalar::Int(max)),
                ]
            })
            .collect();
        want.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(got, want);
    }

    #[test]
    fn grouped_sums_in_i128_fall_back_to_i256_exactly() {
        let mut sum = vec![i256::ZERO; 3];
        let mut count = vec![0i64; 3];
        let pairs = vec![(0usize, 5i128), (2, -7), (0, 1), (2, i128::MAX)];
        add_grouped(&mut sum, &mut count, pairs.clone().into_iter());
        assert_eq!(count, vec![2, 0, 2]);
        assert_eq!(sum[0], i256::from_i128(6));
        assert_eq!(sum[2], i256::from_i128(i128::MAX - 7));
        // group 2 overflows i128 within the batch: the whole batch goes value by value
        let over = vec![(2usize, i128::MAX), (1, 3), (2, 10)];
        add_grouped(&mut sum, &mut count, over.into_iter());
        assert_eq!(count, vec![2, 1, 4]);
        assert_eq!(sum[1], i256::from_i128(3));
        let expected = i256::from_i128(i128::MAX - 7).wrapping_add(i256::from_i128(i128::MAX)).wrapping_add(i256::from_i128(10));
        assert_eq!(sum[2], expected);
        // more groups than the partial sums cover: the i256 path alone
        let mut wide = vec![i256::ZERO; 5000];
        let mut n = vec![0i64; 5000];
        add_grouped(&mut wide, &mut n, vec![(4999usize, -2i128), (4999, -3)].into_iter());
        assert_eq!((wide[4999], n[4999]), (i256::from_i128(-5), 2));
    }

    #[test]
    fn count_distinct_of_integers_per_group_with_nulls_and_dates() {
        use arrow_array::Date32Array;
        // count(DISTINCT v) GROUP BY k: the integer path, grouped and not,
        // with and without NULLs, over two batches sharing values.
        let grouped = spec(vec![0], vec![item(AggOp::CountDistinct, Some(1))], 2);
        let ungrouped = spec(vec![], vec![item(AggOp::CountDistinct, Some(1))], 2);
        let k1: ArrayRef = Arc::new(Int32Array::from(vec![1, 1, 2, 2, 2]));
        let v1: ArrayRef = Arc::new(Int32Array::from(vec![Some(5), Some(5), None, Some(7), Some(8)]));
        let k2: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3]));
        let v2: ArrayRef = Arc::new(Int32Array::from(vec![Some(6), Some(7), None]));
        let mut g = Aggregator::new(&grouped);
        let mut u = Aggregator::new(&ungrouped);
        for (k, v, n) in [(&k1, &v1, 5), (&k2, &v2, 3)] {
            g.update(&[k.clone(), v.clone()], n).unwrap();
            u.update(&[k.clone(), v.clone()], n).unwrap();
        }
        let mut rows = g.finish();
        rows.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(
            rows,
            vec![
                vec![Cell::Value(Scalar::Int(1)), Cell::Int(2)],
                vec![Cell::Value(Scalar::Int(2)), Cell::Int(2)],
                vec![Cell::Value(Scalar::Int(3)), Cell::Int(0)],
            ]
        );
        assert_eq!(u.finish(), vec![vec![Cell::Int(4)]]);
        // dates go the same way; no NULLs in the batch
        let d: ArrayRef = Arc::new(Date32Array::from(vec![19000, 19000, 19001]));
        let mut u = Aggregator::new(&spec(vec![], vec![item(AggOp::CountDistinct, Some(0))], 1));
        u.update(&[d], 3).unwrap();
        assert_eq!(u.finish(), vec![vec![Cell::Int(2)]]);
    }

    #[test]
    fn count_distinct_mixes_bitmap_and_hash_set() {
        // Without groups: narrow batches set bits, a batch spanning more
        // than the bitmap may cover is hashed; values in both count once,
        // also after merging partial results of two readers.
        let s = spec(vec![], vec![item(AggOp::CountDistinct, Some(0))], 1);
        let narrow: ArrayRef = Arc::new(Int64Array::from(vec![Some(10), Some(12), None, Some(10), Some(-3)]));
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![12, i64::MAX, i64::MIN, 500]));
        let lower: ArrayRef = Arc::new(Int64Array::from(vec![-70_000, 500, 11]));
        let mut a = Aggregator::new(&s);
        a.update(&[narrow.clone()], 5).unwrap();
        a.update(&[wide.clone()], 4).unwrap();
        a.update(&[lower.clone()], 3).unwrap();
        let mut b = Aggregator::new(&s);
        b.update(&[lower], 3).unwrap();
        b.update(&[Arc::new(Int64Array::from(vec![1i64 << 40, (1i64 << 40) + 1])) as ArrayRef], 2).unwrap();
        // {10, 12, -3, MAX, MIN, 500, -70000, 11}
        let mut only_a = Aggregator::new(&s);
        only_a.update(&[narrow], 5).unwrap();
        only_a.update(&[wide], 4).unwrap();
        only_a.update(&[Arc::new(Int64Array::from(vec![-70_000, 500, 11])) as ArrayRef], 3).unwrap();
        assert_eq!(only_a.finish(), vec![vec![Cell::Int(8)]]);
        a.merge(b).unwrap();
        assert_eq!(a.finish(), vec![vec![Cell::Int(10)]]);
    }

    #[test]
    fn dense_ints_cover_grow_and_refuse() {
        let mut d = DenseInts::default();
        assert!(d.cover(100, 100));
        d.insert(100);
        assert!(d.cover(-1000, 5));
        d.insert(-1000);
        d.insert(5);
        assert!(d.contains(100) && d.contains(-1000) && d.contains(5) && !d.contains(6) && !d.contains(i64::MAX));
        assert_eq!(d.values().collect::<Vec<_>>(), vec![-1000, 5, 100]);
        assert_eq!(d.range(), Some((-1000, 100)));
        assert!(!d.cover(0, 1 << 40));
        assert!(!d.cover(i64::MIN, i64::MAX));
        assert_eq!(d.len(), 3);
        let mut e = DenseInts::default();
        assert!(e.cover(i64::MAX - 10, i64::MAX));
        e.insert(i64::MAX);
        assert_eq!(e.values().collect::<Vec<_>>(), vec![i64::MAX]);
        assert!(!DenseInts::default().cover(5, 4));
    }

    #[test]
    fn no_rows_is_one_row_without_group_by_and_none_with() {
        let aggs = vec![item(AggOp::CountStar, None), item(AggOp::SumInt, Some(0)), item(AggOp::Max, Some(0))];
        let rows = Aggregator::new(&spec(vec![], aggs.clone(), 1)).finish();
        assert_eq!(rows, vec![vec![Cell::Int(0), Cell::Null, Cell::Null]]);
        assert!(Aggregator::new(&spec(vec![0], aggs, 1)).finish().is_empty());
    }

    #[test]
    fn groups_follow_postgres_equality() {
        // NaN = NaN and -0 = 0 for grouping, NULL is a group of its own.
        let keys: ArrayRef = Arc::new(Float32Array::from(vec![
            Some(f32::NAN),
            Some(-0.0),
            None,
            Some(0.0),
            Some(-f32::NAN),
            None,
        ]));
        let vals: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5, 6]));
        let s = spec(vec![0], vec![item(AggOp::CountStar, None), item(AggOp::SumInt, Some(1))], 2);
        let mut agg = Aggregator::new(&s);
        agg.update(&[keys, vals], 6).unwrap();
        assert_eq!(agg.groups(), 3);
        let rows = agg.finish();
        assert_eq!(rows[0][1..], [Cell::Int(2), Cell::Int(6)]);
        assert!(matches!(rows[0][0], Cell::Value(Scalar::Float(f)) if f.is_nan()));
        assert_eq!(rows[1], vec![Cell::Value(Scalar::Float(-0.0)), Cell::Int(2), Cell::Int(6)]);
        assert_eq!(rows[2], vec![Cell::Null, Cell::Int(2), Cell::Int(9)]);
    }

    #[test]
    fn integer_keys_across_batches_with_an_absent_column() {
        let s = spec(vec![0], vec![item(AggOp::CountStar, None)], 1);
        let mut agg = Aggregator::new(&s);
        agg.update(&[Arc::new(arrow_array::NullArray::new(2)) as ArrayRef], 2).unwrap();
        agg.update(&[Arc::new(Int32Array::from(vec![Some(4), None, Some(4)])) as ArrayRef], 3).unwrap();
        assert_eq!(
            agg.finish(),
            vec![vec![Cell::Null, Cell::Int(3)], vec![Cell::Value(Scalar::Int(4)), Cell::Int(2)]]
        );
    }

    #[test]
    fn float_min_max_put_nan_last() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), None, Some(-3.0)]));
        let s = spec(vec![], vec![item(AggOp::Min, Some(0)), item(AggOp::Max, Some(0))], 1);
        let mut agg = Aggregator::new(&s);
        agg.update(&[a], 4).unwrap();
        let rows = agg.finish();
        assert_eq!(rows[0][0], Cell::Value(Scalar::Float(-3.0)));
        assert!(matches!(rows[0][1], Cell::Value(Scalar::Float(f)) if f.is_nan()));
        assert!(replaces(&Scalar::Float(0.0), &Scalar::Float(-0.0), false));
        assert!(!replaces(&Scalar::Float(-1.0), &Scalar::Float(0.0), false));
    }

    #[test]
    fn text_bool_and_decimal() {
        let t: ArrayRef = Arc::new(StringArray::from(vec![Some("b"), Some("B"), None, Some("ä")]));
        let b: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), None, Some(false), Some(true)]));
        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(12345), Some(-5), None, Some(1)]).with_precision_and_scale(10, 2).unwrap(),
        );
        let s = spec(
            vec![],
            vec![
                item(AggOp::Min, Some(0)),
                item(AggOp::Max, Some(0)),
                item(AggOp::BoolAnd, Some(1)),
                item(AggOp::BoolOr, Some(1)),
                item(AggOp::SumExact { scale: 2 }, Some(2)),
                item(AggOp::Max, Some(2)),
            ],
            3,
        );
        let mut agg = Aggregator::new(&s);
        agg.update(&[t, b, d], 4).unwrap();
        let rows = agg.finish();
        assert_eq!(
            rows[0],
            vec![
                Cell::Value(Scalar::Bytes(b"B".to_vec())),
                Cell::Value(Scalar::Bytes("ä".as_bytes().to_vec())),
                Cell::Bool(false),
                Cell::Bool(true),
                Cell::Exact { sum: i256::from_i128(12341), scale: 2 },
                Cell::Value(Scalar::Decimal(12345)),
            ]
        );
    }

    #[test]
    fn decimal_texts() {
        assert_eq!(decimal_text(i256::from_i128(12341), 2), "123.41");
        assert_eq!(decimal_text(i256::from_i128(-5), 2), "-0.05");
        assert_eq!(decimal_text(i256::from_i128(0), 3), "0.000");
        assert_eq!(decimal_text(i256::from_i128(-170141183460469231731687303715884105728), 0), "-170141183460469231731687303715884105728");
        assert_eq!(decimal_text(i256::from_i128(i128::MAX).wrapping_add(i256::from_i128(1)), 0), "170141183460469231731687303715884105728");
    }

    fn input(i: usize, ty: NumType) -> CExpr {
        CExpr { ty, node: CNode::Input(i) }
    }

    #[test]
    fn computed_inputs_follow_postgres() {
        // sum(price * (1 - discount)) over decimal(15,2): scale 4, NULLs skipped.
        let dec = NumType::Decimal { precision: 15, scale: 2 };
        let one_minus = CExpr {
            ty: NumType::Decimal { precision: 16, scale: 2 },
            node: CNode::Arith {
                op: ArithOp::Sub,
                left: Box::new(CExpr { ty: NumType::Decimal { precision: 1, scale: 0 }, node: CNode::Decimal(1) }),
                right: Box::new(input(1, dec)),
            },
        };
        let product = CExpr {
            ty: NumType::Decimal { precision: 31, scale: 4 },
            node: CNode::Arith { op: ArithOp::Mul, left: Box::new(input(0, dec)), right: Box::new(one_minus) },
        };
        let mut s = spec(vec![], vec![item(AggOp::SumExact { scale: 4 }, Some(2)), item(AggOp::Count, Some(2))], 2);
        s.computed = vec![Computed { expr: product, type_oid: 1700, text: String::new() }];
        let d = |v: Vec<Option<i128>>| -> ArrayRef {
            Arc::new(Decimal128Array::from(v).with_precision_and_scale(15, 2).unwrap())
        };
        let mut agg = Aggregator::new(&s);
        // 100.00 * (1 - 0.05) + 20.50 * (1 - 0.10); the NULL price and NULL discount rows drop out.
        agg.update(&[d(vec![Some(10000), Some(2050), None, Some(700)]), d(vec![Some(5), Some(10), Some(1), None])], 4).unwrap();
        assert_eq!(agg.finish(), vec![vec![Cell::Exact { sum: i256::from_i128(95_0000 + 18_4500), scale: 4 }, Cell::Int(2)]]);

        // int4 * int4 overflows as Postgres' int4mul does; int8 arithmetic does not.
        let mul = |ty| CExpr {
            ty,
            node: CNode::Arith { op: ArithOp::Mul, left: Box::new(input(0, ty)), right: Box::new(CExpr { ty, node: CNode::Int(2) }) },
        };
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(i32::MAX), None]));
        let mut s = spec(vec![], vec![item(AggOp::SumInt, Some(1))], 1);
        s.computed = vec![Computed { expr: mul(NumType::Int32), type_oid: 23, text: String::new() }];
        let mut agg = Aggregator::new(&s);
        assert_eq!(agg.update(&[ints.clone()], 2), Err(AggError::OutOfRange("integer out of range")));
        s.computed = vec![Computed { expr: mul(NumType::Int64), type_oid: 20, text: String::new() }];
        s.aggs = vec![item(AggOp::SumExact { scale: 0 }, Some(1))];
        let mut agg = Aggregator::new(&s);
        agg.update(&[ints], 2).unwrap();
        assert_eq!(agg.finish(), vec![vec![Cell::Exact { sum: i256::from_i128(2 * i32::MAX as i128), scale: 0 }]]);
    }

    #[test]
    fn calendar_follows_postgres() {
        use super::calendar::{extract, trunc};
        use crate::fdw::upper::TimeUnit as U;
        let micros = |y: i32, m: u32, d: u32, h: u32, min: u32, sec: u32| {
            chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, min, sec).unwrap().and_utc().timestamp_micros()
        };
        let t = micros(2024, 2, 29, 13, 45, 30) + 123_456;
        assert_eq!(trunc(t, U::Week), Some(micros(2024, 2, 26, 0, 0, 0)));
        assert_eq!(trunc(t, U::Quarter), Some(micros(2024, 1, 1, 0, 0, 0)));
        assert_eq!(trunc(t, U::Second), Some(micros(2024, 2, 29, 13, 45, 30)));
        assert_eq!(trunc(-1, U::Day), Some(micros(1969, 12, 31, 0, 0, 0)));
        // chrono's year 0 is 1 BC, which Postgres numbers -1.
        assert_eq!(extract(micros(0, 6, 1, 0, 0, 0), U::Year), Some(-1));
        assert_eq!(extract(micros(-43, 3, 15, 0, 0, 0), U::Year), Some(-44));
        assert_eq!(extract(t, U::Quarter), Some(1));
        assert_eq!(extract(t, U::Second), None);
    }
}
