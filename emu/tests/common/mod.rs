//! Thin helpers over the raw routines for the emulator's own tests.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use core::ffi::c_void;
use core::ptr::{null, null_mut};

use clfs_emu::status::*;
use clfs_emu::types::*;
use clfs_emu::*;

pub const RW: u32 = 0x8000_0000 | 0x4000_0000;
pub const RWD: u32 = RW | 0x0001_0000;

pub struct U16s {
    _buf: Vec<u16>,
    pub us: UNICODE_STRING,
}

pub fn ustr(s: &str) -> Box<U16s> {
    let mut buf: Vec<u16> = s.encode_utf16().collect();
    let len = (buf.len() * 2) as u16;
    let us = UNICODE_STRING {
        Length: len,
        MaximumLength: len,
        Buffer: buf.as_mut_ptr(),
    };
    Box::new(U16s { _buf: buf, us })
}

pub fn create(
    name: &str,
    access: u32,
    share: u32,
    disp: u32,
) -> Result<*mut FILE_OBJECT, NTSTATUS> {
    let n = ustr(name);
    let mut h: *mut FILE_OBJECT = null_mut();
    // SAFETY: valid out pointer and name.
    let s = unsafe {
        ClfsCreateLogFile(
            &mut h,
            &n.us,
            access,
            share,
            null_mut(),
            disp,
            0,
            0,
            0,
            null(),
            0,
        )
    };
    if s == 0 {
        Ok(h)
    } else {
        Err(s)
    }
}

pub fn close(h: *mut FILE_OBJECT) -> NTSTATUS {
    // SAFETY: handle value only.
    unsafe { ClfsCloseLogFileObject(h) }
}

pub fn add(h: *mut FILE_OBJECT, size: Option<u64>, path: &str) -> (NTSTATUS, u64) {
    let p = ustr(path);
    let mut sz = size.unwrap_or(0);
    let ptr = if size.is_some() {
        &mut sz as *mut u64 as *const u64
    } else {
        null()
    };
    // SAFETY: valid pointers.
    let s = unsafe { ClfsAddLogContainer(h, ptr, &p.us) };
    (s, sz)
}

pub fn info(h: *mut FILE_OBJECT) -> CLS_INFORMATION {
    // SAFETY: CLS_INFORMATION is plain data.
    let mut i: CLS_INFORMATION = unsafe { core::mem::zeroed() };
    let mut cb = core::mem::size_of::<CLS_INFORMATION>() as u32;
    // SAFETY: valid pointers.
    let s = unsafe {
        ClfsQueryLogFileInformation(h, 0, null(), 0, &mut i as *mut _ as *mut c_void, &mut cb)
    };
    assert_eq!(s, 0);
    i
}

pub fn area(h: *mut FILE_OBJECT, size: u32, w: u32, r: u32) -> Result<*mut c_void, NTSTATUS> {
    let mut ctx = null_mut();
    // SAFETY: valid out pointer.
    let s = unsafe { ClfsCreateMarshallingArea(h, 1, None, None, size, w, r, &mut ctx) };
    if s == 0 {
        Ok(ctx)
    } else {
        Err(s)
    }
}

pub fn del_area(a: *mut c_void) -> NTSTATUS {
    // SAFETY: handle value only.
    unsafe { ClfsDeleteMarshallingArea(a) }
}

pub fn append_ex(a: *mut c_void, data: &[u8], prev: u64, flags: u32) -> Result<u64, NTSTATUS> {
    let e = CLS_WRITE_ENTRY {
        Buffer: data.as_ptr() as *mut c_void,
        ByteLength: data.len() as u32,
    };
    let p = CLS_LSN { Internal: prev };
    let mut l = CLS_LSN { Internal: 0 };
    // SAFETY: valid pointers.
    let s = unsafe { ClfsReserveAndAppendLog(a, &e, 1, &p, &p, 0, null_mut(), flags, &mut l) };
    if s == 0 {
        Ok(l.Internal)
    } else {
        Err(s)
    }
}

/// `ClfsWriteRestartArea` of `data` (no base change); returns the restart record's LSN.
pub fn restart_area(a: *mut c_void, data: &[u8]) -> u64 {
    let mut l = CLS_LSN { Internal: 0 };
    let mut n = 0u32;
    // SAFETY: valid pointers.
    let s = unsafe {
        ClfsWriteRestartArea(
            a,
            data.as_ptr().cast(),
            data.len() as u32,
            null(),
            0,
            &mut n,
            &mut l,
        )
    };
    assert_eq!(s, 0);
    l.Internal
}

pub fn append(a: *mut c_void, data: &[u8]) -> u64 {
    append_ex(a, data, CLFS_LSN_INVALID, 0).expect("append")
}

pub fn flush(a: *mut c_void) -> NTSTATUS {
    // SAFETY: handle value only.
    unsafe { ClfsFlushBuffers(a) }
}

pub struct Rec {
    pub data: Vec<u8>,
    pub ty: u8,
    pub undo: u64,
    pub prev: u64,
    pub lsn: u64,
}

pub fn read(a: *mut c_void, lsn: u64, mode: i32) -> Result<(*mut c_void, Rec), NTSTATUS> {
    let mut l = CLS_LSN { Internal: lsn };
    let (mut buf, mut cb, mut ty) = (null_mut(), 0u32, 0u8);
    let (mut u, mut p, mut ctx) = (CLS_LSN { Internal: 0 }, CLS_LSN { Internal: 0 }, null_mut());
    // SAFETY: valid out pointers.
    let s = unsafe {
        ClfsReadLogRecord(
            a, &mut l, mode, &mut buf, &mut cb, &mut ty, &mut u, &mut p, &mut ctx,
        )
    };
    if s != 0 {
        return Err(s);
    }
    // SAFETY: the emulator returned `cb` readable bytes.
    let data = unsafe { core::slice::from_raw_parts(buf as *const u8, cb as usize) }.to_vec();
    Ok((
        ctx,
        Rec {
            data,
            ty,
            undo: u.Internal,
            prev: p.Internal,
            lsn: l.Internal,
        },
    ))
}

pub fn next(ctx: *mut c_void, filter: u8) -> Result<Rec, NTSTATUS> {
    let (mut buf, mut cb, mut ty) = (null_mut(), 0u32, filter);
    let (mut u, mut p, mut l) = (
        CLS_LSN { Internal: 0 },
        CLS_LSN { Internal: 0 },
        CLS_LSN { Internal: 0 },
    );
    // SAFETY: valid out pointers.
    let s = unsafe {
        ClfsReadNextLogRecord(
            ctx,
            &mut buf,
            &mut cb,
            &mut ty,
            null(),
            &mut u,
            &mut p,
            &mut l,
        )
    };
    if s != 0 {
        return Err(s);
    }
    // SAFETY: the emulator returned `cb` readable bytes.
    let data = unsafe { core::slice::from_raw_parts(buf as *const u8, cb as usize) }.to_vec();
    Ok(Rec {
        data,
        ty,
        undo: u.Internal,
        prev: p.Internal,
        lsn: l.Internal,
    })
}

pub fn term(ctx: *mut c_void) -> NTSTATUS {
    // SAFETY: handle value only.
    unsafe { ClfsTerminateReadLog(ctx) }
}

/// Creates a log with two 512 KiB containers and returns it.
pub fn log_with_containers(name: &str, n: usize) -> *mut FILE_OBJECT {
    let h = create(name, RWD, 0, 2).expect("create");
    for i in 0..n {
        let (s, _) = add(h, Some(1), &format!("%BLF%\\c{i}"));
        assert_eq!(s, 0);
    }
    h
}

/// Reads every data record forward from the first one.
pub fn read_all(a: *mut c_void, first: u64) -> Vec<Vec<u8>> {
    let (ctx, r) = read(a, first, 3).expect("read first");
    let mut out = vec![r.data];
    loop {
        match next(ctx, 1) {
            Ok(r) => out.push(r.data),
            Err(s) => {
                assert_eq!(s, STATUS_END_OF_FILE);
                break;
            }
        }
    }
    assert_eq!(term(ctx), 0);
    out
}

pub fn no_leaks(sb: &Sandbox) {
    let l = sb.stats().leaks();
    assert!(l.is_empty(), "leaks: {l:?}");
}
