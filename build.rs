//! Target detection only: emits `cfg(clfs_kernel)` when the crate is built for a Windows
//! target without the emulator, i.e. for linking into a kernel driver.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(clfs_kernel)");
    println!("cargo::rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let emulator = std::env::var_os("CARGO_FEATURE_EMULATOR").is_some();
    if os == "windows" && !emulator {
        println!("cargo::rustc-cfg=clfs_kernel");
    }
}
