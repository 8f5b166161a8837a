//! Pure masking functions (no Postgres dependency); the masks in
//! `masks.rs` call these.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `john.doe@example.com` -> `j***@example.com`. Anything that is not an
/// address becomes `***`.
pub fn email(value: &str) -> String {
    match value.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let first = local.chars().next().unwrap_or('*');
            format!("{first}***@{domain}")
        }
        _ => "***".to_string(),
    }
}

/// Keeps the first `keep_first` and last `keep_last` characters and stars the
/// rest. If that would leave nothing hidden, every character is starred.
pub fn partial(value: &str, keep_first: i32, keep_last: i32) -> String {
    let chars: Vec<char> = value.chars().collect();
    let first = keep_first.max(0) as usize;
    let last = keep_last.max(0) as usize;
    if first.saturating_add(last) >= chars.len() {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..first].iter().collect();
    out.push_str(&"*".repeat(chars.len() - first - last));
    out.extend(&chars[chars.len() - last..]);
    out
}

/// What `mask_redact` shows for a value of a text type.
pub const REDACTED: &str = "[redacted]";

/// The network prefix `mask_ip_prefix` keeps: at most the first 24 bits of
/// an IPv4 address and 48 of an IPv6 one (fewer if the value's own mask is
/// shorter). Zeroes the host bits of `addr` in place and returns the new
/// mask length.
pub fn ip_prefix(ipv4: bool, bits: u8, addr: &mut [u8]) -> u8 {
    let keep = bits.min(if ipv4 { 24 } else { 48 });
    for (i, byte) in addr.iter_mut().enumerate() {
        let first_bit = i * 8;
        let kept = (keep as usize).saturating_sub(first_bit).min(8);
        *byte &= if kept == 0 { 0 } else { 0xffu8 << (8 - kept) };
    }
    keep
}

/// Hex HMAC-SHA256 of `value` under `key`.
pub fn keyed_hash(key: &[u8], value: &[u8]) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(value);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_keeps_first_letter_and_domain() {
        assert_eq!(email("john.doe@example.com"), "j***@example.com");
        assert_eq!(email("a@b.c"), "a***@b.c");
        assert_eq!(email("not an address"), "***");
        assert_eq!(email("@example.com"), "***");
        assert_eq!(email("x@"), "***");
        assert_eq!(email("é@ü.de"), "é***@ü.de");
    }

    #[test]
    fn partial_keeps_ends() {
        assert_eq!(partial("4111111111111111", 0, 4), "************1111");
        assert_eq!(partial("abcdef", 1, 1), "a****f");
        assert_eq!(partial("abc", 2, 2), "***");
        assert_eq!(partial("", 1, 1), "");
        assert_eq!(partial("abcdef", -3, 2), "****ef");
        assert_eq!(partial("ßçdefg", 2, 0), "ßç****");
    }

    #[test]
    fn ip_prefix_keeps_the_network() {
        let mut v4 = [10, 1, 2, 3];
        assert_eq!(ip_prefix(true, 32, &mut v4), 24);
        assert_eq!(v4, [10, 1, 2, 0]);
        let mut short = [10, 255, 0, 0];
        assert_eq!(ip_prefix(true, 12, &mut short), 12);
        assert_eq!(short, [10, 240, 0, 0]);
        let mut v6 = [0x20, 0x01, 0x0d, 0xb8, 0x85, 0xa3, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(ip_prefix(false, 128, &mut v6), 48);
        assert_eq!(v6, [0x20, 0x01, 0x0d, 0xb8, 0x85, 0xa3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn keyed_hash_depends_on_key() {
        let a = keyed_hash(b"k1", b"alice");
        assert_eq!(a.len(), 64);
        assert_eq!(a, keyed_hash(b"k1", b"alice"));
        assert_ne!(a, keyed_hash(b"k2", b"alice"));
        // RFC 4231 test case 2.
        assert_eq!(
            keyed_hash(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
