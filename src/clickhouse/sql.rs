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
use crate::fdw::filter::{like_prefix, CmpOp, Filter, Value};
use crate::fdw::upper::AggFunc;

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
            Filter::BoolColumn { column, value } => {
                let c = self.columns.get(*column)?;
                matches!(c.ch.base(), ChType::Int { bits: 8, .. })
                    .then(|| Clause::exact(format!("{} = {}", ident(&c.name), if *value { 1 } else { 0 })))
            }
        }
    }

    /// NOT over a leaf, spelled so NULLs behave as in Postgres.
    fn negated(&self, inner: &Filter) -> Option<Clause> {
        match inner {
            Filter::InList { column, slot, negated } => self.in_list(*column, self.values.get(*slot)?, !negated),
            Filter::IsNull { column, negated } => self.clause(&Filter::IsNull { column: *column, negated: !negated }),
            Filter::BoolColumn { column, value } => self.clause(&Filter::BoolColumn { column: *column, value: !value }),
            Filter::Cmp { slot, .. } if matches!(self.values.get(*slot), Some(Value::Null)) => Some(Clause::exact(FALSE)),
            // NOT of a comparison or prefix match: NULL stays NULL in both.
            leaf @ (Filter::Cmp { .. } | Filter::Like { .. }) => {
                let c = self.clause(leaf)?;
                c.exact.then(|| Clause::exact(format!("NOT ({})", c.sql)))
            }
            _ => None,
        }
    }

    fn compare(&self, column: usize, op: CmpOp, value: &Value) -> Option<Clause> {
        if *value == Value::Null {
            // A comparison with NULL is never true.
            return Some(Clause::exact(FALSE));
        }
        let c = self.columns.get(column)?;
        if op.is_range() && matches!(c.ch.base(), ChType::Uuid) {
            // ClickHouse orders UUIDs by their two 64-bit halves, Postgres by bytes.
            return None;
        }
        let lit = literal(c, value)?;
        let sym = match op {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "!=",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        };
        Some(Clause::exact(format!("{} {sym} {lit}", ident(&c.name))))
    }

    fn in_list(&self, column: usize, value: &Value, negated: bool) -> Option<Clause> {
        let c = self.columns.get(column)?;
        let Value::Array(items) = value else { return None };
        let has_null = items.iter().any(|v| *v == Value::Null);
        if negated && has_null {
            // x <> ALL(array with a NULL) is never true.
            return Some(Clause::exact(FALSE));
        }
        let lits: Vec<String> =
            items.iter().filter(|v| **v != Value::Null).map(|v| literal(c, v)).collect::<Option<_>>()?;
        let col = ident(&c.name);
        Some(Clause::exact(match (negated, lits.is_empty()) {
            // x = ANY('{}') is false; x <> ALL('{}') is true, even for NULL x.
            (false, true) => FALSE.to_string(),
            (true, true) => TRUE.to_string(),
            (false, false) => format!("{col} IN ({})", lits.join(", ")),
            (true, false) if c.ch.is_nullable() => format!("isNotNull({col}) AND {col} NOT IN ({})", lits.join(", ")),
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

fn strip_parens(s: &str) -> String {
    s.strip_prefix('(').and_then(|s| s.strip_suffix(')')).unwrap_or(s).to_string()
}

/// Largest Date ClickHouse 18.16 handles in text (2105-12-31), in days.
const MAX_DATE_DAYS: i32 = 49_672;

/// The literal of `value` compared with column `c`, when the comparison
/// means the same in ClickHouse as in Postgres.
fn literal(c: &RemoteColumn, value: &Value) -> Option<String> {
    use ChType as C;
    let base = c.ch.base();
    match (value, base) {
        (Value::Int(i), C::Int { .. } | C::Decimal { .. }) => Some(i.to_string()),
        (Value::Numeric(s), C::Int { .. } | C::Decimal { .. }) => numeric_literal(s),
        (Value::Text(s), C::String) if c.pg == PgKind::Text => Some(string_literal(s)),
        (Value::Bool(b), C::Int { bits: 8, .. }) => Some(if *b { "1" } else { "0" }.to_string()),
        (Value::Date(days), C::Date) if (0..=MAX_DATE_DAYS).contains(days) => {
            Some(format!("toDate({})", string_literal(&date_text(*days))))
        }
        (Value::Timestamp(us) | Value::TimestampTz(us), C::DateTime(_)) => {
            let secs = us.checked_div(1_000_000)?;
            (us % 1_000_000 == 0 && (0..=u32::MAX as i64).contains(&secs)).then(|| format!("toDateTime({secs})"))
        }
        (Value::Uuid(b), C::Uuid) => Some(format!("toUUID({})", string_literal(&uuid::Uuid::from_bytes(*b).to_string()))),
        _ => None,
    }
}

/// A Postgres numeric as a ClickHouse literal: integers as they are, other
/// values as an exact Decimal128 (never a float).
fn numeric_literal(s: &str) -> Option<String> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(i.to_string());
    }
    let digits = s.trim_start_matches('-');
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let int = int.trim_start_matches('0');
    if int.len() + frac.len() > 38 {
        return None;
    }
    let neg = if s.starts_with('-') { "-" } else { "" };
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() {
        return Some(format!("toDecimal128('{neg}{int}', 0)"));
    }
    Some(format!("toDecimal128('{neg}{int}.{frac}', {})", frac.len()))
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
    pub order_by: Vec<String>,
    pub limit: Option<u64>,
}

impl Select<'_> {
    pub fn sql(&self) -> String {
        let list = if self.exprs.is_empty() { "1".to_string() } else { self.exprs.join(", ") };
        let mut sql = format!("SELECT {list} FROM {}", table_name(self.database, self.table));
        if let Some(w) = &self.where_sql {
            sql.push_str(" WHERE ");
            sql.push_str(w);
        }
        if !self.group_by.is_empty() {
            sql.push_str(" GROUP BY ");
            sql.push_str(&self.group_by.join(", "));
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
    let (c, name) = match col {
        Some(c) => (Some(c), ident(&c.name)),
        None => (None, String::new()),
    };
    let empty_is_null = |e: String| format!("if(count({name}) = 0, NULL, {e})");
    match (func, distinct, c) {
        (AggFunc::CountStar, false, None) => Some(("count()".into(), ReadAs::Text)),
        (AggFunc::Count, false, Some(_)) => Some((format!("count({name})"), ReadAs::Text)),
        (AggFunc::Count, true, Some(c)) if groups_like_postgres(c) => Some((format!("uniqExact({name})"), ReadAs::Text)),
        (AggFunc::Sum, false, Some(c)) => match (c.ch.base(), &c.pg) {
            // Integers are summed as Decimal128: Postgres never wraps around.
            (ChType::Int { .. }, PgKind::Integer | PgKind::Numeric) => {
                Some((empty_is_null(format!("sum(toDecimal128({name}, 0))")), ReadAs::Text))
            }
            (ChType::Decimal { .. }, PgKind::Numeric) => Some((empty_is_null(format!("sum({name})")), ReadAs::Text)),
            _ => None,
        },
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
        assert_eq!(d(cmp(0, CmpOp::GtEq), vec![Value::Int(-1)]), Some(Clause::exact("`id` >= -1")));
        assert_eq!(d(cmp(1, CmpOp::Eq), vec![Value::Text("o'k".into())]), Some(Clause::exact("`name` = 'o\\'k'")));
        assert_eq!(
            d(cmp(2, CmpOp::Lt), vec![Value::Date(19_723)]),
            Some(Clause::exact("`day` < toDate('2024-01-01')"))
        );
        // Outside ClickHouse's Date range, or sub-second: not pushed.
        assert_eq!(d(cmp(2, CmpOp::Lt), vec![Value::Date(-1)]), None);
        assert_eq!(
            d(cmp(3, CmpOp::Gt), vec![Value::TimestampTz(1_700_000_000_000_000)]),
            Some(Clause::exact("`ts` > toDateTime(1700000000)"))
        );
        assert_eq!(d(cmp(3, CmpOp::Gt), vec![Value::TimestampTz(1_700_000_000_000_001)]), None);
        assert_eq!(
            d(cmp(4, CmpOp::Eq), vec![Value::Numeric("-12.50".into())]),
            Some(Clause::exact("`amount` = toDecimal128('-12.5', 1)"))
        );
        assert_eq!(d(cmp(4, CmpOp::Eq), vec![Value::Numeric("1".repeat(40))]), None);
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
        // NOT (x IN ...) is NOT IN, with the guard.
        assert_eq!(
            d(Filter::Not(Box::new(f(false))), list(vec![Value::Int(3)])),
            Some(Clause::exact("isNotNull(`n`) AND `n` NOT IN (3)"))
        );
        let not_null = Filter::Not(Box::new(Filter::IsNull { column: 1, negated: false }));
        assert_eq!(d(not_null, vec![]), Some(Clause::exact("isNotNull(`name`)")));
        let not_cmp_null = Filter::Not(Box::new(cmp(7, CmpOp::Eq)));
        assert_eq!(d(not_cmp_null, vec![Value::Null]), Some(Clause::exact("0")));
        let not_cmp = Filter::Not(Box::new(cmp(7, CmpOp::Eq)));
        assert_eq!(d(not_cmp, vec![Value::Int(4)]), Some(Clause::exact("NOT (`n` = 4)")));
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
        assert_eq!(aggregate(AggFunc::Count, true, Some(&c[1])), Some(("uniqExact(`name`)".into(), ReadAs::Text)));
        assert_eq!(
            aggregate(AggFunc::Sum, false, Some(&c[0])),
            Some(("if(count(`id`) = 0, NULL, sum(toDecimal128(`id`, 0)))".into(), ReadAs::Text))
        );
        assert_eq!(
            aggregate(AggFunc::Max, false, Some(&c[3])),
            Some(("if(count(`ts`) = 0, NULL, toUnixTimestamp(max(`ts`)))".into(), ReadAs::UnixSeconds))
        );
        assert_eq!(aggregate(AggFunc::Min, false, Some(&c[2])).map(|a| a.1), Some(ReadAs::Date));
        // Text min/max depends on the collation; sums of text make no sense;
        // avg is numeric in Postgres, a float in ClickHouse.
        assert_eq!(aggregate(AggFunc::Min, false, Some(&c[1])), None);
        assert_eq!(aggregate(AggFunc::Sum, false, Some(&c[1])), None);
        assert_eq!(aggregate(AggFunc::Avg, false, Some(&c[0])), None);
        assert_eq!(aggregate(AggFunc::Sum, true, Some(&c[0])), None);
        let f = col("f", "Float64", PgKind::Float);
        assert_eq!(aggregate(AggFunc::Sum, false, Some(&f)), None);
        assert_eq!(aggregate(AggFunc::Count, true, Some(&f)), None);
        assert!(!groups_like_postgres(&f) && groups_like_postgres(&c[6]) && !orders_like_postgres(&c[6]));
    }

    #[test]
    fn dates() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(19_723), "2024-01-01");
        assert_eq!(date_text(-1), "1969-12-31");
        assert_eq!(date_text(MAX_DATE_DAYS), "2105-12-31");
        assert_eq!(date_text(11_016), "2000-02-29");
    }
}
