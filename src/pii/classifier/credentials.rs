//! Detector family: credentials recognisable by a public structure — a
//! vendor's documented token prefix and alphabet, a JWT whose header decodes
//! to a JOSE header, a Telegram bot token's `id:secret` shape. A token counts
//! when its prefix *and* its body fit; the body is never shown.

use std::sync::OnceLock;

use regex::Regex;

/// Which characters a token body may use.
#[derive(Clone, Copy)]
enum Body {
    /// A–Z and 2–7 (AWS key ids).
    Base32Upper,
    Alnum,
    /// Letters, digits, `-` and `_`.
    UrlSafe,
    /// Letters, digits, `-`, `_` and `.`.
    Dotted,
    HexLower,
    Letters,
}

impl Body {
    fn accepts(self, b: u8) -> bool {
        match self {
            Body::Base32Upper => b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b),
            Body::Alnum => b.is_ascii_alphanumeric(),
            Body::UrlSafe => b.is_ascii_alphanumeric() || b == b'-' || b == b'_',
            Body::Dotted => b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.',
            Body::HexLower => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            Body::Letters => b.is_ascii_alphabetic(),
        }
    }
}

/// (prefix, kind, body alphabet, shortest body, longest body): the formats
/// vendors publish for their secret tokens (and secret scanners match).
const TOKENS: &[(&str, &str, Body, usize, usize)] = &[
    ("AKIA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("ASIA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("AGPA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("AIDA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("AROA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("ANPA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("ANVA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("AIPA", "aws_access_key_id", Body::Base32Upper, 16, 16),
    ("ghp_", "github_token", Body::Alnum, 36, 255),
    ("gho_", "github_token", Body::Alnum, 36, 255),
    ("ghu_", "github_token", Body::Alnum, 36, 255),
    ("ghs_", "github_token", Body::Alnum, 36, 255),
    ("ghr_", "github_token", Body::Alnum, 36, 255),
    ("github_pat_", "github_token", Body::UrlSafe, 60, 255),
    ("sk_live_", "stripe_secret_key", Body::Alnum, 16, 247),
    ("sk_test_", "stripe_secret_key", Body::Alnum, 16, 247),
    ("rk_live_", "stripe_secret_key", Body::Alnum, 16, 247),
    ("rk_test_", "stripe_secret_key", Body::Alnum, 16, 247),
    ("whsec_", "stripe_webhook_secret", Body::Alnum, 24, 64),
    ("xoxb-", "slack_token", Body::UrlSafe, 10, 250),
    ("xoxp-", "slack_token", Body::UrlSafe, 10, 250),
    ("xoxa-", "slack_token", Body::UrlSafe, 10, 250),
    ("xoxo-", "slack_token", Body::UrlSafe, 10, 250),
    ("xoxs-", "slack_token", Body::UrlSafe, 10, 250),
    ("xoxr-", "slack_token", Body::UrlSafe, 10, 250),
    ("xapp-", "slack_token", Body::UrlSafe, 10, 250),
    ("AIza", "google_api_key", Body::UrlSafe, 35, 35),
    ("GOCSPX-", "google_oauth_secret", Body::UrlSafe, 28, 28),
    ("glpat-", "gitlab_token", Body::UrlSafe, 20, 255),
    ("glptt-", "gitlab_token", Body::UrlSafe, 20, 255),
    ("gldt-", "gitlab_token", Body::UrlSafe, 20, 255),
    ("glrt-", "gitlab_token", Body::UrlSafe, 20, 255),
    ("glcbt-", "gitlab_token", Body::UrlSafe, 20, 255),
    ("SG.", "sendgrid_key", Body::Dotted, 66, 66),
    ("npm_", "npm_token", Body::Alnum, 36, 36),
    ("pypi-AgEIcHlwaS5vcmc", "pypi_token", Body::UrlSafe, 50, 400),
    ("rubygems_", "rubygems_key", Body::HexLower, 48, 48),
    ("shpat_", "shopify_token", Body::Alnum, 32, 32),
    ("shpss_", "shopify_token", Body::Alnum, 32, 32),
    ("shpca_", "shopify_token", Body::Alnum, 32, 32),
    ("shppa_", "shopify_token", Body::Alnum, 32, 32),
    ("hf_", "huggingface_token", Body::Letters, 30, 40),
    ("sk-ant-", "anthropic_key", Body::UrlSafe, 80, 200),
    ("sk-proj-", "openai_key", Body::UrlSafe, 40, 250),
    ("sk-svcacct-", "openai_key", Body::UrlSafe, 40, 250),
    ("sk-admin-", "openai_key", Body::UrlSafe, 40, 250),
    ("dop_v1_", "digitalocean_token", Body::HexLower, 64, 64),
    ("doo_v1_", "digitalocean_token", Body::HexLower, 64, 64),
    ("dor_v1_", "digitalocean_token", Body::HexLower, 64, 64),
    ("sq0atp-", "square_token", Body::UrlSafe, 22, 60),
    ("sq0csp-", "square_token", Body::UrlSafe, 40, 60),
    ("hvs.", "vault_token", Body::UrlSafe, 24, 200),
    ("hvb.", "vault_token", Body::UrlSafe, 24, 200),
    ("dapi", "databricks_token", Body::HexLower, 32, 32),
    ("glsa_", "grafana_token", Body::UrlSafe, 32, 80),
    ("glc_", "grafana_token", Body::UrlSafe, 32, 200),
    ("sntrys_", "sentry_token", Body::UrlSafe, 40, 300),
    ("lin_api_", "linear_key", Body::Alnum, 40, 40),
    ("PMAK-", "postman_key", Body::UrlSafe, 59, 59),
    ("ATATT3", "atlassian_token", Body::UrlSafe, 100, 300),
    ("figd_", "figma_token", Body::UrlSafe, 40, 60),
    ("NRAK-", "newrelic_key", Body::Alnum, 27, 27),
    ("AGE-SECRET-KEY-1", "age_secret_key", Body::Alnum, 58, 58),
    ("xkeysib-", "brevo_key", Body::UrlSafe, 64, 90),
    ("FLWSECK-", "flutterwave_key", Body::UrlSafe, 32, 50),
    ("dckr_pat_", "docker_token", Body::UrlSafe, 27, 40),
    ("pul-", "pulumi_token", Body::HexLower, 40, 40),
    ("key-", "mailgun_key", Body::HexLower, 32, 32),
];

fn body_fits(body: &[u8], alphabet: Body, min: usize, max: usize) -> bool {
    (min..=max).contains(&body.len()) && body.iter().all(|&b| alphabet.accepts(b))
}

/// The kind of credential `v` is, when the whole value is one.
pub fn known_token(v: &str) -> Option<&'static str> {
    let b = v.as_bytes();
    if b.len() < 20 {
        return None;
    }
    for &(prefix, kind, alphabet, min, max) in TOKENS {
        if let Some(body) = b.strip_prefix(prefix.as_bytes()) {
            if body_fits(body, alphabet, min, max) {
                return Some(kind);
            }
        }
    }
    // Twilio API key: SK and 32 lowercase hex digits.
    if b.len() == 34 && b.starts_with(b"SK") && b[2..].iter().all(|&c| Body::HexLower.accepts(c)) {
        return Some("twilio_key");
    }
    // OpenAI's older keys: sk- and 48 letters and digits.
    if b.len() == 51 && b.starts_with(b"sk-") && b[3..].iter().all(u8::is_ascii_alphanumeric) {
        return Some("openai_key");
    }
    if telegram_bot_token(b) {
        return Some("telegram_bot_token");
    }
    None
}

/// `123456789:AA…`: a bot id, a colon and a 35-character secret.
fn telegram_bot_token(b: &[u8]) -> bool {
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return false;
    };
    (8..=10).contains(&colon)
        && b[..colon].iter().all(u8::is_ascii_digit)
        && b.len() - colon - 1 == 35
        && b[colon + 1..].iter().all(|&c| Body::UrlSafe.accepts(c))
}

/// Credentials inside free text: each prefix found at a word start, with a
/// body that fits up to the next character outside its alphabet.
pub fn find_in_text(v: &str) -> Option<&'static str> {
    // One pass over the text for all prefixes at once (the regex engine runs
    // a multi-literal search), then the body is checked where one starts.
    static PREFIXES: OnceLock<Regex> = OnceLock::new();
    let prefixes = PREFIXES.get_or_init(|| {
        let alternation: Vec<String> = TOKENS.iter().map(|t| regex::escape(t.0)).collect();
        Regex::new(&alternation.join("|")).expect("built-in regex")
    });
    let b = v.as_bytes();
    for m in prefixes.find_iter(v) {
        let start = m.start();
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            continue;
        }
        // Several prefixes can start here (`sk-` vs `sk-ant-`): try each that does.
        for &(prefix, kind, alphabet, min, max) in TOKENS {
            if !v[start..].starts_with(prefix) {
                continue;
            }
            let body_start = start + prefix.len();
            let end = b[body_start..].iter().position(|&c| !alphabet.accepts(c)).map_or(b.len(), |p| body_start + p);
            if body_fits(&b[body_start..end], alphabet, min, max) {
                return Some(kind);
            }
        }
    }
    None
}

/// A JWS (three parts) or JWE (five parts) whose header decodes to a JSON
/// object naming an algorithm: the header alone identifies the token, even
/// when the payload is encrypted, compressed or unusual.
pub fn is_jose_token(s: &str) -> bool {
    if !s.starts_with("eyJ") || s.len() < 30 {
        return false;
    }
    let parts: Vec<&str> = s.split('.').collect();
    if !(parts.len() == 3 || parts.len() == 5) {
        return false;
    }
    if !parts.iter().skip(1).all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')) {
        return false;
    }
    let Some(bytes) = super::validators::base64_decode(parts[0]) else {
        return false;
    };
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(h)) => h.get("alg").is_some_and(|a| a.is_string()) || h.contains_key("enc"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_formats() {
        // AWS's documented example key id; the rest follow each vendor's published layout.
        assert_eq!(known_token("AKIAIOSFODNN7EXAMPLE"), Some("aws_access_key_id"));
        assert_eq!(known_token(&format!("ghp_{}", "a1B2c3D4e5".repeat(4).get(..36).unwrap())), Some("github_token"));
        assert_eq!(known_token(&format!("glpat-{}", "x".repeat(20))), Some("gitlab_token"));
        assert_eq!(known_token(&format!("dop_v1_{}", "0a".repeat(32))), Some("digitalocean_token"));
        assert_eq!(known_token(&format!("hf_{}", "AbCdEfGhIj".repeat(4).get(..34).unwrap())), Some("huggingface_token"));
        assert_eq!(known_token(&format!("SK{}", "0123456789abcdef".repeat(2))), Some("twilio_key"));
        assert_eq!(known_token(&format!("123456789:{}", "A".repeat(35))), Some("telegram_bot_token"));
        assert_eq!(known_token(&format!("pypi-AgEIcHlwaS5vcmc{}", "Q".repeat(60))), Some("pypi_token"));
        // Right prefix, wrong body: not a token.
        assert_eq!(known_token("AKIAIOSFODNN7EXAMPL"), None);
        assert_eq!(known_token(&format!("dop_v1_{}", "zz".repeat(32))), None);
        assert_eq!(known_token("key-value-store-configuration"), None);
        assert_eq!(known_token("sk-this-is-not-a-key-at-all-really"), None);
    }

    #[test]
    fn tokens_in_text() {
        assert_eq!(find_in_text("export TOKEN=AKIAIOSFODNN7EXAMPLE # ci"), Some("aws_access_key_id"));
        assert_eq!(find_in_text("the monkey-business keyword"), None);
        assert_eq!(find_in_text("xAKIAIOSFODNN7EXAMPLE"), None);
    }

    #[test]
    fn jose_header_is_enough() {
        // Header {"alg":"HS256","typ":"JWT"} with a payload that is not JSON.
        assert!(is_jose_token("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.bm90IGpzb24.c2lnbmF0dXJl"));
        // JWE: five parts, header {"alg":"RSA-OAEP","enc":"A256GCM"}.
        assert!(is_jose_token("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn"));
        // Header without an algorithm ({"foo":"bar"}), or not JSON: no.
        assert!(!is_jose_token("eyJmb28iOiJiYXIifQ.e30.c2lnbmF0dXJlc2lnbmF0dXJl"));
        assert!(!is_jose_token("eyJhbGciOi.notjson.sig-and-some-more-chars"));
    }
}
