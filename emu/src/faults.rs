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
    lengths: HashMap<(&'static str, &'static str), Vec<(u64, u32)>>,
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

    /// Advances the override countdowns of `output` of `routine`; returns the value to report
    /// now.
    pub fn take_length(&mut self, routine: &'static str, output: &'static str) -> Option<u32> {
        let list = self.lengths.get_mut(&(routine, output))?;
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

/// The outputs [`override_output`] can change: (routine, output, largest value the output's
/// type holds; 0 for a pointer, which can only be made NULL, or an LSN, which can only be
/// made `CLFS_LSN_INVALID`). The first output of each routine is the one [`override_length`]
/// changes.
const OUTPUTS: &[(&str, &str, u32)] = &[
    ("ClfsReadLogRecord", "pcbBuffer", u32::MAX),
    ("ClfsReadNextLogRecord", "pcbBuffer", u32::MAX),
    ("ClfsReadRestartArea", "pcbRestartBuffer", u32::MAX),
    ("ClfsReadPreviousRestartArea", "pcbRestartBuffer", u32::MAX),
    ("ClfsQueryLogFileInformation", "pcbInfoBuffer", u32::MAX),
    ("ClfsGetContainerName", "Length", u16::MAX as u32),
    ("ClfsGetContainerName", "pcActualLenContainerName", u32::MAX),
    ("ClfsGetIoStatistics", "pcbStatsWritten", u32::MAX),
    ("ClfsGetIoStatistics", "cbLength", u16::MAX as u32),
    ("ClfsGetIoStatistics", "coffData", u32::MAX),
    ("ClfsMgmtQueryPolicy", "PolicyLength", u32::MAX),
    ("ClfsMgmtQueryPolicy", "PolicyType", u32::MAX),
    (
        "ClfsMgmtQueryPolicy",
        "PrefixLengthInBytes",
        u16::MAX as u32,
    ),
    (
        "ClfsMgmtQueryPolicy",
        "ExtensionLengthInBytes",
        u16::MAX as u32,
    ),
    ("ClfsReserveAndAppendLog", "rgcbReservation", u32::MAX),
    ("ClfsScanLogContainers", "cContainersReturned", u32::MAX),
    ("ClfsScanLogContainers", "cContainers", u32::MAX),
    ("ClfsScanLogContainers", "pinfoContainer", 0),
    ("ClfsScanLogContainers", "cIndex", u32::MAX),
    // Pointers and LSNs that can only be made NULL / CLFS_LSN_INVALID (value 0), after the
    // routines' length outputs above (the first output of a routine is its main length).
    ("ClfsReadLogRecord", "ppvReadBuffer", 0),
    ("ClfsReadNextLogRecord", "ppvBuffer", 0),
    ("ClfsReadRestartArea", "ppvRestartBuffer", 0),
    ("ClfsReadRestartArea", "plsn", 0),
    ("ClfsReadPreviousRestartArea", "ppvRestartBuffer", 0),
];

/// The `nth` successful call from now (1 = the next one) of `routine` in the current sandbox
/// reports `len` in its length out-parameter instead of the real length; everything else it
/// returns is real. For testing how a caller treats a length the buffer cannot hold (a
/// hostile or corrupt Clfs.sys). Routines: `ClfsReadLogRecord`, `ClfsReadNextLogRecord`
/// (`*pcbBuffer`), `ClfsReadRestartArea`, `ClfsReadPreviousRestartArea` (`*pcbRestartBuffer`),
/// `ClfsQueryLogFileInformation` (`*pcbInfoBuffer`, every information class),
/// `ClfsGetContainerName` (`puszContainerName->Length`), `ClfsGetIoStatistics`
/// (`*pcbStatsWritten`), `ClfsMgmtQueryPolicy` (`*PolicyLength`). The same as
/// [`override_output`] with that output's name.
///
/// # Panics
/// For a routine not in that list, or a `len` the output's type cannot hold (`Length` is a
/// `USHORT`): a hook that would never fire is a mistake in the test.
pub fn override_length(routine: &'static str, nth: u64, len: u32) {
    // A scan returns a count and a pointer, a reservation sizes, no length of a buffer:
    // override_output names them.
    let output = OUTPUTS
        .iter()
        .find(|(r, _, _)| {
            *r == routine && !matches!(*r, "ClfsScanLogContainers" | "ClfsReserveAndAppendLog")
        })
        .map(|&(_, output, _)| output);
    assert!(
        output.is_some(),
        "faults::override_length: {routine} has no length output the emulator can override"
    );
    if let Some(output) = output {
        override_output(routine, output, nth, len);
    }
}

/// The `nth` call from now (1 = the next one) of `routine` in the current sandbox that writes
/// its output `output` (a success, or a warning that still fills its outputs, such as
/// `ClfsGetContainerName`'s `STATUS_BUFFER_OVERFLOW`) writes `value` there instead; every
/// other output of the call is real. Each output counts its own calls. The outputs, by the
/// names the headers give them:
///
/// | routine | `output` | what it is |
/// | --- | --- | --- |
/// | `ClfsReadLogRecord`, `ClfsReadNextLogRecord` | `"pcbBuffer"` | bytes of the record |
/// | `ClfsReadRestartArea`, `ClfsReadPreviousRestartArea` | `"pcbRestartBuffer"` | bytes of the restart area |
/// | `ClfsQueryLogFileInformation` | `"pcbInfoBuffer"` | bytes of the information, every class (0 to 5) |
/// | `ClfsGetContainerName` | `"Length"` | bytes of the name (`puszContainerName->Length`, a `USHORT`) |
/// | `ClfsGetContainerName` | `"pcActualLenContainerName"` | the full name's length in characters (skipped when the pointer is NULL) |
/// | `ClfsGetIoStatistics` | `"pcbStatsWritten"` | bytes written (skipped when the pointer is NULL) |
/// | `ClfsGetIoStatistics` | `"cbLength"` | the header's length of the statistics (a `USHORT`) |
/// | `ClfsGetIoStatistics` | `"coffData"` | the header's offset of the counters |
/// | `ClfsMgmtQueryPolicy` | `"PolicyLength"` | bytes of the policy (`*PolicyLength`) |
/// | `ClfsMgmtQueryPolicy` | `"PolicyType"` | the returned policy's `PolicyType` |
/// | `ClfsMgmtQueryPolicy` | `"PrefixLengthInBytes"`, `"ExtensionLengthInBytes"` | the string length of a `NewContainerPrefix` / `NewContainerExtension` policy (a `USHORT`; only queries of that type count) |
/// | `ClfsReserveAndAppendLog` | `"rgcbReservation"` | the first size a reservation returns (the space reserved for its first record); only calls that reserve count, not frees or appends |
/// | `ClfsScanLogContainers` | `"cContainersReturned"` | entries filled in the context's array (only a call that returns containers counts; `CLFS_SCAN_CLOSE` and the end of the scan do not) |
/// | `ClfsScanLogContainers` | `"cContainers"` | the context's array size, as the context says after the call (the emulator never reads it back) |
/// | `ClfsReadLogRecord` | `"ppvReadBuffer"` | the record's buffer: only `0` (NULL); the length stays real |
/// | `ClfsReadNextLogRecord` | `"ppvBuffer"` | the same |
/// | `ClfsReadRestartArea`, `ClfsReadPreviousRestartArea` | `"ppvRestartBuffer"` | the same, for the restart area |
/// | `ClfsReadRestartArea` | `"plsn"` | the restart record's LSN: only `0`, which writes `CLFS_LSN_INVALID` |
/// | `ClfsScanLogContainers` | `"pinfoContainer"` | the context's array: only `0` (NULL) is accepted; the emulator keeps the real array and frees it at `CLFS_SCAN_CLOSE`, and writes it back at the next call that returns containers |
/// | `ClfsScanLogContainers` | `"cIndex"` | the cursor (the container returned last) after a call that returns containers: the emulator's own cursor moves there too, so the next call continues from it (a scan that goes back over containers it already returned and, armed on every call, never ends) |
///
/// For testing how a caller treats lengths, counts and offsets that contradict each other or
/// the buffer they describe (a hostile or corrupt Clfs.sys).
///
/// ```
/// use clfs_emu::{faults, Sandbox};
/// let _sandbox = Sandbox::new();
/// // The next call of ClfsGetIoStatistics says the counters start at byte 20.
/// faults::override_output("ClfsGetIoStatistics", "coffData", 1, 20);
/// // The second scan step that returns containers says it returned 3.
/// faults::override_output("ClfsScanLogContainers", "cContainersReturned", 2, 3);
/// ```
///
/// # Panics
/// For a (`routine`, `output`) pair not in the table, or a `value` the output's type cannot
/// hold: a hook that would never fire, or fire with a different value, is a mistake in the
/// test.
pub fn override_output(routine: &'static str, output: &'static str, nth: u64, value: u32) {
    let problem = match OUTPUTS
        .iter()
        .find(|(r, o, _)| *r == routine && *o == output)
    {
        None => Some(format!(
            "{routine} has no length output {output:?} the emulator can override"
        )),
        Some(&(_, _, 0)) if value != 0 => Some(format!(
            "{routine}'s {output} is a pointer or an LSN: the emulator can only make it NULL or CLFS_LSN_INVALID (0), not {value}"
        )),
        Some(&(_, _, max)) if value > max => Some(format!(
            "{value} does not fit {routine}'s {output} (at most {max})"
        )),
        Some(_) => None,
    };
    assert!(
        problem.is_none(),
        "faults::override_output: {}",
        problem.as_deref().unwrap_or_default()
    );
    if let Some(s) = reg().sb(current_sandbox()) {
        s.hot
            .faults_armed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        s.faults
            .lengths
            .entry((routine, output))
            .or_default()
            .push((nth.max(1), value));
    }
}

/// The value `routine` must write to its length output `output` now instead of the real
/// one, if an override fires.
pub(crate) fn output_override(routine: &'static str, output: &'static str) -> Option<u32> {
    if !crate::state::faults_maybe_armed() {
        return None;
    }
    reg()
        .sb(current_sandbox())?
        .faults
        .take_length(routine, output)
}

/// [`output_override`] for the routine's main length output (the one [`override_length`]
/// changes).
pub(crate) fn length_override(routine: &'static str) -> Option<u32> {
    let &(_, output, _) = OUTPUTS.iter().find(|(r, _, _)| *r == routine)?;
    output_override(routine, output)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "ClfsFlushToLsn has no length output the emulator can override")]
    fn a_routine_without_a_length_output_is_refused() {
        override_length("ClfsFlushToLsn", 1, 8);
    }

    #[test]
    #[should_panic(
        expected = "ClfsScanLogContainers has no length output the emulator can override"
    )]
    fn a_scan_has_no_length_output() {
        override_length("ClfsScanLogContainers", 1, 8);
    }

    #[test]
    #[should_panic(
        expected = "ClfsGetIoStatistics has no length output \"cbLen\" the emulator can override"
    )]
    fn an_unknown_output_is_refused() {
        override_output("ClfsGetIoStatistics", "cbLen", 1, 8);
    }

    #[test]
    #[should_panic(expected = "65536 does not fit ClfsGetContainerName's Length (at most 65535)")]
    fn a_value_wider_than_the_output_is_refused() {
        override_output("ClfsGetContainerName", "Length", 1, 65_536);
    }

    #[test]
    #[should_panic(
        expected = "ClfsScanLogContainers's pinfoContainer is a pointer or an LSN: the emulator can only make it NULL or CLFS_LSN_INVALID (0), not 8"
    )]
    fn a_pointer_can_only_be_made_null() {
        override_output("ClfsScanLogContainers", "pinfoContainer", 1, 8);
    }

    #[test]
    fn each_output_counts_its_own_calls() {
        let mut f = FaultState::default();
        f.lengths
            .entry(("ClfsGetIoStatistics", "cbLength"))
            .or_default()
            .push((2, 64));
        f.lengths
            .entry(("ClfsGetIoStatistics", "coffData"))
            .or_default()
            .push((1, 20));
        assert_eq!(f.take_length("ClfsGetIoStatistics", "coffData"), Some(20));
        assert_eq!(f.take_length("ClfsGetIoStatistics", "cbLength"), None);
        assert_eq!(f.take_length("ClfsGetIoStatistics", "coffData"), None);
        assert_eq!(f.take_length("ClfsGetIoStatistics", "cbLength"), Some(64));
        assert_eq!(f.take_length("ClfsGetIoStatistics", "cbLength"), None);
    }
}
