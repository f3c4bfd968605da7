//! Log information beyond [`LogFile::info`]: every class of `ClfsQueryLogFileInformation`
//! (reference §2.9) as a typed call, `ClfsSetLogFileInformation`, and `ClfsGetIoStatistics`.
//!
//! Every length and offset Clfs.sys returns is checked against the buffer it was given
//! before anything is read from it: a length past the buffer is [`Error::LengthOutOfRange`],
//! a length short of the structure asked for (or an odd length of UTF-16 text, or a header
//! offset other than the documented one) is [`Error::InconsistentOutput`].
//!
//! ```
//! # let _sandbox = clfs_emu::Sandbox::new();
//! use clfs::{wide, LogFile, LogOptions};
//! let log = LogFile::create(wide!("log:C:\\logs\\doc-info"), LogOptions::new().create_if_missing())?;
//! let mut buf = [0u16; 128];
//! let name = log.physical_name(&mut buf)?;
//! assert_eq!(String::from_utf16_lossy(name), "C:\\logs\\doc-info.blf");
//! assert_eq!(log.stream_id()?, 0); // a dedicated log's only stream
//! log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
//! let stats = log.io_statistics()?;
//! assert!(stats.metadata_flushes >= 1); // the base file was rewritten for the containers
//! # Ok::<(), clfs::Error>(())
//! ```

use core::ffi::c_void;
use core::mem::size_of;

use crate::error::{check, Error, Inconsistency, Result};
use crate::irql::require_passive_or_apc;
use crate::log::{LogFile, LogInfo};
use crate::lsn::Lsn;
use crate::status::NtStatus;
use crate::sys;

const QUERY: &str = "ClfsQueryLogFileInformation";

/// `CLFS_LOG_INFORMATION_CLASS` (reference §2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InformationClass {
    /// `ClfsLogBasicInformation`: `CLFS_INFORMATION` of this stream ([`LogFile::info`]).
    Basic,
    /// `ClfsLogBasicInformationPhysical`: `CLFS_INFORMATION` of the physical log
    /// ([`LogFile::physical_info`]).
    BasicPhysical,
    /// `ClfsLogPhysicalNameInformation` ([`LogFile::physical_name`]).
    PhysicalName,
    /// `ClfsLogStreamIdentifierInformation` ([`LogFile::stream_id`]).
    StreamIdentifier,
    /// `ClfsLogSystemMarkingInformation` ([`LogFile::system_markings`]).
    SystemMarking,
    /// `ClfsLogPhysicalLsnInformation` ([`LogFile::physical_lsn`]).
    PhysicalLsn,
}

impl InformationClass {
    /// What the class's output is, for error messages.
    const fn what(self) -> &'static str {
        match self {
            InformationClass::Basic | InformationClass::BasicPhysical => "CLFS_INFORMATION",
            InformationClass::PhysicalName => "CLFS_LOG_NAME_INFORMATION",
            InformationClass::StreamIdentifier => "the stream identifier",
            InformationClass::SystemMarking => "the system marking count",
            InformationClass::PhysicalLsn => "CLFS_PHYSICAL_LSN_INFORMATION",
        }
    }

    /// The raw `CLFS_LOG_INFORMATION_CLASS` value.
    ///
    /// IRQL: any level.
    pub const fn raw(self) -> sys::CLFS_LOG_INFORMATION_CLASS {
        match self {
            InformationClass::Basic => 0,
            InformationClass::BasicPhysical => 1,
            InformationClass::PhysicalName => 2,
            InformationClass::StreamIdentifier => 3,
            InformationClass::SystemMarking => 4,
            InformationClass::PhysicalLsn => 5,
        }
    }
}

/// `CLFS_IO_STATISTICS`: the log's flush counters (reference §2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct IoStatistics {
    /// `ubMajorVersion`, `ubMinorVersion` of the statistics buffer.
    pub version: (u8, u8),
    /// `cFlush`: flushes of log blocks.
    pub flushes: u64,
    /// `cbFlush`: bytes of log blocks flushed.
    pub bytes_flushed: u64,
    /// `cMetaFlush`: flushes of the log's metadata.
    pub metadata_flushes: u64,
    /// `cbMetaFlush`: bytes of metadata flushed.
    pub metadata_bytes_flushed: u64,
}

/// `CLFS_IO_STATISTICS` as laid out in memory (48 bytes on every target).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RawIoStatistics {
    major: u8,
    minor: u8,
    _pad0: u16,
    class: i32,
    length: u16,
    _pad1: u16,
    data_offset: u32,
    counters: [u64; 4],
}

const _: () = assert!(size_of::<RawIoStatistics>() == 48);

/// `CLFS_PHYSICAL_LSN_INFORMATION` (24 bytes, reference §2.5).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RawPhysicalLsn {
    stream: u8,
    _pad: [u8; 7],
    virtual_lsn: u64,
    physical_lsn: u64,
}

const _: () = assert!(size_of::<RawPhysicalLsn>() == 24);

impl LogFile {
    /// Runs one query into `out`, returning the number of bytes Clfs.sys says it wrote,
    /// checked to lie within `out`, and the (success) status it returned.
    ///
    /// # Safety
    /// `out` must be valid for writes of `out_len` bytes; `input` NULL or readable for
    /// `input_len` bytes.
    unsafe fn query_raw(
        &self,
        class: InformationClass,
        input: *const c_void,
        input_len: u32,
        out: *mut c_void,
        out_len: u32,
    ) -> Result<(u32, NtStatus)> {
        require_passive_or_apc(QUERY)?;
        let mut len = out_len;
        // SAFETY: the object is open (type invariant); the buffers are as the caller states.
        let status = unsafe {
            sys::ClfsQueryLogFileInformation(
                self.as_raw(),
                class.raw(),
                input,
                input_len,
                out,
                &mut len,
            )
        };
        let status = check(QUERY, status)?;
        if len > out_len {
            return Err(Error::LengthOutOfRange {
                routine: QUERY,
                what: class.what(),
                len: u64::from(len),
                limit: u64::from(out_len),
            });
        }
        Ok((len, status))
    }

    /// [`query_raw`](Self::query_raw) for a fixed-size output of `size` bytes at `out`: a
    /// length other than `size` is an error.
    ///
    /// # Safety
    /// As for `query_raw`, with `out_len == size`.
    unsafe fn query_exact(
        &self,
        class: InformationClass,
        input: *const c_void,
        input_len: u32,
        out: *mut c_void,
        size: u32,
    ) -> Result<()> {
        // SAFETY: forwarded caller contract.
        let (n, status) = unsafe { self.query_raw(class, input, input_len, out, size) }?;
        if n < size {
            return Err(Error::InconsistentOutput {
                routine: QUERY,
                status,
                detail: Inconsistency::ShortLength {
                    what: class.what(),
                    len: u64::from(n),
                    min: u64::from(size),
                },
            });
        }
        Ok(())
    }

    /// `ClfsQueryLogFileInformation` with `ClfsLogBasicInformationPhysical`: the
    /// `CLFS_INFORMATION` of the physical log (for a dedicated log the same as
    /// [`LogFile::info`]).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn physical_info(&self) -> Result<LogInfo> {
        // SAFETY: CLFS_INFORMATION is plain data; all-zero is a valid value.
        let mut raw: sys::CLFS_INFORMATION = unsafe { core::mem::zeroed() };
        let size = size_of::<sys::CLFS_INFORMATION>() as u32;
        // SAFETY: `raw` is writable for `size` bytes; no input.
        unsafe {
            self.query_exact(
                InformationClass::BasicPhysical,
                core::ptr::null(),
                0,
                (&mut raw as *mut sys::CLFS_INFORMATION).cast::<c_void>(),
                size,
            )
        }?;
        Ok(LogInfo::from_raw(&raw))
    }

    /// `ClfsQueryLogFileInformation` with `ClfsLogPhysicalNameInformation`: the physical
    /// log's name, written into `buf` (UTF-16, no NUL). `buf` holds the
    /// `CLFS_LOG_NAME_INFORMATION` (its first element is the length), so it needs one element
    /// more than the name. Too small: `Error::Status` with `STATUS_BUFFER_TOO_SMALL`.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn physical_name<'b>(&self, buf: &'b mut [u16]) -> Result<&'b [u16]> {
        let cap = u32::try_from(buf.len().saturating_mul(2)).unwrap_or(u32::MAX - 1);
        // SAFETY: `buf` is writable for `cap <= 2 * buf.len()` bytes and 2-aligned, as
        // CLFS_LOG_NAME_INFORMATION needs; no input.
        let (n, status) = unsafe {
            self.query_raw(
                InformationClass::PhysicalName,
                core::ptr::null(),
                0,
                buf.as_mut_ptr().cast::<c_void>(),
                cap,
            )
        }?;
        const WHAT: &str = "the physical log name";
        // n <= cap <= 2 * buf.len() (query_raw), so n >= 2 means buf has its length element.
        let (Some((&bytes, rest)), 2..) = (buf.split_first(), n) else {
            return Err(Error::InconsistentOutput {
                routine: QUERY,
                status,
                detail: Inconsistency::ShortLength {
                    what: InformationClass::PhysicalName.what(),
                    len: u64::from(n),
                    min: 2,
                },
            });
        };
        if bytes % 2 != 0 {
            return Err(Error::InconsistentOutput {
                routine: QUERY,
                status,
                detail: Inconsistency::OddLength {
                    what: WHAT,
                    len: u64::from(bytes),
                },
            });
        }
        let too_long = Error::LengthOutOfRange {
            routine: QUERY,
            what: WHAT,
            len: u64::from(bytes),
            limit: u64::from(n - 2),
        };
        if u32::from(bytes) > n - 2 {
            return Err(too_long);
        }
        rest.get(..usize::from(bytes / 2)).ok_or(too_long)
    }

    /// `ClfsQueryLogFileInformation` with `ClfsLogStreamIdentifierInformation`: this
    /// stream's identifier (0 for a dedicated log and for the physical stream of a
    /// multiplexed one).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn stream_id(&self) -> Result<u8> {
        let mut id = 0u8;
        // SAFETY: `id` is one writable byte; no input.
        unsafe {
            self.query_exact(
                InformationClass::StreamIdentifier,
                core::ptr::null(),
                0,
                (&mut id as *mut u8).cast::<c_void>(),
                1,
            )
        }?;
        Ok(id)
    }

    /// `ClfsQueryLogFileInformation` with `ClfsLogSystemMarkingInformation`: the count of
    /// system marking references (a `ULONG`; its meaning is undocumented).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn system_markings(&self) -> Result<u32> {
        let mut count = 0u32;
        // SAFETY: `count` is 4 writable bytes; no input.
        unsafe {
            self.query_exact(
                InformationClass::SystemMarking,
                core::ptr::null(),
                0,
                (&mut count as *mut u32).cast::<c_void>(),
                4,
            )
        }?;
        Ok(count)
    }

    /// `ClfsQueryLogFileInformation` with `ClfsLogPhysicalLsnInformation`: the physical LSN of
    /// `virtual_lsn` in stream `stream` (through `CLFS_PHYSICAL_LSN_INFORMATION` in both
    /// directions). For a dedicated log both are the same. [`Lsn::INVALID`] is refused before
    /// the call ([`Error::InvalidLsn`]). The result is a position in the physical log, not an
    /// LSN of `stream`: compare it only with other physical LSNs of this log
    /// ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn physical_lsn(&self, stream: u8, virtual_lsn: Lsn) -> Result<Lsn> {
        if virtual_lsn.is_invalid() {
            return Err(Error::InvalidLsn {
                what: "the virtual LSN to map",
            });
        }
        let input = RawPhysicalLsn {
            stream,
            virtual_lsn: virtual_lsn.raw(),
            ..RawPhysicalLsn::default()
        };
        let mut out = RawPhysicalLsn::default();
        // SAFETY: `input` is 24 readable bytes, `out` 24 writable bytes.
        unsafe {
            self.query_exact(
                InformationClass::PhysicalLsn,
                (&input as *const RawPhysicalLsn).cast::<c_void>(),
                24,
                (&mut out as *mut RawPhysicalLsn).cast::<c_void>(),
                24,
            )
        }?;
        Ok(Lsn::from_raw(out.physical_lsn))
    }

    /// `ClfsSetLogFileInformation` with the raw bytes of class `class`. Which classes and
    /// fields Clfs.sys lets a client set is undocumented (the emulator answers
    /// `STATUS_NOT_SUPPORTED` to every class; docs/decisions.md). An empty `data` is refused
    /// before the call ([`Error::EmptyInformation`]), and so is one longer than the `ULONG`
    /// length holds ([`Error::InformationTooLarge`]).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn set_information(&self, class: InformationClass, data: &[u8]) -> Result<()> {
        const ROUTINE: &str = "ClfsSetLogFileInformation";
        require_passive_or_apc(ROUTINE)?;
        let len = information_len(data.len())?;
        // SAFETY: the object is open; `data` is readable for `len` bytes.
        let status = unsafe {
            sys::ClfsSetLogFileInformation(
                self.as_raw(),
                class.raw(),
                data.as_ptr().cast::<c_void>(),
                len,
            )
        };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsGetIoStatistics` (`ClfsIoStatsDefault`): the log's flush counters. The header's
    /// `cbLength` and `coffData` are checked against the bytes written before the counters
    /// are read.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn io_statistics(&self) -> Result<IoStatistics> {
        const ROUTINE: &str = "ClfsGetIoStatistics";
        require_passive_or_apc(ROUTINE)?;
        let mut raw = RawIoStatistics::default();
        let mut written = 0u32;
        // SAFETY: the object is open; `raw` is 48 writable bytes; `written` a writable u32.
        let status = unsafe {
            sys::ClfsGetIoStatistics(
                self.as_raw(),
                (&mut raw as *mut RawIoStatistics).cast::<c_void>(),
                48,
                0,
                &mut written,
            )
        };
        let status = check(ROUTINE, status)?;
        check_io_statistics(status, written, raw.length, raw.data_offset)?;
        let [flushes, bytes_flushed, metadata_flushes, metadata_bytes_flushed] = raw.counters;
        Ok(IoStatistics {
            version: (raw.major, raw.minor),
            flushes,
            bytes_flushed,
            metadata_flushes,
            metadata_bytes_flushed,
        })
    }
}

/// The `cbBuffer` that `ClfsSetLogFileInformation` gets for `len` bytes of information: at
/// least one byte, and no more than its `ULONG` holds.
fn information_len(len: usize) -> Result<u32> {
    if len == 0 {
        return Err(Error::EmptyInformation);
    }
    u32::try_from(len).map_err(|_| Error::InformationTooLarge { len, max: u32::MAX })
}

/// The rules a successful `ClfsGetIoStatistics` into a 48-byte buffer keeps: it wrote the
/// whole `CLFS_IO_STATISTICS` (48 bytes), the header's `cbLength` (the size of the whole
/// structure, header included) lies inside what was written and covers the counters (48
/// bytes), and `coffData` puts the counters right after the 16-byte header.
fn check_io_statistics(
    status: NtStatus,
    written: u32,
    length: u16,
    data_offset: u32,
) -> Result<()> {
    const ROUTINE: &str = "ClfsGetIoStatistics";
    const WHAT: &str = "CLFS_IO_STATISTICS";
    const SIZE: u32 = size_of::<RawIoStatistics>() as u32;
    if written > SIZE {
        return Err(Error::LengthOutOfRange {
            routine: ROUTINE,
            what: WHAT,
            len: u64::from(written),
            limit: u64::from(SIZE),
        });
    }
    if written < SIZE {
        return Err(Error::InconsistentOutput {
            routine: ROUTINE,
            status,
            detail: Inconsistency::ShortLength {
                what: WHAT,
                len: u64::from(written),
                min: u64::from(SIZE),
            },
        });
    }
    if u32::from(length) > written {
        return Err(Error::LengthOutOfRange {
            routine: ROUTINE,
            what: "the statistics (the header's cbLength)",
            len: u64::from(length),
            limit: u64::from(written),
        });
    }
    if u32::from(length) < SIZE {
        return Err(Error::InconsistentOutput {
            routine: ROUTINE,
            status,
            detail: Inconsistency::ShortLength {
                what: "the statistics (the header's cbLength)",
                len: u64::from(length),
                min: u64::from(SIZE),
            },
        });
    }
    if data_offset != 16 {
        return Err(Error::InconsistentOutput {
            routine: ROUTINE,
            status,
            detail: Inconsistency::Mismatch {
                what:
                    "a statistics header whose counter offset (coffData) is not the header's size",
                found: u64::from(data_offset),
                expected: 16,
            },
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is a failure report
mod tests {
    use super::*;

    const OK: NtStatus = NtStatus::SUCCESS;
    use std::string::ToString;

    // The emulator's `faults::override_output` reaches each of these rules too
    // (tests/inconsistent_output.rs); here they are checked on the values directly, including
    // the ones no emulated call can produce together.

    #[test]
    fn io_statistics_header_rules() {
        assert_eq!(check_io_statistics(OK, 48, 48, 16), Ok(()));
        assert_eq!(
            check_io_statistics(OK, 64, 48, 16),
            Err(Error::LengthOutOfRange {
                routine: "ClfsGetIoStatistics",
                what: "CLFS_IO_STATISTICS",
                len: 64,
                limit: 48
            })
        );
        assert_eq!(
            check_io_statistics(OK, 24, 24, 16).unwrap_err().to_string(),
            "ClfsGetIoStatistics reported success but returned a length of 24 bytes for CLFS_IO_STATISTICS, which needs at least 48 bytes"
        );
        assert_eq!(
            check_io_statistics(OK, 48, 64, 16).unwrap_err().to_string(),
            "ClfsGetIoStatistics returned a length of 64 bytes for the statistics (the header's cbLength), but its buffer holds at most 48 bytes"
        );
        let e = check_io_statistics(OK, 48, 40, 16).unwrap_err();
        assert_eq!(
            e,
            Error::InconsistentOutput {
                routine: "ClfsGetIoStatistics",
                status: OK,
                detail: Inconsistency::ShortLength {
                    what: "the statistics (the header's cbLength)",
                    len: 40,
                    min: 48
                }
            }
        );
        assert_eq!(
            e.to_string(),
            "ClfsGetIoStatistics reported success but returned a length of 40 bytes for the statistics (the header's cbLength), which needs at least 48 bytes"
        );
        let e = check_io_statistics(OK, 48, 48, 20).unwrap_err();
        assert_eq!(
            e,
            Error::InconsistentOutput {
                routine: "ClfsGetIoStatistics",
                status: OK,
                detail: Inconsistency::Mismatch {
                    what: "a statistics header whose counter offset (coffData) is not the header's size",
                    found: 20,
                    expected: 16
                }
            }
        );
        assert_eq!(
            e.to_string(),
            "ClfsGetIoStatistics reported success but returned a statistics header whose counter offset (coffData) is not the header's size: 20, expected 16"
        );
    }

    #[test]
    fn short_lengths_of_fixed_size_classes_name_the_class() {
        // stream_id, system_markings and physical_lsn (reached end to end through
        // `faults::override_length` in tests/inconsistent_output.rs).
        let e = Error::InconsistentOutput {
            routine: QUERY,
            status: OK,
            detail: Inconsistency::ShortLength {
                what: InformationClass::StreamIdentifier.what(),
                len: 0,
                min: 1,
            },
        };
        assert_eq!(
            e.to_string(),
            "ClfsQueryLogFileInformation reported success but returned a length of 0 bytes for the stream identifier, which needs at least 1 byte"
        );
        assert_eq!(
            InformationClass::PhysicalLsn.what(),
            "CLFS_PHYSICAL_LSN_INFORMATION"
        );
        assert_eq!(
            InformationClass::SystemMarking.what(),
            "the system marking count"
        );
    }

    #[test]
    fn information_to_set_is_one_byte_to_u32_max() {
        assert_eq!(information_len(1), Ok(1));
        assert_eq!(information_len(0), Err(Error::EmptyInformation));
        let max = u32::MAX as usize;
        assert_eq!(information_len(max), Ok(u32::MAX));
    }

    #[test]
    #[cfg(target_pointer_width = "64")] // a 32-bit usize cannot express a longer buffer
    fn information_to_set_past_u32_max_is_refused() {
        let over = u32::MAX as usize + 1;
        let e = information_len(over).unwrap_err();
        assert_eq!(
            e,
            Error::InformationTooLarge {
                len: over,
                max: u32::MAX
            }
        );
        assert_eq!(
            e.to_string(),
            "log information to set is 4294967296 bytes; ClfsSetLogFileInformation takes at most 4294967295 bytes (its length is a ULONG)"
        );
        assert_eq!(e.ntstatus(), NtStatus::INVALID_PARAMETER);
        assert!(e.refused_before_call());
    }
}
