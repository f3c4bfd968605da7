//! The rest of the `clfs.sys` client surface: container scans and names,
//! `ClfsCreateMarshallingAreaEx`, the other information classes, `ClfsSetLogFileInformation`
//! and `ClfsGetIoStatistics`.
//!
//! Same conventions as [`crate::exports`]: every routine counts its call, bugchecks above
//! `APC_LEVEL`, answers an unknown handle with `STATUS_INVALID_HANDLE` and a NULL required
//! pointer with `STATUS_INVALID_PARAMETER`.
#![allow(non_snake_case)]

use core::ffi::c_void;

use crate::info;
use crate::marshal::CreateArea;
use crate::raw::{copy_in, rd, wr};
use crate::scan::{self, Scanned};
use crate::state::count_call;
use crate::status::*;
use crate::types::{
    CLFS_SCAN_CONTEXT, FILE_OBJECT, NTSTATUS, PALLOCATE_FUNCTION, PFREE_FUNCTION, POOL_TYPE,
    UNICODE_STRING,
};

/// `CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT`: the only defined `ClfsCreateMarshallingAreaEx`
/// flag.
pub const CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT: u64 = 0x1;

/// Counts the call, checks the IRQL, and returns an injected fault status if one is armed.
macro_rules! enter {
    ($name:literal) => {
        let fault = count_call!($name);
        crate::irql::check_clfs_irql($name);
        if let Some(st) = fault {
            return st;
        }
    };
}

/// `ClfsCreateScanContext`: initialises the caller's 56-byte `CLFS_SCAN_CONTEXT` for a scan
/// of `ccontainers` containers per call, starting at index `cfromcontainer`.
///
/// `escanmode`: on first use exactly one of `CLFS_SCAN_FORWARD`/`CLFS_SCAN_BACKWARD`; to
/// re-initialise a context that was not closed, `CLFS_SCAN_INIT` plus one direction. The
/// emulator allocates `pinfoContainer` (`ccontainers` entries) and frees it at
/// `CLFS_SCAN_CLOSE`. `STATUS_INVALID_PARAMETER` for a NULL context, a bad mode,
/// `ccontainers` of 0 or above 1024, or `cfromcontainer` not below the container count.
///
/// # Safety
/// `pcxscan` must be NULL or valid for reads and writes of a `CLFS_SCAN_CONTEXT`, and stay
/// at that address until the scan is closed.
pub unsafe extern "system" fn ClfsCreateScanContext(
    plfolog: *const FILE_OBJECT,
    cfromcontainer: u32,
    ccontainers: u32,
    escanmode: u8,
    pcxscan: *mut CLFS_SCAN_CONTEXT,
) -> NTSTATUS {
    enter!("ClfsCreateScanContext");
    {
        let emu = crate::state::emu();
        if let Err(s) = crate::log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    if pcxscan.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    match scan::create(
        plfolog as usize,
        pcxscan as usize,
        cfromcontainer,
        ccontainers,
        escanmode,
    ) {
        Ok((info, mode)) => {
            let cx = CLFS_SCAN_CONTEXT {
                cidNode: scan::node_id(),
                plfoLog: scan::object_ptr(plfolog as usize),
                cIndex: cfromcontainer,
                _pad0: 0,
                cContainers: ccontainers,
                _pad1: 0,
                cContainersReturned: 0,
                _pad2: 0,
                eScanMode: mode,
                _pad3: [0; 7],
                pinfoContainer: info,
            };
            // SAFETY: checked non-null; the caller's context is writable.
            unsafe { wr(pcxscan, cx) };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsScanLogContainers`: fills `pinfoContainer[0..cContainersReturned)` with the next
/// containers in direction `escanmode` (`CLFS_SCAN_FORWARD` or `CLFS_SCAN_BACKWARD`), or
/// closes the context (`CLFS_SCAN_CLOSE`, which frees the array and sets `pinfoContainer`
/// to NULL). After the last container: `STATUS_NO_MORE_ENTRIES` (a warning) with
/// `cContainersReturned` = 0. The first scan returns the start container in either
/// direction; later ones continue from the container returned last (`cIndex`). A scan that
/// returns containers writes the context's array back to `pinfoContainer`.
/// [`faults::override_output`](crate::faults::override_output) can make one such call report
/// another `cContainersReturned` or `cContainers`, or a NULL `pinfoContainer`.
///
/// # Safety
/// `pcxscan` must be NULL or a context initialised by [`ClfsCreateScanContext`] at the
/// same address.
pub unsafe extern "system" fn ClfsScanLogContainers(
    pcxscan: *mut CLFS_SCAN_CONTEXT,
    escanmode: u8,
) -> NTSTATUS {
    enter!("ClfsScanLogContainers");
    if pcxscan.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null; the caller's context is readable.
    let Some(mut cx) = (unsafe { rd(pcxscan.cast_const()) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    let st = match scan::scan(pcxscan as usize, escanmode) {
        Ok(Scanned::Some { n, index, array }) => {
            const R: &str = "ClfsScanLogContainers";
            cx.cContainersReturned =
                crate::faults::output_override(R, "cContainersReturned").unwrap_or(n);
            if let Some(c) = crate::faults::output_override(R, "cContainers") {
                cx.cContainers = c;
            }
            // faults::override_output accepts only 0 (NULL) for the pointer.
            cx.pinfoContainer = match crate::faults::output_override(R, "pinfoContainer") {
                Some(_) => core::ptr::null_mut(),
                None => array,
            };
            cx.cIndex = index;
            if let Some(i) = crate::faults::output_override(R, "cIndex") {
                scan::set_cursor(pcxscan as usize, i);
                cx.cIndex = i;
            }
            STATUS_SUCCESS
        }
        Ok(Scanned::End) => {
            cx.cContainersReturned = 0;
            STATUS_NO_MORE_ENTRIES
        }
        Ok(Scanned::Closed) => {
            cx.cContainersReturned = 0;
            cx.pinfoContainer = core::ptr::null_mut();
            cx.eScanMode = scan::SCAN_CLOSE;
            STATUS_SUCCESS
        }
        Err(s) => return s,
    };
    // SAFETY: non-null; the caller's context is writable.
    unsafe { wr(pcxscan, cx) };
    st
}

/// `ClfsGetContainerName`: the full path (`X:\...`, in the caller's namespace) of the
/// container whose *logical* id is `cidlogicalcontainer`.
///
/// `MaximumLength` is taken in bytes. The path is copied into `Buffer` (no terminating NUL)
/// and `Length` set; if it does not fit, as many whole characters as fit are copied and
/// `STATUS_BUFFER_OVERFLOW` (a warning) is returned. `*pcactuallencontainername` (optional)
/// receives the full length in characters in both cases. `STATUS_NOT_FOUND` if no container
/// has that logical id; `STATUS_INVALID_PARAMETER` for a NULL string, or a NULL `Buffer`
/// with a non-zero `MaximumLength`.
///
/// # Safety
/// `puszcontainername` must be NULL or valid, its `Buffer` writable for `MaximumLength`
/// bytes; `pcactuallencontainername` NULL or writable.
pub unsafe extern "system" fn ClfsGetContainerName(
    plfolog: *const FILE_OBJECT,
    cidlogicalcontainer: u32,
    puszcontainername: *mut UNICODE_STRING,
    pcactuallencontainername: *mut u32,
) -> NTSTATUS {
    enter!("ClfsGetContainerName");
    {
        let emu = crate::state::emu();
        if let Err(s) = crate::log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    // SAFETY: forwarded caller contract.
    let Some(mut us) = (unsafe { rd(puszcontainername.cast_const()) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if us.Buffer.is_null() && us.MaximumLength != 0 {
        return STATUS_INVALID_PARAMETER;
    }
    let name = match scan::container_name(plfolog as usize, cidlogicalcontainer) {
        Ok(n) => n,
        Err(s) => return s,
    };
    let room = usize::from(us.MaximumLength / 2);
    let n = name.len().min(room);
    if n > 0 {
        // SAFETY: `Buffer` is writable for `MaximumLength` bytes (caller), and
        // `n * 2 <= MaximumLength`; the source is a separate Rust allocation.
        unsafe { core::ptr::copy_nonoverlapping(name.as_ptr(), us.Buffer, n) };
    }
    us.Length = (n * 2) as u16;
    if let Some(len) = crate::faults::output_override("ClfsGetContainerName", "Length") {
        // faults::override_output refuses values above u16::MAX.
        us.Length = len as u16;
    }
    // SAFETY: non-null (read above).
    unsafe { wr(puszcontainername, us) };
    if !pcactuallencontainername.is_null() {
        let full =
            crate::faults::output_override("ClfsGetContainerName", "pcActualLenContainerName")
                .unwrap_or(name.len() as u32);
        // SAFETY: non-null; the caller's optional output is writable.
        unsafe { wr(pcactuallencontainername, full) };
    }
    if n < name.len() {
        STATUS_BUFFER_OVERFLOW
    } else {
        STATUS_SUCCESS
    }
}

/// `ClfsCreateMarshallingAreaEx` (Windows 10 1803+): [`ClfsCreateMarshallingArea`] plus
/// `calignmentsize` and `fflags`, with the corrected callback types.
///
/// `calignmentsize` must be 0 (the default) or a power of two no larger than
/// `cbmarshallingbuffer`; `fflags` may hold only `CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT`
/// (0x1); otherwise `STATUS_INVALID_PARAMETER` (after the handle check, before the checks
/// `ClfsCreateMarshallingArea` makes). The emulator builds each log block in place, so
/// skipping the buffer initialisation changes nothing it shows; the flag is accepted.
///
/// [`ClfsCreateMarshallingArea`]: crate::ClfsCreateMarshallingArea
///
/// # Safety
/// Pointer arguments must be NULL or valid; callbacks must behave as documented.
#[allow(clippy::too_many_arguments)]
pub unsafe extern "system" fn ClfsCreateMarshallingAreaEx(
    plfolog: *const FILE_OBJECT,
    epooltype: POOL_TYPE,
    pfnallocbuffer: PALLOCATE_FUNCTION,
    pfnfreebuffer: PFREE_FUNCTION,
    cbmarshallingbuffer: u32,
    cmaxwritebuffers: u32,
    cmaxreadbuffers: u32,
    calignmentsize: u32,
    fflags: u64,
    ppvmarshalcontext: *mut *mut c_void,
) -> NTSTATUS {
    enter!("ClfsCreateMarshallingAreaEx");
    {
        let emu = crate::state::emu();
        if let Err(s) = crate::log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    if fflags & !CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT != 0
        || (calignmentsize != 0
            && (!calignmentsize.is_power_of_two() || calignmentsize > cbmarshallingbuffer))
    {
        return STATUS_INVALID_PARAMETER;
    }
    let a = CreateArea {
        pool: epooltype,
        alloc: pfnallocbuffer,
        free: pfnfreebuffer,
        size: cbmarshallingbuffer,
        max_write: cmaxwritebuffers,
        max_read: cmaxreadbuffers,
        out_null: ppvmarshalcontext.is_null(),
    };
    // SAFETY: the caller's contract is this routine's.
    unsafe { crate::exports::create_area(plfolog, a, ppvmarshalcontext) }
}

/// `ClfsQueryLogFileInformation` for the classes beyond `CLFS_INFORMATION` (a dedicated log's
/// one stream is stream 0, the physical stream; a multiplexed log's streams are 1 to 123):
/// - `ClfsLogPhysicalNameInformation` (2): `CLFS_LOG_NAME_INFORMATION`, i.e.
///   `NameLengthInBytes` then the name of the base log file in the caller's namespace
///   (`C:\dir\name.blf`, no NUL); `2 + NameLengthInBytes` bytes.
/// - `ClfsLogStreamIdentifierInformation` (3): one byte, the stream identifier (0 for a
///   dedicated log and for the physical log of a multiplexed one).
/// - `ClfsLogSystemMarkingInformation` (4): a `ULONG` count of system marking references, 0.
/// - `ClfsLogPhysicalLsnInformation` (5): the input buffer is a `CLFS_PHYSICAL_LSN_INFORMATION`
///   (24 bytes) naming stream 0 or the object's stream and a valid virtual LSN; the output
///   repeats it with `PhysicalLsn` = `VirtualLsn` (a dedicated log's LSNs are physical, and
///   the emulator gives a multiplexed log's streams physical LSNs too: docs/emulator.md).
///
/// `*pcbinfobuffer` smaller than the class needs → the size needed is written and
/// `STATUS_BUFFER_TOO_SMALL`; a NULL output buffer, an unknown class, or a missing or bad
/// input for class 5 → `STATUS_INVALID_PARAMETER`. On success `*pcbinfobuffer` = bytes
/// written.
///
/// # Safety
/// `pcbinfobuffer` non-null and writable; `pinfobuffer` NULL or writable for `cb` bytes;
/// `pinfoinputbuffer` NULL or readable for `cbinfoinputbuffer` bytes.
pub(crate) unsafe fn query_other(
    h: usize,
    class: i32,
    pinfoinputbuffer: *const c_void,
    cbinfoinputbuffer: u32,
    pinfobuffer: *mut c_void,
    pcbinfobuffer: *mut u32,
    cb: u32,
) -> NTSTATUS {
    let out: Vec<u8> = match class {
        info::CLASS_PHYSICAL_NAME => match info::physical_name(h) {
            Ok(name) => {
                let Ok(n) = u16::try_from(name.len() * 2) else {
                    return STATUS_INVALID_PARAMETER;
                };
                let mut v = n.to_le_bytes().to_vec();
                v.extend(name.iter().flat_map(|c| c.to_le_bytes()));
                v
            }
            Err(s) => return s,
        },
        info::CLASS_STREAM_ID => match info::stream_id(h) {
            Ok(id) => vec![id],
            Err(s) => return s,
        },
        info::CLASS_SYSTEM_MARKING => 0u32.to_le_bytes().to_vec(),
        info::CLASS_PHYSICAL_LSN => {
            if pinfoinputbuffer.is_null() || cbinfoinputbuffer < 24 {
                return STATUS_INVALID_PARAMETER;
            }
            // SAFETY: the caller's input buffer holds at least 24 readable bytes.
            let Some(input) = (unsafe { copy_in(pinfoinputbuffer.cast::<u8>(), 24) }) else {
                return STATUS_INVALID_PARAMETER;
            };
            let mut vl = [0u8; 8];
            vl.copy_from_slice(&input[8..16]);
            let virtual_lsn = u64::from_le_bytes(vl);
            let sid = match info::stream_id(h) {
                Ok(id) => id,
                Err(s) => return s,
            };
            if (input[0] != 0 && input[0] != sid) || virtual_lsn >= crate::CLFS_LSN_INVALID {
                return STATUS_INVALID_PARAMETER;
            }
            if let Err(s) = info::lsn_bounds(h) {
                return s;
            }
            let mut v = vec![0u8; 24];
            v[8..16].copy_from_slice(&virtual_lsn.to_le_bytes());
            v[16..24].copy_from_slice(&virtual_lsn.to_le_bytes());
            v
        }
        _ => return STATUS_INVALID_PARAMETER,
    };
    let need = out.len() as u32;
    if cb < need {
        // SAFETY: non-null (caller).
        unsafe { wr(pcbinfobuffer, need) };
        return STATUS_BUFFER_TOO_SMALL;
    }
    if pinfobuffer.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the caller's buffer holds `cb >= need` writable bytes; `out` is a separate
    // allocation.
    unsafe { core::ptr::copy_nonoverlapping(out.as_ptr(), pinfobuffer.cast::<u8>(), out.len()) };
    let reported = crate::faults::length_override("ClfsQueryLogFileInformation");
    // SAFETY: non-null (caller).
    unsafe { wr(pcbinfobuffer, reported.unwrap_or(need)) };
    STATUS_SUCCESS
}

/// `ClfsSetLogFileInformation`. Which classes can be set is undocumented; the emulator
/// treats every class as read-only: a known class (0 to 5) → `STATUS_NOT_SUPPORTED`, after
/// the handle check and `STATUS_INVALID_PARAMETER` for a NULL buffer, a zero length or an
/// unknown class.
///
/// # Safety
/// `pinfobuffer` NULL or readable for `cbbuffer` bytes (it is not read).
pub unsafe extern "system" fn ClfsSetLogFileInformation(
    plfolog: *const FILE_OBJECT,
    einformationclass: i32,
    pinfobuffer: *const c_void,
    cbbuffer: u32,
) -> NTSTATUS {
    enter!("ClfsSetLogFileInformation");
    {
        let emu = crate::state::emu();
        if let Err(s) = crate::log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    if pinfobuffer.is_null() || cbbuffer == 0 || !(0..=5).contains(&einformationclass) {
        return STATUS_INVALID_PARAMETER;
    }
    STATUS_NOT_SUPPORTED
}

/// `ClfsGetIoStatistics`: a `CLFS_IO_STATISTICS` (48 bytes: a 16-byte header, version 1.0,
/// `cbLength` 48, `coffData` 16, then flushes, bytes flushed, metadata flushes and metadata
/// bytes flushed since the process started). A buffer of at least 16 bytes but less than 48
/// gets the first `cbstatsbuffer` bytes (partial data, as documented). `STATUS_INVALID_PARAMETER`
/// for a NULL buffer, `cbstatsbuffer < 16`, or a class other than `ClfsIoStatsDefault` (0;
/// the parameter is reserved). `*pcbstatswritten` (optional) = bytes written.
///
/// # Safety
/// `pvstatsbuffer` NULL or writable for `cbstatsbuffer` bytes; `pcbstatswritten` NULL or
/// writable.
pub unsafe extern "system" fn ClfsGetIoStatistics(
    plfolog: *const FILE_OBJECT,
    pvstatsbuffer: *mut c_void,
    cbstatsbuffer: u32,
    estatsclass: i32,
    pcbstatswritten: *mut u32,
) -> NTSTATUS {
    enter!("ClfsGetIoStatistics");
    let counts = match info::io_counts(plfolog as usize) {
        Ok(c) => c,
        Err(s) => return s,
    };
    if pvstatsbuffer.is_null() || cbstatsbuffer < 16 || estatsclass != 0 {
        return STATUS_INVALID_PARAMETER;
    }
    let mut v = Vec::with_capacity(48);
    v.push(1u8); // ubMajorVersion
    v.push(0u8); // ubMinorVersion
    v.extend_from_slice(&[0u8; 2]); // padding
    v.extend_from_slice(&0i32.to_le_bytes()); // eStatsClass
                                              // cbLength; faults::override_output refuses values above u16::MAX.
    let cb_length = crate::faults::output_override("ClfsGetIoStatistics", "cbLength").unwrap_or(48);
    v.extend_from_slice(&(cb_length as u16).to_le_bytes());
    v.extend_from_slice(&[0u8; 2]); // padding
    let coff_data = crate::faults::output_override("ClfsGetIoStatistics", "coffData").unwrap_or(16);
    v.extend_from_slice(&coff_data.to_le_bytes());
    for c in [
        counts.flushes,
        counts.bytes,
        counts.meta_flushes,
        counts.meta_bytes,
    ] {
        v.extend_from_slice(&c.to_le_bytes());
    }
    let n = v.len().min(cbstatsbuffer as usize);
    // SAFETY: the caller's buffer holds `cbstatsbuffer >= n` writable bytes.
    unsafe { core::ptr::copy_nonoverlapping(v.as_ptr(), pvstatsbuffer.cast::<u8>(), n) };
    if !pcbstatswritten.is_null() {
        let written = crate::faults::length_override("ClfsGetIoStatistics").unwrap_or(n as u32);
        // SAFETY: non-null; the caller's optional output is writable.
        unsafe { wr(pcbstatswritten, written) };
    }
    STATUS_SUCCESS
}
