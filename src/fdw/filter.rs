//! The wrapper-neutral form of pushed-down WHERE clauses. Pure logic: no
//! pgrx.
//!
//! The planner (see `clauses`) turns a WHERE clause into a [`Filter`] whose
//! operands are slots: indexes into the scan's list of expressions, which
//! are evaluated once when the scan starts (see `params`) into [`Value`]s.
//! A wrapper then translates the filter into its source's language
//! (Iceberg predicates, ClickHouse SQL).
//!
//! The rule that keeps results correct: a translation may keep more rows
//! than the SQL clause (Postgres re-checks every clause), never fewer. So an
//! AND may drop a part it cannot translate, an OR may not, and NOT is only
//! placed over a leaf whose translation is exact.

use serde::{Deserialize, Serialize};

use crate::pg::types::Builtin;

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

    /// The comparison a btree strategy number stands for (1 `<` .. 5 `>`),
    /// or `<>` for the row-compare "not equal" code Postgres uses for it.
    pub fn from_btree_strategy(strategy: i32, not_equal_code: i32) -> Option<CmpOp> {
        Some(match strategy {
            1 => CmpOp::Lt,
            2 => CmpOp::LtEq,
            3 => CmpOp::Eq,
            4 => CmpOp::GtEq,
            5 => CmpOp::Gt,
            s if s == not_equal_code => CmpOp::NotEq,
            _ => return None,
        })
    }

    pub fn is_range(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::NotEq)
    }
}

/// A filter on the foreign table's columns (by index into the columns the
/// classifier was given), as planned.
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
    /// `column LIKE pattern`; a wrapper pushes what it can of the pattern.
    Like { column: usize, slot: usize },
    /// A boolean column used as a condition (`WHERE flag`).
    BoolColumn { column: usize, value: bool },
    /// `func(column) <op> value` (`=`/`<>` only) for an allowlisted function
    /// of a text column (see [`ColumnFunc`]).
    FuncCmp { func: ColumnFunc, column: usize, op: CmpOp, slot: usize },
    /// `func(column) LIKE pattern`; with `fold_pattern`, the pattern is case
    /// mapped by `func` too (`column ILIKE pattern` is `lower(column) LIKE
    /// lower(pattern)` in Postgres).
    FuncLike { func: ColumnFunc, column: usize, slot: usize, fold_pattern: bool },
    /// `date_trunc(...)`/`extract(...)` of a column compared with a value
    /// (see [`DateExpr`]).
    DateCmp { expr: DateExpr, op: CmpOp, slot: usize },
    /// Integer arithmetic of columns compared with a value (see [`ArithExpr`]).
    ArithCmp { expr: ArithExpr, op: CmpOp, slot: usize },
}

/// `a + b`, `a - b` or `a * b` of integer columns and constants, as
/// Postgres computes it in an integer type of `result_bits`: exact unless
/// it overflows (an ERROR). A wrapper pushes it only where the columns'
/// ranges prove it never overflows, so both compute the same number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArithExpr {
    pub op: ArithOp,
    pub left: ArithTerm,
    pub right: ArithTerm,
    /// 16, 32 or 64: Postgres' result type (smallint, integer, bigint).
    pub result_bits: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArithTerm {
    /// A column (index as for [`DateExpr::column`]).
    Column(usize),
    Const(i64),
}

impl ArithExpr {
    /// The columns it reads.
    pub fn columns(&self) -> impl Iterator<Item = usize> {
        [self.left, self.right].into_iter().filter_map(|t| match t {
            ArithTerm::Column(c) => Some(c),
            ArithTerm::Const(_) => None,
        })
    }

    /// The range of its results when each column's values lie in the range
    /// `range_of` gives (None: unknown, or beyond i128).
    pub fn range(&self, range_of: impl Fn(usize) -> Option<(i128, i128)>) -> Option<(i128, i128)> {
        let term = |t: ArithTerm| match t {
            ArithTerm::Column(c) => range_of(c),
            ArithTerm::Const(v) => Some((v as i128, v as i128)),
        };
        let ((a, b), (c, d)) = (term(self.left)?, term(self.right)?);
        Some(match self.op {
            ArithOp::Add => (a.checked_add(c)?, b.checked_add(d)?),
            ArithOp::Sub => (a.checked_sub(d)?, b.checked_sub(c)?),
            ArithOp::Mul => {
                let p = [a.checked_mul(c)?, a.checked_mul(d)?, b.checked_mul(c)?, b.checked_mul(d)?];
                (*p.iter().min()?, *p.iter().max()?)
            }
        })
    }

    /// Whether Postgres' result type holds every result in `range`.
    pub fn never_overflows(&self, range: (i128, i128)) -> bool {
        let max = (1i128 << (self.result_bits - 1)) - 1;
        range.0 >= -max - 1 && range.1 <= max
    }
}

/// `date_trunc(unit, x)` or `extract(field FROM x)` of a `timestamp`
/// (without time zone) or `date` column: functions of the wall-clock value
/// alone (no session TimeZone), so an engine computing them in UTC on the
/// same instant agrees exactly. `date_trunc` of a date column needs the
/// explicit `::timestamp` cast (else Postgres picks the timestamptz form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateExpr {
    pub func: DateFunc,
    /// The column (index into the classifier's or upper query's columns).
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateFunc {
    /// `date_trunc(unit, x)`: a timestamp.
    Trunc(TruncUnit),
    /// `extract(field FROM x)`: a whole number (numeric).
    Part(DatePart),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TruncUnit {
    Second,
    Minute,
    Hour,
    Day,
    /// ISO weeks: from Monday.
    Week,
    Month,
    Quarter,
    Year,
}

/// Fields of `extract` whose value is a whole number for both types (no
/// `second`/`epoch`: fractional numerics; no `week`/`isoyear`, not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DatePart {
    Year,
    Quarter,
    Month,
    Day,
    Hour,
    Minute,
    /// 0 (Sunday) to 6.
    Dow,
    /// 1 (Monday) to 7.
    IsoDow,
    Doy,
}

impl TruncUnit {
    /// Postgres' unit names (`date_trunc` lower-cases them; plurals and
    /// abbreviations are other spellings we leave local).
    pub fn parse(unit: &str) -> Option<TruncUnit> {
        Some(match unit.to_ascii_lowercase().as_str() {
            "second" => TruncUnit::Second,
            "minute" => TruncUnit::Minute,
            "hour" => TruncUnit::Hour,
            "day" => TruncUnit::Day,
            "week" => TruncUnit::Week,
            "month" => TruncUnit::Month,
            "quarter" => TruncUnit::Quarter,
            "year" => TruncUnit::Year,
            _ => return None,
        })
    }
}

impl DatePart {
    /// `extract`'s field names; `date_only`: the source is a date, where
    /// Postgres refuses time fields (an ERROR we leave to Postgres).
    pub fn parse(field: &str, date_only: bool) -> Option<DatePart> {
        let part = match field.to_ascii_lowercase().as_str() {
            "year" => DatePart::Year,
            "quarter" => DatePart::Quarter,
            "month" => DatePart::Month,
            "day" => DatePart::Day,
            "hour" => DatePart::Hour,
            "minute" => DatePart::Minute,
            "dow" => DatePart::Dow,
            "isodow" => DatePart::IsoDow,
            "doy" => DatePart::Doy,
            _ => return None,
        };
        (!(date_only && matches!(part, DatePart::Hour | DatePart::Minute))).then_some(part)
    }
}

/// Functions of a column a wrapper may compute at the source. Each variant
/// says when Postgres' result is defined bytewise, so that an engine outside
/// Postgres can compute exactly the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnFunc {
    /// `lower(text)` under the C/POSIX collation: ASCII letters only, every
    /// other byte unchanged.
    LowerAscii,
    /// `upper(text)` under the C/POSIX collation, likewise.
    UpperAscii,
}

impl Filter {
    /// Whether NOT may be placed over this filter: leaves only.
    pub fn is_leaf(&self) -> bool {
        !matches!(self, Filter::And(_) | Filter::Or(_) | Filter::Not(_))
    }
}

/// A runtime value of a pushed operand, in the encoding most engines outside
/// Postgres use (Unix epoch, plain decimal text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Groups of types whose Postgres comparison means the same as a plain
/// comparison of values outside Postgres, and which may be compared with
/// each other. Floats are left out on purpose: Postgres orders NaN above
/// every number and has -0 = 0, other engines order them by bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeFamily {
    Integer,
    Text,
    Bool,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
}

impl TypeFamily {
    pub fn of(ty: Builtin) -> Option<TypeFamily> {
        Some(match ty {
            Builtin::Int2 | Builtin::Int4 | Builtin::Int8 | Builtin::Numeric => TypeFamily::Integer,
            Builtin::Text | Builtin::Varchar => TypeFamily::Text,
            Builtin::Bool => TypeFamily::Bool,
            Builtin::Date => TypeFamily::Date,
            Builtin::Time => TypeFamily::Time,
            Builtin::Timestamp => TypeFamily::Timestamp,
            Builtin::TimestampTz => TypeFamily::TimestampTz,
            Builtin::Uuid => TypeFamily::Uuid,
            _ => return None,
        })
    }
}

/// Whether a column of type `column` compared with an operand of type
/// `operand` may be pushed: both builtin, in the same family.
pub fn comparable(column: Option<Builtin>, operand: Option<Builtin>) -> bool {
    match (column.and_then(TypeFamily::of), operand.and_then(TypeFamily::of)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `date_column <op> ts` rewritten as an equivalent comparison with a date,
/// for a timestamp (without time zone) constant `ts` given in microseconds
/// since 2000-01-01 (Postgres' own encoding; the date comes back in days
/// since then). Postgres compares a date with a timestamp as midnight of that
/// date, so `d < '1995-01-01 00:00'` is `d < '1995-01-01'` and
/// `d < '1995-01-01 12:00'` is `d <= '1995-01-01'`. None for infinite
/// timestamps and for (in)equality with a time that is not midnight, which
/// no date equals. `date + interval` folds to such a constant, so this is
/// what lets the common `d < date '…' + interval '1 year'` be pushed.
pub fn date_bound_for_timestamp(op: CmpOp, ts: i64) -> Option<(CmpOp, i32)> {
    const DAY: i64 = 86_400_000_000;
    if ts == i64::MIN || ts == i64::MAX {
        return None;
    }
    let day = i32::try_from(ts.div_euclid(DAY)).ok()?;
    let midnight = ts.rem_euclid(DAY) == 0;
    Some(match (op, midnight) {
        (CmpOp::Eq | CmpOp::NotEq | CmpOp::Lt | CmpOp::GtEq, true) => (op, day),
        (CmpOp::Eq | CmpOp::NotEq, false) => return None,
        (CmpOp::Lt | CmpOp::LtEq, _) => (CmpOp::LtEq, day),
        (CmpOp::Gt | CmpOp::GtEq, _) => (CmpOp::Gt, day),
    })
}

/// The literal prefix of a LIKE pattern (default escape `\`), and whether the
/// pattern is exactly `prefix%` (so a prefix match is equivalent, not weaker).
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
    // No wildcard: `x LIKE 'abc'` is equality; a prefix match is a weaker form.
    if prefix.is_empty() {
        None
    } else {
        Some((prefix, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_bounds_agree_with_comparing_midnights() {
        const DAY: i64 = 86_400_000_000;
        let holds = |op: CmpOp, a: i64, b: i64| match op {
            CmpOp::Eq => a == b,
            CmpOp::NotEq => a != b,
            CmpOp::Lt => a < b,
            CmpOp::LtEq => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::GtEq => a >= b,
        };
        let ops = [CmpOp::Eq, CmpOp::NotEq, CmpOp::Lt, CmpOp::LtEq, CmpOp::Gt, CmpOp::GtEq];
        for ts in [-DAY - 1, -DAY, -1, 0, 1, DAY / 2, DAY - 1, DAY, DAY + 1, 3 * DAY, 9_000 * DAY + 7] {
            for op in ops {
                match date_bound_for_timestamp(op, ts) {
                    None => assert!(matches!(op, CmpOp::Eq | CmpOp::NotEq) && ts.rem_euclid(DAY) != 0),
                    Some((date_op, day)) => {
                        for d in -4..12_000i64 {
                            assert_eq!(holds(op, d * DAY, ts), holds(date_op, d, day as i64), "{op:?} {ts} at {d}");
                        }
                    }
                }
            }
        }
        assert_eq!(date_bound_for_timestamp(CmpOp::Lt, i64::MAX), None);
        assert_eq!(date_bound_for_timestamp(CmpOp::Gt, i64::MIN), None);
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
    fn type_families() {
        use Builtin::*;
        assert!(comparable(Some(Int4), Some(Int8)));
        assert!(comparable(Some(Int8), Some(Numeric)));
        assert!(comparable(Some(Text), Some(Varchar)));
        assert!(comparable(Some(Date), Some(Date)));
        assert!(!comparable(Some(Date), Some(Timestamp)));
        assert!(!comparable(Some(Timestamp), Some(TimestampTz)));
        assert!(!comparable(Some(Float8), Some(Float8)));
        assert!(!comparable(Some(Int4), Some(Text)));
        assert!(!comparable(Some(Jsonb), Some(Jsonb)));
        assert!(!comparable(None, Some(Int4)));
        assert!(!comparable(Some(Uuid), None));
    }

    #[test]
    fn btree_strategies_and_commuting() {
        const NE: i32 = 6;
        assert_eq!(CmpOp::from_btree_strategy(1, NE), Some(CmpOp::Lt));
        assert_eq!(CmpOp::from_btree_strategy(3, NE), Some(CmpOp::Eq));
        assert_eq!(CmpOp::from_btree_strategy(5, NE), Some(CmpOp::Gt));
        assert_eq!(CmpOp::from_btree_strategy(NE, NE), Some(CmpOp::NotEq));
        assert_eq!(CmpOp::from_btree_strategy(0, NE), None);
        assert_eq!(CmpOp::Lt.commute(), CmpOp::Gt);
        assert_eq!(CmpOp::GtEq.commute(), CmpOp::LtEq);
        assert_eq!(CmpOp::Eq.commute(), CmpOp::Eq);
        assert!(CmpOp::Lt.is_range() && !CmpOp::NotEq.is_range());
    }

    #[test]
    fn date_units_and_fields() {
        assert_eq!(TruncUnit::parse("WEEK"), Some(TruncUnit::Week));
        assert_eq!(TruncUnit::parse("decade"), None);
        assert_eq!(TruncUnit::parse("days"), None);
        assert_eq!(DatePart::parse("isodow", true), Some(DatePart::IsoDow));
        // Postgres refuses time fields of a date: left to it.
        assert_eq!(DatePart::parse("hour", true), None);
        assert_eq!(DatePart::parse("hour", false), Some(DatePart::Hour));
        assert_eq!(DatePart::parse("epoch", false), None);
        assert_eq!(DatePart::parse("second", false), None);
    }

    #[test]
    fn arithmetic_ranges() {
        let e = |op, left, right, result_bits| ArithExpr { op, left, right, result_bits };
        let u16 = |_c: usize| Some((0i128, 65_535i128));
        let i32r = |_c: usize| Some((-(1i128 << 31), (1i128 << 31) - 1));
        let sum = e(ArithOp::Add, ArithTerm::Column(0), ArithTerm::Column(1), 32);
        assert_eq!(sum.range(u16), Some((0, 131_070)));
        assert!(sum.never_overflows(sum.range(u16).unwrap()));
        // int4 + int4 over Int32 columns can overflow integer: not pushed.
        assert!(!sum.never_overflows(sum.range(i32r).unwrap()));
        // ... but not bigint.
        let wide = e(ArithOp::Mul, ArithTerm::Column(0), ArithTerm::Column(1), 64);
        assert!(wide.never_overflows(wide.range(i32r).unwrap()));
        let minus = e(ArithOp::Sub, ArithTerm::Const(5), ArithTerm::Column(0), 16);
        assert_eq!(minus.range(u16), Some((5 - 65_535, 5)));
        assert!(!minus.never_overflows(minus.range(u16).unwrap()));
        let neg = e(ArithOp::Mul, ArithTerm::Column(0), ArithTerm::Const(-3), 64);
        assert_eq!(neg.range(u16), Some((-196_605, 0)));
        let huge = |_c: usize| Some((0i128, u64::MAX as i128));
        // UInt64 * UInt64 is beyond i128: unknown, not pushed.
        assert_eq!(wide.range(huge), None);
        let add = e(ArithOp::Add, ArithTerm::Column(0), ArithTerm::Column(1), 64);
        assert!(!add.never_overflows(add.range(huge).unwrap()));
        assert_eq!(wide.columns().collect::<Vec<_>>(), vec![0, 1]);
    }
}
