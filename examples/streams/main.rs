//! Two streams of one multiplexed log, appended side by side, run against the Clfs.sys emulator.
//!
//! The physical log `log:C:\logs\shared::` gets four 1 MiB containers (the multiplexed
//! container size). Two threads then open one stream each (`::orders`, `::audit`), create
//! their own marshalling area and append their own records at the same time, flush, write a
//! restart area that says where their records start and how many there are, and close. The
//! example then reopens each stream, finds its start through its restart area, reads its
//! records forward and checks them byte for byte: every record of the stream, in order, and
//! none of the other stream's. It prints a summary per stream.
//!
//! LSNs are printed per stream and never compared across streams: the two sequences share the
//! physical log, but an LSN of `orders` says nothing about one of `audit` (`clfs::Lsn`).
//!
//! ```text
//! cargo run --example streams [-- <records per stream>]
//! ```
//! The log lives under `target/clfs-streams/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // example code

use std::time::Instant;

use clfs::{
    wide, ClfsAllocator, Error, LogFile, LogKind, LogOptions, Lsn, MarshallingArea,
    MarshallingConfig, ReadMode, RecordType,
};

/// The physical log and its streams.
const PHYSICAL: &[u16] = wide!("log:C:\\logs\\shared::");
const STREAMS: [(&str, &[u16]); 2] = [
    ("orders", wide!("log:C:\\logs\\shared::orders")),
    ("audit", wide!("log:C:\\logs\\shared::audit")),
];
/// Marshalling buffers of 8 KiB.
const BUFFER: u32 = 8 * 1024;

/// The `i`th record of stream `name`: its name, its index, and a body whose length varies.
fn record(name: &str, i: u64) -> Vec<u8> {
    let mut r = format!("{name} #{i:06} ").into_bytes();
    r.extend((0..(i % 97)).map(|k| b'a' + ((i + k) % 26) as u8));
    r
}

/// What a writer thread did.
struct Written {
    first: Lsn,
    last: Lsn,
    records: u64,
    bytes: u64,
}

/// Opens one stream, appends `count` records through its own marshalling area, flushes, and
/// writes a restart area holding the first LSN and the count.
fn write_stream(name: &str, log_name: &[u16], count: u64) -> Result<Written, Error> {
    let log = LogFile::create(log_name, LogOptions::new().create_if_missing())?;
    assert_eq!(log.kind(), Some(LogKind::Stream));
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(BUFFER))?;
    let mut first = None;
    let mut last = Lsn::NULL;
    let mut bytes = 0;
    for i in 0..count {
        let data = record(name, i);
        last = area.append(&[&data])?;
        first.get_or_insert(last);
        bytes += data.len() as u64;
        if i % 500 == 499 {
            area.flush()?;
        }
    }
    area.flush()?;
    let first = first.unwrap_or(Lsn::NULL);
    let mut restart = first.raw().to_le_bytes().to_vec();
    restart.extend(count.to_le_bytes());
    area.write_restart(&restart)?;
    area.delete()?;
    log.close()?;
    Ok(Written {
        first,
        last,
        records: count,
        bytes,
    })
}

/// Reopens one stream and checks it: its restart area names its first LSN and its count; a
/// forward read from there returns exactly `record(name, 0..count)`.
fn verify_stream(
    name: &str,
    log_name: &[u16],
) -> Result<(u64, Lsn, u32), Box<dyn std::error::Error>> {
    let log = LogFile::create(log_name, LogOptions::new())?;
    let id = log.stream_id()?;
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(BUFFER))?;
    let (first, count) = {
        let restart = area.read_restart()?.ok_or("no restart area")?;
        let data = restart.current().ok_or("no restart area")?.data;
        let first = Lsn::from_raw(u64::from_le_bytes(data[..8].try_into()?));
        (first, u64::from_le_bytes(data[8..16].try_into()?))
    };
    let mut cx = area.read(first, ReadMode::Forward)?;
    let mut seen = 0u64;
    let mut previous: Option<Lsn> = None;
    while let Some(r) = cx.next()? {
        if r.kind() != RecordType::Data {
            continue;
        }
        let expected = record(name, seen);
        if r.data != expected.as_slice() {
            return Err(format!(
                "{name}: record {seen} at {} reads {:?}, expected {:?}",
                r.lsn,
                String::from_utf8_lossy(r.data),
                String::from_utf8_lossy(&expected)
            )
            .into());
        }
        // Within one stream, LSNs increase: this comparison is meaningful.
        if previous.is_some_and(|p| p >= r.lsn) {
            return Err(format!("{name}: LSN {} after {previous:?}", r.lsn).into());
        }
        previous = Some(r.lsn);
        seen += 1;
    }
    drop(cx);
    if seen != count {
        return Err(format!("{name}: read {seen} records, the restart area says {count}").into());
    }
    area.delete()?;
    log.close()?;
    Ok((seen, first, u32::from(id)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2000);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/clfs-streams");
    let _ = std::fs::remove_dir_all(&root);
    let sandbox = clfs_emu::Sandbox::with_root(&root);
    let started = Instant::now();

    // The physical log: containers only; it takes no marshalling area.
    let physical = LogFile::create(PHYSICAL, LogOptions::new().create_if_missing())?;
    let containers = [
        wide!("%BLF%\\shared-0"),
        wide!("%BLF%\\shared-1"),
        wide!("%BLF%\\shared-2"),
        wide!("%BLF%\\shared-3"),
    ];
    let size = physical.add_containers(&containers, 1)?;
    println!("log        log:C:\\logs\\shared:: under {}", root.display());
    println!(
        "physical   the {}, {} containers x {} KiB (multiplexed logs round containers to 1 MiB)",
        physical.kind().unwrap_or(LogKind::Physical),
        containers.len(),
        size / 1024
    );

    // Two streams, two threads, two marshalling areas, appending at the same time.
    let written: Vec<Written> = std::thread::scope(|s| {
        let handles: Vec<_> = STREAMS
            .iter()
            .map(|&(name, log_name)| {
                let sandbox = &sandbox;
                s.spawn(move || {
                    let _in_sandbox = sandbox.enter();
                    write_stream(name, log_name, count)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect::<Result<_, _>>()
    })?;
    for ((name, _), w) in STREAMS.iter().zip(&written) {
        println!(
            "appended   {name:<7} {} records, {} bytes, its LSNs {} ..= {}",
            w.records, w.bytes, w.first, w.last
        );
    }
    let info = physical.physical_info()?;
    println!(
        "physical   {} streams, {} KiB free",
        info.clients,
        info.current_available / 1024
    );
    physical.close()?;

    // Closed; now reopen each stream and read it back.
    for (name, log_name) in STREAMS {
        let (records, first, id) = verify_stream(name, log_name)?;
        println!(
            "verified   {name:<7} stream id {id}: {records} records byte for byte from {first}, in order, none of the other stream's"
        );
    }

    let stats = sandbox.stats();
    println!(
        "emulator   {} flushes, {} blocks written, {} KiB written",
        stats.flushes,
        stats.blocks_written,
        stats.bytes_written / 1024
    );
    let leaks = stats.leaks();
    if !leaks.is_empty() {
        return Err(format!("the emulator's accounts show leaks: {leaks:?}").into());
    }
    println!("accounts   no open log, area, read context or block left");
    println!("time       {:.2?}", started.elapsed());
    Ok(())
}
