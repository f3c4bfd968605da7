//! What the loader knows about each routine it implements, from the routine's DDI page: the
//! maximum IRQL (`req.irql`), the parameter names and the kind of return value. The IRQL
//! check (Driver Verifier's DDI compliance checking, for IRQL) stops a call above the
//! routine's maximum, naming the routine and the IRQL.
//!
//! `clfs.sys`: the reference's §1.0 summary: the LSN helpers (`ClfsLsn*`) run at any level,
//! every other routine at `<= APC_LEVEL`. The parameter names come from the emulator's one
//! routine list (`clfs_emu::clfs_routines!`), so a new routine is covered without an edit
//! here. `ntoskrnl.exe`: [`NTOSKRNL`], one row per routine.

use super::{settings, stop};

/// `HIGH_LEVEL`: "any level".
pub const HIGH_LEVEL: u8 = 15;
const PASSIVE: u8 = clfs_emu::PASSIVE_LEVEL;
const APC: u8 = clfs_emu::APC_LEVEL;
const DISPATCH: u8 = clfs_emu::DISPATCH_LEVEL;

/// The kind of value a routine returns (for the trace and for failure injection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    /// `NTSTATUS`.
    Status,
    /// A pointer (NULL on failure for allocations).
    Pointer,
    /// Nothing (`VOID`).
    Void,
    /// Any other integer (a `BOOLEAN`, a count, an LSN).
    Value,
}

/// One routine's DDI facts.
#[derive(Clone, Copy, Debug)]
pub struct Routine {
    /// The routine's name.
    pub name: &'static str,
    /// The highest IRQL it may be called at.
    pub max_irql: u8,
    /// Its parameter names, in order (variadic routines list the fixed ones). A name may
    /// end in `:32`, `:16` or `:8`: the parameter's width in bits (64 otherwise); the upper
    /// bits of a narrower argument's register are undefined in the win64 convention.
    pub params: &'static [&'static str],
    /// The width in bits of each parameter, where known (else 64, or a `:bits` suffix).
    pub bits: &'static [u8],
    /// What it returns.
    pub ret: Ret,
}

const fn r(name: &'static str, max_irql: u8, params: &'static [&'static str], ret: Ret) -> Routine {
    Routine {
        name,
        max_irql,
        params,
        bits: &[],
        ret,
    }
}

/// True if `ty` (as written: a path) ends with `end`.
const fn ends_with(ty: &str, end: &str) -> bool {
    let (b, e) = (ty.as_bytes(), end.as_bytes());
    if b.len() < e.len() {
        return false;
    }
    let mut i = 0;
    while i < e.len() {
        if b[b.len() - e.len() + i] != e[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The width in bits of a parameter of type `ty` in the emulator's routine list.
const fn type_bits(ty: &str) -> u8 {
    if ends_with(ty, "u8") || ends_with(ty, "bool") {
        8
    } else if ends_with(ty, "u16") {
        16
    } else if ends_with(ty, "u32")
        || ends_with(ty, "i32")
        || ends_with(ty, "POOL_TYPE")
        || ends_with(ty, "CLFS_CONTEXT_MODE")
        || ends_with(ty, "CLS_LOG_INFORMATION_CLASS")
    {
        32
    } else {
        64
    }
}

impl Routine {
    /// Parameter `i`'s name and width in bits.
    pub fn param(&self, i: usize) -> Option<(&'static str, u8)> {
        let p = self.params.get(i)?;
        let (name, bits) = match p.split_once(':') {
            Some((n, b)) => (n, b.parse().unwrap_or(64)),
            None => (*p, self.bits.get(i).copied().unwrap_or(64)),
        };
        Some((name, bits))
    }
}

/// The `ntoskrnl.exe` routines the loader implements, with the IRQL of their DDI pages
/// (the C memory routines have no DDI page: any level, on resident memory).
pub const NTOSKRNL: &[Routine] = &[
    r(
        "ExAllocatePool2",
        DISPATCH,
        &["Flags", "NumberOfBytes", "Tag"],
        Ret::Pointer,
    ),
    r(
        "ExAllocatePoolWithTag",
        DISPATCH,
        &["PoolType", "NumberOfBytes", "Tag"],
        Ret::Pointer,
    ),
    r("ExFreePoolWithTag", DISPATCH, &["P", "Tag"], Ret::Void),
    r("ExFreePool", DISPATCH, &["P"], Ret::Void),
    r("KeGetCurrentIrql", HIGH_LEVEL, &[], Ret::Value),
    r(
        "KeBugCheckEx",
        HIGH_LEVEL,
        &["BugCheckCode:32", "P1", "P2", "P3", "P4"],
        Ret::Void,
    ),
    r("KeBugCheck", HIGH_LEVEL, &["BugCheckCode:32"], Ret::Void),
    r(
        "KeAcquireSpinLockRaiseToDpc",
        DISPATCH,
        &["SpinLock"],
        Ret::Value,
    ),
    r(
        "KeReleaseSpinLock",
        DISPATCH,
        &["SpinLock", "NewIrql:8"],
        Ret::Void,
    ),
    r(
        "RtlInitUnicodeString",
        DISPATCH,
        &["DestinationString", "SourceString"],
        Ret::Void,
    ),
    r(
        "RtlEqualUnicodeString",
        PASSIVE,
        &["String1", "String2", "CaseInSensitive:8"],
        Ret::Value,
    ),
    r(
        "RtlCopyUnicodeString",
        HIGH_LEVEL,
        &["DestinationString", "SourceString"],
        Ret::Void,
    ),
    r(
        "MmGetSystemRoutineAddress",
        PASSIVE,
        &["SystemRoutineName"],
        Ret::Pointer,
    ),
    r(
        "IoCreateFile",
        PASSIVE,
        &[
            "FileHandle",
            "DesiredAccess",
            "ObjectAttributes",
            "IoStatusBlock",
            "AllocationSize",
            "FileAttributes",
            "ShareAccess",
            "Disposition",
            "CreateOptions",
            "EaBuffer",
            "EaLength",
            "CreateFileType",
            "InternalParameters",
            "Options",
        ],
        Ret::Status,
    ),
    r(
        "ObCloseHandle",
        PASSIVE,
        &["Handle", "PreviousMode:8"],
        Ret::Status,
    ),
    // The I/O manager's routines (crate::iomgr).
    r(
        "IoCreateDevice",
        PASSIVE,
        &[
            "DriverObject",
            "DeviceExtensionSize",
            "DeviceName",
            "DeviceType",
            "DeviceCharacteristics",
            "Exclusive",
            "DeviceObject",
        ],
        Ret::Status,
    ),
    r("IoDeleteDevice", PASSIVE, &["DeviceObject"], Ret::Void),
    r(
        "IoCreateSymbolicLink",
        PASSIVE,
        &["SymbolicLinkName", "DeviceName"],
        Ret::Status,
    ),
    r(
        "IoDeleteSymbolicLink",
        PASSIVE,
        &["SymbolicLinkName"],
        Ret::Status,
    ),
    r(
        "IofCompleteRequest",
        DISPATCH,
        &["Irp", "PriorityBoost"],
        Ret::Void,
    ),
    r(
        "ObOpenObjectByPointer",
        PASSIVE,
        &[
            "Object",
            "HandleAttributes",
            "PassedAccessState",
            "DesiredAccess",
            "ObjectType",
            "AccessMode",
            "Handle",
        ],
        Ret::Status,
    ),
    r(
        "ZwSetSecurityObject",
        PASSIVE,
        &["Handle", "SecurityInformation", "SecurityDescriptor"],
        Ret::Status,
    ),
    r("DbgPrint", HIGH_LEVEL, &["Format"], Ret::Value),
    r(
        "DbgPrintEx",
        HIGH_LEVEL,
        &["ComponentId:32", "Level:32", "Format"],
        Ret::Value,
    ),
    r(
        "memcpy",
        HIGH_LEVEL,
        &["dest", "src", "count"],
        Ret::Pointer,
    ),
    r(
        "memmove",
        HIGH_LEVEL,
        &["dest", "src", "count"],
        Ret::Pointer,
    ),
    r(
        "memset",
        HIGH_LEVEL,
        &["dest", "c:32", "count"],
        Ret::Pointer,
    ),
    r(
        "memcmp",
        HIGH_LEVEL,
        &["buffer1", "buffer2", "count"],
        Ret::Value,
    ),
    r("__chkstk", HIGH_LEVEL, &[], Ret::Void),
];

macro_rules! clfs_table {
    ($( $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty; )*) => {
        /// The `clfs.sys` routines (from the emulator's routine list).
        pub const CLFS: &[Routine] = &[
            $( Routine {
                name: stringify!($name),
                max_irql: clfs_irql(stringify!($name)),
                params: &[$(stringify!($arg)),*],
                bits: &[$(type_bits(stringify!($ty))),*],
                ret: clfs_ret(stringify!($ret)),
            }, )*
        ];
    };
}

/// §1.0: the LSN helpers run at any level, everything else at `<= APC_LEVEL`. The LSN
/// helpers are the `ClfsLsn*` routines and the header-only `ClfsLaterLsn`/`ClfsEarlierLsn`
/// (pure LSN arithmetic like `ClfsLsnIncrement`, IRQL undocumented): the same set the
/// emulator lets run at any IRQL, so the two never disagree about a call.
const fn clfs_irql(name: &str) -> u8 {
    if ends_with(name, "ClfsLaterLsn") || ends_with(name, "ClfsEarlierLsn") {
        return HIGH_LEVEL;
    }
    let b = name.as_bytes();
    let p = b"ClfsLsn";
    if b.len() < p.len() {
        return APC;
    }
    let mut i = 0;
    while i < p.len() {
        if b[i] != p[i] {
            return APC;
        }
        i += 1;
    }
    HIGH_LEVEL
}

const fn clfs_ret(ty: &str) -> Ret {
    if ends_with(ty, "NTSTATUS") {
        Ret::Status
    } else {
        Ret::Value
    }
}

clfs_emu::clfs_routines!(clfs_table);

/// The DDI facts of `dll!name`, if the loader knows them.
pub fn routine(dll: &str, name: &str) -> Option<&'static Routine> {
    let table = if dll.eq_ignore_ascii_case("clfs.sys") {
        CLFS
    } else if dll.eq_ignore_ascii_case("ntoskrnl.exe") {
        NTOSKRNL
    } else {
        return None;
    };
    table.iter().find(|r| r.name == name)
}

/// The name of an IRQL.
pub fn irql_name(level: u8) -> &'static str {
    match level {
        0 => "PASSIVE_LEVEL",
        1 => "APC_LEVEL",
        2 => "DISPATCH_LEVEL",
        15 => "HIGH_LEVEL",
        _ => "DIRQL",
    }
}

/// Stops the run if the current IRQL is above `dll!name`'s maximum.
pub(crate) fn check_irql(dll: &str, name: &str) {
    if !settings().irql_checks {
        return;
    }
    let Some(r) = routine(dll, name) else {
        return;
    };
    let irql = clfs_emu::current_irql();
    if irql > r.max_irql {
        stop(
            0xC4,
            [0x2000, usize::from(irql), usize::from(r.max_irql), 0],
            &format!(
                "DDI compliance: {dll}!{name} called at IRQL {irql} ({}); its maximum is {} ({})",
                irql_name(irql),
                irql_name(r.max_irql),
                r.max_irql
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader's IRQL table and the emulator agree on which CLFS routines may run at any
    /// level: every LSN helper the emulator exports, and nothing else.
    #[test]
    fn lsn_helpers_run_at_any_level_and_nothing_else_does() {
        for name in [
            "ClfsLsnCreate",
            "ClfsLsnIncrement",
            "ClfsLsnDifference",
            "ClfsLaterLsn",
            "ClfsEarlierLsn",
        ] {
            assert_eq!(clfs_irql(name), HIGH_LEVEL, "{name}");
        }
        for name in [
            "ClfsFlushToLsn",
            "ClfsReadLogRecord",
            "ClfsMgmtHandleLogFileFull",
        ] {
            assert_eq!(clfs_irql(name), APC, "{name}");
        }
    }
}
