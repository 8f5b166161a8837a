//! Mask functions written in Rust (`lake.mask_email`, `lake.mask_partial`,
//! `lake.mask_hash`). The type-generic ones (`mask_redact`, `mask_ip_prefix`,
//! `mask_year`) are SQL, in sql/governance.sql.

use pgrx::prelude::*;

use super::mask_logic;
use crate::errors::LakeError;

/// `j***@example.com`.
#[pg_extern(name = "mask_email", immutable, strict, parallel_safe)]
fn mask_email(value: &str) -> String {
    mask_logic::email(value)
}

/// Keeps `keep_first` leading and `keep_last` trailing characters.
#[pg_extern(name = "mask_partial", immutable, strict, parallel_safe)]
fn mask_partial(value: &str, keep_first: default!(i32, 1), keep_last: default!(i32, 1)) -> String {
    mask_logic::partial(value, keep_first, keep_last)
}

/// Keyed HMAC-SHA256 with an explicit key. Published views pass the key from
/// `lake.mask_key`, which only their owner (lake_governance) can read, so
/// analysts never hold the key and cannot hash guesses to compare.
#[pg_extern(name = "mask_hash_keyed", immutable, strict, parallel_safe)]
fn mask_hash_keyed(value: &str, key: &[u8]) -> String {
    mask_logic::keyed_hash(key, value.as_bytes())
}

/// The mask reviewers name (`lake.mask_hash(text)`). Published views call
/// `mask_hash_keyed` in its place; called directly it works for superusers
/// only, because a hash oracle would let anyone confirm guessed values.
#[pg_extern(name = "mask_hash", stable, strict, parallel_safe)]
fn mask_hash(value: &str) -> String {
    // SAFETY: plain catalog lookup of the current user.
    if !unsafe { pg_sys::superuser() } {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "lake.mask_hash can only be called directly by superusers",
        )
        .with_hint("Published views apply it for you; approve the column with mask => 'lake.mask_hash(text)'.")
        .report();
    }
    let key = Spi::get_one::<Vec<u8>>("SELECT key FROM lake.mask_key WHERE id = 1");
    match key {
        Ok(Some(k)) => mask_logic::keyed_hash(&k, value.as_bytes()),
        _ => LakeError::internal("the masking key lake.mask_key is missing").report(),
    }
}
