//! Records: append, flush, read back, chains, restart areas, reservations, the tail and
//! durability, against the emulator's real on-disk log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{
    max_record_size, Append, ClfsAllocator, Error, Lsn, MarshallingArea, MarshallingConfig,
    NtStatus, ReadMode, RecordType,
};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with, w};

fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7)) as u8)
        .collect()
}

/// Reads every data record forward from `from`.
fn read_all<B: clfs::Blocks>(area: &MarshallingArea<'_, B>, from: Lsn) -> Vec<(Lsn, Vec<u8>)> {
    let mut out = Vec::new();
    let mut cx = area
        .read(from, ReadMode::Forward)
        .expect("open read context");
    while let Some(r) = cx.next().expect("read next") {
        assert_eq!(r.kind(), RecordType::Data);
        out.push((r.lsn, r.data.to_vec()));
    }
    out
}

#[test]
fn round_trips_many_sizes_up_to_the_buffer_size() {
    let sb = Sandbox::new();
    let log = log_with("sizes", 4);
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(8 * 1024).max_write_buffers(4),
    )
    .expect("create");
    let max = max_record_size(8 * 1024) as usize;
    let sizes = [
        0usize,
        1,
        7,
        8,
        9,
        40,
        511,
        512,
        513,
        1000,
        4096,
        max - 1,
        max,
    ];
    let mut written = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let data = pattern(i, n);
        let (a, b) = data.split_at(n / 3);
        let lsn = area.append(&[a, b]).expect("append");
        if let Some((last, _)) = written.last() {
            assert!(lsn > *last, "LSNs strictly increase");
        }
        written.push((lsn, data));
    }
    // Unflushed records are readable through the same area.
    assert_eq!(read_all(&area, written[0].0), written);
    area.flush().expect("flush");
    assert_eq!(read_all(&area, written[0].0), written);
    area.delete().expect("delete");
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn records_cross_container_boundaries() {
    let sb = Sandbox::new();
    let log = log_with("cross", 4);
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(16 * 1024).max_write_buffers(2),
    )
    .expect("create");
    let mut written = Vec::new();
    for i in 0..400 {
        let data = pattern(i, 3000 + i % 700);
        written.push((area.append(&[&data]).expect("append"), data));
    }
    let containers: std::collections::BTreeSet<u32> =
        written.iter().map(|(l, _)| l.container()).collect();
    assert!(
        containers.len() >= 2,
        "~1.3 MB of records spans several containers: {containers:?}"
    );
    area.flush().expect("flush");
    assert_eq!(read_all(&area, written[0].0), written);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn log_full_then_recovery_by_advancing_the_base_and_wrapping_around() {
    let sb = Sandbox::new();
    let log = log_with("wrap", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(16 * 1024).max_write_buffers(2),
    )
    .expect("create");
    let data = pattern(1, 8000);
    let mut lsns = Vec::new();
    let full = loop {
        match area.append(&[&data]) {
            Ok(lsn) => lsns.push(lsn),
            Err(e) => break e,
        }
        assert!(lsns.len() < 1000, "two 512 KiB containers cannot hold 8 MB");
    };
    assert_eq!(full.status(), Some(NtStatus::LOG_FULL), "{full}");
    // Move the base past the first container's records: its space becomes reusable.
    let first_container = lsns[0].container();
    let new_base = *lsns
        .iter()
        .find(|l| l.container() != first_container)
        .expect("second container used");
    area.advance_base(new_base).expect("advance base");
    let mut after = Vec::new();
    for i in 0..40 {
        let d = pattern(100 + i, 8000);
        after.push((area.append(&[&d]).expect("append after wrap"), d));
    }
    assert!(
        after[0].0 > *lsns.last().expect("some"),
        "LSNs keep increasing across the wrap"
    );
    assert!(
        after.last().expect("some").0.container() > lsns.last().expect("some").container(),
        "a recycled container gets a new logical id"
    );
    area.flush().expect("flush");
    let read = read_all(&area, new_base);
    assert_eq!(read.last(), after.last(), "wrapped records read back");
    assert_eq!(
        read.iter().filter(|(l, _)| *l >= after[0].0).count(),
        after.len()
    );
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn adding_a_container_makes_room_in_a_full_log() {
    let sb = Sandbox::new();
    let log = log_with("grow", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(16 * 1024))
        .expect("create");
    let data = pattern(2, 8000);
    while area.append(&[&data]).is_ok() {}
    assert_eq!(
        area.append(&[&data]).unwrap_err().status(),
        Some(NtStatus::LOG_FULL)
    );
    log.add_container(&w("%BLF%\\grow-extra"), 512 * 1024)
        .expect("add container");
    area.append(&[&data]).expect("room again");
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn transaction_chains_read_backwards() {
    let sb = Sandbox::new();
    let log = log_with("chain", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    let t1 = area.append(&[b"t1 begin"]).expect("append");
    let noise = area.append(&[b"other transaction"]).expect("append");
    let t2 = area
        .append_with(&[b"t1 update"], Append::new().previous(t1).undo_next(t1))
        .expect("append");
    let t3 = area
        .append_with(&[b"t1 commit"], Append::new().previous(t2).undo_next(t1))
        .expect("append");
    let mut cx = area.read(t3, ReadMode::Previous).expect("read");
    let mut chain = Vec::new();
    while let Some(r) = cx.next().expect("next") {
        chain.push((r.lsn, r.data.to_vec(), r.previous(), r.undo_next()));
    }
    assert_eq!(
        chain,
        vec![
            (t3, b"t1 commit".to_vec(), Some(t2), Some(t1)),
            (t2, b"t1 update".to_vec(), Some(t1), Some(t1)),
            (t1, b"t1 begin".to_vec(), None, None),
        ]
    );
    assert!(!chain.iter().any(|c| c.0 == noise));
    drop(cx);
    let mut undo = area.read(t3, ReadMode::UndoNext).expect("read");
    let lsns: Vec<Lsn> = std::iter::from_fn(|| undo.next().expect("next").map(|r| r.lsn)).collect();
    assert_eq!(lsns, vec![t3, t1], "undo-next skips the update");
    drop(undo);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn restart_areas_form_a_chain_and_move_the_base() {
    let sb = Sandbox::new();
    let log = log_with("restart", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    assert!(
        area.read_restart().expect("read").is_none(),
        "STATUS_LOG_NO_RESTART maps to None"
    );
    assert_eq!(log.info().expect("info").restart, None);
    let a = area.append(&[b"a"]).expect("append");
    let r1 = area.write_restart(b"checkpoint one").expect("restart");
    let b = area.append(&[b"b"]).expect("append");
    let r2 = area
        .write_restart_with_base(b"checkpoint two", a)
        .expect("restart with base");
    assert!(a < r1 && r1 < b && b < r2);
    let info = log.info().expect("info");
    assert_eq!(info.restart, Some(r2));
    assert_eq!(info.base, a);
    let mut rc = area.read_restart().expect("read").expect("some");
    let latest = rc.current().expect("current");
    assert_eq!((latest.lsn, latest.data), (r2, &b"checkpoint two"[..]));
    let older = rc.previous().expect("previous").expect("r1");
    assert_eq!((older.lsn, older.data), (r1, &b"checkpoint one"[..]));
    assert!(rc.previous().expect("start of chain").is_none());
    assert!(
        rc.current().is_none(),
        "nothing stale after the start of the chain"
    );
    drop(rc);
    // Once the base passes a restart record, the chain ends before it (STATUS_LOG_START_OF_LOG).
    area.advance_base(b).expect("advance base");
    let mut rc = area.read_restart().expect("read").expect("some");
    assert_eq!(rc.current().expect("current").lsn, r2);
    assert!(rc.previous().expect("r1 is below the base now").is_none());
    drop(rc);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn flushed_records_survive_close_and_reopen_byte_for_byte() {
    let sb = Sandbox::new();
    let name = w("log:C:\\t\\durable");
    let mut written = Vec::new();
    {
        let log = clfs::LogFile::create(&name, clfs::LogOptions::new().create_if_missing())
            .expect("create");
        log.add_containers(&[&w("%BLF%\\d0")[..], &w("%BLF%\\d1")[..]], 512 * 1024)
            .expect("containers");
        let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(8192))
            .expect("area");
        for i in 0..200 {
            let d = pattern(i, i * 13 % 3000);
            written.push((area.append(&[&d]).expect("append"), d));
        }
        area.write_restart(b"state after 200").expect("restart");
        area.delete().expect("delete flushes");
        log.close().expect("close");
    }
    let log = clfs::LogFile::create(&name, clfs::LogOptions::new()).expect("reopen");
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(8192)).expect("area");
    assert_eq!(read_all(&area, written[0].0), written);
    assert_eq!(
        area.read_restart()
            .expect("read")
            .expect("some")
            .current()
            .expect("current")
            .data,
        b"state after 200"
    );
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn a_crash_keeps_exactly_the_flushed_prefix() {
    let sb = Sandbox::new();
    let name = w("log:C:\\t\\crash");
    let log =
        clfs::LogFile::create(&name, clfs::LogOptions::new().create_if_missing()).expect("create");
    log.add_containers(&[&w("%BLF%\\k0")[..], &w("%BLF%\\k1")[..]], 512 * 1024)
        .expect("containers");
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024))
        .expect("area");
    let mut written = Vec::new();
    for i in 0..50 {
        let d = pattern(i, 100);
        written.push((area.append(&[&d]).expect("append"), d));
    }
    let next = area.flush().expect("flush");
    assert!(
        next > written.last().expect("some").0,
        "the first LSN not flushed follows the last record"
    );
    for i in 50..80 {
        let d = pattern(i, 100);
        written.push((area.append(&[&d]).expect("append"), d));
    }
    let last_flushed = log.info().expect("info").last_flushed;
    sb.crash();
    // The handles died with the "machine"; dropping them must not disturb anything.
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
    let log = clfs::LogFile::create(&name, clfs::LogOptions::new()).expect("reopen after crash");
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024))
        .expect("area");
    let survivors = read_all(&area, written[0].0);
    let expected: Vec<_> = written
        .iter()
        .filter(|(l, _)| *l <= last_flushed)
        .cloned()
        .collect();
    assert_eq!(survivors, expected);
    assert_eq!(survivors.len(), 50, "the 30 unflushed records are gone");
    // The log goes on after the crash.
    let lsn = area.append(&[b"after"]).expect("append after crash");
    assert!(lsn > written[49].0);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn reservations_are_used_and_released() {
    let sb = Sandbox::new();
    let log = log_with("reserve", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    let available = log.info().expect("info").current_available;
    {
        let mut r = area.reserve(&[200, 300, 400]).expect("reserve");
        assert_eq!(r.records(), 3);
        let info = log.info().expect("info");
        assert_eq!(info.total_reservation, r.bytes());
        assert!(
            r.bytes() >= 900,
            "headers and alignment included: {}",
            r.bytes()
        );
        assert_eq!(info.current_available, available - r.bytes());
        let lsn = r
            .append(&[&[7u8; 150]], Append::new())
            .expect("append into reservation");
        assert_eq!(r.records(), 2);
        let mut cx = area.read(lsn, ReadMode::Forward).expect("read");
        assert_eq!(
            cx.next().expect("next").expect("record").data,
            &[7u8; 150][..]
        );
    }
    assert_eq!(
        log.info().expect("info").total_reservation,
        0,
        "dropping the guard frees the rest"
    );
    let err = area.reserve(&[]).unwrap_err();
    assert!(matches!(err, Error::Reservation { .. }));
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn certain_failures_are_refused_before_clfs_is_called() {
    let sb = Sandbox::new();
    let log = log_with("refuse", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    let before = sb.stats().calls("ClfsReserveAndAppendLog");
    let big = vec![0u8; 4096];
    assert_eq!(
        area.append(&[&big]).unwrap_err(),
        Error::RecordTooLarge {
            size: 4096,
            max: 4096 - 152 - 24,
            buffer_size: 4096
        }
    );
    assert_eq!(
        area.append(&[&big]).unwrap_err().to_string(),
        "record of 4096 bytes does not fit in the marshalling area: at most 3920 bytes fit in one 4096-byte buffer"
    );
    let many: Vec<&[u8]> = vec![b"x"; 33];
    assert_eq!(
        area.append(&many).unwrap_err(),
        Error::TooManyEntries { count: 33, max: 32 }
    );
    assert!(area.reserve(&[5000]).unwrap_err().refused_before_call());
    assert_eq!(
        sb.stats().calls("ClfsReserveAndAppendLog"),
        before,
        "never called"
    );
    assert_eq!(
        area.append_aligned(&[b"a"], 0, Append::new()).unwrap_err(),
        Error::ZeroAlignment
    );
    assert_eq!(sb.stats().calls("ClfsReserveAndAppendLogAligned"), 0);
    let reads = sb.stats().calls("ClfsReadLogRecord");
    assert_eq!(
        area.read(Lsn::INVALID, ReadMode::Forward).unwrap_err(),
        Error::InvalidLsn {
            what: "the LSN to read"
        }
    );
    assert_eq!(sb.stats().calls("ClfsReadLogRecord"), reads);
    let a = area.append(&[b"a"]).expect("append");
    let far = Lsn::new(a.container() + 7, 0, 0).expect("valid");
    let err = area.advance_base(far).unwrap_err();
    assert!(
        matches!(err, Error::BaseOutOfRange { new, .. } if new == far),
        "{err}"
    );
    assert_eq!(sb.stats().calls("ClfsAdvanceLogBase"), 0);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn aligned_entries_are_zero_padded() {
    let sb = Sandbox::new();
    let log = log_with("aligned", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    let lsn = area
        .append_aligned(&[b"abc", b"de"], 8, Append::new())
        .expect("append");
    let mut cx = area.read(lsn, ReadMode::Forward).expect("read");
    let r = cx.next().expect("next").expect("record");
    assert_eq!(&r.data[..10], b"abc\0\0\0\0\0de");
    drop(cx);
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn read_buffers_are_capped() {
    let sb = Sandbox::new();
    let log = log_with("readcap", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(
        &log,
        MarshallingConfig::new(4096).max_read_buffers(1),
    )
    .expect("create");
    let a = area.append(&[b"a"]).expect("append");
    let one = area.read(a, ReadMode::Forward).expect("first context");
    let err = area.read(a, ReadMode::Forward).unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::LOG_BLOCKS_EXHAUSTED));
    drop(one);
    area.read(a, ReadMode::Forward)
        .expect("a buffer is free again");
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn fewer_write_buffers_force_more_flushes() {
    let flushes = |buffers: u32| {
        let sb = Sandbox::new();
        let log = log_with(&format!("wb{buffers}"), 4);
        let area = MarshallingArea::<ClfsAllocator>::create(
            &log,
            MarshallingConfig::new(4096).max_write_buffers(buffers),
        )
        .expect("create");
        for i in 0..300 {
            area.append(&[&pattern(i, 1000)]).expect("append");
        }
        let stats = sb.stats();
        drop(area);
        drop(log);
        assert_no_leaks(&sb);
        (
            stats.flushes,
            stats.blocks.values().map(|o| o.count).max().unwrap_or(0),
        )
    };
    let (one, held_one) = flushes(1);
    let (eight, held_eight) = flushes(8);
    assert!(
        one > eight,
        "1 write buffer flushed {one} times, 8 buffers {eight} times"
    );
    assert!(
        held_one <= 1 && held_eight <= 8,
        "blocks held stay within cMaxWriteBuffers"
    );
}

#[test]
fn lsn_encoding_agrees_with_the_helper_routines() {
    use clfs::sys;
    let cases = [
        (0u32, 0u32, 0u32),
        (1, 512, 1),
        (7, 0x1000, 511),
        (u32::MAX - 1, 0xFFFF_FE00, 3),
        (3, 0x7FFF_FE00, 0),
    ];
    for (c, o, r) in cases {
        let ours = Lsn::new(c, o, r).expect("valid");
        // SAFETY: the helper routines take plain values and pointers to locals.
        let theirs = unsafe { sys::ClfsLsnCreate(c, o, r) };
        assert_eq!(ours.raw(), theirs.Internal, "{c}.{o}.{r}");
        let raw = theirs;
        // SAFETY: `raw` is a local CLFS_LSN.
        unsafe {
            assert_eq!(ours.container(), sys::ClfsLsnContainer(&raw));
        }
        // SAFETY: as above.
        unsafe {
            assert_eq!(ours.block_offset(), sys::ClfsLsnBlockOffset(&raw));
        }
        // SAFETY: as above.
        unsafe {
            assert_eq!(ours.record(), sys::ClfsLsnRecordSequence(&raw));
        }
    }
    // Invalid inputs give CLFS_LSN_INVALID there and None here.
    for (c, o, r) in [(0u32, 100u32, 0u32), (0, 0, 512)] {
        assert_eq!(Lsn::new(c, o, r), None);
        // SAFETY: ClfsLsnCreate takes plain values.
        let raw = unsafe { sys::ClfsLsnCreate(c, o, r) };
        assert_eq!(raw.Internal, Lsn::INVALID.raw());
    }
    let all = [
        Lsn::NULL,
        Lsn::new(0, 512, 0).expect("v"),
        Lsn::new(1, 0, 0).expect("v"),
        Lsn::new(1, 0, 5).expect("v"),
        Lsn::INVALID,
    ];
    for a in all {
        for b in all {
            let (x, y) = (a.to_raw_for_test(), b.to_raw_for_test());
            // SAFETY: pointers to locals.
            let less = unsafe { sys::ClfsLsnLess(&x, &y) };
            // SAFETY: pointers to locals.
            let greater = unsafe { sys::ClfsLsnGreater(&x, &y) };
            // SAFETY: pointers to locals.
            let equal = unsafe { sys::ClfsLsnEqual(&x, &y) };
            assert_eq!((a < b, a > b, a == b), (less, greater, equal), "{a} vs {b}");
        }
        let x = a.to_raw_for_test();
        // SAFETY: pointer to a local.
        assert_eq!(unsafe { sys::ClfsLsnNull(&x) }, a.is_null());
        // SAFETY: pointer to a local.
        assert_eq!(unsafe { sys::ClfsLsnInvalid(&x) }, a.is_invalid());
    }
}

trait ToRaw {
    fn to_raw_for_test(self) -> clfs::sys::CLFS_LSN;
}
impl ToRaw for Lsn {
    fn to_raw_for_test(self) -> clfs::sys::CLFS_LSN {
        clfs::sys::CLFS_LSN {
            Internal: self.raw(),
        }
    }
}

#[test]
fn reading_an_lsn_outside_the_log_is_refused_before_the_call() {
    let sb = Sandbox::new();
    let log = log_with("foreign", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    let a = area.append(&[b"a"]).expect("append");
    let beyond = Lsn::new(a.container() + 3, 0, 0).expect("valid");
    let reads = sb.stats().calls("ClfsReadLogRecord");
    let err = area.read(beyond, ReadMode::Forward).unwrap_err();
    assert!(
        matches!(err, Error::LsnNotInLog { lsn, last, .. } if lsn == beyond && last == a),
        "{err}"
    );
    assert!(err.to_string().contains("belongs to another log"), "{err}");
    assert_eq!(sb.stats().calls("ClfsReadLogRecord"), reads, "never called");
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}

const WRITER: &str = "CLFS_TEST_DURABILITY_WRITER";

/// The writer half of the next test: runs in a child process, appends and flushes, and exits
/// without closing anything in an orderly way beyond what the API does.
#[test]
fn durability_writer_child() {
    let Some(root) = std::env::var_os(WRITER) else {
        return;
    };
    let _sb = Sandbox::with_root(std::path::PathBuf::from(root));
    let log = clfs::LogFile::create(
        &w("log:C:\\x\\process"),
        clfs::LogOptions::new().create_new(),
    )
    .expect("create");
    log.add_containers(&[&w("%BLF%\\p0")[..], &w("%BLF%\\p1")[..]], 512 * 1024)
        .expect("containers");
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(8192)).expect("area");
    for i in 0..100 {
        area.append(&[&pattern(i, 50 + i * 7)]).expect("append");
    }
    area.flush().expect("flush");
    area.write_restart(b"written by another process")
        .expect("restart");
    for i in 100..120 {
        area.append(&[&pattern(i, 50)])
            .expect("append, never flushed");
    }
    // Power loss: the process dies with 20 records unflushed.
    std::process::abort();
}

#[test]
fn flushed_records_survive_into_a_new_process() {
    let sb = Sandbox::new();
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "durability_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WRITER, sb.root())
        .output()
        .expect("spawn writer");
    assert!(!out.status.success(), "the writer dies abruptly");
    let log = clfs::LogFile::create(&w("log:C:\\x\\process"), clfs::LogOptions::new())
        .expect("open the other process's log");
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(8192)).expect("area");
    let info = log.info().expect("info");
    let records = read_all(&area, info.base);
    let expected: Vec<Vec<u8>> = (0..100).map(|i| pattern(i, 50 + i * 7)).collect();
    assert_eq!(
        records.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
        expected,
        "exactly the 100 flushed records"
    );
    assert_eq!(
        area.read_restart()
            .expect("read")
            .expect("some")
            .current()
            .expect("current")
            .data,
        b"written by another process"
    );
    drop(area);
    drop(log);
    assert_no_leaks(&sb);
}
