//! Log file objects and their containers (reference §1.1–1.3).

use core::ffi::c_void;
use core::mem::{size_of, ManuallyDrop};
use core::ptr::NonNull;

use bitflags::bitflags;

use crate::error::{check, Error, Result};
use crate::irql::require_passive_or_apc;
use crate::lsn::Lsn;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOptions {
    access: Access,
    share: Share,
    disposition: Disposition,
    archive: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl LogOptions {
    /// Read and write access, shared for reading, open an existing log.
    pub const fn new() -> Self {
        LogOptions {
            access: Access::READ.union(Access::WRITE),
            share: Share::READ,
            disposition: Disposition::Open,
            archive: false,
        }
    }

    /// Sets the access mask.
    pub const fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Sets the share mode.
    pub const fn share(mut self, share: Share) -> Self {
        self.share = share;
        self
    }

    /// Sets the disposition.
    pub const fn disposition(mut self, disposition: Disposition) -> Self {
        self.disposition = disposition;
        self
    }

    /// Opens the log, creating it if it does not exist (`FILE_OPEN_IF`).
    pub const fn create_if_missing(self) -> Self {
        self.disposition(Disposition::OpenOrCreate)
    }

    /// Creates a new log and fails if it exists (`FILE_CREATE`).
    pub const fn create_new(self) -> Self {
        self.disposition(Disposition::Create)
    }

    /// Creates the log non-ephemeral (`FILE_ATTRIBUTE_ARCHIVE`), so that an archive tail can
    /// pin its records (reference §4.7).
    pub const fn archive(mut self, archive: bool) -> Self {
        self.archive = archive;
        self
    }

    /// The access mask these options request.
    pub const fn access_mask(&self) -> Access {
        self.access
    }
}

/// The most containers one `ClfsAddLogContainerSet` / `ClfsRemoveLogContainerSet` call takes
/// here: a log holds at most 1024 (reference §2.13). Larger sets are refused before anything is
/// allocated or called ([`Error::TooManyContainers`]).
pub const MAX_CONTAINERS_PER_SET: usize = 1024;

/// An open CLFS log file object: one open instance of a dedicated log's stream.
///
/// Created by [`LogFile::create`] (`ClfsCreateLogFile`); closed on drop
/// (`ClfsCloseLogFileObject`) or by [`LogFile::close`], which returns the status.
///
/// # Invariants
/// `raw` is a log file object that `ClfsCreateLogFile` returned and that has not been closed.
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
}

// SAFETY: a log file object is a referenced kernel FILE_OBJECT with no thread affinity: any
// thread at IRQL <= APC_LEVEL may use and close it (no CLFS page ties it to its creating
// thread). The library keeps no state of its own in `LogFile`.
unsafe impl Send for LogFile {}
// SAFETY: concurrent calls on one log file object are safe. No page documents this in so many
// words (docs/decisions.md, "`LogFile` is `Sync`"); it follows from what is documented:
// marshalling-context operations are thread-safe (reference §1.4, §4.2), and each of them works
// on the area's log file object from whatever thread calls it, so CLFS already synchronises its
// per-object state; the DDI calls out the one thread-unsafe CLFS object (read contexts, §0.1
// item 9) and says nothing of the kind for log file objects. `LogFile` adds no state.
unsafe impl Sync for LogFile {}

impl LogFile {
    /// `ClfsCreateLogFile`: creates or opens the dedicated log named `name`
    /// (`log:<physical log path>`, without `.blf`).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn create(name: &[u16], options: LogOptions) -> Result<LogFile> {
        const ROUTINE: &str = "ClfsCreateLogFile";
        require_passive_or_apc(ROUTINE)?;
        let name = unicode_string("log name", name)?;
        let attributes = if options.archive {
            sys::FILE_ATTRIBUTE_ARCHIVE
        } else {
            sys::FILE_ATTRIBUTE_NORMAL
        };
        let mut raw: *mut sys::FILE_OBJECT = core::ptr::null_mut();
        // SAFETY: `raw` is a valid out pointer; `name` points into a slice that outlives the
        // call; the security descriptor and context are NULL with a zero context size.
        let status = unsafe {
            sys::ClfsCreateLogFile(
                &mut raw,
                &name,
                options.access.bits(),
                options.share.bits(),
                core::ptr::null_mut(),
                options.disposition.raw(),
                0,
                attributes,
                sys::CLFS_FLAG_NO_FLAGS,
                core::ptr::null(),
                0,
            )
        };
        check(ROUTINE, status)?;
        let raw = NonNull::new(raw).ok_or(Error::Status {
            routine: ROUTINE,
            status: crate::NtStatus::UNSUCCESSFUL,
        })?;
        // INVARIANT: ClfsCreateLogFile succeeded and returned this object.
        Ok(LogFile { raw })
    }

    /// `ClfsDeleteLogFile`: marks the log named `name` for deletion. It is deleted once every
    /// log file object for it is closed; new opens are refused.
    pub fn delete_named(name: &[u16]) -> Result<()> {
        const ROUTINE: &str = "ClfsDeleteLogFile";
        require_passive_or_apc(ROUTINE)?;
        let name = unicode_string("log name", name)?;
        // SAFETY: `name` is valid for the call; reserved and context pointers are NULL.
        let status = unsafe {
            sys::ClfsDeleteLogFile(
                &name,
                core::ptr::null(),
                sys::CLFS_FLAG_NO_FLAGS,
                core::ptr::null(),
                0,
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
        // INVARIANT: the caller hands over an open log file object it no longer closes.
        LogFile { raw }
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
    pub fn close(self) -> Result<()> {
        let this = ManuallyDrop::new(self);
        this.close_raw()
    }

    /// `ClfsDeleteLogByPointer` then `ClfsCloseLogFileObject`: marks the log for deletion and
    /// closes this object. The log goes once every other object for it is closed.
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
    /// (`size` rounded up to 512 KiB); later ones get that size whatever `size` says, as long
    /// as it rounds up to at least the existing size. Returns the container's actual size.
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
        check(ROUTINE, status)?;
        Ok(LogInfo::from_raw(&raw))
    }
}

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    fn from_raw(raw: &sys::CLFS_INFORMATION) -> LogInfo {
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
