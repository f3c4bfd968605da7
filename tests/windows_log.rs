//! A log that Windows wrote, opened by the emulator and read through the `clfs` API: the
//! registry transaction-manager log the `dissect.clfs` sdist on PyPI carries under
//! `tests/data/` (AGPL test data: fetched at test time into a cache, never vendored).
//!
//! Without network or pip the tests print why and skip; with `CLFS_REAL_LOGS=require` (CI
//! sets it) a skip is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use clfs::{
    Access, ClfsAllocator, LogFile, LogOptions, Lsn, MarshallingArea, MarshallingConfig, NtStatus,
    ReadMode, Share,
};
use clfs_emu::Sandbox;
use clfs_format as fmt;
use common::{assert_no_leaks, w};

const VERSION: &str = "1.11";
const STEM: &str = "DRIVERS{53b39e70-18c4-11ea-a811-000d3aa4692b}";
const NAME: &str = "log:C:\\win\\DRIVERS{53b39e70-18c4-11ea-a811-000d3aa4692b}.TM";
const CONTAINER_SIZE: u64 = 0x80000;

fn blf() -> String {
    format!("{STEM}.TM.blf")
}

fn container(n: u32) -> String {
    format!("{STEM}.TMContainer{n:020}.regtrans-ms")
}

fn cache_dir() -> PathBuf {
    std::env::var_os("CLFS_REAL_LOGS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-logs"))
}

/// The sdist's `tests/data` directory, fetched and extracted into the cache when needed.
fn fetch() -> Result<PathBuf, String> {
    let cache = cache_dir();
    let data = cache.join(format!("dissect_clfs-{VERSION}/tests/data"));
    if data.join(blf()).is_file() && data.join(container(1)).is_file() {
        return Ok(data);
    }
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let sdist = cache.join(format!("dissect_clfs-{VERSION}.tar.gz"));
    if !sdist.is_file() {
        // pip, as a user would fetch it (only the sdist carries the test data).
        let o = Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps"])
            .args(["--no-binary", ":all:"])
            .arg(format!("dissect.clfs=={VERSION}"))
            .arg("-d")
            .arg(&cache)
            .output()
            .map_err(|e| format!("python3: {e}"))?;
        if !o.status.success() || !sdist.is_file() {
            return Err(format!(
                "cannot fetch dissect.clfs {VERSION} from PyPI: {}",
                String::from_utf8_lossy(&o.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
    }
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&sdist)
        .arg("-C")
        .arg(&cache)
        .arg("--wildcards")
        .arg(format!("dissect_clfs-{VERSION}/tests/data/DRIVERS*"))
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !status.success() || !data.join(blf()).is_file() {
        return Err(format!(
            "tar could not extract the log from {}",
            sdist.display()
        ));
    }
    Ok(data)
}

/// The data directory, or `None` after printing why the test skips.
fn data_or_skip() -> Option<PathBuf> {
    static FETCH: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    match FETCH.get_or_init(fetch).clone() {
        Ok(d) => Some(d),
        Err(why) => {
            if std::env::var("CLFS_REAL_LOGS").as_deref() == Ok("require") {
                panic!("CLFS_REAL_LOGS=require but the real log is unavailable: {why}");
            }
            eprintln!("SKIPPED: real Windows-made log unavailable: {why}");
            None
        }
    }
}

/// Copies the Windows-made log under the sandbox root where `NAME` maps it. The sdist lacks
/// the log's second container (never written: the active log is in the first); it is created
/// zero-filled, as a fresh container is.
fn install(sb: &Sandbox, data: &Path) -> PathBuf {
    let dir = sb.root().join("C/win");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data.join(blf()), dir.join(blf())).unwrap();
    std::fs::copy(data.join(container(1)), dir.join(container(1))).unwrap();
    std::fs::write(dir.join(container(2)), vec![0u8; CONTAINER_SIZE as usize]).unwrap();
    dir
}

/// The log as `clfs-format` decodes it (every rule checked).
fn decode(dir: &Path) -> fmt::Log {
    let bf = fmt::BaseFile::decode(&std::fs::read(dir.join(blf())).unwrap(), &blf()).unwrap();
    let files: Vec<(String, Vec<u8>)> = bf
        .base
        .containers
        .iter()
        .map(|c| {
            let f = c.name.strip_prefix("%BLF%\\").unwrap();
            (c.name.clone(), std::fs::read(dir.join(f)).unwrap())
        })
        .collect();
    let log = fmt::Log::read(bf, |c| {
        files
            .iter()
            .find(|(n, _)| *n == c.name)
            .map(|(n, b)| (b.as_slice(), n.clone()))
    });
    log.verify(&blf()).unwrap();
    log
}

fn lsn(c: u32, off: u32, i: u32) -> Lsn {
    Lsn::new(c, off, i).unwrap()
}

#[test]
fn a_windows_made_log_is_read_through_the_clfs_api() {
    let Some(data) = data_or_skip() else { return };
    let sb = Sandbox::new();
    let dir = install(&sb, &data);
    let independent = decode(&dir);
    let log = LogFile::create(
        &w(NAME),
        LogOptions::new().access(Access::READ).share(Share::READ),
    )
    .unwrap();
    let info = log.info().unwrap();
    // What Windows left: base = restart = the restart record at 0:0x9000:1, the block after it
    // is where the next one goes.
    let restart = lsn(0, 0x9000, 1);
    assert_eq!(
        (info.base, info.restart, info.last, info.last_flushed),
        (restart, Some(restart), restart, restart)
    );
    assert_eq!((info.containers, info.container_size), (2, CONTAINER_SIZE));
    assert_eq!(info.attributes, 0x102, "FILE_ATTRIBUTE_HIDDEN | TEMPORARY");
    assert_eq!(info.identity, independent.base.base.log_id.0, "the log id");
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    {
        let mut rc = area
            .read_restart()
            .unwrap()
            .expect("Windows wrote restart areas");
        let cur = rc.current().unwrap();
        assert_eq!(cur.lsn, restart);
        let want = independent.record(fmt::Lsn(restart.raw())).unwrap();
        assert_eq!(cur.data, want.data.as_slice());
        assert_eq!(cur.data.len(), 32);
        // The previous restart area (0:0x8400:1) lies below the base Windows set.
        assert!(rc.previous().unwrap().is_none());
    }
    // Records below the base are outside the log, as on Windows.
    assert!(area.read(lsn(0, 0x8400, 0), ReadMode::Forward).is_err());
    drop(area);
    log.close().unwrap();
    assert_no_leaks(&sb);
}

#[test]
fn a_windows_made_log_takes_appends_and_stays_valid() {
    let Some(data) = data_or_skip() else { return };
    let sb = Sandbox::new();
    let dir = install(&sb, &data);
    let before = decode(&dir);
    let log = LogFile::create(&w(NAME), LogOptions::new()).unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    let mine = area.append(&[b"appended by the emulator"]).unwrap();
    assert_eq!(
        mine,
        lsn(0, 0x9200, 0),
        "the block Windows named as the next one"
    );
    let checkpoint = area.write_restart(b"emulator checkpoint").unwrap();
    area.delete().unwrap();
    log.close().unwrap();

    // Reopened: the new record and the restart chain back into Windows' restart area.
    let log = LogFile::create(&w(NAME), LogOptions::new()).unwrap();
    let area =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096)).unwrap();
    {
        let mut cx = area.read(mine, ReadMode::Forward).unwrap();
        let r = cx.next().unwrap().unwrap();
        assert_eq!((r.lsn, r.data), (mine, &b"appended by the emulator"[..]));
        assert!(cx.next().unwrap().is_none());
    }
    {
        let mut rc = area.read_restart().unwrap().unwrap();
        assert_eq!(rc.current().unwrap().lsn, checkpoint);
        let windows = rc.previous().unwrap().expect("Windows' restart area");
        assert_eq!(windows.lsn, lsn(0, 0x9000, 1));
    }
    area.delete().unwrap();
    log.close().unwrap();

    // An independent decoder still accepts the whole log, and every record Windows wrote is
    // there byte for byte.
    let after = decode(&dir);
    for r in &before.records {
        let a = after
            .record(r.header.lsn)
            .expect("a Windows record is kept");
        assert_eq!((a.header, &a.data), (r.header, &r.data));
    }
    assert_eq!(after.records.len(), before.records.len() + 2);
    assert_eq!(after.base.base.dump_count, before.base.base.dump_count + 1);
    let client = &after.base.base.clients[0];
    assert_eq!(client.name, before.base.base.clients[0].name);
    assert_eq!(client.context.restart.0, checkpoint.raw());
    assert_no_leaks(&sb);
}

#[test]
fn an_authenticated_windows_log_opens_for_reading_only() {
    let Some(data) = data_or_skip() else { return };
    let sb = Sandbox::new();
    let dir = install(&sb, &data);
    // Windows 11 24H2+ appends an HMAC area to the base file; its layout is undocumented.
    let mut bytes = std::fs::read(dir.join(blf())).unwrap();
    bytes.extend_from_slice(&[0xa5; 0x400]);
    std::fs::write(dir.join(blf()), &bytes).unwrap();
    let e = LogFile::create(&w(NAME), LogOptions::new()).unwrap_err();
    assert_eq!(e.status(), Some(NtStatus(0xC000_00A2_u32 as i32)), "{e}");
    let notes = sb.stats().notes;
    assert!(
        notes.iter().any(|n| n.contains("log authentication")),
        "{notes:?}"
    );
    let log = LogFile::create(
        &w(NAME),
        LogOptions::new().access(Access::READ).share(Share::READ),
    )
    .unwrap();
    assert_eq!(log.info().unwrap().restart, Some(lsn(0, 0x9000, 1)));
    log.close().unwrap();
    assert_eq!(
        std::fs::read(dir.join(blf())).unwrap(),
        bytes,
        "not written"
    );
    assert_no_leaks(&sb);
}
