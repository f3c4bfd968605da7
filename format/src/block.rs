//! Log blocks: the 0x70-byte `CLFS_LOG_BLOCK_HEADER`, sector signatures with their fixup array,
//! and the CRC-32. Base-file metadata blocks and container blocks share this layout.

use crate::bytes::{align_up, arr, put, put_u16, put_u32, put_u64, put_u8, u16_, u32_, u64_, u8_};
use crate::error::{Loc, Result, Rule};
use crate::Lsn;

/// Bytes in a sector. CLFS always uses 512 (`CLFS_SECTOR_SIZE`).
pub const SECTOR_SIZE: usize = 0x200;
/// Size of `CLFS_LOG_BLOCK_HEADER`.
pub const BLOCK_HEADER_SIZE: usize = 0x70;
/// `MAJORVERSION` in every block header.
pub const MAJOR_VERSION: u8 = 0x15;
/// `MINORVERSION` in every block header.
pub const MINOR_VERSION: u8 = 0x00;
/// Block header flag `CLFS_BLOCK_ENCODED`: the signatures are stamped (the on-disk state).
pub const BLOCK_FLAG_ENCODED: u32 = 0x1;

/// Sector signature type byte `SECTOR_BLOCK_DATA`: a container data block.
pub const SECTOR_BLOCK_DATA: u8 = 0x04;
/// Sector signature type byte `SECTOR_BLOCK_OWNER`: an owner page (multiplexed logs).
pub const SECTOR_BLOCK_OWNER: u8 = 0x08;
/// Sector signature type byte `SECTOR_BLOCK_BASE`: a base-file metadata block.
pub const SECTOR_BLOCK_BASE: u8 = 0x10;
/// Sector signature flag `SECTOR_BLOCK_END`: the block's last sector.
pub const SECTOR_BLOCK_END: u8 = 0x20;
/// Sector signature flag `SECTOR_BLOCK_BEGIN`: the block's first sector.
pub const SECTOR_BLOCK_BEGIN: u8 = 0x40;

/// Most sectors a block may have: the header's counts are 16-bit.
pub const MAX_BLOCK_SECTORS: usize = u16::MAX as usize;

mod off {
    pub const MAJOR: usize = 0x00;
    pub const MINOR: usize = 0x01;
    pub const USN: usize = 0x02;
    pub const CLIENT: usize = 0x03;
    pub const TOTAL: usize = 0x04;
    pub const VALID: usize = 0x06;
    pub const PADDING: usize = 0x08;
    pub const CHECKSUM: usize = 0x0c;
    pub const FLAGS: usize = 0x10;
    pub const PADDING2: usize = 0x14;
    pub const CURRENT: usize = 0x18;
    pub const NEXT: usize = 0x20;
    pub const RECORDS: usize = 0x28;
    pub const SIGNATURES: usize = 0x68;
    pub const RESERVED: usize = 0x6c;
}

/// `CLFS_LOG_BLOCK_HEADER` (0x70 bytes), the start of every block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// `MajorVersion`, 0x15.
    pub major_version: u8,
    /// `MinorVersion`, 0.
    pub minor_version: u8,
    /// `Usn`: update sequence number, repeated in every sector signature.
    pub usn: u8,
    /// `ClientId`: the stream of a container block; 0 for metadata blocks.
    pub client_id: u8,
    /// `TotalSectorCount`.
    pub total_sectors: u16,
    /// `ValidSectorCount`.
    pub valid_sectors: u16,
    /// `Padding` (kept for round trips).
    pub padding: u32,
    /// `Checksum`: CRC-32 of the block on disk with this field zero; 0 on container blocks.
    pub checksum: u32,
    /// `Flags` ([`BLOCK_FLAG_ENCODED`] on disk).
    pub flags: u32,
    /// Four bytes of alignment padding after `Flags` (kept for round trips).
    pub padding2: u32,
    /// `CurrentLsn`: the LSN of the block (container blocks); INVALID on metadata blocks.
    pub current_lsn: Lsn,
    /// `NextLsn`: on container blocks, the next block's LSN when the block ends a flush, else
    /// INVALID; INVALID on metadata blocks.
    pub next_lsn: Lsn,
    /// `RecordOffsets[16]`: offset of the first record is `[0]` (0x70); the rest are 0 in
    /// every block seen.
    pub record_offsets: [u32; 16],
    /// `SignaturesOffset`: where the fixup array lies, from the block start.
    pub signatures_offset: u32,
    /// Four bytes after `SignaturesOffset` (kept for round trips).
    pub reserved: u32,
}

impl BlockHeader {
    /// A header for a fresh block of `sectors` sectors: version 0x15.0, the given USN, both
    /// sector counts, flags ENCODED, LSNs INVALID, the first record at 0x70 and the fixup
    /// array where Windows puts it ([`fixup_offset`]).
    pub fn new(sectors: u16, usn: u8) -> BlockHeader {
        let mut record_offsets = [0u32; 16];
        record_offsets[0] = BLOCK_HEADER_SIZE as u32;
        BlockHeader {
            major_version: MAJOR_VERSION,
            minor_version: MINOR_VERSION,
            usn,
            client_id: 0,
            total_sectors: sectors,
            valid_sectors: sectors,
            padding: 0,
            checksum: 0,
            flags: BLOCK_FLAG_ENCODED,
            padding2: 0,
            current_lsn: Lsn::INVALID,
            next_lsn: Lsn::INVALID,
            record_offsets,
            signatures_offset: fixup_offset(sectors as usize) as u32,
            reserved: 0,
        }
    }

    /// Decodes the first 0x70 bytes of `b` without checking any rule (see [`decode_block`] for
    /// the checked path).
    pub fn decode(b: &[u8], loc: &Loc<'_>) -> Result<BlockHeader> {
        const F: &str = "CLFS_LOG_BLOCK_HEADER";
        let head: [u8; BLOCK_HEADER_SIZE] = arr(b, 0, loc, F)?;
        let h = &head[..];
        let mut record_offsets = [0u32; 16];
        for (i, r) in record_offsets.iter_mut().enumerate() {
            *r = u32_(
                h,
                off::RECORDS + 4 * i,
                loc,
                "CLFS_LOG_BLOCK_HEADER.RecordOffsets",
            )?;
        }
        Ok(BlockHeader {
            major_version: u8_(h, off::MAJOR, loc, F)?,
            minor_version: u8_(h, off::MINOR, loc, F)?,
            usn: u8_(h, off::USN, loc, F)?,
            client_id: u8_(h, off::CLIENT, loc, F)?,
            total_sectors: u16_(h, off::TOTAL, loc, F)?,
            valid_sectors: u16_(h, off::VALID, loc, F)?,
            padding: u32_(h, off::PADDING, loc, F)?,
            checksum: u32_(h, off::CHECKSUM, loc, F)?,
            flags: u32_(h, off::FLAGS, loc, F)?,
            padding2: u32_(h, off::PADDING2, loc, F)?,
            current_lsn: Lsn(u64_(h, off::CURRENT, loc, F)?),
            next_lsn: Lsn(u64_(h, off::NEXT, loc, F)?),
            record_offsets,
            signatures_offset: u32_(h, off::SIGNATURES, loc, F)?,
            reserved: u32_(h, off::RESERVED, loc, F)?,
        })
    }

    /// The 0x70 header bytes.
    pub fn to_bytes(&self) -> [u8; BLOCK_HEADER_SIZE] {
        let mut b = [0u8; BLOCK_HEADER_SIZE];
        self.encode_into(&mut b);
        b
    }

    /// Writes the header into the first 0x70 bytes of `b` (which must hold them).
    pub fn encode_into(&self, b: &mut [u8]) {
        put_u8(b, off::MAJOR, self.major_version);
        put_u8(b, off::MINOR, self.minor_version);
        put_u8(b, off::USN, self.usn);
        put_u8(b, off::CLIENT, self.client_id);
        put_u16(b, off::TOTAL, self.total_sectors);
        put_u16(b, off::VALID, self.valid_sectors);
        put_u32(b, off::PADDING, self.padding);
        put_u32(b, off::CHECKSUM, self.checksum);
        put_u32(b, off::FLAGS, self.flags);
        put_u32(b, off::PADDING2, self.padding2);
        put_u64(b, off::CURRENT, self.current_lsn.0);
        put_u64(b, off::NEXT, self.next_lsn.0);
        for (i, r) in self.record_offsets.iter().enumerate() {
            put_u32(b, off::RECORDS + 4 * i, *r);
        }
        put_u32(b, off::SIGNATURES, self.signatures_offset);
        put_u32(b, off::RESERVED, self.reserved);
    }

    /// The block's size in bytes (`TotalSectorCount * 512`).
    pub fn size(&self) -> usize {
        self.total_sectors as usize * SECTOR_SIZE
    }
}

/// Where Windows puts the fixup array of an `sectors`-sector block:
/// `sectors*512 - align8(2*sectors + 2)` (0x1f8 for 1 sector, 0x3f8 for 2, 0x7980 for 61).
/// This is what the encoders here write; readers also accept [`fixup_offset_at_end`].
pub const fn fixup_offset(sectors: usize) -> usize {
    let n = if sectors == 0 { 1 } else { sectors };
    n * SECTOR_SIZE - align_up(2 * n + 2, 8)
}

/// The other placement of the fixup array that readers accept: ending exactly at the block's
/// end, `sectors*512 - 2*sectors`, so that its last entry is the last sector's own signature
/// slot (encoding saves that slot into itself, decoding restores it from itself). One
/// published decompilation of `ClfsStampLogBlock` puts the array at `size - align8(2n)`,
/// which is this offset when `2n` is a multiple of 8 (blocks of 4, 8, 12, ... sectors) and
/// [`fixup_offset`] otherwise (docs/format.md, "Extended base files").
pub const fn fixup_offset_at_end(sectors: usize) -> usize {
    let n = if sectors == 0 { 1 } else { sectors };
    n * SECTOR_SIZE - 2 * n
}

/// The signature bytes `[type|flags, usn]` that sector `i` of an `n`-sector block of sector
/// type `kind` carries.
pub const fn signature(kind: u8, i: usize, n: usize, usn: u8) -> [u8; 2] {
    let mut t = kind;
    if i == 0 {
        t |= SECTOR_BLOCK_BEGIN;
    }
    if i + 1 == n {
        t |= SECTOR_BLOCK_END;
    }
    [t, usn]
}

/// Standard CRC-32 (the zlib polynomial 0x04C11DB7, reflected) of a block as it lies on disk,
/// computed with the header's `Checksum` field taken as zero.
pub fn block_crc(block: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let (head, tail) = block.split_at(block.len().min(off::CHECKSUM));
    h.update(head);
    if tail.len() >= 4 {
        h.update(&[0u8; 4]);
        h.update(tail.get(4..).unwrap_or(&[]));
    } else {
        h.update(tail);
    }
    h.finalize()
}

/// What [`decode_block`] does with the header's `Checksum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumPolicy {
    /// The checksum must be present and match (metadata blocks).
    Required,
    /// A zero checksum is accepted; a non-zero one must match (container blocks: Windows
    /// writes 0 there).
    IfPresent,
    /// Do not check.
    Ignore,
}

/// Checks and decodes the block at the start of `buf` in place: header rules, the CRC-32 per
/// `crc`, every sector signature (type `kind`, BEGIN/END flags, the header's USN), then restores
/// the original sector bytes from the fixup array. Returns the header; the block's bytes are
/// `buf[..header.size()]`, now as the writer saw them before stamping.
///
/// Rules, in order (the first broken one is returned): the header fits; `MajorVersion` is
/// 0x15; `TotalSectorCount` is at least 1 and the block fits in `buf`; `ValidSectorCount` is
/// at most `TotalSectorCount`; the fixup array lies in the last sector (in a block of more
/// than 255 sectors: at or after [`fixup_offset`]), after the header, and either ends before
/// the last sector's signature or ends exactly at the block's end
/// ([`fixup_offset_at_end`]: its last entry is the last signature); `RecordOffsets[0]` lies
/// after the header and before the fixup array; the checksum; every signature.
pub fn decode_block(
    buf: &mut [u8],
    kind: u8,
    crc: ChecksumPolicy,
    loc: &Loc<'_>,
) -> Result<BlockHeader> {
    let h = check_header(buf, loc)?;
    let size = h.size();
    let block = buf.get_mut(..size).ok_or_else(|| {
        loc.err(
            "CLFS_LOG_BLOCK_HEADER.TotalSectorCount",
            Rule::TooLarge {
                found: h.total_sectors as u64,
                max: (buf_len_sectors(size)) as u64,
            },
        )
    })?;
    let check = match crc {
        ChecksumPolicy::Required => true,
        ChecksumPolicy::IfPresent => h.checksum != 0,
        ChecksumPolicy::Ignore => false,
    };
    if check {
        let computed = block_crc(block);
        if computed != h.checksum {
            return Err(loc.err(
                "CLFS_LOG_BLOCK_HEADER.Checksum",
                Rule::Checksum {
                    stored: h.checksum,
                    computed,
                },
            ));
        }
    }
    let n = h.total_sectors as usize;
    let fix = h.signatures_offset as usize;
    for i in 0..n {
        let at = i * SECTOR_SIZE + SECTOR_SIZE - 2;
        let found: [u8; 2] = arr(block, at, loc, "sector signature")?;
        let expected = signature(kind, i, n, h.usn);
        if found != expected {
            return Err(loc.err(
                "sector signature",
                Rule::Signature {
                    sector: i as u32,
                    found0: found[0],
                    found1: found[1],
                    expected0: expected[0],
                    expected1: expected[1],
                },
            ));
        }
    }
    restore_sectors(block, n, fix, loc)?;
    Ok(h)
}

/// Puts the saved bytes of the fixup array at `fix` back at the end of each of the `n`
/// sectors of `block`, in reverse sector order: the inverse of `encode_block` also when the
/// array spans several sectors (a later sector's saved bytes may be part of an earlier entry)
/// and when its last entry is the last signature ([`fixup_offset_at_end`]). The caller has
/// checked the header ([`check_header`]); a block too short for the array is an error, never
/// a panic.
pub(crate) fn restore_sectors(block: &mut [u8], n: usize, fix: usize, loc: &Loc<'_>) -> Result<()> {
    for i in (0..n).rev() {
        let at = i * SECTOR_SIZE + SECTOR_SIZE - 2;
        let saved: [u8; 2] = arr(
            block,
            fix + 2 * i,
            loc,
            "CLFS_LOG_BLOCK_HEADER.SignaturesOffset",
        )?;
        put(block, at, &saved);
    }
    Ok(())
}

fn buf_len_sectors(len: usize) -> usize {
    len / SECTOR_SIZE
}

/// The header rules of [`decode_block`] without touching the bytes.
pub fn check_header(buf: &[u8], loc: &Loc<'_>) -> Result<BlockHeader> {
    let h = BlockHeader::decode(buf, loc)?;
    if h.major_version != MAJOR_VERSION {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.MajorVersion",
            Rule::Mismatch {
                found: h.major_version as u64,
                expected: MAJOR_VERSION as u64,
            },
        ));
    }
    let n = h.total_sectors as usize;
    if n == 0 {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.TotalSectorCount",
            Rule::TooSmall { found: 0, min: 1 },
        ));
    }
    if h.size() > buf.len() {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.TotalSectorCount",
            Rule::TooLarge {
                found: n as u64,
                max: (buf.len() / SECTOR_SIZE) as u64,
            },
        ));
    }
    if h.valid_sectors > h.total_sectors {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.ValidSectorCount",
            Rule::TooLarge {
                found: h.valid_sectors as u64,
                max: n as u64,
            },
        ));
    }
    let fix = h.signatures_offset as usize;
    // The array holds 2 bytes per sector and must end before the last sector's own signature,
    // or end exactly at the block's end: its last entry is then that signature's slot, which
    // encoding saves into itself and decoding restores from itself, so the two stay exact
    // inverses (the other placement Windows may write, `fixup_offset_at_end`). Any other
    // overlap with the last signature is refused.
    let fix_max = h.size() - 2 - 2 * n;
    let at_end = fixup_offset_at_end(n);
    // Up to 255 sectors the array lies in the last sector [ION], so it never covers a
    // signature. A larger block (an extended metadata block) needs more than one sector for
    // it: it then starts no earlier than where `fixup_offset` puts it, so every signature it
    // covers belongs to a later sector than the entry it overwrites (or, at `at_end`, the
    // last entry is its own sector's signature), and stamping in sector order and restoring
    // in reverse order are exact inverses.
    let fix_min = BLOCK_HEADER_SIZE.max(((n - 1) * SECTOR_SIZE).min(fixup_offset(n)));
    if fix < fix_min {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.SignaturesOffset",
            Rule::TooSmall {
                found: fix as u64,
                min: fix_min as u64,
            },
        ));
    }
    if fix > at_end {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.SignaturesOffset",
            Rule::TooLarge {
                found: fix as u64,
                max: at_end as u64,
            },
        ));
    }
    if fix > fix_max && fix != at_end {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.SignaturesOffset",
            Rule::FixupOverlap {
                found: fix as u64,
                max: fix_max as u64,
                at_end: at_end as u64,
            },
        ));
    }
    let first = h.record_offsets[0] as usize;
    if first < BLOCK_HEADER_SIZE {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.RecordOffsets[0]",
            Rule::TooSmall {
                found: first as u64,
                min: BLOCK_HEADER_SIZE as u64,
            },
        ));
    }
    if first > fix {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.RecordOffsets[0]",
            Rule::TooLarge {
                found: first as u64,
                max: fix as u64,
            },
        ));
    }
    Ok(h)
}

/// Encodes a block in place: writes `header` (with `Checksum` computed when `with_crc`, else
/// 0) to the start of `block`, saves the last two bytes of every sector into the fixup array at
/// `header.signatures_offset`, stamps the signatures `[kind|flags, usn]`, then computes the
/// CRC-32 over the stamped bytes. `block` must be exactly `header.size()` bytes, and the
/// bytes where the fixup array goes must be free (the caller's records end before it).
///
/// Returns the header as written (with its checksum).
pub fn encode_block(
    block: &mut [u8],
    header: &BlockHeader,
    kind: u8,
    with_crc: bool,
    loc: &Loc<'_>,
) -> Result<BlockHeader> {
    let mut h = *header;
    h.checksum = 0;
    let n = h.total_sectors as usize;
    if n == 0 || block.len() != h.size() {
        return Err(loc.err(
            "CLFS_LOG_BLOCK_HEADER.TotalSectorCount",
            Rule::Mismatch {
                found: n as u64,
                expected: (block.len() / SECTOR_SIZE) as u64,
            },
        ));
    }
    h.encode_into(block);
    // Same rules as the decoder: a block this encoder writes is one the decoder accepts.
    check_header(block, loc)?;
    let fix = h.signatures_offset as usize;
    // Save and stamp one sector at a time, in order: when the array spans several sectors
    // (blocks over 255 sectors), an entry that lies on a later sector's signature is saved
    // again with that sector, and `decode_block` restores in reverse order.
    for i in 0..n {
        let at = i * SECTOR_SIZE + SECTOR_SIZE - 2;
        let orig: [u8; 2] = arr(block, at, loc, "sector signature")?;
        put(block, fix + 2 * i, &orig);
        put(block, at, &signature(kind, i, n, h.usn));
    }
    if with_crc {
        h.checksum = block_crc(block);
        put_u32(block, off::CHECKSUM, h.checksum);
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    const LOC: Loc<'static> = Loc::new("t.blf", 0x800);

    /// Blocks of more than 255 sectors (extended metadata blocks) keep their fixup array over
    /// several sectors; encoding and decoding stay exact inverses for every size.
    #[test]
    fn blocks_with_a_multi_sector_fixup_array_round_trip() {
        for n in [
            1usize, 2, 61, 254, 255, 256, 257, 300, 511, 512, 513, 1023, 1300,
        ] {
            let size = n * SECTOR_SIZE;
            let mut b = vec![0u8; size];
            let room = fixup_offset(n);
            for (i, x) in b[BLOCK_HEADER_SIZE..room].iter_mut().enumerate() {
                *x = (i % 251) as u8 + 1;
            }
            let plain = b.clone();
            let h = BlockHeader::new(n as u16, 3);
            encode_block(&mut b, &h, SECTOR_BLOCK_BASE, true, &LOC).unwrap();
            let d = decode_block(&mut b, SECTOR_BLOCK_BASE, ChecksumPolicy::Required, &LOC)
                .unwrap_or_else(|e| panic!("{n} sectors: {e}"));
            assert_eq!(d.total_sectors as usize, n);
            assert_eq!(
                b[BLOCK_HEADER_SIZE..room],
                plain[BLOCK_HEADER_SIZE..room],
                "{n} sectors"
            );
        }
    }

    /// Both placements of the fixup array ([`fixup_offset`], what the samples fit, and
    /// [`fixup_offset_at_end`], the other one Windows may write) decode to exactly the bytes
    /// the writer had, and a decoded block re-encodes to exactly the bytes on disk.
    #[test]
    fn both_fixup_placements_are_exact_inverses_for_1_to_300_sectors() {
        for n in 1usize..=300 {
            for (name, fix) in [
                ("sample", fixup_offset(n)),
                ("at end", fixup_offset_at_end(n)),
            ] {
                let size = n * SECTOR_SIZE;
                let mut b = vec![0u8; size];
                // Records up to the array; the array's own bytes are the writer's (free).
                for (i, x) in b[BLOCK_HEADER_SIZE..fix].iter_mut().enumerate() {
                    *x = (i % 251) as u8 + 1;
                }
                let plain = b.clone();
                let mut h = BlockHeader::new(n as u16, 9);
                h.signatures_offset = fix as u32;
                let written = encode_block(&mut b, &h, SECTOR_BLOCK_BASE, true, &LOC)
                    .unwrap_or_else(|e| panic!("{n} sectors, {name}: {e}"));
                let on_disk = b.clone();
                for i in 0..n {
                    let sig = &on_disk[i * SECTOR_SIZE + SECTOR_SIZE - 2..][..2];
                    assert_eq!(sig, signature(SECTOR_BLOCK_BASE, i, n, 9), "{n}, {name}");
                }
                let d = decode_block(&mut b, SECTOR_BLOCK_BASE, ChecksumPolicy::Required, &LOC)
                    .unwrap_or_else(|e| panic!("{n} sectors, {name}: {e}"));
                assert_eq!(d, written, "{n} sectors, {name}");
                assert_eq!(
                    b[BLOCK_HEADER_SIZE..fix],
                    plain[BLOCK_HEADER_SIZE..fix],
                    "{n} sectors, {name}: decode restores every byte before the array"
                );
                let mut again = b.clone();
                encode_block(&mut again, &d, SECTOR_BLOCK_BASE, true, &LOC).unwrap();
                assert!(
                    again == on_disk,
                    "{n} sectors, {name}: re-encoding changed the block"
                );
            }
        }
    }

    /// Only the array that ends exactly at the block end may cover the last signature.
    #[test]
    fn a_fixup_array_over_the_last_signature_is_refused_unless_it_ends_the_block() {
        for n in [1usize, 3, 4, 8, 61, 256, 300] {
            let size = n * SECTOR_SIZE;
            let mut blk = vec![0u8; size];
            let mut h = BlockHeader::new(n as u16, 1);
            let end = fixup_offset_at_end(n);
            for (fix, ok) in [
                (size - 2 - 2 * n, true),
                (end - 1, false),
                (end, true),
                (end + 1, false),
                (end + 2, false),
                (size, false),
            ] {
                h.signatures_offset = fix as u32;
                h.encode_into(&mut blk);
                let r = check_header(&blk, &LOC);
                assert_eq!(r.is_ok(), ok, "{n} sectors, offset {fix:#x}: {r:?}");
                if fix == end - 1 {
                    let e = r.unwrap_err();
                    assert_eq!(
                        e.rule,
                        Rule::FixupOverlap {
                            found: fix as u64,
                            max: (size - 2 - 2 * n) as u64,
                            at_end: end as u64
                        }
                    );
                    assert!(
                        e.to_string().contains("or exactly at the block's end"),
                        "{e}"
                    );
                } else if !ok {
                    assert!(matches!(
                        r.unwrap_err().rule,
                        Rule::TooLarge { max, .. } if max == end as u64
                    ));
                }
            }
        }
    }

    #[test]
    fn the_two_placements_differ_only_when_2n_is_a_multiple_of_8() {
        for n in 1usize..=300 {
            let decompiled = n * SECTOR_SIZE - align_up(2 * n, 8);
            let ours = if (2 * n) % 8 == 0 {
                fixup_offset_at_end(n)
            } else {
                fixup_offset(n)
            };
            assert_eq!(decompiled, ours, "{n} sectors");
        }
        assert_eq!(fixup_offset(4), 0x7f0);
        assert_eq!(fixup_offset_at_end(4), 0x7f8);
        assert_eq!(fixup_offset_at_end(8), 0xff0);
    }

    #[test]
    fn fixup_offsets_match_windows() {
        assert_eq!(fixup_offset(1), 0x1f8);
        assert_eq!(fixup_offset(2), 0x3f8);
        assert_eq!(fixup_offset(3), 0x5f8);
        assert_eq!(fixup_offset(61), 0x7980);
    }

    #[test]
    fn header_round_trips() {
        let mut h = BlockHeader::new(3, 7);
        h.current_lsn = Lsn::new(2, 0x400, 0);
        h.client_id = 4;
        h.record_offsets[5] = 0x99;
        h.padding2 = 0xdead;
        let b = h.to_bytes();
        assert_eq!(BlockHeader::decode(&b, &LOC).unwrap(), h);
    }

    #[test]
    fn block_round_trips_and_restores_sector_bytes() {
        for n in [1u16, 2, 3, 61] {
            let mut blk = vec![0u8; n as usize * SECTOR_SIZE];
            for (i, b) in blk.iter_mut().enumerate() {
                *b = (i * 7 + 3) as u8;
            }
            let h = BlockHeader::new(n, 0x11);
            // The region of the fixup array is the writer's: clear it like a real writer.
            let fix = fixup_offset(n as usize);
            blk[fix..fix + 2 * n as usize].fill(0);
            let orig = blk.clone();
            let written = encode_block(&mut blk, &h, SECTOR_BLOCK_BASE, true, &LOC).unwrap();
            assert_eq!(blk[n as usize * SECTOR_SIZE - 1], 0x11);
            assert_eq!(
                blk[SECTOR_SIZE - 2] & SECTOR_BLOCK_BEGIN,
                SECTOR_BLOCK_BEGIN
            );
            let got =
                decode_block(&mut blk, SECTOR_BLOCK_BASE, ChecksumPolicy::Required, &LOC).unwrap();
            assert_eq!(got, written);
            // Everything but the header and the fixup array is as the writer left it.
            assert_eq!(blk[BLOCK_HEADER_SIZE..fix], orig[BLOCK_HEADER_SIZE..fix]);
        }
    }

    #[test]
    fn one_sector_data_block_ends_in_64_01() {
        let mut blk = vec![0u8; SECTOR_SIZE];
        encode_block(
            &mut blk,
            &BlockHeader::new(1, 1),
            SECTOR_BLOCK_DATA,
            false,
            &LOC,
        )
        .unwrap();
        assert_eq!(&blk[0x1fe..], &[0x64, 0x01]);
    }

    #[test]
    fn torn_block_is_refused_with_sector_and_usn() {
        let mut blk = vec![0u8; 3 * SECTOR_SIZE];
        encode_block(
            &mut blk,
            &BlockHeader::new(3, 5),
            SECTOR_BLOCK_DATA,
            false,
            &LOC,
        )
        .unwrap();
        blk[2 * SECTOR_SIZE - 1] = 4; // sector 1 from an older write
        let e =
            decode_block(&mut blk, SECTOR_BLOCK_DATA, ChecksumPolicy::IfPresent, &LOC).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.blf: block at 0x800: sector signature of sector 1 is [0x04, 0x04], must be [0x04, 0x05] (torn or stale block)"
        );
    }

    #[test]
    fn checksum_mismatch_names_both_values() {
        let mut blk = vec![0u8; SECTOR_SIZE];
        let h = encode_block(
            &mut blk,
            &BlockHeader::new(1, 1),
            SECTOR_BLOCK_BASE,
            true,
            &LOC,
        )
        .unwrap();
        blk[0x100] ^= 1;
        let e =
            decode_block(&mut blk, SECTOR_BLOCK_BASE, ChecksumPolicy::Required, &LOC).unwrap_err();
        match e.rule {
            Rule::Checksum { stored, computed } => {
                assert_eq!(stored, h.checksum);
                assert_ne!(computed, stored);
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(e.field, "CLFS_LOG_BLOCK_HEADER.Checksum");
    }

    #[test]
    fn header_rules_refuse_hostile_values() {
        let mut blk = vec![0u8; SECTOR_SIZE];
        let mut h = BlockHeader::new(1, 1);
        h.total_sectors = 9;
        h.encode_into(&mut blk);
        let e = check_header(&blk, &LOC).unwrap_err();
        assert_eq!(e.field, "CLFS_LOG_BLOCK_HEADER.TotalSectorCount");
        h.total_sectors = 1;
        h.signatures_offset = 0x1fd;
        h.encode_into(&mut blk);
        assert_eq!(
            check_header(&blk, &LOC).unwrap_err().field,
            "CLFS_LOG_BLOCK_HEADER.SignaturesOffset"
        );
        // Two sectors with the fixup array in the first: it would cover sector 0's signature.
        let mut two = vec![0u8; 2 * SECTOR_SIZE];
        let mut h2 = BlockHeader::new(2, 1);
        h2.signatures_offset = 0x1f0;
        h2.encode_into(&mut two);
        assert!(matches!(
            check_header(&two, &LOC).unwrap_err().rule,
            Rule::TooSmall {
                found: 0x1f0,
                min: 0x200
            }
        ));
        h.signatures_offset = 0x1f8;
        h.record_offsets[0] = 0x10;
        h.encode_into(&mut blk);
        assert_eq!(
            check_header(&blk, &LOC).unwrap_err().field,
            "CLFS_LOG_BLOCK_HEADER.RecordOffsets[0]"
        );
        blk[0] = 0x14;
        assert!(matches!(
            check_header(&blk, &LOC).unwrap_err().rule,
            Rule::Mismatch {
                found: 0x14,
                expected: 0x15
            }
        ));
        assert!(check_header(&blk[..0x20], &LOC).is_err());
    }

    #[test]
    fn crc_is_zlib_crc32() {
        // CRC-32 check value of "123456789" for the zlib variant.
        let mut h = crc32fast::Hasher::new();
        h.update(b"123456789");
        assert_eq!(h.finalize(), 0xcbf4_3926);
    }
}
