//! The on-disk format: real CLFS files, encoded and decoded with `clfs-format`.
//!
//! Base file (`<name>.blf`, 64 KiB): the six metadata blocks Windows writes (control, base and
//! truncate record, each with a shadow copy). A new log gets the whole image (written to
//! `<name>.blf.tmp`, fsynced, renamed); every later update writes the three blocks of the
//! *older* copy with the next dump count and fsyncs, so a torn write of one copy leaves the
//! other valid and a reader takes the valid copy with the higher dump count.
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

    /// The control, general and scratch block images for dump count `dump`.
    fn blocks(&self, dump: u64) -> Result<[Vec<u8>; 3], NTSTATUS> {
        let err = |_| STATUS_LOG_METADATA_CORRUPT;
        let ctl = fmt::ControlRecord::new(dump).encode();
        // The base record must fit its 0x7a00-byte block (Windows would extend the base file;
        // the emulator does not): too many containers for it is the container limit.
        let gen = self
            .base_record(dump)
            .encode()
            .map_err(|_| STATUS_LOG_CONTAINER_LIMIT_EXCEEDED)?;
        let scr = fmt::TruncateRecord {
            dump_count: dump,
            ..Default::default()
        }
        .encode();
        let (_, cs) = fmt::MetadataBlockType::Control.default_extent();
        let (_, gs) = fmt::MetadataBlockType::General.default_extent();
        let (_, ss) = fmt::MetadataBlockType::Scratch.default_extent();
        Ok([
            fmt::encode_metadata_block(cs as usize, 1, &ctl).map_err(err)?,
            fmt::encode_metadata_block(gs as usize, 1, &gen)
                .map_err(|_| STATUS_LOG_CONTAINER_LIMIT_EXCEEDED)?,
            fmt::encode_metadata_block(ss as usize, 1, &scr).map_err(err)?,
        ])
    }

    /// Writes a new base file atomically (temp file, fsync, rename, directory fsync): both
    /// copies of every block, dump count 1.
    pub fn create(&mut self, base: &Path) -> Result<(), NTSTATUS> {
        let blocks = self.blocks(1)?;
        let mut image = vec![0u8; fmt::BASE_FILE_SIZE];
        for t in fmt::MetadataBlockType::ALL {
            let (o, s) = t.default_extent();
            let b = &blocks[t as usize / 2];
            if let Some(dst) = image.get_mut(o as usize..(o + s) as usize) {
                dst.copy_from_slice(b);
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
        Ok(())
    }

    /// Writes the next dump count into the older copy of the control, base and truncate
    /// records, then fsyncs. On failure nothing in memory changes (the newer copy on disk is
    /// still valid, and the next store writes the older one again).
    pub fn store(&mut self, base: &Path) -> Result<(), NTSTATUS> {
        if self.read_only.is_some() {
            return Err(STATUS_ACCESS_DENIED);
        }
        let dump = self.dump + 1;
        let shadow = !self.shadow_current;
        let blocks = self.blocks(dump)?;
        let res = (|| -> std::io::Result<()> {
            let f = OpenOptions::new().write(true).open(base)?;
            let types = if shadow {
                [
                    fmt::MetadataBlockType::ControlShadow,
                    fmt::MetadataBlockType::GeneralShadow,
                    fmt::MetadataBlockType::ScratchShadow,
                ]
            } else {
                [
                    fmt::MetadataBlockType::Control,
                    fmt::MetadataBlockType::General,
                    fmt::MetadataBlockType::Scratch,
                ]
            };
            for (t, b) in types.iter().zip(&blocks) {
                write_at(&f, u64::from(t.default_extent().0), b)?;
            }
            f.sync_all()
        })();
        res.map_err(|_| STATUS_LOG_CONTAINER_WRITE_FAILED)?;
        self.dump = dump;
        self.shadow_current = shadow;
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
        let bytes = std::fs::read(base).map_err(|_| STATUS_LOG_METADATA_CORRUPT)?;
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
        if let Some((at, len)) = bf.trailing {
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
            if *size.get_or_insert(c.context.size) != c.context.size || c.context.size == 0 {
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
        Ok(Meta {
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
            shadow_current: bf.base_copy == fmt::Copy::Shadow,
            client,
            client_name: b.clients[0].name.clone(),
            log_state: b.log_state,
            read_only,
            multiplexed,
            streams,
        })
    }
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
