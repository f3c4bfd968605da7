//! # clfs-harness
//!
//! Loads a real Windows kernel driver image (`.sys`: PE32+, x86-64, native subsystem) into a
//! Linux process and runs it: its `clfs.sys` imports are bound to the `clfs-emu` emulator of
//! Clfs.sys, its `ntoskrnl.exe` imports to the user-mode kernel routines in this crate, and
//! `DriverEntry` and the unload routine are called with a real `DRIVER_OBJECT`.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bytes = std::fs::read("clfs_sample_driver.sys")?;
//! let status = clfs_harness::run_on_driver_stack(move || -> Result<i32, clfs_harness::LoadError> {
//!     let _sandbox = clfs_emu::Sandbox::new();
//!     let mut driver = clfs_harness::Driver::load(&bytes, "ClfsSample")?;
//!     // SAFETY: our own driver under test.
//!     let status = unsafe { driver.driver_entry() };
//!     // SAFETY: as above.
//!     let _ = unsafe { driver.unload() };
//!     Ok(status)
//! });
//! # let _ = status; Ok(()) }
//! ```
//!
//! The pieces, in load order:
//! * [`pe`]: parse and validate the headers and sections, lay the image out, read its base
//!   relocations and imports, bounds-checked, never panicking ([`PeImage::parse`]).
//! * [`imports`]: bind `clfs.sys!*` and `ntoskrnl.exe!*`; refuse the image listing every
//!   import nobody implements.
//! * [`map`]: `mmap` the image, relocate it for its address, write the IAT, apply section
//!   protections ([`load_image`]).
//! * [`driver`]: the `DRIVER_OBJECT`, `DriverEntry`, the unload routine ([`Driver`]).
//! * [`iomgr`]: a small I/O manager: devices, symbolic links, file objects, IRPs sent to the
//!   image's dispatch routines from any number of threads ([`IoManager`]).
//!
//! A mapped image may read CR8 (`mov r64, cr8`, what `KeGetCurrentIrql` is on x64): the
//! resulting fault is caught and the thread's simulated IRQL is returned (`privileged.rs`).
//!
//! Only x86-64 Linux hosts can run an image (the win64 calling convention and ELF assembly);
//! elsewhere this crate is empty. See `docs/loader.md`.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod callbacks;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod clfs_thunks;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod dbgprint;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod driver;
pub mod error;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod imports;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod iomgr;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod map;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod mgmt_callbacks;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod ntos;
pub mod pe;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod privileged;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod verifier;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use driver::{run_on_driver_stack, Driver, State, UnloadError};
pub use error::LoadError;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use iomgr::{Caller, File, IoManager, IoResult, UnloadState, Violation};
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use map::{load_image, MappedImage};
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub use ntos::{fail_pool_allocation, pool_allocations, set_file_root};
pub use pe::PeImage;
