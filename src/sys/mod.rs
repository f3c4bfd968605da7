//! The one FFI seam: the only module that names raw CLFS items.
//!
//! In a kernel build the routines are windows-sys's raw-dylib imports from `clfs.sys` and
//! `ntoskrnl.exe`. With the `emulator` feature they are `clfs-emu`'s functions instead. The
//! constant block in the `seam!` macro below proves at compile time that each emulator function has
//! exactly the raw declaration's type, so the two sides cannot drift.
//!
//! windows-sys defects corrected here (design.md, "Known defects"):
//! - `PALLOCATE_FUNCTION` / `PFREE_FUNCTION` are declared without parameters; this module
//!   declares the documented shapes and its own `ClfsCreateMarshallingArea` that uses them.
//! - `CLS_SCAN_CONTEXT` lacks the header's per-member `align(8)`: [`CLFS_SCAN_CONTEXT`] has
//!   explicit padding and a size assert (56 bytes on x64).
//! - `CLFS_LSN_NULL` / `CLFS_LSN_INVALID` are exported data in clfs.sys and absent from
//!   windows-sys: [`CLFS_LSN_NULL`] and [`CLFS_LSN_INVALID`] carry the values the reference
//!   (§3.3) settles on, and a kernel build also imports the data symbols
//!   ([`exported_lsn_constants`]) so that the constants are checked against them.
//! - `PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK` takes `LogIsPinned` as a Rust `bool`; the
//!   header's `BOOLEAN` is a byte that may hold any value, so this module declares it `u8`,
//!   with its own [`CLFS_MGMT_CLIENT_REGISTRATION`] and `ClfsMgmtRegisterManagedClient`.
//! - `DbgPrint` is declared as an `ntdll.dll` import: this module never re-exports it.
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    missing_docs
)]

use core::ffi::c_void;
use core::mem::{align_of, offset_of, size_of};

pub use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, FILE_OBJECT, POOL_TYPE};
pub use windows_sys::Win32::Foundation::{NTSTATUS, UNICODE_STRING};
pub use windows_sys::Win32::Storage::FileSystem::{
    CLFS_CONTEXT_MODE, CLFS_NODE_ID, CLS_CONTAINER_INFORMATION as CLFS_CONTAINER_INFORMATION,
    CLS_INFORMATION as CLFS_INFORMATION, CLS_LOG_INFORMATION_CLASS as CLFS_LOG_INFORMATION_CLASS,
    CLS_LSN as CLFS_LSN, CLS_WRITE_ENTRY as CLFS_WRITE_ENTRY,
};

/// `PLOG_FILE_OBJECT`: a `LOG_FILE_OBJECT` is a `FILE_OBJECT` (reference §2.10).
pub type PLOG_FILE_OBJECT = *mut FILE_OBJECT;

/// `PALLOCATE_FUNCTION` with the documented shape `PVOID (*)(POOL_TYPE, SIZE_T, ULONG)`.
pub type PALLOCATE_FUNCTION =
    Option<unsafe extern "system" fn(pool: POOL_TYPE, bytes: usize, tag: u32) -> *mut c_void>;
/// `PFREE_FUNCTION` with the documented shape `VOID (*)(PVOID)`.
pub type PFREE_FUNCTION = Option<unsafe extern "system" fn(buffer: *mut c_void)>;

/// `CLFS_LSN_NULL` (reference §3.3): the smallest LSN. Checked against clfs.sys's exported
/// data of the same name by [`exported_lsn_constants`] (see `LogFile::create`).
pub const CLFS_LSN_NULL: u64 = 0;
/// `CLFS_LSN_INVALID` (reference §3.3, Microsoft's own managed wrapper): greater than every
/// valid LSN. Checked against clfs.sys's exported data of the same name by
/// [`exported_lsn_constants`].
pub const CLFS_LSN_INVALID: u64 = 0xFFFF_FFFF_0000_0000;

/// The values of `CLFS_LSN_NULL` and `CLFS_LSN_INVALID` as the backend exports them: in a
/// kernel build the two data symbols clfs.sys exports (wdm.h declares them
/// `extern __declspec(dllimport) const CLFS_LSN`; the image imports them by name), with the
/// emulator its constants. `clfs` checks its own constants against these once per
/// `LogFile::create`.
///
/// IRQL: any (two loads of constant data).
#[cfg(not(feature = "emulator"))]
pub fn exported_lsn_constants() -> (u64, u64) {
    // SAFETY: the two statics are immutable data exported by clfs.sys, bound by the loader
    // before the driver runs; reading a `CLFS_LSN` (a plain u64) has no other requirement.
    let null = unsafe { kernel::CLFS_LSN_NULL_DATA.Internal };
    // SAFETY: as above.
    let invalid = unsafe { kernel::CLFS_LSN_INVALID_DATA.Internal };
    (null, invalid)
}

/// The values of `CLFS_LSN_NULL` and `CLFS_LSN_INVALID` as the emulator defines them.
///
/// IRQL: any.
#[cfg(feature = "emulator")]
pub fn exported_lsn_constants() -> (u64, u64) {
    (clfs_emu::CLFS_LSN_NULL, clfs_emu::CLFS_LSN_INVALID)
}

// Pool types (wdm.h POOL_TYPE) and ExAllocatePool2 flags (wdm.h POOL_FLAGS).
pub const NonPagedPool: POOL_TYPE = windows_sys::Wdk::Foundation::NonPagedPool;
pub const PagedPool: POOL_TYPE = windows_sys::Wdk::Foundation::PagedPool;
pub const NonPagedPoolNx: POOL_TYPE = windows_sys::Wdk::Foundation::NonPagedPoolNx;
pub const POOL_FLAG_NON_PAGED: u64 = 0x0000_0000_0000_0040;
pub const POOL_FLAG_NON_PAGED_EXECUTE: u64 = 0x0000_0000_0000_0080;
pub const POOL_FLAG_PAGED: u64 = 0x0000_0000_0000_0100;

// Access, share, disposition and attribute values for ClfsCreateLogFile (reference §1.1).
pub const GENERIC_READ: u32 = 0x8000_0000;
pub const GENERIC_WRITE: u32 = 0x4000_0000;
pub const DELETE: u32 = 0x0001_0000;
pub const FILE_SHARE_READ: u32 = 1;
pub const FILE_SHARE_WRITE: u32 = 2;
pub const FILE_SHARE_DELETE: u32 = 4;
pub const FILE_OPEN: u32 = 1;
pub const FILE_CREATE: u32 = 2;
pub const FILE_OPEN_IF: u32 = 3;
pub const FILE_ATTRIBUTE_READONLY: u32 = 0x1;
pub const FILE_ATTRIBUTE_ARCHIVE: u32 = 0x20;
pub const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
pub const INFINITE: u32 = 0xFFFF_FFFF;

pub use windows_sys::Win32::Storage::FileSystem::{
    ClfsContextForward, ClfsContextPrevious, ClfsContextUndoNext, ClfsLogBasicInformation,
    CLFS_FLAG_FORCE_APPEND, CLFS_FLAG_FORCE_FLUSH, CLFS_FLAG_NO_FLAGS, CLFS_FLAG_USE_RESERVATION,
};
pub const ClfsNullRecord: u8 = 0x00;
pub const ClfsDataRecord: u8 = 0x01;
pub const ClfsRestartRecord: u8 = 0x02;
/// `ClfsClientRecord` is 0x03 in wdm.h; the Win32 docs' 0x3F is the internal mask (§2.6).
pub const ClfsClientRecord: u8 = 0x03;

pub use windows_sys::Win32::Storage::FileSystem::CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT;
pub use windows_sys::Win32::Storage::FileSystem::{
    ClfsContainerActive, ClfsContainerActivePendingDelete, ClfsContainerInactive,
    ClfsContainerInitializing, ClfsContainerPendingArchive, ClfsContainerPendingArchiveAndDelete,
    CLFS_SCAN_BACKWARD, CLFS_SCAN_CLOSE, CLFS_SCAN_FORWARD, CLFS_SCAN_INIT,
};

/// The corrected `CLS_SCAN_CONTEXT` layouts (reference §0.1 item 1, §2.10).
pub mod layout {
    use super::{CLFS_CONTAINER_INFORMATION, CLFS_NODE_ID, PLOG_FILE_OBJECT};

    /// `CLS_SCAN_CONTEXT`, kernel variant, with the header's per-member `align(8)` written out as
    /// explicit padding (reference §0.1 item 1, §2.10). windows-sys's copy is 40 bytes; this is 56.
    #[cfg(target_pointer_width = "64")]
    #[repr(C, align(8))]
    #[derive(Clone, Copy)]
    pub struct CLFS_SCAN_CONTEXT {
        pub cidNode: CLFS_NODE_ID,
        pub plfoLog: PLOG_FILE_OBJECT,
        pub cIndex: u32,
        pub _pad0: u32,
        pub cContainers: u32,
        pub _pad1: u32,
        pub cContainersReturned: u32,
        pub _pad2: u32,
        pub eScanMode: u8,
        pub _pad3: [u8; 7],
        pub pinfoContainer: *mut CLFS_CONTAINER_INFORMATION,
    }

    /// `CLS_SCAN_CONTEXT` for 32-bit targets: same offsets, 4-byte pointers (reference §2.10,
    /// inferred, not verified against MSVC).
    #[cfg(target_pointer_width = "32")]
    #[repr(C, align(8))]
    #[derive(Clone, Copy)]
    pub struct CLFS_SCAN_CONTEXT {
        pub cidNode: CLFS_NODE_ID,
        pub plfoLog: PLOG_FILE_OBJECT,
        pub _pad_ptr: u32,
        pub cIndex: u32,
        pub _pad0: u32,
        pub cContainers: u32,
        pub _pad1: u32,
        pub cContainersReturned: u32,
        pub _pad2: u32,
        pub eScanMode: u8,
        pub _pad3: [u8; 7],
        pub pinfoContainer: *mut CLFS_CONTAINER_INFORMATION,
        pub _pad_ptr2: u32,
    }
}

/// `CLS_SCAN_CONTEXT` with the header's alignment: [`layout::CLFS_SCAN_CONTEXT`] in a kernel
/// build; with the `emulator` feature, the emulator's copy of the same layout (asserted equal
/// below), so that the seam's type check of `ClfsCreateScanContext` holds.
#[cfg(not(feature = "emulator"))]
pub use self::layout::CLFS_SCAN_CONTEXT;
#[cfg(feature = "emulator")]
pub use clfs_emu::types::CLFS_SCAN_CONTEXT;

#[cfg(feature = "emulator")]
const _: () = {
    type K = layout::CLFS_SCAN_CONTEXT;
    type E = clfs_emu::types::CLFS_SCAN_CONTEXT;
    assert!(size_of::<K>() == size_of::<E>() && align_of::<K>() == align_of::<E>());
    assert!(offset_of!(K, plfoLog) == offset_of!(E, plfoLog));
    assert!(offset_of!(K, cIndex) == offset_of!(E, cIndex));
    assert!(offset_of!(K, cContainers) == offset_of!(E, cContainers));
    assert!(offset_of!(K, cContainersReturned) == offset_of!(E, cContainersReturned));
    assert!(offset_of!(K, eScanMode) == offset_of!(E, eScanMode));
    assert!(offset_of!(K, pinfoContainer) == offset_of!(E, pinfoContainer));
};

// ---- CLFS management (reference §1.9, §2.11) ----

pub use windows_sys::Wdk::System::SystemServices::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK;
pub use windows_sys::Win32::Storage::FileSystem::{
    ClfsMgmtAdvanceTailNotification, ClfsMgmtLogFullHandlerNotification,
    ClfsMgmtLogUnpinnedNotification, ClfsMgmtLogWriteNotification, CLFS_MGMT_NOTIFICATION_TYPE,
};
pub use windows_sys::Win32::Storage::FileSystem::{
    ClfsMgmtPolicyAutoGrow, ClfsMgmtPolicyAutoShrink, ClfsMgmtPolicyGrowthRate,
    ClfsMgmtPolicyInvalid, ClfsMgmtPolicyLogTail, ClfsMgmtPolicyMaximumSize,
    ClfsMgmtPolicyMinimumSize, ClfsMgmtPolicyNewContainerExtension,
    ClfsMgmtPolicyNewContainerPrefix, ClfsMgmtPolicyNewContainerSize,
    ClfsMgmtPolicyNewContainerSuffix, CLFS_MGMT_CLIENT_REGISTRATION_VERSION,
    CLFS_MGMT_NOTIFICATION, CLFS_MGMT_POLICY, CLFS_MGMT_POLICY_TYPE, CLFS_MGMT_POLICY_VERSION,
    LOG_POLICY_OVERWRITE, LOG_POLICY_PERSIST,
};
/// `CLFS_MGMT_CLIENT`: the opaque client cookie.
pub type CLFS_MGMT_CLIENT = *mut c_void;
/// `CLFS_MGMT_NUM_POLICIES`.
pub const CLFS_MGMT_NUM_POLICIES: u32 = ClfsMgmtPolicyInvalid as u32;
/// `CLFS_LOG_SIZE_MINIMUM`.
pub const CLFS_LOG_SIZE_MINIMUM: u64 = 0;
/// `CLFS_LOG_SIZE_MAXIMUM`.
pub const CLFS_LOG_SIZE_MAXIMUM: u64 = u64::MAX;

/// `PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK` (same shape as windows-sys's).
pub type PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK = Option<
    unsafe extern "system" fn(
        logfile: *const FILE_OBJECT,
        targetlsn: *const CLFS_LSN,
        clientdata: *const c_void,
    ) -> NTSTATUS,
>;
/// `PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK` with `LogIsPinned` as the header's one-byte
/// `BOOLEAN`. windows-sys declares it a Rust `bool`: a callback receiving any other byte from
/// Clfs.sys would be undefined behaviour. Corrected here.
pub type PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK = Option<
    unsafe extern "system" fn(
        logfile: *const FILE_OBJECT,
        operationstatus: NTSTATUS,
        logispinned: u8,
        clientdata: *const c_void,
    ),
>;
/// `PCLFS_CLIENT_LOG_UNPINNED_CALLBACK`.
pub type PCLFS_CLIENT_LOG_UNPINNED_CALLBACK =
    Option<unsafe extern "system" fn(logfile: *const FILE_OBJECT, clientdata: *const c_void)>;

/// `CLFS_MGMT_CLIENT_REGISTRATION` with the corrected LogGrowthComplete type. With the
/// `emulator` feature this is `clfs_emu`'s definition (the same fields; the asserts below hold
/// for both, so the layouts agree).
#[cfg(not(feature = "emulator"))]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CLFS_MGMT_CLIENT_REGISTRATION {
    pub Version: u32,
    pub AdvanceTailCallback: PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK,
    pub AdvanceTailCallbackData: *mut c_void,
    pub LogGrowthCompleteCallback: PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK,
    pub LogGrowthCompleteCallbackData: *mut c_void,
    pub LogUnpinnedCallback: PCLFS_CLIENT_LOG_UNPINNED_CALLBACK,
    pub LogUnpinnedCallbackData: *mut c_void,
}
#[cfg(feature = "emulator")]
pub use clfs_emu::types::CLFS_MGMT_CLIENT_REGISTRATION;

// Management layouts (reference §2.11, x64 [CALC]).
const _: () = {
    assert!(size_of::<CLFS_MGMT_POLICY_TYPE>() == 4);
    assert!(size_of::<CLFS_MGMT_POLICY>() == 24 && align_of::<CLFS_MGMT_POLICY>() == 8);
    assert!(offset_of!(CLFS_MGMT_POLICY, Version) == 0);
    assert!(offset_of!(CLFS_MGMT_POLICY, LengthInBytes) == 4);
    assert!(offset_of!(CLFS_MGMT_POLICY, PolicyFlags) == 8);
    assert!(offset_of!(CLFS_MGMT_POLICY, PolicyType) == 12);
    assert!(offset_of!(CLFS_MGMT_POLICY, PolicyParameters) == 16);
    assert!(size_of::<CLFS_MGMT_NOTIFICATION>() == 24);
    assert!(offset_of!(CLFS_MGMT_NOTIFICATION, Lsn) == 8);
    assert!(offset_of!(CLFS_MGMT_NOTIFICATION, LogIsPinned) == 16);
};
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<CLFS_MGMT_CLIENT_REGISTRATION>() == 56);
    assert!(offset_of!(CLFS_MGMT_CLIENT_REGISTRATION, AdvanceTailCallback) == 8);
    assert!(offset_of!(CLFS_MGMT_CLIENT_REGISTRATION, AdvanceTailCallbackData) == 16);
    assert!(offset_of!(CLFS_MGMT_CLIENT_REGISTRATION, LogGrowthCompleteCallback) == 24);
    assert!(offset_of!(CLFS_MGMT_CLIENT_REGISTRATION, LogGrowthCompleteCallbackData) == 32);
    assert!(offset_of!(CLFS_MGMT_CLIENT_REGISTRATION, LogUnpinnedCallback) == 40);
    assert!(offset_of!(CLFS_MGMT_CLIENT_REGISTRATION, LogUnpinnedCallbackData) == 48);
    // windows-sys's registration struct has the same layout; only the callback type differs.
    assert!(
        size_of::<windows_sys::Wdk::System::SystemServices::CLFS_MGMT_CLIENT_REGISTRATION>() == 56
    );
};

// Layout asserts against reference §2 (x64 values; [CALC], cross-checked with Vanara).
const _: () = {
    assert!(size_of::<CLFS_LSN>() == 8 && align_of::<CLFS_LSN>() == 8);
    assert!(size_of::<CLFS_NODE_ID>() == 8);
    assert!(size_of::<CLFS_INFORMATION>() == 120);
    assert!(offset_of!(CLFS_INFORMATION, TotalAvailable) == 0);
    assert!(offset_of!(CLFS_INFORMATION, CurrentAvailable) == 8);
    assert!(offset_of!(CLFS_INFORMATION, TotalReservation) == 16);
    assert!(offset_of!(CLFS_INFORMATION, BaseFileSize) == 24);
    assert!(offset_of!(CLFS_INFORMATION, ContainerSize) == 32);
    assert!(offset_of!(CLFS_INFORMATION, TotalContainers) == 40);
    assert!(offset_of!(CLFS_INFORMATION, FreeContainers) == 44);
    assert!(offset_of!(CLFS_INFORMATION, TotalClients) == 48);
    assert!(offset_of!(CLFS_INFORMATION, Attributes) == 52);
    assert!(offset_of!(CLFS_INFORMATION, FlushThreshold) == 56);
    assert!(offset_of!(CLFS_INFORMATION, SectorSize) == 60);
    assert!(offset_of!(CLFS_INFORMATION, MinArchiveTailLsn) == 64);
    assert!(offset_of!(CLFS_INFORMATION, BaseLsn) == 72);
    assert!(offset_of!(CLFS_INFORMATION, LastFlushedLsn) == 80);
    assert!(offset_of!(CLFS_INFORMATION, LastLsn) == 88);
    assert!(offset_of!(CLFS_INFORMATION, RestartLsn) == 96);
    assert!(offset_of!(CLFS_INFORMATION, Identity) == 104);
    assert!(size_of::<CLFS_CONTEXT_MODE>() == 4);
    assert!(size_of::<POOL_TYPE>() == 4);
};
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<CLFS_WRITE_ENTRY>() == 16);
    assert!(offset_of!(CLFS_WRITE_ENTRY, Buffer) == 0);
    assert!(offset_of!(CLFS_WRITE_ENTRY, ByteLength) == 8);
    assert!(size_of::<UNICODE_STRING>() == 16);
    assert!(offset_of!(UNICODE_STRING, Length) == 0);
    assert!(offset_of!(UNICODE_STRING, MaximumLength) == 2);
    assert!(offset_of!(UNICODE_STRING, Buffer) == 8);
    assert!(size_of::<CLFS_CONTAINER_INFORMATION>() == 576);
    assert!(offset_of!(CLFS_CONTAINER_INFORMATION, FileName) == 48);
    assert!(offset_of!(CLFS_CONTAINER_INFORMATION, State) == 560);
    assert!(offset_of!(CLFS_CONTAINER_INFORMATION, PhysicalContainerId) == 564);
    assert!(offset_of!(CLFS_CONTAINER_INFORMATION, LogicalContainerId) == 568);
    assert!(size_of::<CLFS_SCAN_CONTEXT>() == 56 && align_of::<CLFS_SCAN_CONTEXT>() == 8);
    assert!(offset_of!(CLFS_SCAN_CONTEXT, plfoLog) == 8);
    assert!(offset_of!(CLFS_SCAN_CONTEXT, cIndex) == 16);
    assert!(offset_of!(CLFS_SCAN_CONTEXT, cContainers) == 24);
    assert!(offset_of!(CLFS_SCAN_CONTEXT, cContainersReturned) == 32);
    assert!(offset_of!(CLFS_SCAN_CONTEXT, eScanMode) == 40);
    assert!(offset_of!(CLFS_SCAN_CONTEXT, pinfoContainer) == 48);
};

/// The kernel side: windows-sys's declarations, plus the corrected ones.
pub mod kernel {
    use super::*;

    pub use windows_sys::Wdk::System::SystemServices::{
        ClfsAddLogContainer, ClfsAddLogContainerSet, ClfsAdvanceLogBase, ClfsAlignReservedLog,
        ClfsAllocReservedLog, ClfsCloseAndResetLogFile, ClfsCloseLogFileObject, ClfsCreateLogFile,
        ClfsDeleteLogByPointer, ClfsDeleteLogFile, ClfsDeleteMarshallingArea, ClfsFlushBuffers,
        ClfsFlushToLsn, ClfsFreeReservedLog, ClfsGetContainerName, ClfsGetIoStatistics,
        ClfsLsnBlockOffset, ClfsLsnContainer, ClfsLsnCreate, ClfsLsnEqual, ClfsLsnGreater,
        ClfsLsnInvalid, ClfsLsnLess, ClfsLsnNull, ClfsLsnRecordSequence,
        ClfsQueryLogFileInformation, ClfsReadLogRecord, ClfsReadNextLogRecord,
        ClfsReadPreviousRestartArea, ClfsReadRestartArea, ClfsRemoveLogContainer,
        ClfsRemoveLogContainerSet, ClfsReserveAndAppendLog, ClfsReserveAndAppendLogAligned,
        ClfsSetArchiveTail, ClfsSetEndOfLog, ClfsSetLogFileInformation, ClfsTerminateReadLog,
        ClfsWriteRestartArea, ExAllocatePool2, ExFreePoolWithTag,
    };
    pub use windows_sys::Wdk::System::SystemServices::{
        ClfsMgmtDeregisterManagedClient, ClfsMgmtHandleLogFileFull, ClfsMgmtInstallPolicy,
        ClfsMgmtQueryPolicy, ClfsMgmtRemovePolicy, ClfsMgmtSetLogFileSize,
        ClfsMgmtSetLogFileSizeAsClient, ClfsMgmtTailAdvanceFailure,
    };

    /// `KeGetCurrentIrql` as wdm.h defines it on AMD64: `FORCEINLINE`, `return
    /// (KIRQL)__readcr8();`. On x64 the IRQL *is* CR8, so the check before every CLFS call is
    /// one instruction and the image imports nothing for it (ntoskrnl.exe exports the routine
    /// only from Windows 10 on).
    ///
    /// # Safety
    /// Kernel mode only: reading CR8 at CPL 3 raises #GP. Any IRQL.
    ///
    /// It exists only in kernel builds (`cfg(clfs_kernel)`: the `kernel` feature on a Windows
    /// target), so no user-mode build can contain it.
    #[cfg(all(clfs_kernel, target_arch = "x86_64"))]
    #[inline(always)]
    pub unsafe extern "system" fn KeGetCurrentIrql() -> u8 {
        let cr8: u64;
        // SAFETY: the caller runs in kernel mode (this function's contract), where reading CR8
        // is allowed at any IRQL; it touches no memory, no stack and no flags.
        unsafe {
            core::arch::asm!(
                "mov {}, cr8",
                out(reg) cr8,
                options(nomem, nostack, preserves_flags)
            );
        }
        // The IRQL is CR8's low 4 bits (the TPR); the rest reads as zero.
        cr8 as u8
    }

    /// `KeGetCurrentIrql` elsewhere: the exported routine (hal.dll on x86, ntoskrnl.exe on
    /// ARM64, as windows-sys declares it). In a non-kernel build without the emulator (a
    /// non-Windows target with neither backend feature) it is an unresolved external, so a
    /// binary that reaches it fails to link instead of executing a privileged instruction.
    #[cfg(not(all(clfs_kernel, target_arch = "x86_64")))]
    pub use windows_sys::Wdk::System::SystemServices::KeGetCurrentIrql;

    #[cfg_attr(
        all(windows, not(target_arch = "x86")),
        link(name = "clfs.sys", kind = "raw-dylib", modifiers = "+verbatim")
    )]
    #[cfg_attr(
        all(windows, target_arch = "x86"),
        link(
            name = "clfs.sys",
            kind = "raw-dylib",
            modifiers = "+verbatim",
            import_name_type = "undecorated"
        )
    )]
    extern "system" {
        /// `CLFS_LSN_NULL`: data exported by clfs.sys (reference §3.3), imported by name.
        #[link_name = "CLFS_LSN_NULL"]
        pub static CLFS_LSN_NULL_DATA: CLFS_LSN;
        /// `CLFS_LSN_INVALID`: data exported by clfs.sys (reference §3.3), imported by name.
        #[link_name = "CLFS_LSN_INVALID"]
        pub static CLFS_LSN_INVALID_DATA: CLFS_LSN;

        /// `ClfsCreateMarshallingArea` with the documented callback shapes (reference §1.4).
        /// windows-sys's declaration takes parameterless callbacks.
        pub fn ClfsCreateMarshallingArea(
            plfolog: *const FILE_OBJECT,
            epooltype: POOL_TYPE,
            pfnallocbuffer: PALLOCATE_FUNCTION,
            pfnfreebuffer: PFREE_FUNCTION,
            cbmarshallingbuffer: u32,
            cmaxwritebuffers: u32,
            cmaxreadbuffers: u32,
            ppvmarshalcontext: *mut *mut c_void,
        ) -> NTSTATUS;

        /// `ClfsMgmtRegisterManagedClient` taking the corrected registration struct
        /// (`LogIsPinned` is a `BOOLEAN` byte, not a Rust `bool`).
        pub fn ClfsMgmtRegisterManagedClient(
            logfile: *const FILE_OBJECT,
            registrationdata: *const CLFS_MGMT_CLIENT_REGISTRATION,
            clientcookie: *mut *mut c_void,
        ) -> NTSTATUS;

        /// `ClfsCreateMarshallingAreaEx` (Windows 10 1803+) with the documented callback
        /// shapes (reference §1.4). windows-sys repeats the parameterless-callback defect
        /// here. Imported from `clfs.sys`, like every other `Clfs*` routine
        /// (docs/decisions.md).
        #[allow(clippy::too_many_arguments)]
        pub fn ClfsCreateMarshallingAreaEx(
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
        ) -> NTSTATUS;

        /// `ClfsCreateScanContext` with the 56-byte [`CLFS_SCAN_CONTEXT`] (reference §1.2,
        /// §2.10). windows-sys's declaration takes its 40-byte struct, into which CLFS would
        /// write 56 bytes.
        pub fn ClfsCreateScanContext(
            plfolog: *const FILE_OBJECT,
            cfromcontainer: u32,
            ccontainers: u32,
            escanmode: u8,
            pcxscan: *mut CLFS_SCAN_CONTEXT,
        ) -> NTSTATUS;

        /// `ClfsScanLogContainers` with the 56-byte [`CLFS_SCAN_CONTEXT`].
        pub fn ClfsScanLogContainers(pcxscan: *mut CLFS_SCAN_CONTEXT, escanmode: u8) -> NTSTATUS;
    }
}

macro_rules! seam {
    ($($name:ident),* $(,)?) => {
        #[cfg(not(feature = "emulator"))]
        pub use self::kernel::{$($name),*};
        #[cfg(feature = "emulator")]
        pub use clfs_emu::{$($name),*};

        /// Compile-time proof that each emulator routine has exactly the raw declaration's
        /// type: an array of the two function items only type-checks if both coerce to the
        /// same function-pointer type.
        #[cfg(feature = "emulator")]
        const _: () = {
            $( let _ = [self::kernel::$name, clfs_emu::$name]; )*
        };
    };
}

seam! {
    ClfsCreateLogFile,
    ClfsCloseLogFileObject,
    ClfsCloseAndResetLogFile,
    ClfsDeleteLogFile,
    ClfsDeleteLogByPointer,
    ClfsAddLogContainer,
    ClfsAddLogContainerSet,
    ClfsRemoveLogContainer,
    ClfsRemoveLogContainerSet,
    ClfsQueryLogFileInformation,
    ClfsCreateMarshallingArea,
    ClfsDeleteMarshallingArea,
    ClfsReserveAndAppendLog,
    ClfsReserveAndAppendLogAligned,
    ClfsAlignReservedLog,
    ClfsAllocReservedLog,
    ClfsFreeReservedLog,
    ClfsFlushToLsn,
    ClfsFlushBuffers,
    ClfsWriteRestartArea,
    ClfsReadLogRecord,
    ClfsReadNextLogRecord,
    ClfsReadRestartArea,
    ClfsReadPreviousRestartArea,
    ClfsTerminateReadLog,
    ClfsAdvanceLogBase,
    ClfsSetArchiveTail,
    ClfsSetEndOfLog,
    ClfsCreateMarshallingAreaEx,
    ClfsSetLogFileInformation,
    ClfsGetIoStatistics,
    ClfsCreateScanContext,
    ClfsScanLogContainers,
    ClfsGetContainerName,
    ClfsLsnCreate,
    ClfsLsnContainer,
    ClfsLsnBlockOffset,
    ClfsLsnRecordSequence,
    ClfsLsnEqual,
    ClfsLsnLess,
    ClfsLsnGreater,
    ClfsLsnNull,
    ClfsLsnInvalid,
    KeGetCurrentIrql,
    ExAllocatePool2,
    ExFreePoolWithTag,
    ClfsMgmtRegisterManagedClient,
    ClfsMgmtDeregisterManagedClient,
    ClfsMgmtTailAdvanceFailure,
    ClfsMgmtHandleLogFileFull,
    ClfsMgmtInstallPolicy,
    ClfsMgmtQueryPolicy,
    ClfsMgmtRemovePolicy,
    ClfsMgmtSetLogFileSize,
    ClfsMgmtSetLogFileSizeAsClient,
}
