//! Low-resources simulation (Driver Verifier's "Low resources simulation" /
//! "Systematic low resources simulation"): while enabled on a thread, each pool allocation
//! (`ExAllocatePool2`, `ExAllocatePoolWithTag`) and each CLFS call that returns an NTSTATUS
//! (every `Clfs*` routine but the `ClfsLsn*` helpers and the [`RELEASES`]) fails with a given probability, from a
//! seeded generator: the same seed and the same driver give the same failures. A failed
//! allocation returns NULL, a failed CLFS call `STATUS_INSUFFICIENT_RESOURCES`, without
//! calling the routine.

use std::cell::RefCell;

use super::ddi::Ret;

/// `STATUS_INSUFFICIENT_RESOURCES`.
pub const STATUS_INSUFFICIENT_RESOURCES: i32 = 0xC000_009A_u32 as i32;

#[derive(Default)]
struct Lowres {
    /// Failure probability in percent (0 = off).
    percent: u32,
    /// xorshift64* state.
    state: u64,
    /// The failures injected so far: routine names, in order.
    injected: Vec<&'static str>,
    /// Calls that could have been failed.
    candidates: u64,
    /// At most this many failures (`None`: no limit).
    limit: Option<usize>,
}

thread_local! {
    static LOWRES: RefCell<Lowres> = RefCell::new(Lowres::default());
}

/// Fails `percent`% of this thread's pool allocations and CLFS calls from now on, drawn from
/// a generator seeded with `seed`. `percent == 0` turns it off.
pub fn enable(seed: u64, percent: u32) {
    LOWRES.with(|l| {
        *l.borrow_mut() = Lowres {
            percent: percent.min(100),
            state: seed ^ 0x9E37_79B9_7F4A_7C15 | 1,
            injected: Vec::new(),
            candidates: 0,
            limit: None,
        }
    });
}

/// Injects at most `n` more failures on this thread (after [`enable`]).
pub fn limit(n: usize) {
    LOWRES.with(|l| {
        let mut l = l.borrow_mut();
        l.limit = Some(l.injected.len() + n);
    });
}

/// Turns the simulation off on this thread; returns the routines it failed, in order, and
/// the number of calls that were candidates.
pub fn disable() -> (Vec<&'static str>, u64) {
    LOWRES.with(|l| {
        let l = std::mem::take(&mut *l.borrow_mut());
        (l.injected, l.candidates)
    })
}

/// The CLFS routines that release something: never failed. In the kernel they do not
/// depend on resources, and a release that fails without releasing leaks by construction,
/// whatever the driver does.
pub const RELEASES: [&str; 3] = [
    "ClfsCloseLogFileObject",
    "ClfsDeleteMarshallingArea",
    "ClfsTerminateReadLog",
];

/// The value a failed call of `name` returns, if it is one the simulation fails.
fn failure(name: &str) -> Option<u64> {
    match name {
        "ExAllocatePool2" | "ExAllocatePoolWithTag" => Some(0),
        _ if RELEASES.contains(&name) => None,
        _ if name.starts_with("Clfs") && !name.starts_with("ClfsLsn") => {
            match super::ddi::routine("clfs.sys", name).map(|r| r.ret) {
                Some(Ret::Status) => Some(u64::from(STATUS_INSUFFICIENT_RESOURCES as u32)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Decides whether this call of `name` fails; `Some(return value)` if it does.
pub(crate) fn inject(name: &'static str) -> Option<u64> {
    LOWRES.with(|l| {
        let mut l = l.try_borrow_mut().ok()?;
        if l.percent == 0 {
            return None;
        }
        let value = failure(name)?;
        l.candidates += 1;
        if l.limit.is_some_and(|n| l.injected.len() >= n) {
            return None;
        }
        l.state ^= l.state >> 12;
        l.state ^= l.state << 25;
        l.state ^= l.state >> 27;
        let roll = l.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        if roll % 100 < u64::from(l.percent) {
            l.injected.push(name);
            Some(value)
        } else {
            None
        }
    })
}
