//! A sandbox dropped from inside one of its own management callbacks (on its worker thread):
//! the drop must not wait for that very thread (a deadlock), the callback returns, the worker
//! ends after its item, and nothing aborts.
//!
//! One test in its own file: it reads the process-wide count of worker threads.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use core::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clfs_emu::status::*;
use clfs_emu::types::*;
use clfs_emu::*;
use common::*;

static SANDBOX: Mutex<Option<Sandbox>> = Mutex::new(None);
static CALLED: AtomicU32 = AtomicU32::new(0);
static RETURNED: AtomicU32 = AtomicU32::new(0);

unsafe extern "system" fn drop_my_sandbox(
    _log: *const FILE_OBJECT,
    _target: *const CLS_LSN,
    _data: *const c_void,
) -> NTSTATUS {
    CALLED.fetch_add(1, Ordering::SeqCst);
    let sb = SANDBOX.lock().unwrap().take();
    drop(sb);
    RETURNED.fetch_add(1, Ordering::SeqCst);
    STATUS_PENDING
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    // A bound only a broken emulator reaches, never a busy CI machine.
    let end = Instant::now() + Duration::from_secs(120);
    while !f() {
        assert!(Instant::now() < end, "{what} never happened");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_sandbox_dropped_inside_its_own_callback_ends_its_worker() {
    assert_eq!(mgmt_worker_threads(), 0);
    let sb = Sandbox::new();
    let root = sb.root().to_path_buf();
    let h = log_with_containers("log:selfdrop", 2);
    let a = area(h, 64 * 1024, 2, 2).unwrap();
    let rec = [5u8; 8000];
    for n in 0.. {
        assert!(n < 10_000, "the log never filled");
        match append_ex(a, &rec, CLFS_LSN_INVALID, 0) {
            Ok(_) => {}
            Err(s) => {
                assert_eq!(s, STATUS_LOG_FULL);
                break;
            }
        }
    }
    let reg = CLFS_MGMT_CLIENT_REGISTRATION {
        Version: 1,
        AdvanceTailCallback: Some(drop_my_sandbox),
        AdvanceTailCallbackData: core::ptr::null_mut(),
        LogGrowthCompleteCallback: None,
        LogGrowthCompleteCallbackData: core::ptr::null_mut(),
        LogUnpinnedCallback: None,
        LogUnpinnedCallbackData: core::ptr::null_mut(),
    };
    let mut cookie: *mut c_void = core::ptr::null_mut();
    // SAFETY: valid registration and out pointer; the callback needs no context.
    let st = unsafe { ClfsMgmtRegisterManagedClient(h, &reg, &mut cookie) };
    assert_eq!(st, 0);
    *SANDBOX.lock().unwrap() = Some(sb);
    // No maximum size: no growth, so the worker asks the client to advance its tail, and the
    // callback drops the sandbox.
    // SAFETY: the cookie is registered.
    assert_eq!(unsafe { ClfsMgmtHandleLogFileFull(cookie) }, STATUS_PENDING);
    wait_for("the callback's return", || {
        RETURNED.load(Ordering::SeqCst) == 1
    });
    assert_eq!(CALLED.load(Ordering::SeqCst), 1);
    assert!(SANDBOX.lock().unwrap().is_none());
    wait_for("the end of the worker thread", || {
        mgmt_worker_threads() == 0
    });
    assert!(!root.exists(), "the sandbox's directory went with it");
}
