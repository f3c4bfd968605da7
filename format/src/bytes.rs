//! Bounds-checked little-endian reads and writes. Nothing here indexes a slice directly.

use crate::error::{Loc, Result, Rule};

/// Bytes `at..at+N` of `b`, or an out-of-bounds error naming `field`.
pub(crate) fn arr<const N: usize>(
    b: &[u8],
    at: usize,
    loc: &Loc<'_>,
    field: &'static str,
) -> Result<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| {
            loc.err(
                field,
                Rule::OutOfBounds {
                    at: at as u64,
                    needed: N as u64,
                    available: b.len() as u64,
                },
            )
        })
}

/// `len` bytes at `at`, or an out-of-bounds error naming `field`.
pub(crate) fn slice<'b>(
    b: &'b [u8],
    at: usize,
    len: usize,
    loc: &Loc<'_>,
    field: &'static str,
) -> Result<&'b [u8]> {
    at.checked_add(len)
        .and_then(|end| b.get(at..end))
        .ok_or_else(|| {
            loc.err(
                field,
                Rule::OutOfBounds {
                    at: at as u64,
                    needed: len as u64,
                    available: b.len() as u64,
                },
            )
        })
}

pub(crate) fn u8_(b: &[u8], at: usize, loc: &Loc<'_>, field: &'static str) -> Result<u8> {
    Ok(arr::<1>(b, at, loc, field)?[0])
}
pub(crate) fn u16_(b: &[u8], at: usize, loc: &Loc<'_>, field: &'static str) -> Result<u16> {
    Ok(u16::from_le_bytes(arr(b, at, loc, field)?))
}
pub(crate) fn u32_(b: &[u8], at: usize, loc: &Loc<'_>, field: &'static str) -> Result<u32> {
    Ok(u32::from_le_bytes(arr(b, at, loc, field)?))
}
pub(crate) fn u64_(b: &[u8], at: usize, loc: &Loc<'_>, field: &'static str) -> Result<u64> {
    Ok(u64::from_le_bytes(arr(b, at, loc, field)?))
}

/// Writes `v` at `at`. Encoders size their buffers from this crate's own constants, so a write
/// out of range is a bug in this crate: it is caught in debug builds and dropped in release
/// builds (never a panic in a driver).
pub(crate) fn put(b: &mut [u8], at: usize, v: &[u8]) {
    match at.checked_add(v.len()).and_then(|end| b.get_mut(at..end)) {
        Some(dst) => dst.copy_from_slice(v),
        None => debug_assert!(false, "encoder wrote out of range: {at:#x}+{}", v.len()),
    }
}
pub(crate) fn put_u8(b: &mut [u8], at: usize, v: u8) {
    put(b, at, &[v]);
}
pub(crate) fn put_u16(b: &mut [u8], at: usize, v: u16) {
    put(b, at, &v.to_le_bytes());
}
pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    put(b, at, &v.to_le_bytes());
}
pub(crate) fn put_u64(b: &mut [u8], at: usize, v: u64) {
    put(b, at, &v.to_le_bytes());
}

/// `v` rounded up to a multiple of `a` (a power of two), saturating.
pub(crate) const fn align_up(v: usize, a: usize) -> usize {
    match v.checked_add(a - 1) {
        Some(x) => x & !(a - 1),
        None => usize::MAX & !(a - 1),
    }
}
