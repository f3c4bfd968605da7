//! IRQL discipline: above APC_LEVEL the safe API refuses without calling Clfs.sys, while a raw
//! call bugchecks (the emulator aborts the process, as the kernel would stop the system).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{ClfsAllocator, Error, LogFile, LogOptions, MarshallingArea, MarshallingConfig};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with, w};

#[test]
fn every_entry_point_refuses_above_apc_level_without_calling_clfs() {
    let sb = Sandbox::new();
    let log = log_with("irql", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    let lsn = area.append(&[b"before"]).expect("append");
    let before = sb.stats().clfs_calls();
    {
        let _irql = clfs_emu::raise_irql(clfs::irql::DISPATCH_LEVEL);
        let name = w("log:C:\\t\\irql-other");
        let check = |e: Error, routine: &str| {
            assert_eq!(
                e,
                Error::IrqlTooHigh {
                    routine: match routine {
                        "ClfsCreateLogFile" => "ClfsCreateLogFile",
                        "ClfsAddLogContainer" => "ClfsAddLogContainer",
                        "ClfsQueryLogFileInformation" => "ClfsQueryLogFileInformation",
                        "ClfsCreateMarshallingArea" => "ClfsCreateMarshallingArea",
                        "ClfsReserveAndAppendLog" => "ClfsReserveAndAppendLog",
                        "ClfsFlushToLsn" => "ClfsFlushToLsn",
                        "ClfsReadLogRecord" => "ClfsReadLogRecord",
                        "ClfsWriteRestartArea" => "ClfsWriteRestartArea",
                        "ClfsReadRestartArea" => "ClfsReadRestartArea",
                        _ => unreachable!(),
                    },
                    irql: 2
                }
            );
        };
        check(
            LogFile::create(&name, LogOptions::new().create_if_missing()).unwrap_err(),
            "ClfsCreateLogFile",
        );
        check(
            log.add_container(&w("%BLF%\\x"), 512 * 1024).unwrap_err(),
            "ClfsAddLogContainer",
        );
        check(log.info().unwrap_err(), "ClfsQueryLogFileInformation");
        check(
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
                .unwrap_err(),
            "ClfsCreateMarshallingArea",
        );
        check(area.append(&[b"x"]).unwrap_err(), "ClfsReserveAndAppendLog");
        check(area.flush().unwrap_err(), "ClfsFlushToLsn");
        check(
            area.read(lsn, clfs::ReadMode::Forward).unwrap_err(),
            "ClfsReadLogRecord",
        );
        check(
            area.write_restart(b"r").unwrap_err(),
            "ClfsWriteRestartArea",
        );
        check(area.read_restart().unwrap_err(), "ClfsReadRestartArea");
        let msg = LogFile::create(&name, LogOptions::new())
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "ClfsCreateLogFile must be called at IRQL <= APC_LEVEL (1), but the current IRQL is 2 (DISPATCH_LEVEL)"
        );
    }
    assert_eq!(
        sb.stats().clfs_calls(),
        before,
        "no CLFS routine ran at DISPATCH_LEVEL"
    );
    // APC_LEVEL is allowed.
    {
        let _irql = clfs_emu::raise_irql(clfs::irql::APC_LEVEL);
        area.append(&[b"at apc"]).expect("append at APC_LEVEL");
    }
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

const CHILD: &str = "CLFS_TEST_BUGCHECK_CHILD";

#[test]
fn a_raw_call_above_apc_level_bugchecks() {
    if std::env::var_os(CHILD).is_some() {
        // The child: do what a careless C driver would do.
        let _sb = Sandbox::new();
        let log = log_with("bugcheck", 2);
        let _irql = clfs_emu::raise_irql(clfs::irql::DISPATCH_LEVEL);
        let mut info = [0u8; 120];
        let mut len = 120u32;
        // SAFETY: valid log object and buffers; the IRQL is the point of the test.
        unsafe {
            clfs::sys::ClfsQueryLogFileInformation(
                log.as_raw(),
                0,
                core::ptr::null(),
                0,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        unreachable!("the emulator must have stopped the process");
    }
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "a_raw_call_above_apc_level_bugchecks",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("spawn child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child must die: {stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(6),
            "aborted (SIGABRT); stderr: {stderr}"
        );
    }
    assert!(
        stderr.contains("STOP") && stderr.contains("IRQL_NOT_LESS_OR_EQUAL"),
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains("ClfsQueryLogFileInformation"),
        "stderr names the routine: {stderr}"
    );
}
