//! Random operations on the streams of one MULTIPLEXED log, through the safe API, against the
//! emulator and a simple model per stream.
//!
//! Setup: the physical log `log:C:\fuzz\mux::` (ephemeral or archivable) with 2 to 4
//! containers (sizes rounded up to 1 MiB), and 2 to 4 streams, each with its own marshalling
//! area. Operations per stream (index modulo the stream count): append (random sizes,
//! including records too large, optionally force-flushed), flush, read forward from a known
//! LSN or read everything back, read another stream's LSN, read an LSN of the stream's earlier
//! life, advance the base, write a restart area (with and without a new base), read the
//! restart area, set the archive tail, query, close-and-reset, delete (by pointer or by name),
//! and (re)create a stream under a fuzzer-chosen name (valid or invalid). Log-wide: add a
//! container, open `log:<path>` (a dedicated open of a multiplexed log), a marshalling area on
//! the physical log, archive tail on the physical log, clean reopen, crash.
//!
//! Invariants: each stream's LSNs strictly increase (never reused, not even after a reset);
//! reads return exactly the stream's own records (every record names its stream, the
//! stream's incarnation and its index); another stream's LSN is never read; errors only where
//! the model predicts them; after a crash each stream holds exactly its records up to its
//! `LastFlushedLsn` (read before the crash from `info()`), which include every record known to
//! be flushed; a reset stream reads as empty, its old LSNs are refused and its restart area is
//! gone; a deleted stream is gone (open -> STATUS_OBJECT_NAME_NOT_FOUND) while the others keep
//! their records; invalid stream names are refused with `Error::InvalidLogName` before any
//! call; no panics; nothing leaks.
#![no_main]

use std::cell::OnceCell;

use arbitrary::Arbitrary;
use clfs::{
    max_record_size, Access, Append, ClfsAllocator, Error, LogFile, LogKind, LogOptions, Lsn,
    MarshallingArea, MarshallingConfig, NtStatus, ReadMode,
};
use clfs_emu::Sandbox;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Setup {
    streams: u8,
    containers: u8,
    container_size: u32,
    archive: bool,
    buffer_sectors: u8,
    max_write: u8,
}

/// A stream name for `Create`.
#[derive(Debug, Arbitrary)]
enum NameChoice {
    /// One of a few valid names, optionally in capitals (names compare case-insensitively).
    Pool { pick: u8, upper: bool },
    /// A name that breaks one rule.
    Bad { rule: u8, at: u8 },
    /// Whatever the fuzzer makes (at most 70 UTF-16 units).
    Raw(Vec<u16>),
}

#[derive(Debug, Arbitrary)]
enum Op {
    Append {
        stream: u8,
        len: u16,
        seed: u8,
        flush: bool,
    },
    Flush {
        stream: u8,
    },
    ReadFrom {
        stream: u8,
        index: u8,
    },
    ReadAll {
        stream: u8,
    },
    /// Reads, on `stream`, an LSN of another stream's record.
    ReadForeign {
        stream: u8,
        other: u8,
        index: u8,
    },
    /// Reads, on `stream`, an LSN it had before a reset or before the stream of its slot was
    /// deleted and created again.
    ReadStale {
        stream: u8,
        index: u8,
    },
    AdvanceBase {
        stream: u8,
        index: u8,
    },
    WriteRestart {
        stream: u8,
        len: u16,
        seed: u8,
        base: Option<u8>,
    },
    ReadRestart {
        stream: u8,
    },
    SetArchiveTail {
        stream: u8,
        index: u8,
    },
    Info {
        stream: u8,
    },
    Reset {
        stream: u8,
    },
    Delete {
        stream: u8,
        by_name: bool,
    },
    Create {
        stream: u8,
        name: NameChoice,
    },
    /// `log:<path>` of the multiplexed log: STATUS_LOG_MULTIPLEXED whatever the disposition,
    /// for create and delete alike.
    OpenDedicated {
        disposition: u8,
    },
    /// A marshalling area (refused before the call) and an archive tail on the physical log.
    PhysicalLogWrites,
    AddContainer,
    Reopen,
    Crash,
}

#[derive(Debug, Arbitrary)]
struct Input {
    setup: Setup,
    ops: Vec<Op>,
}

fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

const PATH: &str = "log:C:\\fuzz\\mux";
const MIB: u64 = 1024 * 1024;

fn physical_name() -> Vec<u16> {
    w(&format!("{PATH}::"))
}

fn stream_name(name: &[u16]) -> Vec<u16> {
    let mut n = physical_name();
    n.extend_from_slice(name);
    n
}

fn container_name(i: u32) -> Vec<u16> {
    w(&format!("%BLF%\\mux{i}"))
}

/// The names `Pool` picks from (all valid).
fn pool_name(pick: u8, upper: bool) -> Vec<u16> {
    let long = "L".repeat(64);
    let names = [
        "alpha",
        "Beta",
        "gamma",
        "delta-4",
        "e e",
        "\u{fc}n\u{ef}",
        ".hidden",
        "a.b",
        long.as_str(),
    ];
    let n = names[usize::from(pick) % names.len()];
    if upper {
        w(&n.to_uppercase())
    } else {
        w(n)
    }
}

fn choose_name(choice: &NameChoice) -> Vec<u16> {
    match choice {
        NameChoice::Pool { pick, upper } => pool_name(*pick, *upper),
        NameChoice::Bad { rule, at } => {
            let at = usize::from(*at);
            match rule % 6 {
                0 => w(&"s".repeat(65 + at % 8)),
                1 => {
                    let bad = b"\\/:*?\"<>|";
                    let mut n = w("stream");
                    let pos = at % (n.len() + 1);
                    n.insert(pos, u16::from(bad[at % bad.len()]));
                    n
                }
                2 => {
                    let mut n = w("ctl");
                    n.insert(at % 4, (at % 0x20) as u16);
                    n
                }
                3 => w("."),
                4 => w(".."),
                _ => w(if at % 2 == 0 { "trail " } else { "trail." }),
            }
        }
        NameChoice::Raw(units) => {
            let mut n: Vec<u16> = units.iter().copied().take(70).collect();
            if n.is_empty() {
                // An empty stream name is the physical log, not a stream.
                n.push(u16::from(b'x'));
            }
            n
        }
    }
}

/// The stream-name rules of docs/decisions.md ("Multiplexed logs"), written out again here:
/// 1 to 64 UTF-16 units, none of `\ / : * ? " < > |` or below U+0020, not `.` or `..`, not
/// ending in a space or a period.
fn name_is_valid(n: &[u16]) -> bool {
    let dot = u16::from(b'.');
    (1..=64).contains(&n.len())
        && !n
            .iter()
            .any(|&u| u < 0x20 || (u < 0x80 && b"\\/:*?\"<>|".contains(&(u as u8))))
        && n != [dot]
        && n != [dot, dot]
        && !matches!(n.last(), Some(&u) if u == u16::from(b' ') || u == dot)
}

/// Two stream names name the same stream (the emulator compares them case-insensitively).
fn same_name(a: &[u16], b: &[u16]) -> bool {
    match (String::from_utf16(a), String::from_utf16(b)) {
        (Ok(a), Ok(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

fn data(tag: &str, len: usize, seed: u8) -> Vec<u8> {
    let mut d = tag.as_bytes().to_vec();
    d.extend((0..len).map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed)));
    d
}

fn is_status(e: &Error, s: NtStatus) -> bool {
    e.status() == Some(s)
}

/// The model of one stream.
#[derive(Debug, Default)]
struct Model {
    /// Data records readable on the stream (from its tail, min(base, archive tail)), oldest
    /// first.
    records: Vec<(Lsn, Vec<u8>)>,
    /// How many leading records are known to be durable.
    durable: usize,
    /// Data records appended in this incarnation (the index in the record's tag).
    appended: usize,
    /// The latest restart area (durable once written).
    restart: Option<(Lsn, Vec<u8>)>,
    /// The stream's base; `None` while the stream holds no record (a new or reset stream's
    /// base is the log's end until its first record, which becomes its base).
    base: Option<Lsn>,
    /// The archive tail (archivable logs only); set like the base by the first record.
    archive: Option<Lsn>,
    /// The newest LSN the stream handed out that is still in the log.
    last: Option<Lsn>,
}

impl Model {
    fn note_lsn(&mut self, lsn: Lsn, archivable: bool, what: &str) {
        if let Some(prev) = self.last {
            assert!(
                lsn > prev,
                "LSNs strictly increase: {prev} then {lsn} ({what})"
            );
        }
        self.last = Some(lsn);
        if self.base.is_none() {
            self.base = Some(lsn);
            if archivable {
                self.archive = Some(lsn);
            }
        }
    }

    /// Where reads may start: min(base, archive tail).
    fn tail(&self) -> Option<Lsn> {
        match (self.base, self.archive) {
            (Some(b), Some(a)) => Some(b.min(a)),
            (b, _) => b,
        }
    }

    /// Drops the records below the tail.
    fn trim(&mut self) {
        if let Some(t) = self.tail() {
            let gone = self.records.iter().take_while(|r| r.0 < t).count();
            self.records.drain(..gone);
            self.durable = self.durable.saturating_sub(gone);
        }
    }

    /// Every record up to and including `lsn` is durable.
    fn durable_through(&mut self, lsn: Lsn) {
        let n = self.records.iter().take_while(|r| r.0 <= lsn).count();
        self.durable = self.durable.max(n);
    }
}

/// One stream slot: its current name and incarnation, its model (`None`: deleted), and the
/// LSNs of its earlier lives (before a reset, or of a deleted stream of this slot).
#[derive(Debug)]
struct Slot {
    name: Vec<u16>,
    incarnation: u32,
    model: Option<Model>,
    stale: Vec<Lsn>,
}

impl Slot {
    fn tag(&self, s: usize, index: usize) -> String {
        format!("s{s}.{}#{index}:", self.incarnation)
    }

    fn forget(&mut self) {
        if let Some(m) = self.model.take() {
            self.stale.extend(m.records.iter().map(|r| r.0));
            self.stale.extend(m.restart.map(|r| r.0));
        }
    }
}

struct Ctx {
    config: MarshallingConfig,
    archive: bool,
    max: usize,
    containers: u32,
}

type Area<'l> = MarshallingArea<'l, ClfsAllocator>;

fn stream_options(archive: bool) -> LogOptions<'static> {
    LogOptions::new()
        .access(Access::READ | Access::WRITE | Access::DELETE)
        .archive(archive)
}

fn open_stream(name: &[u16], archive: bool) -> LogFile {
    let log = LogFile::create(&stream_name(name), stream_options(archive)).expect("open stream");
    assert_eq!(log.kind(), Some(LogKind::Stream));
    log
}

fn open_physical(archive: bool) -> LogFile {
    let log = LogFile::create(
        &physical_name(),
        stream_options(archive).create_if_missing(),
    )
    .expect("open the physical log");
    assert_eq!(log.kind(), Some(LogKind::Physical));
    log
}

/// A forward read from record `i` returns exactly the model's records from `i` on.
fn check_read_from(area: &Area<'_>, model: &Model, i: usize, who: usize) {
    let Some((first, _)) = model.records.get(i) else {
        return;
    };
    let mut cx = area
        .read(*first, ReadMode::Forward)
        .unwrap_or_else(|e| panic!("stream {who}: read from record {i} ({first}): {e}"));
    for (lsn, d) in &model.records[i..] {
        let r = cx.next().expect("next").expect("a record");
        assert_eq!(
            (r.lsn, r.data),
            (*lsn, &d[..]),
            "stream {who}: reads return exactly its own records"
        );
    }
    assert!(
        cx.next().expect("end").is_none(),
        "stream {who}: nothing after its last record"
    );
}

fn check_restart(area: &Area<'_>, model: &Model, who: usize) {
    let got = area
        .read_restart()
        .unwrap_or_else(|e| panic!("stream {who}: read restart: {e}"))
        .and_then(|rc| rc.current().map(|r| (r.lsn, r.data.to_vec())));
    assert_eq!(got, model.restart, "stream {who}: the latest restart area");
}

/// The stream's `CLFS_INFORMATION` agrees with the model.
fn check_info(log: &LogFile, model: &Model, who: usize) {
    let info = log.info().expect("info");
    assert_eq!(
        info.restart,
        model.restart.as_ref().map(|r| r.0),
        "stream {who}: restart LSN {info:?}"
    );
    if let Some(base) = model.base {
        assert_eq!(info.base, base, "stream {who}: base {info:?}");
    }
    if let Some(tail) = model.tail() {
        assert_eq!(info.min_archive_tail, tail, "stream {who}: tail {info:?}");
    }
    if let Some(last) = model.records.last() {
        assert!(info.last >= last.0, "stream {who}: last {info:?}");
    }
}

enum End {
    Reset(usize),
    Delete(usize, bool),
    Reopen,
    Crash,
    Done,
}

/// Runs operations until one needs the objects closed (or the crash). Streams created on the
/// way go into empty cells of `logs` and `areas`.
#[allow(clippy::too_many_arguments)]
fn segment<'l>(
    sb: &Sandbox,
    ctx: &mut Ctx,
    phys: &LogFile,
    logs: &'l [OnceCell<LogFile>],
    areas: &[OnceCell<Area<'l>>],
    slots: &mut [Slot],
    ops: &mut std::vec::IntoIter<Op>,
) -> End {
    let n = slots.len();
    for op in ops.by_ref() {
        match op {
            Op::Append {
                stream,
                len,
                seed,
                flush,
            } => {
                let s = usize::from(stream) % n;
                let (Some(area), Some(_)) = (areas[s].get(), slots[s].model.as_ref()) else {
                    continue;
                };
                let index = slots[s].model.as_ref().map_or(0, |m| m.appended);
                let d = data(&slots[s].tag(s, index), usize::from(len) % 9000, seed);
                let opts = if flush {
                    Append::new().force_flush()
                } else {
                    Append::new()
                };
                let m = slots[s].model.as_mut().expect("live");
                m.appended += 1;
                match area.append_with(&[&d], opts) {
                    Ok(lsn) => {
                        assert!(d.len() <= ctx.max, "{} bytes appended", d.len());
                        m.note_lsn(lsn, ctx.archive, "append");
                        m.records.push((lsn, d));
                        if flush {
                            m.durable = m.records.len();
                        }
                    }
                    Err(Error::RecordTooLarge { .. }) => assert!(d.len() > ctx.max),
                    Err(e) if is_status(&e, NtStatus::LOG_FULL) => {}
                    Err(e) => panic!("stream {s}: append of {} bytes: {e}", d.len()),
                }
            }
            Op::Flush { stream } => {
                let s = usize::from(stream) % n;
                let (Some(area), Some(m)) = (areas[s].get(), slots[s].model.as_mut()) else {
                    continue;
                };
                area.flush().expect("flush");
                m.durable = m.records.len();
            }
            Op::ReadFrom { stream, index } => {
                let s = usize::from(stream) % n;
                let (Some(area), Some(m)) = (areas[s].get(), slots[s].model.as_ref()) else {
                    continue;
                };
                if !m.records.is_empty() {
                    check_read_from(area, m, usize::from(index) % m.records.len(), s);
                }
            }
            Op::ReadAll { stream } => {
                let s = usize::from(stream) % n;
                let (Some(area), Some(m)) = (areas[s].get(), slots[s].model.as_ref()) else {
                    continue;
                };
                check_read_from(area, m, 0, s);
            }
            Op::ReadForeign {
                stream,
                other,
                index,
            } => {
                let s = usize::from(stream) % n;
                let t = usize::from(other) % n;
                if s == t {
                    continue;
                }
                let (Some(area), Some(_)) = (areas[s].get(), slots[s].model.as_ref()) else {
                    continue;
                };
                // Another stream's records, live or of an earlier life.
                let mut theirs: Vec<Lsn> = slots[t].stale.clone();
                if let Some(m) = slots[t].model.as_ref() {
                    theirs.extend(m.records.iter().map(|r| r.0));
                }
                if theirs.is_empty() {
                    continue;
                }
                let lsn = theirs[usize::from(index) % theirs.len()];
                match area.read(lsn, ReadMode::Forward) {
                    Err(Error::LsnNotInLog { .. }) => {}
                    Err(e) if is_status(&e, NtStatus::LOG_RECORD_NONEXISTENT) => {}
                    Err(e) => panic!("stream {s}: read of stream {t}'s {lsn}: {e}"),
                    Ok(mut cx) => {
                        let r = cx.next().expect("next").map(|r| (r.lsn, r.data.to_vec()));
                        panic!("stream {s} read stream {t}'s LSN {lsn}: {r:?}")
                    }
                }
            }
            Op::ReadStale { stream, index } => {
                let s = usize::from(stream) % n;
                let (Some(area), Some(_)) = (areas[s].get(), slots[s].model.as_ref()) else {
                    continue;
                };
                if slots[s].stale.is_empty() {
                    continue;
                }
                let lsn = slots[s].stale[usize::from(index) % slots[s].stale.len()];
                match area.read(lsn, ReadMode::Forward) {
                    Err(Error::LsnNotInLog { .. }) => {}
                    Err(e) => panic!("stream {s}: read of its old {lsn}: {e}"),
                    Ok(_) => panic!("stream {s}: its old LSN {lsn} was read"),
                }
            }
            Op::AdvanceBase { stream, index } => {
                let s = usize::from(stream) % n;
                let (Some(area), Some(m)) = (areas[s].get(), slots[s].model.as_mut()) else {
                    continue;
                };
                if m.records.is_empty() {
                    continue;
                }
                let i = usize::from(index) % m.records.len();
                let lsn = m.records[i].0;
                let base = m.base.expect("a stream with records has a base");
                let restart = m.restart.as_ref().map(|r| r.0);
                match area.advance_base(lsn) {
                    Ok(()) => {
                        assert!(lsn >= base && restart.is_none_or(|r| lsn <= r));
                        m.base = Some(lsn);
                        m.durable_through(lsn);
                        m.trim();
                    }
                    Err(Error::BaseOutOfRange { .. }) => assert!(lsn < base, "{lsn} {base}"),
                    Err(Error::BasePastRestart { .. }) => {
                        assert!(restart.is_some_and(|r| lsn > r))
                    }
                    Err(e) => panic!("stream {s}: advance base to {lsn}: {e}"),
                }
            }
            Op::WriteRestart {
                stream,
                len,
                seed,
                base,
            } => {
                let s = usize::from(stream) % n;
                let (Some(area), Some(_)) = (areas[s].get(), slots[s].model.as_ref()) else {
                    continue;
                };
                let tag = format!("{}restart", slots[s].tag(s, 0));
                let d = data(&tag, usize::from(len) % 9000, seed);
                let m = slots[s].model.as_mut().expect("live");
                let new_base = match base {
                    Some(b) if !m.records.is_empty() => {
                        Some(m.records[usize::from(b) % m.records.len()].0)
                    }
                    _ => None,
                };
                let below_base = new_base.is_some_and(|b| m.base.is_some_and(|base| b < base));
                let result = match new_base {
                    Some(b) => area.write_restart_with_base(&d, b),
                    None => area.write_restart(&d),
                };
                match result {
                    Ok(lsn) => {
                        assert!(d.len() <= ctx.max && !below_base);
                        m.note_lsn(lsn, ctx.archive, "restart");
                        m.restart = Some((lsn, d));
                        m.durable = m.records.len();
                        if let Some(b) = new_base {
                            m.base = Some(b);
                            m.trim();
                        }
                    }
                    Err(Error::RestartTooLarge { .. }) => assert!(d.len() > ctx.max),
                    Err(e) if below_base && is_status(&e, NtStatus::LOG_TAIL_INVALID) => {}
                    Err(e) if is_status(&e, NtStatus::LOG_FULL) => {}
                    Err(e) => panic!(
                        "stream {s}: restart of {} bytes (base {new_base:?}): {e}",
                        d.len()
                    ),
                }
            }
            Op::ReadRestart { stream } => {
                let s = usize::from(stream) % n;
                if let (Some(area), Some(m)) = (areas[s].get(), slots[s].model.as_ref()) {
                    check_restart(area, m, s);
                }
            }
            Op::SetArchiveTail { stream, index } => {
                let s = usize::from(stream) % n;
                let (Some(log), Some(m)) = (logs[s].get(), slots[s].model.as_mut()) else {
                    continue;
                };
                if m.records.is_empty() {
                    continue;
                }
                let lsn = m.records[usize::from(index) % m.records.len()].0;
                let result = log.set_archive_tail(lsn);
                if !ctx.archive {
                    let e = result.expect_err("an ephemeral log has no archive tail");
                    assert!(is_status(&e, NtStatus::LOG_EPHEMERAL), "{e}");
                    continue;
                }
                let archive = m.archive.expect("an archivable stream with records");
                match result {
                    Ok(()) => {
                        assert!(
                            lsn >= archive,
                            "the archive tail moved back: {archive} to {lsn}"
                        );
                        m.archive = Some(lsn);
                        m.durable_through(lsn);
                        m.trim();
                    }
                    Err(e) if lsn < archive && is_status(&e, NtStatus::LOG_TAIL_INVALID) => {}
                    Err(e) => panic!("stream {s}: archive tail {lsn} (tail {archive}): {e}"),
                }
            }
            Op::Info { stream } => {
                let s = usize::from(stream) % n;
                if let (Some(log), Some(m)) = (logs[s].get(), slots[s].model.as_ref()) {
                    check_info(log, m, s);
                }
            }
            Op::Reset { stream } => {
                let s = usize::from(stream) % n;
                if logs[s].get().is_some() {
                    return End::Reset(s);
                }
            }
            Op::Delete { stream, by_name } => {
                let s = usize::from(stream) % n;
                if logs[s].get().is_some() {
                    return End::Delete(s, by_name);
                }
            }
            Op::Create { stream, name } => {
                let s = usize::from(stream) % n;
                let units = choose_name(&name);
                let full = stream_name(&units);
                if !name_is_valid(&units) {
                    let calls = sb.stats().clfs_calls();
                    let e = LogFile::create(&full, stream_options(ctx.archive).create_new())
                        .expect_err("an invalid stream name");
                    assert!(matches!(e, Error::InvalidLogName(_)), "{units:?}: {e}");
                    assert!(e.refused_before_call());
                    let e = LogFile::delete_named(&full).expect_err("an invalid stream name");
                    assert!(matches!(e, Error::InvalidLogName(_)), "{units:?}: {e}");
                    assert_eq!(sb.stats().clfs_calls(), calls, "Clfs.sys was not called");
                    continue;
                }
                let taken = slots
                    .iter()
                    .position(|sl| sl.model.is_some() && same_name(&sl.name, &units));
                // A live stream of that name: create-new collides. Otherwise the stream goes
                // into this slot, or the first free one.
                let target = if taken.is_some() {
                    None
                } else if slots[s].model.is_none() {
                    Some(s)
                } else {
                    slots.iter().position(|sl| sl.model.is_none())
                };
                if taken.is_none() && target.is_none() {
                    continue;
                }
                let created = LogFile::create(&full, stream_options(ctx.archive).create_new());
                match (created, target) {
                    (Err(e), None) => {
                        assert!(is_status(&e, NtStatus::OBJECT_NAME_COLLISION), "{e}")
                    }
                    // A name that is not valid UTF-16 passes the rules but the emulator maps
                    // names to host paths and refuses it.
                    (Err(e), Some(_))
                        if String::from_utf16(&units).is_err()
                            && is_status(&e, NtStatus::OBJECT_NAME_INVALID) => {}
                    (Err(e), Some(_)) => panic!("create stream {units:?}: {e}"),
                    (Ok(_), None) => panic!("stream {units:?} created twice"),
                    (Ok(log), Some(t)) => {
                        assert_eq!(log.kind(), Some(LogKind::Stream));
                        let slot = &mut slots[t];
                        slot.name = units;
                        slot.incarnation += 1;
                        slot.model = Some(Model::default());
                        if logs[t].set(log).is_err() {
                            panic!("slot {t} has no object");
                        }
                        let log = logs[t].get().expect("just set");
                        let area = Area::create(log, ctx.config).expect("area");
                        if areas[t].set(area).is_err() {
                            panic!("slot {t} has no area");
                        }
                        let m = slots[t].model.as_ref().expect("live");
                        check_info(log, m, t);
                        check_restart(areas[t].get().expect("set"), m, t);
                    }
                }
            }
            Op::OpenDedicated { disposition } => {
                let name = w(PATH);
                let opts = match disposition % 3 {
                    0 => LogOptions::new(),
                    1 => LogOptions::new().create_if_missing(),
                    _ => LogOptions::new().create_new(),
                };
                let e = LogFile::create(&name, opts).expect_err("a multiplexed log");
                assert!(is_status(&e, NtStatus::LOG_MULTIPLEXED), "{e}");
                let e = LogFile::delete_named(&name).expect_err("a multiplexed log");
                assert!(is_status(&e, NtStatus::LOG_MULTIPLEXED), "{e}");
            }
            Op::PhysicalLogWrites => {
                let calls = sb.stats().clfs_calls();
                let e = Area::create(phys, ctx.config).expect_err("the physical log");
                assert!(matches!(e, Error::PhysicalLog { .. }), "{e}");
                assert_eq!(sb.stats().clfs_calls(), calls, "Clfs.sys was not called");
                let e = phys
                    .set_archive_tail(Lsn::NULL)
                    .expect_err("the physical log has no archive tail");
                let want = if ctx.archive {
                    NtStatus::LOG_MULTIPLEXED
                } else {
                    NtStatus::LOG_EPHEMERAL
                };
                assert!(is_status(&e, want), "{e}");
            }
            Op::AddContainer => {
                if ctx.containers >= 6 {
                    continue;
                }
                let size = phys.info().expect("info").container_size;
                let got = phys
                    .add_container(&container_name(ctx.containers), size)
                    .expect("add container");
                assert_eq!(got, size);
                ctx.containers += 1;
            }
            Op::Reopen => return End::Reopen,
            Op::Crash => return End::Crash,
        }
    }
    End::Done
}

/// After a crash: each stream holds exactly its records up to `flushed` (its `LastFlushedLsn`
/// before the crash), at least its known-durable ones, and its restart area.
fn after_crash(ctx: &Ctx, logs: &[Option<LogFile>], slots: &mut [Slot], flushed: &[Option<Lsn>]) {
    for (s, slot) in slots.iter_mut().enumerate() {
        let Some(m) = slot.model.as_mut() else {
            continue;
        };
        let log = logs[s].as_ref().expect("live streams are open");
        let flushed = flushed[s].expect("flushed read before the crash");
        let area = Area::create(log, ctx.config).expect("area after the crash");
        // LastFlushedLsn is CLFS_LSN_NULL both when nothing was flushed and when only the
        // log's first record (0:0x0:0) was: read to tell.
        let ambiguous = flushed.is_null() && m.records.first().is_some_and(|r| r.0.is_null());
        let mut keep = m.records.iter().take_while(|r| r.0 <= flushed).count();
        if ambiguous {
            keep = match area.read(Lsn::NULL, ReadMode::Forward) {
                Ok(_) => 1,
                Err(_) => 0,
            };
        }
        assert!(
            keep >= m.durable,
            "stream {s}: records known to be flushed survive ({keep} up to {flushed}, {} durable of {})",
            m.durable,
            m.records.len()
        );
        if keep == 0 {
            if let Some((first, _)) = m.records.first() {
                if let Ok(mut cx) = area.read(*first, ReadMode::Forward) {
                    let r = cx.next().expect("next").map(|r| (r.lsn, r.data.to_vec()));
                    panic!("stream {s}: {first} survived past LastFlushedLsn {flushed}: {r:?}");
                }
            }
        }
        m.records.truncate(keep);
        m.durable = keep;
        check_read_from(&area, m, 0, s);
        check_restart(&area, m, s);
        // Lost LSNs were never in the log: the stream goes on from what survived.
        m.last = m
            .records
            .last()
            .map(|r| r.0)
            .max(m.restart.as_ref().map(|r| r.0));
        let info = log.info().expect("info");
        if m.records.is_empty() && m.restart.is_none() {
            m.base = None;
            m.archive = None;
        } else {
            assert_eq!(Some(info.base), m.base, "stream {s}: base after the crash");
        }
        check_info(log, m, s);
        area.delete().expect("delete area");
    }
}

fn run(input: Input) {
    let sb = Sandbox::new();
    let setup = &input.setup;
    let n = usize::from(setup.streams % 3) + 2;
    let buffer = (u32::from(setup.buffer_sectors) % 16 + 1) * 512;
    let mut config = MarshallingConfig::new(buffer);
    if setup.max_write % 4 != 0 {
        config = config.max_write_buffers(u32::from(setup.max_write % 4));
    }
    let mut ctx = Ctx {
        config,
        archive: setup.archive,
        max: max_record_size(buffer) as usize,
        containers: u32::from(setup.containers % 3) + 2,
    };
    let mut phys = open_physical(ctx.archive);
    {
        let names: Vec<Vec<u16>> = (0..ctx.containers).map(container_name).collect();
        let paths: Vec<&[u16]> = names.iter().map(Vec::as_slice).collect();
        let size = u64::from(setup.container_size) % (2 * MIB) + 1;
        let got = phys.add_containers(&paths, size).expect("containers");
        assert_eq!(
            got,
            size.div_ceil(MIB) * MIB,
            "containers round up to 1 MiB"
        );
    }
    let mut slots: Vec<Slot> = (0..n)
        .map(|s| Slot {
            name: pool_name(s as u8, false),
            incarnation: 0,
            model: Some(Model::default()),
            stale: Vec::new(),
        })
        .collect();
    let mut held: Vec<Option<LogFile>> = slots
        .iter()
        .map(|sl| {
            let log = LogFile::create(
                &stream_name(&sl.name),
                stream_options(ctx.archive).create_new(),
            )
            .expect("create stream");
            Some(log)
        })
        .collect();
    assert_eq!(phys.physical_info().expect("info").clients as usize, n);
    let mut ops = input.ops.into_iter();
    loop {
        let logs: Vec<OnceCell<LogFile>> = held
            .drain(..)
            .map(|l| l.map(OnceCell::from).unwrap_or_default())
            .collect();
        let areas: Vec<OnceCell<Area<'_>>> = logs
            .iter()
            .map(|l| {
                l.get()
                    .map(|l| OnceCell::from(Area::create(l, ctx.config).expect("area")))
                    .unwrap_or_default()
            })
            .collect();
        let end = segment(&sb, &mut ctx, &phys, &logs, &areas, &mut slots, &mut ops);
        if matches!(end, End::Crash | End::Done) {
            // Power loss with every area live: exactly the flushed prefix must survive.
            let flushed: Vec<Option<Lsn>> = logs
                .iter()
                .map(|l| l.get().map(|l| l.info().expect("info").last_flushed))
                .collect();
            sb.crash();
            drop(areas);
            drop(logs);
            drop(phys);
            phys = open_physical(ctx.archive);
            held = slots
                .iter()
                .map(|sl| {
                    sl.model
                        .as_ref()
                        .map(|_| open_stream(&sl.name, ctx.archive))
                })
                .collect();
            after_crash(&ctx, &held, &mut slots, &flushed);
            if matches!(end, End::Done) {
                break;
            }
            continue;
        }
        // Deleting an area flushes it.
        drop(areas);
        for m in slots.iter_mut().filter_map(|sl| sl.model.as_mut()) {
            m.durable = m.records.len();
        }
        held = logs.into_iter().map(OnceCell::into_inner).collect();
        match end {
            End::Reset(s) => {
                let log = held[s].take().expect("open");
                log.close_and_reset().expect("close and reset");
                let old_last = slots[s].model.as_ref().and_then(|m| m.last);
                slots[s].forget();
                // LSNs are never reused: the next record comes after every old one.
                slots[s].model = Some(Model {
                    last: old_last,
                    ..Model::default()
                });
                let log = open_stream(&slots[s].name, ctx.archive);
                let info = log.info().expect("info");
                assert_eq!(
                    info.restart, None,
                    "stream {s}: no restart area after a reset"
                );
                if let Some(l) = old_last {
                    assert!(info.base > l, "stream {s}: base {} after {l}", info.base);
                }
                if let Some(&old) = slots[s].stale.first() {
                    let area = Area::create(&log, ctx.config).expect("area");
                    let e = area.read(old, ReadMode::Forward).err();
                    assert!(
                        matches!(e, Some(Error::LsnNotInLog { .. })),
                        "stream {s}: old {old} after a reset: {e:?}"
                    );
                }
                held[s] = Some(log);
            }
            End::Delete(s, by_name) => {
                let log = held[s].take().expect("open");
                let name = stream_name(&slots[s].name);
                if by_name {
                    log.close().expect("close");
                    LogFile::delete_named(&name).expect("delete by name");
                } else {
                    log.delete().expect("delete by pointer");
                }
                slots[s].forget();
                let e = LogFile::create(&name, stream_options(ctx.archive))
                    .expect_err("a deleted stream");
                assert!(is_status(&e, NtStatus::OBJECT_NAME_NOT_FOUND), "{e}");
                let live = slots.iter().filter(|sl| sl.model.is_some()).count();
                let clients = phys.physical_info().expect("info").clients as usize;
                assert_eq!(clients, live, "the other streams stay");
            }
            End::Reopen => {
                for log in held.iter_mut().filter_map(Option::take) {
                    log.close().expect("close");
                }
                phys.close().expect("close");
                phys = open_physical(ctx.archive);
                held = slots
                    .iter()
                    .map(|sl| {
                        sl.model
                            .as_ref()
                            .map(|_| open_stream(&sl.name, ctx.archive))
                    })
                    .collect();
                for (s, sl) in slots.iter().enumerate() {
                    if let (Some(log), Some(m)) = (held[s].as_ref(), sl.model.as_ref()) {
                        check_info(log, m, s);
                        let area = Area::create(log, ctx.config).expect("area");
                        check_read_from(&area, m, 0, s);
                        check_restart(&area, m, s);
                    }
                }
            }
            End::Crash | End::Done => unreachable!(),
        }
    }
    drop(held);
    drop(phys);
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "leaks: {leaks:?}");
}

fuzz_target!(|input: Input| {
    if input.ops.len() > 64 {
        return;
    }
    run(input);
});
