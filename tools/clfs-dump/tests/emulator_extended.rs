//! An extended base file made by the emulator (`clfs-emu`): 1024 containers, so the general
//! blocks outgrow their default 0x7a00 bytes and the scratch blocks move behind them.
//! `clfs-dump --verify` reads it through the control record's table and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use core::ptr::{null, null_mut};

use clfs_emu::types::{FILE_OBJECT, UNICODE_STRING};
use clfs_emu::{ClfsAddLogContainerSet, ClfsCloseLogFileObject, ClfsCreateLogFile, Sandbox};
use common::{dump, stderr, stdout};

/// GENERIC_READ | GENERIC_WRITE | DELETE.
const RWD: u32 = 0x8000_0000 | 0x4000_0000 | 0x0001_0000;

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn us(u: &mut [u16]) -> UNICODE_STRING {
    let len = (u.len() * 2) as u16;
    UNICODE_STRING {
        Length: len,
        MaximumLength: len,
        Buffer: u.as_mut_ptr(),
    }
}

#[test]
fn a_base_file_with_1024_containers_verifies() {
    let sb = Sandbox::new();
    let mut name = units("log:ext");
    let n = us(&mut name);
    let mut h: *mut FILE_OBJECT = null_mut();
    // SAFETY: `h` and `n` (backed by `name`) are valid for the call; FILE_CREATE.
    let s = unsafe { ClfsCreateLogFile(&mut h, &n, RWD, 0, null_mut(), 2, 0, 0, 0, null(), 0) };
    assert_eq!(s, 0);
    for set in 0..16 {
        let mut names: Vec<Vec<u16>> = (0..64)
            .map(|i| {
                units(&format!(
                    "%BLF%\\extContainerWithALongName{:05}",
                    set * 64 + i
                ))
            })
            .collect();
        let list: Vec<UNICODE_STRING> = names.iter_mut().map(|u| us(u)).collect();
        let size = 1u64;
        // SAFETY: `h` is an open log; `size` and the names (backed by `names`) are valid.
        let s = unsafe { ClfsAddLogContainerSet(h, 64, &size, list.as_ptr()) };
        assert_eq!(s, 0, "set {set}");
    }
    // SAFETY: `h` is an open log object.
    assert_eq!(unsafe { ClfsCloseLogFileObject(h) }, 0);
    let blf = sb.root().join("ext.blf");
    assert!(std::fs::metadata(&blf).unwrap().len() > 0x10000);
    let o = dump(&["--verify"], &blf);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}
