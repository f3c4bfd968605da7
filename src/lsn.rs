//! Log sequence numbers (reference §3).

use core::fmt;

use crate::sys;

/// A CLFS log sequence number: `CLFS_LSN`.
///
/// The 64 bits hold the logical container id (high 32 bits), the block offset (a multiple of
/// 512, bits 9–31) and the record's index within its block (bits 0–8), so that the LSNs of a
/// stream form a strictly increasing sequence under plain unsigned comparison (reference §3.2).
/// `Ord` is that comparison, which agrees with `ClfsLsnLess` / `ClfsLsnGreater`;
/// [`Lsn::NULL`] is the smallest LSN and [`Lsn::INVALID`] compares greater than every valid one.
///
/// LSNs of different streams cannot be compared meaningfully.
///
/// ```
/// use clfs::Lsn;
/// let lsn = Lsn::new(2, 0x1000, 3).unwrap();
/// assert_eq!((lsn.container(), lsn.block_offset(), lsn.record()), (2, 0x1000, 3));
/// assert!(Lsn::NULL < lsn && lsn < Lsn::INVALID);
/// assert_eq!(Lsn::new(0, 100, 0), None); // offset not a multiple of 512
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Lsn(u64);

impl Lsn {
    /// `CLFS_LSN_NULL`: container 0, offset 0, record 0; a valid LSN and the smallest one.
    pub const NULL: Lsn = Lsn(sys::CLFS_LSN_NULL);
    /// `CLFS_LSN_INVALID`: not a valid LSN; greater than all valid ones.
    pub const INVALID: Lsn = Lsn(sys::CLFS_LSN_INVALID);
    /// The most records one log block holds (the record field is 9 bits).
    pub const MAX_RECORD: u32 = 511;

    /// `ClfsLsnCreate`: `None` where it would return `CLFS_LSN_INVALID`, i.e. when the block
    /// offset is not a multiple of 512 or the record index exceeds 511.
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
    pub const fn from_raw(raw: u64) -> Lsn {
        Lsn(raw)
    }

    /// The raw `Internal` value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// `ClfsLsnContainer`: the logical container id.
    pub const fn container(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// `ClfsLsnBlockOffset`: the sector-aligned byte offset of the record's block.
    pub const fn block_offset(self) -> u32 {
        (self.0 as u32) & 0xFFFF_FE00
    }

    /// `ClfsLsnRecordSequence`: the record's index within its block (0..=511).
    pub const fn record(self) -> u32 {
        (self.0 as u32) & 0x1FF
    }

    /// `ClfsLsnNull`.
    pub const fn is_null(self) -> bool {
        self.0 == sys::CLFS_LSN_NULL
    }

    /// `ClfsLsnInvalid`.
    pub const fn is_invalid(self) -> bool {
        self.0 == sys::CLFS_LSN_INVALID
    }

    /// `Some(self)` unless this is [`Lsn::INVALID`], the value CLFS uses for "no record".
    pub const fn valid(self) -> Option<Lsn> {
        if self.is_invalid() {
            None
        } else {
            Some(self)
        }
    }

    pub(crate) const fn to_sys(self) -> sys::CLFS_LSN {
        sys::CLFS_LSN { Internal: self.0 }
    }

    pub(crate) const fn from_sys(raw: sys::CLFS_LSN) -> Lsn {
        Lsn(raw.Internal)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_invalid() {
            f.write_str("INVALID")
        } else {
            write!(
                f,
                "{:x}.{:x}.{:x}",
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
