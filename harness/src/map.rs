//! Mapping a parsed image into executable memory.
//!
//! `mmap` gives a fresh anonymous read-write region of the image's size, wherever the kernel
//! places it; the laid-out image is relocated for that address, its IAT bound, copied in, and
//! then each page gets its section's protection with `mprotect` (headers and gaps read-only,
//! `.text` read-execute, `.data` read-write). Nothing is ever writable and executable at once.

use core::ptr::NonNull;

use crate::error::LoadError;
use crate::pe::{PeImage, Protection, Section, PAGE_SIZE};

/// An image mapped into this process, relocated and bound, ready to run.
///
/// # Invariants
/// `base` is the start of a private mapping of `len` bytes owned by this value, holding the
/// relocated and bound image with the section protections applied.
#[derive(Debug)]
pub struct MappedImage {
    base: NonNull<u8>,
    len: usize,
    entry_rva: u32,
    sections: Vec<Section>,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn prot(p: Protection) -> i32 {
    match p {
        Protection::Read => libc::PROT_READ,
        Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
    }
}

impl MappedImage {
    /// Maps `image` (relocated for wherever it lands) and writes `bindings` into its IAT.
    pub fn map(mut image: PeImage, bindings: &[(usize, u64)]) -> Result<MappedImage, LoadError> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page <= 0 || PAGE_SIZE as libc::c_long % page != 0 {
            return Err(LoadError::Map {
                what: "sysconf(_SC_PAGESIZE) (the host page size must divide 4 KiB)",
                errno: 0,
            });
        }
        let len = image.bytes().len();
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(LoadError::Map {
                what: "mmap",
                errno: errno(),
            });
        }
        let Some(base) = NonNull::new(p.cast::<u8>()) else {
            return Err(LoadError::Map {
                what: "mmap (returned NULL)",
                errno: 0,
            });
        };
        // INVARIANT: from here on, dropping `mapped` unmaps the region.
        let mapped = MappedImage {
            base,
            len,
            entry_rva: image.entry_rva(),
            sections: image.sections().to_vec(),
        };
        image.relocate(base.as_ptr() as u64)?;
        image.bind(bindings)?;
        let bytes = image.bytes();
        // SAFETY: the mapping is `len` bytes, writable, and exclusively ours; `bytes` is a
        // distinct heap buffer of exactly `len` bytes.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), base.as_ptr(), len) };
        mapped.protect(0, len, libc::PROT_READ)?;
        for s in &mapped.sections {
            let start = s.rva as usize;
            // The section spans whole pages: its RVA is page-aligned, and the parser checked
            // that the next section starts after its page-rounded end.
            let size = (s.virtual_size as usize).div_ceil(PAGE_SIZE as usize) * PAGE_SIZE as usize;
            mapped.protect(
                start,
                size.min(len.saturating_sub(start)),
                prot(s.protection),
            )?;
        }
        // The image's CR8 reads (its IRQL checks) are emulated from now on; Drop forgets it.
        if !crate::privileged::register(mapped.base(), len) {
            return Err(LoadError::Map {
                what: "CR8 emulation (more than 64 images mapped at once)",
                errno: 0,
            });
        }
        Ok(mapped)
    }

    fn protect(&self, offset: usize, size: usize, prot: i32) -> Result<(), LoadError> {
        if size == 0 || offset >= self.len {
            return Ok(());
        }
        let p = self.base.as_ptr().wrapping_add(offset);
        // SAFETY: `[offset, offset + size)` lies inside our mapping (callers clamp `size`);
        // changing protections of our own private pages affects no other memory.
        let r = unsafe { libc::mprotect(p.cast(), size, prot) };
        if r != 0 {
            return Err(LoadError::Map {
                what: "mprotect",
                errno: errno(),
            });
        }
        Ok(())
    }

    /// The image's base address.
    pub fn base(&self) -> usize {
        self.base.as_ptr() as usize
    }

    /// The mapped length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an image has at least one page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry point's address (validated: inside an executable section).
    pub fn entry(&self) -> usize {
        self.base().wrapping_add(self.entry_rva as usize)
    }

    /// The mapped sections.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// True if `addr` lies inside an executable section of this image.
    pub fn is_code(&self, addr: usize) -> bool {
        let Some(rva) = addr.checked_sub(self.base()) else {
            return false;
        };
        self.sections
            .iter()
            .any(|s| s.protection == Protection::ReadExecute && s.contains(rva as u64))
    }
}

impl Drop for MappedImage {
    fn drop(&mut self) {
        crate::callbacks::release_range(self.base(), self.len);
        crate::privileged::unregister(self.base());
        // SAFETY: the mapping is ours (type invariant) and unmapped exactly once, here.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// Parses, validates, resolves and maps `data`: everything short of running it.
pub fn load_image(data: &[u8]) -> Result<MappedImage, LoadError> {
    let image = PeImage::parse(data)?;
    let bindings = crate::imports::resolve(image.imports())?;
    MappedImage::map(image, &bindings)
}
