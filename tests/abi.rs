//! ABI conformance of the FFI seam (`clfs::sys`) with the WDK (reference §2).
//!
//! 1. Runtime layout checks of every struct and enum that crosses the boundary against the
//!    sizes and offsets of reference §2 (x64), complementing the const asserts in
//!    `src/sys/mod.rs`.
//! 2. A C probe compiled with mingw-w64 (`x86_64-w64-mingw32-gcc`): `_Static_assert`s generated
//!    from *our* sizes, offsets, constants and function signatures against mingw-w64's
//!    `ddk/wdm.h`, so a mismatch fails compilation. A second probe asserts the known
//!    deviations of mingw-w64's user-mode `clfs.h` (reference §7.1 item 27) explicitly.
//!    Without the compiler the test fails in CI (`CI` set, or `CLFS_ABI_PROBE=require`, which
//!    `.ci/run` exports) and skips with a printed notice elsewhere; `CLFS_ABI_PROBE=skip` skips it.
//!    `.ci/abi.sh` installs the compiler and runs this file.
//! 3. The known windows-sys defects, each with a check that fails against windows-sys's item
//!    and passes against the corrected one in `clfs::sys`.
#![cfg(all(target_os = "linux", target_pointer_width = "64"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use core::ffi::c_void;
use core::mem::{align_of, offset_of, size_of};
use std::any::TypeId;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use clfs::sys;
use windows_sys::Win32::Foundation::UNICODE_STRING;
use windows_sys::Win32::Storage::FileSystem::{CLS_LSN, CLS_WRITE_ENTRY};

// ------------------------------------------------------------------------------------------
// The boundary: structs (with fields) and functions, described once for both checks.

/// One struct that crosses the boundary: its C name, our size and alignment, and its fields'
/// offsets.
struct Layout {
    c_name: &'static str,
    size: usize,
    align: usize,
    fields: Vec<(&'static str, usize)>,
}

macro_rules! layout {
    ($c:literal, $t:ty, [$($f:ident),* $(,)?]) => {
        Layout {
            c_name: $c,
            size: size_of::<$t>(),
            align: align_of::<$t>(),
            fields: vec![$((stringify!($f), offset_of!($t, $f))),*],
        }
    };
}

fn layouts() -> Vec<Layout> {
    vec![
        layout!("CLFS_LSN", sys::CLFS_LSN, [Internal]),
        layout!("CLFS_NODE_ID", sys::CLFS_NODE_ID, [cType, cbNode]),
        layout!(
            "CLFS_WRITE_ENTRY",
            sys::CLFS_WRITE_ENTRY,
            [Buffer, ByteLength]
        ),
        layout!(
            "CLFS_INFORMATION",
            sys::CLFS_INFORMATION,
            [
                TotalAvailable,
                CurrentAvailable,
                TotalReservation,
                BaseFileSize,
                ContainerSize,
                TotalContainers,
                FreeContainers,
                TotalClients,
                Attributes,
                FlushThreshold,
                SectorSize,
                MinArchiveTailLsn,
                BaseLsn,
                LastFlushedLsn,
                LastLsn,
                RestartLsn,
                Identity,
            ]
        ),
        layout!(
            "CLFS_CONTAINER_INFORMATION",
            sys::CLFS_CONTAINER_INFORMATION,
            [
                FileAttributes,
                CreationTime,
                LastAccessTime,
                LastWriteTime,
                ContainerSize,
                FileNameActualLength,
                FileNameLength,
                FileName,
                State,
                PhysicalContainerId,
                LogicalContainerId,
            ]
        ),
        layout!(
            "CLFS_SCAN_CONTEXT",
            sys::CLFS_SCAN_CONTEXT,
            [
                cidNode,
                plfoLog,
                cIndex,
                cContainers,
                cContainersReturned,
                eScanMode,
                pinfoContainer,
            ]
        ),
        layout!(
            "UNICODE_STRING",
            sys::UNICODE_STRING,
            [Length, MaximumLength, Buffer]
        ),
        Layout {
            c_name: "POOL_TYPE",
            size: size_of::<sys::POOL_TYPE>(),
            align: align_of::<sys::POOL_TYPE>(),
            fields: vec![],
        },
        Layout {
            c_name: "CLFS_CONTEXT_MODE",
            size: size_of::<sys::CLFS_CONTEXT_MODE>(),
            align: align_of::<sys::CLFS_CONTEXT_MODE>(),
            fields: vec![],
        },
        Layout {
            c_name: "CLFS_LOG_INFORMATION_CLASS",
            size: size_of::<sys::CLFS_LOG_INFORMATION_CLASS>(),
            align: align_of::<sys::CLFS_LOG_INFORMATION_CLASS>(),
            fields: vec![],
        },
        Layout {
            c_name: "NTSTATUS",
            size: size_of::<sys::NTSTATUS>(),
            align: align_of::<sys::NTSTATUS>(),
            fields: vec![],
        },
        // Management (reference §2.11).
        layout!(
            "CLFS_MGMT_POLICY",
            sys::CLFS_MGMT_POLICY,
            [
                Version,
                LengthInBytes,
                PolicyFlags,
                PolicyType,
                PolicyParameters,
            ]
        ),
        layout!(
            "CLFS_MGMT_NOTIFICATION",
            sys::CLFS_MGMT_NOTIFICATION,
            [Notification, Lsn, LogIsPinned]
        ),
        layout!(
            "CLFS_MGMT_CLIENT_REGISTRATION",
            sys::CLFS_MGMT_CLIENT_REGISTRATION,
            [
                Version,
                AdvanceTailCallback,
                AdvanceTailCallbackData,
                LogGrowthCompleteCallback,
                LogGrowthCompleteCallbackData,
                LogUnpinnedCallback,
                LogUnpinnedCallbackData,
            ]
        ),
        // The emulator's own definition (the seam uses it with the `emulator` feature; the
        // kernel build's copy in `clfs::sys` is asserted to the same offsets at compile time).
        layout!(
            "CLFS_MGMT_CLIENT_REGISTRATION",
            clfs_emu::types::CLFS_MGMT_CLIENT_REGISTRATION,
            [
                Version,
                AdvanceTailCallback,
                AdvanceTailCallbackData,
                LogGrowthCompleteCallback,
                LogGrowthCompleteCallbackData,
                LogUnpinnedCallback,
                LogUnpinnedCallbackData,
            ]
        ),
        Layout {
            c_name: "CLFS_MGMT_POLICY_TYPE",
            size: size_of::<sys::CLFS_MGMT_POLICY_TYPE>(),
            align: align_of::<sys::CLFS_MGMT_POLICY_TYPE>(),
            fields: vec![],
        },
        Layout {
            c_name: "CLFS_MGMT_NOTIFICATION_TYPE",
            size: size_of::<sys::CLFS_MGMT_NOTIFICATION_TYPE>(),
            align: align_of::<sys::CLFS_MGMT_NOTIFICATION_TYPE>(),
            fields: vec![],
        },
        Layout {
            c_name: "CLFS_MGMT_CLIENT",
            size: size_of::<sys::CLFS_MGMT_CLIENT>(),
            align: align_of::<sys::CLFS_MGMT_CLIENT>(),
            fields: vec![],
        },
    ]
}

/// One member of `CLFS_MGMT_POLICY`'s `PolicyParameters` union: the C member designator, our
/// offset from the start of the policy, and our size.
fn policy_union_members() -> Vec<(&'static str, usize, usize)> {
    use windows_sys::Win32::Storage::FileSystem as fs;
    type P = sys::CLFS_MGMT_POLICY;
    macro_rules! member {
        ($m:ident . $f:ident : $t:ty) => {
            (
                concat!("PolicyParameters.", stringify!($m), ".", stringify!($f)),
                offset_of!(P, PolicyParameters.$m.$f),
                size_of::<$t>(),
            )
        };
        ($m:ident : $t:ty) => {
            (
                concat!("PolicyParameters.", stringify!($m)),
                offset_of!(P, PolicyParameters.$m),
                size_of::<$t>(),
            )
        };
    }
    vec![
        (
            "PolicyParameters",
            offset_of!(P, PolicyParameters),
            size_of::<fs::CLFS_MGMT_POLICY_0>(),
        ),
        member!(MaximumSize: fs::CLFS_MGMT_POLICY_0_0),
        member!(MaximumSize.Containers: u32),
        member!(MinimumSize: fs::CLFS_MGMT_POLICY_0_1),
        member!(MinimumSize.Containers: u32),
        member!(NewContainerSize: fs::CLFS_MGMT_POLICY_0_2),
        member!(NewContainerSize.SizeInBytes: u32),
        member!(GrowthRate: fs::CLFS_MGMT_POLICY_0_3),
        member!(GrowthRate.AbsoluteGrowthInContainers: u32),
        member!(GrowthRate.RelativeGrowthPercentage: u32),
        member!(LogTail: fs::CLFS_MGMT_POLICY_0_4),
        member!(LogTail.MinimumAvailablePercentage: u32),
        member!(LogTail.MinimumAvailableContainers: u32),
        member!(AutoShrink: fs::CLFS_MGMT_POLICY_0_5),
        member!(AutoShrink.Percentage: u32),
        member!(AutoGrow: fs::CLFS_MGMT_POLICY_0_6),
        member!(AutoGrow.Enabled: u32),
        member!(NewContainerPrefix: fs::CLFS_MGMT_POLICY_0_7),
        member!(NewContainerPrefix.PrefixLengthInBytes: u16),
        member!(NewContainerPrefix.PrefixString: [u16; 1]),
        member!(NewContainerSuffix: fs::CLFS_MGMT_POLICY_0_8),
        member!(NewContainerSuffix.NextContainerSuffix: u64),
        member!(NewContainerExtension: fs::CLFS_MGMT_POLICY_0_9),
        member!(NewContainerExtension.ExtensionLengthInBytes: u16),
        member!(NewContainerExtension.ExtensionString: [u16; 1]),
    ]
}

/// Reference §2.11 ([CALC]): each union member's offset in `CLFS_MGMT_POLICY` and its size,
/// in the order of [`policy_union_members`].
const POLICY_UNION_REFERENCE: [(usize, usize); 25] = [
    (16, 8),
    (16, 4),
    (16, 4),
    (16, 4),
    (16, 4),
    (16, 4),
    (16, 4),
    (16, 8),
    (16, 4),
    (20, 4),
    (16, 8),
    (16, 4),
    (20, 4),
    (16, 4),
    (16, 4),
    (16, 4),
    (16, 4),
    (16, 4),
    (16, 2),
    (18, 2),
    (16, 8),
    (16, 8),
    (16, 4),
    (16, 2),
    (18, 2),
];

/// Reference §2 (x64, [CALC]): size, alignment and field offsets.
fn reference() -> Vec<(&'static str, usize, usize, Vec<usize>)> {
    vec![
        ("CLFS_LSN", 8, 8, vec![0]),
        ("CLFS_NODE_ID", 8, 4, vec![0, 4]),
        ("CLFS_WRITE_ENTRY", 16, 8, vec![0, 8]),
        (
            "CLFS_INFORMATION",
            120,
            8,
            vec![
                0, 8, 16, 24, 32, 40, 44, 48, 52, 56, 60, 64, 72, 80, 88, 96, 104,
            ],
        ),
        (
            "CLFS_CONTAINER_INFORMATION",
            576,
            8,
            vec![0, 8, 16, 24, 32, 40, 44, 48, 560, 564, 568],
        ),
        ("CLFS_SCAN_CONTEXT", 56, 8, vec![0, 8, 16, 24, 32, 40, 48]),
        ("UNICODE_STRING", 16, 8, vec![0, 2, 8]),
        ("POOL_TYPE", 4, 4, vec![]),
        ("CLFS_CONTEXT_MODE", 4, 4, vec![]),
        ("CLFS_LOG_INFORMATION_CLASS", 4, 4, vec![]),
        ("NTSTATUS", 4, 4, vec![]),
        ("CLFS_MGMT_POLICY", 24, 8, vec![0, 4, 8, 12, 16]),
        ("CLFS_MGMT_NOTIFICATION", 24, 8, vec![0, 8, 16]),
        (
            "CLFS_MGMT_CLIENT_REGISTRATION",
            56,
            8,
            vec![0, 8, 16, 24, 32, 40, 48],
        ),
        (
            "CLFS_MGMT_CLIENT_REGISTRATION",
            56,
            8,
            vec![0, 8, 16, 24, 32, 40, 48],
        ),
        ("CLFS_MGMT_POLICY_TYPE", 4, 4, vec![]),
        ("CLFS_MGMT_NOTIFICATION_TYPE", 4, 4, vec![]),
        ("CLFS_MGMT_CLIENT", 8, 8, vec![]),
    ]
}

/// Integer constants our seam passes across the boundary, with their C names in wdm.h.
fn constants() -> Vec<(&'static str, i128)> {
    use clfs_emu::types as emu;
    let c = |name: &'static str, v: i64| (name, i128::from(v));
    let mut v: Vec<(&'static str, i128)> = old_constants()
        .into_iter()
        .map(|(n, x)| (n, i128::from(x)))
        .collect();
    // Management (reference §2.11): the crate's values (windows-sys's, through the seam)...
    v.extend([
        c(
            "ClfsMgmtPolicyMaximumSize",
            i64::from(sys::ClfsMgmtPolicyMaximumSize),
        ),
        c(
            "ClfsMgmtPolicyMinimumSize",
            i64::from(sys::ClfsMgmtPolicyMinimumSize),
        ),
        c(
            "ClfsMgmtPolicyNewContainerSize",
            i64::from(sys::ClfsMgmtPolicyNewContainerSize),
        ),
        c(
            "ClfsMgmtPolicyGrowthRate",
            i64::from(sys::ClfsMgmtPolicyGrowthRate),
        ),
        c(
            "ClfsMgmtPolicyLogTail",
            i64::from(sys::ClfsMgmtPolicyLogTail),
        ),
        c(
            "ClfsMgmtPolicyAutoShrink",
            i64::from(sys::ClfsMgmtPolicyAutoShrink),
        ),
        c(
            "ClfsMgmtPolicyAutoGrow",
            i64::from(sys::ClfsMgmtPolicyAutoGrow),
        ),
        c(
            "ClfsMgmtPolicyNewContainerPrefix",
            i64::from(sys::ClfsMgmtPolicyNewContainerPrefix),
        ),
        c(
            "ClfsMgmtPolicyNewContainerSuffix",
            i64::from(sys::ClfsMgmtPolicyNewContainerSuffix),
        ),
        c(
            "ClfsMgmtPolicyNewContainerExtension",
            i64::from(sys::ClfsMgmtPolicyNewContainerExtension),
        ),
        c(
            "ClfsMgmtPolicyInvalid",
            i64::from(sys::ClfsMgmtPolicyInvalid),
        ),
        c(
            "ClfsMgmtAdvanceTailNotification",
            i64::from(sys::ClfsMgmtAdvanceTailNotification),
        ),
        c(
            "ClfsMgmtLogFullHandlerNotification",
            i64::from(sys::ClfsMgmtLogFullHandlerNotification),
        ),
        c(
            "ClfsMgmtLogUnpinnedNotification",
            i64::from(sys::ClfsMgmtLogUnpinnedNotification),
        ),
        c(
            "ClfsMgmtLogWriteNotification",
            i64::from(sys::ClfsMgmtLogWriteNotification),
        ),
        c(
            "CLFS_MGMT_NUM_POLICIES",
            i64::from(sys::CLFS_MGMT_NUM_POLICIES),
        ),
        c(
            "CLFS_MGMT_POLICY_VERSION",
            i64::from(sys::CLFS_MGMT_POLICY_VERSION),
        ),
        c(
            "CLFS_MGMT_CLIENT_REGISTRATION_VERSION",
            i64::from(sys::CLFS_MGMT_CLIENT_REGISTRATION_VERSION),
        ),
        c("LOG_POLICY_OVERWRITE", i64::from(sys::LOG_POLICY_OVERWRITE)),
        c("LOG_POLICY_PERSIST", i64::from(sys::LOG_POLICY_PERSIST)),
        (
            "CLFS_LOG_SIZE_MINIMUM",
            i128::from(sys::CLFS_LOG_SIZE_MINIMUM),
        ),
        (
            "CLFS_LOG_SIZE_MAXIMUM",
            i128::from(sys::CLFS_LOG_SIZE_MAXIMUM),
        ),
    ]);
    // ...and the emulator's own (emu/src/types.rs), which its management code reads and writes.
    v.extend([
        c(
            "CLFS_MGMT_NUM_POLICIES",
            i64::from(emu::CLFS_MGMT_NUM_POLICIES),
        ),
        c(
            "CLFS_MGMT_POLICY_VERSION",
            i64::from(emu::CLFS_MGMT_POLICY_VERSION),
        ),
        c(
            "CLFS_MGMT_CLIENT_REGISTRATION_VERSION",
            i64::from(emu::CLFS_MGMT_CLIENT_REGISTRATION_VERSION),
        ),
        c("LOG_POLICY_OVERWRITE", i64::from(emu::LOG_POLICY_OVERWRITE)),
        c("LOG_POLICY_PERSIST", i64::from(emu::LOG_POLICY_PERSIST)),
        c(
            "sizeof(CLFS_MGMT_POLICY)",
            i64::from(emu::CLFS_MGMT_POLICY_SIZE),
        ),
        c(
            "offsetof(CLFS_MGMT_POLICY, PolicyParameters)",
            emu::CLFS_MGMT_POLICY_PARAMETERS as i64,
        ),
        c(
            "offsetof(CLFS_MGMT_POLICY, PolicyParameters.GrowthRate.RelativeGrowthPercentage)",
            emu::CLFS_MGMT_POLICY_SECOND as i64,
        ),
        c(
            "offsetof(CLFS_MGMT_POLICY, PolicyParameters.LogTail.MinimumAvailableContainers)",
            emu::CLFS_MGMT_POLICY_SECOND as i64,
        ),
        c(
            "offsetof(CLFS_MGMT_POLICY, PolicyParameters.NewContainerPrefix.PrefixString)",
            emu::CLFS_MGMT_POLICY_STRING as i64,
        ),
        c(
            "offsetof(CLFS_MGMT_POLICY, PolicyParameters.NewContainerExtension.ExtensionString)",
            emu::CLFS_MGMT_POLICY_STRING as i64,
        ),
    ]);
    v
}

/// The constants of the I/O and log routines (see [`constants`]).
fn old_constants() -> Vec<(&'static str, i64)> {
    vec![
        ("NonPagedPool", i64::from(sys::NonPagedPool)),
        ("PagedPool", i64::from(sys::PagedPool)),
        ("NonPagedPoolNx", i64::from(sys::NonPagedPoolNx)),
        ("ClfsContextUndoNext", i64::from(sys::ClfsContextUndoNext)),
        ("ClfsContextPrevious", i64::from(sys::ClfsContextPrevious)),
        ("ClfsContextForward", i64::from(sys::ClfsContextForward)),
        (
            "ClfsLogBasicInformation",
            i64::from(sys::ClfsLogBasicInformation),
        ),
        ("ClfsNullRecord", i64::from(sys::ClfsNullRecord)),
        ("ClfsDataRecord", i64::from(sys::ClfsDataRecord)),
        ("ClfsRestartRecord", i64::from(sys::ClfsRestartRecord)),
        ("ClfsClientRecord", i64::from(sys::ClfsClientRecord)),
        ("CLFS_FLAG_NO_FLAGS", i64::from(sys::CLFS_FLAG_NO_FLAGS)),
        (
            "CLFS_FLAG_FORCE_APPEND",
            i64::from(sys::CLFS_FLAG_FORCE_APPEND),
        ),
        (
            "CLFS_FLAG_FORCE_FLUSH",
            i64::from(sys::CLFS_FLAG_FORCE_FLUSH),
        ),
        (
            "CLFS_FLAG_USE_RESERVATION",
            i64::from(sys::CLFS_FLAG_USE_RESERVATION),
        ),
        ("FILE_OPEN", i64::from(sys::FILE_OPEN)),
        ("FILE_CREATE", i64::from(sys::FILE_CREATE)),
        ("FILE_OPEN_IF", i64::from(sys::FILE_OPEN_IF)),
        ("GENERIC_READ", i64::from(sys::GENERIC_READ)),
        ("GENERIC_WRITE", i64::from(sys::GENERIC_WRITE)),
        ("DELETE", i64::from(sys::DELETE)),
        ("FILE_SHARE_READ", i64::from(sys::FILE_SHARE_READ)),
        ("FILE_SHARE_WRITE", i64::from(sys::FILE_SHARE_WRITE)),
        ("FILE_SHARE_DELETE", i64::from(sys::FILE_SHARE_DELETE)),
        (
            "FILE_ATTRIBUTE_READONLY",
            i64::from(sys::FILE_ATTRIBUTE_READONLY),
        ),
        (
            "FILE_ATTRIBUTE_ARCHIVE",
            i64::from(sys::FILE_ATTRIBUTE_ARCHIVE),
        ),
        (
            "FILE_ATTRIBUTE_NORMAL",
            i64::from(sys::FILE_ATTRIBUTE_NORMAL),
        ),
    ]
}

/// The C function-pointer type with these return and parameter types (`void` for none: `()`
/// in C means "unspecified").
fn c_fn_type(ret: &str, params: &[&str]) -> String {
    let params = if params.is_empty() {
        "void".to_string()
    } else {
        params.join(", ")
    };
    format!("{ret} (*)({params})")
}

/// For each routine of the seam: a compile-time proof that `clfs::sys::$name` has the Rust
/// signature the kinds spell, and the C function-pointer type the same kinds spell in wdm.h's
/// terms, for the C probe.
macro_rules! abi_fns {
    ($($name:ident($($p:ident),*) -> $r:ident;)*) => {
        fn functions() -> Vec<(&'static str, String)> {
            $(
                // The Rust side: `clfs::sys::$name` has exactly this type.
                const _: unsafe extern "system" fn($(abi_rust!($p)),*) -> abi_rust!($r) =
                    sys::$name;
            )*
            vec![$((
                stringify!($name),
                c_fn_type(abi_c!($r), &[$(abi_c!($p)),*]),
            )),*]
        }
    };
}

/// For each callback typedef of the seam: a compile-time proof that `clfs::sys::$name` and
/// the emulator's `clfs_emu::types::$name` are exactly the function-pointer type the kinds
/// spell, and the C type the same kinds spell in wdm.h's terms, for the C probe.
macro_rules! abi_callbacks {
    ($($name:ident($($p:ident),*) -> $r:ident;)*) => {
        fn callbacks() -> Vec<(&'static str, String)> {
            $(
                const _: sys::$name =
                    None::<unsafe extern "system" fn($(abi_rust!($p)),*) -> abi_rust!($r)>;
                const _: clfs_emu::types::$name =
                    None::<unsafe extern "system" fn($(abi_rust!($p)),*) -> abi_rust!($r)>;
            )*
            vec![$((
                stringify!($name),
                c_fn_type(abi_c!($r), &[$(abi_c!($p)),*]),
            )),*]
        }
    };
}

/// Our Rust type for each parameter kind (windows-sys's, or `clfs::sys`'s corrected ones).
macro_rules! abi_rust {
    (status) => { sys::NTSTATUS };
    (unit) => { () };
    (obj) => { *const sys::FILE_OBJECT };
    (obj_out) => { *mut *mut sys::FILE_OBJECT };
    (ustr) => { *const UNICODE_STRING };
    (u32) => { u32 };
    (u16) => { u16 };
    (irql) => { u8 };
    (boolean) => { bool };
    (sd) => { windows_sys::Win32::Security::PSECURITY_DESCRIPTOR };
    (cptr) => { *const c_void };
    (mptr) => { *mut c_void };
    (pptr) => { *mut *mut c_void };
    (pu64) => { *const u64 };
    (pi64) => { *const i64 };
    (pi64_out) => { *mut i64 };
    (pu32_out) => { *mut u32 };
    (rectype_out) => { *mut u8 };
    (lsn) => { CLS_LSN };
    (lsn_in) => { *const CLS_LSN };
    (lsn_out) => { *mut CLS_LSN };
    (lsn_const) => { *const CLS_LSN };
    (entries) => { *const CLS_WRITE_ENTRY };
    (infoclass) => { sys::CLFS_LOG_INFORMATION_CLASS };
    (mode) => { sys::CLFS_CONTEXT_MODE };
    (pool) => { sys::POOL_TYPE };
    (alloc) => { sys::PALLOCATE_FUNCTION };
    (free) => { sys::PFREE_FUNCTION };
    (cid) => { u32 };
    (bbyte) => { u8 };
    (cookie) => { *const c_void };
    (cookie_out) => { *mut *mut c_void };
    (cookie_ptr) => { *const *const c_void };
    (reg) => { *const sys::CLFS_MGMT_CLIENT_REGISTRATION };
    (policy_in) => { *const sys::CLFS_MGMT_POLICY };
    (policy_out) => { *mut sys::CLFS_MGMT_POLICY };
    (ptype) => { sys::CLFS_MGMT_POLICY_TYPE };
    (pu64_out) => { *mut u64 };
    (setsize_cb) => { sys::PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK };
}

/// The C type wdm.h uses for each parameter kind of `abi_rust!`. Pointer constness is not part
/// of the ABI: the C side spells the header's qualifier, the Rust side windows-sys's.
macro_rules! abi_c {
    (status) => {
        "NTSTATUS"
    };
    (unit) => {
        "VOID"
    };
    (obj) => {
        "PLOG_FILE_OBJECT"
    };
    (obj_out) => {
        "PPLOG_FILE_OBJECT"
    };
    (ustr) => {
        "PUNICODE_STRING"
    };
    (u32) => {
        "ULONG"
    };
    (u16) => {
        "USHORT"
    };
    (irql) => {
        "KIRQL"
    };
    (boolean) => {
        "BOOLEAN"
    };
    (sd) => {
        "PSECURITY_DESCRIPTOR"
    };
    (cptr) => {
        "PVOID"
    };
    (mptr) => {
        "PVOID"
    };
    (pptr) => {
        "PVOID*"
    };
    (pu64) => {
        "PULONGLONG"
    };
    (pi64) => {
        "PLONGLONG"
    };
    (pi64_out) => {
        "PLONGLONG"
    };
    (pu32_out) => {
        "PULONG"
    };
    (rectype_out) => {
        "PCLFS_RECORD_TYPE"
    };
    (lsn) => {
        "CLFS_LSN"
    };
    (lsn_in) => {
        "PCLFS_LSN"
    };
    (lsn_out) => {
        "PCLFS_LSN"
    };
    (lsn_const) => {
        "const CLFS_LSN*"
    };
    (entries) => {
        "PCLFS_WRITE_ENTRY"
    };
    (infoclass) => {
        "CLFS_LOG_INFORMATION_CLASS"
    };
    (mode) => {
        "CLFS_CONTEXT_MODE"
    };
    (pool) => {
        "POOL_TYPE"
    };
    (alloc) => {
        "PALLOCATE_FUNCTION"
    };
    (free) => {
        "PFREE_FUNCTION"
    };
    (cid) => {
        "CLFS_CONTAINER_ID"
    };
    (bbyte) => {
        "BOOLEAN"
    };
    (cookie) => {
        "CLFS_MGMT_CLIENT"
    };
    (cookie_out) => {
        "PCLFS_MGMT_CLIENT"
    };
    (cookie_ptr) => {
        "PCLFS_MGMT_CLIENT"
    };
    (reg) => {
        "PCLFS_MGMT_CLIENT_REGISTRATION"
    };
    (policy_in) => {
        "PCLFS_MGMT_POLICY"
    };
    (policy_out) => {
        "PCLFS_MGMT_POLICY"
    };
    (ptype) => {
        "CLFS_MGMT_POLICY_TYPE"
    };
    (pu64_out) => {
        "PULONGLONG"
    };
    (setsize_cb) => {
        "PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK"
    };
}

abi_fns! {
    ClfsCreateLogFile(obj_out, ustr, u32, u32, sd, u32, u32, u32, u32, cptr, u32) -> status;
    ClfsCloseLogFileObject(obj) -> status;
    ClfsDeleteLogFile(ustr, cptr, u32, cptr, u32) -> status;
    ClfsDeleteLogByPointer(obj) -> status;
    ClfsAddLogContainer(obj, pu64, ustr) -> status;
    ClfsAddLogContainerSet(obj, u16, pu64, ustr) -> status;
    ClfsRemoveLogContainer(obj, ustr, boolean) -> status;
    ClfsRemoveLogContainerSet(obj, u16, ustr, boolean) -> status;
    ClfsQueryLogFileInformation(obj, infoclass, cptr, u32, mptr, pu32_out) -> status;
    ClfsCreateMarshallingArea(obj, pool, alloc, free, u32, u32, u32, pptr) -> status;
    ClfsDeleteMarshallingArea(cptr) -> status;
    ClfsReserveAndAppendLog(cptr, entries, u32, lsn_in, lsn_in, u32, pi64_out, u32, lsn_out) -> status;
    ClfsReserveAndAppendLogAligned(cptr, entries, u32, u32, lsn_in, lsn_in, u32, pi64_out, u32, lsn_out) -> status;
    ClfsAlignReservedLog(cptr, u32, pi64, pi64_out) -> status;
    ClfsAllocReservedLog(cptr, u32, pi64) -> status;
    ClfsFreeReservedLog(cptr, u32, pi64) -> status;
    ClfsFlushToLsn(cptr, lsn_in, lsn_out) -> status;
    ClfsFlushBuffers(cptr) -> status;
    ClfsWriteRestartArea(mptr, cptr, u32, lsn_in, u32, pu32_out, lsn_out) -> status;
    ClfsReadLogRecord(cptr, lsn_out, mode, pptr, pu32_out, rectype_out, lsn_out, lsn_out, pptr) -> status;
    ClfsReadNextLogRecord(mptr, pptr, pu32_out, rectype_out, lsn_in, lsn_out, lsn_out, lsn_out) -> status;
    ClfsReadRestartArea(mptr, pptr, pu32_out, lsn_out, pptr) -> status;
    ClfsReadPreviousRestartArea(cptr, pptr, pu32_out, lsn_out) -> status;
    ClfsTerminateReadLog(cptr) -> status;
    ClfsAdvanceLogBase(mptr, lsn_in, u32) -> status;
    ClfsSetArchiveTail(obj, lsn_in) -> status;
    ClfsSetEndOfLog(obj, lsn_in) -> status;
    ClfsLsnCreate(cid, u32, u32) -> lsn;
    ClfsLsnContainer(lsn_const) -> cid;
    ClfsLsnBlockOffset(lsn_const) -> u32;
    ClfsLsnRecordSequence(lsn_const) -> u32;
    ClfsLsnEqual(lsn_const, lsn_const) -> boolean;
    ClfsLsnLess(lsn_const, lsn_const) -> boolean;
    ClfsLsnGreater(lsn_const, lsn_const) -> boolean;
    ClfsLsnNull(lsn_const) -> boolean;
    ClfsLsnInvalid(lsn_const) -> boolean;
    KeGetCurrentIrql() -> irql;
    ExFreePoolWithTag(mptr, u32) -> unit;
    ClfsMgmtRegisterManagedClient(obj, reg, cookie_out) -> status;
    ClfsMgmtDeregisterManagedClient(cookie) -> status;
    ClfsMgmtTailAdvanceFailure(cookie, status) -> status;
    ClfsMgmtHandleLogFileFull(cookie) -> status;
    ClfsMgmtInstallPolicy(obj, policy_in, u32) -> status;
    ClfsMgmtQueryPolicy(obj, ptype, policy_out, pu32_out) -> status;
    ClfsMgmtRemovePolicy(obj, ptype) -> status;
    ClfsMgmtSetLogFileSize(obj, pu64, pu64_out, setsize_cb, cptr) -> status;
    ClfsMgmtSetLogFileSizeAsClient(obj, cookie_ptr, pu64, pu64_out, setsize_cb, cptr) -> status;
}

abi_callbacks! {
    PCLFS_CLIENT_ADVANCE_TAIL_CALLBACK(obj, lsn_in, cptr) -> status;
    PCLFS_CLIENT_LFF_HANDLER_COMPLETE_CALLBACK(obj, status, bbyte, cptr) -> unit;
    PCLFS_CLIENT_LOG_UNPINNED_CALLBACK(obj, cptr) -> unit;
    PCLFS_SET_LOG_SIZE_COMPLETE_CALLBACK(obj, status, cptr) -> unit;
}

/// `ExAllocatePool2` (Windows 10 2004+) is not declared by mingw-w64 10's wdm.h; its Rust
/// signature is pinned here against the WDK prototype
/// `PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)`.
const _: unsafe extern "system" fn(u64, usize, u32) -> *mut c_void = sys::ExAllocatePool2;

// ------------------------------------------------------------------------------------------
// 1. Runtime layout checks against reference §2.

#[test]
fn layouts_match_reference_section_2() {
    let ours = layouts();
    let reference = reference();
    assert_eq!(ours.len(), reference.len());
    for (l, (name, size, align, offsets)) in ours.iter().zip(&reference) {
        assert_eq!(l.c_name, *name);
        assert_eq!(l.size, *size, "sizeof({name})");
        assert_eq!(l.align, *align, "alignof({name})");
        let got: Vec<usize> = l.fields.iter().map(|f| f.1).collect();
        assert_eq!(&got, offsets, "field offsets of {name}");
        println!("{name}: size {size}, align {align}, offsets {offsets:?}");
    }
    let members = policy_union_members();
    assert_eq!(members.len(), POLICY_UNION_REFERENCE.len());
    for ((member, off, size), want) in members.iter().zip(POLICY_UNION_REFERENCE) {
        assert_eq!(
            (*off, *size),
            want,
            "CLFS_MGMT_POLICY.{member}: (offset, size)"
        );
    }
    println!("CLFS_MGMT_POLICY union members: {members:?}");
    // The callback shapes are pointer-sized with a NULL niche (Option<fn>), as C's are.
    assert_eq!(size_of::<sys::PALLOCATE_FUNCTION>(), 8);
    assert_eq!(size_of::<sys::PFREE_FUNCTION>(), 8);
    // CLFS_RECORD_TYPE and CLFS_SCAN_MODE are UCHAR (reference §0.1 item 2).
    assert_eq!(size_of_val(&sys::ClfsClientRecord), 1);
    assert_eq!(size_of::<clfs::Lsn>(), size_of::<sys::CLFS_LSN>());
    assert_eq!(align_of::<clfs::Lsn>(), align_of::<sys::CLFS_LSN>());
}

// ------------------------------------------------------------------------------------------
// 2. The mingw-w64 probes.

fn compiler() -> Option<String> {
    if std::env::var("CLFS_ABI_PROBE").as_deref() == Ok("skip") {
        println!("CLFS_ABI_PROBE=skip: the mingw-w64 probe is skipped on request");
        return None;
    }
    let cc = std::env::var("CLFS_ABI_CC").unwrap_or_else(|_| "x86_64-w64-mingw32-gcc".into());
    let required = std::env::var("CLFS_ABI_PROBE").as_deref() == Ok("require")
        || std::env::var_os("CI").is_some();
    match Command::new(&cc).arg("--version").output() {
        Ok(o) if o.status.success() => Some(cc),
        _ if !required => {
            // A developer's `cargo test --workspace` needs nothing beyond Rust (README); CI
            // exports CLFS_ABI_PROBE=require, and there a missing compiler fails the test.
            eprintln!(
                "SKIPPED the mingw-w64 ABI probe: `{cc}` is not installed (apt-get install -y \
                 gcc-mingw-w64-x86-64 mingw-w64-common); CI requires it"
            );
            None
        }
        _ => panic!(
            "the ABI probe needs the mingw-w64 C compiler `{cc}`, which is not installed: run \
             `bash .ci/abi.sh` (apt-get install -y gcc-mingw-w64-x86-64 mingw-w64-common), or \
             set CLFS_ABI_PROBE=skip to skip it explicitly"
        ),
    }
}

/// Compiles `source` to an object file; panics with the compiler's output on failure.
fn compile(cc: &str, name: &str, source: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("abi-probe");
    std::fs::create_dir_all(&dir).expect("probe dir");
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, source).expect("write probe");
    let out = Command::new(cc)
        .args(["-std=gnu11", "-Werror", "-c"])
        .arg(&c)
        .arg("-o")
        .arg(dir.join(format!("{name}.o")))
        .output()
        .expect("run the compiler");
    assert!(
        out.status.success(),
        "the {name} probe ({}) does not compile: a layout, constant or signature differs \
         from mingw-w64's header:\n{}",
        c.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

const PRELUDE: &str = "#define NTDDI_VERSION 0x0A000000\n#define _WIN32_WINNT 0x0A00\n\
#include <ntdef.h>\n#include <ddk/wdm.h>\n#include <stddef.h>\n\n";

#[test]
fn seam_matches_mingw_wdm_h() {
    let Some(cc) = compiler() else { return };
    let mut src = String::from(PRELUDE);
    let mut compared = 0;
    for l in layouts() {
        writeln!(
            src,
            "_Static_assert(sizeof({0}) == {1}, \"sizeof({0}): ours is {1}\");",
            l.c_name, l.size
        )
        .unwrap();
        writeln!(
            src,
            "_Static_assert(_Alignof({0}) == {1}, \"alignof({0}): ours is {1}\");",
            l.c_name, l.align
        )
        .unwrap();
        compared += 2;
        for (field, off) in &l.fields {
            writeln!(
                src,
                "_Static_assert(offsetof({0}, {field}) == {off}, \"offsetof({0}, {field}): ours is {off}\");",
                l.c_name
            )
            .unwrap();
            compared += 1;
        }
        println!(
            "compared {}: size {}, align {}, {} field offsets",
            l.c_name,
            l.size,
            l.align,
            l.fields.len()
        );
    }
    for (name, value) in constants() {
        let suffix = if value > i128::from(i64::MAX) {
            "ULL"
        } else {
            "LL"
        };
        writeln!(
            src,
            "_Static_assert({name} == {value}{suffix}, \"{name}: ours is {value}\");"
        )
        .unwrap();
        compared += 1;
    }
    // The members of CLFS_MGMT_POLICY's union: offset within the policy and size.
    for (member, off, size) in policy_union_members() {
        writeln!(
            src,
            "_Static_assert(offsetof(CLFS_MGMT_POLICY, {member}) == {off}, \"offsetof(CLFS_MGMT_POLICY, {member}): ours is {off}\");\n\
             _Static_assert(sizeof(((CLFS_MGMT_POLICY*)0)->{member}) == {size}, \"sizeof({member}): ours is {size}\");"
        )
        .unwrap();
        compared += 2;
    }
    println!(
        "compared {} CLFS_MGMT_POLICY union members",
        policy_union_members().len()
    );
    src.push_str(
        "_Static_assert(_Alignof(__typeof__(((CLFS_MGMT_POLICY*)0)->PolicyParameters)) == 8, \"the union is 8-aligned (ULONGLONG)\");\n\
         _Static_assert(sizeof(((CLFS_MGMT_NOTIFICATION*)0)->LogIsPinned) == 2, \"CLFS_MGMT_NOTIFICATION::LogIsPinned is a USHORT\");\n",
    );
    compared += 2;
    let cbs = callbacks();
    for (name, c_type) in &cbs {
        writeln!(
            src,
            "_Static_assert(__builtin_types_compatible_p({name}, {c_type}), \"{name}: ours is {c_type}\");"
        )
        .unwrap();
        compared += 1;
    }
    println!("compared {} callback typedefs", cbs.len());
    println!("compared {} constants", constants().len());
    // CLFS_RECORD_TYPE is a UCHAR, the LSN predicates return BOOLEAN (reference §0.1).
    src.push_str(
        "_Static_assert(sizeof(CLFS_RECORD_TYPE) == 1, \"CLFS_RECORD_TYPE is a UCHAR\");\n\
         _Static_assert(sizeof(CLFS_SCAN_MODE) == 1, \"CLFS_SCAN_MODE is a UCHAR\");\n\
         _Static_assert(sizeof(((CLFS_CONTAINER_INFORMATION*)0)->FileName) == 512, \"FileName is WCHAR[256]\");\n\
         _Static_assert(sizeof(CLFS_CONTAINER_STATE) == 4 && ClfsContainerActive == 4, \"container states are UINT32 bit flags\");\n",
    );
    compared += 4;
    // The callback shapes: PVOID (*)(POOL_TYPE, SIZE_T, ULONG) and VOID (*)(PVOID).
    src.push_str(
        "_Static_assert(__builtin_types_compatible_p(PALLOCATE_FUNCTION, PVOID (*)(POOL_TYPE, SIZE_T, ULONG)), \"PALLOCATE_FUNCTION\");\n\
         _Static_assert(__builtin_types_compatible_p(PFREE_FUNCTION, VOID (*)(PVOID)), \"PFREE_FUNCTION\");\n",
    );
    compared += 2;
    let fns = functions();
    for (name, c_type) in &fns {
        writeln!(
            src,
            "_Static_assert(__builtin_types_compatible_p(__typeof__(&{name}), {c_type}), \"{name}: ours is {c_type}\");"
        )
        .unwrap();
        compared += 1;
    }
    println!("compared {} routine signatures", fns.len());
    compile(&cc, "wdm", &src);
    println!("{compared} static assertions against mingw-w64 ddk/wdm.h hold");
}

/// mingw-w64's user-mode `clfs.h` is not ABI-faithful (reference §7.1 item 27). These are
/// the known deviations, asserted as deviations: if mingw fixes one, this fails and the
/// reference should be updated.
#[test]
fn mingw_clfs_h_deviations_are_the_known_ones() {
    let Some(cc) = compiler() else { return };
    let ours_scan = size_of::<sys::CLFS_SCAN_CONTEXT>();
    let ours_info = size_of::<sys::CLFS_CONTAINER_INFORMATION>();
    let src = format!(
        "#define _WIN32_WINNT 0x0A00\n#include <windows.h>\n#include <clfs.h>\n#include <stddef.h>\n\
         /* CLFS_RECORD_TYPE is a 4-byte enum (wdm.h: UCHAR) and ClfsClientRecord is 0x3F (wdm.h: 0x03). */\n\
         _Static_assert(sizeof(CLFS_RECORD_TYPE) == 4, \"record type enum\");\n\
         _Static_assert(ClfsClientRecord == 0x3F && {client} == 0x03, \"ClfsClientRecord\");\n\
         /* CLFS_SCAN_MODE is a 4-byte enum (wdm.h: UCHAR). */\n\
         _Static_assert(sizeof(CLFS_SCAN_MODE) == 4, \"scan mode enum\");\n\
         /* No per-member align(8) in the scan context: 40 bytes, not 56. */\n\
         _Static_assert(sizeof(CLFS_SCAN_CONTEXT) == 40 && {ours_scan} == 56, \"scan context\");\n\
         _Static_assert(offsetof(CLFS_SCAN_CONTEXT, cContainers) == 20, \"scan context offsets\");\n\
         /* FileName[MAX_PATH] (260) instead of [256]: 584 bytes, not 576. */\n\
         _Static_assert(sizeof(((CLFS_CONTAINER_INFORMATION*)0)->FileName) == 520, \"FileName\");\n\
         _Static_assert(sizeof(CLFS_CONTAINER_INFORMATION) == 584 && {ours_info} == 576, \"container info\");\n\
         /* Container states are an enum (wdm.h: UINT32 with bit-flag #defines); mingw-w64 10 \n\
            has the bit values, not 0..5 as older versions did. */\n\
         _Static_assert(sizeof(CLFS_CONTAINER_STATE) == 4 && ClfsContainerActive == 0x04, \"states\");\n\
         /* The user-mode Lsn* predicates return WINBOOL (4 bytes; the kernel's return BOOLEAN). */\n\
         _Static_assert(sizeof(LsnLess(0, 0)) == 4, \"WINBOOL\");\n",
        client = sys::ClfsClientRecord,
    );
    compile(&cc, "clfs_h_deviations", &src);
    println!(
        "mingw-w64 clfs.h deviations confirmed: 4-byte CLFS_RECORD_TYPE/CLFS_SCAN_MODE enums, \
         ClfsClientRecord 0x3F, 40-byte scan context, FileName[MAX_PATH] (584-byte container \
         info), enum container states, WINBOOL Lsn* predicates"
    );
}

// ------------------------------------------------------------------------------------------
// 3. The windows-sys defects and their corrections.

/// True if `T` is the documented `PALLOCATE_FUNCTION`: `PVOID (*)(POOL_TYPE, SIZE_T, ULONG)`.
fn has_documented_alloc_shape<T: 'static>() -> bool {
    TypeId::of::<T>()
        == TypeId::of::<Option<unsafe extern "system" fn(sys::POOL_TYPE, usize, u32) -> *mut c_void>>(
        )
}

/// True if `T` is the documented `PFREE_FUNCTION`: `VOID (*)(PVOID)`.
fn has_documented_free_shape<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<Option<unsafe extern "system" fn(*mut c_void)>>()
}

#[test]
fn allocator_callbacks_have_the_documented_shapes() {
    use windows_sys::Wdk::Foundation::PFREE_FUNCTION as WsFree;
    use windows_sys::Wdk::System::SystemServices::PALLOCATE_FUNCTION as WsAlloc;
    assert!(
        !has_documented_alloc_shape::<WsAlloc>(),
        "windows-sys's PALLOCATE_FUNCTION is parameterless (the defect)"
    );
    assert!(
        !has_documented_free_shape::<WsFree>(),
        "windows-sys's PFREE_FUNCTION is parameterless (the defect)"
    );
    assert!(has_documented_alloc_shape::<sys::PALLOCATE_FUNCTION>());
    assert!(has_documented_free_shape::<sys::PFREE_FUNCTION>());
    // The emulator takes the same corrected types.
    assert!(has_documented_alloc_shape::<
        clfs_emu::types::PALLOCATE_FUNCTION,
    >());
    assert!(has_documented_free_shape::<clfs_emu::types::PFREE_FUNCTION>());
}

#[test]
fn scan_context_has_the_per_member_alignment() {
    use windows_sys::Win32::Storage::FileSystem::CLS_SCAN_CONTEXT as Ws;
    type Ours = sys::CLFS_SCAN_CONTEXT;
    let ws = [
        size_of::<Ws>(),
        offset_of!(Ws, cIndex),
        offset_of!(Ws, cContainers),
        offset_of!(Ws, cContainersReturned),
        offset_of!(Ws, eScanMode),
        offset_of!(Ws, pinfoContainer),
    ];
    let ours = [
        size_of::<Ours>(),
        offset_of!(Ours, cIndex),
        offset_of!(Ours, cContainers),
        offset_of!(Ours, cContainersReturned),
        offset_of!(Ours, eScanMode),
        offset_of!(Ours, pinfoContainer),
    ];
    let wdm = [56, 16, 24, 32, 40, 48];
    assert_ne!(
        ws, wdm,
        "windows-sys's CLS_SCAN_CONTEXT is the naive layout"
    );
    assert_eq!(ws[0], 40, "windows-sys: 40 bytes");
    assert_eq!(ours, wdm, "ours: 56 bytes, offsets 16/24/32/40/48");
}

#[test]
fn lsn_invalid_and_null_values() {
    assert_eq!(sys::CLFS_LSN_INVALID, 0xFFFF_FFFF_0000_0000);
    assert_eq!(sys::CLFS_LSN_NULL, 0);
    assert_eq!(sys::CLFS_LSN_INVALID, clfs_emu::CLFS_LSN_INVALID);
    assert_eq!(sys::CLFS_LSN_NULL, clfs_emu::CLFS_LSN_NULL);
    assert_eq!(clfs::Lsn::INVALID.raw(), sys::CLFS_LSN_INVALID);
    let invalid = CLS_LSN {
        Internal: sys::CLFS_LSN_INVALID,
    };
    let null = CLS_LSN {
        Internal: sys::CLFS_LSN_NULL,
    };
    // SAFETY: the pointer points to a live CLS_LSN.
    let i_invalid = unsafe { sys::ClfsLsnInvalid(&invalid) };
    // SAFETY: as above.
    let n_invalid = unsafe { sys::ClfsLsnNull(&invalid) };
    // SAFETY: as above.
    let i_null = unsafe { sys::ClfsLsnInvalid(&null) };
    // SAFETY: as above.
    let n_null = unsafe { sys::ClfsLsnNull(&null) };
    assert!(
        i_invalid && !n_invalid,
        "ClfsLsnInvalid agrees with CLFS_LSN_INVALID"
    );
    assert!(!i_null && n_null, "ClfsLsnNull agrees with CLFS_LSN_NULL");
    // SAFETY: both pointers are live.
    let less = unsafe { sys::ClfsLsnLess(&null, &invalid) };
    assert!(
        less,
        "CLFS_LSN_INVALID compares greater than every valid LSN"
    );
    // windows-sys declares neither data symbol: checked in its sources when they are at hand.
    if let Some(dir) = windows_sys_source() {
        for file in [
            "src/Windows/Win32/Storage/FileSystem/mod.rs",
            "src/Windows/Wdk/System/SystemServices/mod.rs",
        ] {
            let text = std::fs::read_to_string(dir.join(file)).expect("windows-sys source");
            assert!(!text.contains("CLFS_LSN_INVALID"), "{file}");
            assert!(!text.contains("CLFS_LSN_NULL"), "{file}");
        }
        println!("windows-sys sources at {} declare neither", dir.display());
    }
}

/// The windows-sys 0.61 sources in the cargo registry, if present.
fn windows_sys_source() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let src = home.join("registry").join("src");
    for index in std::fs::read_dir(src).ok()?.flatten() {
        for krate in std::fs::read_dir(index.path()).ok()?.flatten() {
            let name = krate.file_name();
            if name.to_string_lossy().starts_with("windows-sys-0.61.") {
                return Some(krate.path());
            }
        }
    }
    None
}

// `DbgPrint` is declared by windows-sys as an ntdll.dll import, which a driver must not use:
// that defect is proven on the built kernel image by tools/imgcheck (no ntdll.dll import),
// not here.

/// The scan routines and `ClfsCreateMarshallingAreaEx` are redeclared in the seam: their
/// windows-sys declarations take the 40-byte scan context and parameterless callbacks. (The
/// kernel declarations are only looked at in constants: this host cannot link them.)
#[test]
fn the_seam_redeclares_the_routines_windows_sys_declares_wrongly() {
    use sys::{FILE_OBJECT, NTSTATUS, POOL_TYPE};
    use windows_sys::Wdk::System::SystemServices as ws;
    const fn scan_context_size<T>(
        _: unsafe extern "system" fn(*const FILE_OBJECT, u32, u32, u8, *mut T) -> NTSTATUS,
    ) -> usize {
        size_of::<T>()
    }
    const fn scan_size<T>(_: unsafe extern "system" fn(*mut T, u8) -> NTSTATUS) -> usize {
        size_of::<T>()
    }
    const SIZES: [usize; 4] = [
        scan_context_size(ws::ClfsCreateScanContext),
        scan_context_size(sys::kernel::ClfsCreateScanContext),
        scan_size(ws::ClfsScanLogContainers),
        scan_size(sys::kernel::ClfsScanLogContainers),
    ];
    assert_eq!(SIZES, [40, 56, 40, 56]);
    // The seam's Ex takes exactly the documented callback types (a compile-time proof).
    type Ex = unsafe extern "system" fn(
        *const FILE_OBJECT,
        POOL_TYPE,
        sys::PALLOCATE_FUNCTION,
        sys::PFREE_FUNCTION,
        u32,
        u32,
        u32,
        u32,
        u64,
        *mut *mut c_void,
    ) -> NTSTATUS;
    const _: Ex = sys::kernel::ClfsCreateMarshallingAreaEx;
    assert!(has_documented_alloc_shape::<sys::PALLOCATE_FUNCTION>());
    assert!(has_documented_free_shape::<sys::PFREE_FUNCTION>());
}
