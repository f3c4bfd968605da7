//! A real, Windows-made log: the registry transaction-manager log that the `dissect.clfs`
//! sdist on PyPI carries under `tests/data/` (AGPL test data: fetched at test time into a
//! cache, never vendored).
//!
//! Without network or pip the test prints why and skips; with `CLFS_REAL_LOGS=require`
//! (CI sets it) a skip is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::Command;

use clfs_format::{BaseFile, Copy, Loc, Log, Lsn, RECORD_HEADER_SIZE};

const VERSION: &str = "1.11";
const BLF: &str = "DRIVERS{53b39e70-18c4-11ea-a811-000d3aa4692b}.TM.blf";
const C1: &str =
    "DRIVERS{53b39e70-18c4-11ea-a811-000d3aa4692b}.TMContainer00000000000000000001.regtrans-ms";

fn cache_dir() -> PathBuf {
    std::env::var_os("CLFS_REAL_LOGS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("real-logs"))
}

/// The directory holding the two files, fetching and extracting the sdist when needed.
fn fetch() -> Result<PathBuf, String> {
    let cache = cache_dir();
    let data = cache.join(format!("dissect_clfs-{VERSION}/tests/data"));
    if data.join(BLF).is_file() && data.join(C1).is_file() {
        return Ok(data);
    }
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let sdist = cache.join(format!("dissect_clfs-{VERSION}.tar.gz"));
    if !sdist.is_file() {
        download(&cache, &sdist)?;
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
    if !status.success() || !data.join(BLF).is_file() {
        return Err(format!(
            "tar could not extract the log from {}",
            sdist.display()
        ));
    }
    Ok(data)
}

fn download(cache: &Path, sdist: &Path) -> Result<(), String> {
    // The PyPI JSON API names the sdist's URL and SHA-256; a small script fetches and checks it.
    let script = r#"
import hashlib, json, sys, urllib.request
meta = json.load(urllib.request.urlopen(f"https://pypi.org/pypi/dissect.clfs/{sys.argv[1]}/json", timeout=30))
sd = [u for u in meta["urls"] if u["packagetype"] == "sdist"][0]
data = urllib.request.urlopen(sd["url"], timeout=60).read()
if hashlib.sha256(data).hexdigest() != sd["digests"]["sha256"]:
    sys.exit("sha256 mismatch")
open(sys.argv[2], "wb").write(data)
"#;
    let o = Command::new("python3")
        .args(["-c", script, VERSION])
        .arg(sdist)
        .output();
    if matches!(&o, Ok(o) if o.status.success()) && sdist.is_file() {
        return Ok(());
    }
    // Else pip, as a user would fetch it.
    let pip = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
        ])
        .arg(format!("dissect.clfs=={VERSION}"))
        .arg("-d")
        .arg(cache)
        .output();
    if matches!(&pip, Ok(o) if o.status.success()) && sdist.is_file() {
        return Ok(());
    }
    let last = |r: &std::io::Result<std::process::Output>| match r {
        Ok(o) => String::from_utf8_lossy(&o.stderr)
            .trim()
            .lines()
            .last()
            .unwrap_or("")
            .to_string(),
        Err(e) => e.to_string(),
    };
    Err(format!(
        "cannot fetch dissect.clfs {VERSION} from PyPI (urllib: {}; pip: {})",
        last(&o),
        last(&pip)
    ))
}

/// The data directory, or `None` after printing why the test skips.
fn data_or_skip() -> Option<PathBuf> {
    // One fetch per test binary: the tests run in parallel and share the cache.
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

fn read(data: &Path) -> (Vec<u8>, Log) {
    let blf = std::fs::read(data.join(BLF)).unwrap();
    let c1 = std::fs::read(data.join(C1)).unwrap();
    let base = BaseFile::decode(&blf, BLF).unwrap();
    let log = Log::read(base, |c| {
        c.name
            .ends_with("00000000000000000001.regtrans-ms")
            .then(|| (c1.as_slice(), C1.to_string()))
    });
    (blf, log)
}

#[test]
fn reads_the_base_file_of_a_windows_made_log() {
    let Some(data) = data_or_skip() else { return };
    let (_, log) = read(&data);
    let b = &log.base;
    // The shadow general block is the newer copy (34 against 33); the control shadow and the
    // scratch shadow were never written.
    assert_eq!((b.base_copy, b.base.dump_count), (Copy::Shadow, 34));
    assert_eq!(b.control_copy, Copy::Primary);
    assert!(b.rejected.is_empty(), "{:?}", b.rejected);
    assert_eq!(b.unwritten, [0x400, 0xfe00]);
    assert_eq!(b.trailing, None);
    assert_eq!(
        b.base.log_id.to_string(),
        "00162f75-1905-11ea-a810-000d3aa41ef3"
    );
    assert!(!b.base.is_multiplexed());
    assert_eq!(b.base.clients.len(), 1);
    let c = &b.base.clients[0].context;
    assert_eq!(c.base, Lsn::new(0, 0x9000, 1));
    assert_eq!(c.restart, Lsn::new(0, 0x9000, 1));
    assert_eq!(c.archive_tail, Lsn::new(0, 0x9000, 1));
    assert_eq!(c.last, Lsn::new(0, 0x9200, 0));
    assert_eq!(
        (c.owner_page, c.physical_base),
        (Lsn::INVALID, Lsn::INVALID)
    );
    assert_eq!(c.flush_threshold, 40_000);
    assert!(b.base.clients[0].name.ends_with(BLF));
    let names: Vec<_> = b.base.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("%BLF%\\{C1}"),
            format!("%BLF%\\{}", C1.replace("0001.regtrans", "0002.regtrans")),
        ]
    );
    for (i, c) in b.base.containers.iter().enumerate() {
        assert_eq!(
            (c.context.physical_id, c.context.logical_id),
            (i as u32, i as u32)
        );
        assert_eq!(c.context.size, 0x80000);
    }
    b.base.check(&b.base_bytes, &Loc::new(BLF, 0x8200)).unwrap();
    // Our encoder lays the base record out exactly as Windows did.
    let enc = b.base.encode().unwrap();
    assert_eq!(enc[..], b.base_bytes[..enc.len()]);
}

#[test]
fn reads_every_record_of_a_windows_made_container() {
    let Some(data) = data_or_skip() else { return };
    let (_, log) = read(&data);
    let scan = log.containers[0].as_ref().unwrap();
    assert!(scan.errors.is_empty(), "{:?}", scan.errors);
    assert_eq!((scan.blocks, scan.records.len()), (37, 49));
    assert!(
        log.containers[1].is_none(),
        "the sdist carries one container file"
    );
    let recs = &log.records;
    // The first record is 0:0x0:0, a valid restart record whose LSN equals CLFS_LSN_NULL.
    assert_eq!(recs[0].header.lsn, Lsn::NULL);
    assert_eq!(recs[0].header.record_type, 0x26);
    for r in recs {
        let h = &r.header;
        assert_eq!(
            h.data_size as usize,
            r.data.len() + RECORD_HEADER_SIZE,
            "{}",
            h.lsn
        );
        if h.is_data() {
            assert_eq!((h.previous, h.undo_next), (Lsn::INVALID, Lsn::INVALID));
        } else {
            assert!(h.is_restart());
            assert_eq!(h.undo_next, Lsn::NULL);
        }
    }
    // Multi-sector blocks hold one record; one-sector blocks a data record and a restart.
    let multi = recs.iter().filter(|r| r.header.data_size > 0x200).count();
    assert_eq!(multi, 24);
    // The restart chain runs from lsnRestart back to 0:0x0:0 through `previous`.
    let chain = log.restart_chain(&log.base.base.clients[0], BLF).unwrap();
    assert_eq!(chain.len(), 13);
    assert_eq!(chain[0], Lsn::new(0, 0x9000, 1));
    assert_eq!(chain[1], Lsn::new(0, 0x8400, 1));
    assert_eq!(*chain.last().unwrap(), Lsn::NULL);
    log.verify(BLF).unwrap();
    let active: Vec<_> = log
        .active_records(&log.base.base.clients[0])
        .map(|r| r.header.lsn)
        .collect();
    assert_eq!(active, [Lsn::new(0, 0x9000, 1)]);
}

#[test]
fn clfs_dump_json_all_lists_every_record() {
    let Some(data) = data_or_skip() else { return };
    let o = Command::new(env!("CARGO_BIN_EXE_clfs-dump"))
        .args(["--json", "--all", "--verify"])
        .arg(data.join(BLF))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recs = v["records"].as_array().unwrap();
    assert_eq!(recs.len(), 49);
    assert_eq!(recs[0]["lsn"], 0);
    assert_eq!(recs[48]["lsn"], 0x9001);
    assert_eq!(v["verify"]["ok"], true);
    assert!(v["notes"][0]
        .as_str()
        .unwrap()
        .starts_with("container file missing: "));
}
