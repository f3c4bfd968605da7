//! Multiplexed logs through the safe API (issue 12): `log:` names and their kinds, the
//! preconditions checked before Clfs.sys is called, and what the emulator answers when the
//! same bad input comes through the raw seam.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{
    Access, ClfsAllocator, Error, LogFile, LogKind, LogNameError, LogOptions, Lsn, MarshallingArea,
    MarshallingConfig, MarshallingFlags, NtStatus, ReadMode, Share,
};
use clfs_emu::{status, Sandbox};
use common::{assert_no_leaks, w};

/// Every `log:` name rule, with the error and the message a driver author sees.
fn bad_names() -> Vec<(String, LogNameError, &'static str)> {
    let long = format!("log:C:\\t\\mux::{}", "s".repeat(65));
    vec![
        (
            "C:\\t\\no-prefix".into(),
            LogNameError::MissingPrefix {
                start: [b'C' as u16, b':' as u16, b'\\' as u16, b't' as u16],
                len: 4,
            },
            "invalid log name: the name starts with \"C:\\\\t\"; a log name starts with \"log:\" (in any case)",
        ),
        (
            "log:::stream".into(),
            LogNameError::EmptyPath,
            "invalid log name: no physical log path between \"log:\" and the end or \"::\"; a log name has a physical log path after \"log:\"",
        ),
        (
            long,
            LogNameError::StreamNameTooLong { len: 65, max: 64 },
            "invalid log name: stream name is 65 UTF-16 units long; a stream name is at most 64 UTF-16 units long",
        ),
        (
            "log:C:\\t\\mux::ab*".into(),
            LogNameError::StreamNameChar {
                unit: b'*' as u16,
                position: 2,
            },
            "invalid log name: stream name has '*' (U+002A) at UTF-16 unit 2 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::a\\b".into(),
            LogNameError::StreamNameChar {
                unit: b'\\' as u16,
                position: 1,
            },
            "invalid log name: stream name has '\\\\' (U+005C) at UTF-16 unit 1 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::a::b".into(),
            LogNameError::StreamNameChar {
                unit: b':' as u16,
                position: 1,
            },
            "invalid log name: stream name has ':' (U+003A) at UTF-16 unit 1 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::x\u{7}".into(),
            LogNameError::StreamNameChar {
                unit: 7,
                position: 1,
            },
            "invalid log name: stream name has U+0007 at UTF-16 unit 1 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::.".into(),
            LogNameError::StreamNameDots { dots: 1 },
            "invalid log name: stream name is \".\"; a stream name may not be \".\" or \"..\"",
        ),
        (
            "log:C:\\t\\mux::..".into(),
            LogNameError::StreamNameDots { dots: 2 },
            "invalid log name: stream name is \"..\"; a stream name may not be \".\" or \"..\"",
        ),
        (
            "log:C:\\t\\mux::audit ".into(),
            LogNameError::StreamNameEnd {
                unit: b' ' as u16,
                position: 5,
            },
            "invalid log name: stream name ends in ' ' (U+0020) at UTF-16 unit 5; a stream name may not end in a space or a period",
        ),
        (
            "log:C:\\t\\mux::audit.".into(),
            LogNameError::StreamNameEnd {
                unit: b'.' as u16,
                position: 5,
            },
            "invalid log name: stream name ends in '.' (U+002E) at UTF-16 unit 5; a stream name may not end in a space or a period",
        ),
    ]
}

/// Each bad name is refused by `create`, `delete_named` and `delete_named_with` with the
/// typed error and its message, and the emulator shows that Clfs.sys was never called.
#[test]
fn bad_names_are_refused_before_the_call() {
    let sb = Sandbox::new();
    for (name, rule, message) in bad_names() {
        let name_w = w(&name);
        for disposition in [
            LogOptions::new(),
            LogOptions::new().create_if_missing(),
            LogOptions::new().create_new(),
        ] {
            let err = LogFile::create(&name_w, disposition).unwrap_err();
            assert_eq!(err, Error::InvalidLogName(rule), "{name}");
            assert_eq!(err.to_string(), message, "{name}");
            assert_eq!(err.ntstatus(), NtStatus::OBJECT_NAME_INVALID, "{name}");
            assert!(err.refused_before_call(), "{name}");
        }
        assert_eq!(
            LogFile::delete_named(&name_w).unwrap_err(),
            Error::InvalidLogName(rule),
            "{name}"
        );
        assert_eq!(
            LogFile::delete_named_with(&name_w, &LogOptions::new()).unwrap_err(),
            Error::InvalidLogName(rule),
            "{name}"
        );
    }
    let stats = sb.stats();
    assert_eq!(stats.calls("ClfsCreateLogFile"), 0, "Clfs.sys never called");
    assert_eq!(stats.calls("ClfsDeleteLogFile"), 0, "Clfs.sys never called");
    assert_eq!(stats.clfs_calls(), 0, "no CLFS routine called at all");
    assert!(
        std::fs::read_dir(sb.root())
            .map(|mut d| d.next().is_none())
            .unwrap_or(true),
        "nothing was created on disk"
    );
    assert_no_leaks(&sb);
}

/// The longest allowed stream name and the allowed characters pass the check; the name
/// reaches Clfs.sys (counted), whatever it then answers.
#[test]
fn good_names_reach_the_call() {
    let sb = Sandbox::new();
    let longest = format!("log:C:\\t\\mux-ok::{}", "s".repeat(64));
    for name in [
        longest.as_str(),
        "LOG:C:\\t\\mux-ok::.hidden stream-1_\u{e9}",
        "Log:C:\\t\\mux-ok::",
    ] {
        let calls = sb.stats().calls("ClfsCreateLogFile");
        if let Err(err) = LogFile::create(&w(name), LogOptions::new().create_if_missing()) {
            assert!(
                !matches!(err, Error::InvalidLogName(_)),
                "{name} refused: {err}"
            );
        }
        assert_eq!(sb.stats().calls("ClfsCreateLogFile"), calls + 1, "{name}");
    }
    assert_no_leaks(&sb);
}

/// A `LogFile` knows what its name opened; one taken over with `from_raw` does not.
#[test]
fn a_dedicated_log_knows_its_kind() {
    let sb = Sandbox::new();
    let log = LogFile::create(
        &w("log:C:\\t\\kind-dedicated"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    assert_eq!(log.kind(), Some(LogKind::Dedicated));
    assert_eq!(log.access(), Some(clfs::Access::READ | clfs::Access::WRITE));
    // SAFETY: the object from `into_raw` goes straight back to a new owner.
    let log = unsafe { LogFile::from_raw(log.into_raw()) };
    assert_eq!((log.kind(), log.access()), (None, None));
    log.close().unwrap();
    assert_no_leaks(&sb);
}

/// A `UNICODE_STRING` over `name` (which must outlive its use).
fn unicode(name: &[u16]) -> clfs::sys::UNICODE_STRING {
    let bytes = (name.len() * 2) as u16;
    clfs::sys::UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes,
        Buffer: name.as_ptr().cast_mut(),
    }
}

/// `ClfsCreateLogFile` through the raw seam: read/write access, shared, `FILE_OPEN_IF`.
fn raw_create(name: &[u16], access: u32) -> (i32, *mut clfs::sys::FILE_OBJECT) {
    let us = unicode(name);
    let mut out = core::ptr::null_mut();
    // SAFETY: a valid out pointer and name; no security descriptor, no context.
    let st = unsafe {
        clfs::sys::ClfsCreateLogFile(
            &mut out,
            &us,
            access,
            7,
            core::ptr::null_mut(),
            3,
            0,
            0x80,
            0,
            core::ptr::null(),
            0,
        )
    };
    (st, out)
}

/// The same bad names through the raw seam get the status the emulator documents for them,
/// `STATUS_OBJECT_NAME_INVALID`, from `ClfsCreateLogFile` and `ClfsDeleteLogFile`.
#[test]
fn bad_names_through_the_raw_seam() {
    let sb = Sandbox::new();
    for (name, _, _) in bad_names() {
        let name = w(&name);
        let (st, out) = raw_create(&name, 0xC000_0000);
        assert_eq!(
            st,
            status::STATUS_OBJECT_NAME_INVALID,
            "{:?}",
            String::from_utf16_lossy(&name)
        );
        assert!(out.is_null());
        let us = unicode(&name);
        // SAFETY: a valid name; no reserved pointer, no context.
        let st = unsafe {
            clfs::sys::ClfsDeleteLogFile(&us, core::ptr::null(), 0, core::ptr::null(), 0)
        };
        assert_eq!(
            st,
            status::STATUS_OBJECT_NAME_INVALID,
            "{:?}",
            String::from_utf16_lossy(&name)
        );
    }
    assert_no_leaks(&sb);
}

/// A multiplexed log with its physical log and containers (1 MiB each).
fn physical(name: &str) -> LogFile {
    let log = LogFile::create(
        &w(&format!("log:C:\\t\\{name}::")),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    assert_eq!(log.kind(), Some(LogKind::Physical));
    let size = log
        .add_containers(
            &[
                &w(&format!("%BLF%\\{name}-0")),
                &w(&format!("%BLF%\\{name}-1")),
            ],
            1,
        )
        .unwrap();
    assert_eq!(size, 1024 * 1024, "multiplexed containers round to 1 MiB");
    log
}

fn stream(log: &str, stream: &str, options: LogOptions<'_>) -> LogFile {
    LogFile::create(&w(&format!("log:C:\\t\\{log}::{stream}")), options).unwrap()
}

/// `MarshallingArea::create`/`create_ex` refuse the physical log before any call; the raw
/// routine and an object without a known kind get Clfs.sys's `STATUS_LOG_MULTIPLEXED`.
#[test]
fn a_physical_log_takes_no_marshalling_area() {
    let sb = Sandbox::new();
    {
        let log = physical("phys-area");
        let calls = sb.stats().clfs_calls();
        let err = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
            .unwrap_err();
        assert_eq!(
            err,
            Error::PhysicalLog {
                routine: "ClfsCreateMarshallingArea"
            }
        );
        assert_eq!(
            err.to_string(),
            "ClfsCreateMarshallingArea cannot be used on the physical log of a multiplexed log (log:<path>::), which holds no records: open one of its streams (log:<path>::<stream>)"
        );
        assert_eq!(err.ntstatus(), NtStatus::LOG_MULTIPLEXED);
        let err = MarshallingArea::<ClfsAllocator>::create_ex(
            &log,
            MarshallingConfig::new(4096),
            0,
            MarshallingFlags::empty(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::PhysicalLog {
                routine: "ClfsCreateMarshallingAreaEx"
            }
        );
        let stats = sb.stats();
        assert_eq!(
            stats.clfs_calls(),
            calls,
            "no CLFS routine called, not even a query"
        );
        assert_eq!(stats.calls("ClfsCreateMarshallingArea"), 0);
        assert_eq!(stats.calls("ClfsCreateMarshallingAreaEx"), 0);

        // The raw routine on the same object.
        let mut raw = core::ptr::null_mut();
        // SAFETY: an open log object, no callbacks, a valid out pointer.
        let st = unsafe {
            clfs::sys::ClfsCreateMarshallingArea(
                log.as_raw(),
                clfs::sys::NonPagedPoolNx,
                None,
                None,
                4096,
                1,
                1,
                &mut raw,
            )
        };
        assert_eq!(st, status::STATUS_LOG_MULTIPLEXED);
        assert!(raw.is_null());

        // Without the name, the library cannot tell: Clfs.sys answers.
        // SAFETY: the object from `into_raw` goes straight to a new owner.
        let log = unsafe { LogFile::from_raw(log.into_raw()) };
        let err = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
            .unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::LOG_MULTIPLEXED));
        // A stream of the same log takes one.
        let s = stream("phys-area", "s", LogOptions::new().create_if_missing());
        assert_eq!(s.kind(), Some(LogKind::Stream));
        let area =
            MarshallingArea::<ClfsAllocator>::create(&s, MarshallingConfig::new(4096)).unwrap();
        area.append(&[b"x"]).unwrap();
    }
    assert_no_leaks(&sb);
}

/// A dedicated log is never opened as a multiplexed one, nor the reverse.
#[test]
fn dedicated_and_multiplexed_do_not_mix() {
    let sb = Sandbox::new();
    {
        let _dedicated = LogFile::create(
            &w("log:C:\\t\\mix-d"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap();
        let err = LogFile::create(
            &w("log:C:\\t\\mix-d::s"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::LOG_DEDICATED));
        let _s = stream("mix-m", "s", LogOptions::new().create_if_missing());
        let err = LogFile::create(
            &w("log:C:\\t\\mix-m"),
            LogOptions::new().create_if_missing(),
        )
        .unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::LOG_MULTIPLEXED));
    }
    assert_no_leaks(&sb);
}

/// `close_and_reset` refuses the physical log and an object without write access before the
/// call, and closes the object all the same; the raw routine answers the documented statuses
/// and leaves the object open.
#[test]
fn close_and_reset_preconditions() {
    let sb = Sandbox::new();
    {
        let phys = physical("reset-pre");
        let _writer = stream("reset-pre", "s", LogOptions::new().create_if_missing());
        let reader = stream(
            "reset-pre",
            "s",
            LogOptions::new()
                .access(Access::READ)
                .share(Share::READ | Share::WRITE),
        );
        let closes = sb.stats().calls("ClfsCloseLogFileObject");

        let err = phys.close_and_reset().unwrap_err();
        assert_eq!(
            err,
            Error::PhysicalLog {
                routine: "ClfsCloseAndResetLogFile"
            }
        );
        assert_eq!(err.ntstatus(), NtStatus::LOG_MULTIPLEXED);
        let err = reader.close_and_reset().unwrap_err();
        assert_eq!(
            err,
            Error::NeedsWriteAccess {
                routine: "ClfsCloseAndResetLogFile",
                granted: 0x8000_0000
            }
        );
        assert_eq!(
            err.to_string(),
            "ClfsCloseAndResetLogFile needs GENERIC_WRITE (Access::WRITE), but the log file object was opened with access mask 0x80000000"
        );
        assert_eq!(err.ntstatus(), NtStatus::ACCESS_DENIED);
        assert!(err.refused_before_call());
        let stats = sb.stats();
        assert_eq!(
            stats.calls("ClfsCloseAndResetLogFile"),
            0,
            "Clfs.sys never called"
        );
        assert_eq!(
            stats.calls("ClfsCloseLogFileObject"),
            closes + 2,
            "both objects closed anyway"
        );

        // The raw routine: the same refusals, and the object stays open.
        let (st, phys) = raw_create(&w("log:C:\\t\\reset-pre::"), 0xC000_0000);
        assert_eq!(st, status::STATUS_SUCCESS);
        // SAFETY: an open log object, which the refusal leaves open.
        let st = unsafe { clfs::sys::ClfsCloseAndResetLogFile(phys) };
        assert_eq!(st, status::STATUS_LOG_MULTIPLEXED);
        let (st, reader) = raw_create(&w("log:C:\\t\\reset-pre::s"), 0x8000_0000);
        assert_eq!(st, status::STATUS_SUCCESS);
        // SAFETY: an open log object, which the refusal leaves open.
        let st = unsafe { clfs::sys::ClfsCloseAndResetLogFile(reader) };
        assert_eq!(st, status::STATUS_ACCESS_DENIED);
        // Still open: a plain close succeeds.
        // SAFETY: the object is open and closed once, here.
        let st = unsafe { clfs::sys::ClfsCloseLogFileObject(phys) };
        assert_eq!(st, status::STATUS_SUCCESS);
        // Through `from_raw` the library cannot check: Clfs.sys refuses, and the object is
        // closed by `close_and_reset` all the same.
        // SAFETY: the open object moves into the LogFile, which closes it once.
        let reader = unsafe { LogFile::from_raw(core::ptr::NonNull::new(reader).unwrap()) };
        let err = reader.close_and_reset().unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::ACCESS_DENIED));
    }
    assert_no_leaks(&sb);
}

/// Appends `n` records `"<tag> <i>"` to `log` through a new area, flushes, writes a restart
/// area `"<tag> restart"`; returns the LSNs.
fn fill(log: &LogFile, tag: &str, n: usize) -> Vec<clfs::Lsn> {
    let area = MarshallingArea::<ClfsAllocator>::create(log, MarshallingConfig::new(4096)).unwrap();
    let lsns = (0..n)
        .map(|i| area.append(&[format!("{tag} {i}").as_bytes()]).unwrap())
        .collect();
    area.flush().unwrap();
    area.write_restart(format!("{tag} restart").as_bytes())
        .unwrap();
    lsns
}

/// Everything a forward read from `from` returns, as strings.
fn read_all(log: &LogFile, from: clfs::Lsn) -> Result<Vec<String>, Error> {
    let area = MarshallingArea::<ClfsAllocator>::create(log, MarshallingConfig::new(4096))?;
    let mut cx = area.read(from, ReadMode::Forward)?;
    let mut out = Vec::new();
    while let Some(r) = cx.next()? {
        out.push(String::from_utf8_lossy(r.data).into_owned());
    }
    Ok(out)
}

/// A reset takes effect at the stream's last close, empties that stream only, and reuses no
/// LSN; the other stream keeps its records and its restart area.
#[test]
fn close_and_reset_resets_one_stream_at_its_last_close() {
    let sb = Sandbox::new();
    {
        let _phys = physical("reset");
        let share = Share::READ | Share::WRITE;
        let a = stream(
            "reset",
            "a",
            LogOptions::new().create_if_missing().share(share),
        );
        let b = stream(
            "reset",
            "b",
            LogOptions::new().create_if_missing().share(share),
        );
        let a_lsns = fill(&a, "a", 20);
        let b_lsns = fill(&b, "b", 20);
        let a_old_last = *a_lsns.last().unwrap();

        // A second object of stream `a`: the reset waits for it.
        let a2 = stream("reset", "a", LogOptions::new().share(share));
        a.close_and_reset().unwrap();
        assert_eq!(sb.stats().calls("ClfsCloseAndResetLogFile"), 1);
        assert_eq!(
            read_all(&a2, a_lsns[0]).unwrap().len(),
            20,
            "not reset while a2 is open"
        );
        a2.close().unwrap();

        let a = stream("reset", "a", LogOptions::new().share(share));
        let info = a.info().unwrap();
        assert_eq!(info.restart, None, "the restart area is gone");
        assert!(
            info.base > a_old_last,
            "the base moved past the old records: {info:?}"
        );
        let area =
            MarshallingArea::<ClfsAllocator>::create(&a, MarshallingConfig::new(4096)).unwrap();
        assert!(area.read_restart().unwrap().is_none());
        let gone = area.read(a_lsns[0], ReadMode::Forward).unwrap_err();
        assert!(
            matches!(gone, Error::LsnNotInLog { .. }),
            "old records are not readable: {gone}"
        );
        // The raw routine: the documented status for an LSN before the reset stream's base.
        let mut cx = core::ptr::null_mut();
        let mut buf = core::ptr::null_mut();
        let mut len = 0u32;
        let mut kind = 0u8;
        let mut undo = Lsn::INVALID.raw();
        let mut prev = Lsn::INVALID.raw();
        let mut first = a_lsns[0].raw();
        // SAFETY: a live marshalling context and valid in/out pointers (a CLFS_LSN is a u64);
        // the read fails, so no context is returned to terminate.
        let st = unsafe {
            clfs::sys::ClfsReadLogRecord(
                area.as_raw(),
                (&mut first as *mut u64).cast(),
                clfs::sys::ClfsContextForward,
                &mut buf,
                &mut len,
                &mut kind,
                (&mut undo as *mut u64).cast(),
                (&mut prev as *mut u64).cast(),
                &mut cx,
            )
        };
        assert_eq!(st, status::STATUS_LOG_START_OF_LOG);
        assert!(cx.is_null());
        let fresh = area.append(&[b"a fresh"]).unwrap();
        assert!(fresh > a_old_last, "no LSN of the stream is reused");
        area.flush().unwrap();
        drop(area);
        assert_eq!(read_all(&a, fresh).unwrap(), ["a fresh"]);

        // Stream `b` is untouched.
        let expected: Vec<String> = (0..20).map(|i| format!("b {i}")).collect();
        assert_eq!(read_all(&b, b_lsns[0]).unwrap(), expected);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&b, MarshallingConfig::new(4096)).unwrap();
        let restart = area.read_restart().unwrap().unwrap();
        assert_eq!(restart.current().unwrap().data, b"b restart");
    }
    assert_no_leaks(&sb);
}

/// A dedicated log resets too.
#[test]
fn close_and_reset_on_a_dedicated_log() {
    let sb = Sandbox::new();
    {
        let log = common::log_with("reset-dedicated", 2);
        let lsns = fill(&log, "d", 5);
        log.close_and_reset().unwrap();
        let log = LogFile::create(&w("log:C:\\t\\reset-dedicated"), LogOptions::new()).unwrap();
        let info = log.info().unwrap();
        assert_eq!(info.restart, None);
        assert!(info.base > *lsns.last().unwrap());
    }
    assert_no_leaks(&sb);
}

/// Deleting a stream by name deletes that stream, not the log or its other streams.
#[test]
fn deleting_a_stream_keeps_the_others() {
    let sb = Sandbox::new();
    {
        let phys = physical("del");
        let a = stream("del", "a", LogOptions::new().create_if_missing());
        let b = stream("del", "b", LogOptions::new().create_if_missing());
        fill(&a, "a", 3);
        let b_lsns = fill(&b, "b", 3);
        drop(a);
        LogFile::delete_named(&w("log:C:\\t\\del::a")).unwrap();
        let err = LogFile::create(&w("log:C:\\t\\del::a"), LogOptions::new()).unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
        assert_eq!(read_all(&b, b_lsns[0]).unwrap(), ["b 0", "b 1", "b 2"]);
        assert_eq!(phys.physical_info().unwrap().clients, 1, "one stream left");
        drop(b);
        // Deleting the physical log deletes the log with its streams.
        drop(phys);
        let phys = LogFile::create(
            &w("log:C:\\t\\del::"),
            LogOptions::new().access(Access::READ | Access::WRITE | Access::DELETE),
        )
        .unwrap();
        phys.delete().unwrap();
        let err = LogFile::create(&w("log:C:\\t\\del::b"), LogOptions::new()).unwrap_err();
        assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
        assert!(
            !sb.root().join("C/t/del.blf").exists(),
            "the base file is gone"
        );
    }
    assert_no_leaks(&sb);
}

/// What a `LogFile` remembers (kind, access) costs one word: it stays two words.
#[test]
fn a_log_file_stays_small() {
    assert_eq!(
        core::mem::size_of::<LogFile>(),
        2 * core::mem::size_of::<usize>()
    );
    assert_eq!(
        core::mem::size_of::<Option<LogFile>>(),
        core::mem::size_of::<LogFile>()
    );
}

/// The physical log is for containers, queries and scans: what it may do works, and a stream
/// of it tells itself apart by kind and id.
#[test]
fn the_physical_log_manages_containers_queries_and_scans() {
    let sb = Sandbox::new();
    {
        let phys = physical("phys-ok");
        let a = stream("phys-ok", "a", LogOptions::new().create_if_missing());
        let share = Share::READ | Share::WRITE;
        let b = stream(
            "phys-ok",
            "B",
            LogOptions::new().create_if_missing().share(share),
        );
        assert_eq!(phys.stream_id().unwrap(), 0);
        assert_eq!((a.stream_id().unwrap(), b.stream_id().unwrap()), (1, 2));
        // Stream names compare case-insensitively: "b" is the stream "B".
        let b2 = stream("phys-ok", "b", LogOptions::new().share(share));
        assert_eq!(b2.stream_id().unwrap(), 2);
        let info = phys.physical_info().unwrap();
        assert_eq!((info.containers, info.container_size), (2, 1024 * 1024));
        assert_eq!(info.clients, 2, "two streams");
        phys.add_container(&w("%BLF%\\phys-ok-2"), 1).unwrap();
        let mut cx = clfs::ScanContext::new();
        let scanned = phys.containers(&mut cx).unwrap().count();
        assert_eq!(scanned, 3);
        let mut buf = [0u16; 64];
        let name = String::from_utf16_lossy(phys.physical_name(&mut buf).unwrap());
        assert!(name.ends_with("phys-ok.blf"), "{name}");
    }
    assert_no_leaks(&sb);
}
