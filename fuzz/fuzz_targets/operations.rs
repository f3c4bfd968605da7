//! Random operation sequences against the emulator and a simple model.
//!
//! Operations: add or remove a container, create or delete the area, append (random entries,
//! sizes and flags, including records too large or with too many entries), aligned append,
//! reserve / append into the reservation / drop it, flush, read forward or backward from a
//! known LSN, write and read the restart area, advance the base, close and reopen, crash, and
//! calls at DISPATCH_LEVEL (which the safe layer must refuse).
//!
//! Invariants: LSNs strictly increase; reads return exactly what was appended; a crash keeps
//! exactly the records up to `LastFlushedLsn` (read before the crash) and at least every
//! record known to be flushed; errors only where the model predicts them; nothing leaks.
#![no_main]

use arbitrary::Arbitrary;
use clfs::{
    max_record_size, Append, BufferLimit, ClfsAllocator, Error, LogFile, LogOptions, Lsn,
    MarshallingArea, MarshallingConfig, NtStatus, ReadContext, ReadMode, Reservation,
    MAX_WRITE_ENTRIES,
};
use clfs_emu::{raise_irql, Sandbox, DISPATCH_LEVEL};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Setup {
    containers: u8,
    buffer_sectors: u8,
    max_write: u8,
    max_read: u8,
}

#[derive(Clone, Debug, Arbitrary)]
enum Op {
    AddContainer,
    RemoveContainer {
        index: u8,
        force: bool,
    },
    CreateArea,
    DeleteArea,
    Append {
        entries: Vec<(u16, u8)>,
        flags: u8,
        link: bool,
    },
    AppendAligned {
        entries: Vec<(u16, u8)>,
        alignment: u8,
    },
    Reserve {
        sizes: Vec<u16>,
    },
    AppendReserved {
        len: u16,
        seed: u8,
    },
    DropReservation,
    Flush,
    ReadForward {
        index: u8,
    },
    ReadPrevious {
        index: u8,
    },
    WriteRestart {
        len: u16,
        seed: u8,
    },
    ReadRestart,
    AdvanceBase {
        index: u8,
    },
    Reopen,
    Crash,
    AtDispatch,
    /// Opens a forward read context at a record and keeps it open across later operations.
    OpenCursor {
        index: u8,
    },
    /// Steps the open read context.
    CursorNext,
}

#[derive(Debug, Arbitrary)]
struct Input {
    setup: Setup,
    ops: Vec<Op>,
}

fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed))
        .collect()
}

/// The model of one log.
#[derive(Debug, Default)]
struct Model {
    /// Readable data records, oldest first: LSN, bytes, previous link.
    records: Vec<(Lsn, Vec<u8>, Option<Lsn>)>,
    /// Leading records known durable (flushed).
    durable: usize,
    /// The newest LSN handed out (record or restart area).
    last: Option<Lsn>,
    /// The latest restart area (always durable) and its LSN.
    restart: Option<Vec<u8>>,
    restart_lsn: Option<Lsn>,
    /// The base LSN (records below it are gone from the readable range).
    base: Option<Lsn>,
    /// Container names added so far, and whether each is still in the log.
    containers: Vec<bool>,
    next_container: u32,
    /// `Stats::blocks_written` when the record at 0:0x0:0 was appended (`None`: no such
    /// record since the log was created or last lost everything).
    first_written_mark: Option<u64>,
}

impl Model {
    fn note_lsn(&mut self, sb: &Sandbox, lsn: Lsn) {
        if lsn.is_null() {
            self.first_written_mark = Some(sb.stats().blocks_written);
        }
        if let Some(prev) = self.last {
            assert!(lsn > prev, "LSNs strictly increase: {prev} then {lsn}");
        }
        self.last = Some(lsn);
    }
}

fn is_status(e: &Error, s: NtStatus) -> bool {
    e.status() == Some(s)
}

fn container_name(i: u32) -> Vec<u16> {
    w(&format!("%BLF%\\k{i}"))
}

fn check_read_back(area: &MarshallingArea<'_, ClfsAllocator>, model: &Model) {
    let Some((first, ..)) = model.records.first() else {
        return;
    };
    let mut cx = area.read(*first, ReadMode::Forward).expect("read back");
    let mut got = Vec::new();
    while let Some(r) = cx.next().expect("next") {
        got.push((r.lsn, r.data.to_vec()));
    }
    let want: Vec<(Lsn, Vec<u8>)> = model
        .records
        .iter()
        .map(|(l, d, _)| (*l, d.clone()))
        .collect();
    assert_eq!(got, want, "reads return exactly what was appended");
}

/// `read_restart` returns the latest restart area, or fails with STATUS_LOG_START_OF_LOG once
/// the base has moved past it (tests/regressions.rs,
/// `restart_area_below_the_base_cannot_be_read`).
fn check_restart(area: &MarshallingArea<'_, ClfsAllocator>, model: &Model) {
    let below_base = matches!((model.restart_lsn, model.base), (Some(r), Some(b)) if r < b);
    match area.read_restart() {
        Ok(Some(rc)) => {
            assert!(!below_base, "restart area below the base was read");
            assert_eq!(
                rc.current().map(|r| r.data),
                model.restart.as_deref(),
                "latest restart area"
            );
        }
        Ok(None) => assert_eq!(model.restart, None),
        Err(e) if below_base && is_status(&e, NtStatus::LOG_START_OF_LOG) => {}
        Err(e) => panic!("read restart: {e}"),
    }
}

/// The fuzzed log's name.
const LOG: &str = "log:C:\\fuzz\\ops";

fn crash(sb: &Sandbox, log: &LogFile, model: &mut Model) {
    let flushed = log.info().expect("info").last_flushed;
    // LastFlushedLsn is NULL both when nothing was flushed and when only the first record
    // (0:0x0:0, which equals CLFS_LSN_NULL) was. Flushes write log-wide prefixes and that
    // record is the log's first, so it is durable iff it is known durable (a forced flush or
    // a restart area wrote it in the appending call) or a block was written after it was
    // appended (the emulator's account; a read cannot tell when the log has too few
    // containers left for a marshalling area).
    let first_survived = !flushed.is_null()
        || model.durable > 0
        || model
            .first_written_mark
            .is_some_and(|m| sb.stats().blocks_written > m);
    sb.crash();
    let before = model.records.len();
    let keep = model
        .records
        .iter()
        .take_while(|(lsn, ..)| *lsn <= flushed && first_survived)
        .count();
    model.records.truncate(keep);
    assert!(
        model.records.len() >= model.durable,
        "records known to be flushed survive ({} of {before}, {} durable)",
        model.records.len(),
        model.durable
    );
    model.durable = model.records.len();
    // What was lost was never in the log: LSNs go on from the durable end.
    model.last = if first_survived {
        Some(flushed).max(model.records.last().map(|r| r.0))
    } else {
        None
    };
    if !first_survived {
        model.first_written_mark = None;
    }
}

enum Next {
    /// Close the log and open it again.
    Reopen,
    /// The log's handles are dead: open it again.
    Crashed,
    /// Delete the area and keep going without one.
    AreaDeleted,
    /// The operations are used up.
    Done,
}

/// Runs operations that need a live area until one ends the area or the segment.
fn with_area(
    sb: &Sandbox,
    log: &LogFile,
    area: &MarshallingArea<'_, ClfsAllocator>,
    model: &mut Model,
    ops: &mut std::vec::IntoIter<Op>,
) -> Next {
    let buffer = area.config().buffer_size();
    let max = max_record_size(buffer) as usize;
    let mut resv: Option<Reservation<'_, '_, ClfsAllocator>> = None;
    // An open forward read context and the model index of the record it returns next.
    let mut cursor: Option<(ReadContext<'_>, usize)> = None;
    // With a read context held open and a limit of one read buffer, every other read context
    // is refused with STATUS_LOG_BLOCKS_EXHAUSTED.
    let one_reader = area.config().read_limit() == BufferLimit::AtMost(1);
    for op in ops.by_ref() {
        let exhausted = one_reader && cursor.is_some();
        match op {
            Op::AddContainer | Op::RemoveContainer { .. } => container_op(log, model, &op),
            Op::CreateArea => {}
            Op::DeleteArea => {
                drop(resv.take());
                drop(cursor.take());
                return Next::AreaDeleted;
            }
            Op::Append {
                entries,
                flags,
                link,
            } => {
                let bufs: Vec<Vec<u8>> = entries
                    .iter()
                    .map(|&(len, seed)| data(usize::from(len) % 4096, seed))
                    .collect();
                let refs: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
                let total: usize = bufs.iter().map(Vec::len).sum();
                let prev = if link {
                    model.records.last().map(|r| r.0)
                } else {
                    None
                };
                let mut opts = Append::new();
                if let Some(p) = prev {
                    opts = opts.previous(p);
                }
                if flags & 1 != 0 {
                    opts = opts.force_append();
                }
                let flush = flags & 2 != 0;
                if flush {
                    opts = opts.force_flush();
                }
                match area.append_with(&refs, opts) {
                    Ok(lsn) => {
                        assert!(refs.len() <= MAX_WRITE_ENTRIES && total <= max);
                        model.note_lsn(sb, lsn);
                        model.records.push((lsn, bufs.concat(), prev));
                        if flush {
                            model.durable = model.records.len();
                        }
                    }
                    Err(Error::TooManyEntries { .. }) => assert!(refs.len() > MAX_WRITE_ENTRIES),
                    Err(Error::RecordTooLarge { .. }) => assert!(total > max),
                    Err(e) if is_status(&e, NtStatus::LOG_FULL) => {}
                    // An empty record is refused before the call (tests/regressions.rs).
                    Err(e) if refs.is_empty() && e.refused_before_call() => {}
                    Err(e) => panic!("append of {total} bytes: {e}"),
                }
            }
            Op::AppendAligned { entries, alignment } => {
                let alignment = u32::from(alignment % 17);
                let bufs: Vec<Vec<u8>> = entries
                    .iter()
                    .map(|&(len, seed)| data(usize::from(len) % 2048, seed))
                    .collect();
                let refs: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
                let mut padded: Vec<u8> = Vec::new();
                for b in &bufs {
                    if alignment > 0 {
                        let a = alignment as usize;
                        padded.resize(padded.len().div_ceil(a) * a, 0);
                    }
                    padded.extend_from_slice(b);
                }
                match area.append_aligned(&refs, alignment, Append::new()) {
                    Ok(lsn) => {
                        assert!(alignment > 0 && padded.len() <= max);
                        model.note_lsn(sb, lsn);
                        model.records.push((lsn, padded, None));
                    }
                    Err(Error::ZeroAlignment) => assert_eq!(alignment, 0),
                    Err(Error::TooManyEntries { .. }) => assert!(refs.len() > MAX_WRITE_ENTRIES),
                    Err(Error::RecordTooLarge { .. }) => assert!(padded.len() > max),
                    Err(e) if is_status(&e, NtStatus::LOG_FULL) => {}
                    Err(e) if refs.is_empty() && e.refused_before_call() => {}
                    Err(e) => panic!("aligned append of {} bytes: {e}", padded.len()),
                }
            }
            Op::Reserve { sizes } => {
                drop(resv.take());
                let sizes: Vec<u32> = sizes.iter().map(|&s| u32::from(s) % 6000).collect();
                match area.reserve(&sizes) {
                    Ok(r) => {
                        assert_eq!(r.records() as usize, sizes.len());
                        resv = Some(r);
                    }
                    Err(Error::Reservation { .. }) => {
                        assert!(sizes.is_empty() || sizes.contains(&0))
                    }
                    Err(Error::TooManyReservedRecords { count, max }) => {
                        assert!(count == sizes.len() && count > max)
                    }
                    Err(Error::RecordTooLarge { .. }) => {
                        assert!(sizes.iter().any(|&s| s as usize > max))
                    }
                    Err(e) if is_status(&e, NtStatus::LOG_FULL) => {}
                    // A zero-byte record is refused before the call (tests/regressions.rs).
                    Err(e) if sizes.contains(&0) && e.refused_before_call() => {}
                    Err(e) => panic!("reserve {sizes:?}: {e}"),
                }
            }
            Op::AppendReserved { len, seed } => {
                let Some(r) = resv.as_mut() else { continue };
                let d = data(usize::from(len) % 6000, seed);
                match r.append(&[&d], Append::new()) {
                    Ok(lsn) => {
                        model.note_lsn(sb, lsn);
                        model.records.push((lsn, d, None));
                    }
                    Err(Error::Reservation { .. } | Error::ReservationTooSmall { .. }) => {}
                    Err(Error::RecordTooLarge { .. }) => assert!(d.len() > max),
                    Err(e) if d.is_empty() && e.refused_before_call() => {}
                    Err(e) => panic!("append of {} bytes into a reservation: {e}", d.len()),
                }
            }
            Op::DropReservation => drop(resv.take()),
            Op::Flush => {
                let next = area.flush().expect("flush");
                assert!(
                    Some(next) > model.last,
                    "the first LSN not flushed ({next}) is past every record ({:?})",
                    model.last
                );
                model.durable = model.records.len();
            }
            Op::ReadForward { index } => {
                if model.records.is_empty() {
                    continue;
                }
                let i = usize::from(index) % model.records.len();
                if exhausted {
                    let e = area
                        .read(model.records[i].0, ReadMode::Forward)
                        .unwrap_err();
                    assert!(is_status(&e, NtStatus::LOG_BLOCKS_EXHAUSTED), "{e}");
                    continue;
                }
                let mut cx = area
                    .read(model.records[i].0, ReadMode::Forward)
                    .expect("read forward");
                for (lsn, d, _) in &model.records[i..] {
                    let r = cx.next().expect("next").expect("a record");
                    assert_eq!((r.lsn, r.data), (*lsn, &d[..]));
                }
                assert!(cx.next().expect("end").is_none(), "nothing after the last");
            }
            Op::ReadPrevious { index } => {
                if model.records.is_empty() {
                    continue;
                }
                let i = usize::from(index) % model.records.len();
                if exhausted {
                    let e = area
                        .read(model.records[i].0, ReadMode::Previous)
                        .unwrap_err();
                    assert!(is_status(&e, NtStatus::LOG_BLOCKS_EXHAUSTED), "{e}");
                    continue;
                }
                let mut cx = area
                    .read(model.records[i].0, ReadMode::Previous)
                    .expect("read previous");
                let mut at = Some(i);
                while let Some(j) = at {
                    let (lsn, d, prev) = &model.records[j];
                    let r = cx.next().expect("next").expect("a record");
                    assert_eq!((r.lsn, r.data, r.previous()), (*lsn, &d[..], *prev));
                    at = prev.and_then(|p| model.records.iter().position(|r| r.0 == p));
                }
                // The chain ends at a record without a link or at one below the base.
                let _ = cx.next().expect("end of chain");
            }
            Op::WriteRestart { len, seed } => {
                let d = data(usize::from(len) % 4096, seed);
                match area.write_restart(&d) {
                    Ok(lsn) => {
                        model.note_lsn(sb, lsn);
                        model.restart = Some(d);
                        model.restart_lsn = Some(lsn);
                        model.durable = model.records.len();
                    }
                    Err(Error::RestartTooLarge { .. }) => assert!(d.len() > max),
                    Err(e) if is_status(&e, NtStatus::LOG_FULL) => {}
                    Err(e) if d.is_empty() && e.refused_before_call() => {}
                    Err(e) => panic!("restart of {} bytes: {e}", d.len()),
                }
            }
            Op::ReadRestart if exhausted => {
                if let Err(e) = area.read_restart().map(|r| r.is_some()) {
                    assert!(
                        is_status(&e, NtStatus::LOG_BLOCKS_EXHAUSTED)
                            || is_status(&e, NtStatus::LOG_START_OF_LOG),
                        "{e}"
                    );
                } else {
                    // No restart area: nothing to read, no buffer needed.
                    assert!(model.restart.is_none());
                }
            }
            Op::ReadRestart => check_restart(area, model),
            Op::OpenCursor { index } => {
                if model.records.is_empty() || cursor.is_some() {
                    continue;
                }
                let i = usize::from(index) % model.records.len();
                let cx = area
                    .read(model.records[i].0, ReadMode::Forward)
                    .expect("open a cursor");
                cursor = Some((cx, i));
            }
            Op::CursorNext => {
                let Some((cx, next)) = cursor.as_mut() else {
                    continue;
                };
                let got = cx
                    .next()
                    .expect("cursor next")
                    .map(|r| (r.lsn, r.data.to_vec()));
                match got {
                    Some((lsn, data)) => {
                        let (want_lsn, want, _) = &model.records[*next];
                        assert_eq!((lsn, &data), (*want_lsn, want), "cursor record {next}");
                        *next += 1;
                    }
                    None => {
                        assert_eq!(*next, model.records.len(), "the cursor ended early");
                        cursor = None;
                    }
                }
            }
            Op::AdvanceBase { index } => {
                if model.records.is_empty() {
                    continue;
                }
                let i = usize::from(index) % model.records.len();
                let lsn = model.records[i].0;
                // Records behind the base may go: the cursor's position would be meaningless.
                cursor = None;
                match area.advance_base(lsn) {
                    Ok(()) => {
                        model.base = Some(lsn);
                        model.records.drain(..i);
                        model.durable = model.durable.saturating_sub(i);
                    }
                    // The library refuses a base past the latest restart area (recovery
                    // could not read it otherwise): docs/decisions.md.
                    Err(Error::BasePastRestart { .. }) => {}
                    Err(e) => panic!("advance base to a record in the log ({lsn}): {e}"),
                }
            }
            Op::Reopen => {
                drop(resv.take());
                drop(cursor.take());
                return Next::Reopen;
            }
            Op::Crash => {
                drop(resv.take());
                drop(cursor.take());
                crash(sb, log, model);
                return Next::Crashed;
            }
            Op::AtDispatch => {
                let calls = sb.stats().clfs_calls();
                let _irql = raise_irql(DISPATCH_LEVEL);
                let e = area.append(&[b"x"]).expect_err("refused at DISPATCH_LEVEL");
                assert!(matches!(e, Error::IrqlTooHigh { .. }), "{e}");
                let e = area.flush().expect_err("refused at DISPATCH_LEVEL");
                assert!(matches!(e, Error::IrqlTooHigh { .. }), "{e}");
                let e = log.info().expect_err("refused at DISPATCH_LEVEL");
                assert!(matches!(e, Error::IrqlTooHigh { .. }), "{e}");
                assert_eq!(sb.stats().clfs_calls(), calls, "no CLFS call was made");
            }
        }
    }
    drop(resv);
    drop(cursor);
    Next::Done
}

fn container_op(log: &LogFile, model: &mut Model, op: &Op) {
    match op {
        Op::AddContainer => {
            let i = model.next_container;
            model.next_container += 1;
            match log.add_container(&container_name(i), 512 * 1024) {
                Ok(size) => {
                    assert_eq!(size, 512 * 1024);
                    model.containers.push(true);
                }
                Err(e) => panic!("add container {i}: {e}"),
            }
        }
        Op::RemoveContainer { index, force } => {
            if model.containers.is_empty() {
                return;
            }
            let i = usize::from(*index) % model.containers.len();
            match log.remove_container(&container_name(i as u32), *force) {
                Ok(()) => model.containers[i] = false,
                Err(e)
                    if is_status(&e, NtStatus::OBJECT_NAME_NOT_FOUND)
                        || is_status(&e, NtStatus::LOG_CANT_DELETE) => {}
                Err(e) => panic!("remove container {i}: {e}"),
            }
        }
        _ => {}
    }
}

fn run(input: Input) {
    let sb = Sandbox::new();
    let name = w(LOG);
    let buffer = (u32::from(input.setup.buffer_sectors) % 32 + 1) * 512;
    let mut config = MarshallingConfig::new(buffer);
    if input.setup.max_write % 4 != 0 {
        config = config.max_write_buffers(u32::from(input.setup.max_write % 4));
    }
    if input.setup.max_read % 4 != 0 {
        config = config.max_read_buffers(u32::from(input.setup.max_read % 4));
    }
    let mut model = Model::default();
    {
        let log = LogFile::create(&name, LogOptions::new().create_new()).expect("create log");
        for _ in 0..input.setup.containers % 5 {
            container_op(&log, &mut model, &Op::AddContainer);
        }
        log.close().expect("close");
    }
    let mut ops = input.ops.into_iter();
    loop {
        let log = LogFile::create(&name, LogOptions::new()).expect("reopen");
        let mut want_area = true;
        let flow = loop {
            let area = if want_area {
                match MarshallingArea::<ClfsAllocator>::create(&log, config) {
                    Ok(a) => Some(a),
                    Err(Error::NotEnoughContainers { containers }) => {
                        assert!(containers < 2);
                        None
                    }
                    Err(e) => panic!("create area: {e}"),
                }
            } else {
                None
            };
            let Some(area) = area else {
                // Without an area: container operations until one is created.
                let mut next = Next::Done;
                for op in ops.by_ref() {
                    match op {
                        Op::AddContainer | Op::RemoveContainer { .. } => {
                            container_op(&log, &mut model, &op)
                        }
                        Op::CreateArea => {
                            next = Next::AreaDeleted;
                            break;
                        }
                        Op::Reopen => {
                            next = Next::Reopen;
                            break;
                        }
                        Op::Crash => {
                            crash(&sb, &log, &mut model);
                            next = Next::Crashed;
                            break;
                        }
                        _ => {}
                    }
                }
                if matches!(next, Next::AreaDeleted) {
                    want_area = true;
                    continue;
                }
                break next;
            };
            check_read_back(&area, &model);
            check_restart(&area, &model);
            match with_area(&sb, &log, &area, &mut model, &mut ops) {
                Next::AreaDeleted => {
                    area.delete().expect("delete flushes");
                    model.durable = model.records.len();
                    want_area = false;
                }
                Next::Reopen => {
                    area.delete().expect("delete flushes");
                    model.durable = model.records.len();
                    break Next::Reopen;
                }
                Next::Crashed => break Next::Crashed,
                Next::Done => {
                    // The end: a crash with the area live must leave exactly the flushed
                    // prefix.
                    crash(&sb, &log, &mut model);
                    drop(area);
                    break Next::Done;
                }
            }
        };
        match flow {
            Next::Reopen => log.close().expect("close"),
            Next::Crashed | Next::AreaDeleted => {}
            Next::Done => break,
        }
    }
    // A last check: what the model holds is in the log, byte for byte.
    {
        let log = LogFile::create(&name, LogOptions::new()).expect("reopen after crash");
        if log.info().expect("info").containers >= 2 {
            let area = MarshallingArea::<ClfsAllocator>::create(&log, config).expect("area");
            check_read_back(&area, &model);
        }
    }
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "leaks: {leaks:?}");
}

fuzz_target!(|input: Input| {
    if input.ops.len() > 64 {
        return;
    }
    run(input);
});
