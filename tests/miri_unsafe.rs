//! Small scenarios through every unsafe path of the library (allocator trampolines, write
//! entries, read buffers, restart buffers, reservations, the raw seam), sized so that Miri can
//! run them: `.ci/miri.sh` runs this file under Miri. They are ordinary tests too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{
    pool_tag, Append, ClfsAllocator, MarshallingArea, MarshallingConfig, PoolType, ReadMode,
    TaggedPool,
};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

type Blocks = TaggedPool<{ pool_tag(*b"Miri") }>;

#[test]
fn append_read_restart_reserve_through_a_custom_allocator() {
    let sb = Sandbox::new();
    let log = log_with("miri", 2);
    let area = MarshallingArea::<Blocks>::create(
        &log,
        MarshallingConfig::new(1024)
            .pool(PoolType::PagedPool)
            .max_write_buffers(2)
            .max_read_buffers(2),
    )
    .expect("create");
    let a = area.append(&[b"ab", b"", b"cde"]).expect("append");
    let b = area
        .append_with(&[b"fgh"], Append::new().previous(a))
        .expect("append");
    let c = area
        .append_aligned(&[b"x", b"yz"], 4, Append::new())
        .expect("append aligned");
    {
        let mut cx = area.read(a, ReadMode::Forward).expect("read");
        assert_eq!(cx.next().expect("next").expect("a").data, b"abcde");
        assert_eq!(cx.next().expect("next").expect("b").data, b"fgh");
        assert_eq!(
            &cx.next().expect("next").expect("c").data[..6],
            b"x\0\0\0yz"
        );
        assert!(cx.next().expect("end").is_none());
    }
    {
        let mut cx = area.read(b, ReadMode::Previous).expect("read");
        assert_eq!(cx.next().expect("next").expect("b").lsn, b);
        assert_eq!(cx.next().expect("next").expect("a").lsn, a);
    }
    area.write_restart(b"r1").expect("restart");
    {
        let mut rc = area.read_restart().expect("read").expect("some");
        assert_eq!(rc.current().expect("current").data, b"r1");
        assert!(rc.previous().expect("start").is_none());
    }
    {
        let mut r = area.reserve(&[10, 20]).expect("reserve");
        r.append(&[b"reserved"], Append::new()).expect("append");
    }
    assert!(c > b);
    area.delete().expect("delete");
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn default_allocator_and_raw_seam() {
    let sb = Sandbox::new();
    let log = log_with("miri-raw", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(512))
        .expect("create");
    area.append(&[b"z"]).expect("append");
    drop(area);
    let mut cx: *mut core::ffi::c_void = core::ptr::null_mut();
    // SAFETY: a valid log object and out pointer; 1000 is refused by the emulator.
    let status = unsafe {
        clfs::sys::ClfsCreateMarshallingArea(
            log.as_raw(),
            clfs::sys::NonPagedPoolNx,
            None,
            None,
            1000,
            1,
            1,
            &mut cx,
        )
    };
    assert_eq!(clfs::NtStatus(status), clfs::NtStatus::INVALID_PARAMETER);
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn container_sets_from_the_stack_and_from_pool_and_checked_lengths() {
    use clfs::{Error, LogFile, LogOptions};
    use clfs_emu::faults;
    let sb = Sandbox::new();
    let log = LogFile::create(
        &common::w("log:C:\\t\\miri-sets"),
        LogOptions::new().create_if_missing(),
    )
    .expect("create");
    // Two paths: the stack array. Ten: the paged-pool array (PoolStrings), freed on return.
    let small: Vec<Vec<u16>> = (0..2).map(|i| common::w(&format!("%BLF%\\s{i}"))).collect();
    let large: Vec<Vec<u16>> = (0..10)
        .map(|i| common::w(&format!("%BLF%\\l{i}")))
        .collect();
    let small: Vec<&[u16]> = small.iter().map(Vec::as_slice).collect();
    let large: Vec<&[u16]> = large.iter().map(Vec::as_slice).collect();
    log.add_containers(&small, 512 * 1024).expect("small set");
    log.add_containers(&large, 512 * 1024).expect("large set");
    log.remove_containers(&large[2..], true).expect("remove");
    assert_eq!(log.info().expect("info").containers, 4);
    // A length the block cannot hold is refused before a slice is formed over it.
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(1024)).expect("area");
    let lsn = area.append(&[b"abc"]).expect("append");
    faults::override_length("ClfsReadLogRecord", 1, 1025);
    assert!(matches!(
        area.read(lsn, ReadMode::Forward),
        Err(Error::LengthOutOfRange { len: 1025, .. })
    ));
    let mut cx = area.read(lsn, ReadMode::Forward).expect("read");
    assert_eq!(cx.next().expect("next").expect("record").data, b"abc");
    drop(cx);
    area.delete().expect("delete");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

/// The ownership hand-overs (`into_raw`/`from_raw` on every handle type) and the borrowed
/// create-time pointers (`LogContext`, `SecurityDescriptor`), under Miri too.
#[test]
fn raw_handle_round_trips_and_borrowed_create_options() {
    use clfs::{LogContext, LogFile, LogOptionFlags, LogOptions, SecurityDescriptor};
    use core::ptr::NonNull;
    let sb = Sandbox::new();
    {
        let sd_bytes = [1u8; 20];
        // SAFETY: 20 readable bytes that outlive the options (the emulator only records the
        // address).
        let sd = unsafe { SecurityDescriptor::from_raw(NonNull::from(&sd_bytes).cast()) };
        let cookie = *b"cookie";
        let opts = LogOptions::new()
            .create_if_missing()
            .log_option_flags(LogOptionFlags::REENTRANT_FILTER)
            .context(LogContext::bytes(&cookie).unwrap())
            .security_descriptor(sd);
        let log = LogFile::create(&common::w("log:C:\\t\\miri-raw"), opts).unwrap();
        for i in 0..2 {
            log.add_container(&common::w(&format!("%BLF%\\miri-raw-{i}")), 512 * 1024)
                .unwrap();
        }
        // SAFETY: from `into_raw`; closed only by the new owner.
        let log = unsafe { LogFile::from_raw(log.into_raw()) };
        let config = MarshallingConfig::new(4096);
        let raw = MarshallingArea::<ClfsAllocator>::create(&log, config)
            .unwrap()
            .into_raw();
        // SAFETY: from `into_raw` on an area of `log` with CLFS's allocator and `config`.
        let area = unsafe { MarshallingArea::<ClfsAllocator>::from_raw(raw, &log, config) };
        let a = area.append(&[b"a"]).unwrap();
        area.append(&[b"b"]).unwrap();
        area.write_restart(b"r").unwrap();
        let raw = area.read(a, ReadMode::Forward).unwrap().into_raw();
        // SAFETY: from `into_raw` on a context of `area`.
        let mut cx = unsafe { clfs::ReadContext::from_raw(raw, &area) };
        assert_eq!(cx.next().unwrap().unwrap().data, b"b");
        drop(cx);
        let rc = area.read_restart().unwrap().unwrap();
        assert_eq!(rc.current().unwrap().data, b"r");
        let raw = rc.into_raw();
        // SAFETY: from `into_raw` on a restart context of `area`.
        let mut rc = unsafe { clfs::RestartContext::from_raw(raw, &area) };
        assert!(rc.previous().unwrap().is_none());
    }
    assert_no_leaks(&sb);
}
