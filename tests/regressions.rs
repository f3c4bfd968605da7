//! Regression tests for what fuzzing found (fuzz/, docs/reliability.md), reproduced through
//! the normal API rather than libFuzzer.
//!
//! Each test names the fuzz target and input that found it. Tests marked `BUG` describe a
//! defect in src/ or emu/ that is not fixed yet: they fail until it is (docs/reliability.md
//! lists them with the suggested fix).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{Append, ClfsAllocator, Error, MarshallingArea, MarshallingConfig};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

/// Asserts that `result` is a refusal made before any CLFS call (`clfs_calls` unchanged).
fn assert_refused_first<T: std::fmt::Debug>(
    sb: &Sandbox,
    calls_before: u64,
    what: &str,
    result: Result<T, Error>,
) {
    let calls = sb.stats().clfs_calls() - calls_before;
    match result {
        Err(e) if e.refused_before_call() => {
            assert_eq!(calls, 0, "{what}: refused first, yet {calls} CLFS call(s) were made");
        }
        Err(e) => panic!(
            "{what}: Clfs.sys was called ({calls} call(s)) and refused with {e}; the library \
             should refuse this input before the call"
        ),
        Ok(v) => panic!("{what}: accepted ({v:?})"),
    }
}

// BUG (found by `operations`, input `Append { entries: [] }`): `MarshallingArea::append(&[])`
// calls `ClfsReserveAndAppendLog` with `cWriteEntries == 0` and no reservation, which the
// emulator refuses with STATUS_INVALID_PARAMETER ("nothing to do"). Worse, on a Clfs.sys that
// treats it as the reserve-only pattern and returns STATUS_SUCCESS, `*plsn` is not written
// ("plsn may be NULL if cWriteEntries == 0", reference §1.5) and `append_raw`'s
// `out.assume_init()` reads uninitialised memory. Suggested fix in src/write.rs
// `append_raw`: refuse `entries.is_empty()` before the call with a typed error (e.g. a new
// `Error::EmptyRecord`), and initialise `out` to `CLFS_LSN_INVALID` instead of `MaybeUninit`.
#[test]
fn empty_record_is_refused_before_the_call() {
    let sb = Sandbox::new();
    let log = log_with("reg-empty-append", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let before = sb.stats().clfs_calls();
    assert_refused_first(&sb, before, "append(&[])", area.append(&[]));
    let before = sb.stats().clfs_calls();
    assert_refused_first(
        &sb,
        before,
        "append_aligned(&[], 8)",
        area.append_aligned(&[], 8, Append::new()),
    );
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

// BUG (same family, found by `operations` once the case above was tolerated): a zero-byte
// record in `reserve` reaches `ClfsReserveAndAppendLog`, where an `rgcbReservation` entry of 0
// is STATUS_INVALID_PARAMETER (docs/emulator.md, "rgcbReservation": 0 is invalid). Suggested
// fix in src/write.rs `MarshallingArea::reserve`: refuse a size of 0 with
// `Error::Reservation { rule: "a reserved record must hold at least one byte" }`.
#[test]
fn zero_byte_reservation_is_refused_before_the_call() {
    let sb = Sandbox::new();
    let log = log_with("reg-empty-reserve", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let before = sb.stats().clfs_calls();
    let result = area.reserve(&[0]).map(|r| r.records());
    assert_refused_first(&sb, before, "reserve(&[0])", result);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

// BUG (same family): `Reservation::append` with no bytes asks `ClfsAlignReservedLog` for the
// share of a 0-byte record (STATUS_INVALID_PARAMETER: sizes <= 0 are invalid), and with no
// entries would pass `CLFS_FLAG_USE_RESERVATION` without entries, which §1.5 forbids.
// Suggested fix in src/write.rs `Reservation::append`: refuse empty `entries` (and a total of 0
// bytes) before `reservation_size`, with the same typed error as an empty append.
#[test]
fn empty_record_into_a_reservation_is_refused_before_the_call() {
    let sb = Sandbox::new();
    let log = log_with("reg-empty-reserved", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let mut r = area.reserve(&[64]).unwrap();
    let before = sb.stats().clfs_calls();
    let result = r.append(&[], Append::new());
    assert_refused_first(&sb, before, "reservation.append(&[])", result);
    drop(r);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

// BUG (same family): `write_restart(&[])` passes `cbRestartBuffer == 0`, which the emulator
// refuses with STATUS_INVALID_PARAMETER (docs/emulator.md, "ClfsWriteRestartArea": an empty
// buffer is invalid). Suggested fix in src/read.rs `write_restart_raw`: refuse empty data
// before the call with a typed error.
#[test]
fn empty_restart_area_is_refused_before_the_call() {
    let sb = Sandbox::new();
    let log = log_with("reg-empty-restart", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let before = sb.stats().clfs_calls();
    assert_refused_first(&sb, before, "write_restart(&[])", area.write_restart(&[]));
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

// Behaviour pinned, decision open (found by `operations`: write a restart area, append a
// record, advance the base to that record, reopen, read the restart area). After the base
// moves past the latest restart record, `LogInfo::restart` still names it but
// `read_restart()` fails with STATUS_LOG_START_OF_LOG (the emulator treats it like any record
// below the base; real Clfs.sys behaviour is undocumented). A driver that recovers from its
// restart area then cannot start. Suggested fix in the library (not made here): either
// `advance_base` refuses a base past `info.restart` (a typed error such as
// `Error::BaseOutOfRange`), or `read_restart` maps START_OF_LOG to a typed "restart area no
// longer in the log" error; then update this test.
#[test]
fn restart_area_below_the_base_cannot_be_read() {
    let sb = Sandbox::new();
    let log = log_with("reg-restart-below-base", 2);
    {
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(6656)).unwrap();
        let restart = area.write_restart(b"checkpoint").unwrap();
        let record = area.append(&[b"after the checkpoint"]).unwrap();
        assert!(record > restart);
        area.advance_base(record).unwrap();
        assert_eq!(log.info().unwrap().restart, Some(restart));
        let err = area.read_restart().map(|r| r.is_some()).unwrap_err();
        assert_eq!(err.status(), Some(clfs::NtStatus::LOG_START_OF_LOG), "{err}");
    }
    drop(log);
    assert_no_leaks(&sb);
}
