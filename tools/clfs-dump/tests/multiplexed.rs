//! `clfs-dump` on multiplexed logs written by the clfs-format encoder in the emulator's layout:
//! streams and each record's stream in text and JSON, and `--verify` naming each broken
//! per-stream rule with its values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;
use common::mux::*;
use common::*;

use clfs_format::{Lsn, RECORD_TYPE_DATA, RECORD_TYPE_RESTART};

/// Runs `--verify` and returns the first broken rule it printed (exit status 1).
fn verify_error(blf: &std::path::Path) -> String {
    let o = dump(&["--verify"], blf);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("clfs-dump: verify: FAILED: "))
        .unwrap_or_else(|| panic!("{err}"));
    line.to_string()
}

#[test]
fn text_shows_the_physical_log_the_streams_and_each_records_stream() {
    let dir = scratch("mux-text");
    let blf = write_mux_log(&dir, |_| {});
    let o = dump(&["--verify", "--all", "--preview", "3"], &blf);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(": multiplexed without owner pages (the emulator's layout), log id 5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a, state 0x43,"),
        "{out}"
    );
    assert!(out.contains("streams: 3\n"), "{out}");
    assert!(out.contains("  stream 0 (physical log): base 0:0x200:0 last 0:0x800:0 restart INVALID archive-tail 0:0x200:0, 0 active records (\\??\\C:\\logs\\mux.blf)\n"), "{out}");
    assert!(out.contains("  stream 1: base 0:0x200:0 last 0:0x600:1 restart 0:0x600:1 archive-tail 0:0x200:0, 4 active records (orders)\n"), "{out}");
    assert!(out.contains("  stream 2: base 0:0x400:0 last 0:0x400:1 restart 0:0x400:1 archive-tail 0:0x400:0, 2 active records (audit)\n"), "{out}");
    // Every record line names its stream after its container.
    let streams: Vec<(String, String)> = out
        .lines()
        .skip_while(|l| !l.starts_with("records"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[w.len() - 2].to_string())
        })
        .collect();
    let want: Vec<(String, String)> = [
        (A2, 2),
        (A1, 1),
        (R1, 1),
        (B2, 2),
        (R2, 2),
        (B1, 1),
        (R1B, 1),
    ]
    .iter()
    .map(|(l, s)| (l.to_string(), format!("s{s}")))
    .collect();
    assert_eq!(streams, want, "{out}");
    assert!(out.ends_with("verify: OK\n"), "{out}");
}

#[test]
fn json_shows_the_layout_streams_and_each_records_stream() {
    let dir = scratch("mux-json");
    let blf = write_mux_log(&dir, |_| {});
    let o = dump(&["--json", "--verify"], &blf);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["layout"], "multiplexed");
    assert_eq!(v["multiplexed"], true);
    assert_eq!(v["verify"]["ok"], true);
    let streams = v["streams"].as_array().unwrap();
    let s: Vec<(u64, bool, u64, &str)> = streams
        .iter()
        .map(|s| {
            (
                s["id"].as_u64().unwrap(),
                s["physical"].as_bool().unwrap(),
                s["active_records"].as_u64().unwrap(),
                s["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        s,
        [
            (0, true, 0, "\\??\\C:\\logs\\mux.blf"),
            (1, false, 4, "orders"),
            (2, false, 2, "audit")
        ]
    );
    assert_eq!(streams[1]["last"], R1B.0);
    assert_eq!(streams[0]["unused1"], R1B.0);
    // Active records only (A2 lies behind stream 2's base), each with its stream.
    let recs: Vec<(u64, u64)> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["lsn"].as_u64().unwrap(), r["stream"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        recs,
        [
            (A1.0, 1),
            (R1.0, 1),
            (B2.0, 2),
            (R2.0, 2),
            (B1.0, 1),
            (R1B.0, 1)
        ]
    );
    assert_eq!(v["containers"][0]["owner_pages"], serde_json::json!([]));
}

#[test]
fn verify_names_a_block_whose_client_id_names_no_stream() {
    let dir = scratch("mux-unknown-stream");
    let blf = write_mux_log(&dir, |_| {});
    rewrite_mux_block(&blf, 0x400, 7, &[(RECORD_TYPE_DATA, Lsn::INVALID)]);
    assert_eq!(
        verify_error(&blf),
        "%BLF%\\muxContainer0: block at 0x400: CLFS_LOG_BLOCK_HEADER.ClientId is 7, which names no stream (the base record has no client context with that id)"
    );
    // --json carries the same verdict.
    let v: serde_json::Value =
        serde_json::from_slice(&dump(&["--json", "--verify"], &blf).stdout).unwrap();
    assert_eq!(v["verify"]["ok"], false);
    assert!(v["verify"]["error"]
        .as_str()
        .unwrap()
        .contains("ClientId is 7, which names no stream"));
}

#[test]
fn verify_names_a_stream_whose_base_lies_past_its_last_record() {
    let dir = scratch("mux-base-past-last");
    let blf = write_mux_log(&dir, |b| {
        b.clients[2].context.base = CURSOR;
        b.clients[2].context.archive_tail = CURSOR;
    });
    assert_eq!(
        verify_error(&blf),
        "mux.blf: block at 0x800: CLFS_CLIENT_CONTEXT.lsnBase of stream 2 is 0:0x800:0, after the stream's last record 0:0x400:1"
            .replace("mux.blf", &blf.display().to_string())
    );
}

#[test]
fn verify_names_a_restart_lsn_of_another_stream() {
    let dir = scratch("mux-foreign-restart");
    let blf = write_mux_log(&dir, |b| b.clients[2].context.restart = R1);
    assert_eq!(
        verify_error(&blf),
        format!(
            "{}: block at 0x800: CLFS_CLIENT_CONTEXT.lsnRestart of stream 2 names 0:0x200:1, a record of stream 1",
            blf.display()
        )
    );
}

#[test]
fn verify_names_a_link_into_another_stream() {
    let dir = scratch("mux-foreign-link");
    let blf = write_mux_log(&dir, |_| {});
    // Stream 1's data record links stream 2's data record.
    rewrite_mux_block(
        &blf,
        0x600,
        1,
        &[(RECORD_TYPE_DATA, B2), (RECORD_TYPE_RESTART, R1)],
    );
    assert_eq!(
        verify_error(&blf),
        "%BLF%\\muxContainer0: block at 0x600: CLFS_LOG_RECORD_HEADER.LsnPrevious of stream 1 names 0:0x400:0, a record of stream 2"
    );
}
