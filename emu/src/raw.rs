//! Checked access to caller memory. Each helper does one unsafe operation and tolerates
//! NULL; misaligned pointers are read and written unaligned.

use crate::status::*;
use crate::types::{CLS_WRITE_ENTRY, NTSTATUS, UNICODE_STRING};

/// Reads `*p`, or `None` if `p` is NULL.
///
/// # Safety
/// A non-null `p` must be valid for reading a `T`.
pub(crate) unsafe fn rd<T: Copy>(p: *const T) -> Option<T> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and valid for reads by the caller's contract; read_unaligned needs no alignment.
    Some(unsafe { p.read_unaligned() })
}

/// Writes `v` to `*p`; returns false if `p` is NULL.
///
/// # Safety
/// A non-null `p` must be valid for writing a `T`.
pub(crate) unsafe fn wr<T>(p: *mut T, v: T) -> bool {
    if p.is_null() {
        return false;
    }
    // SAFETY: non-null and valid for writes by the caller's contract.
    unsafe { p.write_unaligned(v) };
    true
}

/// Copies `n` elements from `p` (which may be NULL only when `n == 0`).
///
/// # Safety
/// A non-null `p` must be valid for reading `n` elements.
pub(crate) unsafe fn copy_in<T: Copy>(p: *const T, n: usize) -> Option<Vec<T>> {
    if n == 0 {
        return Some(Vec::new());
    }
    if p.is_null() {
        return None;
    }
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let q = p.wrapping_add(i);
        // SAFETY: the caller guarantees `n` readable elements at `p`.
        v.push(unsafe { q.read_unaligned() });
    }
    Some(v)
}

/// A record's data as the caller's write entries, validated but not copied: the bytes are
/// copied once, straight into the block image ([`Gather::copy_to`]). Entry `i > 0` starts at
/// the next multiple of the alignment (zero padding).
pub(crate) struct Gather<'a> {
    p: *const CLS_WRITE_ENTRY,
    n: usize,
    align: u64,
    len: usize,
    _caller: core::marker::PhantomData<&'a [u8]>,
}

impl Gather<'_> {
    /// Validates `n` entries at `p` (at most `max` bytes in all, padding included).
    ///
    /// # Safety
    /// `p` must be valid for reading `n` entries, and each entry's `Buffer` for reading
    /// `ByteLength` bytes, for as long as the `Gather` lives.
    pub(crate) unsafe fn new(
        p: *const CLS_WRITE_ENTRY,
        n: u32,
        align: u32,
        max: u64,
    ) -> Result<Self, NTSTATUS> {
        if p.is_null() && n > 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        let align = u64::from(align.max(1));
        let mut pos = 0u64;
        for i in 0..n as usize {
            // SAFETY: the caller guarantees `n` readable entries at `p`.
            let e = unsafe { p.wrapping_add(i).read_unaligned() };
            if i > 0 {
                pos = pos
                    .div_ceil(align)
                    .checked_mul(align)
                    .ok_or(STATUS_INVALID_PARAMETER)?;
                if pos > max {
                    return Err(STATUS_INVALID_PARAMETER);
                }
            }
            if pos + u64::from(e.ByteLength) > max {
                return Err(STATUS_INVALID_PARAMETER);
            }
            if e.Buffer.is_null() && e.ByteLength > 0 {
                return Err(STATUS_INVALID_PARAMETER);
            }
            pos += u64::from(e.ByteLength);
        }
        Ok(Gather {
            p,
            n: n as usize,
            align,
            len: pos as usize,
            _caller: core::marker::PhantomData,
        })
    }

    /// Total bytes (padding included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies the entries into `dst` (`len()` bytes), zeroing the alignment gaps.
    pub(crate) fn copy_to(&self, dst: &mut [u8]) {
        let mut pos = 0usize;
        for i in 0..self.n {
            // SAFETY: `new`'s contract: `n` readable entries at `p` while `self` lives.
            let e = unsafe { self.p.wrapping_add(i).read_unaligned() };
            let start = if i > 0 {
                let a = usize::try_from(self.align).unwrap_or(usize::MAX);
                pos.div_ceil(a).saturating_mul(a)
            } else {
                0
            };
            if start > pos {
                if let Some(gap) = dst.get_mut(pos..start) {
                    gap.fill(0);
                }
            }
            let room = dst.len().saturating_sub(start);
            let k = (e.ByteLength as usize).min(room);
            if k > 0 && !e.Buffer.is_null() {
                let to = dst[start..].as_mut_ptr();
                // SAFETY: `new`'s contract: `Buffer` holds `ByteLength >= k` readable bytes;
                // `to` has `room >= k` writable bytes; the caller's buffer is not `dst`
                // (the block image is emulator-owned).
                unsafe {
                    core::ptr::copy_nonoverlapping(e.Buffer.cast_const().cast::<u8>(), to, k)
                };
            }
            pos = start + k;
        }
    }
}

/// Copies the UTF-16 text of a `UNICODE_STRING`.
///
/// # Safety
/// A non-null `us` must point to a `UNICODE_STRING` whose `Buffer` holds `Length` bytes.
pub(crate) unsafe fn unicode(us: *const UNICODE_STRING) -> Result<Vec<u16>, NTSTATUS> {
    // SAFETY: forwarded caller contract.
    let s = unsafe { rd(us) }.ok_or(STATUS_INVALID_PARAMETER)?;
    if s.Length % 2 != 0 || s.Length > s.MaximumLength {
        return Err(STATUS_INVALID_PARAMETER);
    }
    // SAFETY: forwarded caller contract: Buffer holds Length bytes.
    unsafe { copy_in(s.Buffer.cast_const(), usize::from(s.Length / 2)) }
        .ok_or(STATUS_INVALID_PARAMETER)
}
