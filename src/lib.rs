//! Safe, `no_std` bindings to the Windows kernel **Common Log File System** (Clfs.sys).
//!
//! `clfs` wraps the kernel CLFS client routines so that the mistakes the C API lets you make
//! (a marshalling buffer that is not a sector multiple, a log with fewer than two containers,
//! an allocate callback without its free twin, a call above APC_LEVEL) become typed errors
//! *before* Clfs.sys is called, and handles are released by RAII.
//!
//! With the `emulator` feature, the same code runs in user mode against
//! [`clfs-emu`](https://docs.rs/clfs-emu), an emulator of Clfs.sys that keeps real logs on
//! disk, so driver logic can be tested with `cargo test` on any machine.
//!
//! ```
//! # let _sandbox = clfs_emu::Sandbox::new();
//! use clfs::{pool_tag, wide, LogFile, LogOptions, MarshallingArea, MarshallingConfig, TaggedPool};
//!
//! let log = LogFile::create(wide!("log:C:\\logs\\crate-doc"), LogOptions::new().create_if_missing())?;
//! log.add_container(wide!("%BLF%\\c0"), 512 * 1024)?;            // ClfsAddLogContainer
//! log.add_containers(&[wide!("%BLF%\\c1"), wide!("%BLF%\\c2")], 512 * 1024)?; // ...Set
//! let area = MarshallingArea::<TaggedPool<{ pool_tag(*b"Demo") }>>::create(
//!     &log,
//!     MarshallingConfig::new(64 * 1024).max_write_buffers(8).max_read_buffers(4),
//! )?;
//! // area drops -> ClfsDeleteMarshallingArea; log drops -> ClfsCloseLogFileObject
//! # Ok::<(), clfs::Error>(())
//! ```
//!
//! A bad buffer size is refused with a message that names the rule and the values:
//!
//! ```
//! # let _sandbox = clfs_emu::Sandbox::new();
//! # use clfs::{wide, LogFile, LogOptions, MarshallingArea, MarshallingConfig};
//! # let log = LogFile::create(wide!("log:C:\\logs\\crate-doc2"), LogOptions::new().create_if_missing())?;
//! # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
//! let err = MarshallingArea::<clfs::ClfsAllocator>::create(&log, MarshallingConfig::new(1000)).unwrap_err();
//! assert_eq!(err.to_string(), "marshalling buffer of 1000 bytes is not a multiple of the log's 512-byte sector size");
//! # Ok::<(), clfs::Error>(())
//! ```
//!
//! IRQL: every routine here runs at PASSIVE_LEVEL or APC_LEVEL and checks it; the [`Lsn`]
//! helpers run at any IRQL.
//!
//! # Backends: `kernel` or `emulator`
//!
//! The raw routines come from one of two backends, chosen by a cargo feature:
//!
//! | feature | target | the raw routines are | IRQL read |
//! |---|---|---|---|
//! | `kernel` | Windows (`x86_64-pc-windows-msvc`, ...) | clfs.sys / ntoskrnl.exe imports | `mov rax, cr8` on x64 |
//! | `emulator` | any | `clfs-emu`'s functions | the emulator's per-thread IRQL |
//! | neither | non-Windows | unresolved externals: a binary that calls one fails to link | none executed |
//!
//! The `kernel` feature is what makes a build a kernel build (`cfg(clfs_kernel)`): only then
//! does the crate contain code that may only run in kernel mode. These combinations are
//! refused at compile time, with a message that says why:
//! - `kernel` together with `emulator` (the emulator must never be linked into a driver);
//! - `kernel` for a non-Windows target;
//! - a Windows target with neither feature (a user-mode Windows program: Clfs.sys has no
//!   user-mode client surface, and reading CR8 at CPL 3 faults).
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(all(feature = "kernel", feature = "emulator"))]
compile_error!(
    "clfs: the `kernel` and `emulator` features exclude each other: the emulator must never be \
     linked into a driver image. A workspace build for the kernel target unified them; keep \
     `clfs/emulator` out of it (target-specific dependencies, see docs/kernel-build.md)"
);
#[cfg(all(feature = "kernel", not(target_os = "windows")))]
compile_error!(
    "clfs: the `kernel` feature builds for a Windows kernel driver image and needs a Windows \
     target (e.g. --target x86_64-pc-windows-msvc); use the `emulator` feature on other targets"
);
#[cfg(all(
    target_os = "windows",
    not(feature = "kernel"),
    not(feature = "emulator")
))]
compile_error!(
    "clfs: choose a backend for this Windows target: `kernel` for a driver image, or `emulator` \
     for user-mode tests. A user-mode Windows build without the emulator is not supported: \
     Clfs.sys's client routines are kernel-mode only, and the IRQL check reads CR8"
);

#[cfg(test)]
extern crate std;

pub mod container;
pub mod error;
pub mod info;
pub mod irql;
pub mod log;
pub mod lsn;
pub mod marshal;
pub mod mgmt;
pub mod name;
pub mod pool;
pub mod read;
pub mod status;
pub mod sys;
mod wide;
pub mod write;

pub use container::{
    ContainerInfo, ContainerName, ContainerScan, ContainerState, ScanContext, ScanDirection,
};
pub use error::{BufferKind, Error, Inconsistency, Result};
pub use info::{InformationClass, IoStatistics};
pub use log::{
    Access, CreateOptions, Disposition, LogContext, LogFile, LogInfo, LogOptionFlags, LogOptions,
    SecurityDescriptor, Share,
};
pub use lsn::Lsn;
pub use marshal::{BufferLimit, MarshallingArea, MarshallingConfig, MarshallingFlags};
pub use mgmt::{
    DeregisterError, ErrorStatus, Growth, InstallMode, LogFullOutcome, LogSize, ManagedClient,
    ManagementCallbacks, Policy, PolicyBuf, PolicyKind, Resize, TailAdvance, TailTarget,
};
pub use name::{LogKind, LogName, LogNameError, MAX_STREAMS, MAX_STREAM_NAME};
pub use pool::{pool_tag, BlockAllocator, Blocks, ClfsAllocator, PoolType, TaggedPool};
pub use read::{ReadContext, ReadMode, Record, RecordType, RestartArea, RestartContext};
pub use status::{NtStatus, Severity};
pub use write::{
    max_record_size, Append, Reservation, MAX_RESERVED_RECORDS, MAX_WRITE_ENTRIES, RECORD_OVERHEAD,
};

#[doc(hidden)]
pub mod __private {
    pub use crate::wide::{encode_utf16, utf16_len};
}
