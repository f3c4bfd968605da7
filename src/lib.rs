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
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate std;

pub mod error;
pub mod irql;
pub mod log;
pub mod lsn;
pub mod marshal;
pub mod pool;
pub mod read;
pub mod status;
pub mod sys;
mod wide;
pub mod write;

pub use error::{BufferKind, Error, Result};
pub use log::{Access, Disposition, LogFile, LogInfo, LogOptions, Share};
pub use lsn::Lsn;
pub use marshal::{BufferLimit, MarshallingArea, MarshallingConfig};
pub use pool::{pool_tag, BlockAllocator, Blocks, ClfsAllocator, PoolType, TaggedPool};
pub use read::{ReadContext, ReadMode, Record, RecordType, RestartArea, RestartContext};
pub use status::{NtStatus, Severity};
pub use write::{max_record_size, Append, Reservation, MAX_WRITE_ENTRIES};

#[doc(hidden)]
pub mod __private {
    pub use crate::wide::{encode_utf16, utf16_len};
}
