//! Log information beyond `CLFS_INFORMATION`: the other classes of
//! `ClfsQueryLogFileInformation`, `ClfsSetLogFileInformation` and `ClfsGetIoStatistics`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use crate::log;
use crate::state::{emu, root_of};
use crate::status::*;
use crate::types::NTSTATUS;

/// `ClfsLogPhysicalNameInformation`.
pub(crate) const CLASS_PHYSICAL_NAME: i32 = 2;
/// `ClfsLogStreamIdentifierInformation`.
pub(crate) const CLASS_STREAM_ID: i32 = 3;
/// `ClfsLogSystemMarkingInformation`.
pub(crate) const CLASS_SYSTEM_MARKING: i32 = 4;
/// `ClfsLogPhysicalLsnInformation`.
pub(crate) const CLASS_PHYSICAL_LSN: i32 = 5;

/// I/O counters of one physical log (by base file path): flushes and bytes of container
/// blocks, and of base-file (metadata) writes. They last for the process, like Clfs.sys's
/// last until reboot.
#[derive(Clone, Copy, Default)]
pub(crate) struct IoCounts {
    pub flushes: u64,
    pub bytes: u64,
    pub meta_flushes: u64,
    pub meta_bytes: u64,
}

static IO: LazyLock<Mutex<HashMap<PathBuf, IoCounts>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Counts one flush of `bytes` (a metadata flush if `meta`).
pub(crate) fn count_flush(base: &Path, bytes: u64, meta: bool) {
    let mut t = IO.lock().unwrap_or_else(|e| e.into_inner());
    let c = t.entry(base.to_path_buf()).or_default();
    if meta {
        c.meta_flushes += 1;
        c.meta_bytes += bytes;
    } else {
        c.flushes += 1;
        c.bytes += bytes;
    }
}

/// Forgets the counters of every log under `root` (a sandbox whose directory is removed):
/// without this the table would grow by one entry per sandbox for the life of the process.
pub(crate) fn forget_under(root: &Path) {
    let mut t = IO.lock().unwrap_or_else(|e| e.into_inner());
    t.retain(|p, _| !p.starts_with(root));
}

/// The counters of the log behind object `h`.
pub(crate) fn io_counts(h: usize) -> Result<IoCounts, NTSTATUS> {
    let emu = emu();
    let obj = log::object(&emu, h)?;
    let log = emu.logs.get(&obj.log).ok_or(STATUS_INVALID_HANDLE)?;
    let t = IO.lock().unwrap_or_else(|e| e.into_inner());
    Ok(t.get(&log.base_path).copied().unwrap_or_default())
}

/// The physical name of the log behind `h`: the base log file in the caller's namespace
/// (`C:\dir\name.blf`).
pub(crate) fn physical_name(h: usize) -> Result<Vec<u16>, NTSTATUS> {
    let emu = emu();
    let obj = log::object(&emu, h)?;
    let root = root_of(obj.sandbox).ok_or(STATUS_INVALID_HANDLE)?;
    let log = emu.logs.get(&obj.log).ok_or(STATUS_INVALID_HANDLE)?;
    Ok(crate::scan::client_path(&root, &log.base_path))
}

/// The LSN bounds of the log behind `h`: `(base, last)`.
pub(crate) fn lsn_bounds(h: usize) -> Result<(u64, u64), NTSTATUS> {
    let info = log::query(h, false)?;
    Ok((info.BaseLsn.Internal, info.LastLsn.Internal))
}

/// The stream identifier of the object `h` (0 for a dedicated log and for the physical log of a
/// multiplexed one).
pub(crate) fn stream_id(h: usize) -> Result<u8, NTSTATUS> {
    let emu = emu();
    Ok(log::object(&emu, h)?.stream)
}
