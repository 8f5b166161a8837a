//! The metadata catalog: owners, tags, docs, annotations, notes, glossary and
//! data-model pages, with search and entity details computed live from
//! Postgres' own catalogs and filtered by the caller's access. It is SQL
//! (sql/catalog/catalog.sql); its edits and its reads of governed state go
//! through the governance dispatcher (`lake_internal._privileged`).

use pgrx::prelude::*;

pub mod lineage;
pub mod similarity;
pub mod sql;
pub mod yaml;

/// Search's typo-tolerant match when pg_trgm is not installed (native: a SQL
/// version cost seconds a call on a busy machine).
#[pg_extern(name = "_catalog_similarity", schema = "lake_internal", immutable, strict, parallel_safe)]
fn catalog_similarity(query: &str, text: &str) -> f32 {
    similarity::word_similarity(query, text)
}

// Uses the governance tables, roles and dispatcher, so it runs after them.
extension_sql_file!(
    "../../sql/catalog/catalog.sql",
    name = "catalog",
    requires = ["governance", "audit", catalog_similarity]
);

// Column lineage (reads lake.models and lake.pipelines: after the transformations' SQL) and
// the YAML catalog files.
extension_sql_file!(
    "../../sql/catalog/lineage.sql",
    name = "catalog_lineage",
    requires = ["catalog", "transform_sql", "pipeline_sql", sql::catalog_view_columns, sql::catalog_json_to_yaml, sql::catalog_yaml_to_json, sql::catalog_statement_usage]
);
