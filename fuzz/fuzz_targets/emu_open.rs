//! Hostile logs on disk, opened by the EMULATOR: its recovery scan (the end of the log from the
//! cursor's container), reads forward, backward (previous and undo-next chains) and along the
//! restart chain, information queries, container scans, appending and flushing, closing and
//! reopening.
//!
//! Input: byte 0 picks one of seven logs the emulator itself writes once per process (see
//! `templates`): a dedicated archivable log whose records fill one container and go on in the
//! second, a multiplexed log with two streams, a dedicated log after a crash (its base file
//! names an older cursor: recovery scans forward), a dedicated log after a reset, a
//! multiplexed log after a crash, the crashed dedicated log with its base file in the shape
//! Windows leaves (containers INACTIVE, no last-flushed hint), and a dedicated log with so
//! many long-named containers that its base file is extended. Bytes 1 to 3 say how many
//! records to append (1 to 4) and how big. The rest is a list of mutations (`Reader`: an op
//! byte, then fixed-size fields, byte strings as a length byte and the bytes;
//! `fuzz/seedgen/emu_open.py` writes the seeds) applied to that log's files: field edits of
//! the base record (client and container contexts, names, log state; re-encoded with valid
//! checksums so they get past the CRC), raw byte edits of the base record re-sealed, raw byte
//! edits of any file (no reseal), edits of a container block's restored image (record links,
//! sizes, block header) re-sealed with valid sector signatures, file truncation, growth and
//! removal, and edits of the control record's block table (the base file re-encoded from it).
//!
//! Invariants: nothing panics, hangs or allocates without bound; every failure is a status
//! the emulator documents for a damaged log (docs/emulator.md, "Hostile logs") or a typed
//! pre-call refusal of the safe API; record chains end (a walk longer than the log's records
//! is an endless loop); a record appended and flushed to a log the emulator accepted for
//! writing reads back after a reopen; nothing leaks after every close.
#![no_main]

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clfs::{
    Access, Append, ClfsAllocator, Error, LogFile, LogOptions, Lsn, MarshallingArea,
    MarshallingConfig, NtStatus, ReadMode, RecordType, ScanContext, Share,
};
use clfs_emu::Sandbox;
use clfs_format as fmt;
use libfuzzer_sys::fuzz_target;

fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// One emulator-made log: its files (relative to the sandbox root), how to open it, and what
/// the mutations pick from.
struct Template {
    files: Vec<(PathBuf, Vec<u8>)>,
    /// `log:` name of the log (dedicated) or of the physical log (`...::`).
    name: String,
    /// Stream names (multiplexed logs).
    streams: Vec<String>,
    /// Every record's LSN (from `clfs-format`), for link edits.
    lsns: Vec<u64>,
    /// (file index, offset) of every block that holds records.
    blocks: Vec<(usize, u64)>,
    /// Per file, its 4 KiB pages that are not all zero (containers are mostly zeros: only
    /// these are written, the rest is a hole).
    pages: Vec<Vec<usize>>,
}

const PAGE: usize = 4096;

fn nonzero_pages(b: &[u8]) -> Vec<usize> {
    b.chunks(PAGE)
        .enumerate()
        .filter(|(_, c)| c.iter().any(|&x| x != 0))
        .map(|(i, _)| i * PAGE)
        .collect()
}

/// Writes `bytes` to `path` as a file of that length whose zero pages are holes.
fn write_sparse(path: &Path, bytes: &[u8], pages: &[usize]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).expect("create");
    f.set_len(bytes.len() as u64).expect("set_len");
    for &o in pages {
        let end = (o + PAGE).min(bytes.len());
        f.write_all_at(&bytes[o..end], o as u64).expect("write");
    }
}

const KIB: u64 = 1024;
const BUF: u32 = 16 * 1024;

fn opts() -> LogOptions<'static> {
    LogOptions::new().access(Access::READ | Access::WRITE)
}

fn area(log: &LogFile) -> MarshallingArea<'_, ClfsAllocator> {
    MarshallingArea::create(log, MarshallingConfig::new(BUF)).expect("area")
}

fn data(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| (k * 31 + i * 7) as u8).collect()
}

/// Appends `n` records with previous and undo-next links and a restart area every 7.
fn fill(a: &MarshallingArea<'_, ClfsAllocator>, n: usize, size: usize) {
    let mut prev: Option<Lsn> = None;
    let mut undo: Option<Lsn> = None;
    for i in 0..n {
        let mut o = Append::new();
        if let Some(p) = prev {
            o = o.previous(p);
        }
        if let Some(u) = undo {
            o = o.undo_next(u);
        }
        let l = a
            .append_with(&[&data(i, size + i % 5 * 100)], o)
            .expect("append");
        if i % 3 == 0 {
            undo = Some(l);
        }
        prev = Some(l);
        if i % 7 == 6 {
            a.write_restart(&data(i, 40)).expect("restart");
        }
    }
}

fn snapshot(sb: &Sandbox) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let mut es: Vec<_> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        es.sort();
        for p in es {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                out.push((rel, std::fs::read(&p).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(sb.root(), sb.root(), &mut out);
    // The base file first, so file 0 is always it.
    out.sort_by_key(|(p, _)| p.extension().is_none_or(|e| e != "blf"));
    out
}

/// Record LSNs and block places, as `clfs-format` reads them.
fn index(files: &[(PathBuf, Vec<u8>)]) -> (Vec<u64>, Vec<(usize, u64)>) {
    let bf = fmt::BaseFile::decode(&files[0].1, "t.blf").expect("template decodes");
    let mut lsns = Vec::new();
    let mut blocks = Vec::new();
    for c in &bf.base.containers {
        let file = c.name.strip_prefix("%BLF%\\").expect("%BLF% container");
        let Some(fi) = files.iter().position(|(p, _)| p.ends_with(file)) else {
            continue;
        };
        let scan = fmt::scan_container(&files[fi].1, file, &c.context);
        for r in &scan.records {
            lsns.push(r.header.lsn.0);
            let b = (fi, u64::from(r.header.lsn.0 as u32 & !0x1ff));
            if !blocks.contains(&b) {
                blocks.push(b);
            }
        }
    }
    lsns.sort_unstable();
    (lsns, blocks)
}

fn make(kind: u8) -> Template {
    let sb = Sandbox::new();
    let mut streams = Vec::new();
    let name = match kind {
        // Dedicated, archivable: records fill container 0 and go on in container 1; the base
        // and the archive tail moved.
        0 | 2 | 3 | 5 => {
            let name = format!("log:C:\\fuzz\\d{kind}");
            let log = LogFile::create(&w(&name), opts().archive(kind == 0).create_if_missing())
                .expect("create");
            let c: Vec<Vec<u16>> = (0..2).map(|i| w(&format!("%BLF%\\d{kind}c{i}"))).collect();
            log.add_containers(&[&c[0], &c[1]], 512 * KIB)
                .expect("containers");
            let a = area(&log);
            match kind {
                0 => {
                    fill(&a, 40, 13_000);
                    let info = log.info().expect("info");
                    a.flush().expect("flush");
                    let mut cx = a.read(info.base, ReadMode::Forward).expect("read");
                    let third = {
                        cx.next().expect("r");
                        cx.next().expect("r");
                        cx.next().expect("r").expect("third").lsn
                    };
                    drop(cx);
                    log.set_archive_tail(third).expect("archive tail");
                    drop(a);
                    log.close().expect("close");
                }
                2 | 5 => {
                    fill(&a, 9, 300);
                    a.flush().expect("flush");
                    fill(&a, 5, 200);
                    a.flush().expect("flush");
                    fill(&a, 3, 100);
                    sb.crash();
                    drop(a);
                    drop(log);
                }
                _ => {
                    fill(&a, 8, 500);
                    drop(a);
                    log.close_and_reset().expect("reset");
                    let log = LogFile::create(&w(&name), opts()).expect("reopen");
                    let a = area(&log);
                    fill(&a, 4, 200);
                    drop(a);
                    log.close().expect("close");
                }
            }
            name
        }
        // Multiplexed, two streams (1 MiB containers, the minimum).
        1 | 4 => {
            let name = format!("log:C:\\fuzz\\m{kind}::");
            let phys = LogFile::create(&w(&name), opts().create_if_missing()).expect("physical");
            let c: Vec<Vec<u16>> = (0..2).map(|i| w(&format!("%BLF%\\m{kind}c{i}"))).collect();
            phys.add_containers(&[&c[0], &c[1]], 1024 * KIB)
                .expect("containers");
            streams = vec!["one".to_string(), "two".to_string()];
            let logs: Vec<LogFile> = streams
                .iter()
                .map(|s| {
                    LogFile::create(&w(&format!("{name}{s}")), opts().create_if_missing())
                        .expect("stream")
                })
                .collect();
            let areas: Vec<_> = logs.iter().map(area).collect();
            for round in 0..3 {
                for a in &areas {
                    fill(a, 4 + round, 700);
                }
            }
            if kind == 4 {
                areas[0].flush().expect("flush");
                fill(&areas[1], 3, 100);
                sb.crash();
            }
            drop(areas);
            drop(logs);
            drop(phys);
            name
        }
        // Dedicated, with as many long-named containers as make the base record outgrow its
        // 0x7a00-byte block: the emulator extends the base file (the general blocks grow, the
        // scratch blocks move, the control record's table follows).
        6 => {
            let name = "log:C:\\fuzz\\x6".to_string();
            let log = LogFile::create(&w(&name), opts().create_if_missing()).expect("create");
            let blf = sb.root().join("C/fuzz/x6.blf");
            let mut n = 0;
            while std::fs::metadata(&blf).map_or(0, |m| m.len()) <= 0x10000 {
                let names: Vec<Vec<u16>> = (n..n + 8)
                    .map(|i| w(&format!("%BLF%\\x6-{}{i:04}", "L".repeat(200))))
                    .collect();
                let refs: Vec<&[u16]> = names.iter().map(Vec::as_slice).collect();
                log.add_containers(&refs, 512 * KIB).expect("containers");
                n += 8;
                assert!(n < 1024, "the base file never grew");
            }
            let a = area(&log);
            fill(&a, 12, 3000);
            drop(a);
            log.close().expect("close");
            name
        }
        _ => unreachable!("template {kind}"),
    };
    let mut files = snapshot(&sb);
    if kind == 5 {
        windows_shape(&mut files[0].1);
    }
    let (lsns, blocks) = index(&files);
    let pages = files.iter().map(|(_, b)| nonzero_pages(b)).collect();
    Template {
        pages,
        files,
        name,
        streams,
        lsns,
        blocks,
    }
}

/// Rewrites an emulator base file in the shape Windows leaves (the registry log of
/// `tests/windows_log.rs`): every container INACTIVE with its logical id, no last-flushed hint
/// (`lsnUnused1` NULL), so the open walks the cursor container's block headers.
fn windows_shape(bytes: &mut Vec<u8>) {
    let bf = fmt::BaseFile::decode(bytes, "t.blf").expect("template decodes");
    let mut base = bf.base.clone();
    for c in &mut base.containers {
        c.context.state = fmt::base::CONTAINER_STATE_INACTIVE;
    }
    for c in &mut base.clients {
        c.context.unused1 = fmt::Lsn(0);
    }
    *bytes = fmt::BaseFile::encode_image(&bf.control, &base, &bf.truncate.unwrap_or_default(), 1)
        .expect("template encodes");
}

const TEMPLATES: u8 = 7;

fn templates() -> &'static [Template] {
    static T: OnceLock<Vec<Template>> = OnceLock::new();
    T.get_or_init(|| (0..TEMPLATES).map(make).collect())
}

#[derive(Debug)]
enum LsnChoice {
    /// One of the log's records.
    Known(u16),
    /// A record's LSN moved by a few units (another record index, or past the block).
    Near(u16, i16),
    Invalid,
    Null,
    Raw(u64),
}

impl LsnChoice {
    fn get(&self, t: &Template) -> u64 {
        let known = |i: u16| {
            t.lsns
                .get(usize::from(i) % t.lsns.len().max(1))
                .copied()
                .unwrap_or(0)
        };
        match *self {
            LsnChoice::Known(i) => known(i),
            LsnChoice::Near(i, d) => known(i).wrapping_add(d as i64 as u64),
            LsnChoice::Invalid => 0xFFFF_FFFF_0000_0000,
            LsnChoice::Null => 0,
            LsnChoice::Raw(v) => v,
        }
    }
}

#[derive(Debug)]
enum ClientField {
    Base,
    Last,
    Restart,
    ArchiveTail,
    Flushed,
    OwnerPage,
}

#[derive(Debug)]
enum ContainerField {
    Size(u64),
    Logical(u32),
    Physical(u32),
    Usn(u32),
    State(u32),
    Name(String),
    /// The name of container `n` of the log, or (past the last) of its base file, in
    /// capitals if `upper`.
    NameOf(u8, bool),
}

#[derive(Debug)]
enum Mutation {
    /// An LSN field of client context `client` (re-encoded, valid checksums).
    Client {
        client: u8,
        field: ClientField,
        value: LsnChoice,
    },
    ClientId {
        client: u8,
        id: u8,
    },
    ClientName {
        client: u8,
        name: String,
    },
    Attributes {
        client: u8,
        value: u16,
    },
    Container {
        container: u8,
        field: ContainerField,
    },
    LogState(u8),
    DropContainer(u8),
    DropClient(u8),
    /// Raw bytes into the general (base record) block's record, then re-sealed (both copies).
    BaseRecordBytes {
        at: u16,
        bytes: Vec<u8>,
    },
    /// Raw bytes anywhere in a file (no reseal: checksums and signatures may break).
    Raw {
        file: u8,
        at: u32,
        bytes: Vec<u8>,
    },
    /// Bytes into the restored image of a container block, re-sealed.
    Block {
        block: u16,
        at: u16,
        bytes: Vec<u8>,
    },
    /// A link field of record `rec` of a block: 0 its own LSN, 1 undo-next, 2 previous.
    Link {
        block: u16,
        rec: u8,
        field: u8,
        value: LsnChoice,
    },
    /// A 32-bit field of record `rec`'s header (at `at & 0x3c`), e.g. its size or type.
    RecordField {
        block: u16,
        rec: u8,
        at: u8,
        value: u32,
    },
    Truncate {
        file: u8,
        len: u32,
    },
    Grow {
        file: u8,
        by: u32,
    },
    Remove {
        file: u8,
    },
    /// An entry of the control record's block table (where the metadata blocks are), the
    /// base file re-encoded from it.
    Control {
        block: u8,
        offset: u32,
        size: u32,
        kind: u32,
    },
}

#[derive(Debug)]
struct Input {
    template: u8,
    /// Appends before the flush: how many, and how big.
    appends: u8,
    size: u16,
    mutations: Vec<Mutation>,
}

/// Reads the input: missing bytes read as zero.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes_n<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.bytes_n::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes_n())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes_n())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes_n())
    }
    /// A length byte, then that many bytes (fewer at the end of the input).
    fn vec(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8()).min(self.0.len());
        let (v, rest) = self.0.split_at(n);
        self.0 = rest;
        v.to_vec()
    }
    fn string(&mut self) -> String {
        String::from_utf8_lossy(&self.vec()).into_owned()
    }
    fn lsn(&mut self) -> LsnChoice {
        match self.u8() % 5 {
            0 => LsnChoice::Known(self.u16()),
            1 => LsnChoice::Near(self.u16(), self.u16() as i16),
            2 => LsnChoice::Invalid,
            3 => LsnChoice::Null,
            _ => LsnChoice::Raw(self.u64()),
        }
    }
    fn mutation(&mut self) -> Mutation {
        match self.u8() % 18 {
            0 => Mutation::Client {
                client: self.u8(),
                field: match self.u8() % 6 {
                    0 => ClientField::Base,
                    1 => ClientField::Last,
                    2 => ClientField::Restart,
                    3 => ClientField::ArchiveTail,
                    4 => ClientField::Flushed,
                    _ => ClientField::OwnerPage,
                },
                value: self.lsn(),
            },
            1 => Mutation::ClientId {
                client: self.u8(),
                id: self.u8(),
            },
            2 => Mutation::ClientName {
                client: self.u8(),
                name: self.string(),
            },
            3 => Mutation::Attributes {
                client: self.u8(),
                value: self.u16(),
            },
            4 => Mutation::Container {
                container: self.u8(),
                field: match self.u8() % 7 {
                    0 => ContainerField::Size(self.u64()),
                    1 => ContainerField::Logical(self.u32()),
                    2 => ContainerField::Physical(self.u32()),
                    3 => ContainerField::Usn(self.u32()),
                    4 => ContainerField::State(self.u32()),
                    5 => ContainerField::Name(self.string()),
                    _ => ContainerField::NameOf(self.u8(), self.u8() & 1 != 0),
                },
            },
            5 => Mutation::LogState(self.u8()),
            6 => Mutation::DropContainer(self.u8()),
            7 => Mutation::DropClient(self.u8()),
            8 => Mutation::BaseRecordBytes {
                at: self.u16(),
                bytes: self.vec(),
            },
            9 => Mutation::Raw {
                file: self.u8(),
                at: self.u32(),
                bytes: self.vec(),
            },
            10 => Mutation::Block {
                block: self.u16(),
                at: self.u16(),
                bytes: self.vec(),
            },
            11 => Mutation::Link {
                block: self.u16(),
                rec: self.u8(),
                field: self.u8(),
                value: self.lsn(),
            },
            12 => Mutation::RecordField {
                block: self.u16(),
                rec: self.u8(),
                at: self.u8(),
                value: self.u32(),
            },
            13 => Mutation::Truncate {
                file: self.u8(),
                len: self.u32(),
            },
            14 => Mutation::Grow {
                file: self.u8(),
                by: self.u32(),
            },
            15 => Mutation::Remove { file: self.u8() },
            17 => Mutation::Control {
                block: self.u8(),
                offset: self.u32(),
                size: self.u32(),
                kind: self.u32(),
            },
            _ => Mutation::Raw {
                file: 0,
                at: self.u32(),
                bytes: self.vec(),
            },
        }
    }
}

impl Input {
    fn parse(data: &[u8]) -> Input {
        let mut r = Reader(data);
        let template = r.u8();
        let appends = r.u8();
        let size = r.u16();
        let mut mutations = Vec::new();
        while !r.0.is_empty() && mutations.len() < 16 {
            mutations.push(r.mutation());
        }
        Input {
            template,
            appends,
            size,
            mutations,
        }
    }
}

/// The files of a log, copied when first changed (a copy of a container costs more than the
/// rest of a run under the address sanitizer).
struct Files {
    files: Vec<(PathBuf, Option<Cow<'static, [u8]>>)>,
}

impl Files {
    fn get(&mut self, i: usize) -> Option<&mut Vec<u8>> {
        self.files[i].1.as_mut().map(Cow::to_mut)
    }

    fn pick(&mut self, f: u8) -> Option<&mut Vec<u8>> {
        let n = self.files.len();
        self.get(usize::from(f) % n)
    }
}

/// Decodes the base file, lets `edit` change the base record, and writes both copies back.
fn edit_base(files: &mut Files, edit: impl FnOnce(&mut fmt::BaseRecord)) {
    let Some(bytes) = files.get(0) else {
        return;
    };
    let Ok(bf) = fmt::BaseFile::decode(bytes, "f.blf") else {
        return;
    };
    let mut base = bf.base.clone();
    edit(&mut base);
    let trunc = bf.truncate.unwrap_or_default();
    if let Ok(img) = fmt::BaseFile::encode_image(&bf.control, &base, &trunc, 1) {
        let n = img.len().min(bytes.len());
        bytes[..n].copy_from_slice(&img[..n]);
    }
}

/// The general block's record bytes edited and re-sealed into both copies.
fn edit_base_bytes(files: &mut Files, at: u16, new: &[u8]) {
    let Some(bytes) = files.get(0) else {
        return;
    };
    let Ok(bf) = fmt::BaseFile::decode(bytes, "f.blf") else {
        return;
    };
    let mut rec = bf.base_bytes.clone();
    if rec.is_empty() {
        return;
    }
    let at = usize::from(at) % rec.len();
    let n = new.len().min(rec.len() - at);
    rec[at..at + n].copy_from_slice(&new[..n]);
    // Where the control record puts the general blocks (an extended base file moves them).
    for b in bf.control.blocks.iter().filter(|b| {
        matches!(
            fmt::MetadataBlockType::from_u32(b.block_type),
            Some(fmt::MetadataBlockType::General | fmt::MetadataBlockType::GeneralShadow)
        )
    }) {
        let (o, s) = (b.offset, b.size);
        if let Ok(blk) = fmt::encode_metadata_block(s as usize, 1, &rec) {
            if let Some(dst) = bytes.get_mut(o as usize..o as usize + blk.len()) {
                dst.copy_from_slice(&blk);
            }
        }
    }
}

/// Decodes the block at `block` (an index into the template's blocks), lets `edit` change its
/// restored image, and re-seals it with its (possibly edited) header.
fn edit_block(t: &Template, files: &mut Files, block: u16, edit: impl FnOnce(&mut [u8])) {
    if t.blocks.is_empty() {
        return;
    }
    let (fi, off) = t.blocks[usize::from(block) % t.blocks.len()];
    let Some(bytes) = files.get(fi) else {
        return;
    };
    let off = off as usize;
    let Some(tail) = bytes.get_mut(off..) else {
        return;
    };
    let loc = fmt::Loc::new("f", off as u64);
    let Some(head) = fmt::BlockHeader::decode(tail, &loc)
        .ok()
        .and_then(|h| tail.get(..h.size()))
    else {
        return;
    };
    let mut img = head.to_vec();
    let Ok(h) = fmt::decode_block(
        &mut img,
        fmt::SECTOR_BLOCK_DATA,
        fmt::ChecksumPolicy::Ignore,
        &loc,
    ) else {
        return;
    };
    let size = h.size();
    let img = &mut img[..size];
    edit(img);
    let Ok(h2) = fmt::BlockHeader::decode(img, &loc) else {
        return;
    };
    let new_size = h2.size();
    if new_size > tail.len() {
        // (A block that does not fit the file: the header edit alone is left to `Raw`.)
        return;
    }
    let mut out = vec![0u8; new_size];
    let n = new_size.min(size);
    out[..n].copy_from_slice(&img[..n]);
    if fmt::encode_block(&mut out, &h2, fmt::SECTOR_BLOCK_DATA, false, &loc).is_ok() {
        let end = (off + new_size).min(tail.len() + off);
        bytes[off..end].copy_from_slice(&out[..end - off]);
    }
}

/// Offset of record `rec`'s header in a restored block image (following the record sizes).
fn record_at(img: &[u8], rec: u8) -> Option<usize> {
    let mut pos = fmt::BLOCK_HEADER_SIZE;
    for _ in 0..rec {
        let size = u32::from_le_bytes(img.get(pos + 0x18..pos + 0x1c)?.try_into().ok()?);
        pos = pos.checked_add((size as usize + 7) & !7)?;
        if size == 0 {
            return None;
        }
    }
    (pos + fmt::RECORD_HEADER_SIZE <= img.len()).then_some(pos)
}

fn apply(t: &Template, files: &mut Files, m: &Mutation) {
    let client = |b: &mut fmt::BaseRecord, c: u8| -> Option<usize> {
        (!b.clients.is_empty()).then(|| usize::from(c) % b.clients.len())
    };
    match m {
        Mutation::Client {
            client: c,
            field,
            value,
        } => {
            let v = fmt::Lsn(value.get(t));
            edit_base(files, |b| {
                if let Some(i) = client(b, *c) {
                    let x = &mut b.clients[i].context;
                    match field {
                        ClientField::Base => x.base = v,
                        ClientField::Last => x.last = v,
                        ClientField::Restart => x.restart = v,
                        ClientField::ArchiveTail => x.archive_tail = v,
                        ClientField::Flushed => x.unused1 = v,
                        ClientField::OwnerPage => x.owner_page = v,
                    }
                }
            });
        }
        Mutation::ClientId { client: c, id } => edit_base(files, |b| {
            if let Some(i) = client(b, *c) {
                b.clients[i].context.client_id = *id;
            }
        }),
        Mutation::ClientName { client: c, name } => edit_base(files, |b| {
            if let Some(i) = client(b, *c) {
                b.clients[i].name = name.chars().take(80).collect();
            }
        }),
        Mutation::Attributes { client: c, value } => edit_base(files, |b| {
            if let Some(i) = client(b, *c) {
                b.clients[i].context.attributes = *value;
            }
        }),
        Mutation::Container { container, field } => edit_base(files, |b| {
            if b.containers.is_empty() {
                return;
            }
            let base_name = format!(
                "%BLF%\\{}",
                t.files[0]
                    .0
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
            let i = usize::from(*container) % b.containers.len();
            let x = &mut b.containers[i];
            match field {
                ContainerField::Size(v) => x.context.size = *v,
                ContainerField::Logical(v) => x.context.logical_id = *v,
                ContainerField::Physical(v) => x.context.physical_id = *v,
                ContainerField::Usn(v) => x.context.usn = *v,
                ContainerField::State(v) => x.context.state = *v,
                ContainerField::Name(n) => x.name = n.chars().take(80).collect(),
                ContainerField::NameOf(j, upper) => {
                    let j = usize::from(*j);
                    let n = match b.containers.get(j) {
                        Some(o) => o.name.clone(),
                        None => base_name.clone(),
                    };
                    b.containers[i].name = if *upper { n.to_uppercase() } else { n };
                }
            }
        }),
        Mutation::LogState(s) => edit_base(files, |b| b.log_state = *s),
        Mutation::DropContainer(c) => edit_base(files, |b| {
            if !b.containers.is_empty() {
                let i = usize::from(*c) % b.containers.len();
                b.containers.remove(i);
            }
        }),
        Mutation::DropClient(c) => edit_base(files, |b| {
            if let Some(i) = client(b, *c) {
                b.clients.remove(i);
            }
        }),
        Mutation::BaseRecordBytes { at, bytes } => edit_base_bytes(files, *at, bytes),
        Mutation::Raw { file, at, bytes } => {
            if let Some(f) = files.pick(*file) {
                if !f.is_empty() {
                    let at = *at as usize % f.len();
                    let n = bytes.len().min(f.len() - at);
                    f[at..at + n].copy_from_slice(&bytes[..n]);
                }
            }
        }
        Mutation::Block { block, at, bytes } => edit_block(t, files, *block, |img| {
            let at = usize::from(*at) % img.len();
            let n = bytes.len().min(img.len() - at);
            img[at..at + n].copy_from_slice(&bytes[..n]);
        }),
        Mutation::Link {
            block,
            rec,
            field,
            value,
        } => {
            let v = value.get(t).to_le_bytes();
            edit_block(t, files, *block, |img| {
                if let Some(p) = record_at(img, *rec) {
                    let at = p + 8 * usize::from(field % 3);
                    img[at..at + 8].copy_from_slice(&v);
                }
            });
        }
        Mutation::RecordField {
            block,
            rec,
            at,
            value,
        } => edit_block(t, files, *block, |img| {
            if let Some(p) = record_at(img, *rec) {
                let at = p + usize::from(at & 0x24);
                img[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }),
        Mutation::Truncate { file, len } => {
            if let Some(f) = files.pick(*file) {
                let n = (*len as usize) % (f.len() + 1);
                f.truncate(n);
            }
        }
        Mutation::Grow { file, by } => {
            if let Some(f) = files.pick(*file) {
                f.resize(f.len() + (*by as usize % (64 * 1024)), 0);
            }
        }
        Mutation::Control {
            block,
            offset,
            size,
            kind,
        } => {
            let Some(bytes) = files.get(0) else { return };
            let Ok(bf) = fmt::BaseFile::decode(bytes, "f.blf") else {
                return;
            };
            let mut ctl = bf.control.clone();
            if ctl.blocks.is_empty() {
                return;
            }
            let i = usize::from(*block) % ctl.blocks.len();
            // Offsets and sizes in sectors (mostly), a type among the six (mostly).
            ctl.blocks[i].offset = offset.wrapping_mul(512) % (4 << 20);
            ctl.blocks[i].size = size.wrapping_mul(512) % (1 << 20);
            ctl.blocks[i].block_type = if kind & 0x100 != 0 { *kind } else { kind % 6 };
            let trunc = bf.truncate.unwrap_or_default();
            if let Ok(img) = fmt::BaseFile::encode_image(&ctl, &bf.base, &trunc, 1) {
                *bytes = img;
            }
        }
        Mutation::Remove { file } => {
            let n = files.files.len();
            files.files[usize::from(*file) % n].1 = None;
        }
    }
}

/// `STATUS_MEDIA_WRITE_PROTECTED`: a log the emulator opens for reading only.
const MEDIA_WRITE_PROTECTED: NtStatus = NtStatus(0xC000_00A2_u32 as i32);

/// The statuses the emulator documents for a damaged or foreign log (docs/emulator.md,
/// "Hostile logs"), plus the ordinary answers the routine behind `what` gives on any log.
fn allowed(what: &str, s: NtStatus) -> bool {
    let open: &[NtStatus] = &[
        NtStatus::LOG_METADATA_CORRUPT,
        NtStatus::LOG_BLOCK_INVALID,
        NtStatus::LOG_CONTAINER_OPEN_FAILED,
        NtStatus::NOT_SUPPORTED,
        MEDIA_WRITE_PROTECTED,
        // The log's attributes say read-only.
        NtStatus::ACCESS_DENIED,
        // The log state or the client contexts changed the layout, or a stream is gone.
        NtStatus::LOG_MULTIPLEXED,
        NtStatus::LOG_DEDICATED,
        NtStatus::OBJECT_NAME_NOT_FOUND,
    ];
    let read: &[NtStatus] = &[
        NtStatus::LOG_RECORD_NONEXISTENT,
        NtStatus::LOG_START_OF_LOG,
        NtStatus::END_OF_FILE,
        NtStatus::LOG_BLOCK_INCOMPLETE,
        NtStatus::LOG_BLOCK_INVALID,
        // ClfsReadLogRecord at a restart record.
        NtStatus::INVALID_PARAMETER,
    ];
    let write: &[NtStatus] = &[
        NtStatus::LOG_FULL,
        NtStatus::LOG_CONTAINER_WRITE_FAILED,
        NtStatus::LOG_CONTAINER_LIMIT_EXCEEDED,
    ];
    let list = match what {
        "open" | "open for reading" => open,
        "append" | "flush" | "restart" | "delete area" | "close" => write,
        w if w.starts_with("read") || w == "previous restart" => read,
        _ => &[],
    };
    list.contains(&s)
}

/// A failure the target accepts: an allowed status, or a typed refusal the safe API makes
/// before the call from what the emulator reported (an LSN outside the reported range).
fn check_err(what: &str, e: &Error) {
    if std::env::var_os("EMU_OPEN_TRACE").is_some() {
        eprintln!("refused: {what}: {e}");
    }
    match e {
        Error::LsnNotInLog { .. }
        | Error::InvalidLsn { .. }
        | Error::RecordTooLarge { .. }
        | Error::BasePastRestart { .. }
        | Error::BaseOutOfRange { .. }
        | Error::NotEnoughContainers { .. } => {}
        _ => match e.status() {
            Some(s) if allowed(what, s) => {}
            _ => panic!("{what}: {e}"),
        },
    }
}

/// At most this many steps along any chain: a walk longer than the log's records loops.
fn max_steps(t: &Template) -> usize {
    t.lsns.len() + 64
}

fn read_all(t: &Template, log: &LogFile, area: &MarshallingArea<'_, ClfsAllocator>) {
    let info = match log.info() {
        Ok(i) => i,
        Err(e) => return check_err("info", &e),
    };
    let _ = log
        .physical_info()
        .map_err(|e| check_err("physical info", &e));
    let _ = log
        .io_statistics()
        .map_err(|e| check_err("io statistics", &e));
    // Restart chain.
    match area.read_restart() {
        Ok(Some(mut rc)) => {
            let mut prev = rc.current().map(|r| r.lsn);
            for step in 0.. {
                assert!(step < max_steps(t), "restart chain does not end");
                match rc.previous() {
                    Ok(Some(r)) => {
                        if let Some(p) = prev {
                            assert!(r.lsn < p, "restart chain goes back: {p} then {}", r.lsn);
                        }
                        prev = Some(r.lsn);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        check_err("previous restart", &e);
                        break;
                    }
                }
            }
        }
        Ok(None) => {}
        Err(e) => check_err("read restart", &e),
    }
    // Forward from the tail, every record (restart records included).
    let tail = info.base.min(info.min_archive_tail);
    // Data records seen going forward: the backward walks start at some of them.
    let mut data = Vec::new();
    match area.read(tail, ReadMode::Forward) {
        Ok(cx) => {
            let mut cx = cx.with_restart_records();
            let mut last: Option<Lsn> = None;
            for step in 0.. {
                assert!(step < max_steps(t), "forward read does not end");
                match cx.next() {
                    Ok(Some(r)) => {
                        if let Some(l) = last {
                            assert!(r.lsn > l, "forward read goes back: {l} then {}", r.lsn);
                        }
                        last = Some(r.lsn);
                        if r.kind() == RecordType::Data {
                            data.push(r.lsn);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        check_err("read next", &e);
                        break;
                    }
                }
            }
        }
        Err(e) => check_err("read forward", &e),
    }
    // Backward along both chains from the last record (a restart record is refused) and from
    // the last and the middle data records.
    let starts = [
        Some(info.last),
        data.last().copied(),
        data.get(data.len() / 2).copied(),
    ];
    for (mode, from) in [ReadMode::Previous, ReadMode::UndoNext]
        .into_iter()
        .flat_map(|m| starts.iter().flatten().map(move |&l| (m, l)))
    {
        match area.read(from, mode) {
            Ok(mut cx) => {
                let mut prev: Option<Lsn> = None;
                for step in 0.. {
                    assert!(step < max_steps(t), "{mode:?} chain does not end");
                    match cx.next() {
                        Ok(Some(r)) => {
                            if let Some(p) = prev {
                                assert!(
                                    r.lsn < p,
                                    "{mode:?} chain goes forward: {p} then {}",
                                    r.lsn
                                );
                            }
                            prev = Some(r.lsn);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            check_err("read chain", &e);
                            break;
                        }
                    }
                }
            }
            Err(e) => check_err("read back", &e),
        }
    }
    // A few records by LSN.
    for &l in t.lsns.iter().step_by(t.lsns.len() / 4 + 1) {
        let l = Lsn::from_raw(l);
        match area.read(l, ReadMode::Forward) {
            Ok(mut cx) => {
                if let Err(e) = cx.next() {
                    check_err("read one", &e);
                }
            }
            Err(e) => check_err("read one", &e),
        }
    }
    // The emulator's own checks, past the safe API's range check: raw reads at LSNs near the
    // log's records and at the edges of the LSN space, in every mode.
    let near = t.lsns.iter().step_by(t.lsns.len() / 3 + 1).flat_map(|&l| {
        [
            l + 1,
            l + 0x1ff,
            (l | 0x1ff) + 1,
            l.wrapping_sub(0x200),
            l ^ (1 << 32),
        ]
    });
    let edges = [
        info.last.raw() + 1,
        info.last.raw() + 0x200,
        0xFFFF_FFFE_0000_0000,
        0xFFFF_FFFF_0000_0000,
        u64::MAX,
    ];
    for (i, l) in near.chain(edges).enumerate() {
        raw_read(area, l, [3, 2, 1][i % 3]);
    }
    // Containers.
    let mut sc = ScanContext::new();
    let scan = log.containers(&mut sc);
    match scan {
        Ok(scan) => {
            for (n, c) in scan.enumerate() {
                assert!(n <= 1024, "container scan does not end");
                match c {
                    Ok(c) => {
                        if let Some(id) = c.logical_id() {
                            let mut buf = [0u16; 300];
                            if let Err(e) = log.container_name(id, &mut buf) {
                                check_err("container name", &e);
                            }
                        }
                    }
                    Err(e) => {
                        check_err("scan", &e);
                        break;
                    }
                }
            }
        }
        Err(e) => check_err("scan", &e),
    }
}

/// `ClfsReadLogRecord` straight into the emulator at `lsn` in `mode`: a documented status, or
/// a record whose length fits the area's buffer (then the context is terminated).
fn raw_read(area: &MarshallingArea<'_, ClfsAllocator>, lsn: u64, mode: i32) {
    use clfs_emu::types::CLS_LSN;
    let mut first = CLS_LSN { Internal: lsn };
    let (mut buf, mut len, mut kind) = (std::ptr::null_mut(), 0u32, 0u8);
    let mut undo = CLS_LSN { Internal: 0 };
    let mut prev = CLS_LSN { Internal: 0 };
    let mut cx = std::ptr::null_mut();
    // SAFETY: the area is live (it is borrowed); every out pointer is a valid local.
    let s = unsafe {
        clfs_emu::ClfsReadLogRecord(
            area.as_raw(),
            &mut first,
            mode,
            &mut buf,
            &mut len,
            &mut kind,
            &mut undo,
            &mut prev,
            &mut cx,
        )
    };
    if s == 0 {
        assert!(len <= BUF, "raw read at {lsn:#x}: {len} bytes");
        assert_eq!(first.Internal, lsn, "raw read returns the LSN asked for");
        // SAFETY: the context the successful read returned, terminated once.
        assert_eq!(unsafe { clfs_emu::ClfsTerminateReadLog(cx) }, 0);
    } else {
        check_err(
            &format!("read raw {lsn:#x}"),
            &Error::Status {
                routine: "ClfsReadLogRecord",
                status: NtStatus(s),
            },
        );
    }
}

/// Opens `name` for writing, else (refused for writing) for reading.
fn open(name: &str) -> Option<(LogFile, bool)> {
    match LogFile::create(&w(name), opts()) {
        Ok(l) => Some((l, true)),
        Err(e) => {
            check_err("open", &e);
            if std::env::var_os("EMU_OPEN_TRACE").is_some() {
                eprintln!("open {name}: {e}");
            }
            if matches!(
                e.status(),
                Some(MEDIA_WRITE_PROTECTED | NtStatus::ACCESS_DENIED)
            ) {
                match LogFile::create(
                    &w(name),
                    LogOptions::new().access(Access::READ).share(Share::READ),
                ) {
                    Ok(l) => return Some((l, false)),
                    Err(e) => check_err("open for reading", &e),
                }
            }
            None
        }
    }
}

/// One pass: open every stream, read everything, append and flush; returns the records
/// appended and flushed (name, LSN, data).
fn pass(t: &Template, input: &Input, write: bool) -> Vec<(String, Lsn, Vec<u8>)> {
    let names: Vec<String> = if t.streams.is_empty() {
        vec![t.name.clone()]
    } else {
        let mut v = vec![t.name.clone()];
        v.extend(t.streams.iter().map(|s| format!("{}{s}", t.name)));
        v
    };
    let mut flushed = Vec::new();
    let opened: Vec<(String, LogFile, bool)> = names
        .iter()
        .filter_map(|n| open(n).map(|(l, wr)| (n.clone(), l, wr)))
        .collect();
    for (name, log, writable) in &opened {
        let physical = !t.streams.is_empty() && name.ends_with("::");
        if physical {
            let _ = log.info().map_err(|e| check_err("physical info", &e));
            let mut sc = ScanContext::new();
            if let Ok(scan) = log.containers(&mut sc) {
                for (n, c) in scan.enumerate() {
                    assert!(n <= 1024, "container scan does not end");
                    if c.is_err() {
                        break;
                    }
                }
            }
            continue;
        }
        let a = match MarshallingArea::<ClfsAllocator>::create(log, MarshallingConfig::new(BUF)) {
            Ok(a) => a,
            Err(e) => {
                check_err("area", &e);
                continue;
            }
        };
        read_all(t, log, &a);
        if write && *writable {
            let mut last = None;
            // The stream's LSNs strictly increase: a new record comes after the last one the
            // log reports (a log with no record reports its base there, where the first goes).
            let before = log.info().ok().map(|i| i.last);
            for i in 0..usize::from(input.appends % 4) + 1 {
                let d = data(i + 100, usize::from(input.size) % 9000);
                match a.append(&[&d]) {
                    Ok(l) => {
                        if let (Some(b), 0) = (before, i) {
                            assert!(l >= b, "{name}: new record {l} below the last one, {b}");
                        }
                        last = Some((l, d));
                    }
                    Err(e) => {
                        check_err("append", &e);
                        last = None;
                        break;
                    }
                }
            }
            match a.flush() {
                Ok(_) => {
                    if let Some((l, d)) = last {
                        flushed.push((name.clone(), l, d));
                    }
                }
                Err(e) => check_err("flush", &e),
            }
            if let Err(e) = a.write_restart(b"fuzz restart") {
                check_err("restart", &e);
            }
            read_all(t, log, &a);
        }
        if let Err(e) = a.delete() {
            check_err("delete area", &e);
        }
    }
    for (_, log, _) in opened {
        if let Err(e) = log.close() {
            check_err("close", &e);
        }
    }
    flushed
}

fn run(input: &Input) {
    let t = &templates()[usize::from(input.template % TEMPLATES)];
    let mut files = Files {
        files: t
            .files
            .iter()
            .map(|(p, b)| (p.clone(), Some(Cow::Borrowed(b.as_slice()))))
            .collect(),
    };
    for m in &input.mutations {
        apply(t, &mut files, m);
    }
    let sb = Sandbox::new();
    for (i, (p, b)) in files.files.iter().enumerate() {
        let p = sb.root().join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        match b {
            Some(Cow::Borrowed(b)) => write_sparse(&p, b, &t.pages[i]),
            Some(Cow::Owned(b)) => write_sparse(&p, b, &nonzero_pages(b)),
            None => {}
        }
    }
    let flushed = pass(t, input, true);
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "leaks after close: {leaks:?}");
    // Reopen: what was flushed reads back.
    let _ = pass(t, input, false);
    for (name, l, d) in &flushed {
        let log = LogFile::create(&w(name), opts())
            .unwrap_or_else(|e| panic!("{name}: reopen after a flushed append at {l}: {e}"));
        let a = area(&log);
        let mut cx = a
            .read(*l, ReadMode::Forward)
            .unwrap_or_else(|e| panic!("{name}: flushed record {l} lost: {e}"));
        let r = cx
            .next()
            .unwrap_or_else(|e| panic!("{name}: flushed record {l}: {e}"))
            .expect("the flushed record");
        assert_eq!((r.lsn, r.data), (*l, &d[..]), "{name}: flushed record");
        drop(cx);
        drop(a);
        log.close().expect("close");
    }
    let stats = sb.stats();
    let leaks = stats.leaks();
    assert!(leaks.is_empty(), "leaks after reopen: {leaks:?}");
    if std::env::var_os("EMU_OPEN_TRACE").is_some() {
        let n = |r: &str| stats.calls(r);
        eprintln!(
            "template {}: {} mutations, {} flushed; calls: create {}, read {}, next {}, \
             restart {}+{}, scan {}, append {}, flush {}",
            input.template % TEMPLATES,
            input.mutations.len(),
            flushed.len(),
            n("ClfsCreateLogFile"),
            n("ClfsReadLogRecord"),
            n("ClfsReadNextLogRecord"),
            n("ClfsReadRestartArea"),
            n("ClfsReadPreviousRestartArea"),
            n("ClfsScanLogContainers"),
            n("ClfsReserveAndAppendLog"),
            n("ClfsFlushBuffers"),
        );
    }
}

fuzz_target!(|data: &[u8]| {
    run(&Input::parse(data));
});
