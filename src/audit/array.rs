//! One-dimensional arrays in Postgres' own layout, built by the audit writer
//! straight from the queue: a batch's records, hashes and ids each become
//! one buffer, copied once into a palloc'd datum, instead of a String (or
//! Uuid) per record that pgrx converts to a datum, copies into an array
//! build state and copies again into the array (several pallocs and copies
//! per record).
//!
//! Layout (utils/array.h), for arrays without NULLs: a 4-byte varlena
//! header, ndim, dataoffset (0: no null bitmap), the element type, then
//! dims[ndim] and lbound[ndim], padded to MAXALIGN (24 bytes for one
//! dimension); then the elements, each aligned to its type's alignment.
//! Variable-length elements (text) are varlenas with a 4-byte header,
//! int-aligned, as construct_array stores a palloc'd text; fixed-length
//! ones (uuid, 16 bytes, char alignment) follow each other.

use pgrx::pg_sys;

/// Bytes before the first element of a one-dimensional array without NULLs.
const DATA_OFFSET: usize = 24;
/// Longest datum Postgres allocates (MaxAllocSize).
const MAX_BYTES: usize = 0x3fff_ffff;

pub struct ArrayBuf {
    buf: Vec<u8>,
    n: u32,
    elemtype: pg_sys::Oid,
    /// Element length: None for varlenas (int-aligned), else fixed (char-aligned).
    fixed: Option<usize>,
    /// Start of the element being written (varlenas).
    open: Option<usize>,
}

/// The 4-byte varlena header for `len` bytes (SET_VARSIZE_4B).
fn varsize_4b(len: usize) -> [u8; 4] {
    let len = len as u32;
    if cfg!(target_endian = "little") {
        (len << 2).to_ne_bytes()
    } else {
        (len & 0x3FFF_FFFF).to_ne_bytes()
    }
}

impl ArrayBuf {
    /// An array of varlena elements (text).
    pub fn varlena(elemtype: pg_sys::Oid) -> ArrayBuf {
        ArrayBuf { buf: Vec::new(), n: 0, elemtype, fixed: None, open: None }
    }

    /// An array of fixed-length, char-aligned elements (uuid: 16).
    pub fn fixed(elemtype: pg_sys::Oid, len: usize) -> ArrayBuf {
        ArrayBuf { buf: Vec::new(), n: 0, elemtype, fixed: Some(len), open: None }
    }

    /// Empties the array, keeping its memory.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.buf.resize(DATA_OFFSET, 0);
        self.n = 0;
        self.open = None;
    }

    pub fn len(&self) -> u32 {
        self.n
    }

    /// Starts a varlena element: its bytes are appended to the returned
    /// buffer, then `end` or `abandon` it.
    pub fn begin(&mut self) -> &mut Vec<u8> {
        debug_assert!(self.fixed.is_none() && self.open.is_none());
        if self.buf.len() < DATA_OFFSET {
            self.clear();
        }
        self.open = Some(self.buf.len());
        self.buf.extend_from_slice(&[0; 4]);
        &mut self.buf
    }

    /// Finishes the element `begin` started; returns its bytes (header excluded).
    pub fn end(&mut self) -> &[u8] {
        let start = self.open.take().expect("an element was begun");
        let len = self.buf.len() - start;
        self.buf[start..start + 4].copy_from_slice(&varsize_4b(len));
        self.n += 1;
        // int alignment of the next element (the data start is MAXALIGNed)
        let padded = self.buf.len().next_multiple_of(4);
        self.buf.resize(padded, 0);
        &self.buf[start + 4..start + len]
    }

    /// Drops the element `begin` started.
    pub fn abandon(&mut self) {
        if let Some(start) = self.open.take() {
            self.buf.truncate(start);
        }
    }

    /// Appends a whole varlena element.
    pub fn push_varlena(&mut self, bytes: &[u8]) {
        self.begin().extend_from_slice(bytes);
        self.end();
    }

    /// Appends a fixed-length element.
    pub fn push_fixed(&mut self, bytes: &[u8]) {
        debug_assert_eq!(Some(bytes.len()), self.fixed);
        if self.buf.len() < DATA_OFFSET {
            self.clear();
        }
        self.buf.extend_from_slice(bytes);
        self.n += 1;
    }

    /// The array's bytes, its header filled in; None when it is empty (an
    /// empty array has no dimensions) or too large for a datum.
    pub fn bytes(&mut self) -> Option<&[u8]> {
        if self.n == 0 || self.open.is_some() || self.buf.len() > MAX_BYTES {
            return None;
        }
        let total = self.buf.len();
        let b = &mut self.buf;
        b[0..4].copy_from_slice(&varsize_4b(total));
        b[4..8].copy_from_slice(&1i32.to_ne_bytes()); // ndim
        b[8..12].copy_from_slice(&0i32.to_ne_bytes()); // dataoffset: no null bitmap
        b[12..16].copy_from_slice(&self.elemtype.to_u32().to_ne_bytes());
        b[16..20].copy_from_slice(&(self.n as i32).to_ne_bytes()); // dims[0]
        b[20..24].copy_from_slice(&1i32.to_ne_bytes()); // lbound[0]
        Some(&self.buf)
    }

    /// The array as a datum in the current memory context.
    pub fn datum(&mut self) -> Option<pg_sys::Datum> {
        let bytes = self.bytes()?;
        // SAFETY: palloc of the array's size (at most MaxAllocSize) in the
        // current memory context, then a copy of its bytes; palloc's memory
        // is MAXALIGNed, as an array datum's must be.
        unsafe {
            let p = pg_sys::palloc(bytes.len()) as *mut u8;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            Some(pg_sys::Datum::from(p))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i32_at(b: &[u8], at: usize) -> i32 {
        i32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn text_elements_are_int_aligned_varlenas_after_the_header() {
        let mut a = ArrayBuf::varlena(pg_sys::Oid::from(25u32));
        a.clear();
        a.push_varlena(b"ab");
        let e = a.begin();
        e.extend_from_slice(b"xyz12");
        assert_eq!(a.end(), b"xyz12");
        a.begin().extend_from_slice(b"dropped");
        a.abandon();
        a.push_varlena(b"");
        assert_eq!(a.len(), 3);
        let b = a.bytes().unwrap().to_vec();
        // header, then "ab" (4 + 2, padded to 8), "xyz12" (4 + 5, padded to 12), "" (4)
        assert_eq!(b.len(), 24 + 8 + 12 + 4);
        assert_eq!(u32::from_ne_bytes(b[0..4].try_into().unwrap()), varsize_u32(b.len()));
        assert_eq!((i32_at(&b, 4), i32_at(&b, 8), i32_at(&b, 12)), (1, 0, 25));
        assert_eq!((i32_at(&b, 16), i32_at(&b, 20)), (3, 1));
        assert_eq!(u32::from_ne_bytes(b[24..28].try_into().unwrap()), varsize_u32(6));
        assert_eq!(&b[28..30], b"ab");
        assert_eq!(&b[30..32], &[0, 0]);
        assert_eq!(u32::from_ne_bytes(b[32..36].try_into().unwrap()), varsize_u32(9));
        assert_eq!(&b[36..41], b"xyz12");
        assert_eq!(u32::from_ne_bytes(b[44..48].try_into().unwrap()), varsize_u32(4));
    }

    fn varsize_u32(len: usize) -> u32 {
        u32::from_ne_bytes(varsize_4b(len))
    }

    #[test]
    fn fixed_elements_follow_each_other() {
        let mut a = ArrayBuf::fixed(pg_sys::Oid::from(2950u32), 16);
        a.clear();
        a.push_fixed(&[1; 16]);
        a.push_fixed(&[2; 16]);
        let b = a.bytes().unwrap().to_vec();
        assert_eq!(b.len(), 24 + 32);
        assert_eq!((i32_at(&b, 12), i32_at(&b, 16)), (2950, 2));
        assert_eq!(&b[24..40], &[1; 16]);
        assert_eq!(&b[40..56], &[2; 16]);
    }

    #[test]
    fn an_empty_array_is_not_built_and_clear_reuses_the_buffer() {
        let mut a = ArrayBuf::varlena(pg_sys::Oid::from(25u32));
        assert!(a.bytes().is_none());
        a.push_varlena(b"x");
        assert!(a.bytes().is_some());
        a.clear();
        assert_eq!(a.len(), 0);
        assert!(a.bytes().is_none());
        a.push_varlena(b"y");
        assert_eq!(a.bytes().unwrap().len(), 24 + 8);
    }
}
