//! Driver Verifier on the host: the checks the loader applies to the driver image it runs.
//!
//! * [`pool`]: special pool (every `ExAllocatePool2` / `ExAllocatePoolWithTag` block on its
//!   own pages with a guard page, freed blocks held inaccessible in a quarantine) and pool
//!   tracking (leaks at unload by tag and size; zero-size allocations, wrong-tag frees, double
//!   frees and frees of foreign pointers stop the run).
//!
//! * [`stack`]: the 24 KiB kernel stack, and the IRQL every call into the image returns at.
//! * [`ddi`]: each routine's maximum IRQL; [`handles`]: CLFS objects used after release.
//!
//! A *stop* is this harness's bugcheck: one `*** STOP: 0x........ (NAME) ...` line on stderr
//! with the four parameters, then the process aborts, as the machine would stop. `clfs-hlk`
//! runs every test in a child process, so a stop fails that test with the line as its reason.
//!
//! The settings are process-wide ([`Settings`], [`configure`]); the default turns every check
//! on. See `docs/loader.md` ("Driver Verifier checks") for each check beside its Driver
//! Verifier counterpart, and for what is not covered.

pub mod ddi;
pub(crate) mod gate;
pub mod handles;
pub mod lowres;
pub mod pool;
pub mod stack;
pub mod trace;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The verifier settings (process-wide).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Special pool: each block on its own pages with a guard page; freed blocks quarantined.
    /// Off: blocks come from the host heap (still tracked).
    pub special_pool: bool,
    /// Align blocks to the start of their page (a guard page *before* them catches underruns)
    /// instead of to the end (the guard page after catches overruns).
    pub align_start: bool,
    /// How many freed blocks are kept inaccessible before their pages are returned.
    pub quarantine: usize,
    /// Stop at unload (and after a failed `DriverEntry`) when the driver leaves pool
    /// allocations behind (`0xC4`, parameter 1 `0x62`).
    pub leak_stop: bool,
    /// Check every import call against the routine's maximum IRQL, and every call into the
    /// image for the IRQL it returns at.
    pub irql_checks: bool,
    /// Stop a CLFS call that passes an object the driver released ([`handles`]).
    pub handle_checks: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            special_pool: true,
            align_start: false,
            quarantine: 256,
            leak_stop: true,
            irql_checks: true,
            handle_checks: true,
        }
    }
}

static SPECIAL_POOL: AtomicBool = AtomicBool::new(true);
static ALIGN_START: AtomicBool = AtomicBool::new(false);
static QUARANTINE: AtomicUsize = AtomicUsize::new(256);
static LEAK_STOP: AtomicBool = AtomicBool::new(true);
static IRQL_CHECKS: AtomicBool = AtomicBool::new(true);
static HANDLE_CHECKS: AtomicBool = AtomicBool::new(true);

/// Applies `s` to every driver loaded from now on (and to the pool blocks allocated from now
/// on).
pub fn configure(s: Settings) {
    SPECIAL_POOL.store(s.special_pool, Ordering::Relaxed);
    ALIGN_START.store(s.align_start, Ordering::Relaxed);
    QUARANTINE.store(s.quarantine, Ordering::Relaxed);
    LEAK_STOP.store(s.leak_stop, Ordering::Relaxed);
    IRQL_CHECKS.store(s.irql_checks, Ordering::Relaxed);
    HANDLE_CHECKS.store(s.handle_checks, Ordering::Relaxed);
}

/// The current settings.
pub fn settings() -> Settings {
    Settings {
        special_pool: SPECIAL_POOL.load(Ordering::Relaxed),
        align_start: ALIGN_START.load(Ordering::Relaxed),
        quarantine: QUARANTINE.load(Ordering::Relaxed),
        leak_stop: LEAK_STOP.load(Ordering::Relaxed),
        irql_checks: IRQL_CHECKS.load(Ordering::Relaxed),
        handle_checks: HANDLE_CHECKS.load(Ordering::Relaxed),
    }
}

thread_local! {
    /// The driver whose code runs on this thread (0 = none): its pool blocks are attributed
    /// to it.
    static CURRENT_DRIVER: Cell<u64> = const { Cell::new(0) };
}

/// The driver whose code runs on this thread (0 = none).
pub fn current_driver() -> u64 {
    CURRENT_DRIVER.with(Cell::get)
}

/// Makes `id` the current driver of this thread until the guard drops.
pub(crate) fn enter_driver(id: u64) -> DriverGuard {
    DriverGuard(CURRENT_DRIVER.with(|c| c.replace(id)))
}

/// Restores the previous current driver (see [`enter_driver`]).
pub(crate) struct DriverGuard(u64);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        CURRENT_DRIVER.with(|c| c.set(self.0));
    }
}

/// The name of a stop code.
pub fn stop_name(code: u32) -> &'static str {
    match code {
        0x0A => "IRQL_NOT_LESS_OR_EQUAL",
        0x19 => "BAD_POOL_HEADER",
        0x7F => "UNEXPECTED_KERNEL_MODE_TRAP",
        0xC1 => "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION",
        0xC2 => "BAD_POOL_CALLER",
        0xC4 => "DRIVER_VERIFIER_DETECTED_VIOLATION",
        0xC8 => "IRQL_UNEXPECTED_VALUE",
        0xC9 => "DRIVER_VERIFIER_IOMANAGER_VIOLATION",
        0xCC => "PAGE_FAULT_IN_FREED_SPECIAL_POOL",
        0xCD => "PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
        0xD5 => "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL",
        0xD6 => "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION",
        _ => "BUGCHECK",
    }
}

/// Stops the run: prints `*** STOP: 0x<code> (<NAME>) <why> [p1, p2, p3, p4]` to stderr and
/// aborts the process, as the kernel stops the machine.
pub fn stop(code: u32, params: [usize; 4], why: &str) -> ! {
    let [p1, p2, p3, p4] = params;
    let line = format!(
        "*** STOP: 0x{code:08X} ({}) {why} [0x{p1:X}, 0x{p2:X}, 0x{p3:X}, 0x{p4:X}]\n",
        stop_name(code)
    );
    // Straight to fd 2: the test harness's output capture must not swallow the last words.
    // SAFETY: writes `line`'s bytes, which are valid for its length.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
    std::process::abort()
}

/// Renders a pool tag as its four characters and hex value: `'Smpl' (0x6C706D53)`.
pub fn tag_name(tag: u32) -> String {
    let s: String = tag
        .to_le_bytes()
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                char::from(c)
            } else {
                '.'
            }
        })
        .collect();
    format!("'{s}' (0x{tag:08X})")
}

/// `addr` as `<image>+0x<rva>` when it lies in a mapped driver image, else as an address.
pub fn describe_code_address(addr: usize) -> String {
    match crate::privileged::image_containing(addr) {
        Some(base) => format!("image+{:#x}", addr - base),
        None => format!("{addr:#x} (outside the image)"),
    }
}

/// Called by the `SIGSEGV` handler for a fault it does not emulate: a fault in special pool
/// or in a driver stack's guard page stops the run with its report; any other fault returns
/// and takes the previous handler.
///
/// # Safety
/// `info` and `ctx` are what the kernel passed to an `SA_SIGINFO` handler of `SIGSEGV`.
pub(crate) unsafe fn on_fault(info: *mut libc::siginfo_t, ctx: *mut core::ffi::c_void) {
    if info.is_null() || ctx.is_null() {
        return;
    }
    // SAFETY: a SIGSEGV siginfo_t from the kernel (non-null, checked).
    let info = unsafe { &*info };
    // SAFETY: for SIGSEGV, si_addr is the faulting address.
    let addr = unsafe { info.si_addr() } as usize;
    let uc = ctx.cast::<libc::ucontext_t>();
    // SAFETY: the kernel's signal frame holds a valid ucontext_t for the faulting thread.
    let gregs = unsafe { &(*uc).uc_mcontext.gregs };
    let reg = |r: libc::c_int| gregs.get(r as usize).map_or(0, |v| *v as usize);
    let ip = reg(libc::REG_RIP);
    let sp = reg(libc::REG_RSP);
    // Page-fault error code: bit 1 set = the access was a write.
    let write = reg(libc::REG_ERR) & 2 != 0;
    if stack::in_guard(addr) {
        // SAFETY: `sp` is the faulting thread's stack pointer, on its driver stack (above the
        // guard page; the slack page above the stack's top covers the 512 bytes read).
        let caller = unsafe { caller_from_stack(sp) };
        stack::overflow_stop(addr, ip, caller);
    }
    if let Some(fault) = pool::classify(addr) {
        // SAFETY: `sp` is the faulting thread's stack pointer; caller_from_stack reads only
        // mapped stack memory (see there).
        let caller = unsafe { caller_from_stack(sp) };
        pool::fault_stop(fault, addr, ip, caller, write);
    }
}

/// The first return address into a driver image among the 64 quadwords at `sp` (the driver
/// code that called the routine which faulted), if any.
///
/// # Safety
/// `sp` is the stack pointer of a thread that faulted in a routine called by driver code:
/// the 512 bytes above it lie inside that thread's stack.
unsafe fn caller_from_stack(sp: usize) -> Option<usize> {
    if sp == 0 || crate::privileged::image_containing(sp).is_some() {
        return None;
    }
    (0..64).find_map(|i| {
        let p = (sp + i * 8) as *const usize;
        // SAFETY: within the faulting thread's stack (caller).
        let v = unsafe { p.read() };
        crate::privileged::image_containing(v).map(|_| v)
    })
}
