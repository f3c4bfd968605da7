//! The sample log scenario, run against the Clfs.sys emulator.
//!
//! A ledger of money transfers: each transfer is a transaction of three records linked by
//! their previous and undo-next LSNs; a restart area records the last committed transfer every
//! 1000 transfers. The example creates the log and its containers, writes a few thousand
//! records through a marshalling area with a custom (tagged-pool) block allocator, flushes,
//! closes, reopens the log, reads everything back and verifies it byte for byte, then prints
//! what happened.
//!
//! ```text
//! cargo run --example ledger [-- <transfers>]
//! ```
//! The log lives under `target/clfs-ledger/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // example code

mod scenario;

use std::sync::atomic::Ordering;
use std::time::Instant;

use scenario::{ALLOCATED, FREED, PEAK};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let transfers: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clfs-ledger");
    let _ = std::fs::remove_dir_all(&root);
    let sandbox = clfs_emu::Sandbox::with_root(&root);
    let started = Instant::now();

    let log = scenario::create_log()?;
    let info = log.info()?;
    println!(
        "log        log:\\SystemRoot\\Logs\\Ledger\\ledger, under {}",
        root.display()
    );
    println!(
        "containers {} x {} KiB, sector {} B, {} KiB available",
        info.containers,
        info.container_size / 1024,
        info.sector_size,
        info.current_available / 1024
    );
    println!(
        "area       {} KiB blocks from NonPagedPoolNx, tag 'Ldgr', at most 4 write / 2 read buffers",
        scenario::BUFFER / 1024
    );
    let summary = scenario::write(log, transfers, 1000, &mut |s| {
        println!(
            "progress   {:>6} records, {:>8} KiB, restart area at {}",
            s.records,
            s.bytes / 1024,
            s.last_commit
        );
    })
    .map_err(|f| f.error)?;
    let first = summary.first.ok_or("no transfers")?;
    println!(
        "appended   {} records, {} bytes, LSNs {first} ..= {}; next LSN {}",
        summary.records, summary.bytes, summary.last, summary.next
    );
    let verified = scenario::verify(summary.records, false, Some(summary.last_commit))?;
    println!("verified   {verified} records byte for byte after closing and reopening; restart area -> {}", summary.last_commit);

    let stats = sandbox.stats();
    println!(
        "emulator   {} flushes, {} blocks written, {} KiB written",
        stats.flushes,
        stats.blocks_written,
        stats.bytes_written / 1024
    );
    println!(
        "blocks     {} allocated through the ledger's allocator, {} freed, at most {} live at once",
        ALLOCATED.load(Ordering::Relaxed),
        FREED.load(Ordering::Relaxed),
        PEAK.load(Ordering::Relaxed)
    );
    let leaks = stats.leaks();
    if !leaks.is_empty() {
        return Err(format!("leaks: {leaks:?}").into());
    }
    println!("teardown   clean: no open logs, areas, read contexts or blocks");
    println!("time       {:.2?}", started.elapsed());
    Ok(())
}
