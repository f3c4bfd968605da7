//! Multiplexed logs through the raw routines: names, streams, per-stream LSN bounds, reads that
//! never cross streams, persistence, crash, deletion and reset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use core::ffi::c_void;
use core::ptr::null;

use clfs_emu::status::*;
use clfs_emu::types::*;
use clfs_emu::*;
use common::*;

/// `log:<path>::` with two containers of 1 MiB (the request of 1 byte rounds up to 1 MiB).
fn physical(path: &str) -> *mut FILE_OBJECT {
    let h = create(&format!("log:{path}::"), RWD, 7, 3).expect("create the physical log");
    for i in 0..2 {
        let (s, size) = add(h, Some(1), &format!("%BLF%\\m{i}"));
        assert_eq!(
            (s, size),
            (0, 1024 * 1024),
            "multiplexed containers round to 1 MiB"
        );
    }
    h
}

fn stream(path: &str, name: &str) -> *mut FILE_OBJECT {
    create(&format!("log:{path}::{name}"), RWD, 7, 3).expect("open the stream")
}

fn stream_id(h: *mut FILE_OBJECT) -> u8 {
    let mut id = 0xEEu8;
    let mut cb = 1u32;
    // SAFETY: valid pointers; class 3 writes one byte.
    let s = unsafe {
        ClfsQueryLogFileInformation(h, 3, null(), 0, (&mut id as *mut u8).cast(), &mut cb)
    };
    assert_eq!(s, 0);
    id
}

fn physical_info(h: *mut FILE_OBJECT) -> CLS_INFORMATION {
    // SAFETY: CLS_INFORMATION is plain data.
    let mut i: CLS_INFORMATION = unsafe { core::mem::zeroed() };
    let mut cb = core::mem::size_of::<CLS_INFORMATION>() as u32;
    // SAFETY: valid pointers.
    let s = unsafe {
        ClfsQueryLogFileInformation(
            h,
            1,
            null(),
            0,
            (&mut i as *mut CLS_INFORMATION).cast(),
            &mut cb,
        )
    };
    assert_eq!(s, 0);
    i
}

fn advance(a: *mut c_void, b: u64) -> NTSTATUS {
    let l = CLS_LSN { Internal: b };
    // SAFETY: valid pointer.
    unsafe { ClfsAdvanceLogBase(a, &l, 0) }
}

fn reset(h: *mut FILE_OBJECT) -> NTSTATUS {
    // SAFETY: handle value only.
    unsafe { ClfsCloseAndResetLogFile(h) }
}

fn delete_named(name: &str) -> NTSTATUS {
    let n = ustr(name);
    // SAFETY: valid name, no context.
    unsafe { ClfsDeleteLogFile(&n.us, null(), 0, null(), 0) }
}

/// Every data record of the area's stream, forward from `first`.
fn records(a: *mut c_void, first: u64) -> Vec<(u64, Vec<u8>)> {
    let (ctx, r) = read(a, first, 3).expect("read first");
    let mut out = vec![(r.lsn, r.data)];
    loop {
        match next(ctx, 1) {
            Ok(r) => out.push((r.lsn, r.data)),
            Err(s) => {
                assert_eq!(s, STATUS_END_OF_FILE);
                break;
            }
        }
    }
    assert_eq!(term(ctx), 0);
    out
}

#[test]
fn names_and_the_dedicated_multiplexed_split() {
    let sb = Sandbox::new();
    // Stream names are checked before anything is created.
    for bad in ["a*b", "..", "x.", "x ", "a:b", "a\\b"] {
        assert_eq!(
            create(&format!("log:C:\\m\\bad::{bad}"), RW, 0, 3).err(),
            Some(STATUS_OBJECT_NAME_INVALID),
            "{bad:?}"
        );
    }
    let long = "s".repeat(65);
    assert_eq!(
        create(&format!("log:C:\\m\\bad::{long}"), RW, 0, 3).err(),
        Some(STATUS_OBJECT_NAME_INVALID)
    );
    assert!(!sb.root().join("C/m/bad.blf").exists());

    // A dedicated log never opens as a multiplexed one, nor the reverse.
    let d = log_with_containers("log:C:\\m\\ded", 2);
    assert_eq!(
        create("log:C:\\m\\ded::s", RW, 7, 3).err(),
        Some(STATUS_LOG_DEDICATED)
    );
    assert_eq!(
        create("log:C:\\m\\ded::", RW, 7, 3).err(),
        Some(STATUS_LOG_DEDICATED)
    );
    assert_eq!(delete_named("log:C:\\m\\ded::s"), STATUS_LOG_DEDICATED);
    let p = physical("C:\\m\\mux");
    assert_eq!(
        create("log:C:\\m\\mux", RW, 7, 3).err(),
        Some(STATUS_LOG_MULTIPLEXED)
    );
    assert_eq!(delete_named("log:C:\\m\\mux"), STATUS_LOG_MULTIPLEXED);
    // No direct writes to the physical log.
    assert_eq!(area(p, 4096, 2, 2).err(), Some(STATUS_LOG_MULTIPLEXED));
    assert_eq!(reset(p), STATUS_LOG_MULTIPLEXED);
    // Open-existing of a missing stream; create-new of an existing one; case-insensitive names.
    assert_eq!(
        create("log:C:\\m\\mux::nope", RW, 7, 1).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    let s1 = create("log:C:\\m\\mux::Orders", RW, 7, 2).unwrap();
    assert_eq!(
        create("log:C:\\m\\mux::ORDERS", RW, 7, 2).err(),
        Some(STATUS_OBJECT_NAME_COLLISION)
    );
    let s1b = create("log:C:\\m\\mux::orders", RW, 7, 1).unwrap();
    assert_eq!(stream_id(s1), stream_id(s1b));
    assert_eq!(stream_id(s1), 1);
    assert_eq!(stream_id(p), 0);
    assert_eq!(stream_id(d), 0);
    let s2 = stream("C:\\m\\mux", "audit");
    assert_eq!(stream_id(s2), 2);
    assert_eq!(info(p).TotalClients, 2);
    // A multiplexed log's containers round to 1 MiB.
    assert_eq!(info(s1).ContainerSize, 1024 * 1024);
    for h in [s1, s1b, s2, p, d] {
        assert_eq!(close(h), 0);
    }
    no_leaks(&sb);

    // A stream of a log that does not exist creates the multiplexed log too.
    let s = create("log:C:\\m\\fresh::only", RW, 0, 3).unwrap();
    assert_eq!(stream_id(s), 1);
    assert_eq!(close(s), 0);
    let bytes = std::fs::read(sb.root().join("C/m/fresh.blf")).unwrap();
    let bf = clfs_format::BaseFile::decode(&bytes, "fresh.blf").unwrap();
    assert!(bf.base.is_multiplexed());
    assert_eq!(bf.base.clients.len(), 2);
    assert_eq!(bf.base.clients[1].name, "only");
    assert_eq!(bf.base.clients[1].context.client_id, 1);
    no_leaks(&sb);
}

#[test]
fn two_streams_interleave_and_read_back_apart() {
    let sb = Sandbox::new();
    let p = physical("C:\\m\\two");
    let (s1, s2) = (stream("C:\\m\\two", "one"), stream("C:\\m\\two", "two"));
    let (a1, a2) = (area(s1, 4096, 4, 4).unwrap(), area(s2, 4096, 4, 4).unwrap());
    let mut want1 = Vec::new();
    let mut want2 = Vec::new();
    for i in 0..300u32 {
        let d1 = format!("one-{i}").into_bytes();
        let d2 = vec![i as u8; (i as usize * 13) % 700];
        want1.push((append(a1, &d1), d1));
        want2.push((append(a2, &d2), d2));
    }
    assert!(want1.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(want2.windows(2).all(|w| w[0].0 < w[1].0));
    // Each stream reads back exactly its own records (its own unflushed ones too).
    assert_eq!(records(a1, want1[0].0), want1);
    assert_eq!(records(a2, want2[0].0), want2);
    // Another stream's LSN names no record of this stream.
    assert_eq!(
        read(a1, want2[5].0, 3).err(),
        Some(STATUS_LOG_RECORD_NONEXISTENT)
    );
    // Restart areas and bases are per stream.
    let mut cb = 0u32;
    let mut rl = CLS_LSN { Internal: 0 };
    let data = *b"restart-one";
    let base = CLS_LSN {
        Internal: want1[100].0,
    };
    // SAFETY: valid pointers.
    let st = unsafe {
        ClfsWriteRestartArea(
            a1,
            data.as_ptr().cast(),
            data.len() as u32,
            &base,
            0,
            &mut cb,
            &mut rl,
        )
    };
    assert_eq!(st, 0);
    let i1 = info(s1);
    let i2 = info(s2);
    assert_eq!(i1.BaseLsn.Internal, want1[100].0);
    assert_eq!(i1.RestartLsn.Internal, rl.Internal);
    assert_eq!(i2.RestartLsn.Internal, CLFS_LSN_INVALID);
    assert_eq!(
        i2.BaseLsn.Internal, want2[0].0,
        "a new stream's base is its first record"
    );
    assert_eq!(i1.LastLsn.Internal, rl.Internal);
    assert_eq!(i2.LastLsn.Internal, want2.last().unwrap().0);
    // The physical base is the least of the streams' bases.
    assert_eq!(physical_info(s1).BaseLsn.Internal, i2.BaseLsn.Internal);
    assert_eq!(
        read(a1, want1[99].0, 3).err(),
        Some(STATUS_LOG_START_OF_LOG)
    );
    assert_eq!(
        records(a2, want2[0].0).len(),
        300,
        "stream two keeps its base"
    );
    assert_eq!(advance(a2, want2[200].0), 0);
    assert_eq!(advance(a2, u64::MAX - 1), STATUS_LOG_TAIL_INVALID);
    assert_eq!(
        advance(a2, want2[199].0),
        STATUS_LOG_TAIL_INVALID,
        "a base never moves back"
    );
    assert_eq!(info(s2).BaseLsn.Internal, want2[200].0);
    for a in [a1, a2] {
        assert_eq!(del_area(a), 0);
    }
    for h in [s1, s2, p] {
        assert_eq!(close(h), 0);
    }
    no_leaks(&sb);

    // The clean close left each stream's last flushed record in its client context.
    let bytes = std::fs::read(sb.root().join("C/m/two.blf")).unwrap();
    let bf = clfs_format::BaseFile::decode(&bytes, "two.blf").unwrap();
    let ctx: Vec<_> = bf.base.clients.iter().map(|c| c.context).collect();
    assert_eq!(ctx.len(), 3);
    assert_eq!(ctx[0].owner_page.0, CLFS_LSN_INVALID, "no owner pages");
    assert_eq!(
        ctx[1].last.0, rl.Internal,
        "stream one ends with its restart record"
    );
    assert_eq!(ctx[2].last.0, want2.last().unwrap().0);
    assert_eq!(ctx[1].restart.0, rl.Internal);
    assert_eq!(ctx[2].base.0, want2[200].0);
    assert_eq!(ctx[0].base.0, want2[200].0.min(want1[100].0));
    // Reopen: every stream's flushed records, bases and restart areas are back.
    let (s1, s2) = (stream("C:\\m\\two", "one"), stream("C:\\m\\two", "two"));
    let (a1, a2) = (area(s1, 4096, 2, 2).unwrap(), area(s2, 4096, 2, 2).unwrap());
    assert_eq!(records(a1, want1[100].0), want1[100..].to_vec());
    assert_eq!(records(a2, want2[200].0), want2[200..].to_vec());
    assert_eq!(info(s1).RestartLsn.Internal, rl.Internal);
    assert_eq!(info(s2).LastLsn.Internal, want2.last().unwrap().0);
    let more = append(a2, b"after reopen");
    assert!(more > want2.last().unwrap().0);
    for a in [a1, a2] {
        assert_eq!(del_area(a), 0);
    }
    for h in [s1, s2] {
        assert_eq!(close(h), 0);
    }
    no_leaks(&sb);
}

#[test]
fn crash_keeps_each_streams_flushed_prefix() {
    let sb = Sandbox::new();
    let p = physical("C:\\m\\crash");
    let (s1, s2) = (stream("C:\\m\\crash", "a"), stream("C:\\m\\crash", "b"));
    let (a1, a2) = (area(s1, 1024, 8, 2).unwrap(), area(s2, 1024, 8, 2).unwrap());
    let mut kept1 = Vec::new();
    let mut kept2 = Vec::new();
    for i in 0..40u32 {
        let d = format!("a{i}").into_bytes();
        kept1.push((append(a1, &d), d));
        let d = format!("b{i}").into_bytes();
        kept2.push((append(a2, &d), d));
    }
    // Stream a flushes (the log's queue up to its last record: b's older blocks too).
    assert_eq!(flush(a1), 0);
    let durable2 = info(s2).LastFlushedLsn.Internal;
    kept2.retain(|(l, _)| *l <= durable2);
    append(a1, b"lost-a");
    append(a2, b"lost-b");
    sb.crash();
    assert_eq!(close(p), STATUS_INVALID_HANDLE);
    no_leaks(&sb);
    let (s1, s2) = (stream("C:\\m\\crash", "a"), stream("C:\\m\\crash", "b"));
    let (a1, a2) = (area(s1, 1024, 2, 2).unwrap(), area(s2, 1024, 2, 2).unwrap());
    assert_eq!(records(a1, kept1[0].0), kept1);
    if let Some(first) = kept2.first() {
        assert_eq!(records(a2, first.0), kept2);
    }
    assert_eq!(info(s1).LastLsn.Internal, kept1.last().unwrap().0);
    for a in [a1, a2] {
        assert_eq!(del_area(a), 0);
    }
    for h in [s1, s2] {
        assert_eq!(close(h), 0);
    }
    no_leaks(&sb);
}

#[test]
fn deleting_a_stream_keeps_the_log_and_the_other_streams() {
    let sb = Sandbox::new();
    let p = physical("C:\\m\\del");
    let (s1, s2) = (stream("C:\\m\\del", "keep"), stream("C:\\m\\del", "drop"));
    let (a1, a2) = (area(s1, 4096, 2, 2).unwrap(), area(s2, 4096, 2, 2).unwrap());
    let k = append(a1, b"kept");
    append(a2, b"dropped");
    assert_eq!(del_area(a2), 0);
    // By pointer: marked, gone when its last object closes; new opens are refused meanwhile.
    // SAFETY: handle value only.
    assert_eq!(unsafe { ClfsDeleteLogByPointer(s2) }, 0);
    assert_eq!(
        create("log:C:\\m\\del::drop", RW, 7, 3).err(),
        Some(STATUS_DELETE_PENDING)
    );
    assert_eq!(close(s2), 0);
    assert_eq!(info(p).TotalClients, 1);
    assert_eq!(
        create("log:C:\\m\\del::drop", RW, 7, 1).err(),
        Some(STATUS_OBJECT_NAME_NOT_FOUND)
    );
    // By name, with no object open: at once.
    let s3 = stream("C:\\m\\del", "third");
    assert_eq!(close(s3), 0);
    assert_eq!(delete_named("log:C:\\m\\del::third"), 0);
    assert_eq!(
        delete_named("log:C:\\m\\del::third"),
        STATUS_OBJECT_NAME_NOT_FOUND
    );
    assert_eq!(records(a1, k), vec![(k, b"kept".to_vec())]);
    assert_eq!(del_area(a1), 0);
    for h in [s1, p] {
        assert_eq!(close(h), 0);
    }
    assert!(sb.root().join("C/m/del.blf").exists());
    let s1 = stream("C:\\m\\del", "keep");
    let a1 = area(s1, 4096, 2, 2).unwrap();
    assert_eq!(records(a1, k), vec![(k, b"kept".to_vec())]);
    assert_eq!(del_area(a1), 0);
    assert_eq!(close(s1), 0);
    // The physical log by name: the whole log goes.
    assert_eq!(delete_named("log:C:\\m\\del::"), 0);
    assert!(!sb.root().join("C/m/del.blf").exists());
    assert!(!sb.root().join("C/m/m0").exists());
    no_leaks(&sb);
}

#[test]
fn close_and_reset_empties_the_stream_and_reuses_no_lsn() {
    let sb = Sandbox::new();
    // A stream of a multiplexed log.
    let p = physical("C:\\m\\reset");
    let (s1, s2) = (stream("C:\\m\\reset", "r"), stream("C:\\m\\reset", "other"));
    let (a1, a2) = (area(s1, 4096, 2, 2).unwrap(), area(s2, 4096, 2, 2).unwrap());
    let old = append(a1, b"before reset");
    let o2 = append(a2, b"other stream");
    assert_eq!(del_area(a1), 0);
    // Without write access nothing happens and the object stays open.
    let ro = create("log:C:\\m\\reset::r", 0x8000_0000, 7, 1).unwrap();
    assert_eq!(reset(ro), STATUS_ACCESS_DENIED);
    assert_eq!(close(ro), 0);
    assert_eq!(reset(s1), 0);
    assert_eq!(close(s1), STATUS_INVALID_HANDLE, "the object is closed");
    let s1 = stream("C:\\m\\reset", "r");
    let a1 = area(s1, 4096, 2, 2).unwrap();
    let i = info(s1);
    assert_eq!(i.RestartLsn.Internal, CLFS_LSN_INVALID);
    assert_eq!(i.LastLsn.Internal, i.BaseLsn.Internal);
    assert!(i.BaseLsn.Internal > old);
    assert_eq!(read(a1, old, 3).err(), Some(STATUS_LOG_START_OF_LOG));
    let new = append(a1, b"after reset");
    assert!(new > old);
    assert_eq!(records(a2, o2), vec![(o2, b"other stream".to_vec())]);
    for a in [a1, a2] {
        assert_eq!(del_area(a), 0);
    }
    for h in [s1, s2, p] {
        assert_eq!(close(h), 0);
    }
    // A dedicated log.
    let d = log_with_containers("log:C:\\m\\dreset", 2);
    let a = area(d, 4096, 2, 2).unwrap();
    let old = append(a, b"x");
    assert_eq!(del_area(a), 0);
    assert_eq!(reset(d), 0);
    let d = create("log:C:\\m\\dreset", RW, 0, 1).unwrap();
    let a = area(d, 4096, 2, 2).unwrap();
    assert_eq!(read(a, old, 3).err(), Some(STATUS_LOG_START_OF_LOG));
    let i = info(d);
    assert_eq!(i.LastLsn.Internal, i.BaseLsn.Internal);
    assert!(append(a, b"y") > old);
    assert_eq!(del_area(a), 0);
    assert_eq!(close(d), 0);
    let st = sb.stats();
    assert_eq!(st.calls("ClfsCloseAndResetLogFile"), 3);
    no_leaks(&sb);
}

#[test]
fn streams_append_concurrently_from_their_own_threads() {
    let sb = Sandbox::new();
    let p = physical("C:\\m\\threads");
    let names = ["t0", "t1", "t2", "t3"];
    let results: Vec<Vec<(u64, Vec<u8>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| {
                let sb = &sb;
                scope.spawn(move || {
                    let _in = sb.enter();
                    let s = stream("C:\\m\\threads", n);
                    let a = area(s, 2048, 4, 2).unwrap();
                    let mut got = Vec::new();
                    for i in 0..250u32 {
                        let d = format!("{n}:{i}").into_bytes();
                        got.push((append(a, &d), d));
                        if i % 50 == 49 {
                            assert_eq!(flush(a), 0);
                        }
                    }
                    assert_eq!(del_area(a), 0);
                    assert_eq!(close(s), 0);
                    got
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(sb.stats().open_streams, 1, "the physical log's object");
    assert_eq!(close(p), 0);
    no_leaks(&sb);
    for (n, want) in names.iter().zip(&results) {
        assert!(want.windows(2).all(|w| w[0].0 < w[1].0));
        let s = stream("C:\\m\\threads", n);
        let a = area(s, 2048, 2, 2).unwrap();
        assert_eq!(&records(a, want[0].0), want, "stream {n}");
        assert_eq!(del_area(a), 0);
        assert_eq!(close(s), 0);
    }
    no_leaks(&sb);
}

#[test]
fn an_open_stream_is_reported_as_a_leak() {
    let sb = Sandbox::new();
    let s = create("log:C:\\m\\leak::s", RW, 0, 3).unwrap();
    let leaks = sb.stats().leaks();
    assert_eq!(
        leaks,
        vec!["1 log file object(s) still open (1 on multiplexed logs)".to_string()]
    );
    assert_eq!(close(s), 0);
    no_leaks(&sb);
}

#[test]
fn an_idle_stream_does_not_pin_the_log() {
    let sb = Sandbox::new();
    let p = physical("C:\\m\\idle");
    let (busy, idle) = (stream("C:\\m\\idle", "busy"), stream("C:\\m\\idle", "idle"));
    let a = area(busy, 8192, 4, 2).unwrap();
    let rec = vec![0x5Au8; 3000];
    // 5 MiB through 2 MiB of containers: the busy stream advances its base as it goes.
    let mut last = 0;
    for i in 0..1700u32 {
        last = append_ex(a, &rec, CLFS_LSN_INVALID, 0)
            .unwrap_or_else(|s| panic!("append {i}: {s:#x}"));
        if i % 100 == 99 {
            assert_eq!(advance(a, last), 0);
        }
    }
    assert!(last >> 32 >= 4, "the containers were recycled: {last:#x}");
    // The idle stream starts writing now: its first record lies above the physical base.
    let b = area(idle, 4096, 2, 2).unwrap();
    let first = append(b, b"awake");
    assert_eq!(info(idle).BaseLsn.Internal, first);
    assert_eq!(flush(b), 0);
    for x in [a, b] {
        assert_eq!(del_area(x), 0);
    }
    for h in [busy, idle, p] {
        assert_eq!(close(h), 0);
    }
    let idle = stream("C:\\m\\idle", "idle");
    let b = area(idle, 4096, 2, 2).unwrap();
    assert_eq!(records(b, first), vec![(first, b"awake".to_vec())]);
    assert_eq!(del_area(b), 0);
    assert_eq!(close(idle), 0);
    no_leaks(&sb);
}

fn create_archived(name: &str) -> *mut FILE_OBJECT {
    let n = ustr(name);
    let mut h: *mut FILE_OBJECT = core::ptr::null_mut();
    // SAFETY: valid out pointer and name; FILE_ATTRIBUTE_ARCHIVE (0x20) makes it archivable.
    let s = unsafe {
        ClfsCreateLogFile(
            &mut h,
            &n.us,
            RWD,
            7,
            core::ptr::null_mut(),
            3,
            0,
            0x20,
            0,
            null(),
            0,
        )
    };
    assert_eq!(s, 0, "{name}");
    h
}

fn archive_tail(h: *mut FILE_OBJECT, t: u64) -> NTSTATUS {
    let l = CLS_LSN { Internal: t };
    // SAFETY: valid pointer.
    unsafe { ClfsSetArchiveTail(h, &l) }
}

#[test]
fn archive_tails_are_per_stream() {
    let sb = Sandbox::new();
    let p = create_archived("log:C:\\m\\arch::");
    for i in 0..2 {
        assert_eq!(add(p, Some(1), &format!("%BLF%\\a{i}")).0, 0);
    }
    let (s1, s2) = (
        create_archived("log:C:\\m\\arch::one"),
        create_archived("log:C:\\m\\arch::two"),
    );
    let (a1, a2) = (area(s1, 4096, 2, 2).unwrap(), area(s2, 4096, 2, 2).unwrap());
    let one: Vec<u64> = (0..10u8).map(|i| append(a1, &[i; 16])).collect();
    let two: Vec<u64> = (0..10u8).map(|i| append(a2, &[i; 16])).collect();
    // The physical log has no archive tail of its own.
    assert_eq!(archive_tail(p, one[0]), STATUS_LOG_MULTIPLEXED);
    // Stream one keeps its records from one[2] for archiving, then moves its base past them.
    assert_eq!(archive_tail(s1, one[2]), 0);
    assert_eq!(advance(a1, one[8]), 0);
    assert_eq!(
        archive_tail(s1, one[1]),
        STATUS_LOG_TAIL_INVALID,
        "it never moves back"
    );
    let i1 = info(s1);
    assert_eq!(
        (i1.BaseLsn.Internal, i1.MinArchiveTailLsn.Internal),
        (one[8], one[2])
    );
    // Records between the archive tail and the base can still be read (for the archiver).
    let (c, r) = read(a1, one[2], 3).unwrap();
    assert_eq!((r.lsn, r.data), (one[2], vec![2u8; 16]));
    assert_eq!(term(c), 0);
    assert_eq!(read(a1, one[1], 3).err(), Some(STATUS_LOG_START_OF_LOG));
    // Stream two is untouched; the physical base is pinned by stream one's archive tail.
    let i2 = info(s2);
    assert_eq!(
        (i2.BaseLsn.Internal, i2.MinArchiveTailLsn.Internal),
        (two[0], two[0])
    );
    assert_eq!(physical_info(p).BaseLsn.Internal, one[2].min(two[0]));
    for a in [a1, a2] {
        assert_eq!(del_area(a), 0);
    }
    for h in [s1, s2, p] {
        assert_eq!(close(h), 0);
    }
    // Persisted per stream.
    let s1 = create_archived("log:C:\\m\\arch::one");
    let i1 = info(s1);
    assert_eq!(
        (i1.BaseLsn.Internal, i1.MinArchiveTailLsn.Internal),
        (one[8], one[2])
    );
    assert_eq!(close(s1), 0);
    no_leaks(&sb);
}

/// A stream created, or reset, while another stream has records that are not yet durable must
/// not get a base that a crash leaves past the log's end (its next records would lie below it).
#[test]
fn a_new_or_reset_stream_never_starts_past_the_durable_end() {
    for reset_it in [false, true] {
        let sb = Sandbox::new();
        let p = physical("C:\\m\\durable");
        let b = stream("C:\\m\\durable", "b");
        let ab = area(b, 4096, 2, 2).unwrap();
        append(ab, b"b-durable");
        assert_eq!(flush(ab), 0);
        assert_eq!(del_area(ab), 0);
        let a = stream("C:\\m\\durable", "a");
        let aa = area(a, 4096, 4, 2).unwrap();
        // Two blocks of stream a, queued, not flushed.
        append_ex(aa, &[1; 100], CLFS_LSN_INVALID, 1).unwrap();
        append_ex(aa, &[2; 100], CLFS_LSN_INVALID, 1).unwrap();
        let target = if reset_it {
            // The stream's only object: the reset happens now.
            assert_eq!(reset(b), 0);
            "b"
        } else {
            assert_eq!(close(b), 0);
            let c = stream("C:\\m\\durable", "c");
            assert_eq!(close(c), 0);
            "c"
        };
        sb.crash();
        let t = stream("C:\\m\\durable", target);
        let at = area(t, 4096, 2, 2).unwrap();
        let l = append_ex(at, b"after the crash", CLFS_LSN_INVALID, 2).unwrap();
        let i = info(t);
        assert!(
            i.BaseLsn.Internal <= l,
            "reset={reset_it}: base {:#x} past the new record {l:#x}",
            i.BaseLsn.Internal
        );
        assert_eq!(
            records(at, l),
            vec![(l, b"after the crash".to_vec())],
            "reset={reset_it}"
        );
        assert_eq!(del_area(at), 0);
        assert_eq!(close(t), 0);
        // And after a clean reopen.
        let t = stream("C:\\m\\durable", target);
        let at = area(t, 4096, 2, 2).unwrap();
        assert_eq!(
            records(at, l),
            vec![(l, b"after the crash".to_vec())],
            "reset={reset_it}"
        );
        assert_eq!(del_area(at), 0);
        assert_eq!(close(t), 0);
        assert_eq!(close(p), STATUS_INVALID_HANDLE, "the crash closed it");
        no_leaks(&sb);
    }
}

#[test]
fn a_log_holds_at_most_123_streams() {
    let sb = Sandbox::new();
    let p = physical("C:\\many\\log");
    for i in 0..123 {
        let s = create(&format!("log:C:\\many\\log::s{i}"), RWD, 7, 3).unwrap();
        assert_eq!(close(s), 0);
    }
    assert_eq!(info(p).TotalClients, 123);
    assert_eq!(
        create("log:C:\\many\\log::one-too-many", RWD, 7, 3).err(),
        Some(STATUS_INSUFFICIENT_RESOURCES)
    );
    // Long names outgrow the default general block, which grows (docs/decisions.md,
    // "Extending the base file"): all 123 fit, and the 124th gets the same status, not the
    // container limit.
    let q = physical("C:\\long\\log");
    let long = "n".repeat(61); // + 3 digits: 64 units, the longest name
    let mut made = 0;
    let refused = loop {
        match create(&format!("log:C:\\long\\log::{long}{made:03}"), RWD, 7, 3) {
            Ok(s) => {
                assert_eq!(close(s), 0);
                made += 1;
            }
            Err(st) => break st,
        }
    };
    assert_eq!(
        refused, STATUS_INSUFFICIENT_RESOURCES,
        "after {made} streams"
    );
    assert_eq!(made, 123, "every long-named stream fits");
    for h in [p, q] {
        assert_eq!(close(h), 0);
    }
    no_leaks(&sb);
}
