//! Outputs of a CLFS routine that reported success are checked like any hostile input: a NULL
//! object or context, `CLFS_LSN_INVALID` as an LSN, or a length short of its structure is
//! `Error::InconsistentOutput` (or `Error::LengthOutOfRange` for a length past its buffer),
//! whose message names the rule and the values. Before, these were
//! `Error::Status { status: STATUS_UNSUCCESSFUL }`, whose message said the routine failed.
//!
//! The emulator's `faults::fail_call(routine, n, STATUS_SUCCESS)` makes a call return success
//! without doing anything (every out-parameter keeps what the caller put there),
//! `faults::override_length` makes one return a wrong length, and `faults::override_output`
//! a wrong value in a named output (a full length, a header's length or offset, a scan's
//! count or array).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::mgmt::{
    InstallMode, ManagedClient, ManagementCallbacks, Policy, PolicyBuf, PolicyKind, TailAdvance,
};
use clfs::{
    Append, ClfsAllocator, Error, Inconsistency, LogFile, LogOptions, Lsn, MarshallingArea,
    MarshallingConfig, MarshallingFlags, NtStatus, ReadMode, ScanContext,
};
use clfs_emu::{faults, status::STATUS_SUCCESS, Sandbox};
use common::{assert_no_leaks, log_with, w};

/// Asserts `err` is the variant with these fields (`status` `STATUS_SUCCESS`) and this exact
/// message, that it maps to `STATUS_LOG_METADATA_INCONSISTENT`, carries no failure status,
/// and says Clfs.sys was called.
fn assert_inconsistent(err: &Error, routine: &str, detail: Inconsistency, message: &str) {
    assert_inconsistent_with(err, routine, NtStatus::SUCCESS, detail, message);
}

/// [`assert_inconsistent`] for outputs that came with `status` (a warning that still fills
/// them, such as `STATUS_BUFFER_OVERFLOW`).
fn assert_inconsistent_with(
    err: &Error,
    routine: &str,
    status: NtStatus,
    detail: Inconsistency,
    message: &str,
) {
    match err {
        Error::InconsistentOutput {
            routine: r,
            status: s,
            detail: d,
        } => {
            assert_eq!((*r, *s, *d), (routine, status, detail), "{err}");
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
    // Without a cookie the registration cannot be ended, so its cell was revoked and leaked
    // (Clfs.sys may hold it): the one expected leak, under its own tag.
    assert_eq!(
        sb.stats().leaks(),
        vec![
            "1 ExAllocatePool2 allocation(s) (16 bytes) not freed, tag 'ClMc' (0x634D6C43)"
                .to_string()
        ]
    );
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

/// `LogFile::info` (class 0, which `scan_containers`, `read` and the LSN checks rely on)
/// refuses a length short of `CLFS_INFORMATION` as `physical_info` does. Before, the fields
/// past it read as zero: a container scan of a 3-container log was empty, without an error.
#[test]
fn info_length_short_of_clfs_information() {
    let sb = Sandbox::new();
    let log = log_with("io-info-short", 3);
    const Q: &str = "ClfsQueryLogFileInformation";
    let short = |len: u64| Inconsistency::ShortLength {
        what: "CLFS_INFORMATION",
        len,
        min: 120,
    };
    faults::override_length(Q, 1, 64);
    assert_inconsistent(
        &log.info().unwrap_err(),
        Q,
        short(64),
        "ClfsQueryLogFileInformation reported success but returned a length of 64 bytes for CLFS_INFORMATION, which needs at least 120 bytes",
    );
    // The scan asks info() for the container count first.
    faults::override_length(Q, 1, 8);
    let mut cx = ScanContext::new();
    assert_inconsistent(
        &log.containers(&mut cx).unwrap_err(),
        Q,
        short(8),
        "ClfsQueryLogFileInformation reported success but returned a length of 8 bytes for CLFS_INFORMATION, which needs at least 120 bytes",
    );
    assert_eq!(sb.stats().calls("ClfsCreateScanContext"), 0);
    assert_eq!(log.containers(&mut cx).expect("scan").count(), 3);
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

/// `ClfsReadRestartArea` opens a context, so `fail_call(.., STATUS_SUCCESS)` stops at the NULL
/// context; the LSN rule needs the real call with `CLFS_LSN_INVALID` in `*plsn`. The context it
/// opened is terminated, and the next read works.
#[test]
fn read_restart_without_an_lsn() {
    let sb = Sandbox::new();
    let log = log_with("io-restart-lsn", 2);
    let area = area(&log);
    area.write_restart(b"checkpoint").expect("restart");
    faults::override_output("ClfsReadRestartArea", "plsn", 1, 0);
    assert_inconsistent(
        &area.read_restart().unwrap_err(),
        "ClfsReadRestartArea",
        Inconsistency::InvalidLsn {
            what: "the restart record's LSN",
        },
        "ClfsReadRestartArea reported success but returned CLFS_LSN_INVALID as the restart record's LSN",
    );
    assert_eq!(
        sb.stats().live_read_contexts,
        0,
        "the context was terminated"
    );
    let rc = area.read_restart().expect("read").expect("restart");
    assert_eq!(rc.current().expect("current").data, b"checkpoint");
    drop(rc);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

/// A NULL buffer with a non-zero length is a length past a buffer of 0 bytes, on each of the
/// four reads; no slice is made over it. A context a refused read opened is terminated; one
/// that was stepping stays usable.
#[test]
fn reads_that_return_a_null_buffer() {
    let sb = Sandbox::new();
    let log = log_with("io-read-null", 2);
    let area = area(&log);
    let first = area.append(&[b"hello"]).expect("append");
    area.append(&[b"world!"]).expect("append");
    area.write_restart(b"checkpoint 1").expect("restart");
    area.write_restart(b"checkpoint 2").expect("restart");
    let null = |routine, what, len: u64| {
        (
            routine,
            what,
            len,
            format!("{routine} returned a length of {len} bytes for {what}, but its buffer holds at most 0 bytes"),
        )
    };

    faults::override_output("ClfsReadLogRecord", "ppvReadBuffer", 1, 0);
    let (r, w, l, m) = null("ClfsReadLogRecord", "a record", 5);
    assert_out_of_range(
        &area.read(first, ReadMode::Forward).unwrap_err(),
        r,
        w,
        l,
        0,
        &m,
    );
    assert_eq!(
        sb.stats().live_read_contexts,
        0,
        "the context was terminated"
    );

    let mut cx = area.read(first, ReadMode::Forward).expect("read");
    assert_eq!(cx.next().expect("next").expect("record").data, b"hello");
    faults::override_output("ClfsReadNextLogRecord", "ppvBuffer", 1, 0);
    let (r, w, l, m) = null("ClfsReadNextLogRecord", "a record", 6);
    assert_out_of_range(&cx.next().unwrap_err(), r, w, l, 0, &m);
    drop(cx);

    faults::override_output("ClfsReadRestartArea", "ppvRestartBuffer", 1, 0);
    let (r, w, l, m) = null("ClfsReadRestartArea", "a restart area", 12);
    assert_out_of_range(&area.read_restart().unwrap_err(), r, w, l, 0, &m);
    assert_eq!(
        sb.stats().live_read_contexts,
        0,
        "the context was terminated"
    );

    let mut rc = area.read_restart().expect("read").expect("restart");
    assert_eq!(rc.current().expect("current").data, b"checkpoint 2");
    faults::override_output("ClfsReadPreviousRestartArea", "ppvRestartBuffer", 1, 0);
    let (r, w, l, m) = null("ClfsReadPreviousRestartArea", "a restart area", 12);
    assert_out_of_range(&rc.previous().unwrap_err(), r, w, l, 0, &m);
    drop(rc);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

/// A reservation returns the space reserved for each record, which the guard frees by later;
/// less than the record is refused. Before, the guard kept the size (a negative one would
/// have reserved more at the free instead of freeing). The records are freed again by the
/// sizes asked for, and the area takes a new guard.
#[test]
fn a_reservation_smaller_than_its_record() {
    let sb = Sandbox::new();
    let log = log_with("io-reserve", 2);
    let area = area(&log);
    const R: &str = "ClfsReserveAndAppendLog";
    let calls = sb.stats().calls(R);
    faults::override_output(R, "rgcbReservation", 1, 8);
    assert_inconsistent(
        &area.reserve(&[100, 200]).unwrap_err(),
        R,
        Inconsistency::ReservationBelowRecord {
            reserved: 8,
            record: 100,
        },
        "ClfsReserveAndAppendLog reported success but returned a reservation of 8 bytes (rgcbReservation) for a record of 100 bytes: the space reserved includes the record, so it is at least 100",
    );
    // The reservation and the free that undid it.
    assert_eq!(sb.stats().calls(R), calls + 2);
    assert_eq!(sb.stats().reserved_records, 0);
    assert_eq!(log.info().expect("info").total_reservation, 0);
    let mut guard = area.reserve(&[100]).expect("reserve");
    guard.append(&[b"undo"], Append::new()).expect("append");
    drop(guard);
    assert_eq!(log.info().expect("info").total_reservation, 0);
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

/// The scan array rules, end to end: a step that says it returned more containers than the
/// one-entry array the library asked for, or containers in a NULL array, is refused before
/// the array is read; the failure is yielded once, the scan ends, and the context is closed
/// (by `close` or by drop) so nothing leaks.
#[test]
fn scan_steps_with_more_containers_than_the_array_or_a_null_array() {
    let sb = Sandbox::new();
    let log = log_with("io-scan-array", 3);
    const R: &str = "ClfsScanLogContainers";
    let over = |count: u64| Inconsistency::CountOverCapacity {
        what: "container",
        count,
        capacity: 1,
    };

    // The second step says it returned 2 containers for the 1-entry array.
    faults::override_output(R, "cContainersReturned", 2, 2);
    let mut cx = ScanContext::new();
    let mut scan = log.containers(&mut cx).expect("scan");
    assert_eq!(
        scan.next()
            .expect("first")
            .expect("container")
            .physical_id(),
        0
    );
    assert_inconsistent(
        &scan.next().expect("an item").unwrap_err(),
        R,
        over(2),
        "ClfsScanLogContainers reported success but returned 2 containers for a 1-entry array",
    );
    assert!(scan.next().is_none(), "a failure is yielded once");
    assert_eq!(sb.stats().live_scan_contexts, 1);
    scan.close().expect("close");
    assert_eq!(sb.stats().live_scan_contexts, 0, "the scan was closed");

    // The capacity is the one the library asked for, not the context's cContainers, which
    // Clfs.sys writes: a context that claims a 5-entry array does not let 3 through.
    faults::override_output(R, "cContainers", 1, 5);
    faults::override_output(R, "cContainersReturned", 1, 3);
    let mut cx = ScanContext::new();
    let mut scan = log.containers(&mut cx).expect("scan");
    assert_inconsistent(
        &scan.next().expect("an item").unwrap_err(),
        R,
        over(3),
        "ClfsScanLogContainers reported success but returned 3 containers for a 1-entry array",
    );
    assert!(scan.next().is_none());
    drop(scan);
    assert_eq!(sb.stats().live_scan_contexts, 0, "dropping closes the scan");

    // One container in a NULL array, on a backward scan.
    faults::override_output(R, "pinfoContainer", 1, 0);
    let closes = sb.stats().calls(R);
    let mut cx = ScanContext::new();
    let mut scan = log
        .scan_containers(&mut cx, 2, clfs::ScanDirection::Backward)
        .expect("scan");
    assert_inconsistent(
        &scan.next().expect("an item").unwrap_err(),
        R,
        Inconsistency::EntriesInNullArray {
            what: "container",
            count: 1,
        },
        "ClfsScanLogContainers reported success but returned 1 container in a NULL array",
    );
    assert!(scan.next().is_none());
    drop(scan);
    // One step and one close.
    assert_eq!(sb.stats().calls(R), closes + 2);
    assert_eq!(sb.stats().live_scan_contexts, 0, "dropping closes the scan");

    // Without overrides the same scans see every container.
    let mut cx = ScanContext::new();
    let ids: Vec<u32> = log
        .scan_containers(&mut cx, 2, clfs::ScanDirection::Backward)
        .expect("scan")
        .map(|c| c.map(|c| c.physical_id()))
        .collect::<Result<_, _>>()
        .expect("containers");
    assert_eq!(ids, [2, 1, 0]);
    log.close().expect("close");
    assert_no_leaks(&sb);
}

/// A scan that never ends: Clfs.sys keeps returning containers in one direction, never
/// STATUS_NO_MORE_ENTRIES. A log holds at most 1024 containers, so the 1025th in one
/// direction is refused (once), instead of `for c in scan` spinning forever; the scan is
/// closed and nothing leaks. Turning around starts a new count.
#[test]
fn a_scan_that_never_ends_is_refused_after_1024_containers() {
    let sb = Sandbox::new();
    let log = log_with("io-scan-endless", 2);
    const R: &str = "ClfsScanLogContainers";
    // Every step moves the emulator's cursor back to container 0: a forward scan then
    // returns container 1 again and again.
    for nth in 1..=1100 {
        faults::override_output(R, "cIndex", nth, 0);
    }
    let mut cx = ScanContext::new();
    let mut scan = log.containers(&mut cx).expect("scan");
    let mut seen = 0u32;
    let err = loop {
        match scan.next().expect("the scan does not end by itself") {
            Ok(_) => seen += 1,
            Err(e) => break e,
        }
        assert!(seen <= 1024, "more than 1024 containers yielded");
    };
    assert_eq!(seen, 1024, "every container up to the limit is yielded");
    assert_inconsistent(
        &err,
        R,
        Inconsistency::EndlessScan { max: 1024 },
        "ClfsScanLogContainers reported success but returned container 1025 in one direction without STATUS_NO_MORE_ENTRIES: a log holds at most 1024 containers, so the scan would never end",
    );
    assert!(scan.next().is_none(), "a failure is yielded once");
    let calls = sb.stats().calls(R);
    drop(scan);
    assert_eq!(sb.stats().calls(R), calls + 1, "dropping closes the scan");
    assert_eq!(sb.stats().live_scan_contexts, 0);
    faults::clear();

    // The count is per direction: turning around after 1000 containers yields more.
    for nth in 1..=1000 {
        faults::override_output(R, "cIndex", nth, 0);
    }
    let mut cx = ScanContext::new();
    let mut scan = log.containers(&mut cx).expect("scan");
    for _ in 0..1000 {
        scan.next().expect("an item").expect("a container");
    }
    scan.turn_around();
    // The cursor is at container 0 (the last override), so backward there is nothing left.
    assert!(scan.next().is_none());
    scan.turn_around();
    let rest: Vec<u32> = scan
        .map(|c| c.map(|c| c.physical_id()))
        .collect::<Result<_, _>>()
        .expect("containers");
    assert_eq!(rest, [1]);
    log.close().expect("close");
    assert_no_leaks(&sb);
}

/// `ClfsMgmtQueryPolicy`'s outputs are checked before the policy is decoded. Before, a
/// length or type that contradicted the policy was `Error::Status` with a status Clfs.sys
/// never returned (`STATUS_LOG_METADATA_INCONSISTENT`), a length short of the structure was
/// not checked, and a string length past the returned length was read from the zeroed rest
/// of the buffer (or, past the buffer, made the query answer "not installed").
#[test]
fn query_policy_outputs_that_contradict_the_policy() {
    let sb = Sandbox::new();
    let log = log_with("io-policy", 2);
    const R: &str = "ClfsMgmtQueryPolicy";
    let prefix = w("pre");
    let ext = w("ext");
    for p in [
        Policy::MaximumSize { containers: 10 },
        Policy::NewContainerPrefix(&prefix),
        Policy::NewContainerExtension(&ext),
    ] {
        log.install_policy(&p, InstallMode::KeepExisting)
            .expect("install");
    }
    let mut buf = PolicyBuf::new();
    let calls = sb.stats().calls(R);

    faults::override_output(R, "PolicyLength", 1, 4096);
    assert_out_of_range(
        &log.query_policy(PolicyKind::MaximumSize, &mut buf).unwrap_err(),
        R,
        "CLFS_MGMT_POLICY",
        4096,
        544,
        "ClfsMgmtQueryPolicy returned a length of 4096 bytes for CLFS_MGMT_POLICY, but its buffer holds at most 544 bytes",
    );
    faults::override_length(R, 1, 16);
    assert_inconsistent(
        &log.query_policy(PolicyKind::MaximumSize, &mut buf).unwrap_err(),
        R,
        Inconsistency::ShortLength {
            what: "CLFS_MGMT_POLICY",
            len: 16,
            min: 24,
        },
        "ClfsMgmtQueryPolicy reported success but returned a length of 16 bytes for CLFS_MGMT_POLICY, which needs at least 24 bytes",
    );
    // ClfsMgmtPolicyMinimumSize (1) for a MaximumSize (0) query.
    faults::override_output(R, "PolicyType", 1, 1);
    assert_inconsistent(
        &log.query_policy(PolicyKind::MaximumSize, &mut buf).unwrap_err(),
        R,
        Inconsistency::Mismatch {
            what: "a policy whose PolicyType is not the type asked for",
            found: 1,
            expected: 0,
        },
        "ClfsMgmtQueryPolicy reported success but returned a policy whose PolicyType is not the type asked for: 1, expected 0",
    );
    faults::override_output(R, "PrefixLengthInBytes", 1, 5);
    assert_inconsistent(
        &log.query_policy(PolicyKind::NewContainerPrefix, &mut buf).unwrap_err(),
        R,
        Inconsistency::OddLength {
            what: "the policy's string",
            len: 5,
        },
        "ClfsMgmtQueryPolicy reported success but returned an odd length of 5 bytes for the policy's string, which is UTF-16 (2 bytes a unit)",
    );
    // The 24-byte policy holds 6 bytes of string after its 18-byte start.
    faults::override_output(R, "PrefixLengthInBytes", 1, 8);
    assert_out_of_range(
        &log.query_policy(PolicyKind::NewContainerPrefix, &mut buf).unwrap_err(),
        R,
        "the policy's string",
        8,
        6,
        "ClfsMgmtQueryPolicy returned a length of 8 bytes for the policy's string, but its buffer holds at most 6 bytes",
    );
    faults::override_output(R, "ExtensionLengthInBytes", 1, 600);
    assert_out_of_range(
        &log.query_policy(PolicyKind::NewContainerExtension, &mut buf).unwrap_err(),
        R,
        "the policy's string",
        600,
        6,
        "ClfsMgmtQueryPolicy returned a length of 600 bytes for the policy's string, but its buffer holds at most 6 bytes",
    );
    assert_eq!(
        sb.stats().calls(R),
        calls + 6,
        "each refusal was a real call"
    );
    assert_eq!(
        log.query_policy(PolicyKind::NewContainerPrefix, &mut buf)
            .expect("query"),
        Some(Policy::NewContainerPrefix(&prefix))
    );
    assert_eq!(
        log.query_policy(PolicyKind::MaximumSize, &mut buf)
            .expect("query"),
        Some(Policy::MaximumSize { containers: 10 })
    );
    log.close().expect("close");
    assert_no_leaks(&sb);
}

/// Asserts `err` is `LengthOutOfRange` with these fields and this exact message, maps to
/// `STATUS_LOG_METADATA_INCONSISTENT`, carries no failure status, and says Clfs.sys was
/// called.
fn assert_out_of_range(
    err: &Error,
    routine: &str,
    what: &str,
    len: u64,
    limit: u64,
    message: &str,
) {
    match err {
        Error::LengthOutOfRange {
            routine: r,
            what: w,
            len: l,
            limit: m,
        } => assert_eq!((*r, *w, *l, *m), (routine, what, len, limit), "{err}"),
        other => panic!("expected LengthOutOfRange, got {other:?}"),
    }
    assert_eq!(err.to_string(), message);
    assert_eq!(err.ntstatus(), NtStatus::LOG_METADATA_INCONSISTENT);
    assert_eq!(err.status(), None, "Clfs.sys did not fail");
    assert!(!err.refused_before_call(), "Clfs.sys was called");
}

#[test]
fn physical_name_lengths_that_contradict_the_name() {
    let sb = Sandbox::new();
    let log = log_with("io-name-len", 2);
    let mut buf = [0u16; 64];
    let real = log.physical_name(&mut buf).expect("name").len() as u32;
    assert_eq!(real, "C:\\t\\io-name-len.blf".len() as u32);
    let calls = sb.stats().calls("ClfsQueryLogFileInformation");
    // One byte: not even the length element.
    faults::override_length("ClfsQueryLogFileInformation", 1, 1);
    let err = log.physical_name(&mut buf).unwrap_err();
    assert_inconsistent(
        &err,
        "ClfsQueryLogFileInformation",
        Inconsistency::ShortLength {
            what: "CLFS_LOG_NAME_INFORMATION",
            len: 1,
            min: 2,
        },
        "ClfsQueryLogFileInformation reported success but returned a length of 1 byte for CLFS_LOG_NAME_INFORMATION, which needs at least 2 bytes",
    );
    // The name was written whole, but the length says the information ends before it does.
    faults::override_length("ClfsQueryLogFileInformation", 1, 2 + real);
    let err = log.physical_name(&mut buf).unwrap_err();
    assert_out_of_range(
        &err,
        "ClfsQueryLogFileInformation",
        "the physical log name",
        u64::from(2 * real),
        u64::from(real),
        &format!(
            "ClfsQueryLogFileInformation returned a length of {} bytes for the physical log name, but its buffer holds at most {real} bytes",
            2 * real
        ),
    );
    // More than the caller's buffer.
    faults::override_length("ClfsQueryLogFileInformation", 1, 130);
    let err = log.physical_name(&mut buf).unwrap_err();
    assert_out_of_range(
        &err,
        "ClfsQueryLogFileInformation",
        "CLFS_LOG_NAME_INFORMATION",
        130,
        128,
        "ClfsQueryLogFileInformation returned a length of 130 bytes for CLFS_LOG_NAME_INFORMATION, but its buffer holds at most 128 bytes",
    );
    assert_eq!(
        sb.stats().calls("ClfsQueryLogFileInformation"),
        calls + 3,
        "each refusal was a call"
    );
    assert_eq!(
        String::from_utf16_lossy(log.physical_name(&mut buf).expect("name")),
        "C:\\t\\io-name-len.blf"
    );
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn fixed_size_classes_with_a_length_other_than_their_size() {
    let sb = Sandbox::new();
    let log = log_with("io-fixed", 2);
    let area = area(&log);
    let lsn = area.append(&[b"record"]).expect("append");
    area.flush().expect("flush");
    const Q: &str = "ClfsQueryLogFileInformation";

    faults::override_length(Q, 1, 0);
    assert_inconsistent(
        &log.stream_id().unwrap_err(),
        Q,
        Inconsistency::ShortLength {
            what: "the stream identifier",
            len: 0,
            min: 1,
        },
        "ClfsQueryLogFileInformation reported success but returned a length of 0 bytes for the stream identifier, which needs at least 1 byte",
    );
    faults::override_length(Q, 1, 2);
    assert_out_of_range(
        &log.stream_id().unwrap_err(),
        Q,
        "the stream identifier",
        2,
        1,
        "ClfsQueryLogFileInformation returned a length of 2 bytes for the stream identifier, but its buffer holds at most 1 byte",
    );

    faults::override_length(Q, 1, 2);
    assert_inconsistent(
        &log.system_markings().unwrap_err(),
        Q,
        Inconsistency::ShortLength {
            what: "the system marking count",
            len: 2,
            min: 4,
        },
        "ClfsQueryLogFileInformation reported success but returned a length of 2 bytes for the system marking count, which needs at least 4 bytes",
    );
    faults::override_length(Q, 1, 8);
    assert_out_of_range(
        &log.system_markings().unwrap_err(),
        Q,
        "the system marking count",
        8,
        4,
        "ClfsQueryLogFileInformation returned a length of 8 bytes for the system marking count, but its buffer holds at most 4 bytes",
    );

    faults::override_length(Q, 1, 16);
    assert_inconsistent(
        &log.physical_lsn(0, lsn).unwrap_err(),
        Q,
        Inconsistency::ShortLength {
            what: "CLFS_PHYSICAL_LSN_INFORMATION",
            len: 16,
            min: 24,
        },
        "ClfsQueryLogFileInformation reported success but returned a length of 16 bytes for CLFS_PHYSICAL_LSN_INFORMATION, which needs at least 24 bytes",
    );
    faults::override_length(Q, 1, 48);
    assert_out_of_range(
        &log.physical_lsn(0, lsn).unwrap_err(),
        Q,
        "CLFS_PHYSICAL_LSN_INFORMATION",
        48,
        24,
        "ClfsQueryLogFileInformation returned a length of 48 bytes for CLFS_PHYSICAL_LSN_INFORMATION, but its buffer holds at most 24 bytes",
    );

    // Every class answers again.
    assert_eq!(log.stream_id().expect("stream id"), 0);
    assert_eq!(log.system_markings().expect("markings"), 0);
    assert_eq!(log.physical_lsn(0, lsn).expect("physical"), lsn);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn container_name_lengths_that_contradict_the_name() {
    let sb = Sandbox::new();
    let log = log_with("io-cname-len", 2);
    let mut buf = [0u16; 260];
    let full = log.container_name(0, &mut buf).expect("name").name.len() as u32;
    assert!(full > 2);
    const R: &str = "ClfsGetContainerName";

    // An odd byte length.
    faults::override_output(R, "Length", 1, 2 * full - 1);
    assert_inconsistent(
        &log.container_name(0, &mut buf).unwrap_err(),
        R,
        Inconsistency::OddLength {
            what: "the container name",
            len: u64::from(2 * full - 1),
        },
        &format!(
            "ClfsGetContainerName reported success but returned an odd length of {} bytes for the container name, which is UTF-16 (2 bytes a unit)",
            2 * full - 1
        ),
    );
    // Past MaximumLength.
    faults::override_length(R, 1, 600);
    assert_out_of_range(
        &log.container_name(0, &mut buf).unwrap_err(),
        R,
        "the container name",
        600,
        520,
        "ClfsGetContainerName returned a length of 600 bytes for the container name, but its buffer holds at most 520 bytes",
    );
    // Success (not truncated) with a name shorter than its full length.
    faults::override_output(R, "Length", 1, 2 * (full - 1));
    let err = log.container_name(0, &mut buf).unwrap_err();
    let what = "a container name (not truncated) whose length in UTF-16 units is not its full length (pcActualLenContainerName)";
    assert_inconsistent(
        &err,
        R,
        Inconsistency::Mismatch {
            what,
            found: u64::from(full - 1),
            expected: u64::from(full),
        },
        &format!(
            "ClfsGetContainerName reported success but returned {what}: {}, expected {full}",
            full - 1
        ),
    );
    // The same rule, broken by the other output: a full length the name does not have.
    faults::override_output(R, "pcActualLenContainerName", 1, full + 3);
    assert_inconsistent(
        &log.container_name(0, &mut buf).unwrap_err(),
        R,
        Inconsistency::Mismatch {
            what,
            found: u64::from(full),
            expected: u64::from(full + 3),
        },
        &format!(
            "ClfsGetContainerName reported success but returned {what}: {full}, expected {}",
            full + 3
        ),
    );
    let name = log.container_name(0, &mut buf).expect("name");
    assert_eq!(name.name.len() as u32, full);
    assert!(!name.is_truncated());
    log.close().expect("close");
    assert_no_leaks(&sb);
}

/// `STATUS_BUFFER_OVERFLOW` says the name was cut off; a full length that the characters
/// written already reach contradicts it. Before, the call succeeded with a name that
/// `is_truncated()` called whole. The error names the warning, not "success".
#[test]
fn container_name_truncation_that_truncated_nothing() {
    let sb = Sandbox::new();
    let log = log_with("io-cname-trunc", 2);
    const R: &str = "ClfsGetContainerName";
    const OVERFLOW: NtStatus = NtStatus::BUFFER_OVERFLOW;
    let mut whole = [0u16; 260];
    let full = log.container_name(0, &mut whole).expect("name").name.len() as u32;
    assert!(full > 4);
    let mut buf = [0u16; 4];
    // The real warning: the start of the name, and its full length.
    let name = log.container_name(0, &mut buf).expect("truncated name");
    assert_eq!((name.name.len(), name.full_len), (4, full));
    assert!(name.is_truncated());
    let calls = sb.stats().calls(R);

    let what = "the container name in UTF-16 units (pcActualLenContainerName)";
    for reported in [4, 2, 0] {
        faults::override_output(R, "pcActualLenContainerName", 1, reported);
        assert_inconsistent_with(
            &log.container_name(0, &mut buf).unwrap_err(),
            R,
            OVERFLOW,
            Inconsistency::NotTruncated {
                what,
                written: 4,
                full: u64::from(reported),
            },
            &format!(
                "ClfsGetContainerName returned STATUS_BUFFER_OVERFLOW (0x80000005) with a full length of {reported} for {what}, no more than the 4 written: nothing was truncated"
            ),
        );
    }
    // The other rules name the warning too.
    faults::override_output(R, "Length", 1, 7);
    assert_inconsistent_with(
        &log.container_name(0, &mut buf).unwrap_err(),
        R,
        OVERFLOW,
        Inconsistency::OddLength {
            what: "the container name",
            len: 7,
        },
        "ClfsGetContainerName returned STATUS_BUFFER_OVERFLOW (0x80000005) with an odd length of 7 bytes for the container name, which is UTF-16 (2 bytes a unit)",
    );
    faults::override_output(R, "Length", 1, 10);
    assert_out_of_range(
        &log.container_name(0, &mut buf).unwrap_err(),
        R,
        "the container name",
        10,
        8,
        "ClfsGetContainerName returned a length of 10 bytes for the container name, but its buffer holds at most 8 bytes",
    );
    // Each refusal was a real call; the next one is the real warning again.
    assert_eq!(sb.stats().calls(R), calls + 5);
    let name = log.container_name(0, &mut buf).expect("truncated name");
    assert_eq!((name.name.len(), name.full_len), (4, full));
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn io_statistics_lengths_and_offsets_that_contradict_the_structure() {
    let sb = Sandbox::new();
    let log = log_with("io-stats-len", 2);
    const R: &str = "ClfsGetIoStatistics";

    faults::override_length(R, 1, 24);
    assert_inconsistent(
        &log.io_statistics().unwrap_err(),
        R,
        Inconsistency::ShortLength {
            what: "CLFS_IO_STATISTICS",
            len: 24,
            min: 48,
        },
        "ClfsGetIoStatistics reported success but returned a length of 24 bytes for CLFS_IO_STATISTICS, which needs at least 48 bytes",
    );
    faults::override_output(R, "pcbStatsWritten", 1, 64);
    assert_out_of_range(
        &log.io_statistics().unwrap_err(),
        R,
        "CLFS_IO_STATISTICS",
        64,
        48,
        "ClfsGetIoStatistics returned a length of 64 bytes for CLFS_IO_STATISTICS, but its buffer holds at most 48 bytes",
    );
    faults::override_output(R, "cbLength", 1, 64);
    assert_out_of_range(
        &log.io_statistics().unwrap_err(),
        R,
        "the statistics (the header's cbLength)",
        64,
        48,
        "ClfsGetIoStatistics returned a length of 64 bytes for the statistics (the header's cbLength), but its buffer holds at most 48 bytes",
    );
    // A header whose structure ends before the counters the library would read.
    faults::override_output(R, "cbLength", 1, 16);
    assert_inconsistent(
        &log.io_statistics().unwrap_err(),
        R,
        Inconsistency::ShortLength {
            what: "the statistics (the header's cbLength)",
            len: 16,
            min: 48,
        },
        "ClfsGetIoStatistics reported success but returned a length of 16 bytes for the statistics (the header's cbLength), which needs at least 48 bytes",
    );
    faults::override_output(R, "coffData", 1, 20);
    assert_inconsistent(
        &log.io_statistics().unwrap_err(),
        R,
        Inconsistency::Mismatch {
            what: "a statistics header whose counter offset (coffData) is not the header's size",
            found: 20,
            expected: 16,
        },
        "ClfsGetIoStatistics reported success but returned a statistics header whose counter offset (coffData) is not the header's size: 20, expected 16",
    );
    let stats = log.io_statistics().expect("stats");
    assert_eq!(stats.version, (1, 0));
    assert!(stats.metadata_flushes >= 1);
    log.close().expect("close");
    assert_no_leaks(&sb);
}
