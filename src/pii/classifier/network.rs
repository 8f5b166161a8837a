//! Detector family: network identifiers — IPv4 and IPv6 addresses (strict
//! parsers, host addresses only) and MAC addresses (consistent separators).

/// Dotted-quad IPv4 without leading zeros.
pub fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        let v: u32 = p.parse().ok()?;
        if v > 255 {
            return None;
        }
        *slot = v as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// IPv4 with an optional /32 host prefix (Postgres inet prints "/32" only
/// for non-host masks, so a shorter prefix means a network, not a host).
pub fn parse_ipv4_host(s: &str) -> Option<[u8; 4]> {
    match s.split_once('/') {
        Some((addr, "32")) => parse_ipv4(addr),
        Some(_) => None,
        None => parse_ipv4(s),
    }
}

/// An IPv6 address (optionally bracketed, with a zone or a /128 prefix).
pub fn is_ipv6(s: &str) -> bool {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    let s = match s.split_once('/') {
        Some((addr, "128")) => addr,
        Some(_) => return false,
        None => s,
    };
    let s = s.split('%').next().unwrap_or(s);
    if s.len() < 3 || s.bytes().filter(|&b| b == b':').count() < 2 {
        return false;
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
        return false;
    }
    match s.parse::<std::net::Ipv6Addr>() {
        // "::" and "::1" parse, but carry no information about a person.
        Ok(addr) => !addr.is_unspecified() && !addr.is_loopback(),
        Err(_) => false,
    }
}

/// MAC-48 in the common notations: 00:1a:2b:3c:4d:5e, 00-1A-…, 001a.2b3c.4d5e.
pub fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        17 => {
            let sep = b[2];
            if sep != b':' && sep != b'-' {
                return false;
            }
            for (i, &c) in b.iter().enumerate() {
                if i % 3 == 2 {
                    if c != sep {
                        return false;
                    }
                } else if !c.is_ascii_hexdigit() {
                    return false;
                }
            }
            // all zeros / all ones are placeholders, not devices
            !(s.eq_ignore_ascii_case("00:00:00:00:00:00")
                || s.eq_ignore_ascii_case("ff:ff:ff:ff:ff:ff")
                || s.eq_ignore_ascii_case("00-00-00-00-00-00")
                || s.eq_ignore_ascii_case("ff-ff-ff-ff-ff-ff"))
        }
        14 => b.iter().enumerate().all(|(i, &c)| if i == 4 || i == 9 { c == b'.' } else { c.is_ascii_hexdigit() }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_addresses() {
        assert_eq!(parse_ipv4("192.168.1.20"), Some([192, 168, 1, 20]));
        assert_eq!(parse_ipv4("256.1.1.1"), None);
        assert_eq!(parse_ipv4("01.2.3.4"), None);
        assert_eq!(parse_ipv4("1.2.3"), None);
        assert_eq!(parse_ipv4_host("10.0.0.0/8"), None);
        assert!(is_ipv6("8b2d:9a82:4db3:7000:30b4:1d93:dccc:c79c"));
        assert!(is_ipv6("2001:db8::1"));
        assert!(!is_ipv6("::1"));
        assert!(!is_ipv6("12:30:45"));
        assert!(!is_ipv6("b0:01:9f:60:78:48"));
        assert!(is_mac("b0:01:9f:60:78:48"));
        assert!(is_mac("B0-01-9F-60-78-48"));
        assert!(is_mac("b001.9f60.7848"));
        assert!(!is_mac("b0:01:9f-60:78:48"));
    }
}
