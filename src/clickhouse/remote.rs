//! A foreign table's ClickHouse side, resolved in the backend: the endpoint
//! from the server and user mapping, the remote table's columns matched
//! with the local ones, and ClickHouse failures as Postgres ERRORs.

use std::collections::BTreeMap;

use pgrx::{pg_sys, PgSqlErrorCode};
use serde::{Deserialize, Serialize};

use super::http::{self, ChError};
use super::options::Endpoint;
use super::sql::{string_literal, RemoteColumn};
use super::types::{read_as, ChType, PgKind};
use crate::errors::{LakeError, LakeResult};
use crate::fdw::clauses::ClassifyColumn;
use crate::fdw::source;
use crate::pg::types::Builtin;

/// A server's name and endpoint for the mapping user.
pub fn endpoint(server: pg_sys::Oid, mapping_user: pg_sys::Oid) -> LakeResult<(String, Endpoint)> {
    let opts = source::with_mapping_user(mapping_user, || source::server_options(server));
    let endpoint = Endpoint::from_options(&opts.options).map_err(|m| {
        LakeError::new(PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE, format!("server \"{}\": {m}", opts.name))
            .with_hint("See docs/clickhouse.md for the options of the clickhouse wrapper.")
    })?;
    Ok((opts.name, endpoint))
}

/// A foreign table outside the governed schemas may not reach ClickHouse as
/// the ClickHouse user a governed raw foreign table is read as (same host,
/// port and user): with `USAGE` on the server and a `PUBLIC` user mapping,
/// any role could otherwise map the governed table (or anything else that
/// user may read) into a schema of its own and read it unreviewed, unmasked
/// and unaudited. Superusers and roles that may act as a governed table's
/// owner (who read it raw anyway) are not refused.
fn refuse_governed_credentials(relid: pg_sys::Oid, display: &str, endpoint: &Endpoint) -> LakeResult<()> {
    use crate::fdw::policy;
    use crate::pg::security::{current_user, has_privs_of_role, is_superuser};
    // SAFETY: a syscache lookup.
    if !policy::anything_governed() || policy::governed_schema(unsafe { pg_sys::get_rel_namespace(relid) }) {
        return Ok(());
    }
    let user = current_user();
    if is_superuser(user) {
        return Ok(());
    }
    let (_, server) = source::table_options(relid);
    for g in policy::governed_foreign_tables(server) {
        if has_privs_of_role(user, g.owner) {
            continue;
        }
        let same = match endpoint_of(g.server, g.owner) {
            Some(theirs) => theirs.same_account(endpoint),
            // unreadable options: the same server object is the same credentials
            None => g.server == server,
        };
        if same {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!(
                    "foreign table {display} would read ClickHouse at {} as user \"{}\", which governed table {} is read as",
                    endpoint.url(),
                    endpoint.effective_user(),
                    source::relation_display(g.relid)
                ),
            )
            .with_hint(
                "Read governed data through its published view (lake.request_access asks for a grant). For other ClickHouse \
                 tables, map your own ClickHouse user: CREATE USER MAPPING FOR CURRENT_USER SERVER ... OPTIONS (user '...', password '...').",
            ));
        }
    }
    Ok(())
}

fn endpoint_of(server: pg_sys::Oid, mapping_user: pg_sys::Oid) -> Option<Endpoint> {
    let opts = source::with_mapping_user(mapping_user, || source::server_options(server));
    Endpoint::from_options(&opts.options).ok()
}

/// A ClickHouse failure as a Postgres ERROR. `what` says what townlake was
/// doing; the password is never part of any of these texts.
pub fn error(server: &str, endpoint: &Endpoint, what: &str, err: ChError) -> LakeError {
    match err {
        ChError::Connect(m) => LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!("cannot reach ClickHouse server \"{server}\" at {} while {what}: {m}", endpoint.url()),
        )
        .with_hint(
            "Check that ClickHouse is running and that the server's host, port and secure options name its HTTP \
             interface (port 8123 by default, 8443 with secure 'true').",
        ),
        ref e @ ChError::Server { ref code, ref message } if e.is_authentication() => LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
            format!(
                "ClickHouse server \"{server}\" refused user \"{}\" (code {}): {message}",
                endpoint.user.as_deref().unwrap_or("default"),
                code.unwrap_or(0)
            ),
        )
        .with_hint(format!(
            "Check the user and password of the user mapping: ALTER USER MAPPING FOR CURRENT_USER SERVER {server} \
             OPTIONS (SET password '...')."
        )),
        ChError::Server { code, message } => {
            let sqlstate = match code {
                Some(60 | 81) => PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
                Some(47 | 16) => PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
                Some(159) => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
                _ => PgSqlErrorCode::ERRCODE_FDW_ERROR,
            };
            let code_text = code.map(|c| format!(" (code {c})")).unwrap_or_default();
            let hint = match code {
                Some(60 | 81) | Some(47 | 16) => {
                    "The foreign table no longer matches ClickHouse: check its database, table and column_name options."
                }
                Some(159) => "ClickHouse stopped the query at the server's max_execution_time.",
                _ => "The query ran on ClickHouse; see the ClickHouse server's log for details.",
            };
            LakeError::new(sqlstate, format!("ClickHouse server \"{server}\" failed while {what}{code_text}: {message}"))
                .with_hint(hint)
        }
        ChError::Protocol(m) => LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_ERROR,
            format!("unexpected answer from ClickHouse server \"{server}\" while {what}: {m}"),
        )
        .with_hint("Check that the server's host and port name a ClickHouse HTTP interface."),
    }
}

/// Run a short statement and return its text answer.
pub fn query_text(server: &str, endpoint: &Endpoint, what: &str, sql: &str) -> LakeResult<String> {
    let id = uuid::Uuid::new_v4().to_string();
    crate::runtime::block_on(http::query_text(endpoint, sql, &id)).map_err(|e| error(server, endpoint, what, e))
}

/// A remote table's columns (name, type) in ClickHouse's order, and its
/// row count when ClickHouse keeps one (MergeTree parts).
pub fn describe(server: &str, endpoint: &Endpoint, database: &str, table: &str) -> LakeResult<(Vec<(String, String)>, Option<f64>)> {
    let (db, t) = (string_literal(database), string_literal(table));
    let sql = format!(
        "SELECT name, type, (SELECT toUInt64(sum(rows)) FROM system.parts WHERE active AND database = {db} AND table = {t}) \
         FROM system.columns WHERE database = {db} AND table = {t} FORMAT TabSeparated"
    );
    let text = query_text(server, endpoint, &format!("describing table {database}.{table}"), &sql)?;
    let mut columns = Vec::new();
    let mut rows = None;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f = super::tsv::fields(line.as_bytes());
        let text = |i: usize| f.get(i).cloned().flatten().map(|b| String::from_utf8_lossy(&b).into_owned());
        let (Some(name), Some(ty)) = (text(0), text(1)) else {
            return Err(error(server, endpoint, "describing a table", ChError::Protocol(format!("bad line {line:?}"))));
        };
        rows = text(2).and_then(|r| r.parse::<f64>().ok()).filter(|r| *r > 0.0);
        columns.push((name, ty));
    }
    if columns.is_empty() {
        return Err(LakeError::new(
            PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
            format!("ClickHouse table {database}.{table} does not exist on server \"{server}\""),
        )
        .with_hint("Check the foreign table's database and table options (the database defaults to the server's)."));
    }
    Ok((columns, rows))
}

/// The Postgres side of a column's type, as reading cares.
pub fn pg_kind(type_oid: pg_sys::Oid) -> PgKind {
    if let Some(b) = Builtin::from_oid(type_oid) {
        return match b {
            Builtin::Int2 | Builtin::Int4 | Builtin::Int8 => PgKind::Integer,
            Builtin::Numeric => PgKind::Numeric,
            Builtin::Float4 | Builtin::Float8 => PgKind::Float,
            Builtin::Bool => PgKind::Bool,
            Builtin::Text | Builtin::Varchar => PgKind::Text,
            Builtin::Date => PgKind::Date,
            Builtin::Timestamp => PgKind::Timestamp,
            Builtin::TimestampTz => PgKind::TimestampTz,
            Builtin::Uuid => PgKind::Uuid,
            Builtin::Bytea => PgKind::Bytea,
            Builtin::Json | Builtin::Jsonb => PgKind::Json,
            Builtin::Time => PgKind::Other,
        };
    }
    match type_oid {
        pg_sys::BPCHAROID | pg_sys::NAMEOID => PgKind::Text,
        pg_sys::INETOID | pg_sys::CIDROID => PgKind::Inet,
        _ => {
            // SAFETY: syscache lookup; INVALID for non-array types.
            let elem = unsafe { pg_sys::get_element_type(type_oid) };
            if elem != pg_sys::Oid::INVALID {
                PgKind::Array(Box::new(pg_kind(elem)))
            } else {
                PgKind::Other
            }
        }
    }
}

fn type_name(type_oid: pg_sys::Oid, typmod: i32) -> String {
    // SAFETY: format_type_with_typemod returns a palloc'd string.
    unsafe { std::ffi::CStr::from_ptr(pg_sys::format_type_with_typemod(type_oid, typmod)).to_string_lossy().into_owned() }
}

/// One local column and where its values come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalColumn {
    pub remote: RemoteColumn,
    /// Index in the tuple descriptor.
    pub index: usize,
    pub attnum: i16,
    pub type_oid: u32,
    pub typmod: i32,
    pub local_name: String,
}

/// A foreign table resolved against ClickHouse.
pub struct Resolved {
    pub server: pg_sys::Oid,
    pub database: String,
    pub table: String,
    pub columns: Vec<LocalColumn>,
    pub rows: Option<f64>,
}

impl Resolved {
    /// The columns clauses and upper paths refer to, in the same order.
    pub fn classify_columns(&self) -> Vec<ClassifyColumn> {
        self.columns.iter().map(|c| ClassifyColumn { attnum: c.attnum, type_oid: c.type_oid }).collect()
    }
}

/// Resolve foreign table `relid` for `mapping_user`: the remote table must
/// exist and have every local column, each of a type the local one reads.
pub fn resolve(relid: pg_sys::Oid, mapping_user: pg_sys::Oid) -> LakeResult<Resolved> {
    let (table_opts, server) = source::table_options(relid);
    let (server_name, endpoint) = endpoint(server, mapping_user)?;
    let display = source::relation_display(relid);
    refuse_governed_credentials(relid, &display, &endpoint)?;
    let database = table_opts.get("database").cloned().unwrap_or_else(|| endpoint.database.clone());
    let (local_name, local) = source::table_columns(relid);
    let table = table_opts.get("table").cloned().unwrap_or(local_name);
    let (remote, rows) = describe(&server_name, &endpoint, &database, &table)?;
    let by_name: BTreeMap<&str, &str> = remote.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let mut columns = Vec::with_capacity(local.len());
    for c in &local {
        let remote_name = c.options.get("column_name").cloned().unwrap_or_else(|| c.name.clone());
        let Some(ty) = by_name.get(remote_name.as_str()) else {
            let names: Vec<&str> = remote.iter().map(|(n, _)| n.as_str()).collect();
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
                format!("column \"{}\" of foreign table {display} has no column \"{remote_name}\" in ClickHouse table {database}.{table}", c.name),
            )
            .with_hint(format!(
                "ClickHouse's columns are: {}. Name one with ALTER FOREIGN TABLE ... ALTER COLUMN ... OPTIONS (column_name '...').",
                names.join(", ")
            )));
        };
        let ch = ChType::parse(ty);
        let pg = pg_kind(c.type_oid);
        let read = read_as(&pg, &ch).map_err(|_| {
            LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_INVALID_DATA_TYPE,
                format!(
                    "column \"{}\" of foreign table {display} is {} but ClickHouse column {database}.{table}.{remote_name} is {ty}",
                    c.name,
                    type_name(c.type_oid, c.typmod)
                ),
            )
            .with_hint(format!(
                "Declare the column as {} (or text), or re-import the table with IMPORT FOREIGN SCHEMA.",
                super::types::import_type(&ch).0
            ))
        })?;
        columns.push(LocalColumn {
            remote: RemoteColumn { name: remote_name, type_name: ty.to_string(), ch, pg, read },
            index: c.index,
            attnum: c.attnum,
            type_oid: c.type_oid.to_u32(),
            typmod: c.typmod,
            local_name: c.name.clone(),
        });
    }
    Ok(Resolved { server, database, table, columns, rows })
}
