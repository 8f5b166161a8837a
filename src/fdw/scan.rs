//! What a running foreign scan sees of the executor: its expression context
//! (to evaluate pushed operands) and the slot it fills.

use pgrx::pg_sys;

use super::filter::Value;
use super::params::Operands;
use crate::errors::LakeResult;

/// The scan's expression context, for the duration of one callback.
pub struct ExecContext {
    econtext: *mut pg_sys::ExprContext,
}

impl ExecContext {
    /// # Safety
    /// `econtext` is the scan node's ExprContext.
    pub(crate) unsafe fn new(econtext: *mut pg_sys::ExprContext) -> ExecContext {
        ExecContext { econtext }
    }

    /// Evaluate a scan's operands (see [`Operands::evaluate`]).
    pub fn evaluate(&self, operands: &Operands) -> LakeResult<Option<Vec<Value>>> {
        // SAFETY: operands were initialised for the scan this context
        // belongs to (both come from the same ForeignScanState).
        unsafe { operands.evaluate(self.econtext) }
    }

    /// Evaluate a scan's operands with infinities as values beyond every
    /// finite one (see [`Operands::evaluate_beyond`]): for remote engines
    /// whose columns hold finite values only.
    pub fn evaluate_beyond(&self, operands: &Operands) -> LakeResult<Option<Vec<Value>>> {
        // SAFETY: as in `evaluate`.
        unsafe { operands.evaluate_beyond(self.econtext) }
    }

    /// Run `f` with the per-tuple memory context current: what it
    /// allocates (a row's datums) is freed when the executor moves to the
    /// next row, so a long scan's memory stays bounded.
    pub fn in_tuple_memory<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the scan's ExprContext owns a per-tuple context for the
        // scan's lifetime; the previous context is restored on return (an
        // ERROR resets CurrentMemoryContext itself).
        unsafe {
            let old = pg_sys::MemoryContextSwitchTo((*self.econtext).ecxt_per_tuple_memory);
            let out = f();
            pg_sys::MemoryContextSwitchTo(old);
            out
        }
    }
}

/// The scan's tuple slot, for the duration of one callback.
pub struct ScanSlot {
    slot: *mut pg_sys::TupleTableSlot,
}

impl ScanSlot {
    /// # Safety
    /// `slot` is the scan's tuple slot.
    pub(crate) unsafe fn new(slot: *mut pg_sys::TupleTableSlot) -> ScanSlot {
        ScanSlot { slot }
    }

    /// Store one row: `f` gets the slot's values and nulls (all NULL to
    /// start with) and sets what it reads. Datums are allocated by `f` in the
    /// current (per-tuple) memory context.
    pub fn fill(&mut self, f: impl FnOnce(&mut [pg_sys::Datum], &mut [bool]) -> LakeResult<()>) -> LakeResult<()> {
        // SAFETY: the slot's arrays hold natts entries; the virtual tuple is
        // stored only once they are set. Once per row, so without pgrx's
        // guarded FFI calls (a setjmp each): ExecClearTuple is Postgres'
        // inline call of the slot's `clear` (which frees what the slot owns
        // and raises no ERROR), and the two stores below are what
        // ExecStoreVirtualTuple does to an empty slot.
        unsafe {
            let slot = self.slot;
            if let Some(clear) = (*(*slot).tts_ops).clear {
                clear(slot);
            }
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            nulls.fill(true);
            f(values, nulls)?;
            (*slot).tts_flags &= !(pg_sys::TTS_FLAG_EMPTY as u16);
            (*slot).tts_nvalid = natts as pg_sys::AttrNumber;
        }
        Ok(())
    }

    /// Give the row just stored an identity for UPDATE/DELETE: a heap tuple
    /// whose ctid's block number is `unit` (the source unit it came from).
    pub fn set_row_identity(&mut self, relid: pg_sys::Oid, unit: u32) {
        // SAFETY: the slot holds a virtual tuple of its descriptor (see
        // fill). The slot frees the heap tuple when it is cleared, which may
        // be after the per-tuple memory is reset: it is allocated in the
        // slot's own context.
        unsafe {
            let old = pg_sys::MemoryContextSwitchTo((*self.slot).tts_mcxt);
            let tuple =
                pg_sys::heap_form_tuple((*self.slot).tts_tupleDescriptor, (*self.slot).tts_values, (*self.slot).tts_isnull);
            pg_sys::MemoryContextSwitchTo(old);
            (*tuple).t_self = pg_sys::ItemPointerData {
                ip_blkid: pg_sys::BlockIdData { bi_hi: (unit >> 16) as u16, bi_lo: (unit & 0xffff) as u16 },
                ip_posid: 1,
            };
            (*tuple).t_tableOid = relid;
            pg_sys::ExecStoreHeapTuple(tuple, self.slot, true);
        }
    }
}
