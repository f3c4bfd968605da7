//! `log:` names (reference §1.1, §4.9): which kind of log a name opens, and the stream-name
//! rules, checked before Clfs.sys is called.
//!
//! | name | kind | opens |
//! |---|---|---|
//! | `log:<path>` | [`LogKind::Dedicated`] | a dedicated log and its one stream |
//! | `log:<path>::<stream>` | [`LogKind::Stream`] | one stream of a multiplexed log (the physical log is created if missing) |
//! | `log:<path>::` | [`LogKind::Physical`] | the physical log of a multiplexed log: containers, queries and scans, no records |
//!
//! The `log:` prefix is matched in any case, and the first `::` (read left to right) ends the
//! physical log's path. A stream name (the part after `::`) is 1 to [`MAX_STREAM_NAME`]
//! UTF-16 units long, holds none of `\ / : * ? " < > |` and no control character (below
//! U+0020), is not `.` or `..`, and does not end in a space or a period. Stream names compare
//! case-insensitively (`Audit` and `audit` are one stream). These rules are the project's
//! (`docs/decisions.md`, "Stream names"): the DDI names no rule of its own.
//!
//! ```
//! use clfs::{wide, LogKind, LogName};
//! let name = LogName::parse(wide!("Log:C:\\logs\\shared::audit"))?;
//! assert_eq!(name.kind(), LogKind::Stream);
//! assert_eq!(name.physical_path(), wide!("C:\\logs\\shared"));
//! assert_eq!(name.stream(), Some(wide!("audit")));
//! assert_eq!(LogName::parse(wide!("log:C:\\logs\\shared::"))?.kind(), LogKind::Physical);
//! assert_eq!(LogName::parse(wide!("log:C:\\logs\\own"))?.kind(), LogKind::Dedicated);
//!
//! let err = LogName::parse(wide!("log:C:\\logs\\shared::a*b")).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid log name: stream name has '*' (U+002A) at UTF-16 unit 1 of the stream name; \
//!      a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)"
//! );
//! # Ok::<(), clfs::Error>(())
//! ```

use core::fmt;

use crate::error::{Error, Result};

/// The longest stream name, in UTF-16 units (`docs/decisions.md`, "Stream names").
pub const MAX_STREAM_NAME: usize = 64;

/// The most streams one multiplexed log holds: stream ids 1..=123; id 0 is the physical
/// stream, and CLFS keeps at most 124 client contexts (`MAX_CLIENTS_DEFAULT`, reference
/// §2.13) per physical log.
pub const MAX_STREAMS: u32 = 123;

/// What a `log:` name opens.
///
/// ```
/// use clfs::{wide, LogFile, LogKind, LogOptions};
/// # let _sandbox = clfs_emu::Sandbox::new();
/// let log = LogFile::create(wide!("log:C:\\logs\\doc-kind"), LogOptions::new().create_if_missing())?;
/// assert_eq!(log.kind(), Some(LogKind::Dedicated));
/// # Ok::<(), clfs::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// `log:<path>`: a dedicated log; its one stream has the log to itself.
    Dedicated,
    /// `log:<path>::<stream>`: one stream of a multiplexed log. Its LSNs are its own: they
    /// are not comparable with the LSNs of another stream of the same log ([`Lsn`](crate::Lsn)).
    Stream,
    /// `log:<path>::`: the physical log of a multiplexed log. It adds and removes
    /// containers, is queried and scanned, but holds no records of its own: a marshalling
    /// area on it is refused ([`Error::PhysicalLog`]).
    Physical,
}

impl fmt::Display for LogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogKind::Dedicated => "dedicated log",
            LogKind::Stream => "stream of a multiplexed log",
            LogKind::Physical => "physical log of a multiplexed log",
        })
    }
}

/// A checked `log:` name, borrowed from the caller's UTF-16 slice: the physical log's path
/// and, for a multiplexed log, the stream name. [`LogFile::create`](crate::LogFile::create)
/// and [`LogFile::delete_named`](crate::LogFile::delete_named) parse their name with
/// [`LogName::parse`] and refuse a bad one before calling Clfs.sys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogName<'a> {
    path: &'a [u16],
    /// `None`: dedicated; `Some(empty)`: physical; `Some(name)`: a stream.
    stream: Option<&'a [u16]>,
}

const PREFIX: [u16; 4] = [b'l' as u16, b'o' as u16, b'g' as u16, b':' as u16];
const COLON: u16 = b':' as u16;

impl<'a> LogName<'a> {
    /// Parses and checks `name` (module docs: the forms and the stream-name rules). Only the
    /// stream name's rules are checked here, and that the name has the `log:` prefix and a
    /// non-empty path; the path itself is the file system's to judge, at the call. No
    /// allocation; the result borrows `name`.
    ///
    /// IRQL: any.
    pub fn parse(name: &'a [u16]) -> Result<LogName<'a>> {
        parse(name).map_err(Error::InvalidLogName)
    }

    /// Which kind of log the name opens.
    ///
    /// IRQL: any.
    pub const fn kind(&self) -> LogKind {
        match self.stream {
            None => LogKind::Dedicated,
            Some([]) => LogKind::Physical,
            Some(_) => LogKind::Stream,
        }
    }

    /// The physical log's path: what follows `log:`, up to the first `::` (without `.blf`).
    ///
    /// IRQL: any.
    pub const fn physical_path(&self) -> &'a [u16] {
        self.path
    }

    /// The stream name, for [`LogKind::Stream`]; `None` for the other kinds.
    ///
    /// IRQL: any.
    pub const fn stream(&self) -> Option<&'a [u16]> {
        match self.stream {
            Some([]) | None => None,
            Some(s) => Some(s),
        }
    }
}

/// Which rule of a `log:` name is broken ([`Error::InvalidLogName`]), with the offending
/// value. Positions count UTF-16 units from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogNameError {
    /// The name does not start with `log:` (in any case).
    MissingPrefix {
        /// The name's first UTF-16 units (up to four).
        start: [u16; 4],
        /// How many of `start` the name has (0 to 4).
        len: u8,
    },
    /// Nothing between `log:` and the end of the name or the first `::`.
    EmptyPath,
    /// A stream name longer than [`MAX_STREAM_NAME`].
    StreamNameTooLong {
        /// Its length in UTF-16 units.
        len: usize,
        /// [`MAX_STREAM_NAME`].
        max: usize,
    },
    /// A stream name with a character it may not hold: `\ / : * ? " < > |` or a control
    /// character (below U+0020).
    StreamNameChar {
        /// The UTF-16 unit.
        unit: u16,
        /// Its position in the stream name.
        position: usize,
    },
    /// A stream name of `.` or `..`.
    StreamNameDots {
        /// 1 for `.`, 2 for `..`.
        dots: u8,
    },
    /// A stream name that ends in a space or a period.
    StreamNameEnd {
        /// The last UTF-16 unit (a space or a period).
        unit: u16,
        /// Its position in the stream name.
        position: usize,
    },
}

impl LogNameError {
    /// The broken rule, as a sentence (without the offending value).
    ///
    /// IRQL: any.
    pub const fn rule(&self) -> &'static str {
        match self {
            LogNameError::MissingPrefix { .. } => "a log name starts with \"log:\" (in any case)",
            LogNameError::EmptyPath => "a log name has a physical log path after \"log:\"",
            LogNameError::StreamNameTooLong { .. } => {
                "a stream name is at most 64 UTF-16 units long"
            }
            LogNameError::StreamNameChar { .. } => {
                "a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)"
            }
            LogNameError::StreamNameDots { .. } => "a stream name may not be \".\" or \"..\"",
            LogNameError::StreamNameEnd { .. } => {
                "a stream name may not end in a space or a period"
            }
        }
    }
}

/// Writes one UTF-16 unit as `'c' (U+XXXX)`, or `U+XXXX` for a control character or a lone
/// surrogate.
struct Unit(u16);

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match char::from_u32(u32::from(self.0)) {
            Some(c) if !c.is_control() => write!(f, "{c:?} (U+{:04X})", self.0),
            _ => write!(f, "U+{:04X}", self.0),
        }
    }
}

impl fmt::Display for LogNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LogNameError::MissingPrefix { start, len } => {
                f.write_str("the name starts with \"")?;
                let start = start.get(..usize::from(len)).unwrap_or(&[]);
                for c in char::decode_utf16(start.iter().copied()) {
                    let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                    write!(f, "{}", c.escape_debug())?;
                }
                write!(f, "\"; {}", self.rule())
            }
            LogNameError::EmptyPath => {
                write!(f, "no physical log path between \"log:\" and the end or \"::\"; {}", self.rule())
            }
            LogNameError::StreamNameTooLong { len, max } => write!(
                f,
                "stream name is {len} UTF-16 units long; a stream name is at most {max} UTF-16 units long"
            ),
            LogNameError::StreamNameChar { unit, position } => write!(
                f,
                "stream name has {} at UTF-16 unit {position} of the stream name; {}",
                Unit(unit),
                self.rule()
            ),
            LogNameError::StreamNameDots { dots } => write!(
                f,
                "stream name is \"{}\"; {}",
                if dots == 1 { "." } else { ".." },
                self.rule()
            ),
            LogNameError::StreamNameEnd { unit, position } => write!(
                f,
                "stream name ends in {} at UTF-16 unit {position}; {}",
                Unit(unit),
                self.rule()
            ),
        }
    }
}

impl core::error::Error for LogNameError {}

fn parse(name: &[u16]) -> core::result::Result<LogName<'_>, LogNameError> {
    let has_prefix = name.len() >= PREFIX.len()
        && name
            .iter()
            .zip(PREFIX)
            .all(|(&u, p)| u == p || (u < 0x80 && (u as u8).to_ascii_lowercase() == p as u8));
    let Some(rest) = name.get(PREFIX.len()..).filter(|_| has_prefix) else {
        let mut start = [0u16; 4];
        let len = name.len().min(4);
        for (slot, &u) in start.iter_mut().zip(name) {
            *slot = u;
        }
        return Err(LogNameError::MissingPrefix {
            start,
            len: len as u8,
        });
    };
    let split = rest.windows(2).position(|w| w == [COLON, COLON]);
    let (path, stream) = match split {
        Some(i) => (
            rest.get(..i).unwrap_or(&[]),
            Some(rest.get(i + 2..).unwrap_or(&[])),
        ),
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(LogNameError::EmptyPath);
    }
    if let Some(stream) = stream {
        check_stream_name(stream)?;
    }
    Ok(LogName { path, stream })
}

/// The stream-name rules; an empty name (the physical log, `log:<path>::`) passes.
fn check_stream_name(s: &[u16]) -> core::result::Result<(), LogNameError> {
    if s.len() > MAX_STREAM_NAME {
        return Err(LogNameError::StreamNameTooLong {
            len: s.len(),
            max: MAX_STREAM_NAME,
        });
    }
    const BAD: &[u8] = b"\\/:*?\"<>|";
    if let Some(position) = s
        .iter()
        .position(|&u| u < 0x20 || (u < 0x80 && BAD.contains(&(u as u8))))
    {
        return Err(LogNameError::StreamNameChar {
            unit: s.get(position).copied().unwrap_or(0),
            position,
        });
    }
    const DOT: u16 = b'.' as u16;
    match s {
        [DOT] => return Err(LogNameError::StreamNameDots { dots: 1 }),
        [DOT, DOT] => return Err(LogNameError::StreamNameDots { dots: 2 }),
        _ => {}
    }
    if let Some(&last @ (DOT | 0x20)) = s.last() {
        return Err(LogNameError::StreamNameEnd {
            unit: last,
            position: s.len() - 1,
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::panic)] // test code: a panic is a failure report
mod tests {
    use super::*;
    use std::format;
    use std::string::ToString;
    use std::vec::Vec;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn err(s: &str) -> LogNameError {
        match parse(&w(s)) {
            Err(e) => e,
            Ok(n) => panic!("{s} parsed as {n:?}"),
        }
    }

    #[test]
    fn kinds_and_parts() {
        let name = w("LOG:C:\\a\\b::s1::more");
        // The first `::` splits, so the stream name holds ':' and is refused.
        assert_eq!(
            parse(&name).err(),
            Some(LogNameError::StreamNameChar {
                unit: b':' as u16,
                position: 2
            })
        );
        let name = w("lOg:C:\\a::Stream 1");
        let n = parse(&name).expect("valid");
        assert_eq!(n.kind(), LogKind::Stream);
        assert_eq!(n.physical_path(), &w("C:\\a")[..]);
        assert_eq!(n.stream(), Some(&w("Stream 1")[..]));
        let name = w("log:C:\\a::");
        let n = parse(&name).expect("valid");
        assert_eq!((n.kind(), n.stream()), (LogKind::Physical, None));
        let name = w("log:C:\\a:b");
        let n = parse(&name).expect("valid");
        assert_eq!(
            (n.kind(), n.physical_path()),
            (LogKind::Dedicated, &w("C:\\a:b")[..])
        );
        // ":::" splits at the first "::", leaving ":" as the stream name.
        assert!(matches!(
            err("log:C:\\a:::"),
            LogNameError::StreamNameChar { position: 0, .. }
        ));
    }

    #[test]
    fn every_rule_with_its_value() {
        assert_eq!(
            err("C:\\x").to_string(),
            "the name starts with \"C:\\\\x\"; a log name starts with \"log:\" (in any case)"
        );
        assert_eq!(
            err("lo"),
            LogNameError::MissingPrefix {
                start: [b'l' as u16, b'o' as u16, 0, 0],
                len: 2
            }
        );
        assert_eq!(err("log:"), LogNameError::EmptyPath);
        assert_eq!(err("log:::s"), LogNameError::EmptyPath);
        let long = format!("log:C:\\a::{}", "x".repeat(65));
        assert_eq!(
            err(&long).to_string(),
            "stream name is 65 UTF-16 units long; a stream name is at most 64 UTF-16 units long"
        );
        assert!(parse(&w(&format!("log:C:\\a::{}", "x".repeat(64)))).is_ok());
        for (i, c) in "\\/:*?\"<>|".chars().enumerate() {
            let e = err(&format!("log:C:\\a::ab{c}"));
            assert_eq!(
                e,
                LogNameError::StreamNameChar {
                    unit: c as u16,
                    position: 2
                },
                "{i}"
            );
        }
        assert_eq!(
            err("log:C:\\a::a\tb").to_string(),
            "stream name has U+0009 at UTF-16 unit 1 of the stream name; a stream name may not contain \\ / : * ? \" < > | or a control character (below U+0020)"
        );
        assert_eq!(
            err("log:C:\\a::\0"),
            LogNameError::StreamNameChar {
                unit: 0,
                position: 0
            }
        );
        assert_eq!(
            err("log:C:\\a::.").to_string(),
            "stream name is \".\"; a stream name may not be \".\" or \"..\""
        );
        assert_eq!(
            err("log:C:\\a::.."),
            LogNameError::StreamNameDots { dots: 2 }
        );
        assert_eq!(
            err("log:C:\\a::ab.").to_string(),
            "stream name ends in '.' (U+002E) at UTF-16 unit 2; a stream name may not end in a space or a period"
        );
        assert_eq!(
            err("log:C:\\a::ab "),
            LogNameError::StreamNameEnd {
                unit: 0x20,
                position: 2
            }
        );
        // Allowed: inner dots and spaces, non-ASCII, a leading period, "...".
        for ok in [
            "log:C:\\a::a.b c",
            "log:C:\\a::\u{e9}t\u{e9}",
            "log:C:\\a::.hidden",
            "log:C:\\a::...x",
        ] {
            assert!(parse(&w(ok)).is_ok(), "{ok}");
        }
    }
}
