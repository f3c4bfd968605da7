//! The truncate record of the scratch block. Only its header is known (a best guess from the
//! routines that validate it); the reader keeps the rest of the block as raw bytes.

use alloc::vec::Vec;

use crate::bytes::{put_u32, put_u64, u32_, u64_};
use crate::error::{Loc, Result};

/// Size of the known part of the truncate record header.
pub const TRUNCATE_RECORD_HEADER_SIZE: usize = 0x10;

/// `CLFS_TRUNCATE_RECORD_HEADER` (best guess): dump count and two offsets, 0 when no
/// truncation is in progress (as in every Windows-made log seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TruncateRecord {
    /// `hdrBaseRecord.ullDumpCount`.
    pub dump_count: u64,
    /// `coffClientChange`: offset of the first `CLFS_TRUNCATE_CLIENT_CHANGE`, or 0.
    pub client_change_offset: u32,
    /// `coffOwnerPage`: offset of the first owner page, or 0.
    pub owner_page_offset: u32,
}

impl TruncateRecord {
    /// Whether a truncation was in progress (either offset set).
    pub fn in_progress(&self) -> bool {
        self.client_change_offset != 0 || self.owner_page_offset != 0
    }

    /// Decodes the header from the record bytes.
    pub fn decode(r: &[u8], loc: &Loc<'_>) -> Result<TruncateRecord> {
        const F: &str = "CLFS_TRUNCATE_RECORD_HEADER";
        Ok(TruncateRecord {
            dump_count: u64_(r, 0, loc, F)?,
            client_change_offset: u32_(r, 8, loc, F)?,
            owner_page_offset: u32_(r, 12, loc, F)?,
        })
    }

    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut r = alloc::vec![0u8; TRUNCATE_RECORD_HEADER_SIZE];
        let b = r.as_mut_slice();
        put_u64(b, 0, self.dump_count);
        put_u32(b, 8, self.client_change_offset);
        put_u32(b, 12, self.owner_page_offset);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = TruncateRecord {
            dump_count: 3,
            client_change_offset: 0x20,
            owner_page_offset: 0x40,
        };
        let loc = Loc::new("t.blf", 0xfc00);
        assert_eq!(TruncateRecord::decode(&t.encode(), &loc).unwrap(), t);
        assert!(t.in_progress());
        assert!(TruncateRecord::decode(&[0; 12], &loc).is_err());
    }
}
