//! Drives the sample driver's dispatch routines through the harness's I/O manager with
//! arbitrary request sequences: the real image (`clfs_sample_driver.sys`, built by
//! `samples/build-driver.sh`; another path in `CLFS_SAMPLE_SYS`), loaded and started once.
//!
//! Each input is a sequence of requests, 1 + 2 + 2 + n bytes each: an opcode (open, close,
//! one of the four IOCTLs, a random code, another major function), the input and output
//! lengths, and input bytes. Every request must complete without an I/O manager violation
//! (no write past the system buffer, `Information` within the output, one completion) and
//! without a crash or a bugcheck (which abort the process).
#![no_main]

use std::sync::OnceLock;

use clfs_harness::iomgr::{Caller, File, IoManager, READ_WRITE};
use clfs_sample_proto as proto;
use libfuzzer_sys::fuzz_target;

struct Rig {
    io: IoManager,
    _sandbox: clfs_emu::Sandbox,
}

/// The driver, loaded and started once per process (leaked: it lives as long as the fuzzer).
fn rig() -> &'static Rig {
    static RIG: OnceLock<usize> = OnceLock::new();
    let p = *RIG.get_or_init(|| {
        let path = std::env::var_os("CLFS_SAMPLE_SYS").map_or_else(
            || {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../target/x86_64-pc-windows-msvc/release/clfs_sample_driver.sys")
            },
            Into::into,
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run samples/build-driver.sh first)",
                path.display()
            )
        });
        let sandbox = clfs_emu::Sandbox::new();
        clfs_harness::set_file_root(Some(sandbox.root())).expect("file root");
        let mut driver = clfs_harness::Driver::load(&bytes, "ClfsSample").expect("load");
        // SAFETY: the sample driver under test.
        let status = unsafe { driver.driver_entry() };
        assert_eq!(status, 0, "DriverEntry");
        let rig = Box::new(Rig {
            io: IoManager::new(driver),
            _sandbox: sandbox,
        });
        Box::into_raw(rig) as usize
    });
    // SAFETY: leaked above, never freed; only this (single) fuzzing thread uses it.
    unsafe { &*(p as *const Rig) }
}

fuzz_target!(|data: &[u8]| {
    let rig = rig();
    let mut files: Vec<File> = Vec::new();
    let mut rest = data;
    while let [op, a, b, c, d, tail @ ..] = rest {
        let in_len = usize::from(u16::from_le_bytes([*a, *b]));
        let out_len =
            usize::from(u16::from_le_bytes([*c, *d])) * if op & 0x80 != 0 { 17 } else { 1 };
        let take = in_len.min(tail.len());
        let (input, next) = tail.split_at(take);
        rest = next;
        if files.is_empty() || op % 16 == 0 {
            if let Ok(f) = rig
                .io
                .open(proto::WIN32_PATH, READ_WRITE, Caller::Administrator)
                .expect("open")
            {
                files.push(f);
            }
            continue;
        }
        let f = &files[usize::from(*a) % files.len()];
        let code = match op % 16 {
            1 => {
                let f = files.swap_remove(usize::from(*a) % files.len());
                rig.io.close(f).expect("close");
                continue;
            }
            2 => {
                rig.io.send(f, *b % 28).expect("major function");
                continue;
            }
            3..=5 => proto::IOCTL_CLFS_SAMPLE_APPEND,
            6 => proto::IOCTL_CLFS_SAMPLE_FLUSH,
            7..=10 => proto::IOCTL_CLFS_SAMPLE_READ,
            11 => proto::IOCTL_CLFS_SAMPLE_QUERY,
            _ => u32::from_le_bytes([*a, *b, *c, *d]) & !3,
        };
        let r = rig
            .io
            .ioctl(
                f,
                code,
                Some(input),
                input.len(),
                out_len,
                op & 0x40 != 0 && out_len == 0,
            )
            .expect("the I/O manager's checks");
        assert!(r.status < 0 || r.information <= out_len);
    }
    for f in files {
        rig.io.close(f).expect("close");
    }
});
