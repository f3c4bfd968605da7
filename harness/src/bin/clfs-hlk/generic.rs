//! The generic suite: checks that hold for any driver built with `clfs`, with the driver's
//! own expectations behind [`Expectations`].

use std::path::{Path, PathBuf};

use clfs::{ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig, ReadMode};
use clfs_emu::{faults, Sandbox, Stats};
use clfs_harness::ntos::{self, clear_faults, fail_pool_allocation, pool_allocations};
use clfs_harness::verifier::{self, lowres};
use clfs_harness::Driver;

/// The status injected into CLFS calls by the fault sweep (`STATUS_IO_DEVICE_ERROR`).
pub const FAULT_STATUS: i32 = 0xC000_0185_u32 as i32;
/// What a failed allocation turns into (`STATUS_INSUFFICIENT_RESOURCES`).
pub const STATUS_INSUFFICIENT_RESOURCES: i32 = 0xC000_009A_u32 as i32;

/// `Ok(note)` or `Err(why)`.
pub type Outcome = Result<String, String>;

/// What the suite knows about the driver under test (from the command line).
#[derive(Clone, Debug)]
pub struct Config {
    /// The service name the image is loaded as.
    pub service: String,
    /// The registry path `DriverEntry` gets (default: the service's key).
    pub registry_path: Option<String>,
    /// Load/unload cycles of `load_unload_cycles`.
    pub cycles: usize,
    /// Seed of the low-resources simulation.
    pub seed: u64,
    /// Failure probability (percent) of the low-resources simulation.
    pub percent: u32,
    /// Load/unload cycles of `low_resources`.
    pub lowres_cycles: usize,
    /// The device to open (`\Device\Name`), for the device tests.
    pub device: Option<String>,
    /// IOCTL codes for the path exerciser.
    pub ioctls: Vec<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service: "Driver".into(),
            registry_path: None,
            cycles: 100,
            seed: 1,
            percent: 10,
            lowres_cycles: 50,
            device: None,
            ioctls: Vec::new(),
        }
    }
}

/// The records and restart areas of every log under a sandbox, read back through `clfs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logs {
    /// Per log (`log:` name, oldest record first).
    pub logs: Vec<LogContents>,
}

/// One log's contents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogContents {
    /// Its `log:` name.
    pub name: String,
    /// Data records: LSN and bytes, oldest first.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Restart areas: LSN and bytes, newest first (only when read with restarts).
    pub restarts: Vec<(u64, Vec<u8>)>,
}

impl Logs {
    /// The log named `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<&LogContents> {
        self.logs.iter().find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// Total data records.
    pub fn records(&self) -> usize {
        self.logs.iter().map(|l| l.records.len()).sum()
    }

    /// Checks that every record of `earlier` is still in `self`, in order, at the start of
    /// its log (flushed data is never lost).
    pub fn keeps(&self, earlier: &Logs) -> Result<(), String> {
        for old in &earlier.logs {
            let Some(new) = self.get(&old.name) else {
                return Err(format!("the log {} disappeared", old.name));
            };
            if new.records.get(..old.records.len()) != Some(old.records.as_slice()) {
                return Err(format!(
                    "{}: the {} record(s) flushed earlier are not all still there ({} now)",
                    old.name,
                    old.records.len(),
                    new.records.len()
                ));
            }
        }
        Ok(())
    }
}

/// One fault point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The nth call of a CLFS routine returns [`FAULT_STATUS`].
    Call(&'static str, u64),
    /// The nth pool allocation returns NULL.
    Pool(u64),
    /// The nth log I/O block allocation fails in the emulator.
    Block(u64),
    /// The nth call of an ntoskrnl routine ([`KERNEL_FAULTS`]) returns [`FAULT_STATUS`].
    Kernel(&'static str, u64),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Call(r, n) | Fault::Kernel(r, n) => write!(f, "call #{n} of {r}"),
            Fault::Pool(n) => write!(f, "pool allocation #{n}"),
            Fault::Block(n) => write!(f, "log block allocation #{n}"),
        }
    }
}

impl Fault {
    /// Arms the fault on this thread; returns the status the failing call reports.
    fn arm(&self) -> i32 {
        match self {
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
        }
    }
}

/// Where a fault point lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// In `DriverEntry`.
    Entry,
    /// In the device traffic of `--device` / `--ioctl` (open, each IOCTL, close).
    Io,
    /// In the unload routine.
    Unload,
}

/// The state of the driver's logs before it loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// No log yet.
    Fresh,
    /// Logs from one earlier session.
    Existing,
}

/// The driver-specific expectations the generic tests consult. Every method has a default
/// that accepts what any correct driver may do.
pub trait Expectations {
    /// While loaded, after `DriverEntry` succeeded.
    fn loaded(&self, _stats: &Stats) -> Result<(), String> {
        Ok(())
    }
    /// After session `session` (1-based) of a test's run ended with a clean unload; `logs`
    /// are read with restart areas when `restarts`.
    fn after_session(&self, _session: usize, _logs: &Logs, _restarts: bool) -> Result<(), String> {
        Ok(())
    }
    /// Pool tags the driver must have used after a load/unload.
    fn pool_tags(&self) -> &[u32] {
        &[]
    }
    /// The status `DriverEntry` must return when `fault` fires in it (`None`: any failure
    /// status, or success).
    fn entry_status(&self, _fault: &Fault, injected: i32) -> Option<i32> {
        let _ = injected;
        None
    }
    /// After `DriverEntry` failed: the logs compared with before the load.
    fn after_failed_entry(&self, _before: &Logs, _after: &Logs) -> Result<(), String> {
        Ok(())
    }
    /// After a power loss while loaded: the logs before the crashed session and after it.
    fn after_crash(&self, _before: &Logs, _after: &Logs) -> Result<(), String> {
        Ok(())
    }
}

/// A driver with no expectations beyond the generic ones.
pub struct Generic;

impl Expectations for Generic {}

/// What every test gets.
pub struct Ctx<'a> {
    pub bytes: &'a [u8],
    pub config: &'a Config,
    pub expect: &'a dyn Expectations,
}

// ---------------------------------------------------------------------------------------------
// Helpers

pub fn nt(status: i32) -> String {
    format!("{:#010x}", status as u32)
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// A fresh emulator sandbox for this thread, with the driver's NT namespace mapped into it.
pub fn sandbox() -> Result<Sandbox, String> {
    let sandbox = Sandbox::new();
    ntos::set_file_root(Some(sandbox.root()))
        .map_err(|e| format!("cannot prepare {}: {e}", sandbox.root().display()))?;
    Ok(sandbox)
}

impl Ctx<'_> {
    /// Loads the image as the configured service.
    pub fn load(&self) -> Result<Driver, String> {
        let r = match &self.config.registry_path {
            Some(path) => Driver::load_with_registry_path(self.bytes, &self.config.service, path),
            None => Driver::load(self.bytes, &self.config.service),
        };
        r.map_err(|e| format!("the loader refused the image: {e}"))
    }

    /// Loads and starts the driver; fails unless `DriverEntry` succeeds.
    pub fn start(&self, what: &str) -> Result<Driver, String> {
        let mut driver = self.load()?;
        let status = enter(&mut driver);
        if status < 0 {
            return Err(format!("{what}: DriverEntry returned {}", nt(status)));
        }
        if driver.unload_routine().is_none() {
            return Err(format!(
                "{what}: DriverEntry succeeded but set no DriverUnload routine"
            ));
        }
        Ok(driver)
    }
}

/// Calls DriverEntry.
pub fn enter(driver: &mut Driver) -> i32 {
    // SAFETY: the image under test, run on a driver thread (clfs-hlk's purpose).
    unsafe { driver.driver_entry() }
}

/// Calls the unload routine; the driver must leave no device, symbolic link or object handle
/// behind.
pub fn unload(driver: &mut Driver) -> Result<(), String> {
    // SAFETY: as in `enter`.
    unsafe { driver.unload() }.map_err(|e| format!("unload: {e}"))?;
    let left = driver.io_leaks();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("after unload: {}", left.join("; ")))
    }
}

/// After a failed `DriverEntry` (the kernel unloads the image): the driver must leave no
/// device, symbolic link or object handle behind, or they would outlive its code.
pub fn failed_entry_leaves_nothing(driver: &Driver, status: i32) -> Result<(), String> {
    let left = driver.io_leaks();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "DriverEntry failed with {}, but left its objects behind (the image is unloaded, they would point into it): {}",
            nt(status),
            left.join("; ")
        ))
    }
}

/// Zero leaks: the emulator's accounts, pool by tag, kernel handles.
pub fn no_leaks(stats: &Stats, when: &str) -> Result<(), String> {
    let mut leaks = stats.leaks();
    for (tag, o) in verifier::pool::outstanding() {
        leaks.push(format!(
            "pool tag {}: {} block(s), {} bytes not freed",
            verifier::tag_name(tag),
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

/// Every base log file under `dir`.
fn blfs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            blfs(&p, out);
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("blf")) {
            out.push(p);
        }
    }
}

/// Reads every log in the sandbox back through the `clfs` crate (on the emulator): a log
/// with fewer than two containers holds no records. Any error reading is "the log is not
/// readable".
pub fn read_logs(sandbox: &Sandbox, restarts: bool) -> Result<Logs, String> {
    let mut files = Vec::new();
    blfs(sandbox.root(), &mut files);
    let mut logs = Logs::default();
    for f in files {
        let Ok(rel) = f
            .with_extension("")
            .strip_prefix(sandbox.root())
            .map(Path::to_path_buf)
        else {
            continue;
        };
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let name = format!("log:\\{}", parts.join("\\"));
        logs.logs.push(read_log(&name, restarts)?);
    }
    Ok(logs)
}

fn read_log(name: &str, restarts: bool) -> Result<LogContents, String> {
    let mut c = LogContents {
        name: name.to_string(),
        ..LogContents::default()
    };
    let e = |what: &str| {
        let what = format!("{name}: {what}");
        move |err: clfs::Error| format!("the log is not readable: {what}: {err}")
    };
    let log = LogFile::create(&wide(name), LogOptions::new()).map_err(e("open"))?;
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
                if c.restarts.len() > 100_000 {
                    return Err(format!("{name}: the restart chain does not end"));
                }
            }
        }
    }
    // The first record's LSN is 0:0x0:0 (= CLFS_LSN_NULL), so `info.last` cannot tell an
    // empty log from a one-record log: read from the base, and take "no such record" as empty.
    match area.read(info.base, ReadMode::Forward) {
        Ok(mut cx) => {
            while let Some(rec) = cx.next().map_err(e("ClfsReadNextLogRecord"))? {
                c.records.push((rec.lsn.raw(), rec.data.to_vec()));
                if c.records.len() > 10_000_000 {
                    return Err(format!("{name}: the record chain does not end"));
                }
            }
        }
        Err(err) if err.status() == Some(clfs::NtStatus::LOG_RECORD_NONEXISTENT) => {}
        Err(err) => return Err(e("ClfsReadLogRecord")(err)),
    }
    area.delete().map_err(e("delete the area"))?;
    log.close().map_err(e("close"))?;
    Ok(c)
}

/// Ends a session cleanly: unload, leak check, logs readable.
fn end_session(
    ctx: &Ctx<'_>,
    sandbox: &Sandbox,
    mut driver: Driver,
    what: &str,
    restarts: bool,
) -> Result<Logs, String> {
    unload(&mut driver).map_err(|e| format!("{what}: {e}"))?;
    drop(driver);
    no_leaks(&sandbox.stats(), &format!("after {what}"))?;
    let logs = read_logs(sandbox, restarts)?;
    no_leaks(
        &sandbox.stats(),
        &format!("after reading the logs back ({what})"),
    )?;
    let _ = ctx;
    Ok(logs)
}

// ---------------------------------------------------------------------------------------------
// The tests

/// DriverEntry succeeds and sets DriverUnload; unload leaves no leak; the logs read back.
pub fn load_unload(ctx: &Ctx<'_>) -> Outcome {
    let sandbox = sandbox()?;
    let driver = ctx.start("load")?;
    let running = sandbox.stats();
    ctx.expect.loaded(&running)?;
    let logs = end_session(ctx, &sandbox, driver, "unload", true)?;
    for tag in ctx.expect.pool_tags() {
        if !verifier::pool::tags_seen().contains_key(tag) {
            return Err(format!(
                "no pool allocation with tag {} was seen; tags used: {:x?}",
                verifier::tag_name(*tag),
                verifier::pool::tags_seen().keys().collect::<Vec<_>>()
            ));
        }
    }
    ctx.expect.after_session(1, &logs, true)?;
    Ok(format!(
        "{} CLFS calls; {} log(s), {} record(s) after unload",
        running.clfs_calls(),
        logs.logs.len(),
        logs.records()
    ))
}

/// Every account after one session, listed (pool by tag and size, handles, CLFS objects).
pub fn leaks(ctx: &Ctx<'_>) -> Outcome {
    let sandbox = sandbox()?;
    let driver = ctx.start("load")?;
    let id = driver.id();
    let held = verifier::pool::leaks_of(id);
    let held: Vec<String> = held
        .iter()
        .map(|(t, o)| format!("{} {}x/{}B", verifier::tag_name(*t), o.count, o.bytes))
        .collect();
    let mut driver = driver;
    unload(&mut driver)?;
    drop(driver);
    no_leaks(&sandbox.stats(), "after unload")?;
    Ok(format!(
        "while loaded the driver held pool {}; after unload: no CLFS object, log I/O block, reservation, pool block or kernel handle left",
        if held.is_empty() { "(none)".to_string() } else { held.join(", ") }
    ))
}

/// N load/unload cycles on the same logs: no leak after any, flushed records kept.
pub fn load_unload_cycles(ctx: &Ctx<'_>) -> Outcome {
    let n = ctx.config.cycles.max(1);
    let sandbox = sandbox()?;
    let mut previous = Logs::default();
    for i in 1..=n {
        let what = format!("cycle #{i}");
        let driver = ctx.start(&what)?;
        let logs = end_session(ctx, &sandbox, driver, &what, i == n)?;
        logs.keeps(&previous).map_err(|e| format!("{what}: {e}"))?;
        ctx.expect
            .after_session(i, &logs, i == n)
            .map_err(|e| format!("{what}: {e}"))?;
        previous = logs;
    }
    Ok(format!(
        "{n} cycles; {} record(s) in {} log(s) at the end",
        previous.records(),
        previous.logs.len()
    ))
}

fn prepare(ctx: &Ctx<'_>, sandbox: &Sandbox, scenario: Scenario) -> Result<Logs, String> {
    if scenario == Scenario::Existing {
        let driver = ctx.start("preparing an existing log")?;
        end_session(ctx, sandbox, driver, "preparing an existing log", true)?;
    }
    read_logs(sandbox, true)
}

/// The NTSTATUS-returning `ntoskrnl.exe` routines whose failure a driver must handle, swept
/// like the CLFS calls: the directory, the device, its security, its link.
const KERNEL_FAULTS: [&str; 5] = [
    "IoCreateFile",
    "IoCreateDevice",
    "ObOpenObjectByPointer",
    "ZwSetSecurityObject",
    "IoCreateSymbolicLink",
];

/// Counts the fault points of one clean session: DriverEntry's and the unload routine's.
fn fault_points(ctx: &Ctx<'_>, scenario: Scenario) -> Result<Vec<(Phase, Fault)>, String> {
    let sandbox = sandbox()?;
    prepare(ctx, &sandbox, scenario)?;
    let mut points = Vec::new();
    let mut slot = Some(ctx.load()?);
    let mut count = |phase: Phase, run: &mut dyn FnMut() -> Result<(), String>| {
        let before = sandbox.stats();
        let pool0 = pool_allocations();
        let io0: Vec<u64> = KERNEL_FAULTS.iter().map(|r| ntos::calls(r)).collect();
        run()?;
        let after = sandbox.stats();
        let pool = pool_allocations().saturating_sub(pool0);
        let blocks = after
            .blocks
            .values()
            .map(|o| o.count)
            .sum::<u64>()
            .saturating_sub(before.blocks.values().map(|o| o.count).sum::<u64>());
        for (routine, n0) in KERNEL_FAULTS.iter().zip(&io0) {
            let made = ntos::calls(routine).saturating_sub(*n0);
            points.extend((1..=made).map(|k| (phase, Fault::Kernel(routine, k))));
        }
        for (routine, n) in &after.calls {
            if !routine.starts_with("Clfs")
                || routine.starts_with("ClfsLsn")
                || lowres::RELEASES.contains(routine)
            {
                continue;
            }
            let made = n.saturating_sub(before.calls(routine));
            points.extend((1..=made).map(|k| (phase, Fault::Call(routine, k))));
        }
        points.extend((1..=pool).map(|k| (phase, Fault::Pool(k))));
        points.extend((1..=blocks).map(|k| (phase, Fault::Block(k))));
        Ok::<(), String>(())
    };
    count(Phase::Entry, &mut || {
        let driver = slot.as_mut().ok_or("no driver")?;
        let status = enter(driver);
        if status < 0 {
            return Err(format!("clean run: DriverEntry returned {}", nt(status)));
        }
        Ok(())
    })?;
    if ctx.config.device.is_some() {
        count(Phase::Io, &mut || {
            let driver = slot.take().ok_or("no driver")?;
            let (driver, sent) = device_traffic(ctx, driver);
            slot = Some(driver);
            sent.map(|_| ())
        })?;
    }
    count(Phase::Unload, &mut || {
        unload(slot.as_mut().ok_or("no driver")?)
    })?;
    Ok(points)
}

/// Each fault point of DriverEntry and of the unload routine in turn, for a fresh log and an
/// existing one: nothing leaks, the logs stay readable (and whatever the driver's
/// expectations add: the exact status, an unchanged log).
pub fn fault_sweep(ctx: &Ctx<'_>) -> Outcome {
    let mut summary = Vec::new();
    let mut total = 0;
    for scenario in [Scenario::Fresh, Scenario::Existing] {
        let points = fault_points(ctx, scenario)?;
        for (phase, point) in &points {
            let sandbox = sandbox()?;
            let baseline = prepare(ctx, &sandbox, scenario)?;
            let at = format!("{scenario:?} log, {phase:?}, {point}");
            let mut driver = ctx.load()?;
            match phase {
                Phase::Entry => {
                    let injected = point.arm();
                    let status = enter(&mut driver);
                    faults::clear();
                    clear_faults();
                    if let Some(want) = ctx.expect.entry_status(point, injected) {
                        if status != want {
                            if status >= 0 {
                                let _ = unload(&mut driver);
                            }
                            return Err(format!(
                                "{at}: DriverEntry returned {}, expected {}",
                                nt(status),
                                nt(want)
                            ));
                        }
                    }
                    if status >= 0 {
                        end_session(ctx, &sandbox, driver, &at, true)?;
                    } else {
                        failed_entry_leaves_nothing(&driver, status)
                            .map_err(|e| format!("{at}: {e}"))?;
                        drop(driver);
                        no_leaks(&sandbox.stats(), &format!("after {at}"))?;
                        let logs = read_logs(&sandbox, true)?;
                        ctx.expect
                            .after_failed_entry(&baseline, &logs)
                            .map_err(|e| format!("{at}: {e}"))?;
                    }
                }
                Phase::Io => {
                    let status = enter(&mut driver);
                    if status < 0 {
                        return Err(format!("{at}: DriverEntry returned {}", nt(status)));
                    }
                    point.arm();
                    let (mut driver, sent) = device_traffic(ctx, driver);
                    faults::clear();
                    clear_faults();
                    sent.map_err(|e| format!("{at}: {e}"))?;
                    unload(&mut driver).map_err(|e| format!("{at}: {e}"))?;
                    drop(driver);
                    no_leaks(&sandbox.stats(), &format!("after {at}"))?;
                    let logs = read_logs(&sandbox, true)?;
                    logs.keeps(&baseline).map_err(|e| format!("{at}: {e}"))?;
                }
                Phase::Unload => {
                    let status = enter(&mut driver);
                    if status < 0 {
                        return Err(format!("{at}: DriverEntry returned {}", nt(status)));
                    }
                    point.arm();
                    let r = unload(&mut driver);
                    faults::clear();
                    clear_faults();
                    r.map_err(|e| format!("{at}: {e}"))?;
                    drop(driver);
                    no_leaks(&sandbox.stats(), &format!("after {at}"))?;
                    let logs = read_logs(&sandbox, true)?;
                    logs.keeps(&baseline).map_err(|e| format!("{at}: {e}"))?;
                }
            }
            no_leaks(&sandbox.stats(), &format!("at the end of {at}"))?;
        }
        let n = |phase: Phase| points.iter().filter(|(p, _)| *p == phase).count();
        total += points.len();
        summary.push(format!(
            "{scenario:?} log: {} in DriverEntry, {} in device I/O, {} in unload",
            n(Phase::Entry),
            n(Phase::Io),
            n(Phase::Unload)
        ));
    }
    Ok(format!(
        "{total} fault points exercised; {}",
        summary.join("; ")
    ))
}

/// Seeded random failures of pool allocations and CLFS calls over many load/unload cycles:
/// after each cycle, whatever failed, nothing leaks and the logs stay readable.
pub fn low_resources(ctx: &Ctx<'_>) -> Outcome {
    let sandbox = sandbox()?;
    let (mut injected, mut failed_entries, mut candidates) = (0usize, 0usize, 0u64);
    let mut ioctls = 0usize;
    let mut previous = read_logs(&sandbox, false)?;
    for i in 0..ctx.config.lowres_cycles {
        let seed = ctx.config.seed.wrapping_add(i as u64);
        let at = format!("cycle #{} (seed {seed}, {}%)", i + 1, ctx.config.percent);
        let mut driver = ctx.load()?;
        lowres::enable(seed, ctx.config.percent);
        let status = enter(&mut driver);
        let (mut driver, io) = if status >= 0 {
            device_traffic(ctx, driver)
        } else {
            (driver, Ok(0))
        };
        let unloaded = if status >= 0 {
            unload(&mut driver)
        } else {
            Ok(())
        };
        let (failures, n) = lowres::disable();
        ioctls += io.map_err(|e| format!("{at}: {e}"))?;
        unloaded.map_err(|e| format!("{at}: {e}"))?;
        if status < 0 {
            failed_entry_leaves_nothing(&driver, status)
                .map_err(|e| format!("{at}, failed calls: {}: {e}", failures.join(", ")))?;
        }
        drop(driver);
        injected += failures.len();
        candidates += n;
        if status < 0 {
            failed_entries += 1;
        }
        no_leaks(
            &sandbox.stats(),
            &format!("after {at}, failed calls: {}", failures.join(", ")),
        )?;
        let logs = read_logs(&sandbox, false).map_err(|e| format!("{at}: {e}"))?;
        logs.keeps(&previous).map_err(|e| format!("{at}: {e}"))?;
        previous = logs;
    }
    Ok(format!(
        "{} cycles, {injected} of {candidates} candidate calls failed, DriverEntry failed {failed_entries} time(s), {ioctls} IOCTL(s) sent; reproduce with --seed {} --percent {}",
        ctx.config.lowres_cycles, ctx.config.seed, ctx.config.percent
    ))
}

/// With `--device`, while the driver is loaded: opens the device as SYSTEM and sends each
/// `--ioctl` code (64 zero bytes in, 64 bytes out), then closes it. Any status is accepted
/// (the low-resources simulation may fail anything); what the I/O manager itself checks (a
/// completed IRP, guard bytes, ...) must hold. Returns the driver and the IOCTLs sent.
fn device_traffic(ctx: &Ctx<'_>, driver: Driver) -> (Driver, Result<usize, String>) {
    use clfs_harness::iomgr::{self, Caller, IoManager};
    let Some(name) = &ctx.config.device else {
        return (driver, Ok(0));
    };
    let path = if name.starts_with('\\') {
        name.clone()
    } else {
        format!("\\Device\\{name}")
    };
    let io = IoManager::new(driver);
    let run = || -> Result<usize, String> {
        let file = match io.open(&path, iomgr::READ_WRITE, Caller::System) {
            Ok(Ok(f)) => f,
            Ok(Err(_)) => return Ok(0),
            Err(v) => return Err(format!("opening {path}: I/O manager check failed: {v}")),
        };
        let mut sent = 0;
        for code in &ctx.config.ioctls {
            io.ioctl(&file, *code, Some(&[0u8; 64]), 64, 64, false)
                .map_err(|v| format!("IOCTL {code:#x}: I/O manager check failed: {v}"))?;
            sent += 1;
        }
        io.close(file)
            .map_err(|v| format!("closing {path}: I/O manager check failed: {v}"))?;
        Ok(sent)
    };
    let r = run();
    (io.into_driver(), r)
}

/// Power loss while the driver is loaded (its unflushed records are lost), then a reload:
/// the flushed records are all there, the logs are readable, the driver starts and stops
/// cleanly.
pub fn crash_recovery(ctx: &Ctx<'_>) -> Outcome {
    let sandbox = sandbox()?;
    let driver = ctx.start("session 1")?;
    let before = end_session(ctx, &sandbox, driver, "session 1", true)?;
    let driver = ctx.start("session 2")?;
    sandbox.crash();
    driver.power_loss();
    ntos::forget_handles();
    no_leaks(&sandbox.stats(), "after the power loss")?;
    let after = read_logs(&sandbox, true).map_err(|e| format!("after the power loss: {e}"))?;
    after
        .keeps(&before)
        .map_err(|e| format!("after the power loss: {e}"))?;
    ctx.expect
        .after_crash(&before, &after)
        .map_err(|e| format!("after the power loss: {e}"))?;
    let driver = ctx.start("the restart after the power loss")?;
    let restarted = end_session(ctx, &sandbox, driver, "the restart", true)?;
    restarted
        .keeps(&after)
        .map_err(|e| format!("after the restart: {e}"))?;
    Ok(format!(
        "{} record(s) before the crashed session, {} after the power loss, {} after the restart",
        before.records(),
        after.records(),
        restarted.records()
    ))
}
