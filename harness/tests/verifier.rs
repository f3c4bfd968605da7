//! The verifier's checks on synthetic driver images: each misuse stops the run with the
//! stop code and a report naming the cause; clean use passes.
//!
//! A stop aborts the process, so every case runs in a child process (this test binary,
//! re-executed with `--exact <case>_child` and `VERIFIER_CHILD` set).
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use clfs_harness::{run_on_driver_stack, Driver};
use common::*;

const CHILD: &str = "VERIFIER_CHILD";
const TAG: u32 = u32::from_le_bytes(*b"Tst1");

/// A tiny assembler for the DriverEntry bodies below. Imports: ntoskrnl.exe
/// `ExAllocatePool2` (0), `ExFreePoolWithTag` (1); the allocated block is kept in RBX.
struct Code {
    pe: Pe,
    code: Vec<u8>,
}

impl Code {
    fn new() -> Code {
        let pe = Pe::new(
            &[],
            &[("ntoskrnl.exe", &["ExAllocatePool2", "ExFreePoolWithTag"])],
        );
        // push rbx; sub rsp, 32
        Code {
            pe,
            code: vec![0x53, 0x48, 0x83, 0xEC, 0x20],
        }
    }

    fn call(&mut self, import: usize) {
        let iat = self.pe.iat_rva(0, import);
        self.code.extend_from_slice(&[0xFF, 0x15]);
        let next = TEXT + self.code.len() as u32 + 4;
        self.code.extend_from_slice(&rel(iat, next));
    }

    /// rbx = ExAllocatePool2(POOL_FLAG_NON_PAGED, bytes, tag)
    fn alloc(mut self, bytes: u32, tag: u32) -> Self {
        self.code.extend_from_slice(&[0xB9, 0x40, 0, 0, 0]);
        self.code.push(0xBA);
        self.code.extend_from_slice(&bytes.to_le_bytes());
        self.code.extend_from_slice(&[0x41, 0xB8]);
        self.code.extend_from_slice(&tag.to_le_bytes());
        self.call(0);
        self.code.extend_from_slice(&[0x48, 0x89, 0xC3]); // mov rbx, rax
        self
    }

    /// ExFreePoolWithTag(rbx + offset, tag)
    fn free_at(mut self, offset: i32, tag: u32) -> Self {
        self.code.extend_from_slice(&[0x48, 0x8D, 0x8B]); // lea rcx, [rbx + disp32]
        self.code.extend_from_slice(&offset.to_le_bytes());
        self.code.push(0xBA);
        self.code.extend_from_slice(&tag.to_le_bytes());
        self.call(1);
        self
    }

    fn free(self, tag: u32) -> Self {
        self.free_at(0, tag)
    }

    /// mov byte ptr [rbx + offset], 1
    fn write(mut self, offset: i32) -> Self {
        self.code.extend_from_slice(&[0xC6, 0x83]);
        self.code.extend_from_slice(&offset.to_le_bytes());
        self.code.push(1);
        self
    }

    /// mov al, byte ptr [rbx + offset]
    fn read(mut self, offset: i32) -> Self {
        self.code.extend_from_slice(&[0x8A, 0x83]);
        self.code.extend_from_slice(&offset.to_le_bytes());
        self
    }

    /// mov eax, status; add rsp, 32; pop rbx; ret
    fn ret(mut self, status: u32) -> Vec<u8> {
        self.code.push(0xB8);
        self.code.extend_from_slice(&status.to_le_bytes());
        self.code
            .extend_from_slice(&[0x48, 0x83, 0xC4, 0x20, 0x5B, 0xC3]);
        self.pe.code = self.code;
        self.pe.build()
    }
}

/// Runs DriverEntry of `image` on a driver thread (at the IRQL in `$IRQL`, default
/// PASSIVE_LEVEL); returns its status.
fn run(image: Vec<u8>) -> i32 {
    let irql: u8 = std::env::var("IRQL").map_or(0, |v| v.parse().unwrap());
    run_on_driver_stack(move || {
        let _sandbox = clfs_emu::Sandbox::new();
        let mut driver = Driver::load(&image, "Verifier").unwrap();
        let _irql = clfs_emu::raise_irql(irql);
        // SAFETY: our own synthetic image.
        unsafe { driver.driver_entry() }
    })
    .unwrap()
}

/// `sub rsp, 40; <body>; add rsp, 40; xor eax, eax; ret` importing `imports`, where `body`
/// gets the IAT slot RVAs and the RVA the body starts at.
fn image(imports: &[(&str, &[&str])], body: impl Fn(&Pe, u32) -> Vec<u8>) -> Vec<u8> {
    let mut pe = Pe::new(&[], imports);
    let mut code = vec![0x48, 0x83, 0xEC, 0x28];
    code.extend(body(&pe, TEXT + 4));
    code.extend_from_slice(&[0x48, 0x83, 0xC4, 0x28, 0x31, 0xC0, 0xC3]);
    pe.code = code;
    pe.build()
}

/// `xor ecx, ecx; call [iat]` (the call ends 8 bytes after `at`).
fn call_with_null(iat: u32, at: u32) -> Vec<u8> {
    let mut c = vec![0x31, 0xC9, 0xFF, 0x15];
    c.extend_from_slice(&rel(iat, at + 8));
    c
}

/// A DriverEntry that probes a frame of `bytes` with `__chkstk`.
fn probe(bytes: u32) -> Vec<u8> {
    image(&[("ntoskrnl.exe", &["__chkstk"])], |pe, at| {
        let mut c = vec![0xB8];
        c.extend_from_slice(&bytes.to_le_bytes());
        c.extend_from_slice(&[0xFF, 0x15]);
        c.extend_from_slice(&rel(pe.iat_rva(0, 0), at + 11));
        c
    })
}

/// Runs `case` in a child process; returns (survived, stderr).
fn child(case: &str, env: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", case, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success() && stdout.contains("SURVIVED"), stderr)
}

/// The `*** STOP` line of a child that must have stopped.
fn stop_line(case: &str, env: &[(&str, &str)]) -> String {
    let (survived, stderr) = child(case, env);
    assert!(!survived, "{case}: the misuse was not caught:\n{stderr}");
    stderr
        .lines()
        .find(|l| l.starts_with("*** STOP"))
        .unwrap_or_else(|| panic!("{case}: no STOP line:\n{stderr}"))
        .to_string()
}

macro_rules! child_case {
    ($name:ident, $image:expr) => {
        #[test]
        fn $name() {
            if std::env::var_os(CHILD).is_none() {
                return;
            }
            if std::env::var_os("ALIGN_START").is_some() {
                clfs_harness::verifier::configure(clfs_harness::verifier::Settings {
                    align_start: true,
                    ..Default::default()
                });
            }
            let status = run($image);
            println!("SURVIVED with {status:#x}");
        }
    };
}

child_case!(
    clean_child,
    Code::new()
        .alloc(64, TAG)
        .write(0)
        .write(63)
        .free(TAG)
        .ret(0)
);
child_case!(overrun_child, Code::new().alloc(64, TAG).write(64).ret(0));
child_case!(
    slack_overrun_child,
    Code::new().alloc(61, TAG).write(61).free(TAG).ret(0)
);
child_case!(underrun_child, Code::new().alloc(64, TAG).write(-1).ret(0));
child_case!(
    use_after_free_child,
    Code::new().alloc(64, TAG).free(TAG).read(8).ret(0)
);
child_case!(
    double_free_child,
    Code::new().alloc(64, TAG).free(TAG).free(TAG).ret(0)
);
child_case!(
    wrong_tag_child,
    Code::new()
        .alloc(64, TAG)
        .free(u32::from_le_bytes(*b"Oops"))
        .ret(0)
);
child_case!(zero_size_child, Code::new().alloc(0, TAG).ret(0));
child_case!(
    foreign_free_child,
    Code::new().alloc(64, TAG).free_at(16, TAG).ret(0)
);
child_case!(leak_child, Code::new().alloc(100, TAG).ret(0xC000_009A));

child_case!(
    clfs_at_dispatch_child,
    image(&[("clfs.sys", &["ClfsFlushBuffers"])], |pe, at| {
        call_with_null(pe.iat_rva(0, 0), at)
    })
);
child_case!(
    passive_routine_at_apc_child,
    image(
        &[("ntoskrnl.exe", &["MmGetSystemRoutineAddress"])],
        |pe, at| { call_with_null(pe.iat_rva(0, 0), at) }
    )
);
/// `KeAcquireSpinLockRaiseToDpc(&lock)` on a zeroed lock at `[rsp+0x20]`, then `releases`
/// times `KeReleaseSpinLock(&lock, al)` (imports 0 and 1 of the first DLL).
fn spin_lock(pe: &Pe, at: u32, releases: u32) -> Vec<u8> {
    // mov qword ptr [rsp+0x20], 0; lea rcx, [rsp+0x20]; call [acquire]
    let mut c = vec![0x48, 0xC7, 0x44, 0x24, 0x20, 0, 0, 0, 0];
    c.extend_from_slice(&[0x48, 0x8D, 0x4C, 0x24, 0x20, 0xFF, 0x15]);
    c.extend_from_slice(&rel(pe.iat_rva(0, 0), at + 20));
    for i in 0..releases {
        // lea rcx, [rsp+0x20]; movzx edx, al; call [release]
        c.extend_from_slice(&[0x48, 0x8D, 0x4C, 0x24, 0x20, 0x0F, 0xB6, 0xD0, 0xFF, 0x15]);
        c.extend_from_slice(&rel(pe.iat_rva(0, 1), at + 34 + 14 * i));
    }
    c
}

const SPIN_LOCKS: &[(&str, &[&str])] = &[(
    "ntoskrnl.exe",
    &["KeAcquireSpinLockRaiseToDpc", "KeReleaseSpinLock"],
)];

child_case!(
    spin_lock_released_child,
    image(SPIN_LOCKS, |pe, at| spin_lock(pe, at, 1))
);
child_case!(
    spin_lock_held_on_return_child,
    image(SPIN_LOCKS, |pe, at| spin_lock(pe, at, 0))
);
child_case!(
    spin_lock_released_twice_child,
    image(SPIN_LOCKS, |pe, at| spin_lock(pe, at, 2))
);
child_case!(stack_20k_child, probe(20 * 1024));
child_case!(stack_overflow_child, probe(24 * 1024));

#[test]
fn a_clfs_call_at_dispatch_level_stops_naming_the_routine_and_the_irql() {
    let stop = stop_line("clfs_at_dispatch_child", &[("IRQL", "2")]);
    assert_eq!(
        stop,
        "*** STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) DDI compliance: clfs.sys!ClfsFlushBuffers called at IRQL 2 (DISPATCH_LEVEL); its maximum is APC_LEVEL (1) [0x2000, 0x2, 0x1, 0x0]"
    );
    // At APC_LEVEL the call is allowed (and fails on the NULL context).
    let (survived, stderr) = child("clfs_at_dispatch_child", &[("IRQL", "1")]);
    assert!(survived, "{stderr}");
}

#[test]
fn driver_entry_returning_at_a_raised_irql_stops() {
    let (survived, stderr) = child("spin_lock_released_child", &[]);
    assert!(survived, "acquire + release must pass:\n{stderr}");
    let stop = stop_line("spin_lock_held_on_return_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000C8 (IRQL_UNEXPECTED_VALUE) DriverEntry at image+0x1000 returned at IRQL 2 (DISPATCH_LEVEL), but was called at IRQL 0 (PASSIVE_LEVEL): a driver routine must return at the IRQL it was called at"),
        "{stop}"
    );
    // Parameter 1: (current << 16) | (expected << 8) | 2.
    assert!(stop.contains("[0x20002, "), "{stop}");
    // Called at APC_LEVEL, returned at DISPATCH_LEVEL.
    let stop = stop_line("spin_lock_held_on_return_child", &[("IRQL", "1")]);
    assert!(
        stop.contains("returned at IRQL 2 (DISPATCH_LEVEL), but was called at IRQL 1 (APC_LEVEL)"),
        "{stop}"
    );
    assert!(stop.contains("[0x20102, "), "{stop}");
}

#[test]
fn a_spin_lock_released_twice_stops() {
    let stop = stop_line("spin_lock_released_twice_child", &[]);
    assert!(
        stop.starts_with(
            "*** STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) KeReleaseSpinLock(0x"
        ),
        "{stop}"
    );
    assert!(
        stop.contains(") called at IRQL 0 (PASSIVE_LEVEL): a spin lock is released at DISPATCH_LEVEL by its holder (a double release, or a release of a lock never acquired) [0x32, 0x0, "),
        "{stop}"
    );
    // Called at DISPATCH_LEVEL, the first release stays there: the second one releases a
    // lock that is not held.
    let stop = stop_line("spin_lock_released_twice_child", &[("IRQL", "2")]);
    assert!(
        stop.contains(
            "(DRIVER_VERIFIER_DETECTED_VIOLATION) DDI compliance (SpinLock): KeReleaseSpinLock(0x"
        ),
        "{stop}"
    );
    assert!(stop.contains("of a spin lock that is not held"), "{stop}");
    assert!(stop.contains("[0x40009, "), "{stop}");
}

#[test]
fn a_passive_level_routine_at_apc_level_stops() {
    let stop = stop_line("passive_routine_at_apc_child", &[("IRQL", "1")]);
    assert!(
        stop.contains("DDI compliance: ntoskrnl.exe!MmGetSystemRoutineAddress called at IRQL 1 (APC_LEVEL); its maximum is PASSIVE_LEVEL (0)"),
        "{stop}"
    );
}

#[test]
fn every_routine_the_loader_implements_has_a_maximum_irql() {
    for (dll, table) in clfs_harness::imports::tables() {
        for (name, _) in table {
            assert!(
                clfs_harness::verifier::ddi::routine(dll, name).is_some(),
                "{dll}!{name} has no DDI facts (maximum IRQL) in verifier::ddi"
            );
        }
    }
}

#[test]
fn the_driver_runs_on_a_24_kib_stack_and_an_overflow_is_a_double_fault() {
    let (survived, stderr) = child("stack_20k_child", &[]);
    assert!(survived, "a 20 KiB frame fits: {stderr}");
    let stop = stop_line("stack_overflow_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x0000007F (UNEXPECTED_KERNEL_MODE_TRAP) EXCEPTION_DOUBLE_FAULT: kernel stack overflow: the driver used more than its 24 KiB kernel stack"),
        "{stop}"
    );
    assert!(stop.contains("[0x8, "), "{stop}");
}

#[test]
fn the_trace_shows_each_import_call_with_arguments_and_status() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let (survived, stderr) = child("trace_child", &[]);
    assert!(survived, "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[trace]"))
        .collect();
    assert_eq!(
        lines.first().copied(),
        Some("[trace] ntoskrnl.exe!ExAllocatePool2(Flags=0x40, NumberOfBytes=0x40, Tag=0x31747354) -> 0x0 [injected]"),
        "{stderr}"
    );
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[2].starts_with("[trace] ntoskrnl.exe!ExFreePoolWithTag(P=0x")
            && lines[2].ends_with(", Tag=0x31747354)"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("[trace] ntoskrnl.exe!ExAllocatePool2(Flags=0x40, NumberOfBytes=0x40, Tag=0x31747354) -> 0x"),
        "{stderr}"
    );
}

#[test]
fn trace_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    clfs_harness::verifier::trace::set(true);
    // Two allocations; the first fails by injection (100 %, then off), the second succeeds
    // and is freed.
    let bytes = Code::new().alloc(64, TAG).alloc(64, TAG).free(TAG).ret(0);
    let (status, injected) = run_on_driver_stack(move || {
        let _sandbox = clfs_emu::Sandbox::new();
        let mut driver = Driver::load(&bytes, "Verifier").unwrap();
        clfs_harness::verifier::lowres::enable(1, 100);
        clfs_harness::verifier::lowres::limit(1);
        // SAFETY: our own synthetic image.
        let status = unsafe { driver.driver_entry() };
        (status, clfs_harness::verifier::lowres::disable().0)
    })
    .unwrap();
    assert_eq!(injected, ["ExAllocatePool2"]);
    println!("SURVIVED with {status:#x}");
}

#[test]
fn clean_pool_use_passes() {
    let (survived, stderr) = child("clean_child", &[]);
    assert!(survived, "{stderr}");
}

#[test]
fn a_one_byte_overrun_stops_at_the_faulting_instruction() {
    let stop = stop_line("overrun_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000D6 (DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION) pool overrun: write at offset 0x40 of a 64-byte block"),
        "{stop}"
    );
    assert!(stop.contains("tag 'Tst1' (0x31747354)"), "{stop}");
    // The `mov byte ptr [rbx+64], 1` follows the prologue (5 bytes) and the allocation (25).
    assert!(
        stop.contains("by the instruction at image+0x101e"),
        "{stop}"
    );
}

#[test]
fn an_overrun_into_the_alignment_slack_is_caught_at_free() {
    let stop = stop_line("slack_overrun_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000C1 (SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION)"),
        "{stop}"
    );
    assert!(
        stop.contains("after the end of the 61-byte block with tag 'Tst1'"),
        "{stop}"
    );
    assert!(stop.contains("overrun at offset 0x3d"), "{stop}");
}

#[test]
fn an_underrun_is_caught_with_start_alignment() {
    let stop = stop_line("underrun_child", &[("ALIGN_START", "1")]);
    assert!(
        stop.starts_with("*** STOP: 0x000000D6 (DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION) pool underrun: write at offset -0x1 of a 64-byte block"),
        "{stop}"
    );
}

#[test]
fn a_use_after_free_stops() {
    let stop = stop_line("use_after_free_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000D5 (DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL) use after free: read at offset 0x8 of a freed 64-byte block with tag 'Tst1'"),
        "{stop}"
    );
    assert!(stop.contains("by the instruction at image+0x"), "{stop}");
}

#[test]
fn a_double_free_stops() {
    let stop = stop_line("double_free_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000C2 (BAD_POOL_CALLER) ExFreePoolWithTag(")
            && stop.contains("double free of a 64-byte block with tag 'Tst1'"),
        "{stop}"
    );
}

#[test]
fn a_free_with_the_wrong_tag_stops() {
    let stop = stop_line("wrong_tag_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000C2 (BAD_POOL_CALLER)")
            && stop.contains(
                "with tag 'Oops' (0x73706F4F), but the 64-byte block was allocated with tag 'Tst1'"
            ),
        "{stop}"
    );
}

#[test]
fn a_zero_size_allocation_stops() {
    let stop = stop_line("zero_size_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) ExAllocatePool2: zero-byte pool allocation with tag 'Tst1'"),
        "{stop}"
    );
    assert!(stop.ends_with("[0x0, 0x0, 0x40, 0x0]"), "{stop}");
}

#[test]
fn a_free_of_a_foreign_pointer_stops() {
    let stop = stop_line("foreign_free_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION)")
            && stop.contains(
                "free of a foreign pointer: offset 0x10 inside a 64-byte block with tag 'Tst1'"
            ),
        "{stop}"
    );
}

#[test]
fn a_leak_is_reported_by_tag_and_size() {
    let stop = stop_line("leak_child", &[]);
    assert!(
        stop.starts_with("*** STOP: 0x000000C4 (DRIVER_VERIFIER_DETECTED_VIOLATION) DriverEntry failed with 0xc000009a (the image is unloaded), but the driver still holds 1 pool allocation(s), 100 bytes: tag 'Tst1' (0x31747354): 1 block(s), 100 bytes (sizes 100)"),
        "{stop}"
    );
    assert!(stop.contains("[0x62, "), "{stop}");
}
