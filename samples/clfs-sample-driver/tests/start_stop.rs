//! The sample driver's start/stop scenario, run on the host against the `clfs-emu` emulator.
//!
//! The driver crate is a cdylib only (see its Cargo.toml), so this test compiles the very
//! same `src/logic.rs` the driver image is built from, as a module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/logic.rs"]
#[allow(dead_code)]
mod logic;

use std::path::{Path, PathBuf};

use clfs::{ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig, ReadMode};
use clfs_emu::{faults, Sandbox, Stats};
use logic::{
    restart_area, start, LogSlot, StartError, CONTAINERS, CONTAINER_SIZE, LOG_NAME, POOL_TAG,
    STARTUP_RECORD,
};

/// Where the emulator keeps `log:\SystemRoot\Logs\ClfsSample\sample` under a sandbox root.
fn log_dir(sandbox: &Sandbox) -> PathBuf {
    sandbox
        .root()
        .join("SystemRoot")
        .join("Logs")
        .join("ClfsSample")
}

fn assert_no_leaks(stats: &Stats) {
    assert!(stats.leaks().is_empty(), "leaks: {:?}", stats.leaks());
    for (tag, o) in &stats.pool {
        assert_eq!((o.count, o.bytes), (0, 0), "pool tag {tag:#x} outstanding");
    }
    for (key, o) in &stats.blocks {
        assert_eq!((o.count, o.bytes), (0, 0), "blocks {key:?} outstanding");
    }
}

/// Reopens the log after the driver stopped and returns (the data records from `first` on,
/// the restart area).
fn read_back(first: clfs::Lsn) -> (Vec<(clfs::Lsn, Vec<u8>)>, Vec<u8>) {
    let log = LogFile::create(LOG_NAME, LogOptions::new().create_if_missing()).unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024)).unwrap();
    let restart = area
        .read_restart()
        .unwrap()
        .expect("a restart area was written at stop");
    let restart_data = restart.current().expect("just read").data.to_vec();
    drop(restart);
    let mut records = Vec::new();
    let mut cx = area.read(first, ReadMode::Forward).unwrap();
    while let Some(record) = cx.next().unwrap() {
        records.push((record.lsn, record.data.to_vec()));
    }
    drop(cx);
    area.delete().unwrap();
    log.close().unwrap();
    (records, restart_data)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .len()
}

#[test]
fn the_log_lives_in_the_directory_the_driver_creates() {
    let name = String::from_utf16(LOG_NAME).unwrap();
    let dir = String::from_utf16(logic::LOG_DIRECTORY).unwrap();
    assert_eq!(name, format!("log:{dir}\\sample"));
    assert_eq!(
        String::from_utf16(CONTAINERS[0]).unwrap(),
        "%BLF%\\ClfsSampleC0"
    );
    assert_eq!(
        String::from_utf16(CONTAINERS[1]).unwrap(),
        "%BLF%\\ClfsSampleC1"
    );
    assert_eq!(POOL_TAG.to_le_bytes(), *b"Smpl");
}

#[test]
fn start_then_stop_leaves_startup_record_and_restart_area() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();

    let running = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE).unwrap();
    assert!(SLOT.in_use());
    // The log, its two 512 KiB containers, and blocks from the `Smpl` tagged pool.
    let dir = log_dir(&sandbox);
    assert!(dir.join("sample.blf").is_file());
    assert_eq!(file_len(&dir.join("ClfsSampleC0")), CONTAINER_SIZE);
    assert_eq!(file_len(&dir.join("ClfsSampleC1")), CONTAINER_SIZE);
    let stats = sandbox.stats();
    assert_eq!(stats.open_logs, 1);
    assert_eq!(stats.live_areas, 1);
    assert!(
        stats.pool.get(&POOL_TAG).is_some_and(|o| o.count > 0),
        "{:?}",
        stats.pool
    );
    let startup = running.startup_lsn();

    let stopped = running.stop().unwrap();
    assert_eq!(stopped.startup, startup);
    assert!(!SLOT.in_use());
    assert_no_leaks(&sandbox.stats());
    let calls = sandbox.stats();
    assert_eq!(calls.calls("ClfsWriteRestartArea"), 1);
    assert_eq!(calls.calls("ClfsDeleteMarshallingArea"), 1);
    assert_eq!(calls.calls("ClfsCloseLogFileObject"), 1);

    let (records, restart) = read_back(startup);
    assert_eq!(records, vec![(startup, STARTUP_RECORD.to_vec())]);
    assert_eq!(restart, restart_area(startup));
    assert_no_leaks(&sandbox.stats());
}

#[test]
fn second_load_reuses_the_log_and_its_containers() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();

    let first = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE)
        .unwrap()
        .stop()
        .unwrap();
    let second = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE)
        .unwrap()
        .stop()
        .unwrap();
    assert!(first.startup < second.startup);
    // Containers were added once.
    assert_eq!(sandbox.stats().calls("ClfsAddLogContainerSet"), 1);
    assert_eq!(sandbox.stats().calls("ClfsAddLogContainer"), 0);

    let (records, restart) = read_back(first.startup);
    let lsns: Vec<_> = records.iter().map(|(lsn, _)| *lsn).collect();
    assert_eq!(lsns, vec![first.startup, second.startup]);
    assert!(records.iter().all(|(_, data)| data == &STARTUP_RECORD));
    assert_eq!(restart, restart_area(second.startup));
    assert_no_leaks(&sandbox.stats());
}

#[test]
fn a_log_with_one_container_gets_the_second() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();
    {
        let log = LogFile::create(LOG_NAME, LogOptions::new().create_if_missing()).unwrap();
        log.add_container(CONTAINERS[0], CONTAINER_SIZE).unwrap();
        log.close().unwrap();
    }
    start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE)
        .unwrap()
        .stop()
        .unwrap();
    assert_eq!(sandbox.stats().calls("ClfsAddLogContainer"), 2);
    assert!(log_dir(&sandbox).join("ClfsSampleC1").is_file());
    assert_no_leaks(&sandbox.stats());
}

#[test]
fn every_failing_step_of_start_releases_what_it_took() {
    static SLOT: LogSlot = LogSlot::new();
    const STATUS_LOG_FULL: i32 = 0xC01A_001D_u32 as i32;
    for routine in [
        "ClfsCreateLogFile",
        "ClfsQueryLogFileInformation",
        "ClfsAddLogContainerSet",
        "ClfsCreateMarshallingArea",
        "ClfsReserveAndAppendLog",
    ] {
        let sandbox = Sandbox::new();
        faults::fail_call(routine, 1, STATUS_LOG_FULL);
        match start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE) {
            Err(StartError::Clfs(e)) => {
                assert_eq!(
                    e.status().map(|s| s.code()),
                    Some(0xC01A_001D),
                    "{routine}: {e}"
                );
            }
            other => panic!("{routine}: expected a CLFS error, got {other:?}"),
        }
        assert!(!SLOT.in_use(), "{routine}: slot still claimed");
        assert_no_leaks(&sandbox.stats());
        faults::clear();
    }
}

#[test]
fn a_failing_block_allocation_is_released_too() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();
    faults::fail_alloc(1);
    let err = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE).unwrap_err();
    assert!(matches!(err, StartError::Clfs(_)), "{err}");
    assert!(!SLOT.in_use());
    assert_no_leaks(&sandbox.stats());
}

#[test]
fn a_failing_stop_still_tears_everything_down() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();
    let running = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE).unwrap();
    faults::fail_container_writes(true);
    let err = running.stop().unwrap_err();
    assert!(err.status().is_some(), "{err}");
    faults::clear();
    assert!(!SLOT.in_use());
    assert_no_leaks(&sandbox.stats());
}

#[test]
fn one_session_per_slot() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();
    let running = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE).unwrap();
    assert!(matches!(
        start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE),
        Err(StartError::AlreadyRunning)
    ));
    running.stop().unwrap();
    assert_no_leaks(&sandbox.stats());
}

#[test]
fn dropping_a_session_releases_it() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();
    let running = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE).unwrap();
    drop(running);
    assert!(!SLOT.in_use());
    assert_no_leaks(&sandbox.stats());
    // The start-up record was appended but never flushed, so nothing is durable; the slot
    // can be used again.
    start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE)
        .unwrap()
        .stop()
        .unwrap();
    assert_no_leaks(&sandbox.stats());
}

#[test]
fn start_above_apc_level_is_refused_before_any_clfs_call() {
    static SLOT: LogSlot = LogSlot::new();
    let sandbox = Sandbox::new();
    let irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
    let err = start(&SLOT, LOG_NAME, CONTAINERS, CONTAINER_SIZE).unwrap_err();
    drop(irql);
    match err {
        StartError::Clfs(e) => assert!(e.refused_before_call(), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sandbox.stats().clfs_calls(), 0);
    assert!(!SLOT.in_use());
    assert_no_leaks(&sandbox.stats());
}
