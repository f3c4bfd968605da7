//! `MarshallingArea::create` with arbitrary configurations and log states.
//!
//! For every input, in a fresh emulator sandbox: a log with 0..=4 containers of an arbitrary
//! size, an arbitrary buffer size, write/read limits (0, n, unlimited), pool type, block
//! allocator and IRQL (0..=3). `MarshallingArea::create` must return a typed error or a
//! working area, never panic, and:
//! - a yes from the safe layer is a real area in the emulator (live, usable: an append reads
//!   back);
//! - a pre-call refusal (`refused_before_call`) made no `ClfsCreateMarshallingArea` call, and
//!   the raw seam call with the same input fails in the emulator too (except above
//!   APC_LEVEL: a raw call there is a bugcheck, so none is made; the refusal must then be
//!   `IrqlTooHigh`);
//! - nothing leaks.
#![no_main]

use arbitrary::Arbitrary;
use clfs::{
    pool_tag, Blocks, BufferLimit, ClfsAllocator, Error, LogFile, LogOptions, MarshallingArea,
    MarshallingConfig, NtStatus, PoolType, ReadMode, TaggedPool,
};
use clfs_emu::{raise_irql, Sandbox};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Size {
    /// A multiple of the sector size: `(k + 1) * 512`, up to 2 MiB.
    Sectors(u16),
    /// Any value.
    Raw(u32),
}

#[derive(Debug, Arbitrary)]
enum Limit {
    Zero,
    Unlimited,
    AtMost(u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    buffer: Size,
    write: Limit,
    read: Limit,
    pool: u8,
    tagged: bool,
    irql: u8,
    containers: u8,
    /// Container size in 64 KiB units (0 = an invalid size of 0).
    container_units: u8,
}

fn limit(l: &Limit) -> BufferLimit {
    match l {
        Limit::Zero => BufferLimit::AtMost(0),
        Limit::Unlimited => BufferLimit::Unlimited,
        Limit::AtMost(n) => BufferLimit::AtMost(u32::from(*n)),
    }
}

fn raw_limit(l: BufferLimit) -> u32 {
    match l {
        BufferLimit::AtMost(n) => n,
        BufferLimit::Unlimited => u32::MAX,
    }
}

fn config(input: &Input) -> MarshallingConfig {
    let size = match input.buffer {
        Size::Sectors(k) => (u32::from(k) % 4096 + 1) * 512,
        Size::Raw(n) => n,
    };
    let pool = match input.pool % 3 {
        0 => PoolType::NonPagedPoolNx,
        1 => PoolType::NonPagedPool,
        _ => PoolType::PagedPool,
    };
    let mut c = MarshallingConfig::new(size).pool(pool);
    c = match limit(&input.write) {
        BufferLimit::AtMost(n) => c.max_write_buffers(n),
        BufferLimit::Unlimited => c.unlimited_write_buffers(),
    };
    c = match limit(&input.read) {
        BufferLimit::AtMost(n) => c.max_read_buffers(n),
        BufferLimit::Unlimited => c.unlimited_read_buffers(),
    };
    c
}

fn w(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn run<B: Blocks>(sb: &Sandbox, input: &Input) {
    let log = LogFile::create(
        &w("log:C:\\fuzz\\create"),
        LogOptions::new().create_if_missing(),
    )
    .expect("creating a fresh log at PASSIVE_LEVEL succeeds");
    let size = u64::from(input.container_units) * 64 * 1024;
    for i in 0..input.containers % 5 {
        // A size of 0 is refused by Clfs.sys; the log then has fewer containers.
        let _ = log.add_container(&w(&format!("%BLF%\\c{i}")), size);
    }
    let config = config(input);
    let irql = input.irql % 4;
    let calls_before = sb.stats().calls("ClfsCreateMarshallingArea");
    check::<B>(sb, &log, config, irql, calls_before);
    log.close().expect("close");
}

fn check<B: Blocks>(
    sb: &Sandbox,
    log: &LogFile,
    config: MarshallingConfig,
    irql: u8,
    calls_before: u64,
) {
    let result = {
        let _irql = raise_irql(irql);
        MarshallingArea::<B>::create(log, config)
    };
    let calls_after = sb.stats().calls("ClfsCreateMarshallingArea");
    match result {
        Ok(area) => {
            assert!(irql <= 1, "an area was created at IRQL {irql}");
            assert_eq!(calls_after, calls_before + 1);
            assert_eq!(sb.stats().live_areas, 1, "the emulator holds the area");
            // A working area: a small record goes in and reads back.
            let lsn = area.append(&[b"probe"]).expect("append to a new area");
            {
                let mut cx = area.read(lsn, ReadMode::Forward).expect("read");
                let r = cx.next().expect("next").expect("the record");
                assert_eq!(r.data, b"probe");
            }
            area.delete().expect("delete");
        }
        Err(e) if e.refused_before_call() => {
            assert_eq!(
                calls_after, calls_before,
                "a pre-call refusal made no call: {e}"
            );
            if irql > 1 {
                assert!(
                    matches!(e, Error::IrqlTooHigh { .. }),
                    "above APC_LEVEL the refusal is IrqlTooHigh, got {e}"
                );
                // No raw call here: Clfs.sys would bugcheck.
            } else {
                let (alloc, free) = B::CALLBACKS;
                let mut raw: *mut core::ffi::c_void = core::ptr::null_mut();
                // SAFETY: the log object is open; the callbacks are both Some or both None;
                // `raw` is a valid out pointer. The emulator must refuse this input.
                let status = unsafe {
                    clfs::sys::ClfsCreateMarshallingArea(
                        log.as_raw(),
                        config.pool_type().raw(),
                        alloc,
                        free,
                        config.buffer_size(),
                        raw_limit(config.write_limit()),
                        raw_limit(config.read_limit()),
                        &mut raw,
                    )
                };
                if NtStatus(status).is_success() {
                    // Release it before reporting, so the report is about the disagreement.
                    // SAFETY: the emulator just created this context.
                    let _ = unsafe { clfs::sys::ClfsDeleteMarshallingArea(raw) };
                    panic!("the safe layer refused ({e}) but Clfs.sys accepted {config:?}");
                }
            }
        }
        Err(e) => {
            // Clfs.sys refused: the call was made exactly once.
            assert!(e.status().is_some());
            assert_eq!(calls_after, calls_before + 1, "{e}");
            assert_eq!(sb.stats().live_areas, 0, "{e}");
        }
    }
}

fuzz_target!(|input: Input| {
    let sb = Sandbox::new();
    if input.tagged {
        run::<TaggedPool<{ pool_tag(*b"Fuzz") }>>(&sb, &input);
    } else {
        run::<ClfsAllocator>(&sb, &input);
    }
    let leaks = sb.stats().leaks();
    assert!(leaks.is_empty(), "leaks: {leaks:?}");
});
