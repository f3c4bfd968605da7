//! Read contexts: `ClfsReadLogRecord`, `ClfsReadNextLogRecord`, restart-area reads.

use crate::log::{PhysLog, Rec};
use crate::marshal::{Area, INFINITE};
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

/// A read context.
pub(crate) struct ReadCtx {
    pub sandbox: u64,
    pub area: usize,
    pub mode: i32,
    pub cur: u64,
    /// For contexts from `ClfsReadRestartArea`: the restart record last returned.
    pub restart: Option<u64>,
    pub block: Option<BlockMem>,
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
    let log = logs.get_mut(&*a.log).ok_or(STATUS_INVALID_HANDLE)?;
    Ok((log, a))
}

fn visible(log: &PhysLog, area: usize, l: u64) -> Option<&Rec> {
    log.records
        .get(&l)
        .filter(|r| r.owner == 0 || r.owner == area)
}

fn fill(block: &mut BlockMem, r: &Rec, l: u64) -> Got {
    block.write_at(0, &r.data);
    Got {
        ptr: block.ptr(),
        len: r.data.len() as u32,
        ty: r.ty,
        undo: r.undo,
        prev: r.prev,
        lsn: l,
    }
}

/// Looks up record `l` for `area`: below the tail = start of log, absent = nonexistent.
fn lookup(log: &PhysLog, area: usize, l: u64, bufsize: usize) -> Result<&Rec, NTSTATUS> {
    if l < log.tail() {
        return Err(STATUS_LOG_START_OF_LOG);
    }
    let r = visible(log, area, l).ok_or(STATUS_LOG_RECORD_NONEXISTENT)?;
    if r.data.len() > bufsize {
        return Err(STATUS_LOG_BLOCK_INCOMPLETE);
    }
    Ok(r)
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
    let r = lookup(log, h, l, bufsize)?;
    if !restart && r.ty & 2 != 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if area.max_read != INFINITE && area.reads_open >= area.max_read {
        return Err(STATUS_LOG_BLOCKS_EXHAUSTED);
    }
    let mut block = area.alloc.get().ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
    let got = fill(&mut block, r, l);
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
    let (log, _) = area_log(&mut emu, h)?;
    let l = log.meta.restart;
    if l == CLFS_LSN_INVALID {
        return Ok(None);
    }
    new_context(&mut emu, h, l, MODE_FORWARD, true).map(Some)
}

fn ctx_parts(emu: &mut Emu, c: usize) -> Result<(&mut ReadCtx, &mut PhysLog, usize), NTSTATUS> {
    let Emu {
        logs, areas, reads, ..
    } = emu;
    let ctx = reads.get_mut(&c).ok_or(STATUS_INVALID_HANDLE)?;
    let area = areas.get(&ctx.area).ok_or(STATUS_INVALID_HANDLE)?;
    if area.deleted {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    }
    let log = logs.get_mut(&*area.log).ok_or(STATUS_INVALID_HANDLE)?;
    Ok((ctx, log, area.alloc.size))
}

/// `ClfsReadNextLogRecord`.
pub(crate) fn read_next(c: usize, filter: u8, user: Option<u64>) -> Result<Got, NTSTATUS> {
    let mut emu = emu();
    let (ctx, log, bufsize) = ctx_parts(&mut emu, c)?;
    if !matches!(filter, 1..=3) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let area = ctx.area;
    let target = if let Some(u) = user {
        if u >= ctx.cur {
            return Err(STATUS_INVALID_PARAMETER);
        }
        u
    } else if ctx.mode == MODE_FORWARD {
        let tail = log.tail();
        let mut found = None;
        for (&l, r) in log.records.range(ctx.cur.saturating_add(1)..) {
            if l >= tail && (r.owner == 0 || r.owner == area) && r.ty & filter != 0 {
                found = Some(l);
                break;
            }
        }
        found.ok_or(STATUS_END_OF_FILE)?
    } else {
        let mut at = ctx.cur;
        loop {
            let r = log.records.get(&at).ok_or(STATUS_LOG_RECORD_NONEXISTENT)?;
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
            let next = lookup(log, area, link, usize::MAX)?;
            if next.ty & filter != 0 {
                break link;
            }
            at = link;
        }
    };
    let r = lookup(log, area, target, bufsize)?;
    let Some(block) = ctx.block.as_mut() else {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    };
    let got = fill(block, r, target);
    ctx.cur = target;
    Ok(got)
}

/// `ClfsReadPreviousRestartArea`.
pub(crate) fn read_prev_restart(c: usize) -> Result<Got, NTSTATUS> {
    let mut emu = emu();
    let (ctx, log, bufsize) = ctx_parts(&mut emu, c)?;
    let Some(cur) = ctx.restart else {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    };
    let r = log.records.get(&cur).ok_or(STATUS_LOG_START_OF_LOG)?;
    let p = r.prev;
    if p == CLFS_LSN_INVALID || p >= cur || p < log.tail() {
        return Err(STATUS_LOG_START_OF_LOG);
    }
    let r = lookup(log, ctx.area, p, bufsize)?;
    let Some(block) = ctx.block.as_mut() else {
        return Err(STATUS_LOG_READ_CONTEXT_INVALID);
    };
    let got = fill(block, r, p);
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
