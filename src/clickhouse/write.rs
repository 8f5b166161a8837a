//! Rows for ClickHouse's `INSERT ... FORMAT TabSeparated`: each Postgres
//! value checked against the ClickHouse column's type and written in the
//! text ClickHouse parses back to exactly that value, and finished batches
//! spooled to an unlinked temporary file until the statement ends. Pure
//! logic: no pgrx.
//!
//! ClickHouse's text parsers wrap out-of-range numbers and dates around
//! silently (`256` into a UInt8 is 0, `2106-01-01` into a Date is day 0), so
//! every range is checked here first.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

// Writing into a Vec<u8> cannot fail: `let _ = write!(out, ...)` below.

use super::types::ChType;

/// One Postgres value, as the write path reads it from a datum.
#[derive(Debug, Clone, PartialEq)]
pub enum PgValue {
    Null,
    Int(i64),
    Float(f64),
    /// A numeric's text (`-12.50`, `NaN`, `Infinity`).
    Numeric(String),
    Bool(bool),
    /// Text (through the type's output function) or a bytea's raw bytes.
    Text(Vec<u8>),
    /// Days since 1970-01-01; None for ±infinity.
    Date(Option<i64>),
    /// Microseconds since 1970-01-01 00:00 UTC; None for ±infinity.
    Timestamp(Option<i64>),
    /// A one-dimensional array's elements.
    Array(Vec<PgValue>),
}

/// Why a value cannot go into a ClickHouse column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteErrorKind {
    /// Out of the type's range, or more decimal places than it holds.
    OutOfRange,
    /// A NULL for a column that is not Nullable.
    Null,
    /// A value of the wrong form (text that is not a number, ...).
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub kind: WriteErrorKind,
    pub message: String,
    pub hint: String,
}

fn err(kind: WriteErrorKind, message: impl Into<String>, hint: impl Into<String>) -> WriteError {
    WriteError { kind, message: message.into(), hint: hint.into() }
}

/// Last day ClickHouse 18.16 stores in a Date (later ones wrap to day 0).
pub const MAX_DATE_DAYS: i64 = 49_672; // 2105-12-31
/// Last second of a DateTime (UInt32 seconds since 1970).
pub const MAX_DATETIME_SECONDS: i64 = u32::MAX as i64;

/// Append `value` as one TabSeparated field for a column of type `ch`.
pub fn encode_field(value: &PgValue, ch: &ChType, out: &mut Vec<u8>) -> Result<(), WriteError> {
    encode(value, ch, out, false)
}

/// `quoted`: inside an array, where strings are quoted and NULL is `NULL`.
fn encode(value: &PgValue, ch: &ChType, out: &mut Vec<u8>, quoted: bool) -> Result<(), WriteError> {
    if *value == PgValue::Null {
        if !ch.is_nullable() {
            return Err(err(
                WriteErrorKind::Null,
                format!("NULL cannot go into ClickHouse type {}", type_label(ch)),
                "The ClickHouse column is not Nullable: give every row a value (a DEFAULT on the foreign table's column fills \
                 omitted ones), or make the ClickHouse column Nullable.",
            ));
        }
        out.extend_from_slice(if quoted { b"NULL" } else { b"\\N" });
        return Ok(());
    }
    use ChType as C;
    let base = ch.base();
    match base {
        C::Int { bits, signed } => {
            let v = whole_number(value, base)?;
            let (min, max) = int_range(*bits, *signed);
            if v < min || v > max {
                return Err(err(
                    WriteErrorKind::OutOfRange,
                    format!("value {v} is out of range for ClickHouse type {}", type_label(ch)),
                    format!(
                        "{} holds {min} to {max}; ClickHouse would store a wrapped-around value, so townlake refuses it. \
                         Filter or clamp the value, or widen the ClickHouse column.",
                        type_label(base)
                    ),
                ));
            }
            let _ = write!(out, "{v}");
        }
        C::Float32 | C::Float64 => {
            let f = float_value(value, base)?;
            if *base == C::Float32 && !f.is_nan() && (f as f32) as f64 != f {
                return Err(err(
                    WriteErrorKind::OutOfRange,
                    format!("value {f:?} does not fit ClickHouse type Float32 exactly"),
                    "Round it to single precision first (::real), or make the ClickHouse column Float64.",
                ));
            }
            out.extend_from_slice(float_text(f, *base == C::Float32).as_bytes());
        }
        C::Decimal { precision, scale } => {
            let text = match value {
                PgValue::Numeric(s) => s.clone(),
                PgValue::Int(i) => i.to_string(),
                PgValue::Float(f) if f.is_finite() => format!("{f}"),
                PgValue::Text(b) => String::from_utf8_lossy(b).trim().to_string(),
                other => return Err(mismatch(other, ch)),
            };
            out.extend_from_slice(decimal_text(&text, *precision, *scale, ch)?.as_bytes());
        }
        C::String | C::FixedString(_) | C::Enum | C::Uuid | C::IPv4 | C::IPv6 | C::Other(_) => {
            let bytes: Vec<u8> = match value {
                PgValue::Text(b) => b.clone(),
                other => return Err(mismatch(other, ch)),
            };
            if let C::FixedString(n) = base {
                if bytes.len() > *n as usize {
                    return Err(err(
                        WriteErrorKind::OutOfRange,
                        format!("a value of {} bytes does not fit ClickHouse type {}", bytes.len(), type_label(ch)),
                        format!("FixedString({n}) holds at most {n} bytes; shorten the value or widen the column."),
                    ));
                }
            }
            if *base == C::Uuid && !is_uuid_text(&bytes) {
                return Err(err(
                    WriteErrorKind::Invalid,
                    format!("\"{}\" is not a UUID", String::from_utf8_lossy(&bytes)),
                    "Write UUIDs as 8-4-4-4-12 hexadecimal digits, or declare the column as uuid.",
                ));
            }
            if quoted {
                out.push(b'\'');
                escape_into(&bytes, out, true);
                out.push(b'\'');
            } else {
                escape_into(&bytes, out, false);
            }
        }
        C::Date => {
            let days = match value {
                PgValue::Date(d) => *d,
                PgValue::Text(b) => Some(parse_date(b).ok_or_else(|| {
                    err(
                        WriteErrorKind::Invalid,
                        format!("\"{}\" is not a date of the form YYYY-MM-DD", String::from_utf8_lossy(b)),
                        "Declare the column as date, or write dates as YYYY-MM-DD.",
                    )
                })?),
                other => return Err(mismatch(other, ch)),
            };
            match days {
                Some(d) if (0..=MAX_DATE_DAYS).contains(&d) => {
                    let text = super::sql::date_text(d as i32);
                    if quoted {
                        out.extend_from_slice(format!("'{text}'").as_bytes());
                    } else {
                        out.extend_from_slice(text.as_bytes());
                    }
                }
                _ => {
                    return Err(err(
                        WriteErrorKind::OutOfRange,
                        format!("date {} is out of range for ClickHouse type Date", days.map_or("infinity".into(), |d| super::sql::date_text(d as i32))),
                        "ClickHouse's Date holds 1970-01-01 to 2105-12-31 (ClickHouse 18.16 stores later dates as 1970-01-01).",
                    ))
                }
            }
        }
        C::DateTime(_) => {
            let micros = match value {
                PgValue::Timestamp(t) => *t,
                other => return Err(mismatch(other, ch)),
            };
            let Some(micros) = micros else {
                return Err(err(
                    WriteErrorKind::OutOfRange,
                    "infinity is out of range for ClickHouse type DateTime",
                    "ClickHouse's DateTime holds 1970-01-01 00:00:00 to 2106-02-07 06:28:15 UTC.",
                ));
            };
            if micros.rem_euclid(1_000_000) != 0 {
                return Err(err(
                    WriteErrorKind::OutOfRange,
                    format!("timestamp {micros} µs after 1970 has a fraction of a second, which ClickHouse type {} cannot hold", type_label(ch)),
                    "ClickHouse's DateTime holds whole seconds: write date_trunc('second', value), or a timestamp(0) column.",
                ));
            }
            let secs = micros / 1_000_000;
            if !(0..=MAX_DATETIME_SECONDS).contains(&secs) {
                return Err(err(
                    WriteErrorKind::OutOfRange,
                    format!("timestamp {secs} s after 1970 is out of range for ClickHouse type {}", type_label(ch)),
                    "ClickHouse's DateTime holds 1970-01-01 00:00:00 to 2106-02-07 06:28:15 UTC.",
                ));
            }
            // Unix seconds, zero-padded to 10 digits: ClickHouse reads a
            // number of 5 or more digits as Unix time (a shorter one as
            // the start of a date), whatever the column's time zone.
            let _ = if quoted { write!(out, "'{secs:010}'") } else { write!(out, "{secs:010}") };
        }
        C::Array(inner) => {
            let PgValue::Array(items) = value else { return Err(mismatch(value, ch)) };
            out.push(b'[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                // Inside a TSV field an array is ClickHouse's quoted text,
                // with tabs and newlines escaped within its strings.
                encode(item, inner, out, true)?;
            }
            out.push(b']');
        }
        C::DateTime64 { .. } => return Err(mismatch(value, ch)),
        C::Nullable(_) | C::LowCardinality(_) => unreachable!("base() strips wrappers"),
    }
    Ok(())
}

/// ClickHouse's type name without Nullable/LowCardinality, as users read it.
fn type_label(ch: &ChType) -> String {
    use ChType as C;
    match ch.base() {
        C::Int { bits, signed } => format!("{}Int{bits}", if *signed { "" } else { "U" }),
        C::Float32 => "Float32".into(),
        C::Float64 => "Float64".into(),
        C::Decimal { precision, scale } => format!("Decimal({precision}, {scale})"),
        C::String => "String".into(),
        C::FixedString(n) => format!("FixedString({n})"),
        C::Date => "Date".into(),
        C::DateTime(None) => "DateTime".into(),
        C::DateTime(Some(tz)) => format!("DateTime('{tz}')"),
        C::DateTime64 { precision, .. } => format!("DateTime64({precision})"),
        C::Uuid => "UUID".into(),
        C::Enum => "Enum".into(),
        C::IPv4 => "IPv4".into(),
        C::IPv6 => "IPv6".into(),
        C::Array(inner) => format!("Array({})", type_label(inner)),
        C::Other(name) => name.clone(),
        C::Nullable(_) | C::LowCardinality(_) => unreachable!("base() strips wrappers"),
    }
}

fn mismatch(value: &PgValue, ch: &ChType) -> WriteError {
    let what = match value {
        PgValue::Null => "NULL",
        PgValue::Int(_) => "an integer",
        PgValue::Float(_) => "a floating-point value",
        PgValue::Numeric(_) => "a numeric",
        PgValue::Bool(_) => "a boolean",
        PgValue::Text(_) => "text",
        PgValue::Date(_) => "a date",
        PgValue::Timestamp(_) => "a timestamp",
        PgValue::Array(_) => "an array",
    };
    err(
        WriteErrorKind::Invalid,
        format!("{what} cannot be written into ClickHouse type {}", type_label(ch)),
        "Declare the foreign table's column with the type IMPORT FOREIGN SCHEMA gives it (docs/clickhouse.md, Types).",
    )
}

/// The inclusive range of a ClickHouse integer type.
pub fn int_range(bits: u16, signed: bool) -> (i128, i128) {
    let bits = bits.clamp(8, 64) as u32;
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// A value as a whole number, or why it is not one.
fn whole_number(value: &PgValue, ch: &ChType) -> Result<i128, WriteError> {
    let not_whole = |shown: String| {
        err(
            WriteErrorKind::Invalid,
            format!("value {shown} is not a whole number, as ClickHouse type {} needs", type_label(ch)),
            "Round the value (round(x) or trunc(x)) before writing it.",
        )
    };
    match value {
        PgValue::Int(i) => Ok(*i as i128),
        PgValue::Bool(b) => Ok(*b as i128),
        PgValue::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.8e19 {
                Ok(*f as i128)
            } else {
                Err(not_whole(format!("{f:?}")))
            }
        }
        PgValue::Numeric(s) => parse_whole(s).ok_or_else(|| not_whole(s.clone())),
        PgValue::Text(b) => {
            let s = String::from_utf8_lossy(b);
            parse_whole(s.trim()).ok_or_else(|| not_whole(format!("\"{s}\"")))
        }
        other => Err(mismatch(other, ch)),
    }
}

/// `-123`, `+7`, `42.000` as an integer (a fraction of zeros only); None
/// for anything else or beyond 39 digits.
fn parse_whole(s: &str) -> Option<i128> {
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) || !frac.bytes().all(|c| c == b'0') {
        return None;
    }
    let v: i128 = int.parse().ok()?;
    Some(if neg { -v } else { v })
}

fn float_value(value: &PgValue, ch: &ChType) -> Result<f64, WriteError> {
    let invalid = |shown: String| {
        err(
            WriteErrorKind::Invalid,
            format!("value {shown} is not a number, as ClickHouse type {} needs", type_label(ch)),
            "Write numbers, NaN or ±Infinity.",
        )
    };
    match value {
        PgValue::Float(f) => Ok(*f),
        PgValue::Int(i) => {
            let f = *i as f64;
            if f as i128 == *i as i128 {
                Ok(f)
            } else {
                Err(err(
                    WriteErrorKind::OutOfRange,
                    format!("integer {i} has no exact value in ClickHouse type {}", type_label(ch)),
                    "Integers beyond ±2^53 lose digits in a Float64: use an integer or Decimal column.",
                ))
            }
        }
        PgValue::Numeric(s) => parse_float(s).ok_or_else(|| invalid(s.clone())),
        PgValue::Text(b) => {
            let s = String::from_utf8_lossy(b);
            parse_float(s.trim()).ok_or_else(|| invalid(format!("\"{s}\"")))
        }
        other => Err(mismatch(other, ch)),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" | "+infinity" | "+inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

/// The shortest text that reads back as `f` (Rust's Debug form: `0.1`,
/// `1e300`, `-0.0`), and ClickHouse's spellings of NaN and infinities.
pub fn float_text(f: f64, single: bool) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f == f64::INFINITY {
        "inf".into()
    } else if f == f64::NEG_INFINITY {
        "-inf".into()
    } else if single {
        format!("{:?}", f as f32)
    } else {
        format!("{f:?}")
    }
}

/// A decimal's text checked against Decimal(precision, scale): at most
/// precision - scale digits before the point, and no non-zero digit after
/// the scale'th (ClickHouse would refuse or truncate them).
pub fn decimal_text(text: &str, precision: u32, scale: u32, ch: &ChType) -> Result<String, WriteError> {
    let bad_form = || {
        err(
            WriteErrorKind::Invalid,
            format!("value \"{text}\" is not a decimal number, as ClickHouse type {} needs", type_label(ch)),
            "ClickHouse decimals hold finite numbers only (no NaN or infinity).",
        )
    };
    let (neg, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
        None => return Err(bad_form()),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(bad_form());
    }
    let int = int.trim_start_matches('0');
    let (kept, dropped) = frac.split_at(frac.len().min(scale as usize));
    if dropped.bytes().any(|c| c != b'0') {
        return Err(err(
            WriteErrorKind::OutOfRange,
            format!("value {text} has more than {scale} decimal places, which ClickHouse type {} cannot hold", type_label(ch)),
            format!("Round the value first: round(x, {scale})."),
        ));
    }
    if int.len() as u32 > precision.saturating_sub(scale) {
        return Err(err(
            WriteErrorKind::OutOfRange,
            format!("value {text} is out of range for ClickHouse type {}", type_label(ch)),
            format!("{} holds at most {} digits before the decimal point.", type_label(ch), precision.saturating_sub(scale)),
        ));
    }
    let zero = int.is_empty() && kept.bytes().all(|c| c == b'0');
    let mut out = String::with_capacity(text.len() + 2);
    if neg && !zero {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if scale > 0 {
        out.push('.');
        out.push_str(kept);
        for _ in kept.len()..scale as usize {
            out.push('0');
        }
    }
    Ok(out)
}

/// `YYYY-MM-DD` as days since 1970.
fn parse_date(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?.trim();
    let mut parts = s.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_uuid_text(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

/// ClickHouse's escaping of a string: as a TSV field (`quoted` false) or
/// inside single quotes (array elements).
pub fn escape_into(bytes: &[u8], out: &mut Vec<u8>, quoted: bool) {
    for &c in bytes {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\'' if quoted => out.extend_from_slice(b"\\'"),
            other => out.push(other),
        }
    }
}

/// Finished batches of one statement, kept in a temporary file that is
/// unlinked as soon as it is created (nothing is left behind, whatever
/// happens to the backend) until the statement ends.
pub struct Spool {
    file: File,
    /// Byte length and row count of each batch, in order.
    batches: Vec<(u64, u64)>,
}

impl Spool {
    pub fn new() -> std::io::Result<Spool> {
        let path = std::env::temp_dir().join(format!("townlake-clickhouse-{}.tsv", uuid::Uuid::new_v4()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(Spool { file, batches: Vec::new() })
    }

    pub fn push(&mut self, data: &[u8], rows: u64) -> std::io::Result<()> {
        self.file.write_all(data)?;
        self.batches.push((data.len() as u64, rows));
        Ok(())
    }

    pub fn batches(&self) -> usize {
        self.batches.len()
    }

    /// Read back every batch in order, handing each to `f` with its row count.
    pub fn drain<E: From<std::io::Error>>(&mut self, mut f: impl FnMut(Vec<u8>, u64) -> Result<(), E>) -> Result<(), E> {
        self.file.seek(SeekFrom::Start(0))?;
        for (len, rows) in std::mem::take(&mut self.batches) {
            let mut data = vec![0u8; len as usize];
            self.file.read_exact(&mut data)?;
            f(data, rows)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: PgValue, ty: &str) -> Result<String, WriteError> {
        let mut out = Vec::new();
        encode_field(&v, &ChType::parse(ty), &mut out).map(|_| String::from_utf8(out).unwrap())
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(enc(PgValue::Int(255), "UInt8").unwrap(), "255");
        assert_eq!(enc(PgValue::Int(256), "UInt8").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(enc(PgValue::Int(-1), "UInt64").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(enc(PgValue::Int(i64::MIN), "Int64").unwrap(), "-9223372036854775808");
        assert_eq!(enc(PgValue::Numeric("18446744073709551615".into()), "UInt64").unwrap(), "18446744073709551615");
        assert!(enc(PgValue::Numeric("18446744073709551616".into()), "UInt64").is_err());
        assert_eq!(enc(PgValue::Numeric("42.000".into()), "Int32").unwrap(), "42");
        assert_eq!(enc(PgValue::Numeric("4.5".into()), "Int32").unwrap_err().kind, WriteErrorKind::Invalid);
        assert_eq!(enc(PgValue::Bool(true), "UInt8").unwrap(), "1");
        assert_eq!(enc(PgValue::Text(b"x".to_vec()), "Int8").unwrap_err().kind, WriteErrorKind::Invalid);
        assert_eq!(enc(PgValue::Int(-128), "Nullable(Int8)").unwrap(), "-128");
        assert_eq!(enc(PgValue::Int(-129), "Int8").unwrap_err().kind, WriteErrorKind::OutOfRange);
    }

    #[test]
    fn nulls() {
        assert_eq!(enc(PgValue::Null, "Nullable(String)").unwrap(), "\\N");
        assert_eq!(enc(PgValue::Null, "LowCardinality(Nullable(String))").unwrap(), "\\N");
        assert_eq!(enc(PgValue::Null, "String").unwrap_err().kind, WriteErrorKind::Null);
        let arr = PgValue::Array(vec![PgValue::Int(1), PgValue::Null]);
        assert_eq!(enc(arr.clone(), "Array(Nullable(Int32))").unwrap(), "[1,NULL]");
        assert_eq!(enc(arr, "Array(Int32)").unwrap_err().kind, WriteErrorKind::Null);
    }

    #[test]
    fn strings_are_escaped() {
        let s = b"tab\there\nnew \\ back 'q' \r\0".to_vec();
        assert_eq!(enc(PgValue::Text(s.clone()), "String").unwrap(), "tab\\there\\nnew \\\\ back 'q' \\r\\0");
        let arr = PgValue::Array(vec![PgValue::Text(s), PgValue::Text(b"".to_vec()), PgValue::Text(b"NULL".to_vec())]);
        assert_eq!(enc(arr, "Array(String)").unwrap(), "['tab\\there\\nnew \\\\ back \\'q\\' \\r\\0','','NULL']");
        assert_eq!(enc(PgValue::Text(b"abcde".to_vec()), "FixedString(4)").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(enc(PgValue::Text(b"abcd".to_vec()), "FixedString(4)").unwrap(), "abcd");
        assert!(enc(PgValue::Text(b"not-a-uuid".to_vec()), "UUID").is_err());
        assert!(enc(PgValue::Text(b"f06661b2-c490-4303-8f70-cde0ac6163ec".to_vec()), "UUID").is_ok());
    }

    #[test]
    fn floats() {
        assert_eq!(enc(PgValue::Float(0.1), "Float64").unwrap(), "0.1");
        assert_eq!(enc(PgValue::Float(-0.0), "Float64").unwrap(), "-0.0");
        assert_eq!(enc(PgValue::Float(f64::NAN), "Float64").unwrap(), "nan");
        assert_eq!(enc(PgValue::Float(f64::NEG_INFINITY), "Float32").unwrap(), "-inf");
        assert_eq!(enc(PgValue::Float(1e300), "Float64").unwrap(), "1e300");
        assert_eq!(enc(PgValue::Float(0.1f32 as f64), "Float32").unwrap(), "0.1");
        assert_eq!(enc(PgValue::Float(0.1), "Float32").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert!(enc(PgValue::Int(i64::MAX), "Float64").is_err());
    }

    #[test]
    fn decimals() {
        let d = |s: &str, ty: &str| enc(PgValue::Numeric(s.into()), ty);
        assert_eq!(d("1.5", "Decimal(12, 2)").unwrap(), "1.50");
        assert_eq!(d("-0.000", "Decimal(12, 2)").unwrap(), "0.00");
        assert_eq!(d("-12.30", "Decimal(12, 2)").unwrap(), "-12.30");
        assert_eq!(d("9999999999.99", "Decimal(12, 2)").unwrap(), "9999999999.99");
        assert_eq!(d("10000000000", "Decimal(12, 2)").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(d("1.255", "Decimal(12, 2)").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(d("NaN", "Decimal(12, 2)").unwrap_err().kind, WriteErrorKind::Invalid);
        assert_eq!(d("7", "Decimal(5, 0)").unwrap(), "7");
        assert_eq!(enc(PgValue::Int(3), "Decimal(18, 3)").unwrap(), "3.000");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(enc(PgValue::Date(Some(0)), "Date").unwrap(), "1970-01-01");
        assert_eq!(enc(PgValue::Date(Some(MAX_DATE_DAYS)), "Date").unwrap(), "2105-12-31");
        assert_eq!(enc(PgValue::Date(Some(MAX_DATE_DAYS + 1)), "Date").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(enc(PgValue::Date(Some(-1)), "Date").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(enc(PgValue::Date(None), "Date").unwrap_err().kind, WriteErrorKind::OutOfRange);
        assert_eq!(enc(PgValue::Text(b"2024-02-29".to_vec()), "Date").unwrap(), "2024-02-29");
        assert!(enc(PgValue::Text(b"2023-02-29".to_vec()), "Date").is_err());
        assert_eq!(enc(PgValue::Timestamp(Some(0)), "DateTime").unwrap(), "0000000000");
        assert_eq!(enc(PgValue::Timestamp(Some(1_717_200_000_000_000)), "DateTime('Asia/Tokyo')").unwrap(), "1717200000");
        assert_eq!(enc(PgValue::Timestamp(Some(MAX_DATETIME_SECONDS * 1_000_000)), "DateTime").unwrap(), "4294967295");
        assert!(enc(PgValue::Timestamp(Some((MAX_DATETIME_SECONDS + 1) * 1_000_000)), "DateTime").is_err());
        assert!(enc(PgValue::Timestamp(Some(-1_000_000)), "DateTime").is_err());
        assert!(enc(PgValue::Timestamp(Some(1_500_000)), "DateTime").is_err());
        assert!(enc(PgValue::Timestamp(None), "DateTime").is_err());
        for d in [0i64, 59, 365, 11_016, 19_875, MAX_DATE_DAYS] {
            let text = super::super::sql::date_text(d as i32);
            assert_eq!(parse_date(text.as_bytes()), Some(d), "{text}");
        }
    }

    #[test]
    fn spool_keeps_batches_in_order() {
        let mut s = Spool::new().unwrap();
        s.push(b"1\n2\n", 2).unwrap();
        s.push(b"3\n", 1).unwrap();
        assert_eq!(s.batches(), 2);
        let mut got = Vec::new();
        s.drain(|d, n| -> Result<(), std::io::Error> {
            got.push((d, n));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, vec![(b"1\n2\n".to_vec(), 2), (b"3\n".to_vec(), 1)]);
        assert_eq!(s.batches(), 0);
    }
}
