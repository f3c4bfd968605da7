//! A managed log, run against the Clfs.sys emulator (CLFS management, `ClfsMgmt*`).
//!
//! The log starts small: two 512 KiB containers, with policies that let it grow to six
//! containers one at a time, name new containers `managed-grown<N>.ctr`, and shrink again
//! when most of it is free. The example appends at least ten times the initial capacity.
//! When an append fails with `STATUS_LOG_FULL` it calls `handle_log_full()`: CLFS first grows
//! the log within the policies; once it is at its maximum, CLFS asks the managed client to
//! advance its tail. The client's AdvanceTail callback only queues the target LSN; a worker
//! thread (the "work item") moves the base. Finally every record still in the active log is
//! read back and compared, a last checkpoint moves the base to the end, auto-shrink gives the
//! space back, and the example prints what happened.
//!
//! ```text
//! cargo run --example managed [-- <MiB to append>]
//! ```
//! The log lives under `target/clfs-managed/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // example code

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use clfs::mgmt::{
    Growth, InstallMode, LogFullOutcome, ManagedClient, ManagementCallbacks, Policy, TailAdvance,
};
use clfs::{
    wide, ClfsAllocator, LogFile, LogOptions, Lsn, MarshallingArea, MarshallingConfig, NtStatus,
    ReadMode,
};

const CONTAINER: u64 = 512 * 1024;

/// The managed client's callbacks: AdvanceTail queues the target for the worker thread;
/// LogGrowthComplete wakes the appender.
#[derive(Default)]
struct Client {
    targets: Mutex<VecDeque<Lsn>>,
    wake: Condvar,
    requests: AtomicU64,
    completions: Mutex<u64>,
    completed: Condvar,
    pinned: AtomicBool,
}

impl ManagementCallbacks for Client {
    fn advance_tail(&self, target: Lsn) -> TailAdvance {
        // Runs on a CLFS thread: queue the work, never do it here.
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.targets.lock().unwrap().push_back(target);
        self.wake.notify_one();
        TailAdvance::Pending
    }

    fn log_growth_complete(&self, status: Result<(), NtStatus>, pinned: bool) {
        if let Err(st) = status {
            eprintln!("log-full request completed with {st}");
        }
        self.pinned.store(pinned, Ordering::Relaxed);
        *self.completions.lock().unwrap() += 1;
        self.completed.notify_all();
    }
}

/// Deterministic record contents: the sequence number, then a pattern derived from it.
fn record(seq: u64) -> Vec<u8> {
    let len = 1024 + (seq % 4) as usize * 1024;
    let mut r = Vec::with_capacity(len);
    r.extend_from_slice(&seq.to_le_bytes());
    r.extend((8..len).map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8));
    r
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(12);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clfs-managed");
    let _ = std::fs::remove_dir_all(&root);
    let sandbox = clfs_emu::Sandbox::with_root(&root);

    let log = LogFile::create(
        wide!("log:C:\\logs\\managed"),
        LogOptions::new().create_if_missing(),
    )?;
    log.add_containers(
        &[wide!("%BLF%\\managed-c0"), wide!("%BLF%\\managed-c1")],
        CONTAINER,
    )?;
    let initial = log.info()?;
    // Policies are volatile: install them every time the log is opened.
    for p in [
        Policy::MaximumSize { containers: 6 },
        Policy::MinimumSize { containers: 2 },
        Policy::GrowthRate(Growth::Containers(1)),
        Policy::AutoShrink { percent: 60 },
        Policy::NewContainerPrefix(wide!("%BLF%\\managed-grown")),
        Policy::NewContainerSuffix { next: 1 },
        Policy::NewContainerExtension(wide!("ctr")),
    ] {
        log.install_policy(&p, InstallMode::Overwrite)?;
    }
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(64 * 1024).max_write_buffers(8),
    )?;
    let client_cb = Client::default();
    let client = ManagedClient::register(&log, &client_cb)?;

    let target_bytes = mib * 1024 * 1024;
    assert!(target_bytes >= 10 * initial.total_available as u64);
    let written: Mutex<BTreeMap<u64, u64>> = Mutex::new(BTreeMap::new());
    let stop = AtomicBool::new(false);
    let mut log_full_events = 0u64;
    let mut appended = 0u64;
    let mut records = 0u64;

    std::thread::scope(|s| -> Result<(), clfs::Error> {
        // The work item: move the base to the first record at or past each target.
        let worker = s.spawn(|| -> Result<(), clfs::Error> {
            loop {
                let target = {
                    let mut q = client_cb.targets.lock().unwrap();
                    loop {
                        if let Some(t) = q.pop_front() {
                            break t;
                        }
                        if stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        q = client_cb
                            .wake
                            .wait_timeout(q, Duration::from_millis(20))
                            .unwrap()
                            .0;
                    }
                };
                let first = written
                    .lock()
                    .unwrap()
                    .range(target.raw()..)
                    .next()
                    .map(|(l, _)| Lsn::from_raw(*l));
                let info = log.info()?;
                let new = first.unwrap_or(target).max(info.base).min(info.last);
                area.advance_base(new)?;
            }
        });

        while appended < target_bytes {
            let data = record(records);
            let seen = *client_cb.completions.lock().unwrap();
            match area.append(&[&data]) {
                Ok(lsn) => {
                    written.lock().unwrap().insert(lsn.raw(), records);
                    appended += data.len() as u64;
                    records += 1;
                }
                Err(e) if e.status() == Some(NtStatus::LOG_FULL) => {
                    log_full_events += 1;
                    match client.handle_log_full()? {
                        LogFullOutcome::Available => {}
                        LogFullOutcome::GrowthPending | LogFullOutcome::AlreadyInProgress => {
                            let mut c = client_cb.completions.lock().unwrap();
                            while *c == seen {
                                let (g, t) = client_cb
                                    .completed
                                    .wait_timeout(c, Duration::from_secs(10))
                                    .unwrap();
                                c = g;
                                assert!(!t.timed_out(), "no LogGrowthComplete within 10 s");
                            }
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        stop.store(true, Ordering::Relaxed);
        client_cb.wake.notify_all();
        worker.join().unwrap()
    })?;
    area.flush()?;

    // Every record still in the active log reads back intact.
    let before = log.info()?;
    let mut verified = 0u64;
    for (&l, &seq) in written.lock().unwrap().range(before.base.raw()..) {
        let mut cx = area.read(Lsn::from_raw(l), ReadMode::Forward)?;
        let r = cx.next()?.expect("a record of the active log is missing");
        assert_eq!(r.lsn.raw(), l);
        assert_eq!(
            r.data,
            &record(seq)[..],
            "record {seq} at {} differs",
            r.lsn
        );
        verified += 1;
    }
    assert!(verified > 0);

    // A final checkpoint: the base moves to the end; auto-shrink gives the space back.
    area.advance_base(before.last)?;
    let after = log.info()?;
    let stats = sandbox.stats();
    println!(
        "initial size     {} containers x {} KiB",
        initial.containers,
        CONTAINER / 1024
    );
    println!(
        "appended         {records} records, {} KiB ({}x the initial capacity)",
        appended / 1024,
        appended / initial.total_available as u64
    );
    println!(
        "log-full events  {log_full_events} (handle_log_full calls: {})",
        stats.log_full_requests
    );
    println!(
        "grew to          {} containers before the final checkpoint",
        before.containers
    );
    println!(
        "containers       {} added, {} removed",
        stats.mgmt_containers_added, stats.mgmt_containers_removed
    );
    println!(
        "tail advances    {} AdvanceTail requests, served by the worker thread",
        client_cb.requests.load(Ordering::Relaxed)
    );
    println!(
        "verified         {verified} records in the active log (base {} .. last {})",
        before.base, before.last
    );
    println!(
        "final size       {} containers, {} KiB",
        after.containers,
        after.total_available / 1024
    );
    assert_eq!(stats.advance_tail_contract_breaches, 0);

    drop(client);
    drop(area);
    drop(log);
    let leaks = sandbox.stats().leaks();
    assert!(leaks.is_empty(), "leaks: {leaks:?}");
    println!("leaks            none");
    Ok(())
}
