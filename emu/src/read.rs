//! Read contexts: `ClfsReadLogRecord`, `ClfsReadNextLogRecord`, restart-area reads.

use std::fs::File;

use crate::log::{lsn, PhysLog};
use crate::marshal::{Area, INFINITE};
use crate::persist::{self, DiskBlock, RecView, BLOCK_HDR};
use crate::pool::BlockMem;
use crate::state::{emu, with_stats, Emu};
use crate::status::*;
use crate::types::NTSTATUS;
use crate::CLFS_LSN_INVALID;

/// `ClfsContextUndoNext`.
pub(crate) const MODE_UNDO_NEXT: i32 = 1;
/// `ClfsContextPrevious`.
pub(crate) const MODE_PREVIOUS: i32 = 2;
/// `ClfsContextForward`.
pub(crate) const MODE_FORWARD: i32 = 3;

/// A read context's copy of the flushed log block its current record is in (read whole from
/// the container, its signatures checked and fixups restored), so following records of that
/// block need no I/O.
#[derive(Default)]
pub(crate) struct BlockCache {
    /// (logical container id, offset) of the block in `buf`.
    key: Option<(u32, u32)>,
    blk: DiskBlock,
    buf: Vec<u8>,
    /// The container file last read, by logical id.
    file: Option<(u32, File)>,
}

/// A read context.
pub(crate) struct ReadCtx {
    pub sandbox: u64,
    pub area: usize,
    pub mode: i32,
    pub cur: u64,
    /// For contexts from `ClfsReadRestartArea`: the restart record last returned.
    pub restart: Option<u64>,
    pub block: Option<BlockMem>,
    cache: BlockCache,
}

impl ReadCtx {
    /// Returns the read block.
    pub fn release(mut self) {
        if let Some(b) = self.block.take() {
            b.release();
        }
    }
}

/// What a read returns.
pub(crate) struct Got {
    pub ptr: *mut u8,
    pub len: u32,
    pub ty: u8,
    pub undo: u64,
    pub prev: u64,
    pub lsn: u64,
}

fn area_log(emu: &mut Emu, h: usize) -> Result<(&mut PhysLog, &mut Area), NTSTATUS> {
    let Emu { logs, areas, .. } = emu;
    let a = areas
        .get_mut(&h)
        .filter(|a| !a.deleted)
        .ok_or(STATUS_INVALID_HANDLE)?;
    let log = logs.get_mut(&a.log).ok_or(STATUS_INVALID_HANDLE)?;
    Ok((log, a))
}

/// Where a found record's block is.
#[derive(Clone, Copy)]
enum Src {
    /// `log.queue[i]` (not yet flushed).
    Queue(usize),
    /// The context's block cache (read from the container).
    Disk,
}

/// A record found by LSN.
#[derive(Clone, Copy)]
struct Found {
    r: RecView,
    src: Src,
    cid: u32,
    off: u32,
    idx: u32,
    nrec: u32,
    /// Bytes the block takes in its container (disk blocks).
    size: u32,
    /// The stream the record belongs to (its block's; 0 in a dedicated log).
    stream: u8,
}

/// (logical container id, block offset, record index) of an LSN.
fn split_lsn(l: u64) -> (u32, u32, u32) {
    ((l >> 32) as u32, l as u32 & !0x1FF, l as u32 & 0x1FF)
}

/// True if the block position is below the flushed cursor (its block is in a container).
fn on_disk(log: &PhysLog, cid: u32, off: u32) -> bool {
    (cid, off) < (log.meta.cursor_cid, log.meta.cursor_off)
}

/// Opens (or keeps) the container file of logical id `cid` in the cache.
fn ensure_file(log: &PhysLog, cache: &mut BlockCache, cid: u32) -> Option<()> {
    if cache.file.as_ref().is_some_and(|(c, _)| *c == cid) {
        return Some(());
    }
    let c = log
        .meta
        .containers
        .iter()
        .find(|c| c.logical == Some(cid))?;
    let f = File::open(&c.path).ok()?;
    cache.file = Some((cid, f));
    Some(())
}

/// Reads the flushed block at (`cid`, `off`) into the cache (no-op if it is there).
fn load_disk(log: &PhysLog, cache: &mut BlockCache, cid: u32, off: u32) -> Option<()> {
    if cache.key == Some((cid, off)) {
        return Some(());
    }
    cache.key = None;
    ensure_file(log, cache, cid)?;
    let BlockCache { file, buf, blk, .. } = cache;
    let (_, f) = file.as_ref()?;
    persist::read_block(f, cid, off, log.meta.container_size, buf, blk)?;
    cache.key = Some((cid, off));
    Some(())
}

/// The size of the flushed block at (`cid`, `off`) from its header, if a block of that
/// container and offset is there.
fn peek_hdr(log: &PhysLog, cache: &mut BlockCache, cid: u32, off: u32) -> Option<u32> {
    if cache.key == Some((cid, off)) {
        return Some(cache.blk.size);
    }
    if u64::from(off) + BLOCK_HDR as u64 > log.meta.container_size {
        return None;
    }
    ensure_file(log, cache, cid)?;
    let (_, f) = cache.file.as_ref()?;
    persist::read_hdr(f, cid, off, log.meta.container_size)
}

/// Finds record `l` (not checked against the tail): in a queued block (invisible if it is
/// another area's open block) or in the block read from its container.
fn find(log: &PhysLog, cache: &mut BlockCache, area: usize, l: u64) -> Result<Found, NTSTATUS> {
    let (cid, off, idx) = split_lsn(l);
    if !on_disk(log, cid, off) {
        let i = log
            .queue
            .binary_search_by_key(&lsn(cid, off, 0), |b| b.first)
            .map_err(|_| STATUS_LOG_RECORD_NONEXISTENT)?;
        let b = &log.queue[i];
        if b.open && b.area != area {
            return Err(STATUS_LOG_RECORD_NONEXISTENT);
        }
        let r = persist::find_rec(b.image(), b.used as usize, b.nrec, idx, l)
            .ok_or(STATUS_LOG_RECORD_NONEXISTENT)?;
        return Ok(Found {
            r,
            src: Src::Queue(i),
            cid,
            off,
            idx,
            nrec: b.nrec,
            size: 0,
            stream: b.stream,
        });
    }
    load_disk(log, cache, cid, off).ok_or(STATUS_LOG_RECORD_NONEXISTENT)?;
    let b = &cache.blk;
    let r = b
        .recs
        .get(idx as usize)
        .and_then(|&pos| persist::rec_at(&cache.buf, b.size as usize, pos as usize))
        .filter(|r| r.lsn == l)
        .ok_or(STATUS_LOG_RECORD_NONEXISTENT)?;
    Ok(Found {
        r,
        src: Src::Disk,
        cid,
        off,
        idx,
        nrec: b.recs.len() as u32,
        size: b.size,
        stream: b.client,
    })
}

/// The data of a found record.
fn rec_data<'a>(log: &'a PhysLog, cache: &'a BlockCache, f: &Found) -> &'a [u8] {
    let img: &[u8] = match f.src {
        Src::Queue(i) => log.queue.get(i).map_or(&[], |b| b.image()),
        Src::Disk => &cache.buf,
    };
    img.get(f.r.data..f.r.data + f.r.len).unwrap_or(&[])
}

/// Looks up record `l` of stream `sid` for `area`: below the stream's tail = start of log,
/// absent or another stream's = nonexistent, longer than `bufsize` = block incomplete.
fn lookup(
    log: &PhysLog,
    cache: &mut BlockCache,
    area: usize,
    sid: u8,
    l: u64,
    bufsize: usize,
) -> Result<Found, NTSTATUS> {
    if l < log.s_tail(sid) {
        return Err(STATUS_LOG_START_OF_LOG);
    }
    let f = find(log, cache, area, l)?;
    if f.stream != sid {
        return Err(STATUS_LOG_RECORD_NONEXISTENT);
    }
    if f.r.len > bufsize {
        return Err(STATUS_LOG_BLOCK_INCOMPLETE);
    }
    Ok(f)
}

/// Copies the record's data to the start of the context's read block.
fn fill(block: &mut BlockMem, data: &[u8], f: &Found) -> Got {
    block.write_at(0, data);
    Got {
        ptr: block.ptr(),
        len: data.len() as u32,
        ty: f.r.ty,
        undo: f.r.undo,
        prev: f.r.prev,
        lsn: f.r.lsn,
    }
}

/// The first LSN of queued block `i`, if `area` may see it.
fn queue_from(log: &PhysLog, area: usize, i: usize) -> Result<u64, NTSTATUS> {
    log.queue
        .get(i)
        .filter(|b| !b.open || b.area == area)
        .map(|b| b.first)
        .ok_or(STATUS_END_OF_FILE)
}

/// The flushed block after the one at (`cid`, `off`) of `size` bytes: the next offset of
/// the same container if a block of that container and offset is there, else offset 0 of the
/// next logical container. `None` at the flushed cursor (the queued blocks follow).
fn next_disk_block(
    log: &PhysLog,
    cache: &mut BlockCache,
    cid: u32,
    off: u32,
    size: u32,
) -> Result<Option<(u32, u32)>, NTSTATUS> {
    let off2 = off.saturating_add(size);
    if !on_disk(log, cid, off2) {
        return Ok(None);
    }
    if cid == log.meta.cursor_cid {
        // Below the cursor, the blocks of its container follow each other without a gap.
        return match peek_hdr(log, cache, cid, off2) {
            Some(_) => Ok(Some((cid, off2))),
            None => Err(STATUS_LOG_BLOCK_INVALID),
        };
    }
    if peek_hdr(log, cache, cid, off2).is_some() {
        return Ok(Some((cid, off2)));
    }
    let c2 = cid.saturating_add(1);
    if !on_disk(log, c2, 0) {
        return Ok(None);
    }
    match peek_hdr(log, cache, c2, 0) {
        Some(_) => Ok(Some((c2, 0))),
        None => Err(STATUS_LOG_BLOCK_INVALID),
    }
}

/// The first record at or after `t` that `area` may see (`t` is at or above the tail).
fn first_ge(log: &PhysLog, cache: &mut BlockCache, area: usize, t: u64) -> Result<u64, NTSTATUS> {
    let (cid, off, idx) = split_lsn(t);
    if !on_disk(log, cid, off) {
        for b in &log.queue {
            if b.open && b.area != area {
                break;
            }
            if b.first + u64::from(b.nrec) > t {
                return Ok(t.max(b.first));
            }
        }
        return Err(STATUS_END_OF_FILE);
    }
    if load_disk(log, cache, cid, off).is_some() {
        let size = cache.blk.size;
        if (idx as usize) < cache.blk.recs.len() {
            return Ok(t);
        }
        return match next_disk_block(log, cache, cid, off, size)? {
            Some((c, o)) => Ok(lsn(c, o, 0)),
            None => queue_from(log, area, 0),
        };
    }
    // `t` is not in a block start: walk the container's blocks from its start.
    let mut o = 0;
    while on_disk(log, cid, o) {
        let Some(size) = peek_hdr(log, cache, cid, o) else {
            break;
        };
        if o > off {
            return Ok(lsn(cid, o, 0));
        }
        o = o.saturating_add(size);
    }
    let c2 = cid.saturating_add(1);
    if on_disk(log, c2, 0) && peek_hdr(log, cache, c2, 0).is_some() {
        return Ok(lsn(c2, 0, 0));
    }
    queue_from(log, area, 0)
}

/// The first record after `at` (and at or above `tail`) that `area` may see.
fn next_after(
    log: &PhysLog,
    cache: &mut BlockCache,
    area: usize,
    at: u64,
    tail: u64,
) -> Result<u64, NTSTATUS> {
    if at < tail {
        return first_ge(log, cache, area, tail);
    }
    let Ok(f) = find(log, cache, area, at) else {
        return first_ge(log, cache, area, at.saturating_add(1));
    };
    if f.idx + 1 < f.nrec {
        return Ok(at + 1);
    }
    match f.src {
        Src::Queue(i) => queue_from(log, area, i + 1),
        Src::Disk => match next_disk_block(log, cache, f.cid, f.off, f.size)? {
            Some((c, o)) => Ok(lsn(c, o, 0)),
            None => queue_from(log, area, 0),
        },
    }
}

fn new_context(
    emu: &mut Emu,
    h: usize,
    l: u64,
    mode: i32,
    restart: bool,
) -> Result<(usize, Got), NTSTATUS> {
    let (log, area) = area_log(emu, h)?;
    let bufsize = area.alloc.size;
    let sid = area.stream;
    let mut cache = BlockCache::default();
    let r = lookup(log, &mut cache, h, sid, l, bufsize)?;
    if !restart && r.r.ty & 2 != 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if area.max_read != INFINITE && area.reads_open >= area.max_read {
        return Err(STATUS_LOG_BLOCKS_EXHAUSTED);
    }
    let mut block = area.alloc.get().ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
    let got = fill(&mut block, rec_data(log, &cache, &r), &r);
    area.reads_open += 1;
    let sandbox = area.sandbox;
    let hnd = emu.handle();
    emu.reads.insert(
        hnd,
        ReadCtx {
            sandbox,
            area: h,
            mode,
            cur: l,
            restart: restart.then_some(l),
            block: Some(block),
            cache,
        },
    );
    with_stats(sandbox, |s| s.live_read_contexts += 1);
    Ok((hnd, got))
}

/// `ClfsReadLogRecord`.
pub(crate) fn read_record(h: usize, l: u64, mode: i32) -> Result<(usize, Got), NTSTATUS> {
    let mut emu = emu();
    area_log(&mut emu, h)?;
    if !matches!(mode, MODE_UNDO_NEXT | MODE_PREVIOUS | MODE_FORWARD) {
        return Err(STATUS_LOG_READ_MODE_INVALID);
    }
    new_context(&mut emu, h, l, mode, false)
}

/// `ClfsReadRestartArea`; `None` = no restart area.
pub(crate) fn read_restart(h: usize) -> Result<Option<(usize, Got)>, NTSTATUS> {
    let mut emu = emu();
    let (log, area) = area_log(&mut emu, h)?;
    let l = log.s_restart(area.stream);
    if l == CLFS_LSN_INVALID {
        return Ok(None);
    }
    new_context(&mut emu, h, l, MODE_FORWARD, true).map(Some)
}

fn ctx_parts(
    emu: &mut Emu,
    c: usize,
) -> Result<(&mut ReadCtx, &mut PhysLog, (usize, u8)), NTSTATUS> {
    ctx_parts_then(emu, c, || Ok(())).map(|(ctx, log, size, ())| (ctx, log, size))
}

/// A read context, its log, its area's (buffer size, stream), and the result of `args`.
type CtxParts<'a, T> = (&'a mut ReadCtx, &'a mut PhysLog, (usize, u8), T);

/// [`ctx_parts`], running `args` (parameter checks) between the handle check and the area
/// check. Also returns the area's buffer size and stream.
fn ctx_parts_then<T>(
    emu: &mut Emu,
    c: usize,
    args: impl FnOnce() -> Result<T, NTSTATUS>,
) -> Result<CtxParts<'_, T>, NTSTATUS> {
    let Emu {
        logs, areas, reads, ..
    } = emu;
    let ctx = reads.get_mut(&c).ok_or(STATUS_INVALID_HANDLE)?;
    let t = args()?;
    let area = areas.get(&ctx.area).ok_or(STATUS_INVALID_HANDLE)?;
    if area.deleted {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    }
    let log = logs.get_mut(&area.log).ok_or(STATUS_INVALID_HANDLE)?;
    Ok((ctx, log, (area.alloc.size, area.stream), t))
}

/// `ClfsReadNextLogRecord`.
/// `args` (run after the handle check) returns the record-type filter and the user LSN.
pub(crate) fn read_next(
    c: usize,
    args: impl FnOnce() -> Result<(u8, Option<u64>), NTSTATUS>,
    out: impl FnOnce(&Got),
) -> Result<(), NTSTATUS> {
    let mut emu = emu();
    let (ctx, log, (bufsize, sid), (filter, user)) = ctx_parts_then(&mut emu, c, args)?;
    if !matches!(filter, 1..=3) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let area = ctx.area;
    let ReadCtx {
        cache, block, cur, ..
    } = ctx;
    let mut found = None;
    let target = if let Some(u) = user {
        if u >= *cur {
            return Err(STATUS_INVALID_PARAMETER);
        }
        u
    } else if ctx.mode == MODE_FORWARD {
        let tail = log.s_tail(sid);
        let mut at = *cur;
        loop {
            let n = next_after(log, cache, area, at, tail)?;
            let f = find(log, cache, area, n)?;
            if f.stream != sid {
                // Another stream's block (a multiplexed log): skip all of it.
                at = lsn(f.cid, f.off, f.nrec.saturating_sub(1));
                continue;
            }
            if f.r.ty & filter != 0 {
                // At or above the tail: only the size is left to check.
                if f.r.len > bufsize {
                    return Err(STATUS_LOG_BLOCK_INCOMPLETE);
                }
                found = Some(f);
                break n;
            }
            at = n;
        }
    } else {
        let mut at = *cur;
        loop {
            let r = find(log, cache, area, at)?.r;
            let link = if ctx.mode == MODE_PREVIOUS {
                r.prev
            } else {
                r.undo
            };
            if link == CLFS_LSN_INVALID {
                return Err(STATUS_END_OF_FILE);
            }
            if link >= at {
                return Err(STATUS_LOG_RECORD_NONEXISTENT);
            }
            let next = lookup(log, cache, area, sid, link, usize::MAX)?;
            if next.r.ty & filter != 0 {
                break link;
            }
            at = link;
        }
    };
    let r = match found {
        Some(f) => f,
        None => lookup(log, cache, area, sid, target, bufsize)?,
    };
    let Some(block) = block.as_mut() else {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    };
    let got = fill(block, rec_data(log, cache, &r), &r);
    *cur = target;
    out(&got);
    Ok(())
}

/// `ClfsReadPreviousRestartArea`.
pub(crate) fn read_prev_restart(c: usize) -> Result<Got, NTSTATUS> {
    let mut emu = emu();
    let (ctx, log, (bufsize, sid)) = ctx_parts(&mut emu, c)?;
    let Some(cur) = ctx.restart else {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    };
    let area = ctx.area;
    let ReadCtx { cache, block, .. } = ctx;
    let p = find(log, cache, area, cur)
        .map_err(|_| STATUS_LOG_START_OF_LOG)?
        .r
        .prev;
    if p == CLFS_LSN_INVALID || p >= cur || p < log.s_tail(sid) {
        return Err(STATUS_LOG_START_OF_LOG);
    }
    let r = lookup(log, cache, area, sid, p, bufsize)?;
    let Some(block) = block.as_mut() else {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    };
    let got = fill(block, rec_data(log, cache, &r), &r);
    ctx.restart = Some(p);
    ctx.cur = p;
    Ok(got)
}

fn end_context(emu: &mut Emu, c: usize) -> NTSTATUS {
    let Some(ctx) = emu.reads.remove(&c) else {
        return STATUS_INVALID_HANDLE;
    };
    let (sandbox, area) = (ctx.sandbox, ctx.area);
    ctx.release();
    let mut area_gone = false;
    if let Some(a) = emu.areas.get_mut(&area) {
        a.reads_open = a.reads_open.saturating_sub(1);
        if a.deleted && a.reads_open == 0 {
            area_gone = true;
        }
    }
    if area_gone {
        if let Some(a) = emu.areas.remove(&area) {
            a.release();
        }
    }
    with_stats(sandbox, |s| {
        s.live_read_contexts = s.live_read_contexts.saturating_sub(1);
        if area_gone {
            s.live_areas = s.live_areas.saturating_sub(1);
        }
    });
    STATUS_SUCCESS
}

/// `ClfsTerminateReadLog`.
pub(crate) fn terminate(c: usize) -> NTSTATUS {
    let mut emu = emu();
    if let Some(ctx) = emu.crashed_reads.remove(&c) {
        // A context that died in a crash: its handle is invalid, and its block is freed now.
        drop(emu);
        ctx.release();
        return STATUS_INVALID_HANDLE;
    }
    end_context(&mut emu, c)
}

/// Terminates every read context of `area` (its log object was closed).
pub(crate) fn invalidate_area_reads(emu: &mut Emu, area: usize) {
    let list: Vec<usize> = emu
        .reads
        .iter()
        .filter(|(_, r)| r.area == area)
        .map(|(k, _)| *k)
        .collect();
    for c in list {
        end_context(emu, c);
    }
}
