//! The defects (driver images only).

use core::ffi::c_void;

use windows_sys::Wdk::Foundation::DRIVER_OBJECT;
use windows_sys::Wdk::System::SystemServices::{
    ClfsFlushBuffers, ExAllocatePool2, ExFreePoolWithTag,
};
use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};

/// `POOL_FLAG_NON_PAGED`.
const NON_PAGED: u64 = 0x40;
const STATUS_SUCCESS: NTSTATUS = 0;
const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as NTSTATUS;

/// The defect an image carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// One byte written past a 64-byte block.
    Overrun,
    /// A read of a freed block.
    UseAfterFree,
    /// A tagged block never freed.
    Leak,
    /// A CLFS call while holding a spin lock (DISPATCH_LEVEL).
    ClfsAtDispatch,
    /// A block freed twice.
    DoubleFree,
    /// The first block leaked when the second allocation fails.
    ErrorPathLeak,
    /// A 32 KiB local buffer on the 24 KiB kernel stack.
    StackOverflow,
    /// `DriverEntry` returns on an early-out path still holding a spin lock (at
    /// DISPATCH_LEVEL).
    IrqlNotRestored,
}

/// A pool tag per defect: `Brk1` ... `Brk7`.
const fn tag(d: Defect) -> u32 {
    u32::from_le_bytes([b'B', b'r', b'k', b'1' + d as u8])
}

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    fn KeAcquireSpinLockRaiseToDpc(lock: *mut usize) -> u8;
    fn KeReleaseSpinLock(lock: *mut usize, new_irql: u8);
    fn memset(dest: *mut c_void, value: i32, count: usize) -> *mut c_void;
    fn memcpy(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
    /// The stack probe the compiler calls for frames above a page (ntoskrnl.exe exports it).
    fn __chkstk();
}

/// The spin lock `IrqlNotRestored` takes.
static mut LOCK: usize = 0;

/// The blocks `ErrorPathLeak` keeps while loaded (freed by unload).
static mut KEPT: [usize; 2] = [0; 2];

fn alloc(bytes: usize, t: u32) -> *mut u8 {
    // SAFETY: a plain pool allocation at PASSIVE_LEVEL with a non-zero tag.
    unsafe { ExAllocatePool2(NON_PAGED, bytes, t) }.cast()
}

/// Frees `p` (allocated with tag `t`).
///
/// # Safety
/// `p` came from [`alloc`] with `t` (or deliberately not: that is the defect).
unsafe fn free(p: *mut u8, t: u32) {
    // SAFETY: the caller's contract.
    unsafe { ExFreePoolWithTag(p.cast(), t) };
}

/// A function the optimizer cannot see through, using `n` bytes of stack.
#[inline(never)]
fn deep(n: usize) -> u8 {
    let mut buf = [0u8; 32 * 1024];
    let b = core::hint::black_box(&mut buf);
    b[n % b.len()] = 1;
    b[(n * 7) % b.len()]
}

/// `DriverEntry` of an image with `defect`.
///
/// # Safety
/// Called by the I/O manager with a valid driver object.
pub unsafe fn driver_entry(
    defect: Defect,
    driver: *mut DRIVER_OBJECT,
    unload: unsafe extern "system" fn(*const DRIVER_OBJECT),
) -> NTSTATUS {
    let t = tag(defect);
    match defect {
        Defect::Overrun => {
            let p = alloc(64, t);
            if p.is_null() {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            // SAFETY: none: one byte past the 64-byte block, the defect.
            unsafe { p.wrapping_add(64).write_volatile(1) };
            // SAFETY: p came from alloc with t.
            unsafe { free(p, t) };
        }
        Defect::UseAfterFree => {
            let p = alloc(64, t);
            if p.is_null() {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            // SAFETY: p came from alloc with t.
            unsafe { free(p, t) };
            // SAFETY: none: the block was freed, the defect.
            let _ = unsafe { p.wrapping_add(8).read_volatile() };
        }
        Defect::Leak => {
            let p = alloc(100, t);
            if p.is_null() {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            // Never freed: the defect.
            core::hint::black_box(p);
        }
        Defect::ClfsAtDispatch => {
            let mut lock = 0usize;
            // SAFETY: a spin lock on our stack, at PASSIVE_LEVEL.
            let old = unsafe { KeAcquireSpinLockRaiseToDpc(&mut lock) };
            // SAFETY: none: a CLFS call at DISPATCH_LEVEL, the defect (the context is
            // NULL as well; the IRQL is what is checked first).
            let _ = unsafe { ClfsFlushBuffers(core::ptr::null()) };
            // SAFETY: the lock acquired above, with the IRQL it returned.
            unsafe { KeReleaseSpinLock(&mut lock, old) };
        }
        Defect::DoubleFree => {
            let p = alloc(64, t);
            if p.is_null() {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            // SAFETY: p came from alloc with t.
            unsafe { free(p, t) };
            // SAFETY: none: the second free, the defect.
            unsafe { free(p, t) };
        }
        Defect::ErrorPathLeak => {
            let a = alloc(32, t);
            if a.is_null() {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            let b = alloc(48, t);
            if b.is_null() {
                // The defect: `a` is not freed on this error path.
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            // SAFETY: both blocks are live and 32 bytes long at least.
            unsafe { memset(a.cast(), 0x5A, 32) };
            // SAFETY: as above.
            unsafe { memcpy(b.cast(), a.cast(), 32) };
            // SAFETY: only DriverEntry and unload touch KEPT, never at once.
            unsafe { KEPT = [a as usize, b as usize] };
        }
        Defect::StackOverflow => {
            let _ = core::hint::black_box(deep(core::hint::black_box(3)));
        }
        Defect::IrqlNotRestored => {
            // SAFETY: our own spin lock, at PASSIVE_LEVEL; only DriverEntry touches it.
            let old = unsafe { KeAcquireSpinLockRaiseToDpc(&raw mut LOCK) };
            if core::hint::black_box(old) == 0 {
                // The defect: an early-out path that forgets to release the lock, so
                // DriverEntry returns at DISPATCH_LEVEL.
                // SAFETY: the I/O manager's driver object, ours until DriverEntry returns.
                unsafe { (*driver).DriverUnload = Some(unload) };
                return STATUS_SUCCESS;
            }
            // SAFETY: the lock acquired above, with the IRQL it returned.
            unsafe { KeReleaseSpinLock(&raw mut LOCK, old) };
        }
    }
    // SAFETY: the I/O manager's driver object, ours to set up until DriverEntry returns.
    unsafe { (*driver).DriverUnload = Some(unload) };
    STATUS_SUCCESS
}

/// The unload routine of every image.
///
/// # Safety
/// Called by the I/O manager after a successful `DriverEntry`.
pub unsafe fn driver_unload(defect: Defect) {
    if defect == Defect::ErrorPathLeak {
        let t = tag(defect);
        // SAFETY: only DriverEntry and unload touch KEPT, never at once.
        let kept = unsafe { KEPT };
        for p in kept {
            if p != 0 {
                // SAFETY: the blocks DriverEntry allocated with t.
                unsafe { free(p as *mut u8, t) };
            }
        }
        // SAFETY: as above.
        unsafe { KEPT = [0; 2] };
    }
}

/// `UNICODE_STRING`, for the examples' DriverEntry signature.
pub type RegistryPath = UNICODE_STRING;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: stopping the machine is what a panic in a driver means.
    unsafe {
        windows_sys::Wdk::System::SystemServices::KeBugCheckEx(0xE2, 0, 0, 0, 0);
    }
    #[allow(clippy::empty_loop)]
    loop {}
}
