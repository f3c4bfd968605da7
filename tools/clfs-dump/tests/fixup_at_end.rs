//! Container blocks whose fixup array ends exactly at the block's end (`SignaturesOffset` =
//! `n*512 - 2n`, its last entry the last sector's signature): the placement one published
//! decompilation of Clfs.sys's `ClfsStampLogBlock` gives for blocks of 4, 8, 12, ... sectors
//! (docs/format.md, "Extended base files"). The emulator writes a log with a 4-sector and an
//! 8-sector block; the test rewrites both in that placement, then `clfs-format`,
//! `clfs-dump --verify` and the emulator itself must all read every record back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;
#[path = "../../../emu/tests/common/mod.rs"]
mod emu;

use std::path::Path;

use clfs_emu::status::STATUS_END_OF_FILE;
use clfs_emu::{Sandbox, CLFS_LSN_INVALID};
use clfs_format as fmt;
use common::{dump, stderr, stdout};
use emu::*;

/// `CLFS_FLAG_FORCE_FLUSH`: each record goes to disk in a block of its own.
const FORCE: u32 = 2;

/// Rewrites the block at `off` of container file `path` with its fixup array at the block's
/// end, as the other placement would write it; returns its sector count.
fn move_fixup_array_to_the_end(path: &Path, off: usize) -> usize {
    let mut file = std::fs::read(path).unwrap();
    let loc = fmt::Loc::new("c0", off as u64);
    let mut blk = file[off..].to_vec();
    let h = fmt::decode_block(
        &mut blk,
        fmt::SECTOR_BLOCK_DATA,
        fmt::ChecksumPolicy::IfPresent,
        &loc,
    )
    .unwrap();
    let n = h.total_sectors as usize;
    assert_eq!(h.signatures_offset as usize, fmt::fixup_offset(n));
    let size = h.size();
    let blk = &mut blk[..size];
    // The old array's bytes are the writer's again (free), as in a fresh block.
    blk[fmt::fixup_offset(n)..].fill(0);
    let mut moved = h;
    moved.signatures_offset = fmt::fixup_offset_at_end(n) as u32;
    fmt::encode_block(blk, &moved, fmt::SECTOR_BLOCK_DATA, false, &loc).unwrap();
    file[off..off + size].copy_from_slice(blk);
    std::fs::write(path, file).unwrap();
    n
}

#[test]
fn container_blocks_with_the_fixup_array_at_the_block_end_read_everywhere() {
    let sb = Sandbox::new();
    let h = log_with_containers("log:fixend", 2);
    let a = area(h, 8192, 2, 2).unwrap();
    // Bytes that differ at every sector end, so a wrong restore shows in the data.
    let data = |len: usize, seed: u8| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    };
    // Blocks of 1, 4 and 8 sectors: records end at 0x100, 0x700 and 0xf00.
    let small = data(0x100 - 0x98, 1);
    let four = data(0x700 - 0x98, 2);
    let eight = data(0xf00 - 0x98, 3);
    let l1 = append_ex(a, &small, CLFS_LSN_INVALID, FORCE).unwrap();
    let l4 = append_ex(a, &four, l1, FORCE).unwrap();
    let l8 = append_ex(a, &eight, l4, FORCE).unwrap();
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);

    let c0 = sb.root().join("c0");
    let off = |l: u64| (l as u32 & !0x1ff) as usize;
    assert_eq!(move_fixup_array_to_the_end(&c0, off(l4)), 4);
    assert_eq!(move_fixup_array_to_the_end(&c0, off(l8)), 8);

    // clfs-format: the blocks decode, the array is where it was put, the records read back.
    let file = std::fs::read(&c0).unwrap();
    for (l, n, want) in [(l4, 4, &four), (l8, 8, &eight)] {
        let mut blk = file[off(l)..].to_vec();
        let loc = fmt::Loc::new("c0", off(l) as u64);
        let hd = fmt::decode_block(
            &mut blk,
            fmt::SECTOR_BLOCK_DATA,
            fmt::ChecksumPolicy::IfPresent,
            &loc,
        )
        .unwrap();
        assert_eq!(
            (hd.total_sectors as usize, hd.signatures_offset as usize),
            (n, n * 512 - 2 * n)
        );
        let recs = fmt::block_records(&blk, &hd, &loc).unwrap();
        assert_eq!(recs.len(), 1);
        assert!(recs[0].data == want.as_slice(), "{n}-sector block's data");
    }

    // clfs-dump --verify passes and lists the three records.
    let blf = sb.root().join("fixend.blf");
    let o = dump(&["--verify", "--all"], &blf);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("verify: OK"), "{out}");
    assert!(out.contains("records (all present): 3\n"), "{out}");
    assert!(!out.contains("skipped"), "{out}");

    // The emulator opens the log (its end is after the 8-sector block), reads every record
    // back and appends after them.
    let h = create("log:fixend", RW, 0, 1).unwrap();
    assert_eq!(info(h).LastFlushedLsn.Internal, l8);
    let a = area(h, 8192, 2, 2).unwrap();
    assert_eq!(
        read_all(a, l1),
        [small.clone(), four.clone(), eight.clone()]
    );
    let (ctx, r) = read(a, l8, 2).unwrap(); // ClfsContextPrevious
    assert_eq!((r.data, r.prev), (eight.clone(), l4));
    let r = next(ctx, 1).unwrap();
    assert_eq!((r.lsn, r.data), (l4, four.clone()));
    assert_eq!(term(ctx), 0);
    let after = append_ex(a, b"after", l8, FORCE).unwrap();
    assert_eq!(off(after), off(l8) + 8 * 512);
    assert_eq!(read_all(a, l1), [small, four, eight, b"after".to_vec()]);
    let (ctx, _) = read(a, after, 3).unwrap();
    assert_eq!(next(ctx, 1).err(), Some(STATUS_END_OF_FILE));
    assert_eq!(term(ctx), 0);
    assert_eq!(del_area(a), 0);
    assert_eq!(close(h), 0);
    no_leaks(&sb);
}
