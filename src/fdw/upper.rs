//! Upper-path scaffolding (aggregates, GROUP BY, ORDER BY, LIMIT over one
//! foreign relation): what Postgres asks in GetForeignUpperPaths, described
//! neutrally so a wrapper can accept the part it can compute at its source
//! or decline. Pure logic: no pgrx. The extraction from Postgres' Query is
//! in `upper_query`.

use serde::{Deserialize, Serialize};

use super::filter::{ArithExpr, CmpOp, DateExpr, Value};

/// Which upper relation Postgres is building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpperStage {
    /// Grouping and aggregation (UPPERREL_GROUP_AGG).
    Grouping,
    /// ORDER BY (UPPERREL_ORDERED).
    Ordered,
    /// LIMIT / OFFSET and the final target list (UPPERREL_FINAL).
    Final,
}

/// An expression of the query, as far as the classification cares.
#[derive(Debug, Clone, PartialEq)]
pub enum RawExpr {
    /// A column of the foreign relation (index into the wrapper's columns).
    Column(usize),
    /// `date_trunc`/`extract` of a column.
    Date(DateExpr),
    /// Integer arithmetic of columns.
    Arith(ArithExpr),
    /// An aggregate call.
    Aggregate(RawAggregate),
    /// A constant.
    Const,
    /// Integer or numeric arithmetic over columns and constants (see [`ScalarExpr`]).
    Scalar(ScalarExpr),
    /// Anything else (operators, functions, other relations' columns).
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawAggregate {
    /// The aggregate function's name (`count`, `sum`, ...), in pg_catalog.
    pub name: String,
    /// Whether the function lives in pg_catalog (user aggregates are never pushed).
    pub builtin: bool,
    pub star: bool,
    pub args: Vec<RawExpr>,
    pub distinct: bool,
    /// `FILTER (WHERE ...)` or an ordered-set `ORDER BY` inside the call.
    pub filter_or_order: bool,
}

/// One ORDER BY key: which output column, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawSortKey {
    /// Index into the target list.
    pub target: usize,
    pub descending: bool,
    pub nulls_first: bool,
    /// The sort operator is the type's default btree ordering.
    pub default_ordering: bool,
    /// The key sorts by bytes: a text key under the "C" or "POSIX"
    /// collation (other collations order text by locale rules).
    pub bytewise: bool,
}

/// One HAVING clause Postgres gave: `left <op> constant`, already oriented.
#[derive(Debug, Clone, PartialEq)]
pub struct RawHaving {
    /// An aggregate call, or a grouped column.
    pub left: RawExpr,
    pub op: CmpOp,
    pub value: Value,
}

/// The query over one foreign relation, in raw form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawQuery {
    /// The target list, in output order.
    pub targets: Vec<RawExpr>,
    /// GROUP BY, as indexes into the target list.
    pub group_by: Vec<usize>,
    pub has_grouping_sets: bool,
    pub has_having: bool,
    /// The HAVING clauses (implicitly ANDed) when each is a comparison of
    /// an aggregate or grouped column with a constant; None otherwise.
    pub having: Option<Vec<RawHaving>>,
    pub has_distinct: bool,
    pub has_window_functions: bool,
    pub sort: Vec<RawSortKey>,
    /// LIMIT: None for none; Some(None) when it is not a constant.
    pub limit: Option<Option<i64>>,
    /// OFFSET, as for limit.
    pub offset: Option<Option<i64>>,
    /// Every WHERE clause of the relation was pushed (else aggregates and
    /// LIMIT would be computed over the wrong rows).
    pub all_clauses_pushed: bool,
    /// Each target's type OID and typmod (what the wrapper's rows must hold).
    pub types: Vec<(u32, i32)>,
}

/// Arithmetic a wrapper may compute per row before aggregating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
}

/// An integer or numeric expression over the relation's columns, each node
/// with Postgres' result type: the built-in `+`, `-`, `*` of int2/int4/int8
/// (same-family operands; mixed widths are the wider type, as int48mul
/// etc. compute) and of numeric, widening casts, and constants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalarExpr {
    /// int2, int4, int8 or numeric (OID).
    pub type_oid: u32,
    pub node: ScalarNode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarNode {
    /// A column of the foreign relation.
    Column(usize),
    /// An integer constant.
    Int(i64),
    /// A numeric constant: unscaled digits and display scale.
    Decimal { unscaled: i128, scale: i8 },
    Arith { op: ArithOp, left: Box<ScalarExpr>, right: Box<ScalarExpr> },
    /// A widening cast (an integer to a wider integer or to numeric).
    Cast(Box<ScalarExpr>),
}

impl ScalarExpr {
    /// The columns it reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        match &self.node {
            ScalarNode::Column(c) => out.push(*c),
            ScalarNode::Int(_) | ScalarNode::Decimal { .. } => {}
            ScalarNode::Arith { left, right, .. } => {
                left.columns(out);
                right.columns(out);
            }
            ScalarNode::Cast(e) => e.columns(out),
        }
    }
}

/// Calendar fields and truncation units a grouping key may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
}

impl TimeUnit {
    /// Postgres' canonical (lower-case, singular) spelling.
    pub fn parse(text: &str) -> Option<TimeUnit> {
        Some(match text {
            "year" => TimeUnit::Year,
            "quarter" => TimeUnit::Quarter,
            "month" => TimeUnit::Month,
            "week" => TimeUnit::Week,
            "day" => TimeUnit::Day,
            "hour" => TimeUnit::Hour,
            "minute" => TimeUnit::Minute,
            "second" => TimeUnit::Second,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Year => "year",
            TimeUnit::Quarter => "quarter",
            TimeUnit::Month => "month",
            TimeUnit::Week => "week",
            TimeUnit::Day => "day",
            TimeUnit::Hour => "hour",
            TimeUnit::Minute => "minute",
            TimeUnit::Second => "second",
        }
    }
}

/// A function of one column that queries group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DerivedFunc {
    /// `date_trunc(unit, timestamp)` (without time zone: no session time zone involved).
    DateTrunc(TimeUnit),
    /// `extract(field FROM date | timestamp)`: numeric of scale 0.
    Extract(TimeUnit),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    pub func: DerivedFunc,
    /// The column (index into the wrapper's columns).
    pub column: usize,
}

/// Aggregate functions a wrapper may be asked to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
    /// `bool_and` (and its SQL-standard spelling `every`).
    BoolAnd,
    BoolOr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    pub func: AggFunc,
    /// The aggregated column (None for `count(*)` and expressions).
    pub column: Option<usize>,
    /// The aggregated expression: an index into `UpperQuery::exprs`.
    pub expr: Option<usize>,
    pub distinct: bool,
}

/// One output column of the upper relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    Column(usize),
    /// `date_trunc`/`extract` of a column (a grouping key, or a plain
    /// output of an ungrouped query).
    Date(DateExpr),
    /// Integer arithmetic of columns (likewise).
    Arith(ArithExpr),
    Aggregate(Aggregate),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    /// Index into `outputs`.
    pub output: usize,
    pub descending: bool,
    pub nulls_first: bool,
    /// Text sorted by bytes ("C"/"POSIX" collation).
    pub bytewise: bool,
}

/// What a HAVING clause compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HavingOperand {
    Aggregate(Aggregate),
    /// A grouped column (index into the wrapper's columns).
    Column(usize),
}

/// One HAVING clause: `operand <op> value`; the clauses are ANDed. A
/// wrapper must compute all of them exactly or decline the path (Postgres
/// does not re-check HAVING above an accepted grouping path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Having {
    pub operand: HavingOperand,
    pub op: CmpOp,
    pub value: Value,
}

/// The neutral description a wrapper accepts or declines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpperQuery {
    pub stage: UpperStage,
    pub outputs: Vec<Output>,
    /// Indexes into `outputs` of the GROUP BY columns.
    pub group_by: Vec<usize>,
    /// HAVING, as ANDed comparisons (empty: none).
    pub having: Vec<Having>,
    /// Whether the query aggregates (GROUP BY or aggregates in the output).
    pub grouped: bool,
    pub order_by: Vec<SortKey>,
    pub limit: Option<i64>,
    pub offset: i64,
    /// At the ORDER BY stage: the query's constant LIMIT plus OFFSET, which
    /// bounds the rows the ordered output is read for (Postgres still applies
    /// the LIMIT itself).
    pub limit_hint: Option<i64>,
    /// Type OID and typmod of each output, in order.
    pub output_types: Vec<(u32, i32)>,
    /// The expressions aggregates are computed over.
    pub exprs: Vec<ScalarExpr>,
}

/// Why the upper part stays with Postgres (for debugging and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declined(pub &'static str);

fn aggregate(raw: &RawAggregate, exprs: &mut Vec<ScalarExpr>) -> Result<Aggregate, Declined> {
    if !raw.builtin {
        return Err(Declined("aggregate is not a builtin"));
    }
    if raw.filter_or_order {
        return Err(Declined("aggregate has FILTER or ORDER BY"));
    }
    let (column, expr) = match raw.args.as_slice() {
        [] => (None, None),
        [RawExpr::Column(c)] => (Some(*c), None),
        [RawExpr::Scalar(e)] if !raw.distinct => {
            let at = match exprs.iter().position(|x| x == e) {
                Some(at) => at,
                None => {
                    exprs.push(e.clone());
                    exprs.len() - 1
                }
            };
            (None, Some(at))
        }
        _ => return Err(Declined("aggregate argument is not a plain column or arithmetic")),
    };
    let arg = column.or(expr);
    let func = match (raw.name.as_str(), raw.star, arg) {
        ("count", true, None) => AggFunc::CountStar,
        ("count", false, Some(_)) => AggFunc::Count,
        ("sum", false, Some(_)) => AggFunc::Sum,
        ("min", false, Some(_)) => AggFunc::Min,
        ("max", false, Some(_)) => AggFunc::Max,
        ("avg", false, Some(_)) => AggFunc::Avg,
        ("bool_and" | "every", false, Some(_)) => AggFunc::BoolAnd,
        ("bool_or", false, Some(_)) => AggFunc::BoolOr,
        _ => return Err(Declined("aggregate function not supported")),
    };
    if raw.distinct && func == AggFunc::CountStar {
        return Err(Declined("DISTINCT on count(*)"));
    }
    if expr.is_some() && matches!(func, AggFunc::BoolAnd | AggFunc::BoolOr) {
        return Err(Declined("boolean aggregate over arithmetic"));
    }
    Ok(Aggregate { func, column, expr, distinct: raw.distinct })
}

/// Classify `raw` at `stage`.
pub fn classify(stage: UpperStage, raw: &RawQuery) -> Result<UpperQuery, Declined> {
    if !raw.all_clauses_pushed {
        return Err(Declined("a WHERE clause stays with Postgres"));
    }
    if raw.has_grouping_sets || raw.has_distinct || raw.has_window_functions {
        return Err(Declined("grouping sets, DISTINCT or window functions"));
    }
    let mut outputs = Vec::with_capacity(raw.targets.len());
    let mut exprs = Vec::new();
    for target in &raw.targets {
        outputs.push(match target {
            RawExpr::Column(c) => Output::Column(*c),
            RawExpr::Date(e) => Output::Date(*e),
            RawExpr::Arith(e) => Output::Arith(*e),
            RawExpr::Aggregate(a) => Output::Aggregate(aggregate(a, &mut exprs)?),
            RawExpr::Const | RawExpr::Other | RawExpr::Scalar(_) => {
                return Err(Declined("output is not a column or aggregate"))
            }
        });
    }
    let has_aggregates = outputs.iter().any(|o| matches!(o, Output::Aggregate(_)));
    let grouped = has_aggregates || !raw.group_by.is_empty() || raw.has_having;
    for g in &raw.group_by {
        if !matches!(outputs.get(*g), Some(Output::Column(_) | Output::Date(_) | Output::Arith(_))) {
            return Err(Declined("GROUP BY key is not a plain column"));
        }
    }
    if grouped {
        // Every plain output column must be a grouping key, or the same
        // column as one (`ORDER BY key COLLATE "C"` adds such an entry).
        let grouped_columns: Vec<&Output> = raw.group_by.iter().filter_map(|g| outputs.get(*g)).collect();
        for (i, o) in outputs.iter().enumerate() {
            if matches!(o, Output::Column(_) | Output::Date(_) | Output::Arith(_)) && !raw.group_by.contains(&i) && !grouped_columns.contains(&o) {
                return Err(Declined("output column is neither grouped nor aggregated"));
            }
        }
    }
    let mut having = Vec::new();
    if raw.has_having {
        let Some(clauses) = &raw.having else {
            return Err(Declined("a HAVING clause is not a comparison of an aggregate with a constant"));
        };
        for h in clauses {
            let operand = match &h.left {
                RawExpr::Aggregate(a) => HavingOperand::Aggregate(aggregate(a, &mut exprs)?),
                // Postgres only allows grouped columns outside aggregates.
                RawExpr::Column(c) if raw.group_by.iter().any(|g| outputs.get(*g) == Some(&Output::Column(*c))) => {
                    HavingOperand::Column(*c)
                }
                _ => return Err(Declined("HAVING operand is not an aggregate or a grouped column")),
            };
            having.push(Having { operand, op: h.op, value: h.value.clone() });
        }
    }
    let mut order_by = Vec::new();
    if stage != UpperStage::Grouping {
        for key in &raw.sort {
            if !key.default_ordering || key.target >= outputs.len() {
                return Err(Declined("ORDER BY key is not a default ordering of an output"));
            }
            order_by.push(SortKey {
                output: key.target,
                descending: key.descending,
                nulls_first: key.nulls_first,
                bytewise: key.bytewise,
            });
        }
    }
    let (mut limit, mut offset) = (None, 0);
    if stage == UpperStage::Final {
        match raw.limit {
            None => {}
            Some(Some(n)) if n >= 0 => limit = Some(n),
            Some(_) => return Err(Declined("LIMIT is not a constant")),
        }
        match raw.offset {
            None => {}
            Some(Some(n)) if n >= 0 => offset = n,
            Some(_) => return Err(Declined("OFFSET is not a constant")),
        }
    }
    if stage == UpperStage::Grouping && !grouped {
        return Err(Declined("nothing to group"));
    }
    let limit_hint = match (stage, raw.limit, raw.offset) {
        (UpperStage::Ordered, Some(Some(n)), None) if n >= 0 => Some(n),
        (UpperStage::Ordered, Some(Some(n)), Some(Some(o))) if n >= 0 && o >= 0 => n.checked_add(o),
        _ => None,
    };
    let output_types = raw.types.clone();
    Ok(UpperQuery {
        stage,
        outputs,
        group_by: raw.group_by.clone(),
        having,
        grouped,
        order_by,
        limit,
        offset,
        limit_hint,
        output_types,
        exprs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agg(name: &str, args: Vec<RawExpr>) -> RawExpr {
        RawExpr::Aggregate(RawAggregate {
            name: name.into(),
            builtin: true,
            star: false,
            args,
            distinct: false,
            filter_or_order: false,
        })
    }

    fn count_star() -> RawExpr {
        RawExpr::Aggregate(RawAggregate {
            name: "count".into(),
            builtin: true,
            star: true,
            args: vec![],
            distinct: false,
            filter_or_order: false,
        })
    }

    fn query(targets: Vec<RawExpr>, group_by: Vec<usize>) -> RawQuery {
        RawQuery { targets, group_by, all_clauses_pushed: true, ..Default::default() }
    }

    #[test]
    fn group_by_with_aggregates() {
        let raw = query(vec![RawExpr::Column(2), count_star(), agg("sum", vec![RawExpr::Column(4)])], vec![0]);
        let q = classify(UpperStage::Grouping, &raw).unwrap();
        assert!(q.grouped);
        assert_eq!(q.group_by, vec![0]);
        assert_eq!(
            q.outputs,
            vec![
                Output::Column(2),
                Output::Aggregate(Aggregate { func: AggFunc::CountStar, column: None, expr: None, distinct: false }),
                Output::Aggregate(Aggregate { func: AggFunc::Sum, column: Some(4), expr: None, distinct: false }),
            ]
        );
    }

    #[test]
    fn date_expressions_group_and_must_be_grouped() {
        use crate::fdw::filter::{DateFunc, TruncUnit};
        let day = RawExpr::Date(DateExpr { func: DateFunc::Trunc(TruncUnit::Day), column: 3 });
        let q = classify(UpperStage::Grouping, &query(vec![day.clone(), count_star()], vec![0])).unwrap();
        assert_eq!(q.outputs[0], Output::Date(DateExpr { func: DateFunc::Trunc(TruncUnit::Day), column: 3 }));
        assert!(classify(UpperStage::Grouping, &query(vec![day, count_star()], vec![])).is_err());
    }

    #[test]
    fn declines_what_it_cannot_describe() {
        // The same column as a grouping key (a re-collated sort key) is grouped.
        let again = query(vec![RawExpr::Column(1), count_star(), RawExpr::Column(1)], vec![0]);
        assert!(classify(UpperStage::Grouping, &again).is_ok());
        let ungrouped = query(vec![RawExpr::Column(1), count_star()], vec![]);
        assert_eq!(
            classify(UpperStage::Grouping, &ungrouped),
            Err(Declined("output column is neither grouped nor aggregated"))
        );
        let expr_arg = query(vec![agg("sum", vec![RawExpr::Other])], vec![]);
        assert!(classify(UpperStage::Grouping, &expr_arg).is_err());
        let user_agg = RawExpr::Aggregate(RawAggregate {
            name: "sum".into(),
            builtin: false,
            star: false,
            args: vec![RawExpr::Column(0)],
            distinct: false,
            filter_or_order: false,
        });
        assert!(classify(UpperStage::Grouping, &query(vec![user_agg], vec![])).is_err());
        assert!(classify(UpperStage::Grouping, &query(vec![agg("stddev", vec![RawExpr::Column(0)])], vec![])).is_err());
        let every = classify(UpperStage::Grouping, &query(vec![agg("every", vec![RawExpr::Column(0)])], vec![])).unwrap();
        assert_eq!(every.outputs, vec![Output::Aggregate(Aggregate { func: AggFunc::BoolAnd, column: Some(0), expr: None, distinct: false })]);
        // A HAVING that is not described (None) keeps the whole grouping local.
        let mut having = query(vec![count_star()], vec![]);
        having.has_having = true;
        assert!(classify(UpperStage::Grouping, &having).is_err());
        let mut local_where = query(vec![count_star()], vec![]);
        local_where.all_clauses_pushed = false;
        assert_eq!(classify(UpperStage::Grouping, &local_where), Err(Declined("a WHERE clause stays with Postgres")));
        // Nothing to group: a plain column list is not a grouping stage.
        assert!(classify(UpperStage::Grouping, &query(vec![RawExpr::Column(0)], vec![])).is_err());
    }

    #[test]
    fn order_by_and_limit_at_their_stages() {
        let mut raw = query(vec![RawExpr::Column(0), RawExpr::Column(3)], vec![]);
        raw.sort = vec![RawSortKey { target: 1, descending: true, nulls_first: true, default_ordering: true, bytewise: false }];
        raw.limit = Some(Some(10));
        raw.offset = Some(Some(5));
        let ordered = classify(UpperStage::Ordered, &raw).unwrap();
        assert_eq!(ordered.order_by, vec![SortKey { output: 1, descending: true, nulls_first: true, bytewise: false }]);
        assert_eq!(ordered.limit, None);
        assert_eq!(ordered.limit_hint, Some(15));
        let last = classify(UpperStage::Final, &raw).unwrap();
        assert_eq!(last.limit_hint, None);
        assert_eq!((last.limit, last.offset), (Some(10), 5));
        raw.limit = Some(None);
        assert_eq!(classify(UpperStage::Final, &raw), Err(Declined("LIMIT is not a constant")));
        raw.limit = None;
        raw.sort[0].default_ordering = false;
        assert!(classify(UpperStage::Ordered, &raw).is_err());
    }

    #[test]
    fn having_comparisons() {
        let mut raw = query(vec![RawExpr::Column(2), count_star()], vec![0]);
        raw.has_having = true;
        raw.having = Some(vec![
            RawHaving { left: agg("sum", vec![RawExpr::Column(4)]), op: CmpOp::Gt, value: Value::Int(10) },
            RawHaving { left: RawExpr::Column(2), op: CmpOp::Eq, value: Value::Text("x".into()) },
        ]);
        let q = classify(UpperStage::Grouping, &raw).unwrap();
        assert_eq!(
            q.having,
            vec![
                Having {
                    operand: HavingOperand::Aggregate(Aggregate { func: AggFunc::Sum, column: Some(4), expr: None, distinct: false }),
                    op: CmpOp::Gt,
                    value: Value::Int(10),
                },
                Having { operand: HavingOperand::Column(2), op: CmpOp::Eq, value: Value::Text("x".into()) },
            ]
        );
        // A column that is not grouped, an aggregate that is not supported: declined.
        raw.having = Some(vec![RawHaving { left: RawExpr::Column(3), op: CmpOp::Eq, value: Value::Int(1) }]);
        assert!(classify(UpperStage::Grouping, &raw).is_err());
        raw.having = Some(vec![RawHaving { left: agg("stddev", vec![RawExpr::Column(4)]), op: CmpOp::Gt, value: Value::Int(1) }]);
        assert!(classify(UpperStage::Grouping, &raw).is_err());
        // HAVING alone (no GROUP BY, only aggregates) still groups.
        let mut lone = query(vec![count_star()], vec![]);
        lone.has_having = true;
        lone.having = Some(vec![RawHaving { left: count_star(), op: CmpOp::Gt, value: Value::Int(0) }]);
        assert!(classify(UpperStage::Grouping, &lone).unwrap().grouped);
    }

    #[test]
    fn distinct_aggregates() {
        let mut a = RawAggregate {
            name: "count".into(),
            builtin: true,
            star: false,
            args: vec![RawExpr::Column(1)],
            distinct: true,
            filter_or_order: false,
        };
        let q = classify(UpperStage::Grouping, &query(vec![RawExpr::Aggregate(a.clone())], vec![])).unwrap();
        assert_eq!(q.outputs, vec![Output::Aggregate(Aggregate { func: AggFunc::Count, column: Some(1), expr: None, distinct: true })]);
        a.filter_or_order = true;
        assert!(classify(UpperStage::Grouping, &query(vec![RawExpr::Aggregate(a)], vec![])).is_err());
    }

    #[test]
    fn aggregates_of_arithmetic() {
        let price_times_discount = ScalarExpr {
            type_oid: 1700,
            node: ScalarNode::Arith {
                op: ArithOp::Mul,
                left: Box::new(ScalarExpr { type_oid: 1700, node: ScalarNode::Column(3) }),
                right: Box::new(ScalarExpr { type_oid: 1700, node: ScalarNode::Decimal { unscaled: 5, scale: 2 } }),
            },
        };
        let e = RawExpr::Scalar(price_times_discount.clone());
        let raw = query(vec![RawExpr::Column(1), agg("sum", vec![e.clone()]), agg("avg", vec![e.clone()])], vec![0]);
        let q = classify(UpperStage::Grouping, &raw).unwrap();
        // The same expression is described once.
        assert_eq!(q.exprs, vec![price_times_discount]);
        assert_eq!(q.outputs[1], Output::Aggregate(Aggregate { func: AggFunc::Sum, column: None, expr: Some(0), distinct: false }));
        assert_eq!(q.outputs[2], Output::Aggregate(Aggregate { func: AggFunc::Avg, column: None, expr: Some(0), distinct: false }));
        // Not pushed: DISTINCT over an expression, boolean aggregates, an expression as output.
        let mut distinct = RawAggregate { name: "sum".into(), builtin: true, star: false, args: vec![e.clone()], distinct: true, filter_or_order: false };
        assert!(classify(UpperStage::Grouping, &query(vec![RawExpr::Aggregate(distinct.clone())], vec![])).is_err());
        distinct.distinct = false;
        distinct.name = "bool_and".into();
        assert!(classify(UpperStage::Grouping, &query(vec![RawExpr::Aggregate(distinct)], vec![])).is_err());
        assert!(classify(UpperStage::Grouping, &query(vec![e, count_star()], vec![])).is_err());
    }
}
