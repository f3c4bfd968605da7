//! Behaviour tests of the raw emulated routines.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use core::ffi::c_void;
use core::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU64, Ordering};

use clfs_emu::status::*;
use clfs_emu::types::*;
use clfs_emu::*;
use common::*;

#[test]
fn create_open_and_name_rules() {
    let sb = Sandbox::new();
    assert_eq!(
        create("log:C:\\logs\\a", RW, 0, 1).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    let h = create("Log:C:\\logs\\a", RW, 1, 2).unwrap();
    assert!(sb.root().join("C/logs/a.blf").exists());
    assert_eq!(
        create("log:C:\\logs\\a", RW, 0, 2).err(),
        Some(STATUS_OBJECT_NAME_COLLISION)
    );
    assert_eq!(
        create("log:C:\\logs\\a", RW, 3, 3).err(),
        Some(STATUS_SHARING_VIOLATION)
    );
    assert_eq!(
        create("file:C:\\x", RW, 0, 3).err(),
        Some(STATUS_OBJECT_NAME_INVALID)
    );
    assert_eq!(
        create("log:C:\\a\\..\\b", RW, 0, 3).err(),
        Some(STATUS_OBJECT_NAME_INVALID)
    );
    assert_eq!(
        create("log:C:\\logs\\a::s", RW, 0, 3).err(),
        Some(STATUS_LOG_DEDICATED)
    );
    // A stream of a log that does not exist yet creates a multiplexed log (tests/streams.rs).
    let m = create("log:C:\\logs\\m::s", RW, 0, 3).unwrap();
    assert_eq!(close(m), 0);
    assert_eq!(
        create("log:C:\\x", RW, 0, 4).err(),
        Some(STATUS_INVALID_PARAMETER)
    );
    assert_eq!(
        create("log:C:\\x", 0x1, 0, 3).err(),
        Some(STATUS_INVALID_PARAMETER)
    );
    let n = ustr("log:C:\\x");
    // SAFETY: NULL out pointer is the case under test.
    let s =
        unsafe { ClfsCreateLogFile(null_mut(), &n.us, RW, 0, null_mut(), 3, 0, 0, 0, null(), 0) };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    let mut o = null_mut();
    // SAFETY: valid pointers; both SYNCHRONOUS flags is the case under test.
    let s =
        unsafe { ClfsCreateLogFile(&mut o, &n.us, RW, 0, null_mut(), 3, 0x30, 0, 0, null(), 0) };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    assert_eq!(close(h), 0);
    assert_eq!(close(h), STATUS_INVALID_HANDLE);
    assert_eq!(close(0x1234 as *mut _), STATUS_INVALID_HANDLE);
    let h = create("log:C:\\logs\\a", RW, 0, 1).unwrap();
    assert_eq!(close(h), 0);
    let st = sb.stats();
    assert_eq!(st.calls("ClfsCreateLogFile"), 13);
    assert_eq!(st.calls("ClfsCloseLogFileObject"), 5);
    no_leaks(&sb);
}

#[test]
fn containers_are_real_and_reopen() {
    let sb = Sandbox::new();
    let h = create("log:C:\\l\\c", RWD, 0, 2).unwrap();
    assert_eq!(add(h, None, "%BLF%\\c0").0, STATUS_INVALID_PARAMETER);
    let (s, sz) = add(h, Some(1000), "%BLF%\\c0");
    assert_eq!((s, sz), (0, 512 * 1024));
    let (s, sz) = add(h, Some(2 << 20), "C:\\other\\c1");
    assert_eq!((s, sz), (0, 512 * 1024));
    assert_eq!(add(h, None, "%BLF%\\c0").0, STATUS_OBJECT_NAME_COLLISION);
    assert_eq!(add(h, None, "relative\\c9").0, STATUS_OBJECT_NAME_INVALID);
    assert_eq!(add(h, None, "%BLF%\\..\\c9").0, STATUS_OBJECT_NAME_INVALID);
    assert_eq!(
        std::fs::metadata(sb.root().join("C/l/c0")).unwrap().len(),
        512 * 1024
    );
    assert_eq!(
        std::fs::metadata(sb.root().join("C/other/c1"))
            .unwrap()
            .len(),
        512 * 1024
    );
    let i = info(h);
    assert_eq!(
        (i.TotalContainers, i.ContainerSize, i.SectorSize),
        (2, 512 * 1024, 512)
    );
    assert_eq!(i.RestartLsn.Internal, CLFS_LSN_INVALID);
    assert_eq!(i.FlushThreshold, 40000);
    assert_eq!(close(h), 0);
    let h = create("log:C:\\l\\c", RWD, 0, 1).unwrap();
    let j = info(h);
    assert_eq!(j.TotalContainers, 2);
    assert_eq!(j.Identity.data1, i.Identity.data1);
    // remove: unknown, active forced, inactive
    let p = ustr("%BLF%\\nope");
    // SAFETY: valid pointers.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsRemoveLogContainer(h, &p.us, true) },
        STATUS_OBJECT_NAME_NOT_FOUND
    );
    let p = ustr("%BLF%\\c0");
    // SAFETY: valid pointers.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsRemoveLogContainer(h, &p.us, true) },
        STATUS_LOG_CANT_DELETE
    );
    let p = ustr("C:\\other\\c1");
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsRemoveLogContainer(h, &p.us, true) }, 0);
    assert!(!sb.root().join("C/other/c1").exists());
    // set: all or nothing
    let a = ustr("%BLF%\\s1");
    let b = ustr("%BLF%\\c0");
    let set = [a.us, b.us];
    // SAFETY: valid pointers.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsAddLogContainerSet(h, 2, null(), set.as_ptr()) },
        STATUS_OBJECT_NAME_COLLISION
    );
    assert!(!sb.root().join("C/l/s1").exists());
    // SAFETY: valid pointers.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsAddLogContainerSet(h, 0, null(), set.as_ptr()) },
        STATUS_INVALID_PARAMETER
    );
    // read-only handle cannot add
    let r = create("log:C:\\l\\c", 0x8000_0000, 7, 1);
    assert_eq!(r.err(), Some(STATUS_SHARING_VIOLATION));
    // SAFETY: handle value only.
    assert_eq!(unsafe { ClfsDeleteLogByPointer(h) }, 0);
    assert_eq!(
        create("log:C:\\l\\c", RW, 7, 1).err(),
        Some(STATUS_DELETE_PENDING)
    );
    assert_eq!(close(h), 0);
    assert!(!sb.root().join("C/l/c.blf").exists());
    assert!(!sb.root().join("C/l/c0").exists());
    no_leaks(&sb);
}

#[test]
fn query_buffer_too_small() {
    let sb = Sandbox::new();
    let h = create("log:q", RW, 0, 2).unwrap();
    let mut cb = 10u32;
    let mut buf = [0u8; 16];
    // SAFETY: valid pointers.
    let s =
        unsafe { ClfsQueryLogFileInformation(h, 0, null(), 0, buf.as_mut_ptr().cast(), &mut cb) };
    assert_eq!((s, cb), (STATUS_BUFFER_TOO_SMALL, 120));
    // SAFETY: valid pointers.
    let s =
        unsafe { ClfsQueryLogFileInformation(h, 7, null(), 0, buf.as_mut_ptr().cast(), &mut cb) };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    close(h);
    no_leaks(&sb);
}

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);

unsafe extern "system" fn my_alloc(pool: POOL_TYPE, bytes: usize, tag: u32) -> *mut c_void {
    assert_eq!((pool, bytes, tag), (512, 4096, EMU_BLOCK_TAG));
    ALLOCS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: our own emulated pool.
    unsafe { ExAllocatePool2(0x40, bytes, u32::from_le_bytes(*b"Test")) }
}

unsafe extern "system" fn my_free(p: *mut c_void) {
    FREES.fetch_add(1, Ordering::SeqCst);
    // SAFETY: allocated by my_alloc.
    unsafe { ExFreePoolWithTag(p, u32::from_le_bytes(*b"Test")) }
}

#[test]
fn marshalling_area_rules_and_allocator() {
    let sb = Sandbox::new();
    let h = create("log:m", RW, 0, 2).unwrap();
    let mut ctx = null_mut();
    // SAFETY: the bad handle is the case under test.
    let s =
        unsafe { ClfsCreateMarshallingArea(0x99 as *const _, 1, None, None, 512, 1, 1, &mut ctx) };
    assert_eq!(s, STATUS_INVALID_HANDLE);
    // SAFETY: NULL out pointer is the case under test.
    let s = unsafe { ClfsCreateMarshallingArea(h, 1, None, None, 512, 1, 1, null_mut()) };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    // SAFETY: valid pointers.
    let s = unsafe { ClfsCreateMarshallingArea(h, 7, None, None, 512, 1, 1, &mut ctx) };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    // SAFETY: valid pointers.
    let s = unsafe { ClfsCreateMarshallingArea(h, 1, Some(my_alloc), None, 512, 1, 1, &mut ctx) };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    assert_eq!(area(h, 100, 1, 1).err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(area(h, 512, 0, 1).err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(area(h, 512, 1, 0).err(), Some(STATUS_INVALID_PARAMETER));
    assert_eq!(
        area(h, 512, 1, 1).err(),
        Some(STATUS_LOG_NOT_ENOUGH_CONTAINERS)
    );
    add(h, Some(1), "%BLF%\\c0");
    assert_eq!(
        area(h, 512, 1, 1).err(),
        Some(STATUS_LOG_NOT_ENOUGH_CONTAINERS)
    );
    add(h, None, "%BLF%\\c1");
    // SAFETY: valid pointers and callbacks.
    let s = unsafe {
        ClfsCreateMarshallingArea(h, 512, Some(my_alloc), Some(my_free), 4096, 2, 1, &mut ctx)
    };
    assert_eq!(s, 0);
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 1);
    let st = sb.stats();
    assert_eq!(
        st.blocks.get(&(512, EMU_BLOCK_TAG)).map(|o| o.count),
        Some(1)
    );
    assert_eq!(
        st.pool.get(&u32::from_le_bytes(*b"Test")).map(|o| o.count),
        Some(1)
    );
    let l1 = append_ex(ctx, b"one", CLFS_LSN_INVALID, 1).unwrap();
    let _l2 = append(ctx, b"two");
    let (rc, r) = read(ctx, l1, 3).unwrap();
    assert_eq!(r.data, b"one");
    let (_, e) = (rc, read(ctx, l1, 3).err());
    assert_eq!(e, Some(STATUS_LOG_BLOCKS_EXHAUSTED));
    assert_eq!(term(rc), 0);
    assert_eq!(term(rc), STATUS_INVALID_HANDLE);
    assert_eq!(del_area(ctx), 0);
    assert_eq!(del_area(ctx), STATUS_INVALID_HANDLE);
    assert_eq!(ALLOCS.load(Ordering::SeqCst), FREES.load(Ordering::SeqCst));
    // allocation failure
    clfs_emu::faults::fail_alloc(1);
    assert_eq!(
        area(h, 512, 1, 1).err(),
        Some(STATUS_INSUFFICIENT_RESOURCES)
    );
    close(h);
    no_leaks(&sb);
}

#[test]
fn append_flush_read_and_reopen() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:C:\\r\\log", 2);
    let a = area(h, 4096, 4, 4).unwrap();
    let mut lsns = Vec::new();
    let mut datas = Vec::new();
    for i in 0..200u32 {
        let d: Vec<u8> = (0..(i * 7 % 300)).map(|k| (k ^ i) as u8).collect();
        lsns.push(append(a, &d));
        datas.push(d);
    }
    assert!(lsns.windows(2).all(|w| w[0] < w[1]));
    assert!(lsns.iter().all(|l| (l >> 32) < 4));
    // same area sees unflushed records
    assert_eq!(read_all(a, lsns[0]), datas);
    assert_eq!(del_area(a), 0);
    let i = info(h);
    assert_eq!(i.LastFlushedLsn.Internal, *lsns.last().unwrap());
    assert_eq!(close(h), 0);
    let h = create("log:C:\\r\\log", RW, 0, 1).unwrap();
    let a = area(h, 4096, 1, 1).unwrap();
    assert_eq!(read_all(a, lsns[0]), datas);
    // chains
    let x = append_ex(a, b"x", CLFS_LSN_INVALID, 0).unwrap();
    let y = append_ex(a, b"y", x, 0).unwrap();
    let (c, r) = read(a, y, 2).unwrap();
    assert_eq!(r.data, b"y");
    assert_eq!(next(c, 1).unwrap().data, b"x");
    assert_eq!(next(c, 1).err(), Some(STATUS_END_OF_FILE));
    term(c);
    assert_eq!(read(a, x + 5, 3).err(), Some(STATUS_LOG_RECORD_NONEXISTENT));
    assert_eq!(read(a, x, 9).err(), Some(STATUS_LOG_READ_MODE_INVALID));
    del_area(a);
    close(h);
    let st = sb.stats();
    assert!(st.flushes >= 2 && st.blocks_written >= 2 && st.bytes_written > 0);
    no_leaks(&sb);
}

#[test]
fn fewer_write_buffers_force_more_flushes() {
    let run = |w: u32| {
        let sb = Sandbox::new();
        let h = log_with_containers("log:f", 2);
        let a = area(h, 1024, w, 1).unwrap();
        for _ in 0..50 {
            append(a, &[7u8; 300]);
        }
        let f = sb.stats().flushes;
        del_area(a);
        close(h);
        no_leaks(&sb);
        f
    };
    let one = run(1);
    let many = run(0xFFFF_FFFF);
    assert!(one > many, "{one} vs {many}");
    assert_eq!(many, 0);
}

#[test]
fn crash_drops_unflushed_suffix() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:crash", 2);
    let a = area(h, 4096, 4, 4).unwrap();
    let l1 = append(a, b"durable-1");
    append(a, b"durable-2");
    assert_eq!(flush(a), 0);
    append(a, b"lost-3");
    sb.crash();
    assert_eq!(flush(a), STATUS_INVALID_HANDLE);
    assert_eq!(close(h), STATUS_INVALID_HANDLE);
    no_leaks(&sb);
    let h = create("log:crash", RW, 0, 1).unwrap();
    let a = area(h, 4096, 4, 4).unwrap();
    assert_eq!(
        read_all(a, l1),
        vec![b"durable-1".to_vec(), b"durable-2".to_vec()]
    );
    let l4 = append(a, b"after");
    assert!(l4 > l1);
    del_area(a);
    close(h);
    no_leaks(&sb);
}

fn restart(a: *mut c_void, data: &[u8], base: Option<u64>) -> Result<u64, NTSTATUS> {
    let mut l = CLS_LSN { Internal: 0 };
    let mut n = 0u32;
    let b = base.map(|b| CLS_LSN { Internal: b });
    let bp = b.as_ref().map_or(null(), |b| b as *const CLS_LSN);
    // SAFETY: valid pointers.
    let s = unsafe {
        ClfsWriteRestartArea(
            a,
            data.as_ptr().cast(),
            data.len() as u32,
            bp,
            0,
            &mut n,
            &mut l,
        )
    };
    if s == 0 {
        Ok(l.Internal)
    } else {
        Err(s)
    }
}

#[test]
fn restart_chain() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:rs", 2);
    let a = area(h, 4096, 2, 2).unwrap();
    let (mut buf, mut cb, mut l, mut c) = (null_mut(), 0u32, CLS_LSN { Internal: 0 }, null_mut());
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReadRestartArea(a, &mut buf, &mut cb, &mut l, &mut c) };
    assert_eq!(s, STATUS_LOG_NO_RESTART);
    assert!(c.is_null());
    let d0 = append(a, b"first");
    let d = append(a, b"data");
    let r1 = restart(a, b"r1", None).unwrap();
    let r2 = restart(a, b"r2", Some(d)).unwrap();
    assert_eq!(
        restart(a, b"r3", Some(d0)).err(),
        Some(STATUS_LOG_TAIL_INVALID)
    );
    assert_eq!(info(h).RestartLsn.Internal, r2);
    del_area(a);
    close(h);
    let h = create("log:rs", RW, 0, 1).unwrap();
    let a = area(h, 4096, 2, 2).unwrap();
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReadRestartArea(a, &mut buf, &mut cb, &mut l, &mut c) };
    assert_eq!((s, l.Internal, cb), (0, r2, 2));
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReadPreviousRestartArea(c, &mut buf, &mut cb, &mut l) };
    assert_eq!((s, l.Internal), (0, r1));
    // SAFETY: the emulator returned `cb` bytes.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { core::slice::from_raw_parts(buf as *const u8, cb as usize) },
        b"r1"
    );
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReadPreviousRestartArea(c, &mut buf, &mut cb, &mut l) };
    assert_eq!(s, STATUS_LOG_START_OF_LOG);
    term(c);
    let (c, r) = read(a, d, 3).unwrap();
    assert_eq!(r.data, b"data");
    // Deleting the area keeps it accounted until its read context ends.
    assert_eq!(del_area(a), 0);
    assert_eq!(sb.stats().live_areas, 1);
    assert_eq!(next(c, 1).err(), Some(STATUS_LOG_READ_CONTEXT_INVALID));
    assert_eq!(term(c), 0);
    assert_eq!(sb.stats().live_areas, 0);
    close(h);
    no_leaks(&sb);
}

/// What a Windows-made log shows (docs/emulator.md, "Fidelity"): the first record is
/// 0:0x0:0 (= CLFS_LSN_NULL), absent links are CLFS_LSN_INVALID, restart records chain through
/// `previous` (INVALID for the first) with undo-next CLFS_LSN_NULL; an empty log and a log
/// whose only record is the first report the same NULL LSNs.
#[test]
fn first_lsn_is_null_and_links_as_on_windows() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:fid", 2);
    let empty = info(h);
    assert_eq!(
        (
            empty.BaseLsn.Internal,
            empty.LastLsn.Internal,
            empty.LastFlushedLsn.Internal
        ),
        (CLFS_LSN_NULL, CLFS_LSN_NULL, CLFS_LSN_NULL)
    );
    let a = area(h, 4096, 2, 2).unwrap();
    let first = append(a, b"first");
    assert_eq!(first, CLFS_LSN_NULL, "the first record is 0:0x0:0");
    // (`append_ex` passes the same LSN as undo-next and previous.)
    let second = append_ex(a, b"second", first, 0).unwrap();
    assert_eq!(second, 1);
    assert_eq!(flush(a), 0);
    let i = info(h);
    assert_eq!(
        (
            i.BaseLsn.Internal,
            i.LastFlushedLsn.Internal,
            i.LastLsn.Internal
        ),
        (0, 1, 1)
    );
    let r1 = restart(a, b"r1", None).unwrap();
    let r2 = restart(a, b"r2", None).unwrap();
    del_area(a);
    close(h);
    let h = create("log:fid", RW, 0, 1).unwrap();
    let a = area(h, 4096, 2, 2).unwrap();
    let (c, r) = read(a, CLFS_LSN_NULL, 3).unwrap();
    assert_eq!(
        (r.lsn, r.data.as_slice(), r.ty, r.undo, r.prev),
        (0, &b"first"[..], 1, CLFS_LSN_INVALID, CLFS_LSN_INVALID)
    );
    let r = next(c, 3).unwrap();
    assert_eq!((r.lsn, r.undo, r.prev), (second, first, first));
    let r = next(c, 3).unwrap();
    assert_eq!(
        (r.lsn, r.ty, r.undo, r.prev),
        (r1, 2, CLFS_LSN_NULL, CLFS_LSN_INVALID)
    );
    let r = next(c, 3).unwrap();
    assert_eq!((r.lsn, r.ty, r.undo, r.prev), (r2, 2, CLFS_LSN_NULL, r1));
    assert_eq!(next(c, 3).err(), Some(STATUS_END_OF_FILE));
    term(c);
    // The previous and undo-next chains from the second record reach record 0:0x0:0 and end
    // there (its links are INVALID).
    for mode in [1, 2] {
        let (c, _) = read(a, second, mode).unwrap();
        assert_eq!(next(c, 1).unwrap().lsn, CLFS_LSN_NULL);
        assert_eq!(next(c, 1).err(), Some(STATUS_END_OF_FILE));
        term(c);
    }
    del_area(a);
    close(h);
    no_leaks(&sb);
}

#[test]
fn log_full_wraps_and_recovers() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:full", 2);
    let a = area(h, 64 * 1024, 2, 2).unwrap();
    let rec = vec![0xABu8; 60 * 1024];
    let mut lsns = Vec::new();
    let full = loop {
        match append_ex(a, &rec, CLFS_LSN_INVALID, 0) {
            Ok(l) => lsns.push(l),
            Err(s) => break s,
        }
    };
    assert_eq!(full, STATUS_LOG_FULL);
    assert!(lsns.len() >= 14, "{}", lsns.len());
    // adding a container makes room
    assert_eq!(add(h, None, "%BLF%\\c2").0, 0);
    let more = append_ex(a, &rec, CLFS_LSN_INVALID, 0).unwrap();
    // advance the base into the last container: the first two are recycled
    let b = CLS_LSN { Internal: more };
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsAdvanceLogBase(a, &b, 0) }, 0);
    // SAFETY: valid pointers; flags must be 0.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsAdvanceLogBase(a, &b, 1) },
        STATUS_INVALID_PARAMETER
    );
    let mut later = Vec::new();
    for _ in 0..10 {
        later.push(append_ex(a, &rec, CLFS_LSN_INVALID, 0).unwrap());
    }
    assert!(
        later.iter().any(|l| (l >> 32) >= 3),
        "wrapped into a recycled container"
    );
    assert_eq!(flush(a), 0);
    assert_eq!(read(a, lsns[0], 3).err(), Some(STATUS_LOG_START_OF_LOG));
    del_area(a);
    close(h);
    let h = create("log:full", RW, 0, 1).unwrap();
    let a = area(h, 64 * 1024, 2, 2).unwrap();
    let all = read_all(a, more);
    assert_eq!(all.len(), 11);
    del_area(a);
    close(h);
    no_leaks(&sb);
}

#[test]
fn reservations() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:res", 2);
    let a = area(h, 4096, 2, 2).unwrap();
    let mut r = [100i64, 10];
    // SAFETY: valid pointers.
    let s = unsafe {
        ClfsReserveAndAppendLog(
            a,
            null(),
            0,
            null(),
            null(),
            2,
            r.as_mut_ptr(),
            0,
            null_mut(),
        )
    };
    assert_eq!((s, r), (0, [144, 56]));
    let st = sb.stats();
    assert_eq!((st.reserved_records, st.reserved_bytes), (2, 200));
    assert_eq!(info(h).TotalReservation, 200);
    let d = [1u8; 100];
    let e = CLS_WRITE_ENTRY {
        Buffer: d.as_ptr() as *mut c_void,
        ByteLength: 100,
    };
    let mut l = CLS_LSN { Internal: 0 };
    // SAFETY: valid pointers; USE_RESERVATION with a reservation array is invalid.
    let s =
        unsafe { ClfsReserveAndAppendLog(a, &e, 1, null(), null(), 1, r.as_mut_ptr(), 4, &mut l) };
    assert_eq!(s, STATUS_INVALID_PARAMETER);
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReserveAndAppendLog(a, &e, 1, null(), null(), 0, null_mut(), 4, &mut l) };
    assert_eq!(s, 0);
    assert_eq!(sb.stats().reserved_bytes, 56);
    let mut neg = [-10i64];
    // SAFETY: valid pointers.
    let s = unsafe {
        ClfsReserveAndAppendLog(
            a,
            null(),
            0,
            null(),
            null(),
            1,
            neg.as_mut_ptr(),
            0,
            null_mut(),
        )
    };
    assert_eq!((s, neg[0]), (0, -56));
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReserveAndAppendLog(a, &e, 1, null(), null(), 0, null_mut(), 4, &mut l) };
    assert_eq!(s, STATUS_LOG_RECORDS_RESERVED_INVALID);
    let sizes = [10i64, 20];
    let mut al = 0i64;
    // SAFETY: valid pointers.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsAlignReservedLog(a, 2, sizes.as_ptr(), &mut al) },
        0
    );
    assert_eq!(al, 56 + 64);
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsAllocReservedLog(a, 2, &al) }, 0);
    let minus = -al;
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsFreeReservedLog(a, 2, &minus) }, 0);
    assert_eq!(sb.stats().reserved_bytes, 0);
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsAllocReservedLog(a, 1, &al) }, 0);
    del_area(a);
    close(h);
    no_leaks(&sb);
}

#[test]
fn lsn_helpers() {
    // SAFETY: plain value arguments.
    let l = unsafe { ClfsLsnCreate(3, 0x1000, 5) };
    assert_eq!(l.Internal, 0x0000_0003_0000_1005);
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(ClfsLsnContainer(&l), 3);
    }
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsLsnBlockOffset(&l) }, 0x1000);
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsLsnRecordSequence(&l) }, 5);
    // SAFETY: plain value arguments.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsLsnCreate(0, 100, 0) }.Internal,
        CLFS_LSN_INVALID
    );
    let inv = CLS_LSN {
        Internal: CLFS_LSN_INVALID,
    };
    let nul = CLS_LSN { Internal: 0 };
    // SAFETY: valid pointers.
    assert!(unsafe { ClfsLsnInvalid(&inv) } && !unsafe { ClfsLsnNull(&inv) });
    // SAFETY: valid pointers.
    assert!(unsafe { ClfsLsnNull(&nul) } && unsafe { ClfsLsnLess(&nul, &inv) });
    // SAFETY: valid pointers.
    assert!(unsafe { ClfsLsnGreater(&inv, &l) } && unsafe { ClfsLsnEqual(&l, &l) });
    let _g = raise_irql(DISPATCH_LEVEL + 1);
    // SAFETY: valid pointers; any IRQL is fine for LSN helpers.
    assert!(unsafe { ClfsLsnEqual(&l, &l) });
}

#[test]
fn pool_accounting_and_set_end_of_log() {
    let sb = Sandbox::new();
    // SAFETY: emulated pool.
    let p = unsafe { ExAllocatePool2(0x100, 64, 0x4142_4344) };
    assert!(!p.is_null());
    // SAFETY: emulated pool; two pool kinds are refused.
    assert!(unsafe { ExAllocatePool2(0x140, 64, 1) }.is_null());
    assert_eq!(
        sb.stats()
            .pool
            .get(&0x4142_4344)
            .map(|o| (o.count, o.bytes)),
        Some((1, 64))
    );
    assert_eq!(sb.stats().leaks().len(), 1);
    // SAFETY: allocated above with this tag.
    unsafe { ExFreePoolWithTag(p, 0x4142_4344) };
    // SAFETY: handle never dereferenced.
    assert_eq!(
        // SAFETY: valid pointers / plain values for the emulated routine.
        unsafe { ClfsSetEndOfLog(null(), null()) },
        STATUS_NOT_SUPPORTED
    );
    // SAFETY: no arguments.
    assert_eq!(unsafe { KeGetCurrentIrql() }, PASSIVE_LEVEL);
    assert_eq!(sb.stats().clfs_calls(), 1);
    no_leaks(&sb);
}

#[test]
fn faults() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:faults", 2);
    let a = area(h, 4096, 2, 2).unwrap();
    clfs_emu::faults::fail_call("ClfsFlushBuffers", 2, STATUS_INSUFFICIENT_RESOURCES);
    assert_eq!(flush(a), 0);
    assert_eq!(flush(a), STATUS_INSUFFICIENT_RESOURCES);
    let l = append(a, b"kept");
    assert_eq!(flush(a), 0);
    clfs_emu::faults::fail_container_writes(true);
    append(a, b"lost");
    assert_eq!(flush(a), STATUS_LOG_CONTAINER_WRITE_FAILED);
    sb.crash();
    clfs_emu::faults::clear();
    let h = create("log:faults", RW, 0, 1).unwrap();
    let a = area(h, 4096, 2, 2).unwrap();
    assert_eq!(read_all(a, l), vec![b"kept".to_vec()]);
    del_area(a);
    close(h);
    no_leaks(&sb);
}

const CHILD: &str = "CLFS_EMU_IRQL_CHILD";

#[test]
fn irql_bugcheck_in_child() {
    if std::env::var_os(CHILD).is_some() {
        let _sb = Sandbox::new();
        set_irql(DISPATCH_LEVEL);
        let mut ctx = null_mut();
        // SAFETY: this call is expected to bugcheck (abort).
        unsafe { ClfsCreateMarshallingArea(null(), 1, None, None, 512, 1, 1, &mut ctx) };
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "irql_bugcheck_in_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("*** STOP: 0x0000000A (IRQL_NOT_LESS_OR_EQUAL)"),
        "{err}"
    );
    assert!(
        err.contains("ClfsCreateMarshallingArea called at IRQL 2 (DISPATCH_LEVEL)"),
        "{err}"
    );
}

#[test]
fn reads_come_from_containers_and_queue() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:rd", 3);
    let a = area(h, 4096, 4, 4).unwrap();
    // ~1.2 MiB of records: several blocks per container, three containers in use.
    let mut lsns = Vec::new();
    let mut prev = CLFS_LSN_INVALID;
    for i in 0..3000u32 {
        let data = vec![(i % 251) as u8; 300 + (i as usize % 100)];
        let l = append_ex(a, &data, prev, 0).unwrap();
        lsns.push(l);
        prev = l;
    }
    assert!(
        lsns.iter().any(|l| l >> 32 == 2),
        "reached the third container"
    );
    // Some of the newest records are still queued (4 write buffers).
    let expect = |i: usize| vec![(i as u32 % 251) as u8; 300 + (i % 100)];
    let all = read_all(a, lsns[0]);
    assert_eq!(all.len(), lsns.len());
    for (i, d) in all.iter().enumerate() {
        assert_eq!(*d, expect(i), "record {i}");
    }
    // Previous chain from the last record back across containers.
    let (ctx, r) = read(a, lsns[2999], 2).unwrap();
    assert_eq!(r.data, expect(2999));
    for i in (0..2999).rev() {
        let r = next(ctx, 1).unwrap();
        assert_eq!(r.lsn, lsns[i]);
        assert_eq!(r.data, expect(i));
    }
    assert_eq!(next(ctx, 1).err(), Some(STATUS_END_OF_FILE));
    assert_eq!(term(ctx), 0);
    // Not records: an index past the block's count, an offset inside a block, a container
    // past the active range.
    let last_in_first_block = lsns
        .iter()
        .take_while(|l| **l & !0x1FF == lsns[0] & !0x1FF)
        .count();
    assert_eq!(
        read(a, lsns[0] + last_in_first_block as u64, 3).err(),
        Some(STATUS_LOG_RECORD_NONEXISTENT)
    );
    assert_eq!(
        read(a, (lsns[0] & !0x1FF) + 512, 3).err(),
        Some(STATUS_LOG_RECORD_NONEXISTENT)
    );
    assert_eq!(
        read(a, 7 << 32, 3).err(),
        Some(STATUS_LOG_RECORD_NONEXISTENT)
    );
    // Another area's open block is invisible until closed.
    let b = area(h, 4096, 2, 2).unwrap();
    let lb = append(b, b"other");
    assert_eq!(read(a, lb, 3).err(), Some(STATUS_LOG_RECORD_NONEXISTENT));
    let (ctx, _) = read(a, lsns[2999], 3).unwrap();
    assert_eq!(next(ctx, 1).err(), Some(STATUS_END_OF_FILE));
    assert_eq!(flush(b), 0);
    assert_eq!(next(ctx, 1).unwrap().data, b"other");
    assert_eq!(term(ctx), 0);
    // Base advanced to an LSN that is not a record: forward reading from below it resumes
    // at the first record at or above it.
    let (ctx, _) = read(a, lsns[0], 3).unwrap();
    let mid = lsns[1500];
    let odd = (mid & !0x1FF) + 0x200 + 5;
    let bl = CLS_LSN { Internal: odd };
    // SAFETY: valid pointers.
    assert_eq!(unsafe { ClfsAdvanceLogBase(a, &bl, 0) }, 0);
    let r = next(ctx, 1).unwrap();
    let want = lsns.iter().copied().find(|l| *l >= odd).unwrap();
    assert_eq!(r.lsn, want);
    assert_eq!(term(ctx), 0);
    assert_eq!(read(a, lsns[0], 3).err(), Some(STATUS_LOG_START_OF_LOG));
    assert_eq!(del_area(b), 0);
    assert_eq!(del_area(a), 0);
    close(h);
    // Reopen: everything from the base is read back from the containers.
    let h = create("log:rd", RW, 0, 1).unwrap();
    let a = area(h, 4096, 2, 2).unwrap();
    let all = read_all(a, want);
    let from = lsns.iter().position(|l| *l == want).unwrap();
    assert_eq!(all.len(), lsns.len() - from + 1);
    assert_eq!(all.last().unwrap(), b"other");
    del_area(a);
    close(h);
    no_leaks(&sb);
}
