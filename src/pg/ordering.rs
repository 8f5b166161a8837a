//! The largest of a stream of values by their type's default btree order
//! (the value `max()` or `ORDER BY … DESC LIMIT 1` would pick), kept as
//! the values go by: an Iceberg INSERT keeps it for a pipeline, whose new
//! high watermark is the largest value it actually wrote.

use pgrx::pg_sys;

use super::types::Builtin;

/// How two values are ordered.
enum Order {
    /// Integers Postgres passes by value (int2, int4, int8, date,
    /// timestamp, timestamptz): compared as the numbers they are.
    Int(fn(pg_sys::Datum) -> i64),
    /// Any other type: its default btree comparison function (from the
    /// type cache, which is never freed), under `collation`.
    Cmp { finfo: *mut pg_sys::FmgrInfo, collation: pg_sys::Oid, byval: bool, typlen: i16 },
}

/// The running maximum of one column's non-NULL values.
pub struct RunningMax {
    type_oid: pg_sys::Oid,
    order: Order,
    /// The largest value so far; a by-reference value is a copy in the top
    /// transaction context (the slot's own value lives for one row only).
    best: Option<pg_sys::Datum>,
}

impl RunningMax {
    /// For values of `type_oid`, compared under `collation` (InvalidOid for
    /// types without one); None when the type has no default btree order.
    pub fn new(type_oid: pg_sys::Oid, collation: pg_sys::Oid) -> Option<RunningMax> {
        let int: Option<fn(pg_sys::Datum) -> i64> = match Builtin::from_oid(type_oid) {
            Some(Builtin::Int2) => Some(|d| d.value() as i16 as i64),
            Some(Builtin::Int4) | Some(Builtin::Date) => Some(|d| d.value() as i32 as i64),
            Some(Builtin::Int8) | Some(Builtin::Timestamp) | Some(Builtin::TimestampTz) => Some(|d| d.value() as i64),
            _ => None,
        };
        let order = match int {
            Some(f) => Order::Int(f),
            None => {
                // SAFETY: a type cache lookup (ERROR for a missing type); the
                // entry and its FmgrInfo stay allocated for the backend's life.
                let finfo = unsafe {
                    let entry = pg_sys::lookup_type_cache(type_oid, pg_sys::TYPECACHE_CMP_PROC_FINFO as i32);
                    if entry.is_null() || (*entry).cmp_proc_finfo.fn_oid == pg_sys::Oid::INVALID {
                        return None;
                    }
                    &mut (*entry).cmp_proc_finfo as *mut pg_sys::FmgrInfo
                };
                let (mut typlen, mut byval) = (0i16, false);
                // SAFETY: syscache lookup; out-parameters are locals.
                unsafe { pg_sys::get_typlenbyval(type_oid, &mut typlen, &mut byval) };
                Order::Cmp { finfo, collation, byval, typlen }
            }
        };
        Some(RunningMax { type_oid, order, best: None })
    }

    /// Take `value` (a non-NULL datum of the type, valid for this call) into account.
    pub fn observe(&mut self, value: pg_sys::Datum) {
        match &self.order {
            Order::Int(f) => {
                if self.best.is_none_or(|b| f(value) > f(b)) {
                    self.best = Some(value);
                }
            }
            Order::Cmp { finfo, collation, byval, typlen } => {
                let larger = match self.best {
                    None => true,
                    // SAFETY: the type's own comparison function on two
                    // values of the type; it raises ERRORs the usual way.
                    Some(b) => unsafe { pg_sys::FunctionCall2Coll(*finfo, *collation, value, b) }.value() as i32 > 0,
                };
                if larger {
                    if *byval {
                        self.best = Some(value);
                    } else {
                        let old = self.best.take();
                        // SAFETY: `value` points to a value of the type
                        // (`typlen` bytes, a varlena or a C string); the copy
                        // is made in TopTransactionContext and the previous
                        // copy, made there too, is freed.
                        unsafe {
                            let previous = pg_sys::MemoryContextSwitchTo(pg_sys::TopTransactionContext);
                            let copy: *mut u8 = match *typlen {
                                -1 => pg_sys::pg_detoast_datum_copy(value.cast_mut_ptr()).cast(),
                                n => {
                                    let len = if n == -2 {
                                        std::ffi::CStr::from_ptr(value.cast_mut_ptr()).to_bytes_with_nul().len()
                                    } else {
                                        n as usize
                                    };
                                    let p = pg_sys::palloc(len) as *mut u8;
                                    std::ptr::copy_nonoverlapping(value.cast_mut_ptr::<u8>(), p, len);
                                    p
                                }
                            };
                            pg_sys::MemoryContextSwitchTo(previous);
                            if let Some(o) = old {
                                pg_sys::pfree(o.cast_mut_ptr());
                            }
                            self.best = Some(pg_sys::Datum::from(copy));
                        }
                    }
                }
            }
        }
    }

    /// The largest value seen, as the type's output function prints it
    /// (read back with a cast from text); None when no value was seen.
    pub fn text(&self) -> Option<String> {
        let best = self.best?;
        let out = super::catalog::OutputFunction::of(self.type_oid);
        // SAFETY: the output function of the value's own type; the C string
        // it returns is copied and freed.
        unsafe {
            let p = pg_sys::OidOutputFunctionCall(out.function(), best);
            let s = std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned();
            pg_sys::pfree(p.cast());
            Some(s)
        }
    }
}
