//! # clfs-sample-driver
//!
//! A sample WDM driver that keeps a CLFS log with the [`clfs`] crate.
//!
//! * On load (`DriverEntry`) it opens or creates `%SystemRoot%\Logs\ClfsSample\sample.blf`,
//!   makes sure the log has its two 512 KiB containers, creates a marshalling area whose log
//!   I/O blocks come from tagged pool (`Smpl`) and appends a start-up record.
//! * On unload it flushes, writes a restart area and tears down: the marshalling area, then
//!   the log.
//!
//! * While loaded it serves the control device `\Device\ClfsSample` (link `\??\ClfsSample`,
//!   SYSTEM and Administrators only): IOCTLs to append, flush, read and query, defined in
//!   `clfs-sample-proto` (see `docs/ioctl.md`).
//!
//! The log logic lives in [`logic`] and the IOCTL logic in [`service`], which host tests run
//! against the `clfs-emu` emulator.
//! The driver plumbing (`DriverEntry`, the unload routine, the panic handler) is compiled only
//! for the driver image: a Windows target without the `host-tests` feature (`cfg(driver_image)`,
//! set by build.rs), outside `cfg(test)`. Everywhere else this is an ordinary std library.
//!
//! Build the image with `samples/build-driver.sh` (any host) or `cargo make` in this directory
//! (Windows with the WDK); see docs/kernel-build.md.
#![cfg_attr(all(driver_image, not(test)), no_std)]

pub mod logic;
pub mod service;

#[cfg(all(driver_image, not(test)))]
mod driver;

#[cfg(all(driver_image, not(test), feature = "stack-probe"))]
pub mod stack_probe;
