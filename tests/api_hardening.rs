//! Issue 11 hardening of the safe API: restart reads, reservations, restart-area LSNs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{
    Append, ClfsAllocator, Error, Inconsistency, MarshallingArea, MarshallingConfig, NtStatus,
    ReadMode,
};
use clfs_emu::{faults, status, Sandbox};
use common::{assert_no_leaks, log_with};

/// A success status that left the out LSN untouched is an error, on `write_restart` as on
/// every other path that returns an LSN (issue 11 item 6): before the fix it returned
/// `CLFS_LSN_INVALID` as if it were the restart record's LSN. The error names the rule
/// (`Error::InconsistentOutput`; it was `Error::Status` with `STATUS_UNSUCCESSFUL`, whose
/// message claimed the routine had failed).
#[test]
fn write_restart_refuses_a_success_without_an_lsn() {
    let sb = Sandbox::new();
    {
        let log = log_with("restart-lsn", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        faults::fail_call("ClfsWriteRestartArea", 1, status::STATUS_SUCCESS);
        let err = area.write_restart(b"checkpoint").unwrap_err();
        assert_eq!(
            err,
            Error::InconsistentOutput {
                routine: "ClfsWriteRestartArea",
                status: NtStatus::SUCCESS,
                detail: Inconsistency::InvalidLsn {
                    what: "the restart record's LSN"
                },
            }
        );
        assert_eq!(
            err.to_string(),
            "ClfsWriteRestartArea reported success but returned CLFS_LSN_INVALID as the restart record's LSN"
        );
        assert_eq!(err.ntstatus(), NtStatus::LOG_METADATA_INCONSISTENT);
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

/// The example (item 5): with `a = reserve(&[100])` live, `b = reserve(&[3000])` is
/// refused before any call, so `b.append` can no longer consume `a`'s record.
#[test]
fn a_second_live_reservation_on_one_area_is_refused_before_the_call() {
    let sb = Sandbox::new();
    {
        let log = log_with("reserve-two", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        let mut a = area.reserve(&[100]).unwrap();
        let calls = sb.stats().calls("ClfsReserveAndAppendLog");
        assert_eq!(area.reserve(&[3000]).unwrap_err(), Error::ReservationInUse);
        assert_eq!(
            Error::ReservationInUse.to_string(),
            "the marshalling area already has a live Reservation; CLFS keeps one reserved-record \
             pool per area, so a second guard could consume the first one's records: append \
             through the live guard, or drop or release it first"
        );
        assert_eq!(
            sb.stats().calls("ClfsReserveAndAppendLog"),
            calls,
            "no call"
        );
        assert_eq!((sb.stats().reserved_records, a.records()), (1, 1));
        a.append(&[b"undo"], Append::new()).unwrap();
        assert_eq!(sb.stats().reserved_records, 0);
        a.release().unwrap();
        // Another area of the same log has its own pool and its own guard.
        let other =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        let b = area.reserve(&[3000]).unwrap();
        let c = other.reserve(&[200]).unwrap();
        assert_eq!(sb.stats().reserved_records, 2);
        assert_eq!(log.info().unwrap().total_reservation, b.bytes() + c.bytes());
    }
    assert_no_leaks(&sb);
}

/// Item 10: a guard frees what is left with negative `rgcbReservation` entries of
/// `ClfsReserveAndAppendLog` (documented on the kernel DDI page), not with
/// `ClfsFreeReservedLog` (no kernel DDI page; a positive value there sets the total).
#[test]
fn a_reservation_is_freed_with_negative_reserve_entries() {
    let sb = Sandbox::new();
    {
        let log = log_with("reserve-free", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        let r = area.reserve(&[100, 200, 300]).unwrap();
        let calls = sb.stats().calls("ClfsReserveAndAppendLog");
        drop(r);
        let stats = sb.stats();
        assert_eq!(
            stats.calls("ClfsReserveAndAppendLog"),
            calls + 1,
            "one call frees all"
        );
        assert_eq!(stats.calls("ClfsFreeReservedLog"), 0);
        assert_eq!((stats.reserved_records, stats.reserved_bytes), (0, 0));
        assert_eq!(log.info().unwrap().total_reservation, 0);
    }
    assert_no_leaks(&sb);
}

/// One step of the reservation model test.
#[derive(Clone, Debug)]
enum ResOp {
    /// `area.reserve(sizes)` into guard slot `slot`.
    Reserve { slot: usize, sizes: Vec<u32> },
    /// `guard.append(len bytes)` through the guard in `slot`.
    Append { slot: usize, len: usize },
    /// A plain append on the area (no reservation).
    Plain { len: usize },
    /// Drop the guard in `slot`.
    Drop { slot: usize },
}

fn res_op() -> impl Strategy<Value = ResOp> {
    prop_oneof![
        (0..2usize, proptest::collection::vec(1..600u32, 1..5))
            .prop_map(|(slot, sizes)| ResOp::Reserve { slot, sizes }),
        (0..2usize, 1..700usize).prop_map(|(slot, len)| ResOp::Append { slot, len }),
        (1..300usize).prop_map(|len| ResOp::Plain { len }),
        (0..2usize).prop_map(|slot| ResOp::Drop { slot }),
    ]
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Reserve, append (through a guard or not) and drop in random orders on one area, with two
    /// guard slots, against a model: at most one guard is live; the guard's records and bytes,
    /// the emulator's reserved-record and reserved-byte accounts and `TotalReservation` match
    /// the model after every step; every appended record reads back.
    #[test]
    fn reservation_interleavings_match_the_model(ops in proptest::collection::vec(res_op(), 1..30)) {
        let sb = Sandbox::new();
        {
            let log = log_with("reserve-model", 2);
            let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
                .unwrap();
            let mut guards: [Option<clfs::Reservation<'_, '_, ClfsAllocator>>; 2] = [None, None];
            // The model: the live guard's reserved record sizes (aligned), per slot.
            let mut model: [Option<Vec<i64>>; 2] = [None, None];
            let mut appended: Vec<(clfs::Lsn, Vec<u8>)> = Vec::new();
            for (step, op) in ops.into_iter().enumerate() {
                let calls = sb.stats().calls("ClfsReserveAndAppendLog");
                match op {
                    ResOp::Reserve { slot, sizes } => {
                        let live = model.iter().any(Option::is_some);
                        let aligned: Vec<i64> =
                            sizes.iter().map(|&s| area.reservation_size(s).unwrap()).collect();
                        let calls = sb.stats().calls("ClfsReserveAndAppendLog");
                        match area.reserve(&sizes) {
                            Ok(g) => {
                                prop_assert!(!live, "step {step}: a second live guard");
                                guards[slot] = Some(g);
                                model[slot] = Some(aligned);
                            }
                            Err(e) => {
                                prop_assert!(live, "step {step}: refused {e}");
                                prop_assert_eq!(e, Error::ReservationInUse);
                                prop_assert_eq!(sb.stats().calls("ClfsReserveAndAppendLog"), calls);
                            }
                        }
                    }
                    ResOp::Append { slot, len } => {
                        let data: Vec<u8> = (0..len).map(|i| (i + step) as u8).collect();
                        let Some(g) = guards[slot].as_mut() else { continue };
                        let Some(m) = model[slot].as_mut() else { continue };
                        let share = area.reservation_size(len as u32).unwrap();
                        let calls = sb.stats().calls("ClfsReserveAndAppendLog");
                        let pick = m.iter().enumerate().filter(|(_, &s)| s >= share)
                            .min_by_key(|(_, &s)| s).map(|(i, _)| i);
                        match (g.append(&[&data], Append::new()), pick) {
                            (Ok(lsn), Some(i)) => {
                                m.swap_remove(i);
                                appended.push((lsn, data));
                            }
                            (Err(Error::ReservationUsedUp { .. }), None) if m.is_empty() => {
                                prop_assert_eq!(sb.stats().calls("ClfsReserveAndAppendLog"), calls);
                            }
                            (Err(Error::ReservationTooSmall { size, largest }), None) => {
                                prop_assert_eq!(size, share);
                                prop_assert_eq!(Some(&largest), m.iter().max());
                                prop_assert_eq!(sb.stats().calls("ClfsReserveAndAppendLog"), calls);
                            }
                            (got, want) => prop_assert!(false, "step {step}: {got:?}, model {want:?}"),
                        }
                    }
                    ResOp::Plain { len } => {
                        let data = vec![step as u8; len];
                        appended.push((area.append(&[&data]).unwrap(), data));
                    }
                    ResOp::Drop { slot } => {
                        let m = model[slot].take();
                        prop_assert_eq!(guards[slot].take().is_some(), m.is_some());
                        let left = m.map_or(0, |m| m.len());
                        // One call frees every record left; none when nothing is left.
                        let freed = u64::from(left > 0);
                        prop_assert_eq!(sb.stats().calls("ClfsReserveAndAppendLog"), calls + freed);
                    }
                }
                let (records, bytes) = model.iter().flatten().fold((0i64, 0i64), |(n, b), m| {
                    (n + m.len() as i64, b + m.iter().sum::<i64>())
                });
                let stats = sb.stats();
                prop_assert_eq!((stats.reserved_records, stats.reserved_bytes), (records, bytes),
                    "step {}: emulator's reserved records and bytes", step);
                prop_assert_eq!(log.info().unwrap().total_reservation, bytes);
                for (g, m) in guards.iter().zip(&model) {
                    if let (Some(g), Some(m)) = (g, m) {
                        prop_assert_eq!((g.records() as usize, g.bytes()), (m.len(), m.iter().sum()));
                    }
                }
            }
            drop(guards);
            prop_assert_eq!(sb.stats().reserved_records, 0);
            if let Some(&(first, _)) = appended.iter().min_by_key(|(l, _)| *l) {
                let mut cx = area.read(first, ReadMode::Forward).unwrap();
                let mut back = Vec::new();
                while let Some(r) = cx.next().unwrap() {
                    back.push((r.lsn, r.data.to_vec()));
                }
                appended.sort_by_key(|(l, _)| *l);
                prop_assert_eq!(back, appended);
            }
        }
        let leaks = sb.stats().leaks();
        prop_assert!(leaks.is_empty(), "leaks: {:?}", leaks);
    }
}

/// Item 14: `LogFile` is `Send + Sync` (the decision and its sources are in
/// `docs/decisions.md`): one log object, shared by reference, is queried from several threads
/// while they append through one shared area.
#[test]
fn one_log_serves_several_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<clfs::LogFile>();
    let sb = Sandbox::new();
    {
        let log = log_with("threads", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let (log, area) = (&log, &area);
                s.spawn(move || {
                    for i in 0..50u8 {
                        let lsn = area.append(&[&[t, i]]).unwrap();
                        assert!(log.info().unwrap().last >= lsn);
                    }
                });
            }
        });
        let first = log.info().unwrap().base;
        let mut cx = area.read(first, ReadMode::Forward).unwrap();
        let mut n = 0;
        while cx.next().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 200);
    }
    assert_no_leaks(&sb);
}

/// Item 13: `into_raw` then `from_raw` hands each handle over without closing it, and the new
/// owner closes it exactly once (the emulator counts the release calls and shows no leak).
#[test]
fn raw_handles_round_trip_and_close_exactly_once() {
    let sb = Sandbox::new();
    {
        let log = log_with("raw-roundtrip", 2);
        let raw_log = log.into_raw();
        assert_eq!(sb.stats().calls("ClfsCloseLogFileObject"), 0);
        // SAFETY: from `into_raw` just above; nothing else closes it.
        let log = unsafe { clfs::LogFile::from_raw(raw_log) };
        assert_eq!(log.as_raw(), raw_log.as_ptr());
        let config = MarshallingConfig::new(4096);
        let area = MarshallingArea::<ClfsAllocator>::create(&log, config).unwrap();
        let first = area.append(&[b"one"]).unwrap();
        area.write_restart(b"checkpoint").unwrap();
        let raw_area = area.into_raw();
        assert_eq!(sb.stats().calls("ClfsDeleteMarshallingArea"), 0);
        // SAFETY: from `into_raw` on an area of `log` with CLFS's allocator and `config`.
        let area = unsafe { MarshallingArea::<ClfsAllocator>::from_raw(raw_area, &log, config) };
        assert_eq!(area.as_raw(), raw_area.as_ptr());
        {
            let cx = area.read(first, ReadMode::Forward).unwrap();
            let raw_cx = cx.into_raw();
            // SAFETY: from `into_raw` on a context of `area`.
            let mut cx = unsafe { clfs::ReadContext::from_raw(raw_cx, &area) };
            assert_eq!(cx.as_raw(), raw_cx.as_ptr());
            // The opening record is not handed out again: the walk continues after it.
            assert!(cx.next().unwrap().is_none());
            let rc = area.read_restart().unwrap().unwrap();
            let raw_rc = rc.into_raw();
            // SAFETY: from `into_raw` on a restart context of `area`.
            let mut rc = unsafe { clfs::RestartContext::from_raw(raw_rc, &area) };
            assert_eq!(rc.as_raw(), raw_rc.as_ptr());
            assert!(
                rc.current().is_none(),
                "the opening buffer is not known after from_raw"
            );
            assert!(rc.previous().unwrap().is_none());
        }
        assert_eq!(
            sb.stats().calls("ClfsTerminateReadLog"),
            2,
            "each context once"
        );
        area.delete().unwrap();
        log.close().unwrap();
    }
    let stats = sb.stats();
    assert_eq!(stats.calls("ClfsDeleteMarshallingArea"), 1);
    assert_eq!(stats.calls("ClfsCloseLogFileObject"), 1);
    assert_no_leaks(&sb);
}

/// Item 13: a handle given away with `into_raw` is the caller's to close; the emulator's
/// accounts show it open until the caller closes it through the raw routine.
#[test]
fn into_raw_gives_up_ownership() {
    let sb = Sandbox::new();
    let raw = log_with("raw-owned", 2).into_raw();
    assert_eq!(sb.stats().open_logs, 1, "not closed by into_raw");
    // SAFETY: an open log file object that nothing else closes.
    let status = unsafe { clfs::sys::ClfsCloseLogFileObject(raw.as_ptr()) };
    assert_eq!(status, 0);
    assert_no_leaks(&sb);
}

/// Item 13: every library-refused error maps to the status Clfs.sys documents for the same
/// rule, never to a success, and a Clfs.sys failure keeps its own status.
#[test]
fn errors_map_to_a_failure_ntstatus() {
    let cases = [
        (Error::ZeroBufferSize, NtStatus::INVALID_PARAMETER),
        (
            Error::NotEnoughContainers { containers: 1 },
            NtStatus::LOG_NOT_ENOUGH_CONTAINERS,
        ),
        (Error::ReservationInUse, NtStatus::LOG_RESERVATION_INVALID),
        (
            Error::IrqlTooHigh {
                routine: "ClfsFlushToLsn",
                irql: 2,
            },
            NtStatus::INVALID_DEVICE_STATE,
        ),
        (
            Error::NameTooLong {
                what: "log name",
                len: 40_000,
            },
            NtStatus::NAME_TOO_LONG,
        ),
        (
            Error::Status {
                routine: "ClfsFlushToLsn",
                status: NtStatus::LOG_FULL,
            },
            NtStatus::LOG_FULL,
        ),
    ];
    for (e, want) in cases {
        assert_eq!(e.ntstatus(), want, "{e}");
        assert!(!e.ntstatus().is_success(), "{e}");
        assert_eq!(i32::from(e.clone()), want.0);
        assert_eq!(NtStatus::from(e), want);
    }
}

/// Item 12: create options, `fLogOptionFlag` with its context and a security descriptor reach
/// `ClfsCreateLogFile` as given (the emulator records them).
#[test]
fn log_options_pass_flags_context_and_security_descriptor() {
    use clfs::{
        CreateOptions, LogContext, LogFile, LogOptionFlags, LogOptions, SecurityDescriptor,
    };
    use core::ptr::NonNull;
    let sb = Sandbox::new();
    {
        // A self-relative descriptor's first bytes (revision 1, SE_SELF_RELATIVE); CLFS only
        // passes the pointer on, the emulator records it.
        let sd_bytes = [
            1u8, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        // SAFETY: 20 readable bytes that outlive the options.
        let sd = unsafe { SecurityDescriptor::from_raw(NonNull::from(&sd_bytes).cast()) };
        let cookie = *b"filter cookie";
        let opts = LogOptions::new()
            .create_if_missing()
            .create_options(CreateOptions::NO_INTERMEDIATE_BUFFERING)
            .log_option_flags(
                LogOptionFlags::REENTRANT_FILE_SYSTEM
                    | LogOptionFlags::REENTRANT_FILTER
                    | LogOptionFlags::HIDDEN_SYSTEM_LOG,
            )
            .context(LogContext::bytes(&cookie).unwrap())
            .security_descriptor(sd);
        let log = LogFile::create(&common::w("log:C:\\t\\flags"), opts).unwrap();
        let call = sb.stats().last_create.unwrap();
        assert_eq!(call.create_options, 0x8);
        assert_eq!(call.log_option_flag, 0x8 | 0x20 | 0x200);
        assert_eq!(call.security_descriptor, sd_bytes.as_ptr() as usize);
        assert_eq!(
            (call.context, call.context_len),
            (cookie.as_ptr() as usize, 13)
        );
        drop(log);
        // A non-reentrant filter passes its target device object.
        // SAFETY: all-zero is a valid bit pattern for this plain C struct.
        let device: clfs::sys::DEVICE_OBJECT = unsafe { core::mem::zeroed() };
        // SAFETY: `device` outlives the options.
        let target = unsafe { LogContext::device_object(NonNull::from(&device)) };
        let opts = LogOptions::new()
            .log_option_flags(LogOptionFlags::NON_REENTRANT_FILTER)
            .context(target);
        LogFile::create(&common::w("log:C:\\t\\flags"), opts).unwrap();
        let call = sb.stats().last_create.unwrap();
        assert_eq!(call.log_option_flag, 0x10);
        assert_eq!(
            (call.context, call.context_len as usize),
            (
                &device as *const _ as usize,
                size_of::<clfs::sys::DEVICE_OBJECT>()
            )
        );
        LogFile::delete_named_with(&common::w("log:C:\\t\\flags"), &opts).unwrap();
    }
    assert_no_leaks(&sb);
}

/// Item 12: combinations the DDI forbids are refused before the call, with the rule and the
/// values, and Clfs.sys is never called.
#[test]
fn log_option_rules_are_checked_before_the_call() {
    use clfs::{CreateOptions, LogContext, LogFile, LogOptionFlags, LogOptions};
    let sb = Sandbox::new();
    let cookie = [7u8; 4];
    let ctx = LogContext::bytes(&cookie).unwrap();
    let cases: [(LogOptions<'_>, &str); 5] = [
        (
            LogOptions::new().create_options(
                CreateOptions::SYNCHRONOUS_IO_ALERT | CreateOptions::SYNCHRONOUS_IO_NONALERT,
            ),
            "FILE_SYNCHRONOUS_IO_ALERT and FILE_SYNCHRONOUS_IO_NONALERT exclude each other",
        ),
        (
            LogOptions::new()
                .log_option_flags(LogOptionFlags::REENTRANT_FILTER | LogOptionFlags::MINIFILTER_LEVEL)
                .context(ctx),
            "at most one of NON_REENTRANT_FILTER, REENTRANT_FILTER and MINIFILTER_LEVEL may be set: each gives the context a different meaning",
        ),
        (
            LogOptions::new().log_option_flags(LogOptionFlags::NON_REENTRANT_FILTER),
            "NON_REENTRANT_FILTER and MINIFILTER_LEVEL need a context: the target device object or the minifilter context",
        ),
        (
            LogOptions::new().log_option_flags(LogOptionFlags::MINIFILTER_LEVEL),
            "NON_REENTRANT_FILTER and MINIFILTER_LEVEL need a context: the target device object or the minifilter context",
        ),
        (
            LogOptions::new().log_option_flags(LogOptionFlags::from_bits_retain(0x1)),
            "fLogOptionFlag has bits that are no CLFS_FLAG_* create flag",
        ),
    ];
    for (opts, rule) in cases {
        let err = LogFile::create(&common::w("log:C:\\t\\bad-flags"), opts).unwrap_err();
        match err {
            Error::LogOptions { rule: got, .. } => assert_eq!(got, rule),
            other => panic!("{other}"),
        }
        assert_eq!(err.ntstatus(), NtStatus::INVALID_PARAMETER);
    }
    assert_eq!(LogContext::bytes(&[]), None, "cbContext must be > 0");
    assert_eq!(
        sb.stats().calls("ClfsCreateLogFile"),
        0,
        "Clfs.sys never called"
    );
    // The emulator refuses the same combinations when they reach it through the raw routine.
    let name = common::w("log:C:\\t\\raw-flags");
    let us = clfs::sys::UNICODE_STRING {
        Length: (name.len() * 2) as u16,
        MaximumLength: (name.len() * 2) as u16,
        Buffer: name.as_ptr().cast_mut(),
    };
    for (flag, ctx, len) in [
        (0x10 | 0x20, cookie.as_ptr(), 4),
        (0x100, core::ptr::null(), 0),
        (0x1, core::ptr::null(), 0),
        (0, cookie.as_ptr(), 0),
    ] {
        let mut out = core::ptr::null_mut();
        // SAFETY: valid out pointer and name; the context is NULL or 4 readable bytes.
        let st = unsafe {
            clfs::sys::ClfsCreateLogFile(
                &mut out,
                &us,
                0xC000_0000,
                1,
                core::ptr::null_mut(),
                3,
                0,
                0x80,
                flag,
                ctx.cast(),
                len,
            )
        };
        assert_eq!(st, status::STATUS_INVALID_PARAMETER, "flag {flag:#x}");
    }
    assert_no_leaks(&sb);
}
