//! Property tests: random operation sequences against the emulator and a simple in-memory
//! model. LSNs strictly increase, reads return what was appended, and after a crash and a
//! reopen the log holds exactly the flushed prefix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{
    Append, ClfsAllocator, LogFile, LogOptions, Lsn, MarshallingArea, MarshallingConfig, ReadMode,
};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, w};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Append { len: usize, seed: u8 },
    AppendFlushed { len: usize, seed: u8 },
    Flush,
    Restart { seed: u8 },
    ReadBack,
    Reopen,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..3000, any::<u8>()).prop_map(|(len, seed)| Op::Append { len, seed }),
        1 => (0usize..3000, any::<u8>()).prop_map(|(len, seed)| Op::AppendFlushed { len, seed }),
        2 => Just(Op::Flush),
        1 => any::<u8>().prop_map(|seed| Op::Restart { seed }),
        1 => Just(Op::ReadBack),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
    ]
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed | 1).wrapping_add(seed))
        .collect()
}

struct Model {
    records: Vec<(Lsn, Vec<u8>)>,
    /// How many leading records are known to be durable.
    durable: usize,
    /// The newest LSN known to be durable (record or restart area).
    durable_lsn: Option<Lsn>,
    restart: Option<Vec<u8>>,
}

fn check_read_back(area: &MarshallingArea<'_, ClfsAllocator>, model: &Model) {
    let Some((first, _)) = model.records.first() else {
        return;
    };
    let mut cx = area.read(*first, ReadMode::Forward).expect("read");
    let mut got = Vec::new();
    while let Some(r) = cx.next().expect("next") {
        got.push((r.lsn, r.data.to_vec()));
    }
    assert_eq!(got, model.records, "reads return exactly what was appended");
}

fn run(ops: Vec<Op>) {
    let sb = Sandbox::new();
    let name = w("log:C:\\p\\model");
    let config = MarshallingConfig::new(8192)
        .max_write_buffers(3)
        .max_read_buffers(2);
    let mut model = Model {
        records: Vec::new(),
        durable: 0,
        durable_lsn: None,
        restart: None,
    };
    {
        let log = LogFile::create(&name, LogOptions::new().create_if_missing()).expect("create");
        let c: Vec<Vec<u16>> = (0..4).map(|i| w(&format!("%BLF%\\m{i}"))).collect();
        log.add_containers(&[&c[0][..], &c[1][..], &c[2][..], &c[3][..]], 512 * 1024)
            .expect("containers");
        log.close().expect("close");
    }
    let mut ops = ops.into_iter();
    let mut last_lsn = None::<Lsn>;
    let mut crashed_at_end = false;
    // Each segment opens the log and one area, runs ops until a reopen or a crash.
    'segments: loop {
        let log = LogFile::create(&name, LogOptions::new()).expect("open");
        let area = MarshallingArea::<ClfsAllocator>::create(&log, config).expect("area");
        check_read_back(&area, &model);
        match area.read_restart().expect("read restart") {
            Some(rc) => assert_eq!(
                rc.current().map(|r| r.data.to_vec()),
                model.restart,
                "latest restart area"
            ),
            None => assert_eq!(model.restart, None),
        }
        for op in ops.by_ref() {
            match op {
                Op::Append { len, seed } | Op::AppendFlushed { len, seed } => {
                    let d = data(len, seed);
                    let flushed = matches!(op, Op::AppendFlushed { .. });
                    let opts = if flushed {
                        Append::new().force_flush()
                    } else {
                        Append::new()
                    };
                    let lsn = area.append_with(&[&d], opts).expect("append");
                    if let Some(prev) = last_lsn {
                        assert!(lsn > prev, "LSNs strictly increase: {prev} then {lsn}");
                    }
                    last_lsn = Some(lsn);
                    model.records.push((lsn, d));
                    if flushed {
                        model.durable = model.records.len();
                        model.durable_lsn = last_lsn;
                    }
                }
                Op::Flush => {
                    let next = area.flush().expect("flush");
                    assert!(
                        Some(next) > last_lsn,
                        "the first LSN not flushed is past every record"
                    );
                    model.durable = model.records.len();
                    model.durable_lsn = last_lsn;
                }
                Op::Restart { seed } => {
                    let d = data(64, seed);
                    let lsn = area.write_restart(&d).expect("restart");
                    assert!(Some(lsn) > last_lsn);
                    last_lsn = Some(lsn);
                    model.restart = Some(d);
                    model.durable = model.records.len();
                    model.durable_lsn = last_lsn;
                }
                Op::ReadBack => check_read_back(&area, &model),
                Op::Reopen => {
                    area.delete().expect("delete flushes");
                    model.durable = model.records.len();
                    model.durable_lsn = last_lsn;
                    log.close().expect("close");
                    continue 'segments;
                }
                Op::Crash => {
                    crash(&sb, &log, area, &mut model);
                    // What was lost was never in the log: LSNs go on from the durable end.
                    last_lsn = model.durable_lsn.max(model.records.last().map(|r| r.0));
                    continue 'segments;
                }
            }
        }
        // End of the sequence: a final crash must leave exactly the flushed prefix.
        if !crashed_at_end {
            crashed_at_end = true;
            crash(&sb, &log, area, &mut model);
            last_lsn = model.durable_lsn.max(model.records.last().map(|r| r.0));
            continue 'segments;
        }
        drop(area);
        drop(log);
        break;
    }
    assert_no_leaks(&sb);
}

fn crash(sb: &Sandbox, log: &LogFile, area: MarshallingArea<'_, ClfsAllocator>, model: &mut Model) {
    let flushed = log.info().expect("info").last_flushed;
    sb.crash();
    drop(area);
    let before = model.records.len();
    // `last_flushed` is NULL both when nothing was flushed and when the first record
    // (0:0x0:0 = CLFS_LSN_NULL) was: only a read tells which.
    let first_survived = !flushed.is_null() || first_record_exists();
    model
        .records
        .retain(|(lsn, _)| *lsn <= flushed && first_survived);
    assert!(
        model.records.len() >= model.durable,
        "records known to be flushed survive ({} of {before})",
        model.durable
    );
    model.durable = model.records.len();
}

/// Reopens the model's log and reads record 0:0x0:0 (`Lsn::NULL`, a valid LSN).
fn first_record_exists() -> bool {
    let log = LogFile::create(&w("log:C:\\p\\model"), LogOptions::new()).expect("open");
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(8192)).expect("area");
    let found = area.read(Lsn::NULL, ReadMode::Forward).is_ok();
    area.delete().expect("delete");
    log.close().expect("close");
    found
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_operation_sequences_match_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
