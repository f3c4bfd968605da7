//! The emulator's management worker: a burst of thousands of asynchronous management requests
//! runs on one thread per sandbox, in request order, each callback at PASSIVE_LEVEL and never on
//! the thread that made the request; the thread ends when the sandbox is dropped.
//!
//! One test in its own file: it reads the process-wide count of worker threads, which other
//! tests running in parallel would change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::sync::{Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use clfs::mgmt::{
    InstallMode, LogFullOutcome, ManagedClient, ManagementCallbacks, Policy, TailAdvance,
};
use clfs::{ClfsAllocator, Lsn, MarshallingArea, MarshallingConfig, NtStatus};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

const CLIENTS: usize = 50;
const ROUNDS: usize = 40;

/// One completion: which client, on which thread, at which IRQL, with which status.
type Seen = (usize, ThreadId, u8, Result<(), NtStatus>);

#[derive(Default)]
struct Journal {
    seen: Mutex<Vec<Seen>>,
    cv: Condvar,
}

struct Client<'a> {
    index: usize,
    journal: &'a Journal,
}

impl ManagementCallbacks for Client<'_> {
    fn advance_tail(&self, _target: Lsn) -> TailAdvance {
        TailAdvance::Pending
    }
    fn log_growth_complete(&self, status: Result<(), NtStatus>, _pinned: bool) {
        let irql = clfs_emu::current_irql();
        self.journal.seen.lock().unwrap().push((
            self.index,
            std::thread::current().id(),
            irql,
            status,
        ));
        // A misbehaving callback that returns at APC_LEVEL: the next item must still start
        // at PASSIVE_LEVEL, as a fresh worker thread would.
        if self.index == 0 {
            clfs_emu::set_irql(clfs_emu::APC_LEVEL);
        }
        self.journal.cv.notify_all();
    }
}

#[test]
fn a_burst_of_log_full_requests_runs_on_one_worker_thread_per_sandbox() {
    assert_eq!(clfs_emu::mgmt_worker_threads(), 0);
    let sb = Sandbox::new();
    let log = log_with("burst", 2);
    log.install_policy(
        &Policy::MaximumSize { containers: 64 },
        InstallMode::KeepExisting,
    )
    .unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    common::fill_until_full(&area);
    // Every growth fails: each request is answered later (PENDING, then LogGrowthComplete with
    // the failure), and the log stays full for the next round. Two work items per request.
    clfs_emu::faults::fail_growth(true);
    let journal = Journal::default();
    let callbacks: Vec<Client<'_>> = (0..CLIENTS)
        .map(|index| Client {
            index,
            journal: &journal,
        })
        .collect();
    let clients: Vec<_> = callbacks
        .iter()
        .map(|c| ManagedClient::register(&log, c).unwrap())
        .collect();
    let me = std::thread::current().id();
    for round in 0..ROUNDS {
        for c in &clients {
            assert_eq!(c.handle_log_full().unwrap(), LogFullOutcome::GrowthPending);
        }
        let want = (round + 1) * CLIENTS;
        let mut seen = journal.seen.lock().unwrap();
        while seen.len() < want {
            let (g, t) = journal
                .cv
                .wait_timeout(seen, Duration::from_secs(120))
                .unwrap();
            seen = g;
            assert!(!t.timed_out(), "{} of {want} completions came", seen.len());
        }
    }
    clfs_emu::faults::fail_growth(false);
    let seen = journal.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), CLIENTS * ROUNDS);
    // In request order, round after round; each with the injected failure.
    let order: Vec<usize> = seen.iter().map(|s| s.0).collect();
    let expected: Vec<usize> = (0..ROUNDS).flat_map(|_| 0..CLIENTS).collect();
    assert_eq!(order, expected, "completions ran in request order");
    assert!(seen
        .iter()
        .all(|s| s.3 == Err(NtStatus::LOG_CONTAINER_OPEN_FAILED)));
    // Asynchronously, on one thread that is not the caller's, at PASSIVE_LEVEL every time
    // (client 0's callback leaves APC_LEVEL behind).
    let worker = seen[0].1;
    assert_ne!(worker, me, "the callbacks ran on the requesting thread");
    assert!(seen.iter().all(|s| s.1 == worker), "more than one thread");
    assert!(
        seen.iter().all(|s| s.2 == clfs_emu::PASSIVE_LEVEL),
        "a callback started above PASSIVE_LEVEL"
    );
    let stats = sb.stats();
    assert_eq!(stats.log_full_requests, (CLIENTS * ROUNDS) as u64);
    assert_eq!(stats.mgmt_work_items, 2 * (CLIENTS * ROUNDS) as u64);
    assert_eq!(
        stats.mgmt_threads, 1,
        "one worker thread for the whole burst"
    );
    assert_eq!(clfs_emu::mgmt_worker_threads(), 1);
    drop(clients);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
    // The worker ends with its sandbox.
    drop(sb);
    assert_eq!(
        clfs_emu::mgmt_worker_threads(),
        0,
        "a worker outlived its sandbox"
    );
}
