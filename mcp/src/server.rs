//! The MCP face: tools `search` and `execute`, and the data-model pages as
//! resources `townlake://pages/<name>`.

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource, ResourceContents,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_postgres::Config;

use crate::db::{self, Failure};
use crate::table;

const PAGE_URI_PREFIX: &str = "townlake://pages/";

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Ceiling and default of rows `execute` returns.
    pub max_rows: usize,
    /// Time a call may take in Postgres (statement_timeout).
    pub timeout: Duration,
    /// Act as a superuser when the credentials are one's.
    pub allow_superuser: bool,
}

#[derive(Deserialize, JsonSchema)]
pub struct SearchParams {
    /// Words to look for in dataset names, docs, tags, owners, glossary terms, annotations, notes and
    /// column names (typos are forgiven), e.g. "customer orders". Also finds data-model pages and notes.
    #[serde(default)]
    pub query: Option<String>,
    /// A dataset (schema.name, as search returns it) to describe in full: columns with types and docs,
    /// keys, typical joins, owners, tags, annotations, notes, lineage, pages, freshness, governance state.
    #[serde(default)]
    pub dataset: Option<String>,
    /// How many datasets to return, 1 to 50 (default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Deserialize, JsonSchema)]
pub struct ExecuteParams {
    /// One read-only SQL query: SELECT, VALUES, TABLE or WITH ... SELECT. Anything else is refused.
    pub sql: String,
    /// Return at most this many rows (default and ceiling: the server's row limit).
    #[serde(default)]
    pub max_rows: Option<u32>,
}

#[derive(Clone)]
pub struct Lake {
    cfg: Arc<Config>,
    limits: Limits,
    tool_router: ToolRouter<Self>,
}

fn failed(f: Failure) -> CallToolResult {
    let mut r = CallToolResult::error(vec![ContentBlock::text(f.text())]);
    r.structured_content = Some(f.json());
    r
}

fn ok(text: String, structured: Value) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    r.structured_content = Some(structured);
    r
}

#[tool_router(router = tool_router)]
impl Lake {
    pub fn new(cfg: Config, limits: Limits) -> Lake {
        Lake { cfg: Arc::new(cfg), limits, tool_router: Self::tool_router() }
    }

    #[tool(
        name = "search",
        description = "Search the townlake metadata catalog, as your own database user (you see only what you may read). \
                       With `query`: datasets ranked best first (curated before scratch), each with kind, tier, description, \
                       matched columns, tags and notes of corrections; matching data-model pages (read them in full as \
                       resources townlake://pages/<name>); matching notes. With `dataset`: that dataset's full details \
                       (columns, keys, typical joins, lineage, annotations, notes). Use it before writing SQL for `execute`."
    )]
    async fn search(&self, Parameters(p): Parameters<SearchParams>) -> Result<CallToolResult, ErrorData> {
        let query = p.query.filter(|q| !q.trim().is_empty());
        let dataset = p.dataset.filter(|d| !d.trim().is_empty());
        if query.is_none() && dataset.is_none() {
            return Ok(failed(Failure::other(
                "search needs a query or a dataset",
                Some("Pass query (words to look for) and/or dataset (schema.name)."),
            )));
        }
        let limit = p.limit.unwrap_or(10);
        if !(1..=50).contains(&limit) {
            return Ok(failed(Failure::other(format!("limit must be between 1 and 50, got {limit}"), None)));
        }
        match db::search(&self.cfg, query, dataset, limit as i32, self.limits).await {
            Ok(v) => Ok(ok(search_text(&v), v)),
            Err(f) => Ok(failed(f)),
        }
    }

    #[tool(
        name = "execute",
        description = "Run one read-only SQL query (SELECT, VALUES, TABLE or WITH ... SELECT) on the townlake database as your \
                       own database user: governance, masks and audit apply. Writes, DDL, transaction control and several \
                       statements are refused. The result is a text table; at most the server's row limit of rows come back \
                       (truncation is said) and the query is cancelled at the server's statement timeout (see the server \
                       instructions for both). Errors come back with Postgres' SQLSTATE, message, detail and hint: an access \
                       denial says how to request access."
    )]
    async fn execute(&self, Parameters(p): Parameters<ExecuteParams>) -> Result<CallToolResult, ErrorData> {
        let max_rows = match p.max_rows {
            None => self.limits.max_rows,
            Some(0) => return Ok(failed(Failure::other("max_rows must be at least 1", None))),
            Some(n) => (n as usize).min(self.limits.max_rows),
        };
        match db::execute(&self.cfg, &p.sql, max_rows, self.limits).await {
            Ok(rs) => {
                let r = table::render(&rs);
                Ok(ok(r.text, r.structured))
            }
            Err(f) => Ok(failed(f)),
        }
    }
}

/// The search answer in words, for agents that read only text.
fn search_text(v: &Value) -> String {
    let mut s = String::new();
    let list = |v: &Value| -> String {
        v.as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    if let Some(ds) = v["datasets"].as_array() {
        if ds.is_empty() && !v["details"].is_object() {
            s.push_str("No dataset you may read matches.\n");
        } else if !ds.is_empty() {
            s.push_str("Datasets (best match first):\n");
        }
        for (i, d) in ds.iter().enumerate() {
            s.push_str(&format!(
                "{}. {} ({}, {}, score {:.3})",
                i + 1,
                d["dataset"].as_str().unwrap_or("?"),
                d["kind"].as_str().unwrap_or("?"),
                d["tier"].as_str().unwrap_or("?"),
                d["score"].as_f64().unwrap_or(0.0)
            ));
            if let Some(desc) = d["description"].as_str() {
                s.push_str(&format!(": {desc}"));
            }
            s.push('\n');
            let cols = list(&d["matched_columns"]);
            if !cols.is_empty() {
                s.push_str(&format!("   matched columns: {cols}\n"));
            }
            let tags = list(&d["tags"]);
            if !tags.is_empty() {
                s.push_str(&format!("   tags: {tags}\n"));
            }
            for n in d["notes"].as_array().into_iter().flatten().filter_map(|n| n.as_str()) {
                s.push_str(&format!("   NOTE: {n}\n"));
            }
        }
    }
    if let Some(pages) = v["pages"].as_array().filter(|p| !p.is_empty()) {
        s.push_str("\nData-model pages (read one as a resource):\n");
        for p in pages {
            s.push_str(&format!(
                "- {} \"{}\" {}",
                p["name"].as_str().unwrap_or("?"),
                p["title"].as_str().unwrap_or(""),
                p["uri"].as_str().unwrap_or("")
            ));
            let ds = list(&p["datasets"]);
            if !ds.is_empty() {
                s.push_str(&format!(" (datasets: {ds})"));
            }
            s.push('\n');
        }
    }
    if let Some(notes) = v["notes"].as_array().filter(|n| !n.is_empty()) {
        s.push_str("\nNotes of corrections:\n");
        for n in notes {
            s.push_str(&format!(
                "- {}{}: {}\n",
                n["dataset"].as_str().unwrap_or("?"),
                n["column"].as_str().map(|c| format!(".{c}")).unwrap_or_default(),
                n["note"].as_str().unwrap_or("")
            ));
        }
    }
    if v["details"].is_object() {
        s.push_str(&format!(
            "\nDetails of {}:\n{}\n",
            v["details"]["dataset"].as_str().unwrap_or("?"),
            serde_json::to_string_pretty(&v["details"]).unwrap_or_default()
        ));
    }
    s
}

fn resource_error(f: Failure) -> ErrorData {
    ErrorData::internal_error(f.text(), Some(f.json()))
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Lake {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("townlake-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "townlake: a governed lakehouse in Postgres. Every call runs as the database user {user}, so you see \
                 only what that user may read and every query on governed data is audited. Use `search` to find \
                 datasets, their columns, joins and notes (notes are corrections: follow them), read the data-model \
                 pages (resources townlake://pages/<name>), then `execute` one read-only query at a time. Limits: \
                 {rows} rows per result, {ms} ms per call. A denial on a governed dataset names the way to request \
                 access (lake.request_access): tell the user, do not work around it.",
                user = self.cfg.get_user().unwrap_or("?"),
                rows = self.limits.max_rows,
                ms = self.limits.timeout.as_millis()
            ))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let pages = db::list_pages(&self.cfg, self.limits).await.map_err(resource_error)?;
        let resources = pages
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let name = p["name"].as_str().unwrap_or_default();
                Resource::new(format!("{PAGE_URI_PREFIX}{name}"), name)
                    .with_title(p["title"].as_str().unwrap_or(name))
                    .with_description("townlake data-model page")
                    .with_mime_type("text/markdown")
                    .with_size(p["size"].as_u64().unwrap_or(0))
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let Some(name) = uri.strip_prefix(PAGE_URI_PREFIX).filter(|n| !n.is_empty()) else {
            return Err(ErrorData::resource_not_found(
                format!("no such resource: {uri} (pages are {PAGE_URI_PREFIX}<name>)"),
                None,
            ));
        };
        match db::read_page(&self.cfg, name.to_string(), self.limits).await.map_err(resource_error)? {
            Some((_title, body)) => Ok(ReadResourceResult::new(vec![
                ResourceContents::text(body, uri.clone()).with_mime_type("text/markdown"),
            ])
            .into()),
            None => Err(ErrorData::resource_not_found(
                format!("no data-model page named {name:?}"),
                Some(json!({"uri": uri})),
            )),
        }
    }
}
