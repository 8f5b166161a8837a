//! The hash chain of the audit log: each record's hash is
//! `sha256(previous hash || record text)` in lowercase hex (the first record
//! chains onto 64 zeros). The writer computes it here; `lake.verify_audit()`
//! recomputes it with Postgres' own `sha256`, an independent implementation.

use sha2::{Digest, Sha256};

/// `sha256(prev || record)` as lowercase hex.
pub fn chain_hash(prev: &str, record: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(record.as_bytes());
    to_hex(&h.finalize())
}

/// `sha256(prev || record)` as lowercase hex, without allocating (the writer
/// hashes every record straight out of the batch it builds).
pub fn chain_hash_hex(prev: &[u8], record: &[u8]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut h = Sha256::new();
    h.update(prev);
    h.update(record);
    let digest = h.finalize();
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[(b >> 4) as usize];
        out[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    out
}

/// Lowercase hex (the writer hashes every record: a table lookup per byte
/// instead of the generic char iterator).
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 15) as usize]);
    }
    // SAFETY: only ASCII hex digits were pushed.
    unsafe { String::from_utf8_unchecked(out) }
}

/// The hashes of `records` chained onto `prev`.
pub fn chain<S: AsRef<str>>(prev: &str, records: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(records.len());
    for r in records {
        let h = chain_hash(out.last().map_or(prev, |s| s.as_str()), r.as_ref());
        out.push(h);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sha256_of_the_concatenation() {
        // sha256("abc") and sha256("")
        assert_eq!(chain_hash("a", "bc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(chain_hash("", ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn hex_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(to_hex(&bytes), hex::encode(&bytes));
    }

    #[test]
    fn the_hex_array_is_the_hash_text() {
        assert_eq!(chain_hash_hex(b"a", b"bc").as_slice(), chain_hash("a", "bc").as_bytes());
        let prev = chain_hash("0", "x");
        assert_eq!(chain_hash_hex(prev.as_bytes(), "{\"é\":1}".as_bytes()).as_slice(), chain_hash(&prev, "{\"é\":1}").as_bytes());
    }

    #[test]
    fn each_hash_chains_onto_the_one_before() {
        let hs = chain("0", &["x", "y", "z"]);
        assert_eq!(hs[0], chain_hash("0", "x"));
        assert_eq!(hs[1], chain_hash(&hs[0], "y"));
        assert_eq!(hs[2], chain_hash(&hs[1], "z"));
        assert!(chain::<&str>("0", &[]).is_empty());
    }
}
