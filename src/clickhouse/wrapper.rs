//! The `clickhouse` foreign data wrapper: its handler and validator, and
//! what is particular to ClickHouse in each FDW callback (the callbacks
//! themselves are in `fdw::routine`).

use std::collections::BTreeMap;

use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::options::{check_value, COLUMN_OPTIONS, SERVER_OPTIONS, TABLE_OPTIONS, USER_MAPPING_OPTIONS};
use super::remote::{self, Resolved};
use super::scan::{ChPlan, ChScan};
use crate::errors::{LakeError, LakeResult, OrReport};
use crate::fdw::explain::Explain;
use crate::fdw::modify::{ModifyOp, ModifyTarget, OldRow, Row};
use crate::fdw::options::{check_names, OptionTarget};
use crate::fdw::parallel::Participant;
use crate::fdw::params::Operands;
use crate::fdw::paths::ScanCost;
use crate::fdw::routine::{Estimate, ImportRequest, PlannedScan, Wrapper};
use crate::fdw::scan::{ExecContext, ScanSlot};

crate::fdw_handler!(clickhouse_fdw_handler, pg_finfo_clickhouse_fdw_handler, ClickHouse);

/// `lake.clickhouse_fdw_validator(options, catalog)`: checks option names
/// and values (no network access) when a server, user mapping, foreign
/// table or column is created or altered.
#[pg_extern]
pub fn clickhouse_fdw_validator(options: Option<Vec<Option<String>>>, catalog: pg_sys::Oid) {
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

fn read_only() -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "ClickHouse foreign tables are read-only in this version of townlake",
    )
    .with_hint("Insert into ClickHouse directly; townlake reads the rows as soon as ClickHouse has them.")
}

/// The ClickHouse wrapper.
pub struct ClickHouse;

impl Wrapper for ClickHouse {
    type Rel = Resolved;
    type Plan = ChPlan;
    type Scan = ChScan;
    type Modify = ();

    // Listed so that writes reach plan_modify, which says why they fail.
    const UPDATABLE: &'static [ModifyOp] = &[ModifyOp::Insert, ModifyOp::Update, ModifyOp::Delete];

    fn estimate(relid: pg_sys::Oid, mapping_user: pg_sys::Oid) -> LakeResult<Estimate<Resolved>> {
        let rel = remote::resolve(relid, mapping_user)?;
        Ok(Estimate {
            columns: rel.classify_columns(),
            // Tables without a row count (engines other than MergeTree): a
            // guess that keeps joins sensible.
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
            columns: rel.columns.clone(),
            needed: scan.needed,
            filter: scan.filter,
            limit: scan.limit,
        })
    }

    fn parallel_safe(_relid: pg_sys::Oid) -> bool {
        false
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

    fn plan_modify(_op: ModifyOp, _on_conflict: bool) -> LakeResult<()> {
        Err(read_only())
    }

    fn begin_modify(_target: ModifyTarget) -> LakeResult<()> {
        Err(read_only())
    }

    fn insert(_state: &mut (), _row: &Row<'_>) -> LakeResult<()> {
        Err(read_only())
    }

    fn delete(_state: &mut (), _old: &OldRow) -> LakeResult<()> {
        Err(read_only())
    }

    fn update(_state: &mut (), _old: &OldRow, _new: &Row<'_>) -> LakeResult<()> {
        Err(read_only())
    }

    fn end_modify(_state: ()) -> LakeResult<()> {
        Ok(())
    }

    fn truncate(_relid: pg_sys::Oid) -> LakeResult<()> {
        Err(read_only())
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
