//! Regression tests for what fuzzing found (fuzz/, docs/reliability.md), reproduced through
//! the normal API rather than libFuzzer.
//!
//! Each test names the fuzz target and the input that found it (kept as a seed in
//! `fuzz/corpus/<target>/regress-*`). Tests marked `BUG` describe a defect in src/ or emu/:
//! they fail where the defect is and pass once the suggested fix is in (docs/reliability.md
//! lists them). The empty-input ones fail at commit e9791b6 and pass with the
//! `Error::NoEntries` / `Error::EmptyRestartArea` / zero-size `Error::Reservation` checks added
//! to src/ afterwards; the container-add one failed only on the emulator rework in progress and
//! passes with its fix.
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
            assert_eq!(
                calls, 0,
                "{what}: refused first, yet {calls} CLFS call(s) were made"
            );
        }
        Err(e) => panic!(
            "{what}: Clfs.sys was called ({calls} call(s)) and refused with {e}; the library \
             should refuse this input before the call"
        ),
        Ok(v) => panic!("{what}: accepted ({v:?})"),
    }
}

// BUG (found by `operations`, input `Append { entries: [] }`,
// fuzz/corpus/operations/regress-empty-append): `MarshallingArea::append(&[])`
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

// Found by `operations` (fuzz/corpus/operations/regress-restart-below-base): write a restart
// area, append a record, advance the base to that record, read the restart area. After the base
// moved past the latest restart record, `LogInfo::restart` still named it but `read_restart()`
// failed with STATUS_LOG_START_OF_LOG: a driver's recovery could not start. Decision
// (docs/decisions.md): `advance_base` refuses a base past the latest restart area, before the
// call; `write_restart_with_base` is the way to move the base past a checkpoint.
#[test]
fn base_cannot_pass_the_latest_restart_area() {
    let sb = Sandbox::new();
    let log = log_with("reg-restart-below-base", 2);
    {
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(6656)).unwrap();
        let restart = area.write_restart(b"checkpoint").unwrap();
        let record = area.append(&[b"after the checkpoint"]).unwrap();
        assert!(record > restart);
        let before = sb.stats().calls("ClfsAdvanceLogBase");
        let err = area.advance_base(record).unwrap_err();
        assert_eq!(
            err,
            Error::BasePastRestart {
                new: record,
                restart
            }
        );
        assert_eq!(
            sb.stats().calls("ClfsAdvanceLogBase"),
            before,
            "refused before the call"
        );
        assert_eq!(
            area.read_restart()
                .unwrap()
                .unwrap()
                .current()
                .unwrap()
                .data,
            b"checkpoint"
        );
        // The supported way: a new checkpoint that moves the base.
        let second = area
            .write_restart_with_base(b"checkpoint 2", record)
            .unwrap();
        assert_eq!(log.info().unwrap().base, record);
        let rc = area.read_restart().unwrap().unwrap();
        let latest = rc.current().unwrap();
        assert_eq!((latest.lsn, latest.data), (second, &b"checkpoint 2"[..]));
    }
    drop(log);
    assert_no_leaks(&sb);
}

// BUG (found by `operations` on the uncommitted emulator rework of 2026-11-24, not at commit
// e9791b6, fixed in the tree since; input: `Append { entries: [(0, _)] }, AddContainer,
// Reopen`, fuzz/corpus/operations/regress-add-container-then-flush): a record is appended,
// a container is added while the record still waits in the area's block, and the area is
// deleted (which flushes). After the log is closed and opened again, `LogInfo::last` is 0.0.0
// while the base is the record's LSN, and the record is gone (`Error::LsnNotInLog { first:
// 0.200.0, last: 0.0.0 }`): a flushed record is lost. Cause, in emu/src/log.rs: the
// container add stores the base file with `flushed == 0`; the flush then changes only the
// cursor and `flushed`, which `Meta::same_but_cursor` ignores, so the base file is not
// rewritten; and `PhysLog::load` scans the containers only `if log.meta.flushed != 0`, so it
// never finds the block. Suggested fix: in `PhysLog::load`, scan the cursor's container from
// the recorded cursor whatever `meta.flushed` says (or make `same_but_cursor` return false
// while the stored `flushed` is 0, so the first flush rewrites the base file).
#[test]
fn flushed_record_survives_a_container_add_and_reopen() {
    let sb = Sandbox::new();
    let name: Vec<u16> = "log:C:\\t\\reg-add-then-flush".encode_utf16().collect();
    let lsn = {
        let log = log_with("reg-add-then-flush", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(6656)).unwrap();
        let lsn = area.append(&[b"flushed by the area's deletion"]).unwrap();
        log.add_container(&common::w("%BLF%\\reg-add-then-flush-extra"), 512 * 1024)
            .unwrap();
        area.delete().unwrap();
        log.close().unwrap();
        lsn
    };
    let log = clfs::LogFile::create(&name, clfs::LogOptions::new()).unwrap();
    let info = log.info().unwrap();
    assert!(
        info.base <= lsn && lsn <= info.last,
        "the flushed record {lsn} is in the log's range {}..={}",
        info.base,
        info.last
    );
    {
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(6656)).unwrap();
        let mut cx = area.read(lsn, clfs::ReadMode::Forward).unwrap();
        let r = cx.next().unwrap().expect("the flushed record");
        assert_eq!(
            (r.lsn, r.data),
            (lsn, &b"flushed by the area's deletion"[..])
        );
    }
    drop(log);
    assert_no_leaks(&sb);
}

// BUG (found by `operations`, fuzz/corpus/operations/regress-base-past-end: three records in
// three blocks, none flushed, advance the base to the third, crash, append, read it back).
// `ClfsAdvanceLogBase` persists the new base at once, also when it is the LSN of a record
// that is not flushed yet; a crash then loses that record, and the reopened log has its base
// past its end (`LogInfo::base` 0.1800.0 > `LogInfo::last` 0.0.0). The next record gets an LSN
// after the durable end, i.e. below the base, so it cannot be read back
// (`Error::LsnNotInLog`; Clfs.sys would answer STATUS_LOG_START_OF_LOG). Suggested fix in emu/
// (`ClfsAdvanceLogBase`): flush the log through the new base before persisting it (the
// stricter reading: the base never passes the durable end); alternatively clamp the base to
// the durable end when a log is loaded. The library could also refuse a base past
// `LogInfo::last_flushed` in `MarshallingArea::advance_base`.
#[test]
fn base_never_passes_the_durable_end_across_a_crash() {
    let sb = Sandbox::new();
    let name: Vec<u16> = "log:C:\\t\\reg-base-past-end".encode_utf16().collect();
    let big = [7u8; 3000];
    {
        let log = log_with("reg-base-past-end", 2);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
        area.append(&[&big]).unwrap();
        area.append(&[&big]).unwrap();
        let third = area.append(&[&big]).unwrap();
        area.advance_base(third).unwrap();
        sb.crash();
    }
    let log = clfs::LogFile::create(&name, clfs::LogOptions::new()).unwrap();
    let info = log.info().unwrap();
    assert!(
        info.base <= info.last,
        "after the crash the base {} is past the last LSN {}",
        info.base,
        info.last
    );
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let next = area.append(&[b"after the crash"]).unwrap();
    let after = log.info().unwrap();
    assert!(
        after.base <= next,
        "the new record {next} lies below the base {} (before the crash the base was set to \
         a record that was never flushed)",
        after.base
    );
    {
        let mut cx = area.read(next, clfs::ReadMode::Forward).unwrap();
        let r = cx
            .next()
            .unwrap()
            .expect("the record appended after the crash");
        assert_eq!(r.data, b"after the crash");
    }
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}
