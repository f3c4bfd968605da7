//! The raw types the emulator's routines take: windows-sys's, plus the corrections that
//! `clfs::sys` also makes (design.md, "Known defects").
#![allow(non_camel_case_types)]

pub use windows_sys::Wdk::Foundation::{FILE_OBJECT, POOL_TYPE};
pub use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};
pub use windows_sys::Win32::Security::PSECURITY_DESCRIPTOR;
pub use windows_sys::Win32::Storage::FileSystem::{
    CLFS_CONTEXT_MODE, CLS_INFORMATION, CLS_LOG_INFORMATION_CLASS, CLS_LSN, CLS_WRITE_ENTRY,
};

/// `PALLOCATE_FUNCTION` with the documented shape `PVOID (*)(POOL_TYPE, SIZE_T, ULONG)`.
/// windows-sys declares it without parameters.
pub type PALLOCATE_FUNCTION = Option<
    unsafe extern "system" fn(pool: POOL_TYPE, bytes: usize, tag: u32) -> *mut core::ffi::c_void,
>;
/// `PFREE_FUNCTION` with the documented shape `VOID (*)(PVOID)`.
/// windows-sys declares it without parameters.
pub type PFREE_FUNCTION = Option<unsafe extern "system" fn(buffer: *mut core::ffi::c_void)>;
