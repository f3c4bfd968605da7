//! The driver-author audit's small suggestions (docs/decisions.md, "Driver-author audit"):
//! bounded write blocks by default, comparable container infos, and reservation errors that
//! name the record.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::collections::HashSet;

use clfs::{
    wide, BufferLimit, ContainerInfo, LogFile, LogOptions, MarshallingArea, MarshallingConfig,
    ReadMode, ScanContext,
};
use clfs_emu::Sandbox;

fn dedicated(name: &[u16]) -> LogFile {
    let log = LogFile::create(name, LogOptions::new().create_if_missing()).unwrap();
    log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)
        .unwrap();
    log
}

/// Blocks held by marshalling areas, all pools and tags together.
fn blocks_held(sb: &Sandbox) -> u64 {
    sb.stats().blocks.values().map(|o| o.count).sum()
}

/// `MarshallingConfig::new` bounds the write blocks: appends that each need a block of their
/// own, none flushed, hold at most 10 blocks (with `INFINITE` they held one per append), and
/// every record is still there.
#[test]
fn the_default_config_bounds_the_write_blocks() {
    let sb = Sandbox::new();
    let config = MarshallingConfig::new(4096);
    assert_eq!(config.write_limit(), BufferLimit::AtMost(10));
    assert_eq!(MarshallingConfig::DEFAULT_MAX_WRITE_BUFFERS, 10);
    let log = dedicated(wide!("log:C:\\polish\\bounded"));
    let area = MarshallingArea::<clfs::ClfsAllocator>::create(&log, config).unwrap();
    let record = [0x5a_u8; 3000]; // one record per 4 KiB block
    let mut lsns = Vec::new();
    let mut most = 0;
    for _ in 0..40 {
        lsns.push(area.append(&[&record]).unwrap());
        most = most.max(blocks_held(&sb));
    }
    assert!(
        (1..=10).contains(&most),
        "write blocks held at once: {most} (the default limit is 10)"
    );
    // The blocks written early were flushed, not dropped: all 40 records read back.
    let mut cx = area.read(lsns[0], ReadMode::Forward).unwrap();
    let mut seen = Vec::new();
    while let Some(r) = cx.next().unwrap() {
        assert_eq!(r.data, &record[..]);
        seen.push(r.lsn);
    }
    drop(cx);
    assert_eq!(seen, lsns);

    // Asking for INFINITE still works, and then nothing caps the blocks.
    let log2 = dedicated(wide!("log:C:\\polish\\other\\unbounded"));
    let before = blocks_held(&sb);
    let area2 = MarshallingArea::<clfs::ClfsAllocator>::create(
        &log2,
        MarshallingConfig::new(4096).unlimited_write_buffers(),
    )
    .unwrap();
    for _ in 0..20 {
        area2.append(&[&record]).unwrap();
    }
    assert_eq!(blocks_held(&sb) - before, 20);
    drop((area, area2));
    drop((log, log2));
    assert!(sb.stats().leaks().is_empty(), "{:#?}", sb.stats().leaks());
}

/// Two scans of the same containers give equal infos (usable in sets and maps); a container
/// added in between makes the scans differ in exactly that info.
#[test]
fn container_infos_compare_and_hash() {
    let _sb = Sandbox::new();
    let log = dedicated(wide!("log:C:\\polish\\scan"));
    let scan_all = |log: &LogFile| -> Vec<ContainerInfo> {
        let mut cx = ScanContext::new();
        log.containers(&mut cx)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    let first = scan_all(&log);
    let again = scan_all(&log);
    assert_eq!(first.len(), 2);
    assert_eq!(first, again);
    assert_ne!(first[0], first[1], "two containers, two values");
    let copy = first[0];
    assert_eq!(copy, first[0]);

    log.add_container(wide!("%BLF%\\c2"), 512 * 1024).unwrap();
    let third = scan_all(&log);
    let before: HashSet<ContainerInfo> = first.iter().copied().collect();
    let added: Vec<&ContainerInfo> = third.iter().filter(|c| !before.contains(c)).collect();
    assert_eq!(added.len(), 1, "{added:#?}");
    assert!(String::from_utf16_lossy(added[0].name()).ends_with("c2"));
}

/// Each reservation refusal names the record and the value, and Clfs.sys is not called.
#[test]
fn reservation_refusals_name_the_record() {
    use clfs::{Append, Error, NtStatus};
    let sb = Sandbox::new();
    let log = dedicated(wide!("log:C:\\polish\\reserve"));
    let area =
        MarshallingArea::<clfs::ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();

    let before = sb.stats().clfs_calls();
    let err = area.reserve(&[100, 20, 0, 0]).unwrap_err();
    assert_eq!(err, Error::EmptyReservedRecord { index: 2, count: 4 });
    assert_eq!(
        err.to_string(),
        "reserved record 2 (0-based) of the 4 in this reservation has a size of 0 bytes; \
         a reserved record must hold at least one byte"
    );
    assert_eq!(err.ntstatus(), NtStatus::LOG_RESERVATION_INVALID);
    assert!(err.refused_before_call());
    assert_eq!(sb.stats().clfs_calls(), before, "Clfs.sys was called");

    let mut space = area.reserve(&[40, 40]).unwrap();
    let before = sb.stats().clfs_calls();
    let err = space.append(&[b"", b""], Append::new()).unwrap_err();
    assert_eq!(err, Error::EmptyReservedAppend { entries: 2 });
    assert_eq!(
        err.to_string(),
        "a record appended into a reservation must hold at least one byte, but its 2 write \
         entries hold 0 bytes"
    );
    assert_eq!(sb.stats().clfs_calls(), before, "Clfs.sys was called");

    space.append(&[b"one"], Append::new()).unwrap();
    space.append(&[b"two"], Append::new()).unwrap();
    let before = sb.stats().clfs_calls();
    let err = space.append(&[b"three"], Append::new()).unwrap_err();
    assert_eq!(err, Error::ReservationUsedUp { reserved: 2 });
    assert_eq!(
        err.to_string(),
        "every reserved record has been used: the reservation held 2 records and all were appended"
    );
    assert_eq!(err.ntstatus(), NtStatus::LOG_RESERVATION_INVALID);
    assert_eq!(sb.stats().clfs_calls(), before, "Clfs.sys was called");
    drop(space);
    drop(area);
    drop(log);
    assert!(sb.stats().leaks().is_empty(), "{:#?}", sb.stats().leaks());
}

/// The borrowed values a read hands out hash like their fields: the same record read twice
/// hashes the same, two records differently.
#[test]
fn records_and_container_names_hash() {
    use std::hash::{BuildHasher, RandomState};
    let _sb = Sandbox::new();
    let state = RandomState::new();
    let log = dedicated(wide!("log:C:\\polish\\hash"));
    let area =
        MarshallingArea::<clfs::ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let first = area.append(&[b"a"]).unwrap();
    area.append(&[b"b"]).unwrap();
    let read_all = || -> Vec<u64> {
        let mut cx = area.read(first, ReadMode::Forward).unwrap();
        let mut out = Vec::new();
        while let Some(r) = cx.next().unwrap() {
            out.push(state.hash_one(r));
        }
        out
    };
    let hashes = read_all();
    assert_eq!(hashes.len(), 2);
    assert_ne!(hashes[0], hashes[1]);
    assert_eq!(read_all(), hashes);
    let mut buf = [0u16; 64];
    let name = log.container_name(first.container(), &mut buf).unwrap();
    let mut names = HashSet::new();
    assert!(names.insert(name));
    assert!(!names.insert(name));
}
