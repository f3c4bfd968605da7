//! The emulator's files are real CLFS logs: `clfs-format` (an independent decoder) reads them
//! back record for record, the base file keeps two copies, and torn writes are detected.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use clfs_emu::status::*;
use clfs_emu::*;
use clfs_format as fmt;
use common::*;

/// Decodes a log's base file and containers (by their symbols, `%BLF%\…` next to the base
/// file) with `clfs-format` and checks every rule it knows.
fn decode(dir: &Path, blf: &str) -> fmt::Log {
    let bytes = std::fs::read(dir.join(blf)).unwrap();
    let bf = fmt::BaseFile::decode(&bytes, blf).unwrap();
    let end = bf.control.blocks.iter().map(|b| b.offset + b.size).max();
    assert_eq!(
        Some(bytes.len() as u32),
        end,
        "the base file ends with its last block"
    );
    let files: Vec<(String, Vec<u8>)> = bf
        .base
        .containers
        .iter()
        .map(|c| {
            let file = c.name.strip_prefix("%BLF%\\").expect("a %BLF% container");
            (c.name.clone(), std::fs::read(dir.join(file)).unwrap())
        })
        .collect();
    let log = fmt::Log::read(bf, |c| {
        files
            .iter()
            .find(|(n, _)| *n == c.name)
            .map(|(n, b)| (b.as_slice(), n.clone()))
    });
    log.verify(blf).unwrap();
    log
}

#[test]
fn the_files_are_real_clfs_logs_record_for_record() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:real", 2);
    let a = area(h, 8192, 4, 2).unwrap();
    let mut want: Vec<(u64, u32, u64, u64, Vec<u8>)> = Vec::new();
    let mut prev = CLFS_LSN_INVALID;
    for i in 0..40u32 {
        // 0 bytes .. several sectors, so blocks of one and of many sectors, and records whose
        // data crosses sector ends (where the signatures go).
        let d: Vec<u8> = (0..(i * 397 % 7000)).map(|k| (k * 13 + i) as u8).collect();
        let l = append_ex(a, &d, prev, 0).unwrap();
        want.push((l, 1, prev, prev, d));
        prev = l;
        if i % 9 == 8 {
            let r = restart_area(a, &i.to_le_bytes());
            let prior = want
                .iter()
                .rev()
                .find(|w| w.1 == 2)
                .map_or(CLFS_LSN_INVALID, |w| w.0);
            want.push((r, 2, CLFS_LSN_NULL, prior, i.to_le_bytes().to_vec()));
        }
    }
    assert_eq!(flush(a), 0);
    assert_eq!(want[0].0, CLFS_LSN_NULL, "the first record is 0:0x0:0");
    let i = info(h);
    del_area(a);
    close(h);

    let log = decode(sb.root(), "real.blf");
    let base = &log.base.base;
    assert!(!base.is_multiplexed());
    assert_eq!(base.clients.len(), 1);
    assert_eq!(base.clients[0].name, "\\??\\real.blf");
    let names: Vec<&str> = base.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["%BLF%\\c0", "%BLF%\\c1"]);
    assert!(base.containers.iter().all(|c| c.context.size == 512 * 1024));
    let cc = base.clients[0].context;
    assert_eq!(cc.restart.0, i.RestartLsn.Internal);
    assert_eq!(cc.base.0, i.BaseLsn.Internal);
    let got: Vec<(u64, u32, u64, u64, Vec<u8>)> = log
        .records
        .iter()
        .map(|r| {
            (
                r.header.lsn.0,
                r.header.record_type & 3,
                r.header.undo_next.0,
                r.header.previous.0,
                r.data.clone(),
            )
        })
        .collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "record {:#x}", w.0);
    }
    // DataSize includes the header; flags mark each block's first and last record.
    for r in &log.records {
        assert_eq!(r.header.data_size as usize, 40 + r.data.len());
        assert_eq!(r.header.data_offset, 0x28);
    }
    let first_of_block = |r: &fmt::LogRecord| r.header.lsn.record_index() == 0;
    assert!(log
        .records
        .iter()
        .all(|r| first_of_block(r) == (r.header.record_type & 0x04 != 0)));
    assert!(log
        .records
        .windows(2)
        .all(|w| (w[0].header.record_type & 0x20 != 0) == first_of_block(&w[1])));
    assert!(log.records.last().unwrap().header.record_type & 0x20 != 0);
    no_leaks(&sb);
}

/// Offsets of the general (base record) block's two copies.
const GENERAL: u64 = 0x800;
const GENERAL_SHADOW: u64 = 0x8200;

fn tear(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    // One sector of a write that did not complete: stale bytes, a stale signature.
    f.write_all_at(&[0x5a; 512], at).unwrap();
}

#[test]
fn base_file_updates_alternate_copies_and_a_torn_copy_loses_nothing() {
    let sb = Sandbox::new();
    let blf = sb.root().join("alt.blf");
    let h = log_with_containers("log:alt", 2);
    let a = area(h, 4096, 2, 2).unwrap();
    let first = append(a, b"one");
    let dump = |p: &Path| {
        let b = fmt::BaseFile::decode(&std::fs::read(p).unwrap(), "alt.blf").unwrap();
        (b.base.dump_count, b.base_copy)
    };
    let (d0, c0) = dump(&blf);
    let r1 = restart_area(a, b"r1");
    let (d1, c1) = dump(&blf);
    assert_eq!(d1, d0 + 1);
    assert_ne!(c1, c0, "the older copy is written");
    let r2 = restart_area(a, b"r2");
    let (d2, c2) = dump(&blf);
    assert_eq!((d2, c2), (d1 + 1, c0));
    let second = append(a, b"two");
    assert_eq!(flush(a), 0);
    del_area(a);
    close(h);

    // A crash in the middle of the next update tears the copy it writes (the older one): the
    // newer copy holds everything acknowledged.
    let older = if c2 == fmt::Copy::Primary {
        GENERAL_SHADOW
    } else {
        GENERAL
    };
    tear(&blf, older + 3 * 512);
    let b = fmt::BaseFile::decode(&std::fs::read(&blf).unwrap(), "alt.blf").unwrap();
    assert_eq!((b.base.dump_count, b.rejected.len()), (d2, 1));
    let h = create("log:alt", RW, 0, 1).unwrap();
    assert_eq!(info(h).RestartLsn.Internal, r2);
    let a = area(h, 4096, 2, 2).unwrap();
    assert_eq!(read_all(a, first), [b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(info(h).LastFlushedLsn.Internal, second);
    // The next update goes to the torn copy, and repairs it.
    let r3 = restart_area(a, b"r3");
    let b = fmt::BaseFile::decode(&std::fs::read(&blf).unwrap(), "alt.blf").unwrap();
    assert_eq!((b.base.dump_count, b.rejected.len()), (d2 + 1, 0));
    assert_eq!(b.base.clients[0].context.restart.0, r3);
    del_area(a);
    close(h);

    // Tearing the newest copy instead leaves the previous one: the log opens with the state
    // of dump d2 (restart r2); the records flushed since are found past its cursor.
    let newest = if b.base_copy == fmt::Copy::Primary {
        GENERAL
    } else {
        GENERAL_SHADOW
    };
    tear(&blf, newest);
    let h = create("log:alt", RW, 0, 1).unwrap();
    assert_eq!(info(h).RestartLsn.Internal, r2);
    assert!(r1 < r2 && r2 < r3);
    let a = area(h, 4096, 2, 2).unwrap();
    assert_eq!(read_all(a, first), [b"one".to_vec(), b"two".to_vec()]);
    del_area(a);
    close(h);
    no_leaks(&sb);
}

#[test]
fn a_torn_container_block_is_detected_by_its_signatures() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:torn", 2);
    let a = area(h, 8192, 2, 2).unwrap();
    let kept = append_ex(a, &[1; 100], CLFS_LSN_INVALID, 2).unwrap(); // forced flush
                                                                      // A three-sector block, flushed: then, as if the crash had hit while it was written, its
                                                                      // last sector never reached the disk.
    let torn = append_ex(a, &[2; 1200], CLFS_LSN_INVALID, 2).unwrap();
    del_area(a);
    close(h);
    let off = torn as u32 & !0x1FF;
    assert!(off > 0);
    let c0 = sb.root().join("c0");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&c0).unwrap();
        f.write_all_at(&[0; 512], u64::from(off) + 2 * 512).unwrap();
    }
    // clfs-format names the broken rule...
    let mut blk = std::fs::read(&c0).unwrap()[off as usize..off as usize + 1536].to_vec();
    let e = fmt::decode_block(
        &mut blk,
        fmt::SECTOR_BLOCK_DATA,
        fmt::ChecksumPolicy::IfPresent,
        &fmt::Loc::new("c0", u64::from(off)),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("sector signature of sector 2"),
        "{e}"
    );
    // ...a verifying reader takes it for the end of the log, not for damage: no record of the
    // active range lies after it...
    let log = decode(sb.root(), "torn.blf");
    assert!(log.records.iter().all(|r| r.header.lsn.0 < torn));
    // ...and the emulator ends the log before the torn block.
    let h = create("log:torn", RW, 0, 1).unwrap();
    assert_eq!(info(h).LastFlushedLsn.Internal, kept);
    let a = area(h, 8192, 2, 2).unwrap();
    assert_eq!(read_all(a, kept), [vec![1u8; 100]]);
    assert_eq!(read(a, torn, 3).err(), Some(STATUS_LOG_RECORD_NONEXISTENT));
    // The next record takes the torn block's place.
    assert_eq!(append_ex(a, b"after", CLFS_LSN_INVALID, 2).unwrap(), torn);
    del_area(a);
    close(h);
    // On disk: a valid one-sector block in the torn block's place (what follows it is the
    // torn block's stale tail, after the end of the log).
    let mut blk = std::fs::read(&c0).unwrap()[off as usize..off as usize + 512].to_vec();
    let loc = fmt::Loc::new("c0", u64::from(off));
    let h = fmt::decode_block(
        &mut blk,
        fmt::SECTOR_BLOCK_DATA,
        fmt::ChecksumPolicy::IfPresent,
        &loc,
    )
    .unwrap();
    let recs = fmt::block_records(&blk, &h, &loc).unwrap();
    assert_eq!((recs.len(), recs[0].data), (1, &b"after"[..]));
    // The stale tail after the new end is not damage either.
    let log = decode(sb.root(), "torn.blf");
    assert_eq!(
        log.records.last().map(|r| r.data.as_slice()),
        Some(&b"after"[..])
    );
    no_leaks(&sb);
}

/// A log in the pattern of the registry transaction logs Windows writes (a restart area alone
/// at 0:0x0:0, then one-sector blocks each holding a data record and the restart record after
/// it), kept in `target/tmp/emu-dissect/` for `.ci/run`'s independent check with
/// `dissect.clfs`, whose record walk follows exactly that pattern.
#[test]
fn a_registry_style_log_for_the_independent_reader() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("emu-dissect");
    let _ = std::fs::remove_dir_all(&dir);
    let sb = Sandbox::with_root(&dir);
    let h = log_with_containers("log:tm", 2);
    let a = area(h, 4096, 2, 2).unwrap();
    let mut restarts = vec![restart_area(a, &[0x11; 32])];
    let mut datas = Vec::new();
    for i in 0..5u8 {
        datas.push(append_ex(a, &[i; 72], CLFS_LSN_INVALID, 0).unwrap());
        restarts.push(restart_area(a, &[i; 32]));
    }
    del_area(a);
    close(h);
    assert_eq!(restarts[0], CLFS_LSN_NULL);
    let log = decode(&dir, "tm.blf");
    for (d, r) in datas.iter().zip(&restarts[1..]) {
        // One block: the data record (type 0x05) and then its restart record (0x22).
        assert_eq!(*r, d + 1);
        let (dr, rr) = (
            log.record(fmt::Lsn(*d)).unwrap(),
            log.record(fmt::Lsn(*r)).unwrap(),
        );
        assert_eq!((dr.header.record_type, rr.header.record_type), (0x05, 0x22));
    }
    no_leaks(&sb);
}

/// A container name of 39 UTF-16 units (`%BLF%\` and a long file name).
fn long_name(i: usize) -> String {
    format!("%BLF%\\ledgerContainerWithALongName{i:05}")
}

/// Adds containers `from..to` (minimum size) in sets of 64, one `ClfsAddLogContainerSet` each.
fn add_sets(h: *mut types::FILE_OBJECT, from: usize, to: usize) -> i32 {
    let mut i = from;
    while i < to {
        let k = (to - i).min(64);
        let names: Vec<Box<U16s>> = (i..i + k).map(|j| ustr(&long_name(j))).collect();
        let us: Vec<clfs_emu::types::UNICODE_STRING> = names.iter().map(|u| u.us).collect();
        // SAFETY: valid names; NULL size (the existing one).
        let s = unsafe { ClfsAddLogContainerSet(h, k as u16, core::ptr::null(), us.as_ptr()) };
        if s != 0 {
            return s;
        }
        i += k;
    }
    0
}

/// A log holds 1024 containers (`MAX_CONTAINERS_DEFAULT`) with 39-character names: the base
/// record outgrows the 0x7a00-byte general block, and the emulator extends the base file (both
/// general blocks grow, the scratch blocks move behind them, the control record's table
/// follows). The 1025th container is refused with `STATUS_LOG_CONTAINER_LIMIT_EXCEEDED` and
/// nothing changes; records flushed before the growth survive a crash after it; a reopen sees
/// all 1024, and `clfs-format` reads the extended base file with every rule it knows. The log
/// is kept in `target/tmp/emu-extended/` for `.ci/run`'s check with `dissect.clfs`.
#[test]
fn a_log_holds_1024_containers_and_the_base_file_grows() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("emu-extended");
    let _ = std::fs::remove_dir_all(&dir);
    let sb = Sandbox::with_root(&dir);
    let h = create("log:many", RWD, 0, 2).unwrap();
    for i in 0..2 {
        assert_eq!(add(h, Some(1), &long_name(i)).0, 0, "the minimum size");
    }
    let a = area(h, 4096, 2, 2).unwrap();
    let lsns: Vec<u64> = (0..20u32)
        .map(|i| append_ex(a, &i.to_le_bytes().repeat(50), CLFS_LSN_INVALID, 0).unwrap())
        .collect();
    assert_eq!(flush(a), 0);
    let blf = sb.root().join("many.blf");
    assert_eq!(std::fs::metadata(&blf).unwrap().len(), 0x10000);
    assert_eq!(add_sets(h, 2, 1024), 0);
    assert_eq!(info(h).TotalContainers, 1024);
    let grown = std::fs::read(&blf).unwrap();
    assert!(grown.len() > 0x10000, "the base file grew");
    // The 1025th: refused, nothing changed (no file, the base file byte for byte).
    let next = ustr(&long_name(1024));
    // SAFETY: valid name; NULL size.
    let s = unsafe { ClfsAddLogContainerSet(h, 1, core::ptr::null(), &next.us) };
    assert_eq!(s, STATUS_LOG_CONTAINER_LIMIT_EXCEEDED);
    assert_eq!(info(h).TotalContainers, 1024);
    assert!(!sb.root().join(&long_name(1024)[6..]).exists());
    assert_eq!(std::fs::read(&blf).unwrap(), grown);
    // Power loss: the flushed records and every container survive.
    sb.crash();
    let h = create("log:many", RWD, 0, 1).unwrap();
    assert_eq!(info(h).TotalContainers, 1024);
    let a = area(h, 4096, 2, 2).unwrap();
    let got = read_all(a, lsns[0]);
    assert_eq!(got.len(), 20);
    assert_eq!(got[19], 19u32.to_le_bytes().repeat(50));
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);
    // The reader: the table names grown general blocks and moved scratch blocks, nothing
    // after them, no extension left in progress.
    let bytes = std::fs::read(&blf).unwrap();
    let bf = fmt::BaseFile::decode(&bytes, "many.blf").unwrap();
    let b = &bf.control.blocks;
    let g = b[2].size;
    assert!(g > 0x7a00 && g % 0x7a00 == 0, "general blocks of {g:#x}");
    assert_eq!((b[2].offset, b[3].offset, b[3].size), (0x800, 0x800 + g, g));
    assert_eq!((b[4].offset, b[5].offset), (0x800 + 2 * g, 0xa00 + 2 * g));
    assert_eq!(bytes.len() as u32, 0xc00 + 2 * g);
    assert_eq!(bf.control.extend_state, 0);
    assert!(bf.rejected.is_empty() && bf.trailing.is_none());
    assert_eq!(bf.base.containers.len(), 1024);
    assert!(bf.base.containers.iter().any(|c| c.name == long_name(1023)));
    decode(sb.root(), "many.blf");
    no_leaks(&sb);
}

/// A multiplexed log holds 123 streams (ids 1 to 123) with 64-character names; their client
/// contexts outgrow the default general block, which grows. The 124th stream is refused with
/// `STATUS_INSUFFICIENT_RESOURCES`, and a reopen sees all 123.
#[test]
fn a_multiplexed_log_holds_123_streams_with_64_character_names() {
    let sb = Sandbox::new();
    let p = create("log:mux::", RWD, 7, 3).unwrap();
    for i in 0..2 {
        assert_eq!(add(p, Some(1), &format!("%BLF%\\m{i}")).0, 0);
    }
    let name = |i: usize| format!("{:0>64}", format!("stream{i}"));
    for i in 0..123 {
        let h = create(&format!("log:mux::{}", name(i)), RWD, 7, 3).unwrap();
        assert_eq!(close(h), 0);
    }
    assert_eq!(
        create(&format!("log:mux::{}", name(123)), RWD, 7, 3).err(),
        Some(STATUS_INSUFFICIENT_RESOURCES)
    );
    assert_eq!(close(p), 0);
    let bytes = std::fs::read(sb.root().join("mux.blf")).unwrap();
    let bf = fmt::BaseFile::decode(&bytes, "mux.blf").unwrap();
    assert!(
        bf.control.blocks[2].size > 0x7a00,
        "the general blocks grew"
    );
    assert_eq!(bf.base.clients.len(), 124);
    assert!(bf.base.clients.iter().any(|c| c.name == name(122)));
    // Reopen: every stream is there (opening an existing one adds nothing).
    let h = create(&format!("log:mux::{}", name(122)), RWD, 7, 3).unwrap();
    assert_eq!(close(h), 0);
    let again = fmt::BaseFile::decode(
        &std::fs::read(sb.root().join("mux.blf")).unwrap(),
        "mux.blf",
    )
    .unwrap();
    assert_eq!(again.base.clients.len(), 124);
    no_leaks(&sb);
}
