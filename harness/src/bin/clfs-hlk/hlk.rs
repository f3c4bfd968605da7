//! The tests and the runner of `clfs-hlk` (see the binary's docs).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clfs::{ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig, ReadMode};
use clfs_emu::{faults, Sandbox, Stats, DISPATCH_LEVEL};
use clfs_harness::ntos::{self, clear_faults, fail_pool_allocation, pool_allocations};
use clfs_harness::{run_on_driver_stack, Driver};

/// What the sample driver (samples/clfs-sample-driver/src/logic.rs) writes; the HLK checks
/// are written for that driver.
mod sample {
    /// The service name the harness loads the image as.
    pub const SERVICE: &str = "ClfsSample";
    /// `log:\SystemRoot\Logs\ClfsSample\sample`.
    pub const LOG_NAME: &str = "log:\\SystemRoot\\Logs\\ClfsSample\\sample";
    /// Where the emulator keeps that log under a sandbox root.
    pub const BLF: &str = "SystemRoot/Logs/ClfsSample/sample.blf";
    /// The start-up record appended on every load.
    pub const STARTUP_RECORD: [u8; 16] = *b"SMPLSTRT\x01\0\0\0\0\0\0\0";
    /// The restart area's magic; the start-up record's LSN follows (u64, little-endian).
    pub const RESTART_MAGIC: [u8; 8] = *b"SMPLRSTA";
    /// The pool tag of the marshalling area's blocks.
    pub const POOL_TAG: u32 = u32::from_le_bytes(*b"Smpl");
}

/// The status injected into CLFS calls by the fault sweep (`STATUS_IO_DEVICE_ERROR`).
const FAULT_STATUS: i32 = 0xC000_0185_u32 as i32;
/// What a failed allocation turns into (`STATUS_INSUFFICIENT_RESOURCES`).
const STATUS_INSUFFICIENT_RESOURCES: i32 = 0xC000_009A_u32 as i32;

/// `Ok(note)` or `Err(why)`.
type Outcome = Result<String, String>;

/// A test: runs on the image's bytes.
type Test = fn(&[u8]) -> Outcome;

/// The tests, in report order.
const TESTS: [(&str, Test); 4] = [
    ("load_unload", load_unload),
    ("load_unload_100", load_unload_100),
    ("fault_sweep", fault_sweep),
    ("irql_discipline", irql_discipline),
];

fn usage() -> ExitCode {
    eprintln!(
        "usage: clfs-hlk <image.sys> [--verbose] [--in-process] [--only NAME]\n\
         tests: {}",
        TESTS.map(|(n, _)| n).join(", ")
    );
    ExitCode::from(2)
}

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return match (args.get(1), args.get(2)) {
            (Some(name), Some(path)) => child(name, Path::new(path)),
            _ => usage(),
        };
    }
    let mut image = None;
    let mut verbose = false;
    let mut in_process = false;
    let mut only = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--verbose" | "-v" => verbose = true,
            "--in-process" => in_process = true,
            "--only" => only = it.next(),
            "--help" | "-h" => return usage(),
            _ if image.is_none() && !a.starts_with('-') => image = Some(PathBuf::from(a)),
            _ => return usage(),
        }
    }
    let Some(image) = image else {
        return usage();
    };
    if let Err(e) = std::fs::read(&image) {
        eprintln!("clfs-hlk: cannot read {}: {e}", image.display());
        return ExitCode::from(2);
    }
    let (mut passed, mut failed) = (0u32, 0u32);
    for (name, test) in TESTS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let verdict = if in_process {
            run_test(name, test, &image)
        } else {
            run_child(name, &image, verbose)
        };
        match verdict {
            Ok(note) => {
                passed += 1;
                println!("PASS {name}");
                if !note.is_empty() {
                    eprintln!("    {name}: {note}");
                }
            }
            Err(why) => {
                failed += 1;
                println!("FAIL {name}: {why}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one test in this process, on an 8 MiB driver thread.
fn run_test(name: &str, test: Test, image: &Path) -> Outcome {
    let bytes =
        std::fs::read(image).map_err(|e| format!("cannot read {}: {e}", image.display()))?;
    let name = name.to_string();
    run_on_driver_stack(move || test(&bytes))
        .unwrap_or_else(|| Err(format!("the {name} thread panicked")))
}

/// The child side: run one test, print its verdict line, exit 0 on PASS.
fn child(name: &str, image: &Path) -> ExitCode {
    let Some((_, test)) = TESTS.iter().find(|(n, _)| *n == name) else {
        println!("FAIL {name}: no such test");
        return ExitCode::FAILURE;
    };
    match run_test(name, *test, image) {
        Ok(note) => {
            println!("PASS {name}");
            println!("NOTE {note}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!("FAIL {name}: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The parent side: run one test in a child process and turn its output into a verdict.
fn run_child(name: &str, image: &Path, verbose: bool) -> Outcome {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find clfs-hlk itself: {e}"))?;
    let out = Command::new(exe)
        .arg("--child")
        .arg(name)
        .arg(image)
        .output()
        .map_err(|e| format!("cannot start the test process: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if verbose {
        for line in stderr.lines() {
            eprintln!("    | {line}");
        }
    }
    let note = stdout
        .lines()
        .find_map(|l| l.strip_prefix("NOTE "))
        .unwrap_or_default()
        .to_string();
    if let Some(why) = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("FAIL {name}: ")))
    {
        return Err(why.to_string());
    }
    if out.status.success() && stdout.lines().any(|l| l == format!("PASS {name}")) {
        return Ok(note);
    }
    // No verdict: the process died (a bugcheck aborts it, a crash kills it).
    let how = {
        use std::os::unix::process::ExitStatusExt;
        match out.status.signal() {
            Some(6) => "aborted (SIGABRT)".to_string(),
            Some(11) => "crashed (SIGSEGV)".to_string(),
            Some(s) => format!("killed by signal {s}"),
            None => format!("exited with {}", out.status),
        }
    };
    let last = stderr
        .lines()
        .rev()
        .find(|l| l.contains("*** STOP"))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output");
    Err(format!("the test process {how} without a verdict: {last}"))
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn nt(status: i32) -> String {
    format!("{:#010x}", status as u32)
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// A fresh emulator sandbox for this thread, with the driver's NT namespace (`IoCreateFile`)
/// mapped into the same directory.
fn sandbox() -> Result<Sandbox, String> {
    let sandbox = Sandbox::new();
    ntos::set_file_root(Some(sandbox.root()))
        .map_err(|e| format!("cannot prepare {}: {e}", sandbox.root().display()))?;
    Ok(sandbox)
}

fn load(bytes: &[u8]) -> Result<Driver, String> {
    Driver::load(bytes, sample::SERVICE).map_err(|e| format!("the loader refused the image: {e}"))
}

/// Calls DriverEntry.
fn enter(driver: &mut Driver) -> i32 {
    // SAFETY: the image under test is the sample driver, run on a driver thread.
    unsafe { driver.driver_entry() }
}

/// Calls the unload routine.
fn unload(driver: &mut Driver) -> Result<(), String> {
    // SAFETY: as in `enter`.
    unsafe { driver.unload() }.map_err(|e| format!("unload: {e}"))
}

/// Zero leaks in the emulator's accounts and in pool by tag.
fn no_leaks(stats: &Stats, when: &str) -> Result<(), String> {
    let mut leaks = stats.leaks();
    for (tag, o) in &stats.pool {
        if o.count != 0 || o.bytes != 0 {
            let s = format!(
                "pool tag {tag:#010x}: {} allocation(s), {} bytes",
                o.count, o.bytes
            );
            if !leaks.contains(&s) {
                leaks.push(s);
            }
        }
    }
    for (tag, o) in clfs_harness::verifier::pool::outstanding() {
        leaks.push(format!(
            "pool tag {}: {} block(s), {} bytes not freed",
            clfs_harness::verifier::tag_name(tag),
            o.count,
            o.bytes
        ));
    }
    for h in ntos::open_handles() {
        leaks.push(format!("kernel handle to {} not closed", h.display()));
    }
    if leaks.is_empty() {
        Ok(())
    } else {
        Err(format!("leaks {when}: {}", leaks.join("; ")))
    }
}

/// The log's data records (oldest first) and restart areas (newest first).
#[derive(Debug, Default, PartialEq, Eq)]
struct Contents {
    records: Vec<(u64, Vec<u8>)>,
    restarts: Vec<(u64, Vec<u8>)>,
}

/// Reads the sample's log back through the `clfs` crate (on the emulator). A log that does
/// not exist, or has fewer than two containers, holds no records.
fn read_log(sandbox: &Sandbox, restarts: bool) -> Result<Contents, String> {
    let mut c = Contents::default();
    if !sandbox.root().join(sample::BLF).is_file() {
        return Ok(c);
    }
    let e = |what: &str| {
        let what = what.to_string();
        move |err: clfs::Error| format!("reading the log back: {what}: {err}")
    };
    let name = wide(sample::LOG_NAME);
    let log = LogFile::create(&name, LogOptions::new()).map_err(e("open"))?;
    let info = log.info().map_err(e("query"))?;
    if info.containers < 2 {
        log.close().map_err(e("close"))?;
        return Ok(c);
    }
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024))
        .map_err(e("marshalling area"))?;
    if restarts {
        if let Some(mut r) = area.read_restart().map_err(e("ClfsReadRestartArea"))? {
            if let Some(latest) = r.current() {
                c.restarts.push((latest.lsn.raw(), latest.data.to_vec()));
            }
            while let Some(older) = r.previous().map_err(e("ClfsReadPreviousRestartArea"))? {
                c.restarts.push((older.lsn.raw(), older.data.to_vec()));
                if c.restarts.len() > 10_000 {
                    return Err("the restart chain does not end".into());
                }
            }
        }
    }
    if info.last.valid().is_some_and(|l| !l.is_null()) {
        let mut cx = area
            .read(info.base, ReadMode::Forward)
            .map_err(e("ClfsReadLogRecord"))?;
        while let Some(rec) = cx.next().map_err(e("ClfsReadNextLogRecord"))? {
            c.records.push((rec.lsn.raw(), rec.data.to_vec()));
        }
    }
    area.delete().map_err(e("delete the area"))?;
    log.close().map_err(e("close"))?;
    Ok(c)
}

/// Checks one restart area: the magic, then the LSN of `startup`.
fn check_restart(restart: &[u8], startup: u64) -> Result<(), String> {
    let mut want = sample::RESTART_MAGIC.to_vec();
    want.extend_from_slice(&startup.to_le_bytes());
    if restart == want {
        Ok(())
    } else {
        Err(format!(
            "restart area {restart:02x?} is not SMPLRSTA + the start-up record's LSN {startup:#x}"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The tests

/// DriverEntry succeeds, the log holds the start-up record, unload leaves no leaks.
fn load_unload(bytes: &[u8]) -> Outcome {
    let sandbox = sandbox()?;
    let mut driver = load(bytes)?;
    let status = enter(&mut driver);
    if status != 0 {
        return Err(format!(
            "DriverEntry returned {}, expected STATUS_SUCCESS",
            nt(status)
        ));
    }
    let running = sandbox.stats();
    if running.open_logs != 1 || running.live_areas != 1 {
        return Err(format!(
            "while loaded: {} open log(s) and {} marshalling area(s), expected 1 and 1",
            running.open_logs, running.live_areas
        ));
    }
    if driver.unload_routine().is_none() {
        return Err("DriverEntry succeeded but set no DriverUnload routine".into());
    }
    unload(&mut driver)?;
    let stats = sandbox.stats();
    no_leaks(&stats, "after unload")?;
    let tags = clfs_harness::verifier::pool::tags_seen();
    if !tags.contains_key(&sample::POOL_TAG) {
        return Err(format!(
            "no ExAllocatePool2 with tag 'Smpl' was seen; pool tags used: {:x?}",
            tags.keys().collect::<Vec<_>>()
        ));
    }
    drop(driver);
    let contents = read_log(&sandbox, true)?;
    let [(startup, data)] = contents.records.as_slice() else {
        return Err(format!(
            "the log holds {} data record(s), expected exactly the start-up record",
            contents.records.len()
        ));
    };
    if data.as_slice() != sample::STARTUP_RECORD {
        return Err(format!("the start-up record is {data:02x?}"));
    }
    let [(restart_lsn, restart)] = contents.restarts.as_slice() else {
        return Err(format!(
            "the log holds {} restart area(s), expected 1",
            contents.restarts.len()
        ));
    };
    check_restart(restart, *startup)?;
    no_leaks(&sandbox.stats(), "after reading the log back")?;
    Ok(format!(
        "start-up record at LSN {startup:#x}, restart area at LSN {restart_lsn:#x}, {} CLFS calls",
        stats.clfs_calls()
    ))
}

/// 100 loads and unloads of the same log: one more start-up record each time, and a
/// restart chain of 100 areas, each naming its session's start-up record.
fn load_unload_100(bytes: &[u8]) -> Outcome {
    const N: usize = 100;
    let sandbox = sandbox()?;
    let mut previous: Vec<(u64, Vec<u8>)> = Vec::new();
    for i in 1..=N {
        let mut driver = load(bytes)?;
        let status = enter(&mut driver);
        if status != 0 {
            return Err(format!("load #{i}: DriverEntry returned {}", nt(status)));
        }
        unload(&mut driver).map_err(|e| format!("load #{i}: {e}"))?;
        drop(driver);
        no_leaks(&sandbox.stats(), &format!("after unload #{i}"))?;
        let contents = read_log(&sandbox, i == N)?;
        if contents.records.len() != i {
            return Err(format!(
                "after load #{i} the log holds {} data records, expected {i}",
                contents.records.len()
            ));
        }
        if contents.records.get(..i - 1) != Some(previous.as_slice()) {
            return Err(format!("load #{i} changed the records of earlier sessions"));
        }
        if contents
            .records
            .iter()
            .any(|(_, d)| d.as_slice() != sample::STARTUP_RECORD)
        {
            return Err(format!(
                "after load #{i} a record is not the start-up record"
            ));
        }
        if i == N {
            if contents.restarts.len() != N {
                return Err(format!(
                    "{} restart areas reachable through ClfsReadRestartArea + ClfsReadPreviousRestartArea, expected {N}",
                    contents.restarts.len()
                ));
            }
            // Newest first: restart k belongs to session N - k.
            for (k, (lsn, restart)) in contents.restarts.iter().enumerate() {
                let session = N - 1 - k;
                let startup = contents.records.get(session).map_or(0, |r| r.0);
                check_restart(restart, startup)
                    .map_err(|e| format!("restart area #{k} (LSN {lsn:#x}): {e}"))?;
            }
        }
        previous = contents.records;
    }
    no_leaks(&sandbox.stats(), "at the end")?;
    Ok(format!(
        "{N} sessions: {N} start-up records, {N} restart areas chained"
    ))
}

/// One fault point.
#[derive(Clone, Debug)]
enum Fault {
    /// The nth call of a CLFS routine returns [`FAULT_STATUS`].
    Call(&'static str, u64),
    /// The nth `ExAllocatePool2` returns NULL.
    Pool(u64),
    /// The nth log I/O block allocation fails in the emulator.
    Block(u64),
    /// The nth call of an ntoskrnl routine (`IoCreateFile`) returns [`FAULT_STATUS`].
    Kernel(&'static str, u64),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Call(r, n) => write!(f, "call #{n} of {r}"),
            Fault::Pool(n) => write!(f, "ExAllocatePool2 #{n}"),
            Fault::Block(n) => write!(f, "log block allocation #{n}"),
            Fault::Kernel(r, n) => write!(f, "call #{n} of {r}"),
        }
    }
}

/// The state of the log before the driver loads.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// No log yet: DriverEntry creates it and adds the containers.
    Fresh,
    /// A log from one earlier session.
    Existing,
}

fn prepare(bytes: &[u8], scenario: Scenario) -> Result<(), String> {
    if let Scenario::Existing = scenario {
        let mut driver = load(bytes)?;
        let status = enter(&mut driver);
        if status != 0 {
            return Err(format!(
                "preparing an existing log: DriverEntry returned {}",
                nt(status)
            ));
        }
        unload(&mut driver)?;
    }
    Ok(())
}

/// The fault points of one DriverEntry in `scenario`, counted in a clean run.
fn fault_points(bytes: &[u8], scenario: Scenario) -> Result<Vec<Fault>, String> {
    let sandbox = sandbox()?;
    prepare(bytes, scenario)?;
    let before = sandbox.stats();
    let mut driver = load(bytes)?;
    let pool_before = pool_allocations();
    let io_before = ntos::calls("IoCreateFile");
    let status = enter(&mut driver);
    let pool = pool_allocations().saturating_sub(pool_before);
    let io = ntos::calls("IoCreateFile").saturating_sub(io_before);
    let after = sandbox.stats();
    if status != 0 {
        return Err(format!("clean run: DriverEntry returned {}", nt(status)));
    }
    let blocks: u64 = after.blocks.values().map(|o| o.count).sum::<u64>()
        - before.blocks.values().map(|o| o.count).sum::<u64>();
    unload(&mut driver)?;
    let mut points: Vec<Fault> = (1..=io).map(|k| Fault::Kernel("IoCreateFile", k)).collect();
    for (routine, n) in &after.calls {
        if !routine.starts_with("Clfs") || routine.starts_with("ClfsLsn") {
            continue;
        }
        let made = n.saturating_sub(before.calls(routine));
        points.extend((1..=made).map(|k| Fault::Call(routine, k)));
    }
    points.extend((1..=pool).map(Fault::Pool));
    points.extend((1..=blocks).map(Fault::Block));
    Ok(points)
}

/// Each fault point of DriverEntry in turn: the failing status comes back, nothing leaks,
/// and the log holds no partial record.
fn fault_sweep(bytes: &[u8]) -> Outcome {
    let mut total = 0usize;
    let mut summary = Vec::new();
    for scenario in [Scenario::Fresh, Scenario::Existing] {
        let points = fault_points(bytes, scenario)?;
        if points.is_empty() {
            return Err(format!(
                "{scenario:?} log: DriverEntry made no CLFS call or allocation"
            ));
        }
        for point in &points {
            let sandbox = sandbox()?;
            prepare(bytes, scenario)?;
            let baseline = read_log(&sandbox, true)?;
            let mut driver = load(bytes)?;
            let expected = match point {
                Fault::Call(routine, n) => {
                    faults::fail_call(routine, *n, FAULT_STATUS);
                    FAULT_STATUS
                }
                Fault::Pool(n) => {
                    fail_pool_allocation(*n);
                    STATUS_INSUFFICIENT_RESOURCES
                }
                Fault::Block(n) => {
                    faults::fail_alloc(*n);
                    STATUS_INSUFFICIENT_RESOURCES
                }
                Fault::Kernel(routine, n) => {
                    ntos::fail_call(routine, *n, FAULT_STATUS);
                    FAULT_STATUS
                }
            };
            let status = enter(&mut driver);
            faults::clear();
            clear_faults();
            let at = format!("{scenario:?} log, {point}");
            if status != expected {
                if status >= 0 {
                    let _ = unload(&mut driver);
                }
                return Err(format!(
                    "{at}: DriverEntry returned {}, expected the failing status {}",
                    nt(status),
                    nt(expected)
                ));
            }
            no_leaks(&sandbox.stats(), &format!("after {at}"))?;
            drop(driver);
            let contents = read_log(&sandbox, true)?;
            if contents != baseline {
                return Err(format!(
                    "{at}: the log changed: {} data record(s) and {} restart area(s), expected {} and {}",
                    contents.records.len(),
                    contents.restarts.len(),
                    baseline.records.len(),
                    baseline.restarts.len()
                ));
            }
            no_leaks(
                &sandbox.stats(),
                &format!("after reading the log back ({at})"),
            )?;
        }
        total += points.len();
        summary.push(format!(
            "{scenario:?} log: {} ({})",
            points.len(),
            points
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(format!(
        "{total} fault points exercised; {}",
        summary.join("; ")
    ))
}

/// At DISPATCH_LEVEL, DriverEntry refuses through the driver's typed error path and never
/// reaches a CLFS routine (the emulator would bugcheck this process if it did).
fn irql_discipline(bytes: &[u8]) -> Outcome {
    let sandbox = sandbox()?;
    let mut driver = load(bytes)?;
    let before = sandbox.stats().clfs_calls();
    let status = {
        let _irql = clfs_emu::raise_irql(DISPATCH_LEVEL);
        enter(&mut driver)
    };
    if clfs_emu::current_irql() != clfs_emu::PASSIVE_LEVEL {
        return Err("the simulated IRQL was not restored".into());
    }
    let after = sandbox.stats().clfs_calls();
    if status >= 0 {
        let _ = unload(&mut driver);
        return Err(format!(
            "DriverEntry at DISPATCH_LEVEL returned {}, expected a failure",
            nt(status)
        ));
    }
    if after != before {
        return Err(format!(
            "{} CLFS call(s) were made at DISPATCH_LEVEL",
            after - before
        ));
    }
    no_leaks(&sandbox.stats(), "after the refused DriverEntry")?;
    drop(driver);
    let refused = status;
    // The same image still starts at PASSIVE_LEVEL.
    let mut driver = load(bytes)?;
    let status = enter(&mut driver);
    if status != 0 {
        return Err(format!(
            "DriverEntry at PASSIVE_LEVEL afterwards returned {}",
            nt(status)
        ));
    }
    unload(&mut driver)?;
    no_leaks(&sandbox.stats(), "after the PASSIVE_LEVEL run")?;
    Ok(format!(
        "DriverEntry at DISPATCH_LEVEL returned {} with no CLFS call",
        nt(refused)
    ))
}
