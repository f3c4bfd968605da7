//! The exported routines, with exactly the types of windows-sys 0.61's raw declarations
//! (except `ClfsCreateMarshallingArea`'s corrected callback types).
//!
//! Every routine counts its call in the current sandbox; every `Clfs*` routine except the
//! LSN helpers bugchecks above `APC_LEVEL`. Handles are opaque keys into emulator tables:
//! an unknown or closed handle gets `STATUS_INVALID_HANDLE`; NULL required pointers get
//! `STATUS_INVALID_PARAMETER`.
#![allow(non_snake_case)]

use core::ffi::c_void;

use crate::log::{self, CreateArgs, DELETE, GENERIC_READ, GENERIC_WRITE};
use crate::marshal::{self, Append, CreateArea, Data, MAX_BUFFER, USE_RESERVATION};
use crate::raw::{copy_in, rd, unicode, wr, Gather};
use crate::read::{self, Got};
use crate::state::count_call;
use crate::status::*;
use crate::types::{
    CLFS_CONTEXT_MODE, CLS_INFORMATION, CLS_LOG_INFORMATION_CLASS, CLS_LSN, CLS_WRITE_ENTRY,
    FILE_OBJECT, NTSTATUS, PALLOCATE_FUNCTION, PFREE_FUNCTION, POOL_TYPE, PSECURITY_DESCRIPTOR,
    UNICODE_STRING,
};
use crate::CLFS_LSN_INVALID;

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

/// True if `h` is a live (not deleted) marshalling area.
fn area_ok(h: usize) -> bool {
    crate::state::emu()
        .areas
        .get(&h)
        .is_some_and(|a| !a.deleted)
}

fn st<T>(r: Result<T, NTSTATUS>) -> NTSTATUS {
    r.err().unwrap_or(STATUS_SUCCESS)
}

const MAX_ENTRIES: u32 = 1 << 20;

/// `fLogOptionFlag` with its context (reference §1.1, §2.1): the six `CLFS_FLAG_*` create
/// flags (REENTRANT_FILE_SYSTEM 0x8, NON_REENTRANT_FILTER 0x10, REENTRANT_FILTER 0x20,
/// IGNORE_SHARE_ACCESS 0x40, MINIFILTER_LEVEL 0x100, HIDDEN_SYSTEM_LOG 0x200) in any mix
/// (in-box callers pass 0x18), but at most one filter level (0x10, 0x20, 0x100); 0x10 and 0x100
/// need a context ("the caller passes the non-NULL …"); a context needs `cbContext > 0`, and a
/// non-zero size needs a context.
fn check_option_flag(flag: u32, ctx: *const c_void, cb: u32) -> Result<(), NTSTATUS> {
    if flag & !(0x8 | 0x10 | 0x20 | 0x40 | 0x100 | 0x200) != 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if (flag & (0x10 | 0x20 | 0x100)).count_ones() > 1 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if ctx.is_null() != (cb == 0) {
        return Err(STATUS_INVALID_PARAMETER);
    }
    if flag & (0x10 | 0x100) != 0 && ctx.is_null() {
        return Err(STATUS_INVALID_PARAMETER);
    }
    Ok(())
}

/// `ClfsCreateLogFile`: creates or opens a dedicated log (`log:<path>`), a stream of a
/// multiplexed log (`log:<path>::<stream>`, creating the multiplexed log if needed) or the
/// physical log of a multiplexed log (`log:<path>::`).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented for Clfs.sys.
pub unsafe extern "system" fn ClfsCreateLogFile(
    pplfolog: *mut *mut FILE_OBJECT,
    puszlogfilename: *const UNICODE_STRING,
    fdesiredaccess: u32,
    dwsharemode: u32,
    psdlogfile: PSECURITY_DESCRIPTOR,
    fcreatedisposition: u32,
    fcreateoptions: u32,
    fflagsandattributes: u32,
    flogoptionflag: u32,
    pvcontext: *const c_void,
    cbcontext: u32,
) -> NTSTATUS {
    enter!("ClfsCreateLogFile");
    if pplfolog.is_null() || puszlogfilename.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    if fdesiredaccess & !(GENERIC_READ | GENERIC_WRITE | DELETE) != 0
        || dwsharemode & !7 != 0
        || fcreateoptions & !0x38 != 0
        || fcreateoptions & 0x30 == 0x30
        || !matches!(fflagsandattributes, 0 | 0x80 | 0x1 | 0x20 | 0x21)
        || !matches!(fcreatedisposition, 1..=3)
    {
        return STATUS_INVALID_PARAMETER;
    }
    if let Err(s) = check_option_flag(flogoptionflag, pvcontext, cbcontext) {
        return s;
    }
    crate::state::record_create(crate::state::CreateCall {
        create_options: fcreateoptions,
        log_option_flag: flogoptionflag,
        security_descriptor: psdlogfile as usize,
        context: pvcontext as usize,
        context_len: cbcontext,
    });
    // SAFETY: non-null; the caller passes a valid UNICODE_STRING.
    let name = match unsafe { unicode(puszlogfilename) } {
        Ok(n) => n,
        Err(s) => return s,
    };
    let name = match crate::names::parse_log_name(&name) {
        Ok(n) => n,
        Err(s) => return s,
    };
    let args = CreateArgs {
        rel: name.rel,
        access: fdesiredaccess,
        share: dwsharemode,
        disposition: fcreatedisposition,
        attributes: fflagsandattributes,
        stream: name.stream,
    };
    match log::create(args) {
        Ok(h) => {
            // SAFETY: checked non-null above; the caller passes a writable pointer.
            unsafe {
                wr(
                    pplfolog,
                    core::ptr::without_provenance_mut::<FILE_OBJECT>(h),
                )
            };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsCloseLogFileObject`. Live marshalling areas of this object are deleted (flushed)
/// and their read contexts terminated.
///
/// # Safety
/// None beyond the FFI contract: the handle is never dereferenced.
pub unsafe extern "system" fn ClfsCloseLogFileObject(plfolog: *const FILE_OBJECT) -> NTSTATUS {
    enter!("ClfsCloseLogFileObject");
    log::close(plfolog as usize)
}

/// `ClfsCloseAndResetLogFile`: marks the object's stream for reset, then closes the object
/// as `ClfsCloseLogFileObject` does. The reset happens when the stream's last object closes:
/// the stream's base, restart and archive tail move to the log's end, so it reads as a stream
/// that was never written (its LSNs keep growing; none is reused). The object needs write
/// access (else `STATUS_ACCESS_DENIED`); the physical log of a multiplexed log has no stream
/// to reset (`STATUS_LOG_MULTIPLEXED`); in both cases the object stays open.
///
/// # Safety
/// None beyond the FFI contract: the handle is never dereferenced.
pub unsafe extern "system" fn ClfsCloseAndResetLogFile(plfolog: *const FILE_OBJECT) -> NTSTATUS {
    enter!("ClfsCloseAndResetLogFile");
    log::close_and_reset(plfolog as usize)
}

/// `ClfsDeleteLogFile`: marks a log for deletion by name.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented for Clfs.sys.
pub unsafe extern "system" fn ClfsDeleteLogFile(
    puszlogfilename: *const UNICODE_STRING,
    pvreserved: *const c_void,
    flogoptionflag: u32,
    pvcontext: *const c_void,
    cbcontext: u32,
) -> NTSTATUS {
    enter!("ClfsDeleteLogFile");
    if puszlogfilename.is_null() || !pvreserved.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    if let Err(s) = check_option_flag(flogoptionflag, pvcontext, cbcontext) {
        return s;
    }
    // SAFETY: non-null; the caller passes a valid UNICODE_STRING.
    let name = match unsafe { unicode(puszlogfilename) } {
        Ok(n) => n,
        Err(s) => return s,
    };
    let name = match crate::names::parse_log_name(&name) {
        Ok(n) => n,
        Err(s) => return s,
    };
    log::delete_by_name(&name.rel, name.stream.as_deref())
}

/// `ClfsDeleteLogByPointer`: marks the log for deletion (needs `DELETE` access).
///
/// # Safety
/// None beyond the FFI contract: the handle is never dereferenced.
pub unsafe extern "system" fn ClfsDeleteLogByPointer(plfolog: *const FILE_OBJECT) -> NTSTATUS {
    enter!("ClfsDeleteLogByPointer");
    log::delete_by_pointer(plfolog as usize)
}

/// Reads `n` container names.
///
/// # Safety
/// `p` must be NULL or point to `n` valid `UNICODE_STRING`s.
unsafe fn names(p: *const UNICODE_STRING, n: usize) -> Result<Vec<Vec<u16>>, NTSTATUS> {
    if p.is_null() || n == 0 {
        return Err(STATUS_INVALID_PARAMETER);
    }
    // SAFETY: forwarded caller contract.
    let list = unsafe { copy_in(p, n) }.ok_or(STATUS_INVALID_PARAMETER)?;
    let mut out = Vec::with_capacity(n);
    for u in &list {
        // SAFETY: each element is a valid UNICODE_STRING by the caller's contract.
        out.push(unsafe { unicode(u) }?);
    }
    Ok(out)
}

/// Shared body of the two add routines.
///
/// # Safety
/// `pcb` NULL or valid for read/write; `paths` valid for `n` strings.
unsafe fn add(
    plfolog: *const FILE_OBJECT,
    n: usize,
    pcb: *const u64,
    paths: *const UNICODE_STRING,
) -> NTSTATUS {
    {
        let emu = crate::state::emu();
        if let Err(s) = log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    // SAFETY: forwarded caller contract.
    let list = match unsafe { names(paths, n) } {
        Ok(l) => l,
        Err(s) => return s,
    };
    // SAFETY: forwarded caller contract.
    let size = unsafe { rd(pcb) };
    match log::add_containers(plfolog as usize, size, &list) {
        Ok(sz) => {
            // SAFETY: the documented in/out size; NULL is skipped.
            unsafe { wr(pcb.cast_mut(), sz) };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsAddLogContainer`. `pcbcontainer` is in/out (written back with the actual size).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented; `pcbcontainer` must be writable.
pub unsafe extern "system" fn ClfsAddLogContainer(
    plfolog: *const FILE_OBJECT,
    pcbcontainer: *const u64,
    puszcontainerpath: *const UNICODE_STRING,
) -> NTSTATUS {
    enter!("ClfsAddLogContainer");
    // SAFETY: forwarded caller contract.
    unsafe { add(plfolog, 1, pcbcontainer, puszcontainerpath) }
}

/// `ClfsAddLogContainerSet` (all or nothing).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented; `pcbcontainer` must be writable.
pub unsafe extern "system" fn ClfsAddLogContainerSet(
    plfolog: *const FILE_OBJECT,
    ccontainers: u16,
    pcbcontainer: *const u64,
    rguszcontainerpath: *const UNICODE_STRING,
) -> NTSTATUS {
    enter!("ClfsAddLogContainerSet");
    // SAFETY: forwarded caller contract.
    unsafe {
        add(
            plfolog,
            usize::from(ccontainers),
            pcbcontainer,
            rguszcontainerpath,
        )
    }
}

/// Shared body of the remove routines.
///
/// # Safety
/// `paths` valid for `n` strings.
unsafe fn remove(
    plfolog: *const FILE_OBJECT,
    n: usize,
    paths: *const UNICODE_STRING,
    force: bool,
) -> NTSTATUS {
    {
        let emu = crate::state::emu();
        if let Err(s) = log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    // SAFETY: forwarded caller contract.
    match unsafe { names(paths, n) } {
        Ok(l) => log::remove_containers(plfolog as usize, &l, force),
        Err(s) => s,
    }
}

/// `ClfsRemoveLogContainer`.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsRemoveLogContainer(
    plfolog: *const FILE_OBJECT,
    puszcontainerpath: *const UNICODE_STRING,
    fforce: bool,
) -> NTSTATUS {
    enter!("ClfsRemoveLogContainer");
    // SAFETY: forwarded caller contract.
    unsafe { remove(plfolog, 1, puszcontainerpath, fforce) }
}

/// `ClfsRemoveLogContainerSet` (all or nothing).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsRemoveLogContainerSet(
    plfolog: *const FILE_OBJECT,
    ccontainers: u16,
    rgwszcontainerpath: *const UNICODE_STRING,
    fforce: bool,
) -> NTSTATUS {
    enter!("ClfsRemoveLogContainerSet");
    // SAFETY: forwarded caller contract.
    unsafe {
        remove(
            plfolog,
            usize::from(ccontainers),
            rgwszcontainerpath,
            fforce,
        )
    }
}

/// `ClfsQueryLogFileInformation`: classes `ClfsLogBasicInformation` (0) and
/// `ClfsLogBasicInformationPhysical` (1) fill a 120-byte `CLFS_INFORMATION`; the other
/// classes (2 to 5) are answered as [`query_other`](crate::client_exports) documents.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsQueryLogFileInformation(
    plfolog: *const FILE_OBJECT,
    einformationclass: CLS_LOG_INFORMATION_CLASS,
    pinfoinputbuffer: *const c_void,
    cbinfoinputbuffer: u32,
    pinfobuffer: *mut c_void,
    pcbinfobuffer: *mut u32,
) -> NTSTATUS {
    enter!("ClfsQueryLogFileInformation");
    {
        let emu = crate::state::emu();
        if let Err(s) = log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    // SAFETY: forwarded caller contract.
    let Some(cb) = (unsafe { rd(pcbinfobuffer) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if !matches!(einformationclass, 0 | 1) {
        // SAFETY: forwarded caller contract; `pcbinfobuffer` is non-null (read above).
        return unsafe {
            crate::client_exports::query_other(
                plfolog as usize,
                einformationclass,
                pinfoinputbuffer,
                cbinfoinputbuffer,
                pinfobuffer,
                pcbinfobuffer,
                cb,
            )
        };
    }
    let need = core::mem::size_of::<CLS_INFORMATION>() as u32;
    if cb < need {
        // SAFETY: non-null (read above).
        unsafe { wr(pcbinfobuffer, need) };
        return STATUS_BUFFER_TOO_SMALL;
    }
    if pinfobuffer.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    match log::query(plfolog as usize, einformationclass == 1) {
        Ok(info) => {
            // SAFETY: the caller's buffer holds at least `need` bytes (its stated size).
            unsafe { wr(pinfobuffer.cast::<CLS_INFORMATION>(), info) };
            let reported = crate::faults::length_override("ClfsQueryLogFileInformation");
            // SAFETY: non-null (read above).
            unsafe { wr(pcbinfobuffer, reported.unwrap_or(need)) };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsCreateMarshallingArea`. One write block is allocated at once; more on demand up to
/// `cmaxwritebuffers`; each read context holds one read block (up to `cmaxreadbuffers`).
///
/// # Safety
/// Pointer arguments must be NULL or valid; callbacks must behave as documented.
pub unsafe extern "system" fn ClfsCreateMarshallingArea(
    plfolog: *const FILE_OBJECT,
    epooltype: POOL_TYPE,
    pfnallocbuffer: PALLOCATE_FUNCTION,
    pfnfreebuffer: PFREE_FUNCTION,
    cbmarshallingbuffer: u32,
    cmaxwritebuffers: u32,
    cmaxreadbuffers: u32,
    ppvmarshalcontext: *mut *mut c_void,
) -> NTSTATUS {
    enter!("ClfsCreateMarshallingArea");
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
    unsafe { create_area(plfolog, a, ppvmarshalcontext) }
}

/// The body `ClfsCreateMarshallingArea` and `ClfsCreateMarshallingAreaEx` share, after their
/// own argument checks: creates the area and stores its handle in `*ppvmarshalcontext`.
///
/// # Safety
/// `ppvmarshalcontext` is NULL (`a.out_null`, refused by `marshal::create`) or writable.
pub(crate) unsafe fn create_area(
    plfolog: *const FILE_OBJECT,
    a: CreateArea,
    ppvmarshalcontext: *mut *mut c_void,
) -> NTSTATUS {
    match marshal::create(plfolog as usize, a) {
        Ok(h) => {
            // SAFETY: checked non-null in create; the caller passes a writable pointer.
            unsafe {
                wr(
                    ppvmarshalcontext,
                    core::ptr::without_provenance_mut::<c_void>(h),
                )
            };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsDeleteMarshallingArea`: flushes the area's blocks and frees them; returns the flush
/// status.
///
/// # Safety
/// None beyond the FFI contract: the handle is never dereferenced.
pub unsafe extern "system" fn ClfsDeleteMarshallingArea(
    pvmarshalcontext: *const c_void,
) -> NTSTATUS {
    enter!("ClfsDeleteMarshallingArea");
    marshal::delete(pvmarshalcontext as usize)
}

/// Shared body of the two append routines.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
#[allow(clippy::too_many_arguments)]
unsafe fn reserve_and_append(
    ctx: *const c_void,
    entries: *const CLS_WRITE_ENTRY,
    n: u32,
    align: u32,
    undo: *const CLS_LSN,
    prev: *const CLS_LSN,
    nres: u32,
    res: *mut i64,
    flags: u32,
    plsn: *mut CLS_LSN,
) -> NTSTATUS {
    // SAFETY: forwarded caller contract.
    let st = unsafe {
        reserve_and_append_once(ctx, entries, n, align, undo, prev, nres, res, flags, plsn)
    };
    // Auto-grow and log-tail policies act after appends (no lock held here); a LOG_FULL
    // that auto-grow cured is retried once.
    if crate::mgmt::after_append(ctx as usize, st == STATUS_LOG_FULL) && st == STATUS_LOG_FULL {
        // SAFETY: forwarded caller contract.
        return unsafe {
            reserve_and_append_once(ctx, entries, n, align, undo, prev, nres, res, flags, plsn)
        };
    }
    st
}

/// One attempt of [`reserve_and_append`].
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
#[allow(clippy::too_many_arguments)]
unsafe fn reserve_and_append_once(
    ctx: *const c_void,
    entries: *const CLS_WRITE_ENTRY,
    n: u32,
    align: u32,
    undo: *const CLS_LSN,
    prev: *const CLS_LSN,
    nres: u32,
    res: *mut i64,
    flags: u32,
    plsn: *mut CLS_LSN,
) -> NTSTATUS {
    // One lock and one handle lookup for the whole call: the handle is checked first, then
    // the parameters (the caller's memory is read under the lock; allocator callbacks run
    // under it anyway).
    let mut emu = crate::state::emu();
    let args = || {
        if (entries.is_null() && n != 0)
            || flags & !7 != 0
            || (nres > 0 && res.is_null())
            || (flags & USE_RESERVATION != 0 && (nres != 0 || !res.is_null()))
            || (flags & USE_RESERVATION != 0 && n == 0)
            || (n > 0 && plsn.is_null())
            || (n == 0 && nres == 0)
            || nres > MAX_ENTRIES
            || n > MAX_ENTRIES
        {
            return Err(STATUS_INVALID_PARAMETER);
        }
        // SAFETY: forwarded caller contract.
        let undo = unsafe { rd(undo) }.map_or(CLFS_LSN_INVALID, |l| l.Internal);
        // SAFETY: forwarded caller contract.
        let prev = unsafe { rd(prev) }.map_or(CLFS_LSN_INVALID, |l| l.Internal);
        // SAFETY: forwarded caller contract.
        let resv =
            unsafe { copy_in(res.cast_const(), nres as usize) }.ok_or(STATUS_INVALID_PARAMETER)?;
        let rec = if n > 0 {
            // SAFETY: forwarded caller contract (entries and their buffers stay valid for
            // the call).
            let g = unsafe { Gather::new(entries, n, align, u64::from(MAX_BUFFER)) }?;
            Some(Append {
                data: Data::Entries(g),
                ty: 1,
                undo,
                prev,
                flags,
            })
        } else {
            None
        };
        Ok((rec, resv))
    };
    match marshal::reserve_and_append(&mut emu, ctx as usize, args) {
        Ok((l, resv)) => {
            for (i, v) in resv.iter().enumerate() {
                // SAFETY: `res` holds `nres` writable elements (in/out array).
                unsafe { wr(res.wrapping_add(i), *v) };
            }
            if let Some(l) = l {
                // SAFETY: checked non-null when a record is appended.
                unsafe { wr(plsn, CLS_LSN { Internal: l }) };
            }
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsReserveAndAppendLog`: reserve and/or append one record (entries concatenated).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsReserveAndAppendLog(
    pvmarshalcontext: *const c_void,
    rgwriteentries: *const CLS_WRITE_ENTRY,
    cwriteentries: u32,
    plsnundonext: *const CLS_LSN,
    plsnprevious: *const CLS_LSN,
    creserverecords: u32,
    rgcbreservation: *mut i64,
    fflags: u32,
    plsn: *mut CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsReserveAndAppendLog");
    // SAFETY: forwarded caller contract.
    let status = unsafe {
        reserve_and_append(
            pvmarshalcontext,
            rgwriteentries,
            cwriteentries,
            1,
            plsnundonext,
            plsnprevious,
            creserverecords,
            rgcbreservation,
            fflags,
            plsn,
        )
    };
    // A reservation (a positive first entry after the call) can report another size.
    if status >= 0 && creserverecords > 0 {
        // SAFETY: the call succeeded, so `rgcbreservation` holds `creserverecords` elements.
        let reserved = unsafe { rd(rgcbreservation.cast_const()) }.unwrap_or(0) > 0;
        if reserved {
            if let Some(v) =
                crate::faults::output_override("ClfsReserveAndAppendLog", "rgcbReservation")
            {
                // SAFETY: as above.
                unsafe { wr(rgcbreservation, i64::from(v)) };
            }
        }
    }
    status
}

/// `ClfsReserveAndAppendLogAligned`: as above; entry `i > 0` starts at a multiple of
/// `cbentryalignment` from the record start (zero padding); no trailing padding.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsReserveAndAppendLogAligned(
    pvmarshalcontext: *const c_void,
    rgwriteentries: *const CLS_WRITE_ENTRY,
    cwriteentries: u32,
    cbentryalignment: u32,
    plsnundonext: *const CLS_LSN,
    plsnprevious: *const CLS_LSN,
    creserverecords: u32,
    rgcbreservation: *mut i64,
    fflags: u32,
    plsn: *mut CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsReserveAndAppendLogAligned");
    if cbentryalignment == 0 {
        if !area_ok(pvmarshalcontext as usize) {
            return STATUS_INVALID_HANDLE;
        }
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: forwarded caller contract.
    unsafe {
        reserve_and_append(
            pvmarshalcontext,
            rgwriteentries,
            cwriteentries,
            cbentryalignment,
            plsnundonext,
            plsnprevious,
            creserverecords,
            rgcbreservation,
            fflags,
            plsn,
        )
    }
}

/// `ClfsAlignReservedLog`: `*pcbalignreservation = Σ align8(40 + size)`.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsAlignReservedLog(
    pvmarshalcontext: *const c_void,
    crecords: u32,
    rgcbreservation: *const i64,
    pcbalignreservation: *mut i64,
) -> NTSTATUS {
    enter!("ClfsAlignReservedLog");
    if crecords == 0
        || crecords > MAX_ENTRIES
        || rgcbreservation.is_null()
        || pcbalignreservation.is_null()
    {
        if !area_ok(pvmarshalcontext as usize) {
            return STATUS_INVALID_HANDLE;
        }
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: forwarded caller contract.
    let Some(sizes) = (unsafe { copy_in(rgcbreservation, crecords as usize) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    match marshal::align(pvmarshalcontext as usize, &sizes) {
        Ok(t) => {
            // SAFETY: checked non-null above.
            unsafe { wr(pcbalignreservation, t) };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsAllocReservedLog`: reserves `crecords` records totalling `*pcbadjustment` bytes.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsAllocReservedLog(
    pvmarshalcontext: *const c_void,
    crecords: u32,
    pcbadjustment: *const i64,
) -> NTSTATUS {
    enter!("ClfsAllocReservedLog");
    // SAFETY: forwarded caller contract.
    match unsafe { rd(pcbadjustment) } {
        Some(adj) => marshal::alloc_reserved(pvmarshalcontext as usize, crecords, adj),
        None => STATUS_INVALID_PARAMETER,
    }
}

/// `ClfsFreeReservedLog`: negative = free that many bytes/records; otherwise set the
/// remaining totals.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsFreeReservedLog(
    pvmarshalcontext: *const c_void,
    crecords: u32,
    pcbadjustment: *const i64,
) -> NTSTATUS {
    enter!("ClfsFreeReservedLog");
    // SAFETY: forwarded caller contract.
    match unsafe { rd(pcbadjustment) } {
        Some(adj) => marshal::free_reserved(pvmarshalcontext as usize, crecords, adj),
        None => STATUS_INVALID_PARAMETER,
    }
}

/// `ClfsFlushToLsn`: `CLFS_LSN_NULL` flushes everything. `*plsnlastflushed` receives the
/// first LSN not flushed.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsFlushToLsn(
    pvmarshalcontext: *const c_void,
    plsnflush: *const CLS_LSN,
    plsnlastflushed: *mut CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsFlushToLsn");
    // SAFETY: forwarded caller contract.
    let Some(t) = (unsafe { rd(plsnflush) }) else {
        if !area_ok(pvmarshalcontext as usize) {
            return STATUS_INVALID_HANDLE;
        }
        return STATUS_INVALID_PARAMETER;
    };
    match marshal::flush_to(pvmarshalcontext as usize, t.Internal) {
        Ok(l) => {
            // SAFETY: optional output; NULL is skipped.
            unsafe { wr(plsnlastflushed, CLS_LSN { Internal: l }) };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsFlushBuffers`: flushes everything (same as `ClfsFlushToLsn(CLFS_LSN_NULL)`).
///
/// # Safety
/// None beyond the FFI contract: the handle is never dereferenced.
pub unsafe extern "system" fn ClfsFlushBuffers(pvmarshalcontext: *const c_void) -> NTSTATUS {
    enter!("ClfsFlushBuffers");
    st(marshal::flush_to(pvmarshalcontext as usize, 0))
}

/// `ClfsWriteRestartArea`: appends a restart record chained to the previous one, flushes
/// everything, optionally moves the base (`base <= new <= last`, else
/// `STATUS_LOG_TAIL_INVALID`).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsWriteRestartArea(
    pvmarshalcontext: *mut c_void,
    pvrestartbuffer: *const c_void,
    cbrestartbuffer: u32,
    plsnbase: *const CLS_LSN,
    fflags: u32,
    pcbwritten: *mut u32,
    plsnnext: *mut CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsWriteRestartArea");
    {
        if !area_ok(pvmarshalcontext as usize) {
            return STATUS_INVALID_HANDLE;
        }
    }
    if pvrestartbuffer.is_null()
        || cbrestartbuffer == 0
        || cbrestartbuffer > MAX_BUFFER
        || !matches!(fflags, 0 | 4)
    {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: the caller's buffer holds `cbrestartbuffer` bytes.
    let Some(data) = (unsafe { copy_in(pvrestartbuffer.cast::<u8>(), cbrestartbuffer as usize) })
    else {
        return STATUS_INVALID_PARAMETER;
    };
    // SAFETY: forwarded caller contract.
    let base = unsafe { rd(plsnbase) }.map(|l| l.Internal);
    match marshal::write_restart(pvmarshalcontext as usize, &data, base, fflags) {
        Ok((n, l)) => {
            if base.is_some() {
                mgmt::tail_moved_area(pvmarshalcontext as usize);
            }
            // SAFETY: optional output; NULL is skipped.
            unsafe { wr(pcbwritten, n) };
            // SAFETY: optional output; NULL is skipped.
            unsafe { wr(plsnnext, CLS_LSN { Internal: l }) };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// Writes a read result to the caller's outputs.
///
/// # Safety
/// Each pointer must be NULL or writable.
unsafe fn put(
    g: &Got,
    pbuf: *mut *mut c_void,
    pcb: *mut u32,
    pty: *mut u8,
    pundo: *mut CLS_LSN,
    pprev: *mut CLS_LSN,
) {
    // SAFETY: checked by the callers (required outputs).
    unsafe { wr(pbuf, g.ptr.cast::<c_void>()) };
    // SAFETY: as above.
    unsafe { wr(pcb, g.len) };
    // SAFETY: as above.
    unsafe { wr(pty, g.ty) };
    // SAFETY: as above.
    unsafe { wr(pundo, CLS_LSN { Internal: g.undo }) };
    // SAFETY: as above.
    unsafe { wr(pprev, CLS_LSN { Internal: g.prev }) };
}

/// `ClfsReadLogRecord`: reads a data record and opens a read context (one read block).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsReadLogRecord(
    pvmarshalcontext: *const c_void,
    plsnfirst: *mut CLS_LSN,
    pecontextmode: CLFS_CONTEXT_MODE,
    ppvreadbuffer: *mut *mut c_void,
    pcbreadbuffer: *mut u32,
    perecordtype: *mut u8,
    plsnundonext: *mut CLS_LSN,
    plsnprevious: *mut CLS_LSN,
    ppvreadcontext: *mut *mut c_void,
) -> NTSTATUS {
    enter!("ClfsReadLogRecord");
    {
        if !area_ok(pvmarshalcontext as usize) {
            return STATUS_INVALID_HANDLE;
        }
    }
    if ppvreadbuffer.is_null()
        || pcbreadbuffer.is_null()
        || perecordtype.is_null()
        || plsnundonext.is_null()
        || plsnprevious.is_null()
        || ppvreadcontext.is_null()
    {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: forwarded caller contract.
    let Some(first) = (unsafe { rd(plsnfirst) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    match read::read_record(pvmarshalcontext as usize, first.Internal, pecontextmode) {
        Ok((c, g)) => {
            // SAFETY: all outputs checked non-null above.
            unsafe {
                put(
                    &g,
                    ppvreadbuffer,
                    pcbreadbuffer,
                    perecordtype,
                    plsnundonext,
                    plsnprevious,
                )
            };
            // SAFETY: checked non-null above.
            unsafe {
                wr(
                    ppvreadcontext,
                    core::ptr::without_provenance_mut::<c_void>(c),
                )
            };
            // SAFETY: checked non-null above.
            unsafe { wr(plsnfirst, CLS_LSN { Internal: g.lsn }) };
            if let Some(len) = crate::faults::length_override("ClfsReadLogRecord") {
                // SAFETY: checked non-null above.
                unsafe { wr(pcbreadbuffer, len) };
            }
            if crate::faults::output_override("ClfsReadLogRecord", "ppvReadBuffer").is_some() {
                // SAFETY: checked non-null above.
                unsafe { wr(ppvreadbuffer, core::ptr::null_mut()) };
            }
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsReadNextLogRecord`: steps the read context (forward, previous or undo-next chain,
/// or to `*plsnuser`, which must be below the current LSN).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsReadNextLogRecord(
    pvreadcontext: *mut c_void,
    ppvbuffer: *mut *mut c_void,
    pcbbuffer: *mut u32,
    perecordtype: *mut u8,
    plsnuser: *const CLS_LSN,
    plsnundonext: *mut CLS_LSN,
    plsnprevious: *mut CLS_LSN,
    plsnrecord: *mut CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsReadNextLogRecord");
    // One lock: the handle is checked first, then the parameters, then the read; the
    // outputs are written under the lock too.
    let args = || {
        if ppvbuffer.is_null()
            || pcbbuffer.is_null()
            || plsnundonext.is_null()
            || plsnprevious.is_null()
            || plsnrecord.is_null()
        {
            return Err(STATUS_INVALID_PARAMETER);
        }
        // SAFETY: forwarded caller contract.
        let filter = unsafe { rd(perecordtype.cast_const()) }.ok_or(STATUS_INVALID_PARAMETER)?;
        // SAFETY: forwarded caller contract.
        let user = unsafe { rd(plsnuser) }.map(|l| l.Internal);
        Ok((filter, user))
    };
    let out = |g: &Got| {
        // SAFETY: all outputs checked non-null in `args`.
        unsafe {
            put(
                g,
                ppvbuffer,
                pcbbuffer,
                perecordtype,
                plsnundonext,
                plsnprevious,
            )
        };
        // SAFETY: checked non-null in `args`.
        unsafe { wr(plsnrecord, CLS_LSN { Internal: g.lsn }) };
    };
    let status = st(read::read_next(pvreadcontext as usize, args, out));
    if status >= 0 {
        if let Some(len) = crate::faults::length_override("ClfsReadNextLogRecord") {
            // SAFETY: non-null (checked by `args` before the successful read).
            unsafe { wr(pcbbuffer, len) };
        }
        if crate::faults::output_override("ClfsReadNextLogRecord", "ppvBuffer").is_some() {
            // SAFETY: non-null (checked by `args` before the successful read).
            unsafe { wr(ppvbuffer, core::ptr::null_mut()) };
        }
    }
    status
}

/// `ClfsReadRestartArea`: reads the newest restart record. With none, returns the
/// informational `STATUS_LOG_NO_RESTART` and writes no output.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsReadRestartArea(
    pvmarshalcontext: *mut c_void,
    ppvrestartbuffer: *mut *mut c_void,
    pcbrestartbuffer: *mut u32,
    plsn: *mut CLS_LSN,
    ppvreadcontext: *mut *mut c_void,
) -> NTSTATUS {
    enter!("ClfsReadRestartArea");
    {
        if !area_ok(pvmarshalcontext as usize) {
            return STATUS_INVALID_HANDLE;
        }
    }
    if ppvrestartbuffer.is_null()
        || pcbrestartbuffer.is_null()
        || plsn.is_null()
        || ppvreadcontext.is_null()
    {
        return STATUS_INVALID_PARAMETER;
    }
    match read::read_restart(pvmarshalcontext as usize) {
        Ok(Some((c, g))) => {
            const R: &str = "ClfsReadRestartArea";
            let buffer = match crate::faults::output_override(R, "ppvRestartBuffer") {
                Some(_) => core::ptr::null_mut(),
                None => g.ptr.cast::<c_void>(),
            };
            // SAFETY: checked non-null above.
            unsafe { wr(ppvrestartbuffer, buffer) };
            let len = crate::faults::length_override(R).unwrap_or(g.len);
            // SAFETY: checked non-null above.
            unsafe { wr(pcbrestartbuffer, len) };
            let lsn = match crate::faults::output_override(R, "plsn") {
                Some(_) => CLFS_LSN_INVALID,
                None => g.lsn,
            };
            // SAFETY: checked non-null above.
            unsafe { wr(plsn, CLS_LSN { Internal: lsn }) };
            // SAFETY: checked non-null above.
            unsafe {
                wr(
                    ppvreadcontext,
                    core::ptr::without_provenance_mut::<c_void>(c),
                )
            };
            STATUS_SUCCESS
        }
        Ok(None) => STATUS_LOG_NO_RESTART,
        Err(s) => s,
    }
}

/// `ClfsReadPreviousRestartArea`: steps back along the restart chain; `*plsnrestart`
/// receives the LSN of the restart record returned.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsReadPreviousRestartArea(
    pvreadcontext: *const c_void,
    ppvrestartbuffer: *mut *mut c_void,
    pcbrestartbuffer: *mut u32,
    plsnrestart: *mut CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsReadPreviousRestartArea");
    {
        let emu = crate::state::emu();
        if !emu.reads.contains_key(&(pvreadcontext as usize)) {
            return STATUS_INVALID_HANDLE;
        }
    }
    if ppvrestartbuffer.is_null() || pcbrestartbuffer.is_null() || plsnrestart.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    match read::read_prev_restart(pvreadcontext as usize) {
        Ok(g) => {
            const R: &str = "ClfsReadPreviousRestartArea";
            let buffer = match crate::faults::output_override(R, "ppvRestartBuffer") {
                Some(_) => core::ptr::null_mut(),
                None => g.ptr.cast::<c_void>(),
            };
            // SAFETY: checked non-null above.
            unsafe { wr(ppvrestartbuffer, buffer) };
            let len = crate::faults::length_override(R).unwrap_or(g.len);
            // SAFETY: checked non-null above.
            unsafe { wr(pcbrestartbuffer, len) };
            // SAFETY: checked non-null above.
            unsafe { wr(plsnrestart, CLS_LSN { Internal: g.lsn }) };
            STATUS_SUCCESS
        }
        Err(s) => s,
    }
}

/// `ClfsTerminateReadLog`: frees the read context and its read block.
///
/// # Safety
/// None beyond the FFI contract: the handle is never dereferenced.
pub unsafe extern "system" fn ClfsTerminateReadLog(pvcursorcontext: *const c_void) -> NTSTATUS {
    enter!("ClfsTerminateReadLog");
    read::terminate(pvcursorcontext as usize)
}

/// `ClfsAdvanceLogBase`: `fflags` must be 0; `base <= new <= last`.
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsAdvanceLogBase(
    pvmarshalcontext: *mut c_void,
    plsnbase: *const CLS_LSN,
    fflags: u32,
) -> NTSTATUS {
    enter!("ClfsAdvanceLogBase");
    {
        if !area_ok(pvmarshalcontext as usize) {
            return STATUS_INVALID_HANDLE;
        }
    }
    // SAFETY: forwarded caller contract.
    let Some(b) = (unsafe { rd(plsnbase) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    if fflags != 0 {
        return STATUS_INVALID_PARAMETER;
    }
    let st = marshal::advance_base(pvmarshalcontext as usize, b.Internal);
    if st == STATUS_SUCCESS {
        mgmt::tail_moved_area(pvmarshalcontext as usize);
    }
    st
}

/// `ClfsSetArchiveTail` (archivable logs only: created with `FILE_ATTRIBUTE_ARCHIVE`).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented.
pub unsafe extern "system" fn ClfsSetArchiveTail(
    plfolog: *const FILE_OBJECT,
    plsnarchivetail: *const CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsSetArchiveTail");
    {
        let emu = crate::state::emu();
        if let Err(s) = log::object(&emu, plfolog as usize) {
            return s;
        }
    }
    // SAFETY: forwarded caller contract.
    match unsafe { rd(plsnarchivetail) } {
        Some(t) => {
            let st = log::set_archive_tail(plfolog as usize, t.Internal);
            if st == STATUS_SUCCESS {
                mgmt::tail_moved(plfolog as usize);
            }
            st
        }
        None => STATUS_INVALID_PARAMETER,
    }
}

/// `ClfsSetEndOfLog`: always `STATUS_NOT_SUPPORTED` in kernel mode.
///
/// # Safety
/// None: no argument is used.
pub unsafe extern "system" fn ClfsSetEndOfLog(
    plfolog: *const FILE_OBJECT,
    plsnend: *const CLS_LSN,
) -> NTSTATUS {
    enter!("ClfsSetEndOfLog");
    let _ = (plfolog, plsnend);
    STATUS_NOT_SUPPORTED
}

/// `KeGetCurrentIrql`: the calling thread's simulated IRQL.
///
/// On x64 the kernel's `KeGetCurrentIrql` is `mov rax, cr8; ret` (and wdm.h inlines it as
/// `__readcr8()`), so this is a read of a per-thread cell and nothing else: it is not counted
/// in [`Stats::calls`](crate::Stats::calls) and takes no lock. Bookkeeping here would make
/// every IRQL check of the safe layer look far dearer than it is in the kernel
/// (`docs/emulator.md`, "Call accounting").
///
/// # Safety
/// None.
#[inline]
pub unsafe extern "system" fn KeGetCurrentIrql() -> u8 {
    crate::irql::current_irql()
}

/// `ExAllocatePool2`: real, zeroed, 16-aligned memory, accounted per tag. A call fault armed
/// with [`crate::faults::fail_call`]`("ExAllocatePool2", ..)` makes that allocation return NULL
/// (the status is not used), as the kernel does when pool is exhausted.
///
/// # Safety
/// None beyond the kernel contract (bugchecks on misuse).
pub unsafe extern "system" fn ExAllocatePool2(
    flags: u64,
    numberofbytes: usize,
    tag: u32,
) -> *mut c_void {
    if count_call!("ExAllocatePool2").is_some() {
        return core::ptr::null_mut();
    }
    crate::pool::ex_allocate(flags, numberofbytes, tag)
}

/// `ExFreePoolWithTag`: bugchecks (`BAD_POOL_CALLER`) on unknown pointers, double frees and
/// tag mismatches.
///
/// # Safety
/// `p` must come from [`ExAllocatePool2`] (anything else bugchecks).
pub unsafe extern "system" fn ExFreePoolWithTag(p: *mut c_void, tag: u32) {
    let _ = count_call!("ExFreePoolWithTag");
    crate::pool::ex_free(p, tag);
}

/// `ClfsLsnCreate`: `CLFS_LSN_INVALID` if `offblock` is not a multiple of 512 or
/// `crecord > 511`.
///
/// # Safety
/// None.
pub unsafe extern "system" fn ClfsLsnCreate(
    cidcontainer: u32,
    offblock: u32,
    crecord: u32,
) -> CLS_LSN {
    let _ = count_call!("ClfsLsnCreate");
    if offblock % 512 != 0 || crecord > 511 {
        return CLS_LSN {
            Internal: CLFS_LSN_INVALID,
        };
    }
    CLS_LSN {
        Internal: log::lsn(cidcontainer, offblock, crecord),
    }
}

/// Reads an LSN argument (NULL reads as `CLFS_LSN_INVALID`).
///
/// # Safety
/// `p` must be NULL or valid.
unsafe fn lsn_arg(p: *const CLS_LSN) -> u64 {
    // SAFETY: forwarded caller contract.
    unsafe { rd(p) }.map_or(CLFS_LSN_INVALID, |l| l.Internal)
}

/// `ClfsLsnContainer`: the logical container id.
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnContainer(plsn: *const CLS_LSN) -> u32 {
    let _ = count_call!("ClfsLsnContainer");
    // SAFETY: forwarded caller contract.
    (unsafe { lsn_arg(plsn) } >> 32) as u32
}

/// `ClfsLsnBlockOffset`: the sector-aligned block offset.
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnBlockOffset(plsn: *const CLS_LSN) -> u32 {
    let _ = count_call!("ClfsLsnBlockOffset");
    // SAFETY: forwarded caller contract.
    (unsafe { lsn_arg(plsn) } as u32) & !0x1FF
}

/// `ClfsLsnRecordSequence`: the record index in its block (0..=511).
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnRecordSequence(plsn: *const CLS_LSN) -> u32 {
    let _ = count_call!("ClfsLsnRecordSequence");
    // SAFETY: forwarded caller contract.
    (unsafe { lsn_arg(plsn) } as u32) & 0x1FF
}

/// `ClfsLsnEqual`.
///
/// # Safety
/// Pointers must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnEqual(plsn1: *const CLS_LSN, plsn2: *const CLS_LSN) -> bool {
    let _ = count_call!("ClfsLsnEqual");
    // SAFETY: forwarded caller contract.
    let a = unsafe { lsn_arg(plsn1) };
    // SAFETY: forwarded caller contract.
    a == unsafe { lsn_arg(plsn2) }
}

/// `ClfsLsnLess` (unsigned comparison).
///
/// # Safety
/// Pointers must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnLess(plsn1: *const CLS_LSN, plsn2: *const CLS_LSN) -> bool {
    let _ = count_call!("ClfsLsnLess");
    // SAFETY: forwarded caller contract.
    let a = unsafe { lsn_arg(plsn1) };
    // SAFETY: forwarded caller contract.
    a < unsafe { lsn_arg(plsn2) }
}

/// `ClfsLsnGreater` (unsigned comparison).
///
/// # Safety
/// Pointers must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnGreater(plsn1: *const CLS_LSN, plsn2: *const CLS_LSN) -> bool {
    let _ = count_call!("ClfsLsnGreater");
    // SAFETY: forwarded caller contract.
    let a = unsafe { lsn_arg(plsn1) };
    // SAFETY: forwarded caller contract.
    a > unsafe { lsn_arg(plsn2) }
}

/// `ClfsLsnNull`: TRUE iff the LSN is `CLFS_LSN_NULL`.
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnNull(plsn: *const CLS_LSN) -> bool {
    let _ = count_call!("ClfsLsnNull");
    // SAFETY: forwarded caller contract.
    (unsafe { lsn_arg(plsn) }) == 0
}

/// `ClfsLsnInvalid`: TRUE iff the LSN is `CLFS_LSN_INVALID`.
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnInvalid(plsn: *const CLS_LSN) -> bool {
    let _ = count_call!("ClfsLsnInvalid");
    // SAFETY: forwarded caller contract.
    (unsafe { lsn_arg(plsn) }) == CLFS_LSN_INVALID
}

/// The next LSN, or `CLFS_LSN_INVALID` (shared by `ClfsLsnIncrement` and `ClfsLaterLsn`):
/// the next value of the 64-bit encoding, `CLFS_LSN_INVALID` for `CLFS_LSN_INVALID`, for the
/// values above it and for the last LSN before it (`docs/emulator.md`, "LSN arithmetic").
fn lsn_next(l: u64) -> u64 {
    if l >= CLFS_LSN_INVALID - 1 {
        CLFS_LSN_INVALID
    } else {
        l + 1
    }
}

/// `ClfsLsnIncrement` (no DDI page): the next LSN in sequence, or `CLFS_LSN_INVALID`.
/// Runs at any IRQL; a NULL pointer reads as `CLFS_LSN_INVALID`.
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsLsnIncrement(plsn: *const CLS_LSN) -> CLS_LSN {
    let _ = count_call!("ClfsLsnIncrement");
    // SAFETY: forwarded caller contract.
    let l = unsafe { lsn_arg(plsn) };
    CLS_LSN {
        Internal: lsn_next(l),
    }
}

/// `ClfsLaterLsn` (header only, "Increment an LSN by 1"): the same as `ClfsLsnIncrement`.
/// Runs at any IRQL.
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsLaterLsn(plsn: *const CLS_LSN) -> CLS_LSN {
    let _ = count_call!("ClfsLaterLsn");
    // SAFETY: forwarded caller contract.
    let l = unsafe { lsn_arg(plsn) };
    CLS_LSN {
        Internal: lsn_next(l),
    }
}

/// `ClfsEarlierLsn` (header only, "Decrement an LSN by 1"): the previous LSN, or
/// `CLFS_LSN_INVALID` for `CLFS_LSN_NULL`, `CLFS_LSN_INVALID` and the values above it.
/// Runs at any IRQL.
///
/// # Safety
/// `plsn` must be NULL or valid.
pub unsafe extern "system" fn ClfsEarlierLsn(plsn: *const CLS_LSN) -> CLS_LSN {
    let _ = count_call!("ClfsEarlierLsn");
    // SAFETY: forwarded caller contract.
    let l = unsafe { lsn_arg(plsn) };
    let prev = if l == 0 || l >= CLFS_LSN_INVALID {
        CLFS_LSN_INVALID
    } else {
        l - 1
    };
    CLS_LSN { Internal: prev }
}

/// `ClfsLsnDifference` (header only): `*pcbdifference` = the bytes from `*plsnstart` to
/// `*plsnfinish`, where an LSN stands at `container * cbcontainer + block offset`.
/// `STATUS_INVALID_PARAMETER` for a NULL pointer, an LSN at or above `CLFS_LSN_INVALID`, a
/// `cbcontainer` or `cbmaxblock` that is zero or not a multiple of 512, `cbmaxblock >
/// cbcontainer`, or a block offset outside the container; `STATUS_INTEGER_OVERFLOW` if the
/// difference does not fit. The output is written only on success. Runs at any IRQL.
///
/// # Safety
/// Pointers must be NULL or valid; `pcbdifference` writable.
pub unsafe extern "system" fn ClfsLsnDifference(
    plsnstart: *const CLS_LSN,
    plsnfinish: *const CLS_LSN,
    cbcontainer: u32,
    cbmaxblock: u32,
    pcbdifference: *mut i64,
) -> NTSTATUS {
    let _ = count_call!("ClfsLsnDifference");
    if plsnstart.is_null() || plsnfinish.is_null() || pcbdifference.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: non-null; forwarded caller contract.
    let a = unsafe { lsn_arg(plsnstart) };
    // SAFETY: non-null; forwarded caller contract.
    let b = unsafe { lsn_arg(plsnfinish) };
    if a >= CLFS_LSN_INVALID
        || b >= CLFS_LSN_INVALID
        || cbcontainer == 0
        || cbcontainer % 512 != 0
        || cbmaxblock == 0
        || cbmaxblock % 512 != 0
        || cbmaxblock > cbcontainer
    {
        return STATUS_INVALID_PARAMETER;
    }
    let off = |l: u64| u64::from((l as u32) & !0x1FF);
    if off(a) >= u64::from(cbcontainer) || off(b) >= u64::from(cbcontainer) {
        return STATUS_INVALID_PARAMETER;
    }
    let pos = |l: u64| i128::from(l >> 32) * i128::from(cbcontainer) + i128::from(off(l));
    match i64::try_from(pos(b) - pos(a)) {
        Ok(d) => {
            // SAFETY: checked non-null above; the caller passes a writable pointer.
            unsafe { wr(pcbdifference, d) };
            STATUS_SUCCESS
        }
        Err(_) => STATUS_INTEGER_OVERFLOW,
    }
}

// ---------------------------------------------------------------------------------------------
// CLFS management (reference §1.9). Decisions on undocumented points: docs/decisions.md.

use crate::mgmt;
use crate::types::{
    CLFS_MGMT_CLIENT_REGISTRATION, CLFS_MGMT_POLICY, CLFS_MGMT_POLICY_TYPE,
    PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK,
};

/// `ClfsMgmtRegisterManagedClient`: callbacks may run as soon as this returns (even before).
///
/// # Safety
/// Pointer arguments must be NULL or valid as documented; the callbacks must be callable
/// with their contexts until deregistration returns.
pub unsafe extern "system" fn ClfsMgmtRegisterManagedClient(
    logfile: *const FILE_OBJECT,
    registrationdata: *const CLFS_MGMT_CLIENT_REGISTRATION,
    clientcookie: *mut *mut c_void,
) -> NTSTATUS {
    enter!("ClfsMgmtRegisterManagedClient");
    if logfile.is_null() || clientcookie.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: forwarded caller contract.
    let Some(r) = (unsafe { rd(registrationdata) }) else {
        return STATUS_INVALID_PARAMETER;
    };
    match mgmt::register(logfile as usize, &r) {
        Ok(cookie) => {
            // SAFETY: checked non-null; the caller passes a writable pointer.
            unsafe { wr(clientcookie, core::ptr::without_provenance_mut(cookie)) };
            STATUS_SUCCESS
        }
        Err(st) => st,
    }
}

/// `ClfsMgmtDeregisterManagedClient`: when it returns, no callback of the client runs or
/// will run (it waits for callbacks running on other threads).
///
/// # Safety
/// None beyond the FFI contract: the cookie is never dereferenced.
pub unsafe extern "system" fn ClfsMgmtDeregisterManagedClient(
    clientcookie: *const c_void,
) -> NTSTATUS {
    enter!("ClfsMgmtDeregisterManagedClient");
    if clientcookie.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    mgmt::deregister(clientcookie as usize)
}

/// `ClfsMgmtTailAdvanceFailure`.
///
/// # Safety
/// None beyond the FFI contract: the cookie is never dereferenced.
pub unsafe extern "system" fn ClfsMgmtTailAdvanceFailure(
    client: *const c_void,
    reason: NTSTATUS,
) -> NTSTATUS {
    enter!("ClfsMgmtTailAdvanceFailure");
    if client.is_null() {
        return STATUS_INVALID_PARAMETER;
    }
    mgmt::tail_advance_failure(client as usize, reason)
}

/// `ClfsMgmtHandleLogFileFull`: SUCCESS (space now), PENDING (LogGrowthComplete will run,
/// maybe before this returns) or LOG_FULL_HANDLER_IN_PROGRESS.
///
/// # Safety
/// None beyond the FFI contract: the cookie is never dereferenced.
pub unsafe extern "system" fn ClfsMgmtHandleLogFileFull(client: *const c_void) -> NTSTATUS {
    enter!("ClfsMgmtHandleLogFileFull");
    if client.is_null() {
        return STATUS_INVALID_PARAMETER_1;
    }
    mgmt::handle_log_full(client as usize)
}

/// `ClfsMgmtInstallPolicy`.
///
/// # Safety
/// A non-null `policy` must be valid for reading `policylength` bytes.
pub unsafe extern "system" fn ClfsMgmtInstallPolicy(
    logfile: *const FILE_OBJECT,
    policy: *const CLFS_MGMT_POLICY,
    policylength: u32,
) -> NTSTATUS {
    enter!("ClfsMgmtInstallPolicy");
    if logfile.is_null() {
        return STATUS_INVALID_PARAMETER_1;
    }
    if policy.is_null() {
        return STATUS_INVALID_PARAMETER_2;
    }
    if policylength < mgmt::POLICY_SIZE {
        return STATUS_INVALID_PARAMETER_3;
    }
    // Read what LengthInBytes announces, never past PolicyLength.
    // SAFETY: the caller's buffer holds `policylength >= 24` bytes.
    let Some(head) = (unsafe { copy_in(policy.cast::<u8>(), 16) }) else {
        return STATUS_INVALID_PARAMETER_2;
    };
    let announced = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let n = announced.clamp(mgmt::POLICY_SIZE, policylength) as usize;
    // SAFETY: `n <= policylength`, which the caller's buffer holds.
    let Some(bytes) = (unsafe { copy_in(policy.cast::<u8>(), n) }) else {
        return STATUS_INVALID_PARAMETER_2;
    };
    mgmt::install(logfile as usize, &bytes)
}

/// `ClfsMgmtQueryPolicy`: `*policylength` is in/out (the buffer size in, the policy's
/// `LengthInBytes` out). A variable-length policy longer than the buffer gets
/// `STATUS_BUFFER_TOO_SMALL` with the needed length.
///
/// # Safety
/// Non-null pointers must be valid; `policy` for writing `*policylength` bytes.
pub unsafe extern "system" fn ClfsMgmtQueryPolicy(
    logfile: *const FILE_OBJECT,
    policytype: CLFS_MGMT_POLICY_TYPE,
    policy: *mut CLFS_MGMT_POLICY,
    policylength: *mut u32,
) -> NTSTATUS {
    enter!("ClfsMgmtQueryPolicy");
    if logfile.is_null() {
        return STATUS_INVALID_PARAMETER_1;
    }
    if !(0..mgmt::NUM_POLICIES as i32).contains(&policytype) {
        return STATUS_INVALID_PARAMETER;
    }
    // SAFETY: forwarded caller contract.
    let cap = match unsafe { rd(policylength) } {
        Some(n) if n >= mgmt::POLICY_SIZE && !policy.is_null() => n,
        _ => return STATUS_INVALID_PARAMETER_2,
    };
    let mut img = match mgmt::query(logfile as usize, policytype) {
        Ok(i) => i,
        Err(st) => return st,
    };
    if img.len() > cap as usize {
        // SAFETY: checked non-null above.
        unsafe { wr(policylength, img.len() as u32) };
        return STATUS_BUFFER_TOO_SMALL;
    }
    const R: &str = "ClfsMgmtQueryPolicy";
    if let Some(t) = crate::faults::output_override(R, "PolicyType") {
        img[12..16].copy_from_slice(&t.to_le_bytes());
    }
    // The string length of NewContainerPrefix (7) and NewContainerExtension (9).
    let string_length = match policytype {
        7 => Some("PrefixLengthInBytes"),
        9 => Some("ExtensionLengthInBytes"),
        _ => None,
    };
    if let Some(v) = string_length.and_then(|o| crate::faults::output_override(R, o)) {
        // faults::override_output refuses values above u16::MAX.
        let at = crate::types::CLFS_MGMT_POLICY_PARAMETERS;
        img[at..at + 2].copy_from_slice(&(v as u16).to_le_bytes());
    }
    let reported = crate::faults::output_override(R, "PolicyLength").unwrap_or(img.len() as u32);
    for (i, b) in img.iter().enumerate() {
        // SAFETY: `i < img.len() <= *policylength`, which the caller's buffer holds.
        unsafe { wr(policy.cast::<u8>().wrapping_add(i), *b) };
    }
    // SAFETY: checked non-null above.
    unsafe { wr(policylength, reported) };
    STATUS_SUCCESS
}

/// `ClfsMgmtRemovePolicy`: the policy type goes back to its default.
///
/// # Safety
/// None beyond the FFI contract: the handle is never dereferenced.
pub unsafe extern "system" fn ClfsMgmtRemovePolicy(
    logfile: *const FILE_OBJECT,
    policytype: CLFS_MGMT_POLICY_TYPE,
) -> NTSTATUS {
    enter!("ClfsMgmtRemovePolicy");
    if logfile.is_null() {
        return STATUS_INVALID_PARAMETER_1;
    }
    mgmt::remove(logfile as usize, policytype)
}

/// The shared body of the two SetLogFileSize routines. The completion routine is never
/// called: the resize completes before the routine returns, which never returns PENDING.
///
/// # Safety
/// Non-null pointers must be valid.
unsafe fn set_log_file_size(
    logfile: *const FILE_OBJECT,
    client: Option<usize>,
    new: *const u64,
    resulting: *mut u64,
) -> NTSTATUS {
    if logfile.is_null() {
        return STATUS_INVALID_PARAMETER_1;
    }
    // SAFETY: forwarded caller contract.
    let Some(want) = (unsafe { rd(new) }) else {
        return STATUS_INVALID_PARAMETER_2;
    };
    let (now, st) = mgmt::set_size(logfile as usize, client, want);
    if st != STATUS_INVALID_HANDLE {
        // SAFETY: optional output; NULL is skipped.
        unsafe { wr(resulting, now) };
    }
    st
}

/// `ClfsMgmtSetLogFileSize`: adds or removes containers (the table in reference §1.9).
///
/// # Safety
/// Non-null pointers must be valid.
pub unsafe extern "system" fn ClfsMgmtSetLogFileSize(
    logfile: *const FILE_OBJECT,
    newsizeincontainers: *const u64,
    resultingsizeincontainers: *mut u64,
    completionroutine: PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK,
    completionroutinedata: *const c_void,
) -> NTSTATUS {
    enter!("ClfsMgmtSetLogFileSize");
    let _ = (completionroutine, completionroutinedata);
    // SAFETY: forwarded caller contract.
    unsafe {
        set_log_file_size(
            logfile,
            None,
            newsizeincontainers,
            resultingsizeincontainers,
        )
    }
}

/// `ClfsMgmtSetLogFileSizeAsClient`: `clientcookie` points to the cookie (the header's ABI).
///
/// # Safety
/// Non-null pointers must be valid.
pub unsafe extern "system" fn ClfsMgmtSetLogFileSizeAsClient(
    logfile: *const FILE_OBJECT,
    clientcookie: *const *const c_void,
    newsizeincontainers: *const u64,
    resultingsizeincontainers: *mut u64,
    completionroutine: PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK,
    completionroutinedata: *const c_void,
) -> NTSTATUS {
    enter!("ClfsMgmtSetLogFileSizeAsClient");
    let _ = (completionroutine, completionroutinedata);
    // SAFETY: forwarded caller contract.
    let client = unsafe { rd(clientcookie) }.map(|c| c as usize);
    // SAFETY: forwarded caller contract.
    unsafe {
        set_log_file_size(
            logfile,
            client,
            newsizeincontainers,
            resultingsizeincontainers,
        )
    }
}
