//! The SQL face of transformations: `lake.define_model`, `lake.load_project`,
//! `lake.drop_model`, `lake.run_now`, `lake.current_run_id`, `lake.dag`.
//!
//! Who runs what (DESIGN.md principle 7): every function here runs as its
//! caller (SECURITY INVOKER) and checks the caller itself. Catalog reads and
//! writes happen as the extension owner with `search_path` pinned; the
//! model's own SQL (analysis at definition, every run) happens as the
//! model's owner with `search_path` pinned, never as the caller or the
//! extension owner. A caller may name as owner only a role it is a member
//! of (as for ALTER … OWNER TO), and may redefine, drop or run a model only
//! as a member of its owner.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::cron::{parse_time_zone, Schedule};
use super::dag::{next_steps, Dag, Outcome};
use super::incremental::{parse_partition_spec, OnSchemaChange};
use super::materialize::{self, RunLog, Target};
pub(crate) use super::spi::{as_catalog_owner, exec, json_of, quote_ident};
use super::progress;
use super::project::{self, Materialization, Overlap, Strategy};
use crate::errors::{LakeError, LakeResult, OrReport};
use crate::pg::security::{current_user, is_superuser, run_as, run_user_code_as};
use crate::pg::statement::{self, analyze_select, NotASelect};

thread_local! {
    /// The run executing in this backend (lake.current_run_id()).
    static CURRENT_RUN: Cell<Option<i64>> = const { Cell::new(None) };
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn role_name(oid: pg_sys::Oid) -> String {
    Spi::get_one_with_args::<String>("SELECT $1::regrole::text", &[oid.into()]).ok().flatten().unwrap_or_default()
}

/// A model's definition as the functions take it.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub sql: String,
    pub target: String,
    pub materialization: String,
    pub unique_key: Vec<String>,
    pub strategy: Option<String>,
    pub schedule: Option<String>,
    pub timezone: String,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub depends_on: Vec<String>,
    pub partition_by: Option<String>,
    pub retries: i32,
    pub retry_delay_seconds: i32,
    pub timeout_seconds: Option<i32>,
    pub overlap: String,
    pub enabled: bool,
    pub columns: Value,
    pub on_schema_change: String,
}

fn invalid(msg: impl Into<String>, hint: impl Into<String>) -> LakeError {
    LakeError::invalid(msg).with_hint(hint)
}

/// The model's SQL without trailing semicolons and blanks: it is embedded
/// as a subquery.
fn clean_sql(sql: &str) -> String {
    sql.trim().trim_end_matches(|c: char| c == ';' || c.is_whitespace()).to_string()
}

/// `schema.name` split by Postgres' own identifier rules.
fn split_target(target: &str) -> LakeResult<(String, String)> {
    let parts = Spi::get_one_with_args::<Vec<String>>("SELECT pg_catalog.parse_ident($1)", &[target.into()]);
    match parts {
        Ok(Some(p)) if p.len() == 2 => {
            if super::reserved::reserved_schema(&p[0]) {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!("target \"{target}\" is in schema \"{}\", which belongs to townlake or the system", p[0]),
                )
                .with_hint("Write into a schema of your own, e.g. analytics.daily_revenue."));
            }
            Ok((p[0].clone(), p[1].clone()))
        }
        _ => Err(invalid(
            format!("invalid target \"{target}\""),
            "name the target with its schema, e.g. analytics.daily_revenue",
        )),
    }
}

struct Relation {
    oid: pg_sys::Oid,
    relkind: String,
    is_iceberg: bool,
}

fn find_relation(schema: &str, name: &str) -> LakeResult<Option<Relation>> {
    let v = json_of(
        "SELECT jsonb_build_object('oid', c.oid::int8, 'relkind', c.relkind::text, 'iceberg', \
            EXISTS (SELECT 1 FROM pg_catalog.pg_foreign_table ft JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) ft.ftserver \
                    JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid OPERATOR(pg_catalog.=) s.srvfdw \
                    WHERE ft.ftrelid OPERATOR(pg_catalog.=) c.oid AND w.fdwname OPERATOR(pg_catalog.=) 'iceberg')) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
         WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2",
        &[schema.into(), name.into()],
    )?;
    Ok(v.map(|v| Relation {
        oid: pg_sys::Oid::from(v["oid"].as_i64().unwrap_or(0) as u32),
        relkind: v["relkind"].as_str().unwrap_or("").to_string(),
        is_iceberg: v["iceberg"].as_bool().unwrap_or(false),
    }))
}

fn qualified_of(oid: pg_sys::Oid) -> Option<(String, String)> {
    let v = json_of(
        "SELECT jsonb_build_array(n.nspname, c.relname) FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE c.oid OPERATOR(pg_catalog.=) $1",
        &[oid.into()],
    )
    .ok()
    .flatten()?;
    Some((v[0].as_str()?.to_string(), v[1].as_str()?.to_string()))
}

/// The whole model graph from the catalog: explicit edges and edges through
/// targets the SQL reads. Self-reads (an incremental model reading its own
/// target) are not edges.
pub(crate) fn catalog_edges() -> LakeResult<Vec<(String, String)>> {
    let v = json_of(
        "SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_array(u, d)), '[]') FROM ( \
           SELECT up.name AS u, dep.model AS d FROM lake.model_dependencies dep \
             JOIN lake.models up ON up.target_schema OPERATOR(pg_catalog.=) dep.relation_schema \
                                AND up.target_name OPERATOR(pg_catalog.=) dep.relation_name \
           UNION SELECT x, m.name FROM lake.models m, pg_catalog.unnest(m.depends_on) x) e \
         WHERE u OPERATOR(pg_catalog.<>) d",
        &[],
    )?
    .unwrap_or(json!([]));
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e[0].as_str()?.to_string(), e[1].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

fn model_names() -> LakeResult<Vec<String>> {
    let v = json_of("SELECT coalesce(jsonb_agg(name ORDER BY name), '[]') FROM lake.models", &[])?.unwrap_or(json!([]));
    Ok(v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default())
}

pub(crate) fn model_row(name: &str) -> LakeResult<Option<Value>> {
    json_of("SELECT to_jsonb(m) || jsonb_build_object('owner_oid', m.owner::oid::int8) FROM lake.models m WHERE name OPERATOR(pg_catalog.=) $1", &[name.into()])
}

fn no_such_model(name: &str) -> LakeError {
    LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("model \"{name}\" does not exist"))
        .with_hint("SELECT name FROM lake.models lists the models you can see.")
}

fn owner_oid(row: &Value) -> pg_sys::Oid {
    pg_sys::Oid::from(row["owner_oid"].as_i64().unwrap_or(0) as u32)
}

/// The caller must be able to act as `owner` (member, or superuser).
fn check_may_act_as(caller: pg_sys::Oid, owner: pg_sys::Oid, what: &str) -> LakeResult<()> {
    if statement::is_member_of_role(caller, owner) {
        return Ok(());
    }
    Err(LakeError::new(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("permission denied to {what}: role \"{}\" is not a member of \"{}\"", role_name(caller), role_name(owner)),
    )
    .with_hint("Only members of a model's owner role may define, drop or run it; runs execute as the owner."))
}

/// Defines (or redefines) one model. `line` names where it came from in a
/// project, for cycle messages.
pub fn define(spec: &ModelSpec, caller: pg_sys::Oid) -> LakeResult<()> {
    if !project::valid_name(&spec.name) {
        return Err(invalid(
            format!("invalid model name \"{}\"", spec.name),
            "names are lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters",
        ));
    }
    let mat = Materialization::parse(&spec.materialization)
        .ok_or_else(|| invalid(format!("invalid materialization \"{}\"", spec.materialization), "use view, table or incremental"))?;
    let strategy = match spec.strategy.as_deref() {
        None => Strategy::Append,
        Some(s) => {
            let st = Strategy::parse(s).ok_or_else(|| invalid(format!("invalid strategy \"{s}\""), "use append, merge or delete+insert"))?;
            if mat != Materialization::Incremental {
                return Err(invalid("a strategy applies only to incremental models", "use materialization => 'incremental'"));
            }
            st
        }
    };
    if strategy == Strategy::Merge && spec.unique_key.is_empty() {
        return Err(invalid("strategy merge needs a unique_key", "name the column(s) that identify a row: unique_key => '{id}'"));
    }
    let partition_terms = match (&spec.partition_by, strategy) {
        (Some(p), _) if strategy == Strategy::DeleteInsert => {
            Some(parse_partition_spec(p).map_err(|e| invalid(format!("invalid partition_by: {}", e.message), e.hint))?)
        }
        (None, Strategy::DeleteInsert) => {
            return Err(invalid(
                "strategy delete+insert needs partition_by",
                "name what a batch replaces: partition_by => 'day(ts)' (hour, day, month, year of a time column, or columns)",
            ))
        }
        _ => None,
    };
    if OnSchemaChange::parse(&spec.on_schema_change).is_none() {
        return Err(invalid(format!("invalid on_schema_change \"{}\"", spec.on_schema_change), "use fail, append_new_columns or sync"));
    }
    if spec.on_schema_change != "fail" && mat != Materialization::Incremental {
        return Err(invalid("on_schema_change applies only to incremental models", "a table model's target takes the query's rows as they are; redefine it when its columns change"));
    }
    if let Some(s) = &spec.schedule {
        Schedule::parse(s).map_err(|e| invalid(format!("invalid schedule: {}", e.message), e.hint))?;
    }
    parse_time_zone(&spec.timezone).map_err(|e| invalid(e.message, e.hint))?;
    if Overlap::parse(&spec.overlap).is_none() {
        return Err(invalid(format!("invalid overlap \"{}\"", spec.overlap), "use skip or queue"));
    }
    if !(0..=100).contains(&spec.retries) || spec.retry_delay_seconds < 0 || spec.timeout_seconds.is_some_and(|t| t <= 0) {
        return Err(invalid(
            "retries must be 0 to 100, retry_delay_seconds 0 or more, timeout_seconds more than 0",
            "leave timeout_seconds NULL for no timeout",
        ));
    }
    let sql = clean_sql(&spec.sql);
    let owner = match &spec.owner {
        None => caller,
        Some(name) => {
            let c = std::ffi::CString::new(name.as_str()).map_err(|_| invalid("invalid owner", "name a role"))?;
            crate::pg::security::role_oid(&c).ok_or_else(|| {
                LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("role \"{name}\" does not exist"))
                    .with_hint("owner names the role every run executes as")
            })?
        }
    };
    check_may_act_as(caller, owner, &format!("define model \"{}\" owned by \"{}\"", spec.name, role_name(owner)))?;
    let (schema, table) = split_target(&spec.target)?;

    // Everything about the existing catalog state, read as the catalog owner.
    let (existing, target_taken, known_models) = as_catalog_owner(|| -> LakeResult<_> {
        let existing = model_row(&spec.name)?;
        let taken = json_of(
            "SELECT to_jsonb('model ' || name) FROM lake.models WHERE target_schema OPERATOR(pg_catalog.=) $1 \
             AND target_name OPERATOR(pg_catalog.=) $2 AND name OPERATOR(pg_catalog.<>) $3 \
             UNION ALL SELECT to_jsonb('pipeline ' || name) FROM lake.pipelines WHERE target_schema OPERATOR(pg_catalog.=) $1 \
             AND target_name OPERATOR(pg_catalog.=) $2",
            &[schema.as_str().into(), table.as_str().into(), spec.name.as_str().into()],
        )?;
        // Upstreams named in depends_on: only models the caller could see
        // (a member of their owner), so the check is no oracle for others'.
        let visible = json_of(
            "SELECT coalesce(jsonb_agg(name), '[]') FROM lake.models WHERE pg_catalog.pg_has_role($1::oid, owner::oid, 'MEMBER')",
            &[caller.into()],
        )?
        .unwrap_or(json!([]));
        let visible: Vec<String> = visible.as_array().into_iter().flatten().filter_map(|x| x.as_str().map(str::to_string)).collect();
        Ok((existing, taken, visible))
    })?;
    if let Some(row) = &existing {
        check_may_act_as(caller, owner_oid(row), &format!("redefine model \"{}\"", spec.name))?;
    }
    if let Some(other) = target_taken {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            format!("target {}.{} is already written by {}", quote_ident(&schema), quote_ident(&table), other.as_str().unwrap_or("another model")),
        )
        .with_hint("Each relation is written by at most one pipeline or model."));
    }
    for d in &spec.depends_on {
        if !known_models.contains(d) && d != &spec.name {
            return Err(LakeError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("depends_on names model \"{d}\", which does not exist"))
                .with_hint("Define the upstream model first (lake.load_project orders a project's models itself)."));
        }
    }

    // The SQL and the target, as the owner: analysis resolves names the way
    // every run will, and a new target belongs to the owner.
    let target_sql = format!("{}.{}", quote_ident(&schema), quote_ident(&table));
    let (info, target, lineage) = run_user_code_as(owner, || -> LakeResult<_> {
        let info = analyze_select(&sql).map_err(|e| {
            let why = match e {
                NotASelect::Statements(n) => format!("{n} statements"),
                NotASelect::Kind(k) => k.to_string(),
            };
            LakeError::new(PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE, format!("the SQL of model \"{}\" must be one SELECT statement ({why})", spec.name))
                .with_hint("A model is a query; townlake writes its result into the target.")
        })?;
        let mut target = find_relation(&schema, &table)?;
        if let Some(r) = &target {
            // A model replaces or rewrites its target's rows: only a
            // relation its owner owns (as Postgres asks of TRUNCATE's
            // table-swapping cousins, REFRESH and CLUSTER).
            let rel_owner = crate::pg::security::relation_owner(r.oid).unwrap_or(pg_sys::Oid::INVALID);
            if !crate::pg::security::has_privs_of_role(owner, rel_owner) {
                return Err(LakeError::new(
                    PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                    format!("target {target_sql} is not owned by the model's owner \"{}\"", role_name(owner)),
                )
                .with_hint("A model writes only into a relation its owner owns, or a new one townlake creates for it."));
            }
        }
        match (&target, mat) {
            (None, Materialization::View) => {
                exec(&format!("CREATE VIEW {target_sql} AS {sql}"), &[])?;
            }
            (None, _) => {
                exec(&format!("CREATE TABLE {target_sql} AS SELECT * FROM ({sql}) AS model WITH NO DATA"), &[])?;
            }
            (Some(r), Materialization::View) if r.relkind != "v" => {
                return Err(invalid(format!("target {target_sql} exists and is not a view"), "a view model's target is a view townlake (re)creates; choose another target or materialization"));
            }
            (Some(r), Materialization::View) => {
                let _ = r;
                exec(&format!("CREATE OR REPLACE VIEW {target_sql} AS {sql}"), &[])?;
            }
            (Some(r), _) if !matches!(r.relkind.as_str(), "r" | "p" | "f") => {
                return Err(invalid(format!("target {target_sql} exists and is not a table"), "table and incremental models write into a table or an Iceberg foreign table"));
            }
            (Some(r), _) if r.relkind == "f" && !r.is_iceberg => {
                return Err(invalid(format!("target {target_sql} is a foreign table of another wrapper than iceberg"), "write into a heap table or an Iceberg foreign table"));
            }
            _ => {}
        }
        if target.is_none() {
            target = find_relation(&schema, &table)?;
        }
        // column lineage, analysed with the owner's rights as every run is
        let lineage = crate::catalog::sql::of_select(&sql);
        Ok((info, target, lineage))
    })?;
    let target_oid = target.map(|t| t.oid);
    for key in &spec.unique_key {
        if !info.columns.contains(key) {
            return Err(invalid(format!("unique_key column \"{key}\" is not an output column of model \"{}\"", spec.name), format!("output columns: {}", info.columns.join(", "))));
        }
    }
    for term in partition_terms.iter().flatten() {
        if !info.columns.iter().any(|c| c == term.column()) {
            return Err(invalid(
                format!("partition_by column \"{}\" is not an output column of model \"{}\"", term.column(), spec.name),
                format!("output columns: {}", info.columns.join(", ")),
            ));
        }
    }
    // Relations read, by name (a target dropped and recreated keeps its edges).
    let mut reads: Vec<(String, String)> = vec![];
    for oid in info.relations {
        if Some(oid) == target_oid {
            continue;
        }
        if let Some(q) = qualified_of(oid) {
            reads.push(q);
        }
    }

    as_catalog_owner(|| -> LakeResult<()> {
        // Cycle check over the graph with this model's new edges.
        let mut dag = Dag::new();
        for (u, d) in catalog_edges()? {
            if d != spec.name {
                dag.add_edge(&u, &d);
            }
        }
        dag.add_node(&spec.name);
        let by_target = json_of(
            "SELECT coalesce(jsonb_object_agg(target_schema || '.' || target_name, name), '{}') FROM lake.models",
            &[],
        )?
        .unwrap_or(json!({}));
        for (s, t) in &reads {
            if let Some(up) = by_target.get(format!("{s}.{t}")).and_then(Value::as_str) {
                if up != spec.name {
                    dag.add_edge(up, &spec.name);
                }
            }
        }
        for d in &spec.depends_on {
            if d != &spec.name {
                dag.add_edge(d, &spec.name);
            }
        }
        // Models reading this model's target are downstream of it.
        let readers = json_of(
            "SELECT coalesce(jsonb_agg(DISTINCT model), '[]') FROM lake.model_dependencies \
             WHERE relation_schema OPERATOR(pg_catalog.=) $1 AND relation_name OPERATOR(pg_catalog.=) $2 AND model OPERATOR(pg_catalog.<>) $3",
            &[schema.as_str().into(), table.as_str().into(), spec.name.as_str().into()],
        )?
        .unwrap_or(json!([]));
        for r in readers.as_array().into_iter().flatten().filter_map(Value::as_str) {
            dag.add_edge(&spec.name, r);
        }
        if let Err(cycle) = dag.topological_order() {
            return Err(LakeError::new(PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION, format!("model \"{}\" would close a {cycle}", spec.name))
                .with_hint("A model may not read, directly or through other models, the target of a model downstream of it."));
        }
        let columns = if spec.columns.is_null() { json!({}) } else { spec.columns.clone() };
        exec(
            "INSERT INTO lake.models AS m (name, sql, target_schema, target_name, materialization, strategy, unique_key, \
               partition_by, schedule, timezone, owner, description, tags, columns, depends_on, output_columns, retries, \
               retry_delay_seconds, timeout_seconds, overlap, enabled, sql_hash, defined_by, defined_at, on_schema_change) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::oid::regrole, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23::oid::regrole, pg_catalog.now(), $24) \
             ON CONFLICT (name) DO UPDATE SET sql = EXCLUDED.sql, target_schema = EXCLUDED.target_schema, \
               target_name = EXCLUDED.target_name, materialization = EXCLUDED.materialization, strategy = EXCLUDED.strategy, \
               unique_key = EXCLUDED.unique_key, partition_by = EXCLUDED.partition_by, schedule = EXCLUDED.schedule, \
               timezone = EXCLUDED.timezone, owner = EXCLUDED.owner, description = EXCLUDED.description, tags = EXCLUDED.tags, \
               columns = EXCLUDED.columns, depends_on = EXCLUDED.depends_on, output_columns = EXCLUDED.output_columns, \
               retries = EXCLUDED.retries, retry_delay_seconds = EXCLUDED.retry_delay_seconds, \
               timeout_seconds = EXCLUDED.timeout_seconds, overlap = EXCLUDED.overlap, enabled = EXCLUDED.enabled, \
               sql_hash = EXCLUDED.sql_hash, defined_by = EXCLUDED.defined_by, defined_at = EXCLUDED.defined_at, \
               on_schema_change = EXCLUDED.on_schema_change",
            &[
                spec.name.as_str().into(),
                sql.as_str().into(),
                schema.as_str().into(),
                table.as_str().into(),
                mat.as_str().into(),
                strategy.as_str().into(),
                spec.unique_key.clone().into(),
                spec.partition_by.clone().into(),
                spec.schedule.clone().into(),
                spec.timezone.as_str().into(),
                owner.into(),
                spec.description.clone().into(),
                spec.tags.clone().into(),
                JsonB(columns).into(),
                spec.depends_on.clone().into(),
                info.columns.clone().into(),
                spec.retries.into(),
                spec.retry_delay_seconds.into(),
                spec.timeout_seconds.into(),
                spec.overlap.as_str().into(),
                spec.enabled.into(),
                sha256_hex(&sql).into(),
                caller.into(),
                spec.on_schema_change.as_str().into(),
            ],
        )?;
        super::registry::definitions_changed();
        if spec.schedule.is_some() && spec.enabled {
            // SAFETY: plain read of a backend global.
            super::registry::register_database(unsafe { pg_sys::MyDatabaseId });
        }
        exec("DELETE FROM lake.model_dependencies WHERE model OPERATOR(pg_catalog.=) $1", &[spec.name.as_str().into()])?;
        for (s, t) in &reads {
            exec(
                "INSERT INTO lake.model_dependencies VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[spec.name.as_str().into(), s.as_str().into(), t.as_str().into()],
            )?;
        }
        if let Some(t) = target_oid {
            crate::catalog::sql::store_model(&spec.name, t, &lineage)?;
        }
        Ok(())
    })
}

#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::too_many_arguments)]
fn define_model(
    name: Option<&str>,
    sql: Option<&str>,
    target: Option<&str>,
    materialization: default!(Option<&str>, "'table'"),
    unique_key: default!(Option<Vec<Option<String>>>, "NULL"),
    strategy: default!(Option<&str>, "NULL"),
    schedule: default!(Option<&str>, "NULL"),
    timezone: default!(Option<&str>, "'UTC'"),
    owner: default!(Option<&str>, "NULL"),
    description: default!(Option<&str>, "NULL"),
    tags: default!(Option<Vec<Option<String>>>, "NULL"),
    depends_on: default!(Option<Vec<Option<String>>>, "NULL"),
    partition_by: default!(Option<&str>, "NULL"),
    retries: default!(Option<i32>, 0),
    retry_delay_seconds: default!(Option<i32>, 60),
    timeout_seconds: default!(Option<i32>, "NULL"),
    overlap: default!(Option<&str>, "'skip'"),
    enabled: default!(Option<bool>, true),
    columns: default!(Option<crate::pg::json::JsonArg>, "NULL"),
    on_schema_change: default!(Option<&str>, "'fail'"),
) {
    let name = crate::errors::required(name, "lake.define_model", "name");
    let sql = crate::errors::required(sql, "lake.define_model", "sql");
    let target = crate::errors::required(target, "lake.define_model", "target");
    let materialization = crate::errors::required(materialization, "lake.define_model", "materialization");
    let timezone = crate::errors::required(timezone, "lake.define_model", "timezone");
    let retries = crate::errors::required(retries, "lake.define_model", "retries");
    let retry_delay_seconds = crate::errors::required(retry_delay_seconds, "lake.define_model", "retry_delay_seconds");
    let overlap = crate::errors::required(overlap, "lake.define_model", "overlap");
    let enabled = crate::errors::required(enabled, "lake.define_model", "enabled");
    let on_schema_change = crate::errors::required(on_schema_change, "lake.define_model", "on_schema_change");
    let unique_key = unique_key.map(|v| crate::errors::no_null_elements(v, "lake.define_model", "unique_key"));
    let tags = tags.map(|v| crate::errors::no_null_elements(v, "lake.define_model", "tags"));
    let depends_on = depends_on.map(|v| crate::errors::no_null_elements(v, "lake.define_model", "depends_on"));
    let spec = ModelSpec {
        name: name.to_string(),
        sql: sql.to_string(),
        target: target.to_string(),
        materialization: materialization.to_string(),
        unique_key: unique_key.unwrap_or_default(),
        strategy: strategy.map(str::to_string),
        schedule: schedule.map(str::to_string),
        timezone: timezone.to_string(),
        owner: owner.map(str::to_string),
        description: description.map(str::to_string),
        tags: tags.unwrap_or_default(),
        depends_on: depends_on.unwrap_or_default(),
        partition_by: partition_by.map(str::to_string),
        retries,
        retry_delay_seconds,
        timeout_seconds,
        overlap: overlap.to_string(),
        enabled,
        columns: columns.map(|j| j.0).unwrap_or(Value::Null),
        on_schema_change: on_schema_change.to_string(),
    };
    define(&spec, current_user()).or_report()
}

fn spec_of(m: &project::Model) -> ModelSpec {
    let columns: serde_json::Map<String, Value> = m.columns.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    ModelSpec {
        name: m.name.clone(),
        sql: m.sql.clone(),
        target: m.target.clone(),
        materialization: m.materialization.as_str().to_string(),
        unique_key: m.unique_key.clone(),
        strategy: (m.materialization == Materialization::Incremental).then(|| m.strategy.as_str().to_string()),
        schedule: m.run.schedule.clone(),
        timezone: m.run.timezone.clone(),
        owner: m.run.owner.clone(),
        description: m.description.clone(),
        tags: m.tags.clone(),
        depends_on: m.depends_on.clone(),
        partition_by: m.partition_by.clone(),
        retries: m.run.retries as i32,
        retry_delay_seconds: m.run.retry_delay_seconds as i32,
        timeout_seconds: m.run.timeout_seconds.map(|t| t as i32),
        overlap: m.run.overlap.as_str().to_string(),
        enabled: m.run.enabled,
        columns: Value::Object(columns),
        on_schema_change: m.on_schema_change.clone(),
    }
}

/// One definition of a project: models and pipelines load in one loop, as
/// either may read what the other creates.
#[derive(Clone, Copy)]
enum Item<'a> {
    Model(&'a project::Model),
    Pipeline(&'a project::Pipeline),
}

impl Item<'_> {
    fn name(&self) -> &str {
        match self {
            Item::Model(m) => &m.name,
            Item::Pipeline(p) => &p.name,
        }
    }
    fn label(&self) -> String {
        match self {
            Item::Model(m) => format!("model \"{}\"", m.name),
            Item::Pipeline(p) => format!("pipeline \"{}\"", p.name),
        }
    }
    fn line(&self) -> usize {
        match self {
            Item::Model(m) => m.line,
            Item::Pipeline(p) => p.line,
        }
    }
    fn define(&self, caller: pg_sys::Oid) {
        match self {
            Item::Model(m) => define(&spec_of(m), caller).or_report(),
            Item::Pipeline(p) => super::pipeline::define(&pipeline_spec_of(p), caller).or_report(),
        }
    }
}

fn pipeline_spec_of(p: &project::Pipeline) -> super::pipeline::PipelineSpec {
    super::pipeline::PipelineSpec {
        name: p.name.clone(),
        source: p.source.clone(),
        target: p.target.clone(),
        mode: p.mode.as_str().to_string(),
        watermark_column: p.watermark_column.clone(),
        schedule: p.run.schedule.clone(),
        timezone: p.run.timezone.clone(),
        owner: p.run.owner.clone(),
        partition_by: p.partition_by.clone(),
        target_server: p.target_server.clone(),
        retries: p.run.retries as i32,
        retry_delay_seconds: p.run.retry_delay_seconds as i32,
        timeout_seconds: p.run.timeout_seconds.map(|t| t as i32),
        enabled: p.run.enabled,
        description: p.description.clone(),
    }
}

/// Defines every model and pipeline of a YAML project; returns the names
/// defined, in the order they were. A definition that reads a relation
/// another definition of the project creates is retried after the others;
/// any other error stops the load (and rolls back every definition: one
/// statement).
#[pg_extern(volatile, parallel_unsafe)]
fn load_project(yaml: &str, file: default!(&str, "'project.yml'")) -> Vec<String> {
    let project = project::parse_project(yaml, file).unwrap_or_else(|e| {
        let mut err = LakeError::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, e.to_string());
        if let Some(h) = e.hint {
            err = err.with_hint(h);
        }
        err.report()
    });
    let caller = current_user();
    // Explicit depends_on first; the rest by retry.
    let mut pending: Vec<Item> =
        project.pipelines.iter().map(Item::Pipeline).chain(project.models.iter().map(Item::Model)).collect();
    let mut done: Vec<String> = vec![];
    loop {
        let mut progressed = false;
        let mut deferred: Vec<(Item, statement::Failure)> = vec![];
        let mut next = vec![];
        for item in pending {
            let in_project_pending = match item {
                Item::Model(m) => m.depends_on.iter().any(|d| !done.contains(d) && project.models.iter().any(|o| &o.name == d)),
                Item::Pipeline(_) => false,
            };
            if in_project_pending {
                next.push(item);
                continue;
            }
            let outcome = statement::in_subtransaction(|| item.define(caller), |f| f.code != PgSqlErrorCode::ERRCODE_QUERY_CANCELED);
            match outcome {
                Ok(()) => {
                    done.push(item.name().to_string());
                    progressed = true;
                }
                Err(f) if f.code == PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE => {
                    deferred.push((item, f));
                    next.push(item);
                }
                Err(f) => report_in_project(file, item, f),
            }
        }
        if next.is_empty() {
            return done;
        }
        if !progressed {
            match deferred.into_iter().next() {
                Some((item, f)) => report_in_project(file, item, f),
                None => {
                    let item = next[0];
                    LakeError::new(
                        PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
                        format!("{file}:{}: {}: depends_on forms a dependency cycle", item.line(), item.label()),
                    )
                    .report()
                }
            }
        }
        pending = next;
    }
}

fn report_in_project(file: &str, item: Item, f: statement::Failure) -> ! {
    let mut err = LakeError::new(f.code, format!("{file}:{}: {}: {}", item.line(), item.label(), f.message));
    if let Some(h) = f.hint {
        err = err.with_hint(h);
    }
    if let Some(d) = f.detail {
        err = err.with_detail(d);
    }
    err.report()
}

#[pg_extern(volatile, parallel_unsafe)]
fn drop_model(name: &str, drop_target: default!(bool, false)) {
    let caller = current_user();
    let row = as_catalog_owner(|| model_row(name)).or_report().unwrap_or_else(|| no_such_model(name).report());
    check_may_act_as(caller, owner_oid(&row), &format!("drop model \"{name}\"")).or_report();
    if drop_target {
        let target = format!(
            "{}.{}",
            quote_ident(row["target_schema"].as_str().unwrap_or("")),
            quote_ident(row["target_name"].as_str().unwrap_or(""))
        );
        let kind = if row["materialization"] == "view" { "VIEW" } else { "TABLE" };
        // As the owner: dropping needs the owner's rights, nothing more.
        run_as(owner_oid(&row), || exec(&format!("DROP {kind} IF EXISTS {target}"), &[])).or_report();
    }
    as_catalog_owner(|| exec("DELETE FROM lake.models WHERE name OPERATOR(pg_catalog.=) $1", &[name.into()])).or_report();
    super::registry::definitions_changed();
}

fn set_enabled(name: &str, enabled: bool) {
    let caller = current_user();
    let row = as_catalog_owner(|| model_row(name)).or_report().unwrap_or_else(|| no_such_model(name).report());
    let verb = if enabled { "resume" } else { "pause" };
    check_may_act_as(caller, owner_oid(&row), &format!("{verb} model \"{name}\"")).or_report();
    as_catalog_owner(|| exec("UPDATE lake.models SET enabled = $2 WHERE name OPERATOR(pg_catalog.=) $1", &[name.into(), enabled.into()]))
        .or_report();
    super::registry::definitions_changed();
    if enabled && row["schedule"].is_string() {
        // SAFETY: plain read of a backend global.
        super::registry::register_database(unsafe { pg_sys::MyDatabaseId });
    }
}

/// Stops scheduled runs of a model (run_now still runs it).
#[pg_extern(volatile, parallel_unsafe)]
fn pause_model(name: &str) {
    set_enabled(name, false)
}

/// Resumes scheduled runs of a paused model (missed ticks follow its overlap policy).
#[pg_extern(volatile, parallel_unsafe)]
fn resume_model(name: &str) {
    set_enabled(name, true)
}

/// The id of the run executing the current model, NULL outside one.
#[pg_extern(stable, parallel_safe)]
fn current_run_id() -> Option<i64> {
    CURRENT_RUN.with(|c| c.get())
}

/// A backfill run's period: [from, to).
#[derive(Clone, Copy)]
pub(crate) struct Period {
    pub from: pgrx::datum::TimestampWithTimeZone,
    pub to: pgrx::datum::TimestampWithTimeZone,
}

thread_local! {
    /// The period of the backfill run executing in this backend.
    static CURRENT_PERIOD: Cell<Option<Period>> = const { Cell::new(None) };
}

/// Records the start of a run of `row` (status running); returns its id.
pub(crate) fn start_run(
    row: &Value,
    trigger: &str,
    scheduled_for: Option<pgrx::datum::TimestampWithTimeZone>,
    attempt: i32,
    parent: Option<i64>,
    caller: Option<pg_sys::Oid>,
) -> LakeResult<i64> {
    start_run_for(row, trigger, scheduled_for, attempt, parent, caller, None)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn start_run_for(
    row: &Value,
    trigger: &str,
    scheduled_for: Option<pgrx::datum::TimestampWithTimeZone>,
    attempt: i32,
    parent: Option<i64>,
    caller: Option<pg_sys::Oid>,
    period: Option<Period>,
) -> LakeResult<i64> {
    let name = row["name"].as_str().unwrap_or("");
    as_catalog_owner(|| {
        json_of(
            "INSERT INTO lake.runs (model, trigger, scheduled_for, attempt, started_at, status, sql_hash, run_as, requested_by, parent_run_id, \
               period_start, period_end) \
             VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(), 'running', $5, $6::oid::regrole, $7::oid::regrole, $8, $9, $10) RETURNING to_jsonb(run_id)",
            &[
                name.into(),
                trigger.into(),
                scheduled_for.into(),
                attempt.into(),
                row["sql_hash"].as_str().unwrap_or("").into(),
                owner_oid(row).into(),
                caller.into(),
                parent.into(),
                period.map(|p| p.from).into(),
                period.map(|p| p.to).into(),
            ],
        )
    })?
    .and_then(|v| v.as_i64())
    .ok_or_else(|| LakeError::internal("cannot record the run"))
}

/// Runs one model now and records the run; returns (run id, outcome).
fn execute(name: &str, trigger: &str, parent: Option<i64>, caller: pg_sys::Oid) -> LakeResult<(i64, Outcome)> {
    let row = as_catalog_owner(|| model_row(name))?.ok_or_else(|| no_such_model(name))?;
    let run_id = start_run(&row, trigger, None, 1, parent, Some(caller))?;
    perform_run(&row, run_id).map(|o| (run_id, o))
}

/// Shows a run in pg_stat_activity while it executes: the scheduler's
/// query text, or a backend's application_name (restored after).
struct Activity {
    backend: bool,
}

impl Activity {
    fn show(run_id: i64, name: &str) -> Activity {
        let text = format!("townlake run {run_id}: model {name}");
        if crate::pg::backend::is_background_worker() {
            crate::pg::worker::report_activity(&text, true);
            return Activity { backend: false };
        }
        let c = std::ffi::CString::new(text).unwrap_or_default();
        // SAFETY: copies the string into this backend's status slot.
        unsafe { pg_sys::pgstat_report_appname(c.as_ptr()) };
        Activity { backend: true }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        if self.backend {
            // SAFETY: the session's application_name setting (may be NULL),
            // copied into the status slot again.
            unsafe {
                let current = pg_sys::application_name;
                let empty = c"";
                pg_sys::pgstat_report_appname(if current.is_null() { empty.as_ptr() } else { current });
            }
        }
    }
}

/// Does run `run_id` of `row` (recorded as running) and records how it
/// ended. The model's ERROR is recorded, not raised.
pub(crate) fn perform_run(row: &Value, run_id: i64) -> LakeResult<Outcome> {
    let name = row["name"].as_str().unwrap_or("");
    let owner = owner_oid(row);
    // lake.models.owner is a regrole, which does not stop DROP ROLE: a
    // model whose owner is gone does not run (as nobody, or as anyone else).
    let owner_exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE oid OPERATOR(pg_catalog.=) $1)",
        &[owner.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !owner_exists {
        let message = format!("the owner role of model \"{name}\" (oid {}) no longer exists", owner.to_u32());
        as_catalog_owner(|| {
            exec(
                "UPDATE lake.runs SET status = 'failed', ended_at = pg_catalog.clock_timestamp(), error_sqlstate = '42704', \
                   error_message = $2 WHERE run_id OPERATOR(pg_catalog.=) $1",
                &[run_id.into(), message.as_str().into()],
            )
        })?;
        pgrx::warning!("townlake: run {run_id}: {message}; redefine the model with an existing owner");
        return Ok(Outcome::Failed);
    }
    let (schema, table) = (row["target_schema"].as_str().unwrap_or(""), row["target_name"].as_str().unwrap_or(""));
    let target = find_relation(schema, table)?.map(|t| Target {
        oid: t.oid,
        qualified: format!("{}.{}", quote_ident(schema), quote_ident(table)),
        is_iceberg: t.is_iceberg,
    });
    let timeout_ms = row["timeout_seconds"].as_i64().map(|s| (s * 1000).min(i32::MAX as i64) as u32).unwrap_or(0);
    struct RestoreRun(Option<i64>);
    impl Drop for RestoreRun {
        fn drop(&mut self) {
            CURRENT_RUN.with(|c| c.set(self.0));
        }
    }
    let _restore = RestoreRun(CURRENT_RUN.with(|c| c.replace(Some(run_id))));
    materialize::LOG.with(|l| *l.borrow_mut() = RunLog::default());
    let meter = target.as_ref().filter(|_| row["materialization"] != "view").map(|t| {
        super::history::Meter::start(t.oid, t.is_iceberg, row["materialization"] == "table")
    });
    let claim = progress::claim(run_id, owner, name);
    let activity = Activity::show(run_id, name);
    let (outcome, cancelled_by) = progress::run_cancellable(claim, timeout_ms, || {
        run_user_code_as(owner, || statement::with_statement_timeout(timeout_ms, || materialize::materialize(row, target.as_ref(), run_id).or_report()))
    });
    drop(activity);
    let log = materialize::LOG.with(|l| std::mem::take(&mut *l.borrow_mut()));
    let status = match outcome {
        Ok(rows) => {
            let bytes = meter.as_ref().map(|m| m.finish(run_id));
            as_catalog_owner(|| {
                exec(
                    "UPDATE lake.runs SET status = 'succeeded', ended_at = pg_catalog.clock_timestamp(), rows_written = $2, bytes = $3 \
                     WHERE run_id OPERATOR(pg_catalog.=) $1",
                    &[run_id.into(), rows.map(|r| r as i64).into(), bytes.into()],
                )
            })?;
            "succeeded"
        }
        Err(f) => {
            let cancelled = f.code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED && cancelled_by.is_some();
            let message = if cancelled {
                format!("cancelled by role \"{}\" (lake.cancel_run); the run's work was rolled back", role_name(cancelled_by.unwrap_or(owner)))
            } else if f.code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED {
                format!("{} (the model's timeout is {} s)", f.message, timeout_ms / 1000)
            } else {
                f.message.clone()
            };
            let status = if cancelled { "cancelled" } else { "failed" };
            as_catalog_owner(|| {
                exec(
                    "UPDATE lake.runs SET status = $4, ended_at = pg_catalog.clock_timestamp(), error_sqlstate = $2, error_message = $3 \
                     WHERE run_id OPERATOR(pg_catalog.=) $1",
                    &[run_id.into(), f.sqlstate.as_str().into(), message.as_str().into(), status.into()],
                )?;
                exec("SELECT pg_catalog.pg_notify('townlake_runs', $1)", &[run_id.to_string().into()])
            })?;
            pgrx::warning!("townlake: run {run_id} of model \"{name}\" {status}: {message} (SQLSTATE {})", f.sqlstate);
            status
        }
    };
    record_metadata(row, run_id, &log)?;
    Ok(if status == "succeeded" { Outcome::Succeeded } else { Outcome::Failed })
}

/// The run's metadata (the seed's .meta.json): what ran, what it read,
/// what it wrote, and the column lineage derived when the model was
/// defined (lake.model_column_lineage).
fn record_metadata(row: &Value, run_id: i64, log: &RunLog) -> LakeResult<()> {
    let name = row["name"].as_str().unwrap_or("");
    let columns: Vec<Value> = log.columns.iter().map(|c| json!({"name": c.name, "type": c.type_name})).collect();
    as_catalog_owner(|| {
        exec(
            "INSERT INTO lake.run_metadata (run_id, model, model_sql, resolved_sql, statements, upstream, output_columns, row_counts, \
               partitions, schema_change, column_lineage) \
             SELECT $1, $2, $3, pg_catalog.array_to_string($4::text[], E';\\n'), $4, \
               coalesce((SELECT jsonb_agg(jsonb_build_object('relation', d.relation_schema || '.' || d.relation_name, 'model', up.name, \
                  'last_run_id', (SELECT max(r.run_id) FROM lake.runs r WHERE r.model OPERATOR(pg_catalog.=) up.name \
                                  AND r.status OPERATOR(pg_catalog.=) 'succeeded')) \
                  ORDER BY d.relation_schema, d.relation_name) \
                 FROM lake.model_dependencies d LEFT JOIN lake.models up ON up.target_schema OPERATOR(pg_catalog.=) d.relation_schema \
                   AND up.target_name OPERATOR(pg_catalog.=) d.relation_name \
                 WHERE d.model OPERATOR(pg_catalog.=) $2), '[]'), \
               $5, $6, $7, $8, \
               (SELECT jsonb_agg(jsonb_build_object('column', l.target_column, 'kind', l.kind, 'source', l.source::text, \
                  'source_column', l.source_column) ORDER BY l.target_column, l.source::text, l.source_column) \
                 FROM lake.model_column_lineage l WHERE l.model OPERATOR(pg_catalog.=) $2) \
             ON CONFLICT (run_id) DO NOTHING",
            &[
                run_id.into(),
                name.into(),
                row["sql"].as_str().unwrap_or("").into(),
                log.statements.clone().into(),
                JsonB(Value::Array(columns)).into(),
                JsonB(log.row_counts()).into(),
                log.partitions.clone().map(|p| JsonB(json!(p))).into(),
                log.schema_change.clone().map(JsonB).into(),
            ],
        )
    })?;
    Ok(())
}

fn record_skip(name: &str, parent: i64, because: &str, caller: pg_sys::Oid) -> LakeResult<i64> {
    as_catalog_owner(|| {
        json_of(
            "INSERT INTO lake.runs (model, trigger, started_at, ended_at, status, sql_hash, run_as, requested_by, parent_run_id, error_message) \
             SELECT name, 'downstream', pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp(), 'skipped', sql_hash, owner, $2::oid::regrole, $3, $4 \
             FROM lake.models WHERE name OPERATOR(pg_catalog.=) $1 RETURNING to_jsonb(run_id)",
            &[name.into(), caller.into(), parent.into(), format!("skipped: upstream model \"{because}\" did not succeed").into()],
        )
    })?
    .and_then(|v| v.as_i64())
    .ok_or_else(|| LakeError::internal("cannot record the skipped run"))
}

/// Runs `name` now (and with `with_downstream`, every model downstream of
/// it, in dependency order; a failure marks everything below it skipped).
/// Returns the run id of `name`'s run.
#[pg_extern(volatile, parallel_unsafe)]
fn run_now(name: &str, with_downstream: default!(bool, false)) -> i64 {
    let caller = current_user();
    let (row, edges, names) = as_catalog_owner(|| -> LakeResult<_> { Ok((model_row(name)?, catalog_edges()?, model_names()?)) })
        .or_report();
    let row = row.unwrap_or_else(|| no_such_model(name).report());
    let mut dag = Dag::new();
    for n in &names {
        dag.add_node(n);
    }
    for (u, d) in &edges {
        dag.add_edge(u, d);
    }
    let members = if with_downstream {
        dag.downstream_closure(&[name]).map_err(|c| LakeError::internal(c.to_string())).or_report()
    } else {
        vec![name.to_string()]
    };
    // The model asked for must be one the caller may run; downstream
    // models of other owners are left out (their own schedules refresh
    // them), so nobody's dependency can make this call fail.
    check_may_act_as(caller, owner_oid(&row), &format!("run model \"{name}\"")).or_report();
    let members: Vec<String> = members
        .into_iter()
        .filter(|m| {
            m == name
                || as_catalog_owner(|| model_row(m))
                    .ok()
                    .flatten()
                    .is_some_and(|r| statement::is_member_of_role(caller, owner_oid(&r)))
        })
        .collect();
    let _ = is_superuser;
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut run_ids: BTreeMap<String, i64> = BTreeMap::new();
    let mut first: Option<i64> = None;
    loop {
        let (ready, skip) = next_steps(&dag, &members, &outcomes);
        if ready.is_empty() && skip.is_empty() {
            break;
        }
        for s in skip {
            let failed_up = dag
                .upstreams(&s)
                .find(|u| matches!(outcomes.get(*u), Some(Outcome::Failed | Outcome::Skipped)))
                .unwrap_or("")
                .to_string();
            let parent = run_ids.get(&failed_up).copied().or(first).unwrap_or(0);
            let id = record_skip(&s, parent, &failed_up, caller).or_report();
            run_ids.insert(s.clone(), id);
            outcomes.insert(s, Outcome::Skipped);
        }
        for r in ready {
            let trigger = if r == name { "manual" } else { "downstream" };
            let (id, outcome) = execute(&r, trigger, first, caller).or_report();
            first.get_or_insert(id);
            run_ids.insert(r.clone(), id);
            outcomes.insert(r, outcome);
        }
    }
    first.unwrap_or_else(|| LakeError::internal("no run was made").report())
}

/// The graph of the models and pipelines the caller can see (row security
/// applies). Edges: a model reading another model's or a pipeline's target;
/// a pipeline whose source relation is a model's or another pipeline's
/// target; a model's explicit depends_on. Nodes and edges name a node by
/// its id: a model's name, or `pipeline:` and a pipeline's name (the two
/// name spaces are separate).
fn dag_json() -> Value {
    let v = Spi::get_one::<JsonB>(
        "WITH m AS (SELECT name, target_schema, target_name FROM lake.models), \
              p AS (SELECT name, target_schema, target_name, source_kind, source_sql FROM lake.pipelines), \
              e AS ( \
                SELECT up.name AS u, 'model' AS uk, dep.model AS d, 'model' AS dk FROM lake.model_dependencies dep \
                  JOIN m up ON up.target_schema OPERATOR(pg_catalog.=) dep.relation_schema \
                           AND up.target_name OPERATOR(pg_catalog.=) dep.relation_name \
                UNION SELECT x, 'model', mm.name, 'model' FROM lake.models mm, pg_catalog.unnest(mm.depends_on) x \
                  WHERE EXISTS (SELECT 1 FROM m v WHERE v.name OPERATOR(pg_catalog.=) x) \
                UNION SELECT p.name, 'pipeline', dep.model, 'model' FROM lake.model_dependencies dep \
                  JOIN p ON p.target_schema OPERATOR(pg_catalog.=) dep.relation_schema \
                        AND p.target_name OPERATOR(pg_catalog.=) dep.relation_name \
                UNION SELECT src.name, src.kind, p.name, 'pipeline' FROM p \
                  JOIN (SELECT name, 'model' AS kind, target_schema, target_name FROM m \
                        UNION ALL SELECT name, 'pipeline', target_schema, target_name FROM p) src \
                    ON p.source_kind OPERATOR(pg_catalog.=) 'relation' \
                   AND p.source_sql OPERATOR(pg_catalog.=) ('SELECT * FROM ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(src.target_schema) \
                        OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(src.target_name)) \
              ) \
         SELECT jsonb_build_object( \
           'nodes', coalesce((SELECT jsonb_agg(jsonb_build_object('id', m.name, 'name', m.name, 'kind', 'model', 'target', m.target_schema || '.' || m.target_name, \
                'materialization', m.materialization, 'schedule', m.schedule, 'owner', m.owner::text, 'tags', m.tags, \
                'last_status', r.status, 'last_run_id', r.run_id, 'last_ended_at', r.ended_at) ORDER BY m.name) \
              FROM lake.models m LEFT JOIN LATERAL (SELECT run_id, status, ended_at FROM lake.runs x \
                WHERE x.model OPERATOR(pg_catalog.=) m.name ORDER BY run_id DESC LIMIT 1) r ON true), '[]') \
             || coalesce((SELECT jsonb_agg(jsonb_build_object('id', 'pipeline:' || p.name, 'name', p.name, 'kind', 'pipeline', 'target', p.target_schema || '.' || p.target_name, \
                'mode', p.mode, 'source', p.source, 'schedule', p.schedule, 'owner', p.owner::text, \
                'last_status', r.status, 'last_run_id', r.run_id, 'last_ended_at', r.ended_at) ORDER BY p.name) \
              FROM lake.pipelines p LEFT JOIN LATERAL (SELECT run_id, status, ended_at FROM lake.runs x \
                WHERE x.pipeline OPERATOR(pg_catalog.=) p.name ORDER BY run_id DESC LIMIT 1) r ON true), '[]'), \
           'edges', coalesce((SELECT jsonb_agg(jsonb_build_object('from', f, 'to', t) ORDER BY f, t) \
              FROM (SELECT DISTINCT CASE uk WHEN 'pipeline' THEN 'pipeline:' || u ELSE u END AS f, \
                                    CASE dk WHEN 'pipeline' THEN 'pipeline:' || d ELSE d END AS t \
                    FROM e WHERE (u, uk) IS DISTINCT FROM (d, dk)) e), '[]'))",
    );
    v.ok().flatten().map(|j| j.0).unwrap_or(json!({"nodes": [], "edges": []}))
}

#[pg_extern(stable, parallel_unsafe)]
fn dag() -> JsonB {
    let _path = crate::pg::security::PinnedSearchPath::new();
    JsonB(dag_json())
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[pg_extern(stable, parallel_unsafe)]
fn dag_dot() -> String {
    let _path = crate::pg::security::PinnedSearchPath::new();
    let g = dag_json();
    let mut out = String::from("digraph townlake {\n  rankdir=LR;\n  node [shape=box];\n");
    for n in g["nodes"].as_array().into_iter().flatten() {
        let name = n["name"].as_str().unwrap_or("");
        let kind = n["kind"].as_str().unwrap_or("model");
        let status = n["last_status"].as_str().unwrap_or("never run");
        let color = match status {
            "succeeded" => "green",
            "failed" => "red",
            "skipped" => "orange",
            "running" | "queued" => "blue",
            _ => "gray",
        };
        let (what, shape) = if kind == "pipeline" {
            (format!("pipeline ({})", n["mode"].as_str().unwrap_or("")), ", shape=cds")
        } else {
            (n["materialization"].as_str().unwrap_or("").to_string(), "")
        };
        out.push_str(&format!(
            "  {} [label={}, color={}{}];\n",
            dot_quote(n["id"].as_str().unwrap_or(name)),
            dot_quote(&format!("{name}\n{what}\n{status}")),
            color,
            shape
        ));
    }
    let mut seen = BTreeSet::new();
    for e in g["edges"].as_array().into_iter().flatten() {
        let (u, d) = (dot_quote(e["from"].as_str().unwrap_or("")), dot_quote(e["to"].as_str().unwrap_or("")));
        if seen.insert((u.clone(), d.clone())) {
            out.push_str(&format!("  {u} -> {d};\n"));
        }
    }
    out.push_str("}\n");
    out
}

/// The next `count` fire times of `schedule` after `after`, in `timezone`.
// Stable, not immutable: the answer depends on the time zone database.
#[pg_extern(stable, parallel_safe)]
fn next_fire_times(
    schedule: &str,
    after: pgrx::datum::TimestampWithTimeZone,
    count: default!(i32, 5),
    timezone: default!(&str, "'UTC'"),
) -> Vec<pgrx::datum::TimestampWithTimeZone> {
    let s = Schedule::parse(schedule).unwrap_or_else(|e| invalid(format!("invalid schedule: {}", e.message), e.hint).report());
    let tz = parse_time_zone(timezone).unwrap_or_else(|e| invalid(e.message, e.hint).report());
    if !(1..=1000).contains(&count) {
        invalid("count must be 1 to 1000", "ask for fewer fire times").report();
    }
    if after.is_infinity() || after.is_neg_infinity() {
        invalid("after must be a finite timestamp", "pass now() or another finite time").report();
    }
    let pg_micros: i64 = after.into();
    let Some(mut t) = crate::pg::time::pg_micros_to_unix_micros(pg_micros).and_then(chrono::DateTime::from_timestamp_micros) else {
        invalid("after is outside the range a schedule covers", "pass a time between 1970 and 9999").report();
    };
    let mut out = vec![];
    for _ in 0..count {
        match s.next_after(t, tz) {
            Some(n) => {
                match pgrx::datum::TimestampWithTimeZone::try_from(crate::pg::time::unix_micros_to_pg_micros(n.timestamp_micros())) {
                    Ok(ts) => out.push(ts),
                    Err(_) => break,
                }
                t = n;
            }
            None => break,
        }
    }
    out
}

extension_sql_file!(
    "../../sql/transform/transform.sql",
    name = "transform_sql",
    requires = [lake_internal, define_model, load_project, drop_model, run_now, current_run_id, dag, dag_dot, next_fire_times, pause_model, resume_model]
);
