//! Issue 11 hardening of the safe API: restart reads, reservations, restart-area LSNs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{ClfsAllocator, Error, MarshallingArea, MarshallingConfig, NtStatus};
use clfs_emu::{faults, status, Sandbox};
use common::{assert_no_leaks, log_with};

/// A success status that left the out LSN untouched is a failure, on `write_restart` as on
/// every other path that returns an LSN (issue 11 item 6): before the fix it returned
/// `CLFS_LSN_INVALID` as if it were the restart record's LSN.
#[test]
fn write_restart_refuses_a_success_without_an_lsn() {
    let sb = Sandbox::new();
    {
        let log = log_with("restart-lsn", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        faults::fail_call("ClfsWriteRestartArea", 1, status::STATUS_SUCCESS);
        assert_eq!(
            area.write_restart(b"checkpoint"),
            Err(Error::Status {
                routine: "ClfsWriteRestartArea",
                status: NtStatus::UNSUCCESSFUL,
            })
        );
        // The next write goes through and returns a real LSN.
        let lsn = area.write_restart(b"checkpoint").unwrap();
        assert!(!lsn.is_invalid());
    }
    assert_no_leaks(&sb);
}

/// After a failed `previous()`, nothing of the old restart area is reachable (issue 11 item
/// 2): the failed read may have reused its buffer. Before the fix, `data()` still returned the
/// old buffer after the failure and after `STATUS_LOG_START_OF_LOG`.
#[test]
fn a_failed_restart_step_leaves_no_stale_area() {
    let sb = Sandbox::new();
    {
        let log = log_with("restart-stale", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        let r1 = area.write_restart(b"checkpoint 1").unwrap();
        let r2 = area.write_restart(b"checkpoint 2").unwrap();
        let mut rc = area.read_restart().unwrap().unwrap();
        assert_eq!(rc.current().unwrap().lsn, r2);
        faults::fail_call(
            "ClfsReadPreviousRestartArea",
            1,
            NtStatus::LOG_CONTAINER_READ_FAILED.0,
        );
        assert_eq!(
            rc.previous().unwrap_err().status(),
            Some(NtStatus::LOG_CONTAINER_READ_FAILED)
        );
        assert!(rc.current().is_none(), "stale area after a failed step");
        // The context still works: the next step reads the older area.
        let older = rc.previous().unwrap().unwrap();
        assert_eq!((older.lsn, older.data), (r1, &b"checkpoint 1"[..]));
        assert_eq!(rc.current().unwrap().lsn, r1);
        assert!(rc.previous().unwrap().is_none());
        assert!(
            rc.current().is_none(),
            "stale area after the start of the chain"
        );
        assert_eq!(format!("{rc:?}"), "RestartContext { lsn: None }");
    }
    assert_no_leaks(&sb);
}
