//! Log sequence numbers as they lie on disk.

use core::fmt;

/// A CLFS log sequence number (`CLFS_LSN`): `(container << 32) | block offset | record index`.
///
/// The block offset is 512-aligned (bits 9..32 of the low half) and the record index is the
/// record's position within its block (bits 0..9). The container part is the *logical*
/// container id; map it to a container file with
/// [`BaseRecord::container_by_logical_id`](crate::BaseRecord::container_by_logical_id).
///
/// ```
/// use clfs_format::Lsn;
/// let lsn = Lsn::new(1, 0x9000, 1);
/// assert_eq!(lsn.0, 0x1_0000_9001);
/// assert_eq!((lsn.container(), lsn.block_offset(), lsn.record_index()), (1, 0x9000, 1));
/// assert_eq!(lsn.to_string(), "1:0x9000:1");
/// assert!(Lsn::NULL.is_null() && !Lsn::NULL.is_invalid());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// `CLFS_LSN_NULL` (0:0x0:0). In a Windows-made log this is also the LSN of the first record.
    pub const NULL: Lsn = Lsn(0);
    /// `CLFS_LSN_INVALID` (0xFFFFFFFF00000000): "no record", used for absent links.
    pub const INVALID: Lsn = Lsn(0xFFFF_FFFF_0000_0000);
    /// Largest record index within a block (9 bits).
    pub const MAX_RECORD_INDEX: u32 = 0x1ff;

    /// The LSN of record `index` in the block at `block_offset` of logical container
    /// `container`. `block_offset` is masked to 512 bytes and `index` to 9 bits.
    pub const fn new(container: u32, block_offset: u32, index: u32) -> Lsn {
        Lsn(((container as u64) << 32)
            | (block_offset & !Self::MAX_RECORD_INDEX) as u64
            | (index & Self::MAX_RECORD_INDEX) as u64)
    }
    /// The logical container id.
    pub const fn container(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// Offset of the record's block in its container, in bytes (a multiple of 512).
    pub const fn block_offset(self) -> u32 {
        (self.0 as u32) & !Self::MAX_RECORD_INDEX
    }
    /// Index of the record within its block.
    pub const fn record_index(self) -> u32 {
        (self.0 as u32) & Self::MAX_RECORD_INDEX
    }
    /// The LSN of the block this record lies in (index 0).
    pub const fn block(self) -> Lsn {
        Lsn(self.0 & !(Self::MAX_RECORD_INDEX as u64))
    }
    /// Whether this is `CLFS_LSN_NULL`.
    pub const fn is_null(self) -> bool {
        self.0 == 0
    }
    /// Whether this is `CLFS_LSN_INVALID`.
    pub const fn is_invalid(self) -> bool {
        self.0 == Self::INVALID.0
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_invalid() {
            return f.write_str("INVALID");
        }
        write!(
            f,
            "{}:{:#x}:{}",
            self.container(),
            self.block_offset(),
            self.record_index()
        )
    }
}
