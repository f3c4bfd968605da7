//! Log information: every `ClfsQueryLogFileInformation` class, `ClfsSetLogFileInformation`
//! and `ClfsGetIoStatistics`, through the safe API and the raw exports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use core::ffi::c_void;

use clfs::{
    ClfsAllocator, Error, InformationClass, Lsn, MarshallingArea, MarshallingConfig, NtStatus,
};
use clfs_emu::status::*;
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

#[test]
fn every_query_class_as_a_typed_call() {
    let sb = Sandbox::new();
    {
        let log = log_with("info", 2);
        assert_eq!(log.physical_info().unwrap(), log.info().unwrap());
        let mut buf = [0u16; 64];
        let name = log.physical_name(&mut buf).unwrap();
        assert_eq!(String::from_utf16(name).unwrap(), "C:\\t\\info.blf");
        // One element short of the name: refused by Clfs.sys, nothing read.
        let mut small = [0u16; 13];
        assert_eq!(
            log.physical_name(&mut small).unwrap_err(),
            Error::Status {
                routine: "ClfsQueryLogFileInformation",
                status: NtStatus::BUFFER_TOO_SMALL
            }
        );
        assert_eq!(log.stream_id().unwrap(), 0);
        assert_eq!(log.system_markings().unwrap(), 0);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        let lsn = area.append(&[b"x"]).unwrap();
        assert_eq!(log.physical_lsn(0, lsn).unwrap(), lsn);
        assert_eq!(
            log.physical_lsn(3, lsn).unwrap_err(),
            Error::Status {
                routine: "ClfsQueryLogFileInformation",
                status: NtStatus::INVALID_PARAMETER
            }
        );
        drop(area);
    }
    assert_no_leaks(&sb);
}

#[test]
fn io_statistics_count_flushes() {
    let sb = Sandbox::new();
    {
        let log = log_with("iostats", 2);
        let before = log.io_statistics().unwrap();
        assert_eq!(before.version, (1, 0));
        assert_eq!((before.flushes, before.bytes_flushed), (0, 0));
        assert!(before.metadata_flushes >= 1);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        area.append(&[&[7u8; 100]]).unwrap();
        area.flush().unwrap();
        let after = log.io_statistics().unwrap();
        assert_eq!(after.flushes, 1);
        assert!(after.bytes_flushed >= 512);
        drop(area);
    }
    assert_no_leaks(&sb);
}

#[test]
fn preconditions_are_refused_before_the_call() {
    let sb = Sandbox::new();
    {
        let log = log_with("infopre", 2);
        let before = sb.stats();
        let e = log
            .set_information(InformationClass::SystemMarking, &[])
            .unwrap_err();
        assert_eq!(e, Error::EmptyInformation);
        assert_eq!(
            e.to_string(),
            "log information to set must hold at least one byte"
        );
        assert_eq!(
            log.physical_lsn(0, Lsn::INVALID).unwrap_err(),
            Error::InvalidLsn {
                what: "the virtual LSN to map"
            }
        );
        {
            let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
            assert!(matches!(
                log.io_statistics(),
                Err(Error::IrqlTooHigh { .. })
            ));
            assert!(matches!(log.stream_id(), Err(Error::IrqlTooHigh { .. })));
        }
        let after = sb.stats();
        for r in [
            "ClfsSetLogFileInformation",
            "ClfsQueryLogFileInformation",
            "ClfsGetIoStatistics",
        ] {
            assert_eq!(after.calls(r), before.calls(r), "{r} was called");
        }
        // Clfs.sys (the emulator) sets nothing: every class is read-only.
        assert_eq!(
            log.set_information(InformationClass::SystemMarking, &[1, 0, 0, 0])
                .unwrap_err(),
            Error::Status {
                routine: "ClfsSetLogFileInformation",
                status: NtStatus::NOT_SUPPORTED
            }
        );
    }
    assert_no_leaks(&sb);
}

fn query(log: &clfs::LogFile, class: i32, input: &[u8], out: &mut [u8]) -> (i32, u32) {
    let mut len = out.len() as u32;
    let inp = if input.is_empty() {
        core::ptr::null()
    } else {
        input.as_ptr().cast::<c_void>()
    };
    // SAFETY: an open object; the buffers are valid for the lengths passed.
    let st = unsafe {
        clfs_emu::ClfsQueryLogFileInformation(
            log.as_raw(),
            class,
            inp,
            input.len() as u32,
            out.as_mut_ptr().cast::<c_void>(),
            &mut len,
        )
    };
    (st, len)
}

fn io(log: &clfs::LogFile, buf: &mut [u8], class: i32) -> (i32, u32) {
    let mut n = 0u32;
    // SAFETY: an open object; `buf` is writable for its length.
    let st = unsafe {
        clfs_emu::ClfsGetIoStatistics(
            log.as_raw(),
            buf.as_mut_ptr().cast::<c_void>(),
            buf.len() as u32,
            class,
            &mut n,
        )
    };
    (st, n)
}

#[test]
fn the_raw_exports_answer_the_documented_statuses() {
    let sb = Sandbox::new();
    {
        let log = log_with("inforaw", 2);
        let mut out = [0u8; 64];
        // Physical name: too small reports the size needed (2 + 2 × 16 characters).
        assert_eq!(
            query(&log, 2, &[], &mut out[..4]),
            (STATUS_BUFFER_TOO_SMALL, 34)
        );
        assert_eq!(query(&log, 2, &[], &mut out), (STATUS_SUCCESS, 34));
        assert_eq!(u16::from_le_bytes([out[0], out[1]]), 32);
        assert_eq!(query(&log, 3, &[], &mut out), (STATUS_SUCCESS, 1));
        assert_eq!(query(&log, 4, &[], &mut out), (STATUS_SUCCESS, 4));
        // Physical LSN: the input is required, stream 0, a valid LSN.
        assert_eq!(query(&log, 5, &[], &mut out).0, STATUS_INVALID_PARAMETER);
        let mut input = [0u8; 24];
        input[8..16].copy_from_slice(&0x200u64.to_le_bytes());
        assert_eq!(query(&log, 5, &input, &mut out), (STATUS_SUCCESS, 24));
        assert_eq!(&out[16..24], &0x200u64.to_le_bytes());
        input[0] = 1;
        assert_eq!(query(&log, 5, &input, &mut out).0, STATUS_INVALID_PARAMETER);
        assert_eq!(query(&log, 6, &[], &mut out).0, STATUS_INVALID_PARAMETER);
        // I/O statistics: at least the 16-byte header, class 0 only; partial data is fine.
        let mut buf = [0u8; 48];
        assert_eq!(io(&log, &mut buf[..8], 0).0, STATUS_INVALID_PARAMETER);
        assert_eq!(io(&log, &mut buf, 1).0, STATUS_INVALID_PARAMETER);
        assert_eq!(io(&log, &mut buf[..24], 0), (STATUS_SUCCESS, 24));
        assert_eq!(io(&log, &mut buf, 0), (STATUS_SUCCESS, 48));
        assert_eq!(u16::from_le_bytes([buf[8], buf[9]]), 48);
        // Set: NULL or empty buffers and unknown classes are invalid; known classes are
        // read-only.
        let data = [0u8; 4];
        let set = |class: i32, p: *const c_void, n: u32| {
            // SAFETY: an open object; `p` is NULL or `data`, readable for 4 bytes.
            unsafe { clfs_emu::ClfsSetLogFileInformation(log.as_raw(), class, p, n) }
        };
        let p = data.as_ptr().cast::<c_void>();
        assert_eq!(set(4, core::ptr::null(), 4), STATUS_INVALID_PARAMETER);
        assert_eq!(set(4, p, 0), STATUS_INVALID_PARAMETER);
        assert_eq!(set(9, p, 4), STATUS_INVALID_PARAMETER);
        assert_eq!(set(4, p, 4), STATUS_NOT_SUPPORTED);
    }
    assert_no_leaks(&sb);
}
