//! The driver's 24 KiB kernel stack, and the gate every import call passes through.
//!
//! **Stack.** Driver code runs on a stack of [`KERNEL_STACK_SIZE`] bytes (the x64 kernel
//! stack) with an inaccessible guard page below it, one per host thread. [`call_driver`]
//! switches to it for every call into the image (`DriverEntry`, the unload routine, the block
//! allocator callbacks); when the driver overflows it, the fault in the guard page stops the
//! run as the kernel meets a kernel-stack overflow: `UNEXPECTED_KERNEL_MODE_TRAP` (0x7F) with
//! `EXCEPTION_DOUBLE_FAULT` (8). The `SIGSEGV` handler runs on an alternate signal stack
//! (`sigaltstack`, 64 KiB) so that it can run at all.
//!
//! **Gate.** Each routine the loader binds is reached through a small stub: it switches from
//! the driver's stack back to the harness thread's stack (the emulator's frames are not
//! Clfs.sys's, so they are not counted against the driver's 24 KiB; in the kernel the called
//! routines' frames share the driver's stack, see `docs/loader.md`), copies the register and
//! 20 stack arguments, and calls the dispatcher (`gate.rs`), which checks the routine's maximum IRQL, traces the
//! call, injects low-resources failures and calls the routine. A call made while no driver
//! stack is active (a callback the emulator runs on the harness stack) stays on its stack.
//!
//! The thread-local state the assembly needs lives in `.tbss` and is addressed with the
//! local-exec TLS model (`fs:[sym@TPOFF]`): the harness must be linked into an executable
//! (tests, `clfs-hlk`), not into a shared library.

use core::cell::RefCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The x64 kernel stack: 24 KiB (`KERNEL_STACK_SIZE` in the WDK).
pub const KERNEL_STACK_SIZE: usize = 24 * 1024;
/// The page size.
const PAGE: usize = 4096;
/// The size of the alternate signal stack.
const ALT_STACK: usize = 64 * 1024;

// The gate and the driver-call trampoline.
//
// TLS (local-exec): `clfs_gate_hrsp` = the harness RSP to switch back to (0 = no driver code
// is running on this thread's driver stack), `clfs_gate_lo` / `clfs_gate_hi` = the driver
// stack's usable range.
//
// `clfs_harness_gate` (entered by a stub with RAX = the routine's index, the driver's win64
// arguments in RCX/RDX/R8/R9 and on its stack): builds a `Call` record (index, the four
// register arguments, the caller's RSP, 20 stack arguments) on the harness stack when the
// caller runs on the driver stack (else below its own RSP), saves what win64 preserves and
// SysV does not (RSI, RDI, XMM6-XMM15), calls the SysV dispatcher with a pointer to the
// record, restores them and returns the dispatcher's RAX to the driver on its own stack.
//
// `clfs_harness_call_driver(f, a0, a1, a2, a3, top)` (SysV): saves the harness RSP in TLS,
// switches to `top` and calls the win64 function `f(a0, a1, a2, a3)`, then switches back.
//
// `clfs_harness_call_win64(f, call)` (SysV): calls the win64 function `f` with the arguments
// of the `Call` record (4 in registers, 20 on the stack after the 32-byte home area).
core::arch::global_asm!(
    ".section .tbss,\"awT\",@nobits",
    ".p2align 3",
    "clfs_gate_hrsp: .zero 8",
    "clfs_gate_lo: .zero 8",
    "clfs_gate_hi: .zero 8",
    ".text",
    ".p2align 4",
    ".globl clfs_harness_gate",
    ".hidden clfs_harness_gate",
    ".type clfs_harness_gate,@function",
    "clfs_harness_gate:",
    "    mov r10, rsp",
    "    mov r11, qword ptr fs:[clfs_gate_hrsp@TPOFF]",
    "    test r11, r11",
    "    jz 1f",
    "    cmp r10, qword ptr fs:[clfs_gate_lo@TPOFF]",
    "    jb 1f",
    "    cmp r10, qword ptr fs:[clfs_gate_hi@TPOFF]",
    "    jb 2f",
    "1:",
    "    lea r11, [r10 - 64]",
    "2:",
    "    and r11, -16",
    "    sub r11, 384",
    "    mov rsp, r11",
    "    mov [rsp + 208], rsi",
    "    mov [rsp + 216], rdi",
    "    movups [rsp + 224], xmm6",
    "    movups [rsp + 240], xmm7",
    "    movups [rsp + 256], xmm8",
    "    movups [rsp + 272], xmm9",
    "    movups [rsp + 288], xmm10",
    "    movups [rsp + 304], xmm11",
    "    movups [rsp + 320], xmm12",
    "    movups [rsp + 336], xmm13",
    "    movups [rsp + 352], xmm14",
    "    movups [rsp + 368], xmm15",
    "    mov [rsp], rax",
    "    mov [rsp + 8], rcx",
    "    mov [rsp + 16], rdx",
    "    mov [rsp + 24], r8",
    "    mov [rsp + 32], r9",
    "    mov [rsp + 40], r10",
    "    .set clfs_i, 0",
    "    .rept 20",
    "    mov rax, [r10 + 40 + 8 * clfs_i]",
    "    mov [rsp + 48 + 8 * clfs_i], rax",
    "    .set clfs_i, clfs_i + 1",
    "    .endr",
    "    mov rdi, rsp",
    "    call {dispatch}",
    "    mov rsi, [rsp + 208]",
    "    mov rdi, [rsp + 216]",
    "    movups xmm6, [rsp + 224]",
    "    movups xmm7, [rsp + 240]",
    "    movups xmm8, [rsp + 256]",
    "    movups xmm9, [rsp + 272]",
    "    movups xmm10, [rsp + 288]",
    "    movups xmm11, [rsp + 304]",
    "    movups xmm12, [rsp + 320]",
    "    movups xmm13, [rsp + 336]",
    "    movups xmm14, [rsp + 352]",
    "    movups xmm15, [rsp + 368]",
    "    mov rsp, [rsp + 40]",
    "    ret",
    ".size clfs_harness_gate, . - clfs_harness_gate",
    "",
    ".p2align 4",
    ".globl clfs_harness_call_driver",
    ".hidden clfs_harness_call_driver",
    ".type clfs_harness_call_driver,@function",
    "clfs_harness_call_driver:",
    "    push rbp",
    "    mov rbp, rsp",
    "    push rbx",
    "    push r12",
    "    mov rbx, r9",
    "    mov r12, qword ptr fs:[clfs_gate_hrsp@TPOFF]",
    "    mov qword ptr fs:[clfs_gate_hrsp@TPOFF], rsp",
    "    mov rax, rdi",
    "    mov r10, rcx",
    "    mov r11, r8",
    "    mov rcx, rsi",
    "    mov r8, r10",
    "    mov r9, r11",
    "    mov rsp, rbx",
    "    and rsp, -16",
    "    sub rsp, 32",
    "    call rax",
    "    mov rsp, qword ptr fs:[clfs_gate_hrsp@TPOFF]",
    "    mov qword ptr fs:[clfs_gate_hrsp@TPOFF], r12",
    "    pop r12",
    "    pop rbx",
    "    pop rbp",
    "    ret",
    ".size clfs_harness_call_driver, . - clfs_harness_call_driver",
    "",
    ".p2align 4",
    ".globl clfs_harness_call_win64",
    ".hidden clfs_harness_call_win64",
    ".type clfs_harness_call_win64,@function",
    "clfs_harness_call_win64:",
    "    push rbp",
    "    mov rbp, rsp",
    "    sub rsp, 192",
    "    mov rax, rdi",
    "    mov r10, rsi",
    "    .set clfs_j, 0",
    "    .rept 20",
    "    mov r11, [r10 + 48 + 8 * clfs_j]",
    "    mov [rsp + 32 + 8 * clfs_j], r11",
    "    .set clfs_j, clfs_j + 1",
    "    .endr",
    "    mov rcx, [r10 + 8]",
    "    mov rdx, [r10 + 16]",
    "    mov r8, [r10 + 24]",
    "    mov r9, [r10 + 32]",
    "    call rax",
    "    mov rsp, rbp",
    "    pop rbp",
    "    ret",
    ".size clfs_harness_call_win64, . - clfs_harness_call_win64",
    "",
    ".p2align 4",
    ".globl clfs_harness_gate_set_range",
    ".hidden clfs_harness_gate_set_range",
    ".type clfs_harness_gate_set_range,@function",
    "clfs_harness_gate_set_range:",
    "    mov qword ptr fs:[clfs_gate_lo@TPOFF], rdi",
    "    mov qword ptr fs:[clfs_gate_hi@TPOFF], rsi",
    "    ret",
    ".size clfs_harness_gate_set_range, . - clfs_harness_gate_set_range",
    dispatch = sym super::gate::dispatch,
);

extern "C" {
    /// The gate (assembly above; entered by a stub, not callable from Rust).
    pub(crate) fn clfs_harness_gate();
    /// Calls the win64 `f(a0, a1, a2, a3)` on the stack at `top` (assembly above).
    fn clfs_harness_call_driver(f: usize, a0: u64, a1: u64, a2: u64, a3: u64, top: usize) -> u64;
    /// Calls the win64 `f` with the arguments of `call` (assembly above).
    pub(crate) fn clfs_harness_call_win64(f: usize, call: *const super::gate::Call) -> u64;
    /// Sets this thread's driver stack range for the gate (assembly above).
    fn clfs_harness_gate_set_range(lo: usize, hi: usize);
}

/// How many driver stacks (threads) can exist at once with overflow reporting.
const SLOTS: usize = 64;
/// The guard page of each registered driver stack (0 = a free slot).
static GUARDS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// True if `addr` lies in the guard page of a driver stack.
pub(crate) fn in_guard(addr: usize) -> bool {
    GUARDS.iter().any(|g| {
        let g = g.load(Ordering::Acquire);
        g != 0 && g <= addr && addr < g + PAGE
    })
}

/// One thread's driver stack: `[guard page][24 KiB][one page of slack above the top, which
/// the gate reads when it copies stack arguments]`, and the alternate signal stack.
struct DriverStack {
    map: usize,
    map_len: usize,
    alt: usize,
    /// The driver RSPs of the gate calls in progress (innermost last): a nested call into the
    /// driver continues below the innermost.
    nested: Vec<usize>,
}

impl DriverStack {
    fn new() -> Option<DriverStack> {
        let map_len = PAGE + KERNEL_STACK_SIZE + PAGE;
        // SAFETY: a fresh anonymous private mapping.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED || p.is_null() {
            return None;
        }
        let map = p as usize;
        // SAFETY: the first page of our own mapping becomes the guard page.
        unsafe { libc::mprotect(p, PAGE, libc::PROT_NONE) };
        for g in &GUARDS {
            if g.compare_exchange(0, map, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                break;
            }
        }
        // SAFETY: a fresh anonymous private mapping for the alternate signal stack.
        let alt = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                ALT_STACK,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let alt = if alt == libc::MAP_FAILED {
            0
        } else {
            let ss = libc::stack_t {
                ss_sp: alt,
                ss_flags: 0,
                ss_size: ALT_STACK,
            };
            // SAFETY: a valid stack_t describing our own mapping; it replaces this thread's
            // alternate signal stack (std's, if any, stays allocated and is freed by std).
            unsafe { libc::sigaltstack(&ss, core::ptr::null_mut()) };
            alt as usize
        };
        // SAFETY: plain stores to this thread's TLS.
        unsafe { clfs_harness_gate_set_range(map + PAGE, map + PAGE + KERNEL_STACK_SIZE) };
        Some(DriverStack {
            map,
            map_len,
            alt,
            nested: Vec::new(),
        })
    }

    fn top(&self) -> usize {
        self.map + PAGE + KERNEL_STACK_SIZE
    }
}

impl Drop for DriverStack {
    fn drop(&mut self) {
        // SAFETY: plain stores to this thread's TLS.
        unsafe { clfs_harness_gate_set_range(0, 0) };
        for g in &GUARDS {
            let _ = g.compare_exchange(self.map, 0, Ordering::AcqRel, Ordering::Acquire);
        }
        // SAFETY: our own mapping, unmapped once; no driver code runs on it any more (the
        // thread is exiting).
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.map_len) };
        if self.alt != 0 {
            let ss = libc::stack_t {
                ss_sp: core::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disables this thread's alternate stack before its memory goes.
            unsafe { libc::sigaltstack(&ss, core::ptr::null_mut()) };
            // SAFETY: our own mapping, unmapped once.
            unsafe { libc::munmap(self.alt as *mut libc::c_void, ALT_STACK) };
        }
    }
}

thread_local! {
    static STACK: RefCell<Option<DriverStack>> = const { RefCell::new(None) };
}

/// Notes that a gate call left the driver stack at `rsp` (see [`DriverStack::nested`]);
/// false (nothing noted) if `rsp` is not on this thread's driver stack.
pub(crate) fn push_nested(rsp: usize) -> bool {
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        match s.as_mut() {
            Some(s) if s.map + PAGE <= rsp && rsp < s.top() => {
                s.nested.push(rsp);
                true
            }
            _ => false,
        }
    })
}

/// Ends the innermost gate call.
pub(crate) fn pop_nested() {
    STACK.with(|s| {
        if let Some(s) = s.borrow_mut().as_mut() {
            s.nested.pop();
        }
    });
}

/// The driver routine a call into the image runs, for the IRQL-on-return check of
/// [`call_driver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Routine {
    /// `DriverEntry`.
    DriverEntry,
    /// The `DriverUnload` routine.
    DriverUnload,
    /// A dispatch routine, for `IRP_MJ` `major`, called for the device object `device`.
    Dispatch {
        /// The major function code.
        major: u8,
        /// The device object's address.
        device: usize,
    },
    /// The `PALLOCATE_FUNCTION` block allocator callback of a marshalling area.
    AllocateCallback,
    /// The `PFREE_FUNCTION` block allocator callback of a marshalling area.
    FreeCallback,
    /// A CLFS management callback (`AdvanceTail`, `LogGrowthComplete`, `LogUnpinned`).
    Management(&'static str),
}

impl std::fmt::Display for Routine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Routine::DriverEntry => f.write_str("DriverEntry"),
            Routine::DriverUnload => f.write_str("the DriverUnload routine"),
            Routine::Dispatch { major, .. } => write!(
                f,
                "the dispatch routine for {} ({major:#04x})",
                major_name(*major)
            ),
            Routine::AllocateCallback => {
                f.write_str("the marshalling area's allocate callback (PALLOCATE_FUNCTION)")
            }
            Routine::FreeCallback => {
                f.write_str("the marshalling area's free callback (PFREE_FUNCTION)")
            }
            Routine::Management(name) => write!(f, "the CLFS management callback {name}"),
        }
    }
}

/// The `IRP_MJ_*` name of a major function code.
pub fn major_name(major: u8) -> &'static str {
    match major {
        0x00 => "IRP_MJ_CREATE",
        0x02 => "IRP_MJ_CLOSE",
        0x03 => "IRP_MJ_READ",
        0x04 => "IRP_MJ_WRITE",
        0x0e => "IRP_MJ_DEVICE_CONTROL",
        0x0f => "IRP_MJ_INTERNAL_DEVICE_CONTROL",
        0x10 => "IRP_MJ_SHUTDOWN",
        0x12 => "IRP_MJ_CLEANUP",
        _ => "IRP_MJ_?",
    }
}

/// Calls the image's win64 function `f(a0, a1, a2, a3)` on this thread's 24 KiB driver stack
/// (below the driver's frames if the driver is already running, i.e. from a callback), as
/// driver `driver` (its pool blocks are attributed to it; 0 keeps the current one).
///
/// `routine` says which driver routine `f` is. With [`super::Settings::irql_checks`], the
/// routine must return at the IRQL it was called at; otherwise the run stops (see
/// [`irql_return_stop`]): a dispatch routine with `DRIVER_VERIFIER_IOMANAGER_VIOLATION`
/// (0xC9, parameter 1 `0x05`), any other routine with `IRQL_UNEXPECTED_VALUE` (0xC8).
///
/// # Safety
/// `f` is a win64 function of the image taking (up to) four integer or pointer arguments;
/// this runs the image's code in this process.
pub unsafe fn call_driver(driver: u64, f: usize, args: [u64; 4], routine: Routine) -> u64 {
    let before = clfs_emu::current_irql();
    // SAFETY: the caller's contract.
    let r = unsafe { call_driver_unchecked(driver, f, args) };
    let after = clfs_emu::current_irql();
    if after != before && super::settings().irql_checks {
        irql_return_stop(routine, f, args[0], before, after);
    }
    r
}

/// Stops the run for `routine` (the driver's function at `f`, first argument `arg0`) having
/// returned at IRQL `after` when it was called at `before`.
///
/// A dispatch routine: `DRIVER_VERIFIER_IOMANAGER_VIOLATION` (0xC9) with parameter 1 `0x05`
/// ("the IRQL changed during a call to the driver dispatch routine"), parameters 2-4 the
/// device object, the IRQL before and after, as I/O Verification reports it. Any other
/// routine: `IRQL_UNEXPECTED_VALUE` (0xC8), parameter 1 `(after << 16) | (before << 8) | 2`
/// (its documented layout; unique value 2 is a callout), parameters 2-3 the routine and its
/// first argument.
pub fn irql_return_stop(routine: Routine, f: usize, arg0: u64, before: u8, after: u8) -> ! {
    use super::ddi::irql_name;
    let why = format!(
        "{routine} at {} returned at IRQL {after} ({}), but was called at IRQL {before} ({}): \
         a driver routine must return at the IRQL it was called at (a spin lock still held, \
         or a KeRaiseIrql not undone)",
        super::describe_code_address(f),
        irql_name(after),
        irql_name(before),
    );
    match routine {
        Routine::Dispatch { device, .. } => super::stop(
            0xC9,
            [0x05, device, usize::from(before), usize::from(after)],
            &format!("I/O verification: {why}"),
        ),
        _ => super::stop(
            0xC8,
            [
                (usize::from(after) << 16) | (usize::from(before) << 8) | 2,
                f,
                arg0 as usize,
                0,
            ],
            &why,
        ),
    }
}

/// [`call_driver`] without the IRQL-on-return check.
///
/// # Safety
/// As [`call_driver`].
unsafe fn call_driver_unchecked(driver: u64, f: usize, args: [u64; 4]) -> u64 {
    let top = STACK.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = DriverStack::new();
        }
        let s = s.as_ref()?;
        Some(match s.nested.last() {
            // Below the driver's frames (and the return address at `rsp`).
            Some(&rsp) => (rsp - 64) & !15,
            None => s.top(),
        })
    });
    let _current = (driver != 0).then(|| super::enter_driver(driver));
    let [a0, a1, a2, a3] = args;
    match top {
        // SAFETY: `top` is the top of (the free part of) this thread's driver stack, which
        // stays mapped while the thread lives; `f` is the caller's function.
        Some(top) => unsafe { clfs_harness_call_driver(f, a0, a1, a2, a3, top) },
        None => {
            // No stack could be mapped: run on the current stack (unchecked).
            // SAFETY: `f` has this type (caller).
            let f = unsafe {
                core::mem::transmute::<usize, unsafe extern "win64" fn(u64, u64, u64, u64) -> u64>(
                    f,
                )
            };
            // SAFETY: the caller's function with its arguments.
            unsafe { f(a0, a1, a2, a3) }
        }
    }
}

/// Stops the run for a driver stack overflow (a fault at `addr` in a guard page, by the
/// instruction at `ip`, in a routine called from the driver at `caller` if `ip` is not the
/// driver's: `__chkstk`'s probe).
pub(crate) fn overflow_stop(addr: usize, ip: usize, caller: Option<usize>) -> ! {
    let at = match caller {
        Some(c) if crate::privileged::image_containing(ip).is_none() => format!(
            "{} (a routine called from {})",
            super::describe_code_address(ip),
            super::describe_code_address(c)
        ),
        _ => super::describe_code_address(ip),
    };
    super::stop(
        0x7F,
        [8, 0, addr, ip],
        &format!(
            "EXCEPTION_DOUBLE_FAULT: kernel stack overflow: the driver used more than its {} KiB kernel stack (fault at {addr:#x} in the guard page, by the instruction at {at})",
            KERNEL_STACK_SIZE / 1024,
        ),
    )
}
