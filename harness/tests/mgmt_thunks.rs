//! The loader's `ClfsMgmt*` thunks: a driver's win64 callbacks are called from the emulator's
//! threads with the win64 ABI and their own context pointers, and never after deregistration.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use core::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clfs::{
    wide, ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig, NtStatus,
};
use clfs_emu::types::{CLFS_MGMT_CLIENT_REGISTRATION, CLFS_MGMT_POLICY, CLS_LSN, FILE_OBJECT};
use clfs_emu::Sandbox;
use clfs_harness::clfs_thunks::thunk;
use clfs_harness::mgmt_callbacks::Win64Registration;

/// One test at a time: the callbacks record into statics.
static SERIAL: Mutex<()> = Mutex::new(());

static ADVANCE_CALLS: AtomicU32 = AtomicU32::new(0);
static ADVANCE_DATA: AtomicUsize = AtomicUsize::new(0);
static ADVANCE_TARGET: AtomicU64 = AtomicU64::new(0);
static GROWTH_CALLS: AtomicU32 = AtomicU32::new(0);
static GROWTH_STATUS: AtomicI32 = AtomicI32::new(1);
static GROWTH_PINNED: AtomicU8 = AtomicU8::new(0xFF);
static GROWTH_DATA: AtomicUsize = AtomicUsize::new(0);
static MAIN_THREAD: Mutex<Option<std::thread::ThreadId>> = Mutex::new(None);
static OTHER_THREAD_CALLS: AtomicU32 = AtomicU32::new(0);

const CTX_ADVANCE: usize = 0xA1;
const CTX_GROWTH: usize = 0xB2;
const CTX_UNPINNED: usize = 0xC3;

fn on_other_thread() {
    if Some(std::thread::current().id()) != *MAIN_THREAD.lock().unwrap() {
        OTHER_THREAD_CALLS.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe extern "win64" fn advance_tail(
    _log: *const FILE_OBJECT,
    target: *const CLS_LSN,
    data: *const c_void,
) -> i32 {
    on_other_thread();
    ADVANCE_DATA.store(data as usize, Ordering::SeqCst);
    // SAFETY: the emulator passes a valid LSN for the call.
    ADVANCE_TARGET.store(unsafe { (*target).Internal }, Ordering::SeqCst);
    ADVANCE_CALLS.fetch_add(1, Ordering::SeqCst);
    NtStatus::PENDING.0
}

unsafe extern "win64" fn growth_complete(
    _log: *const FILE_OBJECT,
    status: i32,
    pinned: u8,
    data: *const c_void,
) {
    on_other_thread();
    GROWTH_STATUS.store(status, Ordering::SeqCst);
    GROWTH_PINNED.store(pinned, Ordering::SeqCst);
    GROWTH_DATA.store(data as usize, Ordering::SeqCst);
    GROWTH_CALLS.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "win64" fn unpinned(_log: *const FILE_OBJECT, _data: *const c_void) {}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    // A bound only a broken emulator reaches, never a busy CI machine.
    let end = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < end, "{what} never happened");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn fill(area: &MarshallingArea<'_, ClfsAllocator>) {
    let rec = [1u8; 8000];
    loop {
        match area.append(&[&rec]) {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.status(), Some(NtStatus::LOG_FULL), "{e}");
                return;
            }
        }
    }
}

#[test]
fn driver_callbacks_run_with_the_win64_abi_on_emulator_threads() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    *MAIN_THREAD.lock().unwrap() = Some(std::thread::current().id());
    let sb = Sandbox::new();
    let log = LogFile::create(
        wide!("log:C:\\h\\mgmt"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    let lf = log.as_raw().cast_const();
    let (zero, mut now) = (0u64, 0u64);
    let mut max = CLFS_MGMT_POLICY {
        Version: 1,
        LengthInBytes: 24,
        PolicyType: 0,
        ..Default::default()
    };
    max.PolicyParameters.MaximumSize.Containers = 3;
    // SAFETY: the thunks with valid arguments, as a driver would call them (the Rust test
    // calls the win64 functions with the win64 ABI).
    unsafe {
        assert_eq!(
            thunk::ClfsMgmtSetLogFileSize(lf, &zero, &mut now, None, core::ptr::null()),
            0
        );
    }
    assert_eq!(now, 2);
    // SAFETY: as above.
    assert_eq!(unsafe { thunk::ClfsMgmtInstallPolicy(lf, &max, 24) }, 0);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let reg = Win64Registration {
        Version: 1,
        AdvanceTailCallback: Some(advance_tail),
        AdvanceTailCallbackData: core::ptr::without_provenance_mut(CTX_ADVANCE),
        LogGrowthCompleteCallback: Some(growth_complete),
        LogGrowthCompleteCallbackData: core::ptr::without_provenance_mut(CTX_GROWTH),
        LogUnpinnedCallback: Some(unpinned),
        LogUnpinnedCallbackData: core::ptr::without_provenance_mut(CTX_UNPINNED),
    };
    let mut cookie: *mut c_void = core::ptr::null_mut();
    // SAFETY: the driver's registration (win64 callbacks), passed as the thunk's C type.
    let st = unsafe {
        thunk::ClfsMgmtRegisterManagedClient(
            lf,
            (&reg as *const Win64Registration).cast::<CLFS_MGMT_CLIENT_REGISTRATION>(),
            &mut cookie,
        )
    };
    assert_eq!(st, 0);

    // Full: the log grows to its maximum, and LogGrowthComplete reports it.
    fill(&area);
    // SAFETY: a registered cookie.
    let st = unsafe { thunk::ClfsMgmtHandleLogFileFull(cookie) };
    assert_eq!(st, NtStatus::PENDING.0);
    wait_for("LogGrowthComplete", || {
        GROWTH_CALLS.load(Ordering::SeqCst) == 1
    });
    assert_eq!(GROWTH_STATUS.load(Ordering::SeqCst), 0);
    assert_eq!(GROWTH_PINNED.load(Ordering::SeqCst), 0);
    assert_eq!(GROWTH_DATA.load(Ordering::SeqCst), CTX_GROWTH);
    assert_eq!(log.info().unwrap().containers, 3);

    // Full at the maximum: AdvanceTail runs; moving the base completes the request.
    fill(&area);
    // SAFETY: as above.
    let st = unsafe { thunk::ClfsMgmtHandleLogFileFull(cookie) };
    assert_eq!(st, NtStatus::PENDING.0);
    wait_for("AdvanceTail", || ADVANCE_CALLS.load(Ordering::SeqCst) == 1);
    assert_eq!(ADVANCE_DATA.load(Ordering::SeqCst), CTX_ADVANCE);
    let target = clfs::Lsn::from_raw(ADVANCE_TARGET.load(Ordering::SeqCst));
    area.advance_base(target).unwrap();
    wait_for("the second LogGrowthComplete", || {
        GROWTH_CALLS.load(Ordering::SeqCst) == 2
    });
    assert_eq!(GROWTH_STATUS.load(Ordering::SeqCst), 0);
    assert_eq!(OTHER_THREAD_CALLS.load(Ordering::SeqCst), 3);

    // SAFETY: as above.
    assert_eq!(unsafe { thunk::ClfsMgmtDeregisterManagedClient(cookie) }, 0);
    // No callback after deregistration: the cookie is gone.
    // SAFETY: a stale cookie is never dereferenced.
    let st = unsafe { thunk::ClfsMgmtHandleLogFileFull(cookie) };
    assert_eq!(st, NtStatus::INVALID_PARAMETER_1.0);
    assert_eq!(GROWTH_CALLS.load(Ordering::SeqCst), 2);
    assert_eq!(ADVANCE_CALLS.load(Ordering::SeqCst), 1);
    drop(area);
    drop(log);
    assert!(sb.stats().leaks().is_empty(), "{:?}", sb.stats().leaks());
}
