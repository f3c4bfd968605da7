//! Backend selection: emits `cfg(clfs_kernel)` when the crate is built **for a kernel driver
//! image**, which is exactly: the `kernel` feature is on, the target OS is Windows, and the
//! `emulator` feature is off. Only then do the routines that may only run in kernel mode (the
//! inline CR8 read of `KeGetCurrentIrql` on x64) exist. The combinations that make no sense are
//! refused with `compile_error!` in `src/lib.rs` (see docs/kernel-build.md, "Backends").
fn main() {
    println!("cargo::rustc-check-cfg=cfg(clfs_kernel)");
    println!("cargo::rerun-if-changed=build.rs");
    let windows = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    let kernel = std::env::var_os("CARGO_FEATURE_KERNEL").is_some();
    let emulator = std::env::var_os("CARGO_FEATURE_EMULATOR").is_some();
    if kernel && windows && !emulator {
        println!("cargo::rustc-cfg=clfs_kernel");
    }
}
