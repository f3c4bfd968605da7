//! `clfs-hlk`: HLK-style tests of the sample driver image, run on the host.
//!
//! ```text
//! cargo run -p clfs-harness --bin clfs-hlk -- <clfs_sample_driver.sys> [--verbose] [--in-process] [--only NAME]
//! ```
//!
//! Every test runs in a child process of its own (this binary, re-executed with `--child`),
//! on a thread with an 8 MiB stack, in a fresh emulator `Sandbox`. A bugcheck (the driver's
//! `KeBugCheckEx`, or a CLFS call above APC_LEVEL caught by the emulator) or a crash ends only
//! that child, and the parent reports the test as failed with the `*** STOP` line. The report
//! is one `PASS <name>` or `FAIL <name>: <why>` line per test, then `N passed, M failed`; the
//! exit code is non-zero on any failure.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[path = "clfs-hlk/generic.rs"]
mod generic;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[path = "clfs-hlk/hlk.rs"]
mod hlk;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[path = "clfs-hlk/ioctl.rs"]
mod ioctl;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[path = "clfs-hlk/sample.rs"]
mod sample;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn main() -> std::process::ExitCode {
    hlk::main()
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn main() -> std::process::ExitCode {
    eprintln!("clfs-hlk runs driver images on x86-64 Linux hosts only");
    std::process::ExitCode::FAILURE
}
