//! A small I/O manager: device objects, symbolic links, file objects and IRPs for a driver
//! image, built as the Windows I/O manager builds them, with the windows-sys layouts.
//!
//! The driver side (`ntoskrnl.exe` routines): `IoCreateDevice`, `IoDeleteDevice`,
//! `IoCreateSymbolicLink`, `IoDeleteSymbolicLink`, `IofCompleteRequest`,
//! `ObOpenObjectByPointer` (device objects only) and `ZwSetSecurityObject` (a DACL on a device,
//! which [`IoManager::open`] then enforces). The test side: [`IoManager`] opens a device by
//! its link name (`IRP_MJ_CREATE`), sends `IRP_MJ_DEVICE_CONTROL` requests (METHOD_BUFFERED
//! and METHOD_NEITHER) from any number of threads, closes (`IRP_MJ_CLEANUP` then, once the
//! last request on the file object has completed, `IRP_MJ_CLOSE`) and unloads the driver once
//! its last file object is closed, as the I/O manager does for `sc stop`.
//!
//! Each [`Driver`] has its own namespace (devices, links, object handles), so tests that run
//! drivers on parallel threads do not see each other's devices. The routines find it through
//! a per-thread "current namespace" that the harness sets around every call into the image.
//!
//! What the I/O manager checks and this one checks too: the handle's granted access against
//! the access bits of the control code (`STATUS_ACCESS_DENIED` without calling the driver);
//! NULL user buffers with a non-zero length (`STATUS_INVALID_USER_BUFFER`); exactly one
//! completion per IRP, with the status the dispatch routine returned. What Driver Verifier's
//! I/O verification adds, and this one reports as a [`Violation`]: `IoStatus.Information`
//! above the output length of a METHOD_BUFFERED request, a write past the system buffer (64
//! guard bytes after it), an IRP returned uncompleted or completed twice, `STATUS_PENDING`
//! (not emulated: no asynchronous completion). Stops (I/O Verification's bug check `0xC9`):
//! `STATUS_PENDING` without `IoMarkIrpPending` (`0x23D`), an IRP marked pending without
//! `STATUS_PENDING` (`0x23E`), a completion with the status `STATUS_PENDING` (`0x06`), a dispatch routine returning at another IRQL (`0x05`, see
//! [`crate::verifier::stack::call_driver`]).

#![allow(non_snake_case)]

use core::ffi::c_void;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use windows_sys::Wdk::Foundation::{
    DEVICE_OBJECT, DRIVER_OBJECT, FILE_OBJECT, IO_STACK_LOCATION, IRP,
};
use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};

use crate::driver::Driver;

const STATUS_SUCCESS: NTSTATUS = 0;
const STATUS_PENDING: NTSTATUS = 0x103;
const STATUS_INVALID_PARAMETER: NTSTATUS = 0xC000_000D_u32 as i32;
const STATUS_NO_SUCH_DEVICE: NTSTATUS = 0xC000_000E_u32 as i32;
const STATUS_ACCESS_DENIED: NTSTATUS = 0xC000_0022_u32 as i32;
const STATUS_OBJECT_TYPE_MISMATCH: NTSTATUS = 0xC000_0024_u32 as i32;
const STATUS_OBJECT_NAME_INVALID: NTSTATUS = 0xC000_0033_u32 as i32;
const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32 as i32;
const STATUS_OBJECT_NAME_COLLISION: NTSTATUS = 0xC000_0035_u32 as i32;
const STATUS_DELETE_PENDING: NTSTATUS = 0xC000_0056_u32 as i32;
const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as i32;
const STATUS_INVALID_HANDLE: NTSTATUS = 0xC000_0008_u32 as i32;
const STATUS_INVALID_USER_BUFFER: NTSTATUS = 0xC000_00E8_u32 as i32;
const STATUS_INVALID_SECURITY_DESCR: NTSTATUS = 0xC000_0079_u32 as i32;

/// `IO_TYPE_DEVICE`, `IO_TYPE_FILE`, `IO_TYPE_IRP`.
const IO_TYPE_DEVICE: i16 = 3;
const IO_TYPE_FILE: i16 = 5;
const IO_TYPE_IRP: i16 = 6;
/// `DO_DEVICE_INITIALIZING`.
const DO_DEVICE_INITIALIZING: u32 = 0x80;
/// `FILE_DEVICE_SECURE_OPEN`.
const FILE_DEVICE_SECURE_OPEN: u32 = 0x100;

/// `IRP_MJ_*` codes the harness sends.
pub const IRP_MJ_CREATE: u8 = 0x00;
/// `IRP_MJ_CLOSE`.
pub const IRP_MJ_CLOSE: u8 = 0x02;
/// `IRP_MJ_READ`.
pub const IRP_MJ_READ: u8 = 0x03;
/// `IRP_MJ_WRITE`.
pub const IRP_MJ_WRITE: u8 = 0x04;
/// `IRP_MJ_DEVICE_CONTROL`.
pub const IRP_MJ_DEVICE_CONTROL: u8 = 0x0e;
/// `IRP_MJ_CLEANUP`.
pub const IRP_MJ_CLEANUP: u8 = 0x12;

/// `FILE_READ_DATA`.
pub const FILE_READ_DATA: u32 = 0x1;
/// `FILE_WRITE_DATA`.
pub const FILE_WRITE_DATA: u32 = 0x2;
/// `GENERIC_READ | GENERIC_WRITE` as mapped for files: read and write data.
pub const READ_WRITE: u32 = FILE_READ_DATA | FILE_WRITE_DATA;

/// Guard bytes after every system buffer.
const GUARD: usize = 64;
/// The guard bytes' value.
const GUARD_BYTE: u8 = 0xFD;
/// The largest system buffer the harness allocates (larger: `STATUS_INSUFFICIENT_RESOURCES`,
/// as the I/O manager's pool allocation would fail).
pub const MAX_SYSTEM_BUFFER: usize = 64 << 20;

// ---------------------------------------------------------------------------------------------
// Namespaces

/// A device object the driver created.
struct DeviceRec {
    object: Box<DEVICE_OBJECT>,
    _extension: Vec<u64>,
    name: Option<String>,
    /// The self-relative security descriptor set with `ZwSetSecurityObject`.
    security: Option<Vec<u8>>,
}

// SAFETY: the device object and extension are heap memory owned by the record; the raw
// pointers inside are the driver's (kernel memory is shared by every thread there too).
unsafe impl Send for DeviceRec {}

/// One driver's objects.
#[derive(Default)]
struct Ns {
    devices: Vec<DeviceRec>,
    /// Deleted devices: kept allocated until the namespace goes, so that a stale pointer
    /// in the driver reads freed-but-mapped memory instead of crashing the harness.
    deleted: Vec<DeviceRec>,
    /// Link name (upper case) -> target.
    links: HashMap<String, String>,
    /// Kernel handles from `ObOpenObjectByPointer` -> device object.
    handles: HashMap<usize, usize>,
    next_handle: usize,
    /// Calls per routine.
    calls: HashMap<&'static str, u64>,
}

/// Every namespace, by id.
static NAMESPACES: LazyLock<Mutex<HashMap<u64, Ns>>> = LazyLock::new(Mutex::default);
static NEXT_NS: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

fn namespaces() -> MutexGuard<'static, HashMap<u64, Ns>> {
    NAMESPACES.lock().unwrap_or_else(|e| e.into_inner())
}

/// A driver's namespace: created with the [`Driver`], removed (and its objects freed) with it.
#[derive(Debug)]
pub struct Namespace(u64);

impl Namespace {
    /// A fresh, empty namespace.
    pub fn new() -> Namespace {
        let id = NEXT_NS.fetch_add(1, Ordering::Relaxed);
        namespaces().insert(id, Ns::default());
        Namespace(id)
    }

    /// The namespace's id.
    pub(crate) fn id(&self) -> u64 {
        self.0
    }

    /// Makes this namespace current on the calling thread until the guard drops.
    pub fn enter(&self) -> NsGuard {
        NsGuard(CURRENT.with(|c| c.replace(self.0)))
    }

    /// What is left: one line per device, link and object handle (empty after a clean
    /// unload).
    pub fn leaks(&self) -> Vec<String> {
        let map = namespaces();
        let Some(ns) = map.get(&self.0) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for d in &ns.devices {
            v.push(format!(
                "device {} not deleted",
                d.name.as_deref().unwrap_or("(unnamed)")
            ));
        }
        for (l, t) in &ns.links {
            v.push(format!("symbolic link {l} -> {t} not deleted"));
        }
        for h in ns.handles.keys() {
            v.push(format!("object handle {h:#x} to a device not closed"));
        }
        v
    }

    /// Devices (by name) and links (link -> target) that exist now.
    pub fn objects(&self) -> (Vec<String>, Vec<(String, String)>) {
        let map = namespaces();
        let Some(ns) = map.get(&self.0) else {
            return (Vec::new(), Vec::new());
        };
        (
            ns.devices.iter().filter_map(|d| d.name.clone()).collect(),
            ns.links
                .iter()
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect(),
        )
    }

    /// The security descriptor set on the device named `name`, if any.
    pub fn security(&self, name: &str) -> Option<Vec<u8>> {
        let map = namespaces();
        let ns = map.get(&self.0)?;
        ns.devices
            .iter()
            .find(|d| {
                d.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })?
            .security
            .clone()
    }

    /// Calls of an I/O routine (`IoCreateDevice`, ...) the driver made in this namespace.
    pub fn calls(&self, routine: &str) -> u64 {
        namespaces()
            .get(&self.0)
            .and_then(|ns| ns.calls.get(routine).copied())
            .unwrap_or(0)
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let ns = namespaces().remove(&self.0);
        drop(ns);
    }
}

/// Restores the previous current namespace on drop.
#[derive(Debug)]
#[must_use]
pub struct NsGuard(u64);

impl Drop for NsGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` on the current namespace (counting a call of `routine`), or returns `None`
/// outside any (an image called an I/O routine with no harness namespace current).
fn with_ns<T>(routine: &'static str, f: impl FnOnce(&mut Ns) -> T) -> Option<T> {
    let id = CURRENT.with(Cell::get);
    let mut map = namespaces();
    let ns = map.get_mut(&id)?;
    *ns.calls.entry(routine).or_insert(0) += 1;
    Some(f(ns))
}

/// The UTF-16 units of a `UNICODE_STRING` (empty for NULL).
///
/// # Safety
/// `s` is NULL or a valid `UNICODE_STRING` whose buffer holds `Length` bytes.
unsafe fn units(s: *const UNICODE_STRING) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: a valid UNICODE_STRING (caller).
    let s = unsafe { s.read_unaligned() };
    let n = usize::from(s.Length / 2);
    if n == 0 || s.Buffer.is_null() {
        return Some(String::new());
    }
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        // SAFETY: within the string's Length (caller).
        v.push(unsafe { s.Buffer.wrapping_add(i).read_unaligned() });
    }
    String::from_utf16(&v).ok()
}

fn require_passive(routine: &str) {
    let irql = clfs_emu::current_irql();
    if irql != clfs_emu::PASSIVE_LEVEL {
        clfs_emu::bugcheck(
            0x0A,
            0,
            usize::from(irql),
            0,
            0,
            &format!("{routine} called at IRQL {irql}; it requires PASSIVE_LEVEL"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The driver-side routines (win64)

/// `IoCreateDevice`: a zeroed `DEVICE_OBJECT` (`Type` 3, `DO_DEVICE_INITIALIZING`, a stack
/// size of one) with a zeroed extension, linked at the head of the driver's device list. Names must be
/// absolute and unique (`STATUS_OBJECT_NAME_COLLISION`). PASSIVE_LEVEL only.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe extern "win64" fn IoCreateDevice(
    driver: *mut DRIVER_OBJECT,
    extension_size: u32,
    name: *const UNICODE_STRING,
    device_type: u32,
    characteristics: u32,
    exclusive: u8,
    out: *mut *mut DEVICE_OBJECT,
) -> NTSTATUS {
    require_passive("IoCreateDevice");
    if let Some(st) = crate::ntos::enter("IoCreateDevice") {
        return st;
    }
    if driver.is_null() || out.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: NULL or a valid UNICODE_STRING (the routine's contract).
    let name = match unsafe { units(name) } {
        None => None,
        Some(n) if n.starts_with('\\') => Some(n),
        Some(_) => return STATUS_OBJECT_NAME_INVALID,
    };
    let created = with_ns("IoCreateDevice", |ns| {
        if let Some(n) = &name {
            if ns
                .devices
                .iter()
                .any(|d| d.name.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(n)))
            {
                return Err(STATUS_OBJECT_NAME_COLLISION);
            }
        }
        let mut extension = vec![0u64; (extension_size as usize).div_ceil(8)];
        let mut object: Box<DEVICE_OBJECT> = Box::default();
        object.Type = IO_TYPE_DEVICE;
        object.Size = (core::mem::size_of::<DEVICE_OBJECT>() + extension_size as usize) as u16;
        object.ReferenceCount = 0;
        object.DriverObject = driver;
        object.DeviceType = device_type;
        object.Characteristics = characteristics;
        object.Flags = DO_DEVICE_INITIALIZING | if exclusive != 0 { 0x8 } else { 0 };
        object.StackSize = 1;
        object.DeviceExtension = if extension_size == 0 {
            core::ptr::null_mut()
        } else {
            extension.as_mut_ptr().cast()
        };
        // SAFETY: the driver object of this namespace's driver, valid while it is loaded.
        object.NextDevice = unsafe { (*driver).DeviceObject };
        let p: *mut DEVICE_OBJECT = &mut *object;
        // SAFETY: as above.
        unsafe { (*driver).DeviceObject = p };
        ns.devices.push(DeviceRec {
            object,
            _extension: extension,
            name: name.clone(),
            security: None,
        });
        Ok(p)
    });
    match created {
        Some(Ok(p)) => {
            // SAFETY: a writable out pointer (checked non-null).
            unsafe { out.write_unaligned(p) };
            STATUS_SUCCESS
        }
        Some(Err(st)) => st,
        None => {
            eprintln!("[clfs-harness] IoCreateDevice outside a harness namespace");
            STATUS_INSUFFICIENT_RESOURCES
        }
    }
}

/// `IoDeleteDevice`: unlinks the device from its driver's list. Deleting a device that is
/// not one of the driver's live devices bugchecks, as a double delete would corrupt the
/// kernel.
pub(crate) unsafe extern "win64" fn IoDeleteDevice(device: *mut DEVICE_OBJECT) {
    let _ = crate::ntos::enter("IoDeleteDevice");
    let found = with_ns("IoDeleteDevice", |ns| {
        let i = ns
            .devices
            .iter()
            .position(|d| core::ptr::eq(&*d.object, device))?;
        let rec = ns.devices.remove(i);
        let driver = rec.object.DriverObject;
        if !driver.is_null() {
            // SAFETY: the driver object is live while its driver is loaded.
            let mut link: *mut *mut DEVICE_OBJECT = unsafe { &raw mut (*driver).DeviceObject };
            loop {
                // SAFETY: `link` points at the list head or at a live device's NextDevice
                // (the list holds only this namespace's live devices: IoCreateDevice links
                // them, this routine unlinks them).
                let cur = unsafe { *link };
                if cur.is_null() {
                    break;
                }
                if cur == device {
                    // SAFETY: `cur` is a live device of the list (see above).
                    let next = unsafe { (*cur).NextDevice };
                    // SAFETY: `link` is valid for writes (see above).
                    unsafe { *link = next };
                    break;
                }
                // SAFETY: `cur` is a live device of the list.
                link = unsafe { &raw mut (*cur).NextDevice };
            }
        }
        ns.deleted.push(rec);
        Some(())
    });
    if found.flatten().is_none() {
        clfs_emu::bugcheck(
            0x7E,
            device as usize,
            0,
            0,
            0,
            &format!("IoDeleteDevice({device:p}): not a live device object of this driver"),
        );
    }
}

/// `IoCreateSymbolicLink`: `link` (e.g. `\??\ClfsSample`) -> `target`. Unique names.
pub(crate) unsafe extern "win64" fn IoCreateSymbolicLink(
    link: *const UNICODE_STRING,
    target: *const UNICODE_STRING,
) -> NTSTATUS {
    require_passive("IoCreateSymbolicLink");
    if let Some(st) = crate::ntos::enter("IoCreateSymbolicLink") {
        return st;
    }
    // SAFETY: valid UNICODE_STRINGs (the routine's contract).
    let (Some(l), Some(t)) = (unsafe { units(link) }, unsafe { units(target) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if !l.starts_with('\\') || !t.starts_with('\\') {
        return STATUS_OBJECT_NAME_INVALID;
    }
    with_ns("IoCreateSymbolicLink", |ns| {
        let key = l.to_ascii_uppercase();
        if ns.links.contains_key(&key) {
            return STATUS_OBJECT_NAME_COLLISION;
        }
        ns.links.insert(key, t);
        STATUS_SUCCESS
    })
    .unwrap_or(STATUS_INSUFFICIENT_RESOURCES)
}

/// `IoDeleteSymbolicLink`.
pub(crate) unsafe extern "win64" fn IoDeleteSymbolicLink(link: *const UNICODE_STRING) -> NTSTATUS {
    require_passive("IoDeleteSymbolicLink");
    let _ = crate::ntos::enter("IoDeleteSymbolicLink");
    // SAFETY: a valid UNICODE_STRING (the routine's contract).
    let Some(l) = (unsafe { units(link) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    with_ns("IoDeleteSymbolicLink", |ns| {
        match ns.links.remove(&l.to_ascii_uppercase()) {
            Some(_) => STATUS_SUCCESS,
            None => STATUS_OBJECT_NAME_NOT_FOUND,
        }
    })
    .unwrap_or(STATUS_OBJECT_NAME_NOT_FOUND)
}

/// `ObOpenObjectByPointer`, for device objects of this driver: a kernel handle that
/// `ZwSetSecurityObject` and `ObCloseHandle` accept.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe extern "win64" fn ObOpenObjectByPointer(
    object: *mut c_void,
    _attributes: u32,
    _access_state: *const c_void,
    _desired_access: u32,
    _object_type: *const c_void,
    _access_mode: i8,
    handle: *mut *mut c_void,
) -> NTSTATUS {
    require_passive("ObOpenObjectByPointer");
    if let Some(st) = crate::ntos::enter("ObOpenObjectByPointer") {
        return st;
    }
    if handle.is_null() || object.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    let opened = with_ns("ObOpenObjectByPointer", |ns| {
        if !ns
            .devices
            .iter()
            .any(|d| core::ptr::eq(&*d.object, object.cast()))
        {
            return Err(STATUS_OBJECT_TYPE_MISMATCH);
        }
        ns.next_handle += 4;
        let h = 0xFFFF_FFFF_9000_0000_usize | ns.next_handle;
        ns.handles.insert(h, object as usize);
        Ok(h)
    });
    match opened {
        Some(Ok(h)) => {
            // SAFETY: a writable out pointer (checked non-null).
            unsafe { handle.write_unaligned(h as *mut c_void) };
            STATUS_SUCCESS
        }
        Some(Err(st)) => st,
        None => STATUS_OBJECT_TYPE_MISMATCH,
    }
}

/// The length of a valid self-relative security descriptor at `sd` (its parts' extent), or
/// `None` if it is not one.
///
/// # Safety
/// `sd` points to a readable self-relative descriptor (the caller's contract).
unsafe fn security_descriptor_len(sd: *const u8) -> Option<usize> {
    let read = |at: usize, n: usize| -> Vec<u8> {
        // SAFETY: within the descriptor (the caller's contract; parts are bounds-checked
        // against their own headers below).
        (0..n)
            .map(|i| unsafe { sd.wrapping_add(at + i).read() })
            .collect()
    };
    let h = read(0, 20);
    let control = u16::from_le_bytes([h[2], h[3]]);
    if h[0] != 1 || control & 0x8000 == 0 {
        return None;
    }
    let off = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]) as usize;
    let mut end = 20;
    for (i, acl) in [(4, false), (8, false), (12, true), (16, true)] {
        let o = off(i);
        if o == 0 {
            continue;
        }
        if !(20..=4096).contains(&o) {
            return None;
        }
        let size = if acl {
            let a = read(o, 8);
            usize::from(u16::from_le_bytes([a[2], a[3]]))
        } else {
            let s = read(o, 2);
            8 + 4 * usize::from(s[1])
        };
        end = end.max(o + size);
    }
    (end <= 4096).then_some(end)
}

/// `ZwSetSecurityObject` on a handle from [`ObOpenObjectByPointer`]: stores the descriptor
/// (self-relative) on the device; [`IoManager::open`] checks its DACL.
pub(crate) unsafe extern "win64" fn ZwSetSecurityObject(
    handle: *mut c_void,
    _information: u32,
    sd: *const c_void,
) -> NTSTATUS {
    require_passive("ZwSetSecurityObject");
    if let Some(st) = crate::ntos::enter("ZwSetSecurityObject") {
        return st;
    }
    if sd.is_null() {
        return STATUS_INVALID_SECURITY_DESCR;
    }
    // SAFETY: a readable descriptor (the routine's contract).
    let Some(len) = (unsafe { security_descriptor_len(sd.cast()) }) else {
        return STATUS_INVALID_SECURITY_DESCR;
    };
    // SAFETY: `len` bytes of the descriptor, just measured.
    let bytes = unsafe { core::slice::from_raw_parts(sd.cast::<u8>(), len) }.to_vec();
    with_ns("ZwSetSecurityObject", |ns| {
        let Some(&device) = ns.handles.get(&(handle as usize)) else {
            return STATUS_INVALID_HANDLE;
        };
        match ns
            .devices
            .iter_mut()
            .find(|d| core::ptr::eq(&*d.object, device as *const DEVICE_OBJECT))
        {
            Some(d) => {
                d.security = Some(bytes);
                STATUS_SUCCESS
            }
            None => STATUS_INVALID_HANDLE,
        }
    })
    .unwrap_or(STATUS_INVALID_HANDLE)
}

/// Closes a handle [`ObOpenObjectByPointer`] returned; `false` if it is not one.
pub(crate) fn close_object_handle(handle: usize) -> bool {
    with_ns("ObCloseHandle", |ns| ns.handles.remove(&handle).is_some()).unwrap_or(false)
}

/// The IRP as the harness allocates it: the `IRP`, its one stack location, and bookkeeping
/// the driver never sees.
#[repr(C)]
struct IrpBox {
    irp: IRP,
    stack: [IO_STACK_LOCATION; 1],
    magic: u64,
    completions: AtomicU32,
}

const IRP_MAGIC: u64 = 0x4952_505F_4841_524E;

/// `IofCompleteRequest`: counts the completion (a second one bugchecks with
/// `MULTIPLE_IRP_COMPLETE_REQUESTS`, as the kernel does). A completion whose
/// `IoStatus.Status` is `STATUS_PENDING` (or `-1`) stops with
/// `DRIVER_VERIFIER_IOMANAGER_VIOLATION` (0xC9), parameter 1 `0x06`, as I/O Verification
/// does.
pub(crate) unsafe extern "win64" fn IofCompleteRequest(irp: *mut IRP, _boost: i8) {
    if irp.is_null() {
        clfs_emu::bugcheck(0x44, 0, 0, 0, 0, "IofCompleteRequest(NULL)");
    }
    let b = irp.cast::<IrpBox>();
    // SAFETY: every IRP the driver receives is the `irp` field (offset 0) of an IrpBox the
    // harness allocated and keeps alive until the dispatch routine returned.
    let magic = unsafe { &raw const (*b).magic };
    // SAFETY: as above: the field lies inside the live IrpBox.
    let magic = unsafe { magic.read() };
    if magic != IRP_MAGIC {
        clfs_emu::bugcheck(
            0x44,
            irp as usize,
            0,
            0,
            0,
            &format!("IofCompleteRequest({irp:p}): not an IRP the I/O manager sent"),
        );
    }
    // SAFETY: `irp` is the live IRP (checked above: an IrpBox the harness keeps alive);
    // this only forms the address of its IoStatus.Status field.
    let field = unsafe { &raw const (*irp).IoStatus.Anonymous.Status };
    // SAFETY: that field lies in the live IRP; the driver wrote it.
    let status = unsafe { field.read() };
    if status == STATUS_PENDING || status == -1 {
        crate::verifier::stop(
            0xC9,
            [0x06, status as u32 as usize, irp as usize, 0],
            &format!(
                "I/O verification: IofCompleteRequest({irp:p}) with IoStatus.Status {:#010x}: an IRP is completed with its final status, never STATUS_PENDING (or -1)",
                status as u32
            ),
        );
    }
    // SAFETY: as above.
    let n = unsafe { &(*b).completions }.fetch_add(1, Ordering::AcqRel);
    if n != 0 {
        clfs_emu::bugcheck(
            0x44,
            irp as usize,
            0,
            0,
            0,
            &format!("IofCompleteRequest({irp:p}): the IRP was already completed (MULTIPLE_IRP_COMPLETE_REQUESTS)"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The test side

/// Who opens the device, for the DACL check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// `NT AUTHORITY\SYSTEM` (S-1-5-18).
    System,
    /// An elevated administrator: BUILTIN\Administrators, Everyone, Authenticated Users.
    Administrator,
    /// A standard user: BUILTIN\Users, Everyone, Authenticated Users.
    User,
}

impl Caller {
    /// The caller's SIDs, in the binary layout.
    fn sids(self) -> Vec<Vec<u8>> {
        let sid = |auth: u8, subs: &[u32]| {
            let mut v = vec![1, subs.len() as u8, 0, 0, 0, 0, 0, auth];
            for s in subs {
                v.extend_from_slice(&s.to_le_bytes());
            }
            v
        };
        let everyone = sid(1, &[0]);
        let authenticated = sid(5, &[11]);
        match self {
            Caller::System => vec![sid(5, &[18]), everyone, sid(5, &[32, 544])],
            Caller::Administrator => vec![sid(5, &[32, 544]), everyone, authenticated],
            Caller::User => vec![sid(5, &[32, 545]), everyone, authenticated],
        }
    }
}

/// Maps generic rights to file rights (`IoFileObjectType`'s generic mapping, data bits only).
fn map_generic(mask: u32) -> u32 {
    let mut m = mask & 0x00FF_FFFF;
    if mask & 0x1000_0000 != 0 {
        m |= 0x001F_01FF; // GENERIC_ALL -> FILE_ALL_ACCESS
    }
    if mask & 0x8000_0000 != 0 {
        m |= 0x0012_0089; // GENERIC_READ -> FILE_GENERIC_READ
    }
    if mask & 0x4000_0000 != 0 {
        m |= 0x0012_0116; // GENERIC_WRITE -> FILE_GENERIC_WRITE
    }
    m
}

/// The access `caller` gets from a self-relative descriptor's DACL (no DACL: everything).
/// Only ACCESS_ALLOWED and ACCESS_DENIED ACEs are evaluated, in order.
pub fn granted_access(sd: Option<&[u8]>, caller: Caller) -> u32 {
    let Some(sd) = sd else {
        return u32::MAX;
    };
    let get16 = |b: &[u8], i: usize| {
        b.get(i..i + 2)
            .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
    };
    let get32 = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    let control = get16(sd, 2);
    let dacl = get32(sd, 16) as usize;
    if control & 0x4 == 0 || dacl == 0 {
        return u32::MAX;
    }
    let count = get16(sd, dacl + 4);
    let sids = caller.sids();
    let (mut granted, mut denied) = (0u32, 0u32);
    let mut at = dacl + 8;
    for _ in 0..count {
        let kind = sd.get(at).copied().unwrap_or(0xFF);
        let size = usize::from(get16(sd, at + 2));
        if size < 8 {
            break;
        }
        let mask = map_generic(get32(sd, at + 4));
        let sid = sd.get(at + 8..at + size).unwrap_or_default();
        let n = 8 + 4 * usize::from(sid.get(1).copied().unwrap_or(0));
        let sid = sid.get(..n).unwrap_or_default();
        if sids.iter().any(|s| s.as_slice() == sid) {
            match kind {
                0 => granted |= mask & !denied,
                1 => denied |= mask & !granted,
                _ => {}
            }
        }
        at += size;
    }
    granted
}

/// A request the harness refused to emulate, or a rule the driver broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The dispatch routine returned without completing the IRP.
    #[error("the dispatch routine for IRP_MJ {major:#04x} returned {status:#010x} without completing the IRP")]
    NotCompleted {
        /// The major function.
        major: u8,
        /// What the routine returned.
        status: u32,
    },
    /// `STATUS_PENDING` with the IRP marked pending: asynchronous completion is not emulated.
    /// (`STATUS_PENDING` without `IoMarkIrpPending` is a driver bug: it stops the run with
    /// `0xC9`/`0x23D`.)
    #[error("the dispatch routine marked the IRP pending and returned STATUS_PENDING; the harness does not emulate asynchronous completion")]
    Pending,
    /// The routine's return value differs from `IoStatus.Status`.
    #[error("the dispatch routine returned {returned:#010x} but completed the IRP with {completed:#010x}")]
    StatusMismatch {
        /// Returned.
        returned: u32,
        /// In `IoStatus.Status`.
        completed: u32,
    },
    /// `IoStatus.Information` larger than the output buffer.
    #[error("IoStatus.Information {information} exceeds the output buffer length {output} (status {status:#010x})")]
    InformationTooLarge {
        /// The value.
        information: usize,
        /// The output length.
        output: usize,
        /// The completion status.
        status: u32,
    },
    /// The driver wrote past the end of the system buffer.
    #[error("the driver wrote past the end of the {len}-byte system buffer (guard byte {offset} changed)")]
    Overrun {
        /// The buffer's length.
        len: usize,
        /// The first changed guard byte.
        offset: usize,
    },
    /// The driver set no routine for this major function.
    #[error("the driver has no dispatch routine for IRP_MJ {0:#04x}")]
    NoDispatch(u8),
    /// A transfer method the harness does not emulate (direct I/O needs MDLs).
    #[error("control code {0:#010x} uses direct I/O, which the harness does not emulate")]
    DirectIo(u32),
}

/// The outcome of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoResult {
    /// The completion status.
    pub status: NTSTATUS,
    /// `IoStatus.Information`.
    pub information: usize,
    /// The bytes copied back to the caller's output buffer.
    pub output: Vec<u8>,
}

/// One open file object.
struct FileRec {
    object: *mut FILE_OBJECT,
    _name: Vec<u16>,
    granted: u32,
}

// SAFETY: the FILE_OBJECT is heap memory owned by this record; the driver may read it from
// any thread (it is shared kernel memory there too).
unsafe impl Send for FileRec {}
// SAFETY: as above; the harness writes it only before the first IRP and after the last.
unsafe impl Sync for FileRec {}

impl Drop for FileRec {
    fn drop(&mut self) {
        // SAFETY: allocated by Box::into_raw in `open`, freed once here.
        drop(unsafe { Box::from_raw(self.object) });
    }
}

/// A handle to an open file object on a device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct File(u64);

/// The driver's unload state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnloadState {
    /// Running.
    Running,
    /// Unload requested while file objects were open: it runs when the last one closes.
    Pending,
    /// The unload routine ran.
    Unloaded,
}

/// The I/O manager for one loaded driver: owns the [`Driver`], sends it IRPs.
///
/// `&IoManager` may be shared by threads (scoped threads); every request is a synchronous
/// call into the image on the calling thread. Give each thread the test's emulator sandbox
/// (`clfs_emu::Sandbox::enter`).
pub struct IoManager {
    driver: Mutex<Driver>,
    /// The driver object's `MajorFunction` table after DriverEntry (addresses).
    major: [usize; 28],
    object: *mut DRIVER_OBJECT,
    files: Mutex<HashMap<u64, Arc<FileRec>>>,
    next_file: AtomicU64,
    unload: Mutex<UnloadState>,
}

// SAFETY: the driver's image and objects are only mutated by DriverEntry (before the
// IoManager exists) and the unload routine (under the `driver` lock, once no file is open);
// requests only read the dispatch table copy and call into the image, which is what a driver
// is built for: concurrent calls on many threads.
unsafe impl Send for IoManager {}
// SAFETY: as above.
unsafe impl Sync for IoManager {}

impl std::fmt::Debug for IoManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoManager").finish_non_exhaustive()
    }
}

/// `SL_PENDING_RETURNED`: the bit `IoMarkIrpPending` sets in the current stack location's
/// `Control`.
const SL_PENDING_RETURNED: u8 = 0x01;

/// I/O Verification's pending rule: `STATUS_PENDING` only with the IRP marked pending
/// (`IoMarkIrpPending`), and a marked IRP only with `STATUS_PENDING`. A violation stops the
/// run with `DRIVER_VERIFIER_IOMANAGER_VIOLATION` (0xC9), parameter 1 the I/O error code
/// (`0x23D` returned pending without the mark, `0x23E` marked without returning pending),
/// then the dispatch routine, the IRP and the status.
fn check_pending(major: u8, routine: usize, irp: usize, status: NTSTATUS, control: u8) {
    let Some(code) = pending_rule(status, control) else {
        return;
    };
    let who = format!(
        "I/O verification: {} at {}",
        crate::verifier::stack::Routine::Dispatch { major, device: 0 },
        crate::verifier::describe_code_address(routine)
    );
    let why = if code == 0x23D {
        format!(
                "{who} returned STATUS_PENDING but did not mark the IRP {irp:#x} pending: a dispatch routine that returns STATUS_PENDING must call IoMarkIrpPending first (SL_PENDING_RETURNED is clear in the stack location's Control {control:#04x})"
        )
    } else {
        format!(
                "{who} marked the IRP {irp:#x} pending (IoMarkIrpPending) but returned {:#010x}: a dispatch routine that marks an IRP pending must return STATUS_PENDING",
            status as u32
        )
    };
    crate::verifier::stop(0xC9, [code, routine, irp, status as u32 as usize], &why);
}

/// The I/O error code of a dispatch routine's return `status` with its stack location's
/// `control`: `0x23D` (`STATUS_PENDING`, not marked), `0x23E` (marked, not `STATUS_PENDING`),
/// `None` when they agree.
fn pending_rule(status: NTSTATUS, control: u8) -> Option<usize> {
    let marked = control & SL_PENDING_RETURNED != 0;
    match (status == STATUS_PENDING, marked) {
        (true, false) => Some(0x23D),
        (false, true) => Some(0x23E),
        _ => None,
    }
}

/// `NT_ERROR(status)`.
fn nt_error(status: NTSTATUS) -> bool {
    (status as u32) >> 30 == 3
}

impl IoManager {
    /// Takes a driver whose `DriverEntry` returned success.
    pub fn new(mut driver: Driver) -> IoManager {
        let table = driver.object().MajorFunction;
        let major = table.map(|f| f.map_or(0, |f| f as usize));
        let object: *mut DRIVER_OBJECT = driver.object_mut();
        IoManager {
            driver: Mutex::new(driver),
            major,
            object,
            files: Mutex::default(),
            next_file: AtomicU64::new(1),
            unload: Mutex::new(UnloadState::Running),
        }
    }

    fn lock_driver(&self) -> MutexGuard<'_, Driver> {
        self.driver.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the driver (its namespace, for checks).
    pub fn with_driver<T>(&self, f: impl FnOnce(&mut Driver) -> T) -> T {
        f(&mut self.lock_driver())
    }

    /// Sends one IRP to the driver and checks its completion.
    ///
    /// # Safety
    /// `b` is a fully built IRP for this driver's device; the image is the driver under test.
    unsafe fn call(&self, b: &mut IrpBox) -> Result<NTSTATUS, Violation> {
        let major = b.stack[0].MajorFunction;
        let addr = self.major.get(usize::from(major)).copied().unwrap_or(0);
        let is_code = self.lock_driver().image().is_code(addr);
        if addr == 0 || !is_code {
            return Err(Violation::NoDispatch(major));
        }
        b.magic = IRP_MAGIC;
        let stack: *mut IO_STACK_LOCATION = &mut b.stack[0];
        b.irp.Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation = stack;
        let device = b.stack[0].DeviceObject;
        let (ns, id) = {
            let d = self.lock_driver();
            (d.namespace_guard(), d.id())
        };
        let irp: *mut IRP = &mut b.irp;
        // SAFETY: `addr` is the driver's own dispatch routine in its code (checked above), a
        // win64 function of the DRIVER_DISPATCH shape, called with a live device object and
        // IRP that the caller keeps alive until we return; on this thread's driver stack, as
        // the driver.
        let status = unsafe {
            crate::verifier::stack::call_driver(
                id,
                addr,
                [device as u64, irp as u64, 0, 0],
                crate::verifier::stack::Routine::Dispatch {
                    major,
                    device: device as usize,
                },
            )
        } as u32 as NTSTATUS;
        drop(ns);
        // SAFETY: the stack location lives in `b`; the driver may have set bits in its
        // Control byte (IoMarkIrpPending) through the IRP's pointer during the call.
        let control = unsafe { (&raw const b.stack[0].Control).read_volatile() };
        check_pending(major, addr, irp as usize, status, control);
        if status == STATUS_PENDING {
            return Err(Violation::Pending);
        }
        if b.completions.load(Ordering::Acquire) == 0 {
            return Err(Violation::NotCompleted {
                major,
                status: status as u32,
            });
        }
        // SAFETY: the status field of the IO_STATUS_BLOCK union, written by the driver.
        let completed = unsafe { b.irp.IoStatus.Anonymous.Status };
        if completed != status {
            return Err(Violation::StatusMismatch {
                returned: status as u32,
                completed: completed as u32,
            });
        }
        Ok(status)
    }

    fn new_irp(major: u8, device: *mut DEVICE_OBJECT, file: *mut FILE_OBJECT) -> Box<IrpBox> {
        // SAFETY: IRP and IO_STACK_LOCATION are plain C structs for which all-zero is valid
        // (windows-sys derives Default as zeroed for them); the atomics are zero too.
        let mut b: Box<IrpBox> = Box::new(unsafe { core::mem::zeroed() });
        b.irp.Type = IO_TYPE_IRP;
        b.irp.Size =
            (core::mem::size_of::<IRP>() + core::mem::size_of::<IO_STACK_LOCATION>()) as u16;
        b.irp.StackCount = 1;
        b.irp.CurrentLocation = 1;
        b.irp.RequestorMode = 1; // UserMode
        b.irp.Tail.Overlay.OriginalFileObject = file;
        b.stack[0].MajorFunction = major;
        b.stack[0].DeviceObject = device;
        b.stack[0].FileObject = file;
        b
    }

    /// Opens `path` as `caller` for `access` (`FILE_READ_DATA` / `FILE_WRITE_DATA` bits):
    /// `\\.\Name` and `\??\Name` go through the symbolic link, `\Device\Name` directly; a
    /// remainder after the device name is passed to the driver in `FileObject.FileName`.
    /// The device's DACL is checked first (for a remainder only with
    /// `FILE_DEVICE_SECURE_OPEN`, as the I/O manager does), then the driver gets
    /// `IRP_MJ_CREATE`.
    pub fn open(
        &self,
        path: &str,
        access: u32,
        caller: Caller,
    ) -> Result<Result<File, NTSTATUS>, Violation> {
        if *self.unload.lock().unwrap_or_else(|e| e.into_inner()) != UnloadState::Running {
            return Ok(Err(STATUS_DELETE_PENDING));
        }
        let path = match path.strip_prefix("\\\\.\\") {
            Some(rest) => format!("\\??\\{rest}"),
            None => path.to_string(),
        };
        let ns = self.lock_driver().namespace().id();
        let resolved = {
            let map = namespaces();
            let Some(ns) = map.get(&ns) else {
                return Ok(Err(STATUS_OBJECT_NAME_NOT_FOUND));
            };
            // Resolve a link on the longest matching prefix.
            let upper = path.to_ascii_uppercase();
            let mut full = path.clone();
            for (l, t) in &ns.links {
                if upper == *l || upper.starts_with(&format!("{l}\\")) {
                    full = format!("{t}{}", &path[l.len()..]);
                }
            }
            let upper = full.to_ascii_uppercase();
            ns.devices.iter().find_map(|d| {
                let n = d.name.as_deref()?.to_ascii_uppercase();
                if upper == n || upper.starts_with(&format!("{n}\\")) {
                    let rest = full[n.len()..].to_string();
                    let p: *const DEVICE_OBJECT = &*d.object;
                    Some((
                        p.cast_mut(),
                        rest,
                        d.security.clone(),
                        d.object.Characteristics,
                        d.object.Flags,
                    ))
                } else {
                    None
                }
            })
        };
        let Some((device, rest, security, characteristics, flags)) = resolved else {
            return Ok(Err(STATUS_OBJECT_NAME_NOT_FOUND));
        };
        if flags & DO_DEVICE_INITIALIZING != 0 {
            return Ok(Err(STATUS_NO_SUCH_DEVICE));
        }
        if rest.is_empty() || characteristics & FILE_DEVICE_SECURE_OPEN != 0 {
            let granted = granted_access(security.as_deref(), caller);
            if access & !granted != 0 {
                return Ok(Err(STATUS_ACCESS_DENIED));
            }
        }
        let name: Vec<u16> = rest.encode_utf16().collect();
        // SAFETY: FILE_OBJECT is a plain C struct; all-zero is valid (windows-sys's Default).
        let mut object: Box<FILE_OBJECT> = Box::new(unsafe { core::mem::zeroed() });
        object.Type = IO_TYPE_FILE;
        object.Size = core::mem::size_of::<FILE_OBJECT>() as i16;
        object.DeviceObject = device;
        object.ReadAccess = access & FILE_READ_DATA != 0;
        object.WriteAccess = access & FILE_WRITE_DATA != 0;
        let rec = Arc::new(FileRec {
            object: Box::into_raw(object),
            _name: name,
            granted: access,
        });
        // SAFETY: our file object; the name buffer lives in `rec` as long as the object.
        unsafe {
            let n = (rec._name.len() * 2) as u16;
            (*rec.object).FileName = UNICODE_STRING {
                Length: n,
                MaximumLength: n,
                Buffer: rec._name.as_ptr().cast_mut(),
            };
        }
        let mut irp = Self::new_irp(IRP_MJ_CREATE, device, rec.object);
        // SAFETY: a built create IRP for the driver's device.
        let status = unsafe { self.call(&mut irp) }?;
        if status < 0 {
            return Ok(Err(status));
        }
        // SAFETY: our device object, live while the driver is loaded.
        unsafe { (*device).ReferenceCount += 1 };
        let id = self.next_file.fetch_add(1, Ordering::Relaxed);
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, rec);
        Ok(Ok(File(id)))
    }

    fn file(&self, f: &File) -> Option<Arc<FileRec>> {
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&f.0)
            .cloned()
    }

    /// Open file objects.
    pub fn open_files(&self) -> usize {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// `DeviceIoControl`: `input` (`None`: a NULL pointer with `in_len` bytes claimed) and an
    /// output buffer of `out_len` bytes (`out_null`: a NULL pointer). METHOD_BUFFERED: one
    /// system buffer of `max(in, out)` bytes (NULL if both are 0) with guard bytes after it;
    /// the reply is copied back unless the status is an error. METHOD_NEITHER: the caller's
    /// buffers are passed as they are.
    pub fn ioctl(
        &self,
        file: &File,
        code: u32,
        input: Option<&[u8]>,
        in_len: usize,
        out_len: usize,
        out_null: bool,
    ) -> Result<IoResult, Violation> {
        let fail = |status| {
            Ok(IoResult {
                status,
                information: 0,
                output: Vec::new(),
            })
        };
        let Some(rec) = self.file(file) else {
            return fail(STATUS_INVALID_HANDLE);
        };
        let method = code & 3;
        if method == 1 || method == 2 {
            return Err(Violation::DirectIo(code));
        }
        let need = (code >> 14) & 3;
        if (need & 1 != 0 && rec.granted & FILE_READ_DATA == 0)
            || (need & 2 != 0 && rec.granted & FILE_WRITE_DATA == 0)
        {
            return fail(STATUS_ACCESS_DENIED);
        }
        if (input.is_none() && in_len != 0) || (out_null && out_len != 0) {
            return fail(STATUS_INVALID_USER_BUFFER);
        }
        let input = input.map(|i| i.get(..in_len.min(i.len())).unwrap_or_default());
        let in_len = input.map_or(0, <[u8]>::len);
        let len = in_len.max(out_len);
        if len > MAX_SYSTEM_BUFFER {
            return fail(STATUS_INSUFFICIENT_RESOURCES);
        }
        let (u32_in, u32_out) = (in_len as u32, out_len as u32);
        // SAFETY: our file object, live while `rec` is.
        let device = unsafe { (*rec.object).DeviceObject };
        let mut irp = Self::new_irp(IRP_MJ_DEVICE_CONTROL, device, rec.object);
        let mut user_out = vec![0u8; out_len];
        let mut user_in = input.map(<[u8]>::to_vec).unwrap_or_default();
        let mut system: Vec<u8> = Vec::new();
        if method == 0 {
            if len != 0 {
                system = vec![GUARD_BYTE; len + GUARD];
                system[..in_len].copy_from_slice(&user_in);
                system[in_len..len].fill(0);
                irp.irp.AssociatedIrp.SystemBuffer = system.as_mut_ptr().cast();
            }
            irp.irp.UserBuffer = if out_len == 0 {
                core::ptr::null_mut()
            } else {
                user_out.as_mut_ptr().cast()
            };
        } else {
            irp.stack[0].Parameters.DeviceIoControl.Type3InputBuffer = if in_len == 0 {
                core::ptr::null_mut()
            } else {
                user_in.as_mut_ptr().cast()
            };
            irp.irp.UserBuffer = if out_len == 0 {
                core::ptr::null_mut()
            } else {
                user_out.as_mut_ptr().cast()
            };
        }
        irp.stack[0].Parameters.DeviceIoControl.IoControlCode = code;
        irp.stack[0].Parameters.DeviceIoControl.InputBufferLength = u32_in;
        irp.stack[0].Parameters.DeviceIoControl.OutputBufferLength = u32_out;
        // SAFETY: a built device-control IRP; its buffers live until we return.
        let status = unsafe { self.call(&mut irp) }?;
        let information = irp.irp.IoStatus.Information;
        if method == 0 {
            if let Some(offset) = system
                .get(len..)
                .and_then(|g| g.iter().position(|&b| b != GUARD_BYTE))
            {
                return Err(Violation::Overrun { len, offset });
            }
            if information > out_len && !nt_error(status) {
                return Err(Violation::InformationTooLarge {
                    information,
                    output: out_len,
                    status: status as u32,
                });
            }
            if !nt_error(status) && information != 0 {
                user_out[..information].copy_from_slice(&system[..information]);
            }
        }
        let copied = if nt_error(status) {
            0
        } else {
            information.min(out_len)
        };
        user_out.truncate(copied);
        Ok(IoResult {
            status,
            information,
            output: user_out,
        })
    }

    /// Sends any other major function (no buffers); returns its status.
    pub fn send(&self, file: &File, major: u8) -> Result<NTSTATUS, Violation> {
        let Some(rec) = self.file(file) else {
            return Ok(STATUS_INVALID_HANDLE);
        };
        // SAFETY: our file object, live while `rec` is.
        let device = unsafe { (*rec.object).DeviceObject };
        let mut irp = Self::new_irp(major, device, rec.object);
        // SAFETY: a built IRP without buffers.
        unsafe { self.call(&mut irp) }
    }

    /// Closes the handle: `IRP_MJ_CLEANUP` now; `IRP_MJ_CLOSE` once no request on the file
    /// object is in progress (other threads may still be in the driver with it); then, if
    /// an unload is pending and this was the last file object, the unload routine.
    /// Returns the statuses of cleanup and close.
    pub fn close(&self, file: File) -> Result<(NTSTATUS, NTSTATUS), Violation> {
        let Some(rec) = self
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&file.0)
        else {
            return Ok((STATUS_INVALID_HANDLE, STATUS_INVALID_HANDLE));
        };
        // SAFETY: our file object, live while `rec` is.
        let device = unsafe { (*rec.object).DeviceObject };
        let mut irp = Self::new_irp(IRP_MJ_CLEANUP, device, rec.object);
        // SAFETY: a built cleanup IRP.
        let cleanup = unsafe { self.call(&mut irp) }?;
        while Arc::strong_count(&rec) > 1 {
            std::thread::yield_now();
        }
        let mut irp = Self::new_irp(IRP_MJ_CLOSE, device, rec.object);
        // SAFETY: a built close IRP; the last IRP on this file object.
        let close = unsafe { self.call(&mut irp) }?;
        // SAFETY: our device object, live while the driver is loaded.
        unsafe { (*device).ReferenceCount -= 1 };
        drop(rec);
        let pending =
            *self.unload.lock().unwrap_or_else(|e| e.into_inner()) == UnloadState::Pending;
        if pending && self.open_files() == 0 {
            self.run_unload();
        }
        Ok((cleanup, close))
    }

    fn run_unload(&self) {
        let mut state = self.unload.lock().unwrap_or_else(|e| e.into_inner());
        if *state == UnloadState::Unloaded {
            return;
        }
        let mut d = self.lock_driver();
        // SAFETY: the driver under test, started, no file object open.
        let _ = unsafe { d.unload() };
        *state = UnloadState::Unloaded;
    }

    /// `sc stop`: calls the unload routine now if no file object is open, otherwise marks the
    /// unload pending (new opens fail with `STATUS_DELETE_PENDING`) and runs it when the last
    /// one closes.
    pub fn request_unload(&self) -> UnloadState {
        {
            let mut state = self.unload.lock().unwrap_or_else(|e| e.into_inner());
            if *state != UnloadState::Running {
                return *state;
            }
            *state = UnloadState::Pending;
        }
        if self.open_files() == 0 {
            self.run_unload();
        }
        self.unload_state()
    }

    /// Where the unload is.
    pub fn unload_state(&self) -> UnloadState {
        *self.unload.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The driver object.
    pub fn driver_object(&self) -> *const DRIVER_OBJECT {
        self.object
    }

    /// Gives the driver back (for its namespace's leak check after unload).
    pub fn into_driver(self) -> Driver {
        self.driver.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_needs_the_mark_and_the_mark_needs_pending() {
        assert_eq!(pending_rule(STATUS_PENDING, 0), Some(0x23D));
        assert_eq!(pending_rule(STATUS_PENDING, SL_PENDING_RETURNED), None);
        assert_eq!(
            pending_rule(STATUS_SUCCESS, SL_PENDING_RETURNED),
            Some(0x23E)
        );
        assert_eq!(
            pending_rule(STATUS_ACCESS_DENIED, SL_PENDING_RETURNED | 0x80),
            Some(0x23E)
        );
        assert_eq!(pending_rule(STATUS_SUCCESS, 0x80), None);
        assert_eq!(pending_rule(STATUS_ACCESS_DENIED, 0), None);
    }
}
