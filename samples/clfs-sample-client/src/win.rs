//! The Windows program: entry point, runtime glue (allocator, console output, panic handler,
//! memory routines), the device handle, and the commands.

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ffi::c_void;
use core::fmt::Write;
use core::ptr;

use clfs_sample_proto as proto;
use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, WriteFile, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::Console::{GetStdHandle, STD_OUTPUT_HANDLE};
use windows_sys::Win32::System::Environment::GetCommandLineW;
use windows_sys::Win32::System::Memory::{GetProcessHeap, HeapAlloc, HeapFree};
use windows_sys::Win32::System::Threading::{
    CreateThread, ExitProcess, WaitForSingleObject, INFINITE,
};
use windows_sys::Win32::System::IO::DeviceIoControl;

// ---------------------------------------------------------------------------------------------
// Runtime glue

/// The process heap as the global allocator (`HeapAlloc` aligns to 16 bytes on x64).
struct Heap;

// SAFETY: HeapAlloc returns NULL or a block of at least `size` bytes aligned to 16, valid
// until HeapFree; larger alignments are refused with NULL.
unsafe impl alloc::alloc::GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        if layout.align() > 16 {
            return ptr::null_mut();
        }
        // SAFETY: no preconditions.
        let heap = unsafe { GetProcessHeap() };
        // SAFETY: the process heap; plain flags and size.
        unsafe { HeapAlloc(heap, 0, layout.size()).cast() }
    }

    unsafe fn dealloc(&self, p: *mut u8, _layout: core::alloc::Layout) {
        // SAFETY: no preconditions.
        let heap = unsafe { GetProcessHeap() };
        // SAFETY: `p` came from `alloc` above (GlobalAlloc's contract).
        unsafe { HeapFree(heap, 0, p.cast()) };
    }
}

#[global_allocator]
static HEAP: Heap = Heap;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = Console.write_str("clfs-sample-client: internal error\r\n");
    // SAFETY: ends the process; no invariant to keep.
    unsafe { ExitProcess(3) }
}

/// The personality routine of MSVC unwind tables. The precompiled `alloc` and `core` carry
/// cleanup landing pads whose unwind data names it; this program is built with
/// `panic = "abort"` and never unwinds, so it is never called. It ends the process if it is.
#[unsafe(no_mangle)]
pub extern "C" fn __CxxFrameHandler3() -> ! {
    // SAFETY: ends the process.
    unsafe { ExitProcess(4) }
}

/// The C memory routines the compiler calls: ntdll.dll exports them (no C runtime here).
#[allow(dead_code)]
mod crt {
    use core::ffi::c_void;

    #[link(name = "ntdll.dll", kind = "raw-dylib", modifiers = "+verbatim")]
    unsafe extern "C" {
        fn memcpy(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
        fn memmove(dest: *mut c_void, src: *const c_void, count: usize) -> *mut c_void;
        fn memset(dest: *mut c_void, value: i32, count: usize) -> *mut c_void;
        fn memcmp(a: *const c_void, b: *const c_void, count: usize) -> i32;
    }
}

/// Standard output.
struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let mut written = 0u32;
        // SAFETY: no preconditions.
        let out = unsafe { GetStdHandle(STD_OUTPUT_HANDLE) };
        // SAFETY: the process's standard output handle; `s` is valid for its length.
        let ok = unsafe {
            WriteFile(
                out,
                s.as_ptr(),
                s.len() as u32,
                &mut written,
                ptr::null_mut(),
            )
        };
        if ok == 0 {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}

macro_rules! outln {
    ($($t:tt)*) => {{
        let mut line = String::new();
        let _ = write!(line, $($t)*);
        line.push_str("\r\n");
        let _ = Console.write_str(&line);
    }};
}

/// The program's entry point (`/ENTRY:mainCRTStartup`).
#[unsafe(no_mangle)]
pub extern "system" fn mainCRTStartup() -> ! {
    let code = run(&args());
    // SAFETY: ends the process.
    unsafe { ExitProcess(code) }
}

/// The command line, split at spaces; double quotes group.
fn args() -> Vec<String> {
    // SAFETY: GetCommandLineW returns the process's NUL-terminated command line.
    let p = unsafe { GetCommandLineW() };
    let mut units = Vec::new();
    let mut i = 0;
    loop {
        // SAFETY: within the NUL-terminated string (we stop at its NUL).
        let u = unsafe { p.wrapping_add(i).read() };
        if u == 0 {
            break;
        }
        units.push(u);
        i += 1;
    }
    let line = String::from_utf16_lossy(&units);
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' | '\t' if !quoted => {
                if any {
                    out.push(core::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The device

/// An open handle to `\\.\ClfsSample`.
struct Device(HANDLE);

/// The outcome of one `DeviceIoControl`.
struct Reply {
    /// `None` on success, else `GetLastError()`.
    error: Option<u32>,
    /// Bytes returned.
    bytes: usize,
    /// The output buffer, cut to `bytes`.
    output: Vec<u8>,
}

impl Device {
    /// Opens the device for `access` (`GENERIC_READ` / `GENERIC_WRITE`).
    fn open(access: u32) -> Result<Device, u32> {
        let path: Vec<u16> = proto::WIN32_PATH.encode_utf16().chain([0]).collect();
        // SAFETY: a NUL-terminated path; no security attributes or template.
        let h = unsafe {
            CreateFileW(
                path.as_ptr(),
                access,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                ptr::null(),
                OPEN_EXISTING,
                FILE_ATTRIBUTE_NORMAL,
                ptr::null_mut(),
            )
        };
        if h == INVALID_HANDLE_VALUE {
            // SAFETY: no preconditions.
            return Err(unsafe { GetLastError() });
        }
        Ok(Device(h))
    }

    fn ioctl(&self, code: u32, input: &[u8], out_len: usize) -> Reply {
        let mut output = vec![0u8; out_len];
        let mut bytes = 0u32;
        let in_ptr: *const c_void = if input.is_empty() {
            ptr::null()
        } else {
            input.as_ptr().cast()
        };
        let out_ptr: *mut c_void = if out_len == 0 {
            ptr::null_mut()
        } else {
            output.as_mut_ptr().cast()
        };
        // SAFETY: a device handle; the buffers are valid for the lengths passed; synchronous
        // (no OVERLAPPED).
        let ok = unsafe {
            DeviceIoControl(
                self.0,
                code,
                in_ptr,
                input.len() as u32,
                out_ptr,
                out_len as u32,
                &mut bytes,
                ptr::null_mut(),
            )
        };
        // SAFETY: no preconditions.
        let last = unsafe { GetLastError() };
        let error = if ok == 0 { Some(last) } else { None };
        output.truncate((bytes as usize).min(out_len));
        Reply {
            error,
            bytes: bytes as usize,
            output,
        }
    }

    fn append(&self, record: &[u8], force: bool) -> Result<proto::AppendReply, String> {
        let mut req = vec![0u8; proto::AppendRequest::SIZE + record.len()];
        let flags = if force { proto::APPEND_FORCE_FLUSH } else { 0 };
        proto::AppendRequest { flags }
            .encode(record, &mut req)
            .map_err(|e| alloc::format!("{e}"))?;
        let r = self.ioctl(
            proto::IOCTL_CLFS_SAMPLE_APPEND,
            &req,
            proto::AppendReply::SIZE,
        );
        if let Some(e) = r.error {
            return Err(alloc::format!("APPEND failed with error {e}"));
        }
        proto::AppendReply::decode(&r.output).map_err(|e| alloc::format!("APPEND reply: {e}"))
    }

    fn flush(&self) -> Result<u64, String> {
        let r = self.ioctl(proto::IOCTL_CLFS_SAMPLE_FLUSH, &[], proto::FlushReply::SIZE);
        if let Some(e) = r.error {
            return Err(alloc::format!("FLUSH failed with error {e}"));
        }
        proto::FlushReply::decode(&r.output)
            .map(|f| f.flushed)
            .map_err(|e| alloc::format!("FLUSH reply: {e}"))
    }

    fn query(&self) -> Result<proto::QueryReply, String> {
        let r = self.ioctl(proto::IOCTL_CLFS_SAMPLE_QUERY, &[], proto::QueryReply::SIZE);
        if let Some(e) = r.error {
            return Err(alloc::format!("QUERY failed with error {e}"));
        }
        proto::QueryReply::decode(&r.output).map_err(|e| alloc::format!("QUERY reply: {e}"))
    }

    /// Reads every record from `start` in `mode` with replies of `out_len` bytes.
    fn read_all(
        &self,
        start: u64,
        mode: proto::ReadMode,
        out_len: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, String> {
        let mut all = Vec::new();
        let mut from = start;
        loop {
            let mut req = [0u8; proto::ReadRequest::SIZE];
            proto::ReadRequest { start: from, mode }
                .encode(&mut req)
                .map_err(|e| alloc::format!("{e}"))?;
            let r = self.ioctl(proto::IOCTL_CLFS_SAMPLE_READ, &req, out_len);
            if let Some(e) = r.error {
                return Err(alloc::format!("READ failed with error {e}"));
            }
            let h = proto::ReadReply::decode(&r.output).map_err(|e| alloc::format!("{e}"))?;
            let body = r.output.get(proto::ReadReply::SIZE..).unwrap_or_default();
            for rec in proto::Records::new(body, h.count) {
                let (lsn, data) = rec.map_err(|e| alloc::format!("READ reply: {e}"))?;
                all.push((lsn, data.to_vec()));
            }
            if h.flags & proto::READ_END != 0 {
                return Ok(all);
            }
            from = proto::LSN_NONE;
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: our handle, closed once.
        unsafe { CloseHandle(self.0) };
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

const USAGE: &str = "usage: clfs-sample-client append TEXT [--force] | flush | read [LSN|base] [forward|previous|undo] | query | selftest";

fn run(args: &[String]) -> u32 {
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    let rest = args.get(2..).unwrap_or_default();
    let result = match cmd {
        "append" => cmd_append(rest),
        "flush" => cmd_flush(),
        "read" => cmd_read(rest),
        "query" => cmd_query(),
        "selftest" => return selftest(),
        _ => {
            outln!("{USAGE}");
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            outln!("clfs-sample-client: {e}");
            1
        }
    }
}

fn open_rw() -> Result<Device, String> {
    Device::open(GENERIC_READ | GENERIC_WRITE).map_err(|e| {
        alloc::format!(
            "cannot open {} (error {e}; 2 = the driver is not loaded, 5 = not elevated)",
            proto::WIN32_PATH
        )
    })
}

fn cmd_append(rest: &[String]) -> Result<(), String> {
    let force = rest.iter().any(|a| a == "--force");
    let text: Vec<&str> = rest
        .iter()
        .filter(|a| *a != "--force")
        .map(String::as_str)
        .collect();
    if text.is_empty() {
        return Err(USAGE.into());
    }
    let record = text.join(" ");
    let d = open_rw()?;
    let r = d.append(record.as_bytes(), force)?;
    if force {
        outln!(
            "appended at LSN {:#018x}, flushed to {:#018x}",
            r.lsn,
            r.flushed
        );
    } else {
        outln!("appended at LSN {:#018x}", r.lsn);
    }
    Ok(())
}

fn cmd_flush() -> Result<(), String> {
    let f = open_rw()?.flush()?;
    outln!("flushed to LSN {f:#018x}");
    Ok(())
}

fn lsn_text(l: u64) -> String {
    if l == proto::LSN_NONE {
        "none".into()
    } else {
        alloc::format!("{l:#018x}")
    }
}

fn cmd_query() -> Result<(), String> {
    let q = open_rw()?.query()?;
    outln!("base      {}", lsn_text(q.base));
    outln!("last      {}", lsn_text(q.last));
    outln!("restart   {}", lsn_text(q.restart));
    outln!("flushed   {}", lsn_text(q.flushed));
    outln!("containers {} of {} bytes", q.containers, q.container_size);
    outln!("free      {} of {} bytes", q.free_bytes, q.total_bytes);
    Ok(())
}

fn parse_lsn(s: &str) -> Option<u64> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u64::from_str_radix(hex, 16).ok()
}

fn cmd_read(rest: &[String]) -> Result<(), String> {
    let d = open_rw()?;
    let mut start = None;
    let mut mode = proto::ReadMode::Forward;
    for a in rest {
        match a.as_str() {
            "base" => start = None,
            "forward" => mode = proto::ReadMode::Forward,
            "previous" => mode = proto::ReadMode::Previous,
            "undo" => mode = proto::ReadMode::UndoNext,
            other => start = Some(parse_lsn(other).ok_or(USAGE)?),
        }
    }
    let start = match start {
        Some(s) => s,
        None => d.query()?.base,
    };
    let records = d.read_all(start, mode, 64 * 1024)?;
    for (lsn, data) in &records {
        let text: String = data
            .iter()
            .take(64)
            .map(|&b| {
                if (0x20..0x7f).contains(&b) {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        outln!("{lsn:#018x} {:6} bytes  {text}", data.len());
    }
    outln!("{} record(s)", records.len());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// selftest

/// `ERROR_INVALID_FUNCTION` (STATUS_INVALID_DEVICE_REQUEST).
const ERROR_INVALID_FUNCTION: u32 = 1;
/// `ERROR_ACCESS_DENIED`.
const ERROR_ACCESS_DENIED: u32 = 5;
/// `ERROR_INVALID_PARAMETER` (STATUS_INVALID_PARAMETER).
const ERROR_INVALID_PARAMETER: u32 = 87;
/// `ERROR_INSUFFICIENT_BUFFER` (STATUS_BUFFER_TOO_SMALL).
const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
/// `ERROR_MORE_DATA` (STATUS_BUFFER_OVERFLOW).
const ERROR_MORE_DATA: u32 = 234;

type Check = fn() -> Result<String, String>;

const CHECKS: [(&str, Check); 11] = [
    ("open_and_query", open_and_query),
    ("append_flush_read_back", append_flush_read_back),
    ("force_flush", force_flush),
    ("concurrent_appenders", concurrent_appenders),
    ("unknown_ioctl", unknown_ioctl),
    ("short_input", short_input),
    ("bad_flags", bad_flags),
    ("read_reply_too_small", read_reply_too_small),
    ("query_reply_too_small", query_reply_too_small),
    ("append_needs_write_access", append_needs_write_access),
    ("continue_without_read", continue_without_read),
];

fn selftest() -> u32 {
    let (mut passed, mut failed) = (0u32, 0u32);
    for (name, check) in CHECKS {
        match check() {
            Ok(note) => {
                passed += 1;
                outln!(
                    "PASS {name}{}{note}",
                    if note.is_empty() { "" } else { ": " }
                );
            }
            Err(why) => {
                failed += 1;
                outln!("FAIL {name}: {why}");
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    u32::from(failed != 0)
}

fn expect_error(r: &Reply, want: u32, what: &str) -> Result<(), String> {
    match r.error {
        Some(e) if e == want => Ok(()),
        Some(e) => Err(alloc::format!("{what}: error {e}, expected {want}")),
        None => Err(alloc::format!("{what}: succeeded, expected error {want}")),
    }
}

fn open_and_query() -> Result<String, String> {
    let q = open_rw()?.query()?;
    if q.containers < 2 {
        return Err(alloc::format!(
            "{} containers, the driver keeps 2",
            q.containers
        ));
    }
    Ok(alloc::format!(
        "last LSN {}, {} bytes free",
        lsn_text(q.last),
        q.free_bytes
    ))
}

fn record(thread: usize, i: usize) -> Vec<u8> {
    let mut v = alloc::format!("selftest t{thread} r{i} ").into_bytes();
    let len = v.len() + (i * 13 + thread * 7) % 96;
    v.resize(len, b'a' + (i % 26) as u8);
    v
}

fn append_flush_read_back() -> Result<String, String> {
    const N: usize = 100;
    let d = open_rw()?;
    let mut appended = Vec::new();
    for i in 0..N {
        let data = record(0, i);
        appended.push((d.append(&data, false)?.lsn, data));
    }
    let last = appended.last().map_or(0, |r| r.0);
    let flushed = d.flush()?;
    if flushed < last {
        return Err(alloc::format!(
            "flushed to {flushed:#x}, below the last LSN {last:#x}"
        ));
    }
    let first = appended.first().map_or(0, |r| r.0);
    let back = d.read_all(first, proto::ReadMode::Forward, 4096)?;
    // Other clients may append at the same time: keep the records with our LSNs.
    let mine: Vec<(u64, Vec<u8>)> = back
        .into_iter()
        .filter(|(l, _)| appended.binary_search_by_key(l, |r| r.0).is_ok())
        .collect();
    if mine != appended {
        return Err("the records read back differ from those appended".into());
    }
    Ok(alloc::format!("{N} records from {first:#x}"))
}

fn force_flush() -> Result<String, String> {
    let r = open_rw()?.append(b"selftest forced", true)?;
    if r.flushed == proto::LSN_NONE || r.flushed < r.lsn {
        return Err(alloc::format!(
            "LSN {:#x} flushed only to {}",
            r.lsn,
            lsn_text(r.flushed)
        ));
    }
    Ok(String::new())
}

/// One appender thread's work: its index in, its LSNs (or an error) out.
struct Appender {
    index: usize,
    lsns: Vec<(u64, Vec<u8>)>,
    error: Option<String>,
}

const PER_THREAD: usize = 250;

unsafe extern "system" fn appender(param: *mut c_void) -> u32 {
    // SAFETY: the Appender the spawning thread passed; it waits for this thread before it
    // touches the value again.
    let a = unsafe { &mut *param.cast::<Appender>() };
    let d = match open_rw() {
        Ok(d) => d,
        Err(e) => {
            a.error = Some(e);
            return 1;
        }
    };
    for i in 0..PER_THREAD {
        let data = record(a.index + 1, i);
        match d.append(&data, false) {
            Ok(r) => a.lsns.push((r.lsn, data)),
            Err(e) => {
                a.error = Some(e);
                return 1;
            }
        }
    }
    0
}

fn concurrent_appenders() -> Result<String, String> {
    const THREADS: usize = 4;
    let mut work: Vec<Appender> = (0..THREADS)
        .map(|index| Appender {
            index,
            lsns: Vec::new(),
            error: None,
        })
        .collect();
    let mut threads = Vec::new();
    for a in work.iter_mut() {
        let p: *mut Appender = a;
        // SAFETY: `p` stays valid until the thread is waited for below.
        let h =
            unsafe { CreateThread(ptr::null(), 0, Some(appender), p.cast(), 0, ptr::null_mut()) };
        if h.is_null() {
            return Err("CreateThread failed".into());
        }
        threads.push(h);
    }
    for h in threads {
        // SAFETY: a thread handle from CreateThread, waited for and closed once.
        unsafe {
            WaitForSingleObject(h, INFINITE);
        }
        // SAFETY: as above.
        unsafe { CloseHandle(h) };
    }
    let mut all = Vec::new();
    for a in work {
        if let Some(e) = a.error {
            return Err(alloc::format!("appender {}: {e}", a.index));
        }
        all.extend(a.lsns);
    }
    let mut lsns: Vec<u64> = all.iter().map(|r| r.0).collect();
    lsns.sort_unstable();
    lsns.dedup();
    if lsns.len() != all.len() {
        return Err(alloc::format!(
            "{} appends, {} distinct LSNs",
            all.len(),
            lsns.len()
        ));
    }
    let d = open_rw()?;
    d.flush()?;
    let back = d.read_all(lsns[0], proto::ReadMode::Forward, 64 * 1024)?;
    for (lsn, data) in &all {
        if !back.iter().any(|(l, b)| l == lsn && b == data) {
            return Err(alloc::format!("the record at {lsn:#x} did not read back"));
        }
    }
    Ok(alloc::format!(
        "{} appends from {THREADS} threads",
        all.len()
    ))
}

fn unknown_ioctl() -> Result<String, String> {
    let d = open_rw()?;
    let r = d.ioctl(
        proto::ctl_code(proto::FILE_DEVICE_UNKNOWN, 0x9ff, 0, 0),
        &[],
        16,
    );
    expect_error(&r, ERROR_INVALID_FUNCTION, "an unknown control code")?;
    Ok(String::new())
}

fn short_input() -> Result<String, String> {
    let r = open_rw()?.ioctl(proto::IOCTL_CLFS_SAMPLE_APPEND, &[0; 4], 16);
    expect_error(&r, ERROR_INSUFFICIENT_BUFFER, "APPEND with 4 input bytes")?;
    Ok(String::new())
}

fn bad_flags() -> Result<String, String> {
    let mut req = [0u8; 12];
    req[0] = 0x80;
    let r = open_rw()?.ioctl(proto::IOCTL_CLFS_SAMPLE_APPEND, &req, 16);
    expect_error(&r, ERROR_INVALID_PARAMETER, "APPEND with an unknown flag")?;
    Ok(String::new())
}

fn read_reply_too_small() -> Result<String, String> {
    let d = open_rw()?;
    let first = d
        .append(b"selftest: a record larger than nothing", false)?
        .lsn;
    let mut req = [0u8; proto::ReadRequest::SIZE];
    proto::ReadRequest {
        start: first,
        mode: proto::ReadMode::Forward,
    }
    .encode(&mut req)
    .map_err(|e| alloc::format!("{e}"))?;
    let r = d.ioctl(
        proto::IOCTL_CLFS_SAMPLE_READ,
        &req,
        proto::ReadReply::SIZE + 8,
    );
    expect_error(&r, ERROR_MORE_DATA, "READ into 32 bytes")?;
    let h = proto::ReadReply::decode(&r.output).map_err(|e| alloc::format!("{e}"))?;
    if r.bytes != proto::ReadReply::SIZE || h.count != 0 || h.needed <= 32 || h.next != first {
        return Err(alloc::format!("{} bytes, header {h:?}", r.bytes));
    }
    let r = d.ioctl(proto::IOCTL_CLFS_SAMPLE_READ, &req, 8);
    expect_error(&r, ERROR_INSUFFICIENT_BUFFER, "READ into 8 bytes")?;
    Ok(alloc::format!("needs {} bytes", h.needed))
}

fn query_reply_too_small() -> Result<String, String> {
    let r = open_rw()?.ioctl(proto::IOCTL_CLFS_SAMPLE_QUERY, &[], 8);
    expect_error(&r, ERROR_MORE_DATA, "QUERY into 8 bytes")?;
    if r.bytes != 4 || r.output.get(..4) != Some(&64u32.to_le_bytes()[..]) {
        return Err(alloc::format!("{} bytes: {:?}", r.bytes, r.output));
    }
    Ok(String::new())
}

fn append_needs_write_access() -> Result<String, String> {
    let d = Device::open(GENERIC_READ).map_err(|e| alloc::format!("read-only open: error {e}"))?;
    let r = d.ioctl(
        proto::IOCTL_CLFS_SAMPLE_APPEND,
        &[0, 0, 0, 0, 0, 0, 0, 0, 1],
        16,
    );
    expect_error(&r, ERROR_ACCESS_DENIED, "APPEND on a read-only handle")?;
    d.query()?;
    Ok(String::new())
}

fn continue_without_read() -> Result<String, String> {
    let d = open_rw()?;
    let mut req = [0u8; proto::ReadRequest::SIZE];
    proto::ReadRequest {
        start: proto::LSN_NONE,
        mode: proto::ReadMode::Forward,
    }
    .encode(&mut req)
    .map_err(|e| alloc::format!("{e}"))?;
    let r = d.ioctl(proto::IOCTL_CLFS_SAMPLE_READ, &req, 4096);
    match r.error {
        Some(e) => Ok(alloc::format!("refused with error {e}")),
        None => Err("continuing a READ on a fresh handle succeeded".into()),
    }
}
