//! Validators: checksums and strict parsers that separate real identifiers
//! from strings that merely have the right shape. Each returns a plain bool or
//! a small value; none allocates on the hot path unless it has to.


/// ASCII digits of `s` as numbers 0..=9, skipping the separators a human
/// types (space, dash, dot, slash). `None` if anything else appears.
pub fn digits_of(s: &str, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(20);
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => {
                out.push(b - b'0');
                if out.len() > max {
                    return None;
                }
            }
            b' ' | b'-' | b'.' | b'/' => {}
            _ => return None,
        }
    }
    Some(out)
}

pub fn all_same(digits: &[u8]) -> bool {
    digits.windows(2).all(|w| w[0] == w[1])
}

pub fn prefix_num(digits: &[u8], n: usize) -> u32 {
    digits.iter().take(n).fold(0u32, |acc, &d| acc * 10 + d as u32)
}

/// US Social Security Number rules: area not 000, 666 or 900–999, group not
/// 00, serial not 0000, and not one of the numbers published in advertising.
pub fn ssn_valid(area: u32, group: u32, serial: u32) -> bool {
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    !matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789))
}

/// Parses "123-45-6789" or "123 45 6789". Returns Some(valid) when shaped.
pub fn ssn_formatted(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 11 {
        return None;
    }
    let sep = b[3];
    if !(sep == b'-' || sep == b' ') || b[6] != sep {
        return None;
    }
    let part = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    };
    Some(ssn_valid(part(0..3)?, part(4..6)?, part(7..11)?))
}

pub fn ssn_digits_valid(d: &[u8]) -> bool {
    d.len() == 9 && ssn_valid(prefix_num(d, 3), prefix_num(&d[3..], 2), prefix_num(&d[5..], 4))
}

/// Decodes base64 or base64url, with or without padding.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    }
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s.as_bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A JSON Web Token: three base64url parts whose first two decode to JSON
/// objects and whose header names an algorithm.
pub fn is_jwt(s: &str) -> bool {
    let mut parts = s.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if header.len() < 10 || payload.len() < 4 || !header.starts_with("eyJ") {
        return false;
    }
    if !signature.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return false;
    }
    let decode_object = |part: &str| -> Option<serde_json::Map<String, serde_json::Value>> {
        let bytes = base64_decode(part)?;
        match serde_json::from_slice::<serde_json::Value>(&bytes).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    };
    match (decode_object(header), decode_object(payload)) {
        (Some(h), Some(_)) => h.contains_key("alg") || h.contains_key("typ"),
        _ => false,
    }
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

// ---------------------------------------------------------------- dates

/// A calendar date found in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// A time of day other than midnight was present.
    pub has_time: bool,
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn date_ok(year: i32, month: u32, day: u32) -> bool {
    (1000..=2999).contains(&year) && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// ISO dates and timestamps as Postgres prints them, and the common
/// day-first / month-first forms (1985-03-02, 02.03.1985, 03/02/1985).
pub fn parse_date(s: &str) -> Option<FoundDate> {
    let s = s.trim();
    if s.len() < 8 || s.len() > 40 {
        return None;
    }
    let (date_part, time_part) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let has_time = match time_part {
        None => false,
        Some(t) => {
            let t = t.trim();
            // "00:00:00", "00:00:00+00", "00:00:00.000Z": midnight means a date stored as a timestamp.
            let clock: String = t.chars().take_while(|c| c.is_ascii_digit() || *c == ':' || *c == '.').collect();
            if clock.is_empty() || !clock.contains(':') {
                return None;
            }
            !clock.chars().all(|c| c == '0' || c == ':' || c == '.')
        }
    };
    let sep = date_part.bytes().find(|b| !b.is_ascii_digit())?;
    if !matches!(sep, b'-' | b'/' | b'.') {
        return None;
    }
    let parts: Vec<&str> = date_part.split(sep as char).collect();
    if parts.len() != 3 {
        return None;
    }
    let (a, b, c) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    let found = |year: u32, month: u32, day: u32| {
        if date_ok(year as i32, month, day) {
            Some(FoundDate { year: year as i32, month, day, has_time })
        } else {
            None
        }
    };
    if parts[0].len() == 4 {
        return found(a, b, c);
    }
    if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
        // Day first unless that is impossible (then month first).
        return found(c, b, a).or_else(|| found(c, a, b));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;




    #[test]
    fn ssn_rules() {
        assert_eq!(ssn_formatted("138-73-1034"), Some(true));
        assert_eq!(ssn_formatted("666-12-3456"), Some(false));
        assert_eq!(ssn_formatted("914-17-7763"), Some(false));
        assert_eq!(ssn_formatted("123-00-4567"), Some(false));
        assert_eq!(ssn_formatted("078-05-1120"), Some(false));
        assert_eq!(ssn_formatted("555-123-4567"), None);
    }


    #[test]
    fn jwt() {
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert!(is_jwt(token));
        assert!(!is_jwt("eyJhbGciOi.notjson.sig"));
        assert!(!is_jwt("a.b.c"));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1974-08-19").map(|d| (d.year, d.month, d.day)), Some((1974, 8, 19)));
        assert_eq!(parse_date("1974-08-19 00:00:00+00").map(|d| d.has_time), Some(false));
        assert_eq!(parse_date("2024-01-05T13:22:01Z").map(|d| d.has_time), Some(true));
        assert_eq!(parse_date("19.08.1974").map(|d| d.year), Some(1974));
        assert_eq!(parse_date("08/19/1974").map(|d| (d.month, d.day)), Some((8, 19)));
        assert_eq!(parse_date("1974-02-30"), None);
        assert_eq!(parse_date("10.2.3.4"), None);
    }
}
