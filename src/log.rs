//! Log file objects and their containers (reference §1.1–1.3).

use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::{size_of, ManuallyDrop};
use core::ptr::NonNull;

use bitflags::bitflags;

use crate::error::{check, Error, Result};
use crate::irql::require_passive_or_apc;
use crate::lsn::Lsn;
use crate::name::{LogKind, LogName};
use crate::sys;
use crate::wide::unicode_string;

bitflags! {
    /// What a log file object may do (`fDesiredAccess`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Access: u32 {
        /// `GENERIC_READ`: read records.
        const READ = sys::GENERIC_READ;
        /// `GENERIC_WRITE`: append records, add and remove containers.
        const WRITE = sys::GENERIC_WRITE;
        /// `DELETE`: delete the log.
        const DELETE = sys::DELETE;
    }
}

bitflags! {
    /// What other log file objects of the same log may do (`dwShareMode`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Share: u32 {
        /// `FILE_SHARE_READ`.
        const READ = sys::FILE_SHARE_READ;
        /// `FILE_SHARE_WRITE`.
        const WRITE = sys::FILE_SHARE_WRITE;
        /// `FILE_SHARE_DELETE`.
        const DELETE = sys::FILE_SHARE_DELETE;
    }
}

bitflags! {
    /// `fCreateOptions` of `ClfsCreateLogFile` (reference §1.1).
    ///
    /// The two `SYNCHRONOUS_IO` flags exclude each other; [`LogFile::create`] refuses both
    /// together before the call ([`Error::LogOptions`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct CreateOptions: u32 {
        /// `FILE_NO_INTERMEDIATE_BUFFERING` (0x8): the stream's records are not cached in a
        /// driver's internal buffers. In-box callers pass it.
        const NO_INTERMEDIATE_BUFFERING = 0x8;
        /// `FILE_SYNCHRONOUS_IO_ALERT` (0x10): synchronous operations whose waits alerts can
        /// end early.
        const SYNCHRONOUS_IO_ALERT = 0x10;
        /// `FILE_SYNCHRONOUS_IO_NONALERT` (0x20): synchronous operations whose waits alerts
        /// do not end.
        const SYNCHRONOUS_IO_NONALERT = 0x20;
    }
}

bitflags! {
    /// `fLogOptionFlag` of `ClfsCreateLogFile` and `ClfsDeleteLogFile`: how the caller relates
    /// to the file system under CLFS (reference §1.1, §2.1). The default (empty) is
    /// `CLFS_FLAG_NO_FLAGS`, right for every driver that is neither a file system nor a filter.
    ///
    /// Rules checked before the call ([`Error::LogOptions`]): at most one of the three filter
    /// levels (`NON_REENTRANT_FILTER`, `REENTRANT_FILTER`, `MINIFILTER_LEVEL`), since each gives
    /// the context a different meaning; `NON_REENTRANT_FILTER` and `MINIFILTER_LEVEL` need a
    /// [`LogContext`] (the DDI: "the caller passes the non-NULL …"); no bits beyond these six.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct LogOptionFlags: u32 {
        /// `CLFS_FLAG_REENTRANT_FILE_SYSTEM` (0x8): the caller is the file system that stores
        /// the containers, so CLFS may call back into it on the same thread.
        const REENTRANT_FILE_SYSTEM = 0x8;
        /// `CLFS_FLAG_NON_REENTRANT_FILTER` (0x10), also `CLFS_FLAG_FILTER_INTERMEDIATE_LEVEL`:
        /// a file system filter whose log I/O goes to a level below itself. Context: the
        /// target device object ([`LogContext::device_object`]).
        const NON_REENTRANT_FILTER = 0x10;
        /// `CLFS_FLAG_REENTRANT_FILTER` (0x20), also `CLFS_FLAG_FILTER_TOP_LEVEL`: a filter
        /// whose log I/O goes to the top of the stack, through itself. Context (optional): an
        /// opaque value the filter recognises on its own log I/O ([`LogContext::bytes`]).
        const REENTRANT_FILTER = 0x20;
        /// `CLFS_FLAG_IGNORE_SHARE_ACCESS` (0x40, header only): `IO_IGNORE_SHARE_ACCESS_CHECK`
        /// semantics for the containers.
        const IGNORE_SHARE_ACCESS = 0x40;
        /// `CLFS_FLAG_MINIFILTER_LEVEL` (0x100): a minifilter whose log I/O goes below itself.
        /// Context: the minifilter context object ([`LogContext::from_raw`]).
        const MINIFILTER_LEVEL = 0x100;
        /// `CLFS_FLAG_HIDDEN_SYSTEM_LOG` (0x200, header only): the log and its containers are
        /// marked hidden and system. In-box callers pass it.
        const HIDDEN_SYSTEM_LOG = 0x200;
    }
}

/// A security descriptor for a new log (`psdLogFile`), borrowed for `'a`: it must outlive the
/// [`LogOptions`] that carry it, so it is valid during [`LogFile::create`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityDescriptor<'a> {
    raw: NonNull<c_void>,
    _borrow: PhantomData<&'a c_void>,
}

// SAFETY: CLFS only reads the descriptor during the create call (`_In_opt_`), and `from_raw`
// requires it to stay valid and unchanged for 'a whichever thread makes the call.
unsafe impl Send for SecurityDescriptor<'_> {}
// SAFETY: as above; shared use only reads it.
unsafe impl Sync for SecurityDescriptor<'_> {}

impl<'a> SecurityDescriptor<'a> {
    /// Wraps a `PSECURITY_DESCRIPTOR`, e.g. one built with `RtlCreateSecurityDescriptor` or a
    /// self-relative descriptor from `SeAssignSecurity`.
    ///
    /// IRQL: any (nothing is called).
    ///
    /// # Safety
    /// `raw` points to a valid `SECURITY_DESCRIPTOR` (absolute or self-relative) that stays
    /// valid and unchanged for `'a`, readable from any thread.
    pub const unsafe fn from_raw(raw: NonNull<c_void>) -> SecurityDescriptor<'a> {
        SecurityDescriptor {
            raw,
            _borrow: PhantomData,
        }
    }

    /// The raw `PSECURITY_DESCRIPTOR`.
    ///
    /// IRQL: any.
    pub const fn as_raw(&self) -> *mut c_void {
        self.raw.as_ptr()
    }
}

/// The context of `fLogOptionFlag` (`pvContext`, `cbContext`), borrowed for `'a`. What it
/// holds depends on the flag (see [`LogOptionFlags`]); it is never empty (`cbContext > 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogContext<'a> {
    raw: NonNull<c_void>,
    len: u32,
    _borrow: PhantomData<&'a [u8]>,
}

// SAFETY: CLFS only reads the context during the call (`_In_reads_bytes_opt_`); `bytes`
// borrows a shared slice and the unsafe constructors require the memory to stay valid and
// unchanged for 'a, readable from any thread.
unsafe impl Send for LogContext<'_> {}
// SAFETY: as above; shared use only reads it.
unsafe impl Sync for LogContext<'_> {}

impl<'a> LogContext<'a> {
    /// An opaque context: `bytes` as `pvContext`, its length as `cbContext`. For
    /// `REENTRANT_FILTER`. `None` if `bytes` is empty or longer than `u32::MAX` (CLFS needs
    /// `cbContext > 0`).
    ///
    /// IRQL: any.
    pub fn bytes(bytes: &'a [u8]) -> Option<LogContext<'a>> {
        let len = u32::try_from(bytes.len()).ok().filter(|&n| n > 0)?;
        Some(LogContext {
            raw: NonNull::from(bytes).cast(),
            len,
            _borrow: PhantomData,
        })
    }

    /// The target device object for `NON_REENTRANT_FILTER`: `pvContext` is the
    /// `PDEVICE_OBJECT`, `cbContext` is `size_of::<DEVICE_OBJECT>()` (the DDI asks for "the
    /// appropriate size"; `docs/decisions.md` records this reading).
    ///
    /// IRQL: any (nothing is called).
    ///
    /// # Safety
    /// `device` is a referenced device object that stays valid for `'a`.
    pub unsafe fn device_object(device: NonNull<sys::DEVICE_OBJECT>) -> LogContext<'a> {
        LogContext {
            raw: device.cast(),
            len: size_of::<sys::DEVICE_OBJECT>() as u32,
            _borrow: PhantomData,
        }
    }

    /// Any other context, e.g. the minifilter context object for `MINIFILTER_LEVEL`, as a
    /// pointer and a byte length. `None` when `len` is 0.
    ///
    /// IRQL: any (nothing is called).
    ///
    /// # Safety
    /// `raw` points to `len` bytes that stay valid and unchanged for `'a`, readable from any
    /// thread.
    pub unsafe fn from_raw(raw: NonNull<c_void>, len: u32) -> Option<LogContext<'a>> {
        (len > 0).then_some(LogContext {
            raw,
            len,
            _borrow: PhantomData,
        })
    }

    /// `pvContext`.
    ///
    /// IRQL: any.
    pub const fn as_raw(&self) -> *mut c_void {
        self.raw.as_ptr()
    }

    /// `cbContext`, never 0.
    ///
    /// IRQL: any.
    pub const fn size(&self) -> u32 {
        self.len
    }
}

/// Whether `ClfsCreateLogFile` opens, creates, or either (`fCreateDisposition`).
///
/// The DDI page names the Win32 constants, which wdm.h does not define; in-box callers pass the
/// NT values, which this type uses (reference §1.1, §7.1 item 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// `FILE_OPEN` (1): open an existing log, fail with `STATUS_OBJECT_NAME_NOT_FOUND` otherwise.
    #[default]
    Open,
    /// `FILE_CREATE` (2): create a new log, fail with `STATUS_OBJECT_NAME_COLLISION` if it exists.
    Create,
    /// `FILE_OPEN_IF` (3): open the log, creating it if it does not exist.
    OpenOrCreate,
}

impl Disposition {
    const fn raw(self) -> u32 {
        match self {
            Disposition::Open => sys::FILE_OPEN,
            Disposition::Create => sys::FILE_CREATE,
            Disposition::OpenOrCreate => sys::FILE_OPEN_IF,
        }
    }
}

/// Options for [`LogFile::create`].
///
/// The default opens an existing log for reading and writing, sharing it for reading.
///
/// ```
/// use clfs::{Access, LogOptions, Share};
/// let opts = LogOptions::new().create_if_missing().share(Share::READ | Share::WRITE);
/// assert_eq!(opts.access_mask(), Access::READ | Access::WRITE);
/// ```
///
/// # Opening one log twice
///
/// The share mode (`dwShareMode`) works as for files: a second log file object of the same
/// log (the same stream, or the same physical log) opens only if its access is within what
/// every open object shares, and every open object's access is within what it shares. The
/// default, [`Share::READ`] with read and write access, therefore admits **one** open at a
/// time: a second [`LogFile::create`] of the same log with the defaults fails with
/// `STATUS_SHARING_VIOLATION` ([`Error::Status`]), whichever driver
/// holds the first. To open a log twice (two components of one driver, or a reader next to
/// the writer), every opener shares what the others ask for:
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// use clfs::{wide, Access, LogFile, LogOptions, NtStatus, Share};
/// let name = wide!("log:C:\\doc\\twice");
/// let first = LogFile::create(name, LogOptions::new().create_if_missing())?;
/// // The defaults share reading only, and the second open asks for writing too:
/// let err = LogFile::create(name, LogOptions::new()).unwrap_err();
/// assert_eq!(err.status(), Some(NtStatus::SHARING_VIOLATION));
/// drop(first);
///
/// // Both share reading and writing: both open.
/// let shared = LogOptions::new().share(Share::READ | Share::WRITE);
/// let writer = LogFile::create(name, shared.create_if_missing())?;
/// let other = LogFile::create(name, shared)?;
/// // A read-only opener still has to share the writer's WRITE access.
/// let reader = LogFile::create(name, shared.access(Access::READ))?;
/// # drop((writer, other, reader));
/// # Ok::<(), clfs::Error>(())
/// ```
///
/// A file system or filter driver adds its `fLogOptionFlag` and the context that goes with it;
/// a security descriptor and `fCreateOptions` can be passed too. The borrowed ones (`'a`) must
/// outlive the options:
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// use clfs::{wide, CreateOptions, LogContext, LogFile, LogOptionFlags, LogOptions};
/// let cookie = *b"my filter's own log I/O";
/// let opts = LogOptions::new()
///     .create_if_missing()
///     .create_options(CreateOptions::NO_INTERMEDIATE_BUFFERING)
///     .log_option_flags(LogOptionFlags::REENTRANT_FILTER | LogOptionFlags::HIDDEN_SYSTEM_LOG)
///     .context(LogContext::bytes(&cookie).expect("not empty"));
/// let log = LogFile::create(wide!("log:C:\\doc\\filter"), opts)?;
/// # Ok::<(), clfs::Error>(())
/// ```
///
/// A combination the DDI forbids is refused before the call:
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// use clfs::{wide, CreateOptions, Error, LogFile, LogOptions};
/// let both = CreateOptions::SYNCHRONOUS_IO_ALERT | CreateOptions::SYNCHRONOUS_IO_NONALERT;
/// let err = LogFile::create(wide!("log:C:\\doc\\sync"), LogOptions::new().create_options(both)).unwrap_err();
/// assert!(matches!(err, Error::LogOptions { .. }));
/// assert_eq!(
///     err.to_string(),
///     "log options rejected: FILE_SYNCHRONOUS_IO_ALERT and FILE_SYNCHRONOUS_IO_NONALERT exclude each other (fCreateOptions 0x30, fLogOptionFlag 0x0)"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOptions<'a> {
    access: Access,
    share: Share,
    disposition: Disposition,
    archive: bool,
    create_options: CreateOptions,
    log_option_flags: LogOptionFlags,
    security: Option<SecurityDescriptor<'a>>,
    context: Option<LogContext<'a>>,
}

impl Default for LogOptions<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> LogOptions<'a> {
    /// Read and write access, shared for reading, open an existing log; no create options,
    /// `CLFS_FLAG_NO_FLAGS`, no security descriptor, no context.
    ///
    /// IRQL: any.
    pub const fn new() -> Self {
        LogOptions {
            access: Access::READ.union(Access::WRITE),
            share: Share::READ,
            disposition: Disposition::Open,
            archive: false,
            create_options: CreateOptions::empty(),
            log_option_flags: LogOptionFlags::empty(),
            security: None,
            context: None,
        }
    }

    /// Sets `fCreateOptions`.
    ///
    /// IRQL: any.
    pub const fn create_options(mut self, options: CreateOptions) -> Self {
        self.create_options = options;
        self
    }

    /// Sets `fLogOptionFlag` (see [`LogOptionFlags`] for which flags need a
    /// [`context`](Self::context)).
    ///
    /// IRQL: any.
    pub const fn log_option_flags(mut self, flags: LogOptionFlags) -> Self {
        self.log_option_flags = flags;
        self
    }

    /// Sets `pvContext`/`cbContext` for the `fLogOptionFlag` filter levels.
    ///
    /// IRQL: any.
    pub const fn context(mut self, context: LogContext<'a>) -> Self {
        self.context = Some(context);
        self
    }

    /// Sets the new log's security descriptor (`psdLogFile`).
    ///
    /// IRQL: any.
    pub const fn security_descriptor(mut self, descriptor: SecurityDescriptor<'a>) -> Self {
        self.security = Some(descriptor);
        self
    }

    /// The `fLogOptionFlag` rules of the DDI, checked before any call.
    fn validate(&self) -> Result<()> {
        let refuse = |rule: &'static str| {
            Err(Error::LogOptions {
                rule,
                create_options: self.create_options.bits(),
                log_option_flags: self.log_option_flags.bits(),
            })
        };
        let sync = CreateOptions::SYNCHRONOUS_IO_ALERT | CreateOptions::SYNCHRONOUS_IO_NONALERT;
        if self.create_options.contains(sync) {
            return refuse(
                "FILE_SYNCHRONOUS_IO_ALERT and FILE_SYNCHRONOUS_IO_NONALERT exclude each other",
            );
        }
        if self.create_options.bits() & !CreateOptions::all().bits() != 0 {
            return refuse("fCreateOptions takes only FILE_NO_INTERMEDIATE_BUFFERING and the two FILE_SYNCHRONOUS_IO flags");
        }
        let flags = self.log_option_flags;
        if flags.bits() & !LogOptionFlags::all().bits() != 0 {
            return refuse("fLogOptionFlag has bits that are no CLFS_FLAG_* create flag");
        }
        let levels = LogOptionFlags::NON_REENTRANT_FILTER
            | LogOptionFlags::REENTRANT_FILTER
            | LogOptionFlags::MINIFILTER_LEVEL;
        if flags.intersection(levels).bits().count_ones() > 1 {
            return refuse("at most one of NON_REENTRANT_FILTER, REENTRANT_FILTER and MINIFILTER_LEVEL may be set: each gives the context a different meaning");
        }
        let needs_context = LogOptionFlags::NON_REENTRANT_FILTER | LogOptionFlags::MINIFILTER_LEVEL;
        if flags.intersects(needs_context) && self.context.is_none() {
            return refuse("NON_REENTRANT_FILTER and MINIFILTER_LEVEL need a context: the target device object or the minifilter context");
        }
        Ok(())
    }

    /// `pvContext` and `cbContext`: NULL and 0 without a context.
    fn raw_context(&self) -> (*const c_void, u32) {
        match &self.context {
            Some(c) => (c.as_raw().cast_const(), c.size()),
            None => (core::ptr::null(), 0),
        }
    }

    /// Sets the access mask.
    ///
    /// IRQL: any.
    pub const fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Sets the share mode: what other log file objects of the same log may do while this one
    /// is open. The default, [`Share::READ`], makes a second read-write open of the log fail
    /// with `STATUS_SHARING_VIOLATION` (see [`LogOptions`], "Opening one log twice").
    ///
    /// IRQL: any.
    pub const fn share(mut self, share: Share) -> Self {
        self.share = share;
        self
    }

    /// Sets the disposition.
    ///
    /// IRQL: any.
    pub const fn disposition(mut self, disposition: Disposition) -> Self {
        self.disposition = disposition;
        self
    }

    /// Opens the log, creating it if it does not exist (`FILE_OPEN_IF`).
    ///
    /// IRQL: any.
    pub const fn create_if_missing(self) -> Self {
        self.disposition(Disposition::OpenOrCreate)
    }

    /// Creates a new log and fails if it exists (`FILE_CREATE`).
    ///
    /// IRQL: any.
    pub const fn create_new(self) -> Self {
        self.disposition(Disposition::Create)
    }

    /// Creates the log non-ephemeral (`FILE_ATTRIBUTE_ARCHIVE`), so that an archive tail can
    /// pin its records (reference §4.7).
    ///
    /// IRQL: any.
    pub const fn archive(mut self, archive: bool) -> Self {
        self.archive = archive;
        self
    }

    /// The access mask these options request.
    ///
    /// IRQL: any.
    pub const fn access_mask(&self) -> Access {
        self.access
    }
}

/// The most containers one `ClfsAddLogContainerSet` / `ClfsRemoveLogContainerSet` call takes
/// here: a log holds at most 1024 (reference §2.13). Larger sets are refused before anything is
/// allocated or called ([`Error::TooManyContainers`]).
pub const MAX_CONTAINERS_PER_SET: usize = 1024;

/// An open CLFS log file object: one open instance of a stream (the one stream of a dedicated
/// log, or one stream of a multiplexed log), or of a multiplexed log's physical log. Which one
/// it is comes from its name: [`LogFile::kind`].
///
/// Created by [`LogFile::create`] (`ClfsCreateLogFile`); closed on drop
/// (`ClfsCloseLogFileObject`), by [`LogFile::close`], which returns the status, or by
/// [`LogFile::close_and_reset`].
///
/// # Invariants
/// `raw` is a log file object that `ClfsCreateLogFile` returned and that has not been closed.
/// `origin`, when `Some`, is the kind and access mask it was opened with.
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// use clfs::{wide, LogFile, LogOptions};
/// let log = LogFile::create(wide!("log:C:\\logs\\doc-log"), LogOptions::new().create_if_missing())?;
/// let size = log.add_container(wide!("%BLF%\\c0"), 300 * 1024)?;
/// assert_eq!(size, 512 * 1024); // rounded up to 512 KiB
/// log.add_containers(&[wide!("%BLF%\\c1"), wide!("%BLF%\\c2")], size)?;
/// assert_eq!(log.info()?.containers, 3);
/// log.close()?;
/// # Ok::<(), clfs::Error>(())
/// ```
#[derive(Debug)]
pub struct LogFile {
    raw: NonNull<sys::FILE_OBJECT>,
    /// The kind from the name and the access mask from the options at [`LogFile::create`];
    /// `None` after [`LogFile::from_raw`]. One `Option` keeps `LogFile` at two words.
    origin: Option<(LogKind, Access)>,
}

// SAFETY: a log file object is a referenced kernel FILE_OBJECT with no thread affinity: any
// thread at IRQL <= APC_LEVEL may use and close it (no CLFS page ties it to its creating
// thread). The library's own state in `LogFile` (its kind and access mask) is immutable
// plain data.
unsafe impl Send for LogFile {}
// SAFETY: concurrent calls on one log file object are safe. No page documents this in so many
// words (docs/decisions.md, "`LogFile` is `Sync`"); it follows from what is documented:
// marshalling-context operations are thread-safe (reference §1.4, §4.2), and each of them works
// on the area's log file object from whatever thread calls it, so CLFS already synchronises its
// per-object state; the DDI calls out the one thread-unsafe CLFS object (read contexts, §0.1
// item 9) and says nothing of the kind for log file objects. `LogFile` adds only immutable
// plain data (kind, access mask).
unsafe impl Sync for LogFile {}

impl LogFile {
    /// `ClfsCreateLogFile`: creates or opens the log or stream named `name` (without `.blf`):
    ///
    /// | name | opens ([`LogFile::kind`]) |
    /// |---|---|
    /// | `log:<path>` | a dedicated log ([`LogKind::Dedicated`]) |
    /// | `log:<path>::<stream>` | a stream of a multiplexed log, creating the physical log if it is missing ([`LogKind::Stream`]) |
    /// | `log:<path>::` | the physical log of a multiplexed log ([`LogKind::Physical`]): containers, queries, scans; no marshalling area |
    ///
    /// Checked before the call: the name's `log:` prefix (any case), a non-empty path, and the
    /// stream-name rules of [`LogName`] ([`Error::InvalidLogName`], which names the rule and
    /// the offending character, position or length); then the option rules
    /// ([`Error::LogOptions`]). A dedicated log is never converted into a multiplexed one or
    /// back: Clfs.sys answers `STATUS_LOG_DEDICATED` for `log:<path>::<stream>` when `<path>`
    /// is a dedicated log, and `STATUS_LOG_MULTIPLEXED` for `log:<path>` when it is a
    /// multiplexed one. A success that returns a NULL log file object is
    /// [`Error::InconsistentOutput`].
    ///
    /// A log already open elsewhere opens again only if the share modes of both opens allow
    /// it: with the default [`LogOptions`] (share [`Share::READ`]) the second open fails with
    /// `STATUS_SHARING_VIOLATION` ([`LogOptions`], "Opening one log twice").
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::{wide, Error, LogFile, LogKind, LogNameError, LogOptions};
    /// let err = LogFile::create(wide!("log:C:\\logs\\mux::a|b"), LogOptions::new().create_if_missing()).unwrap_err();
    /// assert_eq!(err, Error::InvalidLogName(LogNameError::StreamNameChar { unit: u16::from(b'|'), position: 1 }));
    /// assert!(err.refused_before_call());
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn create(name: &[u16], options: LogOptions<'_>) -> Result<LogFile> {
        const ROUTINE: &str = "ClfsCreateLogFile";
        require_passive_or_apc(ROUTINE)?;
        // Every use of CLFS starts with a log: check the LSN constants against clfs.sys's
        // exported data here (two loads; decisions.md, issue 11 item 9).
        let (null, invalid) = sys::exported_lsn_constants();
        crate::lsn::check_exported(null, invalid)?;
        let us = unicode_string("log name", name)?;
        let kind = LogName::parse(name)?.kind();
        let name = us;
        options.validate()?;
        let (context, context_len) = options.raw_context();
        let security = options
            .security
            .map_or(core::ptr::null_mut(), |sd| sd.as_raw());
        let attributes = if options.archive {
            sys::FILE_ATTRIBUTE_ARCHIVE
        } else {
            sys::FILE_ATTRIBUTE_NORMAL
        };
        let mut raw: *mut sys::FILE_OBJECT = core::ptr::null_mut();
        // SAFETY: `raw` is a valid out pointer; `name` points into a slice that outlives the
        // call; the security descriptor is NULL or valid for the options' lifetime, which spans
        // the call (SecurityDescriptor contract); the context is NULL with size 0 or `context_len`
        // readable bytes valid for that lifetime (LogContext contract); the flags were validated.
        let status = unsafe {
            sys::ClfsCreateLogFile(
                &mut raw,
                &name,
                options.access.bits(),
                options.share.bits(),
                security,
                options.disposition.raw(),
                options.create_options.bits(),
                attributes,
                options.log_option_flags.bits(),
                context,
                context_len,
            )
        };
        let status = check(ROUTINE, status)?;
        let raw = NonNull::new(raw).ok_or(Error::InconsistentOutput {
            routine: ROUTINE,
            status,
            detail: crate::Inconsistency::Null {
                what: "log file object",
            },
        })?;
        // INVARIANT: ClfsCreateLogFile succeeded and returned this object, opened with this
        // name's kind and this access mask.
        Ok(LogFile {
            raw,
            origin: Some((kind, options.access)),
        })
    }

    /// What this object opened, from the name given to [`LogFile::create`]: a dedicated log,
    /// a stream of a multiplexed log, or a multiplexed log's physical log. `None` for an
    /// object taken over with [`LogFile::from_raw`], whose name `clfs` never saw; for those,
    /// [`LogFile::stream_id`] tells a stream (a non-zero id) from the other two.
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::{wide, LogFile, LogKind, LogOptions};
    /// let log = LogFile::create(wide!("log:C:\\logs\\doc-kind2"), LogOptions::new().create_if_missing())?;
    /// assert_eq!(log.kind(), Some(LogKind::Dedicated));
    /// // SAFETY: the object from `into_raw` is handed straight back.
    /// let log = unsafe { LogFile::from_raw(log.into_raw()) };
    /// assert_eq!(log.kind(), None);
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: any (nothing is called).
    pub const fn kind(&self) -> Option<LogKind> {
        match self.origin {
            Some((kind, _)) => Some(kind),
            None => None,
        }
    }

    /// The access mask this object was opened with ([`LogOptions::access`]); `None` for an
    /// object taken over with [`LogFile::from_raw`].
    ///
    /// IRQL: any (nothing is called).
    pub const fn access(&self) -> Option<Access> {
        match self.origin {
            Some((_, access)) => Some(access),
            None => None,
        }
    }

    /// `ClfsDeleteLogFile`: marks the log or stream named `name` for deletion. It is deleted
    /// once every log file object for it is closed; new opens are refused. Deleting a stream
    /// (`log:<path>::<stream>`) deletes that stream only, not the physical log or its other
    /// streams. The name is checked as in [`LogFile::create`] before the call
    /// ([`Error::InvalidLogName`]).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn delete_named(name: &[u16]) -> Result<()> {
        Self::delete_named_with(name, &LogOptions::new())
    }

    /// `ClfsDeleteLogFile` with the `fLogOptionFlag` and context of `options` (a filter deletes
    /// its log with the flags it created it with); the other options are not used. The flag
    /// rules of [`LogFile::create`] are checked first.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn delete_named_with(name: &[u16], options: &LogOptions<'_>) -> Result<()> {
        const ROUTINE: &str = "ClfsDeleteLogFile";
        require_passive_or_apc(ROUTINE)?;
        let us = unicode_string("log name", name)?;
        LogName::parse(name)?;
        let name = us;
        options.validate()?;
        let (context, context_len) = options.raw_context();
        // SAFETY: `name` is valid for the call; the reserved pointer is NULL; the context is
        // NULL with size 0 or `context_len` readable bytes valid during the call (LogContext
        // contract); the flags were validated.
        let status = unsafe {
            sys::ClfsDeleteLogFile(
                &name,
                core::ptr::null(),
                options.log_option_flags.bits(),
                context,
                context_len,
            )
        };
        check(ROUTINE, status).map(drop)
    }

    /// The raw `PLOG_FILE_OBJECT`, for routines this crate does not wrap. The object stays
    /// owned by this `LogFile`.
    ///
    /// IRQL: any.
    pub fn as_raw(&self) -> sys::PLOG_FILE_OBJECT {
        self.raw.as_ptr()
    }

    /// Takes ownership of a log file object that `ClfsCreateLogFile` returned, e.g. one a
    /// `wdk-sys` driver opened itself (`docs/wdk-sys.md` shows the casts). The `LogFile`
    /// closes it on drop, like one from [`LogFile::create`].
    ///
    /// `clfs` never saw the object's name or options, so [`LogFile::kind`] and
    /// [`LogFile::access`] are `None` and the checks that need them (a marshalling area on a
    /// physical log, [`LogFile::close_and_reset`] without write access) are left to Clfs.sys.
    ///
    /// IRQL: any (nothing is called).
    ///
    /// # Safety
    /// `raw` is an open log file object from `ClfsCreateLogFile` that nothing else closes:
    /// its ownership moves into the returned `LogFile`, which closes it exactly once.
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::{wide, LogFile, LogOptions};
    /// let log = LogFile::create(wide!("log:C:\\doc\\raw"), LogOptions::new().create_if_missing())?;
    /// let raw = log.into_raw(); // now the caller's to close
    /// // SAFETY: `raw` came from `into_raw` and is closed only by the new owner.
    /// let log = unsafe { LogFile::from_raw(raw) };
    /// log.close()?; // ClfsCloseLogFileObject, once
    /// # Ok::<(), clfs::Error>(())
    /// ```
    pub unsafe fn from_raw(raw: NonNull<sys::FILE_OBJECT>) -> LogFile {
        // INVARIANT: the caller hands over an open log file object it no longer closes; its
        // kind and access are unknown.
        LogFile { raw, origin: None }
    }

    /// Gives up ownership of the log file object without closing it: the caller must close
    /// it (`ClfsCloseLogFileObject`) or hand it back with [`LogFile::from_raw`].
    ///
    /// IRQL: any (nothing is called).
    #[must_use = "the log file object leaks unless it is closed or given back to LogFile::from_raw"]
    pub fn into_raw(self) -> NonNull<sys::FILE_OBJECT> {
        ManuallyDrop::new(self).raw
    }

    /// `ClfsCloseLogFileObject`, returning its status. Dropping the log does the same and
    /// ignores the status.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called. Refused, the
    /// object stays open and is closed by nothing: it leaks.
    pub fn close(self) -> Result<()> {
        let this = ManuallyDrop::new(self);
        this.close_raw()
    }

    /// `ClfsCloseAndResetLogFile`: closes this object and marks its stream for **reset**. When
    /// the stream's last log file object closes (this one, or the last of the others), the
    /// stream's base, restart area and archive tail move to the end of the log: it then reads
    /// as a stream that was never written. A reopen finds no records and no restart area
    /// (a read at an old LSN is refused with [`Error::LsnNotInLog`] before the call; Clfs.sys
    /// answers `STATUS_LOG_START_OF_LOG`), and its space is freed as for a moved base. LSNs are
    /// never reused: the stream's next record gets an LSN after every one it had. Other
    /// streams of a multiplexed log are not touched.
    ///
    /// Works on a dedicated log's stream ([`LogKind::Dedicated`]) and on a stream of a
    /// multiplexed log ([`LogKind::Stream`]). Refused before the call:
    ///
    /// | precondition | error |
    /// |---|---|
    /// | IRQL <= APC_LEVEL | [`Error::IrqlTooHigh`]; the object is not closed either: it leaks, as with [`close`](Self::close) |
    /// | not the physical log of a multiplexed log (`log:<path>::`) | [`Error::PhysicalLog`] (Clfs.sys: `STATUS_LOG_MULTIPLEXED`) |
    /// | opened with [`Access::WRITE`] | [`Error::NeedsWriteAccess`] (Clfs.sys: `STATUS_ACCESS_DENIED`) |
    ///
    /// Both checks need what [`LogFile::create`] saw; an object from [`LogFile::from_raw`]
    /// leaves them to Clfs.sys. Whatever the outcome, the object is closed when this returns
    /// (except above APC_LEVEL): after a refusal, or a failure status from Clfs.sys, which
    /// leaves the object open (`docs/decisions.md`), it is closed with
    /// `ClfsCloseLogFileObject`, and the stream is **not** reset; the error is the refusal or
    /// the failure.
    ///
    /// The DDI limits resets: "You can call ClfsCloseAndResetLogFile at most 124 times for a
    /// given stream" (`MAX_CLIENTS_DEFAULT`; what happens past it is undocumented). The
    /// count is per stream over the stream's lifetime, which no log file object can see, so
    /// `clfs` does not count: a driver that resets a stream often keeps the count itself
    /// (or deletes and recreates the stream instead).
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::{wide, ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig, ReadMode};
    /// let name = wide!("log:C:\\logs\\doc-reset::scratch");
    /// let log = LogFile::create(name, LogOptions::new().create_if_missing())?;
    /// log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 1024 * 1024)?;
    /// let first = {
    ///     let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
    ///     let lsn = area.append(&[b"scratch data"])?;
    ///     area.flush()?;
    ///     lsn
    /// };
    /// log.close_and_reset()?; // the last object of the stream: reset now
    ///
    /// let log = LogFile::create(name, LogOptions::new())?;
    /// let info = log.info()?;
    /// assert!(info.base > first, "the base moved past every old record");
    /// assert_eq!(info.restart, None);
    /// let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
    /// let gone = area.read(first, ReadMode::Forward).unwrap_err();
    /// assert!(matches!(gone, clfs::Error::LsnNotInLog { .. }), "the old record is gone");
    /// assert!(area.append(&[b"fresh"])? > first, "no LSN is reused");
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn close_and_reset(self) -> Result<()> {
        const ROUTINE: &str = "ClfsCloseAndResetLogFile";
        let this = ManuallyDrop::new(self);
        require_passive_or_apc(ROUTINE)?;
        let refusal = if this.kind() == Some(LogKind::Physical) {
            Some(Error::PhysicalLog { routine: ROUTINE })
        } else {
            match this.access() {
                Some(granted) if !granted.contains(Access::WRITE) => {
                    Some(Error::NeedsWriteAccess {
                        routine: ROUTINE,
                        granted: granted.bits(),
                    })
                }
                _ => None,
            }
        };
        if let Some(refusal) = refusal {
            // The status of the plain close is lost: the refusal is what the caller asked about.
            let _ = this.close_raw();
            return Err(refusal);
        }
        // SAFETY: by the type invariant the object is open; `this` is never used or dropped
        // again after a success, which closed it (the DDI: "plfoLog is invalid on return").
        let status = unsafe { sys::ClfsCloseAndResetLogFile(this.raw.as_ptr()) };
        match check(ROUTINE, status) {
            Ok(_) => Ok(()),
            Err(failure) => {
                // A failed reset leaves the object open (docs/decisions.md): close it, once.
                let _ = this.close_raw();
                Err(failure)
            }
        }
    }

    /// `ClfsDeleteLogByPointer` then `ClfsCloseLogFileObject`: marks the log for deletion and
    /// closes this object. The log goes once every other object for it is closed. On a stream
    /// of a multiplexed log ([`LogKind::Stream`]) only that stream goes; the physical log and
    /// its other streams stay. On the physical log (`log:<path>::`) the whole log goes.
    ///
    /// The object must have been opened with [`Access::DELETE`], which the default
    /// [`LogOptions`] do not ask for: without it the mark fails with `STATUS_ACCESS_DENIED`
    /// (NT file semantics, as the emulator applies them; `docs/emulator.md`), and the object
    /// is closed all the same. [`LogFile::delete_named`] needs no open object.
    ///
    /// ```
    /// use clfs::{wide, Access, LogFile, LogOptions};
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// let name = wide!("log:C:\\logs\\doc-delete");
    /// let opts = LogOptions::new().create_if_missing().access(Access::READ | Access::WRITE | Access::DELETE);
    /// LogFile::create(name, opts)?.delete()?;
    /// assert!(LogFile::create(name, LogOptions::new()).is_err()); // gone
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn delete(self) -> Result<()> {
        const ROUTINE: &str = "ClfsDeleteLogByPointer";
        require_passive_or_apc(ROUTINE)?;
        // SAFETY: by the type invariant the object is open.
        let status = unsafe { sys::ClfsDeleteLogByPointer(self.raw.as_ptr()) };
        let marked = check(ROUTINE, status);
        let closed = self.close();
        marked.and(closed)
    }

    fn close_raw(&self) -> Result<()> {
        const ROUTINE: &str = "ClfsCloseLogFileObject";
        // A close above APC_LEVEL would bugcheck; refusing leaks the object, which is the
        // lesser harm and is reported.
        require_passive_or_apc(ROUTINE)?;
        // SAFETY: by the type invariant the object is open, and this is its only close: both
        // callers consume `self` (close through ManuallyDrop, drop once).
        let status = unsafe { sys::ClfsCloseLogFileObject(self.raw.as_ptr()) };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsAddLogContainer`: adds a container at `path` (absolute, or relative to the base
    /// log file with the `%BLF%\` prefix). The first container sets the log's container size
    /// (`size` rounded up to a multiple of 512 KiB, or of 1 MiB for a multiplexed log); later
    /// ones get that size whatever `size` says, as long as it rounds up to at least the
    /// existing size. Returns the container's actual size. A smaller `size` (0 included) after
    /// the first container is refused by Clfs.sys (`STATUS_INVALID_PARAMETER`): pass the size
    /// the first call returned, or use
    /// [`add_container_of_existing_size`](Self::add_container_of_existing_size).
    ///
    /// A small first `size` is not an error: the kernel DDI rounds it up (so `1` gives a
    /// 512 KiB container) and documents no minimum of its own; the 512 KiB / 1 MiB minimums
    /// some pages state are the user-mode `AddLogContainer`'s (docs/decisions.md). A first
    /// `size` of 0 rounds to no container at all; what Clfs.sys answers to it is undocumented
    /// (the emulator: `STATUS_INVALID_PARAMETER`).
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::{wide, LogFile, LogOptions};
    /// let log = LogFile::create(wide!("log:C:\\doc\\round"), LogOptions::new().create_if_missing())?;
    /// assert_eq!(log.add_container(wide!("%BLF%\\c0"), 1)?, 512 * 1024); // rounded up
    /// assert_eq!(log.add_container(wide!("%BLF%\\c1"), 4096)?, 512 * 1024); // the log's size
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn add_container(&self, path: &[u16], size: u64) -> Result<u64> {
        const ROUTINE: &str = "ClfsAddLogContainer";
        require_passive_or_apc(ROUTINE)?;
        let path = unicode_string("container path", path)?;
        let mut size = size;
        // CLFS writes the actual size back through this `*const` parameter (reference §0.1
        // item 7), so the pointer must come from a mutable place, not a shared reborrow.
        let size_ptr = core::ptr::addr_of_mut!(size).cast_const();
        // SAFETY: the object is open (type invariant); `size_ptr` points to a writable u64 that
        // CLFS may update; `path` is valid for the call.
        let status = unsafe { sys::ClfsAddLogContainer(self.raw.as_ptr(), size_ptr, &path) };
        check(ROUTINE, status)?;
        Ok(size)
    }

    /// `ClfsAddLogContainer` with a NULL size: adds a container of the log's existing size.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn add_container_of_existing_size(&self, path: &[u16]) -> Result<()> {
        const ROUTINE: &str = "ClfsAddLogContainer";
        require_passive_or_apc(ROUTINE)?;
        let path = unicode_string("container path", path)?;
        // SAFETY: the object is open; a NULL size pointer asks for the existing size.
        let status =
            unsafe { sys::ClfsAddLogContainer(self.raw.as_ptr(), core::ptr::null(), &path) };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsAddLogContainerSet`: adds the containers at `paths` atomically, in one call: all
    /// of them or none. Returns their actual size. IRQL: PASSIVE_LEVEL or APC_LEVEL.
    ///
    /// `paths` may be built at run time. A set holds 1 to [`MAX_CONTAINERS_PER_SET`] paths;
    /// more are refused with [`Error::TooManyContainers`], an empty set with
    /// [`Error::NoContainers`], both before anything is allocated or called. The
    /// `UNICODE_STRING` array CLFS reads lives on the stack for up to
    /// [`STACK_CONTAINER_SET`] paths and in paged pool (tag [`CONTAINER_SET_TAG`], freed before
    /// the call returns) for larger sets, so this call's stack frame stays small whatever the
    /// set size; a failed pool allocation is [`Error::PoolExhausted`].
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// # use clfs::{wide, LogFile, LogOptions};
    /// # let log = LogFile::create(wide!("log:C:\\doc\\set"), LogOptions::new().create_if_missing())?;
    /// // Names built at run time: a Vec of UTF-16 paths, lent as slices.
    /// let names: Vec<Vec<u16>> = (0..3).map(|i| format!("%BLF%\\c{i}").encode_utf16().collect()).collect();
    /// let paths: Vec<&[u16]> = names.iter().map(Vec::as_slice).collect();
    /// assert_eq!(log.add_containers(&paths, 512 * 1024)?, 512 * 1024);
    /// assert_eq!(log.info()?.containers, 3);
    /// # Ok::<(), clfs::Error>(())
    /// ```
    pub fn add_containers(&self, paths: &[&[u16]], size: u64) -> Result<u64> {
        const ROUTINE: &str = "ClfsAddLogContainerSet";
        require_passive_or_apc(ROUTINE)?;
        let mut size = size;
        // In/out through a `*const` parameter: derive the pointer from a mutable place.
        let size_ptr = core::ptr::addr_of_mut!(size).cast_const();
        let log = self.raw.as_ptr();
        let status = with_container_set(paths, |strings, count| {
            // SAFETY: the object is open (type invariant); `strings` points to `count` valid
            // UNICODE_STRINGs over slices that outlive the call (with_container_set's
            // contract); `size_ptr` points to a writable u64.
            unsafe { sys::ClfsAddLogContainerSet(log, count, size_ptr, strings) }
        })?;
        check(ROUTINE, status)?;
        Ok(size)
    }

    /// `ClfsRemoveLogContainer`. With `force`, the removal succeeds only if the container is
    /// not part of the active log; without it, the container is removed once it leaves the
    /// active log.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn remove_container(&self, path: &[u16], force: bool) -> Result<()> {
        const ROUTINE: &str = "ClfsRemoveLogContainer";
        require_passive_or_apc(ROUTINE)?;
        let path = unicode_string("container path", path)?;
        // SAFETY: the object is open; `path` is valid for the call.
        let status = unsafe { sys::ClfsRemoveLogContainer(self.raw.as_ptr(), &path, force) };
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsRemoveLogContainerSet`: removes the containers at `paths` atomically, in one call.
    /// `force` as in [`remove_container`](Self::remove_container). IRQL: PASSIVE_LEVEL or
    /// APC_LEVEL.
    ///
    /// The set rules, errors and memory are those of [`add_containers`](Self::add_containers).
    pub fn remove_containers(&self, paths: &[&[u16]], force: bool) -> Result<()> {
        const ROUTINE: &str = "ClfsRemoveLogContainerSet";
        require_passive_or_apc(ROUTINE)?;
        let log = self.raw.as_ptr();
        let status = with_container_set(paths, |strings, count| {
            // SAFETY: the object is open; `strings` points to `count` valid UNICODE_STRINGs
            // over slices that outlive the call (with_container_set's contract).
            unsafe { sys::ClfsRemoveLogContainerSet(log, count, strings, force) }
        })?;
        check(ROUTINE, status).map(drop)
    }

    /// `ClfsQueryLogFileInformation` with `ClfsLogBasicInformation`: a typed view of
    /// `CLFS_INFORMATION` for this stream.
    ///
    /// The length Clfs.sys reports must be the structure's: more is
    /// [`Error::LengthOutOfRange`], less is [`Error::InconsistentOutput`] (the fields past it
    /// were not written).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn info(&self) -> Result<LogInfo> {
        const ROUTINE: &str = "ClfsQueryLogFileInformation";
        require_passive_or_apc(ROUTINE)?;
        // SAFETY: CLFS_INFORMATION is plain data; all-zero is a valid value.
        let mut raw: sys::CLFS_INFORMATION = unsafe { core::mem::zeroed() };
        let mut len = size_of::<sys::CLFS_INFORMATION>() as u32;
        // SAFETY: the object is open; `raw` is a writable buffer of `len` bytes; no input buffer.
        let status = unsafe {
            sys::ClfsQueryLogFileInformation(
                self.raw.as_ptr(),
                sys::ClfsLogBasicInformation,
                core::ptr::null(),
                0,
                (&mut raw as *mut sys::CLFS_INFORMATION).cast::<c_void>(),
                &mut len,
            )
        };
        let status = check(ROUTINE, status)?;
        let size = size_of::<sys::CLFS_INFORMATION>() as u32;
        if len > size {
            return Err(Error::LengthOutOfRange {
                routine: ROUTINE,
                what: "CLFS_INFORMATION",
                len: u64::from(len),
                limit: u64::from(size),
            });
        }
        if len < size {
            // The fields past `len` were not written: they would read as zero (no
            // containers, LSN 0:0x0:0), which every caller of `info` would trust.
            return Err(Error::InconsistentOutput {
                routine: ROUTINE,
                status,
                detail: crate::Inconsistency::ShortLength {
                    what: "CLFS_INFORMATION",
                    len: u64::from(len),
                    min: u64::from(size),
                },
            });
        }
        Ok(LogInfo::from_raw(&raw))
    }
}

/// IRQL: PASSIVE_LEVEL or APC_LEVEL. Dropped above APC_LEVEL, the log file object leaks instead of
/// bugchecking: `ClfsCloseLogFileObject` is not called there. [`LogFile::close`] reports that
/// refusal.
impl Drop for LogFile {
    fn drop(&mut self) {
        // The status is lost here; call `close()` to see it.
        let _ = self.close_raw();
    }
}

/// Container sets of up to this many paths pass their `UNICODE_STRING` array from the stack
/// (16 bytes each on x64, so 128 bytes); larger ones from pool.
pub const STACK_CONTAINER_SET: usize = 8;

/// The pool tag of the `UNICODE_STRING` arrays of container sets larger than
/// [`STACK_CONTAINER_SET`] (`"ClSt"`, as poolmon shows it). Paged pool, freed before the
/// call returns.
pub const CONTAINER_SET_TAG: u32 = crate::pool::pool_tag(*b"ClSt");

const EMPTY_STRING: sys::UNICODE_STRING = sys::UNICODE_STRING {
    Length: 0,
    MaximumLength: 0,
    Buffer: core::ptr::null_mut(),
};

/// Checks a container set, lays its `UNICODE_STRING`s out in one array and runs `call` with the
/// array and its length; returns what `call` returned.
///
/// The count is checked first (1 to [`MAX_CONTAINERS_PER_SET`]), then every path, before any
/// allocation; `call` then gets a pointer valid for the call to `count` `UNICODE_STRING`s
/// over `paths` (which outlive it). Sets larger than [`STACK_CONTAINER_SET`] use a paged-pool
/// array, freed when `call` returns: this function's frame holds at most the small array.
#[inline]
fn with_container_set(
    paths: &[&[u16]],
    call: impl FnOnce(*const sys::UNICODE_STRING, u16) -> sys::NTSTATUS,
) -> Result<sys::NTSTATUS> {
    let count = paths.len();
    if count > MAX_CONTAINERS_PER_SET {
        return Err(Error::TooManyContainers {
            count,
            max: MAX_CONTAINERS_PER_SET,
        });
    }
    let Ok(count16 @ 1..) = u16::try_from(count) else {
        return Err(Error::NoContainers);
    };
    for path in paths {
        unicode_string("container path", path)?;
    }
    if count <= STACK_CONTAINER_SET {
        let mut strings = [EMPTY_STRING; STACK_CONTAINER_SET];
        fill(&mut strings, paths)?;
        Ok(call(strings.as_ptr(), count16))
    } else {
        let mut strings = PoolStrings::new(count)?;
        fill(strings.as_mut_slice(), paths)?;
        Ok(call(strings.as_ptr(), count16))
    }
}

/// Writes the `UNICODE_STRING` of each path into the slots (the paths are checked already).
fn fill(slots: &mut [sys::UNICODE_STRING], paths: &[&[u16]]) -> Result<()> {
    for (slot, path) in slots.iter_mut().zip(paths) {
        *slot = unicode_string("container path", path)?;
    }
    Ok(())
}

/// A paged-pool array of `UNICODE_STRING`s, freed on drop.
///
/// # Invariants
/// `ptr` is an `ExAllocatePool2` allocation with tag [`CONTAINER_SET_TAG`] of `len` zeroed or
/// written `UNICODE_STRING`s, owned by this value.
struct PoolStrings {
    ptr: NonNull<sys::UNICODE_STRING>,
    len: usize,
}

impl PoolStrings {
    fn new(len: usize) -> Result<PoolStrings> {
        // At most 1024 × 16 bytes: no overflow (the caller checked the count).
        let bytes = len * size_of::<sys::UNICODE_STRING>();
        // SAFETY: one pool type flag, a non-zero tag, a non-zero size; the caller runs at
        // IRQL <= APC_LEVEL (checked by every public entry point), where paged pool may be
        // allocated.
        let raw = unsafe { sys::ExAllocatePool2(sys::POOL_FLAG_PAGED, bytes, CONTAINER_SET_TAG) };
        let ptr = NonNull::new(raw.cast::<sys::UNICODE_STRING>()).ok_or(Error::PoolExhausted {
            what: "the container set's UNICODE_STRING array",
            bytes,
        })?;
        // SAFETY: `ptr` is a fresh allocation of `bytes` bytes, 16-byte aligned (ExAllocatePool2
        // on x64; at least the 8 that UNICODE_STRING needs); all-zero bytes are a valid
        // UNICODE_STRING, so the array is initialised before a slice is formed over it.
        unsafe { ptr.as_ptr().write_bytes(0, len) };
        // INVARIANT: a zeroed array of `len` strings, owned here.
        Ok(PoolStrings { ptr, len })
    }

    fn as_mut_slice(&mut self) -> &mut [sys::UNICODE_STRING] {
        // SAFETY: by the invariant, `len` initialised strings owned by `self`, borrowed
        // mutably for the slice's lifetime.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    fn as_ptr(&self) -> *const sys::UNICODE_STRING {
        self.ptr.as_ptr()
    }
}

impl Drop for PoolStrings {
    fn drop(&mut self) {
        // SAFETY: by the invariant the allocation came from ExAllocatePool2 with this tag and
        // is freed exactly once, here; IRQL <= APC_LEVEL as for the allocation.
        unsafe { sys::ExFreePoolWithTag(self.ptr.as_ptr().cast(), CONTAINER_SET_TAG) }
    }
}

/// A typed view of `CLFS_INFORMATION` (reference §2.4).
///
/// The LSN fields (`min_archive_tail`, `base`, `last_flushed`, `last`, `restart`) are the
/// stream's (from [`LogFile::info`]; the physical log's from [`LogFile::physical_info`]):
/// compare them only with LSNs of the same stream
/// ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LogInfo {
    /// Sum of all container sizes, in bytes.
    pub total_available: i64,
    /// Space free for new records and reservations, in bytes.
    pub current_available: i64,
    /// Space reserved (for undo records), in bytes.
    pub total_reservation: i64,
    /// Size of the base log file (`.blf`).
    pub base_file_size: u64,
    /// The uniform container size.
    pub container_size: u64,
    /// `TotalContainers`.
    pub containers: u32,
    /// Containers not in the active log.
    pub free_containers: u32,
    /// Streams sharing the physical log.
    pub clients: u32,
    /// Log file attributes.
    pub attributes: u32,
    /// Bytes allowed to wait on the flush queue before CLFS writes them.
    pub flush_threshold: u32,
    /// The containers' sector size.
    pub sector_size: u32,
    /// The archive tail.
    pub min_archive_tail: Lsn,
    /// The oldest record still needed.
    pub base: Lsn,
    /// The last flushed LSN. An empty log reports [`Lsn::NULL`] here, which is also the LSN
    /// of a log's first record: read the log to tell the two apart.
    pub last_flushed: Lsn,
    /// The youngest record ([`Lsn::NULL`] on an empty log, as for a log whose only record is
    /// the first one).
    pub last: Lsn,
    /// The last restart record, `None` if the stream has none (`CLFS_LSN_INVALID`).
    pub restart: Option<Lsn>,
    /// The log's GUID, as its 16 bytes in memory order.
    pub identity: [u8; 16],
}

impl LogInfo {
    pub(crate) fn from_raw(raw: &sys::CLFS_INFORMATION) -> LogInfo {
        let g = raw.Identity;
        let mut identity = [0u8; 16];
        identity[0..4].copy_from_slice(&g.data1.to_le_bytes());
        identity[4..6].copy_from_slice(&g.data2.to_le_bytes());
        identity[6..8].copy_from_slice(&g.data3.to_le_bytes());
        identity[8..16].copy_from_slice(&g.data4);
        LogInfo {
            total_available: raw.TotalAvailable,
            current_available: raw.CurrentAvailable,
            total_reservation: raw.TotalReservation,
            base_file_size: raw.BaseFileSize,
            container_size: raw.ContainerSize,
            containers: raw.TotalContainers,
            free_containers: raw.FreeContainers,
            clients: raw.TotalClients,
            attributes: raw.Attributes,
            flush_threshold: raw.FlushThreshold,
            sector_size: raw.SectorSize,
            min_archive_tail: Lsn::from_sys(raw.MinArchiveTailLsn),
            base: Lsn::from_sys(raw.BaseLsn),
            last_flushed: Lsn::from_sys(raw.LastFlushedLsn),
            last: Lsn::from_sys(raw.LastLsn),
            restart: Lsn::from_sys(raw.RestartLsn).valid(),
            identity,
        }
    }
}
