//! A driver author's jobs, written from README.md, docs/api-guide.md, docs/testing.md and the
//! rustdoc alone (no look at `src/`): a write-ahead log with its own tagged pool, restart areas,
//! base moves, container management and scans, a multiplexed log, a managed log, and crash
//! recovery. Each test checks what the author would notice: bytes read back, LSN order within a
//! stream, errors and their messages, and the emulator's zero-leak accounts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clfs::{
    pool_tag, wide, Append, ContainerState, Error, Growth, InstallMode, LogFile, LogFullOutcome,
    LogKind, LogOptions, LogSize, Lsn, ManagedClient, ManagementCallbacks, MarshallingArea,
    MarshallingConfig, NtStatus, Policy, PolicyBuf, PolicyKind, PoolType, ReadMode, RecordType,
    ScanContext, ScanDirection, TaggedPool, TailAdvance,
};
use clfs_emu::Sandbox;

/// The driver's own pool tag for its log I/O blocks.
const TAG: u32 = pool_tag(*b"AuTh");
type Blocks = TaggedPool<TAG>;

fn config() -> MarshallingConfig {
    MarshallingConfig::new(8 * 1024)
        .pool(PoolType::NonPagedPoolNx)
        .max_write_buffers(4)
        .max_read_buffers(2)
}

fn no_leaks(sb: &Sandbox) {
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "leaks: {leaks:#?}");
}

fn text(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// One transaction of a write-ahead log: an undo record reserved up front, the redo record
/// appended, and the commit record written into the reservation.
#[test]
fn write_ahead_log_round_trip_in_a_tagged_pool() {
    let sb = Sandbox::new();
    {
        let log = LogFile::create(
            wide!("log:C:\\author\\wal"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap();
        assert_eq!(log.kind(), Some(LogKind::Dedicated));
        let size = log
            .add_containers(&[wide!("%BLF%\\wal0"), wide!("%BLF%\\wal1")], 512 * 1024)
            .unwrap();
        assert_eq!(size, 512 * 1024);
        let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();

        // The blocks come from ExAllocatePool2 with our tag, not from CLFS's own allocator.
        let before = sb.stats();
        assert!(
            before.pool.get(&TAG).is_some_and(|o| o.count >= 1),
            "ExAllocatePool2 allocations per tag: {:?}",
            before.pool
        );
        assert!(
            before
                .blocks
                .keys()
                .all(|&(pool, _)| pool == PoolType::NonPagedPoolNx.raw()),
            "{:?}",
            before.blocks
        );

        // Write-ahead: reserve the commit record's space, then append.
        let mut commit_space = area.reserve(&[64]).unwrap();
        assert_eq!(commit_space.records(), 1);
        assert!(commit_space.bytes() >= 64);
        assert_eq!(
            log.info().unwrap().total_reservation,
            commit_space.bytes(),
            "the log counts the reserved bytes"
        );
        let begin = area.append(&[b"BEGIN tx1"]).unwrap();
        let redo = area
            .append_with(&[b"REDO ", b"page 7 := 42"], Append::new().previous(begin))
            .unwrap();
        let commit = commit_space
            .append(
                &[b"COMMIT tx1"],
                Append::new().previous(redo).undo_next(begin),
            )
            .unwrap();
        assert_eq!(commit_space.records(), 0);
        drop(commit_space);
        assert_eq!(log.info().unwrap().total_reservation, 0);
        assert!(begin < redo && redo < commit, "{begin} {redo} {commit}");

        // Durable up to the commit: the first LSN not flushed is past it.
        let next = area.flush_to(commit).unwrap();
        assert!(
            next > commit,
            "flush_to returned {next}, commit is {commit}"
        );
        assert!(log.info().unwrap().last_flushed >= commit);

        // Forward from the start: three data records in order, entries concatenated.
        let mut cx = area.read(begin, ReadMode::Forward).unwrap();
        let mut seen = Vec::new();
        while let Some(r) = cx.next().unwrap() {
            assert_eq!(r.kind(), RecordType::Data);
            seen.push((r.lsn, r.data.to_vec()));
        }
        drop(cx);
        assert_eq!(
            seen,
            vec![
                (begin, b"BEGIN tx1".to_vec()),
                (redo, b"REDO page 7 := 42".to_vec()),
                (commit, b"COMMIT tx1".to_vec()),
            ]
        );

        // Backward along the previous links, from the commit.
        let mut cx = area.read(commit, ReadMode::Previous).unwrap();
        let mut back = Vec::new();
        while let Some(r) = cx.next().unwrap() {
            back.push(r.lsn);
        }
        drop(cx);
        assert_eq!(back, vec![commit, redo, begin]);

        // Undo-next: from the commit straight to the begin record.
        let mut cx = area.read(commit, ReadMode::UndoNext).unwrap();
        let r = cx.next().unwrap().unwrap();
        assert_eq!(
            (r.lsn, r.undo_next(), r.previous()),
            (commit, Some(begin), Some(redo))
        );
        let r = cx.next().unwrap().unwrap();
        assert_eq!(r.data, b"BEGIN tx1");
        assert!(cx.next().unwrap().is_none());
        drop(cx);

        area.delete().unwrap();
        log.close().unwrap();
    }
    let stats = sb.stats();
    assert_eq!(stats.calls("ClfsDeleteMarshallingArea"), 1);
    assert_eq!(stats.calls("ClfsCloseLogFileObject"), 1);
    no_leaks(&sb);
}

/// Checkpoints: restart areas chained newest first, one that also moves the base, and the base
/// rules an author meets on the way.
#[test]
fn checkpoints_restart_areas_and_base_moves() {
    let sb = Sandbox::new();
    let name = wide!("log:C:\\author\\ckpt");
    let (r1, r2, old, kept);
    {
        let log = LogFile::create(name, LogOptions::new().create_if_missing()).unwrap();
        log.add_containers(&[wide!("%BLF%\\k0"), wide!("%BLF%\\k1")], 512 * 1024)
            .unwrap();
        let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
        assert!(area.read_restart().unwrap().is_none(), "a new log has none");
        assert_eq!(log.info().unwrap().restart, None);

        old = area.append(&[b"before checkpoint 1"]).unwrap();
        r1 = area.write_restart(b"ckpt 1").unwrap();
        assert!(r1 > old);
        kept = area.append(&[b"after checkpoint 1"]).unwrap();
        // Checkpoint 2 also frees everything before `kept`.
        r2 = area.write_restart_with_base(b"ckpt 2", kept).unwrap();
        assert!(r2 > kept);
        let info = log.info().unwrap();
        assert_eq!((info.restart, info.base), (Some(r2), kept));

        // The record before the base is gone: refused before Clfs.sys is asked.
        let calls = sb.stats().clfs_calls();
        let err = area.read(old, ReadMode::Forward).unwrap_err();
        assert!(
            matches!(err, Error::LsnNotInLog { lsn, .. } if lsn == old),
            "{err:?}"
        );
        assert!(err.refused_before_call());
        assert_eq!(err.ntstatus(), NtStatus::LOG_RECORD_NONEXISTENT);
        let msg = err.to_string();
        assert!(msg.contains(&old.to_string()), "{msg}");
        assert!(msg.contains(&kept.to_string()), "{msg}");
        // One query for the range is allowed; the read itself is never made.
        assert_eq!(sb.stats().calls("ClfsReadLogRecord"), 0);
        assert!(sb.stats().clfs_calls() - calls <= 1);

        // A base that goes backwards is refused, with both values named.
        let err = area.advance_base(old).unwrap_err();
        assert!(matches!(err, Error::BaseOutOfRange { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(&old.to_string()) && msg.contains(&kept.to_string()),
            "{msg}"
        );

        // The restart chain, newest first; then the records after a checkpoint replay.
        let mut restart = area.read_restart().unwrap().unwrap();
        let latest = restart.current().unwrap();
        assert_eq!((latest.data, latest.lsn), (&b"ckpt 2"[..], r2));
        // Checkpoint 1 lies before the new base: the chain ends there.
        assert!(restart.previous().unwrap().is_none());
        assert!(restart.current().is_none());
        drop(restart);
    }
    no_leaks(&sb);

    // Reopen: the checkpoint and the base survived.
    let log = LogFile::create(name, LogOptions::new()).unwrap();
    let info = log.info().unwrap();
    assert_eq!((info.restart, info.base), (Some(r2), kept));
    let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
    let restart = area.read_restart().unwrap().unwrap();
    assert_eq!(restart.current().unwrap().data, b"ckpt 2");
    drop(restart);
    let mut cx = area.read(kept, ReadMode::Forward).unwrap();
    assert_eq!(cx.next().unwrap().unwrap().data, b"after checkpoint 1");
    assert!(cx.next().unwrap().is_none(), "restart records are skipped");
    drop(cx);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

/// Growing and shrinking a log by hand, then scanning its containers and naming them.
#[test]
fn containers_added_removed_scanned_and_named() {
    let sb = Sandbox::new();
    {
        let log = LogFile::create(
            wide!("log:C:\\author\\cont"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap();
        // One container is not enough for a marshalling area: refused first, with the count.
        log.add_container(wide!("%BLF%\\c0"), 512 * 1024).unwrap();
        let calls = sb.stats().calls("ClfsCreateMarshallingArea");
        let err = MarshallingArea::<Blocks>::create(&log, config()).unwrap_err();
        assert_eq!(err, Error::NotEnoughContainers { containers: 1 });
        assert_eq!(
            err.to_string(),
            "the log has 1 container; CLFS needs at least 2 before a marshalling area can be created"
        );
        assert_eq!(sb.stats().calls("ClfsCreateMarshallingArea"), calls);

        // After the first container, a size of 0 is smaller than the existing one: refused.
        let err = log.add_container(wide!("%BLF%\\c1"), 0).unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::INVALID_PARAMETER), "{err}");
        log.add_container(wide!("%BLF%\\c1"), 1).unwrap();
        log.add_container_of_existing_size(wide!("%BLF%\\c2"))
            .unwrap();
        log.add_containers(&[wide!("%BLF%\\c3"), wide!("%BLF%\\c4")], 512 * 1024)
            .unwrap();
        assert_eq!(log.info().unwrap().containers, 5);

        let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
        let lsn = area.append(&[b"lives in some container"]).unwrap();
        area.flush().unwrap();

        // Scan forward: five containers of one size, each with a name ending in its path.
        let mut cx = ScanContext::new();
        let infos: Vec<_> = log
            .containers(&mut cx)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(infos.len(), 5);
        let names: Vec<String> = infos.iter().map(|c| text(c.name())).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(
                n.ends_with(&format!("c{i}")),
                "container {i} is named {n:?}"
            );
        }
        assert!(infos.iter().all(|c| c.size() == 512 * 1024));
        let ids: HashSet<u32> = infos.iter().map(|c| c.physical_id()).collect();
        assert_eq!(ids.len(), 5, "physical ids are distinct");

        // The container that holds the record is active and knows its logical id; its full
        // name comes back from ClfsGetContainerName.
        let holder = infos
            .iter()
            .find(|c| c.logical_id() == Some(lsn.container()))
            .expect("a container holds the record");
        assert_eq!(holder.state(), ContainerState::Active);
        let mut buf = [0u16; 512];
        let full = log.container_name(lsn.container(), &mut buf).unwrap();
        assert!(!full.is_truncated());
        assert_eq!(full.full_len as usize, full.name.len());
        assert!(
            text(full.name).ends_with(&text(holder.name())),
            "{:?}",
            text(full.name)
        );
        // A small buffer gives the start and the full length.
        let mut small = [0u16; 4];
        let part = log.container_name(lsn.container(), &mut small).unwrap();
        assert!(part.is_truncated());
        assert_eq!(part.full_len, full.full_len);
        assert_eq!(part.name, &full.name[..part.name.len()]);

        // Backward from the last one, then turn around.
        let mut cx = ScanContext::new();
        let mut scan = log
            .scan_containers(&mut cx, 4, ScanDirection::Backward)
            .unwrap();
        let first = scan.next().unwrap().unwrap();
        let second = scan.next().unwrap().unwrap();
        assert!(text(first.name()).ends_with("c4") && text(second.name()).ends_with("c3"));
        scan.turn_around();
        assert_eq!(scan.direction(), ScanDirection::Forward);
        assert!(text(scan.next().unwrap().unwrap().name()).ends_with("c4"));
        scan.close().unwrap();
        // A start past the end is refused, naming the index and the count.
        let mut cx = ScanContext::new();
        let err = log
            .scan_containers(&mut cx, 5, ScanDirection::Forward)
            .unwrap_err();
        assert_eq!(
            err,
            Error::ContainerIndexOutOfRange {
                index: 5,
                containers: 5
            }
        );
        let msg = err.to_string();
        assert!(msg.contains('5'), "{msg}");

        // A context kept in shared driver state, used from a worker thread.
        let shared = std::sync::Mutex::new(ScanContext::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let _in_sandbox = sb.enter();
                let mut cx = shared.lock().unwrap();
                assert_eq!(log.containers(&mut cx).unwrap().count(), 5);
            });
        });

        // Remove two unused containers, one at a time and as a set.
        log.remove_container(wide!("%BLF%\\c4"), true).unwrap();
        log.remove_containers(&[wide!("%BLF%\\c3"), wide!("%BLF%\\c2")], true)
            .unwrap();
        assert_eq!(log.info().unwrap().containers, 2);
        let mut cx = ScanContext::new();
        assert_eq!(log.containers(&mut cx).unwrap().count(), 2);

        // The record is still there.
        let mut rd = area.read(lsn, ReadMode::Forward).unwrap();
        assert_eq!(rd.next().unwrap().unwrap().data, b"lives in some container");
    }
    no_leaks(&sb);
}

/// A multiplexed log: two streams, each with its own area, LSNs, restart area and base; the
/// physical log for containers and queries.
#[test]
fn multiplexed_log_two_streams_and_the_physical_log() {
    let sb = Sandbox::new();
    let orders_name = wide!("log:C:\\author\\mux::orders");
    let audit_name = wide!("log:C:\\author\\mux::audit");
    let (mut orders_lsns, mut audit_lsns) = (Vec::new(), Vec::new());
    {
        let orders = LogFile::create(orders_name, LogOptions::new().create_if_missing()).unwrap();
        assert_eq!(orders.kind(), Some(LogKind::Stream));
        let size = orders
            .add_containers(&[wide!("%BLF%\\m0"), wide!("%BLF%\\m1")], 512 * 1024)
            .unwrap();
        assert_eq!(size, 1024 * 1024, "stream containers are rounded to 1 MiB");
        let audit = LogFile::create(audit_name, LogOptions::new().create_if_missing()).unwrap();
        assert_ne!(orders.stream_id().unwrap(), 0);
        assert_ne!(orders.stream_id().unwrap(), audit.stream_id().unwrap());

        let oa = MarshallingArea::<Blocks>::create(&orders, config()).unwrap();
        let aa = MarshallingArea::<Blocks>::create(&audit, config()).unwrap();
        for i in 0..20u32 {
            orders_lsns.push(oa.append(&[format!("order {i}").as_bytes()]).unwrap());
            if i % 2 == 0 {
                audit_lsns.push(aa.append(&[format!("audit {i}").as_bytes()]).unwrap());
            }
        }
        oa.write_restart(b"orders ckpt").unwrap();
        aa.flush().unwrap();
        oa.flush().unwrap();
        assert!(orders_lsns.windows(2).all(|w| w[0] < w[1]));
        assert!(audit_lsns.windows(2).all(|w| w[0] < w[1]));

        // The physical log: no records of its own, but containers and queries.
        let physical = LogFile::create(wide!("log:C:\\author\\mux::"), LogOptions::new()).unwrap();
        assert_eq!(physical.kind(), Some(LogKind::Physical));
        assert_eq!(physical.stream_id().unwrap(), 0);
        let calls = sb.stats().calls("ClfsCreateMarshallingArea");
        let err = MarshallingArea::<Blocks>::create(&physical, config()).unwrap_err();
        assert!(matches!(err, Error::PhysicalLog { .. }), "{err:?}");
        assert_eq!(err.ntstatus(), NtStatus::LOG_MULTIPLEXED);
        assert_eq!(sb.stats().calls("ClfsCreateMarshallingArea"), calls);
        physical
            .add_container(wide!("%BLF%\\m2"), 1024 * 1024)
            .unwrap();
        assert_eq!(physical.physical_info().unwrap().containers, 3);
        assert_eq!(
            orders.info().unwrap().containers,
            3,
            "streams share containers"
        );
        let mut buf = [0u16; 260];
        let pname = text(physical.physical_name(&mut buf).unwrap());
        assert!(pname.contains("mux"), "{pname:?}");
        // Each stream's restart area is its own.
        assert!(orders.info().unwrap().restart.is_some());
        assert_eq!(audit.info().unwrap().restart, None);
        assert!(aa.read_restart().unwrap().is_none());
    }
    no_leaks(&sb);

    // Reopen each stream: each reads back exactly its own records.
    for (name, lsns, word) in [
        (orders_name, &orders_lsns, "order"),
        (audit_name, &audit_lsns, "audit"),
    ] {
        let log = LogFile::create(name, LogOptions::new()).unwrap();
        let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
        // A stream starts at its base, which need not be 0:0x0:0 (rustdoc of `read`).
        let base = log.info().unwrap().base;
        if base != Lsn::NULL {
            let err = area.read(Lsn::NULL, ReadMode::Forward).unwrap_err();
            assert!(matches!(err, Error::LsnNotInLog { .. }), "{err:?}");
        }
        let mut cx = area.read(base, ReadMode::Forward).unwrap();
        let mut got = Vec::new();
        while let Some(r) = cx.next().unwrap() {
            let s = String::from_utf8(r.data.to_vec()).unwrap();
            assert!(s.starts_with(word), "{s:?} in the {word} stream");
            got.push(r.lsn);
        }
        assert_eq!(&got, lsns);
        if word == "audit" {
            assert_ne!(
                base,
                Lsn::NULL,
                "the second stream starts after the first one's block"
            );
        }
    }
    no_leaks(&sb);
}

/// A managed log: a maximum size, a growth rate and a client that advances its tail when CLFS
/// asks; an append that meets a full log gets space back through `handle_log_full`.
#[test]
fn managed_log_grows_on_log_full() {
    #[derive(Default)]
    struct Client {
        wanted: AtomicU64,
        asked: AtomicU32,
        grown: AtomicU32,
    }
    impl ManagementCallbacks for Client {
        fn advance_tail(&self, target: Lsn) -> TailAdvance {
            self.wanted.fetch_max(target.raw(), Ordering::SeqCst);
            self.asked.fetch_add(1, Ordering::SeqCst);
            TailAdvance::Pending
        }
        fn log_growth_complete(&self, status: Result<(), NtStatus>, _pinned: bool) {
            assert!(status.is_ok(), "{status:?}");
            self.grown.fetch_add(1, Ordering::SeqCst);
        }
    }

    let sb = Sandbox::new();
    {
        let log = LogFile::create(
            wide!("log:C:\\author\\managed"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap();
        log.add_containers(&[wide!("%BLF%\\g0"), wide!("%BLF%\\g1")], 512 * 1024)
            .unwrap();
        for p in [
            Policy::MaximumSize { containers: 4 },
            Policy::GrowthRate(Growth::Containers(1)),
            Policy::NewContainerPrefix(wide!("%BLF%\\grown")),
        ] {
            log.install_policy(&p, InstallMode::Overwrite).unwrap();
        }
        let err = log
            .install_policy(
                &Policy::MaximumSize { containers: 5 },
                InstallMode::KeepExisting,
            )
            .unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::LOG_POLICY_ALREADY_INSTALLED));
        let err = log
            .install_policy(
                &Policy::MaximumSize { containers: 1 },
                InstallMode::Overwrite,
            )
            .unwrap_err();
        assert!(err.refused_before_call());
        assert!(err.to_string().contains("MaximumSize"), "{err}");
        let mut buf = PolicyBuf::new();
        assert_eq!(
            log.query_policy(PolicyKind::MaximumSize, &mut buf).unwrap(),
            Some(Policy::MaximumSize { containers: 4 })
        );

        let client_state = Client::default();
        let client = ManagedClient::register(&log, &client_state).unwrap();
        let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
        // 1,500 records of 3,000 bytes: more than the four containers the log may grow to,
        // so growth alone is not enough and the client must move its base when asked.
        let payload = [0x5Au8; 3000];
        let (mut appended, mut full, mut last) = (0u32, 0u32, Lsn::NULL);
        while appended < 1500 {
            match area.append(&[&payload]) {
                Ok(lsn) => {
                    assert!(appended == 0 || lsn > last, "LSNs grow within the stream");
                    last = lsn;
                    appended += 1;
                }
                Err(e) if e.status() == Some(NtStatus::LOG_FULL) => {
                    full += 1;
                    assert!(full < 100, "no progress after {appended} records");
                    let grown = client_state.grown.load(Ordering::SeqCst);
                    if client.handle_log_full().unwrap() == LogFullOutcome::Available {
                        continue;
                    }
                    // The "work item": move the base where CLFS asked, until growth completes.
                    let deadline = Instant::now() + Duration::from_secs(120); // only a broken emulator reaches it
                    while client_state.grown.load(Ordering::SeqCst) == grown {
                        assert!(Instant::now() < deadline, "no LogGrowthComplete");
                        let wanted = Lsn::from_raw(client_state.wanted.swap(0, Ordering::SeqCst));
                        if wanted != Lsn::NULL {
                            area.advance_base(wanted.min(last)).unwrap();
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(e) => panic!("append {appended}: {e}"),
            }
        }
        assert!(full > 0, "the log never filled");
        let containers = log.info().unwrap().containers;
        assert_eq!(containers, 4, "grew to the maximum");
        assert!(sb.stats().mgmt_containers_added >= 2);
        assert!(
            client_state.asked.load(Ordering::SeqCst) > 0,
            "CLFS asked for the tail"
        );
        drop(area);
        client.deregister().unwrap();
        // After deregistration no callback runs. (This read the counter twice in a row, which
        // could not fail.) Now a second client's log-full request at the maximum asks every
        // registered client for its tail: only the second one may be asked.
        let asked = client_state.asked.load(Ordering::SeqCst);
        #[derive(Default)]
        struct Second {
            asked: AtomicU32,
            done: AtomicU32,
        }
        impl ManagementCallbacks for Second {
            fn advance_tail(&self, _target: Lsn) -> TailAdvance {
                self.asked.fetch_add(1, Ordering::SeqCst);
                TailAdvance::Pending
            }
            fn log_growth_complete(&self, _status: Result<(), NtStatus>, _pinned: bool) {
                self.done.fetch_add(1, Ordering::SeqCst);
            }
        }
        let wait = |what: &str, f: &dyn Fn() -> bool| {
            // A bound only a broken emulator reaches.
            let deadline = Instant::now() + Duration::from_secs(120);
            while !f() {
                assert!(Instant::now() < deadline, "{what} never happened");
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let second = Second::default();
        let other = ManagedClient::register(&log, &second).unwrap();
        let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
        let mut n = 0;
        loop {
            match area.append(&[&payload]) {
                Ok(_) => n += 1,
                Err(e) if e.status() == Some(NtStatus::LOG_FULL) => break,
                Err(e) => panic!("append: {e}"),
            }
            assert!(n < 10_000, "the log never filled");
        }
        assert_eq!(
            other.handle_log_full().unwrap(),
            LogFullOutcome::GrowthPending
        );
        wait("the second client's AdvanceTail", &|| {
            second.asked.load(Ordering::SeqCst) == 1
        });
        // A barrier: the worker runs items in request order, so once the completion queued
        // after that AdvanceTail round has run, the round is over.
        other
            .tail_advance_failure(clfs::mgmt::ErrorStatus::UNSUCCESSFUL)
            .unwrap();
        wait("the second client's LogGrowthComplete", &|| {
            second.done.load(Ordering::SeqCst) == 1
        });
        assert_eq!(
            client_state.asked.load(Ordering::SeqCst),
            asked,
            "a deregistered client was asked to advance its tail"
        );
        drop(other);
        drop(area);
        // A size below the minimum is refused before the call.
        let err = log.set_log_file_size(LogSize::Containers(1)).unwrap_err();
        assert!(err.refused_before_call(), "{err}");
        assert!(err.to_string().contains('1'), "{err}");
    }
    no_leaks(&sb);
}

/// Power loss: what was flushed comes back, what was not is gone, and the log goes on.
#[test]
fn crash_then_reopen_and_recover_from_the_last_checkpoint() {
    let sb = Sandbox::new();
    let name = wide!("log:C:\\author\\crash");
    let (ckpt, durable, lost);
    {
        let log = LogFile::create(name, LogOptions::new().create_if_missing()).unwrap();
        log.add_containers(&[wide!("%BLF%\\x0"), wide!("%BLF%\\x1")], 512 * 1024)
            .unwrap();
        let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
        let first = area.append(&[b"tx1"]).unwrap();
        ckpt = area.write_restart(&first.raw().to_le_bytes()).unwrap();
        durable = area
            .append_with(&[b"tx2"], Append::new().force_flush())
            .unwrap();
        lost = area.append(&[b"tx3 never flushed"]).unwrap();
        sb.crash();
        // Every handle died with the machine: dropping them must neither panic nor leak.
        let err = area.append(&[b"after the crash"]).unwrap_err();
        assert!(
            err.status().is_some(),
            "Clfs.sys refuses a dead handle: {err:?}"
        );
    }
    no_leaks(&sb);

    // Reopen, find the checkpoint, replay what follows it.
    let log = LogFile::create(name, LogOptions::new()).unwrap();
    assert!(log.info().unwrap().last < lost || log.info().unwrap().last == durable);
    let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
    let restart = area.read_restart().unwrap().unwrap();
    let current = restart.current().unwrap();
    assert_eq!(current.lsn, ckpt);
    let from = Lsn::from_raw(u64::from_le_bytes(current.data.try_into().unwrap()));
    drop(restart);
    let mut cx = area.read(from, ReadMode::Forward).unwrap();
    let mut replay = Vec::new();
    while let Some(r) = cx.next().unwrap() {
        replay.push(r.data.to_vec());
    }
    drop(cx);
    assert_eq!(replay, vec![b"tx1".to_vec(), b"tx2".to_vec()]);
    let err = area.read(lost, ReadMode::Forward).unwrap_err();
    assert!(matches!(err, Error::LsnNotInLog { .. }), "{err:?}");
    let next = area.append(&[b"tx3 again"]).unwrap();
    assert!(next > durable);
    area.flush().unwrap();
    drop(area);
    drop(log);
    no_leaks(&sb);
}

/// The errors an author meets first, with the messages README.md shows.
#[test]
fn first_mistakes_and_their_messages() {
    let sb = Sandbox::new();
    let log = LogFile::create(
        wide!("log:C:\\author\\mistakes"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    log.add_containers(&[wide!("%BLF%\\e0"), wide!("%BLF%\\e1")], 512 * 1024)
        .unwrap();
    let before = sb.stats().clfs_calls();
    let err = MarshallingArea::<Blocks>::create(&log, MarshallingConfig::new(1000)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "marshalling buffer of 1000 bytes is not a multiple of the log's 512-byte sector size"
    );
    let area = MarshallingArea::<Blocks>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let big = vec![0u8; 4096];
    let err = area.append(&[&big]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "record of 4096 bytes does not fit in the marshalling area: at most 3920 bytes fit in one 4096-byte buffer"
    );
    let err = {
        let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
        MarshallingArea::<Blocks>::create(&log, MarshallingConfig::new(4096)).unwrap_err()
    };
    assert_eq!(
        err.to_string(),
        "ClfsCreateMarshallingArea must be called at IRQL <= APC_LEVEL (1), but the current IRQL is 2 (DISPATCH_LEVEL)"
    );
    // Only the queries behind the checks and the one successful create reached Clfs.sys.
    assert_eq!(sb.stats().calls("ClfsReserveAndAppendLog"), 0);
    assert!(sb.stats().clfs_calls() > before);
    let err = LogFile::create(wide!("log:C:\\author\\missing"), LogOptions::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ClfsCreateLogFile failed with STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034): The object name is not found."
    );
    let err = area.reserve(&[]).unwrap_err();
    assert!(err.refused_before_call(), "{err}");
    let err = area.append(&[]).unwrap_err();
    assert_eq!(err, Error::NoEntries);
    let err = area.write_restart(b"").unwrap_err();
    assert_eq!(err, Error::EmptyRestartArea);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

/// The plain values an author keeps in maps and sets, logs with `{:?}` and sends between
/// threads: `Copy + Eq + Hash + Debug + Send + Sync`. Errors: `Clone + Eq + Display +
/// core::error::Error + Send + Sync + 'static`, and convertible to the NTSTATUS a dispatch
/// routine returns.
#[test]
fn plain_values_have_the_impls_an_author_expects() {
    use std::fmt::Debug;
    use std::hash::Hash;
    fn plain<T: Copy + Eq + Hash + Debug + Send + Sync + 'static>() {}
    plain::<Lsn>();
    plain::<NtStatus>();
    plain::<clfs::Severity>();
    plain::<LogKind>();
    plain::<clfs::LogInfo>();
    plain::<clfs::IoStatistics>();
    plain::<clfs::InformationClass>();
    plain::<ReadMode>();
    plain::<RecordType>();
    plain::<ContainerState>();
    plain::<ScanDirection>();
    plain::<PoolType>();
    plain::<MarshallingConfig>();
    plain::<clfs::BufferLimit>();
    plain::<clfs::MarshallingFlags>();
    plain::<Append>();
    plain::<clfs::BufferKind>();
    plain::<clfs::Inconsistency>();
    plain::<clfs::LogNameError>();
    plain::<Growth>();
    plain::<clfs::TailTarget>();
    plain::<InstallMode>();
    plain::<LogFullOutcome>();
    plain::<LogSize>();
    plain::<TailAdvance>();
    plain::<clfs::ErrorStatus>();
    plain::<clfs::Resize>();
    plain::<PolicyKind>();
    plain::<Policy<'static>>();
    plain::<clfs::Access>();
    plain::<clfs::Share>();
    plain::<clfs::Disposition>();
    plain::<clfs::CreateOptions>();
    plain::<clfs::LogOptionFlags>();

    // Storage a driver keeps in its (shared) device extension.
    fn shareable<T: Send + Sync>() {}
    shareable::<ScanContext>();
    shareable::<PolicyBuf>();
    shareable::<LogFile>();
    shareable::<MarshallingArea<'static, Blocks>>();

    fn error<T: Clone + Eq + std::fmt::Display + std::error::Error + Send + Sync + 'static>() {}
    error::<Error>();
    error::<clfs::LogNameError>();
    let status: NtStatus = Error::NoEntries.into();
    assert_eq!(status, NtStatus::INVALID_PARAMETER);
    let raw: i32 = Error::NoEntries.into();
    assert_eq!(raw, NtStatus::INVALID_PARAMETER.0);

    // A driver counts its outcomes in a set.
    let seen: HashSet<(ReadMode, LogFullOutcome)> = [
        (ReadMode::Forward, LogFullOutcome::Available),
        (ReadMode::Forward, LogFullOutcome::Available),
        (ReadMode::Previous, LogFullOutcome::GrowthPending),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen.len(), 2);
}

/// Reservation mistakes name the values: how many records, and how large against how large.
#[test]
fn reservation_mistakes_name_the_values() {
    let sb = Sandbox::new();
    let log = LogFile::create(
        wide!("log:C:\\author\\reserve"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    log.add_containers(&[wide!("%BLF%\\r0"), wide!("%BLF%\\r1")], 512 * 1024)
        .unwrap();
    let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
    let calls = sb.stats().calls("ClfsReserveAndAppendLog");

    let err = area.reserve(&[16; 65]).unwrap_err();
    assert_eq!(err, Error::TooManyReservedRecords { count: 65, max: 64 });
    assert_eq!(
        err.to_string(),
        "65 records in one reservation; at most 64 can be reserved in one call"
    );
    assert_eq!(err.ntstatus(), NtStatus::LOG_RESERVATION_INVALID);
    assert!(err.refused_before_call());

    let mut undo = area.reserve(&[16, 32]).unwrap();
    let largest = area.reservation_size(32).unwrap();
    let needed = area.reservation_size(100).unwrap();
    let err = undo.append(&[&[1u8; 100]], Append::new()).unwrap_err();
    assert_eq!(
        err,
        Error::ReservationTooSmall {
            size: needed,
            largest
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "a record that needs {needed} bytes of reserved space (headers and alignment \
             included) does not fit in any record still reserved: the largest holds {largest} bytes"
        )
    );
    assert_eq!(err.ntstatus(), NtStatus::LOG_RESERVATION_INVALID);
    assert_eq!(undo.records(), 2, "nothing was used");
    // Only the reservation itself reached Clfs.sys.
    assert_eq!(sb.stats().calls("ClfsReserveAndAppendLog"), calls + 1);
    undo.append(&[&[2u8; 30]], Append::new()).unwrap();
    undo.append(&[&[3u8; 10]], Append::new()).unwrap();
    let err = undo.append(&[b"x"], Append::new()).unwrap_err();
    assert!(
        err.to_string()
            .contains("every reserved record has been used"),
        "{err}"
    );
    drop(undo);
    assert_eq!(log.info().unwrap().total_reservation, 0);
    drop(area);
    drop(log);
    no_leaks(&sb);
}

/// `Lsn::default()` is what the docs say: `Lsn::NULL`, the LSN of a new log's first record.
#[test]
fn the_default_lsn_is_null_and_names_the_first_record() {
    assert_eq!(Lsn::default(), Lsn::NULL);
    let sb = Sandbox::new();
    let log = LogFile::create(
        wide!("log:C:\\author\\default-lsn"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    log.add_containers(&[wide!("%BLF%\\d0"), wide!("%BLF%\\d1")], 512 * 1024)
        .unwrap();
    let area = MarshallingArea::<Blocks>::create(&log, config()).unwrap();
    assert_eq!(area.append(&[b"first"]).unwrap(), Lsn::default());
    drop(area);
    drop(log);
    no_leaks(&sb);
}

/// Deleting a log: by name, or through an object opened with `Access::DELETE` (the default
/// options do not ask for it, and the object is closed even when the mark is refused).
#[test]
fn deleting_a_log_needs_delete_access_or_the_name() {
    use clfs::Access;
    let sb = Sandbox::new();
    let name = wide!("log:C:\\author\\deleted");
    let log = LogFile::create(name, LogOptions::new().create_if_missing()).unwrap();
    let err = log.delete().unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::ACCESS_DENIED), "{err}");
    assert_eq!(sb.stats().open_logs, 0, "closed all the same");

    let all = Access::READ | Access::WRITE | Access::DELETE;
    let log = LogFile::create(name, LogOptions::new().access(all)).unwrap();
    log.delete().unwrap();
    let err = LogFile::create(name, LogOptions::new()).unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_NOT_FOUND), "{err}");

    let log = LogFile::create(name, LogOptions::new().create_if_missing()).unwrap();
    drop(log);
    LogFile::delete_named(name).unwrap();
    assert!(LogFile::create(name, LogOptions::new()).is_err());
    no_leaks(&sb);
}

/// Regression: a record or restart area the test still holds when `Sandbox::crash` runs stays
/// readable. The emulator used to free the read buffers of live read contexts at the crash, so
/// the safe API handed out slices of freed memory (a use after free in safe code). This
/// allocator poisons every block it frees, so reading a freed block shows 0xDD.
#[test]
fn records_held_across_a_crash_stay_readable() {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static SIZES: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);
    struct Poisoning;
    // SAFETY: defers to TaggedPool for the memory; `free` only writes within the block's own
    // size (recorded at allocation) before handing it back.
    unsafe impl clfs::BlockAllocator for Poisoning {
        fn allocate(pool: PoolType, bytes: usize, tag: u32) -> *mut core::ffi::c_void {
            let p = Blocks::allocate(pool, bytes, tag);
            if !p.is_null() {
                let mut sizes = SIZES.lock().unwrap();
                sizes
                    .get_or_insert_with(HashMap::new)
                    .insert(p as usize, bytes);
            }
            p
        }
        unsafe fn free(block: *mut core::ffi::c_void) {
            let size = SIZES
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|s| s.remove(&(block as usize)));
            if let Some(size) = size {
                // SAFETY: `block` is a live allocation of `size` bytes from `allocate`.
                unsafe { core::ptr::write_bytes(block.cast::<u8>(), 0xDD, size) };
            }
            // SAFETY: `block` came from TaggedPool::allocate, as the contract says.
            unsafe { Blocks::free(block) }
        }
    }

    let sb = Sandbox::new();
    let log = LogFile::create(
        wide!("log:C:\\author\\held"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    log.add_containers(&[wide!("%BLF%\\h0"), wide!("%BLF%\\h1")], 512 * 1024)
        .unwrap();
    let area = MarshallingArea::<Poisoning>::create(&log, config()).unwrap();
    let lsn = area.append(&[&[0x41; 64]]).unwrap();
    area.write_restart(&[0x42; 64]).unwrap();
    let mut cx = area.read(lsn, ReadMode::Forward).unwrap();
    let restart = area.read_restart().unwrap().unwrap();
    let record = cx.next().unwrap().unwrap();
    sb.crash();
    assert_eq!(
        record.data,
        &[0x41; 64][..],
        "the record read before the crash"
    );
    assert_eq!(restart.current().unwrap().data, &[0x42; 64][..]);
    // The handles died with the machine: the next step is Clfs.sys's refusal.
    let err = cx.next().unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::INVALID_HANDLE), "{err}");
    drop(cx);
    drop(restart);
    drop(area);
    drop(log);
    no_leaks(&sb);
    assert!(
        SIZES.lock().unwrap().as_ref().is_none_or(HashMap::is_empty),
        "every block was freed once the contexts ended"
    );
}
