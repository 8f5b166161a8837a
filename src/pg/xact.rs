//! The one transaction and subtransaction callback registry: Postgres calls
//! `on_xact` / `on_subxact` here, and they call each part's callbacks in
//! registration order. Parts register from `_PG_init`.

use pgrx::pg_sys;

pub use pg_sys::SubTransactionId;
pub use pg_sys::SubXactEvent::Type as SubXactEvent;
pub use pg_sys::XactEvent::Type as XactEvent;

/// A part's transaction-end callback (Postgres' event passed on).
pub type XactCallback = fn(XactEvent);
/// A part's subtransaction callback: event, the subtransaction, its parent.
pub type SubXactCallback = fn(SubXactEvent, SubTransactionId, SubTransactionId);

// Written only from _PG_init (one thread, before any statement), read after.
static mut XACT: &[XactCallback] = &[];
static mut SUBXACT: &[SubXactCallback] = &[];

/// Adds a part's callbacks. The first call registers the dispatchers with
/// Postgres.
pub fn register(xact: Option<XactCallback>, subxact: Option<SubXactCallback>) {
    // SAFETY: only _PG_init calls this, on the process' one thread before
    // any transaction; replaced slices are leaked (a few words).
    unsafe {
        let (xacts, subxacts): (&[XactCallback], &[SubXactCallback]) = (*(&raw const XACT), *(&raw const SUBXACT));
        if xacts.is_empty() && subxacts.is_empty() {
            pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
        }
        if let Some(f) = xact {
            XACT = Box::leak([xacts, &[f]].concat().into_boxed_slice());
        }
        if let Some(f) = subxact {
            SUBXACT = Box::leak([subxacts, &[f]].concat().into_boxed_slice());
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_xact(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    for f in *(&raw const XACT) {
        f(event);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    parent_subid: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    for f in *(&raw const SUBXACT) {
        f(event, my_subid, parent_subid);
    }
}

/// Whether the current transaction is read-only (`transaction_read_only`).
pub fn is_read_only() -> bool {
    // SAFETY: plain read of a backend global.
    unsafe { pg_sys::XactReadOnly }
}
