//! One audit record as it travels through the queue (JSON in a slot) to
//! `lake._audit_append_batch`, which stores it and chains its hash.

use std::ffi::CStr;

use pgrx::pg_sys;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::governance::hooks::Touched;

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
    pub pii: bool,
    pub rows: i64,
    pub duration_us: i64,
    pub outcome: String,
    pub level: i32,
    pub truncated: bool,
    pub detail: Value,
}

fn role_name(oid: pg_sys::Oid) -> String {
    // SAFETY: syscache lookup; noerr returns NULL for a vanished role.
    unsafe {
        let p = pg_sys::GetUserNameFromId(oid, true);
        if p.is_null() {
            oid.to_u32().to_string()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

fn attname(rel: pg_sys::Oid, attnum: i16) -> Option<String> {
    // SAFETY: syscache lookup with missing_ok.
    unsafe {
        let p = pg_sys::get_attname(rel, attnum, true);
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

impl Record {
    fn base(kind: &str) -> Record {
        // SAFETY: plain reads of backend state.
        let (user, session_user, pid, start) = unsafe {
            (pg_sys::GetUserId(), pg_sys::GetSessionUserId(), pg_sys::MyProcPid, pg_sys::MyStartTime)
        };
        Record {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.to_string(),
            role: role_name(user),
            session_user: role_name(session_user),
            pid,
            // the same session id as log_line_prefix's %c
            session: format!("{start:x}.{pid:x}"),
            outcome: "running".to_string(),
            detail: Value::Object(Default::default()),
            ..Record::default()
        }
    }

    pub fn for_statement(query: String, touched: &[Touched], level: i32) -> Record {
        let mut r = Record::base("statement");
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

    pub fn for_event(kind: &str, detail: Value) -> Record {
        let mut r = Record::base(kind);
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
        r.outcome = "ok".to_string();
        r
    }

    /// JSON of at most `limit` bytes: long statement text is cut first, then
    /// the column list.
    pub fn encode(&self, limit: usize) -> Vec<u8> {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        if bytes.len() <= limit {
            return bytes;
        }
        let mut r = self.clone();
        r.truncated = true;
        let excess = bytes.len() - limit + 64;
        let keep = r.query.len().saturating_sub(excess);
        let mut cut = keep;
        while cut > 0 && !r.query.is_char_boundary(cut) {
            cut -= 1;
        }
        r.query.truncate(cut);
        let bytes = serde_json::to_vec(&r).unwrap_or_default();
        if bytes.len() <= limit {
            return bytes;
        }
        r.detail = serde_json::json!({ "columns_dropped": r.columns.len() });
        r.columns.clear();
        r.relations.truncate(32);
        serde_json::to_vec(&r).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<Record> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_statements_are_cut_to_fit() {
        let r = Record { query: "x".repeat(20_000), columns: vec!["a.b".into(); 10], ..Record::default() };
        let bytes = r.encode(8000);
        assert!(bytes.len() <= 8000);
        let back = Record::decode(&bytes).unwrap();
        assert!(back.truncated);
        assert_eq!(back.columns.len(), 10);
        assert!(back.query.len() > 7000);
    }

    #[test]
    fn multibyte_text_is_cut_on_a_char_boundary() {
        let r = Record { query: "é".repeat(10_000), ..Record::default() };
        let back = Record::decode(&r.encode(4000)).unwrap();
        assert!(back.query.chars().all(|c| c == 'é'));
    }

    #[test]
    fn huge_column_lists_are_dropped() {
        let r = Record { columns: vec!["s.t.c".repeat(20); 500], ..Record::default() };
        let back = Record::decode(&r.encode(8000)).unwrap();
        assert!(back.columns.is_empty());
        assert_eq!(back.detail["columns_dropped"], 500);
    }
}
