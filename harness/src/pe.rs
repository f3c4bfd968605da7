//! Parsing and validation of a PE32+ x86-64 native image, and its layout in memory.
//!
//! Everything here is safe code over byte slices: [`PeImage::parse`] validates the headers and
//! sections, lays the image out in a `Vec<u8>` of `SizeOfImage` bytes (headers, then each
//! section's raw data at its RVA, zero-filled), and reads the base relocations and the import
//! table *from that layout*, bounds-checking every read. [`PeImage::relocate`] and
//! [`PeImage::bind`] patch the layout; [`crate::map`] copies it into executable memory.
//!
//! The headers are parsed with the `object` crate; the relocation and import tables are
//! walked by hand over the laid-out image, which makes every bound explicit.

use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader};
use object::LittleEndian as LE;

use crate::error::LoadError;

/// The largest `SizeOfImage` the loader accepts (64 MiB; the sample is 24 KiB).
pub const MAX_IMAGE_SIZE: u32 = 64 << 20;

/// The page size the loader lays sections out for (x86-64 Linux).
pub const PAGE_SIZE: u32 = 0x1000;

/// The most sections a PE image may have (the Windows loader's limit).
pub const MAX_SECTIONS: usize = 96;

/// The most import descriptors, and names per descriptor, the loader walks.
const MAX_IMPORTS: usize = 16 * 1024;

/// The longest DLL or routine name accepted in the import table.
const MAX_NAME: usize = 512;

/// The memory protection of a mapped section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// Read-only.
    Read,
    /// Read and write.
    ReadWrite,
    /// Read and execute.
    ReadExecute,
}

/// One section as it is mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section's name (`.text`, ...).
    pub name: String,
    /// Its RVA (a multiple of the page size).
    pub rva: u32,
    /// Its virtual size (`VirtualSize`, or `SizeOfRawData` when that is 0).
    pub virtual_size: u32,
    /// Its protection.
    pub protection: Protection,
    /// `IMAGE_SCN_*` characteristics.
    pub characteristics: u32,
}

impl Section {
    /// True if `rva` lies within the section's virtual size.
    pub fn contains(&self, rva: u64) -> bool {
        rva >= u64::from(self.rva) && rva < u64::from(self.rva) + u64::from(self.virtual_size)
    }
}

/// What an import names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportSymbol {
    /// By name.
    Name(String),
    /// By ordinal (never bound: the harness implements routines by name only).
    Ordinal(u16),
}

/// One imported routine and the IAT slot that receives its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The DLL as the image spells it (`clfs.sys`, `ntoskrnl.exe`).
    pub dll: String,
    /// The routine.
    pub symbol: ImportSymbol,
    /// RVA of the 8-byte IAT slot.
    pub iat_rva: u32,
}

impl std::fmt::Display for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.symbol {
            ImportSymbol::Name(n) => write!(f, "{}!{n}", self.dll),
            ImportSymbol::Ordinal(o) => write!(f, "{}!#{o}", self.dll),
        }
    }
}

/// A validated image laid out in memory order, not yet relocated or bound.
#[derive(Clone, Debug)]
pub struct PeImage {
    image: Vec<u8>,
    image_base: u64,
    entry_rva: u32,
    size_of_headers: u32,
    sections: Vec<Section>,
    relocations: Vec<u32>,
    relocs_stripped: bool,
    imports: Vec<Import>,
}

/// `IMAGE_SCN_MEM_EXECUTE`.
const SCN_EXECUTE: u32 = pe::IMAGE_SCN_MEM_EXECUTE;
/// `IMAGE_SCN_MEM_WRITE`.
const SCN_WRITE: u32 = pe::IMAGE_SCN_MEM_WRITE;

fn malformed(what: &'static str, e: object::read::Error) -> LoadError {
    LoadError::Malformed {
        what,
        detail: e.to_string(),
    }
}

/// `x` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
fn align_up(x: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    Some(x.checked_add(mask)? & !mask)
}

fn u16_at(img: &[u8], off: u64) -> Option<u16> {
    let off = usize::try_from(off).ok()?;
    let b = img.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(img: &[u8], off: u64) -> Option<u32> {
    let off = usize::try_from(off).ok()?;
    let b: [u8; 4] = img.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

fn u64_at(img: &[u8], off: u64) -> Option<u64> {
    let off = usize::try_from(off).ok()?;
    let b: [u8; 8] = img.get(off..off.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

fn put_u64(img: &mut [u8], off: u64, v: u64) -> Option<()> {
    let off = usize::try_from(off).ok()?;
    img.get_mut(off..off.checked_add(8)?)?
        .copy_from_slice(&v.to_le_bytes());
    Some(())
}

/// A NUL-terminated ASCII name at `off` (at most `MAX_NAME` bytes).
fn name_at(img: &[u8], off: u64) -> Option<String> {
    let off = usize::try_from(off).ok()?;
    let rest = img.get(off..)?;
    let rest = rest.get(..rest.len().min(MAX_NAME + 1))?;
    let len = rest.iter().position(|&b| b == 0)?;
    let bytes = rest.get(..len)?;
    if bytes.is_empty() || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(String::from_utf8_lossy(bytes).into_owned())
}

fn reloc_name(kind: u16) -> &'static str {
    match kind {
        1 => "IMAGE_REL_BASED_HIGH",
        2 => "IMAGE_REL_BASED_LOW",
        3 => "IMAGE_REL_BASED_HIGHLOW",
        4 => "IMAGE_REL_BASED_HIGHADJ",
        _ => "unknown or architecture-specific",
    }
}

impl PeImage {
    /// Parses and validates `data` as a PE32+ x86-64 native image and lays it out.
    ///
    /// Refuses, with a [`LoadError`] naming the rule: truncated or malformed headers, a
    /// 32-bit image, another machine or subsystem, a non-executable image, an image larger than
    /// [`MAX_IMAGE_SIZE`], sections that are misaligned, outside the file or the image,
    /// overlapping or writable-and-executable, an entry point outside an executable section,
    /// data directories outside the image, malformed, out-of-image or non-`DIR64` base
    /// relocations, and a malformed import table. Never panics.
    pub fn parse(data: &[u8]) -> Result<PeImage, LoadError> {
        let file_len = data.len() as u64;
        let dos = pe::ImageDosHeader::parse(data).map_err(|e| {
            if data.len() < core::mem::size_of::<pe::ImageDosHeader>() {
                LoadError::Truncated {
                    what: "the DOS header",
                    offset: 0,
                    need: core::mem::size_of::<pe::ImageDosHeader>() as u64,
                    len: file_len,
                }
            } else {
                malformed("DOS header", e)
            }
        })?;
        let nt_offset = u64::from(dos.nt_headers_offset());
        let magic =
            object::read::pe::optional_header_magic(data).map_err(|_| LoadError::Truncated {
                what: "the NT headers",
                offset: nt_offset,
                need: core::mem::size_of::<pe::ImageNtHeaders64>() as u64,
                len: file_len,
            })?;
        if magic != pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC {
            return Err(LoadError::NotPe32Plus { magic });
        }
        let mut offset = nt_offset;
        let (nt, dirs) = pe::ImageNtHeaders64::parse(data, &mut offset)
            .map_err(|e| malformed("NT headers", e))?;
        let fh = nt.file_header();
        let oh = nt.optional_header();

        let machine = fh.machine.get(LE);
        if machine != pe::IMAGE_FILE_MACHINE_AMD64 {
            return Err(LoadError::WrongMachine { machine });
        }
        let characteristics = fh.characteristics.get(LE);
        if characteristics & pe::IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
            return Err(LoadError::NotExecutable { characteristics });
        }
        let subsystem = oh.subsystem();
        if subsystem != pe::IMAGE_SUBSYSTEM_NATIVE {
            return Err(LoadError::WrongSubsystem { subsystem });
        }

        let section_alignment = oh.section_alignment();
        if !section_alignment.is_power_of_two() || section_alignment < PAGE_SIZE {
            return Err(LoadError::SectionAlignment { section_alignment });
        }
        let size_of_image = oh.size_of_image();
        if size_of_image == 0 || size_of_image > MAX_IMAGE_SIZE {
            return Err(LoadError::ImageSize {
                size: u64::from(size_of_image),
                cap: u64::from(MAX_IMAGE_SIZE),
            });
        }
        // Page-rounded; cannot overflow (size_of_image <= 64 MiB).
        let image_size = align_up(u64::from(size_of_image), u64::from(PAGE_SIZE)).ok_or(
            LoadError::ImageSize {
                size: u64::from(size_of_image),
                cap: u64::from(MAX_IMAGE_SIZE),
            },
        )?;
        let size_of_headers = oh.size_of_headers();
        if size_of_headers == 0
            || u64::from(size_of_headers) > file_len
            || u64::from(size_of_headers) > image_size
        {
            return Err(LoadError::Headers {
                size: size_of_headers,
                file_len,
                image_size,
            });
        }

        let table = nt
            .sections(data, offset)
            .map_err(|e| malformed("section table", e))?;
        if table.len() > MAX_SECTIONS {
            return Err(LoadError::TooManySections {
                count: table.len(),
                max: MAX_SECTIONS,
            });
        }
        // The section table must itself lie within the headers that get mapped.
        let table_end = offset.saturating_add((table.len() as u64).saturating_mul(40));
        if table_end > u64::from(size_of_headers) {
            return Err(LoadError::Headers {
                size: size_of_headers,
                file_len,
                image_size,
            });
        }

        let image_len = usize::try_from(image_size).map_err(|_| LoadError::ImageSize {
            size: image_size,
            cap: u64::from(MAX_IMAGE_SIZE),
        })?;
        let mut image = vec![0u8; image_len];
        let headers_len = usize::try_from(size_of_headers).unwrap_or(usize::MAX);
        if let (Some(dst), Some(src)) = (image.get_mut(..headers_len), data.get(..headers_len)) {
            dst.copy_from_slice(src);
        }

        let mut sections = Vec::with_capacity(table.len());
        let mut prev_end =
            align_up(u64::from(size_of_headers), u64::from(section_alignment)).unwrap_or(u64::MAX);
        let mut prev_name = String::from("the headers");
        for sh in table.iter() {
            let name = String::from_utf8_lossy(sh.raw_name())
                .trim_end_matches('\0')
                .to_string();
            let rva = sh.virtual_address.get(LE);
            let raw_size = sh.size_of_raw_data.get(LE);
            let raw_ptr = sh.pointer_to_raw_data.get(LE);
            let mut virtual_size = sh.virtual_size.get(LE);
            if virtual_size == 0 {
                virtual_size = raw_size;
            }
            if virtual_size == 0 {
                // An empty section occupies no memory; nothing to map.
                continue;
            }
            let characteristics = sh.characteristics.get(LE);
            if rva % section_alignment != 0 {
                return Err(LoadError::SectionMisaligned {
                    name,
                    rva,
                    align: section_alignment,
                });
            }
            let aligned =
                align_up(u64::from(virtual_size), u64::from(section_alignment)).unwrap_or(u64::MAX);
            let end = u64::from(rva).saturating_add(aligned);
            if end > image_size {
                return Err(LoadError::SectionOutsideImage {
                    name,
                    rva,
                    size: aligned,
                    image_size,
                });
            }
            if u64::from(rva) < prev_end {
                return Err(LoadError::SectionsOverlap {
                    name,
                    rva,
                    other: prev_name,
                    other_end: prev_end,
                });
            }
            let copy = raw_size.min(virtual_size);
            if raw_size != 0 {
                let raw_end = u64::from(raw_ptr).saturating_add(u64::from(raw_size));
                if raw_end > file_len {
                    return Err(LoadError::SectionOutsideFile {
                        name,
                        offset: raw_ptr,
                        size: raw_size,
                        file_len,
                    });
                }
                let (Ok(src_at), Ok(dst_at), Ok(n)) = (
                    usize::try_from(raw_ptr),
                    usize::try_from(rva),
                    usize::try_from(copy),
                ) else {
                    return Err(LoadError::SectionOutsideFile {
                        name,
                        offset: raw_ptr,
                        size: raw_size,
                        file_len,
                    });
                };
                let src = src_at.checked_add(n).and_then(|e| data.get(src_at..e));
                let dst = dst_at.checked_add(n).and_then(|e| image.get_mut(dst_at..e));
                match (src, dst) {
                    (Some(s), Some(d)) => d.copy_from_slice(s),
                    _ => {
                        return Err(LoadError::SectionOutsideFile {
                            name,
                            offset: raw_ptr,
                            size: raw_size,
                            file_len,
                        })
                    }
                }
            }
            let protection = match (
                characteristics & SCN_EXECUTE != 0,
                characteristics & SCN_WRITE != 0,
            ) {
                (true, true) => {
                    return Err(LoadError::WritableAndExecutable {
                        name,
                        characteristics,
                    })
                }
                (true, false) => Protection::ReadExecute,
                (false, true) => Protection::ReadWrite,
                (false, false) => Protection::Read,
            };
            prev_end = end;
            prev_name.clone_from(&name);
            sections.push(Section {
                name,
                rva,
                virtual_size,
                protection,
                characteristics,
            });
        }

        let entry_rva = oh.address_of_entry_point();
        match sections.iter().find(|s| s.contains(u64::from(entry_rva))) {
            None => return Err(LoadError::EntryOutside { rva: entry_rva }),
            Some(s) if s.protection != Protection::ReadExecute => {
                return Err(LoadError::EntryNotExecutable {
                    rva: entry_rva,
                    section: s.name.clone(),
                })
            }
            Some(_) => {}
        }

        let dir = |index: usize, which: &'static str| -> Result<Option<(u32, u32)>, LoadError> {
            let Some(d) = dirs.get(index) else {
                return Ok(None);
            };
            let (rva, size) = (d.virtual_address.get(LE), d.size.get(LE));
            if rva == 0 && size == 0 {
                return Ok(None);
            }
            if u64::from(rva).saturating_add(u64::from(size)) > image_size || rva == 0 {
                return Err(LoadError::DirectoryOutside {
                    which,
                    rva,
                    size,
                    image_size,
                });
            }
            Ok(Some((rva, size)))
        };
        let relocs = dir(pe::IMAGE_DIRECTORY_ENTRY_BASERELOC, "base relocation")?;
        let imports_dir = dir(pe::IMAGE_DIRECTORY_ENTRY_IMPORT, "import")?;

        let relocations = match relocs {
            Some((rva, size)) => parse_relocations(&image, rva, size, image_size)?,
            None => Vec::new(),
        };
        let imports = match imports_dir {
            Some((rva, _)) => parse_imports(&image, rva)?,
            None => Vec::new(),
        };

        Ok(PeImage {
            image,
            image_base: oh.image_base(),
            entry_rva,
            size_of_headers,
            sections,
            relocations,
            relocs_stripped: characteristics & pe::IMAGE_FILE_RELOCS_STRIPPED != 0,
            imports,
        })
    }

    /// The laid-out image (`SizeOfImage` rounded up to the page size).
    pub fn bytes(&self) -> &[u8] {
        &self.image
    }

    /// `OptionalHeader.ImageBase`, the preferred base.
    pub fn image_base(&self) -> u64 {
        self.image_base
    }

    /// `AddressOfEntryPoint` (validated: inside an executable section).
    pub fn entry_rva(&self) -> u32 {
        self.entry_rva
    }

    /// `SizeOfHeaders`.
    pub fn size_of_headers(&self) -> u32 {
        self.size_of_headers
    }

    /// The mapped sections, in address order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The RVAs the `DIR64` base relocations patch (validated: inside the image).
    pub fn relocations(&self) -> &[u32] {
        &self.relocations
    }

    /// The imported routines.
    pub fn imports(&self) -> &[Import] {
        &self.imports
    }

    /// Applies the base relocations for a load at `base`.
    ///
    /// Refuses an image with `IMAGE_FILE_RELOCS_STRIPPED` that is not loaded at its preferred
    /// base. (An image without relocations that does not say so is taken at its word: it has
    /// no absolute addresses, as the Windows loader assumes.)
    pub fn relocate(&mut self, base: u64) -> Result<(), LoadError> {
        let delta = base.wrapping_sub(self.image_base);
        if delta == 0 {
            return Ok(());
        }
        if self.relocs_stripped {
            return Err(LoadError::RelocationsStripped {
                image_base: self.image_base,
            });
        }
        let image_size = self.image.len() as u64;
        for &rva in &self.relocations {
            let at = u64::from(rva);
            let patched = u64_at(&self.image, at)
                .map(|v| v.wrapping_add(delta))
                .and_then(|v| put_u64(&mut self.image, at, v));
            if patched.is_none() {
                return Err(LoadError::RelocationOutside {
                    rva: at,
                    image_size,
                });
            }
        }
        Ok(())
    }

    /// Writes `address` into the IAT slot of each `(import index, address)` binding.
    pub fn bind(&mut self, bindings: &[(usize, u64)]) -> Result<(), LoadError> {
        for &(index, address) in bindings {
            let Some(import) = self.imports.get(index) else {
                return Err(LoadError::BadImports {
                    detail: format!("binding for import #{index}, which does not exist"),
                });
            };
            let rva = u64::from(import.iat_rva);
            if put_u64(&mut self.image, rva, address).is_none() {
                return Err(LoadError::BadImports {
                    detail: format!("IAT slot {rva:#x} lies outside the image"),
                });
            }
        }
        Ok(())
    }
}

/// Walks the base relocation blocks of `[rva, rva + size)`.
fn parse_relocations(
    img: &[u8],
    rva: u32,
    size: u32,
    image_size: u64,
) -> Result<Vec<u32>, LoadError> {
    let mut out = Vec::new();
    let end = u64::from(rva).saturating_add(u64::from(size));
    let mut at = u64::from(rva);
    while at < end {
        let block_rva = u32::try_from(at).unwrap_or(u32::MAX);
        let bad = |detail: String| LoadError::BadRelocationBlock {
            rva: block_rva,
            detail,
        };
        let (Some(page), Some(block_size)) = (u32_at(img, at), u32_at(img, at.saturating_add(4)))
        else {
            return Err(bad("the block header lies outside the image".into()));
        };
        if block_size < 8 || block_size % 2 != 0 {
            return Err(bad(format!(
                "SizeOfBlock {block_size} is not an even number >= 8"
            )));
        }
        let block_end = at.saturating_add(u64::from(block_size));
        if block_end > end {
            return Err(bad(format!(
                "SizeOfBlock {block_size} runs past the end of the directory ({end:#x})"
            )));
        }
        let mut e = at.saturating_add(8);
        while e < block_end {
            let Some(entry) = u16_at(img, e) else {
                return Err(bad("an entry lies outside the image".into()));
            };
            let kind = entry >> 12;
            let target = u64::from(page).saturating_add(u64::from(entry & 0x0FFF));
            match kind {
                pe::IMAGE_REL_BASED_ABSOLUTE => {}
                pe::IMAGE_REL_BASED_DIR64 => {
                    if target.saturating_add(8) > image_size {
                        return Err(LoadError::RelocationOutside {
                            rva: target,
                            image_size,
                        });
                    }
                    // target + 8 <= image_size <= 64 MiB, so it fits in u32.
                    out.push(u32::try_from(target).unwrap_or(u32::MAX));
                }
                _ => {
                    return Err(LoadError::UnsupportedRelocation {
                        rva: target,
                        kind,
                        name: reloc_name(kind),
                    })
                }
            }
            e = e.saturating_add(2);
        }
        at = block_end;
    }
    Ok(out)
}

/// Walks the import descriptors at `rva` (terminated by an all-zero descriptor).
fn parse_imports(img: &[u8], rva: u32) -> Result<Vec<Import>, LoadError> {
    let bad = |detail: String| LoadError::BadImports { detail };
    let mut out = Vec::new();
    let image_size = img.len() as u64;
    for i in 0..MAX_IMPORTS {
        let d = u64::from(rva).saturating_add((i as u64).saturating_mul(20));
        let field = |k: u64| u32_at(img, d.saturating_add(k));
        let (Some(ilt), Some(name_rva), Some(iat)) = (field(0), field(12), field(16)) else {
            return Err(bad(format!(
                "descriptor #{i} at {d:#x} lies outside the image (no terminating null descriptor?)"
            )));
        };
        if ilt == 0 && name_rva == 0 && iat == 0 {
            return Ok(out);
        }
        let dll = name_at(img, u64::from(name_rva)).ok_or_else(|| {
            bad(format!(
                "descriptor #{i}: the DLL name at {name_rva:#x} is not a NUL-terminated ASCII name inside the image"
            ))
        })?;
        if iat == 0 {
            return Err(bad(format!("{dll}: FirstThunk (the IAT) is 0")));
        }
        let lookup = if ilt != 0 { ilt } else { iat };
        for j in 0..MAX_IMPORTS {
            let off = (j as u64).saturating_mul(8);
            let slot = u64::from(lookup).saturating_add(off);
            let iat_slot = u64::from(iat).saturating_add(off);
            let Some(entry) = u64_at(img, slot) else {
                return Err(bad(format!(
                    "{dll}: lookup entry #{j} at {slot:#x} lies outside the image"
                )));
            };
            if entry == 0 {
                break;
            }
            if iat_slot.saturating_add(8) > image_size {
                return Err(bad(format!(
                    "{dll}: IAT slot #{j} at {iat_slot:#x} lies outside the image"
                )));
            }
            let iat_rva = u32::try_from(iat_slot).unwrap_or(u32::MAX);
            let symbol = if entry & (1 << 63) != 0 {
                ImportSymbol::Ordinal((entry & 0xFFFF) as u16)
            } else {
                let hint_name = entry & 0x7FFF_FFFF;
                let name = name_at(img, hint_name.saturating_add(2)).ok_or_else(|| {
                    bad(format!(
                        "{dll}: import #{j}: the name at {:#x} is not a NUL-terminated ASCII name inside the image",
                        hint_name.saturating_add(2)
                    ))
                })?;
                ImportSymbol::Name(name)
            };
            out.push(Import {
                dll: dll.clone(),
                symbol,
                iat_rva,
            });
            if j + 1 == MAX_IMPORTS {
                return Err(bad(format!("{dll}: more than {MAX_IMPORTS} imports")));
            }
        }
    }
    Err(bad(format!("more than {MAX_IMPORTS} import descriptors")))
}
