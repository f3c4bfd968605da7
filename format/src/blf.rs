//! The base log file (`.blf`): six metadata blocks, each record in two copies; the reader picks
//! the valid copy with the higher dump count.

use alloc::vec::Vec;

use crate::base::BaseRecord;
use crate::block::{
    decode_block, encode_block, fixup_offset, BlockHeader, ChecksumPolicy, SECTOR_BLOCK_BASE,
    SECTOR_SIZE,
};
use crate::bytes::{put, slice};
use crate::control::{ControlRecord, MetadataBlock, MetadataBlockType};
use crate::error::{Error, Loc, Result, Rule};
use crate::truncate::TruncateRecord;

/// The rule of a metadata block that is all zero: Windows leaves a shadow copy unwritten until
/// the record is first rewritten.
pub const NEVER_WRITTEN: &str = "was never written (all zero)";

/// Size of a base log file as Windows creates it (the six blocks).
pub const BASE_FILE_SIZE: usize = 0x10000;

/// A metadata block decoded and checked: header and record bytes (fixups restored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBlockImage {
    /// The block header.
    pub header: BlockHeader,
    /// The record: from `RecordOffsets[0]` to the fixup array.
    pub record: Vec<u8>,
}

/// Checks and decodes the metadata block at `offset` (`size` bytes) of `file`: header, CRC-32
/// (required), signatures (type base), fixups; returns the header and the record bytes.
pub fn decode_metadata_block(
    file: &[u8],
    offset: u32,
    size: u32,
    name: &str,
) -> Result<MetadataBlockImage> {
    let loc = Loc::new(name, offset as u64);
    let raw = slice(
        file,
        offset as usize,
        size as usize,
        &Loc::new(name, 0),
        "CLFS_METADATA_BLOCK.cbOffset",
    )?;
    if raw.iter().all(|b| *b == 0) {
        return Err(loc.err("CLFS_LOG_BLOCK_HEADER", Rule::Invalid(NEVER_WRITTEN)));
    }
    let mut buf = slice(
        file,
        offset as usize,
        size as usize,
        &Loc::new(name, 0),
        "CLFS_METADATA_BLOCK.cbOffset",
    )?
    .to_vec();
    let header = decode_block(&mut buf, SECTOR_BLOCK_BASE, ChecksumPolicy::Required, &loc)?;
    let start = header.record_offsets[0] as usize;
    let end = header.signatures_offset as usize;
    let record = slice(
        &buf,
        start,
        end.saturating_sub(start),
        &loc,
        "CLFS_LOG_BLOCK_HEADER.RecordOffsets[0]",
    )?
    .to_vec();
    Ok(MetadataBlockImage { header, record })
}

/// Encodes a metadata block of `size` bytes (a multiple of 512) holding `record` at 0x70:
/// header version 0x15, USN `usn`, LSNs INVALID, signatures of type base, CRC-32 set.
pub fn encode_metadata_block(size: usize, usn: u8, record: &[u8]) -> Result<Vec<u8>> {
    let loc = Loc::new("(encoder)", 0);
    let sectors = size / SECTOR_SIZE;
    if size % SECTOR_SIZE != 0 || sectors == 0 || sectors > u16::MAX as usize {
        return Err(loc.err(
            "CLFS_METADATA_BLOCK.cbImage",
            Rule::Misaligned {
                found: size as u64,
                align: SECTOR_SIZE as u64,
            },
        ));
    }
    let room = fixup_offset(sectors) - crate::BLOCK_HEADER_SIZE;
    if record.len() > room {
        return Err(loc.err(
            "metadata record",
            Rule::TooLarge {
                found: record.len() as u64,
                max: room as u64,
            },
        ));
    }
    let mut b = alloc::vec![0u8; size];
    put(&mut b, crate::BLOCK_HEADER_SIZE, record);
    encode_block(
        &mut b,
        &BlockHeader::new(sectors as u16, usn),
        SECTOR_BLOCK_BASE,
        true,
        &loc,
    )?;
    Ok(b)
}

/// Which of the two copies of a metadata record is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    /// The primary block.
    Primary,
    /// The shadow block.
    Shadow,
}

/// A decoded base log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseFile {
    /// The current control record.
    pub control: ControlRecord,
    /// Which copy the control record came from.
    pub control_copy: Copy,
    /// The current base record.
    pub base: BaseRecord,
    /// The general block's record bytes the base record was decoded from (for
    /// [`BaseRecord::check`]).
    pub base_bytes: Vec<u8>,
    /// Which copy the base record came from.
    pub base_copy: Copy,
    /// The truncate record, when a scratch copy is valid.
    pub truncate: Option<TruncateRecord>,
    /// Copies that failed their checks (a torn shadow is normal after a crash), and a scratch
    /// block that could not be read. Not fatal while the other copy is valid.
    pub rejected: Vec<Error>,
    /// Offsets of metadata blocks that are all zero (never written; normal for shadows).
    pub unwritten: Vec<u64>,
    /// Bytes after the last metadata block: `(offset, length)`. Windows 11 log authentication
    /// keeps an HMAC there; this crate ignores those bytes.
    pub trailing: Option<(u64, u64)>,
}

fn pick<T>(
    a: Result<T>,
    b: Result<T>,
    dump: impl Fn(&T) -> u64,
    rejected: &mut Vec<Error>,
) -> Result<(T, Copy)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok(if dump(&b) > dump(&a) {
            (b, Copy::Shadow)
        } else {
            (a, Copy::Primary)
        }),
        (Ok(a), Err(e)) => {
            rejected.push(e);
            Ok((a, Copy::Primary))
        }
        (Err(e), Ok(b)) => {
            rejected.push(e);
            Ok((b, Copy::Shadow))
        }
        (Err(e), Err(f)) => {
            rejected.push(f);
            Err(e)
        }
    }
}

impl BaseFile {
    /// Decodes a base log file. `name` is used in errors.
    ///
    /// Picks the valid control copy with the higher dump count, checks its block table
    /// against the file (each block 512-aligned, at least one sector, inside the file, not
    /// overlapping the control blocks' table entries' order), then does the same for the
    /// general (base record) and scratch (truncate record) blocks. Both copies invalid is an
    /// error (the primary's); a scratch block that cannot be read is only noted in
    /// [`rejected`](Self::rejected).
    pub fn decode(file: &[u8], name: &str) -> Result<BaseFile> {
        let mut rejected = Vec::new();
        let ctl = |t: MetadataBlockType| -> Result<ControlRecord> {
            let (o, s) = t.default_extent();
            let img = decode_metadata_block(file, o, s, name)?;
            let loc = Loc::new(name, o as u64);
            let c = ControlRecord::decode(&img.record, &loc)?;
            c.check_extend(file.len() as u64, &loc)?;
            Ok(c)
        };
        let (control, control_copy) = pick(
            ctl(MetadataBlockType::Control),
            ctl(MetadataBlockType::ControlShadow),
            |c| c.dump_count,
            &mut rejected,
        )?;
        let ctl_loc = Loc::new(
            name,
            match control_copy {
                Copy::Primary => 0,
                Copy::Shadow => 0x400,
            },
        );
        let mut end = 0u64;
        for b in &control.blocks {
            check_extent(b, file.len(), &ctl_loc)?;
            end = end.max(b.offset as u64 + b.size as u64);
        }
        check_disjoint(&control.blocks, &ctl_loc)?;
        let block =
            |t: MetadataBlockType| -> Option<&MetadataBlock> { control.blocks.get(t as usize) };
        let general = |t: MetadataBlockType| -> Result<(BaseRecord, Vec<u8>)> {
            let b = block(t).ok_or_else(|| {
                ctl_loc.err(
                    "CLFS_CONTROL_RECORD.cBlocks",
                    Rule::Invalid("block missing"),
                )
            })?;
            let img = decode_metadata_block(file, b.offset, b.size, name)?;
            let rec = BaseRecord::decode(&img.record, &Loc::new(name, b.offset as u64))?;
            Ok((rec, img.record))
        };
        let ((base, base_bytes), base_copy) = pick(
            general(MetadataBlockType::General),
            general(MetadataBlockType::GeneralShadow),
            |(r, _)| r.dump_count,
            &mut rejected,
        )?;
        let scratch = |t: MetadataBlockType| -> Result<TruncateRecord> {
            let b = block(t).ok_or_else(|| {
                ctl_loc.err(
                    "CLFS_CONTROL_RECORD.cBlocks",
                    Rule::Invalid("block missing"),
                )
            })?;
            let img = decode_metadata_block(file, b.offset, b.size, name)?;
            TruncateRecord::decode(&img.record, &Loc::new(name, b.offset as u64))
        };
        let truncate = pick(
            scratch(MetadataBlockType::Scratch),
            scratch(MetadataBlockType::ScratchShadow),
            |t| t.dump_count,
            &mut rejected,
        );
        let truncate = match truncate {
            Ok((t, _)) => Some(t),
            Err(e) => {
                rejected.push(e);
                None
            }
        };
        let (unwritten, rejected): (Vec<Error>, Vec<Error>) = rejected
            .into_iter()
            .partition(|e| e.rule == Rule::Invalid(NEVER_WRITTEN));
        let unwritten = unwritten.iter().map(|e| e.offset).collect();
        let len = file.len() as u64;
        let trailing = (len > end).then_some((end, len - end));
        Ok(BaseFile {
            control,
            control_copy,
            base,
            base_bytes,
            base_copy,
            truncate,
            rejected,
            unwritten,
            trailing,
        })
    }

    /// A complete base file image: each of the control record's six blocks written at its
    /// offset with its record (both copies of a pair get the same record), blocks stamped with
    /// USN `usn` and their CRC-32.
    pub fn encode_image(
        control: &ControlRecord,
        base: &BaseRecord,
        truncate: &TruncateRecord,
        usn: u8,
    ) -> Result<Vec<u8>> {
        let loc = Loc::new("(encoder)", 0);
        let ctl = control.encode();
        let gen = base.encode()?;
        let scr = truncate.encode();
        let mut end = 0usize;
        for b in &control.blocks {
            check_extent(b, usize::MAX, &loc)?;
            end = end.max(b.offset as usize + b.size as usize);
        }
        let mut file = alloc::vec![0u8; end];
        for b in &control.blocks {
            let rec = match MetadataBlockType::from_u32(b.block_type) {
                Some(MetadataBlockType::Control | MetadataBlockType::ControlShadow) => &ctl,
                Some(MetadataBlockType::General | MetadataBlockType::GeneralShadow) => &gen,
                Some(MetadataBlockType::Scratch | MetadataBlockType::ScratchShadow) => &scr,
                None => {
                    return Err(loc.err(
                        "CLFS_CONTROL_RECORD.rgBlocks[].eBlockType",
                        Rule::TooLarge {
                            found: b.block_type as u64,
                            max: 5,
                        },
                    ))
                }
            };
            let blk = encode_metadata_block(b.size as usize, usn, rec)?;
            put(&mut file, b.offset as usize, &blk);
        }
        Ok(file)
    }
}

/// No two blocks of the table share a byte (an extended base file moves the blocks after the
/// grown ones; they still may not overlap).
fn check_disjoint(blocks: &[MetadataBlock], loc: &Loc<'_>) -> Result<()> {
    let mut spans: Vec<(u64, u64)> = blocks
        .iter()
        .map(|b| (b.offset as u64, b.offset as u64 + b.size as u64))
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        if let [(_, end), (start, _)] = w {
            if start < end {
                return Err(loc.err(
                    "CLFS_CONTROL_RECORD.rgBlocks[].cbOffset",
                    Rule::TooSmall {
                        found: *start,
                        min: *end,
                    },
                ));
            }
        }
    }
    Ok(())
}

fn check_extent(b: &MetadataBlock, file_len: usize, loc: &Loc<'_>) -> Result<()> {
    if b.size > crate::control::MAX_METADATA_BLOCK_SIZE {
        return Err(loc.err(
            "CLFS_CONTROL_RECORD.rgBlocks[].cbImage",
            Rule::TooLarge {
                found: b.size as u64,
                max: crate::control::MAX_METADATA_BLOCK_SIZE as u64,
            },
        ));
    }
    if b.size as usize % SECTOR_SIZE != 0 || b.size == 0 {
        return Err(loc.err(
            "CLFS_CONTROL_RECORD.rgBlocks[].cbImage",
            Rule::Misaligned {
                found: b.size as u64,
                align: SECTOR_SIZE as u64,
            },
        ));
    }
    if b.offset as usize % SECTOR_SIZE != 0 {
        return Err(loc.err(
            "CLFS_CONTROL_RECORD.rgBlocks[].cbOffset",
            Rule::Misaligned {
                found: b.offset as u64,
                align: SECTOR_SIZE as u64,
            },
        ));
    }
    let end = b.offset as u64 + b.size as u64;
    if end > file_len as u64 {
        return Err(loc.err(
            "CLFS_CONTROL_RECORD.rgBlocks[].cbOffset",
            Rule::TooLarge {
                found: end,
                max: file_len as u64,
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::{ClientContext, ContainerContext, LogId};
    use crate::Lsn;

    fn image(dump: u64) -> (ControlRecord, BaseRecord, Vec<u8>) {
        let c = ControlRecord::new(dump);
        let mut b = BaseRecord::new(LogId([1; 16]));
        b.dump_count = dump;
        let mut cc = ClientContext::new(0);
        cc.restart = Lsn::NULL;
        b.add_client(cc, "\\??\\C:\\logs\\ledger.blf");
        b.add_container(
            ContainerContext::new(0, 0, 0x80000),
            "%BLF%\\ledgerContainer0",
        );
        b.add_container(
            ContainerContext::new(1, 1, 0x80000),
            "%BLF%\\ledgerContainer1",
        );
        let t = TruncateRecord {
            dump_count: dump,
            ..Default::default()
        };
        let f = BaseFile::encode_image(&c, &b, &t, 1).unwrap();
        (c, b, f)
    }

    #[test]
    fn image_round_trips() {
        let (c, b, f) = image(5);
        assert_eq!(f.len(), BASE_FILE_SIZE);
        let d = BaseFile::decode(&f, "ledger.blf").unwrap();
        assert_eq!(d.control, c);
        assert_eq!(d.base.containers.len(), 2);
        assert_eq!(d.base.clients[0].context, b.clients[0].context);
        assert_eq!(d.base.encode().unwrap(), b.encode().unwrap());
        d.base
            .check(&d.base_bytes, &Loc::new("ledger.blf", 0x800))
            .unwrap();
        assert!(d.rejected.is_empty());
        assert_eq!(d.trailing, None);
        assert_eq!(d.truncate.unwrap().dump_count, 5);
    }

    #[test]
    fn the_newer_valid_copy_wins_and_a_torn_one_is_noted() {
        let (_, _, old) = image(33);
        let (_, _, new) = image(34);
        // Shadow general block from the newer image: the shadow wins (as in the Windows sample).
        let mut f = old.clone();
        f[0x8200..0xfc00].copy_from_slice(&new[0x8200..0xfc00]);
        let d = BaseFile::decode(&f, "x.blf").unwrap();
        assert_eq!((d.base.dump_count, d.base_copy), (34, Copy::Shadow));
        // Tear the shadow (one sector from an older write): the primary is used, the shadow noted.
        f[0x8200 + 3 * 512 + 511] = 0;
        let d = BaseFile::decode(&f, "x.blf").unwrap();
        assert_eq!((d.base.dump_count, d.base_copy), (33, Copy::Primary));
        assert_eq!(d.rejected.len(), 1);
        assert_eq!(d.rejected[0].offset, 0x8200);
        // Both torn: the primary's error.
        f[0x800 + 511] = 0;
        let e = BaseFile::decode(&f, "x.blf").unwrap_err();
        assert_eq!((e.file.as_str(), e.offset), ("x.blf", 0x800));
    }

    /// An extended base file: general blocks of 305 sectors (five times the default, with a
    /// fixup array over two sectors), the scratch blocks moved after them.
    #[test]
    fn an_extended_base_file_round_trips() {
        let g = 5 * 0x7a00;
        let c = ControlRecord::with_general_size(7, g);
        let mut b = BaseRecord::new(LogId([2; 16]));
        b.dump_count = 7;
        b.add_client(ClientContext::new(0), "\\??\\C:\\logs\\big.blf");
        for i in 0..400 {
            b.add_container(
                ContainerContext::new(i, i, 0x80000),
                &alloc::format!("%BLF%\\bigContainer{i:04}"),
            );
        }
        assert!(
            b.encode().unwrap().len() > 0x7980,
            "needs more than one default block"
        );
        let t = TruncateRecord {
            dump_count: 7,
            ..Default::default()
        };
        let f = BaseFile::encode_image(&c, &b, &t, 1).unwrap();
        assert_eq!(f.len(), 0x800 + 2 * g as usize + 0x400);
        let d = BaseFile::decode(&f, "big.blf").unwrap();
        assert_eq!(d.control.blocks[3].offset, 0x800 + g);
        assert_eq!(d.control.blocks[4].offset, 0x800 + 2 * g);
        assert_eq!(d.base.containers.len(), 400);
        d.base
            .check(&d.base_bytes, &Loc::new("big.blf", 0x800))
            .unwrap();
        assert!(d.rejected.is_empty() && d.trailing.is_none());
    }

    #[test]
    fn hostile_tables_and_extend_contexts_are_refused() {
        let (mut c, b, _) = image(3);
        let t = TruncateRecord::default();
        // Overlapping blocks: the scratch block inside the general shadow.
        c.blocks[4].offset = 0x8400;
        let f = BaseFile::encode_image(&ControlRecord::new(3), &b, &t, 1).unwrap();
        let mut bad = f.clone();
        let blk = encode_metadata_block(0x400, 1, &c.encode()).unwrap();
        bad[..0x400].copy_from_slice(&blk);
        bad[0x400..0x800].copy_from_slice(&blk);
        let e = BaseFile::decode(&bad, "x.blf").unwrap_err();
        assert_eq!(e.field, "CLFS_CONTROL_RECORD.rgBlocks[].cbOffset");
        // An extend context Clfs.sys would refuse to resume: the newer control copy is
        // rejected, the older one used.
        let mut c = ControlRecord::new(9);
        c.extend_state = crate::control::EXTEND_STATE_FLUSHING_BLOCK;
        c.extend_block = 3;
        c.flush_block = 3;
        let mut bad = f.clone();
        bad[0x400..0x800].copy_from_slice(&encode_metadata_block(0x400, 1, &c.encode()).unwrap());
        let d = BaseFile::decode(&bad, "x.blf").unwrap();
        assert_eq!((d.control.dump_count, d.control_copy), (3, Copy::Primary));
        assert_eq!(d.rejected[0].field, "CLFS_CONTROL_RECORD.iExtendBlock");
        // A plausible one is accepted.
        c.extend_block = 2;
        c.new_block_sectors = 122;
        c.extend_start_sectors = 61;
        c.extend_sectors = 122;
        bad[0x400..0x800].copy_from_slice(&encode_metadata_block(0x400, 1, &c.encode()).unwrap());
        let d = BaseFile::decode(&bad, "x.blf").unwrap();
        assert_eq!(d.control.dump_count, 9);
        c.new_block_sectors = 123;
        bad[0x400..0x800].copy_from_slice(&encode_metadata_block(0x400, 1, &c.encode()).unwrap());
        let d = BaseFile::decode(&bad, "x.blf").unwrap();
        assert_eq!(d.rejected[0].field, "CLFS_CONTROL_RECORD.cNewBlockSectors");
    }

    #[test]
    fn trailing_bytes_are_reported_not_parsed() {
        let (_, _, mut f) = image(1);
        f.extend_from_slice(&[0xee; 0x400]);
        let d = BaseFile::decode(&f, "x.blf").unwrap();
        assert_eq!(d.trailing, Some((0x10000, 0x400)));
    }

    #[test]
    fn short_or_hostile_files_are_refused() {
        let (_, _, f) = image(1);
        assert!(BaseFile::decode(&f[..0x300], "x.blf").is_err());
        assert!(
            BaseFile::decode(&f[..0x9000], "x.blf").is_err(),
            "shorter than its block table"
        );
        assert!(BaseFile::decode(&f[..0x800], "x.blf").is_err());
        assert!(BaseFile::decode(&[], "x.blf").is_err());
    }
}
