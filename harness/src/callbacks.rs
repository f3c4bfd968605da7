//! Adapters for the driver's block allocator callbacks.
//!
//! `ClfsCreateMarshallingArea` takes a `PALLOCATE_FUNCTION` and a `PFREE_FUNCTION`. The driver
//! passes **win64** function pointers (its own code), but the emulator calls them with the
//! `extern "system"` ABI of its host, which on Linux is the SysV C ABI. C passes no context to
//! these callbacks, so each driver callback gets a slot in a fixed table, and each slot has its
//! own SysV adapter (generated below) that calls the win64 function stored in the slot.
//!
//! Slots are shared by equal pointers (a driver passes the same pair for every area) and freed
//! when the image that holds the function is unmapped ([`release_range`]). A slot whose image
//! is gone is empty: its adapter then allocates nothing (NULL) and frees nothing, instead of
//! jumping into unmapped memory.

use core::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

use clfs_emu::types::{PALLOCATE_FUNCTION, PFREE_FUNCTION, POOL_TYPE};

/// The driver's allocate callback, as the driver passes it (win64).
pub type Win64Alloc =
    Option<unsafe extern "win64" fn(pool: POOL_TYPE, bytes: usize, tag: u32) -> *mut c_void>;
/// The driver's free callback, as the driver passes it (win64).
pub type Win64Free = Option<unsafe extern "win64" fn(buffer: *mut c_void)>;

/// The SysV adapter type of an allocate callback (what the emulator calls).
type SysvAlloc = unsafe extern "system" fn(POOL_TYPE, usize, u32) -> *mut c_void;
/// The SysV adapter type of a free callback.
type SysvFree = unsafe extern "system" fn(*mut c_void);

macro_rules! adapters {
    ($($i:literal => $alloc:ident, $free:ident;)*) => {
        /// Number of adapter slots of each kind.
        pub const SLOTS: usize = [$($i),*].len();

        /// Win64 allocate callbacks, by slot (0 = empty).
        static ALLOC: [AtomicUsize; SLOTS] = [$({ let _ = $i; AtomicUsize::new(0) }),*];
        /// Win64 free callbacks, by slot (0 = empty).
        static FREE: [AtomicUsize; SLOTS] = [$({ let _ = $i; AtomicUsize::new(0) }),*];

        $(
            /// SysV adapter of an allocate-callback slot.
            ///
            /// # Safety
            /// Called by the emulator with the documented `PALLOCATE_FUNCTION` arguments.
            unsafe extern "system" fn $alloc(pool: POOL_TYPE, bytes: usize, tag: u32) -> *mut c_void {
                // SAFETY: the slot holds 0 or a win64 allocate callback of a mapped image.
                unsafe { call_alloc(ALLOC[$i].load(Ordering::Acquire), pool, bytes, tag) }
            }

            /// SysV adapter of a free-callback slot.
            ///
            /// # Safety
            /// Called by the emulator with a block its allocate callback returned.
            unsafe extern "system" fn $free(buffer: *mut c_void) {
                // SAFETY: the slot holds 0 or a win64 free callback of a mapped image.
                unsafe { call_free(FREE[$i].load(Ordering::Acquire), buffer) }
            }
        )*

        /// The allocate adapters, by slot.
        static ALLOC_ADAPTERS: [SysvAlloc; SLOTS] = [$($alloc),*];
        /// The free adapters, by slot.
        static FREE_ADAPTERS: [SysvFree; SLOTS] = [$($free),*];
    };
}

adapters! {
    0 => alloc0, free0;
    1 => alloc1, free1;
    2 => alloc2, free2;
    3 => alloc3, free3;
    4 => alloc4, free4;
    5 => alloc5, free5;
    6 => alloc6, free6;
    7 => alloc7, free7;
    8 => alloc8, free8;
    9 => alloc9, free9;
    10 => alloc10, free10;
    11 => alloc11, free11;
    12 => alloc12, free12;
    13 => alloc13, free13;
    14 => alloc14, free14;
    15 => alloc15, free15;
}

/// Calls the win64 allocate callback at `f` (NULL if the slot is empty).
///
/// # Safety
/// `f` is 0 or the address of a win64 function with the `PALLOCATE_FUNCTION` shape in a
/// mapped image.
unsafe fn call_alloc(f: usize, pool: POOL_TYPE, bytes: usize, tag: u32) -> *mut c_void {
    if f == 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: `f` is the non-null address of a win64 function of exactly this type (caller),
    // called with the documented arguments on the driver's stack.
    let p = unsafe {
        crate::verifier::stack::call_driver(
            0,
            f,
            [pool as u32 as u64, bytes as u64, u64::from(tag), 0],
            crate::verifier::stack::Routine::AllocateCallback,
        )
    };
    p as *mut c_void
}

/// Calls the win64 free callback at `f` (nothing if the slot is empty).
///
/// # Safety
/// `f` is 0 or the address of a win64 function with the `PFREE_FUNCTION` shape in a mapped
/// image; `buffer` came from the matching allocate callback.
unsafe fn call_free(f: usize, buffer: *mut c_void) {
    if f == 0 {
        return;
    }
    // SAFETY: `f` is the non-null address of a win64 function of exactly this type (caller),
    // called with a block its allocator returned, on the driver's stack.
    unsafe {
        crate::verifier::stack::call_driver(
            0,
            f,
            [buffer as u64, 0, 0, 0],
            crate::verifier::stack::Routine::FreeCallback,
        )
    };
}

/// Finds or claims the slot of `f` in `table`; `None` if the table is full.
fn claim(table: &[AtomicUsize; SLOTS], f: usize) -> Option<usize> {
    if let Some(i) = table.iter().position(|s| s.load(Ordering::Acquire) == f) {
        return Some(i);
    }
    table.iter().position(|s| {
        s.compare_exchange(0, f, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    })
}

/// The SysV adapters for the driver's callbacks (`None` stays `None`: CLFS's own
/// allocator). `None` as a whole if the adapter table is full.
pub(crate) fn adapt(
    alloc: Win64Alloc,
    free: Win64Free,
) -> Option<(PALLOCATE_FUNCTION, PFREE_FUNCTION)> {
    let a = match alloc {
        Some(f) => Some(ALLOC_ADAPTERS[claim(&ALLOC, f as usize)?]),
        None => None,
    };
    let b = match free {
        Some(f) => Some(FREE_ADAPTERS[claim(&FREE, f as usize)?]),
        None => None,
    };
    Some((a, b))
}

/// Empties every slot whose callback lies in `[base, base + len)` (the image is unmapped).
pub(crate) fn release_range(base: usize, len: usize) {
    for table in [&ALLOC, &FREE] {
        for s in table.iter() {
            let f = s.load(Ordering::Acquire);
            if f >= base && f - base < len {
                let _ = s.compare_exchange(f, 0, Ordering::AcqRel, Ordering::Acquire);
            }
        }
    }
}

/// `ClfsCreateMarshallingArea` for a win64 caller: the callbacks are wrapped in SysV adapters.
///
/// # Safety
/// As `clfs_emu::ClfsCreateMarshallingArea`; the callbacks, if any, are win64 functions of a
/// mapped image with the documented shapes.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn create_marshalling_area(
    plfolog: *const clfs_emu::types::FILE_OBJECT,
    epooltype: POOL_TYPE,
    pfnallocbuffer: Win64Alloc,
    pfnfreebuffer: Win64Free,
    cbmarshallingbuffer: u32,
    cmaxwritebuffers: u32,
    cmaxreadbuffers: u32,
    ppvmarshalcontext: *mut *mut c_void,
) -> clfs_emu::types::NTSTATUS {
    let Some((alloc, free)) = adapt(pfnallocbuffer, pfnfreebuffer) else {
        return clfs_emu::status::STATUS_INSUFFICIENT_RESOURCES;
    };
    // SAFETY: the caller's contract, with the callbacks replaced by SysV adapters that call
    // the very same win64 functions.
    unsafe {
        clfs_emu::ClfsCreateMarshallingArea(
            plfolog,
            epooltype,
            alloc,
            free,
            cbmarshallingbuffer,
            cmaxwritebuffers,
            cmaxreadbuffers,
            ppvmarshalcontext,
        )
    }
}

/// `ClfsCreateMarshallingAreaEx` for a win64 caller: the callbacks are wrapped in SysV
/// adapters, as for [`create_marshalling_area`].
///
/// # Safety
/// As `clfs_emu::ClfsCreateMarshallingAreaEx`; the callbacks, if any, are win64 functions of
/// a mapped image with the documented shapes.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn create_marshalling_area_ex(
    plfolog: *const clfs_emu::types::FILE_OBJECT,
    epooltype: POOL_TYPE,
    pfnallocbuffer: Win64Alloc,
    pfnfreebuffer: Win64Free,
    cbmarshallingbuffer: u32,
    cmaxwritebuffers: u32,
    cmaxreadbuffers: u32,
    calignmentsize: u32,
    fflags: u64,
    ppvmarshalcontext: *mut *mut c_void,
) -> clfs_emu::types::NTSTATUS {
    let Some((alloc, free)) = adapt(pfnallocbuffer, pfnfreebuffer) else {
        return clfs_emu::status::STATUS_INSUFFICIENT_RESOURCES;
    };
    // SAFETY: the caller's contract, with the callbacks replaced by SysV adapters that call
    // the very same win64 functions.
    unsafe {
        clfs_emu::ClfsCreateMarshallingAreaEx(
            plfolog,
            epooltype,
            alloc,
            free,
            cbmarshallingbuffer,
            cmaxwritebuffers,
            cmaxreadbuffers,
            calignmentsize,
            fflags,
            ppvmarshalcontext,
        )
    }
}
