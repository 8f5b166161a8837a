//! Mask functions, all native: `lake.mask_email`, `lake.mask_redact`,
//! `lake.mask_ip_prefix`, `lake.mask_year`, `lake.mask_partial` and
//! `lake.mask_hash_keyed` (raw V1 functions, below), `lake.mask_hash` (a
//! pgrx function, for superusers only).
//!
//! A published view calls its mask once per row, so the masks on the hot path
//! are plain V1 C-calling-convention functions: they read the argument's
//! bytes where they lie (no copy into a Rust String, no UTF-8 pass) and
//! write the result straight into one palloc'd datum. Every mask is
//! IMMUTABLE, STRICT and PARALLEL SAFE: it depends on its arguments only
//! (the hash key is one of them), so masked columns do not stop parallel
//! plans or constant folding.

use pgrx::prelude::*;

use super::mask_logic;
use crate::errors::LakeError;

/// Declares `pg_finfo_<symbol>`, which tells Postgres that `<symbol>` uses
/// the version-1 calling convention.
macro_rules! v1_info {
    ($info:ident) => {
        #[no_mangle]
        pub extern "C" fn $info() -> &'static pg_sys::Pg_finfo_record {
            const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }
    };
}

/// The bytes of a text-like (varlena) argument, detoasted only if stored
/// compressed or out of line.
///
/// # Safety
/// `datum` must be a non-null varlena datum; the slice lives as long as the
/// current memory context.
unsafe fn varlena_bytes<'a>(datum: pg_sys::Datum) -> &'a [u8] {
    let v = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr::<pg_sys::varlena>());
    std::slice::from_raw_parts(pgrx::varlena::vardata_any(v) as *const u8, pgrx::varlena::varsize_any_exhdr(v))
}

/// A new text datum holding `parts` one after the other.
///
/// # Safety
/// Allocates in the current memory context.
unsafe fn text_datum(parts: &[&[u8]]) -> pg_sys::Datum {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let out = pg_sys::palloc(len + pg_sys::VARHDRSZ) as *mut pg_sys::varlena;
    pgrx::varlena::set_varsize_4b(out, (len + pg_sys::VARHDRSZ) as i32);
    let mut at = (out as *mut u8).add(pg_sys::VARHDRSZ);
    for p in parts {
        std::ptr::copy_nonoverlapping(p.as_ptr(), at, p.len());
        at = at.add(p.len());
    }
    pg_sys::Datum::from(out)
}

/// # Safety
/// Called by Postgres' function manager with one non-null argument.
unsafe fn arg0(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    (*(*fcinfo).args.as_ptr()).value
}

v1_info!(pg_finfo_townlake_mask_email);
/// `lake.mask_email(text)`: `john.doe@example.com` -> `j***@example.com`,
/// anything that is not an address -> `***` (as `mask_logic::email`).
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn townlake_mask_email(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let value = varlena_bytes(arg0(fcinfo));
    match value.iter().rposition(|&b| b == b'@') {
        Some(at) if at > 0 && at + 1 < value.len() => {
            // the first character, in the database's encoding ('@' is ASCII
            // in every server encoding, so it never ends inside it)
            let first = (pg_sys::pg_mblen(value.as_ptr() as *const std::ffi::c_char).max(1) as usize).min(at);
            text_datum(&[&value[..first], b"***", &value[at..]])
        }
        _ => text_datum(&[b"***"]),
    }
}

v1_info!(pg_finfo_townlake_mask_redact);
/// `lake.mask_redact(anyelement)`: `[redacted]` for text types, NULL for
/// every other type (a value of any other type would still tell something).
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn townlake_mask_redact(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let typ = pg_sys::getBaseType(pg_sys::get_fn_expr_argtype((*fcinfo).flinfo, 0));
    match typ {
        pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID => text_datum(&[mask_logic::REDACTED.as_bytes()]),
        pg_sys::NAMEOID => {
            let name = pg_sys::palloc0(pg_sys::NAMEDATALEN as usize) as *mut u8;
            let r = mask_logic::REDACTED.as_bytes();
            std::ptr::copy_nonoverlapping(r.as_ptr(), name, r.len());
            pg_sys::Datum::from(name)
        }
        _ => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0usize)
        }
    }
}

v1_info!(pg_finfo_townlake_mask_ip_prefix);
/// `lake.mask_ip_prefix(inet)`: the /24 (IPv4) or /48 (IPv6) network.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn townlake_mask_ip_prefix(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // inet: varlena header, then family (PGSQL_AF_INET = AF_INET + 0,
    // PGSQL_AF_INET6 = AF_INET + 1), mask bits, 4 or 16 address bytes.
    let value = varlena_bytes(arg0(fcinfo));
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
    text_datum(&[&out[..2 + size]])
}

v1_info!(pg_finfo_townlake_mask_year);
/// `lake.mask_year(date)`: January 1st of the same year (infinite dates
/// stay as they are).
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn townlake_mask_year(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let days = arg0(fcinfo).value() as i32;
    if days == i32::MIN || days == i32::MAX {
        return pg_sys::Datum::from(days);
    }
    let epoch = pg_sys::POSTGRES_EPOCH_JDATE as i32;
    let (mut y, mut m, mut d) = (0, 0, 0);
    pg_sys::j2date(days + epoch, &mut y, &mut m, &mut d);
    pg_sys::Datum::from(pg_sys::date2j(y, 1, 1) - epoch)
}

/// # Safety
/// Called by Postgres' function manager with a non-null argument `n`.
unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> pg_sys::Datum {
    (*(*fcinfo).args.as_ptr().add(n)).value
}

/// Byte offsets of the character boundaries of `value` in the database's
/// encoding, as an iterator (every character's start, then the end).
unsafe fn char_starts(value: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let utf8 = pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32;
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
            pg_sys::pg_mblen(value.as_ptr().add(at) as *const std::ffi::c_char).max(1) as usize
        };
        at = at.min(value.len());
        Some(here)
    })
}

v1_info!(pg_finfo_townlake_mask_partial);
/// `lake.mask_partial(text, keep_first, keep_last)`: keeps `keep_first`
/// leading and `keep_last` trailing characters and stars the rest (all
/// stars if nothing would be hidden), as `mask_logic::partial`.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn townlake_mask_partial(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let value = varlena_bytes(arg(fcinfo, 0));
    let first = (arg(fcinfo, 1).value() as i32).max(0) as usize;
    let last = (arg(fcinfo, 2).value() as i32).max(0) as usize;
    let chars = char_starts(value).count() - 1;
    if first.saturating_add(last) >= chars {
        return text_datum(&[&b"*".repeat(chars)]);
    }
    let head_end = char_starts(value).nth(first).unwrap_or(value.len());
    let tail_start = char_starts(value).nth(chars - last).unwrap_or(value.len());
    let hidden = chars - first - last;
    if hidden <= STARS.len() {
        text_datum(&[&value[..head_end], &STARS[..hidden], &value[tail_start..]])
    } else {
        text_datum(&[&value[..head_end], &b"*".repeat(hidden), &value[tail_start..]])
    }
}

const STARS: [u8; 64] = [b'*'; 64];

/// The HMAC state after the key, kept per call site (in `fn_extra`) so each
/// row hashes its value only. Plain data: no destructor to run.
#[repr(C)]
struct KeyedHash {
    key: *mut u8,
    key_len: usize,
    mac: hmac::Hmac<sha2::Sha256>,
}

v1_info!(pg_finfo_townlake_mask_hash_keyed);
/// `lake.mask_hash_keyed(text, key bytea)`: hex HMAC-SHA256 of the value
/// under the key. Published views pass the key from `lake.mask_key`, which
/// only their owner (lake_governance) can read, so analysts never hold the
/// key and cannot hash guesses to compare.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn townlake_mask_hash_keyed(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    use hmac::Mac;
    let value = varlena_bytes(arg(fcinfo, 0));
    let key = varlena_bytes(arg(fcinfo, 1));
    let flinfo = (*fcinfo).flinfo;
    let mut cached = (*flinfo).fn_extra as *mut KeyedHash;
    if cached.is_null() || std::slice::from_raw_parts((*cached).key, (*cached).key_len) != key {
        // HMAC accepts keys of any length, so construction cannot fail.
        let Ok(mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
            LakeError::internal("mask_hash: cannot key the hash").report();
        };
        let copy = pg_sys::MemoryContextAlloc((*flinfo).fn_mcxt, key.len().max(1)) as *mut u8;
        std::ptr::copy_nonoverlapping(key.as_ptr(), copy, key.len());
        cached = pg_sys::MemoryContextAlloc((*flinfo).fn_mcxt, std::mem::size_of::<KeyedHash>()) as *mut KeyedHash;
        std::ptr::write(cached, KeyedHash { key: copy, key_len: key.len(), mac });
        (*flinfo).fn_extra = cached as *mut std::ffi::c_void;
    }
    let mut mac = (*cached).mac.clone();
    mac.update(value);
    let digest = mac.finalize().into_bytes();
    let mut hex = [0u8; 64];
    // a fixed-size buffer of exactly twice the digest: cannot fail
    let _ = hex::encode_to_slice(digest, &mut hex);
    text_datum(&[&hex])
}

extension_sql_file!("../../sql/governance/masks.sql", name = "native_masks");

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
    // read-only SPI: the function is parallel safe
    let key = Spi::connect(|c| c.select("SELECT key FROM lake.mask_key WHERE id = 1", Some(1), &[])?.first().get_one::<Vec<u8>>());
    match key {
        Ok(Some(k)) => mask_logic::keyed_hash(&k, value.as_bytes()),
        _ => LakeError::internal("the masking key lake.mask_key is missing").report(),
    }
}
