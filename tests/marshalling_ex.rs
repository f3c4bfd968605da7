//! `ClfsCreateMarshallingAreaEx`: `MarshallingArea::create_ex`, its pre-call checks (shared
//! with `create`), and the emulator's export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use core::ffi::c_void;

use clfs::{
    pool_tag, BufferKind, ClfsAllocator, Error, MarshallingArea, MarshallingConfig,
    MarshallingFlags, TaggedPool,
};
use clfs_emu::status::*;
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

const EX: &str = "ClfsCreateMarshallingAreaEx";

#[test]
fn create_ex_makes_a_working_area_with_either_allocator() {
    let sb = Sandbox::new();
    {
        let log = log_with("ex", 2);
        let area = MarshallingArea::<TaggedPool<{ pool_tag(*b"ExTs") }>>::create_ex(
            &log,
            MarshallingConfig::new(8192).max_write_buffers(2),
            4096,
            MarshallingFlags::DISABLE_BUFF_INIT,
        )
        .unwrap();
        let lsn = area.append(&[b"ex record"]).unwrap();
        area.flush_to(lsn).unwrap();
        let mut rd = area.read(lsn, clfs::ReadMode::Forward).unwrap();
        assert_eq!(rd.next().unwrap().unwrap().data, b"ex record");
        drop(rd);
        area.delete().unwrap();
        let area = MarshallingArea::<ClfsAllocator>::create_ex(
            &log,
            MarshallingConfig::new(4096),
            0,
            MarshallingFlags::empty(),
        )
        .unwrap();
        area.append(&[b"two"]).unwrap();
        drop(area);
        let s = sb.stats();
        assert_eq!(s.calls(EX), 2);
        assert_eq!(s.calls("ClfsCreateMarshallingArea"), 0);
    }
    assert_no_leaks(&sb);
}

#[test]
fn create_ex_refuses_before_the_call() {
    let sb = Sandbox::new();
    {
        let log = log_with("exbad", 2);
        let one = log_with("exone", 1);
        type A<'l> = MarshallingArea<'l, ClfsAllocator>;
        let none = MarshallingFlags::empty();
        let cases: Vec<(Error, clfs::Result<A<'_>>)> = vec![
            (
                Error::InvalidBufferAlignment {
                    alignment: 3,
                    buffer_size: 4096,
                },
                A::create_ex(&log, MarshallingConfig::new(4096), 3, none),
            ),
            (
                Error::InvalidBufferAlignment {
                    alignment: 8192,
                    buffer_size: 4096,
                },
                A::create_ex(&log, MarshallingConfig::new(4096), 8192, none),
            ),
            (
                Error::UnknownMarshallingFlags { flags: 0x6 },
                A::create_ex(
                    &log,
                    MarshallingConfig::new(4096),
                    0,
                    MarshallingFlags::from_bits_retain(0x7),
                ),
            ),
            // The checks shared with `create`.
            (
                Error::ZeroBufferSize,
                A::create_ex(&log, MarshallingConfig::new(0), 0, none),
            ),
            (
                Error::ZeroBufferCount {
                    which: BufferKind::Read,
                },
                A::create_ex(
                    &log,
                    MarshallingConfig::new(4096).max_read_buffers(0),
                    0,
                    none,
                ),
            ),
            (
                Error::BufferNotSectorMultiple {
                    size: 1000,
                    sector_size: 512,
                },
                A::create_ex(&log, MarshallingConfig::new(1000), 0, none),
            ),
            (
                Error::NotEnoughContainers { containers: 1 },
                A::create_ex(&one, MarshallingConfig::new(4096), 0, none),
            ),
        ];
        for (want, got) in cases {
            let e = got.expect_err("refused");
            assert_eq!(e, want);
            assert!(e.refused_before_call());
        }
        assert_eq!(
            Error::UnknownMarshallingFlags { flags: 0x6 }.to_string(),
            "marshalling flags 0x6 are not defined (only CLFS_MARSHALLING_FLAG_DISABLE_BUFF_INIT, 0x1, is)"
        );
        assert_eq!(sb.stats().calls(EX), 0, "Clfs.sys was called");
        {
            let _irql = clfs_emu::raise_irql(clfs_emu::DISPATCH_LEVEL);
            assert!(matches!(
                A::create_ex(&log, MarshallingConfig::new(4096), 0, none),
                Err(Error::IrqlTooHigh {
                    routine: EX,
                    irql: 2
                })
            ));
        }
        assert_eq!(sb.stats().calls(EX), 0, "Clfs.sys was called");
    }
    assert_no_leaks(&sb);
}

fn raw_ex(log: &clfs::LogFile, size: u32, align: u32, flags: u64) -> i32 {
    let mut out: *mut c_void = core::ptr::null_mut();
    // SAFETY: an open log object, NULL callbacks, a writable out pointer.
    let st = unsafe {
        clfs_emu::ClfsCreateMarshallingAreaEx(
            log.as_raw(),
            512,
            None,
            None,
            size,
            1,
            1,
            align,
            flags,
            &mut out,
        )
    };
    if st == STATUS_SUCCESS {
        // SAFETY: the context just created.
        assert_eq!(unsafe { clfs_emu::ClfsDeleteMarshallingArea(out) }, 0);
    }
    st
}

#[test]
fn the_same_bad_input_through_the_raw_export() {
    let sb = Sandbox::new();
    {
        let log = log_with("exraw", 2);
        let one = log_with("exrawone", 1);
        assert_eq!(raw_ex(&log, 4096, 3, 0), STATUS_INVALID_PARAMETER);
        assert_eq!(raw_ex(&log, 4096, 8192, 0), STATUS_INVALID_PARAMETER);
        assert_eq!(raw_ex(&log, 4096, 0, 0x7), STATUS_INVALID_PARAMETER);
        assert_eq!(raw_ex(&log, 0, 0, 0), STATUS_INVALID_PARAMETER);
        assert_eq!(raw_ex(&log, 1000, 0, 0), STATUS_INVALID_PARAMETER);
        assert_eq!(raw_ex(&one, 4096, 0, 0), STATUS_LOG_NOT_ENOUGH_CONTAINERS);
        assert_eq!(raw_ex(&log, 4096, 512, 1), STATUS_SUCCESS);
        let mut out: *mut c_void = core::ptr::null_mut();
        // SAFETY: a NULL log object is refused before anything is read.
        let st = unsafe {
            clfs_emu::ClfsCreateMarshallingAreaEx(
                core::ptr::null(),
                512,
                None,
                None,
                4096,
                1,
                1,
                0,
                0,
                &mut out,
            )
        };
        assert_eq!(st, STATUS_INVALID_HANDLE);
        assert_eq!(sb.stats().calls(EX), 8);
    }
    assert_no_leaks(&sb);
}
