//! `MarshallingArea::create`: every precondition refused before Clfs.sys is called, the raw
//! seam's answer to the same input, and the block allocators.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clfs::sys;
use clfs::{
    pool_tag, BlockAllocator, BufferKind, ClfsAllocator, Error, MarshallingArea, MarshallingConfig,
    NtStatus, PoolType, TaggedPool,
};
use clfs_emu::Sandbox;
use common::{assert_no_leaks, log_with};

/// Calls the raw seam directly, as a C driver would, and returns the status.
fn raw_create(
    log: &clfs::LogFile,
    pool: i32,
    alloc: sys::PALLOCATE_FUNCTION,
    free: sys::PFREE_FUNCTION,
    size: u32,
    writes: u32,
    reads: u32,
) -> NtStatus {
    let mut cx: *mut core::ffi::c_void = core::ptr::null_mut();
    // SAFETY: the log object is open; `cx` is a valid out pointer; callbacks may be anything the
    // prototype allows.
    let status = unsafe {
        sys::ClfsCreateMarshallingArea(
            log.as_raw(),
            pool,
            alloc,
            free,
            size,
            writes,
            reads,
            &mut cx,
        )
    };
    if status >= 0 {
        // SAFETY: the area was created just now and is deleted once.
        unsafe { sys::ClfsDeleteMarshallingArea(cx) };
    }
    NtStatus(status)
}

#[test]
fn buffer_not_a_sector_multiple_is_refused_before_the_call() {
    let sb = Sandbox::new();
    let log = log_with("sector", 2);
    let err =
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(1000)).unwrap_err();
    assert_eq!(
        err,
        Error::BufferNotSectorMultiple {
            size: 1000,
            sector_size: 512
        }
    );
    assert_eq!(
        err.to_string(),
        "marshalling buffer of 1000 bytes is not a multiple of the log's 512-byte sector size"
    );
    assert!(err.refused_before_call());
    assert_eq!(
        sb.stats().calls("ClfsCreateMarshallingArea"),
        0,
        "Clfs.sys must not be called"
    );
    // The same input through the raw seam: the emulator answers as Clfs.sys documents.
    assert_eq!(
        raw_create(&log, sys::NonPagedPoolNx, None, None, 1000, 1, 1),
        NtStatus::INVALID_PARAMETER
    );
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn fewer_than_two_containers_is_refused_before_the_call() {
    let sb = Sandbox::new();
    for containers in [0usize, 1] {
        let log = log_with(&format!("few{containers}"), containers);
        let before = sb.stats().calls("ClfsCreateMarshallingArea");
        let err = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
            .unwrap_err();
        assert_eq!(
            err,
            Error::NotEnoughContainers {
                containers: containers as u32
            }
        );
        assert_eq!(
            sb.stats().calls("ClfsCreateMarshallingArea"),
            before,
            "Clfs.sys must not be called"
        );
        assert_eq!(
            raw_create(&log, sys::NonPagedPoolNx, None, None, 4096, 1, 1),
            NtStatus::LOG_NOT_ENOUGH_CONTAINERS
        );
    }
    let log = log_with("few-msg", 1);
    assert_eq!(
        MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
            .unwrap_err()
            .to_string(),
        "the log has 1 container; CLFS needs at least 2 before a marshalling area can be created"
    );
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn zero_sizes_and_counts_are_refused_without_any_clfs_call() {
    let sb = Sandbox::new();
    let log = log_with("zeros", 2);
    let before = sb.stats().clfs_calls();
    let cases = [
        (MarshallingConfig::new(0), Error::ZeroBufferSize),
        (
            MarshallingConfig::new(4096).max_write_buffers(0),
            Error::ZeroBufferCount {
                which: BufferKind::Write,
            },
        ),
        (
            MarshallingConfig::new(4096).max_read_buffers(0),
            Error::ZeroBufferCount {
                which: BufferKind::Read,
            },
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(
            MarshallingArea::<ClfsAllocator>::create(&log, config).unwrap_err(),
            expected
        );
    }
    assert_eq!(
        sb.stats().clfs_calls(),
        before,
        "no CLFS routine may run for a bad config"
    );
    assert_eq!(
        Error::ZeroBufferCount {
            which: BufferKind::Read
        }
        .to_string(),
        "max_read_buffers must be at least 1 (or unlimited), got 0"
    );
    assert_eq!(
        raw_create(&log, sys::NonPagedPoolNx, None, None, 0, 1, 1),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        raw_create(&log, sys::NonPagedPoolNx, None, None, 4096, 0, 1),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        raw_create(&log, sys::NonPagedPoolNx, None, None, 4096, 1, 0),
        NtStatus::INVALID_PARAMETER
    );
    drop(log);
    assert_no_leaks(&sb);
}

unsafe extern "system" fn stray_alloc(_: i32, _: usize, _: u32) -> *mut core::ffi::c_void {
    core::ptr::null_mut()
}
unsafe extern "system" fn stray_free(_: *mut core::ffi::c_void) {}

#[test]
fn one_callback_without_the_other_cannot_be_expressed_and_the_raw_call_is_refused() {
    // The safe API takes an allocator *type* (both callbacks) or ClfsAllocator (neither); the
    // half-and-half case exists only on the raw seam, where the emulator refuses it.
    let sb = Sandbox::new();
    let log = log_with("halves", 2);
    assert_eq!(
        raw_create(
            &log,
            sys::NonPagedPoolNx,
            Some(stray_alloc),
            None,
            4096,
            1,
            1
        ),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        raw_create(
            &log,
            sys::NonPagedPoolNx,
            None,
            Some(stray_free),
            4096,
            1,
            1
        ),
        NtStatus::INVALID_PARAMETER
    );
    assert_eq!(
        <ClfsAllocator as clfs::Blocks>::CALLBACKS.0.is_none(),
        <ClfsAllocator as clfs::Blocks>::CALLBACKS.1.is_none()
    );
    let (a, f) = <TaggedPool<{ pool_tag(*b"Test") }> as clfs::Blocks>::CALLBACKS;
    assert!(a.is_some() && f.is_some());
    drop(log);
    assert_no_leaks(&sb);
}

/// An allocator that records what CLFS asks for.
struct Recording;
static CALLS: Mutex<Vec<(PoolType, usize, u32)>> = Mutex::new(Vec::new());
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to TaggedPool, which returns pool memory of the requested size.
unsafe impl BlockAllocator for Recording {
    fn allocate(pool: PoolType, bytes: usize, tag: u32) -> *mut core::ffi::c_void {
        CALLS.lock().unwrap().push((pool, bytes, tag));
        let p = <TaggedPool<{ pool_tag(*b"Recd") }>>::allocate(pool, bytes, tag);
        if !p.is_null() {
            LIVE.fetch_add(1, Ordering::SeqCst);
        }
        p
    }
    unsafe fn free(block: *mut core::ffi::c_void) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: `block` came from TaggedPool::allocate in `allocate` above.
        unsafe { <TaggedPool<{ pool_tag(*b"Recd") }>>::free(block) }
    }
}

#[test]
fn allocator_trampolines_get_pool_size_and_tag_and_every_block_comes_back() {
    let sb = Sandbox::new();
    let log = log_with("alloc", 2);
    for pool in [PoolType::NonPagedPoolNx, PoolType::PagedPool] {
        CALLS.lock().unwrap().clear();
        let area = MarshallingArea::<Recording>::create(
            &log,
            MarshallingConfig::new(8 * 1024)
                .pool(pool)
                .max_write_buffers(2)
                .max_read_buffers(2),
        )
        .expect("create");
        let calls = CALLS.lock().unwrap().clone();
        assert!(
            !calls.is_empty(),
            "the emulator allocates a write block through the callback at creation"
        );
        for (p, bytes, tag) in &calls {
            assert_eq!(*p, pool);
            assert_eq!(*bytes, 8 * 1024);
            assert_eq!(*tag, clfs_emu::EMU_BLOCK_TAG);
        }
        let stats = sb.stats();
        assert_eq!(
            stats
                .blocks
                .get(&(pool.raw(), clfs_emu::EMU_BLOCK_TAG))
                .map(|o| o.count),
            Some(calls.len() as u64)
        );
        assert_eq!(
            stats.pool.get(&pool_tag(*b"Recd")).map(|o| o.count),
            Some(LIVE.load(Ordering::SeqCst) as u64)
        );
        area.delete().expect("delete");
        assert_eq!(
            LIVE.load(Ordering::SeqCst),
            0,
            "every block must come back through the free callback"
        );
    }
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn clfs_default_allocator_passes_null_callbacks() {
    let sb = Sandbox::new();
    let log = log_with("default-alloc", 2);
    let area = MarshallingArea::<ClfsAllocator>::create(&log, MarshallingConfig::new(4096))
        .expect("create");
    assert_eq!(sb.stats().calls("ClfsCreateMarshallingArea"), 1);
    assert!(
        sb.stats().pool.values().all(|o| o.count == 0),
        "no ExAllocatePool2 from the library"
    );
    area.delete().expect("delete");
    drop(log);
    assert_no_leaks(&sb);
}

#[test]
fn create_succeeds_and_drop_deletes() {
    let sb = Sandbox::new();
    let log = log_with("ok", 3);
    {
        let _area = MarshallingArea::<TaggedPool<{ pool_tag(*b"Okay") }>>::create(
            &log,
            MarshallingConfig::new(64 * 1024)
                .pool(PoolType::NonPagedPoolNx)
                .max_write_buffers(8)
                .max_read_buffers(4),
        )
        .expect("create");
        assert_eq!(sb.stats().live_areas, 1);
    }
    assert_eq!(sb.stats().live_areas, 0);
    assert_eq!(sb.stats().calls("ClfsDeleteMarshallingArea"), 1);
    drop(log);
    assert_no_leaks(&sb);
}
