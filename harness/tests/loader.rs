//! The loader on synthetic images: what it runs, and every refusal, with the rule it names.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use clfs_harness::{load_image, run_on_driver_stack, Driver, LoadError, PeImage};
use common::*;

/// Loads `bytes` and runs its DriverEntry on a driver thread (with a sandbox and at `irql`).
fn run(bytes: Vec<u8>, irql: u8) -> (i32, clfs_emu::Stats, Vec<u8>) {
    run_on_driver_stack(move || {
        let sandbox = clfs_emu::Sandbox::new();
        let mut driver = Driver::load(&bytes, "Synthetic").unwrap();
        let status = {
            let _irql = clfs_emu::raise_irql(irql);
            // SAFETY: our own synthetic image.
            unsafe { driver.driver_entry() }
        };
        let data_at = driver.image().base() + DATA as usize;
        // SAFETY: .data is mapped read-write for 0x1000 bytes at this address while `driver`
        // lives.
        let data = unsafe { std::slice::from_raw_parts(data_at as *const u8, 64) }.to_vec();
        (status, sandbox.stats(), data)
    })
    .unwrap()
}

fn refuse(bytes: &[u8]) -> LoadError {
    match load_image(bytes) {
        Ok(_) => panic!("the loader accepted the image"),
        Err(e) => e,
    }
}

#[test]
fn a_minimal_driver_loads_and_returns_success() {
    let pe = Pe::new(RET_SUCCESS, &[]);
    let (status, _, _) = run(pe.build(), 0);
    assert_eq!(status, 0);
}

#[test]
fn sections_get_their_protections_and_the_entry_is_code() {
    let image = load_image(&Pe::new(RET_SUCCESS, &[]).build()).unwrap();
    assert_eq!(image.entry(), image.base() + TEXT as usize);
    assert!(image.is_code(image.entry()));
    assert!(!image.is_code(image.base() + DATA as usize));
    let prots: Vec<_> = image.sections().iter().map(|s| s.protection).collect();
    use clfs_harness::pe::Protection::*;
    assert_eq!(prots, [ReadExecute, Read, ReadWrite, Read]);
    // The mapping is page-aligned and SizeOfImage long.
    assert_eq!(image.base() % 0x1000, 0);
    assert_eq!(image.len(), 0x5000);
}

#[test]
fn an_ntoskrnl_import_is_bound_to_its_win64_routine() {
    // sub rsp,40; call [KeGetCurrentIrql]; movzx eax,al; add rsp,40; ret
    let mut pe = Pe::new(&[], &[("ntoskrnl.exe", &["KeGetCurrentIrql"])]);
    let iat = pe.iat_rva(0, 0);
    let mut code = vec![0x48, 0x83, 0xEC, 0x28, 0xFF, 0x15];
    code.extend_from_slice(&rel(iat, TEXT + 10));
    code.extend_from_slice(&[0x0F, 0xB6, 0xC0, 0x48, 0x83, 0xC4, 0x28, 0xC3]);
    pe.code = code;
    assert_eq!(run(pe.build(), 0).0, 0);
    assert_eq!(
        run(pe.build(), 2).0,
        2,
        "KeGetCurrentIrql sees the simulated IRQL"
    );
}

#[test]
fn a_cr8_read_sees_the_simulated_irql() {
    // What KeGetCurrentIrql is on x64 (and what `clfs` compiles its IRQL check to):
    // mov rax, cr8; ret
    let pe = Pe::new(&[0x44, 0x0F, 0x20, 0xC0, 0xC3], &[]);
    assert_eq!(run(pe.build(), 0).0, 0);
    assert_eq!(run(pe.build(), 1).0, 1);
    assert_eq!(
        run(pe.build(), 2).0,
        2,
        "mov rax, cr8 reads the simulated IRQL"
    );
    // Into an extended register, through REX.B, with the rest of the code unaffected:
    // mov rax, -1; mov r9, cr8; add rax, r9; ret   (-1 + IRQL)
    let code = [
        0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, // mov rax, -1
        0x45, 0x0F, 0x20, 0xC1, // mov r9, cr8
        0x4C, 0x01, 0xC8, // add rax, r9
        0xC3,
    ];
    let pe = Pe::new(&code, &[]);
    assert_eq!(run(pe.build(), 2).0, 1);
    assert_eq!(run(pe.build(), 0).0, -1);
}

const FAULT_CHILD: &str = "CLFS_HARNESS_FAULT_CHILD";

/// The child half of the next test: runs an image that reads CR0, which is not emulated.
#[test]
fn other_privileged_instructions_still_fault_child() {
    if std::env::var_os(FAULT_CHILD).is_none() {
        return;
    }
    // mov rax, cr0; ret
    let pe = Pe::new(&[0x0F, 0x20, 0xC0, 0xC3], &[]);
    let status = run(pe.build(), 0).0;
    println!("survived with {status:#x}");
}

#[test]
fn other_privileged_instructions_still_fault() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "other_privileged_instructions_still_fault_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FAULT_CHILD, "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "the CR0 read must kill the process with SIGSEGV (stdout: {})",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("survived"));
}

#[test]
fn a_clfs_import_reaches_the_emulator_through_its_thunk() {
    // sub rsp,40; mov ecx,1; mov edx,0x400; mov r8d,3; call [ClfsLsnCreate];
    // mov [rip+.data],rax; add rsp,40; xor eax,eax; ret
    let mut pe = Pe::new(&[], &[("CLFS.SYS", &["ClfsLsnCreate"])]);
    let iat = pe.iat_rva(0, 0);
    let mut code = vec![0x48, 0x83, 0xEC, 0x28];
    code.extend_from_slice(&[0xB9, 1, 0, 0, 0]);
    code.extend_from_slice(&[0xBA, 0x00, 0x04, 0, 0]);
    code.extend_from_slice(&[0x41, 0xB8, 3, 0, 0, 0]);
    code.extend_from_slice(&[0xFF, 0x15]);
    let next = TEXT + code.len() as u32 + 4;
    code.extend_from_slice(&rel(iat, next));
    code.extend_from_slice(&[0x48, 0x89, 0x05]);
    let next = TEXT + code.len() as u32 + 4;
    code.extend_from_slice(&rel(DATA, next));
    code.extend_from_slice(&[0x48, 0x83, 0xC4, 0x28, 0x31, 0xC0, 0xC3]);
    pe.code = code;
    pe.data = vec![0; 8];
    let (status, stats, data) = run(pe.build(), 0);
    assert_eq!(status, 0);
    // SAFETY: a pure function of its arguments.
    let want = unsafe { clfs_emu::ClfsLsnCreate(1, 0x400, 3) };
    assert_eq!(
        u64::from_le_bytes(data[..8].try_into().unwrap()),
        want.Internal
    );
    assert_eq!(stats.calls("ClfsLsnCreate"), 1);
}

#[test]
fn base_relocations_are_applied_for_the_mapped_address() {
    // lea rcx,[rip+entry]; mov rax,[rip+.data]; sub rax,rcx; ret  => 0 iff relocated
    let mut pe = Pe::new(&[], &[]);
    let mut code = vec![0x48, 0x8D, 0x0D];
    code.extend_from_slice(&rel(TEXT, TEXT + 7));
    code.extend_from_slice(&[0x48, 0x8B, 0x05]);
    code.extend_from_slice(&rel(DATA, TEXT + 14));
    code.extend_from_slice(&[0x48, 0x29, 0xC8, 0xC3]);
    pe.code = code;
    pe.data = (IMAGE_BASE + u64::from(TEXT)).to_le_bytes().to_vec();
    pe.relocs = vec![DATA];
    let bytes = pe.build();
    assert_eq!(PeImage::parse(&bytes).unwrap().relocations(), &[DATA]);
    assert_eq!(run(bytes, 0).0, 0);
}

#[test]
fn dbgprint_formats_its_variadic_arguments() {
    // sub rsp,40; lea rcx,[fmt]; mov edx,42; lea r8,[str]; mov r9d,-7; mov qword [rsp+32],0xABC
    // call [DbgPrint]; add rsp,40; xor eax,eax; ret   (5 arguments: one on the stack)
    let mut pe = Pe::new(&[], &[("ntoskrnl.exe", &["DbgPrint"])]);
    pe.rdata = b"n=%d s=%s i=%i p=%p\n\0hello\0".to_vec();
    let fmt = pe.rdata_rva();
    let s = fmt + 21;
    let iat = pe.iat_rva(0, 0);
    let mut code = vec![0x48, 0x83, 0xEC, 0x28, 0x48, 0x8D, 0x0D];
    let next = TEXT + code.len() as u32 + 4;
    code.extend_from_slice(&rel(fmt, next));
    code.extend_from_slice(&[0xBA, 42, 0, 0, 0, 0x4C, 0x8D, 0x05]);
    let next = TEXT + code.len() as u32 + 4;
    code.extend_from_slice(&rel(s, next));
    code.extend_from_slice(&[0x41, 0xB9, 0xF9, 0xFF, 0xFF, 0xFF]);
    code.extend_from_slice(&[0x48, 0xC7, 0x44, 0x24, 0x20, 0xBC, 0x0A, 0, 0]);
    code.extend_from_slice(&[0xFF, 0x15]);
    let next = TEXT + code.len() as u32 + 4;
    code.extend_from_slice(&rel(iat, next));
    code.extend_from_slice(&[0x48, 0x83, 0xC4, 0x28, 0x31, 0xC0, 0xC3]);
    pe.code = code;
    let bytes = pe.build();
    let out = run_on_driver_stack(move || {
        let _sandbox = clfs_emu::Sandbox::new();
        let mut driver = Driver::load(&bytes, "Synthetic").unwrap();
        // SAFETY: our own synthetic image.
        let status = unsafe { driver.driver_entry() };
        (status, clfs_harness::dbgprint::take_output())
    })
    .unwrap();
    assert_eq!(
        out,
        (0, "n=42 s=hello i=-7 p=0000000000000ABC\n".to_string())
    );
}

#[test]
fn chkstk_probes_a_large_frame() {
    // sub rsp,40; mov eax,0x5000; call [__chkstk]; add rsp,40; xor eax,eax; ret
    // (20 KiB: within the 24 KiB kernel stack; tests/verifier.rs overflows it)
    let mut pe = Pe::new(&[], &[("ntoskrnl.exe", &["__chkstk"])]);
    let iat = pe.iat_rva(0, 0);
    let mut code = vec![0x48, 0x83, 0xEC, 0x28, 0xB8, 0x00, 0x50, 0, 0, 0xFF, 0x15];
    code.extend_from_slice(&rel(iat, TEXT + 15));
    code.extend_from_slice(&[0x48, 0x83, 0xC4, 0x28, 0x31, 0xC0, 0xC3]);
    pe.code = code;
    assert_eq!(run(pe.build(), 0).0, 0);
}

#[test]
fn the_unload_routine_is_called_only_after_success_and_only_if_set() {
    let bytes = Pe::new(RET_SUCCESS, &[]).build();
    run_on_driver_stack(move || {
        let _sandbox = clfs_emu::Sandbox::new();
        let mut driver = Driver::load(&bytes, "Synthetic").unwrap();
        // SAFETY: our own synthetic image.
        let early = unsafe { driver.unload() };
        assert_eq!(early, Err(clfs_harness::UnloadError::NotStarted));
        // SAFETY: as above.
        let status = unsafe { driver.driver_entry() };
        assert_eq!(status, 0);
        // SAFETY: as above.
        let unset = unsafe { driver.unload() };
        assert_eq!(unset, Err(clfs_harness::UnloadError::NoUnloadRoutine));
        assert_eq!(driver.object().Type, 4);
        assert_eq!(driver.object().DriverStart as usize, driver.image().base());
    })
    .unwrap();
}

/// A driver that calls `KeBugCheckEx(0xDEAD, 1, 2, 3, 4)`.
fn bugchecking_driver() -> Vec<u8> {
    let mut pe = Pe::new(&[], &[("ntoskrnl.exe", &["KeBugCheckEx"])]);
    let iat = pe.iat_rva(0, 0);
    let mut code = vec![0x48, 0x83, 0xEC, 0x28];
    code.extend_from_slice(&[0xB9, 0xAD, 0xDE, 0, 0]);
    code.extend_from_slice(&[0xBA, 1, 0, 0, 0]);
    code.extend_from_slice(&[0x41, 0xB8, 2, 0, 0, 0]);
    code.extend_from_slice(&[0x41, 0xB9, 3, 0, 0, 0]);
    code.extend_from_slice(&[0x48, 0xC7, 0x44, 0x24, 0x20, 4, 0, 0, 0]);
    code.extend_from_slice(&[0xFF, 0x15]);
    let next = TEXT + code.len() as u32 + 4;
    code.extend_from_slice(&rel(iat, next));
    code.push(0xCC);
    pe.code = code;
    pe.build()
}

#[test]
fn kebugcheckex_stops_the_process_with_a_stop_line() {
    if std::env::var_os("CLFS_HARNESS_BUGCHECK_CHILD").is_some() {
        let _ = run(bugchecking_driver(), 0);
        println!("the driver returned from KeBugCheckEx");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kebugcheckex_stops_the_process_with_a_stop_line",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CLFS_HARNESS_BUGCHECK_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child survived: {stderr}");
    assert!(
        stderr.contains("*** STOP: 0x0000DEAD") && stderr.contains("[0x1, 0x2, 0x3, 0x4]"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[test]
fn every_missing_import_is_listed() {
    let pe = Pe::new(
        RET_SUCCESS,
        &[
            (
                "ntoskrnl.exe",
                &["ExAllocatePool2", "IoAttachDeviceToDeviceStack"],
            ),
            ("HAL.dll", &["KeStallExecutionProcessor"]),
            ("clfs.sys", &["ClfsFinalize", "ClfsCreateLogFile"]),
        ],
    );
    let e = refuse(&pe.build());
    assert_eq!(
        e,
        LoadError::MissingImports(vec![
            "ntoskrnl.exe!IoAttachDeviceToDeviceStack".into(),
            "HAL.dll!KeStallExecutionProcessor".into(),
            "clfs.sys!ClfsFinalize".into(),
        ])
    );
    let msg = e.to_string();
    assert!(msg.starts_with("3 import(s) not implemented"), "{msg}");
    assert!(msg.contains("HAL.dll!KeStallExecutionProcessor"), "{msg}");
}

#[test]
fn truncated_files_are_refused() {
    let bytes = Pe::new(RET_SUCCESS, &[]).build();
    assert!(matches!(refuse(&[]), LoadError::Truncated { .. }));
    assert!(matches!(refuse(&bytes[..10]), LoadError::Truncated { .. }));
    for len in [
        0x40,
        0x84,
        0x98,
        0x100,
        0x188,
        0x200,
        0x3FF,
        0x400,
        0x500,
        bytes.len() - 1,
    ] {
        let e = refuse(&bytes[..len]);
        assert!(
            matches!(
                e,
                LoadError::Truncated { .. }
                    | LoadError::Malformed { .. }
                    | LoadError::Headers { .. }
                    | LoadError::SectionOutsideFile { .. }
            ),
            "{len:#x}: {e}"
        );
    }
}

#[test]
fn a_wrong_machine_magic_or_subsystem_is_refused() {
    let good = Pe::new(RET_SUCCESS, &[]).build();
    let mut b = good.clone();
    set16(&mut b, 0x84, 0x014C);
    assert_eq!(refuse(&b), LoadError::WrongMachine { machine: 0x014C });
    let mut b = good.clone();
    set16(&mut b, OPT, 0x10B);
    assert_eq!(refuse(&b), LoadError::NotPe32Plus { magic: 0x10B });
    let mut b = good.clone();
    set16(&mut b, OPT + 68, 2);
    assert_eq!(refuse(&b), LoadError::WrongSubsystem { subsystem: 2 });
    let mut b = good.clone();
    set16(&mut b, 0x96, 0x2020);
    assert!(matches!(refuse(&b), LoadError::NotExecutable { .. }));
    let mut b = good;
    b[0] = b'X';
    assert!(matches!(refuse(&b), LoadError::Malformed { .. }));
}

#[test]
fn bad_sizes_and_alignments_are_refused() {
    let good = Pe::new(RET_SUCCESS, &[]).build();
    let mut b = good.clone();
    set32(&mut b, OPT + 56, 0x0800_0000);
    assert!(matches!(refuse(&b), LoadError::ImageSize { .. }));
    let mut b = good.clone();
    set32(&mut b, OPT + 56, 0);
    assert!(matches!(refuse(&b), LoadError::ImageSize { .. }));
    let mut b = good.clone();
    set32(&mut b, OPT + 32, 0x200);
    assert!(matches!(refuse(&b), LoadError::SectionAlignment { .. }));
    let mut b = good.clone();
    set32(&mut b, OPT + 60, 0x10_0000);
    assert!(matches!(refuse(&b), LoadError::Headers { .. }));
    let mut b = good;
    set32(&mut b, section_field(2, 12), 0x3100);
    assert!(matches!(refuse(&b), LoadError::SectionMisaligned { .. }));
}

#[test]
fn sections_outside_the_file_or_image_or_overlapping_are_refused() {
    let good = Pe::new(RET_SUCCESS, &[]).build();
    let mut b = good.clone();
    set32(&mut b, section_field(2, 20), 0x10_0000);
    assert!(matches!(refuse(&b), LoadError::SectionOutsideFile { .. }));
    let mut b = good.clone();
    set32(&mut b, section_field(2, 16), 0xFFFF_FE00);
    assert!(matches!(refuse(&b), LoadError::SectionOutsideFile { .. }));
    let mut b = good.clone();
    set32(&mut b, section_field(3, 12), 0x5000);
    assert!(matches!(refuse(&b), LoadError::SectionOutsideImage { .. }));
    let mut b = good.clone();
    set32(&mut b, section_field(0, 8), 0x7FFF_FFFF);
    assert!(matches!(refuse(&b), LoadError::SectionOutsideImage { .. }));
    let mut b = good.clone();
    set32(&mut b, section_field(1, 12), 0x1000);
    assert!(matches!(refuse(&b), LoadError::SectionsOverlap { .. }));
    let mut b = good.clone();
    set32(&mut b, section_field(0, 8), 0x1800);
    assert!(matches!(refuse(&b), LoadError::SectionsOverlap { .. }));
    let mut b = good.clone();
    set32(&mut b, section_field(0, 12), 0);
    assert!(matches!(refuse(&b), LoadError::SectionsOverlap { .. }));
    let mut b = good;
    set16(&mut b, 0x86, 200);
    assert!(matches!(
        refuse(&b),
        LoadError::TooManySections { .. } | LoadError::Malformed { .. } | LoadError::Headers { .. }
    ));
}

#[test]
fn writable_executable_sections_are_refused() {
    let mut b = Pe::new(RET_SUCCESS, &[]).build();
    set32(&mut b, section_field(0, 36), 0xE000_0020);
    assert!(matches!(
        refuse(&b),
        LoadError::WritableAndExecutable { .. }
    ));
}

#[test]
fn an_entry_point_outside_code_is_refused() {
    let good = Pe::new(RET_SUCCESS, &[]).build();
    for (rva, want_outside) in [
        (0x9000, true),
        (0, true),
        (0x4_0000, true),
        (DATA, false),
        (RDATA, false),
    ] {
        let mut b = good.clone();
        set32(&mut b, OPT + 16, rva);
        match refuse(&b) {
            LoadError::EntryOutside { rva: r } if want_outside => assert_eq!(r, rva),
            LoadError::EntryNotExecutable { rva: r, .. } if !want_outside => assert_eq!(r, rva),
            e => panic!("{rva:#x}: {e}"),
        }
    }
}

#[test]
fn bad_relocations_are_refused() {
    let mut pe = Pe::new(RET_SUCCESS, &[]);
    pe.relocs = vec![0x4FFC];
    assert_eq!(
        refuse(&pe.build()),
        LoadError::RelocationOutside {
            rva: 0x4FFC,
            image_size: 0x5000
        }
    );
    pe.relocs = vec![DATA];
    let good = pe.build();
    let reloc_file =
        u32::from_le_bytes(good[section_field(3, 20)..][..4].try_into().unwrap()) as usize;
    // HIGHLOW (3) instead of DIR64.
    let mut b = good.clone();
    set16(&mut b, reloc_file + 8, 0x3000);
    let e = refuse(&b);
    assert!(
        matches!(e, LoadError::UnsupportedRelocation { kind: 3, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("IMAGE_REL_BASED_HIGHLOW"), "{e}");
    // A block size that runs past the directory, and one below 8.
    let mut b = good.clone();
    set32(&mut b, reloc_file + 4, 0x100);
    assert!(matches!(refuse(&b), LoadError::BadRelocationBlock { .. }));
    let mut b = good.clone();
    set32(&mut b, reloc_file + 4, 4);
    assert!(matches!(refuse(&b), LoadError::BadRelocationBlock { .. }));
    // The directory itself outside the image.
    let mut b = good.clone();
    set32(&mut b, OPT + 152, 0x4FFF);
    assert!(matches!(refuse(&b), LoadError::DirectoryOutside { .. }));
    // Relocations stripped: cannot be moved from its preferred base.
    let mut b = good;
    set16(&mut b, 0x96, 0x2023);
    assert!(matches!(refuse(&b), LoadError::RelocationsStripped { .. }));
}

#[test]
fn a_malformed_import_table_is_refused() {
    let pe = Pe::new(RET_SUCCESS, &[("ntoskrnl.exe", &["KeGetCurrentIrql"])]);
    let good = pe.build();
    let rdata_file =
        u32::from_le_bytes(good[section_field(1, 20)..][..4].try_into().unwrap()) as usize;
    // The DLL name outside the image.
    let mut b = good.clone();
    set32(&mut b, rdata_file + 12, 0x00FF_0000);
    assert!(matches!(refuse(&b), LoadError::BadImports { .. }));
    // The lookup table outside the image.
    let mut b = good.clone();
    set32(&mut b, rdata_file, 0x4FFC);
    assert!(matches!(refuse(&b), LoadError::BadImports { .. }));
    // An import by ordinal is never bound.
    let mut b = good;
    let ilt = pe.iat_rva(0, 0) as usize - RDATA as usize + 16;
    set64(&mut b, rdata_file + ilt, (1 << 63) | 7);
    assert_eq!(
        refuse(&b),
        LoadError::MissingImports(vec!["ntoskrnl.exe!#7".into()])
    );
}

#[test]
fn the_implemented_routines_cover_what_the_sample_imports() {
    let all = clfs_harness::imports::implemented();
    for r in [
        "clfs.sys!ClfsAddLogContainer",
        "clfs.sys!ClfsAddLogContainerSet",
        "clfs.sys!ClfsCloseLogFileObject",
        "clfs.sys!ClfsCreateLogFile",
        "clfs.sys!ClfsCreateMarshallingArea",
        "clfs.sys!ClfsDeleteMarshallingArea",
        "clfs.sys!ClfsFlushToLsn",
        "clfs.sys!ClfsQueryLogFileInformation",
        "clfs.sys!ClfsReserveAndAppendLog",
        "clfs.sys!ClfsWriteRestartArea",
        "ntoskrnl.exe!ExAllocatePool2",
        "ntoskrnl.exe!ExFreePoolWithTag",
        "ntoskrnl.exe!KeGetCurrentIrql",
        "ntoskrnl.exe!MmGetSystemRoutineAddress",
        "ntoskrnl.exe!memcpy",
        "ntoskrnl.exe!DbgPrintEx",
        "ntoskrnl.exe!KeBugCheckEx",
    ] {
        assert!(all.iter().any(|a| a == r), "{r} is not implemented");
    }
    assert!(clfs_harness::imports::lookup("NTOSKRNL.EXE", "memcpy").is_some());
    assert!(clfs_harness::imports::lookup("ntoskrnl.exe", "MEMCPY").is_none());
}

#[test]
fn every_routine_the_emulator_exports_is_bound_for_clfs_sys() {
    // The thunks come from the emulator's one routine list; this shows the binding end to
    // end: each listed name resolves to its thunk through the import resolver (and is bound
    // to its verifier gate stub, which leads to the thunk).
    assert_eq!(
        clfs_harness::clfs_thunks::EXPORTS.len(),
        clfs_emu::CLFS_ROUTINES.len()
    );
    for name in clfs_emu::CLFS_ROUTINES {
        let thunk = clfs_harness::clfs_thunks::EXPORTS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a as usize);
        assert_eq!(
            clfs_harness::imports::lookup_raw("clfs.sys", name),
            thunk,
            "clfs.sys!{name} is not bound to its thunk"
        );
        let bound = clfs_harness::imports::lookup("clfs.sys", name);
        assert!(
            bound.is_some() && bound != thunk,
            "clfs.sys!{name} is not bound through a gate stub"
        );
    }
}
