//! Shared helpers for the integration tests: each test runs in its own emulator sandbox.
#![allow(dead_code)]

use clfs::{LogFile, LogOptions};
use clfs_emu::Sandbox;

/// UTF-16 of a runtime string.
pub fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// A new log `name` with `containers` containers of 512 KiB.
/// Appends 8000-byte records through `area` until an append fails with `STATUS_LOG_FULL`
/// (any other failure fails the test); returns the LSNs appended.
pub fn fill_until_full(area: &clfs::MarshallingArea<'_, clfs::ClfsAllocator>) -> Vec<clfs::Lsn> {
    let rec = [7u8; 8000];
    let mut lsns = Vec::new();
    loop {
        match area.append(&[&rec]) {
            Ok(l) => lsns.push(l),
            Err(e) => {
                assert_eq!(e.status(), Some(clfs::NtStatus::LOG_FULL), "{e}");
                return lsns;
            }
        }
        assert!(lsns.len() < 10_000, "the log never filled");
    }
}

pub fn log_with(name: &str, containers: usize) -> LogFile {
    let log = LogFile::create(
        &w(&format!("log:C:\\t\\{name}")),
        LogOptions::new().create_if_missing(),
    )
    .expect("create log");
    for i in 0..containers {
        log.add_container(&w(&format!("%BLF%\\{name}-c{i}")), 512 * 1024)
            .expect("add container");
    }
    log
}

/// Asserts that the sandbox's accounts show no open object, live area, read context or
/// outstanding block.
pub fn assert_no_leaks(sb: &Sandbox) {
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "emulator accounts show leaks: {leaks:#?}");
}
