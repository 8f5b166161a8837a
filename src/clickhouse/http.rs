//! ClickHouse's HTTP interface: one pooled client per backend (connections
//! are kept alive between queries), one request per statement with an
//! explicit `query_id`, credentials in headers (never in the URL), results
//! read chunk by chunk, and ClickHouse's errors parsed into code and text.
//! No pgrx here: callers run these futures with `runtime::block_on`.

use std::sync::OnceLock;
use std::time::Duration;

use super::options::Endpoint;

/// What went wrong talking to ClickHouse.
#[derive(Debug, Clone, PartialEq)]
pub enum ChError {
    /// No answer (refused, unreachable, TLS, timeout).
    Connect(String),
    /// ClickHouse refused the query: its error code and message.
    Server { code: Option<u32>, message: String },
    /// The answer broke off or made no sense.
    Protocol(String),
}

impl ChError {
    /// ClickHouse's code for a wrong user or password (and unknown users).
    pub fn is_authentication(&self) -> bool {
        matches!(self, ChError::Server { code: Some(192 | 193 | 516), .. })
    }
}

/// The pooled client. Idle connections are dropped before ClickHouse's own
/// keep-alive timeout (3 s by default) would close them under us.
pub fn client() -> Result<&'static reqwest::Client, ChError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let c = reqwest::Client::builder()
        .use_rustls_tls()
        .pool_idle_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(4)
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        // Never follow a redirect to somewhere the options did not name.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| ChError::Connect(format!("cannot create the HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| c))
}

/// Send `sql` as query `query_id`; the response, once ClickHouse accepted
/// the query (its rows follow in the body).
pub async fn send(endpoint: &Endpoint, sql: &str, query_id: &str) -> Result<reqwest::Response, ChError> {
    send_with(endpoint, sql.as_bytes().to_vec(), query_id, &[]).await
}

/// As [`send`], with query settings townlake itself chooses (fixed names and
/// values, never from options or user input), sent as URL parameters: both
/// ClickHouse 18.16 and current releases read settings there.
pub async fn send_settings(
    endpoint: &Endpoint,
    sql: &str,
    query_id: &str,
    settings: &[(&'static str, &'static str)],
) -> Result<reqwest::Response, ChError> {
    send_with(endpoint, sql.as_bytes().to_vec(), query_id, settings).await
}

/// Send a request body: a statement, possibly followed by its data (an
/// `INSERT ... FORMAT TabSeparated` line, then the rows).
pub async fn send_body(endpoint: &Endpoint, body: Vec<u8>, query_id: &str) -> Result<reqwest::Response, ChError> {
    send_with(endpoint, body, query_id, &[]).await
}

async fn send_with(
    endpoint: &Endpoint,
    body: Vec<u8>,
    query_id: &str,
    settings: &[(&'static str, &'static str)],
) -> Result<reqwest::Response, ChError> {
    let mut url = reqwest::Url::parse(&endpoint.url()).map_err(|e| ChError::Connect(format!("bad server address: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("query_id", query_id);
        if let Some(t) = endpoint.max_execution_time {
            q.append_pair("max_execution_time", &t.to_string());
        }
        for (name, value) in settings {
            q.append_pair(name, value);
        }
    }
    let mut req = client()?.post(url).body(body);
    if let Some(user) = &endpoint.user {
        req = req.header("X-ClickHouse-User", user);
    }
    if let Some(password) = &endpoint.password {
        req = req.header("X-ClickHouse-Key", password);
    }
    let resp = req.send().await.map_err(|e| ChError::Connect(describe(&e)))?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).into_owned();
    Err(parse_error(&text).unwrap_or_else(|| ChError::Server {
        code: None,
        message: format!("HTTP {status}: {}", text.trim()),
    }))
}

/// Run a statement that answers with little text, and return that text.
pub async fn query_text(endpoint: &Endpoint, sql: &str, query_id: &str) -> Result<String, ChError> {
    let resp = send(endpoint, sql, query_id).await?;
    let body = resp.bytes().await.map_err(|e| ChError::Protocol(describe(&e)))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    if let Some(err) = super::tsv::error_in_body(text.as_bytes()).filter(|_| text.starts_with("Code: ")) {
        return Err(parse_error(&err).unwrap_or(ChError::Protocol(err)));
    }
    Ok(text)
}

/// Run an INSERT whose rows follow the statement in `body`; Ok once
/// ClickHouse has stored them all.
pub async fn insert(endpoint: &Endpoint, body: Vec<u8>, query_id: &str) -> Result<(), ChError> {
    let resp = send_body(endpoint, body, query_id).await?;
    let answer = resp.bytes().await.map_err(|e| ChError::Protocol(describe(&e)))?;
    if let Some(err) = super::tsv::error_in_body(&answer).filter(|_| answer.starts_with(b"Code: ")) {
        return Err(parse_error(&err).unwrap_or(ChError::Protocol(err)));
    }
    Ok(())
}

/// The next chunk of a response's body; None at its end.
pub async fn next_chunk(resp: &mut reqwest::Response) -> Result<Option<bytes::Bytes>, ChError> {
    resp.chunk().await.map_err(|e| ChError::Protocol(format!("the result stream broke off: {}", describe(&e))))
}

/// Ask the server to stop query `query_id` (sent on its own connection).
pub async fn kill(endpoint: &Endpoint, query_id: &str) -> Result<(), ChError> {
    let sql = format!("KILL QUERY WHERE query_id = {} ASYNC", super::sql::string_literal(query_id));
    query_text(endpoint, &sql, &uuid::Uuid::new_v4().to_string()).await.map(|_| ())
}

/// An error's text with its causes, without the URL (which holds nothing
/// secret, but is noise next to the server's name).
fn describe(e: &reqwest::Error) -> String {
    let text = e.to_string();
    let mut msg = match text.find(" for url (") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// Parse ClickHouse's error text: `Code: 60, e.displayText() = DB::Exception:
/// Table default.x doesn't exist., e.what() = DB::Exception` (18.x), or
/// `Code: 60. DB::Exception: Table ... (UNKNOWN_TABLE) (version ...)` (newer).
pub fn parse_error(text: &str) -> Option<ChError> {
    let text = text.trim();
    let rest = text.strip_prefix("Code: ")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let code = digits.parse::<u32>().ok();
    let mut message = rest[digits.len()..].trim_start_matches([',', '.', ' ']).to_string();
    if let Some(m) = message.strip_prefix("e.displayText() = ") {
        message = m.to_string();
    }
    if let Some(at) = message.find(", e.what() = ") {
        message.truncate(at);
    }
    if let Some(m) = message.strip_prefix("DB::Exception: ") {
        message = m.to_string();
    }
    if let Some(at) = message.find(" (version ") {
        message.truncate(at);
    }
    Some(ChError::Server { code, message: message.trim().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_old_and_new_errors() {
        assert_eq!(
            parse_error("Code: 60, e.displayText() = DB::Exception: Table default.nope doesn't exist., e.what() = DB::Exception\n"),
            Some(ChError::Server { code: Some(60), message: "Table default.nope doesn't exist.".into() })
        );
        assert_eq!(
            parse_error("Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED) (version 23.8.1.1)"),
            Some(ChError::Server {
                code: Some(516),
                message: "default: Authentication failed. (AUTHENTICATION_FAILED)".into()
            })
        );
        assert_eq!(parse_error("<html>bad gateway</html>"), None);
        assert!(parse_error("Code: 193, e.displayText() = DB::Exception: Wrong password for user u, e.what() = DB::Exception")
            .unwrap()
            .is_authentication());
    }
}
