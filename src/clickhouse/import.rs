//! IMPORT FOREIGN SCHEMA <database> FROM SERVER s INTO schema: one foreign
//! table per ClickHouse table of the database, with mapped column types.

use pgrx::{pg_sys, PgSqlErrorCode};

use super::remote;
use super::sql::string_literal;
use super::types::{import_type, ChType};
use crate::errors::{LakeError, LakeResult};
use crate::fdw::routine::ImportRequest;

/// A Postgres identifier, always quoted (pure, unlike quote_identifier).
fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn pg_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The CREATE FOREIGN TABLE of one ClickHouse table, and the columns that
/// fell back to text. Pure.
pub fn create_command(
    local_schema: &str,
    server: &str,
    database: &str,
    table: &str,
    columns: &[(String, String)],
) -> (String, Vec<String>) {
    let mut fallback = Vec::new();
    let defs: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            let ch = ChType::parse(ty);
            let (pg, is_fallback) = import_type(&ch);
            if is_fallback {
                fallback.push(format!("{name} ({ty})"));
            }
            let not_null = if ch.is_nullable() || is_fallback { "" } else { " NOT NULL" };
            format!("{} {pg}{not_null}", pg_ident(name))
        })
        .collect();
    let cmd = format!(
        "CREATE FOREIGN TABLE {}.{} ({}) SERVER {} OPTIONS (database {}, \"table\" {})",
        pg_ident(local_schema),
        pg_ident(table),
        defs.join(", "),
        pg_ident(server),
        pg_literal(database),
        pg_literal(table)
    );
    (cmd, fallback)
}

pub fn build_commands(server: pg_sys::Oid, request: &ImportRequest) -> LakeResult<Vec<String>> {
    let (server_name, endpoint) = remote::endpoint(server, pg_sys::Oid::INVALID)?;
    let database = &request.remote_schema;
    let sql = format!(
        "SELECT table, name, type FROM system.columns WHERE database = {} FORMAT TabSeparated",
        string_literal(database)
    );
    let text = remote::query_text(&server_name, &endpoint, &format!("listing the tables of database {database}"), &sql)?;
    // Tables in first-seen order, columns in ClickHouse's order.
    let mut tables: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f = super::tsv::fields(line.as_bytes());
        let text = |i: usize| f.get(i).cloned().flatten().map(|b| String::from_utf8_lossy(&b).into_owned());
        let (Some(table), Some(name), Some(ty)) = (text(0), text(1), text(2)) else { continue };
        match tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, cols)) => cols.push((name, ty)),
            None => tables.push((table, vec![(name, ty)])),
        }
    }
    if tables.is_empty() {
        let exists = remote::query_text(
            &server_name,
            &endpoint,
            "listing databases",
            &format!("SELECT count() FROM system.databases WHERE name = {} FORMAT TabSeparated", string_literal(database)),
        )?;
        if exists.trim() == "0" {
            return Err(LakeError::new(
                PgSqlErrorCode::ERRCODE_FDW_SCHEMA_NOT_FOUND,
                format!("ClickHouse database \"{database}\" does not exist on server \"{server_name}\""),
            )
            .with_hint("SELECT name FROM system.databases on the ClickHouse server lists them."));
        }
    }
    let mut out = Vec::new();
    for (table, columns) in tables.into_iter().filter(|(t, _)| request.wants(t)) {
        let (cmd, fallback) = create_command(&request.local_schema, &server_name, database, &table, &columns);
        if !fallback.is_empty() {
            pgrx::notice!(
                "ClickHouse table {database}.{table}: column(s) {} imported as text (no matching Postgres type)",
                fallback.join(", ")
            );
        }
        out.push(cmd);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_commands() {
        let cols = vec![
            ("id".to_string(), "UInt64".to_string()),
            ("na\"me".to_string(), "Nullable(String)".to_string()),
            ("t".to_string(), "Tuple(UInt8, String)".to_string()),
        ];
        let (cmd, fallback) = create_command("s", "ch", "db'x", "ev", &cols);
        assert_eq!(
            cmd,
            "CREATE FOREIGN TABLE \"s\".\"ev\" (\"id\" numeric(20, 0) NOT NULL, \"na\"\"me\" text, \"t\" text) \
             SERVER \"ch\" OPTIONS (database 'db''x', \"table\" 'ev')"
        );
        assert_eq!(fallback, vec!["t (Tuple(UInt8, String))".to_string()]);
    }
}
