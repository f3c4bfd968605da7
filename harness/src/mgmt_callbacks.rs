//! Adapters for a driver's CLFS management callbacks (`ClfsMgmtRegisterManagedClient`).
//!
//! The driver's registration holds **win64** callbacks, each with its own context pointer;
//! the emulator calls `extern "system"` (SysV on Linux) callbacks. Each registered callback
//! gets a heap cell holding the win64 function and the driver's context; the emulator is
//! given a SysV trampoline and the cell as the context. The cells live until
//! `ClfsMgmtDeregisterManagedClient` succeeds, after which the emulator guarantees no
//! callback of that client runs, so freeing them then is sound.
//!
//! The emulator calls these callbacks from its own worker threads (and, for a pinned log,
//! from the thread in `ClfsMgmtHandleLogFileFull`), as Clfs.sys does.

use core::ffi::c_void;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use clfs_emu::types::{CLFS_MGMT_CLIENT_REGISTRATION, CLS_LSN, FILE_OBJECT, NTSTATUS};

use crate::clfs_thunks::Arg;

/// The driver's AdvanceTail callback (win64).
pub type Win64AdvanceTail = Option<
    unsafe extern "win64" fn(
        logfile: *const FILE_OBJECT,
        targetlsn: *const CLS_LSN,
        clientdata: *const c_void,
    ) -> NTSTATUS,
>;
/// The driver's LogGrowthComplete callback (win64); `LogIsPinned` is a `BOOLEAN` byte.
pub type Win64GrowthComplete = Option<
    unsafe extern "win64" fn(
        logfile: *const FILE_OBJECT,
        operationstatus: NTSTATUS,
        logispinned: u8,
        clientdata: *const c_void,
    ),
>;
/// The driver's LogUnpinned callback (win64).
pub type Win64Unpinned =
    Option<unsafe extern "win64" fn(logfile: *const FILE_OBJECT, clientdata: *const c_void)>;
/// The driver's SetLogFileSize completion routine (win64). The emulator never calls it
/// (its resize never returns PENDING), so the thunk passes NULL on.
pub type Win64SetSizeComplete = Option<
    unsafe extern "win64" fn(
        logfile: *const FILE_OBJECT,
        operationstatus: NTSTATUS,
        clientdata: *const c_void,
    ),
>;

impl Arg for Win64SetSizeComplete {
    type Emu = clfs_emu::types::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK;
    fn emu(self) -> Self::Emu {
        None
    }
}

/// `CLFS_MGMT_CLIENT_REGISTRATION` as the driver fills it (56 bytes, win64 callbacks).
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(non_snake_case)]
pub struct Win64Registration {
    /// `CLFS_MGMT_CLIENT_REGISTRATION_VERSION`.
    pub Version: u32,
    /// AdvanceTail.
    pub AdvanceTailCallback: Win64AdvanceTail,
    /// Its context.
    pub AdvanceTailCallbackData: *mut c_void,
    /// LogGrowthComplete.
    pub LogGrowthCompleteCallback: Win64GrowthComplete,
    /// Its context.
    pub LogGrowthCompleteCallbackData: *mut c_void,
    /// LogUnpinned.
    pub LogUnpinnedCallback: Win64Unpinned,
    /// Its context.
    pub LogUnpinnedCallbackData: *mut c_void,
}

const _: () = assert!(core::mem::size_of::<Win64Registration>() == 56);

/// One callback cell: the driver's win64 function and its context.
struct Cell<F> {
    f: F,
    data: *const c_void,
}

/// The cells of one registered client.
struct Cells {
    _advance: Option<Box<Cell<Win64AdvanceTail>>>,
    _growth: Option<Box<Cell<Win64GrowthComplete>>>,
    _unpinned: Option<Box<Cell<Win64Unpinned>>>,
}

// SAFETY: the cells are only read by the trampolines (the context pointer is the driver's,
// which the C contract lets CLFS use from any thread) and freed after deregistration.
unsafe impl Send for Cells {}

static CLIENTS: LazyLock<Mutex<HashMap<usize, Cells>>> = LazyLock::new(Mutex::default);

/// SysV trampoline of AdvanceTail.
///
/// # Safety
/// `data` is a live `Cell<Win64AdvanceTail>` of a registered client.
unsafe extern "system" fn advance_tail(
    logfile: *const FILE_OBJECT,
    target: *const CLS_LSN,
    data: *const c_void,
) -> NTSTATUS {
    // SAFETY: the emulator passes back the cell it was given; it lives until deregistration.
    let c = unsafe { &*data.cast::<Cell<Win64AdvanceTail>>() };
    match c.f {
        // SAFETY: the driver's callback (a win64 function of this type) with the documented
        // arguments and its own context, run on the driver's 24 KiB stack.
        Some(f) => unsafe {
            crate::verifier::stack::call_driver(
                0,
                f as usize,
                [logfile as u64, target as u64, c.data as u64, 0],
                crate::verifier::stack::Routine::Management("AdvanceTail"),
            ) as u32 as NTSTATUS
        },
        None => clfs_emu::status::STATUS_INVALID_PARAMETER,
    }
}

/// SysV trampoline of LogGrowthComplete.
///
/// # Safety
/// `data` is a live `Cell<Win64GrowthComplete>` of a registered client.
unsafe extern "system" fn growth_complete(
    logfile: *const FILE_OBJECT,
    status: NTSTATUS,
    pinned: u8,
    data: *const c_void,
) {
    // SAFETY: as in `advance_tail`.
    let c = unsafe { &*data.cast::<Cell<Win64GrowthComplete>>() };
    if let Some(f) = c.f {
        // SAFETY: as in `advance_tail`.
        unsafe {
            crate::verifier::stack::call_driver(
                0,
                f as usize,
                [
                    logfile as u64,
                    u64::from(status as u32),
                    u64::from(pinned),
                    c.data as u64,
                ],
                crate::verifier::stack::Routine::Management("LogGrowthComplete"),
            )
        };
    }
}

/// SysV trampoline of LogUnpinned.
///
/// # Safety
/// `data` is a live `Cell<Win64Unpinned>` of a registered client.
unsafe extern "system" fn unpinned(logfile: *const FILE_OBJECT, data: *const c_void) {
    // SAFETY: as in `advance_tail`.
    let c = unsafe { &*data.cast::<Cell<Win64Unpinned>>() };
    if let Some(f) = c.f {
        // SAFETY: as in `advance_tail`.
        unsafe {
            crate::verifier::stack::call_driver(
                0,
                f as usize,
                [logfile as u64, c.data as u64, 0, 0],
                crate::verifier::stack::Routine::Management("LogUnpinned"),
            )
        };
    }
}

fn cell<F>(f: F, data: *mut c_void, some: bool) -> Option<Box<Cell<F>>> {
    some.then(|| Box::new(Cell { f, data }))
}

fn ctx<F>(c: &Option<Box<Cell<F>>>) -> *mut c_void {
    c.as_ref().map_or(core::ptr::null_mut(), |b| {
        (&**b as *const Cell<F>).cast_mut().cast()
    })
}

/// `ClfsMgmtRegisterManagedClient` for a driver: translates the win64 registration.
///
/// # Safety
/// The driver's documented arguments.
pub unsafe extern "system" fn register_managed_client(
    logfile: *const FILE_OBJECT,
    reg: *const CLFS_MGMT_CLIENT_REGISTRATION,
    cookie: *mut *mut c_void,
) -> NTSTATUS {
    // The driver's struct has the same layout with win64 callbacks.
    let reg = reg.cast::<Win64Registration>();
    if reg.is_null() {
        // SAFETY: the emulator validates the NULL registration itself.
        return unsafe {
            clfs_emu::ClfsMgmtRegisterManagedClient(logfile, core::ptr::null(), cookie)
        };
    }
    // SAFETY: non-null; the driver passes a readable registration.
    let r = unsafe { reg.read_unaligned() };
    let cells = Cells {
        _advance: cell(
            r.AdvanceTailCallback,
            r.AdvanceTailCallbackData,
            r.AdvanceTailCallback.is_some(),
        ),
        _growth: cell(
            r.LogGrowthCompleteCallback,
            r.LogGrowthCompleteCallbackData,
            r.LogGrowthCompleteCallback.is_some(),
        ),
        _unpinned: cell(
            r.LogUnpinnedCallback,
            r.LogUnpinnedCallbackData,
            r.LogUnpinnedCallback.is_some(),
        ),
    };
    let sysv = CLFS_MGMT_CLIENT_REGISTRATION {
        Version: r.Version,
        AdvanceTailCallback: cells._advance.as_ref().map(|_| advance_tail as _),
        AdvanceTailCallbackData: ctx(&cells._advance),
        LogGrowthCompleteCallback: cells._growth.as_ref().map(|_| growth_complete as _),
        LogGrowthCompleteCallbackData: ctx(&cells._growth),
        LogUnpinnedCallback: cells._unpinned.as_ref().map(|_| unpinned as _),
        LogUnpinnedCallbackData: ctx(&cells._unpinned),
    };
    // Hold the table while registering, so a callback cannot outrun the bookkeeping.
    let mut t = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut out: *mut c_void = core::ptr::null_mut();
    // SAFETY: `sysv` is a valid registration whose contexts live until deregistration.
    let st = unsafe { clfs_emu::ClfsMgmtRegisterManagedClient(logfile, &sysv, &mut out) };
    if st >= 0 {
        t.insert(out as usize, cells);
        if !cookie.is_null() {
            // SAFETY: non-null; the driver passes a writable cookie pointer.
            unsafe { cookie.write_unaligned(out) };
        }
    }
    st
}

/// `ClfsMgmtDeregisterManagedClient` for a driver: frees the client's cells once no callback
/// can run any more.
///
/// # Safety
/// The driver's documented arguments.
pub unsafe extern "system" fn deregister_managed_client(cookie: *const c_void) -> NTSTATUS {
    // SAFETY: forwarded.
    let st = unsafe { clfs_emu::ClfsMgmtDeregisterManagedClient(cookie) };
    if st >= 0 {
        CLIENTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(cookie as usize));
    }
    st
}
