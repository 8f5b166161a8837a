//! The options of the `clickhouse` wrapper and the connection they describe.
//! Pure logic: no pgrx. Values are checked so that no option can turn into
//! another URL, header or setting than the one it names.

use std::collections::BTreeMap;
use std::fmt;

pub const SERVER_OPTIONS: &[&str] = &["host", "port", "database", "secure", "max_execution_time"];
pub const USER_MAPPING_OPTIONS: &[&str] = &["user", "password"];
pub const TABLE_OPTIONS: &[&str] = &["database", "table"];
pub const COLUMN_OPTIONS: &[&str] = &["column_name"];

pub const DEFAULT_HTTP_PORT: u16 = 8123;
pub const DEFAULT_HTTPS_PORT: u16 = 8443;

/// Check one option's value; the message names the option, never the value
/// of `password`.
pub fn check_value(name: &str, value: &str) -> Result<(), String> {
    match name {
        "host" => check_host(value),
        "port" => parse_port(value).map(|_| ()),
        "secure" => parse_bool(name, value).map(|_| ()),
        "max_execution_time" => match value.trim().parse::<u32>() {
            Ok(_) => Ok(()),
            Err(_) => Err(format!("option \"max_execution_time\" must be a whole number of seconds, not \"{value}\"")),
        },
        "database" | "table" | "column_name" | "user" if value.is_empty() => {
            Err(format!("option \"{name}\" must not be empty"))
        }
        "user" if value.chars().any(|c| c.is_control()) => {
            Err("option \"user\" must not contain control characters".into())
        }
        "password" if value.chars().any(|c| c.is_control()) => {
            Err("option \"password\" must not contain control characters".into())
        }
        _ => Ok(()),
    }
}

fn check_host(value: &str) -> Result<(), String> {
    let name_ok = !value.is_empty()
        && value.len() <= 253
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        && !value.starts_with('-');
    let ipv6_ok = value.contains(':') && value.parse::<std::net::Ipv6Addr>().is_ok();
    if name_ok || ipv6_ok {
        Ok(())
    } else {
        Err(format!(
            "option \"host\" must be a host name or an IP address, not \"{value}\" (no scheme, port, path or user)"
        ))
    }
}

fn parse_port(value: &str) -> Result<u16, String> {
    match value.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("option \"port\" must be a port number between 1 and 65535, not \"{value}\"")),
    }
}

pub fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(format!("option \"{name}\" must be true or false, not \"{value}\"")),
    }
}

/// Where and as whom to connect: a server's options with the user
/// mapping's merged over them.
#[derive(Clone, PartialEq)]
pub struct Endpoint {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    /// The server's default database (a table's own option wins).
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub max_execution_time: Option<u32>,
}

// Never print the password (EXPLAIN, errors and logs go through Debug/Display).
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.url())?;
        if let Some(u) = &self.user {
            write!(f, " as {u}")?;
        }
        Ok(())
    }
}

impl Endpoint {
    /// The ClickHouse user this endpoint signs in as, as ClickHouse reads it:
    /// HTTP trims a header value, and no user is the `default` user.
    pub fn effective_user(&self) -> &str {
        match self.user.as_deref().map(|u| u.trim_matches(|c: char| c == ' ' || c == '\t')) {
            Some(u) if !u.is_empty() => u,
            _ => "default",
        }
    }

    /// Whether both endpoints reach the same ClickHouse as the same user:
    /// host names compared without case and brackets, every loopback or
    /// unspecified address (`localhost`, `127.0.0.1`, `127.1.2.3`, `::1`,
    /// `0.0.0.0`) taken for the same machine.
    pub fn same_account(&self, other: &Endpoint) -> bool {
        fn host(h: &str) -> String {
            let h = h.trim().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
            let local = h == "localhost"
                || h.ends_with(".localhost")
                || h.parse::<std::net::IpAddr>().is_ok_and(|ip| {
                    ip.is_loopback()
                        || ip.is_unspecified()
                        || matches!(ip, std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
                })
                // 127.1 and 2130706433 are 127.0.0.1 to the resolver
                || h.starts_with("127.")
                || h == "2130706433";
            if local { "localhost".into() } else { h }
        }
        host(&self.host) == host(&other.host) && self.port == other.port && self.effective_user() == other.effective_user()
    }

    pub fn from_options(options: &BTreeMap<String, String>) -> Result<Endpoint, String> {
        for (name, value) in options {
            check_value(name, value)?;
        }
        let secure = match options.get("secure") {
            Some(v) => parse_bool("secure", v)?,
            None => false,
        };
        let port = match options.get("port") {
            Some(v) => parse_port(v)?,
            None if secure => DEFAULT_HTTPS_PORT,
            None => DEFAULT_HTTP_PORT,
        };
        Ok(Endpoint {
            secure,
            host: options.get("host").cloned().unwrap_or_else(|| "127.0.0.1".into()),
            port,
            database: options.get("database").cloned().unwrap_or_else(|| "default".into()),
            user: options.get("user").cloned(),
            password: options.get("password").cloned(),
            max_execution_time: options.get("max_execution_time").and_then(|v| v.trim().parse().ok()),
        })
    }

    /// The server's base URL (no credentials: they travel in headers).
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{}://{}:{}/", if self.secure { "https" } else { "http" }, host, self.port)
    }
}

#[cfg(test)]
mod tests {
    fn endpoint(host: &str, port: u16, user: Option<&str>) -> Endpoint {
        Endpoint {
            secure: false,
            host: host.into(),
            port,
            database: "default".into(),
            user: user.map(Into::into),
            password: None,
            max_execution_time: None,
        }
    }

    #[test]
    fn the_same_account_however_it_is_written() {
        let governed = endpoint("127.0.0.1", 8123, Some("default"));
        for same in [
            endpoint("127.0.0.1", 8123, None),
            endpoint("127.0.0.1", 8123, Some("")),
            endpoint("127.0.0.1", 8123, Some("default ")),
            endpoint("127.0.0.1", 8123, Some("\tdefault")),
            endpoint("localhost", 8123, Some("default")),
            endpoint("LOCALHOST.", 8123, Some("default")),
            endpoint("127.0.0.2", 8123, Some("default")),
            endpoint("127.1", 8123, Some("default")),
            endpoint("[::1]", 8123, Some("default")),
            endpoint("::ffff:127.0.0.1", 8123, Some("default")),
            endpoint("0.0.0.0", 8123, Some("default")),
        ] {
            assert!(governed.same_account(&same), "{:?} {:?}", same.host, same.user);
        }
        for other in [
            endpoint("127.0.0.1", 8124, Some("default")),
            endpoint("127.0.0.1", 8123, Some("Default")),
            endpoint("127.0.0.1", 8123, Some("analyst")),
            endpoint("ch.example.com", 8123, Some("default")),
        ] {
            assert!(!governed.same_account(&other), "{:?} {:?}", other.host, other.user);
        }
        let remote = endpoint("CH.example.com", 8123, Some("reader"));
        assert!(remote.same_account(&endpoint("ch.example.com", 8123, Some("reader "))));
    }

    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::from_options(&opts(&[("host", "ch.internal"), ("port", "9123")])).unwrap();
        assert_eq!(e.url(), "http://ch.internal:9123/");
        assert_eq!(e.database, "default");
        let s = Endpoint::from_options(&opts(&[("host", "::1"), ("secure", "true")])).unwrap();
        assert_eq!(s.url(), "https://[::1]:8443/");
        let d = Endpoint::from_options(&opts(&[])).unwrap();
        assert_eq!(d.url(), "http://127.0.0.1:8123/");
    }

    #[test]
    fn bad_values() {
        for host in ["http://x", "x/y", "a@b", "x:80", "", "a b", "-x", "evil?x=1"] {
            assert!(check_value("host", host).is_err(), "{host}");
        }
        for host in ["localhost", "10.0.0.1", "ch-1.example.com", "fe80::1"] {
            assert!(check_value("host", host).is_ok(), "{host}");
        }
        assert!(check_value("port", "0").is_err());
        assert!(check_value("port", "65536").is_err());
        assert!(check_value("port", "80x").is_err());
        assert!(check_value("secure", "maybe").is_err());
        assert!(check_value("max_execution_time", "-1").is_err());
        assert!(check_value("table", "").is_err());
        assert!(check_value("user", "a\r\nX-Evil: 1").is_err());
        let err = check_value("password", "se\ncret").unwrap_err();
        assert!(!err.contains("cret"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let e = Endpoint::from_options(&opts(&[("user", "u"), ("password", "hunter2")])).unwrap();
        let shown = format!("{e:?}");
        assert!(!shown.contains("hunter2") && shown.contains("as u"), "{shown}");
    }
}
