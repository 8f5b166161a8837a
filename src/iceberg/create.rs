//! CREATE FOREIGN TABLE on an iceberg server creates the Iceberg table when
//! the catalog does not have it yet, in the same transaction (an event
//! trigger calls in here); otherwise it attaches the existing table.

use std::ffi::CStr;

use iceberg::spec::{NestedField, Schema, UnboundPartitionSpec};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use super::catalog;
use super::partition::parse_partition_by;
use super::source::{is_iceberg_table, server_config, table_options};
use super::types::iceberg_type_for;
use crate::errors::{iceberg_message, LakeError, LakeResult, OrReport};
use crate::pg::types::numeric_typmod;

/// Called by the `townlake_attach_iceberg` event trigger for each new foreign table.
#[pg_extern(schema = "lake_internal")]
fn iceberg_foreign_table_created(relid: pg_sys::Oid) {
    if !is_iceberg_table(relid) {
        return;
    }
    // Called by the event trigger (running as the extension owner) for
    // what the statement created; anyone else calling directly must own
    // the table.
    // SAFETY: reads the session's current user.
    if !crate::pg::compat::owns_relation(relid, unsafe { pg_sys::GetUserId() }) {
        LakeError::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, "must own the foreign table").report();
    }
    create_if_missing(relid).or_report();
}

pub const PARTITION_HINT: &str = "Transforms: identity, year/month/day/hour on date and timestamp columns, bucket(n, col), truncate(w, col) on ints, decimals and strings.";

fn create_if_missing(relid: pg_sys::Oid) -> LakeResult<()> {
    let (options, server_oid) = table_options(relid)?;
    let Some(namespace) = options.namespace.clone() else {
        return Ok(());
    };
    if options.metadata_location.is_some() {
        return Ok(());
    }
    // A restore attaches: the catalog rows and owner records come with the
    // dump's data, after the foreign tables (and the scan checks then).
    if crate::fdw::policy::restoring() {
        return Ok(());
    }
    let owner = crate::pg::security::relation_owner(relid).unwrap_or_else(crate::pg::security::current_user);
    // The event trigger runs as the extension owner: the new table's first
    // metadata is written with the creating role's own user mapping (or
    // PUBLIC's), as its later writes are, never with the extension owner's keys.
    let server = super::source::with_mapping_user(owner, || server_config(server_oid))?;
    let governed = catalog::in_governed_schema(relid)?;
    if catalog::metadata_location(&server.catalog_name, &namespace, &options.table)?.is_some() {
        // Attaching: refused here already when the table is not ours to
        // reach (the scan checks again, whatever ALTER did since).
        catalog::attach_check(relid, owner, &server.catalog_name, &namespace, &options.table)?;
        // Say so when the table is another role's (it allowed this one to
        // attach): what is written into it is that role's to read.
        if let Some(record) = catalog::table_owner(&server.catalog_name, &namespace, &options.table)? {
            if !record.governed && !crate::pg::security::has_privs_of_role(owner, record.owner) {
                pgrx::notice!(
                    "{} attaches Iceberg table {namespace}.{}, which belongs to role {}: rows written into it are that role's",
                    super::source::relation_display(relid),
                    options.table,
                    crate::pg::catalog::role_name(record.owner).unwrap_or_else(|| record.owner.to_u32().to_string())
                );
            }
        }
        if governed {
            // The first governed foreign table claims a table other engines
            // made: from now on it is reachable only through governance.
            catalog::record_owner(&server.catalog_name, &namespace, &options.table, owner, true, None)?;
        }
        return Ok(());
    }
    let (table_opts, _) = crate::fdw::source::table_options(relid);
    let attach_only = super::storage::options::parse_bool("attach_only", table_opts.get("attach_only"))
        .map_err(LakeError::invalid)?
        .unwrap_or(false);
    if attach_only {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            format!("Iceberg table \"{namespace}.{}\" does not exist in catalog \"{}\"", options.table, server.catalog_name),
        )
        .with_hint("attach_only never creates a table: check the namespace and table options (SELECT * FROM lake.iceberg_tables lists the catalog)."));
    }
    if server.read_only {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("Iceberg table {namespace}.{} does not exist and server \"{}\" is read-only", options.table, server.name),
        ));
    }
    let (schema, names) = schema_of(relid)?;
    let partition_by = table_opts.get("partition_by").cloned();
    let spec = match partition_by {
        None => None,
        Some(text) => {
            let terms = parse_partition_by(&text).map_err(|m| {
                LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, format!("invalid partition_by: {m}"))
            })?;
            let mut builder = UnboundPartitionSpec::builder();
            for term in terms {
                let Some((id, _)) = names.iter().find(|(_, n)| *n == term.column) else {
                    return Err(LakeError::new(
                        PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                        format!("partition_by names column \"{}\", which the table does not have", term.column),
                    ));
                };
                let ty = schema.field_by_id(*id).map(|f| (*f.field_type).clone());
                if let Some(Err(m)) = ty.map(|t| term.check_type(&t)) {
                    return Err(LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, format!("invalid partition_by: {m}"))
                        .with_hint(PARTITION_HINT));
                }
                builder = builder.add_partition_field(*id, term.field_name(), term.transform).map_err(|e| {
                    LakeError::new(
                        PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
                        format!("invalid partition_by term {}: {}", term.display(), iceberg_message(&e)),
                    )
                    .with_hint(PARTITION_HINT)
                })?;
            }
            Some(builder.build())
        }
    };
    catalog::spi::create_table(&server, &namespace, &options.table, schema, spec).map_err(|e| {
        if e.message.contains("transform") || e.message.contains("partition") {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, e.message)
                .with_hint(PARTITION_HINT)
        } else {
            e
        }
    })?;
    // This foreign table owns the table it created: DROP FOREIGN TABLE drops
    // it from the catalog too (tables attached or imported are only detached).
    catalog::record_owner(&server.catalog_name, &namespace, &options.table, owner, governed, Some(relid))?;
    pgrx::notice!("created Iceberg table {namespace}.{} in catalog \"{}\"", options.table, server.catalog_name);
    Ok(())
}

/// The Iceberg schema for the foreign table's columns (field ids 1..n).
fn schema_of(relid: pg_sys::Oid) -> LakeResult<(Schema, Vec<(i32, String)>)> {
    let (_, columns) = crate::fdw::source::table_columns(relid);
    let mut fields = Vec::new();
    let mut names = Vec::new();
    let mut id = 0;
    for att in columns {
        id += 1;
        let name = att.name;
        // SAFETY: format_type_be returns a palloc'd name for any type oid.
        let type_name = unsafe { CStr::from_ptr(pg_sys::format_type_be(att.type_oid)).to_string_lossy().into_owned() };
        let numeric = if att.type_oid == pg_sys::NUMERICOID { numeric_typmod(att.typmod) } else { None };
        let ty = iceberg_type_for(&type_name, numeric).map_err(|m| {
            LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE, format!("column \"{name}\": {m}"))
                .with_hint("Iceberg tables take boolean, smallint, integer, bigint, real, double precision, numeric(p,s), date, time, timestamp, timestamptz, text, varchar, json(b), uuid and bytea columns.")
        })?;
        let field = if att.not_null {
            NestedField::required(id, &name, ty)
        } else {
            NestedField::optional(id, &name, ty)
        };
        fields.push(std::sync::Arc::new(field));
        names.push((id, name));
    }
    let schema = Schema::builder()
        .with_fields(fields)
        .build()
        .map_err(|e| LakeError::invalid(iceberg_message(&e)))?;
    Ok((schema, names))
}

extension_sql_file!("../../sql/iceberg/ddl_trigger.sql", name = "iceberg_ddl_trigger", requires = [iceberg_foreign_table_created]);
