//! The driver plumbing: `DriverEntry`, the unload routine, the control device and its
//! dispatch routines, the driver's global state, its debug output and (outside the
//! windows-drivers-rs flow) its panic handler.
//!
//! IRQL: `DriverEntry` and the unload routine run at PASSIVE_LEVEL in the system process; the
//! I/O manager never runs them concurrently, and calls the unload routine only after
//! `DriverEntry` returned success and every file object on the device is closed. The dispatch
//! routines run at PASSIVE_LEVEL in the caller's thread, concurrently with each other.

use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, DRIVER_OBJECT};
use windows_sys::Win32::Foundation::{NTSTATUS, STATUS_SUCCESS, UNICODE_STRING};

use crate::logic::{self, LogSlot, Running, StartError};

/// The log, borrowed for `'static` by the marshalling area in [`SESSION`].
static LOG: LogSlot = LogSlot::new();

/// The running session, from a successful `DriverEntry` to the unload routine.
static SESSION: Session = Session(UnsafeCell::new(None));

/// The control device `\Device\ClfsSample`, from `DriverEntry` to the unload routine.
static DEVICE: AtomicPtr<DEVICE_OBJECT> = AtomicPtr::new(ptr::null_mut());

/// Holder of the [`Running`] session between `DriverEntry` and unload.
///
/// # Invariants
/// Only `DriverEntry` (before it creates the device's dispatch table) and `driver_unload`
/// (after the I/O manager closed every file object on the device) write the cell; the
/// dispatch routines only read it, between those two points.
struct Session(UnsafeCell<Option<Running>>);

// SAFETY: the writers (DriverEntry, unload) are serialized by the I/O manager and never
// overlap a dispatch routine (type invariant); readers only share `&Running`, and `Running` is
// `Sync` (its marshalling area is thread-safe, its other fields are read-only).
unsafe impl Sync for Session {}

impl Session {
    /// Stores the running session.
    ///
    /// # Safety
    /// Called from `DriverEntry` only, before any dispatch routine can run.
    unsafe fn set(&self, running: Running) {
        let cell = self.0.get();
        // SAFETY: the caller is DriverEntry, which no other access to the cell can overlap.
        let slot = unsafe { &mut *cell };
        *slot = Some(running);
    }

    /// Takes the running session out.
    ///
    /// # Safety
    /// Called from the unload routine (or a failing DriverEntry) only, when no dispatch
    /// routine runs or can run any more.
    unsafe fn take(&self) -> Option<Running> {
        let cell = self.0.get();
        // SAFETY: the caller guarantees that no other access to the cell can overlap.
        let slot = unsafe { &mut *cell };
        slot.take()
    }

    /// The running session, for the dispatch routines.
    ///
    /// # Safety
    /// Called from a dispatch routine only: between `DriverEntry`'s `set` and the unload
    /// routine's `take` (the I/O manager sends no IRP outside that window).
    unsafe fn get(&self) -> Option<&'static Running> {
        let cell = self.0.get();
        // SAFETY: no writer overlaps a dispatch routine (type invariant), and the value stays
        // in place until unload, after every IRP on the device has completed.
        let slot: &'static Option<Running> = unsafe { &*cell };
        slot.as_ref()
    }
}

/// `STATUS_UNSUCCESSFUL`, for refusals that carry no NTSTATUS of their own.
const STATUS_UNSUCCESSFUL: NTSTATUS = 0xC000_0001_u32 as NTSTATUS;
/// `STATUS_INSUFFICIENT_RESOURCES`.
const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as NTSTATUS;

/// The NTSTATUS `DriverEntry` returns for a failed start: Clfs.sys's status when it refused,
/// `STATUS_UNSUCCESSFUL` when `clfs` refused first. Never a success code: the I/O manager
/// would keep a driver loaded that has no session and no unload routine.
fn failure_status(e: &StartError) -> NTSTATUS {
    let status = match e {
        StartError::Clfs(e) => e
            .status()
            .map_or(STATUS_UNSUCCESSFUL, |s| s.code() as NTSTATUS),
        StartError::AlreadyRunning => STATUS_UNSUCCESSFUL,
    };
    if status < 0 {
        status
    } else {
        STATUS_UNSUCCESSFUL
    }
}

/// The driver's entry point.
///
/// In order: the log's directory, the control device (secured), its symbolic link, the log
/// session, then the dispatch table and the unload routine. A failure at any step releases
/// what the earlier steps acquired, in reverse order, and returns the failing status.
///
/// # Safety
/// Called by the I/O manager only, at PASSIVE_LEVEL, with a valid driver object.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn DriverEntry(
    driver: *mut DRIVER_OBJECT,
    _registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    #[cfg(feature = "trap-dbgprint")]
    trap::dbgprint_from_ntdll();
    #[cfg(feature = "prove-panic-check")]
    trap::reachable_panic();

    // IoCreateFile (below) requires PASSIVE_LEVEL, stricter than CLFS's APC_LEVEL: refuse
    // before any call rather than bugcheck. The I/O manager calls DriverEntry at PASSIVE_LEVEL,
    // so this only fires when something is wrong (the loader's irql_discipline test raises it).
    // No debug print here either: it looks DbgPrintEx up with MmGetSystemRoutineAddress,
    // which is PASSIVE_LEVEL only too.
    if clfs::irql::current() != clfs::irql::PASSIVE_LEVEL {
        return STATUS_UNSUCCESSFUL;
    }

    // CLFS creates the base log file and the containers; that it creates missing directories
    // is documented nowhere, so the driver makes sure the log's directory exists.
    let status = fs::ensure_directory(logic::LOG_DIRECTORY);
    if status < 0 {
        debug::start_failed(status);
        return status;
    }
    // SAFETY: the I/O manager's driver object, valid for the whole call.
    let device = match unsafe { device::create(driver) } {
        Ok(d) => d,
        Err(status) => {
            debug::start_failed(status);
            return status;
        }
    };
    let status = device::create_link();
    if status < 0 {
        // SAFETY: the device we created above; no IRP can reach it yet (still initializing).
        unsafe { device::delete(device) };
        debug::start_failed(status);
        return status;
    }
    let running = match logic::start(
        &LOG,
        logic::LOG_NAME,
        logic::CONTAINERS,
        logic::CONTAINER_SIZE,
    ) {
        Ok(running) => running,
        Err(e) => {
            let status = failure_status(&e);
            device::delete_link();
            // SAFETY: as above.
            unsafe { device::delete(device) };
            debug::start_failed(status);
            // Everything acquired was released by `start`; the driver is not loaded, so no
            // unload routine runs.
            return status;
        }
    };
    debug::started(running.startup_lsn());
    // SAFETY: this is DriverEntry; no dispatch routine can run yet.
    unsafe { SESSION.set(running) };
    DEVICE.store(device, Ordering::Release);
    // SAFETY: the I/O manager passes a valid, writable driver object that we may set up
    // until DriverEntry returns.
    let driver = unsafe { &mut *driver };
    for slot in driver.MajorFunction.iter_mut() {
        *slot = Some(dispatch::unsupported);
    }
    for major in [
        dispatch::IRP_MJ_CREATE,
        dispatch::IRP_MJ_CLEANUP,
        dispatch::IRP_MJ_CLOSE,
        dispatch::IRP_MJ_DEVICE_CONTROL,
    ] {
        if let Some(slot) = driver.MajorFunction.get_mut(major) {
            *slot = Some(dispatch::dispatch);
        }
    }
    driver.DriverUnload = Some(driver_unload);
    // SAFETY: our device; the flag is ours to clear once the device is ready for IRPs.
    unsafe { device::ready(device) };
    STATUS_SUCCESS
}

/// The unload routine: delete the link and the device, then flush, restart area, delete the
/// area, close the log.
///
/// # Safety
/// Called by the I/O manager only, at PASSIVE_LEVEL, after a successful `DriverEntry` and
/// after every file object on the device was closed.
unsafe extern "system" fn driver_unload(_driver: *const DRIVER_OBJECT) {
    device::delete_link();
    let device = DEVICE.swap(ptr::null_mut(), Ordering::AcqRel);
    if !device.is_null() {
        // SAFETY: the device DriverEntry created; every file object on it is closed.
        unsafe { device::delete(device) };
    }
    // SAFETY: this is the unload routine; no dispatch routine runs any more.
    let running = unsafe { SESSION.take() };
    let Some(running) = running else {
        return;
    };
    match running.stop() {
        Ok(stopped) => debug::stopped(stopped.restart),
        Err(e) => {
            let status = e
                .status()
                .map_or(STATUS_UNSUCCESSFUL, |s| s.code() as NTSTATUS);
            debug::stop_failed(status);
        }
    }
}

/// The control device: creating it with its security descriptor, its symbolic link, deleting
/// both.
mod device {
    use core::ffi::c_void;
    use core::ptr;

    use clfs::wide;
    use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, DRIVER_OBJECT};
    use windows_sys::Wdk::Storage::FileSystem::{ObOpenObjectByPointer, DO_DEVICE_INITIALIZING};
    use windows_sys::Wdk::System::SystemServices::{
        IoCreateDevice, IoCreateSymbolicLink, IoDeleteDevice, IoDeleteSymbolicLink,
        MmGetSystemRoutineAddress, ObCloseHandle, FILE_DEVICE_SECURE_OPEN,
    };
    use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS, OBJ_KERNEL_HANDLE, UNICODE_STRING};

    /// The type of `ZwSetSecurityObject` (ntifs.h).
    type ZwSetSecurityObjectFn = unsafe extern "system" fn(
        handle: HANDLE,
        security_information: u32,
        security_descriptor: *const c_void,
    ) -> NTSTATUS;

    /// `STATUS_PROCEDURE_NOT_FOUND`.
    const STATUS_PROCEDURE_NOT_FOUND: NTSTATUS = 0xC000_007A_u32 as NTSTATUS;

    /// ntoskrnl.exe's `ZwSetSecurityObject`, looked up at run time: windows-sys declares the
    /// `Zw*` routines as **ntdll.dll** imports, and a raw-dylib declaration of the same name
    /// for ntoskrnl.exe loses to it at link time (clfs-imgcheck catches that), as with
    /// `DbgPrintEx`.
    fn zw_set_security_object() -> Option<ZwSetSecurityObjectFn> {
        let name = wide!("ZwSetSecurityObject");
        let name = unicode(name);
        // SAFETY: a valid UNICODE_STRING over a 'static buffer; PASSIVE_LEVEL (DriverEntry).
        let routine = unsafe { MmGetSystemRoutineAddress(&name) };
        if routine.is_null() {
            return None;
        }
        // SAFETY: ntoskrnl.exe's `ZwSetSecurityObject` export has exactly this signature.
        Some(unsafe { core::mem::transmute::<*mut c_void, ZwSetSecurityObjectFn>(routine) })
    }

    /// `\Device\ClfsSample`.
    const DEVICE_NAME: &[u16] = wide!("\\Device\\ClfsSample");
    /// `\??\ClfsSample`.
    const LINK_NAME: &[u16] = wide!("\\??\\ClfsSample");

    /// `FILE_DEVICE_UNKNOWN`.
    const FILE_DEVICE_UNKNOWN: u32 = clfs_sample_proto::FILE_DEVICE_UNKNOWN;
    /// `WRITE_DAC`.
    const WRITE_DAC: u32 = 0x0004_0000;
    /// `DACL_SECURITY_INFORMATION`.
    const DACL_SECURITY_INFORMATION: u32 = 0x4;
    /// `KernelMode`.
    const KERNEL_MODE: i8 = 0;

    /// The device's security descriptor: `clfs_sample_proto::DEVICE_SECURITY_DESCRIPTOR`,
    /// the self-relative form of `D:P(A;;GA;;;SY)(A;;GA;;;BA)` (SYSTEM and Administrators
    /// only), 8-aligned as the kernel's `SECURITY_DESCRIPTOR_RELATIVE` wants. The kernel has
    /// no SDDL parser (wdmsec.lib carries its own), so the bytes are built ahead of time; the
    /// proto crate's unit test decodes them back to the SDDL.
    static SECURITY_DESCRIPTOR: Aligned = Aligned(clfs_sample_proto::DEVICE_SECURITY_DESCRIPTOR);

    /// The descriptor's bytes, aligned.
    #[repr(C, align(8))]
    struct Aligned([u8; 72]);

    fn unicode(s: &'static [u16]) -> UNICODE_STRING {
        let bytes = (s.len() * 2) as u16;
        UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: s.as_ptr().cast_mut(),
        }
    }

    /// What wdmsec.lib's `IoCreateDeviceSecure` does, step by step: `IoCreateDevice`
    /// (`FILE_DEVICE_UNKNOWN`, `FILE_DEVICE_SECURE_OPEN`, not exclusive), then the security
    /// descriptor applied through a kernel handle (`ObOpenObjectByPointer` for `WRITE_DAC`,
    /// `ZwSetSecurityObject` with the DACL, `ObCloseHandle`). If applying fails the device is
    /// deleted again.
    ///
    /// # Safety
    /// `driver` is the driver object DriverEntry received; PASSIVE_LEVEL.
    pub(super) unsafe fn create(
        driver: *mut DRIVER_OBJECT,
    ) -> Result<*mut DEVICE_OBJECT, NTSTATUS> {
        let name = unicode(DEVICE_NAME);
        let mut device: *mut DEVICE_OBJECT = ptr::null_mut();
        // SAFETY: a valid driver object (caller) and name; `device` is a valid out pointer.
        let status = unsafe {
            IoCreateDevice(
                driver,
                0,
                &name,
                FILE_DEVICE_UNKNOWN,
                FILE_DEVICE_SECURE_OPEN,
                false,
                &mut device,
            )
        };
        if status < 0 {
            return Err(status);
        }
        if device.is_null() {
            return Err(super::STATUS_UNSUCCESSFUL);
        }
        let status = apply_security(device);
        if status < 0 {
            // SAFETY: the device just created; nothing else knows it.
            unsafe { IoDeleteDevice(device) };
            return Err(status);
        }
        Ok(device)
    }

    /// Applies [`SECURITY_DESCRIPTOR`]'s DACL to `device`.
    fn apply_security(device: *mut DEVICE_OBJECT) -> NTSTATUS {
        let Some(set_security) = zw_set_security_object() else {
            return STATUS_PROCEDURE_NOT_FOUND;
        };
        let mut handle: HANDLE = ptr::null_mut();
        // SAFETY: `device` is a live device object; no access state; NULL object type is
        // allowed (the routine then accepts any type); `handle` is a valid out pointer.
        let status = unsafe {
            ObOpenObjectByPointer(
                device.cast::<c_void>(),
                OBJ_KERNEL_HANDLE,
                ptr::null(),
                WRITE_DAC,
                0, // POBJECT_TYPE: NULL
                KERNEL_MODE,
                &mut handle,
            )
        };
        if status < 0 {
            return status;
        }
        // SAFETY: a kernel handle opened for WRITE_DAC just above; a valid self-relative
        // security descriptor with a DACL.
        let status = unsafe {
            set_security(
                handle,
                DACL_SECURITY_INFORMATION,
                SECURITY_DESCRIPTOR.0.as_ptr().cast(),
            )
        };
        // SAFETY: the kernel handle opened above, closed once.
        unsafe { ObCloseHandle(handle, KERNEL_MODE) };
        status
    }

    /// Creates `\??\ClfsSample` -> `\Device\ClfsSample`.
    pub(super) fn create_link() -> NTSTATUS {
        let link = unicode(LINK_NAME);
        let name = unicode(DEVICE_NAME);
        // SAFETY: two valid UNICODE_STRINGs over 'static buffers; PASSIVE_LEVEL.
        unsafe { IoCreateSymbolicLink(&link, &name) }
    }

    /// Deletes `\??\ClfsSample`.
    pub(super) fn delete_link() {
        let link = unicode(LINK_NAME);
        // SAFETY: a valid UNICODE_STRING; PASSIVE_LEVEL. A failure (no such link) needs no
        // action.
        let _ = unsafe { IoDeleteSymbolicLink(&link) };
    }

    /// Clears `DO_DEVICE_INITIALIZING`: the device accepts IRPs.
    ///
    /// # Safety
    /// `device` is our live device object.
    pub(super) unsafe fn ready(device: *mut DEVICE_OBJECT) {
        // SAFETY: our device object (caller); only DriverEntry writes its flags now.
        unsafe { (*device).Flags &= !DO_DEVICE_INITIALIZING };
    }

    /// Deletes the device.
    ///
    /// # Safety
    /// `device` is the device [`create`] returned, not deleted yet, with no open file object.
    pub(super) unsafe fn delete(device: *mut DEVICE_OBJECT) {
        // SAFETY: forwarded from the caller.
        unsafe { IoDeleteDevice(device) };
    }
}

/// The dispatch routines.
mod dispatch {
    use core::ffi::c_void;
    use core::mem::size_of;
    use core::ptr;

    use clfs::{BlockAllocator, PoolType, TaggedPool};
    use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, IO_STACK_LOCATION, IRP};
    use windows_sys::Wdk::System::SystemServices::IofCompleteRequest;
    use windows_sys::Win32::Foundation::NTSTATUS;

    use crate::service::{self, Handle};

    pub(super) const IRP_MJ_CREATE: usize = 0x00;
    pub(super) const IRP_MJ_CLOSE: usize = 0x02;
    pub(super) const IRP_MJ_DEVICE_CONTROL: usize = 0x0e;
    pub(super) const IRP_MJ_CLEANUP: usize = 0x12;

    /// The pool tag of the per-handle state, as poolmon shows it: `SmpH`.
    pub(crate) const HANDLE_TAG: u32 = clfs::pool_tag(*b"SmpH");
    type HandlePool = TaggedPool<HANDLE_TAG>;

    /// `IO_NO_INCREMENT`.
    const IO_NO_INCREMENT: i8 = 0;
    const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32 as NTSTATUS;

    /// Sets the IRP's `IoStatus` and completes it; returns `status`.
    ///
    /// # Safety
    /// `irp` is the live IRP this dispatch routine received, not completed yet.
    unsafe fn complete(irp: *mut IRP, status: NTSTATUS, information: usize) -> NTSTATUS {
        // SAFETY: a live IRP we own until completion (caller).
        let i = unsafe { &mut *irp };
        i.IoStatus.Anonymous.Status = status;
        i.IoStatus.Information = information;
        // SAFETY: completing the IRP we own, once; nothing touches it afterwards.
        unsafe { IofCompleteRequest(irp, IO_NO_INCREMENT) };
        status
    }

    /// Every major function the device does not serve: `STATUS_INVALID_DEVICE_REQUEST`.
    ///
    /// # Safety
    /// Called by the I/O manager with a live IRP.
    pub(super) unsafe extern "system" fn unsupported(
        _device: *const DEVICE_OBJECT,
        irp: *mut IRP,
    ) -> NTSTATUS {
        // SAFETY: the I/O manager's live IRP.
        unsafe { complete(irp, service::STATUS_INVALID_DEVICE_REQUEST, 0) }
    }

    /// IRP_MJ_CREATE, CLEANUP, CLOSE and DEVICE_CONTROL.
    ///
    /// # Safety
    /// Called by the I/O manager with a live IRP whose current stack location is ours.
    pub(super) unsafe extern "system" fn dispatch(
        _device: *const DEVICE_OBJECT,
        irp: *mut IRP,
    ) -> NTSTATUS {
        // SAFETY: the I/O manager's live IRP; `IoGetCurrentIrpStackLocation` reads this field.
        let stack: *mut IO_STACK_LOCATION = unsafe {
            (*irp)
                .Tail
                .Overlay
                .Anonymous2
                .Anonymous
                .CurrentStackLocation
        };
        if stack.is_null() {
            // SAFETY: as above.
            return unsafe { complete(irp, service::STATUS_INVALID_PARAMETER, 0) };
        }
        // SAFETY: the current stack location of a live IRP is valid while we own the IRP.
        let stack = unsafe { &*stack };
        let (status, information) = match usize::from(stack.MajorFunction) {
            // SAFETY: the stack location's file object is the one being opened.
            IRP_MJ_CREATE => (unsafe { create(stack) }, 0),
            IRP_MJ_CLEANUP => {
                // SAFETY: the file object's FsContext is NULL or a Handle from `create`.
                if let Some(h) = unsafe { handle(stack) } {
                    h.cleanup();
                }
                (service::STATUS_SUCCESS, 0)
            }
            IRP_MJ_CLOSE => {
                // SAFETY: the last IRP on this file object: its Handle can go.
                unsafe { close(stack) };
                (service::STATUS_SUCCESS, 0)
            }
            IRP_MJ_DEVICE_CONTROL => {
                // SAFETY: a live IRP and its stack location.
                let r = unsafe { device_control(irp, stack) };
                (r.status, r.information)
            }
            _ => (service::STATUS_INVALID_DEVICE_REQUEST, 0),
        };
        // SAFETY: the live IRP, completed once.
        unsafe { complete(irp, status, information) }
    }

    /// IRP_MJ_CREATE: a handle to the device itself (no name below it), with fresh state.
    ///
    /// # Safety
    /// `stack` is the current stack location of a live create IRP.
    unsafe fn create(stack: &IO_STACK_LOCATION) -> NTSTATUS {
        let file = stack.FileObject;
        if file.is_null() {
            return service::STATUS_INVALID_PARAMETER;
        }
        // SAFETY: the file object being opened, ours to set up until the IRP completes.
        let file = unsafe { &mut *file };
        if file.FileName.Length != 0 {
            // `\\.\ClfsSample\anything`: the device has no namespace.
            return STATUS_OBJECT_NAME_NOT_FOUND;
        }
        let p = HandlePool::allocate(PoolType::NonPagedPoolNx, size_of::<Handle>(), HANDLE_TAG);
        if p.is_null() {
            return super::STATUS_INSUFFICIENT_RESOURCES;
        }
        let p = p.cast::<Handle>();
        // SAFETY: a fresh pool block of Handle's size, 16-aligned (ExAllocatePool2 on x64).
        unsafe { p.write(Handle::new()) };
        file.FsContext = p.cast::<c_void>();
        service::STATUS_SUCCESS
    }

    /// The handle state of the stack location's file object.
    ///
    /// # Safety
    /// The file object's `FsContext` is NULL or a `Handle` that [`create`] stored and
    /// [`close`] has not freed.
    unsafe fn handle<'a>(stack: &IO_STACK_LOCATION) -> Option<&'a Handle> {
        let file = stack.FileObject;
        if file.is_null() {
            return None;
        }
        // SAFETY: the IRP's file object, live while the IRP is.
        let ctx = unsafe { (*file).FsContext };
        // SAFETY: NULL or a live Handle (caller).
        unsafe { ctx.cast::<Handle>().as_ref() }
    }

    /// IRP_MJ_CLOSE: drops and frees the handle state.
    ///
    /// # Safety
    /// The close IRP of a file object: no other IRP on it is in progress or will come.
    unsafe fn close(stack: &IO_STACK_LOCATION) {
        let file = stack.FileObject;
        if file.is_null() {
            return;
        }
        // SAFETY: the IRP's file object, live while the IRP is.
        let file = unsafe { &mut *file };
        let p = file.FsContext.cast::<Handle>();
        file.FsContext = ptr::null_mut();
        if p.is_null() {
            return;
        }
        // SAFETY: a Handle `create` wrote; the last IRP on the file object, so nobody else
        // holds a reference; dropped once (FsContext is cleared above).
        unsafe { ptr::drop_in_place(p) };
        // SAFETY: the block came from HandlePool::allocate and is freed once.
        unsafe { HandlePool::free(p.cast()) };
    }

    /// IRP_MJ_DEVICE_CONTROL on the system buffer.
    ///
    /// # Safety
    /// A live IRP and its current stack location.
    unsafe fn device_control(irp: *mut IRP, stack: &IO_STACK_LOCATION) -> service::Reply {
        // SAFETY: the stack location of a device-control IRP holds DeviceIoControl.
        let p = unsafe { stack.Parameters.DeviceIoControl };
        let (code, in_len, out_len) = (
            p.IoControlCode,
            p.InputBufferLength as usize,
            p.OutputBufferLength as usize,
        );
        // SAFETY: the file object's FsContext is NULL or our Handle (create/close pairing).
        let Some(handle) = (unsafe { handle(stack) }) else {
            return service::Reply {
                status: service::STATUS_INVALID_DEVICE_STATE,
                information: 0,
            };
        };
        // SAFETY: a dispatch routine, between DriverEntry and unload.
        let Some(area) = (unsafe { super::SESSION.get() }).map(super::Running::area) else {
            return service::Reply {
                status: service::STATUS_INVALID_DEVICE_STATE,
                information: 0,
            };
        };
        // SAFETY: the IRP is live; for METHOD_BUFFERED, SystemBuffer is NULL (both lengths
        // 0) or a nonpaged buffer of max(in, out) bytes owned by the IRP.
        let system = unsafe { (*irp).AssociatedIrp.SystemBuffer }.cast::<u8>();
        let len = in_len.max(out_len);
        let buffer: &mut [u8] = if system.is_null() || len == 0 {
            &mut []
        } else {
            // SAFETY: as above: `len` bytes, exclusively ours until completion.
            unsafe { core::slice::from_raw_parts_mut(system, len) }
        };
        let (in_len, out_len) = if buffer.is_empty() {
            (0, 0)
        } else {
            (in_len, out_len)
        };
        service::device_control(area, handle, code, buffer, in_len, out_len)
    }
}

/// Debug output, visible in WinDbg or in DebugView ("Capture Kernel", "Enable Verbose Kernel
/// Output"): through the kernel's `DbgPrintEx`, or `wdk::println!` in the windows-drivers-rs
/// flow.
mod debug {
    use clfs::Lsn;
    use windows_sys::Win32::Foundation::NTSTATUS;

    /// Loaded: the start-up record's LSN.
    pub(super) fn started(lsn: Lsn) {
        imp::lsn(
            c"clfs-sample: started, start-up record at LSN 0x%016I64x\n",
            lsn,
        );
    }

    /// DriverEntry failed with `status`.
    pub(super) fn start_failed(status: NTSTATUS) {
        imp::status(c"clfs-sample: start failed, status 0x%08x\n", status);
    }

    /// Unloaded: the restart area's LSN.
    pub(super) fn stopped(lsn: Lsn) {
        imp::lsn(
            c"clfs-sample: stopped, restart area at LSN 0x%016I64x\n",
            lsn,
        );
    }

    /// Teardown reported `status` (teardown itself always completes).
    pub(super) fn stop_failed(status: NTSTATUS) {
        imp::status(c"clfs-sample: stop failed, status 0x%08x\n", status);
    }

    #[cfg(not(feature = "wdk"))]
    mod imp {
        use core::ffi::CStr;

        use clfs::{wide, Lsn};
        use windows_sys::Wdk::System::SystemServices::MmGetSystemRoutineAddress;
        use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};

        /// `DPFLTR_IHVDRIVER_ID`: the component id for third-party drivers.
        const DPFLTR_IHVDRIVER_ID: u32 = 77;
        /// `DPFLTR_INFO_LEVEL`.
        const DPFLTR_INFO_LEVEL: u32 = 3;

        /// The type of the kernel's `DbgPrintEx`.
        type DbgPrintExFn = unsafe extern "C" fn(u32, u32, *const u8, ...) -> u32;

        /// The kernel's `DbgPrintEx`, looked up at run time.
        ///
        /// It cannot be imported by name here: windows-sys declares `DbgPrintEx` (and every
        /// other `Dbg*Print*`) as an **ntdll.dll** import, and when two raw-dylib declarations
        /// of one symbol name in different DLLs meet, the linker takes the first, which is
        /// ntdll's. clfs-imgcheck caught exactly that. `MmGetSystemRoutineAddress` (an
        /// ntoskrnl.exe import) finds the routine ntoskrnl.exe exports.
        fn dbg_print_ex() -> Option<DbgPrintExFn> {
            let name = wide!("DbgPrintEx");
            let bytes = (name.len() * 2) as u16;
            let name = UNICODE_STRING {
                Length: bytes,
                MaximumLength: bytes,
                Buffer: name.as_ptr().cast_mut(),
            };
            // SAFETY: a valid UNICODE_STRING over a 'static buffer that is not written to;
            // called at PASSIVE_LEVEL (DriverEntry and unload), as the routine requires.
            let routine = unsafe { MmGetSystemRoutineAddress(&name) };
            if routine.is_null() {
                return None;
            }
            // SAFETY: ntoskrnl.exe's `DbgPrintEx` export has exactly this C signature
            // (`ULONG DbgPrintEx(ULONG, ULONG, PCSTR, ...)`, wdm.h).
            let routine =
                unsafe { core::mem::transmute::<*mut core::ffi::c_void, DbgPrintExFn>(routine) };
            Some(routine)
        }

        /// Prints `format` with one 64-bit argument (`%I64x`).
        pub(super) fn lsn(format: &CStr, lsn: Lsn) {
            if let Some(print) = dbg_print_ex() {
                // SAFETY: `format` is NUL-terminated and consumes exactly one 64-bit integer,
                // which is passed.
                unsafe {
                    print(
                        DPFLTR_IHVDRIVER_ID,
                        DPFLTR_INFO_LEVEL,
                        format.as_ptr().cast(),
                        lsn.raw(),
                    )
                };
            }
        }

        /// Prints `format` with one 32-bit argument (`%08x`).
        pub(super) fn status(format: &CStr, status: NTSTATUS) {
            if let Some(print) = dbg_print_ex() {
                // SAFETY: `format` is NUL-terminated and consumes exactly one 32-bit integer,
                // which is passed.
                unsafe {
                    print(
                        DPFLTR_IHVDRIVER_ID,
                        DPFLTR_INFO_LEVEL,
                        format.as_ptr().cast(),
                        status,
                    )
                };
            }
        }
    }

    #[cfg(feature = "wdk")]
    mod imp {
        use core::ffi::CStr;

        use clfs::Lsn;
        use windows_sys::Win32::Foundation::NTSTATUS;

        /// The message part of a format string, without its conversion and newline.
        fn text(format: &CStr) -> &str {
            let s = format.to_str().unwrap_or("clfs-sample");
            s.split(" 0x%").next().unwrap_or(s)
        }

        pub(super) fn lsn(format: &CStr, lsn: Lsn) {
            wdk::println!("{} {:#018x}", text(format), lsn.raw());
        }

        pub(super) fn status(format: &CStr, status: NTSTATUS) {
            wdk::println!("{} {:#010x}", text(format), status as u32);
        }
    }
}

/// Creating the log's directory.
mod fs {
    use core::ffi::c_void;
    use core::ptr;

    use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
    use windows_sys::Wdk::System::SystemServices::{
        CreateFileTypeNone, IoCreateFile, ObCloseHandle,
    };
    use windows_sys::Win32::Foundation::{
        HANDLE, NTSTATUS, OBJ_CASE_INSENSITIVE, OBJ_KERNEL_HANDLE, UNICODE_STRING,
    };
    use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

    const FILE_LIST_DIRECTORY: u32 = 0x0001;
    const SYNCHRONIZE: u32 = 0x0010_0000;
    const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
    const FILE_SHARE_READ_WRITE: u32 = 0x1 | 0x2;
    const FILE_OPEN_IF: u32 = 3;
    const FILE_DIRECTORY_FILE: u32 = 0x1;
    const FILE_SYNCHRONOUS_IO_NONALERT: u32 = 0x20;
    /// `KernelMode` as a `KPROCESSOR_MODE`.
    const KERNEL_MODE: i8 = 0;

    /// Opens `path` (an NT path such as `\SystemRoot\Logs\ClfsSample`) as a directory,
    /// creating it if missing, and closes it again. Its parent must exist. Returns the NTSTATUS.
    ///
    /// `IoCreateFile` and `ObCloseHandle`, not `ZwCreateFile` / `ZwClose`: windows-sys declares
    /// the `Zw*` routines as ntdll.dll imports.
    pub(super) fn ensure_directory(path: &[u16]) -> NTSTATUS {
        let bytes = (path.len() * 2) as u16;
        let name = UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: path.as_ptr().cast_mut(),
        };
        let attributes = OBJECT_ATTRIBUTES {
            Length: core::mem::size_of::<OBJECT_ATTRIBUTES>() as u32,
            RootDirectory: ptr::null_mut(),
            ObjectName: &name,
            Attributes: OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE,
            SecurityDescriptor: ptr::null(),
            SecurityQualityOfService: ptr::null(),
        };
        let mut handle: HANDLE = ptr::null_mut();
        let mut io = IO_STATUS_BLOCK::default();
        // SAFETY: every pointer is to a live local or is null where the routine allows it
        // (allocation size, EA buffer, internal parameters); the name buffer is 'static and
        // not written to; PASSIVE_LEVEL, as IoCreateFile requires. A kernel handle
        // (OBJ_KERNEL_HANDLE) cannot be used from user mode.
        let status = unsafe {
            IoCreateFile(
                &mut handle,
                FILE_LIST_DIRECTORY | SYNCHRONIZE,
                &attributes,
                &mut io,
                ptr::null(),
                FILE_ATTRIBUTE_NORMAL,
                FILE_SHARE_READ_WRITE,
                FILE_OPEN_IF,
                FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT,
                ptr::null::<c_void>(),
                0,
                CreateFileTypeNone,
                ptr::null(),
                0,
            )
        };
        if status >= 0 {
            // SAFETY: `handle` is the kernel handle IoCreateFile just opened; closed once.
            unsafe { ObCloseHandle(handle, KERNEL_MODE) };
        }
        status
    }
}

/// The C memory routines the compiler calls (`memcpy` for struct and slice copies, and so on).
///
/// compiler-builtins does not provide them on `*-windows-msvc` targets (it expects a C runtime),
/// and a driver links none; ntoskrnl.exe exports all four. (In the windows-drivers-rs flow they
/// come from the WDK's ntoskrnl.lib as well.) The linker keeps only the ones the code calls.
#[cfg(not(feature = "wdk"))]
#[allow(dead_code)] // Called by compiler-generated code, never by name from Rust.
mod crt {
    use core::ffi::c_void;

    #[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
    unsafe extern "C" {
        fn memcpy(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
        fn memmove(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
        fn memset(dest: *mut c_void, value: i32, count: usize) -> *mut c_void;
        fn memcmp(a: *const c_void, b: *const c_void, count: usize) -> i32;
    }
}

/// The negative builds that prove clfs-imgcheck and the no-panic proof reject what they must.
#[cfg(any(feature = "trap-dbgprint", feature = "prove-panic-check"))]
mod trap {
    /// Calls windows-sys's `DbgPrint`, which it declares as an **ntdll.dll** import: a kernel
    /// driver cannot import from ntdll.dll, and clfs-imgcheck must reject the image.
    #[cfg(feature = "trap-dbgprint")]
    pub(super) fn dbgprint_from_ntdll() {
        // SAFETY: a NUL-terminated format without conversions. (Never loaded: the image this
        // feature produces is rejected by clfs-imgcheck and by the kernel loader.)
        unsafe { windows_sys::Wdk::System::SystemServices::DbgPrint(c"trap\n".as_ptr().cast()) };
    }

    /// A panic the optimizer cannot prove unreachable.
    #[cfg(feature = "prove-panic-check")]
    #[allow(clippy::panic)]
    pub(super) fn reachable_panic() {
        if core::hint::black_box(true) {
            panic!("prove-panic-check: this panic path must be detected");
        }
    }
}

/// The panic handler of the driver image built without the windows-drivers-rs crates.
///
/// A panic in the kernel would be a bugcheck, and `clfs` promises none. This handler turns
/// the promise into a link-time proof: it calls a function that exists nowhere. In the release
/// build (fat LTO, see Cargo.toml) the handler is only kept if some panic path can reach it,
/// so the link fails with `undefined symbol: a_panic_path_survived_into_the_driver_image`
/// exactly when a panic is reachable. The `prove-panic-check` feature adds one, and
/// samples/build-driver.sh asserts that this build fails to link with that error.
///
/// Only for release builds: without LTO (a dev build, or Cargo's non-LTO handling of a library
/// that is also an rlib) core's panic machinery is linked as is, and the link fails whatever
/// the code does.
#[cfg(not(feature = "wdk"))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "Rust" {
        /// Defined nowhere, on purpose.
        fn a_panic_path_survived_into_the_driver_image() -> !;
    }
    // SAFETY: never executed: an image in which this call is reachable does not link.
    unsafe { a_panic_path_survived_into_the_driver_image() }
}

/// The windows-drivers-rs flow: wdk-panic is the panic handler, wdk-alloc the global allocator.
#[cfg(feature = "wdk")]
mod wdk_flow {
    extern crate wdk_panic;

    #[global_allocator]
    static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;
}
