//! Unit tests of the checks on small synthetic inputs.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

/// The facts of an image like the sample's: clean.
fn good_image() -> ImageFacts {
    ImageFacts {
        optional_magic: 0x20B,
        machine: MACHINE_AMD64,
        subsystem: SUBSYSTEM_NATIVE,
        dll_characteristics: 0x0160,
        entry_rva: 0x1000,
        image_base: 0x1_8000_0000,
        file_size: 7168,
        sections: vec![(".text".into(), 0xa44), (".rdata".into(), 0x600)],
        imports: vec![
            Import::named("clfs.sys", "ClfsCreateLogFile"),
            Import::named("clfs.sys", "ClfsCreateMarshallingArea"),
            Import::named("ntoskrnl.exe", "ExAllocatePool2"),
            Import::named("ntoskrnl.exe", "KeGetCurrentIrql"),
            Import::named("ntoskrnl.exe", "memcpy"),
        ],
        exports: vec![("DriverEntry".into(), 0x1000)],
        frames: Ok(vec![Frame {
            begin: 0x1000,
            end: 0x15d6,
            unwind: Unwind {
                prolog_size: 17,
                pushes: 7,
                alloc: 672,
                chained: None,
            },
            prolog: Some(PrologAlloc::SubRsp(672)),
        }]),
    }
}

/// A map excerpt in lld-link's format, matching `good_image`.
const MAP: &str = "\
 clfs_sample_driver

 Timestamp is 6b0553c6 (Tue Nov 24 09:07:18 2026)

 Preferred load address is 0000000180000000

 Start         Length     Name                   Class
 0001:00000000 00000a44H .text                   CODE
 0002:00000000 000001f4H .rdata                  DATA

  Address         Publics by Value              Rva+Base               Lib:Object

 0000:00000000       some_absolute_symbol       0000000000000000     <absolute>
 0001:00000000       DriverEntry                0000000180001000     driver.rcgu.o
 0001:00000a50       memcpy                     0000000180001a50     ntoskrnl.exe_imports:ntoskrnl.exe
 0002:00000358       __imp_ClfsCreateLogFile    0000000180002358     libwindows_sys:clfs.sys

 entry point at         0001:00000000

 Static symbols

 0001:000005d0       _ZN18clfs_sample_driver6driver13driver_unload17hd29d4fd441c7bd40E 00000001800015d0     driver.rcgu.o
 0001:000008cf       _ZN4clfs3log7LogFile4info17h65ba2d1875432e37E 00000001800018cf     driver.rcgu.o
 0001:00000a1d       _ZN60_$LT$clfs..log..LogFile$u20$as$u20$core..ops..drop..Drop$GT$4drop17ha26fd94a012d916fE 0000000180001a1d     driver.rcgu.o
";

#[test]
fn clean_image_passes_every_check() {
    let map = parse_map(MAP);
    let outcomes = check(&good_image(), Some(&map), Options::default());
    for o in &outcomes {
        assert!(o.passed(), "{o}");
    }
    assert_eq!(outcomes.len(), 8);
}

#[test]
fn windows_sys_dbgprint_from_ntdll_is_rejected() {
    // windows-sys 0.61 declares `link!("ntdll.dll" "C" fn DbgPrint(...))`: the trap.
    let mut image = good_image();
    image.imports.push(Import::named("ntdll.dll", "DbgPrint"));
    let o = check_kernel_imports(&image, Options::default());
    assert!(!o.passed());
    let text = o.to_string();
    assert!(text.starts_with("FAIL kernel-imports-only: "), "{text}");
    assert!(text.contains("ntdll.dll!DbgPrint"), "{text}");
}

#[test]
fn any_user_mode_dll_is_rejected_and_hal_only_when_allowed() {
    for dll in [
        "kernel32.dll",
        "msvcrt.dll",
        "vcruntime140.dll",
        "NTDLL.DLL",
    ] {
        let mut image = good_image();
        image.imports.push(Import::named(dll, "Something"));
        assert!(
            !check_kernel_imports(&image, Options::default()).passed(),
            "{dll}"
        );
    }
    let mut image = good_image();
    image
        .imports
        .push(Import::named("HAL.dll", "KeStallExecutionProcessor"));
    assert!(!check_kernel_imports(&image, Options::default()).passed());
    assert!(check_kernel_imports(
        &image,
        Options {
            allow_hal: true,
            ..Options::default()
        }
    )
    .passed());
    // Case does not matter for the kernel DLLs.
    let mut image = good_image();
    image
        .imports
        .push(Import::named("NTOSKRNL.EXE", "KeBugCheckEx"));
    assert!(check_kernel_imports(&image, Options::default()).passed());
}

#[test]
fn unknown_clfs_names_are_rejected() {
    let mut image = good_image();
    image
        .imports
        .push(Import::named("clfs.sys", "ClfsCreateLogFileW"));
    let o = check_clfs_imports_known(&image);
    assert!(!o.passed());
    assert!(o
        .to_string()
        .contains("clfs.sys!ClfsCreateLogFileW is not a known Clfs.sys export"));

    // A Clfs routine from the wrong module.
    let mut image = good_image();
    image
        .imports
        .push(Import::named("ntoskrnl.exe", "ClfsFlushBuffers"));
    let o = check_clfs_imports_known(&image);
    assert!(
        o.to_string()
            .contains("ClfsFlushBuffers is imported from ntoskrnl.exe"),
        "{o}"
    );

    // By ordinal: cannot be checked, so it fails.
    let mut image = good_image();
    image.imports.push(Import {
        dll: "clfs.sys".into(),
        name: ImportName::Ordinal(7),
    });
    assert!(!check_clfs_imports_known(&image).passed());

    // The exported data symbols are known.
    let mut image = good_image();
    image
        .imports
        .push(Import::named("clfs.sys", "CLFS_LSN_INVALID"));
    assert!(check_clfs_imports_known(&image).passed());
}

#[test]
fn windows_sys_clfs_list_is_known() {
    // The `link!("clfs.sys" ...)` names of windows-sys 0.61.2,
    // src/Windows/Wdk/System/SystemServices/mod.rs.
    const WINDOWS_SYS: &[&str] = &[
        "ClfsAddLogContainer",
        "ClfsAddLogContainerSet",
        "ClfsAdvanceLogBase",
        "ClfsAlignReservedLog",
        "ClfsAllocReservedLog",
        "ClfsCloseAndResetLogFile",
        "ClfsCloseLogFileObject",
        "ClfsCreateLogFile",
        "ClfsCreateMarshallingArea",
        "ClfsCreateMarshallingAreaEx",
        "ClfsCreateScanContext",
        "ClfsDeleteLogByPointer",
        "ClfsDeleteLogFile",
        "ClfsDeleteMarshallingArea",
        "ClfsEarlierLsn",
        "ClfsFinalize",
        "ClfsFlushBuffers",
        "ClfsFlushToLsn",
        "ClfsFreeReservedLog",
        "ClfsGetContainerName",
        "ClfsGetIoStatistics",
        "ClfsGetLogFileInformation",
        "ClfsInitialize",
        "ClfsLaterLsn",
        "ClfsLsnBlockOffset",
        "ClfsLsnContainer",
        "ClfsLsnCreate",
        "ClfsLsnDifference",
        "ClfsLsnEqual",
        "ClfsLsnGreater",
        "ClfsLsnInvalid",
        "ClfsLsnLess",
        "ClfsLsnNull",
        "ClfsLsnRecordSequence",
        "ClfsMgmtDeregisterManagedClient",
        "ClfsMgmtHandleLogFileFull",
        "ClfsMgmtInstallPolicy",
        "ClfsMgmtQueryPolicy",
        "ClfsMgmtRegisterManagedClient",
        "ClfsMgmtRemovePolicy",
        "ClfsMgmtSetLogFileSize",
        "ClfsMgmtSetLogFileSizeAsClient",
        "ClfsMgmtTailAdvanceFailure",
        "ClfsQueryLogFileInformation",
        "ClfsReadLogRecord",
        "ClfsReadNextLogRecord",
        "ClfsReadPreviousRestartArea",
        "ClfsReadRestartArea",
        "ClfsRemoveLogContainer",
        "ClfsRemoveLogContainerSet",
        "ClfsReserveAndAppendLog",
        "ClfsReserveAndAppendLogAligned",
        "ClfsScanLogContainers",
        "ClfsSetArchiveTail",
        "ClfsSetEndOfLog",
        "ClfsSetLogFileInformation",
        "ClfsTerminateReadLog",
        "ClfsWriteRestartArea",
    ];
    for name in WINDOWS_SYS {
        assert!(KNOWN_CLFS_EXPORTS.contains(name), "{name}");
    }
    let mut sorted = KNOWN_CLFS_EXPORTS.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        KNOWN_CLFS_EXPORTS.len(),
        "duplicates in KNOWN_CLFS_EXPORTS"
    );
}

#[test]
fn no_panic_path_needs_a_map() {
    assert!(!check_no_panic_path(None).passed());
    assert!(check_no_panic_path(Some(&parse_map(MAP))).passed());
}

#[test]
fn panic_machinery_in_the_map_is_rejected() {
    let mut text = MAP.to_owned();
    text.push_str(
        " 0001:000024a0       _RNvNtCs8icZUrvfcq9_4core9panicking9panic_fmt 00000001800034a0     libcore:core.o\n",
    );
    let map = parse_map(&text);
    let o = check_no_panic_path(Some(&map));
    assert!(!o.passed());
    assert!(o.to_string().contains("core::panicking::panic_fmt"), "{o}");
}

#[test]
fn header_checks_fail_with_reasons() {
    let mut image = good_image();
    image.optional_magic = 0x10B;
    assert!(check_pe32plus_amd64(&image).to_string().contains("0x10b"));
    let mut image = good_image();
    image.machine = 0xAA64;
    assert!(check_pe32plus_amd64(&image).to_string().contains("0xaa64"));
    let mut image = good_image();
    image.subsystem = 2;
    assert_eq!(
        check_subsystem(&image).to_string(),
        "FAIL subsystem-native: subsystem 2, expected 1 (native)"
    );
}

#[test]
fn entry_point_is_checked_against_map_and_exports() {
    let map = parse_map(MAP);
    // Wrong entry point.
    let mut image = good_image();
    image.entry_rva = 0x15d0;
    let o = check_entry_point(&image, Some(&map));
    assert!(
        o.to_string().contains("map puts DriverEntry at RVA 0x1000"),
        "{o}"
    );
    // Export table disagrees.
    let mut image = good_image();
    image.exports = vec![("DriverEntry".into(), 0x1200)];
    assert!(!check_entry_point(&image, Some(&map)).passed());
    // Neither map nor export: no evidence, no pass.
    let mut image = good_image();
    image.exports.clear();
    assert!(!check_entry_point(&image, None).passed());
    // Export alone is evidence.
    assert!(check_entry_point(&good_image(), None).passed());
    // A map without DriverEntry.
    let map = parse_map(&MAP.replace("DriverEntry", "SomethingElse"));
    assert!(!check_entry_point(&good_image(), Some(&map)).passed());
}

#[test]
fn map_is_parsed() {
    let map = parse_map(MAP);
    assert_eq!(map.preferred_base, Some(0x1_8000_0000));
    assert_eq!(map.entry, Some((1, 0)));
    // Absolute symbols and section headers are not symbols.
    assert_eq!(map.symbols.len(), 6);
    assert_eq!(map.symbols[0].name, "DriverEntry");
    assert_eq!(map.symbols[0].address, 0x1_8000_1000);
    assert_eq!(map.symbols[5].offset, 0xa1d);
}

#[test]
fn symbols_are_attributed_to_crates() {
    assert_eq!(
        symbol_crate("_ZN4clfs3log7LogFile4info17h65ba2d1875432e37E").as_deref(),
        Some("clfs")
    );
    assert_eq!(
        symbol_crate("_ZN60_$LT$clfs..log..LogFile$u20$as$u20$core..ops..drop..Drop$GT$4drop17ha26fd94a012d916fE")
            .as_deref(),
        Some("clfs")
    );
    assert_eq!(
        symbol_crate("_RNvNtCs8icZUrvfcq9_4core9panicking9panic_fmt").as_deref(),
        Some("core")
    );
    assert_eq!(symbol_crate("DriverEntry"), None);
    assert_eq!(
        symbol_crate("anon.89a42e32c18750900783aebecd8f87d8.0"),
        None
    );
}

#[test]
fn sizes_add_up_per_crate() {
    let map = parse_map(MAP);
    let sections = BTreeMap::from([(1u16, 0xa44u32), (2, 0x1f4)]);
    let sizes = size_by_crate(&map, &sections);
    // .text: DriverEntry 0..0x5d0 (its object: "driver"), driver_unload 0x5d0..0x8cf
    // (sample), info 0x8cf..0xa1d (clfs), drop 0xa1d..0xa50 (clfs), memcpy 0xa50.. (thunk,
    // past the end: 0). .rdata (section 2) holds only an __imp_ entry, which is skipped.
    assert_eq!(sizes.get("driver"), Some(&0x5d0));
    assert_eq!(sizes.get("clfs_sample_driver"), Some(&(0x8cf - 0x5d0)));
    assert_eq!(sizes.get("clfs"), Some(&(0xa50 - 0x8cf)));
    assert_eq!(sizes.get("(import thunks)"), Some(&0));
    // Sections not asked for are ignored.
    let only_rdata = size_by_crate(&map, &BTreeMap::from([(2u16, 0x1f4u32)]));
    assert!(only_rdata.is_empty(), "{only_rdata:?}");
    let o = report_size(&good_image(), Some(&map));
    assert!(o.passed());
    assert!(o.to_string().contains("clfs's own functions ~"), "{o}");
}

#[test]
fn non_pe_input_is_an_error() {
    assert!(image_facts(b"\x7fELF\x02\x01\x01\0").is_err());
    assert!(image_facts(b"").is_err());
}

/// A minimal PE32+ image written with object's PE writer: a 16-byte `.text` (the entry point)
/// and an `.rdata` holding an import directory for `imports` (DLL, name) pairs.
fn synthetic_pe(subsystem: u16, imports: &[(&str, &str)]) -> Vec<u8> {
    use object::pe;
    use object::write::pe::{NtHeaders, Writer};

    // .rdata layout, offsets from its start: descriptors, then per import an 8-byte thunk and
    // an 8-byte terminator (used as both lookup and address table), then hint/name entries,
    // then DLL names.
    let n = imports.len();
    let descriptors = 20 * (n + 1);
    let thunks = descriptors.next_multiple_of(8);
    let names = thunks + 16 * n;
    let mut hint_names = Vec::new();
    let mut dll_names = Vec::new();
    let mut at = names;
    for (_, name) in imports {
        hint_names.push(at);
        at += (2 + name.len() + 1).next_multiple_of(2);
    }
    for (dll, _) in imports {
        dll_names.push(at);
        at += dll.len() + 1;
    }
    let rdata_len = at.next_multiple_of(16);

    let mut buffer = Vec::new();
    let mut w = Writer::new(true, 0x1000, 0x200, &mut buffer);
    w.reserve_dos_header_and_stub();
    w.reserve_nt_headers(pe::IMAGE_NUMBEROF_DIRECTORY_ENTRIES);
    w.reserve_section_headers(2);
    let text = w.reserve_text_section(16);
    let rdata = w.reserve_rdata_section(rdata_len as u32);
    let base = rdata.virtual_address as usize;
    w.set_data_directory(
        pe::IMAGE_DIRECTORY_ENTRY_IMPORT,
        rdata.virtual_address,
        descriptors as u32,
    );

    let mut data = vec![0u8; rdata_len];
    let put32 = |d: &mut Vec<u8>, off: usize, v: usize| {
        d[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes());
    };
    for (i, (dll, name)) in imports.iter().enumerate() {
        let thunk = thunks + 16 * i;
        let desc = 20 * i;
        put32(&mut data, desc, base + thunk); // OriginalFirstThunk
        put32(&mut data, desc + 12, base + dll_names[i]); // Name
        put32(&mut data, desc + 16, base + thunk); // FirstThunk
        data[thunk..thunk + 8].copy_from_slice(&((base + hint_names[i]) as u64).to_le_bytes());
        let h = hint_names[i] + 2;
        data[h..h + name.len()].copy_from_slice(name.as_bytes());
        data[dll_names[i]..dll_names[i] + dll.len()].copy_from_slice(dll.as_bytes());
    }

    w.write_dos_header_and_stub().unwrap();
    w.write_nt_headers(NtHeaders {
        machine: pe::IMAGE_FILE_MACHINE_AMD64,
        time_date_stamp: 0,
        characteristics: pe::IMAGE_FILE_EXECUTABLE_IMAGE | pe::IMAGE_FILE_LARGE_ADDRESS_AWARE,
        major_linker_version: 14,
        minor_linker_version: 0,
        address_of_entry_point: text.virtual_address,
        image_base: 0x1_4000_0000,
        major_operating_system_version: 10,
        minor_operating_system_version: 0,
        major_image_version: 0,
        minor_image_version: 0,
        major_subsystem_version: 10,
        minor_subsystem_version: 0,
        subsystem,
        dll_characteristics: pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT,
        size_of_stack_reserve: 0x4_0000,
        size_of_stack_commit: 0x1000,
        size_of_heap_reserve: 0,
        size_of_heap_commit: 0,
    });
    w.write_section_headers();
    w.write_section(text.file_offset, &[0xC3; 16]);
    w.write_section(rdata.file_offset, &data);
    buffer
}

#[test]
fn facts_are_read_from_a_synthetic_pe() {
    let image = synthetic_pe(
        SUBSYSTEM_NATIVE,
        &[
            ("clfs.sys", "ClfsCreateLogFile"),
            ("ntoskrnl.exe", "KeGetCurrentIrql"),
        ],
    );
    let facts = image_facts(&image).unwrap();
    assert_eq!(facts.optional_magic, 0x20B);
    assert_eq!(facts.machine, MACHINE_AMD64);
    assert_eq!(facts.subsystem, SUBSYSTEM_NATIVE);
    assert_eq!(facts.entry_rva, 0x1000);
    assert_eq!(facts.file_size, image.len() as u64);
    let sections: Vec<&str> = facts.sections.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(sections, [".text", ".rdata"]);
    assert_eq!(
        facts.imports,
        [
            Import::named("clfs.sys", "ClfsCreateLogFile"),
            Import::named("ntoskrnl.exe", "KeGetCurrentIrql")
        ]
    );
    assert!(check_kernel_imports(&facts, Options::default()).passed());
    assert!(check_clfs_imports_known(&facts).passed());
    assert!(check_pe32plus_amd64(&facts).passed());
    // No export table and no map: the entry point cannot be verified.
    assert!(!check_entry_point(&facts, None).passed());
}

#[test]
fn a_synthetic_pe_importing_dbgprint_from_ntdll_fails() {
    let image = synthetic_pe(
        SUBSYSTEM_NATIVE,
        &[
            ("ntoskrnl.exe", "KeGetCurrentIrql"),
            ("ntdll.dll", "DbgPrint"),
        ],
    );
    let facts = image_facts(&image).unwrap();
    let o = check_kernel_imports(&facts, Options::default());
    assert!(
        o.to_string().starts_with(
            "FAIL kernel-imports-only: imports from outside the kernel: ntdll.dll!DbgPrint"
        ),
        "{o}"
    );
}

#[test]
fn a_synthetic_console_pe_fails_the_subsystem_check() {
    let facts = image_facts(&synthetic_pe(3, &[])).unwrap();
    assert_eq!(
        check_subsystem(&facts).to_string(),
        "FAIL subsystem-native: subsystem 3, expected 1 (native)"
    );
}

// ---- stack frames: the decoders on hand-made bytes ----

/// The sample's DriverEntry unwind info (as llvm-readobj-14 --unwind shows it): version 1,
/// prolog 17 bytes, 9 slots: ALLOC_LARGE(672) at 0x11, seven PUSH_NONVOL.
const DRIVER_ENTRY_UNWIND: [u8; 4 + 2 * 10] = [
    0x01, 0x11, 0x09, 0x00, //
    0x11, 0x01, 0x54, 0x00, // ALLOC_LARGE, op info 0: next slot × 8 = 84 × 8 = 672
    0x0A, 0x30, 0x09, 0x50, 0x08, 0x70, 0x07, 0x60, 0x06, 0xC0, 0x04, 0xE0, 0x02, 0xF0, //
    0x00, 0x00, // padding to an even slot count
];

#[test]
fn unwind_info_gives_pushes_and_allocation() {
    let u = frames::decode_unwind(&DRIVER_ENTRY_UNWIND).unwrap();
    assert_eq!(
        u,
        Unwind {
            prolog_size: 17,
            pushes: 7,
            alloc: 672,
            chained: None
        }
    );
    assert_eq!(u.frame(), 728);
}

#[test]
fn unwind_info_large_small_and_chained_forms() {
    // ALLOC_LARGE with op info 1: a 32-bit size in the next two slots (0x8048 = 32,840, the
    // frame issue 11 found), then ALLOC_SMALL op info 3 (3 × 8 + 8 = 32), PUSH_NONVOL, SET_FPREG,
    // SAVE_NONVOL (2 slots, no allocation).
    let info = [
        0x01, 0x20, 0x08, 0x00, //
        0x20, 0x11, 0x48, 0x80, 0x00, 0x00, // ALLOC_LARGE/1, low 0x8048, high 0
        0x0C, 0x32, // ALLOC_SMALL, op info 3
        0x08, 0x30, // PUSH_NONVOL rbx
        0x06, 0x03, // SET_FPREG
        0x04, 0x64, 0x10, 0x00, // SAVE_NONVOL rsi at 0x10 × 8
    ];
    let u = frames::decode_unwind(&info).unwrap();
    assert_eq!(
        (u.pushes, u.alloc, u.frame()),
        (1, 0x8048 + 32, 8 + 0x8048 + 32)
    );
    // Chained: flags 0x4, no codes, then the parent RUNTIME_FUNCTION.
    let chained = [
        0x21, 0x00, 0x00, 0x00, // version 1, UNW_FLAG_CHAININFO
        0x00, 0x10, 0x00, 0x00, 0x80, 0x10, 0x00, 0x00, 0xA0, 0x25, 0x00, 0x00,
    ];
    let u = frames::decode_unwind(&chained).unwrap();
    assert_eq!(u.chained, Some((0x1000, 0x1080, 0x25A0)));
    assert!(
        frames::decode_unwind(&[0x01, 0x00, 0x02, 0x00, 0x04]).is_err(),
        "truncated"
    );
    assert!(
        frames::decode_unwind(&[0x03, 0, 0, 0]).is_err(),
        "version 3"
    );
}

#[test]
fn prologue_sub_rsp_and_chkstk_are_decoded() {
    // push r15; push r14; push r12; push rsi; push rdi; push rbp; push rbx; sub rsp, 0x2a0
    let sample = [
        0x41, 0x57, 0x41, 0x56, 0x41, 0x54, 0x56, 0x57, 0x55, 0x53, 0x48, 0x81, 0xEC, 0xA0, 0x02,
        0x00, 0x00,
    ];
    assert_eq!(
        frames::prologue_alloc(&sample, 0x1000),
        Some(PrologAlloc::SubRsp(672))
    );
    // push rsi; sub rsp, 0x28
    assert_eq!(
        frames::prologue_alloc(&[0x56, 0x48, 0x83, 0xEC, 0x28], 0x2000),
        Some(PrologAlloc::SubRsp(40))
    );
    // push rbp; mov eax, 0x8048; call __chkstk (rel32 = 0x100); sub rsp, rax
    let chkstk = [
        0x55, 0xB8, 0x48, 0x80, 0x00, 0x00, 0xE8, 0x00, 0x01, 0x00, 0x00, 0x48, 0x29, 0xC4,
    ];
    assert_eq!(
        frames::prologue_alloc(&chkstk, 0x3000),
        Some(PrologAlloc::Chkstk {
            size: 0x8048,
            call: 0x3000 + 11 + 0x100
        })
    );
    // A prologue that starts with something else, or that is cut short, is not guessed at.
    assert_eq!(
        frames::prologue_alloc(&[0x48, 0x89, 0x5C, 0x24, 0x08], 0),
        None
    );
    assert_eq!(frames::prologue_alloc(&[0x48, 0x81, 0xEC, 0xA0], 0), None);
}

#[test]
fn pdata_entries_are_read_and_chains_folded() {
    // Two RUNTIME_FUNCTIONs: DriverEntry, and a fragment chained to it.
    let mut pdata = Vec::new();
    for (b, e, u) in [(0x1000u32, 0x15d6u32, 0x25A0u32), (0x15d6, 0x1600, 0x2600)] {
        pdata.extend_from_slice(&b.to_le_bytes());
        pdata.extend_from_slice(&e.to_le_bytes());
        pdata.extend_from_slice(&u.to_le_bytes());
    }
    let chained = [
        0x21u8, 0, 0, 0, 0x00, 0x10, 0, 0, 0xd6, 0x15, 0, 0, 0xA0, 0x25, 0, 0,
    ];
    let code = [
        0x41u8, 0x57, 0x41, 0x56, 0x41, 0x54, 0x56, 0x57, 0x55, 0x53, 0x48, 0x81, 0xEC, 0xA0, 0x02,
        0x00, 0x00,
    ];
    let at = |rva: u32| -> Option<&[u8]> {
        match rva {
            0x25A0 => Some(&DRIVER_ENTRY_UNWIND[..]),
            0x2600 => Some(&chained[..]),
            0x1000 => Some(&code[..]),
            _ => None,
        }
    };
    let frames = frames::frames(&pdata, &at).unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].bytes(), 728);
    assert_eq!(frames[0].prolog, Some(PrologAlloc::SubRsp(672)));
    assert_eq!(
        frames[1].bytes(),
        728,
        "a fragment runs in its parent's frame"
    );
}

#[test]
fn a_frame_over_the_budget_fails_and_names_the_function() {
    let mut image = good_image();
    let map = parse_map(MAP);
    assert!(check_stack_frames(&image, Some(&map), 4096).passed());
    image.frames = Ok(vec![Frame {
        begin: 0x15d0,
        end: 0x1700,
        unwind: Unwind {
            prolog_size: 16,
            pushes: 1,
            alloc: 0x8048,
            chained: None,
        },
        prolog: Some(PrologAlloc::Chkstk {
            size: 0x8048,
            call: 0x1a50,
        }),
    }]);
    let o = check_stack_frames(&image, Some(&map), 4096);
    assert_eq!(
        o.to_string(),
        "FAIL stack-frames: clfs_sample_driver::driver::driver_unload 32848 bytes, via __chkstk exceeds the 4096-byte budget"
    );
    assert!(check_stack_frames(&image, Some(&map), 40_000).passed());
}

#[test]
fn unwind_data_and_prologue_must_agree() {
    let mut image = good_image();
    if let Ok(frames) = &mut image.frames {
        frames[0].prolog = Some(PrologAlloc::SubRsp(64));
    }
    let o = check_stack_frames(&image, Some(&parse_map(MAP)), 4096);
    assert_eq!(
        o.to_string(),
        "FAIL stack-frames: DriverEntry: the prologue allocates 64 bytes, its unwind data says 672"
    );
}
