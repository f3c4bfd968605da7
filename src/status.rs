//! NTSTATUS values: a typed wrapper that knows the CLFS codes by name (reference §5).

use core::fmt;

/// An `NTSTATUS` value as Clfs.sys returns it.
///
/// Severity is bits 31–30 ([`NtStatus::is_success`] is `NT_SUCCESS`). Informational codes pass
/// `NT_SUCCESS` and warnings do not, although both can come with valid output (reference §0.1
/// item 5); the safe API maps each one it can meet explicitly.
///
/// ```
/// use clfs::NtStatus;
/// assert_eq!(NtStatus::LOG_FULL.name(), Some("STATUS_LOG_FULL"));
/// assert!(NtStatus::LOG_NO_RESTART.is_success()); // informational
/// assert!(NtStatus::NO_MORE_ENTRIES.is_warning());
/// assert_eq!(
///     NtStatus::LOG_NOT_ENOUGH_CONTAINERS.to_string(),
///     "STATUS_LOG_NOT_ENOUGH_CONTAINERS (0xC01A0023)"
/// );
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtStatus(pub i32);

macro_rules! statuses {
    ($($(#[$m:meta])* $konst:ident = $value:literal, $name:literal, $msg:literal;)*) => {
        impl NtStatus {
            $( $(#[$m])* #[doc = concat!("`", $name, "`: ", $msg)]
               pub const $konst: NtStatus = NtStatus($value as u32 as i32); )*

            /// The constant's name, e.g. `"STATUS_LOG_FULL"`, when this is a code CLFS is
            /// documented to use.
            ///
            /// IRQL: any.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 as u32 {
                    $( $value => Some($name), )*
                    _ => None,
                }
            }

            /// The message text ntstatus.h gives for the code, when known.
            ///
            /// IRQL: any.
            pub const fn message(self) -> Option<&'static str> {
                match self.0 as u32 {
                    $( $value => Some($msg), )*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000, "STATUS_SUCCESS", "The operation completed successfully.";
    PENDING = 0x0000_0103, "STATUS_PENDING", "The operation that was requested is pending completion.";
    LOG_NO_RESTART = 0x401A_000C, "STATUS_LOG_NO_RESTART", "Log service encountered a log stream with no restart area.";
    BUFFER_OVERFLOW = 0x8000_0005, "STATUS_BUFFER_OVERFLOW", "The data was too large to fit into the specified buffer.";
    NO_MORE_ENTRIES = 0x8000_001A, "STATUS_NO_MORE_ENTRIES", "No more entries are available from an enumeration operation.";
    COULD_NOT_RESIZE_LOG = 0x8019_0009, "STATUS_COULD_NOT_RESIZE_LOG", "The log could not be set to the requested size.";
    UNSUCCESSFUL = 0xC000_0001, "STATUS_UNSUCCESSFUL", "The requested operation was unsuccessful.";
    NOT_IMPLEMENTED = 0xC000_0002, "STATUS_NOT_IMPLEMENTED", "The requested operation is not implemented.";
    INVALID_HANDLE = 0xC000_0008, "STATUS_INVALID_HANDLE", "An invalid HANDLE was specified.";
    INVALID_PARAMETER = 0xC000_000D, "STATUS_INVALID_PARAMETER", "An invalid parameter was passed to a service or function.";
    END_OF_FILE = 0xC000_0011, "STATUS_END_OF_FILE", "The end-of-file marker has been reached.";
    ACCESS_DENIED = 0xC000_0022, "STATUS_ACCESS_DENIED", "A process has requested access to an object but has not been granted those access rights.";
    BUFFER_TOO_SMALL = 0xC000_0023, "STATUS_BUFFER_TOO_SMALL", "The buffer is too small to contain the entry.";
    OBJECT_NAME_INVALID = 0xC000_0033, "STATUS_OBJECT_NAME_INVALID", "The object name is invalid.";
    OBJECT_NAME_NOT_FOUND = 0xC000_0034, "STATUS_OBJECT_NAME_NOT_FOUND", "The object name is not found.";
    OBJECT_NAME_COLLISION = 0xC000_0035, "STATUS_OBJECT_NAME_COLLISION", "The object name already exists.";
    SHARING_VIOLATION = 0xC000_0043, "STATUS_SHARING_VIOLATION", "A file cannot be opened because the share access flags are incompatible.";
    DELETE_PENDING = 0xC000_0056, "STATUS_DELETE_PENDING", "A non close operation has been requested of a file object with a delete pending.";
    REVISION_MISMATCH = 0xC000_0059, "STATUS_REVISION_MISMATCH", "Indicates two revision levels are incompatible.";
    INSUFFICIENT_RESOURCES = 0xC000_009A, "STATUS_INSUFFICIENT_RESOURCES", "Insufficient system resources exist to complete the API.";
    NOT_SUPPORTED = 0xC000_00BB, "STATUS_NOT_SUPPORTED", "The request is not supported.";
    INTEGER_OVERFLOW = 0xC000_0095, "STATUS_INTEGER_OVERFLOW", "{EXCEPTION} Integer overflow.";
    NAME_TOO_LONG = 0xC000_0106, "STATUS_NAME_TOO_LONG", "A specified name string is too long for its intended use.";
    INVALID_PARAMETER_1 = 0xC000_00EF, "STATUS_INVALID_PARAMETER_1", "An invalid parameter was passed to a service or function as the first argument.";
    INVALID_PARAMETER_2 = 0xC000_00F0, "STATUS_INVALID_PARAMETER_2", "An invalid parameter was passed to a service or function as the second argument.";
    INVALID_PARAMETER_3 = 0xC000_00F1, "STATUS_INVALID_PARAMETER_3", "An invalid parameter was passed to a service or function as the third argument.";
    INVALID_DEVICE_STATE = 0xC000_0184, "STATUS_INVALID_DEVICE_STATE", "The device is not in a valid state to perform this request.";
    NOT_FOUND = 0xC000_0225, "STATUS_NOT_FOUND", "The object was not found.";
    LOG_FILE_FULL = 0xC000_0188, "STATUS_LOG_FILE_FULL", "Log file space is insufficient to support this operation.";
    LOG_RESIZE_INVALID_SIZE = 0xC019_000B, "STATUS_LOG_RESIZE_INVALID_SIZE", "The requested log size for the file system resource manager is invalid.";
    LOG_GROWTH_FAILED = 0xC019_0019, "STATUS_LOG_GROWTH_FAILED", "An attempt to create space in the transactional resource manager's log failed.";
    LOG_CORRUPTION_DETECTED = 0xC019_0030, "STATUS_LOG_CORRUPTION_DETECTED", "The log data is corrupt.";
    LOG_SECTOR_INVALID = 0xC01A_0001, "STATUS_LOG_SECTOR_INVALID", "Log service found an invalid log sector.";
    LOG_SECTOR_PARITY_INVALID = 0xC01A_0002, "STATUS_LOG_SECTOR_PARITY_INVALID", "Log service encountered a log sector with invalid block parity.";
    LOG_SECTOR_REMAPPED = 0xC01A_0003, "STATUS_LOG_SECTOR_REMAPPED", "Log service encountered a remapped log sector.";
    LOG_BLOCK_INCOMPLETE = 0xC01A_0004, "STATUS_LOG_BLOCK_INCOMPLETE", "Log service encountered a partial or incomplete log block.";
    LOG_INVALID_RANGE = 0xC01A_0005, "STATUS_LOG_INVALID_RANGE", "Log service encountered an attempt access data outside the active log range.";
    LOG_BLOCKS_EXHAUSTED = 0xC01A_0006, "STATUS_LOG_BLOCKS_EXHAUSTED", "Log service user log marshalling buffers are exhausted.";
    LOG_READ_CONTEXT_INVALID = 0xC01A_0007, "STATUS_LOG_READ_CONTEXT_INVALID", "Log service encountered an attempt read from a marshalling area with an invalid read context.";
    LOG_RESTART_INVALID = 0xC01A_0008, "STATUS_LOG_RESTART_INVALID", "Log service encountered an invalid log restart area.";
    LOG_BLOCK_VERSION = 0xC01A_0009, "STATUS_LOG_BLOCK_VERSION", "Log service encountered an invalid log block version.";
    LOG_BLOCK_INVALID = 0xC01A_000A, "STATUS_LOG_BLOCK_INVALID", "Log service encountered an invalid log block.";
    LOG_READ_MODE_INVALID = 0xC01A_000B, "STATUS_LOG_READ_MODE_INVALID", "Log service encountered an attempt to read the log with an invalid read mode.";
    LOG_METADATA_CORRUPT = 0xC01A_000D, "STATUS_LOG_METADATA_CORRUPT", "Log service encountered a corrupted metadata file.";
    LOG_METADATA_INVALID = 0xC01A_000E, "STATUS_LOG_METADATA_INVALID", "Log service encountered a metadata file that could not be created by the log file system.";
    LOG_METADATA_INCONSISTENT = 0xC01A_000F, "STATUS_LOG_METADATA_INCONSISTENT", "Log service encountered a metadata file with inconsistent data.";
    LOG_RESERVATION_INVALID = 0xC01A_0010, "STATUS_LOG_RESERVATION_INVALID", "Log service encountered an attempt to erroneously allocate or dispose reservation space.";
    LOG_CANT_DELETE = 0xC01A_0011, "STATUS_LOG_CANT_DELETE", "Log service cannot delete log file or file system container.";
    LOG_CONTAINER_LIMIT_EXCEEDED = 0xC01A_0012, "STATUS_LOG_CONTAINER_LIMIT_EXCEEDED", "Log service has reached the maximum allowable containers allocated to a log file.";
    LOG_START_OF_LOG = 0xC01A_0013, "STATUS_LOG_START_OF_LOG", "Log service has attempted to read or write backwards past the start of the log.";
    LOG_POLICY_ALREADY_INSTALLED = 0xC01A_0014, "STATUS_LOG_POLICY_ALREADY_INSTALLED", "Log policy could not be installed because a policy of the same type is already present.";
    LOG_POLICY_NOT_INSTALLED = 0xC01A_0015, "STATUS_LOG_POLICY_NOT_INSTALLED", "Log policy in question was not installed at the time of the request.";
    LOG_POLICY_INVALID = 0xC01A_0016, "STATUS_LOG_POLICY_INVALID", "The installed set of policies on the log is invalid.";
    LOG_POLICY_CONFLICT = 0xC01A_0017, "STATUS_LOG_POLICY_CONFLICT", "A policy on the log in question prevented the operation from completing.";
    LOG_PINNED_ARCHIVE_TAIL = 0xC01A_0018, "STATUS_LOG_PINNED_ARCHIVE_TAIL", "Log space cannot be reclaimed because the log is pinned by the archive tail.";
    LOG_RECORD_NONEXISTENT = 0xC01A_0019, "STATUS_LOG_RECORD_NONEXISTENT", "Log record is not a record in the log file.";
    LOG_RECORDS_RESERVED_INVALID = 0xC01A_001A, "STATUS_LOG_RECORDS_RESERVED_INVALID", "Number of reserved log records or the adjustment of the number of reserved log records is invalid.";
    LOG_SPACE_RESERVED_INVALID = 0xC01A_001B, "STATUS_LOG_SPACE_RESERVED_INVALID", "Reserved log space or the adjustment of the log space is invalid.";
    LOG_TAIL_INVALID = 0xC01A_001C, "STATUS_LOG_TAIL_INVALID", "A new or existing archive tail or base of the active log is invalid.";
    LOG_FULL = 0xC01A_001D, "STATUS_LOG_FULL", "Log space is exhausted.";
    LOG_MULTIPLEXED = 0xC01A_001E, "STATUS_LOG_MULTIPLEXED", "Log is multiplexed, no direct writes to the physical log is allowed.";
    LOG_DEDICATED = 0xC01A_001F, "STATUS_LOG_DEDICATED", "The operation failed because the log is a dedicated log.";
    LOG_ARCHIVE_NOT_IN_PROGRESS = 0xC01A_0020, "STATUS_LOG_ARCHIVE_NOT_IN_PROGRESS", "The operation requires an archive context.";
    LOG_ARCHIVE_IN_PROGRESS = 0xC01A_0021, "STATUS_LOG_ARCHIVE_IN_PROGRESS", "Log archival is in progress.";
    LOG_EPHEMERAL = 0xC01A_0022, "STATUS_LOG_EPHEMERAL", "The operation requires a non-ephemeral log, but the log is ephemeral.";
    LOG_NOT_ENOUGH_CONTAINERS = 0xC01A_0023, "STATUS_LOG_NOT_ENOUGH_CONTAINERS", "The log must have at least two containers before it can be read from or written to.";
    LOG_CLIENT_ALREADY_REGISTERED = 0xC01A_0024, "STATUS_LOG_CLIENT_ALREADY_REGISTERED", "A log client has already registered on the stream.";
    LOG_CLIENT_NOT_REGISTERED = 0xC01A_0025, "STATUS_LOG_CLIENT_NOT_REGISTERED", "A log client has not been registered on the stream.";
    LOG_FULL_HANDLER_IN_PROGRESS = 0xC01A_0026, "STATUS_LOG_FULL_HANDLER_IN_PROGRESS", "A request has already been made to handle the log full condition.";
    LOG_CONTAINER_READ_FAILED = 0xC01A_0027, "STATUS_LOG_CONTAINER_READ_FAILED", "Log service encountered an error when attempting to read from a log container.";
    LOG_CONTAINER_WRITE_FAILED = 0xC01A_0028, "STATUS_LOG_CONTAINER_WRITE_FAILED", "Log service encountered an error when attempting to write to a log container.";
    LOG_CONTAINER_OPEN_FAILED = 0xC01A_0029, "STATUS_LOG_CONTAINER_OPEN_FAILED", "Log service encountered an error when attempting open a log container.";
    LOG_CONTAINER_STATE_INVALID = 0xC01A_002A, "STATUS_LOG_CONTAINER_STATE_INVALID", "Log service encountered an invalid container state when attempting a requested action.";
    LOG_STATE_INVALID = 0xC01A_002B, "STATUS_LOG_STATE_INVALID", "Log service is not in the correct state to perform a requested action.";
    LOG_PINNED = 0xC01A_002C, "STATUS_LOG_PINNED", "Log space cannot be reclaimed because the log is pinned.";
    LOG_METADATA_FLUSH_FAILED = 0xC01A_002D, "STATUS_LOG_METADATA_FLUSH_FAILED", "Log metadata flush failed.";
    LOG_INCONSISTENT_SECURITY = 0xC01A_002E, "STATUS_LOG_INCONSISTENT_SECURITY", "Security on the log and its containers is inconsistent.";
    LOG_APPENDED_FLUSH_FAILED = 0xC01A_002F, "STATUS_LOG_APPENDED_FLUSH_FAILED", "Records were appended to the log or reservation changes were made, but the log could not be flushed.";
    LOG_PINNED_RESERVATION = 0xC01A_0030, "STATUS_LOG_PINNED_RESERVATION", "The log is pinned due to reservation consuming most of the log space. Free some reserved records to make space available.";
}

/// The severity field of an NTSTATUS (bits 31–30).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `STATUS_SEVERITY_SUCCESS` (0).
    Success,
    /// `STATUS_SEVERITY_INFORMATIONAL` (1): `NT_SUCCESS` is true.
    Informational,
    /// `STATUS_SEVERITY_WARNING` (2): `NT_SUCCESS` is false, yet output may be valid.
    Warning,
    /// `STATUS_SEVERITY_ERROR` (3).
    Error,
}

impl NtStatus {
    /// The raw value as an unsigned number, as status codes are usually written.
    ///
    /// IRQL: any.
    pub const fn code(self) -> u32 {
        self.0 as u32
    }

    /// The severity field.
    ///
    /// IRQL: any.
    pub const fn severity(self) -> Severity {
        match (self.0 as u32) >> 30 {
            0 => Severity::Success,
            1 => Severity::Informational,
            2 => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// `NT_SUCCESS(status)`: true for success and informational codes.
    ///
    /// IRQL: any.
    pub const fn is_success(self) -> bool {
        self.0 >= 0
    }

    /// True for informational codes (which pass `NT_SUCCESS`).
    ///
    /// IRQL: any.
    pub const fn is_informational(self) -> bool {
        matches!(self.severity(), Severity::Informational)
    }

    /// True for warning codes (which fail `NT_SUCCESS` but may come with valid output).
    ///
    /// IRQL: any.
    pub const fn is_warning(self) -> bool {
        matches!(self.severity(), Severity::Warning)
    }

    /// True for error codes.
    ///
    /// IRQL: any.
    pub const fn is_error(self) -> bool {
        matches!(self.severity(), Severity::Error)
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#010X})", self.code()),
            None => write!(f, "NTSTATUS {:#010X}", self.code()),
        }
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<i32> for NtStatus {
    fn from(raw: i32) -> Self {
        NtStatus(raw)
    }
}
