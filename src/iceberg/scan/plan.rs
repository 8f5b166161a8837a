//! Planning an Iceberg foreign scan: each column of the foreign table mapped
//! to an Iceberg field, and the plan state the executor gets (the WHERE
//! clauses were classified by the neutral layer).

use pgrx::{pg_sys, PgSqlErrorCode};
use serde::{Deserialize, Serialize};

use crate::errors::{LakeError, LakeResult};
use crate::fdw::clauses::ClassifyColumn;
use crate::fdw::filter::Filter;
use crate::fdw::source::table_columns;
use crate::iceberg::source::ResolvedTable;
use crate::iceberg::types::{check_compatible, pg_type_for, PgKind};
use crate::pg::types::{numeric_typmod, Builtin};

/// A column of the foreign table and the Iceberg field it reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanColumn {
    pub attnum: i16,
    pub attname: String,
    pub field_id: i32,
    pub type_oid: u32,
    pub typmod: i32,
}

/// Everything the executor needs, stored in the plan (survives plan caching).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanPlan {
    pub relid: u32,
    pub columns: Vec<PlanColumn>,
    /// Indexes into `columns` of the columns the query uses.
    pub needed: Vec<usize>,
    pub filter: Option<Filter>,
    /// This scan feeds an UPDATE or DELETE of the table: it reads every
    /// column and gives each row an identity (ctid) naming its data file.
    #[serde(default)]
    pub row_identity: bool,
    /// Rows the query can use at most, when the LIMIT may be pushed (one
    /// relation, no ORDER BY/grouping, every clause translated).
    #[serde(default)]
    pub limit: Option<u64>,
    /// The Iceberg table's name at plan time, for EXPLAIN.
    #[serde(default)]
    pub table_name: String,
    /// The role whose user mapping the scan uses (the view owner when read
    /// through a view); 0 for the current user.
    #[serde(default)]
    pub mapping_user: u32,
    /// An accepted aggregate path: the scan returns its result rows
    /// (`scan::agg`), its columns are `needed` in this order.
    #[serde(default)]
    pub aggregate: Option<super::agg::AggSpec>,
    /// An accepted top-N path: the scan returns at most `limit` rows of
    /// these outputs, in the query's order.
    #[serde(default)]
    pub top_n: Option<super::topn::TopN>,
}

/// What planning learned about the relation.
pub struct RelInfo {
    pub columns: Vec<PlanColumn>,
    pub table_name: String,
    /// Data files in the current snapshot (parallel scans divide them).
    pub files: f64,
    pub relid: u32,
    /// The current schema and its promoted fields (aggregate pushdown checks
    /// types and the pushed filter's exactness against them).
    pub schema: Option<iceberg::spec::SchemaRef>,
    pub promoted: Vec<i32>,
    /// Fields an earlier schema lacks (older files do not have them).
    pub added: Vec<i32>,
    /// Rows in the current snapshot.
    pub tuples: f64,
}

impl RelInfo {
    /// The columns as the neutral clause classifier sees them.
    pub fn classify_columns(&self) -> Vec<ClassifyColumn> {
        self.columns.iter().map(|c| ClassifyColumn { attnum: c.attnum, type_oid: c.type_oid }).collect()
    }
}

/// Map every column of the foreign table to an Iceberg field of the current
/// schema (by the `field_id` option, else by `column_name` or its own name)
/// and check the declared type can hold the field's type.
pub fn plan_columns(relid: pg_sys::Oid, resolved: &ResolvedTable) -> LakeResult<Vec<PlanColumn>> {
    let schema = resolved.metadata.current_schema();
    let (relname, columns) = table_columns(relid);
    let mut out = Vec::new();
    for column in columns {
        let attname = column.name;
        let opts = &column.options;
        let field = match opts.get("field_id").and_then(|v| v.trim().parse::<i32>().ok()) {
            Some(id) => schema.field_by_id(id),
            None => schema.field_by_name(opts.get("column_name").unwrap_or(&attname)),
        };
        let Some(field) = field else {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                format!("column \"{attname}\" of foreign table \"{relname}\" does not exist in Iceberg table \"{}\"", resolved.display_name),
            )
            .with_hint(format!(
                "The table's columns are: {}. Use the column option column_name or field_id, or IMPORT FOREIGN SCHEMA again.",
                schema.as_struct().fields().iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", ")
            )));
        };
        let typmod = column.typmod;
        let declared = Builtin::from_oid(column.type_oid).map(PgKind::of).ok_or_else(|| {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!("column \"{attname}\" of foreign table \"{relname}\" has a type townlake cannot fill from Iceberg"),
            )
            .with_hint(format!("Declare it as {}.", pg_type_for(&field.field_type)))
        })?;
        let numeric = if declared == PgKind::Numeric { numeric_typmod(typmod) } else { None };
        check_compatible(&field.field_type, declared, numeric).map_err(|why| {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!("column \"{attname}\" of foreign table \"{relname}\": {why}"),
            )
            .with_hint(format!(
                "Declare it as {} (ALTER FOREIGN TABLE {relname} ALTER COLUMN {attname} TYPE …).",
                pg_type_for(&field.field_type)
            ))
        })?;
        out.push(PlanColumn {
            attnum: column.attnum,
            attname,
            field_id: field.id,
            type_oid: column.type_oid.to_u32(),
            typmod,
        });
    }
    Ok(out)
}
