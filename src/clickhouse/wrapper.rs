//! The `clickhouse` foreign data wrapper: its handler and validator, and
//! what is particular to ClickHouse in each FDW callback (the callbacks
//! themselves are in `fdw::routine`).

use std::collections::BTreeMap;

use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::options::{check_value, COLUMN_OPTIONS, SERVER_OPTIONS, TABLE_OPTIONS, USER_MAPPING_OPTIONS};
use super::remote::{self, LocalColumn, Resolved};
use super::insert::ChInsert;
use super::join::{self, ChJoin};
use super::scan::{ChPlan, ChScan, OutputCol};
use super::sql::{self, RemoteColumn};
use crate::errors::{LakeError, LakeResult, OrReport};
use crate::fdw::explain::Explain;
use crate::fdw::modify::{ModifyOp, ModifyTarget, OldRow, Row};
use crate::fdw::options::{check_names, OptionTarget};
use crate::fdw::parallel::Participant;
use crate::fdw::params::Operands;
use crate::fdw::paths::ScanCost;
use crate::fdw::clauses::SlotType;
use crate::fdw::filter::{Filter, Value};
use crate::fdw::join::{JoinQuery, JoinSide};
use crate::fdw::routine::{Estimate, ImportRequest, JoinInput, PlannedScan, PlannedUpper, UpperEstimate, UpperInput, Wrapper};
use crate::fdw::upper::{AggFunc, HavingOperand, Output, UpperQuery, UpperStage};
use super::types::{ChType, PgKind, ReadAs};
use crate::pg::types::Builtin;
use crate::fdw::scan::{ExecContext, ScanSlot};

crate::fdw_handler!(clickhouse_fdw_handler, pg_finfo_clickhouse_fdw_handler, ClickHouse);

/// `lake.clickhouse_fdw_validator(options, catalog)`: checks option names
/// and values (no network access) when a server, user mapping, foreign
/// table or column is created or altered.
#[pg_extern]
pub fn clickhouse_fdw_validator(options: Option<Vec<Option<String>>>, catalog: Option<pg_sys::Oid>) {
    // Postgres always names the catalog; a direct call with NULL checks nothing.
    let catalog = catalog.unwrap_or(pg_sys::Oid::INVALID);
    let mut given = BTreeMap::new();
    for item in options.unwrap_or_default().into_iter().flatten() {
        let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
        given.insert(k.to_string(), v.to_string());
    }
    validate(&given, catalog).or_report();
}

fn validate(given: &BTreeMap<String, String>, catalog: pg_sys::Oid) -> LakeResult<()> {
    let Some(target) = OptionTarget::from_catalog(catalog) else {
        return Ok(());
    };
    let valid: &[&str] = match target {
        OptionTarget::Wrapper => &[],
        OptionTarget::Server => SERVER_OPTIONS,
        OptionTarget::UserMapping => USER_MAPPING_OPTIONS,
        OptionTarget::ForeignTable => TABLE_OPTIONS,
        OptionTarget::Column => COLUMN_OPTIONS,
    };
    check_names(given, valid, target, "clickhouse")?;
    for (name, value) in given {
        check_value(name, value).map_err(|m| {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, m)
                .with_hint("See docs/clickhouse.md for the options of the clickhouse wrapper.")
        })?;
    }
    Ok(())
}

/// UPDATE, DELETE, TRUNCATE, MERGE and ON CONFLICT: ClickHouse has no
/// transactional row changes to map them to.
fn not_writable(what: &str) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("{what} is not supported on ClickHouse foreign tables: they take INSERT and COPY FROM only"),
    )
    .with_hint(
        "ClickHouse (18.16 and later) has no transactional row changes. Change rows in ClickHouse itself (ALTER TABLE \
         ... UPDATE/DELETE mutations where the server has them, or a ReplacingMergeTree fed with INSERT).",
    )
}

/// An upper query in ClickHouse's terms.
struct UpperParts {
    outputs: Vec<OutputCol>,
    group_by: Vec<String>,
    having: Vec<String>,
    order_by: Vec<String>,
    limit: Option<u64>,
}

/// The SELECT list, GROUP BY, ORDER BY and LIMIT of `query`, when every
/// part means the same in ClickHouse (None: Postgres computes it).
fn upper_parts(columns: &[LocalColumn], query: &UpperQuery) -> Option<UpperParts> {
    let mut outputs = Vec::with_capacity(query.outputs.len());
    for (k, out) in query.outputs.iter().enumerate() {
        let (type_oid, typmod) = *query.output_types.get(k)?;
        outputs.push(match out {
            Output::Column(i) => {
                let c = columns.get(*i)?;
                if query.grouped && !sql::groups_like_postgres(&c.remote) {
                    return None;
                }
                // The target's own type: `x::bigint` reads x's text as int8.
                OutputCol { slot: k, type_oid, typmod, ..OutputCol::column(c) }
            }
            Output::Date(e) => {
                let c = columns.get(e.column)?;
                let (expr, read) = sql::date_expr_sql(e, &c.remote)?;
                OutputCol {
                    label: format!("expression {expr}"),
                    expr,
                    read,
                    type_oid,
                    typmod,
                    slot: k,
                    fixed_string: false,
                    check_type: None,
                }
            }
            Output::Arith(e) => {
                let remote: Vec<RemoteColumn> = columns.iter().map(|c| c.remote.clone()).collect();
                let expr = sql::arith_sql(e, &remote)?;
                OutputCol {
                    label: format!("expression {expr}"),
                    expr,
                    read: ReadAs::Text,
                    type_oid,
                    typmod,
                    slot: k,
                    fixed_string: false,
                    check_type: None,
                }
            }
            Output::Aggregate(a) => {
                // Aggregates of arithmetic are not translated to ClickHouse.
                if a.expr.is_some() {
                    return None;
                }
                let col = match a.column {
                    Some(i) => Some(&columns.get(i)?.remote),
                    None => None,
                };
                if let (AggFunc::Avg, Some(i)) = (a.func, a.column) {
                    // Postgres' avg of numeric divides at its values' scale:
                    // ClickHouse's must be the column's declared one.
                    let c = columns.get(i)?;
                    if let ChType::Decimal { scale, .. } = c.remote.ch.base() {
                        if numeric_scale(c.typmod) != Some(*scale) {
                            return None;
                        }
                    }
                }
                let (expr, read) = sql::aggregate_keyed(a.func, a.distinct, col, !query.group_by.is_empty())?;
                OutputCol {
                    label: format!("aggregate {expr}"),
                    expr,
                    read,
                    type_oid,
                    typmod,
                    slot: k,
                    fixed_string: false,
                    check_type: None,
                }
            }
        });
    }
    let mut group_by = Vec::with_capacity(query.group_by.len());
    for g in &query.group_by {
        match query.outputs.get(*g)? {
            Output::Column(i) => group_by.push(sql::ident(&columns.get(*i)?.remote.name)),
            Output::Date(_) | Output::Arith(_) => group_by.push(outputs.get(*g)?.expr.clone()),
            Output::Aggregate(_) => return None,
        }
    }
    let remote: Vec<RemoteColumn> = columns.iter().map(|c| c.remote.clone()).collect();
    let mut having = Vec::with_capacity(query.having.len());
    for h in &query.having {
        having.push(sql::having(h, &remote, !query.group_by.is_empty())?);
    }
    let mut order_by = Vec::with_capacity(query.order_by.len());
    for key in &query.order_by {
        let expr = match query.outputs.get(key.output)? {
            Output::Column(i) => {
                let c = &columns.get(*i)?.remote;
                // Text sorts by bytes in ClickHouse: only "C"/"POSIX" agree.
                let bytewise_text = key.bytewise && c.pg == PgKind::Text && matches!(c.ch.base(), ChType::String);
                if !sql::orders_like_postgres(c) && !bytewise_text {
                    return None;
                }
                sql::ident(&c.name)
            }
            // Seconds since 1970 and whole numbers sort as Postgres' values.
            Output::Date(_) | Output::Arith(_) => outputs[key.output].expr.clone(),
            // An avg travels as a (sum,count) tuple: it sorts locally.
            Output::Aggregate(_) if matches!(outputs[key.output].read, ReadAs::Average { .. }) => return None,
            // count, sum, min and max of orderable columns are numbers,
            // dates or timestamps.
            Output::Aggregate(_) => outputs[key.output].expr.clone(),
        };
        order_by.push(sql::order_key(&expr, key.descending, key.nulls_first));
    }
    let limit = if query.stage == UpperStage::Ordered { query.limit_hint.map(|n| n as u64) } else { None };
    Some(UpperParts { outputs, group_by, having, order_by, limit })
}

/// The scale of a numeric typmod (None: no typmod).
fn numeric_scale(typmod: i32) -> Option<u32> {
    // VARHDRSZ-offset, scale in the low 11 bits (sign-extended since PG 15).
    if typmod < 4 {
        return None;
    }
    let scale = ((((typmod - 4) & 0x7ff) ^ 1024) - 1024) as i64;
    u32::try_from(scale).ok()
}

/// Whether the pushed WHERE `filter` keeps exactly Postgres' rows: for
/// these constants, or for any values the operands (parameters, now()) can
/// take.
fn filter_exact(rel: &Resolved, filter: Option<&Filter>, values: Option<&[Value]>, slot_types: &[SlotType]) -> bool {
    let Some(filter) = filter else { return true };
    let remote: Vec<RemoteColumn> = rel.columns.iter().map(|c| c.remote.clone()).collect();
    match values {
        Some(values) => sql::deparse(filter, &remote, values).is_some_and(|c| c.exact),
        None => {
            let slots: Vec<Option<Builtin>> = slot_types.iter().map(|t| Builtin::from_u32(t.type_oid)).collect();
            sql::exact_for_any_values(filter, &remote, &slots)
        }
    }
}

fn remote_columns(rel: &Resolved) -> Vec<RemoteColumn> {
    rel.columns.iter().map(|c| c.remote.clone()).collect()
}

/// The columns (indexes of `query`'s relation) an upper query reads, in order.
fn used_columns(query: &UpperQuery) -> Vec<usize> {
    let mut used = std::collections::BTreeSet::new();
    for out in &query.outputs {
        match out {
            Output::Column(i) => {
                used.insert(*i);
            }
            Output::Date(e) => {
                used.insert(e.column);
            }
            Output::Arith(e) => used.extend(e.columns()),
            Output::Aggregate(a) => used.extend(a.column),
        }
    }
    for h in &query.having {
        match h.operand {
            HavingOperand::Column(i) => {
                used.insert(i);
            }
            HavingOperand::Aggregate(a) => used.extend(a.column),
        }
    }
    used.into_iter().collect()
}

/// The outer and inner subqueries' SELECT lists and the USING list of a join.
type JoinLists = (Vec<String>, Vec<String>, Vec<String>);

/// An upper query over a pushed join in ClickHouse's terms: its parts over
/// the joined row's columns, and the join's subquery returning the columns
/// they read (raw values under their aliases).
fn upper_join_parts(
    outer: &Resolved,
    inner: &Resolved,
    join: &JoinQuery,
    query: &UpperQuery,
) -> Option<(UpperParts, JoinLists, Vec<String>)> {
    let joined = join::joined_columns(join.kind, &outer.columns, &inner.columns);
    let mut parts = upper_parts(&joined, query)?;
    if query.stage == UpperStage::Final {
        // LIMIT alone over the joined rows (an ORDER BY's LIMIT comes with
        // the ORDER BY stage): this path replaces Postgres' Limit, so an
        // OFFSET, which a plain LIMIT of n + offset would not skip, stays local.
        if query.grouped || !query.order_by.is_empty() || query.offset != 0 {
            return None;
        }
        parts.limit = Some(u64::try_from(query.limit?).ok()?);
    }
    let used = used_columns(query);
    let sub = JoinQuery {
        outputs: used.iter().map(|i| join::joined_source(*i, outer.columns.len())).collect(),
        ..join.clone()
    };
    let lists = join::select_lists_with(&sub, &remote_columns(outer), &remote_columns(inner), true)?;
    let aliases = used.iter().map(|i| sql::ident(&joined[*i].remote.name)).collect();
    Some((parts, lists, aliases))
}

/// The ClickHouse wrapper.
pub struct ClickHouse;

impl Wrapper for ClickHouse {
    type Rel = Resolved;
    type Plan = ChPlan;
    type Scan = ChScan;
    type Modify = ChInsert;

    // UPDATE and DELETE are listed so that they reach plan_modify, which
    // says why they fail (Postgres' own message would give no hint).
    const UPDATABLE: &'static [ModifyOp] = &[ModifyOp::Insert, ModifyOp::Update, ModifyOp::Delete];

    fn estimate(relid: pg_sys::Oid, mapping_user: pg_sys::Oid) -> LakeResult<Estimate<Resolved>> {
        let mut rel = remote::resolve(relid, mapping_user)?;
        // Tables without a row count in system.parts (engines other than
        // MergeTree, where counting could read the whole table or consume a
        // Kafka topic): the count of the last ANALYZE, else a guess that
        // keeps joins sensible.
        if rel.rows.is_none() {
            rel.rows = crate::fdw::source::analyzed_rows(relid).filter(|r| *r > 0.0);
        }
        Ok(Estimate {
            columns: rel.classify_columns(),
            tuples: rel.rows.unwrap_or(1000.0),
            rel,
            // A round trip to start; ClickHouse reads fast, so what counts is
            // the rows that travel (the neutral layer adds cpu_tuple_cost for
            // each returned row).
            cost: ScanCost { startup: 100.0, per_source_row: 0.0005 },
            parallel: None,
        })
    }

    fn plan_scan(rel: &Resolved, scan: PlannedScan) -> LakeResult<ChPlan> {
        Ok(ChPlan {
            relid: scan.relid.to_u32(),
            server: rel.server.to_u32(),
            mapping_user: scan.mapping_user.to_u32(),
            database: rel.database.clone(),
            table: rel.table.clone(),
            outputs: scan.needed.iter().map(|i| OutputCol::column(&rel.columns[*i])).collect(),
            columns: rel.columns.clone(),
            filter: scan.filter,
            group_by: Vec::new(),
            having: Vec::new(),
            order_by: Vec::new(),
            limit: scan.limit,
            upper: false,
            join: None,
            join_upper: None,
        })
    }

    fn upper_path(rel: &Resolved, query: &UpperQuery, input: &UpperInput<'_>) -> Option<UpperEstimate> {
        // A LIMIT alone is the base scan's (PlannedScan::limit).
        if query.stage == UpperStage::Final {
            return None;
        }
        // Aggregates and a pushed LIMIT need the pushed WHERE to keep exactly
        // Postgres' rows: for these constants, or for any values the
        // operands (parameters, now()) can take.
        if !filter_exact(rel, input.filter, input.values, input.slot_types) {
            return None;
        }
        let parts = upper_parts(&rel.columns, query)?;
        let tuples = rel.rows.unwrap_or(1000.0);
        let input_rows = input.rows.max(1.0);
        let rows = match query.stage {
            UpperStage::Grouping if parts.group_by.is_empty() => 1.0,
            // Postgres' estimate (real after ANALYZE), the one its own
            // aggregate would have.
            UpperStage::Grouping => input.groups.unwrap_or_else(|| tuples.sqrt()).min(input_rows).max(1.0),
            _ => parts.limit.map_or(input_rows, |n| input_rows.min(n as f64)).max(1.0),
        };
        // The scan's cost (see estimate) for only the rows that travel, with
        // a startup below the plain scan's: Postgres compares costs within
        // 1% as equal and would then keep its own (sorted) aggregate over a
        // few rows, though ClickHouse does that work faster than Postgres
        // reads the rows.
        let startup = 90.0 + tuples * 0.0005;
        Some(UpperEstimate { rows, startup, total: startup + rows * 0.01 })
    }

    fn plan_upper(rel: &Resolved, query: &UpperQuery, scan: PlannedUpper) -> LakeResult<ChPlan> {
        let parts = upper_parts(&rel.columns, query).ok_or_else(|| LakeError::internal("accepted upper path no longer plans"))?;
        Ok(ChPlan {
            relid: scan.relid.to_u32(),
            server: rel.server.to_u32(),
            mapping_user: scan.mapping_user.to_u32(),
            database: rel.database.clone(),
            table: rel.table.clone(),
            columns: rel.columns.clone(),
            outputs: parts.outputs,
            filter: scan.filter,
            group_by: parts.group_by,
            having: parts.having,
            order_by: parts.order_by,
            limit: parts.limit,
            upper: true,
            join: None,
            join_upper: None,
        })
    }

    fn join_path(outer: &JoinInput<'_, Resolved>, inner: &JoinInput<'_, Resolved>, query: &JoinQuery, rows: f64) -> Option<UpperEstimate> {
        // Nothing is re-checked after a pushed join: each side's WHERE must
        // be whole and exact.
        for side in [outer, inner] {
            if !side.all_translated || !filter_exact(side.rel, side.filter, side.values, side.slot_types) {
                return None;
            }
        }
        join::select_lists(query, &remote_columns(outer.rel), &remote_columns(inner.rel))?;
        // One round trip; ClickHouse reads both tables (as two scans would)
        // and hashes the inner side's rows; only the join's rows travel.
        // Two scans and a local join cost at least a round trip more and
        // the transfer of both sides' rows.
        let tuples = outer.rel.rows.unwrap_or(1000.0) + inner.rel.rows.unwrap_or(1000.0);
        let startup = 100.0 + tuples * 0.0005 + (outer.rows + inner.rows) * 0.001;
        let rows = rows.max(1.0);
        Some(UpperEstimate { rows, startup, total: startup + rows * 0.01 })
    }

    fn plan_join(
        outer: &Resolved,
        inner: &Resolved,
        query: &JoinQuery,
        outer_scan: PlannedUpper,
        inner_scan: PlannedUpper,
        inner_offset: usize,
    ) -> LakeResult<ChPlan> {
        let (oe, ie, using) = join::select_lists(query, &remote_columns(outer), &remote_columns(inner))
            .ok_or_else(|| LakeError::internal("accepted join no longer plans"))?;
        let mut outputs = Vec::with_capacity(query.outputs.len());
        for (k, (side, index)) in query.outputs.iter().enumerate() {
            let c = match side {
                JoinSide::Outer => outer.columns.get(*index),
                JoinSide::Inner => inner.columns.get(*index),
            }
            .ok_or_else(|| LakeError::internal("join output out of range"))?;
            let plain = OutputCol::column(c);
            outputs.push(OutputCol {
                expr: sql::ident(&join::output_alias(*side, *index)),
                slot: k,
                check_type: join::output_type(&c.remote, query.kind, *side, plain.check_type.clone()),
                ..plain
            });
        }
        Ok(ChPlan {
            relid: outer_scan.relid.to_u32(),
            server: outer.server.to_u32(),
            mapping_user: outer_scan.mapping_user.to_u32(),
            database: outer.database.clone(),
            table: outer.table.clone(),
            columns: outer.columns.clone(),
            outputs,
            filter: outer_scan.filter,
            group_by: Vec::new(),
            having: Vec::new(),
            order_by: Vec::new(),
            limit: None,
            upper: true,
            join: Some(ChJoin {
                kind: query.kind,
                database: inner.database.clone(),
                table: inner.table.clone(),
                columns: inner.columns.clone(),
                filter: inner_scan.filter,
                inner_offset,
                outer_exprs: oe,
                inner_exprs: ie,
                using,
            }),
            join_upper: None,
        })
    }

    fn upper_join_path(
        outer: &JoinInput<'_, Resolved>,
        inner: &JoinInput<'_, Resolved>,
        join: &JoinQuery,
        query: &UpperQuery,
        input: &UpperInput<'_>,
    ) -> Option<UpperEstimate> {
        // As for the join itself: nothing is re-checked after it.
        for side in [outer, inner] {
            if !side.all_translated || !filter_exact(side.rel, side.filter, side.values, side.slot_types) {
                return None;
            }
        }
        let (parts, _, _) = upper_join_parts(outer.rel, inner.rel, join, query)?;
        let input_rows = input.rows.max(1.0);
        let rows = match query.stage {
            UpperStage::Grouping if parts.group_by.is_empty() => 1.0,
            UpperStage::Grouping => input.groups.unwrap_or_else(|| input_rows.sqrt()).min(input_rows).max(1.0),
            _ => parts.limit.map_or(input_rows, |n| input_rows.min(n as f64)).max(1.0),
        };
        // Below the pushed join's own startup (see join_path): the join's
        // rows no longer travel, only the result's.
        let tuples = outer.rel.rows.unwrap_or(1000.0) + inner.rel.rows.unwrap_or(1000.0);
        let startup = 90.0 + tuples * 0.0005 + (outer.rows + inner.rows) * 0.001;
        Some(UpperEstimate { rows, startup, total: startup + rows * 0.01 })
    }

    fn plan_upper_join(
        outer: &Resolved,
        inner: &Resolved,
        join: &JoinQuery,
        query: &UpperQuery,
        outer_scan: PlannedUpper,
        inner_scan: PlannedUpper,
        inner_offset: usize,
    ) -> LakeResult<ChPlan> {
        let (parts, (oe, ie, using), aliases) = upper_join_parts(outer, inner, join, query)
            .ok_or_else(|| LakeError::internal("accepted upper path over a join no longer plans"))?;
        Ok(ChPlan {
            relid: outer_scan.relid.to_u32(),
            server: outer.server.to_u32(),
            mapping_user: outer_scan.mapping_user.to_u32(),
            database: outer.database.clone(),
            table: outer.table.clone(),
            columns: outer.columns.clone(),
            outputs: parts.outputs,
            filter: outer_scan.filter,
            group_by: parts.group_by,
            having: parts.having,
            order_by: parts.order_by,
            limit: parts.limit,
            upper: true,
            join: Some(ChJoin {
                kind: join.kind,
                database: inner.database.clone(),
                table: inner.table.clone(),
                columns: inner.columns.clone(),
                filter: inner_scan.filter,
                inner_offset,
                outer_exprs: oe,
                inner_exprs: ie,
                using,
            }),
            join_upper: Some(aliases),
        })
    }

    fn parallel_safe(_relid: pg_sys::Oid) -> bool {
        false
    }

    /// Only shown by ANALYZE VERBOSE: the sample is ClickHouse's.
    fn analyze_pages(_relid: pg_sys::Oid) -> LakeResult<Option<u32>> {
        Ok(Some(1))
    }

    /// ClickHouse's own row count, and a uniform random sample of its rows
    /// chosen by ClickHouse (`ORDER BY rand() LIMIT n`): only the sample travels.
    fn analyze_sample(relid: pg_sys::Oid, mapping_user: pg_sys::Oid, targrows: usize) -> LakeResult<Option<(f64, ChPlan)>> {
        let rel = remote::resolve(relid, mapping_user)?;
        let (server_name, endpoint) = remote::endpoint(rel.server, mapping_user)?;
        let qualified = format!("{}.{}", rel.database, rel.table);
        let count_sql = format!("SELECT count() FROM {} FORMAT TabSeparated", sql::table_name(&rel.database, &rel.table));
        let text = remote::query_text(&server_name, &endpoint, &format!("counting the rows of {qualified}"), &count_sql)?;
        let total: f64 = text.trim().parse().map_err(|_| {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_ERROR,
                format!("unexpected answer from ClickHouse server \"{server_name}\" counting the rows of {qualified}"),
            )
        })?;
        Ok(Some((
            total,
            ChPlan {
                relid: relid.to_u32(),
                server: rel.server.to_u32(),
                mapping_user: mapping_user.to_u32(),
                database: rel.database.clone(),
                table: rel.table.clone(),
                outputs: rel.columns.iter().map(OutputCol::column).collect(),
                columns: rel.columns.clone(),
                filter: None,
                group_by: Vec::new(),
                having: Vec::new(),
                order_by: vec!["rand()".into()],
                limit: Some(targrows as u64),
                upper: false,
                join: None,
                join_upper: None,
            },
        )))
    }

    fn begin_scan(plan: ChPlan, operands: Operands) -> LakeResult<ChScan> {
        ChScan::new(plan, operands)
    }

    fn explain_only(scan: &mut ChScan, cx: &ExecContext) -> LakeResult<()> {
        scan.plan_for_explain(cx)
    }

    fn next_row(scan: &mut ChScan, cx: &ExecContext, slot: &mut ScanSlot) -> LakeResult<bool> {
        scan.next_row(cx, slot)
    }

    fn rescan(scan: &mut ChScan) {
        scan.rescan();
    }

    fn end_scan(scan: &mut ChScan) {
        scan.rescan();
    }

    fn explain_scan(scan: &ChScan, _relid: Option<pg_sys::Oid>, out: &mut Explain) {
        scan.explain(out);
    }

    fn leader_only(_scan: &ChScan) -> bool {
        true
    }

    fn join_parallel(_scan: &mut ChScan, _participant: Participant) {}

    fn plan_modify(op: ModifyOp, on_conflict: bool) -> LakeResult<()> {
        match op {
            ModifyOp::Insert if on_conflict => Err(not_writable("INSERT ... ON CONFLICT")),
            ModifyOp::Insert => Ok(()),
            ModifyOp::Update => Err(not_writable("UPDATE")),
            ModifyOp::Delete => Err(not_writable("DELETE")),
            ModifyOp::Other => Err(not_writable("MERGE")),
        }
    }

    fn begin_modify(target: ModifyTarget) -> LakeResult<ChInsert> {
        if target.op != ModifyOp::Insert {
            return Err(not_writable("UPDATE or DELETE"));
        }
        ChInsert::begin(&target)
    }

    fn insert(state: &mut ChInsert, row: &Row<'_>) -> LakeResult<()> {
        state.insert(row)
    }

    fn delete(_state: &mut ChInsert, _old: &OldRow) -> LakeResult<()> {
        Err(not_writable("DELETE"))
    }

    fn update(_state: &mut ChInsert, _old: &OldRow, _new: &Row<'_>) -> LakeResult<()> {
        Err(not_writable("UPDATE"))
    }

    fn end_modify(state: ChInsert) -> LakeResult<()> {
        state.finish()
    }

    fn truncate(_relid: pg_sys::Oid) -> LakeResult<()> {
        Err(not_writable("TRUNCATE"))
    }

    fn import_schema(server: pg_sys::Oid, request: &ImportRequest) -> LakeResult<Vec<String>> {
        super::import::build_commands(server, request)
    }
}

extension_sql_file!(
    "../../sql/clickhouse/wrapper.sql",
    name = "clickhouse_wrapper",
    requires = [clickhouse_fdw_validator]
);
