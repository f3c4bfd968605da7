//! `ntoskrnl.exe` for the driver: the few kernel routines a CLFS driver needs, in user mode.
//!
//! Every routine is `extern "win64"` (the driver's calling convention). Pool and IRQL are the
//! emulator's (so its accounts see the driver's allocations); `KeBugCheckEx` ends the process
//! with a `*** STOP` line, as the kernel would stop the machine; `DbgPrint`/`DbgPrintEx` print
//! to stderr through [`crate::dbgprint`]; `IoCreateFile` (directories only) and `ObCloseHandle`
//! work on a per-thread directory tree ([`set_file_root`]). The table [`EXPORTS`] is what the import resolver and
//! `MmGetSystemRoutineAddress` bind from: a routine not in it is not implemented.

#![allow(non_snake_case)]

use core::ffi::c_void;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clfs_emu::types::{NTSTATUS, UNICODE_STRING};
use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;

/// The harness's per-thread kernel state: call counts, armed faults, open file handles and
/// the directory the NT namespace maps into.
#[derive(Default)]
struct Kernel {
    calls: BTreeMap<&'static str, u64>,
    /// `(routine, countdown, status)`: the countdown-th call of `routine` fails.
    faults: Vec<(&'static str, u64, NTSTATUS)>,
    /// Fail the Nth `ExAllocatePool2` from now (0 = none).
    pool_fault: u64,
    handles: BTreeMap<usize, PathBuf>,
    next_handle: usize,
    root: Option<PathBuf>,
}

thread_local! {
    static KERNEL: RefCell<Kernel> = RefCell::new(Kernel::default());
}

/// Counts a call of `routine`; returns the injected status if a fault fires now.
pub(crate) fn enter(routine: &'static str) -> Option<NTSTATUS> {
    KERNEL.with(|k| {
        let mut k = k.borrow_mut();
        *k.calls.entry(routine).or_insert(0) += 1;
        let mut fire = None;
        k.faults.retain_mut(|(r, n, st)| {
            if *r != routine {
                return true;
            }
            *n = n.saturating_sub(1);
            if *n == 0 {
                fire.get_or_insert(*st);
                false
            } else {
                true
            }
        });
        fire
    })
}

/// Calls of the `ntoskrnl.exe` routine `routine` the driver made on this thread.
pub fn calls(routine: &str) -> u64 {
    KERNEL.with(|k| k.borrow().calls.get(routine).copied().unwrap_or(0))
}

/// Pool allocations (`ExAllocatePool2` and `ExAllocatePoolWithTag`) the driver made on the
/// current thread.
pub fn pool_allocations() -> u64 {
    calls("ExAllocatePool2") + calls("ExAllocatePoolWithTag")
}

/// Makes the `nth` pool allocation (`ExAllocatePool2` or `ExAllocatePoolWithTag`) from now (1 = the next) on the current thread return
/// NULL, as the kernel does when pool is exhausted. `0` disarms.
pub fn fail_pool_allocation(nth: u64) {
    KERNEL.with(|k| k.borrow_mut().pool_fault = nth);
}

/// Makes the `nth` call from now (1 = the next) of `routine` (an NTSTATUS-returning
/// `ntoskrnl.exe` routine: `IoCreateFile`) on the current thread return `status` without
/// doing anything.
pub fn fail_call(routine: &'static str, nth: u64, status: NTSTATUS) {
    KERNEL.with(|k| k.borrow_mut().faults.push((routine, nth.max(1), status)));
}

/// Disarms every harness fault of the current thread.
pub fn clear_faults() {
    KERNEL.with(|k| {
        let mut k = k.borrow_mut();
        k.faults.clear();
        k.pool_fault = 0;
    });
}

/// Forgets every kernel handle of this thread without closing it (a simulated power loss:
/// the handle table is gone with the machine).
pub fn forget_handles() {
    KERNEL.with(|k| k.borrow_mut().handles.clear());
}

/// Kernel file handles the driver opened on this thread and has not closed.
pub fn open_handles() -> Vec<PathBuf> {
    KERNEL.with(|k| k.borrow().handles.values().cloned().collect())
}

/// Maps the NT namespace of the current thread's driver into `root` (typically the emulator
/// sandbox's root, so that `\SystemRoot\Logs\x` is the directory the emulator keeps
/// `log:\SystemRoot\Logs\x` in), and creates what every Windows system has there:
/// `SystemRoot\Logs`. `None` unmaps: file routines then fail with
/// `STATUS_OBJECT_PATH_NOT_FOUND`.
pub fn set_file_root(root: Option<&Path>) -> std::io::Result<()> {
    if let Some(r) = root {
        std::fs::create_dir_all(r.join("SystemRoot").join("Logs"))?;
    }
    KERNEL.with(|k| k.borrow_mut().root = root.map(Path::to_path_buf));
    Ok(())
}

/// True if an armed pool fault (see [`fail_pool_allocation`]) fires on this allocation.
fn pool_fault_fires() -> bool {
    KERNEL.with(|k| {
        let mut k = k.borrow_mut();
        match k.pool_fault {
            0 => false,
            1 => {
                k.pool_fault = 0;
                true
            }
            n => {
                k.pool_fault = n - 1;
                false
            }
        }
    })
}

/// `ExAllocatePool2`: a tracked (special-pool) block from the verifier
/// ([`crate::verifier::pool`]), with the harness's fault.
unsafe extern "win64" fn ExAllocatePool2(flags: u64, bytes: usize, tag: u32) -> *mut c_void {
    let _ = enter("ExAllocatePool2");
    if pool_fault_fires() {
        return core::ptr::null_mut();
    }
    crate::verifier::pool::allocate("ExAllocatePool2", flags, bytes, tag)
}

/// `ExAllocatePoolWithTag` (deprecated in favour of `ExAllocatePool2`, still common): the
/// `POOL_TYPE` is mapped to its `POOL_FLAG_*`; the block is not zeroed (it holds a fill
/// pattern, as uninitialised pool would hold garbage).
unsafe extern "win64" fn ExAllocatePoolWithTag(
    pool_type: i32,
    bytes: usize,
    tag: u32,
) -> *mut c_void {
    let _ = enter("ExAllocatePoolWithTag");
    if pool_fault_fires() {
        return core::ptr::null_mut();
    }
    let flags = match pool_type {
        0 => 0x80,   // NonPagedPool: POOL_FLAG_NON_PAGED_EXECUTE
        1 => 0x100,  // PagedPool: POOL_FLAG_PAGED
        512 => 0x40, // NonPagedPoolNx: POOL_FLAG_NON_PAGED
        _ => return core::ptr::null_mut(),
    };
    crate::verifier::pool::allocate("ExAllocatePoolWithTag", flags, bytes, tag)
}

/// `ExFreePoolWithTag`: the verifier's free (stops on a double free, a wrong tag or a
/// pointer that is not a block).
unsafe extern "win64" fn ExFreePoolWithTag(p: *mut c_void, tag: u32) {
    let _ = enter("ExFreePoolWithTag");
    crate::verifier::pool::free("ExFreePoolWithTag", p, Some(tag));
}

/// `ExFreePool`: as [`ExFreePoolWithTag`] without the tag check.
unsafe extern "win64" fn ExFreePool(p: *mut c_void) {
    let _ = enter("ExFreePool");
    crate::verifier::pool::free("ExFreePool", p, None);
}

/// `KeGetCurrentIrql`: the emulator's simulated IRQL of this thread.
unsafe extern "win64" fn KeGetCurrentIrql() -> u8 {
    clfs_emu::current_irql()
}

/// `KeAcquireSpinLockRaiseToDpc`: raises the simulated IRQL to `DISPATCH_LEVEL`, marks the
/// lock held and returns the previous IRQL. A lock already held would spin forever on one
/// processor: it stops the run instead.
unsafe extern "win64" fn KeAcquireSpinLockRaiseToDpc(lock: *mut usize) -> u8 {
    let _ = enter("KeAcquireSpinLockRaiseToDpc");
    if !lock.is_null() {
        // SAFETY: the caller's KSPIN_LOCK (a pointer-sized value), valid (its contract).
        if unsafe { lock.read_volatile() } != 0 {
            crate::verifier::stop(
                0xC4,
                [0x2001, lock as usize, 0, 0],
                "KeAcquireSpinLockRaiseToDpc of a spin lock this thread already holds (a deadlock)",
            );
        }
        // SAFETY: as above.
        unsafe { lock.write_volatile(1) };
    }
    clfs_emu::set_irql(clfs_emu::DISPATCH_LEVEL)
}

/// `KeReleaseSpinLock`: marks the lock free and lowers the simulated IRQL to `new_irql`.
///
/// As Driver Verifier, it stops a release at an IRQL other than `DISPATCH_LEVEL` (`0xC4`,
/// parameter 1 `0x32`: current IRQL, lock; typically a double release after the first one
/// lowered the IRQL) and a release of a lock nobody holds (`0xC4`, parameter 1 `0x40009`, the
/// DDI rule `SpinLock`: lock, IRQL).
unsafe extern "win64" fn KeReleaseSpinLock(lock: *mut usize, new_irql: u8) {
    let _ = enter("KeReleaseSpinLock");
    let irql = clfs_emu::current_irql();
    if crate::verifier::settings().irql_checks {
        let name = crate::verifier::ddi::irql_name;
        if irql != clfs_emu::DISPATCH_LEVEL {
            crate::verifier::stop(
                0xC4,
                [0x32, usize::from(irql), lock as usize, 0],
                &format!(
                    "KeReleaseSpinLock({lock:p}) called at IRQL {irql} ({}): a spin lock is released at DISPATCH_LEVEL by its holder (a double release, or a release of a lock never acquired)",
                    name(irql)
                ),
            );
        }
        // SAFETY: the caller's KSPIN_LOCK, valid (its contract), when non-NULL.
        if !lock.is_null() && unsafe { lock.read_volatile() } == 0 {
            crate::verifier::stop(
                0xC4,
                [0x0004_0009, lock as usize, usize::from(irql), 0],
                &format!(
                    "DDI compliance (SpinLock): KeReleaseSpinLock({lock:p}) of a spin lock that is not held (a double release, or a release of a lock never acquired)"
                ),
            );
        }
    }
    if !lock.is_null() {
        // SAFETY: the caller's KSPIN_LOCK, valid (its contract).
        unsafe { lock.write_volatile(0) };
    }
    clfs_emu::set_irql(new_irql);
}

/// `KeBugCheckEx`: prints `*** STOP: 0x...` with the four parameters and aborts the process.
unsafe extern "win64" fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> ! {
    clfs_emu::bugcheck(code, p1, p2, p3, p4, "KeBugCheckEx called by the driver")
}

/// `KeBugCheck`: as `KeBugCheckEx` with zero parameters.
unsafe extern "win64" fn KeBugCheck(code: u32) -> ! {
    clfs_emu::bugcheck(code, 0, 0, 0, 0, "KeBugCheck called by the driver")
}

/// The number of UTF-16 units before the NUL at `s`, at most `max`.
///
/// # Safety
/// `s` is non-null and points to a NUL-terminated UTF-16 string (or `max` readable units).
unsafe fn wcslen_capped(s: *const u16, max: usize) -> usize {
    let mut n = 0;
    while n < max {
        let p = s.wrapping_add(n);
        // SAFETY: within the string (caller), before its NUL.
        if unsafe { p.read_unaligned() } == 0 {
            break;
        }
        n += 1;
    }
    n
}

/// `RtlInitUnicodeString`: points `dest` at the NUL-terminated `source` (NULL: empty string).
unsafe extern "win64" fn RtlInitUnicodeString(dest: *mut UNICODE_STRING, source: *const u16) {
    if dest.is_null() {
        return;
    }
    let (len, max) = if source.is_null() {
        (0u16, 0u16)
    } else {
        // SAFETY: the driver passes a NUL-terminated string; at most 32766 units are read
        // (the most a UNICODE_STRING can describe).
        let n = unsafe { wcslen_capped(source, 32_766) };
        let bytes = u16::try_from(n * 2).unwrap_or(u16::MAX - 1);
        (bytes, bytes.saturating_add(2))
    };
    let us = UNICODE_STRING {
        Length: len,
        MaximumLength: max,
        Buffer: source.cast_mut(),
    };
    // SAFETY: `dest` is a writable UNICODE_STRING (the routine's contract).
    unsafe { dest.write_unaligned(us) }
}

/// The UTF-16 units of a `UNICODE_STRING` (empty for NULL or a NULL buffer).
///
/// # Safety
/// `us` is NULL or a valid `UNICODE_STRING` whose buffer holds `Length` bytes.
pub(crate) unsafe fn unicode_units(us: *const UNICODE_STRING) -> Vec<u16> {
    if us.is_null() {
        return Vec::new();
    }
    // SAFETY: a valid UNICODE_STRING (caller).
    let s = unsafe { us.read_unaligned() };
    if s.Buffer.is_null() {
        return Vec::new();
    }
    let n = usize::from(s.Length / 2);
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let p = s.Buffer.wrapping_add(i);
        // SAFETY: the buffer holds `Length` bytes (caller).
        v.push(unsafe { p.read_unaligned() });
    }
    v
}

/// `RtlEqualUnicodeString`.
unsafe extern "win64" fn RtlEqualUnicodeString(
    a: *const UNICODE_STRING,
    b: *const UNICODE_STRING,
    case_insensitive: u8,
) -> u8 {
    // SAFETY: valid strings (the routine's contract).
    let a = unsafe { unicode_units(a) };
    // SAFETY: as above.
    let b = unsafe { unicode_units(b) };
    let eq = if case_insensitive != 0 {
        a.len() == b.len()
            && a.iter().zip(&b).all(|(x, y)| {
                let up = |c: u16| {
                    if (0x61..=0x7A).contains(&c) {
                        c - 0x20
                    } else {
                        c
                    }
                };
                up(*x) == up(*y)
            })
    } else {
        a == b
    };
    u8::from(eq)
}

/// `RtlCopyUnicodeString`: copies as much of `src` as fits in `dest`'s buffer.
unsafe extern "win64" fn RtlCopyUnicodeString(
    dest: *mut UNICODE_STRING,
    src: *const UNICODE_STRING,
) {
    if dest.is_null() {
        return;
    }
    // SAFETY: a valid source string (the routine's contract).
    let units = unsafe { unicode_units(src) };
    // SAFETY: a valid, writable destination string (the routine's contract).
    let mut d = unsafe { dest.read_unaligned() };
    let room = usize::from(d.MaximumLength / 2);
    let n = units.len().min(room);
    if !d.Buffer.is_null() {
        for (i, u) in units.iter().take(n).enumerate() {
            let p = d.Buffer.wrapping_add(i);
            // SAFETY: i < MaximumLength / 2: inside the destination buffer.
            unsafe { p.write_unaligned(*u) };
        }
        if n < room {
            let p = d.Buffer.wrapping_add(n);
            // SAFETY: n < MaximumLength / 2: inside the destination buffer.
            unsafe { p.write_unaligned(0) };
        }
    }
    d.Length = u16::try_from(n * 2).unwrap_or(0);
    // SAFETY: writable destination (the routine's contract).
    unsafe { dest.write_unaligned(d) }
}

/// `MmGetSystemRoutineAddress`: the address of an `ntoskrnl.exe` routine the harness
/// implements, or NULL (the documented answer for a routine the system does not export).
unsafe extern "win64" fn MmGetSystemRoutineAddress(name: *const UNICODE_STRING) -> *mut c_void {
    // SAFETY: a valid UNICODE_STRING (the routine's contract).
    let units = unsafe { unicode_units(name) };
    let Ok(name) = String::from_utf16(&units) else {
        return core::ptr::null_mut();
    };
    match crate::imports::lookup("ntoskrnl.exe", &name) {
        Some(addr) => addr as *mut c_void,
        None => {
            eprintln!(
                "[clfs-harness] MmGetSystemRoutineAddress({name}): not implemented, returning NULL"
            );
            core::ptr::null_mut()
        }
    }
}

const STATUS_SUCCESS: NTSTATUS = 0;
const STATUS_NOT_SUPPORTED: NTSTATUS = 0xC000_00BB_u32 as i32;
const STATUS_INVALID_PARAMETER: NTSTATUS = 0xC000_000D_u32 as i32;
const STATUS_OBJECT_NAME_INVALID: NTSTATUS = 0xC000_0033_u32 as i32;
const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32 as i32;
const STATUS_OBJECT_NAME_COLLISION: NTSTATUS = 0xC000_0035_u32 as i32;
const STATUS_OBJECT_PATH_NOT_FOUND: NTSTATUS = 0xC000_003A_u32 as i32;
const STATUS_OBJECT_PATH_SYNTAX_BAD: NTSTATUS = 0xC000_003B_u32 as i32;
const STATUS_NOT_A_DIRECTORY: NTSTATUS = 0xC000_0103_u32 as i32;
const STATUS_ACCESS_DENIED: NTSTATUS = 0xC000_0022_u32 as i32;

/// `FILE_DIRECTORY_FILE`.
const FILE_DIRECTORY_FILE: u32 = 0x1;
/// `FILE_OPENED` / `FILE_CREATED` (`IO_STATUS_BLOCK.Information`).
const FILE_OPENED: usize = 1;
const FILE_CREATED: usize = 2;

/// Maps an absolute NT path to a host path under `root`: `\SystemRoot\a\b` is
/// `<root>/SystemRoot/a/b`; `\??\C:\a`, `\DosDevices\C:\a` and `\GLOBAL??\C:\a` are
/// `<root>/C/a` (the emulator's mapping of `log:` names). `.`/`..` and characters Windows
/// forbids in names are refused with `STATUS_OBJECT_NAME_INVALID`.
pub fn nt_path_to_host(root: &Path, nt: &str) -> Result<PathBuf, NTSTATUS> {
    let Some(rest) = nt.strip_prefix('\\') else {
        return Err(STATUS_OBJECT_PATH_SYNTAX_BAD);
    };
    let mut comps: Vec<&str> = rest.split('\\').filter(|c| !c.is_empty()).collect();
    if comps.first().is_some_and(|c| {
        matches!(
            c.to_ascii_uppercase().as_str(),
            "??" | "DOSDEVICES" | "GLOBAL??"
        )
    }) {
        comps.remove(0);
        match comps.first_mut() {
            Some(d)
                if d.len() == 2 && d.ends_with(':') && d.as_bytes()[0].is_ascii_alphabetic() =>
            {
                *d = &d[..1];
            }
            _ => return Err(STATUS_OBJECT_NAME_INVALID),
        }
    }
    if comps.is_empty() {
        return Err(STATUS_OBJECT_NAME_INVALID);
    }
    let mut out = root.to_path_buf();
    for c in comps {
        let bad = c == "."
            || c == ".."
            || c.chars().any(|ch| {
                matches!(ch, '<' | '>' | '"' | '|' | '?' | '*' | ':' | '/') || (ch as u32) < 0x20
            });
        if bad {
            return Err(STATUS_OBJECT_NAME_INVALID);
        }
        out.push(c);
    }
    Ok(out)
}

/// Opens or creates the directory `nt` (dispositions `FILE_OPEN`, `FILE_CREATE`,
/// `FILE_OPEN_IF`); the parent must exist. Returns the `Information` value.
fn open_directory(nt: &str, disposition: u32) -> Result<(PathBuf, usize), NTSTATUS> {
    let root = KERNEL.with(|k| k.borrow().root.clone());
    let Some(root) = root else {
        eprintln!("[clfs-harness] IoCreateFile({nt}): no file root is set (clfs_harness::ntos::set_file_root)");
        return Err(STATUS_OBJECT_PATH_NOT_FOUND);
    };
    let path = nt_path_to_host(&root, nt)?;
    let exists = path.exists();
    if exists && !path.is_dir() {
        return Err(STATUS_NOT_A_DIRECTORY);
    }
    match (disposition, exists) {
        (1 | 3, true) => Ok((path, FILE_OPENED)),
        (1, false) => Err(STATUS_OBJECT_NAME_NOT_FOUND),
        (2, true) => Err(STATUS_OBJECT_NAME_COLLISION),
        (2 | 3, false) => {
            if !path.parent().is_some_and(Path::is_dir) {
                return Err(STATUS_OBJECT_PATH_NOT_FOUND);
            }
            match std::fs::create_dir(&path) {
                Ok(()) => Ok((path, FILE_CREATED)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok((path, FILE_OPENED)),
                Err(_) => Err(STATUS_ACCESS_DENIED),
            }
        }
        _ => Err(STATUS_INVALID_PARAMETER),
    }
}

/// `IoCreateFile`, for directories only: opens or creates a directory under the file root
/// ([`set_file_root`]) and returns a kernel handle that [`ObCloseHandle`] closes. Files,
/// relative opens (`RootDirectory`) and EAs are not supported (`STATUS_NOT_SUPPORTED`, with a
/// note on stderr). Requires PASSIVE_LEVEL, like the kernel routine: above it, bugchecks.
#[allow(clippy::too_many_arguments)]
unsafe extern "win64" fn IoCreateFile(
    file_handle: *mut *mut c_void,
    _desired_access: u32,
    object_attributes: *const OBJECT_ATTRIBUTES,
    io_status: *mut [usize; 2],
    _allocation_size: *const i64,
    _file_attributes: u32,
    _share_access: u32,
    disposition: u32,
    create_options: u32,
    _ea_buffer: *const c_void,
    ea_length: u32,
    _create_file_type: i32,
    _internal_parameters: *const c_void,
    _options: u32,
) -> NTSTATUS {
    let irql = clfs_emu::current_irql();
    if irql != clfs_emu::PASSIVE_LEVEL {
        clfs_emu::bugcheck(
            0x0A,
            0,
            usize::from(irql),
            0,
            0,
            &format!("IoCreateFile called at IRQL {irql}; it requires PASSIVE_LEVEL"),
        );
    }
    if let Some(st) = enter("IoCreateFile") {
        return st;
    }
    if file_handle.is_null() || object_attributes.is_null() || io_status.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: a valid OBJECT_ATTRIBUTES (the routine's contract; checked non-null).
    let oa = unsafe { object_attributes.read_unaligned() };
    if !oa.RootDirectory.is_null() || ea_length != 0 || create_options & FILE_DIRECTORY_FILE == 0 {
        eprintln!("[clfs-harness] IoCreateFile: only absolute opens of directories are emulated");
        return STATUS_NOT_SUPPORTED;
    }
    // SAFETY: ObjectName is NULL or a valid UNICODE_STRING (the routine's contract).
    let units = unsafe { unicode_units(oa.ObjectName) };
    let Ok(nt) = String::from_utf16(&units) else {
        return STATUS_OBJECT_NAME_INVALID;
    };
    let (status, info) = match open_directory(&nt, disposition) {
        Ok((path, info)) => {
            let handle = KERNEL.with(|k| {
                let mut k = k.borrow_mut();
                k.next_handle += 4;
                let h = 0xFFFF_FFFF_8000_0000_usize | k.next_handle;
                k.handles.insert(h, path);
                h
            });
            // SAFETY: a writable HANDLE (the routine's contract; checked non-null).
            unsafe { file_handle.write_unaligned(handle as *mut c_void) };
            (STATUS_SUCCESS, info)
        }
        Err(st) => (st, 0),
    };
    // IO_STATUS_BLOCK: Status (in an 8-byte union), then Information.
    let block = [status as u32 as usize, info];
    // SAFETY: a writable IO_STATUS_BLOCK (the routine's contract; checked non-null).
    unsafe { io_status.write_unaligned(block) };
    status
}

/// `ObCloseHandle`: closes a handle [`IoCreateFile`] returned. Closing anything else from
/// kernel mode bugchecks (`INVALID_KERNEL_HANDLE`), as in the kernel.
unsafe extern "win64" fn ObCloseHandle(handle: *mut c_void, _previous_mode: i8) -> NTSTATUS {
    let _ = enter("ObCloseHandle");
    if crate::iomgr::close_object_handle(handle as usize) {
        return STATUS_SUCCESS;
    }
    let closed = KERNEL.with(|k| k.borrow_mut().handles.remove(&(handle as usize)));
    match closed {
        Some(_) => STATUS_SUCCESS,
        None => clfs_emu::bugcheck(
            0x93,
            handle as usize,
            0,
            0,
            0,
            &format!(
                "ObCloseHandle({handle:p}): not an open kernel handle (INVALID_KERNEL_HANDLE)"
            ),
        ),
    }
}

/// `memcpy`.
unsafe extern "win64" fn memcpy(dest: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the C contract: both regions are valid for `n` bytes and do not overlap.
    unsafe { core::ptr::copy_nonoverlapping(src.cast::<u8>(), dest.cast::<u8>(), n) };
    dest
}

/// `memmove`.
unsafe extern "win64" fn memmove(dest: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the C contract: both regions are valid for `n` bytes (they may overlap).
    unsafe { core::ptr::copy(src.cast::<u8>(), dest.cast::<u8>(), n) };
    dest
}

/// `memset`.
unsafe extern "win64" fn memset(dest: *mut c_void, c: i32, n: usize) -> *mut c_void {
    // SAFETY: the C contract: `dest` is valid for `n` bytes.
    unsafe { core::ptr::write_bytes(dest.cast::<u8>(), c as u8, n) };
    dest
}

/// `memcmp`.
unsafe extern "win64" fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> i32 {
    for i in 0..n {
        let pa = a.cast::<u8>().wrapping_add(i);
        let pb = b.cast::<u8>().wrapping_add(i);
        // SAFETY: the C contract: both regions are valid for `n` bytes.
        let x = unsafe { pa.read() };
        // SAFETY: as above.
        let y = unsafe { pb.read() };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

// `__chkstk` (MSVC's stack probe): RAX = the frame size about to be allocated; touches every
// page from RSP down to RSP - RAX so that an overflow hits the guard page in order; preserves
// every register but R10/R11 and the flags, and does not move RSP (the caller subtracts RAX).
// This is compiler-rt's `___chkstk_ms`, which has exactly those semantics.
//
// The `DbgPrint` / `DbgPrintEx` entry points are variadic. They store the four register
// arguments into their home slots (the caller's 32-byte shadow space, which the callee owns),
// so that all arguments form one array on the stack, and call the Rust formatter with a
// pointer to it (`crate::dbgprint::dbg_print` / `dbg_print_ex`, win64 functions, which save
// the win64 callee-saved registers themselves).
core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl clfs_harness_chkstk",
    ".hidden clfs_harness_chkstk",
    ".type clfs_harness_chkstk,@function",
    "clfs_harness_chkstk:",
    "    push rcx",
    "    push rax",
    "    cmp rax, 0x1000",
    "    lea rcx, [rsp + 24]",
    "    jb 3f",
    "2:",
    "    sub rcx, 0x1000",
    "    test [rcx], rcx",
    "    sub rax, 0x1000",
    "    cmp rax, 0x1000",
    "    ja 2b",
    "3:",
    "    sub rcx, rax",
    "    test [rcx], rcx",
    "    pop rax",
    "    pop rcx",
    "    ret",
    ".size clfs_harness_chkstk, . - clfs_harness_chkstk",
    "",
    ".p2align 4",
    ".globl clfs_harness_dbgprint",
    ".hidden clfs_harness_dbgprint",
    ".type clfs_harness_dbgprint,@function",
    "clfs_harness_dbgprint:",
    "    mov [rsp + 8], rcx",
    "    mov [rsp + 16], rdx",
    "    mov [rsp + 24], r8",
    "    mov [rsp + 32], r9",
    "    sub rsp, 40",
    "    lea rcx, [rsp + 48]",
    "    call {print}",
    "    add rsp, 40",
    "    ret",
    ".size clfs_harness_dbgprint, . - clfs_harness_dbgprint",
    "",
    ".p2align 4",
    ".globl clfs_harness_dbgprintex",
    ".hidden clfs_harness_dbgprintex",
    ".type clfs_harness_dbgprintex,@function",
    "clfs_harness_dbgprintex:",
    "    mov [rsp + 8], rcx",
    "    mov [rsp + 16], rdx",
    "    mov [rsp + 24], r8",
    "    mov [rsp + 32], r9",
    "    sub rsp, 40",
    "    lea rcx, [rsp + 48]",
    "    call {print_ex}",
    "    add rsp, 40",
    "    ret",
    ".size clfs_harness_dbgprintex, . - clfs_harness_dbgprintex",
    print = sym crate::dbgprint::dbg_print,
    print_ex = sym crate::dbgprint::dbg_print_ex,
);

extern "win64" {
    /// `__chkstk` (assembly above; not a normal function: RAX in, nothing out).
    fn clfs_harness_chkstk();
    /// `ULONG DbgPrint(PCSTR Format, ...)` (assembly above).
    fn clfs_harness_dbgprint();
    /// `ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)` (assembly above).
    fn clfs_harness_dbgprintex();
}

/// `ntoskrnl.exe` exports implemented by the harness: name and win64 entry address (a
/// `const`: the addresses are taken from function items).
pub const EXPORTS: &[(&str, *const ())] = &[
    ("ExAllocatePool2", ExAllocatePool2 as *const ()),
    ("ExFreePoolWithTag", ExFreePoolWithTag as *const ()),
    ("ExAllocatePoolWithTag", ExAllocatePoolWithTag as *const ()),
    ("ExFreePool", ExFreePool as *const ()),
    ("KeGetCurrentIrql", KeGetCurrentIrql as *const ()),
    ("KeBugCheckEx", KeBugCheckEx as *const ()),
    (
        "KeAcquireSpinLockRaiseToDpc",
        KeAcquireSpinLockRaiseToDpc as *const (),
    ),
    ("KeReleaseSpinLock", KeReleaseSpinLock as *const ()),
    ("KeBugCheck", KeBugCheck as *const ()),
    ("RtlInitUnicodeString", RtlInitUnicodeString as *const ()),
    ("RtlEqualUnicodeString", RtlEqualUnicodeString as *const ()),
    ("RtlCopyUnicodeString", RtlCopyUnicodeString as *const ()),
    (
        "MmGetSystemRoutineAddress",
        MmGetSystemRoutineAddress as *const (),
    ),
    ("IoCreateFile", IoCreateFile as *const ()),
    ("ObCloseHandle", ObCloseHandle as *const ()),
    // The I/O manager (crate::iomgr).
    ("IoCreateDevice", crate::iomgr::IoCreateDevice as *const ()),
    ("IoDeleteDevice", crate::iomgr::IoDeleteDevice as *const ()),
    (
        "IoCreateSymbolicLink",
        crate::iomgr::IoCreateSymbolicLink as *const (),
    ),
    (
        "IoDeleteSymbolicLink",
        crate::iomgr::IoDeleteSymbolicLink as *const (),
    ),
    (
        "IofCompleteRequest",
        crate::iomgr::IofCompleteRequest as *const (),
    ),
    (
        "ObOpenObjectByPointer",
        crate::iomgr::ObOpenObjectByPointer as *const (),
    ),
    (
        "ZwSetSecurityObject",
        crate::iomgr::ZwSetSecurityObject as *const (),
    ),
    ("DbgPrint", clfs_harness_dbgprint as *const ()),
    ("DbgPrintEx", clfs_harness_dbgprintex as *const ()),
    ("memcpy", memcpy as *const ()),
    ("memmove", memmove as *const ()),
    ("memset", memset as *const ()),
    ("memcmp", memcmp as *const ()),
    ("__chkstk", clfs_harness_chkstk as *const ()),
];
