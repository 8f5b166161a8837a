//! The metadata catalog: owners, tags, docs, annotations, notes, glossary and
//! data-model pages, with search and entity details computed live from
//! Postgres' own catalogs and filtered by the caller's access. It is SQL
//! (sql/catalog/catalog.sql); its edits and its reads of governed state go
//! through the governance dispatcher (`lake_internal._privileged`).

use pgrx::prelude::*;

pub mod similarity;

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
