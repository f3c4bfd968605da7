//! Container log blocks: the 40-byte record header, the records of a block, and a builder that
//! writes blocks the way Windows does.

use alloc::vec::Vec;

use crate::block::{
    encode_block, fixup_offset, BlockHeader, BLOCK_HEADER_SIZE, MAX_BLOCK_SECTORS,
    SECTOR_BLOCK_DATA, SECTOR_SIZE,
};
use crate::bytes::{align_up, arr, put_u16, put_u32, put_u64, slice, u32_};
use crate::error::{Loc, Result, Rule};
use crate::Lsn;

/// Size of the record header (`CLFS_LOG_RECORD_HEADER`) in front of every record's data.
pub const RECORD_HEADER_SIZE: usize = 0x28;
/// Record type bit: a client data record (`ClfsDataRecord`).
pub const RECORD_TYPE_DATA: u32 = 0x01;
/// Record type bit: a restart record (`ClfsRestartRecord`).
pub const RECORD_TYPE_RESTART: u32 = 0x02;
/// Record type bit: the block's first record.
pub const RECORD_FLAG_FIRST_IN_BLOCK: u32 = 0x04;
/// Record type bit: the block's last record.
pub const RECORD_FLAG_LAST_IN_BLOCK: u32 = 0x20;
/// The position bits of the record type.
pub const RECORD_POSITION_MASK: u32 = RECORD_FLAG_FIRST_IN_BLOCK | RECORD_FLAG_LAST_IN_BLOCK;

/// The 40-byte header in front of every record in a container block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The record's own LSN.
    pub lsn: Lsn,
    /// Undo-next link (`CLFS_LSN_INVALID` when absent; NULL on restart records).
    pub undo_next: Lsn,
    /// Previous link (`CLFS_LSN_INVALID` when absent; restart records link the prior restart
    /// record here).
    pub previous: Lsn,
    /// Size of the record including this header.
    pub data_size: u32,
    /// A u32 of unknown meaning, 0 in every record seen.
    pub unknown: u32,
    /// Flags, 0 in every record seen.
    pub flags: u16,
    /// Offset of the data from the record start (0x28).
    pub data_offset: u16,
    /// Type bits: [`RECORD_TYPE_DATA`] or [`RECORD_TYPE_RESTART`], plus the position flags.
    pub record_type: u32,
}

impl RecordHeader {
    /// Decodes the header at `at` of `block`.
    pub fn decode(block: &[u8], at: usize, loc: &Loc<'_>) -> Result<RecordHeader> {
        // One bounds check for the 40 bytes; the fields are then taken from the array.
        let raw: [u8; RECORD_HEADER_SIZE] = arr(block, at, loc, "CLFS_LOG_RECORD_HEADER")?;
        let mut s: &[u8] = &raw;
        Ok(RecordHeader {
            lsn: Lsn(u64::from_le_bytes(take(&mut s))),
            undo_next: Lsn(u64::from_le_bytes(take(&mut s))),
            previous: Lsn(u64::from_le_bytes(take(&mut s))),
            data_size: u32::from_le_bytes(take(&mut s)),
            unknown: u32::from_le_bytes(take(&mut s)),
            flags: u16::from_le_bytes(take(&mut s)),
            data_offset: u16::from_le_bytes(take(&mut s)),
            record_type: u32::from_le_bytes(take(&mut s)),
        })
    }

    /// Writes the header at `at` of `block`.
    pub fn encode_into(&self, block: &mut [u8], at: usize) {
        put_u64(block, at, self.lsn.0);
        put_u64(block, at + 0x08, self.undo_next.0);
        put_u64(block, at + 0x10, self.previous.0);
        put_u32(block, at + 0x18, self.data_size);
        put_u32(block, at + 0x1c, self.unknown);
        put_u16(block, at + 0x20, self.flags);
        put_u16(block, at + 0x22, self.data_offset);
        put_u32(block, at + 0x24, self.record_type);
    }

    /// Whether the type has the restart bit.
    pub fn is_restart(&self) -> bool {
        self.record_type & RECORD_TYPE_RESTART != 0
    }
    /// Whether the type has the data bit.
    pub fn is_data(&self) -> bool {
        self.record_type & RECORD_TYPE_DATA != 0
    }
    /// The record's payload size (`DataSize` minus the data offset).
    pub fn payload_len(&self) -> u32 {
        self.data_size.saturating_sub(self.data_offset as u32)
    }
}

/// A record of a decoded block: its header, where it lies and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The header.
    pub header: RecordHeader,
    /// Offset of the record (its header) from the block start.
    pub offset: usize,
    /// The record's data (the bytes after the header, `DataSize - 0x28` of them).
    pub data: &'a [u8],
}

/// The first `N` bytes of `s` (zeros past its end), advancing `s`.
fn take<const N: usize>(s: &mut &[u8]) -> [u8; N] {
    match s.split_first_chunk::<N>() {
        Some((head, tail)) => {
            *s = tail;
            *head
        }
        None => [0; N],
    }
}

/// The records of a data block whose fixups are restored (see
/// [`decode_block`](crate::decode_block)).
///
/// Rules: the walk starts at `RecordOffsets[0]`; each header lies before the fixup array;
/// `DataSize` is at least 0x28 and the record ends before the fixup array; the data offset is
/// at least 0x28 and at most `DataSize`; record `i` has the LSN of the block's `CurrentLsn`
/// with index `i`; the next record starts at the next 8-byte boundary; the walk ends at the
/// record flagged last-in-block, which must come before the fixup array (at most 512 records).
pub fn block_records<'a>(
    block: &'a [u8],
    h: &BlockHeader,
    loc: &Loc<'_>,
) -> Result<Vec<Record<'a>>> {
    BlockRecords::new(block, h, *loc).collect()
}

/// The records of a block, one at a time, without allocating: the rules of
/// [`block_records`]. After an error the iterator ends.
#[derive(Debug, Clone)]
pub struct BlockRecords<'a, 'l> {
    block: &'a [u8],
    current: Lsn,
    end: usize,
    at: usize,
    index: u32,
    done: bool,
    loc: Loc<'l>,
}

impl<'a, 'l> BlockRecords<'a, 'l> {
    /// The records of `block` (fixups restored) with header `h`; errors name `loc`.
    pub fn new(block: &'a [u8], h: &BlockHeader, loc: Loc<'l>) -> Self {
        BlockRecords {
            block,
            current: h.current_lsn,
            end: (h.signatures_offset as usize).min(block.len()),
            at: h.record_offsets[0] as usize,
            index: 0,
            done: false,
            loc,
        }
    }

    fn step(&mut self) -> Result<Option<Record<'a>>> {
        let (block, loc, at, end) = (self.block, &self.loc, self.at, self.end);
        let free = || {
            loc.err(
                "CLFS_LOG_RECORD_HEADER.RecordType",
                Rule::Invalid("the block ends without a record flagged last-in-block (0x20)"),
            )
        };
        if self.index > Lsn::MAX_RECORD_INDEX || at.saturating_add(RECORD_HEADER_SIZE) > end {
            return Err(free());
        }
        let r = RecordHeader::decode(block, at, loc)?;
        let size = r.data_size as usize;
        if size < RECORD_HEADER_SIZE {
            let raw = slice(block, at, RECORD_HEADER_SIZE, loc, "CLFS_LOG_RECORD_HEADER")?;
            if raw.iter().all(|b| *b == 0) {
                return Err(free()); // free space where the next record would be
            }
            return Err(loc.err(
                "CLFS_LOG_RECORD_HEADER.DataSize",
                Rule::TooSmall {
                    found: size as u64,
                    min: RECORD_HEADER_SIZE as u64,
                },
            ));
        }
        if at.saturating_add(size) > end {
            return Err(loc.err(
                "CLFS_LOG_RECORD_HEADER.DataSize",
                Rule::TooLarge {
                    found: size as u64,
                    max: (end - at) as u64,
                },
            ));
        }
        let doff = r.data_offset as usize;
        if doff < RECORD_HEADER_SIZE || doff > size {
            return Err(loc.err(
                "CLFS_LOG_RECORD_HEADER.DataOffset",
                Rule::Mismatch {
                    found: doff as u64,
                    expected: RECORD_HEADER_SIZE as u64,
                },
            ));
        }
        let want = Lsn::new(
            self.current.container(),
            self.current.block_offset(),
            self.index,
        );
        if r.lsn != want {
            return Err(loc.err(
                "CLFS_LOG_RECORD_HEADER.Lsn",
                Rule::Mismatch {
                    found: r.lsn.0,
                    expected: want.0,
                },
            ));
        }
        let data = slice(
            block,
            at + doff,
            size - doff,
            loc,
            "CLFS_LOG_RECORD_HEADER.DataSize",
        )?;
        if r.record_type & RECORD_FLAG_LAST_IN_BLOCK != 0 {
            self.done = true;
        }
        self.index += 1;
        self.at = align_up(at + size, 8);
        Ok(Some(Record {
            header: r,
            offset: at,
            data,
        }))
    }
}

impl<'a> Iterator for BlockRecords<'a, '_> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Builds one container data block the way Windows writes it: records 8-byte aligned from
/// 0x70, LSNs `block:index`, first/last-in-block flags, the smallest sector count whose fixup
/// array lies after the records, signatures stamped, checksum 0 (unless
/// [`checksum`](Self::checksum)).
///
/// ```
/// use clfs_format::{BlockBuilder, Lsn, RECORD_TYPE_DATA, RECORD_TYPE_RESTART};
/// let mut b = BlockBuilder::new(Lsn::new(0, 0x9000, 0), 1);
/// let first = b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &[1; 72]).unwrap();
/// let restart = b.push(RECORD_TYPE_RESTART, Lsn::NULL, Lsn::new(0, 0x8400, 1), &[2; 32]).unwrap();
/// assert_eq!((first, restart), (Lsn::new(0, 0x9000, 0), Lsn::new(0, 0x9000, 1)));
/// let block = b.finish(Lsn::new(0, 0x9200, 0)).unwrap();
/// assert_eq!(block.len(), 512);
/// assert_eq!(&block[510..], &[0x64, 0x01]);
/// ```
#[derive(Debug, Clone)]
pub struct BlockBuilder {
    lsn: Lsn,
    usn: u8,
    client_id: u8,
    buf: Vec<u8>,
    records: Vec<usize>,
    checksum: bool,
}

impl BlockBuilder {
    /// A builder for the block at `block_lsn` (its index part is ignored) with USN `usn`.
    pub fn new(block_lsn: Lsn, usn: u8) -> BlockBuilder {
        BlockBuilder {
            lsn: block_lsn.block(),
            usn,
            client_id: 0,
            buf: alloc::vec![0u8; BLOCK_HEADER_SIZE],
            records: Vec::new(),
            checksum: false,
        }
    }

    /// Stamps the block's CRC-32 into its header. Windows writes 0 on container blocks (the
    /// default); readers check a non-zero checksum.
    pub fn checksum(mut self, on: bool) -> BlockBuilder {
        self.checksum = on;
        self
    }

    /// Sets the header's `ClientId` (the stream of a multiplexed log; 0 otherwise).
    pub fn client_id(mut self, id: u8) -> BlockBuilder {
        self.client_id = id;
        self
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The block's size in bytes if it were finished now.
    pub fn block_size(&self) -> usize {
        sectors_for(self.buf.len()) * SECTOR_SIZE
    }

    /// The block's size in bytes after pushing a record of `payload_len` bytes.
    pub fn block_size_with(&self, payload_len: usize) -> usize {
        let end = align_up(self.buf.len(), 8)
            .saturating_add(RECORD_HEADER_SIZE)
            .saturating_add(payload_len);
        sectors_for(end).saturating_mul(SECTOR_SIZE)
    }

    /// Appends a record of type `record_type` ([`RECORD_TYPE_DATA`] or
    /// [`RECORD_TYPE_RESTART`]; position flags are set by [`finish`](Self::finish)) and returns
    /// its LSN. Fails when the block already holds 512 records or the record would make the
    /// block larger than 65535 sectors.
    pub fn push(
        &mut self,
        record_type: u32,
        undo_next: Lsn,
        previous: Lsn,
        payload: &[u8],
    ) -> Result<Lsn> {
        let loc = Loc::new("(encoder)", self.lsn.block_offset() as u64);
        let index = self.records.len() as u32;
        if index > Lsn::MAX_RECORD_INDEX {
            return Err(loc.err(
                "CLFS_LOG_RECORD_HEADER.Lsn",
                Rule::TooLarge {
                    found: index as u64,
                    max: Lsn::MAX_RECORD_INDEX as u64,
                },
            ));
        }
        let size = RECORD_HEADER_SIZE + payload.len();
        if self.block_size_with(payload.len()) > MAX_BLOCK_SECTORS * SECTOR_SIZE
            || size > u32::MAX as usize
        {
            return Err(loc.err(
                "CLFS_LOG_RECORD_HEADER.DataSize",
                Rule::TooLarge {
                    found: size as u64,
                    max: (MAX_BLOCK_SECTORS * SECTOR_SIZE) as u64,
                },
            ));
        }
        let at = align_up(self.buf.len(), 8);
        self.buf.resize(at + size, 0);
        let lsn = Lsn::new(self.lsn.container(), self.lsn.block_offset(), index);
        RecordHeader {
            lsn,
            undo_next,
            previous,
            data_size: size as u32,
            unknown: 0,
            flags: 0,
            data_offset: RECORD_HEADER_SIZE as u16,
            record_type: record_type & !RECORD_POSITION_MASK,
        }
        .encode_into(&mut self.buf, at);
        crate::bytes::put(&mut self.buf, at + RECORD_HEADER_SIZE, payload);
        self.records.push(at);
        Ok(lsn)
    }

    /// Finishes the block: sets the position flags, sizes it, writes the header (`CurrentLsn`
    /// the block's LSN, `NextLsn` = `next_lsn`; Windows writes the next block's LSN on a block
    /// that ends a flush and INVALID otherwise) and stamps the signatures. Fails on an empty
    /// block.
    pub fn finish(mut self, next_lsn: Lsn) -> Result<Vec<u8>> {
        let loc = Loc::new("(encoder)", self.lsn.block_offset() as u64);
        let (Some(&first), Some(&last)) = (self.records.first(), self.records.last()) else {
            return Err(loc.err(
                "CLFS_LOG_BLOCK_HEADER.RecordOffsets[0]",
                Rule::Invalid("a block needs at least one record"),
            ));
        };
        for (at, flag) in [
            (first, RECORD_FLAG_FIRST_IN_BLOCK),
            (last, RECORD_FLAG_LAST_IN_BLOCK),
        ] {
            let t = u32_(
                &self.buf,
                at + 0x24,
                &loc,
                "CLFS_LOG_RECORD_HEADER.RecordType",
            )?;
            put_u32(&mut self.buf, at + 0x24, t | flag);
        }
        let n = sectors_for(self.buf.len());
        self.buf.resize(n * SECTOR_SIZE, 0);
        let mut h = BlockHeader::new(n as u16, self.usn);
        h.client_id = self.client_id;
        h.current_lsn = self.lsn;
        h.next_lsn = next_lsn;
        encode_block(&mut self.buf, &h, SECTOR_BLOCK_DATA, self.checksum, &loc)?;
        Ok(self.buf)
    }
}

/// The smallest sector count whose fixup array starts at or after `end`.
fn sectors_for(end: usize) -> usize {
    let mut n = end.div_ceil(SECTOR_SIZE).max(1);
    while fixup_offset(n) < end {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{decode_block, ChecksumPolicy};

    const LOC: Loc<'static> = Loc::new("c1", 0x9000);

    #[test]
    fn builder_output_decodes_to_the_same_records() {
        let mut b = BlockBuilder::new(Lsn::new(3, 0x9000, 0), 9)
            .client_id(2)
            .checksum(true);
        let p1 = [0xabu8; 72];
        let p2 = [0xcdu8; 32];
        b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &p1)
            .unwrap();
        b.push(RECORD_TYPE_RESTART, Lsn::NULL, Lsn::new(3, 0x8400, 1), &p2)
            .unwrap();
        let mut blk = b.finish(Lsn::new(3, 0x9200, 0)).unwrap();
        let h = decode_block(&mut blk, SECTOR_BLOCK_DATA, ChecksumPolicy::Required, &LOC).unwrap();
        assert_eq!((h.client_id, h.usn), (2, 9));
        assert_ne!(h.checksum, 0);
        assert_eq!(h.next_lsn, Lsn::new(3, 0x9200, 0));
        let recs = block_records(&blk, &h, &LOC).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].header.record_type, 0x05);
        assert_eq!(recs[1].header.record_type, 0x22);
        assert_eq!(recs[0].offset, 0x70);
        assert_eq!(recs[1].offset, 0xe0);
        assert_eq!(recs[0].data, &p1);
        assert_eq!(recs[1].data, &p2);
        assert_eq!(recs[1].header.previous, Lsn::new(3, 0x8400, 1));
        assert_eq!(recs[0].header.data_size, 0x70);
    }

    #[test]
    fn block_sizes_match_windows() {
        // DataSize 0x3e8 -> 3 sectors, 0x2a0 -> 2, 0x70 + 0x48 -> 1 (the Windows-made sample).
        for (payload, sectors) in [(0x3e8 - 0x28, 3), (0x2a0 - 0x28, 2)] {
            let mut b = BlockBuilder::new(Lsn::NULL, 1);
            b.push(
                RECORD_TYPE_DATA,
                Lsn::INVALID,
                Lsn::INVALID,
                &alloc::vec![1u8; payload],
            )
            .unwrap();
            assert_eq!(b.finish(Lsn::INVALID).unwrap().len(), sectors * SECTOR_SIZE);
        }
        let mut b = BlockBuilder::new(Lsn::NULL, 1);
        assert_eq!(b.block_size_with(0x48), 512);
        b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &[0; 0x48])
            .unwrap();
        assert_eq!(b.block_size_with(0x20), 512);
        assert!(BlockBuilder::new(Lsn::NULL, 1)
            .finish(Lsn::INVALID)
            .is_err());
    }

    #[test]
    fn hostile_record_fields_are_refused() {
        let mut b = BlockBuilder::new(Lsn::new(0, 0x200, 0), 1);
        b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &[7; 16])
            .unwrap();
        let mut blk = b.finish(Lsn::INVALID).unwrap();
        let h = decode_block(&mut blk, SECTOR_BLOCK_DATA, ChecksumPolicy::IfPresent, &LOC).unwrap();
        let cases: [(usize, &[u8], &str); 4] = [
            (
                0x70 + 0x18,
                &0x10u32.to_le_bytes(),
                "CLFS_LOG_RECORD_HEADER.DataSize",
            ),
            (
                0x70 + 0x18,
                &0x1000u32.to_le_bytes(),
                "CLFS_LOG_RECORD_HEADER.DataSize",
            ),
            (
                0x70 + 0x22,
                &0x100u16.to_le_bytes(),
                "CLFS_LOG_RECORD_HEADER.DataOffset",
            ),
            (0x70, &0x201u64.to_le_bytes(), "CLFS_LOG_RECORD_HEADER.Lsn"),
        ];
        for (at, v, field) in cases {
            let mut x = blk.clone();
            x[at..at + v.len()].copy_from_slice(v);
            assert_eq!(block_records(&x, &h, &LOC).unwrap_err().field, field);
        }
        let mut x = blk.clone();
        x[0x70 + 0x24] = 0x05; // no last-in-block flag
        assert_eq!(
            block_records(&x, &h, &LOC).unwrap_err().field,
            "CLFS_LOG_RECORD_HEADER.RecordType"
        );
    }
}
