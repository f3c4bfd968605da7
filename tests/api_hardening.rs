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
