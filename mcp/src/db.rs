//! Everything the tools ask Postgres. Each call opens its own connection as
//! the configured user and works in one READ ONLY transaction that is rolled
//! back: nothing a call does (settings, advisory locks, cursors) outlives it.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio_postgres::error::ErrorPosition;
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

use crate::server::Limits;
use crate::table::{Column, ResultSet};

/// Why a call failed, as the agent sees it.
#[derive(Debug)]
pub enum Failure {
    /// Postgres' own error, verbatim (townlake's denials included).
    Db {
        sqlstate: String,
        severity: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
        position: Option<u32>,
    },
    /// Refused before reaching Postgres, or the connection failed.
    Other { message: String, hint: Option<String> },
}

impl Failure {
    pub fn other(message: impl Into<String>, hint: Option<&str>) -> Failure {
        Failure::Other { message: message.into(), hint: hint.map(String::from) }
    }

    pub fn text(&self) -> String {
        match self {
            Failure::Db { sqlstate, severity, message, detail, hint, position } => {
                let mut s = format!("{severity}:  {message}\n");
                if let Some(d) = detail {
                    s.push_str(&format!("DETAIL:  {d}\n"));
                }
                if let Some(h) = hint {
                    s.push_str(&format!("HINT:  {h}\n"));
                }
                if let Some(p) = position {
                    s.push_str(&format!("POSITION:  {p} (character in your SQL)\n"));
                }
                s.push_str(&format!("SQLSTATE:  {sqlstate}\n"));
                s
            }
            Failure::Other { message, hint } => match hint {
                Some(h) => format!("ERROR:  {message}\nHINT:  {h}\n"),
                None => format!("ERROR:  {message}\n"),
            },
        }
    }

    pub fn json(&self) -> Value {
        match self {
            Failure::Db { sqlstate, severity, message, detail, hint, position } => json!({
                "error": {"sqlstate": sqlstate, "severity": severity, "message": message,
                          "detail": detail, "hint": hint, "position": position}
            }),
            Failure::Other { message, hint } => json!({"error": {"sqlstate": null, "message": message, "hint": hint}}),
        }
    }
}

/// Postgres' error as it came; `offset` characters of our own text in
/// front of the user's are taken off the error position.
fn failure(e: tokio_postgres::Error, offset: u32) -> Failure {
    if let Some(db) = e.as_db_error() {
        let position = match db.position() {
            Some(ErrorPosition::Original(p)) if *p > offset => Some(*p - offset),
            _ => None,
        };
        return Failure::Db {
            sqlstate: db.code().code().to_string(),
            severity: db.severity().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(String::from),
            hint: db.hint().map(String::from),
            position,
        };
    }
    if e.is_closed() {
        return Failure::other("the connection to Postgres closed during the call", Some("Try again."));
    }
    // tokio-postgres' own errors (I/O, protocol) carry no credentials
    Failure::other(e.to_string(), None)
}

fn db(e: tokio_postgres::Error) -> Failure {
    failure(e, 0)
}

async fn connect(cfg: &Config) -> Result<Client, Failure> {
    let (client, connection) = cfg.connect(NoTls).await.map_err(|e| match e.as_db_error() {
        Some(_) => db(e),
        None => Failure::other(
            format!("cannot connect to Postgres ({}): {e}", crate::conn::describe(cfg)),
            Some("Check PGHOST, PGPORT, PGUSER, PGDATABASE (or the connection string) and that the server runs."),
        ),
    })?;
    // The connection ends when the client is dropped; an open transaction is
    // then rolled back by the server.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

/// Opens the read-only transaction every call works in, and refuses a
/// superuser unless allowed: a superuser bypasses townlake's review, and
/// functions such as lo_export reach the server's files even from a
/// read-only transaction.
async fn begin(client: &Client, lim: &Limits) -> Result<(), Failure> {
    let msgs = client
        .simple_query(&format!(
            "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = {}; \
             SELECT pg_catalog.current_setting('is_superuser'), session_user, \
                    EXISTS (SELECT 1 FROM pg_catalog.pg_roles r \
                            WHERE r.rolsuper AND pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER'))",
            millis(lim.timeout)
        ))
        .await
        .map_err(db)?;
    if lim.allow_superuser {
        return Ok(());
    }
    for m in &msgs {
        if let SimpleQueryMessage::Row(r) = m {
            // A member of a superuser role (also NOINHERIT) becomes one with SET ROLE.
            if r.get(0) == Some("on") || r.get(2) == Some("t") {
                return Err(Failure::other(
                    format!(
                        "the database user {} is a superuser or may become one (SET ROLE): townlake-mcp does not \
                         act as one, an agent would bypass townlake's review and could reach the server's files",
                        r.get(1).unwrap_or("?")
                    ),
                    Some("Connect as your own role (PGUSER), or start townlake-mcp with --allow-superuser."),
                ));
            }
        }
    }
    Ok(())
}

/// Runs `work` with a connection, cancelling the statement in flight when
/// the time is up even if the server did not stop it itself.
async fn with_deadline<T, F>(cfg: &Config, timeout: Duration, work: F) -> Result<T, Failure>
where
    F: for<'c> FnOnce(&'c Client) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Failure>> + Send + 'c>>,
{
    let client = connect(cfg).await?;
    let cancel = client.cancel_token();
    let result = tokio::time::timeout(timeout + Duration::from_secs(2), work(&client)).await;
    match result {
        Ok(r) => {
            let _ = client.batch_execute("ROLLBACK").await;
            r
        }
        Err(_) => {
            let _ = cancel.cancel_query(NoTls).await;
            Err(Failure::other(
                format!("the call ran longer than its limit of {} ms and was cancelled", millis(timeout)),
                Some("Make the query cheaper: filter, aggregate or add LIMIT."),
            ))
        }
    }
}

/// At most this much of the values is read from Postgres per call.
pub const MAX_FETCH_BYTES: usize = 8 << 20;

const DECLARE_PREFIX: &str = "DECLARE townlake_mcp NO SCROLL CURSOR FOR ";

/// Runs one read-only query and returns at most `max_rows` rows. The text
/// goes to Postgres only as the body of a cursor through the extended
/// protocol, which takes exactly one statement, and a cursor takes only a
/// query: other statements, a second statement, and data-modifying WITH are
/// refused by Postgres itself; the transaction is READ ONLY, rolled back at
/// the end, and under statement_timeout.
pub async fn execute(cfg: &Config, sql: &str, max_rows: usize, lim: Limits) -> Result<ResultSet, Failure> {
    let timeout = lim.timeout;
    if sql.trim().is_empty() {
        return Err(Failure::other("sql is empty", Some("Pass one SELECT (or VALUES, TABLE, WITH ... SELECT) query.")));
    }
    let sql = sql.to_string();
    with_deadline(cfg, timeout, move |client| {
        Box::pin(async move {
            let started = Instant::now();
            begin(client, &lim).await?;
            let offset = DECLARE_PREFIX.chars().count() as u32;
            client
                .execute(format!("{DECLARE_PREFIX}{sql}").as_str(), &[])
                .await
                .map_err(|e| explain_refusal(failure(e, offset)))?;
            // what planning used comes off the time left for running
            let left = timeout.saturating_sub(started.elapsed());
            client
                .batch_execute(&format!("SET LOCAL statement_timeout = {}", millis(left)))
                .await
                .map_err(db)?;
            let fetch = format!("FETCH FORWARD {} FROM townlake_mcp", max_rows + 1);
            // Describing the FETCH gives the cursor's columns and types
            // without running anything; the simple protocol then returns
            // every value in Postgres' own text form.
            let described = client.prepare(&fetch).await.map_err(db)?;
            let columns = described
                .columns()
                .iter()
                .map(|c| Column { name: c.name().to_string(), type_name: c.type_().name().to_string() })
                .collect();
            // Read row by row and stop once the values pass MAX_FETCH_BYTES:
            // a few huge values must not fill this process' memory. Leaving
            // the rest unread is fine, the connection is closed after the call.
            let mut rows: Vec<Vec<Option<String>>> = Vec::new();
            let mut bytes = 0usize;
            let mut size_limited = false;
            let stream = client.simple_query_raw(&fetch).await.map_err(db)?;
            futures::pin_mut!(stream);
            while let Some(msg) = stream.next().await {
                if let SimpleQueryMessage::Row(r) = msg.map_err(db)? {
                    let row: Vec<Option<String>> = (0..r.len()).map(|i| r.get(i).map(String::from)).collect();
                    bytes += row.iter().map(|v| v.as_ref().map_or(4, |s| s.len())).sum::<usize>();
                    rows.push(row);
                    if bytes > MAX_FETCH_BYTES {
                        size_limited = true;
                        break;
                    }
                }
            }
            let more_rows = rows.len() > max_rows;
            rows.truncate(max_rows);
            Ok(ResultSet { columns, rows, more_rows, size_limited, max_rows })
        })
    })
    .await
}

/// Says in words why Postgres refused the text as a cursor's query.
fn explain_refusal(f: Failure) -> Failure {
    match f {
        Failure::Db { sqlstate, severity, message, detail, hint, position }
            if hint.is_none() && (sqlstate == "42601" || sqlstate == "0A000") =>
        {
            Failure::Db {
                sqlstate,
                severity,
                message,
                detail,
                hint: Some(
                    "execute runs exactly one read-only query: SELECT, VALUES, TABLE or WITH ... SELECT \
                     (no data-modifying WITH, no other statements, no second statement)."
                        .into(),
                ),
                position,
            }
        }
        f => f,
    }
}

/// One JSON value from a query that returns one text column.
async fn json_of(client: &Client, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> Result<Value, Failure> {
    let row = client.query_one(sql, params).await.map_err(db)?;
    let text: Option<String> = row.get(0);
    Ok(match text {
        Some(t) => serde_json::from_str(&t).map_err(|e| Failure::other(format!("unreadable answer: {e}"), None))?,
        None => Value::Null,
    })
}

const SEARCH_DATASETS: &str = "
SELECT COALESCE(jsonb_agg(to_jsonb(s) - 'ord' ORDER BY s.ord), '[]')::text
  FROM lake.search_datasets($1, $2) WITH ORDINALITY
       AS s(dataset, kind, tier, score, description, matched_columns, tags, notes, ord)";

/// The words of the query, each as a prefix, or'ed with their English stems.
const QUERY_TSQ: &str = "
WITH words AS (SELECT DISTINCT w FROM pg_catalog.regexp_split_to_table(pg_catalog.lower(pg_catalog.left($1::text, 1000)), '[^[:alnum:]]+') w
                WHERE w <> '' LIMIT 32),
     q AS (SELECT pg_catalog.to_tsquery('simple', COALESCE(pg_catalog.string_agg(pg_catalog.quote_literal(w) || ':*', ' | '), ''))
                  || pg_catalog.plainto_tsquery('english', $1::text) AS tsq FROM words)";

fn search_pages_sql() -> String {
    format!(
        "{QUERY_TSQ},
     p AS (SELECT p.name, p.title, p.body, p.terms,
                  ARRAY(SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)
                          FROM pg_catalog.unnest(p.datasets) r
                          JOIN pg_catalog.pg_class c ON c.oid = r
                          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace) AS datasets,
                  pg_catalog.setweight(pg_catalog.to_tsvector('simple', p.name || ' ' || p.title), 'A')
                  || pg_catalog.to_tsvector('simple', p.body) || pg_catalog.to_tsvector('english', p.title || ' ' || p.body) AS doc
             FROM lake.catalog_pages p)
SELECT COALESCE(jsonb_agg(jsonb_build_object('name', name, 'title', title, 'uri', 'townlake://pages/' || name,
                                             'datasets', datasets, 'terms', terms, 'excerpt', pg_catalog.left(body, 400))
                          ORDER BY rank DESC, name), '[]')::text
  FROM (SELECT p.*, pg_catalog.ts_rank(p.doc, q.tsq) AS rank FROM p, q
         WHERE p.doc @@ q.tsq OR p.datasets && $2::text[]
         ORDER BY rank DESC, p.name LIMIT 20) m"
    )
}

fn search_notes_sql() -> String {
    format!(
        "{QUERY_TSQ}
SELECT COALESCE(jsonb_agg(jsonb_build_object('dataset', dataset, 'column', column_name, 'note', body,
                                             'author', author, 'created_at', created_at)
                          ORDER BY created_at DESC), '[]')::text
  FROM (SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS dataset, a.column_name, a.body, a.author, a.created_at
          FROM lake.catalog_annotations a
          JOIN pg_catalog.pg_class c ON c.oid = a.relid
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, q
         WHERE a.kind = 'note'
           AND (pg_catalog.to_tsvector('simple', a.body) || pg_catalog.to_tsvector('english', a.body)) @@ q.tsq
         ORDER BY a.created_at DESC LIMIT 20) notes"
    )
}

/// Catalog search: ranked datasets (lake.search_datasets), the data-model
/// pages and notes that match or explain them, and optionally one
/// dataset's lake.entity_details.
pub async fn search(
    cfg: &Config,
    query: Option<String>,
    dataset: Option<String>,
    limit: i32,
    lim: Limits,
) -> Result<Value, Failure> {
    let timeout = lim.timeout;
    with_deadline(cfg, timeout, move |client| {
        Box::pin(async move {
            begin(client, &lim).await?;
            let mut out = json!({"datasets": [], "pages": [], "notes": [], "details": null});
            if let Some(q) = &query {
                let datasets = json_of(client, SEARCH_DATASETS, &[q, &limit]).await?;
                let names: Vec<String> = datasets
                    .as_array()
                    .map(|a| a.iter().filter_map(|d| d["dataset"].as_str().map(String::from)).collect())
                    .unwrap_or_default();
                out["pages"] = json_of(client, &search_pages_sql(), &[q, &names]).await?;
                out["notes"] = json_of(client, &search_notes_sql(), &[q]).await?;
                out["datasets"] = datasets;
            }
            if let Some(d) = &dataset {
                out["details"] = json_of(client, "SELECT lake.entity_details($1)::text", &[d]).await?;
            }
            Ok(out)
        })
    })
    .await
    .map_err(catalog_missing)
}

/// The catalog's functions and tables missing: say what to install.
fn catalog_missing(f: Failure) -> Failure {
    match f {
        Failure::Db { sqlstate, severity, message, detail, hint: None, position }
            if matches!(sqlstate.as_str(), "3F000" | "42P01" | "42883") && message.contains("lake") =>
        {
            Failure::Db {
                sqlstate,
                severity,
                message,
                detail,
                hint: Some("Is townlake installed in this database, at a version with the metadata catalog? \
                            CREATE EXTENSION townlake (or ALTER EXTENSION townlake UPDATE)."
                    .into()),
                position,
            }
        }
        f => f,
    }
}

/// The data-model pages: name, title, size.
pub async fn list_pages(cfg: &Config, lim: Limits) -> Result<Value, Failure> {
    let timeout = lim.timeout;
    with_deadline(cfg, timeout, move |client| {
        Box::pin(async move {
            begin(client, &lim).await?;
            json_of(
                client,
                "SELECT COALESCE(jsonb_agg(jsonb_build_object('name', name, 'title', title,
                                                              'size', pg_catalog.octet_length(body)) ORDER BY name), '[]')::text
                   FROM lake.catalog_pages",
                &[],
            )
            .await
        })
    })
    .await
    .map_err(catalog_missing)
}

/// One page: its title and markdown body, or None.
pub async fn read_page(cfg: &Config, name: String, lim: Limits) -> Result<Option<(String, String)>, Failure> {
    let timeout = lim.timeout;
    with_deadline(cfg, timeout, move |client| {
        Box::pin(async move {
            begin(client, &lim).await?;
            let row = client
                .query_opt("SELECT title, body FROM lake.catalog_pages WHERE name = $1", &[&name])
                .await
                .map_err(db)?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    })
    .await
    .map_err(catalog_missing)
}
