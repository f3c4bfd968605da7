//! The functions `docs/wdk-sys.md` shows, compiled and run against a stand-in `wdk_sys`.
//!
//! `wdk-sys` cannot be built on a non-Windows host, so the page's snippets cannot be compiled
//! against it. The module below declares the wdk-sys items they use with wdk-sys's shapes:
//! `PFILE_OBJECT` and `PDEVICE_OBJECT` are raw pointers to opaque bindgen structs,
//! `PSECURITY_DESCRIPTOR` is `PVOID`, `NTSTATUS` is `i32`. If a snippet stops compiling here,
//! the page is wrong too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use core::ptr::NonNull;

use clfs_emu::Sandbox;
use common::assert_no_leaks;

#[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
mod wdk_sys {
    pub struct _FILE_OBJECT {
        _opaque: [u8; 0],
    }
    pub struct _DEVICE_OBJECT {
        _opaque: [u8; 0],
    }
    pub type PFILE_OBJECT = *mut _FILE_OBJECT;
    pub type PDEVICE_OBJECT = *mut _DEVICE_OBJECT;
    pub type PSECURITY_DESCRIPTOR = *mut core::ffi::c_void;
    pub type NTSTATUS = i32;
    pub const STATUS_SUCCESS: NTSTATUS = 0;
}

// --- docs/wdk-sys.md, "Handing handles across" ---

/// `raw` came from your own `ClfsCreateLogFile` binding, `NT_SUCCESS` checked.
fn adopt(raw: wdk_sys::PFILE_OBJECT) -> Result<clfs::LogFile, clfs::NtStatus> {
    let raw =
        NonNull::new(raw.cast::<clfs::sys::FILE_OBJECT>()).ok_or(clfs::NtStatus::UNSUCCESSFUL)?;
    // SAFETY: an open log file object from ClfsCreateLogFile; only this LogFile closes it.
    Ok(unsafe { clfs::LogFile::from_raw(raw) })
}

// --- docs/wdk-sys.md, "Filter drivers" ---

fn open_below(
    name: &[u16],
    lower_device: wdk_sys::PDEVICE_OBJECT,
) -> Result<clfs::LogFile, clfs::NtStatus> {
    let target = NonNull::new(lower_device.cast::<clfs::sys::DEVICE_OBJECT>())
        .ok_or(clfs::NtStatus::INVALID_PARAMETER)?;
    // SAFETY: a referenced device object that outlives the create call.
    let context = unsafe { clfs::LogContext::device_object(target) };
    let options = clfs::LogOptions::new()
        .create_if_missing()
        .log_option_flags(clfs::LogOptionFlags::NON_REENTRANT_FILTER)
        .context(context);
    Ok(clfs::LogFile::create(name, options)?)
}

fn create_secured(
    name: &[u16],
    sd: wdk_sys::PSECURITY_DESCRIPTOR,
) -> Result<clfs::LogFile, clfs::NtStatus> {
    let sd = NonNull::new(sd).ok_or(clfs::NtStatus::INVALID_PARAMETER)?;
    // SAFETY: a valid SECURITY_DESCRIPTOR that outlives the create call.
    let sd = unsafe { clfs::SecurityDescriptor::from_raw(sd) };
    Ok(clfs::LogFile::create(
        name,
        clfs::LogOptions::new().create_new().security_descriptor(sd),
    )?)
}

// --- docs/wdk-sys.md, "Statuses for dispatch routines" ---

fn status_of(result: Result<clfs::Lsn, clfs::Error>) -> wdk_sys::NTSTATUS {
    match result {
        Ok(_) => wdk_sys::STATUS_SUCCESS,
        Err(e) => e.into(), // i32: the same type as wdk_sys::NTSTATUS
    }
}

#[test]
fn the_pages_functions_work_as_shown() {
    let sb = Sandbox::new();
    {
        // A log handed over as a wdk-sys pointer, and back.
        let log = clfs::LogFile::create(
            &common::w("log:C:\\wdk\\one"),
            clfs::LogOptions::new().create_if_missing(),
        )
        .unwrap();
        let plfo: wdk_sys::PFILE_OBJECT = log.into_raw().as_ptr().cast();
        let log = adopt(plfo).unwrap();
        assert_eq!(
            adopt(core::ptr::null_mut()).unwrap_err(),
            clfs::NtStatus::UNSUCCESSFUL
        );
        drop(log);

        // A non-reentrant filter's create; a NULL device is refused before the call.
        // SAFETY: all-zero is a valid bit pattern for this plain C struct.
        let mut device: clfs::sys::DEVICE_OBJECT = unsafe { core::mem::zeroed() };
        let lower: wdk_sys::PDEVICE_OBJECT = core::ptr::from_mut(&mut device).cast();
        let log = open_below(&common::w("log:C:\\wdk\\filter"), lower).unwrap();
        assert_eq!(sb.stats().last_create.unwrap().log_option_flag, 0x10);
        drop(log);
        assert_eq!(
            open_below(&common::w("log:C:\\wdk\\filter"), core::ptr::null_mut()).unwrap_err(),
            clfs::NtStatus::INVALID_PARAMETER
        );

        // A security descriptor (the first bytes of a self-relative one; CLFS passes it on).
        let mut sd_bytes = [
            1u8, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let sd: wdk_sys::PSECURITY_DESCRIPTOR = sd_bytes.as_mut_ptr().cast();
        let log = create_secured(&common::w("log:C:\\wdk\\secured"), sd).unwrap();
        assert_eq!(
            sb.stats().last_create.unwrap().security_descriptor,
            sd as usize
        );
        drop(log);
        // `create_new` on an existing log: the Clfs.sys status comes back through `?`.
        let existing = create_secured(&common::w("log:C:\\wdk\\secured"), sd).unwrap_err();
        assert!(existing.0 < 0, "{existing:?} must fail NT_SUCCESS");

        // An error the library caught becomes a failing NTSTATUS for the IRP.
        let refused = status_of(Err(clfs::Error::NoContainers));
        assert!(refused < 0);
        assert_eq!(status_of(Ok(clfs::Lsn::NULL)), wdk_sys::STATUS_SUCCESS);
    }
    assert_no_leaks(&sb);
}
