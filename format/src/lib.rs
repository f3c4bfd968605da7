//! `clfs-format`: the on-disk format of the Windows Common Log File System (CLFS).
//!
//! It decodes and encodes what a CLFS log is made of on disk: the base log file (`.blf`, six
//! metadata blocks: control record, base record, truncate record, each with a shadow copy)
//! and the containers (log blocks of records). It is `no_std` + `alloc` and has no `unsafe`.
//! Every byte is treated as hostile: every offset and length is bounds-checked, and every
//! refusal is an [`Error`] naming the file, the block offset, the field and the broken rule.
//!
//! Layers, from the bytes up:
//! - [`block`]: the 0x70-byte block header, sector signatures and fixups, CRC-32
//!   ([`decode_block`], [`encode_block`]);
//! - [`control`], [`base`], [`truncate`]: the three metadata records;
//! - [`blf`]: the base file, choosing the valid copy with the higher dump count
//!   ([`BaseFile`]);
//! - [`record`]: the records of a container block ([`block_records`]) and a writer of
//!   blocks ([`BlockBuilder`]);
//! - [`Lsn`]: log sequence numbers as stored.
//!
//! Sources and the decisions on uncertain points are in the repository's `docs/format.md`.
//!
//! ```
//! use clfs_format::*;
//! // Write a one-record container block and read it back.
//! let mut b = BlockBuilder::new(Lsn::NULL, 1);
//! b.push(RECORD_TYPE_RESTART, Lsn::NULL, Lsn::INVALID, b"hello").unwrap();
//! let mut block = b.finish(Lsn::new(0, 0x200, 0)).unwrap();
//! let loc = Loc::new("c0", 0);
//! let h = decode_block(&mut block, SECTOR_BLOCK_DATA, ChecksumPolicy::IfPresent, &loc).unwrap();
//! let recs = block_records(&block, &h, &loc).unwrap();
//! assert_eq!(recs[0].header.lsn, Lsn::NULL);
//! assert_eq!(recs[0].header.record_type, RECORD_TYPE_RESTART | 0x24);
//! assert_eq!(recs[0].data, b"hello");
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;

pub mod base;
pub mod blf;
pub mod block;
mod bytes;
pub mod control;
pub mod error;
mod lsn;
pub mod record;
pub mod scan;
pub mod truncate;

pub use base::{
    pjw_hash, BaseRecord, Client, ClientContext, Container, ContainerContext, HashSymbol, Layout,
    LogId, LOG_STATE_MULTIPLEXED,
};
pub use blf::{decode_metadata_block, encode_metadata_block, BaseFile, Copy, BASE_FILE_SIZE};
pub use block::{
    block_crc, decode_block, encode_block, fixup_offset, fixup_offset_at_end, BlockHeader,
    ChecksumPolicy, BLOCK_HEADER_SIZE, SECTOR_BLOCK_BASE, SECTOR_BLOCK_DATA, SECTOR_BLOCK_OWNER,
    SECTOR_SIZE,
};
pub use control::{ControlRecord, MetadataBlock, MetadataBlockType};
pub use error::{Error, Loc, Result, Rule};
pub use lsn::Lsn;
pub use record::{
    block_records, BlockBuilder, BlockRecords, Record, RecordHeader, RECORD_FLAG_FIRST_IN_BLOCK,
    RECORD_FLAG_LAST_IN_BLOCK, RECORD_HEADER_SIZE, RECORD_POSITION_MASK, RECORD_TYPE_DATA,
    RECORD_TYPE_RESTART,
};
pub use scan::{scan_container, ContainerScan, ContainerWalker, Log, LogRecord, WalkedBlock};
pub use truncate::TruncateRecord;
