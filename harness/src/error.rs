//! Why the loader refused an image.

use std::fmt;

/// Why an image was refused. Every variant names the rule and the offending values, so the
/// message reads without the PE specification open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file ends before a structure the loader needs.
    #[error(
        "truncated image: {what} needs {need} bytes at offset {offset:#x}, the file has {len}"
    )]
    Truncated {
        /// The structure.
        what: &'static str,
        /// Its offset in the file.
        offset: u64,
        /// Its size.
        need: u64,
        /// The file's length.
        len: u64,
    },
    /// A header does not parse (the `object` crate's reason is kept).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The structure.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A 32-bit (PE32) image: only PE32+ (x64) images are loaded.
    #[error("not a PE32+ image: optional header magic {magic:#06x} (PE32+ is 0x020b)")]
    NotPe32Plus {
        /// The optional header's magic.
        magic: u16,
    },
    /// Not an x86-64 image.
    #[error(
        "wrong machine {machine:#06x}: only IMAGE_FILE_MACHINE_AMD64 (0x8664) images run here"
    )]
    WrongMachine {
        /// `FileHeader.Machine`.
        machine: u16,
    },
    /// Not a native (kernel-mode) image.
    #[error("wrong subsystem {subsystem}: a driver image has IMAGE_SUBSYSTEM_NATIVE (1)")]
    WrongSubsystem {
        /// `OptionalHeader.Subsystem`.
        subsystem: u16,
    },
    /// `IMAGE_FILE_EXECUTABLE_IMAGE` is not set (an object file or a failed link).
    #[error("not an executable image: FileHeader.Characteristics {characteristics:#06x} lacks IMAGE_FILE_EXECUTABLE_IMAGE")]
    NotExecutable {
        /// `FileHeader.Characteristics`.
        characteristics: u16,
    },
    /// `SizeOfImage` is zero or above the loader's cap.
    #[error("image size {size:#x} is outside 1..={cap:#x} bytes")]
    ImageSize {
        /// `OptionalHeader.SizeOfImage`.
        size: u64,
        /// [`crate::pe::MAX_IMAGE_SIZE`].
        cap: u64,
    },
    /// `SectionAlignment` is not a power of two of at least the page size, so sections
    /// cannot get their own protections.
    #[error(
        "section alignment {section_alignment:#x} is not a power of two >= 0x1000 (the page size)"
    )]
    SectionAlignment {
        /// `OptionalHeader.SectionAlignment`.
        section_alignment: u32,
    },
    /// `SizeOfHeaders` is zero, larger than the file or larger than the image.
    #[error("SizeOfHeaders {size:#x} is invalid (file {file_len:#x} bytes, image {image_size:#x} bytes)")]
    Headers {
        /// `OptionalHeader.SizeOfHeaders`.
        size: u32,
        /// The file's length.
        file_len: u64,
        /// `SizeOfImage`.
        image_size: u64,
    },
    /// More sections than a PE image may have.
    #[error("{count} sections: at most {max} are allowed")]
    TooManySections {
        /// `FileHeader.NumberOfSections`.
        count: usize,
        /// The cap (96, as the Windows loader).
        max: usize,
    },
    /// A section's `VirtualAddress` is not a multiple of `SectionAlignment`.
    #[error(
        "section {name}: VirtualAddress {rva:#x} is not a multiple of SectionAlignment {align:#x}"
    )]
    SectionMisaligned {
        /// The section's name.
        name: String,
        /// Its RVA.
        rva: u32,
        /// `SectionAlignment`.
        align: u32,
    },
    /// A section's raw data lies (partly) outside the file.
    #[error("section {name}: raw data {offset:#x}+{size:#x} lies outside the file ({file_len:#x} bytes)")]
    SectionOutsideFile {
        /// The section's name.
        name: String,
        /// `PointerToRawData`.
        offset: u32,
        /// `SizeOfRawData`.
        size: u32,
        /// The file's length.
        file_len: u64,
    },
    /// A section's memory lies (partly) outside `SizeOfImage`.
    #[error("section {name}: {rva:#x}+{size:#x} lies outside the image ({image_size:#x} bytes)")]
    SectionOutsideImage {
        /// The section's name.
        name: String,
        /// Its RVA.
        rva: u32,
        /// Its aligned virtual size.
        size: u64,
        /// `SizeOfImage`.
        image_size: u64,
    },
    /// A section overlaps the headers or the previous section (or sections are not in
    /// ascending address order).
    #[error("section {name} at {rva:#x} overlaps {other} (which ends at {other_end:#x})")]
    SectionsOverlap {
        /// The section's name.
        name: String,
        /// Its RVA.
        rva: u32,
        /// The headers or the previous section.
        other: String,
        /// Where that one ends.
        other_end: u64,
    },
    /// A section is both writable and executable: refused (HVCI refuses such drivers too).
    #[error("section {name} is writable and executable (characteristics {characteristics:#010x}); driver images must be W^X")]
    WritableAndExecutable {
        /// The section's name.
        name: String,
        /// Its characteristics.
        characteristics: u32,
    },
    /// `AddressOfEntryPoint` is zero or outside every section.
    #[error("entry point {rva:#x} lies outside the image's sections")]
    EntryOutside {
        /// `AddressOfEntryPoint`.
        rva: u32,
    },
    /// `AddressOfEntryPoint` is in a section that is not executable.
    #[error("entry point {rva:#x} lies in section {section}, which is not executable")]
    EntryNotExecutable {
        /// `AddressOfEntryPoint`.
        rva: u32,
        /// The section holding it.
        section: String,
    },
    /// A data directory lies outside the image.
    #[error("{which} directory {rva:#x}+{size:#x} lies outside the image ({image_size:#x} bytes)")]
    DirectoryOutside {
        /// Which directory.
        which: &'static str,
        /// Its RVA.
        rva: u32,
        /// Its size.
        size: u32,
        /// `SizeOfImage`.
        image_size: u64,
    },
    /// A base relocation block is malformed.
    #[error("base relocation block at {rva:#x}: {detail}")]
    BadRelocationBlock {
        /// The block's RVA in the image.
        rva: u32,
        /// What is wrong.
        detail: String,
    },
    /// A base relocation patches memory outside the image.
    #[error(
        "base relocation at {rva:#x} patches 8 bytes outside the image ({image_size:#x} bytes)"
    )]
    RelocationOutside {
        /// The patched RVA.
        rva: u64,
        /// `SizeOfImage`.
        image_size: u64,
    },
    /// A base relocation of a type other than `IMAGE_REL_BASED_DIR64` (or the `ABSOLUTE`
    /// padding).
    #[error("base relocation at {rva:#x} has type {kind} ({name}); only IMAGE_REL_BASED_DIR64 (10) is supported on x64")]
    UnsupportedRelocation {
        /// The patched RVA.
        rva: u64,
        /// The relocation type.
        kind: u16,
        /// Its name.
        name: &'static str,
    },
    /// The image has no relocations (`IMAGE_FILE_RELOCS_STRIPPED`) but cannot be mapped at its
    /// preferred base.
    #[error("relocations are stripped (IMAGE_FILE_RELOCS_STRIPPED) and the image cannot be mapped at its preferred base {image_base:#x}")]
    RelocationsStripped {
        /// `OptionalHeader.ImageBase`.
        image_base: u64,
    },
    /// The import directory is malformed.
    #[error("import directory: {detail}")]
    BadImports {
        /// What is wrong.
        detail: String,
    },
    /// Imports nobody implements: the loader never binds a silent stub.
    #[error("{} import(s) not implemented by the harness: {}", .0.len(), MissingList(.0))]
    MissingImports(Vec<String>),
    /// The host refused memory for the image.
    #[error("cannot map the image: {what} failed with errno {errno}")]
    Map {
        /// The failing call.
        what: &'static str,
        /// `errno`.
        errno: i32,
    },
    /// A driver or registry name too long for a `UNICODE_STRING`.
    #[error("name too long for a UNICODE_STRING: {0}")]
    NameTooLong(String),
}

/// Formats the missing imports as a comma-separated list.
struct MissingList<'a>(&'a [String]);

impl fmt::Display for MissingList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}
