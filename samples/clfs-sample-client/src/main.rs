//! `clfs-sample-client`: the user-mode client of the sample driver's device interface.
//!
//! ```text
//! clfs-sample-client append TEXT [--force]     append one record (--force: flush it too)
//! clfs-sample-client flush                     flush the log
//! clfs-sample-client read [LSN|base] [forward|previous|undo]
//!                                              print records from LSN (default: the base)
//! clfs-sample-client query                     print the log's LSNs and space
//! clfs-sample-client selftest                  the driver's functional test (HLK style)
//! ```
//!
//! It opens `\\.\ClfsSample` (administrators only) and speaks the protocol of
//! `clfs-sample-proto` (`docs/ioctl.md`). It runs only on Windows; for a Windows target it is
//! built as a `no_std` console program without the C runtime (see build.rs), so that
//! `cargo build -p clfs-sample-client --release --target x86_64-pc-windows-msvc` links on any
//! host with rust-lld. Elsewhere it only says so.
#![cfg_attr(client_image, no_std, no_main)]

#[cfg(client_image)]
mod win;

#[cfg(not(client_image))]
fn main() -> std::process::ExitCode {
    eprintln!(
        "clfs-sample-client runs on Windows only (it opens {}); build it with \
         cargo build -p clfs-sample-client --release --target x86_64-pc-windows-msvc",
        clfs_sample_proto::WIN32_PATH
    );
    std::process::ExitCode::from(2)
}
