//! Typed errors: every refusal names the file, the block offset, the field and the rule.

use alloc::string::String;

use crate::Lsn;

/// Where a structure being decoded lies: the caller-supplied file name and the byte offset of
/// the block (or structure) inside that file. Errors carry both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc<'a> {
    /// The file name the caller gave (for example `DRIVERS.TM.blf`).
    pub file: &'a str,
    /// Offset of the block in the file, in bytes.
    pub offset: u64,
}

impl<'a> Loc<'a> {
    /// A location in `file` at byte `offset`.
    pub const fn new(file: &'a str, offset: u64) -> Self {
        Self { file, offset }
    }

    /// The error for a broken `rule` of `field` at this location.
    pub fn err(&self, field: &'static str, rule: Rule) -> Error {
        Error {
            file: String::from(self.file),
            offset: self.offset,
            field,
            rule,
        }
    }
}

/// A decode (or encode) refusal: which file, which block, which field, which rule.
///
/// The message reads `<file>: block at <offset>: <field> <rule>`, for example
/// `log.blf: block at 0x800: CLFS_LOG_BLOCK_HEADER.Checksum stored 0x1 but the bytes give 0xc52a9916`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: block at {offset:#x}: {field} {rule}")]
pub struct Error {
    /// The caller-supplied file name.
    pub file: String,
    /// Byte offset of the block (or structure) in the file.
    pub offset: u64,
    /// The field, named as in the public symbols (`STRUCT.Field`) where a name is known.
    pub field: &'static str,
    /// The rule the field broke, with the values involved.
    pub rule: Rule,
}

/// The rule a field broke, with the values involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rule {
    /// A read would leave the bytes available.
    #[error("needs {needed} bytes at offset {at:#x} but only {available} are there")]
    OutOfBounds {
        /// Offset of the read, relative to the block.
        at: u64,
        /// Bytes needed.
        needed: u64,
        /// Bytes available in the block.
        available: u64,
    },
    /// A field that has one legal value holds another.
    #[error("is {found:#x}, must be {expected:#x}")]
    Mismatch {
        /// The value on disk.
        found: u64,
        /// The value the format requires.
        expected: u64,
    },
    /// A field exceeds its limit.
    #[error("is {found:#x}, must be at most {max:#x}")]
    TooLarge {
        /// The value on disk.
        found: u64,
        /// The largest legal value.
        max: u64,
    },
    /// A field is below its minimum.
    #[error("is {found:#x}, must be at least {min:#x}")]
    TooSmall {
        /// The value on disk.
        found: u64,
        /// The smallest legal value.
        min: u64,
    },
    /// A field is not a multiple of its alignment.
    #[error("is {found:#x}, must be a multiple of {align:#x}")]
    Misaligned {
        /// The value on disk.
        found: u64,
        /// The required alignment.
        align: u64,
    },
    /// The block's CRC-32 does not match its bytes.
    #[error("stored {stored:#010x} but the block's bytes give {computed:#010x} (CRC-32 mismatch)")]
    Checksum {
        /// The checksum stored in the header.
        stored: u32,
        /// The checksum of the bytes as they lie on disk.
        computed: u32,
    },
    /// A sector signature does not carry the block's type, position flags and USN: the block is
    /// torn (partly written) or stale.
    #[error("of sector {sector} is [{found0:#04x}, {found1:#04x}], must be [{expected0:#04x}, {expected1:#04x}] (torn or stale block)")]
    Signature {
        /// Sector index within the block.
        sector: u32,
        /// Found type|flags byte.
        found0: u8,
        /// Found USN byte.
        found1: u8,
        /// Expected type|flags byte.
        expected0: u8,
        /// Expected USN byte (the header's USN).
        expected1: u8,
    },
    /// Any other rule, stated in words.
    #[error("{0}")]
    Invalid(&'static str),
    /// A block's `ClientId` names no stream of the base record (multiplexed logs).
    #[error("is {client_id}, which names no stream (the base record has no client context with that id)")]
    UnknownStream {
        /// The block header's `ClientId`.
        client_id: u8,
    },
    /// An LSN kept for stream `stream` (its restart LSN, its last record, a record's link)
    /// names a record that another stream wrote: streams never share records.
    #[error("of stream {stream} names {lsn}, a record of stream {owner}")]
    ForeignRecord {
        /// The stream the LSN belongs to.
        stream: u8,
        /// The LSN.
        lsn: Lsn,
        /// The stream whose block holds the record (the block header's `ClientId`).
        owner: u8,
    },
    /// A stream's base lies after its last record.
    #[error("of stream {stream} is {base}, after the stream's last record {last}")]
    BaseAfterLast {
        /// The stream.
        stream: u8,
        /// `lsnBase`.
        base: Lsn,
        /// `lsnLast`.
        last: Lsn,
    },
    /// The physical log's base (client 0 of a multiplexed log) lies after the tail of a
    /// stream that still holds records at or above it, so the physical log could reuse their
    /// space.
    #[error("of the physical log (client 0) is {base}, after stream {stream}'s tail {tail}")]
    PhysicalBaseAfterStream {
        /// The physical log's `lsnBase`.
        base: Lsn,
        /// The stream.
        stream: u8,
        /// The stream's tail: the older of its base and archive tail.
        tail: Lsn,
    },
    /// An LSN kept for stream `stream` names no record present in the containers read.
    #[error("of stream {stream} names {lsn}, which is not in the log")]
    NoRecord {
        /// The stream the LSN belongs to.
        stream: u8,
        /// The LSN.
        lsn: Lsn,
    },
    /// An LSN kept for stream `stream` lies in a container whose file was not read.
    #[error("of stream {stream} names {lsn}, in a container whose file is missing")]
    InMissingContainer {
        /// The stream the LSN belongs to.
        stream: u8,
        /// The LSN.
        lsn: Lsn,
    },
    /// The restart LSN of stream `stream`, or a link of its restart chain, names a record
    /// that is not a restart record.
    #[error("of stream {stream} names {lsn}: the restart chain names a record that is not a restart record")]
    NotRestart {
        /// The stream.
        stream: u8,
        /// The LSN of the record that is not a restart record.
        lsn: Lsn,
    },
    /// A block's fixup array (`SignaturesOffset`, 2 bytes per sector) overlaps the last
    /// sector's signature without ending exactly at the block's end.
    #[error("is {found:#x}: the fixup array must end before the last sector's signature (offset at most {max:#x}) or exactly at the block's end (offset {at_end:#x})")]
    FixupOverlap {
        /// The header's `SignaturesOffset`.
        found: u64,
        /// The largest offset whose array ends before the last signature.
        max: u64,
        /// The offset whose array ends at the block's end (its last entry is the last
        /// signature).
        at_end: u64,
    },
    /// Two records of one stream carry the same LSN: a stream's LSNs strictly increase.
    #[error("{lsn} occurs twice in stream {stream} (a stream's LSNs strictly increase)")]
    RepeatedLsn {
        /// The stream.
        stream: u8,
        /// The LSN found twice.
        lsn: Lsn,
    },
}

/// Result of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
