//! One audit record as it travels through the queue: the backend encodes what
//! is known when the statement starts as JSON once (into its slot); how it
//! ended travels as a few numbers in the slot header (`Completion`), and the
//! writer appends them to the JSON for `lake._audit_append_batch`, which
//! stores the record and chains its hash.

use std::cell::Cell;
use std::ffi::CStr;

use pgrx::pg_sys;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Touched;

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Record {
    pub id: String,
    pub kind: String,
    pub role: String,
    pub session_user: String,
    pub pid: i32,
    pub session: String,
    /// Postgres timestamp (µs since 2000-01-01) of the statement start.
    pub started_us: i64,
    pub query: String,
    pub relations: Vec<String>,
    pub columns: Vec<String>,
    pub level: i32,
    pub truncated: bool,
    pub detail: Value,
    /// Values bound to the statement's parameters (EXECUTE, extended
    /// protocol), as text; masked when they may feed a masked PII column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Vec<Option<String>>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub params_masked: bool,
}

/// How a statement ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Outcome {
    Running = 0,
    Ok = 1,
    Error = 2,
    Terminated = 3,
    /// Refused before it ran (a side channel out of a PII session).
    Denied = 4,
    /// Still running when its record was written (a long-open cursor): a
    /// `statement_end` record carries how it ended.
    Open = 5,
}

impl Outcome {
    pub fn from_u32(v: u32) -> Outcome {
        match v {
            1 => Outcome::Ok,
            2 => Outcome::Error,
            3 => Outcome::Terminated,
            4 => Outcome::Denied,
            5 => Outcome::Open,
            _ => Outcome::Running,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "unknown",
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Terminated => "terminated",
            Outcome::Denied => "denied",
            Outcome::Open => "open",
        }
    }
}

/// What is known only when the statement ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub outcome: Outcome,
    pub rows: Option<i64>,
    pub duration_us: Option<i64>,
    pub pii: bool,
}

impl Completion {
    pub fn running() -> Completion {
        Completion { outcome: Outcome::Running, rows: None, duration_us: None, pii: false }
    }
}

/// Appends to `out` the record `payload` (the backend's JSON object) with its
/// completion and the time it is logged (`logged_us`, Postgres µs). False
/// (nothing appended) if `payload` is not a JSON object in UTF-8.
pub fn finished_json(payload: &[u8], c: &Completion, logged_us: i64, out: &mut Vec<u8>) -> bool {
    let Ok(text) = std::str::from_utf8(payload) else { return false };
    let text = text.trim_end();
    if !text.starts_with('{') || !text.ends_with('}') || text.len() < 2 {
        return false;
    }
    let body = &text[..text.len() - 1];
    out.extend_from_slice(body.as_bytes());
    if body.trim_end().len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(b"\"outcome\":\"");
    out.extend_from_slice(c.outcome.as_str().as_bytes());
    out.extend_from_slice(if c.pii { b"\",\"pii\":true" } else { b"\",\"pii\":false" });
    if let Some(r) = c.rows {
        out.extend_from_slice(b",\"rows\":");
        push_int(out, r);
    }
    if let Some(d) = c.duration_us {
        out.extend_from_slice(b",\"duration_us\":");
        push_int(out, d);
    }
    out.extend_from_slice(b",\"logged_us\":");
    push_int(out, logged_us);
    out.push(b'}');
    true
}

/// Decimal text of `v` (as `format!("{v}")`, without the formatting machinery).
pub fn push_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(int_text(v, &mut [0u8; 20]).as_bytes());
}

/// Decimal text of `v` in `digits`.
fn int_text(v: i64, digits: &mut [u8; 20]) -> &str {
    let mut at = digits.len();
    let mut m = v.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if v < 0 {
        // 19 digits at most: room for the sign
        at -= 1;
        digits[at] = b'-';
    }
    std::str::from_utf8(&digits[at..]).unwrap_or_default()
}

/// The record id at the start of a record's JSON (`{"id":"…"`, as
/// `Record` serializes it: id first).
pub fn record_id(payload: &[u8]) -> Option<uuid::Uuid> {
    let rest = payload.strip_prefix(b"{\"id\":\"")?;
    let id = std::str::from_utf8(rest.get(..36)?).ok()?;
    uuid::Uuid::parse_str(id).ok()
}

thread_local! {
    /// Per-backend generator state for record ids (seeded once from the OS).
    static ID_STATE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A UUID version 7 (RFC 9562): `unix_ms` in the first 48 bits, then 74 bits
/// of `rand`. Time-ordered ids keep the log's unique index appending at its
/// right edge.
pub fn uuid_v7(unix_ms: u64, rand: u128) -> uuid::Uuid {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    let r = rand.to_be_bytes();
    b[6..].copy_from_slice(&r[6..]);
    b[6] = 0x70 | (b[6] & 0x0F);
    b[8] = 0x80 | (b[8] & 0x3F);
    uuid::Uuid::from_bytes(b)
}

/// A fresh record id: a random seed per backend (one read of the OS's
/// randomness) and a counter, mixed, so ids never repeat within a backend and
/// collide across backends only with negligible probability.
pub fn next_id(pg_time_us: i64) -> String {
    next_record_id(pg_time_us).as_str().to_string()
}

/// A record id's canonical text, kept inline (one per audited statement:
/// no allocation).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RecordId([u8; 36]);

impl RecordId {
    pub fn as_str(&self) -> &str {
        // only ASCII hex digits and hyphens are ever stored (`hyphenated_id`)
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `next_id`, inline.
pub fn next_record_id(pg_time_us: i64) -> RecordId {
    let (seed, n) = ID_STATE.with(|s| {
        let (mut seed, n) = s.get();
        if seed == 0 {
            seed = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        }
        s.set((seed, n + 1));
        (seed, n)
    });
    let hi = splitmix64(seed ^ n);
    let lo = splitmix64(hi ^ seed.rotate_left(17) ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
    // Postgres epoch (2000-01-01) to Unix epoch
    let unix_ms = crate::pg::time::pg_micros_to_unix_millis_trunc(pg_time_us).max(0) as u64;
    hyphenated_id(&uuid_v7(unix_ms, ((hi as u128) << 64) | lo as u128))
}

/// A UUID's canonical text (lowercase, hyphenated), as `Uuid::to_string`
/// writes it without the formatting machinery: one per audited statement.
pub fn hyphenated(u: &uuid::Uuid) -> String {
    hyphenated_id(u).as_str().to_string()
}

/// `hyphenated`, inline.
pub fn hyphenated_id(u: &uuid::Uuid) -> RecordId {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 36];
    let mut at = 0;
    for (i, b) in u.as_bytes().iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[at] = b'-';
            at += 1;
        }
        out[at] = DIGITS[(b >> 4) as usize];
        out[at + 1] = DIGITS[(b & 15) as usize];
        at += 2;
    }
    RecordId(out)
}

fn role_name(oid: pg_sys::Oid) -> String {
    crate::pg::catalog::role_name(oid).unwrap_or_else(|| oid.to_u32().to_string())
}

fn attname(rel: pg_sys::Oid, attnum: i16) -> Option<String> {
    crate::pg::catalog::attribute_name(rel, attnum)
}

impl Record {
    fn base(kind: &str, started_us: i64) -> Record {
        // SAFETY: plain reads of backend state.
        let (user, session_user, pid, start) = unsafe {
            (pg_sys::GetUserId(), pg_sys::GetSessionUserId(), pg_sys::MyProcPid, pg_sys::MyStartTime)
        };
        Record {
            id: next_id(started_us),
            kind: kind.to_string(),
            started_us,
            role: role_name(user),
            session_user: role_name(session_user),
            pid,
            // the same session id as log_line_prefix's %c
            session: format!("{start:x}.{pid:x}"),
            detail: Value::Object(Default::default()),
            ..Record::default()
        }
    }

    pub fn for_statement(query: String, touched: &[Touched], level: i32, started_us: i64) -> Record {
        let mut r = Record::base("statement", started_us);
        r.query = query;
        r.level = level;
        for t in touched {
            r.relations.push(t.raw_name.clone());
            if t.attnums.contains(&0) {
                r.columns.push(format!("{}.*", t.raw_name));
            }
            for &a in t.attnums.iter().filter(|&&a| a > 0) {
                if let Some(name) = attname(t.relid, a) {
                    r.columns.push(format!("{}.{}", t.raw_name, name));
                }
            }
        }
        r
    }

    pub fn for_event(kind: &str, detail: Value, started_us: i64) -> Record {
        let mut r = Record::base(kind, started_us);
        // SAFETY: debug_query_string is the current client statement or NULL.
        r.query = unsafe {
            let q = pg_sys::debug_query_string;
            if q.is_null() {
                String::new()
            } else {
                CStr::from_ptr(q).to_string_lossy().into_owned()
            }
        };
        r.detail = detail;
        r
    }

    /// JSON of at most `limit` bytes. Records normally fit whole (a long
    /// record spans several queue slots); beyond `limit` the statement text
    /// is cut first, then parameter values, then the column and relation
    /// lists, and the record says what was cut and how much
    /// (`truncated`, `detail.query_bytes`, `detail.params_truncated`,
    /// `detail.columns_omitted`, `detail.relations_omitted`): never silently.
    pub fn encode(&self, limit: usize) -> Vec<u8> {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        if bytes.len() <= limit {
            return bytes;
        }
        let size = |r: &Record| serde_json::to_vec(r).map_or(usize::MAX, |b| b.len());
        let mut r = self.clone();
        if !r.detail.is_object() {
            r.detail = Value::Object(Default::default());
        }
        // Parameters give way before the statement's text: a client could
        // otherwise bind enough (or large enough) values to push the text
        // out of its own record.
        if let Some(params) = r.params.as_mut() {
            r.detail["params_truncated"] = Value::Bool(true);
            for v in params.iter_mut().flatten() {
                if v.len() > 64 {
                    let mut cut = 64;
                    while !v.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    v.truncate(cut);
                }
            }
            if size(&r) > limit {
                if let Some(params) = r.params.take() {
                    r.detail["params_omitted"] = Value::from(params.len());
                }
            }
        }
        if !r.query.is_empty() && size(&r) > limit {
            r.truncated = true;
            r.detail["query_bytes"] = Value::from(r.query.len());
            // escaping makes JSON longer than the text: cut until it fits
            while !r.query.is_empty() && size(&r) > limit {
                let excess = size(&r) - limit + 64;
                let mut cut = r.query.len().saturating_sub(excess);
                while cut > 0 && !r.query.is_char_boundary(cut) {
                    cut -= 1;
                }
                r.query.truncate(cut);
            }
        }
        for (list, key) in [(0, "columns_omitted"), (1, "relations_omitted")] {
            if size(&r) <= limit {
                break;
            }
            let total = if list == 0 { r.columns.len() } else { r.relations.len() };
            let with = |k: usize| {
                let mut t = r.clone();
                if list == 0 {
                    t.columns.truncate(k);
                } else {
                    t.relations.truncate(k);
                }
                t.detail[key] = Value::from(total - k);
                t
            };
            // the longest prefix that fits
            let (mut lo, mut hi) = (0, total);
            while lo < hi {
                let mid = (lo + hi).div_ceil(2);
                if size(&with(mid)) <= limit {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            let kept = with(lo);
            r = kept;
        }
        serde_json::to_vec(&r).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Record> {
        serde_json::from_slice(bytes).ok()
    }
}

/// A statement's record with the parts that change per execution (id, start
/// time, parameters) left out: a prepared statement run again by the same
/// role encodes its record by concatenation, with no catalog lookups and no
/// JSON serialization of its text and column list.
pub struct Template {
    /// From after the id to `"started_us":`.
    head: String,
    /// From `,"query":` to the end of the record (closing brace excluded).
    tail: String,
    pub query: std::rc::Rc<str>,
}

impl Template {
    /// None for records that cannot be split (never for `for_statement`'s).
    pub fn new(r: &Record) -> Option<Template> {
        let mut bare = r.clone();
        bare.id.clear();
        bare.started_us = 0;
        bare.params = None;
        bare.params_masked = false;
        let json = serde_json::to_string(&bare).ok()?;
        let rest = json.strip_prefix("{\"id\":\"\"")?;
        // a quote inside a JSON string is escaped, so the first unescaped
        // `"started_us":0,` is the field itself
        const STARTED: &str = "\"started_us\":";
        let at = rest.find("\"started_us\":0,")?;
        let tail = rest[at + STARTED.len() + 1..].strip_suffix('}')?;
        Some(Template {
            head: format!("\"{}", &rest[..at + STARTED.len()]),
            tail: tail.to_string(),
            query: std::rc::Rc::from(r.query.as_str()),
        })
    }

    /// The record's JSON, as `Record::encode` would write it unabridged.
    pub fn encode(&self, id: &str, started_us: i64, params: Option<&[Option<String>]>, masked: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out, id, started_us, params, masked);
        out
    }

    /// `encode` into `buf` (emptied first): a backend reuses one buffer for
    /// every record it queues.
    pub fn encode_into(&self, buf: &mut Vec<u8>, id: &str, started_us: i64, params: Option<&[Option<String>]>, masked: bool) {
        buf.clear();
        // an empty Vec is empty UTF-8; it is given back below whatever happens
        let mut out = String::from_utf8(std::mem::take(buf)).unwrap_or_default();
        out.reserve(self.head.len() + self.tail.len() + 96);
        out.push_str("{\"id\":\"");
        out.push_str(id);
        out.push_str(&self.head);
        out.push_str(int_text(started_us, &mut [0u8; 20]));
        out.push_str(&self.tail);
        if let Some(p) = params {
            out.push_str(",\"params\":");
            let at = out.len();
            // SAFETY: serde_json writes UTF-8 (the strings it is given, escaped);
            // on an error (none for strings) what it wrote is cut off again.
            if serde_json::to_writer(unsafe { out.as_mut_vec() }, p).is_err() {
                out.truncate(at);
                out.push_str("[]");
            }
            if masked {
                out.push_str(",\"params_masked\":true");
            }
        }
        out.push('}');
        *buf = out.into_bytes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_is_appended_to_the_record() {
        let r = Record { id: "x".into(), query: "select \"}\"".into(), ..Record::default() };
        let mut out = Vec::new();
        let c = Completion { outcome: Outcome::Ok, rows: Some(3), duration_us: Some(12), pii: true };
        assert!(finished_json(&r.encode(8000), &c, 77, &mut out));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!((v["outcome"].as_str(), v["rows"].as_i64(), v["duration_us"].as_i64()), (Some("ok"), Some(3), Some(12)));
        assert_eq!((v["pii"].as_bool(), v["query"].as_str()), (Some(true), Some("select \"}\"")));
        assert_eq!(v["logged_us"].as_i64(), Some(77));
        // the same text as before the writer built it without `write!`
        assert!(out.ends_with(b"\"outcome\":\"ok\",\"pii\":true,\"rows\":3,\"duration_us\":12,\"logged_us\":77}"));
        out.clear();
        assert!(finished_json(b"{}", &Completion::running(), 5, &mut out));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!((v["outcome"].as_str(), v["logged_us"].as_i64()), (Some("unknown"), Some(5)));
        assert!(v.get("rows").is_none() && v.get("duration_us").is_none());
        out.clear();
        assert!(!finished_json(b"[1]", &c, 1, &mut out));
        assert!(!finished_json(b"{\"a\":", &c, 1, &mut out));
        assert!(!finished_json(b"{\"a\":\"\xff\"}", &c, 1, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn integers_print_as_format_does() {
        for v in [0, 7, -7, 10, 99, 100, 123_456_789, i64::MAX, i64::MIN, -1_000_000] {
            let mut out = Vec::new();
            push_int(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

    #[test]
    fn the_record_id_is_read_from_the_start_of_the_json() {
        let r = Record { id: next_id(1), ..Record::default() };
        assert_eq!(record_id(&r.encode(8000)).map(|u| u.to_string()), Some(r.id.clone()));
        assert_eq!(record_id(b"{\"kind\":\"x\"}"), None);
        assert_eq!(record_id(b"{\"id\":\"nope\"}"), None);
    }

    #[test]
    fn inline_record_ids_are_the_canonical_text() {
        let a = next_record_id(800_000_000_000_000);
        let u = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(u.to_string(), a.as_str());
        assert_eq!(format!("{a}"), a.as_str());
        assert_ne!(next_record_id(800_000_000_000_000).as_str(), a.as_str());
    }

    #[test]
    fn encoding_into_a_used_buffer_replaces_its_contents() {
        let r = Record { id: next_id(9), kind: "statement".into(), query: "select 1".into(), ..Record::default() };
        let t = Template::new(&r).unwrap();
        let mut buf = b"left over from a longer record, which must not survive".to_vec();
        t.encode_into(&mut buf, &r.id, 0, None, false);
        assert_eq!(buf, r.encode(1 << 20));
        t.encode_into(&mut buf, &r.id, 0, Some(&[Some("1".into())]), false);
        assert_eq!(Record::decode(&buf).unwrap().params, Some(vec![Some("1".into())]));
    }

    #[test]
    fn hyphenated_text_is_the_canonical_uuid_text() {
        for n in 0..200u64 {
            let u = uuid_v7(n * 7919, (n as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834));
            assert_eq!(hyphenated(&u), u.to_string());
        }
        let max = uuid::Uuid::from_u128(u128::MAX);
        assert_eq!(hyphenated(&max), max.to_string());
    }

    #[test]
    fn record_ids_are_time_ordered_uuid_v7_and_distinct() {
        let a = uuid::Uuid::parse_str(&next_id(800_000_000_000_000)).unwrap();
        let b = uuid::Uuid::parse_str(&next_id(800_000_000_000_000)).unwrap();
        let c = uuid::Uuid::parse_str(&next_id(800_000_000_001_000)).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(a.as_bytes()[..6], b.as_bytes()[..6]);
        assert!(c > a && c > b);
        let ms = u64::from_be_bytes([0, 0, a.as_bytes()[0], a.as_bytes()[1], a.as_bytes()[2], a.as_bytes()[3],
                                      a.as_bytes()[4], a.as_bytes()[5]]);
        assert_eq!(ms, 800_000_000_000 + 946_684_800_000);
    }

    #[test]
    fn long_statements_are_cut_to_fit_and_say_so() {
        let r = Record { query: "x".repeat(20_000), columns: vec!["a.b".into(); 10], ..Record::default() };
        assert!(!Record::decode(&r.encode(30_000)).unwrap().truncated);
        let bytes = r.encode(8000);
        assert!(bytes.len() <= 8000);
        let back = Record::decode(&bytes).unwrap();
        assert!(back.truncated);
        assert_eq!(back.detail["query_bytes"], 20_000);
        assert_eq!(back.columns.len(), 10);
        assert!(back.query.len() > 7000);
    }

    #[test]
    fn parameters_give_way_before_the_text() {
        // red team: unused bound parameters pushed the statement's text out
        let text = "SELECT email, ssn, card FROM sales.customers WHERE id < $1";
        let many = Record { query: text.into(), params: Some(vec![Some("1".into()); 40_000]), ..Record::default() };
        let back = Record::decode(&many.encode(8000)).unwrap();
        assert_eq!((back.query.as_str(), back.truncated), (text, false));
        assert_eq!(back.detail["params_omitted"], 40_000);
        let large = Record { query: text.into(), params: Some(vec![Some("x".repeat(300_000))]), ..Record::default() };
        let back = Record::decode(&large.encode(8000)).unwrap();
        assert_eq!((back.query.as_str(), back.truncated), (text, false));
        assert_eq!(back.params.unwrap()[0].as_deref(), Some("x".repeat(64).as_str()));
    }

    #[test]
    fn escaped_text_is_cut_until_it_fits() {
        let r = Record { query: "\"\n".repeat(10_000), ..Record::default() };
        let bytes = r.encode(4000);
        assert!(bytes.len() <= 4000);
        assert!(Record::decode(&bytes).unwrap().truncated);
    }

    #[test]
    fn multibyte_text_is_cut_on_a_char_boundary() {
        let r = Record { query: "é".repeat(10_000), ..Record::default() };
        let back = Record::decode(&r.encode(4000)).unwrap();
        assert!(back.query.chars().all(|c| c == 'é'));
    }

    #[test]
    fn lists_are_cut_last_and_the_cut_is_counted() {
        let r = Record {
            query: "select".into(),
            relations: (0..300).map(|i| format!("s.t{i}")).collect(),
            columns: (0..500).map(|i| format!("s.t.column_{i:04}")).collect(),
            params: Some(vec![Some("v".repeat(1000)), None]),
            ..Record::default()
        };
        let back = Record::decode(&r.encode(6000)).unwrap();
        assert!(r.encode(6000).len() <= 6000);
        let omitted = back.detail["columns_omitted"].as_u64().unwrap() as usize;
        assert_eq!(back.columns.len() + omitted, 500);
        assert!(omitted > 0);
        assert_eq!(back.columns[..], r.columns[..back.columns.len()]);
        assert_eq!(back.relations.len() + back.detail["relations_omitted"].as_u64().unwrap_or(0) as usize, 300);
        assert_eq!(back.detail["params_truncated"], true);
    }

    #[test]
    fn parameters_are_kept_when_they_fit() {
        let r = Record { params: Some(vec![Some("7".into()), None]), params_masked: true, ..Record::default() };
        let back = Record::decode(&r.encode(8000)).unwrap();
        assert_eq!(back.params, Some(vec![Some("7".into()), None]));
        assert!(back.params_masked);
        let plain = Record::default().encode(8000);
        assert!(!String::from_utf8(plain).unwrap().contains("params"));
    }

    #[test]
    fn a_template_encodes_exactly_what_the_record_would() {
        let mut r = Record {
            id: next_id(5),
            kind: "statement".into(),
            role: "ro\"le \"started_us\":0,".into(),
            query: "select $1 /* \"started_us\":0, } */".into(),
            relations: vec!["s.t".into()],
            columns: vec!["s.t.a".into()],
            started_us: 123_456,
            level: 2,
            detail: Value::Object(Default::default()),
            ..Record::default()
        };
        let t = Template::new(&r).unwrap();
        assert_eq!(t.encode(&r.id, r.started_us, None, false), r.encode(1 << 20));
        r.params = Some(vec![Some("a\"b".into()), None]);
        r.params_masked = true;
        let got = t.encode(&r.id, r.started_us, r.params.as_deref(), true);
        assert_eq!(got, r.encode(1 << 20));
        assert_eq!(Record::decode(&got).unwrap().role, r.role);
    }
}
