//! A builder of small synthetic PE32+ native images, for the loader tests.
//!
//! Layout (file offset / RVA):
//! * headers: 0x000 / 0x0000 (`SizeOfHeaders` 0x400): DOS header, `PE\0\0` at 0x80, the file
//!   header at 0x84, the optional header at [`OPT`], the section table at [`SECTIONS`];
//! * `.text`  at RVA 0x1000 (RX): [`Pe::code`], the entry point at its start;
//! * `.rdata` at RVA 0x2000 (R): the import descriptors, the IATs, the lookup tables, the
//!   hint/name entries, the DLL names, then [`Pe::rdata`] at [`Pe::rdata_rva`];
//! * `.data`  at RVA 0x3000 (RW): [`Pe::data`];
//! * `.reloc` at RVA 0x4000 (R): one block per page of [`Pe::relocs`] (DIR64).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Offset of the optional header.
pub const OPT: usize = 0x98;
/// Offset of the section table.
pub const SECTIONS: usize = OPT + 240;
/// The preferred base the images are linked at.
pub const IMAGE_BASE: u64 = 0x1_4000_0000;

pub const TEXT: u32 = 0x1000;
pub const RDATA: u32 = 0x2000;
pub const DATA: u32 = 0x3000;
pub const RELOC: u32 = 0x4000;

/// A synthetic image.
#[derive(Clone, Debug, Default)]
pub struct Pe {
    /// `.text`; the entry point is its first byte.
    pub code: Vec<u8>,
    /// Imports: DLL and routine names.
    pub imports: Vec<(String, Vec<String>)>,
    /// Extra read-only data after the import tables (see [`Pe::rdata_rva`]).
    pub rdata: Vec<u8>,
    /// `.data`.
    pub data: Vec<u8>,
    /// RVAs patched by DIR64 base relocations.
    pub relocs: Vec<u32>,
}

fn align(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

impl Pe {
    /// An image whose DriverEntry is `code`, importing `imports`.
    pub fn new(code: &[u8], imports: &[(&str, &[&str])]) -> Pe {
        Pe {
            code: code.to_vec(),
            imports: imports
                .iter()
                .map(|(d, n)| (d.to_string(), n.iter().map(|s| s.to_string()).collect()))
                .collect(),
            ..Pe::default()
        }
    }

    fn descriptors_len(&self) -> usize {
        (self.imports.len() + 1) * 20
    }

    /// RVA of the IAT slot of `imports[dll].1[name]`.
    pub fn iat_rva(&self, dll: usize, name: usize) -> u32 {
        let mut at = RDATA as usize + self.descriptors_len();
        for (d, (_, names)) in self.imports.iter().enumerate() {
            if d == dll {
                return (at + name * 8) as u32;
            }
            at += (names.len() + 1) * 8;
        }
        panic!("no such import");
    }

    fn tables_len(&self) -> usize {
        self.imports.iter().map(|(_, n)| (n.len() + 1) * 8).sum()
    }

    fn names_len(&self) -> usize {
        self.imports
            .iter()
            .map(|(d, n)| {
                align(d.len() + 1, 2) + n.iter().map(|s| align(2 + s.len() + 1, 2)).sum::<usize>()
            })
            .sum()
    }

    /// RVA of [`Pe::rdata`].
    pub fn rdata_rva(&self) -> u32 {
        let len = self.descriptors_len() + 2 * self.tables_len() + self.names_len();
        (RDATA as usize + align(len, 16)) as u32
    }

    /// The `.rdata` section's contents.
    fn build_rdata(&self) -> Vec<u8> {
        let base = RDATA as usize;
        let iat0 = base + self.descriptors_len();
        let ilt0 = iat0 + self.tables_len();
        let mut names_at = ilt0 + self.tables_len();
        let end = self.rdata_rva() as usize + self.rdata.len();
        let mut r = vec![0u8; end - base];
        let mut iat = iat0;
        let mut ilt = ilt0;
        for (d, (dll, names)) in self.imports.iter().enumerate() {
            let desc = d * 20;
            put32(&mut r, desc, ilt as u32);
            put32(&mut r, desc + 16, iat as u32);
            let dll_rva = names_at;
            r[dll_rva - base..dll_rva - base + dll.len()].copy_from_slice(dll.as_bytes());
            put32(&mut r, desc + 12, dll_rva as u32);
            names_at += align(dll.len() + 1, 2);
            for (i, n) in names.iter().enumerate() {
                let hn = names_at;
                r[hn - base + 2..hn - base + 2 + n.len()].copy_from_slice(n.as_bytes());
                names_at += align(2 + n.len() + 1, 2);
                put64(&mut r, ilt - base + i * 8, hn as u64);
                put64(&mut r, iat - base + i * 8, hn as u64);
            }
            iat += (names.len() + 1) * 8;
            ilt += (names.len() + 1) * 8;
        }
        let at = self.rdata_rva() as usize - base;
        r[at..at + self.rdata.len()].copy_from_slice(&self.rdata);
        r
    }

    fn build_reloc(&self) -> Vec<u8> {
        let mut pages: std::collections::BTreeMap<u32, Vec<u16>> = Default::default();
        for &rva in &self.relocs {
            pages
                .entry(rva & !0xFFF)
                .or_default()
                .push((10 << 12) | (rva & 0xFFF) as u16);
        }
        let mut r = Vec::new();
        for (page, mut entries) in pages {
            if entries.len() % 2 == 1 {
                entries.push(0); // IMAGE_REL_BASED_ABSOLUTE padding
            }
            r.extend_from_slice(&page.to_le_bytes());
            r.extend_from_slice(&((8 + 2 * entries.len()) as u32).to_le_bytes());
            for e in entries {
                r.extend_from_slice(&e.to_le_bytes());
            }
        }
        r
    }

    /// The image file.
    pub fn build(&self) -> Vec<u8> {
        let rdata = self.build_rdata();
        let reloc = self.build_reloc();
        let sections: [(&[u8; 8], u32, &[u8], u32); 4] = [
            (b".text\0\0\0", TEXT, &self.code, 0x6000_0020),
            (b".rdata\0\0", RDATA, &rdata, 0x4000_0040),
            (b".data\0\0\0", DATA, &self.data, 0xC000_0040),
            (b".reloc\0\0", RELOC, &reloc, 0x4200_0040),
        ];
        let mut file = vec![0u8; 0x400];
        file[0] = b'M';
        file[1] = b'Z';
        put32(&mut file, 0x3C, 0x80);
        file[0x80..0x84].copy_from_slice(b"PE\0\0");
        put16(&mut file, 0x84, 0x8664);
        put16(&mut file, 0x86, sections.len() as u16);
        put16(&mut file, 0x94, 240);
        put16(&mut file, 0x96, 0x2022);
        put16(&mut file, OPT, 0x20B);
        put32(&mut file, OPT + 16, TEXT); // AddressOfEntryPoint
        put32(&mut file, OPT + 20, TEXT);
        put64(&mut file, OPT + 24, IMAGE_BASE);
        put32(&mut file, OPT + 32, 0x1000); // SectionAlignment
        put32(&mut file, OPT + 36, 0x200); // FileAlignment
        put16(&mut file, OPT + 40, 6);
        put16(&mut file, OPT + 48, 6);
        put32(&mut file, OPT + 56, 0x5000); // SizeOfImage
        put32(&mut file, OPT + 60, 0x400); // SizeOfHeaders
        put16(&mut file, OPT + 68, 1); // IMAGE_SUBSYSTEM_NATIVE
        put16(&mut file, OPT + 70, 0x0160);
        put64(&mut file, OPT + 72, 0x10_0000);
        put64(&mut file, OPT + 80, 0x1000);
        put32(&mut file, OPT + 108, 16);
        if !self.imports.is_empty() {
            put32(&mut file, OPT + 120, RDATA);
            put32(&mut file, OPT + 124, self.descriptors_len() as u32);
        }
        if !reloc.is_empty() {
            put32(&mut file, OPT + 152, RELOC);
            put32(&mut file, OPT + 156, reloc.len() as u32);
        }
        for (i, (name, rva, content, chars)) in sections.iter().enumerate() {
            let raw = align(content.len().max(1), 0x200);
            let at = file.len();
            let h = SECTIONS + i * 40;
            file[h..h + 8].copy_from_slice(*name);
            put32(&mut file, h + 8, content.len().max(1) as u32);
            put32(&mut file, h + 12, *rva);
            put32(&mut file, h + 16, raw as u32);
            put32(&mut file, h + 20, at as u32);
            put32(&mut file, h + 36, *chars);
            file.extend_from_slice(content);
            file.resize(at + raw, 0);
        }
        file
    }
}

/// Offset of field `off` of section header `i`.
pub fn section_field(i: usize, off: usize) -> usize {
    SECTIONS + i * 40 + off
}

pub fn set16(b: &mut [u8], off: usize, v: u16) {
    put16(b, off, v);
}
pub fn set32(b: &mut [u8], off: usize, v: u32) {
    put32(b, off, v);
}
pub fn set64(b: &mut [u8], off: usize, v: u64) {
    put64(b, off, v);
}

/// `disp32` of a RIP-relative operand whose instruction ends at `next_rva`.
pub fn rel(target: u32, next_rva: u32) -> [u8; 4] {
    (target as i32 - next_rva as i32).to_le_bytes()
}

/// `xor eax, eax; ret`: a DriverEntry that returns STATUS_SUCCESS.
pub const RET_SUCCESS: &[u8] = &[0x31, 0xC0, 0xC3];

/// Path of the sample driver image if it was built (by samples/build-driver.sh, or into the
/// harness's target dir), or `$CLFS_SAMPLE_SYS`.
pub fn sample_image() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("CLFS_SAMPLE_SYS") {
        return Some(p.into());
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut candidates = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(std::path::PathBuf::from(t));
    }
    candidates.push(root.join("target"));
    candidates.push(root.join("target/harness"));
    candidates
        .into_iter()
        .map(|t| t.join("x86_64-pc-windows-msvc/release/clfs_sample_driver.sys"))
        .find(|p| p.is_file())
}
