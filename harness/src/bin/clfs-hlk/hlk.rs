//! The runner of `clfs-hlk` (see the binary's docs): options, child processes, the report.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use clfs_harness::run_on_driver_stack;

use crate::generic::{self, Config, Ctx, Expectations, Generic, Outcome};
use crate::sample::{self, Sample};

/// A test of the suite.
type Test = fn(&Ctx<'_>) -> Outcome;

/// The generic suite, in report order: checks that hold for any driver built with `clfs`.
const GENERIC: [(&str, Test); 6] = [
    ("load_unload", generic::load_unload),
    ("leaks", generic::leaks),
    ("load_unload_cycles", generic::load_unload_cycles),
    ("fault_sweep", generic::fault_sweep),
    ("low_resources", generic::low_resources),
    ("crash_recovery", generic::crash_recovery),
];

/// The sample's own tests, after the generic ones; its device-interface tests
/// ([`crate::ioctl::TESTS`]) follow.
const SAMPLE: [(&str, Test); 1] = [("irql_discipline", sample::irql_discipline)];

const USAGE: &str = "usage: clfs-hlk <image.sys> [--generic] [options]

  --generic             test any driver built with clfs (default: the sample driver's suite:
                        the generic tests with the sample's own expectations, plus its tests)
  --service NAME        service name (default: the sample's ClfsSample; with --generic the
                        image's file name without extension)
  --registry-path PATH  the registry path DriverEntry gets
                        (default \\Registry\\Machine\\System\\CurrentControlSet\\Services\\NAME)
  --device NAME         the driver's device to open (\\Device\\NAME) for the device tests
  --ioctl CODE          an IOCTL code for the path exerciser (repeatable; hex with 0x)
  --cycles N            load/unload cycles (default 100)
  --seed N              low-resources seed (default 1)
  --percent P           low-resources failure probability in percent (default 10)
  --lowres-cycles N     low-resources cycles (default 50)
  --trace               print every import call with its arguments and status (stderr)
  --align-start         special pool blocks start their page (a guard page before them
                        catches underruns) instead of ending it (overruns)
  --verbose, -v         print each test's stderr (the driver's DbgPrint output)
  --only NAME           run one test
  --in-process          no child processes (a stop then ends the whole run)";

/// Parsed options.
#[derive(Clone, Debug, Default)]
struct Options {
    image: Option<PathBuf>,
    generic: bool,
    config: Config,
    service_set: bool,
    trace: bool,
    align_start: bool,
    verbose: bool,
    in_process: bool,
    only: Option<String>,
}

fn number<T: std::str::FromStr>(opt: &str, v: Option<String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{opt} needs a value"))?;
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16)
            .ok()
            .and_then(|n| n.to_string().parse().ok()),
        None => v.parse().ok(),
    };
    parsed.ok_or_else(|| format!("{opt}: {v:?} is not a valid number"))
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--generic" => o.generic = true,
            "--service" => {
                o.config.service = it.next().ok_or("--service needs a name")?;
                o.service_set = true;
            }
            "--registry-path" => {
                o.config.registry_path = Some(it.next().ok_or("--registry-path needs a path")?)
            }
            "--device" => o.config.device = Some(it.next().ok_or("--device needs a name")?),
            "--ioctl" => o.config.ioctls.push(number("--ioctl", it.next())?),
            "--cycles" => o.config.cycles = number("--cycles", it.next())?,
            "--seed" => o.config.seed = number("--seed", it.next())?,
            "--percent" => o.config.percent = number("--percent", it.next())?,
            "--lowres-cycles" => o.config.lowres_cycles = number("--lowres-cycles", it.next())?,
            "--trace" => o.trace = true,
            "--align-start" => o.align_start = true,
            "--verbose" | "-v" => o.verbose = true,
            "--in-process" => o.in_process = true,
            "--only" => o.only = Some(it.next().ok_or("--only needs a test name")?),
            _ if o.image.is_none() && !a.starts_with('-') => o.image = Some(PathBuf::from(a)),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let image = o.image.as_ref().ok_or("no image given")?;
    if !o.service_set {
        o.config.service = if o.generic {
            image
                .file_stem()
                .map_or("Driver".into(), |s| s.to_string_lossy().into_owned())
        } else {
            sample::SERVICE.into()
        };
    }
    if o.config.percent > 100 {
        return Err(format!("--percent {} is above 100", o.config.percent));
    }
    Ok(o)
}

fn tests(o: &Options) -> Vec<(&'static str, Test)> {
    let mut v: Vec<(&'static str, Test)> = GENERIC.to_vec();
    if !o.generic {
        v.extend(SAMPLE);
        v.extend(crate::ioctl::TESTS);
    }
    if o.config.device.is_some() {
        v.extend(crate::ioctl::DEVICE_TESTS);
    }
    v
}

fn usage(why: &str) -> ExitCode {
    eprintln!("clfs-hlk: {why}\n{USAGE}");
    ExitCode::from(2)
}

pub fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let child_test = if args.first().map(String::as_str) == Some("--child") {
        if args.len() < 2 {
            return usage("--child needs a test name");
        }
        let name = args.remove(1);
        args.remove(0);
        Some(name)
    } else {
        None
    };
    let o = match parse(args.clone()) {
        Ok(o) => o,
        Err(why) => return usage(&why),
    };
    let image = o.image.clone().unwrap_or_default();
    if let Err(e) = std::fs::read(&image) {
        eprintln!("clfs-hlk: cannot read {}: {e}", image.display());
        return ExitCode::from(2);
    }
    if let Some(name) = child_test {
        return child(&name, &o);
    }
    let list = tests(&o);
    if let Some(only) = &o.only {
        if !list.iter().any(|(n, _)| n == only) {
            return usage(&format!(
                "no test {only:?}; tests: {}",
                list.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    println!(
        "clfs-hlk: {} as service {} ({} suite)",
        image.display(),
        o.config.service,
        if o.generic { "generic" } else { "sample" }
    );
    let (mut passed, mut failed) = (0u32, 0u32);
    for (name, test) in &list {
        if o.only.as_deref().is_some_and(|only| only != *name) {
            continue;
        }
        let verdict = if o.in_process {
            run_test(name, *test, &o)
        } else {
            run_child(name, &args, &o)
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

/// Runs one test in this process, on a driver thread.
fn run_test(name: &str, test: Test, o: &Options) -> Outcome {
    let image = o.image.clone().unwrap_or_default();
    let bytes =
        std::fs::read(&image).map_err(|e| format!("cannot read {}: {e}", image.display()))?;
    let config = o.config.clone();
    let generic = o.generic;
    let trace = o.trace;
    let align_start = o.align_start;
    let name = name.to_string();
    run_on_driver_stack(move || {
        clfs_harness::verifier::trace::set(trace);
        clfs_harness::verifier::configure(clfs_harness::verifier::Settings {
            align_start,
            ..clfs_harness::verifier::settings()
        });
        let expect: &dyn Expectations = if generic { &Generic } else { &Sample };
        let ctx = Ctx {
            bytes: &bytes,
            config: &config,
            expect,
        };
        test(&ctx)
    })
    .unwrap_or_else(|| Err(format!("the {name} thread panicked")))
}

/// The child side: run one test, print its verdict line, exit 0 on PASS.
fn child(name: &str, o: &Options) -> ExitCode {
    let Some((_, test)) = tests(o).into_iter().find(|(n, _)| *n == name) else {
        println!("FAIL {name}: no such test");
        return ExitCode::FAILURE;
    };
    match run_test(name, test, o) {
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
fn run_child(name: &str, args: &[String], o: &Options) -> Outcome {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find clfs-hlk itself: {e}"))?;
    let out = Command::new(exe)
        .arg("--child")
        .arg(name)
        .args(args)
        .output()
        .map_err(|e| format!("cannot start the test process: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines() {
        if o.verbose || (o.trace && line.starts_with("[trace]")) {
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
    // No verdict: the process died (a stop aborts it, a crash kills it).
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
