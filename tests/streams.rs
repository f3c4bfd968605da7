//! Multiplexed logs through the safe API (issue 12): `log:` names and their kinds, the
//! preconditions checked before Clfs.sys is called, and what the emulator answers when the
//! same bad input comes through the raw seam.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use clfs::{Error, LogFile, LogKind, LogNameError, LogOptions, NtStatus};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, w};

/// Every `log:` name rule, with the error and the message a driver author sees.
fn bad_names() -> Vec<(String, LogNameError, &'static str)> {
    let long = format!("log:C:\\t\\mux::{}", "s".repeat(65));
    vec![
        (
            "C:\\t\\no-prefix".into(),
            LogNameError::MissingPrefix {
                start: [b'C' as u16, b':' as u16, b'\\' as u16, b't' as u16],
                len: 4,
            },
            "invalid log name: the name starts with \"C:\\\\t\"; a log name starts with \"log:\" (in any case)",
        ),
        (
            "log:::stream".into(),
            LogNameError::EmptyPath,
            "invalid log name: no physical log path between \"log:\" and the end or \"::\"; a log name has a physical log path after \"log:\"",
        ),
        (
            long,
            LogNameError::StreamNameTooLong { len: 65, max: 64 },
            "invalid log name: stream name is 65 UTF-16 units long; a stream name is at most 64 UTF-16 units long",
        ),
        (
            "log:C:\\t\\mux::ab*".into(),
            LogNameError::StreamNameChar {
                unit: b'*' as u16,
                position: 2,
            },
            "invalid log name: stream name has '*' (U+002A) at UTF-16 unit 2 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::a\\b".into(),
            LogNameError::StreamNameChar {
                unit: b'\\' as u16,
                position: 1,
            },
            "invalid log name: stream name has '\\\\' (U+005C) at UTF-16 unit 1 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::a::b".into(),
            LogNameError::StreamNameChar {
                unit: b':' as u16,
                position: 1,
            },
            "invalid log name: stream name has ':' (U+003A) at UTF-16 unit 1 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::x\u{7}".into(),
            LogNameError::StreamNameChar {
                unit: 7,
                position: 1,
            },
            "invalid log name: stream name has U+0007 at UTF-16 unit 1 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)",
        ),
        (
            "log:C:\\t\\mux::.".into(),
            LogNameError::StreamNameDots { dots: 1 },
            "invalid log name: stream name is \".\"; a stream name may not be \".\" or \"..\"",
        ),
        (
            "log:C:\\t\\mux::..".into(),
            LogNameError::StreamNameDots { dots: 2 },
            "invalid log name: stream name is \"..\"; a stream name may not be \".\" or \"..\"",
        ),
        (
            "log:C:\\t\\mux::audit ".into(),
            LogNameError::StreamNameEnd {
                unit: b' ' as u16,
                position: 5,
            },
            "invalid log name: stream name ends in ' ' (U+0020) at UTF-16 unit 5; a stream name may not end in a space or a period",
        ),
        (
            "log:C:\\t\\mux::audit.".into(),
            LogNameError::StreamNameEnd {
                unit: b'.' as u16,
                position: 5,
            },
            "invalid log name: stream name ends in '.' (U+002E) at UTF-16 unit 5; a stream name may not end in a space or a period",
        ),
    ]
}

/// Each bad name is refused by `create`, `delete_named` and `delete_named_with` with the
/// typed error and its message, and the emulator shows that Clfs.sys was never called.
#[test]
fn bad_names_are_refused_before_the_call() {
    let sb = Sandbox::new();
    for (name, rule, message) in bad_names() {
        let name_w = w(&name);
        for disposition in [
            LogOptions::new(),
            LogOptions::new().create_if_missing(),
            LogOptions::new().create_new(),
        ] {
            let err = LogFile::create(&name_w, disposition).unwrap_err();
            assert_eq!(err, Error::InvalidLogName(rule), "{name}");
            assert_eq!(err.to_string(), message, "{name}");
            assert_eq!(err.ntstatus(), NtStatus::OBJECT_NAME_INVALID, "{name}");
            assert!(err.refused_before_call(), "{name}");
        }
        assert_eq!(
            LogFile::delete_named(&name_w).unwrap_err(),
            Error::InvalidLogName(rule),
            "{name}"
        );
        assert_eq!(
            LogFile::delete_named_with(&name_w, &LogOptions::new()).unwrap_err(),
            Error::InvalidLogName(rule),
            "{name}"
        );
    }
    let stats = sb.stats();
    assert_eq!(stats.calls("ClfsCreateLogFile"), 0, "Clfs.sys never called");
    assert_eq!(stats.calls("ClfsDeleteLogFile"), 0, "Clfs.sys never called");
    assert_eq!(stats.clfs_calls(), 0, "no CLFS routine called at all");
    assert!(
        std::fs::read_dir(sb.root())
            .map(|mut d| d.next().is_none())
            .unwrap_or(true),
        "nothing was created on disk"
    );
    assert_no_leaks(&sb);
}

/// The longest allowed stream name and the allowed characters pass the check; the name
/// reaches Clfs.sys (counted), whatever it then answers.
#[test]
fn good_names_reach_the_call() {
    let sb = Sandbox::new();
    let longest = format!("log:C:\\t\\mux-ok::{}", "s".repeat(64));
    for name in [
        longest.as_str(),
        "LOG:C:\\t\\mux-ok::.hidden stream-1_\u{e9}",
        "Log:C:\\t\\mux-ok::",
    ] {
        let calls = sb.stats().calls("ClfsCreateLogFile");
        if let Err(err) = LogFile::create(&w(name), LogOptions::new().create_if_missing()) {
            assert!(
                !matches!(err, Error::InvalidLogName(_)),
                "{name} refused: {err}"
            );
        }
        assert_eq!(sb.stats().calls("ClfsCreateLogFile"), calls + 1, "{name}");
    }
    assert_no_leaks(&sb);
}

/// A `LogFile` knows what its name opened; one taken over with `from_raw` does not.
#[test]
fn a_dedicated_log_knows_its_kind() {
    let sb = Sandbox::new();
    let log = LogFile::create(
        &w("log:C:\\t\\kind-dedicated"),
        LogOptions::new().create_if_missing(),
    )
    .unwrap();
    assert_eq!(log.kind(), Some(LogKind::Dedicated));
    assert_eq!(log.access(), Some(clfs::Access::READ | clfs::Access::WRITE));
    // SAFETY: the object from `into_raw` goes straight back to a new owner.
    let log = unsafe { LogFile::from_raw(log.into_raw()) };
    assert_eq!((log.kind(), log.access()), (None, None));
    log.close().unwrap();
    assert_no_leaks(&sb);
}
