//! Log sequence numbers (reference §3).

use core::fmt;

use crate::error::{Error, Result};
use crate::sys;

/// A CLFS log sequence number: `CLFS_LSN`.
///
/// The 64 bits hold the logical container id (high 32 bits), the block offset (a multiple of
/// 512, bits 9–31) and the record's index within its block (bits 0–8), so that the LSNs of a
/// stream form a strictly increasing sequence under plain unsigned comparison (reference §3.2).
/// `Ord` is that comparison, which agrees with `ClfsLsnLess` / `ClfsLsnGreater`;
/// [`Lsn::NULL`] is the smallest LSN and [`Lsn::INVALID`] compares greater than every valid one.
/// `Lsn::default()` is [`Lsn::NULL`], which is also the LSN of a log's first record: it does not
/// mean "no record" (use `Option<Lsn>` for that).
///
/// # LSNs of different streams
///
/// An LSN means something only in the stream that issued it. Two LSNs of one stream compare
/// as their records were written; two LSNs of *different* streams, even two streams of one
/// multiplexed log, do not compare at all: the DDI says so for `ClfsLsnEqual`, `ClfsLsnLess`
/// and `ClfsLsnGreater` (reference §1.8), and this type's `Ord`, `PartialOrd`, `Eq`,
/// [`difference`](Lsn::difference), [`increment`](Lsn::increment) and
/// [`decrement`](Lsn::decrement) inherit the rule. That `a < b` for `a` from stream 1 and `b`
/// from stream 2 says nothing about which record was written or flushed first, whether one
/// is durable because the other is, or whether they are the same record. `Lsn` carries no
/// stream identity, so the compiler cannot catch the mix-up: keep each stream's LSNs with
/// the stream (its own variables, collections or `(stream, Lsn)` pairs), and never sort,
/// `max` or deduplicate LSNs of several streams together. Every LSN the crate hands out
/// (from an append, a flush, a read, a restart area, [`LogInfo`](crate::LogInfo)) belongs to
/// the stream of the [`LogFile`](crate::LogFile) or marshalling area it came from.
///
/// A physical LSN ([`LogFile::physical_lsn`](crate::LogFile::physical_lsn)) is a position in
/// the physical log, not an LSN of any stream: compare it only with other physical LSNs of
/// the same log.
///
/// ```
/// use clfs::Lsn;
/// let lsn = Lsn::new(2, 0x1000, 3).unwrap();
/// assert_eq!((lsn.container(), lsn.block_offset(), lsn.record()), (2, 0x1000, 3));
/// assert!(Lsn::NULL < lsn && lsn < Lsn::INVALID);
/// assert_eq!(Lsn::new(0, 100, 0), None); // offset not a multiple of 512
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Lsn(u64);

/// The order of records in **one** stream: plain unsigned comparison of the 64-bit value,
/// as `ClfsLsnLess` / `ClfsLsnGreater`. Comparing LSNs of two different streams is
/// meaningless, even in one multiplexed log ([`Lsn`](Lsn#lsns-of-different-streams)).
///
/// ```
/// use clfs::Lsn;
/// // Both from the same stream:
/// let (first, later) = (Lsn::new(0, 0x200, 0).unwrap(), Lsn::new(0, 0x200, 1).unwrap());
/// assert!(first < later);
/// ```
impl Ord for Lsn {
    #[inline]
    fn cmp(&self, other: &Lsn) -> core::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

/// [`Ord`]'s order: meaningful for LSNs of one stream only
/// ([`Lsn`](Lsn#lsns-of-different-streams)).
impl PartialOrd for Lsn {
    #[inline]
    fn partial_cmp(&self, other: &Lsn) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Lsn {
    /// `CLFS_LSN_NULL`: container 0, offset 0, record 0; a valid LSN and the smallest one.
    ///
    /// It is also the LSN of a new log's first record (Windows starts a log at 0:0x0:0, and so
    /// does the emulator), so it never means "no record": use `Option<Lsn>` or
    /// [`Lsn::INVALID`] for that.
    pub const NULL: Lsn = Lsn(sys::CLFS_LSN_NULL);
    /// `CLFS_LSN_INVALID`: not a valid LSN; greater than all valid ones.
    pub const INVALID: Lsn = Lsn(sys::CLFS_LSN_INVALID);
    /// The most records one log block holds (the record field is 9 bits).
    pub const MAX_RECORD: u32 = 511;

    /// `ClfsLsnCreate`: `None` where it would return `CLFS_LSN_INVALID`, i.e. when the block
    /// offset is not a multiple of 512 or the record index exceeds 511.
    ///
    /// IRQL: any.
    pub const fn new(container: u32, block_offset: u32, record: u32) -> Option<Lsn> {
        if block_offset % 512 != 0 || record > Self::MAX_RECORD {
            return None;
        }
        let raw = ((container as u64) << 32) | block_offset as u64 | record as u64;
        if raw == sys::CLFS_LSN_INVALID {
            return None;
        }
        Some(Lsn(raw))
    }

    /// The LSN with this raw `Internal` value.
    ///
    /// IRQL: any.
    pub const fn from_raw(raw: u64) -> Lsn {
        Lsn(raw)
    }

    /// The raw `Internal` value.
    ///
    /// IRQL: any.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// `ClfsLsnContainer`: the logical container id.
    ///
    /// IRQL: any.
    pub const fn container(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// `ClfsLsnBlockOffset`: the sector-aligned byte offset of the record's block.
    ///
    /// IRQL: any.
    pub const fn block_offset(self) -> u32 {
        (self.0 as u32) & 0xFFFF_FE00
    }

    /// `ClfsLsnRecordSequence`: the record's index within its block (0..=511).
    ///
    /// IRQL: any.
    pub const fn record(self) -> u32 {
        (self.0 as u32) & 0x1FF
    }

    /// `ClfsLsnNull`.
    ///
    /// IRQL: any.
    pub const fn is_null(self) -> bool {
        self.0 == sys::CLFS_LSN_NULL
    }

    /// `ClfsLsnInvalid`.
    ///
    /// IRQL: any.
    pub const fn is_invalid(self) -> bool {
        self.0 == sys::CLFS_LSN_INVALID
    }

    /// `Some(self)` unless this is [`Lsn::INVALID`], the value CLFS uses for "no record".
    ///
    /// IRQL: any.
    pub const fn valid(self) -> Option<Lsn> {
        if self.is_invalid() {
            None
        } else {
            Some(self)
        }
    }

    /// `ClfsLsnIncrement` (and `ClfsLaterLsn`, which the header describes the same way): the
    /// next LSN in sequence, or `None` where C returns `CLFS_LSN_INVALID`.
    ///
    /// The arithmetic is undocumented; `clfs` decides (docs/decisions.md) that the next LSN is
    /// the next value of the 64-bit encoding: the record index goes up by one; after record
    /// 511 comes record 0 of the next 512-byte block offset; after the last offset of a
    /// container comes offset 0 of the next container. It is `None` for [`Lsn::INVALID`],
    /// for values above it (not LSNs), and for the last LSN before it (whose successor would
    /// be `CLFS_LSN_INVALID`). The result need not be the LSN of a record: use it as a bound
    /// ("everything after this LSN"), not as a record to read.
    ///
    /// IRQL: any level (pure arithmetic, no call).
    ///
    /// ```
    /// use clfs::Lsn;
    /// let l = Lsn::new(1, 0x200, 511).unwrap();
    /// assert_eq!(l.increment(), Lsn::new(1, 0x400, 0));
    /// assert_eq!(Lsn::INVALID.increment(), None);
    /// ```
    pub const fn increment(self) -> Option<Lsn> {
        if self.0 >= sys::CLFS_LSN_INVALID - 1 {
            return None;
        }
        Some(Lsn(self.0 + 1))
    }

    /// `ClfsEarlierLsn`: the previous LSN in sequence, or `None` where C returns
    /// `CLFS_LSN_INVALID` ([`Lsn::NULL`] has no predecessor; [`Lsn::INVALID`] and values
    /// above it are not LSNs). The inverse of [`Lsn::increment`] (docs/decisions.md).
    ///
    /// IRQL: any level (pure arithmetic, no call).
    ///
    /// ```
    /// use clfs::Lsn;
    /// let l = Lsn::new(1, 0x400, 0).unwrap();
    /// assert_eq!(l.decrement(), Lsn::new(1, 0x200, 511));
    /// assert_eq!(Lsn::NULL.decrement(), None);
    /// ```
    pub const fn decrement(self) -> Option<Lsn> {
        if self.0 == 0 || self.0 >= sys::CLFS_LSN_INVALID {
            return None;
        }
        Some(Lsn(self.0 - 1))
    }

    /// `ClfsLsnDifference`: the approximate number of bytes from `start` to `self` (negative
    /// when `self` is the earlier one), for a log whose containers are `container_size` bytes
    /// and whose log blocks are at most `max_block` bytes.
    ///
    /// The formula is undocumented; `clfs` decides (docs/decisions.md) that an LSN stands at
    /// byte `container × container_size + block_offset` of the stream, so the difference is
    /// exact to the block: records in one block are 0 bytes apart, and the error is less
    /// than `max_block`. Refused before any arithmetic, with the same rules as the emulator's
    /// `ClfsLsnDifference` (which answers `STATUS_INVALID_PARAMETER`, or
    /// `STATUS_INTEGER_OVERFLOW` for the last one):
    /// - either LSN is [`Lsn::INVALID`] or above it ([`Error::InvalidLsn`]);
    /// - `container_size` or `max_block` is zero or not a multiple of 512, or `max_block`
    ///   exceeds `container_size` ([`Error::BadLogGeometry`]);
    /// - a block offset that does not lie in a container of that size
    ///   ([`Error::LsnBeyondContainer`]);
    /// - a difference that does not fit in an `i64`
    ///   ([`Error::LsnDifferenceOverflow`]).
    ///
    /// LSNs of different streams are not comparable, and neither is their difference.
    ///
    /// IRQL: any level (pure arithmetic, no call).
    ///
    /// ```
    /// use clfs::Lsn;
    /// let a = Lsn::new(0, 0x1000, 3).unwrap();
    /// let b = Lsn::new(2, 0x400, 0).unwrap();
    /// assert_eq!(b.difference(a, 0x10_0000, 0x1000), Ok(2 * 0x10_0000 + 0x400 - 0x1000));
    /// assert_eq!(a.difference(b, 0x10_0000, 0x1000), Ok(-(2 * 0x10_0000 + 0x400 - 0x1000)));
    /// ```
    pub fn difference(self, start: Lsn, container_size: u32, max_block: u32) -> Result<i64> {
        for (lsn, what) in [(start, "start"), (self, "finish")] {
            if lsn.0 >= sys::CLFS_LSN_INVALID {
                return Err(Error::InvalidLsn {
                    what: if what == "start" {
                        "the start LSN of a difference"
                    } else {
                        "the finish LSN of a difference"
                    },
                });
            }
        }
        if container_size == 0
            || container_size % 512 != 0
            || max_block == 0
            || max_block % 512 != 0
            || max_block > container_size
        {
            return Err(Error::BadLogGeometry {
                container_size,
                max_block,
            });
        }
        for lsn in [start, self] {
            if lsn.block_offset() >= container_size {
                return Err(Error::LsnBeyondContainer {
                    lsn,
                    container_size,
                });
            }
        }
        let pos = |l: Lsn| {
            i128::from(l.container()) * i128::from(container_size) + i128::from(l.block_offset())
        };
        i64::try_from(pos(self) - pos(start)).map_err(|_| Error::LsnDifferenceOverflow {
            start,
            finish: self,
        })
    }

    pub(crate) const fn to_sys(self) -> sys::CLFS_LSN {
        sys::CLFS_LSN { Internal: self.0 }
    }

    pub(crate) const fn from_sys(raw: sys::CLFS_LSN) -> Lsn {
        Lsn(raw.Internal)
    }
}

/// `container:0xoffset:record`, e.g. `0:0x0:0` or `2:0x1000:3` (the notation of the docs and
/// of `clfs-dump`: container and record in decimal, the block offset in hex); `INVALID` for
/// [`Lsn::INVALID`].
///
/// ```
/// use clfs::Lsn;
/// assert_eq!(Lsn::NULL.to_string(), "0:0x0:0");
/// assert_eq!(Lsn::new(12, 0x1000, 3).unwrap().to_string(), "12:0x1000:3");
/// assert_eq!(Lsn::INVALID.to_string(), "INVALID");
/// ```
impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_invalid() {
            f.write_str("INVALID")
        } else {
            write!(
                f,
                "{}:{:#x}:{}",
                self.container(),
                self.block_offset(),
                self.record()
            )
        }
    }
}

impl fmt::Debug for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lsn({self})")
    }
}

/// Checks [`Lsn::NULL`] and [`Lsn::INVALID`] against the values the backend exports
/// (`CLFS_LSN_NULL` / `CLFS_LSN_INVALID`, data symbols of clfs.sys in a kernel build): if they
/// differ, LSNs from this system would be misread, so nothing may be opened.
pub(crate) fn check_exported(null: u64, invalid: u64) -> Result<()> {
    for (name, ours, exported) in [
        ("CLFS_LSN_NULL", Lsn::NULL, Lsn(null)),
        ("CLFS_LSN_INVALID", Lsn::INVALID, Lsn(invalid)),
    ] {
        if ours != exported {
            return Err(Error::LsnConstantMismatch {
                name,
                ours,
                exported,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn the_constants_are_checked_against_the_exported_data() {
        assert_eq!(check_exported(0, 0xFFFF_FFFF_0000_0000), Ok(()));
        let e = check_exported(0, 0xFFFF_FFFF_FFFF_FFFF).unwrap_err();
        assert_eq!(
            e,
            Error::LsnConstantMismatch {
                name: "CLFS_LSN_INVALID",
                ours: Lsn::INVALID,
                exported: Lsn(u64::MAX)
            }
        );
        assert_eq!(e.ntstatus(), crate::NtStatus::REVISION_MISMATCH);
        assert!(e
            .to_string()
            .starts_with("clfs.sys exports CLFS_LSN_INVALID = "));
        assert_eq!(
            check_exported(1, 0xFFFF_FFFF_0000_0000).unwrap_err(),
            Error::LsnConstantMismatch {
                name: "CLFS_LSN_NULL",
                ours: Lsn::NULL,
                exported: Lsn(1)
            }
        );
    }
}
