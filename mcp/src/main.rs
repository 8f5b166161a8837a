//! townlake-mcp: a Model Context Protocol server over stdio that gives an
//! agent two tools on a townlake database, `search` (the metadata catalog)
//! and `execute` (read-only SQL with row and time limits), and the
//! data-model pages as resources. It connects with the user's own Postgres
//! credentials, so every call is governed and audited as that user.
//! docs/agent.md says how to connect an agent.

mod conn;
mod db;
mod server;
mod table;

use std::process::ExitCode;
use std::time::Duration;

use rmcp::ServiceExt;

const USAGE: &str = "usage: townlake-mcp [--max-rows N] [--statement-timeout DURATION] [--allow-superuser] [CONNINFO]

Serves the Model Context Protocol on stdin/stdout for one townlake database.

  CONNINFO                     postgresql://user@host:port/dbname or 'host=... dbname=...';
                               default: $DATABASE_URL, then libpq's PGHOST, PGPORT, PGUSER,
                               PGPASSWORD (or ~/.pgpass / PGPASSFILE), PGDATABASE
  --max-rows N                 rows per execute result, 1..10000 (default 100;
                               env TOWNLAKE_MCP_MAX_ROWS)
  --statement-timeout DURATION time per call, e.g. 10s, 500ms, 2min (default 10s;
                               env TOWNLAKE_MCP_STATEMENT_TIMEOUT)
  --allow-superuser            act as a superuser when the credentials are one's (refused
                               by default: a superuser bypasses townlake's review)
";

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        "min" => n.checked_mul(60_000)?,
        _ => return None,
    };
    (1..=3_600_000).contains(&ms).then(|| Duration::from_millis(ms))
}

fn parse_rows(s: &str) -> Option<usize> {
    s.trim().parse::<usize>().ok().filter(|n| (1..=10_000).contains(n))
}

struct Args {
    conninfo: Option<String>,
    limits: server::Limits,
}

fn parse_args() -> Result<Args, String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut max_rows = match env("TOWNLAKE_MCP_MAX_ROWS") {
        Some(v) => parse_rows(&v).ok_or("TOWNLAKE_MCP_MAX_ROWS must be a number from 1 to 10000")?,
        None => 100,
    };
    let mut timeout = match env("TOWNLAKE_MCP_STATEMENT_TIMEOUT") {
        Some(v) => parse_duration(&v).ok_or("TOWNLAKE_MCP_STATEMENT_TIMEOUT must be like 10s, 500ms or 2min (at most 60min)")?,
        None => Duration::from_secs(10),
    };
    let mut allow_superuser = false;
    let mut conninfo = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--version" => {
                println!("townlake-mcp {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            "--allow-superuser" => allow_superuser = true,
            "--max-rows" => max_rows = parse_rows(&value()?).ok_or("--max-rows must be a number from 1 to 10000")?,
            "--statement-timeout" => {
                timeout = parse_duration(&value()?).ok_or("--statement-timeout must be like 10s, 500ms or 2min (at most 60min)")?
            }
            f if f.starts_with('-') => return Err(format!("unknown option {f}")),
            _ if conninfo.is_none() => conninfo = Some(a),
            _ => return Err("only one connection string may be given".into()),
        }
    }
    Ok(Args { conninfo: conninfo.or_else(|| env("DATABASE_URL")), limits: server::Limits { max_rows, timeout, allow_superuser } })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            eprint!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("townlake-mcp: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cfg = match conn::config_from(args.conninfo.as_deref(), &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("townlake-mcp: {e}");
            return ExitCode::from(2);
        }
    };
    // stdout carries the protocol: everything for people goes to stderr
    eprintln!(
        "townlake-mcp {}: {} (at most {} rows, {} ms per call)",
        env!("CARGO_PKG_VERSION"),
        conn::describe(&cfg),
        args.limits.max_rows,
        args.limits.timeout.as_millis()
    );
    let service = match server::Lake::new(cfg, args.limits).serve(rmcp::transport::stdio()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("townlake-mcp: the MCP session did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match service.waiting().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("townlake-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rows() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("250"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("61min"), None);
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_rows("100"), Some(100));
        assert_eq!(parse_rows("0"), None);
        assert_eq!(parse_rows("10001"), None);
    }
}
