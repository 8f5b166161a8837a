//! Passing state from the planner to the executor, and owning Rust state in
//! executor memory.

use std::ffi::{c_void, CStr, CString};

use pgrx::pg_sys;
use serde::{de::DeserializeOwned, Serialize};

use crate::errors::{LakeError, LakeResult};

/// Encode plan state as a one-element List holding a String node, which
/// survives copyObject and plan caching.
pub fn to_private<T: Serialize>(value: &T) -> LakeResult<*mut pg_sys::List> {
    let json = serde_json::to_string(value)
        .map_err(|e| LakeError::internal(format!("cannot encode plan state: {e}")))?;
    let c = CString::new(json).map_err(|_| LakeError::internal("plan state contains NUL"))?;
    // SAFETY: pstrdup copies into the current (planner) memory context.
    unsafe {
        let node = pg_sys::makeString(pg_sys::pstrdup(c.as_ptr()));
        Ok(pg_sys::lappend(std::ptr::null_mut(), node.cast()))
    }
}

/// Decode what `to_private` stored.
///
/// # Safety
/// `list` must be a List made by `to_private`.
pub unsafe fn from_private<T: DeserializeOwned>(list: *mut pg_sys::List) -> LakeResult<T> {
    // SAFETY: a List made by to_private holds one String node.
    let text = unsafe {
        let Some(node) = crate::pg::nodes::ptrs::<pg_sys::String>(list).first().copied() else {
            return Err(LakeError::internal("foreign scan has no plan state"));
        };
        CStr::from_ptr((*node).sval).to_string_lossy()
    };
    serde_json::from_str(&text).map_err(|e| LakeError::internal(format!("cannot decode plan state: {e}")))
}

/// Move `value` into memory owned by `context`: it is dropped when the
/// context is reset or deleted, including when the query fails.
///
/// # Safety
/// `context` must be a valid memory context that outlives every use of the
/// returned pointer.
pub unsafe fn attach_to_context<T>(context: pg_sys::MemoryContext, value: T) -> *mut T {
    unsafe extern "C-unwind" fn drop_box<T>(arg: *mut c_void) {
        drop(Box::from_raw(arg as *mut T));
    }
    let raw = Box::into_raw(Box::new(value));
    let cb = pg_sys::MemoryContextAlloc(context, std::mem::size_of::<pg_sys::MemoryContextCallback>())
        as *mut pg_sys::MemoryContextCallback;
    (*cb).func = Some(drop_box::<T>);
    (*cb).arg = raw as *mut c_void;
    pg_sys::MemoryContextRegisterResetCallback(context, cb);
    raw
}
