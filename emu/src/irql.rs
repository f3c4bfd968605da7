//! The simulated IRQL (per thread) and the bugcheck.

use std::cell::Cell;

/// `PASSIVE_LEVEL` (0).
pub const PASSIVE_LEVEL: u8 = 0;
/// `APC_LEVEL` (1).
pub const APC_LEVEL: u8 = 1;
/// `DISPATCH_LEVEL` (2).
pub const DISPATCH_LEVEL: u8 = 2;

thread_local! {
    static IRQL: Cell<u8> = const { Cell::new(PASSIVE_LEVEL) };
}

/// The current thread's simulated IRQL (starts at `PASSIVE_LEVEL`).
#[inline]
pub fn current_irql() -> u8 {
    IRQL.with(Cell::get)
}

/// Sets the current thread's simulated IRQL and returns the previous one.
pub fn set_irql(level: u8) -> u8 {
    IRQL.with(|c| c.replace(level))
}

/// Raises (or sets) the simulated IRQL until the guard is dropped.
pub fn raise_irql(level: u8) -> IrqlGuard {
    IrqlGuard {
        previous: set_irql(level),
    }
}

/// Restores the previous simulated IRQL on drop (see [`raise_irql`]).
#[must_use = "the IRQL is restored when the guard is dropped"]
#[derive(Debug)]
pub struct IrqlGuard {
    previous: u8,
}

impl Drop for IrqlGuard {
    fn drop(&mut self) {
        set_irql(self.previous);
    }
}

/// The name of an IRQL value, for messages.
pub(crate) fn irql_name(level: u8) -> &'static str {
    match level {
        0 => "PASSIVE_LEVEL",
        1 => "APC_LEVEL",
        2 => "DISPATCH_LEVEL",
        _ => "DIRQL/HIGH_LEVEL",
    }
}

/// Simulates a bugcheck: prints a `*** STOP` line with the code, its name, the four
/// parameters and `why` to stderr, then aborts the process.
pub fn bugcheck(code: u32, p1: usize, p2: usize, p3: usize, p4: usize, why: &str) -> ! {
    let name = match code {
        0x0A => "IRQL_NOT_LESS_OR_EQUAL",
        0xC2 => "BAD_POOL_CALLER",
        0x19 => "BAD_POOL_HEADER",
        _ => "BUGCHECK",
    };
    eprintln!("*** STOP: 0x{code:08X} ({name}) {why} [0x{p1:X}, 0x{p2:X}, 0x{p3:X}, 0x{p4:X}]");
    std::process::abort()
}

/// Bugchecks when a CLFS routine runs above APC_LEVEL (a load and a compare on every call;
/// the bugcheck is out of line).
#[inline]
pub(crate) fn check_clfs_irql(routine: &str) {
    let l = current_irql();
    if l > APC_LEVEL {
        irql_bugcheck(routine, l);
    }
}

#[cold]
#[inline(never)]
fn irql_bugcheck(routine: &str, l: u8) -> ! {
    bugcheck(
        0x0A,
        0,
        usize::from(l),
        0,
        0,
        &format!(
            "{routine} called at IRQL {l} ({}); CLFS routines require IRQL <= APC_LEVEL",
            irql_name(l)
        ),
    )
}
