//! Build script of the broken drivers: for a Windows target, `cfg(driver_image)` and the link
//! arguments of a native kernel-mode image for every linked target (each example is one
//! image; the library is an rlib and is not linked).

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(driver_image)");
    println!("cargo::rerun-if-changed=build.rs");
    if !env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows") {
        return;
    }
    println!("cargo::rustc-cfg=driver_image");
    for arg in [
        "/DRIVER",
        "/SUBSYSTEM:NATIVE",
        "/ENTRY:DriverEntry",
        "/NODEFAULTLIB",
        "/DYNAMICBASE",
        "/NXCOMPAT",
        "/OPT:REF",
        "/OPT:ICF",
    ] {
        println!("cargo::rustc-link-arg={arg}");
    }
}
