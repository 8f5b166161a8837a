//! Pipelines: copy a source (a table, view or query of this database, a
//! `postgres_fdw` or ClickHouse foreign table) into a target (an Iceberg
//! foreign table or a heap table), by full `replace` or incremental
//! `append` past a high watermark.
//!
//! Exactly-once: a run is one Postgres transaction (the scheduler's, or the
//! caller's of `lake.run_pipeline_now`) in which the rows, the new watermark
//! and the run's outcome all commit or none does. For an Iceberg target the
//! watermark and the run id travel in the summary of the very snapshot that
//! adds the rows (`townlake.pipeline`, `townlake.watermark`,
//! `townlake.run-id`) and the next run reads them back from the table's
//! snapshot history; for a heap target the watermark row in lake.pipelines
//! is written in the same transaction as the rows. A crash anywhere before
//! the commit leaves neither, so the retry starts from the same watermark.
//!
//! The new watermark of an append run into Iceberg is the largest value
//! among the rows actually written, kept by the Iceberg writer as it writes
//! them (`iceberg::write::track_max`): rows and watermark come from one scan
//! of the source, and the INSERT carries no per-row upper bound. Into a heap
//! table the bound is looked up first and the rows up to it copied.
//!
//! Runs execute as the pipeline's owner with `search_path` pinned, like
//! models (sql.rs); the catalog is read and written as the extension owner.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::cron::{parse_time_zone, Schedule};
use super::dag::Outcome;
use super::progress::{self, Phase};
use super::spi::{as_catalog_owner, exec, json_of};
use crate::errors::{LakeError, LakeResult, OrReport};
use crate::pg::security::{allow_own_temp_objects, current_user, run_as, run_user_code_as};
use crate::pg::statement;

/// How the scheduler names a pipeline among models (model names cannot hold ':').
pub(crate) const SCHEDULER_PREFIX: &str = "pipeline:";

fn spi_err(e: pgrx::spi::SpiError) -> LakeError {
    LakeError::internal(format!("cannot use the pipeline catalog: {e}"))
}

/// Runs `query` as SPI and raises its ERROR as it is (a permission error of
/// the owner must reach lake.runs with its own SQLSTATE).
fn exec_raw(query: &str, args: &[DatumWithOid]) -> u64 {
    Spi::connect_mut(|c| c.update(query, None, args).map(|t| t.len() as u64)).unwrap_or_else(|e| spi_err(e).report())
}

fn quote_ident(s: &str) -> String {
    Spi::get_one_with_args::<String>("SELECT pg_catalog.quote_ident($1)", &[s.into()])
        .ok()
        .flatten()
        .unwrap_or_else(|| format!("\"{}\"", s.replace('"', "\"\"")))
}

fn role_name(oid: pg_sys::Oid) -> String {
    Spi::get_one_with_args::<String>("SELECT $1::regrole::text", &[oid.into()]).ok().flatten().unwrap_or_default()
}

fn invalid(msg: impl Into<String>, hint: impl Into<String>) -> LakeError {
    LakeError::invalid(msg).with_hint(hint)
}

fn undefined(msg: impl Into<String>, hint: impl Into<String>) -> LakeError {
    LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, msg).with_hint(hint)
}

fn valid_name(name: &str) -> bool {
    super::project::valid_name(name)
}

/// The mode of a pipeline.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Mode {
    Replace,
    Append,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "replace" => Some(Mode::Replace),
            "append" => Some(Mode::Append),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Replace => "replace",
            Mode::Append => "append",
        }
    }
}

/// Whether `source` is a query (as opposed to a relation name).
pub fn looks_like_query(source: &str) -> bool {
    let head: String = source.trim_start().chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_lowercase();
    matches!(head.as_str(), "select" | "with" | "values" | "table") && source.trim_start().len() > head.len()
}

/// The source as a query, with trailing semicolons removed.
fn clean_sql(sql: &str) -> String {
    sql.trim().trim_end_matches(|c: char| c == ';' || c.is_whitespace()).to_string()
}

fn no_such_pipeline(name: &str) -> LakeError {
    undefined(format!("pipeline \"{name}\" does not exist"), "SELECT name FROM lake.pipelines lists the pipelines you can see.")
}

pub(crate) fn pipeline_row(name: &str) -> LakeResult<Option<Value>> {
    json_of(
        "SELECT to_jsonb(p) || jsonb_build_object('owner_oid', p.owner::oid::int8, 'watermark_type_name', p.watermark_type::text, \
           'watermark_type_oid', p.watermark_type::oid::int8) \
         FROM lake.pipelines p WHERE name OPERATOR(pg_catalog.=) $1",
        &[name.into()],
    )
}

fn owner_oid(row: &Value) -> pg_sys::Oid {
    pg_sys::Oid::from(row["owner_oid"].as_i64().unwrap_or(0) as u32)
}

fn check_may_act_as(caller: pg_sys::Oid, owner: pg_sys::Oid, what: &str) -> LakeResult<()> {
    if statement::is_member_of_role(caller, owner) {
        return Ok(());
    }
    Err(LakeError::new(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("permission denied to {what}: role \"{}\" is not a member of \"{}\"", role_name(caller), role_name(owner)),
    )
    .with_hint("Only members of a pipeline's owner role may define, alter, drop or run it; runs execute as the owner."))
}

/// A relation by possibly qualified name, as the current role resolves it
/// (search_path pinned: unqualified names find only pg_catalog and lake).
fn resolve_relation(name: &str) -> Option<(pg_sys::Oid, String, String, String)> {
    // parse_ident refuses what is not a name; that is "not a relation" here.
    let v = statement::in_subtransaction(
        || {
            json_of(
                "SELECT jsonb_build_object('oid', c.oid::int8, 'schema', n.nspname, 'name', c.relname, 'relkind', c.relkind::text) \
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
                 WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(pg_catalog.array_to_string( \
                    ARRAY(SELECT pg_catalog.quote_ident(x) FROM pg_catalog.unnest(pg_catalog.parse_ident($1)) x), '.'))",
                &[name.into()],
            )
        },
        |f| f.code != PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
    )
    .ok()?
    .ok()??;
    Some((
        pg_sys::Oid::from(v["oid"].as_i64()? as u32),
        v["schema"].as_str()?.to_string(),
        v["name"].as_str()?.to_string(),
        v["relkind"].as_str()?.to_string(),
    ))
}

struct Column {
    name: String,
    type_sql: String,
    type_oid: pg_sys::Oid,
}

/// The source's columns with their types (typmods kept), as `owner` sees
/// them: from a temporary view over the query, dropped right after.
fn describe_source(source_sql: &str) -> LakeResult<Vec<Column>> {
    // SAFETY: plain read of a backend global.
    let view = format!("pg_temp.townlake_pipeline_probe_{}", unsafe { pg_sys::MyProcPid });
    allow_own_temp_objects(|| exec_raw(&format!("CREATE TEMP VIEW {view} AS SELECT * FROM ({source_sql}) AS source"), &[]));
    let cols = json_of(
        "SELECT coalesce(jsonb_agg(jsonb_build_array(attname, pg_catalog.format_type(atttypid, atttypmod), atttypid::int8) ORDER BY attnum), '[]') \
         FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) $1::regclass AND attnum > 0 AND NOT attisdropped",
        &[view.as_str().into()],
    )?;
    exec_raw(&format!("DROP VIEW {view}"), &[]);
    Ok(cols
        .unwrap_or(json!([]))
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(Column {
                name: c[0].as_str()?.to_string(),
                type_sql: c[1].as_str()?.to_string(),
                type_oid: pg_sys::Oid::from(c[2].as_i64()? as u32),
            })
        })
        .collect())
}

/// Whether values of `type_oid` can be ordered (a default btree opclass).
fn orderable(type_oid: pg_sys::Oid) -> bool {
    // SAFETY: typcache lookup on the backend thread; the entry is never freed.
    unsafe {
        let entry = pg_sys::lookup_type_cache(type_oid, pg_sys::TYPECACHE_GT_OPR as i32);
        !entry.is_null() && (*entry).gt_opr != pg_sys::Oid::INVALID
    }
}

/// A pipeline's definition as lake.define_pipeline takes it.
pub struct PipelineSpec {
    pub name: String,
    pub source: String,
    pub target: String,
    pub mode: String,
    pub watermark_column: Option<String>,
    pub schedule: Option<String>,
    pub timezone: String,
    pub owner: Option<String>,
    pub partition_by: Option<String>,
    pub target_server: Option<String>,
    pub retries: i32,
    pub retry_delay_seconds: i32,
    pub timeout_seconds: Option<i32>,
    pub enabled: bool,
    pub description: Option<String>,
}

pub fn define(spec: &PipelineSpec, caller: pg_sys::Oid) -> LakeResult<()> {
    if !valid_name(&spec.name) {
        return Err(invalid(
            format!("invalid pipeline name \"{}\"", spec.name),
            "names are lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters",
        ));
    }
    let mode = Mode::parse(&spec.mode)
        .ok_or_else(|| invalid(format!("invalid pipeline mode \"{}\"", spec.mode), "use 'replace' (full overwrite each run) or 'append' (rows past the watermark)"))?;
    match (mode, &spec.watermark_column) {
        (Mode::Append, None) => {
            return Err(invalid(
                "an append pipeline needs a watermark_column",
                "name a column that grows as rows are added (an id from a sequence, an insertion timestamp): watermark_column => 'id'",
            ))
        }
        (Mode::Replace, Some(_)) => {
            return Err(invalid("a replace pipeline takes no watermark_column", "use mode => 'append' to copy only new rows, or leave watermark_column out"))
        }
        _ => {}
    }
    if let Some(s) = &spec.schedule {
        Schedule::parse(s).map_err(|e| invalid(format!("invalid schedule: {}", e.message), e.hint))?;
    }
    parse_time_zone(&spec.timezone).map_err(|e| invalid(e.message, e.hint))?;
    if !(0..=100).contains(&spec.retries) || spec.retry_delay_seconds < 0 || spec.timeout_seconds.is_some_and(|t| t <= 0) {
        return Err(invalid(
            "retries must be 0 to 100, retry_delay_seconds 0 or more, timeout_seconds more than 0",
            "leave timeout_seconds NULL for no timeout",
        ));
    }
    let owner = match &spec.owner {
        None => caller,
        Some(name) => {
            let c = std::ffi::CString::new(name.as_str()).map_err(|_| invalid("invalid owner", "name a role"))?;
            crate::pg::security::role_oid(&c).ok_or_else(|| undefined(format!("role \"{name}\" does not exist"), "owner names the role every run executes as"))?
        }
    };
    check_may_act_as(caller, owner, &format!("define pipeline \"{}\" owned by \"{}\"", spec.name, role_name(owner)))?;
    let existing = as_catalog_owner(|| pipeline_row(&spec.name))?;
    if let Some(row) = &existing {
        check_may_act_as(caller, owner_oid(row), &format!("redefine pipeline \"{}\"", spec.name))?;
    }

    // Source, target and columns, as the owner: names resolve the way
    // every run will, and a created target belongs to the owner.
    run_user_code_as(owner, || -> LakeResult<()> {
        let (source_kind, source_sql) = if looks_like_query(&spec.source) {
            let sql = clean_sql(&spec.source);
            statement::analyze_select(&sql).map_err(|_| {
                LakeError::new(PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE, format!("the source of pipeline \"{}\" must be one SELECT statement", spec.name))
                    .with_hint("A source is a table, a view, a foreign table or one query.")
            })?;
            ("query", sql)
        } else {
            let (_, schema, name, relkind) = resolve_relation(&spec.source).ok_or_else(|| {
                LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE, format!("source relation \"{}\" does not exist", spec.source))
                    .with_hint("Name the source with its schema (runs use a pinned search_path), e.g. public.orders, or give a query: 'SELECT … FROM …'.")
            })?;
            if !matches!(relkind.as_str(), "r" | "p" | "v" | "m" | "f") {
                return Err(invalid(format!("source \"{}\" is not a table, view or foreign table", spec.source), "name a table, a view or a foreign table"));
            }
            ("relation", format!("SELECT * FROM {}.{}", quote_ident(&schema), quote_ident(&name)))
        };
        let columns = describe_source(&source_sql)?;
        if columns.is_empty() {
            return Err(invalid("the source has no columns", "select at least one column"));
        }
        let (wm_col, wm_type) = match &spec.watermark_column {
            None => (None, None),
            Some(w) => {
                let col = columns.iter().find(|c| &c.name == w).ok_or_else(|| {
                    LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN, format!("watermark column \"{w}\" is not a column of the source"))
                        .with_hint(format!("source columns: {}", columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")))
                })?;
                if !orderable(col.type_oid) {
                    return Err(LakeError::new(
                        PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
                        format!("watermark column \"{w}\" is of type {}, which has no ordering", col.type_sql),
                    )
                    .with_hint("Use a column of an orderable type (a number, a timestamp, text), or cast it in a source query."));
                }
                (Some(w.clone()), Some(col.type_oid))
            }
        };
        // The owner must be able to read the source (checked by running it).
        statement::in_subtransaction(
            || exec_raw(&format!("SELECT * FROM ({source_sql}) AS source LIMIT 0"), &[]),
            |f| f.code != PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
        )
        .map_err(|f| {
            LakeError::new(f.code, format!("pipeline \"{}\": the owner \"{}\" cannot read the source: {}", spec.name, role_name(owner), f.message))
                .with_hint("The owner needs SELECT on the source (and USAGE on its schema, a user mapping for a foreign server).")
        })?;

        // Target: existing, or created (Iceberg on target_server, else heap).
        let (tschema, tname) = match Spi::get_one_with_args::<Vec<String>>("SELECT pg_catalog.parse_ident($1)", &[spec.target.as_str().into()]) {
            Ok(Some(p)) if p.len() == 2 && !super::reserved::reserved_schema(&p[0]) => (p[0].clone(), p[1].clone()),
            Ok(Some(p)) if p.len() == 2 => {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!("target \"{}\" is in schema \"{}\", which belongs to townlake or the system", spec.target, p[0]),
                )
                .with_hint("Write into a schema of your own, e.g. lake_raw.orders."));
            }
            _ => {
                return Err(invalid(format!("invalid target \"{}\"", spec.target), "name the target with its schema, e.g. lake_raw.orders"));
            }
        };
        let target_sql = format!("{}.{}", quote_ident(&tschema), quote_ident(&tname));
        let mut target = resolve_relation(&target_sql);
        if target.is_none() {
            let schema_exists = Spi::get_one_with_args::<bool>(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) $1)",
                &[tschema.as_str().into()],
            )
            .ok()
            .flatten()
            .unwrap_or(false);
            if !schema_exists {
                return Err(LakeError::new(PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME, format!("schema \"{tschema}\" of target {target_sql} does not exist"))
                    .with_hint("Create the schema first; townlake creates a missing target table, not its schema."));
            }
            let col_defs = columns.iter().map(|c| format!("{} {}", quote_ident(&c.name), c.type_sql)).collect::<Vec<_>>().join(", ");
            match &spec.target_server {
                Some(server) => {
                    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
                    let mut options = format!("namespace {}, table {}", lit(&tschema), lit(&tname));
                    if let Some(p) = &spec.partition_by {
                        options.push_str(&format!(", partition_by {}", lit(p)));
                    }
                    exec_raw(&format!("CREATE FOREIGN TABLE {target_sql} ({col_defs}) SERVER {} OPTIONS ({options})", quote_ident(server)), &[]);
                }
                None => {
                    if spec.partition_by.is_some() {
                        return Err(invalid("partition_by applies to Iceberg targets", "leave target_server at its default (an Iceberg server) or drop partition_by"));
                    }
                    exec_raw(&format!("CREATE TABLE {target_sql} ({col_defs})"), &[]);
                }
            }
            target = resolve_relation(&target_sql);
        }
        let (toid, _, _, relkind) = target.ok_or_else(|| LakeError::internal("the target vanished"))?;
        let is_iceberg = crate::iceberg::is_iceberg_table(toid);
        if !(matches!(relkind.as_str(), "r" | "p") || is_iceberg) {
            return Err(invalid(format!("target {target_sql} is not a table or an Iceberg foreign table"), "a pipeline writes into a heap table or an Iceberg foreign table"));
        }
        // The owner must be able to write the target.
        let privileges: &[&str] = if mode == Mode::Replace { &["INSERT", "TRUNCATE"] } else { &["INSERT"] };
        for p in privileges {
            let ok = Spi::get_one_with_args::<bool>(
                "SELECT pg_catalog.has_table_privilege($1, $2, $3)",
                &[owner.into(), toid.into(), (*p).into()],
            )
            .ok()
            .flatten()
            .unwrap_or(false);
            if !ok {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!("pipeline \"{}\": the owner \"{}\" lacks {p} on target {target_sql}", spec.name, role_name(owner)),
                )
                .with_hint(format!("GRANT {p} ON {target_sql} TO the owner, or make the target's owner the pipeline's owner.")));
            }
        }
        let target_cols: Vec<String> = json_of(
            "SELECT coalesce(jsonb_agg(attname ORDER BY attnum), '[]') FROM pg_catalog.pg_attribute \
             WHERE attrelid OPERATOR(pg_catalog.=) $1 AND attnum > 0 AND NOT attisdropped",
            &[toid.into()],
        )?
        .unwrap_or(json!([]))
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
        let missing: Vec<&str> = columns.iter().map(|c| c.name.as_str()).filter(|c| !target_cols.iter().any(|t| t == c)).collect();
        if !missing.is_empty() {
            return Err(invalid(
                format!("target {target_sql} has no column(s) {} of the source", missing.join(", ")),
                "add the columns to the target (ALTER … ADD COLUMN), or select only the target's columns in a source query",
            ));
        }
        let col_names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let sql_hash = hex::encode(Sha256::digest(format!("{source_sql}\n{target_sql}\n{}\n{:?}", mode.as_str(), wm_col).as_bytes()));
        as_catalog_owner(|| -> LakeResult<()> {
            let taken = json_of(
                "SELECT to_jsonb(name) FROM lake.pipelines WHERE target_schema OPERATOR(pg_catalog.=) $1 AND target_name OPERATOR(pg_catalog.=) $2 \
                   AND name OPERATOR(pg_catalog.<>) $3 \
                 UNION ALL SELECT to_jsonb('model ' || name) FROM lake.models WHERE target_schema OPERATOR(pg_catalog.=) $1 AND target_name OPERATOR(pg_catalog.=) $2",
                &[tschema.as_str().into(), tname.as_str().into(), spec.name.as_str().into()],
            )?;
            if let Some(other) = taken {
                return Err(LakeError::new(PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT, format!("target {target_sql} is already written by {}", other.as_str().unwrap_or("another pipeline")))
                    .with_hint("Each relation is written by at most one pipeline or model."));
            }
            // The watermark belongs to the target (for Iceberg it lives in
            // the target's snapshots): kept while the target stays the same.
            exec(
                "INSERT INTO lake.pipelines AS p (name, source, source_kind, source_sql, target_schema, target_name, target_kind, mode, \
                   watermark_column, watermark_type, columns, partition_by, schedule, timezone, owner, description, retries, \
                   retry_delay_seconds, timeout_seconds, enabled, sql_hash, defined_by, defined_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::oid::regtype, $11, $12, $13, $14, $15::oid::regrole, $16, $17, $18, $19, $20, $21, $22::oid::regrole, pg_catalog.now()) \
                 ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, source_kind = EXCLUDED.source_kind, source_sql = EXCLUDED.source_sql, \
                   target_schema = EXCLUDED.target_schema, target_name = EXCLUDED.target_name, target_kind = EXCLUDED.target_kind, \
                   mode = EXCLUDED.mode, watermark_column = EXCLUDED.watermark_column, watermark_type = EXCLUDED.watermark_type, \
                   columns = EXCLUDED.columns, partition_by = EXCLUDED.partition_by, schedule = EXCLUDED.schedule, timezone = EXCLUDED.timezone, \
                   owner = EXCLUDED.owner, description = EXCLUDED.description, retries = EXCLUDED.retries, \
                   retry_delay_seconds = EXCLUDED.retry_delay_seconds, timeout_seconds = EXCLUDED.timeout_seconds, enabled = EXCLUDED.enabled, \
                   sql_hash = EXCLUDED.sql_hash, defined_by = EXCLUDED.defined_by, defined_at = EXCLUDED.defined_at, \
                   last_watermark = CASE WHEN p.target_schema OPERATOR(pg_catalog.=) EXCLUDED.target_schema \
                     AND p.target_name OPERATOR(pg_catalog.=) EXCLUDED.target_name THEN p.last_watermark END",
                &[
                    spec.name.as_str().into(),
                    spec.source.as_str().into(),
                    source_kind.into(),
                    source_sql.as_str().into(),
                    tschema.as_str().into(),
                    tname.as_str().into(),
                    (if is_iceberg { "iceberg" } else { "heap" }).into(),
                    mode.as_str().into(),
                    wm_col.clone().into(),
                    wm_type.into(),
                    col_names.clone().into(),
                    spec.partition_by.clone().into(),
                    spec.schedule.clone().into(),
                    spec.timezone.as_str().into(),
                    owner.into(),
                    spec.description.clone().into(),
                    spec.retries.into(),
                    spec.retry_delay_seconds.into(),
                    spec.timeout_seconds.into(),
                    spec.enabled.into(),
                    sql_hash.as_str().into(),
                    caller.into(),
                ],
            )?;
            Ok(())
        })
    })?;
    super::registry::definitions_changed();
    if spec.schedule.is_some() && spec.enabled {
        // SAFETY: plain read of a backend global.
        super::registry::register_database(unsafe { pg_sys::MyDatabaseId });
    }
    Ok(())
}

#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn define_pipeline(
    name: Option<&str>,
    source: Option<&str>,
    target: Option<&str>,
    mode: default!(Option<&str>, "'replace'"),
    watermark_column: default!(Option<&str>, "NULL"),
    schedule: default!(Option<&str>, "NULL"),
    timezone: default!(Option<&str>, "'UTC'"),
    owner: default!(Option<&str>, "NULL"),
    partition_by: default!(Option<&str>, "NULL"),
    target_server: default!(Option<&str>, "'lake_local'"),
    retries: default!(Option<i32>, 3),
    retry_delay_seconds: default!(Option<i32>, 60),
    timeout_seconds: default!(Option<i32>, "NULL"),
    enabled: default!(Option<bool>, true),
    description: default!(Option<&str>, "NULL"),
) {
    let name = crate::errors::required(name, "lake.define_pipeline", "name");
    let source = crate::errors::required(source, "lake.define_pipeline", "source");
    let target = crate::errors::required(target, "lake.define_pipeline", "target");
    let mode = crate::errors::required(mode, "lake.define_pipeline", "mode");
    let timezone = crate::errors::required(timezone, "lake.define_pipeline", "timezone");
    let retries = crate::errors::required(retries, "lake.define_pipeline", "retries");
    let retry_delay_seconds = crate::errors::required(retry_delay_seconds, "lake.define_pipeline", "retry_delay_seconds");
    let enabled = crate::errors::required(enabled, "lake.define_pipeline", "enabled");
    let spec = PipelineSpec {
        name: name.to_string(),
        source: source.to_string(),
        target: target.to_string(),
        mode: mode.to_string(),
        watermark_column: watermark_column.map(str::to_string),
        schedule: schedule.map(str::to_string),
        timezone: timezone.to_string(),
        owner: owner.map(str::to_string),
        partition_by: partition_by.map(str::to_string),
        target_server: target_server.map(str::to_string),
        retries,
        retry_delay_seconds,
        timeout_seconds,
        enabled,
        description: description.map(str::to_string),
    };
    define(&spec, current_user()).or_report()
}

fn checked_row(name: &str, verb: &str) -> Value {
    let row = as_catalog_owner(|| pipeline_row(name)).or_report().unwrap_or_else(|| no_such_pipeline(name).report());
    check_may_act_as(current_user(), owner_oid(&row), &format!("{verb} pipeline \"{name}\"")).or_report();
    row
}

fn target_sql(row: &Value) -> String {
    format!(
        "{}.{}",
        quote_ident(row["target_schema"].as_str().unwrap_or("")),
        quote_ident(row["target_name"].as_str().unwrap_or(""))
    )
}

#[pg_extern(volatile, parallel_unsafe)]
fn drop_pipeline(name: &str, drop_target: default!(bool, false)) {
    let row = checked_row(name, "drop");
    if drop_target {
        let kind = if row["target_kind"] == "iceberg" { "FOREIGN TABLE" } else { "TABLE" };
        run_as(owner_oid(&row), || exec(&format!("DROP {kind} IF EXISTS {}", target_sql(&row)), &[])).or_report();
    }
    as_catalog_owner(|| exec("DELETE FROM lake.pipelines WHERE name OPERATOR(pg_catalog.=) $1", &[name.into()])).or_report();
    super::registry::definitions_changed();
}

fn set_enabled(name: &str, enabled: bool) {
    let row = checked_row(name, if enabled { "resume" } else { "pause" });
    as_catalog_owner(|| exec("UPDATE lake.pipelines SET enabled = $2 WHERE name OPERATOR(pg_catalog.=) $1", &[name.into(), enabled.into()]))
        .or_report();
    super::registry::definitions_changed();
    if enabled && row["schedule"].is_string() {
        // SAFETY: plain read of a backend global.
        super::registry::register_database(unsafe { pg_sys::MyDatabaseId });
    }
}

#[pg_extern(volatile, parallel_unsafe)]
fn pause_pipeline(name: &str) {
    set_enabled(name, false)
}

#[pg_extern(volatile, parallel_unsafe)]
fn resume_pipeline(name: &str) {
    set_enabled(name, true)
}

/// The high watermark committed to `row`'s target: for an Iceberg target,
/// from the newest snapshot in the current snapshot's ancestry that this
/// pipeline wrote; else (heap target, or that snapshot expired) the copy in
/// lake.pipelines, written in the same transaction.
fn committed_watermark(row: &Value) -> LakeResult<Option<String>> {
    let name = row["name"].as_str().unwrap_or("");
    let catalog_copy = || -> LakeResult<Option<String>> {
        Ok(as_catalog_owner(|| {
            json_of("SELECT to_jsonb(last_watermark) FROM lake.pipelines WHERE name OPERATOR(pg_catalog.=) $1", &[name.into()])
        })?
        .and_then(|v| v.as_str().map(str::to_string)))
    };
    if row["target_kind"] != "iceberg" {
        return catalog_copy();
    }
    let Some((oid, ..)) = resolve_relation(&target_sql(row)) else {
        return catalog_copy();
    };
    for props in crate::iceberg::history_summaries(oid)? {
        if props.get("townlake.pipeline").map(String::as_str) == Some(name) {
            if let Some(w) = props.get("townlake.watermark") {
                return Ok(Some(w.clone()));
            }
        }
    }
    catalog_copy()
}

/// The committed high watermark of a pipeline (NULL before its first append).
#[pg_extern(volatile, parallel_unsafe)]
fn pipeline_watermark(name: &str) -> Option<String> {
    let row = as_catalog_owner(|| pipeline_row(name)).or_report().unwrap_or_else(|| no_such_pipeline(name).report());
    // Visible to the owner's members only (as lake.pipelines rows are).
    check_may_act_as(current_user(), owner_oid(&row), &format!("read the watermark of pipeline \"{name}\"")).or_report();
    let _path = crate::pg::security::PinnedSearchPath::new();
    run_as(owner_oid(&row), || committed_watermark(&row)).or_report()
}

/// Records the start of a run of pipeline `row`; returns its id.
pub(crate) fn start_run(
    row: &Value,
    trigger: &str,
    scheduled_for: Option<pgrx::datum::TimestampWithTimeZone>,
    attempt: i32,
    caller: Option<pg_sys::Oid>,
) -> LakeResult<i64> {
    as_catalog_owner(|| {
        json_of(
            "INSERT INTO lake.runs (pipeline, trigger, scheduled_for, attempt, started_at, status, sql_hash, run_as, requested_by) \
             VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(), 'running', $5, $6::oid::regrole, $7::oid::regrole) RETURNING to_jsonb(run_id)",
            &[
                row["name"].as_str().unwrap_or("").into(),
                trigger.into(),
                scheduled_for.into(),
                attempt.into(),
                row["sql_hash"].as_str().unwrap_or("").into(),
                owner_oid(row).into(),
                caller.into(),
            ],
        )
    })?
    .and_then(|v| v.as_i64())
    .ok_or_else(|| LakeError::internal("cannot record the run"))
}

/// How the Iceberg writer keeps an append run's new high watermark.
struct KeptByWriter {
    /// The target's attribute (0-based) that receives the watermark column.
    att: usize,
    type_oid: pg_sys::Oid,
    /// The source column's collation: the order `source.wm > low` uses.
    collation: pg_sys::Oid,
    /// The source is a table whose watermark column is NOT NULL.
    not_null: bool,
}

/// Whether the writer can keep the new high watermark: the target is
/// Iceberg and its column holds the source's watermark values unchanged
/// (the same type, no typmod coercion), so that the largest value written
/// is the largest value read. Otherwise (a heap target, another type) the
/// run looks the bound up first.
fn kept_by_writer(row: &Value, target_oid: pg_sys::Oid, source: &str, wm: &str) -> LakeResult<Option<KeptByWriter>> {
    if row["target_kind"] != "iceberg" {
        return Ok(None);
    }
    // Postgres' analyzer, as the owner: the source column's type as a run reads it.
    let Ok(info) = statement::analyze_select(&format!("SELECT * FROM ({source}) AS source")) else { return Ok(None) };
    let Some(i) = info.columns.iter().position(|c| c == wm) else { return Ok(None) };
    let src = info.column_types[i];
    if Some(src.type_oid.to_u32() as i64) != row["watermark_type_oid"].as_i64() {
        return Ok(None);
    }
    let Some(t) = json_of(
        "SELECT jsonb_build_array(attnum, atttypid::int8, atttypmod) FROM pg_catalog.pg_attribute \
         WHERE attrelid OPERATOR(pg_catalog.=) $1 AND attname OPERATOR(pg_catalog.=) $2 AND NOT attisdropped AND attnum > 0",
        &[target_oid.into(), wm.into()],
    )?
    else {
        return Ok(None);
    };
    let (attnum, t_type, t_typmod) = (t[0].as_i64().unwrap_or(0), t[1].as_i64().unwrap_or(0), t[2].as_i64().unwrap_or(-1));
    if attnum < 1 || t_type != src.type_oid.to_u32() as i64 || (t_typmod != -1 && t_typmod != src.typmod as i64) {
        return Ok(None);
    }
    // A plain table's NOT NULL holds (a foreign table's is only declared).
    let not_null = row["source_kind"] == "relation"
        && info.relations.len() == 1
        && json_of(
            "SELECT to_jsonb(a.attnotnull) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid \
             WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $2 AND c.relkind IN ('r', 'p')",
            &[info.relations[0].into(), wm.into()],
        )?
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok(Some(KeptByWriter { att: attnum as usize - 1, type_oid: src.type_oid, collation: src.collation, not_null }))
}

/// The statements of one run: (rows written, new watermark).
fn do_run(row: &Value, run_id: i64, target_oid: pg_sys::Oid) -> (u64, Option<String>) {
    let name = row["name"].as_str().unwrap_or("");
    let target = target_sql(row);
    let source = row["source_sql"].as_str().unwrap_or("");
    let cols: Vec<String> =
        row["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str().map(quote_ident)).collect();
    let col_list = cols.join(", ");
    let sel_list = cols.iter().map(|c| format!("source.{c}")).collect::<Vec<_>>().join(", ");
    let is_iceberg = row["target_kind"] == "iceberg";
    let mut props = vec![("townlake.pipeline".to_string(), name.to_string()), ("townlake.run-id".to_string(), run_id.to_string())];
    let (rows, watermark) = if row["mode"] == "replace" {
        // TRUNCATE and INSERT commit as one snapshot (one overwrite) on
        // Iceberg, and in one transaction on a heap table.
        progress::set_phase(Phase::Deleting);
        exec_raw(&format!("TRUNCATE {target}"), &[]);
        progress::set_phase(Phase::Writing);
        let rows = exec_raw(&format!("INSERT INTO {target} ({col_list}) SELECT {sel_list} FROM ({source}) AS source"), &[]);
        progress::add_rows(rows);
        (rows, None)
    } else {
        let wm_name = row["watermark_column"].as_str().unwrap_or("");
        let wm = quote_ident(wm_name);
        let ty = row["watermark_type_name"].as_str().unwrap_or("text");
        let low = committed_watermark(row).or_report();
        let above = if low.is_some() { format!(" AND source.{wm} > $1::{ty}") } else { String::new() };
        let low_arg: Vec<DatumWithOid> = low.iter().map(|l| l.as_str().into()).collect();
        match kept_by_writer(row, target_oid, source, wm_name).or_report() {
            Some(keep) => {
                // One statement, one scan of the source: the rows past
                // `low`, and the largest watermark among them, kept by the
                // Iceberg writer as it writes them. The new watermark is
                // exactly the largest value written, so rows the scan did
                // not see (committed after its snapshot) are above it and
                // wait for the next run; no per-row bound is needed.
                let filter = if low.is_some() {
                    format!(" WHERE source.{wm} > $1::{ty}")
                } else if keep.not_null {
                    String::new()
                } else {
                    format!(" WHERE source.{wm} IS NOT NULL")
                };
                crate::iceberg::write::track_max(target_oid, keep.att, keep.type_oid, keep.collation);
                progress::set_phase(Phase::Writing);
                let rows = exec_raw(&format!("INSERT INTO {target} ({col_list}) SELECT {sel_list} FROM ({source}) AS source{filter}"), &low_arg);
                progress::add_rows(rows);
                let largest = crate::iceberg::write::take_tracked_max(target_oid)
                    .ok_or_else(|| LakeError::internal("the Iceberg writer did not report the largest watermark it wrote"))
                    .or_report();
                match largest {
                    None => (rows, low),
                    Some(text) => {
                        // As the bound-first path writes it: text through jsonb.
                        let high = Spi::get_one_with_args::<String>(
                            &format!("SELECT pg_catalog.to_jsonb($1::{ty}) OPERATOR(pg_catalog.#>>) '{{}}'"),
                            &[text.as_str().into()],
                        )
                        .unwrap_or_else(|e| spi_err(e).report())
                        .unwrap_or(text);
                        props.push(("townlake.watermark".to_string(), high.clone()));
                        (rows, Some(high))
                    }
                }
            }
            None => {
                // First the upper bound, then exactly the rows up to it: rows
                // that commit meanwhile with a larger value wait for the next
                // run. (Text through jsonb: ISO dates whatever DateStyle says.)
                let high = Spi::connect_mut(|c| {
                    let t = c.update(
                        &format!(
                            "SELECT pg_catalog.to_jsonb(source.{wm}) OPERATOR(pg_catalog.#>>) '{{}}' FROM ({source}) AS source \
                             WHERE source.{wm} IS NOT NULL{above} ORDER BY source.{wm} DESC LIMIT 1"
                        ),
                        Some(1),
                        &low_arg,
                    )?;
                    if t.is_empty() {
                        return Ok(None);
                    }
                    t.first().get_one::<String>()
                })
                .unwrap_or_else(|e| spi_err(e).report());
                match high {
                    None => (0, low),
                    Some(high) => {
                        let mut args: Vec<DatumWithOid> = low.iter().map(|l| l.as_str().into()).collect();
                        let hi_param = if low.is_some() { "$2" } else { "$1" };
                        args.push(high.as_str().into());
                        progress::set_phase(Phase::Writing);
                        let rows = exec_raw(
                            &format!(
                                "INSERT INTO {target} ({col_list}) SELECT {sel_list} FROM ({source}) AS source \
                                 WHERE source.{wm} <= {hi_param}::{ty}{above}"
                            ),
                            &args,
                        );
                        progress::add_rows(rows);
                        props.push(("townlake.watermark".to_string(), high.clone()));
                        (rows, Some(high))
                    }
                }
            }
        }
    };
    if is_iceberg {
        crate::iceberg::txn::set_summary_properties(target_oid.to_u32(), props);
    }
    (rows, watermark)
}

/// Does run `run_id` of pipeline `row` (recorded as running) and records
/// how it ended; the pipeline's ERROR is recorded, not raised.
pub(crate) fn perform_run(row: &Value, run_id: i64) -> LakeResult<Outcome> {
    let name = row["name"].as_str().unwrap_or("").to_string();
    let owner = owner_oid(row);
    let end = |status: &str, sqlstate: &str, message: &str| -> LakeResult<Outcome> {
        as_catalog_owner(|| {
            exec(
                "UPDATE lake.runs SET status = $4, ended_at = pg_catalog.clock_timestamp(), error_sqlstate = $2, error_message = $3 \
                 WHERE run_id OPERATOR(pg_catalog.=) $1",
                &[run_id.into(), sqlstate.into(), message.into(), status.into()],
            )?;
            exec("SELECT pg_catalog.pg_notify('townlake_runs', $1)", &[run_id.to_string().into()])
        })?;
        pgrx::warning!("townlake: run {run_id} of pipeline \"{name}\" {status}: {message} (SQLSTATE {sqlstate})");
        Ok(Outcome::Failed)
    };
    let fail = |sqlstate: &str, message: &str| end("failed", sqlstate, message);
    let owner_exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE oid OPERATOR(pg_catalog.=) $1)",
        &[owner.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !owner_exists {
        return fail("42704", &format!("the owner role of pipeline \"{name}\" (oid {}) no longer exists", owner.to_u32()));
    }
    // One run at a time per pipeline: a second waits here until the first
    // commits, then reads the watermark the first committed.
    as_catalog_owner(|| exec("SELECT 1 FROM lake.pipelines WHERE name OPERATOR(pg_catalog.=) $1 FOR UPDATE", &[name.as_str().into()]))?;
    let timeout_ms = row["timeout_seconds"].as_i64().map(|s| (s * 1000).min(i32::MAX as i64) as u32).unwrap_or(0);
    let target_oid = run_as(owner, || resolve_relation(&target_sql(row)).map(|t| t.0));
    let Some(target_oid) = target_oid else {
        return fail("42P01", &format!("target {} of pipeline \"{name}\" does not exist", target_sql(row)));
    };
    let meter = super::history::Meter::start(target_oid, row["target_kind"] == "iceberg", row["mode"] == "replace");
    let row_in = row.clone();
    // In lake.run_progress (as pipeline:<name>), and cancellable.
    let claim = progress::claim(run_id, owner, &format!("{SCHEDULER_PREFIX}{name}"));
    let (outcome, cancelled_by) = progress::run_cancellable(
        claim,
        timeout_ms,
        move || {
            let (rows, watermark) =
                run_user_code_as(owner, || statement::with_statement_timeout(timeout_ms, || do_run(&row_in, run_id, target_oid)));
            // The watermark's catalog copy, in the same (sub)transaction.
            as_catalog_owner(|| {
                exec(
                    "UPDATE lake.pipelines SET last_watermark = $2, last_run_id = $3 WHERE name OPERATOR(pg_catalog.=) $1",
                    &[row_in["name"].as_str().unwrap_or("").into(), watermark.into(), run_id.into()],
                )
            })
            .or_report();
            rows
        },
    );
    match outcome {
        Ok(rows) => {
            let bytes = meter.finish(run_id);
            as_catalog_owner(|| {
                exec(
                    "UPDATE lake.runs SET status = 'succeeded', ended_at = pg_catalog.clock_timestamp(), rows_written = $2, bytes = $3 \
                     WHERE run_id OPERATOR(pg_catalog.=) $1",
                    &[run_id.into(), (rows as i64).into(), bytes.into()],
                )
            })?;
            Ok(Outcome::Succeeded)
        }
        Err(f) if f.code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED && cancelled_by.is_some() => {
            let by = role_name(cancelled_by.unwrap_or(owner));
            end("cancelled", &f.sqlstate, &format!("cancelled by role \"{by}\" (lake.cancel_run); the run's work was rolled back"))
        }
        Err(f) => {
            let message = if f.code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED {
                format!("{} (the pipeline's timeout is {} s)", f.message, timeout_ms / 1000)
            } else {
                f.message.clone()
            };
            fail(&f.sqlstate, &message)
        }
    }
}

/// Runs a pipeline now, as its owner, in a subtransaction of the caller's
/// transaction; returns the run id (the run's status is in lake.runs).
#[pg_extern(volatile, parallel_unsafe)]
fn run_pipeline_now(name: &str) -> i64 {
    let caller = current_user();
    let row = checked_row(name, "run");
    let id = start_run(&row, "manual", None, 1, Some(caller)).or_report();
    perform_run(&row, id).or_report();
    id
}

/// The enabled scheduled pipelines in the shape scheduler::load reads,
/// named with SCHEDULER_PREFIX.
pub(crate) fn scheduled_json() -> Value {
    if !Spi::get_one::<bool>("SELECT pg_catalog.to_regclass('lake.pipelines') IS NOT NULL").ok().flatten().unwrap_or(false) {
        return json!([]);
    }
    Spi::get_one::<JsonB>(
        "SELECT coalesce(jsonb_agg(jsonb_build_object('name', 'pipeline:' || p.name, 'schedule', p.schedule, 'timezone', p.timezone, \
            'retries', p.retries, 'retry_delay', p.retry_delay_seconds, 'overlap', 'skip', \
            'defined_at', pg_catalog.to_char(p.defined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
            'last_tick', pg_catalog.to_char(r.scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
            'last_status', r.status, 'last_attempt', r.attempt, \
            'last_ended', pg_catalog.to_char(r.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))), '[]') \
         FROM lake.pipelines p LEFT JOIN LATERAL (SELECT scheduled_for, status, attempt, ended_at FROM lake.runs x \
            WHERE x.pipeline OPERATOR(pg_catalog.=) p.name AND x.scheduled_for IS NOT NULL \
            ORDER BY x.scheduled_for DESC, x.run_id DESC LIMIT 1) r ON true \
         WHERE p.enabled AND p.schedule IS NOT NULL",
    )
    .ok()
    .flatten()
    .map(|j| j.0)
    .unwrap_or(json!([]))
}

/// The scheduler's first transaction for a pipeline: its row and the run
/// recorded as running.
pub(crate) fn start_scheduled(
    name: &str,
    trigger: &str,
    tick: Option<pgrx::datum::TimestampWithTimeZone>,
    attempt: i32,
) -> Option<(Value, i64)> {
    let row = pipeline_row(name).ok().flatten()?;
    let id = start_run(&row, trigger, tick, attempt, None).ok()?;
    Some((row, id))
}

extension_sql_file!(
    "../../sql/transform/pipeline.sql",
    name = "pipeline_sql",
    requires = ["transform_sql", define_pipeline, drop_pipeline, pause_pipeline, resume_pipeline, run_pipeline_now, pipeline_watermark]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_or_relation() {
        assert!(looks_like_query("SELECT * FROM t"));
        assert!(looks_like_query("  with x as (select 1) select * from x"));
        assert!(looks_like_query("select\n1"));
        assert!(!looks_like_query("public.orders"));
        assert!(!looks_like_query("selection.orders"));
        assert!(!looks_like_query("\"select\""));
        assert!(!looks_like_query("select"));
    }

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("append"), Some(Mode::Append));
        assert_eq!(Mode::parse("replace"), Some(Mode::Replace));
        assert_eq!(Mode::parse("merge"), None);
        assert_eq!(Mode::Append.as_str(), "append");
    }
}
