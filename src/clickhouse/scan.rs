//! Running a ClickHouse scan: the SELECT built from the plan and the
//! operands' values, its rows streamed in (one chunk and one row in memory
//! at a time) and turned into datums, and the remote query killed if the
//! scan stops before ClickHouse finished (cancel, error, LIMIT met).

use std::ffi::CString;

use pgrx::{pg_sys, IntoDatum, PgSqlErrorCode};
use serde::{Deserialize, Serialize};

use super::http;
use super::join::ChJoin;
use super::options::Endpoint;
use super::remote::{self, LocalColumn};
use super::sql::{self, RemoteColumn};
use super::tsv::{self, LineReader};
use super::types::{ChType, ReadAs};
use crate::errors::{LakeError, LakeResult};
use crate::fdw::explain::Explain;
use crate::fdw::filter::{Filter, Value};
use crate::fdw::params::Operands;
use crate::fdw::scan::{ExecContext, ScanSlot};

/// One value of each row the scan returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputCol {
    /// What ClickHouse computes for it.
    pub expr: String,
    pub read: ReadAs,
    /// Its Postgres type.
    pub type_oid: u32,
    pub typmod: i32,
    /// The slot attribute it fills (0-based).
    pub slot: usize,
    /// A FixedString column (its NUL padding is dropped).
    pub fixed_string: bool,
    /// The ClickHouse type the result header must name (plain columns).
    pub check_type: Option<String>,
    /// For messages: the ClickHouse column or expression.
    pub label: String,
}

impl OutputCol {
    /// A plain column of the foreign table.
    pub fn column(c: &LocalColumn) -> OutputCol {
        OutputCol {
            expr: c.remote.select_expr(),
            read: c.remote.read,
            type_oid: c.type_oid,
            typmod: c.typmod,
            slot: c.index,
            fixed_string: matches!(c.remote.ch.base(), ChType::FixedString(_)),
            check_type: (c.remote.read != ReadAs::UnixSeconds).then(|| c.remote.type_name.clone()),
            label: c.remote.name.clone(),
        }
    }
}

/// What the planner decided, serialised into the plan (no credentials:
/// those are read from the user mapping when the scan starts).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChPlan {
    pub relid: u32,
    pub server: u32,
    pub mapping_user: u32,
    pub database: String,
    pub table: String,
    /// Every local column (indexes of `filter` refer to these).
    pub columns: Vec<LocalColumn>,
    /// What each row holds (none: the query needs no column).
    pub outputs: Vec<OutputCol>,
    pub filter: Option<Filter>,
    pub group_by: Vec<String>,
    /// HAVING clauses (exact: Postgres does not re-check them).
    #[serde(default)]
    pub having: Vec<String>,
    pub order_by: Vec<String>,
    /// Only sent when the whole WHERE is pushed exactly.
    pub limit: Option<u64>,
    /// An aggregate or ORDER BY computed remotely: its WHERE must be exact
    /// (the planner checked that it is for these operand values).
    pub upper: bool,
    /// A join computed remotely: this plan's table is its outer side.
    #[serde(default)]
    pub join: Option<ChJoin>,
    /// Aggregates, GROUP BY, ORDER BY over that join: the join's subquery
    /// returns these columns (aliases), the outputs are computed from them.
    #[serde(default)]
    pub join_upper: Option<Vec<String>>,
}

impl ChPlan {
    /// The SELECT for operand `values` (None: not known yet, so nothing
    /// is filtered or limited remotely), and whether its WHERE is exact.
    pub fn remote_sql(&self, values: Option<&[Value]>) -> (String, bool) {
        let remote: Vec<RemoteColumn> = self.columns.iter().map(|c| c.remote.clone()).collect();
        if let Some(join) = &self.join {
            let (ow, iw, exact) = super::join::deparse_sides(self.filter.as_ref(), &remote, join, values);
            let Some(columns) = &self.join_upper else {
                let outputs: Vec<String> = self.outputs.iter().map(|o| o.expr.clone()).collect();
                return (super::join::join_sql(join, &outputs, &self.database, &self.table, ow, iw), exact);
            };
            let select = sql::Select {
                from_sql: Some(super::join::join_sql(join, columns, &self.database, &self.table, ow, iw)),
                exprs: self.outputs.iter().map(|o| o.expr.clone()).collect(),
                group_by: self.group_by.clone(),
                having: self.having.clone(),
                order_by: self.order_by.clone(),
                limit: if exact { self.limit } else { None },
                ..Default::default()
            };
            return (select.sql(), exact);
        }
        let clause = match (&self.filter, values) {
            (Some(f), Some(v)) => sql::deparse(f, &remote, v),
            _ => None,
        };
        let exact = match (&self.filter, &clause) {
            (None, _) => true,
            (Some(_), Some(c)) => c.exact,
            (Some(_), None) => false,
        };
        let select = sql::Select {
            database: &self.database,
            table: &self.table,
            exprs: self.outputs.iter().map(|o| o.expr.clone()).collect(),
            where_sql: clause.map(|c| c.sql),
            group_by: self.group_by.clone(),
            having: self.having.clone(),
            order_by: self.order_by.clone(),
            limit: if exact { self.limit } else { None },
            from_sql: None,
        };
        (select.sql(), exact)
    }

    fn qualified(&self) -> String {
        match &self.join {
            Some(j) => format!("{}.{} JOIN {}.{}", self.database, self.table, j.database, j.table),
            None => format!("{}.{}", self.database, self.table),
        }
    }
}

/// A column's input function.
struct Input {
    finfo: Box<pg_sys::FmgrInfo>,
    ioparam: pg_sys::Oid,
    typmod: i32,
}

/// Sends `KILL QUERY` for a query that did not run to its end.
struct KillGuard {
    endpoint: Endpoint,
    query_id: String,
    armed: bool,
}

impl Drop for KillGuard {
    fn drop(&mut self) {
        if self.armed {
            // Fire and forget on the I/O threads: this may run while an
            // ERROR unwinds, where nothing may block.
            let (endpoint, id) = (self.endpoint.clone(), std::mem::take(&mut self.query_id));
            crate::runtime::runtime().spawn(async move {
                let _ = http::kill(&endpoint, &id).await;
            });
        }
    }
}

struct Running {
    server_name: String,
    resp: reqwest::Response,
    reader: LineReader,
    /// Header lines (names, types) still to read.
    headers_left: u8,
    ended: bool,
    guard: KillGuard,
    sql: String,
}

pub struct ChScan {
    pub plan: ChPlan,
    operands: Operands,
    inputs: Vec<Option<Input>>,
    running: Option<Running>,
    finished: bool,
    /// The SELECT sent (or, under EXPLAIN, that would be sent).
    sql: Option<String>,
    rows: u64,
    /// EXPLAIN planned `sql` without the operands' values (parameters).
    values_unknown: bool,
}

impl ChScan {
    pub fn new(plan: ChPlan, operands: Operands) -> LakeResult<ChScan> {
        let inputs = plan
            .outputs
            .iter()
            .map(|o| match o.read {
                ReadAs::UnixSeconds | ReadAs::Bytes | ReadAs::Average { .. } => None,
                _ => Some(input_of(o.type_oid, o.typmod)),
            })
            .collect();
        Ok(ChScan { plan, operands, inputs, running: None, finished: false, sql: None, rows: 0, values_unknown: false })
    }

    pub fn plan_for_explain(&mut self, cx: &ExecContext) -> LakeResult<()> {
        let values = if self.operands.all_constant() { cx.evaluate_beyond(&self.operands)? } else { None };
        self.values_unknown = values.is_none();
        self.sql = Some(self.plan.remote_sql(values.as_deref()).0);
        Ok(())
    }

    pub fn rescan(&mut self) {
        self.running = None;
        self.finished = false;
    }

    fn start(&mut self, cx: &ExecContext) -> LakeResult<()> {
        let values = cx.evaluate_beyond(&self.operands)?;
        let (sql, exact) = self.plan.remote_sql(values.as_deref());
        if self.plan.upper && !exact {
            // The planner pushed the aggregate or ORDER BY for any operand
            // values; a value with no counterpart outside Postgres (NaN,
            // infinity) cannot be sent.
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "cannot compute this query in ClickHouse for these parameter values",
            )
            .with_detail(format!("Remote SQL without its WHERE: {sql}"))
            .with_hint("A parameter is NaN or infinity. Run it with SET plan_cache_mode = force_custom_plan, or compare with a finite value."));
        }
        let (server_name, endpoint) =
            remote::endpoint(pg_sys::Oid::from(self.plan.server), pg_sys::Oid::from(self.plan.mapping_user))?;
        let query_id = uuid::Uuid::new_v4().to_string();
        let full = format!("{sql} FORMAT TabSeparatedWithNamesAndTypes");
        // Armed before sending: an aggregate answers only when it is done,
        // so a cancel usually comes while we wait for the first byte.
        let mut guard = KillGuard { endpoint, query_id, armed: true };
        // Rows without a match get NULLs, as in Postgres, not default values.
        let settings: &[(&str, &str)] = if self.plan.join.is_some() { &[("join_use_nulls", "1")] } else { &[] };
        let resp = match crate::runtime::block_on(http::send_settings(&guard.endpoint, &full, &guard.query_id, settings)) {
            Ok(resp) => resp,
            Err(e) => {
                // Refused or unreachable: there is nothing to stop.
                guard.armed = false;
                let what = format!("reading {}", self.plan.qualified());
                return Err(remote::error(&server_name, &guard.endpoint, &what, e).with_detail(format!("Remote SQL: {sql}")));
            }
        };
        self.sql = Some(sql.clone());
        self.running = Some(Running {
            server_name,
            resp,
            reader: LineReader::default(),
            headers_left: 2,
            ended: false,
            guard,
            sql,
        });
        Ok(())
    }

    pub fn next_row(&mut self, cx: &ExecContext, slot: &mut ScanSlot) -> LakeResult<bool> {
        if self.finished {
            return Ok(false);
        }
        if self.running.is_none() {
            self.start(cx)?;
        }
        loop {
            let running = self.running.as_mut().expect("scan is running");
            if let Some(line) = running.reader.next_line() {
                if running.headers_left > 0 {
                    running.headers_left -= 1;
                    if running.headers_left == 0 {
                        check_types(&self.plan, &line)?;
                    }
                    continue;
                }
                // A late error is appended as a line of text. With several
                // columns it cannot parse as a row (no tabs: see fill's
                // error path); a one-column row could look the same, so
                // such a line is taken as ClickHouse's error.
                if self.plan.outputs.len() <= 1 && line.starts_with(b"Code: ") {
                    if let Some(e) = in_body_error(running, &line) {
                        return Err(e);
                    }
                }
                let (plan, inputs) = (&self.plan, &mut self.inputs);
                cx.in_tuple_memory(|| fill(plan, inputs, &line, slot))
                    .map_err(|e| in_body_error(running, &line).unwrap_or(e))?;
                self.rows += 1;
                return Ok(true);
            }
            if running.ended {
                let rest = running.reader.remainder().to_vec();
                if !rest.is_empty() {
                    return Err(in_body_error(running, &rest).unwrap_or_else(|| {
                        protocol_error(&running.server_name, &self.plan, "the result ended in the middle of a row")
                    }));
                }
                if running.headers_left > 0 {
                    return Err(protocol_error(&running.server_name, &self.plan, "the result has no header"));
                }
                running.guard.armed = false;
                self.finished = true;
                self.running = None;
                return Ok(false);
            }
            match crate::runtime::block_on(http::next_chunk(&mut running.resp)) {
                Ok(Some(chunk)) => running.reader.push(&chunk),
                Ok(None) => running.ended = true,
                Err(e) => {
                    let what = format!("reading {}", self.plan.qualified());
                    return Err(remote::error(&running.server_name, &running.guard.endpoint, &what, e));
                }
            }
        }
    }

    pub fn explain(&self, out: &mut Explain) {
        out.text("ClickHouse Table", &self.plan.qualified());
        if out.verbose() {
            let sql = self.sql.clone().unwrap_or_else(|| self.plan.remote_sql(None).0);
            out.text("Remote SQL", &sql);
            let join_filter = self.plan.join.as_ref().is_some_and(|j| j.filter.is_some());
            let filtered = self.plan.filter.is_some() || join_filter;
            let unknown = self.sql.is_none() || self.values_unknown;
            if unknown && filtered && (!self.plan.upper || self.plan.join.is_some()) {
                out.text("Remote Filter", "built at execution (it depends on parameters)");
            }
        }
        if out.analyze() {
            out.integer("Rows Fetched", self.rows as i64);
        }
    }
}

/// ClickHouse writes a late error into the body: `Code: N, ...`.
fn in_body_error(running: &Running, text: &[u8]) -> Option<LakeError> {
    let msg = tsv::error_in_body(text).filter(|m| m.contains("Exception"))?;
    let err = http::parse_error(&msg)?;
    Some(
        remote::error(&running.server_name, &running.guard.endpoint, "streaming rows", err)
            .with_detail(format!("Remote SQL: {}", running.sql)),
    )
}

fn protocol_error(server: &str, plan: &ChPlan, what: &str) -> LakeError {
    LakeError::new(
        PgSqlErrorCode::ERRCODE_FDW_ERROR,
        format!("unexpected answer from ClickHouse server \"{server}\" reading {}: {what}", plan.qualified()),
    )
    .with_hint("Run the query again; if it persists, see the ClickHouse server's log.")
}

/// The types ClickHouse says it sends must be those the plan expects: a
/// table altered since planning (a cached plan) is an ERROR, not garbage.
fn check_types(plan: &ChPlan, line: &[u8]) -> LakeResult<()> {
    let types = tsv::fields(line);
    for (k, o) in plan.outputs.iter().enumerate() {
        let Some(want) = &o.check_type else { continue };
        let got = types.get(k).cloned().flatten().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        if got != *want {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!(
                    "ClickHouse column {}.{}.{} is now {got}, not {want} as when the query was planned",
                    plan.database, plan.table, o.label
                ),
            )
            .with_hint("Run the statement again (a new plan reads the new type), and check the foreign table's column types."));
        }
    }
    Ok(())
}

fn input_of(type_oid: u32, typmod: i32) -> Input {
    let mut func = pg_sys::Oid::INVALID;
    let mut ioparam = pg_sys::Oid::INVALID;
    // SAFETY: catalog lookups; fmgr_info fills the boxed FmgrInfo, whose
    // cache (fn_extra) lives in the current (executor) memory context.
    unsafe {
        pg_sys::getTypeInputInfo(pg_sys::Oid::from(type_oid), &mut func, &mut ioparam);
        let mut finfo: Box<pg_sys::FmgrInfo> = Box::new(std::mem::zeroed());
        pg_sys::fmgr_info(func, finfo.as_mut());
        Input { finfo, ioparam, typmod }
    }
}

fn fill(plan: &ChPlan, inputs: &mut [Option<Input>], line: &[u8], slot: &mut ScanSlot) -> LakeResult<()> {
    let raw = tsv::raw_fields(line);
    let expected = plan.outputs.len().max(1);
    if raw.len() != expected {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_ERROR,
            format!("ClickHouse sent a row of {} fields for {} columns of {}.{}", raw.len(), expected, plan.database, plan.table),
        ));
    }
    slot.fill(|values, nulls| {
        for (k, o) in plan.outputs.iter().enumerate() {
            let field = raw[k];
            if field == b"\\N" {
                continue;
            }
            if let Some(value) = datum(plan, o, inputs[k].as_mut(), field)? {
                values[o.slot] = value;
                nulls[o.slot] = false;
            }
        }
        Ok(())
    })
}

/// A decimal's text at exactly `scale` fractional digits (newer ClickHouse
/// releases drop trailing zeros); None when it is not a plain decimal or has
/// more digits than that.
fn with_scale(text: &str, scale: u32) -> Option<String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) || frac.len() > scale as usize {
        return None;
    }
    let mut out = text.to_string();
    if scale > 0 {
        if frac.is_empty() {
            out.push('.');
        }
        out.extend(std::iter::repeat_n('0', scale as usize - frac.len()));
    }
    Some(out)
}

/// `sum / count` in numeric, by Postgres' own numeric_div: the value and
/// display scale avg itself returns (its final functions divide the same way).
fn numeric_div(sum: &str, count: &str) -> pg_sys::Datum {
    let numeric = |text: &str| {
        let c = CString::new(text).expect("digits only");
        // SAFETY: numeric_in reads the NUL-terminated text; the two extra
        // arguments are the type's I/O parameter and typmod (-1: as written).
        unsafe {
            pg_sys::OidFunctionCall3Coll(
                pg_sys::Oid::from(pg_sys::F_NUMERIC_IN),
                pg_sys::Oid::INVALID,
                pg_sys::Datum::from(c.as_ptr()),
                pg_sys::Datum::from(pg_sys::Oid::INVALID),
                pg_sys::Datum::from(-1i32),
            )
        }
    };
    let (s, n) = (numeric(sum), numeric(count));
    // SAFETY: two numeric datums; count is never 0 (empty groups are NULL remotely).
    unsafe { pg_sys::OidFunctionCall2Coll(pg_sys::Oid::from(pg_sys::F_NUMERIC_DIV), pg_sys::Oid::INVALID, s, n) }
}

/// The value of one field; None for NULL (an average of no values).
fn datum(plan: &ChPlan, o: &OutputCol, input: Option<&mut Input>, field: &[u8]) -> LakeResult<Option<pg_sys::Datum>> {
    let bad = |what: String| {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
            format!("cannot read {} of ClickHouse table {}.{}: {what}", o.label, plan.database, plan.table),
        )
    };
    let text = match o.read {
        ReadAs::UnixSeconds => {
            let s = tsv::unescape(field);
            let secs: i64 = std::str::from_utf8(&s).ok().and_then(|s| s.parse().ok()).ok_or_else(|| bad("not a timestamp".into()))?;
            return Ok(Some(pg_sys::Datum::from(crate::pg::time::unix_micros_to_pg_micros(secs * 1_000_000))));
        }
        ReadAs::Bytes => {
            let b = tsv::unescape(field);
            return b.as_slice().into_datum().map(Some).ok_or_else(|| bad("bytea".into()));
        }
        ReadAs::Average { scale } => {
            let b = tsv::unescape(field);
            return match average_pair(&b, scale) {
                Some(None) => Ok(None),
                Some(Some((sum, count))) => Ok(Some(numeric_div(&sum, &count))),
                None => Err(bad(format!("\"{}\" is not a (sum,count) pair", String::from_utf8_lossy(&b)))),
            };
        }
        ReadAs::Array => tsv::array_to_pg(field).map_err(bad)?,
        ReadAs::RawText => field.to_vec(),
        ReadAs::Date => {
            let b = tsv::unescape(field);
            // ClickHouse prints its day 0 as 0000-00-00.
            if b == b"0000-00-00" {
                b"1970-01-01".to_vec()
            } else {
                b
            }
        }
        ReadAs::Text => {
            let mut b = tsv::unescape(field);
            if o.fixed_string {
                // FixedString pads with NUL bytes.
                while b.last() == Some(&0) {
                    b.pop();
                }
            }
            b
        }
    };
    let Some(input) = input else { return Err(LakeError::internal("column has no input function")) };
    let cstr = CString::new(text).map_err(|_| {
        bad("the value contains a NUL byte, which Postgres text cannot hold".into())
            .with_hint("Declare the column as bytea to read such values.")
    })?;
    // SAFETY: pg_any_to_server verifies (and converts) the UTF-8 bytes and
    // returns either its NUL-terminated input or a palloc'd copy; the input
    // function copies what it keeps.
    unsafe {
        let len = cstr.as_bytes().len() as i32;
        let converted = pg_sys::pg_any_to_server(cstr.as_ptr(), len, pg_sys::pg_enc::PG_UTF8 as i32);
        Ok(Some(pg_sys::InputFunctionCall(input.finfo.as_mut(), converted, input.ioparam, input.typmod)))
    }
}

/// An avg's `(sum,count)` as the sum at `scale` and the count; Some(None)
/// for a count of 0 (the average of no values is NULL; the sum is then NULL
/// or 0); None when the text is not such a pair.
fn average_pair(text: &[u8], scale: u32) -> Option<Option<(String, String)>> {
    let text = std::str::from_utf8(text).ok()?;
    let (sum, count) = text.strip_prefix('(')?.strip_suffix(')')?.split_once(',')?;
    let count = with_scale(count, 0)?;
    if count.starts_with('-') {
        return None;
    }
    if count.trim_start_matches('0').is_empty() {
        return Some(None);
    }
    Some(Some((with_scale(sum, scale)?, count)))
}

#[cfg(test)]
mod tests {
    use super::average_pair;

    #[test]
    fn average_pairs() {
        let pair = |t: &str, scale| average_pair(t.as_bytes(), scale);
        // More than 20 digits: what toString of a Decimal128 garbles in 18.16.
        assert_eq!(
            pair("(2379629985855291140817,900)", 0),
            Some(Some(("2379629985855291140817".into(), "900".into())))
        );
        assert_eq!(pair("(-56111070150.0000,900)", 4), Some(Some(("-56111070150.0000".into(), "900".into()))));
        // Newer releases drop trailing zeros: the scale is restored.
        assert_eq!(pair("(-5.5,2)", 4), Some(Some(("-5.5000".into(), "2".into()))));
        // No values: NULL, whatever the sum says.
        assert_eq!(pair("(NULL,0)", 0), Some(None));
        assert_eq!(pair("(0,0)", 2), Some(None));
        for bad in ["2\u{0}79/900", "(1,2", "1,2)", "(1.123,2)", "(x,1)", "(1,-1)", "(1,)", "(,1)"] {
            assert_eq!(pair(bad, 2), None, "{bad:?}");
        }
    }
}
