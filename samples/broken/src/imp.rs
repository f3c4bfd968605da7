//! The defects (driver images only).

use core::ffi::c_void;

use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, DRIVER_OBJECT, IRP};
use windows_sys::Wdk::System::SystemServices::{
    ClfsCloseLogFileObject, ClfsCreateLogFile, ClfsFlushBuffers, ClfsQueryLogFileInformation,
    ExAllocatePool2, ExFreePoolWithTag, IoCreateDevice, IoDeleteDevice, IofCompleteRequest,
};
use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};
use windows_sys::Win32::Storage::FileSystem::{ClfsLogBasicInformation, CLS_INFORMATION};

/// `POOL_FLAG_NON_PAGED`.
const NON_PAGED: u64 = 0x40;
const STATUS_SUCCESS: NTSTATUS = 0;
const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as NTSTATUS;
const STATUS_PENDING: NTSTATUS = 0x103;
/// `FILE_DEVICE_UNKNOWN`.
const FILE_DEVICE_UNKNOWN: u32 = 0x22;
/// `DO_DEVICE_INITIALIZING`.
const DO_DEVICE_INITIALIZING: u32 = 0x80;
/// `IRP_MJ_CREATE`, `IRP_MJ_CLOSE`, `IRP_MJ_DEVICE_CONTROL`, `IRP_MJ_CLEANUP`.
const IRP_MJ_CREATE: usize = 0x00;
const IRP_MJ_CLOSE: usize = 0x02;
const IRP_MJ_DEVICE_CONTROL: usize = 0x0e;
const IRP_MJ_CLEANUP: usize = 0x12;

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
    /// Its device's IOCTL dispatch routine returns `STATUS_PENDING` without
    /// `IoMarkIrpPending` (device [`PENDING_DEVICE`]).
    PendingNotMarked,
    /// The unload routine closes its log, then queries the closed log object.
    UseAfterClose,
    /// `DriverEntry` releases its spin lock, then releases it again on a cleanup path.
    SpinLockDoubleRelease,
    /// `DriverEntry` creates its device, then opens its log; when the open fails it returns
    /// without deleting the device (device [`ENTRY_DEVICE`]).
    ErrorPathDevice,
    /// Its device's IOCTL dispatch routine returns still holding a spin lock (device
    /// [`IRQL_DEVICE`]).
    DispatchIrqlNotRestored,
    /// Its device's IOCTL dispatch routine marks the IRP pending and completes it with the
    /// status still `STATUS_PENDING` (device [`COMPLETE_DEVICE`]).
    CompletedPending,
}

/// The device `CompletedPending` creates.
pub const COMPLETE_DEVICE: &str = "\\Device\\BrokenComplete";

/// The device `DispatchIrqlNotRestored` creates.
pub const IRQL_DEVICE: &str = "\\Device\\BrokenIrql";

/// The device `ErrorPathDevice` creates.
pub const ENTRY_DEVICE: &str = "\\Device\\BrokenEntry";

/// The log `UseAfterClose` opens.
pub const LOG_NAME: &str = "log:\\SystemRoot\\Logs\\BrokenClose\\broken";

/// The device `PendingNotMarked` creates (`clfs-hlk --device BrokenPending`).
pub const PENDING_DEVICE: &str = "\\Device\\BrokenPending";

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

/// The log `UseAfterClose` keeps open while loaded.
static mut LOG: usize = 0;

/// The device `PendingNotMarked` created (deleted by unload).
static mut DEVICE: usize = 0;

/// Completes `irp` with `status`.
///
/// # Safety
/// `irp` is the live IRP a dispatch routine received, not completed yet.
unsafe fn complete(irp: *mut IRP, status: NTSTATUS) {
    // SAFETY: a live IRP we own until completion (caller).
    unsafe {
        (*irp).IoStatus.Anonymous.Status = status;
        (*irp).IoStatus.Information = 0;
        IofCompleteRequest(irp, 0);
    }
}

/// Create, cleanup and close: success.
///
/// # Safety
/// Called by the I/O manager with a live IRP.
unsafe extern "system" fn dispatch_ok(_device: *const DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the IRP this routine received.
    unsafe { complete(irp, STATUS_SUCCESS) };
    STATUS_SUCCESS
}

/// Every IOCTL: "queued" for later, so the routine answers `STATUS_PENDING`; but the IRP
/// is completed at once and never marked pending.
///
/// # Safety
/// Called by the I/O manager with a live IRP.
unsafe extern "system" fn dispatch_pending(
    _device: *const DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: the IRP this routine received.
    unsafe { complete(irp, STATUS_SUCCESS) };
    // The defect: STATUS_PENDING without IoMarkIrpPending (and after completing the IRP).
    STATUS_PENDING
}

/// Every IOCTL: completed, but an early-out path returns still holding the device's spin
/// lock, at DISPATCH_LEVEL.
///
/// # Safety
/// Called by the I/O manager with a live IRP.
unsafe extern "system" fn dispatch_irql(_device: *const DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: our own spin lock, at PASSIVE_LEVEL (one request at a time in the tests that
    // reach it: the stop ends the run at the first).
    let old = unsafe { KeAcquireSpinLockRaiseToDpc(&raw mut LOCK) };
    // SAFETY: the IRP this routine received.
    unsafe { complete(irp, STATUS_SUCCESS) };
    if core::hint::black_box(old) == 0 {
        // The defect: the lock is not released on this path.
        return STATUS_SUCCESS;
    }
    // SAFETY: the lock acquired above, with the IRQL it returned.
    unsafe { KeReleaseSpinLock(&raw mut LOCK, old) };
    STATUS_SUCCESS
}

/// Every IOCTL: marked pending (`IoMarkIrpPending`), its status set to `STATUS_PENDING` for
/// the "worker", but the worker's part is done inline and the IRP is completed without the
/// final status.
///
/// # Safety
/// Called by the I/O manager with a live IRP.
unsafe extern "system" fn dispatch_completed_pending(
    _device: *const DEVICE_OBJECT,
    irp: *mut IRP,
) -> NTSTATUS {
    // SAFETY: the IRP this routine received and its current stack location (what
    // IoMarkIrpPending sets SL_PENDING_RETURNED in).
    unsafe {
        let stack = (*irp)
            .Tail
            .Overlay
            .Anonymous2
            .Anonymous
            .CurrentStackLocation;
        (*stack).Control |= 0x01;
        (*irp).IoStatus.Anonymous.Status = STATUS_PENDING;
        (*irp).IoStatus.Information = 0;
        // The defect: completed with the status still STATUS_PENDING.
        IofCompleteRequest(irp, 0);
    }
    STATUS_PENDING
}

/// A `UNICODE_STRING` over `buf` (UTF-16, `len` units).
fn unicode(buf: &mut [u16], s: &str) -> UNICODE_STRING {
    let mut n = 0;
    for (d, c) in buf.iter_mut().zip(s.bytes()) {
        *d = u16::from(c);
        n += 1;
    }
    UNICODE_STRING {
        Length: (n * 2) as u16,
        MaximumLength: (buf.len() * 2) as u16,
        Buffer: buf.as_mut_ptr(),
    }
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
        Defect::PendingNotMarked | Defect::DispatchIrqlNotRestored | Defect::CompletedPending => {
            let mut buf = [0u16; 32];
            let (path, ioctl): (_, unsafe extern "system" fn(_, _) -> _) = match defect {
                Defect::PendingNotMarked => (PENDING_DEVICE, dispatch_pending),
                Defect::DispatchIrqlNotRestored => (IRQL_DEVICE, dispatch_irql),
                _ => (COMPLETE_DEVICE, dispatch_completed_pending),
            };
            let name = unicode(&mut buf, path);
            let mut device: *mut DEVICE_OBJECT = core::ptr::null_mut();
            // SAFETY: the I/O manager's driver object, a valid name and out pointer.
            let status = unsafe {
                IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, false, &mut device)
            };
            if status < 0 {
                return status;
            }
            if device.is_null() {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            // SAFETY: the device we just created, and our driver object until we return.
            unsafe {
                (*device).Flags &= !DO_DEVICE_INITIALIZING;
                DEVICE = device as usize;
                let major = &mut (*driver).MajorFunction;
                major[IRP_MJ_CREATE] = Some(dispatch_ok);
                major[IRP_MJ_CLOSE] = Some(dispatch_ok);
                major[IRP_MJ_CLEANUP] = Some(dispatch_ok);
                major[IRP_MJ_DEVICE_CONTROL] = Some(ioctl);
            }
        }
        Defect::UseAfterClose => {
            let mut buf = [0u16; 64];
            let name = unicode(&mut buf, LOG_NAME);
            let mut log = core::ptr::null_mut();
            // SAFETY: a valid out pointer and name; GENERIC_READ | GENERIC_WRITE, share
            // read/write, FILE_OPEN_IF, PASSIVE_LEVEL.
            let status = unsafe {
                ClfsCreateLogFile(
                    &mut log,
                    &name,
                    0xC000_0000,
                    3,
                    core::ptr::null_mut(),
                    3,
                    0,
                    0x80,
                    0,
                    core::ptr::null(),
                    0,
                )
            };
            if status < 0 {
                return status;
            }
            // SAFETY: only DriverEntry and unload touch LOG, never at once.
            unsafe { LOG = log as usize };
        }
        Defect::ErrorPathDevice => {
            let mut buf = [0u16; 32];
            let name = unicode(&mut buf, ENTRY_DEVICE);
            let mut device: *mut DEVICE_OBJECT = core::ptr::null_mut();
            // SAFETY: the I/O manager's driver object, a valid name and out pointer.
            let status = unsafe {
                IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, false, &mut device)
            };
            if status < 0 {
                return status;
            }
            if device.is_null() {
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            let mut buf = [0u16; 64];
            let name = unicode(&mut buf, LOG_NAME);
            let mut log = core::ptr::null_mut();
            // SAFETY: as for `UseAfterClose`.
            let status = unsafe {
                ClfsCreateLogFile(
                    &mut log,
                    &name,
                    0xC000_0000,
                    3,
                    core::ptr::null_mut(),
                    3,
                    0,
                    0x80,
                    0,
                    core::ptr::null(),
                    0,
                )
            };
            if status < 0 {
                // The defect: the device created above is not deleted on this error path.
                return status;
            }
            // SAFETY: only DriverEntry and unload touch LOG and DEVICE, never at once; the
            // device we just created.
            unsafe {
                LOG = log as usize;
                DEVICE = device as usize;
                (*device).Flags &= !DO_DEVICE_INITIALIZING;
            }
        }
        Defect::SpinLockDoubleRelease => {
            // SAFETY: our own spin lock, at PASSIVE_LEVEL; only DriverEntry touches it.
            let old = unsafe { KeAcquireSpinLockRaiseToDpc(&raw mut LOCK) };
            // SAFETY: the lock acquired above, with the IRQL it returned.
            unsafe { KeReleaseSpinLock(&raw mut LOCK, old) };
            if core::hint::black_box(old) == 0 {
                // The defect: a cleanup path that releases the lock a second time (at
                // PASSIVE_LEVEL, not holding it).
                // SAFETY: none: the lock is no longer held.
                unsafe { KeReleaseSpinLock(&raw mut LOCK, old) };
            }
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
    if defect == Defect::ErrorPathDevice {
        // SAFETY: only DriverEntry and unload touch LOG and DEVICE, never at once: the log
        // and the device DriverEntry created, each released once.
        unsafe {
            let _ = ClfsCloseLogFileObject(LOG as *const _);
            IoDeleteDevice(DEVICE as *const DEVICE_OBJECT);
            LOG = 0;
            DEVICE = 0;
        }
    }
    if defect == Defect::UseAfterClose {
        // SAFETY: only DriverEntry and unload touch LOG, never at once.
        let log = unsafe { LOG } as *const _;
        // SAFETY: the log object DriverEntry opened, closed once.
        let _ = unsafe { ClfsCloseLogFileObject(log) };
        // The defect: a last statistic read after the close (the status is ignored).
        // SAFETY: none: `log` was closed above.
        let mut info: CLS_INFORMATION = unsafe { core::mem::zeroed() };
        let mut len = core::mem::size_of::<CLS_INFORMATION>() as u32;
        // SAFETY: none: the closed log object, the defect; the buffers are valid.
        let _ = unsafe {
            ClfsQueryLogFileInformation(
                log,
                ClfsLogBasicInformation,
                core::ptr::null(),
                0,
                (&raw mut info).cast(),
                &mut len,
            )
        };
        core::hint::black_box(&info);
        // SAFETY: as above.
        unsafe { LOG = 0 };
    }
    if matches!(
        defect,
        Defect::PendingNotMarked | Defect::DispatchIrqlNotRestored | Defect::CompletedPending
    ) {
        // SAFETY: only DriverEntry and unload touch DEVICE, never at once.
        let device = unsafe { DEVICE };
        if device != 0 {
            // SAFETY: the device DriverEntry created, deleted once.
            unsafe { IoDeleteDevice(device as *const DEVICE_OBJECT) };
        }
        // SAFETY: as above.
        unsafe { DEVICE = 0 };
    }
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
