//! The driver plumbing: `DriverEntry`, the unload routine, the driver's global state, its
//! debug output and (outside the windows-drivers-rs flow) its panic handler.
//!
//! IRQL: `DriverEntry` and the unload routine run at PASSIVE_LEVEL in the system process; the
//! I/O manager never runs them concurrently, and calls the unload routine only after
//! `DriverEntry` returned success.

use core::cell::UnsafeCell;

use windows_sys::Wdk::Foundation::DRIVER_OBJECT;
use windows_sys::Win32::Foundation::{NTSTATUS, STATUS_SUCCESS, UNICODE_STRING};

use crate::logic::{self, LogSlot, Running, StartError};

/// The log, borrowed for `'static` by the marshalling area in [`SESSION`].
static LOG: LogSlot = LogSlot::new();

/// The running session, from a successful `DriverEntry` to the unload routine.
static SESSION: Session = Session(UnsafeCell::new(None));

/// Holder of the [`Running`] session between `DriverEntry` and unload.
///
/// # Invariants
/// Only `DriverEntry` and `driver_unload` access the cell.
struct Session(UnsafeCell<Option<Running>>);

// SAFETY: only DriverEntry and the unload routine touch the cell (type invariant), and the I/O
// manager serializes them: the unload routine runs only after DriverEntry returned
// STATUS_SUCCESS and never concurrently with it. `Running` is `Send` (its parts are `Send`),
// so moving it from one system thread to another is fine.
unsafe impl Sync for Session {}

impl Session {
    /// Stores the running session.
    ///
    /// # Safety
    /// Called from `DriverEntry` only (see the type's invariant).
    unsafe fn set(&self, running: Running) {
        let cell = self.0.get();
        // SAFETY: the caller is DriverEntry, which no other access to the cell can overlap.
        let slot = unsafe { &mut *cell };
        *slot = Some(running);
    }

    /// Takes the running session out.
    ///
    /// # Safety
    /// Called from the unload routine only (see the type's invariant).
    unsafe fn take(&self) -> Option<Running> {
        let cell = self.0.get();
        // SAFETY: the caller is the unload routine, which no other access to the cell can
        // overlap.
        let slot = unsafe { &mut *cell };
        slot.take()
    }
}

/// `STATUS_UNSUCCESSFUL`, for refusals that carry no NTSTATUS of their own.
const STATUS_UNSUCCESSFUL: NTSTATUS = 0xC000_0001_u32 as NTSTATUS;

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
    let running = match logic::start(
        &LOG,
        logic::LOG_NAME,
        logic::CONTAINERS,
        logic::CONTAINER_SIZE,
    ) {
        Ok(running) => running,
        Err(e) => {
            let status = failure_status(&e);
            debug::start_failed(status);
            // Everything acquired was released by `start`; the driver is not loaded, so no
            // unload routine runs.
            return status;
        }
    };
    debug::started(running.startup_lsn());
    // SAFETY: this is DriverEntry.
    unsafe { SESSION.set(running) };
    // SAFETY: the I/O manager passes a valid, writable driver object that we may set up
    // until DriverEntry returns.
    let driver = unsafe { &mut *driver };
    driver.DriverUnload = Some(driver_unload);
    STATUS_SUCCESS
}

/// The unload routine: flush, restart area, delete the area, close the log.
///
/// # Safety
/// Called by the I/O manager only, at PASSIVE_LEVEL, after a successful `DriverEntry`.
unsafe extern "system" fn driver_unload(_driver: *const DRIVER_OBJECT) {
    // SAFETY: this is the unload routine.
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
