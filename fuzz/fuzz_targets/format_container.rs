//! Hostile container files: `scan_container` over every sector, the records it returns, and
//! the oracle that a block that decodes re-encodes into exactly the bytes it came from. The
//! same file is then read as the only container of a multiplexed log in the emulator's layout
//! (client 0 the physical log, streams 1 and 2), so that `Log::verify`'s per-stream rules and
//! the per-stream active ranges meet hostile blocks too.
//!
//! Input: byte 0 is the container's logical id, byte 1 how many 16-byte units the declared
//! container size falls short of the file (bytes past the size are ignored), the rest is the
//! container file.
#![no_main]

use std::sync::OnceLock;

use clfs_format::{
    decode_block, encode_block, scan_container, BaseFile, BaseRecord, ChecksumPolicy,
    ClientContext, ContainerContext, ControlRecord, Loc, Log, LogId, Lsn, TruncateRecord,
    LOG_STATE_MULTIPLEXED, RECORD_HEADER_SIZE, SECTOR_BLOCK_DATA,
};
use libfuzzer_sys::fuzz_target;

/// A multiplexed base file in the emulator's layout with one container (logical id 0).
fn mux_base() -> &'static BaseFile {
    static BASE: OnceLock<BaseFile> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut b = BaseRecord::new(LogId([3; 16]));
        b.log_state |= LOG_STATE_MULTIPLEXED;
        let mut phys = ClientContext::new(0);
        phys.base = Lsn::new(0, 0x200, 0);
        phys.last = Lsn::new(0, 0x1000, 0);
        phys.restart = Lsn::INVALID;
        b.add_client(phys, "\\??\\C:\\fuzz.blf");
        for (id, base, last) in [(1u8, 0x200, 0x600), (2, 0x400, 0x800)] {
            let mut c = ClientContext::new(id);
            c.base = Lsn::new(0, base, 0);
            c.archive_tail = c.base;
            c.last = Lsn::new(0, last, 1);
            c.restart = c.last;
            b.add_client(c, if id == 1 { "one" } else { "two" });
        }
        b.add_container(ContainerContext::new(0, 0, 0), "%BLF%\\c0");
        let image =
            BaseFile::encode_image(&ControlRecord::new(1), &b, &TruncateRecord::default(), 1)
                .expect("the fixed base record encodes");
        BaseFile::decode(&image, "fuzz.blf").expect("the fixed base file decodes")
    })
}

fuzz_target!(|data: &[u8]| {
    let [id, short, file @ ..] = data else {
        return;
    };
    let size = file.len().saturating_sub(*short as usize * 16) as u64;
    let ctx = ContainerContext::new(0, *id as u32, size);
    let scan = scan_container(file, "fuzz-container", &ctx);
    for r in &scan.records {
        assert_eq!(r.data.len(), r.header.payload_len() as usize);
        assert!(r.header.data_offset as usize >= RECORD_HEADER_SIZE);
        assert_eq!(r.header.lsn.container(), *id as u32);
        assert!(r.file_offset < size);
    }
    // Owner pages: whole sectors inside the container, in order, never over a record.
    let mut end = 0;
    for &(off, len) in &scan.owner_pages {
        assert!(off >= end && len > 0 && off + len <= size);
        assert_eq!((off % 512, len % 512), (0, 0));
        assert!(!scan
            .records
            .iter()
            .any(|r| (off..off + len).contains(&r.file_offset)));
        end = off + len;
    }
    // The file as a multiplexed log's container: verify may refuse it but must not panic,
    // and each stream's active records are its own.
    let mut base = mux_base().clone();
    if let Some(c) = base.base.containers.first_mut() {
        c.context.logical_id = *id as u32;
        c.context.size = size;
    }
    let log = Log::read(base, |_| Some((file, "fuzz-container".to_string())));
    let _ = log.verify("fuzz.blf");
    for c in &log.base.base.clients {
        assert!(log
            .active_records(c)
            .all(|r| r.client_id == c.context.client_id));
        let _ = log.restart_chain(c, "fuzz.blf");
    }
    // decode then encode is the identity on a block that decodes.
    let mut block = file.to_vec();
    let loc = Loc::new("fuzz-container", 0);
    if let Ok(h) = decode_block(
        &mut block,
        SECTOR_BLOCK_DATA,
        ChecksumPolicy::IfPresent,
        &loc,
    ) {
        let restored = &mut block[..h.size()];
        encode_block(restored, &h, SECTOR_BLOCK_DATA, h.checksum != 0, &loc)
            .expect("a decoded block re-encodes");
        assert_eq!(
            restored,
            &file[..h.size()],
            "decode + encode changed the block"
        );
    }
});
