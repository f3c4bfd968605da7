//! Damaged and hostile logs on disk, opened by the emulator: what the `emu_open` fuzz target
//! and its review found (docs/reliability.md, findings 6 to 11), each rebuilt here from an
//! emulator-made log whose base file is edited with `clfs-format`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use clfs_emu::status::*;
use clfs_emu::types::{FILE_OBJECT, NTSTATUS};
use clfs_emu::*;
use clfs_format as fmt;
use common::*;

const NAME: &str = "log:hostile";

fn blf(sb: &Sandbox) -> PathBuf {
    sb.root().join("hostile.blf")
}

fn lsn(c: u32, off: u32, i: u32) -> u64 {
    (u64::from(c) << 32) | u64::from(off) | u64::from(i)
}

/// A closed dedicated log with two 512 KiB containers and `n` flushed records (one block
/// each: every record is flushed on its own); returns their LSNs.
fn make_log(n: usize) -> Vec<u64> {
    let h = log_with_containers(NAME, 2);
    let a = area(h, 4096, 4, 2).unwrap();
    let lsns: Vec<u64> = (0..n)
        .map(|i| {
            let l = append(a, format!("record {i}").as_bytes());
            assert_eq!(flush(a), 0);
            l
        })
        .collect();
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);
    lsns
}

/// Rewrites the base file with `edit` applied to its base record (both copies, valid CRCs).
fn edit_base(sb: &Sandbox, edit: impl FnOnce(&mut fmt::BaseRecord)) {
    let path = blf(sb);
    let bytes = std::fs::read(&path).unwrap();
    let bf = fmt::BaseFile::decode(&bytes, "hostile.blf").unwrap();
    let mut base = bf.base.clone();
    edit(&mut base);
    let img = fmt::BaseFile::encode_image(&bf.control, &base, &bf.truncate.unwrap_or_default(), 1)
        .unwrap();
    std::fs::write(&path, img).unwrap();
}

fn open() -> Result<*mut FILE_OBJECT, NTSTATUS> {
    create(NAME, RWD, 0, 1)
}

#[test]
fn a_base_past_the_log_end_is_pulled_back_and_new_records_stay_readable() {
    // Finding 6: a base file whose base lies past the recovered end. The next record landed
    // below the base, so it was unreadable once flushed (also after a reopen).
    let sb = Sandbox::new();
    let lsns = make_log(3);
    let past = lsn(0, 0x6000, 0);
    edit_base(&sb, |b| b.clients[0].context.base = fmt::Lsn(past));
    let h = open().unwrap();
    // The block after the last one (each record is a one-sector block of its own).
    let end = lsns[2] + 0x200;
    assert_eq!(info(h).BaseLsn.Internal, end, "the base is the end");
    let a = area(h, 4096, 4, 2).unwrap();
    let mine = append(a, b"after the hostile base");
    assert_eq!(flush(a), 0);
    assert!(mine >= info(h).BaseLsn.Internal);
    assert_eq!(read_all(a, mine), vec![b"after the hostile base".to_vec()]);
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);
    let h = open().unwrap();
    let a = area(h, 4096, 4, 2).unwrap();
    assert_eq!(read_all(a, mine), vec![b"after the hostile base".to_vec()]);
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);
    no_leaks(&sb);
}

#[test]
fn a_cursor_outside_every_container_is_metadata_corruption() {
    // Finding 7: `lsnLast` naming a container the log does not have (here container id
    // 0xFFFFFFFF, whose LSNs are CLFS_LSN_INVALID's) was taken as "nothing flushed yet"; the
    // next flush then reported CLFS_LSN_INVALID as the first LSN not flushed.
    for (cid, off) in [(u32::MAX, 0), (7, 0x200), (0, 0x100200)] {
        let sb = Sandbox::new();
        make_log(2);
        edit_base(&sb, |b| {
            b.clients[0].context.last = fmt::Lsn(lsn(cid, off, 0))
        });
        assert_eq!(
            open().unwrap_err(),
            STATUS_LOG_METADATA_CORRUPT,
            "cursor {cid:#x}:{off:#x}"
        );
        no_leaks(&sb);
    }
}

#[test]
fn container_sizes_from_disk_are_checked() {
    // Finding 8: a declared container size of 1 TiB (LSN offsets are 32 bits), a size that is
    // not a whole number of sectors, and a container file shorter than the declared size
    // were accepted.
    type Edit = fn(&mut fmt::BaseRecord);
    let cases: [(&str, Edit, NTSTATUS); 3] = [
        (
            "1 TiB",
            |b| {
                b.containers
                    .iter_mut()
                    .for_each(|c| c.context.size = 1 << 40)
            },
            STATUS_LOG_METADATA_CORRUPT,
        ),
        (
            "not sectors",
            |b| {
                b.containers
                    .iter_mut()
                    .for_each(|c| c.context.size = 512 * 1024 - 100)
            },
            STATUS_LOG_METADATA_CORRUPT,
        ),
        (
            "larger than the file",
            |b| {
                b.containers
                    .iter_mut()
                    .for_each(|c| c.context.size = 1024 * 1024)
            },
            STATUS_LOG_CONTAINER_OPEN_FAILED,
        ),
    ];
    for (what, edit, want) in cases {
        let sb = Sandbox::new();
        make_log(2);
        edit_base(&sb, edit);
        assert_eq!(open().unwrap_err(), want, "{what}");
        no_leaks(&sb);
    }
}

#[test]
fn a_truncated_container_is_refused() {
    // Finding 8 from the file's side: the container shorter than the size its context
    // declares.
    let sb = Sandbox::new();
    make_log(2);
    let c1 = sb.root().join("c1");
    let f = std::fs::OpenOptions::new().write(true).open(&c1).unwrap();
    f.set_len(4096).unwrap();
    drop(f);
    assert_eq!(open().unwrap_err(), STATUS_LOG_CONTAINER_OPEN_FAILED);
    no_leaks(&sb);
}

#[test]
fn a_container_named_like_another_file_of_the_log_is_refused() {
    // Finding 9: a container named like another container (in another case, too) or like
    // the base file opened, and blocks of one would have overwritten the other's.
    // (The base-file case: a base file as large as a container, else the size check refuses
    // it first; its trailing bytes would make the log read-only, so only the name refuses
    // it for reading.)
    type Edit = fn(&mut fmt::BaseRecord);
    let cases: [(&str, Edit, bool); 3] = [
        (
            "another container",
            |b| b.containers[1].name = b.containers[0].name.clone(),
            false,
        ),
        (
            "another container, other case",
            |b| b.containers[1].name = b.containers[0].name.to_uppercase(),
            false,
        ),
        (
            "the base file",
            |b| b.containers[1].name = "%BLF%\\hostile.blf".into(),
            true,
        ),
    ];
    for (what, edit, grow_base) in cases {
        let sb = Sandbox::new();
        make_log(2);
        edit_base(&sb, edit);
        if grow_base {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(blf(&sb))
                .unwrap();
            f.set_len(512 * 1024).unwrap();
        }
        assert_eq!(open().unwrap_err(), STATUS_LOG_METADATA_CORRUPT, "{what}");
        assert_eq!(
            create(NAME, 0x8000_0000, 1, 1).unwrap_err(),
            STATUS_LOG_METADATA_CORRUPT,
            "{what}, for reading"
        );
        no_leaks(&sb);
    }
}

/// Rewrites the link at `field` (0x08 undo-next, 0x10 previous) of the first record of the
/// one-record block at `off` of container file `c0` (restored image edited, block re-sealed
/// with valid signatures).
fn edit_link(sb: &Sandbox, off: u32, field: usize, to: u64) {
    let path = sb.root().join("c0");
    let mut bytes = std::fs::read(&path).unwrap();
    let off = off as usize;
    let loc = fmt::Loc::new("c0", off as u64);
    let h = fmt::BlockHeader::decode(&bytes[off..], &loc).unwrap();
    let mut img = bytes[off..off + h.size()].to_vec();
    let h = fmt::decode_block(
        &mut img,
        fmt::SECTOR_BLOCK_DATA,
        fmt::ChecksumPolicy::Ignore,
        &loc,
    )
    .unwrap();
    let at = fmt::BLOCK_HEADER_SIZE + field;
    img[at..at + 8].copy_from_slice(&to.to_le_bytes());
    fmt::encode_block(&mut img, &h, fmt::SECTOR_BLOCK_DATA, false, &loc).unwrap();
    bytes[off..off + img.len()].copy_from_slice(&img);
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn hostile_links_end_every_chain_with_a_status() {
    // Previous and undo-next links pointing at their own record or forward, and a restart
    // record whose previous link points at itself: every walk ends (no loop) with a
    // documented status (docs/emulator.md, "Hostile logs").
    let sb = Sandbox::new();
    let h = log_with_containers(NAME, 2);
    let a = area(h, 4096, 4, 2).unwrap();
    let mut lsns = Vec::new();
    let mut prev = CLFS_LSN_INVALID;
    for i in 0..4u32 {
        // One flushed block per record: blocks at 0, 0x200, 0x400, 0x600.
        let l = append_ex(a, &i.to_le_bytes(), prev, 0).unwrap();
        assert_eq!(flush(a), 0);
        lsns.push(l);
        prev = l;
    }
    let r1 = restart_area(a, b"r1");
    let r2 = restart_area(a, b"r2");
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);
    assert_eq!(lsns, [0, 0x200, 0x400, 0x600].map(|o| lsn(0, o, 0)));
    assert_eq!((r1, r2), (lsn(0, 0x800, 0), lsn(0, 0xa00, 0)));
    edit_link(&sb, 0x600, 0x10, lsns[3]); // previous: itself
    edit_link(&sb, 0x400, 0x10, lsns[3]); // previous: forward
    edit_link(&sb, 0x200, 0x08, lsns[2]); // undo-next: forward
    edit_link(&sb, 0xa00, 0x10, r2); // the restart record's previous: itself

    let h = open().unwrap();
    let a = area(h, 4096, 4, 2).unwrap();
    for (from, mode) in [(lsns[3], 2), (lsns[2], 2), (lsns[1], 1)] {
        let (c, r) = read(a, from, mode).unwrap();
        assert_eq!(r.lsn, from);
        assert_eq!(
            next(c, 1).err(),
            Some(STATUS_LOG_RECORD_NONEXISTENT),
            "{mode} chain from {from:#x}"
        );
        assert_eq!(term(c), 0);
    }
    let (mut buf, mut cb) = (core::ptr::null_mut(), 0u32);
    let (mut l, mut c) = (
        clfs_emu::types::CLS_LSN { Internal: 0 },
        core::ptr::null_mut(),
    );
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReadRestartArea(a, &mut buf, &mut cb, &mut l, &mut c) };
    assert_eq!((s, l.Internal), (0, r2));
    // SAFETY: valid pointers; `c` is the context just returned.
    let s = unsafe { ClfsReadPreviousRestartArea(c, &mut buf, &mut cb, &mut l) };
    assert_eq!(s, STATUS_LOG_START_OF_LOG);
    assert_eq!(term(c), 0);
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);
    no_leaks(&sb);
}

#[test]
fn a_container_name_with_a_character_across_byte_5_is_refused_not_a_panic() {
    // Finding 10: the `%BLF%` prefix check sliced the name at byte 5 after checking for a
    // character boundary at byte 6, so a name whose bytes 3..6 are one character panicked
    // (a bugcheck in a driver): from the base file at open, and from ClfsAddLogContainer.
    let name = "%BL\u{20ac}x";
    let sb = Sandbox::new();
    make_log(2);
    edit_base(&sb, |b| b.containers[1].name = name.into());
    assert_eq!(open().unwrap_err(), STATUS_LOG_METADATA_CORRUPT);
    let h = open_after_repair(&sb);
    assert_eq!(add(h, Some(1), name).0, STATUS_OBJECT_NAME_INVALID);
    assert_eq!(close(h), 0);
    no_leaks(&sb);
}

/// Gives container 1 its name back and opens the log.
fn open_after_repair(sb: &Sandbox) -> *mut FILE_OBJECT {
    edit_base(sb, |b| b.containers[1].name = "%BLF%\\c1".into());
    open().unwrap()
}

#[test]
fn a_stream_hint_past_the_log_end_is_not_believed() {
    // Finding 11: a multiplexed log whose base file gives a stream a last-flushed record
    // (`lsnUnused1` of its client context) at or past the recovered end (a damaged block cut
    // the log short, or a hostile file). The stream reported that LSN as its last, and its
    // next record came below it: its LSNs went backwards. Now the log's last record bounds
    // it, and the stream's records stay in its range.
    let sb = Sandbox::new();
    let phys = create("log:mux::", RWD, 0, 2).unwrap();
    for i in 0..2 {
        assert_eq!(add(phys, Some(1), &format!("%BLF%\\m{i}")).0, 0);
    }
    let s = create("log:mux::s", RWD, 0, 2).unwrap();
    let a = area(s, 4096, 4, 2).unwrap();
    let first = append(a, b"one");
    assert_eq!(flush(a), 0);
    assert_eq!(del_area(a), 0);
    assert_eq!(close(s), 0);
    assert_eq!(close(phys), 0);
    let path = sb.root().join("mux.blf");
    let bytes = std::fs::read(&path).unwrap();
    let bf = fmt::BaseFile::decode(&bytes, "mux.blf").unwrap();
    let mut base = bf.base.clone();
    let past = lsn(0, 0x8000, 5);
    base.clients[1].context.unused1 = fmt::Lsn(past);
    let img = fmt::BaseFile::encode_image(&bf.control, &base, &bf.truncate.unwrap_or_default(), 1)
        .unwrap();
    std::fs::write(&path, img).unwrap();

    let s = create("log:mux::s", RWD, 0, 1).unwrap();
    let last = info(s).LastLsn.Internal;
    assert!(last < past, "the hint is not reported: {last:#x}");
    let a = area(s, 4096, 4, 2).unwrap();
    let next = append(a, b"two");
    assert!(next > last && next > first, "{next:#x} after {last:#x}");
    assert_eq!(flush(a), 0);
    assert_eq!(read_all(a, first), vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(del_area(a), 0);
    assert_eq!(close(s), 0);
    no_leaks(&sb);
}
