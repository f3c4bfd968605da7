//! Shared helpers for the integration tests: each test runs in its own emulator sandbox.
#![allow(dead_code)]

use clfs::{LogFile, LogOptions};
use clfs_emu::Sandbox;

/// UTF-16 of a runtime string.
pub fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// A new log `name` with `containers` containers of 512 KiB.
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
