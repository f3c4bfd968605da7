//! # clfs-sample-proto
//!
//! The one definition of the sample driver's device interface: its names, its I/O control
//! codes and the byte layout of every request and reply. The driver
//! (`samples/clfs-sample-driver`), the Windows client (`clfs-sample-client`) and the
//! host tests (`clfs-hlk`) all encode and decode through this crate, so the two sides cannot
//! drift. `no_std`, no dependencies, no `unsafe`: every layout is encoded and decoded field by
//! field, little-endian, from byte slices (the I/O manager's system buffer has no alignment
//! the driver may rely on).
//!
//! Every IOCTL is `METHOD_BUFFERED` on `FILE_DEVICE_UNKNOWN`. See `docs/ioctl.md` for the
//! protocol in prose, with the status codes.
//!
//! **LSNs.** Every LSN is the 64-bit `CLFS_LSN` value. `0` (`CLFS_LSN_NULL`, `0:0x0:0`) is
//! the LSN of the first record of a new log, a real record: "no LSN" is always
//! [`LSN_NONE`] (`CLFS_LSN_INVALID`), never 0.
//!
//! ```
//! use clfs_sample_proto::*;
//! let mut request = [0u8; 64];
//! let n = AppendRequest { flags: APPEND_FORCE_FLUSH }.encode(b"hello", &mut request).unwrap();
//! let (header, record) = AppendRequest::decode(&request[..n]).unwrap();
//! assert_eq!((header.flags, record), (APPEND_FORCE_FLUSH, &b"hello"[..]));
//! ```
#![no_std]

#[cfg(test)]
extern crate std;

/// The device object's NT name.
pub const DEVICE_NAME: &str = "\\Device\\ClfsSample";
/// The symbolic link the driver creates (`\??\ClfsSample`).
pub const LINK_NAME: &str = "\\??\\ClfsSample";
/// The path a Win32 program opens (`CreateFileW`).
pub const WIN32_PATH: &str = "\\\\.\\ClfsSample";

/// The SDDL of the device's security descriptor: SYSTEM and Administrators get all access,
/// nobody else any (`SDDL_DEVOBJ_SYS_ALL_ADM_ALL`).
pub const DEVICE_SDDL: &str = "D:P(A;;GA;;;SY)(A;;GA;;;BA)";

/// [`DEVICE_SDDL`] as the self-relative security descriptor
/// `ConvertStringSecurityDescriptorToSecurityDescriptor` makes of it: the kernel has no SDDL
/// parser (wdmsec.lib carries its own), so the driver applies these bytes.
///
/// `SECURITY_DESCRIPTOR_RELATIVE` (20 bytes: revision 1, control `SE_SELF_RELATIVE |
/// SE_DACL_PROTECTED | SE_DACL_PRESENT`, no owner, group or SACL, DACL at 20), then the ACL
/// (8 bytes: revision 2, size 52, 2 ACEs), then two `ACCESS_ALLOWED_ACE`s with `GENERIC_ALL`:
/// S-1-5-18 (LocalSystem, 20 bytes) and S-1-5-32-544 (BUILTIN\Administrators, 24 bytes).
pub const DEVICE_SECURITY_DESCRIPTOR: [u8; 72] = [
    1, 0, 0x04, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, // header
    2, 0, 52, 0, 2, 0, 0, 0, // ACL
    0, 0, 20, 0, 0, 0, 0, 0x10, 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0, // (A;;GA;;;SY)
    0, 0, 24, 0, 0, 0, 0, 0x10, 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0,
    0, // (A;;GA;;;BA)
];

/// `FILE_DEVICE_UNKNOWN`.
pub const FILE_DEVICE_UNKNOWN: u32 = 0x22;
/// `METHOD_BUFFERED`.
pub const METHOD_BUFFERED: u32 = 0;
/// `FILE_ANY_ACCESS`.
pub const FILE_ANY_ACCESS: u32 = 0;
/// `FILE_READ_ACCESS` (= `FILE_READ_DATA`).
pub const FILE_READ_ACCESS: u32 = 1;
/// `FILE_WRITE_ACCESS` (= `FILE_WRITE_DATA`).
pub const FILE_WRITE_ACCESS: u32 = 2;

/// `CTL_CODE(DeviceType, Function, Method, Access)`.
pub const fn ctl_code(device_type: u32, function: u32, method: u32, access: u32) -> u32 {
    (device_type << 16) | (access << 14) | (function << 2) | method
}

/// The device type of a control code (`DEVICE_TYPE_FROM_CTL_CODE`).
pub const fn device_type(code: u32) -> u32 {
    code >> 16
}

/// The transfer method of a control code (`METHOD_FROM_CTL_CODE`).
pub const fn method(code: u32) -> u32 {
    code & 3
}

/// The access a control code requires of the handle (bits 14-15).
pub const fn required_access(code: u32) -> u32 {
    (code >> 14) & 3
}

/// Append one record. Needs write access. In: [`AppendRequest`] + the record's bytes.
/// Out: [`AppendReply`].
pub const IOCTL_CLFS_SAMPLE_APPEND: u32 = ctl_code(
    FILE_DEVICE_UNKNOWN,
    0x800,
    METHOD_BUFFERED,
    FILE_WRITE_ACCESS,
);
/// Flush every record appended so far. Needs write access. In: nothing. Out: [`FlushReply`].
pub const IOCTL_CLFS_SAMPLE_FLUSH: u32 = ctl_code(
    FILE_DEVICE_UNKNOWN,
    0x801,
    METHOD_BUFFERED,
    FILE_WRITE_ACCESS,
);
/// Read records. Needs read access. In: [`ReadRequest`]. Out: [`ReadReply`] + records.
pub const IOCTL_CLFS_SAMPLE_READ: u32 = ctl_code(
    FILE_DEVICE_UNKNOWN,
    0x802,
    METHOD_BUFFERED,
    FILE_READ_ACCESS,
);
/// Query the log. Needs read access. In: nothing. Out: [`QueryReply`].
pub const IOCTL_CLFS_SAMPLE_QUERY: u32 = ctl_code(
    FILE_DEVICE_UNKNOWN,
    0x803,
    METHOD_BUFFERED,
    FILE_READ_ACCESS,
);

/// Every control code the driver serves.
pub const IOCTLS: [u32; 4] = [
    IOCTL_CLFS_SAMPLE_APPEND,
    IOCTL_CLFS_SAMPLE_FLUSH,
    IOCTL_CLFS_SAMPLE_READ,
    IOCTL_CLFS_SAMPLE_QUERY,
];

/// "No LSN": `CLFS_LSN_INVALID`.
pub const LSN_NONE: u64 = 0xFFFF_FFFF_0000_0000;

/// The largest record [`IOCTL_CLFS_SAMPLE_APPEND`] accepts, in bytes. The driver's marshalling
/// buffers are 64 KiB; this leaves room for CLFS's block and record headers.
pub const MAX_RECORD: usize = 60 * 1024;

/// [`AppendRequest::flags`]: flush the log up to this record before completing.
pub const APPEND_FORCE_FLUSH: u32 = 1;

/// Why a buffer could not be decoded or encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoError {
    /// The buffer holds `have` bytes; at least `need` are required.
    TooShort {
        /// Bytes required.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A field holds a value the protocol does not define.
    BadField {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u64,
    },
}

impl core::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtoError::TooShort { need, have } => {
                write!(f, "buffer of {have} bytes, at least {need} are required")
            }
            ProtoError::BadField { field, value } => {
                write!(
                    f,
                    "field {field} holds {value:#x}, which the protocol does not define"
                )
            }
        }
    }
}

fn need(buf: &[u8], n: usize) -> Result<(), ProtoError> {
    if buf.len() < n {
        Err(ProtoError::TooShort {
            need: n,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

fn get_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = buf.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

fn get_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = buf.get(at..at + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    if let Some(s) = buf.get_mut(at..at + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    if let Some(s) = buf.get_mut(at..at + 8) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// The header of an append request: `flags: u32`, `reserved: u32` (zero); the record's bytes
/// follow (1 to [`MAX_RECORD`] bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendRequest {
    /// [`APPEND_FORCE_FLUSH`] or 0.
    pub flags: u32,
}

impl AppendRequest {
    /// Size of the header.
    pub const SIZE: usize = 8;

    /// Splits a request into its header and the record; refuses unknown flags, a non-zero
    /// reserved field, an empty record and one above [`MAX_RECORD`].
    pub fn decode(buf: &[u8]) -> Result<(AppendRequest, &[u8]), ProtoError> {
        need(buf, Self::SIZE + 1)?;
        let flags = get_u32(buf, 0);
        if flags & !APPEND_FORCE_FLUSH != 0 {
            return Err(ProtoError::BadField {
                field: "AppendRequest.flags",
                value: u64::from(flags),
            });
        }
        let reserved = get_u32(buf, 4);
        if reserved != 0 {
            return Err(ProtoError::BadField {
                field: "AppendRequest.reserved",
                value: u64::from(reserved),
            });
        }
        let record = buf.get(Self::SIZE..).unwrap_or_default();
        if record.len() > MAX_RECORD {
            return Err(ProtoError::BadField {
                field: "record length",
                value: record.len() as u64,
            });
        }
        Ok((AppendRequest { flags }, record))
    }

    /// Writes the header and `record` into `buf`; returns the request's length.
    pub fn encode(&self, record: &[u8], buf: &mut [u8]) -> Result<usize, ProtoError> {
        let n = Self::SIZE + record.len();
        need(buf, n)?;
        put_u32(buf, 0, self.flags);
        put_u32(buf, 4, 0);
        if let Some(d) = buf.get_mut(Self::SIZE..n) {
            d.copy_from_slice(record);
        }
        Ok(n)
    }
}

/// The reply to an append: `lsn: u64`, `flushed: u64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendReply {
    /// The record's LSN.
    pub lsn: u64,
    /// With [`APPEND_FORCE_FLUSH`]: the log is flushed up to here (at least `lsn`); without:
    /// [`LSN_NONE`].
    pub flushed: u64,
}

impl AppendReply {
    /// Size of the reply.
    pub const SIZE: usize = 16;

    /// Decodes a reply.
    pub fn decode(buf: &[u8]) -> Result<AppendReply, ProtoError> {
        need(buf, Self::SIZE)?;
        Ok(AppendReply {
            lsn: get_u64(buf, 0),
            flushed: get_u64(buf, 8),
        })
    }

    /// Encodes the reply; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, ProtoError> {
        need(buf, Self::SIZE)?;
        put_u64(buf, 0, self.lsn);
        put_u64(buf, 8, self.flushed);
        Ok(Self::SIZE)
    }
}

/// The reply to a flush: `flushed: u64`, the LSN up to which the log is on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushReply {
    /// The log is flushed up to here.
    pub flushed: u64,
}

impl FlushReply {
    /// Size of the reply.
    pub const SIZE: usize = 8;

    /// Decodes a reply.
    pub fn decode(buf: &[u8]) -> Result<FlushReply, ProtoError> {
        need(buf, Self::SIZE)?;
        Ok(FlushReply {
            flushed: get_u64(buf, 0),
        })
    }

    /// Encodes the reply; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, ProtoError> {
        need(buf, Self::SIZE)?;
        put_u64(buf, 0, self.flushed);
        Ok(Self::SIZE)
    }
}

/// How a read steps from record to record (`CLFS_CONTEXT_MODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// The records that follow, in LSN order (`ClfsContextForward`).
    Forward = 1,
    /// Each record's previous link (`ClfsContextPrevious`).
    Previous = 2,
    /// Each record's undo-next link (`ClfsContextUndoNext`).
    UndoNext = 3,
}

/// A read request: `start: u64`, `mode: u32`, `reserved: u32` (zero).
///
/// `start` is where a new read begins; [`LSN_NONE`] continues the handle's current read
/// where the last reply stopped (its `next`). A new read ends the handle's previous one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    /// The first record's LSN, or [`LSN_NONE`] to continue.
    pub start: u64,
    /// How to step.
    pub mode: ReadMode,
}

impl ReadRequest {
    /// Size of the request.
    pub const SIZE: usize = 16;

    /// Decodes a request; refuses an unknown mode and a non-zero reserved field.
    pub fn decode(buf: &[u8]) -> Result<ReadRequest, ProtoError> {
        need(buf, Self::SIZE)?;
        let mode = match get_u32(buf, 8) {
            1 => ReadMode::Forward,
            2 => ReadMode::Previous,
            3 => ReadMode::UndoNext,
            m => {
                return Err(ProtoError::BadField {
                    field: "ReadRequest.mode",
                    value: u64::from(m),
                })
            }
        };
        let reserved = get_u32(buf, 12);
        if reserved != 0 {
            return Err(ProtoError::BadField {
                field: "ReadRequest.reserved",
                value: u64::from(reserved),
            });
        }
        Ok(ReadRequest {
            start: get_u64(buf, 0),
            mode,
        })
    }

    /// Encodes the request; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, ProtoError> {
        need(buf, Self::SIZE)?;
        put_u64(buf, 0, self.start);
        put_u32(buf, 8, self.mode as u32);
        put_u32(buf, 12, 0);
        Ok(Self::SIZE)
    }
}

/// [`ReadReply::flags`]: the read reached its end (end of the log or of the chain); `next`
/// is [`LSN_NONE`] and the handle's read is over.
pub const READ_END: u32 = 1;

/// The header of a read reply: `next: u64`, `count: u32`, `flags: u32`, `needed: u32`,
/// `reserved: u32`; `count` [`RecordHeader`]s with their bytes follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadReply {
    /// The LSN to continue from (the first record not returned), or [`LSN_NONE`] at the end.
    pub next: u64,
    /// Records in this reply.
    pub count: u32,
    /// [`READ_END`] or 0.
    pub flags: u32,
    /// With `STATUS_BUFFER_OVERFLOW` (no record fit): the output length the next record needs;
    /// otherwise 0.
    pub needed: u32,
}

impl ReadReply {
    /// Size of the header.
    pub const SIZE: usize = 24;

    /// Decodes the header.
    pub fn decode(buf: &[u8]) -> Result<ReadReply, ProtoError> {
        need(buf, Self::SIZE)?;
        Ok(ReadReply {
            next: get_u64(buf, 0),
            count: get_u32(buf, 8),
            flags: get_u32(buf, 12),
            needed: get_u32(buf, 16),
        })
    }

    /// Encodes the header; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, ProtoError> {
        need(buf, Self::SIZE)?;
        put_u64(buf, 0, self.next);
        put_u32(buf, 8, self.count);
        put_u32(buf, 12, self.flags);
        put_u32(buf, 16, self.needed);
        put_u32(buf, 20, 0);
        Ok(Self::SIZE)
    }
}

/// One record in a read reply: `lsn: u64`, `length: u32`, `reserved: u32`, then `length`
/// bytes, then zero padding to a multiple of 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// The record's LSN.
    pub lsn: u64,
    /// Its length in bytes.
    pub length: u32,
}

impl RecordHeader {
    /// Size of the header.
    pub const SIZE: usize = 16;

    /// The bytes a record of `length` bytes takes in a reply (header, data, padding).
    pub const fn entry_size(length: usize) -> usize {
        Self::SIZE + length.div_ceil(8) * 8
    }

    /// Writes a record entry at the start of `buf`; returns its size.
    pub fn encode(lsn: u64, data: &[u8], buf: &mut [u8]) -> Result<usize, ProtoError> {
        let n = Self::entry_size(data.len());
        need(buf, n)?;
        let length = u32::try_from(data.len()).map_err(|_| ProtoError::BadField {
            field: "record length",
            value: data.len() as u64,
        })?;
        put_u64(buf, 0, lsn);
        put_u32(buf, 8, length);
        put_u32(buf, 12, 0);
        let end = Self::SIZE + data.len();
        if let Some(d) = buf.get_mut(Self::SIZE..end) {
            d.copy_from_slice(data);
        }
        if let Some(pad) = buf.get_mut(end..n) {
            pad.fill(0);
        }
        Ok(n)
    }
}

/// The records of a read reply, decoded one by one from the bytes after the [`ReadReply`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Records<'a> {
    /// The `count` records in `body` (the reply after its header).
    pub fn new(body: &'a [u8], count: u32) -> Records<'a> {
        Records {
            rest: body,
            left: count,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(u64, &'a [u8]), ProtoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if let Err(e) = need(self.rest, RecordHeader::SIZE) {
            self.left = 0;
            return Some(Err(e));
        }
        let lsn = get_u64(self.rest, 0);
        let len = get_u32(self.rest, 8) as usize;
        let size = RecordHeader::entry_size(len);
        if let Err(e) = need(self.rest, size) {
            self.left = 0;
            return Some(Err(e));
        }
        let data = self
            .rest
            .get(RecordHeader::SIZE..RecordHeader::SIZE + len)
            .unwrap_or_default();
        self.rest = self.rest.get(size..).unwrap_or_default();
        Some(Ok((lsn, data)))
    }
}

/// The reply to a query. Its first field is its own size, so that a caller with a short
/// buffer (at least 4 bytes) learns the size it needs (`STATUS_BUFFER_OVERFLOW`, 4 bytes
/// returned).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryReply {
    /// Containers in the log.
    pub containers: u32,
    /// The oldest record still needed (base LSN).
    pub base: u64,
    /// The youngest record.
    pub last: u64,
    /// The last restart area, [`LSN_NONE`] if none.
    pub restart: u64,
    /// The log is flushed up to here.
    pub flushed: u64,
    /// Bytes free for new records.
    pub free_bytes: u64,
    /// Bytes in all containers.
    pub total_bytes: u64,
    /// Size of each container.
    pub container_size: u64,
}

impl QueryReply {
    /// Size of the reply: `size: u32`, `containers: u32`, then seven `u64`s.
    pub const SIZE: usize = 64;

    /// Decodes a reply; refuses one whose size field is not [`Self::SIZE`].
    pub fn decode(buf: &[u8]) -> Result<QueryReply, ProtoError> {
        need(buf, Self::SIZE)?;
        let size = get_u32(buf, 0);
        if size as usize != Self::SIZE {
            return Err(ProtoError::BadField {
                field: "QueryReply.size",
                value: u64::from(size),
            });
        }
        Ok(QueryReply {
            containers: get_u32(buf, 4),
            base: get_u64(buf, 8),
            last: get_u64(buf, 16),
            restart: get_u64(buf, 24),
            flushed: get_u64(buf, 32),
            free_bytes: get_u64(buf, 40),
            total_bytes: get_u64(buf, 48),
            container_size: get_u64(buf, 56),
        })
    }

    /// Encodes the reply; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, ProtoError> {
        need(buf, Self::SIZE)?;
        put_u32(buf, 0, Self::SIZE as u32);
        put_u32(buf, 4, self.containers);
        put_u64(buf, 8, self.base);
        put_u64(buf, 16, self.last);
        put_u64(buf, 24, self.restart);
        put_u64(buf, 32, self.flushed);
        put_u64(buf, 40, self.free_bytes);
        put_u64(buf, 48, self.total_bytes);
        put_u64(buf, 56, self.container_size);
        Ok(Self::SIZE)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn control_codes_match_ctl_code_by_hand() {
        // CTL_CODE(0x22, 0x800, 0, 2) = 0x0022_0000 | 0x8000 | 0x2000 | 0
        assert_eq!(IOCTL_CLFS_SAMPLE_APPEND, 0x0022_A000);
        assert_eq!(IOCTL_CLFS_SAMPLE_FLUSH, 0x0022_A004);
        assert_eq!(IOCTL_CLFS_SAMPLE_READ, 0x0022_6008);
        assert_eq!(IOCTL_CLFS_SAMPLE_QUERY, 0x0022_600C);
        for c in IOCTLS {
            assert_eq!(device_type(c), FILE_DEVICE_UNKNOWN);
            assert_eq!(method(c), METHOD_BUFFERED);
        }
        assert_eq!(required_access(IOCTL_CLFS_SAMPLE_APPEND), FILE_WRITE_ACCESS);
        assert_eq!(required_access(IOCTL_CLFS_SAMPLE_READ), FILE_READ_ACCESS);
    }

    /// Decodes [`DEVICE_SECURITY_DESCRIPTOR`] field by field and compares it with the
    /// SDDL's meaning: a protected DACL, two allow ACEs, GENERIC_ALL, SY and BA.
    #[test]
    fn security_descriptor_is_the_sddl() {
        let sd = &DEVICE_SECURITY_DESCRIPTOR;
        let u16_at = |i: usize| u16::from_le_bytes([sd[i], sd[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([sd[i], sd[i + 1], sd[i + 2], sd[i + 3]]);
        assert_eq!(sd[0], 1, "revision");
        assert_eq!(
            u16_at(2),
            0x8000 | 0x1000 | 0x0004,
            "self-relative, protected DACL"
        );
        assert_eq!(
            (u32_at(4), u32_at(8), u32_at(12)),
            (0, 0, 0),
            "no owner, group, SACL"
        );
        let dacl = u32_at(16) as usize;
        assert_eq!((sd[dacl], u16_at(dacl + 2), u16_at(dacl + 4)), (2, 52, 2));
        assert_eq!(dacl + 52, sd.len());
        let mut at = dacl + 8;
        let mut sids = Vec::new();
        for _ in 0..2 {
            let (kind, size, mask) = (sd[at], u16_at(at + 2) as usize, u32_at(at + 4));
            assert_eq!(
                (kind, mask),
                (0, 0x1000_0000),
                "ACCESS_ALLOWED, GENERIC_ALL"
            );
            let sid = &sd[at + 8..at + size];
            let subs = sid[1] as usize;
            assert_eq!(sid.len(), 8 + 4 * subs);
            let mut text = std::format!("S-{}-{}", sid[0], sid[7]);
            for k in 0..subs {
                let o = 8 + 4 * k;
                let v = u32::from_le_bytes([sid[o], sid[o + 1], sid[o + 2], sid[o + 3]]);
                text.push_str(&std::format!("-{v}"));
            }
            sids.push(text);
            at += size;
        }
        assert_eq!(sids, ["S-1-5-18", "S-1-5-32-544"]);
        assert_eq!(DEVICE_SDDL, "D:P(A;;GA;;;SY)(A;;GA;;;BA)");
    }

    #[test]
    fn append_request_refuses_what_it_must() {
        let mut b = [0u8; 16];
        assert_eq!(
            AppendRequest::decode(&b[..8]),
            Err(ProtoError::TooShort { need: 9, have: 8 })
        );
        b[0] = 2;
        assert_eq!(
            AppendRequest::decode(&b),
            Err(ProtoError::BadField {
                field: "AppendRequest.flags",
                value: 2
            })
        );
        b[0] = 0;
        b[4] = 1;
        assert!(AppendRequest::decode(&b).is_err());
        b[4] = 0;
        assert_eq!(AppendRequest::decode(&b).map(|(_, r)| r.len()), Ok(8));
    }

    #[test]
    fn read_reply_records_round_trip() {
        let mut buf = [0xAAu8; 128];
        let mut at = ReadReply::SIZE;
        at += RecordHeader::encode(0, b"abc", &mut buf[at..]).unwrap();
        at += RecordHeader::encode(0x200, b"12345678", &mut buf[at..]).unwrap();
        assert_eq!(at, 24 + 24 + 24);
        let h = ReadReply {
            next: LSN_NONE,
            count: 2,
            flags: READ_END,
            needed: 0,
        };
        h.encode(&mut buf).unwrap();
        let d = ReadReply::decode(&buf).unwrap();
        assert_eq!(d, h);
        let recs: Vec<_> = Records::new(&buf[ReadReply::SIZE..at], d.count)
            .map(Result::unwrap)
            .collect();
        assert_eq!(recs, [(0, &b"abc"[..]), (0x200, &b"12345678"[..])]);
        // A truncated body is an error, not a panic.
        assert!(Records::new(&buf[ReadReply::SIZE..40], 2).any(|r| r.is_err()));
    }

    #[test]
    fn read_request_and_query_round_trip() {
        let mut b = [0u8; 64];
        let r = ReadRequest {
            start: 0,
            mode: ReadMode::Previous,
        };
        r.encode(&mut b).unwrap();
        assert_eq!(ReadRequest::decode(&b[..16]), Ok(r));
        b[8] = 9;
        assert!(ReadRequest::decode(&b[..16]).is_err());
        let q = QueryReply {
            containers: 2,
            base: 0,
            last: 0x400,
            restart: LSN_NONE,
            flushed: 0x400,
            free_bytes: 1,
            total_bytes: 2,
            container_size: 3,
        };
        q.encode(&mut b).unwrap();
        assert_eq!(QueryReply::decode(&b), Ok(q));
    }
}
