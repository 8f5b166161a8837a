//! IMPORT FOREIGN SCHEMA: one foreign table per Iceberg table of a namespace,
//! with mapped column types and each column's Iceberg field id (so renames in
//! Iceberg keep working).

use std::ffi::{CStr, CString};

use pgrx::{pg_sys, PgSqlErrorCode};

use super::catalog;
use super::source::{self, server_config};
use super::types::pg_type_for;
use crate::errors::{LakeError, LakeResult};
use crate::fdw::routine::ImportRequest;

fn quote_ident(name: &str) -> String {
    let c = CString::new(name).unwrap_or_default();
    // SAFETY: quote_identifier returns its input or a palloc'd copy.
    unsafe { CStr::from_ptr(pg_sys::quote_identifier(c.as_ptr())).to_string_lossy().into_owned() }
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The CREATE FOREIGN TABLE commands of an IMPORT FOREIGN SCHEMA.
pub fn build_commands(server_oid: pg_sys::Oid, request: &ImportRequest) -> LakeResult<Vec<String>> {
    let server = server_config(server_oid)?;
    let namespace = request.remote_schema.clone();
    let local_schema = request.local_schema.clone();
    let mut tables = catalog::list_tables(&server.catalog_name, &namespace)?;
    if tables.is_empty() && !catalog::namespace_exists(&server.catalog_name, &namespace)? {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_SCHEMA_NOT_FOUND,
            format!("Iceberg namespace \"{namespace}\" does not exist in catalog \"{}\"", server.catalog_name),
        )
        .with_hint("SELECT DISTINCT table_namespace FROM lake.iceberg_tables lists the namespaces that have tables."));
    }
    tables.retain(|t| request.wants(t));
    let server_name = quote_ident(&server.name);
    let importer = crate::pg::security::current_user();
    let governed_target = catalog::schema_governed(&local_schema)?;
    let mut commands = Vec::new();
    for table in tables {
        // Tables this role may not attach are left out, with a word why.
        if let Err(refused) = catalog::may_attach(importer, governed_target, &server.catalog_name, &namespace, &table)? {
            pgrx::notice!("skipping {namespace}.{table}: {}", refused.message);
            continue;
        }
        let Some(location) = catalog::metadata_location(&server.catalog_name, &namespace, &table)? else {
            continue;
        };
        let metadata = source::load_metadata(&server, &location)?;
        let schema = metadata.current_schema();
        let columns: Vec<String> = schema
            .as_struct()
            .fields()
            .iter()
            .map(|f| {
                // Required Iceberg fields are NOT NULL here too: BI tools
                // read nullability from the Postgres catalogs.
                format!(
                    "{} {} OPTIONS (field_id '{}'){}",
                    quote_ident(&f.name),
                    pg_type_for(&f.field_type),
                    f.id,
                    if f.required { " NOT NULL" } else { "" }
                )
            })
            .collect();
        commands.push(format!(
            "CREATE FOREIGN TABLE {}.{} (\n  {}\n) SERVER {} OPTIONS (namespace {}, \"table\" {})",
            quote_ident(&local_schema),
            quote_ident(&table),
            columns.join(",\n  "),
            server_name,
            quote_literal(&namespace),
            quote_literal(&table),
        ));
    }
    Ok(commands)
}
