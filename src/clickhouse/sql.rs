//! ClickHouse SQL generation: quoting, literals, the pushed WHERE clause and
//! the SELECT a scan sends. Pure logic: no pgrx.
//!
//! A pushed clause must never drop a row Postgres would keep (Postgres
//! re-checks every clause). It is *exact* when it keeps the same rows, which
//! a pushed LIMIT needs: every translation below says which it is. NULL
//! rules differ in one place that matters: ClickHouse's `NULL NOT IN (1, 2)`
//! is 1, Postgres' is NULL, so NOT IN gets an `isNotNull` guard.

use serde::{Deserialize, Serialize};

use super::types::{ChType, PgKind, ReadAs};
use crate::fdw::filter::{like_prefix, ArithExpr, ArithOp, ArithTerm, CmpOp, ColumnFunc, DateExpr, DateFunc, DatePart, Filter, TruncUnit, Value};
use crate::fdw::upper::{AggFunc, Having, HavingOperand};

/// A ClickHouse identifier in backquotes.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('`');
    for c in name.chars() {
        match c {
            '`' => out.push_str("\\`"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            other => out.push(other),
        }
    }
    out.push('`');
    out
}

/// A ClickHouse string literal.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// `db`.`table`.
pub fn table_name(database: &str, table: &str) -> String {
    format!("{}.{}", ident(database), ident(table))
}

/// A column of the foreign table as the remote side sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteColumn {
    /// The ClickHouse column's name.
    pub name: String,
    /// Its type as ClickHouse spells it, and parsed.
    pub type_name: String,
    pub ch: ChType,
    /// The Postgres column's kind and how values are read into it.
    pub pg: PgKind,
    pub read: ReadAs,
}

impl RemoteColumn {
    /// The expression a scan selects for this column.
    pub fn select_expr(&self) -> String {
        match self.read {
            ReadAs::UnixSeconds => format!("toUnixTimestamp({})", ident(&self.name)),
            _ => ident(&self.name),
        }
    }
}

/// A deparsed clause: its SQL and whether it keeps exactly the rows the
/// Postgres clause keeps (else it keeps more).
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub sql: String,
    pub exact: bool,
}

impl Clause {
    fn exact(sql: impl Into<String>) -> Clause {
        Clause { sql: sql.into(), exact: true }
    }
}

const TRUE: &str = "1";
const FALSE: &str = "0";

/// The WHERE clause for `filter` with operand `values`; None when nothing
/// can be pushed.
pub fn deparse(filter: &Filter, columns: &[RemoteColumn], values: &[Value]) -> Option<Clause> {
    Deparser { columns, values }.clause(filter)
}

struct Deparser<'a> {
    columns: &'a [RemoteColumn],
    values: &'a [Value],
}

impl Deparser<'_> {
    fn clause(&self, f: &Filter) -> Option<Clause> {
        match f {
            Filter::And(parts) => {
                let done: Vec<Option<Clause>> = parts.iter().map(|p| self.clause(p)).collect();
                let exact = done.iter().all(|c| c.as_ref().is_some_and(|c| c.exact));
                let sql: Vec<String> = done.into_iter().flatten().map(|c| format!("({})", c.sql)).collect();
                match sql.len() {
                    0 => None,
                    1 => Some(Clause { sql: strip_parens(&sql[0]), exact }),
                    _ => Some(Clause { sql: sql.join(" AND "), exact }),
                }
            }
            Filter::Or(parts) => {
                let mut sql = Vec::with_capacity(parts.len());
                let mut exact = true;
                for p in parts {
                    let c = self.clause(p)?;
                    exact &= c.exact;
                    sql.push(format!("({})", c.sql));
                }
                Some(Clause { sql: sql.join(" OR "), exact })
            }
            Filter::Not(inner) => self.negated(inner),
            Filter::Cmp { column, op, slot } => self.compare(*column, *op, self.values.get(*slot)?),
            Filter::InList { column, slot, negated } => self.in_list(*column, self.values.get(*slot)?, *negated),
            Filter::IsNull { column, negated } => {
                let col = ident(&self.columns.get(*column)?.name);
                Some(Clause::exact(if *negated { format!("isNotNull({col})") } else { format!("isNull({col})") }))
            }
            Filter::Like { column, slot } => self.like(*column, self.values.get(*slot)?),
            Filter::FuncCmp { func, column, op, slot } => self.func_compare(*func, *column, *op, self.values.get(*slot)?),
            Filter::FuncLike { func, column, slot, fold_pattern } => {
                self.func_like(*func, *column, self.values.get(*slot)?, *fold_pattern)
            }
            Filter::BoolColumn { column, value } => {
                let c = self.columns.get(*column)?;
                matches!(c.ch.base(), ChType::Int { bits: 8, .. })
                    .then(|| Clause::exact(format!("{} = {}", ident(&c.name), if *value { 1 } else { 0 })))
            }
            Filter::DateCmp { expr, op, slot } => self.date_compare(expr, *op, self.values.get(*slot)?),
            Filter::ArithCmp { expr, op, slot } => self.arith_compare(expr, *op, self.values.get(*slot)?),
        }
    }

    /// Integer arithmetic compared with a number, placed exactly (Int64).
    fn arith_compare(&self, e: &ArithExpr, op: CmpOp, value: &Value) -> Option<Clause> {
        let expr = arith_sql(e, self.columns)?;
        let int = ChType::Int { bits: 64, signed: true };
        let nullable = e.columns().any(|c| self.columns.get(c).is_some_and(|c| c.ch.is_nullable()));
        let ch = if nullable { ChType::Nullable(Box::new(int)) } else { int };
        compare_sql(&expr, &domain(ch, PgKind::Numeric), op, value).map(Clause::exact)
    }

    /// `date_trunc(...)`/`extract(...)` compared as whole numbers: seconds
    /// since 1970 for a truncated timestamp, the field's value otherwise.
    fn date_compare(&self, e: &DateExpr, op: CmpOp, value: &Value) -> Option<Clause> {
        let c = self.columns.get(e.column)?;
        let (expr, _) = date_expr_sql(e, c)?;
        let number = match (e.func, value) {
            (_, Value::Null) => Value::Null,
            (DateFunc::Trunc(_), Value::Timestamp(us)) => Value::Numeric(micros_as_seconds(*us)),
            (DateFunc::Trunc(_), Value::Date(days)) => Value::Int(*days as i64 * 86_400),
            (DateFunc::Part(_), v @ (Value::Int(_) | Value::Numeric(_))) => v.clone(),
            _ => return None,
        };
        // NULL in, NULL out: the expression is Nullable where the column is.
        let int = ChType::Int { bits: 64, signed: true };
        let ch = if c.ch.is_nullable() { ChType::Nullable(Box::new(int)) } else { int };
        compare_sql(&expr, &domain(ch, PgKind::Numeric), op, &number).map(Clause::exact)
    }

    /// NOT over a leaf, spelled so NULLs behave as in Postgres.
    fn negated(&self, inner: &Filter) -> Option<Clause> {
        match inner {
            Filter::InList { column, slot, negated } => self.in_list(*column, self.values.get(*slot)?, !negated),
            Filter::IsNull { column, negated } => self.clause(&Filter::IsNull { column: *column, negated: !negated }),
            Filter::BoolColumn { column, value } => self.clause(&Filter::BoolColumn { column: *column, value: !value }),
            // NOT (x < v) is x >= v, NULL for a NULL x either way.
            Filter::Cmp { column, op, slot } => self.compare(*column, complement(*op), self.values.get(*slot)?),
            Filter::FuncCmp { func, column, op, slot } => {
                self.func_compare(*func, *column, complement(*op), self.values.get(*slot)?)
            }
            Filter::DateCmp { expr, op, slot } => self.date_compare(expr, complement(*op), self.values.get(*slot)?),
            Filter::ArithCmp { expr, op, slot } => self.arith_compare(expr, complement(*op), self.values.get(*slot)?),
            // NOT of an exact prefix match: NULL stays NULL in both.
            leaf @ (Filter::Like { .. } | Filter::FuncLike { .. }) => {
                let c = self.clause(leaf)?;
                c.exact.then(|| Clause::exact(format!("NOT ({})", c.sql)))
            }
            _ => None,
        }
    }

    fn compare(&self, column: usize, op: CmpOp, value: &Value) -> Option<Clause> {
        let c = self.columns.get(column)?;
        compare_sql(&ident(&c.name), c, op, value).map(Clause::exact)
    }

    /// `lower(x)`/`upper(x)` under a C collation: ClickHouse's `lower` and
    /// `upper` map ASCII letters and leave every other byte alone, as
    /// Postgres does under C (checked on 18.16: `lower('ÀB')` is `'Àb'`).
    /// String columns only (FixedString keeps its padding).
    fn func_compare(&self, func: ColumnFunc, column: usize, op: CmpOp, value: &Value) -> Option<Clause> {
        let c = self.columns.get(column)?;
        if !matches!(c.ch.base(), ChType::String) || c.pg != PgKind::Text || op.is_range() {
            return None;
        }
        let name = match func {
            ColumnFunc::LowerAscii => "lower",
            ColumnFunc::UpperAscii => "upper",
        };
        compare_sql(&format!("{name}({})", ident(&c.name)), c, op, value).map(Clause::exact)
    }

    /// `lower(x) LIKE p` / `x ILIKE p` under a C collation as a byte-prefix
    /// test of ClickHouse's ASCII `lower(x)` (see `like` and `func_compare`).
    fn func_like(&self, func: ColumnFunc, column: usize, value: &Value, fold_pattern: bool) -> Option<Clause> {
        let c = self.columns.get(column)?;
        if !matches!(c.ch.base(), ChType::String) || c.pg != PgKind::Text {
            return None;
        }
        let Value::Text(pattern) = value else {
            return (*value == Value::Null).then(|| Clause::exact(FALSE));
        };
        let (name, pattern) = match func {
            ColumnFunc::LowerAscii => ("lower", if fold_pattern { pattern.to_ascii_lowercase() } else { pattern.clone() }),
            ColumnFunc::UpperAscii => ("upper", if fold_pattern { pattern.to_ascii_uppercase() } else { pattern.clone() }),
        };
        let (prefix, exact) = like_prefix(&pattern)?;
        Some(Clause {
            sql: format!("substring({name}({}), 1, {}) = {}", ident(&c.name), prefix.len(), string_literal(&prefix)),
            exact,
        })
    }

    fn in_list(&self, column: usize, value: &Value, negated: bool) -> Option<Clause> {
        let c = self.columns.get(column)?;
        let items = match value {
            Value::Array(items) => items,
            // x = ANY(NULL) and x <> ALL(NULL) are NULL: never true.
            Value::Null => return Some(Clause::exact(FALSE)),
            _ => return None,
        };
        let has_null = items.iter().any(|v| *v == Value::Null);
        if negated && has_null {
            // x <> ALL(array with a NULL) is never true.
            return Some(Clause::exact(FALSE));
        }
        let mut lits = Vec::with_capacity(items.len());
        for v in items.iter().filter(|v| **v != Value::Null) {
            // A value the column cannot hold equals no row: it changes
            // neither IN nor NOT IN.
            if let Bound::Exact(lit) = bound(c, v)? {
                lits.push(lit);
            }
        }
        let col = ident(&c.name);
        let not_null = if c.ch.is_nullable() { format!("isNotNull({col})") } else { TRUE.to_string() };
        // ClickHouse 18.16 types an IN list's literals by itself and then
        // refuses them against Decimal and UUID columns ("Type mismatch in
        // IN or VALUES section"): those lists go as comparisons.
        if !lits.is_empty() && matches!(c.ch.base(), ChType::Decimal { .. } | ChType::Uuid) {
            let sql = if negated {
                let ne: Vec<String> = lits.iter().map(|l| format!("{col} != {l}")).collect();
                if c.ch.is_nullable() {
                    format!("{not_null} AND {}", ne.join(" AND "))
                } else {
                    ne.join(" AND ")
                }
            } else {
                let eq: Vec<String> = lits.iter().map(|l| format!("{col} = {l}")).collect();
                format!("({})", eq.join(" OR "))
            };
            return Some(Clause::exact(sql));
        }
        Some(Clause::exact(match (negated, lits.is_empty()) {
            // IN of nothing a row can hold (an empty list included) is false.
            (false, true) => FALSE.to_string(),
            // x <> ALL('{}') is true, even for a NULL x.
            (true, true) if items.is_empty() => TRUE.to_string(),
            // NOT IN of values no row holds: every non-NULL row.
            (true, true) => not_null,
            (false, false) => format!("{col} IN ({})", lits.join(", ")),
            (true, false) if c.ch.is_nullable() => format!("{not_null} AND {col} NOT IN ({})", lits.join(", ")),
            (true, false) => format!("{col} NOT IN ({})", lits.join(", ")),
        }))
    }

    /// LIKE as a byte-prefix test (exact only for `prefix%`): ClickHouse's
    /// own LIKE differs from Postgres' in escapes and newlines.
    fn like(&self, column: usize, value: &Value) -> Option<Clause> {
        let c = self.columns.get(column)?;
        if !c.ch.is_string() {
            return None;
        }
        let Value::Text(pattern) = value else {
            return (*value == Value::Null).then(|| Clause::exact(FALSE));
        };
        let (prefix, exact) = like_prefix(pattern)?;
        Some(Clause {
            sql: format!("substring({}, 1, {}) = {}", ident(&c.name), prefix.len(), string_literal(&prefix)),
            exact,
        })
    }
}

/// `expr <op> value`, where `expr` takes the values of column `c`'s type
/// (the column itself, or an aggregate over it), kept exactly as Postgres
/// keeps it. None when the pair does not compare alike in both systems.
fn compare_sql(expr: &str, c: &RemoteColumn, op: CmpOp, value: &Value) -> Option<String> {
    if *value == Value::Null {
        // A comparison with NULL is never true.
        return Some(FALSE.to_string());
    }
    if op.is_range() && matches!(c.ch.base(), ChType::Uuid) {
        // ClickHouse orders UUIDs by their two 64-bit halves, Postgres by bytes.
        return None;
    }
    // What is true of every non-NULL value.
    let not_null = || if c.ch.is_nullable() { format!("isNotNull({expr})") } else { TRUE.to_string() };
    Some(match (bound(c, value)?, op) {
        (Bound::Exact(lit), op) => format!("{expr} {} {lit}", symbol(op)),
        // v lies strictly between `below` and the next value the column holds.
        (Bound::Between(_), CmpOp::Eq) => FALSE.to_string(),
        (Bound::Between(_), CmpOp::NotEq) => not_null(),
        (Bound::Between(below), CmpOp::Lt | CmpOp::LtEq) => format!("{expr} <= {below}"),
        (Bound::Between(below), CmpOp::Gt | CmpOp::GtEq) => format!("{expr} > {below}"),
        (Bound::BelowAll, CmpOp::Eq | CmpOp::Lt | CmpOp::LtEq) => FALSE.to_string(),
        (Bound::BelowAll, CmpOp::NotEq | CmpOp::Gt | CmpOp::GtEq) => not_null(),
        (Bound::AboveAll, CmpOp::Eq | CmpOp::Gt | CmpOp::GtEq) => FALSE.to_string(),
        (Bound::AboveAll, CmpOp::NotEq | CmpOp::Lt | CmpOp::LtEq) => not_null(),
    })
}

/// A value domain that is not a table column (an aggregate's result type).
fn domain(ch: ChType, pg: PgKind) -> RemoteColumn {
    RemoteColumn { name: String::new(), type_name: String::new(), ch, pg, read: ReadAs::Text }
}

/// An aggregate as a value HAVING can compare, with the domain of its
/// results (NULL for no rows, as in Postgres, except count).
fn aggregate_value(func: AggFunc, distinct: bool, col: Option<&RemoteColumn>, keyed: bool) -> Option<(String, RemoteColumn)> {
    let count = || domain(ChType::Int { bits: 64, signed: false }, PgKind::Integer);
    let nullable = |t: ChType| ChType::Nullable(Box::new(t));
    match (func, distinct, col) {
        (AggFunc::CountStar, false, None) => Some(("count()".into(), count())),
        (AggFunc::Count, false, Some(c)) => Some((format!("count({})", ident(&c.name)), count())),
        (AggFunc::Count, true, Some(c)) if groups_like_postgres(c) => Some((count_distinct(c), count())),
        (AggFunc::Sum, false, Some(c)) => {
            let (expr, _) = aggregate_keyed(func, false, Some(c), keyed)?;
            let scale = match c.ch.base() {
                ChType::Decimal { scale, .. } => *scale,
                _ => 0,
            };
            Some((expr, domain(nullable(ChType::Decimal { precision: 38, scale }), PgKind::Numeric)))
        }
        (AggFunc::Min | AggFunc::Max, false, Some(c)) if orders_like_postgres(c) => {
            let f = if func == AggFunc::Min { "min" } else { "max" };
            let name = ident(&c.name);
            let mut d = c.clone();
            d.ch = nullable(c.ch.base().clone());
            let expr = if keyed && !c.ch.is_nullable() {
                format!("{f}({name})")
            } else {
                format!("if(count({name}) = 0, NULL, {f}({name}))")
            };
            Some((expr, d))
        }
        _ => None,
    }
}

/// One HAVING clause in ClickHouse, exactly as Postgres evaluates it;
/// None when it cannot be (then the whole grouping stays local). `keyed`:
/// the query has GROUP BY keys (see [`aggregate_keyed`]).
pub fn having(h: &Having, columns: &[RemoteColumn], keyed: bool) -> Option<String> {
    let (expr, dom) = match h.operand {
        HavingOperand::Aggregate(a) => {
            if a.expr.is_some() {
                return None;
            }
            let col = match a.column {
                Some(i) => Some(columns.get(i)?),
                None => None,
            };
            aggregate_value(a.func, a.distinct, col, keyed)?
        }
        HavingOperand::Column(i) => {
            let c = columns.get(i)?;
            (ident(&c.name), c.clone())
        }
    };
    if let (HavingOperand::Column(_), ChType::FixedString(_)) = (h.operand, dom.ch.base()) {
        return None;
    }
    compare_sql(&expr, &dom, h.op, &h.value)
}

fn strip_parens(s: &str) -> String {
    s.strip_prefix('(').and_then(|s| s.strip_suffix(')')).unwrap_or(s).to_string()
}

/// Largest Date ClickHouse 18.16 handles (2105-12-31), in days.
const MAX_DATE_DAYS: i32 = 49_672;

fn symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::NotEq => "!=",
        CmpOp::Lt => "<",
        CmpOp::LtEq => "<=",
        CmpOp::Gt => ">",
        CmpOp::GtEq => ">=",
    }
}

/// The comparison true exactly where `op` is false (both NULL on NULL).
fn complement(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::NotEq,
        CmpOp::NotEq => CmpOp::Eq,
        CmpOp::Lt => CmpOp::GtEq,
        CmpOp::LtEq => CmpOp::Gt,
        CmpOp::Gt => CmpOp::LtEq,
        CmpOp::GtEq => CmpOp::Lt,
    }
}

/// Where a value lies among the values a column can hold.
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    /// It is one of them: its literal.
    Exact(String),
    /// Strictly between two of them: the literal of the one below.
    Between(String),
    BelowAll,
    AboveAll,
}

/// `value` against column `c`, when the comparison means the same in
/// ClickHouse as in Postgres (None: not pushed). Every value of a supported
/// pair has a bound, so a comparison is never dropped for its value alone.
fn bound(c: &RemoteColumn, value: &Value) -> Option<Bound> {
    use ChType as C;
    match (value, c.ch.base()) {
        (Value::Int(i), C::Int { .. } | C::Decimal { .. }) => decimal_bound(c.ch.base(), &i.to_string()),
        (Value::Numeric(s), C::Int { .. } | C::Decimal { .. }) => decimal_bound(c.ch.base(), s),
        (Value::Text(s), C::String) if c.pg == PgKind::Text => Some(Bound::Exact(string_literal(s))),
        (Value::Bool(b), C::Int { bits: 8, .. }) => Some(Bound::Exact(if *b { "1" } else { "0" }.to_string())),
        (Value::Date(days), C::Date) => Some(match *days {
            d if d < 0 => Bound::BelowAll,
            d if d > MAX_DATE_DAYS => Bound::AboveAll,
            d => Bound::Exact(format!("toDate({})", string_literal(&date_text(d)))),
        }),
        (Value::Timestamp(us) | Value::TimestampTz(us), C::DateTime(_)) => {
            // DateTime holds whole seconds from 0 to 2^32 - 1.
            let (secs, frac) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000) != 0);
            Some(match secs {
                s if s < 0 => Bound::BelowAll,
                s if s > u32::MAX as i64 || (s == u32::MAX as i64 && frac) => Bound::AboveAll,
                s if frac => Bound::Between(format!("toDateTime({s})")),
                s => Bound::Exact(format!("toDateTime({s})")),
            })
        }
        (Value::Uuid(b), C::Uuid) => {
            Some(Bound::Exact(format!("toUUID({})", string_literal(&uuid::Uuid::from_bytes(*b).to_string()))))
        }
        _ => None,
    }
}

/// A decimal number (`-12.50`) against an integer or Decimal(P, S) column:
/// computed on the value scaled by 10^S, never through a float.
fn decimal_bound(ty: &ChType, text: &str) -> Option<Bound> {
    let (scale, min, max): (u32, i128, i128) = match *ty {
        ChType::Int { bits, signed: true } => (0, -(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
        ChType::Int { bits, signed: false } => (0, 0, (1i128 << bits) - 1),
        ChType::Decimal { precision, scale } if precision <= 38 && scale <= precision => {
            let max = 10i128.pow(precision) - 1;
            (scale, -max, max)
        }
        _ => return None,
    };
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches(['-', '+']);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() as u32 + scale > 38 {
        // Beyond every Decimal128 and 64-bit integer.
        return Some(if negative { Bound::BelowAll } else { Bound::AboveAll });
    }
    let kept: String = frac.chars().chain(std::iter::repeat('0')).take(scale as usize).collect();
    let dropped = frac.chars().skip(scale as usize).any(|c| c != '0');
    let mut scaled: i128 = format!("{int}{kept}").trim_start_matches('0').parse().unwrap_or(0);
    if negative {
        scaled = -scaled;
        if dropped {
            // The column value just below a negative in-between number.
            scaled -= 1;
        }
    }
    if scaled < min {
        return Some(Bound::BelowAll);
    }
    if scaled > max || (scaled == max && dropped) {
        return Some(Bound::AboveAll);
    }
    let unit = 10i128.pow(scale);
    let lit = if scaled % unit == 0 && (scale == 0 && matches!(ty, ChType::Int { .. }) || i64::try_from(scaled / unit).is_ok()) {
        // Whole numbers compare with Decimal columns as they are, while
        // ClickHouse reads them as integers: a longer one would be a Float64.
        (scaled / unit).to_string()
    } else {
        let abs = scaled.unsigned_abs().to_string();
        let padded = format!("{abs:0>width$}", width = scale as usize + 1);
        let (i, f) = padded.split_at(padded.len() - scale as usize);
        let point = if f.is_empty() { "" } else { "." };
        format!("toDecimal128('{}{i}{point}{f}', {scale})", if scaled < 0 { "-" } else { "" })
    };
    Some(if dropped { Bound::Between(lit) } else { Bound::Exact(lit) })
}

/// Whether the pushed form of `filter` keeps exactly Postgres' rows for
/// every value its operands can take (types of `slots`: the element type
/// for IN lists): then aggregates may be pushed before the values are
/// known (parameters, `now()`). Operands that evaluate to no value (NaN,
/// infinity) leave the filter unpushed at execution.
pub fn exact_for_any_values(filter: &Filter, columns: &[RemoteColumn], slots: &[Option<crate::pg::types::Builtin>]) -> bool {
    use crate::pg::types::Builtin as B;
    let pair = |column: usize, slot: usize| -> Option<(&RemoteColumn, B)> { Some((columns.get(column)?, (*slots.get(slot)?)?)) };
    let bounded = |c: &RemoteColumn, ty: B| -> bool {
        match (c.ch.base(), ty) {
            (ChType::Int { .. } | ChType::Decimal { .. }, B::Int2 | B::Int4 | B::Int8 | B::Numeric) => true,
            (ChType::String, B::Text | B::Varchar) => c.pg == PgKind::Text,
            (ChType::Int { bits: 8, .. }, B::Bool) => true,
            (ChType::Date, B::Date) => true,
            (ChType::DateTime(_), B::Timestamp | B::TimestampTz) => true,
            (ChType::Uuid, B::Uuid) => true,
            _ => false,
        }
    };
    match filter {
        Filter::And(parts) | Filter::Or(parts) => parts.iter().all(|p| exact_for_any_values(p, columns, slots)),
        Filter::Not(inner) => {
            !matches!(**inner, Filter::Like { .. } | Filter::FuncLike { .. }) && exact_for_any_values(inner, columns, slots)
        }
        Filter::Cmp { column, op, slot } => pair(*column, *slot).is_some_and(|(c, ty)| {
            bounded(c, ty) && !(op.is_range() && matches!(c.ch.base(), ChType::Uuid))
        }),
        Filter::InList { column, slot, .. } => pair(*column, *slot).is_some_and(|(c, ty)| bounded(c, ty)),
        Filter::IsNull { column, .. } => *column < columns.len(),
        Filter::BoolColumn { column, .. } => columns.get(*column).is_some_and(|c| matches!(c.ch.base(), ChType::Int { bits: 8, .. })),
        Filter::Like { .. } | Filter::FuncLike { .. } => false,
        Filter::FuncCmp { column, op, slot, .. } => pair(*column, *slot).is_some_and(|(c, ty)| {
            matches!(c.ch.base(), ChType::String) && c.pg == PgKind::Text && !op.is_range() && bounded(c, ty)
        }),
        Filter::ArithCmp { expr, slot, .. } => {
            arith_sql(expr, columns).is_some()
                && slots.get(*slot).copied().flatten().is_some_and(|ty| matches!(ty, B::Int2 | B::Int4 | B::Int8 | B::Numeric))
        }
        // Every timestamp, date and number has a bound against whole numbers.
        Filter::DateCmp { expr, slot, .. } => pair(expr.column, *slot).is_some_and(|(c, ty)| {
            date_expr_sql(expr, c).is_some()
                && match expr.func {
                    DateFunc::Trunc(_) => matches!(ty, B::Timestamp | B::Date),
                    DateFunc::Part(_) => matches!(ty, B::Int2 | B::Int4 | B::Int8 | B::Numeric),
                }
        }),
    }
}

/// The range of an integer column's values (None: not an integer column
/// whose values Postgres reads as integers).
fn int_range(c: &RemoteColumn) -> Option<(i128, i128)> {
    match (c.ch.base(), &c.pg) {
        (ChType::Int { bits, signed: true }, PgKind::Integer) => Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)),
        (ChType::Int { bits, signed: false }, PgKind::Integer) => Some((0, (1i128 << bits) - 1)),
        _ => None,
    }
}

/// Integer arithmetic in ClickHouse, when the columns' ranges prove that
/// Postgres never overflows (so it never raises an ERROR ClickHouse would
/// not): computed in Int64, which then holds every result exactly
/// (ClickHouse's own result types wrap around, e.g. UInt32 - UInt32).
pub fn arith_sql(e: &ArithExpr, columns: &[RemoteColumn]) -> Option<String> {
    let range = e.range(|c| int_range(columns.get(c)?))?;
    if !e.never_overflows(range) {
        return None;
    }
    let term = |t: ArithTerm| match t {
        ArithTerm::Column(c) => Some(format!("toInt64({})", ident(&columns.get(c)?.name))),
        ArithTerm::Const(v) => Some(format!("toInt64({v})")),
    };
    let op = match e.op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
    };
    Some(format!("({} {op} {})", term(e.left)?, term(e.right)?))
}

/// Microseconds since 1970 as a decimal number of seconds (`-1.500000`).
fn micros_as_seconds(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let abs = us.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

/// A [`DateExpr`] in ClickHouse, computed on the UTC wall clock (what a
/// `timestamp` column reads as: the instant's seconds since 1970 in UTC),
/// whatever the server's or the column's time zone, and how its values are
/// read: a truncated timestamp as seconds since 1970 (Int64: the week of
/// 1970-01-01 starts in 1969), a field as a whole number. None: not over a
/// `timestamp` column on DateTime/Date or a `date` column on Date.
///
/// Units of fixed length are computed from the seconds. 18.16's calendar
/// functions (toYear, toStartOfMonth, ...) are wrong from 2106-01-01 on
/// (its date table ends in 2105: toYear gives 1970 at 2^32 - 1), and a
/// DateTime reaches 2106-02-07: those five weeks are spelled out.
pub fn date_expr_sql(e: &DateExpr, c: &RemoteColumn) -> Option<(String, ReadAs)> {
    const Y2106: u32 = 4_291_747_200; // 2106-01-01 00:00 UTC
    const FEB2106: u32 = 4_294_425_600; // 2106-02-01 00:00 UTC
    let col = ident(&c.name);
    let base = match (&c.pg, c.ch.base()) {
        (PgKind::Timestamp, ChType::DateTime(_)) => col,
        (PgKind::Timestamp | PgKind::Date, ChType::Date) => format!("toDateTime({col}, 'UTC')"),
        _ => return None,
    };
    let s = format!("toUnixTimestamp({base})");
    let late = |in_2106: String, calendar: String| format!("toInt64(if({s} >= {Y2106}, {in_2106}, {calendar}))");
    let start_of = |f: &str| format!("toUnixTimestamp(toDateTime({f}({base}, 'UTC'), 'UTC'))");
    let days = format!("intDiv({s}, 86400)");
    Some(match e.func {
        DateFunc::Trunc(unit) => (
            match unit {
                TruncUnit::Second => format!("toInt64({s})"),
                TruncUnit::Minute => format!("toInt64(intDiv({s}, 60) * 60)"),
                TruncUnit::Hour => format!("toInt64(intDiv({s}, 3600) * 3600)"),
                TruncUnit::Day => format!("toInt64({days} * 86400)"),
                // 1970-01-05 was a Monday: weeks start at 4 days + k weeks.
                TruncUnit::Week => format!("toInt64({s}) - toInt64(({s} + 259200) % 604800)"),
                TruncUnit::Month => late(format!("if({s} >= {FEB2106}, {FEB2106}, {Y2106})"), start_of("toStartOfMonth")),
                TruncUnit::Quarter => late(Y2106.to_string(), start_of("toStartOfQuarter")),
                TruncUnit::Year => late(Y2106.to_string(), start_of("toStartOfYear")),
            },
            ReadAs::UnixSeconds,
        ),
        DateFunc::Part(part) => (
            match part {
                DatePart::Year => late("2106".into(), format!("toYear({base}, 'UTC')")),
                DatePart::Quarter => late("1".into(), format!("toQuarter({base}, 'UTC')")),
                DatePart::Month => late(format!("if({s} >= {FEB2106}, 2, 1)"), format!("toMonth({base}, 'UTC')")),
                DatePart::Day => late(
                    format!("intDiv({s} - if({s} >= {FEB2106}, {FEB2106}, {Y2106}), 86400) + 1"),
                    format!("toDayOfMonth({base}, 'UTC')"),
                ),
                DatePart::Doy => late(format!("intDiv({s} - {Y2106}, 86400) + 1"), format!("toDayOfYear({base}, 'UTC')")),
                DatePart::Hour => format!("toInt64(intDiv({s}, 3600) % 24)"),
                DatePart::Minute => format!("toInt64(intDiv({s}, 60) % 60)"),
                // 1970-01-01 was a Thursday: Postgres' dow 4, isodow 4.
                DatePart::Dow => format!("toInt64(({days} + 4) % 7)"),
                DatePart::IsoDow => format!("toInt64(({days} + 3) % 7 + 1)"),
            },
            ReadAs::Text,
        ),
    })
}

/// Days since 1970-01-01 as YYYY-MM-DD (proleptic Gregorian).
pub fn date_text(days: i32) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}")
}

/// What a scan sends.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Select<'a> {
    pub database: &'a str,
    pub table: &'a str,
    /// The values of each row (none: `SELECT 1`, as for `count(*)`).
    pub exprs: Vec<String>,
    pub where_sql: Option<String>,
    pub group_by: Vec<String>,
    /// HAVING clauses, ANDed.
    pub having: Vec<String>,
    pub order_by: Vec<String>,
    pub limit: Option<u64>,
    /// A subquery to read instead of `database`.`table` (a pushed join).
    pub from_sql: Option<String>,
}

impl Select<'_> {
    pub fn sql(&self) -> String {
        let list = if self.exprs.is_empty() { "1".to_string() } else { self.exprs.join(", ") };
        let from = match &self.from_sql {
            Some(sub) => format!("({sub})"),
            None => table_name(self.database, self.table),
        };
        let mut sql = format!("SELECT {list} FROM {from}");
        if let Some(w) = &self.where_sql {
            sql.push_str(" WHERE ");
            sql.push_str(w);
        }
        if !self.group_by.is_empty() {
            sql.push_str(" GROUP BY ");
            sql.push_str(&self.group_by.join(", "));
        }
        if !self.having.is_empty() {
            sql.push_str(" HAVING ");
            if self.having.len() == 1 {
                sql.push_str(&self.having[0]);
            } else {
                let parts: Vec<String> = self.having.iter().map(|h| format!("({h})")).collect();
                sql.push_str(&parts.join(" AND "));
            }
        }
        if !self.order_by.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(&self.order_by.join(", "));
        }
        if let Some(n) = self.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        sql
    }
}

/// Whether values of this column group, sort and aggregate (min/max) the
/// same in ClickHouse as in Postgres. Text is left out (Postgres orders by
/// collation, ClickHouse by bytes), floats too (NaN and -0), and UUIDs
/// (ClickHouse orders them by two 64-bit halves).
pub fn orders_like_postgres(c: &RemoteColumn) -> bool {
    matches!(
        (&c.pg, c.ch.base()),
        (PgKind::Integer | PgKind::Numeric | PgKind::Bool, ChType::Int { .. })
            | (PgKind::Numeric, ChType::Decimal { .. })
            | (PgKind::Date, ChType::Date)
            | (PgKind::Timestamp | PgKind::TimestampTz, ChType::DateTime(_))
    )
}

/// Whether equal values of this column are equal in both systems (GROUP BY,
/// count(DISTINCT)): bytes for text, no floats, no arrays.
pub fn groups_like_postgres(c: &RemoteColumn) -> bool {
    orders_like_postgres(c)
        || matches!(
            (&c.pg, c.ch.base()),
            (PgKind::Text, ChType::String | ChType::FixedString(_) | ChType::Enum) | (PgKind::Uuid, ChType::Uuid)
        )
}

/// An aggregate's ClickHouse expression and how its value is read, when
/// ClickHouse computes exactly what Postgres would. ClickHouse's sum, min
/// and max of no rows are 0, Postgres' NULL: hence the `count(x) = 0` test.
pub fn aggregate(func: AggFunc, distinct: bool, col: Option<&RemoteColumn>) -> Option<(String, ReadAs)> {
    aggregate_keyed(func, distinct, col, false)
}

/// As [`aggregate`]; `keyed`: the query has GROUP BY keys, so every group
/// has a row, and a column that is not Nullable has a value in each: the
/// `count(x) = 0` test (an extra aggregate ClickHouse must compute) is left out.
pub fn aggregate_keyed(func: AggFunc, distinct: bool, col: Option<&RemoteColumn>, keyed: bool) -> Option<(String, ReadAs)> {
    let (c, name) = match col {
        Some(c) => (Some(c), ident(&c.name)),
        None => (None, String::new()),
    };
    let never_empty = keyed && c.is_some_and(|c| !c.ch.is_nullable());
    let empty_is_null = |e: String| if never_empty { e } else { format!("if(count({name}) = 0, NULL, {e})") };
    match (func, distinct, c) {
        (AggFunc::CountStar, false, None) => Some(("count()".into(), ReadAs::Text)),
        (AggFunc::Count, false, Some(_)) => Some((format!("count({name})"), ReadAs::Text)),
        (AggFunc::Count, true, Some(c)) if groups_like_postgres(c) => Some((count_distinct(c), ReadAs::Text)),
        (AggFunc::Sum, false, Some(c)) => match (c.ch.base(), &c.pg) {
            // Integers are summed as Decimal128: Postgres never wraps around.
            (ChType::Int { .. }, PgKind::Integer | PgKind::Numeric) => {
                Some((empty_is_null(format!("sum(toDecimal128({name}, 0))")), ReadAs::Text))
            }
            // ClickHouse sums decimals in Decimal128 and wraps round past 38
            // digits: only columns of at most 18 digits leave the sum 20
            // digits of room (10^20 rows).
            (ChType::Decimal { precision, .. }, PgKind::Numeric) if *precision <= 18 => {
                Some((empty_is_null(format!("sum({name})")), ReadAs::Text))
            }
            _ => None,
        },
        // avg: Postgres divides its exact sum by the count in numeric, at a
        // scale that depends on both; ClickHouse sends both as a tuple
        // `(sum,count)` and the division is done locally with Postgres' own
        // numeric_div; a count of 0 is NULL. Not `toString` of the sum:
        // 18.16 prints a Decimal128 of more than 20 digits with NUL bytes in
        // place of its upper digits (`2\0796...` for 2379...); a tuple's
        // text form prints it as a result column does, exactly. (A tuple
        // cannot be Nullable in 18.16, hence no `if(count(x) = 0, NULL, ...)`.)
        (AggFunc::Avg, false, Some(c)) => {
            let (sum, scale) = match (c.ch.base(), &c.pg) {
                (ChType::Int { .. }, PgKind::Integer | PgKind::Numeric) => (format!("sum(toDecimal128({name}, 0))"), 0),
                (ChType::Decimal { precision, scale }, PgKind::Numeric) if *precision <= 18 => (format!("sum({name})"), *scale),
                _ => return None,
            };
            Some((format!("tuple({sum}, count({name}))"), ReadAs::Average { scale }))
        }
        (AggFunc::Min | AggFunc::Max, false, Some(c)) if orders_like_postgres(c) => {
            let f = if func == AggFunc::Min { "min" } else { "max" };
            match c.read {
                ReadAs::UnixSeconds => Some((empty_is_null(format!("toUnixTimestamp({f}({name}))")), ReadAs::UnixSeconds)),
                read => Some((empty_is_null(format!("{f}({name})")), read)),
            }
        }
        _ => None,
    }
}

/// `count(DISTINCT x)`: ClickHouse's uniqExact of a Nullable column with
/// no value is NULL, Postgres' count 0.
fn count_distinct(c: &RemoteColumn) -> String {
    if c.ch.is_nullable() {
        format!("ifNull(uniqExact({}), 0)", ident(&c.name))
    } else {
        format!("uniqExact({})", ident(&c.name))
    }
}

/// An ORDER BY key: ascending or descending, NULLs where Postgres puts them.
pub fn order_key(expr: &str, descending: bool, nulls_first: bool) -> String {
    format!(
        "{expr} {} NULLS {}",
        if descending { "DESC" } else { "ASC" },
        if nulls_first { "FIRST" } else { "LAST" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::types::read_as;

    fn col(name: &str, ty: &str, pg: PgKind) -> RemoteColumn {
        let ch = ChType::parse(ty);
        let read = read_as(&pg, &ch).unwrap();
        RemoteColumn { name: name.into(), type_name: ty.into(), ch, pg, read }
    }

    fn cols() -> Vec<RemoteColumn> {
        vec![
            col("id", "UInt64", PgKind::Numeric),
            col("name", "Nullable(String)", PgKind::Text),
            col("day", "Date", PgKind::Date),
            col("ts", "DateTime('UTC')", PgKind::TimestampTz),
            col("amount", "Decimal(18, 2)", PgKind::Numeric),
            col("flag", "UInt8", PgKind::Bool),
            col("u", "UUID", PgKind::Uuid),
            col("n", "Nullable(Int32)", PgKind::Integer),
            col("fs", "FixedString(4)", PgKind::Text),
        ]
    }

    fn d(f: Filter, values: Vec<Value>) -> Option<Clause> {
        deparse(&f, &cols(), &values)
    }

    #[test]
    fn ascii_case_mapping_of_strings_only() {
        let lower = |column: usize, op: CmpOp| Filter::FuncCmp { func: ColumnFunc::LowerAscii, column, op, slot: 0 };
        let text = |t: &str| vec![Value::Text(t.into())];
        assert_eq!(d(lower(1, CmpOp::Eq), text("àb")), Some(Clause::exact("lower(`name`) = 'àb'")));
        assert_eq!(d(lower(1, CmpOp::NotEq), text("x")), Some(Clause::exact("lower(`name`) != 'x'")));
        let upper_not = Filter::Not(Box::new(Filter::FuncCmp { func: ColumnFunc::UpperAscii, column: 1, op: CmpOp::Eq, slot: 0 }));
        assert_eq!(d(upper_not, text("X")), Some(Clause::exact("upper(`name`) != 'X'")));
        assert_eq!(d(lower(1, CmpOp::Eq), vec![Value::Null]), Some(Clause::exact("0")));
        // Ranges, FixedString (padding) and non-text columns are not pushed.
        assert_eq!(d(lower(1, CmpOp::Lt), text("x")), None);
        assert_eq!(d(lower(8, CmpOp::Eq), text("ab")), None);
        assert_eq!(d(lower(2, CmpOp::Eq), text("ab")), None);
        let ilike = Filter::FuncLike { func: ColumnFunc::LowerAscii, column: 1, slot: 0, fold_pattern: true };
        assert_eq!(d(ilike.clone(), text("ÀBc%")), Some(Clause::exact("substring(lower(`name`), 1, 4) = 'Àbc'")));
        assert_eq!(d(ilike.clone(), text("AB_")).map(|c| c.exact), Some(false));
        assert_eq!(d(Filter::Not(Box::new(ilike.clone())), text("AB%")), Some(Clause::exact("NOT (substring(lower(`name`), 1, 2) = 'ab')")));
        let lower_like = Filter::FuncLike { func: ColumnFunc::LowerAscii, column: 1, slot: 0, fold_pattern: false };
        assert_eq!(d(lower_like, text("AB%")), Some(Clause::exact("substring(lower(`name`), 1, 2) = 'AB'")));
        assert_eq!(d(ilike, vec![Value::Null]), Some(Clause::exact("0")));
        let slots = [Some(crate::pg::types::Builtin::Text)];
        assert!(exact_for_any_values(&lower(1, CmpOp::Eq), &cols(), &slots));
        assert!(!exact_for_any_values(&lower(8, CmpOp::Eq), &cols(), &slots));
    }

    fn cmp(column: usize, op: CmpOp) -> Filter {
        Filter::Cmp { column, op, slot: 0 }
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a`b\\c"), "`a\\`b\\\\c`");
        assert_eq!(string_literal("it's a \\ \n"), "'it\\'s a \\\\ \\n'");
        assert_eq!(table_name("db", "t t"), "`db`.`t t`");
    }

    #[test]
    fn comparisons() {
        assert_eq!(d(cmp(0, CmpOp::GtEq), vec![Value::Int(5)]), Some(Clause::exact("`id` >= 5")));
        // Outside the column type's range: decided without the column.
        assert_eq!(d(cmp(0, CmpOp::GtEq), vec![Value::Int(-1)]), Some(Clause::exact("1")));
        assert_eq!(d(cmp(0, CmpOp::Lt), vec![Value::Int(-1)]), Some(Clause::exact("0")));
        assert_eq!(d(cmp(7, CmpOp::NotEq), vec![Value::Int(1 << 40)]), Some(Clause::exact("isNotNull(`n`)")));
        assert_eq!(d(cmp(7, CmpOp::Gt), vec![Value::Int(1 << 40)]), Some(Clause::exact("0")));
        assert_eq!(d(cmp(1, CmpOp::Eq), vec![Value::Text("o'k".into())]), Some(Clause::exact("`name` = 'o\\'k'")));
        assert_eq!(
            d(cmp(2, CmpOp::Lt), vec![Value::Date(19_723)]),
            Some(Clause::exact("`day` < toDate('2024-01-01')"))
        );
        // Before ClickHouse's first Date, after its last one.
        assert_eq!(d(cmp(2, CmpOp::Lt), vec![Value::Date(-1)]), Some(Clause::exact("0")));
        assert_eq!(d(cmp(2, CmpOp::Lt), vec![Value::Date(60_000)]), Some(Clause::exact("1")));
        assert_eq!(
            d(cmp(3, CmpOp::Gt), vec![Value::TimestampTz(1_700_000_000_000_000)]),
            Some(Clause::exact("`ts` > toDateTime(1700000000)"))
        );
        // Sub-second values lie between two DateTime values.
        let between = vec![Value::TimestampTz(1_700_000_000_000_001)];
        assert_eq!(d(cmp(3, CmpOp::Gt), between.clone()), Some(Clause::exact("`ts` > toDateTime(1700000000)")));
        assert_eq!(d(cmp(3, CmpOp::GtEq), between.clone()), Some(Clause::exact("`ts` > toDateTime(1700000000)")));
        assert_eq!(d(cmp(3, CmpOp::Lt), between.clone()), Some(Clause::exact("`ts` <= toDateTime(1700000000)")));
        assert_eq!(d(cmp(3, CmpOp::Eq), between), Some(Clause::exact("0")));
        assert_eq!(d(cmp(3, CmpOp::Gt), vec![Value::TimestampTz(-1)]), Some(Clause::exact("1")));
        // Postgres' infinities, as the scan evaluates them for ClickHouse
        // (fdw::params::Infinities::Beyond): beyond every value a column holds.
        assert_eq!(d(cmp(2, CmpOp::Lt), vec![Value::Date(i32::MAX)]), Some(Clause::exact("1")));
        assert_eq!(d(cmp(2, CmpOp::GtEq), vec![Value::Date(i32::MAX)]), Some(Clause::exact("0")));
        assert_eq!(d(cmp(2, CmpOp::Gt), vec![Value::Date(i32::MIN)]), Some(Clause::exact("1")));
        assert_eq!(d(cmp(3, CmpOp::Lt), vec![Value::TimestampTz(i64::MAX)]), Some(Clause::exact("1")));
        assert_eq!(d(cmp(3, CmpOp::Eq), vec![Value::TimestampTz(i64::MAX)]), Some(Clause::exact("0")));
        assert_eq!(d(cmp(3, CmpOp::LtEq), vec![Value::TimestampTz(i64::MIN)]), Some(Clause::exact("0")));
        assert_eq!(d(cmp(3, CmpOp::NotEq), vec![Value::TimestampTz(i64::MIN)]), Some(Clause::exact("1")));
        assert_eq!(d(cmp(4, CmpOp::Lt), vec![Value::Numeric("9".repeat(40))]), Some(Clause::exact("1")));
        assert_eq!(d(cmp(4, CmpOp::Eq), vec![Value::Numeric("9".repeat(40))]), Some(Clause::exact("0")));
        assert_eq!(d(cmp(4, CmpOp::Gt), vec![Value::Numeric(format!("-{}", "9".repeat(40)))]), Some(Clause::exact("1")));
        assert_eq!(
            d(cmp(4, CmpOp::Eq), vec![Value::Numeric("-12.50".into())]),
            Some(Clause::exact("`amount` = toDecimal128('-12.50', 2)"))
        );
        assert_eq!(d(cmp(4, CmpOp::Eq), vec![Value::Numeric("7.000".into())]), Some(Clause::exact("`amount` = 7")));
        // More digits than Decimal(18, 2) holds: between two of its values.
        assert_eq!(
            d(cmp(4, CmpOp::GtEq), vec![Value::Numeric("-0.125".into())]),
            Some(Clause::exact("`amount` > toDecimal128('-0.13', 2)"))
        );
        assert_eq!(
            d(cmp(4, CmpOp::LtEq), vec![Value::Numeric("0.125".into())]),
            Some(Clause::exact("`amount` <= toDecimal128('0.12', 2)"))
        );
        assert_eq!(d(cmp(4, CmpOp::Eq), vec![Value::Numeric("1".repeat(40))]), Some(Clause::exact("0")));
        // Whole numbers past 64 bits would be read as Float64 by ClickHouse.
        let w30 = vec![col("w", "Decimal(30, 8)", PgKind::Numeric)];
        assert_eq!(
            deparse(&cmp(0, CmpOp::GtEq), &w30, &[Value::Numeric("1000000000000000000000".into())]),
            Some(Clause::exact("`w` >= toDecimal128('1000000000000000000000.00000000', 8)"))
        );
        let wide = vec![col("w", "Decimal(38, 0)", PgKind::Numeric)];
        assert_eq!(
            deparse(&cmp(0, CmpOp::Lt), &wide, &[Value::Numeric("-100000000000000000000".into())]),
            Some(Clause::exact("`w` < toDecimal128('-100000000000000000000', 0)"))
        );
        let unsigned = vec![col("big", "UInt64", PgKind::Numeric)];
        assert_eq!(
            deparse(&cmp(0, CmpOp::Gt), &unsigned, &[Value::Numeric("18000000000000000000".into())]),
            Some(Clause::exact("`big` > 18000000000000000000"))
        );
        assert_eq!(d(cmp(4, CmpOp::Lt), vec![Value::Numeric("1".repeat(17))]), Some(Clause::exact("1")));
        assert_eq!(d(cmp(0, CmpOp::Gt), vec![Value::Numeric("2.5".into())]), Some(Clause::exact("`id` > 2")));
        assert_eq!(d(cmp(5, CmpOp::Eq), vec![Value::Bool(true)]), Some(Clause::exact("`flag` = 1")));
        let u = [0x12u8; 16];
        assert_eq!(
            d(cmp(6, CmpOp::Eq), vec![Value::Uuid(u)]),
            Some(Clause::exact("`u` = toUUID('12121212-1212-1212-1212-121212121212')"))
        );
        assert_eq!(d(cmp(6, CmpOp::Lt), vec![Value::Uuid(u)]), None);
        // A comparison with NULL keeps nothing.
        assert_eq!(d(cmp(7, CmpOp::Eq), vec![Value::Null]), Some(Clause::exact("0")));
        // FixedString pads with NUL bytes: text comparisons are not pushed.
        assert_eq!(d(cmp(8, CmpOp::Eq), vec![Value::Text("ab".into())]), None);
        // Type pairs that do not agree are not pushed.
        assert_eq!(d(cmp(1, CmpOp::Eq), vec![Value::Int(1)]), None);
    }

    #[test]
    fn in_lists_and_nulls() {
        let list = |v: Vec<Value>| vec![Value::Array(v)];
        let f = |negated| Filter::InList { column: 7, slot: 0, negated };
        assert_eq!(d(f(false), list(vec![Value::Int(1), Value::Null])), Some(Clause::exact("`n` IN (1)")));
        assert_eq!(d(f(true), list(vec![Value::Int(1), Value::Null])), Some(Clause::exact("0")));
        assert_eq!(
            d(f(true), list(vec![Value::Int(1), Value::Int(2)])),
            Some(Clause::exact("isNotNull(`n`) AND `n` NOT IN (1, 2)"))
        );
        assert_eq!(d(f(false), list(vec![])), Some(Clause::exact("0")));
        assert_eq!(d(f(true), list(vec![])), Some(Clause::exact("1")));
        // The whole array NULL (a generic plan's parameter): NULL, never true.
        assert_eq!(d(f(false), vec![Value::Null]), Some(Clause::exact("0")));
        assert_eq!(d(f(true), vec![Value::Null]), Some(Clause::exact("0")));
        assert_eq!(d(Filter::Not(Box::new(f(false))), vec![Value::Null]), Some(Clause::exact("0")));
        // NOT (x IN ...) is NOT IN, with the guard.
        assert_eq!(
            d(Filter::Not(Box::new(f(false))), list(vec![Value::Int(3)])),
            Some(Clause::exact("isNotNull(`n`) AND `n` NOT IN (3)"))
        );
        let not_null = Filter::Not(Box::new(Filter::IsNull { column: 1, negated: false }));
        assert_eq!(d(not_null, vec![]), Some(Clause::exact("isNotNull(`name`)")));
        let not_cmp_null = Filter::Not(Box::new(cmp(7, CmpOp::Eq)));
        assert_eq!(d(not_cmp_null, vec![Value::Null]), Some(Clause::exact("0")));
        let not_cmp = Filter::Not(Box::new(cmp(7, CmpOp::Lt)));
        assert_eq!(d(not_cmp, vec![Value::Int(4)]), Some(Clause::exact("`n` >= 4")));
        // Values no row can hold drop out of IN and NOT IN lists.
        assert_eq!(d(f(false), list(vec![Value::Int(1 << 40)])), Some(Clause::exact("0")));
        assert_eq!(d(f(true), list(vec![Value::Int(1 << 40)])), Some(Clause::exact("isNotNull(`n`)")));
        assert_eq!(d(f(false), list(vec![Value::Int(1 << 40), Value::Int(2)])), Some(Clause::exact("`n` IN (2)")));
        // Decimal and UUID lists go as comparisons (ClickHouse 18.16 refuses
        // its own typing of IN literals against them).
        let amounts = Filter::InList { column: 4, slot: 0, negated: false };
        let two = list(vec![Value::Numeric("1.5".into()), Value::Numeric("2".into()), Value::Numeric("0.001".into())]);
        assert_eq!(
            d(amounts.clone(), two.clone()),
            Some(Clause::exact("(`amount` = toDecimal128('1.50', 2) OR `amount` = 2)"))
        );
        let not_in = Filter::InList { column: 4, slot: 0, negated: true };
        assert_eq!(d(not_in, two), Some(Clause::exact("`amount` != toDecimal128('1.50', 2) AND `amount` != 2")));
        let uuids = Filter::InList { column: 6, slot: 0, negated: false };
        let ids = list(vec![Value::Uuid([0; 16]), Value::Uuid([1; 16])]);
        assert_eq!(
            d(uuids, ids),
            Some(Clause::exact(
                "(`u` = toUUID('00000000-0000-0000-0000-000000000000') OR `u` = toUUID('01010101-0101-0101-0101-010101010101'))"
            ))
        );
    }

    #[test]
    fn like_is_a_prefix_test() {
        let like = Filter::Like { column: 1, slot: 0 };
        assert_eq!(
            d(like.clone(), vec![Value::Text("ab%".into())]),
            Some(Clause::exact("substring(`name`, 1, 2) = 'ab'"))
        );
        let weaker = d(like.clone(), vec![Value::Text("é_x%".into())]).unwrap();
        assert_eq!(weaker, Clause { sql: "substring(`name`, 1, 2) = 'é'".into(), exact: false });
        assert_eq!(d(like.clone(), vec![Value::Text("%x".into())]), None);
        // NOT over an inexact prefix test would drop rows: not pushed.
        assert_eq!(d(Filter::Not(Box::new(like)), vec![Value::Text("a_".into())]), None);
    }

    #[test]
    fn and_or_keep_the_rules() {
        let and = Filter::And(vec![cmp(0, CmpOp::Gt), Filter::Cmp { column: 1, op: CmpOp::Eq, slot: 1 }]);
        let both = d(and.clone(), vec![Value::Int(5), Value::Text("x".into())]).unwrap();
        assert_eq!(both, Clause::exact("(`id` > 5) AND (`name` = 'x')"));
        // An untranslatable part of an AND is dropped: weaker, not exact.
        let part = d(and, vec![Value::Int(5), Value::Int(1)]).unwrap();
        assert_eq!(part, Clause { sql: "`id` > 5".into(), exact: false });
        // An OR is all or nothing.
        let or = Filter::Or(vec![cmp(0, CmpOp::Gt), Filter::Cmp { column: 1, op: CmpOp::Eq, slot: 1 }]);
        assert_eq!(d(or.clone(), vec![Value::Int(5), Value::Int(1)]), None);
        assert_eq!(
            d(or, vec![Value::Int(5), Value::Text("x".into())]),
            Some(Clause::exact("(`id` > 5) OR (`name` = 'x')"))
        );
    }

    #[test]
    fn selects() {
        let c = cols();
        let s = Select {
            database: "db",
            table: "events",
            exprs: vec![c[0].select_expr(), c[3].select_expr()],
            where_sql: Some("`id` > 1".into()),
            limit: Some(10),
            ..Default::default()
        };
        assert_eq!(s.sql(), "SELECT `id`, toUnixTimestamp(`ts`) FROM `db`.`events` WHERE `id` > 1 LIMIT 10");
        let empty = Select { database: "db", table: "e", ..Default::default() };
        assert_eq!(empty.sql(), "SELECT 1 FROM `db`.`e`");
        let grouped = Select {
            database: "db",
            table: "e",
            exprs: vec!["`name`".into(), "count()".into()],
            group_by: vec!["`name`".into()],
            order_by: vec![order_key("count()", true, false)],
            ..Default::default()
        };
        assert_eq!(grouped.sql(), "SELECT `name`, count() FROM `db`.`e` GROUP BY `name` ORDER BY count() DESC NULLS LAST");
    }

    #[test]
    fn aggregates() {
        let c = cols();
        assert_eq!(aggregate(AggFunc::CountStar, false, None), Some(("count()".into(), ReadAs::Text)));
        // 18.16's uniqExact of only NULLs is NULL: Postgres' count is 0.
        assert_eq!(aggregate(AggFunc::Count, true, Some(&c[1])), Some(("ifNull(uniqExact(`name`), 0)".into(), ReadAs::Text)));
        assert_eq!(aggregate(AggFunc::Count, true, Some(&c[2])), Some(("uniqExact(`day`)".into(), ReadAs::Text)));
        assert_eq!(
            aggregate(AggFunc::Sum, false, Some(&c[0])),
            Some(("if(count(`id`) = 0, NULL, sum(toDecimal128(`id`, 0)))".into(), ReadAs::Text))
        );
        assert_eq!(
            aggregate(AggFunc::Max, false, Some(&c[3])),
            Some(("if(count(`ts`) = 0, NULL, toUnixTimestamp(max(`ts`)))".into(), ReadAs::UnixSeconds))
        );
        assert_eq!(aggregate(AggFunc::Min, false, Some(&c[2])).map(|a| a.1), Some(ReadAs::Date));
        // With GROUP BY keys, no guard for a column that is not Nullable; a Nullable one keeps it.
        assert_eq!(aggregate_keyed(AggFunc::Sum, false, Some(&c[4]), true).map(|a| a.0), Some("sum(`amount`)".into()));
        assert_eq!(
            aggregate_keyed(AggFunc::Max, false, Some(&c[3]), true).map(|a| a.0),
            Some("toUnixTimestamp(max(`ts`))".into())
        );
        assert_eq!(
            aggregate_keyed(AggFunc::Min, false, Some(&c[7]), true).map(|a| a.0),
            Some("if(count(`n`) = 0, NULL, min(`n`))".into())
        );
        // Text min/max depends on the collation; sums of text make no sense.
        assert_eq!(aggregate(AggFunc::Min, false, Some(&c[1])), None);
        assert_eq!(aggregate(AggFunc::Sum, false, Some(&c[1])), None);
        assert_eq!(
            aggregate(AggFunc::Avg, false, Some(&c[0])),
            Some((
                "tuple(sum(toDecimal128(`id`, 0)), count(`id`))".into(),
                ReadAs::Average { scale: 0 }
            ))
        );
        assert_eq!(aggregate(AggFunc::Avg, false, Some(&c[4])).map(|a| a.1), Some(ReadAs::Average { scale: 2 }));
        assert_eq!(aggregate(AggFunc::Avg, true, Some(&c[0])), None);
        // a wide decimal's sum could wrap round in ClickHouse's Decimal128
        let wide = col("w", "Decimal(38, 10)", PgKind::Numeric);
        assert_eq!(aggregate(AggFunc::Sum, false, Some(&wide)), None);
        assert_eq!(aggregate(AggFunc::Avg, false, Some(&wide)), None);
        assert!(aggregate(AggFunc::Sum, false, Some(&col("n", "Decimal(18, 4)", PgKind::Numeric))).is_some());
        assert_eq!(aggregate(AggFunc::Avg, false, Some(&col("f", "Float64", PgKind::Float))), None);
        assert_eq!(aggregate(AggFunc::Sum, true, Some(&c[0])), None);
        let f = col("f", "Float64", PgKind::Float);
        assert_eq!(aggregate(AggFunc::Sum, false, Some(&f)), None);
        assert_eq!(aggregate(AggFunc::Count, true, Some(&f)), None);
        assert!(!groups_like_postgres(&f) && groups_like_postgres(&c[6]) && !orders_like_postgres(&c[6]));
    }

    #[test]
    fn having_clauses() {
        use crate::fdw::upper::Aggregate;
        let c = cols();
        let agg = |func, column| HavingOperand::Aggregate(Aggregate { func, column, expr: None, distinct: false });
        let h = |operand, op, value| having(&Having { operand, op, value }, &c, false);
        assert_eq!(h(agg(AggFunc::CountStar, None), CmpOp::Gt, Value::Int(10)), Some("count() > 10".into()));
        // count is never negative: `count(*) > -1` holds for every group.
        assert_eq!(h(agg(AggFunc::CountStar, None), CmpOp::Gt, Value::Int(-1)), Some("1".into()));
        assert_eq!(h(agg(AggFunc::Count, Some(7)), CmpOp::GtEq, Value::Numeric("2.5".into())), Some("count(`n`) > 2".into()));
        assert_eq!(
            h(agg(AggFunc::Sum, Some(4)), CmpOp::Lt, Value::Numeric("100.125".into())),
            Some("if(count(`amount`) = 0, NULL, sum(`amount`)) <= toDecimal128('100.12', 2)".into())
        );
        assert_eq!(
            h(agg(AggFunc::Sum, Some(0)), CmpOp::NotEq, Value::Numeric("0.5".into())),
            Some("isNotNull(if(count(`id`) = 0, NULL, sum(toDecimal128(`id`, 0))))".into())
        );
        assert_eq!(
            h(agg(AggFunc::Max, Some(3)), CmpOp::GtEq, Value::TimestampTz(1_700_000_000_000_000)),
            Some("if(count(`ts`) = 0, NULL, max(`ts`)) >= toDateTime(1700000000)".into())
        );
        assert_eq!(h(agg(AggFunc::Min, Some(2)), CmpOp::Eq, Value::Null), Some("0".into()));
        assert_eq!(h(HavingOperand::Column(1), CmpOp::Eq, Value::Text("a".into())), Some("`name` = 'a'".into()));
        // Not exact in ClickHouse: avg, text min/max, floats, FixedString keys.
        assert_eq!(h(agg(AggFunc::Avg, Some(0)), CmpOp::Gt, Value::Int(1)), None);
        assert_eq!(h(agg(AggFunc::Min, Some(1)), CmpOp::Gt, Value::Text("a".into())), None);
        assert_eq!(h(HavingOperand::Column(8), CmpOp::Eq, Value::Text("a".into())), None);
        // Under GROUP BY a column that is not Nullable has a value in every group.
        let keyed = |operand, op, value| having(&Having { operand, op, value }, &c, true);
        assert_eq!(keyed(agg(AggFunc::Max, Some(3)), CmpOp::Gt, Value::TimestampTz(0)), Some("max(`ts`) > toDateTime(0)".into()));
        assert_eq!(
            keyed(agg(AggFunc::Sum, Some(7)), CmpOp::Gt, Value::Int(0)),
            Some("if(count(`n`) = 0, NULL, sum(toDecimal128(`n`, 0))) > 0".into())
        );
        let s = Select {
            database: "db",
            table: "e",
            exprs: vec!["`name`".into()],
            group_by: vec!["`name`".into()],
            having: vec!["count() > 1".into(), "count(`n`) > 0".into()],
            ..Default::default()
        };
        assert_eq!(s.sql(), "SELECT `name` FROM `db`.`e` GROUP BY `name` HAVING (count() > 1) AND (count(`n`) > 0)");
    }

    #[test]
    fn exactness_for_any_values() {
        use crate::pg::types::Builtin as B;
        let c = cols();
        let slots = [Some(B::TimestampTz), Some(B::Text), Some(B::Numeric), Some(B::Uuid), Some(B::Float8)];
        let exact = |f: Filter| exact_for_any_values(&f, &c, &slots);
        assert!(exact(Filter::Cmp { column: 3, op: CmpOp::GtEq, slot: 0 }));
        assert!(exact(Filter::And(vec![
            Filter::Cmp { column: 1, op: CmpOp::Eq, slot: 1 },
            Filter::InList { column: 4, slot: 2, negated: true },
            Filter::IsNull { column: 7, negated: false },
        ])));
        assert!(exact(Filter::Cmp { column: 6, op: CmpOp::Eq, slot: 3 }));
        assert!(!exact(Filter::Cmp { column: 6, op: CmpOp::Lt, slot: 3 }));
        assert!(!exact(Filter::Like { column: 1, slot: 1 }));
        assert!(!exact(Filter::Or(vec![Filter::Cmp { column: 3, op: CmpOp::Gt, slot: 0 }, Filter::Like { column: 1, slot: 1 }])));
        // FixedString and float operands are not pushed at all.
        assert!(!exact(Filter::Cmp { column: 8, op: CmpOp::Eq, slot: 1 }));
        assert!(!exact(Filter::Cmp { column: 0, op: CmpOp::Eq, slot: 4 }));
    }

    #[test]
    fn dates() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(19_723), "2024-01-01");
        assert_eq!(date_text(-1), "1969-12-31");
        assert_eq!(date_text(MAX_DATE_DAYS), "2105-12-31");
        assert_eq!(date_text(11_016), "2000-02-29");
    }

    #[test]
    fn date_functions_on_the_utc_wall_clock() {
        use crate::fdw::filter::{DateExpr, DateFunc, DatePart, TruncUnit};
        let ts = col("ts", "DateTime('America/New_York')", PgKind::Timestamp);
        let d = col("d", "Nullable(Date)", PgKind::Date);
        let tz = col("tz", "DateTime", PgKind::TimestampTz);
        let e = |func, column| DateExpr { func, column };
        let day = date_expr_sql(&e(DateFunc::Trunc(TruncUnit::Day), 0), &ts).unwrap();
        assert_eq!(day, ("toInt64(intDiv(toUnixTimestamp(`ts`), 86400) * 86400)".into(), ReadAs::UnixSeconds));
        let week = date_expr_sql(&e(DateFunc::Trunc(TruncUnit::Week), 0), &ts).unwrap().0;
        assert_eq!(week, "toInt64(toUnixTimestamp(`ts`)) - toInt64((toUnixTimestamp(`ts`) + 259200) % 604800)");
        // Calendar units name UTC, and 2106 (past 18.16's date table) is spelled out.
        let year = date_expr_sql(&e(DateFunc::Part(DatePart::Year), 0), &d).unwrap();
        assert_eq!(
            year,
            (
                "toInt64(if(toUnixTimestamp(toDateTime(`d`, 'UTC')) >= 4291747200, 2106, toYear(toDateTime(`d`, 'UTC'), 'UTC')))"
                    .into(),
                ReadAs::Text
            )
        );
        assert_eq!(date_expr_sql(&e(DateFunc::Part(DatePart::Dow), 0), &ts).unwrap().0, "toInt64((intDiv(toUnixTimestamp(`ts`), 86400) + 4) % 7)");
        // timestamptz depends on the session's TimeZone: not pushed.
        assert!(date_expr_sql(&e(DateFunc::Trunc(TruncUnit::Day), 0), &tz).is_none());
        assert!(date_expr_sql(&e(DateFunc::Part(DatePart::Year), 0), &col("s", "String", PgKind::Text)).is_none());
    }

    #[test]
    fn date_comparisons_are_placed_on_whole_seconds() {
        use crate::fdw::filter::{DateExpr, DateFunc, DatePart, TruncUnit};
        let columns = vec![col("ts", "Nullable(DateTime)", PgKind::Timestamp)];
        let cmp = |func, op, v: Value| {
            deparse(&Filter::DateCmp { expr: DateExpr { func, column: 0 }, op, slot: 0 }, &columns, &[v]).unwrap()
        };
        let day = DateFunc::Trunc(TruncUnit::Day);
        let expr = "toInt64(intDiv(toUnixTimestamp(`ts`), 86400) * 86400)";
        // 2024-03-10 12:00:00.5: between two whole seconds.
        let c = cmp(day, CmpOp::LtEq, Value::Timestamp(1_710_072_000_500_000));
        assert_eq!(c, Clause { sql: format!("{expr} <= 1710072000"), exact: true });
        assert_eq!(cmp(day, CmpOp::Eq, Value::Timestamp(1_710_072_000_500_000)).sql, "0");
        assert_eq!(cmp(day, CmpOp::NotEq, Value::Timestamp(1_710_072_000_500_000)).sql, format!("isNotNull({expr})"));
        // Before 1970 (the week of 1970-01-01 starts in 1969), and a date.
        assert_eq!(cmp(day, CmpOp::Gt, Value::Timestamp(-1_500_000)).sql, format!("{expr} > -2"));
        assert_eq!(cmp(day, CmpOp::GtEq, Value::Date(2)).sql, format!("{expr} >= 172800"));
        let year = DateFunc::Part(DatePart::Year);
        assert!(cmp(year, CmpOp::Eq, Value::Numeric("2024".into())).sql.ends_with(" = 2024"));
        assert_eq!(cmp(year, CmpOp::Eq, Value::Numeric("2024.5".into())).sql, "0");
        assert_eq!(cmp(year, CmpOp::Eq, Value::Null).sql, "0");
        // A timestamp against a field, a number against a truncation: not pushed.
        let f = |func, v: Value| deparse(&Filter::DateCmp { expr: DateExpr { func, column: 0 }, op: CmpOp::Eq, slot: 0 }, &columns, &[v]);
        assert!(f(year, Value::Timestamp(0)).is_none());
        assert!(f(day, Value::Int(0)).is_none());
        assert_eq!(micros_as_seconds(-1_500_000), "-1.500000");
        assert_eq!(micros_as_seconds(59_000_001), "59.000001");
    }
}
