//! Pushed filters as Iceberg predicates. Pure logic: no pgrx.
//!
//! The planner classified the WHERE clause into the neutral
//! [`Filter`](crate::fdw::filter::Filter); at execution its slots are
//! resolved to [`Value`]s and the filter becomes an Iceberg predicate, bound
//! against the snapshot's schema, under the neutral layer's rule: keep at
//! least the rows the clause keeps, never fewer.

use iceberg::expr::{Bind, Predicate, Reference};
use iceberg::spec::{Datum, PrimitiveType, Schema, Type};

pub use crate::fdw::filter::{CmpOp, Filter, Value};
use crate::fdw::filter::like_prefix;

/// How a foreign-table column is known to Iceberg at execution.
pub struct ColumnRef<'a> {
    /// The column's name in the scanned snapshot's schema, or None when the
    /// column does not exist there (it reads as NULL).
    pub name: Option<&'a str>,
    /// Whether string range comparisons may be pushed (byte order = collation order).
    pub byte_ordered: bool,
    /// The column's type was promoted after some files were written
    /// (int→long, float→double, a wider decimal).
    pub promoted: bool,
}

/// Whether a promoted column's comparisons may still prune manifests. Old
/// manifests keep bounds typed by the schema they were written with, and
/// iceberg finds an int bound and a long literal unordered: the file would
/// be skipped. A decimal bound compares by value whatever its precision.
fn bounds_survive_promotion(ty: &PrimitiveType) -> bool {
    matches!(ty, PrimitiveType::Decimal { .. })
}

/// Translate `filter` into an Iceberg predicate for `schema`, with `slots`
/// holding the evaluated operands. `None` means "nothing to push" (read all).
pub fn to_iceberg(
    filter: &Filter,
    columns: &[ColumnRef<'_>],
    slots: &[Value],
    schema: &Schema,
) -> Option<Predicate> {
    to_iceberg_exactness(filter, columns, slots, schema).0
}

/// `to_iceberg`, and whether the predicate keeps exactly the rows the
/// filter keeps (then a LIMIT may be applied at the source).
pub fn to_iceberg_exactness(
    filter: &Filter,
    columns: &[ColumnRef<'_>],
    slots: &[Value],
    schema: &Schema,
) -> (Option<Predicate>, bool) {
    match translate(filter, columns, slots, schema) {
        Translation::Exact(p) => (Some(p), true),
        Translation::Weaker(p) => (Some(p), false),
        Translation::AlwaysFalse => (Some(Predicate::AlwaysFalse), true),
        Translation::Nothing => (None, false),
    }
}

enum Translation {
    /// Keeps exactly the rows the clause keeps (up to NULL handling, which
    /// Postgres re-checks).
    Exact(Predicate),
    /// Keeps at least those rows.
    Weaker(Predicate),
    /// Matches no row at all (e.g. `x IN ()` after dropping NULLs).
    AlwaysFalse,
    /// Cannot be expressed; read everything.
    Nothing,
}

fn translate(filter: &Filter, cols: &[ColumnRef<'_>], slots: &[Value], schema: &Schema) -> Translation {
    match filter {
        Filter::And(parts) => {
            let mut exact = true;
            let mut out: Option<Predicate> = None;
            for part in parts {
                match translate(part, cols, slots, schema) {
                    Translation::AlwaysFalse => return Translation::AlwaysFalse,
                    Translation::Nothing => exact = false,
                    Translation::Exact(p) => out = Some(and(out, p)),
                    Translation::Weaker(p) => {
                        exact = false;
                        out = Some(and(out, p))
                    }
                }
            }
            match (out, exact) {
                (None, _) => Translation::Nothing,
                (Some(p), true) => Translation::Exact(p),
                (Some(p), false) => Translation::Weaker(p),
            }
        }
        Filter::Or(parts) => {
            let mut exact = true;
            let mut out: Option<Predicate> = None;
            for part in parts {
                match translate(part, cols, slots, schema) {
                    Translation::AlwaysFalse => {}
                    Translation::Nothing => return Translation::Nothing,
                    Translation::Exact(p) => out = Some(or(out, p)),
                    Translation::Weaker(p) => {
                        exact = false;
                        out = Some(or(out, p))
                    }
                }
            }
            match (out, exact) {
                (None, _) => Translation::AlwaysFalse,
                (Some(p), true) => Translation::Exact(p),
                (Some(p), false) => Translation::Weaker(p),
            }
        }
        Filter::Not(inner) => match translate(inner, cols, slots, schema) {
            Translation::Exact(p) => Translation::Exact(p.negate()),
            // NOT of a weaker predicate would be stronger: not safe to push.
            _ => Translation::Nothing,
        },
        leaf => match translate_leaf(leaf, cols, slots, schema) {
            Some(Leaf::Pred(p, exact)) => {
                // A predicate Iceberg cannot bind (type mismatch, unknown
                // column) is not pushed at all.
                if p.clone().bind(std::sync::Arc::new(schema.clone()), true).is_err() {
                    return Translation::Nothing;
                }
                if exact {
                    Translation::Exact(p)
                } else {
                    Translation::Weaker(p)
                }
            }
            Some(Leaf::False) => Translation::AlwaysFalse,
            None => Translation::Nothing,
        },
    }
}

fn and(acc: Option<Predicate>, p: Predicate) -> Predicate {
    match acc {
        None => p,
        Some(a) => a.and(p),
    }
}

fn or(acc: Option<Predicate>, p: Predicate) -> Predicate {
    match acc {
        None => p,
        Some(a) => a.or(p),
    }
}

enum Leaf {
    Pred(Predicate, bool),
    False,
}

fn field_type<'s>(schema: &'s Schema, name: &str) -> Option<&'s PrimitiveType> {
    match schema.field_by_name(name).map(|f| f.field_type.as_ref()) {
        Some(Type::Primitive(p)) => Some(p),
        _ => None,
    }
}

fn translate_leaf(leaf: &Filter, cols: &[ColumnRef<'_>], slots: &[Value], schema: &Schema) -> Option<Leaf> {
    match leaf {
        Filter::Cmp { column, op, slot } => {
            let col = cols.get(*column)?;
            let name = col.name?;
            let ty = field_type(schema, name)?;
            let value = slots.get(*slot)?;
            if matches!(value, Value::Null) {
                // `x < NULL` is never true.
                return Some(Leaf::False);
            }
            if col.promoted && !bounds_survive_promotion(ty) {
                return None;
            }
            let is_range = !matches!(op, CmpOp::Eq | CmpOp::NotEq);
            if is_range && matches!(ty, PrimitiveType::String) && !col.byte_ordered {
                return None;
            }
            let datum = to_datum(value, ty)?;
            let r = Reference::new(name);
            let p = match op {
                CmpOp::Eq => r.equal_to(datum),
                CmpOp::NotEq => r.not_equal_to(datum),
                CmpOp::Lt => r.less_than(datum),
                CmpOp::LtEq => r.less_than_or_equal_to(datum),
                CmpOp::Gt => r.greater_than(datum),
                CmpOp::GtEq => r.greater_than_or_equal_to(datum),
            };
            Some(Leaf::Pred(p, true))
        }
        Filter::InList { column, slot, negated } => {
            let col = cols.get(*column)?;
            let name = col.name?;
            let ty = field_type(schema, name)?;
            let Value::Array(items) = slots.get(*slot)? else {
                return None;
            };
            let has_null = items.iter().any(|v| matches!(v, Value::Null));
            let mut datums = Vec::with_capacity(items.len());
            for item in items.iter().filter(|v| !matches!(v, Value::Null)) {
                datums.push(to_datum(item, ty)?);
            }
            if *negated {
                // `x NOT IN (.., NULL)` is never true.
                if has_null {
                    return Some(Leaf::False);
                }
                if datums.is_empty() || (col.promoted && !bounds_survive_promotion(ty)) {
                    return None;
                }
                Some(Leaf::Pred(Reference::new(name).is_not_in(datums), true))
            } else {
                if datums.is_empty() {
                    return Some(Leaf::False);
                }
                if col.promoted && !bounds_survive_promotion(ty) {
                    return None;
                }
                Some(Leaf::Pred(Reference::new(name).is_in(datums), true))
            }
        }
        Filter::IsNull { column, negated } => {
            let col = cols.get(*column)?;
            match col.name {
                // A column missing from the snapshot is NULL everywhere.
                None => {
                    if *negated {
                        Some(Leaf::False)
                    } else {
                        None
                    }
                }
                Some(name) => {
                    let r = Reference::new(name);
                    Some(Leaf::Pred(if *negated { r.is_not_null() } else { r.is_null() }, true))
                }
            }
        }
        Filter::Like { column, slot } => {
            let name = cols.get(*column)?.name?;
            if !matches!(field_type(schema, name)?, PrimitiveType::String) {
                return None;
            }
            let Value::Text(pattern) = slots.get(*slot)? else {
                return None;
            };
            let (prefix, exact) = like_prefix(pattern)?;
            Some(Leaf::Pred(Reference::new(name).starts_with(Datum::string(prefix)), exact))
        }
        Filter::BoolColumn { column, value } => {
            let name = cols.get(*column)?.name?;
            if !matches!(field_type(schema, name)?, PrimitiveType::Boolean) {
                return None;
            }
            Some(Leaf::Pred(Reference::new(name).equal_to(Datum::bool(*value)), true))
        }
        // Iceberg has no case-mapping predicate: Postgres evaluates it.
        Filter::FuncCmp { .. } | Filter::FuncLike { .. } | Filter::DateCmp { .. } | Filter::ArithCmp { .. } => None,
        Filter::And(_) | Filter::Or(_) | Filter::Not(_) => None,
    }
}

/// Convert an operand to an Iceberg literal of the column's type, when the
/// conversion is exact.
pub fn to_datum(value: &Value, ty: &PrimitiveType) -> Option<Datum> {
    match (value, ty) {
        (Value::Bool(b), PrimitiveType::Boolean) => Some(Datum::bool(*b)),
        (Value::Int(i), PrimitiveType::Int) => i32::try_from(*i).ok().map(Datum::int),
        (Value::Int(i), PrimitiveType::Long) => Some(Datum::long(*i)),
        (Value::Int(i), PrimitiveType::Decimal { precision, scale }) => {
            decimal_datum(&i.to_string(), *precision, *scale)
        }
        (Value::Numeric(s), PrimitiveType::Decimal { precision, scale }) => {
            decimal_datum(s, *precision, *scale)
        }
        (Value::Numeric(s), PrimitiveType::Int | PrimitiveType::Long) => {
            // `int_col = 5.0` is exact; `int_col = 5.5` is not pushed.
            let (int_part, frac) = s.split_once('.').unwrap_or((s, ""));
            if !frac.chars().all(|c| c == '0') {
                return None;
            }
            let i: i64 = int_part.parse().ok()?;
            to_datum(&Value::Int(i), ty)
        }
        (Value::Text(s), PrimitiveType::String) => Some(Datum::string(s)),
        (Value::Date(d), PrimitiveType::Date) => in_calendar(*d as i64).then(|| Datum::date(*d)),
        (Value::Time(t), PrimitiveType::Time) => Datum::time_micros(*t).ok(),
        (Value::Timestamp(t), PrimitiveType::Timestamp) => {
            in_calendar(*t / MICROS_PER_DAY).then(|| Datum::timestamp_micros(*t))
        }
        (Value::Timestamp(t), PrimitiveType::TimestampNs) => {
            t.checked_mul(1000).map(Datum::timestamp_nanos)
        }
        (Value::TimestampTz(t), PrimitiveType::Timestamptz) => (in_calendar(*t / MICROS_PER_DAY)
            && tz_displayable(*t))
        .then(|| Datum::timestamptz_micros(*t)),
        (Value::TimestampTz(t), PrimitiveType::TimestamptzNs) => {
            t.checked_mul(1000).filter(|_| tz_displayable(*t)).map(Datum::timestamptz_nanos)
        }
        (Value::Uuid(b), PrimitiveType::Uuid) => Some(Datum::uuid(uuid::Uuid::from_bytes(*b))),
        _ => None,
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// iceberg 0.10.1 formats a timestamptz literal (EXPLAIN, pruning) by
/// casting the sub-second remainder to u32, which overflows (a panic) for
/// instants before 1970 with a fraction of a second: such a literal is not
/// pushed, Postgres filters those rows itself.
fn tz_displayable(micros: i64) -> bool {
    micros >= 0 || micros % 1_000_000 == 0
}

/// Whether iceberg can handle a date or timestamp (`days` since 1970): it
/// formats and transforms them with chrono, which panics beyond about
/// ±262,000 years; Postgres accepts dates to 5874897 AD. Later ones are not
/// pushed.
fn in_calendar(days: i64) -> bool {
    days.unsigned_abs() <= 90_000_000
}

/// A decimal literal at exactly the column's scale, or None when the value
/// has more fractional digits than the column (rounding would change results)
/// or too many digits for its precision.
fn decimal_datum(text: &str, precision: u32, scale: u32) -> Option<Datum> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac.is_empty() {
        return None;
    }
    if !int_part.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > scale as usize {
        return None;
    }
    let int_part = int_part.trim_start_matches('0');
    if int_part.len() + scale as usize > precision as usize {
        return None;
    }
    let mut unscaled = format!("{}{}", if int_part.is_empty() { "0" } else { int_part }, frac);
    unscaled.extend(std::iter::repeat_n('0', scale as usize - frac.len()));
    let mut mantissa: i128 = unscaled.parse().ok()?;
    if negative {
        mantissa = -mantissa;
    }
    let text = if scale == 0 {
        mantissa.to_string()
    } else {
        let s = mantissa.unsigned_abs().to_string();
        let s = format!("{:0>width$}", s, width = scale as usize + 1);
        let (i, f) = s.split_at(s.len() - scale as usize);
        format!("{}{}.{}", if mantissa < 0 { "-" } else { "" }, i, f)
    };
    Datum::decimal_from_str(text).ok()
}

/// The part of a pushed predicate that iceberg's Parquet reader may apply
/// itself (row-group statistics, page index, row filter), and whether it may
/// use the page index for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderFilter {
    /// None: the reader applies no filter (files were still pruned by the
    /// full predicate at manifest level; Postgres re-checks every row).
    pub predicate: Option<Predicate>,
    pub page_index: bool,
}

/// Split off what iceberg 0.10's Parquet reader evaluates correctly. The full
/// predicate stays in use for manifest pruning (Iceberg bounds, evaluated
/// right); the reader gets a weaker one, because its own evaluators are wrong
/// for some types, and a row it drops Postgres never sees:
/// - its page-index evaluator compares INT32/INT64 decimal pages as plain
///   ints against decimal literals (every page "cannot match"), rejects
///   FIXED_LEN_BYTE_ARRAY pages (decimal(p > 18), uuid, fixed) with an error
///   and decodes BYTE_ARRAY pages as UTF-8 with a panic (bytea): no page
///   index when the filter touches such a column (its row-group statistics
///   are decoded correctly, so those stay);
/// - its row filter has no Arrow literal for `time` (error, or a panic in
///   IN): no `time` comparisons in the reader;
/// - for a column promoted after files were written (int→long, wider
///   decimal) it casts the literal to the file's narrower type, turning an
///   out-of-range literal into NULL (rows dropped): no comparisons on it;
/// - floats: Postgres has NaN above every number and -0 = 0, Arrow orders
///   them by bits; townlake never pushes float comparisons, the reader
///   never gets one.
///
/// `promoted` tells whether a field id had another type in an earlier schema,
/// or is missing from one (its comparisons are not the reader's either: see
/// `exec::added_fields`).
pub fn reader_filter(pushed: &Predicate, schema: &Schema, promoted: &dyn Fn(i32) -> bool) -> ReaderFilter {
    let predicate = reader_part(&pushed.clone().rewrite_not(), schema, promoted);
    let mut names = Vec::new();
    if let Some(p) = &predicate {
        referenced_columns(p, &mut names);
    }
    let page_index = names.iter().all(|name| match field_type(schema, name) {
        Some(ty) => page_index_reads(ty),
        None => false,
    });
    ReaderFilter { predicate, page_index }
}

/// Whether iceberg's page-index evaluator decodes pages of this type into
/// literals it compares correctly.
fn page_index_reads(ty: &PrimitiveType) -> bool {
    !matches!(
        ty,
        PrimitiveType::Decimal { .. } | PrimitiveType::Uuid | PrimitiveType::Fixed(_) | PrimitiveType::Binary
    )
}

/// Whether the reader's row-group statistics and row filter compare a literal
/// with this column's values exactly as Postgres does.
fn reader_compares(ty: &PrimitiveType, promoted: bool) -> bool {
    !promoted && !matches!(ty, PrimitiveType::Time | PrimitiveType::Float | PrimitiveType::Double)
}

/// `p` weakened to what the reader may apply; None stands for TRUE.
fn reader_part(p: &Predicate, schema: &Schema, promoted: &dyn Fn(i32) -> bool) -> Option<Predicate> {
    let keep_literal_leaf = |name: &str| match schema.field_by_name(name) {
        Some(field) => match field.field_type.as_ref() {
            Type::Primitive(ty) => reader_compares(ty, promoted(field.id)),
            _ => false,
        },
        None => false,
    };
    match p {
        Predicate::AlwaysTrue => None,
        Predicate::AlwaysFalse => Some(Predicate::AlwaysFalse),
        Predicate::And(e) => {
            let [a, b] = e.inputs();
            match (reader_part(a, schema, promoted), reader_part(b, schema, promoted)) {
                (Some(a), Some(b)) => Some(a.and(b)),
                (Some(x), None) | (None, Some(x)) => Some(x),
                (None, None) => None,
            }
        }
        // An OR keeps rows when either side does: drop it if either side is dropped.
        Predicate::Or(e) => {
            let [a, b] = e.inputs();
            match (reader_part(a, schema, promoted), reader_part(b, schema, promoted)) {
                (Some(a), Some(b)) => Some(a.or(b)),
                _ => None,
            }
        }
        // NOT of a weakened predicate would be stronger: only kept unchanged.
        Predicate::Not(e) => {
            let [inner] = e.inputs();
            (reader_part(inner, schema, promoted).as_ref() == Some(inner)).then(|| p.clone())
        }
        Predicate::Unary(e) => schema.field_by_name(e.term().name()).is_some().then(|| p.clone()),
        Predicate::Binary(e) => keep_literal_leaf(e.term().name()).then(|| p.clone()),
        Predicate::Set(e) => keep_literal_leaf(e.term().name()).then(|| p.clone()),
    }
}

/// The pushed filter as iceberg may apply it to manifests (partition values
/// and column bounds): `pushed` with the leaves iceberg 0.10 projects wrongly
/// through a `truncate` partition weakened (a weaker leaf in a filter without
/// NOT keeps every row the original keeps). `truncate_widths(name)` lists the
/// widths of the truncate transforms of that column in any partition spec.
///
/// - `s LIKE 'p%'`: its inclusive projection compares the prefix's length in
///   *bytes* with w (characters): for `'ü'` and w = 2 it tests
///   `s_trunc = 'ü'` and drops every file of the partitions `'üa'`, `'üb'`….
///   A non-ASCII prefix becomes `s >= 'p'`, which truncation projects exactly.
/// - `int`/`long` literals within w of the type's ends: truncating them (after
///   `<` became `<= v - 1`) overflows — a panic, or a wrapped bound that
///   prunes every file. Such a leaf is not given to the manifests.
/// - Values within w of the type's minimum, when the minimum is not a
///   multiple of w: their partition value wraps round to the top of the
///   range (PyIceberg and iceberg write it so), where `x < c` would prune
///   them. `x < c` and `x <= c` keep those partitions: `OR x >= max - w + 2`.
pub fn manifest_filter(pushed: &Predicate, truncate_widths: &dyn Fn(&str) -> Vec<u32>) -> Predicate {
    manifest_filter_for(pushed, truncate_widths, &|_| false, &|_| false)
}

/// `manifest_filter`, also leaving out the leaves that manifests cannot
/// decide:
/// - on `hour`-partitioned columns (`hour_partitioned(name)`), timestamp
///   literals beyond the `int` hours an hour partition holds (after 246953
///   AD): iceberg would wrap the projected hour round and prune every file;
/// - on columns with a partition field whose values the library reads as
///   NULL (`unreadable_partition(name)`: names that are not Avro names,
///   escaped in the manifests Java and PyIceberg write; partition.rs).
pub fn manifest_filter_for(
    pushed: &Predicate,
    truncate_widths: &dyn Fn(&str) -> Vec<u32>,
    hour_partitioned: &dyn Fn(&str) -> bool,
    unreadable_partition: &dyn Fn(&str) -> bool,
) -> Predicate {
    let weakened = weaken_for_manifests(&pushed.clone().rewrite_not(), truncate_widths);
    let far = |d: &Datum| {
        matches!(d.data_type(), PrimitiveType::Timestamp | PrimitiveType::Timestamptz)
            && matches!(d.literal(), iceberg::spec::PrimitiveLiteral::Long(v) if !hour_fits_int(*v))
    };
    drop_leaves(&weakened, &|name, literals| {
        unreadable_partition(name) || (hour_partitioned(name) && literals.iter().any(|d| far(d)))
    })
}

/// Whether a microsecond timestamp's hour since 1970 fits an `int`.
pub fn hour_fits_int(micros: i64) -> bool {
    i32::try_from(micros.div_euclid(3_600_000_000)).is_ok()
}

/// `p` (without NOT) with every leaf for which `drop(column, literals)`
/// holds replaced by TRUE: weaker, so it keeps every row `p` keeps.
fn drop_leaves(p: &Predicate, drop: &dyn Fn(&str, &[Datum]) -> bool) -> Predicate {
    match p {
        Predicate::And(e) => {
            let [a, b] = e.inputs();
            drop_leaves(a, drop).and(drop_leaves(b, drop))
        }
        Predicate::Or(e) => {
            let [a, b] = e.inputs();
            drop_leaves(a, drop).or(drop_leaves(b, drop))
        }
        Predicate::Unary(e) if drop(e.term().name(), &[]) => Predicate::AlwaysTrue,
        Predicate::Binary(e) if drop(e.term().name(), std::slice::from_ref(e.literal())) => Predicate::AlwaysTrue,
        Predicate::Set(e) if drop(e.term().name(), &e.literals().iter().cloned().collect::<Vec<_>>()) => {
            Predicate::AlwaysTrue
        }
        _ => p.clone(),
    }
}

/// Whether truncating `v` (or `v ± 1`) to a multiple of a width leaves the
/// integer type's range.
fn truncation_overflows(literal: &iceberg::spec::PrimitiveLiteral, widths: &[u32]) -> bool {
    use iceberg::spec::PrimitiveLiteral;
    let (v, min, max) = match literal {
        PrimitiveLiteral::Int(v) => (i128::from(*v), i128::from(i32::MIN), i128::from(i32::MAX)),
        PrimitiveLiteral::Long(v) => (i128::from(*v), i128::from(i64::MIN), i128::from(i64::MAX)),
        _ => return false,
    };
    widths.iter().any(|w| {
        let w = i128::from(*w);
        v - 1 - (v - 1).rem_euclid(w) < min || v + 1 > max
    })
}

/// The lowest partition value a wrapped truncation of this literal's type
/// can have (see `manifest_filter`), if any width can wrap.
fn wrapped_partition_floor(literal: &iceberg::spec::PrimitiveLiteral, widths: &[u32]) -> Option<Datum> {
    use iceberg::spec::PrimitiveLiteral;
    let (min, max) = match literal {
        PrimitiveLiteral::Int(_) => (i128::from(i32::MIN), i128::from(i32::MAX)),
        PrimitiveLiteral::Long(_) => (i128::from(i64::MIN), i128::from(i64::MAX)),
        _ => return None,
    };
    let widest = widths.iter().map(|w| i128::from(*w)).filter(|w| min.rem_euclid(*w) != 0).max()?;
    let floor = max - widest + 2;
    match literal {
        PrimitiveLiteral::Int(_) => i32::try_from(floor).ok().map(Datum::int),
        _ => i64::try_from(floor).ok().map(Datum::long),
    }
}

fn weaken_for_manifests(p: &Predicate, truncate_widths: &dyn Fn(&str) -> Vec<u32>) -> Predicate {
    use iceberg::expr::PredicateOperator as Op;
    use iceberg::spec::PrimitiveLiteral;
    match p {
        Predicate::And(e) => {
            let [a, b] = e.inputs();
            weaken_for_manifests(a, truncate_widths).and(weaken_for_manifests(b, truncate_widths))
        }
        Predicate::Or(e) => {
            let [a, b] = e.inputs();
            weaken_for_manifests(a, truncate_widths).or(weaken_for_manifests(b, truncate_widths))
        }
        Predicate::Binary(e) => {
            let widths = truncate_widths(e.term().name());
            if widths.is_empty() {
                return p.clone();
            }
            let literal = e.literal().literal();
            if truncation_overflows(literal, &widths) {
                return Predicate::AlwaysTrue;
            }
            let non_ascii = matches!(literal, PrimitiveLiteral::String(s) if !s.is_ascii());
            match e.op() {
                Op::LessThan | Op::LessThanOrEq => match wrapped_partition_floor(literal, &widths) {
                    Some(floor) => p.clone().or(Reference::new(e.term().name()).greater_than_or_equal_to(floor)),
                    None => p.clone(),
                },
                Op::StartsWith if non_ascii => {
                    Reference::new(e.term().name()).greater_than_or_equal_to(e.literal().clone())
                }
                Op::NotStartsWith if non_ascii => Predicate::AlwaysTrue,
                _ => p.clone(),
            }
        }
        Predicate::Set(e) => {
            let widths = truncate_widths(e.term().name());
            if e.literals().iter().any(|d| truncation_overflows(d.literal(), &widths)) {
                return Predicate::AlwaysTrue;
            }
            p.clone()
        }
        // rewrite_not left no NOT; unary leaves project right
        _ => p.clone(),
    }
}

pub(crate) fn referenced_columns(p: &Predicate, out: &mut Vec<String>) {
    match p {
        Predicate::AlwaysTrue | Predicate::AlwaysFalse => {}
        Predicate::And(e) | Predicate::Or(e) => e.inputs().iter().for_each(|q| referenced_columns(q, out)),
        Predicate::Not(e) => e.inputs().iter().for_each(|q| referenced_columns(q, out)),
        Predicate::Unary(e) => out.push(e.term().name().to_string()),
        Predicate::Binary(e) => out.push(e.term().name().to_string()),
        Predicate::Set(e) => out.push(e.term().name().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::spec::{NestedField, Schema};
    use std::sync::Arc;

    fn schema() -> Schema {
        Schema::builder()
            .with_fields(vec![
                Arc::new(NestedField::optional(1, "id", Type::Primitive(PrimitiveType::Long))),
                Arc::new(NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String))),
                Arc::new(NestedField::optional(
                    3,
                    "amount",
                    Type::Primitive(PrimitiveType::Decimal { precision: 10, scale: 2 }),
                )),
                Arc::new(NestedField::optional(4, "small", Type::Primitive(PrimitiveType::Int))),
                Arc::new(NestedField::optional(5, "flag", Type::Primitive(PrimitiveType::Boolean))),
            ])
            .build()
            .unwrap()
    }

    fn cols() -> Vec<ColumnRef<'static>> {
        vec![
            ColumnRef { name: Some("id"), byte_ordered: true, promoted: false },
            ColumnRef { name: Some("name"), byte_ordered: false, promoted: false },
            ColumnRef { name: Some("amount"), byte_ordered: true, promoted: false },
            ColumnRef { name: Some("small"), byte_ordered: true, promoted: false },
            ColumnRef { name: Some("flag"), byte_ordered: true, promoted: false },
            ColumnRef { name: None, byte_ordered: true, promoted: false },
        ]
    }

    fn push(f: &Filter, slots: &[Value]) -> Option<String> {
        to_iceberg(f, &cols(), slots, &schema()).map(|p| p.to_string())
    }

    #[test]
    fn comparison_and_conjunction() {
        let f = Filter::And(vec![
            Filter::Cmp { column: 0, op: CmpOp::GtEq, slot: 0 },
            Filter::Cmp { column: 0, op: CmpOp::Lt, slot: 1 },
        ]);
        let s = push(&f, &[Value::Int(3), Value::Int(9)]).unwrap();
        assert!(s.contains("id >= 3") && s.contains("id < 9"), "{s}");
    }

    #[test]
    fn and_drops_untranslatable_parts_or_does_not() {
        // Range on a collation-ordered string cannot be pushed.
        let range = Filter::Cmp { column: 1, op: CmpOp::Lt, slot: 1 };
        let eq = Filter::Cmp { column: 0, op: CmpOp::Eq, slot: 0 };
        let slots = [Value::Int(1), Value::Text("m".into())];
        let and = Filter::And(vec![eq.clone(), range.clone()]);
        assert_eq!(push(&and, &slots).unwrap(), "id = 1");
        let or = Filter::Or(vec![eq, range]);
        assert_eq!(push(&or, &slots), None);
    }

    #[test]
    fn not_only_over_exact_translations() {
        let like_weaker = Filter::Like { column: 1, slot: 0 };
        let slots = [Value::Text("ab_c%".into())];
        assert!(push(&like_weaker, &slots).is_some());
        assert_eq!(push(&Filter::Not(Box::new(like_weaker)), &slots), None);
        let like_exact = Filter::Like { column: 1, slot: 0 };
        let slots = [Value::Text("abc%".into())];
        assert!(push(&Filter::Not(Box::new(like_exact)), &slots).is_some());
    }

    #[test]
    fn in_lists_and_nulls() {
        let f = Filter::InList { column: 0, slot: 0, negated: false };
        let s = push(&f, &[Value::Array(vec![Value::Int(1), Value::Null, Value::Int(2)])]).unwrap();
        assert!(s.contains("IN"), "{s}");
        let f = Filter::InList { column: 0, slot: 0, negated: true };
        assert_eq!(
            push(&f, &[Value::Array(vec![Value::Int(1), Value::Null])]).unwrap(),
            "FALSE"
        );
        let cmp_null = Filter::Cmp { column: 0, op: CmpOp::Eq, slot: 0 };
        assert_eq!(push(&cmp_null, &[Value::Null]).unwrap(), "FALSE");
    }

    #[test]
    fn out_of_range_literal_is_not_pushed() {
        let f = Filter::Cmp { column: 3, op: CmpOp::Lt, slot: 0 };
        assert_eq!(push(&f, &[Value::Int(10_000_000_000)]), None);
        assert!(push(&f, &[Value::Int(10)]).is_some());
    }

    #[test]
    fn decimals_push_only_when_exact() {
        let f = Filter::Cmp { column: 2, op: CmpOp::Gt, slot: 0 };
        assert!(push(&f, &[Value::Numeric("12.5".into())]).is_some());
        assert!(push(&f, &[Value::Numeric("12.500".into())]).is_some());
        assert_eq!(push(&f, &[Value::Numeric("12.505".into())]), None);
        assert_eq!(push(&f, &[Value::Numeric("123456789.5".into())]), None);
    }

    #[test]
    fn missing_column_is_null_everywhere() {
        let f = Filter::IsNull { column: 5, negated: true };
        assert_eq!(push(&f, &[]).unwrap(), "FALSE");
        let f = Filter::IsNull { column: 5, negated: false };
        assert_eq!(push(&f, &[]), None);
    }

    fn reader_schema() -> Schema {
        let field = |id: i32, name: &str, ty: PrimitiveType| Arc::new(NestedField::optional(id, name, Type::Primitive(ty)));
        Schema::builder()
            .with_fields(vec![
                field(1, "id", PrimitiveType::Long),
                field(2, "amount", PrimitiveType::Decimal { precision: 12, scale: 2 }),
                field(3, "at", PrimitiveType::Time),
                field(4, "key", PrimitiveType::Uuid),
                field(5, "blob", PrimitiveType::Binary),
                field(6, "name", PrimitiveType::String),
                field(7, "widened", PrimitiveType::Long),
                field(8, "ratio", PrimitiveType::Double),
            ])
            .build()
            .unwrap()
    }

    fn for_reader(p: Predicate) -> (Option<String>, bool) {
        let r = reader_filter(&p, &reader_schema(), &|id| id == 7);
        (r.predicate.map(|p| p.to_string()), r.page_index)
    }

    fn dec(text: &str) -> Datum {
        Datum::decimal_from_str(text).unwrap()
    }

    #[test]
    fn reader_keeps_plain_columns_with_page_index() {
        let p = Reference::new("id").greater_than(Datum::long(5)).and(Reference::new("name").equal_to(Datum::string("a")));
        let (kept, page) = for_reader(p.clone());
        assert_eq!(kept, Some(p.to_string()));
        assert!(page);
    }

    #[test]
    fn decimals_uuids_and_bytes_keep_row_groups_not_pages() {
        for p in [
            Reference::new("amount").greater_than(dec("100")),
            Reference::new("key").is_not_in([Datum::uuid(uuid::Uuid::nil())]),
            Reference::new("blob").is_null(),
            Reference::new("id").less_than(Datum::long(3)).and(Reference::new("amount").is_not_null()),
        ] {
            let (kept, page) = for_reader(p.clone());
            assert_eq!(kept, Some(p.clone().rewrite_not().to_string()));
            assert!(!page, "{p}");
        }
    }

    #[test]
    fn time_promoted_and_float_comparisons_stay_out_of_the_reader() {
        let time = Reference::new("at").greater_than(Datum::time_micros(1_000).unwrap());
        let widened = Reference::new("widened").less_than(Datum::long(10_000_000_000_i64));
        let ratio = Reference::new("ratio").equal_to(Datum::double(0.0));
        let id = Reference::new("id").greater_than_or_equal_to(Datum::long(1));
        for p in [time.clone(), widened.clone(), ratio, time.clone().or(id.clone())] {
            assert_eq!(for_reader(p.clone()), (None, true), "{p}");
        }
        // An AND keeps its other parts; the page index follows what is left.
        assert_eq!(for_reader(time.clone().and(id.clone())), (Some(id.to_string()), true));
        let amount = Reference::new("amount").less_than(dec("5"));
        assert_eq!(for_reader(widened.and(amount.clone())), (Some(amount.to_string()), false));
        // Null tests read no literal: kept on every column.
        let nulls = Reference::new("at").is_null().or(Reference::new("widened").is_not_null());
        assert_eq!(for_reader(nulls.clone()), (Some(nulls.to_string()), true));
        assert_eq!(for_reader(Predicate::AlwaysFalse), (Some("FALSE".into()), true));
    }

    #[test]
    fn negations_are_rewritten_before_weakening() {
        let p = Reference::new("at").less_than(Datum::time_micros(5).unwrap()).and(Reference::new("id").equal_to(Datum::long(2))).negate();
        // NOT (a AND b) = NOT a OR NOT b: the OR loses a side, so nothing is left.
        assert_eq!(for_reader(p), (None, true));
        let p = Reference::new("id").less_than(Datum::long(5)).negate();
        assert_eq!(for_reader(p).0.unwrap(), "id >= 5");
    }

    #[test]
    fn promoted_longs_are_compared_by_postgres_only() {
        // id (long) and amount (decimal) were int and a narrower decimal once.
        let mut cols = cols();
        cols[0].promoted = true;
        cols[2].promoted = true;
        let push = |f: &Filter, slots: &[Value]| to_iceberg(f, &cols, slots, &schema()).map(|p| p.to_string());
        assert_eq!(push(&Filter::Cmp { column: 0, op: CmpOp::Lt, slot: 0 }, &[Value::Int(5)]), None);
        let in_list = Filter::InList { column: 0, slot: 0, negated: false };
        assert_eq!(push(&in_list, &[Value::Array(vec![Value::Int(5)])]), None);
        assert_eq!(push(&in_list, &[Value::Array(vec![Value::Null])]).unwrap(), "FALSE");
        assert_eq!(push(&Filter::IsNull { column: 0, negated: false }, &[]).unwrap(), "id IS NULL");
        let amount = Filter::Cmp { column: 2, op: CmpOp::Gt, slot: 0 };
        assert!(push(&amount, &[Value::Numeric("12.5".into())]).is_some());
    }

    #[test]
    fn dates_beyond_chrono_are_not_pushed() {
        let schema = Schema::builder()
            .with_fields(vec![
                Arc::new(NestedField::optional(1, "d", Type::Primitive(PrimitiveType::Date))),
                Arc::new(NestedField::optional(2, "t", Type::Primitive(PrimitiveType::Timestamptz))),
            ])
            .build()
            .unwrap();
        let cols = [
            ColumnRef { name: Some("d"), byte_ordered: true, promoted: false },
            ColumnRef { name: Some("t"), byte_ordered: true, promoted: false },
        ];
        let push = |column, v: Value| {
            to_iceberg(&Filter::Cmp { column, op: CmpOp::Lt, slot: 0 }, &cols, &[v], &schema).map(|p| p.to_string())
        };
        // 5874897-12-31 (the latest Postgres date) and a timestamp in 270000 AD.
        assert_eq!(push(0, Value::Date(2_145_042_905)), None);
        assert_eq!(push(1, Value::TimestampTz(8_458_000_000_000_000_000)), None);
        assert!(push(0, Value::Date(19_000)).is_some());
        assert!(push(1, Value::TimestampTz(-62_135_596_800_000_000)).is_some());
    }

    #[test]
    fn bool_column() {
        let f = Filter::BoolColumn { column: 4, value: false };
        assert_eq!(push(&f, &[]).unwrap(), "flag = false");
    }

    #[test]
    fn timestamptz_before_1970_with_a_fraction_is_not_pushed() {
        // iceberg would panic formatting it; whole seconds are fine.
        assert!(to_datum(&Value::TimestampTz(-500_000), &PrimitiveType::Timestamptz).is_none());
        assert!(to_datum(&Value::TimestampTz(-2_208_988_801_500_000), &PrimitiveType::TimestamptzNs).is_none());
        let whole = to_datum(&Value::TimestampTz(-1_000_000), &PrimitiveType::Timestamptz).unwrap();
        assert!(whole.to_string().starts_with("1969-12-31"));
        let after = to_datum(&Value::TimestampTz(1_500_000), &PrimitiveType::Timestamptz).unwrap();
        assert!(after.to_string().starts_with("1970-01-01"));
    }

    #[test]
    fn manifest_filter_weakens_what_truncate_projects_wrongly() {
        let widths = |name: &str| match name { "s" => vec![2], "l" => vec![10], _ => vec![] };
        // a non-ASCII prefix on a truncated column: a range the projection keeps
        let p = Reference::new("s").starts_with(Datum::string("ü"));
        assert_eq!(manifest_filter(&p, &widths), Reference::new("s").greater_than_or_equal_to(Datum::string("ü")));
        let ascii = Reference::new("s").starts_with(Datum::string("ab"));
        assert_eq!(manifest_filter(&ascii, &widths), ascii);
        let other = Reference::new("t").starts_with(Datum::string("ü"));
        assert_eq!(manifest_filter(&other, &widths), other);
        // NOT LIKE under a NOT: rewritten first, then dropped
        let not = !p.clone();
        assert_eq!(manifest_filter(&not, &widths), Predicate::AlwaysTrue);
        // integers whose truncation overflows
        let low = Reference::new("l").less_than(Datum::long(i64::MIN + 1));
        assert_eq!(manifest_filter(&low, &widths), Predicate::AlwaysTrue);
        let high = Reference::new("l").greater_than(Datum::long(i64::MAX));
        assert_eq!(manifest_filter(&high, &widths), Predicate::AlwaysTrue);
        let fine = Reference::new("l").greater_than(Datum::long(-5));
        assert_eq!(manifest_filter(&fine, &widths), fine);
        let both = low.clone().and(fine.clone());
        assert_eq!(manifest_filter(&both, &widths), Predicate::AlwaysTrue.and(fine));
    }

    #[test]
    fn timestamps_beyond_an_hour_partition_are_not_given_to_the_manifests() {
        let hours = |name: &str| name == "ts";
        let none = |_: &str| Vec::new();
        let manifest_filter_with_hours =
            |p: &Predicate, w: &dyn Fn(&str) -> Vec<u32>, h: &dyn Fn(&str) -> bool| manifest_filter_for(p, w, h, &|_| false);
        let last = (i64::from(i32::MAX) + 1) * 3_600_000_000 - 1;
        let fits = Reference::new("ts").less_than(Datum::timestamp_micros(last));
        assert_eq!(manifest_filter_with_hours(&fits, &none, &hours), fits);
        let far = Reference::new("ts").less_than(Datum::timestamp_micros(last + 1));
        assert_eq!(manifest_filter_with_hours(&far, &none, &hours), Predicate::AlwaysTrue);
        // another column, or a column not partitioned by hour, keeps its leaf
        let other = Reference::new("t2").less_than(Datum::timestamp_micros(last + 1));
        assert_eq!(manifest_filter_with_hours(&other, &none, &hours), other);
        let both = far.clone().and(fits.clone());
        assert_eq!(manifest_filter_with_hours(&both, &none, &hours), Predicate::AlwaysTrue.and(fits));
    }

    #[test]
    fn columns_with_unreadable_partition_values_are_not_given_to_the_manifests() {
        let none = |_: &str| Vec::new();
        let unreadable = |name: &str| name == "with space";
        let eq = Reference::new("with space").equal_to(Datum::string("v3"));
        let null = Reference::new("with space").is_null();
        let set = Reference::new("with space").is_in([Datum::string("a"), Datum::string("b")]);
        let other = Reference::new("id").greater_than(Datum::long(3));
        for leaf in [&eq, &null, &set] {
            assert_eq!(manifest_filter_for(leaf, &none, &|_| false, &unreadable), Predicate::AlwaysTrue);
        }
        let mixed = eq.clone().or(other.clone()).and(other.clone());
        assert_eq!(
            manifest_filter_for(&mixed, &none, &|_| false, &unreadable),
            Predicate::AlwaysTrue.or(other.clone()).and(other)
        );
    }

    #[test]
    fn upper_bounds_keep_the_partitions_of_wrapped_truncations() {
        // i64::MIN is not a multiple of 10: values within 10 of it wrap to the top
        let widths = |name: &str| match name { "l" => vec![10], "i" => vec![3, 8], "p" => vec![16], _ => vec![] };
        let below = Reference::new("l").less_than(Datum::long(-5));
        let keep = below.clone().or(Reference::new("l").greater_than_or_equal_to(Datum::long(i64::MAX - 8)));
        assert_eq!(manifest_filter(&below, &widths), keep);
        let at_most = Reference::new("i").less_than_or_equal_to(Datum::int(7));
        // of the widths 3 and 8 only 3 can wrap (i32::MIN is a multiple of 8)
        let keep = at_most.clone().or(Reference::new("i").greater_than_or_equal_to(Datum::int(i32::MAX - 1)));
        assert_eq!(manifest_filter(&at_most, &widths), keep);
        // a power-of-two width never wraps; lower bounds never meet wrapped values
        let pow2 = Reference::new("p").less_than(Datum::long(0));
        assert_eq!(manifest_filter(&pow2, &widths), pow2);
        let above = Reference::new("l").greater_than_or_equal_to(Datum::long(0));
        assert_eq!(manifest_filter(&above, &widths), above);
        // the wrapped value itself is in the kept range, checked by arithmetic
        let v: i64 = i64::MIN + 3;
        let wrapped = v.wrapping_sub(v.rem_euclid(10));
        assert!(wrapped >= i64::MAX - 8, "{wrapped}");
    }
}
