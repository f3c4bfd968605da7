//! Builds small CLFS logs with the clfs-format encoder for the CLI tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clfs_format::{
    BaseFile, BaseRecord, BlockBuilder, ClientContext, ContainerContext, ControlRecord, LogId, Lsn,
    TruncateRecord, RECORD_TYPE_DATA, RECORD_TYPE_RESTART,
};

pub const CONTAINER_SIZE: u64 = 0x80000;

/// A fresh empty directory under the target dir for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("clfs-dump-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `ledger.blf` with two containers (the second file absent unless `both`), records:
/// 0:0x0:0 restart; 0:0x200:0 data (3 sectors); 0:0x800:0 data + 0:0x800:1 restart (prev
/// 0:0x0:0). Base and restart 0:0x800:1, last 0:0xa00:0. Returns the .blf path.
pub fn write_log(dir: &Path, both: bool) -> PathBuf {
    let mut c0 = vec![0u8; CONTAINER_SIZE as usize];
    let mut b = BlockBuilder::new(Lsn::NULL, 1);
    b.push(RECORD_TYPE_RESTART, Lsn::NULL, Lsn::INVALID, b"restart-0")
        .unwrap();
    let blk = b.finish(Lsn::new(0, 0x200, 0)).unwrap();
    c0[..blk.len()].copy_from_slice(&blk);
    let mut b = BlockBuilder::new(Lsn::new(0, 0x200, 0), 1);
    b.push(RECORD_TYPE_DATA, Lsn::INVALID, Lsn::INVALID, &[0xab; 900])
        .unwrap();
    let blk = b.finish(Lsn::INVALID).unwrap();
    assert_eq!(blk.len(), 0x600);
    c0[0x200..0x800].copy_from_slice(&blk);
    let mut b = BlockBuilder::new(Lsn::new(0, 0x800, 0), 1);
    b.push(
        RECORD_TYPE_DATA,
        Lsn::INVALID,
        Lsn::INVALID,
        b"hello, world",
    )
    .unwrap();
    b.push(RECORD_TYPE_RESTART, Lsn::NULL, Lsn::NULL, b"restart-1")
        .unwrap();
    let blk = b.finish(Lsn::new(0, 0xa00, 0)).unwrap();
    c0[0x800..0xa00].copy_from_slice(&blk);

    let mut base = BaseRecord::new(LogId(*b"0123456789abcdef"));
    base.dump_count = 7;
    let mut cc = ClientContext::new(0);
    cc.base = Lsn::new(0, 0x800, 1);
    cc.archive_tail = cc.base;
    cc.restart = Lsn::new(0, 0x800, 1);
    cc.last = Lsn::new(0, 0xa00, 0);
    base.add_client(cc, "\\??\\C:\\logs\\ledger.blf");
    base.add_container(
        ContainerContext::new(0, 0, CONTAINER_SIZE),
        "%BLF%\\ledgerContainer0",
    );
    base.add_container(
        ContainerContext::new(1, 1, CONTAINER_SIZE),
        "%BLF%\\ledgerContainer1",
    );
    let blf = BaseFile::encode_image(
        &ControlRecord::new(1),
        &base,
        &TruncateRecord {
            dump_count: 1,
            ..Default::default()
        },
        1,
    )
    .unwrap();
    let path = dir.join("ledger.blf");
    std::fs::write(&path, blf).unwrap();
    std::fs::write(dir.join("ledgerContainer0"), c0).unwrap();
    if both {
        std::fs::write(
            dir.join("ledgerContainer1"),
            vec![0u8; CONTAINER_SIZE as usize],
        )
        .unwrap();
    }
    path
}

pub fn dump(args: &[&str], blf: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clfs-dump"))
        .args(args)
        .arg(blf)
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// LSNs of the multiplexed sample ([`write_mux_log`]): stream 2's first record (behind its
/// base), then streams 1, 2, 1 in turn; the physical log's cursor.
pub mod mux {
    use clfs_format::Lsn;
    pub const A2: Lsn = Lsn::new(0, 0, 0);
    pub const A1: Lsn = Lsn::new(0, 0x200, 0);
    pub const R1: Lsn = Lsn::new(0, 0x200, 1);
    pub const B2: Lsn = Lsn::new(0, 0x400, 0);
    pub const R2: Lsn = Lsn::new(0, 0x400, 1);
    pub const B1: Lsn = Lsn::new(0, 0x600, 0);
    pub const R1B: Lsn = Lsn::new(0, 0x600, 1);
    pub const CURSOR: Lsn = Lsn::new(0, 0x800, 0);
}

/// Writes the block of stream `client` at `off` of the container file `c` with `records`
/// (type, previous), each carrying 3 bytes of payload.
pub fn mux_block(c: &mut [u8], off: u32, client: u8, records: &[(u32, Lsn)]) {
    let mut b = BlockBuilder::new(Lsn::new(0, off, 0), 1).client_id(client);
    for (i, (t, prev)) in records.iter().enumerate() {
        b.push(*t, Lsn::INVALID, *prev, &[client, i as u8, 0xee])
            .unwrap();
    }
    let blk = b.finish(Lsn::INVALID).unwrap();
    c[off as usize..off as usize + blk.len()].copy_from_slice(&blk);
}

/// The multiplexed log in the emulator's layout (team decision, docs/format.md): `mux.blf`
/// with client 0 the physical log and streams 1 "orders" and 2 "audit", one container
/// `muxContainer0` holding blocks of streams 2, 1, 2, 1 (see [`mux`]). `edit` may change the
/// base record before it is written. Returns the .blf path.
pub fn write_mux_log(dir: &Path, edit: impl FnOnce(&mut BaseRecord)) -> PathBuf {
    use mux::*;
    let mut c = vec![0u8; CONTAINER_SIZE as usize];
    mux_block(&mut c, 0, 2, &[(RECORD_TYPE_DATA, Lsn::INVALID)]);
    let pair = [
        (RECORD_TYPE_DATA, Lsn::INVALID),
        (RECORD_TYPE_RESTART, Lsn::INVALID),
    ];
    mux_block(&mut c, 0x200, 1, &pair);
    mux_block(&mut c, 0x400, 2, &pair);
    mux_block(
        &mut c,
        0x600,
        1,
        &[(RECORD_TYPE_DATA, A1), (RECORD_TYPE_RESTART, R1)],
    );
    let mut b = BaseRecord::new(LogId([0x5a; 16]));
    b.log_state |= clfs_format::LOG_STATE_MULTIPLEXED;
    let mut phys = ClientContext::new(0);
    phys.base = A1;
    phys.archive_tail = A1;
    phys.last = CURSOR;
    phys.restart = Lsn::INVALID;
    phys.unused1 = R1B;
    b.add_client(phys, "\\??\\C:\\logs\\mux.blf");
    for (id, name, base, last) in [(1u8, "orders", A1, R1B), (2, "audit", B2, R2)] {
        let mut cc = ClientContext::new(id);
        cc.base = base;
        cc.archive_tail = base;
        cc.last = last;
        cc.restart = last;
        cc.unused1 = last;
        cc.physical_base = base;
        b.add_client(cc, name);
    }
    b.add_container(
        ContainerContext::new(0, 0, CONTAINER_SIZE),
        "%BLF%\\muxContainer0",
    );
    edit(&mut b);
    let blf =
        BaseFile::encode_image(&ControlRecord::new(1), &b, &TruncateRecord::default(), 1).unwrap();
    let path = dir.join("mux.blf");
    std::fs::write(&path, blf).unwrap();
    std::fs::write(dir.join("muxContainer0"), c).unwrap();
    path
}

/// Rewrites the block at `off` of `muxContainer0` next to `blf`.
pub fn rewrite_mux_block(blf: &Path, off: u32, client: u8, records: &[(u32, Lsn)]) {
    let path = blf.with_file_name("muxContainer0");
    let mut c = std::fs::read(&path).unwrap();
    mux_block(&mut c, off, client, records);
    std::fs::write(&path, c).unwrap();
}
