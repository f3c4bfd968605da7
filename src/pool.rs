//! Pool types and the allocators CLFS uses for a marshalling area's log I/O blocks.
//!
//! `ClfsCreateMarshallingArea` takes an allocate and a free callback, both or neither, and
//! passes them no context. Here an allocator is a *type*: [`BlockAllocator`] has associated
//! functions, and a monomorphised `extern "system"` trampoline per type hands CLFS both
//! callbacks at once, so "both or neither" holds by construction. [`ClfsAllocator`] (the
//! default) means CLFS's own allocator and passes NULL/NULL.

use core::ffi::c_void;
use core::marker::PhantomData;

use crate::sys;

/// The pool a marshalling area's log I/O blocks come from (`POOL_TYPE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PoolType {
    /// `NonPagedPoolNx` (512): non-paged, non-executable. The default, as Windows 8 and later
    /// drivers should use.
    #[default]
    NonPagedPoolNx,
    /// `NonPagedPool` (0): non-paged and executable. Only for drivers that must run on
    /// Windows 7.
    NonPagedPool,
    /// `PagedPool` (1): pageable. Blocks may then only be touched at IRQL < DISPATCH_LEVEL.
    PagedPool,
}

impl PoolType {
    /// The raw `POOL_TYPE` value.
    ///
    /// IRQL: any.
    pub const fn raw(self) -> sys::POOL_TYPE {
        match self {
            PoolType::NonPagedPoolNx => sys::NonPagedPoolNx,
            PoolType::NonPagedPool => sys::NonPagedPool,
            PoolType::PagedPool => sys::PagedPool,
        }
    }

    /// The pool type with this raw value, if it is one CLFS blocks may use.
    ///
    /// IRQL: any.
    pub const fn from_raw(raw: sys::POOL_TYPE) -> Option<PoolType> {
        match raw {
            sys::NonPagedPoolNx => Some(PoolType::NonPagedPoolNx),
            sys::NonPagedPool => Some(PoolType::NonPagedPool),
            sys::PagedPool => Some(PoolType::PagedPool),
            _ => None,
        }
    }

    /// The `ExAllocatePool2` flag for this pool.
    ///
    /// IRQL: any.
    pub const fn pool_flags(self) -> u64 {
        match self {
            PoolType::NonPagedPoolNx => sys::POOL_FLAG_NON_PAGED,
            PoolType::NonPagedPool => sys::POOL_FLAG_NON_PAGED_EXECUTE,
            PoolType::PagedPool => sys::POOL_FLAG_PAGED,
        }
    }
}

/// Packs a four-character pool tag the way poolmon and WinDbg display it.
///
/// ```
/// assert_eq!(clfs::pool_tag(*b"Clfs"), u32::from_le_bytes(*b"Clfs"));
/// ```
///
/// IRQL: any.
pub const fn pool_tag(tag: [u8; 4]) -> u32 {
    u32::from_le_bytes(tag)
}

/// A type that allocates and frees a marshalling area's log I/O blocks.
///
/// CLFS calls [`allocate`](BlockAllocator::allocate) for each block it holds and
/// [`free`](BlockAllocator::free) for each block it gives back, at IRQL <= APC_LEVEL, possibly
/// from several threads at once.
///
/// # Safety
/// `allocate` must return either null or a pointer to `bytes` writable bytes, aligned to at
/// least 8 bytes, from memory of the requested pool type (CLFS touches non-paged blocks at raised
/// IRQL), that stay valid until `free` is called with it. `free` must accept every pointer that
/// `allocate` returned, exactly once.
///
/// ```
/// use core::ffi::c_void;
/// use clfs::{BlockAllocator, PoolType, TaggedPool};
///
/// /// Counts blocks on top of the ready-made tagged-pool allocator.
/// struct Counted;
/// static LIVE: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
///
/// // SAFETY: defers to TaggedPool, which upholds the contract.
/// unsafe impl BlockAllocator for Counted {
///     fn allocate(pool: PoolType, bytes: usize, tag: u32) -> *mut c_void {
///         let p = <TaggedPool<{ clfs::pool_tag(*b"Demo") }>>::allocate(pool, bytes, tag);
///         if !p.is_null() {
///             LIVE.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
///         }
///         p
///     }
///     unsafe fn free(block: *mut c_void) {
///         LIVE.fetch_sub(1, core::sync::atomic::Ordering::Relaxed);
///         // SAFETY: `block` came from TaggedPool::allocate, as our contract says.
///         unsafe { <TaggedPool<{ clfs::pool_tag(*b"Demo") }>>::free(block) }
///     }
/// }
/// ```
pub unsafe trait BlockAllocator: 'static {
    /// Allocates one block of `bytes` bytes from `pool`. `tag` is the tag CLFS suggests.
    /// Returns null on failure.
    ///
    /// IRQL: CLFS calls it at PASSIVE_LEVEL or APC_LEVEL.
    fn allocate(pool: PoolType, bytes: usize, tag: u32) -> *mut c_void;

    /// Frees a block that [`allocate`](BlockAllocator::allocate) returned.
    ///
    /// # Safety
    /// `block` was returned by `allocate` of this type and is not used afterwards.
    ///
    /// IRQL: CLFS calls it at PASSIVE_LEVEL or APC_LEVEL.
    unsafe fn free(block: *mut c_void);
}

mod sealed {
    pub trait Sealed {}
}

/// What a marshalling area passes CLFS for its block callbacks: CLFS's own allocator
/// ([`ClfsAllocator`]) or any [`BlockAllocator`]. Sealed; implemented for exactly those.
pub trait Blocks: sealed::Sealed + 'static {
    /// The two callbacks, both `Some` or both `None`.
    #[doc(hidden)]
    const CALLBACKS: (sys::PALLOCATE_FUNCTION, sys::PFREE_FUNCTION);
}

/// The default block source: CLFS's own allocator (the callbacks are NULL/NULL).
#[derive(Debug)]
pub enum ClfsAllocator {}

impl sealed::Sealed for ClfsAllocator {}
impl Blocks for ClfsAllocator {
    const CALLBACKS: (sys::PALLOCATE_FUNCTION, sys::PFREE_FUNCTION) = (None, None);
}

impl<A: BlockAllocator> sealed::Sealed for A {}
impl<A: BlockAllocator> Blocks for A {
    const CALLBACKS: (sys::PALLOCATE_FUNCTION, sys::PFREE_FUNCTION) =
        (Some(allocate_trampoline::<A>), Some(free_trampoline::<A>));
}

/// The `PALLOCATE_FUNCTION` CLFS calls for allocator `A`.
unsafe extern "system" fn allocate_trampoline<A: BlockAllocator>(
    pool: sys::POOL_TYPE,
    bytes: usize,
    tag: u32,
) -> *mut c_void {
    match PoolType::from_raw(pool) {
        Some(pool) => A::allocate(pool, bytes, tag),
        None => core::ptr::null_mut(),
    }
}

/// The `PFREE_FUNCTION` CLFS calls for allocator `A`.
unsafe extern "system" fn free_trampoline<A: BlockAllocator>(block: *mut c_void) {
    if block.is_null() {
        return;
    }
    // SAFETY: CLFS frees only blocks it obtained from allocate_trampoline::<A>, i.e. from
    // A::allocate, each exactly once (the PFREE_FUNCTION contract).
    unsafe { A::free(block) }
}

/// A ready-made allocator over `ExAllocatePool2` / `ExFreePoolWithTag` with the pool tag `TAG`
/// (see [`pool_tag`]), so that poolmon and Driver Verifier attribute the blocks to your driver.
///
/// ```
/// use clfs::{pool_tag, TaggedPool};
/// type MyBlocks = TaggedPool<{ pool_tag(*b"MyLg") }>;
/// ```
///
/// `TAG` must not be 0: `ExAllocatePool2` refuses a zero tag, so every block allocation would
/// fail at run time. A marshalling area over `TaggedPool<0>` is a build error instead (the
/// check runs when the allocator is instantiated, so it shows in `cargo build`, not in
/// `cargo check`):
///
/// ```compile_fail,E0080
/// # let _sandbox = clfs_emu::Sandbox::new();
/// # use clfs::*;
/// # let log = LogFile::create(wide!("log:C:\\doc\\tag0"), LogOptions::new().create_if_missing())?;
/// // error[E0080]: TaggedPool<0>: ExAllocatePool2 refuses pool tag 0
/// let area = MarshallingArea::<TaggedPool<0>>::create(&log, MarshallingConfig::new(4096));
/// # Ok::<(), clfs::Error>(())
/// ```
#[derive(Debug)]
pub struct TaggedPool<const TAG: u32>(PhantomData<()>);

impl<const TAG: u32> TaggedPool<TAG> {
    /// Evaluated when `allocate` or `free` is instantiated: a zero tag fails the build.
    const NONZERO_TAG: () = assert!(
        TAG != 0,
        "TaggedPool<0>: ExAllocatePool2 refuses pool tag 0; pick a tag with clfs::pool_tag"
    );
}

// SAFETY: ExAllocatePool2 returns null or a block of `bytes` bytes from the pool the flags name,
// 16-byte aligned on x64; it stays valid until ExFreePoolWithTag with the same tag, which `free`
// passes.
unsafe impl<const TAG: u32> BlockAllocator for TaggedPool<TAG> {
    fn allocate(pool: PoolType, bytes: usize, _tag: u32) -> *mut c_void {
        let () = Self::NONZERO_TAG;
        // SAFETY: the flags name exactly one pool type, TAG is the caller's tag; CLFS calls
        // the allocator at IRQL <= APC_LEVEL, where every pool type may be allocated.
        unsafe { sys::ExAllocatePool2(pool.pool_flags(), bytes, TAG) }
    }

    unsafe fn free(block: *mut c_void) {
        let () = Self::NONZERO_TAG;
        // SAFETY: `block` came from `allocate` above, i.e. from ExAllocatePool2 with TAG.
        unsafe { sys::ExFreePoolWithTag(block, TAG) }
    }
}
