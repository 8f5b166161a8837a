//! Column lineage from the shape of an analysed SELECT (pg/lineage.rs copies
//! it out of Postgres' Query tree): for each output column, the base
//! relation columns its values are computed from, followed through
//! subqueries, CTEs, joins, set operations, grouped expressions and
//! sublinks, whether it is a plain copy of one column (`direct`) or computed
//! (`derived`), and the text of the expression that computes it. Plain Rust.

use std::collections::BTreeSet;

use crate::pg::lineage::{Read, Rte, Shape, VarRef};

/// Where one output column comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnLineage {
    /// 1-based, among the output columns.
    pub position: usize,
    pub name: String,
    /// The values are a copy of one base column (through any number of
    /// plain references, and in each branch of a set operation).
    pub direct: bool,
    /// (relation oid, attribute number); attribute 0 is a whole-row
    /// reference (every column).
    pub sources: Vec<(u32, i16)>,
    /// The expression as written, for a derived column.
    pub expression: Option<String>,
}

#[derive(Default)]
struct Found {
    sources: BTreeSet<(u32, i16)>,
    direct: bool,
    /// Where the expression computing the value starts, when plain
    /// references lead to one computed in a subquery or CTE of the same text.
    location: Option<i32>,
}

impl Found {
    fn add(&mut self, other: Found) {
        self.sources.extend(other.sources);
    }
}

/// Guards against a recursive CTE or a malformed shape looping.
const MAX_DEPTH: usize = 64;

/// The lineage of each output column of `shape`, `sql` being the text it
/// was analysed from (for the expressions).
pub fn columns(shape: &Shape, sql: &str) -> Vec<ColumnLineage> {
    let mut out = vec![];
    for (i, t) in shape.targets.iter().enumerate() {
        if t.junk {
            continue;
        }
        let found = output(&[shape], i + 1, 0);
        let location = found.location.unwrap_or(t.location);
        let expression = if found.direct || location < 0 {
            None
        } else {
            // an AS-less alias is known for this level's own target only
            let alias = if location == t.location { t.name.as_str() } else { "" };
            expression_text(sql, location as usize).map(|e| if alias.is_empty() { e } else { strip_alias(e, alias) })
        };
        out.push(ColumnLineage {
            position: out.len() + 1,
            name: t.name.clone(),
            direct: found.direct,
            sources: found.sources.into_iter().collect(),
            expression,
        });
    }
    out
}

/// Output column `resno` of the innermost query of `stack`.
fn output(stack: &[&Shape], resno: usize, depth: usize) -> Found {
    let Some(shape) = stack.last() else { return Found::default() };
    if depth > MAX_DEPTH {
        return Found::default();
    }
    if let Some(branches) = &shape.set_branches {
        // every branch contributes; a copy only if it is one in each
        let mut all = Found { direct: !branches.is_empty(), ..Found::default() };
        for &b in branches {
            if let Some(Rte::Subquery(sub)) = rte(shape, b) {
                let f = output(&push(stack, sub), resno, depth + 1);
                all.direct &= f.direct;
                all.add(f);
            }
        }
        return all;
    }
    let Some(t) = shape.targets.get(resno.wrapping_sub(1)) else { return Found::default() };
    match &t.plain {
        Some(v) => var(stack, v, depth + 1),
        None => Found { location: Some(t.location), ..reads(stack, &t.reads, depth + 1) },
    }
}

/// Everything `reads` read, as a computed value.
fn reads(stack: &[&Shape], reads: &[Read], depth: usize) -> Found {
    let mut all = Found::default();
    for r in reads {
        let f = match r {
            Read::Var(v) => var(stack, v, depth),
            Read::Sub(sub) => every_output(&push(stack, sub), depth + 1),
        };
        all.add(f);
    }
    all.direct = false;
    all
}

fn every_output(stack: &[&Shape], depth: usize) -> Found {
    let mut all = Found::default();
    if let Some(shape) = stack.last() {
        for (i, t) in shape.targets.iter().enumerate() {
            if !t.junk {
                all.add(output(stack, i + 1, depth + 1));
            }
        }
    }
    all
}

fn rte(shape: &Shape, varno: i32) -> Option<&Rte> {
    shape.rtes.get((varno as usize).wrapping_sub(1))
}

fn push<'a>(stack: &[&'a Shape], s: &'a Shape) -> Vec<&'a Shape> {
    let mut v = stack.to_vec();
    v.push(s);
    v
}

fn var(stack: &[&Shape], v: &VarRef, depth: usize) -> Found {
    if depth > MAX_DEPTH || v.levelsup as usize >= stack.len() || v.attno < 0 {
        return Found::default();
    }
    // the query level the reference belongs to, with its own outer levels
    let scope = &stack[..stack.len() - v.levelsup as usize];
    let shape = scope[scope.len() - 1];
    let whole_row = v.attno == 0;
    let mut found = match rte(shape, v.varno) {
        Some(Rte::Relation { oid }) => Found { sources: BTreeSet::from([(*oid, v.attno)]), direct: true, location: None },
        Some(Rte::Subquery(sub)) if whole_row => every_output(&push(scope, sub), depth + 1),
        Some(Rte::Subquery(sub)) => output(&push(scope, sub), v.attno as usize, depth + 1),
        Some(Rte::Alias(cols)) if whole_row => {
            let mut all = Found::default();
            for (_, r) in cols {
                all.add(reads(scope, r, depth + 1));
            }
            all
        }
        Some(Rte::Alias(cols)) => match cols.get(v.attno as usize - 1) {
            Some((true, r)) if r.len() == 1 => match &r[0] {
                Read::Var(inner) => var(scope, inner, depth + 1),
                Read::Sub(_) => reads(scope, r, depth + 1),
            },
            Some((_, r)) => reads(scope, r, depth + 1),
            None => Found::default(),
        },
        Some(Rte::Cte { name, levelsup }) => {
            let up = *levelsup as usize;
            if up >= scope.len() {
                return Found::default();
            }
            let outer = &scope[..scope.len() - up];
            match outer[outer.len() - 1].ctes.iter().find(|(n, _)| n == name) {
                Some((_, cte)) if whole_row => every_output(&push(outer, cte), depth + 1),
                Some((_, cte)) => output(&push(outer, cte), v.attno as usize, depth + 1),
                None => Found::default(),
            }
        }
        Some(Rte::Computed(r)) => reads(scope, r, depth + 1),
        Some(Rte::Other) | None => Found::default(),
    };
    if whole_row {
        found.direct = false;
    }
    found
}

/// The text of the expression that starts at byte `start` of `sql`: up to
/// the first `,`, `)`, `;`, `AS` or clause keyword outside brackets,
/// strings, quoted names and comments.
pub fn expression_text(sql: &str, start: usize) -> Option<String> {
    let b = sql.as_bytes();
    if start >= b.len() || !sql.is_char_boundary(start) {
        return None;
    }
    // an expression in brackets starts at its innermost operand: take the
    // brackets that open before it too (only the expression itself can
    // stand between the target list's SELECT or comma and its start)
    let mut start = start;
    let mut back = start;
    while back > 0 && (b[back - 1] == b'(' || b[back - 1].is_ascii_whitespace()) {
        back -= 1;
        if b[back] == b'(' {
            start = back;
        }
    }
    let mut depth = 0i32;
    let mut i = start;
    let mut end = b.len();
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                i += 1;
                while i < b.len() {
                    if b[i] == c {
                        if i + 1 < b.len() && b[i + 1] == c {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut level = 0;
                while i + 1 < b.len() {
                    if b[i] == b'/' && b[i + 1] == b'*' {
                        level += 1;
                        i += 2;
                    } else if b[i] == b'*' && b[i + 1] == b'/' {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'$' => {
                // a dollar quote: $tag$ ... $tag$
                let tag_end = b[i + 1..].iter().position(|&x| !(x.is_ascii_alphanumeric() || x == b'_'));
                if let Some(n) = tag_end.filter(|&n| b.get(i + 1 + n) == Some(&b'$')) {
                    let tag = &sql[i..i + n + 2];
                    if let Some(close) = sql[i + n + 2..].find(tag) {
                        i = i + n + 2 + close + tag.len();
                        continue;
                    }
                }
            }
            b'(' | b'[' => depth += 1,
            b')' | b']' => {
                if depth == 0 {
                    end = i;
                    break;
                }
                depth -= 1;
            }
            b',' | b';' if depth == 0 => {
                end = i;
                break;
            }
            c if depth == 0 && c.is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1])) => {
                let w_end = i + b[i..].iter().take_while(|&&x| is_word(x)).count();
                let word = sql[i..w_end].to_ascii_lowercase();
                if i > start && ENDS_EXPRESSION.contains(&word.as_str()) {
                    end = i;
                    break;
                }
                i = w_end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let text = sql[start..end.min(b.len())].trim();
    (!text.is_empty()).then(|| collapse_space(text))
}

const ENDS_EXPRESSION: &[&str] = &[
    "as", "from", "into", "where", "group", "having", "window", "order", "limit", "offset", "fetch", "for", "union",
    "intersect", "except",
];

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn collapse_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `sum(x) total` without its AS-less alias.
fn strip_alias(expr: String, name: &str) -> String {
    let lower = expr.to_ascii_lowercase();
    for alias in [name.to_ascii_lowercase(), format!("\"{}\"", name.to_ascii_lowercase())] {
        if let Some(head) = lower.strip_suffix(&alias) {
            if head.ends_with(' ') && head.trim_end().ends_with(|c: char| c == ')' || c.is_alphanumeric() || c == '\'' || c == '"') {
                return expr[..head.trim_end().len()].to_string();
            }
        }
    }
    expr
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::lineage::Target;

    fn v(varno: i32, attno: i16) -> VarRef {
        VarRef { varno, attno, levelsup: 0 }
    }
    fn plain(name: &str, r: VarRef) -> Target {
        Target { name: name.into(), junk: false, plain: Some(r.clone()), reads: vec![Read::Var(r)], location: -1 }
    }
    fn computed(name: &str, reads: Vec<Read>, location: i32) -> Target {
        Target { name: name.into(), junk: false, plain: None, reads, location }
    }
    fn rel(oid: u32) -> Rte {
        Rte::Relation { oid }
    }

    #[test]
    fn direct_and_derived_columns_of_one_table() {
        let sql = "SELECT id, lower(email) AS email FROM t";
        let shape = Shape {
            targets: vec![plain("id", v(1, 1)), computed("email", vec![Read::Var(v(1, 2))], 11)],
            rtes: vec![rel(100)],
            ..Shape::default()
        };
        let cols = columns(&shape, sql);
        assert_eq!(cols[0], ColumnLineage { position: 1, name: "id".into(), direct: true, sources: vec![(100, 1)], expression: None });
        assert!(!cols[1].direct);
        assert_eq!(cols[1].sources, vec![(100, 2)]);
        assert_eq!(cols[1].expression.as_deref(), Some("lower(email)"));
    }

    #[test]
    fn through_a_join_alias_a_subquery_and_a_cte() {
        // WITH c AS (SELECT cid, region FROM customers)
        // SELECT j.region, s.total FROM (SELECT cid, sum(amount) total FROM orders GROUP BY cid) s JOIN c USING (cid) j
        let cte = Shape { targets: vec![plain("cid", v(1, 1)), plain("region", v(1, 3))], rtes: vec![rel(200)], ..Shape::default() };
        let sub = Shape {
            targets: vec![plain("cid", v(1, 2)), computed("total", vec![Read::Var(v(1, 4))], -1)],
            rtes: vec![rel(300)],
            ..Shape::default()
        };
        let shape = Shape {
            targets: vec![plain("region", v(3, 3)), plain("total", v(3, 2))],
            rtes: vec![
                Rte::Subquery(sub),
                Rte::Cte { name: "c".into(), levelsup: 0 },
                // join columns: cid (merged: COALESCE), total, region
                Rte::Alias(vec![
                    (false, vec![Read::Var(v(1, 1)), Read::Var(v(2, 1))]),
                    (true, vec![Read::Var(v(1, 2))]),
                    (true, vec![Read::Var(v(2, 2))]),
                ]),
            ],
            ctes: vec![("c".into(), cte)],
            ..Shape::default()
        };
        let cols = columns(&shape, "");
        assert_eq!((cols[0].direct, cols[0].sources.clone()), (true, vec![(200, 3)]));
        assert_eq!((cols[1].direct, cols[1].sources.clone()), (false, vec![(300, 4)]));
    }

    #[test]
    fn set_operations_union_their_branches() {
        let a = Shape { targets: vec![plain("id", v(1, 1))], rtes: vec![rel(10)], ..Shape::default() };
        let b = Shape { targets: vec![plain("id", v(1, 5))], rtes: vec![rel(11)], ..Shape::default() };
        let c = Shape { targets: vec![computed("id", vec![Read::Var(v(1, 2))], -1)], rtes: vec![rel(12)], ..Shape::default() };
        let two = Shape {
            targets: vec![plain("id", v(1, 1))],
            rtes: vec![Rte::Subquery(a.clone()), Rte::Subquery(b.clone())],
            set_branches: Some(vec![1, 2]),
            ..Shape::default()
        };
        let cols = columns(&two, "");
        assert_eq!((cols[0].direct, cols[0].sources.clone()), (true, vec![(10, 1), (11, 5)]));
        let three = Shape { rtes: vec![Rte::Subquery(a), Rte::Subquery(b), Rte::Subquery(c)], set_branches: Some(vec![1, 2, 3]), ..two };
        let cols = columns(&three, "");
        assert_eq!((cols[0].direct, cols[0].sources.clone()), (false, vec![(10, 1), (11, 5), (12, 2)]));
    }

    #[test]
    fn sublinks_and_outer_references() {
        // SELECT id, (SELECT max(x.v) FROM x WHERE x.id = t.id) FROM t
        let sub = Shape {
            targets: vec![computed("max", vec![Read::Var(v(1, 2))], -1)],
            rtes: vec![rel(20)],
            ..Shape::default()
        };
        // a correlated column in the sublink's output reaches the outer query
        let correlated = Shape {
            targets: vec![computed("y", vec![Read::Var(VarRef { varno: 1, attno: 3, levelsup: 1 })], -1)],
            ..Shape::default()
        };
        let shape = Shape {
            targets: vec![plain("id", v(1, 1)), computed("m", vec![Read::Sub(sub), Read::Sub(correlated)], -1)],
            rtes: vec![rel(21)],
            ..Shape::default()
        };
        let cols = columns(&shape, "");
        assert_eq!((cols[1].direct, cols[1].sources.clone()), (false, vec![(20, 2), (21, 3)]));
    }

    #[test]
    fn whole_rows_junk_and_system_columns() {
        let shape = Shape {
            targets: vec![
                plain("t", v(1, 0)),
                plain("ctid", v(1, -1)),
                Target { junk: true, ..plain("hidden", v(1, 2)) },
                plain("x", v(1, 3)),
            ],
            rtes: vec![rel(5)],
            ..Shape::default()
        };
        let cols = columns(&shape, "");
        assert_eq!(cols.len(), 3);
        assert_eq!((cols[0].direct, cols[0].sources.clone()), (false, vec![(5, 0)]));
        assert!(cols[1].sources.is_empty());
        assert_eq!((cols[2].position, cols[2].name.as_str()), (3, "x"));
    }

    #[test]
    fn a_recursive_cte_ends() {
        // WITH RECURSIVE r AS (SELECT n FROM base UNION ALL SELECT n FROM r) SELECT n FROM r
        let base = Shape { targets: vec![plain("n", v(1, 1))], rtes: vec![rel(7)], ..Shape::default() };
        let again = Shape {
            targets: vec![plain("n", v(1, 1))],
            rtes: vec![Rte::Cte { name: "r".into(), levelsup: 1 }],
            ..Shape::default()
        };
        let r = Shape {
            targets: vec![plain("n", v(1, 1))],
            rtes: vec![Rte::Subquery(base), Rte::Subquery(again)],
            set_branches: Some(vec![1, 2]),
            ..Shape::default()
        };
        let shape = Shape {
            targets: vec![plain("n", v(1, 1))],
            rtes: vec![Rte::Cte { name: "r".into(), levelsup: 0 }],
            ctes: vec![("r".into(), r)],
            ..Shape::default()
        };
        let cols = columns(&shape, "");
        assert_eq!(cols[0].sources, vec![(7, 1)]);
    }

    #[test]
    fn an_expression_computed_in_a_cte_is_shown_where_it_is_written() {
        // WITH o AS (SELECT amount * 2 AS x FROM t) SELECT x FROM o
        let sql = "WITH o AS (SELECT amount * 2 AS x FROM t) SELECT x FROM o";
        let cte = Shape { targets: vec![computed("x", vec![Read::Var(v(1, 3))], 18)], rtes: vec![rel(9)], ..Shape::default() };
        let shape = Shape {
            targets: vec![Target { location: 49, ..plain("x", v(1, 1)) }],
            rtes: vec![Rte::Cte { name: "o".into(), levelsup: 0 }],
            ctes: vec![("o".into(), cte)],
            ..Shape::default()
        };
        let cols = columns(&shape, sql);
        assert_eq!((cols[0].direct, cols[0].expression.as_deref()), (false, Some("amount * 2")));
    }

    #[test]
    fn expression_extent() {
        let sql = "SELECT sum(amount) AS total, lower(\"E,mail\") e, 'a,b' || x FROM t";
        assert_eq!(expression_text(sql, 7).as_deref(), Some("sum(amount)"));
        assert_eq!(expression_text(sql, 29).map(|e| strip_alias(e, "e")).as_deref(), Some("lower(\"E,mail\")"));
        assert_eq!(expression_text(sql, 48).as_deref(), Some("'a,b' || x"));
        let sql = "SELECT CASE WHEN a > 1 THEN 'x' ELSE $q$)$q$ END\n  /* c, d */ FROM t";
        assert_eq!(expression_text(sql, 7).as_deref(), Some("CASE WHEN a > 1 THEN 'x' ELSE $q$)$q$ END /* c, d */"));
        let sql = "SELECT (SELECT max(v) FROM x) AS m, y FROM t";
        assert_eq!(expression_text(sql, 7).as_deref(), Some("(SELECT max(v) FROM x)"));
        assert_eq!(expression_text(sql, 1000), None);
        // Postgres reports a bracketed expression at its first operand
        let sql = "SELECT ( (a + b) * c) AS x, (d) FROM t";
        assert_eq!(expression_text(sql, 10).as_deref(), Some("( (a + b) * c)"));
        assert_eq!(expression_text(sql, 29).as_deref(), Some("(d)"));
        // a column named like a keyword prefix is not cut
        let sql = "SELECT fromage + 1 FROM t";
        assert_eq!(expression_text(sql, 7).as_deref(), Some("fromage + 1"));
    }
}
