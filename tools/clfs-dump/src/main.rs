//! `clfs-dump`: reads a CLFS log (a `.blf` base file and its containers) on any host and
//! prints what it holds, or verifies it.
//!
//! Exit status: 0 success; 1 the log breaks a rule (with `--verify`, or a base file that
//! cannot be decoded); 2 usage error; 66 an input file cannot be read.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};
use clfs_format::base::{
    CONTAINER_STATE_ACTIVE, CONTAINER_STATE_ACTIVE_PENDING_DELETE, CONTAINER_STATE_INACTIVE,
    CONTAINER_STATE_INITIALIZING, CONTAINER_STATE_PENDING_ARCHIVE,
    CONTAINER_STATE_PENDING_ARCHIVE_AND_DELETE,
};
use clfs_format::{BaseFile, Layout, Log, LogRecord, Lsn};
use serde_json::{json, Value};

/// The command line.
#[derive(Debug)]
struct Args {
    /// The base log file (`NAME.blf`).
    path: PathBuf,
    /// List every valid record physically present, including those behind the base.
    all: bool,
    /// Write one JSON object.
    json: bool,
    /// Check every CRC, signature and link.
    verify: bool,
    /// Show progress on stderr even when stderr is not a terminal.
    progress: bool,
    /// Bytes of record data shown as hex per record line.
    preview: usize,
}

// The builder API rather than the derive: the derive's generated code carries an
// `allow(clippy::restriction)` that the workspace's forbidden lints reject.
fn command() -> Command {
    let flag = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .help(help)
            .action(ArgAction::SetTrue)
    };
    Command::new("clfs-dump")
        .version(env!("CARGO_PKG_VERSION"))
        .about(
            "Reads a CLFS log (.blf and containers) and prints its streams, containers and records",
        )
        .arg(
            Arg::new("path")
                .value_name("PATH.blf")
                .help("The base log file")
                .required(true)
                .value_parser(clap::value_parser!(PathBuf)),
        )
        .arg(flag(
            "all",
            "List every valid record physically present, including those behind the base",
        ))
        .arg(flag(
            "json",
            "Write one JSON object with `streams`, `containers` and `records`",
        ))
        .arg(flag(
            "verify",
            "Check every CRC, signature and link; exit 1 with the first broken rule",
        ))
        .arg(flag(
            "progress",
            "Show progress on stderr even when stderr is not a terminal",
        ))
        .arg(
            Arg::new("preview")
                .long("preview")
                .value_name("BYTES")
                .help("Bytes of record data shown as hex per record line")
                .default_value("16")
                .value_parser(clap::value_parser!(usize)),
        )
        .after_help(
            "Exit status: 0 success; 1 the log breaks a rule (--verify, or an undecodable base \
             file); 2 usage error; 66 an input file cannot be read.\n\
             Containers named %BLF%\\... are looked up next to the base file.",
        )
}

impl Args {
    fn parse() -> Args {
        let m = command().get_matches();
        Args {
            path: m.get_one::<PathBuf>("path").cloned().unwrap_or_default(),
            all: m.get_flag("all"),
            json: m.get_flag("json"),
            verify: m.get_flag("verify"),
            progress: m.get_flag("progress"),
            preview: m.get_one::<usize>("preview").copied().unwrap_or(16),
        }
    }
}

const EXIT_RULE: u8 = 1;
const EXIT_NOINPUT: u8 = 66;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(Failure::Io(path, e)) => {
            eprintln!("clfs-dump: {}: {e}", path.display());
            ExitCode::from(EXIT_NOINPUT)
        }
        Err(Failure::Rule(e)) => {
            eprintln!("clfs-dump: {e}");
            ExitCode::from(EXIT_RULE)
        }
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("clfs-dump: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Io(PathBuf, io::Error),
    Rule(clfs_format::Error),
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// Where the file of the container named `name` lies: `%BLF%\x` (and any other Windows
/// path) resolves to its last component next to the base file.
fn container_path(blf: &Path, name: &str) -> PathBuf {
    let dir = blf.parent().unwrap_or(Path::new("."));
    let file = name.rsplit(['\\', '/']).next().unwrap_or(name);
    dir.join(file)
}

fn state_name(s: u32) -> &'static str {
    match s {
        CONTAINER_STATE_INITIALIZING => "initializing",
        CONTAINER_STATE_INACTIVE => "inactive",
        CONTAINER_STATE_ACTIVE => "active",
        CONTAINER_STATE_ACTIVE_PENDING_DELETE => "active-pending-delete",
        CONTAINER_STATE_PENDING_ARCHIVE => "pending-archive",
        CONTAINER_STATE_PENDING_ARCHIVE_AND_DELETE => "pending-archive-and-delete",
        _ => "unknown",
    }
}

fn kind(t: u32) -> String {
    let mut parts = Vec::new();
    for (bit, name) in [
        (clfs_format::RECORD_TYPE_DATA, "data"),
        (clfs_format::RECORD_TYPE_RESTART, "restart"),
        (clfs_format::RECORD_FLAG_FIRST_IN_BLOCK, "first"),
        (clfs_format::RECORD_FLAG_LAST_IN_BLOCK, "last"),
    ] {
        if t & bit != 0 {
            parts.push(name);
        }
    }
    let other = t & !(clfs_format::RECORD_TYPE_DATA
        | clfs_format::RECORD_TYPE_RESTART
        | clfs_format::RECORD_POSITION_MASK);
    let mut s = parts.join("|");
    if other != 0 || s.is_empty() {
        if !s.is_empty() {
            s.push('|');
        }
        s.push_str(&format!("{other:#x}"));
    }
    s
}

fn hex(b: &[u8], n: usize) -> String {
    let mut s: String = b.iter().take(n).map(|x| format!("{x:02x}")).collect();
    if b.len() > n {
        s.push('…');
    }
    s
}

fn run(args: &Args) -> Result<ExitCode, Failure> {
    let name = args.path.display().to_string();
    let bytes = std::fs::read(&args.path).map_err(|e| Failure::Io(args.path.clone(), e))?;
    let base = BaseFile::decode(&bytes, &name).map_err(Failure::Rule)?;
    let progress = args.progress || io::stderr().is_terminal();
    // Read every container file first; the log borrows their bytes.
    let mut files: Vec<(PathBuf, Option<Vec<u8>>)> = Vec::new();
    let total = base.base.containers.len();
    for (i, c) in base.base.containers.iter().enumerate() {
        let path = container_path(&args.path, &c.name);
        if progress {
            eprintln!(
                "clfs-dump: reading container {}/{total}: {}",
                i + 1,
                path.display()
            );
        }
        let data = match std::fs::read(&path) {
            Ok(d) => Some(d),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Failure::Io(path, e)),
        };
        files.push((path, data));
    }
    let mut it = files.iter();
    let log = Log::read(base, |_| {
        let (path, data) = it.next()?;
        data.as_deref().map(|d| (d, path.display().to_string()))
    });
    if progress {
        eprintln!("clfs-dump: {} records read", log.records.len());
    }
    let verdict = if args.verify {
        Some(log.verify(&name))
    } else {
        None
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        let v = to_json(&log, &files, args.all, &name, verdict.as_ref());
        serde_json::to_writer_pretty(&mut out, &v).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &log, &files, args, &name)?;
    }
    out.flush()?;
    drop(out);
    match verdict {
        Some(Err(e)) => {
            eprintln!("clfs-dump: verify: FAILED: {e}");
            Ok(ExitCode::from(EXIT_RULE))
        }
        Some(Ok(())) => {
            if !args.json {
                println!("verify: OK");
            }
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

fn is_active(log: &Log, r: &LogRecord) -> bool {
    log.is_active(r)
}

fn notes(log: &Log, files: &[(PathBuf, Option<Vec<u8>>)]) -> Vec<String> {
    let mut n = Vec::new();
    for e in &log.base.rejected {
        n.push(format!("metadata copy not used: {e}"));
    }
    if let Some((off, len)) = log.base.trailing {
        n.push(format!(
            "authentication area found: {len} bytes after the metadata blocks at {off:#x} (Windows 11 log authentication); ignored"
        ));
    }
    for (s, (path, _)) in log.containers.iter().zip(files) {
        match s {
            None => n.push(format!("container file missing: {}", path.display())),
            Some(s) => {
                if let Some((off, len)) = s.trailing {
                    n.push(format!(
                        "authentication area found: {len} bytes after the container size at {off:#x} in {}; ignored",
                        path.display()
                    ));
                }
                for e in &s.errors {
                    n.push(format!("skipped: {e}"));
                }
                for (off, len) in &s.owner_pages {
                    n.push(format!(
                        "owner page: {len:#x} bytes at {off:#x} in {} (sector type 0x08; contents undocumented, not parsed)",
                        path.display()
                    ));
                }
            }
        }
    }
    n
}

fn print_text(
    out: &mut impl Write,
    log: &Log,
    files: &[(PathBuf, Option<Vec<u8>>)],
    args: &Args,
    name: &str,
) -> io::Result<()> {
    let b = &log.base.base;
    writeln!(
        out,
        "log {name}: {}, log id {}, state {:#04x}, base record from the {} copy (dump count {})",
        layout_text(b.layout()),
        b.log_id,
        b.log_state,
        match log.base.base_copy {
            clfs_format::Copy::Primary => "primary",
            clfs_format::Copy::Shadow => "shadow",
        },
        b.dump_count
    )?;
    let layout = b.layout();
    writeln!(out, "streams: {}", b.clients.len())?;
    for c in &b.clients {
        let x = &c.context;
        writeln!(
            out,
            "  stream {}{}: base {} last {} restart {} archive-tail {}, {} active records ({})",
            x.client_id,
            if layout.is_physical(x.client_id) {
                " (physical log)"
            } else {
                ""
            },
            x.base,
            x.last,
            x.restart,
            x.archive_tail,
            log.active_records(c).count(),
            c.name
        )?;
    }
    writeln!(out, "containers: {}", b.containers.len())?;
    for (c, (s, (path, _))) in b.containers.iter().zip(log.containers.iter().zip(files)) {
        let x = &c.context;
        let what = match s {
            Some(s) if !s.owner_pages.is_empty() => format!(
                "{} blocks, {} records, {} owner-page spans",
                s.blocks,
                s.records.len(),
                s.owner_pages.len()
            ),
            Some(s) => format!("{} blocks, {} records", s.blocks, s.records.len()),
            None => "file missing".into(),
        };
        writeln!(
            out,
            "  container {} (logical {}): size {:#x}, state {}, usn {}, {}: {what}",
            x.physical_id,
            x.logical_id,
            x.size,
            state_name(x.state),
            x.usn,
            path.display()
        )?;
    }
    for n in notes(log, files) {
        writeln!(out, "note: {n}")?;
    }
    let shown: Vec<&LogRecord> = log
        .records
        .iter()
        .filter(|r| args.all || is_active(log, r))
        .collect();
    writeln!(
        out,
        "records ({}): {}",
        if args.all {
            "all present"
        } else {
            "active range"
        },
        shown.len()
    )?;
    for r in shown {
        let h = &r.header;
        // In a multiplexed log each record names its stream (its block's ClientId).
        let stream = if b.is_multiplexed() {
            format!("  s{}", r.client_id)
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {:<14} {:<18} prev {:<14} undo {:<14} size {:#6x}  c{}{stream}  {}",
            h.lsn.to_string(),
            kind(h.record_type),
            h.previous.to_string(),
            h.undo_next.to_string(),
            h.data_size,
            r.physical_id,
            hex(&r.data, args.preview)
        )?;
    }
    Ok(())
}

fn layout_text(l: Layout) -> &'static str {
    match l {
        Layout::Dedicated => "dedicated",
        Layout::Multiplexed => "multiplexed without owner pages (the emulator's layout)",
        Layout::MultiplexedOwnerPaged => {
            "multiplexed with owner pages (Windows-made; owner pages not parsed)"
        }
        _ => "multiplexed (unknown layout)",
    }
}

fn lsn(l: Lsn) -> Value {
    json!(l.0)
}

fn to_json(
    log: &Log,
    files: &[(PathBuf, Option<Vec<u8>>)],
    all: bool,
    name: &str,
    verdict: Option<&Result<(), clfs_format::Error>>,
) -> Value {
    let b = &log.base.base;
    let layout = b.layout();
    let streams: Vec<Value> = b
        .clients
        .iter()
        .map(|c| {
            let x = &c.context;
            json!({
                "id": x.client_id, "name": c.name,
                "physical": layout.is_physical(x.client_id),
                "active_records": log.active_records(c).count(),
                "unused1": lsn(x.unused1),
                "base": lsn(x.base), "last": lsn(x.last), "restart": lsn(x.restart),
                "archive_tail": lsn(x.archive_tail), "owner_page": lsn(x.owner_page),
                "physical_base": lsn(x.physical_base), "flush_threshold": x.flush_threshold,
                "attributes": x.attributes, "state": x.state,
            })
        })
        .collect();
    let containers: Vec<Value> = b
        .containers
        .iter()
        .zip(log.containers.iter().zip(files))
        .map(|(c, (s, (path, _)))| {
            let x = &c.context;
            json!({
                "physical_id": x.physical_id, "logical_id": x.logical_id, "size": x.size,
                "state": x.state, "usn": x.usn, "name": c.name, "path": path.display().to_string(),
                "present": s.is_some(),
                "blocks": s.as_ref().map(|s| s.blocks),
                "owner_pages": s.as_ref().map(|s| &s.owner_pages),
                "records": s.as_ref().map(|s| s.records.len()),
            })
        })
        .collect();
    let records: Vec<Value> = log
        .records
        .iter()
        .filter_map(|r| {
            let active = is_active(log, r);
            (all || active).then(|| {
                let h = &r.header;
                json!({
                    "lsn": lsn(h.lsn), "lsn_text": h.lsn.to_string(),
                    "type": h.record_type, "kind": kind(h.record_type),
                    "previous": lsn(h.previous), "undo_next": lsn(h.undo_next),
                    "size": h.data_size, "container": r.physical_id,
                    "offset": r.file_offset, "client": r.client_id, "stream": r.client_id,
                    "active": active,
                })
            })
        })
        .collect();
    let mut v = json!({
        "file": name,
        "multiplexed": b.is_multiplexed(),
        "layout": layout.name(),
        "log_id": b.log_id.to_string(),
        "log_state": b.log_state,
        "streams": streams,
        "containers": containers,
        "records": records,
        "notes": notes(log, files),
    });
    if let (Some(verdict), Some(obj)) = (verdict, v.as_object_mut()) {
        obj.insert(
            "verify".into(),
            match verdict {
                Ok(()) => json!({"ok": true}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            },
        );
    }
    v
}
