//! Marshalling areas (reference §1.4, §4.2).

use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::AtomicBool;

use crate::error::{check, BufferKind, Error, Result};
use crate::irql::require_passive_or_apc;
use crate::log::LogFile;
use crate::pool::{Blocks, ClfsAllocator, PoolType};
use crate::sys;

bitflags::bitflags! {
    /// `fFlags` of `ClfsCreateMarshallingAreaEx` (reference §1.4, §2.1).
    ///
    /// IRQL: any level (plain data).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct MarshallingFlags: u64 {
        /// `CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT`: CLFS does not initialise the
        /// marshalling buffers.
        const DISABLE_BUFF_INIT = sys::CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT as u64;
    }
}

/// A limit on a marshalling area's write or read buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferLimit {
    /// At most this many buffers at once. Zero is refused by
    /// [`MarshallingArea::create`].
    AtMost(u32),
    /// No limit (`INFINITE`).
    Unlimited,
}

impl BufferLimit {
    const fn raw(self) -> u32 {
        match self {
            BufferLimit::AtMost(n) => n,
            BufferLimit::Unlimited => sys::INFINITE,
        }
    }
}

/// The shape of a marshalling area: block size, pool and buffer limits.
///
/// ```
/// use clfs::{BufferLimit, MarshallingConfig, PoolType};
/// let config = MarshallingConfig::new(64 * 1024)
///     .pool(PoolType::NonPagedPoolNx)
///     .max_write_buffers(8)
///     .max_read_buffers(4);
/// assert_eq!(config.buffer_size(), 65536);
/// assert_eq!(config.write_limit(), BufferLimit::AtMost(8));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarshallingConfig {
    buffer_size: u32,
    pool: PoolType,
    max_write: BufferLimit,
    max_read: BufferLimit,
}

impl MarshallingConfig {
    /// The write-buffer limit of [`MarshallingConfig::new`]: at most this many write blocks at
    /// once (`cMaxWriteBuffers`), the default of Microsoft's own managed wrapper over CLFS
    /// (reference §6).
    pub const DEFAULT_MAX_WRITE_BUFFERS: u32 = 10;

    /// Log I/O blocks of `buffer_size` bytes (`cbMarshallingBuffer`), which must be a non-zero
    /// multiple of the log's sector size; non-paged NX pool; at most
    /// [`DEFAULT_MAX_WRITE_BUFFERS`](Self::DEFAULT_MAX_WRITE_BUFFERS) (10) write blocks at once;
    /// unlimited read blocks.
    ///
    /// Pool use is bounded by default: the write blocks take at most
    /// `10 * buffer_size` bytes, and with the limit reached CLFS writes blocks to stable storage
    /// to free one ("with fewer buffers, log records must be written to stable storage more
    /// often", reference §4.2). Each open read context holds at least one read block, so the read blocks grow
    /// only with the read contexts the driver keeps open; bound them with
    /// [`max_read_buffers`](Self::max_read_buffers) (a read context past the limit then fails
    /// with `STATUS_LOG_BLOCKS_EXHAUSTED`).
    /// [`unlimited_write_buffers`](Self::unlimited_write_buffers) asks for the DDI's `INFINITE`
    /// (no limit: the amount of non-paged pool is then up to CLFS's flush policy).
    ///
    /// ```
    /// use clfs::{BufferLimit, MarshallingConfig};
    /// let config = MarshallingConfig::new(64 * 1024);
    /// assert_eq!(config.write_limit(), BufferLimit::AtMost(10));
    /// assert_eq!(config.read_limit(), BufferLimit::Unlimited);
    /// // At most 4 * 64 KiB of write blocks and 2 * 64 KiB of read blocks:
    /// let bounded = config.max_write_buffers(4).max_read_buffers(2);
    /// assert_eq!(bounded.read_limit(), BufferLimit::AtMost(2));
    /// ```
    ///
    /// IRQL: any.
    pub const fn new(buffer_size: u32) -> Self {
        MarshallingConfig {
            buffer_size,
            pool: PoolType::NonPagedPoolNx,
            max_write: BufferLimit::AtMost(Self::DEFAULT_MAX_WRITE_BUFFERS),
            max_read: BufferLimit::Unlimited,
        }
    }

    /// The pool the blocks come from.
    ///
    /// IRQL: any.
    pub const fn pool(mut self, pool: PoolType) -> Self {
        self.pool = pool;
        self
    }

    /// At most `n` write blocks at once (`cMaxWriteBuffers`). Fewer buffers mean more
    /// frequent flushes. Must be at least 1.
    ///
    /// IRQL: any.
    pub const fn max_write_buffers(mut self, n: u32) -> Self {
        self.max_write = BufferLimit::AtMost(n);
        self
    }

    /// At most `n` read blocks at once (`cMaxReadBuffers`); each open read context uses one.
    /// Must be at least 1.
    ///
    /// IRQL: any.
    pub const fn max_read_buffers(mut self, n: u32) -> Self {
        self.max_read = BufferLimit::AtMost(n);
        self
    }

    /// No limit on write blocks (`INFINITE`): the DDI's "if you don't need that control". The
    /// non-paged pool the blocks take is then bounded only by CLFS's flush policy, not by the
    /// driver; prefer [`max_write_buffers`](Self::max_write_buffers).
    ///
    /// IRQL: any.
    pub const fn unlimited_write_buffers(mut self) -> Self {
        self.max_write = BufferLimit::Unlimited;
        self
    }

    /// No limit on read blocks (`INFINITE`).
    ///
    /// IRQL: any.
    pub const fn unlimited_read_buffers(mut self) -> Self {
        self.max_read = BufferLimit::Unlimited;
        self
    }

    /// The block size.
    ///
    /// IRQL: any.
    pub const fn buffer_size(&self) -> u32 {
        self.buffer_size
    }

    /// The pool type.
    ///
    /// IRQL: any.
    pub const fn pool_type(&self) -> PoolType {
        self.pool
    }

    /// The write-buffer limit.
    ///
    /// IRQL: any.
    pub const fn write_limit(&self) -> BufferLimit {
        self.max_write
    }

    /// The read-buffer limit.
    ///
    /// IRQL: any.
    pub const fn read_limit(&self) -> BufferLimit {
        self.max_read
    }

    /// The checks that need no log: non-zero size and limits.
    fn validate(&self) -> Result<()> {
        if self.buffer_size == 0 {
            return Err(Error::ZeroBufferSize);
        }
        if self.max_write == BufferLimit::AtMost(0) {
            return Err(Error::ZeroBufferCount {
                which: BufferKind::Write,
            });
        }
        if self.max_read == BufferLimit::AtMost(0) {
            return Err(Error::ZeroBufferCount {
                which: BufferKind::Read,
            });
        }
        Ok(())
    }
}

/// A marshalling area: the in-memory log I/O blocks through which records are appended to and
/// read from one log.
///
/// `B` says where the blocks come from: [`ClfsAllocator`] (CLFS's own, the default) or a
/// [`BlockAllocator`](crate::BlockAllocator) such as [`TaggedPool`](crate::TaggedPool). The
/// area borrows its log, so it cannot outlive it; it is deleted on drop
/// (`ClfsDeleteMarshallingArea`, which flushes) or by [`MarshallingArea::delete`], which
/// returns the flush status.
///
/// The default `B` applies to a type written out, not to a call: `MarshallingArea::create(..)`
/// alone does not compile ("type annotations needed ... cannot satisfy `_: Blocks`"). Name the
/// allocator in the call or in the binding's type:
///
/// ```
/// # use clfs::{wide, ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig};
/// # let _sandbox = clfs_emu::Sandbox::new();
/// # let log = LogFile::create(wide!("log:C:\\logs\\doc-area-default"), LogOptions::new().create_if_missing())?;
/// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
/// let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
/// drop(area);
/// let area: MarshallingArea = MarshallingArea::create(&log, MarshallingConfig::new(4096))?;
/// # drop(area);
/// # Ok::<(), clfs::Error>(())
/// ```
///
/// # Invariants
/// `raw` is a marshalling context that `ClfsCreateMarshallingArea` returned for `log` and that
/// has not been deleted.
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// use clfs::{pool_tag, wide, LogFile, LogOptions, MarshallingArea, MarshallingConfig, PoolType, TaggedPool};
///
/// type MyBlocks = TaggedPool<{ pool_tag(*b"MyLg") }>;
///
/// let log = LogFile::create(wide!("log:C:\\logs\\doc-area"), LogOptions::new().create_if_missing())?;
/// log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
/// let area = MarshallingArea::<MyBlocks>::create(
///     &log,
///     MarshallingConfig::new(64 * 1024).pool(PoolType::NonPagedPoolNx).max_write_buffers(8).max_read_buffers(4),
/// )?;
/// area.delete()?; // flushes; dropping it does the same
/// log.close()?;
/// # Ok::<(), clfs::Error>(())
/// ```
pub struct MarshallingArea<'log, B: Blocks = ClfsAllocator> {
    raw: NonNull<c_void>,
    log: &'log LogFile,
    config: MarshallingConfig,
    /// True while a [`Reservation`](crate::Reservation) guard of this area is live (at most
    /// one is: `docs/decisions.md`).
    pub(crate) reservation_live: AtomicBool,
    _blocks: PhantomData<fn() -> B>,
}

impl<B: Blocks> core::fmt::Debug for MarshallingArea<'_, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MarshallingArea")
            .field("raw", &self.raw)
            .field("log", &self.log)
            .field("config", &self.config)
            .finish()
    }
}

// SAFETY: "All operations that access marshaling areas by using a marshaling context are
// thread-safe" (reference §1.4); the block allocator is a type with no state of its own here.
unsafe impl<B: Blocks> Send for MarshallingArea<'_, B> {}
// SAFETY: as above.
unsafe impl<B: Blocks> Sync for MarshallingArea<'_, B> {}

impl<'log, B: Blocks> MarshallingArea<'log, B> {
    /// `ClfsCreateMarshallingArea`, after checking every documented precondition first:
    ///
    /// | precondition | error |
    /// |---|---|
    /// | IRQL <= APC_LEVEL | [`Error::IrqlTooHigh`] |
    /// | the log is a stream, not a multiplexed log's physical log (`log:<path>::`, [`LogKind::Physical`](crate::LogKind::Physical)) | [`Error::PhysicalLog`] |
    /// | buffer size non-zero | [`Error::ZeroBufferSize`] |
    /// | write and read limits at least 1 | [`Error::ZeroBufferCount`] |
    /// | the log has at least 2 containers | [`Error::NotEnoughContainers`] |
    /// | buffer size a multiple of the sector size | [`Error::BufferNotSectorMultiple`] |
    /// | allocate and free callbacks both or neither | holds by construction (`B`) |
    ///
    /// The container count and sector size come from `ClfsQueryLogFileInformation`; on any
    /// refusal `ClfsCreateMarshallingArea` is never called. A success that returns a NULL
    /// marshalling context is [`Error::InconsistentOutput`]. The physical-log check needs the
    /// log's name: for a [`LogFile::from_raw`] object ([`LogFile::kind`] is `None`) it is left
    /// to Clfs.sys, which answers `STATUS_LOG_MULTIPLEXED`.
    ///
    /// Each stream of a multiplexed log takes its own marshalling areas; the LSNs an area hands
    /// out are its stream's, not comparable with another stream's ([`Lsn`](crate::Lsn)).
    ///
    /// Only one marshalling area should write to a stream at a time: the DDI warns that two
    /// writers "might result in stream corruption" (reference §0.1 item 10). Nothing here
    /// counts the areas of a stream, so a driver keeps one writing area per stream (one area
    /// is `Sync`: share it between threads rather than create another).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    pub fn create(log: &'log LogFile, config: MarshallingConfig) -> Result<Self> {
        Self::create_checked(log, config, None)
    }

    /// `ClfsCreateMarshallingAreaEx` (Windows 10, version 1803 and later): [`create`] with a
    /// buffer alignment (`cAlignmentSize`, 0 for the default) and [`MarshallingFlags`]. It
    /// makes every check [`create`] makes (the same code), and before those:
    ///
    /// | precondition | error |
    /// |---|---|
    /// | alignment 0 or a power of two no larger than the buffer size | [`Error::InvalidBufferAlignment`] |
    /// | only defined flags | [`Error::UnknownMarshallingFlags`] |
    ///
    /// On an older Windows the routine does not exist and the driver does not load (it is
    /// imported from `clfs.sys`; docs/decisions.md).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL.
    ///
    /// [`create`]: MarshallingArea::create
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// use clfs::{wide, ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig, MarshallingFlags};
    /// let log = LogFile::create(wide!("log:C:\\logs\\doc-area-ex"), LogOptions::new().create_if_missing())?;
    /// log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
    /// let area = MarshallingArea::<ClfsAllocator>::create_ex(
    ///     &log,
    ///     MarshallingConfig::new(4096),
    ///     512,
    ///     MarshallingFlags::DISABLE_BUFF_INIT,
    /// )?;
    /// area.append(&[b"hello"])?;
    /// # Ok::<(), clfs::Error>(())
    /// ```
    pub fn create_ex(
        log: &'log LogFile,
        config: MarshallingConfig,
        alignment: u32,
        flags: MarshallingFlags,
    ) -> Result<Self> {
        Self::create_checked(log, config, Some((alignment, flags)))
    }

    /// The one body of [`create`](Self::create) and [`create_ex`](Self::create_ex): every
    /// pre-call check, then the routine.
    fn create_checked(
        log: &'log LogFile,
        config: MarshallingConfig,
        ex: Option<(u32, MarshallingFlags)>,
    ) -> Result<Self> {
        let routine = if ex.is_some() {
            "ClfsCreateMarshallingAreaEx"
        } else {
            "ClfsCreateMarshallingArea"
        };
        require_passive_or_apc(routine)?;
        if log.kind() == Some(crate::name::LogKind::Physical) {
            return Err(Error::PhysicalLog { routine });
        }
        config.validate()?;
        if let Some((alignment, flags)) = ex {
            if alignment != 0 && (!alignment.is_power_of_two() || alignment > config.buffer_size) {
                return Err(Error::InvalidBufferAlignment {
                    alignment,
                    buffer_size: config.buffer_size,
                });
            }
            let unknown = flags.bits() & !MarshallingFlags::all().bits();
            if unknown != 0 {
                return Err(Error::UnknownMarshallingFlags { flags: unknown });
            }
        }
        let info = log.info()?;
        if info.containers < 2 {
            return Err(Error::NotEnoughContainers {
                containers: info.containers,
            });
        }
        if config.buffer_size.checked_rem(info.sector_size) != Some(0) {
            return Err(Error::BufferNotSectorMultiple {
                size: config.buffer_size,
                sector_size: info.sector_size,
            });
        }
        let (alloc, free) = B::CALLBACKS;
        let mut raw: *mut c_void = core::ptr::null_mut();
        let status = match ex {
            // SAFETY: the log object is open (LogFile invariant) and outlives the area
            // ('log); the callbacks are both Some or both None (Blocks); `raw` is a valid
            // out pointer.
            None => unsafe {
                sys::ClfsCreateMarshallingArea(
                    log.as_raw(),
                    config.pool.raw(),
                    alloc,
                    free,
                    config.buffer_size,
                    config.max_write.raw(),
                    config.max_read.raw(),
                    &mut raw,
                )
            },
            // SAFETY: as above; alignment and flags were checked.
            Some((alignment, flags)) => unsafe {
                sys::ClfsCreateMarshallingAreaEx(
                    log.as_raw(),
                    config.pool.raw(),
                    alloc,
                    free,
                    config.buffer_size,
                    config.max_write.raw(),
                    config.max_read.raw(),
                    alignment,
                    flags.bits(),
                    &mut raw,
                )
            },
        };
        let status = check(routine, status)?;
        let raw = NonNull::new(raw).ok_or(Error::InconsistentOutput {
            routine,
            status,
            detail: crate::Inconsistency::Null {
                what: "marshalling context",
            },
        })?;
        // INVARIANT: created for `log` just now.
        Ok(MarshallingArea {
            raw,
            log,
            config,
            reservation_live: AtomicBool::new(false),
            _blocks: PhantomData,
        })
    }

    /// The raw marshalling context, for routines this crate does not wrap. The area stays
    /// owned by this `MarshallingArea`.
    ///
    /// IRQL: any.
    pub fn as_raw(&self) -> *mut c_void {
        self.raw.as_ptr()
    }

    /// Takes ownership of a marshalling context that `ClfsCreateMarshallingArea` returned for
    /// `log`, e.g. one a `wdk-sys` driver created itself. The area is deleted on drop, like
    /// one from [`MarshallingArea::create`].
    ///
    /// IRQL: any (nothing is called).
    ///
    /// # Safety
    /// - `raw` is a live marshalling context created for `log` (the same log file object) that
    ///   nothing else deletes: its ownership moves into the returned area;
    /// - its block callbacks are those `B` passes (`B::CALLBACKS`: NULL/NULL for
    ///   [`ClfsAllocator`], the trampolines of a [`BlockAllocator`](crate::BlockAllocator)),
    ///   so that the blocks are freed by the allocator that allocated them;
    /// - it was created with `config`'s buffer size (the record-size checks use it);
    /// - no reserved records are left in it that the caller still accounts for.
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// # use clfs::*;
    /// # let log = LogFile::create(wide!("log:C:\\doc\\raw-area"), LogOptions::new().create_if_missing())?;
    /// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
    /// let config = MarshallingConfig::new(4096);
    /// let raw = MarshallingArea::<ClfsAllocator>::create(&log, config)?.into_raw();
    /// // SAFETY: from `into_raw` on an area of `log` with CLFS's allocator and `config`.
    /// let area = unsafe { MarshallingArea::<ClfsAllocator>::from_raw(raw, &log, config) };
    /// area.append(&[b"still works"])?;
    /// area.delete()?; // ClfsDeleteMarshallingArea, once
    /// # Ok::<(), clfs::Error>(())
    /// ```
    pub unsafe fn from_raw(
        raw: NonNull<c_void>,
        log: &'log LogFile,
        config: MarshallingConfig,
    ) -> Self {
        // INVARIANT: the caller hands over a live context of `log` that it no longer deletes.
        MarshallingArea {
            raw,
            log,
            config,
            reservation_live: AtomicBool::new(false),
            _blocks: PhantomData,
        }
    }

    /// Gives up ownership of the marshalling context without deleting it: the caller must
    /// delete it (`ClfsDeleteMarshallingArea`, before the log is closed) or hand it back with
    /// [`MarshallingArea::from_raw`].
    ///
    /// IRQL: any (nothing is called).
    #[must_use = "the marshalling area leaks unless it is deleted or given back to MarshallingArea::from_raw"]
    pub fn into_raw(self) -> NonNull<c_void> {
        ManuallyDrop::new(self).raw
    }

    /// The log this area belongs to.
    ///
    /// IRQL: any.
    pub fn log(&self) -> &'log LogFile {
        self.log
    }

    /// The configuration it was created with.
    ///
    /// IRQL: any.
    pub fn config(&self) -> &MarshallingConfig {
        &self.config
    }

    /// `ClfsDeleteMarshallingArea`: flushes the area's blocks and deletes it, returning the
    /// status. Dropping the area does the same and ignores the status.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called. Refused, the
    /// area stays live until its log is closed.
    pub fn delete(self) -> Result<()> {
        let this = ManuallyDrop::new(self);
        this.delete_raw()
    }

    fn delete_raw(&self) -> Result<()> {
        const ROUTINE: &str = "ClfsDeleteMarshallingArea";
        require_passive_or_apc(ROUTINE)?;
        // SAFETY: by the type invariant the context is live; this is its only delete (both
        // callers consume the area). No read context can outlive it: they borrow the area.
        let status = unsafe { sys::ClfsDeleteMarshallingArea(self.raw.as_ptr()) };
        check(ROUTINE, status).map(drop)
    }
}

/// IRQL: PASSIVE_LEVEL or APC_LEVEL. Dropped above APC_LEVEL, the area leaks instead of
/// bugchecking: `ClfsDeleteMarshallingArea` is not called there (closing the log later deletes it).
/// [`MarshallingArea::delete`] reports that refusal.
impl<B: Blocks> Drop for MarshallingArea<'_, B> {
    fn drop(&mut self) {
        let _ = self.delete_raw();
    }
}
