//! Reading records and restart areas (reference §1.6, §4.5–4.6).

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::error::{check, Error, Result};
use crate::irql::require_passive_or_apc;
use crate::lsn::Lsn;
use crate::marshal::MarshallingArea;
use crate::pool::Blocks;
use crate::status::NtStatus;
use crate::sys;

/// How a read context steps from record to record (`CLFS_CONTEXT_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadMode {
    /// `ClfsContextForward`: the record that follows in the stream.
    Forward,
    /// `ClfsContextPrevious`: the current record's previous link.
    Previous,
    /// `ClfsContextUndoNext`: the current record's undo-next link.
    UndoNext,
}

impl ReadMode {
    const fn raw(self) -> sys::CLFS_CONTEXT_MODE {
        match self {
            ReadMode::Forward => sys::ClfsContextForward,
            ReadMode::Previous => sys::ClfsContextPrevious,
            ReadMode::UndoNext => sys::ClfsContextUndoNext,
        }
    }
}

/// A record's type (`CLFS_RECORD_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// `ClfsDataRecord`: a client data record.
    Data,
    /// `ClfsRestartRecord`: a restart record.
    Restart,
    /// Any other bit pattern, kept as is.
    Other(u8),
}

impl RecordType {
    #[inline]
    fn from_raw(raw: u8) -> RecordType {
        // The type is a set of flags (reference §2.6): test bits, not equality.
        if raw & sys::ClfsRestartRecord != 0 {
            RecordType::Restart
        } else if raw & sys::ClfsDataRecord != 0 {
            RecordType::Data
        } else {
            RecordType::Other(raw)
        }
    }
}

/// One record, borrowed from its read context until the next step.
///
/// The type and the chain links are kept as CLFS returned them and decoded by
/// [`kind`](Self::kind), [`undo_next`](Self::undo_next) and [`previous`](Self::previous) when
/// asked for, so that a reader pays only for what it uses (`docs/performance.md`).
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// # use clfs::*;
/// # let log = LogFile::create(wide!("log:C:\\doc\\record"), LogOptions::new().create_if_missing())?;
/// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
/// # let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
/// let first = area.append(&[b"begin"])?;
/// let second = area.append_with(&[b"commit"], Append::new().previous(first))?;
/// let mut cx = area.read(second, ReadMode::Forward)?;
/// let r = cx.next()?.expect("the record the context was opened at");
/// assert_eq!((r.data, r.lsn), (&b"commit"[..], second));
/// assert_eq!(r.kind(), RecordType::Data);
/// assert_eq!((r.previous(), r.undo_next()), (Some(first), None));
/// # Ok::<(), clfs::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Record<'c> {
    /// The record's bytes, as appended.
    pub data: &'c [u8],
    /// Its LSN, in the stream it was read from ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    pub lsn: Lsn,
    kind: u8,
    undo_next: Lsn,
    previous: Lsn,
}

impl<'c> Record<'c> {
    /// A record over the buffer and fields a read routine returned.
    ///
    /// # Safety
    /// As [`record_bytes`]: if `buffer` is not NULL, it holds `len` bytes valid and unchanged
    /// for `'c`.
    #[inline(always)]
    unsafe fn from_raw(
        buffer: *mut c_void,
        len: u32,
        kind: u8,
        lsn: Lsn,
        undo_next: Lsn,
        previous: Lsn,
    ) -> Record<'c> {
        Record {
            // SAFETY: forwarded from this function's contract.
            data: unsafe { record_bytes(buffer, len) },
            lsn,
            kind,
            undo_next,
            previous,
        }
    }

    /// Data or restart (the `CLFS_RECORD_TYPE` flags).
    ///
    /// IRQL: any.
    #[inline]
    pub fn kind(&self) -> RecordType {
        RecordType::from_raw(self.kind)
    }

    /// Its undo-next link, `None` when `CLFS_LSN_INVALID`: an LSN of the same stream.
    ///
    /// A restart record (see [`ReadContext::with_restart_records`]) carries undo-next
    /// `CLFS_LSN_NULL` as Windows writes it, so this is `Some(Lsn::NULL)` there: not a link
    /// to the first record. Follow undo-next links from data records only.
    ///
    /// IRQL: any.
    #[inline]
    pub fn undo_next(&self) -> Option<Lsn> {
        self.undo_next.valid()
    }

    /// Its previous link, `None` when `CLFS_LSN_INVALID`: an LSN of the same stream.
    ///
    /// IRQL: any.
    #[inline]
    pub fn previous(&self) -> Option<Lsn> {
        self.previous.valid()
    }
}

impl core::fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Record")
            .field("data", &self.data)
            .field("lsn", &self.lsn)
            .field("kind", &self.kind())
            .field("undo_next", &self.undo_next())
            .field("previous", &self.previous())
            .finish()
    }
}

/// Refuses a length that CLFS returned for a buffer that cannot hold it: more than `limit`
/// bytes (the area's block size, cbMarshallingBuffer: every record and restart area CLFS lends
/// lies in one such block, reference §1.4), or any bytes at a NULL buffer. Runs before a
/// slice is formed, so a bogus length is an error, never an out-of-bounds slice.
#[inline(always)]
fn check_len(
    routine: &'static str,
    what: &'static str,
    buffer: *mut c_void,
    len: u32,
    limit: u32,
) -> Result<()> {
    let limit = if buffer.is_null() { 0 } else { limit };
    if len > limit {
        return Err(Error::LengthOutOfRange {
            routine,
            what,
            len: u64::from(len),
            limit: u64::from(limit),
        });
    }
    Ok(())
}

/// Builds a slice over a buffer CLFS returned. A NULL pointer gives an empty slice whatever the
/// length; a zero length gives an empty slice.
///
/// # Safety
/// If `ptr` is not NULL, it points to `len` readable bytes that stay valid and unchanged for
/// `'c`.
#[inline(always)]
unsafe fn record_bytes<'c>(ptr: *mut c_void, len: u32) -> &'c [u8] {
    match core::ptr::NonNull::new(ptr.cast::<u8>()) {
        // SAFETY: `ptr` is non-null, aligned for u8, and the caller guarantees `len` readable
        // bytes there for 'c (none when `len` is 0, which a non-null pointer allows).
        Some(p) => unsafe { core::slice::from_raw_parts(p.as_ptr(), len as usize) },
        None => &[],
    }
}

/// A read context: a cursor over the records of a log (`ClfsReadLogRecord`,
/// `ClfsReadNextLogRecord`), terminated on drop (`ClfsTerminateReadLog`).
///
/// [`ReadContext::next`] lends each record until the following call, because CLFS may reuse
/// the block the record lives in; a use after the next step does not compile:
///
/// ```compile_fail,E0499
/// # use clfs::*;
/// # fn f(area: &MarshallingArea<'_>) -> clfs::Result<()> {
/// let mut cx = area.read(Lsn::NULL, ReadMode::Forward)?;
/// let first = cx.next()?.unwrap().data;
/// let _second = cx.next()?;
/// assert!(!first.is_empty()); // error: `cx` is still borrowed by `first`
/// # Ok(()) }
/// ```
///
/// Read contexts are not thread-safe (`!Sync`).
///
/// # Invariants
/// `raw` is a live read context of the borrowed area; `pending` describes the record
/// `ClfsReadLogRecord` returned (its length checked against `limit`), until the first call to
/// `next` hands it out.
pub struct ReadContext<'a> {
    raw: NonNull<c_void>,
    filter: u8,
    /// The area's block size: the most bytes a returned record can have.
    limit: u32,
    pending: Option<(*mut c_void, u32, u8, Lsn, Lsn, Lsn)>,
    _area: PhantomData<(&'a (), *mut ())>,
}

// SAFETY: a read context may be used from another thread as long as it is not used from two at
// once; `!Sync` (from the raw pointer marker) and `&mut self` on every step ensure that.
unsafe impl Send for ReadContext<'_> {}

impl core::fmt::Debug for ReadContext<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadContext")
            .field("raw", &self.raw)
            .finish()
    }
}

impl<'log, B: Blocks> MarshallingArea<'log, B> {
    /// Opens a read context at the record `lsn` (`ClfsReadLogRecord`) that steps in `mode`.
    /// The first call to [`ReadContext::next`] returns that record.
    ///
    /// `lsn` must lie in the stream's active range (checked first: [`Error::LsnNotInLog`]
    /// names the range). To read a stream from its oldest record, start at
    /// `area.log().info()?.base`: a dedicated log's first record is [`Lsn::NULL`], but a
    /// stream of a multiplexed log starts wherever the log ended when the stream was created,
    /// and any log's base moves with [`advance_base`](crate::MarshallingArea::advance_base).
    ///
    /// Each open context holds one of the area's read buffers. A success that returns a NULL
    /// read context is [`Error::InconsistentOutput`]; a record length the block cannot hold is
    /// [`Error::LengthOutOfRange`] (the context is then terminated).
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// # use clfs::*;
    /// # let log = LogFile::create(wide!("log:C:\\doc\\read"), LogOptions::new().create_if_missing())?;
    /// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
    /// # let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
    /// let first = area.append(&[b"one"])?;
    /// area.append(&[b"two"])?;
    /// let mut cx = area.read(first, ReadMode::Forward)?;
    /// let mut seen = 0;
    /// while let Some(record) = cx.next()? {
    ///     assert!(record.data == b"one" || record.data == b"two");
    ///     seen += 1;
    /// }
    /// assert_eq!(seen, 2);
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn read(&self, lsn: Lsn, mode: ReadMode) -> Result<ReadContext<'_>> {
        const ROUTINE: &str = "ClfsReadLogRecord";
        require_passive_or_apc(ROUTINE)?;
        if lsn.is_invalid() {
            return Err(Error::InvalidLsn {
                what: "the LSN to read",
            });
        }
        let info = self.log().info()?;
        let oldest = info.base.min(info.min_archive_tail);
        if lsn < oldest || lsn > info.last {
            return Err(Error::LsnNotInLog {
                lsn,
                first: oldest,
                last: info.last,
            });
        }
        let mut first = lsn.to_sys();
        let mut buffer: *mut c_void = core::ptr::null_mut();
        let mut len = 0u32;
        let mut kind = 0u8;
        let mut undo = Lsn::INVALID.to_sys();
        let mut prev = Lsn::INVALID.to_sys();
        let mut cx: *mut c_void = core::ptr::null_mut();
        // SAFETY: the marshalling context is live (area invariant); every out pointer is a
        // valid local; the mode is passed by value as the prototype says.
        let status = unsafe {
            sys::ClfsReadLogRecord(
                self.as_raw(),
                &mut first,
                mode.raw(),
                &mut buffer,
                &mut len,
                &mut kind,
                &mut undo,
                &mut prev,
                &mut cx,
            )
        };
        let status = check(ROUTINE, status)?;
        let raw = NonNull::new(cx).ok_or(Error::InconsistentOutput {
            routine: ROUTINE,
            status,
            detail: crate::Inconsistency::Null {
                what: "read context",
            },
        })?;
        let limit = self.config().buffer_size();
        // INVARIANT: a fresh context for this area; the record it returned is pending once
        // its length is checked (until then it is not reachable; on error the context drops
        // and is terminated).
        let mut cx = ReadContext {
            raw,
            filter: sys::ClfsDataRecord,
            limit,
            pending: None,
            _area: PhantomData,
        };
        check_len(ROUTINE, "a record", buffer, len, limit)?;
        cx.pending = Some((
            buffer,
            len,
            kind,
            Lsn::from_sys(first),
            Lsn::from_sys(undo),
            Lsn::from_sys(prev),
        ));
        Ok(cx)
    }

    /// Opens a read context at the most recent restart area (`ClfsReadRestartArea`), or
    /// `None` when the stream has none (`STATUS_LOG_NO_RESTART`, an informational status).
    /// Another success that returns a NULL read context is [`Error::InconsistentOutput`].
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// # use clfs::*;
    /// # let log = LogFile::create(wide!("log:C:\\doc\\restart"), LogOptions::new().create_if_missing())?;
    /// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
    /// # let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
    /// assert!(area.read_restart()?.is_none());
    /// area.write_restart(b"checkpoint 1")?;
    /// area.write_restart(b"checkpoint 2")?;
    /// let mut restart = area.read_restart()?.expect("written above");
    /// assert_eq!(restart.current().expect("just read").data, b"checkpoint 2");
    /// assert_eq!(restart.previous()?.expect("one more").data, b"checkpoint 1");
    /// assert!(restart.previous()?.is_none()); // the start of the chain
    /// assert!(restart.current().is_none()); // nothing stale is left to read
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn read_restart(&self) -> Result<Option<RestartContext<'_>>> {
        const ROUTINE: &str = "ClfsReadRestartArea";
        require_passive_or_apc(ROUTINE)?;
        let mut buffer: *mut c_void = core::ptr::null_mut();
        let mut len = 0u32;
        let mut lsn = Lsn::INVALID.to_sys();
        let mut cx: *mut c_void = core::ptr::null_mut();
        // SAFETY: the context is live; every out pointer is a valid local.
        let status = unsafe {
            sys::ClfsReadRestartArea(self.as_raw(), &mut buffer, &mut len, &mut lsn, &mut cx)
        };
        let status = check(ROUTINE, status)?;
        if status == NtStatus::LOG_NO_RESTART {
            // Informational: NT_SUCCESS, but the outputs are not valid (reference §1.6).
            return Ok(None);
        }
        let raw = NonNull::new(cx).ok_or(Error::InconsistentOutput {
            routine: ROUTINE,
            status,
            detail: crate::Inconsistency::Null {
                what: "read context",
            },
        })?;
        let limit = self.config().buffer_size();
        // INVARIANT: a fresh context positioned at the latest restart record, which `current`
        // describes once its length is checked (on error the context drops and is terminated).
        let mut cx = RestartContext {
            raw,
            limit,
            current: None,
            _area: PhantomData,
        };
        check_len(ROUTINE, "a restart area", buffer, len, limit)?;
        let lsn = crate::write::success_lsn(ROUTINE, status, "the restart record's LSN", lsn)?;
        cx.current = Some((buffer, len, lsn));
        Ok(Some(cx))
    }

    /// Writes a restart area (`ClfsWriteRestartArea`): appends a restart record linked to the
    /// previous one, flushes the whole area and the log's metadata, and returns its LSN (one
    /// of this area's stream: [`Lsn`](crate::Lsn#lsns-of-different-streams)). A success that
    /// returns `CLFS_LSN_INVALID` as that LSN is [`Error::InconsistentOutput`].
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn write_restart(&self, data: &[u8]) -> Result<Lsn> {
        self.write_restart_raw(data, None)
    }

    /// Writes a restart area and, atomically, moves the base LSN to `base`.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn write_restart_with_base(&self, data: &[u8], base: Lsn) -> Result<Lsn> {
        if base.is_invalid() {
            return Err(Error::InvalidLsn {
                what: "the new base LSN",
            });
        }
        self.write_restart_raw(data, Some(base))
    }

    fn write_restart_raw(&self, data: &[u8], base: Option<Lsn>) -> Result<Lsn> {
        const ROUTINE: &str = "ClfsWriteRestartArea";
        require_passive_or_apc(ROUTINE)?;
        if data.is_empty() {
            return Err(Error::EmptyRestartArea);
        }
        let buffer_size = self.config().buffer_size();
        let max = crate::write::max_record_size(buffer_size) as usize;
        if data.len() > max {
            return Err(Error::RestartTooLarge {
                size: data.len(),
                max,
                buffer_size,
            });
        }
        let base = base.map(Lsn::to_sys);
        let base_ptr = match &base {
            Some(b) => b as *const sys::CLFS_LSN,
            None => core::ptr::null(),
        };
        let mut written = 0u32;
        let mut next = Lsn::INVALID.to_sys();
        // SAFETY: the context is live; `data` is readable for its length (which fits: checked
        // against the buffer size above); `base_ptr` is NULL or a local; out pointers are locals.
        let status = unsafe {
            sys::ClfsWriteRestartArea(
                self.as_raw(),
                data.as_ptr().cast_mut().cast::<c_void>(),
                data.len() as u32,
                base_ptr,
                0,
                &mut written,
                &mut next,
            )
        };
        let status = check(ROUTINE, status)?;
        crate::write::success_lsn(ROUTINE, status, "the restart record's LSN", next)
    }
}

impl<'a> ReadContext<'a> {
    /// The raw read context, for routines this crate does not wrap. It stays owned by this
    /// `ReadContext`.
    ///
    /// IRQL: any.
    pub fn as_raw(&self) -> *mut c_void {
        self.raw.as_ptr()
    }

    /// Takes ownership of a read context that `ClfsReadLogRecord` or `ClfsReadRestartArea`
    /// returned on `area`. It is terminated on drop (`ClfsTerminateReadLog`). The first
    /// [`next`](Self::next) steps from the context's position (the record the opening call
    /// returned is not handed out again); only data records are returned, as after
    /// [`MarshallingArea::read`].
    ///
    /// IRQL: any (nothing is called).
    ///
    /// # Safety
    /// `raw` is a live read context of `area`'s marshalling context that nothing else
    /// terminates or uses: its ownership moves into the returned `ReadContext`, which
    /// terminates it exactly once.
    pub unsafe fn from_raw<B: Blocks>(
        raw: NonNull<c_void>,
        area: &'a MarshallingArea<'_, B>,
    ) -> Self {
        // INVARIANT: the caller hands over a live context of `area`; nothing is pending.
        ReadContext {
            raw,
            filter: sys::ClfsDataRecord,
            limit: area.config().buffer_size(),
            pending: None,
            _area: PhantomData,
        }
    }

    /// Gives up ownership of the read context without terminating it: the caller must
    /// terminate it (`ClfsTerminateReadLog`, before the area is deleted) or hand it back with
    /// [`ReadContext::from_raw`].
    ///
    /// IRQL: any (nothing is called).
    #[must_use = "the read context leaks unless it is terminated or given back to ReadContext::from_raw"]
    pub fn into_raw(self) -> NonNull<c_void> {
        core::mem::ManuallyDrop::new(self).raw
    }

    /// Also return restart records while stepping (by default only data records are).
    ///
    /// IRQL: any.
    pub fn with_restart_records(mut self) -> Self {
        self.filter = sys::ClfsClientRecord;
        self
    }

    /// The next record (`ClfsReadNextLogRecord`), or `None` at the end: the end of the stream
    /// or of a chain (`STATUS_END_OF_FILE`), or the start of the active log
    /// (`STATUS_LOG_START_OF_LOG`). The first call returns the record the context was opened
    /// at. A success that returns `CLFS_LSN_INVALID` as the record's LSN is
    /// [`Error::InconsistentOutput`] (as for [`jump`](Self::jump)); a length the block cannot
    /// hold is [`Error::LengthOutOfRange`]. The context stays usable after either.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    #[allow(clippy::should_implement_trait)] // a lending iterator: Iterator cannot express it
    #[inline(always)]
    pub fn next(&mut self) -> Result<Option<Record<'_>>> {
        if self.pending.is_some() {
            return Ok(self.take_pending());
        }
        self.step(None)
    }

    /// The record `ClfsReadLogRecord` returned, handed out by the first [`next`](Self::next)
    /// (out of line: it runs once per context, and keeps the stepping path short).
    #[cold]
    #[inline(never)]
    fn take_pending(&mut self) -> Option<Record<'_>> {
        let (buffer, len, kind, lsn, undo, prev) = self.pending.take()?;
        // SAFETY: the buffer ClfsReadLogRecord returned stays valid until the next read on
        // this context or its termination; both need `&mut self`, which the returned record
        // borrows.
        Some(unsafe { Record::from_raw(buffer, len, kind, lsn, undo, prev) })
    }

    /// Reads the record at `lsn` next, instead of following the context's mode (`plsnUser`,
    /// for walking a chain kept in the records' own data). It must lie before the current
    /// record, in the same stream.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn jump(&mut self, lsn: Lsn) -> Result<Option<Record<'_>>> {
        if lsn.is_invalid() {
            return Err(Error::InvalidLsn {
                what: "the user LSN",
            });
        }
        self.pending = None;
        self.step(Some(lsn))
    }

    #[inline(always)]
    fn step(&mut self, user: Option<Lsn>) -> Result<Option<Record<'_>>> {
        const ROUTINE: &str = "ClfsReadNextLogRecord";
        require_passive_or_apc(ROUTINE)?;
        let user = user.map(Lsn::to_sys);
        let user_ptr = match &user {
            Some(u) => u as *const sys::CLFS_LSN,
            None => core::ptr::null(),
        };
        let mut buffer: *mut c_void = core::ptr::null_mut();
        let mut len = 0u32;
        let mut kind = self.filter;
        let mut undo = Lsn::INVALID.to_sys();
        let mut prev = Lsn::INVALID.to_sys();
        let mut lsn = Lsn::INVALID.to_sys();
        // SAFETY: the read context is live (invariant); `kind` is the in/out type filter; out
        // pointers are locals; `user_ptr` is NULL or a local.
        let status = unsafe {
            sys::ClfsReadNextLogRecord(
                self.raw.as_ptr(),
                &mut buffer,
                &mut len,
                &mut kind,
                user_ptr,
                &mut undo,
                &mut prev,
                &mut lsn,
            )
        };
        let status = NtStatus(status);
        if !status.is_success() {
            if status == NtStatus::END_OF_FILE || status == NtStatus::LOG_START_OF_LOG {
                return Ok(None);
            }
            return Err(Error::Status {
                routine: ROUTINE,
                status,
            });
        }
        check_len(ROUTINE, "a record", buffer, len, self.limit)?;
        let lsn = crate::write::success_lsn(ROUTINE, status, "the record's LSN", lsn)?;
        let (undo, prev) = (Lsn::from_sys(undo), Lsn::from_sys(prev));
        // SAFETY: the length fits the buffer (checked above); the buffer stays valid until the next read on this context or its
        // termination, both of which need `&mut self`, borrowed by the result.
        Ok(Some(unsafe {
            Record::from_raw(buffer, len, kind, lsn, undo, prev)
        }))
    }
}

/// IRQL: PASSIVE_LEVEL or APC_LEVEL. Dropped above APC_LEVEL, the read context leaks instead of
/// bugchecking: `ClfsTerminateReadLog` is not called there.
impl Drop for ReadContext<'_> {
    fn drop(&mut self) {
        terminate(self.raw);
    }
}

fn terminate(raw: NonNull<c_void>) {
    if require_passive_or_apc("ClfsTerminateReadLog").is_err() {
        // Terminating above APC_LEVEL would bugcheck; leaking the context is the lesser harm.
        return;
    }
    // SAFETY: `raw` is a live read context (invariant of both context types) and this is its
    // only termination: it runs from Drop.
    let _ = unsafe { sys::ClfsTerminateReadLog(raw.as_ptr()) };
}

/// One restart area, borrowed from its [`RestartContext`] until the context's next read.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RestartArea<'c> {
    /// The restart data, as written.
    pub data: &'c [u8],
    /// The restart record's LSN, in the stream it was read from
    /// ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    pub lsn: Lsn,
}

impl core::fmt::Debug for RestartArea<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RestartArea")
            .field("data", &self.data)
            .field("lsn", &self.lsn)
            .finish()
    }
}

/// A read context on the restart-area chain (`ClfsReadRestartArea`,
/// `ClfsReadPreviousRestartArea`), terminated on drop.
///
/// A restart area's buffer is valid only until the next read on its context, and a failed read
/// is still a read (`docs/decisions.md`). So [`current`](Self::current) and
/// [`previous`](Self::previous) lend the area until the context is used again, and once a step
/// fails or reaches the start of the chain no area is left to read: `current()` is `None`.
/// Keeping an area across the next step does not compile:
///
/// ```compile_fail,E0502
/// # use clfs::*;
/// # fn f(area: &MarshallingArea<'_>) -> clfs::Result<()> {
/// let mut restart = area.read_restart()?.unwrap();
/// let latest = restart.current().unwrap().data;
/// let _older = restart.previous()?;
/// assert!(!latest.is_empty()); // error: `restart` is still borrowed by `latest`
/// # Ok(()) }
/// ```
///
/// # Invariants
/// `raw` is a live read context; `current`, when `Some`, describes the restart record the last
/// successful read on it returned, and is `None` from the moment another read starts until it
/// succeeds.
pub struct RestartContext<'a> {
    raw: NonNull<c_void>,
    /// The area's block size: the most bytes a returned restart area can have.
    limit: u32,
    current: Option<(*mut c_void, u32, Lsn)>,
    _area: PhantomData<(&'a (), *mut ())>,
}

// SAFETY: as for ReadContext: usable from one thread at a time, which `!Sync` and `&mut self`
// ensure.
unsafe impl Send for RestartContext<'_> {}

impl core::fmt::Debug for RestartContext<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RestartContext")
            .field("lsn", &self.current.map(|(_, _, lsn)| lsn))
            .finish()
    }
}

impl<'a> RestartContext<'a> {
    /// The raw read context, for routines this crate does not wrap. It stays owned by this
    /// `RestartContext`; a read on it through the raw pointer ends the validity of
    /// [`current`](Self::current)'s area, which the borrow of `&self` cannot see, so read
    /// through [`previous`](Self::previous) instead.
    ///
    /// IRQL: any.
    pub fn as_raw(&self) -> *mut c_void {
        self.raw.as_ptr()
    }

    /// Takes ownership of a read context that `ClfsReadRestartArea` returned on `area`. It is
    /// terminated on drop. [`current`](Self::current) is `None` until the first successful
    /// [`previous`](Self::previous) (the buffer the opening call returned is not known here).
    ///
    /// IRQL: any (nothing is called).
    ///
    /// # Safety
    /// `raw` is a live read context of `area`'s marshalling context, positioned on the
    /// restart chain, that nothing else terminates or uses: its ownership moves into the
    /// returned `RestartContext`, which terminates it exactly once.
    pub unsafe fn from_raw<B: Blocks>(
        raw: NonNull<c_void>,
        area: &'a MarshallingArea<'_, B>,
    ) -> Self {
        // INVARIANT: a live context of `area`; no buffer is known to be current.
        RestartContext {
            raw,
            limit: area.config().buffer_size(),
            current: None,
            _area: PhantomData,
        }
    }

    /// Gives up ownership of the read context without terminating it: the caller must
    /// terminate it (`ClfsTerminateReadLog`, before the area is deleted) or hand it back with
    /// [`RestartContext::from_raw`].
    ///
    /// IRQL: any (nothing is called).
    #[must_use = "the read context leaks unless it is terminated or given back to RestartContext::from_raw"]
    pub fn into_raw(self) -> NonNull<c_void> {
        core::mem::ManuallyDrop::new(self).raw
    }

    /// The restart area the last read on this context returned: the latest one after
    /// [`read_restart`](MarshallingArea::read_restart), then the one the last successful
    /// [`previous`](Self::previous) returned. `None` once a step failed or reached the start of
    /// the chain.
    ///
    /// IRQL: any.
    pub fn current(&self) -> Option<RestartArea<'_>> {
        let (buffer, len, lsn) = self.current?;
        Some(RestartArea {
            // SAFETY: `current` describes the buffer of this context's last successful read
            // (invariant), valid until its next read (which needs `&mut self`, excluded while
            // the result borrows `self`) or its termination (drop).
            data: unsafe { record_bytes(buffer, len) },
            lsn,
        })
    }

    /// Steps to the previous restart area (`ClfsReadPreviousRestartArea`) and returns it, or
    /// `None` at the start of the chain (`STATUS_LOG_START_OF_LOG`). The area of the previous
    /// step is released first, whatever the outcome: after `None` or an error,
    /// [`current`](Self::current) is `None` too. A success that returns `CLFS_LSN_INVALID` as
    /// the restart record's LSN is [`Error::InconsistentOutput`].
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn previous(&mut self) -> Result<Option<RestartArea<'_>>> {
        const ROUTINE: &str = "ClfsReadPreviousRestartArea";
        // INVARIANT: a read starts; the old buffer may be reused from here on.
        self.current = None;
        require_passive_or_apc(ROUTINE)?;
        let mut buffer: *mut c_void = core::ptr::null_mut();
        let mut len = 0u32;
        let mut lsn = Lsn::INVALID.to_sys();
        // SAFETY: the context is live (invariant); out pointers are locals.
        let status = unsafe {
            sys::ClfsReadPreviousRestartArea(self.raw.as_ptr(), &mut buffer, &mut len, &mut lsn)
        };
        if NtStatus(status) == NtStatus::LOG_START_OF_LOG {
            return Ok(None);
        }
        let status = check(ROUTINE, status)?;
        check_len(ROUTINE, "a restart area", buffer, len, self.limit)?;
        let lsn = crate::write::success_lsn(ROUTINE, status, "the restart record's LSN", lsn)?;
        // INVARIANT: the read succeeded, its length fits and it has an LSN; its buffer is the
        // current area.
        self.current = Some((buffer, len, lsn));
        Ok(self.current())
    }

    /// Continues as a record reader from the current restart area, following the stream
    /// forward (`ClfsReadNextLogRecord` on the same context), e.g. to replay the data records
    /// written after a checkpoint.
    ///
    /// IRQL: any.
    pub fn into_records(self) -> ReadContext<'a> {
        let this = core::mem::ManuallyDrop::new(self);
        // INVARIANT: the same live context, handed over without terminating it.
        ReadContext {
            raw: this.raw,
            filter: sys::ClfsDataRecord,
            limit: this.limit,
            pending: None,
            _area: PhantomData,
        }
    }
}

/// IRQL: PASSIVE_LEVEL or APC_LEVEL. Dropped above APC_LEVEL, the read context leaks instead of
/// bugchecking: `ClfsTerminateReadLog` is not called there.
impl Drop for RestartContext<'_> {
    fn drop(&mut self) {
        terminate(self.raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_against_the_block_and_null() {
        let mut byte = 0u8;
        let p = core::ptr::addr_of_mut!(byte).cast::<c_void>();
        assert_eq!(check_len("R", "a record", p, 4096, 4096), Ok(()));
        assert_eq!(
            check_len("R", "a record", p, 4097, 4096),
            Err(Error::LengthOutOfRange {
                routine: "R",
                what: "a record",
                len: 4097,
                limit: 4096
            })
        );
        let null = core::ptr::null_mut();
        assert_eq!(check_len("R", "a record", null, 0, 4096), Ok(()));
        assert_eq!(
            check_len("R", "a record", null, 1, 4096),
            Err(Error::LengthOutOfRange {
                routine: "R",
                what: "a record",
                len: 1,
                limit: 0
            })
        );
    }
}
