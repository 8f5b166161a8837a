//! Mask functions, all native: `lake.mask_email`, `lake.mask_redact`,
//! `lake.mask_ip_prefix`, `lake.mask_year` (raw V1 functions, below),
//! `lake.mask_partial` and `lake.mask_hash` (pgrx functions).
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

extension_sql!(
    r#"
CREATE FUNCTION lake.mask_email(value text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_email';
CREATE FUNCTION lake.mask_redact(value anyelement) RETURNS anyelement
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_redact';
CREATE FUNCTION lake.mask_ip_prefix(value inet) RETURNS inet
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_ip_prefix';
CREATE FUNCTION lake.mask_year(value date) RETURNS date
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'townlake_mask_year';
"#,
    name = "native_masks"
);

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
