//! `clfs-dump` on logs written by the clfs-format encoder: what a user sees and the exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;
use common::*;

#[test]
fn summary_lists_streams_containers_and_the_active_range() {
    let dir = scratch("summary");
    let blf = write_log(&dir, false);
    let o = dump(&[], &blf);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(": dedicated, log id 33323130-3534-3736-3839-616263646566, state 0x03, base record from the primary copy (dump count 7)"), "{out}");
    assert!(
        out.contains(
            "stream 0: base 0:0x800:1 last 0:0xa00:0 restart 0:0x800:1 archive-tail 0:0x800:1"
        ),
        "{out}"
    );
    assert!(
        out.contains("container 0 (logical 0): size 0x80000, state inactive, usn 1,"),
        "{out}"
    );
    assert!(
        out.contains("ledgerContainer0: 3 blocks, 4 records"),
        "{out}"
    );
    assert!(out.contains("ledgerContainer1: file missing"), "{out}");
    assert!(out.contains("note: container file missing:"), "{out}");
    // Only the restart record at the base is in the active range.
    assert!(out.contains("records (active range): 1\n"), "{out}");
    let line = out.lines().last().unwrap();
    assert!(line.trim_start().starts_with("0:0x800:1"), "{line}");
    assert!(line.contains("restart|last"), "{line}");
    assert!(line.contains(&hex("restart-1")), "{line}");
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn all_lists_records_behind_the_base_in_lsn_order() {
    let dir = scratch("all");
    let blf = write_log(&dir, true);
    let out = stdout(&dump(&["--all", "--preview", "4"], &blf));
    let recs: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("records"))
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(recs, ["0:0x0:0", "0:0x200:0", "0:0x800:0", "0:0x800:1"]);
    assert!(out.contains("records (all present): 4"), "{out}");
    assert!(out.contains("restart|first|last"), "{out}");
    assert!(
        out.contains("ledgerContainer1: 0 blocks, 0 records"),
        "{out}"
    );
}

#[test]
fn json_has_streams_containers_and_records_with_integer_lsns() {
    let dir = scratch("json");
    let blf = write_log(&dir, true);
    let o = dump(&["--json", "--all"], &blf);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recs = v["records"].as_array().unwrap();
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0]["lsn"], 0);
    assert_eq!(recs[0]["type"], 0x26);
    assert_eq!(recs[0]["previous"], 0xFFFF_FFFF_0000_0000u64);
    assert_eq!(recs[0]["undo_next"], 0);
    assert_eq!(recs[1]["lsn"], 0x200);
    assert_eq!(recs[1]["size"], 900 + 0x28);
    assert_eq!(recs[1]["container"], 0);
    assert_eq!(recs[1]["offset"], 0x270);
    assert_eq!(recs[3]["lsn"], 0x801);
    assert_eq!(recs[3]["active"], true);
    assert_eq!(recs[2]["active"], false);
    assert_eq!(v["streams"][0]["base"], 0x801);
    assert_eq!(v["streams"][0]["last"], 0xa00);
    assert_eq!(v["containers"].as_array().unwrap().len(), 2);
    assert_eq!(v["containers"][1]["present"], true);
    assert_eq!(v["multiplexed"], false);
    // Without --all: the active range only.
    let v: serde_json::Value = serde_json::from_slice(&dump(&["--json"], &blf).stdout).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 1);
}

#[test]
fn verify_passes_on_a_sound_log() {
    let dir = scratch("verify-ok");
    let blf = write_log(&dir, true);
    let o = dump(&["--verify"], &blf);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).ends_with("verify: OK\n"));
}

#[test]
fn verify_names_a_torn_container_block() {
    let dir = scratch("verify-torn");
    let blf = write_log(&dir, true);
    let c0 = dir.join("ledgerContainer0");
    let mut bytes = std::fs::read(&c0).unwrap();
    bytes[0x200 + 2 * 512 - 1] = 0; // the USN of sector 1 of the 3-sector block at 0x200
    std::fs::write(&c0, bytes).unwrap();
    // Reading still works and says what it skipped.
    let o = dump(&["--all"], &blf);
    assert!(o.status.success());
    assert!(stdout(&o).contains("note: skipped: "), "{}", stdout(&o));
    let o = dump(&["--verify"], &blf);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("clfs-dump: verify: FAILED: ")
            && err.contains("ledgerContainer0: block at 0x200: sector signature of sector 1 is [0x04, 0x00], must be [0x04, 0x01] (torn or stale block)"),
        "{err}"
    );
}

/// Rewrites the block at 0x800 of container 0 with a data record and a restart record whose
/// links are `data_prev` and `restart_prev`.
fn relink(dir: &std::path::Path, data_prev: clfs_format::Lsn, restart_prev: clfs_format::Lsn) {
    use clfs_format::{BlockBuilder, Lsn, RECORD_TYPE_DATA, RECORD_TYPE_RESTART};
    let c0 = dir.join("ledgerContainer0");
    let mut bytes = std::fs::read(&c0).unwrap();
    let mut b = BlockBuilder::new(Lsn::new(0, 0x800, 0), 1);
    b.push(RECORD_TYPE_DATA, Lsn::INVALID, data_prev, b"x")
        .unwrap();
    b.push(RECORD_TYPE_RESTART, Lsn::NULL, restart_prev, b"r")
        .unwrap();
    let blk = b.finish(Lsn::new(0, 0xa00, 0)).unwrap();
    bytes[0x800..0xa00].copy_from_slice(&blk);
    std::fs::write(&c0, bytes).unwrap();
}

#[test]
fn verify_names_a_link_that_does_not_go_back() {
    use clfs_format::Lsn;
    let dir = scratch("verify-link");
    let blf = write_log(&dir, true);
    relink(&dir, Lsn::new(0, 0x800, 1), Lsn::NULL);
    let o = dump(&["--verify"], &blf);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(
            "%BLF%\\ledgerContainer0: block at 0x800: CLFS_LOG_RECORD_HEADER.LsnPrevious is 0x801, must be at most 0x7ff"
        ),
        "{err}"
    );
}

#[test]
fn verify_names_a_restart_chain_through_a_data_record() {
    use clfs_format::Lsn;
    let dir = scratch("verify-chain");
    let blf = write_log(&dir, true);
    relink(&dir, Lsn::INVALID, Lsn::new(0, 0x200, 0));
    let o = dump(&["--verify"], &blf);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("CLFS_LOG_RECORD_HEADER.LsnPrevious of stream 0 names 0:0x200:0: the restart chain names a record that is not a restart record"),
        "{err}"
    );
    // The same log with the restart record linking the first one is sound.
    relink(&dir, Lsn::INVALID, Lsn::NULL);
    assert!(dump(&["--verify"], &blf).status.success());
}

#[test]
fn a_corrupt_base_file_is_exit_1_with_the_rule() {
    let dir = scratch("base-crc");
    let blf = write_log(&dir, true);
    let mut bytes = std::fs::read(&blf).unwrap();
    bytes[0x900] ^= 1; // general block, primary
    bytes[0x8300] ^= 1; // general block, shadow
    std::fs::write(&blf, bytes).unwrap();
    let o = dump(&[], &blf);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("ledger.blf: block at 0x800: CLFS_LOG_BLOCK_HEADER.Checksum stored"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_exit_66() {
    let dir = scratch("missing");
    let o = dump(&[], &dir.join("nope.blf"));
    assert_eq!(o.status.code(), Some(66));
    assert!(stderr(&o).contains("nope.blf: "), "{}", stderr(&o));
}

#[test]
fn an_authentication_trailer_is_reported_and_ignored() {
    let dir = scratch("auth");
    let blf = write_log(&dir, true);
    let mut bytes = std::fs::read(&blf).unwrap();
    bytes.extend_from_slice(&[0x5a; 0x200]);
    std::fs::write(&blf, bytes).unwrap();
    let o = dump(&["--verify"], &blf);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(
        "note: authentication area found: 512 bytes after the metadata blocks at 0x10000 (Windows 11 log authentication); ignored"
    ));
}

#[test]
fn progress_goes_to_stderr_on_request() {
    let dir = scratch("progress");
    let blf = write_log(&dir, true);
    let o = dump(&["--progress", "--json"], &blf);
    assert!(
        stderr(&o).contains("clfs-dump: reading container 2/2: "),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("clfs-dump: 4 records read"));
    // stdout stays pure JSON.
    serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap();
}

#[test]
fn usage_errors_are_exit_2() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_clfs-dump"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
