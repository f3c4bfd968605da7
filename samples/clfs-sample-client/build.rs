//! Build script of the client: for a Windows target it is a `no_std` console program with its
//! own entry point and no C runtime, so that it links on any host with rust-lld alone (the
//! MSVC libraries — libcmt, kernel32.lib — exist only on Windows). Every Win32 routine is a
//! raw-dylib import (windows-sys); `memcpy` and friends come from ntdll.dll.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(client_image)");
    println!("cargo::rerun-if-changed=build.rs");
    let windows = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "windows");
    if !windows {
        return;
    }
    println!("cargo::rustc-cfg=client_image");
    for arg in [
        "/ENTRY:mainCRTStartup",
        "/SUBSYSTEM:CONSOLE",
        "/NODEFAULTLIB",
        "/DYNAMICBASE",
        "/NXCOMPAT",
        "/OPT:REF",
        "/OPT:ICF",
    ] {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
}
