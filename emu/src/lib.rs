//! `clfs-emu`: a user-mode emulator of the Windows kernel Common Log File System driver
//! (Clfs.sys) and of the few ntoskrnl routines the `clfs` library calls.
//!
//! The exported routines (see [`exports`]) have exactly the types of windows-sys 0.61's raw
//! declarations, so the `clfs` crate can call either side through one FFI seam. Logs are real:
//! a base file (`<name>.blf`) and preallocated container files under the current
//! [`Sandbox`]'s root directory. Every documented precondition is enforced with the status
//! code Clfs.sys documents; see `docs/emulator.md` for the decisions on undocumented points.
//!
//! Test control: [`Sandbox`] (per-thread root directory, accounts, crash simulation),
//! [`Stats`] (leak accounts), the simulated IRQL ([`set_irql`], [`raise_irql`]) and
//! [`faults`] (fault injection).

pub mod types;

pub mod client_exports;
pub mod exports;
pub mod faults;
mod info;
pub mod irql;
mod log;
mod marshal;
mod mgmt;
mod names;
mod persist;
mod pool;
mod raw;
mod read;
pub mod routines;
mod scan;
mod state;
pub mod status;
mod workers;

pub use client_exports::*;
pub use exports::*;
pub use irql::{
    bugcheck, current_irql, raise_irql, set_irql, IrqlGuard, APC_LEVEL, DISPATCH_LEVEL,
    PASSIVE_LEVEL,
};
pub use routines::CLFS_ROUTINES;
pub use state::{set_default_root, CreateCall, Entered, Outstanding, Sandbox, Stats};
pub use workers::mgmt_worker_threads;

/// The pool tag of every log I/O block the emulator allocates for a marshalling area
/// (`'Clfs'` in a debugger's tag display).
pub const EMU_BLOCK_TAG: u32 = u32::from_le_bytes(*b"Clfs");

/// `CLFS_LSN_INVALID` as the emulator defines it (reference §3.3).
pub const CLFS_LSN_INVALID: u64 = 0xFFFF_FFFF_0000_0000;
/// `CLFS_LSN_NULL` (reference §3.3).
pub const CLFS_LSN_NULL: u64 = 0;
