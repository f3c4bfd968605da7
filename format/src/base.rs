//! The base record (`CLFS_BASE_RECORD_HEADER` and its symbol zone): log id, client contexts
//! (streams), container contexts with their symbol names, and the symbol hash tables.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::bytes::{align_up, put, put_u16, put_u32, put_u64, put_u8, u16_, u32_, u64_, u8_};
use crate::error::{Loc, Result, Rule};
use crate::Lsn;

/// Buckets in each symbol hash table (`CLIENT_SYMTBL_SIZE`, `CONTAINER_SYMTBL_SIZE`,
/// `SHARED_SECURITY_SYMTBL_SIZE`).
pub const SYMTBL_SIZE: usize = 11;
/// `MAX_CLIENTS_DEFAULT`: entries of `rgClients`.
pub const MAX_CLIENTS: usize = 124;
/// `MAX_CONTAINERS_DEFAULT`: entries of `rgContainers`.
pub const MAX_CONTAINERS: usize = 1024;
/// `sizeof(CLFS_BASE_RECORD_HEADER)`: the symbol zone starts here.
pub const BASE_RECORD_HEADER_SIZE: usize = 0x1338;
/// `sizeof(CLFSHASHSYM)`.
pub const HASH_SYMBOL_SIZE: usize = 0x30;
/// `sizeof(CLFS_CLIENT_CONTEXT)`.
pub const CLIENT_CONTEXT_SIZE: usize = 0x88;
/// `sizeof(CLFS_CONTAINER_CONTEXT)`.
pub const CONTAINER_CONTEXT_SIZE: usize = 0x30;
/// Longest symbol name accepted, in UTF-16 units (a path; NTFS allows 32767).
pub const MAX_NAME_UNITS: usize = 32_767;

/// `CLFS_NODE_TYPE_SYMBOL`.
pub const NODE_TYPE_SYMBOL: u32 = 0xC1FD_F006;
/// `CLFS_NODE_TYPE_CLIENT_CONTEXT`.
pub const NODE_TYPE_CLIENT_CONTEXT: u32 = 0xC1FD_F007;
/// `CLFS_NODE_TYPE_CONTAINER_CONTEXT`.
pub const NODE_TYPE_CONTAINER_CONTEXT: u32 = 0xC1FD_F008;
/// `CLFS_NODE_TYPE_SHARED_SECURITY_CONTEXT`.
pub const NODE_TYPE_SHARED_SECURITY_CONTEXT: u32 = 0xC1FD_F00D;

/// `CLFS_LOG_UNINITIALIZED`.
pub const LOG_STATE_UNINITIALIZED: u8 = 0x01;
/// `CLFS_LOG_INITIALIZED`.
pub const LOG_STATE_INITIALIZED: u8 = 0x02;
/// `CLFS_LOG_ACTIVE`.
pub const LOG_STATE_ACTIVE: u8 = 0x04;
/// `CLFS_LOG_PENDING_DELETE`.
pub const LOG_STATE_PENDING_DELETE: u8 = 0x08;
/// `CLFS_LOG_PENDING_ARCHIVE`.
pub const LOG_STATE_PENDING_ARCHIVE: u8 = 0x10;
/// `CLFS_LOG_SHUTDOWN`.
pub const LOG_STATE_SHUTDOWN: u8 = 0x20;
/// `CLFS_LOG_MULTIPLEXED`: the log has several streams (client contexts).
pub const LOG_STATE_MULTIPLEXED: u8 = 0x40;
/// `CLFS_LOG_SECURE`.
pub const LOG_STATE_SECURE: u8 = 0x80;

/// `ClfsContainerInitializing`.
pub const CONTAINER_STATE_INITIALIZING: u32 = 0x01;
/// `ClfsContainerInactive` (what Windows stores on disk).
pub const CONTAINER_STATE_INACTIVE: u32 = 0x02;
/// `ClfsContainerActive`.
pub const CONTAINER_STATE_ACTIVE: u32 = 0x04;
/// `ClfsContainerActivePendingDelete`.
pub const CONTAINER_STATE_ACTIVE_PENDING_DELETE: u32 = 0x08;
/// `ClfsContainerPendingArchive`.
pub const CONTAINER_STATE_PENDING_ARCHIVE: u32 = 0x10;
/// `ClfsContainerPendingArchiveAndDelete`.
pub const CONTAINER_STATE_PENDING_ARCHIVE_AND_DELETE: u32 = 0x20;

/// The encoder's location in errors.
const ENCODER: Loc<'static> = Loc::new("(encoder)", 0);

/// A log id (`CLFS_LOG_ID`, a GUID), in its on-disk byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LogId(pub [u8; 16]);

impl fmt::Display for LogId {
    /// The usual GUID text, `00162f75-1905-11ea-a810-000d3aa41ef3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]])
        )?;
        for (i, x) in b.iter().enumerate().skip(8) {
            if i == 10 {
                f.write_str("-")?;
            }
            write!(f, "{x:02x}")?;
        }
        Ok(())
    }
}

/// `ClfsHashPJW`: the PJW (ELF) hash of a symbol name's UTF-16 units, each upper-cased.
///
/// Upper-casing: ASCII letters, and other units whose Unicode uppercase is a single BMP
/// character (Windows uses its own upcase table; it agrees for the names CLFS builds).
///
/// ```
/// // The container symbol of a Windows-made registry transaction log.
/// let name: Vec<u16> = "%BLF%\\DRIVERS{53b39e70-18c4-11ea-a811-000d3aa4692b}.TMContainer00000000000000000001.regtrans-ms"
///     .encode_utf16().collect();
/// assert_eq!(clfs_format::pjw_hash(&name), 0x0d81_9c83);
/// ```
pub fn pjw_hash(name: &[u16]) -> u32 {
    let mut h: u32 = 0;
    for &u in name {
        h = (h << 4).wrapping_add(upcase(u) as u32);
        let high = h & 0xF000_0000;
        if high != 0 {
            h ^= high >> 24;
            h &= !high;
        }
    }
    h
}

fn upcase(u: u16) -> u16 {
    if (b'a' as u16..=b'z' as u16).contains(&u) {
        return u - 0x20;
    }
    if u < 0x80 {
        return u;
    }
    let Some(c) = char::from_u32(u as u32) else {
        return u; // a surrogate: unchanged
    };
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(x), None) if (x as u32) <= 0xFFFF => x as u16,
        _ => u,
    }
}

/// `CLFSHASHSYM`: the 0x30-byte node in front of every client and container context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashSymbol {
    /// `cidNode.cType` ([`NODE_TYPE_SYMBOL`]).
    pub node_type: u32,
    /// `cidNode.cbNode` (0x30).
    pub node_size: u32,
    /// `ulHash`: [`pjw_hash`] of the name.
    pub hash: u32,
    /// `cbHash`: 0x30 plus the context's size in every Windows-made symbol seen.
    pub cb_hash: u32,
    /// `ulBelow`: offset of the symbol with a smaller hash in the same bucket, or 0.
    pub below: u64,
    /// `ulAbove`: offset of the symbol with a larger hash in the same bucket, or 0.
    pub above: u64,
    /// `cbSymName`: offset of the UTF-16 name, from the base record.
    pub name_offset: u32,
    /// `cbOffset`: offset of the context, from the base record.
    pub context_offset: u32,
    /// `fDeleted`.
    pub deleted: u8,
}

impl HashSymbol {
    fn decode(r: &[u8], at: usize, loc: &Loc<'_>) -> Result<HashSymbol> {
        const F: &str = "CLFSHASHSYM";
        let s = HashSymbol {
            node_type: u32_(r, at, loc, "CLFSHASHSYM.cidNode.cType")?,
            node_size: u32_(r, at + 4, loc, "CLFSHASHSYM.cidNode.cbNode")?,
            hash: u32_(r, at + 8, loc, F)?,
            cb_hash: u32_(r, at + 12, loc, F)?,
            below: u64_(r, at + 16, loc, F)?,
            above: u64_(r, at + 24, loc, F)?,
            name_offset: u32_(r, at + 32, loc, F)?,
            context_offset: u32_(r, at + 36, loc, F)?,
            deleted: u8_(r, at + 40, loc, F)?,
        };
        node(
            loc,
            "CLFSHASHSYM.cidNode",
            s.node_type,
            s.node_size,
            NODE_TYPE_SYMBOL,
            HASH_SYMBOL_SIZE,
        )?;
        Ok(s)
    }
    fn encode(&self, r: &mut [u8], at: usize) {
        put_u32(r, at, self.node_type);
        put_u32(r, at + 4, self.node_size);
        put_u32(r, at + 8, self.hash);
        put_u32(r, at + 12, self.cb_hash);
        put_u64(r, at + 16, self.below);
        put_u64(r, at + 24, self.above);
        put_u32(r, at + 32, self.name_offset);
        put_u32(r, at + 36, self.context_offset);
        put_u8(r, at + 40, self.deleted);
    }
}

fn node(
    loc: &Loc<'_>,
    field: &'static str,
    ty: u32,
    size: u32,
    want_ty: u32,
    want_size: usize,
) -> Result<()> {
    if ty != want_ty {
        return Err(loc.err(
            field,
            Rule::Mismatch {
                found: ty as u64,
                expected: want_ty as u64,
            },
        ));
    }
    if size as usize != want_size {
        return Err(loc.err(
            field,
            Rule::Mismatch {
                found: size as u64,
                expected: want_size as u64,
            },
        ));
    }
    Ok(())
}

/// `CLFS_CLIENT_CONTEXT` (0x88 bytes): one per stream.
///
/// The LSN fields are in the order of the public symbols (owner page, archive tail, base,
/// last, restart, physical base). A Windows-made log agrees: `restart` names its newest
/// restart record (see docs/format.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientContext {
    /// `cidClient`: the stream id.
    pub client_id: u8,
    /// `fAttributes`: `FILE_ATTRIBUTE_*` of the base file.
    pub attributes: u16,
    /// `cbFlushThreshold`.
    pub flush_threshold: u32,
    /// `cShadowSectors`.
    pub shadow_sectors: u32,
    /// `cbUndoCommitment`.
    pub undo_commitment: u64,
    /// `llCreateTime` (FILETIME).
    pub create_time: i64,
    /// `llAccessTime`.
    pub access_time: i64,
    /// `llWriteTime`.
    pub write_time: i64,
    /// `lsnOwnerPage`.
    pub owner_page: Lsn,
    /// `lsnArchiveTail`.
    pub archive_tail: Lsn,
    /// `lsnBase`: the oldest record the client still needs.
    pub base: Lsn,
    /// `lsnLast`: in a Windows-made log, the LSN of the next block to write.
    pub last: Lsn,
    /// `lsnRestart`: the newest restart record.
    pub restart: Lsn,
    /// `lsnPhysicalBase`.
    pub physical_base: Lsn,
    /// `lsnUnused1`.
    pub unused1: Lsn,
    /// `lsnUnused2`.
    pub unused2: Lsn,
    /// `eState` (`CLFS_LOG_STATE` bits).
    pub state: u8,
    /// `hSecurityContext`: in-memory only, 0 on disk.
    pub security_context: u64,
}

impl ClientContext {
    /// A fresh client context for stream `client_id`: every LSN INVALID except base, last
    /// and restart, which the writer sets; flush threshold 40000 and state 0, as in a
    /// Windows-made log.
    pub fn new(client_id: u8) -> ClientContext {
        ClientContext {
            client_id,
            attributes: 0,
            flush_threshold: 40_000,
            shadow_sectors: 0,
            undo_commitment: 0,
            create_time: 0,
            access_time: 0,
            write_time: 0,
            owner_page: Lsn::INVALID,
            archive_tail: Lsn::INVALID,
            base: Lsn::NULL,
            last: Lsn::NULL,
            restart: Lsn::INVALID,
            physical_base: Lsn::INVALID,
            unused1: Lsn::NULL,
            unused2: Lsn::NULL,
            state: 0,
            security_context: 0,
        }
    }

    /// Decodes the context at `at` of the base record `r`.
    pub fn decode(r: &[u8], at: usize, loc: &Loc<'_>) -> Result<ClientContext> {
        const F: &str = "CLFS_CLIENT_CONTEXT";
        node(
            loc,
            "CLFS_CLIENT_CONTEXT.cidNode",
            u32_(r, at, loc, F)?,
            u32_(r, at + 4, loc, F)?,
            NODE_TYPE_CLIENT_CONTEXT,
            CLIENT_CONTEXT_SIZE,
        )?;
        let lsn = |i: usize| -> Result<Lsn> { Ok(Lsn(u64_(r, at + 0x38 + 8 * i, loc, F)?)) };
        Ok(ClientContext {
            client_id: u8_(r, at + 0x08, loc, F)?,
            attributes: u16_(r, at + 0x0a, loc, F)?,
            flush_threshold: u32_(r, at + 0x0c, loc, F)?,
            shadow_sectors: u32_(r, at + 0x10, loc, F)?,
            undo_commitment: u64_(r, at + 0x18, loc, F)?,
            create_time: u64_(r, at + 0x20, loc, F)? as i64,
            access_time: u64_(r, at + 0x28, loc, F)? as i64,
            write_time: u64_(r, at + 0x30, loc, F)? as i64,
            owner_page: lsn(0)?,
            archive_tail: lsn(1)?,
            base: lsn(2)?,
            last: lsn(3)?,
            restart: lsn(4)?,
            physical_base: lsn(5)?,
            unused1: lsn(6)?,
            unused2: lsn(7)?,
            state: u8_(r, at + 0x78, loc, F)?,
            security_context: u64_(r, at + 0x80, loc, F)?,
        })
    }

    /// Writes the context at `at` of `r`.
    pub fn encode(&self, r: &mut [u8], at: usize) {
        put_u32(r, at, NODE_TYPE_CLIENT_CONTEXT);
        put_u32(r, at + 4, CLIENT_CONTEXT_SIZE as u32);
        put_u8(r, at + 0x08, self.client_id);
        put_u16(r, at + 0x0a, self.attributes);
        put_u32(r, at + 0x0c, self.flush_threshold);
        put_u32(r, at + 0x10, self.shadow_sectors);
        put_u64(r, at + 0x18, self.undo_commitment);
        put_u64(r, at + 0x20, self.create_time as u64);
        put_u64(r, at + 0x28, self.access_time as u64);
        put_u64(r, at + 0x30, self.write_time as u64);
        let lsns = [
            self.owner_page,
            self.archive_tail,
            self.base,
            self.last,
            self.restart,
            self.physical_base,
            self.unused1,
            self.unused2,
        ];
        for (i, l) in lsns.iter().enumerate() {
            put_u64(r, at + 0x38 + 8 * i, l.0);
        }
        put_u8(r, at + 0x78, self.state);
        put_u64(r, at + 0x80, self.security_context);
    }
}

/// `CLFS_CONTAINER_CONTEXT` (0x30 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerContext {
    /// `cbContainer`: the container's size in bytes.
    pub size: u64,
    /// `cidContainer`: the physical id (index in `rgContainers`, the file).
    pub physical_id: u32,
    /// `cidQueue`: the logical id, the one LSNs carry. Equal to the physical id until
    /// containers are recycled.
    pub logical_id: u32,
    /// `pContainer`: an in-memory pointer, 0 on disk and never used.
    pub image: u64,
    /// `usnCurrent`.
    pub usn: u32,
    /// `eState` (`CONTAINER_STATE_*`).
    pub state: u32,
    /// `cbPrevOffset`.
    pub prev_offset: u32,
    /// `cbNextOffset`.
    pub next_offset: u32,
}

impl ContainerContext {
    /// A container context as Windows stores it for a new container: inactive, USN 1.
    pub fn new(physical_id: u32, logical_id: u32, size: u64) -> ContainerContext {
        ContainerContext {
            size,
            physical_id,
            logical_id,
            image: 0,
            usn: 1,
            state: CONTAINER_STATE_INACTIVE,
            prev_offset: 0,
            next_offset: 0,
        }
    }

    /// Decodes the context at `at` of the base record `r`.
    pub fn decode(r: &[u8], at: usize, loc: &Loc<'_>) -> Result<ContainerContext> {
        const F: &str = "CLFS_CONTAINER_CONTEXT";
        node(
            loc,
            "CLFS_CONTAINER_CONTEXT.cidNode",
            u32_(r, at, loc, F)?,
            u32_(r, at + 4, loc, F)?,
            NODE_TYPE_CONTAINER_CONTEXT,
            CONTAINER_CONTEXT_SIZE,
        )?;
        Ok(ContainerContext {
            size: u64_(r, at + 0x08, loc, F)?,
            physical_id: u32_(r, at + 0x10, loc, F)?,
            logical_id: u32_(r, at + 0x14, loc, F)?,
            image: u64_(r, at + 0x18, loc, F)?,
            usn: u32_(r, at + 0x20, loc, F)?,
            state: u32_(r, at + 0x24, loc, F)?,
            prev_offset: u32_(r, at + 0x28, loc, F)?,
            next_offset: u32_(r, at + 0x2c, loc, F)?,
        })
    }

    /// Writes the context at `at` of `r`.
    pub fn encode(&self, r: &mut [u8], at: usize) {
        put_u32(r, at, NODE_TYPE_CONTAINER_CONTEXT);
        put_u32(r, at + 4, CONTAINER_CONTEXT_SIZE as u32);
        put_u64(r, at + 0x08, self.size);
        put_u32(r, at + 0x10, self.physical_id);
        put_u32(r, at + 0x14, self.logical_id);
        put_u64(r, at + 0x18, self.image);
        put_u32(r, at + 0x20, self.usn);
        put_u32(r, at + 0x24, self.state);
        put_u32(r, at + 0x28, self.prev_offset);
        put_u32(r, at + 0x2c, self.next_offset);
    }
}

/// How a log lays out its streams, told apart from its base record
/// ([`BaseRecord::layout`]). The layouts differ in what a block's `ClientId`, a client's
/// `lsnLast` and client 0 mean; `docs/format.md` has the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// Not multiplexed (`eLogState` lacks [`LOG_STATE_MULTIPLEXED`]): one stream, client 0;
    /// every block's `ClientId` is 0 and `lsnLast` is where the next block goes.
    Dedicated,
    /// Multiplexed without owner pages (every client's `lsnOwnerPage` is
    /// `CLFS_LSN_INVALID`): the layout `clfs-emu` writes. Client 0 is the physical log (no
    /// records of its own; `lsnBase` the oldest LSN a stream still needs, `lsnLast` where
    /// the next block goes); clients 1..=123 are the streams, each block holds records of the
    /// stream its `ClientId` names, a stream's `lsnLast` is its last flushed record
    /// (INVALID if none). Streams share the physical LSN space.
    Multiplexed,
    /// Multiplexed with owner pages (some client's `lsnOwnerPage` is a valid LSN): what a
    /// Windows-made multiplexed log is known to hold. The owner pages' contents are
    /// undocumented: they are recognised by their sector signature (type 0x08) and skipped;
    /// the stream rules that hold for every layout are checked.
    MultiplexedOwnerPaged,
}

impl Layout {
    /// A short name: `dedicated`, `multiplexed` or `multiplexed-owner-paged`.
    pub const fn name(self) -> &'static str {
        match self {
            Layout::Dedicated => "dedicated",
            Layout::Multiplexed => "multiplexed",
            Layout::MultiplexedOwnerPaged => "multiplexed-owner-paged",
        }
    }

    /// Whether client `client_id` is the physical log rather than a stream: client 0 of a
    /// [`Multiplexed`](Self::Multiplexed) log.
    pub const fn is_physical(self, client_id: u8) -> bool {
        matches!(self, Layout::Multiplexed) && client_id == 0
    }
}

/// A client (stream) of the base record: its context, its symbol and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The context.
    pub context: ClientContext,
    /// The symbol name (Windows stores the base file's full path here).
    pub name: String,
    /// The symbol as decoded (filled by the encoder's layout too).
    pub symbol: HashSymbol,
    /// Offset of the context in the base record.
    pub offset: u32,
}

/// A container of the base record: its context, its symbol and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The context.
    pub context: ContainerContext,
    /// The symbol name, such as `%BLF%\…Container…` (`%BLF%` is the base file's folder).
    pub name: String,
    /// The symbol as decoded (filled by the encoder's layout too).
    pub symbol: HashSymbol,
    /// Offset of the context in the base record.
    pub offset: u32,
}

/// The base record: the record of the general metadata block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRecord {
    /// `hdrBaseRecord.ullDumpCount`.
    pub dump_count: u64,
    /// `cidLog`.
    pub log_id: LogId,
    /// `cNextContainer`.
    pub next_container: u32,
    /// `cNextClient`.
    pub next_client: u8,
    /// `cFreeContainers`.
    pub free_containers: u32,
    /// `cActiveContainers`.
    pub active_containers: u32,
    /// `cbFreeContainers`.
    pub cb_free_containers: u32,
    /// `cbBusyContainers`.
    pub cb_busy_containers: u32,
    /// `cbSymbolZone`: bytes of the symbol zone in use, counted from the end of the header.
    pub symbol_zone: u32,
    /// `cbSector`: 0 in Windows-made logs (the sector size is always 512).
    pub cb_sector: u32,
    /// `bUnused`.
    pub unused: u16,
    /// `eLogState` (`LOG_STATE_*`; [`LOG_STATE_MULTIPLEXED`] marks a multiplexed log).
    pub log_state: u8,
    /// `cUsn`.
    pub usn: u8,
    /// `cClients`.
    pub client_count: u8,
    /// `rgClientSymTbl`.
    pub client_symtbl: [u64; SYMTBL_SIZE],
    /// `rgContainerSymTbl`.
    pub container_symtbl: [u64; SYMTBL_SIZE],
    /// `rgSecuritySymTbl`.
    pub security_symtbl: [u64; SYMTBL_SIZE],
    /// The clients named by `rgClients`, in index order.
    pub clients: Vec<Client>,
    /// The containers named by `rgContainers`, in index order.
    pub containers: Vec<Container>,
}

mod off {
    pub const DUMP: usize = 0x00;
    pub const LOG_ID: usize = 0x08;
    pub const CLIENT_SYMTBL: usize = 0x18;
    pub const CONTAINER_SYMTBL: usize = 0x70;
    pub const SECURITY_SYMTBL: usize = 0xc8;
    pub const NEXT_CONTAINER: usize = 0x120;
    pub const NEXT_CLIENT: usize = 0x124;
    pub const FREE_CONTAINERS: usize = 0x128;
    pub const ACTIVE_CONTAINERS: usize = 0x12c;
    pub const CB_FREE: usize = 0x130;
    pub const CB_BUSY: usize = 0x134;
    pub const CLIENTS: usize = 0x138;
    pub const CONTAINERS: usize = 0x328;
    pub const SYMBOL_ZONE: usize = 0x1328;
    pub const CB_SECTOR: usize = 0x132c;
    pub const UNUSED: usize = 0x1330;
    pub const LOG_STATE: usize = 0x1332;
    pub const USN: usize = 0x1333;
    pub const CLIENT_COUNT: usize = 0x1334;
}

/// Reads a NUL-terminated UTF-16LE name at `at` of `r`: the units without the NUL.
/// Whether two items of `items` have the same `key`.
fn has_duplicate<T, K: PartialEq>(items: &[T], key: impl Fn(&T) -> K) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| key(a) == key(b)))
}

fn read_name(r: &[u8], at: usize, loc: &Loc<'_>, field: &'static str) -> Result<Vec<u16>> {
    let mut units = Vec::new();
    let mut p = at;
    loop {
        let u = u16_(r, p, loc, field)?;
        if u == 0 {
            return Ok(units);
        }
        if units.len() >= MAX_NAME_UNITS {
            return Err(loc.err(
                field,
                Rule::TooLarge {
                    found: units.len() as u64 + 1,
                    max: MAX_NAME_UNITS as u64,
                },
            ));
        }
        units.push(u);
        p += 2;
    }
}

/// Symbol offsets must lie in the symbol zone: after the header, inside the record.
fn zone_offset(v: u64, r: &[u8], need: usize, loc: &Loc<'_>, field: &'static str) -> Result<usize> {
    if v < BASE_RECORD_HEADER_SIZE as u64 {
        return Err(loc.err(
            field,
            Rule::TooSmall {
                found: v,
                min: BASE_RECORD_HEADER_SIZE as u64,
            },
        ));
    }
    let max = r.len().saturating_sub(need) as u64;
    if v > max {
        return Err(loc.err(field, Rule::TooLarge { found: v, max }));
    }
    Ok(v as usize)
}

struct Decoded {
    symbol: HashSymbol,
    name: String,
}

/// Decodes the symbol in front of the context at `ctx` and checks that it points back at the
/// context, that its name lies in the record, and that its hash is the name's.
fn symbol_for(r: &[u8], ctx: usize, loc: &Loc<'_>) -> Result<Decoded> {
    let at = ctx.checked_sub(HASH_SYMBOL_SIZE).ok_or_else(|| {
        loc.err(
            "CLFSHASHSYM",
            Rule::Invalid("context has no symbol in front of it"),
        )
    })?;
    let at = zone_offset(at as u64, r, HASH_SYMBOL_SIZE, loc, "CLFSHASHSYM")?;
    let s = HashSymbol::decode(r, at, loc)?;
    if s.context_offset as usize != ctx {
        return Err(loc.err(
            "CLFSHASHSYM.cbOffset",
            Rule::Mismatch {
                found: s.context_offset as u64,
                expected: ctx as u64,
            },
        ));
    }
    let name_at = zone_offset(s.name_offset as u64, r, 2, loc, "CLFSHASHSYM.cbSymName")?;
    let units = read_name(r, name_at, loc, "CLFSHASHSYM.cbSymName")?;
    let hash = pjw_hash(&units);
    if hash != s.hash {
        return Err(loc.err(
            "CLFSHASHSYM.ulHash",
            Rule::Mismatch {
                found: s.hash as u64,
                expected: hash as u64,
            },
        ));
    }
    let name = char::decode_utf16(units.iter().copied())
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    Ok(Decoded { symbol: s, name })
}

impl BaseRecord {
    /// An empty base record for log `log_id`: no clients, no containers, state
    /// `UNINITIALIZED | INITIALIZED` as in a Windows-made dedicated log, USN 1.
    pub fn new(log_id: LogId) -> BaseRecord {
        BaseRecord {
            dump_count: 1,
            log_id,
            next_container: 0,
            next_client: 0,
            free_containers: 0,
            active_containers: 0,
            cb_free_containers: 0,
            cb_busy_containers: 0,
            symbol_zone: 0,
            cb_sector: 0,
            unused: 0,
            log_state: LOG_STATE_UNINITIALIZED | LOG_STATE_INITIALIZED,
            usn: 1,
            client_count: 0,
            client_symtbl: [0; SYMTBL_SIZE],
            container_symtbl: [0; SYMTBL_SIZE],
            security_symtbl: [0; SYMTBL_SIZE],
            clients: Vec::new(),
            containers: Vec::new(),
        }
    }

    /// Adds a client (stream) named `name`; the encoder lays it out.
    pub fn add_client(&mut self, context: ClientContext, name: &str) {
        self.clients.push(Client {
            context,
            name: String::from(name),
            symbol: HashSymbol::default(),
            offset: 0,
        });
        self.client_count = self.clients.len() as u8;
        self.next_client = self.next_client.max(context.client_id.saturating_add(1));
    }

    /// Adds a container named `name`; the encoder lays it out.
    pub fn add_container(&mut self, context: ContainerContext, name: &str) {
        self.containers.push(Container {
            context,
            name: String::from(name),
            symbol: HashSymbol::default(),
            offset: 0,
        });
        self.active_containers = self.containers.len() as u32;
    }

    /// Whether the log is multiplexed (`eLogState` has [`LOG_STATE_MULTIPLEXED`]).
    pub fn is_multiplexed(&self) -> bool {
        self.log_state & LOG_STATE_MULTIPLEXED != 0
    }

    /// How the log lays out its streams: dedicated, or multiplexed with or without owner
    /// pages (see [`Layout`]).
    ///
    /// ```
    /// use clfs_format::{BaseRecord, ClientContext, Layout, LogId, Lsn, LOG_STATE_MULTIPLEXED};
    /// let mut b = BaseRecord::new(LogId::default());
    /// b.add_client(ClientContext::new(0), "\\??\\C:\\logs\\mux.blf");
    /// assert_eq!(b.layout(), Layout::Dedicated);
    /// b.log_state |= LOG_STATE_MULTIPLEXED;
    /// b.add_client(ClientContext::new(1), "orders");
    /// assert_eq!(b.layout(), Layout::Multiplexed);
    /// b.clients[1].context.owner_page = Lsn::new(0, 0x7fe00, 0);
    /// assert_eq!(b.layout(), Layout::MultiplexedOwnerPaged);
    /// ```
    pub fn layout(&self) -> Layout {
        if !self.is_multiplexed() {
            Layout::Dedicated
        } else if self
            .clients
            .iter()
            .all(|c| c.context.owner_page.is_invalid())
        {
            Layout::Multiplexed
        } else {
            Layout::MultiplexedOwnerPaged
        }
    }

    /// The client (stream) whose id is `client_id`.
    pub fn client(&self, client_id: u8) -> Option<&Client> {
        self.clients
            .iter()
            .find(|c| c.context.client_id == client_id)
    }

    /// The container whose logical id (the one in LSNs) is `logical_id`.
    pub fn container_by_logical_id(&self, logical_id: u32) -> Option<&Container> {
        self.containers
            .iter()
            .find(|c| c.context.logical_id == logical_id)
    }

    /// Decodes the base record `r` (the bytes from the general block's `RecordOffsets[0]` to
    /// its fixup array). Every client and container named by `rgClients` / `rgContainers` is
    /// decoded with its symbol; offsets are bounds-checked, node types and sizes checked, and
    /// each symbol must point back at its context and carry its name's hash.
    pub fn decode(r: &[u8], loc: &Loc<'_>) -> Result<BaseRecord> {
        const F: &str = "CLFS_BASE_RECORD_HEADER";
        if r.len() < BASE_RECORD_HEADER_SIZE {
            return Err(loc.err(
                F,
                Rule::OutOfBounds {
                    at: 0,
                    needed: BASE_RECORD_HEADER_SIZE as u64,
                    available: r.len() as u64,
                },
            ));
        }
        let tbl = |base: usize| -> Result<[u64; SYMTBL_SIZE]> {
            let mut t = [0u64; SYMTBL_SIZE];
            for (i, e) in t.iter_mut().enumerate() {
                *e = u64_(r, base + 8 * i, loc, F)?;
            }
            Ok(t)
        };
        let mut rec = BaseRecord {
            dump_count: u64_(r, off::DUMP, loc, F)?,
            log_id: LogId(crate::bytes::arr(r, off::LOG_ID, loc, F)?),
            next_container: u32_(r, off::NEXT_CONTAINER, loc, F)?,
            next_client: u8_(r, off::NEXT_CLIENT, loc, F)?,
            free_containers: u32_(r, off::FREE_CONTAINERS, loc, F)?,
            active_containers: u32_(r, off::ACTIVE_CONTAINERS, loc, F)?,
            cb_free_containers: u32_(r, off::CB_FREE, loc, F)?,
            cb_busy_containers: u32_(r, off::CB_BUSY, loc, F)?,
            symbol_zone: u32_(r, off::SYMBOL_ZONE, loc, F)?,
            cb_sector: u32_(r, off::CB_SECTOR, loc, F)?,
            unused: u16_(r, off::UNUSED, loc, F)?,
            log_state: u8_(r, off::LOG_STATE, loc, F)?,
            usn: u8_(r, off::USN, loc, F)?,
            client_count: u8_(r, off::CLIENT_COUNT, loc, F)?,
            client_symtbl: tbl(off::CLIENT_SYMTBL)?,
            container_symtbl: tbl(off::CONTAINER_SYMTBL)?,
            security_symtbl: tbl(off::SECURITY_SYMTBL)?,
            clients: Vec::new(),
            containers: Vec::new(),
        };
        for i in 0..MAX_CLIENTS {
            let at = u32_(
                r,
                off::CLIENTS + 4 * i,
                loc,
                "CLFS_BASE_RECORD_HEADER.rgClients",
            )?;
            if at == 0 {
                continue;
            }
            let at = zone_offset(
                at as u64,
                r,
                CLIENT_CONTEXT_SIZE,
                loc,
                "CLFS_BASE_RECORD_HEADER.rgClients",
            )?;
            let context = ClientContext::decode(r, at, loc)?;
            let d = symbol_for(r, at, loc)?;
            rec.clients.push(Client {
                context,
                name: d.name,
                symbol: d.symbol,
                offset: at as u32,
            });
        }
        for i in 0..MAX_CONTAINERS {
            let at = u32_(
                r,
                off::CONTAINERS + 4 * i,
                loc,
                "CLFS_BASE_RECORD_HEADER.rgContainers",
            )?;
            if at == 0 {
                continue;
            }
            let at = zone_offset(
                at as u64,
                r,
                CONTAINER_CONTEXT_SIZE,
                loc,
                "CLFS_BASE_RECORD_HEADER.rgContainers",
            )?;
            let context = ContainerContext::decode(r, at, loc)?;
            let d = symbol_for(r, at, loc)?;
            rec.containers.push(Container {
                context,
                name: d.name,
                symbol: d.symbol,
                offset: at as u32,
            });
        }
        Ok(rec)
    }

    /// Checks the rules a Windows-made base record keeps beyond what [`decode`](Self::decode)
    /// needs: `cClients` and `cActiveContainers` match the arrays; every symbol is reachable
    /// from its hash table bucket (`hash % 11`) through the `ulBelow`/`ulAbove` tree; the tree
    /// has no cycle; client ids and physical container ids are unique.
    pub fn check(&self, r: &[u8], loc: &Loc<'_>) -> Result<()> {
        if self.client_count as usize != self.clients.len() {
            return Err(loc.err(
                "CLFS_BASE_RECORD_HEADER.cClients",
                Rule::Mismatch {
                    found: self.client_count as u64,
                    expected: self.clients.len() as u64,
                },
            ));
        }
        if self.active_containers as usize != self.containers.len() {
            return Err(loc.err(
                "CLFS_BASE_RECORD_HEADER.cActiveContainers",
                Rule::Mismatch {
                    found: self.active_containers as u64,
                    expected: self.containers.len() as u64,
                },
            ));
        }
        let client_syms = reachable(
            r,
            &self.client_symtbl,
            loc,
            "CLFS_BASE_RECORD_HEADER.rgClientSymTbl",
        )?;
        for c in &self.clients {
            let at = (c.offset as u64).wrapping_sub(HASH_SYMBOL_SIZE as u64);
            if !client_syms.contains(&at) {
                return Err(loc.err(
                    "CLFS_BASE_RECORD_HEADER.rgClientSymTbl",
                    Rule::Invalid("a client's symbol is not reachable from its hash bucket"),
                ));
            }
        }
        let container_syms = reachable(
            r,
            &self.container_symtbl,
            loc,
            "CLFS_BASE_RECORD_HEADER.rgContainerSymTbl",
        )?;
        for c in &self.containers {
            let at = (c.offset as u64).wrapping_sub(HASH_SYMBOL_SIZE as u64);
            if !container_syms.contains(&at) {
                return Err(loc.err(
                    "CLFS_BASE_RECORD_HEADER.rgContainerSymTbl",
                    Rule::Invalid("a container's symbol is not reachable from its hash bucket"),
                ));
            }
        }
        let containers = &self.containers;
        if has_duplicate(containers, |c| c.context.physical_id) {
            return Err(loc.err(
                "CLFS_CONTAINER_CONTEXT.cidContainer",
                Rule::Invalid("two containers have the same physical id"),
            ));
        }
        if has_duplicate(containers, |c| c.context.logical_id) {
            return Err(loc.err(
                "CLFS_CONTAINER_CONTEXT.cidQueue",
                Rule::Invalid("two containers have the same logical id"),
            ));
        }
        if has_duplicate(&self.clients, |c| c.context.client_id) {
            return Err(loc.err(
                "CLFS_CLIENT_CONTEXT.cidClient",
                Rule::Invalid("two clients have the same id"),
            ));
        }
        Ok(())
    }

    /// Lays the record out and returns its bytes: the header, then for each client and then
    /// each container a symbol, its context and its NUL-terminated UTF-16 name, each 8-byte
    /// aligned (the layout of a Windows-made log). Hash tables, `rgClients` (indexed by client
    /// id), `rgContainers` (indexed by physical id), `cbSymbolZone`, `cClients` and
    /// `cActiveContainers` are computed; the symbols and offsets of `self` are ignored.
    ///
    /// Errors: a client id of 124 or more, a physical container id of 1024 or more, or a
    /// duplicate client id, physical or logical container id.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let loc = &ENCODER;
        let mut zone = BASE_RECORD_HEADER_SIZE;
        struct Item {
            sym: usize,
            ctx: usize,
            name: usize,
            units: Vec<u16>,
            hash: u32,
        }
        let mut lay = |ctx_size: usize, name: &str| -> Item {
            let units: Vec<u16> = name.encode_utf16().collect();
            let sym = zone;
            let ctx = sym + HASH_SYMBOL_SIZE;
            let nm = ctx + ctx_size;
            zone = align_up(nm + 2 * units.len() + 2, 8);
            let hash = pjw_hash(&units);
            Item {
                sym,
                ctx,
                name: nm,
                units,
                hash,
            }
        };
        let clients: Vec<Item> = self
            .clients
            .iter()
            .map(|c| lay(CLIENT_CONTEXT_SIZE, &c.name))
            .collect();
        let containers: Vec<Item> = self
            .containers
            .iter()
            .map(|c| lay(CONTAINER_CONTEXT_SIZE, &c.name))
            .collect();
        let mut r = alloc::vec![0u8; zone];
        let b = r.as_mut_slice();
        put_u64(b, off::DUMP, self.dump_count);
        put(b, off::LOG_ID, &self.log_id.0);
        put_u32(b, off::NEXT_CONTAINER, self.next_container);
        put_u8(b, off::NEXT_CLIENT, self.next_client);
        put_u32(b, off::FREE_CONTAINERS, self.free_containers);
        put_u32(b, off::ACTIVE_CONTAINERS, self.containers.len() as u32);
        put_u32(b, off::CB_FREE, self.cb_free_containers);
        put_u32(b, off::CB_BUSY, self.cb_busy_containers);
        put_u32(b, off::SYMBOL_ZONE, (zone - BASE_RECORD_HEADER_SIZE) as u32);
        put_u32(b, off::CB_SECTOR, self.cb_sector);
        put_u16(b, off::UNUSED, self.unused);
        put_u8(b, off::LOG_STATE, self.log_state);
        put_u8(b, off::USN, self.usn);
        put_u8(b, off::CLIENT_COUNT, self.clients.len() as u8);
        let mut used = [false; MAX_CONTAINERS];
        for (c, it) in self.clients.iter().zip(&clients) {
            let id = c.context.client_id as usize;
            let slot = used
                .get_mut(id)
                .filter(|_| id < MAX_CLIENTS)
                .ok_or_else(|| {
                    loc.err(
                        "CLFS_CLIENT_CONTEXT.cidClient",
                        Rule::TooLarge {
                            found: id as u64,
                            max: MAX_CLIENTS as u64 - 1,
                        },
                    )
                })?;
            if core::mem::replace(slot, true) {
                return Err(loc.err(
                    "CLFS_CLIENT_CONTEXT.cidClient",
                    Rule::Invalid("two clients have the same id"),
                ));
            }
            put_u32(b, off::CLIENTS + 4 * id, it.ctx as u32);
            c.context.encode(b, it.ctx);
            write_symbol(b, it, CLIENT_CONTEXT_SIZE);
        }
        let mut used = [false; MAX_CONTAINERS];
        for (c, it) in self.containers.iter().zip(&containers) {
            let id = c.context.physical_id as usize;
            let slot = used.get_mut(id).ok_or_else(|| {
                loc.err(
                    "CLFS_CONTAINER_CONTEXT.cidContainer",
                    Rule::TooLarge {
                        found: id as u64,
                        max: MAX_CONTAINERS as u64 - 1,
                    },
                )
            })?;
            if core::mem::replace(slot, true) {
                return Err(loc.err(
                    "CLFS_CONTAINER_CONTEXT.cidContainer",
                    Rule::Invalid("two containers have the same physical id"),
                ));
            }
            if self
                .containers
                .iter()
                .filter(|d| d.context.logical_id == c.context.logical_id)
                .count()
                > 1
            {
                return Err(loc.err(
                    "CLFS_CONTAINER_CONTEXT.cidQueue",
                    Rule::Invalid("two containers have the same logical id"),
                ));
            }
            put_u32(b, off::CONTAINERS + 4 * id, it.ctx as u32);
            c.context.encode(b, it.ctx);
            write_symbol(b, it, CONTAINER_CONTEXT_SIZE);
        }
        link_table(b, off::CLIENT_SYMTBL, &clients);
        link_table(b, off::CONTAINER_SYMTBL, &containers);
        for (i, v) in self.security_symtbl.iter().enumerate() {
            put_u64(b, off::SECURITY_SYMTBL + 8 * i, *v);
        }
        return Ok(r);

        fn write_symbol(b: &mut [u8], it: &Item, ctx_size: usize) {
            HashSymbol {
                node_type: NODE_TYPE_SYMBOL,
                node_size: HASH_SYMBOL_SIZE as u32,
                hash: it.hash,
                cb_hash: (HASH_SYMBOL_SIZE + ctx_size) as u32,
                below: 0,
                above: 0,
                name_offset: it.name as u32,
                context_offset: it.ctx as u32,
                deleted: 0,
            }
            .encode(b, it.sym);
            for (i, u) in it.units.iter().enumerate() {
                put_u16(b, it.name + 2 * i, *u);
            }
        }

        // Each bucket is a binary search tree on the hash: smaller below, others above.
        fn link_table(b: &mut [u8], table: usize, items: &[Item]) {
            let mut roots = [0usize; SYMTBL_SIZE];
            for it in items {
                let bucket = it.hash as usize % SYMTBL_SIZE;
                let Some(root) = roots.get_mut(bucket) else {
                    continue;
                };
                if *root == 0 {
                    *root = it.sym;
                    put_u64(b, table + 8 * bucket, it.sym as u64);
                    continue;
                }
                let mut at = *root;
                // Bounded: each step goes one level deeper in a tree of at most items.len().
                for _ in 0..items.len() {
                    let Some(node) = items.iter().find(|x| x.sym == at) else {
                        break;
                    };
                    let link = if it.hash < node.hash {
                        at + 16
                    } else {
                        at + 24
                    };
                    let next = b
                        .get(link..link + 8)
                        .and_then(|s| <[u8; 8]>::try_from(s).ok())
                        .map(u64::from_le_bytes)
                        .unwrap_or(0) as usize;
                    if next == 0 {
                        put_u64(b, link, it.sym as u64);
                        break;
                    }
                    at = next;
                }
            }
        }
    }
}

/// Offsets of every symbol reachable from `table` through `ulBelow`/`ulAbove`, checking each
/// node and refusing cycles (more visits than the zone can hold symbols).
fn reachable(
    r: &[u8],
    table: &[u64; SYMTBL_SIZE],
    loc: &Loc<'_>,
    field: &'static str,
) -> Result<Vec<u64>> {
    let limit = r.len() / HASH_SYMBOL_SIZE + 1;
    let mut seen: Vec<u64> = Vec::new();
    let mut stack: Vec<(u64, usize)> = Vec::new();
    for (bucket, &root) in table.iter().enumerate() {
        if root != 0 {
            stack.push((root, bucket));
        }
    }
    while let Some((at, bucket)) = stack.pop() {
        if seen.len() >= limit || seen.contains(&at) {
            return Err(loc.err(field, Rule::Invalid("symbol tree has a cycle")));
        }
        let p = zone_offset(at, r, HASH_SYMBOL_SIZE, loc, field)?;
        let s = HashSymbol::decode(r, p, loc)?;
        if s.hash as usize % SYMTBL_SIZE != bucket {
            return Err(loc.err(
                "CLFSHASHSYM.ulHash",
                Rule::Mismatch {
                    found: (s.hash as usize % SYMTBL_SIZE) as u64,
                    expected: bucket as u64,
                },
            ));
        }
        seen.push(at);
        for next in [s.below, s.above] {
            if next != 0 {
                stack.push((next, bucket));
            }
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    const LOC: Loc<'static> = Loc::new("t.blf", 0x800);

    fn sample() -> BaseRecord {
        let mut b = BaseRecord::new(LogId([7; 16]));
        let mut c = ClientContext::new(0);
        c.base = Lsn::new(0, 0x9000, 1);
        c.restart = Lsn::new(0, 0x9000, 1);
        c.last = Lsn::new(0, 0x9200, 0);
        b.add_client(c, "\\Device\\HarddiskVolume3\\logs\\ledger.blf");
        for i in 0..13u32 {
            let name = alloc::format!("%BLF%\\ledgerContainer{i:020}.regtrans-ms");
            b.add_container(ContainerContext::new(i, i, 0x80000), &name);
        }
        b
    }

    #[test]
    fn header_size_matches_the_symbols() {
        assert_eq!(off::CLIENT_COUNT + 1, 0x1335);
        assert_eq!(align_up(0x1335, 8), BASE_RECORD_HEADER_SIZE);
    }

    #[test]
    fn round_trips_with_collisions() {
        let rec = sample();
        let bytes = rec.encode().unwrap();
        let d = BaseRecord::decode(&bytes, &LOC).unwrap();
        d.check(&bytes, &LOC).unwrap();
        assert_eq!(d.clients.len(), 1);
        assert_eq!(d.containers.len(), 13);
        for (a, b) in d.containers.iter().zip(&rec.containers) {
            assert_eq!((a.context, &a.name), (b.context, &b.name));
        }
        assert_eq!(d.clients[0].context, rec.clients[0].context);
        assert_eq!(d.clients[0].name, rec.clients[0].name);
        assert_eq!(d.log_id, rec.log_id);
        // 13 containers in 11 buckets: at least one bucket holds a tree.
        assert!(d
            .containers
            .iter()
            .any(|c| c.symbol.below != 0 || c.symbol.above != 0));
        // Encoding the decoded record gives the same bytes.
        assert_eq!(d.encode().unwrap(), bytes);
        assert_eq!(
            d.symbol_zone as usize,
            bytes.len() - BASE_RECORD_HEADER_SIZE
        );
    }

    #[test]
    fn hash_mismatch_and_bad_offsets_are_refused() {
        let rec = sample();
        let bytes = rec.encode().unwrap();
        let d = BaseRecord::decode(&bytes, &LOC).unwrap();
        let name_at = d.containers[0].symbol.name_offset as usize;
        let mut b = bytes.clone();
        b[name_at] = b'Q';
        let e = BaseRecord::decode(&b, &LOC).unwrap_err();
        assert_eq!(e.field, "CLFSHASHSYM.ulHash");
        let mut b = bytes.clone();
        b[off::CONTAINERS..off::CONTAINERS + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let e = BaseRecord::decode(&b, &LOC).unwrap_err();
        assert_eq!(e.field, "CLFS_BASE_RECORD_HEADER.rgContainers");
        assert!(matches!(
            e.rule,
            Rule::TooLarge {
                found: 0xffff_fff0,
                ..
            }
        ));
        let mut b = bytes.clone();
        b[off::CONTAINERS..off::CONTAINERS + 4].copy_from_slice(&0x100u32.to_le_bytes());
        assert!(matches!(
            BaseRecord::decode(&b, &LOC).unwrap_err().rule,
            Rule::TooSmall { found: 0x100, .. }
        ));
        // A cycle in a symbol tree.
        let mut b = bytes.clone();
        let sym = d.containers[0].offset as usize - HASH_SYMBOL_SIZE;
        b[sym + 16..sym + 24].copy_from_slice(&(sym as u64).to_le_bytes());
        let d2 = BaseRecord::decode(&b, &LOC).unwrap();
        assert_eq!(
            d2.check(&b, &LOC).unwrap_err().rule,
            Rule::Invalid("symbol tree has a cycle")
        );
    }

    #[test]
    fn encoder_refuses_out_of_range_ids() {
        let mut b = BaseRecord::new(LogId::default());
        b.add_container(ContainerContext::new(1024, 0, 0x80000), "x");
        assert!(b.encode().is_err());
        let mut b = BaseRecord::new(LogId::default());
        b.add_client(ClientContext::new(124), "x");
        assert!(b.encode().is_err());
        let mut b = BaseRecord::new(LogId::default());
        b.add_container(ContainerContext::new(1, 1, 0x80000), "x");
        b.add_container(ContainerContext::new(1, 2, 0x80000), "y");
        assert!(b.encode().is_err());
    }

    #[test]
    fn log_id_formats_as_a_guid() {
        let id = LogId([
            0x75, 0x2f, 0x16, 0x00, 0x05, 0x19, 0xea, 0x11, 0xa8, 0x10, 0x00, 0x0d, 0x3a, 0xa4,
            0x1e, 0xf3,
        ]);
        assert_eq!(id.to_string(), "00162f75-1905-11ea-a810-000d3aa41ef3");
    }

    #[test]
    fn upcase_hashes_case_insensitively() {
        let a: Vec<u16> = "%blf%\\ä".encode_utf16().collect();
        let b: Vec<u16> = "%BLF%\\Ä".encode_utf16().collect();
        assert_eq!(pjw_hash(&a), pjw_hash(&b));
    }
}
