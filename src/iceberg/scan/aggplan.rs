//! Which aggregate queries an Iceberg scan computes itself (`spec_for`), and
//! turning its result cells into datums. Only (function, type) pairs whose
//! result is exactly Postgres' are accepted; the rest stays local.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array, Int64Array, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use iceberg::spec::{PrimitiveType, Type};
use pgrx::{pg_sys, IntoDatum};

use super::agg::{decimal_text, AggError, AggItem, AggOp, AggSpec, CExpr, CNode, Cell, Computed, NumType, OutItem, Scalar};
use super::convert::{datum_at, Target};
use super::plan::RelInfo;
use crate::errors::{LakeError, LakeResult};
use crate::fdw::filter::{DateExpr, DateFunc, DatePart, TruncUnit};
use crate::fdw::upper::{AggFunc, ArithOp, Derived, DerivedFunc, Output, ScalarExpr, ScalarNode, TimeUnit, UpperQuery};
use crate::pg::types::Builtin;

/// How a column's values are compared, as far as pushdown is concerned.
struct ColumnKind {
    pg: Builtin,
    iceberg: PrimitiveType,
    /// Text compares bytewise (C collation): min/max may be pushed.
    c_collation: bool,
    /// Equality is bytewise (a deterministic collation): grouping and
    /// DISTINCT may be pushed.
    deterministic: bool,
}

fn column_kind(rel: &RelInfo, i: usize) -> Option<ColumnKind> {
    let c = rel.columns.get(i)?;
    let pg = Builtin::from_u32(c.type_oid)?;
    let field = rel.schema.as_ref()?.field_by_id(c.field_id)?;
    // Promoted fields: older files hold the narrower type; the reader widens
    // them, but keep such columns local (their statistics differ too).
    if rel.promoted.contains(&c.field_id) {
        return None;
    }
    let Type::Primitive(iceberg) = field.field_type.as_ref() else {
        return None;
    };
    let (mut c_collation, mut deterministic) = (false, true);
    if pg.is_text() {
        let collation = crate::pg::catalog::column_collation(pg_sys::Oid::from(rel.relid), c.attnum)?;
        c_collation = collation.bytewise_order;
        deterministic = collation.deterministic;
    }
    Some(ColumnKind { pg, iceberg: iceberg.clone(), c_collation, deterministic })
}

/// Text whose collation orders bytewise (C); other types are not text and
/// order as Iceberg does.
pub fn byte_ordered(relid: u32, c: &super::plan::PlanColumn) -> bool {
    if !Builtin::from_u32(c.type_oid).is_some_and(|b| b.is_text()) {
        return true;
    }
    crate::pg::catalog::column_collation(pg_sys::Oid::from(relid), c.attnum).is_some_and(|k| k.bytewise_order)
}

/// The type, typmod and decimal scale of output `k` of an aggregate scan.
pub fn output_type(spec: &AggSpec, k: usize, columns: &[super::plan::PlanColumn]) -> (u32, i32, Option<i8>) {
    let column = |input: usize| &columns[spec.inputs[input]];
    let scale = |input: usize| spec.scales.get(input).copied().flatten();
    let computed = |input: usize| input.checked_sub(spec.inputs.len()).and_then(|k| spec.computed.get(k));
    match spec.outputs[k] {
        OutItem::Key(key) => {
            if let Some(c) = computed(spec.keys[key]) {
                return (c.type_oid, -1, matches!(c.expr.ty, NumType::Decimal { .. }).then_some(0));
            }
            let c = column(spec.keys[key]);
            (c.type_oid, c.typmod, scale(spec.keys[key]))
        }
        OutItem::Agg(a) => {
            let item = spec.aggs[a];
            match item.op {
                AggOp::Min | AggOp::Max => {
                    let input = item.input.unwrap_or(0);
                    if let Some(c) = computed(input) {
                        let scale = match c.expr.ty {
                            NumType::Decimal { scale, .. } => Some(scale),
                            _ => None,
                        };
                        return (c.type_oid, -1, scale);
                    }
                    let c = column(input);
                    (c.type_oid, c.typmod, scale(input))
                }
                AggOp::BoolAnd | AggOp::BoolOr => (BOOL, -1, None),
                AggOp::SumExact { .. } | AggOp::AvgExact { .. } => (NUMERIC, -1, None),
                _ => (INT8, -1, None),
            }
        }
    }
}

/// Values compare (for min/max) exactly as Postgres orders the column.
fn orders_like_postgres(k: &ColumnKind) -> bool {
    use PrimitiveType as P;
    match (k.pg, &k.iceberg) {
        (Builtin::Int2 | Builtin::Int4 | Builtin::Int8, P::Int | P::Long) => true,
        (Builtin::Float4 | Builtin::Float8, P::Float | P::Double) => true,
        (Builtin::Date, P::Date) | (Builtin::Time, P::Time) => true,
        (Builtin::Timestamp, P::Timestamp) | (Builtin::TimestampTz, P::Timestamptz) => true,
        (Builtin::Numeric, P::Decimal { .. }) => true,
        (Builtin::Text | Builtin::Varchar, P::String) => k.c_collation,
        _ => false,
    }
}

/// Values are equal (for GROUP BY and DISTINCT) exactly when Postgres' equality says so.
fn groups_like_postgres(k: &ColumnKind) -> bool {
    use PrimitiveType as P;
    match (k.pg, &k.iceberg) {
        (Builtin::Bool, P::Boolean) => true,
        (Builtin::Uuid, P::Uuid) => true,
        (Builtin::Text | Builtin::Varchar, P::String) => k.deterministic,
        _ => orders_like_postgres(&ColumnKind { c_collation: true, ..clone_kind(k) }),
    }
}

fn clone_kind(k: &ColumnKind) -> ColumnKind {
    ColumnKind { pg: k.pg, iceberg: k.iceberg.clone(), c_collation: k.c_collation, deterministic: k.deterministic }
}

const INT8: u32 = 20;
const INT8_OID: u32 = 20;
const TIMESTAMP: u32 = 1114;
const INT2: u32 = 21;
const INT4: u32 = 23;

/// Largest decimal precision computed per row: values stay within i256
/// (Decimal256 beyond 38 digits), so no row fails where Postgres' numeric
/// would not, and sums of up to 2^63 of them fit too.
const MAX_PRECISION: u8 = 57;
/// Beyond this a computed decimal is summed only (min/max keep i128 values).
const MAX_BEST_PRECISION: u8 = 38;

/// A computed input with each node's Arrow type, when its values are
/// exactly Postgres' (None: keep the aggregate local). `input` registers a
/// column read and returns its index.
fn typed(rel: &RelInfo, e: &ScalarExpr, input: &mut dyn FnMut(usize) -> usize) -> Option<CExpr> {
    let int_type = |oid: u32| match oid {
        INT2 => Some(NumType::Int16),
        INT4 => Some(NumType::Int32),
        INT8 => Some(NumType::Int64),
        _ => None,
    };
    let digits = |v: i128| v.unsigned_abs().checked_ilog10().map_or(1, |d| d as u8 + 1);
    let (ty, node) = match &e.node {
        ScalarNode::Column(c) => {
            let kind = column_kind(rel, *c)?;
            let ty = match (kind.pg, &kind.iceberg) {
                (Builtin::Int2 | Builtin::Int4, PrimitiveType::Int) | (Builtin::Int8, PrimitiveType::Long) => int_type(e.type_oid)?,
                (Builtin::Numeric, PrimitiveType::Decimal { precision, scale }) if e.type_oid == NUMERIC => NumType::Decimal {
                    precision: u8::try_from(*precision).ok().filter(|p| *p <= MAX_PRECISION)?,
                    scale: i8::try_from(*scale).ok()?,
                },
                _ => return None,
            };
            if rel.columns[*c].type_oid != e.type_oid {
                return None;
            }
            (ty, CNode::Input(input(*c)))
        }
        ScalarNode::Int(v) => (int_type(e.type_oid)?, CNode::Int(*v)),
        ScalarNode::Decimal { unscaled, scale } => {
            let precision = digits(*unscaled).max(u8::try_from(*scale).ok()?).max(1);
            if e.type_oid != NUMERIC || precision > MAX_PRECISION {
                return None;
            }
            (NumType::Decimal { precision, scale: *scale }, CNode::Decimal(*unscaled))
        }
        ScalarNode::Cast(arg) => {
            let inner = typed(rel, arg, input)?;
            let ty = if e.type_oid == NUMERIC {
                let precision = match inner.ty {
                    NumType::Int16 => 5,
                    NumType::Int32 => 10,
                    NumType::Int64 => 19,
                    NumType::Decimal { .. } | NumType::Timestamp => return None,
                };
                NumType::Decimal { precision, scale: 0 }
            } else {
                int_type(e.type_oid)?
            };
            (ty, CNode::Cast(Box::new(inner)))
        }
        ScalarNode::Arith { op, left, right } => {
            let l = typed(rel, left, input)?;
            let r = typed(rel, right, input)?;
            let ty = match (l.ty, r.ty) {
                (NumType::Decimal { precision: p1, scale: s1 }, NumType::Decimal { precision: p2, scale: s2 }) => {
                    // Postgres: add/sub keep the larger display scale, mul adds them.
                    let (precision, scale) = match op {
                        ArithOp::Add | ArithOp::Sub => {
                            let scale = s1.max(s2);
                            let int_digits = (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16).max(1);
                            (int_digits + scale as i16 + 1, scale)
                        }
                        ArithOp::Mul => (p1 as i16 + p2 as i16, s1.checked_add(s2)?),
                    };
                    NumType::Decimal { precision: u8::try_from(precision).ok().filter(|p| *p <= MAX_PRECISION)?, scale }
                }
                (NumType::Decimal { .. }, _) | (_, NumType::Decimal { .. }) => return None,
                _ => int_type(e.type_oid)?,
            };
            (ty, CNode::Arith { op: *op, left: Box::new(l), right: Box::new(r) })
        }
    };
    Some(CExpr { ty, node })
}

/// The expression as EXPLAIN shows it.
fn render(e: &ScalarExpr, names: &[String]) -> String {
    match &e.node {
        ScalarNode::Column(c) => names.get(*c).cloned().unwrap_or_default(),
        ScalarNode::Int(v) => v.to_string(),
        ScalarNode::Decimal { unscaled, scale } => decimal_text(arrow_buffer::i256::from_i128(*unscaled), *scale),
        ScalarNode::Cast(arg) => render(arg, names),
        ScalarNode::Arith { op, left, right } => {
            let sym = match op {
                ArithOp::Add => "+",
                ArithOp::Sub => "-",
                ArithOp::Mul => "*",
            };
            format!("({} {sym} {})", render(left, names), render(right, names))
        }
    }
}

/// The ERROR a failed aggregate scan raises.
pub fn agg_error(e: AggError) -> LakeError {
    match e {
        AggError::OutOfRange(message) => LakeError::new(pgrx::PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, message),
        AggError::Internal(m) => LakeError::internal(format!("aggregate on Arrow batches: {m}")),
        AggError::BeyondCalendar(what) => LakeError::new(
            pgrx::PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
            format!("{what} of a value after 262142 AD cannot be computed in the Iceberg scan"),
        )
        .with_hint("SET townlake.iceberg_aggregate_pushdown = off; computes it in Postgres."),
    }
}
const NUMERIC: u32 = 1700;
const BOOL: u32 = 16;

/// The grouping key the scan computes for a date function of a column
/// (None: one it does not compute). The column's type is checked by the
/// caller: date_trunc of a timestamp, extract of a date or a timestamp.
fn derived(e: &DateExpr) -> Option<Derived> {
    let unit = |u: TruncUnit| match u {
        TruncUnit::Second => TimeUnit::Second,
        TruncUnit::Minute => TimeUnit::Minute,
        TruncUnit::Hour => TimeUnit::Hour,
        TruncUnit::Day => TimeUnit::Day,
        TruncUnit::Week => TimeUnit::Week,
        TruncUnit::Month => TimeUnit::Month,
        TruncUnit::Quarter => TimeUnit::Quarter,
        TruncUnit::Year => TimeUnit::Year,
    };
    let func = match e.func {
        DateFunc::Trunc(u) => DerivedFunc::DateTrunc(unit(u)),
        // extract(second) has a fraction, dow/isodow/doy are not computed here.
        DateFunc::Part(p) => DerivedFunc::Extract(match p {
            DatePart::Year => TimeUnit::Year,
            DatePart::Quarter => TimeUnit::Quarter,
            DatePart::Month => TimeUnit::Month,
            DatePart::Day => TimeUnit::Day,
            DatePart::Hour => TimeUnit::Hour,
            DatePart::Minute => TimeUnit::Minute,
            DatePart::Dow | DatePart::IsoDow | DatePart::Doy => return None,
        }),
    };
    Some(Derived { func, column: e.column })
}

/// The aggregate scan computing `query` over `rel`, when every output is
/// exactly Postgres' (None: Postgres aggregates).
pub fn spec_for(rel: &RelInfo, query: &UpperQuery) -> Option<AggSpec> {
    // HAVING is not evaluated here (Postgres does not recheck a pushed one).
    if !query.grouped || !query.order_by.is_empty() || query.limit.is_some() || !query.having.is_empty() {
        return None;
    }
    let mut spec = AggSpec {
        inputs: Vec::new(),
        scales: Vec::new(),
        keys: Vec::new(),
        aggs: Vec::new(),
        outputs: Vec::new(),
        computed: Vec::new(),
    };
    // Computed inputs are numbered after the columns once those are known.
    let mut computed: Vec<Computed> = Vec::new();
    let input = |spec: &mut AggSpec, col: usize| -> usize {
        match spec.inputs.iter().position(|c| *c == col) {
            Some(i) => i,
            None => {
                spec.inputs.push(col);
                spec.scales.push(column_kind(rel, col).and_then(|k| match k.iceberg {
                    PrimitiveType::Decimal { scale, .. } => i8::try_from(scale).ok(),
                    _ => None,
                }));
                spec.inputs.len() - 1
            }
        }
    };
    for (k, out) in query.outputs.iter().enumerate() {
        let (out_type, _) = *query.output_types.get(k)?;
        match out {
            Output::Arith(_) => return None,
            Output::Column(i) => {
                // A cast key (`x::bigint`) has another type than the column's values.
                if !groups_like_postgres(&column_kind(rel, *i)?) || rel.columns.get(*i)?.type_oid != out_type {
                    return None;
                }
                let at = input(&mut spec, *i);
                spec.keys.push(at);
                spec.outputs.push(OutItem::Key(spec.keys.len() - 1));
            }
            Output::Date(e) => {
                let d = derived(e)?;
                let kind = column_kind(rel, d.column)?;
                let name = rel.columns.get(d.column)?.attname.clone();
                let at = input(&mut spec, d.column);
                let (expr, type_oid, text) = match (d.func, kind.pg, &kind.iceberg) {
                    (DerivedFunc::DateTrunc(unit), Builtin::Timestamp, PrimitiveType::Timestamp) => (
                        CExpr { ty: NumType::Timestamp, node: CNode::Trunc { unit, input: at } },
                        TIMESTAMP,
                        format!("date_trunc('{}', {name})", unit.name()),
                    ),
                    // A date has no time of day: extract(hour) of one cast to timestamp is 0.
                    (DerivedFunc::Extract(unit), Builtin::Date, PrimitiveType::Date)
                        if matches!(unit, TimeUnit::Year | TimeUnit::Quarter | TimeUnit::Month | TimeUnit::Day) => (
                        CExpr { ty: NumType::Decimal { precision: 10, scale: 0 }, node: CNode::Extract { unit, input: at } },
                        NUMERIC,
                        format!("extract({} FROM {name})", unit.name()),
                    ),
                    (DerivedFunc::Extract(unit), Builtin::Timestamp, PrimitiveType::Timestamp) => (
                        CExpr { ty: NumType::Decimal { precision: 10, scale: 0 }, node: CNode::Extract { unit, input: at } },
                        NUMERIC,
                        format!("extract({} FROM {name})", unit.name()),
                    ),
                    _ => return None,
                };
                if out_type != type_oid {
                    return None;
                }
                let at = match computed.iter().position(|c| c.expr == expr) {
                    Some(at) => at,
                    None => {
                        computed.push(Computed { expr, type_oid, text });
                        computed.len() - 1
                    }
                };
                spec.keys.push(usize::MAX - at);
                spec.outputs.push(OutItem::Key(spec.keys.len() - 1));
            }
            Output::Aggregate(a) if a.expr.is_some() => {
                let e = query.exprs.get(a.expr?)?;
                let names: Vec<String> = rel.columns.iter().map(|c| c.attname.clone()).collect();
                let expr = typed(rel, e, &mut |col| input(&mut spec, col))?;
                let (integer, decimal_scale) = match expr.ty {
                    NumType::Decimal { scale, .. } => (false, Some(scale)),
                    _ => (true, None),
                };
                let (op, expected) = match (a.func, a.distinct) {
                    (AggFunc::Count, false) => (AggOp::Count, INT8),
                    (AggFunc::Sum, false) if integer && e.type_oid != INT8_OID => (AggOp::SumInt, INT8),
                    (AggFunc::Sum, false) if integer => (AggOp::SumExact { scale: 0 }, NUMERIC),
                    (AggFunc::Sum, false) => (AggOp::SumExact { scale: decimal_scale? }, NUMERIC),
                    (AggFunc::Avg, false) if integer => (AggOp::AvgExact { scale: 0 }, NUMERIC),
                    (AggFunc::Avg, false) => (AggOp::AvgExact { scale: decimal_scale? }, NUMERIC),
                    (AggFunc::Min | AggFunc::Max, false)
                        if matches!(expr.ty, NumType::Decimal { precision, .. } if precision > MAX_BEST_PRECISION) =>
                    {
                        return None
                    }
                    (AggFunc::Min, false) => (AggOp::Min, e.type_oid),
                    (AggFunc::Max, false) => (AggOp::Max, e.type_oid),
                    _ => return None,
                };
                if out_type != expected {
                    return None;
                }
                let at = match computed.iter().position(|c| c.expr == expr) {
                    Some(at) => at,
                    None => {
                        computed.push(Computed { expr, type_oid: e.type_oid, text: render(e, &names) });
                        computed.len() - 1
                    }
                };
                // Marked as computed (renumbered below).
                spec.aggs.push(AggItem { op, input: Some(usize::MAX - at) });
                spec.outputs.push(OutItem::Agg(spec.aggs.len() - 1));
            }
            Output::Aggregate(a) => {
                let kind = match a.column {
                    Some(i) => Some(column_kind(rel, i)?),
                    None => None,
                };
                let integer = kind.as_ref().is_some_and(|k| {
                    matches!(k.pg, Builtin::Int2 | Builtin::Int4 | Builtin::Int8)
                        && matches!(k.iceberg, PrimitiveType::Int | PrimitiveType::Long)
                });
                let decimal_scale = kind.as_ref().and_then(|k| match (k.pg, &k.iceberg) {
                    (Builtin::Numeric, PrimitiveType::Decimal { scale, .. }) => i8::try_from(*scale).ok(),
                    _ => None,
                });
                let column_type = a.column.map(|i| rel.columns[i].type_oid);
                let (op, expected) = match (a.func, a.distinct, kind.as_ref()) {
                    (AggFunc::CountStar, false, None) => (AggOp::CountStar, INT8),
                    (AggFunc::Count, false, Some(_)) => (AggOp::Count, INT8),
                    (AggFunc::Count, true, Some(k)) if groups_like_postgres(k) => (AggOp::CountDistinct, INT8),
                    (AggFunc::Sum, false, Some(k)) if integer && k.pg != Builtin::Int8 => (AggOp::SumInt, INT8),
                    (AggFunc::Sum, false, Some(_)) if integer => (AggOp::SumExact { scale: 0 }, NUMERIC),
                    (AggFunc::Sum, false, Some(_)) if decimal_scale.is_some() => {
                        (AggOp::SumExact { scale: decimal_scale? }, NUMERIC)
                    }
                    (AggFunc::Avg, false, Some(_)) if integer => (AggOp::AvgExact { scale: 0 }, NUMERIC),
                    (AggFunc::Avg, false, Some(_)) if decimal_scale.is_some() => {
                        (AggOp::AvgExact { scale: decimal_scale? }, NUMERIC)
                    }
                    (AggFunc::Min, false, Some(k)) if orders_like_postgres(k) => (AggOp::Min, column_type?),
                    (AggFunc::Max, false, Some(k)) if orders_like_postgres(k) => (AggOp::Max, column_type?),
                    (AggFunc::BoolAnd, false, Some(k)) if k.pg == Builtin::Bool => (AggOp::BoolAnd, BOOL),
                    (AggFunc::BoolOr, false, Some(k)) if k.pg == Builtin::Bool => (AggOp::BoolOr, BOOL),
                    _ => return None,
                };
                if out_type != expected {
                    return None;
                }
                let item = AggItem { op, input: a.column.map(|c| input(&mut spec, c)) };
                spec.aggs.push(item);
                spec.outputs.push(OutItem::Agg(spec.aggs.len() - 1));
            }
        }
    }
    // Read the columns in table order, as plain scans do: iceberg-rust 0.10
    // can return a file's columns in file order under the requested names
    // when the projection is a reordering of the file's columns.
    let mut order: Vec<usize> = (0..spec.inputs.len()).collect();
    order.sort_by_key(|i| spec.inputs[*i]);
    let mut new_index = vec![0; order.len()];
    for (new, old) in order.iter().enumerate() {
        new_index[*old] = new;
    }
    spec.inputs = order.iter().map(|i| spec.inputs[*i]).collect();
    spec.scales = order.iter().map(|i| spec.scales[*i]).collect();
    let columns = spec.inputs.len();
    let renumber = |i: usize| if i > usize::MAX - computed.len() { columns + (usize::MAX - i) } else { new_index[i] };
    spec.keys = spec.keys.iter().map(|k| renumber(*k)).collect();
    for a in &mut spec.aggs {
        a.input = a.input.map(renumber);
    }
    for c in &mut computed {
        c.expr.inputs_mut(&mut |i| *i = new_index[*i]);
    }
    spec.computed = computed;
    Some(spec)
}

/// EXPLAIN's description of the pushed aggregates and groups.
pub fn describe(spec: &AggSpec, names: &[String]) -> (String, String) {
    let name = |input: usize| names.get(spec.inputs[input]).cloned().unwrap_or_default();
    let aggs: Vec<String> = spec
        .aggs
        .iter()
        .map(|a| match (a.op, a.input) {
            (AggOp::CountStar, _) => "count(*)".to_string(),
            (AggOp::CountDistinct, Some(i)) => format!("count(DISTINCT {})", name(i)),
            (op, Some(i)) if i >= spec.inputs.len() => {
                format!("{}({})", op.name(), spec.computed.get(i - spec.inputs.len()).map_or("", |c| c.text.as_str()))
            }
            (op, Some(i)) => format!("{}({})", op.name(), name(i)),
            (op, None) => format!("{}()", op.name()),
        })
        .collect();
    let keys: Vec<String> = spec
        .keys
        .iter()
        .map(|k| match k.checked_sub(spec.inputs.len()).and_then(|c| spec.computed.get(c)) {
            Some(c) => c.text.clone(),
            None => name(*k),
        })
        .collect();
    (aggs.join(", "), keys.join(", "))
}

/// The datum of one result cell for an output of type `type_oid`/`typmod`
/// (`scale`: a numeric column's decimal scale). Called in the per-tuple
/// memory context.
pub fn cell_datum(cell: &Cell, type_oid: u32, typmod: i32, scale: Option<i8>) -> LakeResult<Option<pg_sys::Datum>> {
    let numeric = |text: String| -> LakeResult<pgrx::AnyNumeric> {
        pgrx::AnyNumeric::try_from(text.as_str()).map_err(|e| LakeError::internal(format!("aggregate result {text}: {e}")))
    };
    Ok(match cell {
        Cell::Null => None,
        Cell::Int(v) => v.into_datum(),
        Cell::Bool(b) => b.into_datum(),
        Cell::Exact { sum, scale } => numeric(decimal_text(*sum, *scale))?.into_datum(),
        // Postgres' int8_avg, numeric_poly_avg and numeric_avg all end in
        // numeric_div(sum, count): the same call gives the same scale.
        Cell::Avg { sum, scale, count } => (numeric(decimal_text(*sum, *scale))? / pgrx::AnyNumeric::from(*count)).into_datum(),
        Cell::Value(v) => {
            let builtin = Builtin::from_u32(type_oid);
            let array: ArrayRef = match (v, builtin) {
                (Scalar::Int(v), Some(Builtin::Date)) => Arc::new(Date32Array::from(vec![*v as i32])),
                (Scalar::Int(v), Some(Builtin::Time)) => Arc::new(Time64MicrosecondArray::from(vec![*v])),
                (Scalar::Int(v), Some(Builtin::Timestamp | Builtin::TimestampTz)) => {
                    Arc::new(TimestampMicrosecondArray::from(vec![*v]))
                }
                (Scalar::Int(v), _) => Arc::new(Int64Array::from(vec![*v])),
                (Scalar::Float(v), Some(Builtin::Float4)) => Arc::new(Float32Array::from(vec![*v as f32])),
                (Scalar::Float(v), _) => Arc::new(Float64Array::from(vec![*v])),
                (Scalar::Bool(v), _) => Arc::new(BooleanArray::from(vec![*v])),
                (Scalar::Bytes(b), Some(Builtin::Uuid)) => Arc::new(
                    arrow_array::FixedSizeBinaryArray::try_from_iter(std::iter::once(b.as_slice()))
                        .map_err(|e| LakeError::internal(e.to_string()))?,
                ),
                (Scalar::Bytes(b), _) => Arc::new(StringArray::from(vec![String::from_utf8_lossy(b).into_owned()])),
                (Scalar::Decimal(d), _) => {
                    return Ok(numeric(decimal_text(arrow_buffer::i256::from_i128(*d), scale.unwrap_or(0)))?.into_datum());
                }
            };
            let mut target = Target::for_type(pg_sys::Oid::from(type_oid), typmod);
            datum_at(&array, 0, &mut target)?
        }
    })
}

/// ORDER BY … LIMIT n over plain columns, kept to n rows in the scan when
/// every sort key's Arrow order is Postgres' (None: Postgres sorts).
pub fn top_n_for(rel: &RelInfo, query: &UpperQuery) -> Option<super::topn::TopN> {
    use crate::fdw::upper::UpperStage;
    // Beyond this, sorting in Postgres costs about as much as the merge here.
    const MAX_TOP_N: i64 = 100_000;
    if query.stage != UpperStage::Ordered || query.grouped || query.order_by.is_empty() {
        return None;
    }
    let limit = query.limit_hint.filter(|n| (0..=MAX_TOP_N).contains(n))? as usize;
    let mut outputs = Vec::with_capacity(query.outputs.len());
    for (k, out) in query.outputs.iter().enumerate() {
        match out {
            // A cast (`x::bigint`) has another type than the column's values.
            Output::Column(i) if Some(rel.columns.get(*i)?.type_oid) == query.output_types.get(k).map(|t| t.0) => {
                outputs.push(*i)
            }
            _ => return None,
        }
    }
    let mut keys = Vec::with_capacity(query.order_by.len());
    for key in &query.order_by {
        let kind = column_kind(rel, *outputs.get(key.output)?)?;
        // Floats: Arrow's total order puts negative NaNs first.
        let ordered = match (kind.pg, &kind.iceberg) {
            (Builtin::Float4 | Builtin::Float8, _) => false,
            (Builtin::Bool, PrimitiveType::Boolean) => true,
            _ => orders_like_postgres(&kind),
        };
        if !ordered {
            return None;
        }
        keys.push(super::topn::TopKey { output: key.output, descending: key.descending, nulls_first: key.nulls_first });
    }
    Some(super::topn::TopN { outputs, keys, limit })
}
