//! The metadata catalog: owners, tags, docs, annotations, notes, glossary and
//! data-model pages, with search and entity details computed live from
//! Postgres' own catalogs and filtered by the caller's access. It is SQL
//! (sql/catalog/catalog.sql); its edits and its reads of governed state go
//! through the governance dispatcher (`lake_internal._privileged`).

use pgrx::prelude::*;

// Uses the governance tables, roles and dispatcher, so it runs after them.
extension_sql_file!("../../sql/catalog/catalog.sql", name = "catalog", requires = ["governance", "audit"]);
