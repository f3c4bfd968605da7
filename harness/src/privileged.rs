//! The one privileged instruction a driver image may execute here: `mov r64, cr8`.
//!
//! On x64 the IRQL *is* CR8, and wdm.h's `KeGetCurrentIrql` is `__readcr8()`, inlined into
//! the driver; `clfs` does the same (`clfs::sys`), so a driver built with it reads CR8 before
//! every CLFS call instead of importing `KeGetCurrentIrql`. At CPL 3 that instruction raises
//! #GP, which Linux delivers as `SIGSEGV`. While an image is mapped, this module's `SIGSEGV`
//! handler decodes the faulting instruction: if it is `mov r64, cr8` (REX.R set, `0F 20 /r`
//! with ModRM mod = 11 and reg = 0) inside a mapped image, it writes the faulting thread's
//! simulated IRQL (`clfs_emu::current_irql`) to the destination register and resumes after
//! the instruction. Any other fault goes to the handler installed before this one (Rust's
//! stack-overflow handler, libFuzzer's, or the default action), so real crashes still crash.
//!
//! Everything the handler touches is async-signal-safe: atomics, the faulting thread's
//! constant-initialised IRQL cell, and the signal context.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How many images can be mapped at once with CR8 emulation.
const SLOTS: usize = 64;
/// `[start, end)` of each mapped image; a start of 0 is a free slot.
static STARTS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static ENDS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// The `SIGSEGV` action that was installed before ours (written once, before ours is
/// installed).
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
/// The same for `SIGILL`: under valgrind, which does not decode `mov r64, cr8`, the CR8 read
/// arrives as `SIGILL` instead (so that the image can run under callgrind).
static PREVIOUS_ILL: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the handler (once per process) and registers `[start, start + len)` as image
/// memory whose `mov r64, cr8` instructions are emulated. False if every slot is taken (the
/// image then runs without the emulation, and a CR8 read in it crashes the process).
pub(crate) fn register(start: usize, len: usize) -> bool {
    install();
    let end = start.saturating_add(len);
    for (s, e) in STARTS.iter().zip(&ENDS) {
        if s.compare_exchange(0, start, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            e.store(end, Ordering::Release);
            return true;
        }
    }
    false
}

/// Forgets the image at `start` (before it is unmapped).
pub(crate) fn unregister(start: usize) {
    for (s, e) in STARTS.iter().zip(&ENDS) {
        if s.load(Ordering::Acquire) == start {
            e.store(0, Ordering::Release);
            s.store(0, Ordering::Release);
            return;
        }
    }
}

/// True if `[addr, addr + n)` lies inside a registered image.
fn in_image(addr: usize, n: usize) -> bool {
    let Some(last) = addr.checked_add(n) else {
        return false;
    };
    STARTS.iter().zip(&ENDS).any(|(s, e)| {
        let s = s.load(Ordering::Acquire);
        s != 0 && s <= addr && last <= e.load(Ordering::Acquire)
    })
}

/// The start of the registered image containing `addr`, if any.
pub(crate) fn image_containing(addr: usize) -> Option<usize> {
    STARTS.iter().zip(&ENDS).find_map(|(s, e)| {
        let s = s.load(Ordering::Acquire);
        (s != 0 && s <= addr && addr < e.load(Ordering::Acquire)).then_some(s)
    })
}

fn install() {
    PREVIOUS.get_or_init(|| install_for(libc::SIGSEGV, on_segv as *const () as usize));
    PREVIOUS_ILL.get_or_init(|| install_for(libc::SIGILL, on_ill as *const () as usize));
}

/// Installs `handler` for `sig`; returns the previous action.
fn install_for(sig: c_int, handler: usize) -> libc::sigaction {
    {
        // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, no flags, empty mask).
        let mut new: libc::sigaction = unsafe { core::mem::zeroed() };
        new.sa_sigaction = handler;
        new.sa_flags = libc::SA_SIGINFO
            | if sig == libc::SIGSEGV {
                libc::SA_ONSTACK
            } else {
                0
            };
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: `new.sa_mask` is a valid sigset_t to initialise.
        unsafe { libc::sigemptyset(&mut new.sa_mask) };
        // SAFETY: valid pointers to a complete action and to room for the old one. The old
        // action is stored before any CR8 read can fault: images register only after this
        // returns, and nothing runs image code before it is registered.
        unsafe { libc::sigaction(sig, &new, &mut old) };
        old
    }
}

/// The general-purpose registers in the x86 encoding order (0 = RAX ... 15 = R15), as
/// indices into `mcontext_t::gregs`.
const GREGS: [c_int; 16] = [
    libc::REG_RAX,
    libc::REG_RCX,
    libc::REG_RDX,
    libc::REG_RBX,
    libc::REG_RSP,
    libc::REG_RBP,
    libc::REG_RSI,
    libc::REG_RDI,
    libc::REG_R8,
    libc::REG_R9,
    libc::REG_R10,
    libc::REG_R11,
    libc::REG_R12,
    libc::REG_R13,
    libc::REG_R14,
    libc::REG_R15,
];

/// Decodes `mov r64, cr8` at `code` and returns the destination register's number.
fn decode_mov_from_cr8(code: [u8; 4]) -> Option<usize> {
    let [rex, op0, op1, modrm] = code;
    // REX = 0100WRXB with R = 1 (CR8 rather than CR0); 0F 20 = MOV r64, CRn; ModRM mod = 11,
    // reg = 000 (with REX.R: CR8), rm = the destination (extended by REX.B).
    (rex & 0xF4 == 0x44 && op0 == 0x0F && op1 == 0x20 && modrm & 0xF8 == 0xC0)
        .then_some(usize::from(modrm & 7) | (usize::from(rex & 1) << 3))
}

/// Emulates the faulting instruction if it is a CR8 read in a mapped image.
///
/// # Safety
/// `ctx` is the `ucontext_t` the kernel passed to a `SIGSEGV` handler.
unsafe fn emulate(ctx: *mut c_void) -> bool {
    let uc = ctx.cast::<libc::ucontext_t>();
    if uc.is_null() {
        return false;
    }
    // SAFETY: the kernel's signal frame holds a valid ucontext_t for the faulting thread.
    let gregs = unsafe { &mut (*uc).uc_mcontext.gregs };
    let Some(&rip) = gregs.get(libc::REG_RIP as usize) else {
        return false;
    };
    let rip = rip as usize;
    if !in_image(rip, 4) {
        return false;
    }
    // SAFETY: the four bytes lie inside a registered image mapping (checked above), whose
    // pages are all at least readable while it is registered.
    let code = unsafe { core::ptr::read_unaligned(rip as *const [u8; 4]) };
    let Some(dst) = decode_mov_from_cr8(code) else {
        return false;
    };
    let Some(&reg) = GREGS.get(dst) else {
        return false;
    };
    let irql = clfs_emu::current_irql();
    if let Some(r) = gregs.get_mut(reg as usize) {
        // `mov r64, cr8` writes the whole register; the IRQL is CR8's low 4 bits.
        *r = i64::from(irql);
    }
    if let Some(r) = gregs.get_mut(libc::REG_RIP as usize) {
        *r = r.wrapping_add(4);
    }
    true
}

extern "C" fn on_segv(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel calls this as an SA_SIGINFO handler: `ctx` is its ucontext_t.
    if unsafe { emulate(ctx) } {
        return;
    }
    // A fault in special pool or in a driver stack's guard page stops the run with the
    // verifier's report (and does not return); anything else goes on to the previous handler.
    // SAFETY: the kernel's arguments to this SA_SIGINFO handler.
    unsafe { crate::verifier::on_fault(info, ctx) };
    if let Some(prev) = PREVIOUS.get() {
        // SAFETY: the kernel's arguments, passed on.
        unsafe { chain(prev, sig, info, ctx) };
    }
}

extern "C" fn on_ill(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel (or valgrind) calls this as an SA_SIGINFO handler.
    if unsafe { emulate(ctx) } {
        return;
    }
    if let Some(prev) = PREVIOUS_ILL.get() {
        // SAFETY: the kernel's arguments, passed on.
        unsafe { chain(prev, sig, info, ctx) };
    }
}

/// Hands a signal this module does not handle to the action installed before it.
///
/// # Safety
/// The arguments of an SA_SIGINFO handler invocation for `sig`.
unsafe fn chain(prev: &libc::sigaction, sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    match prev.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => {
            // Put the previous action back and return: the instruction faults again and
            // takes it (the default: the process dies with SIGSEGV).
            // SAFETY: a valid action, copied from what sigaction returned.
            unsafe { libc::sigaction(sig, prev, core::ptr::null_mut()) };
        }
        h if prev.sa_flags & libc::SA_SIGINFO != 0 => {
            // SAFETY: an SA_SIGINFO handler installed by someone else has this type.
            let f = unsafe {
                core::mem::transmute::<usize, extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void)>(
                    h,
                )
            };
            f(sig, info, ctx);
        }
        h => {
            // SAFETY: a plain handler installed by someone else has this type.
            let f = unsafe { core::mem::transmute::<usize, extern "C" fn(c_int)>(h) };
            f(sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_cr8_reads_into_every_register_and_nothing_else() {
        assert_eq!(decode_mov_from_cr8([0x44, 0x0F, 0x20, 0xC0]), Some(0)); // mov rax, cr8
        assert_eq!(decode_mov_from_cr8([0x44, 0x0F, 0x20, 0xC1]), Some(1)); // mov rcx, cr8
        assert_eq!(decode_mov_from_cr8([0x45, 0x0F, 0x20, 0xC1]), Some(9)); // mov r9, cr8
        assert_eq!(decode_mov_from_cr8([0x4D, 0x0F, 0x20, 0xC7]), Some(15)); // REX.W: r15
        assert_eq!(decode_mov_from_cr8([0x0F, 0x20, 0xC0, 0x90]), None); // mov rax, cr0
        assert_eq!(decode_mov_from_cr8([0x44, 0x0F, 0x22, 0xC0]), None); // mov cr8, rax
        assert_eq!(decode_mov_from_cr8([0x44, 0x0F, 0x20, 0xD8]), None); // mov rax, cr11
        assert_eq!(decode_mov_from_cr8([0x44, 0x0F, 0x20, 0x00]), None); // a memory operand
    }

    #[test]
    fn image_ranges_are_registered_and_forgotten() {
        let base = 0x7000_0000_0000;
        assert!(register(base, 0x5000));
        assert!(in_image(base, 4));
        assert!(in_image(base + 0x4FFC, 4));
        assert!(
            !in_image(base + 0x4FFD, 4),
            "the last bytes must lie inside"
        );
        assert!(!in_image(base - 1, 4));
        unregister(base);
        assert!(!in_image(base, 4));
    }
}
