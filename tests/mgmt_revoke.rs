//! A [`ManagedClient`]'s registration cell: freed on every normal path, and, when Clfs.sys
//! refuses the deregistration twice in drop, revoked and leaked, so that a callback Clfs.sys
//! delivers afterwards does not reach the dropped client's callbacks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use core::ffi::c_void;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use clfs::mgmt::{ManagedClient, ManagementCallbacks, TailAdvance, CLIENT_CELL_TAG};
use clfs::{sys, ClfsAllocator, Error, Lsn, MarshallingArea, MarshallingConfig, NtStatus};
use clfs_emu::faults::fail_call;
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

const DEREG: &str = "ClfsMgmtDeregisterManagedClient";
const REGISTER: &str = "ClfsMgmtRegisterManagedClient";
/// A bound only a broken emulator reaches (the callbacks run on its worker thread).
const DEADLINE: Duration = Duration::from_secs(120);

/// Counts every callback: a count that moves after the client was dropped is a callback
/// that reached callbacks whose borrow had ended.
#[derive(Default)]
struct Counts {
    advance: AtomicU32,
    growth: AtomicU32,
    unpinned: AtomicU32,
}

impl Counts {
    fn total(&self) -> u32 {
        self.advance.load(Ordering::SeqCst)
            + self.growth.load(Ordering::SeqCst)
            + self.unpinned.load(Ordering::SeqCst)
    }
}

impl ManagementCallbacks for Counts {
    fn advance_tail(&self, _target: Lsn) -> TailAdvance {
        self.advance.fetch_add(1, Ordering::SeqCst);
        TailAdvance::Pending
    }
    fn log_growth_complete(&self, _status: Result<(), NtStatus>, _pinned: bool) {
        self.growth.fetch_add(1, Ordering::SeqCst);
    }
    fn log_unpinned(&self) {
        self.unpinned.fetch_add(1, Ordering::SeqCst);
    }
}

fn handle_log_full(cookie: *mut c_void) -> NtStatus {
    // SAFETY: `cookie` is a client still registered with the emulator (the test deregisters
    // it only afterwards); the emulator never dereferences cookies.
    NtStatus(unsafe { sys::ClfsMgmtHandleLogFileFull(cookie) })
}

/// (count, bytes) of live registration cells in the sandbox.
fn cells(sb: &Sandbox) -> (u64, u64) {
    sb.stats()
        .pool
        .get(&CLIENT_CELL_TAG)
        .map_or((0, 0), |o| (o.count, o.bytes))
}

#[test]
fn normal_paths_free_the_cell_and_allocation_failure_is_typed() {
    let sb = Sandbox::new();
    let log = log_with("cellfree", 2);
    let counts = Counts::default();

    let client = ManagedClient::register(&log, &counts).unwrap();
    assert_eq!(cells(&sb), (1, 16), "one 16-byte cell per client");
    client.deregister().unwrap();
    assert_eq!(cells(&sb), (0, 0));

    let client = ManagedClient::register(&log, &counts).unwrap();
    drop(client);
    assert_eq!(cells(&sb), (0, 0));

    // A drop whose first attempt is refused succeeds on the second and frees the cell.
    let client = ManagedClient::register(&log, &counts).unwrap();
    fail_call(DEREG, 1, NtStatus::INSUFFICIENT_RESOURCES.0);
    drop(client);
    assert_eq!(sb.stats().calls(DEREG), 4);
    assert_eq!(cells(&sb), (0, 0));

    // A refused explicit deregistration keeps the cell with the client handed back.
    let client = ManagedClient::register(&log, &counts).unwrap();
    fail_call(DEREG, 1, NtStatus::UNSUCCESSFUL.0);
    let client = client.deregister().unwrap_err().into_client();
    assert_eq!(cells(&sb), (1, 16));
    client.deregister().unwrap();
    assert_eq!(cells(&sb), (0, 0));

    // Clfs.sys refuses the registration: the cell is freed.
    fail_call(REGISTER, 1, NtStatus::INSUFFICIENT_RESOURCES.0);
    let e = ManagedClient::register(&log, &counts).unwrap_err();
    assert_eq!(e.status(), Some(NtStatus::INSUFFICIENT_RESOURCES));
    assert_eq!(cells(&sb), (0, 0));

    // No pool for the cell: a typed error, and Clfs.sys is never called.
    let registrations = sb.stats().calls(REGISTER);
    fail_call("ExAllocatePool2", 1, 0);
    let e = ManagedClient::register(&log, &counts).unwrap_err();
    assert_eq!(
        e,
        Error::PoolExhausted {
            what: "the managed client's registration cell",
            bytes: 16
        }
    );
    assert_eq!(sb.stats().calls(REGISTER), registrations);

    assert_eq!(counts.total(), 0);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn a_callback_after_a_twice_refused_drop_does_not_reach_the_callbacks() {
    let sb = Sandbox::new();
    let log = log_with("revoked", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    common::fill_until_full(&area);
    let counts = Counts::default();
    let client = ManagedClient::register(&log, &counts).unwrap();
    let cookie = client.as_raw();
    fail_call(DEREG, 1, NtStatus::UNSUCCESSFUL.0);
    fail_call(DEREG, 2, NtStatus::UNSUCCESSFUL.0);
    drop(client);
    assert_eq!(sb.stats().calls(DEREG), 2);
    assert_eq!(sb.stats().live_clients, 1, "Clfs.sys kept the registration");
    assert_eq!(cells(&sb), (1, 16), "the revoked cell is leaked, not freed");

    // The log is full and cannot grow: Clfs.sys asks the (dropped) client to advance its
    // tail, through the revoked cell.
    assert_eq!(handle_log_full(cookie), NtStatus::PENDING);
    let end = Instant::now() + DEADLINE;
    while sb.stats().tail_advance_requests == 0 {
        assert!(Instant::now() < end, "AdvanceTail was never delivered");
        std::thread::yield_now();
    }
    // The revoked AdvanceTail answers STATUS_UNSUCCESSFUL (documented), an error that Clfs.sys
    // takes as a tail-advance failure: the pending request completes (through the revoked
    // LogGrowthComplete), so the client is no longer "in progress". Had it answered PENDING,
    // the request would stay in progress for ever (nobody moves the tail).
    loop {
        let st = handle_log_full(cookie);
        if st != NtStatus::LOG_FULL_HANDLER_IN_PROGRESS {
            break;
        }
        assert!(Instant::now() < end, "the revoked AdvanceTail did not fail");
        std::thread::yield_now();
    }
    assert_eq!(sb.stats().advance_tail_contract_breaches, 0);
    assert_eq!(counts.total(), 0, "a callback reached the dropped client");

    // SAFETY: the cookie is still registered (both attempts of the drop were refused).
    let st = NtStatus(unsafe { sys::ClfsMgmtDeregisterManagedClient(cookie) });
    assert_eq!(st, NtStatus::SUCCESS);
    assert_eq!(counts.total(), 0);
    drop(area);
    drop(log);
    // The one leak left is the revoked cell: expected, and accounted under its tag.
    assert_eq!(
        sb.stats().leaks(),
        vec![
            "1 ExAllocatePool2 allocation(s) (16 bytes) not freed, tag 'ClMc' (0x634D6C43)"
                .to_string()
        ]
    );
}
