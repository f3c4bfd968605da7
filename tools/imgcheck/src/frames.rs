//! Stack frames of an x64 image, from its unwind data and its prologues.
//!
//! Every x64 function that allocates stack or saves a register has a `RUNTIME_FUNCTION` in the
//! exception directory (`.pdata`), whose `UNWIND_INFO` lists what the prologue did: each
//! `UWOP_PUSH_NONVOL` is 8 bytes, `UWOP_ALLOC_SMALL` / `UWOP_ALLOC_LARGE` the `sub rsp`
//! amount. That is the frame ([`decode_unwind`]). The prologue bytes are decoded too
//! ([`prologue_alloc`]): `sub rsp, imm8/imm32`, or, for frames of a page and more, the probe
//! sequence `mov eax, N; call __chkstk; sub rsp, rax`, and both readings must agree. A leaf
//! function without `.pdata` allocates nothing (the x64 ABI requires unwind data for any
//! function that moves `rsp`).

/// `UNW_FLAG_CHAININFO`: the unwind info continues in a parent `RUNTIME_FUNCTION`.
const UNW_FLAG_CHAININFO: u8 = 0x4;

/// What one `UNWIND_INFO` says about the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unwind {
    /// `SizeOfProlog`.
    pub prolog_size: u8,
    /// Non-volatile registers pushed (`UWOP_PUSH_NONVOL`), 8 bytes each.
    pub pushes: u32,
    /// Bytes allocated with `sub rsp` (`UWOP_ALLOC_SMALL` / `UWOP_ALLOC_LARGE`), plus a machine
    /// frame if any.
    pub alloc: u32,
    /// The parent `RUNTIME_FUNCTION` (begin, end, unwind info RVA) of chained unwind info.
    pub chained: Option<(u32, u32, u32)>,
}

impl Unwind {
    /// The frame size: pushes and allocation, without the return address.
    pub fn frame(&self) -> u32 {
        self.pushes * 8 + self.alloc
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Decodes an `UNWIND_INFO` (the bytes from its start to at least its end).
pub fn decode_unwind(info: &[u8]) -> Result<Unwind, String> {
    let short = || format!("UNWIND_INFO truncated ({} bytes)", info.len());
    let header = info.get(..4).ok_or_else(short)?;
    let (version, flags) = (header[0] & 7, header[0] >> 3);
    if !(1..=2).contains(&version) {
        return Err(format!("UNWIND_INFO version {version}, expected 1 or 2"));
    }
    let count = usize::from(header[2]);
    let mut out = Unwind {
        prolog_size: header[1],
        ..Unwind::default()
    };
    let slot = |i: usize| u16_at(info, 4 + 2 * i).ok_or_else(short);
    let mut i = 0;
    while i < count {
        let code = slot(i)?;
        let (op, op_info) = ((code >> 8) & 0xF, code >> 12);
        i += match op {
            0 => {
                out.pushes += 1;
                1
            }
            1 if op_info == 0 => {
                out.alloc += u32::from(slot(i + 1)?) * 8;
                2
            }
            1 => {
                let low = u32::from(slot(i + 1)?);
                let high = u32::from(slot(i + 2)?);
                out.alloc += low | (high << 16);
                3
            }
            2 => {
                out.alloc += u32::from(op_info) * 8 + 8;
                1
            }
            3 => 1,     // UWOP_SET_FPREG
            4 | 8 => 2, // UWOP_SAVE_NONVOL, UWOP_SAVE_XMM128: into allocated space
            5 | 9 => 3, // the _FAR forms
            6 => 2,     // UWOP_EPILOG (version 2) / UWOP_SAVE_XMM (version 1)
            7 => 3,     // UWOP_SPARE_CODE / UWOP_SAVE_XMM_FAR
            10 => {
                // UWOP_PUSH_MACHFRAME: 5 or 6 quadwords.
                out.alloc += if op_info == 0 { 40 } else { 48 };
                1
            }
            _ => return Err(format!("unknown unwind operation {op} in slot {i}")),
        };
    }
    if flags & UNW_FLAG_CHAININFO != 0 {
        let at = 4 + 2 * (count + count % 2);
        out.chained = Some((
            u32_at(info, at).ok_or_else(short)?,
            u32_at(info, at + 4).ok_or_else(short)?,
            u32_at(info, at + 8).ok_or_else(short)?,
        ));
    }
    Ok(out)
}

/// How a prologue allocates its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrologAlloc {
    /// `sub rsp, N`.
    SubRsp(u32),
    /// `mov eax, N; call __chkstk; sub rsp, rax`: a frame of a page or more, probed page by
    /// page. `call` is the RVA the call goes to.
    Chkstk {
        /// The frame size in `eax`.
        size: u32,
        /// The call's target, as an RVA (`__chkstk`, if the image is consistent).
        call: u32,
    },
}

impl PrologAlloc {
    /// The bytes allocated.
    pub fn size(&self) -> u32 {
        match *self {
            PrologAlloc::SubRsp(n) | PrologAlloc::Chkstk { size: n, .. } => n,
        }
    }
}

/// Decodes the allocation of a prologue that starts at RVA `rva` with bytes `code`: it steps
/// over `push r64` (with or without REX.B) and stops at the first `sub rsp, imm8/imm32` or
/// `mov eax, imm32; call rel32; sub rsp, rax`. `None` when the prologue does something else
/// first (or allocates nothing).
pub fn prologue_alloc(code: &[u8], rva: u32) -> Option<PrologAlloc> {
    let mut i = 0;
    loop {
        match code.get(i..)? {
            [0x50..=0x57, ..] => i += 1,
            [0x41, 0x50..=0x57, ..] => i += 2,
            [0x48, 0x83, 0xEC, imm, ..] => return Some(PrologAlloc::SubRsp(u32::from(*imm))),
            [0x48, 0x81, 0xEC, a, b, c, d, ..] => {
                return Some(PrologAlloc::SubRsp(u32::from_le_bytes([*a, *b, *c, *d])))
            }
            [0xB8, a, b, c, d, 0xE8, e, f, g, h, 0x48, 0x29, 0xC4, ..] => {
                let size = u32::from_le_bytes([*a, *b, *c, *d]);
                let rel = i32::from_le_bytes([*e, *f, *g, *h]);
                // The call's target: the address after the call plus rel32.
                let after = rva.wrapping_add(u32::try_from(i).ok()? + 10);
                let call = after.wrapping_add_signed(rel);
                return Some(PrologAlloc::Chkstk { size, call });
            }
            _ => return None,
        }
    }
}

/// One function's frame, as the checks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Start RVA.
    pub begin: u32,
    /// End RVA (exclusive).
    pub end: u32,
    /// The unwind data's reading (chained parents folded in).
    pub unwind: Unwind,
    /// The prologue's reading, when it could be decoded.
    pub prolog: Option<PrologAlloc>,
}

impl Frame {
    /// The frame size in bytes (pushes and allocation, without the return address).
    pub fn bytes(&self) -> u32 {
        self.unwind.frame()
    }
}

/// Reads every `RUNTIME_FUNCTION` of the exception directory `pdata` (12 bytes each) and decodes
/// its unwind info and prologue with `at(rva)`, which returns the image bytes from an RVA to the
/// end of its section. Chained entries (function fragments) add their parent's frame.
pub fn frames<'a>(
    pdata: &[u8],
    at: &dyn Fn(u32) -> Option<&'a [u8]>,
) -> Result<Vec<Frame>, String> {
    let mut out = Vec::new();
    for entry in pdata.chunks_exact(12) {
        let (begin, end, info) = (
            u32_at(entry, 0).unwrap_or(0),
            u32_at(entry, 4).unwrap_or(0),
            u32_at(entry, 8).unwrap_or(0),
        );
        if begin == 0 && end == 0 {
            continue;
        }
        let read = |rva: u32| {
            at(rva).ok_or_else(|| format!("unwind info at RVA {rva:#x} is outside the image"))
        };
        let mut unwind =
            decode_unwind(read(info)?).map_err(|e| format!("function at RVA {begin:#x}: {e}"))?;
        let mut parent = unwind.chained;
        let mut depth = 0;
        while let Some((_, _, parent_info)) = parent {
            depth += 1;
            if depth > 32 {
                return Err(format!("function at RVA {begin:#x}: unwind chain too long"));
            }
            let p = decode_unwind(read(parent_info)?)
                .map_err(|e| format!("function at RVA {begin:#x}, chained: {e}"))?;
            unwind.pushes += p.pushes;
            unwind.alloc += p.alloc;
            parent = p.chained;
        }
        let prolog = if unwind.chained.is_none() {
            at(begin).and_then(|code| {
                let len = usize::from(unwind.prolog_size).min(code.len());
                prologue_alloc(&code[..len], begin)
            })
        } else {
            None
        };
        out.push(Frame {
            begin,
            end,
            unwind,
            prolog,
        });
    }
    Ok(out)
}
