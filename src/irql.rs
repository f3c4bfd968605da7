//! IRQL: every CLFS routine except the LSN helpers must run at IRQL <= APC_LEVEL. Above it a
//! call bugchecks the system, so the safe API checks first.

use crate::error::{Error, Result};
use crate::sys;

/// `PASSIVE_LEVEL`.
pub const PASSIVE_LEVEL: u8 = 0;
/// `APC_LEVEL`: the highest IRQL at which CLFS routines may be called.
pub const APC_LEVEL: u8 = 1;
/// `DISPATCH_LEVEL`.
pub const DISPATCH_LEVEL: u8 = 2;

/// The current IRQL (`KeGetCurrentIrql`). Any IRQL.
///
/// In a kernel build on x64 (the `kernel` feature, `cfg(clfs_kernel)`) this is one
/// `mov rax, cr8`, as wdm.h's `KeGetCurrentIrql`; with the `emulator` feature it is the
/// emulator's simulated IRQL of the calling thread. No other build can execute it: a
/// Windows target without a backend does not compile, and elsewhere without the emulator
/// `KeGetCurrentIrql` is an unresolved external (docs/kernel-build.md, "Backends").
pub fn current() -> u8 {
    // SAFETY: KeGetCurrentIrql takes no arguments and may be called at any IRQL.
    unsafe { sys::KeGetCurrentIrql() }
}

/// The conventional name of an IRQL value.
pub const fn name(irql: u8) -> &'static str {
    match irql {
        0 => "PASSIVE_LEVEL",
        1 => "APC_LEVEL",
        2 => "DISPATCH_LEVEL",
        15 => "HIGH_LEVEL",
        _ => "a device IRQL",
    }
}

/// Refuses with [`Error::IrqlTooHigh`] unless the caller runs at IRQL <= APC_LEVEL.
#[inline]
pub(crate) fn require_passive_or_apc(routine: &'static str) -> Result<()> {
    let irql = current();
    if irql <= APC_LEVEL {
        Ok(())
    } else {
        Err(Error::IrqlTooHigh { routine, irql })
    }
}
