//! # clfs-broken-drivers
//!
//! Deliberately broken driver images, one per example, to prove that the loader's
//! verifier checks bite (`clfs-hlk --generic` must stop each, naming the defect; see
//! `samples/broken/check.sh`):
//!
//! | image | defect | caught by |
//! | --- | --- | --- |
//! | `broken_overrun` | writes one byte past a 64-byte pool block | special pool: `0xD6` |
//! | `broken_use_after_free` | reads a pool block after freeing it | special pool: `0xD5` |
//! | `broken_leak` | never frees a tagged block | pool tracking at unload: `0xC4`/`0x62` |
//! | `broken_clfs_at_dispatch` | calls `ClfsFlushBuffers` holding a spin lock | IRQL: `0xC4`/`0x2000` |
//! | `broken_double_free` | frees a block twice | `0xC2`/`0x07` |
//! | `broken_error_path_leak` | leaks its first block when the second allocation fails | fault sweep + pool tracking: `0xC4`/`0x62` |
//! | `broken_stack_overflow` | a 32 KiB local buffer | kernel stack: `0x7F`/`8` |
//! | `broken_irql_not_restored` | `DriverEntry` returns still holding a spin lock (at DISPATCH_LEVEL) | IRQL on return: `0xC8` |
//! | `broken_pending_not_marked` | its IOCTL dispatch routine returns `STATUS_PENDING` without `IoMarkIrpPending` | I/O manager, `--device BrokenPending`: `0xC9`/`0x23D` |
//! | `broken_use_after_close` | its unload routine queries its log after closing it | CLFS objects after release: `0xCC` |
//! | `broken_spin_lock_double_release` | releases its spin lock twice | spin lock release: `0xC4`/`0x32` |
//! | `broken_error_path_device` | leaves its device behind when opening its log fails in `DriverEntry` | fault sweep: objects after a failed `DriverEntry` (a test failure) |
//! | `broken_dispatch_irql` | its IOCTL dispatch routine returns still holding a spin lock | IRQL on return, `--device BrokenIrql`: `0xC9`/`0x05` |
//! | `broken_completed_pending` | its IOCTL dispatch routine completes the IRP with the status `STATUS_PENDING` | I/O manager, `--device BrokenComplete`: `0xC9`/`0x06` |
//!
//! Outside a Windows target (`cfg(driver_image)` unset) the crate is empty.
#![cfg_attr(driver_image, no_std)]

#[cfg(driver_image)]
mod imp;
#[cfg(driver_image)]
pub use imp::*;
