//! Where to connect and as whom: a connection string (argument or
//! DATABASE_URL) completed from libpq's environment variables and password
//! file, the way psql would, so the server runs as the user who starts it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::Config;

/// Every session this server opens is read-only by default; `execute` also
/// opens each transaction READ ONLY itself.
const SESSION_OPTIONS: &str = "-c default_transaction_read_only=on";

pub fn config_from(conninfo: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, String> {
    let mut cfg = match conninfo.map(str::trim).filter(|s| !s.is_empty()) {
        // The text is never echoed: it may hold a password.
        Some(text) => Config::from_str(text).map_err(|_| {
            "the connection string could not be parsed (it is not shown here, it may hold a password); \
             use postgresql://user@host:port/dbname or key=value pairs (host=... port=... dbname=...)"
                .to_string()
        })?,
        None => Config::new(),
    };
    let var = |name: &str| env(name).filter(|v| !v.is_empty());

    if cfg.get_hosts().is_empty() {
        match var("PGHOST") {
            Some(hosts) => {
                for h in hosts.split(',') {
                    add_host(&mut cfg, h.trim());
                }
            }
            // libpq's default on Debian: the Unix socket directory
            None if Path::new("/var/run/postgresql").is_dir() => {
                cfg.host_path("/var/run/postgresql");
            }
            None => {
                cfg.host("localhost");
            }
        }
    }
    if cfg.get_ports().is_empty() {
        if let Some(p) = var("PGPORT") {
            let port: u16 = p.parse().map_err(|_| format!("PGPORT must be a port number, got {p:?}"))?;
            cfg.port(port);
        }
    }
    if cfg.get_user().is_none() {
        let user = var("PGUSER")
            .or_else(|| var("USER"))
            .or_else(|| var("LOGNAME"))
            .ok_or("no database user: set PGUSER or put user=... in the connection string")?;
        cfg.user(&user);
    }
    if cfg.get_dbname().is_none() {
        if let Some(db) = var("PGDATABASE") {
            cfg.dbname(&db);
        }
    }
    if cfg.get_password().is_none() {
        if let Some(pw) = var("PGPASSWORD") {
            cfg.password(pw);
        } else if let Some(pw) = password_from_file(&cfg, env) {
            cfg.password(pw);
        }
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name(var("PGAPPNAME").as_deref().unwrap_or("townlake-mcp"));
    }
    if cfg.get_connect_timeout().is_none() {
        let secs = var("PGCONNECT_TIMEOUT").and_then(|s| s.parse::<u64>().ok()).unwrap_or(10);
        cfg.connect_timeout(Duration::from_secs(secs.max(1)));
    }
    if let Some(mode) = var("PGSSLMODE") {
        cfg.ssl_mode(match mode.as_str() {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            _ => SslMode::Require,
        });
    }
    if cfg.get_ssl_mode() == SslMode::Require {
        return Err("townlake-mcp does not speak TLS yet: connect over a Unix socket or loopback \
                    (sslmode=disable or prefer)"
            .into());
    }
    let options = match (cfg.get_options(), var("PGOPTIONS")) {
        (Some(o), _) => format!("{o} {SESSION_OPTIONS}"),
        (None, Some(o)) => format!("{o} {SESSION_OPTIONS}"),
        (None, None) => SESSION_OPTIONS.to_string(),
    };
    cfg.options(&options);
    Ok(cfg)
}

fn add_host(cfg: &mut Config, h: &str) {
    if h.starts_with('/') {
        cfg.host_path(h);
    } else {
        cfg.host(h);
    }
}

/// Who and where, for messages: never the password.
pub fn describe(cfg: &Config) -> String {
    let host = match cfg.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "?".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let user = cfg.get_user().unwrap_or("?");
    format!("user {user} on {host}:{port}, database {}", cfg.get_dbname().unwrap_or(user))
}

/// The password from PGPASSFILE or ~/.pgpass, matched the way libpq matches
/// (hostname:port:database:username:password, `*` matches anything, `\`
/// escapes). libpq ignores a file others may read; so do we.
fn password_from_file(cfg: &Config, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let path = env("PGPASSFILE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let host = match cfg.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        // libpq matches a socket directory as "localhost"
        Host::Unix(_) => "localhost".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432).to_string();
    let user = cfg.get_user()?;
    let db = cfg.get_dbname().unwrap_or(user);
    pgpass_lookup(&text, &host, &port, db, user)
}

pub fn pgpass_lookup(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let want = [host, port, db, user];
        if fields[..4].iter().zip(want).all(|(f, w)| f == "*" || f == w) {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().unwrap().push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_fills_what_the_string_leaves_out() {
        let env = env_of(&[("PGHOST", "db.example"), ("PGPORT", "6543"), ("PGUSER", "ana"),
                           ("PGDATABASE", "shop"), ("PGPASSWORD", "s3cret")]);
        let cfg = config_from(None, &env).unwrap();
        assert_eq!(cfg.get_hosts(), &[Host::Tcp("db.example".into())]);
        assert_eq!(cfg.get_ports(), &[6543]);
        assert_eq!(cfg.get_user(), Some("ana"));
        assert_eq!(cfg.get_dbname(), Some("shop"));
        assert_eq!(cfg.get_password(), Some(&b"s3cret"[..]));
        assert!(cfg.get_options().unwrap().contains("default_transaction_read_only=on"));
        assert!(!describe(&cfg).contains("s3cret"));

        let cfg = config_from(Some("postgresql://bob@127.0.0.1:5499/other"), &env).unwrap();
        assert_eq!(cfg.get_user(), Some("bob"));
        assert_eq!(cfg.get_dbname(), Some("other"));
        assert_eq!(cfg.get_ports(), &[5499]);
    }

    #[test]
    fn bad_strings_are_not_echoed_and_tls_is_refused() {
        let env = env_of(&[("PGUSER", "ana")]);
        let err = config_from(Some("host=x password=hunter2 port=notaport"), &env).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let err = config_from(Some("host=x sslmode=require"), &env).unwrap_err();
        assert!(err.contains("TLS"), "{err}");
        assert!(config_from(None, &env_of(&[("PGUSER", "a"), ("PGPORT", "x")])).is_err());
    }

    #[test]
    fn pgpass_matches_like_libpq() {
        let text = "# comment\nother:5432:*:ana:nope\n*:5499:shop:ana:pa\\:ss:word\n*:*:*:*:fallback\n";
        assert_eq!(pgpass_lookup(text, "127.0.0.1", "5499", "shop", "ana").as_deref(), Some("pa:ss:word"));
        assert_eq!(pgpass_lookup(text, "127.0.0.1", "5432", "shop", "ana").as_deref(), Some("fallback"));
        assert_eq!(pgpass_lookup("a:b:c\n", "a", "b", "c", "d"), None);
    }
}
