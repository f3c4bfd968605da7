//! The management callbacks' unsafe paths (trampolines, context carriage, the deregistration
//! barrier), sized for Miri: `.ci/miri.sh` runs this file under Miri. An ordinary test too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use clfs::mgmt::{
    InstallMode, ManagedClient, ManagementCallbacks, Policy, TailAdvance, TailTarget,
};
use clfs::{ClfsAllocator, Lsn, MarshallingArea, MarshallingConfig};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

#[derive(Default)]
struct Counts {
    advance: AtomicU32,
    target: AtomicU64,
}

impl ManagementCallbacks for Counts {
    fn advance_tail(&self, target: Lsn) -> TailAdvance {
        self.target.store(target.raw(), Ordering::SeqCst);
        self.advance.fetch_add(1, Ordering::SeqCst);
        TailAdvance::Pending
    }
}

#[test]
fn callbacks_reach_their_context_and_stop_at_deregistration() {
    let sb = Sandbox::new();
    let log = log_with("mirimgmt", 2);
    // Fewer than two free containers asks for the tail after an append.
    log.install_policy(
        &Policy::LogTail(TailTarget::Containers(2)),
        InstallMode::KeepExisting,
    )
    .unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(1024)).unwrap();
    let counts = Counts::default();
    let client = ManagedClient::register(&log, &counts).unwrap();
    let first = area.append(&[b"one"]).unwrap();
    area.append(&[b"two"]).unwrap();
    // The request runs on an emulator thread; wait for it, then deregister.
    while counts.advance.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    client.deregister().unwrap();
    let seen = counts.advance.load(Ordering::SeqCst);
    // The tail moves (clearing the request) and appends go on: no callback any more.
    area.advance_base(first).unwrap();
    area.append(&[b"three"]).unwrap();
    area.append(&[b"four"]).unwrap();
    for _ in 0..50 {
        std::thread::yield_now();
    }
    assert_eq!(counts.advance.load(Ordering::SeqCst), seen);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}
