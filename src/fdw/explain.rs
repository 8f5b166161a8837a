//! EXPLAIN output of foreign scans: labelled properties in whatever format
//! EXPLAIN was asked for.

use std::ffi::CString;

use pgrx::pg_sys;

/// One foreign scan's EXPLAIN, as the wrapper sees it.
pub struct Explain {
    es: *mut pg_sys::ExplainState,
}

impl Explain {
    /// # Safety
    /// `es` is the ExplainState Postgres passed to the callback.
    pub unsafe fn new(es: *mut pg_sys::ExplainState) -> Explain {
        Explain { es }
    }

    pub fn verbose(&self) -> bool {
        // SAFETY: es is valid for the callback (see new).
        unsafe { (*self.es).verbose }
    }

    pub fn analyze(&self) -> bool {
        // SAFETY: as above.
        unsafe { (*self.es).analyze }
    }

    pub fn text(&mut self, label: &str, value: &str) {
        let l = CString::new(label).unwrap_or_default();
        let v = CString::new(value.replace('\0', "")).unwrap_or_default();
        // SAFETY: ExplainPropertyText copies both strings.
        unsafe { pg_sys::ExplainPropertyText(l.as_ptr(), v.as_ptr(), self.es) }
    }

    pub fn integer(&mut self, label: &str, value: i64) {
        let l = CString::new(label).unwrap_or_default();
        // SAFETY: ExplainPropertyInteger copies the label.
        unsafe { pg_sys::ExplainPropertyInteger(l.as_ptr(), std::ptr::null(), value, self.es) }
    }
}
