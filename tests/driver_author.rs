//! The public API used the way README.md, docs/api-guide.md and docs/testing.md tell a driver
//! author to use it: only `clfs::...` and `clfs_emu::Sandbox` / `raise_irql`, no helpers from
//! the other test files. Each test ends with the emulator's accounts showing no leak.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use clfs::mgmt::{Growth, InstallMode, LogSize, Policy, PolicyBuf, PolicyKind};
use clfs::{
    pool_tag, wide, Append, ClfsAllocator, Error, LogFile, LogOptions, Lsn, MarshallingArea,
    MarshallingConfig, NtStatus, PoolType, ReadMode, RecordType, ScanContext, ScanDirection,
    TaggedPool,
};
use clfs_emu::Sandbox;

/// The allocator README.md shows: log I/O blocks from `ExAllocatePool2`, tag 'MyLg'.
type MyBlocks = TaggedPool<{ pool_tag(*b"MyLg") }>;
const MY_TAG: u32 = pool_tag(*b"MyLg");
const CONTAINER: u64 = 512 * 1024;

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn no_leaks(sb: &Sandbox) {
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "leaks: {leaks:#?}");
}

/// A driver builds its container list at run time (from the registry, say): `Vec<Vec<u16>>`
/// turned into the `&[&[u16]]` that `add_containers` takes.
fn runtime_containers(prefix: &str, n: usize) -> Vec<Vec<u16>> {
    (0..n)
        .map(|i| utf16(&format!("%BLF%\\{prefix}-container{i}")))
        .collect()
}

fn new_log(name: &str, containers: usize) -> LogFile {
    let log = LogFile::create(
        &utf16(&format!("log:C:\\drv\\{name}")),
        LogOptions::new().create_if_missing(),
    )
    .expect("create");
    let names = runtime_containers(name, containers);
    let refs: Vec<&[u16]> = names.iter().map(Vec::as_slice).collect();
    assert_eq!(
        log.add_containers(&refs, CONTAINER).expect("set"),
        CONTAINER
    );
    log
}

fn config() -> MarshallingConfig {
    MarshallingConfig::new(64 * 1024)
        .pool(PoolType::NonPagedPoolNx)
        .max_write_buffers(8)
        .max_read_buffers(4)
}

#[test]
fn readme_scenario_then_reopen_and_read_everything_back() {
    let sb = Sandbox::new();
    let name = wide!("log:\\SystemRoot\\Logs\\MyDriver\\log");
    let (first, second, reserved, restart);
    {
        let log = LogFile::create(name, LogOptions::new().create_if_missing()).expect("create");
        assert_eq!(
            log.add_container(wide!("%BLF%\\c0"), CONTAINER)
                .expect("one"),
            CONTAINER
        );
        let more = runtime_containers("more", 3);
        let refs: Vec<&[u16]> = more.iter().map(Vec::as_slice).collect();
        log.add_containers(&refs, CONTAINER).expect("a runtime set");
        assert_eq!(log.info().expect("info").containers, 4);
        let area = MarshallingArea::<MyBlocks>::create(&log, config()).expect("area");

        // Gathered entries: header and payload, not copied by the library.
        first = area.append(&[b"hello, ", b"log"]).expect("append");
        assert_eq!(first, Lsn::NULL, "a new log's first record is at 0:0x0:0");
        second = area
            .append_with(&[b"second"], Append::new().previous(first))
            .expect("append_with");
        let mut r = area.reserve(&[64]).expect("reserve");
        reserved = r
            .append(&[b"into the reservation"], Append::new())
            .expect("use");
        drop(r);
        assert_eq!(log.info().expect("info").total_reservation, 0);
        let next = area.flush().expect("flush");
        assert!(next > reserved, "flush returns the first LSN not flushed");
        restart = area
            .write_restart(&first.raw().to_le_bytes())
            .expect("restart");
        assert!(first < second && second < reserved && reserved < restart);

        // The blocks came from ExAllocatePool2 with the driver's tag.
        let stats = sb.stats();
        let held = stats.pool.get(&MY_TAG).expect("blocks under 'MyLg'");
        assert!(held.count > 0, "{held:?}");
        area.delete().expect("delete");
        log.close().expect("close");
    }
    no_leaks(&sb);

    let log = LogFile::create(name, LogOptions::new()).expect("reopen");
    let info = log.info().expect("info");
    assert_eq!((info.containers, info.restart), (4, Some(restart)));
    let area = MarshallingArea::<MyBlocks>::create(&log, config()).expect("area");
    let rc = area.read_restart().expect("read").expect("written");
    let saved = rc.current().expect("current");
    assert_eq!(saved.lsn, restart);
    let start = Lsn::from_raw(u64::from_le_bytes(saved.data.try_into().expect("8 bytes")));
    assert_eq!(start, first);
    drop(rc);
    let mut cx = area
        .read(start, ReadMode::Forward)
        .expect("read at 0:0x0:0");
    let mut got = Vec::new();
    while let Some(rec) = cx.next().expect("next") {
        assert_eq!(rec.kind(), RecordType::Data);
        got.push((rec.lsn, rec.data.to_vec(), rec.previous()));
    }
    assert_eq!(
        got,
        vec![
            (first, b"hello, log".to_vec(), None),
            (second, b"second".to_vec(), Some(first)),
            (reserved, b"into the reservation".to_vec(), None),
        ]
    );
    drop(cx);
    drop(area);
    log.close().expect("close");
    no_leaks(&sb);
}

#[test]
fn the_first_record_at_lsn_null_is_a_record_everywhere() {
    let sb = Sandbox::new();
    // Archivable (FILE_ATTRIBUTE_ARCHIVE), so that the archive tail can be set too.
    let log = LogFile::create(
        wide!("log:C:\\drv\\first"),
        LogOptions::new().create_if_missing().archive(true),
    )
    .expect("create");
    log.add_containers(&[wide!("%BLF%\\f0"), wide!("%BLF%\\f1")], CONTAINER)
        .expect("containers");
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).expect("area");
    let first = area.append(&[b"first"]).expect("append");
    assert_eq!(first, Lsn::NULL);
    assert!(first.is_null() && !first.is_invalid());
    assert_eq!(first.valid(), Some(Lsn::NULL));
    assert_eq!(first.to_string(), "0:0x0:0");

    // As a link target: previous and undo-next both point at it, and read back as Some.
    let second = area
        .append_with(&[b"second"], Append::new().previous(first).undo_next(first))
        .expect("link to the first record");
    let third = area
        .append_with(&[b"third"], Append::new().previous(second).undo_next(first))
        .expect("append");
    for mode in [ReadMode::Previous, ReadMode::UndoNext] {
        let mut cx = area.read(third, mode).expect("read");
        let mut lsns = Vec::new();
        while let Some(r) = cx.next().expect("next") {
            lsns.push(r.lsn);
        }
        let want = match mode {
            ReadMode::Previous => vec![third, second, first],
            _ => vec![third, first],
        };
        assert_eq!(lsns, want, "{mode:?} walk reaches the record at 0:0x0:0");
    }
    {
        let mut cx = area.read(second, ReadMode::Forward).expect("read");
        let r = cx.next().expect("next").expect("second");
        assert_eq!((r.previous(), r.undo_next()), (Some(first), Some(first)));
        // jump (plsnUser) to 0:0x0:0.
        let r = cx.jump(first).expect("jump").expect("the first record");
        assert_eq!((r.lsn, r.data), (first, &b"first"[..]));
    }

    // As a flush target, an archive tail, a base (also with a restart area).
    assert!(area.flush_to(first).expect("flush_to 0:0x0:0") > first);
    log.set_archive_tail(first)
        .expect("archive tail at 0:0x0:0");
    assert_eq!(log.info().expect("info").min_archive_tail, first);
    area.advance_base(first).expect("base at 0:0x0:0");
    let r = area
        .write_restart_with_base(b"base stays at the first record", first)
        .expect("restart with base 0:0x0:0");
    let info = log.info().expect("info");
    assert_eq!((info.base, info.restart), (first, Some(r)));

    // As a read start, with the restart records included.
    let mut cx = area
        .read(first, ReadMode::Forward)
        .expect("read")
        .with_restart_records();
    let mut kinds = Vec::new();
    while let Some(rec) = cx.next().expect("next") {
        if rec.kind() == RecordType::Restart {
            // As Windows writes them: undo-next CLFS_LSN_NULL, not a link (Record::undo_next).
            assert_eq!(rec.undo_next(), Some(Lsn::NULL));
        }
        kinds.push((rec.lsn, rec.kind()));
    }
    assert_eq!(kinds.first(), Some(&(first, RecordType::Data)));
    assert_eq!(kinds.last(), Some(&(r, RecordType::Restart)));
    drop(cx);

    // LSN arithmetic around it.
    assert_eq!(first.decrement(), None, "nothing precedes 0:0x0:0");
    assert_eq!(first.increment(), Lsn::new(0, 0, 1));
    assert_eq!(second.difference(first, 512 * 1024, 4096), Ok(0));
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn empty_log_reports_null_but_has_no_record_to_read() {
    let sb = Sandbox::new();
    let log = new_log("empty", 2);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).expect("area");
    let info = log.info().expect("info");
    assert_eq!((info.base, info.last), (Lsn::NULL, Lsn::NULL));
    assert!(area.read_restart().expect("read restart").is_none());
    // The only way to tell an empty log from a one-record log is to read it.
    match area.read(Lsn::NULL, ReadMode::Forward) {
        Err(e) => assert!(e.status().is_some(), "Clfs.sys's refusal: {e}"),
        Ok(mut cx) => assert!(cx.next().expect("next").is_none(), "no record yet"),
    }
    let first = area.append(&[b"now there is one"]).expect("append");
    assert_eq!(first, Lsn::NULL);
    let mut cx = area.read(Lsn::NULL, ReadMode::Forward).expect("read");
    assert_eq!(
        cx.next().expect("next").expect("one").data,
        b"now there is one"
    );
    drop(cx);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn restart_chain_is_walked_back_and_replayed_forward() {
    let sb = Sandbox::new();
    let log = new_log("chain", 2);
    let area = MarshallingArea::<MyBlocks>::create(&log, config()).expect("area");
    let mut checkpoints = Vec::new();
    for i in 0..4u32 {
        area.append(&[&i.to_le_bytes()]).expect("append");
        checkpoints.push(
            area.write_restart(format!("checkpoint {i}").as_bytes())
                .expect("restart"),
        );
    }
    let after = area
        .append(&[b"after the last checkpoint"])
        .expect("append");
    let mut rc = area.read_restart().expect("read").expect("some");
    let mut seen = vec![rc.current().expect("latest").lsn];
    while let Some(prev) = rc.previous().expect("previous") {
        assert_eq!(
            prev.data,
            format!("checkpoint {}", 3 - seen.len()).as_bytes()
        );
        seen.push(prev.lsn);
    }
    seen.reverse();
    assert_eq!(seen, checkpoints);
    assert!(rc.current().is_none());
    drop(rc);

    // Recovery: from the latest restart area, replay the data records after it.
    let rc = area.read_restart().expect("read").expect("some");
    let mut cx = rc.into_records();
    let mut replay = Vec::new();
    while let Some(r) = cx.next().expect("next") {
        replay.push((r.lsn, r.data.to_vec()));
    }
    assert_eq!(replay, vec![(after, b"after the last checkpoint".to_vec())]);
    drop(cx);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn advancing_the_base_hides_older_records_and_survives_reopen() {
    let sb = Sandbox::new();
    let name = wide!("log:C:\\drv\\base");
    let (kept, dropped);
    {
        let log = LogFile::create(name, LogOptions::new().create_if_missing()).expect("create");
        let names = runtime_containers("base", 2);
        let refs: Vec<&[u16]> = names.iter().map(Vec::as_slice).collect();
        log.add_containers(&refs, CONTAINER).expect("containers");
        let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
            .expect("area");
        dropped = area.append(&[b"old"]).expect("append");
        kept = area.append(&[b"new"]).expect("append");
        area.write_restart_with_base(b"cp", kept).expect("restart");
        assert_eq!(log.info().expect("info").base, kept);
        // The base only moves forward, and the error says so with the values.
        let err = area.advance_base(dropped).unwrap_err();
        assert!(err.refused_before_call());
        let msg = err.to_string();
        assert!(
            msg.contains(&kept.to_string()) && msg.contains(&dropped.to_string()),
            "{msg}"
        );
        drop(area);
        log.close().expect("close");
    }
    let log = LogFile::create(name, LogOptions::new()).expect("reopen");
    assert_eq!(log.info().expect("info").base, kept);
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).expect("area");
    let err = area.read(dropped, ReadMode::Forward).unwrap_err();
    assert!(
        matches!(err, Error::LsnNotInLog { lsn, first, .. } if lsn == dropped && first == kept),
        "{err:?}"
    );
    let mut cx = area.read(kept, ReadMode::Forward).expect("read");
    assert_eq!(cx.next().expect("next").expect("kept").data, b"new");
    drop(cx);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn crash_keeps_the_flushed_prefix_and_the_log_goes_on() {
    let sb = Sandbox::new();
    let name = wide!("log:C:\\drv\\crash");
    let log = LogFile::create(name, LogOptions::new().create_if_missing()).expect("create");
    log.add_containers(&[wide!("%BLF%\\k0"), wide!("%BLF%\\k1")], CONTAINER)
        .expect("containers");
    let area = MarshallingArea::<MyBlocks>::create(&log, config()).expect("area");
    let durable: Vec<Lsn> = (0..10u8)
        .map(|i| area.append(&[&[i; 100]]).expect("append"))
        .collect();
    area.flush().expect("flush");
    let forced = area
        .append_with(&[b"forced"], Append::new().force_flush())
        .expect("force flush");
    for i in 0..10u8 {
        area.append(&[&[i; 50]]).expect("unflushed");
    }
    sb.crash();
    drop(area);
    drop(log);
    no_leaks(&sb);

    let log = LogFile::create(name, LogOptions::new()).expect("reopen");
    let area = MarshallingArea::<MyBlocks>::create(&log, config()).expect("area");
    let mut cx = area.read(Lsn::NULL, ReadMode::Forward).expect("read");
    let mut got = Vec::new();
    while let Some(r) = cx.next().expect("next") {
        got.push(r.lsn);
    }
    let mut want = durable.clone();
    want.push(forced);
    assert_eq!(got, want, "exactly the flushed prefix");
    drop(cx);
    assert!(area.append(&[b"after"]).expect("append") > forced);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn dispatch_level_is_refused_before_clfs_is_called() {
    let sb = Sandbox::new();
    let log = new_log("irql", 2);
    let area = MarshallingArea::<MyBlocks>::create(&log, config()).expect("area");
    let first = area.append(&[b"x"]).expect("append");
    let before = sb.stats().clfs_calls();
    {
        let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
        let refusals: Vec<(&str, Error)> = vec![
            (
                "ClfsCreateLogFile",
                LogFile::create(wide!("log:C:\\drv\\other"), LogOptions::new()).unwrap_err(),
            ),
            (
                "ClfsAddLogContainer",
                log.add_container(wide!("%BLF%\\late"), CONTAINER)
                    .unwrap_err(),
            ),
            ("ClfsQueryLogFileInformation", log.info().unwrap_err()),
            ("ClfsReserveAndAppendLog", area.append(&[b"y"]).unwrap_err()),
            ("ClfsFlushToLsn", area.flush().unwrap_err()),
            (
                "ClfsWriteRestartArea",
                area.write_restart(b"r").unwrap_err(),
            ),
            (
                "ClfsReadLogRecord",
                area.read(first, ReadMode::Forward).unwrap_err(),
            ),
            ("ClfsReadRestartArea", area.read_restart().unwrap_err()),
            ("ClfsAdvanceLogBase", area.advance_base(first).unwrap_err()),
            (
                "ClfsCreateScanContext",
                log.containers(&mut ScanContext::new()).unwrap_err(),
            ),
        ];
        for (routine, err) in refusals {
            assert_eq!(
                err,
                Error::IrqlTooHigh { routine, irql: 2 },
                "{routine} at DISPATCH_LEVEL"
            );
            assert!(err.refused_before_call());
            assert_eq!(
                err.to_string(),
                format!(
                    "{routine} must be called at IRQL <= APC_LEVEL (1), but the current IRQL is 2 (DISPATCH_LEVEL)"
                )
            );
        }
    }
    assert_eq!(sb.stats().clfs_calls(), before, "Clfs.sys was never called");
    // Back at PASSIVE_LEVEL everything works again.
    area.append(&[b"y"]).expect("append");
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn misuse_gets_messages_that_name_the_rule_and_the_values() {
    let sb = Sandbox::new();
    let one = new_log("misuse1", 1);
    let before = sb.stats().clfs_calls();
    let err = MarshallingArea::<MyBlocks>::create(&one, config()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the log has 1 container; CLFS needs at least 2 before a marshalling area can be created"
    );
    drop(one);
    let log = new_log("misuse2", 2);
    let err = MarshallingArea::<MyBlocks>::create(&log, MarshallingConfig::new(1000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "marshalling buffer of 1000 bytes is not a multiple of the log's 512-byte sector size"
    );
    let area =
        MarshallingArea::<MyBlocks>::create(&log, MarshallingConfig::new(4096)).expect("area");
    let calls = sb.stats().clfs_calls();
    let big = vec![0u8; 4096];
    let err = area.append(&[&big]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "record of 4096 bytes does not fit in the marshalling area: at most 3920 bytes fit in one 4096-byte buffer"
    );
    assert_eq!(
        err,
        Error::RecordTooLarge {
            size: 4096,
            max: 3920,
            buffer_size: 4096
        }
    );
    let entries: Vec<&[u8]> = vec![b"e"; 33];
    let err = area.append(&entries).unwrap_err();
    assert!(err.to_string().contains("33"), "{err}");
    assert!(err.to_string().contains("32"), "{err}");
    let err = area.write_restart(&big).unwrap_err();
    assert!(err.to_string().contains("4096"), "{err}");
    assert_eq!(
        sb.stats().clfs_calls(),
        calls,
        "refused before Clfs.sys was called"
    );
    assert!(before <= calls);

    // An ephemeral log (the default) has no archive tail: LogOptions::archive(true) gives one.
    let err = log.set_archive_tail(Lsn::NULL).unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::LOG_EPHEMERAL));

    // Clfs.sys's own refusal keeps its NTSTATUS, by name.
    let err = LogFile::create(wide!("log:C:\\drv\\missing"), LogOptions::new()).unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
    assert!(!err.refused_before_call());
    assert_eq!(
        err.to_string(),
        "ClfsCreateLogFile failed with STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034): The object name is not found."
    );
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn container_scans_and_names() {
    let sb = Sandbox::new();
    let log = new_log("scan", 3);
    let mut cx = ScanContext::new();
    let infos: Vec<_> = log
        .containers(&mut cx)
        .expect("scan")
        .collect::<Result<_, _>>()
        .expect("each container");
    assert_eq!(infos.len(), 3);
    for (i, c) in infos.iter().enumerate() {
        assert_eq!(c.size(), CONTAINER);
        let name = String::from_utf16(c.name()).expect("utf-16");
        assert!(name.ends_with(&format!("scan-container{i}")), "{name}");
        assert!(!c.name_truncated());
    }
    // Backwards from the last one.
    let back: Vec<u32> = log
        .scan_containers(&mut cx, 2, ScanDirection::Backward)
        .expect("scan")
        .map(|c| c.expect("container").physical_id())
        .collect();
    let fwd: Vec<u32> = infos.iter().map(|c| c.physical_id()).collect();
    assert_eq!(back, fwd.iter().rev().copied().collect::<Vec<_>>());
    let err = log
        .scan_containers(&mut cx, 3, ScanDirection::Forward)
        .unwrap_err();
    assert!(err.refused_before_call());
    assert!(
        err.to_string().contains('3'),
        "names the index and the count: {err}"
    );

    // The name of the container holding the first record (logical id 0 in LSN 0:0x0:0).
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).expect("area");
    let first = area.append(&[b"r"]).expect("append");
    let mut buf = [0u16; 260];
    let name = log
        .container_name(first.container(), &mut buf)
        .expect("name");
    assert!(!name.is_truncated());
    let s = String::from_utf16(name.name).expect("utf-16");
    assert!(s.contains("scan-container"), "{s}");
    let mut small = [0u16; 4];
    let part = log
        .container_name(first.container(), &mut small)
        .expect("truncated name");
    assert!(part.is_truncated());
    assert_eq!(part.full_len as usize, name.name.len());
    assert_eq!(part.name, &name.name[..4]);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn lsn_arithmetic_as_documented() {
    let a = Lsn::new(1, 0x200, 511).expect("valid");
    assert_eq!(a.increment(), Lsn::new(1, 0x400, 0));
    assert_eq!(a.increment().and_then(Lsn::decrement), Some(a));
    assert_eq!(Lsn::new(0, 100, 0), None, "offset not a multiple of 512");
    assert_eq!(Lsn::new(0, 0, 512), None, "record index above 511");
    assert!(Lsn::NULL < a && a < Lsn::INVALID);
    assert_eq!(Lsn::INVALID.valid(), None);
    assert_eq!(Lsn::INVALID.increment(), None);
    let b = Lsn::new(2, 0x400, 0).expect("valid");
    let start = Lsn::new(0, 0x1000, 3).expect("valid");
    assert_eq!(
        b.difference(start, 0x10_0000, 0x1000),
        Ok(2 * 0x10_0000 + 0x400 - 0x1000)
    );
    let err = b.difference(Lsn::INVALID, 0x10_0000, 0x1000).unwrap_err();
    assert!(err.refused_before_call(), "{err}");
    let err = b.difference(start, 1000, 512).unwrap_err();
    assert!(err.to_string().contains("1000"), "{err}");
}

#[test]
fn management_policies_as_the_guide_shows() {
    let sb = Sandbox::new();
    let log = new_log("managed", 2);
    for p in [
        Policy::MaximumSize { containers: 4 },
        Policy::MinimumSize { containers: 2 },
        Policy::GrowthRate(Growth::Containers(1)),
        Policy::NewContainerPrefix(wide!("%BLF%\\grown")),
    ] {
        log.install_policy(&p, InstallMode::Overwrite)
            .expect("install");
    }
    let mut buf = PolicyBuf::default();
    assert_eq!(
        log.query_policy(PolicyKind::MaximumSize, &mut buf)
            .expect("query"),
        Some(Policy::MaximumSize { containers: 4 })
    );
    log.remove_policy(PolicyKind::MaximumSize).expect("remove");
    assert_eq!(
        log.query_policy(PolicyKind::MaximumSize, &mut buf)
            .expect("query"),
        None
    );
    let grown = log.set_log_file_size(LogSize::Containers(3)).expect("grow");
    assert_eq!(grown.containers, 3);
    assert_eq!(log.info().expect("info").containers, 3);
    drop(log);
    no_leaks(&sb);
}

#[test]
fn readme_multiplexed_snippet() {
    let sb = Sandbox::new();
    {
        let orders = LogFile::create(
            wide!("log:\\SystemRoot\\Logs\\MyDriver\\shared::orders"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap();
        orders
            .add_containers(&[wide!("%BLF%\\s0"), wide!("%BLF%\\s1")], 1024 * 1024)
            .unwrap();
        let audit = LogFile::create(
            wide!("log:\\SystemRoot\\Logs\\MyDriver\\shared::audit"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap();
        let orders_area =
            MarshallingArea::<MyBlocks>::create(&orders, MarshallingConfig::new(64 * 1024))
                .unwrap();
        let audit_area =
            MarshallingArea::<MyBlocks>::create(&audit, MarshallingConfig::new(64 * 1024)).unwrap();
        let o = orders_area.append(&[b"order 1"]).unwrap();
        let a = audit_area.append(&[b"audit 1"]).unwrap();
        orders_area.flush().unwrap();
        audit_area.flush().unwrap();
        // Each stream reads back its own record, and the other stream's LSN names none of its.
        let mut cx = orders_area.read(o, ReadMode::Forward).unwrap();
        assert_eq!(cx.next().unwrap().unwrap().data, b"order 1");
        assert!(cx.next().unwrap().is_none());
        drop(cx);
        assert!(orders_area.read(a, ReadMode::Forward).is_err());
        let mut cx = audit_area.read(a, ReadMode::Forward).unwrap();
        assert_eq!(cx.next().unwrap().unwrap().data, b"audit 1");
        assert!(cx.next().unwrap().is_none());
    }
    no_leaks(&sb);
}
