//! The on-disk format: the base file (`.blf`) and log blocks inside containers.
//!
//! Base file (little-endian): `b"CLFSEMU\0"`, version `u32` (2), CRC-32C `u32` of everything
//! after byte 16, payload length `u32`, then the [`Meta`] fields in declaration order (strings
//! as `u32` length + UTF-8). Written to `<name>.blf.tmp`, fsynced, renamed over the base file.
//!
//! Log block (at a 512-byte-aligned offset of a container): a 32-byte header
//! (`BLOCK_MAGIC`, logical container id, offset, used bytes, record count, CRC-32C of bytes
//! 32..used, CRC-32C of the block written before it, 4 reserved), then records: a 40-byte
//! header laid out as Windows writes it ([`record_header`]) and the data, 8-byte aligned. A block occupies its used size rounded up to 512
//! bytes (the padding is zero).

use std::fs::{File, OpenOptions};
use std::io::Write;
#[cfg(not(unix))]
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::status::*;
use crate::types::NTSTATUS;

const MAGIC: &[u8; 8] = b"CLFSEMU\0";
/// 3: the first block is at offset 0 and "no flushed record" is `CLFS_LSN_INVALID` (2 used
/// 0, when no record had LSN 0; 1 used CRC-32/IEEE).
const VERSION: u32 = 3;
/// Log block magic (`"CBLK"`).
pub(crate) const BLOCK_MAGIC: u32 = u32::from_le_bytes(*b"CBLK");
/// Log block header size.
pub(crate) const BLOCK_HDR: usize = 32;
/// Record header size (reference §4.3).
pub(crate) const REC_HDR: usize = 40;
/// Sector size.
pub(crate) const SECTOR: u64 = 512;

/// Rounds up to a multiple of 8.
pub(crate) fn align8(n: u64) -> u64 {
    n.saturating_add(7) & !7
}

/// Rounds up to a multiple of the sector size.
pub(crate) fn round_sector(n: u64) -> u64 {
    n.saturating_add(SECTOR - 1) & !(SECTOR - 1)
}

/// The CRC-32C (Castagnoli) polynomial, reflected.
const POLY: u32 = 0x82F6_3B78;

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}
static CRC: [u32; 256] = crc_table();

const fn crc_tables8() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    t[0] = crc_table();
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let p = t[k - 1][i];
            t[k][i] = (p >> 8) ^ t[0][(p & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}
/// Slicing-by-8 tables (the same CRC, eight bytes per step).
static CRC8: [[u32; 256]; 8] = crc_tables8();

/// CRC-32C in software (slicing-by-8), on the running (inverted) state `c`.
fn crc32c_soft(mut c: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for w in &mut chunks {
        let lo = c ^ u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        c = CRC8[7][(lo & 0xFF) as usize]
            ^ CRC8[6][((lo >> 8) & 0xFF) as usize]
            ^ CRC8[5][((lo >> 16) & 0xFF) as usize]
            ^ CRC8[4][(lo >> 24) as usize]
            ^ CRC8[3][w[4] as usize]
            ^ CRC8[2][w[5] as usize]
            ^ CRC8[1][w[6] as usize]
            ^ CRC8[0][w[7] as usize];
    }
    for &b in chunks.remainder() {
        c = CRC[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c
}

/// Bytes per stream in one round of the three-stream hardware CRC.
#[cfg(target_arch = "x86_64")]
const STREAM: usize = 4096;

/// The linear map "append `STREAM` zero bytes" on a raw CRC-32C register, byte-sliced:
/// `shift(c) = T[0][c & 0xFF] ^ T[1][(c >> 8) & 0xFF] ^ T[2][..] ^ T[3][c >> 24]`.
#[cfg(target_arch = "x86_64")]
fn shift_tables() -> &'static [[u32; 256]; 4] {
    static T: std::sync::OnceLock<[[u32; 256]; 4]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let zeros = [0u8; STREAM];
        let basis: Vec<u32> = (0..32).map(|b| crc32c_soft(1 << b, &zeros)).collect();
        let mut t = [[0u32; 256]; 4];
        for (k, tk) in t.iter_mut().enumerate() {
            for (v, e) in tk.iter_mut().enumerate() {
                *e = (0..8)
                    .filter(|bit| v >> bit & 1 != 0)
                    .fold(0, |acc, bit| acc ^ basis[8 * k + bit]);
            }
        }
        t
    })
}

#[cfg(target_arch = "x86_64")]
fn shift(t: &[[u32; 256]; 4], c: u32) -> u32 {
    t[0][(c & 0xFF) as usize]
        ^ t[1][((c >> 8) & 0xFF) as usize]
        ^ t[2][((c >> 16) & 0xFF) as usize]
        ^ t[3][(c >> 24) as usize]
}

#[cfg(target_arch = "x86_64")]
fn word(b: &[u8], i: usize) -> u64 {
    b.get(i..i + 8).map_or(0, |w| {
        u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
    })
}

/// CRC-32C with the SSE4.2 `crc32` instruction: three independent streams of `STREAM`
/// bytes per round (the instruction's latency is three times its throughput), joined with
/// [`shift`], then eight bytes per instruction for the rest. `c` is the raw register.
///
/// # Safety
/// The CPU must support SSE4.2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
#[allow(unused_unsafe)] // the intrinsics are unsafe before Rust 1.87, safe here after
unsafe fn crc32c_sse42(c: u32, data: &[u8]) -> u32 {
    use core::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut c = c;
    let mut rest = data;
    if rest.len() >= 3 * STREAM {
        let t = shift_tables();
        while let (Some(a), Some(b), Some(d)) = (
            rest.get(..STREAM),
            rest.get(STREAM..2 * STREAM),
            rest.get(2 * STREAM..3 * STREAM),
        ) {
            let (mut ca, mut cb, mut cd) = (u64::from(c), 0u64, 0u64);
            for i in (0..STREAM).step_by(8) {
                // SAFETY: SSE4.2 is available (this function's contract).
                ca = unsafe { _mm_crc32_u64(ca, word(a, i)) };
                // SAFETY: as above.
                cb = unsafe { _mm_crc32_u64(cb, word(b, i)) };
                // SAFETY: as above.
                cd = unsafe { _mm_crc32_u64(cd, word(d, i)) };
            }
            c = shift(t, shift(t, ca as u32) ^ cb as u32) ^ cd as u32;
            rest = &rest[3 * STREAM..];
        }
    }
    let mut c = u64::from(c);
    let mut chunks = rest.chunks_exact(8);
    for w in &mut chunks {
        let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        // SAFETY: SSE4.2 is available (this function's contract).
        c = unsafe { _mm_crc32_u64(c, v) };
    }
    let mut c = c as u32;
    for &b in chunks.remainder() {
        // SAFETY: as above.
        c = unsafe { _mm_crc32_u8(c, b) };
    }
    c
}

/// CRC-32C (Castagnoli; check value `0xE306_9283`), in hardware where the CPU has it.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: SSE4.2 was just detected.
        return !unsafe { crc32c_sse42(!0, data) };
    }
    !crc32c_soft(!0, data)
}

/// One container as recorded in the base file.
#[derive(Clone, Debug)]
pub(crate) struct ContainerMeta {
    pub path: PathBuf,
    pub phys: u32,
    /// The logical id, `None` while the container has never been used.
    pub logical: Option<u32>,
    pub pending_delete: bool,
}

/// The persistent state of a physical log.
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    pub identity: [u8; 16],
    pub attributes: u32,
    pub container_size: u64,
    pub base: u64,
    pub archive_tail: u64,
    pub restart: u64,
    /// LSN of the last flushed record (`None` if none; `CLFS_LSN_NULL` is the first record).
    pub flushed: Option<u64>,
    /// Where the block after the last flushed block goes.
    pub cursor_cid: u32,
    pub cursor_off: u32,
    pub next_phys: u32,
    pub containers: Vec<ContainerMeta>,
}

struct W(Vec<u8>);
impl W {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct R<'a>(&'a [u8]);
impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], NTSTATUS> {
        if self.0.len() < n {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, NTSTATUS> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, NTSTATUS> {
        Ok(u64::from(self.u32()?) | (u64::from(self.u32()?) << 32))
    }
    fn str(&mut self) -> Result<String, NTSTATUS> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| STATUS_LOG_METADATA_CORRUPT)
    }
}

impl Meta {
    fn encode(&self) -> Vec<u8> {
        let mut w = W(Vec::new());
        w.0.extend_from_slice(&self.identity);
        w.u32(self.attributes);
        w.u64(self.container_size);
        w.u64(self.base);
        w.u64(self.archive_tail);
        w.u64(self.restart);
        w.u64(self.flushed.unwrap_or(crate::CLFS_LSN_INVALID));
        w.u32(self.cursor_cid);
        w.u32(self.cursor_off);
        w.u32(self.next_phys);
        w.u32(self.containers.len() as u32);
        for c in &self.containers {
            w.u32(c.phys);
            w.u32(c.logical.unwrap_or(u32::MAX));
            w.u32(u32::from(c.pending_delete));
            w.str(&c.path.to_string_lossy());
        }
        let payload = w.0;
        let mut out = Vec::with_capacity(payload.len() + 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        let mut rest = (payload.len() as u32).to_le_bytes().to_vec();
        rest.extend_from_slice(&payload);
        out.extend_from_slice(&crc32c(&rest).to_le_bytes());
        out.extend_from_slice(&rest);
        out
    }

    fn decode(b: &[u8]) -> Result<Meta, NTSTATUS> {
        if b.len() < 20 || &b[..8] != MAGIC {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        }
        let mut r = R(&b[8..]);
        if r.u32()? != VERSION {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        }
        let crc = r.u32()?;
        if crc32c(r.0) != crc {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        }
        let len = r.u32()? as usize;
        if r.0.len() != len {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        }
        let mut identity = [0u8; 16];
        identity.copy_from_slice(r.take(16)?);
        let mut m = Meta {
            identity,
            attributes: r.u32()?,
            container_size: r.u64()?,
            base: r.u64()?,
            archive_tail: r.u64()?,
            restart: r.u64()?,
            flushed: Some(r.u64()?).filter(|&l| l != crate::CLFS_LSN_INVALID),
            cursor_cid: r.u32()?,
            cursor_off: r.u32()?,
            next_phys: r.u32()?,
            containers: Vec::new(),
        };
        let n = r.u32()?;
        if n > 1024 {
            return Err(STATUS_LOG_METADATA_CORRUPT);
        }
        for _ in 0..n {
            let phys = r.u32()?;
            let logical = r.u32()?;
            let pending_delete = r.u32()? != 0;
            let path = PathBuf::from(r.str()?);
            m.containers.push(ContainerMeta {
                path,
                phys,
                logical: (logical != u32::MAX).then_some(logical),
                pending_delete,
            });
        }
        Ok(m)
    }

    /// True if `self` and `o` differ at most in the durable cursor and the last flushed LSN
    /// (what a reopen recovers by scanning the cursor's container).
    pub fn same_but_cursor(&self, o: &Meta) -> bool {
        self.identity == o.identity
            && self.attributes == o.attributes
            && self.container_size == o.container_size
            && self.base == o.base
            && self.archive_tail == o.archive_tail
            && self.restart == o.restart
            && self.cursor_cid == o.cursor_cid
            && self.next_phys == o.next_phys
            && self.containers.len() == o.containers.len()
            && self.containers.iter().zip(&o.containers).all(|(a, b)| {
                a.phys == b.phys
                    && a.logical == b.logical
                    && a.pending_delete == b.pending_delete
                    && a.path == b.path
            })
    }

    /// Writes the base file atomically: temp file, fsync, rename, directory fsync.
    pub fn store(&self, base: &Path) -> Result<(), NTSTATUS> {
        let mut tmp = base.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let res = (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&self.encode())?;
            f.sync_all()?;
            std::fs::rename(&tmp, base)?;
            // (Miri cannot fsync a directory; `.ci/miri.sh` runs the emulator under it.)
            #[cfg(not(miri))]
            if let Some(d) = base.parent() {
                if let Ok(d) = File::open(d) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        })();
        res.map_err(|_| {
            let _ = std::fs::remove_file(&tmp);
            crate::status::STATUS_LOG_CONTAINER_WRITE_FAILED
        })
    }

    /// Reads and validates a base file.
    pub fn load(base: &Path) -> Result<Meta, NTSTATUS> {
        let b = std::fs::read(base).map_err(|_| STATUS_LOG_METADATA_CORRUPT)?;
        Meta::decode(&b)
    }
}

/// Record type bit: a data record (`ClfsDataRecord`).
pub(crate) const REC_DATA: u32 = 0x01;
/// Record type bit: a restart record (`ClfsRestartRecord`).
pub(crate) const REC_RESTART: u32 = 0x02;
/// Record type flag: the first record of its log block (seen on Windows-made logs).
pub(crate) const REC_FIRST: u32 = 0x04;
/// Record type flag: the last record of its log block (seen on Windows-made logs).
pub(crate) const REC_LAST: u32 = 0x20;
/// Offset of the record type (`u32`) in a record header.
const REC_TYPE_AT: usize = 36;

/// Encodes a 40-byte record header as Windows writes it: own LSN, undo-next, previous,
/// `DataSize` (`u32`, header included), a `u32` (0), record flags (`u16`, 0), the offset of
/// the data (`u16`, 0x28) and the record type (`u32`: `ty` plus [`REC_FIRST`] when `first`).
pub(crate) fn record_header(
    lsn: u64,
    undo: u64,
    prev: u64,
    len: u32,
    ty: u8,
    first: bool,
) -> [u8; REC_HDR] {
    let mut h = [0u8; REC_HDR];
    h[0..8].copy_from_slice(&lsn.to_le_bytes());
    h[8..16].copy_from_slice(&undo.to_le_bytes());
    h[16..24].copy_from_slice(&prev.to_le_bytes());
    h[24..28].copy_from_slice(&len.saturating_add(REC_HDR as u32).to_le_bytes());
    h[34..36].copy_from_slice(&(REC_HDR as u16).to_le_bytes());
    let ty = u32::from(ty) | if first { REC_FIRST } else { 0 };
    h[REC_TYPE_AT..REC_HDR].copy_from_slice(&ty.to_le_bytes());
    h
}

/// Sets [`REC_LAST`] in the type of the record whose header is at `pos` of `image`.
pub(crate) fn mark_last(image: &mut [u8], pos: usize) {
    if let Some(t) = image.get_mut(pos + REC_TYPE_AT..pos + REC_HDR) {
        let ty = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) | REC_LAST;
        t.copy_from_slice(&ty.to_le_bytes());
    }
}

/// Fills in the block header of `image` (whose first `used` bytes are the block); `prev` is
/// the CRC of the block written before it (the chain that lets a reopen trust blocks flushed
/// after the base file's cursor). Returns the block's CRC.
pub(crate) fn seal_block(
    image: &mut [u8],
    cid: u32,
    off: u32,
    used: u32,
    nrec: u32,
    prev: u32,
) -> u32 {
    let used_us = (used as usize).min(image.len());
    // Zero the padding up to the sector end (a reused block may hold older bytes there).
    let end = (round_sector(u64::from(used)) as usize).min(image.len());
    if let Some(pad) = image.get_mut(used_us..end) {
        pad.fill(0);
    }
    let crc = crc32c(&image[BLOCK_HDR.min(used_us)..used_us]);
    let mut h = [0u8; BLOCK_HDR];
    h[0..4].copy_from_slice(&BLOCK_MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&cid.to_le_bytes());
    h[8..12].copy_from_slice(&off.to_le_bytes());
    h[12..16].copy_from_slice(&used.to_le_bytes());
    h[16..20].copy_from_slice(&nrec.to_le_bytes());
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h[24..28].copy_from_slice(&prev.to_le_bytes());
    if image.len() >= BLOCK_HDR {
        image[..BLOCK_HDR].copy_from_slice(&h);
    }
    crc
}

/// Creates a zero-filled container of `size` bytes (fails if the file exists).
pub(crate) fn create_container(path: &Path, size: u64) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let f = OpenOptions::new().write(true).create_new(true).open(path)?;
    let r = f.set_len(size).and_then(|_| f.sync_all());
    if r.is_err() {
        let _ = std::fs::remove_file(path);
    }
    r
}

/// Writes `data` at `off` of the container file (no fsync): one positioned write (`pwrite`)
/// where the platform has it, instead of a seek and a write.
pub(crate) fn write_at(f: &mut File, off: u64, data: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(f, data, off)
    }
    #[cfg(not(unix))]
    {
        f.seek(SeekFrom::Start(off))?;
        f.write_all(data)
    }
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn rd_u64(b: &[u8], at: usize) -> u64 {
    u64::from(rd_u32(b, at)) | (u64::from(rd_u32(b, at + 4)) << 32)
}

/// The header fields of a log block.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlockHdr {
    pub used: u32,
    pub nrec: u32,
    /// CRC-32 of bytes `32..used`.
    pub crc: u32,
    /// CRC of the block written before this one (the chain).
    pub prev: u32,
}

/// Parses a block header found at `off` of logical container `cid` (`None` if it is not the
/// header of a block of that container at that offset).
pub(crate) fn parse_hdr(h: &[u8], cid: u32, off: u32) -> Option<BlockHdr> {
    if h.len() < BLOCK_HDR
        || rd_u32(h, 0) != BLOCK_MAGIC
        || rd_u32(h, 4) != cid
        || rd_u32(h, 8) != off
    {
        return None;
    }
    let hdr = BlockHdr {
        used: rd_u32(h, 12),
        nrec: rd_u32(h, 16),
        crc: rd_u32(h, 20),
        prev: rd_u32(h, 24),
    };
    (hdr.used as usize >= BLOCK_HDR + REC_HDR && hdr.nrec >= 1 && hdr.nrec <= 512).then_some(hdr)
}

/// Reads `buf.len()` bytes at `off`: one positioned read (`pread`) where the platform has it.
fn read_exact_at(f: &File, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(f, buf, off)
    }
    #[cfg(not(unix))]
    {
        let mut r = f;
        r.seek(SeekFrom::Start(off))?;
        r.read_exact(buf)
    }
}

/// Reads only the header of the block at `off` of logical container `cid`.
pub(crate) fn read_hdr(f: &File, cid: u32, off: u32) -> Option<BlockHdr> {
    let mut h = [0u8; BLOCK_HDR];
    read_exact_at(f, u64::from(off), &mut h).ok()?;
    parse_hdr(&h, cid, off)
}

/// Reads the whole block at `off` of logical container `cid` into the first `used` bytes of
/// `buf` (grown as needed) and checks its header and CRC. `None` if there is no valid block there.
pub(crate) fn read_block(f: &File, cid: u32, off: u32, buf: &mut Vec<u8>) -> Option<BlockHdr> {
    let hdr = read_hdr(f, cid, off)?;
    let used = hdr.used as usize;
    if used > 1 << 20 {
        return None;
    }
    // The buffer only grows (no zeroing per block); the block is its first `used` bytes.
    if buf.len() < used {
        buf.resize(used, 0);
    }
    let blk = buf.get_mut(..used)?;
    read_exact_at(f, u64::from(off), blk).ok()?;
    let body = blk.get(BLOCK_HDR..)?;
    (crc32c(body) == hdr.crc).then_some(hdr)
}

/// A record inside a block image.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecView {
    pub lsn: u64,
    pub undo: u64,
    pub prev: u64,
    pub ty: u8,
    /// Offset of the data in the block.
    pub data: usize,
    pub len: usize,
    /// Offset of the next record's header.
    pub next: usize,
}

/// The record whose header is at `pos` of block image `blk` (first `used` bytes valid).
/// `DataSize` includes the header; `ty` is the client-visible type (data/restart bits only).
pub(crate) fn rec_at(blk: &[u8], used: usize, pos: usize) -> Option<RecView> {
    let used = used.min(blk.len());
    if pos.checked_add(REC_HDR)? > used {
        return None;
    }
    let len = (rd_u32(blk, pos + 24) as usize).checked_sub(REC_HDR)?;
    let data = pos + REC_HDR;
    if data.checked_add(len)? > used {
        return None;
    }
    Some(RecView {
        lsn: rd_u64(blk, pos),
        undo: rd_u64(blk, pos + 8),
        prev: rd_u64(blk, pos + 16),
        ty: (rd_u32(blk, pos + REC_TYPE_AT) & (REC_DATA | REC_RESTART)) as u8,
        data,
        len,
        next: data + align8(len as u64) as usize,
    })
}

/// Finds record `idx` of a block image, walking from `from` = (index, header offset) of an
/// earlier record (or the first record). Checks the record's own LSN against `lsn`.
pub(crate) fn find_rec(
    blk: &[u8],
    used: usize,
    nrec: u32,
    idx: u32,
    lsn: u64,
    from: Option<(u32, usize)>,
) -> Option<(RecView, usize)> {
    if idx >= nrec {
        return None;
    }
    let (mut i, mut pos) = match from {
        Some((fi, fp)) if fi <= idx => (fi, fp),
        _ => (0, BLOCK_HDR),
    };
    loop {
        let r = rec_at(blk, used, pos)?;
        if i == idx {
            return (r.lsn == lsn).then_some((r, pos));
        }
        i += 1;
        pos = r.next;
    }
}

/// A random 16-byte identity.
pub(crate) fn random_guid() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out[6] = (out[6] & 0x0F) | 0x40;
    out[8] = (out[8] & 0x3F) | 0x80;
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32c_check_value() {
        assert_eq!(super::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(!super::crc32c_soft(!0, b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut c = !0u32;
        for &b in &data {
            c = super::CRC[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        for n in [0, 1, 7, 8, 9, 999, 1000] {
            assert_eq!(
                super::crc32c(&data[..n]),
                !super::crc32c_soft(!0, &data[..n])
            );
        }
        assert_eq!(super::crc32c(&data), !c);
        // Long inputs (the three-stream path) agree with the table-driven CRC.
        let long: Vec<u8> = (0..70_001u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for n in [12_287, 12_288, 12_289, 24_576, 65_536, 70_001] {
            assert_eq!(
                super::crc32c(&long[..n]),
                !super::crc32c_soft(!0, &long[..n]),
                "{n}"
            );
        }
    }
}
