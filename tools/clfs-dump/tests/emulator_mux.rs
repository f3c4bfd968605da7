//! A multiplexed log made by the emulator (`clfs-emu`, through its raw Clfs.sys routines): two
//! streams appended block by block in turn, restart areas, one stream reset. `clfs-dump`
//! reads it as the emulator's layout, gives every record to the stream that wrote it, and
//! `--verify` passes before and after the reset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use core::ffi::c_void;
use core::ptr::{null, null_mut};
use std::path::Path;

use clfs_emu::types::{CLS_LSN, CLS_WRITE_ENTRY, FILE_OBJECT, UNICODE_STRING};
use clfs_emu::{
    ClfsAddLogContainer, ClfsCloseAndResetLogFile, ClfsCloseLogFileObject, ClfsCreateLogFile,
    ClfsCreateMarshallingArea, ClfsDeleteMarshallingArea, ClfsFlushBuffers,
    ClfsReserveAndAppendLog, ClfsWriteRestartArea, Sandbox,
};
use common::{dump, stderr};
use serde_json::Value;

const INVALID: u64 = 0xFFFF_FFFF_0000_0000;
/// GENERIC_READ | GENERIC_WRITE | DELETE.
const RWD: u32 = 0x8000_0000 | 0x4000_0000 | 0x0001_0000;

fn create(name: &str) -> *mut FILE_OBJECT {
    let mut units: Vec<u16> = name.encode_utf16().collect();
    let len = (units.len() * 2) as u16;
    let us = UNICODE_STRING {
        Length: len,
        MaximumLength: len,
        Buffer: units.as_mut_ptr(),
    };
    let mut h: *mut FILE_OBJECT = null_mut();
    // SAFETY: `h` and `us` (backed by `units`) are valid for the call; share 7, FILE_OPEN_IF.
    let s = unsafe { ClfsCreateLogFile(&mut h, &us, RWD, 7, null_mut(), 3, 0, 0, 0, null(), 0) };
    assert_eq!(s, 0, "ClfsCreateLogFile({name}) = {s:#x}");
    h
}

fn add_container(h: *mut FILE_OBJECT, name: &str) {
    let mut units: Vec<u16> = name.encode_utf16().collect();
    let len = (units.len() * 2) as u16;
    let us = UNICODE_STRING {
        Length: len,
        MaximumLength: len,
        Buffer: units.as_mut_ptr(),
    };
    let size = 1u64; // rounds up to the multiplexed container size
                     // SAFETY: `h` is an open log; `size` and `us` are valid for the call.
    let s = unsafe { ClfsAddLogContainer(h, &size, &us) };
    assert_eq!(s, 0);
}

fn area(h: *mut FILE_OBJECT) -> *mut c_void {
    let mut a = null_mut();
    // SAFETY: `h` is an open stream; `a` is a valid out pointer.
    let s = unsafe { ClfsCreateMarshallingArea(h, 1, None, None, 4096, 4, 4, &mut a) };
    assert_eq!(s, 0);
    a
}

/// Appends `data` linking `prev` (previous and undo-next) and flushes, so that each block
/// holds records of one stream and the streams' blocks alternate.
fn append_flushed(a: *mut c_void, data: &[u8], prev: u64) -> u64 {
    let e = CLS_WRITE_ENTRY {
        Buffer: data.as_ptr() as *mut c_void,
        ByteLength: data.len() as u32,
    };
    let p = CLS_LSN { Internal: prev };
    let mut l = CLS_LSN { Internal: 0 };
    // SAFETY: `a` is a live area; every pointer is valid for the call.
    let s = unsafe { ClfsReserveAndAppendLog(a, &e, 1, &p, &p, 0, null_mut(), 0, &mut l) };
    assert_eq!(s, 0);
    // SAFETY: `a` is a live area.
    assert_eq!(unsafe { ClfsFlushBuffers(a) }, 0);
    l.Internal
}

fn restart(a: *mut c_void, data: &[u8]) -> u64 {
    let mut l = CLS_LSN { Internal: 0 };
    let mut n = 0u32;
    // SAFETY: `a` is a live area; every pointer is valid for the call.
    let s = unsafe {
        ClfsWriteRestartArea(
            a,
            data.as_ptr().cast(),
            data.len() as u32,
            null(),
            0,
            &mut n,
            &mut l,
        )
    };
    assert_eq!(s, 0);
    l.Internal
}

fn close(h: *mut FILE_OBJECT) {
    // SAFETY: `h` is an open log object, closed once.
    assert_eq!(unsafe { ClfsCloseLogFileObject(h) }, 0);
}

fn del_area(a: *mut c_void) {
    // SAFETY: `a` is a live area, deleted once.
    assert_eq!(unsafe { ClfsDeleteMarshallingArea(a) }, 0);
}

fn json_verified(blf: &Path) -> Value {
    let o = dump(&["--json", "--all", "--verify"], blf);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verify"]["ok"], true, "{v}");
    v
}

/// `(lsn, stream, active)` of every record `clfs-dump --json --all` lists.
fn records(v: &Value) -> Vec<(u64, u64, bool)> {
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["lsn"].as_u64().unwrap(),
                r["stream"].as_u64().unwrap(),
                r["active"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_emulator_made_multiplexed_log_dumps_and_verifies_per_stream() {
    let sb = Sandbox::new();
    let phys = create("log:mux::");
    add_container(phys, "%BLF%\\mux0");
    add_container(phys, "%BLF%\\mux1");
    let (s1, s2) = (create("log:mux::orders"), create("log:mux::audit"));
    let (a1, a2) = (area(s1), area(s2));
    let (mut w1, mut w2) = (Vec::new(), Vec::new());
    let (mut p1, mut p2) = (INVALID, INVALID);
    for i in 0..6u8 {
        p1 = append_flushed(a1, &[b'o', i], p1);
        w1.push(p1);
        p2 = append_flushed(a2, &vec![b'a'; 600 + i as usize], p2);
        w2.push(p2);
    }
    w1.push(restart(a1, b"orders-restart"));
    w2.push(restart(a2, b"audit-restart"));
    for a in [a1, a2] {
        del_area(a);
    }
    for h in [s1, s2, phys] {
        close(h);
    }

    let blf = sb.root().join("mux.blf");
    let v = json_verified(&blf);
    assert_eq!(v["layout"], "multiplexed");
    let streams: Vec<(u64, &str, bool)> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_u64().unwrap(),
                s["name"].as_str().unwrap(),
                s["physical"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(streams[1..], [(1, "orders", false), (2, "audit", false)]);
    assert_eq!((streams[0].0, streams[0].2), (0, true));
    assert_eq!(v["streams"][1]["restart"], w1[6]);
    assert_eq!(v["streams"][2]["last"], w2[6]);
    assert_eq!(v["streams"][1]["active_records"], 7);
    assert_eq!(v["streams"][2]["active_records"], 7);
    // Every record is listed once, with the stream that wrote it; the blocks alternate.
    let recs = records(&v);
    let of = |s: u64| -> Vec<u64> {
        recs.iter()
            .filter(|r| r.1 == s)
            .map(|r| r.0)
            .collect::<Vec<_>>()
    };
    assert_eq!((of(1), of(2)), (w1.clone(), w2.clone()));
    assert_eq!(recs.len(), 14);
    assert!(recs.iter().all(|r| r.2), "all active: {recs:?}");
    let order: Vec<u64> = recs.iter().map(|r| r.1).take(4).collect();
    assert_eq!(order, [1, 2, 1, 2], "{recs:?}");
    // The text output marks the physical log and each record's stream.
    let o = dump(&["--verify"], &blf);
    let out = common::stdout(&o);
    assert!(
        out.contains(": multiplexed without owner pages (the emulator's layout),"),
        "{out}"
    );
    assert!(out.contains("  stream 0 (physical log): "), "{out}");
    assert!(out.contains(", 7 active records (audit)\n"), "{out}");
    assert!(out.ends_with("verify: OK\n"), "{out}");

    // Reset "audit" at its last close: it reads as never written, and the log still verifies.
    let s2 = create("log:mux::audit");
    // SAFETY: `s2` is an open stream opened with GENERIC_WRITE; the call closes it.
    assert_eq!(unsafe { ClfsCloseAndResetLogFile(s2) }, 0);
    let v = json_verified(&blf);
    assert_eq!(v["streams"][2]["active_records"], 0);
    assert_eq!(v["streams"][2]["restart"], INVALID);
    assert_eq!(v["streams"][2]["last"], INVALID);
    assert_eq!(v["streams"][1]["active_records"], 7);
    // Its records stay in the containers, behind its base.
    let recs = records(&v);
    assert!(recs.iter().filter(|r| r.1 == 2).all(|r| !r.2), "{recs:?}");
    assert_eq!(recs.iter().filter(|r| r.1 == 2).count(), 7);
    let l = sb.stats().leaks();
    assert!(l.is_empty(), "leaks: {l:?}");
}

#[test]
fn a_crashed_emulator_multiplexed_log_verifies_with_each_streams_flushed_records() {
    let sb = Sandbox::new();
    let phys = create("log:crash::");
    add_container(phys, "%BLF%\\crash0");
    add_container(phys, "%BLF%\\crash1");
    let (s1, s2) = (create("log:crash::left"), create("log:crash::right"));
    let (a1, a2) = (area(s1), area(s2));
    let (mut w1, mut w2) = (Vec::new(), Vec::new());
    for i in 0..5u8 {
        w1.push(append_flushed(a1, &[b'l', i], INVALID));
        w2.push(append_flushed(a2, &[b'r'; 1500], INVALID));
    }
    // Appended but never flushed: lost in the crash.
    let e = CLS_WRITE_ENTRY {
        Buffer: b"lost".as_ptr() as *mut c_void,
        ByteLength: 4,
    };
    let p = CLS_LSN { Internal: INVALID };
    let mut l = CLS_LSN { Internal: 0 };
    // SAFETY: `a1` is a live area; every pointer is valid for the call.
    let s = unsafe { ClfsReserveAndAppendLog(a1, &e, 1, &p, &p, 0, null_mut(), 0, &mut l) };
    assert_eq!(s, 0);
    sb.crash();

    let v = json_verified(&sb.root().join("crash.blf"));
    let recs = records(&v);
    let of = |s: u64| -> Vec<u64> { recs.iter().filter(|r| r.1 == s).map(|r| r.0).collect() };
    assert_eq!((of(1), of(2)), (w1, w2));
    assert!(!recs.iter().any(|r| r.0 == l.Internal));
}
