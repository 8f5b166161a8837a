//! Storage settings taken from server options and user mappings. Pure logic.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// User-mapping options (credentials). These are secrets: never printed.
pub const USER_MAPPING_OPTIONS: &[&str] =
    &["s3_access_key_id", "s3_secret_access_key", "s3_session_token"];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: bool,
    pub allow_http: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

impl S3Settings {
    /// Build from the merged server + user-mapping options.
    pub fn from_options(opts: &BTreeMap<String, String>) -> Result<S3Settings, String> {
        let allow_http = parse_bool("s3_allow_http", opts.get("s3_allow_http"))?.unwrap_or(false);
        if let Some(endpoint) = opts.get("s3_endpoint") {
            // The HTTP client refuses plain http unless allowed; say so here
            // rather than let it fail later as "builder error".
            if endpoint.starts_with("http://") && !allow_http {
                return Err(format!(
                    "s3_endpoint \"{endpoint}\" is plain http:// but option \"s3_allow_http\" is not 'true'"
                ));
            }
            match url::Url::parse(endpoint) {
                Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => {}
                _ => return Err(format!("s3_endpoint \"{endpoint}\" is not a valid http(s) URL with a host")),
            }
        }
        Ok(S3Settings {
            endpoint: opts.get("s3_endpoint").cloned(),
            region: opts.get("s3_region").cloned(),
            path_style: parse_bool("s3_path_style", opts.get("s3_path_style"))?.unwrap_or(false),
            allow_http,
            access_key_id: opts.get("s3_access_key_id").cloned(),
            secret_access_key: opts.get("s3_secret_access_key").cloned(),
            session_token: opts.get("s3_session_token").cloned(),
        })
    }

    /// Secret values, to be scrubbed from any message shown to users.
    pub fn secrets(&self) -> Vec<String> {
        [&self.secret_access_key, &self.session_token, &self.access_key_id]
            .into_iter()
            .flatten()
            .filter(|s| s.len() >= 4)
            .cloned()
            .collect()
    }
}

pub fn parse_bool(name: &str, value: Option<&String>) -> Result<Option<bool>, String> {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) => match v.as_str() {
            "true" | "on" | "yes" | "1" => Ok(Some(true)),
            "false" | "off" | "no" | "0" => Ok(Some(false)),
            _ => Err(format!("option \"{name}\" must be true or false, not \"{v}\"")),
        },
    }
}

/// Where a location lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An absolute local path.
    Local(String),
    /// Bucket and key within it.
    S3 { bucket: String, key: String },
}

/// Split an Iceberg location (`file:///a/b`, `/a/b`, `s3://bucket/key`,
/// `s3a://…`) into a store and a path within it.
///
/// A location is not a URL: its path is taken literally, never
/// percent-decoded, as Java Iceberg (Hadoop's `Path`), PyIceberg and DuckDB
/// take it. PyIceberg and Java escape partition values in file names
/// (`s=%E6%97%A5` for `s='日'`, `s=a+b` for `'a b'`) and those names are on
/// disk as written; decoding them would name files that do not exist.
pub fn parse_location(location: &str) -> Result<Location, String> {
    if let Some(rest) = location.strip_prefix("file://") {
        // `file:///abs` and the non-standard `file:/abs` both occur in the wild.
        let path = if rest.starts_with('/') { rest.to_string() } else { format!("/{rest}") };
        return Ok(Location::Local(path));
    }
    if let Some(rest) = location.strip_prefix("file:") {
        return Ok(Location::Local(rest.to_string()));
    }
    if location.starts_with('/') {
        return Ok(Location::Local(location.to_string()));
    }
    for scheme in ["s3://", "s3a://", "s3n://"] {
        if let Some(rest) = location.strip_prefix(scheme) {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("location \"{location}\" has no bucket name"));
            }
            return Ok(Location::S3 { bucket: bucket.to_string(), key: key.to_string() });
        }
    }
    Err(format!(
        "location \"{location}\" is not supported: use file:///path or s3://bucket/path"
    ))
}

/// Replace every secret in `message` with `***`.
pub fn scrub(message: &str, secrets: &[String]) -> String {
    let mut out = message.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod s3_endpoint_tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<S3Settings, String> {
        S3Settings::from_options(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn plain_http_needs_allow_http() {
        let err = settings(&[("s3_endpoint", "http://127.0.0.1:9000")]).unwrap_err();
        assert!(err.contains("s3_allow_http"), "{err}");
        assert!(settings(&[("s3_endpoint", "http://127.0.0.1:9000"), ("s3_allow_http", "true")]).is_ok());
        assert!(settings(&[("s3_endpoint", "https://s3.example.com")]).is_ok());
    }

    #[test]
    fn endpoint_must_be_a_url_with_a_host() {
        assert!(settings(&[("s3_endpoint", "https://exa mple:9")]).unwrap_err().contains("not a valid"));
        assert!(settings(&[("s3_endpoint", "https://")]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(parse_location("file:///tmp/wh/a").unwrap(), Location::Local("/tmp/wh/a".into()));
        assert_eq!(parse_location("file:/tmp/x").unwrap(), Location::Local("/tmp/x".into()));
        assert_eq!(parse_location("/tmp/x").unwrap(), Location::Local("/tmp/x".into()));
        assert_eq!(
            parse_location("s3://b/wh/t/m.json").unwrap(),
            Location::S3 { bucket: "b".into(), key: "wh/t/m.json".into() }
        );
        assert!(parse_location("s3:///x").is_err());
        assert!(parse_location("gs://b/x").is_err());
        // literal, as PyIceberg writes them: `%` is part of the file name
        assert_eq!(parse_location("file:///a%20b").unwrap(), Location::Local("/a%20b".into()));
        assert_eq!(
            parse_location("file:///wh/t/data/s=%E6%97%A5/f.parquet").unwrap(),
            Location::Local("/wh/t/data/s=%E6%97%A5/f.parquet".into())
        );
    }

    #[test]
    fn booleans_and_secrets() {
        let mut o = BTreeMap::new();
        o.insert("s3_path_style".to_string(), "TRUE".to_string());
        o.insert("s3_secret_access_key".to_string(), "sekrit-value".to_string());
        let s = S3Settings::from_options(&o).unwrap();
        assert!(s.path_style && !s.allow_http);
        assert_eq!(scrub("bad key sekrit-value here", &s.secrets()), "bad key *** here");
        o.insert("s3_allow_http".to_string(), "maybe".to_string());
        assert!(S3Settings::from_options(&o).is_err());
    }
}
