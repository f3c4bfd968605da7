//! Checked access to caller memory. Each helper does one unsafe operation and tolerates
//! NULL; misaligned pointers are read and written unaligned.

use crate::status::*;
use crate::types::{NTSTATUS, UNICODE_STRING};

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

/// Appends the `n` bytes at `p` to `out` in one copy (`None` if `p` is NULL and `n > 0`).
///
/// # Safety
/// `p` must be NULL or valid for reading `n` bytes.
pub(crate) unsafe fn append_bytes(out: &mut Vec<u8>, p: *const u8, n: usize) -> Option<()> {
    if n == 0 {
        return Some(());
    }
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `n` readable bytes at `p` (u8 needs no alignment).
    let src = unsafe { core::slice::from_raw_parts(p, n) };
    out.extend_from_slice(src);
    Some(())
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
