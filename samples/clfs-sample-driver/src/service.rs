//! The device interface's logic: what each IOCTL does with the log, and the per-handle read
//! state, free of any IRP plumbing, so that host tests can run exactly this code against the
//! `clfs-emu` emulator.
//!
//! The protocol (control codes, layouts) is `clfs-sample-proto`'s; see `docs/ioctl.md`.
//!
//! * [`device_control`] serves one `IRP_MJ_DEVICE_CONTROL` on the I/O manager's system buffer
//!   (METHOD_BUFFERED: one buffer, the input is read first, the reply written over it) and
//!   returns the status and the `IoStatus.Information` value, never more than the output
//!   length.
//! * [`Handle`] is the state of one open file object (its `FsContext`): the read in
//!   progress. It is guarded without a lock: a request claims the handle with one atomic
//!   exchange, a second concurrent READ on the same handle gets `STATUS_DEVICE_BUSY`, and
//!   [`Handle::cleanup`] (IRP_MJ_CLEANUP) ends the read, at once or, if a READ is running on
//!   another thread, when that READ finishes.
//!
//! IRQL: PASSIVE_LEVEL (the dispatch routines of a top-level driver). `clfs` checks the IRQL
//! before each CLFS call and refuses above APC_LEVEL.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, Ordering};

use clfs::{Append, Lsn, MarshallingArea, ReadContext};
use clfs_sample_proto as proto;

use crate::logic::SamplePool;

/// An NTSTATUS value.
pub type Status = i32;

/// `STATUS_SUCCESS`.
pub const STATUS_SUCCESS: Status = 0;
/// `STATUS_BUFFER_OVERFLOW` (a warning: the reply's header is returned).
pub const STATUS_BUFFER_OVERFLOW: Status = 0x8000_0005_u32 as i32;
/// `STATUS_DEVICE_BUSY` (a warning): another READ is running on this handle.
pub const STATUS_DEVICE_BUSY: Status = 0x8000_0011_u32 as i32;
/// `STATUS_INVALID_PARAMETER`.
pub const STATUS_INVALID_PARAMETER: Status = 0xC000_000D_u32 as i32;
/// `STATUS_INVALID_DEVICE_REQUEST`.
pub const STATUS_INVALID_DEVICE_REQUEST: Status = 0xC000_0010_u32 as i32;
/// `STATUS_BUFFER_TOO_SMALL`.
pub const STATUS_BUFFER_TOO_SMALL: Status = 0xC000_0023_u32 as i32;
/// `STATUS_FILE_CLOSED`: the handle was cleaned up.
pub const STATUS_FILE_CLOSED: Status = 0xC000_0128_u32 as i32;
/// `STATUS_INVALID_DEVICE_STATE`: a READ continues, but the handle has no read in progress.
pub const STATUS_INVALID_DEVICE_STATE: Status = 0xC000_0184_u32 as i32;

/// The marshalling area the device serves, borrowed for as long as the device exists.
pub type Area = MarshallingArea<'static, SamplePool>;

/// The outcome of one request: the `IoStatus` the IRP completes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// `IoStatus.Status`.
    pub status: Status,
    /// `IoStatus.Information`: bytes of the reply (never more than the output length).
    pub information: usize,
}

impl Reply {
    const fn fail(status: Status) -> Reply {
        Reply {
            status,
            information: 0,
        }
    }

    const fn ok(information: usize) -> Reply {
        Reply {
            status: STATUS_SUCCESS,
            information,
        }
    }
}

/// The NTSTATUS for a failed `clfs` call: Clfs.sys's status, or, when `clfs` refused before
/// calling, the status `clfs::Error::ntstatus` chooses (`STATUS_INVALID_PARAMETER` for bad
/// arguments, `STATUS_LOG_RECORD_NONEXISTENT` for an LSN outside the log, ...).
pub fn error_status(e: &clfs::Error) -> Status {
    e.ntstatus().0
}

/// A record read but not returned yet: it did not fit the last reply.
///
/// # Invariants
/// `data` points to `len` bytes of the read context's buffer, valid until the next read on
/// that context or its termination (`ClfsReadNextLogRecord`'s contract).
struct Held {
    data: *const u8,
    len: usize,
    lsn: u64,
}

/// The read in progress on one handle.
struct Reader {
    cx: ReadContext<'static>,
    /// The record the context returned last, if it is not delivered yet. Set only right
    /// after a step, cleared before the next one.
    held: Option<Held>,
}

impl Reader {
    /// The held record's bytes.
    fn held_data(&self) -> Option<(u64, &[u8])> {
        let h = self.held.as_ref()?;
        // SAFETY: `held` is only set right after a step of `cx` and cleared before the next
        // step or the context's termination (`Held` invariant), so the bytes are still valid;
        // the returned slice borrows `self`, which owns the context.
        let data = unsafe { core::slice::from_raw_parts(h.data, h.len) };
        Some((h.lsn, data))
    }
}

/// The state of one open handle (one `FILE_OBJECT`).
///
/// # Invariants
/// `reader` is accessed only by the one party that moved `state` from `IDLE` to `BUSY`
/// (a request) or from `IDLE` to `CLOSED` (cleanup), or by the request that sees `BUSY_CLOSING`
/// when it finishes.
pub struct Handle {
    state: AtomicU8,
    reader: UnsafeCell<Option<Reader>>,
}

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const BUSY_CLOSING: u8 = 2;
const CLOSED: u8 = 3;

// SAFETY: `reader` is only accessed by the single owner of the state machine (type invariant),
// with Acquire/Release on `state` ordering one owner's accesses before the next's. A read
// context may move between threads (`ReadContext: Send`).
unsafe impl Sync for Handle {}
// SAFETY: as above; the held pointer refers into the context's own buffer, which moves with it.
unsafe impl Send for Handle {}

impl Default for Handle {
    fn default() -> Self {
        Self::new()
    }
}

/// A claimed handle: releases the claim on drop, ending the read if cleanup came meanwhile.
struct Claim<'h>(&'h Handle);

impl Claim<'_> {
    fn reader(&mut self) -> &mut Option<Reader> {
        // SAFETY: we moved `state` to BUSY, so we own `reader` until the claim is dropped.
        unsafe { &mut *self.0.reader.get() }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if self
            .0
            .state
            .compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Cleanup ran meanwhile (BUSY_CLOSING): it left ending the read to us.
            *self.reader() = None;
            self.0.state.store(CLOSED, Ordering::Release);
        }
    }
}

impl Handle {
    /// A fresh handle: no read in progress.
    pub const fn new() -> Handle {
        Handle {
            state: AtomicU8::new(IDLE),
            reader: UnsafeCell::new(None),
        }
    }

    fn claim(&self) -> Result<Claim<'_>, Status> {
        match self
            .state
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(Claim(self)),
            Err(CLOSED) => Err(STATUS_FILE_CLOSED),
            Err(_) => Err(STATUS_DEVICE_BUSY),
        }
    }

    /// Whether a read is in progress (its context open). For tests; `false` while a request
    /// holds the handle.
    pub fn reading(&self) -> bool {
        match self.claim() {
            Ok(mut c) => c.reader().is_some(),
            Err(_) => false,
        }
    }

    /// IRP_MJ_CLEANUP: ends the read in progress (terminates its read context) now, or, if a
    /// request is running on this handle, when it finishes. Later requests get
    /// `STATUS_FILE_CLOSED`.
    pub fn cleanup(&self) {
        loop {
            match self
                .state
                .compare_exchange(IDLE, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    // SAFETY: we moved `state` from IDLE to CLOSED: we own `reader` now, and
                    // nobody else will touch it again.
                    let reader = unsafe { &mut *self.reader.get() };
                    *reader = None;
                    return;
                }
                Err(BUSY) => {
                    if self
                        .state
                        .compare_exchange(BUSY, BUSY_CLOSING, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        return;
                    }
                    // The request finished meanwhile: try again from IDLE.
                }
                Err(_) => return,
            }
        }
    }
}

/// Serves one device-control request.
///
/// `buffer` is the system buffer (empty if the I/O manager passed none), at least
/// `max(in_len, out_len)` bytes; the request is its first `in_len` bytes, the reply goes into
/// its first `out_len` bytes. Returns the status and the number of reply bytes.
pub fn device_control(
    area: &'static Area,
    handle: &Handle,
    code: u32,
    buffer: &mut [u8],
    in_len: usize,
    out_len: usize,
) -> Reply {
    if buffer.len() < in_len.max(out_len) {
        // The I/O manager never does this; refuse rather than read or write out of bounds.
        return Reply::fail(STATUS_INVALID_PARAMETER);
    }
    let reply = match code {
        proto::IOCTL_CLFS_SAMPLE_APPEND => append(area, buffer, in_len, out_len),
        proto::IOCTL_CLFS_SAMPLE_FLUSH => flush(area, buffer, out_len),
        proto::IOCTL_CLFS_SAMPLE_READ => read(area, handle, buffer, in_len, out_len),
        proto::IOCTL_CLFS_SAMPLE_QUERY => query(area, buffer, out_len),
        _ => Reply::fail(STATUS_INVALID_DEVICE_REQUEST),
    };
    if reply.information > out_len {
        // Not reachable (every reply checks its size first); never report more than fits.
        return Reply::fail(STATUS_INVALID_PARAMETER);
    }
    reply
}

fn proto_status(e: proto::ProtoError) -> Status {
    match e {
        proto::ProtoError::TooShort { .. } => STATUS_BUFFER_TOO_SMALL,
        proto::ProtoError::BadField { .. } => STATUS_INVALID_PARAMETER,
    }
}

fn out(buffer: &mut [u8], out_len: usize) -> &mut [u8] {
    buffer.get_mut(..out_len).unwrap_or_default()
}

fn append(area: &Area, buffer: &mut [u8], in_len: usize, out_len: usize) -> Reply {
    if out_len < proto::AppendReply::SIZE {
        return Reply::fail(STATUS_BUFFER_TOO_SMALL);
    }
    let input = buffer.get(..in_len).unwrap_or_default();
    let (request, record) = match proto::AppendRequest::decode(input) {
        Ok(r) => r,
        Err(e) => return Reply::fail(proto_status(e)),
    };
    let lsn = match area.append_with(&[record], Append::new()) {
        Ok(lsn) => lsn,
        Err(e) => return Reply::fail(error_status(&e)),
    };
    let flushed = if request.flags & proto::APPEND_FORCE_FLUSH != 0 {
        match area.flush_to(lsn) {
            Ok(f) => f.raw(),
            Err(e) => return Reply::fail(error_status(&e)),
        }
    } else {
        proto::LSN_NONE
    };
    let reply = proto::AppendReply {
        lsn: lsn.raw(),
        flushed,
    };
    match reply.encode(out(buffer, out_len)) {
        Ok(n) => Reply::ok(n),
        Err(e) => Reply::fail(proto_status(e)),
    }
}

fn flush(area: &Area, buffer: &mut [u8], out_len: usize) -> Reply {
    if out_len < proto::FlushReply::SIZE {
        return Reply::fail(STATUS_BUFFER_TOO_SMALL);
    }
    let flushed = match area.flush() {
        Ok(l) => l.raw(),
        Err(e) => return Reply::fail(error_status(&e)),
    };
    match (proto::FlushReply { flushed }).encode(out(buffer, out_len)) {
        Ok(n) => Reply::ok(n),
        Err(e) => Reply::fail(proto_status(e)),
    }
}

fn query(area: &Area, buffer: &mut [u8], out_len: usize) -> Reply {
    if out_len < 4 {
        return Reply::fail(STATUS_BUFFER_TOO_SMALL);
    }
    if out_len < proto::QueryReply::SIZE {
        // The first field is the reply's size: tell the caller how much it needs.
        let size = (proto::QueryReply::SIZE as u32).to_le_bytes();
        if let Some(b) = buffer.get_mut(..4) {
            b.copy_from_slice(&size);
        }
        return Reply {
            status: STATUS_BUFFER_OVERFLOW,
            information: 4,
        };
    }
    let info = match area.log().info() {
        Ok(i) => i,
        Err(e) => return Reply::fail(error_status(&e)),
    };
    let reply = proto::QueryReply {
        containers: info.containers,
        base: info.base.raw(),
        last: info.last.raw(),
        restart: info.restart.map_or(proto::LSN_NONE, Lsn::raw),
        flushed: info.last_flushed.raw(),
        free_bytes: u64::try_from(info.current_available).unwrap_or(0),
        total_bytes: u64::try_from(info.total_available).unwrap_or(0),
        container_size: info.container_size,
    };
    match reply.encode(out(buffer, out_len)) {
        Ok(n) => Reply::ok(n),
        Err(e) => Reply::fail(proto_status(e)),
    }
}

fn mode(m: proto::ReadMode) -> clfs::ReadMode {
    match m {
        proto::ReadMode::Forward => clfs::ReadMode::Forward,
        proto::ReadMode::Previous => clfs::ReadMode::Previous,
        proto::ReadMode::UndoNext => clfs::ReadMode::UndoNext,
    }
}

fn read(
    area: &'static Area,
    handle: &Handle,
    buffer: &mut [u8],
    in_len: usize,
    out_len: usize,
) -> Reply {
    let input = buffer.get(..in_len).unwrap_or_default();
    let request = match proto::ReadRequest::decode(input) {
        Ok(r) => r,
        Err(e) => return Reply::fail(proto_status(e)),
    };
    if out_len < proto::ReadReply::SIZE {
        return Reply::fail(STATUS_BUFFER_TOO_SMALL);
    }
    let mut claim = match handle.claim() {
        Ok(c) => c,
        Err(st) => return Reply::fail(st),
    };
    let slot = claim.reader();
    if request.start != proto::LSN_NONE {
        // A new read ends the previous one first (one read buffer per handle at most).
        *slot = None;
        match area.read(Lsn::from_raw(request.start), mode(request.mode)) {
            Ok(cx) => *slot = Some(Reader { cx, held: None }),
            Err(e) => return Reply::fail(error_status(&e)),
        }
    }
    let Some(reader) = slot.as_mut() else {
        return Reply::fail(STATUS_INVALID_DEVICE_STATE);
    };
    let output = out(buffer, out_len);
    let mut at = proto::ReadReply::SIZE;
    let mut count = 0u32;
    let mut end = false;
    let mut next = proto::LSN_NONE;
    let mut needed = 0usize;
    loop {
        if let Some((lsn, data)) = reader.held_data() {
            let size = proto::RecordHeader::entry_size(data.len());
            if size > output.len() - at {
                next = lsn;
                if count == 0 {
                    needed = proto::ReadReply::SIZE + size;
                }
                break;
            }
            match proto::RecordHeader::encode(lsn, data, output.get_mut(at..).unwrap_or_default()) {
                Ok(n) => at += n,
                Err(e) => return Reply::fail(proto_status(e)),
            }
            count += 1;
            reader.held = None;
        }
        // INVARIANT (Held): nothing is held here, so stepping cannot invalidate it.
        match reader.cx.next() {
            Ok(Some(rec)) => {
                reader.held = Some(Held {
                    data: rec.data.as_ptr(),
                    len: rec.data.len(),
                    lsn: rec.lsn.raw(),
                });
            }
            Ok(None) => {
                end = true;
                break;
            }
            Err(e) => {
                // The read cannot go on: end it; the caller starts again from its last LSN.
                *slot = None;
                return Reply::fail(error_status(&e));
            }
        }
    }
    if end {
        *slot = None;
    }
    let status = if needed != 0 {
        STATUS_BUFFER_OVERFLOW
    } else {
        STATUS_SUCCESS
    };
    let header = proto::ReadReply {
        next,
        count,
        flags: if end { proto::READ_END } else { 0 },
        needed: u32::try_from(needed).unwrap_or(u32::MAX),
    };
    match header.encode(output) {
        Ok(_) => Reply {
            status,
            information: at,
        },
        Err(e) => Reply::fail(proto_status(e)),
    }
}
