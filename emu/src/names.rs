//! Log and container names: `log:<path>[::<stream>]`, Windows paths, `%BLF%\` paths.

use std::path::{Path, PathBuf};

use crate::status::*;
use crate::types::NTSTATUS;

/// A parsed `log:` name.
pub(crate) struct LogName {
    /// The path of the base file relative to the sandbox root, without `.blf`.
    pub rel: PathBuf,
    /// `Some` for `log:<path>::<stream>` and `log:<path>::`.
    pub stream: Option<String>,
}

fn decode(w: &[u16]) -> Result<String, NTSTATUS> {
    let s = String::from_utf16(w).map_err(|_| STATUS_OBJECT_NAME_INVALID)?;
    if s.contains('\0') {
        return Err(STATUS_OBJECT_NAME_INVALID);
    }
    Ok(s)
}

fn bad_char(c: char) -> bool {
    matches!(c, '<' | '>' | '"' | '|' | '?' | '*' | ':') || (c as u32) < 0x20
}

/// Maps the components of a Windows path to a relative host path.
/// `absolute` requires a drive (`C:`) or a leading separator.
fn map_path(p: &str, absolute: bool, allow_drive: bool) -> Result<PathBuf, NTSTATUS> {
    let leading_sep = p.starts_with('\\') || p.starts_with('/');
    let mut comps: Vec<&str> = p.split(['\\', '/']).filter(|c| !c.is_empty()).collect();
    if allow_drive && comps.first() == Some(&"??") {
        comps.remove(0);
    }
    let mut out = PathBuf::new();
    let mut has_drive = false;
    for (i, c) in comps.iter().enumerate() {
        if *c == "." || *c == ".." {
            return Err(STATUS_OBJECT_NAME_INVALID);
        }
        let b = c.as_bytes();
        if allow_drive && i == 0 && b.len() == 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
            out.push(&c[..1]);
            has_drive = true;
            continue;
        }
        if c.chars().any(bad_char) || c.ends_with(' ') || c.ends_with('.') {
            return Err(STATUS_OBJECT_NAME_INVALID);
        }
        out.push(c);
    }
    if out.as_os_str().is_empty() || (has_drive && comps.len() < 2) {
        return Err(STATUS_OBJECT_NAME_INVALID);
    }
    if absolute && !has_drive && !leading_sep {
        return Err(STATUS_OBJECT_NAME_INVALID);
    }
    Ok(out)
}

/// Parses a `log:` name (prefix case-insensitive).
pub(crate) fn parse_log_name(w: &[u16]) -> Result<LogName, NTSTATUS> {
    let s = decode(w)?;
    let rest = match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("log:") => &s[4..],
        _ => return Err(STATUS_OBJECT_NAME_INVALID),
    };
    let (path, stream) = match rest.find("::") {
        Some(i) => (&rest[..i], Some(rest[i + 2..].to_string())),
        None => (rest, None),
    };
    if let Some(st) = &stream {
        if !st.is_empty() && !valid_stream_name(st) {
            return Err(STATUS_OBJECT_NAME_INVALID);
        }
    }
    Ok(LogName {
        rel: map_path(path, false, true)?,
        stream,
    })
}

/// Most UTF-16 units in a stream name (docs/decisions.md, "Multiplexed logs").
pub(crate) const MAX_STREAM_NAME: usize = 64;

/// The stream-name rules (docs/decisions.md, "Multiplexed logs"): 1 to [`MAX_STREAM_NAME`]
/// UTF-16 units; none of `\ / : * ? " < > |` nor a control character; not `.` or `..`; no
/// trailing space or period.
pub(crate) fn valid_stream_name(s: &str) -> bool {
    let units = s.encode_utf16().count();
    (1..=MAX_STREAM_NAME).contains(&units)
        && !s.chars().any(|c| bad_char(c) || c == '\\' || c == '/')
        && s != "."
        && s != ".."
        && !s.ends_with(' ')
        && !s.ends_with('.')
}

/// Stream names compare case-insensitively.
pub(crate) fn same_stream_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// The absolute base-file path (`<root>/<rel>.blf`).
pub(crate) fn base_file(root: &Path, rel: &Path) -> PathBuf {
    let mut p = root.join(rel).into_os_string();
    p.push(".blf");
    PathBuf::from(p)
}

/// Maps a container path: absolute Windows path under `root`, or `%BLF%\x` relative to the
/// base file's directory.
pub(crate) fn container_path(w: &[u16], root: &Path, base: &Path) -> Result<PathBuf, NTSTATUS> {
    let s = decode(w)?;
    // (`s[..5]` needs a char boundary at 5; once it is the ASCII `%BLF%`, byte 5 starts a
    // char, and an ASCII separator there puts a boundary at 6. A name whose fifth byte is
    // inside a character panicked here: docs/reliability.md, finding 10.)
    if s.len() >= 6 && s.is_char_boundary(5) && s[..5].eq_ignore_ascii_case("%BLF%") {
        let sep = s.as_bytes()[5];
        if sep == b':' {
            // CLFS_CONTAINER_STREAM_PREFIX: containers inside the BLF are not emulated.
            return Err(STATUS_NOT_SUPPORTED);
        }
        if sep != b'\\' && sep != b'/' {
            return Err(STATUS_OBJECT_NAME_INVALID);
        }
        let rel = &s[6..];
        if rel.starts_with('\\') || rel.starts_with('/') {
            return Err(STATUS_OBJECT_NAME_INVALID);
        }
        let rel = map_path(rel, false, false)?;
        let dir = base.parent().unwrap_or(root);
        return Ok(dir.join(rel));
    }
    Ok(root.join(map_path(&s, true, true)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn log_names() {
        let n = parse_log_name(&w("Log:C:\\logs\\a")).ok().map(|n| n.rel);
        assert_eq!(n, Some(PathBuf::from("C/logs/a")));
        let n = parse_log_name(&w("LOG:\\??\\C:\\x")).ok().map(|n| n.rel);
        assert_eq!(n, Some(PathBuf::from("C/x")));
        assert!(parse_log_name(&w("file:C:\\a")).is_err());
        assert!(parse_log_name(&w("log:")).is_err());
        assert!(parse_log_name(&w("log:C:\\a\\..\\b")).is_err());
        assert!(parse_log_name(&w("log:C:\\a\0b")).is_err());
        assert!(parse_log_name(&w("log:C:")).is_err());
        let n = parse_log_name(&w("log:C:\\a::s1"));
        assert_eq!(n.ok().and_then(|n| n.stream), Some("s1".to_string()));
        let n = parse_log_name(&w("log:C:\\a::"));
        assert_eq!(n.ok().and_then(|n| n.stream), Some(String::new()));
        for bad in ["a:b", "a*", "..", ".", "x.", "x ", "a\\b", "a\u{1}"] {
            let name = format!("log:C:\\a::{bad}");
            assert!(parse_log_name(&w(&name)).is_err(), "{name:?} accepted");
        }
        let long = "s".repeat(MAX_STREAM_NAME + 1);
        assert!(parse_log_name(&w(&format!("log:C:\\a::{long}"))).is_err());
        let ok = "s".repeat(MAX_STREAM_NAME);
        assert!(parse_log_name(&w(&format!("log:C:\\a::{ok}"))).is_ok());
        assert!(same_stream_name("Stream", "sTREAM"));
    }

    #[test]
    fn container_names() {
        let root = Path::new("/r");
        let base = Path::new("/r/C/logs/a.blf");
        assert_eq!(
            container_path(&w("%BLF%\\c0"), root, base).ok(),
            Some(PathBuf::from("/r/C/logs/c0"))
        );
        assert_eq!(
            container_path(&w("C:\\x\\c1"), root, base).ok(),
            Some(PathBuf::from("/r/C/x/c1"))
        );
        assert!(container_path(&w("relative\\c"), root, base).is_err());
        assert!(container_path(&w("%BLF%\\..\\c"), root, base).is_err());
        assert!(container_path(&w("%BLF%\\.\\c"), root, base).is_err());
        assert!(container_path(&w("%BLF%\\C:\\c"), root, base).is_err());
        // A character across byte 5 (here bytes 3..6): no slice inside it.
        assert_eq!(
            container_path(&w("%BL\u{20ac}x"), root, base).err(),
            Some(STATUS_OBJECT_NAME_INVALID)
        );
        assert_eq!(
            container_path(&w("%BLF%\u{20ac}x"), root, base).err(),
            Some(STATUS_OBJECT_NAME_INVALID)
        );
    }
}
