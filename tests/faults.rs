//! Fault injection: every injection point of the ledger scenario, each once, in turn.
//!
//! For each point the emulator fails that one call (or block allocation, or the container
//! writes) and the test checks that the typed error surfaces, that nothing leaks (log
//! objects, areas, read contexts, blocks, reservations), and that no flushed record is lost:
//! the log, reopened without faults, still holds every record that was flushed before the
//! failure, byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

#[path = "../examples/ledger/scenario.rs"]
mod scenario;

use clfs::NtStatus;
use clfs_emu::{faults, Sandbox};

const TRANSFERS: u64 = 150;
const RESTART_EVERY: u64 = 50;
/// The status every injected call fault returns.
const INJECTED: NtStatus = NtStatus::LOG_CONTAINER_WRITE_FAILED;

/// Routines whose failure the library can only report from `Drop`, or that release an object:
/// a release that fails in Clfs.sys leaves the object alive by definition. They are walked
/// too, but only the durability check applies to them.
const RELEASES: [&str; 3] = [
    "ClfsTerminateReadLog",
    "ClfsDeleteMarshallingArea",
    "ClfsCloseLogFileObject",
];

/// Runs the scenario in a fresh sandbox with `arm` applied after the log is created.
/// Returns the sandbox's final leak list, whether the run failed with the injected status,
/// and the number of records known durable.
fn run_with(arm: &dyn Fn()) -> (Sandbox, Result<scenario::Summary, Box<scenario::Failure>>) {
    let sb = Sandbox::new();
    arm();
    let result = match scenario::create_log() {
        Ok(log) => scenario::write(log, TRANSFERS, RESTART_EVERY, &mut |_| {}),
        Err(e) => Err(Box::new(scenario::Failure {
            error: e.to_string(),
            clfs: Some(e),
            summary: scenario::Summary::default(),
        })),
    };
    faults::clear();
    (sb, result)
}

fn check_point(
    name: &str,
    sb: &Sandbox,
    result: &Result<scenario::Summary, Box<scenario::Failure>>,
    expect_error: Option<NtStatus>,
) {
    let leaks = sb.stats().leaks();
    assert!(
        leaks.is_empty(),
        "{name}: leaks after the failure: {leaks:?}"
    );
    let durable = match result {
        Ok(s) => s.durable_records,
        Err(f) => {
            if let Some(status) = expect_error {
                assert_eq!(
                    f.clfs.as_ref().and_then(|e| e.status()),
                    Some(status),
                    "{name}: the injected status surfaces: {}",
                    f.error
                );
            }
            f.summary.durable_records
        }
    };
    // Reopen without faults: every flushed record is still there, byte for byte.
    let read = scenario::verify(durable, true, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        read >= durable,
        "{name}: {read} records survive, {durable} were flushed"
    );
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "{name}: leaks after verifying: {leaks:?}");
}

#[test]
fn every_fault_point_of_the_ledger_scenario() {
    // A clean run counts the calls per routine and the block allocations.
    let (sb, clean) = run_with(&|| {});
    let clean = clean.map_err(|f| f.error).expect("the clean run succeeds");
    let stats = sb.stats();
    let allocations: u64 = stats.blocks.values().map(|o| o.count).sum::<u64>(); // outstanding now: 0
    assert_eq!(allocations, 0);
    drop(sb);
    let before = scenario::ALLOCATED.load(std::sync::atomic::Ordering::SeqCst);
    let (sb2, _) = run_with(&|| {});
    let allocs = scenario::ALLOCATED.load(std::sync::atomic::Ordering::SeqCst) - before;
    let calls: Vec<(&'static str, u64)> = sb2
        .stats()
        .calls
        .iter()
        .filter(|(name, _)| name.starts_with("Clfs") && !name.starts_with("ClfsLsn"))
        .map(|(name, n)| (*name, *n))
        .collect();
    drop(sb2);
    assert!(clean.records == TRANSFERS * 3);

    let mut points = 0u64;
    for (routine, n) in &calls {
        for nth in 1..=*n {
            let (sb, result) = run_with(&|| faults::fail_call(routine, nth, INJECTED.0));
            let name = format!("{routine} call {nth}/{n}");
            if RELEASES.contains(routine) {
                // The object stays alive in Clfs.sys; only durability is checked. Let the
                // sandbox's own teardown (a crash) release it.
                let durable = match &result {
                    Ok(s) => s.durable_records,
                    Err(f) => f.summary.durable_records,
                };
                sb.crash();
                let read =
                    scenario::verify(durable, true, None).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(read >= durable, "{name}");
            } else {
                assert!(result.is_err(), "{name}: the failure must surface");
                check_point(&name, &sb, &result, Some(INJECTED));
            }
            points += 1;
        }
    }
    for nth in 1..=allocs {
        let (sb, result) = run_with(&|| faults::fail_alloc(nth));
        let name = format!("block allocation {nth}/{allocs}");
        assert!(result.is_err(), "{name}: the failure must surface");
        check_point(&name, &sb, &result, Some(NtStatus::INSUFFICIENT_RESOURCES));
        points += 1;
    }
    {
        let (sb, result) = run_with(&|| faults::fail_container_writes(true));
        assert!(
            result.is_err(),
            "container writes: the failure must surface"
        );
        check_point(
            "container writes",
            &sb,
            &result,
            Some(NtStatus::LOG_CONTAINER_WRITE_FAILED),
        );
        points += 1;
    }
    println!(
        "fault points walked: {points} ({} routines, {allocs} block allocations, container writes)",
        calls.len()
    );
    assert!(
        points > 100,
        "the scenario has many injection points, walked {points}"
    );
}
