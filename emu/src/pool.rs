//! `ExAllocatePool2` / `ExFreePoolWithTag` and the log I/O block allocator.

use std::alloc::Layout;

use crate::irql::{bugcheck, current_irql, APC_LEVEL, DISPATCH_LEVEL};
use crate::state::{reg, with_stats, Outstanding};
use crate::types::{PALLOCATE_FUNCTION, PFREE_FUNCTION, POOL_TYPE};

/// `POOL_FLAG_NON_PAGED`.
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;
/// `POOL_FLAG_NON_PAGED_EXECUTE`.
pub const POOL_FLAG_NON_PAGED_EXECUTE: u64 = 0x80;
/// `POOL_FLAG_PAGED`.
pub const POOL_FLAG_PAGED: u64 = 0x100;

/// One live `ExAllocatePool2` allocation.
pub(crate) struct PoolAlloc {
    layout: Layout,
    tag: u32,
    sandbox: u64,
}

fn add(o: &mut Outstanding, bytes: u64) {
    o.count += 1;
    o.bytes += bytes;
}

fn sub(o: &mut Outstanding, bytes: u64) {
    o.count = o.count.saturating_sub(1);
    o.bytes = o.bytes.saturating_sub(bytes);
}

/// The emulated `ExAllocatePool2`.
pub(crate) fn ex_allocate(flags: u64, bytes: usize, tag: u32) -> *mut core::ffi::c_void {
    let kinds = flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    let irql = current_irql();
    if kinds == POOL_FLAG_PAGED && irql > APC_LEVEL {
        bugcheck(
            0x0A,
            bytes,
            usize::from(irql),
            0,
            0,
            &format!("ExAllocatePool2 of paged pool at IRQL {irql}; paged pool requires IRQL <= APC_LEVEL"),
        );
    }
    if irql > DISPATCH_LEVEL {
        bugcheck(
            0xC2,
            0,
            usize::from(irql),
            bytes,
            tag as usize,
            &format!("ExAllocatePool2 called at IRQL {irql}; pool allocation requires IRQL <= DISPATCH_LEVEL"),
        );
    }
    if tag == 0 {
        bugcheck(
            0xC2,
            0x9B,
            0,
            bytes,
            0,
            "ExAllocatePool2 called with pool tag 0",
        );
    }
    if kinds.count_ones() != 1 || bytes == 0 {
        return core::ptr::null_mut();
    }
    let Ok(layout) = Layout::from_size_align(bytes, 16) else {
        return core::ptr::null_mut();
    };
    // SAFETY: layout has a non-zero size.
    let p = unsafe { std::alloc::alloc_zeroed(layout) };
    if p.is_null() {
        return core::ptr::null_mut();
    }
    let sandbox = crate::state::current_sandbox();
    let mut r = reg();
    r.pool.insert(
        p as usize,
        PoolAlloc {
            layout,
            tag,
            sandbox,
        },
    );
    if let Some(s) = r.sb(sandbox) {
        add(s.stats.pool.entry(tag).or_default(), bytes as u64);
    }
    p.cast()
}

/// The emulated `ExFreePoolWithTag`.
pub(crate) fn ex_free(p: *mut core::ffi::c_void, tag: u32) {
    let irql = current_irql();
    if irql > DISPATCH_LEVEL {
        bugcheck(
            0xC2,
            0,
            usize::from(irql),
            p as usize,
            0,
            "ExFreePoolWithTag above DISPATCH_LEVEL",
        );
    }
    let mut r = reg();
    let Some(a) = r.pool.get(&(p as usize)) else {
        drop(r);
        bugcheck(
            0xC2,
            0x07,
            0,
            p as usize,
            tag as usize,
            &format!("ExFreePoolWithTag({p:p}): not a live pool allocation (double free or never allocated)"),
        );
    };
    if a.tag != tag {
        let have = a.tag;
        drop(r);
        bugcheck(
            0xC2,
            0x0A,
            p as usize,
            have as usize,
            tag as usize,
            &format!(
                "ExFreePoolWithTag({p:p}) with tag {} but it was allocated with tag {}",
                crate::state::tag_name(tag),
                crate::state::tag_name(have)
            ),
        );
    }
    let Some(a) = r.pool.remove(&(p as usize)) else {
        return;
    };
    if let Some(s) = r.sb(a.sandbox) {
        sub(
            s.stats.pool.entry(a.tag).or_default(),
            a.layout.size() as u64,
        );
    }
    drop(r);
    // SAFETY: `p` was returned by alloc_zeroed with exactly this layout and is freed once
    // (it was just removed from the table).
    unsafe { std::alloc::dealloc(p.cast(), a.layout) };
}

/// True if `p` is the start of a live `ExAllocatePool2` allocation of at least `size` bytes.
fn is_pool_alloc(p: *mut u8, size: usize) -> bool {
    reg()
        .pool
        .get(&(p as usize))
        .is_some_and(|a| a.layout.size() >= size)
}

/// A log I/O block held by a marshalling area.
pub(crate) struct BlockMem {
    ptr: *mut u8,
    size: usize,
    from: Allocator,
}

// SAFETY: the block's memory is owned exclusively by the emulator tables (behind the EMU
// mutex) until it is returned to the allocator it came from.
unsafe impl Send for BlockMem {}

impl BlockMem {
    /// The block's address (handed to readers).
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Returns the block to the allocator it came from.
    pub fn release(self) {
        let a = self.from;
        a.put(self);
    }

    /// The block's bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the block holds `size` initialised bytes (zeroed when allocated) owned
        // exclusively by this `BlockMem` until it is released; the borrow of `self` keeps the
        // slice from outliving it.
        unsafe { core::slice::from_raw_parts(self.ptr, self.size) }
    }

    /// The block's bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; the exclusive borrow of `self` makes the slice unique.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.size) }
    }

    /// Copies `data` into the block at `off` (clamped to the block size).
    pub fn write_at(&mut self, off: usize, data: &[u8]) {
        if off >= self.size {
            return;
        }
        let n = data.len().min(self.size - off);
        let dst = self.ptr.wrapping_add(off);
        // SAFETY: the block holds `size` writable bytes (allocator contract) and
        // `off + n <= size`; `data` is a distinct Rust buffer.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), dst, n) };
    }
}

/// Where a marshalling area gets its blocks.
#[derive(Clone, Copy)]
pub(crate) struct Allocator {
    pub pool: POOL_TYPE,
    pub alloc: PALLOCATE_FUNCTION,
    pub free: PFREE_FUNCTION,
    pub size: usize,
    pub sandbox: u64,
}

impl Allocator {
    /// Allocates one block (`None` = the allocator returned NULL or a fault was injected).
    pub fn get(&self) -> Option<BlockMem> {
        if crate::faults::alloc_should_fail(self.sandbox) {
            return None;
        }
        let ptr: *mut u8 = match self.alloc {
            Some(f) => {
                // SAFETY: a caller-supplied PALLOCATE_FUNCTION, called with its documented
                // arguments (pool type, size, tag).
                let p = unsafe { f(self.pool, self.size, crate::EMU_BLOCK_TAG) };
                p.cast()
            }
            None => {
                let layout = Layout::from_size_align(self.size, 16).ok()?;
                // SAFETY: non-zero size (checked when the area was created).
                unsafe { std::alloc::alloc_zeroed(layout) }
            }
        };
        if ptr.is_null() {
            return None;
        }
        // The emulator builds the block image in the block itself, so its bytes must be
        // initialised: they are when the memory comes from `alloc_zeroed` or is (the start
        // of) a live `ExAllocatePool2` allocation (zeroed when allocated, whatever was
        // written since); anything else from a caller's allocator is zeroed here.
        if self.alloc.is_some() && !is_pool_alloc(ptr, self.size) {
            // SAFETY: the allocator returned `size` writable bytes at `ptr`.
            unsafe { core::ptr::write_bytes(ptr, 0, self.size) };
        }
        with_stats(self.sandbox, |s| {
            add(
                s.blocks
                    .entry((self.pool, crate::EMU_BLOCK_TAG))
                    .or_default(),
                self.size as u64,
            )
        });
        Some(BlockMem {
            ptr,
            size: self.size,
            from: *self,
        })
    }

    /// Returns a block to where it came from.
    fn put(&self, b: BlockMem) {
        match self.free {
            Some(f) => {
                // SAFETY: a caller-supplied PFREE_FUNCTION, called once with a pointer its
                // allocator returned.
                unsafe { f(b.ptr.cast()) };
            }
            None => {
                if let Ok(layout) = Layout::from_size_align(b.size, 16) {
                    // SAFETY: allocated by alloc_zeroed with this layout, freed once.
                    unsafe { std::alloc::dealloc(b.ptr, layout) };
                }
            }
        }
        with_stats(self.sandbox, |s| {
            sub(
                s.blocks
                    .entry((self.pool, crate::EMU_BLOCK_TAG))
                    .or_default(),
                b.size as u64,
            )
        });
    }
}
