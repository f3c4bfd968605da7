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
