//! `LogFile`: create and open, containers, info, close and delete, against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{wide, Access, Error, LogFile, LogOptions, NtStatus, Share};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, w};

#[test]
fn dispositions_follow_nt_semantics() {
    let sb = Sandbox::new();
    let name = w("log:C:\\t\\disp");
    let err = LogFile::create(&name, LogOptions::new()).unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
    assert_eq!(
        err.to_string(),
        "ClfsCreateLogFile failed with STATUS_OBJECT_NAME_NOT_FOUND (0xC0000034): The object name is not found."
    );
    let log = LogFile::create(&name, LogOptions::new().create_new()).expect("create new");
    log.close().expect("close");
    assert_eq!(
        LogFile::create(&name, LogOptions::new().create_new())
            .unwrap_err()
            .status(),
        Some(NtStatus::OBJECT_NAME_COLLISION)
    );
    LogFile::create(&name, LogOptions::new())
        .expect("open existing")
        .close()
        .expect("close");
    assert!(
        sb.root().join("C/t/disp.blf").is_file(),
        "the base log file is a real file"
    );
    assert_no_leaks(&sb);
}

#[test]
fn names_are_checked() {
    let sb = Sandbox::new();
    assert_eq!(
        LogFile::create(&[], LogOptions::new()).unwrap_err(),
        Error::EmptyName { what: "log name" }
    );
    let long = vec![b'a' as u16; 40_000];
    assert_eq!(
        LogFile::create(&long, LogOptions::new()).unwrap_err(),
        Error::NameTooLong {
            what: "log name",
            len: 40_000
        }
    );
    // A name without the `log:` prefix or without a path is refused before the call
    // (tests/streams.rs has every name rule); a path the file system rejects reaches it.
    for bad in ["C:\\no-prefix", "log:"] {
        let err = LogFile::create(&w(bad), LogOptions::new().create_if_missing()).unwrap_err();
        assert!(matches!(err, Error::InvalidLogName(_)), "{bad}: {err}");
        assert_eq!(err.ntstatus(), NtStatus::OBJECT_NAME_INVALID, "{bad}");
    }
    let err = LogFile::create(
        &w("log:C:\\t\\..\\escape"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_INVALID));
    // A stream name opens (and here creates) a stream of a multiplexed log.
    let stream = LogFile::create(
        &w("log:C:\\t\\mux::stream"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    assert_eq!(stream.stream_id().unwrap(), 1);
    stream.close().unwrap();
    assert_no_leaks(&sb);
}

#[test]
fn containers_round_up_and_reopen_finds_them() {
    let sb = Sandbox::new();
    let name = w("log:C:\\t\\cont");
    let log = LogFile::create(&name, LogOptions::new().create_if_missing()).expect("create");
    assert_eq!(
        log.add_container(wide!("%BLF%\\c0"), 1).expect("add"),
        512 * 1024
    );
    // Later containers get the existing size, and the size comes back.
    assert_eq!(
        log.add_container(wide!("%BLF%\\c1"), 100).expect("add"),
        512 * 1024
    );
    log.add_container_of_existing_size(wide!("%BLF%\\c2"))
        .expect("add");
    assert_eq!(
        log.add_containers(&[wide!("%BLF%\\c3"), wide!("%BLF%\\c4")], 512 * 1024)
            .expect("set"),
        512 * 1024
    );
    let dup = log
        .add_container(wide!("%BLF%\\c0"), 512 * 1024)
        .unwrap_err();
    assert_eq!(dup.status(), Some(NtStatus::OBJECT_NAME_COLLISION));
    // All or nothing: one bad path and none of the set is added.
    let err = log
        .add_containers(&[wide!("%BLF%\\c5"), wide!("%BLF%\\c0")], 512 * 1024)
        .unwrap_err();
    assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_COLLISION));
    let info = log.info().expect("info");
    assert_eq!(info.containers, 5);
    assert_eq!(info.container_size, 512 * 1024);
    assert_eq!(info.total_available, 5 * 512 * 1024);
    assert_eq!(info.sector_size, 512);
    assert_eq!(info.restart, None);
    let c0 = sb.root().join("C/t/c0");
    assert_eq!(
        std::fs::metadata(&c0).expect("container file").len(),
        512 * 1024,
        "preallocated"
    );
    log.remove_container(wide!("%BLF%\\c4"), true)
        .expect("remove inactive");
    log.remove_containers(&[wide!("%BLF%\\c3"), wide!("%BLF%\\c2")], true)
        .expect("remove set");
    assert_eq!(
        log.remove_container(wide!("%BLF%\\nope"), true)
            .unwrap_err()
            .status(),
        Some(NtStatus::OBJECT_NAME_NOT_FOUND)
    );
    let identity = info.identity;
    log.close().expect("close");
    let log = LogFile::create(&name, LogOptions::new()).expect("reopen");
    let info = log.info().expect("info");
    assert_eq!(info.containers, 2, "reopening finds the containers");
    assert_eq!(info.identity, identity, "the log keeps its identity");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn container_operations_need_write_access() {
    let sb = Sandbox::new();
    let name = w("log:C:\\t\\ro");
    LogFile::create(&name, LogOptions::new().create_new())
        .expect("create")
        .close()
        .expect("close");
    let ro = LogFile::create(
        &name,
        LogOptions::new()
            .access(Access::READ)
            .share(Share::READ | Share::WRITE),
    )
    .expect("open read-only");
    assert_eq!(
        ro.add_container(wide!("%BLF%\\c0"), 512 * 1024)
            .unwrap_err()
            .status(),
        Some(NtStatus::ACCESS_DENIED)
    );
    drop(ro);
    assert_no_leaks(&sb);
}

#[test]
fn delete_by_pointer_and_by_name() {
    let sb = Sandbox::new();
    let name = w("log:C:\\t\\del");
    let log = LogFile::create(
        &name,
        LogOptions::new()
            .create_new()
            .access(Access::READ | Access::WRITE | Access::DELETE)
            .share(Share::READ | Share::DELETE),
    )
    .expect("create");
    log.add_container(wide!("%BLF%\\del-c0"), 512 * 1024)
        .expect("add");
    log.delete().expect("delete by pointer");
    assert!(
        !sb.root().join("C/t/del.blf").exists(),
        "deleted once its last object closed"
    );
    assert!(
        !sb.root().join("C/t/del-c0").exists(),
        "containers go with it"
    );
    LogFile::create(&name, LogOptions::new().create_new())
        .expect("create again")
        .close()
        .expect("close");
    let open = LogFile::create(
        &name,
        LogOptions::new().share(Share::READ | Share::WRITE | Share::DELETE),
    )
    .expect("open");
    LogFile::delete_named(&name).expect("mark for deletion");
    assert_eq!(
        LogFile::create(&name, LogOptions::new())
            .unwrap_err()
            .status(),
        Some(NtStatus::DELETE_PENDING)
    );
    open.close().expect("close");
    assert!(!sb.root().join("C/t/del.blf").exists());
    assert_no_leaks(&sb);
}
