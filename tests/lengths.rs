//! Lengths returned by Clfs.sys are checked before a slice is formed (issue 11 item 3): the
//! emulator's `faults::override_length` makes one call report a length its buffer cannot hold,
//! and the safe API returns `Error::LengthOutOfRange` naming the values instead of a slice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{ClfsAllocator, Error, Lsn, MarshallingArea, MarshallingConfig, NtStatus, ReadMode};
use clfs_emu::{faults, Sandbox};
use common::{assert_no_leaks, log_with};

const BUFFER: u32 = 4096;

#[test]
fn a_record_longer_than_the_block_is_an_error_not_a_slice() {
    let sb = Sandbox::new();
    let log = log_with("len-next", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(BUFFER))
        .expect("area");
    let first = area.append(&[b"one"]).expect("append");
    area.append(&[b"two"]).expect("append");
    area.append(&[b"three"]).expect("append");
    let mut cx = area.read(first, ReadMode::Forward).expect("read");
    assert_eq!(cx.next().expect("pending").expect("record").data, b"one");
    faults::override_length("ClfsReadNextLogRecord", 1, BUFFER + 1);
    let err = cx.next().unwrap_err();
    assert_eq!(
        err,
        Error::LengthOutOfRange {
            routine: "ClfsReadNextLogRecord",
            what: "a record",
            len: 4097,
            limit: 4096
        }
    );
    assert_eq!(
        err.to_string(),
        "ClfsReadNextLogRecord returned a length of 4097 bytes for a record, but its buffer holds at most 4096 bytes"
    );
    assert!(!err.refused_before_call(), "Clfs.sys was called");
    assert_eq!(err.ntstatus(), NtStatus::LOG_METADATA_INCONSISTENT);
    // The context stays usable: the next step reads the record after the refused one.
    assert_eq!(cx.next().expect("next").expect("record").data, b"three");
    drop(cx);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn the_record_that_opens_a_context_is_checked_and_the_context_terminated() {
    let sb = Sandbox::new();
    let log = log_with("len-open", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(BUFFER))
        .expect("area");
    let lsn = area.append(&[b"payload"]).expect("append");
    let terminated = sb.stats().calls("ClfsTerminateReadLog");
    faults::override_length("ClfsReadLogRecord", 1, u32::MAX);
    let err = area.read(lsn, ReadMode::Forward).unwrap_err();
    assert_eq!(
        err,
        Error::LengthOutOfRange {
            routine: "ClfsReadLogRecord",
            what: "a record",
            len: u64::from(u32::MAX),
            limit: 4096
        }
    );
    assert_eq!(
        sb.stats().calls("ClfsTerminateReadLog") - terminated,
        1,
        "the opened context is terminated, not leaked"
    );
    assert_eq!(sb.stats().live_read_contexts, 0);
    // Without the override the same read works.
    let mut cx = area.read(lsn, ReadMode::Forward).expect("read");
    assert_eq!(cx.next().expect("next").expect("record").data, b"payload");
    drop(cx);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn restart_areas_are_checked_on_open_and_on_each_step() {
    let sb = Sandbox::new();
    let log = log_with("len-restart", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(BUFFER))
        .expect("area");
    area.write_restart(b"checkpoint 1").expect("restart");
    area.write_restart(b"checkpoint 2").expect("restart");
    faults::override_length("ClfsReadRestartArea", 1, 70_000);
    let err = area.read_restart().unwrap_err();
    assert_eq!(
        err.to_string(),
        "ClfsReadRestartArea returned a length of 70000 bytes for a restart area, but its buffer holds at most 4096 bytes"
    );
    assert_eq!(sb.stats().live_read_contexts, 0, "terminated");
    let mut cx = area.read_restart().expect("read").expect("a restart area");
    assert_eq!(cx.current().expect("current").data, b"checkpoint 2");
    faults::override_length("ClfsReadPreviousRestartArea", 1, BUFFER + 512);
    assert_eq!(
        cx.previous().unwrap_err(),
        Error::LengthOutOfRange {
            routine: "ClfsReadPreviousRestartArea",
            what: "a restart area",
            len: 4608,
            limit: 4096
        }
    );
    assert!(cx.current().is_none(), "nothing is lent after the refusal");
    drop(cx);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn a_query_that_reports_more_than_the_callers_buffer_is_refused() {
    let sb = Sandbox::new();
    let log = log_with("len-info", 2);
    faults::override_length("ClfsQueryLogFileInformation", 1, 4096);
    assert_eq!(
        log.info().unwrap_err(),
        Error::LengthOutOfRange {
            routine: "ClfsQueryLogFileInformation",
            what: "CLFS_INFORMATION",
            len: 4096,
            limit: 120
        }
    );
    assert_eq!(log.info().expect("info").containers, 2);
    assert!(log.info().expect("info").last >= Lsn::NULL);
    log.close().expect("close");
    assert_no_leaks(&sb);
}
