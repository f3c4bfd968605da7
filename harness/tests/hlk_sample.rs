//! Builds the sample driver image and runs `clfs-hlk` on it: the same run CI makes.
//!
//! The image is built with `cargo build -p clfs-sample-driver --release --target
//! x86_64-pc-windows-msvc` into this test's scratch target directory (incremental, so a rerun
//! is quick). Set `CLFS_SAMPLE_SYS=<path>` to test a prebuilt image instead. Without the
//! Windows target installed (`rustup target add x86_64-pc-windows-msvc`) the test prints why
//! and passes without running.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "x86_64-pc-windows-msvc";

fn build_sample() -> Result<PathBuf, String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is not available ({e})"))?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Err(format!(
            "the {TARGET} target is not installed (rustup target add {TARGET})"
        ));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sample-driver");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&workspace)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "-p",
            "clfs-sample-driver",
            "--release",
            "--target",
            TARGET,
        ])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    assert!(
        out.status.success(),
        "building the sample driver failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = target_dir.join(TARGET).join("release");
    let sys = dir.join("clfs_sample_driver.sys");
    std::fs::copy(dir.join("clfs_sample_driver.dll"), &sys).unwrap();
    Ok(sys)
}

#[test]
fn the_sample_driver_passes_the_hlk_tests() {
    let image = match std::env::var_os("CLFS_SAMPLE_SYS") {
        Some(p) => PathBuf::from(p),
        None => match build_sample() {
            Ok(p) => p,
            Err(why) => {
                eprintln!("SKIPPED the_sample_driver_passes_the_hlk_tests: {why}");
                return;
            }
        },
    };
    for (args, want) in [
        (&[][..], "14 passed, 0 failed"),
        (&["--generic"][..], "6 passed, 0 failed"),
        // The generic device tests through the harness's I/O manager.
        (
            &[
                "--generic",
                "--service",
                "ClfsSample",
                "--device",
                "ClfsSample",
                "--ioctl",
                "0x0022A000",
                "--ioctl",
                "0x00226008",
            ][..],
            "8 passed, 0 failed",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_clfs-hlk"))
            .arg(&image)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{stdout}{stderr}");
        assert_eq!(stdout.lines().last(), Some(want), "{args:?}: {stdout}");
        assert!(out.status.success());
    }
}
