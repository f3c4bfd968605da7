//! Container scans (`ClfsCreateScanContext`, `ClfsScanLogContainers`) and container names
//! (`ClfsGetContainerName`): the safe API, the raw exports, and the emulator's accounts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{
    ClfsAllocator, ContainerState, Error, LogFile, LogOptions, MarshallingArea, MarshallingConfig,
    NtStatus, ScanContext, ScanDirection,
};
use clfs_emu::status::*;
use clfs_emu::types::{CLFS_SCAN_CONTEXT, UNICODE_STRING};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with, w};

fn names(log: &LogFile, from: u32, dir: ScanDirection) -> Vec<String> {
    let mut cx = ScanContext::new();
    log.scan_containers(&mut cx, from, dir)
        .expect("scan")
        .map(|c| String::from_utf16(c.expect("container").name()).expect("utf-16"))
        .collect()
}

#[test]
fn scans_forward_and_backward_and_close_on_drop() {
    let sb = Sandbox::new();
    {
        let log = log_with("scan", 3);
        let all: Vec<String> = (0..3).map(|i| format!("C:\\t\\scan-c{i}")).collect();
        assert_eq!(names(&log, 0, ScanDirection::Forward), all);
        assert_eq!(
            names(&log, 2, ScanDirection::Backward),
            ["C:\\t\\scan-c2", "C:\\t\\scan-c1", "C:\\t\\scan-c0"]
        );
        assert_eq!(
            names(&log, 1, ScanDirection::Forward),
            ["C:\\t\\scan-c1", "C:\\t\\scan-c2"]
        );
        let mut cx = ScanContext::new();
        let infos: Vec<_> = log
            .containers(&mut cx)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (i, c) in infos.iter().enumerate() {
            assert_eq!(c.size(), 512 * 1024);
            assert_eq!(c.physical_id(), i as u32);
            assert!(!c.name_truncated());
            assert_ne!(c.times().2, 0, "last write time");
        }
        // Nothing written yet: the first container is the active one (logical 0), the
        // others never held a record.
        assert_eq!(infos[0].state(), ContainerState::Active);
        assert_eq!(infos[0].logical_id(), Some(0));
        assert_eq!(infos[1].state(), ContainerState::Inactive);
        assert_eq!(infos[1].logical_id(), None);
        assert_eq!(sb.stats().live_scan_contexts, 0);
        // One create, one close and one scan per container plus the end, per scan.
        let s = sb.stats();
        assert_eq!(s.calls("ClfsCreateScanContext"), 4);
        assert_eq!(
            s.calls("ClfsScanLogContainers"),
            (3 + 1 + 1) + (3 + 1 + 1) + (2 + 1 + 1) + (3 + 1 + 1)
        );
    }
    assert_no_leaks(&sb);
}

#[test]
fn turning_around_goes_back_from_the_last_container() {
    let sb = Sandbox::new();
    {
        let log = log_with("turn", 4);
        let mut cx = ScanContext::new();
        let mut scan = log.containers(&mut cx).unwrap();
        let id = |c: Option<clfs::Result<clfs::ContainerInfo>>| c.unwrap().unwrap().physical_id();
        assert_eq!(id(scan.next()), 0);
        assert_eq!(id(scan.next()), 1);
        assert_eq!(id(scan.next()), 2);
        scan.turn_around();
        assert_eq!(scan.direction(), ScanDirection::Backward);
        assert_eq!(id(scan.next()), 1);
        assert_eq!(id(scan.next()), 0);
        assert!(scan.next().is_none());
        assert!(scan.next().is_none(), "stays ended");
        scan.turn_around();
        assert_eq!(id(scan.next()), 1);
        assert_eq!(sb.stats().live_scan_contexts, 1);
        scan.close().unwrap();
        assert_eq!(sb.stats().live_scan_contexts, 0);
    }
    assert_no_leaks(&sb);
}

#[test]
fn a_log_without_containers_scans_empty_without_a_context() {
    let sb = Sandbox::new();
    {
        let log = log_with("empty", 0);
        let mut cx = ScanContext::new();
        assert_eq!(log.containers(&mut cx).unwrap().count(), 0);
        assert_eq!(sb.stats().calls("ClfsCreateScanContext"), 0);
    }
    assert_no_leaks(&sb);
}

#[test]
fn a_start_past_the_last_container_is_refused_before_the_call() {
    let sb = Sandbox::new();
    {
        let log = log_with("range", 2);
        let mut cx = ScanContext::new();
        let e = log
            .scan_containers(&mut cx, 2, ScanDirection::Forward)
            .unwrap_err();
        assert_eq!(
            e,
            Error::ContainerIndexOutOfRange {
                index: 2,
                containers: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "container index 2 is out of range: the log has 2 containers"
        );
        assert!(e.refused_before_call());
        assert_eq!(sb.stats().calls("ClfsCreateScanContext"), 0);
        // The same input through the raw export: STATUS_INVALID_PARAMETER.
        let mut cx = zeroed_cx();
        // SAFETY: an open log object and a writable context.
        let st = create(log.as_raw(), 2, 1, 0x02, &mut cx);
        assert_eq!(st, STATUS_INVALID_PARAMETER);
        assert_eq!(sb.stats().live_scan_contexts, 0);
    }
    assert_no_leaks(&sb);
}

#[test]
fn scans_are_refused_above_apc_level_without_a_call() {
    let sb = Sandbox::new();
    {
        let log = log_with("irql", 2);
        let mut cx = ScanContext::new();
        let before = sb.stats().clfs_calls();
        {
            let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
            let e = log.containers(&mut cx).unwrap_err();
            assert!(matches!(
                e,
                Error::IrqlTooHigh {
                    routine: "ClfsCreateScanContext",
                    irql: 2
                }
            ));
            let mut buf = [0u16; 64];
            assert!(matches!(
                log.container_name(0, &mut buf),
                Err(Error::IrqlTooHigh { .. })
            ));
        }
        assert_eq!(sb.stats().clfs_calls(), before, "Clfs.sys was called");
        let mut scan = log.containers(&mut cx).unwrap();
        {
            let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
            assert!(matches!(
                scan.next(),
                Some(Err(Error::IrqlTooHigh {
                    routine: "ClfsScanLogContainers",
                    ..
                }))
            ));
        }
        assert_eq!(sb.stats().calls("ClfsScanLogContainers"), 0);
        assert_eq!(scan.next().unwrap().unwrap().physical_id(), 0);
    }
    assert_no_leaks(&sb);
}

#[test]
fn container_names_by_logical_id() {
    let sb = Sandbox::new();
    {
        let log = log_with("names", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        let lsn = area.append(&[b"x"]).unwrap();
        let mut buf = [0u16; 64];
        let n = log.container_name(lsn.container(), &mut buf).unwrap();
        assert_eq!(String::from_utf16(n.name).unwrap(), "C:\\t\\names-c0");
        assert_eq!(n.full_len as usize, n.name.len());
        assert!(!n.is_truncated());
        // Too small: the start of the name and the full length.
        let mut small = [0u16; 4];
        let n = log.container_name(lsn.container(), &mut small).unwrap();
        assert_eq!(n.name, &w("C:\\t")[..]);
        assert!(n.is_truncated());
        assert_eq!(n.full_len, 13);
        // An empty buffer tells the length.
        let n = log.container_name(lsn.container(), &mut []).unwrap();
        assert_eq!((n.name.len(), n.full_len), (0, 13));
        // No container has logical id 7.
        assert_eq!(
            log.container_name(7, &mut buf).unwrap_err(),
            Error::Status {
                routine: "ClfsGetContainerName",
                status: NtStatus::NOT_FOUND
            }
        );
        drop(area);
    }
    assert_no_leaks(&sb);
}

fn zeroed_cx() -> CLFS_SCAN_CONTEXT {
    // SAFETY: plain data; all-zero is valid.
    unsafe { core::mem::zeroed() }
}

type Log = *mut clfs_emu::types::FILE_OBJECT;

fn create(h: Log, from: u32, count: u32, mode: u8, cx: *mut CLFS_SCAN_CONTEXT) -> i32 {
    // SAFETY: `h` is an open object or NULL; `cx` is NULL or a writable context that stays
    // put for the test.
    unsafe { clfs_emu::ClfsCreateScanContext(h, from, count, mode, cx) }
}

fn scan(cx: *mut CLFS_SCAN_CONTEXT, mode: u8) -> i32 {
    // SAFETY: `cx` is NULL or a context the test owns.
    unsafe { clfs_emu::ClfsScanLogContainers(cx, mode) }
}

/// The physical id of entry `i` of the last scan.
fn phys(cx: &CLFS_SCAN_CONTEXT, i: u32) -> u32 {
    assert!(i < cx.cContainersReturned && !cx.pinfoContainer.is_null());
    // SAFETY: the emulator filled `cContainersReturned` entries of the array it allocated.
    unsafe { (*cx.pinfoContainer.wrapping_add(i as usize)).PhysicalContainerId }
}

fn get_name(h: Log, cid: u32, us: *mut UNICODE_STRING, len: *mut u32) -> i32 {
    // SAFETY: the string is NULL or names a writable buffer of MaximumLength bytes.
    unsafe { clfs_emu::ClfsGetContainerName(h, cid, us, len) }
}

#[test]
fn raw_scan_contexts_follow_the_documented_modes() {
    let sb = Sandbox::new();
    {
        let log =
            LogFile::create(&w("log:C:\\t\\raw"), LogOptions::new().create_if_missing()).unwrap();
        for i in 0..5 {
            log.add_container(&w(&format!("%BLF%\\raw-c{i}")), 512 * 1024)
                .unwrap();
        }
        let h = log.as_raw();
        let mut cx = zeroed_cx();
        {
            // First use with CLFS_SCAN_INIT, two directions, no direction, zero count: refused.
            for (mode, count) in [
                (0x01 | 0x02, 2),
                (0x02 | 0x04, 2),
                (0x00, 2),
                (0x02, 0),
                (0x02, 1025),
            ] {
                assert_eq!(
                    create(h, 0, count, mode, &mut cx),
                    STATUS_INVALID_PARAMETER,
                    "mode {mode:#x} count {count}"
                );
            }
            assert_eq!(
                create(h, 0, 2, 0x02, core::ptr::null_mut()),
                STATUS_INVALID_PARAMETER
            );
            assert_eq!(sb.stats().live_scan_contexts, 0);
            // Forward from 3, two per call: [3, 4], then the end.
            assert_eq!(create(h, 3, 2, 0x02, &mut cx), STATUS_SUCCESS);
            assert_eq!(sb.stats().live_scan_contexts, 1);
            assert_eq!(cx.cContainers, 2);
            assert!(!cx.pinfoContainer.is_null());
            assert_eq!(cx.plfoLog, h);
            assert_eq!(scan(&mut cx, 0x02), STATUS_SUCCESS);
            assert_eq!(cx.cContainersReturned, 2);
            assert_eq!(phys(&cx, 0), 3);
            assert_eq!(phys(&cx, 1), 4);
            assert_eq!(cx.cIndex, 4);
            assert_eq!(scan(&mut cx, 0x02), STATUS_NO_MORE_ENTRIES);
            assert_eq!(cx.cContainersReturned, 0);
            // Backward from the last returned (4): [3, 2], [1, 0], end.
            assert_eq!(scan(&mut cx, 0x04), STATUS_SUCCESS);
            assert_eq!(phys(&cx, 0), 3);
            assert_eq!(phys(&cx, 1), 2);
            assert_eq!(scan(&mut cx, 0x04), STATUS_SUCCESS);
            assert_eq!(phys(&cx, 1), 0);
            assert_eq!(scan(&mut cx, 0x04), STATUS_NO_MORE_ENTRIES);
            // A scan mode with two bits, or CLOSE with a direction: refused.
            assert_eq!(scan(&mut cx, 0x06), STATUS_INVALID_PARAMETER);
            assert_eq!(scan(&mut cx, 0x0A), STATUS_INVALID_PARAMETER);
            // Re-initialising needs CLFS_SCAN_INIT plus one direction.
            assert_eq!(create(h, 1, 1, 0x04, &mut cx), STATUS_INVALID_PARAMETER);
            assert_eq!(create(h, 1, 1, 0x05, &mut cx), STATUS_SUCCESS);
            assert_eq!(sb.stats().live_scan_contexts, 1);
            assert_eq!(scan(&mut cx, 0x04), STATUS_SUCCESS);
            assert_eq!(phys(&cx, 0), 1);
            // An unclosed context is a leak the accounts report.
            assert!(sb
                .stats()
                .leaks()
                .iter()
                .any(|l| l.contains("scan context")));
            assert_eq!(scan(&mut cx, 0x08), STATUS_SUCCESS);
            assert!(cx.pinfoContainer.is_null());
            // Closed: the context is unknown now.
            assert_eq!(scan(&mut cx, 0x02), STATUS_INVALID_PARAMETER);
            assert_eq!(scan(core::ptr::null_mut(), 0x02), STATUS_INVALID_PARAMETER);
        }
        assert_eq!(sb.stats().live_scan_contexts, 0);
    }
    assert_no_leaks(&sb);
}

#[test]
fn raw_container_names_follow_the_documented_statuses() {
    let sb = Sandbox::new();
    {
        let log = log_with("rawname", 2);
        let h = log.as_raw();
        let mut buf = [0u16; 8];
        let mut us = UNICODE_STRING {
            Length: 0,
            MaximumLength: 16,
            Buffer: buf.as_mut_ptr(),
        };
        let mut len = 0u32;
        {
            assert_eq!(get_name(h, 0, &mut us, &mut len), STATUS_BUFFER_OVERFLOW);
            assert_eq!((us.Length, len), (16, 15));
            assert_eq!(get_name(h, 9, &mut us, &mut len), STATUS_NOT_FOUND);
            assert_eq!(
                get_name(h, 0, core::ptr::null_mut(), &mut len),
                STATUS_INVALID_PARAMETER
            );
            let mut bad = UNICODE_STRING {
                Length: 0,
                MaximumLength: 16,
                Buffer: core::ptr::null_mut(),
            };
            assert_eq!(get_name(h, 0, &mut bad, &mut len), STATUS_INVALID_PARAMETER);
            assert_eq!(
                get_name(core::ptr::null_mut(), 0, &mut us, &mut len),
                STATUS_INVALID_HANDLE
            );
        }
        assert_eq!(String::from_utf16(&buf).unwrap(), "C:\\t\\raw");
    }
    assert_no_leaks(&sb);
}
