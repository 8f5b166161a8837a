//! Mask functions, all native: `lake.mask_email`, `lake.mask_redact`,
//! `lake.mask_ip_prefix`, `lake.mask_year`, `lake.mask_partial` and
//! `lake.mask_hash_keyed` (raw V1 functions, below), `lake.mask_hash` (a
//! pgrx function, for superusers only).
//!
//! A published view calls its mask once per row, so the masks on the hot path
//! are plain V1 C-calling-convention functions: they read the argument's
//! bytes where they lie (no copy into a Rust String, no UTF-8 pass) and
//! write the result straight into one palloc'd datum (the calling glue is
//! pg/fmgr.rs's `v1_function!`; what is here is safe Rust). Every mask is
//! IMMUTABLE, STRICT and PARALLEL SAFE: it depends on its arguments only
//! (the hash key is one of them), so masked columns do not stop parallel
//! plans or constant folding.

use pgrx::prelude::*;

use super::mask_logic;
use crate::errors::LakeError;
use crate::pg::fmgr::{char_len, database_is_utf8, Call, Ret};
use crate::v1_function;

v1_function!(townlake_mask_email, pg_finfo_townlake_mask_email, mask_email);
/// `lake.mask_email(text)`: `john.doe@example.com` -> `j***@example.com`,
/// anything that is not an address -> `***` (as `mask_logic::email`).
fn mask_email(call: &Call) -> Ret {
    let value = call.bytes(0);
    match value.iter().rposition(|&b| b == b'@') {
        Some(at) if at > 0 && at + 1 < value.len() => {
            // the first character, in the database's encoding ('@' is ASCII
            // in every server encoding, so it never ends inside it)
            let first = char_len(value).min(at);
            Ret::varlena(&[&value[..first], b"***", &value[at..]])
        }
        _ => Ret::varlena(&[b"***"]),
    }
}

v1_function!(townlake_mask_redact, pg_finfo_townlake_mask_redact, mask_redact);
/// `lake.mask_redact(anyelement)`: `[redacted]` for text types, NULL for
/// every other type (a value of any other type would still tell something).
fn mask_redact(call: &Call) -> Ret {
    match call.arg_base_type(0) {
        pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => Ret::varlena(&[mask_logic::REDACTED.as_bytes()]),
        pg_sys::NAMEOID => Ret::name(mask_logic::REDACTED.as_bytes()),
        _ => Ret::null(),
    }
}

v1_function!(townlake_mask_ip_prefix, pg_finfo_townlake_mask_ip_prefix, mask_ip_prefix);
/// `lake.mask_ip_prefix(inet)`: the /24 (IPv4) or /48 (IPv6) network.
fn mask_ip_prefix(call: &Call) -> Ret {
    // inet: varlena header, then family (PGSQL_AF_INET = AF_INET + 0,
    // PGSQL_AF_INET6 = AF_INET + 1), mask bits, 4 or 16 address bytes.
    let value = call.bytes(0);
    if value.len() < 2 {
        LakeError::internal("mask_ip_prefix: malformed inet value").report();
    }
    let ipv4 = value[0] as i32 == libc::AF_INET;
    let size = if ipv4 { 4 } else { 16 };
    if value.len() < 2 + size {
        LakeError::internal("mask_ip_prefix: malformed inet value").report();
    }
    let mut out = [0u8; 18];
    out[..2 + size].copy_from_slice(&value[..2 + size]);
    out[1] = mask_logic::ip_prefix(ipv4, value[1], &mut out[2..2 + size]);
    Ret::varlena(&[&out[..2 + size]])
}

v1_function!(townlake_mask_year, pg_finfo_townlake_mask_year, mask_year);
/// `lake.mask_year(date)`: January 1st of the same year (infinite dates
/// stay as they are).
fn mask_year(call: &Call) -> Ret {
    let days = call.i32(0);
    if days == i32::MIN || days == i32::MAX {
        return Ret::i32(days);
    }
    Ret::i32(crate::pg::types::date_year_start(days))
}

/// Byte offsets of the character boundaries of `value` in the database's
/// encoding, as an iterator (every character's start, then the end).
fn char_starts(value: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let utf8 = database_is_utf8();
    let mut at = 0usize;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let here = at;
        if at >= value.len() {
            done = true;
            return Some(value.len());
        }
        at += if utf8 {
            // the length from the lead byte (the text is valid UTF-8)
            match value[at] {
                b if b < 0x80 => 1,
                b if b >= 0xf0 => 4,
                b if b >= 0xe0 => 3,
                _ => 2,
            }
        } else {
            char_len(&value[at..])
        };
        at = at.min(value.len());
        Some(here)
    })
}

v1_function!(townlake_mask_partial, pg_finfo_townlake_mask_partial, mask_partial);
/// `lake.mask_partial(text, keep_first, keep_last)`: keeps `keep_first`
/// leading and `keep_last` trailing characters and stars the rest (all
/// stars if nothing would be hidden), as `mask_logic::partial`.
fn mask_partial(call: &Call) -> Ret {
    let value = call.bytes(0);
    let first = call.i32(1).max(0) as usize;
    let last = call.i32(2).max(0) as usize;
    let chars = char_starts(value).count() - 1;
    if first.saturating_add(last) >= chars {
        return Ret::varlena(&[&b"*".repeat(chars)]);
    }
    let head_end = char_starts(value).nth(first).unwrap_or(value.len());
    let tail_start = char_starts(value).nth(chars - last).unwrap_or(value.len());
    let hidden = chars - first - last;
    if hidden <= STARS.len() {
        Ret::varlena(&[&value[..head_end], &STARS[..hidden], &value[tail_start..]])
    } else {
        Ret::varlena(&[&value[..head_end], &b"*".repeat(hidden), &value[tail_start..]])
    }
}

const STARS: [u8; 64] = [b'*'; 64];

v1_function!(townlake_mask_hash_keyed, pg_finfo_townlake_mask_hash_keyed, mask_hash_keyed);
/// `lake.mask_hash_keyed(text, key bytea)`: hex HMAC-SHA256 of the value
/// under the key. Published views pass the key from `lake.mask_key`, which
/// only their owner (lake_governance) can read, so analysts never hold the
/// key and cannot hash guesses to compare.
fn mask_hash_keyed(call: &Call) -> Ret {
    use hmac::Mac;
    let value = call.bytes(0);
    let key = call.bytes(1);
    // The HMAC state after the key, kept per call site so each row hashes
    // its value only.
    let keyed = call.per_call_site(key, || {
        // HMAC accepts keys of any length, so construction cannot fail.
        let Ok(mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
            LakeError::internal("mask_hash: cannot key the hash").report();
        };
        mac
    });
    let mut mac = keyed.clone();
    mac.update(value);
    let digest = mac.finalize().into_bytes();
    let mut hex = [0u8; 64];
    // a fixed-size buffer of exactly twice the digest: cannot fail
    let _ = hex::encode_to_slice(digest, &mut hex);
    Ret::varlena(&[&hex])
}

extension_sql_file!("../../sql/governance/masks.sql", name = "native_masks");

/// The mask reviewers name (`lake.mask_hash(text)`). Published views call
/// `mask_hash_keyed` in its place; called directly it works for superusers
/// only, because a hash oracle would let anyone confirm guessed values.
#[pg_extern(name = "mask_hash", stable, strict, parallel_safe)]
fn mask_hash(value: &str) -> String {
    if !crate::pg::security::is_superuser(crate::pg::security::current_user()) {
        LakeError::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "lake.mask_hash can only be called directly by superusers",
        )
        .with_hint("Published views apply it for you; approve the column with mask => 'lake.mask_hash(text)'.")
        .report();
    }
    // read-only SPI: the function is parallel safe
    let key = Spi::connect(|c| c.select("SELECT key FROM lake.mask_key WHERE id = 1", Some(1), &[])?.first().get_one::<Vec<u8>>());
    match key {
        Ok(Some(k)) => mask_logic::keyed_hash(&k, value.as_bytes()),
        _ => LakeError::internal("the masking key lake.mask_key is missing").report(),
    }
}
