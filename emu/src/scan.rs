//! Container scans (`ClfsCreateScanContext`, `ClfsScanLogContainers`) and container names
//! (`ClfsGetContainerName`).
//!
//! A scan context is the caller's 56-byte `CLFS_SCAN_CONTEXT`; the emulator keys its own
//! state by the context's address and allocates the `pinfoContainer` array itself (freed by
//! `CLFS_SCAN_CLOSE`). Its state never trusts the caller's copy of the cursor.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard};

use crate::log::{self, MAX_CONTAINERS};
use crate::persist::ContainerMeta;
use crate::state::{emu, root_of, with_stats};
use crate::status::*;
use crate::types::{CLFS_NODE_ID, CLS_CONTAINER_INFORMATION, FILE_OBJECT, NTSTATUS};

/// `CLFS_SCAN_INIT`.
pub(crate) const SCAN_INIT: u8 = 0x01;
/// `CLFS_SCAN_FORWARD`.
pub(crate) const SCAN_FORWARD: u8 = 0x02;
/// `CLFS_SCAN_BACKWARD`.
pub(crate) const SCAN_BACKWARD: u8 = 0x04;
/// `CLFS_SCAN_CLOSE`.
pub(crate) const SCAN_CLOSE: u8 = 0x08;
/// `CLFS_SCAN_INITIALIZED`.
pub(crate) const SCAN_INITIALIZED: u8 = 0x10;

/// `LogicalContainerId` of a container that has never held a record (no logical id yet).
pub(crate) const NO_LOGICAL_ID: u32 = u32::MAX;

/// The `pinfoContainer` array the emulator allocated for one scan context.
struct InfoArray {
    ptr: *mut CLS_CONTAINER_INFORMATION,
    len: usize,
}

// SAFETY: the array is plain data owned by the scan table; it is only touched under the
// table's lock (and read by the caller between calls, as the DDI allows).
unsafe impl Send for InfoArray {}

impl InfoArray {
    fn new(len: usize) -> InfoArray {
        let zero = empty_info();
        let b: Box<[CLS_CONTAINER_INFORMATION]> = vec![zero; len].into_boxed_slice();
        InfoArray {
            len: b.len(),
            ptr: Box::into_raw(b).cast::<CLS_CONTAINER_INFORMATION>(),
        }
    }

    /// Writes entry `i` (< `len`).
    fn set(&mut self, i: usize, v: CLS_CONTAINER_INFORMATION) {
        if i < self.len {
            // SAFETY: `ptr` is the start of a live allocation of `len` entries; `i < len`.
            unsafe { self.ptr.wrapping_add(i).write(v) };
        }
    }
}

impl Drop for InfoArray {
    fn drop(&mut self) {
        let slice = core::ptr::slice_from_raw_parts_mut(self.ptr, self.len);
        // SAFETY: `ptr`/`len` came from `Box::into_raw` of a boxed slice of this length and
        // are freed only here.
        drop(unsafe { Box::from_raw(slice) });
    }
}

struct Scan {
    sandbox: u64,
    object: usize,
    info: InfoArray,
    /// The container index scanned most recently (`None` before the first scan: the first
    /// scan starts at `from`).
    last: Option<u32>,
    from: u32,
}

static SCANS: LazyLock<Mutex<HashMap<usize, Scan>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn scans() -> MutexGuard<'static, HashMap<usize, Scan>> {
    SCANS.lock().unwrap_or_else(|e| e.into_inner())
}

fn empty_info() -> CLS_CONTAINER_INFORMATION {
    CLS_CONTAINER_INFORMATION {
        FileAttributes: 0,
        CreationTime: 0,
        LastAccessTime: 0,
        LastWriteTime: 0,
        ContainerSize: 0,
        FileNameActualLength: 0,
        FileNameLength: 0,
        FileName: [0; 256],
        State: 0,
        PhysicalContainerId: 0,
        LogicalContainerId: 0,
    }
}

/// The container's path in the client's namespace: `X:\dir\file` for a path under a drive
/// directory of the sandbox root, `\dir\file` otherwise.
pub(crate) fn client_path(root: &Path, p: &Path) -> Vec<u16> {
    let rel = p.strip_prefix(root).unwrap_or(p);
    let mut comps = rel.components().map(|c| c.as_os_str().to_string_lossy());
    let mut s = String::new();
    if let Some(first) = comps.next() {
        if first.len() == 1 && first.as_bytes()[0].is_ascii_alphabetic() {
            s.push_str(&first);
            s.push(':');
        } else {
            s.push('\\');
            s.push_str(&first);
        }
    }
    for c in comps {
        s.push('\\');
        s.push_str(&c);
    }
    s.encode_utf16().collect()
}

/// 100 ns ticks since 1601 (a `FILETIME`), 0 if unknown.
fn filetime(t: std::io::Result<std::time::SystemTime>) -> u64 {
    const EPOCH_DIFF_S: u64 = 11_644_473_600;
    t.ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| {
            (d.as_secs() + EPOCH_DIFF_S) * 10_000_000 + u64::from(d.subsec_nanos() / 100)
        })
}

/// One `CLS_CONTAINER_INFORMATION`.
fn describe(log: &log::PhysLog, root: &Path, c: &ContainerMeta) -> CLS_CONTAINER_INFORMATION {
    let mut info = empty_info();
    let md = std::fs::metadata(&c.path);
    info.FileAttributes = 0x80; // FILE_ATTRIBUTE_NORMAL
    if let Ok(md) = &md {
        info.CreationTime = filetime(md.created().or_else(|_| md.modified()));
        info.LastAccessTime = filetime(md.accessed());
        info.LastWriteTime = filetime(md.modified());
    }
    info.ContainerSize = i64::try_from(log.meta.container_size).unwrap_or(i64::MAX);
    let name = client_path(root, &c.path);
    info.FileNameActualLength = name.len() as u32;
    // Room for a terminating NUL, as the Win32 FileName arrays are used.
    let n = name.len().min(info.FileName.len() - 1);
    info.FileName[..n].copy_from_slice(&name[..n]);
    info.FileNameLength = n as u32;
    info.State = log.container_state(c);
    info.PhysicalContainerId = c.phys;
    info.LogicalContainerId = c.logical.unwrap_or(NO_LOGICAL_ID);
    info
}

/// The number of containers of the log behind object `h`.
fn container_count(h: usize) -> Result<u32, NTSTATUS> {
    let emu = emu();
    let obj = log::object(&emu, h)?;
    let log = emu.logs.get(&obj.log).ok_or(STATUS_INVALID_HANDLE)?;
    Ok(log.meta.containers.len() as u32)
}

/// `ClfsCreateScanContext`: returns the fields to write into the caller's context.
pub(crate) fn create(
    h: usize,
    key: usize,
    from: u32,
    count: u32,
    mode: u8,
) -> Result<(*mut CLS_CONTAINER_INFORMATION, u8), NTSTATUS> {
    let n = container_count(h)?;
    let dir = mode & (SCAN_FORWARD | SCAN_BACKWARD);
    if mode & !(SCAN_INIT | SCAN_FORWARD | SCAN_BACKWARD) != 0
        || !(dir == SCAN_FORWARD || dir == SCAN_BACKWARD)
    {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if count == 0 || count as usize > MAX_CONTAINERS || from >= n {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let sandbox = crate::state::current_sandbox();
    let mut t = scans();
    let reinit = t.contains_key(&key);
    // First use: a direction and no INIT; re-initialisation: INIT plus a direction.
    if reinit != (mode & SCAN_INIT != 0) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let info = InfoArray::new(count as usize);
    let ptr = info.ptr;
    t.insert(
        key,
        Scan {
            sandbox,
            object: h,
            info,
            last: None,
            from,
        },
    );
    if !reinit {
        with_stats(sandbox, |s| s.live_scan_contexts += 1);
    }
    Ok((ptr, dir | SCAN_INITIALIZED))
}

/// What a scan call returns for the caller's context.
pub(crate) enum Scanned {
    /// `n` entries filled in `array` (the context's array); `index` is the cursor (the last
    /// container returned).
    Some {
        n: u32,
        index: u32,
        array: *mut CLS_CONTAINER_INFORMATION,
    },
    /// No container left in this direction (`STATUS_NO_MORE_ENTRIES`).
    End,
    /// The context was closed.
    Closed,
}

/// `ClfsScanLogContainers`.
pub(crate) fn scan(key: usize, mode: u8) -> Result<Scanned, NTSTATUS> {
    let mut t = scans();
    if !t.contains_key(&key) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if mode == SCAN_CLOSE {
        if let Some(s) = t.remove(&key) {
            with_stats(s.sandbox, |st| {
                st.live_scan_contexts = st.live_scan_contexts.saturating_sub(1)
            });
        }
        return Ok(Scanned::Closed);
    }
    if mode != SCAN_FORWARD && mode != SCAN_BACKWARD {
        return Err(STATUS_INVALID_PARAMETER);
    }
    let s = t.get_mut(&key).ok_or(STATUS_INVALID_PARAMETER)?;
    let emu = emu();
    let obj = log::object(&emu, s.object)?;
    let root = root_of(obj.sandbox).ok_or(STATUS_INVALID_HANDLE)?;
    let log = emu.logs.get(&obj.log).ok_or(STATUS_INVALID_HANDLE)?;
    let total = log.meta.containers.len() as i64;
    let step: i64 = if mode == SCAN_FORWARD { 1 } else { -1 };
    let mut next = match s.last {
        None => i64::from(s.from),
        Some(l) => i64::from(l) + step,
    };
    let mut n = 0u32;
    let mut last = s.last;
    while (n as usize) < s.info.len && (0..total).contains(&next) {
        let c = &log.meta.containers[next as usize];
        s.info.set(n as usize, describe(log, &root, c));
        last = Some(next as u32);
        n += 1;
        next += step;
    }
    s.last = last;
    match (n, last) {
        (0, _) | (_, None) => Ok(Scanned::End),
        (n, Some(index)) => Ok(Scanned::Some {
            n,
            index,
            array: s.info.ptr,
        }),
    }
}

/// Moves the cursor of the scan `key` to `index` (the container returned last), as if the
/// scan had just returned it: the fault hook that makes a scan go back over containers it
/// already returned ([`faults::override_output`](crate::faults::override_output),
/// `"cIndex"`).
pub(crate) fn set_cursor(key: usize, index: u32) {
    if let Some(s) = scans().get_mut(&key) {
        s.last = Some(index);
    }
}

/// `ClfsGetContainerName`: the full path of the container with logical id `cid`.
pub(crate) fn container_name(h: usize, cid: u32) -> Result<Vec<u16>, NTSTATUS> {
    let emu = emu();
    let obj = log::object(&emu, h)?;
    let root = root_of(obj.sandbox).ok_or(STATUS_INVALID_HANDLE)?;
    let log = emu.logs.get(&obj.log).ok_or(STATUS_INVALID_HANDLE)?;
    let c = log
        .meta
        .containers
        .iter()
        .find(|c| c.logical == Some(cid))
        .ok_or(STATUS_NOT_FOUND)?;
    Ok(client_path(&root, &c.path))
}

/// The `cidNode` of every context the emulator initialises (`CLFS_NODE_TYPE_SCAN_CONTEXT`
/// is undocumented; the emulator writes a size only).
pub(crate) fn node_id() -> CLFS_NODE_ID {
    CLFS_NODE_ID {
        cType: 0,
        cbNode: core::mem::size_of::<crate::types::CLFS_SCAN_CONTEXT>() as u32,
    }
}

/// The object a scan context belongs to (for the caller's `plfoLog`).
pub(crate) fn object_ptr(h: usize) -> *mut FILE_OBJECT {
    core::ptr::without_provenance_mut(h)
}

/// Drops the scan contexts of a crashed sandbox (their arrays go with them).
pub(crate) fn forget_sandbox(sandbox: u64) {
    scans().retain(|_, s| s.sandbox != sandbox);
}
