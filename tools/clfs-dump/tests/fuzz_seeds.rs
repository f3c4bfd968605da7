//! The seed corpus of the clfs-format fuzz targets (fuzz/corpus/format_*) is written by the
//! encoder, never taken from Windows files. This test checks that the checked-in seeds are
//! what the encoder writes today; `CLFS_WRITE_FUZZ_SEEDS=1 cargo test -p clfs-dump --test
//! fuzz_seeds` rewrites them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use std::path::PathBuf;

use clfs_format::{
    decode_block, encode_block, fixup_offset, fixup_offset_at_end, BaseFile, BaseRecord,
    BlockBuilder, BlockHeader, ChecksumPolicy, ClientContext, ContainerContext, ControlRecord, Loc,
    LogId, Lsn, TruncateRecord, LOG_STATE_MULTIPLEXED, RECORD_TYPE_DATA, SECTOR_BLOCK_DATA,
    SECTOR_BLOCK_OWNER,
};

fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let dir = common::scratch("fuzz-seeds");
    let blf = common::write_log(&dir, false);
    let dedicated = std::fs::read(&blf).unwrap();
    // A multiplexed log: three streams and thirteen containers (hash-bucket collisions).
    let mut b = BaseRecord::new(LogId([0x42; 16]));
    b.log_state |= LOG_STATE_MULTIPLEXED;
    for id in 0..3u8 {
        let mut c = ClientContext::new(id);
        c.base = Lsn::new(id as u32, 0, 0);
        c.restart = Lsn::INVALID;
        b.add_client(c, &format!("stream{id}"));
    }
    for i in 0..13u32 {
        b.add_container(
            ContainerContext::new(i, i, 0x80000),
            &format!("%BLF%\\muxContainer{i}"),
        );
    }
    let mux =
        BaseFile::encode_image(&ControlRecord::new(2), &b, &TruncateRecord::default(), 2).unwrap();
    // Container seeds: logical id 0, no shortfall, then the first blocks of the test log.
    let c0 = std::fs::read(dir.join("ledgerContainer0")).unwrap();
    let mut container = vec![0u8, 0u8];
    container.extend_from_slice(&c0[..0xc00]);
    let mut torn = container.clone();
    torn[2 + 0x200 + 1023] = 0; // sector 1 of the 3-sector block from an older write
                                // The emulator's multiplexed layout (client 0 the physical log, streams 1 and 2), the
                                // same base record with an owner page named (the owner-paged layout), and a container of
                                // blocks of both streams followed by a two-sector owner page.
    let mux_blf = common::write_mux_log(&dir, |_| {});
    let mux_emulator = std::fs::read(&mux_blf).unwrap();
    let owner_paged_blf = common::write_mux_log(&dir, |b| {
        b.clients[1].context.owner_page = Lsn::new(0, 0x800, 0);
    });
    let mux_owner_paged = std::fs::read(&owner_paged_blf).unwrap();
    let mc = std::fs::read(dir.join("muxContainer0")).unwrap();
    let mut mux_container = vec![0u8, 0u8];
    mux_container.extend_from_slice(&mc[..0x800]);
    let mut page = vec![0u8; 0x400];
    encode_block(
        &mut page,
        &BlockHeader::new(2, 1),
        SECTOR_BLOCK_OWNER,
        false,
        &Loc::new("seed", 0),
    )
    .unwrap();
    mux_container.extend_from_slice(&page);
    // An extended base file (as the emulator grows it): general blocks of 0xf400 bytes, the
    // scratch blocks moved behind them, a base record of 300 containers larger than a
    // default general block.
    let mut b = BaseRecord::new(LogId([0x43; 16]));
    b.add_client(ClientContext::new(0), "\\??\\C:\\logs\\extended.blf");
    for i in 0..300u32 {
        b.add_container(
            ContainerContext::new(i, i, 0x80000),
            &format!("%BLF%\\extendedContainer{i:04}"),
        );
    }
    assert!(b.encode().unwrap().len() > 0x7a00);
    let extended = BaseFile::encode_image(
        &ControlRecord::with_general_size(3, 0xf400),
        &b,
        &TruncateRecord::default(),
        3,
    )
    .unwrap();
    // Container blocks of 4 and 8 sectors whose fixup array ends at the block's end (the
    // other placement readers accept, `fixup_offset_at_end`).
    let mut at_end = vec![0u8, 0u8];
    for (off, len) in [(0u32, 0x700 - 0x98), (0x800, 0xf00 - 0x98)] {
        let mut b = BlockBuilder::new(Lsn::new(0, off, 0), 1);
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &payload)
            .unwrap();
        let mut blk = b.finish(Lsn::INVALID).unwrap();
        let loc = Loc::new("seed", off as u64);
        let mut h =
            decode_block(&mut blk, SECTOR_BLOCK_DATA, ChecksumPolicy::IfPresent, &loc).unwrap();
        let n = h.total_sectors as usize;
        blk[fixup_offset(n)..].fill(0);
        h.signatures_offset = fixup_offset_at_end(n) as u32;
        encode_block(&mut blk, &h, SECTOR_BLOCK_DATA, false, &loc).unwrap();
        at_end.extend_from_slice(&blk);
    }
    assert_eq!(at_end.len(), 2 + 12 * 512);
    vec![
        ("format_container", "seed-fixup-at-end", at_end),
        ("format_base_file", "seed-extended", extended),
        ("format_base_file", "seed-mux-emulator", mux_emulator),
        ("format_base_file", "seed-mux-owner-paged", mux_owner_paged),
        ("format_container", "seed-mux-streams", mux_container),
        ("format_base_file", "seed-dedicated", dedicated),
        ("format_base_file", "seed-multiplexed", mux),
        ("format_container", "seed-blocks", container),
        ("format_container", "seed-torn", torn),
    ]
}

#[test]
fn checked_in_seeds_are_what_the_encoder_writes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let write = std::env::var_os("CLFS_WRITE_FUZZ_SEEDS").is_some();
    for (target, name, bytes) in seeds() {
        let path = root.join(target).join(name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (CLFS_WRITE_FUZZ_SEEDS=1 writes it)",
                path.display()
            )
        });
        assert!(
            on_disk == bytes,
            "{} is stale: rerun with CLFS_WRITE_FUZZ_SEEDS=1",
            path.display()
        );
    }
}
