//! The raw types the emulator's routines take: windows-sys's, plus the corrections that
//! `clfs::sys` also makes (design.md, "Known defects").
#![allow(non_camel_case_types, non_snake_case)]

pub use windows_sys::Wdk::Foundation::{FILE_OBJECT, POOL_TYPE};
pub use windows_sys::Wdk::System::SystemServices::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK;
pub use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};
pub use windows_sys::Win32::Security::PSECURITY_DESCRIPTOR;
pub use windows_sys::Win32::Storage::FileSystem::{
    CLFS_CONTEXT_MODE, CLFS_MGMT_POLICY, CLFS_MGMT_POLICY_TYPE, CLS_INFORMATION,
    CLS_LOG_INFORMATION_CLASS, CLS_LSN, CLS_WRITE_ENTRY,
};

/// `PALLOCATE_FUNCTION` with the documented shape `PVOID (*)(POOL_TYPE, SIZE_T, ULONG)`.
/// windows-sys declares it without parameters.
pub type PALLOCATE_FUNCTION = Option<
    unsafe extern "system" fn(pool: POOL_TYPE, bytes: usize, tag: u32) -> *mut core::ffi::c_void,
>;
/// `PFREE_FUNCTION` with the documented shape `VOID (*)(PVOID)`.
/// windows-sys declares it without parameters.
pub type PFREE_FUNCTION = Option<unsafe extern "system" fn(buffer: *mut core::ffi::c_void)>;

/// `PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK` (reference §2.11).
pub type PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK = Option<
    unsafe extern "system" fn(
        logfile: *const FILE_OBJECT,
        targetlsn: *const CLS_LSN,
        clientdata: *const core::ffi::c_void,
    ) -> NTSTATUS,
>;
/// `PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK` with `LogIsPinned` as the header's `BOOLEAN`
/// (one byte). windows-sys declares it a Rust `bool`, which is undefined behaviour for any
/// byte other than 0 and 1.
pub type PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK = Option<
    unsafe extern "system" fn(
        logfile: *const FILE_OBJECT,
        operationstatus: NTSTATUS,
        logispinned: u8,
        clientdata: *const core::ffi::c_void,
    ),
>;
/// `PCLFS_CLIENT_LOG_UNPINNED_CALLBACK`.
pub type PCLFS_CLIENT_LOG_UNPINNED_CALLBACK = Option<
    unsafe extern "system" fn(logfile: *const FILE_OBJECT, clientdata: *const core::ffi::c_void),
>;

/// `CLFS_MGMT_CLIENT_REGISTRATION` with the corrected LogGrowthComplete callback type
/// (56 bytes on x64, reference §2.11).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_snake_case)]
pub struct CLFS_MGMT_CLIENT_REGISTRATION {
    /// `CLFS_MGMT_CLIENT_REGISTRATION_VERSION` (1).
    pub Version: u32,
    /// Asks the client to move its tail.
    pub AdvanceTailCallback: PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK,
    /// Its context.
    pub AdvanceTailCallbackData: *mut core::ffi::c_void,
    /// Completes a pending `ClfsMgmtHandleLogFileFull`.
    pub LogGrowthCompleteCallback: PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK,
    /// Its context.
    pub LogGrowthCompleteCallbackData: *mut core::ffi::c_void,
    /// The log is no longer pinned.
    pub LogUnpinnedCallback: PCLFS_CLIENT_LOG_UNPINNED_CALLBACK,
    /// Its context.
    pub LogUnpinnedCallbackData: *mut core::ffi::c_void,
}

pub use windows_sys::Win32::Storage::FileSystem::{CLFS_NODE_ID, CLS_CONTAINER_INFORMATION};

// Management constants as the emulator reads and writes them (reference §2.11). They are the
// emulator's own values, not windows-sys's, so that `tests/abi.rs` compares them with
// mingw-w64's `ddk/wdm.h` independently of the crate's.

/// `CLFS_MGMT_POLICY_VERSION`: the only `CLFS_MGMT_POLICY::Version` accepted.
pub const CLFS_MGMT_POLICY_VERSION: u32 = 1;
/// `CLFS_MGMT_CLIENT_REGISTRATION_VERSION`: the only registration `Version` accepted.
pub const CLFS_MGMT_CLIENT_REGISTRATION_VERSION: u32 = 1;
/// `LOG_POLICY_OVERWRITE`.
pub const LOG_POLICY_OVERWRITE: u32 = 0x01;
/// `LOG_POLICY_PERSIST` (defined; CLFS does not support it: `STATUS_NOT_SUPPORTED`).
pub const LOG_POLICY_PERSIST: u32 = 0x02;
/// `CLFS_MGMT_NUM_POLICIES` (`ClfsMgmtPolicyInvalid`): policy types are `0..` this.
pub const CLFS_MGMT_NUM_POLICIES: u32 = 10;
/// `sizeof(CLFS_MGMT_POLICY)`: the smallest policy length accepted.
pub const CLFS_MGMT_POLICY_SIZE: u32 = 24;
/// `offsetof(CLFS_MGMT_POLICY, PolicyParameters)`: where the union starts.
pub const CLFS_MGMT_POLICY_PARAMETERS: usize = 16;
/// `offsetof(CLFS_MGMT_POLICY, PolicyParameters.NewContainerPrefix.PrefixString)` (and the
/// extension's string): the UTF-16 string after its `USHORT` byte length.
pub const CLFS_MGMT_POLICY_STRING: usize = CLFS_MGMT_POLICY_PARAMETERS + 2;
/// `offsetof(CLFS_MGMT_POLICY, PolicyParameters.GrowthRate.RelativeGrowthPercentage)` (and
/// `LogTail.MinimumAvailableContainers`): the second `ULONG` of the union.
pub const CLFS_MGMT_POLICY_SECOND: usize = CLFS_MGMT_POLICY_PARAMETERS + 4;

/// `CLS_SCAN_CONTEXT`, kernel variant, with the header's per-member `align(8)` written out as
/// padding (reference §0.1 item 1, §2.10): 56 bytes. windows-sys's copy is 40 bytes, into
/// which CLFS would write 56; `clfs::sys` declares the same layout.
#[cfg(target_pointer_width = "64")]
#[repr(C, align(8))]
#[derive(Clone, Copy)]
#[allow(missing_docs)]
pub struct CLFS_SCAN_CONTEXT {
    pub cidNode: CLFS_NODE_ID,
    pub plfoLog: *mut FILE_OBJECT,
    pub cIndex: u32,
    pub _pad0: u32,
    pub cContainers: u32,
    pub _pad1: u32,
    pub cContainersReturned: u32,
    pub _pad2: u32,
    pub eScanMode: u8,
    pub _pad3: [u8; 7],
    pub pinfoContainer: *mut CLS_CONTAINER_INFORMATION,
}

/// `CLS_SCAN_CONTEXT` for 32-bit targets: same offsets, 4-byte pointers (reference §2.10,
/// inferred).
#[cfg(target_pointer_width = "32")]
#[repr(C, align(8))]
#[derive(Clone, Copy)]
#[allow(missing_docs)]
pub struct CLFS_SCAN_CONTEXT {
    pub cidNode: CLFS_NODE_ID,
    pub plfoLog: *mut FILE_OBJECT,
    pub _pad_ptr: u32,
    pub cIndex: u32,
    pub _pad0: u32,
    pub cContainers: u32,
    pub _pad1: u32,
    pub cContainersReturned: u32,
    pub _pad2: u32,
    pub eScanMode: u8,
    pub _pad3: [u8; 7],
    pub pinfoContainer: *mut CLS_CONTAINER_INFORMATION,
    pub _pad_ptr2: u32,
}

const _: () = {
    assert!(core::mem::size_of::<CLFS_SCAN_CONTEXT>() == 56);
    assert!(core::mem::align_of::<CLFS_SCAN_CONTEXT>() == 8);
    assert!(core::mem::offset_of!(CLFS_SCAN_CONTEXT, cIndex) == 16);
    assert!(core::mem::offset_of!(CLFS_SCAN_CONTEXT, cContainers) == 24);
    assert!(core::mem::offset_of!(CLFS_SCAN_CONTEXT, cContainersReturned) == 32);
    assert!(core::mem::offset_of!(CLFS_SCAN_CONTEXT, eScanMode) == 40);
    assert!(core::mem::offset_of!(CLFS_SCAN_CONTEXT, pinfoContainer) == 48);
};
