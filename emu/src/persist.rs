//! The on-disk format: real CLFS files, encoded and decoded with `clfs-format`.
//!
//! Base file (`<name>.blf`, 64 KiB when new): the six metadata blocks Windows writes (control,
//! base and truncate record, each with a shadow copy). A new log gets the whole image (written
//! to `<name>.blf.tmp`, fsynced, renamed); every later update writes the *older* copy of each
//! of the three with the next dump count and fsyncs, so a torn write of one copy leaves the
//! other valid and a reader takes the valid copy with the higher dump count. When the base
//! record outgrows its general blocks, [`Meta::store`] extends the base file first (both
//! general blocks grow, the scratch blocks move behind them; docs/decisions.md, "Extending the
//! base file").
//!
//! Containers: log blocks at 512-byte-aligned offsets, each a `CLFS_LOG_BLOCK_HEADER` (0x70
//! bytes: USN, sector counts, `CurrentLsn`, `NextLsn`, the first record's offset, the fixup
//! array's offset), the records (40-byte headers, 8-byte aligned) and the fixup array in the
//! last sector; the last two bytes of every sector carry the signature `[0x04|flags, USN]`.
//! Checksum 0, as Windows writes container blocks.

use std::fs::{File, OpenOptions};
use std::io::Write;
#[cfg(not(unix))]
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use clfs_format as fmt;

use crate::log::lsn;
use crate::status::*;
use crate::types::NTSTATUS;
use crate::{CLFS_LSN_INVALID, CLFS_LSN_NULL};

/// Log block header size (`CLFS_LOG_BLOCK_HEADER`).
pub(crate) const BLOCK_HDR: usize = fmt::BLOCK_HEADER_SIZE;
/// Record header size.
pub(crate) const REC_HDR: usize = fmt::RECORD_HEADER_SIZE;
/// Sector size.
pub(crate) const SECTOR: u64 = 512;
/// Record type bit: a data record (`ClfsDataRecord`).
pub(crate) const REC_DATA: u32 = fmt::RECORD_TYPE_DATA;
/// Record type bit: a restart record (`ClfsRestartRecord`).
pub(crate) const REC_RESTART: u32 = fmt::RECORD_TYPE_RESTART;
/// Offset of the record type (`u32`) in a record header.
const REC_TYPE_AT: usize = 0x24;
/// `FILE_ATTRIBUTE_ARCHIVE`.
const ARCHIVE: u32 = 0x20;

/// Rounds up to a multiple of 8.
pub(crate) fn align8(n: u64) -> u64 {
    n.saturating_add(7) & !7
}

/// Rounds up to a multiple of the sector size.
pub(crate) fn round_sector(n: u64) -> u64 {
    n.saturating_add(SECTOR - 1) & !(SECTOR - 1)
}

/// Sectors of a block whose records end at `used`: the fewest whose fixup array
/// (`fmt::fixup_offset`) lies after the records.
fn sectors_for(used: u64) -> u64 {
    let mut n = used.div_ceil(SECTOR).max(1);
    while (fmt::fixup_offset(n as usize) as u64) < used {
        n += 1;
    }
    n
}

/// Bytes a block whose records end at `used` takes in its container.
pub(crate) fn block_bytes(used: u64) -> u64 {
    sectors_for(used) * SECTOR
}

/// The most sectors of a log block: its fixup array (2 bytes per sector, plus 2, rounded up to
/// 8) must lie in its last sector, as in every Windows-made block ([ION]; `clfs-format`
/// refuses other blocks).
pub(crate) const MAX_BLOCK_SECTORS: u64 = 255;

/// Whether a block whose records end at `used` fits a marshalling buffer of `cap` bytes: the
/// block, fixup array included, must fit the buffer (Clfs.sys builds it there) and have at
/// most [`MAX_BLOCK_SECTORS`] sectors.
pub(crate) fn fits(used: u64, cap: u64) -> bool {
    block_bytes(used) <= cap.min(MAX_BLOCK_SECTORS * SECTOR)
}

/// Encodes a 40-byte record header as Windows writes it: own LSN, undo-next, previous,
/// `DataSize` (header included), 0, flags 0, data offset 0x28, type (`ty`, plus the
/// first-in-block flag when `first`).
pub(crate) fn record_header(
    lsn: u64,
    undo: u64,
    prev: u64,
    len: u32,
    ty: u8,
    first: bool,
) -> [u8; REC_HDR] {
    let mut h = [0u8; REC_HDR];
    fmt::RecordHeader {
        lsn: fmt::Lsn(lsn),
        undo_next: fmt::Lsn(undo),
        previous: fmt::Lsn(prev),
        data_size: len.saturating_add(REC_HDR as u32),
        unknown: 0,
        flags: 0,
        data_offset: REC_HDR as u16,
        record_type: u32::from(ty)
            | if first {
                fmt::RECORD_FLAG_FIRST_IN_BLOCK
            } else {
                0
            },
    }
    .encode_into(&mut h, 0);
    h
}

/// Sets the last-in-block flag in the type of the record whose header is at `pos`.
pub(crate) fn mark_last(image: &mut [u8], pos: usize) {
    if let Some(t) = image.get_mut(pos + REC_TYPE_AT..pos + REC_HDR) {
        let ty = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) | fmt::RECORD_FLAG_LAST_IN_BLOCK;
        t.copy_from_slice(&ty.to_le_bytes());
    }
}

/// The staging of one block write: the block's bytes as they go to disk.
pub(crate) struct Sealed {
    /// Bytes to write (the whole block: `sectors * 512`).
    pub len: usize,
    /// The fixup array's offset and the original sector tails it saved (to undo the stamping).
    fix: usize,
    sectors: usize,
}

/// Turns the block image in `image` (records from 0x70 to `used`) into its on-disk form in
/// place: zero padding to the block end, the header (`CurrentLsn` = the block's LSN,
/// `NextLsn` = `next` or INVALID), the fixup array and the sector signatures with `usn`.
/// [`unseal`] undoes the stamping (the image stays readable as a queued block).
pub(crate) fn seal(
    image: &mut [u8],
    cid: u32,
    off: u32,
    used: u32,
    usn: u8,
    client: u8,
    next: Option<u64>,
) -> Result<Sealed, NTSTATUS> {
    let n = sectors_for(u64::from(used)) as usize;
    let len = n * SECTOR as usize;
    let blk = image
        .get_mut(..len)
        .ok_or(STATUS_LOG_CONTAINER_WRITE_FAILED)?;
    // A reused block may hold older bytes past the records.
    if let Some(pad) = blk.get_mut(used as usize..) {
        pad.fill(0);
    }
    let mut h = fmt::BlockHeader::new(n as u16, usn);
    // The stream whose records the block holds (0 in a dedicated log).
    h.client_id = client;
    h.current_lsn = fmt::Lsn(lsn(cid, off, 0));
    h.next_lsn = fmt::Lsn(next.unwrap_or(CLFS_LSN_INVALID));
    let loc = fmt::Loc::new("(emulator)", u64::from(off));
    fmt::encode_block(blk, &h, fmt::SECTOR_BLOCK_DATA, false, &loc)
        .map_err(|_| STATUS_LOG_CONTAINER_WRITE_FAILED)?;
    Ok(Sealed {
        len,
        fix: h.signatures_offset as usize,
        sectors: n,
    })
}

/// Restores the sector tails [`seal`] replaced with signatures.
pub(crate) fn unseal(image: &mut [u8], s: &Sealed) {
    for i in 0..s.sectors {
        let at = (i + 1) * SECTOR as usize - 2;
        let Some(saved) = image.get(s.fix + 2 * i..s.fix + 2 * i + 2) else {
            return;
        };
        let saved = [saved[0], saved[1]];
        if let Some(t) = image.get_mut(at..at + 2) {
            t.copy_from_slice(&saved);
        }
    }
}

/// One container as recorded in the base file.
#[derive(Clone, Debug)]
pub(crate) struct ContainerMeta {
    /// The host file.
    pub path: PathBuf,
    /// The container's symbol: the name it was added with (`%BLF%\…` or a full path).
    pub name: String,
    pub phys: u32,
    /// The logical id, `None` while the container has never been used.
    pub logical: Option<u32>,
    pub pending_delete: bool,
    /// The USN its blocks carry (incremented when it is recycled).
    pub usn: u8,
}

/// Most streams of a multiplexed log: stream ids 1 to 123 (client contexts 1.., beside the
/// physical stream's client context 0: 124 = `MAX_CLIENTS_DEFAULT` in all).
pub(crate) const MAX_STREAMS: usize = fmt::base::MAX_CLIENTS - 1;

/// One stream of a multiplexed log (client context 1.. of the base record).
#[derive(Clone, Debug)]
pub(crate) struct StreamMeta {
    /// The stream identifier (1..=123; 0 is the physical stream).
    pub id: u8,
    /// The name after `::`, as created.
    pub name: String,
    pub base: u64,
    /// `CLFS_LSN_INVALID` for an ephemeral log.
    pub archive_tail: u64,
    pub restart: u64,
    /// The stream's last flushed record (`None` if none).
    pub flushed: Option<u64>,
    /// The stream's last appended record (not persisted: `flushed` after a reopen).
    pub last: Option<u64>,
    /// Marked for deletion (`ClfsDeleteLogFile`/`ClfsDeleteLogByPointer`); removed when its last
    /// handle closes. Not persisted.
    pub delete_pending: bool,
    /// Marked for reset (`ClfsCloseAndResetLogFile`); reset when its last handle closes. Not
    /// persisted.
    pub reset_pending: bool,
    /// The client context as read or created (times, flush threshold); its LSN fields are
    /// rewritten from the fields above on every store.
    pub client: fmt::ClientContext,
}

impl StreamMeta {
    /// min(base, archive tail): records of the stream below it are outside its active region.
    pub fn tail(&self) -> u64 {
        if self.archive_tail == CLFS_LSN_INVALID {
            self.base
        } else {
            self.base.min(self.archive_tail)
        }
    }

    /// True if the stream holds a record at or above its tail (it then pins the physical
    /// base).
    pub fn pins(&self) -> bool {
        self.last.is_some_and(|l| l >= self.tail())
    }

    /// The first record `l` of a stream that held none at or above its tail (new, reset, or
    /// advanced past all its records): its base (and archive tail) become that record, so the
    /// base always names a record of the stream once it has one, and an idle stream never
    /// claims space the log recycled meanwhile.
    pub fn wake(&mut self, l: u64) {
        self.base = self.base.max(l);
        if self.archive_tail != CLFS_LSN_INVALID {
            self.archive_tail = self.archive_tail.max(l);
        }
    }

    /// True if the persisted fields are equal.
    fn same(&self, o: &StreamMeta) -> bool {
        self.id == o.id
            && self.name == o.name
            && self.base == o.base
            && self.archive_tail == o.archive_tail
            && self.restart == o.restart
    }
}

/// The persistent state of a physical log.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub identity: [u8; 16],
    pub attributes: u32,
    pub container_size: u64,
    pub base: u64,
    pub archive_tail: u64,
    pub restart: u64,
    /// LSN of the last flushed record (`None` if none; `CLFS_LSN_NULL` is the first record).
    pub flushed: Option<u64>,
    /// Where the block after the last flushed block goes.
    pub cursor_cid: u32,
    pub cursor_off: u32,
    pub next_phys: u32,
    pub containers: Vec<ContainerMeta>,
    /// The dump count of the newest base-file copy, and which copy holds it.
    pub dump: u64,
    pub shadow_current: bool,
    /// The client context as read (times, flush threshold, state: kept for a Windows-made
    /// log); its LSN fields are rewritten from the fields above on every store.
    pub client: fmt::ClientContext,
    /// The client's symbol (Windows stores the base file's path there).
    pub client_name: String,
    /// `eLogState` of the base record.
    pub log_state: u8,
    /// Why the log may only be read (a Windows-made log with parts the emulator does not
    /// write), if so.
    pub read_only: Option<String>,
    /// A multiplexed log (`log:<path>::<stream>`): the fields above (base, archive tail,
    /// restart, flushed) are then the physical stream's, and `streams` holds the streams.
    pub multiplexed: bool,
    /// The streams of a multiplexed log, in id order (empty for a dedicated log).
    pub streams: Vec<StreamMeta>,
    /// The base file's block table as on disk (the current control record's `rgBlocks`):
    /// where each of the six metadata blocks lies and how large it is. The general blocks grow
    /// when the base record no longer fits them ([`Meta::store`]).
    pub layout: Vec<fmt::MetadataBlock>,
    /// Which control copy holds the newest control record (true: the shadow).
    pub ctl_shadow: bool,
    /// Which scratch copy was written last (true: the shadow).
    pub scr_shadow: bool,
    /// The file is longer than its block table: an extension was interrupted before its new
    /// table was written. The next store cuts the file back first.
    pub leftover: bool,
    /// Shared by every clone of this metadata (a failed store puts back an older clone): set
    /// when a base-file extension failed, so the next store first rereads the base file's
    /// table, dump counts and current copies, whichever steps reached the disk.
    pub resync: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What an extension of the base file adds to each general block: the size of a default
/// general block (61 sectors).
pub(crate) const GENERAL_GROWTH: u32 = 0x7a00;

/// The largest general block the emulator grows to: the largest multiple of
/// [`GENERAL_GROWTH`] a block header's sector count (`USHORT`) can describe.
pub(crate) const MAX_GENERAL: u32 =
    fmt::control::MAX_METADATA_BLOCK_SIZE / GENERAL_GROWTH * GENERAL_GROWTH;

/// The size of the general blocks that hold a base record of `len` bytes: the current size
/// `g` if the record fits, else `g` grown by whole [`GENERAL_GROWTH`] steps (`None` past
/// [`MAX_GENERAL`]).
pub(crate) fn general_size_for(len: usize, g: u32) -> Option<u32> {
    let fits = |size: u32| fmt::fixup_offset(size as usize / SECTOR as usize) >= BLOCK_HDR + len;
    let mut size = g;
    while !fits(size) {
        size = size.checked_add(GENERAL_GROWTH)?;
        if size > MAX_GENERAL {
            return None;
        }
    }
    Some(size)
}

impl Meta {
    /// A new, empty log.
    pub fn new(identity: [u8; 16], attributes: u32, client_name: String) -> Meta {
        let mut client = fmt::ClientContext::new(0);
        client.attributes = attributes as u16;
        Meta {
            identity,
            attributes,
            container_size: 0,
            // The first record gets LSN 0:0x0:0 (= CLFS_LSN_NULL), as on Windows.
            base: CLFS_LSN_NULL,
            archive_tail: if attributes & ARCHIVE != 0 {
                CLFS_LSN_NULL
            } else {
                CLFS_LSN_INVALID
            },
            restart: CLFS_LSN_INVALID,
            flushed: None,
            cursor_cid: 0,
            cursor_off: 0,
            next_phys: 0,
            containers: Vec::new(),
            dump: 1,
            shadow_current: false,
            client,
            client_name,
            log_state: fmt::base::LOG_STATE_UNINITIALIZED | fmt::base::LOG_STATE_INITIALIZED,
            read_only: None,
            multiplexed: false,
            streams: Vec::new(),
            layout: fmt::ControlRecord::new(1).blocks,
            ctl_shadow: false,
            scr_shadow: false,
            leftover: false,
            resync: Default::default(),
        }
    }

    /// A new, empty multiplexed log (no stream yet).
    pub fn new_multiplexed(identity: [u8; 16], attributes: u32, client_name: String) -> Meta {
        let mut m = Meta::new(identity, attributes, client_name);
        m.multiplexed = true;
        m.log_state |= fmt::base::LOG_STATE_MULTIPLEXED;
        // The physical stream has no archive tail of its own (its base is the streams' least
        // tail).
        m.archive_tail = CLFS_LSN_INVALID;
        m
    }

    /// The base record for dump count `dump`.
    fn base_record(&self, dump: u64) -> fmt::BaseRecord {
        let mut b = fmt::BaseRecord::new(fmt::LogId(self.identity));
        b.dump_count = dump;
        b.log_state = self.log_state;
        let mut c = self.client;
        c.attributes = self.attributes as u16;
        c.base = fmt::Lsn(self.base);
        // As on Windows: `last` is where the next block goes; an ephemeral log's archive tail
        // is its base.
        c.last = fmt::Lsn(lsn(self.cursor_cid, self.cursor_off, 0));
        c.restart = fmt::Lsn(self.restart);
        c.archive_tail = fmt::Lsn(if self.attributes & ARCHIVE != 0 {
            self.archive_tail
        } else {
            self.base
        });
        // Not written by Windows (NULL there): the last flushed record, a hint that spares the
        // scan for it at open (checked before it is believed).
        c.unused1 = fmt::Lsn(self.flushed.unwrap_or(CLFS_LSN_INVALID));
        if self.multiplexed {
            // The physical stream: no restart area, no owner pages (the emulator writes none;
            // docs/decisions.md, "Multiplexed logs").
            c.client_id = 0;
            c.restart = fmt::Lsn(CLFS_LSN_INVALID);
            c.archive_tail = fmt::Lsn(self.base);
            c.physical_base = fmt::Lsn(self.base);
            c.owner_page = fmt::Lsn(CLFS_LSN_INVALID);
        }
        b.add_client(c, &self.client_name);
        for st in &self.streams {
            let mut sc = st.client;
            sc.client_id = st.id;
            sc.attributes = self.attributes as u16;
            sc.base = fmt::Lsn(st.base);
            sc.physical_base = fmt::Lsn(st.base);
            sc.restart = fmt::Lsn(st.restart);
            sc.archive_tail = fmt::Lsn(if self.attributes & ARCHIVE != 0 {
                st.archive_tail
            } else {
                st.base
            });
            let flushed = fmt::Lsn(st.flushed.unwrap_or(CLFS_LSN_INVALID));
            sc.last = flushed;
            sc.unused1 = flushed;
            sc.owner_page = fmt::Lsn(CLFS_LSN_INVALID);
            b.add_client(sc, &st.name);
        }
        // A never-used container gets the next logical ids after the used ones, in physical
        // order (for a new log: logical = physical, as Windows writes them); ids stay unique.
        let mut spare = self
            .containers
            .iter()
            .filter_map(|c| c.logical)
            .max()
            .map_or(0, |m| m.saturating_add(1));
        for ct in &self.containers {
            let logical = ct.logical.unwrap_or_else(|| {
                spare = spare.saturating_add(1);
                spare - 1
            });
            let mut cc = fmt::ContainerContext::new(ct.phys, logical, self.container_size);
            cc.usn = u32::from(ct.usn);
            cc.state = if ct.pending_delete {
                fmt::base::CONTAINER_STATE_ACTIVE_PENDING_DELETE
            } else if ct.logical.is_some() {
                fmt::base::CONTAINER_STATE_ACTIVE
            } else {
                fmt::base::CONTAINER_STATE_INACTIVE
            };
            b.add_container(cc, &ct.name);
        }
        b
    }

    /// The control record for dump count `dump` with the current block table and no
    /// extension in progress.
    fn control(&self, dump: u64) -> fmt::ControlRecord {
        let mut c = fmt::ControlRecord::new(dump);
        c.blocks = self.layout.clone();
        c
    }

    /// A metadata block image of `size` bytes holding `record`.
    fn image(size: u32, record: &[u8]) -> Result<Vec<u8>, NTSTATUS> {
        fmt::encode_metadata_block(size as usize, 1, record)
            .map_err(|_| STATUS_LOG_CONTAINER_LIMIT_EXCEEDED)
    }

    /// The encoded base record for dump count `dump`. Past what even the largest general
    /// block holds, the container limit.
    fn general_record(&self, dump: u64) -> Result<Vec<u8>, NTSTATUS> {
        self.base_record(dump)
            .encode()
            .map_err(|_| STATUS_LOG_CONTAINER_LIMIT_EXCEEDED)
    }

    /// The truncate record for dump count `dump` (nothing being truncated).
    fn scratch_record(dump: u64) -> Vec<u8> {
        fmt::TruncateRecord {
            dump_count: dump,
            ..Default::default()
        }
        .encode()
    }

    /// The block of the current table of type `t`.
    fn block(&self, t: fmt::MetadataBlockType) -> Result<fmt::MetadataBlock, NTSTATUS> {
        self.layout
            .get(t as usize)
            .copied()
            .ok_or(STATUS_LOG_METADATA_CORRUPT)
    }

    /// The end of the last block of the current table.
    fn table_end(&self) -> u64 {
        self.layout
            .iter()
            .map(|b| u64::from(b.offset) + u64::from(b.size))
            .max()
            .unwrap_or(0)
    }

    /// Takes the on-disk state of a decoded base file: block table, newest dump count, which
    /// copies are current, and whether an interrupted extension left bytes after the table.
    fn take_disk_state(&mut self, bf: &fmt::BaseFile) {
        self.layout = bf.control.blocks.clone();
        self.dump = bf
            .base
            .dump_count
            .max(bf.control.dump_count)
            .max(bf.truncate.map_or(0, |t| t.dump_count));
        self.shadow_current = bf.base_copy == fmt::Copy::Shadow;
        self.ctl_shadow = bf.control_copy == fmt::Copy::Shadow;
        self.scr_shadow = self.shadow_current;
        self.leftover =
            bf.trailing.is_some() && bf.control.extend_state != fmt::control::EXTEND_STATE_NONE;
    }

    /// Rereads the base file's table, dump counts and current copies (after a failed
    /// extension, whose steps may or may not have reached the disk).
    fn resync_disk_state(&mut self, base: &Path) -> Result<(), NTSTATUS> {
        let bytes = read_base_file(base)?;
        let bf =
            fmt::BaseFile::decode(&bytes, "(base)").map_err(|_| STATUS_LOG_METADATA_CORRUPT)?;
        self.take_disk_state(&bf);
        Ok(())
    }

    /// Writes a new base file atomically (temp file, fsync, rename, directory fsync): both
    /// copies of every block, dump count 1, the default 64 KiB layout.
    pub fn create(&mut self, base: &Path) -> Result<(), NTSTATUS> {
        self.layout = fmt::ControlRecord::new(1).blocks;
        let ctl = self.control(1).encode();
        let gen = self.general_record(1)?;
        let scr = Self::scratch_record(1);
        let mut image = vec![0u8; self.table_end() as usize];
        for b in &self.layout {
            let rec = match b.block_type / 2 {
                0 => &ctl,
                1 => &gen,
                _ => &scr,
            };
            let blk = Self::image(b.size, rec)?;
            if let Some(dst) = image.get_mut(b.offset as usize..(b.offset + b.size) as usize) {
                dst.copy_from_slice(&blk);
            }
        }
        let mut tmp = base.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let res = (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&image)?;
            f.sync_all()?;
            std::fs::rename(&tmp, base)?;
            // (Miri cannot fsync a directory; `.ci/miri.sh` runs the emulator under it.)
            #[cfg(not(miri))]
            if let Some(d) = base.parent() {
                if let Ok(d) = File::open(d) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        })();
        res.map_err(|_| {
            let _ = std::fs::remove_file(&tmp);
            STATUS_LOG_CONTAINER_WRITE_FAILED
        })?;
        self.dump = 1;
        self.shadow_current = false;
        self.ctl_shadow = false;
        self.scr_shadow = false;
        self.leftover = false;
        Ok(())
    }

    /// Writes the next dump count into the older copy of the control, base and truncate
    /// records, then fsyncs. On failure nothing in memory changes (the newer copy on disk is
    /// still valid, and the next store writes the older one again).
    ///
    /// When the base record no longer fits the general blocks, the base file is extended
    /// first ([`Meta::extend`]); past the largest general block, the container limit.
    pub fn store(&mut self, base: &Path) -> Result<(), NTSTATUS> {
        use std::sync::atomic::Ordering;
        if self.read_only.is_some() {
            return Err(STATUS_ACCESS_DENIED);
        }
        if self.resync.swap(false, Ordering::AcqRel) {
            if let Err(st) = self.resync_disk_state(base) {
                self.resync.store(true, Ordering::Release);
                return Err(st);
            }
        }
        let dump = self.dump + 1;
        let gen = self.general_record(dump)?;
        let g = self.block(fmt::MetadataBlockType::General)?.size;
        let want = general_size_for(gen.len(), g).ok_or(STATUS_LOG_CONTAINER_LIMIT_EXCEEDED)?;
        if want != g {
            return self.extend(base, &gen, want);
        }
        let ctl_t = side(fmt::MetadataBlockType::Control, !self.ctl_shadow);
        let gen_t = side(fmt::MetadataBlockType::General, !self.shadow_current);
        let scr_t = side(fmt::MetadataBlockType::Scratch, !self.scr_shadow);
        let (cb, gb, sb) = (self.block(ctl_t)?, self.block(gen_t)?, self.block(scr_t)?);
        let images = [
            (cb, Self::image(cb.size, &self.control(dump).encode())?),
            (gb, Self::image(gb.size, &gen)?),
            (sb, Self::image(sb.size, &Self::scratch_record(dump))?),
        ];
        let end = self.table_end();
        let leftover = self.leftover;
        let res = (|| -> std::io::Result<()> {
            let f = OpenOptions::new().write(true).open(base)?;
            if leftover {
                // An interrupted extension's bytes: nothing in either table names them. Cut
                // first, so a crash never leaves them behind a control record that no longer
                // says an extension was under way.
                f.set_len(end)?;
                f.sync_all()?;
            }
            for (b, img) in &images {
                write_at(&f, u64::from(b.offset), img)?;
            }
            f.sync_all()
        })();
        res.map_err(|_| STATUS_LOG_CONTAINER_WRITE_FAILED)?;
        self.dump = dump;
        self.ctl_shadow = !self.ctl_shadow;
        self.shadow_current = !self.shadow_current;
        self.scr_shadow = !self.scr_shadow;
        self.leftover = false;
        Ok(())
    }

    /// Extends the base file so that both general blocks are `g2` bytes, and stores the base
    /// record `gen` (encoded for dump count `self.dump + 1`) in them. The scratch blocks move
    /// up behind the grown general blocks, the control record's table follows
    /// (docs/decisions.md, "Extending the base file").
    ///
    /// Crash-safe: until the new table is durable, the general copy the old table names still
    /// holds the current base record; after it, the new general shadow holds the new one. Each
    /// step is fsynced before the next. A failure before the new table is durable returns
    /// `STATUS_LOG_CONTAINER_WRITE_FAILED` (the old base record stands); after it the new one
    /// stands and the store succeeds. Either way the next store rereads the disk state.
    fn extend(&mut self, base: &Path, gen: &[u8], g2: u32) -> Result<(), NTSTATUS> {
        use fmt::MetadataBlockType as T;
        use std::sync::atomic::Ordering;
        let g = self.block(T::General)?.size;
        // Only the table the emulator writes (general pair from 0x800, scratch pair behind
        // it) is extended; a base file with another layout keeps its size.
        if fmt::ControlRecord::standard_blocks(g).as_deref() != Some(&self.layout[..]) {
            return Err(STATUS_LOG_CONTAINER_LIMIT_EXCEEDED);
        }
        let new_layout =
            fmt::ControlRecord::standard_blocks(g2).ok_or(STATUS_LOG_CONTAINER_LIMIT_EXCEEDED)?;
        let n = self.dump;
        let new_end = new_layout
            .iter()
            .map(|b| u64::from(b.offset) + u64::from(b.size))
            .max()
            .unwrap_or(0);
        let blk = |l: &[fmt::MetadataBlock], t: T| l.get(t as usize).copied();
        let (Some(old_g0), Some(old_g1)) = (
            blk(&self.layout, T::General),
            blk(&self.layout, T::GeneralShadow),
        ) else {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        };
        let (Some(g0), Some(g1), Some(s0), Some(s1)) = (
            blk(&new_layout, T::General),
            blk(&new_layout, T::GeneralShadow),
            blk(&new_layout, T::Scratch),
            blk(&new_layout, T::ScratchShadow),
        ) else {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        };
        // The older control copy, then the newer one.
        let c_old = self.block(side(T::Control, !self.ctl_shadow))?;
        let c_new = self.block(side(T::Control, self.ctl_shadow))?;
        let mut ctl = self.control(n + 1);
        ctl.extend_state = fmt::control::EXTEND_STATE_EXTENDING_FSD;
        ctl.extend_block = T::General as u16;
        ctl.flush_block = T::GeneralShadow as u16;
        ctl.new_block_sectors = g2 / SECTOR as u32;
        ctl.extend_start_sectors = g / SECTOR as u32;
        ctl.extend_sectors = 2 * (g2 - g) / SECTOR as u32;
        let ctl1 = Self::image(c_old.size, &ctl.encode())?;
        let scr = Self::image(s0.size, &Self::scratch_record(n + 1))?;
        let shadow = Self::image(g2, gen)?;
        ctl.dump_count = n + 2;
        ctl.blocks = new_layout.clone();
        ctl.extend_state = fmt::control::EXTEND_STATE_FLUSHING_BLOCK;
        ctl.flush_block = T::General as u16;
        let ctl2 = Self::image(c_new.size, &ctl.encode())?;
        let primary = Self::image(g2, &self.general_record(n + 2)?)?;
        let mut done = fmt::ControlRecord::new(n + 3);
        done.blocks = new_layout.clone();
        let ctl3 = Self::image(c_old.size, &done.encode())?;
        let shadow_current = self.shadow_current;
        let stop = extend_stop();
        let step = |k: u32| {
            if stop == Some(k) {
                Err(std::io::Error::other("stopped"))
            } else {
                Ok(())
            }
        };
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(base)
            .map_err(|_| STATUS_LOG_CONTAINER_WRITE_FAILED)?;
        let before = (|| -> std::io::Result<()> {
            // 1. The old table's primary general block must hold the current base record: it
            //    is the copy that survives until the new table is durable.
            if shadow_current {
                let mut cur = vec![0u8; old_g1.size as usize];
                read_exact_at(&f, u64::from(old_g1.offset), &mut cur)?;
                write_at(&f, u64::from(old_g0.offset), &cur)?;
                f.sync_all()?;
            }
            step(1)?;
            // 2. Record the extension (old table), then grow the file.
            write_at(&f, u64::from(c_old.offset), &ctl1)?;
            f.sync_all()?;
            step(2)?;
            f.set_len(new_end)?;
            f.sync_all()?;
            step(3)?;
            // 3. The moved scratch blocks and the new general shadow, all at places the old
            //    table's primary general block does not use.
            write_at(&f, u64::from(s0.offset), &scr)?;
            write_at(&f, u64::from(s1.offset), &scr)?;
            write_at(&f, u64::from(g1.offset), &shadow)?;
            f.sync_all()?;
            step(4)?;
            // 4. The new table, into the older control copy: from here the new shadow holds
            //    the base record.
            write_at(&f, u64::from(c_new.offset), &ctl2)?;
            f.sync_all()
        })();
        if before.is_err() {
            self.resync.store(true, Ordering::Release);
            return Err(STATUS_LOG_CONTAINER_WRITE_FAILED);
        }
        self.layout = new_layout;
        self.dump = n + 2;
        let after = (|| -> std::io::Result<()> {
            // 5. The new primary general block, then 6. the control record without the
            //    extension, into the control copy that still has the old table.
            step(5)?;
            write_at(&f, u64::from(g0.offset), &primary)?;
            f.sync_all()?;
            step(6)?;
            write_at(&f, u64::from(c_old.offset), &ctl3)?;
            f.sync_all()
        })();
        if after.is_err() {
            self.resync.store(true, Ordering::Release);
            return Ok(());
        }
        self.dump = n + 3;
        self.shadow_current = false;
        self.ctl_shadow = c_old.block_type == T::ControlShadow as u32;
        self.scr_shadow = false;
        self.leftover = false;
        Ok(())
    }

    /// True if `self` and `o` differ at most in what a reopen recovers by scanning the
    /// cursor's container (the cursor offset and the last flushed record).
    pub fn same_but_cursor(&self, o: &Meta) -> bool {
        self.identity == o.identity
            && self.attributes == o.attributes
            && self.container_size == o.container_size
            && self.base == o.base
            && self.archive_tail == o.archive_tail
            && self.restart == o.restart
            && self.cursor_cid == o.cursor_cid
            && self.multiplexed == o.multiplexed
            && self.streams.len() == o.streams.len()
            && self.streams.iter().zip(&o.streams).all(|(a, b)| a.same(b))
            && self.containers.len() == o.containers.len()
            && self.containers.iter().zip(&o.containers).all(|(a, b)| {
                a.phys == b.phys
                    && a.logical == b.logical
                    && a.pending_delete == b.pending_delete
                    && a.usn == b.usn
                    && a.path == b.path
            })
    }

    /// True if `self` and `o` are the same, the flushed positions included (the cursor, the
    /// last flushed record, every stream's last flushed record).
    pub fn same_flushed(&self, o: &Meta) -> bool {
        self.same_but_cursor(o)
            && self.cursor_off == o.cursor_off
            && self.flushed == o.flushed
            && self
                .streams
                .iter()
                .zip(&o.streams)
                .all(|(a, b)| a.flushed == b.flushed)
    }

    /// Reads and validates a base file; container names are mapped under `root`.
    pub fn load(base: &Path, root: &Path) -> Result<Meta, NTSTATUS> {
        let bytes = read_base_file(base)?;
        let name = base.file_name().map_or_else(
            || base.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let bf = fmt::BaseFile::decode(&bytes, &name).map_err(|_| STATUS_LOG_METADATA_CORRUPT)?;
        let b = &bf.base;
        // A dedicated log has one client context; a multiplexed one the physical stream's
        // (client 0) and one per stream, without owner pages as the emulator writes it. A
        // multiplexed log with owner pages (Windows-made; their format is undocumented) is not
        // emulated.
        let Some(first) = b.clients.first() else {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        };
        let multiplexed = match b.layout() {
            fmt::Layout::Dedicated if b.clients.len() == 1 => false,
            fmt::Layout::Multiplexed if first.context.client_id == 0 => true,
            _ => return Err(STATUS_NOT_SUPPORTED),
        };
        let client = first.context;
        let attributes = u32::from(client.attributes);
        let mut read_only = None;
        let extending = bf.control.extend_state != fmt::control::EXTEND_STATE_NONE;
        if let (Some((at, len)), false) = (bf.trailing, extending) {
            read_only = Some(format!(
                "{len} bytes after the metadata blocks at {at:#x} (a Windows 11 log \
                 authentication area): rewriting the base file would invalidate it"
            ));
        }
        if bf.truncate.is_some_and(|t| t.in_progress()) {
            read_only = Some("a truncation is in progress (its record is undocumented)".into());
        }
        // Emulator-written logs mark used containers ACTIVE; a Windows-made log may leave
        // every container INACTIVE and number them in order (logical = physical).
        let any_active = b.containers.iter().any(|c| {
            matches!(
                c.context.state,
                fmt::base::CONTAINER_STATE_ACTIVE
                    | fmt::base::CONTAINER_STATE_ACTIVE_PENDING_DELETE
            )
        });
        let mut containers = Vec::with_capacity(b.containers.len());
        let mut size = None;
        for c in &b.containers {
            let w: Vec<u16> = c.name.encode_utf16().collect();
            let path = crate::names::container_path(&w, root, base)
                .map_err(|_| STATUS_LOG_METADATA_CORRUPT)?;
            // One size for all, a whole number of sectors, offsets that fit the LSN's 32 bits.
            if *size.get_or_insert(c.context.size) != c.context.size
                || c.context.size == 0
                || c.context.size % 512 != 0
                || c.context.size > crate::log::MAX_CONTAINER
            {
                return Err(STATUS_LOG_METADATA_CORRUPT);
            }
            let pending = c.context.state == fmt::base::CONTAINER_STATE_ACTIVE_PENDING_DELETE;
            let used =
                !any_active || pending || c.context.state == fmt::base::CONTAINER_STATE_ACTIVE;
            containers.push(ContainerMeta {
                path,
                name: c.name.clone(),
                phys: c.context.physical_id,
                logical: used.then_some(c.context.logical_id),
                pending_delete: pending,
                usn: (c.context.usn as u8).max(1),
            });
        }
        let mut streams = Vec::new();
        for c in b.clients.iter().skip(1) {
            let x = &c.context;
            let id = x.client_id;
            // (Client ids are unique, and client 0 comes first: clfs-format and the layout
            // check above.)
            if usize::from(id) > MAX_STREAMS {
                return Err(STATUS_LOG_METADATA_CORRUPT);
            }
            let flushed = x.unused1.0;
            streams.push(StreamMeta {
                id,
                name: c.name.clone(),
                base: x.base.0,
                archive_tail: if attributes & ARCHIVE != 0 {
                    x.archive_tail.0
                } else {
                    CLFS_LSN_INVALID
                },
                restart: x.restart.0,
                flushed: (flushed != CLFS_LSN_INVALID).then_some(flushed),
                last: None,
                delete_pending: false,
                reset_pending: false,
                client: *x,
            });
        }
        streams.sort_by_key(|s| s.id);
        let last = client.last.0;
        let hint = client.unused1.0;
        let mut m = Meta {
            identity: b.log_id.0,
            attributes,
            container_size: size.unwrap_or(0),
            base: client.base.0,
            archive_tail: if attributes & ARCHIVE != 0 && !multiplexed {
                client.archive_tail.0
            } else {
                CLFS_LSN_INVALID
            },
            restart: client.restart.0,
            flushed: (hint != CLFS_LSN_INVALID).then_some(hint),
            cursor_cid: (last >> 32) as u32,
            cursor_off: last as u32 & !0x1FF,
            next_phys: containers
                .iter()
                .map(|c| c.phys.saturating_add(1))
                .max()
                .unwrap_or(0),
            containers,
            dump: b.dump_count,
            shadow_current: false,
            client,
            client_name: b.clients[0].name.clone(),
            log_state: b.log_state,
            read_only,
            multiplexed,
            streams,
            layout: Vec::new(),
            ctl_shadow: false,
            scr_shadow: false,
            leftover: false,
            resync: Default::default(),
        };
        m.take_disk_state(&bf);
        Ok(m)
    }
}

/// The largest base file the emulator reads: two general blocks of the largest size, the
/// control and scratch pairs, and 1 MiB after them (a Windows 11 log-authentication area, or
/// an interrupted extension's new space, which is at most the two general blocks' growth).
pub(crate) const MAX_BASE_FILE: u64 = 2 * fmt::control::MAX_METADATA_BLOCK_SIZE as u64 + 0x10_0000;

/// Reads a whole base file, refusing one larger than [`MAX_BASE_FILE`] before reading it
/// (its size comes from disk: hostile input).
fn read_base_file(base: &Path) -> Result<Vec<u8>, NTSTATUS> {
    let len = std::fs::metadata(base)
        .map_err(|_| STATUS_LOG_METADATA_CORRUPT)?
        .len();
    if len > MAX_BASE_FILE {
        return Err(STATUS_LOG_METADATA_CORRUPT);
    }
    std::fs::read(base).map_err(|_| STATUS_LOG_METADATA_CORRUPT)
}

/// The copy of `t`'s pair on the shadow side (`shadow`) or the primary side.
fn side(t: fmt::MetadataBlockType, shadow: bool) -> fmt::MetadataBlockType {
    use fmt::MetadataBlockType as T;
    match (t, shadow) {
        (T::Control | T::ControlShadow, false) => T::Control,
        (T::Control | T::ControlShadow, true) => T::ControlShadow,
        (T::General | T::GeneralShadow, false) => T::General,
        (T::General | T::GeneralShadow, true) => T::GeneralShadow,
        (T::Scratch | T::ScratchShadow, false) => T::Scratch,
        (T::Scratch | T::ScratchShadow, true) => T::ScratchShadow,
    }
}

#[cfg(test)]
thread_local! {
    /// Test hook: the extension step after which the next extension on this thread stops as
    /// if the power failed (its writes so far are on disk, nothing after).
    static EXTEND_STOP: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

#[cfg(test)]
fn extend_stop() -> Option<u32> {
    EXTEND_STOP.with(|s| s.take())
}

#[cfg(not(test))]
fn extend_stop() -> Option<u32> {
    None
}

/// Creates a zero-filled container of `size` bytes (fails if the file exists).
pub(crate) fn create_container(path: &Path, size: u64) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let f = OpenOptions::new().write(true).create_new(true).open(path)?;
    let r = f.set_len(size).and_then(|_| f.sync_all());
    if r.is_err() {
        let _ = std::fs::remove_file(path);
    }
    r
}

/// Writes `data` at `off` of a file (no fsync): one positioned write (`pwrite`) where the
/// platform has it, instead of a seek and a write.
pub(crate) fn write_at(f: &File, off: u64, data: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(f, data, off)
    }
    #[cfg(not(unix))]
    {
        let mut w = f;
        w.seek(SeekFrom::Start(off))?;
        w.write_all(data)
    }
}

/// Reads `buf.len()` bytes at `off`: one positioned read (`pread`) where the platform has it.
fn read_exact_at(f: &File, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(f, buf, off)
    }
    #[cfg(not(unix))]
    {
        let mut r = f;
        r.seek(SeekFrom::Start(off))?;
        r.read_exact(buf)
    }
}

/// The size in bytes of the block at `off` of logical container `cid`, from its header alone
/// (`None` unless a block of that container and offset starts there and fits in `limit`
/// bytes of the container).
pub(crate) fn read_hdr(f: &File, cid: u32, off: u32, limit: u64) -> Option<u32> {
    let mut h = [0u8; BLOCK_HDR];
    read_exact_at(f, u64::from(off), &mut h).ok()?;
    let loc = fmt::Loc::new("(container)", u64::from(off));
    let hdr = fmt::BlockHeader::decode(&h, &loc).ok()?;
    let size = hdr.size() as u64;
    (hdr.major_version == fmt::block::MAJOR_VERSION
        && hdr.current_lsn.0 == lsn(cid, off, 0)
        && size > 0
        && u64::from(off) + size <= limit)
        .then_some(size as u32)
}

/// A flushed block read from its container: its size and where its records are.
#[derive(Clone, Debug, Default)]
pub(crate) struct DiskBlock {
    /// Bytes the block takes in the container.
    pub size: u32,
    /// Offset of each record's header in the block (index = record index).
    pub recs: Vec<u32>,
    /// The header's client id: the stream the records belong to (0 in a dedicated log).
    pub client: u8,
}

/// Reads the block at `off` of logical container `cid` (a container of `limit` bytes) into
/// `buf` (grown as needed), checks it (header, `CurrentLsn`, every sector signature against
/// the header's USN: a torn or stale block fails) and restores its sector bytes, then lists
/// its records (each with the LSN of its place). `None` if there is no valid block there.
pub(crate) fn read_block(
    f: &File,
    cid: u32,
    off: u32,
    limit: u64,
    buf: &mut Vec<u8>,
    out: &mut DiskBlock,
) -> Option<()> {
    let size = read_hdr(f, cid, off, limit)? as usize;
    // The buffer only grows (no zeroing per block); the block is its first `size` bytes.
    if buf.len() < size {
        buf.resize(size, 0);
    }
    let blk = buf.get_mut(..size)?;
    read_exact_at(f, u64::from(off), blk).ok()?;
    let loc = fmt::Loc::new("(container)", u64::from(off));
    let h = fmt::decode_block(
        blk,
        fmt::SECTOR_BLOCK_DATA,
        fmt::ChecksumPolicy::IfPresent,
        &loc,
    )
    .ok()?;
    let recs = fmt::block_records(blk, &h, &loc).ok()?;
    if recs.is_empty() {
        return None;
    }
    out.size = size as u32;
    out.client = h.client_id;
    out.recs.clear();
    out.recs.extend(recs.iter().map(|r| r.offset as u32));
    Some(())
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn rd_u64(b: &[u8], at: usize) -> u64 {
    u64::from(rd_u32(b, at)) | (u64::from(rd_u32(b, at + 4)) << 32)
}

/// A record inside a block image.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecView {
    pub lsn: u64,
    pub undo: u64,
    pub prev: u64,
    /// The client-visible type (data/restart bits only).
    pub ty: u8,
    /// Offset of the data in the block.
    pub data: usize,
    pub len: usize,
    /// Offset of the next record's header.
    pub next: usize,
}

/// The record whose header is at `pos` of block image `blk` (first `used` bytes valid).
pub(crate) fn rec_at(blk: &[u8], used: usize, pos: usize) -> Option<RecView> {
    let used = used.min(blk.len());
    if pos.checked_add(REC_HDR)? > used {
        return None;
    }
    let size = rd_u32(blk, pos + 0x18) as usize;
    let doff = usize::from(u16::from_le_bytes([blk[pos + 0x22], blk[pos + 0x23]]));
    if doff < REC_HDR || doff > size {
        return None;
    }
    let data = pos + doff;
    let len = size - doff;
    if pos.checked_add(size)? > used {
        return None;
    }
    Some(RecView {
        lsn: rd_u64(blk, pos),
        undo: rd_u64(blk, pos + 8),
        prev: rd_u64(blk, pos + 16),
        ty: (rd_u32(blk, pos + REC_TYPE_AT) & (REC_DATA | REC_RESTART)) as u8,
        data,
        len,
        next: pos + align8(size as u64) as usize,
    })
}

/// Finds record `idx` of a queued block image (records from 0x70, `nrec` of them). Checks the
/// record's own LSN against `lsn`.
pub(crate) fn find_rec(blk: &[u8], used: usize, nrec: u32, idx: u32, lsn: u64) -> Option<RecView> {
    if idx >= nrec {
        return None;
    }
    let mut pos = BLOCK_HDR;
    for _ in 0..idx {
        pos = rec_at(blk, used, pos)?.next;
    }
    rec_at(blk, used, pos).filter(|r| r.lsn == lsn)
}

/// A random 16-byte identity.
pub(crate) fn random_guid() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out[6] = (out[6] & 0x0F) | 0x40;
    out[8] = (out[8] & 0x3F) | 0x80;
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is a failure report
mod tests {
    use super::*;

    /// A log whose base record has just outgrown its general blocks: `n` containers stored.
    fn meta_with(dir: &Path, n: u32) -> (PathBuf, Meta) {
        let base = dir.join("big.blf");
        let mut m = Meta::new([7; 16], 0, "\\??\\C:\\big.blf".into());
        m.container_size = 0x80000;
        m.create(&base).unwrap();
        for i in 0..n {
            push_container(&mut m, dir, i);
        }
        m.store(&base).unwrap();
        (base, m)
    }

    fn push_container(m: &mut Meta, dir: &Path, i: u32) {
        let name = format!("%BLF%\\bigContainerWithAFairlyLongName{i:05}");
        m.containers.push(ContainerMeta {
            path: dir.join(&name[6..]),
            name,
            phys: i,
            logical: Some(i),
            pending_delete: false,
            usn: 1,
        });
        m.next_phys = i + 1;
    }

    /// Containers that fit the default general block, then one set more that needs an
    /// extension.
    fn fits_then_grows(dir: &Path) -> (PathBuf, Meta, u32) {
        let mut n = 16;
        loop {
            let m = Meta::new([7; 16], 0, "\\??\\C:\\big.blf".into());
            let mut probe = m.clone();
            for i in 0..n + 16 {
                push_container(&mut probe, dir, i);
            }
            let len = probe.general_record(2).unwrap().len();
            if general_size_for(len, 0x7a00) != Some(0x7a00) {
                let (base, m) = meta_with(dir, n);
                return (base, m, n + 16);
            }
            n += 16;
        }
    }

    /// A power loss after any step of an extension leaves a base file that loads with either
    /// every container of the old record or every container of the new one, whichever copy
    /// was current before; the next store (after the reopen) completes the growth.
    #[test]
    fn a_crash_at_any_step_of_an_extension_keeps_one_whole_record() {
        for shadow_first in [false, true] {
            for stop in 1..=6 {
                let dir = std::env::temp_dir().join(format!(
                    "clfs-emu-extend-{}-{shadow_first}-{stop}",
                    std::process::id()
                ));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).unwrap();
                let (base, mut m, more) = fits_then_grows(&dir);
                let old = m.containers.len();
                if shadow_first != m.shadow_current {
                    // One more store (same record) to start from the other current copy.
                    m.store(&base).unwrap();
                }
                assert_eq!(m.shadow_current, shadow_first);
                let before = m.clone();
                for i in old as u32..more {
                    push_container(&mut m, &dir, i);
                }
                EXTEND_STOP.with(|s| s.set(Some(stop)));
                let r = m.store(&base);
                // Stopped before the new table was durable: the store fails; after: it stands.
                assert_eq!(r.is_ok(), stop >= 5, "stop {stop}: {r:?}");
                let l = Meta::load(&base, &dir).unwrap();
                let want = if stop >= 5 { more as usize } else { old };
                assert_eq!(
                    l.containers.len(),
                    want,
                    "stop {stop} shadow {shadow_first}"
                );
                assert!(l.read_only.is_none(), "{:?}", l.read_only);
                assert!(l.same_flushed(if stop >= 5 { &m } else { &before }));
                // The reopened log grows (again) and loads with every container.
                let mut l = l;
                for i in l.containers.len() as u32..more + 16 {
                    push_container(&mut l, &dir, i);
                }
                l.store(&base).unwrap();
                l.store(&base).unwrap();
                let back = Meta::load(&base, &dir).unwrap();
                assert_eq!(back.containers.len(), more as usize + 16);
                let bytes = std::fs::read(&base).unwrap();
                let bf = fmt::BaseFile::decode(&bytes, "big.blf").unwrap();
                assert!(bf.trailing.is_none() && bf.rejected.is_empty(), "{bf:?}");
                assert_eq!(bf.control.extend_state, 0);
                assert!(bf.control.blocks[2].size > 0x7a00);
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }

    /// An update that does not extend the base file writes only older copies: the current
    /// control and general copies before it are byte for byte the same after it (so a torn
    /// write cannot leave the log without them).
    fn newest_copies_kept(was: &[u8], now: &[u8], stop: u32) {
        let a = fmt::BaseFile::decode(was, "was").unwrap();
        let b = fmt::BaseFile::decode(now, "now").unwrap();
        if a.control.blocks != b.control.blocks {
            return; // an extension: one whole record at every step instead (test above)
        }
        let ctl = match a.control_copy {
            fmt::Copy::Primary => 0..0x400,
            fmt::Copy::Shadow => 0x400..0x800,
        };
        let g = a.control.blocks[if a.base_copy == fmt::Copy::Shadow {
            3
        } else {
            2
        }];
        let gen = g.offset as usize..(g.offset + g.size) as usize;
        assert!(
            was[ctl.clone()] == now[ctl],
            "stop {stop}: the newest control copy was rewritten"
        );
        assert!(
            was[gen.clone()] == now[gen],
            "stop {stop}: the newest general copy was rewritten"
        );
    }

    /// A process that survives a failed extension keeps going with the metadata it has (the
    /// old clone after a failure, the new one after a late failure): its next store rereads the
    /// base file's table and copies first, then writes (and grows) correctly.
    #[test]
    fn after_a_failed_extension_the_next_store_rereads_the_disk() {
        for stop in 1..=6 {
            let dir = std::env::temp_dir().join(format!(
                "clfs-emu-extend-live-{}-{stop}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let (base, mut m, more) = fits_then_grows(&dir);
            let before = m.clone();
            for i in m.containers.len() as u32..more {
                push_container(&mut m, &dir, i);
            }
            EXTEND_STOP.with(|s| s.set(Some(stop)));
            let ok = m.store(&base).is_ok();
            assert_eq!(ok, stop >= 5);
            assert!(before.resync.load(std::sync::atomic::Ordering::Acquire));
            // What the log layer keeps: the old metadata after a failure (store_or_restore),
            // the new one after a success.
            let mut live = if ok { m } else { before };
            let n = live.containers.len() as u32;
            for i in n..n + 40 {
                push_container(&mut live, &dir, i);
            }
            for _ in 0..3 {
                let was = std::fs::read(&base).unwrap();
                live.store(&base).unwrap();
                newest_copies_kept(&was, &std::fs::read(&base).unwrap(), stop);
                let l = Meta::load(&base, &dir).unwrap();
                assert_eq!(l.containers.len(), (n + 40) as usize, "stop {stop}");
                assert!(l.same_flushed(&live));
            }
            let bytes = std::fs::read(&base).unwrap();
            let bf = fmt::BaseFile::decode(&bytes, "big.blf").unwrap();
            assert!(
                bf.trailing.is_none() && bf.rejected.is_empty(),
                "stop {stop}"
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn an_oversized_base_file_is_refused_before_it_is_read() {
        let dir = std::env::temp_dir().join(format!("clfs-emu-huge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let base = dir.join("huge.blf");
        let mut m = Meta::new([7; 16], 0, "\\??\\C:\\huge.blf".into());
        m.create(&base).unwrap();
        assert!(Meta::load(&base, &dir).is_ok());
        // A sparse file one byte over the bound.
        File::options()
            .write(true)
            .open(&base)
            .unwrap()
            .set_len(MAX_BASE_FILE + 1)
            .unwrap();
        assert_eq!(
            Meta::load(&base, &dir).unwrap_err(),
            STATUS_LOG_METADATA_CORRUPT
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn general_blocks_grow_in_default_block_steps_up_to_the_sector_limit() {
        assert_eq!(general_size_for(0x7980 - 0x70, 0x7a00), Some(0x7a00));
        assert_eq!(general_size_for(0x7980 - 0x6f, 0x7a00), Some(0xf400));
        assert_eq!(general_size_for(200_000, 0x7a00), Some(0x7a00 * 7));
        assert_eq!(general_size_for(MAX_GENERAL as usize, 0x7a00), None);
        assert_eq!(
            MAX_GENERAL,
            0x7a00 * 1074,
            "65514 of the 65535 sectors a header can count"
        );
    }

    #[test]
    fn block_sizes_leave_room_for_the_fixup_array() {
        assert_eq!(block_bytes(0x70 + 0x48), 512);
        assert_eq!(block_bytes(0x1f8), 512);
        assert_eq!(block_bytes(0x1f9), 1024);
        assert!(fits(4096 - 24, 4096) && !fits(4096 - 23, 4096));
        assert!(fits(255 * 512 - 512, 1 << 20) && !fits(255 * 512, 1 << 20));
    }

    #[test]
    fn sealed_blocks_decode_and_unseal_restores_the_image() {
        let mut img = vec![0u8; 4096];
        let h = record_header(
            lsn(3, 0x400, 0),
            CLFS_LSN_INVALID,
            CLFS_LSN_INVALID,
            1000,
            1,
            true,
        );
        img[BLOCK_HDR..BLOCK_HDR + REC_HDR].copy_from_slice(&h);
        for (i, b) in img[BLOCK_HDR + REC_HDR..BLOCK_HDR + REC_HDR + 1000]
            .iter_mut()
            .enumerate()
        {
            *b = (i % 251) as u8 + 1;
        }
        mark_last(&mut img, BLOCK_HDR);
        let used = (BLOCK_HDR + REC_HDR + 1000) as u32;
        let before = img.clone();
        let s = seal(&mut img, 3, 0x400, used, 7, 0, None).unwrap();
        assert_eq!(s.len, 1536);
        let mut disk = img[..s.len].to_vec();
        unseal(&mut img, &s);
        assert_eq!(
            img[BLOCK_HDR..used as usize],
            before[BLOCK_HDR..used as usize]
        );
        let loc = fmt::Loc::new("t", 0x400);
        let hd = fmt::decode_block(
            &mut disk,
            fmt::SECTOR_BLOCK_DATA,
            fmt::ChecksumPolicy::IfPresent,
            &loc,
        )
        .unwrap();
        let recs = fmt::block_records(&disk, &hd, &loc).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].data, &before[BLOCK_HDR + REC_HDR..used as usize]);
        assert_eq!(recs[0].header.record_type, 0x25);
    }
}
