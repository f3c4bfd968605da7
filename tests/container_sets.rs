//! Container sets (`ClfsAddLogContainerSet` / `ClfsRemoveLogContainerSet`): runtime-built
//! lists, one atomic call up to the CLFS limit, the pool-backed array and its accounting, and
//! the refusals that happen before any allocation or call (issue 11 item 1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::log::{CONTAINER_SET_TAG, MAX_CONTAINERS_PER_SET, STACK_CONTAINER_SET};
use clfs::{Error, LogFile, LogOptions, NtStatus};
use clfs_emu::{faults, Sandbox};
use common::{assert_no_leaks, w};

/// `n` container paths `%BLF%\<stem><i>`, built at run time.
fn names(stem: &str, n: usize) -> Vec<Vec<u16>> {
    (0..n).map(|i| w(&format!("%BLF%\\{stem}{i}"))).collect()
}

fn slices(names: &[Vec<u16>]) -> Vec<&[u16]> {
    names.iter().map(Vec::as_slice).collect()
}

fn new_log(name: &str) -> LogFile {
    LogFile::create(
        &w(&format!("log:C:\\sets\\{name}")),
        LogOptions::new().create_if_missing(),
    )
    .expect("create log")
}

/// Calls of `routine` so far in the sandbox.
fn calls(sb: &Sandbox, routine: &str) -> u64 {
    sb.stats().calls(routine)
}

#[test]
fn a_runtime_list_larger_than_the_stack_array_is_one_call_from_pool() {
    let sb = Sandbox::new();
    let log = new_log("runtime");
    let n = STACK_CONTAINER_SET + 12;
    let names = names("c", n);
    let (adds, pools) = (
        calls(&sb, "ClfsAddLogContainerSet"),
        calls(&sb, "ExAllocatePool2"),
    );
    assert_eq!(
        log.add_containers(&slices(&names), 1).expect("add set"),
        512 * 1024
    );
    assert_eq!(
        calls(&sb, "ClfsAddLogContainerSet") - adds,
        1,
        "one atomic call"
    );
    assert_eq!(calls(&sb, "ExAllocatePool2") - pools, 1, "one pool array");
    assert_eq!(
        sb.stats()
            .pool
            .get(&CONTAINER_SET_TAG)
            .map_or(0, |o| o.count),
        0,
        "the array is freed before the call returns"
    );
    assert_eq!(log.info().expect("info").containers, n as u32);
    // Remove all but two, in one call, from the same kind of runtime list.
    let removes = calls(&sb, "ClfsRemoveLogContainerSet");
    log.remove_containers(&slices(&names[2..]), true)
        .expect("remove set");
    assert_eq!(calls(&sb, "ClfsRemoveLogContainerSet") - removes, 1);
    assert_eq!(log.info().expect("info").containers, 2);
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn a_small_set_uses_no_pool() {
    let sb = Sandbox::new();
    let log = new_log("small");
    let names = names("s", STACK_CONTAINER_SET);
    let pools = calls(&sb, "ExAllocatePool2");
    log.add_containers(&slices(&names), 512 * 1024)
        .expect("add set");
    assert_eq!(calls(&sb, "ExAllocatePool2"), pools, "stack array, no pool");
    assert_eq!(
        log.info().expect("info").containers,
        STACK_CONTAINER_SET as u32
    );
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn a_set_at_the_clfs_limit_reaches_clfs_in_one_call_and_frees_its_array() {
    let sb = Sandbox::new();
    let log = new_log("limit");
    log.add_container(&w("%BLF%\\base"), 512 * 1024)
        .expect("add");
    // 1024 containers that do not exist: CLFS sees the whole set in one call and refuses it.
    let names = names("missing", MAX_CONTAINERS_PER_SET);
    let (removes, pools) = (
        calls(&sb, "ClfsRemoveLogContainerSet"),
        calls(&sb, "ExAllocatePool2"),
    );
    let err = log
        .remove_containers(&slices(&names), true)
        .expect_err("none of them exists");
    assert_eq!(err.status(), Some(NtStatus::OBJECT_NAME_NOT_FOUND));
    assert_eq!(calls(&sb, "ClfsRemoveLogContainerSet") - removes, 1);
    assert_eq!(calls(&sb, "ExAllocatePool2") - pools, 1);
    assert_eq!(log.info().expect("info").containers, 1, "nothing removed");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn more_than_the_limit_is_refused_before_any_allocation_or_call() {
    let sb = Sandbox::new();
    let log = new_log("over");
    let names = names("o", MAX_CONTAINERS_PER_SET + 1);
    let before = sb.stats().calls;
    let err = log.add_containers(&slices(&names), 512 * 1024).unwrap_err();
    assert_eq!(
        err,
        Error::TooManyContainers {
            count: 1025,
            max: 1024
        }
    );
    assert_eq!(
        err.to_string(),
        "1025 containers in one set; CLFS takes at most 1024 per call"
    );
    let err = log.remove_containers(&slices(&names), false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1025 containers in one set; CLFS takes at most 1024 per call"
    );
    assert!(err.refused_before_call());
    let empty = log.add_containers(&[], 512 * 1024).unwrap_err();
    assert_eq!(empty, Error::NoContainers);
    assert_eq!(empty.ntstatus(), NtStatus::INVALID_PARAMETER);
    assert_eq!(
        empty.to_string(),
        "a container set needs at least one path, got none"
    );
    assert_eq!(
        log.remove_containers(&[], true).unwrap_err(),
        Error::NoContainers
    );
    assert_eq!(
        sb.stats().calls,
        before,
        "no Clfs call and no pool allocation at all"
    );
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn a_bad_path_in_a_large_set_is_refused_before_the_pool_allocation() {
    let sb = Sandbox::new();
    let log = new_log("badpath");
    let mut names = names("b", 40);
    names[33].clear();
    let before = sb.stats().calls;
    let err = log.add_containers(&slices(&names), 512 * 1024).unwrap_err();
    assert_eq!(
        err,
        Error::EmptyName {
            what: "container path"
        }
    );
    assert_eq!(sb.stats().calls, before, "no allocation, no call");
    log.close().expect("close");
    assert_no_leaks(&sb);
}

#[test]
fn a_failed_pool_allocation_is_a_typed_error_and_calls_nothing() {
    let sb = Sandbox::new();
    let log = new_log("nopool");
    let names = names("p", 40);
    let adds = calls(&sb, "ClfsAddLogContainerSet");
    faults::fail_call("ExAllocatePool2", 1, 0);
    let err = log.add_containers(&slices(&names), 512 * 1024).unwrap_err();
    assert_eq!(
        err,
        Error::PoolExhausted {
            what: "the container set's UNICODE_STRING array",
            bytes: 40 * 16
        }
    );
    assert_eq!(
        err.to_string(),
        "could not allocate 640 bytes of pool for the container set's UNICODE_STRING array"
    );
    assert_eq!(err.ntstatus(), NtStatus::INSUFFICIENT_RESOURCES);
    assert_eq!(
        calls(&sb, "ClfsAddLogContainerSet"),
        adds,
        "CLFS never called"
    );
    assert_eq!(log.info().expect("info").containers, 0);
    // The next allocation works again and the set goes in whole.
    log.add_containers(&slices(&names), 512 * 1024)
        .expect("add set");
    assert_eq!(log.info().expect("info").containers, 40);
    log.close().expect("close");
    assert_no_leaks(&sb);
}
