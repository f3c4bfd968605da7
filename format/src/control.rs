//! The control record (`CLFS_CONTROL_RECORD`): magic, version, extend and truncate state, and
//! the table of the six metadata blocks.

use alloc::vec::Vec;

use crate::bytes::{put_u16, put_u32, put_u64, put_u8, u16_, u32_, u64_, u8_};
use crate::error::{Loc, Result, Rule};
use crate::Lsn;

/// `CLFS_CONTROL_RECORD_MAGIC_VALUE`.
pub const CONTROL_MAGIC: u64 = 0xC1F5_C1F5_0000_5F1C;
/// `MAJORVERSION_CONTROL`.
pub const CONTROL_VERSION: u8 = 1;
/// `CLFS_METADATA_BLOCK_COUNT`.
pub const METADATA_BLOCK_COUNT: usize = 6;
/// Size of the control record up to its block table.
pub const CONTROL_RECORD_FIXED_SIZE: usize = 0x50;
/// Size of one `CLFS_METADATA_BLOCK` entry on disk.
pub const METADATA_BLOCK_ENTRY_SIZE: usize = 0x18;

/// `ClfsExtendStateNone`: no extension in progress (a quiet base file).
pub const EXTEND_STATE_NONE: u32 = 0;
/// `ClfsExtendStateExtendingFsd`: the base file is being made larger.
pub const EXTEND_STATE_EXTENDING_FSD: u32 = 1;
/// `ClfsExtendStateFlushingBlock`: the grown blocks are being written (`iFlushBlock`).
pub const EXTEND_STATE_FLUSHING_BLOCK: u32 = 2;
/// The largest metadata block: `TotalSectorCount` is a `USHORT`.
pub const MAX_METADATA_BLOCK_SIZE: u32 = 0xffff * 512;

/// `CLFS_METADATA_BLOCK_TYPE`: the six blocks of a base log file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum MetadataBlockType {
    /// `ClfsMetaBlockControl` (control record).
    Control = 0,
    /// `ClfsMetaBlockControlShadow`.
    ControlShadow = 1,
    /// `ClfsMetaBlockGeneral` (base record).
    General = 2,
    /// `ClfsMetaBlockGeneralShadow`.
    GeneralShadow = 3,
    /// `ClfsMetaBlockScratch` (truncate record).
    Scratch = 4,
    /// `ClfsMetaBlockScratchShadow`.
    ScratchShadow = 5,
}

impl MetadataBlockType {
    /// All six, in file order.
    pub const ALL: [MetadataBlockType; 6] = [
        Self::Control,
        Self::ControlShadow,
        Self::General,
        Self::GeneralShadow,
        Self::Scratch,
        Self::ScratchShadow,
    ];
    /// Where Windows puts this block in a new 64 KiB base file: `(offset, size)`.
    pub const fn default_extent(self) -> (u32, u32) {
        match self {
            Self::Control => (0x0, 0x400),
            Self::ControlShadow => (0x400, 0x400),
            Self::General => (0x800, 0x7a00),
            Self::GeneralShadow => (0x8200, 0x7a00),
            Self::Scratch => (0xfc00, 0x200),
            Self::ScratchShadow => (0xfe00, 0x200),
        }
    }
    /// The block type with this number, if any.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Control),
            1 => Some(Self::ControlShadow),
            2 => Some(Self::General),
            3 => Some(Self::GeneralShadow),
            4 => Some(Self::Scratch),
            5 => Some(Self::ScratchShadow),
            _ => None,
        }
    }
}

/// One `CLFS_METADATA_BLOCK` entry of the control record's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataBlock {
    /// `pbImage`: an in-memory pointer; 0 on disk and never trusted.
    pub image: u64,
    /// `cbImage`: size of the block in bytes.
    pub size: u32,
    /// `cbOffset`: offset of the block in the base file.
    pub offset: u32,
    /// `eBlockType`.
    pub block_type: u32,
    /// Four bytes of padding (kept for round trips).
    pub padding: u32,
}

/// `CLFS_TRUNCATE_CONTEXT` inside the control record (all zero on a quiet log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TruncateContext {
    /// `eTruncateState`.
    pub state: u32,
    /// `cClients`.
    pub clients: u8,
    /// `iClient`.
    pub client: u8,
    /// `lsnOwnerPage`.
    pub owner_page: Lsn,
    /// `lsnLastOwnerPage`.
    pub last_owner_page: Lsn,
    /// `cInvalidSector`.
    pub invalid_sector: u32,
}

/// `CLFS_CONTROL_RECORD`: the record of the control block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRecord {
    /// `hdrControlRecord.ullDumpCount`: the copy with the higher count is current.
    pub dump_count: u64,
    /// `ullMagicValue` ([`CONTROL_MAGIC`]).
    pub magic: u64,
    /// `Version` ([`CONTROL_VERSION`]).
    pub version: u8,
    /// `eExtendState` (0 = none).
    pub extend_state: u32,
    /// `iExtendBlock`.
    pub extend_block: u16,
    /// `iFlushBlock`.
    pub flush_block: u16,
    /// `cNewBlockSectors`.
    pub new_block_sectors: u32,
    /// `cExtendStartSectors`.
    pub extend_start_sectors: u32,
    /// `cExtendSectors`.
    pub extend_sectors: u32,
    /// `cxTruncate`.
    pub truncate: TruncateContext,
    /// `cReserved`.
    pub reserved: u32,
    /// `rgBlocks[cBlocks]`.
    pub blocks: Vec<MetadataBlock>,
}

mod off {
    pub const DUMP: usize = 0x00;
    pub const MAGIC: usize = 0x08;
    pub const VERSION: usize = 0x10;
    pub const EXTEND_STATE: usize = 0x14;
    pub const EXTEND_BLOCK: usize = 0x18;
    pub const FLUSH_BLOCK: usize = 0x1a;
    pub const NEW_BLOCK_SECTORS: usize = 0x1c;
    pub const EXTEND_START: usize = 0x20;
    pub const EXTEND_SECTORS: usize = 0x24;
    pub const TRUNC_STATE: usize = 0x28;
    pub const TRUNC_CLIENTS: usize = 0x2c;
    pub const TRUNC_CLIENT: usize = 0x2d;
    pub const TRUNC_OWNER: usize = 0x30;
    pub const TRUNC_LAST_OWNER: usize = 0x38;
    pub const TRUNC_INVALID: usize = 0x40;
    pub const BLOCKS_COUNT: usize = 0x48;
    pub const RESERVED: usize = 0x4c;
    pub const BLOCKS: usize = 0x50;
}

impl ControlRecord {
    /// The control record of a new log: dump count `dump_count`, magic, version 1, nothing
    /// extending or truncating, and the standard six-block table.
    pub fn new(dump_count: u64) -> ControlRecord {
        Self::with_general_size(dump_count, MetadataBlockType::General.default_extent().1)
    }

    /// The six-block table of a base file whose general blocks are `general` bytes each, laid
    /// out in file order without gaps: control and its shadow (0x400 bytes each at 0 and
    /// 0x400), general and its shadow from 0x800, then scratch and its shadow (0x200 each).
    /// With 0x7a00 it is the table of a new 64 KiB base file. `None` if an offset would not
    /// fit 32 bits.
    pub fn standard_blocks(general: u32) -> Option<Vec<MetadataBlock>> {
        let g = general;
        let gs = 0x800u32.checked_add(g)?;
        let s = gs.checked_add(g)?;
        let ss = s.checked_add(0x200)?;
        ss.checked_add(0x200)?;
        let extents = [
            (0, 0x400),
            (0x400, 0x400),
            (0x800, g),
            (gs, g),
            (s, 0x200),
            (ss, 0x200),
        ];
        Some(
            extents
                .iter()
                .zip(MetadataBlockType::ALL)
                .map(|(&(offset, size), t)| MetadataBlock {
                    image: 0,
                    size,
                    offset,
                    block_type: t as u32,
                    padding: 0,
                })
                .collect(),
        )
    }

    /// [`new`](Self::new) with general blocks of `general` bytes
    /// ([`standard_blocks`](Self::standard_blocks); the default table if that overflows).
    pub fn with_general_size(dump_count: u64, general: u32) -> ControlRecord {
        ControlRecord {
            dump_count,
            magic: CONTROL_MAGIC,
            version: CONTROL_VERSION,
            extend_state: 0,
            extend_block: 0,
            flush_block: 0,
            new_block_sectors: 0,
            extend_start_sectors: 0,
            extend_sectors: 0,
            truncate: TruncateContext::default(),
            reserved: 0,
            blocks: Self::standard_blocks(general).unwrap_or_else(|| {
                MetadataBlockType::ALL
                    .iter()
                    .map(|t| {
                        let (offset, size) = t.default_extent();
                        MetadataBlock {
                            image: 0,
                            size,
                            offset,
                            block_type: *t as u32,
                            padding: 0,
                        }
                    })
                    .collect()
            }),
        }
    }

    /// Checks the extend context against a base file of `file_len` bytes when an extension is
    /// recorded (`eExtendState` not none), with the rules Clfs.sys applies before it resumes
    /// one at open: `eExtendState` is 1 or 2; `iExtendBlock` is a primary general or scratch
    /// block (2 or 4); `iExtendBlock` <= `iFlushBlock` < 6; `cExtendStartSectors` at most the
    /// file's sectors; `cNewBlockSectors` at most `cExtendSectors / 2` plus the extended
    /// block's sectors in the table. A quiet record (state none) passes whatever the other
    /// fields hold.
    pub fn check_extend(&self, file_len: u64, loc: &Loc<'_>) -> Result<()> {
        if self.extend_state == EXTEND_STATE_NONE {
            return Ok(());
        }
        if self.extend_state > EXTEND_STATE_FLUSHING_BLOCK {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.eExtendState",
                Rule::TooLarge {
                    found: self.extend_state as u64,
                    max: EXTEND_STATE_FLUSHING_BLOCK as u64,
                },
            ));
        }
        let ext = self.extend_block;
        if ext != MetadataBlockType::General as u16 && ext != MetadataBlockType::Scratch as u16 {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.iExtendBlock",
                Rule::Invalid("not 2 (general) or 4 (scratch)"),
            ));
        }
        let flush = self.flush_block;
        if flush < ext {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.iFlushBlock",
                Rule::TooSmall {
                    found: flush as u64,
                    min: ext as u64,
                },
            ));
        }
        if flush as usize >= METADATA_BLOCK_COUNT {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.iFlushBlock",
                Rule::TooLarge {
                    found: flush as u64,
                    max: METADATA_BLOCK_COUNT as u64 - 1,
                },
            ));
        }
        let file_sectors = file_len / 512;
        if self.extend_start_sectors as u64 > file_sectors {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.cExtendStartSectors",
                Rule::TooLarge {
                    found: self.extend_start_sectors as u64,
                    max: file_sectors,
                },
            ));
        }
        let block = self
            .blocks
            .get(ext as usize)
            .map_or(0, |b| b.size as u64 / 512);
        let max = self.extend_sectors as u64 / 2 + block;
        if self.new_block_sectors as u64 > max {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.cNewBlockSectors",
                Rule::TooLarge {
                    found: self.new_block_sectors as u64,
                    max,
                },
            ));
        }
        Ok(())
    }

    /// Decodes and checks a control record (the bytes from the block's `RecordOffsets[0]` to
    /// the block's fixup array). Rules: magic, version 1, `cBlocks` = 6 and the table fits,
    /// each entry's type equals its index. The extents are checked against the file by the
    /// base-file reader ([`crate::BaseFile`]).
    pub fn decode(r: &[u8], loc: &Loc<'_>) -> Result<ControlRecord> {
        const F: &str = "CLFS_CONTROL_RECORD";
        let magic = u64_(r, off::MAGIC, loc, "CLFS_CONTROL_RECORD.ullMagicValue")?;
        if magic != CONTROL_MAGIC {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.ullMagicValue",
                Rule::Mismatch {
                    found: magic,
                    expected: CONTROL_MAGIC,
                },
            ));
        }
        let version = u8_(r, off::VERSION, loc, F)?;
        if version != CONTROL_VERSION {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.Version",
                Rule::Mismatch {
                    found: version as u64,
                    expected: CONTROL_VERSION as u64,
                },
            ));
        }
        let count = u16_(r, off::BLOCKS_COUNT, loc, "CLFS_CONTROL_RECORD.cBlocks")? as usize;
        if count != METADATA_BLOCK_COUNT {
            return Err(loc.err(
                "CLFS_CONTROL_RECORD.cBlocks",
                Rule::Mismatch {
                    found: count as u64,
                    expected: METADATA_BLOCK_COUNT as u64,
                },
            ));
        }
        let mut blocks = Vec::with_capacity(count);
        for i in 0..count {
            let at = off::BLOCKS + i * METADATA_BLOCK_ENTRY_SIZE;
            const B: &str = "CLFS_CONTROL_RECORD.rgBlocks";
            let b = MetadataBlock {
                image: u64_(r, at, loc, B)?,
                size: u32_(r, at + 8, loc, B)?,
                offset: u32_(r, at + 12, loc, B)?,
                block_type: u32_(r, at + 16, loc, B)?,
                padding: u32_(r, at + 20, loc, B)?,
            };
            if b.block_type != i as u32 {
                return Err(loc.err(
                    "CLFS_CONTROL_RECORD.rgBlocks[].eBlockType",
                    Rule::Mismatch {
                        found: b.block_type as u64,
                        expected: i as u64,
                    },
                ));
            }
            blocks.push(b);
        }
        Ok(ControlRecord {
            dump_count: u64_(r, off::DUMP, loc, F)?,
            magic,
            version,
            extend_state: u32_(r, off::EXTEND_STATE, loc, F)?,
            extend_block: u16_(r, off::EXTEND_BLOCK, loc, F)?,
            flush_block: u16_(r, off::FLUSH_BLOCK, loc, F)?,
            new_block_sectors: u32_(r, off::NEW_BLOCK_SECTORS, loc, F)?,
            extend_start_sectors: u32_(r, off::EXTEND_START, loc, F)?,
            extend_sectors: u32_(r, off::EXTEND_SECTORS, loc, F)?,
            truncate: TruncateContext {
                state: u32_(r, off::TRUNC_STATE, loc, F)?,
                clients: u8_(r, off::TRUNC_CLIENTS, loc, F)?,
                client: u8_(r, off::TRUNC_CLIENT, loc, F)?,
                owner_page: Lsn(u64_(r, off::TRUNC_OWNER, loc, F)?),
                last_owner_page: Lsn(u64_(r, off::TRUNC_LAST_OWNER, loc, F)?),
                invalid_sector: u32_(r, off::TRUNC_INVALID, loc, F)?,
            },
            reserved: u32_(r, off::RESERVED, loc, F)?,
            blocks,
        })
    }

    /// The record's size on disk.
    pub fn encoded_len(&self) -> usize {
        CONTROL_RECORD_FIXED_SIZE + METADATA_BLOCK_ENTRY_SIZE * self.blocks.len()
    }

    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut r = alloc::vec![0u8; self.encoded_len()];
        let b = r.as_mut_slice();
        put_u64(b, off::DUMP, self.dump_count);
        put_u64(b, off::MAGIC, self.magic);
        put_u8(b, off::VERSION, self.version);
        put_u32(b, off::EXTEND_STATE, self.extend_state);
        put_u16(b, off::EXTEND_BLOCK, self.extend_block);
        put_u16(b, off::FLUSH_BLOCK, self.flush_block);
        put_u32(b, off::NEW_BLOCK_SECTORS, self.new_block_sectors);
        put_u32(b, off::EXTEND_START, self.extend_start_sectors);
        put_u32(b, off::EXTEND_SECTORS, self.extend_sectors);
        put_u32(b, off::TRUNC_STATE, self.truncate.state);
        put_u8(b, off::TRUNC_CLIENTS, self.truncate.clients);
        put_u8(b, off::TRUNC_CLIENT, self.truncate.client);
        put_u64(b, off::TRUNC_OWNER, self.truncate.owner_page.0);
        put_u64(b, off::TRUNC_LAST_OWNER, self.truncate.last_owner_page.0);
        put_u32(b, off::TRUNC_INVALID, self.truncate.invalid_sector);
        put_u16(b, off::BLOCKS_COUNT, self.blocks.len() as u16);
        put_u32(b, off::RESERVED, self.reserved);
        for (i, blk) in self.blocks.iter().enumerate() {
            let at = off::BLOCKS + i * METADATA_BLOCK_ENTRY_SIZE;
            put_u64(b, at, blk.image);
            put_u32(b, at + 8, blk.size);
            put_u32(b, at + 12, blk.offset);
            put_u32(b, at + 16, blk.block_type);
            put_u32(b, at + 20, blk.padding);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOC: Loc<'static> = Loc::new("t.blf", 0);

    #[test]
    fn round_trips() {
        let mut c = ControlRecord::new(34);
        c.truncate.owner_page = Lsn::new(1, 0x200, 3);
        c.extend_block = 2;
        let bytes = c.encode();
        assert_eq!(bytes.len(), 0x50 + 6 * 0x18);
        assert_eq!(&bytes[8..16], &CONTROL_MAGIC.to_le_bytes());
        assert_eq!(ControlRecord::decode(&bytes, &LOC).unwrap(), c);
    }

    #[test]
    fn refuses_bad_magic_count_and_type() {
        let good = ControlRecord::new(1).encode();
        let mut b = good.clone();
        b[8] ^= 1;
        assert_eq!(
            ControlRecord::decode(&b, &LOC).unwrap_err().field,
            "CLFS_CONTROL_RECORD.ullMagicValue"
        );
        let mut b = good.clone();
        b[0x48] = 7;
        assert!(matches!(
            ControlRecord::decode(&b, &LOC).unwrap_err().rule,
            Rule::Mismatch {
                found: 7,
                expected: 6
            }
        ));
        let mut b = good.clone();
        b[0x50 + 0x18 + 16] = 4;
        assert_eq!(
            ControlRecord::decode(&b, &LOC).unwrap_err().field,
            "CLFS_CONTROL_RECORD.rgBlocks[].eBlockType"
        );
        assert!(ControlRecord::decode(&good[..0x60], &LOC).is_err());
    }
}
