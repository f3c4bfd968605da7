//! Property test of a multiplexed log: two or three streams of one physical log, random
//! operations per stream (append, flush, advance the base, write a restart area, read back,
//! reopen), simulated crashes, against an in-memory model per stream.
//!
//! After every crash and reopen each stream holds exactly a prefix of its own records that
//! contains every record known to be flushed, and its latest restart area; no stream ever
//! reads a record of another (every record names its stream and its index, and reads must
//! equal the stream's own model). The emulator's accounts show no leak after every case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{
    ClfsAllocator, Error, LogFile, LogKind, LogOptions, Lsn, MarshallingArea, MarshallingConfig,
    ReadMode,
};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, w};
use proptest::prelude::*;

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

#[derive(Clone, Debug)]
enum Kind {
    Append { len: usize, seed: u8 },
    Flush,
    AdvanceBase { pick: usize },
    Restart { seed: u8 },
    ReadBack,
}

#[derive(Clone, Debug)]
enum Op {
    /// An operation on one stream (index taken modulo the stream count).
    On(usize, Kind),
    /// Close every area (which flushes) and object, reopen.
    Reopen,
    /// Power loss for the whole log.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        8 => (0usize..2000, any::<u8>()).prop_map(|(len, seed)| Kind::Append { len, seed }),
        2 => Just(Kind::Flush),
        1 => any::<usize>().prop_map(|pick| Kind::AdvanceBase { pick }),
        1 => any::<u8>().prop_map(|seed| Kind::Restart { seed }),
        1 => Just(Kind::ReadBack),
    ];
    prop_oneof![
        12 => (0usize..3, kind).prop_map(|(s, k)| Op::On(s, k)),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

/// A record of stream `s`: the stream's name, its index in the stream, then seeded bytes.
fn record(s: usize, index: usize, len: usize, seed: u8) -> Vec<u8> {
    let mut r = format!("{}#{index}:", NAMES[s]).into_bytes();
    r.extend((0..len).map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed)));
    r
}

#[derive(Default)]
struct StreamModel {
    /// The stream's live records (from its base on), in order.
    records: Vec<(Lsn, Vec<u8>)>,
    /// How many leading records are known to be durable.
    durable: usize,
    /// Records appended so far (for the record index in the payload).
    appended: usize,
    /// The latest restart area (durable once written).
    restart: Option<(Lsn, Vec<u8>)>,
    /// The newest LSN the stream handed out that is still in the log.
    last: Option<Lsn>,
}

impl StreamModel {
    fn flushed_all(&mut self) {
        self.durable = self.records.len();
    }
}

fn stream_name(s: usize, segment: usize) -> Vec<u16> {
    // Stream names compare case-insensitively: every other segment opens them in capitals.
    let name = if segment % 2 == 1 {
        NAMES[s].to_uppercase()
    } else {
        NAMES[s].to_string()
    };
    w(&format!("log:C:\\p\\mux::{name}"))
}

/// Everything a forward read from the stream's first model record returns, or `None` if the
/// read cannot start there.
fn read_stream(
    area: &MarshallingArea<'_, ClfsAllocator>,
    model: &StreamModel,
) -> Option<Vec<(Lsn, Vec<u8>)>> {
    let (first, _) = model.records.first()?;
    let mut cx = area.read(*first, ReadMode::Forward).ok()?;
    let mut got = Vec::new();
    while let Some(r) = cx.next().expect("next") {
        got.push((r.lsn, r.data.to_vec()));
    }
    Some(got)
}

fn check_restart(area: &MarshallingArea<'_, ClfsAllocator>, model: &StreamModel, s: usize) {
    let got = area
        .read_restart()
        .expect("read restart")
        .and_then(|rc| rc.current().map(|r| (r.lsn, r.data.to_vec())));
    assert_eq!(got, model.restart, "{}: latest restart area", NAMES[s]);
}

fn run(streams: usize, ops: Vec<Op>) {
    let sb = Sandbox::new();
    let config = MarshallingConfig::new(8192).max_write_buffers(3);
    {
        let phys = LogFile::create(
            &w("log:C:\\p\\mux::"),
            LogOptions::new().create_if_missing(),
        )
        .expect("physical log");
        assert_eq!(phys.kind(), Some(LogKind::Physical));
        phys.add_containers(&[&w("%BLF%\\m0")[..], &w("%BLF%\\m1")[..]], 1)
            .expect("containers");
        phys.close().expect("close");
    }
    let mut models: Vec<StreamModel> = (0..streams).map(|_| StreamModel::default()).collect();
    let mut ops = ops.into_iter();
    let mut crashed_at_end = false;
    let mut segment = 0;
    'segments: loop {
        segment += 1;
        let logs: Vec<LogFile> = (0..streams)
            .map(|s| {
                LogFile::create(
                    &stream_name(s, segment),
                    LogOptions::new().create_if_missing(),
                )
                .expect("open stream")
            })
            .collect();
        let areas: Vec<MarshallingArea<'_, ClfsAllocator>> = logs
            .iter()
            .map(|log| MarshallingArea::create(log, config).expect("area"))
            .collect();
        for (s, (area, model)) in areas.iter().zip(&models).enumerate() {
            if let Some(got) = read_stream(area, model) {
                assert_eq!(
                    got, model.records,
                    "{}: reads return its own records",
                    NAMES[s]
                );
            }
            check_restart(area, model, s);
        }
        for op in ops.by_ref() {
            let (s, kind) = match op {
                Op::On(s, kind) => (s % streams, kind),
                Op::Reopen => {
                    for (area, model) in areas.into_iter().zip(&mut models) {
                        area.delete().expect("delete flushes");
                        model.flushed_all();
                    }
                    for log in logs {
                        log.close().expect("close");
                    }
                    continue 'segments;
                }
                Op::Crash => {
                    sb.crash();
                    drop(areas);
                    drop(logs);
                    after_crash(&mut models);
                    continue 'segments;
                }
            };
            let (area, model) = (&areas[s], &mut models[s]);
            match kind {
                Kind::Append { len, seed } => {
                    let d = record(s, model.appended, len, seed);
                    model.appended += 1;
                    let lsn = area.append(&[&d]).expect("append");
                    if let Some(prev) = model.last {
                        assert!(lsn > prev, "{}: LSNs increase: {prev} then {lsn}", NAMES[s]);
                    }
                    model.last = Some(lsn);
                    model.records.push((lsn, d));
                }
                Kind::Flush => {
                    area.flush().expect("flush");
                    model.flushed_all();
                }
                Kind::Restart { seed } => {
                    let d = record(s, usize::MAX, 32, seed);
                    let lsn = area.write_restart(&d).expect("restart");
                    if let Some(prev) = model.last {
                        assert!(lsn > prev, "{}: restart LSN {lsn} after {prev}", NAMES[s]);
                    }
                    model.last = Some(lsn);
                    model.restart = Some((lsn, d));
                    model.flushed_all();
                }
                Kind::AdvanceBase { pick } => {
                    if model.records.is_empty() {
                        continue;
                    }
                    let i = pick % model.records.len();
                    let lsn = model.records[i].0;
                    match model.restart.as_ref().map(|r| r.0) {
                        Some(restart) if lsn > restart => {
                            assert_eq!(
                                area.advance_base(lsn),
                                Err(Error::BasePastRestart { new: lsn, restart }),
                                "{}",
                                NAMES[s]
                            );
                        }
                        _ => {
                            area.advance_base(lsn).expect("advance base");
                            model.records.drain(..i);
                            model.durable = model.durable.saturating_sub(i);
                        }
                    }
                }
                Kind::ReadBack => {
                    if !model.records.is_empty() {
                        let got = read_stream(area, model).expect("read back");
                        assert_eq!(
                            got, model.records,
                            "{}: reads return its own records",
                            NAMES[s]
                        );
                    }
                }
            }
        }
        if !crashed_at_end {
            crashed_at_end = true;
            sb.crash();
            drop(areas);
            drop(logs);
            after_crash(&mut models);
            continue 'segments;
        }
        drop(areas);
        drop(logs);
        break;
    }
    assert_no_leaks(&sb);
}

/// After a power loss every stream is reopened and holds a prefix of its records that keeps every
/// record known to be flushed; the model keeps that prefix.
fn after_crash(models: &mut [StreamModel]) {
    for (s, model) in models.iter_mut().enumerate() {
        let log = LogFile::create(&stream_name(s, 0), LogOptions::new()).expect("reopen");
        let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(8192))
            .expect("area");
        let got = read_stream(&area, model).unwrap_or_default();
        let k = got.len();
        assert!(
            k <= model.records.len() && got[..] == model.records[..k],
            "{}: after the crash it holds a prefix of its own records: {got:?}",
            NAMES[s]
        );
        assert!(
            k >= model.durable,
            "{}: every flushed record survives ({k} of {} flushed)",
            NAMES[s],
            model.durable
        );
        model.records.truncate(k);
        model.durable = k;
        // Lost LSNs were never in the log: the stream goes on from what survived.
        model.last = model
            .records
            .last()
            .map(|r| r.0)
            .max(model.restart.as_ref().map(|r| r.0));
        check_restart(&area, model, s);
        area.delete().expect("delete");
        log.close().expect("close");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn streams_hold_their_own_flushed_prefix(
        streams in 2usize..=3,
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        run(streams, ops);
    }
}
