//! What a run does to its target, decided when it runs: the SQL text is
//! analysed again (a `SELECT *` may have gained or lost columns since the
//! definition), the target evolved by the model's `on_schema_change`, then
//! the materialization's statements executed. Called as the model's owner,
//! inside the run's subtransaction (sql.rs): an ERROR anywhere rolls back
//! every step, the schema change included.
//!
//! `merge` into an Iceberg target and `delete+insert` stage the batch in a
//! temporary table first, so the model's query runs once and the rows
//! deleted and inserted come from the same result; all statements of a run
//! are one transaction, so on an Iceberg target they commit as one snapshot.

use std::cell::RefCell;
use std::ffi::CString;

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::incremental::{diff_columns, parse_partition_spec, Column, OnSchemaChange, PartitionTerm, SchemaDiff};
use super::progress::{self, Phase};
use super::spi::{as_catalog_owner, exec, json_of, quote_ident};
use crate::errors::{LakeError, LakeResult};

/// What a run did, for lake.runs and lake.run_metadata. Filled as the run
/// goes, so a failed run still tells which statements it tried.
#[derive(Debug, Default, Clone)]
pub struct RunLog {
    pub statements: Vec<String>,
    pub columns: Vec<Column>,
    pub batch_rows: Option<i64>,
    pub batch_bytes: Option<i64>,
    pub inserted: Option<i64>,
    pub deleted: Option<i64>,
    pub merged: Option<i64>,
    pub partitions: Option<Vec<String>>,
    pub schema_change: Option<Value>,
}

impl RunLog {
    pub fn row_counts(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in [("batch", self.batch_rows), ("inserted", self.inserted), ("deleted", self.deleted), ("merged", self.merged)] {
            if let Some(v) = v {
                m.insert(k.to_string(), json!(v));
            }
        }
        if let Some(b) = self.batch_bytes {
            m.insert("batch_bytes".into(), json!(b));
        }
        Value::Object(m)
    }
}

thread_local! {
    /// The log of the run executing in this backend.
    pub static LOG: RefCell<RunLog> = RefCell::new(RunLog::default());
}

fn note(statement: &str) {
    LOG.with(|l| l.borrow_mut().statements.push(statement.to_string()));
}

fn run_statement(statement: &str) -> LakeResult<u64> {
    note(statement);
    exec(statement, &[])
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn invalid(code: PgSqlErrorCode, msg: impl Into<String>, hint: impl Into<String>) -> LakeError {
    LakeError::new(code, msg).with_hint(hint)
}

/// The output columns of `sql` with their types, by Postgres' analyzer
/// (as the current user, with the current search_path).
pub fn query_columns(sql: &str) -> Vec<Column> {
    let text = CString::new(sql).unwrap_or_default();
    let mut out = vec![];
    // SAFETY: backend thread inside a transaction; the parser and analyzer
    // raise ERRORs the usual way; every pointer read comes from their
    // results. The definition already checked this is one SELECT.
    unsafe {
        let raw = pg_sys::raw_parser(text.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        let stmts = crate::pg::nodes::ptrs::<pg_sys::RawStmt>(raw);
        let Some(stmt) = stmts.first() else { return out };
        let query = pg_sys::parse_analyze_fixedparams(*stmt, text.as_ptr(), std::ptr::null_mut(), 0, std::ptr::null_mut());
        for te in crate::pg::nodes::ptrs::<pg_sys::TargetEntry>((*query).targetList) {
            if (*te).resjunk {
                continue;
            }
            let name = if (*te).resname.is_null() {
                "?column?".to_string()
            } else {
                std::ffi::CStr::from_ptr((*te).resname).to_string_lossy().into_owned()
            };
            let expr = (*te).expr as *const pg_sys::Node;
            let ty = pg_sys::format_type_with_typemod(pg_sys::exprType(expr), pg_sys::exprTypmod(expr));
            let type_name = std::ffi::CStr::from_ptr(ty).to_string_lossy().into_owned();
            out.push(Column { name, type_name });
        }
    }
    out
}

/// The target's live columns, in order.
fn target_columns(oid: pg_sys::Oid) -> LakeResult<Vec<Column>> {
    let v = json_of(
        "SELECT coalesce(jsonb_agg(jsonb_build_array(attname, pg_catalog.format_type(atttypid, atttypmod)) ORDER BY attnum), '[]') \
         FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) $1 AND attnum OPERATOR(pg_catalog.>) 0 AND NOT attisdropped",
        &[oid.into()],
    )?
    .unwrap_or(json!([]));
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some(Column { name: c[0].as_str()?.to_string(), type_name: c[1].as_str()?.to_string() }))
        .collect())
}

/// The target of a run.
pub struct Target {
    pub oid: pg_sys::Oid,
    pub qualified: String,
    pub is_iceberg: bool,
}

fn strings(row: &Value, k: &str) -> Vec<String> {
    row[k].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Evolves the target for `diff` by `policy` (or fails); returns what it did.
fn apply_schema_change(model: &str, target: &Target, diff: &SchemaDiff, policy: OnSchemaChange) -> LakeResult<Value> {
    if policy == OnSchemaChange::Fail {
        return Err(invalid(
            PgSqlErrorCode::ERRCODE_INVALID_TABLE_DEFINITION,
            format!("the columns of model \"{model}\" no longer match its target {}: {}", target.qualified, diff.describe()),
            "Redefine the model with on_schema_change => 'append_new_columns' or 'sync', or change the target's columns yourself.",
        ));
    }
    let alter = if target.is_iceberg { "ALTER FOREIGN TABLE" } else { "ALTER TABLE" };
    let mut done = vec![];
    for c in &diff.added {
        run_statement(&format!("{alter} {} ADD COLUMN {} {}", target.qualified, quote_ident(&c.name), c.type_name))?;
        done.push(format!("added {} {}", c.name, c.type_name));
    }
    if policy == OnSchemaChange::Sync {
        for c in &diff.lost {
            run_statement(&format!("{alter} {} DROP COLUMN {}", target.qualified, quote_ident(c)))?;
            done.push(format!("dropped {c}"));
        }
        for (c, _, to) in &diff.retyped {
            // Iceberg allows only its promotions; the wrapper refuses others.
            let using = if target.is_iceberg { String::new() } else { format!(" USING {}::{to}", quote_ident(c)) };
            run_statement(&format!("{alter} {} ALTER COLUMN {} TYPE {to}{using}", target.qualified, quote_ident(c)))?;
            done.push(format!("retyped {c} to {to}"));
        }
    }
    Ok(json!({"policy": policy.as_str(), "found": diff.describe(), "applied": done}))
}

/// SQL yielding, per row of the batch `b`, the predicate on the target that
/// selects the partition of that row (for `delete+insert`).
fn partition_predicate_sql(terms: &[PartitionTerm], columns: &[Column]) -> LakeResult<String> {
    let mut parts = vec![];
    for t in terms {
        let col = t.column();
        let ty = columns.iter().find(|c| c.name == col).map(|c| c.type_name.clone()).ok_or_else(|| {
            invalid(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                format!("partition_by names column \"{col}\", which the model does not select"),
                "partition_by names output columns of the model",
            )
        })?;
        let b = format!("b.{}", quote_ident(col));
        let part = match t {
            PartitionTerm::Identity(_) => format!(
                "CASE WHEN {b} IS NULL THEN pg_catalog.format('%I IS NULL', {c}) \
                 ELSE pg_catalog.format('%I = %L::%s', {c}, {b}::text, {ty}) END",
                c = lit(col),
                ty = lit(&ty)
            ),
            PartitionTerm::Time(unit, _) => {
                let u = unit.as_str();
                let (lo, hi) = match ty.as_str() {
                    "timestamp with time zone" => (
                        format!("pg_catalog.date_trunc('{u}', {b}, 'UTC')"),
                        format!("(pg_catalog.timezone('UTC', pg_catalog.date_trunc('{u}', {b}, 'UTC')) + interval '1 {u}') AT TIME ZONE 'UTC'"),
                    ),
                    "timestamp without time zone" => {
                        (format!("pg_catalog.date_trunc('{u}', {b})"), format!("pg_catalog.date_trunc('{u}', {b}) + interval '1 {u}'"))
                    }
                    "date" if *unit != super::incremental::TimeUnit::Hour => (
                        format!("pg_catalog.date_trunc('{u}', {b})::date"),
                        format!("(pg_catalog.date_trunc('{u}', {b}) + interval '1 {u}')::date"),
                    ),
                    other => {
                        return Err(invalid(
                            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                            format!("partition term {u}({col}) needs a timestamp or date column; \"{col}\" is {other}"),
                            "use the column itself (identity) or a time column",
                        ))
                    }
                };
                format!(
                    "CASE WHEN {b} IS NULL THEN pg_catalog.format('%I IS NULL', {c}) \
                     ELSE pg_catalog.format('(%I >= %L::%s AND %I < %L::%s)', {c}, ({lo})::text, {ty}, {c}, ({hi})::text, {ty}) END",
                    c = lit(col),
                    ty = lit(&ty)
                )
            }
        };
        parts.push(part);
    }
    Ok(format!("'(' || pg_catalog.concat_ws(' AND ', {}) || ')'", parts.join(", ")))
}

/// Runs the statements of an incremental model; returns rows written.
fn incremental(row: &Value, target: &Target, run_id: i64) -> LakeResult<u64> {
    let name = row["name"].as_str().unwrap_or("");
    let sql = row["sql"].as_str().unwrap_or("");
    let strategy = row["strategy"].as_str().unwrap_or("append");
    let policy = OnSchemaChange::parse(row["on_schema_change"].as_str().unwrap_or("fail")).unwrap_or(OnSchemaChange::Fail);

    progress::set_phase(Phase::CheckingSchema);
    let query = query_columns(sql);
    LOG.with(|l| l.borrow_mut().columns = query.clone());
    let produced = strings(row, "output_columns");
    let before = (policy != OnSchemaChange::Sync).then_some(produced.as_slice());
    let diff = diff_columns(&query, &target_columns(target.oid)?, before);
    if !diff.is_empty() {
        let change = apply_schema_change(name, target, &diff, policy)?;
        LOG.with(|l| l.borrow_mut().schema_change = Some(change));
        // The model produces these columns from now on (rolled back with
        // the run if it fails).
        let names: Vec<String> = query.iter().map(|c| c.name.clone()).collect();
        as_catalog_owner(|| {
            exec("UPDATE lake.models SET output_columns = $2 WHERE name OPERATOR(pg_catalog.=) $1", &[name.into(), names.into()])
        })?;
    }
    let cols: Vec<String> = query.iter().map(|c| quote_ident(&c.name)).collect();
    let col_list = cols.join(", ");
    let sel_list = cols.iter().map(|c| format!("model.{c}")).collect::<Vec<_>>().join(", ");
    let t = &target.qualified;
    let keys = strings(row, "unique_key");

    if strategy == "append" || (strategy == "merge" && !target.is_iceberg) {
        progress::set_phase(Phase::Writing);
        let statement = if strategy == "append" {
            format!("INSERT INTO {t} ({col_list}) SELECT {sel_list} FROM ({sql}) AS model")
        } else {
            let on = keys.iter().map(|k| format!("t.{0} = model.{0}", quote_ident(k))).collect::<Vec<_>>().join(" AND ");
            let set = query
                .iter()
                .filter(|c| !keys.contains(&c.name))
                .map(|c| format!("{0} = model.{0}", quote_ident(&c.name)))
                .collect::<Vec<_>>()
                .join(", ");
            let matched = if set.is_empty() { "DO NOTHING".to_string() } else { format!("UPDATE SET {set}") };
            format!(
                "MERGE INTO {t} AS t USING ({sql}) AS model ON {on} WHEN MATCHED THEN {matched} \
                 WHEN NOT MATCHED THEN INSERT ({col_list}) VALUES ({sel_list})"
            )
        };
        let n = run_statement(&statement)?;
        progress::add_rows(n);
        LOG.with(|l| {
            let mut l = l.borrow_mut();
            if strategy == "append" {
                l.inserted = Some(n as i64)
            } else {
                l.merged = Some(n as i64)
            }
        });
        return Ok(n);
    }

    // Stage the batch: the query runs once.
    progress::set_phase(Phase::StagingBatch);
    let batch = format!("pg_temp.townlake_batch_{run_id}");
    // Created empty outside the security restriction (WITH NO DATA runs no
    // user code), filled inside it.
    crate::pg::security::allow_own_temp_objects(|| {
        run_statement(&format!("CREATE TEMPORARY TABLE townlake_batch_{run_id} ON COMMIT DROP AS SELECT {sel_list} FROM ({sql}) AS model WITH NO DATA"))
    })?;
    let staged = run_statement(&format!("INSERT INTO {batch} SELECT {sel_list} FROM ({sql}) AS model"))?;
    let bytes = json_of(&format!("SELECT to_jsonb(pg_catalog.pg_total_relation_size('{batch}'::regclass))"), &[])?
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    progress::add_bytes(bytes);
    LOG.with(|l| {
        let mut l = l.borrow_mut();
        l.batch_rows = Some(staged as i64);
        l.batch_bytes = Some(bytes);
    });

    progress::set_phase(Phase::Deleting);
    let deleted = if strategy == "merge" {
        // Iceberg: MERGE does not write foreign tables, so the rows with the
        // batch's keys are deleted and the batch inserted. A key twice in the
        // batch would be two rows after; MERGE refuses that, and so does this.
        let key_list = keys.iter().map(|k| quote_ident(k)).collect::<Vec<_>>().join(", ");
        let dup = json_of(
            &format!("SELECT to_jsonb(count(*)) FROM (SELECT 1 FROM {batch} GROUP BY {key_list} HAVING count(*) > 1) d"),
            &[],
        )?
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
        if dup > 0 {
            return Err(invalid(
                PgSqlErrorCode::ERRCODE_CARDINALITY_VIOLATION,
                format!("model \"{name}\" returned {dup} unique_key value(s) more than once; merge needs one row per key"),
                "Make the model's SELECT return one row per unique_key (GROUP BY, DISTINCT ON).",
            ));
        }
        let on = keys.iter().map(|k| format!("t.{0} = b.{0}", quote_ident(k))).collect::<Vec<_>>().join(" AND ");
        run_statement(&format!("DELETE FROM {t} AS t WHERE EXISTS (SELECT 1 FROM {batch} b WHERE {on})"))?
    } else {
        let spec = row["partition_by"].as_str().unwrap_or("");
        let terms = parse_partition_spec(spec).map_err(|e| invalid(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, e.message, e.hint))?;
        let predicate = partition_predicate_sql(&terms, &query)?;
        let v = json_of(
            &format!("SELECT coalesce(jsonb_agg(p ORDER BY p), '[]') FROM (SELECT DISTINCT {predicate} AS p FROM {batch} b) x"),
            &[],
        )?
        .unwrap_or(json!([]));
        let partitions: Vec<String> = v.as_array().into_iter().flatten().filter_map(|p| p.as_str().map(str::to_string)).collect();
        LOG.with(|l| l.borrow_mut().partitions = Some(partitions.clone()));
        if partitions.is_empty() {
            0
        } else {
            run_statement(&format!("DELETE FROM {t} WHERE {}", partitions.join(" OR ")))?
        }
    };
    LOG.with(|l| l.borrow_mut().deleted = Some(deleted as i64));

    progress::set_phase(Phase::Writing);
    let inserted = run_statement(&format!("INSERT INTO {t} ({col_list}) SELECT {col_list} FROM {batch}"))?;
    progress::add_rows(inserted);
    run_statement(&format!("DROP TABLE {batch}"))?;
    LOG.with(|l| l.borrow_mut().inserted = Some(inserted as i64));
    Ok(inserted)
}

/// Runs the statements of `row`'s materialization into `target`; returns
/// rows written (None for a view).
pub fn materialize(row: &Value, target: Option<&Target>, run_id: i64) -> LakeResult<Option<u64>> {
    let s = |k: &str| row[k].as_str().unwrap_or("").to_string();
    let qualified = format!("{}.{}", quote_ident(&s("target_schema")), quote_ident(&s("target_name")));
    let sql = s("sql");
    match s("materialization").as_str() {
        "view" => {
            progress::set_phase(Phase::Writing);
            run_statement(&format!("CREATE OR REPLACE VIEW {qualified} AS {sql}"))?;
            Ok(None)
        }
        "table" => {
            let cols = strings(row, "output_columns").iter().map(|c| quote_ident(c)).collect::<Vec<_>>();
            let sel = cols.iter().map(|c| format!("model.{c}")).collect::<Vec<_>>().join(", ");
            // One transaction: readers see the old rows or the new, never
            // none; on an Iceberg table the TRUNCATE and INSERT commit as one
            // overwrite snapshot.
            progress::set_phase(Phase::Deleting);
            run_statement(&format!("TRUNCATE {qualified}"))?;
            progress::set_phase(Phase::Writing);
            let n = run_statement(&format!("INSERT INTO {qualified} ({}) SELECT {sel} FROM ({sql}) AS model", cols.join(", ")))?;
            progress::add_rows(n);
            LOG.with(|l| l.borrow_mut().inserted = Some(n as i64));
            Ok(Some(n))
        }
        _ => {
            let target = target.ok_or_else(|| {
                invalid(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                    format!("the target {qualified} of model \"{}\" does not exist", s("name")),
                    "Redefine the model: an incremental model's target is created at definition.",
                )
            })?;
            incremental(row, target, run_id).map(Some)
        }
    }
}
