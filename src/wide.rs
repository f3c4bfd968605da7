//! UTF-16 names without an allocator: [`wide!`](crate::wide!) encodes at compile time, and
//! [`unicode_string`] wraps a slice for one call.

use crate::error::{Error, Result};
use crate::sys::UNICODE_STRING;

/// Encodes a string literal as UTF-16 at compile time and yields a `&'static [u16]`.
///
/// Log names and container paths are `UNICODE_STRING`s in the kernel; this macro makes them
/// without an allocator.
///
/// ```
/// let name: &[u16] = clfs::wide!("log:\\SystemRoot\\Logs\\demo");
/// assert_eq!(name.len(), "log:\\SystemRoot\\Logs\\demo".len());
/// assert_eq!(name[0], u16::from(b'l'));
/// ```
///
/// IRQL: any (the string is encoded at compile time).
#[macro_export]
macro_rules! wide {
    ($s:expr) => {{
        const __CLFS_S: &str = $s;
        const __CLFS_N: usize = $crate::__private::utf16_len(__CLFS_S);
        const __CLFS_W: [u16; __CLFS_N] = $crate::__private::encode_utf16::<__CLFS_N>(__CLFS_S);
        const __CLFS_R: &[u16] = &__CLFS_W;
        __CLFS_R
    }};
}

/// Decodes one UTF-8 scalar starting at `i`; returns (scalar, length). `s` is valid UTF-8.
const fn decode(b: &[u8], i: usize) -> (u32, usize) {
    let b0 = b[i] as u32;
    if b0 < 0x80 {
        (b0, 1)
    } else if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (b[i + 1] as u32 & 0x3F), 2)
    } else if b0 < 0xF0 {
        (
            ((b0 & 0x0F) << 12) | ((b[i + 1] as u32 & 0x3F) << 6) | (b[i + 2] as u32 & 0x3F),
            3,
        )
    } else {
        (
            ((b0 & 0x07) << 18)
                | ((b[i + 1] as u32 & 0x3F) << 12)
                | ((b[i + 2] as u32 & 0x3F) << 6)
                | (b[i + 3] as u32 & 0x3F),
            4,
        )
    }
}

/// The number of UTF-16 units `s` encodes to.
///
/// IRQL: any.
#[doc(hidden)]
pub const fn utf16_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        let (c, len) = decode(b, i);
        n += if c >= 0x10000 { 2 } else { 1 };
        i += len;
    }
    n
}

/// `s` as UTF-16; `N` must be `utf16_len(s)`.
///
/// IRQL: any.
#[doc(hidden)]
pub const fn encode_utf16<const N: usize>(s: &str) -> [u16; N] {
    let b = s.as_bytes();
    let mut out = [0u16; N];
    let mut i = 0;
    let mut o = 0;
    while i < b.len() && o < N {
        let (c, len) = decode(b, i);
        if c >= 0x10000 {
            let v = c - 0x10000;
            out[o] = (0xD800 | (v >> 10)) as u16;
            if o + 1 < N {
                out[o + 1] = (0xDC00 | (v & 0x3FF)) as u16;
            }
            o += 2;
        } else {
            out[o] = c as u16;
            o += 1;
        }
        i += len;
    }
    out
}

/// A `UNICODE_STRING` over `s` for the duration of one call. CLFS only reads these.
pub(crate) fn unicode_string(what: &'static str, s: &[u16]) -> Result<UNICODE_STRING> {
    if s.is_empty() {
        return Err(Error::EmptyName { what });
    }
    let bytes = s
        .len()
        .checked_mul(2)
        .and_then(|b| u16::try_from(b).ok())
        .filter(|b| *b <= 0xFFFE)
        .ok_or(Error::NameTooLong { what, len: s.len() })?;
    Ok(UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: s.as_ptr().cast_mut(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn encodes_like_std() {
        let w = crate::wide!("log:C:\\\u{e9}\u{1F600}");
        let expect: Vec<u16> = "log:C:\\\u{e9}\u{1F600}".encode_utf16().collect();
        assert_eq!(w, &expect[..]);
    }

    #[test]
    fn unicode_string_limits() {
        let long = vec![b'a' as u16; 32768];
        assert_eq!(
            unicode_string("log name", &long).err(),
            Some(Error::NameTooLong {
                what: "log name",
                len: 32768
            })
        );
        let ok = vec![b'a' as u16; 32767];
        let us = unicode_string("log name", &ok).expect("fits");
        assert_eq!((us.Length, us.MaximumLength), (65534, 65534));
        assert_eq!(us.Buffer.cast_const(), ok.as_ptr());
        assert_eq!(
            unicode_string("container path", &[]).err(),
            Some(Error::EmptyName {
                what: "container path"
            })
        );
    }
}
