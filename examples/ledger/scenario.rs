//! The ledger scenario, shared by `cargo run --example ledger` and the fault-injection walk in
//! `tests/faults.rs`.
//!
//! A ledger of money transfers: each transfer is a transaction of three records (debit,
//! credit, commit) linked by their previous and undo-next LSNs; a restart area records the last
//! committed transfer every `restart_every` transfers. The scenario writes, flushes, closes,
//! reopens, reads everything back and verifies it byte for byte.
#![allow(dead_code)] // shared by the example and the test: each uses part of it

use std::sync::atomic::{AtomicU64, Ordering};

use clfs::{
    pool_tag, wide, Append, BlockAllocator, LogFile, LogOptions, Lsn, MarshallingArea,
    MarshallingConfig, PoolType, ReadMode, TaggedPool,
};

/// The ledger's pool tag.
pub const TAG: u32 = pool_tag(*b"Ldgr");
/// The log's name.
pub const LOG: &[u16] = wide!("log:\\SystemRoot\\Logs\\Ledger\\ledger");
/// The marshalling buffer size.
pub const BUFFER: u32 = 64 * 1024;
const STEPS: [&str; 3] = ["debit", "credit", "commit"];

/// The ledger's block allocator: the tagged-pool allocator, with counters for the report.
pub struct LedgerBlocks;
/// Blocks allocated so far (process-wide).
pub static ALLOCATED: AtomicU64 = AtomicU64::new(0);
/// Blocks freed so far.
pub static FREED: AtomicU64 = AtomicU64::new(0);
/// The most blocks live at once.
pub static PEAK: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers to TaggedPool, which upholds the BlockAllocator contract.
unsafe impl BlockAllocator for LedgerBlocks {
    fn allocate(pool: PoolType, bytes: usize, tag: u32) -> *mut core::ffi::c_void {
        let block = <TaggedPool<TAG>>::allocate(pool, bytes, tag);
        if !block.is_null() {
            let live =
                ALLOCATED.fetch_add(1, Ordering::Relaxed) + 1 - FREED.load(Ordering::Relaxed);
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        block
    }
    unsafe fn free(block: *mut core::ffi::c_void) {
        FREED.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `block` came from TaggedPool::<TAG>::allocate in `allocate`.
        unsafe { <TaggedPool<TAG>>::free(block) }
    }
}

/// The deterministic record `step` of transfer `n`: an 8-byte header and a text body.
pub fn record(n: u64, step: usize) -> Vec<u8> {
    let amount = (n * 7919) % 100_000;
    let mut out = n.to_le_bytes().to_vec();
    let text = format!(
        "transfer {n:06} {}: {}.{:02} EUR from account {} to account {};",
        STEPS[step],
        amount / 100,
        amount % 100,
        n % 97,
        (n * 31) % 89
    );
    out.extend_from_slice(text.as_bytes());
    // Vary the size: a memo of 0..~1 KiB.
    let memo = (n as usize * 37 + step * 101) % 1100;
    out.extend(std::iter::repeat_n(b'.', memo));
    out
}

/// The marshalling configuration the ledger uses.
pub fn config() -> MarshallingConfig {
    MarshallingConfig::new(BUFFER)
        .pool(PoolType::NonPagedPoolNx)
        .max_write_buffers(4)
        .max_read_buffers(2)
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Records appended.
    pub records: u64,
    /// Data bytes appended.
    pub bytes: u64,
    /// The first and last record LSNs.
    pub first: Option<Lsn>,
    /// The last record LSN.
    pub last: Lsn,
    /// The LSN the next record would get after the final flush.
    pub next: Lsn,
    /// The last committed transfer, as recorded in the last restart area.
    pub last_commit: Lsn,
    /// How many leading records are known durable (a flush or restart area covered them).
    pub durable_records: u64,
}

/// Why a run stopped.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub error: String,
    /// The CLFS error, when the library reported one.
    pub clfs: Option<clfs::Error>,
    /// What the run had done up to then.
    pub summary: Summary,
}

fn fail(summary: &Summary, error: clfs::Error) -> Box<Failure> {
    Box::new(Failure {
        error: error.to_string(),
        clfs: Some(error),
        summary: summary.clone(),
    })
}

/// Creates the log with four 2 MiB containers.
pub fn create_log() -> Result<LogFile, clfs::Error> {
    let log = LogFile::create(LOG, LogOptions::new().create_new())?;
    let size = log.add_container(wide!("%BLF%\\Container0"), 2 * 1024 * 1024)?;
    log.add_containers(
        &[
            wide!("%BLF%\\Container1"),
            wide!("%BLF%\\Container2"),
            wide!("%BLF%\\Container3"),
        ],
        size,
    )?;
    Ok(log)
}

/// Appends `transfers` transfers to `log` (which must exist), flushes, writes a final restart
/// area and closes. `progress` is called after each restart area.
pub fn write(
    log: LogFile,
    transfers: u64,
    restart_every: u64,
    progress: &mut dyn FnMut(&Summary),
) -> Result<Summary, Box<Failure>> {
    let mut s = Summary::default();
    let area = MarshallingArea::<LedgerBlocks>::create(&log, config()).map_err(|e| fail(&s, e))?;
    for n in 0..transfers {
        let mut previous: Option<Lsn> = None;
        let mut begin = Lsn::NULL;
        for step in 0..STEPS.len() {
            let data = record(n, step);
            let (header, body) = data.split_at(8);
            let mut opts = Append::new();
            if let Some(p) = previous {
                opts = opts.previous(p).undo_next(begin);
            }
            let lsn = area
                .append_with(&[header, body], opts)
                .map_err(|e| fail(&s, e))?;
            if step == 0 {
                begin = lsn;
            }
            s.first.get_or_insert(lsn);
            previous = Some(lsn);
            s.records += 1;
            s.bytes += data.len() as u64;
            s.last = lsn;
        }
        s.last_commit = s.last;
        if (n + 1) % restart_every == 0 {
            area.write_restart(&s.last_commit.raw().to_le_bytes())
                .map_err(|e| fail(&s, e))?;
            s.durable_records = s.records;
            progress(&s);
        }
    }
    s.next = area.flush().map_err(|e| fail(&s, e))?;
    s.durable_records = s.records;
    area.write_restart(&s.last_commit.raw().to_le_bytes())
        .map_err(|e| fail(&s, e))?;
    area.delete().map_err(|e| fail(&s, e))?;
    log.close().map_err(|e| fail(&s, e))?;
    Ok(s)
}

/// Reopens the log and checks that its first `expect_records` records are the ledger's,
/// byte for byte, that no record follows them unless `allow_more`, and, if `check_restart`,
/// that the restart area names `last_commit`. Returns the number of records read.
pub fn verify(
    expect_records: u64,
    allow_more: bool,
    last_commit: Option<Lsn>,
) -> Result<u64, String> {
    // A run that failed while creating the log flushed nothing: a log that cannot be opened or
    // has too few containers for an area is then what is expected.
    let log = match LogFile::create(LOG, LogOptions::new()) {
        Ok(log) => log,
        Err(_) if expect_records == 0 => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    let area = match MarshallingArea::<LedgerBlocks>::create(&log, config()) {
        Ok(area) => area,
        Err(clfs::Error::NotEnoughContainers { .. }) if expect_records == 0 => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    if let Some(expected) = last_commit {
        let restart = area
            .read_restart()
            .map_err(|e| e.to_string())?
            .ok_or("the restart area is missing")?;
        let raw: [u8; 8] = restart
            .current()
            .ok_or("the restart area is missing")?
            .data
            .try_into()
            .map_err(|_| "restart area of the wrong size".to_string())?;
        let got = Lsn::from_raw(u64::from_le_bytes(raw));
        if got != expected {
            return Err(format!("restart area says {got}, expected {expected}"));
        }
    }
    // An empty log and a log whose only record is the first one (0:0x0:0, which equals
    // CLFS_LSN_NULL) report the same LSNs: only reading tells them apart.
    let info = log.info().map_err(|e| e.to_string())?;
    let mut seen = 0u64;
    match area.read(info.base, ReadMode::Forward) {
        Ok(mut cx) => {
            while let Some(r) = cx.next().map_err(|e| e.to_string())? {
                let expected = record(seen / 3, (seen % 3) as usize);
                if r.data != expected.as_slice() {
                    return Err(format!(
                        "record {seen} at {} differs from what was appended",
                        r.lsn
                    ));
                }
                seen += 1;
            }
        }
        Err(e) if expect_records == 0 => {
            let _ = e;
        }
        Err(e) => return Err(e.to_string()),
    }
    if seen < expect_records || (!allow_more && seen != expect_records) {
        return Err(format!(
            "read back {seen} records, expected {expect_records}"
        ));
    }
    area.delete().map_err(|e| e.to_string())?;
    log.close().map_err(|e| e.to_string())?;
    Ok(seen)
}
