//! Containers of a log: scans (`ClfsCreateScanContext`, `ClfsScanLogContainers`) and names
//! (`ClfsGetContainerName`).
//!
//! A scan lives in a caller-provided [`ScanContext`] (the 56-byte `CLFS_SCAN_CONTEXT`), which
//! the [`ContainerScan`] iterator borrows mutably: the context cannot move while Clfs.sys
//! holds it, and the scan is closed (`CLFS_SCAN_CLOSE`) when the iterator drops.
//!
//! ```
//! # let _sandbox = clfs_emu::Sandbox::new();
//! use clfs::{wide, ContainerState, LogFile, LogOptions, ScanContext, ScanDirection};
//! let log = LogFile::create(wide!("log:C:\\logs\\doc-scan"), LogOptions::new().create_if_missing())?;
//! log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
//! let mut cx = ScanContext::new();
//! let mut names = Vec::new();
//! for c in log.containers(&mut cx)? {
//!     let c = c?;
//!     assert_eq!(c.size(), 512 * 1024);
//!     names.push(String::from_utf16_lossy(c.name()));
//! }
//! assert_eq!(names, ["C:\\logs\\c0", "C:\\logs\\c1"]);
//! // Backward from the last container.
//! let ids: Vec<u32> = log
//!     .scan_containers(&mut cx, 1, ScanDirection::Backward)?
//!     .map(|c| c.map(|c| c.physical_id()))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(ids, [1, 0]);
//! # Ok::<(), clfs::Error>(())
//! ```

use core::marker::PhantomData;

use crate::error::{check, Error, Inconsistency, Result};
use crate::irql::require_passive_or_apc;
use crate::log::LogFile;
use crate::status::NtStatus;
use crate::sys;

/// The direction of a container scan (`CLFS_SCAN_FORWARD` / `CLFS_SCAN_BACKWARD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScanDirection {
    /// Increasing container index.
    Forward,
    /// Decreasing container index.
    Backward,
}

impl ScanDirection {
    const fn raw(self) -> u8 {
        match self {
            ScanDirection::Forward => sys::CLFS_SCAN_FORWARD,
            ScanDirection::Backward => sys::CLFS_SCAN_BACKWARD,
        }
    }

    /// The other direction.
    ///
    /// IRQL: any.
    pub const fn reversed(self) -> ScanDirection {
        match self {
            ScanDirection::Forward => ScanDirection::Backward,
            ScanDirection::Backward => ScanDirection::Forward,
        }
    }
}

/// `CLFS_CONTAINER_STATE` (reference §2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// `ClfsContainerInitializing`: not initialised yet.
    Initializing,
    /// `ClfsContainerInactive`: initialised, holds no active records.
    Inactive,
    /// `ClfsContainerActive`: holds active records.
    Active,
    /// `ClfsContainerActivePendingDelete`: marked for removal, still active.
    ActivePendingDelete,
    /// `ClfsContainerPendingArchive`: waiting to be archived.
    PendingArchive,
    /// `ClfsContainerPendingArchiveAndDelete`: marked for removal, waiting to be archived.
    PendingArchiveAndDelete,
    /// A value the header does not define.
    Other(u32),
}

impl ContainerState {
    /// The state of a raw `CLFS_CONTAINER_STATE` value.
    ///
    /// IRQL: any.
    pub const fn from_raw(raw: u32) -> ContainerState {
        match raw {
            sys::ClfsContainerInitializing => ContainerState::Initializing,
            sys::ClfsContainerInactive => ContainerState::Inactive,
            sys::ClfsContainerActive => ContainerState::Active,
            sys::ClfsContainerActivePendingDelete => ContainerState::ActivePendingDelete,
            sys::ClfsContainerPendingArchive => ContainerState::PendingArchive,
            sys::ClfsContainerPendingArchiveAndDelete => ContainerState::PendingArchiveAndDelete,
            other => ContainerState::Other(other),
        }
    }
}

/// One container, as a scan returns it: a typed view of `CLFS_CONTAINER_INFORMATION`
/// (576 bytes, copied out of the scan's array).
///
/// Two infos are equal (`PartialEq`, `Eq`, `Hash`) when every field of the structure is, the
/// file name compared as [`name`](Self::name) returns it: the characters of `FileName` past
/// its length are not part of the value.
///
/// IRQL: any level (plain data).
#[derive(Clone, Copy)]
pub struct ContainerInfo {
    raw: sys::CLFS_CONTAINER_INFORMATION,
}

impl ContainerInfo {
    /// Every field, the name as [`name`](Self::name) returns it: what `Eq` and `Hash` compare.
    #[allow(clippy::type_complexity)]
    fn key(&self) -> (&[u16], u32, u32, i64, u32, u32, u32, u32, [u64; 3]) {
        let r = &self.raw;
        (
            self.name(),
            r.FileNameLength,
            r.FileNameActualLength,
            r.ContainerSize,
            r.State,
            r.PhysicalContainerId,
            r.LogicalContainerId,
            r.FileAttributes,
            [r.CreationTime, r.LastAccessTime, r.LastWriteTime],
        )
    }
}

impl PartialEq for ContainerInfo {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ContainerInfo {}

impl core::hash::Hash for ContainerInfo {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl ContainerInfo {
    /// The container's file name as CLFS reports it (UTF-16, no terminating NUL), at most
    /// 256 characters. [`name_truncated`](Self::name_truncated) tells whether the full name
    /// was longer; [`LogFile::container_name`] returns the whole of it.
    ///
    /// IRQL: any level.
    pub fn name(&self) -> &[u16] {
        let cap = self.raw.FileName.len();
        let n = (self.raw.FileNameLength as usize).min(cap);
        let name = &self.raw.FileName[..n];
        // Be lenient about a terminating NUL counted in the length.
        let end = name.iter().position(|&c| c == 0).unwrap_or(n);
        &name[..end]
    }

    /// True if the name in [`name`](Self::name) is shorter than the container's full name.
    ///
    /// IRQL: any level.
    pub fn name_truncated(&self) -> bool {
        self.raw.FileNameActualLength as usize > self.name().len()
    }

    /// `ContainerSize` in bytes (0 if CLFS reports a negative size).
    ///
    /// IRQL: any level.
    pub fn size(&self) -> u64 {
        u64::try_from(self.raw.ContainerSize).unwrap_or(0)
    }

    /// `State`.
    ///
    /// IRQL: any level.
    pub fn state(&self) -> ContainerState {
        ContainerState::from_raw(self.raw.State)
    }

    /// `PhysicalContainerId`: fixed for the log's life.
    ///
    /// IRQL: any level.
    pub fn physical_id(&self) -> u32 {
        self.raw.PhysicalContainerId
    }

    /// `LogicalContainerId`: the id inside LSNs, which changes each time the container is
    /// recycled. `None` when CLFS reports `0xFFFFFFFF`, the emulator's value for a container
    /// that never held a record (docs/decisions.md).
    ///
    /// IRQL: any level.
    pub fn logical_id(&self) -> Option<u32> {
        match self.raw.LogicalContainerId {
            u32::MAX => None,
            id => Some(id),
        }
    }

    /// `FileAttributes`.
    ///
    /// IRQL: any level.
    pub fn attributes(&self) -> u32 {
        self.raw.FileAttributes
    }

    /// `CreationTime`, `LastAccessTime`, `LastWriteTime`: system times (100 ns since 1601).
    ///
    /// IRQL: any level.
    pub fn times(&self) -> (u64, u64, u64) {
        (
            self.raw.CreationTime,
            self.raw.LastAccessTime,
            self.raw.LastWriteTime,
        )
    }

    /// The raw `CLFS_CONTAINER_INFORMATION`.
    ///
    /// IRQL: any level.
    pub fn as_raw(&self) -> &sys::CLFS_CONTAINER_INFORMATION {
        &self.raw
    }
}

impl core::fmt::Debug for ContainerInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        struct Utf16<'a>(&'a [u16]);
        impl core::fmt::Debug for Utf16<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("\"")?;
                for c in char::decode_utf16(self.0.iter().copied()) {
                    write!(f, "{}", c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
                }
                f.write_str("\"")
            }
        }
        f.debug_struct("ContainerInfo")
            .field("name", &Utf16(self.name()))
            .field("size", &self.size())
            .field("state", &self.state())
            .field("physical_id", &self.physical_id())
            .field("logical_id", &self.logical_id())
            .finish()
    }
}

/// Storage for one container scan: the 56-byte `CLFS_SCAN_CONTEXT` (reference §2.10).
///
/// A [`ContainerScan`] borrows it mutably for the whole scan, so it stays at one address
/// while Clfs.sys uses it. It can be reused for another scan once the previous one is
/// dropped. Keep it off hot stack frames if you like: it is 56 bytes.
pub struct ScanContext {
    raw: sys::CLFS_SCAN_CONTEXT,
}

impl ScanContext {
    /// An unused context (all zero).
    ///
    /// IRQL: any level.
    pub const fn new() -> ScanContext {
        ScanContext {
            // SAFETY: CLFS_SCAN_CONTEXT is plain data (integers and raw pointers); all-zero
            // is a valid value of each field.
            raw: unsafe { core::mem::zeroed() },
        }
    }
}

// SAFETY: a `ScanContext` is plain storage. Its raw pointers (the log file object, the
// caller's container array, Clfs.sys's private state) are read and written only by Clfs.sys
// during a scan, which holds `&mut ScanContext` through its `ContainerScan`, and Clfs.sys has
// no thread affinity for them; the safe API never dereferences them (`Debug` prints two
// integers). So moving the storage to another thread, or sharing `&ScanContext` (through which
// nothing can be done but `Debug`), is sound: a driver can keep one in shared device state.
unsafe impl Send for ScanContext {}
// SAFETY: see `Send` above: `&ScanContext` gives access to two integers only.
unsafe impl Sync for ScanContext {}

impl Default for ScanContext {
    fn default() -> Self {
        ScanContext::new()
    }
}

impl core::fmt::Debug for ScanContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ScanContext")
            .field("index", &self.raw.cIndex)
            .field("mode", &self.raw.eScanMode)
            .finish()
    }
}

/// An iterator over a log's containers (`ClfsScanLogContainers`, one container per call).
///
/// Created by [`LogFile::containers`] or [`LogFile::scan_containers`]. The first item is the
/// start container; later ones follow in the scan's direction, which
/// [`turn_around`](Self::turn_around) reverses from the container returned last. The
/// iterator ends at `STATUS_NO_MORE_ENTRIES`; a failure is yielded once, then it ends (a
/// success that returns no container, more containers than the context asked for,
/// containers in a NULL array, or a 1025th container in one direction (a log holds at most
/// 1024, so such a scan would never end) is such a failure: [`Error::InconsistentOutput`]).
/// Dropping it closes the scan (`CLFS_SCAN_CLOSE`); [`close`](Self::close) does the same and
/// returns the status.
///
/// # Invariants
/// While `open`, `cx` was initialised by `ClfsCreateScanContext` for `log` and not closed.
pub struct ContainerScan<'a> {
    cx: Option<&'a mut ScanContext>,
    log: PhantomData<&'a LogFile>,
    direction: ScanDirection,
    done: bool,
    /// Containers returned since the scan started or last turned around.
    run: u32,
}

/// The most containers a log holds (reference §5: `MAX_CONTAINERS_DEFAULT`; the DDI's "at
/// most 1,024"), so the most one direction of a scan can return before
/// `STATUS_NO_MORE_ENTRIES`. A scan that goes on past it would never end.
const MAX_CONTAINERS_PER_LOG: u32 = 1024;

const SCAN: &str = "ClfsScanLogContainers";
/// `cContainers` of every scan context the library creates: one container per call. The
/// array Clfs.sys fills holds this many entries, whatever the context's `cContainers` says
/// afterwards (Clfs.sys can write the whole context).
const SCAN_BATCH: u32 = 1;

impl ContainerScan<'_> {
    /// The current direction.
    ///
    /// IRQL: any level.
    pub fn direction(&self) -> ScanDirection {
        self.direction
    }

    /// Reverses the scan: the next item is the neighbour, in the other direction, of the
    /// container returned last (so turning around after the end goes back over the
    /// containers already seen).
    ///
    /// IRQL: any level (no call).
    pub fn turn_around(&mut self) {
        self.direction = self.direction.reversed();
        self.done = self.cx.is_none();
        self.run = 0;
    }

    /// `ClfsScanLogContainers(CLFS_SCAN_CLOSE)`, returning its status.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL (above it the scan is not closed and the error says
    /// so; the context's resources then leak).
    pub fn close(mut self) -> Result<()> {
        self.close_raw()
    }

    fn close_raw(&mut self) -> Result<()> {
        if self.cx.is_none() {
            return Ok(());
        }
        require_passive_or_apc(SCAN)?;
        let Some(cx) = self.cx.take() else {
            return Ok(());
        };
        // SAFETY: by the invariant the context is open; this is its only close (`cx` was
        // taken out of the option).
        let status = unsafe { sys::ClfsScanLogContainers(&mut cx.raw, sys::CLFS_SCAN_CLOSE) };
        check(SCAN, status).map(drop)
    }
}

impl Iterator for ContainerScan<'_> {
    type Item = Result<ContainerInfo>;

    /// The next container (`ClfsScanLogContainers` for one container), `None` at the end.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the step yields
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    fn next(&mut self) -> Option<Result<ContainerInfo>> {
        if self.done {
            return None;
        }
        let cx = self.cx.as_deref_mut()?;
        if let Err(e) = require_passive_or_apc(SCAN) {
            return Some(Err(e));
        }
        // SAFETY: by the invariant the context is open and stays at this address (it is
        // mutably borrowed for the scan's life).
        let status = unsafe { sys::ClfsScanLogContainers(&mut cx.raw, self.direction.raw()) };
        if NtStatus(status) == NtStatus::NO_MORE_ENTRIES {
            self.done = true;
            return None;
        }
        let status = match check(SCAN, status) {
            Ok(status) => status,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        // Bounds-check what came back before reading the array.
        let returned = cx.raw.cContainersReturned;
        let array = cx.raw.pinfoContainer;
        if let Err(detail) = check_scan_output(returned, SCAN_BATCH, array.is_null()) {
            self.done = true;
            return Some(Err(Error::InconsistentOutput {
                routine: SCAN,
                status,
                detail,
            }));
        }
        if self.run >= MAX_CONTAINERS_PER_LOG {
            // A hostile or broken Clfs.sys that never says STATUS_NO_MORE_ENTRIES would make
            // `for c in scan` loop forever at PASSIVE_LEVEL.
            self.done = true;
            return Some(Err(Error::InconsistentOutput {
                routine: SCAN,
                status,
                detail: Inconsistency::EndlessScan {
                    max: u64::from(MAX_CONTAINERS_PER_LOG),
                },
            }));
        }
        self.run += 1;
        // SAFETY: CLFS filled `cContainersReturned` (>= 1, <= SCAN_BATCH) entries of the
        // array it allocated for this context; `array` is non-null; the entry is plain data
        // and copied out before the next call.
        let raw = unsafe { array.read() };
        Some(Ok(ContainerInfo { raw }))
    }
}

/// IRQL: PASSIVE_LEVEL or APC_LEVEL. Dropped above APC_LEVEL, the scan context leaks instead of
/// bugchecking : `ClfsScanLogContainers` with `CLFS_SCAN_CLOSE` is not called there. `close()`
/// reports that refusal.
impl Drop for ContainerScan<'_> {
    fn drop(&mut self) {
        // The status is lost here; call `close()` to see it.
        let _ = self.close_raw();
    }
}

impl core::fmt::Debug for ContainerScan<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ContainerScan")
            .field("direction", &self.direction)
            .field("open", &self.cx.is_some())
            .field("done", &self.done)
            .finish()
    }
}

/// A container name read by [`LogFile::container_name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContainerName<'b> {
    /// The characters written into the caller's buffer (no terminating NUL).
    pub name: &'b [u16],
    /// The full length of the name in characters (`pcActualLenContainerName`).
    pub full_len: u32,
}

impl ContainerName<'_> {
    /// True if the buffer was too small and [`name`](Self::name) holds only its start
    /// (`STATUS_BUFFER_OVERFLOW`).
    ///
    /// IRQL: any level.
    pub fn is_truncated(&self) -> bool {
        (self.name.len() as u64) < u64::from(self.full_len)
    }
}

impl LogFile {
    /// Scans all containers forward from the first one (see [`LogFile::scan_containers`]).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn containers<'a>(&'a self, cx: &'a mut ScanContext) -> Result<ContainerScan<'a>> {
        self.scan_containers(cx, 0, ScanDirection::Forward)
    }

    /// `ClfsCreateScanContext`: a scan of the log's containers starting at index `from`
    /// (0-based, in the log's container order) in `direction`, one container per
    /// `ClfsScanLogContainers` call.
    ///
    /// Refused before the call: above APC_LEVEL ([`Error::IrqlTooHigh`]), and a `from` that
    /// is not below the container count ([`Error::ContainerIndexOutOfRange`], found with one
    /// `ClfsQueryLogFileInformation`). A log with no container gives an empty scan without
    /// creating a context.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn scan_containers<'a>(
        &'a self,
        cx: &'a mut ScanContext,
        from: u32,
        direction: ScanDirection,
    ) -> Result<ContainerScan<'a>> {
        const ROUTINE: &str = "ClfsCreateScanContext";
        require_passive_or_apc(ROUTINE)?;
        let containers = self.info()?.containers;
        if containers == 0 {
            return Ok(ContainerScan {
                cx: None,
                log: PhantomData,
                direction,
                done: true,
                run: 0,
            });
        }
        if from >= containers {
            return Err(Error::ContainerIndexOutOfRange {
                index: from,
                containers,
            });
        }
        // A fresh context every time: the borrow checker guarantees no earlier scan of this
        // context is still open (it would hold the borrow), so CLFS_SCAN_INIT is never needed.
        *cx = ScanContext::new();
        // SAFETY: the log object is open (type invariant); `cx.raw` is a writable 56-byte
        // CLFS_SCAN_CONTEXT that stays at this address while the returned scan borrows it.
        let status = unsafe {
            sys::ClfsCreateScanContext(
                self.as_raw(),
                from,
                SCAN_BATCH,
                direction.raw(),
                &mut cx.raw,
            )
        };
        check(ROUTINE, status)?;
        // INVARIANT: ClfsCreateScanContext succeeded on `cx` for this log.
        Ok(ContainerScan {
            cx: Some(cx),
            log: PhantomData,
            direction,
            done: false,
            run: 0,
        })
    }

    /// `ClfsGetContainerName`: the full path of the container whose *logical* id (the one
    /// inside LSNs, [`Lsn::container`](crate::Lsn::container)) is `logical_id`, written into
    /// `buf`. A buffer that is too small gives the start of the name and
    /// [`ContainerName::is_truncated`]; `full_len` says how many characters are needed.
    ///
    /// The length CLFS reports is checked against `buf` before the slice is made: a length
    /// past `buf` is [`Error::LengthOutOfRange`]; an odd byte length, an empty name, an
    /// untruncated name whose length is not `full_len`, or a `STATUS_BUFFER_OVERFLOW` whose
    /// `full_len` is no more than the characters written (nothing was cut off) is
    /// [`Error::InconsistentOutput`], which then names the warning.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn container_name<'b>(
        &self,
        logical_id: u32,
        buf: &'b mut [u16],
    ) -> Result<ContainerName<'b>> {
        const ROUTINE: &str = "ClfsGetContainerName";
        require_passive_or_apc(ROUTINE)?;
        let cap = buf.len().min(usize::from(u16::MAX / 2));
        let mut us = sys::UNICODE_STRING {
            Length: 0,
            MaximumLength: (cap * 2) as u16,
            Buffer: buf.as_mut_ptr(),
        };
        let mut full_len = 0u32;
        // SAFETY: the object is open; `us.Buffer` is writable for `MaximumLength` bytes
        // (`cap <= buf.len()` characters); `full_len` is a writable u32.
        let status =
            unsafe { sys::ClfsGetContainerName(self.as_raw(), logical_id, &mut us, &mut full_len) };
        let status = if NtStatus(status) == NtStatus::BUFFER_OVERFLOW {
            // A warning that still fills the outputs (reference §1.2): the start of the name.
            NtStatus::BUFFER_OVERFLOW
        } else {
            check(ROUTINE, status)?
        };
        let units = check_name_output(status, us.Length, cap, full_len)?;
        let name = buf.get(..units).ok_or(Error::LengthOutOfRange {
            routine: ROUTINE,
            what: "the container name",
            len: u64::from(us.Length),
            limit: (buf.len() as u64).saturating_mul(2),
        })?;
        Ok(ContainerName { name, full_len })
    }
}

/// The rules a successful `ClfsScanLogContainers` keeps: at least one entry (the end of a
/// scan is `STATUS_NO_MORE_ENTRIES`, reference §1.2), at most the `cContainers` the context was
/// created with (`capacity`; not the context's field, which Clfs.sys writes), in a non-NULL
/// array.
fn check_scan_output(returned: u32, capacity: u32, array_null: bool) -> Result<(), Inconsistency> {
    if returned == 0 {
        return Err(Inconsistency::Empty {
            what:
                "container array (cContainersReturned 0; a scan ends with STATUS_NO_MORE_ENTRIES)",
        });
    }
    if returned > capacity {
        return Err(Inconsistency::CountOverCapacity {
            what: "container",
            count: u64::from(returned),
            capacity: u64::from(capacity),
        });
    }
    if array_null {
        return Err(Inconsistency::EntriesInNullArray {
            what: "container",
            count: u64::from(returned),
        });
    }
    Ok(())
}

/// The rules a successful (or truncated: `status` is `STATUS_BUFFER_OVERFLOW`)
/// `ClfsGetContainerName` keeps: `Length` (bytes) is even and fits the `cap` characters
/// passed; without truncation it equals the full length in characters, which is not 0 (a
/// container's path is never empty); with truncation the full length is more than what was
/// written. Returns the name's length in characters.
fn check_name_output(status: NtStatus, length: u16, cap: usize, full_len: u32) -> Result<usize> {
    const ROUTINE: &str = "ClfsGetContainerName";
    let truncated = status == NtStatus::BUFFER_OVERFLOW;
    let inconsistent = |detail| Error::InconsistentOutput {
        routine: ROUTINE,
        status,
        detail,
    };
    if length % 2 != 0 {
        return Err(inconsistent(Inconsistency::OddLength {
            what: "the container name",
            len: u64::from(length),
        }));
    }
    let units = usize::from(length / 2);
    if units > cap {
        return Err(Error::LengthOutOfRange {
            routine: ROUTINE,
            what: "the container name",
            len: u64::from(length),
            limit: cap as u64 * 2,
        });
    }
    if truncated {
        if u64::from(full_len) <= units as u64 {
            return Err(inconsistent(Inconsistency::NotTruncated {
                what: "the container name in UTF-16 units (pcActualLenContainerName)",
                written: units as u64,
                full: u64::from(full_len),
            }));
        }
        return Ok(units);
    }
    if units as u64 != u64::from(full_len) {
        return Err(inconsistent(Inconsistency::Mismatch {
            what: "a container name (not truncated) whose length in UTF-16 units is not its full length (pcActualLenContainerName)",
            found: units as u64,
            expected: u64::from(full_len),
        }));
    }
    if units == 0 {
        // A container is a file: its path is never empty.
        return Err(inconsistent(Inconsistency::Empty {
            what: "container name",
        }));
    }
    Ok(units)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is a failure report
mod tests {
    use super::*;
    use std::string::ToString;

    // The same rules end to end (through the emulator's faults::override_output) are in
    // tests/inconsistent_output.rs; here the messages are checked on the values directly.

    #[test]
    fn scan_outputs_past_the_array_or_in_a_null_one_are_refused() {
        assert_eq!(check_scan_output(1, 1, false), Ok(()));
        assert_eq!(
            check_scan_output(0, 1, false).unwrap_err().to_string(),
            "an empty container array (cContainersReturned 0; a scan ends with STATUS_NO_MORE_ENTRIES)"
        );
        let e = check_scan_output(3, 1, false).unwrap_err();
        assert_eq!(
            e,
            Inconsistency::CountOverCapacity {
                what: "container",
                count: 3,
                capacity: 1
            }
        );
        let e = Error::InconsistentOutput {
            routine: SCAN,
            status: NtStatus::SUCCESS,
            detail: e,
        };
        assert_eq!(
            e.to_string(),
            "ClfsScanLogContainers reported success but returned 3 containers for a 1-entry array"
        );
        let e = check_scan_output(1, 1, true).unwrap_err();
        assert_eq!(
            e,
            Inconsistency::EntriesInNullArray {
                what: "container",
                count: 1
            }
        );
        assert_eq!(e.to_string(), "1 container in a NULL array");
    }

    #[test]
    fn container_name_lengths_are_checked() {
        const OK: NtStatus = NtStatus::SUCCESS;
        const OVERFLOW: NtStatus = NtStatus::BUFFER_OVERFLOW;
        assert_eq!(check_name_output(OK, 10, 5, 5), Ok(5));
        assert_eq!(check_name_output(OVERFLOW, 10, 5, 9), Ok(5));
        let e = check_name_output(OK, 9, 5, 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ClfsGetContainerName reported success but returned an odd length of 9 bytes for the container name, which is UTF-16 (2 bytes a unit)"
        );
        assert_eq!(
            check_name_output(OVERFLOW, 9, 5, 9).unwrap_err().to_string(),
            "ClfsGetContainerName returned STATUS_BUFFER_OVERFLOW (0x80000005) with an odd length of 9 bytes for the container name, which is UTF-16 (2 bytes a unit)"
        );
        assert_eq!(
            check_name_output(OVERFLOW, 12, 5, 9),
            Err(Error::LengthOutOfRange {
                routine: "ClfsGetContainerName",
                what: "the container name",
                len: 12,
                limit: 10
            })
        );
        let e = check_name_output(OK, 10, 5, 7).unwrap_err();
        assert_eq!(
            e,
            Error::InconsistentOutput {
                routine: "ClfsGetContainerName",
                status: OK,
                detail: Inconsistency::Mismatch {
                    what: "a container name (not truncated) whose length in UTF-16 units is not its full length (pcActualLenContainerName)",
                    found: 5,
                    expected: 7
                }
            }
        );
        assert_eq!(
            e.to_string(),
            "ClfsGetContainerName reported success but returned a container name (not truncated) whose length in UTF-16 units is not its full length (pcActualLenContainerName): 5, expected 7"
        );
        // A truncated read into an empty buffer is an empty start, not an error.
        assert_eq!(check_name_output(OVERFLOW, 0, 0, 9), Ok(0));
        // "Truncated", but the full length is no more than what was written.
        for full in [0, 4, 5] {
            let e = check_name_output(OVERFLOW, 10, 5, full).unwrap_err();
            assert_eq!(
                e,
                Error::InconsistentOutput {
                    routine: "ClfsGetContainerName",
                    status: OVERFLOW,
                    detail: Inconsistency::NotTruncated {
                        what: "the container name in UTF-16 units (pcActualLenContainerName)",
                        written: 5,
                        full: u64::from(full),
                    }
                }
            );
            assert_eq!(
                e.to_string(),
                std::format!("ClfsGetContainerName returned STATUS_BUFFER_OVERFLOW (0x80000005) with a full length of {full} for the container name in UTF-16 units (pcActualLenContainerName), no more than the 5 written: nothing was truncated")
            );
        }
    }
}
