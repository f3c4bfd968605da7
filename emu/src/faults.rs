//! Fault injection for the current thread's sandbox.
//!
//! Faults are armed per sandbox (the one current on the calling thread) and fire on calls
//! made from any thread whose current sandbox is that one (call faults) or on operations on
//! that sandbox's objects (allocation and container-write faults).

use std::collections::HashMap;

use crate::state::{current_sandbox, reg};
use crate::types::NTSTATUS;

/// Armed faults of one sandbox.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    calls: HashMap<&'static str, Vec<(u64, NTSTATUS)>>,
    lengths: HashMap<&'static str, Vec<(u64, u32)>>,
    alloc: Option<u64>,
    container_writes: bool,
    growth: bool,
}

impl FaultState {
    /// Advances the call countdowns of `routine`; returns the status to inject now, if any.
    pub fn take_call(&mut self, routine: &str) -> Option<NTSTATUS> {
        if self.calls.is_empty() {
            return None;
        }
        let list = self.calls.get_mut(routine)?;
        let mut fire = None;
        list.retain_mut(|(n, st)| {
            *n = n.saturating_sub(1);
            if *n == 0 {
                fire.get_or_insert(*st);
                false
            } else {
                true
            }
        });
        fire
    }

    /// Advances the length-override countdowns of `routine`; returns the length to report now.
    pub fn take_length(&mut self, routine: &str) -> Option<u32> {
        let list = self.lengths.get_mut(routine)?;
        let mut fire = None;
        list.retain_mut(|(n, len)| {
            *n = n.saturating_sub(1);
            if *n == 0 {
                fire.get_or_insert(*len);
                false
            } else {
                true
            }
        });
        fire
    }

    /// Advances the allocation countdown; true if this allocation must fail.
    pub fn take_alloc(&mut self) -> bool {
        match self.alloc {
            Some(n) if n <= 1 => {
                self.alloc = None;
                true
            }
            Some(n) => {
                self.alloc = Some(n - 1);
                false
            }
            None => false,
        }
    }
}

/// The `nth` call from now (1 = the next one) of `routine` in the current sandbox returns
/// `status` without doing anything (the call is still counted and IRQL-checked).
pub fn fail_call(routine: &'static str, nth: u64, status: NTSTATUS) {
    if let Some(s) = reg().sb(current_sandbox()) {
        s.hot
            .faults_armed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        s.faults
            .calls
            .entry(routine)
            .or_default()
            .push((nth.max(1), status));
    }
}

/// The `nth` successful call from now (1 = the next one) of `routine` in the current sandbox
/// reports `len` in its length out-parameter instead of the real length; everything else it
/// returns is real. For testing how a caller treats a length the buffer cannot hold (a
/// hostile or corrupt Clfs.sys). Routines: `ClfsReadLogRecord`, `ClfsReadNextLogRecord`
/// (`*pcbBuffer`), `ClfsReadRestartArea`, `ClfsReadPreviousRestartArea` (`*pcbRestartBuffer`),
/// `ClfsQueryLogFileInformation` (`*pcbInfoBuffer`).
pub fn override_length(routine: &'static str, nth: u64, len: u32) {
    if let Some(s) = reg().sb(current_sandbox()) {
        s.hot
            .faults_armed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        s.faults
            .lengths
            .entry(routine)
            .or_default()
            .push((nth.max(1), len));
    }
}

/// The length `routine` must report now instead of the real one, if an override fires.
pub(crate) fn length_override(routine: &'static str) -> Option<u32> {
    if !crate::state::faults_maybe_armed() {
        return None;
    }
    reg().sb(current_sandbox())?.faults.take_length(routine)
}

/// The `nth` log I/O block allocation from now (1 = the next one) for a marshalling area of
/// the current sandbox fails as if the allocator returned NULL: the routine returns
/// `STATUS_INSUFFICIENT_RESOURCES` and releases what it took.
pub fn fail_alloc(nth: u64) {
    if let Some(s) = reg().sb(current_sandbox()) {
        s.faults.alloc = Some(nth.max(1));
    }
}

/// While on, every flush of a log of the current sandbox fails with
/// `STATUS_LOG_CONTAINER_WRITE_FAILED` before anything is written.
pub fn fail_container_writes(on: bool) {
    if let Some(s) = reg().sb(current_sandbox()) {
        s.faults.container_writes = on;
    }
}

/// While on, every container that management would add to a log of the current sandbox
/// (`ClfsMgmtHandleLogFileFull`, auto-grow, `ClfsMgmtSetLogFileSize`) fails as if it could
/// not be created (`STATUS_LOG_CONTAINER_OPEN_FAILED`), before anything is created.
pub fn fail_growth(on: bool) {
    if let Some(s) = reg().sb(current_sandbox()) {
        s.faults.growth = on;
    }
}

pub(crate) fn growth_fails(sandbox: u64) -> bool {
    reg().sb(sandbox).is_some_and(|s| s.faults.growth)
}

/// Disarms every fault of the current sandbox.
pub fn clear() {
    if let Some(s) = reg().sb(current_sandbox()) {
        s.faults = FaultState::default();
        s.hot
            .faults_armed
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(crate) fn alloc_should_fail(sandbox: u64) -> bool {
    reg().sb(sandbox).is_some_and(|s| s.faults.take_alloc())
}

pub(crate) fn container_writes_fail(sandbox: u64) -> bool {
    reg().sb(sandbox).is_some_and(|s| s.faults.container_writes)
}
