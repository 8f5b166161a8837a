//! The SQL face of column lineage and of the YAML catalog files: the
//! lineage of a view's columns (computed on the fly, as the caller), the
//! lineage of a model's columns (computed when it is defined, as its
//! owner, and stored in lake.model_column_lineage), and the jsonb ⇄ YAML
//! conversions behind lake.export_catalog and lake.load_catalog.

use pgrx::prelude::*;
use pgrx::JsonB;

use super::lineage::{self, ColumnLineage};
use super::yaml;
use crate::errors::{LakeError, LakeResult};
use crate::pg::statement::in_subtransaction;

/// The column lineage of SELECT `sql`, analysed as the current user with the
/// current search_path (the define path calls it as the model's owner).
/// Empty when it is not one SELECT.
pub fn of_select(sql: &str) -> Vec<ColumnLineage> {
    crate::pg::lineage::analyze(sql).map(|shape| lineage::columns(&shape, sql)).unwrap_or_default()
}

/// Replaces the stored column lineage of model `model`, whose target is
/// `target`. Runs as the catalog owner (the caller's rights were checked
/// by the define path; the rows are shown through row security).
pub fn store_model(model: &str, target: pg_sys::Oid, cols: &[ColumnLineage]) -> LakeResult<()> {
    let err = |e: pgrx::spi::SpiError| LakeError::internal(format!("cannot store the column lineage of model {model}: {e}"));
    Spi::connect_mut(|c| -> Result<(), pgrx::spi::SpiError> {
        c.update(
            "DELETE FROM lake.model_column_lineage WHERE model OPERATOR(pg_catalog.=) $1",
            None,
            &[model.into()],
        )?;
        c.update("DELETE FROM lake.model_columns WHERE model OPERATOR(pg_catalog.=) $1", None, &[model.into()])?;
        for col in cols {
            let rels: Vec<pg_sys::Oid> = col.sources.iter().map(|s| pg_sys::Oid::from(s.0)).collect();
            let atts: Vec<i16> = col.sources.iter().map(|s| s.1).collect();
            c.update(
                "WITH s AS (SELECT a.attrelid, a.attname FROM ROWS FROM (pg_catalog.unnest($7::pg_catalog.oid[]), pg_catalog.unnest($8::pg_catalog.int2[])) u(rel, att) \
                              JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) u.rel \
                               AND (a.attnum OPERATOR(pg_catalog.=) u.att \
                                    OR (u.att OPERATOR(pg_catalog.=) 0 AND a.attnum OPERATOR(pg_catalog.>) 0)) \
                               AND NOT a.attisdropped), \
                 col AS (INSERT INTO lake.model_columns (model, target, target_column, position, kind, expression, source_count) \
                         SELECT $1, $2::pg_catalog.oid::pg_catalog.regclass, $3, $4, $5, $6, (SELECT pg_catalog.count(*) FROM s)::int) \
                 INSERT INTO lake.model_column_lineage (model, target, target_column, kind, source, source_column) \
                 SELECT $1, $2::pg_catalog.oid::pg_catalog.regclass, $3, $5, s.attrelid::pg_catalog.regclass, s.attname FROM s",
                None,
                &[
                    model.into(),
                    target.into(),
                    col.name.as_str().into(),
                    (col.position as i32).into(),
                    if col.direct { "direct" } else { "derived" }.into(),
                    col.expression.clone().into(),
                    rels.into(),
                    atts.into(),
                ],
            )?;
        }
        Ok(())
    })
    .map_err(err)
}

/// Where each column of view `view` comes from, one row per source column
/// (attribute 0: every column of the source), from the view's definition
/// analysed as the caller. A view whose definition no longer analyses
/// (an error in a subtransaction) has no rows.
#[pg_extern(name = "_catalog_view_columns", schema = "lake_internal", stable, strict, parallel_unsafe)]
#[allow(clippy::type_complexity)]
fn catalog_view_columns(
    view: pg_sys::Oid,
) -> TableIterator<
    'static,
    (
        name!(position, i32),
        name!(target_column, String),
        name!(kind, String),
        name!(source, Option<pg_sys::Oid>),
        name!(source_attnum, Option<i16>),
        name!(expression, Option<String>),
    ),
> {
    let definition = Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.pg_get_viewdef(c.oid) FROM pg_catalog.pg_class c \
          WHERE c.oid OPERATOR(pg_catalog.=) $1 AND c.relkind OPERATOR(pg_catalog.=) ANY ('{v,m}'::pg_catalog.\"char\"[])",
        &[view.into()],
    )
    .ok()
    .flatten();
    let cols = match definition {
        Some(sql) => in_subtransaction(move || of_select(&sql), |f| f.code != PgSqlErrorCode::ERRCODE_QUERY_CANCELED)
            .unwrap_or_default(),
        None => vec![],
    };
    let mut rows = vec![];
    for c in cols {
        let kind = if c.direct { "direct" } else { "derived" }.to_string();
        if c.sources.is_empty() {
            rows.push((c.position as i32, c.name.clone(), kind.clone(), None, None, c.expression.clone()));
        }
        for (rel, att) in &c.sources {
            rows.push((c.position as i32, c.name.clone(), kind.clone(), Some(pg_sys::Oid::from(*rel)), Some(*att), c.expression.clone()));
        }
    }
    TableIterator::new(rows)
}

/// jsonb → YAML text (lake.export_catalog).
#[pg_extern(name = "_catalog_json_to_yaml", schema = "lake_internal", immutable, strict, parallel_safe)]
fn catalog_json_to_yaml(doc: crate::pg::json::JsonArg) -> String {
    yaml::to_yaml(&doc.0)
}

/// YAML text → jsonb (lake.load_catalog); bad YAML is an ERROR with its
/// line and column.
#[pg_extern(name = "_catalog_yaml_to_json", schema = "lake_internal", immutable, strict, parallel_safe)]
fn catalog_yaml_to_json(text: &str) -> JsonB {
    match yaml::from_yaml(text) {
        Ok(v) => JsonB(v),
        Err(e) => LakeError::invalid(format!("lake.load_catalog: {e}"))
            .with_hint("Pass the text lake.export_catalog() writes: a mapping with datasets, glossary and pages.")
            .report(),
    }
}

/// The relations a statement's text names and the columns it equi-joins
/// them on, from the raw parse tree only (pg_stat_statements' texts: the
/// catalog reads them as the extension owner, so nothing of them may run):
/// `{"relations": [[schema, name]], "joins": [[[schema, name, column], [...]]]}`.
/// NULL when the text does not parse.
#[pg_extern(name = "_catalog_statement_usage", schema = "lake_internal", stable, strict, parallel_unsafe)]
fn catalog_statement_usage(query: &str) -> Option<JsonB> {
    let query = query.to_string();
    let usage = in_subtransaction(move || crate::pg::lineage::raw_usage(&query), |f| f.code != PgSqlErrorCode::ERRCODE_QUERY_CANCELED)
        .ok()
        .flatten()?;
    Some(JsonB(serde_json::json!({
        "relations": usage.relations,
        "joins": usage.joins,
    })))
}
