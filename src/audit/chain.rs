//! The hash chain of `lake.audit_log`: each record's hash is
//! `sha256(prev_hash || payload)` in lowercase hex, where the payload is the
//! row as JSON without its hashes (`lake._gov_audit_payload`). The writer
//! folds it over a batch with the window aggregate `lake._audit_chain`, whose
//! step is here; `lake.verify_audit()` recomputes it with Postgres' own
//! `sha256`, an independent implementation.

use pgrx::prelude::*;
use sha2::{Digest, Sha256};

/// `sha256(prev || payload)` as lowercase hex.
pub fn chain_hash(prev: &str, payload: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(payload.as_bytes());
    hex::encode(h.finalize())
}

/// Transition of `lake._audit_chain(seed, payload)`: the first row chains
/// onto `seed` (the hash before the batch), every later one onto the state.
#[pg_extern(name = "_audit_chain_step", immutable, parallel_safe)]
fn audit_chain_step(state: Option<&str>, seed: Option<&str>, payload: Option<&str>) -> Option<String> {
    let prev = state.or(seed)?;
    Some(chain_hash(prev, payload.unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sha256_of_the_concatenation() {
        // sha256("abc")
        assert_eq!(chain_hash("a", "bc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(chain_hash("", ""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn the_step_starts_from_the_seed_then_follows_the_state() {
        let first = audit_chain_step(None, Some("0"), Some("x")).unwrap();
        assert_eq!(first, chain_hash("0", "x"));
        let second = audit_chain_step(Some(&first), Some("0"), Some("y")).unwrap();
        assert_eq!(second, chain_hash(&first, "y"));
        assert_eq!(audit_chain_step(None, None, Some("x")), None);
    }
}
