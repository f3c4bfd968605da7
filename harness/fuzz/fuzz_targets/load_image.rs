//! Feeds arbitrary bytes to the loader's parse / validate / resolve / map path
//! (`clfs_harness::load_image`): it must return `Ok` or a `LoadError`, never panic or crash.
//! The image is mapped and unmapped, never run.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = clfs_harness::load_image(data);
});
