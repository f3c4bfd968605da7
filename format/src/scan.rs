//! Reading a whole log: walking container files block by block, the active range, the
//! restart-record chain, and verification of every checksum, signature and link.

use alloc::string::String;
use alloc::vec::Vec;

use crate::base::{Client, ContainerContext, Layout};
use crate::blf::BaseFile;
use crate::block::{
    block_crc, check_header, BlockHeader, BLOCK_HEADER_SIZE, SECTOR_BLOCK_BEGIN, SECTOR_BLOCK_DATA,
    SECTOR_BLOCK_END, SECTOR_BLOCK_OWNER, SECTOR_SIZE,
};
use crate::bytes::arr;
use crate::error::{Error, Loc, Result, Rule};
use crate::record::{BlockRecords, RecordHeader, RECORD_FLAG_FIRST_IN_BLOCK};
use crate::Lsn;

/// A record found in a container file, with its payload (fixups restored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The 40-byte header.
    pub header: RecordHeader,
    /// The block's `ClientId` (the stream; 0 in a dedicated log).
    pub client_id: u8,
    /// The block's USN.
    pub block_usn: u8,
    /// Physical id of the container the record lies in.
    pub physical_id: u32,
    /// Offset of the record's header in the container file.
    pub file_offset: u64,
    /// The record's data (after the 40-byte header).
    pub data: Vec<u8>,
}

/// What walking one container file found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerScan {
    /// Physical id (`cidContainer`).
    pub physical_id: u32,
    /// Logical id (`cidQueue`), the one in LSNs.
    pub logical_id: u32,
    /// Data blocks decoded.
    pub blocks: u32,
    /// Owner pages found (multiplexed logs), as `(offset, length)` spans of contiguous
    /// sectors whose signature type is 0x08 ([`crate::SECTOR_BLOCK_OWNER`]):
    /// recognised and skipped, not parsed (their contents are undocumented).
    pub owner_pages: Vec<(u64, u64)>,
    /// Bytes of container data in the blocks decoded.
    pub block_bytes: u64,
    /// Every valid record physically present, in file order.
    pub records: Vec<LogRecord>,
    /// Places where no valid block could be decoded although the sector was not empty: a torn
    /// or stale block, or garbage. The walk resumes at the next sector.
    pub errors: Vec<Error>,
    /// Bytes after the container's size: `(offset, length)` (Windows 11 authentication area);
    /// ignored.
    pub trailing: Option<(u64, u64)>,
}

/// Walks the container file `file` (named `name` in errors) of the container `ctx`, up to
/// `ctx.size` bytes: every 512-byte boundary where a valid block starts contributes its
/// records; an all-zero sector is free space; anything else is noted in
/// [`ContainerScan::errors`] and skipped sector by sector. Blocks whose signatures are
/// intact but whose checksum, LSNs or records break a rule are noted and skipped whole.
///
/// A block must carry the container's logical id and its own offset in its `CurrentLsn`.
/// This copies every record's data out; [`ContainerWalker`] is the same walk without copies.
pub fn scan_container(file: &[u8], name: &str, ctx: &ContainerContext) -> ContainerScan {
    let mut w = ContainerWalker::new(file, name, ctx);
    let mut s = ContainerScan {
        physical_id: ctx.physical_id,
        logical_id: ctx.logical_id,
        trailing: w.trailing(),
        ..ContainerScan::default()
    };
    while let Some(step) = w.next_block() {
        match step {
            Err(e) => s.errors.push(e),
            Ok(b) => {
                s.blocks += 1;
                s.block_bytes += b.bytes.len() as u64;
                let (client_id, block_usn, at) = (b.header.client_id, b.header.usn, b.offset);
                // The walker validated every record of the block before yielding it.
                for r in b.records().flatten() {
                    s.records.push(LogRecord {
                        header: r.header,
                        client_id,
                        block_usn,
                        physical_id: ctx.physical_id,
                        file_offset: at + r.offset as u64,
                        data: r.data.to_vec(),
                    });
                }
            }
        }
    }
    s.owner_pages = w.owner_pages().to_vec();
    s
}

/// A data block found by [`ContainerWalker`]: checked, fixups restored.
#[derive(Debug)]
pub struct WalkedBlock<'w> {
    /// Offset of the block in the container file.
    pub offset: u64,
    /// The block header.
    pub header: BlockHeader,
    /// The block's bytes with the original sector bytes restored.
    pub bytes: &'w [u8],
    loc: Loc<'w>,
}

impl<'w> WalkedBlock<'w> {
    /// The block's records (already checked by the walker: none is an error).
    pub fn records(&self) -> BlockRecords<'w, 'w> {
        BlockRecords::new(self.bytes, &self.header, self.loc)
    }
}

/// The walk of [`scan_container`] one block at a time, without copying record data: each
/// block is restored into one reusable buffer and its records are borrowed from it.
///
/// ```
/// use clfs_format::*;
/// let mut b = BlockBuilder::new(Lsn::NULL, 1);
/// b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, b"abc").unwrap();
/// let file = b.finish(Lsn::INVALID).unwrap();
/// let ctx = ContainerContext::new(0, 0, file.len() as u64);
/// let mut w = ContainerWalker::new(&file, "c0", &ctx);
/// let block = w.next_block().unwrap().unwrap();
/// let rec = block.records().next().unwrap().unwrap();
/// assert_eq!(rec.data, b"abc");
/// ```
#[derive(Debug)]
pub struct ContainerWalker<'a> {
    file: &'a [u8],
    name: &'a str,
    logical_id: u32,
    size: u64,
    file_len: usize,
    off: usize,
    owner_pages: Vec<(u64, u64)>,
    scratch: Vec<u8>,
}

impl<'a> ContainerWalker<'a> {
    /// A walk over `file` (named `name` in errors) of container `ctx`, up to `ctx.size`.
    pub fn new(file: &'a [u8], name: &'a str, ctx: &ContainerContext) -> Self {
        let limit = usize::try_from(ctx.size)
            .unwrap_or(usize::MAX)
            .min(file.len());
        ContainerWalker {
            file: file.get(..limit).unwrap_or(&[]),
            name,
            logical_id: ctx.logical_id,
            size: ctx.size,
            file_len: file.len(),
            off: 0,
            owner_pages: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Bytes after the container's size: `(offset, length)` (Windows 11 authentication area).
    pub fn trailing(&self) -> Option<(u64, u64)> {
        let limit = self.file.len();
        (self.file_len > limit && limit as u64 == self.size)
            .then(|| (self.size, (self.file_len - limit) as u64))
    }

    /// The owner pages passed so far, as `(offset, length)` spans of contiguous sectors
    /// whose signature type is 0x08 (skipped, not parsed).
    pub fn owner_pages(&self) -> &[(u64, u64)] {
        &self.owner_pages
    }

    /// Notes `len` bytes of owner page at `off`, joining a span that ends there.
    fn owner_page(&mut self, off: usize, len: usize) {
        let (off, len) = (off as u64, len as u64);
        match self.owner_pages.last_mut() {
            Some((at, n)) if *at + *n == off => *n += len,
            _ => self.owner_pages.push((off, len)),
        }
    }

    /// The size of the owner page at the start of `rest`: a whole block when a block header
    /// with owner-page signatures (and a matching checksum, if any) starts there, else one
    /// sector. Owner pages are undocumented: nothing else is assumed about them.
    fn owner_page_size(rest: &[u8], loc: &Loc<'_>) -> usize {
        let Ok(h) = check_header(rest, loc) else {
            return SECTOR_SIZE;
        };
        let Some(block) = rest.get(..h.size()) else {
            return SECTOR_SIZE;
        };
        let sound = check_signatures(block, &h, SECTOR_BLOCK_OWNER, loc).is_ok()
            && (h.checksum == 0 || block_crc(block) == h.checksum);
        if sound {
            h.size()
        } else {
            SECTOR_SIZE
        }
    }

    /// The next data block, or the error for a place where none could be decoded (the walk
    /// then resumes after it), or `None` at the end.
    #[allow(clippy::should_implement_trait)] // a lending iterator: Iterator cannot express it
    pub fn next_block(&mut self) -> Option<Result<WalkedBlock<'_>>> {
        loop {
            let off = self.off;
            let rest = self.file.get(off..).unwrap_or(&[]);
            if rest.len() < SECTOR_SIZE {
                return None;
            }
            let loc = Loc::new(self.name, off as u64);
            // A sector whose signature type is 0x08 is (part of) an owner page.
            let sig = rest.get(SECTOR_SIZE - 2).copied().unwrap_or(0);
            if sig & !(SECTOR_BLOCK_BEGIN | SECTOR_BLOCK_END) == SECTOR_BLOCK_OWNER {
                let size = Self::owner_page_size(rest, &loc);
                self.owner_page(off, size);
                self.off += size;
                continue;
            }
            let head = rest.get(..BLOCK_HEADER_SIZE).unwrap_or(&[]);
            if head.iter().all(|b| *b == 0) {
                self.off += SECTOR_SIZE;
                continue;
            }
            match self.check_block(rest, off, &loc) {
                Err((e, skip)) => {
                    self.off += skip;
                    return Some(Err(e));
                }
                Ok((h, size)) => {
                    self.off += size;
                    let bytes = self.scratch.as_slice();
                    return Some(Ok(WalkedBlock {
                        offset: off as u64,
                        header: h,
                        bytes,
                        loc,
                    }));
                }
            }
        }
    }

    /// Checks the data block at `off`; on success its restored bytes are in `scratch` and
    /// its size is returned. On failure: the error and the bytes to skip (one sector when the
    /// signatures are broken, the whole block otherwise).
    fn check_block(
        &mut self,
        rest: &[u8],
        off: usize,
        loc: &Loc<'_>,
    ) -> core::result::Result<(BlockHeader, usize), (Error, usize)> {
        let one = |e: Error| (e, SECTOR_SIZE);
        let h = check_header(rest, loc).map_err(one)?;
        let size = h.size();
        let block = rest.get(..size).ok_or_else(|| {
            one(loc.err(
                "CLFS_LOG_BLOCK_HEADER.TotalSectorCount",
                Rule::Invalid("block runs past the end"),
            ))
        })?;
        // Signatures first (cheap, read-only): they tell a block start from data.
        let first: [u8; 2] = arr(block, SECTOR_SIZE - 2, loc, "sector signature").map_err(one)?;
        let kind = first[0] & !(SECTOR_BLOCK_BEGIN | SECTOR_BLOCK_END);
        if kind != SECTOR_BLOCK_DATA {
            return Err(one(loc.err(
                "sector signature",
                Rule::Mismatch {
                    found: first[0] as u64,
                    expected: (SECTOR_BLOCK_DATA | SECTOR_BLOCK_BEGIN) as u64,
                },
            )));
        }
        check_signatures(block, &h, kind, loc).map_err(one)?;
        // From here the block is a block: a broken rule skips all of it.
        let whole = |e: Error| (e, size);
        if h.checksum != 0 {
            let computed = block_crc(block);
            if computed != h.checksum {
                return Err(whole(loc.err(
                    "CLFS_LOG_BLOCK_HEADER.Checksum",
                    Rule::Checksum {
                        stored: h.checksum,
                        computed,
                    },
                )));
            }
        }
        if h.current_lsn.container() != self.logical_id {
            return Err(whole(loc.err(
                "CLFS_LOG_BLOCK_HEADER.CurrentLsn",
                Rule::Mismatch {
                    found: h.current_lsn.container() as u64,
                    expected: self.logical_id as u64,
                },
            )));
        }
        if h.current_lsn.block_offset() as usize != off || h.current_lsn.record_index() != 0 {
            return Err(whole(loc.err(
                "CLFS_LOG_BLOCK_HEADER.CurrentLsn",
                Rule::Mismatch {
                    found: h.current_lsn.0,
                    expected: Lsn::new(self.logical_id, off as u32, 0).0,
                },
            )));
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(block);
        restore(&mut self.scratch, &h, loc).map_err(whole)?;
        for r in BlockRecords::new(&self.scratch, &h, *loc) {
            r.map_err(whole)?;
        }
        Ok((h, size))
    }
}

fn check_signatures(block: &[u8], h: &BlockHeader, kind: u8, loc: &Loc<'_>) -> Result<()> {
    let n = h.total_sectors as usize;
    for i in 0..n {
        let found: [u8; 2] = arr(
            block,
            i * SECTOR_SIZE + SECTOR_SIZE - 2,
            loc,
            "sector signature",
        )?;
        let expected = crate::block::signature(kind, i, n, h.usn);
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
    Ok(())
}

/// Restores the sector bytes of a block whose header `check_header` accepted, as
/// `decode_block` does (last sector first: restoring first to last gives wrong bytes when the
/// fixup array spans several sectors).
fn restore(block: &mut [u8], h: &BlockHeader, loc: &Loc<'_>) -> Result<()> {
    crate::block::restore_sectors(
        block,
        h.total_sectors as usize,
        h.signatures_offset as usize,
        loc,
    )
}

fn in_range(layout: Layout, client: &Client, r: &LogRecord) -> bool {
    let c = &client.context;
    if r.client_id != c.client_id || r.header.lsn < c.base {
        return false;
    }
    if layout == Layout::Multiplexed && c.client_id != 0 {
        // A stream's `lsnLast` is its last flushed record (INVALID if none).
        return c.last.is_invalid() || r.header.lsn <= c.last;
    }
    // Dedicated (and, lacking evidence, owner-paged): `lsnLast` is where the next block goes.
    let bounded = !c.last.is_invalid() && c.last > c.base;
    !bounded || r.header.lsn < c.last
}

/// A whole log: the base file and what each container file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// The base file.
    pub base: BaseFile,
    /// One scan per container of the base record, in its order; `None` where the caller had
    /// no file for it.
    pub containers: Vec<Option<ContainerScan>>,
    /// Every record of every container, sorted by LSN.
    pub records: Vec<LogRecord>,
}

impl Log {
    /// Builds the log from a decoded base file and a function that returns each container's
    /// bytes (by its symbol name, e.g. `%BLF%\…`), or `None` when the file is missing.
    pub fn read<'f>(
        base: BaseFile,
        mut container: impl FnMut(&crate::base::Container) -> Option<(&'f [u8], String)>,
    ) -> Log {
        let mut containers = Vec::new();
        let mut records = Vec::new();
        for c in &base.base.containers {
            let scan = container(c).map(|(bytes, name)| scan_container(bytes, &name, &c.context));
            if let Some(sc) = &scan {
                records.extend(sc.records.iter().cloned());
            }
            containers.push(scan);
        }
        records.sort_by_key(|r| r.header.lsn);
        Log {
            base,
            containers,
            records,
        }
    }

    /// How the log lays out its streams (see [`Layout`]).
    pub fn layout(&self) -> Layout {
        self.base.base.layout()
    }

    /// The record with LSN `lsn`.
    pub fn record(&self, lsn: Lsn) -> Option<&LogRecord> {
        self.records
            .binary_search_by_key(&lsn, |r| r.header.lsn)
            .ok()
            .and_then(|i| self.records.get(i))
    }

    /// Every record present in blocks of stream `client_id` (the block header's `ClientId`),
    /// active or not, in LSN order.
    pub fn stream_records(&self, client_id: u8) -> impl Iterator<Item = &LogRecord> + '_ {
        self.records
            .iter()
            .filter(move |r| r.client_id == client_id)
    }

    /// Whether `lsn` lies in a container whose file was not read.
    pub fn in_missing_container(&self, lsn: Lsn) -> bool {
        self.base
            .base
            .containers
            .iter()
            .zip(&self.containers)
            .any(|(c, s)| s.is_none() && c.context.logical_id == lsn.container())
    }

    /// The records of `client` in its active range: records of its stream (block
    /// `ClientId`) with LSN at least `lsnBase` and, per [`Layout`]: in a dedicated (or
    /// owner-paged) log, below `lsnLast` when that is a valid LSN above the base (Windows
    /// stores the next free block there); for a stream of a [`Layout::Multiplexed`] log, at
    /// most `lsnLast` (its last flushed record) when that is valid.
    pub fn active_records<'a>(
        &'a self,
        client: &'a Client,
    ) -> impl Iterator<Item = &'a LogRecord> + 'a {
        let layout = self.layout();
        self.records
            .iter()
            .filter(move |r| in_range(layout, client, r))
    }

    /// Whether `r` lies in the active range of its stream (see
    /// [`active_records`](Self::active_records)).
    pub fn is_active(&self, r: &LogRecord) -> bool {
        let layout = self.layout();
        self.base
            .base
            .clients
            .iter()
            .any(|c| in_range(layout, c, r))
    }

    /// The restart-record chain of `client`: `lsnRestart`, then each restart record's
    /// `previous`, newest first, until a link is INVALID or leaves the records present.
    /// Errors when a link names a record that is not a restart record, a record of another
    /// stream, or does not go back.
    pub fn restart_chain(&self, client: &Client, name: &str) -> Result<Vec<Lsn>> {
        let loc = Loc::new(name, 0);
        let stream = client.context.client_id;
        let mut out = Vec::new();
        let mut at = client.context.restart;
        while !at.is_invalid() {
            let Some(r) = self.record(at) else { break };
            let field = if out.is_empty() {
                "CLFS_CLIENT_CONTEXT.lsnRestart"
            } else {
                "CLFS_LOG_RECORD_HEADER.LsnPrevious"
            };
            if r.client_id != stream {
                return Err(loc.err(
                    field,
                    Rule::ForeignRecord {
                        stream,
                        lsn: at,
                        owner: r.client_id,
                    },
                ));
            }
            if !r.header.is_restart() {
                return Err(loc.err(field, Rule::NotRestart { stream, lsn: at }));
            }
            out.push(at);
            let prev = r.header.previous;
            if !prev.is_invalid() && prev >= at {
                return Err(loc.err(
                    "CLFS_LOG_RECORD_HEADER.LsnPrevious",
                    Rule::TooLarge {
                        found: prev.0,
                        max: at.0.saturating_sub(1),
                    },
                ));
            }
            at = prev;
        }
        Ok(out)
    }

    /// Whether the sector at `offset` of the container with logical id `logical_id` lies after
    /// every record of every stream's active range. A block that cannot be decoded there is
    /// where the log ends (a write that a crash tore, or the stale tail of one that a later,
    /// shorter block replaced), not damage to the log.
    pub fn past_the_end(&self, logical_id: u32, offset: u64) -> bool {
        let Ok(offset) = u32::try_from(offset) else {
            return false;
        };
        let at = Lsn::new(logical_id, offset, 0);
        !self
            .records
            .iter()
            .any(|r| r.header.lsn >= at && self.is_active(r))
    }

    /// The base record's name for the container with physical id `physical_id` (`name` if
    /// there is none).
    fn container_name<'a>(&'a self, physical_id: u32, name: &'a str) -> &'a str {
        self.base
            .base
            .containers
            .iter()
            .find(|c| c.context.physical_id == physical_id)
            .map_or(name, |c| c.name.as_str())
    }

    /// Checks every rule this crate knows, and returns the first broken one:
    /// - rejected metadata copies (a CRC or signature), the base record's symbol tables and
    ///   counts; a [`Layout::Multiplexed`] log has its physical log in client 0;
    /// - every container block that could not be decoded (unless it lies after every record of
    ///   the active ranges: [`past_the_end`](Self::past_the_end)); owner pages only in an
    ///   owner-paged log;
    /// - per record: its block's `ClientId` is 0 in a dedicated log, names a stream of the
    ///   base record otherwise (never client 0, the physical log, in a
    ///   [`Layout::Multiplexed`] log); each stream's LSNs strictly increase; the first-in-block
    ///   flag; each link is INVALID, NULL, or an earlier LSN of the same stream, present when
    ///   it lies at or after the stream's base;
    /// - per client: `lsnBase` at most `lsnLast`; the restart LSN names a present restart
    ///   record of the stream, and so does each link of the restart chain (strictly
    ///   decreasing); the base names a present record unless it is the log's end (dedicated
    ///   and owner-paged logs); a multiplexed stream's `lsnLast` names its own present
    ///   record, and the physical log's base lies at or before the tail (the older of base
    ///   and archive tail) of each stream whose last record lies at or above that tail.
    ///
    /// A container whose file is missing is an error only when a client's base, restart (or
    /// a stream's last) LSN lies in it.
    pub fn verify(&self, name: &str) -> Result<()> {
        if let Some(e) = self.base.rejected.first() {
            return Err(e.clone());
        }
        let loc = Loc::new(name, self.base.base_copy_offset());
        self.base.base.check(&self.base.base_bytes, &loc)?;
        let layout = self.layout();
        if layout == Layout::Multiplexed && self.base.base.client(0).is_none() {
            return Err(loc.err(
                "CLFS_BASE_RECORD_HEADER.rgClients",
                Rule::Invalid(
                    "has no client 0: a multiplexed log without owner pages keeps its physical log there",
                ),
            ));
        }
        for s in self.containers.iter().flatten() {
            if let Some(e) = s
                .errors
                .iter()
                .find(|e| !self.past_the_end(s.logical_id, e.offset))
            {
                return Err(e.clone());
            }
            if layout != Layout::MultiplexedOwnerPaged {
                if let Some((at, _)) = s.owner_pages.first() {
                    return Err(Loc::new(self.container_name(s.physical_id, name), *at).err(
                        "sector signature",
                        Rule::Invalid(
                            "has type 0x08 (owner page), but no client context names an owner page (every lsnOwnerPage is INVALID)",
                        ),
                    ));
                }
            }
        }
        self.verify_records(layout, name)?;
        self.verify_clients(layout, name, &loc)
    }

    fn verify_records(&self, layout: Layout, name: &str) -> Result<()> {
        let base_lsn = |client_id: u8| -> Lsn {
            self.base
                .base
                .client(client_id)
                .map(|c| c.context.base)
                .unwrap_or(Lsn::NULL)
        };
        let mut prev: Option<Lsn> = None;
        for r in &self.records {
            let h = &r.header;
            let stream = r.client_id;
            let rloc = Loc::new(
                self.container_name(r.physical_id, name),
                h.lsn.block_offset() as u64,
            );
            const CLIENT_ID: &str = "CLFS_LOG_BLOCK_HEADER.ClientId";
            if layout == Layout::Dedicated && stream != 0 {
                return Err(rloc.err(
                    CLIENT_ID,
                    Rule::Mismatch {
                        found: stream as u64,
                        expected: 0,
                    },
                ));
            }
            if layout == Layout::Multiplexed && stream == 0 {
                return Err(rloc.err(
                    CLIENT_ID,
                    Rule::Invalid(
                        "is 0, the physical log's id: in a multiplexed log every block belongs to a stream (1..=123)",
                    ),
                ));
            }
            if self.base.base.client(stream).is_none() {
                return Err(rloc.err(CLIENT_ID, Rule::UnknownStream { client_id: stream }));
            }
            if prev == Some(h.lsn) {
                return Err(rloc.err(
                    "CLFS_LOG_RECORD_HEADER.Lsn",
                    Rule::RepeatedLsn { stream, lsn: h.lsn },
                ));
            }
            prev = Some(h.lsn);
            if h.lsn.record_index() == 0 && h.record_type & RECORD_FLAG_FIRST_IN_BLOCK == 0 {
                return Err(rloc.err(
                    "CLFS_LOG_RECORD_HEADER.RecordType",
                    Rule::Invalid("the block's first record lacks the first-in-block flag (0x04)"),
                ));
            }
            for (field, link) in [
                ("CLFS_LOG_RECORD_HEADER.LsnPrevious", h.previous),
                ("CLFS_LOG_RECORD_HEADER.LsnUndoNext", h.undo_next),
            ] {
                // INVALID is "no link"; NULL is "no link" on restart records and also the
                // LSN of a log's first record: either reading is acceptable.
                if link.is_invalid() || link.is_null() {
                    continue;
                }
                if link >= h.lsn {
                    return Err(rloc.err(
                        field,
                        Rule::TooLarge {
                            found: link.0,
                            max: h.lsn.0.saturating_sub(1),
                        },
                    ));
                }
                match self.record(link) {
                    Some(t) if t.client_id != stream => {
                        return Err(rloc.err(
                            field,
                            Rule::ForeignRecord {
                                stream,
                                lsn: link,
                                owner: t.client_id,
                            },
                        ));
                    }
                    None if link >= base_lsn(stream) && !self.in_missing_container(link) => {
                        return Err(rloc.err(field, Rule::NoRecord { stream, lsn: link }));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn verify_clients(&self, layout: Layout, name: &str, loc: &Loc<'_>) -> Result<()> {
        let clients = &self.base.base.clients;
        for c in clients {
            let x = &c.context;
            let stream = x.client_id;
            let mux_stream = layout == Layout::Multiplexed && stream != 0;
            // (field, LSN, whether it must name a present record, whether of this stream).
            // A base at or past `lsnLast` is the log's end (a new or reset log): no record
            // there. A multiplexed log's bases may also name a block of another stream (the
            // physical base; a stream that has not written since it was created or reset).
            let at_end = !x.last.is_invalid() && x.base >= x.last;
            let base = layout != Layout::Multiplexed && !at_end;
            let mut named = alloc::vec![
                ("CLFS_CLIENT_CONTEXT.lsnBase", x.base, base, false),
                ("CLFS_CLIENT_CONTEXT.lsnRestart", x.restart, true, true),
            ];
            if mux_stream {
                // A stream's last flushed record.
                named.push(("CLFS_CLIENT_CONTEXT.lsnLast", x.last, true, true));
            }
            for (field, lsn, must_name, must_own) in named {
                if lsn.is_invalid() {
                    continue;
                }
                if self.in_missing_container(lsn) {
                    return Err(loc.err(field, Rule::InMissingContainer { stream, lsn }));
                }
                match self.record(lsn) {
                    None if must_name => {
                        return Err(loc.err(field, Rule::NoRecord { stream, lsn }));
                    }
                    Some(r) if must_own && r.client_id != stream => {
                        return Err(loc.err(
                            field,
                            Rule::ForeignRecord {
                                stream,
                                lsn,
                                owner: r.client_id,
                            },
                        ));
                    }
                    _ => {}
                }
            }
            if !x.base.is_invalid() && !x.last.is_invalid() && x.base > x.last {
                return Err(loc.err(
                    "CLFS_CLIENT_CONTEXT.lsnBase",
                    Rule::BaseAfterLast {
                        stream,
                        base: x.base,
                        last: x.last,
                    },
                ));
            }
            if layout.is_physical(stream) && !x.base.is_invalid() {
                for s in clients.iter().filter(|s| s.context.client_id != 0) {
                    // The stream's tail: the older of its base and archive tail.
                    let tail = if s.context.archive_tail.is_invalid() {
                        s.context.base
                    } else {
                        s.context.base.min(s.context.archive_tail)
                    };
                    // Only a stream that holds a record at or above its tail pins the
                    // physical log: an idle stream's base moves up when it writes again.
                    let pins = !s.context.last.is_invalid() && s.context.last >= tail;
                    if pins && !tail.is_invalid() && x.base > tail {
                        return Err(loc.err(
                            "CLFS_CLIENT_CONTEXT.lsnBase",
                            Rule::PhysicalBaseAfterStream {
                                base: x.base,
                                stream: s.context.client_id,
                                tail,
                            },
                        ));
                    }
                }
            }
            self.restart_chain(c, name)?;
        }
        Ok(())
    }
}

impl BaseFile {
    /// Offset of the general block the base record came from.
    pub fn base_copy_offset(&self) -> u64 {
        let t = match self.base_copy {
            crate::blf::Copy::Primary => crate::MetadataBlockType::General,
            crate::blf::Copy::Shadow => crate::MetadataBlockType::GeneralShadow,
        };
        self.control
            .blocks
            .get(t as usize)
            .map(|b| b.offset as u64)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{BlockBuilder, RECORD_TYPE_DATA, RECORD_TYPE_RESTART};

    fn container() -> (Vec<u8>, ContainerContext) {
        let ctx = ContainerContext::new(3, 5, 0x2000);
        let mut c = alloc::vec![0u8; 0x2000];
        let mut b = BlockBuilder::new(Lsn::new(5, 0, 0), 1);
        b.push(RECORD_TYPE_RESTART, Lsn::NULL, Lsn::INVALID, b"r0")
            .unwrap();
        let blk = b.finish(Lsn::INVALID).unwrap();
        c[..blk.len()].copy_from_slice(&blk);
        let mut b = BlockBuilder::new(Lsn::new(5, 0x400, 0), 1);
        b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &[9; 700])
            .unwrap();
        b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::new(5, 0x400, 0), b"d")
            .unwrap();
        let blk = b.finish(Lsn::INVALID).unwrap();
        c[0x400..0x400 + blk.len()].copy_from_slice(&blk);
        (c, ctx)
    }

    /// A data block of 300 sectors has its fixup array over several sectors: the scan
    /// restores last sector first, as `decode_block` does (first to last put signature bytes
    /// into the record's data).
    #[test]
    fn a_block_whose_fixup_array_spans_sectors_scans_to_the_original_bytes() {
        let payload: alloc::vec::Vec<u8> = (0..290 * 512).map(|i| (i % 253) as u8 + 1).collect();
        let mut b = BlockBuilder::new(Lsn::new(5, 0, 0), 1);
        b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &payload)
            .unwrap();
        let blk = b.finish(Lsn::INVALID).unwrap();
        assert!(blk.len() > 256 * SECTOR_SIZE, "{}", blk.len());
        let ctx = ContainerContext::new(3, 5, blk.len() as u64);
        let s = scan_container(&blk, "c", &ctx);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.records.len(), 1);
        assert!(
            s.records[0].data == payload,
            "the scan changed the record's bytes"
        );
    }

    #[test]
    fn walks_blocks_and_skips_free_sectors() {
        let (c, ctx) = container();
        let s = scan_container(&c, "c", &ctx);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!((s.blocks, s.records.len()), (2, 3));
        assert_eq!(s.records[1].file_offset, 0x470);
        assert_eq!(s.records[2].header.lsn, Lsn::new(5, 0x400, 1));
        assert_eq!(s.records[2].physical_id, 3);
        assert_eq!(s.records[1].data.len(), 700);
        assert_eq!(s.trailing, None);
    }

    #[test]
    fn garbage_and_misplaced_blocks_are_noted_and_skipped() {
        let (mut c, ctx) = container();
        c[0x1000..0x1200].fill(0x41); // garbage sector
        let s = scan_container(&c, "c", &ctx);
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.errors.len(), 1);
        assert_eq!(s.errors[0].offset, 0x1000);
        // A valid block copied to the wrong offset: its CurrentLsn does not match.
        let (mut c, ctx) = container();
        let first = c[..0x200].to_vec();
        c[0x1800..0x1a00].copy_from_slice(&first);
        let s = scan_container(&c, "c", &ctx);
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.errors[0].field, "CLFS_LOG_BLOCK_HEADER.CurrentLsn");
        // The wrong logical id.
        let (c, mut ctx) = container();
        ctx.logical_id = 6;
        let s = scan_container(&c, "c", &ctx);
        assert!(s.records.is_empty());
        assert_eq!(
            s.errors[0].rule,
            Rule::Mismatch {
                found: 5,
                expected: 6
            }
        );
    }

    #[test]
    fn bytes_past_the_container_size_are_ignored_and_reported() {
        let (mut c, ctx) = container();
        c.extend_from_slice(&[0x77; 0x300]);
        let s = scan_container(&c, "c", &ctx);
        assert_eq!(s.trailing, Some((0x2000, 0x300)));
        assert!(s.errors.is_empty());
        // A short file is read as far as it goes.
        let s = scan_container(&c[..0x300], "c", &ctx);
        assert_eq!(s.records.len(), 1);
    }
}
