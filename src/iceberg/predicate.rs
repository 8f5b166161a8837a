//! Filters pushed down to Iceberg. Pure logic: no pgrx.
//!
//! The planner turns a WHERE clause into a [`Filter`] whose operands are slots
//! (indexes into the scan's list of expressions, evaluated when the scan
//! starts). At execution the slots are resolved to [`Value`]s and the filter
//! becomes an Iceberg predicate, bound against the snapshot's schema.
//!
//! The rule that keeps results correct: the Iceberg predicate may keep more
//! rows than the SQL clause (Postgres re-checks every clause), never fewer. So
//! an AND may drop a part it cannot translate, an OR may not, and NOT is only
//! placed over a leaf whose translation is exact.

use iceberg::expr::{Bind, Predicate, Reference};
use iceberg::spec::{Datum, PrimitiveType, Schema, Type};
use serde::{Deserialize, Serialize};

/// Comparison, already oriented as `column <op> value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    /// The operator seen from the other side (`5 < x` is `x > 5`).
    pub fn commute(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            other => other,
        }
    }
}

/// A filter on the foreign table's columns, as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// Only ever over a leaf (see the module comment).
    Not(Box<Filter>),
    Cmp { column: usize, op: CmpOp, slot: usize },
    /// `column = ANY(array)` (`IN`), or `column <> ALL(array)` (`NOT IN`) when negated.
    InList { column: usize, slot: usize, negated: bool },
    IsNull { column: usize, negated: bool },
    /// `column LIKE pattern`; only a literal prefix followed by `%` is pushed.
    Like { column: usize, slot: usize },
    /// A boolean column used as a condition (`WHERE flag`).
    BoolColumn { column: usize, value: bool },
}

/// A runtime value of a pushed operand, in the Iceberg encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 00:00 (UTC for timestamptz).
    Timestamp(i64),
    TimestampTz(i64),
    /// Decimal in plain text (`-12.50`).
    Numeric(String),
    Uuid([u8; 16]),
    Array(Vec<Value>),
}

/// How a foreign-table column is known to Iceberg at execution.
pub struct ColumnRef<'a> {
    /// The column's name in the scanned snapshot's schema, or None when the
    /// column does not exist there (it reads as NULL).
    pub name: Option<&'a str>,
    /// Whether string range comparisons may be pushed (byte order = collation order).
    pub byte_ordered: bool,
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
            let name = cols.get(*column)?.name?;
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
                if datums.is_empty() {
                    return None;
                }
                Some(Leaf::Pred(Reference::new(name).is_not_in(datums), true))
            } else {
                if datums.is_empty() {
                    return Some(Leaf::False);
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
        Filter::And(_) | Filter::Or(_) | Filter::Not(_) => None,
    }
}

/// The literal prefix of a LIKE pattern (default escape `\`), and whether the
/// pattern is exactly `prefix%` (so `starts_with` is equivalent, not weaker).
/// None when the pattern starts with a wildcard.
pub fn like_prefix(pattern: &str) -> Option<(String, bool)> {
    let mut prefix = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => prefix.push(chars.next()?),
            '%' => {
                let rest: String = chars.collect();
                let exact = rest.chars().all(|c| c == '%');
                return if prefix.is_empty() { None } else { Some((prefix, exact)) };
            }
            '_' => {
                return if prefix.is_empty() { None } else { Some((prefix, false)) };
            }
            other => prefix.push(other),
        }
    }
    // No wildcard: `x LIKE 'abc'` is equality; starts_with is a weaker form.
    if prefix.is_empty() {
        None
    } else {
        Some((prefix, false))
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
        (Value::Date(d), PrimitiveType::Date) => Some(Datum::date(*d)),
        (Value::Time(t), PrimitiveType::Time) => Datum::time_micros(*t).ok(),
        (Value::Timestamp(t), PrimitiveType::Timestamp) => Some(Datum::timestamp_micros(*t)),
        (Value::Timestamp(t), PrimitiveType::TimestampNs) => {
            t.checked_mul(1000).map(Datum::timestamp_nanos)
        }
        (Value::TimestampTz(t), PrimitiveType::Timestamptz) => Some(Datum::timestamptz_micros(*t)),
        (Value::TimestampTz(t), PrimitiveType::TimestamptzNs) => {
            t.checked_mul(1000).map(Datum::timestamptz_nanos)
        }
        (Value::Uuid(b), PrimitiveType::Uuid) => Some(Datum::uuid(uuid::Uuid::from_bytes(*b))),
        _ => None,
    }
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
            ColumnRef { name: Some("id"), byte_ordered: true },
            ColumnRef { name: Some("name"), byte_ordered: false },
            ColumnRef { name: Some("amount"), byte_ordered: true },
            ColumnRef { name: Some("small"), byte_ordered: true },
            ColumnRef { name: Some("flag"), byte_ordered: true },
            ColumnRef { name: None, byte_ordered: true },
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

    #[test]
    fn like_prefixes() {
        assert_eq!(like_prefix("abc%"), Some(("abc".into(), true)));
        assert_eq!(like_prefix("abc%%"), Some(("abc".into(), true)));
        assert_eq!(like_prefix("a\\%b%"), Some(("a%b".into(), true)));
        assert_eq!(like_prefix("ab%c"), Some(("ab".into(), false)));
        assert_eq!(like_prefix("ab_"), Some(("ab".into(), false)));
        assert_eq!(like_prefix("%abc"), None);
        assert_eq!(like_prefix("abc"), Some(("abc".into(), false)));
    }

    #[test]
    fn bool_column() {
        let f = Filter::BoolColumn { column: 4, value: false };
        assert_eq!(push(&f, &[]).unwrap(), "flag = false");
    }
}
