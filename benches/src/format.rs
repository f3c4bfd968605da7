//! `format`: the clfs-format reader's throughput on container data, against the same bytes
//! put through CRC-32 plus a memcpy (the cost of reading and checking them at the least).
//!
//! A container of `CLFS_BENCH_FORMAT_MIB` MiB (default 64) is written with `BlockBuilder`:
//! records of one payload size packed into blocks of up to 64 KiB (the emulator's
//! marshalling-buffer size). The reader run is `ContainerWalker`: every block's signatures
//! checked, the block copied into one buffer with its fixups restored, its records checked and
//! each record's data handed out (a borrowed slice), plus the CRC-32 check when the blocks
//! carry one. `scan_container` does the same and also copies each record's data into a
//! `Vec` of its own (the owned form `clfs-dump` uses). Best of `CLFS_BENCH_REPS` (default 5)
//! runs each, timed in on-CPU nanoseconds of the thread (`/proc/thread-self/schedstat`) so
//! that other load on the machine does not count.

use std::hint::black_box;
use std::time::{Duration, Instant};

use clfs_format::{
    scan_container, BlockBuilder, ContainerContext, ContainerWalker, Lsn, RECORD_TYPE_DATA,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const BLOCK_MAX: usize = 0x10000;

fn container(mib: usize, payload: usize, crc: bool) -> Res<Vec<u8>> {
    let size = mib << 20;
    let mut c = Vec::with_capacity(size);
    let data = vec![0x5au8; payload];
    while c.len() < size {
        let off = c.len() as u32;
        let mut b = BlockBuilder::new(Lsn::new(0, off, 0), 1).checksum(crc);
        while b.len() < 500 && b.block_size_with(payload) <= BLOCK_MAX {
            b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &data)?;
        }
        if b.is_empty() {
            b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &data)?;
        }
        let blk = b.finish(Lsn::INVALID)?;
        if c.len() + blk.len() > size {
            break;
        }
        c.extend_from_slice(&blk);
    }
    Ok(c)
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`, first field):
/// unlike wall time, it does not count the time other processes hold the CPU.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The best of `reps` runs of `f`, in on-CPU time where the kernel reports it (else wall time).
fn best(reps: usize, mut f: impl FnMut()) -> Duration {
    (0..reps.max(1))
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_ns());
            f();
            match (c, cpu_ns()) {
                (Some(a), Some(b)) => Duration::from_nanos(b.saturating_sub(a)),
                _ => t.elapsed(),
            }
        })
        .min()
        .unwrap_or_default()
}

/// One row: payload size, checksummed blocks or not, records, reader MB/s, bound MB/s.
pub(crate) struct Row {
    payload: usize,
    crc: bool,
    records: usize,
    bytes: usize,
    reader: Duration,
    owned: Duration,
    bound: Duration,
}

pub(crate) fn run() -> Res<Vec<Row>> {
    let mib = env_usize("CLFS_BENCH_FORMAT_MIB", 64);
    let reps = env_usize("CLFS_BENCH_REPS", 5);
    let mut rows = Vec::new();
    for crc in [false, true] {
        for payload in [64usize, 1024, 16384] {
            let c = container(mib, payload, crc)?;
            let ctx = ContainerContext::new(0, 0, c.len() as u64);
            let mut records = 0;
            let reader = best(reps, || {
                let mut w = ContainerWalker::new(black_box(&c), "bench", &ctx);
                let mut n = 0usize;
                // The container is sound: no step is an error (the owned run below asserts it).
                while let Some(b) = w.next_block() {
                    if let Ok(b) = b {
                        for r in b.records().flatten() {
                            black_box(r.data);
                            n += 1;
                        }
                    }
                }
                records = n;
            });
            let owned = best(reps, || {
                let s = scan_container(black_box(&c), "bench", &ctx);
                assert!(s.errors.is_empty() && s.records.len() == records);
                black_box(s);
            });
            let mut copy = vec![0u8; c.len()];
            let bound = best(reps, || {
                let crc = crc32fast::hash(black_box(&c));
                copy.copy_from_slice(black_box(&c));
                black_box((crc, &copy));
            });
            rows.push(Row {
                payload,
                crc,
                records,
                bytes: c.len(),
                reader,
                owned,
                bound,
            });
        }
    }
    Ok(rows)
}

fn mbs(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

pub(crate) fn print(rows: &[Row]) {
    println!("\n## format: clfs-format reader vs CRC-32 + memcpy of the same container bytes (MB per on-CPU second)");
    println!("| record payload | block CRC | records | MiB | walker MB/s | scan_container MB/s | CRC-32 + memcpy MB/s | walker / bound | scan_container / bound |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let (a, o, b) = (
            mbs(r.bytes, r.reader),
            mbs(r.bytes, r.owned),
            mbs(r.bytes, r.bound),
        );
        println!(
            "| {} B | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
            r.payload,
            if r.crc { "yes" } else { "no (as Windows)" },
            r.records,
            r.bytes >> 20,
            a,
            o,
            b,
            a / b,
            o / b
        );
    }
}
