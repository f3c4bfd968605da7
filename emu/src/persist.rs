//! The on-disk format: the base file (`.blf`) and log blocks inside containers.
//!
//! Base file (little-endian): `b"CLFSEMU\0"`, version `u32`, CRC-32 `u32` of everything after
//! byte 16, payload length `u32`, then the [`Meta`] fields in declaration order (strings as
//! `u32` length + UTF-8). Written to `<name>.blf.tmp`, fsynced, renamed over the base file.
//!
//! Log block (at a 512-byte-aligned offset of a container): a 32-byte header
//! (`BLOCK_MAGIC`, logical container id, offset, used bytes, record count, CRC-32 of bytes
//! 32..used, 8 reserved), then records: a 40-byte header (own LSN, undo-next LSN, previous
//! LSN, data length `u32`, record type `u8`, 11 reserved) and the data, 8-byte aligned.
//! A block occupies its used size rounded up to 512 bytes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::status::*;
use crate::types::NTSTATUS;

const MAGIC: &[u8; 8] = b"CLFSEMU\0";
const VERSION: u32 = 1;
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

const fn crc_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
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

/// CRC-32 (IEEE).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
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
    !c
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
    /// LSN of the last flushed record (`CLFS_LSN_NULL` if none).
    pub flushed: u64,
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
        w.u64(self.flushed);
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
        out.extend_from_slice(&crc32(&rest).to_le_bytes());
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
        if crc32(r.0) != crc {
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
            flushed: r.u64()?,
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

/// A record as stored in a block.
pub(crate) struct DiskRecord {
    pub lsn: u64,
    pub undo: u64,
    pub prev: u64,
    pub ty: u8,
    pub data: Vec<u8>,
}

/// Encodes a record header.
pub(crate) fn record_header(lsn: u64, undo: u64, prev: u64, len: u32, ty: u8) -> [u8; REC_HDR] {
    let mut h = [0u8; REC_HDR];
    h[0..8].copy_from_slice(&lsn.to_le_bytes());
    h[8..16].copy_from_slice(&undo.to_le_bytes());
    h[16..24].copy_from_slice(&prev.to_le_bytes());
    h[24..28].copy_from_slice(&len.to_le_bytes());
    h[28] = ty;
    h
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
    let crc = crc32(&image[BLOCK_HDR.min(used_us)..used_us]);
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

/// Writes `data` at `off` of the container file (no fsync).
pub(crate) fn write_at(f: &mut File, off: u64, data: &[u8]) -> std::io::Result<()> {
    f.seek(SeekFrom::Start(off))?;
    f.write_all(data)
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn rd_u64(b: &[u8], at: usize) -> u64 {
    u64::from(rd_u32(b, at)) | (u64::from(rd_u32(b, at + 4)) << 32)
}

/// What [`scan_container`] found.
pub(crate) struct Scan {
    pub records: Vec<DiskRecord>,
    /// Offset after the last valid block.
    pub end: u32,
    /// CRC of the last valid block (`prev` if none).
    pub last_crc: u32,
}

/// Reads the valid blocks of logical container `cid` from `path`, from offset 0 up to
/// `end` (exclusive; `None` = until the first invalid block). With `extend`, blocks at and
/// after `end` are accepted too, for as long as each is valid and names the CRC of the block
/// before it (`prev` for the first block of the container): blocks flushed after the base
/// file last recorded the cursor. Returns the records found.
pub(crate) fn scan_container(
    path: &Path,
    cid: u32,
    size: u64,
    end: Option<u32>,
    extend: bool,
    prev: u32,
) -> Result<Scan, NTSTATUS> {
    let mut f = File::open(path).map_err(|_| STATUS_LOG_CONTAINER_OPEN_FAILED)?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)
        .map_err(|_| STATUS_LOG_CONTAINER_OPEN_FAILED)?;
    let strict = end.map_or(0, |e| e as usize);
    let limit = if extend {
        size
    } else {
        end.map_or(size, u64::from)
    };
    let limit = limit.min(buf.len() as u64) as usize;
    let mut out = Vec::new();
    let mut off = if cid == 0 { SECTOR as usize } else { 0 };
    let mut last_crc = prev;
    while off + BLOCK_HDR <= limit {
        let h = &buf[off..];
        let ok = rd_u32(h, 0) == BLOCK_MAGIC && rd_u32(h, 4) == cid && rd_u32(h, 8) as usize == off;
        let used = rd_u32(h, 12) as usize;
        let nrec = rd_u32(h, 16);
        let ok = ok && used >= BLOCK_HDR && off + used <= buf.len() && nrec <= 512;
        let beyond = end.is_some() && off >= strict;
        let ok = ok && (!beyond || rd_u32(h, 24) == last_crc);
        if !ok || crc32(&buf[off + BLOCK_HDR..off + used]) != rd_u32(h, 20) {
            if end.is_some() && !beyond {
                return Err(STATUS_LOG_BLOCK_INVALID);
            }
            break;
        }
        last_crc = rd_u32(h, 20);
        let blk = &buf[off..off + used];
        let mut pos = BLOCK_HDR;
        for i in 0..nrec {
            if pos + REC_HDR > used {
                return Err(STATUS_LOG_BLOCK_INVALID);
            }
            let lsn = rd_u64(blk, pos);
            let len = rd_u32(blk, pos + 24) as usize;
            let expect = (u64::from(cid) << 32) | off as u64 | u64::from(i);
            if lsn != expect || pos + REC_HDR + len > used {
                return Err(STATUS_LOG_BLOCK_INVALID);
            }
            out.push(DiskRecord {
                lsn,
                undo: rd_u64(blk, pos + 8),
                prev: rd_u64(blk, pos + 16),
                ty: blk[pos + 28],
                data: blk[pos + REC_HDR..pos + REC_HDR + len].to_vec(),
            });
            pos += REC_HDR + align8(len as u64) as usize;
        }
        off += round_sector(used as u64) as usize;
    }
    Ok(Scan {
        records: out,
        end: off as u32,
        last_crc,
    })
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
    fn crc32_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut c = !0u32;
        for &b in &data {
            c = super::CRC[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        assert_eq!(super::crc32(&data), !c);
    }
}
