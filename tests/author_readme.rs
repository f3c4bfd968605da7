//! Every code block of README.md is compiled and run here, or checked against the repository:
//!
//! - each ` ```rust ` block is copied verbatim (same lines, any indentation) into one of the
//!   `readme_*` functions below, which `#[rustfmt::skip]` keeps verbatim, and
//!   `every_rust_block_of_the_readme_is_in_this_file` fails when the README and this file drift;
//! - each message of the ` ```text ` block, and the NTSTATUS sentence after it, is produced by the
//!   misuse it describes and compared whole;
//! - the ` ```toml ` blocks name features and packages that exist, and the ` ```sh ` blocks name
//!   examples, packages and scripts that exist.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use clfs_emu::Sandbox;

const README: &str = include_str!("../README.md");
const THIS_FILE: &str = include_str!("author_readme.rs");

/// The fenced blocks of README.md: (language, lines).
fn blocks() -> Vec<(String, Vec<&'static str>)> {
    let mut out = Vec::new();
    let mut current: Option<(String, Vec<&'static str>)> = None;
    for line in README.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((rest.trim().to_owned(), Vec::new())),
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    assert!(current.is_none(), "README.md has an unclosed code block");
    out
}

fn blocks_of(lang: &str) -> Vec<Vec<&'static str>> {
    blocks()
        .into_iter()
        .filter(|(l, _)| l == lang)
        .map(|(_, lines)| lines)
        .collect()
}

#[test]
fn every_rust_block_of_the_readme_is_in_this_file() {
    let here: Vec<&str> = THIS_FILE.lines().map(str::trim).collect();
    let rust = blocks_of("rust");
    assert_eq!(
        rust.len(),
        3,
        "README.md's rust blocks changed: update this file"
    );
    for block in rust {
        let want: Vec<&str> = block.iter().map(|l| l.trim()).collect();
        assert!(
            (0..here.len()).any(|start| verbatim_at(&here[start..], &want)),
            "this README block is not compiled verbatim by tests/author_readme.rs:\n{}",
            block.join("\n")
        );
    }
}

/// `want` starts at `here[0]`, line by line in order, with at most 3 lines of this file
/// (the code a placeholder comment stands for) in between.
fn verbatim_at(here: &[&str], want: &[&str]) -> bool {
    let (mut i, mut extra) = (0, 0);
    for w in want {
        while here.get(i).is_some_and(|h| h != w) {
            if i == 0 || extra == 3 {
                return false;
            }
            extra += 1;
            i += 1;
        }
        if i >= here.len() {
            return false;
        }
        i += 1;
    }
    true
}

/// README.md, "What it looks like", first block.
#[rustfmt::skip]
fn readme_first_block() -> clfs::Result<clfs::Lsn> {
let first;
{
use clfs::{pool_tag, wide, LogFile, LogOptions, MarshallingArea, MarshallingConfig, PoolType, TaggedPool};

type MyBlocks = TaggedPool<{ pool_tag(*b"MyLg") }>; // log I/O blocks from ExAllocatePool2, tag 'MyLg'

let log = LogFile::create(wide!("log:\\SystemRoot\\Logs\\MyDriver\\log"),
                          LogOptions::new().create_if_missing())?;          // ClfsCreateLogFile
log.add_container(wide!("%BLF%\\c0"), 512 * 1024)?;                         // ClfsAddLogContainer
log.add_containers(&[wide!("%BLF%\\c1"), wide!("%BLF%\\c2")], 512 * 1024)?; // ClfsAddLogContainerSet
let area = MarshallingArea::<MyBlocks>::create(&log, MarshallingConfig::new(64 * 1024)
    .pool(PoolType::NonPagedPoolNx).max_write_buffers(8).max_read_buffers(4))?;
let lsn = area.append(&[b"hello, ", b"log"])?;                              // ClfsReserveAndAppendLog
area.flush()?;                                                               // ClfsFlushToLsn
area.write_restart(&lsn.raw().to_le_bytes())?;                               // ClfsWriteRestartArea
// area drops -> ClfsDeleteMarshallingArea; log drops -> ClfsCloseLogFileObject
first = lsn;
}
Ok(first)
}

/// README.md, the multiplexed-log block (it continues the first block: `MyBlocks`).
#[rustfmt::skip]
fn readme_multiplexed_block() -> clfs::Result<()> {
use clfs::{pool_tag, wide, LogFile, LogOptions, MarshallingArea, MarshallingConfig, TaggedPool};
type MyBlocks = TaggedPool<{ pool_tag(*b"MyLg") }>;

let orders = LogFile::create(wide!("log:\\SystemRoot\\Logs\\MyDriver\\shared::orders"),
                             LogOptions::new().create_if_missing())?;       // creates the log too
orders.add_containers(&[wide!("%BLF%\\s0"), wide!("%BLF%\\s1")], 1024 * 1024)?;
let audit = LogFile::create(wide!("log:\\SystemRoot\\Logs\\MyDriver\\shared::audit"),
                            LogOptions::new().create_if_missing())?;
let orders_area = MarshallingArea::<MyBlocks>::create(&orders, MarshallingConfig::new(64 * 1024))?;
let audit_area = MarshallingArea::<MyBlocks>::create(&audit, MarshallingConfig::new(64 * 1024))?;
orders_area.append(&[b"order 1"])?;   // each stream reads back only its own records
audit_area.append(&[b"audit 1"])?;

// What the comment promises: each stream reads back only its own record.
for (area, want) in [(&orders_area, &b"order 1"[..]), (&audit_area, &b"audit 1"[..])] {
    area.flush()?;
    let mut cx = area.read(clfs::Lsn::NULL, clfs::ReadMode::Forward);
    if cx.is_err() {
        // A stream's first LSN need not be 0:0x0:0: start at its base.
        cx = area.read(area.log().info()?.base, clfs::ReadMode::Forward);
    }
    let mut cx = cx?;
    assert_eq!(cx.next()?.map(|r| r.data), Some(want));
    assert!(cx.next()?.is_none());
}
Ok(())
}

/// README.md, "Testing your driver's logic on the host".
#[rustfmt::skip]
fn readme_testing_block() {
let sandbox = clfs_emu::Sandbox::new();         // a fresh root directory and fresh accounts
// ... run your driver's code: it calls clfs as it would in the kernel ...
readme_first_block().unwrap();
assert!(sandbox.stats().leaks().is_empty());     // no open log, area, read context or block
}

#[test]
fn readme_rust_blocks_run() {
    let sb = Sandbox::new();
    let lsn = readme_first_block().unwrap();
    // Reopen: the record and the restart area are there.
    {
        use clfs::{wide, ClfsAllocator, LogFile, LogOptions, MarshallingArea, MarshallingConfig};
        let log = LogFile::create(
            wide!("log:\\SystemRoot\\Logs\\MyDriver\\log"),
            LogOptions::new(),
        )
        .unwrap();
        assert_eq!(log.info().unwrap().containers, 3);
        let area =
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024))
                .unwrap();
        let mut cx = area.read(lsn, clfs::ReadMode::Forward).unwrap();
        assert_eq!(cx.next().unwrap().unwrap().data, b"hello, log");
        drop(cx);
        let restart = area.read_restart().unwrap().unwrap();
        assert_eq!(restart.current().unwrap().data, lsn.raw().to_le_bytes());
    }
    readme_multiplexed_block().unwrap();
    assert!(sb.stats().leaks().is_empty(), "{:?}", sb.stats().leaks());
    drop(sb);
    readme_testing_block();
}

#[test]
fn readme_error_messages_are_the_ones_the_library_gives() {
    use clfs::{
        max_record_size, wide, ClfsAllocator, LogFile, LogOptions, MarshallingArea,
        MarshallingConfig,
    };
    let sb = Sandbox::new();
    let log = LogFile::create(
        wide!("log:C:\\readme\\msgs"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    log.add_container(wide!("%BLF%\\c0"), 512 * 1024).unwrap();
    let mut produced = Vec::new();
    produced.push(
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(64 * 1024))
            .unwrap_err()
            .to_string(),
    );
    log.add_container_of_existing_size(wide!("%BLF%\\c1"))
        .unwrap();
    produced.push(
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(1000))
            .unwrap_err()
            .to_string(),
    );
    {
        let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
        produced.push(
            MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
                .unwrap_err()
                .to_string(),
        );
    }
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    assert_eq!(max_record_size(4096), 3920);
    produced.push(area.append(&[&[0u8; 4096]]).unwrap_err().to_string());
    produced.push(
        LogFile::create(wide!("log:C:\\readme\\no-such-log"), LogOptions::new())
            .unwrap_err()
            .to_string(),
    );
    drop(area);
    drop(log);
    assert!(sb.stats().leaks().is_empty(), "{:?}", sb.stats().leaks());

    let text = blocks_of("text");
    assert_eq!(
        text.len(),
        1,
        "README.md's text blocks changed: update this test"
    );
    let mut shown: Vec<String> = text[0].iter().map(|l| (*l).to_owned()).collect();
    // "and a refusal by Clfs.sys keeps its NTSTATUS, by name:" and the message in backticks.
    let after = README
        .split("keeps its NTSTATUS, by name:")
        .nth(1)
        .expect("README.md still shows a Clfs.sys refusal");
    shown.push(after.split('`').nth(1).expect("in backticks").to_owned());
    for message in &shown {
        assert!(
            produced.contains(message),
            "README.md shows {message:?}, the library says:\n{produced:#?}"
        );
    }
    assert_eq!(shown.len(), produced.len());
}

#[test]
fn readme_toml_and_shell_blocks_name_what_exists() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    for block in blocks_of("toml") {
        for line in block {
            let Some((dep, spec)) = line.split_once(" = ") else {
                continue;
            };
            let dep = dep.trim();
            assert!(
                dep == "clfs" || dep == "clfs-emu",
                "README.md depends on {dep}: {line}"
            );
            if let Some(v) = spec
                .split("version = \"")
                .nth(1)
                .or_else(|| spec.strip_prefix('"'))
            {
                let v = v.split('"').next().unwrap();
                assert!(
                    version.starts_with(v),
                    "README.md asks for {dep} {v}, the crate is {version}"
                );
            }
            if let Some(features) = spec.split("features = [").nth(1) {
                for f in features.split(']').next().unwrap().split(',') {
                    let f = f.trim().trim_matches('"');
                    assert!(
                        manifest.contains(&format!("\n{f} = ")),
                        "README.md names feature {f:?}, which Cargo.toml does not define"
                    );
                }
            }
        }
    }
    let mut packages = std::collections::HashSet::new();
    for dir in [
        "",
        "emu",
        "format",
        "harness",
        "benches",
        "samples/clfs-sample-client",
        "samples/clfs-sample-driver",
    ] {
        let path = format!("{root}/{dir}/Cargo.toml");
        if let Ok(m) = std::fs::read_to_string(&path) {
            for line in m.lines() {
                if let Some(name) = line.strip_prefix("name = \"") {
                    packages.insert(name.trim_end_matches('"').to_owned());
                }
            }
        }
    }
    let mut commands = 0;
    for block in blocks_of("sh") {
        for line in block {
            let command = line.split('#').next().unwrap();
            let words: Vec<&str> = command.split_whitespace().collect();
            for pair in words.windows(2) {
                match pair[0] {
                    "--example" => assert!(
                        std::path::Path::new(&format!("{root}/examples/{}", pair[1])).exists(),
                        "README.md runs example {}, which does not exist",
                        pair[1]
                    ),
                    "-p" => assert!(
                        packages.contains(pair[1]),
                        "README.md names package {}, which is not in {packages:?}",
                        pair[1]
                    ),
                    "bash" => assert!(
                        std::path::Path::new(&format!("{root}/{}", pair[1])).is_file(),
                        "README.md runs {}, which does not exist",
                        pair[1]
                    ),
                    _ => {}
                }
            }
            commands += usize::from(!words.is_empty());
        }
    }
    assert!(
        commands >= 5,
        "README.md's shell blocks changed: {commands} commands"
    );
}
