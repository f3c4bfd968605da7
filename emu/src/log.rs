//! Physical logs, log file objects, containers, the block queue and flushing.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::marshal::Area;
use crate::persist::{self, block_bytes, ContainerMeta, DiskBlock, Meta, StreamMeta, SECTOR};
use crate::pool::BlockMem;
use crate::state::{emu, root_of, with_stats, Emu};
use crate::status::*;
use crate::types::{CLS_INFORMATION, NTSTATUS};
use crate::CLFS_LSN_INVALID;

/// `GENERIC_READ`.
pub(crate) const GENERIC_READ: u32 = 0x8000_0000;
/// `GENERIC_WRITE`.
pub(crate) const GENERIC_WRITE: u32 = 0x4000_0000;
/// `DELETE`.
pub(crate) const DELETE: u32 = 0x0001_0000;
/// `FILE_ATTRIBUTE_ARCHIVE`.
pub(crate) const FILE_ATTRIBUTE_ARCHIVE: u32 = 0x20;
/// Container size granularity for dedicated logs (512 KiB).
pub(crate) const CONTAINER_ROUND: u64 = 512 * 1024;
/// Container size granularity for multiplexed logs (1 MiB).
pub(crate) const CONTAINER_ROUND_MULTIPLEXED: u64 = 1024 * 1024;
/// Largest container (4 GiB).
pub(crate) const MAX_CONTAINER: u64 = 1 << 32;
/// Most containers per log.
pub(crate) const MAX_CONTAINERS: usize = 1024;

/// An open log file object (one handle).
pub(crate) struct LogObject {
    pub sandbox: u64,
    /// The physical log's id (key of `Emu::logs`).
    pub log: u64,
    pub access: u32,
    /// The stream: 0 for a dedicated log and for the physical log of a multiplexed one
    /// (`log:<path>::`), else the stream id.
    pub stream: u8,
}

/// Where a queued block's image lives.
pub(crate) enum BlockBuf {
    /// In the area's log I/O block (from the caller's allocator): the normal case.
    Mem(BlockMem),
    /// A private copy, once the block memory went back to its allocator (the area was
    /// deleted while the block could not be flushed).
    Owned(Vec<u8>),
}

/// A log block not yet written to its container (at most `cMaxWriteBuffers` per area).
pub(crate) struct QBlock {
    pub area: usize,
    /// The stream of its records (the area's; 0 in a dedicated log).
    pub stream: u8,
    pub cid: u32,
    pub off: u32,
    pub used: u32,
    pub nrec: u32,
    /// Offset of the last record's header (its type gets the last-in-block flag when sealed).
    pub last_pos: u32,
    pub first: u64,
    pub open: bool,
    pub buf: BlockBuf,
}

impl QBlock {
    /// The block image (header filled in when sealed).
    pub fn image(&self) -> &[u8] {
        match &self.buf {
            BlockBuf::Mem(m) => m.bytes(),
            BlockBuf::Owned(v) => v,
        }
    }

    /// The block image, writable.
    pub fn image_mut(&mut self) -> &mut [u8] {
        match &mut self.buf {
            BlockBuf::Mem(m) => m.bytes_mut(),
            BlockBuf::Owned(v) => v,
        }
    }

    /// True while the image is in a log I/O block of its area.
    pub fn has_mem(&self) -> bool {
        matches!(self.buf, BlockBuf::Mem(_))
    }

    /// Takes the log I/O block away, keeping a private copy of the image.
    pub fn take_mem(&mut self) -> Option<BlockMem> {
        let BlockBuf::Mem(m) = &self.buf else {
            return None;
        };
        let len = (block_bytes(u64::from(self.used)) as usize).min(m.bytes().len());
        let copy = m.bytes()[..len].to_vec();
        match std::mem::replace(&mut self.buf, BlockBuf::Owned(copy)) {
            BlockBuf::Mem(m) => Some(m),
            BlockBuf::Owned(_) => None,
        }
    }

    /// The log I/O block, if the image is still in one.
    pub fn into_mem(self) -> Option<BlockMem> {
        match self.buf {
            BlockBuf::Mem(m) => Some(m),
            BlockBuf::Owned(_) => None,
        }
    }
}

/// The shared state of one physical log (all handles of it in this process).
pub(crate) struct PhysLog {
    pub sandbox: u64,
    pub base_path: PathBuf,
    pub meta: Meta,
    pub queue: VecDeque<QBlock>,
    pub vcid: u32,
    pub voff: u32,
    /// The last record appended (`None` while the log has none).
    pub last: Option<u64>,
    /// Open objects: (handle, access, share, stream).
    pub opens: Vec<(usize, u32, u32, u8)>,
    pub delete_pending: bool,
    /// A dedicated log marked for reset (`ClfsCloseAndResetLogFile`): reset when its last
    /// handle closes.
    pub reset_pending: bool,
    pub reserved_bytes: u64,
    /// The metadata as last written to the base file.
    pub stored: Meta,
}

/// LSN from its parts.
pub(crate) fn lsn(cid: u32, off: u32, rec: u32) -> u64 {
    (u64::from(cid) << 32) | u64::from(off & !0x1FF) | u64::from(rec & 0x1FF)
}

impl PhysLog {
    fn new(sandbox: u64, base_path: PathBuf, mut meta: Meta) -> PhysLog {
        for st in &mut meta.streams {
            st.last = st.flushed;
        }
        PhysLog {
            sandbox,
            vcid: meta.cursor_cid,
            voff: meta.cursor_off,
            last: meta.flushed,
            base_path,
            stored: meta.clone(),
            meta,
            queue: VecDeque::new(),
            opens: Vec::new(),
            delete_pending: false,
            reset_pending: false,
            reserved_bytes: 0,
        }
    }

    /// After recovery: no base or archive tail lies past the recovered end (a saved value
    /// past it would put the next records below the base, where no read finds them, flushed
    /// or not). Not expected with the emulator's own files; a guard for damaged or foreign
    /// ones (for a dedicated log, the `emu_open` fuzz target found it: docs/reliability.md,
    /// finding 6).
    fn clamp_to_end(&mut self) {
        let end = lsn(self.vcid, self.voff, 0);
        self.meta.base = self.meta.base.min(end);
        if self.meta.archive_tail != CLFS_LSN_INVALID {
            self.meta.archive_tail = self.meta.archive_tail.min(end);
        }
        for st in &mut self.meta.streams {
            st.base = st.base.min(end);
            if st.archive_tail != CLFS_LSN_INVALID {
                st.archive_tail = st.archive_tail.min(end);
            }
            // A stream's last-flushed hint at or past the end names a record the log no
            // longer has (a damaged block cut it short): the stream's next record would come
            // below its reported last one (finding 11). The log's last record bounds the
            // stream's instead (its own is not known without reading every block). Not
            // `None`: a stream with no record would take its next record as its new base,
            // and its older records would fall out of its range.
            if st.flushed.is_some_and(|f| f >= end) {
                st.flushed = self.meta.flushed.filter(|&f| f < end);
                st.last = st.flushed;
            }
        }
    }

    /// Stream `sid` of a multiplexed log (`None` for a dedicated log and for stream 0).
    pub fn stream(&self, sid: u8) -> Option<&StreamMeta> {
        if sid == 0 {
            return None;
        }
        self.meta.streams.iter().find(|s| s.id == sid)
    }

    /// Stream `sid`, writable.
    pub fn stream_mut(&mut self, sid: u8) -> Option<&mut StreamMeta> {
        if sid == 0 {
            return None;
        }
        self.meta.streams.iter_mut().find(|s| s.id == sid)
    }

    /// The base LSN of stream `sid` (the log's for a dedicated log, the physical base for
    /// stream 0 of a multiplexed log).
    pub fn s_base(&self, sid: u8) -> u64 {
        self.stream(sid).map_or(self.meta.base, |s| s.base)
    }

    /// The restart LSN of stream `sid`.
    pub fn s_restart(&self, sid: u8) -> u64 {
        self.stream(sid).map_or(self.meta.restart, |s| s.restart)
    }

    /// The archive tail of stream `sid` (`CLFS_LSN_INVALID` for an ephemeral log).
    pub fn s_archive(&self, sid: u8) -> u64 {
        self.stream(sid)
            .map_or(self.meta.archive_tail, |s| s.archive_tail)
    }

    /// The tail of stream `sid`: min(base, archive tail).
    pub fn s_tail(&self, sid: u8) -> u64 {
        self.stream(sid)
            .map_or_else(|| self.tail(), StreamMeta::tail)
    }

    /// The last record of stream `sid` at or above its base (`None` if it has none).
    pub fn s_last(&self, sid: u8) -> Option<u64> {
        let last = match self.stream(sid) {
            Some(s) => s.last,
            None => self.last,
        };
        last.filter(|&l| l >= self.s_base(sid))
    }

    /// The last flushed record of stream `sid` (`None` if none).
    pub fn s_flushed(&self, sid: u8) -> Option<u64> {
        match self.stream(sid) {
            Some(s) => s.flushed,
            None => self.meta.flushed,
        }
    }

    /// Sets the base of stream `sid` (and the physical base of a multiplexed log).
    pub fn set_base(&mut self, sid: u8, b: u64) {
        match self.stream_mut(sid) {
            Some(s) => s.base = b,
            None => self.meta.base = b,
        }
        self.recompute_base();
    }

    /// Sets the restart LSN of stream `sid`.
    pub fn set_restart(&mut self, sid: u8, r: u64) {
        match self.stream_mut(sid) {
            Some(s) => s.restart = r,
            None => self.meta.restart = r,
        }
    }

    /// Sets the archive tail of stream `sid` (and the physical base of a multiplexed log).
    pub fn set_archive(&mut self, sid: u8, t: u64) {
        match self.stream_mut(sid) {
            Some(s) => s.archive_tail = t,
            None => self.meta.archive_tail = t,
        }
        self.recompute_base();
    }

    /// The durable end of the log: where the block after the last flushed block goes. A
    /// crash never moves the end below it, so a base set here stays at or below every record
    /// appended later (queued blocks past it may be lost).
    fn durable_end(&self) -> u64 {
        lsn(self.meta.cursor_cid, self.meta.cursor_off, 0)
    }

    /// A multiplexed log's physical base: the least tail of the streams that hold records at
    /// or above their tails, or the log's end when none does (it never moves back). A stream
    /// without such records pins nothing: an idle stream does not keep the log from recycling
    /// its containers.
    pub fn recompute_base(&mut self) {
        if !self.meta.multiplexed {
            return;
        }
        let b = self
            .meta
            .streams
            .iter()
            .filter(|s| s.pins())
            .map(StreamMeta::tail)
            .min()
            .unwrap_or_else(|| self.durable_end());
        self.meta.base = self.meta.base.max(b);
    }

    /// Adds stream `name` to a multiplexed log and persists it; returns its id.
    fn add_stream(&mut self, name: &str) -> Result<u8, NTSTATUS> {
        if self.meta.streams.len() >= persist::MAX_STREAMS {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        let id = (1..=persist::MAX_STREAMS as u8)
            .find(|i| !self.meta.streams.iter().any(|s| s.id == *i))
            .ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
        // A new stream starts at the log's durable end (its first record then becomes its
        // base): no record of an earlier stream with the same id (deleted) is ever in its
        // range, and a crash cannot leave the base past the end.
        let base = self.durable_end();
        let archive = if self.meta.attributes & FILE_ATTRIBUTE_ARCHIVE != 0 {
            base
        } else {
            CLFS_LSN_INVALID
        };
        let mut client = self.meta.client;
        client.client_id = id;
        let old = self.meta.clone();
        let at = self.meta.streams.partition_point(|s| s.id < id);
        self.meta.streams.insert(
            at,
            StreamMeta {
                id,
                name: name.to_string(),
                base,
                archive_tail: archive,
                restart: CLFS_LSN_INVALID,
                flushed: None,
                last: None,
                delete_pending: false,
                reset_pending: false,
                client,
            },
        );
        if let Err(st) = self.store_or_restore(old) {
            // The base record has no room for another client context even in the largest
            // general block the base file grows to: the same status as the stream limit, not
            // the container limit the encoder reports.
            return Err(if st == STATUS_LOG_CONTAINER_LIMIT_EXCEEDED {
                STATUS_INSUFFICIENT_RESOURCES
            } else {
                st
            });
        }
        Ok(id)
    }

    /// Resets stream `sid` (or the dedicated log's stream): base, restart and archive tail
    /// move to the log's end, so it reads as a stream that has never been written; its LSNs
    /// keep growing (none is reused). Persisted.
    fn reset_stream(&mut self, sid: u8) -> Result<(), NTSTATUS> {
        // The stream's areas are gone (each flushed its blocks when deleted), so its records
        // lie below the durable end; a crash cannot move the end below it.
        let end = self.durable_end();
        let archive = if self.meta.attributes & FILE_ATTRIBUTE_ARCHIVE != 0 {
            end
        } else {
            CLFS_LSN_INVALID
        };
        let old = self.meta.clone();
        match self.stream_mut(sid) {
            Some(s) => {
                s.base = end;
                s.archive_tail = archive;
                s.restart = CLFS_LSN_INVALID;
                s.flushed = None;
                s.last = None;
                s.reset_pending = false;
            }
            None => {
                self.meta.base = end;
                self.meta.archive_tail = archive;
                self.meta.restart = CLFS_LSN_INVALID;
                self.reset_pending = false;
            }
        }
        self.recompute_base();
        self.store_or_restore(old)?;
        self.sweep();
        Ok(())
    }

    /// Removes stream `sid` (its records stay in the containers until they are recycled)
    /// and persists it.
    fn remove_stream(&mut self, sid: u8) -> Result<(), NTSTATUS> {
        let old = self.meta.clone();
        self.meta.streams.retain(|s| s.id != sid);
        self.recompute_base();
        self.store_or_restore(old)?;
        self.sweep();
        Ok(())
    }

    /// Loads a log from disk: the base file's metadata, then the end of the log. Flushes
    /// within one container do not rewrite the base file, so the blocks of the cursor's
    /// container are followed from the cursor it records for as long as each is a valid block
    /// of that container at that offset (its header's `CurrentLsn` and every sector signature
    /// check; stale data of an earlier lap carries another logical id, a torn block fails its
    /// signatures). The last flushed record is the last record of the last block found, or of
    /// the block that ends at the recorded cursor. No record is kept in memory.
    fn load(sandbox: u64, base_path: PathBuf, root: &Path) -> Result<PhysLog, NTSTATUS> {
        let meta = Meta::load(&base_path, root)?;
        let mut log = PhysLog::new(sandbox, base_path, meta);
        // Each container is a file of its own, not the base file (paths compare as Windows
        // compares them, case-insensitively): else blocks of one container would overwrite
        // another's, or the metadata.
        let key = |p: &Path| p.to_string_lossy().to_lowercase();
        let base_key = key(&log.base_path);
        for (i, c) in log.meta.containers.iter().enumerate() {
            let k = key(&c.path);
            if k == base_key || log.meta.containers[..i].iter().any(|o| key(&o.path) == k) {
                return Err(STATUS_LOG_METADATA_CORRUPT);
            }
        }
        // A container file shorter than the declared size is damaged (the emulator creates
        // containers at full size): blocks past its end would be written into a file that
        // grows on demand, up to the declared size.
        for c in &log.meta.containers {
            match std::fs::metadata(&c.path) {
                Ok(m) if m.is_file() && m.len() >= log.meta.container_size => {}
                _ => return Err(STATUS_LOG_CONTAINER_OPEN_FAILED),
            }
        }
        let (ccid, coff) = (log.meta.cursor_cid, log.meta.cursor_off);
        let size = log.meta.container_size;
        // The cursor (`lsnLast`) names a place in a container in use, and leaves room for
        // the LSNs after it (container id 0xFFFFFFFF is CLFS_LSN_INVALID's): else the log's
        // end is unknown (finding 7 in docs/reliability.md).
        let cursor_ok = ccid < u32::MAX - 1
            && (log.meta.containers.is_empty()
                || (u64::from(coff) <= size
                    && log.meta.containers.iter().any(|c| c.logical == Some(ccid))));
        if !cursor_ok {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        }
        let Some(c) = log.meta.containers.iter().find(|c| c.logical == Some(ccid)) else {
            // No container in use yet: nothing was ever flushed.
            log.meta.flushed = None;
            log.last = None;
            log.clamp_to_end();
            return Ok(log);
        };
        let f = std::fs::File::open(&c.path).map_err(|_| STATUS_LOG_CONTAINER_OPEN_FAILED)?;
        let mut buf = Vec::new();
        let mut blk = DiskBlock::default();
        let mut off = coff;
        let mut last = None;
        while u64::from(off) + persist::BLOCK_HDR as u64 <= size {
            if persist::read_block(&f, ccid, off, size, &mut buf, &mut blk).is_none() {
                break;
            }
            let l = lsn(ccid, off, blk.recs.len() as u32 - 1);
            last = Some(l);
            if let Some(st) = log.stream_mut(blk.client) {
                st.flushed = Some(st.flushed.map_or(l, |f| f.max(l)));
                st.last = st.flushed;
            }
            off = off.saturating_add(blk.size);
        }
        let flushed = match last {
            Some(l) => {
                log.meta.cursor_off = off;
                log.voff = off;
                Some(l)
            }
            None => log.last_record_before(&f, ccid, coff, &mut buf)?,
        };
        log.meta.flushed = flushed;
        log.last = flushed;
        log.clamp_to_end();
        Ok(log)
    }

    /// The last record of the block that ends at (`cid`, `end`): the base file's hint if it
    /// names a record of that block, else found by walking the container's block headers
    /// from offset 0 (or the whole previous container when `end` is 0). `None` for a log
    /// with no record before the cursor.
    fn last_record_before(
        &self,
        f: &std::fs::File,
        cid: u32,
        end: u32,
        buf: &mut Vec<u8>,
    ) -> Result<Option<u64>, NTSTATUS> {
        let size = self.meta.container_size;
        let mut blk = DiskBlock::default();
        if let Some(h) = self.meta.flushed {
            let (hc, ho, hi) = ((h >> 32) as u32, h as u32 & !0x1FF, h as u32 & 0x1FF);
            if hc == cid
                && persist::read_block(f, hc, ho, size, buf, &mut blk).is_some()
                && ho.saturating_add(blk.size) == end
                && hi as usize + 1 == blk.recs.len()
            {
                return Ok(Some(h));
            }
        }
        let (wcid, file) = if end == 0 {
            if cid == 0 {
                return Ok(None);
            }
            let Some(c) = self
                .meta
                .containers
                .iter()
                .find(|c| c.logical == Some(cid - 1))
            else {
                return Ok(None);
            };
            (
                cid - 1,
                Some(std::fs::File::open(&c.path).map_err(|_| STATUS_LOG_CONTAINER_OPEN_FAILED)?),
            )
        } else {
            (cid, None)
        };
        let f = file.as_ref().unwrap_or(f);
        let stop = if end == 0 { size } else { u64::from(end) };
        let mut off = 0u32;
        let mut found = None;
        while u64::from(off) < stop {
            let Some(len) = persist::read_hdr(f, wcid, off, size) else {
                break;
            };
            found = Some(off);
            off = off.saturating_add(len);
        }
        if end != 0 && u64::from(off) != stop {
            // The blocks before the cursor do not reach it: the log is damaged.
            return Err(STATUS_LOG_BLOCK_INVALID);
        }
        let Some(o) = found else {
            return Ok(None);
        };
        persist::read_block(f, wcid, o, size, buf, &mut blk).ok_or(STATUS_LOG_BLOCK_INVALID)?;
        Ok(Some(lsn(wcid, o, blk.recs.len() as u32 - 1)))
    }

    /// min(base, archive tail): records below it are outside the active region.
    pub fn tail(&self) -> u64 {
        if self.meta.archive_tail == CLFS_LSN_INVALID {
            self.meta.base
        } else {
            self.meta.base.min(self.meta.archive_tail)
        }
    }

    pub(crate) fn is_free(&self, c: &ContainerMeta) -> bool {
        let tail_cid = (self.tail() >> 32) as u32;
        c.logical
            .is_none_or(|l| l < tail_cid.min(self.vcid) || l > self.vcid)
    }

    /// `CLFS_CONTAINER_STATE` of `c` (reference §2.8): never used or outside the active
    /// region → Inactive; holding records at or after the base → Active (ActivePendingDelete
    /// once marked for removal); holding only records between the archive tail and the base
    /// → PendingArchive (PendingArchiveAndDelete once marked).
    pub fn container_state(&self, c: &ContainerMeta) -> u32 {
        const INACTIVE: u32 = 0x02;
        const ACTIVE: u32 = 0x04;
        const ACTIVE_PENDING_DELETE: u32 = 0x08;
        const PENDING_ARCHIVE: u32 = 0x10;
        const PENDING_ARCHIVE_AND_DELETE: u32 = 0x20;
        let Some(l) = c.logical else {
            return INACTIVE;
        };
        if self.is_free(c) {
            return INACTIVE;
        }
        let base_cid = (self.meta.base >> 32) as u32;
        match (l >= base_cid.min(self.vcid), c.pending_delete) {
            (true, false) => ACTIVE,
            (true, true) => ACTIVE_PENDING_DELETE,
            (false, false) => PENDING_ARCHIVE,
            (false, true) => PENDING_ARCHIVE_AND_DELETE,
        }
    }

    /// Containers not in the active region.
    pub fn free_containers(&self) -> u32 {
        self.meta
            .containers
            .iter()
            .filter(|c| self.is_free(c))
            .count() as u32
    }

    /// Bytes still writable without recycling an active container.
    pub fn free_bytes(&self) -> u64 {
        if self.meta.containers.is_empty() {
            return 0;
        }
        let size = self.meta.container_size;
        let open = self
            .queue
            .back()
            .filter(|b| b.open)
            .map_or(0, |b| block_bytes(u64::from(b.used)));
        let cur = size.saturating_sub(u64::from(self.voff) + open);
        let free = self
            .meta
            .containers
            .iter()
            .filter(|c| self.is_free(c) && !c.pending_delete)
            .count() as u64;
        cur + free * size
    }

    /// `free_bytes() >= n`, without counting free containers when the current one has room.
    pub fn has_free(&self, n: u64) -> bool {
        let open = self
            .queue
            .back()
            .filter(|b| b.open)
            .map_or(0, |b| block_bytes(u64::from(b.used)));
        let cur = self
            .meta
            .container_size
            .saturating_sub(u64::from(self.voff) + open);
        (!self.meta.containers.is_empty() && cur >= n) || self.free_bytes() >= n
    }

    /// The LSN the next record would get if every block were closed now.
    pub fn next_lsn(&self, block: u32) -> u64 {
        if u64::from(self.voff) + u64::from(block) > self.meta.container_size {
            lsn(self.vcid.saturating_add(1), 0, 0)
        } else {
            lsn(self.vcid, self.voff, 0)
        }
    }

    /// Closes the open block (if any), making its records visible to every area.
    pub fn close_open_block(&mut self) {
        let Some(b) = self.queue.back_mut() else {
            return;
        };
        if !b.open {
            return;
        }
        b.open = false;
        self.voff = b.off.saturating_add(block_bytes(u64::from(b.used)) as u32);
    }

    /// Chooses where a new block of `block` bytes goes; may move to the next free container.
    pub fn place_block(&mut self, block: u32) -> Result<(u32, u32), NTSTATUS> {
        if u64::from(self.voff) + u64::from(block) <= self.meta.container_size {
            return Ok((self.vcid, self.voff));
        }
        if self.vcid >= u32::MAX - 1 {
            return Err(STATUS_LOG_FULL);
        }
        let n = self.meta.containers.len();
        let cur = self
            .meta
            .containers
            .iter()
            .position(|c| c.logical == Some(self.vcid))
            .unwrap_or(0);
        for step in 1..n.max(1) {
            let i = (cur + step) % n;
            let c = &self.meta.containers[i];
            if !c.pending_delete && self.is_free(c) {
                self.vcid += 1;
                self.voff = 0;
                let c = &mut self.meta.containers[i];
                // A recycled container's blocks get the next USN (as the container context's
                // `usnCurrent` on Windows), so a torn block mixing laps fails its signatures.
                if c.logical.is_some() {
                    c.usn = c.usn.wrapping_add(1).max(1);
                }
                c.logical = Some(self.vcid);
                return Ok((self.vcid, 0));
            }
        }
        Err(STATUS_LOG_FULL)
    }

    /// Writes the queued blocks (the whole queue, or the prefix whose first LSN is
    /// `<= upto`) to their containers, fsyncs, then updates the base file. Returns the
    /// bytes written.
    pub fn flush(
        &mut self,
        areas: &mut HashMap<usize, Area, crate::state::IdHash>,
        upto: Option<u64>,
    ) -> Result<u64, NTSTATUS> {
        let k = match upto {
            None => self.queue.len(),
            Some(t) => self.queue.iter().take_while(|b| b.first <= t).count(),
        };
        if k == 0 {
            return Ok(0);
        }
        if crate::faults::container_writes_fail(self.sandbox) {
            return Err(STATUS_LOG_CONTAINER_WRITE_FAILED);
        }
        if self.queue.get(k - 1).is_some_and(|b| b.open) {
            self.close_open_block();
        }
        let mut files: HashMap<u32, std::fs::File> = HashMap::new();
        let mut bytes = 0u64;
        let mut new_meta = self.meta.clone();
        for (j, b) in self.queue.iter_mut().take(k).enumerate() {
            let (cid, off, used, nrec) = (b.cid, b.off, b.used, b.nrec);
            let Some(c) = self.meta.containers.iter().find(|c| c.logical == Some(cid)) else {
                return Err(STATUS_LOG_CONTAINER_WRITE_FAILED);
            };
            if nrec > 0 {
                let at = b.last_pos as usize;
                persist::mark_last(b.image_mut(), at);
            }
            // As Windows does: the block that ends a flush names the next block's LSN.
            let len = block_bytes(u64::from(used)) as u32;
            let next = (j + 1 == k).then(|| lsn(cid, off.saturating_add(len), 0));
            let f = match files.entry(cid) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&c.path)
                        .map_err(|_| STATUS_LOG_CONTAINER_WRITE_FAILED)?;
                    v.insert(f)
                }
            };
            let stream = b.stream;
            let sealed = persist::seal(b.image_mut(), cid, off, used, c.usn, stream, next)?;
            let wr = b
                .image()
                .get(..sealed.len)
                .ok_or(STATUS_LOG_CONTAINER_WRITE_FAILED)
                .and_then(|img| {
                    persist::write_at(f, u64::from(off), img)
                        .map_err(|_| STATUS_LOG_CONTAINER_WRITE_FAILED)
                });
            // The image stays readable as a queued block until the flush has succeeded.
            persist::unseal(b.image_mut(), &sealed);
            wr?;
            bytes += sealed.len as u64;
            new_meta.cursor_cid = cid;
            new_meta.cursor_off = off.saturating_add(sealed.len as u32);
            if nrec > 0 {
                let l = b.first + u64::from(nrec - 1);
                new_meta.flushed = Some(l);
                if stream != 0 {
                    if let Some(st) = new_meta.streams.iter_mut().find(|s| s.id == stream) {
                        st.flushed = Some(st.flushed.map_or(l, |f| f.max(l)));
                    }
                }
            }
        }
        for f in files.values() {
            f.sync_all()
                .map_err(|_| STATUS_LOG_CONTAINER_WRITE_FAILED)?;
        }
        // The base file is rewritten only when more than the cursor changed (a new container
        // in use, base, restart, ...): a reopen finds blocks past the recorded cursor by
        // scanning the cursor's container, so flushed data survives.
        if !new_meta.same_but_cursor(&self.stored) {
            new_meta.store(&self.base_path)?;
            self.stored = new_meta.clone();
        }
        self.meta = new_meta;
        for _ in 0..k {
            let Some(b) = self.queue.pop_front() else {
                break;
            };
            let area = b.area;
            if let Some(m) = b.into_mem() {
                match areas.get_mut(&area) {
                    Some(a) if !a.deleted => a.free_bufs.push(m),
                    _ => m.release(),
                }
            }
        }
        with_stats(self.sandbox, |s| {
            s.flushes += 1;
            s.blocks_written += k as u64;
            s.bytes_written += bytes;
        });
        crate::info::count_flush(&self.base_path, bytes, false);
        Ok(bytes)
    }

    /// Persists the metadata, or on failure puts back `old` (the metadata before the change
    /// being persisted) and returns the status.
    pub fn store_or_restore(&mut self, old: Meta) -> Result<(), NTSTATUS> {
        self.store().inspect_err(|_| self.meta = old)
    }

    /// Persists the metadata (base file).
    pub fn store(&mut self) -> Result<(), NTSTATUS> {
        self.meta.store(&self.base_path)?;
        let size = std::fs::metadata(&self.base_path).map_or(0, |m| m.len());
        crate::info::count_flush(&self.base_path, size, true);
        self.stored = self.meta.clone();
        Ok(())
    }

    /// Deletes pending-delete containers that left the active region.
    pub fn sweep(&mut self) {
        let before = self.meta.containers.len();
        let doomed: Vec<PathBuf> = self
            .meta
            .containers
            .iter()
            .filter(|c| c.pending_delete && self.is_free(c))
            .map(|c| c.path.clone())
            .collect();
        self.meta.containers.retain(|c| !doomed.contains(&c.path));
        if self.meta.containers.len() != before && self.store().is_ok() {
            for p in doomed {
                let _ = std::fs::remove_file(p);
            }
        }
    }

    fn delete_files(&self) {
        for c in &self.meta.containers {
            let _ = std::fs::remove_file(&c.path);
        }
        let _ = std::fs::remove_file(&self.base_path);
    }

    /// Releases every queued block's memory (unflushed data is lost).
    fn drop_queue(&mut self) {
        for b in self.queue.drain(..) {
            if let Some(m) = b.into_mem() {
                m.release();
            }
        }
    }
}

/// Validates `handle` as an open log object; returns its log key.
pub(crate) fn object(emu: &Emu, handle: usize) -> Result<&LogObject, NTSTATUS> {
    emu.objects.get(&handle).ok_or(STATUS_INVALID_HANDLE)
}

/// What `ClfsCreateLogFile` was asked for, already validated.
pub(crate) struct CreateArgs {
    pub rel: PathBuf,
    pub access: u32,
    pub share: u32,
    pub disposition: u32,
    pub attributes: u32,
    /// `None` = `log:<path>` (dedicated), `Some("")` = `log:<path>::` (the physical log of a
    /// multiplexed log), `Some(name)` = a stream.
    pub stream: Option<String>,
}

fn share_conflict(opens: &[(usize, u32, u32, u8)], access: u32, share: u32) -> bool {
    let need = |acc: u32| -> u32 {
        let mut s = 0;
        if acc & GENERIC_READ != 0 {
            s |= 1;
        }
        if acc & GENERIC_WRITE != 0 {
            s |= 2;
        }
        if acc & DELETE != 0 {
            s |= 4;
        }
        s
    };
    opens
        .iter()
        .any(|&(_, a, sh, _)| need(access) & !sh != 0 || need(a) & !share != 0)
}

/// `ClfsCreateLogFile` after parameter validation.
pub(crate) fn create(a: CreateArgs) -> Result<usize, NTSTATUS> {
    let sandbox = crate::state::current_sandbox();
    let root = root_of(sandbox).ok_or(STATUS_OBJECT_NAME_NOT_FOUND)?;
    let base = crate::names::base_file(&root, &a.rel);
    let multiplexed_name = a.stream.is_some();
    let stream_name = a.stream.as_deref().filter(|s| !s.is_empty());
    let mut emu = emu();
    let known = emu.log_ids.get(&base).copied();
    let exists = known.is_some() || base.exists();
    // The disposition applies to what the name names: the stream, or the log.
    let mut created = false;
    let id = if exists {
        match known {
            Some(id) => id,
            None => {
                let log = PhysLog::load(sandbox, base.clone(), &root)?;
                let id = emu.new_log_id();
                emu.log_ids.insert(base.clone(), id);
                emu.logs.insert(id, log);
                id
            }
        }
    } else {
        if a.disposition == 1 {
            return Err(STATUS_OBJECT_NAME_NOT_FOUND);
        }
        if let Some(d) = base.parent() {
            std::fs::create_dir_all(d).map_err(|_| STATUS_OBJECT_NAME_INVALID)?;
        }
        let mut meta = if multiplexed_name {
            Meta::new_multiplexed(persist::random_guid(), a.attributes, client_name(&a.rel))
        } else {
            Meta::new(persist::random_guid(), a.attributes, client_name(&a.rel))
        };
        meta.create(&base)?;
        let id = emu.new_log_id();
        emu.log_ids.insert(base.clone(), id);
        emu.logs
            .insert(id, PhysLog::new(sandbox, base.clone(), meta));
        created = true;
        id
    };
    let h = emu.handle();
    let Some(log) = emu.logs.get_mut(&id) else {
        return Err(STATUS_INVALID_HANDLE);
    };
    // The stream the name opens (created if the disposition allows).
    let mut sid = 0u8;
    let mut fail = None;
    if log.meta.multiplexed != multiplexed_name {
        // A log is dedicated or multiplexed for life (reference §1.1).
        fail = Some(if log.meta.multiplexed {
            STATUS_LOG_MULTIPLEXED
        } else {
            STATUS_LOG_DEDICATED
        });
    } else if let Some(name) = stream_name {
        let found = log
            .meta
            .streams
            .iter()
            .find(|s| crate::names::same_stream_name(&s.name, name))
            .map(|s| (s.id, s.delete_pending));
        match found {
            Some((_, _)) if a.disposition == 2 => fail = Some(STATUS_OBJECT_NAME_COLLISION),
            Some((_, true)) => fail = Some(STATUS_DELETE_PENDING),
            Some((i, false)) => sid = i,
            None if a.disposition == 1 => fail = Some(STATUS_OBJECT_NAME_NOT_FOUND),
            None if log.delete_pending => fail = Some(STATUS_DELETE_PENDING),
            None => match log.add_stream(name) {
                Ok(i) => sid = i,
                Err(st) => fail = Some(st),
            },
        }
    } else if exists && !created && a.disposition == 2 {
        fail = Some(STATUS_OBJECT_NAME_COLLISION);
    }
    if fail.is_none() {
        fail = if log.delete_pending {
            Some(STATUS_DELETE_PENDING)
        } else if exists && log.meta.attributes & 1 != 0 && a.access & (GENERIC_WRITE | DELETE) != 0
        {
            Some(STATUS_ACCESS_DENIED)
        } else if let (Some(why), true) = (
            &log.meta.read_only,
            a.access & (GENERIC_WRITE | DELETE) != 0,
        ) {
            // A Windows-made log with parts the emulator does not write: read access only.
            let note = format!("{}: opened for reading only: {why}", base.display());
            with_stats(sandbox, |s| s.notes.push(note));
            Some(STATUS_MEDIA_WRITE_PROTECTED)
        } else {
            // Share modes apply among the objects of one stream (or of the physical log).
            let same: Vec<(usize, u32, u32, u8)> =
                log.opens.iter().copied().filter(|o| o.3 == sid).collect();
            share_conflict(&same, a.access, a.share).then_some(STATUS_SHARING_VIOLATION)
        };
    }
    if let Some(st) = fail {
        if log.opens.is_empty() {
            emu.log_ids.remove(&base);
            let mut l = emu.logs.remove(&id);
            if let Some(l) = l.as_mut() {
                l.drop_queue();
            }
        }
        return Err(st);
    }
    log.opens.push((h, a.access, a.share, sid));
    let multiplexed = log.meta.multiplexed;
    emu.objects.insert(
        h,
        LogObject {
            sandbox,
            log: id,
            access: a.access,
            stream: sid,
        },
    );
    with_stats(sandbox, |s| {
        s.open_logs += 1;
        s.open_streams += u64::from(multiplexed);
    });
    Ok(h)
}

/// The client symbol of a new log, in the form Windows stores (the base file's path):
/// `\??\C:\dir\name.blf` for the log `log:C:\dir\name`.
fn client_name(rel: &Path) -> String {
    let mut s = String::from("\\??");
    for (i, c) in rel.components().enumerate() {
        let c = c.as_os_str().to_string_lossy();
        s.push('\\');
        s.push_str(&c);
        if i == 0 && c.len() == 1 && c.chars().all(|x| x.is_ascii_alphabetic()) {
            s.push(':');
        }
    }
    s.push_str(".blf");
    s
}

/// `ClfsCloseLogFileObject`.
pub(crate) fn close(h: usize) -> NTSTATUS {
    let mut emu = emu();
    let Some(obj) = emu.objects.remove(&h) else {
        return STATUS_INVALID_HANDLE;
    };
    let multiplexed = emu.logs.get(&obj.log).is_some_and(|l| l.meta.multiplexed);
    with_stats(obj.sandbox, |s| {
        s.open_logs = s.open_logs.saturating_sub(1);
        s.open_streams = s.open_streams.saturating_sub(u64::from(multiplexed));
    });
    let owned: Vec<usize> = emu
        .areas
        .iter()
        .filter(|(_, a)| a.object == h)
        .map(|(k, _)| *k)
        .collect();
    for a in owned {
        if emu.areas.get(&a).is_some_and(|x| !x.deleted) {
            let _ = crate::marshal::delete_area_locked(&mut emu, a);
        }
        crate::read::invalidate_area_reads(&mut emu, a);
    }
    let mut last = false;
    let mut status = STATUS_SUCCESS;
    if let Some(log) = emu.logs.get_mut(&obj.log) {
        log.opens.retain(|o| o.0 != h);
        last = log.opens.is_empty();
        let last_of_stream = !log.opens.iter().any(|o| o.3 == obj.stream);
        // A stream marked for deletion or reset goes when its last object closes.
        if last_of_stream && !log.delete_pending {
            let (del, reset) = match log.stream(obj.stream) {
                Some(st) => (st.delete_pending, st.reset_pending),
                None => (false, obj.stream == 0 && log.reset_pending),
            };
            let r = if del {
                log.remove_stream(obj.stream)
            } else if reset {
                log.reset_stream(obj.stream)
            } else {
                Ok(())
            };
            if let Err(st) = r {
                status = st;
            }
        }
    }
    crate::mgmt::object_closed(h, obj.log, last);
    if last {
        if let Some(mut log) = emu.logs.remove(&obj.log) {
            emu.log_ids.remove(&log.base_path);
            log.drop_queue();
            if log.delete_pending {
                log.delete_files();
            } else if log.meta.multiplexed && !log.meta.same_flushed(&log.stored) {
                // A clean close of a multiplexed log records every stream's last flushed
                // record in the base file (between stores a reopen finds them by scanning the
                // cursor's container; after a clean close the base file alone shows them).
                // A dedicated log keeps the Windows-like behaviour of rewriting its base file
                // only when more than the cursor changed.
                let _ = log.store();
            }
        }
    }
    status
}

/// `ClfsCloseAndResetLogFile`: marks the object's stream for reset and closes the object.
/// The object must have write access (else `STATUS_ACCESS_DENIED` and it stays open); the
/// physical log of a multiplexed log has no stream to reset (`STATUS_LOG_MULTIPLEXED`, the
/// object stays open).
pub(crate) fn close_and_reset(h: usize) -> NTSTATUS {
    {
        let mut emu = emu();
        let (key, sid, access) = match object(&emu, h) {
            Ok(o) => (o.log, o.stream, o.access),
            Err(st) => return st,
        };
        if access & GENERIC_WRITE == 0 {
            return STATUS_ACCESS_DENIED;
        }
        let Some(log) = emu.logs.get_mut(&key) else {
            return STATUS_INVALID_HANDLE;
        };
        if log.meta.multiplexed && sid == 0 {
            return STATUS_LOG_MULTIPLEXED;
        }
        match log.stream_mut(sid) {
            Some(st) => st.reset_pending = true,
            None => log.reset_pending = true,
        }
    }
    close(h)
}

/// `ClfsDeleteLogByPointer`.
pub(crate) fn delete_by_pointer(h: usize) -> NTSTATUS {
    let mut emu = emu();
    let Ok(obj) = object(&emu, h) else {
        return STATUS_INVALID_HANDLE;
    };
    if obj.access & DELETE == 0 {
        return STATUS_ACCESS_DENIED;
    }
    let (key, sid) = (obj.log, obj.stream);
    if let Some(st) = emu.logs.get_mut(&key).and_then(|l| l.stream_mut(sid)) {
        // A stream of a multiplexed log: the stream goes, not the physical log.
        if st.delete_pending {
            return STATUS_DELETE_PENDING;
        }
        st.delete_pending = true;
        return STATUS_SUCCESS;
    }
    match emu.logs.get_mut(&key) {
        Some(l) if l.delete_pending => STATUS_DELETE_PENDING,
        Some(l) => {
            l.delete_pending = true;
            STATUS_SUCCESS
        }
        None => STATUS_INVALID_HANDLE,
    }
}

/// `ClfsDeleteLogFile` after name parsing: `stream` as in [`CreateArgs::stream`]. Deleting a
/// stream removes it from its multiplexed log (at once, or when its last object closes);
/// `log:<path>::` deletes the physical log with all its streams.
pub(crate) fn delete_by_name(rel: &Path, stream: Option<&str>) -> NTSTATUS {
    let sandbox = crate::state::current_sandbox();
    let Some(root) = root_of(sandbox) else {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    };
    let base = crate::names::base_file(&root, rel);
    let mut emu = emu();
    let known = emu.log_ids.get(&base).copied();
    let kind_check = |multiplexed: bool| -> Option<NTSTATUS> {
        match (multiplexed, stream.is_some()) {
            (true, false) => Some(STATUS_LOG_MULTIPLEXED),
            (false, true) => Some(STATUS_LOG_DEDICATED),
            _ => None,
        }
    };
    let stream_name = stream.filter(|s| !s.is_empty());
    if let Some(l) = known.and_then(|id| emu.logs.get_mut(&id)) {
        if let Some(st) = kind_check(l.meta.multiplexed) {
            return st;
        }
        if l.delete_pending {
            return STATUS_DELETE_PENDING;
        }
        if let Some(name) = stream_name {
            let Some(sid) = l
                .meta
                .streams
                .iter()
                .find(|s| crate::names::same_stream_name(&s.name, name))
                .map(|s| s.id)
            else {
                return STATUS_OBJECT_NAME_NOT_FOUND;
            };
            let opens: Vec<_> = l.opens.iter().filter(|o| o.3 == sid).copied().collect();
            if opens.iter().any(|o| o.2 & 4 == 0) {
                return STATUS_SHARING_VIOLATION;
            }
            if opens.is_empty() {
                return l.remove_stream(sid).err().unwrap_or(STATUS_SUCCESS);
            }
            return match l.stream_mut(sid) {
                Some(st) if st.delete_pending => STATUS_DELETE_PENDING,
                Some(st) => {
                    st.delete_pending = true;
                    STATUS_SUCCESS
                }
                None => STATUS_OBJECT_NAME_NOT_FOUND,
            };
        }
        if l.opens.iter().any(|o| o.2 & 4 == 0) {
            return STATUS_SHARING_VIOLATION;
        }
        l.delete_pending = true;
        return STATUS_SUCCESS;
    }
    if !base.exists() {
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    match PhysLog::load(sandbox, base, &root) {
        Ok(mut l) => {
            if let Some(st) = kind_check(l.meta.multiplexed) {
                return st;
            }
            if let Some(name) = stream_name {
                let Some(sid) = l
                    .meta
                    .streams
                    .iter()
                    .find(|s| crate::names::same_stream_name(&s.name, name))
                    .map(|s| s.id)
                else {
                    return STATUS_OBJECT_NAME_NOT_FOUND;
                };
                return l.remove_stream(sid).err().unwrap_or(STATUS_SUCCESS);
            }
            l.delete_files();
            STATUS_SUCCESS
        }
        Err(st) => st,
    }
}

fn round_container(n: u64, multiplexed: bool) -> Option<u64> {
    let g = if multiplexed {
        CONTAINER_ROUND_MULTIPLEXED
    } else {
        CONTAINER_ROUND
    };
    let r = n.checked_add(g - 1)? / g * g;
    (r != 0 && r <= MAX_CONTAINER).then_some(r)
}

/// Adds containers (all or nothing). `size` is the caller's in/out size.
pub(crate) fn add_containers(
    h: usize,
    size: Option<u64>,
    names: &[Vec<u16>],
) -> Result<u64, NTSTATUS> {
    let mut emu = emu();
    let obj = object(&emu, h)?;
    if obj.access & GENERIC_WRITE == 0 {
        return Err(STATUS_ACCESS_DENIED);
    }
    let key = obj.log;
    let root = root_of(obj.sandbox).ok_or(STATUS_INVALID_HANDLE)?;
    let log = emu.logs.get_mut(&key).ok_or(STATUS_INVALID_HANDLE)?;
    if names.is_empty() {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let existing = log.meta.containers.len();
    let csize = if existing == 0 {
        round_container(size.ok_or(STATUS_INVALID_PARAMETER)?, log.meta.multiplexed)
            .ok_or(STATUS_INVALID_PARAMETER)?
    } else {
        let cur = log.meta.container_size;
        if let Some(s) = size {
            let r = round_container(s, log.meta.multiplexed).ok_or(STATUS_INVALID_PARAMETER)?;
            if r < cur {
                return Err(STATUS_INVALID_PARAMETER);
            }
        }
        cur
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut symbols: Vec<String> = Vec::new();
    for n in names {
        let p = crate::names::container_path(n, &root, &log.base_path)?;
        symbols.push(String::from_utf16_lossy(n));
        if paths.contains(&p)
            || log.meta.containers.iter().any(|c| c.path == p)
            || p == log.base_path
        {
            return Err(STATUS_OBJECT_NAME_COLLISION);
        }
        paths.push(p);
    }
    if existing + paths.len() > MAX_CONTAINERS {
        return Err(STATUS_LOG_CONTAINER_LIMIT_EXCEEDED);
    }
    for p in &paths {
        if p.exists() {
            return Err(STATUS_OBJECT_NAME_COLLISION);
        }
    }
    let mut made: Vec<&PathBuf> = Vec::new();
    for p in &paths {
        if persist::create_container(p, csize).is_err() {
            for m in made {
                let _ = std::fs::remove_file(m);
            }
            return Err(STATUS_LOG_CONTAINER_OPEN_FAILED);
        }
        made.push(p);
    }
    let old = log.meta.clone();
    log.meta.container_size = csize;
    for (p, name) in paths.iter().zip(symbols) {
        let logical = (log.meta.containers.is_empty()).then_some(log.vcid);
        let phys = log.meta.next_phys;
        log.meta.next_phys = phys.wrapping_add(1);
        log.meta.containers.push(ContainerMeta {
            path: p.clone(),
            name,
            phys,
            logical,
            pending_delete: false,
            usn: 1,
        });
    }
    if let Err(st) = log.store() {
        log.meta = old;
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        return Err(st);
    }
    Ok(csize)
}

/// Removes containers (all or nothing).
pub(crate) fn remove_containers(h: usize, names: &[Vec<u16>], force: bool) -> NTSTATUS {
    let mut emu = emu();
    let obj = match object(&emu, h) {
        Ok(o) => o,
        Err(st) => return st,
    };
    if obj.access & GENERIC_WRITE == 0 {
        return STATUS_ACCESS_DENIED;
    }
    let key = obj.log;
    let Some(root) = root_of(obj.sandbox) else {
        return STATUS_INVALID_HANDLE;
    };
    let Some(log) = emu.logs.get_mut(&key) else {
        return STATUS_INVALID_HANDLE;
    };
    if names.is_empty() {
        return STATUS_INVALID_PARAMETER;
    }
    let mut idx = Vec::new();
    for n in names {
        let p = match crate::names::container_path(n, &root, &log.base_path) {
            Ok(p) => p,
            Err(st) => return st,
        };
        let Some(i) = log.meta.containers.iter().position(|c| c.path == p) else {
            return STATUS_OBJECT_NAME_NOT_FOUND;
        };
        if idx.contains(&i) {
            return STATUS_INVALID_PARAMETER;
        }
        if force && !log.is_free(&log.meta.containers[i]) {
            return STATUS_LOG_CANT_DELETE;
        }
        idx.push(i);
    }
    let old = log.meta.clone();
    for &i in &idx {
        log.meta.containers[i].pending_delete = true;
    }
    let doomed: Vec<PathBuf> = log
        .meta
        .containers
        .iter()
        .filter(|c| c.pending_delete && log.is_free(c))
        .map(|c| c.path.clone())
        .collect();
    log.meta.containers.retain(|c| !doomed.contains(&c.path));
    if let Err(st) = log.store() {
        log.meta = old;
        return st;
    }
    for p in doomed {
        let _ = std::fs::remove_file(p);
    }
    STATUS_SUCCESS
}

/// Fills a `CLS_INFORMATION` for the stream behind `h`, or for its physical log if `physical`
/// (`ClfsLogBasicInformationPhysical`). Per stream: the reservation, base, last and restart
/// LSNs (reference §2.4); the rest describes the physical log.
pub(crate) fn query(h: usize, physical: bool) -> Result<CLS_INFORMATION, NTSTATUS> {
    let emu = emu();
    let obj = object(&emu, h)?;
    let log = emu.logs.get(&obj.log).ok_or(STATUS_INVALID_HANDLE)?;
    let sid = if physical { 0 } else { obj.stream };
    let n = log.meta.containers.len() as u64;
    let size = log.meta.container_size;
    let free = i64::try_from(log.free_bytes()).unwrap_or(i64::MAX);
    let reserved_bytes = if sid == 0 {
        log.reserved_bytes
    } else {
        emu.areas
            .values()
            .filter(|a| a.log == obj.log && a.stream == sid && !a.deleted)
            .flat_map(|a| a.reservations.iter())
            .sum()
    };
    let reserved = i64::try_from(reserved_bytes).unwrap_or(i64::MAX);
    let g = log.meta.identity;
    let mut info: CLS_INFORMATION = CLS_INFORMATION {
        TotalAvailable: i64::try_from(n * size).unwrap_or(i64::MAX),
        CurrentAvailable: free.saturating_sub(reserved).max(0),
        TotalReservation: reserved,
        BaseFileSize: std::fs::metadata(&log.base_path).map_or(0, |m| m.len()),
        ContainerSize: size,
        TotalContainers: n as u32,
        FreeContainers: log.free_containers(),
        TotalClients: if log.meta.multiplexed {
            log.meta.streams.len() as u32
        } else {
            1
        },
        Attributes: log.meta.attributes,
        FlushThreshold: 40000,
        SectorSize: SECTOR as u32,
        MinArchiveTailLsn: crate::types::CLS_LSN {
            Internal: log.s_tail(sid),
        },
        BaseLsn: crate::types::CLS_LSN {
            Internal: log.s_base(sid),
        },
        // An empty log reports CLFS_LSN_NULL for both, the same values as a log whose only
        // record is the first one (0:0x0:0).
        LastFlushedLsn: crate::types::CLS_LSN {
            Internal: log.s_flushed(sid).unwrap_or(crate::CLFS_LSN_NULL),
        },
        LastLsn: crate::types::CLS_LSN {
            Internal: log.s_last(sid).unwrap_or(log.s_base(sid)),
        },
        RestartLsn: crate::types::CLS_LSN {
            Internal: log.s_restart(sid),
        },
        // The log id as the base record stores it (a GUID in memory order).
        Identity: windows_sys::core::GUID {
            data1: u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            data2: u16::from_le_bytes([g[4], g[5]]),
            data3: u16::from_le_bytes([g[6], g[7]]),
            data4: [g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]],
        },
    };
    if n == 0 {
        info.FreeContainers = 0;
    }
    Ok(info)
}

/// `ClfsSetArchiveTail`.
pub(crate) fn set_archive_tail(h: usize, t: u64) -> NTSTATUS {
    let mut emu = emu();
    let (key, sid) = match object(&emu, h) {
        Ok(o) => (o.log, o.stream),
        Err(st) => return st,
    };
    let Emu { logs, areas, .. } = &mut *emu;
    let Some(log) = logs.get_mut(&key) else {
        return STATUS_INVALID_HANDLE;
    };
    if log.meta.attributes & FILE_ATTRIBUTE_ARCHIVE == 0 {
        return STATUS_LOG_EPHEMERAL;
    }
    if log.meta.multiplexed && sid == 0 {
        return STATUS_LOG_MULTIPLEXED;
    }
    if t > log.s_last(sid).unwrap_or(log.s_base(sid)) || t < log.s_archive(sid) {
        return STATUS_LOG_TAIL_INVALID;
    }
    // Like the base, the archive tail never passes the durable end.
    if log.s_flushed(sid).is_none_or(|f| t > f) {
        if let Err(st) = log.flush(areas, Some(t)) {
            return st;
        }
    }
    let old = log.meta.clone();
    log.set_archive(sid, t);
    if let Err(st) = log.store_or_restore(old) {
        return st;
    }
    log.sweep();
    STATUS_SUCCESS
}

/// Tears down every object of `sandbox` without flushing (simulated power loss).
pub(crate) fn crash_sandbox(sandbox: u64) {
    let mut emu = emu();
    let reads: Vec<usize> = emu
        .reads
        .iter()
        .filter(|(_, r)| r.sandbox == sandbox)
        .map(|(k, _)| *k)
        .collect();
    for r in reads {
        // The handle dies now; the block it read into lives until the caller terminates the
        // context, as a record or restart area the caller holds points into it.
        if let Some(ctx) = emu.reads.remove(&r) {
            emu.crashed_reads.insert(r, ctx);
        }
    }
    let areas: Vec<usize> = emu
        .areas
        .iter()
        .filter(|(_, a)| a.sandbox == sandbox)
        .map(|(k, _)| *k)
        .collect();
    for a in areas {
        if let Some(area) = emu.areas.remove(&a) {
            area.release();
        }
    }
    let objs: Vec<usize> = emu
        .objects
        .iter()
        .filter(|(_, o)| o.sandbox == sandbox)
        .map(|(k, _)| *k)
        .collect();
    for o in &objs {
        emu.objects.remove(o);
    }
    let logs: Vec<u64> = emu
        .logs
        .iter()
        .filter(|(_, l)| l.sandbox == sandbox)
        .map(|(k, _)| *k)
        .collect();
    for k in logs {
        if let Some(mut l) = emu.logs.remove(&k) {
            emu.log_ids.remove(&l.base_path);
            l.drop_queue();
        }
    }
    drop(emu);
    crate::mgmt::crash_sandbox(sandbox);
    crate::scan::forget_sandbox(sandbox);
    with_stats(sandbox, |s| {
        s.open_logs = 0;
        s.open_streams = 0;
        s.live_areas = 0;
        s.live_read_contexts = 0;
        s.live_scan_contexts = 0;
        s.reserved_records = 0;
        s.reserved_bytes = 0;
    });
}

/// Block-size helper used by areas: bytes a record of `len` data bytes takes in a block.
pub(crate) fn record_size(len: u64) -> u64 {
    persist::REC_HDR as u64 + persist::align8(len)
}
