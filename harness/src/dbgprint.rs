//! `DbgPrint` / `DbgPrintEx`: a minimal formatter for the kernel's `printf`-style debug output.
//!
//! The variadic entry points (assembly in [`crate::ntos`]) spill the four register arguments
//! into their home slots and pass a pointer to the resulting array of 8-byte argument slots
//! (win64 passes every variadic argument in one 8-byte slot, floating point included). The
//! formatter consumes one slot per conversion, exactly as many as the format asks for, and
//! at most [`MAX_ARGS`].
//!
//! Supported: flags `-+ #0`, width and precision (digits or `*`), the sizes `h hh l ll w I I32
//! I64 z`, and the conversions `d i u x X o c C s S Z wZ p %` (`%s` ANSI, `%ws`/`%S` UTF-16,
//! `%Z` an `ANSI_STRING*`, `%wZ` a `UNICODE_STRING*`). `l` is 32 bits (LLP64). Anything else
//! is printed as written. Output goes to stderr, prefixed with `[driver]`, and is kept per
//! thread for [`take_output`].

use std::cell::RefCell;

/// The most argument slots one call may consume.
pub const MAX_ARGS: usize = 32;

/// The longest string a `%s`-style conversion reads.
const MAX_STR: usize = 4096;

thread_local! {
    static OUTPUT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Takes the debug output the driver printed on this thread so far.
pub fn take_output() -> String {
    OUTPUT.with(|o| std::mem::take(&mut *o.borrow_mut()))
}

/// Where a formatter gets its arguments and the strings they point to.
pub trait VaSource {
    /// The next 8-byte argument slot (0 once [`MAX_ARGS`] are consumed).
    fn next(&mut self) -> u64;
    /// A NUL-terminated 8-bit string at `p` (`(null)` for 0).
    fn ansi(&self, p: u64) -> String;
    /// A NUL-terminated UTF-16 string at `p`.
    fn wide(&self, p: u64) -> String;
    /// A counted string (`ANSI_STRING*` if `!wide`, `UNICODE_STRING*` if `wide`) at `p`.
    fn counted(&self, p: u64, wide: bool) -> String;
}

#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
}

fn pad(out: &mut String, spec: &Spec, sign: &str, prefix: &str, body: &str) {
    let len = sign.len() + prefix.len() + body.len();
    let fill = spec.width.saturating_sub(len).min(1024);
    if spec.left {
        out.push_str(sign);
        out.push_str(prefix);
        out.push_str(body);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero && spec.precision.is_none() {
        out.push_str(sign);
        out.push_str(prefix);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(body);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(sign);
        out.push_str(prefix);
        out.push_str(body);
    }
}

/// Formats `fmt` with arguments from `src`.
pub fn format(fmt: &[u8], src: &mut dyn VaSource) -> String {
    let mut out = String::new();
    let mut i = 0;
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    while i < fmt.len() {
        let c = at(i);
        if c != b'%' {
            // Copy the literal run (lossy UTF-8).
            let start = i;
            while i < fmt.len() && at(i) != b'%' {
                i += 1;
            }
            out.push_str(&String::from_utf8_lossy(
                fmt.get(start..i).unwrap_or_default(),
            ));
            continue;
        }
        let start = i;
        i += 1;
        let mut spec = Spec::default();
        loop {
            match at(i) {
                b'-' => spec.left = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alt = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if at(i) == b'*' {
            spec.width = src.next() as u32 as i32 as usize;
            i += 1;
        } else {
            while at(i).is_ascii_digit() {
                spec.width = spec
                    .width
                    .saturating_mul(10)
                    .saturating_add(usize::from(at(i) - b'0'));
                i += 1;
            }
        }
        if at(i) == b'.' {
            i += 1;
            let mut p = 0usize;
            if at(i) == b'*' {
                p = src.next() as u32 as usize;
                i += 1;
            } else {
                while at(i).is_ascii_digit() {
                    p = p
                        .saturating_mul(10)
                        .saturating_add(usize::from(at(i) - b'0'));
                    i += 1;
                }
            }
            spec.precision = Some(p.min(1024));
        }
        // Size: bits of an integer argument, and "wide" for strings/chars.
        let mut bits = 32u32;
        let mut wide: Option<bool> = None;
        if fmt.get(i..i + 3) == Some(b"I64") {
            bits = 64;
            i += 3;
        } else if fmt.get(i..i + 3) == Some(b"I32") {
            bits = 32;
            i += 3;
        } else if fmt.get(i..i + 2) == Some(b"ll") {
            bits = 64;
            i += 2;
        } else if fmt.get(i..i + 2) == Some(b"hh") {
            bits = 8;
            i += 2;
        } else {
            match at(i) {
                b'I' | b'z' => {
                    bits = 64;
                    i += 1;
                }
                b'l' => {
                    wide = Some(true);
                    i += 1;
                }
                b'h' => {
                    bits = 16;
                    wide = Some(false);
                    i += 1;
                }
                b'w' => {
                    wide = Some(true);
                    i += 1;
                }
                _ => {}
            }
        }
        let conv = at(i);
        i += 1;
        match conv {
            b'%' => out.push('%'),
            b'd' | b'i' => {
                let raw = src.next();
                let v: i64 = match bits {
                    8 => i64::from(raw as i8),
                    16 => i64::from(raw as i16),
                    32 => i64::from(raw as i32),
                    _ => raw as i64,
                };
                let sign = if v < 0 {
                    "-"
                } else if spec.plus {
                    "+"
                } else if spec.space {
                    " "
                } else {
                    ""
                };
                let mut body = v.unsigned_abs().to_string();
                if let Some(p) = spec.precision {
                    while body.len() < p {
                        body.insert(0, '0');
                    }
                }
                pad(&mut out, &spec, sign, "", &body);
            }
            b'u' | b'x' | b'X' | b'o' => {
                let raw = src.next();
                let v = match bits {
                    8 => raw & 0xFF,
                    16 => raw & 0xFFFF,
                    32 => raw & 0xFFFF_FFFF,
                    _ => raw,
                };
                let mut body = match conv {
                    b'u' => v.to_string(),
                    b'x' => format!("{v:x}"),
                    b'X' => format!("{v:X}"),
                    _ => format!("{v:o}"),
                };
                if let Some(p) = spec.precision {
                    while body.len() < p {
                        body.insert(0, '0');
                    }
                }
                let prefix = match (spec.alt && v != 0, conv) {
                    (true, b'x') => "0x",
                    (true, b'X') => "0X",
                    (true, b'o') => "0",
                    _ => "",
                };
                pad(&mut out, &spec, "", prefix, &body);
            }
            b'p' => {
                let v = src.next();
                pad(&mut out, &spec, "", "", &format!("{v:016X}"));
            }
            b'c' | b'C' => {
                let v = src.next();
                let w = wide.unwrap_or(conv == b'C');
                let ch = if w {
                    char::from_u32(v as u32 & 0xFFFF).unwrap_or('\u{FFFD}')
                } else {
                    char::from(v as u8)
                };
                pad(&mut out, &spec, "", "", &ch.to_string());
            }
            b's' | b'S' => {
                let p = src.next();
                let w = wide.unwrap_or(conv == b'S');
                let mut s = if p == 0 {
                    "(null)".to_string()
                } else if w {
                    src.wide(p)
                } else {
                    src.ansi(p)
                };
                if let Some(n) = spec.precision {
                    s = s.chars().take(n).collect();
                }
                pad(&mut out, &spec, "", "", &s);
            }
            b'Z' => {
                let p = src.next();
                let s = if p == 0 {
                    "(null)".to_string()
                } else {
                    src.counted(p, wide == Some(true))
                };
                pad(&mut out, &spec, "", "", &s);
            }
            _ => {
                // Unknown conversion: print it as written; consume nothing.
                let end = i.min(fmt.len());
                out.push_str(&String::from_utf8_lossy(
                    fmt.get(start..end).unwrap_or_default(),
                ));
            }
        }
    }
    out
}

/// Arguments read from the win64 argument array the assembly entry points pass.
struct Win64Args {
    slots: *const u64,
    next: usize,
}

impl VaSource for Win64Args {
    fn next(&mut self) -> u64 {
        if self.next >= MAX_ARGS {
            return 0;
        }
        let p = self.slots.wrapping_add(self.next);
        self.next += 1;
        // SAFETY: the slot is one of the caller's arguments: the format asked for it, and a
        // caller passes as many arguments as its format consumes (the printf contract).
        unsafe { p.read_unaligned() }
    }

    fn ansi(&self, p: u64) -> String {
        let p = p as *const u8;
        let mut v = Vec::new();
        while v.len() < MAX_STR {
            let q = p.wrapping_add(v.len());
            // SAFETY: a NUL-terminated string the driver passed for `%s`.
            let b = unsafe { q.read() };
            if b == 0 {
                break;
            }
            v.push(b);
        }
        String::from_utf8_lossy(&v).into_owned()
    }

    fn wide(&self, p: u64) -> String {
        let p = p as *const u16;
        let mut v = Vec::new();
        while v.len() < MAX_STR {
            let q = p.wrapping_add(v.len());
            // SAFETY: a NUL-terminated UTF-16 string the driver passed for `%ws`/`%S`.
            let u = unsafe { q.read_unaligned() };
            if u == 0 {
                break;
            }
            v.push(u);
        }
        String::from_utf16_lossy(&v)
    }

    fn counted(&self, p: u64, wide: bool) -> String {
        if wide {
            // SAFETY: a valid UNICODE_STRING the driver passed for `%wZ`.
            let units = unsafe { crate::ntos::unicode_units(p as *const _) };
            String::from_utf16_lossy(&units)
        } else {
            // ANSI_STRING: u16 Length, u16 MaximumLength, (pad), PCHAR Buffer at offset 8.
            let base = p as *const u8;
            // SAFETY: a valid ANSI_STRING the driver passed for `%Z`.
            let len = unsafe { base.cast::<u16>().read_unaligned() };
            // SAFETY: as above; the buffer pointer is at offset 8 on x64.
            let buf = unsafe { base.wrapping_add(8).cast::<*const u8>().read_unaligned() };
            if buf.is_null() {
                return String::new();
            }
            let mut v = Vec::with_capacity(usize::from(len));
            for i in 0..usize::from(len) {
                let q = buf.wrapping_add(i);
                // SAFETY: the buffer holds `Length` bytes.
                v.push(unsafe { q.read() });
            }
            String::from_utf8_lossy(&v).into_owned()
        }
    }
}

fn emit(level: Option<(u32, u32)>, text: &str) {
    match level {
        Some((component, level)) => eprint!("[driver {component}/{level}] {text}"),
        None => eprint!("[driver] {text}"),
    }
    if !text.ends_with('\n') {
        eprintln!();
    }
    OUTPUT.with(|o| o.borrow_mut().push_str(text));
}

/// `DbgPrint`'s body: `args[0]` is the format, the variadic arguments follow.
///
/// # Safety
/// `args` points to the caller's argument slots (the assembly entry point's home area and
/// stack arguments); the format is a NUL-terminated string matching the arguments.
pub(crate) unsafe extern "win64" fn dbg_print(args: *const u64) -> u32 {
    // SAFETY: slot 0 is the format argument.
    let fmt = unsafe { args.read_unaligned() };
    if fmt == 0 {
        return 0;
    }
    let mut src = Win64Args {
        slots: args.wrapping_add(1),
        next: 0,
    };
    let text = format(src.ansi(fmt).as_bytes(), &mut src);
    emit(None, &text);
    0
}

/// `DbgPrintEx`'s body: `args[0]` component, `args[1]` level, `args[2]` format, then the
/// variadic arguments. Every level is printed (there is no debug filter mask here).
///
/// # Safety
/// As [`dbg_print`].
pub(crate) unsafe extern "win64" fn dbg_print_ex(args: *const u64) -> u32 {
    // SAFETY: slots 0..3 are the fixed arguments.
    let component = unsafe { args.read_unaligned() } as u32;
    let level_slot = args.wrapping_add(1);
    // SAFETY: as above.
    let level = unsafe { level_slot.read_unaligned() } as u32;
    let fmt_slot = args.wrapping_add(2);
    // SAFETY: as above.
    let fmt = unsafe { fmt_slot.read_unaligned() };
    if fmt == 0 {
        return 0;
    }
    let mut src = Win64Args {
        slots: args.wrapping_add(3),
        next: 0,
    };
    let text = format(src.ansi(fmt).as_bytes(), &mut src);
    emit(Some((component, level)), &text);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vals(Vec<u64>, usize);

    impl VaSource for Vals {
        fn next(&mut self) -> u64 {
            let v = self.0.get(self.1).copied().unwrap_or(0);
            self.1 += 1;
            v
        }
        fn ansi(&self, p: u64) -> String {
            format!("<a{p}>")
        }
        fn wide(&self, p: u64) -> String {
            format!("<w{p}>")
        }
        fn counted(&self, p: u64, wide: bool) -> String {
            format!("<c{p}{wide}>")
        }
    }

    fn f(fmt: &str, args: &[u64]) -> String {
        format(fmt.as_bytes(), &mut Vals(args.to_vec(), 0))
    }

    #[test]
    fn formats_the_kernel_conversions() {
        assert_eq!(
            f("lsn 0x%016I64x\n", &[0x1234_0000_0001]),
            "lsn 0x0000123400000001\n"
        );
        assert_eq!(
            f("status 0x%08x", &[0xFFFF_FFFF_C000_0001]),
            "status 0xc0000001"
        );
        assert_eq!(
            f("%d %i %u", &[(-5i64) as u64, 7, 0xFFFF_FFFF]),
            "-5 7 4294967295"
        );
        assert_eq!(f("%5d|%-5d|%05d", &[42, 42, 42]), "   42|42   |00042");
        assert_eq!(f("%p", &[0xABC]), "0000000000000ABC");
        assert_eq!(
            f("%s %S %ws %wZ %Z", &[1, 2, 3, 4, 5]),
            "<a1> <w2> <w3> <c4true> <c5false>"
        );
        assert_eq!(f("%s", &[0]), "(null)");
        assert_eq!(
            f("100%% %#x %lld %hhx", &[255, u64::MAX, 0x1FF]),
            "100% 0xff -1 ff"
        );
        assert_eq!(f("%*d|%.3d", &[4, 7, 5]), "   7|005");
        assert_eq!(f("%q tail", &[]), "%q tail");
        assert_eq!(f("trailing %", &[]), "trailing %");
    }
}
