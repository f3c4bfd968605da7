//! `mgmt`: a burst of management requests through the emulator. `CLIENTS` managed clients of
//! one full log each call `ClfsMgmtHandleLogFileFull`, `ROUNDS` times, waiting for every
//! LogGrowthComplete before the next round. Growth is made to fail (`faults::fail_growth`),
//! so every request is answered asynchronously (STATUS_PENDING, then a LogGrowthComplete with
//! STATUS_LOG_CONTAINER_OPEN_FAILED) and the log stays full: two work items per request.
//! Reports the wall time of the burst alone (the log is filled before the clock starts) and the
//! threads the emulator started for it.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use clfs::mgmt::{
    InstallMode, LogFullOutcome, ManagedClient, ManagementCallbacks, Policy, TailAdvance,
};
use clfs::{ClfsAllocator, LogFile, LogOptions, Lsn, MarshallingArea, MarshallingConfig, NtStatus};

use crate::bench::Res;

/// Clients of the log.
pub(crate) const CLIENTS: usize = 50;
/// Requests per client.
pub(crate) const ROUNDS: usize = 40;

/// Counts LogGrowthComplete callbacks.
#[derive(Default)]
struct Done {
    n: Mutex<u64>,
    cv: Condvar,
}

impl ManagementCallbacks for Done {
    fn advance_tail(&self, _target: Lsn) -> TailAdvance {
        TailAdvance::Pending
    }
    fn log_growth_complete(&self, _status: Result<(), NtStatus>, _pinned: bool) {
        let mut n = self.n.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        self.cv.notify_all();
    }
}

/// One run's figures.
pub(crate) struct Burst {
    pub requests: u64,
    pub secs: f64,
    pub threads: u64,
    pub work_items: u64,
}

fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

pub(crate) fn run() -> Res<Burst> {
    let sb = clfs_emu::Sandbox::new();
    let log = LogFile::create(
        &w("log:C:\\bench\\mgmt-burst"),
        LogOptions::new().create_if_missing(),
    )?;
    log.add_containers(&[&w("%BLF%\\b0"), &w("%BLF%\\b1")], 512 * 1024)?;
    log.install_policy(
        &Policy::MaximumSize { containers: 64 },
        InstallMode::KeepExisting,
    )?;
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024))?;
    let rec = [7u8; 8000];
    loop {
        match area.append(&[&rec]) {
            Ok(_) => {}
            Err(e) if e.status() == Some(NtStatus::LOG_FULL) => break,
            Err(e) => return Err(e.into()),
        }
    }
    clfs_emu::faults::fail_growth(true);
    let done = Done::default();
    let clients = (0..CLIENTS)
        .map(|_| ManagedClient::register(&log, &done))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    let mut requests = 0u64;
    for _ in 0..ROUNDS {
        for c in &clients {
            match c.handle_log_full()? {
                LogFullOutcome::GrowthPending => requests += 1,
                other => return Err(format!("expected GrowthPending, got {other:?}").into()),
            }
        }
        let mut n = done.n.lock().unwrap_or_else(|e| e.into_inner());
        while *n < requests {
            let (g, t) = done
                .cv
                .wait_timeout(n, Duration::from_secs(30))
                .unwrap_or_else(|e| e.into_inner());
            n = g;
            if t.timed_out() {
                return Err(format!("{} of {requests} completions came", *n).into());
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    clfs_emu::faults::fail_growth(false);
    drop(clients);
    drop(area);
    drop(log);
    let st = sb.stats();
    Ok(Burst {
        requests,
        secs,
        threads: st.mgmt_threads,
        work_items: st.mgmt_work_items,
    })
}

pub(crate) fn print(b: &Burst) {
    println!("\n## mgmt: a burst of ClfsMgmtHandleLogFileFull requests ({CLIENTS} clients x {ROUNDS} rounds, growth failing)");
    println!(
        "- {} requests, {} work items, {} emulator thread(s) started, {:.3} s wall ({:.1} us per request)",
        b.requests,
        b.work_items,
        b.threads,
        b.secs,
        b.secs * 1e6 / b.requests.max(1) as f64
    );
}
