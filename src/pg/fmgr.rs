//! Raw SQL functions of the version-1 calling convention, for the few hot
//! functions (the masks) where pgrx's argument conversion costs too much: a
//! body reads its arguments' bytes where they lie and builds its result in
//! one palloc'd datum. `v1_function!` writes the glue (the `pg_finfo_*`
//! record, the guarded entry point, NULL results); the body is a safe
//! `fn(&Call) -> Ret`.
//!
//! The SQL declaration must be STRICT: `Call`'s argument readers assume
//! non-NULL arguments of the declared types.

use pgrx::pg_sys;

/// Declares the V1 function `$name` (with its info function `$finfo`) whose
/// body is the safe `$body: fn(&Call) -> Ret`:
/// `crate::v1_function!(townlake_mask_email, pg_finfo_townlake_mask_email, mask_email);`
#[macro_export]
macro_rules! v1_function {
    ($name:ident, $finfo:ident, $body:path) => {
        #[no_mangle]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            const V1: ::pgrx::pg_sys::Pg_finfo_record = ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        #[no_mangle]
        #[::pgrx::pg_guard]
        pub unsafe extern "C-unwind" fn $name(fcinfo: ::pgrx::pg_sys::FunctionCallInfo) -> ::pgrx::pg_sys::Datum {
            // SAFETY: Postgres' function manager calls this with a valid
            // fcinfo of a STRICT function (see the module's contract).
            unsafe { $crate::pg::fmgr::Call::run(fcinfo, $body) }
        }
    };
}

/// One call of a V1 function: its arguments, and its call site's cache.
pub struct Call {
    fcinfo: pg_sys::FunctionCallInfo,
}

/// What a V1 function returns.
pub struct Ret(Option<pg_sys::Datum>);

impl Call {
    /// Runs `body` for the call `fcinfo` and hands its result to Postgres.
    ///
    /// # Safety
    /// `fcinfo` is the function manager's, for a STRICT function whose
    /// arguments have the types `body` reads them as.
    #[inline(always)]
    pub unsafe fn run(fcinfo: pg_sys::FunctionCallInfo, body: fn(&Call) -> Ret) -> pg_sys::Datum {
        match body(&Call { fcinfo }).0 {
            Some(datum) => datum,
            None => {
                // SAFETY: fcinfo is valid for the call (the caller vouches).
                unsafe { (*fcinfo).isnull = true };
                pg_sys::Datum::from(0usize)
            }
        }
    }

    #[inline(always)]
    fn arg(&self, n: usize) -> pg_sys::Datum {
        // SAFETY: `run`'s contract: a valid fcinfo of a STRICT function, so
        // argument `n` of the declared signature is there and not NULL.
        unsafe {
            debug_assert!(n < (*self.fcinfo).nargs as usize);
            (*(*self.fcinfo).args.as_ptr().add(n)).value
        }
    }

    /// The bytes of varlena argument `n` (text, bytea, inet ...), detoasted
    /// only if stored compressed or out of line; they live for the call.
    #[inline(always)]
    pub fn bytes(&self, n: usize) -> &[u8] {
        // SAFETY: argument `n` is a non-NULL varlena (`run`'s contract); a
        // detoasted copy is palloc'd in the call's memory context, which
        // outlives `&self`.
        unsafe {
            let v = pg_sys::pg_detoast_datum_packed(self.arg(n).cast_mut_ptr::<pg_sys::varlena>());
            std::slice::from_raw_parts(pgrx::varlena::vardata_any(v) as *const u8, pgrx::varlena::varsize_any_exhdr(v))
        }
    }

    /// Integer argument `n` (int4, and date: days since 2000-01-01).
    #[inline(always)]
    pub fn i32(&self, n: usize) -> i32 {
        self.arg(n).value() as i32
    }

    /// The base type (domains resolved) argument `n` has at this call site:
    /// for polymorphic (`anyelement`) arguments.
    pub fn arg_base_type(&self, n: usize) -> pg_sys::Oid {
        // SAFETY: flinfo is valid for the call; both lookups only read the
        // call expression and the syscache.
        unsafe { pg_sys::getBaseType(pg_sys::get_fn_expr_argtype((*self.fcinfo).flinfo, n as i32)) }
    }

    /// A value derived from `key` kept for this call site (`fn_extra`, in
    /// the function's memory context) and made again by `make` only when
    /// the key differs from the last call's. `T` has no destructor: the
    /// memory context is reset without running any.
    pub fn per_call_site<T: Clone>(&self, key: &[u8], make: impl FnOnce() -> T) -> &T {
        const {
            assert!(!std::mem::needs_drop::<T>());
            assert!(std::mem::align_of::<T>() <= pg_sys::MAXIMUM_ALIGNOF as usize);
        }
        #[repr(C)]
        struct Cached<T> {
            key: *mut u8,
            key_len: usize,
            value: T,
        }
        // SAFETY: fn_extra is NULL or what an earlier call of this very
        // function at this call site stored (a `Cached<T>` of the same T:
        // one body per symbol); fn_mcxt lives as long as the call site, and
        // MemoryContextAlloc's MAXALIGN suits T (asserted above).
        unsafe {
            let flinfo = (*self.fcinfo).flinfo;
            let mut cached = (*flinfo).fn_extra as *mut Cached<T>;
            if cached.is_null() || std::slice::from_raw_parts((*cached).key, (*cached).key_len) != key {
                let value = make();
                let copy = pg_sys::MemoryContextAlloc((*flinfo).fn_mcxt, key.len().max(1)) as *mut u8;
                std::ptr::copy_nonoverlapping(key.as_ptr(), copy, key.len());
                cached = pg_sys::MemoryContextAlloc((*flinfo).fn_mcxt, std::mem::size_of::<Cached<T>>()) as *mut Cached<T>;
                std::ptr::write(cached, Cached { key: copy, key_len: key.len(), value });
                (*flinfo).fn_extra = cached as *mut std::ffi::c_void;
            }
            &(*cached).value
        }
    }
}

impl Ret {
    /// SQL NULL.
    pub fn null() -> Ret {
        Ret(None)
    }

    /// A new varlena (text, inet ...) holding `parts` one after the other.
    #[inline(always)]
    pub fn varlena(parts: &[&[u8]]) -> Ret {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        // SAFETY: a fresh palloc of the header plus `len` bytes, all of
        // which are written before the datum is returned.
        unsafe {
            let out = pg_sys::palloc(len + pg_sys::VARHDRSZ) as *mut pg_sys::varlena;
            pgrx::varlena::set_varsize_4b(out, (len + pg_sys::VARHDRSZ) as i32);
            let mut at = (out as *mut u8).add(pg_sys::VARHDRSZ);
            for p in parts {
                std::ptr::copy_nonoverlapping(p.as_ptr(), at, p.len());
                at = at.add(p.len());
            }
            Ret(Some(pg_sys::Datum::from(out)))
        }
    }

    /// A new `name` holding `bytes` (cut to NAMEDATALEN - 1), zero-padded.
    pub fn name(bytes: &[u8]) -> Ret {
        let len = bytes.len().min(pg_sys::NAMEDATALEN as usize - 1);
        // SAFETY: a fresh zeroed palloc of NAMEDATALEN bytes; at most
        // NAMEDATALEN - 1 are written, so it stays NUL-terminated.
        unsafe {
            let name = pg_sys::palloc0(pg_sys::NAMEDATALEN as usize) as *mut u8;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), name, len);
            Ret(Some(pg_sys::Datum::from(name)))
        }
    }

    /// An int4 or date (days since 2000-01-01).
    #[inline(always)]
    pub fn i32(value: i32) -> Ret {
        Ret(Some(pg_sys::Datum::from(value)))
    }
}

/// Length in bytes of the character `bytes` starts with, in the database's
/// encoding (at least 1; 1 for no bytes).
#[inline(always)]
pub fn char_len(bytes: &[u8]) -> usize {
    if bytes.is_empty() {
        return 1;
    }
    // SAFETY: pg_mblen reads the lead byte of a non-empty slice.
    (unsafe { pg_sys::pg_mblen(bytes.as_ptr() as *const std::ffi::c_char) }).max(1) as usize
}

/// Whether the database's encoding is UTF-8.
#[inline(always)]
pub fn database_is_utf8() -> bool {
    // SAFETY: plain read of backend state.
    unsafe { pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 }
}
