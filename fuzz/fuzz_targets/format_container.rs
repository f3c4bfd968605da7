//! Hostile container files: `scan_container` over every sector, the records it returns, and
//! the oracle that a block that decodes re-encodes into exactly the bytes it came from.
//!
//! Input: byte 0 is the container's logical id, byte 1 how many 16-byte units the declared
//! container size falls short of the file (bytes past the size are ignored), the rest is the
//! container file.
#![no_main]

use clfs_format::{
    decode_block, encode_block, scan_container, ChecksumPolicy, ContainerContext, Loc,
    RECORD_HEADER_SIZE, SECTOR_BLOCK_DATA,
};
use libfuzzer_sys::fuzz_target;

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
