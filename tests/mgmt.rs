//! CLFS management (`ClfsMgmt*`, reference §1.9): every documented status of every routine,
//! the safe API's refusals, the callbacks (when they fire, and never after deregistration),
//! volatile policies, and a stress test of a managed log that must grow and recycle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use core::ffi::c_void;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use clfs::mgmt::{
    ErrorStatus, Growth, InstallMode, LogFullOutcome, LogSize, ManagedClient, ManagementCallbacks,
    Policy, PolicyBuf, PolicyKind, TailAdvance, TailTarget,
};
use clfs::{sys, ClfsAllocator, Error, LogFile, Lsn, MarshallingArea, MarshallingConfig, NtStatus};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with, w};

fn raw_policy(kind: i32, a: u32, flags: u32) -> sys::CLFS_MGMT_POLICY {
    let mut p = sys::CLFS_MGMT_POLICY {
        Version: 1,
        LengthInBytes: 24,
        PolicyFlags: flags,
        PolicyType: kind,
        ..Default::default()
    };
    p.PolicyParameters.MaximumSize.Containers = a;
    p
}

type Growths = Mutex<Vec<(Result<(), NtStatus>, bool, std::thread::ThreadId)>>;

/// The raw routines, for status tests with NULL or bogus arguments. The emulator checks
/// every pointer before use and never dereferences cookies or handles.
mod raw {
    use clfs::sys;
    use core::ffi::c_void;

    macro_rules! raw {
        ($($name:ident($($a:ident: $t:ty),*);)*) => {$(
            #[allow(non_snake_case, clippy::too_many_arguments)]
            pub fn $name($($a: $t),*) -> i32 {
                // SAFETY: the tests pass NULL, bogus cookies (never dereferenced) or pointers
                // to live locals of the right type and size.
                unsafe { sys::$name($($a),*) }
            }
        )*};
    }
    raw! {
        ClfsMgmtInstallPolicy(l: sys::PLOG_FILE_OBJECT, p: *const sys::CLFS_MGMT_POLICY, n: u32);
        ClfsMgmtQueryPolicy(l: sys::PLOG_FILE_OBJECT, k: i32, p: *mut sys::CLFS_MGMT_POLICY, n: *mut u32);
        ClfsMgmtRemovePolicy(l: sys::PLOG_FILE_OBJECT, k: i32);
        ClfsMgmtSetLogFileSize(l: sys::PLOG_FILE_OBJECT, n: *const u64, r: *mut u64, c: sys::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK, d: *const c_void);
        ClfsMgmtSetLogFileSizeAsClient(l: sys::PLOG_FILE_OBJECT, k: *const *const c_void, n: *const u64, r: *mut u64, c: sys::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK, d: *const c_void);
        ClfsMgmtRegisterManagedClient(l: sys::PLOG_FILE_OBJECT, r: *const sys::CLFS_MGMT_CLIENT_REGISTRATION, k: *mut *mut c_void);
        ClfsMgmtDeregisterManagedClient(k: *const c_void);
        ClfsMgmtHandleLogFileFull(k: *const c_void);
        ClfsMgmtTailAdvanceFailure(k: *const c_void, r: i32);
    }
}

fn st(raw: i32) -> NtStatus {
    NtStatus(raw)
}

// ---------------------------------------------------------------------------------------------
// Policies

#[test]
fn every_policy_round_trips_and_is_volatile() {
    let sb = Sandbox::new();
    let shared = clfs::LogOptions::new()
        .create_if_missing()
        .share(clfs::Share::READ | clfs::Share::WRITE);
    let log = LogFile::create(&w("log:C:\\t\\pol"), shared).unwrap();
    log.add_containers(&[&w("%BLF%\\p0"), &w("%BLF%\\p1")], 512 * 1024)
        .unwrap();
    let prefix = w("%BLF%\\grown");
    let ext = w("dat");
    let all = [
        Policy::MaximumSize { containers: 9 },
        Policy::MinimumSize { containers: 3 },
        Policy::NewContainerSize { bytes: 1 << 20 },
        Policy::GrowthRate(Growth::Percent(10)),
        Policy::LogTail(TailTarget::Containers(1)),
        Policy::AutoShrink { percent: 80 },
        Policy::AutoGrow { enabled: true },
        Policy::NewContainerPrefix(&prefix),
        Policy::NewContainerSuffix { next: 42 },
        Policy::NewContainerExtension(&ext),
    ];
    let mut buf = PolicyBuf::new();
    for p in &all {
        assert_eq!(log.query_policy(p.kind(), &mut buf).unwrap(), None);
        log.install_policy(p, InstallMode::KeepExisting).unwrap();
        assert_eq!(log.query_policy(p.kind(), &mut buf).unwrap(), Some(*p));
    }
    assert_eq!(sb.stats().policies, 10);
    // A second handle keeps them; closing the last handle loses them (volatile).
    let second = LogFile::create(&w("log:C:\\t\\pol"), shared).unwrap();
    drop(log);
    assert_eq!(
        second
            .query_policy(PolicyKind::MaximumSize, &mut buf)
            .unwrap(),
        Some(Policy::MaximumSize { containers: 9 })
    );
    drop(second);
    assert_eq!(sb.stats().policies, 0);
    let log = LogFile::create(&w("log:C:\\t\\pol"), clfs::LogOptions::new()).unwrap();
    for k in PolicyKind::ALL {
        assert_eq!(log.query_policy(k, &mut buf).unwrap(), None, "{k:?}");
    }
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn overwrite_semantics_and_removal() {
    let sb = Sandbox::new();
    let log = log_with("ovw", 2);
    let p = Policy::GrowthRate(Growth::Containers(2));
    log.install_policy(&p, InstallMode::KeepExisting).unwrap();
    let e = log
        .install_policy(
            &Policy::GrowthRate(Growth::Containers(3)),
            InstallMode::KeepExisting,
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::LOG_POLICY_ALREADY_INSTALLED));
    let mut buf = PolicyBuf::new();
    assert_eq!(
        log.query_policy(PolicyKind::GrowthRate, &mut buf).unwrap(),
        Some(p)
    );
    log.install_policy(
        &Policy::GrowthRate(Growth::Containers(3)),
        InstallMode::Overwrite,
    )
    .unwrap();
    assert_eq!(
        log.query_policy(PolicyKind::GrowthRate, &mut buf).unwrap(),
        Some(Policy::GrowthRate(Growth::Containers(3)))
    );
    // OVERWRITE also installs a policy that is not there yet.
    log.install_policy(&Policy::AutoShrink { percent: 50 }, InstallMode::Overwrite)
        .unwrap();
    assert_eq!(sb.stats().policies, 2);
    log.remove_policy(PolicyKind::GrowthRate).unwrap();
    let e = log.remove_policy(PolicyKind::GrowthRate).unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::LOG_POLICY_NOT_INSTALLED));
    assert_eq!(sb.stats().policies, 1);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn install_query_remove_statuses() {
    let sb = Sandbox::new();
    let log = log_with("pst", 2);
    let lf = log.as_raw();
    let good = raw_policy(sys::ClfsMgmtPolicyMaximumSize, 4, 0);
    // Raw calls (through `raw`) with valid or deliberately NULL/bogus arguments.
    {
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(core::ptr::null_mut(), &good, 24)),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, core::ptr::null(), 24)),
            NtStatus::INVALID_PARAMETER_2
        );
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &good, 23)),
            NtStatus::INVALID_PARAMETER_3
        );
        let mut bad = good;
        bad.Version = 2;
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &bad, 24)),
            NtStatus::INVALID_PARAMETER
        );
        let bad = raw_policy(sys::ClfsMgmtPolicyInvalid, 4, 0);
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &bad, 24)),
            NtStatus::INVALID_PARAMETER
        );
        // The documented flags conflict, decided: PERSIST (defined, unsupported) ->
        // NOT_SUPPORTED; an undefined flag -> INVALID_PARAMETER.
        let bad = raw_policy(sys::ClfsMgmtPolicyMaximumSize, 4, sys::LOG_POLICY_PERSIST);
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &bad, 24)),
            NtStatus::NOT_SUPPORTED
        );
        let bad = raw_policy(sys::ClfsMgmtPolicyMaximumSize, 4, 0x10);
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &bad, 24)),
            NtStatus::INVALID_PARAMETER
        );
        // GrowthRate with both fields set breaks "exactly one".
        let mut bad = raw_policy(sys::ClfsMgmtPolicyGrowthRate, 1, 0);
        bad.PolicyParameters.GrowthRate.RelativeGrowthPercentage = 5;
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &bad, 24)),
            NtStatus::INVALID_PARAMETER
        );
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &good, 24)),
            NtStatus::SUCCESS
        );
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &good, 24)),
            NtStatus::LOG_POLICY_ALREADY_INSTALLED
        );
        let ovw = raw_policy(sys::ClfsMgmtPolicyMaximumSize, 5, sys::LOG_POLICY_OVERWRITE);
        assert_eq!(
            st(raw::ClfsMgmtInstallPolicy(lf, &ovw, 24)),
            NtStatus::SUCCESS
        );

        let mut out = sys::CLFS_MGMT_POLICY::default();
        let mut len = 24u32;
        assert_eq!(
            st(raw::ClfsMgmtQueryPolicy(
                core::ptr::null_mut(),
                0,
                &mut out,
                &mut len
            )),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtQueryPolicy(lf, 10, &mut out, &mut len)),
            NtStatus::INVALID_PARAMETER
        );
        let mut short = 16u32;
        assert_eq!(
            st(raw::ClfsMgmtQueryPolicy(lf, 0, &mut out, &mut short)),
            NtStatus::INVALID_PARAMETER_2
        );
        assert_eq!(
            st(raw::ClfsMgmtQueryPolicy(lf, 1, &mut out, &mut len)),
            NtStatus::LOG_POLICY_NOT_INSTALLED
        );
        assert_eq!(
            st(raw::ClfsMgmtQueryPolicy(lf, 0, &mut out, &mut len)),
            NtStatus::SUCCESS
        );
        // SAFETY: every union member is plain integers; the emulator wrote a MaximumSize.
        let containers = unsafe { out.PolicyParameters.MaximumSize.Containers };
        assert_eq!((len, containers), (24, 5));
        assert_eq!(out.PolicyFlags, sys::LOG_POLICY_OVERWRITE);

        assert_eq!(
            st(raw::ClfsMgmtRemovePolicy(core::ptr::null_mut(), 0)),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtRemovePolicy(lf, -1)),
            NtStatus::INVALID_PARAMETER
        );
        assert_eq!(
            st(raw::ClfsMgmtRemovePolicy(lf, 1)),
            NtStatus::LOG_POLICY_NOT_INSTALLED
        );
        assert_eq!(st(raw::ClfsMgmtRemovePolicy(lf, 0)), NtStatus::SUCCESS);
    }
    // Injected faults reach every management routine.
    clfs_emu::faults::fail_call(
        "ClfsMgmtInstallPolicy",
        1,
        NtStatus::INSUFFICIENT_RESOURCES.0,
    );
    let e = log
        .install_policy(&Policy::AutoGrow { enabled: true }, InstallMode::Overwrite)
        .unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::INSUFFICIENT_RESOURCES));
    clfs_emu::faults::fail_call("ClfsMgmtQueryPolicy", 1, NtStatus::UNSUCCESSFUL.0);
    let mut buf = PolicyBuf::new();
    let e = log
        .query_policy(PolicyKind::AutoGrow, &mut buf)
        .unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::UNSUCCESSFUL));
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn bad_policy_values_are_refused_before_the_call() {
    let sb = Sandbox::new();
    let log = log_with("pref", 2);
    let long = vec![u16::from(b'x'); 261];
    let cases: [(Policy<'_>, &str); 7] = [
        (
            Policy::MaximumSize { containers: 1 },
            "MaximumSize policy must be between 2 and 1024 containers, got 1",
        ),
        (
            Policy::MinimumSize { containers: 1025 },
            "MinimumSize policy must be between 2 and 1024 containers, got 1025",
        ),
        (
            Policy::GrowthRate(Growth::Containers(0)),
            "GrowthRate policy must add at least 1 container, got 0",
        ),
        (
            Policy::LogTail(TailTarget::Percent(101)),
            "LogTail policy percentage must be at most 100, got 101",
        ),
        (
            Policy::AutoShrink { percent: 200 },
            "AutoShrink policy percentage must be at most 100, got 200",
        ),
        (
            Policy::NewContainerPrefix(&long),
            "NewContainerPrefix policy string must be at most 260 UTF-16 units long, got 261",
        ),
        (
            Policy::NewContainerSize { bytes: 0 },
            "NewContainerSize policy must be at least 1 byte, got 0",
        ),
    ];
    for (p, msg) in cases {
        let e = log.install_policy(&p, InstallMode::Overwrite).unwrap_err();
        assert!(e.refused_before_call());
        assert_eq!(e.to_string(), msg);
    }
    let e = log.set_log_file_size(LogSize::Containers(1)).unwrap_err();
    assert!(matches!(e, Error::InvalidLogSize { containers: 1 }));
    assert_eq!(sb.stats().calls("ClfsMgmtInstallPolicy"), 0);
    assert_eq!(sb.stats().calls("ClfsMgmtSetLogFileSize"), 0);
    drop(log);
    assert_no_leaks(&sb);
}

// ---------------------------------------------------------------------------------------------
// ClfsMgmtSetLogFileSize

#[test]
fn set_log_file_size_follows_the_documented_table() {
    let sb = Sandbox::new();
    let log = log_with("size", 0);
    // 0 without a minimum policy: grow to 2.
    let r = log.set_log_file_size(LogSize::EnforceMinimum).unwrap();
    assert_eq!((r.containers, r.complete), (2, true));
    assert_eq!(log.info().unwrap().containers, 2);
    // 0 with a minimum: grow to it; then a no-op.
    log.install_policy(
        &Policy::MinimumSize { containers: 3 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    assert_eq!(
        log.set_log_file_size(LogSize::EnforceMinimum)
            .unwrap()
            .containers,
        3
    );
    assert_eq!(
        log.set_log_file_size(LogSize::EnforceMinimum)
            .unwrap()
            .containers,
        3
    );
    // Below the minimum: STATUS_COULD_NOT_RESIZE_LOG (a warning), unchanged.
    let r = log.set_log_file_size(LogSize::Containers(2)).unwrap();
    assert_eq!((r.containers, r.complete), (3, false));
    // >= 1024 without a maximum: STATUS_LOG_POLICY_CONFLICT.
    let e = log.set_log_file_size(LogSize::Maximum).unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::LOG_POLICY_CONFLICT));
    // Above the maximum: grows to the maximum only.
    log.install_policy(
        &Policy::MaximumSize { containers: 5 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    assert_eq!(
        log.set_log_file_size(LogSize::Containers(9))
            .unwrap()
            .containers,
        5
    );
    assert_eq!(log.info().unwrap().containers, 5);
    // Shrinking removes free containers.
    assert_eq!(
        log.set_log_file_size(LogSize::Containers(4))
            .unwrap()
            .containers,
        4
    );
    log.remove_policy(PolicyKind::MaximumSize).unwrap();
    log.install_policy(
        &Policy::MaximumSize { containers: 6 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    assert_eq!(
        log.set_log_file_size(LogSize::Maximum).unwrap().containers,
        6
    );
    // Minimum above maximum: STATUS_LOG_POLICY_INVALID.
    log.install_policy(
        &Policy::MinimumSize { containers: 7 },
        InstallMode::Overwrite,
    )
    .unwrap();
    let e = log.set_log_file_size(LogSize::Containers(6)).unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::LOG_POLICY_INVALID));
    assert_eq!(sb.stats().mgmt_containers_added, 7);
    assert_eq!(sb.stats().mgmt_containers_removed, 1);

    let lf = log.as_raw();
    let one = 1u64;
    let mut out = 0u64;
    // Raw calls (through `raw`) with valid or deliberately NULL/bogus arguments.
    {
        assert_eq!(
            st(raw::ClfsMgmtSetLogFileSize(
                lf,
                &one,
                &mut out,
                None,
                core::ptr::null()
            )),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtSetLogFileSize(
                core::ptr::null_mut(),
                &one,
                &mut out,
                None,
                core::ptr::null()
            )),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtSetLogFileSize(
                lf,
                core::ptr::null(),
                &mut out,
                None,
                core::ptr::null()
            )),
            NtStatus::INVALID_PARAMETER_2
        );
        let bogus: *const c_void = 0x1234 as *const c_void;
        let two = 2u64;
        assert_eq!(
            st(raw::ClfsMgmtSetLogFileSizeAsClient(
                lf,
                &bogus,
                &two,
                &mut out,
                None,
                core::ptr::null()
            )),
            NtStatus::LOG_CLIENT_NOT_REGISTERED
        );
    }
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn new_containers_are_named_by_prefix_suffix_and_extension() {
    let sb = Sandbox::new();
    let log = log_with("names", 0);
    log.install_policy(
        &Policy::NewContainerSize { bytes: 1024 * 1024 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::NewContainerPrefix(&w("C:\\t\\grown\\part")),
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::NewContainerSuffix { next: 7 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::NewContainerExtension(&w("ctr")),
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.set_log_file_size(LogSize::Containers(3)).unwrap();
    let info = log.info().unwrap();
    assert_eq!((info.containers, info.container_size), (3, 1024 * 1024));
    for n in 7..10 {
        let p = sb.root().join(format!("C/t/grown/part{n}.ctr"));
        assert!(p.exists(), "{} missing", p.display());
    }
    let mut buf = PolicyBuf::new();
    assert_eq!(
        log.query_policy(PolicyKind::NewContainerSuffix, &mut buf)
            .unwrap(),
        Some(Policy::NewContainerSuffix { next: 10 })
    );
    drop(log);
    assert_no_leaks(&sb);
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Records every callback; AdvanceTail answers as configured.
#[derive(Default)]
struct Recorder {
    advance: Mutex<Vec<Lsn>>,
    growth: Growths,
    unpinned: AtomicU32,
    fail_advance: AtomicBool,
    /// Set while an AdvanceTail callback runs; it sleeps this long (ms).
    advance_sleep_ms: AtomicU64,
    advance_done: AtomicU32,
    cv: Condvar,
    lock: Mutex<()>,
}

/// How long a test waits for a callback the emulator must make before it calls the test a
/// failure: a bound that only a broken emulator reaches, never a busy machine (the callbacks
/// run on the sandbox's management worker thread, which a loaded CI machine may schedule late).
const CALLBACK_DEADLINE: Duration = Duration::from_secs(120);

impl Recorder {
    /// Waits until `what` holds (the callbacks notify under `lock`, so no wake-up is lost;
    /// the timeout re-checks anyway), failing after [`CALLBACK_DEADLINE`].
    fn wait(&self, what: impl Fn(&Recorder) -> bool) {
        let mut g = self.lock.lock().unwrap();
        let end = std::time::Instant::now() + CALLBACK_DEADLINE;
        while !what(self) {
            assert!(std::time::Instant::now() < end, "callback never came");
            g = self
                .cv
                .wait_timeout(g, Duration::from_millis(20))
                .unwrap()
                .0;
        }
    }
    fn growths(&self) -> usize {
        self.growth.lock().unwrap().len()
    }
}

impl ManagementCallbacks for Recorder {
    fn advance_tail(&self, target: Lsn) -> TailAdvance {
        self.advance.lock().unwrap().push(target);
        let ms = self.advance_sleep_ms.load(Ordering::SeqCst);
        if ms > 0 {
            std::thread::sleep(Duration::from_millis(ms));
        }
        self.advance_done.fetch_add(1, Ordering::SeqCst);
        self.notify();
        if self.fail_advance.load(Ordering::SeqCst) {
            TailAdvance::Failed(ErrorStatus::new(NtStatus::LOG_PINNED).unwrap())
        } else {
            TailAdvance::Pending
        }
    }
    fn log_growth_complete(&self, status: Result<(), NtStatus>, pinned: bool) {
        self.growth
            .lock()
            .unwrap()
            .push((status, pinned, std::thread::current().id()));
        self.notify();
    }
    fn log_unpinned(&self) {
        self.unpinned.fetch_add(1, Ordering::SeqCst);
        self.notify();
    }
}

impl Recorder {
    /// Wakes [`Recorder::wait`]: under its lock, so a waiter between its check and its wait
    /// cannot miss the change.
    fn notify(&self) {
        let _g = self.lock.lock().unwrap();
        self.cv.notify_all();
    }
}

use common::fill_until_full as fill;

#[test]
fn client_routine_statuses() {
    let sb = Sandbox::new();
    let log = log_with("cst", 2);
    let lf = log.as_raw();
    let reg = sys::CLFS_MGMT_CLIENT_REGISTRATION {
        Version: 1,
        AdvanceTailCallback: None,
        AdvanceTailCallbackData: core::ptr::null_mut(),
        LogGrowthCompleteCallback: None,
        LogGrowthCompleteCallbackData: core::ptr::null_mut(),
        LogUnpinnedCallback: None,
        LogUnpinnedCallbackData: core::ptr::null_mut(),
    };
    let mut cookie: *mut c_void = core::ptr::null_mut();
    let bogus = 0x4321 as *const c_void;
    // Raw calls (through `raw`) with valid or deliberately NULL/bogus arguments.
    {
        assert_eq!(
            st(raw::ClfsMgmtRegisterManagedClient(
                core::ptr::null_mut(),
                &reg,
                &mut cookie
            )),
            NtStatus::INVALID_PARAMETER
        );
        assert_eq!(
            st(raw::ClfsMgmtRegisterManagedClient(
                lf,
                core::ptr::null(),
                &mut cookie
            )),
            NtStatus::INVALID_PARAMETER
        );
        let mut bad = reg;
        bad.Version = 2;
        assert_eq!(
            st(raw::ClfsMgmtRegisterManagedClient(lf, &bad, &mut cookie)),
            NtStatus::INVALID_PARAMETER
        );
        assert_eq!(
            st(raw::ClfsMgmtRegisterManagedClient(lf, &reg, &mut cookie)),
            NtStatus::SUCCESS
        );
        assert_eq!(sb.stats().live_clients, 1);
        assert_eq!(
            st(raw::ClfsMgmtHandleLogFileFull(core::ptr::null_mut())),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtHandleLogFileFull(bogus)),
            NtStatus::INVALID_PARAMETER_1
        );
        // Space is free: SUCCESS, synchronously.
        assert_eq!(
            st(raw::ClfsMgmtHandleLogFileFull(cookie)),
            NtStatus::SUCCESS
        );
        assert_eq!(
            st(raw::ClfsMgmtTailAdvanceFailure(
                core::ptr::null_mut(),
                NtStatus::UNSUCCESSFUL.0
            )),
            NtStatus::INVALID_PARAMETER
        );
        assert_eq!(
            st(raw::ClfsMgmtTailAdvanceFailure(
                bogus,
                NtStatus::UNSUCCESSFUL.0
            )),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtTailAdvanceFailure(
                cookie,
                NtStatus::UNSUCCESSFUL.0
            )),
            NtStatus::SUCCESS
        );
        assert_eq!(
            st(raw::ClfsMgmtDeregisterManagedClient(core::ptr::null_mut())),
            NtStatus::INVALID_PARAMETER
        );
        assert_eq!(
            st(raw::ClfsMgmtDeregisterManagedClient(bogus)),
            NtStatus::INVALID_PARAMETER_1
        );
        assert_eq!(
            st(raw::ClfsMgmtDeregisterManagedClient(cookie)),
            NtStatus::SUCCESS
        );
        assert_eq!(
            st(raw::ClfsMgmtDeregisterManagedClient(cookie)),
            NtStatus::INVALID_PARAMETER_1
        );
        // A client whose log object closed manages no log: INVALID_PARAMETER.
        assert_eq!(
            st(raw::ClfsMgmtRegisterManagedClient(lf, &reg, &mut cookie)),
            NtStatus::SUCCESS
        );
    }
    drop(log);
    // Raw calls (through `raw`) with valid or deliberately NULL/bogus arguments.
    {
        assert_eq!(
            st(raw::ClfsMgmtHandleLogFileFull(cookie)),
            NtStatus::INVALID_PARAMETER
        );
        assert_eq!(
            sb.stats().leaks(),
            ["1 managed client(s) never deregistered"]
        );
        assert_eq!(
            st(raw::ClfsMgmtDeregisterManagedClient(cookie)),
            NtStatus::SUCCESS
        );
    }
    clfs_emu::faults::fail_call(
        "ClfsMgmtRegisterManagedClient",
        1,
        NtStatus::INSUFFICIENT_RESOURCES.0,
    );
    let log = log_with("cst2", 2);
    let rec = Recorder::default();
    let e = ManagedClient::register(&log, &rec).unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::INSUFFICIENT_RESOURCES));
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn log_full_grows_within_the_policies_then_completes() {
    let sb = Sandbox::new();
    let log = log_with("grow", 2);
    log.install_policy(
        &Policy::MaximumSize { containers: 4 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::GrowthRate(Growth::Containers(2)),
        InstallMode::KeepExisting,
    )
    .unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let rec = Recorder::default();
    let client = ManagedClient::register(&log, &rec).unwrap();
    fill(&area);
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    rec.wait(|r| r.growths() == 1);
    let (status, pinned, thread) = rec.growth.lock().unwrap()[0];
    assert_eq!((status, pinned), (Ok(()), false));
    assert_ne!(
        thread,
        std::thread::current().id(),
        "runs on another thread"
    );
    assert_eq!(log.info().unwrap().containers, 4);
    assert!(rec.advance.lock().unwrap().is_empty(), "growth came first");
    area.append(&[b"after growth"]).unwrap();
    assert_eq!(sb.stats().mgmt_containers_added, 2);
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn log_full_at_the_maximum_asks_clients_to_advance_their_tail() {
    let sb = Sandbox::new();
    let log = log_with("tail", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let rec = Recorder::default();
    let client = ManagedClient::register(&log, &rec).unwrap();
    let lsns = fill(&area);
    // No maximum policy: no growth (docs/decisions.md); AdvanceTail runs.
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    rec.wait(|r| r.advance_done.load(Ordering::SeqCst) == 1);
    // Still pending (nobody moved the tail): a second request is refused as in progress.
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::AlreadyInProgress
    );
    assert_eq!(rec.growths(), 0);
    let target = rec.advance.lock().unwrap()[0];
    assert!(target > lsns[0] && target <= *lsns.last().unwrap());
    area.advance_base(target).unwrap();
    rec.wait(|r| r.growths() == 1);
    assert_eq!(rec.growth.lock().unwrap()[0].0, Ok(()));
    area.append(&[b"after the tail moved"]).unwrap();
    assert_eq!(sb.stats().tail_advance_requests, 1);
    assert_eq!(sb.stats().advance_tail_contract_breaches, 0);
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn a_pinned_log_reports_before_pending_and_unpins_later() {
    let sb = Sandbox::new();
    let log = log_with("pin", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let rec = Recorder::default();
    rec.fail_advance.store(true, Ordering::SeqCst);
    let client = ManagedClient::register(&log, &rec).unwrap();
    let lsns = fill(&area);
    // The only client fails to advance: the request completes with its reason, pinned.
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    rec.wait(|r| r.growths() == 1);
    assert_eq!(
        rec.growth.lock().unwrap()[0].0,
        Err(NtStatus::LOG_PINNED),
        "the AdvanceTail error comes back as the OperationStatus"
    );
    // Now the log is pinned: LogGrowthComplete(pinned) runs on this thread before PENDING.
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    {
        let g = rec.growth.lock().unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(
            (g[1].0, g[1].1, g[1].2),
            (Err(NtStatus::LOG_PINNED), true, std::thread::current().id())
        );
    }
    assert_eq!(rec.unpinned.load(Ordering::SeqCst), 0);
    area.advance_base(lsns[lsns.len() / 2]).unwrap();
    rec.wait(|r| r.unpinned.load(Ordering::SeqCst) == 1);
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn tail_advance_failure_completes_a_pending_request_with_its_reason() {
    let sb = Sandbox::new();
    let log = log_with("taf", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let rec = Recorder::default();
    let client = ManagedClient::register(&log, &rec).unwrap();
    fill(&area);
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    rec.wait(|r| r.advance_done.load(Ordering::SeqCst) == 1);
    client
        .tail_advance_failure(ErrorStatus::new(NtStatus::LOG_ARCHIVE_IN_PROGRESS).unwrap())
        .unwrap();
    rec.wait(|r| r.growths() == 1);
    assert_eq!(
        rec.growth.lock().unwrap()[0].0,
        Err(NtStatus::LOG_ARCHIVE_IN_PROGRESS)
    );
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn no_callback_runs_after_deregistration() {
    let sb = Sandbox::new();
    let log = log_with("dereg", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let slow = Recorder::default();
    slow.advance_sleep_ms.store(300, Ordering::SeqCst);
    let other = Recorder::default();
    fill(&area);
    let slow_client = ManagedClient::register(&log, &slow).unwrap();
    let other_client = ManagedClient::register(&log, &other).unwrap();
    assert_eq!(
        other_client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    // Wait until the slow AdvanceTail is running, then deregister: deregistration waits for it.
    slow.wait(|r| !r.advance.lock().unwrap().is_empty());
    slow_client.deregister().unwrap();
    assert_eq!(
        slow.advance_done.load(Ordering::SeqCst),
        1,
        "deregistration returned while a callback was still running"
    );
    // Make the log need the tail again: the deregistered client is never asked.
    other.wait(|r| r.advance_done.load(Ordering::SeqCst) == 1);
    other_client
        .tail_advance_failure(ErrorStatus::UNSUCCESSFUL)
        .unwrap();
    other.wait(|r| r.growths() == 1);
    let before = slow.advance.lock().unwrap().len();
    let info = log.info().unwrap();
    area.advance_base(info.last).unwrap();
    fill(&area);
    assert_eq!(
        other_client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    other.wait(|r| r.advance_done.load(Ordering::SeqCst) == 2);
    // A barrier instead of a sleep: the worker runs items one at a time in request order, so
    // once the completion queued after this AdvanceTail round has run, that round (which would
    // have asked the deregistered client too) is over.
    other_client
        .tail_advance_failure(ErrorStatus::UNSUCCESSFUL)
        .unwrap();
    other.wait(|r| r.growths() == 2);
    assert_eq!(slow.advance.lock().unwrap().len(), before);
    assert_eq!(slow.growths(), 0);
    drop(other_client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

// ---------------------------------------------------------------------------------------------
// Stress: four appenders on a log that must grow and recycle.

/// Advances the base on request, through a worker thread (the "work item").
struct Advancer {
    targets: Mutex<Vec<Lsn>>,
    wake: Condvar,
    completions: Mutex<u64>,
    done: Condvar,
}

impl ManagementCallbacks for Advancer {
    fn advance_tail(&self, target: Lsn) -> TailAdvance {
        self.targets.lock().unwrap().push(target);
        self.wake.notify_all();
        TailAdvance::Pending
    }
    fn log_growth_complete(&self, _status: Result<(), NtStatus>, _pinned: bool) {
        *self.completions.lock().unwrap() += 1;
        self.done.notify_all();
    }
}

#[test]
fn stress_four_appenders_on_a_growing_recycling_log() {
    let sb = Sandbox::new();
    let log = log_with("stress", 2);
    log.install_policy(
        &Policy::MaximumSize { containers: 6 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::AutoGrow { enabled: true },
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::GrowthRate(Growth::Containers(1)),
        InstallMode::KeepExisting,
    )
    .unwrap();
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(64 * 1024).max_write_buffers(8),
    )
    .unwrap();
    let adv = Advancer {
        targets: Mutex::new(Vec::new()),
        wake: Condvar::new(),
        completions: Mutex::new(0),
        done: Condvar::new(),
    };
    let client = ManagedClient::register(&log, &adv).unwrap();
    let stop = AtomicBool::new(false);
    let full_below_max = AtomicU32::new(0);
    let log_full = AtomicU32::new(0);
    let written: Mutex<BTreeMap<u64, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let capacity = 2 * 512 * 1024u64;
    let per_thread = (12 * capacity / 4) as usize;
    /// Stops the worker even when an appender panics (else the scope would never end).
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        // The work item: advance the base to each requested target.
        s.spawn(|| loop {
            let t = {
                let mut q = adv.targets.lock().unwrap();
                loop {
                    if let Some(t) = q.pop() {
                        break Some(t);
                    }
                    if stop.load(Ordering::SeqCst) {
                        break None;
                    }
                    q = adv
                        .wake
                        .wait_timeout(q, Duration::from_millis(10))
                        .unwrap()
                        .0;
                }
            };
            let Some(t) = t else { return };
            let info = log.info().unwrap();
            let t = t.max(info.base).min(info.last);
            area.advance_base(t).unwrap();
        });
        let appenders: Vec<_> = (0..4u8)
            .map(|id| {
                let (area, client, adv, written) = (&area, &client, &adv, &written);
                let (full_below_max, log_full, log) = (&full_below_max, &log_full, &log);
                s.spawn(move || {
                    let mut bytes = 0;
                    let mut n = 0u32;
                    while bytes < per_thread {
                        let mut rec = vec![id; 3000 + (n as usize % 7) * 100];
                        rec[..4].copy_from_slice(&n.to_le_bytes());
                        let seen = *adv.completions.lock().unwrap();
                        match area.append(&[&rec]) {
                            Ok(l) => {
                                written.lock().unwrap().insert(l.raw(), rec.clone());
                                bytes += rec.len();
                                n += 1;
                            }
                            Err(e) if e.status() == Some(NtStatus::LOG_FULL) => {
                                log_full.fetch_add(1, Ordering::SeqCst);
                                if log.info().unwrap().containers < 6 {
                                    full_below_max.fetch_add(1, Ordering::SeqCst);
                                }
                                match client.handle_log_full().unwrap() {
                                    LogFullOutcome::Available => {}
                                    _ => {
                                        let mut c = adv.completions.lock().unwrap();
                                        while *c == seen {
                                            let (g, t) = adv
                                                .done
                                                .wait_timeout(c, CALLBACK_DEADLINE)
                                                .unwrap();
                                            c = g;
                                            if t.timed_out() {
                                                let i = log.info().unwrap();
                                                panic!(
                                                    "no completion came: {} containers, {} free, base {}, last {}, requests {:?}",
                                                    i.containers, i.free_containers, i.base, i.last,
                                                    adv.targets.lock().unwrap()
                                                );
                                            }
                                        }
                                    }
                                }
                            }
                            Err(e) => panic!("append failed: {e}"),
                        }
                    }
                })
            })
            .collect();
        for a in appenders {
            a.join().unwrap();
        }
        stop.store(true, Ordering::SeqCst);
        adv.wake.notify_all();
    });
    assert_eq!(full_below_max.load(Ordering::SeqCst), 0);
    let info = log.info().unwrap();
    assert_eq!(info.containers, 6, "the log grew to its maximum");
    assert!(
        sb.stats().tail_advance_requests > 0,
        "the tail was advanced"
    );
    area.flush().unwrap();
    // Every record still in the active region reads back intact.
    let written = written.into_inner().unwrap();
    let mut checked = 0;
    for (l, data) in written.range(info.base.raw()..) {
        let mut cx = area
            .read(Lsn::from_raw(*l), clfs::ReadMode::Forward)
            .unwrap();
        let r = cx.next().unwrap().expect("record present");
        assert_eq!(r.lsn.raw(), *l);
        assert_eq!(r.data, &data[..]);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} records left to check");
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
    let _ = Arc::new(()); // keep the import used across cfgs
}

// ---------------------------------------------------------------------------------------------
// The seam's correction, fault injection, and the automatic policies

#[test]
fn the_seam_declares_log_is_pinned_as_a_boolean_byte() {
    use std::any::TypeId;
    type Documented = Option<
        unsafe extern "system" fn(*const sys::FILE_OBJECT, sys::NTSTATUS, u8, *const c_void),
    >;
    type WindowsSys =
        windows_sys::Wdk::System::SystemServices::PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK;
    assert_ne!(
        TypeId::of::<WindowsSys>(),
        TypeId::of::<Documented>(),
        "windows-sys declares LogIsPinned a Rust bool (the defect)"
    );
    assert_eq!(
        TypeId::of::<sys::PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK>(),
        TypeId::of::<Documented>()
    );
    assert_eq!(
        core::mem::size_of::<sys::CLFS_MGMT_CLIENT_REGISTRATION>(),
        56
    );
    assert_eq!(
        core::mem::offset_of!(sys::CLFS_MGMT_CLIENT_REGISTRATION, LogUnpinnedCallbackData),
        48
    );
    assert_eq!(core::mem::size_of::<sys::CLFS_MGMT_POLICY>(), 24);
    assert_eq!(
        core::mem::offset_of!(sys::CLFS_MGMT_POLICY, PolicyParameters),
        16
    );
}

#[test]
fn every_management_routine_takes_injected_faults() {
    use clfs_emu::faults::fail_call;
    let sb = Sandbox::new();
    let log = log_with("faults", 2);
    let lf = log.as_raw();
    let reg = sys::CLFS_MGMT_CLIENT_REGISTRATION {
        Version: 1,
        AdvanceTailCallback: None,
        AdvanceTailCallbackData: core::ptr::null_mut(),
        LogGrowthCompleteCallback: None,
        LogGrowthCompleteCallbackData: core::ptr::null_mut(),
        LogUnpinnedCallback: None,
        LogUnpinnedCallbackData: core::ptr::null_mut(),
    };
    let mut cookie: *mut c_void = core::ptr::null_mut();
    assert_eq!(raw::ClfsMgmtRegisterManagedClient(lf, &reg, &mut cookie), 0);
    let injected = NtStatus::INSUFFICIENT_RESOURCES;
    let policy = raw_policy(sys::ClfsMgmtPolicyMaximumSize, 4, 0);
    let mut out = sys::CLFS_MGMT_POLICY::default();
    let mut len = 24u32;
    let (two, mut now) = (2u64, 0u64);
    let (outp, lenp, nowp): (*mut sys::CLFS_MGMT_POLICY, *mut u32, *mut u64) =
        (&mut out, &mut len, &mut now);
    let c: *const c_void = cookie;
    let calls: [(&'static str, &dyn Fn() -> i32); 9] = [
        ("ClfsMgmtInstallPolicy", &|| {
            raw::ClfsMgmtInstallPolicy(lf, &policy, 24)
        }),
        ("ClfsMgmtQueryPolicy", &|| {
            raw::ClfsMgmtQueryPolicy(lf, 0, outp, lenp)
        }),
        ("ClfsMgmtRemovePolicy", &|| raw::ClfsMgmtRemovePolicy(lf, 0)),
        ("ClfsMgmtSetLogFileSize", &|| {
            raw::ClfsMgmtSetLogFileSize(lf, &two, nowp, None, core::ptr::null())
        }),
        ("ClfsMgmtSetLogFileSizeAsClient", &|| {
            raw::ClfsMgmtSetLogFileSizeAsClient(lf, &c, &two, nowp, None, core::ptr::null())
        }),
        ("ClfsMgmtRegisterManagedClient", &|| {
            let mut k: *mut c_void = core::ptr::null_mut();
            let r = raw::ClfsMgmtRegisterManagedClient(lf, &reg, &mut k);
            if r == 0 {
                assert_eq!(raw::ClfsMgmtDeregisterManagedClient(k), 0);
            }
            r
        }),
        ("ClfsMgmtHandleLogFileFull", &|| {
            raw::ClfsMgmtHandleLogFileFull(c)
        }),
        ("ClfsMgmtTailAdvanceFailure", &|| {
            raw::ClfsMgmtTailAdvanceFailure(c, NtStatus::UNSUCCESSFUL.0)
        }),
        ("ClfsMgmtDeregisterManagedClient", &|| {
            raw::ClfsMgmtDeregisterManagedClient(c)
        }),
    ];
    for (name, call) in calls {
        fail_call(name, 1, injected.0);
        assert_eq!(st(call()), injected, "{name}");
        assert_ne!(st(call()), injected, "{name}: the fault fires once");
    }
    assert_eq!(sb.stats().live_clients, 0, "the real deregistration ran");
    assert_eq!(sb.stats().policies, 0);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn a_refused_deregistration_is_reported_and_drop_recovers() {
    use clfs_emu::faults::fail_call;
    const DEREG: &str = "ClfsMgmtDeregisterManagedClient";
    let sb = Sandbox::new();
    let log = log_with("deregfail", 2);
    let rec = Recorder::default();
    let calls = || sb.stats().calls(DEREG);

    // The explicit call reports the status and hands the still-registered client back.
    let client = ManagedClient::register(&log, &rec).unwrap();
    fail_call(DEREG, 1, NtStatus::UNSUCCESSFUL.0);
    let refused = client.deregister().unwrap_err();
    assert_eq!(refused.status(), Some(NtStatus::UNSUCCESSFUL));
    assert_eq!(
        refused.error(),
        &Error::Status {
            routine: DEREG,
            status: NtStatus::UNSUCCESSFUL
        }
    );
    assert!(
        refused
            .to_string()
            .ends_with("; the managed client is still registered"),
        "{refused}"
    );
    assert_eq!(sb.stats().live_clients, 1, "Clfs.sys still has the client");
    let client = refused.into_client();
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::Available,
        "the client handed back still works"
    );
    // Dropping it after the failure deregisters it for real.
    drop(client);
    assert_eq!(calls(), 2);
    assert_eq!(sb.stats().live_clients, 0);

    // A drop whose first attempt is refused tries once more, without panicking.
    let client = ManagedClient::register(&log, &rec).unwrap();
    fail_call(DEREG, 1, NtStatus::INSUFFICIENT_RESOURCES.0);
    drop(client);
    assert_eq!(calls(), 4);
    assert_eq!(sb.stats().live_clients, 0);

    // `?` converts the refusal into the Error and drops the client (which deregisters it).
    let client = ManagedClient::register(&log, &rec).unwrap();
    fail_call(DEREG, 1, NtStatus::UNSUCCESSFUL.0);
    let via_question_mark = || -> clfs::Result<()> {
        client.deregister()?;
        Ok(())
    };
    assert_eq!(
        via_question_mark().unwrap_err().status(),
        Some(NtStatus::UNSUCCESSFUL)
    );
    assert_eq!(calls(), 6);
    assert_eq!(sb.stats().live_clients, 0);

    // Both attempts of a drop refused: no panic; the registration is left behind, and the
    // emulator's accounts say so; the callbacks are cut off (tests/mgmt_revoke.rs) and the
    // registration cell is leaked on purpose.
    let client = ManagedClient::register(&log, &rec).unwrap();
    let cookie = client.as_raw();
    fail_call(DEREG, 1, NtStatus::UNSUCCESSFUL.0);
    fail_call(DEREG, 2, NtStatus::UNSUCCESSFUL.0);
    drop(client);
    assert_eq!(calls(), 8);
    assert_eq!(sb.stats().live_clients, 1);
    assert!(sb
        .stats()
        .leaks()
        .contains(&"1 managed client(s) never deregistered".to_string()));
    assert_eq!(
        st(raw::ClfsMgmtDeregisterManagedClient(cookie)),
        NtStatus::SUCCESS
    );
    assert!(rec.advance.lock().unwrap().is_empty());
    assert_eq!(rec.growths(), 0);
    drop(log);
    // The one leak left is the revoked cell (Clfs.sys might still have called through it).
    let pool = sb.stats().pool;
    let cell = &pool[&clfs::mgmt::CLIENT_CELL_TAG];
    assert_eq!((cell.count, cell.bytes), (1, 16));
    assert_eq!(sb.stats().leaks().len(), 1, "{:?}", sb.stats().leaks());
}

#[test]
fn the_log_tail_policy_asks_for_the_tail_before_the_log_is_full() {
    let sb = Sandbox::new();
    let log = log_with("logtail", 4);
    log.install_policy(
        &Policy::LogTail(TailTarget::Containers(2)),
        InstallMode::KeepExisting,
    )
    .unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let rec = Recorder::default();
    let client = ManagedClient::register(&log, &rec).unwrap();
    let data = [3u8; 8000];
    let mut n = 0;
    // Append until fewer than two containers are free: that append asks for the tail. The
    // request runs asynchronously (on the emulator's worker), but it is queued by the append
    // itself: the count of queued management items says so without depending on when the
    // worker runs; then wait (bounded) for the callback.
    loop {
        area.append(&[&data])
            .expect("no append fails before the tail is asked for");
        n += 1;
        assert!(n < 1000, "the log never got below two free containers");
        if log.info().unwrap().free_containers < 2 {
            break;
        }
        assert_eq!(
            sb.stats().mgmt_work_items,
            0,
            "AdvanceTail was asked for while two containers were free"
        );
        assert!(
            rec.advance.lock().unwrap().is_empty(),
            "AdvanceTail came while two containers were free"
        );
    }
    assert_eq!(
        sb.stats().mgmt_work_items,
        1,
        "the append that left fewer than two containers free asked for the tail, once"
    );
    rec.wait(|r| r.advance_done.load(Ordering::SeqCst) >= 1);
    assert_eq!(rec.advance.lock().unwrap().len(), 1);
    assert!(log.info().unwrap().free_containers < 2);
    area.append(&[&data])
        .expect("the log still had room when the tail was asked for");
    assert_eq!(
        sb.stats().log_full_requests,
        0,
        "no log-full handling was needed"
    );
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn auto_shrink_gives_free_containers_back_after_the_tail_moves() {
    let sb = Sandbox::new();
    let log = log_with("shrink", 2);
    log.install_policy(
        &Policy::MaximumSize { containers: 6 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::MinimumSize { containers: 3 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    log.install_policy(
        &Policy::AutoShrink { percent: 50 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    assert_eq!(
        log.set_log_file_size(LogSize::Maximum).unwrap().containers,
        6
    );
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let data = [9u8; 8000];
    for _ in 0..300 {
        area.append(&[&data]).unwrap();
    }
    area.flush().unwrap();
    // Not enough free yet: nothing shrinks.
    let first = log.info().unwrap();
    assert!(first.free_containers < 3, "{first:?}");
    area.advance_base(first.base).unwrap();
    assert_eq!(log.info().unwrap().containers, 6);
    // Everything but the current container is free: shrink to the minimum.
    area.advance_base(first.last).unwrap();
    let after = log.info().unwrap();
    assert_eq!(after.containers, 3);
    assert_eq!(sb.stats().mgmt_containers_removed, 3);
    area.append(&[b"still writable"]).unwrap();
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn the_archive_tail_pins_the_log_until_it_moves() {
    let sb = Sandbox::new();
    let log = LogFile::create(
        &w("log:C:\\t\\archive"),
        clfs::LogOptions::new().create_if_missing().archive(true),
    )
    .unwrap();
    log.add_containers(&[&w("%BLF%\\a0"), &w("%BLF%\\a1")], 512 * 1024)
        .unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let rec = Recorder::default();
    let client = ManagedClient::register(&log, &rec).unwrap();
    let lsns = fill(&area);
    area.advance_base(lsns[lsns.len() - 2]).unwrap();
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    {
        let g = rec.growth.lock().unwrap();
        assert_eq!(g.len(), 1, "reported before PENDING returned");
        assert_eq!(
            (g[0].0, g[0].1),
            (Err(NtStatus::LOG_PINNED_ARCHIVE_TAIL), true)
        );
    }
    log.set_archive_tail(lsns[lsns.len() - 2]).unwrap();
    rec.wait(|r| r.unpinned.load(Ordering::SeqCst) == 1);
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn a_growth_failure_comes_back_through_log_growth_complete() {
    let sb = Sandbox::new();
    let log = log_with("gfail", 2);
    log.install_policy(
        &Policy::MaximumSize { containers: 4 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let rec = Recorder::default();
    let client = ManagedClient::register(&log, &rec).unwrap();
    fill(&area);
    clfs_emu::faults::fail_growth(true);
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    rec.wait(|r| r.growths() == 1);
    assert_eq!(
        rec.growth.lock().unwrap()[0].0,
        Err(NtStatus::LOG_CONTAINER_OPEN_FAILED)
    );
    let e = log.set_log_file_size(LogSize::Containers(3)).unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::LOG_POLICY_CONFLICT));
    assert_eq!(log.info().unwrap().containers, 2);
    clfs_emu::faults::fail_growth(false);
    assert_eq!(
        client.handle_log_full().unwrap(),
        LogFullOutcome::GrowthPending
    );
    rec.wait(|r| r.growths() == 2);
    assert_eq!(rec.growth.lock().unwrap()[1].0, Ok(()));
    assert_eq!(
        log.info().unwrap().containers,
        3,
        "one container per default step"
    );
    drop(client);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}
