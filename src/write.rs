//! Appending, reservations, flushing and the log tail (reference §1.5, §1.7, §4.3–4.4).

use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::sync::atomic::Ordering;

use crate::error::{check, Error, Result};
use crate::irql::require_passive_or_apc;
use crate::lsn::Lsn;
use crate::marshal::MarshallingArea;
use crate::pool::Blocks;
use crate::sys;

/// The most write entries one record may have here (they are gathered on the stack).
pub const MAX_WRITE_ENTRIES: usize = 32;

/// Bytes of a marshalling buffer that no record can use: a log block header (112 bytes) and
/// one record header (40 bytes), the on-disk sizes of the CLFS format. The block's fixup
/// array comes on top ([`max_record_size`]). The exact overhead Clfs.sys applies is
/// undocumented; `docs/decisions.md` records this choice, which the emulator shares.
pub const RECORD_OVERHEAD: u32 = 112 + 40;

/// The largest log block: 255 sectors, the most whose fixup array (2 bytes per sector, plus
/// 2) fits in the block's last sector, as in every Windows-made block.
const MAX_BLOCK_SIZE: u32 = 255 * 512;

/// The largest record, in bytes, that fits in a marshalling buffer of `buffer_size` bytes: a
/// log block is built in the buffer with its header, its records and its fixup array (2 bytes
/// per 512-byte sector plus 2, rounded up to 8), and is at most 255 sectors (the most whose
/// fixup array fits in the block's last sector, as in every Windows-made block); the record
/// gets the block less a block header (112 bytes), a record header (40) and the fixup array.
///
/// ```
/// assert_eq!(clfs::max_record_size(4096), 3920);
/// assert_eq!(clfs::max_record_size(64 * 1024), 65120);
/// assert_eq!(clfs::max_record_size(1024 * 1024), 255 * 512 - 152 - 512);
/// ```
///
/// IRQL: any.
pub const fn max_record_size(buffer_size: u32) -> u32 {
    let block = if buffer_size < MAX_BLOCK_SIZE {
        buffer_size
    } else {
        MAX_BLOCK_SIZE
    };
    let fixups = ((block / 512) * 2 + 2 + 7) & !7;
    block.saturating_sub(RECORD_OVERHEAD + fixups)
}

/// How a record is appended: its chain links and flags.
///
/// ```
/// use clfs::{Append, Lsn};
/// let first = Lsn::new(0, 0, 0).unwrap();
/// let opts = Append::new().previous(first).undo_next(first).force_flush();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Append {
    undo_next: Option<Lsn>,
    previous: Option<Lsn>,
    flags: u32,
}

impl Append {
    /// No chain links, no flags: the record waits in the marshalling area.
    ///
    /// IRQL: any.
    pub const fn new() -> Self {
        Append {
            undo_next: None,
            previous: None,
            flags: sys::CLFS_FLAG_NO_FLAGS,
        }
    }

    /// The record's undo-next link (`CLFS_LSN_INVALID` when not set): an LSN of the same
    /// stream ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    ///
    /// IRQL: any.
    pub const fn undo_next(mut self, lsn: Lsn) -> Self {
        self.undo_next = Some(lsn);
        self
    }

    /// The record's previous link (`CLFS_LSN_INVALID` when not set): an LSN of the same
    /// stream ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    ///
    /// IRQL: any.
    pub const fn previous(mut self, lsn: Lsn) -> Self {
        self.previous = Some(lsn);
        self
    }

    /// `CLFS_FLAG_FORCE_APPEND`: queue the block to stable storage after the append
    /// (durability is not guaranteed).
    ///
    /// IRQL: any.
    pub const fn force_append(mut self) -> Self {
        self.flags |= sys::CLFS_FLAG_FORCE_APPEND;
        self
    }

    /// `CLFS_FLAG_FORCE_FLUSH`: the record is on stable storage when the call returns.
    ///
    /// IRQL: any.
    pub const fn force_flush(mut self) -> Self {
        self.flags |= sys::CLFS_FLAG_FORCE_FLUSH;
        self
    }
}

/// Room for the write entries of one record, on the stack. Only the first `count` slots that
/// [`gather`] reports are initialised; nothing else is ever read.
type Entries = [MaybeUninit<sys::CLFS_WRITE_ENTRY>; MAX_WRITE_ENTRIES];

/// Gathers `entries` into `CLFS_WRITE_ENTRY`s in `raw`, without copying their bytes (and
/// without zeroing or moving the array: it is filled in place). Returns the count.
#[inline(always)]
fn gather(entries: &[&[u8]], buffer_size: u32, raw: &mut Entries) -> Result<u32> {
    if entries.is_empty() {
        return Err(Error::NoEntries);
    }
    if entries.len() > MAX_WRITE_ENTRIES {
        return Err(Error::TooManyEntries {
            count: entries.len(),
            max: MAX_WRITE_ENTRIES,
        });
    }
    let max = max_record_size(buffer_size) as usize;
    let mut total: usize = 0;
    for (slot, entry) in raw.iter_mut().zip(entries) {
        total = total.saturating_add(entry.len());
        slot.write(sys::CLFS_WRITE_ENTRY {
            Buffer: entry.as_ptr().cast_mut().cast::<c_void>(),
            // Cannot truncate: total <= max <= u32::MAX is checked below before any use.
            ByteLength: entry.len().min(u32::MAX as usize) as u32,
        });
    }
    if total > max {
        return Err(Error::RecordTooLarge {
            size: total,
            max,
            buffer_size,
        });
    }
    // entries.len() <= MAX_WRITE_ENTRIES, so it fits in u32.
    Ok(entries.len() as u32)
}

/// The LSN a successful call wrote to its out parameter (initialised to `CLFS_LSN_INVALID`
/// before the call); a success that left it untouched (or wrote `CLFS_LSN_INVALID`) is
/// [`Error::InconsistentOutput`]. `what` names the LSN ("the record's LSN").
#[inline]
pub(crate) fn success_lsn(
    routine: &'static str,
    status: crate::NtStatus,
    what: &'static str,
    out: sys::CLFS_LSN,
) -> Result<Lsn> {
    Lsn::from_sys(out).valid().ok_or(Error::InconsistentOutput {
        routine,
        status,
        detail: crate::Inconsistency::InvalidLsn { what },
    })
}

/// The `CLFS_LSN_INVALID` link CLFS expects for "not in a chain" (reference §1.5).
const NO_LINK: sys::CLFS_LSN = Lsn::INVALID.to_sys();

impl<'log, B: Blocks> MarshallingArea<'log, B> {
    /// Appends one record made of `entries`, concatenated, and returns its LSN
    /// (`ClfsReserveAndAppendLog`). The bytes are not copied by this library.
    ///
    /// The LSN is one of this area's stream: it orders the stream's records, and means
    /// nothing next to an LSN of another stream of the same multiplexed log
    /// ([`Lsn`](crate::Lsn#lsns-of-different-streams)). A success that returns
    /// `CLFS_LSN_INVALID` as the LSN is [`Error::InconsistentOutput`] (so are the other appends
    /// and [`flush`](Self::flush)).
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// # use clfs::*;
    /// # let log = LogFile::create(wide!("log:C:\\doc\\append"), LogOptions::new().create_if_missing())?;
    /// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
    /// # let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
    /// let a = area.append(&[b"header:", b"payload"])?;
    /// let b = area.append_with(&[b"second"], Append::new().previous(a).force_flush())?;
    /// assert!(a < b);
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    #[inline]
    pub fn append(&self, entries: &[&[u8]]) -> Result<Lsn> {
        self.append_raw(entries, None, &Append::new(), false)
    }

    /// Appends one record with chain links and flags (`ClfsReserveAndAppendLog`).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    #[inline]
    pub fn append_with(&self, entries: &[&[u8]], options: Append) -> Result<Lsn> {
        self.append_raw(entries, None, &options, false)
    }

    /// Appends one record whose entries each start at a multiple of `alignment` bytes within
    /// the record, zero-padded (`ClfsReserveAndAppendLogAligned`).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn append_aligned(
        &self,
        entries: &[&[u8]],
        alignment: u32,
        options: Append,
    ) -> Result<Lsn> {
        if alignment == 0 {
            return Err(Error::ZeroAlignment);
        }
        // The padding counts towards the record size: check the padded length.
        let mut padded: usize = 0;
        for e in entries {
            padded = padded
                .div_ceil(alignment as usize)
                .saturating_mul(alignment as usize);
            padded = padded.saturating_add(e.len());
        }
        let max = max_record_size(self.config().buffer_size()) as usize;
        if padded > max {
            return Err(Error::RecordTooLarge {
                size: padded,
                max,
                buffer_size: self.config().buffer_size(),
            });
        }
        self.append_raw(entries, Some(alignment), &options, false)
    }

    #[inline]
    pub(crate) fn append_raw(
        &self,
        entries: &[&[u8]],
        alignment: Option<u32>,
        options: &Append,
        use_reservation: bool,
    ) -> Result<Lsn> {
        let routine = if alignment.is_some() {
            "ClfsReserveAndAppendLogAligned"
        } else {
            "ClfsReserveAndAppendLog"
        };
        require_passive_or_apc(routine)?;
        let mut raw: Entries = [const { MaybeUninit::uninit() }; MAX_WRITE_ENTRIES];
        let count = gather(entries, self.config().buffer_size(), &mut raw)?;
        // The first `count` slots are initialised (gather); CLFS reads only those.
        let raw = raw.as_ptr().cast::<sys::CLFS_WRITE_ENTRY>();
        let undo = options.undo_next.map_or(NO_LINK, Lsn::to_sys);
        let prev = options.previous.map_or(NO_LINK, Lsn::to_sys);
        let mut flags = options.flags;
        if use_reservation {
            flags |= sys::CLFS_FLAG_USE_RESERVATION;
        }
        // Initialised, so that nothing uninitialised is read whatever the callee writes.
        let mut out = Lsn::INVALID.to_sys();
        let status = match alignment {
            // SAFETY: the context is live (area invariant); `raw[..count]` are initialised write
            // entries over caller slices that outlive the call; the links point to locals; no
            // reservation array (cReserveRecords 0); `out` is a valid out pointer.
            None => unsafe {
                sys::ClfsReserveAndAppendLog(
                    self.as_raw(),
                    raw,
                    count,
                    &undo,
                    &prev,
                    0,
                    core::ptr::null_mut(),
                    flags,
                    &mut out,
                )
            },
            // SAFETY: as above, with a non-zero alignment.
            Some(a) => unsafe {
                sys::ClfsReserveAndAppendLogAligned(
                    self.as_raw(),
                    raw,
                    count,
                    a,
                    &undo,
                    &prev,
                    0,
                    core::ptr::null_mut(),
                    flags,
                    &mut out,
                )
            },
        };
        let status = check(routine, status)?;
        success_lsn(routine, status, "the record's LSN", out)
    }

    /// Flushes every record in the area to stable storage (`ClfsFlushToLsn` with
    /// `CLFS_LSN_NULL`). Returns the first LSN not flushed, a bound in this area's stream: in
    /// a dedicated log, the LSN the next record will get; in a stream of a multiplexed log
    /// the next record may get a later one (the streams share the physical log). It says
    /// nothing about other streams: a flush makes only this stream's records durable
    /// ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn flush(&self) -> Result<Lsn> {
        self.flush_raw(Lsn::NULL)
    }

    /// Makes every record up to and including `lsn` durable (`ClfsFlushToLsn`); more may be
    /// flushed. Returns the first LSN not flushed. `lsn` and the result are LSNs of this
    /// area's stream ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    ///
    /// `flush_to(Lsn::NULL)` flushes the whole area, like [`flush`](Self::flush): CLFS reads
    /// `CLFS_LSN_NULL` as "everything", which also covers a new log's first record (LSN
    /// 0:0x0:0).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn flush_to(&self, lsn: Lsn) -> Result<Lsn> {
        if lsn.is_invalid() {
            return Err(Error::InvalidLsn {
                what: "the LSN to flush to",
            });
        }
        self.flush_raw(lsn)
    }

    fn flush_raw(&self, lsn: Lsn) -> Result<Lsn> {
        const ROUTINE: &str = "ClfsFlushToLsn";
        require_passive_or_apc(ROUTINE)?;
        let target = lsn.to_sys();
        let mut out = Lsn::INVALID.to_sys();
        // SAFETY: the context is live; `target` and `out` are valid for the call.
        let status = unsafe { sys::ClfsFlushToLsn(self.as_raw(), &target, &mut out) };
        let status = check(ROUTINE, status)?;
        success_lsn(ROUTINE, status, "the first LSN not flushed", out)
    }

    /// Moves the stream's base LSN to `lsn` (`ClfsAdvanceLogBase`), releasing the space of
    /// older records once their containers can be recycled. `lsn` must lie between the current
    /// base and the last LSN, and not past the latest restart area (write a new restart area
    /// with [`write_restart_with_base`](Self::write_restart_with_base) to move past it); this
    /// is checked first. `lsn` is an LSN of this area's stream; other streams of a
    /// multiplexed log keep their own bases ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn advance_base(&self, lsn: Lsn) -> Result<()> {
        const ROUTINE: &str = "ClfsAdvanceLogBase";
        require_passive_or_apc(ROUTINE)?;
        if lsn.is_invalid() {
            return Err(Error::InvalidLsn {
                what: "the new base LSN",
            });
        }
        let info = self.log().info()?;
        if lsn < info.base || lsn > info.last {
            return Err(Error::BaseOutOfRange {
                new: lsn,
                base: info.base,
                last: info.last,
            });
        }
        // A base past the latest restart area would make that checkpoint unreadable
        // (STATUS_LOG_START_OF_LOG), and recovery could not start: docs/decisions.md.
        if let Some(restart) = info.restart.filter(|r| lsn > *r) {
            return Err(Error::BasePastRestart { new: lsn, restart });
        }
        let raw = lsn.to_sys();
        // SAFETY: the context is live; `raw` is valid for the call; flags must be 0.
        let status = unsafe { sys::ClfsAdvanceLogBase(self.as_raw(), &raw, 0) };
        check(ROUTINE, status).map(drop)
    }

    /// Reserves space for records of the given data sizes (`ClfsReserveAndAppendLog` with no
    /// entries), so that appending them later cannot fail for lack of space. The returned
    /// guard appends into the reservation and frees whatever is left when dropped.
    ///
    /// Refused before the call: no size ([`Error::Reservation`]), more than
    /// [`MAX_RESERVED_RECORDS`] sizes ([`Error::TooManyReservedRecords`]), a size of 0
    /// ([`Error::EmptyReservedRecord`], which names its index), a size that no marshalling
    /// buffer holds ([`Error::RecordTooLarge`]), and a second live guard on the area
    /// ([`Error::ReservationInUse`]).
    ///
    /// ```
    /// # let _sandbox = clfs_emu::Sandbox::new();
    /// # use clfs::*;
    /// # let log = LogFile::create(wide!("log:C:\\doc\\reserve"), LogOptions::new().create_if_missing())?;
    /// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
    /// # let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
    /// let mut undo_space = area.reserve(&[100, 100])?;
    /// assert_eq!(undo_space.records(), 2);
    /// undo_space.append(&[b"compensation record"], Append::new())?;
    /// drop(undo_space); // the unused record's space is freed
    /// assert_eq!(log.info()?.total_reservation, 0);
    /// # Ok::<(), clfs::Error>(())
    /// ```
    ///
    /// Clfs.sys returns the space it reserved for each record, which the guard frees by
    /// later; a size below the record's is [`Error::InconsistentOutput`], and the records
    /// are freed again by the sizes asked for (Clfs.sys frees the nearest match).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn reserve(&self, sizes: &[u32]) -> Result<Reservation<'_, 'log, B>> {
        const ROUTINE: &str = "ClfsReserveAndAppendLog";
        require_passive_or_apc(ROUTINE)?;
        if sizes.is_empty() {
            return Err(Error::Reservation {
                rule: "a reservation needs at least one record",
            });
        }
        if sizes.len() > MAX_RESERVED_RECORDS {
            return Err(Error::TooManyReservedRecords {
                count: sizes.len(),
                max: MAX_RESERVED_RECORDS,
            });
        }
        if let Some(index) = sizes.iter().position(|&s| s == 0) {
            return Err(Error::EmptyReservedRecord {
                index,
                count: sizes.len(),
            });
        }
        let max = max_record_size(self.config().buffer_size());
        if let Some(&too_big) = sizes.iter().find(|&&s| s > max) {
            return Err(Error::RecordTooLarge {
                size: too_big as usize,
                max: max as usize,
                buffer_size: self.config().buffer_size(),
            });
        }
        // At most one live guard per area: CLFS consumes whichever reserved record of the area
        // fits, so a second guard's accounting could not match (docs/decisions.md).
        if self
            .reservation_live
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(Error::ReservationInUse);
        }
        let mut asked = [0i64; MAX_RESERVED_RECORDS];
        for (slot, size) in asked.iter_mut().zip(sizes) {
            *slot = i64::from(*size);
        }
        let mut amounts = asked;
        let count = sizes.len() as u32;
        // SAFETY: the context is live; no entries (NULL, 0) and no LSN out pointer, as the
        // reserve-only pattern requires; `amounts` holds `count` in/out LONGLONGs.
        let status = unsafe {
            sys::ClfsReserveAndAppendLog(
                self.as_raw(),
                core::ptr::null(),
                0,
                core::ptr::null(),
                core::ptr::null(),
                count,
                amounts.as_mut_ptr(),
                0,
                core::ptr::null_mut(),
            )
        };
        let status = match check(ROUTINE, status) {
            Ok(status) => status,
            Err(e) => {
                // Nothing was reserved (the call is atomic): give the area's guard slot back.
                self.reservation_live.store(false, Ordering::Release);
                return Err(e);
            }
        };
        // On return each entry holds the space actually reserved for that record, headers
        // and alignment included: never less than the record. The guard later frees by these
        // sizes (negated), so a size that breaks the rule is not kept.
        let below = amounts
            .iter()
            .zip(sizes)
            .find(|&(&reserved, &record)| reserved < i64::from(record));
        if let Some((&reserved, &record)) = below {
            // Free the records again by the sizes asked for: a guard over them does it when
            // dropped (CLFS frees the reserved record that most nearly matches each size,
            // reference §1.5) and gives the area's guard slot back. If the free fails, the
            // records stay reserved until the area is deleted.
            drop(Reservation {
                area: self,
                slots: asked,
                len: sizes.len(),
                reserved: sizes.len(),
            });
            return Err(Error::InconsistentOutput {
                routine: ROUTINE,
                status,
                detail: crate::Inconsistency::ReservationBelowRecord {
                    reserved,
                    record: u64::from(record),
                },
            });
        }
        Ok(Reservation {
            area: self,
            slots: amounts,
            len: sizes.len(),
            reserved: sizes.len(),
        })
    }

    /// `ClfsAlignReservedLog` for one record of `size` data bytes: the space CLFS reserves
    /// for it, headers and alignment included.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn reservation_size(&self, size: u32) -> Result<i64> {
        const ROUTINE: &str = "ClfsAlignReservedLog";
        require_passive_or_apc(ROUTINE)?;
        let sizes = [i64::from(size)];
        let mut out = 0i64;
        // SAFETY: the context is live; `sizes` holds one LONGLONG; `out` is writable.
        let status =
            unsafe { sys::ClfsAlignReservedLog(self.as_raw(), 1, sizes.as_ptr(), &mut out) };
        check(ROUTINE, status)?;
        Ok(out)
    }
}

/// The most records one [`MarshallingArea::reserve`] call reserves.
pub const MAX_RESERVED_RECORDS: usize = 64;

/// Space reserved in a marshalling area for records not yet written.
///
/// The guard keeps the space CLFS reserved for each record (headers and alignment included).
/// Appending through it uses the reserved space (`CLFS_FLAG_USE_RESERVATION`), which consumes
/// the smallest reserved record that can hold the new one; when the guard is dropped, each
/// record still reserved is freed (a negative `rgcbReservation` entry per record in one
/// `ClfsReserveAndAppendLog` call, which CLFS matches to the reserved record of that size), so
/// reserved space that is never used cannot leak. Deleting the area releases even a leaked
/// (`mem::forget`) guard's space.
///
/// An area has at most one live guard. CLFS keeps one pool of reserved records per marshalling
/// area and an append with `CLFS_FLAG_USE_RESERVATION` consumes whichever record of the pool
/// fits, so two guards could consume each other's records. A second
/// [`reserve`](MarshallingArea::reserve) while a guard is live fails with
/// [`Error::ReservationInUse`] before any call; reserve all the records one unit of work needs
/// in one call. A guard leaked with `mem::forget` keeps the area's slot taken: the area then
/// refuses new reservations until it is deleted.
///
/// ```
/// # let _sandbox = clfs_emu::Sandbox::new();
/// # use clfs::*;
/// # let log = LogFile::create(wide!("log:C:\\doc\\reserve-one"), LogOptions::new().create_if_missing())?;
/// # log.add_containers(&[wide!("%BLF%\\c0"), wide!("%BLF%\\c1")], 512 * 1024)?;
/// # let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))?;
/// let undo = area.reserve(&[100])?;
/// assert_eq!(area.reserve(&[3000]).unwrap_err(), Error::ReservationInUse);
/// drop(undo);
/// let _redo = area.reserve(&[3000])?; // the slot is free again
/// # Ok::<(), clfs::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping a reservation frees it at once"]
pub struct Reservation<'a, 'log, B: Blocks> {
    area: &'a MarshallingArea<'log, B>,
    /// The reserved records' sizes; `slots[..len]` are live.
    slots: [i64; MAX_RESERVED_RECORDS],
    len: usize,
    /// How many records were reserved (`len` when the guard was made), for
    /// [`Error::ReservationUsedUp`].
    reserved: usize,
}

impl<B: Blocks> Reservation<'_, '_, B> {
    /// Records still reserved.
    ///
    /// IRQL: any.
    pub fn records(&self) -> u32 {
        self.len as u32
    }

    /// The live slots (`slots[..len]`), without an index that could panic.
    fn live(&self) -> &[i64] {
        self.slots.get(..self.len).unwrap_or(&[])
    }

    /// Bytes still reserved, headers and alignment included.
    ///
    /// IRQL: any.
    pub fn bytes(&self) -> i64 {
        self.live().iter().copied().fold(0, i64::saturating_add)
    }

    /// Appends one record into the reserved space and returns its LSN, one of the area's
    /// stream ([`Lsn`](crate::Lsn#lsns-of-different-streams)). Refused before the call when every
    /// reserved record has been used ([`Error::ReservationUsedUp`], which names how many the
    /// reservation held), when the record holds no byte ([`Error::EmptyReservedAppend`]), or
    /// when none is large enough for this one ([`Error::ReservationTooSmall`], which names both
    /// sizes).
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn append(&mut self, entries: &[&[u8]], options: Append) -> Result<Lsn> {
        if self.len == 0 {
            return Err(Error::ReservationUsedUp {
                reserved: self.reserved,
            });
        }
        if entries.is_empty() {
            return Err(Error::NoEntries);
        }
        let total = entries
            .iter()
            .fold(0usize, |t, e| t.saturating_add(e.len()));
        if total == 0 {
            return Err(Error::EmptyReservedAppend {
                entries: entries.len(),
            });
        }
        let share = self
            .area
            .reservation_size(u32::try_from(total).unwrap_or(u32::MAX))?;
        let slot = self
            .live()
            .iter()
            .enumerate()
            .filter(|(_, &s)| s >= share)
            .min_by_key(|(_, &s)| s)
            .map(|(i, _)| i)
            .ok_or_else(|| Error::ReservationTooSmall {
                size: share,
                largest: self.live().iter().copied().max().unwrap_or(0),
            })?;
        let lsn = self.area.append_raw(entries, None, &options, true)?;
        // Swap-remove the used slot (`len >= 1` was checked above); `get` keeps the kernel
        // image free of bounds-check panics.
        let last = self.len - 1;
        if let Some(&moved) = self.slots.get(last) {
            if let Some(used) = self.slots.get_mut(slot) {
                *used = moved;
            }
        }
        self.len = last;
        Ok(lsn)
    }

    /// Frees what is left now, returning the status.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called. Refused, the
    /// records stay reserved until the area is deleted.
    pub fn release(mut self) -> Result<()> {
        self.free()
    }

    fn free(&mut self) -> Result<()> {
        const ROUTINE: &str = "ClfsReserveAndAppendLog";
        if self.len == 0 {
            return Ok(());
        }
        require_passive_or_apc(ROUTINE)?;
        let mut entries = [0i64; MAX_RESERVED_RECORDS];
        for (e, s) in entries.iter_mut().zip(self.live()) {
            *e = -*s;
        }
        let count = self.len as u32;
        self.len = 0;
        // SAFETY: the context is live (the guard borrows the area); no entries and no LSN (the
        // reserve-only pattern); `entries` holds `count` in/out LONGLONGs, each negative: free
        // the reserved record of that size (reference §1.5).
        let status = unsafe {
            sys::ClfsReserveAndAppendLog(
                self.area.as_raw(),
                core::ptr::null(),
                0,
                core::ptr::null(),
                core::ptr::null(),
                count,
                entries.as_mut_ptr(),
                0,
                core::ptr::null_mut(),
            )
        };
        check(ROUTINE, status).map(drop)
    }
}

/// IRQL: PASSIVE_LEVEL or APC_LEVEL. Dropped above APC_LEVEL, the records still reserved leak
/// instead of bugchecking (no free call is made there); deleting the area releases them.
/// [`Reservation::release`] reports that refusal.
impl<B: Blocks> Drop for Reservation<'_, '_, B> {
    fn drop(&mut self) {
        let _ = self.free();
        // The area may get a new guard now. If the free was refused (IRQL) or failed, the
        // records stay reserved until the area is deleted; a new guard's counts stay right,
        // because each of its appends and frees moves CLFS's record count by one, as its own.
        self.area.reservation_live.store(false, Ordering::Release);
    }
}

impl crate::log::LogFile {
    /// Sets the archive tail (`ClfsSetArchiveTail`): records from `lsn` on are kept for
    /// archiving even if the base moves past them. `lsn` is an LSN of this object's stream
    /// ([`Lsn`](crate::Lsn#lsns-of-different-streams)).
    ///
    /// Only an archivable log has an archive tail: create it with
    /// [`LogOptions::archive(true)`](crate::LogOptions::archive) (`FILE_ATTRIBUTE_ARCHIVE`).
    /// On an ephemeral log (the default) Clfs.sys refuses with `STATUS_LOG_EPHEMERAL`.
    ///
    /// IRQL: PASSIVE_LEVEL or APC_LEVEL; above it the call is refused with
    /// [`IrqlTooHigh`](crate::Error::IrqlTooHigh) and Clfs.sys is not called.
    pub fn set_archive_tail(&self, lsn: Lsn) -> Result<()> {
        const ROUTINE: &str = "ClfsSetArchiveTail";
        require_passive_or_apc(ROUTINE)?;
        if lsn.is_invalid() {
            return Err(Error::InvalidLsn {
                what: "the archive tail",
            });
        }
        let raw = lsn.to_sys();
        // SAFETY: the log object is open (LogFile invariant); `raw` is valid for the call.
        let status = unsafe { sys::ClfsSetArchiveTail(self.as_raw(), &raw) };
        check(ROUTINE, status).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The safe layer passes the caller's bytes to CLFS in place: each write entry points at
    /// the caller's slice, with its length; nothing is copied (and the crate has no allocator
    /// to copy into: it is `no_std` without `alloc`).
    #[test]
    fn gather_points_at_the_callers_bytes() {
        let a = [1u8; 3];
        let b = [2u8; 70];
        let entries: [&[u8]; 2] = [&a, &b];
        let mut raw: Entries = [const { MaybeUninit::uninit() }; MAX_WRITE_ENTRIES];
        assert_eq!(gather(&entries, 4096, &mut raw), Ok(2));
        for (slot, e) in raw.iter().zip(entries) {
            // SAFETY: gather initialised the first two slots (it returned 2).
            let w = unsafe { slot.assume_init_ref() };
            assert_eq!(w.Buffer.cast_const().cast::<u8>(), e.as_ptr());
            assert_eq!(w.ByteLength as usize, e.len());
        }
    }

    #[test]
    fn gather_refuses_no_entries_and_oversized_records() {
        let mut raw: Entries = [const { MaybeUninit::uninit() }; MAX_WRITE_ENTRIES];
        assert_eq!(gather(&[], 4096, &mut raw), Err(Error::NoEntries));
        let big = [0u8; 4096];
        assert_eq!(
            gather(&[&big], 4096, &mut raw),
            Err(Error::RecordTooLarge {
                size: 4096,
                max: 4096 - RECORD_OVERHEAD as usize - 24,
                buffer_size: 4096,
            })
        );
    }
}
