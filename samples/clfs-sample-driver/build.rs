//! Build script of the sample driver.
//!
//! It decides whether this build is the *driver image* and, if so, how it is linked:
//!
//! * `cfg(driver_image)`: the target is Windows and the `host-tests` feature is off. The
//!   crate is then `no_std` and defines `DriverEntry`, the unload routine and (without the `wdk`
//!   feature) its own panic handler. Host builds (Linux, or `cargo test` on a Windows host,
//!   where this crate's dev-dependency on itself turns `host-tests` on) get a plain std library.
//! * With the `wdk` feature (the windows-drivers-rs `cargo make` flow on a Windows host with the
//!   WDK), `wdk_build::configure_wdk_binary_build` emits the WDK's own link settings.
//! * Otherwise, for a driver image, the link arguments of a native kernel-mode image are
//!   emitted for the **cdylib only** (`cargo:rustc-cdylib-link-arg`), so the rlib and other
//!   crates built for the same target are unaffected. The linker (rust-lld as lld-link) is set
//!   in the workspace's `.cargo/config.toml`.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(driver_image)");
    println!("cargo::rerun-if-changed=build.rs");

    let windows = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    let host_tests = env::var_os("CARGO_FEATURE_HOST_TESTS").is_some();
    let wdk = env::var_os("CARGO_FEATURE_WDK").is_some();
    if !windows || host_tests {
        return;
    }
    println!("cargo::rustc-cfg=driver_image");

    if wdk {
        configure_wdk();
        return;
    }

    for arg in [
        // A kernel-mode driver image: IMAGE_DLLCHARACTERISTICS_WDM_DRIVER, native subsystem,
        // entered through DriverEntry, with no C runtime or default libraries at all.
        "/DRIVER",
        "/SUBSYSTEM:NATIVE",
        "/ENTRY:DriverEntry",
        "/NODEFAULTLIB",
        // Drivers are loaded anywhere in the kernel address space and must not be writable
        // and executable at once; these are lld-link's defaults, stated for the reader.
        "/DYNAMICBASE",
        "/NXCOMPAT",
        // Drop unreferenced code and fold identical functions, as the WDK's release config does.
        "/OPT:REF",
        "/OPT:ICF",
        // The map file, written next to the image in `deps/` (clfs_sample_driver.map):
        // clfs-imgcheck reads it to verify the entry point and to attribute code size to
        // crates. samples/build-driver.sh copies it beside the `.sys`.
        "/MAP",
    ] {
        println!("cargo::rustc-cdylib-link-arg={arg}");
    }
}

/// The windows-drivers-rs link configuration (Windows host with the WDK only).
#[cfg(feature = "wdk")]
fn configure_wdk() {
    if let Err(e) = wdk_build::configure_wdk_binary_build() {
        println!("cargo::error=wdk-build could not configure the driver build: {e}");
    }
}

/// Never called: `wdk` is off, so this build does not use wdk-build.
#[cfg(not(feature = "wdk"))]
fn configure_wdk() {}
