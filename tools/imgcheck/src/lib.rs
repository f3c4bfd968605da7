//! `clfs-imgcheck`: checks a built kernel driver image (`.sys`) of the clfs sample.
//!
//! The checks work on plain facts ([`ImageFacts`] from the PE file, [`MapFacts`] from the
//! linker's `/MAP` file), so each rule is unit-tested on small synthetic inputs:
//!
//! | check | rule |
//! |---|---|
//! | `pe32plus-amd64` | PE32+ optional header (magic 0x20B) and machine AMD64 (0x8664) |
//! | `subsystem-native` | subsystem 1 (`IMAGE_SUBSYSTEM_NATIVE`) |
//! | `entry-point` | `AddressOfEntryPoint` is `DriverEntry`, per the map file and the export table |
//! | `kernel-imports-only` | imports only from clfs.sys and ntoskrnl.exe (hal.dll only if allowed) |
//! | `clfs-imports-known` | every imported `Clfs*` / `CLFS_*` name is a Clfs.sys export ([`KNOWN_CLFS_EXPORTS`]) |
//! | `no-panic-path` | no panic machinery (`rust_begin_unwind`, `core::panicking::*`, …) in the map |
//! | `stack-frames` | every function's stack frame (from `.pdata` unwind data, cross-checked with its prologue: `sub rsp, N` or `mov eax, N; call __chkstk`) is within the budget ([`DEFAULT_STACK_BUDGET`]); reports the largest |
//! | `size` | always passes; reports the image size and what the `clfs` crate contributes |

use std::collections::BTreeMap;
use std::fmt;

pub mod frames;
pub use frames::{Frame, PrologAlloc, Unwind};

/// The default per-function stack budget of the `stack-frames` check, in bytes (pushes and
/// allocation): a sixth of the 24 KiB x64 kernel stack, so that a driver's own frames, CLFS's
/// and the I/O manager's fit above it.
pub const DEFAULT_STACK_BUDGET: u32 = 4096;

/// The routines and data Clfs.sys exports, as far as this project knows them.
///
/// Source: `/work/shared/docs/clfs-reference.md` §1 (the project's CLFS fact base), every
/// routine with a `[WDM]` prototype (wdm.h of WDK 10.0.16299, lines 38891–41243), plus
/// `ClfsCreateMarshallingAreaEx` (Windows 10 1803, from its DDI page; not in the 16299 header),
/// plus the exported data `CLFS_LSN_NULL` and `CLFS_LSN_INVALID` (wdm.h L39005–39006).
/// windows-sys 0.61's `link!("clfs.sys" …)` list (59 routines) is a subset; the unit test
/// `windows_sys_clfs_list_is_known` checks that. (windows-sys lacks `ClfsLsnIncrement`,
/// `ClfsGetLastLsn` and `ClfsValidTopLevelContext`, which the header declares.)
pub const KNOWN_CLFS_EXPORTS: &[&str] = &[
    // §1.1 log-file objects
    "ClfsCreateLogFile",
    "ClfsCloseLogFileObject",
    "ClfsCloseAndResetLogFile",
    "ClfsDeleteLogFile",
    "ClfsDeleteLogByPointer",
    // §1.2 containers
    "ClfsAddLogContainer",
    "ClfsAddLogContainerSet",
    "ClfsRemoveLogContainer",
    "ClfsRemoveLogContainerSet",
    "ClfsCreateScanContext",
    "ClfsScanLogContainers",
    "ClfsGetContainerName",
    // §1.3 information
    "ClfsQueryLogFileInformation",
    "ClfsSetLogFileInformation",
    "ClfsGetLogFileInformation",
    "ClfsGetIoStatistics",
    "ClfsGetLastLsn",
    // §1.4 marshalling areas
    "ClfsCreateMarshallingArea",
    "ClfsCreateMarshallingAreaEx",
    "ClfsDeleteMarshallingArea",
    // §1.5 appending, reservations, flushing, restart areas
    "ClfsReserveAndAppendLog",
    "ClfsReserveAndAppendLogAligned",
    "ClfsAlignReservedLog",
    "ClfsAllocReservedLog",
    "ClfsFreeReservedLog",
    "ClfsFlushToLsn",
    "ClfsFlushBuffers",
    "ClfsWriteRestartArea",
    // §1.6 reading
    "ClfsReadLogRecord",
    "ClfsReadNextLogRecord",
    "ClfsReadRestartArea",
    "ClfsReadPreviousRestartArea",
    "ClfsTerminateReadLog",
    // §1.7 base, archive tail, end of log
    "ClfsAdvanceLogBase",
    "ClfsSetArchiveTail",
    "ClfsSetEndOfLog",
    // §1.8 LSN helpers
    "ClfsLsnEqual",
    "ClfsLsnLess",
    "ClfsLsnGreater",
    "ClfsLsnNull",
    "ClfsLsnContainer",
    "ClfsLsnCreate",
    "ClfsLsnBlockOffset",
    "ClfsLsnRecordSequence",
    "ClfsLsnInvalid",
    "ClfsLsnIncrement",
    "ClfsLaterLsn",
    "ClfsEarlierLsn",
    "ClfsLsnDifference",
    // §1.9 management
    "ClfsMgmtRegisterManagedClient",
    "ClfsMgmtDeregisterManagedClient",
    "ClfsMgmtTailAdvanceFailure",
    "ClfsMgmtHandleLogFileFull",
    "ClfsMgmtInstallPolicy",
    "ClfsMgmtQueryPolicy",
    "ClfsMgmtRemovePolicy",
    "ClfsMgmtSetLogFileSize",
    "ClfsMgmtSetLogFileSizeAsClient",
    // §1.10 other header-only routines
    "ClfsInitialize",
    "ClfsFinalize",
    "ClfsValidTopLevelContext",
    // exported data (§0.1 hazard 4)
    "CLFS_LSN_NULL",
    "CLFS_LSN_INVALID",
];

/// `IMAGE_FILE_MACHINE_AMD64`.
pub const MACHINE_AMD64: u16 = 0x8664;
/// `IMAGE_SUBSYSTEM_NATIVE`.
pub const SUBSYSTEM_NATIVE: u16 = 1;

/// One imported item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportName {
    /// By name.
    Name(String),
    /// By ordinal.
    Ordinal(u16),
}

impl fmt::Display for ImportName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportName::Name(n) => f.write_str(n),
            ImportName::Ordinal(o) => write!(f, "#{o}"),
        }
    }
}

/// One import: the DLL and the item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The DLL name as written in the import directory.
    pub dll: String,
    /// The imported item.
    pub name: ImportName,
}

impl Import {
    /// An import by name (for tests and synthetic inputs).
    pub fn named(dll: &str, name: &str) -> Self {
        Import {
            dll: dll.to_owned(),
            name: ImportName::Name(name.to_owned()),
        }
    }
}

/// What the checks need to know about a PE image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageFacts {
    /// Optional-header magic: 0x20B for PE32+, 0x10B for PE32.
    pub optional_magic: u16,
    /// `FileHeader.Machine`.
    pub machine: u16,
    /// `OptionalHeader.Subsystem`.
    pub subsystem: u16,
    /// `OptionalHeader.DllCharacteristics`.
    pub dll_characteristics: u16,
    /// `OptionalHeader.AddressOfEntryPoint` (an RVA).
    pub entry_rva: u32,
    /// `OptionalHeader.ImageBase`.
    pub image_base: u64,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// `(name, virtual size)` of each section.
    pub sections: Vec<(String, u32)>,
    /// Every import.
    pub imports: Vec<Import>,
    /// `(name, RVA)` of every export by name that is an address (not a forwarder).
    pub exports: Vec<(String, u32)>,
    /// The frame of every function with unwind data (`.pdata`), or why it could not be read.
    pub frames: Result<Vec<Frame>, String>,
}

impl Default for ImageFacts {
    fn default() -> Self {
        ImageFacts {
            optional_magic: 0,
            machine: 0,
            subsystem: 0,
            dll_characteristics: 0,
            entry_rva: 0,
            image_base: 0,
            file_size: 0,
            sections: Vec::new(),
            imports: Vec::new(),
            exports: Vec::new(),
            frames: Ok(Vec::new()),
        }
    }
}

/// Why an image could not be read at all.
#[derive(Debug)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

impl From<object::Error> for ParseError {
    fn from(e: object::Error) -> Self {
        ParseError(e.to_string())
    }
}

/// Reads the facts from a PE image. A PE32 (32-bit) image is reported with its magic so that
/// the `pe32plus-amd64` check can fail with a reason; only PE32+ images are read further.
pub fn image_facts(data: &[u8]) -> Result<ImageFacts, ParseError> {
    use object::pe::{ImageNtHeaders32, ImageNtHeaders64};
    use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile64};
    use object::LittleEndian as LE;

    match object::FileKind::parse(data)? {
        object::FileKind::Pe64 => {}
        object::FileKind::Pe32 => {
            let file = object::read::pe::PeFile::<ImageNtHeaders32>::parse(data)?;
            let nt = file.nt_headers();
            return Ok(ImageFacts {
                optional_magic: nt.optional_header().magic(),
                machine: nt.file_header().machine.get(LE),
                subsystem: nt.optional_header().subsystem(),
                file_size: data.len() as u64,
                ..ImageFacts::default()
            });
        }
        other => {
            return Err(ParseError(format!(
                "not a PE image (object reads it as {other:?})"
            )))
        }
    }
    let file = PeFile64::parse(data)?;
    let nt: &ImageNtHeaders64 = file.nt_headers();
    let opt = nt.optional_header();
    let mut facts = ImageFacts {
        optional_magic: opt.magic(),
        machine: nt.file_header().machine.get(LE),
        subsystem: opt.subsystem(),
        dll_characteristics: opt.dll_characteristics(),
        entry_rva: opt.address_of_entry_point(),
        image_base: opt.image_base(),
        file_size: data.len() as u64,
        ..ImageFacts::default()
    };
    for section in file.section_table().iter() {
        let name = String::from_utf8_lossy(section.raw_name())
            .trim_end_matches('\0')
            .to_owned();
        facts.sections.push((name, section.virtual_size.get(LE)));
    }
    if let Some(table) = file.import_table()? {
        let mut descriptors = table.descriptors()?;
        while let Some(desc) = descriptors.next()? {
            let dll = String::from_utf8_lossy(table.name(desc.name.get(LE))?).into_owned();
            let lookup = match desc.original_first_thunk.get(LE) {
                0 => desc.first_thunk.get(LE),
                rva => rva,
            };
            let mut thunks = table.thunks(lookup)?;
            while let Some(thunk) = thunks.next::<ImageNtHeaders64>()? {
                let name = match table.import::<ImageNtHeaders64>(thunk)? {
                    object::read::pe::Import::Name(_hint, name) => {
                        ImportName::Name(String::from_utf8_lossy(name).into_owned())
                    }
                    object::read::pe::Import::Ordinal(ordinal) => ImportName::Ordinal(ordinal),
                };
                facts.imports.push(Import {
                    dll: dll.clone(),
                    name,
                });
            }
        }
    }
    facts.frames = read_frames(&file, data);
    if let Some(table) = file.export_table()? {
        for export in table.exports()? {
            if let (Some(name), object::read::pe::ExportTarget::Address(rva)) =
                (export.name, export.target)
            {
                facts
                    .exports
                    .push((String::from_utf8_lossy(name).into_owned(), rva));
            }
        }
    }
    Ok(facts)
}

/// The frames of every function in the exception directory (none if the image has none).
fn read_frames(file: &object::read::pe::PeFile64<'_>, data: &[u8]) -> Result<Vec<Frame>, String> {
    let sections = file.section_table();
    let Some(dir) = file.data_directory(object::pe::IMAGE_DIRECTORY_ENTRY_EXCEPTION) else {
        return Ok(Vec::new());
    };
    let pdata = dir
        .data(data, &sections)
        .map_err(|e| format!("exception directory: {e}"))?;
    frames::frames(pdata, &|rva| sections.pe_data_at(data, rva))
}

/// One symbol line of a map file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSymbol {
    /// Section number (1-based), as in `0001:000005d0`.
    pub section: u16,
    /// Offset in the section.
    pub offset: u32,
    /// The (mangled) symbol name.
    pub name: String,
    /// `Rva+Base`: the preferred virtual address.
    pub address: u64,
    /// The `Lib:Object` column.
    pub object: String,
}

/// What the checks need from the linker's `/MAP` file (link.exe / lld-link format).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapFacts {
    /// "Preferred load address is ...".
    pub preferred_base: Option<u64>,
    /// "entry point at SSSS:OOOOOOOO".
    pub entry: Option<(u16, u32)>,
    /// Publics and static symbols with a section (absolute `0000:` symbols are left out).
    pub symbols: Vec<MapSymbol>,
}

/// Parses a link.exe / lld-link map file. Unknown lines are ignored.
pub fn parse_map(text: &str) -> MapFacts {
    let mut facts = MapFacts::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Preferred load address is") {
            facts.preferred_base = u64::from_str_radix(rest.trim(), 16).ok();
            continue;
        }
        if let Some(rest) = line.strip_prefix("entry point at") {
            facts.entry = parse_sec_off(rest.trim());
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "SSSS:OOOOOOOO  name  address  lib:object"
        if fields.len() < 4 {
            continue;
        }
        let Some((section, offset)) = parse_sec_off(fields[0]) else {
            continue;
        };
        if section == 0 {
            continue;
        }
        let Ok(address) = u64::from_str_radix(fields[2], 16) else {
            continue;
        };
        facts.symbols.push(MapSymbol {
            section,
            offset,
            name: fields[1].to_owned(),
            address,
            object: fields[3..].join(" "),
        });
    }
    facts
}

/// `0001:000005d0` -> (1, 0x5d0).
fn parse_sec_off(s: &str) -> Option<(u16, u32)> {
    let (sec, off) = s.split_once(':')?;
    if sec.len() != 4 || off.len() != 8 {
        return None;
    }
    Some((
        u16::from_str_radix(sec, 16).ok()?,
        u32::from_str_radix(off, 16).ok()?,
    ))
}

/// The crate a (mangled) symbol belongs to, from its demangled path: `clfs::log::LogFile::info`
/// -> `clfs`; `<clfs::log::LogFile as core::ops::drop::Drop>::drop` -> `clfs` (the self
/// type's crate). `None` for symbols that are not Rust paths (`DriverEntry`, `memcpy`,
/// `__imp_*`, `anon.*`).
pub fn symbol_crate(mangled: &str) -> Option<String> {
    if !(mangled.starts_with("_ZN") || mangled.starts_with("_R")) {
        return None;
    }
    let demangled = rustc_demangle::try_demangle(mangled).ok()?;
    let path = format!("{demangled:#}");
    let path = path
        .trim_start_matches('<')
        .trim_start_matches('&')
        .trim_start_matches("mut ");
    let first = path.split("::").next()?;
    let first = first.split(['<', ' ', '[']).next()?;
    if first.is_empty() {
        None
    } else {
        Some(first.to_owned())
    }
}

/// Approximate bytes per crate in the given sections (number -> size): each symbol owns the
/// bytes up to the next symbol of its section (the last one up to the section's end). Symbols
/// of other sections are ignored.
///
/// A Rust symbol goes to the crate of its demangled path ([`symbol_crate`]). An unmangled one
/// (`DriverEntry`, `#[no_mangle]` functions, `anon.*` constants) goes to the crate whose object
/// file defines it (`<crate>.<cgu>.rcgu.o`), import thunks (`memcpy` from
/// `ntoskrnl.exe_imports`) to `"(import thunks)"`, anything else to `"(other)"`.
///
/// Approximate by nature: under LTO, code of one crate is inlined into another's functions
/// (most of `clfs` ends up inside the sample's `DriverEntry`), and the symbol sizes are
/// inferred from their order.
pub fn size_by_crate(map: &MapFacts, sections: &BTreeMap<u16, u32>) -> BTreeMap<String, u64> {
    let mut by_section: BTreeMap<u16, Vec<&MapSymbol>> = BTreeMap::new();
    for sym in &map.symbols {
        if sym.name.starts_with("__imp_") || !sections.contains_key(&sym.section) {
            continue;
        }
        by_section.entry(sym.section).or_default().push(sym);
    }
    let mut sizes = BTreeMap::new();
    for (section, mut syms) in by_section {
        syms.sort_by_key(|s| s.offset);
        syms.dedup_by_key(|s| s.offset);
        let section_end = sections.get(&section).copied().unwrap_or(0);
        for (i, sym) in syms.iter().enumerate() {
            let end = match syms.get(i + 1) {
                Some(next) => next.offset,
                None => section_end.max(sym.offset),
            };
            let owner = symbol_crate(&sym.name).unwrap_or_else(|| object_owner(&sym.object));
            *sizes.entry(owner).or_insert(0) += u64::from(end - sym.offset);
        }
    }
    sizes
}

/// The owner of an unmangled symbol, from the map's `Lib:Object` column.
fn object_owner(object: &str) -> String {
    if object.contains("_imports:") {
        return "(import thunks)".to_owned();
    }
    // "clfs_sample_driver.clfs_sample_driver.<hash>-cgu.0.rcgu.o" or "libclfs-<hash>:clfs-...".
    let file = object.rsplit(':').next().unwrap_or(object);
    if file.ends_with(".rcgu.o") {
        if let Some(krate) = file.split(['.', '-']).next().filter(|k| !k.is_empty()) {
            return krate.to_owned();
        }
    }
    "(other)".to_owned()
}

/// The result of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Check name, e.g. `kernel-imports-only`.
    pub name: &'static str,
    /// `Ok(details)` or `Err(why)`.
    pub result: Result<String, String>,
}

impl Outcome {
    fn pass(name: &'static str, details: impl Into<String>) -> Self {
        Outcome {
            name,
            result: Ok(details.into()),
        }
    }
    fn fail(name: &'static str, why: impl Into<String>) -> Self {
        Outcome {
            name,
            result: Err(why.into()),
        }
    }
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(details) if details.is_empty() => write!(f, "PASS {}", self.name),
            Ok(details) => write!(f, "PASS {} ({details})", self.name),
            Err(why) => write!(f, "FAIL {}: {why}", self.name),
        }
    }
}

/// Options of the checks.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Accept imports from hal.dll (off: the sample needs nothing from the HAL).
    pub allow_hal: bool,
    /// The largest stack frame a function may have, in bytes ([`DEFAULT_STACK_BUDGET`]).
    pub stack_budget: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allow_hal: false,
            stack_budget: DEFAULT_STACK_BUDGET,
        }
    }
}

/// Runs every check.
pub fn check(image: &ImageFacts, map: Option<&MapFacts>, options: Options) -> Vec<Outcome> {
    vec![
        check_pe32plus_amd64(image),
        check_subsystem(image),
        check_entry_point(image, map),
        check_kernel_imports(image, options),
        check_clfs_imports_known(image),
        check_no_panic_path(map),
        check_stack_frames(image, map, options.stack_budget),
        report_size(image, map),
    ]
}

/// `pe32plus-amd64`.
pub fn check_pe32plus_amd64(image: &ImageFacts) -> Outcome {
    const NAME: &str = "pe32plus-amd64";
    if image.optional_magic != 0x20B {
        return Outcome::fail(
            NAME,
            format!(
                "optional header magic {:#x}, expected 0x20b (PE32+)",
                image.optional_magic
            ),
        );
    }
    if image.machine != MACHINE_AMD64 {
        return Outcome::fail(
            NAME,
            format!("machine {:#06x}, expected 0x8664 (AMD64)", image.machine),
        );
    }
    Outcome::pass(NAME, "")
}

/// `subsystem-native`.
pub fn check_subsystem(image: &ImageFacts) -> Outcome {
    const NAME: &str = "subsystem-native";
    if image.subsystem == SUBSYSTEM_NATIVE {
        Outcome::pass(NAME, "")
    } else {
        Outcome::fail(
            NAME,
            format!("subsystem {}, expected 1 (native)", image.subsystem),
        )
    }
}

/// `entry-point`: the entry point RVA is `DriverEntry`'s, according to the map file (its
/// "entry point at" line and `DriverEntry`'s public) and, when the image exports it, according
/// to the export table. Without a map the export table alone decides.
pub fn check_entry_point(image: &ImageFacts, map: Option<&MapFacts>) -> Outcome {
    const NAME: &str = "entry-point";
    let entry = image.entry_rva;
    let mut evidence = Vec::new();
    if let Some(map) = map {
        let Some(sym) = map.symbols.iter().find(|s| s.name == "DriverEntry") else {
            return Outcome::fail(NAME, "the map file has no DriverEntry symbol");
        };
        let Some(base) = map.preferred_base else {
            return Outcome::fail(NAME, "the map file has no preferred load address");
        };
        let rva = sym.address.wrapping_sub(base);
        if rva != u64::from(entry) {
            return Outcome::fail(
                NAME,
                format!("entry point RVA {entry:#x}, but the map puts DriverEntry at RVA {rva:#x}"),
            );
        }
        match map.entry {
            Some(at) if at == (sym.section, sym.offset) => {}
            Some((s, o)) => {
                return Outcome::fail(
                    NAME,
                    format!(
                        "the map's entry point is {s:04x}:{o:08x}, DriverEntry is {:04x}:{:08x}",
                        sym.section, sym.offset
                    ),
                )
            }
            None => return Outcome::fail(NAME, "the map file has no \"entry point at\" line"),
        }
        evidence.push("map");
    }
    if let Some(&(_, rva)) = image.exports.iter().find(|(n, _)| n == "DriverEntry") {
        if rva != entry {
            return Outcome::fail(
                NAME,
                format!("entry point RVA {entry:#x}, but the export DriverEntry is at {rva:#x}"),
            );
        }
        evidence.push("export table");
    }
    if evidence.is_empty() {
        return Outcome::fail(
            NAME,
            "cannot tell where DriverEntry is: pass the linker's map file with --map",
        );
    }
    Outcome::pass(
        NAME,
        format!(
            "DriverEntry at RVA {entry:#x}, per {}",
            evidence.join(" and ")
        ),
    )
}

/// `kernel-imports-only`.
pub fn check_kernel_imports(image: &ImageFacts, options: Options) -> Outcome {
    const NAME: &str = "kernel-imports-only";
    let mut dlls: Vec<&str> = image.imports.iter().map(|i| i.dll.as_str()).collect();
    dlls.sort_unstable();
    dlls.dedup();
    let bad: Vec<String> = image
        .imports
        .iter()
        .filter(|i| {
            let dll = i.dll.to_ascii_lowercase();
            !(dll == "clfs.sys" || dll == "ntoskrnl.exe" || (options.allow_hal && dll == "hal.dll"))
        })
        .map(|i| {
            let hint = if i.dll.eq_ignore_ascii_case("ntdll.dll") {
                " (user-mode ntdll; windows-sys declares DbgPrint/DbgPrintEx there)"
            } else {
                ""
            };
            format!("{}!{}{hint}", i.dll, i.name)
        })
        .collect();
    if bad.is_empty() {
        Outcome::pass(
            NAME,
            format!("{} imports from {}", image.imports.len(), dlls.join(", ")),
        )
    } else {
        Outcome::fail(
            NAME,
            format!("imports from outside the kernel: {}", bad.join(", ")),
        )
    }
}

/// `clfs-imports-known`.
pub fn check_clfs_imports_known(image: &ImageFacts) -> Outcome {
    const NAME: &str = "clfs-imports-known";
    let mut count = 0;
    let mut bad = Vec::new();
    for import in &image.imports {
        let from_clfs = import.dll.eq_ignore_ascii_case("clfs.sys");
        match &import.name {
            ImportName::Name(n) => {
                let looks_clfs = n.starts_with("Clfs") || n.starts_with("CLFS_");
                if from_clfs || looks_clfs {
                    count += 1;
                    if !KNOWN_CLFS_EXPORTS.contains(&n.as_str()) {
                        bad.push(format!("{}!{n} is not a known Clfs.sys export", import.dll));
                    } else if !from_clfs {
                        bad.push(format!("{n} is imported from {}, not clfs.sys", import.dll));
                    }
                }
            }
            ImportName::Ordinal(o) if from_clfs => {
                bad.push(format!(
                    "clfs.sys!#{o}: import by ordinal cannot be checked"
                ));
            }
            ImportName::Ordinal(_) => {}
        }
    }
    if bad.is_empty() {
        Outcome::pass(NAME, format!("{count} Clfs imports, all known exports"))
    } else {
        Outcome::fail(NAME, bad.join("; "))
    }
}

/// `no-panic-path`: no panic machinery survived into the image, according to the map file.
///
/// The sample's own proof is at link time (its panic handler calls an undefined symbol, so a
/// reachable panic fails the link); this check is the second line, and the only one for images
/// whose panic handler links (the windows-drivers-rs flow's wdk-panic). Without a map it fails:
/// the PE alone does not name its functions.
pub fn check_no_panic_path(map: Option<&MapFacts>) -> Outcome {
    const NAME: &str = "no-panic-path";
    let Some(map) = map else {
        return Outcome::fail(NAME, "needs the linker's map file (--map)");
    };
    let panicky: Vec<String> = map
        .symbols
        .iter()
        .filter_map(|s| {
            let d = format!("{:#}", rustc_demangle::demangle(&s.name));
            let hit = d.contains("rust_begin_unwind")
                || d.starts_with("core::panicking::")
                || d.contains("panic_bounds_check")
                || d.contains("slice_index_fail")
                || d.contains("len_mismatch_fail")
                || d.contains("unwrap_failed");
            hit.then_some(d)
        })
        .collect();
    if panicky.is_empty() {
        Outcome::pass(
            NAME,
            format!(
                "none of {} map symbols is panic machinery",
                map.symbols.len()
            ),
        )
    } else {
        Outcome::fail(
            NAME,
            format!("panic machinery in the map: {}", panicky.join(", ")),
        )
    }
}

/// The name of the function that starts at `rva`, from the map (demangled, without the hash);
/// `fn@<rva>` when the map has no symbol there.
pub fn function_name(map: Option<&MapFacts>, rva: u32) -> String {
    let found = map.and_then(|map| {
        let base = map.preferred_base?;
        map.symbols.iter().find(|s| {
            s.address.wrapping_sub(base) == u64::from(rva) && !s.name.starts_with("__imp_")
        })
    });
    match found {
        Some(sym) => format!("{:#}", rustc_demangle::demangle(&sym.name)),
        None => format!("fn@{rva:#x}"),
    }
}

/// `stack-frames`: no function's frame exceeds `budget` bytes, and the unwind data and the
/// prologue agree on each frame they both describe. Reports the five largest frames.
pub fn check_stack_frames(image: &ImageFacts, map: Option<&MapFacts>, budget: u32) -> Outcome {
    const NAME: &str = "stack-frames";
    let frames = match &image.frames {
        Ok(frames) => frames,
        Err(e) => return Outcome::fail(NAME, format!("cannot read the unwind data: {e}")),
    };
    let describe = |f: &Frame| {
        let how = match f.prolog {
            Some(PrologAlloc::Chkstk { .. }) => ", via __chkstk",
            _ => "",
        };
        format!("{} {} bytes{how}", function_name(map, f.begin), f.bytes())
    };
    let mut problems = Vec::new();
    for f in frames {
        if let Some(p) = f.prolog {
            if p.size() != f.unwind.alloc {
                problems.push(format!(
                    "{}: the prologue allocates {} bytes, its unwind data says {}",
                    function_name(map, f.begin),
                    p.size(),
                    f.unwind.alloc
                ));
            }
        }
        if f.bytes() > budget {
            problems.push(format!("{} exceeds the {budget}-byte budget", describe(f)));
        }
    }
    let mut largest: Vec<&Frame> = frames.iter().collect();
    largest.sort_by_key(|f| std::cmp::Reverse(f.bytes()));
    let top: Vec<String> = largest.iter().take(5).map(|f| describe(f)).collect();
    if problems.is_empty() {
        Outcome::pass(
            NAME,
            format!(
                "{} functions with frames ({} prologues decoded and agreeing), budget {budget} bytes; largest: {}",
                frames.len(),
                frames.iter().filter(|f| f.prolog.is_some()).count(),
                if top.is_empty() {
                    "none".to_owned()
                } else {
                    top.join(", ")
                }
            ),
        )
    } else {
        Outcome::fail(NAME, problems.join("; "))
    }
}

/// `size`: informational.
pub fn report_size(image: &ImageFacts, map: Option<&MapFacts>) -> Outcome {
    const NAME: &str = "size";
    let text = image
        .sections
        .iter()
        .find(|(n, _)| n == ".text")
        .map_or(0, |(_, s)| *s);
    let mut details = format!("image {} bytes, .text {} bytes", image.file_size, text);
    if let Some(map) = map {
        // Section numbers in the map are 1-based indexes into the section table.
        let code: BTreeMap<u16, u32> = image
            .sections
            .iter()
            .enumerate()
            .filter(|(_, (name, _))| name == ".text")
            .filter_map(|(i, (_, size))| Some((u16::try_from(i + 1).ok()?, *size)))
            .collect();
        let sizes = size_by_crate(map, &code);
        let clfs = sizes.get("clfs").copied().unwrap_or(0);
        let all: Vec<String> = sizes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        details.push_str(&format!(
            "; .text by crate: {}; clfs's own functions ~{clfs} bytes (approximate: under LTO most of clfs is inlined into the sample's functions)",
            all.join(", ")
        ));
    }
    Outcome::pass(NAME, details)
}

#[cfg(test)]
mod tests;
