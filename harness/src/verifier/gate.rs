//! The import gate's dispatcher: every routine the loader binds (except `__chkstk` and data)
//! is reached through a stub that enters [`super::stack`]'s assembly gate, which calls
//! [`dispatch`] on the harness stack. The dispatcher checks the routine's maximum IRQL
//! ([`super::ddi`]) and its CLFS object arguments ([`super::handles`]), injects
//! low-resources failures ([`super::lowres`]), calls the routine, and traces the call
//! ([`super::trace`]).

use std::sync::OnceLock;

use super::stack::{clfs_harness_call_win64, clfs_harness_gate};

/// What the gate hands the dispatcher (layout fixed by the assembly).
#[repr(C)]
pub(crate) struct Call {
    /// The routine's index in the gate table.
    index: u64,
    /// RCX, RDX, R8, R9.
    regs: [u64; 4],
    /// The caller's RSP (pointing at its return address).
    caller_rsp: u64,
    /// Stack arguments 5 to 24.
    stack: [u64; 20],
}

impl Call {
    /// Argument `i` (0-based).
    pub(crate) fn arg(&self, i: usize) -> u64 {
        match i {
            0..4 => self.regs[i],
            _ => self.stack.get(i - 4).copied().unwrap_or(0),
        }
    }

    /// The caller's return address (into the driver, for reports).
    pub(crate) fn return_address(&self) -> usize {
        if self.caller_rsp == 0 {
            return 0;
        }
        // SAFETY: the gate's caller pushed its return address at `caller_rsp` (it is the
        // stack pointer the call instruction left), on a stack that is live during the call.
        unsafe { (self.caller_rsp as *const usize).read() }
    }
}

/// One gated routine.
pub(crate) struct Gate {
    pub dll: &'static str,
    pub name: &'static str,
    /// The win64 routine the stub leads to.
    pub target: usize,
    /// The stub the IAT gets.
    pub stub: usize,
}

struct Gates {
    entries: Vec<Gate>,
}

// SAFETY: the table is immutable after construction; the addresses are plain integers.
unsafe impl Sync for Gates {}
// SAFETY: as above.
unsafe impl Send for Gates {}

/// The size of one stub.
const STUB: usize = 32;

static GATES: OnceLock<Option<Gates>> = OnceLock::new();

/// Routines that are not gated: `__chkstk` takes its argument in RAX and probes the caller's
/// own stack.
fn ungated(name: &str) -> bool {
    name == "__chkstk"
}

fn build() -> Option<Gates> {
    let mut list: Vec<(&'static str, &'static str, usize)> = Vec::new();
    for (dll, table) in crate::imports::tables() {
        for (name, addr) in table {
            if !ungated(name) {
                list.push((dll, name, *addr as usize));
            }
        }
    }
    let len = (list.len() * STUB).div_ceil(4096).max(1) * 4096;
    // SAFETY: a fresh anonymous private mapping.
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
    if p == libc::MAP_FAILED || p.is_null() {
        return None;
    }
    let base = p as usize;
    let gate = clfs_harness_gate as *const () as u64;
    let mut entries = Vec::with_capacity(list.len());
    for (i, (dll, name, target)) in list.into_iter().enumerate() {
        let mut code = [0xCCu8; STUB];
        // mov rax, imm32 (sign-extended): the index
        code[..3].copy_from_slice(&[0x48, 0xC7, 0xC0]);
        code[3..7].copy_from_slice(&(i as u32).to_le_bytes());
        // jmp qword ptr [rip + 0]; the gate's address follows
        code[7..13].copy_from_slice(&[0xFF, 0x25, 0, 0, 0, 0]);
        code[13..21].copy_from_slice(&gate.to_le_bytes());
        let stub = base + i * STUB;
        // SAFETY: inside our writable mapping (len covers every stub).
        unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), stub as *mut u8, STUB) };
        entries.push(Gate {
            dll,
            name,
            target,
            stub,
        });
    }
    // SAFETY: our own mapping: from now on read-execute, never writable again.
    let r = unsafe { libc::mprotect(p, len, libc::PROT_READ | libc::PROT_EXEC) };
    if r != 0 {
        return None;
    }
    Some(Gates { entries })
}

fn gates() -> Option<&'static Gates> {
    GATES.get_or_init(build).as_ref()
}

/// The address to bind for `dll!name` whose routine is at `target`: its gate stub, or
/// `target` itself for an ungated routine (or if the stubs could not be mapped).
pub(crate) fn gated(dll: &str, name: &str, target: usize) -> usize {
    gates()
        .and_then(|g| {
            g.entries
                .iter()
                .find(|e| e.target == target && e.name == name && e.dll.eq_ignore_ascii_case(dll))
        })
        .map_or(target, |e| e.stub)
}

/// The dispatcher (SysV; called by the assembly gate on the harness stack).
pub(crate) extern "C" fn dispatch(call: &Call) -> u64 {
    let Some(g) = gates().and_then(|g| g.entries.get(call.index as usize)) else {
        super::stop(
            0x1E,
            [call.index as usize, 0, 0, 0],
            "import gate entered with an unknown routine index",
        )
    };
    super::ddi::check_irql(g.dll, g.name);
    super::handles::check(g.dll, g.name, call);
    let on_driver_stack = super::stack::push_nested(call.caller_rsp as usize);
    let injected = super::lowres::inject(g.name);
    let ret = match injected {
        Some(v) => v,
        // SAFETY: the routine the driver imported, with the driver's own arguments.
        None => unsafe { clfs_harness_call_win64(g.target, call) },
    };
    if on_driver_stack {
        super::stack::pop_nested();
    }
    if injected.is_none() {
        super::handles::record(g.dll, g.name, call, ret);
    }
    super::trace::record(g.dll, g.name, call, ret, injected.is_some());
    ret
}
