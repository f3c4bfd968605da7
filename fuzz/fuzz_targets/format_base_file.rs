//! Hostile base log files: `BaseFile::decode`, the base record's rule check, `Log::verify`
//! without containers, and the oracle that a decoded base record re-encodes into one that
//! decodes to the same contexts and names.
#![no_main]

use clfs_format::{BaseFile, BaseRecord, Layout, Loc, Log};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(base) = BaseFile::decode(data, "fuzz.blf") else {
        return;
    };
    let _ = base
        .base
        .check(&base.base_bytes, &Loc::new("fuzz.blf", 0x800));
    if let Ok(bytes) = base.base.encode() {
        let again = BaseRecord::decode(&bytes, &Loc::new("re-encoded", 0))
            .expect("a re-encoded base record decodes");
        again
            .check(&bytes, &Loc::new("re-encoded", 0))
            .expect("a re-encoded base record keeps every rule");
        assert_eq!(again.clients.len(), base.base.clients.len());
        assert_eq!(again.containers.len(), base.base.containers.len());
        for (a, b) in again.containers.iter().zip(&base.base.containers) {
            assert_eq!(a.context, b.context);
        }
        for (a, b) in again.clients.iter().zip(&base.base.clients) {
            assert_eq!(a.context, b.context);
        }
    }
    let layout = base.base.layout();
    assert_eq!(layout == Layout::Dedicated, !base.base.is_multiplexed());
    let log = Log::read(base, |_| None);
    let _ = log.verify("fuzz.blf");
});
