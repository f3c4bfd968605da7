//! Marshalling areas: block buffers, appends, reservations, flushes, restart areas.

use crate::log::{lsn, record_size, BlockBuf, PhysLog, QBlock};
use crate::persist::{self, round_sector, BLOCK_HDR};
use crate::pool::{Allocator, BlockMem};
use crate::state::{emu, with_stats, Emu};
use crate::status::*;
use crate::types::NTSTATUS;

/// `INFINITE` for buffer counts.
pub(crate) const INFINITE: u32 = 0xFFFF_FFFF;
/// Largest accepted `cbMarshallingBuffer` (also capped by the container size).
pub(crate) const MAX_BUFFER: u32 = 1024 * 1024;
/// `CLFS_FLAG_FORCE_APPEND`.
pub(crate) const FORCE_APPEND: u32 = 1;
/// `CLFS_FLAG_FORCE_FLUSH`.
pub(crate) const FORCE_FLUSH: u32 = 2;
/// `CLFS_FLAG_USE_RESERVATION`.
pub(crate) const USE_RESERVATION: u32 = 4;

/// A marshalling area.
pub(crate) struct Area {
    pub sandbox: u64,
    /// The physical log's id (key of `Emu::logs`).
    pub log: u64,
    pub object: usize,
    /// The stream it writes (its object's; 0 in a dedicated log).
    pub stream: u8,
    pub alloc: Allocator,
    pub max_write: u32,
    pub max_read: u32,
    /// Write buffers held (free ones plus those in queued blocks).
    pub write_held: u32,
    pub free_bufs: Vec<BlockMem>,
    pub reads_open: u32,
    pub reservations: Vec<u64>,
    /// Deleted by the client; kept until its last read context terminates.
    pub deleted: bool,
}

impl Area {
    /// Frees everything the area holds (its queued blocks are the log's business).
    pub fn release(mut self) {
        for b in self.free_bufs.drain(..) {
            b.release();
        }
    }

    fn reserved_total(&self) -> u64 {
        self.reservations.iter().sum()
    }
}

/// Reserved size for a record of `n` data bytes: `align8(40 + n)`.
pub(crate) fn aligned_reservation(n: u64) -> u64 {
    record_size(n)
}

/// Arguments of `ClfsCreateMarshallingArea`, pointers already checked.
pub(crate) struct CreateArea {
    pub pool: i32,
    pub alloc: crate::types::PALLOCATE_FUNCTION,
    pub free: crate::types::PFREE_FUNCTION,
    pub size: u32,
    pub max_write: u32,
    pub max_read: u32,
    /// `ppvMarshalContext` was NULL (checked right after the handle).
    pub out_null: bool,
}

/// `ClfsCreateMarshallingArea` after the handle/pointer checks.
pub(crate) fn create(h: usize, a: CreateArea) -> Result<usize, NTSTATUS> {
    let mut emu = emu();
    let obj = crate::log::object(&emu, h)?;
    let (sandbox, key, sid) = (obj.sandbox, obj.log, obj.stream);
    if a.out_null {
        return Err(STATUS_INVALID_PARAMETER);
    }
    // The physical log of a multiplexed log is written only through its streams.
    if sid == 0 && emu.logs.get(&key).is_some_and(|l| l.meta.multiplexed) {
        return Err(STATUS_LOG_MULTIPLEXED);
    }
    if !matches!(a.pool, 0 | 1 | 512) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if a.alloc.is_some() != a.free.is_some() {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let log = emu.logs.get(&key).ok_or(STATUS_INVALID_HANDLE)?;
    if a.size == 0 || a.size % persist::SECTOR as u32 != 0 || a.size > MAX_BUFFER {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if a.max_write == 0 || a.max_read == 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if log.meta.containers.len() < 2 {
        return Err(STATUS_LOG_NOT_ENOUGH_CONTAINERS);
    }
    if u64::from(a.size) > log.meta.container_size {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let alloc = Allocator {
        pool: a.pool,
        alloc: a.alloc,
        free: a.free,
        size: a.size as usize,
        sandbox,
    };
    let first = alloc.get().ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
    let hnd = emu.handle();
    emu.areas.insert(
        hnd,
        Area {
            sandbox,
            log: key,
            object: h,
            stream: sid,
            alloc,
            max_write: a.max_write,
            max_read: a.max_read,
            write_held: 1,
            free_bufs: vec![first],
            reads_open: 0,
            reservations: Vec::new(),
            deleted: false,
        },
    );
    with_stats(sandbox, |s| s.live_areas += 1);
    Ok(hnd)
}

/// Splits the tables into the area (checked live), its log, and the area table.
fn parts(
    emu: &mut Emu,
    h: usize,
) -> Result<
    (
        &mut PhysLog,
        &mut std::collections::HashMap<usize, Area, crate::state::IdHash>,
    ),
    NTSTATUS,
> {
    let a = emu
        .areas
        .get(&h)
        .filter(|a| !a.deleted)
        .ok_or(STATUS_INVALID_HANDLE)?;
    let key = a.log;
    let Emu { logs, areas, .. } = emu;
    let log = logs.get_mut(&key).ok_or(STATUS_INVALID_HANDLE)?;
    Ok((log, areas))
}

/// Flushes the area's blocks, frees its buffers and reservations, and deletes it (now, or
/// when its last read context terminates). Returns the flush status.
pub(crate) fn delete_area_locked(emu: &mut Emu, h: usize) -> NTSTATUS {
    let (log, areas) = match parts(emu, h) {
        Ok(p) => p,
        Err(st) => return st,
    };
    let last_own = log
        .queue
        .iter()
        .filter(|b| b.area == h)
        .map(|b| b.first)
        .max();
    let st = match last_own {
        Some(l) => log.flush(areas, Some(l)).err().unwrap_or(STATUS_SUCCESS),
        None => STATUS_SUCCESS,
    };
    if log.queue.back().is_some_and(|b| b.open && b.area == h) {
        log.close_open_block();
    }
    for b in log.queue.iter_mut().filter(|b| b.area == h) {
        if let Some(m) = b.take_mem() {
            m.release();
        }
    }
    let Some(area) = areas.get_mut(&h) else {
        return st;
    };
    let res = area.reserved_total();
    log.reserved_bytes = log.reserved_bytes.saturating_sub(res);
    let nres = area.reservations.len() as i64;
    area.reservations.clear();
    for b in area.free_bufs.drain(..) {
        b.release();
    }
    area.write_held = 0;
    area.deleted = true;
    let (sandbox, gone) = (area.sandbox, area.reads_open == 0);
    if gone {
        areas.remove(&h);
    }
    with_stats(sandbox, |s| {
        s.reserved_records -= nres;
        s.reserved_bytes -= i64::try_from(res).unwrap_or(0);
        if gone {
            s.live_areas = s.live_areas.saturating_sub(1);
        }
    });
    st
}

/// `ClfsDeleteMarshallingArea`.
pub(crate) fn delete(h: usize) -> NTSTATUS {
    let mut emu = emu();
    delete_area_locked(&mut emu, h)
}

/// A record's data.
pub(crate) enum Data<'a> {
    /// Emulator-owned bytes (restart areas).
    Bytes(&'a [u8]),
    /// The caller's write entries (copied once, into the block image).
    Entries(crate::raw::Gather<'a>),
}

impl Data<'_> {
    fn len(&self) -> usize {
        match self {
            Data::Bytes(b) => b.len(),
            Data::Entries(g) => g.len(),
        }
    }

    fn copy_to(&self, dst: &mut [u8]) {
        match self {
            Data::Bytes(b) => dst.copy_from_slice(b),
            Data::Entries(g) => g.copy_to(dst),
        }
    }
}

/// One append request.
pub(crate) struct Append<'a> {
    pub data: Data<'a>,
    pub ty: u8,
    pub undo: u64,
    pub prev: u64,
    pub flags: u32,
}

/// Gets a write buffer for area `h`, flushing the log's oldest blocks when the area's cap
/// is reached.
fn take_buffer(
    log: &mut PhysLog,
    areas: &mut std::collections::HashMap<usize, Area, crate::state::IdHash>,
    h: usize,
) -> Result<BlockMem, NTSTATUS> {
    loop {
        let area = areas.get_mut(&h).ok_or(STATUS_INVALID_HANDLE)?;
        if let Some(b) = area.free_bufs.pop() {
            return Ok(b);
        }
        if area.max_write == INFINITE || area.write_held < area.max_write {
            let b = area.alloc.get().ok_or(STATUS_INSUFFICIENT_RESOURCES)?;
            area.write_held += 1;
            return Ok(b);
        }
        let oldest = log
            .queue
            .iter()
            .find(|b| b.area == h && b.has_mem())
            .map(|b| b.first);
        let Some(first) = oldest else {
            return Err(STATUS_LOG_BLOCKS_EXHAUSTED);
        };
        log.flush(areas, Some(first))?;
    }
}

/// Appends one record for area `h`; returns its LSN.
pub(crate) fn append_locked(
    log: &mut PhysLog,
    areas: &mut std::collections::HashMap<usize, Area, crate::state::IdHash>,
    h: usize,
    r: &Append<'_>,
    use_res: bool,
) -> Result<u64, NTSTATUS> {
    let need = record_size(r.data.len() as u64);
    // The area's own open block, if the record fits (its image is the area's buffer size).
    let open = log.queue.back().filter(|b| b.open && b.area == h);
    let reuse = open.is_some_and(|b| {
        persist::fits(u64::from(b.used) + need, b.image().len() as u64) && b.nrec < 512
    });
    // The stream: the area's own open block carries it, so the common append needs no lookup.
    let mut sid = open.map_or(0, |b| b.stream);
    // The area itself is looked up only to place a new block or to use a reservation (`parts`
    // checked it is live); a record that fits the open block cannot be too large.
    let mut bufsize = 0u64;
    let mut consumed: Option<usize> = None;
    let mut freed = 0u64;
    if !reuse || use_res {
        let area = areas.get(&h).ok_or(STATUS_INVALID_HANDLE)?;
        sid = area.stream;
        bufsize = area.alloc.size as u64;
        // The record, the block header and the block's fixup array must fit the buffer.
        if !persist::fits(BLOCK_HDR as u64 + need, bufsize) {
            return Err(STATUS_INVALID_PARAMETER);
        }
        // Space: a reservation (if used) is consumed; the rest must stay available.
        if use_res {
            if area.reservations.is_empty() {
                return Err(STATUS_LOG_RECORDS_RESERVED_INVALID);
            }
            consumed = area
                .reservations
                .iter()
                .enumerate()
                .filter(|(_, &e)| e >= need)
                .min_by_key(|(_, &e)| e)
                .or_else(|| area.reservations.iter().enumerate().max_by_key(|(_, &e)| e))
                .map(|(i, _)| i);
            freed = consumed
                .and_then(|i| area.reservations.get(i))
                .copied()
                .unwrap_or(0);
        }
    }
    let others = log.reserved_bytes.saturating_sub(freed);
    if !log.has_free(need.saturating_add(others)) {
        return Err(STATUS_LOG_FULL);
    }
    // A stream without a record at or above its tail starts again with this record.
    let wakes = log.stream(sid).is_some_and(|st| !st.pins());
    if !reuse {
        log.close_open_block();
        let block = round_sector(bufsize) as u32;
        let saved = (log.vcid, log.voff, log.meta.containers.clone());
        let (cid, off) = log.place_block(block)?;
        let mem = match take_buffer(log, areas, h) {
            Ok(m) => m,
            Err(st) => {
                if log.vcid != saved.0 || log.voff != saved.1 {
                    (log.vcid, log.voff, log.meta.containers) = saved;
                }
                return Err(st);
            }
        };
        log.queue.push_back(QBlock {
            area: h,
            stream: sid,
            cid,
            off,
            used: BLOCK_HDR as u32,
            nrec: 0,
            last_pos: BLOCK_HDR as u32,
            first: lsn(cid, off, 0),
            open: true,
            buf: BlockBuf::Mem(mem),
        });
    }
    let Some(b) = log.queue.back_mut() else {
        return Err(STATUS_INVALID_HANDLE);
    };
    let l = lsn(b.cid, b.off, b.nrec);
    let hdr = persist::record_header(l, r.undo, r.prev, r.data.len() as u32, r.ty, b.nrec == 0);
    let at = b.used as usize;
    let need_us = need as usize;
    let Some(dst) = b.image_mut().get_mut(at..at + need_us) else {
        return Err(STATUS_INVALID_PARAMETER);
    };
    let (h_dst, rest) = dst.split_at_mut(hdr.len());
    h_dst.copy_from_slice(&hdr);
    // Zero the alignment padding (< 8 bytes, inside the last 8 bytes of the record: one
    // store), then the data over it. Sector padding is zeroed when the block is sealed.
    if let Some(tail) = rest.len().checked_sub(8).and_then(|t| rest.get_mut(t..)) {
        tail.copy_from_slice(&[0u8; 8]);
    }
    let (d_dst, _pad) = rest.split_at_mut(r.data.len());
    r.data.copy_to(d_dst);
    b.last_pos = b.used;
    b.used += need as u32;
    b.nrec += 1;
    log.last = Some(log.last.map_or(l, |x| x.max(l)));
    if let Some(st) = log.stream_mut(sid) {
        st.last = Some(st.last.map_or(l, |x| x.max(l)));
        if wakes {
            st.wake(l);
        }
    }
    // Only a stream that starts pinning again can change the physical base.
    if wakes {
        log.recompute_base();
    }
    if let (Some(i), Some(area)) = (consumed, areas.get_mut(&h)) {
        let e = area.reservations.remove(i);
        log.reserved_bytes = log.reserved_bytes.saturating_sub(e);
        with_stats(area.sandbox, |s| {
            s.reserved_records -= 1;
            s.reserved_bytes -= i64::try_from(e).unwrap_or(0);
        });
    }
    if r.flags & (FORCE_APPEND | FORCE_FLUSH) != 0 {
        log.close_open_block();
    }
    if r.flags & FORCE_FLUSH != 0 {
        log.flush(areas, Some(l))?;
    }
    Ok(l)
}

/// Applies reservation entries (positive = reserve data size, negative = free the closest
/// reserved record); rewrites them with the aligned sizes. All or nothing.
pub(crate) fn reserve_locked(
    log: &mut PhysLog,
    areas: &mut std::collections::HashMap<usize, Area, crate::state::IdHash>,
    h: usize,
    entries: &mut [i64],
) -> Result<(), NTSTATUS> {
    let area = areas.get_mut(&h).ok_or(STATUS_INVALID_HANDLE)?;
    let mut res = area.reservations.clone();
    let mut out = entries.to_vec();
    let mut add = 0u64;
    let mut sub = 0u64;
    for (i, &e) in entries.iter().enumerate() {
        if e > 0 {
            let a = aligned_reservation(e as u64);
            res.push(a);
            add += a;
            out[i] = a as i64;
        } else if e < 0 {
            let x = e.unsigned_abs();
            let ax = aligned_reservation(x);
            let Some((j, _)) = res
                .iter()
                .enumerate()
                .min_by_key(|(_, &r)| r.abs_diff(x).min(r.abs_diff(ax)))
            else {
                return Err(STATUS_LOG_RECORDS_RESERVED_INVALID);
            };
            let r = res.remove(j);
            sub += r;
            out[i] = -(r as i64);
        } else {
            return Err(STATUS_INVALID_PARAMETER);
        }
    }
    let total_after = log.reserved_bytes.saturating_add(add).saturating_sub(sub);
    if add > 0 && log.free_bytes() < total_after {
        return Err(STATUS_LOG_FULL);
    }
    let dn = res.len() as i64 - area.reservations.len() as i64;
    let db = add as i64 - sub as i64;
    area.reservations = res;
    log.reserved_bytes = total_after;
    entries.copy_from_slice(&out);
    with_stats(area.sandbox, |s| {
        s.reserved_records += dn;
        s.reserved_bytes += db;
    });
    Ok(())
}

/// `ClfsReserveAndAppendLog[Aligned]`: checks the area handle first, then runs `args` (the
/// parameter checks and reads of the caller's memory, under the same lock), then reserves
/// and appends; if the append fails the reservation is rolled back (atomic). Returns the
/// LSN and the rewritten reservation entries.
pub(crate) fn reserve_and_append<'a>(
    emu: &mut Emu,
    h: usize,
    args: impl FnOnce() -> Result<(Option<Append<'a>>, Vec<i64>), NTSTATUS>,
) -> Result<(Option<u64>, Vec<i64>), NTSTATUS> {
    let (log, areas) = parts(emu, h)?;
    let (rec, mut copy) = args()?;
    let use_res = rec.as_ref().is_some_and(|r| r.flags & USE_RESERVATION != 0);
    let saved = if copy.is_empty() {
        (Vec::new(), 0)
    } else {
        let area = areas.get(&h).ok_or(STATUS_INVALID_HANDLE)?;
        (area.reservations.clone(), log.reserved_bytes)
    };
    if !copy.is_empty() {
        reserve_locked(log, areas, h, &mut copy)?;
    }
    let out = match &rec {
        Some(r) => match append_locked(log, areas, h, r, use_res) {
            Ok(l) => Some(l),
            Err(st) => {
                if !copy.is_empty() {
                    {
                        if let Some(area) = areas.get_mut(&h) {
                            let dn = area.reservations.len() as i64 - saved.0.len() as i64;
                            let db = log.reserved_bytes as i64 - saved.1 as i64;
                            area.reservations = saved.0;
                            log.reserved_bytes = saved.1;
                            with_stats(area.sandbox, |s| {
                                s.reserved_records -= dn;
                                s.reserved_bytes -= db;
                            });
                        }
                    }
                }
                return Err(st);
            }
        },
        None => None,
    };
    Ok((out, copy))
}

/// `ClfsAlignReservedLog`.
pub(crate) fn align(h: usize, sizes: &[i64]) -> Result<i64, NTSTATUS> {
    let mut emu = emu();
    parts(&mut emu, h)?;
    let mut total: i64 = 0;
    for &s in sizes {
        if s <= 0 {
            return Err(STATUS_INVALID_PARAMETER);
        }
        total = total
            .checked_add(aligned_reservation(s as u64) as i64)
            .ok_or(STATUS_INVALID_PARAMETER)?;
    }
    Ok(total)
}

fn split(total: u64, n: u32) -> Vec<u64> {
    let n = u64::from(n);
    let each = total / n;
    let mut v = vec![each; n as usize];
    if let Some(f) = v.first_mut() {
        *f += total - each * n;
    }
    v
}

/// `ClfsAllocReservedLog`.
pub(crate) fn alloc_reserved(h: usize, n: u32, adj: i64) -> NTSTATUS {
    let mut emu = emu();
    let (log, areas) = match parts(&mut emu, h) {
        Ok(p) => p,
        Err(st) => return st,
    };
    let Some(area) = areas.get_mut(&h) else {
        return STATUS_INVALID_HANDLE;
    };
    if n == 0 || n > 0x10_0000 {
        return STATUS_LOG_RECORDS_RESERVED_INVALID;
    }
    if adj <= 0 || (adj as u64) < u64::from(n) * aligned_reservation(1) {
        return STATUS_LOG_SPACE_RESERVED_INVALID;
    }
    let adj = adj as u64;
    if log.free_bytes() < log.reserved_bytes.saturating_add(adj) {
        return STATUS_LOG_FULL;
    }
    area.reservations.extend(split(adj, n));
    log.reserved_bytes += adj;
    with_stats(area.sandbox, |s| {
        s.reserved_records += i64::from(n);
        s.reserved_bytes += adj as i64;
    });
    STATUS_SUCCESS
}

/// `ClfsFreeReservedLog`: negative = delta (records and bytes to free, which must match
/// reserved records exactly), positive or zero = set the remaining totals.
pub(crate) fn free_reserved(h: usize, n: u32, adj: i64) -> NTSTATUS {
    let mut emu = emu();
    let (log, areas) = match parts(&mut emu, h) {
        Ok(p) => p,
        Err(st) => return st,
    };
    let Some(area) = areas.get_mut(&h) else {
        return STATUS_INVALID_HANDLE;
    };
    let count = area.reservations.len() as u64;
    let total = area.reserved_total();
    let new: Vec<u64> = if adj < 0 {
        let x = adj.unsigned_abs();
        if n == 0 || u64::from(n) > count {
            return STATUS_LOG_RECORDS_RESERVED_INVALID;
        }
        if x > total {
            return STATUS_LOG_SPACE_RESERVED_INVALID;
        }
        let mut rest = area.reservations.clone();
        let mut freed = 0u64;
        for k in 0..n {
            let left = u64::from(n - k);
            let target = (x - freed.min(x)) / left;
            let Some((j, _)) = rest
                .iter()
                .enumerate()
                .min_by_key(|(_, &r)| r.abs_diff(target))
            else {
                return STATUS_LOG_RECORDS_RESERVED_INVALID;
            };
            freed += rest.remove(j);
        }
        if freed != x {
            return STATUS_LOG_SPACE_RESERVED_INVALID;
        }
        rest
    } else {
        let x = adj as u64;
        if u64::from(n) > count {
            return STATUS_LOG_RECORDS_RESERVED_INVALID;
        }
        if x > total || (n == 0 && x != 0) || (n > 0 && x < u64::from(n) * aligned_reservation(1)) {
            return STATUS_LOG_SPACE_RESERVED_INVALID;
        }
        if n == 0 {
            Vec::new()
        } else {
            split(x, n)
        }
    };
    let new_total: u64 = new.iter().sum();
    let dn = new.len() as i64 - count as i64;
    let db = new_total as i64 - total as i64;
    area.reservations = new;
    log.reserved_bytes = log.reserved_bytes.saturating_sub(total) + new_total;
    with_stats(area.sandbox, |s| {
        s.reserved_records += dn;
        s.reserved_bytes += db;
    });
    STATUS_SUCCESS
}

/// `ClfsFlushToLsn` / `ClfsFlushBuffers`: returns the first LSN not flushed.
pub(crate) fn flush_to(h: usize, target: u64) -> Result<u64, NTSTATUS> {
    let mut emu = emu();
    let (log, areas) = parts(&mut emu, h)?;
    let bufsize = areas.get(&h).map_or(0, |a| a.alloc.size as u32);
    if target == 0 {
        log.flush(areas, None)?;
    } else {
        log.flush(areas, Some(target))?;
    }
    Ok(match log.queue.front() {
        Some(b) => b.first,
        None => log.next_lsn(bufsize),
    })
}

/// `ClfsWriteRestartArea` after pointer checks; returns (bytes written, LSN).
pub(crate) fn write_restart(
    h: usize,
    data: &[u8],
    base: Option<u64>,
    flags: u32,
) -> Result<(u32, u64), NTSTATUS> {
    let mut emu = emu();
    let sid = emu.areas.get(&h).map_or(0, |a| a.stream);
    {
        let (log, _) = parts(&mut emu, h)?;
        if let Some(b) = base {
            if b < log.s_base(sid) || b > log.s_last(sid).unwrap_or(log.s_base(sid)) {
                return Err(STATUS_LOG_TAIL_INVALID);
            }
        }
    }
    // As on Windows: `previous` chains to the prior restart record (CLFS_LSN_INVALID for the
    // first), undo-next is CLFS_LSN_NULL.
    let prev = parts(&mut emu, h)?.0.s_restart(sid);
    let rec = Append {
        data: Data::Bytes(data),
        ty: 2,
        undo: crate::CLFS_LSN_NULL,
        prev,
        flags: FORCE_APPEND,
    };
    let (log, areas) = parts(&mut emu, h)?;
    let l = append_locked(log, areas, h, &rec, flags & USE_RESERVATION != 0)?;
    let old = log.meta.clone();
    log.set_restart(sid, l);
    if let Some(b) = base {
        log.set_base(sid, b);
    }
    match log.flush(areas, None) {
        Ok(n) => {
            log.sweep();
            Ok((n as u32, l))
        }
        Err(st) => {
            // (A failed flush leaves the metadata as it was before it.)
            log.meta = old;
            Err(st)
        }
    }
}

/// `ClfsAdvanceLogBase`.
pub(crate) fn advance_base(h: usize, b: u64) -> NTSTATUS {
    let mut emu = emu();
    let sid = emu.areas.get(&h).map_or(0, |a| a.stream);
    let (log, areas) = match parts(&mut emu, h) {
        Ok(p) => p,
        Err(st) => return st,
    };
    if b < log.s_base(sid) || b > log.s_last(sid).unwrap_or(log.s_base(sid)) {
        return STATUS_LOG_TAIL_INVALID;
    }
    // The base never passes the durable end: a crash must not leave a base above the last
    // flushed record (new records would get LSNs below it). Flush through it first.
    if log.s_flushed(sid).is_none_or(|f| b > f) {
        if let Err(st) = log.flush(areas, Some(b)) {
            return st;
        }
    }
    let old = log.meta.clone();
    log.set_base(sid, b);
    if let Err(st) = log.store_or_restore(old) {
        return st;
    }
    log.sweep();
    STATUS_SUCCESS
}
