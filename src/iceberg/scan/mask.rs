//! A pushed WHERE evaluated by the readers of an aggregate scan on the
//! batches they decode (no Postgres: runs on runtime workers).
//!
//! Handed to iceberg-rust's Parquet reader, a filter becomes a row filter:
//! the filter's column is decoded and compared first, and the other columns
//! are then decoded through the resulting row selection. A filter that drops
//! a few rows scattered through every page (`x >= 10` dropping 1 %) turns
//! into runs of ~100 rows, and decoding through them costs three times the
//! plain decode. Here the columns are decoded whole, the filter is computed
//! as one boolean mask with Arrow's comparison kernels, and the batch is
//! filtered before it is aggregated.
//!
//! Only what is exact goes here: an AND of comparisons, IN/NOT IN lists and
//! IS [NOT] NULL on integer, date and timestamp columns (the bound Iceberg
//! predicate the reader would get otherwise, already checked to keep exactly
//! the rows the SQL clause keeps). A NULL fails every comparison, as in SQL.
//!
//! Row-group and page pruning come from giving the reader the predicate; a
//! file keeps it (and so the row filter as well) when its column bounds say
//! the filter may drop much of it (`keeps_reader_filter`): only the rows a
//! filter drops can be pruned, so a filter that drops little loses little
//! by being evaluated here instead. Applying the mask to rows the reader has
//! already filtered changes nothing.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, BooleanArray, Date32Array, Int32Array, Int64Array, TimestampMicrosecondArray};
use arrow_schema::ArrowError;
use iceberg::expr::{BoundPredicate, PredicateOperator};
use iceberg::spec::{DataFile, Datum, PrimitiveLiteral, PrimitiveType, Type};

/// One test on one batch column.
#[derive(Debug)]
enum Test {
    /// `column <op> literal` (op: <, <=, >, >=, =, <>).
    Cmp(PredicateOperator, ArrayRef),
    /// `column IN (…)`, or NOT IN when negated.
    In { literals: Vec<ArrayRef>, negated: bool },
    IsNull,
    NotNull,
}

#[derive(Debug)]
struct Leaf {
    /// Position of the tested column in the batch.
    column: usize,
    test: Test,
}

/// An AND of tests on a batch's columns.
#[derive(Debug)]
pub struct RowMask {
    leaves: Vec<Leaf>,
}

/// An Iceberg literal of a field of `ty` as a one-value Arrow array (None:
/// not a type evaluated here).
fn literal_array(ty: &PrimitiveType, d: &Datum) -> Option<ArrayRef> {
    Some(match (ty, d.literal()) {
        (PrimitiveType::Int, PrimitiveLiteral::Int(v)) => Arc::new(Int32Array::from(vec![*v])),
        (PrimitiveType::Long, PrimitiveLiteral::Long(v)) => Arc::new(Int64Array::from(vec![*v])),
        (PrimitiveType::Date, PrimitiveLiteral::Int(v)) => Arc::new(Date32Array::from(vec![*v])),
        (PrimitiveType::Timestamp, PrimitiveLiteral::Long(v)) => Arc::new(TimestampMicrosecondArray::from(vec![*v])),
        (PrimitiveType::Timestamptz, PrimitiveLiteral::Long(v)) => {
            Arc::new(TimestampMicrosecondArray::from(vec![*v]).with_timezone("+00:00"))
        }
        _ => return None,
    })
}

/// The field's type, when it is one evaluated here.
fn masked_type(field: &iceberg::spec::NestedField) -> Option<&PrimitiveType> {
    match field.field_type.as_ref() {
        Type::Primitive(
            p @ (PrimitiveType::Int
            | PrimitiveType::Long
            | PrimitiveType::Date
            | PrimitiveType::Timestamp
            | PrimitiveType::Timestamptz),
        ) => Some(p),
        _ => None,
    }
}

/// The leaves of an AND (None: something else than leaves under ANDs).
fn conjuncts<'p>(p: &'p BoundPredicate, out: &mut Vec<&'p BoundPredicate>) -> Option<()> {
    match p {
        BoundPredicate::And(e) => {
            for input in e.inputs() {
                conjuncts(input, out)?;
            }
            Some(())
        }
        BoundPredicate::Unary(_) | BoundPredicate::Binary(_) | BoundPredicate::Set(_) => {
            out.push(p);
            Some(())
        }
        _ => None,
    }
}

/// Field ids the predicate reads.
pub fn field_ids(p: &BoundPredicate, out: &mut Vec<i32>) {
    match p {
        BoundPredicate::And(e) | BoundPredicate::Or(e) => e.inputs().iter().for_each(|i| field_ids(i, out)),
        BoundPredicate::Not(e) => e.inputs().iter().for_each(|i| field_ids(i, out)),
        BoundPredicate::Unary(e) => out.push(e.term().field().id),
        BoundPredicate::Binary(e) => out.push(e.term().field().id),
        BoundPredicate::Set(e) => out.push(e.term().field().id),
        BoundPredicate::AlwaysTrue | BoundPredicate::AlwaysFalse => {}
    }
}

impl RowMask {
    /// The mask for `p`, with `position` giving the batch column of a
    /// field id (None: `p` is not one evaluated here).
    pub fn new(p: &BoundPredicate, position: &dyn Fn(i32) -> Option<usize>) -> Option<RowMask> {
        let mut parts = Vec::new();
        conjuncts(p, &mut parts)?;
        let mut leaves = Vec::with_capacity(parts.len());
        for part in parts {
            let (field, test) = match part {
                BoundPredicate::Unary(e) => {
                    let test = match e.op() {
                        PredicateOperator::IsNull => Test::IsNull,
                        PredicateOperator::NotNull => Test::NotNull,
                        _ => return None,
                    };
                    (e.term().field(), test)
                }
                BoundPredicate::Binary(e) => {
                    let field = e.term().field();
                    let op = e.op();
                    if !matches!(
                        op,
                        PredicateOperator::LessThan
                            | PredicateOperator::LessThanOrEq
                            | PredicateOperator::GreaterThan
                            | PredicateOperator::GreaterThanOrEq
                            | PredicateOperator::Eq
                            | PredicateOperator::NotEq
                    ) {
                        return None;
                    }
                    (field, Test::Cmp(op, literal_array(masked_type(field)?, e.literal())?))
                }
                BoundPredicate::Set(e) => {
                    let field = e.term().field();
                    let ty = masked_type(field)?;
                    let negated = match e.op() {
                        PredicateOperator::In => false,
                        PredicateOperator::NotIn => true,
                        _ => return None,
                    };
                    let literals = e.literals().iter().map(|d| literal_array(ty, d)).collect::<Option<Vec<_>>>()?;
                    (field, Test::In { literals, negated })
                }
                _ => return None,
            };
            masked_type(field)?;
            leaves.push(Leaf { column: position(field.id)?, test });
        }
        (!leaves.is_empty()).then_some(RowMask { leaves })
    }

    /// The rows of a batch that pass (a NULL result fails: `filter` and
    /// `true_count` count only valid trues).
    pub fn evaluate(&self, columns: &[ArrayRef]) -> Result<BooleanArray, ArrowError> {
        use arrow_ord::cmp;
        let mut acc: Option<BooleanArray> = None;
        for leaf in &self.leaves {
            let column = columns
                .get(leaf.column)
                .ok_or_else(|| ArrowError::InvalidArgumentError(format!("no batch column {}", leaf.column)))?;
            let scalar = |literal: &ArrayRef| -> Result<arrow_array::Scalar<ArrayRef>, ArrowError> {
                // The reader's type for the column (a timestamptz's zone name).
                let literal = if literal.data_type() == column.data_type() {
                    literal.clone()
                } else {
                    arrow_cast::cast(literal, column.data_type())?
                };
                Ok(arrow_array::Scalar::new(literal))
            };
            let result = match &leaf.test {
                Test::Cmp(op, literal) => {
                    let s = scalar(literal)?;
                    match op {
                        PredicateOperator::LessThan => cmp::lt(column, &s)?,
                        PredicateOperator::LessThanOrEq => cmp::lt_eq(column, &s)?,
                        PredicateOperator::GreaterThan => cmp::gt(column, &s)?,
                        PredicateOperator::GreaterThanOrEq => cmp::gt_eq(column, &s)?,
                        PredicateOperator::Eq => cmp::eq(column, &s)?,
                        _ => cmp::neq(column, &s)?,
                    }
                }
                Test::In { literals, negated } => {
                    // IN (): no row; NOT IN (): every non-NULL row.
                    let mut any: BooleanArray = arrow_arith::boolean::is_not_null(column)?;
                    let mut first = true;
                    for literal in literals {
                        let s = scalar(literal)?;
                        let r = if *negated { cmp::neq(column, &s)? } else { cmp::eq(column, &s)? };
                        any = match (first, negated) {
                            (true, _) => r,
                            (false, true) => arrow_arith::boolean::and(&any, &r)?,
                            (false, false) => arrow_arith::boolean::or(&any, &r)?,
                        };
                        first = false;
                    }
                    if first && !negated {
                        BooleanArray::from(vec![false; column.len()])
                    } else {
                        any
                    }
                }
                Test::IsNull => arrow_arith::boolean::is_null(column)?,
                Test::NotNull => arrow_arith::boolean::is_not_null(column)?,
            };
            acc = Some(match acc {
                None => result,
                Some(a) => arrow_arith::boolean::and(&a, &result)?,
            });
        }
        Ok(acc.unwrap_or_else(|| BooleanArray::from(vec![true; columns.first().map_or(0, |c| c.len())])))
    }
}

/// Whether a file keeps the reader's filter (row groups and pages pruned,
/// rows filtered while decoding) rather than having its rows filtered by the
/// mask alone: when its bounds and NULL counts say the filter may drop more
/// than a quarter of its rows, or are not known. The estimate takes values
/// as spread evenly between the file's bounds.
pub fn keeps_reader_filter(p: &BoundPredicate, file: &DataFile) -> bool {
    let mut parts = Vec::new();
    if conjuncts(p, &mut parts).is_none() {
        return true;
    }
    let rows = file.record_count();
    if rows == 0 {
        return false;
    }
    let mut dropped = 0.0f64;
    for part in parts {
        match dropped_share(part, file, rows) {
            Some(share) => dropped += share,
            None => return true,
        }
    }
    dropped > 0.25
}

/// The estimated share of a file's rows that fail one leaf (None: unknown).
fn dropped_share(p: &BoundPredicate, file: &DataFile, rows: u64) -> Option<f64> {
    let number = |d: &Datum| match d.literal() {
        PrimitiveLiteral::Int(v) => Some(*v as f64),
        PrimitiveLiteral::Long(v) => Some(*v as f64),
        _ => None,
    };
    let id = match p {
        BoundPredicate::Unary(e) => e.term().field().id,
        BoundPredicate::Binary(e) => e.term().field().id,
        BoundPredicate::Set(e) => e.term().field().id,
        _ => return None,
    };
    let nulls = *file.null_value_counts().get(&id)? as f64 / rows as f64;
    let nulls = nulls.clamp(0.0, 1.0);
    let bounds = || -> Option<(f64, f64)> {
        let lo = number(file.lower_bounds().get(&id)?)?;
        let hi = number(file.upper_bounds().get(&id)?)?;
        (lo <= hi).then_some((lo, hi))
    };
    let share = match p {
        BoundPredicate::Unary(e) => match e.op() {
            PredicateOperator::IsNull => return Some(1.0 - nulls),
            PredicateOperator::NotNull => return Some(nulls),
            _ => return None,
        },
        BoundPredicate::Binary(e) => {
            let v = number(e.literal())?;
            if nulls >= 1.0 {
                return Some(1.0);
            }
            let (lo, hi) = bounds()?;
            // Integer-like values: `width` distinct values lo..=hi.
            let width = hi - lo + 1.0;
            let below = |x: f64| ((x - lo) / width).clamp(0.0, 1.0); // share < x
            let above = |x: f64| ((hi - x) / width).clamp(0.0, 1.0); // share > x
            match e.op() {
                PredicateOperator::GreaterThanOrEq => below(v),
                PredicateOperator::GreaterThan => below(v + 1.0),
                PredicateOperator::LessThanOrEq => above(v),
                PredicateOperator::LessThan => above(v - 1.0),
                PredicateOperator::Eq => 1.0 - (1.0 / width).min(1.0) * f64::from(u8::from(v >= lo && v <= hi)),
                PredicateOperator::NotEq => (1.0 / width).min(1.0),
                _ => return None,
            }
        }
        BoundPredicate::Set(e) => {
            if nulls >= 1.0 {
                return Some(1.0);
            }
            let (lo, hi) = bounds()?;
            let width = hi - lo + 1.0;
            let listed = (e.literals().len() as f64 / width).min(1.0);
            match e.op() {
                PredicateOperator::In => 1.0 - listed,
                PredicateOperator::NotIn => listed,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(nulls + (1.0 - nulls) * share)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iceberg::expr::{Bind, Reference};
    use iceberg::spec::{NestedField, Schema};

    fn schema() -> Arc<Schema> {
        Arc::new(
            Schema::builder()
                .with_fields(vec![
                    NestedField::optional(1, "x", Type::Primitive(PrimitiveType::Long)).into(),
                    NestedField::optional(2, "d", Type::Primitive(PrimitiveType::Date)).into(),
                    NestedField::optional(3, "s", Type::Primitive(PrimitiveType::String)).into(),
                    NestedField::optional(4, "i", Type::Primitive(PrimitiveType::Int)).into(),
                ])
                .build()
                .unwrap(),
        )
    }

    fn bound(p: iceberg::expr::Predicate) -> BoundPredicate {
        p.bind(schema(), true).unwrap()
    }

    fn position(id: i32) -> Option<usize> {
        Some((id - 1) as usize)
    }

    fn columns() -> Vec<ArrayRef> {
        vec![
            Arc::new(Int64Array::from(vec![Some(5), None, Some(10), Some(11), Some(-3)])),
            Arc::new(Date32Array::from(vec![Some(1), Some(2), None, Some(4), Some(5)])),
            Arc::new(arrow_array::StringArray::from(vec!["a", "b", "c", "d", "e"])),
            Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(3), None, Some(5)])),
        ]
    }

    fn kept(p: iceberg::expr::Predicate) -> Vec<bool> {
        let mask = RowMask::new(&bound(p), &position).expect("evaluated here");
        let m = mask.evaluate(&columns()).unwrap();
        (0..m.len()).map(|i| m.is_valid(i) && m.value(i)).collect()
    }

    #[test]
    fn comparisons_and_nulls() {
        let x = || Reference::new("x");
        assert_eq!(kept(x().greater_than_or_equal_to(Datum::long(10))), [false, false, true, true, false]);
        assert_eq!(kept(x().less_than(Datum::long(10))), [true, false, false, false, true]);
        assert_eq!(kept(x().not_equal_to(Datum::long(5))), [false, false, true, true, true]);
        assert_eq!(kept(x().is_null()), [false, true, false, false, false]);
        assert_eq!(kept(x().is_not_null()), [true, false, true, true, true]);
        assert_eq!(kept(x().is_in([Datum::long(5), Datum::long(11)])), [true, false, false, true, false]);
        assert_eq!(kept(x().is_not_in([Datum::long(5), Datum::long(11)])), [false, false, true, false, true]);
        let both = x().greater_than(Datum::long(0)).and(Reference::new("d").less_than_or_equal_to(Datum::date(4)));
        assert_eq!(kept(both), [true, false, false, true, false]);
        assert_eq!(kept(Reference::new("i").greater_than(Datum::int(1))), [false, true, true, false, true]);
    }

    #[test]
    fn only_exact_shapes() {
        let text = bound(Reference::new("s").equal_to(Datum::string("a")));
        assert!(RowMask::new(&text, &position).is_none());
        let or = bound(Reference::new("x").equal_to(Datum::long(1)).or(Reference::new("x").equal_to(Datum::long(2))));
        assert!(RowMask::new(&or, &position).is_none());
        let unknown = bound(Reference::new("x").equal_to(Datum::long(1)));
        assert!(RowMask::new(&unknown, &|_| None).is_none());
    }
}
