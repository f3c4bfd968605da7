//! Outputs of a CLFS routine that reported success are checked like any hostile input: a NULL
//! object or context, `CLFS_LSN_INVALID` as an LSN, or a length short of its structure is
//! `Error::InconsistentOutput` (or `Error::LengthOutOfRange` for a length past its buffer),
//! whose message names the rule and the values. Before, these were
//! `Error::Status { status: STATUS_UNSUCCESSFUL }`, whose message said the routine failed.
//!
//! The emulator's `faults::fail_call(routine, n, STATUS_SUCCESS)` makes a call return success
//! without doing anything (every out-parameter keeps what the caller put there), and
//! `faults::override_length` makes one return a wrong length.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::mgmt::{ManagedClient, ManagementCallbacks, TailAdvance};
use clfs::{
    Append, ClfsAllocator, Error, Inconsistency, LogFile, LogOptions, Lsn, MarshallingArea,
    MarshallingConfig, MarshallingFlags, NtStatus, ReadMode, ScanContext,
};
use clfs_emu::{faults, status::STATUS_SUCCESS, Sandbox};
use common::{assert_no_leaks, log_with, w};

/// Asserts `err` is the variant with these fields and this exact message, that it maps to
/// `STATUS_LOG_METADATA_INCONSISTENT`, carries no failure status, and says Clfs.sys was
/// called.
fn assert_inconsistent(err: &Error, routine: &str, detail: Inconsistency, message: &str) {
    match err {
        Error::InconsistentOutput {
            routine: r,
            detail: d,
        } => {
            assert_eq!((*r, *d), (routine, detail), "{err}");
        }
        other => panic!("expected InconsistentOutput, got {other:?}"),
    }
    assert_eq!(err.to_string(), message);
    assert_eq!(err.ntstatus(), NtStatus::LOG_METADATA_INCONSISTENT);
    assert_eq!(err.status(), None, "Clfs.sys did not fail");
    assert!(!err.refused_before_call(), "Clfs.sys was called");
}

fn area(log: &LogFile) -> MarshallingArea<'_, ClfsAllocator> {
    MarshallingArea::<ClfsAllocator>::create(log, MarshallingConfig::new(4096)).expect("area")
}

#[test]
fn create_log_file_success_without_an_object() {
    let sb = Sandbox::new();
    let before = sb.stats().calls("ClfsCreateLogFile");
    faults::fail_call("ClfsCreateLogFile", 1, STATUS_SUCCESS);
    let err = LogFile::create(
        &w("log:C:\\t\\io-null-log"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsCreateLogFile",
        Inconsistency::Null {
            what: "log file object",
        },
        "ClfsCreateLogFile reported success but returned a NULL log file object",
    );
    assert_eq!(sb.stats().calls("ClfsCreateLogFile"), before + 1);
    // The next create goes through.
    let log = LogFile::create(
        &w("log:C:\\t\\io-null-log"),
        LogOptions::new().create_if_missing(),
    )
    .expect("create");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn create_marshalling_area_success_without_a_context() {
    let sb = Sandbox::new();
    let log = log_with("io-null-area", 2);
    faults::fail_call("ClfsCreateMarshallingArea", 1, STATUS_SUCCESS);
    let err =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsCreateMarshallingArea",
        Inconsistency::Null {
            what: "marshalling context",
        },
        "ClfsCreateMarshallingArea reported success but returned a NULL marshalling context",
    );
    faults::fail_call("ClfsCreateMarshallingAreaEx", 1, STATUS_SUCCESS);
    let err = MarshallingArea::<ClfsAllocator>::create_ex(
        &log,
        MarshallingConfig::new(4096),
        0,
        MarshallingFlags::empty(),
    )
    .unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsCreateMarshallingAreaEx",
        Inconsistency::Null {
            what: "marshalling context",
        },
        "ClfsCreateMarshallingAreaEx reported success but returned a NULL marshalling context",
    );
    area(&log).delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

struct Quiet;

impl ManagementCallbacks for Quiet {
    fn advance_tail(&self, _target: Lsn) -> TailAdvance {
        TailAdvance::Pending
    }
}

#[test]
fn register_managed_client_success_without_a_cookie() {
    let sb = Sandbox::new();
    let log = log_with("io-null-mgmt", 2);
    let callbacks = Quiet;
    faults::fail_call("ClfsMgmtRegisterManagedClient", 1, STATUS_SUCCESS);
    let err = ManagedClient::register(&log, &callbacks).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsMgmtRegisterManagedClient",
        Inconsistency::Null {
            what: "client cookie",
        },
        "ClfsMgmtRegisterManagedClient reported success but returned a NULL client cookie",
    );
    let client = ManagedClient::register(&log, &callbacks).expect("register");
    drop(client);
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn read_success_without_a_read_context() {
    let sb = Sandbox::new();
    let log = log_with("io-null-read", 2);
    let area = area(&log);
    let lsn = area.append(&[b"record"]).expect("append");
    area.write_restart(b"checkpoint").expect("restart");
    faults::fail_call("ClfsReadLogRecord", 1, STATUS_SUCCESS);
    let err = area.read(lsn, ReadMode::Forward).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsReadLogRecord",
        Inconsistency::Null {
            what: "read context",
        },
        "ClfsReadLogRecord reported success but returned a NULL read context",
    );
    faults::fail_call("ClfsReadRestartArea", 1, STATUS_SUCCESS);
    let err = area.read_restart().unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsReadRestartArea",
        Inconsistency::Null {
            what: "read context",
        },
        "ClfsReadRestartArea reported success but returned a NULL read context",
    );
    // Both work again afterwards.
    let mut cx = area.read(lsn, ReadMode::Forward).expect("read");
    assert_eq!(cx.next().expect("next").expect("record").data, b"record");
    drop(cx);
    let restart = area
        .read_restart()
        .expect("read restart")
        .expect("a restart area");
    assert_eq!(restart.current().expect("current").data, b"checkpoint");
    drop(restart);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn appends_and_flushes_that_return_no_lsn() {
    let sb = Sandbox::new();
    let log = log_with("io-invalid-lsn", 2);
    let area = area(&log);
    faults::fail_call("ClfsReserveAndAppendLog", 1, STATUS_SUCCESS);
    let err = area.append(&[b"lost"]).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsReserveAndAppendLog",
        Inconsistency::InvalidLsn {
            what: "the record's LSN",
        },
        "ClfsReserveAndAppendLog reported success but returned CLFS_LSN_INVALID as the record's LSN",
    );
    faults::fail_call("ClfsReserveAndAppendLogAligned", 1, STATUS_SUCCESS);
    let err = area
        .append_aligned(&[b"lost"], 8, Append::new())
        .unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsReserveAndAppendLogAligned",
        Inconsistency::InvalidLsn {
            what: "the record's LSN",
        },
        "ClfsReserveAndAppendLogAligned reported success but returned CLFS_LSN_INVALID as the record's LSN",
    );
    let kept = area.append(&[b"kept"]).expect("append");
    faults::fail_call("ClfsFlushToLsn", 1, STATUS_SUCCESS);
    let err = area.flush().unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsFlushToLsn",
        Inconsistency::InvalidLsn {
            what: "the first LSN not flushed",
        },
        "ClfsFlushToLsn reported success but returned CLFS_LSN_INVALID as the first LSN not flushed",
    );
    assert!(area.flush().expect("flush") > kept);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn physical_info_length_short_of_clfs_information() {
    let sb = Sandbox::new();
    let log = log_with("io-short-info", 2);
    faults::override_length("ClfsQueryLogFileInformation", 1, 40);
    let err = log.physical_info().unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsQueryLogFileInformation",
        Inconsistency::ShortLength {
            what: "CLFS_INFORMATION",
            len: 40,
            min: 120,
        },
        "ClfsQueryLogFileInformation reported success but returned a length of 40 bytes for CLFS_INFORMATION, which needs at least 120 bytes",
    );
    // A length past the caller's buffer is LengthOutOfRange, as for `info`.
    faults::override_length("ClfsQueryLogFileInformation", 1, 4096);
    let err = log.physical_info().unwrap_err();
    assert_eq!(
        err,
        Error::LengthOutOfRange {
            routine: "ClfsQueryLogFileInformation",
            what: "CLFS_INFORMATION",
            len: 4096,
            limit: 120
        }
    );
    assert_eq!(
        err.to_string(),
        "ClfsQueryLogFileInformation returned a length of 4096 bytes for CLFS_INFORMATION, but its buffer holds at most 120 bytes"
    );
    assert_eq!(log.physical_info().expect("info").containers, 2);
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn physical_name_outputs_that_contradict_the_buffer() {
    let sb = Sandbox::new();
    let log = log_with("io-name", 2);
    // No room even for the length element, yet success.
    faults::fail_call("ClfsQueryLogFileInformation", 1, STATUS_SUCCESS);
    let err = log.physical_name(&mut []).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsQueryLogFileInformation",
        Inconsistency::ShortLength {
            what: "CLFS_LOG_NAME_INFORMATION",
            len: 0,
            min: 2,
        },
        "ClfsQueryLogFileInformation reported success but returned a length of 0 bytes for CLFS_LOG_NAME_INFORMATION, which needs at least 2 bytes",
    );
    // A success that wrote nothing leaves the caller's first element as the name's length.
    let mut buf = [0u16; 8];
    buf[0] = 5;
    faults::fail_call("ClfsQueryLogFileInformation", 1, STATUS_SUCCESS);
    let err = log.physical_name(&mut buf).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsQueryLogFileInformation",
        Inconsistency::OddLength {
            what: "the physical log name",
            len: 5,
        },
        "ClfsQueryLogFileInformation reported success but returned an odd length of 5 bytes for the physical log name, which is UTF-16 (2 bytes a unit)",
    );
    buf[0] = 200;
    faults::fail_call("ClfsQueryLogFileInformation", 1, STATUS_SUCCESS);
    let err = log.physical_name(&mut buf).unwrap_err();
    assert_eq!(
        err,
        Error::LengthOutOfRange {
            routine: "ClfsQueryLogFileInformation",
            what: "the physical log name",
            len: 200,
            limit: 14
        }
    );
    assert_eq!(
        err.to_string(),
        "ClfsQueryLogFileInformation returned a length of 200 bytes for the physical log name, but its buffer holds at most 14 bytes"
    );
    let mut buf = [0u16; 64];
    assert_eq!(
        String::from_utf16_lossy(log.physical_name(&mut buf).expect("name")),
        "C:\\t\\io-name.blf"
    );
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn io_statistics_success_that_wrote_nothing() {
    let sb = Sandbox::new();
    let log = log_with("io-stats", 2);
    faults::fail_call("ClfsGetIoStatistics", 1, STATUS_SUCCESS);
    let err = log.io_statistics().unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsGetIoStatistics",
        Inconsistency::ShortLength {
            what: "CLFS_IO_STATISTICS",
            len: 0,
            min: 48,
        },
        "ClfsGetIoStatistics reported success but returned a length of 0 bytes for CLFS_IO_STATISTICS, which needs at least 48 bytes",
    );
    assert!(log.io_statistics().expect("stats").metadata_flushes >= 1);
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn container_name_success_that_wrote_nothing() {
    let sb = Sandbox::new();
    let log = log_with("io-cname", 2);
    let mut buf = [0u16; 260];
    faults::fail_call("ClfsGetContainerName", 1, STATUS_SUCCESS);
    let err = log.container_name(0, &mut buf).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsGetContainerName",
        Inconsistency::Empty {
            what: "container name",
        },
        "ClfsGetContainerName reported success but returned an empty container name",
    );
    let name = log.container_name(0, &mut buf).expect("name");
    assert!(!name.name.is_empty() && !name.is_truncated());
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn reads_that_return_no_lsn() {
    let sb = Sandbox::new();
    let log = log_with("io-read-lsn", 2);
    let area = area(&log);
    let first = area.append(&[b"one"]).expect("append");
    area.append(&[b"two"]).expect("append");
    area.write_restart(b"checkpoint 1").expect("restart");
    area.write_restart(b"checkpoint 2").expect("restart");
    let mut cx = area.read(first, ReadMode::Forward).expect("read");
    assert_eq!(cx.next().expect("next").expect("record").data, b"one");
    faults::fail_call("ClfsReadNextLogRecord", 1, STATUS_SUCCESS);
    let err = cx.next().unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsReadNextLogRecord",
        Inconsistency::InvalidLsn {
            what: "the record's LSN",
        },
        "ClfsReadNextLogRecord reported success but returned CLFS_LSN_INVALID as the record's LSN",
    );
    // The call did nothing: the next step reads the record after "one".
    assert_eq!(cx.next().expect("next").expect("record").data, b"two");
    drop(cx);
    let mut rc = area.read_restart().expect("read").expect("restart");
    faults::fail_call("ClfsReadPreviousRestartArea", 1, STATUS_SUCCESS);
    let err = rc.previous().unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsReadPreviousRestartArea",
        Inconsistency::InvalidLsn {
            what: "the restart record's LSN",
        },
        "ClfsReadPreviousRestartArea reported success but returned CLFS_LSN_INVALID as the restart record's LSN",
    );
    assert!(rc.current().is_none(), "nothing is lent after the refusal");
    assert_eq!(
        rc.previous().expect("previous").expect("older").data,
        b"checkpoint 1"
    );
    drop(rc);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn a_scan_step_that_returns_no_container_is_not_the_end() {
    let sb = Sandbox::new();
    let log = log_with("io-scan", 3);
    let mut cx = ScanContext::new();
    let mut scan = log.containers(&mut cx).expect("scan");
    faults::fail_call("ClfsScanLogContainers", 1, STATUS_SUCCESS);
    // Before, this success with cContainersReturned 0 ended the scan: 0 of 3 containers and
    // no error.
    let err = scan.next().expect("an item").unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsScanLogContainers",
        Inconsistency::Empty {
            what: "container array (cContainersReturned 0; a scan ends with STATUS_NO_MORE_ENTRIES)",
        },
        "ClfsScanLogContainers reported success but returned an empty container array (cContainersReturned 0; a scan ends with STATUS_NO_MORE_ENTRIES)",
    );
    assert!(
        scan.next().is_none(),
        "a failure is yielded once, then the scan ends"
    );
    scan.close().expect("close");
    let mut cx = ScanContext::new();
    assert_eq!(log.containers(&mut cx).expect("scan").count(), 3);
    log.close().expect("close");
    assert_no_leaks(&sb);
}
