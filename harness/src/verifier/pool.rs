//! Special pool and pool tracking for the driver's `ExAllocatePool2` / `ExAllocatePoolWithTag`
//! blocks.
//!
//! **Special pool.** Each block gets pages of its own from `mmap`: by default it ends at the
//! end of its last page (rounded up to the 16-byte alignment `ExAllocatePool2` guarantees) and
//! an inaccessible guard page follows, so the first byte written or read past a block whose
//! size is a multiple of 16 faults at once; with [`super::Settings::align_start`] the block
//! starts its first page and the guard page precedes it (underruns). The bytes of the pages
//! the block does not use are filled with a pattern that is checked when the block is freed
//! (an overrun inside the alignment slack, or an underrun in end-aligned mode). A freed block
//! becomes `PROT_NONE` and stays in a quarantine of [`super::Settings::quarantine`] blocks, so
//! a use after free faults. The `SIGSEGV` handler (`privileged.rs`) asks `classify` about
//! every fault it does not emulate, and a fault in a guard page or a quarantined block stops
//! the run naming the block's tag, size, the offset and the faulting instruction.
//!
//! **Tracking.** Every live block is recorded with its tag and the driver that allocated it;
//! [`leaks_of`] lists what a driver left behind, and `Driver` stops at unload when it is not
//! empty. Zero-size allocations, frees with the wrong tag, double frees and frees of
//! pointers that are not blocks each stop the run.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::{current_driver, describe_code_address, settings, stop, tag_name};

/// The page size.
const PAGE: usize = 4096;
/// The fill byte of the unused bytes of a block's pages.
const PATTERN: u8 = 0xA5;
/// The fill byte of `ExAllocatePoolWithTag` blocks (not zeroed by the kernel either).
const UNINIT: u8 = 0xCD;

/// `POOL_FLAG_NON_PAGED` / `_EXECUTE` / `POOL_FLAG_PAGED`.
const POOL_FLAG_NON_PAGED: u64 = 0x40;
const POOL_FLAG_NON_PAGED_EXECUTE: u64 = 0x80;
const POOL_FLAG_PAGED: u64 = 0x100;
/// `POOL_FLAG_UNINITIALIZED`.
const POOL_FLAG_UNINITIALIZED: u64 = 0x2;

/// One block (live or quarantined).
#[derive(Clone, Copy, Debug)]
struct Block {
    /// Start of the whole mapping (0 for a heap block when special pool is off).
    map: usize,
    /// Length of the whole mapping (guard pages included).
    map_len: usize,
    /// The address the driver got.
    addr: usize,
    /// The size the driver asked for.
    size: usize,
    /// The accessible pages: `[data, data + data_len)` (special pool only).
    data: usize,
    data_len: usize,
    tag: u32,
    driver: u64,
    /// Paged pool (matters for the IRQL of the free).
    paged: bool,
}

#[derive(Default)]
struct State {
    /// Live blocks by address.
    live: BTreeMap<usize, Block>,
    /// Quarantined (freed) blocks by address, oldest first in `order`.
    freed: BTreeMap<usize, Block>,
    order: VecDeque<usize>,
    /// Every mapping (live or quarantined) by start: the block's address.
    maps: BTreeMap<usize, usize>,
    /// Tags seen, with allocation counts (for reports).
    seen: BTreeMap<u32, u64>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn state() -> MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    let mut g = state();
    f(g.get_or_insert_with(State::default))
}

/// An outstanding allocation summary: count and bytes of one tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outstanding {
    /// Live blocks.
    pub count: u64,
    /// Their sizes, summed.
    pub bytes: u64,
}

/// What driver `driver` (see `Driver::id`) still holds, by tag.
pub fn leaks_of(driver: u64) -> BTreeMap<u32, Outstanding> {
    with(|s| {
        let mut m: BTreeMap<u32, Outstanding> = BTreeMap::new();
        for b in s.live.values().filter(|b| b.driver == driver) {
            let o = m.entry(b.tag).or_default();
            o.count += 1;
            o.bytes += b.size as u64;
        }
        m
    })
}

/// Every live block in the process (all drivers), by tag.
pub fn outstanding() -> BTreeMap<u32, Outstanding> {
    with(|s| {
        let mut m: BTreeMap<u32, Outstanding> = BTreeMap::new();
        for b in s.live.values() {
            let o = m.entry(b.tag).or_default();
            o.count += 1;
            o.bytes += b.size as u64;
        }
        m
    })
}

/// Formats [`leaks_of`] as `tag 'Smpl' (0x...): 2 block(s), 128 bytes (64, 64)`.
pub fn describe_leaks(driver: u64) -> Vec<String> {
    with(|s| {
        let mut by_tag: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for b in s.live.values().filter(|b| b.driver == driver) {
            by_tag.entry(b.tag).or_default().push(b.size);
        }
        by_tag
            .into_iter()
            .map(|(tag, sizes)| {
                let total: usize = sizes.iter().sum();
                let list: Vec<String> = sizes.iter().take(8).map(ToString::to_string).collect();
                format!(
                    "tag {}: {} block(s), {total} bytes (sizes {}{})",
                    tag_name(tag),
                    sizes.len(),
                    list.join(", "),
                    if sizes.len() > 8 { ", ..." } else { "" }
                )
            })
            .collect()
    })
}

/// The tags driver code allocated with so far in this process, with allocation counts.
pub fn tags_seen() -> BTreeMap<u32, u64> {
    with(|s| s.seen.clone())
}

/// Forgets every block of `driver` without checking it (a simulated power loss: the memory is
/// gone with the machine). The pages are returned.
pub fn forget_driver(driver: u64) {
    let blocks: Vec<Block> = with(|s| {
        let addrs: Vec<usize> = s
            .live
            .iter()
            .filter(|(_, b)| b.driver == driver)
            .map(|(a, _)| *a)
            .collect();
        addrs
            .into_iter()
            .filter_map(|a| {
                let b = s.live.remove(&a)?;
                s.maps.remove(&b.map);
                Some(b)
            })
            .collect()
    });
    for b in blocks {
        release(&b);
    }
}

fn round_up(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

/// Returns a block's memory to the host.
fn release(b: &Block) {
    if b.map == 0 {
        if let Ok(layout) = std::alloc::Layout::from_size_align(b.size.max(1), 16) {
            // SAFETY: a heap block allocated with exactly this layout, released once (it
            // left the tables before).
            unsafe { std::alloc::dealloc(b.addr as *mut u8, layout) };
        }
    } else {
        // SAFETY: the block's own mapping, unmapped once (it left the tables before).
        unsafe { libc::munmap(b.map as *mut libc::c_void, b.map_len) };
    }
}

/// `ExAllocatePool2` (`zeroed`) / `ExAllocatePoolWithTag` (not zeroed): checks the call,
/// then allocates a tracked block. `flags` are `POOL_FLAG_*`.
pub fn allocate(routine: &str, flags: u64, bytes: usize, tag: u32) -> *mut core::ffi::c_void {
    let irql = clfs_emu::current_irql();
    let kinds = flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    let paged = kinds == POOL_FLAG_PAGED;
    if paged && irql > clfs_emu::APC_LEVEL {
        stop(
            0xC4,
            [0x01, usize::from(irql), flags as usize, bytes],
            &format!("{routine} of paged pool at IRQL {irql}: paged pool requires IRQL <= APC_LEVEL (tag {})", tag_name(tag)),
        );
    }
    if irql > clfs_emu::DISPATCH_LEVEL {
        stop(
            0xC4,
            [0x02, usize::from(irql), flags as usize, bytes],
            &format!("{routine} at IRQL {irql}: pool allocation requires IRQL <= DISPATCH_LEVEL (tag {})", tag_name(tag)),
        );
    }
    if tag == 0 {
        stop(
            0xC2,
            [0x9B, 0, bytes, 0],
            &format!("{routine} with pool tag 0"),
        );
    }
    if bytes == 0 {
        stop(
            0xC4,
            [0x00, usize::from(irql), flags as usize, 0],
            &format!(
                "{routine}: zero-byte pool allocation with tag {}",
                tag_name(tag)
            ),
        );
    }
    if kinds.count_ones() != 1 {
        return core::ptr::null_mut();
    }
    let zero = routine == "ExAllocatePool2" && flags & POOL_FLAG_UNINITIALIZED == 0;
    let block = if settings().special_pool {
        match map_block(bytes, settings().align_start) {
            Some(b) => b,
            None => return core::ptr::null_mut(),
        }
    } else {
        let Ok(layout) = std::alloc::Layout::from_size_align(bytes, 16) else {
            return core::ptr::null_mut();
        };
        // SAFETY: non-zero size (checked above).
        let p = unsafe { std::alloc::alloc(layout) };
        if p.is_null() {
            return core::ptr::null_mut();
        }
        Block {
            map: 0,
            map_len: 0,
            addr: p as usize,
            size: bytes,
            data: 0,
            data_len: 0,
            tag,
            driver: 0,
            paged,
        }
    };
    let block = Block {
        tag,
        driver: current_driver(),
        paged,
        ..block
    };
    let fill = if zero { 0 } else { UNINIT };
    // SAFETY: the block's `size` bytes are mapped read-write (or heap memory of that size),
    // owned by this allocation.
    unsafe { core::ptr::write_bytes(block.addr as *mut u8, fill, block.size) };
    with(|s| {
        if block.map != 0 {
            s.maps.insert(block.map, block.addr);
        }
        s.live.insert(block.addr, block);
        *s.seen.entry(tag).or_insert(0) += 1;
    });
    block.addr as *mut core::ffi::c_void
}

/// Maps a special-pool block of `bytes`: guard page(s) `PROT_NONE`, the data pages
/// read-write and filled with [`PATTERN`].
fn map_block(bytes: usize, align_start: bool) -> Option<Block> {
    let rounded = round_up(bytes, 16);
    let data_pages = rounded.div_ceil(PAGE);
    let guards = 1 + usize::from(align_start);
    let map_len = (data_pages + guards) * PAGE;
    // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            map_len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p.is_null() {
        return None;
    }
    let map = p as usize;
    let data = map + usize::from(align_start) * PAGE;
    let data_len = data_pages * PAGE;
    // SAFETY: the data pages lie inside the mapping just made.
    let r = unsafe {
        libc::mprotect(
            data as *mut libc::c_void,
            data_len,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    };
    if r != 0 {
        // SAFETY: our mapping, unmapped once.
        unsafe { libc::munmap(p, map_len) };
        return None;
    }
    // SAFETY: the data pages are mapped read-write (just above) and ours.
    unsafe { core::ptr::write_bytes(data as *mut u8, PATTERN, data_len) };
    let addr = if align_start {
        data
    } else {
        data + data_len - rounded
    };
    Some(Block {
        map,
        map_len,
        addr,
        size: bytes,
        data,
        data_len,
        tag: 0,
        driver: 0,
        paged: false,
    })
}

/// The first byte of `[from, to)` that no longer holds [`PATTERN`].
fn corrupted(from: usize, to: usize) -> Option<usize> {
    (from..to).find(|&a| {
        // SAFETY: callers pass ranges inside a live block's read-write data pages.
        unsafe { (a as *const u8).read_volatile() != PATTERN }
    })
}

/// `ExFreePoolWithTag(p, tag)` (`Some(tag)`) or `ExFreePool(p)` (`None`).
pub fn free(routine: &str, p: *mut core::ffi::c_void, tag: Option<u32>) {
    let addr = p as usize;
    let irql = clfs_emu::current_irql();
    let found = with(|s| {
        if let Some(b) = s.live.get(&addr).copied() {
            return Ok(b);
        }
        if let Some(b) = s.freed.get(&addr).copied() {
            return Err(Some(b));
        }
        Err(None)
    });
    let b = match found {
        Ok(b) => b,
        Err(Some(b)) => stop(
            0xC2,
            [0x07, 0, b.size, addr],
            &format!(
                "{routine}({addr:#x}): double free of a {}-byte block with tag {} (already freed)",
                b.size,
                tag_name(b.tag)
            ),
        ),
        Err(None) => {
            let inside = with(|s| {
                s.live
                    .range(..=addr)
                    .next_back()
                    .filter(|(a, b)| addr < *a + b.size)
                    .map(|(_, b)| *b)
            });
            let what = match inside {
                Some(b) => format!(
                    "offset {:#x} inside a {}-byte block with tag {}, not its start",
                    addr - b.addr,
                    b.size,
                    tag_name(b.tag)
                ),
                None => "not a pool block (never allocated, or allocated by someone else)".into(),
            };
            stop(
                0xC4,
                [0x10, addr, 0, 0],
                &format!("{routine}({addr:#x}): free of a foreign pointer: {what}"),
            )
        }
    };
    if irql > clfs_emu::DISPATCH_LEVEL || (b.paged && irql > clfs_emu::APC_LEVEL) {
        stop(
            0xC4,
            [
                if b.paged { 0x11 } else { 0x12 },
                usize::from(irql),
                0,
                addr,
            ],
            &format!(
                "{routine}({addr:#x}) of a {} block with tag {} at IRQL {irql}",
                if b.paged { "paged" } else { "non-paged" },
                tag_name(b.tag)
            ),
        );
    }
    if let Some(t) = tag {
        if t != b.tag {
            stop(
                0xC2,
                [0x0A, addr, b.tag as usize, t as usize],
                &format!(
                    "{routine}({addr:#x}) with tag {}, but the {}-byte block was allocated with tag {}",
                    tag_name(t),
                    b.size,
                    tag_name(b.tag)
                ),
            );
        }
    }
    if b.map != 0 {
        let (data, data_len) = (b.data, b.data_len);
        let end = b.addr + b.size;
        if let Some(at) = corrupted(data, b.addr) {
            stop(
                0xC1,
                [addr, at, 0, 0x23],
                &format!(
                    "{routine}({addr:#x}): the bytes before the {}-byte block with tag {} were written (underrun at offset -{:#x})",
                    b.size,
                    tag_name(b.tag),
                    b.addr - at
                ),
            );
        }
        if let Some(at) = corrupted(end, data + data_len) {
            stop(
                0xC1,
                [addr, at, 0, 0x24],
                &format!(
                    "{routine}({addr:#x}): the bytes after the end of the {}-byte block with tag {} were written (overrun at offset {:#x})",
                    b.size,
                    tag_name(b.tag),
                    at - b.addr
                ),
            );
        }
    }
    let evicted = with(|s| {
        s.live.remove(&addr);
        if b.map == 0 {
            return vec![b];
        }
        s.freed.insert(addr, b);
        s.order.push_back(addr);
        let mut out = Vec::new();
        while s.order.len() > settings().quarantine {
            let Some(old) = s.order.pop_front() else {
                break;
            };
            if let Some(ob) = s.freed.remove(&old) {
                s.maps.remove(&ob.map);
                out.push(ob);
            }
        }
        out
    });
    if b.map != 0 {
        // SAFETY: the block's own mapping; from now on any access faults (use after free).
        unsafe { libc::mprotect(b.map as *mut libc::c_void, b.map_len, libc::PROT_NONE) };
    }
    for e in evicted {
        release(&e);
    }
}

/// What a fault at an address in special pool means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Past the end of a live block (its guard page).
    Overrun,
    /// Before the start of a live block (the leading guard page of a start-aligned block).
    Underrun,
    /// Inside a freed block.
    UseAfterFree,
}

/// A fault in special pool: what it hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolFault {
    kind: FaultKind,
    tag: u32,
    size: usize,
    /// From the block's start (negative: before it).
    offset: isize,
}

/// Classifies a fault at `addr`, if it lies in a special-pool mapping. Called from the `SIGSEGV` handler (it takes the pool lock
/// with `try_lock` and gives up if another thread holds it for long).
pub(crate) fn classify(addr: usize) -> Option<PoolFault> {
    let mut guard = None;
    for _ in 0..10_000 {
        if let Ok(g) = STATE.try_lock() {
            guard = Some(g);
            break;
        }
        std::hint::spin_loop();
    }
    let g = guard?;
    let s = g.as_ref()?;
    let (&map, &block_addr) = s.maps.range(..=addr).next_back()?;
    let (kind, b) = if let Some(b) = s.freed.get(&block_addr) {
        (FaultKind::UseAfterFree, b)
    } else {
        let b = s.live.get(&block_addr)?;
        let kind = if addr >= b.addr {
            FaultKind::Overrun
        } else {
            FaultKind::Underrun
        };
        (kind, b)
    };
    if addr >= map + b.map_len {
        return None;
    }
    Some(PoolFault {
        kind,
        tag: b.tag,
        size: b.size,
        offset: addr as isize - b.addr as isize,
    })
}

/// Stops the run for a special-pool fault at `addr` by the instruction at `ip`
/// (`write`: the access was a write).
pub(crate) fn fault_stop(
    fault: PoolFault,
    addr: usize,
    ip: usize,
    caller: Option<usize>,
    write: bool,
) -> ! {
    let PoolFault {
        kind,
        tag,
        size,
        offset,
    } = fault;
    let in_driver = crate::privileged::image_containing(ip).is_some();
    let access = if write { "write" } else { "read" };
    let at = match caller {
        Some(c) if !in_driver => format!(
            "{} (a routine called from {})",
            describe_code_address(ip),
            describe_code_address(c)
        ),
        _ => describe_code_address(ip),
    };
    let off = if offset < 0 {
        format!("-{:#x}", offset.unsigned_abs())
    } else {
        format!("{offset:#x}")
    };
    let (code, what) = match kind {
        FaultKind::Overrun => (
            if in_driver { 0xD6 } else { 0xCD },
            format!("pool overrun: {access} at offset {off} of a {size}-byte block"),
        ),
        FaultKind::Underrun => (
            if in_driver { 0xD6 } else { 0xCD },
            format!("pool underrun: {access} at offset {off} of a {size}-byte block"),
        ),
        FaultKind::UseAfterFree => (
            if in_driver { 0xD5 } else { 0xCC },
            format!("use after free: {access} at offset {off} of a freed {size}-byte block"),
        ),
    };
    stop(
        code,
        [addr, usize::from(write), ip, 0],
        &format!(
            "{what} with tag {} at {addr:#x}, by the instruction at {at}",
            tag_name(tag)
        ),
    )
}
