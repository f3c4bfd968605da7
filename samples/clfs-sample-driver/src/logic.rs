//! What the sample driver does with its log, free of any driver plumbing, so that host tests
//! can run exactly this code against the `clfs-emu` emulator.
//!
//! * [`start`] opens (or creates) the log, makes sure it has its two containers, creates a
//!   marshalling area whose log I/O blocks come from the tagged pool ([`SamplePool`]) and
//!   appends a start-up record.
//! * [`Running::stop`] flushes, writes a restart area that points at the start-up record, then
//!   tears down in order: the marshalling area first, then the log.
//!
//! Every failure path releases what was acquired: the log and the area are RAII handles from
//! `clfs`, and [`LogSlot`] gives the log back when a later step fails.
//!
//! IRQL: everything here runs at PASSIVE_LEVEL (DriverEntry, DriverUnload). `clfs` checks the
//! IRQL before each CLFS call.

use core::cell::UnsafeCell;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::sync::atomic::{AtomicU8, Ordering};

use clfs::{
    pool_tag, wide, LogFile, LogOptions, Lsn, MarshallingArea, MarshallingConfig, PoolType,
    TaggedPool,
};

/// The directory of the log and its containers (an NT path). No source says CLFS creates
/// missing directories, so the driver creates it before [`start`].
pub const LOG_DIRECTORY: &[u16] = wide!("\\SystemRoot\\Logs\\ClfsSample");

/// The log a real driver would keep: `%SystemRoot%\Logs\ClfsSample\sample.blf`.
pub const LOG_NAME: &[u16] = wide!("log:\\SystemRoot\\Logs\\ClfsSample\\sample");

/// The two containers, beside the base log file (`%BLF%\` is the BLF's directory).
pub const CONTAINERS: [&[u16]; 2] = [wide!("%BLF%\\ClfsSampleC0"), wide!("%BLF%\\ClfsSampleC1")];

/// Size of each container: 512 KiB (CLFS rounds up to its 512 KiB granularity anyway).
pub const CONTAINER_SIZE: u64 = 512 * 1024;

/// The pool tag of the marshalling area's log I/O blocks, as poolmon shows it: `Smpl`.
pub const POOL_TAG: u32 = pool_tag(*b"Smpl");

/// The block allocator: `ExAllocatePool2` / `ExFreePoolWithTag` with tag `Smpl`.
pub type SamplePool = TaggedPool<POOL_TAG>;

/// The marshalling area: 64 KiB buffers from non-paged, non-executable pool, at most 8 write
/// and 4 read buffers.
pub const fn marshalling_config() -> MarshallingConfig {
    MarshallingConfig::new(64 * 1024)
        .pool(PoolType::NonPagedPoolNx)
        .max_write_buffers(8)
        .max_read_buffers(4)
}

/// The start-up record the driver appends on every load: `SMPLSTRT`, then the record format
/// version (u32, little-endian), then 4 reserved zero bytes.
pub const STARTUP_RECORD: [u8; 16] = *b"SMPLSTRT\x01\0\0\0\0\0\0\0";

/// Magic of the restart area written at unload.
pub const RESTART_MAGIC: [u8; 8] = *b"SMPLRSTA";

/// The restart area written at unload: [`RESTART_MAGIC`], then the LSN of this session's
/// start-up record (u64, little-endian). A recovering driver reads it back with
/// `ClfsReadRestartArea` and knows where its last session began.
pub fn restart_area(startup: Lsn) -> [u8; 16] {
    let mut area = [0u8; 16];
    let (magic, lsn) = area.split_at_mut(8);
    magic.copy_from_slice(&RESTART_MAGIC);
    lsn.copy_from_slice(&startup.raw().to_le_bytes());
    area
}

/// Why [`start`] failed.
#[derive(Debug)]
pub enum StartError {
    /// The [`LogSlot`] already holds the log of a running session.
    AlreadyRunning,
    /// A CLFS call failed, or `clfs` refused one before making it.
    Clfs(clfs::Error),
}

impl From<clfs::Error> for StartError {
    fn from(e: clfs::Error) -> Self {
        StartError::Clfs(e)
    }
}

impl core::fmt::Display for StartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StartError::AlreadyRunning => f.write_str("the sample log is already open"),
            StartError::Clfs(e) => write!(f, "{e}"),
        }
    }
}

/// Where the open log lives while the driver runs, so that the marshalling area can borrow it
/// for `'static` (the area is a `MarshallingArea<'static, _>` and can sit in a static too).
///
/// A `LogSlot` is meant to be a `static`. It is free, claimed by one [`start`] (empty), or
/// holding that session's log. Only the session that claimed it touches the log cell, and the
/// log is taken back out only once the marshalling area that borrowed it is gone.
///
/// # Invariants
/// * `log` is initialised iff `state == FULL`.
/// * While `state != FREE`, exactly one [`start`] call or [`Running`] value owns the slot
///   (it won the `FREE -> CLAIMED` exchange) and is the only code that accesses `log`.
/// * A `&'static LogFile` handed out by `fill` is only ever given to the owner's marshalling
///   area, and the log is only read back out (`empty`) after that area was deleted.
pub struct LogSlot {
    state: AtomicU8,
    log: UnsafeCell<MaybeUninit<LogFile>>,
}

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const FULL: u8 = 2;

// SAFETY: the cell is only accessed by the single owner that won the FREE -> CLAIMED exchange
// (type invariant), with Acquire/Release on `state` ordering one owner's accesses before the
// next owner's. `LogFile` is `Send + Sync`, so handing it from thread to thread is fine.
unsafe impl Sync for LogSlot {}

impl LogSlot {
    /// An empty slot.
    pub const fn new() -> Self {
        LogSlot {
            state: AtomicU8::new(FREE),
            log: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Whether a session currently owns the slot.
    pub fn in_use(&self) -> bool {
        self.state.load(Ordering::Acquire) != FREE
    }

    /// Claims the free slot for one session.
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(FREE, CLAIMED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Stores the log in the claimed, empty slot and lends it for `'static`.
    fn fill(&'static self, log: LogFile) -> &'static LogFile {
        let cell = self.log.get();
        // SAFETY: the caller owns the claimed slot, so no one else accesses the cell, and it
        // is empty (state CLAIMED): nothing is overwritten without being dropped.
        let slot = unsafe { &mut *cell };
        let log: &'static LogFile = slot.write(log);
        self.state.store(FULL, Ordering::Release);
        log
    }

    /// Takes the log back out, leaving the slot claimed and empty.
    ///
    /// # Safety
    /// The caller owns the slot, and no reference returned by `fill` is used after this call
    /// (the marshalling area that borrowed the log has been deleted or was never created).
    unsafe fn empty(&self) -> Option<LogFile> {
        if self.state.load(Ordering::Acquire) != FULL {
            return None;
        }
        self.state.store(CLAIMED, Ordering::Release);
        let cell = self.log.get();
        // SAFETY: the caller owns the slot, so no one else accesses the cell.
        let slot = unsafe { &*cell };
        // SAFETY: state was FULL, so the cell holds a log; no borrow of it is left (this
        // function's contract), so it can be moved out. The state is CLAIMED now, so it will
        // not be read out twice.
        let log = unsafe { slot.assume_init_read() };
        Some(log)
    }

    /// Gives the claimed, empty slot back.
    fn release(&self) {
        // Only an owner calls this, after `empty`.
        self.state.store(FREE, Ordering::Release);
    }
}

impl Default for LogSlot {
    fn default() -> Self {
        Self::new()
    }
}

/// A running session: the marshalling area (borrowing the log in its [`LogSlot`]) and the
/// LSN of the start-up record.
///
/// Dropping it tears down like [`stop`](Running::stop) but without flushing or writing the
/// restart area, and ignores the statuses.
///
/// # Invariants
/// `area` is live until teardown, which drops or takes it exactly once ([`Running::stop`] or
/// `Drop`, never both); this value owns `slot`, which holds the log `area` borrows.
pub struct Running {
    area: ManuallyDrop<MarshallingArea<'static, SamplePool>>,
    slot: &'static LogSlot,
    startup: Lsn,
}

impl core::fmt::Debug for Running {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Running")
            .field("area", &*self.area)
            .field("startup", &self.startup)
            .finish()
    }
}

/// What [`Running::stop`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// LSN of this session's start-up record.
    pub startup: Lsn,
    /// LSN of the restart area written at unload.
    pub restart: Lsn,
}

/// Opens or creates the log `log_name`, makes sure it has the two `containers` (`size` bytes
/// each), creates the marshalling area with the `Smpl` pool allocator and appends the
/// start-up record.
///
/// The log is kept in `slot` for as long as the returned [`Running`] lives. On failure every
/// handle acquired so far is released (area, then log) and the slot is free again.
pub fn start(
    slot: &'static LogSlot,
    log_name: &[u16],
    containers: [&[u16]; 2],
    size: u64,
) -> Result<Running, StartError> {
    if !slot.claim() {
        return Err(StartError::AlreadyRunning);
    }
    match open_and_append(slot, log_name, containers, size) {
        Ok(running) => Ok(running),
        Err(e) => {
            // SAFETY: we own the slot (claimed above) and `open_and_append` dropped the
            // marshalling area, if it created one, before returning the error.
            let log = unsafe { slot.empty() };
            drop(log);
            slot.release();
            Err(e.into())
        }
    }
}

/// The fallible part of [`start`], on a claimed slot.
fn open_and_append(
    slot: &'static LogSlot,
    log_name: &[u16],
    containers: [&[u16]; 2],
    size: u64,
) -> Result<Running, clfs::Error> {
    let log = LogFile::create(log_name, LogOptions::new().create_if_missing())?;
    ensure_containers(&log, containers, size)?;
    let log = slot.fill(log);
    let area = MarshallingArea::<SamplePool>::create(log, marshalling_config())?;
    // On error the `?` drops `area` (ClfsDeleteMarshallingArea) before start() takes the log.
    let startup = area.append(&[&STARTUP_RECORD])?;
    // INVARIANT: the area borrows the log in `slot`, which this session owns.
    Ok(Running {
        area: ManuallyDrop::new(area),
        slot,
        startup,
    })
}

/// Adds the containers the log lacks. This driver always adds both at once, first to last, so
/// a log with one container is one where adding the second failed: only that one is added.
fn ensure_containers(log: &LogFile, containers: [&[u16]; 2], size: u64) -> Result<(), clfs::Error> {
    let info = log.info()?;
    match info.containers {
        0 => {
            log.add_containers(&containers, size)?;
        }
        1 => {
            let [_, second] = containers;
            log.add_container(second, size)?;
        }
        _ => {}
    }
    Ok(())
}

impl Running {
    /// The marshalling area the session appends through.
    pub fn area(&self) -> &MarshallingArea<'static, SamplePool> {
        &self.area
    }

    /// LSN of this session's start-up record.
    pub fn startup_lsn(&self) -> Lsn {
        self.startup
    }

    /// Flushes, writes the restart area, deletes the marshalling area and closes the log, in
    /// that order. Teardown always completes; the first error, if any, is returned.
    pub fn stop(self) -> Result<Stopped, clfs::Error> {
        let startup = self.startup;
        // `Drop` must not run: the area is taken here, and the slot is released below and may
        // be claimed again. Nothing else in `self` needs dropping (`slot` is a reference).
        let mut this = ManuallyDrop::new(self);
        // SAFETY: the area is live (type invariant) and taken only here: `this` is never
        // dropped, so `Drop` does not drop it again, and it is not read after this.
        let area = unsafe { ManuallyDrop::take(&mut this.area) };
        let finished = finish(area, startup);
        // SAFETY: we own the slot; the area that borrowed the log was consumed just above.
        let log = unsafe { this.slot.empty() };
        let closed = match log {
            Some(log) => log.close(),
            None => Ok(()),
        };
        this.slot.release();
        let restart = finished?;
        closed?;
        Ok(Stopped { startup, restart })
    }
}

/// Flush, restart area, delete: the marshalling-area half of [`Running::stop`].
fn finish(area: MarshallingArea<'static, SamplePool>, startup: Lsn) -> Result<Lsn, clfs::Error> {
    let written = area
        .flush()
        .and_then(|_| area.write_restart(&restart_area(startup)));
    let deleted = area.delete();
    let restart = written?;
    deleted?;
    Ok(restart)
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: the area is live (type invariant: `stop` takes it only from a value it
        // keeps from being dropped), `drop` runs once, and nothing reads the area after this.
        unsafe { ManuallyDrop::drop(&mut self.area) };
        // SAFETY: we own the slot; the area that borrowed the log was dropped just above.
        let log = unsafe { self.slot.empty() };
        drop(log);
        self.slot.release();
    }
}
