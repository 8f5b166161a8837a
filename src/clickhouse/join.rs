//! Joins of two ClickHouse tables computed by ClickHouse. Pure logic: no
//! pgrx.
//!
//! What ClickHouse 18.16 needs for Postgres' answer (each checked against
//! the server, see tests/test_clickhouse_joins.py):
//! - `ALL` strictness for inner and outer joins (`ANY` keeps one match per
//!   row); `ANY INNER JOIN` for a semi join (each outer row once), and
//!   `ANY LEFT JOIN` keeping the rows whose inner marker is NULL for an anti
//!   join;
//! - `USING` over keys computed under the same alias on both sides: 18.16's
//!   `JOIN ... ON` returns wrong columns, and `USING` needs one name;
//! - `join_use_nulls = 1` (sent with the request): otherwise a row without a
//!   match gets the other side's default values (0, '') instead of NULLs;
//! - NULL keys: 18.16 drops a right-side row whose key is NULL from RIGHT
//!   and FULL joins, and NULL must never equal NULL. Each nullable key
//!   travels as two keys: a tag (0 for a value, 1 for a NULL on the left, 2
//!   on the right: NULLs never match each other) and the value with NULL
//!   replaced by the type's default (`assumeNotNull`, which only ever meets
//!   a tag of 0 on the other side when the tag is 0);
//! - keys of the same ClickHouse type on both sides (18.16 refuses others)
//!   whose equality is Postgres' (see `sql::groups_like_postgres`).
//! Each side is a subquery with its own pushed WHERE, which must keep
//! exactly Postgres' rows: nothing is re-checked after a pushed join.

use serde::{Deserialize, Serialize};

use super::remote::LocalColumn;
use super::sql::{self, RemoteColumn};
use super::types::{ChType, PgKind};
use crate::fdw::filter::{Filter, Value};
use crate::fdw::join::{JoinKind, JoinQuery, JoinSide};

/// Aliases townlake gives the subqueries' columns start with this; a
/// table with a column named so is not joined remotely (an alias would
/// shadow it).
pub const ALIAS_PREFIX: &str = "__townlake_";

/// Set on every inner row of an anti join: NULL after the join means "no match".
const ANTI_MARKER: &str = "__townlake_m";

/// The inner (right) side of a join and how the two subqueries look.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChJoin {
    pub kind: JoinKind,
    pub database: String,
    pub table: String,
    /// The inner table's columns (indexes of `filter` refer to these).
    pub columns: Vec<LocalColumn>,
    pub filter: Option<Filter>,
    /// The inner filter's operand values start at this index.
    pub inner_offset: usize,
    /// The SELECT lists of the outer and inner subqueries.
    pub outer_exprs: Vec<String>,
    pub inner_exprs: Vec<String>,
    /// The key aliases both subqueries share (none: a cross join).
    pub using: Vec<String>,
}

fn non_nullable_name(type_name: &str) -> &str {
    type_name.strip_prefix("Nullable(").and_then(|t| t.strip_suffix(')')).unwrap_or(type_name)
}

/// Whether `a = b` in Postgres is equality of the two ClickHouse columns.
pub fn key_pair_ok(a: &RemoteColumn, b: &RemoteColumn) -> bool {
    let plain = |c: &RemoteColumn| {
        sql::groups_like_postgres(c) && !matches!(c.ch, ChType::LowCardinality(_)) && !c.name.starts_with(ALIAS_PREFIX)
    };
    // Booleans stored as UInt8: Postgres reads 2 as true (= 1), ClickHouse
    // compares the numbers.
    a.pg == b.pg
        && a.pg != PgKind::Bool
        && plain(a)
        && plain(b)
        && non_nullable_name(&a.type_name) == non_nullable_name(&b.type_name)
}

/// Whether a column may be among a join's outputs on `side`: a NULL-extended
/// side's values become `Nullable`, which arrays cannot be.
pub fn output_ok(c: &RemoteColumn, kind: JoinKind, side: JoinSide) -> bool {
    !c.name.starts_with(ALIAS_PREFIX) && !(kind.nulls_side(side) && matches!(c.ch.base(), ChType::Array(_)))
}

/// The ClickHouse type the result header names for a plain column's
/// values on `side` (None: not checked, as for timestamps read as seconds).
pub fn output_type(c: &RemoteColumn, kind: JoinKind, side: JoinSide, plain_check: Option<String>) -> Option<String> {
    let t = plain_check?;
    if kind.nulls_side(side) && !c.ch.is_nullable() {
        Some(format!("Nullable({t})"))
    } else {
        Some(t)
    }
}

/// The alias of output column `index` of `side`.
pub fn output_alias(side: JoinSide, index: usize) -> String {
    match side {
        JoinSide::Outer => format!("{ALIAS_PREFIX}o{index}"),
        JoinSide::Inner => format!("{ALIAS_PREFIX}i{index}"),
    }
}

/// The two subqueries' SELECT lists and the USING list for `query`:
/// (outer exprs, inner exprs, using).
pub fn select_lists(
    query: &JoinQuery,
    outer: &[RemoteColumn],
    inner: &[RemoteColumn],
) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
    select_lists_with(query, outer, inner, false)
}

/// As [`select_lists`]; `raw`: the outputs are the columns' own values
/// (an upper layer over the join reads them with its own expressions),
/// not what a scan selects for them.
pub fn select_lists_with(
    query: &JoinQuery,
    outer: &[RemoteColumn],
    inner: &[RemoteColumn],
    raw: bool,
) -> Option<(Vec<String>, Vec<String>, Vec<String>)> {
    // ClickHouse's outer joins need keys (USING); only an inner join may be a cross join.
    if query.keys.is_empty() && query.kind != JoinKind::Inner {
        return None;
    }
    let semi_or_anti = matches!(query.kind, JoinKind::Semi | JoinKind::Anti);
    if semi_or_anti && query.outputs.iter().any(|(side, _)| *side == JoinSide::Inner) {
        return None;
    }
    let (mut o, mut i, mut using) = (Vec::new(), Vec::new(), Vec::new());
    for (k, (oc, ic)) in query.keys.iter().enumerate() {
        let (a, b) = (outer.get(*oc)?, inner.get(*ic)?);
        if !key_pair_ok(a, b) {
            return None;
        }
        if a.ch.is_nullable() || b.ch.is_nullable() {
            let tag = format!("{ALIAS_PREFIX}n{k}");
            let tagged = |c: &RemoteColumn, null_tag: u8| {
                if c.ch.is_nullable() {
                    format!("if(isNull({}), toUInt8({null_tag}), toUInt8(0)) AS {}", sql::ident(&c.name), sql::ident(&tag))
                } else {
                    format!("toUInt8(0) AS {}", sql::ident(&tag))
                }
            };
            o.push(tagged(a, 1));
            i.push(tagged(b, 2));
            using.push(sql::ident(&tag));
        }
        let key = format!("{ALIAS_PREFIX}k{k}");
        let value = |c: &RemoteColumn| {
            if c.ch.is_nullable() {
                format!("assumeNotNull({}) AS {}", sql::ident(&c.name), sql::ident(&key))
            } else {
                format!("{} AS {}", sql::ident(&c.name), sql::ident(&key))
            }
        };
        o.push(value(a));
        i.push(value(b));
        using.push(sql::ident(&key));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (side, index) in &query.outputs {
        if !seen.insert((*side == JoinSide::Outer, *index)) {
            continue;
        }
        let c = match side {
            JoinSide::Outer => outer.get(*index)?,
            JoinSide::Inner => inner.get(*index)?,
        };
        if !output_ok(c, query.kind, *side) {
            return None;
        }
        let value = if raw { sql::ident(&c.name) } else { c.select_expr() };
        let expr = format!("{value} AS {}", sql::ident(&output_alias(*side, *index)));
        match side {
            JoinSide::Outer => o.push(expr),
            JoinSide::Inner => i.push(expr),
        }
    }
    // An anti join keeps the rows whose marker came out NULL (no match).
    if query.kind == JoinKind::Anti {
        i.push(format!("toUInt8(1) AS {}", sql::ident(ANTI_MARKER)));
    }
    // A side the join reads nothing from still needs a column.
    if o.is_empty() {
        o.push(format!("1 AS {}", sql::ident(&format!("{ALIAS_PREFIX}o"))));
    }
    if i.is_empty() {
        i.push(format!("1 AS {}", sql::ident(&format!("{ALIAS_PREFIX}i"))));
    }
    Some((o, i, using))
}

/// The joined row's columns as an upper layer over the join sees them
/// (aggregates, GROUP BY, ORDER BY computed over the join's subquery):
/// the outer side's columns, then the inner side's, each under its output
/// alias, and `Nullable` on a NULL-extended side (`join_use_nulls`), so
/// that empty sums, min and max there come out NULL as in Postgres.
pub fn joined_columns(kind: JoinKind, outer: &[LocalColumn], inner: &[LocalColumn]) -> Vec<LocalColumn> {
    let side = |s: JoinSide, cols: &[LocalColumn], offset: usize| -> Vec<LocalColumn> {
        cols.iter()
            .enumerate()
            .map(|(i, c)| {
                let mut remote = c.remote.clone();
                remote.name = output_alias(s, i);
                if kind.nulls_side(s) && !remote.ch.is_nullable() {
                    remote.type_name = format!("Nullable({})", remote.type_name);
                    remote.ch = ChType::Nullable(Box::new(remote.ch.clone()));
                }
                LocalColumn { remote, index: offset + i, ..c.clone() }
            })
            .collect()
    };
    let mut all = side(JoinSide::Outer, outer, 0);
    all.extend(side(JoinSide::Inner, inner, outer.len()));
    all
}

/// Which side and column joined column `index` (of [`joined_columns`]) is.
pub fn joined_source(index: usize, outer_len: usize) -> (JoinSide, usize) {
    if index < outer_len {
        (JoinSide::Outer, index)
    } else {
        (JoinSide::Inner, index - outer_len)
    }
}

/// The join's SQL: `SELECT outputs FROM (outer) ALL <kind> JOIN (inner)
/// USING (keys)`. `outer_where`/`inner_where`: each side's deparsed WHERE.
pub fn join_sql(
    join: &ChJoin,
    outputs: &[String],
    outer_database: &str,
    outer_table: &str,
    outer_where: Option<String>,
    inner_where: Option<String>,
) -> String {
    let sub = |database: &str, table: &str, exprs: &[String], where_sql: Option<String>| {
        sql::Select { database, table, exprs: exprs.to_vec(), where_sql, ..Default::default() }.sql()
    };
    let outer = sub(outer_database, outer_table, &join.outer_exprs, outer_where);
    let inner = sub(&join.database, &join.table, &join.inner_exprs, inner_where);
    let list = if outputs.is_empty() { "1".to_string() } else { outputs.join(", ") };
    let how = match (join.kind, join.using.is_empty()) {
        (JoinKind::Inner, true) => "CROSS JOIN",
        (JoinKind::Inner, false) => "ALL INNER JOIN",
        (JoinKind::Left, _) => "ALL LEFT JOIN",
        (JoinKind::Right, _) => "ALL RIGHT JOIN",
        (JoinKind::Full, _) => "ALL FULL JOIN",
        // ANY: each outer row once, with any one match.
        (JoinKind::Semi, _) => "ANY INNER JOIN",
        (JoinKind::Anti, _) => "ANY LEFT JOIN",
    };
    let using = if join.using.is_empty() { String::new() } else { format!(" USING ({})", join.using.join(", ")) };
    let anti = if join.kind == JoinKind::Anti { format!(" WHERE isNull({})", sql::ident(ANTI_MARKER)) } else { String::new() };
    format!("SELECT {list} FROM ({outer}) {how} ({inner}){using}{anti}")
}

/// Each side's WHERE for operand `values` (outer's first, then inner's):
/// (outer, inner, both exact).
pub fn deparse_sides(
    outer_filter: Option<&Filter>,
    outer: &[RemoteColumn],
    join: &ChJoin,
    values: Option<&[Value]>,
) -> (Option<String>, Option<String>, bool) {
    let inner: Vec<RemoteColumn> = join.columns.iter().map(|c| c.remote.clone()).collect();
    let side = |f: Option<&Filter>, cols: &[RemoteColumn], v: Option<&[Value]>| match (f, v) {
        (None, _) => (None, true),
        (Some(f), Some(v)) => match sql::deparse(f, cols, v) {
            Some(c) => (Some(c.sql), c.exact),
            None => (None, false),
        },
        (Some(_), None) => (None, false),
    };
    let (ov, iv) = match values {
        Some(v) if v.len() >= join.inner_offset => (Some(&v[..join.inner_offset]), Some(&v[join.inner_offset..])),
        _ => (None, None),
    };
    let (ow, oe) = side(outer_filter, outer, ov);
    let (iw, ie) = side(join.filter.as_ref(), &inner, iv);
    (ow, iw, oe && ie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::types::ReadAs;

    fn col(name: &str, ty: &str, pg: PgKind) -> RemoteColumn {
        RemoteColumn { name: name.into(), type_name: ty.into(), ch: ChType::parse(ty), pg, read: ReadAs::Text }
    }

    fn query(kind: JoinKind, keys: Vec<(usize, usize)>, outputs: Vec<(JoinSide, usize)>) -> JoinQuery {
        JoinQuery { kind, keys, outputs, outer_varno: 1, inner_varno: 2 }
    }

    fn join(kind: JoinKind, lists: (Vec<String>, Vec<String>, Vec<String>)) -> ChJoin {
        ChJoin {
            kind,
            database: "db".into(),
            table: "b".into(),
            columns: Vec::new(),
            filter: None,
            inner_offset: 0,
            outer_exprs: lists.0,
            inner_exprs: lists.1,
            using: lists.2,
        }
    }

    #[test]
    fn keys_need_equal_types_with_postgres_equality() {
        let i32c = col("k", "Int32", PgKind::Integer);
        assert!(key_pair_ok(&i32c, &col("x", "Nullable(Int32)", PgKind::Integer)));
        // 18.16 refuses Int32 = UInt32; Postgres kinds must match too.
        assert!(!key_pair_ok(&i32c, &col("x", "UInt32", PgKind::Integer)));
        assert!(!key_pair_ok(&col("f", "Float64", PgKind::Float), &col("g", "Float64", PgKind::Float)));
        assert!(key_pair_ok(&col("s", "String", PgKind::Text), &col("t", "String", PgKind::Text)));
        assert!(!key_pair_ok(&col("__townlake_k0", "String", PgKind::Text), &col("t", "String", PgKind::Text)));
        assert!(!key_pair_ok(&col("b", "UInt8", PgKind::Bool), &col("c", "UInt8", PgKind::Bool)));
    }

    #[test]
    fn nullable_keys_get_tags_that_never_match_each_other() {
        let outer = vec![col("k", "Nullable(Int32)", PgKind::Integer), col("s", "String", PgKind::Text)];
        let inner = vec![col("k", "Int32", PgKind::Integer), col("v", "Int64", PgKind::Integer)];
        let q = query(JoinKind::Full, vec![(0, 0)], vec![(JoinSide::Outer, 1), (JoinSide::Inner, 1), (JoinSide::Outer, 1)]);
        let lists = select_lists(&q, &outer, &inner).unwrap();
        assert_eq!(
            lists.0,
            vec![
                "if(isNull(`k`), toUInt8(1), toUInt8(0)) AS `__townlake_n0`",
                "assumeNotNull(`k`) AS `__townlake_k0`",
                "`s` AS `__townlake_o1`",
            ]
        );
        assert_eq!(lists.1, vec!["toUInt8(0) AS `__townlake_n0`", "`k` AS `__townlake_k0`", "`v` AS `__townlake_i1`"]);
        let j = join(JoinKind::Full, lists);
        let outs = vec!["`__townlake_o1`".to_string(), "`__townlake_i1`".to_string()];
        assert_eq!(
            join_sql(&j, &outs, "db", "a", Some("`s` = 'x'".into()), None),
            "SELECT `__townlake_o1`, `__townlake_i1` FROM (SELECT if(isNull(`k`), toUInt8(1), toUInt8(0)) AS `__townlake_n0`, \
             assumeNotNull(`k`) AS `__townlake_k0`, `s` AS `__townlake_o1` FROM `db`.`a` WHERE `s` = 'x') ALL FULL JOIN \
             (SELECT toUInt8(0) AS `__townlake_n0`, `k` AS `__townlake_k0`, `v` AS `__townlake_i1` FROM `db`.`b`) \
             USING (`__townlake_n0`, `__townlake_k0`)"
        );
    }

    #[test]
    fn cross_join_and_empty_sides() {
        let outer = vec![col("a", "Int32", PgKind::Integer)];
        let inner = vec![col("b", "Int32", PgKind::Integer)];
        // Outer joins need a key.
        assert!(select_lists(&query(JoinKind::Left, vec![], vec![]), &outer, &inner).is_none());
        assert!(select_lists(&query(JoinKind::Full, vec![], vec![]), &outer, &inner).is_none());
        let q = query(JoinKind::Inner, vec![], vec![]);
        let j = join(JoinKind::Inner, select_lists(&q, &outer, &inner).unwrap());
        assert_eq!(
            join_sql(&j, &[], "db", "a", None, None),
            "SELECT 1 FROM (SELECT 1 AS `__townlake_o` FROM `db`.`a`) CROSS JOIN (SELECT 1 AS `__townlake_i` FROM `db`.`b`)"
        );
    }

    #[test]
    fn arrays_stay_off_null_extended_sides() {
        let outer = vec![col("a", "Int32", PgKind::Integer), col("arr", "Array(Int32)", PgKind::Array(Box::new(PgKind::Integer)))];
        let inner = vec![col("a", "Int32", PgKind::Integer), col("arr", "Array(Int32)", PgKind::Array(Box::new(PgKind::Integer)))];
        let left = query(JoinKind::Left, vec![(0, 0)], vec![(JoinSide::Outer, 1)]);
        assert!(select_lists(&left, &outer, &inner).is_some());
        let left_inner = query(JoinKind::Left, vec![(0, 0)], vec![(JoinSide::Inner, 1)]);
        assert!(select_lists(&left_inner, &outer, &inner).is_none());
    }

    #[test]
    fn output_types_of_null_extended_sides() {
        let c = col("s", "String", PgKind::Text);
        assert_eq!(output_type(&c, JoinKind::Left, JoinSide::Inner, Some("String".into())).as_deref(), Some("Nullable(String)"));
        assert_eq!(output_type(&c, JoinKind::Left, JoinSide::Outer, Some("String".into())).as_deref(), Some("String"));
        let n = col("s", "Nullable(String)", PgKind::Text);
        assert_eq!(
            output_type(&n, JoinKind::Full, JoinSide::Outer, Some("Nullable(String)".into())).as_deref(),
            Some("Nullable(String)")
        );
        assert_eq!(output_type(&c, JoinKind::Full, JoinSide::Outer, None), None);
    }

    #[test]
    fn sides_split_operand_values() {
        let mut j = join(JoinKind::Inner, (vec![], vec![], vec![]));
        j.inner_offset = 1;
        j.columns = Vec::new();
        let outer = vec![col("a", "Int32", PgKind::Integer)];
        let f = Filter::Cmp { column: 0, op: crate::fdw::filter::CmpOp::Eq, slot: 0 };
        let (ow, iw, exact) = deparse_sides(Some(&f), &outer, &j, Some(&[Value::Int(5), Value::Int(7)]));
        assert_eq!(ow.as_deref(), Some("`a` = 5"));
        assert_eq!(iw, None);
        assert!(exact);
        let (_, _, exact) = deparse_sides(Some(&f), &outer, &j, None);
        assert!(!exact);
    }
}

#[cfg(test)]
mod upper_tests {
    use super::*;
    use crate::clickhouse::types::ReadAs;

    fn local(name: &str, ty: &str, index: usize) -> LocalColumn {
        LocalColumn {
            remote: RemoteColumn { name: name.into(), type_name: ty.into(), ch: ChType::parse(ty), pg: PgKind::Integer, read: ReadAs::Text },
            index,
            attnum: index as i16 + 1,
            type_oid: 20,
            typmod: -1,
            local_name: name.into(),
        }
    }

    #[test]
    fn joined_columns_are_nullable_on_null_extended_sides() {
        let outer = vec![local("k", "Int32", 0), local("v", "Nullable(Int64)", 1)];
        let inner = vec![local("k", "Int32", 0), local("w", "Int64", 1)];
        let left = joined_columns(JoinKind::Left, &outer, &inner);
        let names: Vec<(&str, &str, usize)> =
            left.iter().map(|c| (c.remote.name.as_str(), c.remote.type_name.as_str(), c.index)).collect();
        assert_eq!(
            names,
            vec![
                ("__townlake_o0", "Int32", 0),
                ("__townlake_o1", "Nullable(Int64)", 1),
                ("__townlake_i0", "Nullable(Int32)", 2),
                ("__townlake_i1", "Nullable(Int64)", 3),
            ]
        );
        assert!(left[3].remote.ch.is_nullable() && !left[0].remote.ch.is_nullable());
        let full = joined_columns(JoinKind::Full, &outer, &inner);
        assert!(full.iter().all(|c| c.remote.ch.is_nullable()));
        let inner_join = joined_columns(JoinKind::Inner, &outer, &inner);
        assert_eq!(inner_join[3].remote.type_name, "Int64");
        assert_eq!(joined_source(1, 2), (JoinSide::Outer, 1));
        assert_eq!(joined_source(3, 2), (JoinSide::Inner, 1));
    }

    #[test]
    fn raw_outputs_for_an_upper_layer() {
        let outer = vec![local("ts", "DateTime", 0).remote, local("k", "Int32", 1).remote];
        let mut ts = outer[0].clone();
        ts.read = ReadAs::UnixSeconds;
        let outer = vec![ts, outer[1].clone()];
        let inner = vec![local("k", "Int32", 0).remote];
        let q = JoinQuery { kind: JoinKind::Inner, keys: vec![(1, 0)], outputs: vec![(JoinSide::Outer, 0)], outer_varno: 1, inner_varno: 2 };
        // A scan reads timestamps as seconds; an upper layer gets the values.
        assert_eq!(select_lists(&q, &outer, &inner).unwrap().0[1], "toUnixTimestamp(`ts`) AS `__townlake_o0`");
        assert_eq!(select_lists_with(&q, &outer, &inner, true).unwrap().0[1], "`ts` AS `__townlake_o0`");
    }
}

#[cfg(test)]
mod semi_tests {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn semi_and_anti_joins_return_outer_columns_once() {
        let outer = vec![col("k", "Int32"), col("s", "String")];
        let inner = vec![col("k", "Int32"), col("v", "String")];
        let semi = JoinQuery { kind: JoinKind::Semi, keys: vec![(0, 0)], outputs: vec![(JoinSide::Outer, 1)], outer_varno: 1, inner_varno: 2 };
        let lists = select_lists(&semi, &outer, &inner).unwrap();
        let j = chjoin(JoinKind::Semi, lists);
        assert_eq!(
            join_sql(&j, &["`__townlake_o1`".to_string()], "db", "a", None, None),
            "SELECT `__townlake_o1` FROM (SELECT `k` AS `__townlake_k0`, `s` AS `__townlake_o1` FROM `db`.`a`) ANY INNER JOIN \
             (SELECT `k` AS `__townlake_k0` FROM `db`.`b`) USING (`__townlake_k0`)"
        );
        let anti = JoinQuery { kind: JoinKind::Anti, ..semi.clone() };
        let j = chjoin(JoinKind::Anti, select_lists(&anti, &outer, &inner).unwrap());
        assert_eq!(
            join_sql(&j, &["`__townlake_o1`".to_string()], "db", "a", None, None),
            "SELECT `__townlake_o1` FROM (SELECT `k` AS `__townlake_k0`, `s` AS `__townlake_o1` FROM `db`.`a`) ANY LEFT JOIN \
             (SELECT `k` AS `__townlake_k0`, toUInt8(1) AS `__townlake_m` FROM `db`.`b`) USING (`__townlake_k0`) \
             WHERE isNull(`__townlake_m`)"
        );
        // Inner columns do not exist above a semi join.
        let bad = JoinQuery { outputs: vec![(JoinSide::Inner, 1)], ..semi };
        assert!(select_lists(&bad, &outer, &inner).is_none());
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::clickhouse::types::ReadAs;

    pub fn col(name: &str, ty: &str) -> RemoteColumn {
        let pg = if ty == "String" { PgKind::Text } else { PgKind::Integer };
        RemoteColumn { name: name.into(), type_name: ty.into(), ch: ChType::parse(ty), pg, read: ReadAs::Text }
    }

    pub fn chjoin(kind: JoinKind, lists: (Vec<String>, Vec<String>, Vec<String>)) -> ChJoin {
        ChJoin {
            kind,
            database: "db".into(),
            table: "b".into(),
            columns: Vec::new(),
            filter: None,
            inner_offset: 0,
            outer_exprs: lists.0,
            inner_exprs: lists.1,
            using: lists.2,
        }
    }
}
