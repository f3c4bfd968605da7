//! The one error type of the crate.

use crate::lsn::Lsn;
use crate::name::LogNameError;
use crate::status::NtStatus;

/// Which of a marshalling area's buffer limits an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferKind {
    /// `cMaxWriteBuffers`.
    Write,
    /// `cMaxReadBuffers`.
    Read,
}

impl core::fmt::Display for BufferKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            BufferKind::Write => "write",
            BufferKind::Read => "read",
        })
    }
}

/// What was wrong with the outputs of a CLFS routine that reported success, or a warning
/// that still fills its outputs ([`Error::InconsistentOutput`]). Its message completes the
/// sentence "`<routine>` reported success but returned ..." (or "`<routine>` returned
/// `<status>` with ...") and names the values involved.
///
/// ```
/// use clfs::Inconsistency;
/// let d = Inconsistency::CountOverCapacity { what: "container", count: 3, capacity: 1 };
/// assert_eq!(d.to_string(), "3 containers for a 1-entry array");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Inconsistency {
    /// A NULL pointer where a successful call returns an object, a context or a cookie.
    Null {
        /// What the pointer is ("log file object", "read context", ...).
        what: &'static str,
    },
    /// `CLFS_LSN_INVALID` where a successful call returns an LSN.
    InvalidLsn {
        /// Which LSN ("the record's LSN", "the restart record's LSN", ...).
        what: &'static str,
    },
    /// Nothing returned where a successful call returns at least one entry or character.
    Empty {
        /// What is empty ("container name", ...).
        what: &'static str,
    },
    /// More entries returned than the array they were written to holds.
    CountOverCapacity {
        /// What an entry is, in the singular ("container").
        what: &'static str,
        /// How many entries the routine says it returned.
        count: u64,
        /// How many entries the array holds.
        capacity: u64,
    },
    /// Entries returned in a NULL array.
    EntriesInNullArray {
        /// What an entry is, in the singular ("container").
        what: &'static str,
        /// How many entries the routine says it returned.
        count: u64,
    },
    /// A length shorter than the structure it describes.
    ShortLength {
        /// The structure ("CLFS_INFORMATION", "the stream identifier", ...).
        what: &'static str,
        /// The length returned, in bytes.
        len: u64,
        /// The fewest bytes the structure takes.
        min: u64,
    },
    /// An odd byte length of UTF-16 text.
    OddLength {
        /// The text ("the container name", ...).
        what: &'static str,
        /// The length returned, in bytes.
        len: u64,
    },
    /// A warning that says the output was truncated (`STATUS_BUFFER_OVERFLOW`) with a full
    /// length no greater than what was written: nothing was cut off.
    NotTruncated {
        /// The full length and its unit, as a phrase ("the container name in UTF-16 units
        /// (pcActualLenContainerName)").
        what: &'static str,
        /// How much was written, in the same unit.
        written: u64,
        /// The full length returned.
        full: u64,
    },
    /// Less space reserved for a record than its data size (`rgcbReservation` after a
    /// reservation holds the space reserved, headers and alignment included, so never less).
    ReservationBelowRecord {
        /// The space reserved that the routine returned, in bytes.
        reserved: i64,
        /// The record's data size that was asked for, in bytes.
        record: u64,
    },
    /// A container scan that returned more containers in one direction than a log holds,
    /// without ending (`STATUS_NO_MORE_ENTRIES`): left alone, it would never end.
    EndlessScan {
        /// The most containers a log holds (1024).
        max: u64,
    },
    /// A value that differs from the one the routine's other outputs (or its contract) fix.
    Mismatch {
        /// What the value is and what fixes it, as a phrase.
        what: &'static str,
        /// The value returned.
        found: u64,
        /// The value required.
        expected: u64,
    },
}

impl core::fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        fn s(n: u64) -> &'static str {
            if n == 1 {
                ""
            } else {
                "s"
            }
        }
        match *self {
            Inconsistency::Null { what } => write!(f, "a NULL {what}"),
            Inconsistency::InvalidLsn { what } => write!(f, "CLFS_LSN_INVALID as {what}"),
            Inconsistency::Empty { what } => write!(f, "an empty {what}"),
            Inconsistency::CountOverCapacity {
                what,
                count,
                capacity,
            } => write!(f, "{count} {what}{} for a {capacity}-entry array", s(count)),
            Inconsistency::EntriesInNullArray { what, count } => {
                write!(f, "{count} {what}{} in a NULL array", s(count))
            }
            Inconsistency::ShortLength { what, len, min } => write!(
                f,
                "a length of {len} byte{} for {what}, which needs at least {min} byte{}",
                s(len),
                s(min)
            ),
            Inconsistency::OddLength { what, len } => write!(
                f,
                "an odd length of {len} bytes for {what}, which is UTF-16 (2 bytes a unit)"
            ),
            Inconsistency::NotTruncated {
                what,
                written,
                full,
            } => write!(
                f,
                "a full length of {full} for {what}, no more than the {written} written: nothing was truncated"
            ),
            Inconsistency::ReservationBelowRecord { reserved, record } => write!(
                f,
                "a reservation of {reserved} bytes (rgcbReservation) for a record of {record} bytes: the space reserved includes the record, so it is at least {record}"
            ),
            Inconsistency::EndlessScan { max } => write!(
                f,
                "container {} in one direction without STATUS_NO_MORE_ENTRIES: a log holds at most {max} containers, so the scan would never end",
                max + 1
            ),
            Inconsistency::Mismatch {
                what,
                found,
                expected,
            } => write!(f, "{what}: {found}, expected {expected}"),
        }
    }
}

/// Everything that can go wrong in `clfs`.
///
/// Either Clfs.sys refused ([`Error::Status`], which keeps the NTSTATUS and names the routine),
/// or the library refused first because the call was certain to fail or to crash the system;
/// then the variant names the broken rule and the values involved, and Clfs.sys was never
/// called. The third case: Clfs.sys reported success but returned outputs the library cannot
/// trust ([`Error::LengthOutOfRange`], [`Error::InconsistentOutput`]); those name the rule and
/// the values too.
///
/// ```
/// use clfs::Error;
/// let e = Error::BufferNotSectorMultiple { size: 1000, sector_size: 512 };
/// assert_eq!(
///     e.to_string(),
///     "marshalling buffer of 1000 bytes is not a multiple of the log's 512-byte sector size"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A CLFS routine returned a failure (warning or error) status.
    #[error("{routine} failed with {status}{}", message_suffix(*status))]
    Status {
        /// The routine that failed, e.g. `"ClfsCreateLogFile"`.
        routine: &'static str,
        /// What it returned.
        status: NtStatus,
    },

    /// A CLFS routine would be called above APC_LEVEL, which bugchecks the system.
    #[error("{routine} must be called at IRQL <= APC_LEVEL (1), but the current IRQL is {irql} ({})", crate::irql::name(*irql))]
    IrqlTooHigh {
        /// The routine that was about to be called.
        routine: &'static str,
        /// The IRQL at the time of the call.
        irql: u8,
    },

    /// A name or path does not fit in a `UNICODE_STRING`.
    #[error("{what} is {len} UTF-16 units long; a UNICODE_STRING holds at most 32767")]
    NameTooLong {
        /// What the string is (a log name, a container path).
        what: &'static str,
        /// Its length in UTF-16 units.
        len: usize,
    },

    /// An empty name or path.
    #[error("{what} is empty")]
    EmptyName {
        /// What the string is.
        what: &'static str,
    },

    /// A `log:` name that breaks a naming rule ([`LogName`](crate::LogName)); the
    /// [`LogNameError`] names the rule and the offending value.
    #[error("invalid log name: {0}")]
    InvalidLogName(LogNameError),

    /// A routine that writes records (or resets a stream) called on the physical log of a
    /// multiplexed log (`log:<path>::`), which holds no records of its own
    /// ([`LogKind::Physical`](crate::LogKind::Physical)).
    #[error("{routine} cannot be used on the physical log of a multiplexed log (log:<path>::), which holds no records: open one of its streams (log:<path>::<stream>)")]
    PhysicalLog {
        /// The routine that was about to be called.
        routine: &'static str,
    },

    /// A routine that needs `GENERIC_WRITE` ([`Access::WRITE`](crate::Access::WRITE)) on a
    /// log file object opened without it.
    #[error("{routine} needs GENERIC_WRITE (Access::WRITE), but the log file object was opened with access mask {granted:#x}")]
    NeedsWriteAccess {
        /// The routine that was about to be called.
        routine: &'static str,
        /// The access mask the object was opened with.
        granted: u32,
    },

    /// More containers in one call than `ClfsAddLogContainerSet` / `ClfsRemoveLogContainerSet`
    /// take.
    #[error("{count} containers in one set; CLFS takes at most {max} per call")]
    TooManyContainers {
        /// How many were passed.
        count: usize,
        /// The most one call accepts.
        max: usize,
    },

    /// Clfs.sys returned a length that the buffer it describes cannot hold (more than the
    /// marshalling area's block size, more than the caller's buffer, or bytes at a NULL
    /// buffer). No slice was formed over it. Clfs.sys *was* called.
    #[error("{routine} returned a length of {len} byte{} for {what}, but its buffer holds at most {limit} byte{}", plural(*len), plural(*limit))]
    LengthOutOfRange {
        /// The routine that returned the length.
        routine: &'static str,
        /// What the length describes ("a record", "a restart area", ...).
        what: &'static str,
        /// The length it returned.
        len: u64,
        /// The most the buffer holds (0 for a NULL buffer).
        limit: u64,
    },

    /// Clfs.sys reported success (or a warning that still fills its outputs, such as
    /// `ClfsGetContainerName`'s `STATUS_BUFFER_OVERFLOW`), but what it returned breaks a rule
    /// that every such call keeps (a NULL object or context, `CLFS_LSN_INVALID` as an LSN, a
    /// count, length or offset that contradicts the buffer or structure it describes). The
    /// outputs are treated as hostile and not used; the [`Inconsistency`] names the rule and
    /// the values. Clfs.sys *was* called: whatever it may have opened or written on its side
    /// is not known to the library. Lengths that overrun their buffer are
    /// [`Error::LengthOutOfRange`] instead.
    ///
    /// The message says "reported success" when `status` is `STATUS_SUCCESS`, and names
    /// `status` otherwise.
    ///
    /// ```
    /// use clfs::{Error, Inconsistency, NtStatus};
    /// let e = Error::InconsistentOutput {
    ///     routine: "ClfsCreateLogFile",
    ///     status: NtStatus::SUCCESS,
    ///     detail: Inconsistency::Null { what: "log file object" },
    /// };
    /// assert_eq!(
    ///     e.to_string(),
    ///     "ClfsCreateLogFile reported success but returned a NULL log file object"
    /// );
    /// assert_eq!(e.ntstatus(), NtStatus::LOG_METADATA_INCONSISTENT);
    /// assert_eq!(e.status(), None); // Clfs.sys did not fail
    ///
    /// let e = Error::InconsistentOutput {
    ///     routine: "ClfsGetContainerName",
    ///     status: NtStatus::BUFFER_OVERFLOW,
    ///     detail: Inconsistency::OddLength { what: "the container name", len: 9 },
    /// };
    /// assert_eq!(
    ///     e.to_string(),
    ///     "ClfsGetContainerName returned STATUS_BUFFER_OVERFLOW (0x80000005) with an odd \
    ///      length of 9 bytes for the container name, which is UTF-16 (2 bytes a unit)"
    /// );
    /// assert_eq!(e.status(), None); // a warning that filled its outputs is not a refusal
    /// ```
    #[error("{routine} {} {detail}", Returned(*status))]
    InconsistentOutput {
        /// The routine that returned the outputs.
        routine: &'static str,
        /// The status it returned with them: `STATUS_SUCCESS`, another success code, or a
        /// warning that still fills the outputs (`STATUS_BUFFER_OVERFLOW`).
        status: NtStatus,
        /// The broken rule and the values involved.
        detail: Inconsistency,
    },

    /// The `CLFS_LSN_NULL` or `CLFS_LSN_INVALID` that clfs.sys exports differs from this
    /// crate's constant, so LSNs would be misread; `LogFile::create` refuses before the call.
    #[error("clfs.sys exports {name} = {exported}, but clfs's constant is {ours}: LSNs would be misread, so no log is opened")]
    LsnConstantMismatch {
        /// Which constant.
        name: &'static str,
        /// The crate's value ([`Lsn::NULL`] or [`Lsn::INVALID`]).
        ours: Lsn,
        /// The exported value.
        exported: Lsn,
    },

    /// An empty container set.
    #[error("a container set needs at least one path, got none")]
    NoContainers,

    /// Pool for the library's own transient memory (a large container set's `UNICODE_STRING`
    /// array) could not be allocated; nothing was called.
    #[error("could not allocate {bytes} bytes of pool for {what}")]
    PoolExhausted {
        /// What the memory was for.
        what: &'static str,
        /// The size asked for.
        bytes: usize,
    },

    /// `cbMarshallingBuffer` of zero.
    #[error("marshalling buffer size must not be zero")]
    ZeroBufferSize,

    /// `cbMarshallingBuffer` not a multiple of the log's sector size.
    #[error("marshalling buffer of {size} bytes is not a multiple of the log's {sector_size}-byte sector size")]
    BufferNotSectorMultiple {
        /// The requested size.
        size: u32,
        /// The log's `SectorSize`.
        sector_size: u32,
    },

    /// `cMaxWriteBuffers` or `cMaxReadBuffers` of zero.
    #[error("max_{which}_buffers must be at least 1 (or unlimited), got 0")]
    ZeroBufferCount {
        /// Which limit.
        which: BufferKind,
    },

    /// A marshalling area on a log with fewer than two containers.
    #[error("the log has {containers} container{}; CLFS needs at least 2 before a marshalling area can be created", if *containers == 1 { "" } else { "s" })]
    NotEnoughContainers {
        /// `TotalContainers` of the log.
        containers: u32,
    },

    /// A record that cannot fit in one marshalling buffer.
    #[error("record of {size} bytes does not fit in the marshalling area: at most {max} bytes fit in one {buffer_size}-byte buffer")]
    RecordTooLarge {
        /// The record's total size.
        size: usize,
        /// The largest record that fits.
        max: usize,
        /// The area's buffer size.
        buffer_size: u32,
    },

    /// More write entries than one record can carry.
    #[error("{count} write entries in one record; at most {max} are accepted")]
    TooManyEntries {
        /// How many were passed.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// A record with no write entries (`cWriteEntries == 0` would be a reservation, not an
    /// append).
    #[error("a record needs at least one write entry, got none")]
    NoEntries,

    /// An empty restart area.
    #[error("a restart area must hold at least one byte")]
    EmptyRestartArea,

    /// An entry alignment of zero for `ClfsReserveAndAppendLogAligned`.
    #[error("entry alignment must be at least 1 byte, got 0")]
    ZeroAlignment,

    /// An LSN outside the stream's active range: from another log or another stream, never
    /// issued, or already recycled. LSNs carry no log or stream identity, so the range is what
    /// can be checked: an LSN of another stream of the same multiplexed log that happens to
    /// fall inside the range is not caught here (Clfs.sys answers for it).
    #[error("LSN {lsn} is not in this stream's active range {first}..={last}: it belongs to another log or stream, or to records that were already recycled")]
    LsnNotInLog {
        /// The LSN.
        lsn: Lsn,
        /// The oldest readable LSN (the lesser of the base and the archive tail).
        first: Lsn,
        /// The last LSN.
        last: Lsn,
    },

    /// The invalid LSN passed where a record's LSN is required.
    #[error("{what} must be the LSN of a record, not CLFS_LSN_INVALID")]
    InvalidLsn {
        /// Which parameter.
        what: &'static str,
    },

    /// A `ClfsCreateMarshallingAreaEx` alignment that is neither 0 nor a power of two no
    /// larger than the buffer size.
    #[error("buffer alignment {alignment} must be 0 (the default) or a power of two no larger than the {buffer_size}-byte marshalling buffer")]
    InvalidBufferAlignment {
        /// The alignment passed.
        alignment: u32,
        /// The marshalling buffer size.
        buffer_size: u32,
    },
    /// `ClfsCreateMarshallingAreaEx` flags that the header does not define.
    #[error("marshalling flags {flags:#x} are not defined (only CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT, 0x1, is)")]
    UnknownMarshallingFlags {
        /// The undefined bits.
        flags: u64,
    },
    /// An empty buffer for `ClfsSetLogFileInformation`.
    #[error("log information to set must hold at least one byte")]
    EmptyInformation,
    /// A buffer for `ClfsSetLogFileInformation` longer than its `ULONG` length can say.
    #[error("log information to set is {len} bytes; ClfsSetLogFileInformation takes at most {max} bytes (its length is a ULONG)")]
    InformationTooLarge {
        /// The buffer's length in bytes.
        len: usize,
        /// The most the routine takes (`u32::MAX`).
        max: u32,
    },
    /// A container index at or past the log's container count.
    #[error("container index {index} is out of range: the log has {containers} container{}", if *containers == 1 { "" } else { "s" })]
    ContainerIndexOutOfRange {
        /// The index passed.
        index: u32,
        /// `TotalContainers` of the log.
        containers: u32,
    },
    /// A log geometry that `ClfsLsnDifference` cannot use.
    #[error("container size {container_size} and maximum block size {max_block} must both be non-zero multiples of 512, with the block no larger than the container")]
    BadLogGeometry {
        /// The container size in bytes.
        container_size: u32,
        /// The maximum log block size in bytes.
        max_block: u32,
    },
    /// An LSN whose block offset does not lie in a container of the given size.
    #[error("LSN {lsn} has block offset {:#x}, which is not inside a {container_size}-byte container", lsn.block_offset())]
    LsnBeyondContainer {
        /// The LSN.
        lsn: Lsn,
        /// The container size in bytes.
        container_size: u32,
    },
    /// The byte difference of two LSNs does not fit in an `i64`.
    #[error("the byte difference from LSN {start} to LSN {finish} does not fit in 64 bits")]
    LsnDifferenceOverflow {
        /// The start LSN.
        start: Lsn,
        /// The finish LSN.
        finish: Lsn,
    },
    /// Inconsistent reservation arguments (reference §1.5 parameter rules).
    #[error("reservation rule broken: {rule}")]
    Reservation {
        /// The broken rule, as a sentence.
        rule: &'static str,
    },
    /// More records in one [`reserve`](crate::MarshallingArea::reserve) call than
    /// [`MAX_RESERVED_RECORDS`](crate::MAX_RESERVED_RECORDS).
    #[error("{count} records in one reservation; at most {max} can be reserved in one call")]
    TooManyReservedRecords {
        /// How many sizes were passed.
        count: usize,
        /// The most one call reserves.
        max: usize,
    },
    /// A size of 0 in [`reserve`](crate::MarshallingArea::reserve): a reserved record must
    /// hold at least one byte (an `rgcbReservation` entry of 0 is not a reservation).
    #[error("reserved record {index} (0-based) of the {count} in this reservation has a size of 0 bytes; a reserved record must hold at least one byte")]
    EmptyReservedRecord {
        /// The position of the first size of 0 in the sizes passed.
        index: usize,
        /// How many sizes were passed.
        count: usize,
    },
    /// A [`Reservation::append`](crate::Reservation::append) after every record of the
    /// reservation has been used.
    #[error("every reserved record has been used: the reservation held {reserved} record{} and all were appended", if *reserved == 1 { "" } else { "s" })]
    ReservationUsedUp {
        /// How many records the reservation held when it was made.
        reserved: usize,
    },
    /// A [`Reservation::append`](crate::Reservation::append) of a record with no bytes: only
    /// a record of at least one byte can use reserved space.
    #[error("a record appended into a reservation must hold at least one byte, but its {entries} write entr{} hold 0 bytes", if *entries == 1 { "y" } else { "ies" })]
    EmptyReservedAppend {
        /// How many write entries the record had (all empty).
        entries: usize,
    },
    /// A record appended into a [`Reservation`](crate::Reservation) that needs more reserved
    /// space than the largest record still reserved holds.
    #[error(
        "a record that needs {size} bytes of reserved space (headers and alignment included) \
         does not fit in any record still reserved: the largest holds {largest} bytes"
    )]
    ReservationTooSmall {
        /// The reserved space the record needs (`ClfsAlignReservedLog` of its data size).
        size: i64,
        /// The largest record still reserved, in the same unit.
        largest: i64,
    },

    /// A second live [`Reservation`](crate::Reservation) on one marshalling area. CLFS keeps
    /// one pool of reserved records per area and consumes whichever fits, so two guards could
    /// not tell their records apart (`docs/decisions.md`).
    #[error("the marshalling area already has a live Reservation; CLFS keeps one reserved-record pool per area, so a second guard could consume the first one's records: append through the live guard, or drop or release it first")]
    ReservationInUse,

    /// A new base LSN outside `[current base, last LSN]`.
    #[error("new base LSN {new} must lie between the current base {base} and the last LSN {last}")]
    BaseOutOfRange {
        /// The requested base.
        new: Lsn,
        /// The current base.
        base: Lsn,
        /// The last LSN.
        last: Lsn,
    },

    /// A new base LSN past the latest restart area, which would make it unreadable.
    #[error("new base LSN {new} is past the latest restart area at {restart}, which could then not be read: write a new restart area with the new base instead")]
    BasePastRestart {
        /// The requested base.
        new: Lsn,
        /// The latest restart area.
        restart: Lsn,
    },

    /// A management policy value the library refuses before calling Clfs.sys
    /// (reference §2.11).
    #[error("{policy} policy {rule}, got {value}")]
    InvalidPolicy {
        /// The policy type, e.g. `"MaximumSize"`.
        policy: &'static str,
        /// The broken rule, e.g. `"must be between 2 and 1024 containers"`.
        rule: &'static str,
        /// The value given.
        value: u64,
    },

    /// A `ClfsMgmtSetLogFileSize` size the routine documents as invalid.
    #[error("a log of {containers} container{} is not a valid target size: ask for 2..=1023 containers, the minimum-size policy, or the maximum-size policy", if *containers == 1 { "" } else { "s" })]
    InvalidLogSize {
        /// The requested number of containers.
        containers: u64,
    },

    /// `LogOptions` that break a rule of `ClfsCreateLogFile`'s `fCreateOptions` or
    /// `fLogOptionFlag` (reference §1.1).
    #[error("log options rejected: {rule} (fCreateOptions {create_options:#x}, fLogOptionFlag {log_option_flags:#x})")]
    LogOptions {
        /// The broken rule, as a sentence.
        rule: &'static str,
        /// The `fCreateOptions` bits.
        create_options: u32,
        /// The `fLogOptionFlag` bits.
        log_option_flags: u32,
    },

    /// A restart record larger than one marshalling buffer.
    #[error("restart area of {size} bytes does not fit: at most {max} bytes fit in one {buffer_size}-byte buffer")]
    RestartTooLarge {
        /// The restart data size.
        size: usize,
        /// The largest that fits.
        max: usize,
        /// The area's buffer size.
        buffer_size: u32,
    },
}

/// "s" unless `n` is 1, for messages that count bytes.
const fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "reported success but returned" for `STATUS_SUCCESS`, "returned `<status>` with" for any
/// other status ([`Error::InconsistentOutput`]'s message).
struct Returned(NtStatus);

impl core::fmt::Display for Returned {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == NtStatus::SUCCESS {
            f.write_str("reported success but returned")
        } else {
            write!(f, "returned {} with", self.0)
        }
    }
}

fn message_suffix(status: NtStatus) -> MessageSuffix {
    MessageSuffix(status.message())
}

struct MessageSuffix(Option<&'static str>);

impl core::fmt::Display for MessageSuffix {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(m) => write!(f, ": {m}"),
            None => Ok(()),
        }
    }
}

impl Error {
    /// The NTSTATUS when Clfs.sys refused, `None` when the library refused first or refused
    /// what a successful call returned ([`Error::LengthOutOfRange`],
    /// [`Error::InconsistentOutput`], whose `status` field keeps the success or warning the
    /// routine returned with the outputs).
    ///
    /// IRQL: any.
    pub const fn status(&self) -> Option<NtStatus> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The NTSTATUS a dispatch routine can return for this error: Clfs.sys's own status when it
    /// refused ([`Error::Status`]), otherwise the status Clfs.sys documents (or the emulator
    /// returns) for the same broken rule, so that a driver reports the same code whether the
    /// library or Clfs.sys caught the mistake. No value passes `NT_SUCCESS`, so an `Err` can
    /// never complete an IRP as a success.
    ///
    /// | variant | NTSTATUS |
    /// |---|---|
    /// | `Status` | the status Clfs.sys returned |
    /// | `IrqlTooHigh` | `STATUS_INVALID_DEVICE_STATE` (Clfs.sys would bugcheck; no status exists) |
    /// | `NameTooLong` | `STATUS_NAME_TOO_LONG` |
    /// | `EmptyName`, `InvalidLogName` | `STATUS_OBJECT_NAME_INVALID` |
    /// | `PhysicalLog` | `STATUS_LOG_MULTIPLEXED` |
    /// | `NeedsWriteAccess` | `STATUS_ACCESS_DENIED` |
    /// | `TooManyContainers` | `STATUS_LOG_CONTAINER_LIMIT_EXCEEDED` |
    /// | `NotEnoughContainers` | `STATUS_LOG_NOT_ENOUGH_CONTAINERS` |
    /// | `LsnNotInLog` | `STATUS_LOG_RECORD_NONEXISTENT` |
    /// | `Reservation`, `TooManyReservedRecords`, `ReservationTooSmall`, `ReservationInUse` | `STATUS_LOG_RESERVATION_INVALID` |
    /// | `BaseOutOfRange`, `BasePastRestart` | `STATUS_LOG_TAIL_INVALID` |
    /// | `LsnDifferenceOverflow` | `STATUS_INTEGER_OVERFLOW` |
    /// | `PoolExhausted` | `STATUS_INSUFFICIENT_RESOURCES` |
    /// | `LengthOutOfRange`, `InconsistentOutput` | `STATUS_LOG_METADATA_INCONSISTENT` |
    /// | `LsnConstantMismatch` | `STATUS_REVISION_MISMATCH` |
    /// | every other variant (bad sizes, counts, alignments, LSN, geometry, container index and policy arguments) | `STATUS_INVALID_PARAMETER` |
    ///
    /// ```
    /// use clfs::{Error, NtStatus};
    /// // In a dispatch routine: `Err(e) => return e.ntstatus().0` (an NTSTATUS is an i32).
    /// assert_eq!(Error::ZeroBufferSize.ntstatus(), NtStatus::INVALID_PARAMETER);
    /// assert_eq!(NtStatus::from(Error::NotEnoughContainers { containers: 1 }), NtStatus::LOG_NOT_ENOUGH_CONTAINERS);
    /// let status: i32 = Error::ReservationInUse.into();
    /// assert_eq!(status, 0xC01A_0010_u32 as i32); // STATUS_LOG_RESERVATION_INVALID
    /// ```
    ///
    /// IRQL: any.
    pub const fn ntstatus(&self) -> NtStatus {
        // Exhaustive on purpose: a new variant must choose its status here (and in the table).
        match self {
            Error::Status { status, .. } => *status,
            Error::IrqlTooHigh { .. } => NtStatus::INVALID_DEVICE_STATE,
            Error::NameTooLong { .. } => NtStatus::NAME_TOO_LONG,
            Error::EmptyName { .. } | Error::InvalidLogName(_) => NtStatus::OBJECT_NAME_INVALID,
            Error::PhysicalLog { .. } => NtStatus::LOG_MULTIPLEXED,
            Error::NeedsWriteAccess { .. } => NtStatus::ACCESS_DENIED,
            Error::TooManyContainers { .. } => NtStatus::LOG_CONTAINER_LIMIT_EXCEEDED,
            Error::NotEnoughContainers { .. } => NtStatus::LOG_NOT_ENOUGH_CONTAINERS,
            Error::LsnNotInLog { .. } => NtStatus::LOG_RECORD_NONEXISTENT,
            Error::Reservation { .. }
            | Error::TooManyReservedRecords { .. }
            | Error::EmptyReservedRecord { .. }
            | Error::ReservationUsedUp { .. }
            | Error::EmptyReservedAppend { .. }
            | Error::ReservationTooSmall { .. }
            | Error::ReservationInUse => NtStatus::LOG_RESERVATION_INVALID,
            Error::BaseOutOfRange { .. } | Error::BasePastRestart { .. } => {
                NtStatus::LOG_TAIL_INVALID
            }
            Error::LsnDifferenceOverflow { .. } => NtStatus::INTEGER_OVERFLOW,
            Error::PoolExhausted { .. } => NtStatus::INSUFFICIENT_RESOURCES,
            Error::LengthOutOfRange { .. } | Error::InconsistentOutput { .. } => {
                NtStatus::LOG_METADATA_INCONSISTENT
            }
            Error::LsnConstantMismatch { .. } => NtStatus::REVISION_MISMATCH,
            Error::NoContainers
            | Error::ZeroBufferSize
            | Error::BufferNotSectorMultiple { .. }
            | Error::ZeroBufferCount { .. }
            | Error::RecordTooLarge { .. }
            | Error::TooManyEntries { .. }
            | Error::NoEntries
            | Error::EmptyRestartArea
            | Error::ZeroAlignment
            | Error::InvalidLsn { .. }
            | Error::BadLogGeometry { .. }
            | Error::LsnBeyondContainer { .. }
            | Error::ContainerIndexOutOfRange { .. }
            | Error::EmptyInformation
            | Error::InformationTooLarge { .. }
            | Error::InvalidBufferAlignment { .. }
            | Error::UnknownMarshallingFlags { .. }
            | Error::RestartTooLarge { .. }
            | Error::InvalidPolicy { .. }
            | Error::InvalidLogSize { .. }
            | Error::LogOptions { .. } => NtStatus::INVALID_PARAMETER,
        }
    }

    /// True when the library refused before calling Clfs.sys (false for [`Error::Status`], and
    /// for [`Error::LengthOutOfRange`] and [`Error::InconsistentOutput`], refusals of what
    /// Clfs.sys returned).
    ///
    /// IRQL: any.
    pub const fn refused_before_call(&self) -> bool {
        !matches!(
            self,
            Error::Status { .. }
                | Error::LengthOutOfRange { .. }
                | Error::InconsistentOutput { .. }
        )
    }
}

/// `Result<T, clfs::Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Turns a raw status into a `Result`: success and informational codes are `Ok` (the caller
/// maps the informational ones it can meet), warnings and errors are `Err`.
pub(crate) fn check(routine: &'static str, raw: i32) -> Result<NtStatus> {
    let status = NtStatus(raw);
    if status.is_success() {
        Ok(status)
    } else {
        Err(Error::Status { routine, status })
    }
}

impl From<Error> for NtStatus {
    /// [`Error::ntstatus`].
    fn from(e: Error) -> NtStatus {
        e.ntstatus()
    }
}

impl From<Error> for i32 {
    /// The raw `NTSTATUS` of [`Error::ntstatus`], the type a dispatch routine returns (`wdk-sys`
    /// and windows-sys both define `NTSTATUS` as `i32`).
    fn from(e: Error) -> i32 {
        e.ntstatus().0
    }
}
